//! Fish auctions over REST.

use std::collections::HashMap;

use actix_web::HttpRequest;
use chrono::{DateTime, Utc};
use paperclip::actix::{Apiv2Schema, CreatedJson, api_v2_operation, web};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sitga_auction::{
    AcceptedBid, AuctionSettings, AuctionSettingsInput, AuctionStatus, ClockInput, Delivery,
    DeliveryInput, Increment, Krw, Lot, LotInput, buy_now_available, current_increment,
    min_next_bid, reserve_met, shown_status,
};
use sitga_core::{AuctionId, FieldError, UserId};
use sitga_persistence::auctions::{self, Auction, DetailsChange, ListFilter, NewAuction, Sort};
use sitga_persistence::clocks::{self, DUTCH, ENGLISH, StoredClock};
use sitga_persistence::idempotency::{self, KeyState};
use sitga_persistence::lots::{self, SpeciesSuggestion, StoredLot};
use sitga_persistence::photos::{self, Photo};
use sitga_persistence::{DbConn, users, watchlist};

use super::dto::PageQuery;
use super::photos::PhotoDto;
use crate::auth::{AuthUser, Viewer};
use crate::error::ApiError;
use crate::error::ErrorCode;
use crate::extract::{JsonBody, QueryParams};
use crate::listings::{Built, PageKey};
use crate::state::AppState;
use crate::tagged::{CLOCK_PLACEHOLDER, Tagged, TaggedJson};
use sitga_realtime::closing::{BuyNowResult, CloseResult};
use sitga_realtime::engine::{BidCommand, BidOutcome};

/// An auction as clients see it. The reserve price itself is never shown.
#[derive(Debug, Serialize, Deserialize, Apiv2Schema)]
pub struct AuctionDto {
    /// Id (also the WebSocket room).
    pub id: i64,
    /// Seller's nickname.
    pub seller: String,
    /// Seller's id.
    pub seller_id: i64,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Species.
    pub species: Option<String>,
    /// Photo URL given by the seller (older listings; new ones upload
    /// `photos`).
    pub photo_url: Option<String>,
    /// The catch's photos, first shown first.
    pub photos: Vec<PhotoDto>,
    /// Weight in grams.
    pub weight_g: Option<i64>,
    /// Length in centimetres.
    pub length_cm: Option<i64>,
    /// When it was caught.
    pub caught_at: Option<DateTime<Utc>>,
    /// Where it was caught, in the angler's words.
    pub catch_area: Option<String>,
    /// The catch area's province code.
    pub catch_province: Option<String>,
    /// `live`, `iced` or `frozen`.
    pub storage: Option<String>,
    /// How the buyer can get it.
    pub delivery: Option<DeliveryDto>,
    /// What the species model made of the first photo when the auction was
    /// opened.
    pub species_suggestion: Option<SpeciesSuggestionDto>,
    /// `scheduled` (before `starts_at`: listed, watchable, chat allowed,
    /// bids answer `auction_not_started`), `open`, `sold`, `unsold` or
    /// `cancelled`.
    pub status: String,
    /// When bids open, for a scheduled start; null when it opened at once.
    pub starts_at: Option<DateTime<Utc>>,
    /// Start price (KRW).
    pub start_price: i64,
    /// The raise the next bid needs over the current price (KRW; over the
    /// start price before the first bid).
    pub min_increment: i64,
    /// `tiered`: the raise follows the price (below 10,000 KRW 500; below
    /// 50,000 1,000; below 100,000 2,000; below 500,000 5,000; above
    /// 10,000). `fixed`: the seller's `min_increment` at every price.
    pub increment_rule: String,
    /// Buy-now price (KRW), if the seller set one.
    pub buy_now_price: Option<i64>,
    /// Whether buy-now applies now (`POST /api/v1/auctions/{id}/buy-now`):
    /// a price is set and the bidding has not reached the reserve (with no
    /// reserve: there is no bid yet).
    pub buy_now_available: bool,
    /// Highest accepted bid (KRW), null before the first bid.
    pub current_price: Option<i64>,
    /// Smallest bid accepted now (KRW).
    pub min_next_bid: i64,
    /// Leader's nickname, null before the first bid.
    pub leader: Option<String>,
    /// Accepted bids.
    pub bid_count: i64,
    /// Views.
    pub view_count: i64,
    /// How many people watch it (in `GET /auctions/{id}`; null in lists).
    pub watchers: Option<i64>,
    /// Whether you watch it (in `GET /auctions/{id}` with a token; null
    /// otherwise).
    pub watching: Option<bool>,
    /// Effective end (after soft-close extensions).
    pub ends_at: DateTime<Utc>,
    /// The server's clock: count down from this, not the device's (in a
    /// compressed list page it may be up to 25 ms old).
    pub server_now: DateTime<Utc>,
    /// Whether the reserve is met (true when there is none and a bid exists).
    pub reserve_met: bool,
    /// Whether the seller set a reserve.
    pub has_reserve: bool,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// When it closed or was cancelled.
    pub closed_at: Option<DateTime<Utc>>,
    /// `english` (bids; the highest wins) or `dutch` (a descending clock:
    /// accept its price with `POST /api/v1/auctions/{id}/accept`).
    pub format: String,
    /// A `dutch` auction's clock; null for `english`.
    pub clock: Option<ClockDto>,
}

/// Where a clock (Dutch) auction's clock stands. The floor price is the
/// seller's secret.
#[derive(Debug, Clone, Serialize, Deserialize, Apiv2Schema)]
pub struct ClockDto {
    /// The price per unit a bidder accepts now (KRW).
    pub price: i64,
    /// When it falls next; null at the floor (where it only ends).
    pub next_step_at: Option<DateTime<Utc>>,
    /// Units left.
    pub remaining: u32,
    /// Units at the start.
    pub quantity: u32,
    /// How much it falls at each step (KRW).
    pub step: i64,
    /// Seconds between steps.
    pub step_seconds: i64,
    /// Seconds it stands still after an accept.
    pub pause_seconds: i64,
    /// The lowest price: only in the seller's own `GET
    /// /api/v1/auctions/{id}` (null for everyone else).
    pub floor_price: Option<i64>,
}

impl AuctionDto {
    /// When the clock alone next changes what this shows (a scheduled
    /// start, a clock auction's next step), if it does.
    fn changes_by_itself(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let start = self.starts_at.filter(|at| *at > now);
        let step = self.clock.as_ref().and_then(|c| c.next_step_at);
        start.into_iter().chain(step).min()
    }
}

impl ClockDto {
    fn of(clock: &StoredClock, now: DateTime<Utc>) -> Self {
        let rules = clock.rules();
        let reading = clock.state().read(&rules, now);
        Self {
            price: reading.price.get(),
            next_step_at: reading.next_step_at,
            remaining: reading.remaining,
            quantity: rules.quantity,
            step: rules.step.get(),
            step_seconds: rules.step_every.num_seconds(),
            pause_seconds: rules.pause.num_seconds(),
            floor_price: None,
        }
    }
}

/// Where the buyer may collect the fish.
#[derive(Debug, Clone, Serialize, Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct PickupOptionDto {
    /// Province code (`GET /api/v1/provinces`).
    pub province: String,
    /// The place, 1–100 characters ("서귀포항 2번 부두").
    pub place: String,
}

/// Sending the fish by courier.
#[derive(Debug, Clone, Serialize, Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct CourierOptionDto {
    /// The fee the buyer pays (KRW, 0–100,000).
    pub fee: i64,
}

/// A lot's delivery options: pickup, courier, or both.
#[derive(Debug, Clone, Serialize, Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct DeliveryDto {
    /// Collecting in person.
    pub pickup: Option<PickupOptionDto>,
    /// By courier.
    pub courier: Option<CourierOptionDto>,
}

impl DeliveryDto {
    fn of(d: &Delivery) -> Self {
        DeliveryDto {
            pickup: d.pickup.as_ref().map(|p| PickupOptionDto {
                province: p.province.code().to_owned(),
                place: p.place.clone(),
            }),
            courier: d.courier_fee.map(|fee| CourierOptionDto { fee: fee.get() }),
        }
    }
}

/// The species model's reading of a lot's first photo.
#[derive(Debug, Clone, Serialize, Deserialize, Apiv2Schema)]
pub struct SpeciesSuggestionDto {
    /// Scientific name of the most likely species.
    pub label: String,
    /// Its Korean name, where known.
    pub name_ko: Option<String>,
    /// The model's probability for it (0–1).
    pub probability: f64,
    /// The model does not know this fish (its best is under the threshold):
    /// `species` was not filled from it.
    pub unknown: bool,
}

/// What a page of auctions shows besides their rows: people's nicknames,
/// each auction's photos and lot.
struct Related {
    names: HashMap<UserId, String>,
    photos: HashMap<AuctionId, Vec<Photo>>,
    lots: HashMap<AuctionId, StoredLot>,
    clocks: HashMap<AuctionId, StoredClock>,
}

impl Related {
    async fn of(conn: &mut DbConn, rows: &[Auction]) -> Result<Self, ApiError> {
        let mut ids: Vec<UserId> = rows
            .iter()
            .flat_map(|a| std::iter::once(a.seller_id).chain(a.leader_id))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let auctions: Vec<AuctionId> = rows.iter().map(|a| a.id).collect();
        Ok(Related {
            names: users::nicknames(conn, &ids).await?,
            photos: photos::of_auctions(conn, &auctions).await?,
            lots: lots::of_auctions(conn, &auctions).await?,
            clocks: clocks::of_auctions(conn, &auctions).await?,
        })
    }

    fn dto(&self, a: Auction) -> AuctionDto {
        to_dto(a, self)
    }
}

fn to_dto(a: Auction, related: &Related) -> AuctionDto {
    let snap = a.snapshot();
    let clock = related
        .clocks
        .get(&a.id)
        .filter(|_| a.is_clock())
        .map(|c| ClockDto::of(c, Utc::now()));
    let format = if a.is_clock() { DUTCH } else { ENGLISH };
    let names = &related.names;
    let stored = related.lots.get(&a.id);
    let lot = stored.map(|s| &s.lot);
    let area = lot.and_then(|l| l.catch_area.as_ref());
    AuctionDto {
        weight_g: lot.and_then(|l| l.weight_g),
        length_cm: lot.and_then(|l| l.length_cm),
        caught_at: lot.and_then(|l| l.caught_at),
        catch_area: area.map(|c| c.text.clone()),
        catch_province: area.and_then(|c| c.province).map(|p| p.code().to_owned()),
        storage: lot.and_then(|l| l.storage).map(|s| s.code().to_owned()),
        delivery: lot.and_then(|l| l.delivery.as_ref()).map(DeliveryDto::of),
        species_suggestion: stored.and_then(|s| s.suggestion.as_ref()).map(|s| {
            SpeciesSuggestionDto {
                label: s.label.clone(),
                name_ko: s.name_ko.clone(),
                probability: s.probability,
                unknown: s.unknown,
            }
        }),
        photos: related
            .photos
            .get(&a.id)
            .map(|p| p.iter().map(PhotoDto::of).collect())
            .unwrap_or_default(),
        seller: names.get(&a.seller_id).cloned().unwrap_or_default(),
        leader: a.leader_id.and_then(|id| names.get(&id).cloned()),
        min_next_bid: min_next_bid(&snap).get(),
        min_increment: current_increment(&snap).get(),
        increment_rule: snap.increment.code().to_owned(),
        buy_now_available: buy_now_available(&snap).is_some(),
        buy_now_price: a.buy_now_price.map(Krw::get),
        reserve_met: reserve_met(&snap),
        has_reserve: a.reserve_price.is_some(),
        status: shown_status(&snap, Utc::now()).code().to_owned(),
        starts_at: a.starts_at(),
        ends_at: a.ends_at(),
        server_now: Utc::now(),
        created_at: a.created_at(),
        closed_at: a.closed_at(),
        id: a.id.get(),
        seller_id: a.seller_id.get(),
        title: a.title,
        description: a.description,
        species: a.species,
        photo_url: a.photo_url,
        start_price: a.start_price.get(),
        current_price: a.current_price.map(Krw::get),
        bid_count: a.bid_count,
        view_count: a.view_count,
        watchers: None,
        watching: None,
        format: format.to_owned(),
        clock,
    }
}

/// The wire form of `rows`, in their order.
pub(super) async fn dtos(
    conn: &mut DbConn,
    rows: Vec<Auction>,
) -> Result<Vec<AuctionDto>, ApiError> {
    let related = Related::of(conn, &rows).await?;
    Ok(rows.into_iter().map(|a| related.dto(a)).collect())
}

pub(super) async fn load_dto(conn: &mut DbConn, id: AuctionId) -> Result<AuctionDto, ApiError> {
    let row = auctions::find(conn, id)
        .await?
        .ok_or(ApiError::NotFound("auction"))?;
    let related = Related::of(conn, std::slice::from_ref(&row)).await?;
    Ok(related.dto(row))
}

/// Longest title.
pub const TITLE_MAX: usize = 100;
/// Longest description.
pub const DESCRIPTION_MAX: usize = 5_000;
/// Longest species name.
pub const SPECIES_MAX: usize = 100;
/// Longest photo URL.
pub const PHOTO_URL_MAX: usize = 500;
/// Longest search text.
pub const SEARCH_MAX: usize = 100;

fn text_field(
    field: &'static str,
    raw: &str,
    max: usize,
    allow_empty: bool,
) -> Result<String, ApiError> {
    let text = raw.trim();
    let len = text.chars().count();
    if (!allow_empty && len == 0) || len > max {
        return Err(FieldError::new(
            field,
            format!("must be {} to {max} characters", usize::from(!allow_empty)),
        )
        .into());
    }
    if text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        return Err(FieldError::new(field, "must not contain control characters").into());
    }
    Ok(text.to_owned())
}

fn photo_url(raw: &str) -> Result<String, ApiError> {
    let url = text_field("photo_url", raw, PHOTO_URL_MAX, false)?;
    match url::Url::parse(&url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => Ok(url),
        _ => Err(FieldError::new("photo_url", "must be an http(s) URL").into()),
    }
}

/// The model's reading of `seller`'s photo `photo_id`, or `None` when there
/// is nothing to read (not their unused photo: attaching refuses it next),
/// or the model is off or busy (an auction never waits for a suggestion).
async fn suggest_species(
    state: &AppState,
    seller: UserId,
    photo_id: &str,
) -> Option<SpeciesSuggestion> {
    let model = state.fish.as_ref().ok()?.model();
    let photo = {
        let mut conn = state.db.get().await.ok()?;
        photos::find(&mut conn, photo_id).await.ok()??
    };
    if photo.owner_id != seller || photo.auction_id.is_some() {
        return None;
    }
    let slot = model.reserve().ok()?;
    let bytes = match state.photos.original(&photo).await {
        Ok(bytes) => bytes,
        Err(e) => {
            tracing::warn!(error = %e, photo_id, "cannot read a photo to suggest its species");
            return None;
        }
    };
    match model.identify_reserved(slot, bytes.to_vec(), 1).await {
        Ok(answer) => answer
            .predictions
            .into_iter()
            .next()
            .map(|top| SpeciesSuggestion {
                label: top.label.latin,
                name_ko: top.label.name_ko,
                probability: f64::from(top.probability),
                unknown: answer.unknown,
            }),
        Err(e) => {
            tracing::warn!(error = %e, photo_id, "the species model failed on a stored photo");
            None
        }
    }
}

/// Most photos one auction shows.
pub const MAX_PHOTOS: usize = 8;

/// `photo_ids` as given: 1–8 distinct photo ids, or none at all.
fn photo_ids(given: Option<Vec<String>>) -> Result<Vec<String>, ApiError> {
    let Some(ids) = given else {
        return Ok(Vec::new());
    };
    if ids.is_empty() || ids.len() > MAX_PHOTOS {
        return Err(FieldError::new(
            "photo_ids",
            format!("must hold 1 to {MAX_PHOTOS} photo ids"),
        )
        .into());
    }
    let mut seen = std::collections::HashSet::new();
    for id in &ids {
        if !sitga_photos::is_photo_id(id) {
            return Err(
                FieldError::new("photo_ids", "must be photo ids from POST /api/v1/photos").into(),
            );
        }
        if !seen.insert(id) {
            return Err(FieldError::new("photo_ids", "must not name a photo twice").into());
        }
    }
    Ok(ids)
}

/// A new auction.
#[derive(Debug, Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct CreateAuctionRequest {
    /// Title, 1–100 characters.
    pub title: String,
    /// Description, up to 5,000 characters.
    pub description: String,
    /// Species (e.g. from `POST /api/v1/fish/identify`), up to 100 characters.
    pub species: Option<String>,
    /// Photo URL (http or https), for a photo kept elsewhere.
    pub photo_url: Option<String>,
    /// The catch's photos, 1–8 of your own from `POST /api/v1/photos`, not
    /// used by another auction; the first is shown first.
    pub photo_ids: Option<Vec<String>>,
    /// Weight in grams (1–500,000).
    pub weight_g: Option<i64>,
    /// Length in centimetres (1–500).
    pub length_cm: Option<i64>,
    /// When it was caught: not in the future, at most 7 days ago.
    pub caught_at: Option<DateTime<Utc>>,
    /// Where it was caught, 1–100 characters ("제주 서귀포 갯바위").
    pub catch_area: Option<String>,
    /// The catch area's province code (with `catch_area`).
    pub catch_province: Option<String>,
    /// How it is kept: `live`, `iced` or `frozen`.
    pub storage: Option<String>,
    /// How the buyer can get it: pickup, courier, or both.
    pub delivery: Option<DeliveryDto>,
    /// First bid must be at least this (KRW, 1 … 1,000,000,000).
    pub start_price: i64,
    /// A fixed minimum raise (KRW, 1 … 1,000,000,000). Without it the raise
    /// follows the price (`increment_rule` `tiered`).
    pub min_increment: Option<i64>,
    /// Hidden reserve (KRW, ≥ start price); below it the auction does not sell.
    pub reserve_price: Option<i64>,
    /// Buy-now price (KRW, ≥ start price and ≥ reserve): anyone may end the
    /// auction at once by paying it, while the bidding is below the reserve
    /// (with no reserve: before the first bid).
    pub buy_now_price: Option<i64>,
    /// Length in minutes (1 … 10,080; default 1,440 = 24 h), counted from
    /// the start.
    pub duration_minutes: Option<i64>,
    /// When bids open: now … 7 days ahead (default now). Until then the
    /// auction is `scheduled`.
    pub starts_at: Option<DateTime<Utc>>,
    /// `english` (default: bids, the highest wins) or `dutch`: a
    /// descending clock that falls from `start_price` by `step` every
    /// `step_seconds` down to `floor_price`; each accept buys units at the
    /// clock's price. A dutch auction takes no `min_increment`,
    /// `reserve_price`, `buy_now_price` or `duration_minutes`.
    pub format: Option<String>,
    /// Dutch: the lowest price (KRW, below `start_price`); at it, with
    /// units left, the rest is unsold. Private to you.
    pub floor_price: Option<i64>,
    /// Dutch: how much the price falls at each step (KRW).
    pub step: Option<i64>,
    /// Dutch: seconds between steps (1 … 3,600).
    pub step_seconds: Option<i64>,
    /// Dutch: units for sale, e.g. boxes (1 … 10,000; default 1).
    pub quantity: Option<i64>,
    /// Dutch: seconds the clock stands still after an accept (0 … 60;
    /// default 3).
    pub pause_seconds: Option<i64>,
}

impl CreateAuctionRequest {
    /// The clock of a `dutch` request; `None` for `english`. Clock fields
    /// on an english auction, or a dutch one without them, are refused.
    fn clock(&self) -> Result<Option<ClockInput>, ApiError> {
        let given = [
            ("floor_price", self.floor_price.is_some()),
            ("step", self.step.is_some()),
            ("step_seconds", self.step_seconds.is_some()),
            ("quantity", self.quantity.is_some()),
            ("pause_seconds", self.pause_seconds.is_some()),
        ];
        match self.format.as_deref() {
            None | Some(ENGLISH) => match given.iter().find(|(_, set)| *set) {
                Some((field, _)) => Err(FieldError::inconsistent(
                    field,
                    "only a dutch auction (format \"dutch\") has a clock",
                )
                .into()),
                None => Ok(None),
            },
            Some(DUTCH) => {
                let needed = |field: &'static str, value: Option<i64>| {
                    value.ok_or_else(|| {
                        ApiError::from(FieldError::inconsistent(field, "a dutch auction needs it"))
                    })
                };
                Ok(Some(ClockInput {
                    floor_price: Krw::new(needed("floor_price", self.floor_price)?),
                    step: Krw::new(needed("step", self.step)?),
                    step_seconds: needed("step_seconds", self.step_seconds)?,
                    quantity: self.quantity,
                    pause_seconds: self.pause_seconds,
                }))
            }
            Some(_) => Err(FieldError::new("format", "must be english or dutch").into()),
        }
    }
}

/// Open an auction
///
/// An `english` auction (the default) ends after `duration_minutes`
/// (default 24 h); a bid in the last 2 minutes extends the end to 2 minutes
/// after that bid, at most 30 minutes past the planned end. A `dutch`
/// auction runs a descending clock from `start_price` (at `starts_at`, or
/// now) and ends when its units are sold, or one step after reaching
/// `floor_price`.
#[api_v2_operation(tags(Auctions))]
pub async fn create(
    state: web::Data<AppState>,
    auth: AuthUser,
    body: JsonBody<CreateAuctionRequest>,
) -> Result<CreatedJson<AuctionDto>, ApiError> {
    let req = body.0;
    let settings = AuctionSettings::parse(
        &AuctionSettingsInput {
            start_price: Krw::new(req.start_price),
            min_increment: req.min_increment.map(Krw::new),
            reserve_price: req.reserve_price.map(Krw::new),
            buy_now_price: req.buy_now_price.map(Krw::new),
            duration_minutes: req.duration_minutes,
            starts_at: req.starts_at,
            clock: req.clock()?,
        },
        Utc::now(),
    )
    .map_err(ApiError::from)?;
    let mut new = NewAuction {
        seller_id: auth.id,
        title: text_field("title", &req.title, TITLE_MAX, false)?,
        description: text_field("description", &req.description, DESCRIPTION_MAX, true)?,
        species: req
            .species
            .as_deref()
            .map(|s| text_field("species", s, SPECIES_MAX, false))
            .transpose()?,
        photo_url: req.photo_url.as_deref().map(photo_url).transpose()?,
        settings,
    };
    let photo_ids = photo_ids(req.photo_ids)?;
    let lot = Lot::parse(
        &LotInput {
            weight_g: req.weight_g,
            length_cm: req.length_cm,
            caught_at: req.caught_at,
            catch_area: req.catch_area.as_deref(),
            catch_province: req.catch_province.as_deref(),
            storage: req.storage.as_deref(),
            delivery: req.delivery.as_ref().map(|d| DeliveryInput {
                pickup: d
                    .pickup
                    .as_ref()
                    .map(|p| (p.province.as_str(), p.place.as_str())),
                courier_fee: d.courier.as_ref().map(|c| c.fee),
            }),
        },
        Utc::now(),
    )?;
    let suggestion = match photo_ids.first() {
        Some(first) => suggest_species(&state, auth.id, first).await,
        None => None,
    };
    if new.species.is_none() {
        // A confident model names the fish when the angler did not.
        new.species = suggestion
            .as_ref()
            .filter(|s| !s.unknown)
            .map(|s| s.name_ko.clone().unwrap_or_else(|| s.label.clone()));
    }
    let mut tx = state.db.begin().await?;
    let auction = auctions::insert(&mut tx, &new).await?;
    lots::insert(&mut tx, auction.id, &lot, suggestion.as_ref()).await?;
    // All the photos or none: dropping the transaction unrecords the auction.
    if photos::attach(&mut tx, auth.id, &photo_ids, auction.id).await? != photo_ids.len() {
        return Err(ApiError::Unprocessable {
            code: ErrorCode::UnusablePhoto,
            message: "photo_ids must be your own photos from POST /api/v1/photos, uploaded within a day and not shown by another auction".into(),
        });
    }
    tx.commit().await?;
    state.bus.listings_changed().await;
    let mut conn = state.db.get().await?;
    tracing::info!(
        auction_id = auction.id.get(),
        user_id = auth.id.get(),
        "auction opened"
    );
    state
        .close_queue
        .schedule(auction.id, auction.ends_at())
        .await;
    Ok(CreatedJson(load_dto(&mut conn, auction.id).await?))
}

/// Listing filters.
#[derive(Debug, Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// `open` (default), `sold`, `unsold`, `cancelled` or `all`.
    pub status: Option<String>,
    /// Only this seller's auctions (user id).
    pub seller: Option<i64>,
    /// Text in the title or species.
    pub q: Option<String>,
    /// `newest` (default) or `ending_soon`.
    pub sort: Option<String>,
    /// Page, from 1.
    pub page: Option<u32>,
    /// Page size, 1–100 (default 20).
    pub per_page: Option<u32>,
}

/// A page of auctions.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct AuctionPage {
    /// Auctions.
    pub items: Vec<AuctionDto>,
    /// Page number.
    pub page: u32,
    /// Page size.
    pub per_page: u32,
    /// All matching.
    pub total: i64,
}

/// List auctions
#[api_v2_operation(tags(Auctions))]
pub async fn list(
    state: web::Data<AppState>,
    query: QueryParams<ListQuery>,
) -> Result<Tagged<AuctionPage>, ApiError> {
    let q = query.0;
    let (page, per_page, offset) = PageQuery::of(q.page, q.per_page).resolve()?;
    let status = match q.status.as_deref().unwrap_or("open") {
        "all" => None,
        code => Some(
            AuctionStatus::parse(code).ok_or_else(|| ApiError::BadRequest {
                code: ErrorCode::InvalidQuery,
                message: "status must be open, sold, unsold, cancelled or all".into(),
                field: Some("status".into()),
            })?,
        ),
    };
    let sort = match q.sort.as_deref().unwrap_or("newest") {
        "newest" => Sort::Newest,
        "ending_soon" => Sort::EndingSoon,
        _ => {
            return Err(ApiError::BadRequest {
                code: ErrorCode::InvalidQuery,
                message: "sort must be newest or ending_soon".into(),
                field: Some("sort".into()),
            });
        }
    };
    let query_text = q.q.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty());
    if query_text
        .as_ref()
        .is_some_and(|t| t.chars().count() > SEARCH_MAX || t.chars().any(char::is_control))
    {
        return Err(ApiError::BadRequest {
            code: ErrorCode::InvalidQuery,
            message: format!("q is at most {SEARCH_MAX} characters, without control characters"),
            field: Some("q".into()),
        });
    }
    let key = PageKey {
        status: status.map(AuctionStatus::code),
        seller: q.seller,
        query: query_text.clone(),
        sort: match sort {
            Sort::Newest => "newest",
            Sort::EndingSoon => "ending_soon",
        },
        page,
        per_page,
    };
    let filter = ListFilter {
        status,
        seller_id: q.seller.map(UserId::new),
        query: query_text,
        sort,
    };
    let body = state
        .listings
        .page(
            key,
            || state.bus.listings_version(),
            || async {
                let mut conn = state.db.get().await?;
                let (rows, total) =
                    auctions::list(&mut conn, &filter, offset, i64::from(per_page)).await?;
                let mut items = dtos(&mut conn, rows).await?;
                let now = Utc::now();
                let changes_at = items.iter().filter_map(|a| a.changes_by_itself(now)).min();
                for item in &mut items {
                    item.server_now = CLOCK_PLACEHOLDER;
                }
                let page = AuctionPage {
                    items,
                    page,
                    per_page,
                    total,
                };
                Ok::<_, ApiError>(Built {
                    body: TaggedJson::encode(&page)
                        .map_err(|e| ApiError::Internal(e.to_string()))?,
                    changes_at,
                })
            },
        )
        .await?;
    Ok(Tagged::public(body))
}

/// Auction id.
#[derive(Debug, Deserialize, Apiv2Schema)]
pub struct AuctionPath {
    /// Auction id.
    pub id: i64,
}

impl AuctionPath {
    /// The auction named by the path.
    pub fn auction(&self) -> AuctionId {
        AuctionId::new(self.id)
    }
}

/// One auction (counts a view, once per client an hour)
#[api_v2_operation(tags(Auctions))]
pub async fn get(
    state: web::Data<AppState>,
    http: HttpRequest,
    viewer: Viewer,
    path: web::Path<AuctionPath>,
) -> Result<Tagged<AuctionDto>, ApiError> {
    let id = path.auction();
    let mut conn = state.db.get().await?;
    let counted = state.auth_limiter.count_view(state.client_ip(&http), id);
    if counted && !auctions::increment_views(&mut conn, id).await? {
        return Err(ApiError::NotFound("auction"));
    }
    let mut dto = load_dto(&mut conn, id).await?;
    dto.watchers = Some(watchlist::watchers(&mut conn, id).await?);
    if let Viewer(Some(user)) = viewer {
        dto.watching = Some(watchlist::watches(&mut conn, user.id, id).await?);
        // The floor is the seller's own secret: only they read it back.
        if user.id.get() == dto.seller_id
            && let Some(clock) = dto.clock.as_mut()
        {
            clock.floor_price = clocks::find(&mut conn, id)
                .await?
                .map(|c| c.rules().floor_price.get());
        }
    }
    dto.server_now = CLOCK_PLACEHOLDER;
    let body = TaggedJson::encode(&dto).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(Tagged::private(body))
}

/// Changes before the first bid. Absent fields stay.
#[derive(Debug, Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct UpdateAuctionRequest {
    /// Title.
    pub title: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Species.
    pub species: Option<String>,
    /// Photo URL.
    pub photo_url: Option<String>,
    /// Start price.
    pub start_price: Option<i64>,
    /// A fixed minimum raise (the rule becomes `fixed`).
    pub min_increment: Option<i64>,
    /// Reserve.
    pub reserve_price: Option<i64>,
    /// Buy-now price.
    pub buy_now_price: Option<i64>,
}

/// Why a seller action on an auction did not apply.
async fn seller_guard_error(
    conn: &mut DbConn,
    id: AuctionId,
    user: UserId,
    action: &'static str,
) -> ApiError {
    match auctions::find(conn, id).await {
        Ok(None) => ApiError::NotFound("auction"),
        Ok(Some(a)) if a.seller_id != user => ApiError::Forbidden {
            code: ErrorCode::NotSeller,
            message: "only the seller can do this",
        },
        Ok(Some(a)) if a.status() != AuctionStatus::Open => ApiError::Conflict {
            code: ErrorCode::AuctionNotOpen,
            message: format!(
                "the auction is {}; it can no longer be {action}",
                a.status().code()
            ),
            field: None,
        },
        Ok(Some(_)) => ApiError::Conflict {
            code: ErrorCode::AuctionHasBids,
            message: format!("the auction has bids; it can no longer be {action}"),
            field: None,
        },
        Err(e) => e.into(),
    }
}

/// Edit an auction (seller, before the first bid)
#[api_v2_operation(tags(Auctions))]
pub async fn update(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<AuctionPath>,
    body: JsonBody<UpdateAuctionRequest>,
) -> Result<web::Json<AuctionDto>, ApiError> {
    let req = body.0;
    let mut conn = state.db.get().await?;
    let current = auctions::find(&mut conn, path.auction())
        .await?
        .ok_or(ApiError::NotFound("auction"))?;
    // A clock runs from its stored schedule: its prices stay as listed.
    let prices = [
        ("start_price", req.start_price.is_some()),
        ("min_increment", req.min_increment.is_some()),
        ("reserve_price", req.reserve_price.is_some()),
        ("buy_now_price", req.buy_now_price.is_some()),
    ];
    if current.is_clock()
        && let Some((field, _)) = prices.iter().find(|(_, set)| *set)
    {
        return Err(FieldError::inconsistent(
            field,
            "a dutch auction's prices are fixed once it is listed: cancel it and list it again",
        )
        .into());
    }
    // Re-validate the prices as a whole, as they would be after the change.
    AuctionSettings::parse(
        &AuctionSettingsInput {
            start_price: req.start_price.map_or(current.start_price, Krw::new),
            min_increment: req
                .min_increment
                .map(Krw::new)
                .or(current.increment().fixed()),
            reserve_price: req.reserve_price.map(Krw::new).or(current.reserve_price),
            buy_now_price: req.buy_now_price.map(Krw::new).or(current.buy_now_price),
            duration_minutes: None,
            starts_at: None,
            clock: None,
        },
        Utc::now(),
    )
    .map_err(ApiError::from)?;
    let change = DetailsChange {
        title: req
            .title
            .as_deref()
            .map(|t| text_field("title", t, TITLE_MAX, false))
            .transpose()?,
        description: req
            .description
            .as_deref()
            .map(|d| text_field("description", d, DESCRIPTION_MAX, true))
            .transpose()?,
        species: req
            .species
            .as_deref()
            .map(|s| text_field("species", s, SPECIES_MAX, false).map(Some))
            .transpose()?,
        photo_url: req
            .photo_url
            .as_deref()
            .map(|p| photo_url(p).map(Some))
            .transpose()?,
        start_price: req.start_price.map(Krw::new),
        min_increment: req.min_increment.map(Krw::new),
        increment_rule: req
            .min_increment
            .map(|step| Increment::Fixed(Krw::new(step)).code()),
        reserve_price: req.reserve_price.map(|r| Some(Krw::new(r))),
        buy_now_price: req.buy_now_price.map(|b| Some(Krw::new(b))),
    };
    if !auctions::update_details(&mut conn, path.auction(), auth.id, &change).await? {
        return Err(seller_guard_error(&mut conn, path.auction(), auth.id, "edited").await);
    }
    // The room (and every list) sees the new start price and rules at once.
    if let Some(row) = auctions::find(&mut conn, path.auction()).await? {
        let frame = sitga_realtime::frames::ServerFrame::state(&row.snapshot(), None, Utc::now());
        state.bus.publish(path.auction(), &frame).await;
    }
    Ok(web::Json(load_dto(&mut conn, path.auction()).await?))
}

/// Cancel an auction (seller, only without bids)
#[api_v2_operation(tags(Auctions))]
pub async fn cancel(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<AuctionPath>,
) -> Result<web::Json<AuctionDto>, ApiError> {
    let mut conn = state.db.get().await?;
    if !auctions::cancel(&mut conn, path.auction(), auth.id).await? {
        return Err(seller_guard_error(&mut conn, path.auction(), auth.id, "cancelled").await);
    }
    tracing::info!(
        auction_id = path.id,
        user_id = auth.id.get(),
        "auction cancelled"
    );
    let closed = sitga_realtime::frames::ServerFrame::closed(
        AuctionStatus::Cancelled,
        None,
        None,
        "판매자가 경매를 취소하였습니다.".to_owned(),
        "cancelled by the seller".to_owned(),
    );
    state.bus.publish(path.auction(), &closed).await;
    state.bus.forget_history(path.auction());
    Ok(web::Json(load_dto(&mut conn, path.auction()).await?))
}

/// Close early (seller): sold to the leader if the reserve is met
///
/// A dutch auction's clock stops: what its accepts bought stays sold, the
/// units left are unsold.
#[api_v2_operation(tags(Auctions))]
pub async fn close(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<AuctionPath>,
) -> Result<web::Json<AuctionDto>, ApiError> {
    let mut conn = state.db.get().await?;
    let auction = auctions::find(&mut conn, path.auction())
        .await?
        .ok_or(ApiError::NotFound("auction"))?;
    if auction.seller_id != auth.id {
        return Err(ApiError::Forbidden {
            code: ErrorCode::NotSeller,
            message: "only the seller can do this",
        });
    }
    drop(conn);
    match state.closer.close(path.auction(), true).await? {
        CloseResult::Closed(_) | CloseResult::ClockStopped { .. } => {}
        CloseResult::AlreadyClosed | CloseResult::NotDue => {
            return Err(ApiError::Conflict {
                code: ErrorCode::AuctionNotOpen,
                message: "the auction is already closed".into(),
                field: None,
            });
        }
    }
    let mut conn = state.db.get().await?;
    Ok(web::Json(load_dto(&mut conn, path.auction()).await?))
}

/// A bid: an amount, a maximum, or both.
#[derive(Debug, Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct BidRequest {
    /// Amount in KRW. With only `max_amount`, the server bids the least
    /// that leads.
    pub amount: Option<i64>,
    /// Your maximum in KRW (a proxy bid): the server bids for you, as
    /// little as it takes to lead, up to it. Private: only you see it.
    /// While you lead, send it alone to raise it (never lower) without
    /// moving the price.
    pub max_amount: Option<i64>,
}

/// An accepted bid.
#[derive(Debug, Serialize, Deserialize, Apiv2Schema)]
pub struct BidDto {
    /// Position in the auction's bid history (1, 2, …).
    pub seq: i64,
    /// Amount (KRW).
    pub amount: i64,
    /// Bidder's nickname.
    pub bidder: String,
    /// The auction's end after this bid.
    pub ends_at: DateTime<Utc>,
    /// Whether the bid extended the end (soft close).
    pub extended: bool,
    /// Placed by the server from a maximum (a proxy bid).
    pub proxy: bool,
}

impl BidDto {
    fn of(bid: &AcceptedBid, bidder: String) -> Self {
        Self {
            seq: bid.seq,
            amount: bid.amount.get(),
            bidder,
            ends_at: bid.ends_at,
            extended: bid.extended,
            proxy: bid.proxy,
        }
    }
}

/// The result of an accepted bid.
#[derive(Debug, Serialize, Deserialize, Apiv2Schema)]
pub struct BidResponse {
    /// Your bid; null when you raised your own maximum (the price did not
    /// move).
    pub bid: Option<BidDto>,
    /// The leader's automatic answer when their maximum was higher than
    /// yours: your bid stands in the history, but you are not leading.
    pub outbid_by: Option<BidDto>,
    /// Whether you lead now.
    pub leading: bool,
    /// Your maximum standing now (only while you lead with one; only you
    /// see it).
    pub max_amount: Option<i64>,
    /// The auction after it.
    pub auction: AuctionDto,
}

const IDEMPOTENCY_HEADER: &str = "idempotency-key";

/// Place a bid
///
/// Send `amount`, `max_amount` (a proxy bid: the server bids for you, as
/// little as leads, up to it; a challenger's bid below it is answered at
/// once, one increment above, capped at it; equal maximums: the earlier
/// leads), or both (bid `amount` now, defend up to `max_amount`). While
/// leading, `max_amount` alone raises your maximum without moving the price.
/// Your points cover the current price while you lead; a maximum they
/// cannot cover bids what they do and stops (notification
/// `proxy_exhausted`).
///
/// 201 when accepted (`leading` false when a higher maximum answered it at
/// once); 409 with the reason code (`bid_too_low` with `min_next_bid`,
/// `max_too_low` with `min_max`, `insufficient_balance`, `seller_cannot_bid`,
/// `already_leading`, `auction_ended`, `auction_not_open`) when refused. Send an
/// `Idempotency-Key` header (≤ 100 characters) to make retries safe: a repeat
/// with the same key returns the first outcome.
#[api_v2_operation(tags(Auctions))]
pub async fn place_bid(
    state: web::Data<AppState>,
    auth: AuthUser,
    http: HttpRequest,
    path: web::Path<AuctionPath>,
    body: JsonBody<BidRequest>,
) -> Result<CreatedJson<BidResponse>, ApiError> {
    let BidRequest { amount, max_amount } = body.0;
    if amount.is_none() && max_amount.is_none() {
        return Err(ApiError::BadRequest {
            code: ErrorCode::ValidationFailed,
            message: "send amount, max_amount or both".into(),
            field: Some("amount".into()),
        });
    }
    let (amount, max) = (amount.map(Krw::new), max_amount.map(Krw::new));
    let request = format!(
        "bid:{}:{}:{}",
        path.id,
        amount.map_or(-1, Krw::get),
        max.map_or(-1, Krw::get)
    );
    decided_once(&state, &auth, &http, &request, || {
        bid_response(&state, &auth, path.auction(), amount, max)
    })
    .await
    .map(CreatedJson)
}

/// Runs `decide` at most once per `Idempotency-Key` (when the request has
/// one) for `user`'s `request` (e.g. `bid:7:15000`): a repeat gets the
/// first outcome, an accepted one (201) or a refusal by the auction rules
/// (409); a key reused for another request answers 422. When nothing was
/// decided (the database away, overload), the key is freed for a retry.
pub(super) async fn decided_once<T, F, Fut>(
    state: &AppState,
    user: &AuthUser,
    http: &HttpRequest,
    request: &str,
    decide: F,
) -> Result<T, ApiError>
where
    T: Serialize + serde::de::DeserializeOwned,
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<T, ApiError>>,
{
    let Some(value) = http.headers().get(IDEMPOTENCY_HEADER) else {
        return decide().await;
    };
    let key = value.to_str().map(str::trim).unwrap_or_default();
    if key.is_empty() || key.len() > 100 {
        return Err(ApiError::BadRequest {
            code: ErrorCode::InvalidIdempotencyKey,
            message: "Idempotency-Key must be 1 to 100 visible ASCII characters".into(),
            field: Some("Idempotency-Key".into()),
        });
    }
    let request_hash = hex::encode(Sha256::digest(request));
    let mut conn = state.db.get().await?;
    match idempotency::claim(&mut conn, user.id, key, &request_hash).await? {
        KeyState::New => {}
        KeyState::Mismatch => {
            return Err(ApiError::Unprocessable {
                code: ErrorCode::IdempotencyKeyReused,
                message: "this Idempotency-Key was used for a different request".into(),
            });
        }
        KeyState::InProgress => {
            return Err(ApiError::Conflict {
                code: ErrorCode::IdempotencyInProgress,
                message: "a request with this Idempotency-Key is still being processed".into(),
                field: None,
            });
        }
        KeyState::Done { status: 201, body } => {
            return serde_json::from_str(&body).map_err(ApiError::internal);
        }
        KeyState::Done { body, .. } => return Err(ApiError::Replayed(body)),
    }
    drop(conn);
    let outcome = decide().await;
    let mut conn = state.db.get().await?;
    match outcome {
        Ok(decided) => {
            let text = serde_json::to_string(&decided).map_err(ApiError::internal)?;
            idempotency::complete(&mut conn, user.id, key, 201, &text).await?;
            Ok(decided)
        }
        Err(e @ ApiError::BidRejected(_)) => {
            let body = serde_json::to_string(&e.body()).map_err(ApiError::internal)?;
            idempotency::complete(&mut conn, user.id, key, 409, &body).await?;
            Err(e)
        }
        // Nothing was decided (database down, overload): a retry may try again.
        Err(e) => {
            idempotency::release(&mut conn, user.id, key).await?;
            Err(e)
        }
    }
}

/// The nickname of the token's account (for the room's messages).
pub(super) async fn nickname_of(state: &AppState, user: UserId) -> Result<String, ApiError> {
    let mut conn = state.db.get().await?;
    let me = users::find_by_id(&mut conn, user)
        .await?
        .ok_or(ApiError::Unauthorized {
            code: ErrorCode::InvalidToken,
            message: "the account of this token no longer exists",
        })?;
    Ok(me.nickname)
}

/// Places the bid.
async fn bid_response(
    state: &AppState,
    auth: &AuthUser,
    auction_id: AuctionId,
    amount: Option<Krw>,
    max: Option<Krw>,
) -> Result<BidResponse, ApiError> {
    let nickname = nickname_of(state, auth.id).await?;
    let outcome = state
        .engine
        .place(BidCommand {
            auction_id,
            bidder_id: auth.id,
            nickname: nickname.clone(),
            amount,
            max,
            client_ref: None,
            resend: false,
        })
        .await?;
    let (bid, outbid_by, max) = match outcome {
        BidOutcome::Rejected { reason, .. } => return Err(ApiError::BidRejected(reason)),
        // Over REST the Idempotency-Key replays; no client key is passed.
        BidOutcome::Replayed { .. } | BidOutcome::RefReused => {
            return Err(ApiError::internal(
                "a client key answer without a client key",
            ));
        }
        BidOutcome::Accepted {
            bid, answer, max, ..
        } => (Some(bid), answer, max),
        BidOutcome::MaxRaised { max, .. } => (None, None, Some(max)),
    };
    let mut conn = state.db.get().await?;
    let names = users::nicknames(
        &mut conn,
        &outbid_by.iter().map(|b| b.bidder_id).collect::<Vec<_>>(),
    )
    .await?;
    Ok(BidResponse {
        bid: bid.as_ref().map(|b| BidDto::of(b, nickname)),
        leading: outbid_by.is_none(),
        outbid_by: outbid_by.map(|b| {
            let name = names.get(&b.bidder_id).cloned().unwrap_or_default();
            BidDto::of(&b, name)
        }),
        max_amount: max.map(Krw::get),
        auction: load_dto(&mut conn, auction_id).await?,
    })
}

/// A buy-now.
#[derive(Debug, Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct BuyNowRequest {
    /// The buy-now price as you saw it (KRW): if the seller changed it
    /// meanwhile, nothing is bought (409 `price_moved` with the price).
    pub price: i64,
}

/// The result of a buy-now.
#[derive(Debug, Serialize, Deserialize, Apiv2Schema)]
pub struct BuyNowResponse {
    /// The sale, waiting for the handover (`GET /api/v1/sales/{sale_id}`);
    /// the price waits in escrow until then.
    pub sale_id: i64,
    /// The buy-now as the auction's last bid.
    pub bid: BidDto,
    /// The auction, now sold to you.
    pub auction: AuctionDto,
}

/// Buy now
///
/// Ends the auction at once, sold to you at its buy-now price: while the
/// bidding is below the reserve (with no reserve: before the first bid).
/// The leading bidder's hold is released, the price is held from your
/// points into the sale's escrow, and the room gets the bid and `closed`.
/// 201 when bought; 409 with the reason code (`buy_now_unavailable`,
/// `price_moved` with `price`, `insufficient_balance` with `available`,
/// `seller_cannot_bid`, `auction_ended`, `auction_not_open`) when not. A
/// racing bid or close is decided first or after, never both. Send an
/// `Idempotency-Key` header to make a retry safe: a repeat with the same
/// key returns the first outcome (without one, a repeat after a success
/// answers `auction_not_open`).
#[api_v2_operation(tags(Auctions))]
pub async fn buy_now(
    state: web::Data<AppState>,
    auth: AuthUser,
    http: HttpRequest,
    path: web::Path<AuctionPath>,
    body: JsonBody<BuyNowRequest>,
) -> Result<CreatedJson<BuyNowResponse>, ApiError> {
    let agreed = Krw::new(body.0.price);
    let request = format!("buy_now:{}:{agreed}", path.id);
    decided_once(&state, &auth, &http, &request, || {
        bought(&state, &auth, path.auction(), agreed)
    })
    .await
    .map(CreatedJson)
}

/// Buys `auction_id` now at `agreed`.
async fn bought(
    state: &AppState,
    auth: &AuthUser,
    auction_id: AuctionId,
    agreed: Krw,
) -> Result<BuyNowResponse, ApiError> {
    let nickname = nickname_of(state, auth.id).await?;
    let result = state
        .closer
        .buy_now(auction_id, auth.id, &nickname, agreed, None, false)
        .await?;
    let (bid, sale_id) = match result {
        BuyNowResult::Bought { bid, sale_id } => (bid, sale_id),
        BuyNowResult::Refused(reason) => return Err(ApiError::BidRejected(reason)),
        BuyNowResult::Missing => return Err(ApiError::NotFound("auction")),
        // Over REST the Idempotency-Key replays; no client key is passed.
        BuyNowResult::Replayed { .. } | BuyNowResult::RefReused => {
            return Err(ApiError::internal(
                "a client key answer without a client key",
            ));
        }
    };
    let mut conn = state.db.get().await?;
    Ok(BuyNowResponse {
        sale_id: sale_id.get(),
        bid: BidDto::of(&bid, nickname),
        auction: load_dto(&mut conn, auction_id).await?,
    })
}

/// Bid history page.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct BidPage {
    /// Bids, newest first.
    pub items: Vec<BidHistoryDto>,
    /// Page.
    pub page: u32,
    /// Page size.
    pub per_page: u32,
    /// All bids.
    pub total: i64,
}

/// A bid in the history.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct BidHistoryDto {
    /// Position (1, 2, …).
    pub seq: i64,
    /// Amount.
    pub amount: i64,
    /// Bidder's nickname.
    pub bidder: String,
    /// When.
    pub created_at: DateTime<Utc>,
    /// Units (1; a dutch auction's accept may buy several, `amount` is
    /// each one's price).
    pub units: i32,
}

/// Bid history of an auction
#[api_v2_operation(tags(Auctions))]
pub async fn bids(
    state: web::Data<AppState>,
    path: web::Path<AuctionPath>,
    query: QueryParams<PageQuery>,
) -> Result<web::Json<BidPage>, ApiError> {
    let (page, per_page, offset) = query.0.resolve()?;
    let mut conn = state.db.get().await?;
    let auction = auctions::find(&mut conn, path.auction())
        .await?
        .ok_or(ApiError::NotFound("auction"))?;
    let rows = auctions::bids_of(&mut conn, path.auction(), offset, i64::from(per_page)).await?;
    let mut ids: Vec<UserId> = rows.iter().map(|b| b.bidder_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let names = users::nicknames(&mut conn, &ids).await?;
    Ok(web::Json(BidPage {
        items: rows
            .into_iter()
            .map(|b| BidHistoryDto {
                bidder: names.get(&b.bidder_id).cloned().unwrap_or_default(),
                created_at: b.created_at(),
                seq: b.seq,
                amount: b.amount.get(),
                units: b.units,
            })
            .collect(),
        page,
        per_page,
        total: auction.bid_count,
    }))
}
