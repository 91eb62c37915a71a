//! Background jobs on apalis: a close job scheduled per auction at its end,
//! the every-second sweeper (apalis-cron) as the closing safety net, the
//! daily badge safety net, and forecast retraining (queued by an admin or
//! by the daily schedule).
//!
//! The queue is Redis-backed when `REDIS_URL` is set (jobs survive restarts
//! and any instance may run them) and in memory in embedded mode (a timer
//! per auction feeds the in-process queue; after a restart the sweeper
//! closes whatever came due meanwhile).

use std::str::FromStr;
use std::time::{Duration, SystemTime};

use apalis::prelude::{BoxDynError, Data, Monitor, TaskBuilder, TaskSink, WorkerBuilder};
use apalis_core::backend::memory::{MemorySink, MemoryStorage};
use apalis_core::task::Task;
use apalis_core::task::task_id::TaskId;
use apalis_cron::{CronScheduler, Tick};
use apalis_redis::RedisStorage;
use chrono::{DateTime, Utc};
use futures_channel::mpsc::{UnboundedReceiver, UnboundedSender};
use futures_util::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};

use crate::closing::{CloseResult, Closer};
use crate::forecasts::{ForecastQueue, RetrainForecastJob};

/// Close one auction when it is due.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CloseAuctionJob {
    /// The auction.
    pub auction_id: i64,
}

/// Where jobs of one type are queued.
pub enum JobQueue<T> {
    /// Redis (production).
    Redis(Box<RedisStorage<T>>),
    /// In-process (embedded mode): the channel the worker's storage reads.
    Memory(UnboundedSender<Task<T>>),
}

impl<T> Clone for JobQueue<T> {
    fn clone(&self) -> Self {
        match self {
            Self::Redis(storage) => Self::Redis(storage.clone()),
            Self::Memory(tx) => Self::Memory(tx.clone()),
        }
    }
}

impl<T> std::fmt::Debug for JobQueue<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Redis(_) => "JobQueue::Redis",
            Self::Memory(_) => "JobQueue::Memory",
        })
    }
}

/// Where close jobs are queued.
pub type CloseQueue = JobQueue<CloseAuctionJob>;

impl<T> JobQueue<T>
where
    T: Serialize + for<'de> Deserialize<'de> + Send + Sync + Unpin + 'static,
{
    /// Queues `job` to run at `at` (now when `None`).
    pub async fn push(&self, job: T, at: Option<DateTime<Utc>>) -> Result<(), String> {
        match self {
            Self::Redis(storage) => {
                let mut storage = (**storage).clone();
                let task = match at {
                    Some(at) => TaskBuilder::new(job).run_at_time(SystemTime::from(at)),
                    None => TaskBuilder::new(job),
                };
                storage
                    .push_task(task.build())
                    .await
                    .map_err(|e| e.to_string())
            }
            Self::Memory(tx) => {
                let task = TaskBuilder::new(job)
                    .task_id(TaskId::from_string(
                        uuid::Uuid::new_v4().simple().to_string(),
                    ))
                    .build();
                let delay = at
                    .and_then(|at| (at - Utc::now()).to_std().ok())
                    .unwrap_or_default();
                if delay.is_zero() {
                    return tx.unbounded_send(task).map_err(|e| e.to_string());
                }
                let tx = tx.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    if let Err(e) = tx.unbounded_send(task) {
                        tracing::warn!(error = %e, "could not queue a delayed job");
                    }
                });
                Ok(())
            }
        }
    }
}

impl CloseQueue {
    /// Queues a close of `auction_id` at `at`. Failures are logged, not
    /// returned: the sweeper closes the auction regardless.
    pub async fn schedule(&self, auction_id: i64, at: DateTime<Utc>) {
        if let Err(e) = self.push(CloseAuctionJob { auction_id }, Some(at)).await {
            tracing::warn!(auction_id, error = %e, "could not queue the close job; the sweeper will close it");
        }
    }
}

/// The backend a queue's worker reads.
pub enum JobBackend<T> {
    /// Redis.
    Redis(Box<RedisStorage<T>>),
    /// Memory, with the receiver that keeps the worker's own sender open.
    Memory(MemoryStorage<T>, IdleReceiver<T>),
}

/// Creates a queue named `name` and the backend its worker reads.
pub async fn job_queue<T>(
    redis: Option<(&str, &str)>,
    name: &str,
) -> Result<(JobQueue<T>, JobBackend<T>), String>
where
    T: Serialize + for<'de> Deserialize<'de> + Send + Sync + Unpin + 'static,
{
    match redis {
        Some((url, prefix)) => {
            let conn = apalis_redis::connect(url)
                .await
                .map_err(|e| e.to_string())?;
            // The worker promotes due scheduled jobs when it polls, and it
            // polls on each heartbeat: a 1 s heartbeat runs them within ~1 s.
            let config = apalis_redis::Config::default()
                .queue(format!("{prefix}sitga:{name}"))
                .heartbeat_interval(Duration::from_secs(1));
            let storage = RedisStorage::new(conn).with_config(config);
            Ok((
                JobQueue::Redis(Box::new(storage.clone())),
                JobBackend::Redis(Box::new(storage)),
            ))
        }
        None => {
            // apalis' MemorySink guards its channel with an async mutex that
            // it polls once without keeping the waiter (a worker finding it
            // held by a producer on another thread is never woken again:
            // jobs were left queued under load), and `start_send` panics if
            // two producers meet. So producers send on the channel itself,
            // lock-free, and the worker gets a sender of its own that
            // nothing else touches.
            let (tx, rx) = futures_channel::mpsc::unbounded();
            let (idle_tx, idle_rx) = futures_channel::mpsc::unbounded();
            let storage = MemoryStorage::new_with(memory_sink(idle_tx), rx.boxed());
            Ok((
                JobQueue::Memory(tx),
                JobBackend::Memory(storage, IdleReceiver(idle_rx)),
            ))
        }
    }
}

fn memory_sink<T: Send + 'static>(tx: UnboundedSender<Task<T>>) -> MemorySink<T> {
    MemorySink::new(std::sync::Arc::new(futures_util::lock::Mutex::new(
        Box::new(tx.sink_map_err(apalis_core::backend::memory::MemoryStorageError::from)),
    )))
}

/// Keeps an in-memory worker's own sender connected (nothing is ever sent
/// on it); dropped with the worker's factory.
pub struct IdleReceiver<T>(#[allow(dead_code)] UnboundedReceiver<Task<T>>);

/// The queues of one instance and the backends their workers read.
pub struct Queues {
    /// Auction closes.
    pub close: (CloseQueue, JobBackend<CloseAuctionJob>),
    /// Forecast retraining.
    pub forecast: (ForecastQueue, JobBackend<RetrainForecastJob>),
}

impl Queues {
    /// Creates every queue on Redis (`(url, key prefix)`) or in memory.
    pub async fn new(redis: Option<(&str, &str)>) -> Result<Self, String> {
        Ok(Self {
            close: job_queue(redis, "close-auction").await?,
            forecast: job_queue(redis, "retrain-forecast").await?,
        })
    }
}

async fn close_job(
    job: CloseAuctionJob,
    closer: Data<Closer>,
    queue: Data<CloseQueue>,
) -> Result<(), BoxDynError> {
    match closer.close(job.auction_id, false).await {
        Ok(CloseResult::NotDue) => {
            // A late bid moved the end: come back then.
            let mut conn = closer.db().get().await?;
            if let Some(auction) =
                sitga_persistence::auctions::find(&mut conn, job.auction_id).await?
            {
                queue.schedule(job.auction_id, auction.ends_at()).await;
            }
            Ok(())
        }
        Ok(_) => Ok(()),
        Err(sitga_persistence::DbError::NotFound) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

async fn badge_tick(_tick: Tick, closer: Data<Closer>) -> Result<(), BoxDynError> {
    let awarded = crate::awards::sweep_all(closer.db()).await?;
    tracing::info!(awarded, "daily badge safety net done");
    Ok(())
}

/// The badge safety net runs daily at 03:00 UTC.
const BADGE_CRON: &str = "0 0 3 * * *";

async fn sweep_tick(_tick: Tick, closer: Data<Closer>) -> Result<(), BoxDynError> {
    closer.sweep().await?;
    Ok(())
}

async fn retrain_job(job: RetrainForecastJob, closer: Data<Closer>) -> Result<(), BoxDynError> {
    crate::forecasts::run_job(closer.db(), &job.job_id).await?;
    Ok(())
}

async fn daily_forecast_tick(
    _tick: Tick,
    closer: Data<Closer>,
    queue: Data<ForecastQueue>,
) -> Result<(), BoxDynError> {
    crate::forecasts::ensure_daily(closer.db(), &queue).await?;
    Ok(())
}

async fn chain_relay_tick(
    _tick: Tick,
    closer: Data<Closer>,
    chain: Data<crate::chain::Chain>,
) -> Result<(), BoxDynError> {
    crate::chain::relay_due(closer.db(), &chain).await?;
    Ok(())
}

async fn chain_monitor_tick(
    _tick: Tick,
    closer: Data<Closer>,
    chain: Data<crate::chain::Chain>,
) -> Result<(), BoxDynError> {
    if let Err(e) = crate::chain::sample(closer.db(), &chain).await {
        // The node may be down; the next minute tries again.
        tracing::warn!(error = %e, "chain monitor sample failed");
    }
    Ok(())
}

/// A worker's backend, taken once: the in-memory queue has one receiver, so
/// a restarted worker gets a fresh, empty one (the sweepers and the daily
/// catch-up cover the gap).
fn once<T: Send + Sync + 'static>(
    storage: MemoryStorage<T>,
    idle: IdleReceiver<T>,
) -> impl Fn() -> MemoryStorage<T> {
    let storage = std::sync::Mutex::new(Some(storage));
    move || {
        let _keep_open = &idle;
        storage
            .lock()
            .ok()
            .and_then(|mut s| s.take())
            .unwrap_or_default()
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

fn schedule(expr: &str) -> Result<cron::Schedule, String> {
    cron::Schedule::from_str(expr).map_err(|e| format!("bad schedule {expr:?}: {e}"))
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

/// Runs the workers (auction closes, forecast retrains) and the scheduled
/// jobs until `shutdown` resolves.
pub async fn run(
    closer: Closer,
    queues: Queues,
    chain: Option<crate::chain::Chain>,
    schedules: &Schedules,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    let sweep_schedule = schedule(&schedules.sweep)?;
    let badge_schedule = schedule(BADGE_CRON)?;
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
                .build(sweep_tick)
        });
    let c = closer.clone();
    monitor = monitor.register(move |_| {
        WorkerBuilder::new("badge-safety-net")
            .backend(CronScheduler::new(badge_schedule.clone()))
            .data(c.clone())
            .build(badge_tick)
    });
    let (c, q) = (closer.clone(), forecast_queue.clone());
    monitor = monitor.register(move |_| {
        WorkerBuilder::new("daily-forecast")
            .backend(CronScheduler::new(forecast_schedule.clone()))
            .data(c.clone())
            .data(q.clone())
            .build(daily_forecast_tick)
    });
    // Queue workers register under their name in Redis; every instance
    // and every restart needs its own (a second "auction-closer" is
    // refused while the first is alive).
    let instance = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let c = closer.clone();
    let i = instance.clone();
    monitor = match close_backend {
        JobBackend::Redis(storage) => monitor.register(move |run| {
            WorkerBuilder::new(worker_name("auction-closer", &instance, run))
                .backend((*storage).clone())
                .data(c.clone())
                .data(close_queue.clone())
                .build(close_job)
        }),
        JobBackend::Memory(storage, idle) => {
            let take = once(storage, idle);
            monitor.register(move |run| {
                WorkerBuilder::new(worker_name("auction-closer", &instance, run))
                    .backend(take())
                    .data(c.clone())
                    .data(close_queue.clone())
                    .build(close_job)
            })
        }
    };
    let c = closer.clone();
    let instance = i;
    monitor = match forecast_backend {
        JobBackend::Redis(storage) => monitor.register(move |run| {
            WorkerBuilder::new(worker_name("forecast-retrainer", &instance, run))
                .backend((*storage).clone())
                .data(c.clone())
                .build(retrain_job)
        }),
        JobBackend::Memory(storage, idle) => {
            let take = once(storage, idle);
            monitor.register(move |run| {
                WorkerBuilder::new(worker_name("forecast-retrainer", &instance, run))
                    .backend(take())
                    .data(c.clone())
                    .build(retrain_job)
            })
        }
    };
    if let (Some(chain), Some((relay, monitor_cron))) = (chain, &schedules.chain) {
        let (relay, sample) = (schedule(relay)?, schedule(monitor_cron)?);
        let (c, ch) = (closer.clone(), chain.clone());
        monitor = monitor.register(move |_| {
            WorkerBuilder::new("chain-outbox")
                .backend(CronScheduler::new(relay.clone()))
                .data(c.clone())
                .data(ch.clone())
                .build(chain_relay_tick)
        });
        let c = closer.clone();
        monitor = monitor.register(move |_| {
            WorkerBuilder::new("chain-monitor")
                .backend(CronScheduler::new(sample.clone()))
                .data(c.clone())
                .data(chain.clone())
                .build(chain_monitor_tick)
        });
    }
    // A day whose scheduled retrain was missed (the server was down at the
    // time, or this is a first start) gets it now.
    if let Err(e) = crate::forecasts::ensure_daily(closer.db(), &forecast_queue).await {
        tracing::warn!(error = %e, "could not queue today's forecast retrain");
    }
    monitor
        .run_with_signal(async move {
            shutdown.await;
            Ok(())
        })
        .await
        .map_err(|e| e.to_string())
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
