//! REST reads: `GET /api/v1/auctions` (a page of the open auctions) and
//! `GET /api/v1/auctions/{id}` (one auction; it also counts the view, a
//! write) at several concurrencies, each against `GET /health` (no
//! database) on the same instances in the same run; then a page of 100
//! auctions as a phone fetches it, without compression, with each
//! encoding the server offers, and revalidated with `If-None-Match` (bytes
//! on the wire and requests/s).

use sitga_core::AuctionId;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::cluster::{self, Cluster};
use crate::{Target, percentile, run_for, seed};

/// `sitga-bench rest`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Seconds per measurement.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Concurrent HTTP clients to try.
    #[arg(long, value_delimiter = ',', default_value = "1,16,64")]
    concurrency: Vec<usize>,
    /// Open auctions in the database.
    #[arg(long, default_value_t = 200)]
    auctions: usize,
    /// Bids sent per second during the last row (each accepted bid changes
    /// the page, which is then read from the database again).
    #[arg(long, default_value_t = 20)]
    bids_per_second: u32,
    #[command(flatten)]
    target: Target,
}

/// The request path for the n-th request, given the auction ids.
type PathFor = fn(&[AuctionId], u64) -> String;

#[derive(Default)]
struct Tally {
    latencies: Vec<Duration>,
    server_errors: u64,
    other: u64,
    /// Body bytes as sent (still encoded).
    bytes: u64,
    /// `304 Not Modified` answers (revalidated, no body).
    not_modified: u64,
}

impl Tally {
    /// The clients' tallies as one, latencies sorted.
    fn merged(tallies: Vec<Tally>) -> Tally {
        let mut all = Tally::default();
        for t in tallies {
            all.latencies.extend(t.latencies);
            all.server_errors += t.server_errors;
            all.other += t.other;
            all.bytes += t.bytes;
            all.not_modified += t.not_modified;
        }
        all.latencies.sort_unstable();
        all
    }
}

/// Runs it.
pub async fn run(args: Args) -> serde_json::Value {
    let cluster::Setup {
        bin,
        db: _db,
        pool,
        backend,
    } = cluster::Setup::prepare(&args.target, 16).await;
    let seller = seed::accounts(&pool, 0).await[0];
    let mut ids = Vec::with_capacity(args.auctions);
    for _ in 0..args.auctions.max(1) {
        ids.push(seed::auction(&pool, seller).await.id);
    }
    let cluster = Cluster::start(&bin, &backend, args.target.instances, 10).await;
    let length = Duration::from_secs(args.seconds);
    println!(
        "# sitga-bench rest — {}, {} instance(s), {} open auctions, {} s per row",
        backend.label(),
        args.target.instances,
        ids.len(),
        args.seconds
    );
    println!();
    println!(
        "| request | clients | requests/s | vs /health | p50 ms | p99 ms | 5xx | other non-2xx |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let paths: [(&str, PathFor); 3] = [
        ("GET /health", |_, _| "/health".into()),
        ("GET /api/v1/auctions", |_, _| {
            "/api/v1/auctions?status=open&per_page=20".into()
        }),
        ("GET /api/v1/auctions/{id}", |ids, n| {
            format!("/api/v1/auctions/{}", ids[n as usize % ids.len()])
        }),
    ];
    let mut failures = 0;
    let mut rows = Vec::new();
    for &clients in &args.concurrency {
        let mut health_rate = None;
        for (label, path) in paths {
            let (tallies, elapsed) = load(&cluster, &ids, clients, length, path, None).await;
            let all = Tally::merged(tallies);
            let rate = all.latencies.len() as f64 / elapsed.as_secs_f64();
            let base = *health_rate.get_or_insert(rate);
            failures += all.server_errors;
            println!(
                "| {label} | {clients} | {rate:.0} | {:.2} | {:.2} | {:.2} | {} | {} |",
                rate / base.max(1e-9),
                percentile(&all.latencies, 0.50).as_secs_f64() * 1e3,
                percentile(&all.latencies, 0.99).as_secs_f64() * 1e3,
                all.server_errors,
                all.other
            );
            rows.push(serde_json::json!({
                "request": label,
                "clients": clients,
                "req_per_s": rate,
                "vs_health": rate / base.max(1e-9),
                "p50_ms": crate::ms(percentile(&all.latencies, 0.50)),
                "p99_ms": crate::ms(percentile(&all.latencies, 0.99)),
                "server_errors": all.server_errors,
                "other_non_2xx": all.other,
            }));
        }
    }
    // The 100-auction page, as it crosses the wire.
    let clients = args.concurrency.iter().copied().max().unwrap_or(16).min(16);
    println!();
    println!(
        "| GET /api/v1/auctions?per_page=100, {clients} clients | bytes/response | vs identity | requests/s | vs identity | p50 ms |"
    );
    println!("|---|---|---|---|---|---|");
    let page: PathFor = |_, _| "/api/v1/auctions?status=open&per_page=100".into();
    let mut identity = None;
    for (label, encoding, revalidate) in [
        ("identity", "identity", false),
        ("gzip", "gzip", false),
        ("br", "br", false),
        ("zstd", "zstd", false),
        ("If-None-Match", "identity", true),
    ] {
        let (tallies, elapsed) = load_with(
            &cluster,
            &ids,
            (clients, length),
            page,
            Some(encoding),
            revalidate,
        )
        .await;
        let all = Tally::merged(tallies);
        failures += all.server_errors;
        let served = all.latencies.len().max(1) as f64;
        let bytes = all.bytes as f64 / served;
        let rate = all.latencies.len() as f64 / elapsed.as_secs_f64();
        let (base_bytes, base_rate) = *identity.get_or_insert((bytes, rate));
        println!(
            "| {label} | {bytes:.0} | {:.3} | {rate:.0} | {:.2} | {:.2} |",
            bytes / base_bytes.max(1.0),
            rate / base_rate.max(1e-9),
            percentile(&all.latencies, 0.50).as_secs_f64() * 1e3,
        );
        rows.push(serde_json::json!({
            "request": "GET /api/v1/auctions?per_page=100",
            "encoding": encoding,
            "if_none_match": revalidate,
            "clients": clients,
            "bytes_per_response": bytes,
            "req_per_s": rate,
            "vs_identity": rate / base_rate.max(1e-9),
            "not_modified": all.not_modified,
            "p50_ms": crate::ms(percentile(&all.latencies, 0.50)),
            "server_errors": all.server_errors,
        }));
    }
    // The same page while bids land on its auctions: what a kept page is
    // worth when it keeps changing.
    let bidders = seed::accounts(&pool, 2).await[1..].to_vec();
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let bidding = tokio::spawn(land_bids(
        cluster.pick(0).http(),
        ids.clone(),
        bidders,
        args.bids_per_second,
        std::sync::Arc::clone(&stop),
    ));
    let (tallies, elapsed) = load(&cluster, &ids, clients, length, page, None).await;
    stop.store(true, Ordering::Relaxed);
    let accepted = bidding.await.unwrap_or_default();
    let all = Tally::merged(tallies);
    failures += all.server_errors;
    let rate = all.latencies.len() as f64 / elapsed.as_secs_f64();
    let bids_per_s = accepted as f64 / elapsed.as_secs_f64();
    let base_rate = identity.map(|(_, r)| r).unwrap_or(rate);
    println!(
        "| identity, {bids_per_s:.0} bids/s accepted meanwhile | {:.0} | — | {rate:.0} | {:.2} | {:.2} |",
        all.bytes as f64 / all.latencies.len().max(1) as f64,
        rate / base_rate.max(1e-9),
        percentile(&all.latencies, 0.50).as_secs_f64() * 1e3,
    );
    rows.push(serde_json::json!({
        "request": "GET /api/v1/auctions?per_page=100",
        "encoding": "identity",
        "bids_per_s": bids_per_s,
        "clients": clients,
        "req_per_s": rate,
        "vs_identity": rate / base_rate.max(1e-9),
        "p50_ms": crate::ms(percentile(&all.latencies, 0.50)),
        "server_errors": all.server_errors,
    }));
    assert_eq!(failures, 0, "no 5xx under read load");
    serde_json::json!({
        "scenario": "rest",
        "deployment": { "backend": backend.label(), "instances": args.target.instances },
        "auctions": ids.len(),
        "rows": rows,
        "invariants_ok": true,
    })
}

/// Bids `per_second` through REST on `ids` in turn (two bidders taking
/// turns, each round 1,000 KRW higher) until `stop`; returns how many were
/// accepted.
async fn land_bids(
    base: String,
    ids: Vec<AuctionId>,
    bidders: Vec<sitga_core::UserId>,
    per_second: u32,
    stop: std::sync::Arc<AtomicBool>,
) -> u64 {
    let client = reqwest::Client::new();
    let tokens: Vec<String> = bidders.iter().map(|b| seed::token(*b)).collect();
    let mut tick = tokio::time::interval(Duration::from_secs(1) / per_second.max(1));
    let mut accepted = 0;
    for k in 0.. {
        tick.tick().await;
        if stop.load(Ordering::Relaxed) || tokens.is_empty() || ids.is_empty() {
            break;
        }
        let round = k / ids.len();
        let id = ids[k % ids.len()];
        let sent = client
            .post(format!("{base}/api/v1/auctions/{id}/bids"))
            .bearer_auth(&tokens[round % tokens.len()])
            .json(&serde_json::json!({ "amount": 1_000 * (round as i64 + 1) }))
            .send()
            .await;
        if sent.is_ok_and(|r| r.status() == reqwest::StatusCode::CREATED) {
            accepted += 1;
        }
    }
    accepted
}

async fn load(
    cluster: &Cluster,
    ids: &[AuctionId],
    clients: usize,
    length: Duration,
    path: PathFor,
    encoding: Option<&'static str>,
) -> (Vec<Tally>, Duration) {
    load_with(cluster, ids, (clients, length), path, encoding, false).await
}

/// `load`, and with `revalidate` each client sends back the `ETag` of the
/// last body it got (`304` answers count as served, with no body).
async fn load_with(
    cluster: &Cluster,
    ids: &[AuctionId],
    (clients, length): (usize, Duration),
    path: PathFor,
    encoding: Option<&'static str>,
    revalidate: bool,
) -> (Vec<Tally>, Duration) {
    run_for(0..clients, length, |n, stop| {
        let base = cluster.pick(n).http();
        let ids = ids.to_vec();
        async move {
            let client = reqwest::Client::new();
            let mut tally = Tally::default();
            let mut tag: Option<reqwest::header::HeaderValue> = None;
            let mut i = n as u64 * 7_919;
            while !AtomicBool::load(&stop, Ordering::Relaxed) {
                i += 1;
                let url = format!("{base}{}", path(&ids, i));
                let t = Instant::now();
                let mut request = client.get(&url);
                if let Some(encoding) = encoding {
                    request = request.header("accept-encoding", encoding);
                }
                if let Some(tag) = tag.as_ref().filter(|_| revalidate) {
                    request = request.header(reqwest::header::IF_NONE_MATCH, tag.clone());
                }
                match request.send().await {
                    Ok(r) if r.status() == reqwest::StatusCode::NOT_MODIFIED => {
                        tally.not_modified += 1;
                        tally.latencies.push(t.elapsed());
                    }
                    Ok(r) if r.status().is_success() => {
                        tag = r.headers().get(reqwest::header::ETAG).cloned();
                        // Read the body: a response is only done when it is read.
                        let body = r.bytes().await.map(|b| b.len()).unwrap_or_default();
                        tally.bytes += body as u64;
                        tally.latencies.push(t.elapsed());
                    }
                    Ok(r) if r.status().is_server_error() => tally.server_errors += 1,
                    _ => tally.other += 1,
                }
            }
            tally
        }
    })
    .await
}
