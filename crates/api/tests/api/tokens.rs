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
    let token = app
        .jwt
        .issue(sitga_core::UserId::new(999_999), &[], "nobody")
        .unwrap()
        .token;
    // Signed with the right key, but no such login session: refused
    // before any handler looks for the account.
    expect_error(
        app.get("/api/v1/users/me", Some(&token)).await,
        401,
        "session_revoked",
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

/// Auth matrix: every secured operation in the spec × every kind of bad
/// credential answers 401 with the documented code; admin and operator
/// routes refuse a valid member token with 403; another user's resources
/// are out of reach.
#[tokio::test]
async fn auth_matrix_over_every_secured_route() {
    let app = TestApp::spawn().await;
    let alice = app.user().create().await;
    let bob = app.user().create().await;
    let spec = sitga_api::openapi::spec();
    let credentials: Vec<(String, &str)> = vec![
        (app.expired_token(alice.id), "token_expired"),
        (app.tampered_token(alice.id), "invalid_token"),
        (alice.refresh_token.clone(), "invalid_token"),
        (app.wrong_type_token(alice.id), "wrong_token_type"),
        (app.forged_admin_token(alice.id), "invalid_token"),
    ];
    let mut checked = 0;
    for (path, item) in spec["paths"].as_object().unwrap() {
        let concrete = path
            .replace("{id}", "1")
            .replace("{sale_id}", "1")
            .replace("{nickname}", "nobody");
        for (method, op) in item.as_object().unwrap() {
            if op.get("security").is_none() {
                continue;
            }
            let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            for (token, code) in &credentials {
                let res = app
                    .send(method.clone(), &concrete, Some(token), Some(json!({})))
                    .await;
                expect_error(res, 401, code).await;
                checked += 1;
            }
            // A valid member token on admin/operator routes.
            if path.starts_with("/api/v1/admin") || path.starts_with("/api/v1/monitor") {
                let res = app
                    .send(method.clone(), &concrete, Some(&alice.access_token), None)
                    .await;
                expect_error(res, 403, "forbidden").await;
            }
        }
    }
    assert!(checked >= 5 * 20, "only {checked} combinations");

    // Another user's resources: a seller-only action on Bob's auction and a
    // pickup move on someone else's pickup are refused; "me" routes only
    // ever show the caller.
    let auction = app.open_auction(&bob, 5_000, json!({})).await;
    let id = auction["id"].as_i64().unwrap();
    let res = app
        .send(
            reqwest::Method::POST,
            &format!("/api/v1/auctions/{id}/cancel"),
            Some(&alice.access_token),
            None,
        )
        .await;
    expect_error(res, 403, "not_seller").await;
    let res = app
        .send(
            reqwest::Method::PATCH,
            &format!("/api/v1/auctions/{id}"),
            Some(&alice.access_token),
            Some(json!({"title": "mine"})),
        )
        .await;
    expect_error(res, 403, "not_seller").await;
    let me = app.get("/api/v1/users/me", Some(&alice.access_token)).await;
    let me: serde_json::Value = me.json().await.unwrap();
    assert_eq!(me["id"], alice.id);
}
