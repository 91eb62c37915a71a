//! Job queue plumbing on apalis: one generic queue per job type, on Redis
//! (jobs survive restarts and any instance may run them) or in memory
//! (embedded mode). The jobs themselves live in [`crate::jobs`].

use std::time::{Duration, SystemTime};

use apalis::prelude::{TaskBuilder, TaskSink};
use apalis_core::backend::memory::{MemorySink, MemoryStorage};
use apalis_core::task::Task;
use apalis_core::task::task_id::TaskId;
use apalis_redis::RedisStorage;
use chrono::{DateTime, Utc};
use futures_channel::mpsc::{UnboundedReceiver, UnboundedSender};
use futures_util::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};

/// Why a queue could not be reached or a job not queued.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// Redis refused the connection or the command.
    #[error("job queue (redis): {0}")]
    Redis(String),
    /// The in-memory queue's worker is gone (the server is stopping).
    #[error("job queue closed")]
    Closed,
    /// A schedule expression did not parse.
    #[error("bad schedule {expr:?}: {reason}")]
    Schedule {
        /// The cron expression.
        expr: String,
        /// What the parser said.
        reason: String,
    },
    /// The worker monitor stopped with an error.
    #[error("job workers: {0}")]
    Workers(String),
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

impl<T> JobQueue<T>
where
    T: Serialize + for<'de> Deserialize<'de> + Send + Sync + Unpin + 'static,
{
    /// Queues `job` to run at `at` (now when `None`).
    pub async fn push(&self, job: T, at: Option<DateTime<Utc>>) -> Result<(), QueueError> {
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
                    .map_err(|e| QueueError::Redis(e.to_string()))
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
                    return tx.unbounded_send(task).map_err(|_| QueueError::Closed);
                }
                let tx = tx.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    if tx.unbounded_send(task).is_err() {
                        tracing::warn!("could not queue a delayed job: the queue is closed");
                    }
                });
                Ok(())
            }
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

/// Creates a queue named `name` and the backend its worker reads: on Redis
/// (`(url, key prefix)`) or in memory.
pub async fn job_queue<T>(
    redis: Option<(&str, &str)>,
    name: &str,
) -> Result<(JobQueue<T>, JobBackend<T>), QueueError>
where
    T: Serialize + for<'de> Deserialize<'de> + Send + Sync + Unpin + 'static,
{
    match redis {
        Some((url, prefix)) => {
            let conn = apalis_redis::connect(url)
                .await
                .map_err(|e| QueueError::Redis(e.to_string()))?;
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

/// A worker's in-memory backend, taken once: the in-memory queue has one
/// receiver, so a restarted worker gets a fresh, empty one (the sweepers and
/// the daily catch-up cover the gap).
pub(crate) fn take_once<T: Send + Sync + 'static>(
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
