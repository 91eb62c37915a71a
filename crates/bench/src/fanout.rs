//! Fan-out: C anonymous watchers joined to ONE room (spread over the
//! instances and over several 127.0.0.x source addresses), one pair of
//! bidders taking turns. For every accepted bid: how long until each
//! watcher has it, measured from the moment the bid was sent (so it
//! includes the commit) and from the frame's own server timestamp (taken
//! after the commit). Baseline in the same run: the same with one watcher.
//! Memory: the instances' resident size before and after the watchers
//! joined, per socket.

use sitga_core::{AuctionId, UserId};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::json;
use tokio::sync::{Semaphore, watch};
use tokio_tungstenite::tungstenite::Message;

use crate::cluster::{self, Cluster};
use crate::transport::TransportServer;
use crate::{Target, percentile, seed, ws};

/// `sitga-bench fanout`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Watcher counts to measure (one watcher is always measured first as
    /// the baseline).
    #[arg(long, value_delimiter = ',', default_value = "1000,5000,10000")]
    watchers: Vec<usize>,
    /// Accepted bids per measurement.
    #[arg(long, default_value_t = 20)]
    bids: usize,
    /// Source addresses 127.0.0.1 … 127.0.0.N the watchers connect from.
    #[arg(long, default_value_t = 4)]
    sources: u8,
    /// Also measure each watcher count against an in-memory server that
    /// sends the same frames and stores nothing (`sitga-bench
    /// transport-server`): what the sockets alone cost on these cores.
    #[arg(long)]
    transport: bool,
    #[command(flatten)]
    target: Target,
}

/// What one measurement found.
struct Measured {
    watchers: usize,
    join: Duration,
    expected: usize,
    delivered: usize,
    from_send: Vec<Duration>,
    from_commit_ms: Vec<i64>,
    rss_per_socket: f64,
    /// Server CPU time per watcher per bid (its two room frames), in µs.
    server_cpu_us: f64,
    /// The bench's own CPU time per watcher per bid (the watchers' reading
    /// and parsing, on the same cores), in µs.
    bench_cpu_us: f64,
}

/// Runs it.
pub async fn run(args: Args) -> serde_json::Value {
    let cluster::Setup {
        bin,
        db: _db,
        pool,
        backend,
    } = cluster::Setup::prepare(&args.target, 16).await;
    let ids = seed::accounts(&pool, 2).await;
    println!(
        "# sitga-bench fanout — {}, {} instance(s), {} accepted bids per row, watchers from {} source address(es)",
        backend.label(),
        args.target.instances,
        args.bids,
        args.sources
    );
    println!();
    println!(
        "| watchers | join all (s) | delivered | p50 ms (send→watcher) | p99 ms | max ms | p50 / 1-watcher p50 | p99 ms (commit→watcher) | server RSS per socket | server CPU µs per watcher per bid | bench CPU µs per watcher per bid |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    let mut levels = vec![1];
    levels.extend(args.watchers.iter().copied().filter(|&c| c > 1));
    let servers: &[Server] = if args.transport {
        &[Server::Sitga, Server::InMemory]
    } else {
        &[Server::Sitga]
    };
    let mut baseline_p50 = [None, None];
    let mut rows = Vec::new();
    for watchers in levels {
        for (n, &server) in servers.iter().enumerate() {
            // A fresh server per level: memory is read from a clean start.
            let m = match server {
                Server::Sitga => {
                    let cluster = Cluster::start(&bin, &backend, args.target.instances, 10).await;
                    let auction = seed::auction(&pool, ids[0]).await;
                    measure(
                        &cluster,
                        auction.id,
                        &ids[1..],
                        watchers,
                        args.bids,
                        args.sources,
                    )
                    .await
                }
                Server::InMemory => {
                    let memory = TransportServer::start().await;
                    let room = AuctionId::new(1);
                    measure(&memory, room, &ids[1..], watchers, args.bids, args.sources).await
                }
            };
            rows.push(report(server, &m, &mut baseline_p50[n]));
        }
    }
    serde_json::json!({
        "scenario": "fanout",
        "deployment": { "backend": backend.label(), "instances": args.target.instances },
        "bids": args.bids,
        "rows": rows,
        "invariants_ok": true,
    })
}

/// Prints one row of the table; its JSON.
fn report(server: Server, m: &Measured, baseline_p50: &mut Option<Duration>) -> serde_json::Value {
    let mut sorted = m.from_send.clone();
    sorted.sort_unstable();
    let mut commit = m.from_commit_ms.clone();
    commit.sort_unstable();
    let p50 = percentile(&sorted, 0.50);
    let base = *baseline_p50.get_or_insert(p50);
    let commit_p99 = commit
        .get(((commit.len() as f64 - 1.0) * 0.99).round() as usize)
        .copied()
        .unwrap_or_default();
    // Below ~100 sockets the difference drowns in allocator noise.
    let rss = if m.watchers >= 100 {
        format!("{:.1} KiB", m.rss_per_socket / 1024.0)
    } else {
        "–".into()
    };
    println!(
        "| {}{} | {:.1} | {}/{} | {:.1} | {:.1} | {:.1} | {:.2} | {} | {rss} | {:.2} | {:.2} |",
        m.watchers,
        server.note(),
        m.join.as_secs_f64(),
        m.delivered,
        m.expected,
        p50.as_secs_f64() * 1e3,
        percentile(&sorted, 0.99).as_secs_f64() * 1e3,
        sorted.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
        p50.as_secs_f64() / base.as_secs_f64().max(1e-9),
        commit_p99,
        m.server_cpu_us,
        m.bench_cpu_us,
    );
    assert_eq!(
        m.delivered, m.expected,
        "every watcher gets every accepted bid"
    );
    serde_json::json!({
        "server": server.label(),
        "watchers": m.watchers,
        "p50_ms": crate::ms(p50),
        "p99_ms": crate::ms(percentile(&sorted, 0.99)),
        "max_ms": crate::ms(sorted.last().copied().unwrap_or_default()),
        "commit_p99_ms": commit_p99,
        "rss_per_socket_kib": (m.watchers >= 100).then(|| m.rss_per_socket / 1024.0),
        "server_cpu_us_per_watcher_bid": m.server_cpu_us,
        "bench_cpu_us_per_watcher_bid": m.bench_cpu_us,
        "delivered": m.delivered,
        "expected": m.expected,
    })
}

/// What a measurement runs against.
#[derive(Debug, Clone, Copy)]
enum Server {
    /// `sitga serve`, one or more instances.
    Sitga,
    /// `sitga-bench transport-server`: the same frames, nothing stored.
    InMemory,
}

impl Server {
    fn label(self) -> &'static str {
        match self {
            Self::Sitga => "sitga",
            Self::InMemory => "in-memory",
        }
    }

    /// What the table adds after the watcher count.
    fn note(self) -> &'static str {
        match self {
            Self::Sitga => "",
            Self::InMemory => " (in-memory server)",
        }
    }
}

/// Where a measurement's clients connect, and what its server costs.
trait Endpoint {
    /// The address client `n` connects to (round-robin over instances).
    fn addr(&self, n: usize) -> SocketAddr;
    fn rss_bytes(&self) -> u64;
    fn cpu_seconds(&self) -> f64;
}

impl Endpoint for Cluster {
    fn addr(&self, n: usize) -> SocketAddr {
        self.pick(n).addr
    }
    fn rss_bytes(&self) -> u64 {
        Cluster::rss_bytes(self)
    }
    fn cpu_seconds(&self) -> f64 {
        Cluster::cpu_seconds(self)
    }
}

impl Endpoint for TransportServer {
    fn addr(&self, _: usize) -> SocketAddr {
        self.addr
    }
    fn rss_bytes(&self) -> u64 {
        TransportServer::rss_bytes(self)
    }
    fn cpu_seconds(&self) -> f64 {
        TransportServer::cpu_seconds(self)
    }
}

/// One watcher: joins, waits for its `state`, then records each accepted
/// bid's index, arrival and the frame's server timestamp until it has
/// `bids` of them or the run ends.
async fn watcher(
    addr: SocketAddr,
    source: IpAddr,
    room: Arc<Room>,
    mut done: watch::Receiver<bool>,
) -> Vec<(usize, Instant, i64)> {
    let Room {
        id: room,
        bids,
        connecting,
        joined,
        delivered,
    } = &*room;
    let (room, bids) = (*room, *bids);
    let mut seen = Vec::with_capacity(bids);
    // Held from connecting until joined.
    let mut permit = connecting.clone().acquire_owned().await.ok();
    let Ok(mut socket) = ws::connect(addr, None, Some(source)).await else {
        joined.fetch_add(1, Ordering::Relaxed);
        return seen;
    };
    if ws::join(&mut socket, room).await.is_err() {
        joined.fetch_add(1, Ordering::Relaxed);
        return seen;
    }
    let mut counted = false;
    // One timer for the whole watch, and frames read into a struct of the
    // four fields used (not a JSON tree): 10,000 watchers share the
    // server's two cores, and what they spend is taken from the server.
    let give_up = tokio::time::sleep(Duration::from_secs(180));
    tokio::pin!(give_up);
    while seen.len() < bids {
        let message = tokio::select! {
            m = socket.next() => m,
            _ = done.changed() => None,
            () = &mut give_up => None,
        };
        let text = match message {
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(_)) => continue,
            _ => break,
        };
        let Ok(f) = serde_json::from_str::<Seen<'_>>(&text) else {
            continue;
        };
        match (f.event, f.code) {
            ("state", _) if !counted => {
                counted = true;
                permit = None;
                joined.fetch_add(1, Ordering::Relaxed);
            }
            ("message", Some("bid_accepted")) => {
                let at = Instant::now();
                let now_ms = chrono::Utc::now().timestamp_millis();
                let index = ((f.amount.unwrap_or(0) - 1_000) / 100) as usize;
                if let Some(counter) = delivered.get(index) {
                    counter.fetch_add(1, Ordering::Relaxed);
                }
                seen.push((index, at, now_ms - f.server_now.unwrap_or(now_ms)));
            }
            _ => {}
        }
    }
    if !counted {
        joined.fetch_add(1, Ordering::Relaxed);
    }
    drop(permit);
    // Stay connected until the measurement ends: thousands of sockets
    // closing while the last bid is still being delivered would be timed
    // as that bid's fan-out.
    tokio::select! {
        _ = done.changed() => {}
        () = &mut give_up => {}
    }
    seen
}

/// The fields of a room frame a watcher reads.
#[derive(serde::Deserialize)]
struct Seen<'a> {
    event: &'a str,
    code: Option<&'a str>,
    amount: Option<i64>,
    server_now: Option<i64>,
}

/// What the watchers of one measurement share.
struct Room {
    id: AuctionId,
    /// Accepted bids to wait for.
    bids: usize,
    /// Bounds the connections in progress.
    connecting: Arc<Semaphore>,
    /// Watchers that joined (or gave up).
    joined: AtomicUsize,
    /// Per bid: watchers that have it.
    delivered: Vec<AtomicUsize>,
}

async fn measure(
    server: &impl Endpoint,
    room: AuctionId,
    bidders: &[UserId],
    watchers: usize,
    bids: usize,
    sources: u8,
) -> Measured {
    let rss_before = server.rss_bytes();
    let shared = Arc::new(Room {
        id: room,
        bids: bids + 1,
        // Connect in bounded waves so the listen backlog never overflows.
        connecting: Arc::new(Semaphore::new(256)),
        joined: AtomicUsize::new(0),
        delivered: (0..=bids).map(|_| AtomicUsize::new(0)).collect(),
    });
    let (joined, delivered) = (&shared.joined, &shared.delivered);
    let (done_tx, done_rx) = watch::channel(false);
    let began = Instant::now();
    let tasks: Vec<_> = (0..watchers)
        .map(|n| {
            let addr = server.addr(n);
            let last = 1 + (n % usize::from(sources.max(1))) as u8;
            let source = IpAddr::V4(Ipv4Addr::new(127, 0, 0, last));
            tokio::spawn(watcher(addr, source, shared.clone(), done_rx.clone()))
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(180);
    while joined.load(Ordering::Relaxed) < watchers && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let join = began.elapsed();
    // Let the sockets settle before reading memory.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_after = server.rss_bytes();

    // Two bidders on the first instance take turns (a leader may not raise
    // its own bid); each next bid waits until every watcher has the last.
    let mut bidder_sockets = Vec::new();
    for &id in bidders.iter().take(2) {
        let mut s = ws::connect(server.addr(0), Some(&seed::token(id)), None)
            .await
            .expect("bidder connects");
        ws::join(&mut s, room).await.expect("bidder joins");
        bidder_sockets.push(s);
    }
    // Bid 0 warms the path up and is not counted.
    let mut sent = Vec::with_capacity(bids + 1);
    let cpu_before = (server.cpu_seconds(), cluster::cpu_seconds_of("self"));
    for k in 0..=bids {
        let socket = &mut bidder_sockets[k % 2];
        let amount = 1_000 + 100 * k as i64;
        let ref_ = format!("b{k}");
        sent.push(Instant::now());
        ws::send(
            socket,
            json!({"event": "bid", "room": room, "amount": amount, "ref": ref_}),
        )
        .await
        .expect("send bid");
        loop {
            let f = ws::next(socket, Duration::from_secs(10))
                .await
                .expect("bid answer");
            if f["event"] == "system" && f["ref"] == ref_.as_str() {
                assert_eq!(f["code"], "bid_accepted", "bench bid refused: {f}");
                break;
            }
        }
        let wait_until = Instant::now() + Duration::from_secs(10);
        while delivered[k].load(Ordering::Relaxed) < watchers && Instant::now() < wait_until {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    let cpu_after = (server.cpu_seconds(), cluster::cpu_seconds_of("self"));
    let per_watcher_bid = 1e6 / (watchers * (bids + 1)) as f64;
    let _ = done_tx.send(true);
    let mut from_send = Vec::with_capacity(watchers * bids);
    let mut from_commit_ms = Vec::with_capacity(watchers * bids);
    for task in tasks {
        for (index, at, commit_ms) in task.await.unwrap_or_default() {
            if let Some(sent_at) = sent.get(index).filter(|_| index > 0) {
                from_send.push(at.saturating_duration_since(*sent_at));
                from_commit_ms.push(commit_ms);
            }
        }
    }
    Measured {
        watchers,
        join,
        expected: watchers * bids,
        delivered: from_send.len(),
        from_send,
        from_commit_ms,
        rss_per_socket: rss_after.saturating_sub(rss_before) as f64 / watchers as f64,
        server_cpu_us: (cpu_after.0 - cpu_before.0) * per_watcher_bid,
        bench_cpu_us: (cpu_after.1 - cpu_before.1) * per_watcher_bid,
    }
}
