//! On-chain donation records against a real anvil node: completed donations
//! go through the outbox to the contract, the monitor counts them, and a
//! node that is down for a while only delays them.

use std::time::Duration;

use serde_json::{Value, json};
use sitga_testkit::{TestApp, TestUser, expect_json};
use sitga_user::Role;

async fn donate(app: &TestApp, cafe: &TestUser, recycler: &TestUser, kg: f64) -> Value {
    let post = |path: String, token: String, body: Value| {
        let app = &app;
        async move {
            app.send(reqwest::Method::POST, &path, Some(&token), Some(body))
                .await
        }
    };
    let pickup = expect_json(
        post(
            "/api/v1/pickups".into(),
            cafe.access_token.clone(),
            json!({"amount_kg": kg}),
        )
        .await,
        201,
    )
    .await;
    let id = pickup["id"].as_i64().unwrap();
    expect_json(
        post(
            format!("/api/v1/pickups/{id}/claim"),
            recycler.access_token.clone(),
            json!({}),
        )
        .await,
        200,
    )
    .await;
    expect_json(
        post(
            format!("/api/v1/pickups/{id}/complete"),
            recycler.access_token.clone(),
            json!({"measured_kg": kg}),
        )
        .await,
        200,
    )
    .await
}

/// Waits until the cafe's pickup `id` has the chain status `status`.
async fn wait_for_chain(app: &TestApp, cafe: &TestUser, id: i64, status: &str) -> Value {
    let mut last = Value::Null;
    for _ in 0..300 {
        let page = expect_json(
            app.get("/api/v1/me/pickups", Some(&cafe.access_token))
                .await,
            200,
        )
        .await;
        last = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == id)
            .cloned()
            .unwrap();
        if last["chain"]["status"] == status {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("pickup {id} never reached chain status {status}: {last}");
}

#[tokio::test]
async fn donations_are_recorded_on_chain_monitored_and_survive_a_node_outage() {
    let dir = tempfile::tempdir().unwrap();
    let (mut node, settings) =
        sitga_testkit::local_chain(Some(dir.path().join("anvil-state.json"))).await;
    let contract = settings.contract.clone();
    let app = TestApp::builder().chain(settings).spawn().await;
    let ready = expect_json(app.get("/ready", None).await, 200).await;
    assert_eq!(ready["chain"]["configured"], true);
    assert_eq!(ready["chain"]["ok"], true, "{ready}");

    let cafe = app.user().cafe().province("seoul").create().await;
    let recycler = app.user().recycler().province("seoul").create().await;
    let operator = app.user().role(Role::Operator).create().await;

    // The completing request answers at once with the record pending.
    let done = donate(&app, &cafe, &recycler, 2.5).await;
    assert_eq!(done["chain"]["status"], "pending", "{done}");
    let id = done["id"].as_i64().unwrap();
    let confirmed = wait_for_chain(&app, &cafe, id, "confirmed").await;
    let tx = confirmed["chain"]["tx_hash"].as_str().unwrap();
    assert!(tx.starts_with("0x") && tx.len() == 66, "{confirmed}");
    assert!(confirmed["chain"]["block_number"].as_i64().unwrap() > 0);

    // The donor reference on chain is a salted hash, never the e-mail.
    let rows = sitga_persistence::chain::of_pickups(&mut app.db.get().await.unwrap(), &[id.into()])
        .await
        .unwrap();
    assert_eq!(rows[0].donor_ref.len(), 66);
    assert!(!rows[0].donor_ref.contains(&cafe.email));
    assert_eq!(rows[0].grams, 2_500);

    // The node goes away: the next donation waits, retried with backoff.
    node.stop();
    let second = donate(&app, &cafe, &recycler, 1.0).await;
    let second_id = second["id"].as_i64().unwrap();
    let mut retried = Value::Null;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        retried = wait_for_chain(&app, &cafe, second_id, "pending").await;
        if retried["chain"]["attempts"].as_i64().unwrap() >= 1 {
            break;
        }
    }
    assert!(
        retried["chain"]["attempts"].as_i64().unwrap() >= 1,
        "{retried}"
    );
    let ready = expect_json(app.get("/ready", None).await, 200).await;
    assert_eq!(
        ready["chain"]["ok"], false,
        "an unreachable chain is reported"
    );
    assert_eq!(ready["status"], "ready", "but never makes the API unready");

    // Back: nothing is lost, nothing is recorded twice.
    node.restart().await.unwrap();
    wait_for_chain(&app, &cafe, second_id, "confirmed").await;
    wait_for_chain(&app, &cafe, id, "confirmed").await;

    // The monitor saw both donations and their transactions.
    let mut monitor = Value::Null;
    for _ in 0..100 {
        monitor = expect_json(
            app.get(
                "/api/v1/monitor/chain?limit=100",
                Some(&operator.access_token),
            )
            .await,
            200,
        )
        .await;
        if monitor["samples"][0]["donation_count"] == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(monitor["enabled"], true);
    assert_eq!(monitor["contract"], contract);
    assert_eq!(monitor["confirmed"], 2);
    assert_eq!(monitor["pending"], 0);
    assert_eq!(monitor["samples"][0]["donation_count"], 2, "{monitor}");
    let transactions: i64 = monitor["samples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["transactions"].as_i64().unwrap())
        .sum();
    assert!(transactions >= 2, "{monitor}");
    let cafe_view = app
        .get("/api/v1/monitor/chain", Some(&cafe.access_token))
        .await;
    assert_eq!(cafe_view.status(), 403);
}

#[tokio::test]
async fn with_no_chain_the_feature_is_visibly_off() {
    let app = TestApp::spawn().await;
    let ready = expect_json(app.get("/ready", None).await, 200).await;
    assert_eq!(ready["chain"]["configured"], false);
    assert_eq!(ready["chain"]["mode"], "off");
    let operator = app.user().role(Role::Operator).create().await;
    let monitor = expect_json(
        app.get("/api/v1/monitor/chain", Some(&operator.access_token))
            .await,
        200,
    )
    .await;
    assert_eq!(monitor["enabled"], false);
    assert_eq!(monitor["samples"], json!([]));
    let bad = app
        .get(
            "/api/v1/monitor/chain?limit=0",
            Some(&operator.access_token),
        )
        .await;
    assert_eq!(bad.status(), 400);
    let cafe = app.user().cafe().province("seoul").create().await;
    let recycler = app.user().recycler().province("seoul").create().await;
    let done = donate(&app, &cafe, &recycler, 1.5).await;
    assert_eq!(done["chain"], Value::Null);
    let id = done["id"].as_i64().unwrap();
    sitga_testkit::expect_error(
        app.get(
            &format!("/api/v1/donations/{id}/proof"),
            Some(&cafe.access_token),
        )
        .await,
        409,
        "chain_off",
    )
    .await;
}

/// A donor re-reads its donation from the chain: the event under the
/// donation's id carries the platform's donor reference and grams, in the
/// recorded transaction; a record that disagrees is reported, not hidden.
#[tokio::test]
async fn a_donation_proves_itself_against_the_chain() {
    let (_node, settings) = sitga_testkit::local_chain(None).await;
    let app = TestApp::builder().chain(settings).spawn().await;
    let cafe = app.user().cafe().create().await;
    let recycler = app.user().recycler().create().await;
    let stranger = app.user().cafe().create().await;
    let operator = app.user().role(Role::Operator).create().await;
    let done = donate(&app, &cafe, &recycler, 3.5).await;
    let id = done["id"].as_i64().unwrap();
    let confirmed = wait_for_chain(&app, &cafe, id, "confirmed").await;
    let path = format!("/api/v1/donations/{id}/proof");
    for who in [&cafe, &recycler, &operator] {
        let proof = expect_json(app.get(&path, Some(&who.access_token)).await, 200).await;
        assert_eq!(proof["matches"], true, "{proof}");
        assert_eq!(proof["mismatches"], json!([]));
        assert_eq!(proof["status"], "confirmed");
        assert_eq!(proof["on_chain"]["grams"], 3_500);
        assert_eq!(proof["on_chain"]["donor_ref"], proof["record"]["donor_ref"]);
        assert_eq!(proof["on_chain"]["tx_hash"], confirmed["chain"]["tx_hash"]);
        assert_eq!(
            proof["on_chain"]["block_number"],
            confirmed["chain"]["block_number"]
        );
    }
    sitga_testkit::expect_error(
        app.get(&path, Some(&stranger.access_token)).await,
        403,
        "not_allowed",
    )
    .await;
    sitga_testkit::expect_error(
        app.get("/api/v1/donations/999999/proof", Some(&cafe.access_token))
            .await,
        404,
        "not_found",
    )
    .await;
    // A waiting offer made no donation record yet.
    let waiting = expect_json(
        app.send(
            reqwest::Method::POST,
            "/api/v1/pickups",
            Some(&cafe.access_token),
            Some(json!({"amount_kg": 1})),
        )
        .await,
        201,
    )
    .await;
    sitga_testkit::expect_error(
        app.get(
            &format!("/api/v1/donations/{}/proof", waiting["id"]),
            Some(&cafe.access_token),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    // The platform's record altered (a bad restore): the proof says so.
    sitga_persistence::test_support::execute_raw(
        &app.db,
        &format!("UPDATE chain_donations SET grams = 9900 WHERE pickup_id = {id}"),
    )
    .await
    .unwrap();
    let proof = expect_json(app.get(&path, Some(&cafe.access_token)).await, 200).await;
    assert_eq!(proof["matches"], false);
    assert_eq!(proof["mismatches"], json!(["grams"]));
    assert_eq!(proof["on_chain"]["grams"], 3_500);
}

/// A self-dealing cafe and recycler pair completing donations as fast as
/// they like: the platform pays for at most its daily cap of transactions,
/// one donor gets at most its daily records (the rest wait for tomorrow),
/// and the operator's monitor says so.
#[tokio::test]
async fn daily_caps_bound_what_the_platform_pays_for() {
    let (_node, mut settings) = sitga_testkit::local_chain(None).await;
    settings.daily_tx_cap = 2;
    settings.donor_daily_cap = 1;
    let app = TestApp::builder().chain(settings).spawn().await;
    let operator = app.user().role(Role::Operator).create().await;
    let recycler = app.user().recycler().province("seoul").create().await;
    let greedy = app.user().cafe().province("seoul").create().await;
    let honest = app.user().cafe().province("seoul").create().await;
    let late = app.user().cafe().province("seoul").create().await;

    let first = donate(&app, &greedy, &recycler, 1.0).await["id"]
        .as_i64()
        .unwrap();
    wait_for_chain(&app, &greedy, first, "confirmed").await;
    // The same donor again: deferred to tomorrow, not sent.
    let second = donate(&app, &greedy, &recycler, 1.0).await["id"]
        .as_i64()
        .unwrap();
    let honest_id = donate(&app, &honest, &recycler, 1.0).await["id"]
        .as_i64()
        .unwrap();
    wait_for_chain(&app, &honest, honest_id, "confirmed").await;
    // The platform's 2 a day are spent: a third donor waits too.
    let late_id = donate(&app, &late, &recycler, 1.0).await["id"]
        .as_i64()
        .unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let deferred = wait_for_chain(&app, &greedy, second, "pending").await;
    assert_eq!(deferred["chain"]["attempts"], 0, "{deferred}");
    let waiting = wait_for_chain(&app, &late, late_id, "pending").await;
    assert_eq!(waiting["chain"]["attempts"], 0, "{waiting}");

    let monitor = expect_json(
        app.get("/api/v1/monitor/chain", Some(&operator.access_token))
            .await,
        200,
    )
    .await;
    assert_eq!(monitor["confirmed_today"], 2, "{monitor}");
    assert_eq!(monitor["daily_tx_cap"], 2);
    assert_eq!(monitor["donor_daily_cap"], 1);
    assert_eq!(monitor["deferred"], 1, "{monitor}");
    let alerts: Vec<&str> = monitor["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert!(
        alerts[0].contains("daily cap of 2 chain transactions is reached"),
        "{alerts:?}"
    );
    assert!(
        alerts.iter().any(|a| a.contains("1 donation(s) deferred")),
        "{alerts:?}"
    );
}

#[tokio::test]
async fn a_collector_completes_at_most_its_daily_limit() {
    let app = TestApp::builder().completions_per_day(2).spawn().await;
    let cafe = app.user().cafe().province("seoul").create().await;
    let recycler = app.user().recycler().province("seoul").create().await;
    donate(&app, &cafe, &recycler, 1.0).await;
    donate(&app, &cafe, &recycler, 1.0).await;
    let pickup = expect_json(
        app.send(
            reqwest::Method::POST,
            "/api/v1/pickups",
            Some(&cafe.access_token),
            Some(json!({"amount_kg": 0.1})),
        )
        .await,
        201,
    )
    .await;
    let id = pickup["id"].as_i64().unwrap();
    let claim = app
        .send(
            reqwest::Method::POST,
            &format!("/api/v1/pickups/{id}/claim"),
            Some(&recycler.access_token),
            Some(json!({})),
        )
        .await;
    assert_eq!(claim.status(), 200);
    // The third completion today, claiming 1,000 kg for a 0.1 kg offer.
    let refused = app
        .send(
            reqwest::Method::POST,
            &format!("/api/v1/pickups/{id}/complete"),
            Some(&recycler.access_token),
            Some(json!({"measured_kg": 1000})),
        )
        .await;
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=86_400).contains(&retry_after));
    sitga_testkit::expect_error(refused, 429, "rate_limited").await;
    // Nothing moved: the pickup is still on its way.
    let mine = expect_json(
        app.get("/api/v1/me/pickups", Some(&cafe.access_token))
            .await,
        200,
    )
    .await;
    let still = mine["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == id)
        .unwrap()
        .clone();
    assert_eq!(still["status"], "on_way", "{still}");
}
