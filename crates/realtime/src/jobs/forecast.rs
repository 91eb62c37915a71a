//! Forecast retraining: queued by an operator or by the daily schedule,
//! run by one worker per instance (the queue hands each job to one).

use apalis::prelude::{BoxDynError, Data};
use apalis_cron::Tick;
use sitga_core::Calendar;
use sitga_persistence::DbPool;
use tracing::Instrument;

use crate::forecasts::{ForecastQueue, RetrainForecastJob};

pub(super) async fn retrain_job(
    job: RetrainForecastJob,
    db: Data<DbPool>,
    calendar: Data<Calendar>,
) -> Result<(), BoxDynError> {
    let span = tracing::info_span!("forecast_retrain", job_id = %job.job_id);
    crate::forecasts::run_job(&db, &job.job_id, *calendar)
        .instrument(span)
        .await?;
    Ok(())
}

pub(super) async fn daily_forecast_tick(
    _tick: Tick,
    db: Data<DbPool>,
    queue: Data<ForecastQueue>,
    calendar: Data<Calendar>,
) -> Result<(), BoxDynError> {
    crate::forecasts::ensure_daily(&db, &queue, *calendar)
        .instrument(tracing::info_span!("daily_forecast"))
        .await?;
    Ok(())
}
