use serde_json::json;
use sitga_testkit::{TestApp, expect_error};

#[tokio::test]
async fn every_kind_of_bad_token_is_401_with_its_code() {
    let app = TestApp::spawn().await;
    let alice = app.user().create().await;
    let cases = [
        (None, "missing_token"),
        (
            Some("Basic YWxhZGRpbjpvcGVuc2VzYW1l".to_owned()),
            "invalid_token",
        ),
        (Some("Bearer".to_owned()), "invalid_token"),
        (Some("Bearer not-a-jwt".to_owned()), "invalid_token"),
        (
            Some(format!("Bearer {}", app.expired_token(alice.id))),
            "token_expired",
        ),
        (
            Some(format!("Bearer {}", app.tampered_token(alice.id))),
            "invalid_token",
        ),
        (
            Some(format!("Bearer {}", app.wrong_type_token(alice.id))),
            "wrong_token_type",
        ),
        // A refresh token is opaque, never an access token.
        (
            Some(format!("Bearer {}", alice.refresh_token)),
            "invalid_token",
        ),
        (
            Some(format!("Bearer {}", app.forged_admin_token(alice.id))),
            "invalid_token",
        ),
    ];
    for (header, code) in cases {
        let mut req = app.client.get(app.url("/api/v1/users/me"));
        if let Some(h) = &header {
            req = req.header("authorization", h);
        }
        let res = req.send().await.unwrap();
        assert_eq!(
            res.headers()
                .get("www-authenticate")
                .map(|v| v.to_str().unwrap()),
            Some("Bearer realm=\"sitga\""),
            "{header:?}"
        );
        expect_error(res, 401, code).await;
    }
    // Lower-case scheme is accepted (RFC 7235: case-insensitive).
    let res = app
        .client
        .get(app.url("/api/v1/users/me"))
        .header("authorization", format!("bearer {}", alice.access_token))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn a_token_for_a_user_that_does_not_exist_is_rejected() {
    let app = TestApp::spawn().await;
    let token = app.jwt.issue(999_999, &[], "nobody").unwrap().token;
    expect_error(
        app.get("/api/v1/users/me", Some(&token)).await,
        401,
        "invalid_token",
    )
    .await;
}

#[tokio::test]
async fn logout_needs_a_known_refresh_token() {
    let app = TestApp::spawn().await;
    expect_error(
        app.post_json("/api/v1/auth/logout", &json!({"refresh_token": "nope"}))
            .await,
        401,
        "invalid_refresh_token",
    )
    .await;
}
