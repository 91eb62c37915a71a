//! Fish identification: end-to-end latency and throughput against a raw
//! `session.run` on the same image in the same run.

use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use sitga_api::auth::ClientQuotas;
use sitga_persistence::PoolOptions;
use sitga_persistence::test_support::TestDatabase;
use sitga_server::config::{AppConfig, SecretSource};

use crate::{SECRET, percentile, run_for};

/// `sitga-bench identify`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Seconds per measurement.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Concurrent HTTP clients to try.
    #[arg(long, value_delimiter = ',', default_value = "1,2,8")]
    clients: Vec<usize>,
    /// An image to identify (default: a generated 800x600 PNG).
    #[arg(long)]
    image: Option<std::path::PathBuf>,
}

/// Runs it.
pub async fn run(args: Args) -> serde_json::Value {
    identify(Duration::from_secs(args.seconds), &args.clients, args.image).await
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

/// A 4032 × 3024 JPEG (a phone camera's size) with texture in it.
fn phone_jpeg() -> Vec<u8> {
    let img = image::RgbImage::from_fn(4032, 3024, |x, y| {
        image::Rgb([
            (x / 9 % 256) as u8,
            (y / 7 % 256) as u8,
            ((x * 3 + y * 5) / 13 % 256) as u8,
        ])
    });
    let mut out = Vec::new();
    img.write_to(
        &mut std::io::Cursor::new(&mut out),
        image::ImageFormat::Jpeg,
    )
    .expect("encode");
    out
}

fn report(label: &str, mut latencies: Vec<Duration>, elapsed: Duration) -> serde_json::Value {
    latencies.sort_unstable();
    let per_s = latencies.len() as f64 / elapsed.as_secs_f64();
    println!(
        "| {label} | {:.1} | {:.1} | {per_s:.1} |",
        percentile(&latencies, 0.50).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
    );
    serde_json::json!({
        "what": label,
        "p50_ms": crate::ms(percentile(&latencies, 0.50)),
        "p99_ms": crate::ms(percentile(&latencies, 0.99)),
        "per_s": per_s,
    })
}

async fn identify(
    length: Duration,
    clients: &[usize],
    image: Option<std::path::PathBuf>,
) -> serde_json::Value {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let runtime =
        sitga_inference::find_runtime(&root).expect("ONNX Runtime: run scripts/bootstrap.sh");
    let paths = sitga_server::config::ModelPaths::shipped(&root.join("assets"), &root);
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
    let head = sitga_inference::Head::read_dir(paths.dir.as_deref().expect("model folder"))
        .expect("the shipped model");
    let model =
        sitga_inference::FishModel::load(&paths.backbone, &runtime, head, 1, 0).expect("load");
    let tensor = sitga_inference::decode_and_preprocess(&bytes, 350, 200).expect("decode");
    let started = Instant::now();
    let mut raw = Vec::new();
    while started.elapsed() < length {
        let t = Instant::now();
        model.probabilities(tensor.clone()).expect("run");
        raw.push(t.elapsed());
    }
    let raw_row = report(
        "raw session.run (1 thread, no decode)",
        raw.clone(),
        started.elapsed(),
    );
    let raw_p50 = {
        let mut r = raw;
        r.sort_unstable();
        percentile(&r, 0.5)
    };
    // Where the rest goes: decoding the upload and resizing it, in process.
    let started = Instant::now();
    let mut prepare = Vec::new();
    while started.elapsed() < length {
        let t = Instant::now();
        sitga_inference::decode_and_preprocess(&bytes, 350, 200).expect("decode");
        prepare.push(t.elapsed());
    }
    let prepare_row = report(
        "decode + resize (1 thread, no inference)",
        prepare,
        started.elapsed(),
    );
    // A phone's photo: 12 megapixels of JPEG, decoded whole then resized,
    // against decoded at 1/8 in the DCT (what identify does).
    let phone = phone_jpeg();
    let time = |label: &str, work: &dyn Fn()| {
        let started = Instant::now();
        let mut runs = Vec::new();
        while started.elapsed() < length {
            let t = Instant::now();
            work();
            runs.push(t.elapsed());
        }
        report(label, runs, started.elapsed())
    };
    let phone_full = time("12 MP JPEG: full decode + resize", &|| {
        let rgb = sitga_inference::decode(&phone).expect("decode").into_rgb8();
        sitga_inference::preprocess_rgb(&rgb, 350, 200).expect("resize");
    });
    let phone_scaled = time(
        "12 MP JPEG: DCT-scaled decode + resize (identify's path)",
        &|| {
            sitga_inference::decode_and_preprocess(&phone, 350, 200).expect("decode");
        },
    );

    let db = TestDatabase::create_on(None).await.expect("database");
    let photo_dir = tempfile::tempdir().unwrap();
    let config = AppConfig {
        database: db.url.clone(),
        redis_url: None,
        redis_prefix: String::new(),
        calendar: Default::default(),
        photo_store: sitga_photos::PhotoStore::local(&photo_dir.path().join("photos")).unwrap(),
        sweep_cron: "0 0 0 1 1 *".into(),
        forecast_cron: sitga_server::config::DEFAULT_FORECAST_CRON.into(),
        assets_dir: root.join("assets"),
        model: paths,
        ws: sitga_api::ws::WsQuotas::default(),
        bind: "127.0.0.1:0".parse().unwrap(),
        jwt_secret: SECRET.as_bytes().to_vec(),
        jwt_secret_source: SecretSource::Environment,
        cors_origins: Vec::new(),
        metrics_token: None,
        workers: None,
        pool: PoolOptions::default(),
        // The clients all come from loopback: lift the per-address rate.
        auth_quotas: ClientQuotas {
            identify_per_ip_per_minute: std::num::NonZeroU32::MAX,
            photo_uploads_per_user_per_minute: std::num::NonZeroU32::MAX,
            ..ClientQuotas::default()
        },
        trusted_proxies: Default::default(),
        pickup_completions_per_day: 30,
        chain: None,
        payment_provider: std::sync::Arc::new(sitga_realtime::payments::DevPaymentProvider),
        charge_cap: sitga_realtime::payments::ChargeCap::default(),
        sale_deadlines: Default::default(),
    };
    let server =
        sitga_server::server::start(config, Some(TcpListener::bind("127.0.0.1:0").unwrap()))
            .await
            .unwrap();
    let url = format!("http://{}/api/v1/fish/identify", server.addr);
    // Identification needs a login: one seeded angler's token for all.
    let angler = crate::seed::accounts(&server.state.db, 0).await[0];
    let bearer = crate::seed::token(angler);
    let mut first_p50 = Duration::ZERO;
    let mut rows = vec![raw_row, prepare_row, phone_full, phone_scaled];
    for &n in clients {
        let (per_client, elapsed) = run_for(0..n, length, |_, stop| {
            let (url, bytes, bearer) = (url.clone(), bytes.clone(), bearer.clone());
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
                        .bearer_auth(&bearer)
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
        rows.push(report(
            &format!("POST /fish/identify, {n} client(s)"),
            all,
            elapsed,
        ));
    }
    println!();
    println!(
        "- end-to-end p50 at {} client(s) = {:.1} × the raw session.run p50 (decode, resize, HTTP and multipart included)",
        clients[0],
        first_p50.as_secs_f64() / raw_p50.as_secs_f64().max(1e-9)
    );
    server.stop(true).await;
    serde_json::json!({
        "scenario": "identify",
        "deployment": { "backend": "sqlite", "instances": 1 },
        "rows": rows,
        "end_to_end_vs_raw_p50": first_p50.as_secs_f64() / raw_p50.as_secs_f64().max(1e-9),
        "invariants_ok": true,
    })
}
