//! `sitga-bench`: the benchmarks behind every speed claim in the README,
//! each read against a baseline measured in the same run (the machines are
//! noisy; absolute rates drift).
//!
//! - `storm`: many bidders on ONE auction over WebSocket against the raw
//!   single-row transaction on the same database; checks the invariants.
//! - `fanout`: thousands of watchers in one room, one bidder: delivery
//!   latency and server memory per socket, against one watcher.
//! - `rest`: `GET /auctions` and `GET /auctions/{id}` at several
//!   concurrencies, against `GET /health` (no database) on the same server.
//! - `faults`: kill -9 mid-storm, Redis down, MySQL restarted, on private
//!   servers the run starts itself (see docs/reliability.md).
//! - `identify`, `forecast`: the fish model and the forecaster against a bare
//!   `session.run` and Python prophet.
//!
//! sitga runs as real `sitga serve` processes (one or two instances; two
//! need Redis), as in production.

// A benchmark reports on stdout and stops loudly on a broken setup.
#![allow(
    clippy::print_stdout,
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic
)]

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};

mod check;
mod cluster;
mod dutch;
mod fanout;
mod faults;
mod forecast;
mod identify;
mod private;
mod rest;
mod seed;
mod storm;
mod transport;
mod ws;

/// The JWT secret every instance of a run shares.
pub const SECRET: &str = "sitga-bench-secret-0123456789abcdef";

/// Where and how many sitga instances serve a scenario.
#[derive(Debug, Clone, clap::Args)]
pub struct Target {
    /// A MySQL/MariaDB server URL (a fresh database is created on it and
    /// dropped after); default: a temporary SQLite file (embedded mode).
    #[arg(long, env = "SITGA_BENCH_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Redis for the instances (fan-out, history, jobs); keys get a
    /// per-run prefix. Required for more than one instance.
    #[arg(long, env = "SITGA_BENCH_REDIS_URL")]
    pub redis_url: Option<String>,
    /// sitga instances (a client picks one round-robin, like a proxy).
    #[arg(long, default_value_t = 1)]
    pub instances: usize,
    /// The `sitga` binary (default: next to this one).
    #[arg(long)]
    pub sitga_bin: Option<PathBuf>,
}

#[derive(Parser)]
#[command(name = "sitga-bench", about = "sitga benchmarks")]
struct Cli {
    /// End with one line holding a JSON object of the run's figures
    /// (scenario, deployment, rows, ratios, `invariants_ok`), so runs can be
    /// compared by a program.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Subcommand)]
enum Scenario {
    /// The hot-auction storm and the same-run single-row limit.
    Storm(storm::Args),
    /// One room, thousands of watchers, one bidder: delivery latency and
    /// memory per socket.
    Fanout(fanout::Args),
    /// REST reads at several concurrencies against `/health`.
    Rest(rest::Args),
    /// Fault injection on private MariaDB / Redis servers.
    Faults(faults::Args),
    /// Fish identification: end-to-end latency and throughput against a raw
    /// `session.run` on the same image in the same run.
    Identify(identify::Args),
    /// Forecasting: one Prophet fit + 7-day predict in sitga against Python
    /// prophet on the same series, in the same run.
    Forecast(forecast::Args),
    /// The storm's in-memory WebSocket server (started by `storm`).
    #[command(hide = true)]
    TransportServer,
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let cli = Cli::parse();
    if let Ok(filter) = std::env::var("SITGA_LOG") {
        sitga_server::logging::init(&filter, sitga_server::config::LogFormat::Text);
    }
    // Thousands of sockets: the soft descriptor limit up to the hard one.
    if let Err(e) = rlimit::increase_nofile_limit(u64::MAX) {
        eprintln!("could not raise the open-files limit: {e}");
    }
    let summary = match cli.scenario {
        Scenario::Storm(args) => storm::run(args).await,
        Scenario::Fanout(args) => fanout::run(args).await,
        Scenario::Rest(args) => rest::run(args).await,
        Scenario::Faults(args) => faults::run(args).await,
        Scenario::Identify(args) => identify::run(args).await,
        Scenario::Forecast(args) => forecast::run(&args),
        Scenario::TransportServer => transport::serve().await,
    };
    if cli.json {
        println!("{summary}");
    }
}

/// Milliseconds, rounded to the microsecond, for the JSON summaries.
pub fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

pub fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// Starts one task per item (each given the shared stop flag), stops them
/// after `length` and joins them: their results and the time it all took.
pub async fn run_for<I, T, Fut>(
    items: impl IntoIterator<Item = I>,
    length: Duration,
    start: impl Fn(I, Arc<AtomicBool>) -> Fut,
) -> (Vec<T>, Duration)
where
    Fut: std::future::Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let tasks: Vec<_> = items
        .into_iter()
        .map(|item| tokio::spawn(start(item, stop.clone())))
        .collect();
    tokio::time::sleep(length).await;
    stop.store(true, Ordering::Relaxed);
    let mut results = Vec::with_capacity(tasks.len());
    for task in tasks {
        results.push(task.await.expect("benchmark task"));
    }
    (results, started.elapsed())
}

pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}
