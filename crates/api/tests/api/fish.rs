use std::io::Cursor;

use futures_util::StreamExt;
use image::{ImageFormat, Rgb, RgbImage};
use sitga_testkit::{TestApp, expect_error, expect_json};

fn photo(format: ImageFormat) -> Vec<u8> {
    let img = RgbImage::from_fn(320, 200, |x, y| {
        Rgb([(x % 256) as u8, (y % 256) as u8, ((x + y) % 256) as u8])
    });
    let mut out = Vec::new();
    img.write_to(&mut Cursor::new(&mut out), format).unwrap();
    out
}

async fn upload(app: &TestApp, query: &str, part: reqwest::multipart::Part) -> reqwest::Response {
    let angler = app.user().create().await;
    send_form(
        app,
        query,
        &angler.access_token,
        reqwest::multipart::Form::new().part("file", part),
    )
    .await
}

async fn send_form(
    app: &TestApp,
    query: &str,
    token: &str,
    form: reqwest::multipart::Form,
) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/api/v1/fish/identify{query}")))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .unwrap()
}

fn png_part(bytes: Vec<u8>) -> reqwest::multipart::Part {
    reqwest::multipart::Part::bytes(bytes)
        .file_name("fish.png")
        .mime_str("image/png")
        .unwrap()
}

#[tokio::test]
async fn identify_answers_with_top_k_species() {
    let app = TestApp::spawn().await;
    let ready = expect_json(app.get("/ready", None).await, 200).await;
    assert_eq!(ready["model"]["mode"], "fish-species v3");
    assert_eq!(ready["model"]["detail"], "the configured folder");

    let part = reqwest::multipart::Part::bytes(photo(ImageFormat::Png))
        .file_name("fish.png")
        .mime_str("image/png")
        .unwrap();
    let body = expect_json(upload(&app, "", part).await, 200).await;
    assert_eq!(body["model"], "fish-species");
    assert_eq!(body["version"], 3);
    let predictions = body["predictions"].as_array().unwrap();
    assert_eq!(
        predictions.len(),
        2,
        "two by default, like the original app"
    );
    assert!(
        predictions[0]["probability"].as_f64().unwrap()
            >= predictions[1]["probability"].as_f64().unwrap()
    );
    assert!(predictions[0]["label"].is_string() && predictions[0]["name_en"].is_string());
    assert!(body["unknown"].is_boolean());

    let part = reqwest::multipart::Part::bytes(photo(ImageFormat::Jpeg))
        .file_name("fish.jpg")
        .mime_str("image/jpeg")
        .unwrap();
    let body = expect_json(upload(&app, "?k=5", part).await, 200).await;
    assert_eq!(body["predictions"].as_array().unwrap().len(), 5);
}

#[tokio::test]
async fn identify_refuses_bad_uploads() {
    let app = TestApp::spawn().await;
    let part = reqwest::multipart::Part::bytes(b"not an image at all".to_vec())
        .file_name("x.png")
        .mime_str("image/png")
        .unwrap();
    // Well-formed uploads whose content is no image we read: 422.
    expect_error(upload(&app, "", part).await, 422, "invalid_image").await;
    let mut broken = photo(ImageFormat::Png);
    broken.truncate(100);
    let part = reqwest::multipart::Part::bytes(broken)
        .file_name("x.png")
        .mime_str("image/png")
        .unwrap();
    expect_error(upload(&app, "", part).await, 422, "invalid_image").await;
    let part = reqwest::multipart::Part::bytes(b"hello".to_vec())
        .file_name("x.txt")
        .mime_str("text/plain")
        .unwrap();
    let not_an_image =
        expect_error(upload(&app, "", part).await, 415, "unsupported_media_type").await;
    // The message names what is expected, not JSON.
    let message = not_an_image["message"].as_str().unwrap();
    assert!(
        message.contains("JPEG, PNG or WebP") && message.contains("file"),
        "{message}"
    );
    assert!(!message.contains("application/json"), "{message}");
    let part = reqwest::multipart::Part::bytes(vec![0u8; 11 * 1024 * 1024])
        .file_name("big.png")
        .mime_str("image/png")
        .unwrap();
    expect_error(upload(&app, "", part).await, 413, "payload_too_large").await;
    let part = reqwest::multipart::Part::bytes(photo(ImageFormat::Png))
        .mime_str("image/png")
        .unwrap();
    expect_error(upload(&app, "?k=0", part).await, 400, "invalid_query").await;
    let part = reqwest::multipart::Part::bytes(photo(ImageFormat::Png))
        .mime_str("image/png")
        .unwrap();
    expect_error(upload(&app, "?k=51", part).await, 400, "invalid_query").await;
    // More classes than the model knows: all of them.
    let part = reqwest::multipart::Part::bytes(photo(ImageFormat::Png))
        .mime_str("image/png")
        .unwrap();
    let all = expect_json(upload(&app, "?k=50", part).await, 200).await;
    assert_eq!(all["predictions"].as_array().unwrap().len(), 23);
    // Wrong field name, and not multipart at all.
    let angler = app.user().create().await;
    let form = reqwest::multipart::Form::new().part("photo", png_part(photo(ImageFormat::Png)));
    expect_error(
        send_form(&app, "", &angler.access_token, form).await,
        400,
        "missing_file",
    )
    .await;
    let res = app
        .send(
            reqwest::Method::POST,
            "/api/v1/fish/identify",
            Some(&angler.access_token),
            Some(serde_json::json!({})),
        )
        .await;
    // JSON names a stored photo, and this names none.
    let refused = expect_error(res, 400, "invalid_field").await;
    assert_eq!(refused["field"], "photo_id");
}

#[tokio::test]
async fn identify_needs_a_login_and_is_rate_limited_per_client() {
    let app = TestApp::builder().identify_quota(2).spawn().await;
    let form = reqwest::multipart::Form::new().part("file", png_part(photo(ImageFormat::Png)));
    let res = app
        .client
        .post(app.url("/api/v1/fish/identify"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    expect_error(res, 401, "missing_token").await;

    let (one, two) = (app.user().create().await, app.user().create().await);
    let form = || reqwest::multipart::Form::new().part("file", png_part(photo(ImageFormat::Png)));
    expect_json(send_form(&app, "", &one.access_token, form()).await, 200).await;
    expect_json(send_form(&app, "", &two.access_token, form()).await, 200).await;
    // Same address, another account: the address's bucket is spent.
    let limited = send_form(&app, "", &one.access_token, form()).await;
    assert!(limited.headers().contains_key("retry-after"));
    expect_error(limited, 429, "rate_limited").await;
}

#[tokio::test]
async fn an_upload_has_no_field_but_file() {
    let app = TestApp::spawn().await;
    let angler = app.user().create().await;
    // Before the file, after it, or a second file: refused, named.
    let forms = [
        reqwest::multipart::Form::new()
            .text("note", "x".repeat(5 * 1024))
            .part("file", png_part(photo(ImageFormat::Png))),
        reqwest::multipart::Form::new()
            .part("file", png_part(photo(ImageFormat::Png)))
            .text("caption", "감성돔"),
        reqwest::multipart::Form::new()
            .part("file", png_part(photo(ImageFormat::Png)))
            .part("file", png_part(photo(ImageFormat::Png))),
    ];
    for (form, field) in forms.into_iter().zip(["note", "caption", "file"]) {
        let refused = expect_error(
            send_form(&app, "", &angler.access_token, form).await,
            400,
            "invalid_field",
        )
        .await;
        assert_eq!(refused["field"], field);
    }
    let form = reqwest::multipart::Form::new().part("file", png_part(photo(ImageFormat::Png)));
    expect_json(send_form(&app, "", &angler.access_token, form).await, 200).await;
}

#[tokio::test]
async fn an_image_with_too_many_pixels_is_refused_before_decoding() {
    let app = TestApp::spawn().await;
    // A real PNG whose header claims 8000 × 6000 (48 MP): refused from the
    // header, before a 144 MB buffer is ever allocated.
    let mut bytes = photo(ImageFormat::Png);
    let ihdr = 8; // after the 8-byte signature: length, "IHDR", data, CRC
    assert_eq!(&bytes[ihdr + 4..ihdr + 8], b"IHDR");
    bytes[ihdr + 8..ihdr + 12].copy_from_slice(&8000u32.to_be_bytes());
    bytes[ihdr + 12..ihdr + 16].copy_from_slice(&6000u32.to_be_bytes());
    let crc = crc32fast::hash(&bytes[ihdr + 4..ihdr + 8 + 13]);
    bytes[ihdr + 21..ihdr + 25].copy_from_slice(&crc.to_be_bytes());
    expect_error(
        upload(&app, "", png_part(bytes)).await,
        422,
        "image_too_large",
    )
    .await;
}

#[tokio::test]
async fn a_busy_model_answers_503_before_reading_the_upload() {
    let app = TestApp::spawn().await;
    let angler = app.user().create().await;
    let model = app.state().fish.as_ref().unwrap().model().clone();
    let mut held = Vec::new();
    while let Ok(slot) = model.reserve() {
        held.push(slot);
    }
    // A 9 MB upload whose body stalls after its first bytes: the answer
    // must come without the rest ever being sent.
    let boundary = "sitga-test-boundary";
    let head = format!(
        "--{boundary}\r\ncontent-disposition: form-data; name=\"file\"; filename=\"f.png\"\r\ncontent-type: image/png\r\n\r\n"
    );
    let stalled =
        futures_util::stream::once(async move { Ok::<_, std::io::Error>(head.into_bytes()) })
            .chain(futures_util::stream::pending());
    let res = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        app.client
            .post(app.url("/api/v1/fish/identify"))
            .bearer_auth(&angler.access_token)
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .header("content-length", (9 * 1024 * 1024).to_string())
            .body(reqwest::Body::wrap_stream(stalled))
            .send(),
    )
    .await
    .expect("answered without reading the body")
    .unwrap();
    expect_error(res, 503, "overloaded").await;
    drop(held);
    expect_json(
        upload(&app, "", png_part(photo(ImageFormat::Png))).await,
        200,
    )
    .await;
}

/// The shipped model's files, renamed `name` v`version` (same weights, so
/// a different digest only through the manifest), optionally claiming
/// another backbone.
fn shipped_as(name: &str, version: u32, backbone: Option<&str>) -> sitga_inference::ModelFiles {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../assets/models/fish-species-v3");
    let mut files = sitga_inference::ModelFiles::read(&dir).unwrap();
    let mut manifest: serde_json::Value = serde_json::from_slice(&files.manifest).unwrap();
    manifest["model"] = name.into();
    manifest["version"] = version.into();
    if let Some(hash) = backbone {
        manifest["backbone"]["sha256"] = hash.into();
    }
    files.manifest = serde_json::to_vec(&manifest).unwrap();
    files
}

async fn install(app: &TestApp, files: &sitga_inference::ModelFiles) -> i64 {
    let manifest: serde_json::Value = serde_json::from_slice(&files.manifest).unwrap();
    let mut conn = app.state().db.get().await.unwrap();
    sitga_persistence::fish_models::install(
        &mut conn,
        &sitga_persistence::fish_models::NewModel {
            name: manifest["model"].as_str().unwrap(),
            version: i32::try_from(manifest["version"].as_i64().unwrap()).unwrap(),
            digest: &files.digest(),
            manifest: std::str::from_utf8(&files.manifest).unwrap(),
            weights: &files.weights,
            metrics: std::str::from_utf8(&files.metrics).unwrap(),
            installed_by: "test",
        },
    )
    .await
    .unwrap()
}

/// Polls `/ready` until the model line says `mode` and `detail`.
async fn wait_for_model(app: &TestApp, mode: &str, detail: &str) {
    let mut last = serde_json::Value::Null;
    for _ in 0..100 {
        let ready = expect_json(app.get("/ready", None).await, 200).await;
        if ready["model"]["mode"] == mode && ready["model"]["detail"] == detail {
            return;
        }
        last = ready["model"].clone();
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    panic!("the model never became {mode} ({detail}); last {last}");
}

#[tokio::test]
async fn an_installed_model_serves_without_a_restart_and_rolls_back() {
    let app = TestApp::spawn().await;
    wait_for_model(&app, "fish-species v3", "the configured folder").await;
    let first = install(&app, &shipped_as("ops-catch", 7, None)).await;
    wait_for_model(&app, "ops-catch v7", &format!("install #{first}")).await;
    let part = png_part(photo(ImageFormat::Png));
    let body = expect_json(upload(&app, "", part).await, 200).await;
    assert_eq!(
        (body["model"].as_str(), body["version"].as_i64()),
        (Some("ops-catch"), Some(7))
    );

    // One trained on another backbone is refused; the install before it
    // keeps serving, and /ready says so.
    let wrong = install(&app, &shipped_as("elsewhere", 1, Some(&"0".repeat(64)))).await;
    wait_for_model(
        &app,
        "ops-catch v7",
        &format!("install #{first}; install #{wrong} was refused (see the log)"),
    )
    .await;
    let part = png_part(photo(ImageFormat::Png));
    let body = expect_json(upload(&app, "", part).await, 200).await;
    assert_eq!(body["model"], "ops-catch");

    // Rolling back the refused one, then the good one: the folder again.
    let mut conn = app.state().db.get().await.unwrap();
    assert_eq!(
        sitga_persistence::fish_models::roll_back(&mut conn)
            .await
            .unwrap(),
        Some(wrong)
    );
    assert_eq!(
        sitga_persistence::fish_models::serving_id(&mut conn)
            .await
            .unwrap(),
        Some(first)
    );
    assert_eq!(
        sitga_persistence::fish_models::roll_back(&mut conn)
            .await
            .unwrap(),
        Some(first)
    );
    assert_eq!(
        sitga_persistence::fish_models::roll_back(&mut conn)
            .await
            .unwrap(),
        None
    );
    drop(conn);
    wait_for_model(&app, "fish-species v3", "the configured folder").await;
    let part = png_part(photo(ImageFormat::Png));
    let body = expect_json(upload(&app, "", part).await, 200).await;
    assert_eq!(
        (body["model"].as_str(), body["version"].as_i64()),
        (Some("fish-species"), Some(3))
    );
}
