//! Clock (Dutch) auctions: the server drives a falling price, accepts buy
//! units at it (each a sale of its own, paid into escrow), late accepts are
//! told the new price, the last unit or the floor ends it, and accepts
//! racing on two instances never sell a unit twice.

use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use sitga_auction::Krw;
use sitga_core::AuctionId;
use sitga_persistence::test_support::rewind_clock;
use sitga_persistence::{sales, wallets};
use sitga_testkit::{TestApp, TestUser, expect_error, expect_json};

use crate::notifications::{kinds, mine};
use crate::proxy::held;

/// A clock from 30,000 down to 20,000 by 1,000 every 5 s, 3 s pause, with
/// `quantity` boxes, and `extra` fields.
fn dutch(quantity: i64, extra: Value) -> Value {
    let mut body = json!({
        "format": "dutch",
        "floor_price": 20_000,
        "step": 1_000,
        "step_seconds": 5,
        "quantity": quantity,
    });
    if let (Some(b), Value::Object(e)) = (body.as_object_mut(), extra) {
        b.extend(e);
    }
    body
}

/// A new seller's clock auction from 30,000 (see [`dutch`]) and a new
/// buyer for each of `points`, charged that much.
async fn clock_with_buyers(
    app: &TestApp,
    quantity: i64,
    points: &[i64],
) -> (TestUser, Value, Vec<TestUser>) {
    clock_with(app, dutch(quantity, json!({})), points).await
}

/// A new seller's auction listed with `listing` from 30,000, and buyers.
async fn clock_with(
    app: &TestApp,
    listing: Value,
    points: &[i64],
) -> (TestUser, Value, Vec<TestUser>) {
    let seller = app.user().create().await;
    let auction = app.open_auction(&seller, 30_000, listing).await;
    let mut buyers = Vec::new();
    for &amount in points {
        let user = app.user().create().await;
        app.charge(&user, amount).await;
        buyers.push(user);
    }
    (seller, auction, buyers)
}

async fn accept(app: &TestApp, user: &TestUser, id: i64, body: Value) -> reqwest::Response {
    app.send(
        Method::POST,
        &format!("/api/v1/auctions/{id}/accept"),
        Some(&user.access_token),
        Some(body),
    )
    .await
}

async fn auction(app: &TestApp, id: i64) -> Value {
    expect_json(app.get(&format!("/api/v1/auctions/{id}"), None).await, 200).await
}

async fn balance(app: &TestApp, user: &TestUser) -> i64 {
    let body = expect_json(
        app.get("/api/v1/me/balance", Some(&user.access_token))
            .await,
        200,
    )
    .await;
    body["balance"].as_i64().unwrap()
}

fn id_of(auction: &Value) -> i64 {
    auction["id"].as_i64().unwrap()
}

async fn rewind(app: &TestApp, id: i64, seconds: i64) {
    rewind_clock(&app.db, AuctionId::new(id), seconds)
        .await
        .unwrap();
}

/// A test app whose sweeper runs once a year: the test tells the clocks
/// and closes auctions itself.
async fn quiet_app() -> TestApp {
    TestApp::builder().sweep_cron("0 0 0 1 1 *").spawn().await
}

#[tokio::test]
async fn an_accept_buys_units_at_the_clock_price_into_a_sale_of_its_own() {
    let app = quiet_app().await;
    let (seller, listed, buyers) = clock_with_buyers(&app, 10, &[200_000, 200_000]).await;
    let [buyer, other] = &buyers[..] else {
        unreachable!()
    };
    let id = id_of(&listed);
    assert_eq!(listed["format"], "dutch");
    assert_eq!(listed["clock"]["price"], 30_000);
    assert_eq!(listed["clock"]["remaining"], 10);
    assert_eq!(listed["clock"]["quantity"], 10);
    assert_eq!(listed["clock"]["step"], 1_000);
    assert_eq!(listed["clock"]["pause_seconds"], 3);
    assert!(
        !listed.to_string().contains("20000"),
        "the floor is the seller's secret: {listed}"
    );
    let read = |token: Option<String>| {
        let app = &app;
        async move {
            expect_json(
                app.get(&format!("/api/v1/auctions/{id}"), token.as_deref())
                    .await,
                200,
            )
            .await
        }
    };
    let sellers_view = read(Some(seller.access_token.clone())).await;
    assert_eq!(
        sellers_view["clock"]["floor_price"], 20_000,
        "the seller sees it"
    );
    for other_view in [
        read(None).await,
        read(Some(other.access_token.clone())).await,
    ] {
        assert_eq!(other_view["clock"]["floor_price"], Value::Null);
        assert!(!other_view.to_string().contains("20000"), "{other_view}");
    }
    let mut room = app.ws(Some(&other.access_token)).await;
    room.join(id).await;
    let joined = room.until(|f| f["event"] == "clock").await;
    assert!(!joined.to_string().contains("20000"), "{joined}");
    assert_eq!(
        (joined["price"].as_i64(), joined["remaining"].as_i64()),
        (Some(30_000), Some(10))
    );

    // 12 s later the clock shows 28,000: an accept at 30,000 is late.
    rewind(&app, id, 12).await;
    let late = expect_error(
        accept(&app, buyer, id, json!({"units": 3, "price": 30_000})).await,
        409,
        "price_moved",
    )
    .await;
    assert_eq!(late["price"], 28_000);
    let bought = expect_json(
        accept(&app, buyer, id, json!({"units": 3, "price": 28_000})).await,
        201,
    )
    .await;
    assert_eq!(
        (
            bought["units"].as_i64(),
            bought["price"].as_i64(),
            bought["total"].as_i64(),
            bought["remaining"].as_i64(),
            bought["seq"].as_i64()
        ),
        (Some(3), Some(28_000), Some(84_000), Some(7), Some(1))
    );
    // Paused at the buyer's price, units fewer.
    assert_eq!(bought["auction"]["clock"]["price"], 28_000);
    assert_eq!(bought["auction"]["clock"]["remaining"], 7);
    assert_eq!(bought["auction"]["status"], "open");
    assert_eq!(bought["auction"]["bid_count"], 1);

    // The points left the wallet for the sale's escrow (nothing held).
    assert_eq!(
        (balance(&app, buyer).await, held(&app, buyer).await),
        (116_000, 0)
    );
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
    assert_eq!(sale["price"], 84_000);

    // The room heard the accept (units and price) and the paused clock.
    let line = room
        .until(|f| f["event"] == "message" && f["code"] == "bid_accepted")
        .await;
    assert_eq!(
        (line["units"].as_i64(), line["amount"].as_i64()),
        (Some(3), Some(28_000))
    );
    assert!(line["context"].as_str().unwrap().contains("3개"), "{line}");
    let clock = room.until(|f| f["event"] == "clock").await;
    assert_eq!(
        (clock["price"].as_i64(), clock["remaining"].as_i64()),
        (Some(28_000), Some(7))
    );

    // A second accept by another buyer is another sale; the history has
    // both with their units.
    let second = expect_json(
        accept(&app, other, id, json!({"units": 2, "price": 28_000})).await,
        201,
    )
    .await;
    assert_ne!(second["sale_id"], bought["sale_id"]);
    let history = expect_json(
        app.get(&format!("/api/v1/auctions/{id}/bids"), None).await,
        200,
    )
    .await;
    let rows: Vec<(i64, i64, i64)> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["seq"].as_i64().unwrap(),
                b["units"].as_i64().unwrap(),
                b["amount"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(rows, [(2, 2, 28_000), (1, 3, 28_000)]);
    // Each accept is one of its buyer's purchases, with its boxes.
    let bought_list = expect_json(
        app.get("/api/v1/me/purchases", Some(&buyer.access_token))
            .await,
        200,
    )
    .await;
    assert_eq!(bought_list.as_array().unwrap().len(), 1, "{bought_list}");
    assert_eq!(
        (
            bought_list[0]["units"].as_i64(),
            bought_list[0]["price"].as_i64(),
            bought_list[0]["sale_id"].as_i64(),
            bought_list[0]["counterpart"].as_str()
        ),
        (
            Some(3),
            Some(84_000),
            bought["sale_id"].as_i64(),
            Some(seller.nickname.as_str())
        )
    );
    assert!(kinds(&mine(&app, buyer, "").await).contains(&"won".to_owned()));
    let told_seller = kinds(&mine(&app, &seller, "").await);
    assert_eq!(
        told_seller.iter().filter(|k| *k == "sold").count(),
        2,
        "one per sale: {told_seller:?}"
    );
}

#[tokio::test]
async fn wrong_accepts_bids_and_listings_get_clear_errors() {
    let app = quiet_app().await;
    let (seller, listed, buyers) = clock_with_buyers(&app, 10, &[50_000]).await;
    let buyer = &buyers[0];
    let id = id_of(&listed);
    let refused = |body: Value, code: &'static str| {
        let (app, buyer) = (&app, buyer);
        async move { expect_error(accept(app, buyer, id, body).await, 409, code).await }
    };
    let more = refused(json!({"units": 11, "price": 30_000}), "units_unavailable").await;
    assert_eq!(more["remaining"], 10);
    refused(json!({"units": 0, "price": 30_000}), "invalid_amount").await;
    let poor = refused(json!({"units": 2, "price": 30_000}), "insufficient_balance").await;
    assert_eq!(poor["available"], 50_000);
    expect_error(
        accept(&app, &seller, id, json!({"price": 30_000})).await,
        409,
        "seller_cannot_bid",
    )
    .await;
    expect_error(
        accept(&app, buyer, id, json!({"units": "two", "price": 30_000})).await,
        400,
        "invalid_field",
    )
    .await;
    // A clock takes no bids, no buy-now; an english auction no accepts.
    expect_error(app.bid(buyer, id, 30_000).await, 409, "wrong_format").await;
    expect_error(
        app.send(
            Method::POST,
            &format!("/api/v1/auctions/{id}/buy-now"),
            Some(&buyer.access_token),
            Some(json!({"price": 30_000})),
        )
        .await,
        409,
        "wrong_format",
    )
    .await;
    let english = id_of(&app.open_auction(&seller, 10_000, json!({})).await);
    expect_error(
        accept(&app, buyer, english, json!({"price": 10_000})).await,
        409,
        "wrong_format",
    )
    .await;
    expect_error(
        accept(&app, buyer, 999_999, json!({"price": 10_000})).await,
        404,
        "not_found",
    )
    .await;
    // Nothing moved.
    assert_eq!(balance(&app, buyer).await, 50_000);
    assert_eq!(auction(&app, id).await["clock"]["remaining"], 10);

    // Listings that cannot be clocks.
    let list = |body: Value| {
        let (app, seller) = (&app, &seller);
        async move {
            let mut full =
                json!({"title": "고등어 10상자", "description": "", "start_price": 30_000});
            full.as_object_mut()
                .unwrap()
                .extend(body.as_object().unwrap().clone());
            app.send(
                Method::POST,
                "/api/v1/auctions",
                Some(&seller.access_token),
                Some(full),
            )
            .await
        }
    };
    let field = |body: Value| async move { body["field"].as_str().unwrap().to_owned() };
    let e = expect_error(
        list(dutch(10, json!({"floor_price": 30_000}))).await,
        422,
        "inconsistent_fields",
    )
    .await;
    assert_eq!(field(e).await, "floor_price");
    let e = expect_error(
        list(json!({"format": "dutch", "floor_price": 1_000, "step_seconds": 5})).await,
        422,
        "inconsistent_fields",
    )
    .await;
    assert_eq!(field(e).await, "step");
    let e = expect_error(
        list(dutch(10, json!({"reserve_price": 40_000}))).await,
        422,
        "inconsistent_fields",
    )
    .await;
    assert_eq!(field(e).await, "reserve_price");
    let e = expect_error(
        list(json!({"floor_price": 1_000})).await,
        422,
        "inconsistent_fields",
    )
    .await;
    assert_eq!(field(e).await, "floor_price");
    let e = expect_error(
        list(json!({"format": "sealed"})).await,
        400,
        "validation_failed",
    )
    .await;
    assert_eq!(field(e).await, "format");
    let e = expect_error(list(dutch(0, json!({}))).await, 400, "validation_failed").await;
    assert_eq!(field(e).await, "quantity");
    // Its prices stay as listed.
    expect_error(
        app.send(
            Method::PATCH,
            &format!("/api/v1/auctions/{id}"),
            Some(&seller.access_token),
            Some(json!({"start_price": 25_000})),
        )
        .await,
        422,
        "inconsistent_fields",
    )
    .await;

    // Over WebSocket: a chat bid, a bad accept, a late one.
    let mut ws = app.ws(Some(&buyer.access_token)).await;
    ws.join(id).await;
    ws.send(json!({"event": "message", "room": id.to_string(), "message": "#30000"}))
        .await;
    ws.until_system("wrong_format").await;
    ws.send(json!({"event": "accept", "room": id, "units": "x", "price": 30_000}))
        .await;
    ws.until_system("invalid_amount").await;
    rewind(&app, id, 5).await;
    ws.send(json!({"event": "accept", "room": id, "price": 30_000, "ref": 1}))
        .await;
    let moved = ws.until_system("price_moved").await;
    assert_eq!(
        (moved["price"].as_i64(), moved["ref"].as_i64()),
        (Some(29_000), Some(1))
    );
}

#[tokio::test]
async fn the_last_unit_closes_the_clock_and_the_floor_leaves_the_rest_unsold() {
    let app = quiet_app().await;
    let (_, sold_out, buyers) = clock_with_buyers(&app, 2, &[100_000, 100_000]).await;
    let id = id_of(&sold_out);
    let mut room = app.ws(None).await;
    room.join(id).await;
    expect_json(
        accept(&app, &buyers[0], id, json!({"units": 2, "price": 30_000})).await,
        201,
    )
    .await;
    let closed = room.until(|f| f["event"] == "closed").await;
    assert_eq!(closed["status"], "sold");
    let after = auction(&app, id).await;
    assert_eq!(
        (
            after["status"].as_str(),
            after["clock"]["remaining"].as_i64()
        ),
        (Some("sold"), Some(0))
    );
    expect_error(
        accept(&app, &buyers[1], id, json!({"price": 30_000})).await,
        409,
        "auction_not_open",
    )
    .await;

    // One of five sold; at the floor and one step more, the rest is unsold.
    let (_, partly, buyers) = clock_with_buyers(&app, 5, &[100_000]).await;
    let id = id_of(&partly);
    expect_json(
        accept(&app, &buyers[0], id, json!({"price": 30_000})).await,
        201,
    )
    .await;
    let mut room = app.ws(None).await;
    room.join(id).await;
    // The accept anchored the fall 2 s back (3 s pause, 5 s step): 52 s
    // on, the clock stands at the floor, 3 s before its end.
    rewind(&app, id, 50).await;
    assert_eq!(
        auction(&app, id).await["clock"]["price"],
        20_000,
        "the floor"
    );
    expect_json(
        accept(&app, &buyers[0], id, json!({"price": 20_000})).await,
        201,
    )
    .await;
    rewind(&app, id, 3 + 10).await;
    assert_eq!(app.state().closer.sweep().await.unwrap(), 1);
    let closed = room.until(|f| f["event"] == "closed").await;
    assert_eq!(closed["status"], "sold");
    assert!(
        closed["context"]
            .as_str()
            .unwrap()
            .contains("2개가 판매되었고 3개는 유찰"),
        "{closed}"
    );
    expect_error(
        accept(&app, &buyers[0], id, json!({"price": 20_000})).await,
        409,
        "auction_not_open",
    )
    .await;

    // Nobody accepted: unsold.
    let (_, ignored, _) = clock_with_buyers(&app, 5, &[]).await;
    let id = id_of(&ignored);
    rewind(&app, id, 56).await;
    assert_eq!(app.state().closer.sweep().await.unwrap(), 1);
    assert_eq!(auction(&app, id).await["status"], "unsold");
}

/// Every instance's sweeper reads the same clock: each step is told once,
/// by whichever instance records it first, and the live sweeper drives the
/// frames in real time.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_step_is_told_once_across_instances() {
    let app = quiet_app().await;
    let peer = app.spawn_peer().await;
    let (_, listed, _) = clock_with_buyers(&app, 3, &[]).await;
    let id = id_of(&listed);
    let mut room = app.ws(None).await;
    room.join(id).await;
    let (a, b) = (app.state().closer.clone(), peer.state().closer.clone());
    // The opening price, told by this instance; then nothing new anywhere.
    assert_eq!(a.tell_clocks().await.unwrap(), 1);
    let first = room
        .until(|f| f["event"] == "clock" && f["seq"].is_i64())
        .await;
    assert_eq!(first["price"], 30_000);
    let (x, y) = tokio::join!(a.tell_clocks(), b.tell_clocks());
    assert_eq!(x.unwrap() + y.unwrap(), 0);
    // The next step: exactly one of the two tells it.
    rewind(&app, id, 5).await;
    let (x, y) = tokio::join!(a.tell_clocks(), b.tell_clocks());
    assert_eq!(x.unwrap() + y.unwrap(), 1);
    // Rooms span instances through Redis; embedded, each process is alone.
    if sitga_testkit::redis_url().is_some() {
        let step = room
            .until(|f| f["event"] == "clock" && f["price"] == 29_000)
            .await;
        assert!(step["next_step_at"].as_i64().is_some(), "{step}");
    }
    peer.shutdown().await;

    // With the sweeper running every second, a 1-second clock steps by
    // itself.
    let live = TestApp::spawn().await;
    let seller = live.user().create().await;
    let id = id_of(
        &live
            .open_auction(
                &seller,
                30_000,
                json!({"format": "dutch", "floor_price": 1_000, "step": 1_000, "step_seconds": 1}),
            )
            .await,
    );
    let mut room = live.ws(None).await;
    room.join(id).await;
    let mut prices = Vec::new();
    while prices.len() < 3 {
        let frame = tokio::time::timeout(
            Duration::from_secs(10),
            room.until(|f| f["event"] == "clock" && f["seq"].is_i64()),
        )
        .await
        .expect("a step within 10 s");
        prices.push(frame["price"].as_i64().unwrap());
    }
    assert!(prices.windows(2).all(|w| w[1] < w[0]), "{prices:?}");
}

/// Buyers on two instances accept the same step at once: each unit is sold
/// once, every accept is either a sale or a clear refusal, and every point
/// is where it should be.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_accepts_on_two_instances_never_sell_a_unit_twice() {
    let app = quiet_app().await;
    let peer = app.spawn_peer().await;
    // The storm: 200 bidders on one step, on two instances.
    let crowd = 200;
    let quantity = 70;
    // One slow step: every accept meets the opening price.
    let slow = dutch(quantity, json!({"step": 10_000, "step_seconds": 600}));
    let (_, listed, buyers) = clock_with(&app, slow, &vec![100_000; crowd]).await;
    let id = id_of(&listed);
    let (app, peer) = (Arc::new(app), Arc::new(peer));
    let mut tasks = Vec::new();
    for (n, user) in buyers.into_iter().enumerate() {
        let instance = Arc::clone(if n % 2 == 0 { &app } else { &peer });
        let units = 1 + (n as i64 % 2);
        tasks.push(tokio::spawn(async move {
            let res = accept(
                &instance,
                &user,
                id,
                json!({"units": units, "price": 30_000}),
            )
            .await;
            let status = res.status().as_u16();
            let body: Value = res.json().await.unwrap();
            (status, units, body)
        }));
    }
    let mut sold = 0;
    let mut sales_seen = std::collections::HashSet::new();
    for task in tasks {
        let (status, units, body) = task.await.unwrap();
        match status {
            201 => {
                sold += units;
                assert!(sales_seen.insert(body["sale_id"].as_i64().unwrap()));
            }
            409 => assert!(
                ["units_unavailable", "auction_not_open"]
                    .contains(&body["error"].as_str().unwrap()),
                "{body}"
            ),
            other => panic!("{other}: {body}"),
        }
    }
    let after = auction(&app, id).await;
    let remaining = after["clock"]["remaining"].as_i64().unwrap();
    assert_eq!(
        sold + remaining,
        quantity,
        "every unit sold once or still there"
    );
    // A buyer of 2 may be refused while 1 is left.
    assert!(sold >= quantity - 1, "{sold}");
    assert_eq!(
        after["bid_count"].as_i64().unwrap(),
        sales_seen.len() as i64
    );
    let mut conn = app.db.get().await.unwrap();
    let (balances, held) = wallets::totals(&mut conn).await.unwrap();
    let escrow = sales::escrowed(&mut conn).await.unwrap();
    assert_eq!(held, Krw::ZERO);
    assert_eq!(escrow, Krw::new(sold * 30_000));
    assert_eq!(balances + escrow, Krw::new(100_000 * crowd as i64));
}

/// Accepts racing the clock's step, on two instances: one decided before
/// the step buys at the price sent, one decided after it is told the new
/// price and buys nothing; the clock reads the same on both instances.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_accept_decided_after_a_step_is_told_the_new_price() {
    let app = quiet_app().await;
    let peer = app.spawn_peer().await;
    let one_second = dutch(10, json!({"step_seconds": 1}));
    let (_, listed, buyers) = clock_with(&app, one_second, &[500_000, 500_000]).await;
    let id = id_of(&listed);
    let mut late_ones = 0;
    for (n, instance) in [&app, &peer].into_iter().enumerate() {
        // Both instances read one clock.
        let (here, there) = tokio::join!(auction(&app, id), auction(&peer, id));
        let (p, q) = (&here["clock"], &there["clock"]);
        if p["next_step_at"] != q["next_step_at"] {
            // A step fell between the two reads: read again.
            continue;
        }
        let price = p["price"].as_i64().unwrap();
        let next: chrono::DateTime<chrono::Utc> =
            serde_json::from_value(p["next_step_at"].clone()).unwrap();
        let server_now: chrono::DateTime<chrono::Utc> =
            serde_json::from_value(here["server_now"].clone()).unwrap();
        // Well after the step: late.
        let wait = (next - server_now).to_std().unwrap_or_default() + Duration::from_millis(150);
        tokio::time::sleep(wait).await;
        let late = expect_error(
            accept(instance, &buyers[n], id, json!({"price": price})).await,
            409,
            "price_moved",
        )
        .await;
        assert_eq!(late["price"], price - 1_000, "the price one step on");
        late_ones += 1;
        // The new price, sent at once (within the second): bought.
        let now = auction(instance, id).await["clock"]["price"]
            .as_i64()
            .unwrap();
        let bought = accept(instance, &buyers[n], id, json!({"price": now})).await;
        if bought.status() == 409 {
            // The next step came first on a slow machine: told again.
            let again: Value = bought.json().await.unwrap();
            assert_eq!(again["error"], "price_moved", "{again}");
        } else {
            let bought = expect_json(bought, 201).await;
            assert_eq!(bought["price"], now);
        }
    }
    let history = expect_json(
        app.get(&format!("/api/v1/auctions/{id}/bids"), None).await,
        200,
    )
    .await;
    assert!(history["total"].as_i64().unwrap() <= 2);
    assert!(late_ones >= 1, "no late accept was tried");
}

/// A WebSocket accept re-sent with its `ref` after a lost answer gets the
/// first answer again; nothing is bought twice.
#[tokio::test]
async fn a_resent_accept_is_answered_from_the_first() {
    let app = quiet_app().await;
    let (_, listed, buyers) = clock_with_buyers(&app, 10, &[200_000]).await;
    let (buyer, id) = (&buyers[0], id_of(&listed));
    let mut ws = app.ws(Some(&buyer.access_token)).await;
    ws.join(id).await;
    let frame = json!({"event": "accept", "room": id, "units": 2, "price": 30_000, "ref": "box-1"});
    ws.send(frame.clone()).await;
    let first = ws.until_system("bought").await;
    assert_eq!(
        (first["units"].as_i64(), first["remaining"].as_i64()),
        (Some(2), Some(8))
    );
    let mut again = frame.clone();
    again["resend"] = json!(true);
    ws.send(again.clone()).await;
    let replayed = ws.until_system("bought").await;
    assert_eq!(replayed["replayed"], true);
    assert_eq!(replayed["sale_id"], first["sale_id"]);
    assert_eq!(replayed["bid_seq"], first["bid_seq"]);
    assert_eq!(balance(&app, buyer).await, 140_000);
    again["units"] = json!(3);
    ws.send(again).await;
    ws.until_system("ref_reused").await;
    assert_eq!(auction(&app, id).await["clock"]["remaining"], 8);
}
