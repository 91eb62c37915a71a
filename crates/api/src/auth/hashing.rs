//! argon2 work through a bounded queue.
//!
//! Every hash or verification takes ~19 MiB and tens of milliseconds of one
//! core. Run unbounded on the blocking pool (512 threads), a flood of
//! sign-ups or logins grows the process by gigabytes and starves everything
//! else. Here at most `workers` run at once and at most `queue` more wait;
//! beyond that a request is answered 503 `overloaded` at once, before any
//! work is done. Sign-ups have a queue of their own, so that a sign-up
//! flood cannot take the places of people logging in.

use std::sync::{Arc, Mutex, mpsc};

use tokio::sync::{Semaphore, oneshot};

use crate::error::ApiError;

type Job = Box<dyn FnOnce() + Send>;

/// The bounded argon2 queue shared by sign-up, login and password change.
///
/// The work runs on a few threads of its own, not on tokio's blocking
/// pool: the allocator keeps a 19 MiB arena per thread that ever hashed, so
/// hashing on whichever of hundreds of blocking threads is free left the
/// process hundreds of MiB larger after a flood, while a fixed set of
/// threads keeps it at workers × 19 MiB.
#[derive(Debug)]
pub struct PasswordWork {
    jobs: mpsc::Sender<Job>,
    /// Places for logins and password changes.
    sessions: Arc<Semaphore>,
    /// Places for sign-ups.
    signups: Arc<Semaphore>,
}

impl PasswordWork {
    /// `workers` threads hashing; `queue` more logins and `queue` more
    /// sign-ups waiting.
    pub fn new(workers: usize, queue: usize) -> Self {
        let workers = workers.max(1);
        let (jobs, inbox) = mpsc::channel::<Job>();
        let inbox = Arc::new(Mutex::new(inbox));
        for n in 0..workers {
            let inbox = Arc::clone(&inbox);
            let spawned = std::thread::Builder::new()
                .name(format!("sitga-argon2-{n}"))
                .spawn(move || {
                    loop {
                        // The lock is held only while waiting for a job.
                        let next = inbox.lock().unwrap_or_else(|p| p.into_inner()).recv();
                        match next {
                            Ok(job) => job(),
                            // The queue was dropped: the server is stopping.
                            Err(_) => break,
                        }
                    }
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "could not start a password hashing thread");
            }
        }
        Self {
            jobs,
            sessions: Arc::new(Semaphore::new(workers + queue)),
            signups: Arc::new(Semaphore::new(workers + queue)),
        }
    }

    /// Sized for this machine: one worker per core (at least 2), and a
    /// queue of 8 per worker.
    pub fn for_this_machine() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        let workers = cores.max(2);
        Self::new(workers, workers * 8)
    }

    /// Runs a login's or password change's `job` (argon2 work) on a
    /// hashing thread; `Err(Overloaded)` at once when the queue is full.
    pub async fn run<T, F>(&self, job: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        self.run_in(&self.sessions, job).await
    }

    /// [`run`](Self::run) for a sign-up, in the sign-ups' own queue.
    pub async fn run_signup<T, F>(&self, job: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        self.run_in(&self.signups, job).await
    }

    async fn run_in<T, F>(&self, places: &Arc<Semaphore>, job: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let place = Arc::clone(places)
            .try_acquire_owned()
            .map_err(|_| ApiError::Overloaded)?;
        let (answer, answered) = oneshot::channel();
        // The place travels with the job: a client that hangs up does not
        // free it while its hash is still queued or running.
        let job: Job = Box::new(move || {
            let _place = place;
            let _ = answer.send(job());
        });
        self.jobs
            .send(job)
            .map_err(|_| ApiError::internal("the password hashing threads stopped"))?;
        answered
            .await
            .map_err(|_| ApiError::internal("a password hashing job was lost"))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn at_most_workers_run_and_a_full_queue_answers_overloaded() {
        let work = Arc::new(PasswordWork::new(2, 3));
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let (work, running, peak) = (work.clone(), running.clone(), peak.clone());
            tasks.push(tokio::spawn(async move {
                work.run_signup(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(50));
                    running.fetch_sub(1, Ordering::SeqCst);
                })
                .await
            }));
        }
        let mut done = 0;
        let mut overloaded = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(()) => done += 1,
                Err(ApiError::Overloaded) => overloaded += 1,
                Err(other) => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(peak.load(Ordering::SeqCst), 2, "never more than 2 at once");
        assert!(done >= 5, "workers + queue were served ({done})");
        assert!(overloaded >= 1, "the rest were turned away ({overloaded})");
        assert_eq!(done + overloaded, 20);
        // Once drained, work is admitted again.
        work.run_signup(|| ()).await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_signup_flood_leaves_room_for_logins() {
        let work = Arc::new(PasswordWork::new(1, 1));
        let mut flood = Vec::new();
        for _ in 0..10 {
            let work = work.clone();
            flood.push(tokio::spawn(async move {
                work.run_signup(|| std::thread::sleep(Duration::from_millis(30)))
                    .await
            }));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert!(work.run_signup(|| ()).await.is_err(), "sign-ups are full");
        work.run(|| ()).await.expect("a login still gets a place");
        for task in flood {
            let _ = task.await.unwrap();
        }
    }
}
