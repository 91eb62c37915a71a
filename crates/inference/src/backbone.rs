//! The frozen image feature extractor every species head reads: an ONNX
//! graph from a preprocessed image batch `[N, H, W, 3]` to features
//! `[N, F]`, run by a small pool of ONNX Runtime sessions.

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use ndarray::{Array2, Array4};
use sha2::{Digest, Sha256};

use crate::head::BackboneSpec;
use crate::{InferenceError, LoadError, environment};

/// A loaded backbone.
pub struct Backbone {
    spec: BackboneSpec,
    sessions: Vec<Mutex<ort::session::Session>>,
    next: AtomicUsize,
}

impl std::fmt::Debug for Backbone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backbone")
            .field("spec", &self.spec)
            .field("sessions", &self.sessions.len())
            .finish()
    }
}

fn dimension(value: Option<&i64>, what: &str) -> Result<u32, LoadError> {
    value
        .and_then(|v| u32::try_from(*v).ok())
        .filter(|v| *v > 0)
        .ok_or_else(|| LoadError(format!("the backbone's {what} is not a fixed size")))
}

impl Backbone {
    /// Loads the ONNX graph at `path` with ONNX Runtime from `runtime`,
    /// `sessions` sessions of one thread each. Reads its input size and
    /// feature length from the graph and hashes the file, so a head can
    /// check it was trained on this very backbone.
    pub fn load(path: &Path, runtime: &Path, sessions: usize) -> Result<Self, LoadError> {
        let bytes = std::fs::read(path)
            .map_err(|e| LoadError(format!("cannot read {}: {e}", path.display())))?;
        let sha256 = hex::encode(Sha256::digest(&bytes));
        let environment = environment(runtime)?;
        let mut pool = Vec::with_capacity(sessions.max(1));
        for _ in 0..sessions.max(1) {
            let session = ort::session::Session::builder(environment)
                .and_then(|b| b.with_intra_threads(1).map_err(Into::into))
                .and_then(|mut b| b.commit_from_memory(&bytes))
                .map_err(|e| LoadError(format!("cannot load {}: {e}", path.display())))?;
            pool.push(Mutex::new(session));
        }
        let first = pool[0]
            .lock()
            .map_err(|_| LoadError("a session panicked while loading".into()))?;
        let input = first
            .inputs()
            .first()
            .ok_or_else(|| LoadError("the backbone has no input".into()))?;
        let shape = input
            .dtype()
            .tensor_shape()
            .ok_or_else(|| LoadError("the backbone's input is not a tensor".into()))?;
        let output = first
            .outputs()
            .first()
            .ok_or_else(|| LoadError("the backbone has no output".into()))?;
        let features = output
            .dtype()
            .tensor_shape()
            .ok_or_else(|| LoadError("the backbone's output is not a tensor".into()))?;
        if shape.len() != 4 || shape.get(3) != Some(&3) || features.len() != 2 {
            return Err(LoadError(
                "the backbone must map [N, H, W, 3] images to [N, F] features".into(),
            ));
        }
        let spec = BackboneSpec {
            sha256,
            input: input.name().to_owned(),
            height: dimension(shape.get(1), "input height")?,
            width: dimension(shape.get(2), "input width")?,
            features: dimension(features.get(1), "feature length")? as usize,
        };
        drop(first);
        Ok(Self {
            spec,
            sessions: pool,
            next: AtomicUsize::new(0),
        })
    }

    /// What it is: hash, input name and size, feature length.
    pub fn spec(&self) -> &BackboneSpec {
        &self.spec
    }

    /// How many sessions it runs (the most batches it runs at once).
    pub fn sessions(&self) -> usize {
        self.sessions.len()
    }

    /// Features of a preprocessed batch `[N, H, W, 3]`: `[N, F]`.
    /// Blocking: call from a blocking thread.
    pub fn embed(&self, batch: Array4<f32>) -> Result<Array2<f32>, InferenceError> {
        let runtime = |e: ort::Error| InferenceError::Runtime(e.to_string());
        let slot = self.next.fetch_add(1, Ordering::Relaxed) % self.sessions.len();
        let mut session = self.sessions[slot]
            .lock()
            .map_err(|_| InferenceError::Runtime("a session panicked earlier".into()))?;
        let rows = batch.dim().0;
        let tensor = ort::value::Tensor::from_array(batch).map_err(runtime)?;
        let outputs = session
            .run(ort::inputs![self.spec.input.as_str() => tensor])
            .map_err(runtime)?;
        let features = outputs[0].try_extract_array::<f32>().map_err(runtime)?;
        let values: Vec<f32> = features.iter().copied().collect();
        Array2::from_shape_vec((rows, self.spec.features), values)
            .map_err(|e| InferenceError::Runtime(format!("unexpected feature shape: {e}")))
    }
}
