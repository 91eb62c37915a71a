//! Maximum (proxy) bids over REST and WebSocket: the engine bids for the
//! owner, answers lower bids at once, resolves two maximums, lets the leader
//! raise theirs, stops when the owner's points run out, and never shows a
//! maximum to anybody but its owner.

use std::sync::Arc;

use reqwest::Method;
use serde_json::{Value, json};
use sitga_auction::Krw;
use sitga_persistence::wallets;
use sitga_testkit::{TestApp, TestUser, expect_error, expect_json};

use crate::notifications::{kinds, mine};

async fn offer(app: &TestApp, user: &TestUser, id: i64, body: Value) -> reqwest::Response {
    app.send(
        Method::POST,
        &format!("/api/v1/auctions/{id}/bids"),
        Some(&user.access_token),
        Some(body),
    )
    .await
}

/// A new seller's auction from 10,000 (with `extra` settings), and a new
/// bidder for each of `points`, charged that much.
pub(crate) async fn auction_with_bidders(
    app: &TestApp,
    extra: Value,
    points: &[i64],
) -> (TestUser, i64, Vec<TestUser>) {
    let seller = app.user().create().await;
    let id = app.open_auction(&seller, 10_000, extra).await["id"]
        .as_i64()
        .unwrap();
    let mut bidders = Vec::new();
    for &amount in points {
        let user = app.user().create().await;
        app.charge(&user, amount).await;
        bidders.push(user);
    }
    (seller, id, bidders)
}

async fn my_bids(app: &TestApp, user: &TestUser) -> Value {
    expect_json(
        app.get("/api/v1/me/bids", Some(&user.access_token)).await,
        200,
    )
    .await
}

pub(crate) async fn held(app: &TestApp, user: &TestUser) -> i64 {
    let body = expect_json(
        app.get("/api/v1/me/balance", Some(&user.access_token))
            .await,
        200,
    )
    .await;
    body["held"].as_i64().unwrap()
}

/// The amounts of an auction's bid history, oldest first, with whether the
/// engine placed each from a maximum.
async fn history(app: &TestApp, id: i64) -> Vec<i64> {
    let page = expect_json(
        app.get(&format!("/api/v1/auctions/{id}/bids?per_page=100"), None)
            .await,
        200,
    )
    .await;
    let mut amounts: Vec<(i64, i64)> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| (b["seq"].as_i64().unwrap(), b["amount"].as_i64().unwrap()))
        .collect();
    amounts.sort_unstable();
    amounts.into_iter().map(|(_, amount)| amount).collect()
}

#[tokio::test]
async fn a_maximum_bids_for_its_owner_and_stays_private() {
    let app = TestApp::spawn().await;
    let (seller, id, bidders) = auction_with_bidders(&app, json!({}), &[100_000; 2]).await;
    let [owner, rival] = &bidders[..] else {
        unreachable!()
    };
    let mut room = app.ws(None).await;
    room.join(id).await;

    // Only a maximum: the least that leads, the start price.
    let first = expect_json(
        offer(&app, owner, id, json!({"max_amount": 30_000})).await,
        201,
    )
    .await;
    assert_eq!(first["bid"]["amount"], 10_000);
    assert_eq!(first["bid"]["proxy"], true);
    assert_eq!(
        (first["leading"].as_bool(), first["max_amount"].as_i64()),
        (Some(true), Some(30_000))
    );

    // A plain 15,000 under it is placed and answered at once, one raise up.
    let second = expect_json(app.bid(rival, id, 15_000).await, 201).await;
    assert_eq!(second["leading"], false);
    assert_eq!(second["bid"]["amount"], 15_000);
    assert_eq!(second["outbid_by"]["amount"], 16_000);
    assert_eq!(second["outbid_by"]["bidder"], owner.nickname.as_str());
    assert_eq!(second["outbid_by"]["proxy"], true);
    assert_eq!(second["max_amount"], Value::Null);
    assert_eq!(second["auction"]["current_price"], 16_000);
    assert_eq!(second["auction"]["leader"], owner.nickname.as_str());
    assert_eq!(history(&app, id).await, [10_000, 15_000, 16_000]);
    assert_eq!(
        (held(&app, owner).await, held(&app, rival).await),
        (16_000, 0)
    );

    // The room saw both steps in order, then the state; never the maximum.
    let mut seen = Vec::new();
    loop {
        let frame = room.next().await.expect("a frame");
        let text = frame.to_string();
        assert!(!text.contains("30000"), "a maximum leaked: {text}");
        if frame["event"] == "message" && frame["code"] == "bid_accepted" {
            seen.push((
                frame["amount"].as_i64().unwrap(),
                frame["proxy"].as_bool().unwrap_or(false),
            ));
        }
        if frame["event"] == "state" && frame["bid_count"] == 3 {
            break;
        }
    }
    assert_eq!(seen, [(10_000, true), (15_000, false), (16_000, true)]);

    // Nobody else's view carries it: the auction (anonymous or the rival),
    // the listing, the rival's own bids.
    for (path, token) in [
        (format!("/api/v1/auctions/{id}"), None),
        (
            format!("/api/v1/auctions/{id}"),
            Some(rival.access_token.as_str()),
        ),
        ("/api/v1/auctions".to_owned(), None),
        (
            "/api/v1/me/bids".to_owned(),
            Some(rival.access_token.as_str()),
        ),
        (format!("/api/v1/auctions/{id}/bids"), None),
    ] {
        let text = app.get(&path, token).await.text().await.unwrap();
        assert!(!text.contains("30000"), "{path} shows the maximum: {text}");
    }
    // Its owner sees it.
    let own = my_bids(&app, owner).await;
    let item = &own["items"][0];
    assert_eq!(item["auction"]["id"], id);
    assert_eq!(
        (item["leading"].as_bool(), item["max_amount"].as_i64()),
        (Some(true), Some(30_000))
    );
    assert_eq!(
        (item["my_top_bid"].as_i64(), item["my_bid_count"].as_i64()),
        (Some(16_000), Some(2))
    );
    let theirs = my_bids(&app, rival).await;
    assert_eq!(theirs["total"], 1);
    assert_eq!(theirs["items"][0]["leading"], false);
    assert_eq!(theirs["items"][0]["max_amount"], Value::Null);
    assert_eq!(theirs["items"][0]["my_top_bid"], 15_000);

    // The rival is told they were outbid; the owner, whose maximum took the
    // lead straight back, is not.
    assert_eq!(kinds(&mine(&app, rival, "").await), ["outbid"]);
    assert!(kinds(&mine(&app, owner, "").await).is_empty());

    // The leader raises it without moving the price; never lowers it.
    let raised = expect_json(
        offer(&app, owner, id, json!({"max_amount": 40_000})).await,
        201,
    )
    .await;
    assert_eq!(raised["bid"], Value::Null);
    assert_eq!(
        (raised["leading"].as_bool(), raised["max_amount"].as_i64()),
        (Some(true), Some(40_000))
    );
    assert_eq!(raised["auction"]["current_price"], 16_000);
    assert_eq!(raised["auction"]["bid_count"], 3);
    let lower = expect_error(
        offer(&app, owner, id, json!({"max_amount": 35_000})).await,
        409,
        "max_too_low",
    )
    .await;
    assert_eq!(lower["min_max"], 40_001);
    expect_error(app.bid(owner, id, 17_000).await, 409, "already_leading").await;

    // A higher maximum takes the lead at the lower one plus one raise.
    let taken = expect_json(
        offer(&app, rival, id, json!({"max_amount": 50_000})).await,
        201,
    )
    .await;
    assert_eq!(taken["leading"], true);
    assert_eq!(taken["bid"]["amount"], 41_000);
    assert_eq!(taken["max_amount"], 50_000);
    assert_eq!(history(&app, id).await, [10_000, 15_000, 16_000, 41_000]);
    assert_eq!(
        (held(&app, owner).await, held(&app, rival).await),
        (0, 41_000)
    );
    assert_eq!(kinds(&mine(&app, owner, "").await), ["outbid"]);
    let own = my_bids(&app, owner).await;
    assert_eq!(
        (
            own["items"][0]["leading"].as_bool(),
            own["items"][0]["max_amount"].as_i64()
        ),
        (Some(false), None)
    );

    // Closed: sold to the maximum's owner at the price, not the maximum.
    let closed = app
        .send(
            Method::POST,
            &format!("/api/v1/auctions/{id}/close"),
            Some(&seller.access_token),
            None,
        )
        .await;
    let closed = expect_json(closed, 200).await;
    assert_eq!(
        (closed["status"].as_str(), closed["current_price"].as_i64()),
        (Some("sold"), Some(41_000))
    );
}

#[tokio::test]
async fn equal_maximums_the_earlier_leads_and_a_plain_bid_above_wins() {
    let app = TestApp::spawn().await;
    let (_, id, bidders) =
        auction_with_bidders(&app, json!({"min_increment": 1_000}), &[100_000; 3]).await;
    let [first, second, third] = &bidders[..] else {
        unreachable!()
    };
    expect_json(
        offer(&app, first, id, json!({"max_amount": 30_000})).await,
        201,
    )
    .await;
    let tie = expect_json(
        offer(&app, second, id, json!({"max_amount": 30_000})).await,
        201,
    )
    .await;
    assert_eq!(tie["leading"], false);
    assert_eq!(tie["bid"]["amount"], 30_000);
    assert_eq!(tie["outbid_by"]["amount"], 30_000);
    assert_eq!(tie["auction"]["leader"], first.nickname.as_str());
    // Amount and maximum together: 31,000 now, defended up to 45,000.
    let both = expect_json(
        offer(
            &app,
            third,
            id,
            json!({"amount": 31_000, "max_amount": 45_000}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(
        (both["leading"].as_bool(), both["bid"]["amount"].as_i64()),
        (Some(true), Some(31_000))
    );
    assert_eq!(both["bid"]["proxy"], false);
    // A plain bid above a maximum simply leads.
    let above = expect_json(app.bid(first, id, 46_000).await, 201).await;
    assert_eq!(above["leading"], true);
    assert_eq!(
        history(&app, id).await,
        [10_000, 30_000, 30_000, 31_000, 46_000]
    );
    let held_total: i64 = {
        let mut conn = app.db.get().await.unwrap();
        wallets::totals(&mut conn).await.unwrap().1.get()
    };
    assert_eq!(held_total, 46_000);
}

#[tokio::test]
async fn a_maximum_out_of_points_bids_what_they_cover_and_stops() {
    let app = TestApp::spawn().await;
    let (_, id, bidders) = auction_with_bidders(
        &app,
        json!({"min_increment": 1_000}),
        &[21_500, 100_000, 100_000, 100_000],
    )
    .await;
    let [owner, b, c, d] = &bidders[..] else {
        unreachable!()
    };
    expect_json(
        offer(&app, owner, id, json!({"max_amount": 50_000})).await,
        201,
    )
    .await;
    // Covered in full.
    let answered = expect_json(app.bid(b, id, 19_000).await, 201).await;
    assert_eq!(answered["outbid_by"]["amount"], 20_000);
    // 22,000 needed, 21,500 there: it bids 21,500 and stops.
    let partly = expect_json(app.bid(c, id, 21_000).await, 201).await;
    assert_eq!(partly["outbid_by"]["amount"], 21_500);
    assert_eq!(partly["auction"]["leader"], owner.nickname.as_str());
    let own = my_bids(&app, owner).await;
    assert_eq!(
        (
            own["items"][0]["leading"].as_bool(),
            own["items"][0]["max_amount"].as_i64()
        ),
        (Some(true), None)
    );
    let told = mine(&app, owner, "").await;
    assert_eq!(kinds(&told), ["proxy_exhausted"]);
    assert!(
        told["items"][0]["context"]
            .as_str()
            .unwrap()
            .contains("포인트"),
        "{told}"
    );
    // Stopped: the next bid simply leads.
    let over = expect_json(app.bid(d, id, 22_500).await, 201).await;
    assert_eq!(over["leading"], true);
    assert_eq!(
        kinds(&mine(&app, owner, "").await),
        ["outbid", "proxy_exhausted"]
    );
    assert_eq!(
        history(&app, id).await,
        [10_000, 19_000, 20_000, 21_000, 21_500, 22_500]
    );
    assert_eq!(held(&app, owner).await, 0);
    assert_eq!(held(&app, d).await, 22_500);
}

#[tokio::test]
async fn bad_maximums_are_refused_with_a_clear_code() {
    let app = TestApp::spawn().await;
    let (seller, id, bidders) = auction_with_bidders(&app, json!({}), &[100_000]).await;
    let bidder = &bidders[0];
    let none = expect_error(
        offer(&app, bidder, id, json!({})).await,
        400,
        "validation_failed",
    )
    .await;
    assert_eq!(none["field"], "amount");
    let below = expect_error(
        offer(
            &app,
            bidder,
            id,
            json!({"amount": 12_000, "max_amount": 11_000}),
        )
        .await,
        409,
        "max_too_low",
    )
    .await;
    assert_eq!(below["min_max"], 12_000);
    let low = expect_error(
        offer(&app, bidder, id, json!({"max_amount": 9_000})).await,
        409,
        "bid_too_low",
    )
    .await;
    assert_eq!(low["min_next_bid"], 10_000);
    expect_error(
        offer(&app, bidder, id, json!({"max_amount": 0})).await,
        409,
        "invalid_amount",
    )
    .await;
    expect_error(
        offer(&app, &seller, id, json!({"max_amount": 20_000})).await,
        409,
        "seller_cannot_bid",
    )
    .await;
    let status = offer(&app, bidder, id, json!({"max_amount": "lots"}))
        .await
        .status();
    assert_eq!(status, 400);
    // Nothing of it was placed.
    assert!(history(&app, id).await.is_empty());
    assert_eq!(held(&app, bidder).await, 0);
}

#[tokio::test]
async fn a_maximum_over_websocket_is_answered_privately() {
    let app = TestApp::spawn().await;
    let (_, id, bidders) = auction_with_bidders(&app, json!({}), &[100_000; 2]).await;
    let [owner, rival] = &bidders[..] else {
        unreachable!()
    };
    let mut ws = app.ws(Some(&owner.access_token)).await;
    ws.join(id).await;
    ws.send(json!({"event": "bid", "room": id.to_string(), "max": 30_000, "ref": "m-1"}))
        .await;
    let answer = ws.until_system("bid_accepted").await;
    assert_eq!(
        (answer["max"].as_i64(), answer["leading"].as_bool()),
        (Some(30_000), Some(true))
    );
    assert_eq!(answer["ref"], "m-1");
    ws.send(json!({"event": "bid", "room": id.to_string(), "max": 35_000}))
        .await;
    let raised = ws.until_system("max_raised").await;
    assert_eq!(raised["max"], 35_000);
    ws.send(json!({"event": "bid", "room": id.to_string(), "max": 20_000}))
        .await;
    let lower = ws.until_system("max_too_low").await;
    assert_eq!(lower["min_max"], 35_001);
    ws.send(json!({"event": "bid", "room": id.to_string(), "ref": "m-2"}))
        .await;
    let empty = ws.until_system("invalid_amount").await;
    assert_eq!(empty["ref"], Value::Null, "{empty}");
    // The rival's socket sees the answer as a proxy step, no maximum.
    let mut other = app.ws(Some(&rival.access_token)).await;
    other.join(id).await;
    other
        .send(json!({"event": "bid", "room": id.to_string(), "amount": 12_000}))
        .await;
    let theirs = other.until_system("bid_accepted").await;
    assert_eq!(theirs["leading"], false, "{theirs}");
    assert_eq!(theirs["max"], Value::Null);
    let proxy = other
        .seen_or_until(|f| f["event"] == "message" && f["proxy"] == true && f["amount"] == 13_000)
        .await;
    assert!(
        proxy["context"].as_str().unwrap().contains("자동 입찰"),
        "{proxy}"
    );
    assert!(!proxy.to_string().contains("35000"));
}

/// Many bidders send maximums at once on two instances: the highest
/// maximum leads at the second-highest plus one raise, the history has no
/// gap, and every point is where it should be.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_maximums_on_two_instances_resolve_like_one_auction() {
    let app = TestApp::spawn().await;
    let peer = app.spawn_peer().await;
    let (_, id, bidders) =
        auction_with_bidders(&app, json!({"min_increment": 1_000}), &[200_000; 12]).await;
    let app = Arc::new(app);
    let peer = Arc::new(peer);
    let mut tasks = Vec::new();
    for (n, user) in bidders.iter().cloned().enumerate() {
        let instance = if n % 2 == 0 {
            Arc::clone(&app)
        } else {
            Arc::clone(&peer)
        };
        // Maximums 20,000 … 75,000 in a scrambled order.
        let max = 20_000 + ((n as i64 * 7) % 12) * 5_000;
        tasks.push(tokio::spawn(async move {
            let res = offer(&instance, &user, id, json!({"max_amount": max})).await;
            (user, max, res.status().as_u16())
        }));
    }
    let mut maxima = Vec::new();
    for task in tasks {
        let (user, max, status) = task.await.unwrap();
        // Too low once the price passed it, or accepted.
        assert!(status == 201 || status == 409, "{status}");
        maxima.push((max, user));
    }
    maxima.sort_by_key(|(max, _)| -max);
    let auction = expect_json(app.get(&format!("/api/v1/auctions/{id}"), None).await, 200).await;
    let (top, leader) = &maxima[0];
    assert_eq!(auction["leader"], leader.nickname.as_str());
    assert_eq!(*top, 75_000);
    // The second-highest maximum was placed (or it could not have been
    // refused: it is above every price before the top one took over).
    let second = maxima[1].0;
    assert_eq!(auction["current_price"], (second + 1_000).min(*top));
    let amounts = history(&app, id).await;
    assert_eq!(amounts.len() as i64, auction["bid_count"].as_i64().unwrap());
    assert!(amounts.windows(2).all(|w| w[1] >= w[0]), "{amounts:?}");
    let mut conn = app.db.get().await.unwrap();
    let (balances, held) = wallets::totals(&mut conn).await.unwrap();
    assert_eq!(held, Krw::new(second + 1_000));
    assert_eq!(balances, Krw::new(200_000 * 12));
}
