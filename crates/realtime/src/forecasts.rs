//! Forecast retraining: builds the daily supply and demand series from the
//! pickups (nationwide and per province), fits each with the forecasting
//! crate off the async threads, and stores one run per series.
//!
//! Jobs are rows in `forecast_jobs` (so their status can be read from any
//! instance) and messages on an apalis queue (Redis or in memory). A job
//! moves `queued → running` with a guarded update, so a job delivered twice
//! is fitted once. The daily job's id is `daily-YYYY-MM-DD`: however many
//! instances try to queue it, it exists once.

use std::collections::BTreeMap;

use chrono::{Days, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sitga_coffee_grounds::PickupKind;
use sitga_core::{Calendar, UserId};
use sitga_forecasting::{DailySeries, ForecastError, Forecaster, Horizon, Window};
use sitga_persistence::forecasts::{self, NewRun};
use sitga_persistence::{DbError, DbPool};

use crate::queue::{JobQueue, QueueError};

/// Retrain every forecast series for the job row `job_id`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RetrainForecastJob {
    /// The `forecast_jobs` row.
    pub job_id: String,
}

/// Where retrain jobs are queued.
pub type ForecastQueue = JobQueue<RetrainForecastJob>;

/// Runs are kept this long, then pruned.
const KEEP_RUNS_DAYS: i64 = 30;

/// Why a job could not run at all (a series that fails is recorded in the
/// job, not raised).
#[derive(Debug, thiserror::Error)]
pub enum RetrainError {
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The queue refused the job.
    #[error("could not queue the job: {0}")]
    Queue(#[from] QueueError),
}

/// One series: supply or demand, in a province or nationwide (`None`).
pub type SeriesKey = (PickupKind, Option<String>);

/// The last complete local day: forecasts start today.
fn last_complete_day(calendar: Calendar) -> NaiveDate {
    calendar.date_of(Utc::now()) - Days::new(1)
}

/// Builds every series with data in the `window` days before today: for
/// each kind, the nationwide total and each province that has pickups.
pub async fn load_series(
    db: &DbPool,
    window: Window,
    calendar: Calendar,
) -> Result<BTreeMap<SeriesKey, DailySeries>, DbError> {
    let last = last_complete_day(calendar);
    let first = last - Days::new(u64::from(window.days()) - 1);
    let (from, to) = calendar.days_range(first, last);
    let amounts = {
        let mut conn = db.get().await?;
        sitga_persistence::pickups::posted_amounts(&mut conn, from, to).await?
    };
    let mut grouped: BTreeMap<SeriesKey, Vec<(NaiveDate, f64)>> = BTreeMap::new();
    for (at, kind, province, grams) in amounts {
        let point = (calendar.date_of(at), grams.kg());
        grouped.entry((kind, None)).or_default().push(point);
        if let Some(p) = province {
            grouped.entry((kind, Some(p))).or_default().push(point);
        }
    }
    Ok(grouped
        .into_iter()
        .map(|(key, points)| (key, DailySeries::from_amounts(first, last, points)))
        .collect())
}

/// Days of history one series has now (from its first pickup in the
/// window to yesterday).
pub async fn history_days(
    db: &DbPool,
    kind: PickupKind,
    province: Option<&str>,
    calendar: Calendar,
) -> Result<usize, DbError> {
    let first = {
        let mut conn = db.get().await?;
        sitga_persistence::pickups::first_posted(&mut conn, kind, province).await?
    };
    let last = last_complete_day(calendar);
    Ok(match first.map(|at| calendar.date_of(at)) {
        Some(day) if day <= last => usize::try_from((last - day).num_days() + 1).unwrap_or(0),
        _ => 0,
    })
}

/// What a job did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct JobOutcome {
    /// Series fitted and stored.
    pub fitted: u32,
    /// Series with too little history.
    pub skipped: u32,
    /// Series the model failed on.
    pub failed: u32,
}

/// Runs job `job_id` if it is still queued (a duplicate delivery finds it
/// taken and does nothing).
pub async fn run_job(
    db: &DbPool,
    job_id: &str,
    calendar: Calendar,
) -> Result<Option<JobOutcome>, RetrainError> {
    let job = {
        let mut conn = db.get().await?;
        if !forecasts::start_job(&mut conn, job_id).await? {
            return Ok(None);
        }
        forecasts::find_job(&mut conn, job_id)
            .await?
            .ok_or(DbError::NotFound)?
    };
    let window = u32::try_from(job.window_days)
        .ok()
        .and_then(|d| Window::try_from(d).ok())
        .unwrap_or_default();
    let horizon = u32::try_from(job.horizon_days)
        .ok()
        .and_then(|d| Horizon::try_from(d).ok())
        .unwrap_or_default();
    let result = retrain(db, Some(job_id), window, horizon, calendar).await;
    let mut conn = db.get().await?;
    match result {
        Ok((outcome, errors)) => {
            let error = (!errors.is_empty()).then(|| errors.join("; "));
            forecasts::finish_job(
                &mut conn,
                job_id,
                outcome.fitted,
                outcome.skipped,
                error.as_deref(),
            )
            .await?;
            tracing::info!(
                job_id,
                fitted = outcome.fitted,
                skipped = outcome.skipped,
                failed = outcome.failed,
                "forecast retrain done"
            );
            Ok(Some(outcome))
        }
        Err(e) => {
            forecasts::finish_job(&mut conn, job_id, 0, 0, Some(&e.to_string())).await?;
            tracing::warn!(job_id, error = %e, "forecast retrain failed");
            Err(e.into())
        }
    }
}

/// Fits and stores every series; returns the tally and the model errors.
pub async fn retrain(
    db: &DbPool,
    job_id: Option<&str>,
    window: Window,
    horizon: Horizon,
    calendar: Calendar,
) -> Result<(JobOutcome, Vec<String>), DbError> {
    let series = load_series(db, window, calendar).await?;
    let parameters = serde_json::to_string(&Forecaster::parameters())
        .map_err(|e| DbError::Invariant(e.to_string()))?;
    let mut outcome = JobOutcome::default();
    let mut errors = Vec::new();
    for ((kind, province), daily) in series {
        let label = format!(
            "{} {}",
            kind.code(),
            province.as_deref().unwrap_or("nationwide")
        );
        let fitted =
            tokio::task::spawn_blocking(move || Forecaster::shared().forecast(&daily, horizon))
                .await
                .map_err(|e| ForecastError::Model(format!("the fitting task failed: {e}")));
        let forecast = match fitted.and_then(|r| r) {
            Ok(f) => f,
            Err(ForecastError::NotEnoughHistory { .. }) => {
                outcome.skipped += 1;
                continue;
            }
            Err(e) => {
                tracing::warn!(series = %label, error = %e, "a forecast series failed");
                outcome.failed += 1;
                errors.push(format!("{label}: {e}"));
                continue;
            }
        };
        let points: Vec<forecasts::StoredPoint> = forecast
            .points
            .iter()
            .map(|p| (p.date, p.yhat, p.lower, p.upper))
            .collect();
        let mut tx = db.begin().await?;
        forecasts::insert_run(
            &mut tx,
            &NewRun {
                job_id,
                kind,
                province: province.as_deref(),
                model: &forecast.model,
                window_start: forecast.window_start,
                window_end: forecast.window_end,
                horizon_days: forecast.horizon.days(),
                backtest: forecast.backtest.map(|b| forecasts::RunBacktest {
                    days: b.days,
                    mae_kg: b.mae_kg,
                    wape: b.wape,
                }),
                points: &points,
                window_days: window.days(),
                parameters: &parameters,
            },
        )
        .await?;
        tx.commit().await?;
        outcome.fitted += 1;
    }
    let mut conn = db.get().await?;
    let pruned = forecasts::prune(&mut conn, chrono::Duration::days(KEEP_RUNS_DAYS)).await?;
    if pruned > 0 {
        tracing::info!(pruned, "pruned old forecast runs");
    }
    Ok((outcome, errors))
}

/// Queues a job row and its message. Returns `false` when the id exists
/// already.
pub async fn enqueue(
    db: &DbPool,
    queue: &ForecastQueue,
    job_id: &str,
    trigger: &str,
    requested_by: Option<UserId>,
    window: Window,
    horizon: Horizon,
) -> Result<bool, RetrainError> {
    let inserted = {
        let mut conn = db.get().await?;
        forecasts::insert_job(
            &mut conn,
            job_id,
            trigger,
            requested_by,
            window.days(),
            horizon.days(),
        )
        .await?
    };
    if !inserted {
        return Ok(false);
    }
    let job = RetrainForecastJob {
        job_id: job_id.to_owned(),
    };
    if let Err(e) = queue.push(job, None).await {
        let mut conn = db.get().await?;
        forecasts::finish_job(&mut conn, job_id, 0, 0, Some(&format!("not queued: {e}"))).await?;
        return Err(RetrainError::Queue(e));
    }
    Ok(true)
}

/// Queues today's scheduled retrain unless it exists already.
pub async fn ensure_daily(
    db: &DbPool,
    queue: &ForecastQueue,
    calendar: Calendar,
) -> Result<bool, RetrainError> {
    let id = format!("daily-{}", calendar.date_of(Utc::now()));
    let queued = enqueue(
        db,
        queue,
        &id,
        "daily",
        None,
        Window::default(),
        Horizon::default(),
    )
    .await?;
    if queued {
        tracing::info!(job_id = %id, "queued the daily forecast retrain");
    }
    Ok(queued)
}
