//! Auction lists served from memory: every change shows at once, equal data
//! answers `304 Not Modified` to `If-None-Match`, and the clock in each
//! answer is the server's at send time.

use chrono::{DateTime, Utc};
use reqwest::Method;
use reqwest::header::{CACHE_CONTROL, ETAG, IF_NONE_MATCH};
use serde_json::{Value, json};
use sitga_testkit::{TestApp, expect_json};

const OPEN: &str = "/api/v1/auctions?status=open&per_page=100";

/// A read with `If-None-Match` when given: (status, ETag, body if any).
async fn read(app: &TestApp, path: &str, tag: Option<&str>) -> (u16, String, Option<Value>) {
    let mut req = reqwest::Client::new().get(app.url(path));
    if let Some(tag) = tag {
        req = req.header(IF_NONE_MATCH, tag);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let etag = res
        .headers()
        .get(ETAG)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    assert!(etag.starts_with("W/\""), "{etag:?}");
    assert!(
        res.headers()
            .get(CACHE_CONTROL)
            .is_some_and(|v| v.to_str().unwrap().contains("no-store"))
    );
    let body = match status {
        304 => {
            assert!(res.bytes().await.unwrap().is_empty(), "a 304 has no body");
            None
        }
        _ => Some(res.json().await.unwrap()),
    };
    (status, etag, body)
}

fn item(page: &Value, id: i64) -> &Value {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == id)
        .unwrap_or_else(|| panic!("auction {id} is not listed: {page}"))
}

fn clock(v: &Value) -> DateTime<Utc> {
    v["server_now"].as_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn a_list_shows_every_change_at_once_and_answers_304_while_nothing_changed() {
    let app = TestApp::spawn().await;
    let seller = app.user().nickname("어부김씨").create().await;
    let bidder = app.user().create().await;
    app.charge(&bidder, 100_000).await;
    let first = app.open_auction(&seller, 10_000, json!({})).await["id"]
        .as_i64()
        .unwrap();

    let (status, tag, page) = read(&app, OPEN, None).await;
    let page = page.unwrap();
    assert_eq!(status, 200);
    assert_eq!(page["total"], 1);
    assert_eq!(item(&page, first)["current_price"], Value::Null);

    // Nothing changed: 304 for the tag, 200 with the same tag without it,
    // each answer's clock taken when it is sent.
    let (status, again, _) = read(&app, OPEN, Some(&tag)).await;
    assert_eq!((status, again.as_str()), (304, tag.as_str()));
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let (_, same, later) = read(&app, OPEN, None).await;
    let later = later.unwrap();
    assert_eq!(same, tag);
    assert!(clock(item(&later, first)) > clock(item(&page, first)));
    assert!((Utc::now() - clock(item(&later, first))).num_seconds() < 5);
    let (status, _, _) = read(&app, OPEN, Some("*")).await;
    assert_eq!(status, 304, "* names any current body");
    let (status, _, _) = read(&app, OPEN, Some(&format!("W/\"other\", {tag}"))).await;
    assert_eq!(status, 304, "one of a list");

    // A bid shows on the next read, with a new tag.
    assert_eq!(app.bid(&bidder, first, 10_000).await.status(), 201);
    let (status, after_bid, page) = read(&app, OPEN, Some(&tag)).await;
    let page = page.unwrap();
    assert_eq!(status, 200);
    assert_ne!(after_bid, tag);
    assert_eq!(item(&page, first)["current_price"], 10_000);
    assert_eq!(item(&page, first)["bid_count"], 1);

    // A new auction, an edit and a new nickname too.
    let second = app.open_auction(&seller, 20_000, json!({})).await["id"]
        .as_i64()
        .unwrap();
    let (_, _, page) = read(&app, OPEN, Some(&after_bid)).await;
    let page = page.unwrap();
    assert_eq!(page["total"], 2);
    assert_eq!(item(&page, second)["start_price"], 20_000);
    let mut watcher = app.ws(None).await;
    watcher.join(second).await;
    let edited = app
        .send(
            Method::PATCH,
            &format!("/api/v1/auctions/{second}"),
            Some(&seller.access_token),
            Some(json!({"start_price": 15_000})),
        )
        .await;
    expect_json(edited, 200).await;
    // Its room is told too.
    let state = watcher
        .until(|f| f["event"] == "state" && f["seq"].is_i64())
        .await;
    assert_eq!(state["min_next_bid"], 15_000);
    let (_, _, page) = read(&app, OPEN, None).await;
    assert_eq!(item(&page.unwrap(), second)["min_next_bid"], 15_000);
    let renamed = app
        .send(
            Method::PATCH,
            "/api/v1/users/me",
            Some(&seller.access_token),
            Some(json!({"nickname": "제주어부"})),
        )
        .await;
    expect_json(renamed, 200).await;
    let (_, _, page) = read(&app, OPEN, None).await;
    assert_eq!(item(&page.unwrap(), first)["seller"], "제주어부");

    // Closing takes it out of the open list and into the sold one.
    let closed = app
        .send(
            Method::POST,
            &format!("/api/v1/auctions/{first}/close"),
            Some(&seller.access_token),
            None,
        )
        .await;
    assert_eq!(expect_json(closed, 200).await["status"], "sold");
    let (_, _, page) = read(&app, OPEN, None).await;
    let page = page.unwrap();
    assert_eq!(page["total"], 1);
    assert!(
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["id"] != first)
    );
    let (_, _, sold) = read(&app, "/api/v1/auctions?status=sold", None).await;
    assert_eq!(item(&sold.unwrap(), first)["status"], "sold");
}

#[tokio::test]
async fn one_auction_answers_304_until_it_changes() {
    let app = TestApp::spawn().await;
    let seller = app.user().create().await;
    let bidder = app.user().create().await;
    app.charge(&bidder, 100_000).await;
    let id = app.open_auction(&seller, 10_000, json!({})).await["id"]
        .as_i64()
        .unwrap();
    let path = format!("/api/v1/auctions/{id}");
    // The first read counts the view; the next ones from this client do not.
    let (_, _, seen) = read(&app, &path, None).await;
    assert_eq!(seen.unwrap()["view_count"], 1);
    let (status, tag, body) = read(&app, &path, None).await;
    assert_eq!(status, 200);
    assert_eq!(body.unwrap()["current_price"], Value::Null);
    let (status, same, _) = read(&app, &path, Some(&tag)).await;
    assert_eq!((status, same.as_str()), (304, tag.as_str()));
    assert_eq!(app.bid(&bidder, id, 10_000).await.status(), 201);
    let (status, changed, body) = read(&app, &path, Some(&tag)).await;
    assert_eq!(status, 200);
    assert_ne!(changed, tag);
    assert_eq!(body.unwrap()["current_price"], 10_000);

    // Who asks is part of the answer: a private one, with its own tag.
    let res = app.get(&path, Some(&seller.access_token)).await;
    assert!(
        res.headers()[CACHE_CONTROL]
            .to_str()
            .unwrap()
            .starts_with("private")
    );
    assert_ne!(res.headers()[ETAG].to_str().unwrap(), changed);
}

/// Pages of every filter are kept apart; a search text is one of them.
#[tokio::test]
async fn each_filter_is_its_own_page() {
    let app = TestApp::spawn().await;
    let seller = app.user().create().await;
    let other = app.user().create().await;
    let mine = app
        .open_auction(
            &seller,
            10_000,
            json!({"title": "부시리 80cm", "species": "부시리"}),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    app.open_auction(&other, 10_000, json!({})).await;
    let mut tags = Vec::new();
    // (path, total, items, the only item when there is one match)
    for (path, total, items, only) in [
        (OPEN.to_owned(), 2, 2, None),
        (format!("{OPEN}&seller={}", seller.id), 1, 1, Some(mine)),
        (format!("{OPEN}&q=부시리"), 1, 1, Some(mine)),
        (format!("{OPEN}&sort=ending_soon"), 2, 2, None),
        (
            "/api/v1/auctions?status=open&per_page=1".to_owned(),
            2,
            1,
            None,
        ),
        (
            "/api/v1/auctions?status=open&per_page=1&page=2".to_owned(),
            2,
            1,
            None,
        ),
    ] {
        let (_, tag, page) = read(&app, &path, None).await;
        let page = page.unwrap();
        assert_eq!(page["total"], total, "{path}");
        assert_eq!(page["items"].as_array().unwrap().len(), items, "{path}");
        if let Some(id) = only {
            assert_eq!(page["items"][0]["id"], id, "{path}");
        }
        tags.push(tag);
    }
    // The two pages of one auction each differ from each other.
    assert_ne!(tags[4], tags[5]);
}
