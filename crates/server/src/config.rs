//! Configuration: environment first (12-factor), flags override.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use std::sync::Arc;

use rand::RngCore;
use sitga_auction::{ChargeCap, Krw};
use sitga_persistence::DatabaseUrl;
use sitga_realtime::payments::{DevPaymentProvider, PaymentProvider};

use sitga_api::auth::ClientQuotas;
use sitga_api::client_addr::TrustedProxies;
use sitga_api::ws::WsQuotas;
pub use sitga_realtime::chain::ChainSettings;

/// Settings as given on the command line or in the environment.
#[derive(Debug, Clone, clap::Args)]
pub struct Settings {
    /// Database: `mysql://user:pass@host:3306/db` or `sqlite://PATH`. Unset:
    /// a SQLite file in the data directory.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,

    /// Redis for chat history, cross-instance fan-out and jobs. Unset:
    /// in-process replacements (single instance only).
    #[arg(long, env = "REDIS_URL", global = true, hide_env_values = true)]
    pub redis_url: Option<String>,

    /// Prefix for every Redis key and channel (lets deployments share one
    /// Redis); empty by default: channels are `auction:{id}`.
    #[arg(long, env = "SITGA_REDIS_PREFIX", default_value = "", global = true)]
    pub redis_prefix: String,

    /// When the safety-net sweeper closes due auctions (cron with a
    /// seconds field; default every second).
    #[arg(
        long,
        env = "SITGA_SWEEP_CRON",
        default_value = "* * * * * *",
        global = true
    )]
    pub sweep_cron: String,

    /// When the daily forecast retrain runs (cron with a seconds field;
    /// default 03:30 UTC, 12:30 in Korea).
    #[arg(
        long,
        env = "SITGA_FORECAST_CRON",
        default_value = DEFAULT_FORECAST_CRON,
        global = true
    )]
    pub forecast_cron: String,

    /// Frames one WebSocket connection may send per second (bursts of
    /// twice that); more answer `rate_limited`.
    #[arg(long, env = "SITGA_WS_FRAMES_PER_SECOND", default_value_t = NonZeroU32::MIN.saturating_add(9), global = true)]
    pub ws_frames_per_second: NonZeroU32,

    /// Live WebSocket connections one account may hold (per instance).
    #[arg(long, env = "SITGA_WS_SOCKETS_PER_USER", default_value_t = NonZeroU32::MIN.saturating_add(4), global = true)]
    pub ws_sockets_per_user: NonZeroU32,

    /// Live WebSocket connections one client address may hold, signed in
    /// or not (IPv6: per /64; per instance).
    #[arg(long, env = "SITGA_WS_SOCKETS_PER_IP", default_value_t = NonZeroU32::MIN.saturating_add(49), global = true)]
    pub ws_sockets_per_ip: NonZeroU32,

    /// Chat lines and bids one account may send per second over all its
    /// sockets (bursts of twice that).
    #[arg(long, env = "SITGA_WS_MESSAGES_PER_SECOND", default_value_t = NonZeroU32::MIN.saturating_add(4), global = true)]
    pub ws_messages_per_second: NonZeroU32,

    /// Directory of the files served under `/assets` and the operator
    /// dashboard (`/dashboard`).
    #[arg(
        long,
        env = "SITGA_ASSETS_DIR",
        default_value = "assets",
        global = true
    )]
    pub assets_dir: PathBuf,

    /// The species model folder served until one is installed (`sitga
    /// model install`); empty disables identification. Default:
    /// `models/fish-species-v3` in the assets directory.
    #[arg(long, env = "SITGA_MODEL_DIR", global = true)]
    pub model_dir: Option<String>,

    /// The image backbone every species model reads. Default:
    /// `models/efficientnet-lite0-200x350.onnx` in the assets directory.
    #[arg(long, env = "SITGA_BACKBONE", global = true)]
    pub backbone: Option<PathBuf>,

    /// ONNX Runtime's shared library (`libonnxruntime.so.1.3x`). Default:
    /// the `onnxruntime` wheel in `./.venv` (scripts/bootstrap.sh).
    #[arg(long, env = "ORT_DYLIB_PATH", global = true)]
    pub onnxruntime: Option<PathBuf>,

    /// Address to listen on.
    #[arg(
        long,
        env = "SITGA_BIND",
        default_value = "127.0.0.1:8080",
        global = true
    )]
    pub bind: String,

    /// HS256 secret for access tokens (at least 32 bytes). Required with
    /// MySQL; in embedded mode one is generated and kept in the data dir.
    #[arg(long, env = "JWT_SECRET", global = true, hide_env_values = true)]
    pub jwt_secret: Option<String>,

    /// JSON-RPC URL of the EVM node donations are recorded on. With
    /// `CHAIN_PRIVATE_KEY` and `CHAIN_CONTRACT_ADDRESS` it switches on-chain
    /// recording on; unset, the feature is off (and says so).
    #[arg(long, env = "CHAIN_RPC_URL", global = true)]
    pub chain_rpc_url: Option<String>,

    /// Hex private key of the account that deploys the contract and records
    /// donations (it pays the gas).
    #[arg(long, env = "CHAIN_PRIVATE_KEY", global = true, hide_env_values = true)]
    pub chain_private_key: Option<String>,

    /// The DonationRegistry's address (printed by `sitga chain deploy`).
    #[arg(long, env = "CHAIN_CONTRACT_ADDRESS", global = true)]
    pub chain_contract_address: Option<String>,

    /// Salt of the donor references written on chain (at least 32 bytes;
    /// keep it stable and secret). Required with MySQL; in embedded mode one
    /// is generated and kept in the data dir.
    #[arg(long, env = "CHAIN_DONOR_SALT", global = true, hide_env_values = true)]
    pub chain_donor_salt: Option<String>,

    /// When the chain monitor samples (cron with seconds; every minute).
    #[arg(
        long,
        env = "SITGA_CHAIN_MONITOR_CRON",
        default_value = DEFAULT_CHAIN_MONITOR_CRON,
        global = true
    )]
    pub chain_monitor_cron: String,

    /// Chain transactions the platform pays for per day; past it,
    /// donations wait for the next day (and the monitor raises an alert).
    #[arg(
        long,
        env = "SITGA_CHAIN_DAILY_TX_CAP",
        default_value_t = 1_000,
        global = true
    )]
    pub chain_daily_tx_cap: u32,

    /// Chain records of one donor per day; past it, theirs wait for the
    /// next day.
    #[arg(
        long,
        env = "SITGA_CHAIN_DONOR_DAILY_CAP",
        default_value_t = 20,
        global = true
    )]
    pub chain_donor_daily_cap: u32,

    /// Pickups one recycler may complete per day (a self-dealing pair
    /// cannot mint donations without bound).
    #[arg(
        long,
        env = "SITGA_PICKUP_COMPLETIONS_PER_DAY",
        default_value_t = sitga_coffee_grounds::DailyCompletions::default().per_day,
        global = true
    )]
    pub pickup_completions_per_day: u32,

    /// Hours after shipping a sale the buyer has not confirmed confirms
    /// itself and pays the seller (1–720).
    #[arg(long, env = "SITGA_AUTO_CONFIRM_HOURS", default_value_t = 72, value_parser = clap::value_parser!(u32).range(1..=720), global = true)]
    pub auto_confirm_hours: u32,

    /// Who takes the money for point charges: `dev` approves every charge
    /// at once without taking money (development, demo, tests). Unset:
    /// `dev` in embedded mode; with MySQL it must be chosen explicitly.
    #[arg(long, env = "SITGA_PAYMENT_PROVIDER", global = true)]
    pub payment_provider: Option<String>,

    /// Won one user may charge per day.
    #[arg(
        long,
        env = "SITGA_CHARGE_DAILY_CAP",
        default_value_t = sitga_auction::DEFAULT_DAILY_CHARGE_CAP.get(),
        global = true
    )]
    pub charge_daily_cap: i64,

    /// The time zone (IANA name) whose days and months the platform counts
    /// in: monthly figures, rankings, badges, forecast days, daily caps.
    #[arg(
        long,
        env = "SITGA_TIMEZONE",
        default_value = sitga_core::DEFAULT_TIMEZONE,
        global = true
    )]
    pub timezone: String,

    /// When the outbox worker sends due donations (cron with seconds).
    #[arg(
        long,
        env = "SITGA_CHAIN_RELAY_CRON",
        default_value = DEFAULT_CHAIN_RELAY_CRON,
        global = true
    )]
    pub chain_relay_cron: String,

    /// Where photo files are kept: `s3://bucket[/prefix]` for an
    /// S3-compatible bucket (endpoint, region and keys from the usual
    /// `AWS_*` variables), or a directory. Default: `photos` under the
    /// data directory.
    #[arg(long, env = "SITGA_PHOTO_STORE", global = true)]
    pub photo_store: Option<String>,

    /// Directory for the embedded database and generated secrets.
    #[arg(long, env = "SITGA_DATA_DIR", default_value = "data", global = true)]
    pub data_dir: PathBuf,

    /// Origins allowed by CORS, comma-separated (e.g.
    /// `https://app.example.com`). Empty: no cross-origin access.
    #[arg(long, env = "SITGA_CORS_ORIGINS", value_delimiter = ',', global = true)]
    pub cors_origins: Vec<String>,

    /// When set, `GET /metrics` answers only with `Authorization: Bearer
    /// <this token>` (the metrics show traffic and pool figures).
    #[arg(
        long,
        env = "SITGA_METRICS_TOKEN",
        hide_env_values = true,
        global = true
    )]
    pub metrics_token: Option<String>,

    /// Log filter (tracing `EnvFilter` syntax), e.g. `info` or
    /// `info,sitga_api=debug,sitga_realtime=debug`.
    #[arg(long, env = "SITGA_LOG", default_value = "info", global = true)]
    pub log: String,

    /// Log format.
    #[arg(
        long,
        env = "SITGA_LOG_FORMAT",
        value_enum,
        default_value = "text",
        global = true
    )]
    pub log_format: LogFormat,

    /// HTTP worker threads (default: one per core).
    #[arg(long, env = "SITGA_WORKERS", global = true)]
    pub workers: Option<usize>,

    /// Most database connections open at once.
    #[arg(long, env = "SITGA_DB_POOL_SIZE", default_value_t = 16, global = true)]
    pub db_pool_size: usize,

    /// Login attempts allowed per client address per minute.
    #[arg(long, env = "SITGA_LOGIN_PER_IP_PER_MINUTE", default_value_t = NonZeroU32::MIN.saturating_add(29), global = true)]
    pub login_per_ip_per_minute: NonZeroU32,

    /// Failed logins allowed per e-mail per minute; after that, logins to
    /// that e-mail are refused until the minute has passed.
    #[arg(long, env = "SITGA_LOGIN_PER_EMAIL_PER_MINUTE", default_value_t = NonZeroU32::MIN.saturating_add(4), global = true)]
    pub login_per_email_per_minute: NonZeroU32,

    /// Reverse proxies (addresses or networks, comma-separated) whose
    /// `X-Forwarded-For` names the client. Unset: the socket peer is the
    /// client and the header is ignored (anyone could write it).
    #[arg(
        long,
        env = "SITGA_TRUSTED_PROXIES",
        value_delimiter = ',',
        global = true
    )]
    pub trusted_proxies: Vec<String>,

    /// Sign-ups allowed per client address per minute.
    #[arg(long, env = "SITGA_SIGNUP_PER_IP_PER_MINUTE", default_value_t = NonZeroU32::MIN.saturating_add(4), global = true)]
    pub signup_per_ip_per_minute: NonZeroU32,

    /// E-mail/nickname availability checks allowed per client address per
    /// minute.
    #[arg(long, env = "SITGA_AVAILABILITY_PER_IP_PER_MINUTE", default_value_t = NonZeroU32::MIN.saturating_add(59), global = true)]
    pub availability_per_ip_per_minute: NonZeroU32,

    /// Photo identifications allowed per client address per minute.
    #[arg(long, env = "SITGA_IDENTIFY_PER_IP_PER_MINUTE", default_value_t = NonZeroU32::MIN.saturating_add(19), global = true)]
    pub identify_per_ip_per_minute: NonZeroU32,

    /// Photo uploads allowed per account per minute.
    #[arg(long, env = "SITGA_PHOTO_UPLOADS_PER_MINUTE", default_value_t = NonZeroU32::MIN.saturating_add(29), global = true)]
    pub photo_uploads_per_minute: NonZeroU32,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// The shipped species model, under the assets directory.
pub const DEFAULT_MODEL_DIR: &str = "models/fish-species-v3";
/// The shipped backbone, under the assets directory.
pub const DEFAULT_BACKBONE: &str = "models/efficientnet-lite0-200x350.onnx";

/// Where the species model's parts are.
#[derive(Debug, Clone)]
pub struct ModelPaths {
    /// The model folder served until one is installed (`None`:
    /// identification disabled).
    pub dir: Option<PathBuf>,
    /// The backbone's ONNX file.
    pub backbone: PathBuf,
    /// ONNX Runtime's shared library (`None`: not found).
    pub runtime: Option<PathBuf>,
}

impl ModelPaths {
    /// The shipped model and backbone under `assets_dir`, with ONNX Runtime
    /// found from `project_root` (`ORT_DYLIB_PATH`, else its `.venv`).
    pub fn shipped(assets_dir: &Path, project_root: &Path) -> Self {
        Self {
            dir: Some(assets_dir.join(DEFAULT_MODEL_DIR)),
            backbone: assets_dir.join(DEFAULT_BACKBONE),
            runtime: sitga_inference::find_runtime(project_root),
        }
    }
}

/// A configuration problem, reported before anything starts.
#[derive(Debug, thiserror::Error)]
#[error("configuration error: {0}")]
pub struct ConfigError(pub String);

/// Where the JWT secret came from (logged at start-up).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// `JWT_SECRET`.
    Environment,
    /// Read from the embedded-mode secret file.
    File(PathBuf),
    /// Generated now and written to the embedded-mode secret file.
    Generated(PathBuf),
}

/// Checked, ready-to-use configuration.
#[derive(Debug, Clone)]
pub struct AppConfig {
    /// The database.
    pub database: DatabaseUrl,
    /// Redis, when configured.
    pub redis_url: Option<String>,
    /// Prefix for Redis keys and channels.
    pub redis_prefix: String,
    /// Sweeper schedule.
    pub sweep_cron: String,
    /// Daily forecast retrain schedule.
    pub forecast_cron: String,
    /// Static files (badges, dashboard, vendored libraries).
    pub assets_dir: PathBuf,
    /// The species model: folder, backbone, ONNX Runtime.
    pub model: ModelPaths,
    /// WebSocket caps.
    pub ws: WsQuotas,
    /// Listen address.
    pub bind: SocketAddr,
    /// JWT signing secret.
    pub jwt_secret: Vec<u8>,
    /// Where the secret came from.
    pub jwt_secret_source: SecretSource,
    /// CORS origins.
    pub cors_origins: Vec<String>,
    /// Bearer token `/metrics` requires, if any.
    pub metrics_token: Option<String>,
    /// Worker threads.
    pub workers: Option<usize>,
    /// Pool settings.
    pub pool: sitga_persistence::PoolOptions,
    /// Login rate limits.
    pub auth_quotas: ClientQuotas,
    /// Proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: TrustedProxies,
    /// Pickups one recycler may complete per day.
    pub pickup_completions_per_day: u32,
    /// Days and months (`SITGA_TIMEZONE`).
    pub calendar: sitga_core::Calendar,
    /// Where photo files are kept (`SITGA_PHOTO_STORE`).
    pub photo_store: sitga_photos::PhotoStore,
    /// On-chain donation records; `None`: off.
    pub chain: Option<ChainSettings>,
    /// Takes the money for point charges.
    pub payment_provider: Arc<dyn PaymentProvider>,
    /// Won one user may charge per day.
    pub charge_cap: ChargeCap,
    /// How long each side of a sale has (`SITGA_AUTO_CONFIRM_HOURS`).
    pub sale_deadlines: sitga_auction::Deadlines,
}

const MIN_SECRET_BYTES: usize = 32;
const SECRET_FILE: &str = "jwt_secret";

fn non_empty(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

impl Settings {
    /// The database this configuration points at (without touching it).
    pub fn database(&self) -> Result<DatabaseUrl, ConfigError> {
        match non_empty(&self.database_url) {
            Some(url) => DatabaseUrl::parse(url).map_err(|e| ConfigError(e.to_string())),
            None => Ok(DatabaseUrl::Sqlite(self.data_dir.join("sitga.sqlite"))),
        }
    }

    /// The model folder, backbone and ONNX Runtime library these settings
    /// point at (without loading anything).
    pub fn resolve_model(&self) -> ModelPaths {
        let dir = match self.model_dir.as_deref().map(str::trim) {
            Some("") => None,
            Some(path) => Some(PathBuf::from(path)),
            None => Some(self.assets_dir.join(DEFAULT_MODEL_DIR)),
        };
        let shipped = ModelPaths::shipped(&self.assets_dir, Path::new("."));
        ModelPaths {
            dir,
            backbone: self.backbone.clone().unwrap_or(shipped.backbone),
            runtime: self.onnxruntime.clone().or(shipped.runtime),
        }
    }

    /// Checks everything and resolves defaults (may create the data dir and
    /// the embedded-mode secret file).
    pub fn resolve(&self) -> Result<AppConfig, ConfigError> {
        let database = self.database()?;
        let bind: SocketAddr = self.bind.trim().parse().map_err(|e| {
            ConfigError(format!(
                "SITGA_BIND {:?} is not an address like 127.0.0.1:8080: {e}",
                self.bind
            ))
        })?;
        let redis_url = match non_empty(&self.redis_url) {
            Some(url) => {
                let parsed = url::Url::parse(url)
                    .map_err(|e| ConfigError(format!("REDIS_URL is not a valid URL: {e}")))?;
                if !matches!(parsed.scheme(), "redis" | "rediss") {
                    return Err(ConfigError(
                        "REDIS_URL must start with redis:// or rediss://".into(),
                    ));
                }
                Some(url.to_owned())
            }
            None => None,
        };
        let (jwt_secret, jwt_secret_source) =
            resolve_secret(non_empty(&self.jwt_secret), &database, &self.data_dir)?;
        let chain = self.chain_settings(&database)?;
        let payment_provider = self.payment_provider(&database)?;
        if self.charge_daily_cap <= 0 {
            return Err(ConfigError(
                "SITGA_CHARGE_DAILY_CAP must be a positive number of won".into(),
            ));
        }
        if self.db_pool_size == 0 {
            return Err(ConfigError("SITGA_DB_POOL_SIZE must be at least 1".into()));
        }
        if self.workers == Some(0) {
            return Err(ConfigError("SITGA_WORKERS must be at least 1".into()));
        }
        for origin in &self.cors_origins {
            let ok = url::Url::parse(origin).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
            if !ok {
                return Err(ConfigError(format!(
                    "SITGA_CORS_ORIGINS entry {origin:?} is not an origin like https://app.example.com"
                )));
            }
        }
        Ok(AppConfig {
            database,
            redis_url,
            redis_prefix: self.redis_prefix.clone(),
            assets_dir: self.assets_dir.clone(),
            model: self.resolve_model(),
            ws: WsQuotas {
                frames_per_second: self.ws_frames_per_second,
                account_messages_per_second: self.ws_messages_per_second,
                sockets_per_user: self.ws_sockets_per_user,
                sockets_per_ip: self.ws_sockets_per_ip,
            },
            sweep_cron: checked_cron("SITGA_SWEEP_CRON", &self.sweep_cron)?,
            forecast_cron: checked_cron("SITGA_FORECAST_CRON", &self.forecast_cron)?,
            bind,
            jwt_secret_source,
            cors_origins: self.cors_origins.clone(),
            metrics_token: non_empty(&self.metrics_token).map(str::to_owned),
            workers: self.workers,
            pool: sitga_persistence::PoolOptions {
                max_size: self.db_pool_size,
                ..Default::default()
            },
            auth_quotas: ClientQuotas {
                per_ip_per_minute: self.login_per_ip_per_minute,
                per_email_per_minute: self.login_per_email_per_minute,
                signup_per_ip_per_minute: self.signup_per_ip_per_minute,
                availability_per_ip_per_minute: self.availability_per_ip_per_minute,
                identify_per_ip_per_minute: self.identify_per_ip_per_minute,
                photo_uploads_per_user_per_minute: self.photo_uploads_per_minute,
            },
            photo_store: sitga_photos::PhotoStore::from_setting(
                non_empty(&self.photo_store),
                &self.data_dir,
            )
            .map_err(|e| ConfigError(format!("SITGA_PHOTO_STORE: {e}")))?,
            pickup_completions_per_day: self.pickup_completions_per_day,
            calendar: self.calendar()?,
            trusted_proxies: TrustedProxies::parse(&self.trusted_proxies)
                .map_err(|e| ConfigError(format!("SITGA_TRUSTED_PROXIES: {e}")))?,
            chain,
            jwt_secret,
            payment_provider,
            charge_cap: ChargeCap::new(Krw::new(self.charge_daily_cap)),
            sale_deadlines: sitga_auction::Deadlines {
                confirmation: chrono::Duration::hours(i64::from(self.auto_confirm_hours)),
                ..Default::default()
            },
        })
    }

    /// The payment provider: `dev` by default in embedded mode; with MySQL
    /// (production) only when chosen explicitly.
    fn payment_provider(
        &self,
        database: &DatabaseUrl,
    ) -> Result<Arc<dyn PaymentProvider>, ConfigError> {
        match non_empty(&self.payment_provider) {
            Some("dev") => Ok(Arc::new(DevPaymentProvider)),
            Some(other) => Err(ConfigError(format!(
                "SITGA_PAYMENT_PROVIDER {other:?} is not a known provider (known: dev)"
            ))),
            None if matches!(database, DatabaseUrl::Mysql(_)) => Err(ConfigError(
                "SITGA_PAYMENT_PROVIDER is required with a MySQL DATABASE_URL: \
                 `dev` approves every charge without taking money (staging only)"
                    .into(),
            )),
            None => Ok(Arc::new(DevPaymentProvider)),
        }
    }
}

/// Words of the placeholders people paste from examples and tutorials.
const PLACEHOLDER_WORDS: &[&str] = &[
    "change-me",
    "changeme",
    "change_me",
    "replace-me",
    "replaceme",
    "your-secret",
    "your_secret",
    "placeholder",
    "example",
    "insecure",
];

/// Why a long enough secret is still guessable, if it is: a known
/// placeholder, few distinct characters, or a short pattern repeated.
pub fn weak_secret(secret: &str) -> Option<&'static str> {
    let lower = secret.to_ascii_lowercase();
    if PLACEHOLDER_WORDS.iter().any(|w| lower.contains(w)) {
        return Some("is a placeholder from an example");
    }
    let distinct: std::collections::HashSet<char> = secret.chars().collect();
    if distinct.len() < 10 {
        return Some("uses fewer than 10 distinct characters");
    }
    let bytes = secret.as_bytes();
    let repeated = (1..=bytes.len() / 2).any(|period| {
        bytes
            .iter()
            .enumerate()
            .skip(period)
            .all(|(i, b)| *b == bytes[i - period])
    });
    if repeated {
        return Some("is a short pattern repeated");
    }
    None
}

fn resolve_secret(
    given: Option<&str>,
    database: &DatabaseUrl,
    data_dir: &Path,
) -> Result<(Vec<u8>, SecretSource), ConfigError> {
    if let Some(secret) = given {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(ConfigError(format!(
                "JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes (e.g. `openssl rand -hex 32`)"
            )));
        }
        if let Some(why) = weak_secret(secret) {
            return Err(ConfigError(format!(
                "JWT_SECRET {why}: anyone who guesses it can sign admin tokens; \
                 use a random one (e.g. `openssl rand -hex 32`)"
            )));
        }
        return Ok((secret.as_bytes().to_vec(), SecretSource::Environment));
    }
    if matches!(database, DatabaseUrl::Mysql(_)) {
        return Err(ConfigError(
            "JWT_SECRET is required with a MySQL DATABASE_URL: every instance must share it".into(),
        ));
    }
    create_private_dir(data_dir)
        .map_err(|e| ConfigError(format!("cannot prepare {}: {e}", data_dir.display())))?;
    let path = data_dir.join(SECRET_FILE);
    let (secret, generated) = stored_or_generated(&path)?;
    let source = if generated {
        SecretSource::Generated(path)
    } else {
        SecretSource::File(path)
    };
    Ok((secret, source))
}

/// The secret kept in `path`, or a new random one written there (0600);
/// `true` when it was generated now.
fn stored_or_generated(path: &Path) -> Result<(Vec<u8>, bool), ConfigError> {
    match std::fs::read_to_string(path) {
        Ok(stored) if stored.trim().len() >= MIN_SECRET_BYTES => {
            return Ok((stored.trim().as_bytes().to_vec(), false));
        }
        Ok(_) => {
            return Err(ConfigError(format!(
                "{} is shorter than {MIN_SECRET_BYTES} bytes; delete it to generate a new one",
                path.display()
            )));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(ConfigError(format!("cannot read {}: {e}", path.display()))),
    }
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let secret = hex::encode(bytes);
    write_private(path, &secret)
        .map_err(|e| ConfigError(format!("cannot write {}: {e}", path.display())))?;
    Ok((secret.into_bytes(), true))
}

/// Creates sitga's data directory readable by its owner only (it holds the
/// generated secret and the embedded database), and tightens an existing
/// one: it is sitga's own directory by definition.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

fn write_private(path: &Path, content: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        create_private_dir(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    use std::io::Write;
    options.open(path)?.write_all(content.as_bytes())
}

impl Settings {
    /// The chain settings: all of RPC URL, key and contract, or none.
    fn chain_settings(&self, database: &DatabaseUrl) -> Result<Option<ChainSettings>, ConfigError> {
        let rpc = non_empty(&self.chain_rpc_url);
        let key = non_empty(&self.chain_private_key);
        let contract = non_empty(&self.chain_contract_address);
        let (rpc_url, private_key, contract) = match (rpc, key, contract) {
            (None, None, None) => return Ok(None),
            (Some(r), Some(k), Some(c)) => (r, k, c),
            (Some(_), Some(_), None) => {
                return Err(ConfigError(
                    "CHAIN_CONTRACT_ADDRESS is not set: deploy the contract with `sitga chain deploy` and set it".into(),
                ));
            }
            _ => {
                return Err(ConfigError(
                    "on-chain recording needs CHAIN_RPC_URL, CHAIN_PRIVATE_KEY and CHAIN_CONTRACT_ADDRESS together".into(),
                ));
            }
        };
        sitga_chain::ChainClient::new(
            rpc_url,
            private_key,
            sitga_chain::parse_address(contract).map_err(|e| ConfigError(e.to_string()))?,
        )
        .map_err(|e| ConfigError(e.to_string()))?;
        let donor_salt = self.donor_salt(database)?;
        Ok(Some(ChainSettings {
            rpc_url: rpc_url.to_owned(),
            private_key: private_key.to_owned(),
            contract: contract.to_owned(),
            donor_salt,
            monitor_cron: checked_cron("SITGA_CHAIN_MONITOR_CRON", &self.chain_monitor_cron)?,
            relay_cron: checked_cron("SITGA_CHAIN_RELAY_CRON", &self.chain_relay_cron)?,
            daily_tx_cap: self.chain_daily_tx_cap,
            donor_daily_cap: self.chain_donor_daily_cap,
            calendar: self.calendar()?,
        }))
    }

    pub(crate) fn calendar(&self) -> Result<sitga_core::Calendar, ConfigError> {
        sitga_core::Calendar::parse(&self.timezone)
            .map_err(|e| ConfigError(format!("SITGA_TIMEZONE={:?} {}", self.timezone, e.message)))
    }
}

impl Settings {
    /// The salt of on-chain donor references: its own secret, so that
    /// rotating the JWT secret (after a leak, say) does not change every
    /// donor's on-chain identity, and a leaked JWT secret does not reveal
    /// who donated. Given, or generated into the data directory in embedded
    /// mode; several MySQL instances must share one, so there it is required.
    fn donor_salt(&self, database: &DatabaseUrl) -> Result<Vec<u8>, ConfigError> {
        if let Some(salt) = non_empty(&self.chain_donor_salt) {
            if salt.len() < MIN_SECRET_BYTES {
                return Err(ConfigError(format!(
                    "CHAIN_DONOR_SALT must be at least {MIN_SECRET_BYTES} bytes (e.g. `openssl rand -hex 32`)"
                )));
            }
            if let Some(why) = weak_secret(salt) {
                return Err(ConfigError(format!(
                    "CHAIN_DONOR_SALT {why}; use a random one (e.g. `openssl rand -hex 32`)"
                )));
            }
            return Ok(salt.as_bytes().to_vec());
        }
        if matches!(database, DatabaseUrl::Mysql(_)) {
            return Err(ConfigError(
                "CHAIN_DONOR_SALT is required with a MySQL DATABASE_URL and on-chain recording: \
                 every instance must write the same donor references"
                    .into(),
            ));
        }
        create_private_dir(&self.data_dir)
            .map_err(|e| ConfigError(format!("cannot prepare {}: {e}", self.data_dir.display())))?;
        Ok(stored_or_generated(&self.data_dir.join(DONOR_SALT_FILE))?.0)
    }
}

const DONOR_SALT_FILE: &str = "chain_donor_salt";

/// The chain monitor samples every minute.
pub const DEFAULT_CHAIN_MONITOR_CRON: &str = "0 * * * * *";
/// The outbox worker looks for due donations every 2 seconds.
pub const DEFAULT_CHAIN_RELAY_CRON: &str = "*/2 * * * * *";

/// The daily forecast retrain: 03:30 UTC.
pub const DEFAULT_FORECAST_CRON: &str = "0 30 3 * * *";

fn checked_cron(name: &str, expr: &str) -> Result<String, ConfigError> {
    cron::Schedule::from_str(expr)
        .map_err(|e| ConfigError(format!("{name} {expr:?} is not a cron schedule: {e}")))?;
    Ok(expr.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrapper {
        #[command(flatten)]
        settings: Settings,
    }

    fn settings(args: &[&str]) -> Settings {
        let mut argv = vec!["sitga"];
        argv.extend_from_slice(args);
        Wrapper::try_parse_from(argv).unwrap().settings
    }

    #[test]
    fn the_donor_salt_is_its_own_secret() {
        let dir = tempfile::tempdir().unwrap();
        let dir_arg = dir.path().to_str().unwrap();
        let chain = [
            "--chain-rpc-url",
            "http://127.0.0.1:8545",
            "--chain-private-key",
            sitga_chain::PUBLIC_DEV_KEYS[0],
            "--chain-contract-address",
            "0x5FbDB2315678afecb367f032d93F642f64180aa3",
            "--data-dir",
            dir_arg,
        ];
        let with_secret = |secret: &str| Settings {
            database_url: None,
            chain_donor_salt: None,
            jwt_secret: Some(secret.into()),
            ..settings(&chain)
        };
        let a = with_secret("9f8e7d6c5b4a39281706f5e4d3c2b1a0aa");
        let first = a.resolve().unwrap().chain.unwrap().donor_salt;
        // Rotating the JWT secret leaves donors' on-chain references alone.
        let b = with_secret("0a1b2c3d4e5f60718293a4b5c6d7e8f9ff");
        assert_eq!(b.resolve().unwrap().chain.unwrap().donor_salt, first);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let file = dir.path().join(DONOR_SALT_FILE);
            assert_eq!(
                std::fs::metadata(file).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        // Several MySQL instances must be told the same one.
        let mysql = Settings {
            database_url: Some("mysql://root@127.0.0.1:3306/x".into()),
            ..with_secret("9f8e7d6c5b4a39281706f5e4d3c2b1a0aa")
        };
        let err = mysql.resolve().unwrap_err().to_string();
        assert!(err.contains("CHAIN_DONOR_SALT is required"), "{err}");
        let weak = Settings {
            chain_donor_salt: Some("change-me-change-me-change-me-change-me".into()),
            ..mysql
        };
        let err = weak.resolve().unwrap_err().to_string();
        assert!(err.contains("CHAIN_DONOR_SALT is a placeholder"), "{err}");
    }

    #[test]
    fn embedded_default_generates_and_reuses_a_secret() {
        let dir = tempfile::tempdir().unwrap();
        let dir_arg = dir.path().to_str().unwrap();
        let s = Settings {
            database_url: None,
            jwt_secret: None,
            ..settings(&["--data-dir", dir_arg])
        };
        let first = s.resolve().unwrap();
        assert!(matches!(first.database, DatabaseUrl::Sqlite(_)));
        assert!(matches!(
            first.jwt_secret_source,
            SecretSource::Generated(_)
        ));
        let second = s.resolve().unwrap();
        assert!(matches!(second.jwt_secret_source, SecretSource::File(_)));
        assert_eq!(first.jwt_secret, second.jwt_secret);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(dir.path()), 0o700, "the data dir is the owner's only");
            assert_eq!(mode(&dir.path().join(SECRET_FILE)), 0o600);
        }
    }

    #[test]
    fn mysql_needs_a_secret() {
        let s = Settings {
            database_url: Some("mysql://root@127.0.0.1:3306/sitga".into()),
            jwt_secret: None,
            ..settings(&[])
        };
        assert!(
            s.resolve()
                .unwrap_err()
                .0
                .contains("JWT_SECRET is required")
        );
    }

    #[test]
    fn the_time_zone_is_seoul_unless_a_known_one_is_set() {
        let dir = tempfile::tempdir().unwrap();
        let base = Settings {
            database_url: None,
            jwt_secret: None,
            ..settings(&["--data-dir", dir.path().to_str().unwrap()])
        };
        assert_eq!(base.resolve().unwrap().calendar.name(), "Asia/Seoul");
        let utc = Settings {
            timezone: "UTC".into(),
            ..base.clone()
        };
        assert_eq!(utc.resolve().unwrap().calendar.name(), "UTC");
        let bad = Settings {
            timezone: "Korea/Busan".into(),
            ..base
        };
        assert!(bad.resolve().unwrap_err().0.contains("SITGA_TIMEZONE"));
    }

    #[test]
    fn mysql_needs_a_payment_provider_chosen() {
        let mysql = Settings {
            database_url: Some("mysql://root@127.0.0.1:3306/sitga".into()),
            jwt_secret: Some("9d2f7c1e0b8a4f6e3d5c7b9a1e0f2d4c6b8a".into()),
            ..settings(&[])
        };
        let err = mysql.resolve().unwrap_err().0;
        assert!(err.contains("SITGA_PAYMENT_PROVIDER is required"), "{err}");
        let chosen = Settings {
            payment_provider: Some("dev".into()),
            ..mysql.clone()
        };
        assert_eq!(chosen.resolve().unwrap().payment_provider.name(), "dev");
        let unknown = Settings {
            payment_provider: Some("paypal".into()),
            ..mysql
        };
        assert!(
            unknown
                .resolve()
                .unwrap_err()
                .0
                .contains("not a known provider")
        );
        // Embedded mode takes the development provider by itself.
        let dir = tempfile::tempdir().unwrap();
        let embedded = settings(&["--data-dir", dir.path().to_str().unwrap()]);
        let config = Settings {
            database_url: None,
            jwt_secret: None,
            ..embedded
        }
        .resolve()
        .unwrap();
        assert_eq!(config.payment_provider.name(), "dev");
        assert_eq!(config.charge_cap.per_day(), Krw::new(2_000_000));
    }

    #[test]
    fn bad_values_are_explained() {
        let base = Settings {
            database_url: Some("sqlite://x.db".into()),
            jwt_secret: Some("9d2f7c1e0b8a4f6e3d5c7b9a1e0f2d4c6b8a".into()),
            ..settings(&[])
        };
        let short = Settings {
            jwt_secret: Some("short".into()),
            ..base.clone()
        };
        assert!(short.resolve().unwrap_err().0.contains("at least 32"));
        // The .env.example placeholder and other guessable secrets (each
        // long enough) are refused with the reason.
        for (weak, why) in [
            (
                "change-me-to-the-output-of-openssl-rand-hex-32",
                "placeholder",
            ),
            ("ci-secret-ci-secret-ci-secret-ci-secret", "distinct"),
            ("kimchi-stew-42!kimchi-stew-42!kimchi-stew-42!", "repeated"),
            ("0123456789abcdef0123456789abcdef", "repeated"),
            ("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "distinct"),
        ] {
            let settings = Settings {
                jwt_secret: Some(weak.into()),
                ..base.clone()
            };
            let error = settings.resolve().unwrap_err().0;
            assert!(error.contains(why), "{weak}: {error}");
        }
        let random = Settings {
            jwt_secret: Some("4f0c9e1b7a2d8e6f3c5b9a0d1e7f2c8b6a4d3e9f0b1c7a5e".into()),
            ..base.clone()
        };
        assert!(random.resolve().is_ok());
        let bind = Settings {
            bind: "nope".into(),
            ..base.clone()
        };
        assert!(bind.resolve().unwrap_err().0.contains("SITGA_BIND"));
        let db = Settings {
            database_url: Some("postgres://x/y".into()),
            ..base.clone()
        };
        assert!(db.resolve().unwrap_err().0.contains("mysql://"));
        let redis = Settings {
            redis_url: Some("http://x".into()),
            ..base.clone()
        };
        assert!(redis.resolve().unwrap_err().0.contains("REDIS_URL"));
        let cors = Settings {
            cors_origins: vec!["*".into()],
            ..base
        };
        assert!(cors.resolve().unwrap_err().0.contains("CORS"));
    }
}
