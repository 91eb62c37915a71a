use reqwest::Method;
use serde_json::json;
use sitga_testkit::{TestApp, expect_error, expect_json};
use sitga_user::Role;

#[tokio::test]
async fn signup_login_me_refresh_logout() {
    let app = TestApp::spawn().await;
    let created = expect_json(
        app.post_json(
            "/api/v1/auth/signup",
            &json!({
                "email": "Angler@Example.com",
                "password": "correct horse",
                "nickname": "낚시왕",
                "name": "김철수 🐟",
                "phone": "010-1234-5678",
                "province": "제주특별자치도",
            }),
        )
        .await,
        201,
    )
    .await;
    let user = &created["user"];
    assert_eq!(user["email"], "angler@example.com");
    assert_eq!(user["nickname"], "낚시왕");
    assert_eq!(user["name"], "김철수 🐟");
    assert_eq!(user["province"], "jeju");
    assert_eq!(user["account_type"], "member");
    assert_eq!(user["roles"], json!([]));
    assert!(user.get("password_hash").is_none() && user.get("password").is_none());

    let tokens = app.login("ANGLER@example.com", "correct horse").await;
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 900);
    let access = tokens["access_token"].as_str().unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap();

    let me = expect_json(app.get("/api/v1/users/me", Some(access)).await, 200).await;
    assert_eq!(me["id"], user["id"]);

    let rotated = expect_json(
        app.post_json("/api/v1/auth/refresh", &json!({"refresh_token": refresh}))
            .await,
        200,
    )
    .await;
    let new_refresh = rotated["refresh_token"].as_str().unwrap();
    assert_ne!(new_refresh, refresh);
    let new_access = rotated["access_token"].as_str().unwrap();
    expect_json(app.get("/api/v1/users/me", Some(new_access)).await, 200).await;

    let logout = app
        .post_json(
            "/api/v1/auth/logout",
            &json!({"refresh_token": new_refresh}),
        )
        .await;
    assert_eq!(logout.status(), 204);
    expect_error(
        app.post_json(
            "/api/v1/auth/refresh",
            &json!({"refresh_token": new_refresh}),
        )
        .await,
        401,
        "refresh_token_revoked",
    )
    .await;
    // The session's access tokens stop at once, not when they expire.
    for token in [access, new_access] {
        expect_error(
            app.get("/api/v1/users/me", Some(token)).await,
            401,
            "session_revoked",
        )
        .await;
    }
}

#[tokio::test]
async fn reusing_a_rotated_refresh_token_revokes_the_session() {
    let app = TestApp::spawn().await;
    let alice = app.user().create().await;
    let first = expect_json(
        app.post_json(
            "/api/v1/auth/refresh",
            &json!({"refresh_token": alice.refresh_token}),
        )
        .await,
        200,
    )
    .await;
    // The old token again: a copy exists somewhere.
    expect_error(
        app.post_json(
            "/api/v1/auth/refresh",
            &json!({"refresh_token": alice.refresh_token}),
        )
        .await,
        401,
        "refresh_token_reused",
    )
    .await;
    // ...so the legitimate successor is dead too.
    expect_error(
        app.post_json(
            "/api/v1/auth/refresh",
            &json!({"refresh_token": first["refresh_token"]}),
        )
        .await,
        401,
        "refresh_token_revoked",
    )
    .await;
    expect_error(
        app.post_json("/api/v1/auth/refresh", &json!({"refresh_token": "made-up"}))
            .await,
        401,
        "invalid_refresh_token",
    )
    .await;
}

#[tokio::test]
async fn concurrent_refreshes_with_one_token_yield_one_new_pair() {
    let app = TestApp::spawn().await;
    let alice = app.user().create().await;
    let body = json!({"refresh_token": alice.refresh_token});
    let requests: Vec<_> = (0..5)
        .map(|_| app.post_json("/api/v1/auth/refresh", &body))
        .collect();
    let statuses: Vec<u16> = futures_util::future::join_all(requests)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 401),
        "{statuses:?}"
    );
}

#[tokio::test]
async fn duplicates_are_409_with_the_field() {
    let app = TestApp::spawn().await;
    app.user()
        .email("taken@example.com")
        .nickname("Taken")
        .create()
        .await;
    let body = expect_error(
        app.post_json(
            "/api/v1/auth/signup",
            &json!({"email": "TAKEN@example.com", "password": "password123", "nickname": "fresh", "name": "x"}),
        )
        .await,
        409,
        "email_taken",
    )
    .await;
    assert_eq!(body["field"], "email");
    let body = expect_error(
        app.post_json(
            "/api/v1/auth/signup",
            &json!({"email": "new@example.com", "password": "password123", "nickname": "tAKEN", "name": "x"}),
        )
        .await,
        409,
        "nickname_taken",
    )
    .await;
    assert_eq!(body["field"], "nickname");
}

#[tokio::test]
async fn look_alike_and_invisible_nicknames_are_refused() {
    let app = TestApp::spawn().await;
    app.user().nickname("김셰프").create().await;
    app.user().nickname("paypal").create().await;
    let owner = app.user().nickname("kim").create().await;
    let app = &app;
    let signup = |n: u32, nickname: &str| {
        let body = json!({
            "email": format!("spoof{n}@example.com"),
            "password": "password123",
            "nickname": nickname,
            "name": "x",
        });
        async move { app.post_json("/api/v1/auth/signup", &body).await }
    };
    // The invisible Hangul filler after a real name, and direction controls.
    for (n, bad) in ["김셰프\u{3164}", "\u{202E}feSmik", "ki\u{200B}m"]
        .iter()
        .enumerate()
    {
        let body = expect_error(signup(n as u32, bad).await, 400, "validation_failed").await;
        assert_eq!(body["field"], "nickname", "{bad:?}");
    }
    // Full-width letters, a digit for a letter, a Cyrillic letter.
    for (n, look_alike) in ["ＫＩＭ", "paypa1"].iter().enumerate() {
        let body = expect_error(
            signup(10 + n as u32, look_alike).await,
            409,
            "nickname_taken",
        )
        .await;
        assert_eq!(body["field"], "nickname", "{look_alike:?}");
    }
    expect_error(signup(20, "p\u{0430}ypal").await, 400, "validation_failed").await;
    // Renaming into a look-alike is refused the same way.
    let res = app
        .send(
            Method::PATCH,
            "/api/v1/users/me",
            Some(&owner.access_token),
            Some(json!({"nickname": "PAYPA1"})),
        )
        .await;
    expect_error(res, 409, "nickname_taken").await;
    // And the availability check agrees.
    let res = app
        .get(
            "/api/v1/auth/availability?nickname=%EF%BC%AB%EF%BC%A9%EF%BC%AD",
            None,
        )
        .await;
    assert_eq!(expect_json(res, 200).await["available"], false);
}

#[tokio::test]
async fn availability_checks() {
    let app = TestApp::spawn().await;
    app.user()
        .email("here@example.com")
        .nickname("바다")
        .create()
        .await;
    let check = |q: &'static str| app.get(q, None);
    assert_eq!(
        expect_json(
            check("/api/v1/auth/availability?email=HERE%40example.com").await,
            200
        )
        .await["available"],
        false
    );
    assert_eq!(
        expect_json(
            check("/api/v1/auth/availability?email=free%40example.com").await,
            200
        )
        .await["available"],
        true
    );
    assert_eq!(
        expect_json(
            check("/api/v1/auth/availability?nickname=%EB%B0%94%EB%8B%A4").await,
            200
        )
        .await["available"],
        false
    );
    // Neither or both: each parameter is fine, together they are not.
    expect_error(
        check("/api/v1/auth/availability").await,
        422,
        "inconsistent_fields",
    )
    .await;
    expect_error(
        check("/api/v1/auth/availability?email=a%40b.co&nickname=x1").await,
        422,
        "inconsistent_fields",
    )
    .await;
    expect_error(
        check("/api/v1/auth/availability?email=nope").await,
        400,
        "validation_failed",
    )
    .await;
    expect_error(
        check("/api/v1/auth/availability?colour=red").await,
        400,
        "invalid_query",
    )
    .await;
}

#[tokio::test]
async fn login_failures_look_the_same_and_are_rate_limited() {
    let app = TestApp::builder().login_quotas(1000, 3).spawn().await;
    let alice = app.user().create().await; // one login used
    let wrong = app
        .post_json(
            "/api/v1/auth/login",
            &json!({"email": alice.email, "password": "wrong password"}),
        )
        .await;
    let unknown = app
        .post_json(
            "/api/v1/auth/login",
            &json!({"email": "ghost@example.com", "password": "wrong password"}),
        )
        .await;
    let wrong = expect_error(wrong, 401, "invalid_credentials").await;
    let unknown = expect_error(unknown, 401, "invalid_credentials").await;
    assert_eq!(wrong, unknown);

    // One failure so far for alice (the limit is 3 failures a minute).
    // Successful logins spend nothing: a victim is not locked out by
    // logging in, nor by someone else's correct attempts.
    for _ in 0..5 {
        let ok = app.login(&alice.email, &alice.password).await;
        assert!(ok["access_token"].is_string());
    }
    for _ in 0..3 {
        let wrong = app
            .post_json(
                "/api/v1/auth/login",
                &json!({"email": alice.email, "password": "wrong password"}),
            )
            .await;
        assert_eq!(wrong.status(), 401);
    }
    // Locked now: even the right password is refused, or the answer would
    // confirm a guess.
    let limited = app
        .post_json(
            "/api/v1/auth/login",
            &json!({"email": alice.email, "password": alice.password}),
        )
        .await;
    let retry_after: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after));
    expect_error(limited, 429, "rate_limited").await;
}

#[tokio::test]
async fn forwarded_for_counts_only_from_trusted_proxies() {
    let signup = |app: &TestApp, n: u32, forwarded_for: &'static str| {
        let req = app
            .client
            .post(app.url("/api/v1/auth/signup"))
            .header("x-forwarded-for", forwarded_for)
            .json(&json!({
                "email": format!("fwd{n}@example.com"),
                "password": "correct horse battery",
                "nickname": format!("fwd{n}"),
                "name": "Forwarded",
            }));
        async move { req.send().await.unwrap().status().as_u16() }
    };
    // Directly exposed: the header is the client's own claim and ignored,
    // so a flood cannot pick a fresh bucket per request.
    let direct = TestApp::builder().signup_quotas(1, 100).spawn().await;
    assert_eq!(signup(&direct, 1, "198.51.100.1").await, 201);
    assert_eq!(signup(&direct, 2, "198.51.100.2").await, 429);

    // Behind a trusted proxy (the test client's loopback): each client
    // the proxy names has its own bucket, and a forged leftmost entry
    // does not make a new client.
    let proxied = TestApp::builder()
        .signup_quotas(1, 100)
        .trusted_proxies(&["127.0.0.1", "::1"])
        .spawn()
        .await;
    assert_eq!(signup(&proxied, 1, "198.51.100.1").await, 201);
    assert_eq!(signup(&proxied, 2, "198.51.100.2").await, 201);
    assert_eq!(signup(&proxied, 3, "203.0.113.7, 198.51.100.2").await, 429);
}

#[tokio::test]
async fn profile_updates() {
    let app = TestApp::spawn().await;
    let alice = app.user().nickname("alice").create().await;
    app.user().nickname("bob").create().await;
    let token = Some(alice.access_token.as_str());
    let patch =
        |body: serde_json::Value| app.send(Method::PATCH, "/api/v1/users/me", token, Some(body));

    let updated = expect_json(
        patch(json!({"nickname": "앨리스", "phone": "010-9999-0000", "province": "Busan", "bank_account": "국민 123-456"})).await,
        200,
    )
    .await;
    assert_eq!(updated["nickname"], "앨리스");
    assert_eq!(updated["province"], "busan");
    assert_eq!(updated["bank_account"], "국민 123-456");

    let cleared = expect_json(patch(json!({"phone": null})).await, 200).await;
    assert_eq!(cleared["phone"], serde_json::Value::Null);
    assert_eq!(cleared["province"], "busan", "absent fields are kept");

    expect_error(
        patch(json!({"nickname": "BOB"})).await,
        409,
        "nickname_taken",
    )
    .await;
    let bad = expect_error(
        patch(json!({"province": "Atlantis"})).await,
        400,
        "validation_failed",
    )
    .await;
    assert_eq!(bad["field"], "province");
    let bad = expect_error(
        patch(json!({"email": "new@example.com"})).await,
        400,
        "invalid_field",
    )
    .await;
    assert_eq!(bad["field"], "email");
    expect_json(patch(json!({})).await, 200).await;
}

#[tokio::test]
async fn password_change_revokes_other_sessions() {
    let app = TestApp::spawn().await;
    let alice = app.user().create().await;
    let other_session = app.login(&alice.email, &alice.password).await;
    let put = |body: serde_json::Value| {
        app.send(
            Method::PUT,
            "/api/v1/users/me/password",
            Some(&alice.access_token),
            Some(body),
        )
    };
    expect_error(
        put(json!({"current": "not it at all", "new": "brand new pass"})).await,
        403,
        "wrong_password",
    )
    .await;
    let short = expect_error(
        put(json!({"current": alice.password, "new": "short"})).await,
        400,
        "validation_failed",
    )
    .await;
    assert_eq!(short["field"], "new");
    assert_eq!(
        put(json!({"current": alice.password, "new": "brand new pass"}))
            .await
            .status(),
        204
    );

    expect_error(
        app.post_json(
            "/api/v1/auth/login",
            &json!({"email": alice.email, "password": alice.password}),
        )
        .await,
        401,
        "invalid_credentials",
    )
    .await;
    app.login(&alice.email, "brand new pass").await;
    expect_error(
        app.post_json(
            "/api/v1/auth/refresh",
            &json!({"refresh_token": other_session["refresh_token"]}),
        )
        .await,
        401,
        "refresh_token_revoked",
    )
    .await;
    // The other session's access token stops at once; this one goes on.
    expect_error(
        app.get("/api/v1/users/me", other_session["access_token"].as_str())
            .await,
        401,
        "session_revoked",
    )
    .await;
    expect_json(
        app.get("/api/v1/users/me", Some(&alice.access_token)).await,
        200,
    )
    .await;
    // The session that changed the password stays logged in.
    expect_json(
        app.post_json(
            "/api/v1/auth/refresh",
            &json!({"refresh_token": alice.refresh_token}),
        )
        .await,
        200,
    )
    .await;
}

#[tokio::test]
async fn admin_lists_users_and_others_cannot() {
    let app = TestApp::spawn().await;
    let admin = app.user().role(Role::Admin).create().await;
    let member = app.user().create().await;
    let operator = app.user().role(Role::Operator).create().await;
    for i in 0..3 {
        app.user().nickname(&format!("extra{i}")).create().await;
    }
    expect_error(
        app.get("/api/v1/admin/users", Some(&member.access_token))
            .await,
        403,
        "forbidden",
    )
    .await;
    expect_error(
        app.get("/api/v1/admin/users", Some(&operator.access_token))
            .await,
        403,
        "forbidden",
    )
    .await;
    expect_error(
        app.get("/api/v1/admin/users", None).await,
        401,
        "missing_token",
    )
    .await;

    let page = expect_json(
        app.get(
            "/api/v1/admin/users?page=2&per_page=2",
            Some(&admin.access_token),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(page["total"], 6);
    assert_eq!(page["page"], 2);
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let text = page.to_string();
    assert!(
        !text.contains("argon2") && !text.contains("password") && !text.contains("refresh"),
        "{text}"
    );
    let first = expect_json(
        app.get("/api/v1/admin/users?per_page=1", Some(&admin.access_token))
            .await,
        200,
    )
    .await;
    assert_eq!(first["items"][0]["roles"], json!(["admin"]));

    for bad in [
        "page=0",
        "per_page=0",
        "per_page=101",
        "page=abc",
        "page=-1",
    ] {
        expect_error(
            app.get(
                &format!("/api/v1/admin/users?{bad}"),
                Some(&admin.access_token),
            )
            .await,
            400,
            "invalid_query",
        )
        .await;
    }
}

fn signup_body(n: usize) -> serde_json::Value {
    json!({
        "email": format!("flood{n}@example.com"),
        "password": "correct horse",
        "nickname": format!("flood{n}"),
        "name": "홍길동",
    })
}

#[tokio::test]
async fn signups_and_availability_checks_are_rate_limited_per_client() {
    let app = TestApp::builder().signup_quotas(2, 3).spawn().await;
    for n in 0..2 {
        expect_json(
            app.post_json("/api/v1/auth/signup", &signup_body(n)).await,
            201,
        )
        .await;
    }
    let limited = app.post_json("/api/v1/auth/signup", &signup_body(2)).await;
    assert!(limited.headers().contains_key("retry-after"));
    expect_error(limited, 429, "rate_limited").await;
    // Logins keep their own buckets.
    app.login("flood0@example.com", "correct horse").await;

    for n in 0..3 {
        let free = app
            .get(&format!("/api/v1/auth/availability?nickname=free{n}"), None)
            .await;
        expect_json(free, 200).await;
    }
    expect_error(
        app.get("/api/v1/auth/availability?nickname=free9", None)
            .await,
        429,
        "rate_limited",
    )
    .await;
}

/// 200 sign-ups at once: argon2 runs a few at a time and the surplus is
/// turned away with 503 `overloaded` instead of hashing on hundreds of
/// threads (19 MiB each); logins are still answered meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_signup_flood_is_bounded_and_logins_still_work() {
    let app = TestApp::spawn().await;
    let alice = app.user().create().await;
    let bodies: Vec<_> = (0..200).map(signup_body).collect();
    let flood: Vec<_> = bodies
        .iter()
        .map(|body| app.post_json("/api/v1/auth/signup", body))
        .collect();
    let credentials = json!({"email": alice.email, "password": alice.password});
    let login = app.post_json("/api/v1/auth/login", &credentials);
    let (answers, login) = tokio::join!(futures_util::future::join_all(flood), login);
    assert_eq!(login.status(), 200, "a login during the flood");
    let mut created = 0;
    let mut overloaded = 0;
    for answer in answers {
        match answer.status().as_u16() {
            201 => created += 1,
            503 => {
                expect_error(answer, 503, "overloaded").await;
                overloaded += 1;
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert!(created >= 2, "some sign-ups went through ({created})");
    assert!(
        overloaded > 0,
        "the surplus was turned away ({created} created)"
    );
}

#[tokio::test]
async fn a_taken_email_is_refused_before_hashing() {
    let app = TestApp::spawn().await;
    expect_json(
        app.post_json("/api/v1/auth/signup", &signup_body(1)).await,
        201,
    )
    .await;
    // 100 sign-ups with the taken address at once: each is a quick 409,
    // none is turned away for lack of hashing places.
    let bodies: Vec<_> = (0..100)
        .map(|n| {
            let mut body = signup_body(1);
            body["nickname"] = json!(format!("other{n}"));
            body
        })
        .collect();
    let again: Vec<_> = bodies
        .iter()
        .map(|body| app.post_json("/api/v1/auth/signup", body))
        .collect();
    for answer in futures_util::future::join_all(again).await {
        expect_error(answer, 409, "email_taken").await;
    }
}
