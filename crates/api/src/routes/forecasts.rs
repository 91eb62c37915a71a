//! The 7-day supply and demand forecasts: the latest stored run of a series,
//! retraining on demand (operators) and the retrain jobs' status.

use chrono::{DateTime, NaiveDate, Utc};
use paperclip::actix::{AcceptedJson, Apiv2Schema, api_v2_operation, web};
use serde::{Deserialize, Serialize};
use sitga_coffee_grounds::PickupKind;
use sitga_forecasting::{Horizon, MIN_HISTORY_DAYS, Parameters, Window};
use sitga_persistence::forecasts::{self, ForecastJob};
use sitga_user::{Province, Role};

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::error::ErrorCode;
use crate::extract::{JsonBody, QueryParams};
use crate::state::AppState;
use sitga_realtime::forecasts::{RetrainError, enqueue, history_days};

/// Which series.
#[derive(Debug, Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct LatestQuery {
    /// `supply` (cafes' offers) or `demand` (recyclers' requests).
    pub kind: String,
    /// Province code or name; absent for the whole country.
    pub province: Option<String>,
}

/// One forecast day (kg).
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct ForecastPointDto {
    /// Day (UTC).
    pub date: NaiveDate,
    /// Point forecast.
    pub yhat: f64,
    /// Lower bound of the 80 % interval.
    pub lower: f64,
    /// Upper bound of the 80 % interval.
    pub upper: f64,
}

/// How the model did on the last days of history when trained without
/// them.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct BacktestDto {
    /// Days held out.
    pub days: i32,
    /// Mean absolute error, kg per day.
    pub mae_kg: f64,
    /// Total absolute error / total actual (absent when nothing happened).
    pub wape: Option<f64>,
}

/// The model options of a run.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct ParametersDto {
    /// Trend shape.
    pub growth: String,
    /// Weekly seasonality.
    pub weekly_seasonality: bool,
    /// Yearly seasonality.
    pub yearly_seasonality: bool,
    /// Daily seasonality.
    pub daily_seasonality: bool,
    /// Potential trend changepoints.
    pub n_changepoints: u32,
    /// Trend flexibility.
    pub changepoint_prior_scale: f64,
    /// Seasonality strength.
    pub seasonality_prior_scale: f64,
    /// Width of the interval.
    pub interval_width: f64,
    /// Simulations for the interval.
    pub uncertainty_samples: u32,
    /// Estimation.
    pub estimation: String,
}

/// A stored forecast run.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct ForecastRunDto {
    /// Run id.
    pub id: i64,
    /// `supply` or `demand`.
    pub kind: String,
    /// Province code; absent for the whole country.
    pub province: Option<String>,
    /// Model (`prophet`).
    pub model: String,
    /// When it was fitted.
    pub trained_at: DateTime<Utc>,
    /// First day of history used.
    pub window_start: NaiveDate,
    /// Last day of history used.
    pub window_end: NaiveDate,
    /// Days of history asked for.
    pub window_days: i32,
    /// Days forecast.
    pub horizon_days: i32,
    /// Model options.
    pub parameters: ParametersDto,
    /// Held-out accuracy (absent when history was too short to spare days).
    pub backtest: Option<BacktestDto>,
    /// One point per day after `window_end`.
    pub points: Vec<ForecastPointDto>,
}

fn parse_kind(raw: &str) -> Result<PickupKind, ApiError> {
    PickupKind::parse(raw).ok_or_else(|| ApiError::BadRequest {
        code: ErrorCode::InvalidQuery,
        message: "kind must be supply or demand".into(),
        field: Some("kind".into()),
    })
}

fn parameters_dto(stored: &str) -> Result<ParametersDto, ApiError> {
    let p: Parameters = serde_json::from_str(stored)
        .map_err(|e| ApiError::internal(format!("stored forecast parameters: {e}")))?;
    Ok(ParametersDto {
        growth: p.growth,
        weekly_seasonality: p.weekly_seasonality,
        yearly_seasonality: p.yearly_seasonality,
        daily_seasonality: p.daily_seasonality,
        n_changepoints: p.n_changepoints,
        changepoint_prior_scale: p.changepoint_prior_scale,
        seasonality_prior_scale: p.seasonality_prior_scale,
        interval_width: p.interval_width,
        uncertainty_samples: p.uncertainty_samples,
        estimation: p.estimation,
    })
}

fn not_enough_history(days: usize) -> ApiError {
    ApiError::Unprocessable {
        code: ErrorCode::NotEnoughHistory,
        message: format!(
            "this series has {days} day(s) of history; a forecast needs at least {MIN_HISTORY_DAYS}"
        ),
    }
}

/// The latest forecast of a series
///
/// 422 `not_enough_history` when the series has fewer than 14 days of
/// history; 404 `no_forecast` when it has enough but no run exists yet.
#[api_v2_operation(tags(Forecasts))]
pub async fn latest(
    state: web::Data<AppState>,
    _auth: AuthUser,
    query: QueryParams<LatestQuery>,
) -> Result<web::Json<ForecastRunDto>, ApiError> {
    let kind = parse_kind(&query.0.kind)?;
    let province = query
        .0
        .province
        .as_deref()
        .map(Province::parse)
        .transpose()?;
    let code = province.map(Province::code);
    let found = {
        let mut conn = state.db.get().await?;
        forecasts::latest(&mut conn, kind, code).await?
    };
    let Some((run, points)) = found else {
        let days = history_days(&state.db, kind, code, state.calendar).await?;
        if days < MIN_HISTORY_DAYS {
            return Err(not_enough_history(days));
        }
        return Err(ApiError::Missing {
            code: ErrorCode::NoForecast,
            message: "no forecast has been made for this series yet; the daily retrain (or an operator's POST /api/v1/forecasts/retrain) makes one",
        });
    };
    Ok(web::Json(ForecastRunDto {
        kind: run.kind().code().to_owned(),
        trained_at: run.trained_at(),
        parameters: parameters_dto(&run.parameters)?,
        backtest: match (run.backtest_days, run.backtest_mae_kg) {
            (Some(days), Some(mae_kg)) => Some(BacktestDto {
                days,
                mae_kg,
                wape: run.backtest_wape,
            }),
            _ => None,
        },
        points: points
            .into_iter()
            .map(|(date, yhat, lower, upper)| ForecastPointDto {
                date,
                yhat,
                lower,
                upper,
            })
            .collect(),
        id: run.id,
        province: run.province,
        model: run.model,
        window_start: run.window_start,
        window_end: run.window_end,
        window_days: run.window_days,
        horizon_days: run.horizon_days,
    }))
}

/// Retrain options.
#[derive(Debug, Default, Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct RetrainRequest {
    /// Days of history per series, 14 … 730 (default 90).
    pub window_days: Option<u32>,
    /// Days to forecast, 1 … 28 (default 7).
    pub horizon_days: Option<u32>,
}

/// A retrain job.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct ForecastJobDto {
    /// Job id.
    pub id: String,
    /// `manual` or `daily`.
    pub trigger: String,
    /// `queued`, `running`, `done` or `failed`.
    pub status: String,
    /// Days of history per series.
    pub window_days: i32,
    /// Days forecast.
    pub horizon_days: i32,
    /// Series fitted and stored.
    pub series_fitted: i32,
    /// Series skipped for too little history.
    pub series_skipped: i32,
    /// What went wrong (series that failed, or the whole job).
    pub error: Option<String>,
    /// Queued.
    pub created_at: DateTime<Utc>,
    /// Started.
    pub started_at: Option<DateTime<Utc>>,
    /// Finished.
    pub finished_at: Option<DateTime<Utc>>,
}

fn job_dto(job: ForecastJob) -> ForecastJobDto {
    ForecastJobDto {
        status: job.status().code().to_owned(),
        created_at: job.created_at(),
        started_at: job.started_at(),
        finished_at: job.finished_at(),
        id: job.id,
        trigger: job.trigger_kind,
        window_days: job.window_days,
        horizon_days: job.horizon_days,
        series_fitted: job.series_fitted,
        series_skipped: job.series_skipped,
        error: job.error,
    }
}

/// Retrain every forecast now (operator)
///
/// Body `{}` for the defaults. Queues a job and answers 202 with it; poll `GET /forecasts/jobs/{id}`.
/// 422 `not_enough_history` when neither nationwide series has 14 days.
#[api_v2_operation(tags(Forecasts))]
pub async fn retrain(
    state: web::Data<AppState>,
    auth: AuthUser,
    body: JsonBody<RetrainRequest>,
) -> Result<AcceptedJson<ForecastJobDto>, ApiError> {
    auth.require(Role::Operator)?;
    let req = body.0;
    let window = match req.window_days {
        Some(d) => Window::try_from(d).map_err(|e| ApiError::invalid_field("window_days", e))?,
        None => Window::default(),
    };
    let horizon = match req.horizon_days {
        Some(d) => Horizon::try_from(d).map_err(|e| ApiError::invalid_field("horizon_days", e))?,
        None => Horizon::default(),
    };
    let supply = history_days(&state.db, PickupKind::Supply, None, state.calendar).await?;
    let demand = history_days(&state.db, PickupKind::Demand, None, state.calendar).await?;
    if supply.max(demand) < MIN_HISTORY_DAYS {
        return Err(not_enough_history(supply.max(demand)));
    }
    let id = uuid::Uuid::new_v4().to_string();
    enqueue(
        &state.db,
        &state.forecast_queue,
        &id,
        "manual",
        Some(auth.id),
        window,
        horizon,
    )
    .await
    .map_err(|e| match e {
        RetrainError::Db(e) => ApiError::from(e),
        RetrainError::Queue(cause) => ApiError::ServiceUnavailable {
            code: ErrorCode::QueueUnavailable,
            message: format!("the job queue is unavailable: {cause}"),
        },
    })?;
    tracing::info!(user_id = auth.id.get(), job_id = %id, "forecast retrain queued");
    let mut conn = state.db.get().await?;
    let job = forecasts::find_job(&mut conn, &id)
        .await?
        .ok_or(ApiError::NotFound("forecast job"))?;
    Ok(AcceptedJson(job_dto(job)))
}

/// Job id.
#[derive(Debug, Deserialize, Apiv2Schema)]
pub struct JobPath {
    /// Job id.
    pub id: String,
}

/// A retrain job's status (operators)
#[api_v2_operation(tags(Forecasts))]
pub async fn job(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<JobPath>,
) -> Result<web::Json<ForecastJobDto>, ApiError> {
    auth.require(Role::Operator)?;
    let mut conn = state.db.get().await?;
    let job = forecasts::find_job(&mut conn, &path.id)
        .await?
        .ok_or(ApiError::NotFound("forecast job"))?;
    Ok(web::Json(job_dto(job)))
}
