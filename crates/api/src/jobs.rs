//! Background jobs on apalis: a close job scheduled per auction at its end,
//! the every-second sweeper (apalis-cron) as the closing safety net, and the
//! daily badge safety net.
//!
//! The queue is Redis-backed when `REDIS_URL` is set (jobs survive restarts
//! and any instance may run them) and in memory in embedded mode (a timer
//! per auction feeds the in-process queue; after a restart the sweeper
//! closes whatever came due meanwhile).

use std::str::FromStr;
use std::time::{Duration, SystemTime};

use apalis::prelude::{BoxDynError, Data, Monitor, TaskBuilder, TaskSink, WorkerBuilder};
use apalis_core::backend::memory::{MemorySink, MemoryStorage};
use apalis_cron::{CronScheduler, Tick};
use apalis_redis::RedisStorage;
use chrono::{DateTime, Utc};
use futures_util::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};

use crate::closing::{CloseResult, Closer};

/// Close one auction when it is due.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CloseAuctionJob {
    /// The auction.
    pub auction_id: i64,
}

/// Where close jobs are queued.
#[derive(Clone)]
pub enum CloseQueue {
    /// Redis (production).
    Redis(Box<RedisStorage<CloseAuctionJob>>),
    /// In-process (embedded mode).
    Memory(MemorySink<CloseAuctionJob>),
}

impl std::fmt::Debug for CloseQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Redis(_) => "CloseQueue::Redis",
            Self::Memory(_) => "CloseQueue::Memory",
        })
    }
}

impl CloseQueue {
    /// Queues a close of `auction_id` at `at`. Failures are logged, not
    /// returned: the sweeper closes the auction regardless.
    pub async fn schedule(&self, auction_id: i64, at: DateTime<Utc>) {
        let when = SystemTime::from(at);
        let job = CloseAuctionJob { auction_id };
        match self {
            Self::Redis(storage) => {
                let mut storage = (**storage).clone();
                let task = TaskBuilder::new(job).run_at_time(when).build();
                if let Err(e) = storage.push_task(task).await {
                    tracing::warn!(auction_id, error = %e, "could not queue the close job; the sweeper will close it");
                }
            }
            Self::Memory(sink) => {
                let mut sink = sink.clone();
                let delay = (at - Utc::now()).to_std().unwrap_or_default();
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    if let Err(e) = sink.send(TaskBuilder::new(job).build()).await {
                        tracing::warn!(auction_id, error = %e, "could not queue the close job");
                    }
                });
            }
        }
    }
}

/// The backend the close worker consumes.
pub enum CloseBackend {
    /// Redis.
    Redis(Box<RedisStorage<CloseAuctionJob>>),
    /// Memory.
    Memory(MemoryStorage<CloseAuctionJob>),
}

/// Creates the close queue and the backend its worker reads.
pub async fn close_queue(
    redis: Option<(&str, &str)>,
) -> Result<(CloseQueue, CloseBackend), String> {
    match redis {
        Some((url, prefix)) => {
            let conn = apalis_redis::connect(url)
                .await
                .map_err(|e| e.to_string())?;
            // The worker promotes due scheduled jobs when it polls, and it
            // polls on each heartbeat: a 1 s heartbeat closes within ~1 s.
            let config = apalis_redis::Config::default()
                .queue(format!("{prefix}sitga:close-auction"))
                .heartbeat_interval(Duration::from_secs(1));
            let storage = RedisStorage::new(conn).with_config(config);
            Ok((
                CloseQueue::Redis(Box::new(storage.clone())),
                CloseBackend::Redis(Box::new(storage)),
            ))
        }
        None => {
            let (tx, rx) = futures_channel::mpsc::unbounded();
            let sink: MemorySink<CloseAuctionJob> = MemorySink::new(std::sync::Arc::new(
                futures_util::lock::Mutex::new(Box::new(
                    tx.sink_map_err(apalis_core::backend::memory::MemoryStorageError::from),
                )),
            ));
            let storage = MemoryStorage::new_with(sink.clone(), rx.boxed());
            Ok((CloseQueue::Memory(sink), CloseBackend::Memory(storage)))
        }
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

/// Runs the close worker and the sweeper until `shutdown` resolves.
/// `sweep_cron` has a seconds field (`* * * * * *`: every second).
pub async fn run(
    closer: Closer,
    queue: CloseQueue,
    backend: CloseBackend,
    sweep_cron: &str,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    let schedule =
        cron::Schedule::from_str(sweep_cron).map_err(|e| format!("bad sweep schedule: {e}"))?;
    let sweeper_closer = closer.clone();
    let badge_closer = closer.clone();
    let badge_schedule = cron::Schedule::from_str(BADGE_CRON).map_err(|e| e.to_string())?;
    let monitor = Monitor::new()
        .shutdown_timeout(Duration::from_secs(10))
        .register(move |_| {
            WorkerBuilder::new("auction-sweeper")
                .backend(CronScheduler::new(schedule.clone()))
                .data(sweeper_closer.clone())
                .build(sweep_tick)
        })
        .register(move |_| {
            WorkerBuilder::new("badge-safety-net")
                .backend(CronScheduler::new(badge_schedule.clone()))
                .data(badge_closer.clone())
                .build(badge_tick)
        });
    let monitor = match backend {
        CloseBackend::Redis(storage) => monitor.register(move |_| {
            WorkerBuilder::new("auction-closer")
                .backend((*storage).clone())
                .data(closer.clone())
                .data(queue.clone())
                .build(close_job)
        }),
        CloseBackend::Memory(storage) => {
            let storage = std::sync::Mutex::new(Some(storage));
            monitor.register(move |_| {
                // The in-memory queue has one receiver; a restarted worker
                // gets a fresh, empty one (the sweeper covers the gap).
                let backend = storage
                    .lock()
                    .ok()
                    .and_then(|mut s| s.take())
                    .unwrap_or_else(MemoryStorage::new);
                WorkerBuilder::new("auction-closer")
                    .backend(backend)
                    .data(closer.clone())
                    .data(queue.clone())
                    .build(close_job)
            })
        }
    };
    monitor
        .run_with_signal(async move {
            shutdown.await;
            Ok(())
        })
        .await
        .map_err(|e| e.to_string())
}
