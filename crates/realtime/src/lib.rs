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
//! - [`awards`], [`chain`], [`forecasts`]: what those jobs do;
//!   [`counting`]: when a completed pickup starts to count.
//! - [`notices`]: what each event tells whom (stored with the event,
//!   sent live through the bus's per-user channels).
//! - [`photos`]: photo uploads cleaned and stored, and the sweep of
//!   photos nobody attached.
//! - [`payments`]: buying points through a payment provider, within a
//!   daily cap.
//! - [`species`]: the fish species model each instance serves, following
//!   operators' installs and rollbacks.
//!
//! Nothing here knows about actix: the `sitga-api` crate adapts it to HTTP
//! and WebSocket, and a test can drive a whole auction with only
//! `sitga-persistence` and this crate (see `examples/`).

#![warn(missing_docs)]

pub mod awards;
pub mod bus;
pub mod chain;
pub mod clock;
pub mod closing;
pub mod counting;
pub mod engine;
pub mod forecasts;
pub mod frames;
pub mod jobs;
pub mod notices;
pub mod payments;
pub mod photos;
pub mod queue;
pub mod sales;
pub mod species;
