//! The chain outbox and forecast storage on a fresh database of the selected
//! backend (SQLite when unset): leases are exclusive, attempts are counted,
//! runs come back with their points, old runs are pruned.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{Duration, NaiveDate, Utc};
use sitga_coffee_grounds::{Grams, PickupKind};
use sitga_core::PickupId;
use sitga_persistence::chain::{self, ChainStatus};
use sitga_persistence::forecasts::{self, NewRun};
use sitga_persistence::test_support::TestDatabase;
use sitga_persistence::{DbPool, pickups, users};
use sitga_user::{AccountType, Email, Nickname, PasswordHash, PersonName, Province};

async fn fresh() -> (TestDatabase, DbPool) {
    let db = TestDatabase::create().await.expect("test database");
    let pool = db.pool().await.expect("pool");
    (db, pool)
}

async fn cafe_pickups(pool: &DbPool, n: usize) -> Vec<PickupId> {
    let mut conn = pool.get().await.unwrap();
    let cafe = users::insert(
        &mut conn,
        &users::NewUser {
            email: Email::parse("cafe@example.com").unwrap(),
            nickname: Nickname::parse("바다카페").unwrap(),
            name: PersonName::parse("카페").unwrap(),
            phone: None,
            address: None,
            province: Some(Province::Seoul),
            account_type: AccountType::Cafe,
            password_hash: PasswordHash::from_stored("$argon2id$v=19$x".into()),
        },
    )
    .await
    .unwrap();
    let mut ids = Vec::new();
    for _ in 0..n {
        let p = pickups::insert(
            &mut conn,
            cafe.id,
            PickupKind::Supply,
            Grams::from_kg(1.5).unwrap(),
            Some("seoul"),
        )
        .await
        .unwrap();
        ids.push(p.id);
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbox_leases_are_exclusive_and_attempts_counted() {
    let (_db, pool) = fresh().await;
    let ids = cafe_pickups(&pool, 3).await;
    let mut conn = pool.get().await.unwrap();
    for id in &ids {
        chain::enqueue(&mut conn, *id, &format!("0x{}", "ab".repeat(32)), 1_500)
            .await
            .unwrap();
    }
    // Queuing twice keeps one row.
    chain::enqueue(&mut conn, ids[0], "0xother", 1)
        .await
        .unwrap();

    let first = chain::lease_due(&mut conn, 2, Duration::minutes(2))
        .await
        .unwrap();
    assert_eq!(first.len(), 2);
    let second = chain::lease_due(&mut conn, 10, Duration::minutes(2))
        .await
        .unwrap();
    assert_eq!(second.len(), 1, "leased rows are not handed out again");
    assert!(first.iter().all(|r| r.pickup_id != second[0].pickup_id));
    assert!(
        chain::lease_due(&mut conn, 10, Duration::minutes(2))
            .await
            .unwrap()
            .is_empty()
    );

    chain::confirm(&mut conn, ids[0], "0xabc", 7).await.unwrap();
    chain::attempt_failed(
        &mut conn,
        ids[1],
        "node down",
        Some(Utc::now() + Duration::seconds(60)),
    )
    .await
    .unwrap();
    chain::attempt_failed(&mut conn, ids[2], "gave up", None)
        .await
        .unwrap();
    let rows = chain::of_pickups(&mut conn, &ids).await.unwrap();
    let row = |id: PickupId| rows.iter().find(|r| r.pickup_id == id).unwrap();
    assert_eq!(row(ids[0]).status(), ChainStatus::Confirmed);
    assert_eq!(row(ids[0]).tx_hash.as_deref(), Some("0xabc"));
    assert_eq!(row(ids[0]).grams, 1_500);
    assert_eq!(row(ids[1]).status(), ChainStatus::Pending);
    assert_eq!(row(ids[1]).attempts, 1);
    assert_eq!(row(ids[1]).last_error.as_deref(), Some("node down"));
    assert!(row(ids[1]).lease_until().is_none());
    assert_eq!(row(ids[2]).status(), ChainStatus::Failed);
    // The retry is not due yet; the failed one never is.
    assert!(
        chain::lease_due(&mut conn, 10, Duration::minutes(2))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(chain::status_counts(&mut conn).await.unwrap(), (1, 1, 1));
}

/// A fitted run as the forecasting crate would hand it over: 30 days of
/// history before `start`, then `days` points.
struct Fitted {
    start: NaiveDate,
    points: Vec<forecasts::StoredPoint>,
}

fn forecast(start: &str, days: usize) -> Fitted {
    let start = NaiveDate::parse_from_str(start, "%Y-%m-%d").unwrap();
    Fitted {
        start,
        points: (0..days)
            .map(|i| (start + Duration::days(i as i64), 10.0 + i as f64, 8.0, 20.0))
            .collect(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_come_back_newest_first_per_series_and_old_ones_are_pruned() {
    let (_db, pool) = fresh().await;
    let mut conn = pool.get().await.unwrap();
    let store = |f: Fitted, province: Option<&'static str>| {
        let pool = pool.clone();
        async move {
            let mut tx = pool.begin().await.unwrap();
            let id = forecasts::insert_run(
                &mut tx,
                &NewRun {
                    job_id: None,
                    kind: PickupKind::Supply,
                    province,
                    model: "prophet",
                    window_start: f.start - Duration::days(30),
                    window_end: f.start - Duration::days(1),
                    horizon_days: 7,
                    backtest: None,
                    points: &f.points,
                    window_days: 90,
                    parameters: "{}",
                },
            )
            .await
            .unwrap();
            tx.commit().await.unwrap();
            id
        }
    };
    store(forecast("2026-01-01", 7), None).await;
    let newest = store(forecast("2026-01-02", 7), None).await;
    let seoul = store(forecast("2026-01-03", 3), Some("seoul")).await;

    let (run, points) = forecasts::latest(&mut conn, PickupKind::Supply, None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(run.id, newest, "nationwide is the province-less series");
    assert_eq!(points.len(), 7);
    assert_eq!(points[0].0.to_string(), "2026-01-02");
    assert_eq!(points[6].1, 16.0);
    let (run, points) = forecasts::latest(&mut conn, PickupKind::Supply, Some("seoul"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((run.id, points.len()), (seoul, 3));
    assert!(
        forecasts::latest(&mut conn, PickupKind::Demand, None)
            .await
            .unwrap()
            .is_none()
    );

    assert_eq!(
        forecasts::prune(&mut conn, Duration::days(30))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        forecasts::prune(&mut conn, Duration::seconds(-1))
            .await
            .unwrap(),
        3,
        "runs trained before the cutoff go, with their points"
    );
    assert!(
        forecasts::latest(&mut conn, PickupKind::Supply, None)
            .await
            .unwrap()
            .is_none()
    );
}
