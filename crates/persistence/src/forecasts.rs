//! Forecast retraining jobs, stored runs and their daily points.

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use sitga_coffee_grounds::PickupKind;
use sitga_core::UserId;

use crate::schema::{forecast_jobs, forecast_points, forecast_runs};
use crate::time::{naive, now, utc};
use crate::{DbConn, DbError, with_conn};

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobStatus {
    /// Waiting for a worker.
    Queued,
    /// A worker is fitting.
    Running,
    /// Finished.
    Done,
    /// Finished with an error.
    Failed,
}

impl JobStatus {
    /// Stored code.
    pub fn code(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Done => "done",
            Self::Failed => "failed",
        }
    }

    fn parse(code: &str) -> Self {
        match code {
            "queued" => Self::Queued,
            "running" => Self::Running,
            "done" => Self::Done,
            _ => Self::Failed,
        }
    }
}

/// A retraining job.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = forecast_jobs)]
pub struct ForecastJob {
    /// Id (a UUID, or `daily-YYYY-MM-DD` for the scheduled one).
    pub id: String,
    /// `manual` or `daily`.
    pub trigger_kind: String,
    status: String,
    /// The admin who asked.
    pub requested_by: Option<UserId>,
    /// Days of history per series.
    pub window_days: i32,
    /// Days ahead.
    pub horizon_days: i32,
    /// Series forecast.
    pub series_fitted: i32,
    /// Series skipped for too little history.
    pub series_skipped: i32,
    /// Why it failed.
    pub error: Option<String>,
    created_at: NaiveDateTime,
    started_at: Option<NaiveDateTime>,
    finished_at: Option<NaiveDateTime>,
}

impl ForecastJob {
    /// Status.
    pub fn status(&self) -> JobStatus {
        JobStatus::parse(&self.status)
    }

    /// Queued at.
    pub fn created_at(&self) -> DateTime<Utc> {
        utc(self.created_at)
    }

    /// Started at.
    pub fn started_at(&self) -> Option<DateTime<Utc>> {
        self.started_at.map(utc)
    }

    /// Finished at.
    pub fn finished_at(&self) -> Option<DateTime<Utc>> {
        self.finished_at.map(utc)
    }
}

/// Queues a job; `false` when a job with this id exists already (the
/// scheduled daily job is queued once however many instances try).
pub async fn insert_job(
    conn: &mut DbConn,
    id: &str,
    trigger_kind: &str,
    requested_by: Option<UserId>,
    window_days: u32,
    horizon_days: u32,
) -> Result<bool, DbError> {
    let insert = diesel::insert_or_ignore_into(forecast_jobs::table).values((
        forecast_jobs::id.eq(id),
        forecast_jobs::trigger_kind.eq(trigger_kind),
        forecast_jobs::status.eq(JobStatus::Queued.code()),
        forecast_jobs::requested_by.eq(requested_by),
        forecast_jobs::window_days.eq(i32::try_from(window_days).unwrap_or(i32::MAX)),
        forecast_jobs::horizon_days.eq(i32::try_from(horizon_days).unwrap_or(i32::MAX)),
        forecast_jobs::created_at.eq(now()),
    ));
    Ok(with_conn!(conn, |c| insert.execute(c).await)? == 1)
}

/// Looks a job up.
pub async fn find_job(conn: &mut DbConn, id: &str) -> Result<Option<ForecastJob>, DbError> {
    Ok(with_conn!(conn, |c| forecast_jobs::table
        .find(id)
        .select(ForecastJob::as_select())
        .first(c)
        .await
        .optional())?)
}

/// Moves a queued job to running; `false` if another worker took it first
/// or it is not queued.
pub async fn start_job(conn: &mut DbConn, id: &str) -> Result<bool, DbError> {
    let update = diesel::update(
        forecast_jobs::table
            .filter(forecast_jobs::id.eq(id))
            .filter(forecast_jobs::status.eq(JobStatus::Queued.code())),
    )
    .set((
        forecast_jobs::status.eq(JobStatus::Running.code()),
        forecast_jobs::started_at.eq(now()),
    ));
    Ok(with_conn!(conn, |c| update.execute(c).await)? == 1)
}

/// Records how a running job ended.
pub async fn finish_job(
    conn: &mut DbConn,
    id: &str,
    fitted: u32,
    skipped: u32,
    error: Option<&str>,
) -> Result<(), DbError> {
    let status = if error.is_some() {
        JobStatus::Failed
    } else {
        JobStatus::Done
    };
    // The column holds 1,000 characters.
    let error: Option<String> = error.map(|e| e.chars().take(1_000).collect());
    let update = diesel::update(forecast_jobs::table.filter(forecast_jobs::id.eq(id))).set((
        forecast_jobs::status.eq(status.code()),
        forecast_jobs::series_fitted.eq(i32::try_from(fitted).unwrap_or(i32::MAX)),
        forecast_jobs::series_skipped.eq(i32::try_from(skipped).unwrap_or(i32::MAX)),
        forecast_jobs::error.eq(error),
        forecast_jobs::finished_at.eq(now()),
    ));
    with_conn!(conn, |c| update.execute(c).await)?;
    Ok(())
}

/// A run to store.
#[derive(Debug, Clone)]
pub struct NewRun<'a> {
    /// The job that made it.
    pub job_id: Option<&'a str>,
    /// Supply or demand.
    pub kind: PickupKind,
    /// Province code; `None` for the whole country.
    pub province: Option<&'a str>,
    /// Model name.
    pub model: &'a str,
    /// First day trained on.
    pub window_start: NaiveDate,
    /// Last day trained on.
    pub window_end: NaiveDate,
    /// Days ahead.
    pub horizon_days: u32,
    /// Held-out accuracy, when the series was long enough for a backtest.
    pub backtest: Option<RunBacktest>,
    /// One point per day after `window_end`: day, yhat, lower, upper (kg).
    pub points: &'a [StoredPoint],
    /// Days of history asked for.
    pub window_days: u32,
    /// The model's options, as JSON.
    pub parameters: &'a str,
}

/// How a run did on held-out days (stored beside it).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunBacktest {
    /// Days held out.
    pub days: u32,
    /// Mean absolute error, kg per day.
    pub mae_kg: f64,
    /// Weighted absolute percentage error; `None` when nothing happened.
    pub wape: Option<f64>,
}

/// A stored run.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = forecast_runs)]
pub struct ForecastRun {
    /// Id.
    pub id: i64,
    /// The job that made it.
    pub job_id: Option<String>,
    kind: String,
    /// Province code; `None` for the whole country.
    pub province: Option<String>,
    /// Model name.
    pub model: String,
    trained_at: NaiveDateTime,
    /// First day trained on.
    pub window_start: NaiveDate,
    /// Last day trained on.
    pub window_end: NaiveDate,
    /// Days of history asked for.
    pub window_days: i32,
    /// Days ahead.
    pub horizon_days: i32,
    /// Model options (JSON).
    pub parameters: String,
    /// Backtest days.
    pub backtest_days: Option<i32>,
    /// Backtest mean absolute error, kg/day.
    pub backtest_mae_kg: Option<f64>,
    /// Backtest WAPE.
    pub backtest_wape: Option<f64>,
}

impl ForecastRun {
    /// Supply or demand.
    pub fn kind(&self) -> PickupKind {
        PickupKind::parse(&self.kind).unwrap_or(PickupKind::Supply)
    }

    /// When it was fitted.
    pub fn trained_at(&self) -> DateTime<Utc> {
        utc(self.trained_at)
    }
}

/// A stored point: day, yhat, lower, upper (kg).
pub type StoredPoint = (NaiveDate, f64, f64, f64);

/// Stores a run and its points; call inside a transaction so readers never
/// see a run without its points.
pub async fn insert_run(conn: &mut DbConn, run: &NewRun<'_>) -> Result<i64, DbError> {
    let insert = diesel::insert_into(forecast_runs::table).values((
        forecast_runs::job_id.eq(run.job_id),
        forecast_runs::kind.eq(run.kind.code()),
        forecast_runs::province.eq(run.province),
        forecast_runs::model.eq(run.model),
        forecast_runs::trained_at.eq(now()),
        forecast_runs::window_start.eq(run.window_start),
        forecast_runs::window_end.eq(run.window_end),
        forecast_runs::window_days.eq(i32::try_from(run.window_days).unwrap_or(i32::MAX)),
        forecast_runs::horizon_days.eq(i32::try_from(run.horizon_days).unwrap_or(i32::MAX)),
        forecast_runs::parameters.eq(run.parameters),
        forecast_runs::backtest_days.eq(run.backtest.map(|b| i32::try_from(b.days).unwrap_or(0))),
        forecast_runs::backtest_mae_kg.eq(run.backtest.map(|b| b.mae_kg)),
        forecast_runs::backtest_wape.eq(run.backtest.and_then(|b| b.wape)),
    ));
    with_conn!(conn, |c| insert.execute(c).await)?;
    let run_id = crate::auctions::last_insert_id(conn).await?;
    // One statement per point: SQLite has no multi-row insert in diesel,
    // and a run has at most 28 points.
    for &(day, yhat, lower, upper) in run.points {
        let insert = diesel::insert_into(forecast_points::table).values((
            forecast_points::run_id.eq(run_id),
            forecast_points::day.eq(day),
            forecast_points::yhat_kg.eq(yhat),
            forecast_points::lower_kg.eq(lower),
            forecast_points::upper_kg.eq(upper),
        ));
        with_conn!(conn, |c| insert.execute(c).await)?;
    }
    Ok(run_id)
}

/// The newest run of a series, with its points in date order.
pub async fn latest(
    conn: &mut DbConn,
    kind: PickupKind,
    province: Option<&str>,
) -> Result<Option<(ForecastRun, Vec<StoredPoint>)>, DbError> {
    let base = forecast_runs::table
        .filter(forecast_runs::kind.eq(kind.code()))
        .order(forecast_runs::id.desc());
    // `as_select()` is bound to one backend: it is written inside each arm.
    let run: Option<ForecastRun> = match province {
        Some(p) => {
            let query = base.filter(forecast_runs::province.eq(p));
            with_conn!(conn, |c| query
                .select(ForecastRun::as_select())
                .first(c)
                .await
                .optional())?
        }
        None => {
            let query = base.filter(forecast_runs::province.is_null());
            with_conn!(conn, |c| query
                .select(ForecastRun::as_select())
                .first(c)
                .await
                .optional())?
        }
    };
    let Some(run) = run else {
        return Ok(None);
    };
    let points: Vec<StoredPoint> = with_conn!(conn, |c| forecast_points::table
        .filter(forecast_points::run_id.eq(run.id))
        .order(forecast_points::day.asc())
        .select((
            forecast_points::day,
            forecast_points::yhat_kg,
            forecast_points::lower_kg,
            forecast_points::upper_kg
        ))
        .load(c)
        .await)?;
    Ok(Some((run, points)))
}

/// Deletes runs (and their points) trained more than `keep` ago; returns
/// how many runs went.
pub async fn prune(conn: &mut DbConn, keep: Duration) -> Result<usize, DbError> {
    let cutoff = naive(Utc::now() - keep);
    let old = forecast_runs::table
        .filter(forecast_runs::trained_at.lt(cutoff))
        .select(forecast_runs::id);
    let points = diesel::delete(forecast_points::table.filter(forecast_points::run_id.eq_any(old)));
    with_conn!(conn, |c| points.execute(c).await)?;
    let runs = diesel::delete(forecast_runs::table.filter(forecast_runs::trained_at.lt(cutoff)));
    Ok(with_conn!(conn, |c| runs.execute(c).await)?)
}
