//! The sitga HTTP API and WebSocket gateway: actix-web handlers, the
//! OpenAPI document, the authenticated-user extractor, and `error.rs`, the
//! one place where domain, persistence and engine errors become HTTP
//! statuses and WebSocket `system` codes.
//!
//! Layering: handlers here → `sitga-realtime` (bid engine, room bus,
//! closing, jobs), the domain crates and `sitga-persistence`. The `sitga`
//! binary (configuration, start-up, CLI) is the `sitga-server` crate.

#![warn(missing_docs)]

pub mod app;
pub mod auth;
pub mod client_addr;
pub mod error;
pub mod error_code;
pub mod extract;
pub mod listings;
pub mod openapi;
pub mod routes;
mod spec_rules;
pub mod state;
pub mod tagged;
pub mod web_page;
pub mod ws;
