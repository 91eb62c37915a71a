//! The species model through ONNX Runtime. Needs the runtime from the
//! `onnxruntime` wheel (scripts/bootstrap.sh installs it into .venv).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use image::{Rgb, RgbImage};
use sitga_inference::{FishModel, decode_and_preprocess};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn manifest() -> PathBuf {
    root().join("assets/models/fish-species-v1.json")
}

fn model() -> Arc<FishModel> {
    let runtime = sitga_inference::find_runtime(&root())
        .expect("ONNX Runtime not found: run scripts/bootstrap.sh (or set ORT_DYLIB_PATH)");
    Arc::new(FishModel::load(&manifest(), &runtime, 2, 8).expect("load the model"))
}

fn fixture(path: &Path) -> Vec<u8> {
    // A deterministic, busy picture: gradients and stripes, 640x480.
    let img = RgbImage::from_fn(640, 480, |x, y| {
        Rgb([
            ((x * 255) / 639) as u8,
            ((y * 255) / 479) as u8,
            if (x / 16 + y / 16) % 2 == 0 { 200 } else { 30 },
        ])
    });
    img.save(path).unwrap();
    std::fs::read(path).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probabilities_are_a_distribution() {
    let model = model();
    let dir = tempfile::tempdir().unwrap();
    let bytes = fixture(&dir.path().join("f.png"));
    let input = decode_and_preprocess(&bytes, 350, 200).unwrap();
    let probabilities = model.probabilities(input).unwrap();
    assert_eq!(probabilities.len(), 23);
    let sum: f32 = probabilities.iter().sum();
    assert!((sum - 1.0).abs() < 1e-4, "sum {sum}");
    let answer = model.identify(bytes, 2).await.unwrap();
    assert_eq!(answer.predictions.len(), 2);
    assert!(answer.predictions[0].probability >= answer.predictions[1].probability);
}

#[test]
fn rust_matches_the_python_pipeline() {
    let python = root().join(".venv/bin/python");
    assert!(
        python.exists(),
        "run scripts/bootstrap.sh first (it creates .venv)"
    );
    let model = model();
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("fixture.png");
    let bytes = fixture(&image);
    let out = dir.path().join("reference.json");
    let status = std::process::Command::new(python)
        .arg(root().join("scripts/fish_reference.py"))
        .arg(root().join("assets/models/fish-species-v1.onnx"))
        .arg(&image)
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    let reference: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let tensor = decode_and_preprocess(&bytes, 350, 200).unwrap();
    let expected: Vec<f32> = reference["tensor"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap() as f32)
        .collect();
    let max_diff = tensor
        .iter()
        .zip(&expected)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(
        max_diff == 0.0,
        "preprocessing differs from Pillow by {max_diff}"
    );
    let ours = model.probabilities(tensor).unwrap();
    let theirs: Vec<f32> = reference["probabilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap() as f32)
        .collect();
    let diff = ours
        .iter()
        .zip(&theirs)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    eprintln!("max tensor diff {max_diff}, max probability diff {diff}");
    assert!(diff < 1e-5, "probabilities differ by {diff}");
}

/// The real validation photos (../shared/fish, beside the repository; CI
/// has it): top-1 accuracy at least 0.8 through the Rust pipeline.
#[test]
#[ignore = "needs ../shared/fish (present in CI, run with --include-ignored)"]
fn validation_accuracy_is_at_least_0_8() {
    let val = root().join("../shared/fish/f4k/val");
    assert!(val.is_dir(), "no validation photos at {}", val.display());
    let model = model();
    let (mut right, mut total) = (0usize, 0usize);
    let mut classes: Vec<_> = std::fs::read_dir(&val)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    classes.sort();
    for (index, dir) in classes.iter().enumerate() {
        for photo in std::fs::read_dir(dir).unwrap().flatten() {
            let bytes = std::fs::read(photo.path()).unwrap();
            let probabilities = model
                .probabilities(decode_and_preprocess(&bytes, 350, 200).unwrap())
                .unwrap();
            let best = probabilities
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .unwrap()
                .0;
            right += usize::from(best == index);
            total += 1;
        }
    }
    let top1 = right as f64 / total as f64;
    eprintln!("validation top-1: {top1:.4} over {total} photos");
    assert!(total > 500);
    assert!(top1 >= 0.8, "top-1 {top1}");
}
