//! Coffee-grounds pickups, rankings and badges.

use chrono::{DateTime, Utc};
use paperclip::actix::{Apiv2Schema, CreatedJson, api_v2_operation, web};
use serde::{Deserialize, Serialize};
use sitga_coffee_grounds::{
    Action, Actor, ActorRole, Grams, MoveError, PickupKind, decide, kind_for,
};
use sitga_core::{PickupId, UserId};
use sitga_persistence::pickups::{self, Pickup, RankingSide};
use sitga_persistence::{DbConn, badges, notifications, users};
use sitga_realtime::counting::Counter;
use sitga_realtime::notices;
use sitga_user::{AccountType, Province, Role};

use super::dto::PageQuery;
use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::error::ErrorCode;
use crate::extract::{JsonBody, QueryParams};
use crate::state::AppState;

/// A pickup: a cafe's offer (`supply`) or a recycler's request (`demand`).
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct PickupDto {
    /// Id.
    pub id: i64,
    /// `supply` or `demand`.
    pub kind: String,
    /// `waiting`, `on_way`, `completed` or `cancelled`.
    pub status: String,
    /// Amount posted (kg, 0.1 steps).
    pub amount_kg: f64,
    /// Weighed at completion (kg).
    pub measured_kg: Option<f64>,
    /// Province code.
    pub province: Option<String>,
    /// Who posted it.
    pub owner: String,
    /// The cafe that gives the grounds (the poster of an offer, the
    /// claimer of a request).
    pub cafe: Option<String>,
    /// The recycler that receives them (the claimer of an offer, the
    /// poster of a request).
    pub recycler: Option<String>,
    /// Whether this completed pickup counts for rankings, monthly figures,
    /// badges and the chain.
    pub counted: bool,
    /// Why it does not count yet: `not_completed`, `business_unverified`
    /// (the cafe or the recycler is not a verified business) or
    /// `weight_unconfirmed` (the cafe must confirm a measured weight over
    /// 1.5× the posted amount: `POST …/confirm-weight`).
    pub not_counted_reason: Option<String>,
    /// When the cafe confirmed the measured weight.
    pub weight_confirmed_at: Option<DateTime<Utc>>,
    /// Posted.
    pub created_at: DateTime<Utc>,
    /// Claimed.
    pub claimed_at: Option<DateTime<Utc>>,
    /// Completed.
    pub completed_at: Option<DateTime<Utc>>,
    /// Cancelled.
    pub cancelled_at: Option<DateTime<Utc>>,
    /// The on-chain record of a completed donation (absent when the chain
    /// is off or this is not a completed donation).
    pub chain: Option<ChainRecordDto>,
}

/// A donation's on-chain record.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct ChainRecordDto {
    /// `pending`, `confirmed` or `failed`.
    pub status: String,
    /// The recording transaction (when confirmed).
    pub tx_hash: Option<String>,
    /// Its block.
    pub block_number: Option<i64>,
    /// Attempts made.
    pub attempts: i32,
}

/// Maps stored pickups, with nicknames.
pub async fn to_dtos(conn: &mut DbConn, rows: Vec<Pickup>) -> Result<Vec<PickupDto>, ApiError> {
    let mut ids: Vec<UserId> = rows
        .iter()
        .flat_map(|p| std::iter::once(p.owner_id).chain(p.collector_id))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let names = users::nicknames(conn, &ids).await?;
    let mut reasons = sitga_realtime::counting::reasons(conn, &rows).await?;
    let pickup_ids: Vec<PickupId> = rows.iter().map(|p| p.id).collect();
    let mut records: std::collections::HashMap<PickupId, ChainRecordDto> =
        sitga_persistence::chain::of_pickups(conn, &pickup_ids)
            .await?
            .into_iter()
            .map(|r| {
                (
                    r.pickup_id,
                    ChainRecordDto {
                        status: r.status().code().to_owned(),
                        tx_hash: r.tx_hash,
                        block_number: r.block_number,
                        attempts: r.attempts,
                    },
                )
            })
            .collect();
    Ok(rows
        .into_iter()
        .map(|p| {
            let sides = p.sides();
            let name = |id: Option<UserId>| id.and_then(|id| names.get(&id).cloned());
            PickupDto {
                chain: records.remove(&p.id),
                cafe: name(sides.cafe),
                recycler: name(sides.recycler),
                counted: p.counted_at().is_some(),
                not_counted_reason: reasons.remove(&p.id).map(|why| why.code().to_owned()),
                weight_confirmed_at: p.weight_confirmed_at(),
                kind: p.kind().code().to_owned(),
                status: p.status().code().to_owned(),
                amount_kg: Grams::from_stored(p.grams).kg(),
                measured_kg: p.measured_grams.map(|g| Grams::from_stored(g).kg()),
                owner: names.get(&p.owner_id).cloned().unwrap_or_default(),
                created_at: p.created_at(),
                claimed_at: p.claimed_at(),
                completed_at: p.completed_at(),
                cancelled_at: p.cancelled_at(),
                id: p.id.get(),
                province: p.province,
            }
        })
        .collect())
}

async fn one(conn: &mut DbConn, row: Pickup) -> Result<PickupDto, ApiError> {
    to_dtos(conn, vec![row])
        .await?
        .pop()
        .ok_or(ApiError::NotFound("pickup"))
}

fn role(t: AccountType) -> ActorRole {
    match t {
        AccountType::Cafe => ActorRole::Cafe,
        AccountType::Recycler => ActorRole::Recycler,
        AccountType::Member => ActorRole::Other,
    }
}

async fn actor(conn: &mut DbConn, auth: &AuthUser) -> Result<(Actor, Option<Province>), ApiError> {
    let me = users::find_by_id(conn, auth.id)
        .await?
        .ok_or(ApiError::Unauthorized {
            code: ErrorCode::InvalidToken,
            message: "the account of this token no longer exists",
        })?;
    Ok((
        Actor {
            user_id: me.id,
            role: role(me.account_type),
        },
        me.province,
    ))
}

fn amount(field: &'static str, kg: f64) -> Result<Grams, ApiError> {
    Grams::from_kg(kg).map_err(|e| e.for_field(field).into())
}

/// An amount to post.
#[derive(Debug, Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct CreatePickupRequest {
    /// Kilograms, 0.1 … 1,000 in 0.1 steps.
    pub amount_kg: f64,
}

/// Post an offer (cafe) or a request (recycler)
///
/// Cafes post supply offers, recyclers post demand requests; other accounts
/// get 403. The province is the poster's profile province.
#[api_v2_operation(tags(Pickups))]
pub async fn create(
    state: web::Data<AppState>,
    auth: AuthUser,
    body: JsonBody<CreatePickupRequest>,
) -> Result<CreatedJson<PickupDto>, ApiError> {
    let grams = amount("amount_kg", body.0.amount_kg)?;
    let mut conn = state.db.get().await?;
    let (me, province) = actor(&mut conn, &auth).await?;
    let kind = kind_for(me.role).ok_or(ApiError::Forbidden {
        code: ErrorCode::NotCafeOrRecycler,
        message: "only cafe and recycler accounts post pickups",
    })?;
    let row = pickups::insert(
        &mut conn,
        me.user_id,
        kind,
        grams,
        province.map(Province::code),
    )
    .await?;
    tracing::info!(
        user_id = me.user_id.get(),
        pickup_id = row.id.get(),
        grams = grams.get(),
        "pickup posted"
    );
    Ok(CreatedJson(one(&mut conn, row).await?))
}

/// Pickup id.
#[derive(Debug, Deserialize, Apiv2Schema)]
pub struct PickupPath {
    /// Pickup id.
    pub id: i64,
}

/// The weight found at collection.
#[derive(Debug, Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct CompleteRequest {
    /// Kilograms weighed, 0.1 … 1,000.
    pub measured_kg: f64,
}

fn move_error(e: MoveError) -> ApiError {
    match e {
        MoveError::WrongActor => ApiError::Forbidden {
            code: ErrorCode::NotAllowed,
            message: "you may not do this to this pickup",
        },
        MoveError::IllegalTransition { .. } => ApiError::Conflict {
            code: ErrorCode::IllegalTransition,
            message: e.to_string(),
            field: None,
        },
        MoveError::NothingToConfirm => ApiError::Conflict {
            code: ErrorCode::NothingToConfirm,
            message: e.to_string(),
            field: None,
        },
    }
}

fn counter(state: &AppState) -> Counter<'_> {
    Counter {
        chain: state.chain.as_ref(),
        calendar: state.calendar,
    }
}

async fn make_move(
    state: &AppState,
    auth: &AuthUser,
    id: PickupId,
    action: Action,
    measured: Option<Grams>,
) -> Result<PickupDto, ApiError> {
    let mut tx = state.db.begin().await?;
    let (me, _) = actor(&mut tx, auth).await?;
    let row = pickups::find(&mut tx, id)
        .await?
        .ok_or(ApiError::NotFound("pickup"))?;
    let moved = decide(&row.snapshot(), action, me).map_err(move_error)?;
    if action == Action::Complete {
        let now = chrono::Utc::now();
        let (midnight, next_day) = state.calendar.day_range(now);
        let done_today = pickups::completed_by_recycler_since(&mut tx, auth.id, midnight).await?;
        if !state.completions.allows(done_today) {
            tracing::warn!(
                user_id = auth.id.get(),
                done_today,
                "daily completion limit reached"
            );
            return Err(ApiError::RateLimited {
                retry_after_secs: u64::try_from((next_day - now).num_seconds().max(1)).unwrap_or(1),
            });
        }
    }
    if !pickups::apply_move(&mut tx, id, row.version, moved, measured).await? {
        return Err(ApiError::Conflict {
            code: ErrorCode::IllegalTransition,
            message: "the pickup changed meanwhile; reload it".into(),
            field: None,
        });
    }
    if action == Action::Complete {
        // Counting (and with it the chain record and the badges) happens in
        // this transaction when both businesses are verified and the weight
        // is plausible; otherwise later, when that changes.
        let done = pickups::find(&mut tx, id)
            .await?
            .ok_or(ApiError::NotFound("pickup"))?;
        counter(state).count_if_ready(&mut tx, &done).await?;
    }
    let after = pickups::find(&mut tx, id)
        .await?
        .ok_or(ApiError::NotFound("pickup"))?;
    let dto = one(&mut tx, after.clone()).await?;
    let nickname = users::find_by_id(&mut tx, auth.id)
        .await?
        .map(|u| u.nickname)
        .unwrap_or_default();
    notifications::store(&mut tx, &notices::pickup_moved(&after, auth.id, &nickname)).await?;
    state.bus.stored(tx.commit_told().await?);
    tracing::info!(user_id = me.user_id.get(), pickup_id = id.get(), status = %dto.status, "pickup moved");
    Ok(dto)
}

/// Claim a waiting offer (recycler): `waiting → on_way`
#[api_v2_operation(tags(Pickups))]
pub async fn claim(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<PickupPath>,
) -> Result<web::Json<PickupDto>, ApiError> {
    Ok(web::Json(
        make_move(&state, &auth, PickupId::new(path.id), Action::Claim, None).await?,
    ))
}

/// Report it collected (the collector): `on_way → completed`
#[api_v2_operation(tags(Pickups))]
pub async fn complete(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<PickupPath>,
    body: JsonBody<CompleteRequest>,
) -> Result<web::Json<PickupDto>, ApiError> {
    let measured = amount("measured_kg", body.0.measured_kg)?;
    Ok(web::Json(
        make_move(
            &state,
            &auth,
            PickupId::new(path.id),
            Action::Complete,
            Some(measured),
        )
        .await?,
    ))
}

/// Withdraw a waiting pickup (its owner): `waiting → cancelled`
#[api_v2_operation(tags(Pickups))]
pub async fn cancel(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<PickupPath>,
) -> Result<web::Json<PickupDto>, ApiError> {
    Ok(web::Json(
        make_move(&state, &auth, PickupId::new(path.id), Action::Cancel, None).await?,
    ))
}

/// Confirm a measured weight over 1.5× the posted amount (the cafe)
///
/// The recycler weighs the grounds; a weight more than 1.5× what was posted
/// counts only once the cafe confirms it. 409 `nothing_to_confirm` when the
/// weight needs no confirmation or has it already.
#[api_v2_operation(tags(Pickups))]
pub async fn confirm_weight(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<PickupPath>,
) -> Result<web::Json<PickupDto>, ApiError> {
    let id = PickupId::new(path.id);
    let mut tx = state.db.begin().await?;
    let (me, _) = actor(&mut tx, &auth).await?;
    let row = pickups::find(&mut tx, id)
        .await?
        .ok_or(ApiError::NotFound("pickup"))?;
    sitga_coffee_grounds::confirm_weight(
        &row.snapshot(),
        row.posted(),
        row.measured(),
        row.weight_confirmed_at().is_some(),
        me,
    )
    .map_err(move_error)?;
    if !pickups::confirm_weight(&mut tx, id).await? {
        return Err(move_error(MoveError::NothingToConfirm));
    }
    let confirmed = pickups::find(&mut tx, id)
        .await?
        .ok_or(ApiError::NotFound("pickup"))?;
    counter(&state).count_if_ready(&mut tx, &confirmed).await?;
    let after = pickups::find(&mut tx, id)
        .await?
        .ok_or(ApiError::NotFound("pickup"))?;
    let dto = one(&mut tx, after).await?;
    state.bus.stored(tx.commit_told().await?);
    tracing::info!(
        user_id = me.user_id.get(),
        pickup_id = id.get(),
        counted = dto.counted,
        "measured weight confirmed"
    );
    Ok(web::Json(dto))
}

/// A page of pickups.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct PickupPage {
    /// Pickups (yours and your donations: newest first; open ones: oldest
    /// first).
    pub items: Vec<PickupDto>,
    /// Page.
    pub page: u32,
    /// Page size.
    pub per_page: u32,
    /// All of them.
    pub total: i64,
}

impl PickupPage {
    /// A page of stored pickups, mapped.
    pub async fn of(
        conn: &mut DbConn,
        (rows, total): (Vec<Pickup>, i64),
        page: u32,
        per_page: u32,
    ) -> Result<Self, ApiError> {
        Ok(Self {
            items: to_dtos(conn, rows).await?,
            page,
            per_page,
            total,
        })
    }
}

/// Your pickups (posted or collected)
#[api_v2_operation(tags(Pickups))]
pub async fn mine(
    state: web::Data<AppState>,
    auth: AuthUser,
    query: QueryParams<PageQuery>,
) -> Result<web::Json<PickupPage>, ApiError> {
    let (page, per_page, offset) = query.0.resolve()?;
    let mut conn = state.db.get().await?;
    let found = pickups::of_user(&mut conn, auth.id, offset, i64::from(per_page)).await?;
    Ok(web::Json(
        PickupPage::of(&mut conn, found, page, per_page).await?,
    ))
}

/// `?month=YYYY-MM` (default: this month in the platform's time zone).
#[derive(Debug, Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct SummaryQuery {
    /// Month, `YYYY-MM`.
    pub month: Option<String>,
}

/// Your month in numbers.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct SummaryDto {
    /// The month, `YYYY-MM`.
    pub month: String,
    /// Kilograms you posted (not cancelled).
    pub posted_kg: f64,
    /// Kilograms completed (given or received; weighed; counting pickups).
    pub completed_kg: f64,
    /// Counting pickups completed.
    pub completed_count: i64,
}

/// Your monthly summary
#[api_v2_operation(tags(Pickups))]
pub async fn summary(
    state: web::Data<AppState>,
    auth: AuthUser,
    query: QueryParams<SummaryQuery>,
) -> Result<web::Json<SummaryDto>, ApiError> {
    let month = super::dto::month_or_current(state.calendar, query.0.month.as_deref())?;
    let (from, to) = state.calendar.month_range(month);
    let mut conn = state.db.get().await?;
    let (posted, completed, count) = pickups::summary(&mut conn, auth.id, from, to).await?;
    Ok(web::Json(SummaryDto {
        month: month.to_string(),
        posted_kg: Grams::from_stored(posted).kg(),
        completed_kg: Grams::from_stored(completed).kg(),
        completed_count: count,
    }))
}

/// Filters for open pickups.
#[derive(Debug, Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct OpenQuery {
    /// `supply` (cafes' offers) or `demand` (recyclers' requests); by
    /// default what the caller can claim: offers for a recycler, requests
    /// for a cafe, offers for anyone else.
    pub kind: Option<String>,
    /// Province code or name.
    pub province: Option<String>,
    /// Page.
    pub page: Option<u32>,
    /// Page size.
    pub per_page: Option<u32>,
}

/// Waiting pickups to claim, oldest first
///
/// Recyclers see cafes' offers, cafes see recyclers' requests (`kind`
/// chooses otherwise).
#[api_v2_operation(tags(Pickups))]
pub async fn open(
    state: web::Data<AppState>,
    auth: AuthUser,
    query: QueryParams<OpenQuery>,
) -> Result<web::Json<PickupPage>, ApiError> {
    let q = query.0;
    let (page, per_page, offset) = PageQuery::of(q.page, q.per_page).resolve()?;
    let province = q.province.as_deref().map(Province::parse).transpose()?;
    let asked = q
        .kind
        .as_deref()
        .map(|raw| {
            PickupKind::parse(raw).ok_or_else(|| ApiError::BadRequest {
                code: ErrorCode::InvalidQuery,
                message: "kind must be supply or demand".into(),
                field: Some("kind".into()),
            })
        })
        .transpose()?;
    let mut conn = state.db.get().await?;
    let kind = match asked {
        Some(kind) => kind,
        None => match actor(&mut conn, &auth).await?.0.role {
            ActorRole::Cafe => PickupKind::Demand,
            ActorRole::Recycler | ActorRole::Other => PickupKind::Supply,
        },
    };
    let found = pickups::open(
        &mut conn,
        kind,
        province.map(Province::code),
        offset,
        i64::from(per_page),
    )
    .await?;
    Ok(web::Json(
        PickupPage::of(&mut conn, found, page, per_page).await?,
    ))
}

/// One pickup (its poster, its collector, or an operator)
#[api_v2_operation(tags(Pickups))]
pub async fn get(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<PickupPath>,
) -> Result<web::Json<PickupDto>, ApiError> {
    let mut conn = state.db.get().await?;
    let pickup = pickups::find(&mut conn, PickupId::new(path.id))
        .await?
        .ok_or(ApiError::NotFound("pickup"))?;
    let involved = pickup.owner_id == auth.id || pickup.collector_id == Some(auth.id);
    if !involved && auth.require(Role::Operator).is_err() {
        return Err(ApiError::Forbidden {
            code: ErrorCode::NotAllowed,
            message: "only its poster, its collector or an operator can see this pickup",
        });
    }
    let mut dtos = to_dtos(&mut conn, vec![pickup]).await?;
    dtos.pop()
        .map(web::Json)
        .ok_or_else(|| ApiError::internal("a pickup mapped to nothing"))
}

/// `?type=cafe|recycler&period=month|all`.
#[derive(Debug, Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct RankingQuery {
    /// `cafe` (grams given) or `recycler` (grams collected).
    #[serde(rename = "type")]
    pub kind: String,
    /// `month` (this month, default) or `all`.
    pub period: Option<String>,
}

/// A ranking line.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct RankDto {
    /// 1, 2, … (equal amounts share a rank).
    pub rank: i64,
    /// Nickname.
    pub nickname: String,
    /// Kilograms.
    pub kg: f64,
}

/// Rankings of cafes or recyclers
#[api_v2_operation(tags(Pickups))]
pub async fn rankings(
    state: web::Data<AppState>,
    query: QueryParams<RankingQuery>,
) -> Result<web::Json<Vec<RankDto>>, ApiError> {
    let q = query.0;
    let side = match q.kind.as_str() {
        "cafe" => RankingSide::Cafes,
        "recycler" => RankingSide::Recyclers,
        _ => {
            return Err(ApiError::BadRequest {
                code: ErrorCode::InvalidQuery,
                message: "type must be cafe or recycler".into(),
                field: Some("type".into()),
            });
        }
    };
    let window = match q.period.as_deref().unwrap_or("month") {
        "all" => None,
        "month" => Some(
            state
                .calendar
                .month_range(state.calendar.month_of(Utc::now())),
        ),
        _ => {
            return Err(ApiError::BadRequest {
                code: ErrorCode::InvalidQuery,
                message: "period must be month or all".into(),
                field: Some("period".into()),
            });
        }
    };
    let mut conn = state.db.get().await?;
    let rows = pickups::rankings(&mut conn, side, window, 100).await?;
    let mut out = Vec::with_capacity(rows.len());
    let mut last: Option<(i64, i64)> = None;
    for (i, (nickname, grams)) in rows.into_iter().enumerate() {
        let rank = match last {
            Some((g, r)) if g == grams => r,
            _ => i as i64 + 1,
        };
        last = Some((grams, rank));
        out.push(RankDto {
            rank,
            nickname,
            kg: Grams::from_stored(grams).kg(),
        });
    }
    Ok(web::Json(out))
}

/// A badge of the catalogue.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct BadgeDto {
    /// Code.
    pub code: String,
    /// Korean name.
    pub name_ko: String,
    /// English name.
    pub name_en: String,
    /// How to earn it (Korean).
    pub how_ko: String,
    /// How to earn it (English).
    pub how_en: String,
    /// `common`, `rare`, `epic` or `legendary`.
    pub rarity: String,
    /// Image URL.
    pub image: String,
    /// When it was awarded (on a user's list).
    pub awarded_at: Option<DateTime<Utc>>,
}

fn badge_dto(b: badges::BadgeRow, at: Option<DateTime<Utc>>) -> BadgeDto {
    BadgeDto {
        code: b.code,
        name_ko: b.name_ko,
        name_en: b.name_en,
        how_ko: b.how_ko,
        how_en: b.how_en,
        rarity: b.rarity,
        image: b.image,
        awarded_at: at,
    }
}

/// The badge catalogue
#[api_v2_operation(tags(Badges))]
pub async fn catalogue(state: web::Data<AppState>) -> Result<web::Json<Vec<BadgeDto>>, ApiError> {
    let mut conn = state.db.get().await?;
    let rows = badges::catalogue(&mut conn).await?;
    Ok(web::Json(
        rows.into_iter().map(|b| badge_dto(b, None)).collect(),
    ))
}

/// Your badges
#[api_v2_operation(tags(Badges))]
pub async fn my_badges(
    state: web::Data<AppState>,
    auth: AuthUser,
) -> Result<web::Json<Vec<BadgeDto>>, ApiError> {
    let mut conn = state.db.get().await?;
    let rows = badges::of_user(&mut conn, auth.id).await?;
    Ok(web::Json(
        rows.into_iter()
            .map(|(b, at)| badge_dto(b, Some(at)))
            .collect(),
    ))
}

/// Nickname.
#[derive(Debug, Deserialize, Apiv2Schema)]
pub struct NicknamePath {
    /// A user's nickname.
    pub nickname: String,
}

/// A user's badges (public profile)
#[api_v2_operation(tags(Badges))]
pub async fn user_badges(
    state: web::Data<AppState>,
    path: web::Path<NicknamePath>,
) -> Result<web::Json<Vec<BadgeDto>>, ApiError> {
    let nickname =
        sitga_user::Nickname::parse(&path.nickname).map_err(|_| ApiError::NotFound("user"))?;
    let mut conn = state.db.get().await?;
    let id = users::id_by_nickname(&mut conn, &nickname)
        .await?
        .ok_or(ApiError::NotFound("user"))?;
    let rows = badges::of_user(&mut conn, id).await?;
    Ok(web::Json(
        rows.into_iter()
            .map(|(b, at)| badge_dto(b, Some(at)))
            .collect(),
    ))
}
