//! Training a species head from folders of photos, without Python: the
//! photos' features from the shipped backbone (and of more views of each:
//! its mirror image, a closer centred framing and that one's mirror), a
//! class-balanced multinomial logistic regression over them, and an
//! unknown threshold chosen on photos the head never saw.
//!
//! The regression is a few lines of ndarray (full-batch Adam on the
//! weighted cross-entropy with an L2 penalty): linfa's logistic
//! regression takes no per-sample weights, and the weights are what make
//! a species with ten photos count as much as one with a hundred and
//! fifty.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use ndarray::{Array1, Array2, Axis, Slice};
use regex::Regex;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::backbone::Backbone;
use crate::head::{
    BackboneSpec, FORMAT, FeatureTransform, Head, HeadManifest, HeadWeights, ModelFiles,
};
use crate::metrics::{Metrics, OpenSet, Outcome, score, score_open_set, threshold_for};
use crate::{Label, decode_rgb_for, preprocess_centre_crop, preprocess_rgb};

/// The default rule for photos that belong together: the file name
/// without its last `_number` (`fish_1234_7.png` → `fish_1234`, one fish
/// trajectory).
pub const DEFAULT_GROUP_PATTERN: &str = r"^(.+)_\d+$";

/// Photos a training folder may hold.
const PHOTO_EXTENSIONS: [&str; 4] = ["jpg", "jpeg", "png", "webp"];

/// Photos per backbone run.
const BATCH: usize = 16;

/// Why training (or reading a labelled folder) failed.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// The folder is not laid out as expected.
    #[error("{0}")]
    Layout(String),
    /// A photo could not be read or run.
    #[error("{path}: {message}")]
    Photo {
        /// The photo.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The result could not be written.
    #[error("{0}")]
    Output(String),
}

fn is_photo(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| PHOTO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

fn layout(message: impl Into<String>) -> TrainError {
    TrainError::Layout(message.into())
}

/// One photo of a labelled folder.
#[derive(Debug, Clone)]
pub struct Photo {
    /// Its file.
    pub path: PathBuf,
    /// Its class index.
    pub class: usize,
    /// What it belongs together with (never split across train and
    /// validation), namespaced by class.
    pub group: String,
}

/// A folder of photos, one subfolder per species.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// Classes in subfolder order.
    pub labels: Vec<Label>,
    /// Every photo.
    pub photos: Vec<Photo>,
}

/// A `labels.csv` row: folder, Korean name, English name, Latin name.
#[derive(Debug, Clone)]
struct Names {
    name_ko: Option<String>,
    name_en: Option<String>,
    latin: Option<String>,
}

fn read_names(path: &Path) -> Result<HashMap<String, Names>, TrainError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_path(path)
        .map_err(|e| layout(format!("cannot read {}: {e}", path.display())))?;
    let mut names = HashMap::new();
    for (line, row) in reader.records().enumerate() {
        let row = row.map_err(|e| layout(format!("{}: {e}", path.display())))?;
        let field = |i: usize| {
            row.get(i)
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        let folder = field(0).ok_or_else(|| {
            layout(format!(
                "{} line {}: the first column names a folder",
                path.display(),
                line + 2
            ))
        })?;
        names.insert(
            folder,
            Names {
                name_ko: field(1),
                name_en: field(2),
                latin: field(3),
            },
        );
    }
    Ok(names)
}

/// The species part of a folder name: `03_Chromis_chrysura` → `Chromis
/// chrysura`.
fn species_of(folder: &str) -> String {
    let rest = match folder.split_once('_') {
        Some((prefix, rest)) if prefix.chars().all(|c| c.is_ascii_digit()) => rest,
        _ => folder,
    };
    rest.replace('_', " ")
}

impl Dataset {
    /// Reads `dir`: one subfolder per species (in name order, so `NN_`
    /// prefixes fix the class order), photos (`.jpg`, `.png`, `.webp`)
    /// inside, and an optional `labels.csv` naming each folder's species
    /// (`folder,korean,english,latin`). Photos whose names match `group`
    /// are grouped by its first capture, the others stand alone.
    pub fn scan(dir: &Path, group: &Regex) -> Result<Self, TrainError> {
        let csv = dir.join("labels.csv");
        let names = if csv.is_file() {
            read_names(&csv)?
        } else {
            HashMap::new()
        };
        let mut folders: Vec<(String, PathBuf)> = std::fs::read_dir(dir)
            .map_err(|e| layout(format!("cannot read {}: {e}", dir.display())))?
            .flatten()
            .filter(|e| e.path().is_dir())
            .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
            .collect();
        folders.sort();
        if folders.len() < 2 {
            return Err(layout(format!(
                "{} needs a subfolder per species, at least two",
                dir.display()
            )));
        }
        if let Some(unknown) = names.keys().find(|k| !folders.iter().any(|(f, _)| f == *k)) {
            return Err(layout(format!(
                "labels.csv names {unknown:?}, which is not a folder of {}",
                dir.display()
            )));
        }
        let mut labels = Vec::with_capacity(folders.len());
        let mut photos = Vec::new();
        for (class, (folder, path)) in folders.iter().enumerate() {
            let named = names.get(folder);
            let latin = named
                .and_then(|n| n.latin.clone())
                .unwrap_or_else(|| species_of(folder));
            labels.push(Label {
                index: class,
                name_en: named
                    .and_then(|n| n.name_en.clone())
                    .unwrap_or_else(|| latin.clone()),
                name_ko: named.and_then(|n| n.name_ko.clone()),
                latin,
                folder: Some(folder.clone()),
            });
            let mut files: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(|e| layout(format!("cannot read {}: {e}", path.display())))?
                .flatten()
                .map(|e| e.path())
                .filter(|p| is_photo(p))
                .collect();
            files.sort();
            if files.is_empty() {
                return Err(layout(format!("{} holds no photos", path.display())));
            }
            for file in files {
                let stem = file
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let key = group
                    .captures(&stem)
                    .and_then(|c| c.get(1))
                    .map_or(stem.as_str(), |m| m.as_str())
                    .to_owned();
                photos.push(Photo {
                    path: file,
                    class,
                    group: format!("{class}/{key}"),
                });
            }
        }
        Ok(Self { labels, photos })
    }

    /// Splits the photos into training and validation indices: per
    /// species, whole groups in a seeded order go to validation until
    /// they hold `fraction` of its photos; a species with one group keeps
    /// it for training (and has no validation photos).
    pub fn split(&self, fraction: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
        let mut groups: BTreeMap<(usize, String), Vec<usize>> = BTreeMap::new();
        for (i, photo) in self.photos.iter().enumerate() {
            groups
                .entry((photo.class, photo.group.clone()))
                .or_default()
                .push(i);
        }
        let mut by_class: BTreeMap<usize, Vec<(String, Vec<usize>)>> = BTreeMap::new();
        for ((class, group), members) in groups {
            let order = hex::encode(Sha256::digest(format!("{seed}:{group}")));
            by_class.entry(class).or_default().push((order, members));
        }
        let (mut train, mut val) = (Vec::new(), Vec::new());
        for (_, mut groups) in by_class {
            groups.sort();
            let total: usize = groups.iter().map(|g| g.1.len()).sum();
            let wanted = (total as f64 * fraction.clamp(0.0, 0.9)).round() as usize;
            let mut taken = 0;
            let last = groups.len().saturating_sub(1);
            for (n, (_, members)) in groups.into_iter().enumerate() {
                if taken < wanted && n < last {
                    taken += members.len();
                    val.extend(members);
                } else {
                    train.extend(members);
                }
            }
        }
        train.sort_unstable();
        val.sort_unstable();
        (train, val)
    }
}

/// The views of each photo that training embeds. The photo itself comes
/// first; the others are the same fish seen a little differently, which
/// a head trained on few photos per species needs (on the Fish4Knowledge
/// split, the centred crop and its mirror added 1.8 points of top-1 and
/// 2.8 of mean per-class recall on photos never seen; `docs/model-card.md`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Views {
    /// Adds each view's mirror image.
    pub mirror: bool,
    /// Adds the centred crop keeping this share (0 to 1) of the photo's
    /// width and height.
    pub centre_crop: Option<f32>,
}

impl Views {
    /// The photo alone (what serving and scoring see).
    pub const PHOTO: Self = Self {
        mirror: false,
        centre_crop: None,
    };

    /// The shipped recipe's views: the photo, its mirror, the centred crop
    /// keeping 85 % of each side, and that crop's mirror.
    pub const RECIPE: Self = Self {
        mirror: true,
        centre_crop: Some(0.85),
    };

    /// Feature rows per photo.
    pub fn per_photo(self) -> usize {
        (1 + usize::from(self.centre_crop.is_some())) * (1 + usize::from(self.mirror))
    }
}

/// The features of `photos` in `views` (`views.per_photo()` rows per
/// photo, the photo itself first: row `i * per_photo` for photo `i`),
/// `threads` batches at a time; `progress` is told the photos done so far.
pub fn embed(
    backbone: &Backbone,
    photos: &[PathBuf],
    views: Views,
    threads: usize,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<Array2<f32>, TrainError> {
    let spec = backbone.spec().clone();
    let per_photo = views.per_photo();
    let batches: Vec<&[PathBuf]> = photos.chunks(BATCH).collect();
    let results: Mutex<Vec<Option<Array2<f32>>>> = Mutex::new(vec![None; batches.len()]);
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let failure: Mutex<Option<TrainError>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..threads.max(1) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(batch) = batches.get(i) else { break };
                    if failure.lock().map(|f| f.is_some()).unwrap_or(true) {
                        break;
                    }
                    match embed_batch(backbone, &spec, batch, views) {
                        Ok(features) => {
                            if let Ok(mut r) = results.lock() {
                                r[i] = Some(features);
                            }
                            progress(done.fetch_add(batch.len(), Ordering::Relaxed) + batch.len());
                        }
                        Err(e) => {
                            if let Ok(mut f) = failure.lock() {
                                f.get_or_insert(e);
                            }
                            break;
                        }
                    }
                }
            });
        }
    });
    if let Some(e) = failure.into_inner().ok().flatten() {
        return Err(e);
    }
    let parts: Vec<Array2<f32>> = results
        .into_inner()
        .map_err(|_| TrainError::Output("an embedding thread panicked".into()))?
        .into_iter()
        .collect::<Option<_>>()
        .ok_or_else(|| TrainError::Output("an embedding thread stopped early".into()))?;
    let mut all = Array2::zeros((photos.len() * per_photo, spec.features));
    let mut row = 0;
    for part in parts {
        let n = part.nrows();
        all.slice_axis_mut(Axis(0), Slice::from(row..row + n))
            .assign(&part);
        row += n;
    }
    Ok(all)
}

fn embed_batch(
    backbone: &Backbone,
    spec: &BackboneSpec,
    batch: &[PathBuf],
    views: Views,
) -> Result<Array2<f32>, TrainError> {
    let per_photo = views.per_photo();
    let (h, w) = (spec.height as usize, spec.width as usize);
    let mut input = ndarray::Array4::<f32>::zeros((batch.len() * per_photo, h, w, 3));
    for (i, path) in batch.iter().enumerate() {
        let photo_error = |message: String| TrainError::Photo {
            path: path.clone(),
            message,
        };
        let bytes = std::fs::read(path).map_err(|e| photo_error(e.to_string()))?;
        // Decoded as serving decodes it, so the photo's own view is exactly
        // what an upload of it would give.
        let rgb = decode_rgb_for(&bytes, spec.width, spec.height)
            .map_err(|e| photo_error(e.to_string()))?;
        let mut framings = vec![preprocess_rgb(&rgb, spec.width, spec.height)];
        if let Some(keep) = views.centre_crop {
            framings.push(preprocess_centre_crop(&rgb, keep, spec.width, spec.height));
        }
        let mut row = i * per_photo;
        for framing in framings {
            let tensor = framing.map_err(|e| photo_error(e.to_string()))?;
            let image = tensor.index_axis(Axis(0), 0);
            input.index_axis_mut(Axis(0), row).assign(&image);
            row += 1;
            if views.mirror {
                input
                    .index_axis_mut(Axis(0), row)
                    .assign(&image.slice_axis(Axis(1), Slice::new(0, None, -1)));
                row += 1;
            }
        }
    }
    backbone.embed(input).map_err(|e| TrainError::Photo {
        path: batch.first().cloned().unwrap_or_default(),
        message: e.to_string(),
    })
}

/// How to fit the head.
#[derive(Debug, Clone, Serialize)]
pub struct FitOptions {
    /// L2 penalty on the weights.
    pub l2: f32,
    /// Full-batch passes.
    pub epochs: usize,
    /// Adam's step size.
    pub learning_rate: f32,
    /// Weigh each class by the inverse of its photo count.
    pub balanced: bool,
    /// The feature transform.
    pub transform: FeatureTransform,
}

impl Default for FitOptions {
    fn default() -> Self {
        Self {
            l2: 1e-3,
            epochs: 300,
            learning_rate: 0.01,
            balanced: true,
            transform: FeatureTransform::Sqrt,
        }
    }
}

/// Fits a multinomial logistic regression on `features` (rows) with
/// class indices `classes` over `n_classes` classes.
pub fn fit(
    features: &Array2<f32>,
    classes: &[usize],
    n_classes: usize,
    options: &FitOptions,
) -> HeadWeights {
    let mut x = features.clone();
    options.transform.apply(&mut x);
    let mean = x
        .mean_axis(Axis(0))
        .unwrap_or_else(|| Array1::zeros(x.ncols()));
    let scale = x.std_axis(Axis(0), 0.0).mapv(|v| v.max(1e-6));
    let x = (x - &mean) / &scale;
    let (n, f) = x.dim();
    let mut counts = vec![0usize; n_classes];
    for c in classes {
        counts[*c] += 1;
    }
    // Per-sample weights summing to one.
    let mut weights: Array1<f32> = classes
        .iter()
        .map(|c| {
            if options.balanced {
                1.0 / counts[*c] as f32
            } else {
                1.0
            }
        })
        .collect();
    let total = weights.sum();
    weights /= total;
    let mut target = Array2::<f32>::zeros((n, n_classes));
    for (row, c) in classes.iter().enumerate() {
        target[[row, *c]] = 1.0;
    }
    let mut weight = Array2::<f32>::zeros((n_classes, f));
    let mut bias = Array1::<f32>::zeros(n_classes);
    let mut adam_w = Adam::new(weight.raw_dim());
    let mut adam_b = Adam::new(bias.raw_dim());
    for _ in 0..options.epochs {
        let mut p = x.dot(&weight.t()) + &bias;
        for mut row in p.rows_mut() {
            let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            row.mapv_inplace(|v| (v - max).exp());
            let sum = row.sum();
            row /= sum;
        }
        let g = (p - &target) * weights.view().insert_axis(Axis(1));
        let grad_w = g.t().dot(&x) + &(&weight * options.l2);
        let grad_b = g.sum_axis(Axis(0));
        adam_w.step(&mut weight, &grad_w, options.learning_rate);
        adam_b.step(&mut bias, &grad_b, options.learning_rate);
    }
    HeadWeights {
        mean,
        scale,
        weight,
        bias,
    }
}

/// Adam's moment estimates for one parameter array.
struct Adam<D: ndarray::Dimension> {
    m: ndarray::Array<f32, D>,
    v: ndarray::Array<f32, D>,
    t: i32,
}

impl<D: ndarray::Dimension> Adam<D> {
    fn new(dim: D) -> Self {
        Self {
            m: ndarray::Array::zeros(dim.clone()),
            v: ndarray::Array::zeros(dim),
            t: 0,
        }
    }

    fn step(
        &mut self,
        param: &mut ndarray::Array<f32, D>,
        grad: &ndarray::Array<f32, D>,
        rate: f32,
    ) {
        const B1: f32 = 0.9;
        const B2: f32 = 0.999;
        self.t += 1;
        self.m
            .zip_mut_with(grad, |m, g| *m = B1 * *m + (1.0 - B1) * g);
        self.v
            .zip_mut_with(grad, |v, g| *v = B2 * *v + (1.0 - B2) * g * g);
        let (c1, c2) = (1.0 - B1.powi(self.t), 1.0 - B2.powi(self.t));
        ndarray::Zip::from(param)
            .and(&self.m)
            .and(&self.v)
            .for_each(|p, m, v| *p -= rate * (m / c1) / ((v / c2).sqrt() + 1e-8));
    }
}

/// The probabilities a head's weights give each row of `features`.
pub fn predict(
    weights: &HeadWeights,
    transform: FeatureTransform,
    features: &Array2<f32>,
) -> Vec<Vec<f32>> {
    let mut x = features.clone();
    transform.apply(&mut x);
    let x = (x - &weights.mean) / &weights.scale;
    let logits = x.dot(&weights.weight.t()) + &weights.bias;
    logits
        .rows()
        .into_iter()
        .map(|row| crate::head::softmax(&row.to_owned()))
        .collect()
}

/// What `sitga model train` is asked.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    /// Model name.
    pub name: String,
    /// Model version.
    pub version: u32,
    /// Seed of the validation split.
    pub seed: u64,
    /// Share of each species' photos (whole groups) held back.
    pub val_fraction: f64,
    /// Most in-domain validation photos the threshold may call unknown.
    pub max_unknown: f64,
    /// The views of each training photo.
    pub views: Views,
    /// Refit on every photo (validation included) once the threshold is
    /// chosen.
    pub refit: bool,
    /// Backbone batches run at once.
    pub threads: usize,
    /// The regression.
    pub fit: FitOptions,
    /// When it is (RFC 3339), for the manifest.
    pub created_at: String,
}

/// A trained model: its files and what training measured.
#[derive(Debug, Clone)]
pub struct Trained {
    /// What to write into the model folder.
    pub files: ModelFiles,
    /// The held-out validation figures (of the head fitted without them).
    pub validation: Metrics,
    /// Photos used for fitting, and held out.
    pub split: (usize, usize),
}

#[derive(Serialize)]
struct Report<'a> {
    validation: &'a Metrics,
    train_photos: usize,
    validation_photos: usize,
    refit_on_all: bool,
    note: &'static str,
}

/// Trains a head on `dataset` with `backbone`; `progress` is told photos
/// embedded so far (of `dataset.photos.len()`).
pub fn train(
    backbone: &Backbone,
    dataset: &Dataset,
    options: &TrainOptions,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<Trained, TrainError> {
    let n_classes = dataset.labels.len();
    let (train_rows, val_rows) = dataset.split(options.val_fraction, options.seed);
    if val_rows.is_empty() {
        return Err(layout(
            "no photos could be held back for validation: give some species two or more groups",
        ));
    }
    for (class, label) in dataset.labels.iter().enumerate() {
        if !train_rows.iter().any(|i| dataset.photos[*i].class == class) {
            return Err(layout(format!("{} has no training photos", label.latin)));
        }
    }
    let paths: Vec<PathBuf> = dataset.photos.iter().map(|p| p.path.clone()).collect();
    let features = embed(backbone, &paths, options.views, options.threads, progress)?;
    let per_photo = options.views.per_photo();
    // Fitting reads every view of a photo; validation only the photo.
    let rows_of = |photos: &[usize], all_views: bool| -> (Array2<f32>, Vec<usize>) {
        let mut rows = Vec::new();
        let mut classes = Vec::new();
        for i in photos {
            for k in 0..if all_views { per_photo } else { 1 } {
                rows.push(i * per_photo + k);
                classes.push(dataset.photos[*i].class);
            }
        }
        (features.select(Axis(0), &rows), classes)
    };
    let (x_train, y_train) = rows_of(&train_rows, true);
    let held_out = fit(&x_train, &y_train, n_classes, &options.fit);
    let (x_val, y_val) = rows_of(&val_rows, false);
    let outcomes: Vec<Outcome> = predict(&held_out, options.fit.transform, &x_val)
        .into_iter()
        .zip(&y_val)
        .map(|(probabilities, truth)| Outcome {
            truth: *truth,
            probabilities,
        })
        .collect();
    let threshold = threshold_for(&outcomes, options.max_unknown);
    let validation = score(&dataset.labels, threshold, &outcomes);
    let weights = if options.refit {
        let all: Vec<usize> = (0..dataset.photos.len()).collect();
        let (x_all, y_all) = rows_of(&all, true);
        fit(&x_all, &y_all, n_classes, &options.fit)
    } else {
        held_out
    };
    let weight_bytes = weights
        .to_bytes()
        .map_err(|e| TrainError::Output(e.to_string()))?;
    let manifest = HeadManifest {
        format: FORMAT.into(),
        model: options.name.clone(),
        version: options.version,
        created_at: options.created_at.clone(),
        backbone: backbone.spec().clone(),
        transform: options.fit.transform,
        unknown_threshold: threshold,
        labels: dataset.labels.clone(),
        weights_sha256: hex::encode(Sha256::digest(&weight_bytes)),
        training: serde_json::json!({
            "photos": dataset.photos.len(),
            "train_photos": train_rows.len(),
            "validation_photos": val_rows.len(),
            "mirror": options.views.mirror,
            "centre_crop": options.views.centre_crop,
            "refit_on_all": options.refit,
            "seed": options.seed,
            "val_fraction": options.val_fraction,
            "max_unknown": options.max_unknown,
            "fit": options.fit,
        }),
    };
    let report = Report {
        validation: &validation,
        train_photos: train_rows.len(),
        validation_photos: val_rows.len(),
        refit_on_all: options.refit,
        note: "validation figures are of a head fitted without the validation photos; \
               the threshold was chosen on them",
    };
    let files = ModelFiles {
        manifest: pretty(&manifest)?,
        weights: weight_bytes,
        metrics: pretty(&report)?,
    };
    // A file set that does not load is a bug here, not the operator's.
    Head::from_files(&files).map_err(|e| TrainError::Output(e.to_string()))?;
    Ok(Trained {
        files,
        validation,
        split: (train_rows.len(), val_rows.len()),
    })
}

fn pretty<T: Serialize>(value: &T) -> Result<Vec<u8>, TrainError> {
    serde_json::to_vec_pretty(value).map_err(|e| TrainError::Output(e.to_string()))
}

/// Scores a head over a labelled folder: each subfolder is matched to one
/// of the head's classes by folder name, then Latin name (`labels.csv` or
/// the folder's species part); a folder that names no class is an error.
pub fn evaluate(
    backbone: &Backbone,
    head: &Head,
    dataset: &Dataset,
    threads: usize,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<Metrics, TrainError> {
    let labels = &head.manifest().labels;
    let mut classes = Vec::with_capacity(dataset.labels.len());
    for folder in &dataset.labels {
        let found = labels
            .iter()
            .find(|l| l.folder.is_some() && l.folder == folder.folder)
            .or_else(|| {
                labels
                    .iter()
                    .find(|l| l.latin.eq_ignore_ascii_case(&folder.latin))
            })
            .ok_or_else(|| {
                layout(format!(
                    "folder {:?} names no species of {} (it knows {})",
                    folder.folder.as_deref().unwrap_or_default(),
                    head.manifest().model,
                    labels.len()
                ))
            })?;
        classes.push(found.index);
    }
    let paths: Vec<PathBuf> = dataset.photos.iter().map(|p| p.path.clone()).collect();
    let features = embed(backbone, &paths, Views::PHOTO, threads, progress)?;
    let outcomes: Vec<Outcome> = features
        .rows()
        .into_iter()
        .zip(&dataset.photos)
        .map(|(row, photo)| Outcome {
            truth: classes[photo.class],
            probabilities: head.probabilities(&row),
        })
        .collect();
    Ok(score(labels, head.manifest().unknown_threshold, &outcomes))
}

/// The photos (`.jpg`, `.png`, `.webp`) in `dir` and its subfolders, in
/// name order; a folder reached twice (through a link) is read once.
pub fn photos_under(dir: &Path) -> Result<Vec<PathBuf>, TrainError> {
    let mut found = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        if !seen.insert(std::fs::canonicalize(&folder).unwrap_or_else(|_| folder.clone())) {
            continue;
        }
        let entries = std::fs::read_dir(&folder)
            .map_err(|e| layout(format!("cannot read {}: {e}", folder.display())))?;
        for path in entries.flatten().map(|e| e.path()) {
            if path.is_dir() {
                folders.push(path);
            } else if is_photo(&path) {
                found.push(path);
            }
        }
    }
    if found.is_empty() {
        return Err(layout(format!("{} holds no photos", dir.display())));
    }
    found.sort();
    Ok(found)
}

/// How often a head answers "unknown" to `photos`, photos of fish it
/// does not know (other species, other cameras).
pub fn evaluate_open_set(
    backbone: &Backbone,
    head: &Head,
    photos: &[PathBuf],
    threads: usize,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<OpenSet, TrainError> {
    let features = embed(backbone, photos, Views::PHOTO, threads, progress)?;
    let probabilities: Vec<Vec<f32>> = features
        .rows()
        .into_iter()
        .map(|row| head.probabilities(&row))
        .collect();
    Ok(score_open_set(
        &head.manifest().labels,
        head.manifest().unknown_threshold,
        &probabilities,
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn write_photo(path: &Path) {
        image::RgbImage::new(4, 4).save(path).unwrap();
    }

    #[test]
    fn folders_become_classes_and_groups_stay_together() {
        let dir = tempfile::tempdir().unwrap();
        for (folder, files) in [
            (
                "01_Siganus_fuscescens",
                vec!["fish_1_1", "fish_1_2", "fish_2_1", "fish_3_1", "fish_4_1"],
            ),
            (
                "02_Acanthopagrus_schlegelii",
                vec!["a_1", "b_1", "c_1", "d_1", "e_1"],
            ),
            ("03_Lonely", vec!["only_1", "only_2"]),
        ] {
            std::fs::create_dir(dir.path().join(folder)).unwrap();
            for f in files {
                write_photo(&dir.path().join(folder).join(format!("{f}.png")));
            }
        }
        std::fs::write(dir.path().join("03_Lonely/notes.txt"), "not a photo").unwrap();
        std::fs::write(
            dir.path().join("labels.csv"),
            "folder,korean,english,latin\n02_Acanthopagrus_schlegelii,감성돔,Blackhead seabream,Acanthopagrus schlegelii\n",
        )
        .unwrap();
        let group = Regex::new(DEFAULT_GROUP_PATTERN).unwrap();
        let data = Dataset::scan(dir.path(), &group).unwrap();
        assert_eq!(data.labels.len(), 3);
        assert_eq!(data.labels[0].latin, "Siganus fuscescens");
        assert_eq!(data.labels[0].name_ko, None);
        assert_eq!(data.labels[1].name_ko.as_deref(), Some("감성돔"));
        assert_eq!(data.labels[1].name_en, "Blackhead seabream");
        assert_eq!(data.labels[2].latin, "Lonely");
        assert_eq!(data.photos.len(), 12);

        let (train, val) = data.split(0.4, 7);
        assert_eq!(train.len() + val.len(), 12);
        // fish_1's two frames are on one side.
        let side = |name: &str| {
            let i = data
                .photos
                .iter()
                .position(|p| p.path.file_stem().unwrap() == name)
                .unwrap();
            val.contains(&i)
        };
        assert_eq!(side("fish_1_1"), side("fish_1_2"));
        // The one-group species is trained on, never held back.
        assert!(!side("only_1") && !side("only_2"));
        assert!(val.iter().any(|i| data.photos[*i].class == 1));
        // Same seed, same split; another seed, usually another.
        assert_eq!(data.split(0.4, 7), (train.clone(), val.clone()));
        let others: Vec<_> = (0..20).map(|s| data.split(0.4, s).1).collect();
        assert!(others.iter().any(|v| *v != val));
    }

    #[test]
    fn a_bad_layout_says_what_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let group = Regex::new(DEFAULT_GROUP_PATTERN).unwrap();
        std::fs::create_dir(dir.path().join("01_A")).unwrap();
        write_photo(&dir.path().join("01_A/x.png"));
        assert!(
            Dataset::scan(dir.path(), &group)
                .unwrap_err()
                .to_string()
                .contains("at least two")
        );
        std::fs::create_dir(dir.path().join("02_B")).unwrap();
        assert!(
            Dataset::scan(dir.path(), &group)
                .unwrap_err()
                .to_string()
                .contains("no photos")
        );
        write_photo(&dir.path().join("02_B/y.png"));
        std::fs::write(
            dir.path().join("labels.csv"),
            "folder,ko,en,latin\n03_C,,,\n",
        )
        .unwrap();
        assert!(
            Dataset::scan(dir.path(), &group)
                .unwrap_err()
                .to_string()
                .contains("03_C")
        );
    }

    #[test]
    fn the_regression_separates_what_is_separable_and_weighs_rare_classes() {
        // Three clusters in 4-d, the third with few points.
        let mut rows = Vec::new();
        let mut classes = Vec::new();
        for (class, centre, count) in [
            (0usize, [2.0f32, 0.0, 0.0, 1.0], 60),
            (1, [0.0, 2.0, 0.0, 1.0], 60),
            (2, [0.0, 0.0, 2.0, 1.0], 4),
        ] {
            for i in 0..count {
                let jitter = (i as f32 * 0.37).sin() * 0.3;
                rows.extend(centre.iter().map(|c| c + jitter));
                classes.push(class);
            }
        }
        let x = Array2::from_shape_vec((classes.len(), 4), rows).unwrap();
        let options = FitOptions {
            transform: FeatureTransform::None,
            ..FitOptions::default()
        };
        let weights = fit(&x, &classes, 3, &options);
        let p = predict(&weights, options.transform, &x);
        let right = p
            .iter()
            .zip(&classes)
            .filter(|(p, c)| crate::metrics::best(p).0 == **c)
            .count();
        assert_eq!(right, classes.len());
        // Deterministic.
        assert_eq!(fit(&x, &classes, 3, &options), weights);
    }
}
