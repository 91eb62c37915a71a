//! From the hammer to the handover: the winner's points wait in the sale's
//! escrow; details, shipping or pickup, confirmation or the handover code,
//! disputes, deadlines and ratings move them exactly once.

use chrono::{Duration, Utc};
use reqwest::Method;
use serde_json::{Value, json};
use sitga_auction::Krw;
use sitga_persistence::{sales as stored_sales, wallets};
use sitga_realtime::sales::{Asker, SaleRequest};
use sitga_testkit::{TestApp, TestUser, expect_error, expect_json};
use sitga_user::Role;

async fn post(app: &TestApp, path: &str, user: &TestUser, body: Value) -> reqwest::Response {
    app.send(Method::POST, path, Some(&user.access_token), Some(body))
        .await
}

async fn sale(app: &TestApp, id: i64, user: &TestUser) -> Value {
    expect_json(
        app.get(&format!("/api/v1/sales/{id}"), Some(&user.access_token))
            .await,
        200,
    )
    .await
}

async fn balance(app: &TestApp, user: &TestUser) -> i64 {
    expect_json(
        app.get("/api/v1/me/balance", Some(&user.access_token))
            .await,
        200,
    )
    .await["balance"]
        .as_i64()
        .unwrap()
}

fn events(sale: &Value) -> Vec<&str> {
    sale["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect()
}

/// Every point there is: the wallets and the escrows.
async fn points(app: &TestApp) -> Krw {
    let mut conn = app.db.get().await.unwrap();
    let (balances, _) = wallets::totals(&mut conn).await.unwrap();
    balances + stored_sales::escrowed(&mut conn).await.unwrap()
}

/// The buyer chooses pickup and the seller has it ready; returns the
/// handover code only the buyer sees.
async fn ready_for_pickup(app: &TestApp, id: i64, seller: &TestUser, buyer: &TestUser) -> String {
    let path = |step: &str| format!("/api/v1/sales/{id}/{step}");
    let pickup = json!({"delivery": "pickup"});
    expect_json(post(app, &path("details"), buyer, pickup).await, 200).await;
    expect_json(post(app, &path("ship"), seller, json!({})).await, 200).await;
    sale(app, id, buyer).await["handover_code"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn pickup_only() -> Value {
    json!({"delivery": {"pickup": {"province": "jeju", "place": "도두항 방파제 입구"}}})
}

fn pickup_or_courier(fee: i64) -> Value {
    json!({"delivery": {
        "pickup": {"province": "busan", "place": "기장 대변항"},
        "courier": {"fee": fee}
    }})
}

#[tokio::test]
async fn a_pickup_settles_when_the_seller_enters_the_buyers_code() {
    let app = TestApp::spawn().await;
    let seller = app.user().create().await;
    let buyer = app.user().create().await;
    let stranger = app.user().create().await;
    let auction = app.open_auction(&seller, 20_000, pickup_only()).await;
    let auction_id = auction["id"].as_i64().unwrap();
    app.charge(&buyer, 25_000).await;
    assert_eq!(app.bid(&buyer, auction_id, 20_000).await.status(), 201);
    let mut room = app.ws(None).await;
    room.join(auction_id).await;
    app.state()
        .closer
        .close(auction_id.into(), true)
        .await
        .unwrap();
    let closed = room.until(|f| f["event"] == "closed").await;
    let id = closed["sale_id"]
        .as_i64()
        .expect("the closed frame names the sale");
    assert_eq!(closed["price"], 20_000);
    assert!(
        closed["context"].as_str().unwrap().contains("에스크로"),
        "the room is told the price waits in escrow"
    );

    let first = sale(&app, id, &buyer).await;
    assert_eq!(
        (
            first["state"].as_str(),
            first["escrow"].as_i64(),
            first["role"].as_str()
        ),
        (Some("awaiting_details"), Some(20_000), Some("buyer"))
    );
    assert_eq!(
        (
            first["offers_pickup"].as_bool(),
            first["courier_fee"].is_null()
        ),
        (Some(true), true)
    );
    assert!(first["deadline"].is_string());
    assert_eq!(
        balance(&app, &seller).await,
        0,
        "not paid before the handover"
    );
    assert_eq!(balance(&app, &buyer).await, 5_000);

    let path = |step: &str| format!("/api/v1/sales/{id}/{step}");
    // Somebody else's sale does not exist for them.
    expect_error(
        app.get(&format!("/api/v1/sales/{id}"), Some(&stranger.access_token))
            .await,
        404,
        "not_found",
    )
    .await;
    expect_error(
        post(&app, &path("confirm"), &stranger, json!({})).await,
        404,
        "not_found",
    )
    .await;
    // Out of turn, out of options, the wrong side.
    expect_error(
        post(&app, &path("ship"), &seller, json!({})).await,
        409,
        "wrong_sale_state",
    )
    .await;
    expect_error(
        post(
            &app,
            &path("details"),
            &seller,
            json!({"delivery": "pickup"}),
        )
        .await,
        403,
        "not_allowed",
    )
    .await;
    let address = json!({"recipient": "김민수", "phone": "010-1234-5678", "postcode": "63122", "line1": "제주시 첨단로 242"});
    expect_error(
        post(
            &app,
            &path("details"),
            &buyer,
            json!({"delivery": "courier", "address": address}),
        )
        .await,
        409,
        "delivery_not_offered",
    )
    .await;
    let with_address = expect_error(
        post(
            &app,
            &path("details"),
            &buyer,
            json!({"delivery": "pickup", "address": address}),
        )
        .await,
        400,
        "validation_failed",
    )
    .await;
    assert_eq!(with_address["field"], "address");
    expect_error(
        post(&app, &path("details"), &buyer, json!({"delivery": "drone"})).await,
        400,
        "validation_failed",
    )
    .await;

    let waiting = expect_json(
        post(
            &app,
            &path("details"),
            &buyer,
            json!({"delivery": "pickup"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(waiting["state"], "awaiting_shipment");
    let ready = expect_json(post(&app, &path("ship"), &seller, json!({})).await, 200).await;
    assert_eq!(ready["state"], "ready_for_pickup");
    assert!(
        ready["handover_code"].is_null(),
        "the seller never sees the code"
    );
    let code = sale(&app, id, &buyer).await["handover_code"]
        .as_str()
        .expect("the buyer holds the code")
        .to_owned();
    assert_eq!(code.len(), 6);
    let wrong = if code == "000000" { "111111" } else { "000000" };
    expect_error(
        post(&app, &path("handover"), &seller, json!({"code": wrong})).await,
        403,
        "wrong_handover_code",
    )
    .await;
    expect_error(
        post(&app, &path("handover"), &seller, json!({"code": "12ab56"})).await,
        400,
        "validation_failed",
    )
    .await;
    let settled = expect_json(
        post(&app, &path("handover"), &seller, json!({"code": code})).await,
        200,
    )
    .await;
    assert_eq!(
        (
            settled["state"].as_str(),
            settled["escrow"].as_i64(),
            settled["to_seller"].as_i64(),
            settled["to_buyer"].as_i64()
        ),
        (Some("settled"), Some(0), Some(20_000), Some(0))
    );
    assert_eq!(
        events(&settled),
        [
            "awaiting_details",
            "awaiting_shipment",
            "ready_for_pickup",
            "handover_failed",
            "received",
            "settled"
        ]
    );
    assert_eq!(balance(&app, &seller).await, 20_000);
    expect_error(
        post(&app, &path("confirm"), &buyer, json!({})).await,
        409,
        "wrong_sale_state",
    )
    .await;
    let purchases = expect_json(
        app.get("/api/v1/me/purchases", Some(&buyer.access_token))
            .await,
        200,
    )
    .await;
    assert_eq!(
        (
            purchases[0]["sale_id"].as_i64(),
            purchases[0]["state"].as_str()
        ),
        (Some(id), Some("settled"))
    );
    assert_eq!(points(&app).await, Krw::new(25_000), "money conserved");

    // Ratings: each side once, after settlement, on the public profile.
    let rated = expect_json(
        post(
            &app,
            &path("rating"),
            &buyer,
            json!({"stars": 5, "comment": "싱싱하고 친절했어요"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(rated["rated"], true);
    expect_error(
        post(&app, &path("rating"), &buyer, json!({"stars": 1})).await,
        409,
        "already_rated",
    )
    .await;
    expect_error(
        post(&app, &path("rating"), &seller, json!({"stars": 6})).await,
        400,
        "validation_failed",
    )
    .await;
    expect_error(
        post(&app, &path("rating"), &stranger, json!({"stars": 1})).await,
        404,
        "not_found",
    )
    .await;
    expect_json(
        post(&app, &path("rating"), &seller, json!({"stars": 4})).await,
        200,
    )
    .await;
    let profile = expect_json(
        app.get(&format!("/api/v1/users/{}", seller.nickname), None)
            .await,
        200,
    )
    .await;
    assert_eq!(
        (
            profile["rating_count"].as_i64(),
            profile["rating_average"].as_f64()
        ),
        (Some(1), Some(5.0))
    );
    assert_eq!(profile["ratings"][0]["comment"], "싱싱하고 친절했어요");
    assert_eq!(profile["ratings"][0]["by"], buyer.nickname.as_str());
    assert!(profile.get("email").is_none());
    expect_error(
        app.get("/api/v1/users/nobody-here", None).await,
        404,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn a_courier_sale_escrows_the_fee_and_only_the_seller_sees_the_address() {
    let app = TestApp::spawn().await;
    let seller = app.user().create().await;
    let buyer = app.user().create().await;
    let (auction_id, id) = app
        .sell(&seller, &buyer, 30_000, 3_000, pickup_or_courier(4_000))
        .await;
    let path = |step: &str| format!("/api/v1/sales/{id}/{step}");
    let missing = expect_error(
        post(
            &app,
            &path("details"),
            &buyer,
            json!({"delivery": "courier"}),
        )
        .await,
        400,
        "validation_failed",
    )
    .await;
    assert_eq!(missing["field"], "address");
    let bad_phone = expect_error(
        post(
            &app,
            &path("details"),
            &buyer,
            json!({"delivery": "courier", "address": {"recipient": "김민수", "phone": "12345", "postcode": "48060", "line1": "해운대구 우동 1"}}),
        )
        .await,
        400,
        "validation_failed",
    )
    .await;
    assert_eq!(bad_phone["field"], "address.phone");
    // Three thousand won available: the four thousand fee does not fit.
    app.charge(&buyer, 1_000 - 1).await;
    let address = json!({"recipient": "김민수", "phone": "010-9876-5432", "postcode": "48060", "line1": "해운대구 우동 1", "line2": "101동 202호"});
    expect_error(
        post(
            &app,
            &path("details"),
            &buyer,
            json!({"delivery": "courier", "address": address}),
        )
        .await,
        409,
        "insufficient_balance",
    )
    .await;
    app.charge(&buyer, 1).await;
    let waiting = expect_json(
        post(
            &app,
            &path("details"),
            &buyer,
            json!({"delivery": "courier", "address": address}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(
        (waiting["escrow"].as_i64(), waiting["fee_paid"].as_i64()),
        (Some(34_000), Some(4_000))
    );
    assert_eq!(balance(&app, &buyer).await, 0);
    assert!(waiting["address"].is_null(), "not even echoed to the buyer");

    let for_seller = sale(&app, id, &seller).await;
    assert_eq!(for_seller["address"]["phone"], "01098765432");
    assert_eq!(for_seller["address"]["line2"], "101동 202호");
    // Nowhere else: not the auction, not the lists.
    for (url, token) in [
        (format!("/api/v1/auctions/{auction_id}"), None),
        ("/api/v1/me/purchases".to_owned(), Some(&buyer.access_token)),
        ("/api/v1/me/sales".to_owned(), Some(&seller.access_token)),
    ] {
        let body = app
            .get(&url, token.map(String::as_str))
            .await
            .text()
            .await
            .unwrap();
        assert!(
            !body.contains("98765432") && !body.contains("우동"),
            "{url}: {body}"
        );
    }

    expect_error(
        post(&app, &path("ship"), &seller, json!({})).await,
        409,
        "delivery_not_offered",
    )
    .await;
    expect_error(
        post(
            &app,
            &path("ship"),
            &seller,
            json!({"courier": "CJ대한통운", "tracking_number": "#1"}),
        )
        .await,
        400,
        "validation_failed",
    )
    .await;
    let shipped = expect_json(
        post(
            &app,
            &path("ship"),
            &seller,
            json!({"courier": "CJ대한통운", "tracking_number": "6012-3456-7890"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(shipped["state"], "shipped");
    assert_eq!(
        sale(&app, id, &buyer).await["tracking_number"],
        "6012-3456-7890"
    );
    let done = expect_json(post(&app, &path("confirm"), &buyer, json!({})).await, 200).await;
    assert_eq!(done["state"], "settled");
    assert_eq!(
        balance(&app, &seller).await,
        34_000,
        "the price and the fee"
    );
    assert_eq!(points(&app).await, Krw::new(34_000), "money conserved");
}

#[tokio::test]
async fn a_dispute_freezes_the_escrow_until_an_operator_splits_it() {
    let app = TestApp::spawn().await;
    let seller = app.user().create().await;
    let buyer = app.user().create().await;
    let admin = app.user().role(Role::Admin).create().await;
    let (_, id) = app.sell(&seller, &buyer, 20_000, 0, pickup_only()).await;
    let path = |step: &str| format!("/api/v1/sales/{id}/{step}");
    expect_error(
        post(
            &app,
            &path("dispute"),
            &buyer,
            json!({"reason": "아직 받지 못했어요"}),
        )
        .await,
        409,
        "wrong_sale_state",
    )
    .await;
    let code = ready_for_pickup(&app, id, &seller, &buyer).await;
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(sitga_photos::test_support::phone_photo(64, 48, 1))
            .file_name("spoiled.jpg")
            .mime_str("image/jpeg")
            .unwrap(),
    );
    let photo = expect_json(
        app.client
            .post(app.url("/api/v1/photos"))
            .bearer_auth(&buyer.access_token)
            .multipart(form)
            .send()
            .await
            .unwrap(),
        201,
    )
    .await;
    let photo_id = photo["id"].as_str().unwrap();
    expect_error(
        post(&app, &path("dispute"), &seller, json!({"reason": "x"})).await,
        403,
        "not_allowed",
    )
    .await;
    let disputed = expect_json(
        post(
            &app,
            &path("dispute"),
            &buyer,
            json!({"reason": "받아보니 상해 있었어요", "photo_ids": [photo_id]}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(disputed["state"], "disputed");
    assert_eq!(disputed["dispute_photos"][0]["id"], photo_id);
    // Frozen: no handover, no confirmation.
    expect_error(
        post(&app, &path("handover"), &seller, json!({"code": code})).await,
        409,
        "wrong_sale_state",
    )
    .await;
    expect_error(
        post(&app, &path("confirm"), &buyer, json!({})).await,
        409,
        "wrong_sale_state",
    )
    .await;

    let resolve = format!("/api/v1/admin/disputes/{id}/resolve");
    expect_error(
        post(&app, &resolve, &buyer, json!({"outcome": "refund"})).await,
        403,
        "forbidden",
    )
    .await;
    let queue = expect_json(
        app.get("/api/v1/admin/disputes", Some(&admin.access_token))
            .await,
        200,
    )
    .await;
    assert_eq!(
        (queue["total"].as_i64(), queue["items"][0]["id"].as_i64()),
        (Some(1), Some(id))
    );
    assert_eq!(queue["items"][0]["role"], "operator");
    assert!(queue["items"][0]["handover_code"].is_null());
    // An operator reads the sale too (and still not the code).
    assert!(sale(&app, id, &admin).await["handover_code"].is_null());
    for bad in [
        json!({"outcome": "split"}),
        json!({"outcome": "refund", "buyer_krw": 1}),
        json!({"outcome": "halve"}),
    ] {
        expect_error(
            post(&app, &resolve, &admin, bad).await,
            400,
            "validation_failed",
        )
        .await;
    }
    for whole in [0, 20_000] {
        expect_error(
            post(
                &app,
                &resolve,
                &admin,
                json!({"outcome": "split", "buyer_krw": whole}),
            )
            .await,
            422,
            "inconsistent_fields",
        )
        .await;
    }
    let split = expect_json(
        post(
            &app,
            &resolve,
            &admin,
            json!({"outcome": "split", "buyer_krw": 5_000}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(
        (
            split["state"].as_str(),
            split["to_buyer"].as_i64(),
            split["to_seller"].as_i64()
        ),
        (Some("settled"), Some(5_000), Some(15_000))
    );
    expect_error(
        post(&app, &resolve, &admin, json!({"outcome": "refund"})).await,
        409,
        "wrong_sale_state",
    )
    .await;
    assert_eq!(balance(&app, &buyer).await, 5_000);
    assert_eq!(balance(&app, &seller).await, 15_000);
    assert_eq!(points(&app).await, Krw::new(20_000));
    let audit = expect_json(
        app.get(
            "/api/v1/admin/audit?action=dispute_resolved",
            Some(&admin.access_token),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(audit["total"], 1);
    assert_eq!(audit["items"][0]["actor_id"], admin.id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deadlines_remind_cancel_and_confirm_each_sale_once() {
    let app = TestApp::spawn().await;
    let seller = app.user().create().await;
    let buyer = app.user().create().await;
    let sales = app.state().sales.clone();
    let as_seller = Asker {
        user: seller.id.into(),
        operator: false,
    };
    let as_buyer = Asker {
        user: buyer.id.into(),
        operator: false,
    };

    // A buyer who never gives details: reminded once after a day, then
    // the seller may call it off after two and the buyer gets it all back.
    let (_, silent) = app.sell(&seller, &buyer, 10_000, 0, pickup_only()).await;
    expect_error(
        post(
            &app,
            &format!("/api/v1/sales/{silent}/cancel"),
            &seller,
            json!({}),
        )
        .await,
        409,
        "deadline_not_passed",
    )
    .await;
    let now = Utc::now();
    assert_eq!(
        sales
            .tick(now + Duration::hours(12))
            .await
            .unwrap()
            .reminded,
        0
    );
    let ticks =
        futures_util::future::join_all((0..3).map(|_| sales.tick(now + Duration::hours(25)))).await;
    let reminded: usize = ticks.iter().map(|t| t.as_ref().unwrap().reminded).sum();
    assert_eq!(reminded, 1, "three instances remind the buyer once");
    let cancelled = sales
        .act(
            silent.into(),
            as_seller,
            SaleRequest::Cancel,
            now + Duration::days(2) + Duration::minutes(1),
        )
        .await
        .unwrap();
    assert_eq!(cancelled.state().code(), "cancelled");
    let shown = sale(&app, silent, &buyer).await;
    assert_eq!(
        events(&shown),
        ["awaiting_details", "reminded", "cancelled"]
    );
    assert_eq!(shown["to_buyer"], 10_000);
    assert_eq!(balance(&app, &buyer).await, 10_000);

    // Shipped and never confirmed: three days on it confirms itself, once,
    // however many ticks and a late confirmation race for it.
    let (_, quiet) = app
        .sell(&seller, &buyer, 12_000, 0, pickup_or_courier(0))
        .await;
    let path = |step: &str| format!("/api/v1/sales/{quiet}/{step}");
    expect_json(
        post(
            &app,
            &path("details"),
            &buyer,
            json!({"delivery": "courier", "address": {"recipient": "김민수", "phone": "01012345678", "postcode": "63122", "line1": "제주시 1"}}),
        )
        .await,
        200,
    )
    .await;
    expect_error(
        post(&app, &path("cancel"), &buyer, json!({})).await,
        409,
        "deadline_not_passed",
    )
    .await;
    expect_json(
        post(
            &app,
            &path("ship"),
            &seller,
            json!({"courier": "우체국택배", "tracking_number": "1234567890123"}),
        )
        .await,
        200,
    )
    .await;
    let later = Utc::now() + Duration::days(3) + Duration::minutes(1);
    assert_eq!(
        sales
            .tick(later - Duration::hours(2))
            .await
            .unwrap()
            .auto_confirmed,
        0,
        "not before the deadline"
    );
    let (ticks, confirm) = tokio::join!(
        futures_util::future::join_all((0..3).map(|_| sales.tick(later))),
        sales.act(quiet.into(), as_buyer, SaleRequest::Confirm, later),
    );
    let auto: usize = ticks
        .iter()
        .map(|t| t.as_ref().unwrap().auto_confirmed)
        .sum();
    assert_eq!(
        auto + usize::from(confirm.is_ok()),
        1,
        "exactly one of them settled it"
    );
    assert_eq!(balance(&app, &seller).await, 12_000, "paid once");
    assert_eq!(points(&app).await, Krw::new(22_000), "money conserved");
    let shown = sale(&app, quiet, &seller).await;
    assert_eq!(shown["state"], "settled");
    assert_eq!(
        events(&shown).iter().filter(|e| **e == "settled").count(),
        1
    );
}

/// At a pickup the buyer confirms, the seller enters the code and the buyer
/// disputes, all at once: exactly one of them applies and the escrow is
/// paid out at most once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_confirm_handover_and_dispute_pay_at_most_once() {
    let app = TestApp::spawn().await;
    let seller = app.user().create().await;
    let buyer = app.user().create().await;
    let (_, id) = app.sell(&seller, &buyer, 15_000, 0, pickup_only()).await;
    let path = |step: &str| format!("/api/v1/sales/{id}/{step}");
    let code = ready_for_pickup(&app, id, &seller, &buyer).await;
    let (to_confirm, to_hand_over, to_dispute) =
        (path("confirm"), path("handover"), path("dispute"));
    let (confirm, handover, dispute) = tokio::join!(
        post(&app, &to_confirm, &buyer, json!({})),
        post(&app, &to_hand_over, &seller, json!({"code": code})),
        post(
            &app,
            &to_dispute,
            &buyer,
            json!({"reason": "생각보다 작아요"})
        ),
    );
    let statuses = [confirm.status(), handover.status(), dispute.status()];
    assert_eq!(
        statuses.iter().filter(|s| s.as_u16() == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| [200, 409].contains(&s.as_u16())),
        "{statuses:?}"
    );
    let after = sale(&app, id, &seller).await;
    let paid = balance(&app, &seller).await + balance(&app, &buyer).await;
    match after["state"].as_str().unwrap() {
        "settled" => assert_eq!(balance(&app, &seller).await, 15_000),
        "disputed" => assert_eq!((paid, after["escrow"].as_i64()), (0, Some(15_000))),
        other => panic!("ended {other}"),
    }
    assert_eq!(points(&app).await, Krw::new(15_000), "money conserved");
}
