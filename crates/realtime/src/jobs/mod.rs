//! Background jobs on apalis, one module each: closing auctions
//! ([`close`]: a job per auction at its end, and the every-second sweeper),
//! the daily badge safety net (`badges`), the daily purge of expired
//! refresh tokens, idempotency keys and old sales' addresses and the hourly
//! sweep of orphan photos ([`purge`]), the sales' deadlines every minute
//! (`sales`: reminders and auto-confirmation), forecast retraining
//! (`forecast`: queued by an operator or by the daily schedule), and the
//! chain outbox and monitor (`chain`).
//!
//! Each job gets the handles it needs (the pool, the closer, a queue, the
//! chain) as apalis `Data`. Queues are Redis-backed when `REDIS_URL` is set
//! and in memory in embedded mode (see [`crate::queue`]); after a restart the
//! sweeper closes whatever came due meanwhile.

mod badges;
mod chain;
pub mod close;
mod forecast;
pub mod purge;
mod sales;

use std::str::FromStr;
use std::time::Duration;

use apalis::prelude::{Monitor, WorkerBuilder};
use apalis_cron::CronScheduler;
use sitga_persistence::DbPool;

use crate::closing::Closer;
use crate::forecasts::{ForecastQueue, RetrainForecastJob};
use crate::queue::{JobBackend, QueueError, job_queue, take_once};

pub use close::{CloseAuctionJob, CloseQueue};

/// The queues of one instance and the backends their workers read.
pub struct Queues {
    /// Auction closes.
    pub close: (CloseQueue, JobBackend<CloseAuctionJob>),
    /// Forecast retraining.
    pub forecast: (ForecastQueue, JobBackend<RetrainForecastJob>),
}

impl Queues {
    /// Creates every queue on Redis (`(url, key prefix)`) or in memory.
    pub async fn new(redis: Option<(&str, &str)>) -> Result<Self, QueueError> {
        Ok(Self {
            close: job_queue(redis, "close-auction").await?,
            forecast: job_queue(redis, "retrain-forecast").await?,
        })
    }
}

/// A worker whose backend failed (Redis went away: its heartbeat or poll
/// errors) is started again after a pause that grows to 5 s, for as long as
/// it takes: without this a short Redis outage would stop the close and
/// retrain workers for good.
fn restart_after_failure(
    worker: &apalis::prelude::WorkerContext,
    error: &apalis::prelude::WorkerError,
) -> bool {
    let restarts = worker.restarts();
    let wait = restart_delay(restarts);
    tracing::warn!(worker = worker.name(), restarts, wait_ms = wait.as_millis() as u64, %error, "job worker failed; restarting it");
    // The callback is synchronous; on the server's multi-threaded runtime
    // the pause hands this thread's other tasks over first.
    if tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread)
    {
        tokio::task::block_in_place(|| std::thread::sleep(wait));
    }
    true
}

/// `auction-closer-1a2b3c4d-0`: the job, this process, the run.
fn worker_name(job: &str, instance: &str, run: usize) -> String {
    format!("{job}-{instance}-{run}")
}

/// 100 ms, doubling per restart, at most 5 s.
fn restart_delay(restarts: usize) -> Duration {
    let factor = 1u64 << restarts.min(6);
    Duration::from_millis(100 * factor).min(Duration::from_secs(5))
}

fn schedule(expr: &str) -> Result<cron::Schedule, QueueError> {
    cron::Schedule::from_str(expr).map_err(|e| QueueError::Schedule {
        expr: expr.to_owned(),
        reason: e.to_string(),
    })
}

/// When the background jobs run (cron expressions with a seconds field).
#[derive(Debug, Clone)]
pub struct Schedules {
    /// The closing sweeper (`* * * * * *`: every second).
    pub sweep: String,
    /// The daily forecast retrain.
    pub forecast: String,
    /// The chain outbox worker and the chain monitor, when the chain is on.
    pub chain: Option<(String, String)>,
}

/// The handles the jobs use.
#[derive(Clone)]
pub struct JobHandles {
    /// The database.
    pub db: DbPool,
    /// Closes auctions (and announces it to their rooms).
    pub closer: Closer,
    /// On-chain donation records, when configured.
    pub chain: Option<crate::chain::Chain>,
    /// The platform's days and months.
    pub calendar: sitga_core::Calendar,
    /// Photo uploads (for the sweep of photos nobody attached).
    pub photos: crate::photos::Photos,
    /// Sales (their deadlines).
    pub sales: crate::sales::Sales,
}

/// Runs the workers (auction closes, forecast retrains) and the scheduled
/// jobs until `shutdown` resolves.
pub async fn run(
    handles: JobHandles,
    queues: Queues,
    schedules: &Schedules,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), QueueError> {
    let JobHandles {
        db,
        closer,
        chain,
        calendar,
        photos,
        sales,
    } = handles;
    let sweep_schedule = schedule(&schedules.sweep)?;
    let badge_schedule = schedule(badges::BADGE_CRON)?;
    let purge_schedule = schedule(purge::PURGE_CRON)?;
    let photo_sweep_schedule = schedule(purge::PHOTO_SWEEP_CRON)?;
    let sale_schedule = schedule(sales::SALE_DEADLINES_CRON)?;
    let forecast_schedule = schedule(&schedules.forecast)?;
    let (close_queue, close_backend) = queues.close;
    let (forecast_queue, forecast_backend) = queues.forecast;
    let c = closer.clone();
    let mut monitor = Monitor::new()
        .shutdown_timeout(Duration::from_secs(10))
        .should_restart(restart_after_failure)
        .register(move |_| {
            WorkerBuilder::new("auction-sweeper")
                .backend(CronScheduler::new(sweep_schedule.clone()))
                .data(c.clone())
                .build(close::sweep_tick)
        });
    let (d, ch) = (db.clone(), chain.clone());
    monitor = monitor.register(move |_| {
        WorkerBuilder::new("badge-safety-net")
            .backend(CronScheduler::new(badge_schedule.clone()))
            .data(d.clone())
            .data(ch.clone())
            .data(calendar)
            .build(badges::badge_tick)
    });
    let d = db.clone();
    monitor = monitor.register(move |_| {
        WorkerBuilder::new("daily-purge")
            .backend(CronScheduler::new(purge_schedule.clone()))
            .data(d.clone())
            .build(purge::purge_tick)
    });
    monitor = monitor.register(move |_| {
        WorkerBuilder::new("photo-sweep")
            .backend(CronScheduler::new(photo_sweep_schedule.clone()))
            .data(photos.clone())
            .build(purge::photo_sweep_tick)
    });
    monitor = monitor.register(move |_| {
        WorkerBuilder::new("sale-deadlines")
            .backend(CronScheduler::new(sale_schedule.clone()))
            .data(sales.clone())
            .build(sales::sale_deadlines_tick)
    });
    let (d, q) = (db.clone(), forecast_queue.clone());
    monitor = monitor.register(move |_| {
        WorkerBuilder::new("daily-forecast")
            .backend(CronScheduler::new(forecast_schedule.clone()))
            .data(d.clone())
            .data(q.clone())
            .data(calendar)
            .build(forecast::daily_forecast_tick)
    });
    // Queue workers register under their name in Redis; every instance
    // and every restart needs its own (a second "auction-closer" is
    // refused while the first is alive).
    let instance = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let (c, d, i) = (closer.clone(), db.clone(), instance.clone());
    monitor = match close_backend {
        JobBackend::Redis(storage) => monitor.register(move |run| {
            WorkerBuilder::new(worker_name("auction-closer", &i, run))
                .backend((*storage).clone())
                .data(c.clone())
                .data(d.clone())
                .data(close_queue.clone())
                .build(close::close_job)
        }),
        JobBackend::Memory(storage, idle) => {
            let take = take_once(storage, idle);
            monitor.register(move |run| {
                WorkerBuilder::new(worker_name("auction-closer", &i, run))
                    .backend(take())
                    .data(c.clone())
                    .data(d.clone())
                    .data(close_queue.clone())
                    .build(close::close_job)
            })
        }
    };
    let d = db.clone();
    monitor = match forecast_backend {
        JobBackend::Redis(storage) => monitor.register(move |run| {
            WorkerBuilder::new(worker_name("forecast-retrainer", &instance, run))
                .backend((*storage).clone())
                .data(d.clone())
                .data(calendar)
                .build(forecast::retrain_job)
        }),
        JobBackend::Memory(storage, idle) => {
            let take = take_once(storage, idle);
            monitor.register(move |run| {
                WorkerBuilder::new(worker_name("forecast-retrainer", &instance, run))
                    .backend(take())
                    .data(d.clone())
                    .data(calendar)
                    .build(forecast::retrain_job)
            })
        }
    };
    if let (Some(chain), Some((relay, monitor_cron))) = (chain, &schedules.chain) {
        let (relay, sample) = (schedule(relay)?, schedule(monitor_cron)?);
        let (d, ch) = (db.clone(), chain.clone());
        monitor = monitor.register(move |_| {
            WorkerBuilder::new("chain-outbox")
                .backend(CronScheduler::new(relay.clone()))
                .data(d.clone())
                .data(ch.clone())
                .build(chain::chain_relay_tick)
        });
        let d = db.clone();
        monitor = monitor.register(move |_| {
            WorkerBuilder::new("chain-monitor")
                .backend(CronScheduler::new(sample.clone()))
                .data(d.clone())
                .data(chain.clone())
                .build(chain::chain_monitor_tick)
        });
    }
    // A day whose scheduled retrain was missed (the server was down at the
    // time, or this is a first start) gets it now.
    if let Err(e) = crate::forecasts::ensure_daily(&db, &forecast_queue, calendar).await {
        tracing::warn!(error = %e, "could not queue today's forecast retrain");
    }
    monitor
        .run_with_signal(async move {
            shutdown.await;
            Ok(())
        })
        .await
        .map_err(|e| QueueError::Workers(e.to_string()))
}

#[cfg(test)]
mod restart_tests {
    use super::restart_delay;
    use std::time::Duration;

    #[test]
    fn restarts_back_off_to_five_seconds() {
        assert_eq!(restart_delay(0), Duration::from_millis(100));
        assert_eq!(restart_delay(1), Duration::from_millis(200));
        assert_eq!(restart_delay(5), Duration::from_millis(3_200));
        assert_eq!(restart_delay(6), Duration::from_secs(5));
        assert_eq!(restart_delay(10_000), Duration::from_secs(5));
    }
}
