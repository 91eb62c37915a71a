//! A trained species head: the labels, the unknown threshold, the backbone
//! it was trained on and a linear layer over that backbone's features.
//!
//! On disk (and in the database, once installed) a model is three files:
//! `model.json` (a [`HeadManifest`]), `head.safetensors` (the tensors
//! `mean`, `scale`, `weight` `[classes, features]` and `bias`) and
//! `metrics.json` (what training measured on its held-out photos).

use std::path::Path;

use ndarray::{Array1, Array2, ArrayView1};
use safetensors::{Dtype, SafeTensors, tensor::TensorView};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{Identification, Label, LoadError, Prediction};

/// The manifest's file name in a model folder.
pub const MANIFEST_FILE: &str = "model.json";
/// The weights' file name in a model folder.
pub const WEIGHTS_FILE: &str = "head.safetensors";
/// The training report's file name in a model folder.
pub const METRICS_FILE: &str = "metrics.json";
/// The model folder format this crate writes and reads.
pub const FORMAT: &str = "sitga-fish-head/1";
/// Largest weights file a model may have (a linear head over 1,280
/// features for 1,000 species is 5 MB).
pub const MAX_WEIGHTS_BYTES: usize = 8 * 1024 * 1024;

/// The backbone a head was trained on.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct BackboneSpec {
    /// SHA-256 of the backbone's ONNX file, hex.
    pub sha256: String,
    /// Its input tensor's name.
    pub input: String,
    /// Input height in pixels.
    pub height: u32,
    /// Input width in pixels.
    pub width: u32,
    /// Length of its feature vector.
    pub features: usize,
}

/// What is done to each backbone feature before the head reads it.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum FeatureTransform {
    /// Nothing.
    #[default]
    None,
    /// The square root (of the feature floored at 0): the pooled
    /// activations are skewed, and a linear head separates their roots
    /// better.
    Sqrt,
}

impl FeatureTransform {
    /// Applies the transform in place.
    pub fn apply<D: ndarray::Dimension>(self, features: &mut ndarray::Array<f32, D>) {
        if self == Self::Sqrt {
            features.mapv_inplace(|v| v.max(0.0).sqrt());
        }
    }
}

/// `model.json`: what a model is and what it needs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HeadManifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// Model name, e.g. `fish-species`.
    pub model: String,
    /// Version number, chosen by whoever trained it.
    pub version: u32,
    /// When it was trained (RFC 3339).
    pub created_at: String,
    /// The backbone whose features it reads.
    pub backbone: BackboneSpec,
    /// What is done to each feature before the standardisation.
    #[serde(default)]
    pub transform: FeatureTransform,
    /// Below this top probability the answer is "unknown".
    pub unknown_threshold: f32,
    /// Classes in output order.
    pub labels: Vec<Label>,
    /// SHA-256 of `head.safetensors`, hex.
    pub weights_sha256: String,
    /// How it was trained (free form, for people).
    #[serde(default)]
    pub training: serde_json::Value,
}

/// A model's files, as bytes: what a folder holds and what an install
/// stores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelFiles {
    /// `model.json`.
    pub manifest: Vec<u8>,
    /// `head.safetensors`.
    pub weights: Vec<u8>,
    /// `metrics.json` (`{}` when the folder has none).
    pub metrics: Vec<u8>,
}

impl ModelFiles {
    /// Reads a model folder.
    pub fn read(dir: &Path) -> Result<Self, LoadError> {
        let read = |name: &str| {
            std::fs::read(dir.join(name))
                .map_err(|e| LoadError(format!("cannot read {}: {e}", dir.join(name).display())))
        };
        let weights_len = std::fs::metadata(dir.join(WEIGHTS_FILE))
            .map_err(|e| {
                LoadError(format!(
                    "cannot read {}: {e}",
                    dir.join(WEIGHTS_FILE).display()
                ))
            })?
            .len();
        if weights_len > MAX_WEIGHTS_BYTES as u64 {
            return Err(LoadError(format!(
                "{WEIGHTS_FILE} is {weights_len} bytes; at most {MAX_WEIGHTS_BYTES}"
            )));
        }
        Ok(Self {
            manifest: read(MANIFEST_FILE)?,
            weights: read(WEIGHTS_FILE)?,
            metrics: match std::fs::read(dir.join(METRICS_FILE)) {
                Ok(bytes) => bytes,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => b"{}".to_vec(),
                Err(e) => return Err(LoadError(format!("cannot read {METRICS_FILE}: {e}"))),
            },
        })
    }

    /// Writes the three files into `dir` (created if missing).
    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        std::fs::write(dir.join(MANIFEST_FILE), &self.manifest)?;
        std::fs::write(dir.join(WEIGHTS_FILE), &self.weights)?;
        std::fs::write(dir.join(METRICS_FILE), &self.metrics)
    }

    /// SHA-256 over the manifest and the weights: two models with the same
    /// digest answer the same.
    pub fn digest(&self) -> String {
        let mut hash = Sha256::new();
        hash.update((self.manifest.len() as u64).to_le_bytes());
        hash.update(&self.manifest);
        hash.update(&self.weights);
        hex::encode(hash.finalize())
    }
}

fn view(shape: Vec<usize>, data: &[u8]) -> Result<TensorView<'_>, LoadError> {
    TensorView::new(Dtype::F32, shape, data).map_err(|e| LoadError(e.to_string()))
}

/// A loaded head, ready to turn features into probabilities.
#[derive(Debug, Clone)]
pub struct Head {
    manifest: HeadManifest,
    digest: String,
    mean: Array1<f32>,
    scale: Array1<f32>,
    weight: Array2<f32>,
    bias: Array1<f32>,
}

/// The linear layer and the feature standardisation a trainer produced.
#[derive(Debug, Clone, PartialEq)]
pub struct HeadWeights {
    /// Feature means (subtracted first).
    pub mean: Array1<f32>,
    /// Feature scales (divided by next).
    pub scale: Array1<f32>,
    /// `[classes, features]`.
    pub weight: Array2<f32>,
    /// `[classes]`.
    pub bias: Array1<f32>,
}

impl HeadWeights {
    /// The safetensors bytes of these weights.
    pub fn to_bytes(&self) -> Result<Vec<u8>, LoadError> {
        let bytes = |a: &[f32]| a.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>();
        let plain = |name: &str, a: Option<&[f32]>| {
            a.map(bytes)
                .ok_or_else(|| LoadError(format!("{name} is not contiguous")))
        };
        let mean = plain("mean", self.mean.as_slice())?;
        let scale = plain("scale", self.scale.as_slice())?;
        let weight = plain("weight", self.weight.as_slice())?;
        let bias = plain("bias", self.bias.as_slice())?;
        let tensors = vec![
            ("mean", view(vec![self.mean.len()], &mean)?),
            ("scale", view(vec![self.scale.len()], &scale)?),
            ("weight", view(self.weight.shape().to_vec(), &weight)?),
            ("bias", view(vec![self.bias.len()], &bias)?),
        ];
        safetensors::serialize(tensors, None).map_err(|e| LoadError(e.to_string()))
    }

    /// Reads weights back from safetensors bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, LoadError> {
        let file = SafeTensors::deserialize(bytes)
            .map_err(|e| LoadError(format!("bad {WEIGHTS_FILE}: {e}")))?;
        let tensor = |name: &str| -> Result<(Vec<usize>, Vec<f32>), LoadError> {
            let t = file
                .tensor(name)
                .map_err(|e| LoadError(format!("{WEIGHTS_FILE}: {name}: {e}")))?;
            if t.dtype() != Dtype::F32 {
                return Err(LoadError(format!("{WEIGHTS_FILE}: {name} is not f32")));
            }
            let values = t
                .data()
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            Ok((t.shape().to_vec(), values))
        };
        let vector = |name: &str| -> Result<Array1<f32>, LoadError> {
            let (shape, values) = tensor(name)?;
            if shape.len() != 1 {
                return Err(LoadError(format!(
                    "{WEIGHTS_FILE}: {name} must be a vector"
                )));
            }
            Ok(Array1::from(values))
        };
        let (shape, values) = tensor("weight")?;
        let [classes, features] = shape[..] else {
            return Err(LoadError(format!(
                "{WEIGHTS_FILE}: weight must be a matrix"
            )));
        };
        let weight = Array2::from_shape_vec((classes, features), values)
            .map_err(|e| LoadError(e.to_string()))?;
        Ok(Self {
            mean: vector("mean")?,
            scale: vector("scale")?,
            weight,
            bias: vector("bias")?,
        })
    }
}

impl Head {
    /// Builds a head from a model's files, checking that they agree with
    /// each other (shapes, the weights' hash, the labels).
    pub fn from_files(files: &ModelFiles) -> Result<Self, LoadError> {
        let manifest: HeadManifest = serde_json::from_slice(&files.manifest)
            .map_err(|e| LoadError(format!("bad {MANIFEST_FILE}: {e}")))?;
        if manifest.format != FORMAT {
            return Err(LoadError(format!(
                "{MANIFEST_FILE} is format {:?}; this sitga reads {FORMAT:?}",
                manifest.format
            )));
        }
        let actual = hex::encode(Sha256::digest(&files.weights));
        if actual != manifest.weights_sha256 {
            return Err(LoadError(format!(
                "{WEIGHTS_FILE} does not match {MANIFEST_FILE} (sha256 {actual})"
            )));
        }
        let HeadWeights {
            mean,
            scale,
            weight,
            bias,
        } = HeadWeights::from_bytes(&files.weights)?;
        let (classes, features) = weight.dim();
        let labels = &manifest.labels;
        if classes == 0
            || labels.len() != classes
            || labels.iter().enumerate().any(|(i, l)| l.index != i)
        {
            return Err(LoadError(format!(
                "{MANIFEST_FILE} names {} labels (indexed 0…) for {classes} outputs",
                labels.len()
            )));
        }
        if bias.len() != classes
            || mean.len() != features
            || scale.len() != features
            || features != manifest.backbone.features
        {
            return Err(LoadError(format!(
                "{WEIGHTS_FILE}: shapes disagree with each other or with the backbone's {} features",
                manifest.backbone.features
            )));
        }
        if !(0.0..=1.0).contains(&manifest.unknown_threshold)
            || scale.iter().any(|s| *s <= 0.0 || !s.is_finite())
            || weight
                .iter()
                .chain(&bias)
                .chain(&mean)
                .any(|v| !v.is_finite())
        {
            return Err(LoadError(format!(
                "{WEIGHTS_FILE} or the threshold holds values out of range"
            )));
        }
        Ok(Self {
            digest: files.digest(),
            manifest,
            mean,
            scale,
            weight,
            bias,
        })
    }

    /// Reads and checks a model folder.
    pub fn read_dir(dir: &Path) -> Result<Self, LoadError> {
        Self::from_files(&ModelFiles::read(dir)?)
    }

    /// Its manifest.
    pub fn manifest(&self) -> &HeadManifest {
        &self.manifest
    }

    /// The digest of the files it was built from ([`ModelFiles::digest`]).
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// Class probabilities for one feature vector, in label order.
    pub fn probabilities(&self, features: &ArrayView1<'_, f32>) -> Vec<f32> {
        let mut x = features.to_owned();
        self.manifest.transform.apply(&mut x);
        let x = (x - &self.mean) / &self.scale;
        softmax(&(self.weight.dot(&x) + &self.bias))
    }

    /// Top-k of a probability vector, with the unknown decision.
    pub fn rank(&self, probabilities: &[f32], top_k: usize) -> Identification {
        let mut order: Vec<usize> = (0..probabilities.len()).collect();
        order.sort_by(|a, b| probabilities[*b].total_cmp(&probabilities[*a]));
        let predictions: Vec<Prediction> = order
            .into_iter()
            .take(top_k.max(1))
            .filter_map(|i| {
                Some(Prediction {
                    label: self.manifest.labels.get(i)?.clone(),
                    probability: probabilities[i],
                })
            })
            .collect();
        let unknown = predictions
            .first()
            .is_none_or(|p| p.probability < self.manifest.unknown_threshold);
        Identification {
            model: self.manifest.model.clone(),
            version: self.manifest.version,
            predictions,
            unknown,
        }
    }
}

/// Softmax of logits, stable for large values.
pub(crate) fn softmax(logits: &Array1<f32>) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exp = logits.mapv(|v| (v - max).exp());
    let sum = exp.sum();
    exp.iter().map(|v| v / sum).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn files(threshold: f32) -> ModelFiles {
        let weights = HeadWeights {
            mean: Array1::from(vec![1.0, 0.0]),
            scale: Array1::from(vec![2.0, 1.0]),
            weight: Array2::from_shape_vec((2, 2), vec![1.0, 0.0, 0.0, 1.0]).unwrap(),
            bias: Array1::from(vec![0.0, 0.5]),
        };
        let bytes = weights.to_bytes().unwrap();
        assert_eq!(HeadWeights::from_bytes(&bytes).unwrap(), weights);
        let label = |index: usize, latin: &str| Label {
            index,
            latin: latin.into(),
            name_en: latin.into(),
            name_ko: None,
            folder: None,
        };
        let manifest = HeadManifest {
            format: FORMAT.into(),
            model: "tiny".into(),
            version: 3,
            created_at: "2026-12-06T00:00:00Z".into(),
            backbone: BackboneSpec {
                sha256: "00".into(),
                input: "input".into(),
                height: 2,
                width: 2,
                features: 2,
            },
            transform: FeatureTransform::None,
            unknown_threshold: threshold,
            labels: vec![label(0, "a"), label(1, "b")],
            weights_sha256: hex::encode(Sha256::digest(&bytes)),
            training: serde_json::Value::Null,
        };
        ModelFiles {
            manifest: serde_json::to_vec(&manifest).unwrap(),
            weights: bytes,
            metrics: b"{}".to_vec(),
        }
    }

    #[test]
    fn standardises_then_applies_the_linear_layer() {
        let head = Head::from_files(&files(0.5)).unwrap();
        // x = ((5 - 1) / 2, 1 / 1) = (2, 1); logits (2, 1.5).
        let p = head.probabilities(&Array1::from(vec![5.0, 1.0]).view());
        let expected = 1.0 / (1.0 + (-0.5f32).exp());
        assert!((p[0] - expected).abs() < 1e-6, "{p:?}");
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        let answer = head.rank(&p, 5);
        assert_eq!(answer.predictions.len(), 2);
        assert_eq!(answer.predictions[0].label.latin, "a");
        assert!(!answer.unknown);
        assert_eq!((answer.model.as_str(), answer.version), ("tiny", 3));
        let cautious = Head::from_files(&files(0.9)).unwrap();
        assert!(cautious.rank(&p, 1).unknown);
    }

    #[test]
    fn refuses_files_that_disagree() {
        let mut tampered = files(0.5);
        let last = tampered.weights.len() - 1;
        tampered.weights[last] ^= 1;
        let e = Head::from_files(&tampered).unwrap_err();
        assert!(e.0.contains("does not match"), "{e}");

        let mut manifest: HeadManifest = serde_json::from_slice(&files(0.5).manifest).unwrap();
        manifest.labels.pop();
        let mut fewer = files(0.5);
        fewer.manifest = serde_json::to_vec(&manifest).unwrap();
        assert!(Head::from_files(&fewer).unwrap_err().0.contains("labels"));

        let mut manifest: HeadManifest = serde_json::from_slice(&files(0.5).manifest).unwrap();
        manifest.format = "something-else".into();
        let mut other = files(0.5);
        other.manifest = serde_json::to_vec(&manifest).unwrap();
        assert!(Head::from_files(&other).unwrap_err().0.contains("format"));

        let mut bad_threshold = files(1.5);
        bad_threshold.metrics.clear();
        assert!(Head::from_files(&bad_threshold).is_err());
    }

    #[test]
    fn a_folder_round_trips_and_the_digest_names_its_content() {
        let dir = tempfile::tempdir().unwrap();
        let written = files(0.5);
        written.write(dir.path()).unwrap();
        let read = ModelFiles::read(dir.path()).unwrap();
        assert_eq!(read, written);
        assert_eq!(read.digest(), written.digest());
        assert_ne!(files(0.6).digest(), written.digest());
        std::fs::remove_file(dir.path().join(METRICS_FILE)).unwrap();
        assert_eq!(ModelFiles::read(dir.path()).unwrap().metrics, b"{}");
    }
}
