//! Photo uploads: cleaned, stored in three sizes (in a directory, or in the
//! S3-compatible bucket `SITGA_TEST_PHOTO_STORE` names), served with cache
//! headers, refused clearly when unusable, and swept when nobody used them.

use std::io::Cursor;

use image::{ImageFormat, RgbImage};
use sitga_photos::test_support::{has_exif, phone_photo};
use sitga_testkit::{TestApp, TestUser, expect_error, expect_json};

fn part(bytes: Vec<u8>, name: &str, mime: &str) -> reqwest::multipart::Part {
    reqwest::multipart::Part::bytes(bytes)
        .file_name(name.to_owned())
        .mime_str(mime)
        .unwrap()
}

async fn send(app: &TestApp, user: &TestUser, form: reqwest::multipart::Form) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/photos"))
        .bearer_auth(&user.access_token)
        .multipart(form)
        .send()
        .await
        .unwrap()
}

async fn upload(app: &TestApp, user: &TestUser, bytes: Vec<u8>) -> reqwest::Response {
    let form = reqwest::multipart::Form::new().part("file", part(bytes, "catch.jpg", "image/jpeg"));
    send(app, user, form).await
}

/// Photos recorded and not attached to anything.
async fn photo_rows(app: &TestApp) -> usize {
    let mut conn = app.db.get().await.unwrap();
    let far = chrono::Utc::now() + chrono::Duration::days(36_500);
    sitga_persistence::photos::orphans(&mut conn, far, 1_000)
        .await
        .unwrap()
        .len()
}

fn png(w: u32, h: u32) -> Vec<u8> {
    let mut out = Vec::new();
    RgbImage::new(w, h)
        .write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
        .unwrap();
    out
}

/// A PNG whose header declares `w` × `h` (the CRC fixed up), its pixel
/// data left as it was.
fn png_declaring(w: u32, h: u32) -> Vec<u8> {
    let mut bytes = png(16, 16);
    let ihdr = 8;
    assert_eq!(&bytes[ihdr + 4..ihdr + 8], b"IHDR");
    bytes[ihdr + 8..ihdr + 12].copy_from_slice(&w.to_be_bytes());
    bytes[ihdr + 12..ihdr + 16].copy_from_slice(&h.to_be_bytes());
    let crc = crc32fast::hash(&bytes[ihdr + 4..ihdr + 8 + 13]);
    bytes[ihdr + 21..ihdr + 25].copy_from_slice(&crc.to_be_bytes());
    bytes
}

#[tokio::test]
async fn a_catch_photo_is_stored_upright_without_its_gps_and_served_with_cache_headers() {
    let app = TestApp::spawn().await;
    let store = app.state().photos.store().location().to_owned();
    assert_eq!(
        store.starts_with("s3://"),
        sitga_testkit::photos_on_s3(),
        "{store}"
    );
    let ready = expect_json(app.get("/ready", None).await, 200).await;
    assert_eq!(ready["photos"]["ok"], true, "{ready}");
    let mode = if sitga_testkit::photos_on_s3() {
        "s3"
    } else {
        "directory"
    };
    assert_eq!(ready["photos"]["mode"], mode);
    let angler = app.user().create().await;
    let upload_bytes = phone_photo(2000, 1500, 6);
    assert!(has_exif(&upload_bytes));

    let photo = expect_json(upload(&app, &angler, upload_bytes).await, 201).await;
    let id = photo["id"].as_str().unwrap();
    assert_eq!(id.len(), 32);
    // EXIF orientation 6: a landscape file shown as a portrait.
    assert_eq!(
        (photo["width"].as_i64(), photo["height"].as_i64()),
        (Some(1500), Some(2000))
    );

    for (size, longest) in [("thumb", 400), ("display", 1280), ("original", 2000)] {
        let url = photo["urls"][size].as_str().unwrap();
        assert_eq!(url, format!("/api/v1/photos/{id}/{size}"));
        // No login needed: photos are shown on public pages.
        let res = app.get(url, None).await;
        assert_eq!(res.status(), 200, "{size}");
        let headers = res.headers().clone();
        assert_eq!(headers["content-type"], "image/jpeg");
        assert_eq!(
            headers["cache-control"],
            "public, max-age=31536000, immutable"
        );
        let etag = headers["etag"].to_str().unwrap().to_owned();
        let bytes = res.bytes().await.unwrap();
        assert_eq!(
            etag,
            format!("\"{}\"", sitga_photos::Digest::of(&bytes)),
            "a strong tag of the bytes"
        );
        assert!(!has_exif(&bytes), "{size} kept EXIF");
        let img = image::load_from_memory(&bytes).unwrap();
        assert_eq!(img.width().max(img.height()), longest, "{size}");
        assert!(img.height() > img.width(), "{size} is upright");

        let again = app
            .client
            .get(app.url(url))
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 304);
        assert_eq!(again.headers()["etag"].to_str().unwrap(), etag);
        assert!(again.bytes().await.unwrap().is_empty());
        let other = app
            .client
            .get(app.url(url))
            .header("if-none-match", "\"something-else\"")
            .send()
            .await
            .unwrap();
        assert_eq!(other.status(), 200);
    }

    expect_error(
        app.get(&format!("/api/v1/photos/{id}/huge"), None).await,
        404,
        "not_found",
    )
    .await;
    let unknown = "0123456789abcdef0123456789abcdef";
    expect_error(
        app.get(&format!("/api/v1/photos/{unknown}/thumb"), None)
            .await,
        404,
        "not_found",
    )
    .await;
    expect_error(
        app.get("/api/v1/photos/..%2F..%2Fetc/thumb", None).await,
        404,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn unusable_uploads_are_refused_and_nothing_is_stored() {
    let app = TestApp::spawn().await;
    let angler = app.user().create().await;
    let mut truncated = phone_photo(800, 600, 1);
    truncated.truncate(truncated.len() / 3);
    for (name, bytes, status, code) in [
        (
            "not an image",
            b"hello, fish".to_vec(),
            422,
            "invalid_image",
        ),
        ("truncated", truncated, 422, "invalid_image"),
        ("0 x 0", png_declaring(0, 0), 422, "invalid_image"),
        (
            "20,000 x 20,000 declared",
            png_declaring(20_000, 20_000),
            422,
            "image_too_large",
        ),
    ] {
        let res = upload(&app, &angler, bytes).await;
        let body = expect_error(res, status, code).await;
        assert!(!body["message"].as_str().unwrap().is_empty(), "{name}");
    }
    // Over 10 MB: refused while counting, whatever the header said.
    let big = vec![0u8; 10 * 1024 * 1024 + 1];
    expect_error(upload(&app, &angler, big).await, 413, "payload_too_large").await;
    // The wrong field name is named.
    let form = reqwest::multipart::Form::new()
        .part("photo", part(phone_photo(64, 64, 1), "a.jpg", "image/jpeg"));
    let refused = expect_error(send(&app, &angler, form).await, 400, "missing_file").await;
    assert_eq!(refused["field"], "photo");
    // Not multipart at all.
    let res = app
        .send(
            reqwest::Method::POST,
            "/api/v1/photos",
            Some(&angler.access_token),
            Some(serde_json::json!({"file": "x"})),
        )
        .await;
    expect_error(res, 415, "unsupported_media_type").await;
    // Signed-in only.
    let form = reqwest::multipart::Form::new()
        .part("file", part(phone_photo(64, 64, 1), "a.jpg", "image/jpeg"));
    let anonymous = app
        .client
        .post(app.url("/api/v1/photos"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    expect_error(anonymous, 401, "missing_token").await;

    assert_eq!(photo_rows(&app).await, 0, "nothing was recorded");
}

#[tokio::test]
async fn photos_nobody_attached_are_swept_after_a_day_but_shared_files_stay() {
    let app = TestApp::spawn().await;
    let (angler, other) = (app.user().create().await, app.user().create().await);
    let bytes = phone_photo(900, 600, 1);
    let old = expect_json(upload(&app, &angler, bytes.clone()).await, 201).await;
    // The same picture uploaded again: its files are the same files.
    let twin = expect_json(upload(&app, &other, bytes).await, 201).await;
    let fresh = expect_json(upload(&app, &angler, phone_photo(640, 640, 1)).await, 201).await;
    assert_eq!(photo_rows(&app).await, 3);

    sitga_persistence::test_support::execute_raw(
        &app.db,
        &format!(
            "UPDATE photos SET created_at = '2020-01-01 00:00:00' WHERE id = '{}'",
            old["id"].as_str().unwrap()
        ),
    )
    .await
    .unwrap();

    let swept = app.state().photos.sweep(chrono::Utc::now()).await.unwrap();
    assert_eq!(swept.photos, 1, "only the day-old orphan");
    assert_eq!(swept.files, 0, "its files are the twin's too");
    let old_url = old["urls"]["thumb"].as_str().unwrap();
    expect_error(app.get(old_url, None).await, 404, "not_found").await;
    for photo in [&twin, &fresh] {
        assert_eq!(
            app.get(photo["urls"]["original"].as_str().unwrap(), None)
                .await
                .status(),
            200
        );
    }

    // A day later the twin and the fresh one go too, and with them the files.
    let swept = app
        .state()
        .photos
        .sweep(chrono::Utc::now() + chrono::Duration::days(2))
        .await
        .unwrap();
    assert_eq!(swept.photos, 2);
    assert_eq!(
        swept.files, 6,
        "the twin's three files and the fresh photo's three"
    );
    let again = app.state().photos.sweep(chrono::Utc::now()).await.unwrap();
    assert_eq!(again, sitga_realtime::photos::Swept::default());
    assert_eq!(photo_rows(&app).await, 0);
}

#[tokio::test]
async fn an_auction_shows_its_sellers_photos_in_order_and_they_are_never_swept() {
    let app = TestApp::spawn().await;
    let (angler, other) = (app.user().create().await, app.user().create().await);
    let mut ids = Vec::new();
    for (w, h) in [(800, 600), (600, 800), (640, 640)] {
        let photo = expect_json(upload(&app, &angler, phone_photo(w, h, 1)).await, 201).await;
        ids.push(photo["id"].as_str().unwrap().to_owned());
    }
    let foreign = expect_json(upload(&app, &other, phone_photo(500, 500, 1)).await, 201).await;
    let foreign = foreign["id"].as_str().unwrap();

    let open = |photo_ids: serde_json::Value| {
        let token = angler.access_token.clone();
        let app = &app;
        async move {
            app.send(
                reqwest::Method::POST,
                "/api/v1/auctions",
                Some(&token),
                Some(serde_json::json!({
                    "title": "참돔 55cm", "description": "", "start_price": 30000,
                    "photo_ids": photo_ids,
                })),
            )
            .await
        }
    };
    // Someone else's photo, an unknown one, a repeat, too many, none: refused,
    // and no auction is left behind.
    let unknown = "0123456789abcdef0123456789abcdef";
    for bad in [
        serde_json::json!([ids[0], foreign]),
        serde_json::json!([unknown]),
    ] {
        expect_error(open(bad).await, 422, "unusable_photo").await;
    }
    for bad in [
        serde_json::json!([ids[0], ids[0]]),
        serde_json::json!(vec![ids[0].clone(); 9]),
        serde_json::json!([]),
        serde_json::json!(["../../etc/passwd"]),
    ] {
        let refused = expect_error(open(bad.clone()).await, 400, "validation_failed").await;
        assert_eq!(refused["field"], "photo_ids", "{bad}: {refused}");
    }
    let listed = expect_json(app.get("/api/v1/auctions?status=all", None).await, 200).await;
    assert_eq!(listed["total"], 0, "a refused auction is not recorded");

    let order = serde_json::json!([ids[2], ids[0], ids[1]]);
    let auction = expect_json(open(order).await, 201).await;
    let shown: Vec<&str> = auction["photos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(shown, [&ids[2], &ids[0], &ids[1]]);
    assert_eq!(auction["photos"][1]["width"], 800);
    let id = auction["id"].as_i64().unwrap();
    let detail = expect_json(app.get(&format!("/api/v1/auctions/{id}"), None).await, 200).await;
    assert_eq!(detail["photos"], auction["photos"]);
    let listed = expect_json(app.get("/api/v1/auctions", None).await, 200).await;
    assert_eq!(listed["items"][0]["photos"], auction["photos"]);
    // A photo is used once.
    expect_error(
        open(serde_json::json!([ids[0]])).await,
        422,
        "unusable_photo",
    )
    .await;

    // A day later only the never-used photo goes.
    let swept = app
        .state()
        .photos
        .sweep(chrono::Utc::now() + chrono::Duration::days(2))
        .await
        .unwrap();
    assert_eq!(swept.photos, 1);
    let thumb = auction["photos"][0]["urls"]["thumb"].as_str().unwrap();
    assert_eq!(app.get(thumb, None).await.status(), 200);
}

async fn open_lot(app: &TestApp, seller: &TestUser, extra: serde_json::Value) -> reqwest::Response {
    let mut body =
        serde_json::json!({"title": "감성돔 48cm", "description": "", "start_price": 30000});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    app.send(
        reqwest::Method::POST,
        "/api/v1/auctions",
        Some(&seller.access_token),
        Some(body),
    )
    .await
}

#[tokio::test]
async fn a_lot_carries_its_catch_facts_delivery_and_the_models_reading_of_its_first_photo() {
    let app = TestApp::spawn().await;
    let angler = app.user().create().await;
    let photo = expect_json(upload(&app, &angler, phone_photo(800, 600, 1)).await, 201).await;
    let caught = chrono::Utc::now() - chrono::Duration::hours(5);
    let lot = serde_json::json!({
        "photo_ids": [photo["id"]],
        "weight_g": 2400, "length_cm": 48, "caught_at": caught,
        "catch_area": "제주 서귀포 갯바위", "catch_province": "jeju", "storage": "iced",
        "delivery": {"pickup": {"province": "jeju", "place": "서귀포항 2번 부두"}, "courier": {"fee": 5000}},
    });
    let auction = expect_json(open_lot(&app, &angler, lot).await, 201).await;
    assert_eq!(auction["weight_g"], 2400);
    assert_eq!(auction["length_cm"], 48);
    assert_eq!(auction["catch_area"], "제주 서귀포 갯바위");
    assert_eq!(auction["catch_province"], "jeju");
    assert_eq!(auction["storage"], "iced");
    assert_eq!(
        auction["delivery"],
        serde_json::json!({"pickup": {"province": "jeju", "place": "서귀포항 2번 부두"}, "courier": {"fee": 5000}})
    );
    let at: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(auction["caught_at"].clone()).unwrap();
    assert!((at - caught).num_milliseconds().abs() < 1);
    // The model read the first photo; a confident reading names the fish,
    // an unsure one leaves `species` empty.
    let suggestion = &auction["species_suggestion"];
    let probability = suggestion["probability"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&probability), "{suggestion}");
    assert!(suggestion["label"].as_str().is_some_and(|l| !l.is_empty()));
    if suggestion["unknown"] == true {
        assert!(auction["species"].is_null(), "{auction}");
    } else {
        let named = suggestion["name_ko"]
            .as_str()
            .or(suggestion["label"].as_str());
        assert_eq!(auction["species"].as_str(), named);
    }
    let id = auction["id"].as_i64().unwrap();
    let detail = expect_json(app.get(&format!("/api/v1/auctions/{id}"), None).await, 200).await;
    for field in [
        "weight_g",
        "caught_at",
        "delivery",
        "species_suggestion",
        "photos",
    ] {
        assert_eq!(detail[field], auction[field], "{field}");
    }

    // The angler's own species stays, whatever the model says; a lot that
    // says nothing more reads as before.
    let named = serde_json::json!({"species": "감성돔", "delivery": {"courier": {"fee": 0}}});
    let auction = expect_json(open_lot(&app, &angler, named).await, 201).await;
    assert_eq!(auction["species"], "감성돔");
    assert_eq!(
        auction["delivery"],
        serde_json::json!({"pickup": null, "courier": {"fee": 0}})
    );
    assert!(auction["species_suggestion"].is_null() && auction["weight_g"].is_null());
    let plain = expect_json(open_lot(&app, &angler, serde_json::json!({})).await, 201).await;
    for field in [
        "weight_g",
        "caught_at",
        "catch_area",
        "storage",
        "delivery",
        "species_suggestion",
    ] {
        assert!(plain[field].is_null(), "{field}: {plain}");
    }
    assert_eq!(plain["photos"], serde_json::json!([]));
}

#[tokio::test]
async fn bad_catch_facts_are_refused_with_the_field_and_no_auction_is_left() {
    let app = TestApp::spawn().await;
    let angler = app.user().create().await;
    let now = chrono::Utc::now();
    for (extra, status, code, field) in [
        (
            serde_json::json!({"weight_g": 0}),
            400,
            "validation_failed",
            "weight_g",
        ),
        (
            serde_json::json!({"length_cm": 501}),
            400,
            "validation_failed",
            "length_cm",
        ),
        (
            serde_json::json!({"storage": "smoked"}),
            400,
            "validation_failed",
            "storage",
        ),
        (
            serde_json::json!({"catch_area": "바다", "catch_province": "atlantis"}),
            400,
            "validation_failed",
            "catch_province",
        ),
        (
            serde_json::json!({"delivery": {}}),
            400,
            "validation_failed",
            "delivery",
        ),
        (
            serde_json::json!({"delivery": {"courier": {"fee": -1}}}),
            400,
            "validation_failed",
            "delivery.courier.fee",
        ),
        (
            serde_json::json!({"delivery": {"pickup": {"province": "busan", "place": " "}}}),
            400,
            "validation_failed",
            "delivery.pickup.place",
        ),
        (
            serde_json::json!({"caught_at": now + chrono::Duration::hours(2)}),
            422,
            "inconsistent_fields",
            "caught_at",
        ),
        (
            serde_json::json!({"caught_at": now - chrono::Duration::days(8)}),
            422,
            "inconsistent_fields",
            "caught_at",
        ),
    ] {
        let refused =
            expect_error(open_lot(&app, &angler, extra.clone()).await, status, code).await;
        assert_eq!(refused["field"], field, "{extra}: {refused}");
    }
    let unknown_field = serde_json::json!({"delivery": {"drone": {"fee": 1}}});
    let refused = expect_error(
        open_lot(&app, &angler, unknown_field).await,
        400,
        "invalid_field",
    )
    .await;
    assert_eq!(refused["field"], "delivery.drone");
    let listed = expect_json(app.get("/api/v1/auctions?status=all", None).await, 200).await;
    assert_eq!(listed["total"], 0);
}

#[tokio::test]
async fn a_stored_photo_is_identified_by_its_id_when_its_owner_or_an_auction_shows_it() {
    let app = TestApp::spawn().await;
    let (angler, other) = (app.user().create().await, app.user().create().await);
    let photo = expect_json(upload(&app, &angler, phone_photo(640, 480, 1)).await, 201).await;
    let id = photo["id"].as_str().unwrap();
    let identify = |user: &TestUser, body: serde_json::Value| {
        let token = user.access_token.clone();
        let app = &app;
        async move {
            app.send(
                reqwest::Method::POST,
                "/api/v1/fish/identify?k=3",
                Some(&token),
                Some(body),
            )
            .await
        }
    };
    let answer = expect_json(
        identify(&angler, serde_json::json!({"photo_id": id})).await,
        200,
    )
    .await;
    assert_eq!(answer["predictions"].as_array().unwrap().len(), 3);
    // Someone else's unused upload is nobody else's business.
    expect_error(
        identify(&other, serde_json::json!({"photo_id": id})).await,
        404,
        "not_found",
    )
    .await;
    let unknown = serde_json::json!({"photo_id": "0123456789abcdef0123456789abcdef"});
    expect_error(identify(&angler, unknown).await, 404, "not_found").await;
    let bad = expect_error(
        identify(&angler, serde_json::json!({"photo_id": "x"})).await,
        400,
        "validation_failed",
    )
    .await;
    assert_eq!(bad["field"], "photo_id");
    // Once an auction shows it, anyone signed in may ask.
    expect_json(
        open_lot(
            &app,
            &angler,
            serde_json::json!({"photo_ids": [id], "species": "참돔"}),
        )
        .await,
        201,
    )
    .await;
    expect_json(
        identify(&other, serde_json::json!({"photo_id": id})).await,
        200,
    )
    .await;

    // Neither multipart nor JSON: the answer says what is expected.
    let res = app
        .client
        .post(app.url("/api/v1/fish/identify"))
        .bearer_auth(&angler.access_token)
        .header("content-type", "text/plain")
        .body("a fish")
        .send()
        .await
        .unwrap();
    let refused = expect_error(res, 415, "unsupported_media_type").await;
    let message = refused["message"].as_str().unwrap();
    assert!(
        message.contains("`file`") && message.contains("photo_id"),
        "{message}"
    );
}

#[tokio::test]
async fn a_busy_server_refuses_an_upload_before_reading_it() {
    let app = TestApp::spawn().await;
    let angler = app.user().create().await;
    let photos = app.state().photos.clone();
    let mut held = Vec::new();
    while let Ok(slot) = photos.reserve() {
        held.push(slot);
    }
    assert!(!held.is_empty());
    expect_error(
        upload(&app, &angler, phone_photo(640, 480, 1)).await,
        503,
        "overloaded",
    )
    .await;
    assert_eq!(photo_rows(&app).await, 0);
    drop(held);
    expect_json(upload(&app, &angler, phone_photo(640, 480, 1)).await, 201).await;
}
