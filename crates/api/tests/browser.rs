//! The operator dashboard in a real browser: headless Chromium (Debian's
//! `chromium`) driven by `tests/browser/dashboard.mjs` (playwright-core).
//! Ignored by default (it needs Chromium and `npm ci` in tests/browser);
//! `.ci/run` installs both and runs it with `--include-ignored`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command;

use sitga_testkit::TestApp;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium and Node: run `npm ci` in tests/browser and install chromium (CI does)"]
async fn dashboard_shows_the_api_figures() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    assert!(
        root.join("tests/browser/node_modules/playwright-core")
            .is_dir(),
        "run `npm ci` in tests/browser first"
    );
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(Path::new(&chromium).exists(), "no Chromium at {chromium}");
    let app = TestApp::spawn().await;
    sitga_api::demo::seed(&app.db).await.unwrap();
    let screenshot = root.join("target/dashboard.png");
    let address = app.address.clone();
    let script = root.join("tests/browser/dashboard.mjs");
    let shot = screenshot.clone();
    let output = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(script)
            .arg(address)
            .arg(sitga_api::demo::OPERATOR_EMAIL)
            .arg(sitga_api::demo::DEMO_PASSWORD)
            .arg(shot)
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
        "dashboard check failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("dashboard ok"), "{stdout}");
    assert!(screenshot.exists());
}
