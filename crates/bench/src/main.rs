//! `sitga-bench storm`: many bidders on ONE auction over WebSocket, each
//! bidding the minimum next amount as soon as its previous bid is answered,
//! compared in the same run with the best a plain client gets from the same
//! database doing the raw transaction (read → guarded update → insert bid →
//! commit). Prints accepted bids/s, the ratio, ack latency percentiles, and
//! checks the invariants afterwards.
//!
//! ```text
//! sitga-bench storm --bidders 200 --seconds 20                      # SQLite
//! sitga-bench storm --database-url mysql://root@127.0.0.1:3306/sitga  # MariaDB
//! ```
//!
//! `identify` and `forecast` compare the fish model and the forecaster with
//! their raw equivalents (a bare `session.run`, Python prophet) the same way.

// A benchmark reports on stdout and stops loudly on a broken setup.
#![allow(
    clippy::print_stdout,
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic
)]

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use diesel_async::{RunQueryDsl, SimpleAsyncConnection};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use sitga_api::auth::{JwtKeys, LoginQuotas};
use sitga_api::config::{AppConfig, SecretSource};
use sitga_persistence::auctions::{self, NewAuction};
use sitga_persistence::test_support::TestDatabase;
use sitga_persistence::{DbError, DbPool, PoolOptions, users, wallets, with_conn};

use tokio_tungstenite::tungstenite::Message;

const SECRET: &str = "sitga-bench-secret-0123456789abcdef";

#[derive(Parser)]
#[command(name = "sitga-bench", about = "sitga benchmarks")]
struct Cli {
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Subcommand)]
enum Scenario {
    /// The hot-auction storm and the same-run single-row limit.
    Storm {
        /// Concurrent bidders on the one auction.
        #[arg(long, default_value_t = 200)]
        bidders: usize,
        /// Seconds per phase.
        #[arg(long, default_value_t = 20)]
        seconds: u64,
        /// A MySQL/MariaDB server URL (a fresh database is created on it);
        /// default: a temporary SQLite file.
        #[arg(long, env = "SITGA_BENCH_DATABASE_URL")]
        database_url: Option<String>,
        /// Frames per second each WebSocket connection may send (the
        /// production default is 10; the storm needs more).
        #[arg(long, default_value_t = 1_000)]
        ws_rate: u32,
        /// Concurrency levels for the raw baseline.
        #[arg(long, value_delimiter = ',', default_value = "1,16")]
        baseline_clients: Vec<usize>,
    },
    /// Fish identification: end-to-end latency and throughput against a raw
    /// `session.run` on the same image in the same run.
    Identify {
        /// Seconds per measurement.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Concurrent HTTP clients to try.
        #[arg(long, value_delimiter = ',', default_value = "1,2,8")]
        clients: Vec<usize>,
        /// An image to identify (default: a generated 800x600 PNG).
        #[arg(long)]
        image: Option<std::path::PathBuf>,
    },
    /// Forecasting: one Prophet fit + 7-day predict in sitga against Python
    /// prophet on the same series, in the same run.
    Forecast {
        /// Timed runs on each side (medians are compared).
        #[arg(long, default_value_t = 10)]
        runs: usize,
        /// The series (`{"start", "kg": [...]}`).
        #[arg(long, default_value = "crates/forecasting/tests/fixtures/series.json")]
        series: std::path::PathBuf,
        /// The command that runs scripts/prophet_reference.py.
        #[arg(long, default_value = "scripts/prophet-reference.sh")]
        python: String,
    },
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let cli = Cli::parse();
    if let Ok(filter) = std::env::var("SITGA_LOG") {
        sitga_api::logging::init(&filter, sitga_api::config::LogFormat::Text);
    }
    match cli.scenario {
        Scenario::Storm {
            bidders,
            seconds,
            database_url,
            ws_rate,
            baseline_clients,
        } => {
            storm(
                database_url,
                bidders,
                Duration::from_secs(seconds),
                ws_rate,
                &baseline_clients,
            )
            .await;
        }
        Scenario::Identify {
            seconds,
            clients,
            image,
        } => {
            identify(Duration::from_secs(seconds), &clients, image).await;
        }
        Scenario::Forecast {
            runs,
            series,
            python,
        } => forecast(runs.max(1), &series, &python),
    }
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn forecast(runs: usize, series_path: &std::path::Path, python: &str) {
    use sitga_forecasting::{DailySeries, Forecaster, Horizon};

    let raw: Value = serde_json::from_slice(&std::fs::read(series_path).expect("read the series"))
        .expect("series JSON");
    let start = raw["start"].as_str().expect("start").parse().expect("date");
    let kg: Vec<f64> = raw["kg"]
        .as_array()
        .expect("kg")
        .iter()
        .map(|v| v.as_f64().expect("number"))
        .collect();
    let days = kg.len();
    let series = DailySeries::new(start, kg);

    let forecaster = Forecaster::new();
    let began = Instant::now();
    forecaster
        .fit_predict(&series, Horizon::WEEK.days())
        .expect("first fit");
    let first = began.elapsed().as_secs_f64() * 1e3;
    let ours: Vec<f64> = (0..runs)
        .map(|_| {
            let began = Instant::now();
            forecaster
                .fit_predict(&series, Horizon::WEEK.days())
                .expect("fit");
            began.elapsed().as_secs_f64() * 1e3
        })
        .collect();

    let out = std::env::temp_dir().join(format!("sitga-bench-prophet-{}.json", std::process::id()));
    let status = std::process::Command::new(python)
        .arg("--series")
        .arg(series_path)
        .arg("--out")
        .arg(&out)
        .arg("--repeat")
        .arg((runs + 1).to_string())
        .status()
        .expect("run the Python prophet script");
    assert!(status.success(), "{python} failed: {status}");
    let reference: Value =
        serde_json::from_slice(&std::fs::read(&out).expect("read its output")).expect("JSON");
    let _ = std::fs::remove_file(&out);
    let mut theirs: Vec<f64> = reference["fit_predict_seconds"]
        .as_array()
        .expect("timings")
        .iter()
        .map(|v| v.as_f64().expect("seconds") * 1e3)
        .collect();
    // Its first run loads the Stan model, like our first fit compiles it.
    let their_first = theirs.remove(0);

    println!(
        "\nForecast: one fit + 7-day predict of a {days}-day series (weekly seasonality, 80 % interval, 1,000 simulations), {runs} timed runs each\n"
    );
    println!("| implementation | first run (ms) | median (ms) | min (ms) |");
    println!("|---|---|---|---|");
    let min = |xs: &[f64]| xs.iter().copied().fold(f64::INFINITY, f64::min);
    println!(
        "| sitga (augurs Prophet, WASM Stan) | {first:.1} | {:.1} | {:.1} |",
        median(ours.clone()),
        min(&ours)
    );
    println!(
        "| Python prophet {} (cmdstanpy) | {their_first:.1} | {:.1} | {:.1} |",
        reference["prophet_version"].as_str().unwrap_or("?"),
        median(theirs.clone()),
        min(&theirs)
    );
    let (ours, theirs) = (median(ours), median(theirs));
    println!(
        "\nsitga / Python median time: {:.3} (Python takes {:.0}x as long)",
        ours / theirs,
        theirs / ours
    );
}

#[derive(QueryableByName)]
struct Hot {
    #[diesel(sql_type = BigInt)]
    price: i64,
    #[diesel(sql_type = BigInt)]
    bid_count: i64,
}

const SETUP: &str = "DROP TABLE IF EXISTS bench_bids; DROP TABLE IF EXISTS bench_hot; \
     CREATE TABLE bench_hot (id BIGINT NOT NULL PRIMARY KEY, price BIGINT NOT NULL, bid_count BIGINT NOT NULL); \
     CREATE TABLE bench_bids (auction_id BIGINT NOT NULL, seq BIGINT NOT NULL, amount BIGINT NOT NULL, PRIMARY KEY (auction_id, seq)); \
     INSERT INTO bench_hot VALUES (1, 0, 0);";

async fn setup_baseline(pool: &DbPool) -> Result<(), DbError> {
    let mut conn = pool.get().await?;
    with_conn!(conn, |c| c.batch_execute(SETUP).await)?;
    Ok(())
}

/// One raw bid: read → guarded update → insert → commit. `Ok(true)` when
/// it went through.
async fn raw_bid(pool: &DbPool) -> Result<bool, DbError> {
    let mut tx = pool.begin().await?;
    let hot: Hot = with_conn!(tx, |c| diesel::sql_query(
        "SELECT price, bid_count FROM bench_hot WHERE id = 1"
    )
    .get_result::<Hot>(c)
    .await)?;
    let amount = hot.price + 100;
    let updated = with_conn!(tx, |c| diesel::sql_query(
        "UPDATE bench_hot SET price = ?, bid_count = bid_count + 1 WHERE id = 1 AND price < ?"
    )
    .bind::<BigInt, _>(amount)
    .bind::<BigInt, _>(amount)
    .execute(c)
    .await)?;
    if updated != 1 {
        tx.rollback().await?;
        return Ok(false);
    }
    with_conn!(tx, |c| diesel::sql_query(
        "INSERT INTO bench_bids VALUES (1, ?, ?)"
    )
    .bind::<BigInt, _>(hot.bid_count + 1)
    .bind::<BigInt, _>(amount)
    .execute(c)
    .await)?;
    tx.commit().await?;
    Ok(true)
}

/// The raw transaction with `clients` concurrent plain clients for `length`;
/// returns accepted bids per second.
async fn baseline(pool: &DbPool, clients: usize, length: Duration) -> f64 {
    setup_baseline(pool).await.expect("baseline tables");
    let (counts, elapsed) = run_for(0..clients, length, |_, stop| {
        let pool = pool.clone();
        async move {
            let mut accepted = 0u64;
            while !AtomicBool::load(&stop, Ordering::Relaxed) {
                if matches!(raw_bid(&pool).await, Ok(true)) {
                    accepted += 1;
                }
            }
            accepted
        }
    })
    .await;
    counts.iter().sum::<u64>() as f64 / elapsed.as_secs_f64()
}

/// Starts one task per item (each given the shared stop flag), stops them
/// after `length` and joins them: their results and the time it all took.
async fn run_for<I, T, Fut>(
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

struct BidderResult {
    accepted: u64,
    rejected: u64,
    rate_limited: u64,
    latencies: Vec<Duration>,
}

async fn bidder(url: String, token: String, room: i64, stop: Arc<AtomicBool>) -> BidderResult {
    let mut request =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(url)
            .unwrap();
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("connect");
    ws.send(Message::text(
        json!({"event": "join", "room": room}).to_string(),
    ))
    .await
    .unwrap();
    let mut result = BidderResult {
        accepted: 0,
        rejected: 0,
        rate_limited: 0,
        latencies: Vec::new(),
    };
    let mut next = 0i64;
    let mut leading = false;
    let mut n = 0u64;
    let mut pending: Option<(u64, Instant)> = None;
    loop {
        if pending.is_none() && !leading && next > 0 {
            if AtomicBool::load(&stop, Ordering::Relaxed) {
                break;
            }
            n += 1;
            let frame = json!({"event": "bid", "room": room, "amount": next, "ref": n});
            if ws.send(Message::text(frame.to_string())).await.is_err() {
                break;
            }
            pending = Some((n, Instant::now()));
        }
        if AtomicBool::load(&stop, Ordering::Relaxed)
            && pending.is_some_and(|(_, sent)| sent.elapsed() > Duration::from_secs(5))
        {
            break;
        }
        let msg = match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => text,
            Ok(Some(Ok(_))) => continue,
            _ => break,
        };
        let f: Value = serde_json::from_str(&msg).unwrap();
        match f["event"].as_str() {
            Some("state") => {
                next = f["min_next_bid"].as_i64().unwrap_or(next);
                leading = false;
            }
            Some("system") if f.get("ref").is_some() => {
                if let Some((_, sent)) = pending.take() {
                    result.latencies.push(sent.elapsed());
                }
                match f["code"].as_str() {
                    Some("bid_accepted") => {
                        result.accepted += 1;
                        leading = true;
                    }
                    Some("bid_too_low") => {
                        result.rejected += 1;
                        next = f["min_next_bid"].as_i64().unwrap_or(next + 100);
                    }
                    Some("already_leading") => {
                        result.rejected += 1;
                        leading = true;
                    }
                    Some("rate_limited") => {
                        result.rate_limited += 1;
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    _ => result.rejected += 1,
                }
            }
            _ => {}
        }
        if AtomicBool::load(&stop, Ordering::Relaxed) && pending.is_none() {
            break;
        }
    }
    let _ = ws.close(None).await;
    result
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn storm(
    database_url: Option<String>,
    bidders: usize,
    length: Duration,
    ws_rate: u32,
    baseline_clients: &[usize],
) {
    let db = TestDatabase::create_on(database_url)
        .await
        .expect("database");
    let pool = DbPool::connect(
        &db.url,
        PoolOptions {
            max_size: 32,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    println!(
        "# sitga-bench storm — backend {}, {bidders} bidders, {} s per phase",
        db.url.backend(),
        length.as_secs()
    );
    println!();
    println!("| phase | concurrency | accepted bids/s |");
    println!("|---|---|---|");
    let mut single = 0.0;
    for &clients in baseline_clients {
        let rate = baseline(&pool, clients, length).await;
        if clients == 1 {
            single = rate;
        }
        println!("| raw transaction (limit) | {clients} | {rate:.0} |");
    }

    // sitga on the same database.
    let config = AppConfig {
        database: db.url.clone(),
        redis_url: None,
        redis_prefix: String::new(),
        sweep_cron: "* * * * * *".into(),
        forecast_cron: sitga_api::config::DEFAULT_FORECAST_CRON.into(),
        assets_dir: "assets".into(),
        model_manifest: None,
        onnxruntime: None,
        ws_frames_per_second: std::num::NonZeroU32::new(ws_rate).expect("rate > 0"),
        bind: "127.0.0.1:0".parse().unwrap(),
        jwt_secret: SECRET.as_bytes().to_vec(),
        jwt_secret_source: SecretSource::Environment,
        cors_origins: Vec::new(),
        workers: None,
        pool: PoolOptions {
            max_size: 16,
            ..Default::default()
        },
        login_quotas: LoginQuotas::default(),
        chain: None,
    };
    eprintln!("starting sitga…");
    let server = sitga_api::server::start(config, Some(TcpListener::bind("127.0.0.1:0").unwrap()))
        .await
        .unwrap();
    eprintln!("sitga up; creating accounts…");
    let keys = JwtKeys::new(SECRET.as_bytes());
    let mut conn = pool.get().await.unwrap();
    let hash = sitga_user::PasswordHash::from_stored("$argon2id$bench".into());
    let mut ids = Vec::new();
    for i in 0..=bidders {
        let user = users::insert(
            &mut conn,
            &users::NewUser {
                email: sitga_user::Email::parse(&format!("bench{i}@example.com")).unwrap(),
                nickname: sitga_user::Nickname::parse(&format!("bench{i}")).unwrap(),
                name: sitga_user::PersonName::parse("bench").unwrap(),
                phone: None,
                address: None,
                province: None,
                account_type: sitga_user::AccountType::Member,
                password_hash: hash.clone(),
            },
        )
        .await
        .unwrap();
        if i > 0 {
            wallets::charge(&mut conn, user.id, 1_000_000_000)
                .await
                .unwrap();
        }
        ids.push(user.id);
    }
    let settings = sitga_auction::AuctionSettings::parse(
        &sitga_auction::AuctionSettingsInput {
            start_price: 1_000,
            min_increment: Some(100),
            reserve_price: None,
            duration_minutes: Some(24 * 60),
        },
        chrono::Utc::now(),
    )
    .unwrap();
    let auction = auctions::insert(
        &mut conn,
        &NewAuction {
            seller_id: ids[0],
            title: "bench".into(),
            description: String::new(),
            species: None,
            photo_url: None,
            settings,
        },
    )
    .await
    .unwrap();
    drop(conn);

    eprintln!("{} bidders ready; storming…", ids.len() - 1);
    // Phase 2a: the bid engine alone (no network), same bidders and rules.
    let engine_rate = {
        let engine = server.state.engine.clone();
        let auction_id = auction.id;
        let (counts, elapsed) = run_for(ids[1..].iter().copied(), length, |id, stop| {
            let engine = engine.clone();
            async move {
                let mut accepted = 0u64;
                let mut next = 1_000;
                while !AtomicBool::load(&stop, Ordering::Relaxed) {
                    let command = sitga_api::bidding::BidCommand {
                        auction_id,
                        bidder_id: id,
                        nickname: format!("bench{id}"),
                        amount: next,
                    };
                    match engine.place(command).await {
                        Ok(sitga_api::bidding::BidOutcome::Accepted { after, .. }) => {
                            accepted += 1;
                            next = sitga_auction::min_next_bid(&after);
                            tokio::task::yield_now().await;
                        }
                        Ok(sitga_api::bidding::BidOutcome::Rejected { reason, seen }) => {
                            next = match reason {
                                sitga_auction::BidRejection::TooLow { min_next_bid } => {
                                    min_next_bid
                                }
                                _ => sitga_auction::min_next_bid(&seen),
                            };
                            if matches!(reason, sitga_auction::BidRejection::AlreadyLeading) {
                                tokio::time::sleep(Duration::from_millis(1)).await;
                            }
                        }
                        Err(_) => tokio::time::sleep(Duration::from_millis(1)).await,
                    }
                }
                accepted
            }
        })
        .await;
        counts.iter().sum::<u64>() as f64 / elapsed.as_secs_f64()
    };
    println!("| sitga bid engine, in process | {bidders} | {engine_rate:.0} |");
    let engine_accepted = {
        let mut conn = pool.get().await.unwrap();
        auctions::find(&mut conn, auction.id)
            .await
            .unwrap()
            .unwrap()
            .bid_count as u64
    };

    let url = format!("ws://{}/ws", server.addr);
    let (results, elapsed) = run_for(ids[1..].iter().copied(), length, |id, stop| {
        let token = keys.issue(id, &[], "bench").unwrap().token;
        bidder(url.clone(), token, auction.id, stop)
    })
    .await;
    let mut accepted = 0;
    let mut rejected = 0;
    let mut rate_limited = 0;
    let mut latencies = Vec::new();
    for r in results {
        accepted += r.accepted;
        rejected += r.rejected;
        rate_limited += r.rate_limited;
        latencies.extend(r.latencies);
    }
    let elapsed = elapsed.as_secs_f64();
    latencies.sort_unstable();
    let rate = accepted as f64 / elapsed;
    println!("| sitga over WebSocket | {bidders} | {rate:.0} |");
    println!();
    println!(
        "- bid engine / single-client limit: **{:.0} %**",
        100.0 * engine_rate / single.max(1.0)
    );
    println!(
        "- WebSocket storm / single-client limit: **{:.0} %**",
        100.0 * rate / single.max(1.0)
    );
    println!(
        "- rejected (too low / already leading) bids/s: {:.0}",
        rejected as f64 / elapsed
    );
    println!(
        "- rate-limited frames/s: {:.0}",
        rate_limited as f64 / elapsed
    );
    println!(
        "- ack latency: p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms ({} answers)",
        percentile(&latencies, 0.50).as_secs_f64() * 1e3,
        percentile(&latencies, 0.95).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        latencies.len()
    );

    // Invariants, from the database.
    let state = server.state.clone();
    let mut conn = pool.get().await.unwrap();
    let row = auctions::find(&mut conn, auction.id)
        .await
        .unwrap()
        .unwrap();
    let history = auctions::bids_of(&mut conn, auction.id, 0, i64::MAX)
        .await
        .unwrap();
    let seqs: Vec<i64> = history.iter().rev().map(|b| b.seq).collect();
    assert_eq!(
        seqs,
        (1..=row.bid_count).collect::<Vec<_>>(),
        "gap-free sequence"
    );
    assert!(
        history.windows(2).all(|w| w[0].amount > w[1].amount),
        "strictly increasing"
    );
    assert_eq!(
        row.bid_count as u64,
        engine_accepted + accepted,
        "every acked bid is in the database"
    );
    let mut held = 0;
    for id in &ids {
        held += wallets::get(&mut conn, *id).await.unwrap().held;
    }
    assert_eq!(
        Some(held),
        row.current_price,
        "exactly the leader's bid is held"
    );
    drop(conn);
    state.closer.close(auction.id, true).await.unwrap();
    let mut conn = pool.get().await.unwrap();
    let (balance, held) = wallets::totals(&mut conn).await.unwrap();
    assert_eq!(
        (balance, held),
        (1_000_000_000 * bidders as i64, 0),
        "money conserved after close"
    );
    println!(
        "- invariants: gap-free increasing history, one leader, holds = price, money conserved: ok"
    );
    drop(conn);
    server.stop(true).await;
}

fn sample_image(path: Option<std::path::PathBuf>) -> Vec<u8> {
    if let Some(path) = path {
        return std::fs::read(path).expect("read the image");
    }
    let img = image::RgbImage::from_fn(800, 600, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x ^ y) % 256) as u8])
    });
    let mut out = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .expect("encode");
    out
}

fn report(label: &str, mut latencies: Vec<Duration>, elapsed: Duration) {
    latencies.sort_unstable();
    println!(
        "| {label} | {:.1} | {:.1} | {:.1} |",
        percentile(&latencies, 0.50).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        latencies.len() as f64 / elapsed.as_secs_f64()
    );
}

async fn identify(length: Duration, clients: &[usize], image: Option<std::path::PathBuf>) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let runtime =
        sitga_inference::find_runtime(&root).expect("ONNX Runtime: run scripts/bootstrap.sh");
    let manifest = root.join("assets/models/fish-species-v1.json");
    let bytes = sample_image(image);
    println!(
        "# sitga-bench identify — {} s per measurement, image {} bytes",
        length.as_secs(),
        bytes.len()
    );
    println!();
    println!("| what | p50 ms | p99 ms | per second |");
    println!("|---|---|---|---|");

    // Baseline: a raw session.run on the already-preprocessed tensor.
    let model = sitga_inference::FishModel::load(&manifest, &runtime, 1, 0).expect("load");
    let tensor = sitga_inference::decode_and_preprocess(&bytes, 350, 200).expect("decode");
    let started = Instant::now();
    let mut raw = Vec::new();
    while started.elapsed() < length {
        let t = Instant::now();
        model.probabilities(tensor.clone()).expect("run");
        raw.push(t.elapsed());
    }
    report(
        "raw session.run (1 thread, no decode)",
        raw.clone(),
        started.elapsed(),
    );
    let raw_p50 = {
        let mut r = raw;
        r.sort_unstable();
        percentile(&r, 0.5)
    };

    let db = TestDatabase::create_on(None).await.expect("database");
    let config = AppConfig {
        database: db.url.clone(),
        redis_url: None,
        redis_prefix: String::new(),
        sweep_cron: "0 0 0 1 1 *".into(),
        forecast_cron: sitga_api::config::DEFAULT_FORECAST_CRON.into(),
        assets_dir: root.join("assets"),
        model_manifest: Some(manifest),
        onnxruntime: Some(runtime),
        ws_frames_per_second: std::num::NonZeroU32::MIN,
        bind: "127.0.0.1:0".parse().unwrap(),
        jwt_secret: SECRET.as_bytes().to_vec(),
        jwt_secret_source: SecretSource::Environment,
        cors_origins: Vec::new(),
        workers: None,
        pool: PoolOptions::default(),
        login_quotas: LoginQuotas::default(),
        chain: None,
    };
    let server = sitga_api::server::start(config, Some(TcpListener::bind("127.0.0.1:0").unwrap()))
        .await
        .unwrap();
    let url = format!("http://{}/api/v1/fish/identify", server.addr);
    let mut first_p50 = Duration::ZERO;
    for &n in clients {
        let (per_client, elapsed) = run_for(0..n, length, |_, stop| {
            let (url, bytes) = (url.clone(), bytes.clone());
            async move {
                let client = reqwest::Client::new();
                let mut lat = Vec::new();
                while !AtomicBool::load(&stop, Ordering::Relaxed) {
                    let part = reqwest::multipart::Part::bytes(bytes.clone())
                        .file_name("f.png")
                        .mime_str("image/png")
                        .unwrap();
                    let t = Instant::now();
                    let res = client
                        .post(&url)
                        .multipart(reqwest::multipart::Form::new().part("file", part))
                        .send()
                        .await;
                    if matches!(res, Ok(r) if r.status() == 200) {
                        lat.push(t.elapsed());
                    }
                }
                lat
            }
        })
        .await;
        let all: Vec<Duration> = per_client.into_iter().flatten().collect();
        let mut sorted = all.clone();
        sorted.sort_unstable();
        if n == clients[0] {
            first_p50 = percentile(&sorted, 0.5);
        }
        report(&format!("POST /fish/identify, {n} client(s)"), all, elapsed);
    }
    println!();
    println!(
        "- end-to-end p50 at {} client(s) = {:.1} × the raw session.run p50 (decode, resize, HTTP and multipart included)",
        clients[0],
        first_p50.as_secs_f64() / raw_p50.as_secs_f64().max(1e-9)
    );
    server.stop(true).await;
}
