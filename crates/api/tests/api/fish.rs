use std::io::Cursor;

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
    let form = reqwest::multipart::Form::new().part("file", part);
    app.client
        .post(app.url(&format!("/api/v1/fish/identify{query}")))
        .multipart(form)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn identify_answers_with_top_k_species() {
    let app = TestApp::spawn().await;
    let ready = expect_json(app.get("/ready", None).await, 200).await;
    assert_eq!(ready["model"]["mode"], "fish-species-v1");

    let part = reqwest::multipart::Part::bytes(photo(ImageFormat::Png))
        .file_name("fish.png")
        .mime_str("image/png")
        .unwrap();
    let body = expect_json(upload(&app, "", part).await, 200).await;
    assert_eq!(body["model"], "fish-species-v1");
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
    expect_error(upload(&app, "", part).await, 415, "unsupported_media_type").await;
    let mut broken = photo(ImageFormat::Png);
    broken.truncate(100);
    let part = reqwest::multipart::Part::bytes(broken)
        .file_name("x.png")
        .mime_str("image/png")
        .unwrap();
    expect_error(upload(&app, "", part).await, 400, "invalid_image").await;
    let part = reqwest::multipart::Part::bytes(b"hello".to_vec())
        .file_name("x.txt")
        .mime_str("text/plain")
        .unwrap();
    expect_error(upload(&app, "", part).await, 415, "unsupported_media_type").await;
    let part = reqwest::multipart::Part::bytes(vec![0u8; 11 * 1024 * 1024])
        .file_name("big.png")
        .mime_str("image/png")
        .unwrap();
    expect_error(upload(&app, "", part).await, 413, "payload_too_large").await;
    let part = reqwest::multipart::Part::bytes(photo(ImageFormat::Png))
        .mime_str("image/png")
        .unwrap();
    expect_error(upload(&app, "?k=0", part).await, 400, "invalid_query").await;
    // Wrong field name, and not multipart at all.
    let form = reqwest::multipart::Form::new().part(
        "photo",
        reqwest::multipart::Part::bytes(photo(ImageFormat::Png)),
    );
    let res = app
        .client
        .post(app.url("/api/v1/fish/identify"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    expect_error(res, 400, "missing_file").await;
    let res = app
        .post_json("/api/v1/fish/identify", &serde_json::json!({}))
        .await;
    expect_error(res, 415, "unsupported_media_type").await;
}
