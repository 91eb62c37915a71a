//! Forecasts over HTTP: history rules, retraining through the job queue,
//! the stored run, the daily job queued once.

use chrono::{Duration, NaiveDate, Utc};
use serde_json::{Value, json};
use sitga_coffee_grounds::{Grams, PickupKind};
use sitga_persistence::pickups;
use sitga_testkit::{TestApp, TestUser, expect_error, expect_json};
use sitga_user::Role;

/// Posts `days` days of pickups ending yesterday, one at noon of each of
/// the marketplace's days (`SITGA_TIMEZONE`, whatever UTC's date is), with
/// a weekday/weekend rhythm (weekends 40 % lower).
async fn history(app: &TestApp, owner: &TestUser, kind: PickupKind, province: &str, days: i64) {
    let mut conn = app.db.get().await.unwrap();
    let calendar = app.state().calendar;
    let today = calendar.date_of(Utc::now());
    for days_ago in 1..=days {
        let date = today - Duration::days(days_ago);
        let at = calendar.day_start(date) + Duration::hours(12);
        let weekend = matches!(
            chrono::Datelike::weekday(&date),
            chrono::Weekday::Sat | chrono::Weekday::Sun
        );
        let kg = if weekend { 12.0 } else { 20.0 };
        pickups::insert_historical(
            &mut conn,
            owner.id.into(),
            kind,
            Grams::from_kg(kg).unwrap(),
            Some(province),
            at,
            pickups::History::Waiting,
        )
        .await
        .unwrap();
    }
}

async fn wait_for_job(app: &TestApp, operator: &TestUser, id: &str) -> Value {
    let mut job = Value::Null;
    for _ in 0..600 {
        job = expect_json(
            app.get(
                &format!("/api/v1/forecasts/jobs/{id}"),
                Some(&operator.access_token),
            )
            .await,
            200,
        )
        .await;
        if job["status"] == "done" || job["status"] == "failed" {
            return job;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("forecast job {id} did not finish: {job}");
}

#[tokio::test]
async fn retrain_stores_runs_that_latest_serves_and_short_series_get_422() {
    let app = TestApp::spawn().await;
    let operator = app.user().role(Role::Operator).create().await;
    let cafe = app.user().cafe().province("seoul").create().await;
    let recycler = app.user().recycler().province("busan").create().await;
    let latest = |q: &str| format!("/api/v1/forecasts/latest?{q}");

    // Nothing posted yet.
    expect_error(
        app.get(&latest("kind=supply"), Some(&cafe.access_token))
            .await,
        422,
        "not_enough_history",
    )
    .await;
    expect_error(
        app.send(
            reqwest::Method::POST,
            "/api/v1/forecasts/retrain",
            Some(&operator.access_token),
            Some(json!({})),
        )
        .await,
        422,
        "not_enough_history",
    )
    .await;

    // 35 days of supply in Seoul; only 10 of demand in Busan.
    history(&app, &cafe, PickupKind::Supply, "seoul", 35).await;
    history(&app, &recycler, PickupKind::Demand, "busan", 10).await;
    expect_error(
        app.get(&latest("kind=supply"), Some(&cafe.access_token))
            .await,
        404,
        "no_forecast",
    )
    .await;

    // Only operators (and admins) retrain; options are checked.
    let retrain = |token: String, body: Value| {
        let app = &app;
        async move {
            app.send(
                reqwest::Method::POST,
                "/api/v1/forecasts/retrain",
                Some(&token),
                Some(body),
            )
            .await
        }
    };
    expect_error(
        retrain(cafe.access_token.clone(), json!({})).await,
        403,
        "forbidden",
    )
    .await;
    let bad = expect_error(
        retrain(operator.access_token.clone(), json!({"horizon_days": 29})).await,
        400,
        "invalid_field",
    )
    .await;
    assert_eq!(bad["field"], "horizon_days");
    let bad = expect_error(
        retrain(operator.access_token.clone(), json!({"window_days": 7})).await,
        400,
        "invalid_field",
    )
    .await;
    assert_eq!(bad["field"], "window_days");

    let job = expect_json(
        retrain(
            operator.access_token.clone(),
            json!({"window_days": 60, "horizon_days": 10}),
        )
        .await,
        202,
    )
    .await;
    assert_eq!(job["trigger"], "manual");
    assert_eq!(job["window_days"], 60);
    let id = job["id"].as_str().unwrap().to_owned();
    let job = wait_for_job(&app, &operator, &id).await;
    assert_eq!(job["status"], "done", "{job}");
    // Supply nationwide and in Seoul; demand (10 days, both series) skipped.
    assert_eq!(job["series_fitted"], 2, "{job}");
    assert_eq!(job["series_skipped"], 2, "{job}");
    assert!(job["finished_at"].is_string());

    let run = expect_json(
        app.get(&latest("kind=supply"), Some(&cafe.access_token))
            .await,
        200,
    )
    .await;
    assert_eq!(run["model"], "prophet");
    assert_eq!(run["kind"], "supply");
    assert_eq!(run["province"], Value::Null);
    assert_eq!(run["window_days"], 60);
    assert_eq!(run["horizon_days"], 10);
    assert_eq!(run["parameters"]["weekly_seasonality"], true);
    assert_eq!(run["parameters"]["interval_width"], 0.8);
    // The marketplace's day (SITGA_TIMEZONE, Asia/Seoul by default), not UTC's.
    let today = app.state().calendar.date_of(Utc::now());
    assert_eq!(
        run["window_end"].as_str().unwrap(),
        (today - Duration::days(1)).to_string()
    );
    assert_eq!(
        run["window_start"].as_str().unwrap(),
        (today - Duration::days(35)).to_string()
    );
    let points = run["points"].as_array().unwrap();
    assert_eq!(points.len(), 10);
    for (i, p) in points.iter().enumerate() {
        let date: NaiveDate = p["date"].as_str().unwrap().parse().unwrap();
        assert_eq!(date, today + Duration::days(i as i64));
        let (yhat, lower, upper) = (
            p["yhat"].as_f64().unwrap(),
            p["lower"].as_f64().unwrap(),
            p["upper"].as_f64().unwrap(),
        );
        assert!(lower <= yhat && yhat <= upper, "{p}");
        // The history is 20 kg on weekdays and 12 kg at weekends.
        let weekend = matches!(
            chrono::Datelike::weekday(&date),
            chrono::Weekday::Sat | chrono::Weekday::Sun
        );
        let expected = if weekend { 12.0 } else { 20.0 };
        assert!(
            (yhat - expected).abs() < 1.5,
            "{date}: {yhat} vs {expected}"
        );
    }
    // 35 days leave 14 to hold out.
    assert_eq!(run["backtest"]["days"], 14);
    assert!(run["backtest"]["mae_kg"].as_f64().unwrap() < 1.5);

    // The province series, by code or by Korean name.
    let seoul = expect_json(
        app.get(
            &latest("kind=supply&province=%EC%84%9C%EC%9A%B8%ED%8A%B9%EB%B3%84%EC%8B%9C"),
            Some(&cafe.access_token),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(seoul["province"], "seoul");
    expect_error(
        app.get(
            &latest("kind=supply&province=busan"),
            Some(&cafe.access_token),
        )
        .await,
        422,
        "not_enough_history",
    )
    .await;
    let short = expect_error(
        app.get(&latest("kind=demand"), Some(&cafe.access_token))
            .await,
        422,
        "not_enough_history",
    )
    .await;
    assert!(
        short["message"].as_str().unwrap().contains("10 day"),
        "{short}"
    );

    // Bad queries and tokens.
    expect_error(
        app.get(&latest("kind=coffee"), Some(&cafe.access_token))
            .await,
        400,
        "invalid_query",
    )
    .await;
    expect_error(
        app.get(
            &latest("kind=supply&province=atlantis"),
            Some(&cafe.access_token),
        )
        .await,
        400,
        "validation_failed",
    )
    .await;
    expect_error(
        app.get(&latest("kind=supply"), None).await,
        401,
        "missing_token",
    )
    .await;
    expect_error(
        app.get(
            "/api/v1/forecasts/jobs/no-such-job",
            Some(&operator.access_token),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    expect_error(
        app.get(
            &format!("/api/v1/forecasts/jobs/{id}"),
            Some(&cafe.access_token),
        )
        .await,
        403,
        "forbidden",
    )
    .await;
}

#[tokio::test]
async fn the_daily_retrain_is_queued_once_per_day_across_instances() {
    let app = TestApp::spawn().await;
    let peer = app.spawn_peer().await;
    let operator = app.user().role(Role::Operator).create().await;
    let id = format!("daily-{}", app.state().calendar.date_of(Utc::now()));
    // Both instances tried to queue it at start; one row exists, and it ran
    // (with no pickups: nothing fitted, nothing failed).
    let mut job = Value::Null;
    for _ in 0..100 {
        job = expect_json(
            app.get(
                &format!("/api/v1/forecasts/jobs/{id}"),
                Some(&operator.access_token),
            )
            .await,
            200,
        )
        .await;
        if job["status"] == "done" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(job["status"], "done", "{job}");
    assert_eq!(job["trigger"], "daily");
    assert_eq!(job["series_fitted"], 0);
    for instance in [&app, &peer] {
        let state = instance.state();
        let queued = sitga_realtime::forecasts::ensure_daily(
            &state.db,
            &state.forecast_queue,
            state.calendar,
        )
        .await
        .unwrap();
        assert!(!queued, "the daily job was queued twice");
    }
}
