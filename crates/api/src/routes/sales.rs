//! Sales from the hammer to the handover (`/api/v1/sales/{sale_id}/…`), the
//! operator's disputes (`/api/v1/admin/disputes…`) and the public profile
//! with its ratings (`GET /api/v1/users/{nickname}`).
//!
//! Each handler parses its body into the domain's types, asks
//! [`sitga_realtime::sales::Sales`], and answers with the sale as the asker
//! may see it. Somebody else's sale is 404, never 403: its existence is
//! not theirs to learn.

use chrono::{DateTime, Utc};
use paperclip::actix::{Apiv2Schema, api_v2_operation, web};
use serde::{Deserialize, Serialize};
use sitga_auction::{
    DeliveryAddress, DeliveryChoice, DisputeOutcome, DisputeReport, HandoverCode, Krw, Rating,
    SaleState, Shipment,
};
use sitga_core::{FieldError, SaleId, UserId};
use sitga_persistence::sales::{self, StoredSale};
use sitga_persistence::{DbConn, auctions, photos, users};
use sitga_realtime::sales::{Asker, SaleRequest, seller_sees_address};
use sitga_user::Role;

use super::dto::PageQuery;
use super::photos::PhotoDto;
use crate::auth::{AdminUser, AuthUser};
use crate::error::ApiError;
use crate::extract::{JsonBody, QueryParams};
use crate::state::AppState;

/// Ratings shown on a profile.
const PROFILE_RATINGS: i64 = 10;

/// A sale.
#[derive(Debug, Deserialize, Apiv2Schema)]
pub struct SalePath {
    /// Sale id (`sale_id` in the `closed` frame and in `/me/purchases`).
    pub sale_id: i64,
}

impl SalePath {
    fn sale(&self) -> SaleId {
        SaleId::new(self.sale_id)
    }
}

/// A courier address.
#[derive(Debug, Clone, Serialize, Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct AddressDto {
    /// Who receives it, 1–50 characters.
    pub recipient: String,
    /// A Korean phone number (`010-1234-5678`).
    pub phone: String,
    /// Five-digit postcode.
    pub postcode: String,
    /// Street address, 1–200 characters.
    pub line1: String,
    /// Building, floor, unit (optional).
    pub line2: Option<String>,
}

impl From<DeliveryAddress> for AddressDto {
    fn from(a: DeliveryAddress) -> Self {
        AddressDto {
            recipient: a.recipient,
            phone: a.phone,
            postcode: a.postcode,
            line1: a.line1,
            line2: a.line2,
        }
    }
}

/// One step of a sale's timeline.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct TimelineDto {
    /// The state entered, or `reminded` (the buyer was reminded of their
    /// details) or `handover_failed` (a wrong handover code).
    pub event: String,
    /// `buyer`, `seller`, `operator` or `system`.
    pub by: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// A sale as one of its sides (or an operator) sees it.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct SaleDto {
    /// Sale id.
    pub id: i64,
    /// The auction sold.
    pub auction_id: i64,
    /// Its title.
    pub title: String,
    /// `awaiting_details`, `awaiting_shipment`, `shipped`,
    /// `ready_for_pickup`, `received`, `settled`, `disputed`, `cancelled` or
    /// `refunded`.
    pub state: String,
    /// Whether you are its `buyer`, its `seller`, or an `operator`.
    pub role: String,
    /// The seller's nickname.
    pub seller: Option<String>,
    /// The buyer's nickname.
    pub buyer: Option<String>,
    /// The hammer price (KRW).
    pub price: i64,
    /// The courier fee the buyer paid into the escrow (KRW).
    pub fee_paid: i64,
    /// What the escrow holds now (KRW; 0 once paid out).
    pub escrow: i64,
    /// Whether the lot offers pickup.
    pub offers_pickup: bool,
    /// The lot's courier fee, if it offers a courier (KRW).
    pub courier_fee: Option<i64>,
    /// What the buyer chose: `pickup` or `courier`.
    pub delivery: Option<String>,
    /// The courier address: to the seller only, until 30 days after the
    /// sale ended.
    pub address: Option<AddressDto>,
    /// The courier, once shipped.
    pub courier: Option<String>,
    /// The tracking number, once shipped.
    pub tracking_number: Option<String>,
    /// The six digits to show the seller at the pickup: to the buyer only.
    pub handover_code: Option<String>,
    /// Until when the current step's side has (then the other may cancel,
    /// or a shipped sale confirms itself).
    pub deadline: Option<DateTime<Utc>>,
    /// What the buyer said went wrong.
    pub dispute_reason: Option<String>,
    /// The buyer's photos of it.
    pub dispute_photos: Vec<PhotoDto>,
    /// Paid to the seller when it ended (KRW).
    pub to_seller: Option<i64>,
    /// Returned to the buyer when it ended (KRW).
    pub to_buyer: Option<i64>,
    /// When the escrow was paid out.
    pub ended_at: Option<DateTime<Utc>>,
    /// Whether you rated it already.
    pub rated: bool,
    /// Every step, oldest first.
    pub timeline: Vec<TimelineDto>,
    /// The close.
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Buyer,
    Seller,
    Operator,
}

impl Side {
    fn of(sale: &StoredSale, user: UserId) -> Side {
        if user == sale.buyer_id {
            Side::Buyer
        } else if user == sale.seller_id {
            Side::Seller
        } else {
            Side::Operator
        }
    }

    fn code(self) -> &'static str {
        match self {
            Side::Buyer => "buyer",
            Side::Seller => "seller",
            Side::Operator => "operator",
        }
    }
}

fn asker(auth: &AuthUser) -> Asker {
    Asker {
        user: auth.id,
        operator: auth.require(Role::Operator).is_ok(),
    }
}

async fn sale_dto(
    conn: &mut DbConn,
    state: &AppState,
    sale: StoredSale,
    viewer: UserId,
) -> Result<SaleDto, ApiError> {
    let side = Side::of(&sale, viewer);
    let names = users::nicknames(conn, &[sale.seller_id, sale.buyer_id]).await?;
    let title = auctions::find(conn, sale.auction_id)
        .await?
        .map(|a| a.title)
        .unwrap_or_default();
    let events = sales::events(conn, sale.id).await?;
    let dispute_photos = photos::of_sale(conn, sale.id).await?;
    let rated = sales::raters(conn, sale.id).await?.contains(&viewer);
    let now = Utc::now();
    let shows_address = side == Side::Seller && seller_sees_address(sale.ended_at(), now);
    let by = |actor: Option<UserId>| match actor {
        None => "system",
        Some(id) if id == sale.buyer_id => "buyer",
        Some(id) if id == sale.seller_id => "seller",
        Some(_) => "operator",
    };
    let domain = sale.sale();
    Ok(SaleDto {
        id: sale.id.get(),
        auction_id: sale.auction_id.get(),
        title,
        state: sale.state().code().to_owned(),
        role: side.code().to_owned(),
        seller: names.get(&sale.seller_id).cloned(),
        buyer: names.get(&sale.buyer_id).cloned(),
        price: sale.price.get(),
        fee_paid: sale.fee_paid.get(),
        escrow: sale.escrow.get(),
        offers_pickup: domain.offers_pickup,
        courier_fee: domain.courier_fee.map(Krw::get),
        delivery: sale.delivery().map(|d| {
            match d {
                DeliveryChoice::Pickup => "pickup",
                DeliveryChoice::Courier => "courier",
            }
            .to_owned()
        }),
        address: if shows_address {
            sale.address().map(AddressDto::from)
        } else {
            None
        },
        handover_code: if side == Side::Buyer && sale.state() == SaleState::ReadyForPickup {
            sale.handover_code.clone()
        } else {
            None
        },
        deadline: domain.deadline(state.sales.deadlines()),
        timeline: events
            .into_iter()
            .map(|e| TimelineDto {
                by: by(e.actor_id).to_owned(),
                at: e.at(),
                event: e.event,
            })
            .collect(),
        courier: sale.courier.clone(),
        tracking_number: sale.tracking_number.clone(),
        dispute_reason: sale.dispute_reason.clone(),
        dispute_photos: dispute_photos.iter().map(PhotoDto::of).collect(),
        to_seller: sale.to_seller.map(Krw::get),
        to_buyer: sale.to_buyer.map(Krw::get),
        ended_at: sale.ended_at(),
        rated,
        created_at: sale.created_at(),
    })
}

/// Runs `request` for the signed-in user and answers with the sale after.
async fn step(
    state: &AppState,
    auth: &AuthUser,
    id: SaleId,
    request: SaleRequest,
) -> Result<web::Json<SaleDto>, ApiError> {
    let sale = state
        .sales
        .act(id, asker(auth), request, Utc::now())
        .await?;
    let mut conn = state.db.get().await?;
    Ok(web::Json(sale_dto(&mut conn, state, sale, auth.id).await?))
}

/// A sale
///
/// To its buyer, its seller or an operator; anyone else gets 404. The
/// seller sees the buyer's courier address until 30 days after the sale
/// ended; only the buyer sees the handover code.
#[api_v2_operation(tags(Sales))]
pub async fn get(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<SalePath>,
) -> Result<web::Json<SaleDto>, ApiError> {
    let mut conn = state.db.get().await?;
    let sale = state
        .sales
        .visible(&mut conn, path.sale(), asker(&auth))
        .await?
        .ok_or(ApiError::NotFound("sale"))?;
    Ok(web::Json(sale_dto(&mut conn, &state, sale, auth.id).await?))
}

/// The buyer's delivery choice.
#[derive(Debug, Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct DetailsRequest {
    /// `pickup` or `courier` (one the lot offers).
    pub delivery: String,
    /// For `courier` only: where to send it.
    pub address: Option<AddressDto>,
}

/// Give delivery details (buyer)
///
/// `{"delivery": "pickup"}`, or `{"delivery": "courier", "address": {…}}`.
/// Choosing the courier moves its fee from your available points into the
/// escrow (409 `insufficient_balance` if they do not cover it). 422
/// `delivery_not_offered` for an option the lot does not offer.
#[api_v2_operation(tags(Sales))]
pub async fn details(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<SalePath>,
    body: JsonBody<DetailsRequest>,
) -> Result<web::Json<SaleDto>, ApiError> {
    let body = body.0;
    let delivery = match body.delivery.as_str() {
        "pickup" => DeliveryChoice::Pickup,
        "courier" => DeliveryChoice::Courier,
        _ => {
            return Err(FieldError::new("delivery", "must be pickup or courier").into());
        }
    };
    let address = body
        .address
        .map(|a| {
            DeliveryAddress::parse(
                &a.recipient,
                &a.phone,
                &a.postcode,
                &a.line1,
                a.line2.as_deref(),
            )
        })
        .transpose()?;
    step(
        &state,
        &auth,
        path.sale(),
        SaleRequest::Details { delivery, address },
    )
    .await
}

/// The seller's shipment.
#[derive(Debug, Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct ShipRequest {
    /// The courier's name (courier delivery only).
    pub courier: Option<String>,
    /// Its tracking number (courier delivery only).
    pub tracking_number: Option<String>,
}

/// Ship, or make ready for pickup (seller)
///
/// For a courier delivery `{"courier", "tracking_number"}`; for a pickup
/// `{}`, which gives the buyer a six-digit handover code.
#[api_v2_operation(tags(Sales))]
pub async fn ship(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<SalePath>,
    body: JsonBody<ShipRequest>,
) -> Result<web::Json<SaleDto>, ApiError> {
    let shipment = match (body.0.courier, body.0.tracking_number) {
        (None, None) => None,
        (Some(courier), Some(number)) => Some(Shipment::parse(&courier, &number)?),
        (None, Some(_)) => {
            return Err(FieldError::new("courier", "give it with tracking_number").into());
        }
        (Some(_), None) => {
            return Err(FieldError::new("tracking_number", "give it with courier").into());
        }
    };
    step(&state, &auth, path.sale(), SaleRequest::Ship(shipment)).await
}

/// Confirm receipt (buyer)
///
/// Settles the sale: the escrow is paid to the seller. No body (a `{}` is
/// ignored).
#[api_v2_operation(tags(Sales))]
pub async fn confirm(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<SalePath>,
) -> Result<web::Json<SaleDto>, ApiError> {
    step(&state, &auth, path.sale(), SaleRequest::Confirm).await
}

/// The buyer's handover code.
#[derive(Debug, Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct HandoverRequest {
    /// The six digits the buyer shows.
    pub code: String,
}

/// Hand over at the pickup (seller)
///
/// Enter the buyer's six-digit code: the sale settles and the escrow is
/// paid to you. 422 `wrong_handover_code` for a wrong one; after five wrong
/// codes 409 `handover_locked` (the buyer confirms instead).
#[api_v2_operation(tags(Sales))]
pub async fn handover(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<SalePath>,
    body: JsonBody<HandoverRequest>,
) -> Result<web::Json<SaleDto>, ApiError> {
    let code = HandoverCode::parse(&body.0.code)?;
    step(&state, &auth, path.sale(), SaleRequest::Handover(code)).await
}

/// Call off a sale (either side, past the other's deadline)
///
/// The seller may cancel once the buyer has gone 2 days without details;
/// the buyer once the seller has gone 2 days without shipping. The escrow
/// goes back to the buyer. 409 `deadline_not_passed` before that. No body
/// (a `{}` is ignored).
#[api_v2_operation(tags(Sales))]
pub async fn cancel(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<SalePath>,
) -> Result<web::Json<SaleDto>, ApiError> {
    step(&state, &auth, path.sale(), SaleRequest::Cancel).await
}

/// What went wrong.
#[derive(Debug, Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct DisputeRequest {
    /// In your words, 1–1,000 characters.
    pub reason: String,
    /// Up to 4 of your uploaded, unused photos.
    #[serde(default)]
    pub photo_ids: Vec<String>,
}

/// Dispute a sale (buyer)
///
/// Before settlement: the escrow freezes until an operator resolves it.
#[api_v2_operation(tags(Sales))]
pub async fn dispute(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<SalePath>,
    body: JsonBody<DisputeRequest>,
) -> Result<web::Json<SaleDto>, ApiError> {
    let body = body.0;
    if let Some(bad) = body
        .photo_ids
        .iter()
        .find(|id| !sitga_photos::is_photo_id(id))
    {
        let shown: String = bad.chars().take(40).collect();
        return Err(FieldError::new(
            "photo_ids",
            format!("{shown:?} is not a photo id (32 lowercase hex digits)"),
        )
        .into());
    }
    let report = DisputeReport::parse(&body.reason, &body.photo_ids)?;
    step(&state, &auth, path.sale(), SaleRequest::Dispute(report)).await
}

/// A rating.
#[derive(Debug, Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct RatingRequest {
    /// 1 (bad) to 5 (excellent).
    pub stars: i64,
    /// Up to 300 characters.
    pub comment: Option<String>,
}

/// Rate the other side (buyer or seller, once, after settlement)
#[api_v2_operation(tags(Sales))]
pub async fn rate(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<SalePath>,
    body: JsonBody<RatingRequest>,
) -> Result<web::Json<SaleDto>, ApiError> {
    let rating = Rating::parse(body.0.stars, body.0.comment.as_deref())?;
    state.sales.rate(path.sale(), asker(&auth), &rating).await?;
    let mut conn = state.db.get().await?;
    let sale = sales::find(&mut conn, path.sale())
        .await?
        .ok_or(ApiError::NotFound("sale"))?;
    Ok(web::Json(sale_dto(&mut conn, &state, sale, auth.id).await?))
}

/// An operator's decision.
#[derive(Debug, Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct ResolveRequest {
    /// `refund` (all to the buyer), `release` (all to the seller) or
    /// `split`.
    pub outcome: String,
    /// For `split`: the buyer's part (KRW), more than 0 and less than the
    /// escrow.
    pub buyer_krw: Option<i64>,
}

/// Resolve a dispute (admin)
///
/// Pays the frozen escrow out as decided, audited.
#[api_v2_operation(tags(Admin))]
pub async fn resolve(
    state: web::Data<AppState>,
    AdminUser(auth): AdminUser,
    path: web::Path<SalePath>,
    body: JsonBody<ResolveRequest>,
) -> Result<web::Json<SaleDto>, ApiError> {
    let outcome = match (body.0.outcome.as_str(), body.0.buyer_krw) {
        ("refund", None) => DisputeOutcome::Refund,
        ("release", None) => DisputeOutcome::Release,
        ("split", Some(buyer)) => DisputeOutcome::Split {
            buyer: Krw::new(buyer),
        },
        ("split", None) => {
            return Err(FieldError::new("buyer_krw", "a split names the buyer's part").into());
        }
        ("refund" | "release", Some(_)) => {
            return Err(FieldError::new("buyer_krw", "only a split takes buyer_krw").into());
        }
        _ => {
            return Err(FieldError::new("outcome", "must be refund, release or split").into());
        }
    };
    tracing::info!(
        sale_id = path.sale_id,
        operator = auth.id.get(),
        "resolving a dispute"
    );
    step(&state, &auth, path.sale(), SaleRequest::Resolve(outcome)).await
}

/// A page of disputed sales.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct DisputePage {
    /// Oldest dispute first.
    pub items: Vec<SaleDto>,
    /// Page number.
    pub page: u32,
    /// Page size.
    pub per_page: u32,
    /// All disputed sales.
    pub total: i64,
}

/// Disputed sales (admin)
#[api_v2_operation(tags(Admin))]
pub async fn disputes(
    state: web::Data<AppState>,
    AdminUser(auth): AdminUser,
    query: QueryParams<PageQuery>,
) -> Result<web::Json<DisputePage>, ApiError> {
    let (page, per_page, offset) = query.0.resolve()?;
    let mut conn = state.db.get().await?;
    let (rows, total) = sales::disputed(&mut conn, offset, i64::from(per_page)).await?;
    let mut items = Vec::with_capacity(rows.len());
    for sale in rows {
        items.push(sale_dto(&mut conn, &state, sale, auth.id).await?);
    }
    Ok(web::Json(DisputePage {
        items,
        page,
        per_page,
        total,
    }))
}

/// A rating on a profile.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct ReceivedRatingDto {
    /// 1–5.
    pub stars: i64,
    /// Their words.
    pub comment: Option<String>,
    /// Who rated.
    pub by: Option<String>,
    /// When.
    pub at: DateTime<Utc>,
}

/// A public profile.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct ProfileDto {
    /// Nickname.
    pub nickname: String,
    /// `general`, `cafe` or `recycler`.
    pub account_type: String,
    /// Joined.
    pub member_since: DateTime<Utc>,
    /// Ratings received.
    pub rating_count: i64,
    /// Their average, to one decimal (null without ratings).
    pub rating_average: Option<f64>,
    /// The latest ten.
    pub ratings: Vec<ReceivedRatingDto>,
}

/// A user's public profile
///
/// Nickname, account type, and the ratings from the other side of their
/// settled sales. Nothing private (no e-mail, phone or address).
#[api_v2_operation(tags(Users))]
pub async fn profile(
    state: web::Data<AppState>,
    path: web::Path<super::pickups::NicknamePath>,
) -> Result<web::Json<ProfileDto>, ApiError> {
    let nickname =
        sitga_user::Nickname::parse(&path.nickname).map_err(|_| ApiError::NotFound("user"))?;
    let mut conn = state.db.get().await?;
    let id = users::id_by_nickname(&mut conn, &nickname)
        .await?
        .ok_or(ApiError::NotFound("user"))?;
    let user = users::find_by_id(&mut conn, id)
        .await?
        .ok_or(ApiError::NotFound("user"))?;
    let (count, sum, latest) = sales::ratings_of(&mut conn, id, PROFILE_RATINGS).await?;
    let raters: Vec<UserId> = latest.iter().map(|r| r.rater_id).collect();
    let names = users::nicknames(&mut conn, &raters).await?;
    // Tenths, rounded half up, in integers; shown as one decimal.
    let average = (count > 0).then(|| ((sum * 20 + count) / (count * 2)) as f64 / 10.0);
    Ok(web::Json(ProfileDto {
        nickname: user.nickname,
        account_type: user.account_type.code().to_owned(),
        member_since: user.created_at,
        rating_count: count,
        rating_average: average,
        ratings: latest
            .into_iter()
            .map(|r| ReceivedRatingDto {
                stars: i64::from(r.stars),
                comment: r.comment,
                by: names.get(&r.rater_id).cloned(),
                at: r.at,
            })
            .collect(),
    }))
}
