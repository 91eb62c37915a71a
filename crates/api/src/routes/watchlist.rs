//! The watch list: the auctions a user follows
//! (`PUT`/`DELETE /api/v1/me/watchlist/{auction_id}`, `GET /api/v1/me/watchlist`).

use paperclip::actix::{Apiv2Schema, api_v2_operation, web};
use serde::{Deserialize, Serialize};
use sitga_core::AuctionId;
use sitga_persistence::{DbConn, auctions, watchlist};

use super::auctions::{AuctionPage, dtos};
use super::dto::PageQuery;
use crate::auth::AuthUser;
use crate::error::{ApiError, ErrorCode};
use crate::extract::QueryParams;
use crate::state::AppState;

/// Most auctions one account watches at once.
pub const MAX_WATCHED: i64 = 500;

/// The auction to watch or stop watching.
#[derive(Debug, Deserialize, Apiv2Schema)]
pub struct WatchPath {
    /// Auction id.
    pub auction_id: i64,
}

/// Whether you watch an auction now, and how many do.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct WatchDto {
    /// The auction.
    pub auction_id: i64,
    /// Whether you watch it.
    pub watching: bool,
    /// How many people watch it.
    pub watchers: i64,
}

async fn existing(conn: &mut DbConn, id: AuctionId) -> Result<(), ApiError> {
    match auctions::find(conn, id).await? {
        Some(_) => Ok(()),
        None => Err(ApiError::NotFound("auction")),
    }
}

/// The answer after a change: `watching` now, and the count after it.
async fn answer(
    conn: &mut DbConn,
    id: AuctionId,
    watching: bool,
) -> Result<web::Json<WatchDto>, ApiError> {
    Ok(web::Json(WatchDto {
        auction_id: id.get(),
        watching,
        watchers: watchlist::watchers(conn, id).await?,
    }))
}

/// Watch an auction
///
/// Idempotent: watching it again changes nothing. 404 for an unknown
/// auction; 409 `watchlist_full` past 500 watched auctions.
#[api_v2_operation(tags(Auctions))]
pub async fn watch(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<WatchPath>,
) -> Result<web::Json<WatchDto>, ApiError> {
    let id = AuctionId::new(path.auction_id);
    let mut conn = state.db.get().await?;
    existing(&mut conn, id).await?;
    if !watchlist::watches(&mut conn, user.id, id).await?
        && watchlist::count_of_user(&mut conn, user.id).await? >= MAX_WATCHED
    {
        return Err(ApiError::Conflict {
            code: ErrorCode::WatchlistFull,
            message: format!("you watch {MAX_WATCHED} auctions already; stop watching one first"),
            field: None,
        });
    }
    watchlist::add(&mut conn, user.id, id).await?;
    answer(&mut conn, id, true).await
}

/// Stop watching an auction
///
/// Idempotent. 404 for an unknown auction.
#[api_v2_operation(tags(Auctions))]
pub async fn unwatch(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<WatchPath>,
) -> Result<web::Json<WatchDto>, ApiError> {
    let id = AuctionId::new(path.auction_id);
    let mut conn = state.db.get().await?;
    existing(&mut conn, id).await?;
    watchlist::remove(&mut conn, user.id, id).await?;
    answer(&mut conn, id, false).await
}

/// Your watch list
///
/// The auctions you watch, the latest added first, each as it stands now
/// (open, sold, unsold or cancelled).
#[api_v2_operation(tags(Auctions))]
pub async fn list(
    state: web::Data<AppState>,
    user: AuthUser,
    query: QueryParams<PageQuery>,
) -> Result<web::Json<AuctionPage>, ApiError> {
    let (page, per_page, offset) = query.0.resolve()?;
    let mut conn = state.db.get().await?;
    let (ids, total) = watchlist::page(&mut conn, user.id, offset, i64::from(per_page)).await?;
    let rows = auctions::find_many(&mut conn, &ids).await?;
    let mut items = dtos(&mut conn, rows).await?;
    for item in &mut items {
        item.watching = Some(true);
    }
    Ok(web::Json(AuctionPage {
        items,
        page,
        per_page,
        total,
    }))
}
