//! `sitga-bench storm --format dutch`: every bidder accepts the same step
//! of one clock auction at the same moment, over WebSocket, spread over the
//! instances. Per round: how fast the accepts are decided (against the raw
//! single-row transaction measured just before, on the same database), the
//! answer latencies, and the invariants: exactly `quantity` units sold, one
//! sale per accept, every other accept refused for a stated reason, money
//! conserved.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sitga_core::{AuctionId, UserId};
use sitga_persistence::auctions::{self, NewAuction};
use sitga_persistence::{DbPool, clocks, sales};
use tokio::sync::Barrier;

use crate::cluster::{self, Cluster};
use crate::{Target, check, median, percentile, seed, ws};

/// The clock's opening price; every bidder accepts it.
const PRICE: i64 = 30_000;

/// The storm's settings (shared with the other formats).
pub struct Settings {
    /// Bidders, each on its own connection.
    pub bidders: usize,
    /// Seconds of each baseline phase.
    pub seconds: u64,
    /// Frames per second each connection may send.
    pub ws_rate: u32,
    /// Rounds (a new clock auction each).
    pub rounds: usize,
    /// Where to run.
    pub target: Target,
}

/// One bidder's accept.
struct Outcome {
    /// `bought` or the refusal's code.
    code: String,
    /// The sale it opened.
    sale: Option<i64>,
    /// From the common start to its answer.
    took: Duration,
}

/// A clock auction of `seller`'s: `quantity` boxes from [`PRICE`], one slow
/// step (nobody's accept meets a step during a round).
async fn clock_auction(pool: &DbPool, seller: UserId, quantity: i64) -> AuctionId {
    let settings = sitga_auction::AuctionSettings::parse(
        &sitga_auction::AuctionSettingsInput {
            start_price: sitga_auction::Krw::new(PRICE),
            clock: Some(sitga_auction::ClockInput {
                floor_price: sitga_auction::Krw::new(PRICE - 10_000),
                step: sitga_auction::Krw::new(10_000),
                step_seconds: 600,
                quantity: Some(quantity),
                pause_seconds: None,
            }),
            ..Default::default()
        },
        chrono::Utc::now(),
    )
    .expect("clock settings");
    let mut conn = pool.get().await.expect("connection");
    auctions::insert(
        &mut conn,
        &NewAuction {
            seller_id: seller,
            title: "bench clock".into(),
            description: String::new(),
            species: None,
            photo_url: None,
            settings,
        },
    )
    .await
    .expect("insert clock auction")
    .id
}

/// Connects, joins, waits for everyone, accepts one unit, waits for the
/// answer.
async fn accept_once(
    addr: SocketAddr,
    token: String,
    room: AuctionId,
    n: usize,
    start: Arc<Barrier>,
) -> (Outcome, Instant) {
    let mut socket = ws::connect(addr, Some(&token), None)
        .await
        .expect("connect");
    ws::join(&mut socket, room).await.expect("join");
    // The join's state (and clock) frames first: the room is joined.
    loop {
        let frame = ws::next(&mut socket, Duration::from_secs(30))
            .await
            .expect("state frame");
        if frame["event"] == "state" {
            break;
        }
    }
    // Keep reading while the others join (their arrivals are room frames
    // too): a socket that stops reading is cut as a slow reader.
    let everyone = start.wait();
    tokio::pin!(everyone);
    loop {
        tokio::select! {
            _ = &mut everyone => break,
            frame = ws::next(&mut socket, Duration::from_secs(60)) => {
                assert!(frame.is_some(), "the connection ended before the start");
            }
        }
    }
    let began = Instant::now();
    ws::send(
        &mut socket,
        json!({"event": "accept", "room": room, "units": 1, "price": PRICE, "ref": n}),
    )
    .await
    .expect("send accept");
    let mut last = Value::Null;
    let outcome = loop {
        let frame = match ws::next_or_idle(&mut socket, Duration::from_secs(60)).await {
            ws::Next::Frame(frame) => frame,
            ws::Next::Idle => panic!("no answer to accept {n} within 60 s (last frame: {last})"),
            ws::Next::Closed => panic!("the connection of accept {n} ended (last frame: {last})"),
        };
        last = frame.clone();
        if frame["event"] == "system" && frame["ref"] == json!(n) {
            break Outcome {
                code: frame["code"].as_str().unwrap_or_default().to_owned(),
                sale: frame["sale_id"].as_i64(),
                took: began.elapsed(),
            };
        }
    };
    let _ = socket.close(None).await;
    (outcome, began)
}

/// Runs it.
pub async fn storm(settings: Settings) -> Value {
    let Settings {
        bidders,
        seconds,
        ws_rate,
        rounds,
        target,
    } = settings;
    let length = Duration::from_secs(seconds);
    let cluster::Setup {
        bin,
        db: _db,
        pool,
        backend,
    } = cluster::Setup::prepare(&target, 32).await;
    let quantity = (bidders / 4).max(1);
    println!(
        "# sitga-bench storm --format dutch — {}, {} instance(s), {bidders} bidders accepting one step of a {quantity}-unit clock",
        backend.label(),
        target.instances,
    );
    println!();
    println!(
        "| round | raw transaction (limit), 1 client | accepts decided/s | ratio | p50 / p95 / p99 ms | sold |"
    );
    println!("|---|---|---|---|---|---|");
    let ids = seed::accounts(&pool, bidders).await;
    let cluster = Cluster::start(&bin, &backend, target.instances, ws_rate).await;
    let mut ratios = Vec::new();
    let mut rates = Vec::new();
    let mut all_latencies = Vec::new();
    for round in 1..=rounds.max(1) {
        let limit = crate::storm::baseline(&pool, 1, length).await;
        let room = clock_auction(&pool, ids[0], quantity as i64).await;
        let start = Arc::new(Barrier::new(bidders));
        let tasks: Vec<_> = ids[1..]
            .iter()
            .enumerate()
            .map(|(n, id)| {
                tokio::spawn(accept_once(
                    cluster.pick(n).addr,
                    seed::token(*id),
                    room,
                    n,
                    Arc::clone(&start),
                ))
            })
            .collect();
        let mut outcomes = Vec::with_capacity(bidders);
        let mut first = None::<Instant>;
        for task in tasks {
            let (outcome, began) = task.await.expect("bidder task");
            first = Some(first.map_or(began, |f| f.min(began)));
            outcomes.push((outcome, began));
        }
        let first = first.expect("a bidder");
        let span = outcomes
            .iter()
            .map(|(o, began)| began.duration_since(first) + o.took)
            .max()
            .unwrap_or_default();
        let rate = bidders as f64 / span.as_secs_f64().max(1e-9);
        let mut latencies: Vec<Duration> = outcomes.iter().map(|(o, _)| o.took).collect();
        latencies.sort_unstable();
        let sold = verify_round(&pool, room, quantity, &outcomes).await;
        println!(
            "| {round} | {limit:.0} | {rate:.0} | {:.0} % | {:.1} / {:.1} / {:.1} | {sold} of {quantity} |",
            100.0 * rate / limit.max(1.0),
            percentile(&latencies, 0.50).as_secs_f64() * 1e3,
            percentile(&latencies, 0.95).as_secs_f64() * 1e3,
            percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        );
        ratios.push(rate / limit.max(1.0));
        rates.push(rate);
        all_latencies.extend(latencies);
    }
    drop(cluster);
    check::money_conserved(&pool, bidders).await;
    all_latencies.sort_unstable();
    let ratio = median(ratios);
    println!();
    println!(
        "- accepts decided / single-client limit: **{:.0} %** (median of {rounds} rounds)",
        100.0 * ratio
    );
    println!(
        "- invariants: exactly {quantity} units sold per round, one sale per accept, the rest refused (units_unavailable / auction_not_open), money conserved: ok"
    );
    json!({
        "scenario": "storm",
        "format": "dutch",
        "deployment": { "backend": backend.label(), "instances": target.instances },
        "bidders": bidders,
        "quantity": quantity,
        "accepts_per_s": median(rates),
        "accepts_vs_limit": ratio,
        "answer_latency_ms": {
            "p50": crate::ms(percentile(&all_latencies, 0.50)),
            "p95": crate::ms(percentile(&all_latencies, 0.95)),
            "p99": crate::ms(percentile(&all_latencies, 0.99)),
        },
        "invariants_ok": true,
    })
}

/// The round's invariants, from the answers and the database; returns the
/// units sold.
async fn verify_round(
    pool: &DbPool,
    room: AuctionId,
    quantity: usize,
    outcomes: &[(Outcome, Instant)],
) -> usize {
    let mut sales_seen = std::collections::HashSet::new();
    for (o, _) in outcomes {
        match o.code.as_str() {
            "bought" => {
                let sale = o.sale.expect("a bought answer names its sale");
                assert!(sales_seen.insert(sale), "sale {sale} answered twice");
            }
            "units_unavailable" | "auction_not_open" => {}
            other => panic!("unexpected answer to an accept: {other}"),
        }
    }
    let mut conn = pool.get().await.expect("connection");
    let auction = auctions::find(&mut conn, room)
        .await
        .expect("read auction")
        .expect("the auction");
    let clock = clocks::find(&mut conn, room)
        .await
        .expect("read clock")
        .expect("its clock");
    assert_eq!(sales_seen.len(), quantity, "every unit sold, once");
    // Each accept in the history made the sale one answer named.
    let history = auctions::bids_of(&mut conn, room, 0, quantity as i64 + 10)
        .await
        .expect("history");
    assert_eq!(
        history.len(),
        quantity,
        "one accept per unit in the history"
    );
    for bid in &history {
        let sale = sales::of_bid(&mut conn, room, bid.seq)
            .await
            .expect("sale of an accept")
            .expect("every accept made a sale");
        assert!(sales_seen.contains(&sale.get()), "sale {sale} was answered");
    }
    assert_eq!(auction.bid_count as usize, quantity, "one accept per unit");
    assert_eq!(clock.state().remaining, 0, "nothing left");
    assert_eq!(
        auction.status(),
        sitga_auction::AuctionStatus::Sold,
        "sold out"
    );
    sales_seen.len()
}
