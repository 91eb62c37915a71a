//! The `sitga` binary's library half: the command line ([`cli`]),
//! configuration from flags, environment and `.env` ([`config`]), starting
//! and stopping the HTTP server with its background tasks ([`server`]),
//! demo data ([`demo`]), Prometheus metrics ([`metrics`]) and logging
//! ([`logging`]).
//!
//! This is the top of the crate graph: it wires `sitga-api` (HTTP and
//! WebSocket), `sitga-realtime` (engine, bus, jobs) and the lower crates
//! together. Tests start it through `sitga-testkit`.

#![warn(missing_docs)]

pub mod cli;
pub mod config;
pub mod demo;
pub mod logging;
pub mod metrics;
pub mod model_cli;
pub mod server;
