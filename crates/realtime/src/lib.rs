//! The live side of sitga, without HTTP: what happens between a bid arriving
//! and every watcher seeing it, and what runs in the background.
//!
//! - [`engine`]: one writer per active auction; bids from any number of
//!   tasks are decided in arrival order, committed in batches, then
//!   announced.
//! - [`bus`]: room frames numbered per room and delivered to every socket on
//!   every instance (in-process, or Redis pub/sub), with recent history.
//! - [`closing`]: closing and settling an auction exactly once, however many
//!   closers race.
//! - [`queue`] and [`jobs`]: apalis queues (Redis or in memory) and the jobs
//!   that run on them — closes, the badge safety net, forecast retrains, the
//!   chain outbox and monitor.
//! - [`frames`]: every frame the server sends, typed, and their encoding.
//! - [`awards`], [`chain`], [`forecasts`]: what those jobs do.
//! - [`payments`]: buying points through a payment provider, within a
//!   daily cap.
//!
//! Nothing here knows about actix: the `sitga-api` crate adapts it to HTTP
//! and WebSocket, and a test can drive a whole auction with only
//! `sitga-persistence` and this crate (see `examples/`).

#![warn(missing_docs)]

pub mod awards;
pub mod bus;
pub mod chain;
pub mod closing;
pub mod engine;
pub mod forecasts;
pub mod frames;
pub mod jobs;
pub mod payments;
pub mod queue;

/// The start of `at`'s UTC day and of the next: the window the daily caps
/// (completions per collector, chain records and transactions) count in.
pub fn utc_day(
    at: chrono::DateTime<chrono::Utc>,
) -> (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>) {
    let start = at
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .map_or(at, |midnight| midnight.and_utc());
    (start, start + chrono::Duration::days(1))
}
