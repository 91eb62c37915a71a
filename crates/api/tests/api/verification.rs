//! Issue 19: recyclers' requests filled by cafes, verified businesses,
//! counting only what is honest, and Korean days and months.

use chrono::TimeZone;
use reqwest::Method;
use serde_json::{Value, json};
use sitga_testkit::{BusinessFixture, TestApp, TestUser, expect_error, expect_json};
use sitga_user::Role;

use crate::pickups::post;

async fn get(app: &TestApp, who: &TestUser, path: &str) -> Value {
    expect_json(app.get(path, Some(&who.access_token)).await, 200).await
}

#[tokio::test]
async fn a_recyclers_request_is_filled_by_a_cafe_and_counts_for_both() {
    let app = TestApp::spawn().await;
    let cafe = app.user().nickname("모래내카페").cafe().create().await;
    let other_cafe = app.user().cafe().create().await;
    let recycler = app.user().nickname("퇴비공방").recycler().create().await;
    let other_recycler = app.user().recycler().create().await;
    let request = expect_json(
        post(
            &app,
            &recycler,
            "/api/v1/pickups",
            Some(json!({"amount_kg": 20})),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(request["kind"], "demand");
    assert!(request["cafe"].is_null());
    assert_eq!(request["recycler"], "퇴비공방");
    let id = request["id"].as_i64().unwrap();

    // A cafe's open list shows requests; a recycler's shows offers.
    let open = get(&app, &cafe, "/api/v1/pickups/open").await;
    assert_eq!(open["total"], 1);
    assert_eq!(open["items"][0]["id"], id);
    let open = get(&app, &other_recycler, "/api/v1/pickups/open").await;
    assert_eq!(open["total"], 0);
    let open = get(&app, &other_recycler, "/api/v1/pickups/open?kind=demand").await;
    assert_eq!(open["total"], 1);
    expect_error(
        app.get("/api/v1/pickups/open?kind=coffee", Some(&cafe.access_token))
            .await,
        400,
        "invalid_query",
    )
    .await;

    // Only a cafe takes a request; only its recycler completes it.
    expect_error(
        post(
            &app,
            &other_recycler,
            &format!("/api/v1/pickups/{id}/claim"),
            None,
        )
        .await,
        403,
        "not_allowed",
    )
    .await;
    let taken = expect_json(
        post(&app, &cafe, &format!("/api/v1/pickups/{id}/claim"), None).await,
        200,
    )
    .await;
    assert_eq!(
        (taken["status"].as_str(), taken["cafe"].as_str()),
        (Some("on_way"), Some("모래내카페"))
    );
    expect_error(
        post(
            &app,
            &other_cafe,
            &format!("/api/v1/pickups/{id}/claim"),
            None,
        )
        .await,
        409,
        "illegal_transition",
    )
    .await;
    for stranger in [&cafe, &other_recycler] {
        expect_error(
            post(
                &app,
                stranger,
                &format!("/api/v1/pickups/{id}/complete"),
                Some(json!({"measured_kg": 19.5})),
            )
            .await,
            403,
            "not_allowed",
        )
        .await;
    }
    let done = expect_json(
        post(
            &app,
            &recycler,
            &format!("/api/v1/pickups/{id}/complete"),
            Some(json!({"measured_kg": 19.5})),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(done["status"], "completed");
    assert_eq!(done["counted"], true, "{done}");

    // It counts like an offer: rankings, figures, badges, the cafe's donations.
    let cafes = expect_json(app.get("/api/v1/rankings?type=cafe", None).await, 200).await;
    assert_eq!(
        cafes,
        json!([{"rank": 1, "nickname": "모래내카페", "kg": 19.5}])
    );
    let recyclers = expect_json(app.get("/api/v1/rankings?type=recycler", None).await, 200).await;
    assert_eq!(
        recyclers,
        json!([{"rank": 1, "nickname": "퇴비공방", "kg": 19.5}])
    );
    for who in [&cafe, &recycler] {
        let summary = get(&app, who, "/api/v1/me/pickups/summary").await;
        assert_eq!(
            (
                summary["completed_kg"].as_f64(),
                summary["completed_count"].as_i64()
            ),
            (Some(19.5), Some(1))
        );
        let badges = get(&app, who, "/api/v1/me/badges").await;
        let codes: Vec<&str> = badges
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["code"].as_str().unwrap())
            .collect();
        assert!(
            codes.contains(&"first_donation") && codes.contains(&"lifetime_10kg"),
            "{codes:?}"
        );
    }
    let donations = get(&app, &cafe, "/api/v1/me/donations").await;
    assert_eq!(donations["total"], 1);
    assert_eq!(donations["items"][0]["id"], id);
    assert_eq!(
        get(&app, &recycler, "/api/v1/me/donations").await["total"],
        0
    );
    // Both sides see it; a stranger does not.
    for who in [&cafe, &recycler] {
        assert_eq!(
            get(&app, who, &format!("/api/v1/pickups/{id}")).await["id"],
            id
        );
    }
    expect_error(
        app.get(
            &format!("/api/v1/pickups/{id}"),
            Some(&other_cafe.access_token),
        )
        .await,
        403,
        "not_allowed",
    )
    .await;
}

#[tokio::test]
async fn businesses_give_a_checked_number_and_operators_decide() {
    let app = TestApp::spawn().await;
    let operator = app.user().role(Role::Operator).create().await;
    let member = app.user().create().await;
    let signup = |nickname: &str, number: Option<&str>, name: Option<&str>, kind: &str| {
        json!({
            "email": format!("{nickname}@example.com"),
            "password": "correct horse battery",
            "nickname": nickname,
            "name": "Kim",
            "account_type": kind,
            "business_number": number,
            "business_name": name,
        })
    };
    // The check digit is the domain's: 116-82-00276 is valid, …277 is not.
    let err = expect_error(
        app.post_json(
            "/api/v1/auth/signup",
            &signup("cafe_a", Some("116-82-00277"), Some("바다 상회"), "cafe"),
        )
        .await,
        400,
        "validation_failed",
    )
    .await;
    assert_eq!(err["field"], "business_number");
    let err = expect_error(
        app.post_json(
            "/api/v1/auth/signup",
            &signup("cafe_a", Some("116-82-00276"), None, "cafe"),
        )
        .await,
        422,
        "inconsistent_fields",
    )
    .await;
    assert_eq!(err["field"], "business_name");
    expect_error(
        app.post_json(
            "/api/v1/auth/signup",
            &signup(
                "member_a",
                Some("116-82-00276"),
                Some("바다 상회"),
                "member",
            ),
        )
        .await,
        422,
        "inconsistent_fields",
    )
    .await;
    let created = expect_json(
        app.post_json(
            "/api/v1/auth/signup",
            &signup("cafe_a", Some("1168200276"), Some("바다 상회"), "cafe"),
        )
        .await,
        201,
    )
    .await;
    let user = &created["user"];
    assert_eq!(
        user["business"],
        json!({"number": "116-82-00276", "name": "바다 상회"})
    );
    assert_eq!(
        user["verification"],
        json!({"status": "pending", "reason": null})
    );
    let cafe_id = user["id"].as_i64().unwrap();
    // One number, one account (a recycler account of the same person too).
    let err = expect_error(
        app.post_json(
            "/api/v1/auth/signup",
            &signup(
                "recycler_a",
                Some("116-82-00276"),
                Some("바다 상회"),
                "recycler",
            ),
        )
        .await,
        409,
        "business_number_taken",
    )
    .await;
    assert_eq!(err["field"], "business_number");
    let tokens = app
        .login("cafe_a@example.com", "correct horse battery")
        .await;
    let cafe_token = tokens["access_token"].as_str().unwrap().to_owned();
    // Members have no verification at all; a cafe without a number is unsubmitted.
    assert!(get(&app, &member, "/api/v1/users/me").await["verification"].is_null());
    let bare = app
        .user()
        .cafe()
        .business(BusinessFixture::None)
        .create()
        .await;
    assert_eq!(
        get(&app, &bare, "/api/v1/users/me").await["verification"]["status"],
        "unsubmitted"
    );

    // The operators' queue, oldest first; members are refused before anything.
    expect_error(
        app.get("/api/v1/admin/verifications", Some(&member.access_token))
            .await,
        403,
        "forbidden",
    )
    .await;
    expect_error(
        post(
            &app,
            &member,
            &format!("/api/v1/admin/verifications/{cafe_id}"),
            Some(json!({"decision": "verified"})),
        )
        .await,
        403,
        "forbidden",
    )
    .await;
    let queue = get(&app, &operator, "/api/v1/admin/verifications").await;
    assert_eq!(queue["total"], 1);
    assert_eq!(queue["items"][0]["user_id"], cafe_id);
    assert_eq!(queue["items"][0]["business"]["number"], "116-82-00276");
    let decide = |decision: Value| {
        let app = &app;
        let operator = &operator;
        async move {
            post(
                app,
                operator,
                &format!("/api/v1/admin/verifications/{cafe_id}"),
                Some(decision),
            )
            .await
        }
    };
    expect_error(
        decide(json!({"decision": "rejected"})).await,
        422,
        "inconsistent_fields",
    )
    .await;
    expect_error(
        decide(json!({"decision": "maybe"})).await,
        400,
        "validation_failed",
    )
    .await;
    let rejected = expect_json(
        decide(json!({"decision": "rejected", "reason": "상호가 다릅니다 / the name differs"}))
            .await,
        200,
    )
    .await;
    assert_eq!(rejected["verification"]["status"], "rejected");
    expect_error(
        decide(json!({"decision": "verified"})).await,
        409,
        "verification_not_pending",
    )
    .await;
    let me = expect_json(app.get("/api/v1/users/me", Some(&cafe_token)).await, 200).await;
    assert_eq!(me["verification"]["status"], "rejected");
    assert_eq!(
        me["verification"]["reason"],
        "상호가 다릅니다 / the name differs"
    );
    // A corrected registration waits again; then it is verified.
    let patched = expect_json(
        app.send(
            Method::PATCH,
            "/api/v1/users/me",
            Some(&cafe_token),
            Some(json!({"business_number": "116-82-00276", "business_name": "바다상회"})),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(
        patched["verification"],
        json!({"status": "pending", "reason": null})
    );
    let verified = expect_json(decide(json!({"decision": "verified"})).await, 200).await;
    assert_eq!(verified["verification"]["status"], "verified");
    assert_eq!(verified["pickups_now_counting"], 0);
    let listed = get(
        &app,
        &operator,
        "/api/v1/admin/verifications?status=verified",
    )
    .await;
    assert_eq!(listed["total"], 1);
    expect_error(
        app.get(
            "/api/v1/admin/verifications?status=unsubmitted",
            Some(&operator.access_token),
        )
        .await,
        400,
        "invalid_query",
    )
    .await;
    // Both decisions are in the audit log (read by an admin).
    let admin = app.user().role(Role::Admin).create().await;
    let audit = get(&app, &admin, "/api/v1/admin/audit").await;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"business_rejected") && actions.contains(&"business_verified"),
        "{actions:?}"
    );
}

#[tokio::test]
async fn an_unverified_sides_pickup_counts_from_its_verification_exactly_once() {
    let app = TestApp::spawn().await;
    let operator = app.user().role(Role::Operator).create().await;
    let cafe = app
        .user()
        .nickname("새카페")
        .cafe()
        .business(BusinessFixture::Pending)
        .create()
        .await;
    let recycler = app.user().recycler().create().await;
    let offer = expect_json(
        post(
            &app,
            &cafe,
            "/api/v1/pickups",
            Some(json!({"amount_kg": 12})),
        )
        .await,
        201,
    )
    .await;
    let id = offer["id"].as_i64().unwrap();
    expect_json(
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
    let done = expect_json(
        post(
            &app,
            &recycler,
            &format!("/api/v1/pickups/{id}/complete"),
            Some(json!({"measured_kg": 12})),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(done["counted"], false);
    assert_eq!(done["not_counted_reason"], "business_unverified");
    let ranks = expect_json(
        app.get("/api/v1/rankings?type=recycler&period=all", None)
            .await,
        200,
    )
    .await;
    assert_eq!(ranks, json!([]), "an unverified pickup tops no ranking");
    assert_eq!(get(&app, &recycler, "/api/v1/me/badges").await, json!([]));
    assert_eq!(
        get(&app, &cafe, "/api/v1/me/pickups/summary").await["completed_count"],
        0
    );

    let verified = expect_json(
        post(
            &app,
            &operator,
            &format!("/api/v1/admin/verifications/{}", cafe.id),
            Some(json!({"decision": "verified"})),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(verified["pickups_now_counting"], 1);
    let now = get(&app, &cafe, &format!("/api/v1/pickups/{id}")).await;
    assert_eq!(now["counted"], true);
    let ranks = expect_json(
        app.get("/api/v1/rankings?type=cafe&period=all", None).await,
        200,
    )
    .await;
    assert_eq!(
        ranks,
        json!([{"rank": 1, "nickname": "새카페", "kg": 12.0}])
    );
    let badges = get(&app, &recycler, "/api/v1/me/badges").await;
    assert!(
        badges
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b["code"] == "first_donation"),
        "{badges}"
    );
    // The safety net finds nothing left to count: it counted once.
    let counter = sitga_realtime::counting::Counter {
        chain: None,
        calendar: app.state().calendar,
    };
    assert_eq!(counter.catch_up_all(&app.db).await.unwrap(), 0);
    assert_eq!(
        get(&app, &cafe, "/api/v1/me/pickups/summary").await["completed_count"],
        1
    );
}

/// 23:59 and 00:01 in Seoul on the turn of a month fall in different months,
/// though both are 30 November in UTC.
#[tokio::test]
async fn months_turn_at_midnight_in_seoul() {
    use sitga_coffee_grounds::{Grams, PickupKind};
    use sitga_persistence::pickups::{self, History};
    let app = TestApp::spawn().await;
    let cafe = app.user().cafe().province("busan").create().await;
    let recycler = app.user().recycler().create().await;
    let operator = app.user().role(Role::Operator).create().await;
    let late = chrono::Utc
        .with_ymd_and_hms(2026, 11, 30, 14, 59, 0)
        .unwrap(); // 23:59 KST 30 Nov
    let early = chrono::Utc
        .with_ymd_and_hms(2026, 11, 30, 15, 1, 0)
        .unwrap(); // 00:01 KST 1 Dec
    {
        let mut conn = app.db.get().await.unwrap();
        for (at, kg) in [(late, 3.0), (early, 5.0)] {
            pickups::insert_historical(
                &mut conn,
                cafe.id.into(),
                PickupKind::Supply,
                Grams::from_kg(kg).unwrap(),
                Some("busan"),
                at,
                History::Completed {
                    claimer: recycler.id.into(),
                    at,
                    counted: true,
                },
            )
            .await
            .unwrap();
        }
    }
    for (month, kg) in [("2026-11", 3.0), ("2026-12", 5.0)] {
        let summary = get(
            &app,
            &cafe,
            &format!("/api/v1/me/pickups/summary?month={month}"),
        )
        .await;
        assert_eq!(
            (
                summary["posted_kg"].as_f64(),
                summary["completed_kg"].as_f64(),
                summary["completed_count"].as_i64()
            ),
            (Some(kg), Some(kg), Some(1)),
            "{month}: {summary}"
        );
        let amounts = get(
            &app,
            &operator,
            &format!("/api/v1/monitor/amounts?month={month}"),
        )
        .await;
        let busan = amounts
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["province"] == "busan")
            .unwrap()
            .clone();
        assert_eq!(busan["supply_kg"].as_f64(), Some(kg), "{month}: {busan}");
    }
}
