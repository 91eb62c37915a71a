//! The `sitga` binary's own behaviour: help, bad configuration, migrate,
//! admin grant.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::{Command, Output};

fn sitga(args: &[&str], env: &[(&str, &str)], data_dir: &std::path::Path) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sitga"));
    cmd.args(args)
        .env_remove("DATABASE_URL")
        .env_remove("REDIS_URL")
        .env_remove("JWT_SECRET")
        .env("SITGA_DATA_DIR", data_dir)
        .env("SITGA_BIND", "127.0.0.1:0")
        .current_dir(data_dir);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run sitga")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn help_lists_every_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    let out = sitga(&["--help"], &[], dir.path());
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for sub in ["serve", "migrate", "admin", "openapi"] {
        assert!(text.contains(sub), "{sub} missing from --help:\n{text}");
    }
    let out = sitga(&["admin", "grant", "--help"], &[], dir.path());
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("EMAIL"));
}

#[test]
fn bad_configuration_exits_2_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let out = sitga(
        &["serve"],
        &[("DATABASE_URL", "postgres://nope/db")],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("mysql://"), "{}", stderr(&out));

    let out = sitga(
        &["serve"],
        &[("DATABASE_URL", "mysql://root@127.0.0.1:3306/x")],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("JWT_SECRET is required"),
        "{}",
        stderr(&out)
    );

    let out = sitga(&["serve"], &[("SITGA_BIND", "not-an-address")], dir.path());
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(!stderr(&out).contains("panicked"));

    // The .env.example placeholder passes the length check but anyone can
    // read it: refused at start-up, the secret itself never printed.
    let placeholder = "change-me-to-the-output-of-openssl-rand-hex-32";
    let out = sitga(&["serve"], &[("JWT_SECRET", placeholder)], dir.path());
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("placeholder"), "{}", stderr(&out));
    assert!(!stderr(&out).contains(placeholder));
}

#[test]
fn unreachable_database_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let out = sitga(
        &["serve"],
        &[
            ("DATABASE_URL", "mysql://root@127.0.0.1:1/sitga"),
            ("JWT_SECRET", "5e8b1d4a7c0f3e6b9d2a5c8f1b4e7a0d3c6f9b2e"),
            ("SITGA_PAYMENT_PROVIDER", "dev"),
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(!stderr(&out).contains("panicked"));
}

#[test]
fn migrate_then_grant_on_the_embedded_database() {
    let dir = tempfile::tempdir().unwrap();
    let out = sitga(&["migrate"], &[], dir.path());
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("applied"));
    let again = sitga(&["migrate"], &[], dir.path());
    assert!(String::from_utf8_lossy(&again.stdout).contains("up to date"));

    let out = sitga(
        &["admin", "grant", "ghost@example.com", "admin"],
        &[],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no account"), "{}", stderr(&out));
    let out = sitga(
        &["admin", "grant", "a@example.com", "root"],
        &[],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn openapi_command_prints_the_spec() {
    let dir = tempfile::tempdir().unwrap();
    let out = sitga(&["openapi"], &[], dir.path());
    assert!(out.status.success());
    let spec: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(spec, sitga_api::openapi::spec());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grant_and_revoke_change_roles() {
    use sitga_persistence::{DatabaseUrl, DbPool, PoolOptions, users};
    let dir = tempfile::tempdir().unwrap();
    assert!(sitga(&["migrate"], &[], dir.path()).status.success());
    let url = DatabaseUrl::Sqlite(dir.path().join("sitga.sqlite"));
    let pool = DbPool::connect(&url, PoolOptions::default()).await.unwrap();
    let mut conn = pool.get().await.unwrap();
    let user = users::insert(
        &mut conn,
        &users::NewUser {
            email: sitga_user::Email::parse("boss@example.com").unwrap(),
            nickname: sitga_user::Nickname::parse("boss").unwrap(),
            name: sitga_user::PersonName::parse("Boss").unwrap(),
            phone: None,
            address: None,
            province: None,
            account_type: sitga_user::AccountType::Member,
            password_hash: sitga_user::PasswordHash::from_stored("x".into()),
        },
    )
    .await
    .unwrap();

    let dir_path = dir.path().to_owned();
    let run = move |args: &'static [&'static str]| {
        let dir_path = dir_path.clone();
        std::thread::spawn(move || sitga(args, &[], &dir_path))
            .join()
            .unwrap()
    };
    let out = run(&["admin", "grant", "BOSS@example.com", "admin"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("granted admin"));
    assert_eq!(
        users::roles_of(&mut conn, user.id).await.unwrap(),
        vec![sitga_user::Role::Admin]
    );
    let out = run(&["admin", "grant", "boss@example.com", "admin"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("already has"));
    let out = run(&["admin", "revoke", "boss@example.com", "admin"]);
    assert!(out.status.success());
    assert!(
        users::roles_of(&mut conn, user.id)
            .await
            .unwrap()
            .is_empty()
    );
    // Both changes are in the audit log (the no-op grant is not).
    let filter = sitga_persistence::audit::AuditFilter {
        subject_user: Some(user.id),
        ..Default::default()
    };
    let (rows, total) = sitga_persistence::audit::list(&mut conn, &filter, 0, 10)
        .await
        .unwrap();
    assert_eq!(total, 2);
    assert_eq!(rows[0].action, "role_revoke");
    assert_eq!(rows[1].action, "role_grant");
    assert_eq!(
        rows[1].reason.as_deref(),
        Some("admin via the sitga command line")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_data_fills_rooms_once() {
    use sitga_persistence::auctions::{ListFilter, Sort};
    use sitga_persistence::{DatabaseUrl, DbPool, PoolOptions, auctions, users};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_owned();
    let out = std::thread::spawn(move || sitga(&["demo-data"], &[], &path))
        .join()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        text.contains("operator login: operator@demo.sitga.kr"),
        "{text}"
    );
    let path = dir.path().to_owned();
    let again = std::thread::spawn(move || sitga(&["demo-data"], &[], &path))
        .join()
        .unwrap();
    assert!(String::from_utf8_lossy(&again.stdout).contains("already present"));

    let url = DatabaseUrl::Sqlite(dir.path().join("sitga.sqlite"));
    let pool = DbPool::connect(&url, PoolOptions::default()).await.unwrap();
    let mut conn = pool.get().await.unwrap();
    let open = ListFilter {
        status: Some(sitga_auction::AuctionStatus::Open),
        seller_id: None,
        query: None,
        sort: Sort::Newest,
    };
    let (rows, total) = auctions::list(&mut conn, &open, 0, 100).await.unwrap();
    assert_eq!(total, 5);
    let clock = rows.iter().find(|a| a.is_clock()).expect("a clock lot");
    assert_eq!(clock.bid_count, 1, "two of its boxes bought by one accept");
    let scheduled = ListFilter {
        status: Some(sitga_auction::AuctionStatus::Scheduled),
        ..open.clone()
    };
    let (upcoming, total) = auctions::list(&mut conn, &scheduled, 0, 100).await.unwrap();
    assert_eq!(total, 1, "one lot opens later");
    assert!(
        upcoming[0]
            .starts_at()
            .is_some_and(|at| at > chrono::Utc::now())
    );
    assert!(
        rows.iter().filter(|a| a.bid_count > 0).count() >= 3,
        "live rooms have bids"
    );
    // Every demo auction shows a drawn catch photo, stored in the data
    // directory's photo store.
    let ids: Vec<_> = rows.iter().map(|a| a.id).collect();
    let photos = sitga_persistence::photos::of_auctions(&mut conn, &ids)
        .await
        .unwrap();
    assert_eq!(photos.len(), rows.len());
    let lots = sitga_persistence::lots::of_auctions(&mut conn, &ids)
        .await
        .unwrap();
    assert_eq!(lots.len(), rows.len(), "every demo lot has its catch facts");
    assert!(
        lots.values()
            .all(|l| l.lot.storage.is_some() && l.lot.delivery.is_some())
    );
    let first = sitga_persistence::photos::find(&mut conn, sitga_api::openapi::EXAMPLE_PHOTO_ID)
        .await
        .unwrap()
        .expect("the first demo photo has its fixed id");
    assert_eq!((first.width, first.height), (960, 640));
    let stored = dir
        .path()
        .join("photos")
        .join(&first.thumb[..2])
        .join(format!("{}.jpg", first.thumb));
    assert!(stored.is_file(), "{} is missing", stored.display());
    // A sale in every state a sale rests in (`received` settles at once),
    // the settled one rated by both sides; the clock's accept waits for its
    // buyer's details too.
    let later = chrono::Utc::now() + chrono::Duration::days(1);
    for state in sitga_auction::SaleState::ALL {
        let found = sitga_persistence::sales::in_state_since(&mut conn, state, later, 10)
            .await
            .unwrap();
        let expected = match state {
            sitga_auction::SaleState::Received => 0,
            sitga_auction::SaleState::AwaitingDetails => 2,
            _ => 1,
        };
        assert_eq!(found.len(), expected, "{}", state.code());
        if state == sitga_auction::SaleState::Settled {
            let raters = sitga_persistence::sales::raters(&mut conn, found[0].id)
                .await
                .unwrap();
            assert_eq!(raters.len(), 2);
        }
    }
    let history = auctions::chat_history(&mut conn, rows.last().unwrap().id, None, 100)
        .await
        .unwrap();
    assert!(!history.is_empty());
    let operator = users::find_by_email(&mut conn, "operator@demo.sitga.kr")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        users::roles_of(&mut conn, operator.id).await.unwrap(),
        vec![sitga_user::Role::Operator],
        "the demo operator, whose password is published, is not an admin"
    );

    // Coffee grounds: verified and unverified businesses, requests filled
    // by cafes, and only pickups between verified businesses counting.
    use sitga_coffee_grounds::{PickupKind, PickupStatus};
    use sitga_persistence::{businesses, pickups};
    let (registered, _) = businesses::list(&mut conn, None, 0, 100).await.unwrap();
    let status_count =
        |s: sitga_user::VerificationStatus| registered.iter().filter(|b| b.status() == s).count();
    assert_eq!(registered.len(), 48);
    assert_eq!(status_count(sitga_user::VerificationStatus::Pending), 5);
    assert_eq!(status_count(sitga_user::VerificationStatus::Rejected), 1);
    let verified: std::collections::HashSet<_> = registered
        .iter()
        .filter(|b| b.status() == sitga_user::VerificationStatus::Verified)
        .map(|b| b.user_id)
        .collect();
    let (all, _) = pickups::list_all(
        &mut conn,
        None,
        Some(PickupStatus::Completed),
        None,
        0,
        100_000,
    )
    .await
    .unwrap();
    let filled = all
        .iter()
        .filter(|p| p.kind() == PickupKind::Demand)
        .count();
    assert!(filled > 50, "requests filled by cafes: {filled}");
    let (mut counted, mut uncounted) = (0, 0);
    for p in &all {
        let sides = p.sides();
        let both = [sides.cafe, sides.recycler]
            .iter()
            .all(|s| s.is_some_and(|id| verified.contains(&id)));
        assert_eq!(p.counted_at().is_some(), both, "pickup {}", p.id);
        if both { counted += 1 } else { uncounted += 1 }
    }
    assert!(
        counted > 1_000 && uncounted > 50,
        "{counted} counted, {uncounted} not"
    );
    // Two pickups a minute either side of this month's first midnight in Seoul.
    let calendar = sitga_core::Calendar::default();
    let start = calendar
        .month_range(calendar.month_of(chrono::Utc::now()))
        .0;
    let edges: Vec<_> = all
        .iter()
        .filter_map(|p| p.completed_at())
        .filter(|at| (*at - start).abs() == chrono::Duration::minutes(1))
        .collect();
    assert_eq!(edges.len(), 2, "{edges:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_data_refuses_a_database_with_real_accounts() {
    use sitga_persistence::{DatabaseUrl, DbPool, PoolOptions, users};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_owned();
    let out = std::thread::spawn(move || sitga(&["migrate"], &[], &path))
        .join()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let url = DatabaseUrl::Sqlite(dir.path().join("sitga.sqlite"));
    let pool = DbPool::connect(&url, PoolOptions::default()).await.unwrap();
    let mut conn = pool.get().await.unwrap();
    users::insert(
        &mut conn,
        &users::NewUser {
            email: sitga_user::Email::parse("owner@cafe.example").unwrap(),
            nickname: sitga_user::Nickname::parse("owner").unwrap(),
            name: sitga_user::PersonName::parse("Owner").unwrap(),
            phone: None,
            address: None,
            province: None,
            account_type: sitga_user::AccountType::Cafe,
            password_hash: sitga_user::PasswordHash::from_stored("x".into()),
        },
    )
    .await
    .unwrap();
    let path = dir.path().to_owned();
    let out = std::thread::spawn(move || sitga(&["demo-data"], &[], &path))
        .join()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--force"), "{}", stderr(&out));
    assert!(
        users::find_by_email(&mut conn, sitga_server::demo::OPERATOR_EMAIL)
            .await
            .unwrap()
            .is_none(),
        "nothing was written"
    );
}

/// The model card's worked example, on a small subset of the shipped
/// training photos: an operator trains a model of their own species,
/// scores it, installs it, and rolls it back, with `sitga model`.
#[test]
fn an_operator_trains_scores_installs_and_rolls_back_a_model() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let runtime = sitga_inference::find_runtime(&root).expect("run scripts/bootstrap.sh");
    let photos = root.join("../shared/fish/f4k/train");
    assert!(photos.is_dir(), "no photos at {}", photos.display());
    let dir = tempfile::tempdir().unwrap();
    // The first `n` photos (by name) of one species' folder, into `to`.
    let copy_first = |from: &str, to: &std::path::Path, n: usize| {
        std::fs::create_dir_all(to).unwrap();
        let mut files: Vec<_> = std::fs::read_dir(photos.join(from))
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        files.sort();
        for file in files.iter().take(n) {
            std::fs::copy(file, to.join(file.file_name().unwrap())).unwrap();
        }
        files.len().min(n)
    };
    let catch = dir.path().join("catch");
    let mut copied = 0;
    for (from, to) in [
        ("04_Amphiprion_clarkii", "01_Amphiprion_clarkii"),
        ("10_Neoniphon_sammara", "02_Neoniphon_sammara"),
        ("23_Siganus_fuscescens", "03_Siganus_fuscescens"),
    ] {
        copied += copy_first(from, &catch.join(to), 12);
    }
    std::fs::write(
        catch.join("labels.csv"),
        "folder,korean,english,latin\n01_Amphiprion_clarkii,흰동가리,Clark's anemonefish,Amphiprion clarkii\n03_Siganus_fuscescens,독가시치,Mottled spinefoot,Siganus fuscescens\n",
    )
    .unwrap();
    let assets = root.join("assets").to_string_lossy().into_owned();
    let env = [
        ("ORT_DYLIB_PATH", runtime.to_str().unwrap()),
        ("SITGA_ASSETS_DIR", assets.as_str()),
    ];
    let run = |args: &[&str]| {
        let out = sitga(args, &env, dir.path());
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr(&out),
        )
    };
    let eval = |args: &[&str]| -> serde_json::Value {
        let (code, stdout, err) = run(args);
        assert_eq!(code, Some(0), "{err}");
        serde_json::from_str(stdout.trim()).unwrap()
    };

    // 1. Train.
    let (code, stdout, err) = run(&[
        "model",
        "train",
        "catch",
        "--out",
        "harbour",
        "--name",
        "harbour-catch",
        "--version",
        "3",
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        stdout.contains(&format!("3 species, {copied} photos")),
        "{stdout}"
    );
    assert!(stdout.contains("held-out validation"), "{stdout}");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("harbour/model.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["labels"][0]["name_ko"], "흰동가리");
    assert_eq!(manifest["labels"][1]["latin"], "Neoniphon sammara");
    assert_eq!(manifest["labels"][2]["name_en"], "Mottled spinefoot");
    let threshold = manifest["unknown_threshold"].as_f64().unwrap();
    assert!((0.0..1.0).contains(&threshold), "{threshold}");
    let metrics: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("harbour/metrics.json")).unwrap())
            .unwrap();
    assert!(metrics["validation"]["photos"].as_u64().unwrap() > 0);
    // Same photos, same seed: the same model, byte for byte.
    let (code, _, err) = run(&[
        "model",
        "train",
        "catch",
        "--out",
        "again",
        "--name",
        "harbour-catch",
        "--version",
        "3",
    ]);
    assert_eq!(code, Some(0), "{err}");
    let weights =
        |folder: &str| std::fs::read(dir.path().join(folder).join("head.safetensors")).unwrap();
    assert_eq!(weights("harbour"), weights("again"));

    // 2. Evaluate: the new model on the folder, and the serving (shipped)
    // one, which knows these species by their Latin names.
    let ours = eval(&["model", "eval", "catch", "--model", "harbour", "--json"]);
    assert_eq!(ours["model"], "harbour-catch");
    assert_eq!(ours["metrics"]["photos"], copied);
    assert!(ours["metrics"]["top1"].as_f64().unwrap() >= 0.9, "{ours}");
    let shipped = eval(&["model", "eval", "catch", "--json"]);
    assert_eq!(shipped["model"], "fish-species");
    // Fish the new model was not trained on, in nested folders: counted,
    // and each either answered unknown or named as one of its species.
    let others = dir.path().join("others");
    for (i, from) in ["06_Chaetodon_trifascialis", "16_Lutjanus_fulvus"]
        .iter()
        .enumerate()
    {
        assert_eq!(copy_first(from, &others.join(format!("trip{i}")), 5), 5);
    }
    let open = eval(&[
        "model",
        "eval",
        "--unknown",
        "others",
        "--model",
        "harbour",
        "--json",
    ]);
    assert!(open["metrics"].is_null(), "{open}");
    assert_eq!(open["open_set"]["photos"], 10, "{open}");
    let rate = open["open_set"]["unknown_rate"].as_f64().unwrap();
    let named: u64 = open["open_set"]["named_as"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["photos"].as_u64().unwrap())
        .sum();
    assert_eq!(((1.0 - rate) * 10.0).round() as u64, named, "{open}");
    let (code, stdout, err) = run(&[
        "model",
        "eval",
        "catch",
        "--unknown",
        "others",
        "--model",
        "harbour",
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert!(stdout.contains("fish it does not know"), "{stdout}");
    assert!(stdout.contains("mean per-class recall"), "{stdout}");

    // 3. Install: the serving model is now ours.
    let (code, stdout, err) = run(&["model", "install", "harbour"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        stdout.contains("installed #1: harbour-catch v3"),
        "{stdout}"
    );
    assert_eq!(
        eval(&["model", "eval", "catch", "--json"])["model"],
        "harbour-catch"
    );
    let (_, stdout, _) = run(&["model", "list"]);
    assert!(
        stdout.contains("#1") && stdout.contains("serving"),
        "{stdout}"
    );

    // Rollback: the shipped folder serves again.
    let (code, stdout, err) = run(&["model", "rollback"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(stdout.contains("configured folder"), "{stdout}");
    assert_eq!(
        eval(&["model", "eval", "catch", "--json"])["model"],
        "fish-species"
    );
    let (code, _, err) = run(&["model", "rollback"]);
    assert_eq!(code, Some(1), "{err}");

    // Refusals: a model of another backbone, a folder of one species, a
    // folder naming no species the model knows.
    let mut other: serde_json::Value = manifest.clone();
    other["backbone"]["sha256"] = "ab".repeat(32).into();
    std::fs::write(
        dir.path().join("harbour/model.json"),
        serde_json::to_vec(&other).unwrap(),
    )
    .unwrap();
    let (code, _, err) = run(&["model", "install", "harbour"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("trained on backbone"), "{err}");
    std::fs::create_dir_all(dir.path().join("one/01_Only")).unwrap();
    let (code, _, err) = run(&["model", "train", "one", "--out", "x"]);
    assert_eq!(code, Some(2), "{err}");
    let one_photo = catch
        .join("02_Neoniphon_sammara")
        .read_dir()
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    for folder in ["not_a_species", "02_Neoniphon_sammara"] {
        let to = dir.path().join("bad").join(folder);
        std::fs::create_dir_all(&to).unwrap();
        std::fs::copy(&one_photo, to.join("x.png")).unwrap();
    }
    let (code, _, err) = run(&["model", "eval", "bad"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("names no species"), "{err}");
    std::fs::create_dir_all(dir.path().join("empty/sub")).unwrap();
    let (code, _, err) = run(&["model", "eval", "--unknown", "empty"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("holds no photos"), "{err}");
}
