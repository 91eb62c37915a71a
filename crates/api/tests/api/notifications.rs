//! Notifications: stored with their event, once per user and event, listed
//! and marked read over REST, sent live to every signed-in socket without
//! joining a room, and only of the kinds the user keeps on.

use reqwest::Method;
use serde_json::{Value, json};
use sitga_testkit::{TestApp, TestUser, WsClient, expect_error, expect_json};

pub(crate) async fn mine(app: &TestApp, user: &TestUser, query: &str) -> Value {
    expect_json(
        app.get(
            &format!("/api/v1/me/notifications{query}"),
            Some(&user.access_token),
        )
        .await,
        200,
    )
    .await
}

pub(crate) fn kinds(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["kind"].as_str().unwrap().to_owned())
        .collect()
}

async fn read(app: &TestApp, user: &TestUser, body: Value) -> reqwest::Response {
    app.send(
        Method::POST,
        "/api/v1/me/notifications/read",
        Some(&user.access_token),
        Some(body),
    )
    .await
}

/// A signed-in socket in no room, its loop running (a frame answered).
async fn inbox(app: &TestApp, user: &TestUser) -> WsClient {
    let mut socket = app.ws(Some(&user.access_token)).await;
    socket.send(json!({"event": "no_such_event"})).await;
    socket.until(|f| f["event"] == "system").await;
    socket
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbid_won_and_sold_are_stored_and_sent_live() {
    let app = TestApp::spawn().await;
    let seller = app.user().nickname("어부").create().await;
    let first = app.user().nickname("first").create().await;
    let second = app.user().nickname("second").create().await;
    app.charge(&first, 50_000).await;
    app.charge(&second, 50_000).await;
    let id = app.open_auction(&seller, 10_000, json!({})).await["id"]
        .as_i64()
        .unwrap();
    let mut first_socket = inbox(&app, &first).await;
    let mut seller_socket = inbox(&app, &seller).await;
    assert_eq!(app.bid(&first, id, 10_000).await.status(), 201);
    assert_eq!(app.bid(&second, id, 12_000).await.status(), 201);

    // Live, on a socket that joined no room.
    let live = first_socket.until(|f| f["event"] == "notification").await;
    assert_eq!(live["kind"], "outbid");
    assert_eq!(live["auction_id"], id);
    assert!(live["room"].is_null(), "{live}");
    assert!(
        live["context"].as_str().unwrap().contains("12000원"),
        "{live}"
    );
    assert!(live["text"].as_str().unwrap().contains("outbid"), "{live}");

    // Stored: the same one, unread.
    let page = mine(&app, &first, "").await;
    assert_eq!(kinds(&page), ["outbid"]);
    assert_eq!(page["items"][0]["id"], live["id"]);
    assert!(page["items"][0]["read_at"].is_null());
    assert_eq!(
        (page["total"].as_i64(), page["unread"].as_i64()),
        (Some(1), Some(1))
    );
    assert_eq!(kinds(&mine(&app, &second, "").await), Vec::<String>::new());

    // Outbid again by a later bid: news again.
    assert_eq!(app.bid(&first, id, 14_000).await.status(), 201);
    assert_eq!(app.bid(&second, id, 16_000).await.status(), 201);
    assert_eq!(kinds(&mine(&app, &first, "").await), ["outbid", "outbid"]);
    assert_eq!(kinds(&mine(&app, &second, "").await), ["outbid"]);

    let closed = app
        .send(
            Method::POST,
            &format!("/api/v1/auctions/{id}/close"),
            Some(&seller.access_token),
            None,
        )
        .await;
    assert_eq!(expect_json(closed, 200).await["status"], "sold");
    let sold = seller_socket
        .until(|f| f["event"] == "notification" && f["kind"] == "sold")
        .await;
    assert_eq!(sold["auction_id"], id);
    assert!(sold["sale_id"].as_i64().is_some());
    let winner = mine(&app, &second, "").await;
    assert_eq!(kinds(&winner), ["badge_awarded", "won", "outbid"]);
    assert!(
        winner["items"][0]["context"]
            .as_str()
            .unwrap()
            .contains("배지"),
        "{winner}"
    );
    assert_eq!(
        kinds(&mine(&app, &seller, "").await),
        ["badge_awarded", "sold"]
    );
    let count = expect_json(
        app.get(
            "/api/v1/me/notifications/unread-count",
            Some(&second.access_token),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(count["unread"], 3);

    // Marking read: someone else's id is ignored, not an error.
    let theirs = mine(&app, &first, "").await["items"][0]["id"].clone();
    let own = winner["items"][1]["id"].clone();
    let marked = expect_json(
        read(&app, &second, json!({"ids": [own, theirs]})).await,
        200,
    )
    .await;
    assert_eq!(
        (marked["marked"].as_i64(), marked["unread"].as_i64()),
        (Some(1), Some(2))
    );
    assert_eq!(mine(&app, &first, "?unread=true").await["total"], 2);
    let unread = mine(&app, &second, "?unread=true").await;
    assert_eq!(kinds(&unread), ["badge_awarded", "outbid"]);
    let all = expect_json(read(&app, &second, json!({"all": true})).await, 200).await;
    assert_eq!(
        (all["marked"].as_i64(), all["unread"].as_i64()),
        (Some(2), Some(0))
    );
    let after = mine(&app, &second, "").await;
    assert!(after["items"][0]["read_at"].is_string());
    assert_eq!(after["unread"], 0);
}

#[tokio::test]
async fn a_kind_turned_off_is_neither_stored_nor_sent() {
    let app = TestApp::spawn().await;
    let seller = app.user().create().await;
    let quiet = app.user().create().await;
    let rival = app.user().create().await;
    app.charge(&quiet, 50_000).await;
    app.charge(&rival, 50_000).await;
    let settings = |body: Option<Value>| {
        let method = if body.is_some() {
            Method::PUT
        } else {
            Method::GET
        };
        app.send(
            method,
            "/api/v1/me/notification-settings",
            Some(&quiet.access_token),
            body,
        )
    };
    let defaults = expect_json(settings(None).await, 200).await;
    for kind in [
        "outbid",
        "won",
        "sold",
        "ending_soon",
        "sale_update",
        "pickup_claimed",
        "pickup_completed",
        "badge_awarded",
    ] {
        assert_eq!(defaults[kind], true, "{kind}: {defaults}");
    }
    let changed = expect_json(settings(Some(json!({"outbid": false}))).await, 200).await;
    assert_eq!(
        (changed["outbid"].as_bool(), changed["won"].as_bool()),
        (Some(false), Some(true))
    );
    // Left out: unchanged.
    let again = expect_json(settings(Some(json!({"won": true}))).await, 200).await;
    assert_eq!(again["outbid"], false);
    let typo = expect_error(
        settings(Some(json!({"outbidd": false}))).await,
        400,
        "invalid_field",
    )
    .await;
    assert_eq!(typo["field"], "outbidd");
    let not_bool = expect_error(
        settings(Some(json!({"outbid": "no"}))).await,
        400,
        "invalid_field",
    )
    .await;
    assert_eq!(not_bool["field"], "outbid");

    let id = app.open_auction(&seller, 10_000, json!({})).await["id"]
        .as_i64()
        .unwrap();
    let mut socket = inbox(&app, &quiet).await;
    assert_eq!(app.bid(&quiet, id, 10_000).await.status(), 201);
    assert_eq!(app.bid(&rival, id, 11_000).await.status(), 201);
    socket.drain(std::time::Duration::from_millis(500)).await;
    assert!(
        !socket.received.iter().any(|f| f["event"] == "notification"),
        "{:?}",
        socket.received
    );
    assert_eq!(mine(&app, &quiet, "").await["total"], 0);

    // On again: the next outbid is told.
    expect_json(settings(Some(json!({"outbid": true}))).await, 200).await;
    assert_eq!(app.bid(&quiet, id, 12_000).await.status(), 201);
    assert_eq!(app.bid(&rival, id, 13_000).await.status(), 201);
    assert_eq!(kinds(&mine(&app, &quiet, "").await), ["outbid"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ending_soon_reaches_watchers_and_bidders_once_per_reminder() {
    let app = TestApp::spawn().await;
    let seller = app.user().create().await;
    let watcher = app.user().create().await;
    let bidder = app.user().create().await;
    let stranger = app.user().create().await;
    app.charge(&bidder, 50_000).await;
    let id = app.open_auction(&seller, 10_000, json!({})).await["id"]
        .as_i64()
        .unwrap();
    expect_json(
        app.send(
            Method::PUT,
            &format!("/api/v1/me/watchlist/{id}"),
            Some(&watcher.access_token),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(app.bid(&bidder, id, 10_000).await.status(), 201);
    let closer = app.state().closer.clone();
    assert_eq!(closer.remind_due().await.unwrap(), 0, "an hour left");

    sitga_persistence::test_support::end_auction_in(&app.db, id.into(), 5 * 60)
        .await
        .unwrap();
    let mut socket = inbox(&app, &watcher).await;
    // This call and every instance's every-second sweeper race: one sends.
    let (a, b) = tokio::join!(closer.remind_due(), closer.remind_due());
    assert!(a.unwrap() + b.unwrap() <= 1);
    let live = socket
        .until(|f| f["event"] == "notification" && f["kind"] == "ending_soon")
        .await;
    assert_eq!(live["auction_id"], id);
    assert!(live["context"].as_str().unwrap().contains("10분"), "{live}");
    for user in [&watcher, &bidder] {
        assert_eq!(kinds(&mine(&app, user, "").await), ["ending_soon"]);
    }
    assert_eq!(mine(&app, &seller, "").await["total"], 0);
    assert_eq!(mine(&app, &stranger, "").await["total"], 0);

    // The last minute: the second reminder, once.
    sitga_persistence::test_support::end_auction_in(&app.db, id.into(), 30)
        .await
        .unwrap();
    closer.remind_due().await.unwrap();
    closer.remind_due().await.unwrap();
    let page = mine(&app, &bidder, "").await;
    assert_eq!(kinds(&page), ["ending_soon", "ending_soon"]);
    assert!(
        page["items"][0]["text"]
            .as_str()
            .unwrap()
            .contains("1 minute."),
        "{page}"
    );
    // A soft close moved the end out again: nothing more to send.
    sitga_persistence::test_support::end_auction_in(&app.db, id.into(), 120)
        .await
        .unwrap();
    assert_eq!(closer.remind_due().await.unwrap(), 0);
    assert_eq!(mine(&app, &watcher, "").await["total"], 2);
    // Nor after a restart: what was sent is recorded with the auction.
    sitga_persistence::test_support::end_auction_in(&app.db, id.into(), 30)
        .await
        .unwrap();
    let app = app.restart().await;
    assert_eq!(app.state().closer.remind_due().await.unwrap(), 0);
    tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;
    for user in [&watcher, &bidder] {
        assert_eq!(mine(&app, user, "").await["total"], 2);
    }
}

#[tokio::test]
async fn handover_steps_and_pickups_tell_the_other_party() {
    let app = &TestApp::spawn().await;
    let seller = app.user().create().await;
    let buyer = app.user().create().await;
    let (_, sale) = app
        .sell(
            &seller,
            &buyer,
            20_000,
            0,
            json!({"delivery": {"pickup": {"province": "jeju", "place": "도두항"}}}),
        )
        .await;
    let step = |who: &TestUser, path: &str, body: Value| {
        let path = format!("/api/v1/sales/{sale}/{path}");
        let token = who.access_token.clone();
        async move {
            app.send(Method::POST, &path, Some(&token), Some(body))
                .await
        }
    };
    expect_json(
        step(&buyer, "details", json!({"delivery": "pickup"})).await,
        200,
    )
    .await;
    expect_json(step(&seller, "ship", json!({})).await, 200).await;
    let seller_page = mine(app, &seller, "").await;
    assert_eq!(seller_page["items"][0]["kind"], "sale_update");
    assert_eq!(seller_page["items"][0]["sale_id"], sale);
    assert!(
        seller_page["items"][0]["context"]
            .as_str()
            .unwrap()
            .contains("수령 방법"),
        "{seller_page}"
    );
    let buyer_page = mine(app, &buyer, "").await;
    assert_eq!(buyer_page["items"][0]["kind"], "sale_update");
    assert!(
        buyer_page["items"][0]["text"]
            .as_str()
            .unwrap()
            .contains("ready for pickup"),
        "{buyer_page}"
    );

    let cafe = app.user().nickname("바다카페").cafe().create().await;
    let recycler = app.user().nickname("그린수거").recycler().create().await;
    let offer = expect_json(
        app.send(
            Method::POST,
            "/api/v1/pickups",
            Some(&cafe.access_token),
            Some(json!({"amount_kg": 2.5})),
        )
        .await,
        201,
    )
    .await;
    let pickup = offer["id"].as_i64().unwrap();
    let mut cafe_socket = inbox(app, &cafe).await;
    let move_it = |path: &str, body: Option<Value>| {
        let path = format!("/api/v1/pickups/{pickup}/{path}");
        let token = recycler.access_token.clone();
        async move { app.send(Method::POST, &path, Some(&token), body).await }
    };
    expect_json(move_it("claim", None).await, 200).await;
    let claimed = cafe_socket
        .until(|f| f["event"] == "notification" && f["kind"] == "pickup_claimed")
        .await;
    assert_eq!(claimed["pickup_id"], pickup);
    assert!(
        claimed["context"].as_str().unwrap().contains("그린수거"),
        "{claimed}"
    );
    expect_json(
        move_it("complete", Some(json!({"measured_kg": 2.4}))).await,
        200,
    )
    .await;
    cafe_socket
        .until(|f| f["event"] == "notification" && f["kind"] == "pickup_completed")
        .await;
    // The recycler did both: told of neither.
    let recycler_kinds = kinds(&mine(app, &recycler, "").await);
    assert!(
        !recycler_kinds.iter().any(|k| k.starts_with("pickup_")),
        "{recycler_kinds:?}"
    );
}

#[tokio::test]
async fn bad_read_requests_are_refused_clearly() {
    let app = TestApp::spawn().await;
    let user = app.user().create().await;
    expect_error(read(&app, &user, json!({})).await, 400, "validation_failed").await;
    expect_error(
        read(&app, &user, json!({"ids": [1], "all": true})).await,
        400,
        "validation_failed",
    )
    .await;
    let not_true = expect_error(
        read(&app, &user, json!({"all": false})).await,
        400,
        "validation_failed",
    )
    .await;
    assert_eq!(not_true["field"], "all");
    let many: Vec<i64> = (1..=501).collect();
    let too_many = expect_error(
        read(&app, &user, json!({"ids": many})).await,
        400,
        "validation_failed",
    )
    .await;
    assert_eq!(too_many["field"], "ids");
    let wrong = expect_error(
        read(&app, &user, json!({"ids": "all"})).await,
        400,
        "invalid_field",
    )
    .await;
    assert_eq!(wrong["field"], "ids");
    let nothing = expect_json(read(&app, &user, json!({"ids": []})).await, 200).await;
    assert_eq!(nothing["marked"], 0);
    for path in [
        "/api/v1/me/notifications",
        "/api/v1/me/notifications/unread-count",
        "/api/v1/me/notification-settings",
    ] {
        expect_error(app.get(path, None).await, 401, "missing_token").await;
    }
    expect_error(
        app.get(
            "/api/v1/me/notifications?per_page=0",
            Some(&user.access_token),
        )
        .await,
        400,
        "invalid_query",
    )
    .await;
    expect_error(
        app.get(
            "/api/v1/me/notifications?unread=maybe",
            Some(&user.access_token),
        )
        .await,
        400,
        "invalid_query",
    )
    .await;
}
