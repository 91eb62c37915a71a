//! Two sitga instances on one database (and, with Redis, one bus).

use std::sync::Arc;

use serde_json::{Value, json};
use sitga_persistence::{auctions, wallets};
use sitga_testkit::TestApp;

/// Two instances sharing one database and one Redis (the tests that need
/// Redis are ignored without it; CI runs them).
async fn pair_on_redis() -> (TestApp, TestApp) {
    assert!(
        sitga_testkit::redis_url().is_some(),
        "REDIS_URL must be set for this test"
    );
    let one = TestApp::spawn().await;
    let two = one.spawn_peer().await;
    (one, two)
}

/// Bids through both instances at once serialize into one history: the
/// version guard on the auction row makes a stale writer retry.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_bids_through_two_instances_serialize() {
    let one = Arc::new(TestApp::spawn().await);
    let two = Arc::new(one.spawn_peer().await);
    let seller = one.user().create().await;
    let id = one
        .open_auction(&seller, 1_000, json!({"min_increment": 100}))
        .await["id"]
        .as_i64()
        .unwrap();
    let mut bidders = Vec::new();
    for i in 0..16 {
        let app = if i % 2 == 0 { &one } else { &two };
        let b = app.user().create().await;
        app.charge(&b, 1_000_000).await;
        bidders.push((b, if i % 2 == 0 { one.clone() } else { two.clone() }));
    }
    let tasks: Vec<_> = bidders
        .iter()
        .cloned()
        .map(|(b, app)| {
            tokio::spawn(async move {
                let mut next = 1_000;
                let mut accepted = Vec::new();
                for _ in 0..15 {
                    let res = app.bid(&b, id, next).await;
                    let status = res.status().as_u16();
                    let body: Value = res.json().await.unwrap();
                    match status {
                        201 => {
                            accepted.push(next);
                            next = body["auction"]["min_next_bid"].as_i64().unwrap() + 100;
                        }
                        409 => next = body["min_next_bid"].as_i64().unwrap_or(next + 100),
                        other => panic!("{other}: {body}"),
                    }
                }
                accepted
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let mut conn = one.db.get().await.unwrap();
    let auction = auctions::find(&mut conn, id.into()).await.unwrap().unwrap();
    assert_eq!(auction.bid_count as usize, all.len());
    assert_eq!(
        auction.current_price.map(sitga_auction::Krw::get),
        all.iter().max().copied()
    );
    let history = auctions::bids_of(&mut conn, id.into(), 0, 10_000)
        .await
        .unwrap();
    let amounts: Vec<i64> = history.iter().rev().map(|b| b.amount.get()).collect();
    assert!(
        amounts.windows(2).all(|w| w[1] > w[0]),
        "strictly increasing"
    );
    let held: i64 = {
        let mut total = 0;
        for (b, _) in &bidders {
            total += wallets::get(&mut conn, b.id.into())
                .await
                .unwrap()
                .held
                .get();
        }
        total
    };
    assert_eq!(
        Some(held),
        auction.current_price.map(sitga_auction::Krw::get),
        "only the leader's bid is held"
    );
}

/// With Redis, a bid made on instance A reaches watchers on instance B, and
/// both see the same numbered frames.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs Redis: run with REDIS_URL set (CI does)"]
async fn rooms_are_shared_across_instances_through_redis() {
    let (one, two) = pair_on_redis().await;
    let seller = one.user().create().await;
    let alice = one.user().nickname("alice").create().await;
    let bob = two.user().nickname("bob").create().await;
    one.charge(&alice, 100_000).await;
    two.charge(&bob, 100_000).await;
    let id = one.open_auction(&seller, 10_000, json!({})).await["id"]
        .as_i64()
        .unwrap();

    let mut on_one = one.ws(Some(&alice.access_token)).await;
    let mut on_two = two.ws(Some(&bob.access_token)).await;
    let mut watcher_two = two.ws(None).await;
    on_one.join(id).await;
    on_two.join(id).await;
    watcher_two.join(id).await;
    // Wait until both joins have been seen everywhere.
    on_one
        .until(|f| f["code"] == "joined" && f["user"] == "bob")
        .await;

    on_one
        .send(json!({"event": "bid", "room": id, "amount": 10_000}))
        .await;
    on_one
        .until(|f| f["event"] == "system" && f["code"] == "bid_accepted")
        .await;
    on_two
        .send(json!({"event": "bid", "room": id, "amount": 11_000}))
        .await;
    on_two
        .until(|f| f["event"] == "system" && f["code"] == "bid_accepted")
        .await;
    on_two
        .send(json!({"event": "message", "room": id, "message": "끝"}))
        .await;

    for client in [&mut on_one, &mut on_two, &mut watcher_two] {
        client
            .until(|f| f["event"] == "message" && f["code"] == "chat")
            .await;
    }
    let tail = |c: &sitga_testkit::WsClient| -> Vec<(i64, String)> {
        let mut v: Vec<(i64, String)> = c
            .received
            .iter()
            .filter_map(|f| Some((f["seq"].as_i64()?, format!("{}:{}", f["event"], f["code"]))))
            .collect();
        v.split_off(v.len().saturating_sub(5))
    };
    let (a, b, w) = (tail(&on_one), tail(&on_two), tail(&watcher_two));
    assert_eq!(a, b);
    assert_eq!(b, w);
    assert!(a.windows(2).all(|p| p[1].0 == p[0].0 + 1), "{a:?}");
    assert_eq!(
        a.iter().filter(|(_, e)| e.contains("bid_accepted")).count(),
        2
    );
}

/// With Redis, logging out on instance A ends the session on instance B at
/// once: B had its access token cached as alive and a socket open on it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs Redis: run with REDIS_URL set (CI does)"]
async fn a_logout_on_one_instance_ends_the_session_on_the_other() {
    let (one, two) = pair_on_redis().await;
    let alice = one.user().nickname("alice").create().await;
    // Instance two knows the session as alive (cached) and holds a socket.
    assert_eq!(
        two.get("/api/v1/users/me", Some(&alice.access_token))
            .await
            .status(),
        200
    );
    let mut socket = two.ws(Some(&alice.access_token)).await;
    let started = std::time::Instant::now();
    let out = one
        .post_json(
            "/api/v1/auth/logout",
            &json!({"refresh_token": alice.refresh_token}),
        )
        .await;
    assert_eq!(out.status(), 204);
    socket
        .expect_closed_within(std::time::Duration::from_secs(1))
        .await;
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    let refused = two.get("/api/v1/users/me", Some(&alice.access_token)).await;
    sitga_testkit::expect_error(refused, 401, "session_revoked").await;
}

/// A scheduled start is announced once, by whichever instance's sweeper
/// marks it first, to watchers on every instance.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs Redis: run with REDIS_URL set (CI does)"]
async fn a_scheduled_start_is_announced_once_across_instances() {
    let (one, two) = pair_on_redis().await;
    let seller = one.user().create().await;
    let starts_at = chrono::Utc::now() + chrono::Duration::seconds(2);
    let id = one
        .open_auction(&seller, 10_000, json!({"starts_at": starts_at}))
        .await["id"]
        .as_i64()
        .unwrap();
    let mut on_one = one.ws(None).await;
    let mut on_two = two.ws(None).await;
    assert_eq!(on_one.join(id).await["status"], "scheduled");
    assert_eq!(on_two.join(id).await["status"], "scheduled");
    // Both sweepers run every second; wait past the start and a few sweeps.
    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    on_one.drain(std::time::Duration::from_millis(300)).await;
    on_two.drain(std::time::Duration::from_millis(300)).await;
    for socket in [&on_one, &on_two] {
        let opened: Vec<&Value> = socket
            .received
            .iter()
            .filter(|f| f["event"] == "state" && f["status"] == "open")
            .collect();
        assert_eq!(opened.len(), 1, "{:?}", socket.received);
        assert!(opened[0]["seq"].as_i64().is_some());
    }
}

/// A notification produced on one instance reaches the user's socket on
/// the other (the per-user Redis channel), exactly once, without the socket
/// joining any room; an ending-soon reminder swept by both instances is
/// stored and sent once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs Redis: run with REDIS_URL set (CI does)"]
async fn a_notification_made_on_one_instance_reaches_a_socket_on_the_other() {
    let (one, two) = pair_on_redis().await;
    let seller = one.user().create().await;
    let first = one.user().create().await;
    let second = one.user().create().await;
    one.charge(&first, 50_000).await;
    one.charge(&second, 50_000).await;
    let id = one.open_auction(&seller, 10_000, json!({})).await["id"]
        .as_i64()
        .unwrap();
    let mut on_two = two.ws(Some(&first.access_token)).await;
    on_two.send(json!({"event": "no_such_event"})).await;
    on_two.until(|f| f["event"] == "system").await;
    assert_eq!(one.bid(&first, id, 10_000).await.status(), 201);
    assert_eq!(one.bid(&second, id, 11_000).await.status(), 201);
    let told = on_two.until(|f| f["event"] == "notification").await;
    assert_eq!(told["kind"], "outbid");
    assert_eq!(told["auction_id"], id);

    // Both instances' sweepers see the auction ending in five minutes.
    sitga_persistence::test_support::end_auction_in(&one.db, id.into(), 5 * 60)
        .await
        .unwrap();
    let reminder = on_two
        .until(|f| f["event"] == "notification" && f["kind"] == "ending_soon")
        .await;
    assert_eq!(reminder["auction_id"], id);
    on_two.drain(std::time::Duration::from_secs(3)).await;
    let notifications: Vec<&Value> = on_two
        .received
        .iter()
        .filter(|f| f["event"] == "notification")
        .collect();
    assert_eq!(notifications.len(), 2, "{notifications:?}");
    let stored = crate::notifications::mine(&two, &first, "").await;
    assert_eq!(
        crate::notifications::kinds(&stored),
        ["ending_soon", "outbid"]
    );
}

/// With Redis, a list kept in memory by instance B shows a bid made on
/// instance A as soon as B's sockets have its frame.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs Redis: run with REDIS_URL set (CI does)"]
async fn a_list_kept_by_one_instance_shows_a_bid_made_on_the_other() {
    let (one, two) = pair_on_redis().await;
    let seller = one.user().create().await;
    let bidder = one.user().create().await;
    one.charge(&bidder, 100_000).await;
    let id = one.open_auction(&seller, 10_000, json!({})).await["id"]
        .as_i64()
        .unwrap();
    let list = "/api/v1/auctions?status=open&per_page=100";
    let price_on_two = || async {
        let page = sitga_testkit::expect_json(two.get(list, None).await, 200).await;
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["id"] == id)
            .map(|a| a["current_price"].clone())
    };
    // Read twice: the second answer comes from B's memory.
    assert_eq!(price_on_two().await, Some(Value::Null));
    assert_eq!(price_on_two().await, Some(Value::Null));
    let mut watcher = two.ws(None).await;
    watcher.join(id).await;
    assert_eq!(one.bid(&bidder, id, 10_000).await.status(), 201);
    watcher.until(|f| f["code"] == "bid_accepted").await;
    assert_eq!(price_on_two().await, Some(json!(10_000)));
}
