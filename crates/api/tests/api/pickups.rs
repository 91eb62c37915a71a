use reqwest::Method;
use serde_json::{Value, json};
use sitga_testkit::{TestApp, TestUser, expect_error, expect_json};

/// POSTs as `who` (shared with the other coffee-grounds tests).
pub(crate) async fn post(
    app: &TestApp,
    who: &TestUser,
    path: &str,
    body: Option<Value>,
) -> reqwest::Response {
    app.send(Method::POST, path, Some(&who.access_token), body)
        .await
}

/// Posts an offer or request of `kg` as `who`, expecting 201.
async fn post_pickup(app: &TestApp, who: &TestUser, kg: f64) -> Value {
    expect_json(
        post(
            app,
            who,
            "/api/v1/pickups",
            Some(json!({ "amount_kg": kg })),
        )
        .await,
        201,
    )
    .await
}

#[tokio::test]
async fn pickup_lifecycle_badges_and_rankings() {
    let app = TestApp::spawn().await;
    let cafe = app
        .user()
        .nickname("바다카페")
        .cafe()
        .province("seoul")
        .create()
        .await;
    let recycler = app
        .user()
        .nickname("그린수거")
        .recycler()
        .province("서울특별시")
        .create()
        .await;
    let other_recycler = app.user().recycler().create().await;
    let member = app.user().create().await;

    let offer = post_pickup(&app, &cafe, 2.5).await;
    assert_eq!(offer["kind"], "supply");
    assert_eq!(offer["status"], "waiting");
    assert_eq!(offer["amount_kg"], 2.5);
    assert_eq!(offer["province"], "seoul");
    let id = offer["id"].as_i64().unwrap();
    let demand = post_pickup(&app, &recycler, 150.0).await;
    assert_eq!(demand["kind"], "demand");
    expect_error(
        post(
            &app,
            &member,
            "/api/v1/pickups",
            Some(json!({"amount_kg": 1})),
        )
        .await,
        403,
        "not_cafe_or_recycler",
    )
    .await;
    for bad in [
        json!({"amount_kg": 0}),
        json!({"amount_kg": 0.05}),
        json!({"amount_kg": 1000.1}),
        json!({"amount_kg": 1.25}),
        // Once overflowed the parser (a panic and a dropped connection).
        json!({"amount_kg": 9_223_372_036_854_776.0_f64}),
        json!({"amount_kg": -1e300}),
    ] {
        let err = expect_error(
            post(&app, &cafe, "/api/v1/pickups", Some(bad)).await,
            400,
            "validation_failed",
        )
        .await;
        assert_eq!(err["field"], "amount_kg");
    }
    expect_error(
        post(
            &app,
            &cafe,
            "/api/v1/pickups",
            Some(json!({"amount_kg": "2"})),
        )
        .await,
        400,
        "invalid_field",
    )
    .await;

    // Open offers, by province.
    let open = expect_json(
        app.get(
            "/api/v1/pickups/open?province=Seoul",
            Some(&recycler.access_token),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(open["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        (open["total"].as_i64(), open["page"].as_i64()),
        (Some(1), Some(1))
    );
    let open = expect_json(
        app.get(
            "/api/v1/pickups/open?province=busan",
            Some(&recycler.access_token),
        )
        .await,
        200,
    )
    .await;
    assert!(open["items"].as_array().unwrap().is_empty());
    assert_eq!(open["total"], 0);

    // waiting → on_way → completed, with the wrong actors refused.
    expect_error(
        post(&app, &cafe, &format!("/api/v1/pickups/{id}/claim"), None).await,
        403,
        "not_allowed",
    )
    .await;
    let claimed = expect_json(
        post(
            &app,
            &recycler,
            &format!("/api/v1/pickups/{id}/claim"),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(claimed["status"], "on_way");
    assert_eq!(claimed["recycler"], "그린수거");
    assert!(claimed["claimed_at"].is_string());
    expect_error(
        post(
            &app,
            &other_recycler,
            &format!("/api/v1/pickups/{id}/claim"),
            None,
        )
        .await,
        409,
        "illegal_transition",
    )
    .await;
    expect_error(
        post(&app, &cafe, &format!("/api/v1/pickups/{id}/cancel"), None).await,
        409,
        "illegal_transition",
    )
    .await;
    expect_error(
        post(
            &app,
            &other_recycler,
            &format!("/api/v1/pickups/{id}/complete"),
            Some(json!({"measured_kg": 2.4})),
        )
        .await,
        403,
        "not_allowed",
    )
    .await;
    let done = expect_json(
        post(
            &app,
            &recycler,
            &format!("/api/v1/pickups/{id}/complete"),
            Some(json!({"measured_kg": 12.4})),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(done["status"], "completed");
    assert_eq!(done["measured_kg"], 12.4);
    // 12.4 kg weighed on 2.5 kg posted is more than 1.5×: recorded, but it
    // counts only once the cafe confirms the weight.
    assert_eq!(done["counted"], false);
    assert_eq!(done["not_counted_reason"], "weight_unconfirmed");
    let ranks = expect_json(
        app.get("/api/v1/rankings?type=cafe&period=all", None).await,
        200,
    )
    .await;
    assert_eq!(ranks, json!([]), "nothing counts before the confirmation");
    for (who, status, code) in [
        (&recycler, 403, "not_allowed"),
        (&other_recycler, 403, "not_allowed"),
        (&member, 403, "not_allowed"),
    ] {
        expect_error(
            post(
                &app,
                who,
                &format!("/api/v1/pickups/{id}/confirm-weight"),
                None,
            )
            .await,
            status,
            code,
        )
        .await;
    }
    let confirmed = expect_json(
        post(
            &app,
            &cafe,
            &format!("/api/v1/pickups/{id}/confirm-weight"),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(confirmed["counted"], true, "{confirmed}");
    assert!(confirmed["not_counted_reason"].is_null());
    assert!(confirmed["weight_confirmed_at"].is_string());
    expect_error(
        post(
            &app,
            &cafe,
            &format!("/api/v1/pickups/{id}/confirm-weight"),
            None,
        )
        .await,
        409,
        "nothing_to_confirm",
    )
    .await;
    expect_error(
        post(
            &app,
            &recycler,
            &format!("/api/v1/pickups/{id}/complete"),
            Some(json!({"measured_kg": 1})),
        )
        .await,
        409,
        "illegal_transition",
    )
    .await;
    expect_error(
        post(&app, &recycler, "/api/v1/pickups/999999/claim", None).await,
        404,
        "not_found",
    )
    .await;

    // Badges earned with the completion, on both sides.
    let mine = expect_json(
        app.get("/api/v1/me/badges", Some(&cafe.access_token)).await,
        200,
    )
    .await;
    let codes: Vec<&str> = mine
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"first_donation"), "{codes:?}");
    assert!(
        codes.contains(&"lifetime_10kg"),
        "12.4 kg weighed: {codes:?}"
    );
    assert!(codes.contains(&"province_first_month"), "{codes:?}");
    let public = expect_json(
        app.get(
            "/api/v1/users/%EA%B7%B8%EB%A6%B0%EC%88%98%EA%B1%B0/badges",
            None,
        )
        .await,
        200,
    )
    .await;
    assert!(!public.as_array().unwrap().is_empty());
    expect_error(
        app.get("/api/v1/users/nobody_here/badges", None).await,
        404,
        "not_found",
    )
    .await;

    // Cancelling is the owner's, while waiting.
    let second = post_pickup(&app, &cafe, 1.0).await;
    let sid = second["id"].as_i64().unwrap();
    expect_error(
        post(
            &app,
            &recycler,
            &format!("/api/v1/pickups/{sid}/cancel"),
            None,
        )
        .await,
        403,
        "not_allowed",
    )
    .await;
    let cancelled = expect_json(
        post(&app, &cafe, &format!("/api/v1/pickups/{sid}/cancel"), None).await,
        200,
    )
    .await;
    assert_eq!(cancelled["status"], "cancelled");

    // My lists show only mine.
    let mine = expect_json(
        app.get("/api/v1/me/pickups", Some(&cafe.access_token))
            .await,
        200,
    )
    .await;
    assert_eq!(mine["total"], 2);
    let theirs = expect_json(
        app.get("/api/v1/me/pickups", Some(&member.access_token))
            .await,
        200,
    )
    .await;
    assert_eq!(theirs["total"], 0);

    let summary = expect_json(
        app.get("/api/v1/me/pickups/summary", Some(&cafe.access_token))
            .await,
        200,
    )
    .await;
    assert_eq!(
        summary["posted_kg"], 2.5,
        "the cancelled 1 kg does not count"
    );
    assert_eq!(summary["completed_kg"], 12.4);
    assert_eq!(summary["completed_count"], 1);
    let past = expect_json(
        app.get(
            "/api/v1/me/pickups/summary?month=2020-01",
            Some(&cafe.access_token),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(past["completed_count"], 0);
    expect_error(
        app.get(
            "/api/v1/me/pickups/summary?month=2020-13",
            Some(&cafe.access_token),
        )
        .await,
        400,
        "invalid_query",
    )
    .await;

    let ranks = expect_json(
        app.get("/api/v1/rankings?type=cafe&period=all", None).await,
        200,
    )
    .await;
    assert_eq!(
        ranks,
        json!([{"rank": 1, "nickname": "바다카페", "kg": 12.4}])
    );
    let ranks = expect_json(app.get("/api/v1/rankings?type=recycler", None).await, 200).await;
    assert_eq!(ranks[0]["nickname"], "그린수거");
    expect_error(
        app.get("/api/v1/rankings?type=fish", None).await,
        400,
        "invalid_query",
    )
    .await;
}

#[tokio::test]
async fn badge_catalogue_matches_the_rules_and_sales_award_badges() {
    let app = TestApp::spawn().await;
    let catalogue = expect_json(app.get("/api/v1/badges", None).await, 200).await;
    let codes: Vec<&str> = catalogue
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["code"].as_str().unwrap())
        .collect();
    let expected: Vec<&str> = sitga_badge::CATALOGUE
        .iter()
        .map(|b| b.code.code())
        .collect();
    assert_eq!(codes, expected, "the seeded catalogue is the domain's");
    for (row, badge) in catalogue
        .as_array()
        .unwrap()
        .iter()
        .zip(sitga_badge::CATALOGUE)
    {
        assert_eq!(row["name_ko"], badge.name_ko);
        assert_eq!(row["rarity"], badge.rarity.code());
    }

    let seller = app.user().create().await;
    let buyer = app.user().create().await;
    app.charge(&buyer, 50_000).await;
    let id = app.open_auction(&seller, 5_000, json!({})).await["id"]
        .as_i64()
        .unwrap();
    expect_json(app.bid(&buyer, id, 5_000).await, 201).await;
    app.state().closer.close(id.into(), true).await.unwrap();
    let b = expect_json(
        app.get("/api/v1/me/badges", Some(&buyer.access_token))
            .await,
        200,
    )
    .await;
    assert_eq!(b[0]["code"], "first_win");
    let s = expect_json(
        app.get("/api/v1/me/badges", Some(&seller.access_token))
            .await,
        200,
    )
    .await;
    assert_eq!(s[0]["code"], "first_sale");
}

#[tokio::test]
async fn operators_see_amounts_requests_and_badge_counts() {
    let app = TestApp::spawn().await;
    let operator = app.user().role(sitga_user::Role::Operator).create().await;
    let member = app.user().create().await;
    let busan_cafe = app.user().cafe().province("busan").create().await;
    let jeju_recycler = app.user().recycler().province("jeju").create().await;
    post_pickup(&app, &busan_cafe, 3.5).await;
    post_pickup(&app, &busan_cafe, 1.5).await;
    post_pickup(&app, &jeju_recycler, 100.0).await;

    expect_error(
        app.get("/api/v1/monitor/amounts", Some(&member.access_token))
            .await,
        403,
        "forbidden",
    )
    .await;
    expect_error(
        app.get("/api/v1/monitor/amounts", None).await,
        401,
        "missing_token",
    )
    .await;
    let amounts = expect_json(
        app.get("/api/v1/monitor/amounts", Some(&operator.access_token))
            .await,
        200,
    )
    .await;
    let rows = amounts.as_array().unwrap();
    assert_eq!(rows.len(), 17);
    let busan = rows.iter().find(|r| r["province"] == "busan").unwrap();
    assert_eq!(
        (busan["supply_kg"].as_f64(), busan["demand_kg"].as_f64()),
        (Some(5.0), Some(0.0))
    );
    assert_eq!(busan["name_ko"], "부산광역시");
    let jeju = rows.iter().find(|r| r["province"] == "jeju").unwrap();
    assert_eq!(jeju["demand_kg"], 100.0);

    let table = expect_json(
        app.get(
            "/api/v1/monitor/pickups?province=busan&status=waiting",
            Some(&operator.access_token),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(table["total"], 2);
    expect_error(
        app.get(
            "/api/v1/monitor/pickups?status=lost",
            Some(&operator.access_token),
        )
        .await,
        400,
        "invalid_query",
    )
    .await;
    let counts = expect_json(
        app.get("/api/v1/monitor/badges", Some(&operator.access_token))
            .await,
        200,
    )
    .await;
    assert_eq!(
        counts.as_array().unwrap().len(),
        sitga_badge::CATALOGUE.len()
    );
}

/// The daily safety net awards what an event did not (here: history written
/// directly, as an import would).
#[tokio::test]
async fn the_badge_safety_net_catches_up() {
    let app = TestApp::spawn().await;
    let cafe = app.user().cafe().province("jeju").create().await;
    let recycler = app.user().recycler().create().await;
    {
        let mut conn = app.db.get().await.unwrap();
        let at = chrono::Utc::now() - chrono::Duration::days(3);
        sitga_persistence::pickups::insert_historical(
            &mut conn,
            cafe.id.into(),
            sitga_coffee_grounds::PickupKind::Supply,
            sitga_coffee_grounds::Grams::from_kg(15.0).unwrap(),
            Some("jeju"),
            at,
            sitga_persistence::pickups::History::Completed {
                claimer: recycler.id.into(),
                at: at + chrono::Duration::hours(3),
                counted: true,
            },
        )
        .await
        .unwrap();
    }
    let before = expect_json(
        app.get("/api/v1/me/badges", Some(&cafe.access_token)).await,
        200,
    )
    .await;
    assert!(before.as_array().unwrap().is_empty());
    let awarded = sitga_realtime::awards::sweep_all(&app.db, app.state().calendar)
        .await
        .unwrap();
    assert!(
        awarded >= 4,
        "first donation + 10 kg for both sides: {awarded}"
    );
    let after = expect_json(
        app.get("/api/v1/me/badges", Some(&cafe.access_token)).await,
        200,
    )
    .await;
    let codes: Vec<&str> = after
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["code"].as_str().unwrap())
        .collect();
    assert!(
        codes.contains(&"first_donation") && codes.contains(&"lifetime_10kg"),
        "{codes:?}"
    );
    assert_eq!(
        sitga_realtime::awards::sweep_all(&app.db, app.state().calendar)
            .await
            .unwrap(),
        0,
        "idempotent"
    );
}

/// A pickup is seen by its poster, its collector and operators; anyone
/// else is refused, and the open offers page like every other list.
#[tokio::test]
async fn a_pickup_is_shown_to_those_involved_and_open_offers_page() {
    let app = TestApp::spawn().await;
    let cafe = app.user().cafe().create().await;
    let recycler = app.user().recycler().create().await;
    let stranger = app.user().recycler().create().await;
    let operator = app.user().role(sitga_user::Role::Operator).create().await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(post_pickup(&app, &cafe, 2.5).await["id"].as_i64().unwrap());
    }
    let path = format!("/api/v1/pickups/{}", ids[0]);
    expect_json(
        post(&app, &recycler, &format!("{path}/claim"), None).await,
        200,
    )
    .await;
    for who in [&cafe, &recycler, &operator] {
        let seen = expect_json(app.get(&path, Some(&who.access_token)).await, 200).await;
        assert_eq!(seen["id"], ids[0]);
        assert_eq!(seen["status"], "on_way");
        assert_eq!(seen["recycler"], recycler.nickname.as_str());
    }
    expect_error(
        app.get(&path, Some(&stranger.access_token)).await,
        403,
        "not_allowed",
    )
    .await;
    expect_error(
        app.get("/api/v1/pickups/999999", Some(&cafe.access_token))
            .await,
        404,
        "not_found",
    )
    .await;
    expect_error(app.get(&path, None).await, 401, "missing_token").await;

    // Two offers are still waiting: a page of one, then the next.
    let first = expect_json(
        app.get(
            "/api/v1/pickups/open?per_page=1",
            Some(&stranger.access_token),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(first["total"], 2);
    assert_eq!(first["items"][0]["id"], ids[1]);
    let second = expect_json(
        app.get(
            "/api/v1/pickups/open?per_page=1&page=2",
            Some(&stranger.access_token),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(second["items"][0]["id"], ids[2]);
}
