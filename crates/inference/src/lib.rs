//! Fish species identification for sitga: the species model (an ONNX graph
//! whose output is softmax probabilities) run by ONNX Runtime through `ort`,
//! loaded dynamically from the `onnxruntime` wheel's shared library.
//!
//! The model is loaded once; a small pool of sessions serves requests on
//! blocking threads, behind a bounded queue (a full queue is an
//! [`InferenceError::Overloaded`], not a pile-up).

#![warn(missing_docs)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ndarray::Array4;
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;

mod preprocess;
mod resample;

pub use preprocess::{PreprocessError, decode, decode_and_preprocess, preprocess_rgb};

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
}

/// The model's input contract.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InputSpec {
    /// Input tensor name.
    pub name: String,
    /// Height in pixels.
    pub height: u32,
    /// Width in pixels.
    pub width: u32,
}

/// What `assets/models/<model>.json` says about the model.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// Model name.
    pub model: String,
    /// Version number.
    pub version: u32,
    /// ONNX file name, next to the manifest.
    pub file: String,
    /// Input contract.
    pub input: InputSpec,
    /// Below this top probability the answer is "unknown".
    pub unknown_threshold: f32,
    /// Classes in output order.
    pub labels: Vec<Label>,
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

/// The loaded species model.
pub struct FishModel {
    manifest: Manifest,
    sessions: Vec<Mutex<ort::session::Session>>,
    next: std::sync::atomic::AtomicUsize,
    running: Arc<Semaphore>,
    queue: Arc<Semaphore>,
}

impl std::fmt::Debug for FishModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FishModel")
            .field("model", &self.manifest.model)
            .field("sessions", &self.sessions.len())
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
    /// Loads the manifest at `manifest_path` and its model with ONNX Runtime
    /// from `runtime` (the shared library), with `sessions` sessions and at
    /// most `queue` requests waiting.
    pub fn load(
        manifest_path: &Path,
        runtime: &Path,
        sessions: usize,
        queue: usize,
    ) -> Result<Self, LoadError> {
        let text = std::fs::read_to_string(manifest_path)
            .map_err(|e| LoadError(format!("cannot read {}: {e}", manifest_path.display())))?;
        let manifest: Manifest =
            serde_json::from_str(&text).map_err(|e| LoadError(format!("bad manifest: {e}")))?;
        let model_path = manifest_path.with_file_name(&manifest.file);
        let environment = environment(runtime)?;
        let mut pool = Vec::with_capacity(sessions.max(1));
        for _ in 0..sessions.max(1) {
            let session = ort::session::Session::builder(environment)
                .and_then(|b| b.with_intra_threads(1).map_err(Into::into))
                .and_then(|mut b| b.commit_from_file(&model_path))
                .map_err(|e| LoadError(format!("cannot load {}: {e}", model_path.display())))?;
            pool.push(Mutex::new(session));
        }
        Ok(Self {
            manifest,
            running: Arc::new(Semaphore::new(pool.len())),
            queue: Arc::new(Semaphore::new(pool.len() + queue)),
            sessions: pool,
            next: std::sync::atomic::AtomicUsize::new(0),
        })
    }

    /// The manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Runs the model on a preprocessed batch of one image; the class
    /// probabilities in output order. Blocking: call from a blocking thread.
    pub fn probabilities(&self, input: Array4<f32>) -> Result<Vec<f32>, InferenceError> {
        let slot =
            self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % self.sessions.len();
        let mut session = self.sessions[slot]
            .lock()
            .map_err(|_| InferenceError::Runtime("a session panicked earlier".into()))?;
        let tensor = ort::value::Tensor::from_array(input)
            .map_err(|e| InferenceError::Runtime(e.to_string()))?;
        let outputs = session
            .run(ort::inputs![self.manifest.input.name.as_str() => tensor])
            .map_err(|e| InferenceError::Runtime(e.to_string()))?;
        let probabilities = outputs[0]
            .try_extract_array::<f32>()
            .map_err(|e| InferenceError::Runtime(e.to_string()))?;
        Ok(probabilities.iter().copied().collect())
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
            let (w, h) = (model.manifest.input.width, model.manifest.input.height);
            let input = decode_and_preprocess(&bytes, w, h)?;
            let probabilities = model.probabilities(input)?;
            Ok(model.rank(&probabilities, top_k))
        })
        .await
        .map_err(|e| InferenceError::Runtime(e.to_string()))?
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
            predictions,
            unknown,
        }
    }
}
