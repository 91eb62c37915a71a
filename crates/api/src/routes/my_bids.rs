//! Where a bidder stands: `GET /api/v1/me/bids`, the auctions they bid on
//! with their own highest bid and, while they lead with one, their own
//! maximum (nobody else ever sees it).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use paperclip::actix::{Apiv2Schema, api_v2_operation, web};
use serde::Serialize;
use sitga_auction::Krw;
use sitga_persistence::auctions;

use super::auctions::{AuctionDto, dtos};
use super::dto::PageQuery;
use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::extract::QueryParams;
use crate::state::AppState;

/// An auction you bid on, and where you stand in it.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct MyBidDto {
    /// The auction as it stands now.
    pub auction: AuctionDto,
    /// Your highest bid there (KRW).
    pub my_top_bid: i64,
    /// How many of its bids are yours (your maximum's included).
    pub my_bid_count: i64,
    /// When you (or your maximum) last bid.
    pub last_bid_at: DateTime<Utc>,
    /// Whether you hold the highest bid (for a closed auction: whether you
    /// won it).
    pub leading: bool,
    /// Your maximum (KRW) while you lead with one; null otherwise. Only you
    /// see it.
    pub max_amount: Option<i64>,
}

/// A page of the auctions you bid on.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct MyBidPage {
    /// Auctions, the one you bid on last first.
    pub items: Vec<MyBidDto>,
    /// Page number.
    pub page: u32,
    /// Page size.
    pub per_page: u32,
    /// Auctions you bid on.
    pub total: i64,
}

/// Your bids
///
/// The auctions you bid on, the latest bid first: each as it stands now,
/// with your highest bid, whether you lead (or won), and your own maximum
/// while you lead with one.
#[api_v2_operation(tags(Auctions))]
pub async fn list(
    state: web::Data<AppState>,
    user: AuthUser,
    query: QueryParams<PageQuery>,
) -> Result<web::Json<MyBidPage>, ApiError> {
    let (page, per_page, offset) = query.0.resolve()?;
    let mut conn = state.db.get().await?;
    let (mine, total) =
        auctions::bid_on_by(&mut conn, user.id, offset, i64::from(per_page)).await?;
    let ids: Vec<_> = mine.iter().map(|m| m.auction_id).collect();
    let rows = auctions::find_many(&mut conn, &ids).await?;
    let standing: HashMap<_, _> = rows
        .iter()
        .map(|a| (a.id, (a.leader_id == Some(user.id), a.max_of(user.id))))
        .collect();
    let mut views: HashMap<_, _> = dtos(&mut conn, rows)
        .await?
        .into_iter()
        .map(|dto| (dto.id, dto))
        .collect();
    let items = mine
        .into_iter()
        .filter_map(|m| {
            let auction = views.remove(&m.auction_id.get())?;
            let (leading, max) = standing.get(&m.auction_id).copied().unwrap_or_default();
            Some(MyBidDto {
                auction,
                my_top_bid: m.top.get(),
                my_bid_count: m.count,
                last_bid_at: m.last_at,
                leading,
                max_amount: max.map(Krw::get),
            })
        })
        .collect();
    Ok(web::Json(MyBidPage {
        items,
        page,
        per_page,
        total,
    }))
}
