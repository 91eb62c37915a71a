//! The sitga HTTP API: actix-web handlers, the OpenAPI document, the
//! authenticated-user extractor and the `sitga` binary's commands.
//!
//! Layering: handlers (here) → domain crates (`sitga-user`, …) and
//! `sitga-persistence`. Errors of every layer become one [`error::ApiError`],
//! mapped to HTTP in one place.

pub mod app;
pub mod auth;
pub mod awards;
pub mod bidding;
pub mod chain;
pub mod cli;
pub mod closing;
pub mod config;
pub mod demo;
pub mod error;
pub mod extract;
pub mod forecasts;
pub mod jobs;
pub mod live;
pub mod logging;
pub mod metrics;
pub mod openapi;
pub mod routes;
pub mod server;
pub mod state;
pub mod ws;
