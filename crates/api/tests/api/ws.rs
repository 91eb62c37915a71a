use serde_json::{Value, json};
use sitga_testkit::TestApp;
use tokio_tungstenite::tungstenite::Message;

async fn setup(
    app: &TestApp,
) -> (
    sitga_testkit::TestUser,
    sitga_testkit::TestUser,
    sitga_testkit::TestUser,
    i64,
) {
    let seller = app.user().nickname("seller").create().await;
    let alice = app.user().nickname("alice").create().await;
    let bob = app.user().nickname("bob").create().await;
    app.charge(&alice, 100_000).await;
    app.charge(&bob, 100_000).await;
    let id = app.open_auction(&seller, 10_000, json!({})).await["id"]
        .as_i64()
        .unwrap();
    (seller, alice, bob, id)
}

#[tokio::test]
async fn two_bidders_in_a_room_see_the_same_ordered_frames() {
    let app = TestApp::spawn().await;
    let (_seller, alice, bob, id) = setup(&app).await;
    let room = id.to_string();
    let mut a = app.ws(Some(&alice.access_token)).await;
    let mut b = app.ws(Some(&bob.access_token)).await;
    let mut watcher = app.ws(None).await;

    let state = a.join(id).await;
    assert_eq!(state["min_next_bid"], 10_000);
    assert!(state["server_now"].as_i64().unwrap() > 0);
    assert!(state.get("seq").is_none(), "private frames carry no seq");
    b.join(id).await;
    let joined = a
        .until(|f| f["event"] == "message" && f["code"] == "joined" && f["user"] == "bob")
        .await;
    assert_eq!(joined["context"], "bob님이 경매에 참여하였습니다.");
    // The watcher joins once bob's notice has gone out (through Redis it
    // can arrive after a quick join), so its frames start after it.
    watcher.join(id).await;

    // A chat line that is a bid, in the original's forms.
    a.send(json!({"event": "message", "room": room, "message": "#10,000원"}))
        .await;
    let ack = a.until_system("bid_accepted").await;
    assert_eq!(ack["amount"], 10_000);
    b.send(json!({"event": "bid", "room": room, "amount": 12_000, "ref": "b-1"}))
        .await;
    let ack = b.until_system("bid_accepted").await;
    assert_eq!(ack["ref"], "b-1");
    // Too low: only the requester hears about it, with the Korean text.
    a.send(json!({"event": "message", "room": room, "message": "#12500"}))
        .await;
    let refused = a.until_system("bid_too_low").await;
    assert_eq!(refused["min_next_bid"], 13_000);
    assert_eq!(
        refused["context"],
        "12500로 입찰실패하였습니다. 금액을 확인 후 시도해 주세요."
    );
    a.send(json!({"event": "message", "room": room, "message": "#abc"}))
        .await;
    let nan = a.until_system("not_a_number").await;
    assert_eq!(nan["context"], "숫자값을 입력하세요");
    a.send(json!({"event": "message", "room": room, "message": "좋은 고기네요 🐟"}))
        .await;

    // Every client sees the same numbered room frames in the same order.
    for client in [&mut a, &mut b, &mut watcher] {
        client
            .until(|f| f["event"] == "message" && f["code"] == "chat")
            .await;
    }
    let numbered = |client: &sitga_testkit::WsClient| -> Vec<(i64, String)> {
        client
            .received
            .iter()
            .filter_map(|f| Some((f["seq"].as_i64()?, format!("{}:{}", f["event"], f["code"]))))
            .collect()
    };
    let (sa, sb, sw) = (numbered(&a), numbered(&b), numbered(&watcher));
    for frames in [&sa, &sb, &sw] {
        assert!(
            frames.windows(2).all(|w| w[1].0 == w[0].0 + 1),
            "seq gap-free: {frames:?}"
        );
    }
    // The watcher joined last: its frames are the common tail of the others'.
    assert!(
        sa.ends_with(&sw) && sb.ends_with(&sw),
        "{sa:?}\n{sb:?}\n{sw:?}"
    );
    let events: Vec<&str> = sw.iter().map(|(_, e)| e.as_str()).collect();
    assert_eq!(
        events,
        [
            "\"message\":\"bid_accepted\"",
            "\"state\":null",
            "\"message\":\"bid_accepted\"",
            "\"state\":null",
            "\"message\":\"chat\""
        ]
    );

    // History, to the requester only, in order.
    watcher
        .send(json!({"event": "getmessage", "room": room}))
        .await;
    let history = watcher.until_system("history").await;
    let texts: Vec<&str> = history["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["context"].as_str().unwrap())
        .collect();
    assert_eq!(
        texts,
        [
            "alice님이 10000로 성공적으로 입찰하였습니다.",
            "bob님이 12000로 성공적으로 입찰하였습니다.",
            "좋은 고기네요 🐟"
        ]
    );
    let first_id = history["messages"][1]["id"].as_i64().unwrap();
    watcher
        .send(json!({"event": "getmessage", "room": id, "before": first_id}))
        .await;
    let older = watcher.until_system("history").await;
    assert_eq!(older["messages"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn anonymous_and_seller_and_closed_rules() {
    let app = TestApp::spawn().await;
    let (seller, alice, _bob, id) = setup(&app).await;
    let room = id.to_string();
    let mut anon = app.ws(None).await;
    anon.join(id).await;
    anon.send(json!({"event": "message", "room": room, "message": "hello"}))
        .await;
    let refused = anon.until_system("auth_required").await;
    assert_eq!(refused["context"], "올바른 사용자가 아닙니다.");
    anon.send(json!({"event": "bid", "room": room, "amount": 20_000}))
        .await;
    anon.until_system("auth_required").await;

    let mut s = app.ws(Some(&seller.access_token)).await;
    s.join(id).await;
    s.send(json!({"event": "bid", "room": room, "amount": 20_000}))
        .await;
    s.until_system("seller_cannot_bid").await;

    let mut a = app.ws(Some(&alice.access_token)).await;
    a.send(json!({"event": "bid", "room": room, "amount": 20_000}))
        .await;
    a.until_system("not_joined").await;
    a.join(id).await;
    a.send(json!({"event": "bid", "room": room, "amount": 20_000}))
        .await;
    a.until_system("bid_accepted").await;

    // The seller closes early: everyone in the room gets `closed`.
    let res = app
        .send(
            reqwest::Method::POST,
            &format!("/api/v1/auctions/{id}/close"),
            Some(&seller.access_token),
            None,
        )
        .await;
    assert_eq!(res.status(), 200);
    let closed = anon.until(|f| f["event"] == "closed").await;
    assert_eq!(closed["status"], "sold");
    assert_eq!(closed["winner"], "alice");
    assert_eq!(closed["price"], 20_000);
    a.send(json!({"event": "bid", "room": room, "amount": 30_000}))
        .await;
    a.until_system("auction_not_open").await;
    a.send(json!({"event": "message", "room": room, "message": "늦었네"}))
        .await;
    a.until_system("auction_not_open").await;
}

#[tokio::test]
async fn bad_frames_get_system_errors_and_the_connection_stays() {
    let app = TestApp::spawn().await;
    let (_seller, alice, _bob, id) = setup(&app).await;
    let mut a = app.ws(Some(&alice.access_token)).await;
    let cases: Vec<(Message, &str)> = vec![
        (Message::text("not json"), "malformed_json"),
        (Message::text("[1,2]"), "missing_event"),
        (Message::text(r#"{"event":"dance"}"#), "unknown_event"),
        (Message::text(r#"{"event":"join"}"#), "invalid_frame"),
        (
            Message::text(r#"{"event":"join","room":"abc"}"#),
            "invalid_room",
        ),
        (
            Message::text(r#"{"event":"join","room":-3}"#),
            "invalid_room",
        ),
        (
            Message::text(r#"{"event":"join","room":"999999"}"#),
            "not_found",
        ),
        (
            Message::text(r#"{"event":"bid","room":"1","amount":"lots"}"#),
            "invalid_amount",
        ),
        (
            Message::text(r#"{"event":"leave","room":"1"}"#),
            "not_joined",
        ),
        (Message::binary(vec![1u8, 2, 3]), "binary_not_supported"),
    ];
    for (frame, code) in cases {
        a.send_raw(frame).await;
        let reply = a.until(|f| f["event"] == "system").await;
        assert_eq!(reply["code"], code, "{reply}");
    }
    a.join(id).await;
    let long = "가".repeat(1_001);
    a.send(json!({"event": "message", "room": id, "message": long}))
        .await;
    a.until_system("message_too_long").await;
    a.send(json!({"event": "message", "room": id, "message": "   "}))
        .await;
    a.until_system("empty_message").await;
    // Still serving.
    a.send(json!({"event": "bid", "room": id, "amount": 10_000}))
        .await;
    a.until_system("bid_accepted").await;
}

#[tokio::test]
async fn oversized_frames_close_and_rate_limits_answer() {
    let app = TestApp::spawn().await;
    let (_seller, alice, _bob, id) = setup(&app).await;
    let mut a = app.ws(Some(&alice.access_token)).await;
    a.join(id).await;
    for i in 0..40 {
        a.send(json!({"event": "getmessage", "room": id, "n": i}))
            .await;
    }
    a.until_system("rate_limited").await;

    let mut big = app.ws(Some(&alice.access_token)).await;
    big.send_raw(Message::text("x".repeat(100_000))).await;
    // The server closes a connection that sends a frame over the limit.
    let mut closed = false;
    for _ in 0..5 {
        if big.next().await.is_none() {
            closed = true;
            break;
        }
    }
    assert!(closed);
}

#[tokio::test]
async fn tokens_are_checked_at_upgrade() {
    let app = TestApp::spawn().await;
    let alice = app.user().create().await;
    assert!(
        app.try_ws(Some("garbage"), false).await.is_err(),
        "bad token: upgrade refused"
    );
    assert!(
        app.try_ws(Some(&app.expired_token(alice.id)), true)
            .await
            .is_err()
    );
    assert!(
        app.try_ws(Some(&alice.access_token), true).await.is_ok(),
        "token in the query string"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_reader_is_disconnected_without_slowing_the_room() {
    let app = TestApp::spawn().await;
    let (_seller, _alice, _bob, id) = setup(&app).await;
    let mut slow = app.ws(None).await;
    slow.join(id).await;
    let mut fast = app.ws(None).await;
    fast.join(id).await;
    // A burst far larger than socket buffers plus the room buffer: 3,000
    // frames of ~4 KB. The slow client reads nothing meanwhile.
    let body = "가".repeat(1_300);
    let publisher = {
        let bus = app.state().bus.clone();
        tokio::spawn(async move {
            for i in 0..3_000 {
                let chat = sitga_realtime::frames::ServerFrame::chat(i, "flood", &body);
                bus.publish(id.into(), &chat).await;
                if i % 100 == 0 {
                    tokio::task::yield_now().await;
                }
            }
        })
    };
    // The fast reader gets every frame, in order.
    let mut expected = 0;
    while expected < 3_000 {
        let f = fast.next().await.expect("fast client kept");
        if f["code"] == "chat" && f["id"].as_i64() == Some(expected) {
            expected += 1;
        }
    }
    publisher.await.unwrap();
    // The slow one was cut off (1008, "too slow") before the end.
    let closed = slow
        .close_frame(std::time::Duration::from_secs(10))
        .await
        .expect("a close frame, not a dropped connection");
    assert_eq!(closed.0, 1008, "{closed:?}");
    assert!(closed.1.starts_with("too slow"), "{closed:?}");
    let last = slow
        .received
        .iter()
        .filter(|f| f["code"] == "chat")
        .filter_map(|f| f["id"].as_i64())
        .max();
    assert!(
        last < Some(2_999),
        "slow client received everything: not disconnected"
    );
}

#[tokio::test]
async fn an_expiring_token_ends_the_session() {
    let app = TestApp::spawn().await;
    let (_seller, alice, _bob, id) = setup(&app).await;
    let mut a = app.ws(Some(&app.token_expiring_in(&alice, 2))).await;
    a.join(id).await;
    let started = std::time::Instant::now();
    while a.next().await.is_some() {}
    let waited = started.elapsed();
    assert!(
        waited >= std::time::Duration::from_millis(500),
        "closed too early: {waited:?}"
    );
    assert!(
        waited < std::time::Duration::from_secs(9),
        "not closed at expiry: {waited:?}"
    );
}

/// 10,000 malformed, oversized, out-of-order and wrong-type frames: each is
/// answered by a `system` error (or, for oversized ones, a clean close), and
/// the room still serves honest clients afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_fuzz_ten_thousand_bad_frames() {
    let app = TestApp::builder()
        .ws_frames_per_second(100_000)
        .spawn()
        .await;
    let (_seller, alice, bob, id) = setup(&app).await;
    let room = id.to_string();
    let bad: Vec<Message> = vec![
        Message::text("{"),
        Message::text("null"),
        Message::text("\"join\""),
        Message::text("[{\"event\":\"join\"}]"),
        Message::text(r#"{"event":"JOIN","room":"1"}"#),
        Message::text(r#"{"event":"bid","room":"1","amount":1e999}"#),
        Message::text(r#"{"event":"bid","room":"1","amount":-5}"#),
        Message::text(r#"{"event":"bid","room":{"nested":true},"amount":100}"#),
        Message::text(r#"{"event":"bid","room":"9999999999999999999999","amount":100}"#),
        Message::text(
            json!({"event": "message", "room": room, "message": "#not a number"}).to_string(),
        ),
        Message::text(format!(
            r#"{{"event":"message","room":"{room}","message":"hi"}}"#
        )), // not joined yet
        Message::text(format!(r#"{{"event":"leave","room":"{room}"}}"#)), // out of order
        Message::text(format!(
            r#"{{"event":"getmessage","room":"{room}","before":"yesterday"}}"#
        )),
        Message::text("\u{0}\u{1}\u{2}"),
        Message::binary(vec![0xff; 64]),
    ];
    let mut client = app.ws(Some(&alice.access_token)).await;
    let mut answered = 0;
    let mut closes = 0;
    for i in 0..10_000 {
        if i % 1_000 == 999 {
            // Oversized: the server closes; reconnect and go on.
            client
                .send_raw(Message::text(
                    "x".repeat(sitga_api::ws::MAX_FRAME_BYTES + 10),
                ))
                .await;
            while client.next().await.is_some() {}
            closes += 1;
            client = app.ws(Some(&alice.access_token)).await;
            continue;
        }
        client.send_raw(bad[i % bad.len()].clone()).await;
        let reply = client.until(|f| f["event"] == "system").await;
        assert!(reply["code"].is_string(), "{reply}");
        answered += 1;
    }
    assert_eq!(answered + closes, 10_000);
    // Honest clients are still served, in the same room.
    let mut b = app.ws(Some(&bob.access_token)).await;
    b.join(id).await;
    b.send(json!({"event": "bid", "room": room, "amount": 10_000}))
        .await;
    b.until_system("bid_accepted").await;
    let health = app.get("/health", None).await;
    assert_eq!(health.status(), 200);
}

/// The HTTP status and error code of a refused upgrade.
async fn refused_upgrade(app: &TestApp, token: Option<&str>) -> (u16, String) {
    match app.try_ws(token, false).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            let body: Value =
                serde_json::from_slice(response.body().as_deref().unwrap_or_default()).unwrap();
            (
                response.status().as_u16(),
                body["error"].as_str().unwrap().to_owned(),
            )
        }
        Ok(_) => panic!("the upgrade was accepted"),
        Err(e) => panic!("unexpected error {e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sockets_are_capped_per_account_and_per_address() {
    let app = TestApp::builder().ws_sockets(2, 4).spawn().await;
    let alice = app.user().nickname("alice").create().await;
    let bob = app.user().nickname("bob").create().await;
    let first = app.ws(Some(&alice.access_token)).await;
    let _second = app.ws(Some(&alice.access_token)).await;
    assert_eq!(
        refused_upgrade(&app, Some(&alice.access_token)).await,
        (429, "too_many_connections".to_owned())
    );
    // Another account from the same address still fits (3 of 4)…
    let _bob = app.ws(Some(&bob.access_token)).await;
    let _watcher = app.ws(None).await;
    // …and then the address is full, signed in or not.
    assert_eq!(
        refused_upgrade(&app, None).await,
        (429, "too_many_connections".to_owned())
    );
    // A closed socket gives its place back.
    drop(first);
    let mut reopened = None;
    for _ in 0..50 {
        if let Ok(ws) = app.try_ws(Some(&alice.access_token), false).await {
            reopened = Some(ws);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(reopened.is_some(), "the place was not given back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_account_chats_at_one_rate_across_its_sockets() {
    let app = TestApp::builder()
        .ws_account_messages_per_second(2)
        .spawn()
        .await;
    let (_seller, alice, _bob, id) = setup(&app).await;
    let room = id.to_string();
    let mut sockets = Vec::new();
    for _ in 0..3 {
        let mut ws = app.ws(Some(&alice.access_token)).await;
        ws.join(id).await;
        sockets.push(ws);
    }
    // Each socket alone is far below its own 10 frames/s; together they
    // are over the account's 2/s (burst 4).
    for i in 0..9 {
        let ws = &mut sockets[i % 3];
        ws.send(json!({"event": "message", "room": room, "message": format!("안녕 {i}")}))
            .await;
    }
    let mut refused = 0;
    for ws in &mut sockets {
        ws.drain(std::time::Duration::from_millis(500)).await;
        refused += ws
            .received
            .iter()
            .filter(|f| f["event"] == "system" && f["code"] == "rate_limited")
            .count();
    }
    let chats = sockets[0]
        .received
        .iter()
        .filter(|f| f["event"] == "message" && f["code"] == "chat")
        .count();
    assert!(
        (4..=5).contains(&refused),
        "about 5 of 9 lines refused, got {refused}"
    );
    assert_eq!(chats + refused, 9, "every line was either said or refused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_view_counts_once_per_socket_and_auction() {
    let app = TestApp::spawn().await;
    let (_seller, _alice, _bob, id) = setup(&app).await;
    let room = id.to_string();
    let mut watcher = app.ws(None).await;
    for _ in 0..5 {
        watcher.join(id).await;
        watcher.send(json!({"event": "leave", "room": room})).await;
    }
    watcher.join(id).await;
    // Read from the database: a GET of the auction counts a view itself.
    let views = || async {
        let mut conn = app.db.get().await.unwrap();
        sitga_persistence::auctions::find(&mut conn, id.into())
            .await
            .unwrap()
            .unwrap()
            .view_count
    };
    assert_eq!(views().await, 1);
    let mut other = app.ws(None).await;
    other.join(id).await;
    assert_eq!(views().await, 2);
}

/// Logging out closes the session's sockets at once (not at the token's
/// expiry), and the token no longer opens new ones; another session of the
/// same user is untouched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_closes_the_sessions_sockets_at_once() {
    let app = TestApp::spawn().await;
    let (_seller, alice, _bob, id) = setup(&app).await;
    let phone = app.login(&alice.email, &alice.password).await;
    let mut laptop_ws = app.ws(Some(&alice.access_token)).await;
    let mut phone_ws = app.ws(phone["access_token"].as_str()).await;
    laptop_ws.join(id).await;
    phone_ws.join(id).await;
    let started = std::time::Instant::now();
    let out = app
        .post_json(
            "/api/v1/auth/logout",
            &json!({"refresh_token": alice.refresh_token}),
        )
        .await;
    assert_eq!(out.status(), 204);
    // The laptop's socket closes within a second.
    laptop_ws
        .expect_closed_within(std::time::Duration::from_secs(1))
        .await;
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    let (status, code) = refused_upgrade(&app, Some(&alice.access_token)).await;
    assert_eq!((status, code.as_str()), (401, "session_revoked"));
    // The phone's session goes on: it can still chat.
    let room = id.to_string();
    phone_ws
        .send(json!({"event": "message", "room": room, "message": "still here"}))
        .await;
    phone_ws
        .until(|f| f["event"] == "message" && f["code"] == "chat")
        .await;
}

/// A client's text frame as RFC 6455 wants it: final, masked.
fn masked_text(json: &str) -> Vec<u8> {
    let payload = json.as_bytes();
    assert!(payload.len() < 126, "a short frame");
    let mask = [0x37, 0xfa, 0x21, 0x3d];
    let mut frame = vec![0x81, 0x80 | payload.len() as u8];
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    frame
}

/// The complete text frames at the start of `bytes` (a server's,
/// unmasked).
fn server_texts(bytes: &[u8]) -> Vec<String> {
    let (mut texts, mut at) = (Vec::new(), 0);
    while bytes.len() >= at + 2 {
        let (opcode, short) = (bytes[at] & 0x0f, usize::from(bytes[at + 1] & 0x7f));
        let (len, head) = match short {
            126 if bytes.len() >= at + 4 => (
                usize::from(u16::from_be_bytes([bytes[at + 2], bytes[at + 3]])),
                4,
            ),
            126 | 127 => break,
            n => (n, 2),
        };
        if bytes.len() < at + head + len {
            break;
        }
        if opcode == 1 {
            texts.push(String::from_utf8(bytes[at + head..at + head + len].to_vec()).unwrap());
        }
        at += head + len;
    }
    texts
}

#[tokio::test]
async fn a_frame_sent_in_the_same_packet_as_the_upgrade_is_read() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::spawn().await;
    let (_seller, _alice, _bob, id) = setup(&app).await;
    let host = app.address.trim_start_matches("http://");
    let mut socket = tokio::net::TcpStream::connect(host).await.unwrap();
    // The join rides behind the request head in one write: the server has
    // it in hand before it answers the upgrade.
    let mut first = format!(
        "GET /ws HTTP/1.1\r\nHost: {host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    )
    .into_bytes();
    first.extend(masked_text(
        &json!({"event": "join", "room": id.to_string()}).to_string(),
    ));
    socket.write_all(&first).await.unwrap();

    let mut read = Vec::new();
    let state = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        loop {
            let mut chunk = [0u8; 4096];
            let n = socket.read(&mut chunk).await.unwrap();
            assert!(n > 0, "closed early: {}", String::from_utf8_lossy(&read));
            read.extend_from_slice(&chunk[..n]);
            let Some(end) = read.windows(4).position(|w| w == b"\r\n\r\n") else {
                continue;
            };
            let texts = server_texts(&read[end + 4..]);
            if let Some(state) = texts
                .iter()
                .map(|t| serde_json::from_str::<Value>(t).unwrap())
                .find(|f| f["event"] == "state")
            {
                return (String::from_utf8_lossy(&read[..end]).into_owned(), state);
            }
        }
    })
    .await
    .expect("the joined room's state within 10 s");
    let (head, state) = state;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo="),
        "RFC 6455's sample key and answer: {head}"
    );
    assert_eq!(state["room"], id.to_string());
}

#[tokio::test]
async fn a_websocket_upgrade_elsewhere_gets_the_plain_answer_and_a_close() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::spawn().await;
    let host = app.address.trim_start_matches("http://");
    // The HTTP dispatcher hands every WebSocket upgrade over, whatever its
    // path: each gets its plain answer, then the connection ends.
    for (path, status) in [("/health", "200"), ("/nowhere", "404")] {
        let mut socket = tokio::net::TcpStream::connect(host).await.unwrap();
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n"
        );
        socket.write_all(request.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        tokio::time::timeout(
            std::time::Duration::from_secs(10),
            socket.read_to_end(&mut answer),
        )
        .await
        .expect("the server closes the connection after its answer")
        .unwrap();
        let answer = String::from_utf8(answer).unwrap();
        let (head, body) = answer.split_once("\r\n\r\n").unwrap();
        assert!(
            head.starts_with(&format!("HTTP/1.1 {status}")),
            "{path}: {head}"
        );
        assert!(
            head.to_ascii_lowercase().contains("connection: close"),
            "{path}: {head}"
        );
        let body: Value = serde_json::from_str(body).unwrap();
        if status == "200" {
            assert_eq!(body["status"], "ok");
        } else {
            assert_eq!(body["error"], "not_found", "{body}");
        }
    }
}
