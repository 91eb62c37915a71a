//! The operator dashboard in a real browser: headless Chromium (Debian's
//! `chromium`) driven by `tests/browser/dashboard.mjs` (playwright-core).
//! Ignored by default (it needs Chromium and `npm ci` in tests/browser);
//! `.ci/run` installs both and runs it with `--include-ignored`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use sitga_testkit::TestApp;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium and Node: run `npm ci` in tests/browser and install chromium (CI does)"]
async fn dashboard_shows_the_api_figures() {
    let (root, chromium) = prerequisites();
    // A real chain, so the chain monitor chart has samples to show.
    let (_node, settings) = sitga_testkit::local_chain(None).await;
    let app = TestApp::builder().chain(settings).spawn().await;
    let summary = sitga_server::demo::seed(
        &app.db,
        app.state().chain.as_ref(),
        &app.state().photos,
        app.state().calendar,
        false,
    )
    .await
    .unwrap();
    assert!(summary.chain_records_queued > 0);
    // Wait until the monitor has counted every queued donation.
    let chain = app.state().chain.clone().unwrap();
    let mut counted = 0;
    for _ in 0..300 {
        let mut conn = app.db.get().await.unwrap();
        let samples = sitga_persistence::chain::samples(&mut conn, &chain.contract(), 1)
            .await
            .unwrap();
        counted = samples.first().map_or(0, |s| s.donation_count);
        if counted == i64::from(summary.chain_records_queued) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(counted, i64::from(summary.chain_records_queued));
    let screenshot = root.join("target/dashboard.png");
    let args = vec![
        app.address.clone(),
        sitga_server::demo::OPERATOR_EMAIL.to_owned(),
        sitga_server::demo::DEMO_PASSWORD.to_owned(),
        screenshot.display().to_string(),
    ];
    run_browser_script(&root, chromium, "dashboard.mjs", args, "dashboard ok").await;
    assert!(screenshot.exists());
}

/// The bidders' page at `/` with two bidders in two browser contexts
/// (`tests/browser/live.mjs`), on an auction in its last minutes; writes
/// desktop and phone screenshots next to the dashboard's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium and Node: run `npm ci` in tests/browser and install chromium (CI does)"]
async fn two_bidders_see_the_same_live_auction() {
    let (root, chromium) = prerequisites();
    let app = TestApp::spawn().await;
    let seller = app.user().nickname("제주어부").create().await;
    let first = app.user().nickname("민수").create().await;
    let second = app.user().nickname("지연").create().await;
    app.charge(&first, 100_000).await;
    app.charge(&second, 100_000).await;
    // One minute long: every bid falls in the two-minute soft close.
    let auction = app
        .open_auction(&seller, 10_000, serde_json::json!({"duration_minutes": 1}))
        .await;
    let id = auction["id"].as_i64().unwrap();
    let res = app
        .send(
            reqwest::Method::PUT,
            &format!("/api/v1/me/watchlist/{id}"),
            Some(&first.access_token),
            None,
        )
        .await;
    assert_eq!(res.status(), 200);
    // A clock stepping every 3 s (for minutes: 90 steps to its floor).
    let clock = app
        .open_auction(
            &seller,
            10_000,
            serde_json::json!({"format": "dutch", "floor_price": 1_000, "step": 100,
                "step_seconds": 3, "quantity": 10}),
        )
        .await;
    let desktop = root.join("target/live-desktop.png");
    let phone = root.join("target/live-phone.png");
    let args: Vec<String> = vec![
        app.address.clone(),
        id.to_string(),
        first.email.clone(),
        first.nickname.clone(),
        second.email.clone(),
        second.nickname.clone(),
        first.password.clone(),
        desktop.display().to_string(),
        phone.display().to_string(),
        clock["id"].as_i64().unwrap().to_string(),
    ];
    assert_eq!(first.password, second.password, "one password for both");
    run_browser_script(&root, chromium, "live.mjs", args, "live ok").await;
    assert!(desktop.exists() && phone.exists());
}

/// The repository root and the Chromium to drive, once both browser tests'
/// prerequisites are checked.
fn prerequisites() -> (std::path::PathBuf, String) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    assert!(
        root.join("tests/browser/node_modules/playwright-core")
            .is_dir(),
        "run `npm ci` in tests/browser first"
    );
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(Path::new(&chromium).exists(), "no Chromium at {chromium}");
    (root, chromium)
}

/// Runs `tests/browser/{script}` with `args` in Node; its output must end
/// with `{ok_line}`.
async fn run_browser_script(
    root: &Path,
    chromium: String,
    script: &str,
    args: Vec<String>,
    ok_line: &str,
) {
    let script = root.join("tests/browser").join(script);
    let output = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(script)
            .args(args)
            .env("CHROMIUM", chromium)
            .output()
    })
    .await
    .unwrap()
    .expect("run node");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "browser check failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains(ok_line), "{stdout}");
}
