//! Repository tests, each on a fresh database of the backend selected by
//! `SITGA_TEST_DATABASE_URL` / `DATABASE_URL` (SQLite when unset).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{Duration, Utc};
use sitga_persistence::test_support::TestDatabase;
use sitga_persistence::users::{self, FieldChange, NewUser, ProfileUpdate, UniqueUserError};
use sitga_persistence::{DbError, DbPool, PoolOptions, refresh_tokens};
use sitga_user::token::RefreshVerdict;
use sitga_user::{
    AccountType, Address, Email, Nickname, PasswordHash, PersonName, Phone, Province, Role,
};

async fn fresh() -> (TestDatabase, DbPool) {
    let db = TestDatabase::create().await.expect("test database");
    let pool = db.pool().await.expect("pool");
    (db, pool)
}

fn new_user(email: &str, nickname: &str) -> NewUser {
    NewUser {
        email: Email::parse(email).unwrap(),
        nickname: Nickname::parse(nickname).unwrap(),
        name: PersonName::parse("김철수 🐟").unwrap(),
        phone: Some(Phone::parse("010-1234-5678").unwrap()),
        address: Some(Address::parse("제주시 애월읍 1길 2").unwrap()),
        province: Some(Province::Jeju),
        account_type: AccountType::Cafe,
        // Hashing is the domain's job; storage treats it as opaque text.
        password_hash: PasswordHash::from_stored(
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_round_trips_unicode_and_all_fields() {
    let (_db, pool) = fresh().await;
    let mut conn = pool.get().await.unwrap();
    let created = users::insert(&mut conn, &new_user("cafe@example.com", "바다카페"))
        .await
        .unwrap();
    let found = users::find_by_id(&mut conn, created.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.email, "cafe@example.com");
    assert_eq!(found.nickname, "바다카페");
    assert_eq!(
        found.name, "김철수 🐟",
        "4-byte UTF-8 must survive (utf8mb4)"
    );
    assert_eq!(found.province, Some(Province::Jeju));
    assert_eq!(found.account_type, AccountType::Cafe);
    assert_eq!(
        found.created_at, created.created_at,
        "microsecond timestamps round-trip"
    );
    assert!(
        users::find_by_email(&mut conn, "nobody@example.com")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_email_and_case_insensitive_nickname_are_refused() {
    let (_db, pool) = fresh().await;
    let mut conn = pool.get().await.unwrap();
    users::insert(&mut conn, &new_user("a@example.com", "Kim"))
        .await
        .unwrap();
    assert!(matches!(
        users::insert(&mut conn, &new_user("a@example.com", "Lee")).await,
        Err(UniqueUserError::EmailTaken)
    ));
    assert!(matches!(
        users::insert(&mut conn, &new_user("b@example.com", "kIM")).await,
        Err(UniqueUserError::NicknameTaken)
    ));
    // A nickname that merely contains the word "email" is not an e-mail clash.
    users::insert(&mut conn, &new_user("c@example.com", "email"))
        .await
        .unwrap();
    assert!(matches!(
        users::insert(&mut conn, &new_user("d@example.com", "EMAIL")).await,
        Err(UniqueUserError::NicknameTaken)
    ));
    assert!(
        users::email_exists(&mut conn, &Email::parse("A@example.com").unwrap())
            .await
            .unwrap()
    );
    assert!(
        users::nickname_exists(&mut conn, &Nickname::parse("KIM").unwrap())
            .await
            .unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_signups_with_one_email_create_one_account() {
    let (_db, pool) = fresh().await;
    let mut tasks = Vec::new();
    for i in 0..8 {
        let pool = pool.clone();
        tasks.push(tokio::spawn(async move {
            let mut conn = pool.get().await.unwrap();
            users::insert(
                &mut conn,
                &new_user("race@example.com", &format!("racer{i}")),
            )
            .await
        }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(UniqueUserError::EmailTaken) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(ok, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profile_update_keeps_clears_and_sets() {
    let (_db, pool) = fresh().await;
    let mut conn = pool.get().await.unwrap();
    let user = users::insert(&mut conn, &new_user("p@example.com", "before"))
        .await
        .unwrap();
    users::insert(&mut conn, &new_user("q@example.com", "taken"))
        .await
        .unwrap();
    let updated = users::update_profile(
        &mut conn,
        user.id,
        ProfileUpdate {
            nickname: Some(Nickname::parse("after").unwrap()),
            phone: FieldChange::Clear,
            province: FieldChange::Set(Province::Busan),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(updated.nickname, "after");
    assert_eq!(updated.phone, None);
    assert_eq!(updated.province, Some(Province::Busan));
    assert_eq!(updated.address, user.address, "untouched fields stay");
    assert!(updated.updated_at >= user.updated_at);
    let clash = users::update_profile(
        &mut conn,
        user.id,
        ProfileUpdate {
            nickname: Some(Nickname::parse("TAKEN").unwrap()),
            ..Default::default()
        },
    )
    .await;
    assert!(matches!(clash, Err(UniqueUserError::NicknameTaken)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_grant_is_idempotent_and_listing_pages() {
    let (_db, pool) = fresh().await;
    let mut conn = pool.get().await.unwrap();
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(
            users::insert(
                &mut conn,
                &new_user(&format!("u{i}@example.com"), &format!("user{i}")),
            )
            .await
            .unwrap()
            .id,
        );
    }
    assert!(
        users::grant_role(&mut conn, ids[0], Role::Operator)
            .await
            .unwrap()
    );
    assert!(
        !users::grant_role(&mut conn, ids[0], Role::Operator)
            .await
            .unwrap()
    );
    assert!(
        users::grant_role(&mut conn, ids[0], Role::Admin)
            .await
            .unwrap()
    );
    assert_eq!(
        users::roles_of(&mut conn, ids[0]).await.unwrap(),
        vec![Role::Admin, Role::Operator]
    );
    assert!(
        users::revoke_role(&mut conn, ids[0], Role::Operator)
            .await
            .unwrap()
    );
    assert_eq!(
        users::roles_of(&mut conn, ids[0]).await.unwrap(),
        vec![Role::Admin]
    );

    let (page, total) = users::list(&mut conn, 2, 2).await.unwrap();
    assert_eq!(total, 5);
    assert_eq!(
        page.iter().map(|u| u.id).collect::<Vec<_>>(),
        ids[2..4].to_vec()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_transaction_rolls_back_and_commit_persists() {
    let (_db, pool) = fresh().await;
    {
        let mut tx = pool.begin().await.unwrap();
        users::insert(&mut tx, &new_user("gone@example.com", "ghost"))
            .await
            .unwrap();
        // dropped without commit
    }
    let mut tx = pool.begin().await.unwrap();
    users::insert(&mut tx, &new_user("kept@example.com", "keeper"))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut conn = pool.get().await.unwrap();
    assert!(
        users::find_by_email(&mut conn, "gone@example.com")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        users::find_by_email(&mut conn, "kept@example.com")
            .await
            .unwrap()
            .is_some()
    );
    // The pool still works after an abandoned transaction.
    assert!(pool.ping().await.is_ok());
}

/// A writer's session runs transactions back to back on one connection and
/// goes back to the pool as a plain autocommit connection; dropped in the
/// middle of a transaction, it is closed and its work rolled back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_runs_transactions_back_to_back_and_goes_back_clean() {
    let (db, _) = fresh().await;
    // One connection, so the next `get` hands out the released session's.
    let options = PoolOptions {
        max_size: 1,
        ..PoolOptions::default()
    };
    let pool = DbPool::connect(&db.url, options).await.unwrap();
    let mut session = pool.session().await.unwrap();
    session.begin().await.unwrap();
    users::insert(&mut session, &new_user("undone@example.com", "undone"))
        .await
        .unwrap();
    session.rollback_in_place().await.unwrap();
    session.begin().await.unwrap();
    users::insert(&mut session, &new_user("first@example.com", "first"))
        .await
        .unwrap();
    session.commit_in_place().await.unwrap();
    session.begin().await.unwrap();
    users::insert(
        &mut session,
        &new_user("abandoned@example.com", "abandoned"),
    )
    .await
    .unwrap();
    drop(session);

    let mut session = pool.session().await.unwrap();
    session.begin().await.unwrap();
    users::insert(&mut session, &new_user("second@example.com", "second"))
        .await
        .unwrap();
    session.commit_in_place().await.unwrap();
    session.release().await.unwrap();
    // Plain use of the released connection commits by itself: another pool
    // sees it at once.
    let mut conn = pool.get().await.unwrap();
    users::insert(&mut conn, &new_user("plain@example.com", "plain"))
        .await
        .unwrap();

    let other = db.pool().await.unwrap();
    let mut reader = other.get().await.unwrap();
    for (email, present) in [
        ("undone@example.com", false),
        ("first@example.com", true),
        ("abandoned@example.com", false),
        ("second@example.com", true),
        ("plain@example.com", true),
    ] {
        let found = users::find_by_email(&mut reader, email).await.unwrap();
        assert_eq!(found.is_some(), present, "{email}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn refresh_token_rotation_has_exactly_one_winner() {
    let (_db, pool) = fresh().await;
    let mut conn = pool.get().await.unwrap();
    let user = users::insert(&mut conn, &new_user("t@example.com", "tokens"))
        .await
        .unwrap();
    refresh_tokens::insert(
        &mut conn,
        user.id,
        "fam-1",
        &"a".repeat(64),
        Utc::now() + Duration::days(30),
    )
    .await
    .unwrap();
    let token = refresh_tokens::find_by_hash(&mut conn, &"a".repeat(64))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(token.state.verdict(Utc::now()), RefreshVerdict::Usable);

    let mut tasks = Vec::new();
    for _ in 0..6 {
        let pool = pool.clone();
        let id = token.id;
        tasks.push(tokio::spawn(async move {
            let mut conn = pool.get().await.unwrap();
            refresh_tokens::mark_rotated(&mut conn, id).await.unwrap()
        }));
    }
    let mut winners = 0;
    for t in tasks {
        winners += usize::from(t.await.unwrap());
    }
    assert_eq!(winners, 1);
    let token = refresh_tokens::find_by_hash(&mut conn, &"a".repeat(64))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(token.state.verdict(Utc::now()), RefreshVerdict::Reused);

    refresh_tokens::insert(
        &mut conn,
        user.id,
        "fam-1",
        &"b".repeat(64),
        Utc::now() + Duration::days(30),
    )
    .await
    .unwrap();
    refresh_tokens::insert(
        &mut conn,
        user.id,
        "fam-2",
        &"c".repeat(64),
        Utc::now() + Duration::days(30),
    )
    .await
    .unwrap();
    assert_eq!(
        refresh_tokens::revoke_family(&mut conn, "fam-1")
            .await
            .unwrap(),
        2
    );
    let b = refresh_tokens::find_by_hash(&mut conn, &"b".repeat(64))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(b.state.verdict(Utc::now()), RefreshVerdict::Revoked);
    // Other sessions except fam-2 — none left unrevoked.
    assert_eq!(
        refresh_tokens::revoke_user_sessions(&mut conn, user.id, Some("fam-2"))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        refresh_tokens::revoke_user_sessions(&mut conn, user.id, None)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        refresh_tokens::purge_expired(&mut conn, Utc::now() + Duration::days(31))
            .await
            .unwrap(),
        3
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nicknames_from_before_the_skeleton_rule_are_rekeyed() {
    use sitga_persistence::test_support::legacy_nickname;
    let (_db, pool) = fresh().await;
    let mut conn = pool.get().await.unwrap();
    let mut ids = Vec::new();
    for (email, nick) in [
        ("a@x.com", "placeholder1"),
        ("b@x.com", "placeholder2"),
        ("c@x.com", "placeholder3"),
    ] {
        ids.push(
            users::insert(&mut conn, &new_user(email, nick))
                .await
                .unwrap()
                .id,
        );
    }
    // Written by an older release: "mike" and "rnike" look alike but had
    // different keys then.
    legacy_nickname(&pool, ids[0], "Mike").await.unwrap();
    legacy_nickname(&pool, ids[1], "rnike").await.unwrap();
    legacy_nickname(&pool, ids[2], "낚시왕").await.unwrap();
    // Under the old keys even the same Hangul nickname is not found.
    assert!(
        !users::nickname_exists(&mut conn, &Nickname::parse("낚시왕").unwrap())
            .await
            .unwrap()
    );

    let first = users::rekey_nicknames(&mut conn).await.unwrap();
    assert_eq!(first.updated, 2);
    assert_eq!(
        first.clashes,
        vec![ids[1]],
        "the later look-alike keeps its old key"
    );
    let again = users::rekey_nicknames(&mut conn).await.unwrap();
    assert_eq!(again, users::Rekeyed::default(), "nothing left to do");
    for taken in ["mike", "MIKE", "rnike", "낚시왕"] {
        assert!(
            users::nickname_exists(&mut conn, &Nickname::parse(taken).unwrap())
                .await
                .unwrap(),
            "{taken}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_urls_fail_with_clear_errors() {
    assert!(matches!(
        sitga_persistence::DatabaseUrl::parse("mysql://"),
        Err(DbError::Config(_))
    ));
    assert!(matches!(
        sitga_persistence::DatabaseUrl::parse("mysql://host"),
        Err(DbError::Config(_))
    ));
    let unreachable =
        sitga_persistence::DatabaseUrl::parse("mysql://root@127.0.0.1:1/nope").unwrap();
    let opts = sitga_persistence::PoolOptions {
        connect_timeout: std::time::Duration::from_secs(2),
        ..Default::default()
    };
    assert!(matches!(
        DbPool::connect(&unreachable, opts).await,
        Err(DbError::Unavailable(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn instances_starting_together_migrate_once() {
    let db = TestDatabase::create_unmigrated().await.unwrap();
    let runs: Vec<_> = (0..4)
        .map(|_| {
            let url = db.url.clone();
            tokio::spawn(async move { sitga_persistence::run_migrations(&url).await })
        })
        .collect();
    let mut applied = Vec::new();
    for run in runs {
        match run.await.unwrap() {
            Ok(versions) => applied.extend(versions),
            // SQLite is single-process: a concurrent runner may find the
            // database locked, which is not a scenario embedded mode has.
            Err(e) if db.url.backend() == "sqlite" => eprintln!("sqlite concurrent migrate: {e}"),
            Err(e) => panic!("migration failed: {e}"),
        }
    }
    if db.url.backend() == "mysql" {
        let mut unique = applied.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(
            unique.len(),
            applied.len(),
            "each migration applied exactly once: {applied:?}"
        );
        assert!(!applied.is_empty());
    }
    assert!(
        sitga_persistence::run_migrations(&db.url)
            .await
            .unwrap()
            .is_empty()
    );
    let pool = db.pool().await.unwrap();
    let mut conn = pool.get().await.unwrap();
    users::insert(&mut conn, &new_user("m@example.com", "migrated"))
        .await
        .unwrap();
}

/// The embedded database holds password hashes and every wallet: its file
/// is the owner's only, and a directory made for it too.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sqlite_file_and_a_new_directory_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new-data-dir").join("sitga.sqlite");
    let url = sitga_persistence::DatabaseUrl::Sqlite(path.clone());
    sitga_persistence::run_migrations(&url).await.unwrap();
    let pool = DbPool::connect(&url, PoolOptions::default()).await.unwrap();
    pool.ping().await.unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(path.parent().unwrap()), 0o700);
}
