//! Operator views (admin or operator role): supply and demand by province,
//! the request table, badge counts.

use chrono::Utc;
use paperclip::actix::{Apiv2Schema, api_v2_operation, web};
use serde::{Deserialize, Serialize};
use sitga_coffee_grounds::{Grams, PickupKind, PickupStatus};
use sitga_persistence::{badges, pickups};
use sitga_user::{Province, Role};

use super::dto::PageQuery;
use super::pickups::PickupPage;
use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::error::ErrorCode;
use crate::extract::QueryParams;
use crate::state::AppState;

/// `?month=YYYY-MM` (default: this month in the platform's time zone).
#[derive(Debug, Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct MonthQuery {
    /// Month.
    pub month: Option<String>,
}

/// One province's figures.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct ProvinceAmountDto {
    /// Province code (`unknown` when posters set none).
    pub province: String,
    /// Korean name.
    pub name_ko: String,
    /// English name.
    pub name_en: String,
    /// Kilograms offered by cafes.
    pub supply_kg: f64,
    /// Kilograms requested by recyclers.
    pub demand_kg: f64,
    /// Kilograms of counting pickups completed (weighed).
    pub completed_kg: f64,
}

/// The row of `code`, added (as unknown) when it is not a province.
fn province_row(out: &mut Vec<ProvinceAmountDto>, code: Option<String>) -> &mut ProvinceAmountDto {
    let code = code.unwrap_or_else(|| "unknown".into());
    let at = match out.iter().position(|d| d.province == code) {
        Some(i) => i,
        None => {
            out.push(ProvinceAmountDto {
                province: code,
                name_ko: "미지정".into(),
                name_en: "Unknown".into(),
                supply_kg: 0.0,
                demand_kg: 0.0,
                completed_kg: 0.0,
            });
            out.len() - 1
        }
    };
    &mut out[at]
}

/// Supply, demand and completed kilograms by province for a month (operators)
///
/// Supply and demand are what was posted (not cancelled) in the month;
/// completed is what counting pickups weighed when completed in it.
#[api_v2_operation(tags(Monitor))]
pub async fn amounts(
    state: web::Data<AppState>,
    auth: AuthUser,
    query: QueryParams<MonthQuery>,
) -> Result<web::Json<Vec<ProvinceAmountDto>>, ApiError> {
    auth.require(Role::Operator)?;
    let month = super::dto::month_or_current(state.calendar, query.0.month.as_deref())?;
    let (from, to) = state.calendar.month_range(month);
    let mut conn = state.db.get().await?;
    let rows = pickups::amounts_by_province(&mut conn, from, to).await?;
    let completed = pickups::completed_by_province(&mut conn, from, to).await?;
    let mut out: Vec<ProvinceAmountDto> = Province::ALL
        .iter()
        .map(|p| ProvinceAmountDto {
            province: p.code().into(),
            name_ko: p.name_ko().into(),
            name_en: p.name_en().into(),
            supply_kg: 0.0,
            demand_kg: 0.0,
            completed_kg: 0.0,
        })
        .collect();
    for (province, kind, grams) in rows {
        let entry = province_row(&mut out, province);
        let kg = Grams::from_stored(grams).kg();
        match kind {
            PickupKind::Supply => entry.supply_kg += kg,
            PickupKind::Demand => entry.demand_kg += kg,
        }
    }
    for (province, grams) in completed {
        province_row(&mut out, province).completed_kg += Grams::from_stored(grams).kg();
    }
    Ok(web::Json(out))
}

/// Filters for the request table.
#[derive(Debug, Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct RequestsQuery {
    /// Province code or name.
    pub province: Option<String>,
    /// `waiting`, `on_way`, `completed` or `cancelled`.
    pub status: Option<String>,
    /// Posted in this month, `YYYY-MM`.
    pub month: Option<String>,
    /// Page.
    pub page: Option<u32>,
    /// Page size.
    pub per_page: Option<u32>,
}

/// Every pickup, filterable (operators)
#[api_v2_operation(tags(Monitor))]
pub async fn requests(
    state: web::Data<AppState>,
    auth: AuthUser,
    query: QueryParams<RequestsQuery>,
) -> Result<web::Json<PickupPage>, ApiError> {
    auth.require(Role::Operator)?;
    let q = query.0;
    let (page, per_page, offset) = PageQuery::of(q.page, q.per_page).resolve()?;
    let province = q.province.as_deref().map(Province::parse).transpose()?;
    let status = match q.status.as_deref() {
        None => None,
        Some(s) => Some(PickupStatus::parse(s).ok_or_else(|| ApiError::BadRequest {
            code: ErrorCode::InvalidQuery,
            message: "status must be waiting, on_way, completed or cancelled".into(),
            field: Some("status".into()),
        })?),
    };
    let posted = match q.month.as_deref() {
        Some(raw) => Some(
            state
                .calendar
                .month_range(super::dto::month_or_current(state.calendar, Some(raw))?),
        ),
        None => None,
    };
    let mut conn = state.db.get().await?;
    let found = pickups::list_all(
        &mut conn,
        province.map(Province::code),
        status,
        posted,
        offset,
        i64::from(per_page),
    )
    .await?;
    Ok(web::Json(
        PickupPage::of(&mut conn, found, page, per_page).await?,
    ))
}

/// Most chain monitor samples one request returns (a day of minutes).
pub const CHAIN_SAMPLES_MAX: u32 = 1_440;

/// `?limit=` (1 … 1,440, default 60).
#[derive(Debug, Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct ChainQuery {
    /// Samples to return, newest first.
    pub limit: Option<u32>,
}

/// One chain monitor sample.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct ChainSampleDto {
    /// When it was taken.
    pub sampled_at: chrono::DateTime<Utc>,
    /// The latest block.
    pub latest_block: i64,
    /// The contract's donation counter.
    pub donation_count: i64,
    /// Transactions since the previous sample.
    pub transactions: i64,
}

/// The chain monitor.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct ChainMonitorDto {
    /// Whether on-chain recording is configured.
    pub enabled: bool,
    /// The contract (when enabled).
    pub contract: Option<String>,
    /// Donations waiting to be recorded.
    pub pending: i64,
    /// Donations recorded.
    pub confirmed: i64,
    /// Donations given up on.
    pub failed: i64,
    /// Transactions the platform pays for per UTC day (when enabled).
    pub daily_tx_cap: Option<u32>,
    /// Chain records of one donor per UTC day (when enabled).
    pub donor_daily_cap: Option<u32>,
    /// Donations recorded since 00:00 UTC.
    pub confirmed_today: i64,
    /// Donations waiting for a later day because a cap was reached.
    pub deferred: i64,
    /// What an operator should look at, most urgent first (empty when all
    /// is well).
    pub alerts: Vec<String>,
    /// Samples, newest first.
    pub samples: Vec<ChainSampleDto>,
}

/// The operator alerts for these figures.
fn chain_alerts(
    caps: Option<(u32, u32)>,
    confirmed_today: i64,
    deferred: i64,
    failed: i64,
) -> Vec<String> {
    let mut alerts = Vec::new();
    if let Some((cap, _)) = caps {
        let cap_n = i64::from(cap);
        if confirmed_today >= cap_n {
            alerts.push(format!(
                "the daily cap of {cap} chain transactions is reached: donations wait for tomorrow"
            ));
        } else if confirmed_today * 5 >= cap_n * 4 {
            alerts.push(format!(
                "{confirmed_today} of the daily cap of {cap} chain transactions used"
            ));
        }
    }
    if deferred > 0 {
        alerts.push(format!(
            "{deferred} donation(s) deferred by a daily cap (one donor over its daily records, or the platform cap): check for self-dealing accounts"
        ));
    }
    if failed > 0 {
        alerts.push(format!(
            "{failed} donation(s) could not be recorded; their last_error says why"
        ));
    }
    alerts
}

/// The chain monitor's samples (operators)
///
/// `enabled: false` and no samples when on-chain recording is off.
#[api_v2_operation(tags(Monitor))]
pub async fn chain(
    state: web::Data<AppState>,
    auth: AuthUser,
    query: QueryParams<ChainQuery>,
) -> Result<web::Json<ChainMonitorDto>, ApiError> {
    auth.require(Role::Operator)?;
    let limit = query.0.limit.unwrap_or(60);
    if !(1..=CHAIN_SAMPLES_MAX).contains(&limit) {
        return Err(ApiError::BadRequest {
            code: ErrorCode::InvalidQuery,
            message: format!("limit must be 1 to {CHAIN_SAMPLES_MAX}"),
            field: Some("limit".into()),
        });
    }
    let mut conn = state.db.get().await?;
    let (pending, confirmed, failed) = sitga_persistence::chain::status_counts(&mut conn).await?;
    let now = Utc::now();
    let (midnight, _) = state.calendar.day_range(now);
    let confirmed_today =
        sitga_persistence::chain::confirmed_since(&mut conn, midnight, None).await?;
    let deferred = sitga_persistence::chain::deferred_count(&mut conn, now).await?;
    let caps = state.chain.as_ref().map(|c| c.daily_caps());
    let alerts = chain_alerts(caps, confirmed_today, deferred, failed);
    let Some(chain) = &state.chain else {
        return Ok(web::Json(ChainMonitorDto {
            enabled: false,
            contract: None,
            pending,
            confirmed,
            failed,
            daily_tx_cap: None,
            donor_daily_cap: None,
            confirmed_today,
            deferred,
            alerts,
            samples: Vec::new(),
        }));
    };
    let contract = chain.contract();
    let samples = sitga_persistence::chain::samples(&mut conn, &contract, i64::from(limit)).await?;
    Ok(web::Json(ChainMonitorDto {
        enabled: true,
        contract: Some(contract),
        pending,
        confirmed,
        failed,
        daily_tx_cap: caps.map(|c| c.0),
        donor_daily_cap: caps.map(|c| c.1),
        confirmed_today,
        deferred,
        alerts,
        samples: samples
            .into_iter()
            .map(|s| ChainSampleDto {
                sampled_at: s.sampled_at(),
                latest_block: s.latest_block,
                donation_count: s.donation_count,
                transactions: s.transactions,
            })
            .collect(),
    }))
}

/// How many users hold a badge.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct BadgeCountDto {
    /// Badge code.
    pub code: String,
    /// Holders.
    pub holders: i64,
}

/// Holders per badge (operators)
#[api_v2_operation(tags(Monitor))]
pub async fn badge_counts(
    state: web::Data<AppState>,
    auth: AuthUser,
) -> Result<web::Json<Vec<BadgeCountDto>>, ApiError> {
    auth.require(Role::Operator)?;
    let mut conn = state.db.get().await?;
    let catalogue = badges::catalogue(&mut conn).await?;
    let counts = badges::counts(&mut conn).await?;
    Ok(web::Json(
        catalogue
            .into_iter()
            .map(|b| BadgeCountDto {
                holders: counts
                    .iter()
                    .find(|(c, _)| *c == b.code)
                    .map_or(0, |(_, n)| *n),
                code: b.code,
            })
            .collect(),
    ))
}
