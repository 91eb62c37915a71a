//! Accepting a clock (Dutch) auction's price over HTTP. The decision is
//! the realtime crate's ([`sitga_realtime::clock`]); the room hears it the
//! same way as an accept over WebSocket.

use actix_web::HttpRequest;
use paperclip::actix::{Apiv2Schema, CreatedJson, api_v2_operation, web};
use serde::{Deserialize, Serialize};
use sitga_auction::Krw;
use sitga_core::AuctionId;
use sitga_realtime::clock::{AcceptCommand, AcceptResult};

use super::auctions::{AuctionDto, AuctionPath, decided_once, load_dto, nickname_of};
use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::extract::JsonBody;
use crate::state::AppState;

/// An accept of the clock's price.
#[derive(Debug, Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct AcceptRequest {
    /// Units to buy (default 1; at most the units left).
    pub units: Option<i64>,
    /// The clock's price per unit as you saw it (KRW): if the clock stepped
    /// meanwhile, nothing is bought (409 `price_moved` with the price now).
    pub price: i64,
}

/// What an accept bought.
#[derive(Debug, Serialize, Deserialize, Apiv2Schema)]
pub struct AcceptResponse {
    /// The sale, waiting for the handover (`GET /api/v1/sales/{sale_id}`);
    /// `total` waits in escrow until then.
    pub sale_id: i64,
    /// The accept's place in the auction's bid history.
    pub seq: i64,
    /// Units bought.
    pub units: u32,
    /// Price per unit (KRW).
    pub price: i64,
    /// `units × price` (KRW), taken from your points.
    pub total: i64,
    /// Units left on the clock (0: the auction is sold out and closed).
    pub remaining: u32,
    /// The auction after it (its `clock` paused at your price).
    pub auction: AuctionDto,
}

/// Accept a dutch auction's price
///
/// Buys `units` at the clock's current price `price`: accepted only if that
/// is still the price when the server decides, the units remain and your
/// points cover `units × price`; the total moves into a new sale's escrow
/// (one sale per accept) and the room hears it. The clock then stands
/// still for its pause and falls on for the units left; the last unit sold
/// closes the auction. 201 when bought; 409 with the reason code
/// (`price_moved` with `price`, `units_unavailable` with `remaining`,
/// `insufficient_balance` with `available`, `invalid_amount`,
/// `seller_cannot_bid`, `auction_not_started`, `auction_ended`,
/// `auction_not_open`, `wrong_format` for an english auction). Accepts from
/// any number of bidders and instances are decided one at a time: no unit
/// is sold twice. Send an `Idempotency-Key` header to make a retry safe.
#[api_v2_operation(tags(Auctions))]
pub async fn accept(
    state: web::Data<AppState>,
    auth: AuthUser,
    http: HttpRequest,
    path: web::Path<AuctionPath>,
    body: JsonBody<AcceptRequest>,
) -> Result<CreatedJson<AcceptResponse>, ApiError> {
    let AcceptRequest { units, price } = body.0;
    let (units, price) = (units.unwrap_or(1), Krw::new(price));
    let request = format!("accept:{}:{units}:{price}", path.id);
    decided_once(&state, &auth, &http, &request, || {
        accepted(&state, &auth, path.auction(), units, price)
    })
    .await
    .map(CreatedJson)
}

async fn accepted(
    state: &AppState,
    auth: &AuthUser,
    auction_id: AuctionId,
    units: i64,
    price: Krw,
) -> Result<AcceptResponse, ApiError> {
    let nickname = nickname_of(state, auth.id).await?;
    let command = AcceptCommand {
        auction_id,
        buyer_id: auth.id,
        nickname: &nickname,
        units,
        price,
        client_ref: None,
        resend: false,
    };
    let (sale, sale_id) = match state.closer.accept(&command).await? {
        AcceptResult::Bought { sale, sale_id, .. } => (sale, sale_id),
        AcceptResult::Refused(reason) => return Err(ApiError::BidRejected(reason)),
        AcceptResult::Missing => return Err(ApiError::NotFound("auction")),
        // Over REST the Idempotency-Key replays; no client key is passed.
        AcceptResult::Replayed { .. } | AcceptResult::RefReused => {
            return Err(ApiError::internal(
                "a client key answer without a client key",
            ));
        }
    };
    let mut conn = state.db.get().await?;
    Ok(AcceptResponse {
        sale_id: sale_id.get(),
        seq: sale.seq,
        units: sale.units,
        price: sale.unit_price.get(),
        total: sale.total.get(),
        remaining: sale.after.remaining,
        auction: load_dto(&mut conn, auction_id).await?,
    })
}
