use serde_json::{Value, json};
use sitga_testkit::{TestApp, expect_error, expect_json};

fn valid_signup() -> Value {
    json!({"email": "ok@example.com", "password": "password123", "nickname": "okay", "name": "Ok"})
}

fn with(field: &str, value: Value) -> Value {
    let mut body = valid_signup();
    body[field] = value;
    body
}

fn without(field: &str) -> Value {
    let mut body = valid_signup();
    body.as_object_mut().unwrap().remove(field);
    body
}

#[tokio::test]
async fn signup_rejects_bad_fields_naming_them() {
    let app = TestApp::spawn().await;
    let cases: Vec<(Value, &str, &str)> = vec![
        (without("email"), "invalid_field", "email"),
        (without("password"), "invalid_field", "password"),
        (without("nickname"), "invalid_field", "nickname"),
        (with("email", json!(42)), "invalid_field", "email"),
        (with("password", json!(["a"])), "invalid_field", "password"),
        (with("nickname", Value::Null), "invalid_field", "nickname"),
        (
            with("account_type", json!("admin")),
            "invalid_field",
            "account_type",
        ),
        (with("role", json!("admin")), "invalid_field", "role"),
        (
            with("email", json!("not-an-email")),
            "validation_failed",
            "email",
        ),
        (
            with("email", json!(format!("{}@example.com", "a".repeat(300)))),
            "validation_failed",
            "email",
        ),
        (
            with("email", json!("' OR '1'='1@example.com")),
            "validation_failed",
            "email",
        ),
        (
            with("password", json!("short")),
            "validation_failed",
            "password",
        ),
        (
            with("password", json!("x".repeat(129))),
            "validation_failed",
            "password",
        ),
        (
            with("nickname", json!("a".repeat(21))),
            "validation_failed",
            "nickname",
        ),
        (
            with("nickname", json!("🐟🐠🐡")),
            "validation_failed",
            "nickname",
        ),
        (
            with("nickname", json!("robert'); DROP TABLE users;--")),
            "validation_failed",
            "nickname",
        ),
        (
            with("nickname", json!("bad\u{0}nul")),
            "validation_failed",
            "nickname",
        ),
        (
            with("name", json!("n".repeat(51))),
            "validation_failed",
            "name",
        ),
        (with("name", json!("")), "validation_failed", "name"),
        (
            with("phone", json!("call me")),
            "validation_failed",
            "phone",
        ),
        (
            with("province", json!("Tokyo")),
            "validation_failed",
            "province",
        ),
        (
            with("address", json!("주".repeat(201))),
            "validation_failed",
            "address",
        ),
    ];
    for (body, code, field) in cases {
        let res = app.post_json("/api/v1/auth/signup", &body).await;
        let err = expect_error(res, 400, code).await;
        assert_eq!(err["field"], field, "body {body} gave {err}");
    }
    // Nothing was created by any of them.
    let mut conn = app.db.get().await.unwrap();
    let (_, total) = sitga_persistence::users::list(&mut conn, 0, 10)
        .await
        .unwrap();
    assert_eq!(total, 0);
}

#[tokio::test]
async fn sql_looking_text_is_stored_literally() {
    let app = TestApp::spawn().await;
    let name = "x'); DELETE FROM users; --";
    let address = "1 Main St\" OR \"1\"=\"1";
    let created = expect_json(
        app.post_json(
            "/api/v1/auth/signup",
            &json!({"email": "sql@example.com", "password": "password123", "nickname": "sql_user", "name": name, "address": address}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(created["user"]["name"], name);
    assert_eq!(created["user"]["address"], address);
    app.user().create().await;
    let mut conn = app.db.get().await.unwrap();
    let (_, total) = sitga_persistence::users::list(&mut conn, 0, 10)
        .await
        .unwrap();
    assert_eq!(total, 2);
}

#[tokio::test]
async fn malformed_bodies() {
    let app = TestApp::spawn().await;
    let post = |body: &'static str, content_type: &'static str| {
        app.client
            .post(app.url("/api/v1/auth/signup"))
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    expect_error(
        post("{\"email\": ", "application/json").await.unwrap(),
        400,
        "malformed_json",
    )
    .await;
    expect_error(
        post("", "application/json").await.unwrap(),
        400,
        "malformed_json",
    )
    .await;
    expect_error(
        post("[1,2,3]", "application/json").await.unwrap(),
        400,
        "invalid_field",
    )
    .await;
    expect_error(
        post(
            r#"{"email":"a@b.co","password":"password123","nickname":"abc","name":"x"} trailing"#,
            "application/json",
        )
        .await
        .unwrap(),
        400,
        "malformed_json",
    )
    .await;
    expect_error(
        post("email=a", "application/x-www-form-urlencoded")
            .await
            .unwrap(),
        415,
        "unsupported_media_type",
    )
    .await;
    expect_error(
        post("{}", "text/plain").await.unwrap(),
        415,
        "unsupported_media_type",
    )
    .await;
    let huge = format!("{{\"email\": \"{}\"}}", "a".repeat(200_000));
    let res = app
        .client
        .post(app.url("/api/v1/auth/signup"))
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    expect_error(res, 413, "payload_too_large").await;
    // Streaming without a length is capped too.
    let chunks =
        futures_util::stream::iter((0..40).map(|_| Ok::<_, std::io::Error>(vec![b' '; 4096])));
    let res = app
        .client
        .post(app.url("/api/v1/auth/signup"))
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    expect_error(res, 413, "payload_too_large").await;
}

#[tokio::test]
async fn korean_and_emoji_round_trip() {
    let app = TestApp::spawn().await;
    let created = expect_json(
        app.post_json(
            "/api/v1/auth/signup",
            &json!({"email": "k@example.com", "password": "비밀번호는여덟자", "nickname": "감성돔", "name": "🐟 박어부 🎣", "address": "서울특별시 중구 세종대로 110"}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(created["user"]["name"], "🐟 박어부 🎣");
    let tokens = app.login("k@example.com", "비밀번호는여덟자").await;
    let me = expect_json(
        app.get("/api/v1/users/me", tokens["access_token"].as_str())
            .await,
        200,
    )
    .await;
    assert_eq!(me["nickname"], "감성돔");
    assert_eq!(me["address"], "서울특별시 중구 세종대로 110");
}
