//! Fault injection: two sitga instances on a private MariaDB and a private
//! Redis that this run starts on free ports with their own data
//! directories (the machine's shared services are never touched).
//!
//! - `kill`: `kill -9` one instance in the middle of a bid storm, restart
//!   it. Every bid acked as accepted must be in the database; clients fail
//!   over to the other instance; watchers resync from `seq` / `bid_seq`
//!   gaps and end up knowing the exact history; concurrent closes through
//!   both instances settle once.
//! - `redis`: Redis stopped for N seconds mid-auction. Bidding keeps
//!   working on both instances, REST is unaffected, and cross-instance
//!   fan-out resumes when Redis is back.
//! - `mysql`: MariaDB restarted under read and write load. Requests fail
//!   fast with 503 `database_unavailable`, the pools recover by themselves,
//!   and no acked write is lost.

use sitga_core::{AuctionId, UserId};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sitga_persistence::test_support::TestDatabase;
use sitga_persistence::{DbPool, PoolOptions, auctions, wallets};
use tokio::task::JoinHandle;

use crate::cluster::{self, Cluster};
use crate::private::{PrivateMariaDb, PrivateRedis};
use crate::{check, percentile, seed, ws};

/// Which fault to inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Fault {
    /// kill -9 one of two instances mid-storm.
    Kill,
    /// Redis down mid-auction.
    Redis,
    /// MariaDB restarted under load.
    Mysql,
}

/// `sitga-bench faults`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The faults to run, in order.
    #[arg(long, value_delimiter = ',', default_value = "kill,redis,mysql")]
    only: Vec<Fault>,
    /// Bidders in the kill scenario (half on each instance).
    #[arg(long, default_value_t = 40)]
    bidders: usize,
    /// Watchers in the kill and Redis scenarios (half on each instance).
    #[arg(long, default_value_t = 10)]
    watchers: usize,
    /// Seconds of storm in the kill scenario (the kill comes at a third).
    #[arg(long, default_value_t = 12)]
    storm_seconds: u64,
    /// Seconds the killed instance stays down.
    #[arg(long, default_value_t = 2)]
    kill_down_seconds: u64,
    /// Seconds Redis stays down.
    #[arg(long, default_value_t = 30)]
    redis_down_seconds: u64,
    /// Seconds MariaDB stays down.
    #[arg(long, default_value_t = 10)]
    mysql_down_seconds: u64,
    /// The `sitga` binary (default: next to this one).
    #[arg(long)]
    sitga_bin: Option<std::path::PathBuf>,
}

/// Runs it.
pub async fn run(args: Args) -> serde_json::Value {
    let bin = cluster::sitga_binary(args.sitga_bin.clone());
    let mut mariadb = PrivateMariaDb::start().await;
    let mut redis = PrivateRedis::start().await;
    println!(
        "# sitga-bench faults — two instances on a private MariaDB (port {}) and Redis (port {})",
        mariadb.port, redis.port
    );
    for fault in &args.only {
        let db = TestDatabase::create_on(Some(mariadb.server_url()))
            .await
            .expect("database on the private MariaDB");
        let pool = DbPool::connect(&db.url, PoolOptions::default())
            .await
            .expect("pool");
        let mut backend = cluster::backend(&db, Some(redis.url()));
        backend.redis_url = Some(redis.url());
        let mut cluster = Cluster::start(&bin, &backend, 2, 1_000).await;
        match fault {
            Fault::Kill => kill(&args, &pool, &mut cluster).await,
            Fault::Redis => redis_outage(&args, &pool, &cluster, &mut redis).await,
            Fault::Mysql => mysql_restart(&args, &pool, &cluster, &mut mariadb).await,
        }
        drop(cluster);
        drop(pool);
        drop(db);
    }
    // Every fault's checks assert: reaching here is passing them.
    serde_json::json!({
        "scenario": "faults",
        "deployment": { "backend": "mysql+redis (private servers)", "instances": 2 },
        "faults": args.only.iter().map(|f| format!("{f:?}").to_lowercase()).collect::<Vec<_>>(),
        "invariants_ok": true,
    })
}

fn addrs(cluster: &Cluster) -> Vec<SocketAddr> {
    cluster.instances.iter().map(|i| i.addr).collect()
}

/// What a bidder was told.
#[derive(Default)]
struct BidLog {
    /// Accepted bids: amount, the instance that acked it, when.
    accepted: Vec<(i64, usize, Instant)>,
    /// Bids sent whose answer never came (the connection died).
    unanswered: u64,
    /// Of those, sent again with the same `ref` after failover: answered
    /// from the first (it had been committed) or decided now (it had not).
    resent_replayed: u64,
    resent_decided: u64,
    reconnects: u64,
}

/// A bidder that keeps bidding the minimum next amount; when its
/// connection dies it fails over to the next instance (as a proxy would).
async fn bidder(
    addrs: Vec<SocketAddr>,
    home: usize,
    token: String,
    room: AuctionId,
    pace: Duration,
    stop: Arc<AtomicBool>,
) -> BidLog {
    let mut log = BidLog::default();
    let mut at = home;
    // The frame in flight, the one to send again after a failover, and the
    // one sent again whose answer is awaited.
    let mut in_flight: Option<Value> = None;
    let mut resend: Option<Value> = None;
    let mut resent: Option<Value> = None;
    'connect: while !stop.load(Ordering::Relaxed) {
        let Ok(mut socket) = ws::connect(addrs[at], Some(&token), None).await else {
            at = (at + 1) % addrs.len();
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        if ws::join(&mut socket, room).await.is_err() {
            continue;
        }
        let mut me = ws::MinBidder::default();
        // The frame whose answer was lost goes again first, same `ref`: it
        // must be answered from the first decision, never placed twice.
        if let Some(mut frame) = resend.take() {
            frame["resend"] = json!(true);
            me.resending(&frame);
            if ws::send(&mut socket, frame.clone()).await.is_err() {
                resend = Some(frame);
                at = (at + 1) % addrs.len();
                continue;
            }
            resent = Some(frame);
        }
        loop {
            let stopping = stop.load(Ordering::Relaxed);
            if !stopping
                && let Some(frame) = me.bid(room, &format!("{home}-{at}-{}", log.reconnects))
            {
                in_flight = Some(frame.clone());
                if ws::send(&mut socket, frame).await.is_err() {
                    log.unanswered += u64::from(me.abandon());
                    resend = in_flight.take();
                    break;
                }
            }
            if stopping && !me.waiting() {
                break 'connect;
            }
            let Some(text) = ws::next_text(&mut socket, Duration::from_secs(5)).await else {
                // The instance died (or stalled): fail over.
                if me.abandon() {
                    log.unanswered += 1;
                    resend = in_flight.take().or_else(|| resent.take());
                }
                break;
            };
            let Some(f) = ws::Frame::parse(&text) else {
                continue;
            };
            let Some((answer, _)) = me.on_frame(&f) else {
                continue;
            };
            in_flight = None;
            if resent.take().is_some() {
                if f.replayed == Some(true) {
                    log.resent_replayed += 1;
                } else {
                    log.resent_decided += 1;
                }
            }
            match answer {
                ws::Answer::Accepted(amount) => log.accepted.push((amount, at, Instant::now())),
                ws::Answer::RateLimited => tokio::time::sleep(Duration::from_millis(20)).await,
                ws::Answer::Refused => {}
            }
            tokio::time::sleep(pace).await;
        }
        log.reconnects += 1;
        at = (at + 1) % addrs.len();
    }
    log
}

/// Joins `room` through `addr` and bids far above the price the room's
/// state names: accepted unless the instance no longer takes bids. The
/// amount bid, if accepted.
async fn probe(addr: SocketAddr, token: &str, room: AuctionId) -> Option<i64> {
    let mut socket = ws::connect(addr, Some(token), None).await.ok()?;
    ws::join(&mut socket, room).await.ok()?;
    let min_next = loop {
        let f = ws::next(&mut socket, Duration::from_secs(5)).await?;
        if f["event"] == "state" {
            break f["min_next_bid"].as_i64()?;
        }
    };
    let amount = min_next + 1_000_000;
    let bid = json!({"event": "bid", "room": room, "amount": amount, "ref": "probe"});
    ws::send(&mut socket, bid).await.ok()?;
    loop {
        let f = ws::next(&mut socket, Duration::from_secs(5)).await?;
        if f["ref"] == "probe" {
            return (f["code"] == "bid_accepted").then_some(amount);
        }
    }
}

/// What a watcher ended up knowing.
#[derive(Default)]
struct WatchLog {
    /// bid_seq → amount, from live frames and resyncs.
    known: BTreeMap<i64, i64>,
    /// Accepted amounts that arrived live, and when.
    live: Vec<(i64, Instant)>,
    /// History reloads after a gap.
    resyncs: u64,
    reconnects: u64,
    closed: u64,
    /// `seq` values that went backwards (must stay 0).
    seq_backwards: u64,
}

/// Reloads the bid history over REST until it meets what is known.
async fn resync(
    client: &reqwest::Client,
    base: &str,
    room: AuctionId,
    known: &mut BTreeMap<i64, i64>,
) {
    let contiguous = known
        .keys()
        .enumerate()
        .take_while(|(i, seq)| **seq == *i as i64 + 1)
        .count() as i64;
    for page in 1.. {
        let url = format!("{base}/api/v1/auctions/{room}/bids?page={page}&per_page=100");
        let Ok(response) = client.get(&url).send().await else {
            return;
        };
        let Ok(body) = response.json::<Value>().await else {
            return;
        };
        let items = body["items"].as_array().cloned().unwrap_or_default();
        let mut lowest = i64::MAX;
        for item in &items {
            let (Some(seq), Some(amount)) = (item["seq"].as_i64(), item["amount"].as_i64()) else {
                continue;
            };
            known.insert(seq, amount);
            lowest = lowest.min(seq);
        }
        if items.len() < 100 || lowest <= contiguous + 1 {
            return;
        }
    }
}

/// A watcher that follows the room; on a reconnect or a gap (in `seq`, or
/// a `bid_count` it has not seen bids for) it reloads the history. Ends
/// after the `closed` frame, or when told to.
async fn watcher(
    addrs: Vec<SocketAddr>,
    home: usize,
    room: AuctionId,
    stop: tokio::sync::watch::Receiver<bool>,
) -> WatchLog {
    let client = reqwest::Client::new();
    let mut log = WatchLog::default();
    let mut at = home;
    let mut last_seq: Option<i64> = None;
    while !*stop.borrow() {
        let Ok(mut socket) = ws::connect(addrs[at], None, None).await else {
            at = (at + 1) % addrs.len();
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        if ws::join(&mut socket, room).await.is_err() {
            continue;
        }
        let base = format!("http://{}", addrs[at]);
        resync(&client, &base, room, &mut log.known).await;
        loop {
            let f = match ws::next_or_idle(&mut socket, Duration::from_millis(500)).await {
                ws::Next::Frame(f) => f,
                ws::Next::Idle if *stop.borrow() => return log,
                ws::Next::Idle => continue,
                ws::Next::Closed => break,
            };
            let mut gap = false;
            if let Some(seq) = f["seq"].as_i64() {
                match last_seq {
                    Some(last) if seq < last => log.seq_backwards += 1,
                    Some(last) if seq > last + 1 => gap = true,
                    _ => {}
                }
                last_seq = Some(seq);
            }
            match f["event"].as_str() {
                Some("message") if f["code"] == "bid_accepted" => {
                    if let (Some(seq), Some(amount)) = (f["bid_seq"].as_i64(), f["amount"].as_i64())
                    {
                        log.known.insert(seq, amount);
                        log.live.push((amount, Instant::now()));
                    }
                }
                Some("state") => {
                    // Known bids are exactly 1..=n when nothing was missed.
                    let count = f["bid_count"].as_i64().unwrap_or(0);
                    if (log.known.len() as i64) < count {
                        gap = true;
                    }
                }
                Some("closed") => {
                    log.closed += 1;
                    resync(&client, &base, room, &mut log.known).await;
                    return log;
                }
                _ => {}
            }
            if gap {
                log.resyncs += 1;
                resync(&client, &base, room, &mut log.known).await;
            }
        }
        log.reconnects += 1;
        last_seq = None;
        at = (at + 1) % addrs.len();
    }
    log
}

fn spawn_watchers(
    cluster: &Cluster,
    count: usize,
    room: AuctionId,
    stop: &tokio::sync::watch::Receiver<bool>,
) -> Vec<(usize, JoinHandle<WatchLog>)> {
    (0..count)
        .map(|i| {
            let home = i % cluster.instances.len();
            (
                home,
                tokio::spawn(watcher(addrs(cluster), home, room, stop.clone())),
            )
        })
        .collect()
}

fn spawn_bidders(
    cluster: &Cluster,
    ids: &[UserId],
    room: AuctionId,
    pace: Duration,
    stop: &Arc<AtomicBool>,
) -> Vec<JoinHandle<BidLog>> {
    ids.iter()
        .enumerate()
        .map(|(i, &id)| {
            let home = i % cluster.instances.len();
            tokio::spawn(bidder(
                addrs(cluster),
                home,
                seed::token(id),
                room,
                pace,
                stop.clone(),
            ))
        })
        .collect()
}

/// The auction's stored history, bid_seq → amount.
async fn stored_history(pool: &DbPool, room: AuctionId) -> BTreeMap<i64, i64> {
    let mut conn = pool.get().await.expect("connection");
    auctions::bids_of(&mut conn, room, 0, i64::MAX)
        .await
        .expect("bids")
        .into_iter()
        .map(|b| (b.seq, b.amount.get()))
        .collect()
}

/// The seller closes early through every instance at once, several times:
/// exactly one close may succeed.
async fn close_everywhere(cluster: &Cluster, seller: UserId, room: AuctionId) -> usize {
    let client = reqwest::Client::new();
    let token = seed::token(seller);
    let requests = (0..8).map(|i| {
        let url = format!("{}/api/v1/auctions/{room}/close", cluster.pick(i).http());
        let (client, token) = (client.clone(), token.clone());
        tokio::spawn(async move {
            client
                .post(url)
                .bearer_auth(token)
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0)
        })
    });
    let mut ok = 0;
    for request in requests.collect::<Vec<_>>() {
        let status = request.await.unwrap_or(0);
        assert!(
            status == 200 || status == 409,
            "close answered {status} (200 once, 409 after)"
        );
        ok += usize::from(status == 200);
    }
    ok
}

async fn kill(args: &Args, pool: &DbPool, cluster: &mut Cluster) {
    let ids = seed::accounts(pool, args.bidders).await;
    let auction = seed::auction(pool, ids[0]).await;
    let stop = Arc::new(AtomicBool::new(false));
    let (stop_watchers, watching) = tokio::sync::watch::channel(false);
    let watchers = spawn_watchers(cluster, args.watchers, auction.id, &watching);
    let bidders = spawn_bidders(cluster, &ids[1..], auction.id, Duration::ZERO, &stop);

    let storm = Duration::from_secs(args.storm_seconds);
    let began = Instant::now();
    tokio::time::sleep(storm / 3).await;
    cluster.kill(1);
    let killed_at = began.elapsed();
    tokio::time::sleep(Duration::from_secs(args.kill_down_seconds)).await;
    cluster.restart(1).await;
    let back_at = began.elapsed();
    tokio::time::sleep(storm.saturating_sub(began.elapsed())).await;
    stop.store(true, Ordering::Relaxed);
    let mut logs = Vec::new();
    for b in bidders {
        logs.push(b.await.expect("bidder"));
    }
    let acked: Vec<i64> = logs
        .iter()
        .flat_map(|l| l.accepted.iter().map(|a| a.0))
        .collect();
    let unanswered: u64 = logs.iter().map(|l| l.unanswered).sum();
    let replayed: u64 = logs.iter().map(|l| l.resent_replayed).sum();
    let redecided: u64 = logs.iter().map(|l| l.resent_decided).sum();
    let bidder_reconnects: u64 = logs.iter().map(|l| l.reconnects).sum();
    let distinct: std::collections::HashSet<i64> = acked.iter().copied().collect();
    assert_eq!(distinct.len(), acked.len(), "a bid acked twice");
    assert!(
        replayed + redecided <= unanswered,
        "more answers to re-sent frames ({replayed} + {redecided}) than frames left unanswered ({unanswered})"
    );

    // Everyone watching; close through both instances at once.
    let settled = close_everywhere(cluster, ids[0], auction.id).await;
    let deadline = tokio::time::sleep(Duration::from_secs(15));
    tokio::pin!(deadline);
    let mut watch_logs = Vec::new();
    for (_, w) in watchers {
        tokio::select! {
            log = w => watch_logs.push(log.expect("watcher")),
            () = &mut deadline => { let _ = stop_watchers.send(true); }
        }
    }
    let _ = stop_watchers.send(true);

    let stored = check::auction_history(pool, auction.id, &ids, &acked).await;
    let history = stored_history(pool, auction.id).await;
    check::money_conserved(pool, args.bidders).await;
    let exact = watch_logs.iter().filter(|w| w.known == history).count();
    let watcher_reconnects: u64 = watch_logs.iter().map(|w| w.reconnects).sum();
    let resyncs: u64 = watch_logs.iter().map(|w| w.resyncs).sum();
    let closed: Vec<u64> = watch_logs.iter().map(|w| w.closed).collect();
    let backwards: u64 = watch_logs.iter().map(|w| w.seq_backwards).sum();

    println!();
    println!(
        "## kill -9 mid-storm: {} bidders, {} watchers, {} s storm; instance 2 killed at {:.1} s, serving again at {:.1} s",
        args.bidders,
        args.watchers,
        args.storm_seconds,
        killed_at.as_secs_f64(),
        back_at.as_secs_f64()
    );
    println!();
    println!("| check | result |");
    println!("|---|---|");
    println!(
        "| bids acked as accepted | {} — all in the database |",
        acked.len()
    );
    println!(
        "| bids stored | {stored}: the acked ones + {} whose answer died with the instance |",
        stored as usize - acked.len()
    );
    println!("| bids sent but never answered (connection died) | {unanswered} |");
    println!(
        "| of those, sent again with the same `ref` after failover: answered from the committed bid (`replayed`) / decided then (never committed) | {replayed} / {redecided} — none stored twice (every stored bid is acked once or unanswered) |"
    );
    println!("| bidder failovers | {bidder_reconnects} |");
    println!("| watcher reconnects / gap resyncs | {watcher_reconnects} / {resyncs} |");
    println!(
        "| watchers whose history equals the database's | {exact} of {} |",
        watch_logs.len()
    );
    println!("| `seq` going backwards | {backwards} |");
    println!("| concurrent closes through both instances that succeeded | {settled} of 8 |");
    println!("| `closed` frames per watcher | {closed:?} |");
    println!("| money conserved after close (settled once) | ok |");
    assert_eq!(settled, 1, "exactly one close succeeds");
    assert_eq!(
        exact,
        watch_logs.len(),
        "every watcher resynced to the stored history"
    );
    assert!(
        closed.iter().all(|&c| c == 1),
        "one closed frame per watcher"
    );
    assert_eq!(backwards, 0, "seq never goes backwards");
}

/// One request: when, how long, status (0: no answer), error code, which
/// instance.
type Hit = (Instant, Duration, u16, String, usize);
type Hits = Vec<Hit>;

fn spawn_pollers(
    bases: &[String],
    paths: &[String],
    per_instance: usize,
    stop: &Arc<AtomicBool>,
) -> Vec<JoinHandle<Hits>> {
    (0..bases.len() * per_instance)
        .map(|i| {
            let instance = i % bases.len();
            let base = bases[instance].clone();
            let paths = paths.to_vec();
            let stop = stop.clone();
            tokio::spawn(async move {
                let client = reqwest::Client::builder()
                    .timeout(Duration::from_secs(30))
                    .build()
                    .expect("client");
                let mut hits = Vec::new();
                let mut n = i;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let t = Instant::now();
                    let (status, code) = match client
                        .get(format!("{base}{}", paths[n % paths.len()]))
                        .send()
                        .await
                    {
                        Ok(r) => {
                            let status = r.status().as_u16();
                            let body: Value = r.json().await.unwrap_or(Value::Null);
                            (status, body["error"].as_str().unwrap_or("").to_owned())
                        }
                        Err(_) => (0, "connection".into()),
                    };
                    hits.push((t, t.elapsed(), status, code, instance));
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                hits
            })
        })
        .collect()
}

/// Queues a forecast retrain through instance `i` (the Redis job queue) and
/// waits for a worker on either instance to finish it: how long it took.
async fn queue_round_trip(cluster: &Cluster, i: usize, admin_token: &str) -> Option<Duration> {
    let client = reqwest::Client::new();
    let base = cluster.instances[i].http();
    let began = Instant::now();
    let job: Value = client
        .post(format!("{base}/api/v1/forecasts/retrain"))
        .bearer_auth(admin_token)
        .json(&json!({}))
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    let Some(id) = job["id"].as_str().map(str::to_owned) else {
        eprintln!("retrain refused: {job}");
        return None;
    };
    while began.elapsed() < Duration::from_secs(30) {
        let status: Value = client
            .get(format!("{base}/api/v1/forecasts/jobs/{id}"))
            .bearer_auth(admin_token)
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        if matches!(status["status"].as_str(), Some("done" | "failed")) {
            return Some(began.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

async fn admin_token(pool: &DbPool, user: UserId) -> String {
    let mut conn = pool.get().await.expect("connection");
    sitga_persistence::users::grant_role(&mut conn, user, sitga_user::Role::Admin)
        .await
        .expect("grant admin");
    seed::token_with_roles(user, &[sitga_user::Role::Admin])
}

async fn redis_outage(args: &Args, pool: &DbPool, cluster: &Cluster, redis: &mut PrivateRedis) {
    // The seller, nine bidders and one prober per instance.
    let ids = seed::accounts(pool, 12).await;
    let auction = seed::auction(pool, ids[0]).await;
    let stop = Arc::new(AtomicBool::new(false));
    let (stop_watchers, watching) = tokio::sync::watch::channel(false);
    let watchers = spawn_watchers(cluster, args.watchers.max(2), auction.id, &watching);
    // Watchers first: the measurement is about what they receive.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let bidders = spawn_bidders(
        cluster,
        &ids[1..10],
        auction.id,
        Duration::from_millis(20),
        &stop,
    );
    let bases: Vec<String> = cluster.instances.iter().map(|i| i.http()).collect();
    let pollers = spawn_pollers(
        &bases,
        &[
            format!("/api/v1/auctions/{}", auction.id),
            "/api/v1/auctions?status=open".into(),
        ],
        2,
        &stop,
    );

    // Pickup history, so that a retrain has something to fit.
    // The bench accounts are already there: demo data goes in beside them.
    cluster.run_command(&["demo-data", "--force"]);
    let admin = admin_token(pool, ids[0]).await;
    let queue_before = queue_round_trip(cluster, 0, &admin).await;
    let began = Instant::now();
    tokio::time::sleep(Duration::from_secs(5)).await;
    redis.stop();
    let down = Instant::now();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let probes = [
        probe(cluster.instances[0].addr, &seed::token(ids[10]), auction.id).await,
        probe(cluster.instances[1].addr, &seed::token(ids[11]), auction.id).await,
    ];
    tokio::time::sleep(Duration::from_secs(args.redis_down_seconds).saturating_sub(down.elapsed()))
        .await;
    redis.launch().await;
    let up = Instant::now();
    tokio::time::sleep(Duration::from_secs(10)).await;
    // The job workers were cut off too: jobs must flow again, both ways.
    let queue_after = [
        queue_round_trip(cluster, 0, &admin).await,
        queue_round_trip(cluster, 1, &admin).await,
    ];
    stop.store(true, Ordering::Relaxed);
    let _ = stop_watchers.send(true);
    let mut bids = Vec::new();
    for b in bidders {
        bids.extend(b.await.expect("bidder").accepted);
    }
    let mut hits: Hits = Vec::new();
    for p in pollers {
        hits.extend(p.await.expect("poller"));
    }
    let mut watch_logs = Vec::new();
    for (home, w) in watchers {
        watch_logs.push((home, w.await.expect("watcher")));
    }
    let acked: Vec<i64> = bids
        .iter()
        .map(|b| b.0)
        .chain(probes.iter().flatten().copied())
        .collect();
    check::auction_history(pool, auction.id, &ids, &acked).await;

    // Relays reconnect once a second; give them a moment.
    let grace = Duration::from_secs(3);
    let phases = [
        // Frames of bids acked in the last moment may die with Redis.
        (
            "before (Redis up)",
            began,
            down - Duration::from_millis(500),
        ),
        ("Redis down", down, up),
        ("after (Redis back, +3 s)", up + grace, Instant::now()),
    ];
    println!();
    println!(
        "## Redis down for {} s mid-auction: 10 bidders, {} watchers, 4 REST pollers, two instances",
        args.redis_down_seconds,
        watch_logs.len()
    );
    println!();
    println!(
        "| phase | s | accepted bids/s (instance 1 / 2) | REST requests | REST 5xx | watchers on the other instance that got each bid live |"
    );
    println!("|---|---|---|---|---|---|");
    let mut delivery = Vec::new();
    for (label, from, to) in phases {
        let secs = to.saturating_duration_since(from).as_secs_f64().max(1e-9);
        let in_phase: Vec<&(i64, usize, Instant)> =
            bids.iter().filter(|b| b.2 >= from && b.2 < to).collect();
        let per = |i: usize| in_phase.iter().filter(|b| b.1 == i).count() as f64 / secs;
        let rest: Vec<_> = hits.iter().filter(|h| h.0 >= from && h.0 < to).collect();
        let errors = rest.iter().filter(|h| h.2 >= 500 || h.2 == 0).count();
        let (mut expected, mut got) = (0usize, 0usize);
        for bid in &in_phase {
            for (home, log) in &watch_logs {
                if *home != bid.1 {
                    expected += 1;
                    got += usize::from(log.live.iter().any(|(a, _)| *a == bid.0));
                }
            }
        }
        let share = 100.0 * got as f64 / expected.max(1) as f64;
        delivery.push((share, per(0), per(1), errors));
        println!(
            "| {label} | {secs:.0} | {:.0} / {:.0} | {} | {errors} | {share:.1} % |",
            per(0),
            per(1),
            rest.len()
        );
    }
    let first_cross = bids
        .iter()
        .filter(|b| b.2 >= up)
        .filter(|b| {
            watch_logs
                .iter()
                .any(|(home, log)| *home != b.1 && log.live.iter().any(|(a, _)| *a == b.0))
        })
        .map(|b| b.2.duration_since(up))
        .min();
    println!();
    println!(
        "- first bid relayed across instances after Redis came back: {}",
        first_cross.map_or("never".into(), |d| format!("{:.1} s", d.as_secs_f64()))
    );
    let backwards: u64 = watch_logs.iter().map(|w| w.1.seq_backwards).sum();
    println!("- `seq` going backwards for any watcher: {backwards}");
    let ms = |d: Option<Duration>| d.map_or("never".into(), |d| format!("{} ms", d.as_millis()));
    println!(
        "- a forecast retrain through the Redis job queue, queued to done: before {}; after, via instance 1 {} and via instance 2 {}",
        ms(queue_before),
        ms(queue_after[0]),
        ms(queue_after[1])
    );
    assert!(
        queue_before.is_some() && queue_after.iter().all(Option::is_some),
        "the job queue works before and after the outage"
    );
    println!(
        "- a bid far above the price through each instance while Redis was down: {}",
        probes
            .iter()
            .map(|p| if p.is_some() {
                "accepted"
            } else {
                "NOT accepted"
            })
            .collect::<Vec<_>>()
            .join(" / ")
    );
    // Which instance's bidders win the races meanwhile is timing: neither
    // sees the other's bids, so one side may learn every price late.
    assert!(
        delivery[1].1 + delivery[1].2 > 0.0 && probes.iter().all(Option::is_some),
        "both instances keep accepting bids while Redis is down"
    );
    assert!(delivery.iter().all(|d| d.3 == 0), "no 5xx from REST");
    assert!(
        delivery[0].0 >= 99.0,
        "cross-instance fan-out works before the outage"
    );
    assert!(
        delivery[2].0 >= 99.0,
        "cross-instance fan-out resumes after the outage"
    );
    assert_eq!(backwards, 0, "seq never goes backwards");
}

async fn mysql_restart(
    args: &Args,
    pool: &DbPool,
    cluster: &Cluster,
    mariadb: &mut PrivateMariaDb,
) {
    let ids = seed::accounts(pool, 8).await;
    let auction = seed::auction(pool, ids[0]).await;
    let stop = Arc::new(AtomicBool::new(false));
    let charged = Arc::new(AtomicU64::new(0));
    // Writers: each charges its own balance 1,000 at a time.
    let writers: Vec<JoinHandle<(i64, i64, Hits)>> = ids[1..]
        .iter()
        .enumerate()
        .map(|(i, &id)| {
            let instance = i % cluster.instances.len();
            let base = cluster.instances[instance].http();
            let (stop, charged) = (stop.clone(), charged.clone());
            tokio::spawn(async move {
                let client = reqwest::Client::builder()
                    .timeout(Duration::from_secs(30))
                    .build()
                    .expect("client");
                let token = seed::token(id);
                let (mut acked, mut unknown) = (0i64, 0i64);
                let mut hits = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let t = Instant::now();
                    let response = client
                        .post(format!("{base}/api/v1/me/balance/charge"))
                        .bearer_auth(&token)
                        .json(&json!({"amount": 1_000}))
                        .send()
                        .await;
                    let (status, code) = match response {
                        Ok(r) => {
                            let status = r.status().as_u16();
                            let body: Value = r.json().await.unwrap_or(Value::Null);
                            (status, body["error"].as_str().unwrap_or("").to_owned())
                        }
                        Err(_) => (0, "connection".into()),
                    };
                    if status == 200 {
                        acked += 1_000;
                        charged.fetch_add(1, Ordering::Relaxed);
                    } else if status >= 500 || status == 0 {
                        // It may or may not have committed before the failure.
                        unknown += 1_000;
                    }
                    hits.push((t, t.elapsed(), status, code, instance));
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                (acked, unknown, hits)
            })
        })
        .collect();
    let bases: Vec<String> = cluster.instances.iter().map(|i| i.http()).collect();
    let readers = spawn_pollers(
        &bases,
        &[format!("/api/v1/auctions/{}", auction.id)],
        2,
        &stop,
    );

    let began = Instant::now();
    tokio::time::sleep(Duration::from_secs(3)).await;
    mariadb.stop();
    let down = Instant::now();
    tokio::time::sleep(Duration::from_secs(args.mysql_down_seconds)).await;
    mariadb.launch().await;
    let up = Instant::now();
    tokio::time::sleep(Duration::from_secs(8)).await;
    stop.store(true, Ordering::Relaxed);
    let mut hits: Hits = Vec::new();
    let mut balances = Vec::new();
    for (w, &id) in writers.into_iter().zip(&ids[1..]) {
        let (acked, unknown, h) = w.await.expect("writer");
        hits.extend(h);
        balances.push((id, acked, unknown));
    }
    for r in readers {
        hits.extend(r.await.expect("reader"));
    }
    let mut lost = 0;
    {
        let mut conn = pool.get().await.expect("connection after the restart");
        for (id, acked, unknown) in &balances {
            let wallet = wallets::get(&mut conn, *id).await.expect("wallet");
            let extra = wallet.balance.get() - seed::BIDDER_BALANCE;
            if extra < *acked {
                lost += acked - extra;
            }
            assert!(
                extra <= acked + unknown,
                "no charge counted that was never made"
            );
        }
    }

    let during: Vec<_> = hits.iter().filter(|h| h.0 >= down && h.0 < up).collect();
    let failed: Vec<_> = during.iter().filter(|h| h.2 != 200).collect();
    let unavailable = failed
        .iter()
        .filter(|h| h.2 == 503 && h.3 == "database_unavailable")
        .count();
    let mut fail_latency: Vec<Duration> = failed.iter().map(|h| h.1).collect();
    fail_latency.sort_unstable();
    let other_5xx: Vec<_> = hits
        .iter()
        .filter(|h| (h.2 >= 500 || h.2 == 0) && !(h.2 == 503 && h.3 == "database_unavailable"))
        .map(|h| (h.2, h.3.clone()))
        .collect();
    // Per instance: its first success after MariaDB was back; the slowest.
    let recovered = (0..cluster.instances.len())
        .map(|i| {
            hits.iter()
                .filter(|h| h.4 == i && h.0 >= up && h.2 == 200)
                .map(|h| h.0.duration_since(up))
                .min()
                .unwrap_or(Duration::MAX)
        })
        .max()
        .unwrap_or(Duration::MAX);
    let after: Vec<_> = hits
        .iter()
        .filter(|h| h.0 >= up + Duration::from_secs(2))
        .collect();
    let after_ok = after.iter().filter(|h| h.2 == 200).count();
    let acked_total: i64 = balances.iter().map(|b| b.1).sum();

    println!();
    println!(
        "## MariaDB restarted (down {} s) under load: 8 writers (balance charges), 4 readers, two instances",
        args.mysql_down_seconds
    );
    println!();
    println!("| check | result |");
    println!("|---|---|");
    println!(
        "| requests before the stop | {} ({} s) |",
        hits.iter().filter(|h| h.0 < down).count(),
        down.duration_since(began).as_secs()
    );
    println!(
        "| requests while down | {} — {} answered 503 `database_unavailable` |",
        during.len(),
        unavailable
    );
    println!(
        "| time to fail while down | p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms |",
        percentile(&fail_latency, 0.5).as_secs_f64() * 1e3,
        percentile(&fail_latency, 0.99).as_secs_f64() * 1e3,
        fail_latency
            .last()
            .copied()
            .unwrap_or_default()
            .as_secs_f64()
            * 1e3
    );
    println!(
        "| other 5xx or dropped connections (whole run) | {} |",
        other_5xx.len()
    );
    println!(
        "| first success on each instance after MariaDB answered again (slowest) | {:.2} s |",
        recovered.as_secs_f64()
    );
    println!(
        "| requests from 2 s after the restart | {} — {} succeeded |",
        after.len(),
        after_ok
    );
    println!(
        "| charges acked | {} ({} KRW) — lost: {lost} KRW |",
        charged.load(Ordering::Relaxed),
        acked_total
    );
    let kinds: std::collections::BTreeSet<_> = other_5xx.iter().collect();
    assert!(
        other_5xx.is_empty(),
        "failures are 503 database_unavailable only; {} others: {kinds:?}",
        other_5xx.len()
    );
    assert_eq!(
        unavailable,
        failed.len(),
        "every failure while down is 503 database_unavailable"
    );
    assert!(
        fail_latency.last().copied().unwrap_or_default() < Duration::from_secs(6),
        "requests fail fast (within the pool's 5 s wait)"
    );
    assert!(
        recovered < Duration::from_secs(15),
        "the pools recover by themselves"
    );
    assert_eq!(after_ok, after.len(), "everything succeeds once recovered");
    assert_eq!(lost, 0, "no acked write is lost");
}
