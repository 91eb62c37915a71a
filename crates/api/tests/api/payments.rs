//! Money in and out: charges through the payment provider within a daily
//! cap, withdrawals as payout requests an operator pays or rejects, and an
//! admin removing a listing (the leading bid's points go back). Money is
//! conserved on every path.

use std::sync::Arc;

use reqwest::Method;
use serde_json::{Value, json};
use sitga_realtime::payments::{
    Approval, ApprovalFuture, PaymentOrder, PaymentProvider, ProviderError,
};
use sitga_testkit::{TestApp, TestUser, expect_error, expect_json};
use sitga_user::Role;

async fn post(app: &TestApp, path: &str, user: &TestUser, body: Value) -> reqwest::Response {
    app.send(Method::POST, path, Some(&user.access_token), Some(body))
        .await
}

async fn balance(app: &TestApp, user: &TestUser) -> Value {
    expect_json(
        app.get("/api/v1/me/balance", Some(&user.access_token))
            .await,
        200,
    )
    .await
}

async fn audit(app: &TestApp, admin: &TestUser, query: &str) -> Value {
    expect_json(
        app.get(
            &format!("/api/v1/admin/audit?{query}"),
            Some(&admin.access_token),
        )
        .await,
        200,
    )
    .await
}

#[tokio::test]
async fn charges_stop_at_the_daily_cap_even_when_sent_at_once() {
    let app = TestApp::builder().charge_cap(100_000).spawn().await;
    let admin = app.user().role(Role::Admin).create().await;
    let alice = app.user().create().await;
    let charge = |amount: i64| {
        post(
            &app,
            "/api/v1/me/balance/charge",
            &alice,
            json!({"amount": amount}),
        )
    };

    expect_json(charge(60_000).await, 200).await;
    let over = expect_error(charge(50_000).await, 409, "daily_charge_limit").await;
    assert_eq!(over["field"], "amount");
    assert!(
        over["message"]
            .as_str()
            .unwrap()
            .contains("40000 won is left"),
        "{over}"
    );
    let after = expect_json(charge(40_000).await, 200).await;
    assert_eq!(after["balance"], 100_000);
    expect_error(charge(1).await, 409, "daily_charge_limit").await;

    // Ten charges of 30,000 at once from a fresh account: the cap lets
    // exactly three through, never a fourth.
    let bob = app.user().create().await;
    let attempts = (0..10).map(|_| {
        post(
            &app,
            "/api/v1/me/balance/charge",
            &bob,
            json!({"amount": 30_000}),
        )
    });
    let statuses: Vec<u16> = futures_util::future::join_all(attempts)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|&&s| s == 200).count(),
        3,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|&&s| s == 409).count(),
        7,
        "{statuses:?}"
    );
    assert_eq!(balance(&app, &bob).await["balance"], 90_000);

    // Every charge is audited with the provider's reference.
    let charges = audit(&app, &admin, &format!("action=charge&subject={}", alice.id)).await;
    assert_eq!(charges["total"], 2);
    for row in charges["items"].as_array().unwrap() {
        assert!(
            row["reason"].as_str().unwrap().starts_with("dev:dev-"),
            "{row}"
        );
    }
}

/// Declines 13,000 and cannot be reached for 14,000; approves the rest.
#[derive(Debug)]
struct PickyProvider;

impl PaymentProvider for PickyProvider {
    fn name(&self) -> &'static str {
        "picky"
    }

    fn approve<'a>(&'a self, order: &'a PaymentOrder) -> ApprovalFuture<'a> {
        Box::pin(async move {
            match order.amount.get() {
                13_000 => Err(ProviderError::Declined("card limit".into())),
                14_000 => Err(ProviderError::Unavailable("timeout".into())),
                _ => Ok(Approval {
                    reference: format!("pay-{}", order.charge_id),
                }),
            }
        })
    }
}

#[tokio::test]
async fn a_refused_charge_credits_nothing_and_does_not_count_against_the_cap() {
    let app = TestApp::builder()
        .payment_provider(Arc::new(PickyProvider))
        .charge_cap(20_000)
        .spawn()
        .await;
    let alice = app.user().create().await;
    let charge = |amount: i64| {
        post(
            &app,
            "/api/v1/me/balance/charge",
            &alice,
            json!({"amount": amount}),
        )
    };
    let declined = expect_error(charge(13_000).await, 422, "payment_declined").await;
    assert!(declined["message"].as_str().unwrap().contains("card limit"));
    expect_error(charge(14_000).await, 503, "payment_unavailable").await;
    assert_eq!(balance(&app, &alice).await["balance"], 0);
    // Neither refused charge used up the day's 20,000.
    let after = expect_json(charge(20_000).await, 200).await;
    assert_eq!(after["balance"], 20_000);
    let ledger = expect_json(
        app.get("/api/v1/me/balance/ledger", Some(&alice.access_token))
            .await,
        200,
    )
    .await;
    assert_eq!(ledger["total"], 1);
}

#[tokio::test]
async fn a_payout_needs_a_bank_account_and_an_operator_pays_or_rejects_it_once() {
    let app = TestApp::spawn().await;
    let admin = app.user().role(Role::Admin).create().await;
    let operator = app.user().role(Role::Operator).create().await;
    let alice = app.user().create().await;
    app.charge(&alice, 100_000).await;
    let withdraw = |amount: i64| {
        post(
            &app,
            "/api/v1/me/balance/withdraw",
            &alice,
            json!({"amount": amount}),
        )
    };

    let refused = expect_error(withdraw(30_000).await, 409, "bank_account_required").await;
    assert_eq!(refused["field"], "bank_account");
    expect_json(
        app.send(
            Method::PATCH,
            "/api/v1/users/me",
            Some(&alice.access_token),
            Some(json!({"bank_account": "국민 123-456-789"})),
        )
        .await,
        200,
    )
    .await;
    expect_error(withdraw(100_001).await, 409, "insufficient_balance").await;
    expect_error(withdraw(0).await, 400, "validation_failed").await;

    // Requested: the points leave the wallet at once.
    let first = expect_json(withdraw(30_000).await, 200).await;
    assert_eq!(first["status"], "requested");
    assert_eq!(first["bank_account"], "국민 123-456-789");
    assert_eq!(balance(&app, &alice).await["balance"], 70_000);
    let second = expect_json(withdraw(20_000).await, 200).await;
    let (first_id, second_id) = (
        first["id"].as_i64().unwrap(),
        second["id"].as_i64().unwrap(),
    );
    assert_eq!(balance(&app, &alice).await["balance"], 50_000);

    // The queue, oldest first; only admins see it.
    let queue = expect_json(
        app.get(
            "/api/v1/admin/payouts?status=requested",
            Some(&admin.access_token),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(queue["total"], 2);
    assert_eq!(queue["items"][0]["id"], first_id);
    assert_eq!(
        app.get("/api/v1/admin/payouts", Some(&operator.access_token))
            .await
            .status(),
        403
    );
    expect_error(
        app.get(
            "/api/v1/admin/payouts?status=lost",
            Some(&admin.access_token),
        )
        .await,
        400,
        "invalid_query",
    )
    .await;

    // Paid with the transfer's reference; a second decision is refused.
    let paid_path = format!("/api/v1/admin/payouts/{first_id}/paid");
    expect_error(
        post(&app, &paid_path, &operator, json!({"reference": "KB-1"})).await,
        403,
        "forbidden",
    )
    .await;
    expect_error(
        post(&app, &paid_path, &admin, json!({"reference": " "})).await,
        400,
        "invalid_field",
    )
    .await;
    let paid = expect_json(
        post(
            &app,
            &paid_path,
            &admin,
            json!({"reference": "KB-20261205-0001"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(paid["status"], "paid");
    assert_eq!(paid["note"], "KB-20261205-0001");
    expect_error(
        post(
            &app,
            &format!("/api/v1/admin/payouts/{first_id}/reject"),
            &admin,
            json!({"reason": "changed my mind"}),
        )
        .await,
        409,
        "payout_not_pending",
    )
    .await;
    expect_error(
        post(
            &app,
            "/api/v1/admin/payouts/999999/paid",
            &admin,
            json!({"reference": "x"}),
        )
        .await,
        404,
        "not_found",
    )
    .await;

    // Two admins reject the second payout at the same moment: one wins,
    // the points come back once.
    let reject_path = format!("/api/v1/admin/payouts/{second_id}/reject");
    let (a, b) = tokio::join!(
        post(
            &app,
            &reject_path,
            &admin,
            json!({"reason": "account holder name differs"})
        ),
        post(
            &app,
            &reject_path,
            &admin,
            json!({"reason": "account holder name differs"})
        ),
    );
    let mut statuses = [a.status().as_u16(), b.status().as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 409]);
    assert_eq!(balance(&app, &alice).await["balance"], 70_000);

    // The user's view, the ledger and the audit log agree.
    let mine = expect_json(
        app.get("/api/v1/me/payouts", Some(&alice.access_token))
            .await,
        200,
    )
    .await;
    let states: Vec<&str> = mine["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["status"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["rejected", "paid"]);
    assert_eq!(mine["items"][0]["note"], "account holder name differs");
    let ledger = expect_json(
        app.get("/api/v1/me/balance/ledger", Some(&alice.access_token))
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
    assert_eq!(kinds, ["payout_return", "withdraw", "withdraw", "charge"]);
    for (action, total) in [("withdraw", 2), ("payout_paid", 1), ("payout_rejected", 1)] {
        let rows = audit(
            &app,
            &admin,
            &format!("action={action}&subject={}", alice.id),
        )
        .await;
        assert_eq!(rows["total"], total, "{action}: {rows}");
    }
    // Conserved: what was charged is in the wallet or went out as a payout
    // that is paid or still requested.
    let out: i64 = mine["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["status"] != "rejected")
        .map(|p| p["amount"].as_i64().unwrap())
        .sum();
    let kept = balance(&app, &alice).await["balance"].as_i64().unwrap();
    assert_eq!(kept + out, 100_000);
}

#[tokio::test]
async fn an_admin_removes_a_listing_and_the_leading_bid_gets_its_points_back() {
    let app = TestApp::spawn().await;
    let admin = app.user().role(Role::Admin).create().await;
    let seller = app.user().nickname("angler").create().await;
    let bidder = app.user().nickname("chef").create().await;
    app.charge(&bidder, 100_000).await;
    let id = app.open_auction(&seller, 20_000, json!({})).await["id"]
        .as_i64()
        .unwrap();
    assert_eq!(app.bid(&bidder, id, 25_000).await.status(), 201);
    assert_eq!(balance(&app, &bidder).await["held"], 25_000);
    let mut watcher = app.ws(None).await;
    watcher.join(id).await;
    let remove_path = format!("/api/v1/admin/auctions/{id}/remove");

    expect_error(
        post(
            &app,
            &remove_path,
            &seller,
            json!({"reason": "fake listing"}),
        )
        .await,
        403,
        "forbidden",
    )
    .await;
    expect_error(
        post(&app, &remove_path, &admin, json!({"reason": "no"})).await,
        400,
        "invalid_field",
    )
    .await;
    expect_error(
        post(
            &app,
            "/api/v1/admin/auctions/999999/remove",
            &admin,
            json!({"reason": "fake listing"}),
        )
        .await,
        404,
        "not_found",
    )
    .await;

    let removed = expect_json(
        post(
            &app,
            &remove_path,
            &admin,
            json!({"reason": "photo is of a farmed fish"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(removed["status"], "cancelled");
    let closed = watcher.until(|f| f["event"] == "closed").await;
    assert_eq!(closed["status"], "cancelled");
    assert_eq!(closed["winner"], Value::Null);
    let wallet = balance(&app, &bidder).await;
    assert_eq!(
        (wallet["balance"].as_i64(), wallet["held"].as_i64()),
        (Some(100_000), Some(0))
    );

    // Closed for good: no second removal, no bid, no settlement later.
    expect_error(
        post(
            &app,
            &remove_path,
            &admin,
            json!({"reason": "photo is of a farmed fish"}),
        )
        .await,
        409,
        "auction_not_open",
    )
    .await;
    assert_eq!(app.bid(&bidder, id, 30_000).await.status(), 409);
    app.expire_auction(id).await;
    tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;
    assert_eq!(balance(&app, &seller).await["balance"], 0);

    let removal = audit(&app, &admin, "action=auction_remove").await;
    assert_eq!(removal["total"], 1);
    assert_eq!(removal["items"][0]["subject_auction_id"], id);
    assert_eq!(removal["items"][0]["subject_user_id"], seller.id);
    assert_eq!(removal["items"][0]["actor_id"], admin.id);
    assert_eq!(removal["items"][0]["reason"], "photo is of a farmed fish");
    let refund = audit(&app, &admin, "action=refund").await;
    assert_eq!(refund["total"], 1);
    assert_eq!(refund["items"][0]["subject_user_id"], bidder.id);
    assert_eq!(refund["items"][0]["amount"], 25_000);
}
