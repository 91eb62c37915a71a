//! A WebSocket frame's `ref` is an idempotency key per bidder and auction:
//! a bid or buy-now re-sent (`resend: true`) after a lost answer (on the
//! same connection or a new one, on the same instance or another) gets the
//! first answer again and is never decided twice; a different frame re-sent
//! under a used `ref` answers `ref_reused`.

use serde_json::{Value, json};
use sitga_testkit::{TestApp, TestUser, WsClient, expect_json};

use crate::proxy::{auction_with_bidders, held};

/// A signed-in socket joined to `room`.
async fn bidder_socket(app: &TestApp, user: &TestUser, room: i64) -> WsClient {
    let mut ws = app.ws(Some(&user.access_token)).await;
    ws.join(room).await;
    ws
}

/// Sends `frame` and returns its answer (the `system` frame echoing `ref`).
async fn answer(ws: &mut WsClient, frame: Value) -> Value {
    let reference = frame["ref"].clone();
    ws.send(frame).await;
    ws.until(|f| f["event"] == "system" && f["ref"] == reference)
        .await
}

/// `frame` marked as sent again after its answer was lost.
fn resent(frame: &Value) -> Value {
    let mut frame = frame.clone();
    frame["resend"] = json!(true);
    frame
}

async fn bid_count(app: &TestApp, id: i64) -> i64 {
    let body = expect_json(app.get(&format!("/api/v1/auctions/{id}"), None).await, 200).await;
    body["bid_count"].as_i64().unwrap()
}

#[tokio::test]
async fn a_re_sent_bid_is_answered_again_and_never_placed_twice() {
    let app = TestApp::spawn().await;
    let (_, id, bidders) =
        auction_with_bidders(&app, json!({"min_increment": 1_000}), &[100_000; 2]).await;
    let [bidder, rival] = &bidders[..] else {
        unreachable!()
    };
    let room = id.to_string();
    let frame = json!({"event": "bid", "room": room, "amount": 15_000, "ref": "b-1"});

    let mut ws = bidder_socket(&app, bidder, id).await;
    let first = answer(&mut ws, frame.clone()).await;
    assert_eq!(first["code"], "bid_accepted");
    assert_eq!(first["replayed"], Value::Null);
    let seq = first["bid_seq"].as_i64().unwrap();

    // The answer was lost: the same frame again, on this socket and on a
    // new one (a reconnect), and after someone outbid it.
    let again = answer(&mut ws, resent(&frame)).await;
    assert_eq!(
        (again["code"].as_str(), again["replayed"].as_bool()),
        (Some("bid_accepted"), Some(true))
    );
    assert_eq!(again["bid_seq"], seq);
    drop(ws);
    assert_eq!(app.bid(rival, id, 16_000).await.status(), 201);
    let mut reconnected = bidder_socket(&app, bidder, id).await;
    let later = answer(&mut reconnected, resent(&frame)).await;
    assert_eq!(
        (later["replayed"].as_bool(), later["bid_seq"].as_i64()),
        (Some(true), Some(seq))
    );
    assert_eq!(later["amount"], 15_000);
    assert_eq!(bid_count(&app, id).await, 2);
    assert_eq!(held(&app, bidder).await, 0, "outbid: nothing held twice");

    // A different bid re-sent under the same ref is refused; nothing is
    // placed.
    let other = answer(
        &mut reconnected,
        json!({"event": "bid", "room": room, "amount": 20_000, "ref": "b-1", "resend": true}),
    )
    .await;
    assert_eq!(other["code"], "ref_reused");
    assert_eq!(bid_count(&app, id).await, 2);
    // Not marked as re-sent, a frame is decided as a new one (a first send
    // is never looked up): here, too low.
    let unmarked = answer(&mut reconnected, frame.clone()).await;
    assert_eq!(unmarked["code"], "bid_too_low");

    // The key is the bidder's on this auction: the rival may use it.
    let back = answer(
        &mut reconnected,
        json!({"event": "bid", "room": room, "amount": 17_000, "ref": "b-2"}),
    )
    .await;
    assert_eq!(back["code"], "bid_accepted");
    let theirs = answer(
        &mut bidder_socket(&app, rival, id).await,
        json!({"event": "bid", "room": room, "amount": 30_000, "ref": "b-1"}),
    )
    .await;
    assert_eq!(
        (theirs["code"].as_str(), theirs["replayed"].as_bool()),
        (Some("bid_accepted"), None)
    );

    // Integers are keys too; other refs are only echoed.
    let numbered = json!({"event": "bid", "room": room, "amount": 31_000, "ref": 7});
    assert_eq!(
        answer(&mut reconnected, numbered.clone()).await["code"],
        "bid_accepted"
    );
    assert_eq!(
        answer(&mut reconnected, resent(&numbered)).await["replayed"],
        true
    );
    assert_eq!(app.bid(rival, id, 35_000).await.status(), 201);
    let echoed = json!({"event": "bid", "room": room, "amount": 40_000, "ref": {"n": 1}});
    assert_eq!(
        answer(&mut reconnected, echoed.clone()).await["code"],
        "bid_accepted"
    );
    assert_eq!(
        answer(&mut reconnected, resent(&echoed)).await["code"],
        "already_leading"
    );
    assert_eq!(bid_count(&app, id).await, 7);
}

#[tokio::test]
async fn the_same_frame_twice_at_once_places_one_bid() {
    let app = TestApp::spawn().await;
    let (_, id, bidders) = auction_with_bidders(&app, json!({}), &[100_000]).await;
    let bidder = &bidders[0];
    let mut ws = bidder_socket(&app, bidder, id).await;
    let frame = json!({"event": "bid", "room": id.to_string(), "max": 50_000, "ref": "twice"});
    // Back to back (a client re-sending at once): they may reach the writer
    // in one batch.
    ws.send(frame.clone()).await;
    ws.send(resent(&frame)).await;
    let mut answers = Vec::new();
    while answers.len() < 2 {
        let f = ws
            .until(|f| f["event"] == "system" && f["ref"] == "twice")
            .await;
        answers.push(f);
    }
    assert_eq!(answers[0]["bid_seq"], answers[1]["bid_seq"]);
    let replayed: Vec<_> = answers.iter().map(|a| a["replayed"].as_bool()).collect();
    assert_eq!(replayed, [None, Some(true)]);
    assert_eq!(bid_count(&app, id).await, 1);
    assert_eq!(held(&app, bidder).await, 10_000);
}

#[tokio::test]
async fn a_re_sent_buy_now_is_answered_from_the_purchase() {
    let app = TestApp::spawn().await;
    let (_, id, bidders) =
        auction_with_bidders(&app, json!({"buy_now_price": 30_000}), &[100_000]).await;
    let buyer = &bidders[0];
    let mut ws = bidder_socket(&app, buyer, id).await;
    let frame =
        json!({"event": "buy_now", "room": id.to_string(), "price": 30_000, "ref": "buy-1"});
    let bought = answer(&mut ws, frame.clone()).await;
    assert_eq!(bought["code"], "bought");
    let again = answer(&mut ws, resent(&frame)).await;
    assert_eq!(
        (again["code"].as_str(), again["replayed"].as_bool()),
        (Some("bought"), Some(true))
    );
    assert_eq!(again["sale_id"], bought["sale_id"]);
    assert_eq!(again["bid_seq"], bought["bid_seq"]);
    let other = answer(
        &mut ws,
        json!({"event": "buy_now", "room": id.to_string(), "price": 31_000, "ref": "buy-1", "resend": true}),
    )
    .await;
    assert_eq!(other["code"], "ref_reused");
    let balance = expect_json(
        app.get("/api/v1/me/balance", Some(&buyer.access_token))
            .await,
        200,
    )
    .await;
    // Paid once, into one escrow.
    assert_eq!(balance["balance"], 70_000);
}

/// The instance that took the bid died before answering; the client fails
/// over to another and sends the frame again: the other instance answers
/// from the stored bid.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_re_sent_to_another_instance_is_answered_from_the_first() {
    let app = TestApp::spawn().await;
    let peer = app.spawn_peer().await;
    let (_, id, bidders) = auction_with_bidders(&app, json!({}), &[100_000]).await;
    let bidder = &bidders[0];
    let frame =
        json!({"event": "bid", "room": id.to_string(), "amount": 12_000, "ref": "fail-over"});
    let first = answer(&mut bidder_socket(&app, bidder, id).await, frame.clone()).await;
    assert_eq!(first["code"], "bid_accepted");
    let again = answer(&mut bidder_socket(&peer, bidder, id).await, resent(&frame)).await;
    assert_eq!(
        (again["replayed"].as_bool(), again["bid_seq"].as_i64()),
        (Some(true), first["bid_seq"].as_i64())
    );
    assert_eq!(bid_count(&peer, id).await, 1);
    assert_eq!(held(&peer, bidder).await, 12_000);
}
