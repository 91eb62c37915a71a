//! `sitga model …`: train a species model from folders of photos, score
//! one, install it on every instance, roll it back, list the installs.

// Printing results is what a command-line tool is for.
#![allow(clippy::print_stdout)]

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use sitga_inference::metrics::Metrics;
use sitga_inference::train::{self, Dataset, FitOptions, TrainOptions, Views};
use sitga_inference::{Backbone, Head, ModelFiles};
use sitga_persistence::{DbPool, PoolOptions, fish_models, run_migrations};

use crate::config::Settings;

type CliResult = Result<(), (u8, String)>;

/// `sitga model …`.
#[derive(Debug, Subcommand)]
pub enum ModelAction {
    /// Train a model from DIR (one folder of photos per species, an
    /// optional `labels.csv`: folder,korean,english,latin) into MODEL_DIR.
    Train(TrainArgs),
    /// Top-1, mean per-class recall, the unknown rate and the confusion
    /// summary over DIR (laid out like a training folder), and with
    /// `--unknown` the share of other fish answered unknown, for the model
    /// every instance serves (the newest install, else SITGA_MODEL_DIR) or
    /// the folder `--model` names.
    Eval {
        /// The labelled photos.
        #[arg(required_unless_present = "unknown")]
        dir: Option<PathBuf>,
        /// Photos of fish the model does not know (other species, other
        /// cameras; any folder layout): each should be answered unknown.
        #[arg(long, value_name = "DIR")]
        unknown: Option<PathBuf>,
        /// A model folder to score instead of the serving one.
        #[arg(long)]
        model: Option<PathBuf>,
        /// Print the figures as one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Serve the model in MODEL_DIR on every instance (within 5 seconds,
    /// without a restart); the one it replaces is kept for `rollback`.
    Install {
        /// The model folder (`sitga model train`'s output).
        #[arg(value_name = "MODEL_DIR")]
        folder: PathBuf,
    },
    /// Stop serving the newest install: the one before it serves again
    /// (or, with none left, SITGA_MODEL_DIR).
    Rollback,
    /// The installs, newest first, and which one serves.
    List,
}

/// `sitga model train`'s arguments.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// The photos: `DIR/NN_Species_name/*.jpg|png|webp`.
    pub dir: PathBuf,
    /// Where to write the model (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    /// The model's name.
    #[arg(long, default_value = "fish-species")]
    pub name: String,
    /// The model's version.
    #[arg(long, default_value_t = 1)]
    pub version: u32,
    /// Seed of the validation split (same seed, same model).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Share of each species' photos held back for validation (whole
    /// groups).
    #[arg(long, default_value_t = 0.2)]
    pub val_fraction: f64,
    /// Photos that belong together (frames of one fish, one trip) are
    /// grouped by this pattern's first capture over the file name without
    /// its extension, and never split between training and validation.
    #[arg(long, default_value = train::DEFAULT_GROUP_PATTERN)]
    pub group: String,
    /// Most in-domain validation photos the threshold may answer
    /// "unknown".
    #[arg(long, default_value_t = 0.05)]
    pub max_unknown: f64,
    /// L2 penalty of the regression.
    #[arg(long, default_value_t = 1e-3)]
    pub l2: f32,
    /// Full-batch passes of the regression.
    #[arg(long, default_value_t = 300)]
    pub epochs: usize,
    /// Do not add mirror images.
    #[arg(long)]
    pub no_mirror: bool,
    /// The share of each photo's width and height its added centred crop
    /// keeps.
    #[arg(long, default_value_t = 0.85, conflicts_with = "no_crop")]
    pub crop: f32,
    /// Do not add a centred crop of each photo.
    #[arg(long)]
    pub no_crop: bool,
    /// Keep the head fitted without the validation photos (by default the
    /// final head is refitted on every photo).
    #[arg(long)]
    pub no_refit: bool,
}

/// Runs a `sitga model` command.
pub async fn run(settings: &Settings, action: ModelAction) -> CliResult {
    match action {
        ModelAction::Train(args) => blocking(settings, move |backbone| train(backbone, args)).await,
        ModelAction::Eval {
            dir,
            unknown,
            model,
            json,
        } => {
            let head = match model {
                Some(folder) => Head::read_dir(&folder).map_err(|e| (2, e.to_string()))?,
                None => serving_head(settings).await?,
            };
            blocking(settings, move |backbone| {
                eval(backbone, &head, dir.as_deref(), unknown.as_deref(), json)
            })
            .await
        }
        ModelAction::Install { folder } => install(settings, &folder).await,
        ModelAction::Rollback => rollback(settings).await,
        ModelAction::List => list(settings).await,
    }
}

/// Loads the configured backbone and runs `work` with it on a blocking
/// thread.
async fn blocking<F>(settings: &Settings, work: F) -> CliResult
where
    F: FnOnce(&Backbone) -> CliResult + Send + 'static,
{
    let paths = settings.resolve_model();
    let runtime = paths.runtime.ok_or_else(|| {
        (
            2,
            "ONNX Runtime not found: run scripts/bootstrap.sh or set ORT_DYLIB_PATH".to_owned(),
        )
    })?;
    let sessions = std::thread::available_parallelism().map_or(1, usize::from);
    tokio::task::spawn_blocking(move || {
        let backbone =
            Backbone::load(&paths.backbone, &runtime, sessions).map_err(|e| (3, e.to_string()))?;
        work(&backbone)
    })
    .await
    .map_err(|e| (1, e.to_string()))?
}

fn progress_bar(total: usize, what: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(total as u64);
    if let Ok(style) = indicatif::ProgressStyle::with_template(&format!(
        "{what} {{bar:30}} {{pos}}/{{len}} photos ({{eta}} left)"
    )) {
        bar.set_style(style);
    }
    bar
}

fn scan(dir: &Path, group: &str) -> Result<Dataset, (u8, String)> {
    let group = regex::Regex::new(group).map_err(|e| (2, format!("--group: {e}")))?;
    Dataset::scan(dir, &group).map_err(|e| (2, e.to_string()))
}

fn train(backbone: &Backbone, args: TrainArgs) -> CliResult {
    if !(0.0..=0.5).contains(&args.val_fraction) || !(0.0..=0.5).contains(&args.max_unknown) {
        return Err((
            2,
            "--val-fraction and --max-unknown must be 0 to 0.5".into(),
        ));
    }
    if !(0.5..1.0).contains(&args.crop) {
        return Err((2, "--crop must be at least 0.5 and below 1".into()));
    }
    let dataset = scan(&args.dir, &args.group)?;
    println!(
        "{} species, {} photos in {}",
        dataset.labels.len(),
        dataset.photos.len(),
        args.dir.display()
    );
    let options = TrainOptions {
        name: args.name,
        version: args.version,
        seed: args.seed,
        val_fraction: args.val_fraction,
        max_unknown: args.max_unknown,
        views: Views {
            mirror: !args.no_mirror,
            centre_crop: (!args.no_crop).then_some(args.crop),
        },
        refit: !args.no_refit,
        threads: backbone.sessions(),
        fit: FitOptions {
            l2: args.l2,
            epochs: args.epochs,
            ..FitOptions::default()
        },
        created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    };
    let bar = progress_bar(dataset.photos.len(), "embedding");
    let trained = train::train(backbone, &dataset, &options, &|done| {
        bar.set_position(done as u64);
    })
    .map_err(|e| (1, e.to_string()))?;
    bar.finish_and_clear();
    trained
        .files
        .write(&args.out)
        .map_err(|e| (1, format!("cannot write {}: {e}", args.out.display())))?;
    println!(
        "held-out validation ({} photos, head fitted on the other {}):",
        trained.split.1, trained.split.0
    );
    print_metrics(&trained.validation);
    println!(
        "wrote {} ({} v{}, unknown below {:.3}{})",
        args.out.display(),
        options.name,
        options.version,
        trained.validation.unknown_threshold,
        if options.refit {
            "; final head refitted on every photo"
        } else {
            ""
        }
    );
    Ok(())
}

fn eval(
    backbone: &Backbone,
    head: &Head,
    dir: Option<&Path>,
    unknown: Option<&Path>,
    json: bool,
) -> CliResult {
    let failed = |e: train::TrainError| match e {
        train::TrainError::Layout(m) => (2, m),
        other => (1, other.to_string()),
    };
    let metrics = match dir {
        Some(dir) => {
            let dataset = scan(dir, train::DEFAULT_GROUP_PATTERN)?;
            let bar = progress_bar(dataset.photos.len(), "scoring");
            let metrics = train::evaluate(backbone, head, &dataset, backbone.sessions(), &|done| {
                bar.set_position(done as u64);
            })
            .map_err(failed)?;
            bar.finish_and_clear();
            Some(metrics)
        }
        None => None,
    };
    let open_set = match unknown {
        Some(other) => {
            let photos = train::photos_under(other).map_err(failed)?;
            let bar = progress_bar(photos.len(), "scoring other fish");
            let open_set =
                train::evaluate_open_set(backbone, head, &photos, backbone.sessions(), &|done| {
                    bar.set_position(done as u64);
                })
                .map_err(failed)?;
            bar.finish_and_clear();
            Some(open_set)
        }
        None => None,
    };
    if json {
        let text = serde_json::to_string(&serde_json::json!({
            "model": head.manifest().model,
            "version": head.manifest().version,
            "digest": head.digest(),
            "metrics": metrics,
            "open_set": open_set,
        }))
        .map_err(|e| (1, e.to_string()))?;
        println!("{text}");
        return Ok(());
    }
    let model = format!(
        "{} v{} ({})",
        head.manifest().model,
        head.manifest().version,
        sitga_inference::short(head.digest()),
    );
    if let (Some(metrics), Some(dir)) = (&metrics, dir) {
        println!("{model} over {}:", dir.display());
        print_metrics(metrics);
    }
    if let (Some(o), Some(other)) = (&open_set, unknown) {
        let named: Vec<String> = o
            .named_as
            .iter()
            .map(|c| format!("{} ({})", c.label, c.photos))
            .collect();
        println!(
            "{model} over {} (fish it does not know):\n  answered unknown {:.1} % of {} photos (threshold {:.3}) · most often named as {}",
            other.display(),
            o.unknown_rate * 100.0,
            o.photos,
            o.unknown_threshold,
            if named.is_empty() {
                "-".to_owned()
            } else {
                named.join(", ")
            }
        );
    }
    Ok(())
}

fn print_metrics(m: &Metrics) {
    println!(
        "  top-1 {:.4} · mean per-class recall {:.4} · unknown {:.1} % (threshold {:.3}) · top-1 when named {:.4} · {} photos",
        m.top1,
        m.mean_recall,
        m.unknown_rate * 100.0,
        m.unknown_threshold,
        m.top1_when_named,
        m.photos
    );
    println!(
        "  {:<30} {:>6} {:>7} {:>7}  most confused with",
        "species", "photos", "recall", "unknown"
    );
    for class in m.classes.iter().filter(|c| c.photos > 0) {
        let confused: Vec<String> = class
            .confused_with
            .iter()
            .map(|c| format!("{} ({})", c.label, c.photos))
            .collect();
        println!(
            "  {:<30} {:>6} {:>7.3} {:>7}  {}",
            class.label,
            class.photos,
            class.recall.unwrap_or(0.0),
            class.unknown,
            if confused.is_empty() {
                "-".to_owned()
            } else {
                confused.join(", ")
            }
        );
    }
}

/// The configured database, migrated, through a one-connection pool (what
/// a command-line action needs).
pub(crate) async fn connect(settings: &Settings) -> Result<DbPool, (u8, String)> {
    let database = settings.database().map_err(|e| (2, e.to_string()))?;
    run_migrations(&database)
        .await
        .map_err(|e| (3, e.to_string()))?;
    DbPool::connect(
        &database,
        PoolOptions {
            max_size: 1,
            ..Default::default()
        },
    )
    .await
    .map_err(|e| (3, e.to_string()))
}

/// The head every instance serves: the newest install, else the
/// configured folder.
async fn serving_head(settings: &Settings) -> Result<Head, (u8, String)> {
    let pool = connect(settings).await?;
    let mut conn = pool.get().await.map_err(|e| (3, e.to_string()))?;
    let db = |e: sitga_persistence::DbError| (3, e.to_string());
    if let Some(id) = fish_models::serving_id(&mut conn).await.map_err(db)?
        && let Some(row) = fish_models::find(&mut conn, id).await.map_err(db)?
    {
        return Head::from_files(&sitga_realtime::species::files_of(row))
            .map_err(|e| (1, format!("install #{id}: {e}")));
    }
    let dir = settings.resolve_model().dir.ok_or_else(|| {
        (
            2,
            "SITGA_MODEL_DIR is empty and nothing is installed".to_owned(),
        )
    })?;
    Head::read_dir(&dir).map_err(|e| (2, e.to_string()))
}

/// SHA-256 of the configured backbone's file.
fn backbone_hash(settings: &Settings) -> Result<String, (u8, String)> {
    use sha2::Digest;
    let path = settings.resolve_model().backbone;
    let bytes =
        std::fs::read(&path).map_err(|e| (2, format!("cannot read {}: {e}", path.display())))?;
    Ok(hex::encode(sha2::Sha256::digest(bytes)))
}

async fn install(settings: &Settings, dir: &Path) -> CliResult {
    let files = ModelFiles::read(dir).map_err(|e| (2, e.to_string()))?;
    let head = Head::from_files(&files).map_err(|e| (2, e.to_string()))?;
    let manifest = head.manifest();
    let backbone = backbone_hash(settings)?;
    if manifest.backbone.sha256 != backbone {
        return Err((
            2,
            format!(
                "{} was trained on backbone {}, this installation serves {}: retrain it with this backbone",
                dir.display(),
                sitga_inference::short(&manifest.backbone.sha256),
                sitga_inference::short(&backbone)
            ),
        ));
    }
    let text = |bytes: &[u8], name: &str| {
        String::from_utf8(bytes.to_vec()).map_err(|_| (2, format!("{name} is not UTF-8")))
    };
    let manifest_text = text(&files.manifest, "model.json")?;
    let metrics_text = text(&files.metrics, "metrics.json")?;
    let installed_by = std::env::var("USER").unwrap_or_else(|_| "an operator".into());
    let pool = connect(settings).await?;
    let mut conn = pool.get().await.map_err(|e| (3, e.to_string()))?;
    let id = fish_models::install(
        &mut conn,
        &fish_models::NewModel {
            name: &manifest.model,
            version: i32::try_from(manifest.version).unwrap_or(i32::MAX),
            digest: head.digest(),
            manifest: &manifest_text,
            weights: &files.weights,
            metrics: &metrics_text,
            installed_by: &installed_by,
        },
    )
    .await
    .map_err(|e| (3, e.to_string()))?;
    println!(
        "installed #{id}: {} v{} ({} species, digest {}); every instance serves it within {} s",
        manifest.model,
        manifest.version,
        manifest.labels.len(),
        sitga_inference::short(head.digest()),
        sitga_realtime::species::POLL_EVERY.as_secs()
    );
    Ok(())
}

async fn rollback(settings: &Settings) -> CliResult {
    let pool = connect(settings).await?;
    let mut conn = pool.get().await.map_err(|e| (3, e.to_string()))?;
    let db = |e: sitga_persistence::DbError| (3, e.to_string());
    let Some(retired) = fish_models::roll_back(&mut conn).await.map_err(db)? else {
        return Err((
            1,
            "nothing is installed: the configured folder serves".into(),
        ));
    };
    match fish_models::serving_id(&mut conn).await.map_err(db)? {
        Some(id) => println!("rolled back install #{retired}; install #{id} serves again"),
        None => println!(
            "rolled back install #{retired}; the configured folder (SITGA_MODEL_DIR) serves again"
        ),
    }
    Ok(())
}

async fn list(settings: &Settings) -> CliResult {
    let pool = connect(settings).await?;
    let mut conn = pool.get().await.map_err(|e| (3, e.to_string()))?;
    let db = |e: sitga_persistence::DbError| (3, e.to_string());
    let serving = fish_models::serving_id(&mut conn).await.map_err(db)?;
    let installs = fish_models::history(&mut conn).await.map_err(db)?;
    if serving.is_none() {
        println!("serving: the configured folder (SITGA_MODEL_DIR)");
    }
    for m in installs {
        let state = if Some(m.id) == serving {
            "serving".to_owned()
        } else if let Some(at) = m.retired_at() {
            format!("rolled back {}", at.format("%Y-%m-%d %H:%M"))
        } else {
            "kept".to_owned()
        };
        println!(
            "#{:<4} {} v{} digest {} installed {} by {} · {state}",
            m.id,
            m.name,
            m.version,
            sitga_inference::short(&m.digest),
            m.installed_at().format("%Y-%m-%d %H:%M"),
            m.installed_by
        );
    }
    Ok(())
}
