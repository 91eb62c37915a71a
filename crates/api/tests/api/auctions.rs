use std::collections::HashMap;
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use sitga_persistence::{auctions, wallets};
use sitga_realtime::closing::CloseResult;
use sitga_testkit::{TestApp, expect_error, expect_json};

async fn patch(
    app: &TestApp,
    id: i64,
    who: &sitga_testkit::TestUser,
    body: Value,
) -> reqwest::Response {
    let path = format!("/api/v1/auctions/{id}");
    app.send(Method::PATCH, &path, Some(&who.access_token), Some(body))
        .await
}

#[tokio::test]
async fn auction_lifecycle_with_points() {
    let app = TestApp::spawn().await;
    let seller = app.user().nickname("어부김씨").create().await;
    let alice = app.user().nickname("alice").create().await;
    let bob = app.user().nickname("bob").create().await;

    let auction = app
        .open_auction(&seller, 10_000, json!({"reserve_price": 15_000}))
        .await;
    let id = auction["id"].as_i64().unwrap();
    assert_eq!(auction["status"], "open");
    assert_eq!(auction["seller"], "어부김씨");
    assert_eq!(auction["current_price"], Value::Null);
    assert_eq!(auction["min_next_bid"], 10_000);
    assert_eq!(auction["reserve_met"], false);
    assert_eq!(auction["has_reserve"], true);
    assert!(
        auction.get("reserve_price").is_none(),
        "the reserve itself is secret"
    );

    // The first GET counts a view; reloading (or a script hammering the
    // page) from the same client counts nothing more for an hour.
    let seen = expect_json(app.get(&format!("/api/v1/auctions/{id}"), None).await, 200).await;
    assert_eq!(seen["view_count"], 1);
    for _ in 0..5 {
        app.get(&format!("/api/v1/auctions/{id}"), None).await;
    }
    let again = expect_json(app.get(&format!("/api/v1/auctions/{id}"), None).await, 200).await;
    assert_eq!(again["view_count"], 1);
    expect_error(
        app.get("/api/v1/auctions/999999", None).await,
        404,
        "not_found",
    )
    .await;

    // The seller may edit before the first bid; others may not.
    expect_error(
        patch(&app, id, &alice, json!({"title": "mine now"})).await,
        403,
        "not_seller",
    )
    .await;
    let edited = expect_json(
        patch(&app, id, &seller, json!({"title": "감성돔 45cm"})).await,
        200,
    )
    .await;
    assert_eq!(edited["title"], "감성돔 45cm");

    // No points yet.
    let body = expect_error(
        app.bid(&alice, id, 10_000).await,
        409,
        "insufficient_balance",
    )
    .await;
    assert_eq!(body["available"], 0);
    app.charge(&alice, 50_000).await;
    app.charge(&bob, 50_000).await;
    let body = expect_error(app.bid(&alice, id, 9_000).await, 409, "bid_too_low").await;
    assert_eq!(body["min_next_bid"], 10_000);
    expect_error(app.bid(&seller, id, 20_000).await, 409, "seller_cannot_bid").await;

    let accepted = expect_json(app.bid(&alice, id, 10_000).await, 201).await;
    assert_eq!(accepted["bid"]["seq"], 1);
    assert_eq!(accepted["auction"]["leader"], "alice");
    assert_eq!(accepted["auction"]["min_next_bid"], 11_000);
    expect_error(app.bid(&alice, id, 12_000).await, 409, "already_leading").await;
    let balance = expect_json(
        app.get("/api/v1/me/balance", Some(&alice.access_token))
            .await,
        200,
    )
    .await;
    assert_eq!(
        balance,
        json!({"balance": 50_000, "held": 10_000, "available": 40_000})
    );

    expect_json(app.bid(&bob, id, 16_000).await, 201).await;
    let balance = expect_json(
        app.get("/api/v1/me/balance", Some(&alice.access_token))
            .await,
        200,
    )
    .await;
    assert_eq!(balance["held"], 0, "outbid: hold released");
    expect_error(
        patch(&app, id, &seller, json!({"title": "too late"})).await,
        409,
        "auction_has_bids",
    )
    .await;
    expect_error(
        app.send(
            Method::POST,
            &format!("/api/v1/auctions/{id}/cancel"),
            Some(&seller.access_token),
            None,
        )
        .await,
        409,
        "auction_has_bids",
    )
    .await;

    let history = expect_json(
        app.get(&format!("/api/v1/auctions/{id}/bids"), None).await,
        200,
    )
    .await;
    assert_eq!(history["total"], 2);
    assert_eq!(history["items"][0]["bidder"], "bob");

    // Early close by the seller: sold to bob at 16,000 (reserve 15,000 met).
    expect_error(
        app.send(
            Method::POST,
            &format!("/api/v1/auctions/{id}/close"),
            Some(&alice.access_token),
            None,
        )
        .await,
        403,
        "not_seller",
    )
    .await;
    let closed = expect_json(
        app.send(
            Method::POST,
            &format!("/api/v1/auctions/{id}/close"),
            Some(&seller.access_token),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(closed["status"], "sold");
    expect_error(app.bid(&alice, id, 30_000).await, 409, "auction_not_open").await;

    let bob_balance = expect_json(
        app.get("/api/v1/me/balance", Some(&bob.access_token)).await,
        200,
    )
    .await;
    assert_eq!(
        bob_balance,
        json!({"balance": 34_000, "held": 0, "available": 34_000})
    );
    let seller_balance = expect_json(
        app.get("/api/v1/me/balance", Some(&seller.access_token))
            .await,
        200,
    )
    .await;
    assert_eq!(
        seller_balance["balance"], 0,
        "the price waits in escrow until the buyer has the fish"
    );

    let purchases = expect_json(
        app.get("/api/v1/me/purchases", Some(&bob.access_token))
            .await,
        200,
    )
    .await;
    assert_eq!(purchases[0]["price"], 16_000);
    assert_eq!(purchases[0]["counterpart"], "어부김씨");
    assert_eq!(purchases[0]["state"], "awaiting_details");
    assert!(purchases[0]["sale_id"].as_i64().is_some());
    let sales = expect_json(
        app.get("/api/v1/me/sales", Some(&seller.access_token))
            .await,
        200,
    )
    .await;
    assert_eq!(sales[0]["counterpart"], "bob");
    assert_eq!(sales[0]["sale_id"], purchases[0]["sale_id"]);
    assert_eq!(sales[0]["state"], "awaiting_details");
    let ledger = expect_json(
        app.get("/api/v1/me/balance/ledger", Some(&bob.access_token))
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
    assert_eq!(kinds, ["escrow", "hold", "charge"]);
}

#[tokio::test]
async fn creation_and_listing_validate_input() {
    let app = TestApp::spawn().await;
    let seller = app.user().create().await;
    let post = |body: Value| {
        app.send(
            Method::POST,
            "/api/v1/auctions",
            Some(&seller.access_token),
            Some(body),
        )
    };
    let base = json!({"title": "t", "description": "", "start_price": 1000});
    let with = |k: &str, v: Value| {
        let mut b = base.clone();
        b[k] = v;
        b
    };
    for (body, field) in [
        (with("start_price", json!(0)), "start_price"),
        (with("start_price", json!(-100)), "start_price"),
        (with("start_price", json!(1.5)), "start_price"),
        (with("min_increment", json!(0)), "min_increment"),
        (with("reserve_price", json!(0)), "reserve_price"),
        (with("duration_minutes", json!(0)), "duration_minutes"),
        (with("duration_minutes", json!(10_081)), "duration_minutes"),
        (with("title", json!("")), "title"),
        (with("title", json!("x".repeat(101))), "title"),
        (with("photo_url", json!("javascript:alert(1)")), "photo_url"),
        (with("seller_id", json!(1)), "seller_id"),
    ] {
        let res = post(body.clone()).await;
        assert_eq!(res.status(), 400, "{body}");
        let err: Value = res.json().await.unwrap();
        assert_eq!(err["field"], field, "{body} → {err}");
    }
    // Each field fine alone, but a reserve below the start price: 422.
    let refused = expect_error(
        post(with("reserve_price", json!(500))).await,
        422,
        "inconsistent_fields",
    )
    .await;
    assert_eq!(refused["field"], "reserve_price");
    // A body that is not an object is refused (serde would fill a struct
    // from an array).
    expect_error(post(json!(["t", "", 1000])).await, 400, "invalid_field").await;
    expect_error(
        app.send(Method::POST, "/api/v1/auctions", None, Some(base.clone()))
            .await,
        401,
        "missing_token",
    )
    .await;
    // Search text with a control character is refused.
    expect_error(
        app.get("/api/v1/auctions?q=%C2%84", None).await,
        400,
        "invalid_query",
    )
    .await;

    let a = expect_json(post(with("title", json!("100% 자연산 부시리"))).await, 201).await;
    expect_json(post(base.clone()).await, 201).await;
    let page = expect_json(app.get("/api/v1/auctions?q=100%25", None).await, 200).await;
    assert_eq!(page["total"], 1);
    assert_eq!(page["items"][0]["id"], a["id"]);
    let page = expect_json(
        app.get(
            "/api/v1/auctions?status=all&sort=ending_soon&per_page=1",
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(page["total"], 2);
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert!(page["items"][0]["server_now"].is_string());
    for bad in ["status=closed", "sort=random", "page=0", "seller=abc"] {
        expect_error(
            app.get(&format!("/api/v1/auctions?{bad}"), None).await,
            400,
            "invalid_query",
        )
        .await;
    }
}

#[tokio::test]
async fn idempotent_bids_replay_the_first_outcome() {
    let app = TestApp::spawn().await;
    let seller = app.user().create().await;
    let alice = app.user().create().await;
    app.charge(&alice, 100_000).await;
    let id = app.open_auction(&seller, 5_000, json!({})).await["id"]
        .as_i64()
        .unwrap();
    let bid = |amount: i64, key: &'static str| {
        app.client
            .post(app.url(&format!("/api/v1/auctions/{id}/bids")))
            .bearer_auth(&alice.access_token)
            .header("idempotency-key", key)
            .json(&json!({"amount": amount}))
            .send()
    };
    let first = expect_json(bid(5_000, "k-1").await.unwrap(), 201).await;
    let again = expect_json(bid(5_000, "k-1").await.unwrap(), 201).await;
    assert_eq!(first, again);
    let history = expect_json(
        app.get(&format!("/api/v1/auctions/{id}/bids"), None).await,
        200,
    )
    .await;
    assert_eq!(history["total"], 1, "the retry did not bid twice");
    expect_error(
        bid(6_000, "k-1").await.unwrap(),
        422,
        "idempotency_key_reused",
    )
    .await;
    // A refusal is replayed too.
    let refused = expect_error(bid(5_500, "k-2").await.unwrap(), 409, "already_leading").await;
    let replay = expect_error(bid(5_500, "k-2").await.unwrap(), 409, "already_leading").await;
    assert_eq!(refused, replay);
}

#[tokio::test]
async fn closing_is_once_and_survives_restarts() {
    let app = TestApp::spawn().await;
    let seller = app.user().create().await;
    let alice = app.user().create().await;
    app.charge(&alice, 100_000).await;
    let sold = app.open_auction(&seller, 5_000, json!({})).await["id"]
        .as_i64()
        .unwrap();
    let unsold = app
        .open_auction(&seller, 5_000, json!({"reserve_price": 50_000}))
        .await["id"]
        .as_i64()
        .unwrap();
    let empty = app.open_auction(&seller, 5_000, json!({})).await["id"]
        .as_i64()
        .unwrap();
    expect_json(app.bid(&alice, sold, 7_000).await, 201).await;
    expect_json(app.bid(&alice, unsold, 9_000).await, 201).await;

    // Closing an auction that is not due does nothing.
    assert_eq!(
        app.state().closer.close(sold.into(), false).await.unwrap(),
        CloseResult::NotDue
    );

    // Stop, let the end pass while down, start again: the sweeper closes them.
    let app = app.restart().await;
    for id in [sold, unsold, empty] {
        app.expire_auction(id).await;
    }
    let mut statuses = HashMap::new();
    for _ in 0..100 {
        statuses.clear();
        for id in [sold, unsold, empty] {
            let a = expect_json(app.get(&format!("/api/v1/auctions/{id}"), None).await, 200).await;
            statuses.insert(id, a["status"].as_str().unwrap().to_owned());
        }
        if statuses.values().all(|s| s != "open") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(statuses[&sold], "sold");
    assert_eq!(statuses[&unsold], "unsold", "reserve not met");
    assert_eq!(statuses[&empty], "unsold");

    // More closers racing change nothing.
    let results =
        futures_util::future::join_all((0..5).map(|_| app.state().closer.close(sold.into(), true)))
            .await;
    assert!(
        results
            .iter()
            .all(|r| matches!(r, Ok(CloseResult::AlreadyClosed)))
    );
    let mut conn = app.db.get().await.unwrap();
    let w = wallets::get(&mut conn, alice.id.into()).await.unwrap();
    assert_eq!(
        (w.balance.get(), w.held.get()),
        (93_000, 0),
        "paid 7,000 once; the unsold hold was released"
    );
    let s = wallets::get(&mut conn, seller.id.into()).await.unwrap();
    assert_eq!(s.balance.get(), 0, "the seller is paid at the handover");
    assert_eq!(
        sitga_persistence::sales::escrowed(&mut conn).await.unwrap(),
        sitga_auction::Krw::new(7_000),
        "the price waits in escrow, once"
    );
    assert_eq!(
        wallets::totals(&mut conn).await.unwrap(),
        (sitga_auction::Krw::new(93_000), sitga_auction::Krw::ZERO),
        "money conserved: wallets and escrow"
    );
}

/// Many bidders at once on one auction: the history is one consistent line.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_bidders_serialize_correctly() {
    bid_storm(&[10_000_000; 50]).await;
}

/// Bidders who run out of points in the middle of a storm: the batches they
/// share with others change outcome once the wallets are read (the writer
/// rewrites the auction row it wrote first), and the line stays consistent.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bidders_who_cannot_pay_leave_the_history_consistent() {
    let balances: Vec<i64> = (0..30)
        .map(|n| {
            if n % 2 == 0 {
                10_000_000
            } else {
                2_000 + 300 * n
            }
        })
        .collect();
    bid_storm(&balances).await;
}

/// One bidder per balance bids 20 times as fast as answers come; then the
/// history, holds and money are checked against what was acknowledged.
async fn bid_storm(balances: &[i64]) {
    const ROUNDS: usize = 20;
    let app = std::sync::Arc::new(TestApp::spawn().await);
    let seller = app.user().create().await;
    let id = app
        .open_auction(&seller, 1_000, json!({"min_increment": 100}))
        .await["id"]
        .as_i64()
        .unwrap();
    let mut bidders = Vec::new();
    for &balance in balances {
        let b = app.user().create().await;
        app.charge(&b, balance).await;
        bidders.push(b);
    }
    let tasks: Vec<_> = bidders
        .iter()
        .cloned()
        .map(|b| {
            let app = app.clone();
            tokio::spawn(async move {
                let mut accepted = Vec::new();
                let mut next = 1_000;
                for _ in 0..ROUNDS {
                    let res = app.bid(&b, id, next).await;
                    let status = res.status().as_u16();
                    let body: Value = res.json().await.unwrap();
                    match status {
                        201 => {
                            accepted.push(body["bid"]["amount"].as_i64().unwrap());
                            next = body["auction"]["min_next_bid"].as_i64().unwrap() + 100;
                        }
                        409 => {
                            next = body["min_next_bid"].as_i64().unwrap_or(next + 100);
                        }
                        other => panic!("unexpected {other}: {body}"),
                    }
                }
                accepted
            })
        })
        .collect();
    let mut accepted_total = 0;
    let mut highest = 0;
    for t in tasks {
        let mine = t.await.unwrap();
        accepted_total += mine.len();
        highest = highest.max(mine.into_iter().max().unwrap_or(0));
    }
    let mut conn = app.db.get().await.unwrap();
    let auction = auctions::find(&mut conn, id.into()).await.unwrap().unwrap();
    assert_eq!(
        auction.current_price.map(sitga_auction::Krw::get),
        Some(highest),
        "final price = highest accepted"
    );
    assert_eq!(auction.bid_count as usize, accepted_total);
    let history = auctions::bids_of(&mut conn, id.into(), 0, 100_000)
        .await
        .unwrap();
    let mut seqs: Vec<i64> = history.iter().map(|b| b.seq).collect();
    seqs.reverse();
    assert_eq!(
        seqs,
        (1..=accepted_total as i64).collect::<Vec<_>>(),
        "gap-free sequence"
    );
    let amounts: Vec<i64> = history.iter().rev().map(|b| b.amount.get()).collect();
    assert!(
        amounts.windows(2).all(|w| w[1] >= w[0] + 100),
        "strictly increasing by the increment"
    );
    // Exactly the leader holds, and holds exactly the current price.
    let leader = auction.leader_id.unwrap();
    for (b, &balance) in bidders.iter().zip(balances) {
        let w = wallets::get(&mut conn, b.id.into()).await.unwrap();
        let expected = if b.id == leader.get() { highest } else { 0 };
        assert_eq!(w.held.get(), expected, "holds of {}", b.nickname);
        assert_eq!(w.balance.get(), balance, "balance of {}", b.nickname);
    }
    for bid in &history {
        let (_, &balance) = bidders
            .iter()
            .zip(balances)
            .find(|(b, _)| b.id == bid.bidder_id.get())
            .unwrap();
        assert!(
            bid.amount.get() <= balance,
            "bid {} above its bidder's points",
            bid.seq
        );
    }
    drop(conn);
    app.state().closer.close(id.into(), true).await.unwrap();
    let mut conn = app.db.get().await.unwrap();
    let (balance_total, held_total) = wallets::totals(&mut conn).await.unwrap();
    let escrowed = sitga_persistence::sales::escrowed(&mut conn).await.unwrap();
    assert_eq!(
        balance_total + escrowed,
        balances.iter().sum::<i64>().into(),
        "money conserved after close"
    );
    assert_eq!(held_total, sitga_auction::Krw::ZERO);
    assert_eq!(escrowed.get(), highest, "the highest bid waits in escrow");
}

/// The per-auction close job works on its own (sweeper set to once a year),
/// on the in-memory queue or on Redis.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_close_job_closes_its_auction() {
    let app = TestApp::builder().sweep_cron("0 0 0 1 1 *").spawn().await;
    let seller = app.user().create().await;
    let alice = app.user().create().await;
    app.charge(&alice, 50_000).await;
    let id = app.open_auction(&seller, 5_000, json!({})).await["id"]
        .as_i64()
        .unwrap();
    expect_json(app.bid(&alice, id, 6_000).await, 201).await;
    app.expire_auction(id).await;
    app.state()
        .close_queue
        .schedule(id.into(), chrono::Utc::now())
        .await;
    let mut status = String::new();
    for _ in 0..100 {
        let a = expect_json(app.get(&format!("/api/v1/auctions/{id}"), None).await, 200).await;
        status = a["status"].as_str().unwrap().to_owned();
        if status != "open" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, "sold");
}

#[tokio::test]
async fn every_bid_for_a_missing_auction_is_a_404() {
    // Bids that share a batch share its failure: each must still read as
    // "not found", never as a database outage (found by schemathesis).
    let app = TestApp::spawn().await;
    let alice = app.user().create().await;
    let responses =
        futures_util::future::join_all((0..24i64).map(|i| app.bid(&alice, 424_242, 1_000 + i)))
            .await;
    for response in responses {
        expect_error(response, 404, "not_found").await;
    }
}
