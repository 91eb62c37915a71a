//! Black-box tests: each spawns sitga on a random port with a fresh
//! database (SQLite, or MySQL when `DATABASE_URL=mysql://…`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod accounts;
mod admin;
mod auctions;
mod bad_input;
mod chain;
mod clock;
mod fish;
mod forecasts;
mod formats;
mod instances;
mod listings;
mod notifications;
mod payments;
mod photos;
mod pickups;
mod platform;
mod proxy;
mod refs;
mod sales;
mod tokens;
mod verification;
mod watchlist;
mod ws;
