//! The hot-auction storm: N bidders on ONE auction, each bidding the
//! minimum next amount as soon as its previous bid is answered, against the
//! raw single-row transaction on the same database in the same run; then the
//! invariants, from the database.

use sitga_core::{AuctionId, UserId};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use diesel::prelude::*;
use diesel::sql_types::BigInt;
use diesel_async::{RunQueryDsl, SimpleAsyncConnection};
use sitga_persistence::{DbError, DbPool, with_conn};

use crate::cluster::{self, Cluster};
use crate::{Target, check, median, percentile, run_for, seed, ws};

/// `sitga-bench storm`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Concurrent bidders on the one auction.
    #[arg(long, default_value_t = 200)]
    bidders: usize,
    /// Seconds per phase.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Frames per second each WebSocket connection may send (the
    /// production default is 10; the storm needs more).
    #[arg(long, default_value_t = 1_000)]
    ws_rate: u32,
    /// Concurrency levels for the raw baseline.
    #[arg(long, value_delimiter = ',', default_value = "1,16")]
    baseline_clients: Vec<usize>,
    /// `plain`: every bidder bids the minimum next amount. `proxy`: every
    /// bidder sends a maximum 500 KRW (5 raises) above it, so most bids
    /// meet a standing maximum and are answered by its proxy at once.
    /// `dutch`: rounds of every bidder accepting one unit of a clock
    /// auction with a quarter as many units, at the same moment.
    #[arg(long, value_enum, default_value_t = Format::Plain)]
    format: Format,
    /// Alternating rounds of the single-client baseline and the bid engine
    /// (the machine's speed drifts; each round's ratio compares two phases
    /// measured back to back, and the median ratio is reported).
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    #[command(flatten)]
    target: Target,
}

/// How the storm's bidders bid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// The minimum next amount.
    Plain,
    /// A maximum [`PROXY_RAISE`] above it.
    Proxy,
    /// Every bidder accepts the same step of a clock (Dutch) auction at
    /// once ([`crate::dutch`]).
    Dutch,
}

/// How far above the minimum next amount a proxy bidder's maximum is.
pub const PROXY_RAISE: i64 = 500;

/// Runs it.
pub async fn run(args: Args) -> serde_json::Value {
    if args.format == Format::Dutch {
        return crate::dutch::storm(crate::dutch::Settings {
            bidders: args.bidders,
            seconds: args.seconds,
            ws_rate: args.ws_rate,
            rounds: args.rounds,
            target: args.target,
        })
        .await;
    }
    storm(args).await
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
pub(crate) async fn baseline(pool: &DbPool, clients: usize, length: Duration) -> f64 {
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

struct BidderResult {
    /// Amounts acked as accepted.
    accepted: Vec<i64>,
    rejected: u64,
    rate_limited: u64,
    latencies: Vec<Duration>,
}

async fn bidder(
    addr: SocketAddr,
    token: String,
    room: AuctionId,
    format: Format,
    stop: Arc<AtomicBool>,
) -> BidderResult {
    let mut ws = ws::connect(addr, Some(&token), None)
        .await
        .expect("connect");
    ws::join(&mut ws, room).await.expect("join");
    let mut result = BidderResult {
        accepted: Vec::new(),
        rejected: 0,
        rate_limited: 0,
        latencies: Vec::new(),
    };
    // (A clock storm has bidders of its own: `crate::dutch`.)
    let mut me = if format == Format::Proxy {
        ws::MinBidder::proxy(PROXY_RAISE)
    } else {
        ws::MinBidder::default()
    };
    loop {
        let stopping = AtomicBool::load(&stop, Ordering::Relaxed);
        if !stopping
            && let Some(frame) = me.bid(room, "s")
            && ws::send(&mut ws, frame).await.is_err()
        {
            break;
        }
        if stopping && !me.waiting() {
            break;
        }
        let Some(text) = ws::next_text(&mut ws, Duration::from_secs(10)).await else {
            break;
        };
        let Some(f) = ws::Frame::parse(&text) else {
            continue;
        };
        if let Some((answer, took)) = me.on_frame(&f) {
            result.latencies.push(took);
            match answer {
                ws::Answer::Accepted(amount) => result.accepted.push(amount),
                ws::Answer::Refused => result.rejected += 1,
                ws::Answer::RateLimited => {
                    result.rate_limited += 1;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }
    let _ = ws.close(None).await;
    result
}

/// What the storm's clients got from the in-memory server.
struct Transport {
    /// Accepted bids per second.
    rate: f64,
    /// Refused bids per accepted one.
    refused_per_accepted: f64,
    /// Bids answered (accepted or refused) per second.
    answers_per_s: f64,
    /// CPU per accepted bid: the server's, the bench's (ms).
    server_ms: f64,
    bench_ms: f64,
}

/// The WebSocket phase again, the same bidders and length, against
/// [`crate::transport`]'s server instead of sitga.
async fn transport_phase(bidders: &[UserId], room: AuctionId, length: Duration) -> Transport {
    let server = crate::transport::TransportServer::start().await;
    let addr = server.addr;
    let cpu_before = (server.cpu_seconds(), cluster::cpu_seconds_of("self"));
    let (results, elapsed) = run_for(bidders.iter().copied(), length, |id, stop| {
        bidder(addr, seed::token(id), room, Format::Plain, stop)
    })
    .await;
    let cpu_after = (server.cpu_seconds(), cluster::cpu_seconds_of("self"));
    let accepted: usize = results.iter().map(|r| r.accepted.len()).sum();
    let refused: u64 = results.iter().map(|r| r.rejected).sum();
    assert!(accepted > 0, "no bid accepted by the in-memory server");
    let per_accepted = |before: f64, after: f64| 1e3 * (after - before) / accepted as f64;
    Transport {
        rate: accepted as f64 / elapsed.as_secs_f64(),
        refused_per_accepted: refused as f64 / accepted as f64,
        answers_per_s: (accepted as f64 + refused as f64) / elapsed.as_secs_f64(),
        server_ms: per_accepted(cpu_before.0, cpu_after.0),
        bench_ms: per_accepted(cpu_before.1, cpu_after.1),
    }
}

/// Every bidder bids the minimum next amount through the engine, directly;
/// returns accepted bids per second and the accepted amounts.
async fn engine_phase(
    engine: &sitga_realtime::engine::BidEngine,
    auction_id: AuctionId,
    bidders: &[UserId],
    format: Format,
    length: Duration,
) -> (f64, Vec<i64>) {
    let (counts, elapsed) = run_for(bidders.iter().copied(), length, |id, stop| {
        let engine = engine.clone();
        async move {
            let mut accepted = Vec::new();
            let mut next = sitga_auction::Krw::new(1_000);
            while !AtomicBool::load(&stop, Ordering::Relaxed) {
                let mut command = sitga_realtime::engine::BidCommand::plain(
                    auction_id,
                    id,
                    format!("bench{id}"),
                    next,
                );
                if format == Format::Proxy {
                    command.amount = None;
                    command.max = Some(next + sitga_auction::Krw::new(PROXY_RAISE));
                }
                match engine.place(command).await {
                    Ok(sitga_realtime::engine::BidOutcome::Accepted {
                        bid, answer, after, ..
                    }) => {
                        accepted.push(bid.amount.get());
                        next = sitga_auction::min_next_bid(&after);
                        if answer.is_none() && format == Format::Proxy {
                            // Leading on a maximum: wait to be outbid.
                            tokio::time::sleep(Duration::from_millis(1)).await;
                        }
                        tokio::task::yield_now().await;
                    }
                    Ok(sitga_realtime::engine::BidOutcome::MaxRaised { after, .. }) => {
                        next = sitga_auction::min_next_bid(&after);
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                    Ok(
                        sitga_realtime::engine::BidOutcome::Replayed { .. }
                        | sitga_realtime::engine::BidOutcome::RefReused,
                    ) => {}
                    Ok(sitga_realtime::engine::BidOutcome::Rejected { reason, seen }) => {
                        next = match reason {
                            sitga_auction::BidRejection::TooLow { min_next_bid } => min_next_bid,
                            _ => sitga_auction::min_next_bid(&seen),
                        };
                        if matches!(
                            reason,
                            sitga_auction::BidRejection::AlreadyLeading
                                | sitga_auction::BidRejection::MaxTooLow { .. }
                        ) {
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
    let amounts: Vec<i64> = counts.into_iter().flatten().collect();
    let rate = amounts.len() as f64 / elapsed.as_secs_f64();
    (rate, amounts)
}

async fn storm(args: Args) -> serde_json::Value {
    let Args {
        bidders,
        seconds,
        ws_rate,
        format,
        baseline_clients,
        rounds,
        target,
    } = args;
    let length = Duration::from_secs(seconds);
    let cluster::Setup {
        bin: sitga_bin,
        db: _db,
        pool,
        backend,
    } = cluster::Setup::prepare(&target, 32).await;
    println!(
        "# sitga-bench storm — {}, {} instance(s), {bidders} bidders ({format:?} bids), {seconds} s per phase",
        backend.label(),
        target.instances,
    );
    println!();
    println!("| phase | concurrency | accepted bids/s |");
    println!("|---|---|---|");
    let mut rows = Vec::new();
    for &clients in &baseline_clients {
        let rate = baseline(&pool, clients, length).await;
        println!("| raw transaction (limit) | {clients} | {rate:.0} |");
        rows.push(serde_json::json!({ "phase": "raw transaction (limit)", "concurrency": clients, "accepted_per_s": rate }));
    }

    let seed_pool = pool.clone();
    let ids = seed::accounts(&seed_pool, bidders).await;
    let auction = seed::auction(&seed_pool, ids[0]).await;
    let bus = sitga_realtime::bus::RoomBus::local();
    let engine = sitga_realtime::engine::BidEngine::new(pool.clone(), bus.clone());
    let closer = sitga_realtime::closing::Closer::new(pool.clone(), bus);

    eprintln!("{} bidders ready; storming…", ids.len() - 1);
    // Phase 2a: the bid engine alone (no network), same bidders and rules,
    // alternating with the single-client baseline.
    let mut acked = Vec::new();
    let mut ratios = Vec::new();
    let mut engine_rates = Vec::new();
    let mut limits = Vec::new();
    for round in 1..=rounds.max(1) {
        let single = baseline(&pool, 1, length).await;
        limits.push(single);
        let (rate, amounts) = engine_phase(&engine, auction.id, &ids[1..], format, length).await;
        acked.extend(amounts);
        println!(
            "| round {round}: raw transaction (limit) / sitga bid engine, in process | 1 / {bidders} | {single:.0} / {rate:.0} ({:.0} %) |",
            100.0 * rate / single.max(1.0)
        );
        ratios.push(rate / single.max(1.0));
        engine_rates.push(rate);
    }
    let engine_ratio = median(ratios);
    let engine_rate = median(engine_rates);
    let single = median(limits);
    println!("| sitga bid engine, in process | {bidders} | {engine_rate:.0} |");
    rows.push(serde_json::json!({ "phase": "sitga bid engine, in process", "concurrency": bidders, "accepted_per_s": engine_rate }));

    let cluster = Cluster::start(&sitga_bin, &backend, target.instances, ws_rate).await;
    // Where the WebSocket phase's CPU goes: sitga's, and the bench's own
    // (its 200 clients parsing frames and re-bidding) on the same cores.
    let cpu_before = (cluster.cpu_seconds(), cluster::cpu_seconds_of("self"));
    let (results, elapsed) = run_for(
        ids[1..].iter().copied().enumerate(),
        length,
        |(n, id), stop| {
            bidder(
                cluster.pick(n).addr,
                seed::token(id),
                auction.id,
                format,
                stop,
            )
        },
    )
    .await;
    let cpu_after = (cluster.cpu_seconds(), cluster::cpu_seconds_of("self"));
    drop(cluster);
    let mut accepted = 0;
    let mut rejected = 0;
    let mut rate_limited = 0;
    let mut latencies = Vec::new();
    for r in results {
        accepted += r.accepted.len();
        acked.extend(r.accepted);
        rejected += r.rejected;
        rate_limited += r.rate_limited;
        latencies.extend(r.latencies);
    }
    // A storm in which no bid was accepted measured a client that cannot
    // read its answers, not sitga.
    assert!(accepted > 0, "no bid accepted over WebSocket");
    let elapsed = elapsed.as_secs_f64();
    latencies.sort_unstable();
    let rate = accepted as f64 / elapsed;
    let answers_per_s = (accepted as f64 + rejected as f64) / elapsed;
    // (cores busy, ms per accepted bid) of a process over the phase.
    let cpu = |before: f64, after: f64| {
        (
            (after - before) / elapsed,
            1e3 * (after - before) / accepted as f64,
        )
    };
    let sitga_cpu = cpu(cpu_before.0, cpu_after.0);
    let bench_cpu = cpu(cpu_before.1, cpu_after.1);
    println!("| sitga over WebSocket | {bidders} | {rate:.0} |");
    rows.push(serde_json::json!({ "phase": "sitga over WebSocket", "concurrency": bidders, "accepted_per_s": rate }));
    // The same clients against a server that does nothing but WebSocket:
    // the ceiling of the phase above on these cores.
    let transport = if format == Format::Plain {
        Some(transport_phase(&ids[1..], auction.id, length).await)
    } else {
        None
    };
    if let Some(t) = &transport {
        println!(
            "| WebSocket only: the same clients, an in-memory server | {bidders} | {:.0} |",
            t.rate
        );
        rows.push(serde_json::json!({ "phase": "WebSocket only (in-memory server)", "concurrency": bidders, "accepted_per_s": t.rate }));
    }
    println!();
    println!(
        "- bid engine / single-client limit: **{:.0} %** (median of {rounds} back-to-back rounds)",
        100.0 * engine_ratio
    );
    println!(
        "- WebSocket storm / single-client limit (median of the rounds' limits): **{:.0} %**",
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
        "- CPU over the WebSocket phase (cores busy; ms per accepted bid): sitga {:.2}; {:.2}, the bench's clients {:.2}; {:.2}",
        sitga_cpu.0, sitga_cpu.1, bench_cpu.0, bench_cpu.1,
    );
    if let Some(t) = &transport {
        println!(
            "- the same clients against the in-memory server (no database, no rules): sitga over WebSocket / it **{:.0} %**, it / the bid engine {:.0} %; bids answered per second sitga / it **{:.0} %** ({:.0} / {:.0}); refused bids per accepted one: sitga {:.0}, it {:.0}; its CPU per accepted bid: server {:.2} ms, the bench's clients {:.2} ms",
            100.0 * rate / t.rate.max(1e-9),
            100.0 * t.rate / engine_rate.max(1e-9),
            100.0 * answers_per_s / t.answers_per_s.max(1e-9),
            answers_per_s,
            t.answers_per_s,
            rejected as f64 / accepted as f64,
            t.refused_per_accepted,
            t.server_ms,
            t.bench_ms,
        );
    }
    println!(
        "- ack latency: p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms ({} answers)",
        percentile(&latencies, 0.50).as_secs_f64() * 1e3,
        percentile(&latencies, 0.95).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        latencies.len()
    );

    // Invariants, from the database.
    let proxies = format == Format::Proxy;
    let stored = check::auction_history_with(&pool, auction.id, &ids, &acked, proxies).await;
    // Plain: every stored bid was acked (no other bidders). Proxy: the
    // proxies' answers are stored too, acked to nobody.
    if proxies {
        assert!(stored as usize >= acked.len(), "every acked bid is stored");
        println!(
            "- bids placed by proxies answering (stored, acked to nobody): {}",
            stored as usize - acked.len()
        );
    } else {
        assert_eq!(stored as usize, acked.len(), "every stored bid was acked");
    }
    closer.close(auction.id, true).await.expect("close");
    check::money_conserved(&pool, bidders).await;
    println!(
        "- invariants: gap-free increasing history, one leader, holds = price, money conserved: ok"
    );
    serde_json::json!({
        "scenario": "storm",
        "format": format!("{format:?}").to_lowercase(),
        "deployment": { "backend": backend.label(), "instances": target.instances },
        "bidders": bidders,
        "seconds": seconds,
        "rows": rows,
        "engine_ratio": engine_ratio,
        "websocket_ratio": rate / engine_rate.max(1e-9),
        "websocket_vs_limit": rate / single.max(1.0),
        "websocket_vs_transport": transport.as_ref().map(|t| rate / t.rate.max(1e-9)),
        "transport_vs_engine": transport.as_ref().map(|t| t.rate / engine_rate.max(1e-9)),
        "websocket_refused_per_accepted": rejected as f64 / accepted as f64,
        "answers_vs_transport": transport.as_ref().map(|t| answers_per_s / t.answers_per_s.max(1e-9)),
        "transport": transport.as_ref().map(|t| serde_json::json!({
            "refused_per_accepted": t.refused_per_accepted,
            "cpu": {
                "server": { "ms_per_accepted": t.server_ms },
                "bench": { "ms_per_accepted": t.bench_ms },
            },
        })),
        "websocket_cpu": {
            "sitga": { "cores_busy": sitga_cpu.0, "ms_per_accepted": sitga_cpu.1 },
            "bench": { "cores_busy": bench_cpu.0, "ms_per_accepted": bench_cpu.1 },
        },
        "ack_latency_ms": {
            "p50": crate::ms(percentile(&latencies, 0.50)),
            "p95": crate::ms(percentile(&latencies, 0.95)),
            "p99": crate::ms(percentile(&latencies, 0.99)),
        },
        "invariants_ok": true,
    })
}
