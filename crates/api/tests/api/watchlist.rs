//! The watch list: follow auctions, see them as they stand, and how many
//! follow each.

use sitga_testkit::{TestApp, expect_error, expect_json};

#[tokio::test]
async fn bidders_watch_auctions_and_the_detail_says_who_watches() {
    let app = TestApp::spawn().await;
    let seller = app.user().create().await;
    let (minsu, jiwoo) = (app.user().create().await, app.user().create().await);
    let first = app
        .open_auction(&seller, 30_000, serde_json::json!({}))
        .await;
    let second = app
        .open_auction(&seller, 10_000, serde_json::json!({}))
        .await;
    let (a, b) = (
        first["id"].as_i64().unwrap(),
        second["id"].as_i64().unwrap(),
    );
    let watch = |token: &str, method: reqwest::Method, id: i64| {
        let token = token.to_owned();
        let app = &app;
        async move {
            app.send(
                method,
                &format!("/api/v1/me/watchlist/{id}"),
                Some(&token),
                None,
            )
            .await
        }
    };

    // Anonymous readers see the count, not a personal flag.
    let detail = expect_json(app.get(&format!("/api/v1/auctions/{a}"), None).await, 200).await;
    assert_eq!(
        (detail["watchers"].as_i64(), detail["watching"].is_null()),
        (Some(0), true)
    );

    let watched = expect_json(
        watch(&minsu.access_token, reqwest::Method::PUT, a).await,
        200,
    )
    .await;
    assert_eq!(
        watched,
        serde_json::json!({"auction_id": a, "watching": true, "watchers": 1})
    );
    // Watching twice is watching once.
    let again = expect_json(
        watch(&minsu.access_token, reqwest::Method::PUT, a).await,
        200,
    )
    .await;
    assert_eq!(again["watchers"], 1);
    expect_json(
        watch(&minsu.access_token, reqwest::Method::PUT, b).await,
        200,
    )
    .await;
    expect_json(
        watch(&jiwoo.access_token, reqwest::Method::PUT, a).await,
        200,
    )
    .await;

    let mine = expect_json(
        app.get(&format!("/api/v1/auctions/{a}"), Some(&minsu.access_token))
            .await,
        200,
    )
    .await;
    assert_eq!(
        (mine["watchers"].as_i64(), mine["watching"].as_bool()),
        (Some(2), Some(true))
    );
    let seller_view = expect_json(
        app.get(&format!("/api/v1/auctions/{a}"), Some(&seller.access_token))
            .await,
        200,
    )
    .await;
    assert_eq!(seller_view["watching"], false);
    // A stale token on a public page reads as anonymous, not as an error.
    let stale = app.expired_token(minsu.id);
    let anonymous = expect_json(
        app.get(&format!("/api/v1/auctions/{a}"), Some(&stale))
            .await,
        200,
    )
    .await;
    assert!(anonymous["watching"].is_null());

    // The list: latest added first, each auction as it stands now.
    app.charge(&jiwoo, 50_000).await;
    expect_json(app.bid(&jiwoo, b, 10_000).await, 201).await;
    let list = expect_json(
        app.get("/api/v1/me/watchlist", Some(&minsu.access_token))
            .await,
        200,
    )
    .await;
    assert_eq!(list["total"], 2);
    let ids: Vec<i64> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [b, a]);
    assert_eq!(list["items"][0]["current_price"], 10_000);
    assert_eq!(list["items"][0]["watching"], true);
    let paged = expect_json(
        app.get(
            "/api/v1/me/watchlist?per_page=1&page=2",
            Some(&minsu.access_token),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(paged["items"][0]["id"], a);

    let left = expect_json(
        watch(&minsu.access_token, reqwest::Method::DELETE, a).await,
        200,
    )
    .await;
    assert_eq!(
        left,
        serde_json::json!({"auction_id": a, "watching": false, "watchers": 1})
    );
    expect_json(
        watch(&minsu.access_token, reqwest::Method::DELETE, a).await,
        200,
    )
    .await;
    let list = expect_json(
        app.get("/api/v1/me/watchlist", Some(&minsu.access_token))
            .await,
        200,
    )
    .await;
    assert_eq!(list["total"], 1);

    // Unknown auctions, no login.
    expect_error(
        watch(&minsu.access_token, reqwest::Method::PUT, 999_999).await,
        404,
        "not_found",
    )
    .await;
    expect_error(
        watch(&minsu.access_token, reqwest::Method::DELETE, 999_999).await,
        404,
        "not_found",
    )
    .await;
    let res = app
        .send(
            reqwest::Method::PUT,
            &format!("/api/v1/me/watchlist/{a}"),
            None,
            None,
        )
        .await;
    expect_error(res, 401, "missing_token").await;
    // Someone else's list is not reachable: there is only "me".
    let other = expect_json(
        app.get("/api/v1/me/watchlist", Some(&jiwoo.access_token))
            .await,
        200,
    )
    .await;
    assert_eq!(other["total"], 1);
}
