//! Starting and stopping the HTTP server.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::ServerHandle;
use sitga_persistence::{DatabaseUrl, DbError, DbPool, run_migrations};

use crate::config::{AppConfig, ConfigError, SecretSource};
use sitga_api::app::{self, AppParts};
use sitga_api::auth::{ClientLimiter, JwtKeys};
use sitga_api::state::AppState;
use sitga_realtime::bus::RoomBus;
use sitga_realtime::closing::Closer;
use sitga_realtime::engine::BidEngine;
use sitga_realtime::species::Species;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Bad configuration.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The database refused, or migrations failed.
    #[error("database: {0}")]
    Database(#[from] DbError),
    /// Redis is configured but unusable.
    #[error("redis: {0}")]
    Redis(String),
    /// The listen address is taken or not ours.
    #[error("cannot listen: {0}")]
    Bind(std::io::Error),
    /// Metrics could not be set up.
    #[error("metrics: {0}")]
    Metrics(String),
}

impl StartError {
    /// Process exit code for this failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Config(_) => 2,
            Self::Database(DbError::Config(_)) => 2,
            Self::Database(_) | Self::Redis(_) => 3,
            Self::Bind(_) => 4,
            Self::Metrics(_) => 1,
        }
    }
}

/// A running server.
pub struct RunningServer {
    /// The bound address (useful with port 0).
    pub addr: SocketAddr,
    /// Shared state (for tests and background tasks).
    pub state: AppState,
    handle: ServerHandle,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    background: Vec<tokio::task::JoinHandle<()>>,
    sweeper: Option<(
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<()>,
    )>,
}

impl RunningServer {
    /// Stops accepting, lets in-flight requests finish (graceful) and
    /// closes the pools.
    pub async fn stop(mut self, graceful: bool) {
        self.handle.stop(graceful).await;
        if let Some((stop, task)) = self.sweeper.take() {
            let _ = stop.send(());
            if tokio::time::timeout(Duration::from_secs(10), task)
                .await
                .is_err()
            {
                tracing::warn!("auction sweeper did not stop in time");
            }
        }
        for task in &self.background {
            task.abort();
        }
        if let Err(e) = self.task.await {
            tracing::warn!(error = %e, "server task ended abnormally");
        }
        self.state.db.close();
        if let Some(redis) = &self.state.redis {
            redis.close();
        }
    }
}

/// Connects to Redis and checks it answers.
async fn connect_redis(url: &str) -> Result<deadpool_redis::Pool, StartError> {
    let pool = deadpool_redis::Config::from_url(url)
        .builder()
        .map_err(|e| StartError::Redis(e.to_string()))?
        .max_size(16)
        .wait_timeout(Some(Duration::from_secs(5)))
        .create_timeout(Some(Duration::from_secs(5)))
        .recycle_timeout(Some(Duration::from_secs(5)))
        .runtime(deadpool_redis::Runtime::Tokio1)
        .build()
        .map_err(|e| StartError::Redis(e.to_string()))?;
    let mut conn = pool
        .get()
        .await
        .map_err(|e| StartError::Redis(format!("cannot connect: {e}")))?;
    deadpool_redis::redis::cmd("PING")
        .query_async::<String>(&mut conn)
        .await
        .map_err(|e| StartError::Redis(format!("PING failed: {e}")))?;
    Ok(pool)
}

/// Loads the species model (on a blocking thread) from the configured
/// folder, then serves the installed one if there is one; a missing model
/// or runtime is not fatal: identification answers 503 and `/ready` says
/// why.
async fn load_species(config: &AppConfig, db: &DbPool) -> Result<Species, String> {
    let Some(dir) = config.model.dir.clone() else {
        return Err("fish identification is disabled (SITGA_MODEL_DIR is empty)".into());
    };
    let Some(runtime) = config.model.runtime.clone() else {
        let reason =
            "ONNX Runtime not found: run scripts/bootstrap.sh or set ORT_DYLIB_PATH".to_owned();
        tracing::warn!("{reason}");
        return Err(reason);
    };
    let backbone = config.model.backbone.clone();
    let folder = dir.clone();
    let loaded = tokio::task::spawn_blocking(move || {
        let head = sitga_inference::Head::read_dir(&folder)?;
        sitga_inference::FishModel::load(&backbone, &runtime, head, 2, 32)
    })
    .await
    .map_err(|e| e.to_string())?;
    let model = match loaded {
        Ok(model) => model,
        Err(e) => {
            tracing::warn!(error = %e, "fish model unavailable");
            return Err(e.to_string());
        }
    };
    let head = model.head();
    tracing::info!(model = %head.manifest().model, version = head.manifest().version, folder = %dir.display(), "fish model loaded");
    let species = Species::new(model, dir, db.clone());
    if let Err(e) = species.refresh().await {
        tracing::warn!(error = %e, "species model: cannot read the installs; serving the folder");
    }
    Ok(species)
}

/// Migrates the database, connects everything and starts serving on
/// `listener` (or on `config.bind`).
pub async fn start(
    config: AppConfig,
    listener: Option<TcpListener>,
) -> Result<RunningServer, StartError> {
    tracing::info!(database = %config.database.redacted(), "using database");
    tracing::info!(store = config.photo_store.location(), "photos are kept in");
    match &config.jwt_secret_source {
        SecretSource::Generated(path) => tracing::info!(
            path = %path.display(),
            "generated a JWT secret for embedded mode and saved it (set JWT_SECRET to choose one)"
        ),
        SecretSource::File(path) => {
            tracing::info!(path = %path.display(), "using the JWT secret saved in the data directory")
        }
        SecretSource::Environment => {}
    }
    if !config.assets_dir.join("dashboard").is_dir() {
        tracing::warn!(
            assets_dir = %config.assets_dir.display(),
            "no dashboard under SITGA_ASSETS_DIR: /dashboard and /assets will answer 404"
        );
    }
    let applied = run_migrations(&config.database).await?;
    if !applied.is_empty() {
        tracing::info!(?applied, "applied migrations");
    }
    let db = DbPool::connect(&config.database, config.pool).await?;
    {
        // Nicknames keyed by an older rule get today's key (a no-op query
        // once done; several instances starting at once do the same work).
        let mut conn = db.get().await?;
        let rekeyed = sitga_persistence::users::rekey_nicknames(&mut conn).await?;
        if rekeyed.updated > 0 || !rekeyed.clashes.is_empty() {
            tracing::info!(
                updated = rekeyed.updated,
                clashes = rekeyed.clashes.len(),
                "re-keyed nicknames"
            );
        }
    }
    let redis = match &config.redis_url {
        Some(url) => Some(connect_redis(url).await?),
        None => {
            tracing::info!("REDIS_URL not set: using in-process replacements (single instance)");
            None
        }
    };
    let bus = RoomBus::with_redis(redis.clone(), config.redis_prefix.clone());
    let relay = match &config.redis_url {
        Some(url) => {
            let client = deadpool_redis::redis::Client::open(url.as_str())
                .map_err(|e| StartError::Redis(e.to_string()))?;
            bus.spawn_relay(client)
        }
        None => None,
    };
    // Stored notifications go out live from here (every instance reads back
    // its own events and publishes them to the users' channels).
    let notifier = bus.spawn_notifier(db.clone());
    let closer = Closer::new(db.clone(), bus.clone());
    let queues = sitga_realtime::jobs::Queues::new(
        config
            .redis_url
            .as_deref()
            .map(|url| (url, config.redis_prefix.as_str())),
    )
    .await
    .map_err(|e| StartError::Redis(e.to_string()))?;
    let fish = load_species(&config, &db).await;
    let species_watch = fish.as_ref().ok().map(Species::spawn_watch);
    let chain = match &config.chain {
        Some(settings) => {
            let chain = sitga_realtime::chain::Chain::new(settings)
                .map_err(|e| StartError::Config(crate::config::ConfigError(e.to_string())))?;
            tracing::info!(contract = %chain.contract(), rpc = %sitga_chain::redact_url(&settings.rpc_url), "on-chain donation recording is on");
            Some(chain)
        }
        None => {
            tracing::info!("on-chain donation recording is off (CHAIN_* not set)");
            None
        }
    };
    if config.payment_provider.name() == "dev" && matches!(config.database, DatabaseUrl::Mysql(_)) {
        tracing::warn!(
            "SITGA_PAYMENT_PROVIDER=dev: point charges are approved without taking money"
        );
    }
    let state = AppState {
        fish,
        db: db.clone(),
        redis,
        jwt: Arc::new(JwtKeys::new(&config.jwt_secret)),
        auth_limiter: Arc::new(ClientLimiter::new(config.auth_quotas)),
        trusted_proxies: Arc::new(config.trusted_proxies.clone()),
        sessions: Arc::new(sitga_api::auth::Sessions::default()),
        completions: sitga_coffee_grounds::DailyCompletions {
            per_day: config.pickup_completions_per_day,
        },
        calendar: config.calendar,
        passwords: Arc::new(sitga_api::auth::PasswordWork::for_this_machine()),
        engine: BidEngine::new(db.clone(), bus.clone()),
        bus: bus.clone(),
        listings: Arc::default(),
        closer: closer.clone(),
        close_queue: queues.close.0.clone(),
        forecast_queue: queues.forecast.0.clone(),
        chain: chain.clone(),
        ws: Arc::new(sitga_api::ws::WsLimits::new(config.ws)),
        photos: sitga_realtime::photos::Photos::new(db.clone(), config.photo_store.clone()),
        sales: sitga_realtime::sales::Sales::new(db.clone(), bus.clone(), config.sale_deadlines),
        payments: sitga_realtime::payments::Payments::new(
            db.clone(),
            config.payment_provider.clone(),
            config.charge_cap,
            config.calendar,
        ),
    };
    // The session cache follows every revocation (this instance's and the
    // others', through Redis) from before the first request.
    let sessions_follower = {
        let (sessions, revocations) = (state.sessions.clone(), state.bus.revocations());
        tokio::spawn(async move { sessions.follow(revocations).await })
    };
    let parts = AppParts {
        state: state.clone(),
        metrics: crate::metrics::build(&db).map_err(StartError::Metrics)?,
        spec: Arc::new(sitga_api::openapi::spec()),
        cors_origins: config.cors_origins.clone(),
        assets_dir: config.assets_dir.clone(),
        metrics_token: config.metrics_token.as_deref().map(Arc::from),
    };
    let listener = match listener {
        Some(l) => l,
        None => TcpListener::bind(config.bind).map_err(StartError::Bind)?,
    };
    let addr = listener.local_addr().map_err(StartError::Bind)?;
    // `HttpServer` with one change (`app::http_service`): WebSocket
    // connections leave the HTTP dispatcher once upgraded.
    let mut server = actix_server::Server::build()
        .shutdown_timeout(15)
        .disable_signals();
    if let Some(workers) = config.workers {
        server = server.workers(workers);
    }
    let stopping = server.graceful_shutdown_signal();
    let server = server
        .listen("sitga", listener, move || {
            let stopping = stopping.clone();
            app::http_service(parts.clone(), addr, move || {
                let stopping = stopping.clone();
                async move { stopping.notified().await }
            })
        })
        .map_err(StartError::Bind)?
        .run();
    let handle = server.handle();
    let task = tokio::spawn(server);

    let (limiter, ws_limits, bus) = (
        state.auth_limiter.clone(),
        state.ws.clone(),
        state.bus.clone(),
    );
    let prune = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            limiter.prune();
            ws_limits.prune();
            let forgotten = bus.prune();
            if forgotten > 0 {
                tracing::debug!(rooms = forgotten, "forgot idle rooms' in-memory state");
            }
        }
    });
    let (stop_sweeper, sweeper_stopped) = tokio::sync::oneshot::channel::<()>();
    let schedules = sitga_realtime::jobs::Schedules {
        sweep: config.sweep_cron.clone(),
        forecast: config.forecast_cron.clone(),
        chain: config
            .chain
            .as_ref()
            .map(|c| (c.relay_cron.clone(), c.monitor_cron.clone())),
    };
    let jobs_db = db.clone();
    let photos = state.photos.clone();
    let sales = state.sales.clone();
    let sweeper = tokio::spawn(async move {
        let shutdown = async move {
            let _ = sweeper_stopped.await;
        };
        let handles = sitga_realtime::jobs::JobHandles {
            db: jobs_db,
            closer,
            chain,
            calendar: config.calendar,
            photos,
            sales,
        };
        if let Err(e) = sitga_realtime::jobs::run(handles, queues, &schedules, shutdown).await {
            tracing::error!(error = %e, "background jobs stopped");
        }
    });
    let mut background = vec![prune, sessions_follower];
    background.extend(relay);
    background.extend(notifier);
    background.extend(species_watch);
    tracing::info!(%addr, "sitga is listening (API docs at /docs)");
    Ok(RunningServer {
        addr,
        state,
        handle,
        task,
        background,
        sweeper: Some((stop_sweeper, sweeper)),
    })
}
