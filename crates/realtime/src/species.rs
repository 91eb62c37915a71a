//! The species model an instance serves: the configured folder's head
//! until an operator installs one (`sitga model install`), then the newest
//! install not rolled back. Every instance polls the install table (one
//! indexed read), so an install or a rollback reaches all of them within a
//! poll, without a restart.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use sitga_inference::{FishModel, Head, ModelFiles};
use sitga_persistence::{DbError, DbPool, fish_models};

/// How often each instance looks for a new install.
pub const POLL_EVERY: Duration = Duration::from_secs(5);

/// Where the head serving now came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Serving {
    /// The install serving, or `None` for the configured folder.
    pub install: Option<i64>,
    /// An install that could not be served, and why (the previous head
    /// keeps serving).
    pub refused: Option<(i64, String)>,
}

struct Inner {
    model: Arc<FishModel>,
    folder: Head,
    folder_path: PathBuf,
    serving: ArcSwap<Serving>,
    db: DbPool,
}

/// An install's files, as a model folder would hold them.
pub fn files_of(row: fish_models::InstalledModel) -> ModelFiles {
    ModelFiles {
        manifest: row.manifest.into_bytes(),
        weights: row.weights,
        metrics: row.metrics.into_bytes(),
    }
}

/// The served model and where its head came from. Cheap to clone.
#[derive(Clone)]
pub struct Species {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Species {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Species")
            .field("model", &self.inner.model)
            .field("serving", &self.inner.serving.load())
            .finish()
    }
}

impl Species {
    /// `model` serving the head of `folder_path` until an install says
    /// otherwise.
    pub fn new(model: FishModel, folder_path: PathBuf, db: DbPool) -> Self {
        let folder = (*model.head()).clone();
        Self {
            inner: Arc::new(Inner {
                model: Arc::new(model),
                folder,
                folder_path,
                serving: ArcSwap::from_pointee(Serving {
                    install: None,
                    refused: None,
                }),
                db,
            }),
        }
    }

    /// The model.
    pub fn model(&self) -> &Arc<FishModel> {
        &self.inner.model
    }

    /// Where the serving head came from.
    pub fn serving(&self) -> Arc<Serving> {
        self.inner.serving.load_full()
    }

    /// Looks for a new install (or a rollback) once and serves it; whether
    /// the serving head changed.
    pub async fn refresh(&self) -> Result<bool, DbError> {
        let mut conn = self.inner.db.get().await?;
        let wanted = fish_models::serving_id(&mut conn).await?;
        let now = self.serving();
        if wanted == now.install {
            if now.refused.is_some() {
                // The refused install was rolled back.
                self.set(now.install, None);
            }
            return Ok(false);
        }
        let Some(id) = wanted else {
            // Every install rolled back: the configured folder again.
            self.inner
                .model
                .replace_head(self.inner.folder.clone())
                .ok();
            tracing::info!(folder = %self.inner.folder_path.display(), "species model: serving the configured folder again");
            self.set(None, None);
            return Ok(true);
        };
        if now.refused.as_ref().is_some_and(|(r, _)| *r == id) {
            return Ok(false);
        }
        let Some(row) = fish_models::find(&mut conn, id).await? else {
            return Ok(false);
        };
        drop(conn);
        let (name, version) = (row.name.clone(), row.version);
        let loaded =
            Head::from_files(&files_of(row)).and_then(|head| self.inner.model.replace_head(head));
        match loaded {
            Ok(_) => {
                tracing::info!(install = id, model = %name, version, "species model: serving an install");
                self.set(Some(id), None);
                Ok(true)
            }
            Err(e) => {
                tracing::warn!(install = id, error = %e, "species model: an install cannot be served; keeping the current one");
                self.set(now.install, Some((id, e.to_string())));
                Ok(false)
            }
        }
    }

    fn set(&self, install: Option<i64>, refused: Option<(i64, String)>) {
        self.inner
            .serving
            .store(Arc::new(Serving { install, refused }));
    }

    /// Polls for installs every [`POLL_EVERY`] until the process ends.
    pub fn spawn_watch(&self) -> tokio::task::JoinHandle<()> {
        let species = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(POLL_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(e) = species.refresh().await {
                    tracing::warn!(error = %e, "species model: cannot read the installs");
                }
            }
        })
    }
}
