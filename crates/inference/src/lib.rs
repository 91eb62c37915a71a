//! Fish species identification for sitga: a frozen image backbone (an ONNX
//! graph from an image to a feature vector) run by ONNX Runtime through
//! `ort`, loaded dynamically from the `onnxruntime` wheel's shared library,
//! and a small trained head over its features that can be replaced while
//! serving ([`FishModel::replace_head`]).
//!
//! Heads are trained here too ([`train`]), from folders of photos, and
//! scored with [`metrics`]. The backbone is loaded once; a small pool of
//! sessions serves requests on blocking threads, behind a bounded queue (a
//! full queue is an [`InferenceError::Overloaded`], not a pile-up).

#![warn(missing_docs)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;
use ndarray::Array4;
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;

mod backbone;
pub mod head;
pub mod metrics;
mod preprocess;
pub mod train;

pub use backbone::Backbone;
pub use head::{Head, ModelFiles};
pub use preprocess::{
    MAX_DECODE_BYTES, MAX_PIXELS, PreprocessError, decode, decode_and_preprocess, decode_rgb_for,
    preprocess_centre_crop, preprocess_rgb,
};

/// One class of the model.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Label {
    /// Output index.
    pub index: usize,
    /// Scientific name.
    pub latin: String,
    /// English common name.
    pub name_en: String,
    /// Korean name, where known.
    pub name_ko: Option<String>,
    /// The training folder its photos came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub folder: Option<String>,
}

/// A class and its probability.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Prediction {
    /// The class.
    pub label: Label,
    /// Its probability.
    pub probability: f32,
}

/// The model's answer for one image.
#[derive(Debug, Clone, Serialize)]
pub struct Identification {
    /// The model that answered.
    pub model: String,
    /// Its version.
    pub version: u32,
    /// Top-k classes, most likely first.
    pub predictions: Vec<Prediction>,
    /// The best probability is under the unknown threshold.
    pub unknown: bool,
}

/// Why identification failed.
#[derive(Debug, thiserror::Error)]
pub enum InferenceError {
    /// The upload is not a usable image.
    #[error(transparent)]
    Image(#[from] PreprocessError),
    /// Too many requests are waiting.
    #[error("the model is busy; retry shortly")]
    Overloaded,
    /// The model or runtime failed.
    #[error("inference failed: {0}")]
    Runtime(String),
}

/// Why the model could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct LoadError(pub String);

/// A place in the model's queue, given back when dropped.
#[derive(Debug)]
// Held only for its Drop, which gives the place back.
pub struct QueueSlot(#[allow(dead_code)] tokio::sync::OwnedSemaphorePermit);

/// The loaded species model: a backbone and the head currently serving.
pub struct FishModel {
    backbone: Backbone,
    head: ArcSwap<Head>,
    running: Arc<Semaphore>,
    queue: Arc<Semaphore>,
}

impl std::fmt::Debug for FishModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FishModel")
            .field("model", &self.head.load().manifest().model)
            .field("backbone", &self.backbone)
            .finish()
    }
}

/// Where ONNX Runtime's shared library is: `ORT_DYLIB_PATH`, else the
/// `onnxruntime` wheel in the project's `.venv`.
pub fn find_runtime(project_root: &Path) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("ORT_DYLIB_PATH").map(PathBuf::from) {
        return path.exists().then_some(path);
    }
    let lib = project_root.join(".venv/lib");
    let pythons = std::fs::read_dir(&lib).ok()?;
    for python in pythons.flatten() {
        let capi = python.path().join("site-packages/onnxruntime/capi");
        if let Ok(files) = std::fs::read_dir(&capi) {
            for f in files.flatten() {
                let name = f.file_name().to_string_lossy().into_owned();
                if name.starts_with("libonnxruntime.so.") {
                    return Some(f.path());
                }
            }
        }
    }
    None
}

/// ONNX Runtime allows one environment per process: every model shares it.
static ENVIRONMENT: std::sync::OnceLock<Result<ort::environment::Environment, String>> =
    std::sync::OnceLock::new();

fn environment(runtime: &Path) -> Result<&'static ort::environment::Environment, LoadError> {
    ENVIRONMENT
        .get_or_init(|| {
            ort::init_from(runtime)
                .map_err(|e| format!("cannot load ONNX Runtime from {}: {e}", runtime.display()))?
                .with_name("sitga")
                .build()
                .map_err(|e| format!("ONNX Runtime environment: {e}"))
        })
        .as_ref()
        .map_err(|e| LoadError(e.clone()))
}

impl FishModel {
    /// Loads the backbone at `backbone` with ONNX Runtime from `runtime`
    /// (the shared library), with `sessions` sessions and at most `queue`
    /// requests waiting, serving `head` (which must have been trained on
    /// this backbone).
    pub fn load(
        backbone: &Path,
        runtime: &Path,
        head: Head,
        sessions: usize,
        queue: usize,
    ) -> Result<Self, LoadError> {
        let backbone = Backbone::load(backbone, runtime, sessions)?;
        check_backbone(&backbone, &head)?;
        Ok(Self {
            running: Arc::new(Semaphore::new(backbone.sessions())),
            queue: Arc::new(Semaphore::new(backbone.sessions() + queue)),
            head: ArcSwap::from_pointee(head),
            backbone,
        })
    }

    /// The head serving now.
    pub fn head(&self) -> Arc<Head> {
        self.head.load_full()
    }

    /// The backbone.
    pub fn backbone(&self) -> &Backbone {
        &self.backbone
    }

    /// Serves `head` from now on (requests already running finish with the
    /// one they started with); the head it replaces. Refused when `head`
    /// was trained on another backbone.
    pub fn replace_head(&self, head: Head) -> Result<Arc<Head>, LoadError> {
        check_backbone(&self.backbone, &head)?;
        Ok(self.head.swap(Arc::new(head)))
    }

    /// Runs the model on a preprocessed batch of one image: the head that
    /// answered and its class probabilities in label order. Blocking: call
    /// from a blocking thread.
    pub fn probabilities(
        &self,
        input: Array4<f32>,
    ) -> Result<(Arc<Head>, Vec<f32>), InferenceError> {
        let head = self.head();
        let features = self.backbone.embed(input)?;
        let probabilities = head.probabilities(&features.row(0));
        Ok((head, probabilities))
    }

    /// Takes a place in the queue, or `Overloaded` at once when it is full.
    /// A caller that must read a large upload takes its place first, so a
    /// busy model refuses before the bytes are buffered.
    pub fn reserve(&self) -> Result<QueueSlot, InferenceError> {
        self.queue
            .clone()
            .try_acquire_owned()
            .map(QueueSlot)
            .map_err(|_| InferenceError::Overloaded)
    }

    /// Identifies the fish in an uploaded image (JPEG, PNG or WebP):
    /// decoding and inference run on blocking threads, at most one per
    /// session, with a bounded queue.
    pub async fn identify(
        self: &Arc<Self>,
        bytes: Vec<u8>,
        top_k: usize,
    ) -> Result<Identification, InferenceError> {
        let slot = self.reserve()?;
        self.identify_reserved(slot, bytes, top_k).await
    }

    /// [`FishModel::identify`] with a place already taken by
    /// [`FishModel::reserve`].
    pub async fn identify_reserved(
        self: &Arc<Self>,
        slot: QueueSlot,
        bytes: Vec<u8>,
        top_k: usize,
    ) -> Result<Identification, InferenceError> {
        let _queued = slot;
        let _running = self
            .running
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| InferenceError::Runtime("model shut down".into()))?;
        let model = self.clone();
        tokio::task::spawn_blocking(move || {
            let spec = model.backbone.spec();
            let input = decode_and_preprocess(&bytes, spec.width, spec.height)?;
            let (head, probabilities) = model.probabilities(input)?;
            Ok(head.rank(&probabilities, top_k))
        })
        .await
        .map_err(|e| InferenceError::Runtime(e.to_string()))?
    }
}

/// Refuses a head trained on another backbone than `backbone`.
fn check_backbone(backbone: &Backbone, head: &Head) -> Result<(), LoadError> {
    let wanted = &head.manifest().backbone;
    if wanted != backbone.spec() {
        return Err(LoadError(format!(
            "{} v{} was trained on backbone {} ({}x{}, {} features); this one is {} ({}x{}, {} features)",
            head.manifest().model,
            head.manifest().version,
            short(&wanted.sha256),
            wanted.width,
            wanted.height,
            wanted.features,
            short(&backbone.spec().sha256),
            backbone.spec().width,
            backbone.spec().height,
            backbone.spec().features,
        )));
    }
    Ok(())
}

/// The first 12 hex digits of a hash, for people.
pub fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}
