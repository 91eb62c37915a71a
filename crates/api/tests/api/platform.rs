use serde_json::Value;
use sitga_testkit::{TestApp, expect_error, expect_json};

#[tokio::test]
async fn health_ready_metrics() {
    let app = TestApp::spawn().await;
    let health = expect_json(app.get("/health", None).await, 200).await;
    assert_eq!(health["status"], "ok");
    let ready = expect_json(app.get("/ready", None).await, 200).await;
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["database"]["mode"], app.backend());
    assert_eq!(
        ready["redis"]["configured"],
        sitga_testkit::redis_url().is_some()
    );

    app.get("/api/v1/provinces", None).await;
    let metrics = app.get("/metrics", None).await.text().await.unwrap();
    assert!(metrics.contains("sitga_http_requests_total"), "{metrics}");
    assert!(metrics.contains("sitga_http_requests_duration_seconds_bucket"));
    assert!(metrics.contains(&format!(
        "sitga_db_pool_max_size{{backend=\"{}\"}} 8",
        app.backend()
    )));
}

#[tokio::test]
async fn ready_is_503_when_the_database_is_gone() {
    let app = TestApp::spawn().await;
    app.db.close();
    let body = expect_error(app.get("/ready", None).await, 503, "not_ready").await;
    assert_eq!(body["database"]["ok"], false);
    expect_error(
        app.get("/api/v1/auth/availability?email=a%40b.co", None)
            .await,
        503,
        "database_unavailable",
    )
    .await;
}

#[tokio::test]
async fn unknown_routes_and_methods_are_json() {
    let app = TestApp::spawn().await;
    expect_error(app.get("/no/such/route", None).await, 404, "not_found").await;
    expect_error(app.get("/api/v1/nope", None).await, 404, "not_found").await;
    let res = app
        .client
        .delete(app.url("/api/v1/auth/login"))
        .send()
        .await
        .unwrap();
    expect_error(res, 405, "method_not_allowed").await;
    let res = app.get("/health", None).await;
    assert!(res.headers().get("x-request-id").is_some());
}

#[tokio::test]
async fn docs_and_spec_are_served() {
    let app = TestApp::spawn().await;
    let docs = app.get("/docs", None).await;
    assert_eq!(docs.status(), 308);
    assert_eq!(docs.headers()["location"], "/docs/");
    // Our page: today's Swagger UI from this server, no inline script, the
    // spec's address fixed (a `?url=` is served the same page and ignored).
    for path in [
        "/docs/",
        "/docs/?url=https://evil.example/spec.json&configUrl=x",
    ] {
        let index = app.get(path, None).await;
        assert_eq!(index.status(), 200);
        let html = index.text().await.unwrap();
        assert!(
            html.contains("/assets/vendor/swagger-ui/swagger-ui-bundle.js"),
            "{html}"
        );
        assert!(!html.contains("evil.example"));
        let inline_scripts =
            html.matches("<script>").count() + html.matches("<script type").count();
        assert_eq!(inline_scripts, 0, "{html}");
    }
    let init = app.get("/docs/init.js", None).await.text().await.unwrap();
    assert!(init.contains("url: \"/openapi.json\"") && init.contains("queryConfigEnabled: false"));
    let bundle = app
        .get("/assets/vendor/swagger-ui/swagger-ui-bundle.js", None)
        .await;
    assert_eq!(bundle.status(), 200);
    let script = bundle.text().await.unwrap();
    assert!(
        script.contains("5.35.0"),
        "the vendored Swagger UI is 5.35.0"
    );
    // Paperclip's Swagger UI 3.52 is gone.
    assert_eq!(
        app.get("/docs/swagger-ui-bundle.js", None).await.status(),
        404
    );
    expect_error(
        app.get("/docs/no-such-file.js", None).await,
        404,
        "not_found",
    )
    .await;

    let served = expect_json(app.get("/openapi.json", None).await, 200).await;
    assert_eq!(served, sitga_api::openapi::spec());
    assert!(served["openapi"].as_str().unwrap().starts_with("3."));
}

#[tokio::test]
async fn cors_allows_configured_origin_only() {
    let app = TestApp::spawn().await;
    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url("/api/v1/users/me"))
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "authorization")
            .send()
    };
    let ok = preflight("http://localhost:3000").await.unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(
        ok.headers()["access-control-allow-origin"],
        "http://localhost:3000"
    );
    let denied = preflight("https://evil.example").await.unwrap();
    assert!(
        denied
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    // An app on the allowed origin may revalidate a list: it can send
    // `If-None-Match` and read the `ETag`.
    let revalidate = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/api/v1/auctions"))
        .header("origin", "http://localhost:3000")
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "if-none-match")
        .send()
        .await
        .unwrap();
    assert_eq!(revalidate.status(), 200);
    let listed = app
        .client
        .get(app.url("/api/v1/auctions"))
        .header("origin", "http://localhost:3000")
        .send()
        .await
        .unwrap();
    let exposed = listed.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(exposed.contains("etag"), "{exposed}");
}

/// Every operation the spec marks as secured answers 401 without a token.
#[tokio::test]
async fn secured_routes_need_a_token() {
    let app = TestApp::spawn().await;
    let spec = sitga_api::openapi::spec();
    let mut checked = 0;
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if op.get("security").is_none() {
                continue;
            }
            let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let res = app
                .send(
                    method.clone(),
                    path,
                    None,
                    Some(Value::Object(Default::default())),
                )
                .await;
            assert_eq!(res.status(), 401, "{method} {path}");
            checked += 1;
        }
    }
    assert!(checked >= 4, "only {checked} secured operations");
}

/// The committed `docs/openapi.json` matches the code. Regenerate with
/// `cargo run -p sitga-api -- openapi > docs/openapi.json`
/// (or run this test with `UPDATE_SNAPSHOTS=1`).
#[test]
fn openapi_snapshot_is_current() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json");
    let generated = sitga_api::openapi::spec();
    let pretty = serde_json::to_string_pretty(&generated).unwrap() + "\n";
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(path, &pretty).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    let committed: Value = serde_json::from_str(&committed).unwrap_or(Value::Null);
    assert!(
        committed == generated,
        "docs/openapi.json is out of date; run `UPDATE_SNAPSHOTS=1 cargo test -p sitga-api --test api openapi_snapshot` and review the diff"
    );
}

#[tokio::test]
async fn unmatched_paths_share_one_metrics_label() {
    let app = TestApp::spawn().await;
    for n in 0..30 {
        app.get(&format!("/scan/{n}/wp-admin.php"), None).await;
    }
    let metrics = app.get("/metrics", None).await.text().await.unwrap();
    assert!(!metrics.contains("wp-admin"), "{metrics}");
    assert!(metrics.contains("endpoint=\"UNMATCHED\""), "{metrics}");
}

#[tokio::test]
async fn metrics_can_require_a_token() {
    let app = TestApp::builder()
        .metrics_token("m3tr1cs-t0ken-for-the-scraper")
        .spawn()
        .await;
    expect_error(app.get("/metrics", None).await, 401, "invalid_token").await;
    expect_error(
        app.get("/metrics", Some("wrong")).await,
        401,
        "invalid_token",
    )
    .await;
    // Everything else is unaffected.
    expect_json(app.get("/health", None).await, 200).await;
    let metrics = app
        .get("/metrics", Some("m3tr1cs-t0ken-for-the-scraper"))
        .await;
    assert_eq!(metrics.status(), 200);
    assert!(
        metrics
            .text()
            .await
            .unwrap()
            .contains("sitga_http_requests_total")
    );
}

/// A node provider's key lives in the RPC URL; the public readiness body
/// must not show it, and must not ask the node on every call.
#[tokio::test]
async fn ready_never_shows_the_chain_url() {
    let app = TestApp::builder()
        .chain(sitga_realtime::chain::ChainSettings {
            rpc_url: "http://127.0.0.1:9/v3/PROVIDER-KEY-123".into(),
            private_key: sitga_chain::anvil::DEV_PRIVATE_KEY.into(),
            contract: "0x5FbDB2315678afecb367f032d93F642f64180aa3".into(),
            donor_salt: b"salt".to_vec(),
            monitor_cron: "0 0 0 1 1 *".into(),
            relay_cron: "0 0 0 1 1 *".into(),
            daily_tx_cap: 10,
            donor_daily_cap: 10,
            calendar: Default::default(),
        })
        .spawn()
        .await;
    let body = app.get("/ready", None).await.text().await.unwrap();
    assert!(!body.contains("PROVIDER-KEY"), "{body}");
    assert!(!body.contains("127.0.0.1:9"), "{body}");
    let ready: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(ready["chain"]["ok"], false);
    assert_eq!(ready["chain"]["detail"], "unreachable");
    // The chain is reported, not required.
    assert_eq!(ready["status"], "ready");
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let app = TestApp::spawn().await;
    for path in [
        "/health",
        "/api/v1/provinces",
        "/no/such/route",
        "/docs/",
        "/dashboard/",
        "/",
    ] {
        let res = app.get(path, None).await;
        let headers = res.headers();
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("script-src 'self';"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(!csp.contains("unsafe-eval"), "{path}: {csp}");
        assert!(
            !csp.contains("script-src 'self' 'unsafe-inline'"),
            "{path}: {csp}"
        );
        assert_eq!(headers["referrer-policy"], "no-referrer", "{path}");
    }
}

/// The bidders' page is served at `/`, its script and style beside it, with
/// no inline script (the CSP allows none).
#[tokio::test]
async fn the_bidders_page_is_served_at_the_root() {
    let app = TestApp::spawn().await;
    let res = app.get("/", None).await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert_eq!(res.headers()["cache-control"], "no-cache");
    let html = res.text().await.unwrap();
    assert!(html.contains("싯가 얼마?"));
    assert_eq!(html.matches("<script").count(), 1, "no inline script");
    // The page links its files by content: kept a year at that version,
    // revalidated under any other name.
    for asset in ["/assets/web/app.js", "/assets/web/app.css"] {
        let linked = html
            .split('"')
            .find(|part| part.starts_with(&format!("{asset}?v=")))
            .unwrap_or_else(|| panic!("{asset} is linked with its version: {html}"));
        let version = linked.rsplit('=').next().unwrap();
        assert_eq!(version.len(), 12, "{linked}");
        let content = std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../..")
                .join(asset.trim_start_matches('/')),
        )
        .unwrap();
        use sha2::Digest;
        assert_eq!(version, &hex::encode(sha2::Sha256::digest(&content))[..12]);
        let kept = app.get(linked, None).await;
        assert_eq!(kept.status(), 200, "{linked}");
        assert_eq!(
            kept.headers()["cache-control"],
            "public, max-age=31536000, immutable"
        );
        let plain = app.get(asset, None).await;
        assert_eq!(plain.status(), 200, "{asset}");
        assert_eq!(plain.headers()["cache-control"], "no-cache");
        let stale = app.get(&format!("{asset}?v=000000000000"), None).await;
        assert_eq!(stale.headers()["cache-control"], "no-cache");
    }
    // Other paths stay JSON 404s, not the page.
    let missing = app.get("/auction/7", None).await;
    assert_eq!(missing.status(), 404);
    assert_eq!(missing.headers()["content-type"], "application/json");
}

/// Lists and pages are compressed for clients that ask (gzip here; brotli
/// and zstd likewise), and decompress to the same JSON; responses with
/// tokens are never compressed (BREACH), nor are photos.
#[tokio::test]
async fn responses_are_compressed_when_asked_except_secrets() {
    use std::io::Read;
    let app = TestApp::spawn().await;
    let seller = app.user().create().await;
    for _ in 0..20 {
        app.open_auction(&seller, 10_000, serde_json::json!({}))
            .await;
    }
    let client = reqwest::Client::new();
    let url = app.url("/api/v1/auctions?per_page=100");
    let plain = client.get(&url).send().await.unwrap();
    assert!(plain.headers().get("content-encoding").is_none());
    let plain = plain.bytes().await.unwrap();
    let packed = client
        .get(&url)
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(packed.headers()["content-encoding"], "gzip");
    // Caches keep one copy per encoding.
    assert!(
        packed.headers().get_all("vary").iter().any(|v| v
            .to_str()
            .unwrap()
            .to_ascii_lowercase()
            .contains("accept-encoding")),
        "{:?}",
        packed.headers()
    );
    let packed = packed.bytes().await.unwrap();
    assert!(
        packed.len() * 4 < plain.len(),
        "{} bytes compressed from {}",
        packed.len(),
        plain.len()
    );
    let mut unpacked = String::new();
    flate2::read::GzDecoder::new(&packed[..])
        .read_to_string(&mut unpacked)
        .unwrap();
    let (a, b): (Value, Value) = (
        serde_json::from_str(&unpacked).unwrap(),
        serde_json::from_slice(&plain).unwrap(),
    );
    assert_eq!(a["total"], b["total"]);
    assert_eq!(a["items"].as_array().unwrap().len(), 20);
    // The kept page in the other encodings a client may ask for.
    for encoding in ["br", "zstd"] {
        let packed = client
            .get(&url)
            .header("accept-encoding", encoding)
            .send()
            .await
            .unwrap();
        assert_eq!(packed.headers()["content-encoding"], encoding);
        let packed = packed.bytes().await.unwrap();
        let mut unpacked = Vec::new();
        if encoding == "br" {
            brotli::Decompressor::new(&packed[..], 4096)
                .read_to_end(&mut unpacked)
                .unwrap();
        } else {
            unpacked = zstd::bulk::decompress(&packed, 1 << 20).unwrap();
        }
        let page: Value = serde_json::from_slice(&unpacked).unwrap();
        assert_eq!(page["items"], {
            // Equal but for the clock.
            let mut items = b["items"].clone();
            for (item, sent) in items
                .as_array_mut()
                .unwrap()
                .iter_mut()
                .zip(page["items"].as_array().unwrap())
            {
                item["server_now"] = sent["server_now"].clone();
            }
            items
        });
    }
    // Tokens: never compressed, whatever the client accepts.
    let login = client
        .post(app.url("/api/v1/auth/login"))
        .header("accept-encoding", "gzip, br, zstd")
        .json(&serde_json::json!({"email": seller.email, "password": seller.password}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    assert!(login.headers().get("content-encoding").is_none());
    // A browser asks for compression on the WebSocket upgrade too: the
    // socket still speaks plain frames.
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest};
    let mut request = app
        .url("/ws")
        .replacen("http://", "ws://", 1)
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "accept-encoding",
        "gzip, deflate, br, zstd".parse().unwrap(),
    );
    let (mut socket, response) = tokio_tungstenite::connect_async(request).await.unwrap();
    assert!(response.headers().get("content-encoding").is_none());
    let id = app
        .open_auction(&seller, 10_000, serde_json::json!({}))
        .await["id"]
        .as_i64()
        .unwrap();
    socket
        .send(Message::text(
            serde_json::json!({"event": "join", "room": id}).to_string(),
        ))
        .await
        .unwrap();
    let state = loop {
        match socket.next().await.unwrap().unwrap() {
            Message::Text(text) => break serde_json::from_str::<Value>(&text).unwrap(),
            _ => continue,
        }
    };
    assert_eq!(state["event"], "state");
}
