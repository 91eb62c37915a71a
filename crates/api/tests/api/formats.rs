//! Auction formats beyond the plain English auction: raises that grow with
//! the price, and buy-now (over REST and WebSocket, and against racing
//! bids).

use std::sync::Arc;

use reqwest::Method;
use serde_json::{Value, json};
use sitga_auction::Krw;
use sitga_persistence::{sales as stored_sales, wallets};
use sitga_testkit::{TestApp, TestUser, expect_error, expect_json};

async fn buy_now(app: &TestApp, user: &TestUser, id: i64, price: i64) -> reqwest::Response {
    app.send(
        Method::POST,
        &format!("/api/v1/auctions/{id}/buy-now"),
        Some(&user.access_token),
        Some(json!({ "price": price })),
    )
    .await
}

async fn auction(app: &TestApp, id: i64) -> Value {
    expect_json(app.get(&format!("/api/v1/auctions/{id}"), None).await, 200).await
}

async fn wallet(app: &TestApp, user: &TestUser) -> (i64, i64) {
    let body = expect_json(
        app.get("/api/v1/me/balance", Some(&user.access_token))
            .await,
        200,
    )
    .await;
    (
        body["balance"].as_i64().unwrap(),
        body["held"].as_i64().unwrap(),
    )
}

/// Every point there is (wallets and escrows), and every point held.
async fn books(app: &TestApp) -> (Krw, Krw) {
    let mut conn = app.db.get().await.unwrap();
    let (balances, held) = wallets::totals(&mut conn).await.unwrap();
    (
        balances + stored_sales::escrowed(&mut conn).await.unwrap(),
        held,
    )
}

#[tokio::test]
async fn raises_follow_the_price_unless_the_seller_fixes_one() {
    let app = TestApp::spawn().await;
    let seller = app.user().create().await;
    let bidder = app.user().create().await;
    let rival = app.user().create().await;
    app.charge(&bidder, 200_000).await;
    app.charge(&rival, 200_000).await;
    let tiered = app.open_auction(&seller, 8_000, json!({})).await;
    assert_eq!(tiered["increment_rule"], "tiered");
    assert_eq!(tiered["min_increment"], 500);
    assert_eq!(tiered["min_next_bid"], 8_000);
    let id = tiered["id"].as_i64().unwrap();
    // Each step of the table, as the price climbs through it.
    for (who, amount, next, step) in [
        (&bidder, 8_000, 8_500, 500),
        (&rival, 9_800, 10_300, 500),
        (&bidder, 10_300, 11_300, 1_000),
        (&rival, 49_999, 50_999, 1_000),
        (&bidder, 50_999, 52_999, 2_000),
        (&rival, 100_000, 105_000, 5_000),
    ] {
        let res = app.bid(who, id, amount).await;
        let body = expect_json(res, 201).await;
        assert_eq!(body["auction"]["min_next_bid"], next, "after {amount}");
        assert_eq!(body["auction"]["min_increment"], step, "after {amount}");
    }
    let low = expect_error(app.bid(&bidder, id, 104_999).await, 409, "bid_too_low").await;
    assert_eq!(low["min_next_bid"], 105_000);

    let fixed = app
        .open_auction(&seller, 8_000, json!({"min_increment": 300}))
        .await;
    assert_eq!(fixed["increment_rule"], "fixed");
    assert_eq!(fixed["min_increment"], 300);
    let fixed_id = fixed["id"].as_i64().unwrap();
    expect_json(app.bid(&bidder, fixed_id, 8_000).await, 201).await;
    assert_eq!(auction(&app, fixed_id).await["min_next_bid"], 8_300);
    // A seller may fix the raise of a tiered auction before its first bid.
    let other = app.open_auction(&seller, 8_000, json!({})).await["id"]
        .as_i64()
        .unwrap();
    let patched = app
        .send(
            Method::PATCH,
            &format!("/api/v1/auctions/{other}"),
            Some(&seller.access_token),
            Some(json!({"min_increment": 2_000})),
        )
        .await;
    let patched = expect_json(patched, 200).await;
    assert_eq!(patched["increment_rule"], "fixed");
    assert_eq!(patched["min_increment"], 2_000);
}

#[tokio::test]
async fn buy_now_ends_the_auction_at_its_price_while_the_reserve_is_unmet() {
    let app = TestApp::spawn().await;
    let seller = app.user().create().await;
    let leader = app.user().create().await;
    let buyer = app.user().create().await;
    let poor = app.user().create().await;
    app.charge(&leader, 100_000).await;
    app.charge(&buyer, 100_000).await;
    app.charge(&poor, 29_999).await;
    let before = books(&app).await;

    // Prices that disagree are refused with the field at fault.
    for (extra, field) in [
        (json!({"buy_now_price": 9_999}), "buy_now_price"),
        (
            json!({"reserve_price": 40_000, "buy_now_price": 30_000}),
            "buy_now_price",
        ),
    ] {
        let mut body = json!({"title": "참돔", "description": "", "start_price": 10_000});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        let res = app
            .send(
                Method::POST,
                "/api/v1/auctions",
                Some(&seller.access_token),
                Some(body),
            )
            .await;
        let error = expect_error(res, 422, "inconsistent_fields").await;
        assert_eq!(error["field"], field);
    }

    let opened = app
        .open_auction(
            &seller,
            10_000,
            json!({"reserve_price": 25_000, "buy_now_price": 30_000}),
        )
        .await;
    assert_eq!(opened["buy_now_price"], 30_000);
    assert_eq!(opened["buy_now_available"], true);
    let id = opened["id"].as_i64().unwrap();
    expect_json(app.bid(&leader, id, 15_000).await, 201).await;
    assert_eq!(wallet(&app, &leader).await, (100_000, 15_000));

    // The price the buyer saw must be the price; the seller cannot buy;
    // points must cover it. None of these change anything.
    let moved = expect_error(buy_now(&app, &buyer, id, 25_000).await, 409, "price_moved").await;
    assert_eq!(moved["price"], 30_000);
    expect_error(
        buy_now(&app, &seller, id, 30_000).await,
        409,
        "seller_cannot_bid",
    )
    .await;
    let short = expect_error(
        buy_now(&app, &poor, id, 30_000).await,
        409,
        "insufficient_balance",
    )
    .await;
    assert_eq!(short["available"], 29_999);
    expect_error(
        buy_now(&app, &buyer, 987_654, 30_000).await,
        404,
        "not_found",
    )
    .await;
    let bad = app
        .send(
            Method::POST,
            &format!("/api/v1/auctions/{id}/buy-now"),
            Some(&buyer.access_token),
            Some(json!({"price": "30000"})),
        )
        .await;
    assert_eq!(bad.status(), 400);
    assert_eq!(auction(&app, id).await["bid_count"], 1);

    let bought = expect_json(buy_now(&app, &buyer, id, 30_000).await, 201).await;
    assert_eq!(bought["bid"]["amount"], 30_000);
    assert_eq!(bought["bid"]["seq"], 2);
    assert_eq!(bought["auction"]["status"], "sold");
    assert_eq!(bought["auction"]["current_price"], 30_000);
    assert_eq!(bought["auction"]["buy_now_available"], false);
    let sale_id = bought["sale_id"].as_i64().unwrap();
    let sale = expect_json(
        app.get(
            &format!("/api/v1/sales/{sale_id}"),
            Some(&buyer.access_token),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(sale["price"], 30_000);
    assert_eq!(sale["state"], "awaiting_details");
    // The leader's hold went back; the buyer's price waits in escrow.
    assert_eq!(wallet(&app, &leader).await, (100_000, 0));
    assert_eq!(wallet(&app, &buyer).await, (70_000, 0));
    assert_eq!(books(&app).await, before);

    // Once: a repeat, or a bid, finds it sold.
    expect_error(
        buy_now(&app, &buyer, id, 30_000).await,
        409,
        "auction_not_open",
    )
    .await;
    expect_error(app.bid(&leader, id, 40_000).await, 409, "auction_not_open").await;
    let history = expect_json(
        app.get(&format!("/api/v1/auctions/{id}/bids"), None).await,
        200,
    )
    .await;
    assert_eq!(history["items"][0]["amount"], 30_000);
    assert_eq!(history["total"], 2);

    // With an Idempotency-Key, a retried buy-now gets its first answer;
    // the key on another request is refused.
    let keyed = app
        .open_auction(&seller, 10_000, json!({"buy_now_price": 20_000}))
        .await["id"]
        .as_i64()
        .unwrap();
    let keyed_buy = |price: i64, key: Option<&'static str>| {
        let mut request = app
            .client
            .post(app.url(&format!("/api/v1/auctions/{keyed}/buy-now")))
            .bearer_auth(&leader.access_token)
            .json(&json!({ "price": price }));
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        request.send()
    };
    let first = expect_json(keyed_buy(20_000, Some("buy-1")).await.unwrap(), 201).await;
    let again = expect_json(keyed_buy(20_000, Some("buy-1")).await.unwrap(), 201).await;
    assert_eq!(again["sale_id"], first["sale_id"]);
    expect_error(
        keyed_buy(19_000, Some("buy-1")).await.unwrap(),
        422,
        "idempotency_key_reused",
    )
    .await;
    expect_error(
        keyed_buy(20_000, None).await.unwrap(),
        409,
        "auction_not_open",
    )
    .await;

    // Without a reserve, buy-now applies only before the first bid.
    let plain = app
        .open_auction(&seller, 10_000, json!({"buy_now_price": 50_000}))
        .await["id"]
        .as_i64()
        .unwrap();
    expect_json(app.bid(&leader, plain, 10_000).await, 201).await;
    expect_error(
        buy_now(&app, &buyer, plain, 50_000).await,
        409,
        "buy_now_unavailable",
    )
    .await;
    let none = app.open_auction(&seller, 10_000, json!({})).await["id"]
        .as_i64()
        .unwrap();
    expect_error(
        buy_now(&app, &buyer, none, 10_000).await,
        409,
        "buy_now_unavailable",
    )
    .await;
}

/// Bids storm an auction while one bidder buys it now: the auction sells
/// exactly once, every bid after the buy-now is refused, and the points
/// add up (nothing left held, the price in one escrow).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn buy_now_against_racing_bids_sells_exactly_once() {
    let app = Arc::new(TestApp::spawn().await);
    let seller = app.user().create().await;
    let id = app
        .open_auction(
            &seller,
            1_000,
            json!({"min_increment": 100, "reserve_price": 500_000, "buy_now_price": 500_000}),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let buyer = app.user().create().await;
    app.charge(&buyer, 600_000).await;
    let mut bidders = Vec::new();
    for _ in 0..4 {
        let b = app.user().create().await;
        app.charge(&b, 100_000).await;
        bidders.push(b);
    }
    let before = books(&app).await;
    let mut tasks = Vec::new();
    for (n, bidder) in bidders.into_iter().enumerate() {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            let mut accepted = 0;
            let mut amount = 1_000 + n as i64 * 100;
            for _ in 0..25 {
                let res = app.bid(&bidder, id, amount).await;
                let status = res.status().as_u16();
                let body: Value = res.json().await.unwrap();
                match (status, body["error"].as_str()) {
                    (201, _) => accepted += 1,
                    (409, Some("bid_too_low" | "already_leading" | "auction_not_open")) => {}
                    other => panic!("unexpected answer {other:?}: {body}"),
                }
                amount = body["auction"]["min_next_bid"]
                    .as_i64()
                    .or(body["min_next_bid"].as_i64())
                    .unwrap_or(amount + 100);
            }
            accepted
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    let bought = expect_json(buy_now(&app, &buyer, id, 500_000).await, 201).await;
    let mut accepted = 0;
    for task in tasks {
        accepted += task.await.unwrap();
    }
    // Every accepted bid came before the buy-now, which ended the history.
    assert_eq!(bought["bid"]["seq"], accepted + 1);
    let after = auction(&app, id).await;
    assert_eq!(after["status"], "sold");
    assert_eq!(after["current_price"], 500_000);
    assert_eq!(after["bid_count"], bought["bid"]["seq"]);
    let (points, held) = books(&app).await;
    assert_eq!(points, before.0, "money is conserved");
    assert_eq!(held, Krw::ZERO, "no hold outlives the sale");
    let mut conn = app.db.get().await.unwrap();
    assert_eq!(
        stored_sales::escrowed(&mut conn).await.unwrap(),
        Krw::new(500_000)
    );
    // The history ends with the buy-now, gap-free.
    let history = expect_json(
        app.get(&format!("/api/v1/auctions/{id}/bids?per_page=100"), None)
            .await,
        200,
    )
    .await;
    let seqs: Vec<i64> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["seq"].as_i64().unwrap())
        .collect();
    let total = history["total"].as_i64().unwrap();
    assert_eq!(seqs.len() as i64, total);
    assert!(seqs.iter().rev().copied().eq(1..=total), "{seqs:?}");
    assert_eq!(history["items"][0]["amount"], 500_000);
}

#[tokio::test]
async fn buy_now_over_websocket_closes_the_room() {
    let app = TestApp::spawn().await;
    let seller = app.user().nickname("seller").create().await;
    let buyer = app.user().nickname("buyer").create().await;
    app.charge(&buyer, 50_000).await;
    let id = app
        .open_auction(&seller, 10_000, json!({"buy_now_price": 40_000}))
        .await["id"]
        .as_i64()
        .unwrap();
    let mut socket = app.ws(Some(&buyer.access_token)).await;
    let mut watcher = app.ws(None).await;
    let state = socket.join(id).await;
    assert_eq!(state["buy_now"], 40_000);
    watcher.join(id).await;
    let room = id.to_string();
    socket
        .send(json!({"event": "buy_now", "room": room, "price": 39_000, "ref": "b-1"}))
        .await;
    let moved = socket.until_system("price_moved").await;
    assert_eq!(
        (moved["price"].as_i64(), moved["ref"].as_str()),
        (Some(40_000), Some("b-1"))
    );
    socket
        .send(json!({"event": "buy_now", "room": room, "price": "many"}))
        .await;
    socket.until_system("invalid_amount").await;
    socket
        .send(json!({"event": "buy_now", "room": room, "price": 40_000, "ref": "b-2"}))
        .await;
    let bought = socket.until_system("bought").await;
    assert_eq!(bought["ref"], "b-2");
    assert_eq!(
        bought["context"],
        "buyer님이 40000원에 즉시 구매하였습니다."
    );
    let sale_id = bought["sale_id"].as_i64().unwrap();
    let bid = watcher
        .until(|f| f["event"] == "message" && f["code"] == "bid_accepted")
        .await;
    assert_eq!(bid["amount"], 40_000);
    let closed = watcher.until(|f| f["event"] == "closed").await;
    assert_eq!(closed["status"], "sold");
    assert_eq!(closed["winner"], "buyer");
    assert_eq!(closed["sale_id"], sale_id);
    assert_eq!(closed["seq"], bid["seq"].as_i64().unwrap() + 1);
    assert_eq!(wallet(&app, &buyer).await, (10_000, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_auction_takes_bids_from_its_start_and_announces_it() {
    let app = TestApp::spawn().await;
    let seller = app.user().create().await;
    let bidder = app.user().nickname("early").create().await;
    app.charge(&bidder, 50_000).await;
    let now = chrono::Utc::now();
    // Neither in the past nor more than a week ahead.
    for starts_at in [
        now - chrono::Duration::minutes(10),
        now + chrono::Duration::days(8),
    ] {
        let res = app
            .send(
                Method::POST,
                "/api/v1/auctions",
                Some(&seller.access_token),
                Some(
                    json!({"title": "참돔", "description": "", "start_price": 10_000,
                            "buy_now_price": 20_000, "starts_at": starts_at}),
                ),
            )
            .await;
        let error = expect_error(res, 422, "inconsistent_fields").await;
        assert_eq!(error["field"], "starts_at");
    }
    let starts_at = now + chrono::Duration::seconds(3);
    let opened = app
        .open_auction(
            &seller,
            10_000,
            json!({"starts_at": starts_at, "duration_minutes": 60, "buy_now_price": 20_000}),
        )
        .await;
    let id = opened["id"].as_i64().unwrap();
    assert_eq!(opened["status"], "scheduled");
    let start: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(opened["starts_at"].clone()).unwrap();
    let end: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(opened["ends_at"].clone()).unwrap();
    assert_eq!(
        end - start,
        chrono::Duration::minutes(60),
        "the length counts from the start"
    );
    // Listed as scheduled (not open), watchable, its room open for chat;
    // bids and buy-now wait.
    let listed = |status: &'static str| {
        let app = &app;
        async move {
            let page = expect_json(
                app.get(
                    &format!("/api/v1/auctions?status={status}&per_page=100"),
                    None,
                )
                .await,
                200,
            )
            .await;
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a["id"] == id)
        }
    };
    assert!(listed("scheduled").await && !listed("open").await);
    let watched = app
        .send(
            Method::PUT,
            &format!("/api/v1/me/watchlist/{id}"),
            Some(&bidder.access_token),
            None,
        )
        .await;
    assert!(watched.status().is_success());
    expect_error(
        app.bid(&bidder, id, 10_000).await,
        409,
        "auction_not_started",
    )
    .await;
    expect_error(
        buy_now(&app, &bidder, id, 20_000).await,
        409,
        "auction_not_started",
    )
    .await;
    let mut socket = app.ws(Some(&bidder.access_token)).await;
    let state = socket.join(id).await;
    assert_eq!(state["status"], "scheduled");
    assert_eq!(state["starts_at"], start.timestamp_millis());
    socket
        .send(json!({"event": "message", "room": id.to_string(), "message": "몇 시에 시작하나요?"}))
        .await;
    socket
        .until(|f| f["event"] == "message" && f["code"] == "chat")
        .await;
    socket
        .send(json!({"event": "bid", "room": id, "amount": 10_000}))
        .await;
    let refused = socket.until_system("auction_not_started").await;
    assert_eq!(refused["text"], "this auction has not started yet");

    // At the start the sweeper announces it to the room, once.
    let announced = socket
        .until(|f| f["event"] == "state" && f["status"] == "open" && f.get("seq").is_some())
        .await;
    assert!(announced["server_now"].as_i64().unwrap() >= start.timestamp_millis());
    let mut conn = app.db.get().await.unwrap();
    assert!(
        !sitga_persistence::auctions::mark_opened(&mut conn, id.into(), chrono::Utc::now())
            .await
            .unwrap(),
        "announced already"
    );
    drop(conn);
    assert!(listed("open").await && !listed("scheduled").await);
    assert_eq!(auction(&app, id).await["status"], "open");
    expect_json(app.bid(&bidder, id, 10_000).await, 201).await;
}
