//! The admin's money tools and views: adjustments with a reason, any
//! user's ledger, every sale, and the append-only audit log.

use reqwest::Method;
use serde_json::{Value, json};
use sitga_testkit::{TestApp, expect_error, expect_json};
use sitga_user::Role;

#[tokio::test]
async fn adjustments_need_a_reason_and_land_in_the_ledger_and_the_audit_log() {
    let app = TestApp::spawn().await;
    let admin = app.user().role(Role::Admin).create().await;
    let operator = app.user().role(Role::Operator).create().await;
    let alice = app.user().create().await;
    app.charge(&alice, 50_000).await;
    let adjust = |token: &str, id: i64, body: Value| {
        let (token, path) = (token.to_owned(), format!("/api/v1/admin/users/{id}/adjust"));
        let app = &app;
        async move {
            app.send(Method::POST, &path, Some(&token), Some(body))
                .await
        }
    };

    // Refused: no reason, zero, too large, not an admin, no such user.
    for (body, field) in [
        (json!({"amount": 1000, "reason": "x"}), "reason"),
        (json!({"amount": 0, "reason": "customer service"}), "amount"),
        (
            json!({"amount": 10_000_001, "reason": "customer service"}),
            "amount",
        ),
    ] {
        let err = expect_error(
            adjust(&admin.access_token, alice.id, body).await,
            400,
            "invalid_field",
        )
        .await;
        assert_eq!(err["field"], field);
    }
    expect_error(
        adjust(&admin.access_token, alice.id, json!({"amount": 1000})).await,
        400,
        "invalid_field",
    )
    .await;
    expect_error(
        adjust(
            &operator.access_token,
            alice.id,
            json!({"amount": 1000, "reason": "customer service"}),
        )
        .await,
        403,
        "forbidden",
    )
    .await;
    expect_error(
        adjust(
            &admin.access_token,
            999_999,
            json!({"amount": 1000, "reason": "customer service"}),
        )
        .await,
        404,
        "not_found",
    )
    .await;

    // A credit, then a debit larger than what is available.
    let after = expect_json(
        adjust(
            &admin.access_token,
            alice.id,
            json!({"amount": 5_000, "reason": "refund for a spoiled catch"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(after["balance"], 55_000);
    let refused = expect_error(
        adjust(
            &admin.access_token,
            alice.id,
            json!({"amount": -60_000, "reason": "duplicate charge"}),
        )
        .await,
        409,
        "insufficient_balance",
    )
    .await;
    assert_eq!(refused["field"], "amount");
    let after = expect_json(
        adjust(
            &admin.access_token,
            alice.id,
            json!({"amount": -15_000, "reason": "duplicate charge"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(after["balance"], 40_000);

    // The admin sees alice's ledger; alice cannot see the admin view.
    let ledger = expect_json(
        app.get(
            &format!("/api/v1/admin/users/{}/ledger", alice.id),
            Some(&admin.access_token),
        )
        .await,
        200,
    )
    .await;
    let kinds: Vec<&str> = ledger["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["adjust_debit", "adjust_credit", "charge"]);
    assert_eq!(
        app.get(
            &format!("/api/v1/admin/users/{}/ledger", alice.id),
            Some(&alice.access_token)
        )
        .await
        .status(),
        403
    );

    // The audit log names who did what to whom, and why; filters narrow it.
    let audit = expect_json(
        app.get(
            &format!("/api/v1/admin/audit?subject={}", alice.id),
            Some(&admin.access_token),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(audit["total"], 3, "{audit}");
    let newest = &audit["items"][0];
    assert_eq!(newest["action"], "adjust_debit");
    assert_eq!(newest["actor_id"], admin.id);
    assert_eq!(newest["amount"], 15_000);
    assert_eq!(newest["reason"], "duplicate charge");
    assert_eq!(audit["items"][2]["action"], "charge");
    assert_eq!(audit["items"][2]["actor_id"], alice.id);
    let credits = expect_json(
        app.get(
            &format!(
                "/api/v1/admin/audit?actor={}&action=adjust_credit",
                admin.id
            ),
            Some(&admin.access_token),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(credits["total"], 1);
    let none = expect_json(
        app.get(
            "/api/v1/admin/audit?from=2099-01-01T00:00:00Z",
            Some(&admin.access_token),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(none["total"], 0);
    expect_error(
        app.get(
            "/api/v1/admin/audit?action=delete",
            Some(&admin.access_token),
        )
        .await,
        400,
        "invalid_query",
    )
    .await;
}

#[tokio::test]
async fn audit_rows_cannot_be_changed_or_deleted_even_by_the_database_user() {
    let app = TestApp::spawn().await;
    let alice = app.user().create().await;
    app.charge(&alice, 1_000).await;
    for statement in ["UPDATE audit_log SET amount = 1", "DELETE FROM audit_log"] {
        let refused = sitga_persistence::test_support::execute_raw(&app.db, statement)
            .await
            .expect_err("the database must refuse it");
        assert!(refused.contains("append-only"), "{statement}: {refused}");
    }
    // Still there, unchanged.
    let admin = app.user().role(Role::Admin).create().await;
    let audit = expect_json(
        app.get("/api/v1/admin/audit", Some(&admin.access_token))
            .await,
        200,
    )
    .await;
    assert_eq!(audit["total"], 1);
    assert_eq!(audit["items"][0]["amount"], 1_000);
}

#[tokio::test]
async fn the_admin_sees_every_sale_with_its_buyer_and_the_escrow_is_audited() {
    let app = TestApp::spawn().await;
    let admin = app.user().role(Role::Admin).create().await;
    let seller = app.user().nickname("angler").create().await;
    let buyer = app.user().nickname("chef").create().await;
    app.charge(&buyer, 100_000).await;
    let id = app.open_auction(&seller, 20_000, json!({})).await["id"]
        .as_i64()
        .unwrap();
    assert_eq!(app.bid(&buyer, id, 25_000).await.status(), 201);
    app.expire_auction(id).await;
    let mut sales = Value::Null;
    for _ in 0..100 {
        sales = expect_json(
            app.get("/api/v1/admin/sales", Some(&admin.access_token))
                .await,
            200,
        )
        .await;
        // The page and its count are two reads: a sale committed between
        // them is counted before it is listed.
        if sales["total"] == 1 && sales["items"][0].is_object() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let sale = &sales["items"][0];
    assert_eq!(sale["auction_id"], id, "{sales}");
    assert_eq!(sale["buyer"], "chef");
    assert_eq!(sale["buyer_id"], buyer.id);
    assert_eq!(sale["seller"], "angler");
    assert_eq!(sale["price"], 25_000);
    // The close moves the winning bid into the sale's escrow (the seller
    // is paid, and audited again, at the handover: tests/api/sales.rs).
    let settled = expect_json(
        app.get(
            "/api/v1/admin/audit?action=escrow",
            Some(&admin.access_token),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(settled["total"], 1);
    assert_eq!(settled["items"][0]["subject_user_id"], buyer.id);
    assert_eq!(settled["items"][0]["subject_auction_id"], id);
    assert_eq!(settled["items"][0]["amount"], 25_000);
    assert_eq!(settled["items"][0]["actor_id"], Value::Null);
    assert_eq!(
        app.get("/api/v1/admin/sales", Some(&buyer.access_token))
            .await
            .status(),
        403
    );
}

/// A banned user is out at once: sockets closed, tokens dead, no login, no
/// refresh; lifting the ban lets them back in. Both are audited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ban_ends_every_session_at_once_and_an_unban_lets_the_user_back() {
    let app = TestApp::spawn().await;
    let admin = app.user().role(Role::Admin).create().await;
    let mallory = app.user().nickname("mallory").create().await;
    let phone = app.login(&mallory.email, &mallory.password).await;
    let mut socket = app.ws(phone["access_token"].as_str()).await;
    let post = |path: String, token: String, body: Value| {
        let app = &app;
        async move {
            app.send(Method::POST, &path, Some(&token), Some(body))
                .await
        }
    };
    let ban_path = format!("/api/v1/admin/users/{}/ban", mallory.id);

    // Refused: no reason, an end in the past, yourself, a member.
    expect_error(
        post(
            ban_path.clone(),
            admin.access_token.clone(),
            json!({"reason": "x"}),
        )
        .await,
        400,
        "invalid_field",
    )
    .await;
    expect_error(
        post(
            ban_path.clone(),
            admin.access_token.clone(),
            json!({"reason": "shill bidding", "until": "2020-01-01T00:00:00Z"}),
        )
        .await,
        422,
        "inconsistent_fields",
    )
    .await;
    expect_error(
        post(
            format!("/api/v1/admin/users/{}/ban", admin.id),
            admin.access_token.clone(),
            json!({"reason": "testing myself"}),
        )
        .await,
        403,
        "not_allowed",
    )
    .await;
    expect_error(
        post(
            ban_path.clone(),
            mallory.access_token.clone(),
            json!({"reason": "shill bidding"}),
        )
        .await,
        403,
        "forbidden",
    )
    .await;

    let started = std::time::Instant::now();
    let banned = post(
        ban_path.clone(),
        admin.access_token.clone(),
        json!({"reason": "shill bidding with a second account"}),
    )
    .await;
    assert_eq!(banned.status(), 204);
    socket
        .expect_closed_within(std::time::Duration::from_secs(1))
        .await;
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    for token in [
        mallory.access_token.as_str(),
        phone["access_token"].as_str().unwrap(),
    ] {
        expect_error(
            app.get("/api/v1/users/me", Some(token)).await,
            401,
            "session_revoked",
        )
        .await;
    }
    expect_error(
        app.post_json(
            "/api/v1/auth/login",
            &json!({"email": mallory.email, "password": mallory.password}),
        )
        .await,
        403,
        "account_banned",
    )
    .await;
    // A wrong password still says only that.
    expect_error(
        app.post_json(
            "/api/v1/auth/login",
            &json!({"email": mallory.email, "password": "not the password"}),
        )
        .await,
        401,
        "invalid_credentials",
    )
    .await;
    expect_error(
        app.post_json(
            "/api/v1/auth/refresh",
            &json!({"refresh_token": mallory.refresh_token}),
        )
        .await,
        401,
        "refresh_token_revoked",
    )
    .await;

    let lifted = post(
        format!("/api/v1/admin/users/{}/unban", mallory.id),
        admin.access_token.clone(),
        json!({"reason": "appeal accepted"}),
    )
    .await;
    assert_eq!(lifted.status(), 204);
    app.login(&mallory.email, &mallory.password).await;
    let audit = expect_json(
        app.get(
            &format!("/api/v1/admin/audit?subject={}", mallory.id),
            Some(&admin.access_token),
        )
        .await,
        200,
    )
    .await;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["unban", "ban"]);
    assert_eq!(
        audit["items"][1]["reason"],
        "shill bidding with a second account"
    );
}

#[tokio::test]
async fn a_ban_with_an_end_lets_the_user_back_afterwards() {
    let app = TestApp::spawn().await;
    let admin = app.user().role(Role::Admin).create().await;
    let bob = app.user().create().await;
    let until = chrono::Utc::now() + chrono::Duration::seconds(2);
    let res = app
        .send(
            Method::POST,
            &format!("/api/v1/admin/users/{}/ban", bob.id),
            Some(&admin.access_token),
            Some(json!({"reason": "cooling off", "until": until.to_rfc3339()})),
        )
        .await;
    assert_eq!(res.status(), 204);
    expect_error(
        app.post_json(
            "/api/v1/auth/login",
            &json!({"email": bob.email, "password": bob.password}),
        )
        .await,
        403,
        "account_banned",
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;
    app.login(&bob.email, &bob.password).await;
}
