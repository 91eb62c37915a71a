//! Connection pools for the two backends, and the connection handle every
//! repository function takes.
//!
//! There is no async "multi-connection" in diesel-async, so [`DbConn`] is an
//! enum over the two pooled connection types and [`with_conn!`] writes each
//! query once while the compiler type-checks it for both backends.
//!
//! [`with_conn!`]: crate::with_conn

use std::path::{Path, PathBuf};
use std::time::Duration;

use diesel::SqliteConnection;
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, ManagerConfig};
use diesel_async::sync_connection_wrapper::SyncConnectionWrapper;
use diesel_async::{AsyncConnection, AsyncMysqlConnection, RunQueryDsl, SimpleAsyncConnection};
use futures_util::FutureExt;

use crate::DbError;

/// SQLite behind diesel-async: a sync connection run on blocking threads.
pub type SqliteAsyncConnection = SyncConnectionWrapper<SqliteConnection>;

/// Which database a URL points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// `mysql://user:pass@host:port/db` (MySQL 8 or MariaDB 10.11+).
    Mysql(String),
    /// A SQLite database file.
    Sqlite(PathBuf),
}

impl DatabaseUrl {
    /// Parses `mysql://…`, `sqlite://PATH` or `sqlite:PATH`.
    ///
    /// ```
    /// # use sitga_persistence::DatabaseUrl;
    /// # use std::path::PathBuf;
    /// assert_eq!(
    ///     DatabaseUrl::parse("sqlite://./data/sitga.db").unwrap(),
    ///     DatabaseUrl::Sqlite(PathBuf::from("./data/sitga.db"))
    /// );
    /// assert!(DatabaseUrl::parse("postgres://x").is_err());
    /// ```
    pub fn parse(raw: &str) -> Result<Self, DbError> {
        let raw = raw.trim();
        if raw.starts_with("mysql://") {
            let url = url::Url::parse(raw)
                .map_err(|e| DbError::Config(format!("DATABASE_URL is not a valid URL: {e}")))?;
            if url.host_str().is_none_or(str::is_empty) {
                return Err(DbError::Config("DATABASE_URL has no host".into()));
            }
            if url.path().trim_start_matches('/').is_empty() {
                return Err(DbError::Config(
                    "DATABASE_URL names no database (mysql://user@host:3306/DATABASE)".into(),
                ));
            }
            return Ok(Self::Mysql(raw.to_owned()));
        }
        let path = raw
            .strip_prefix("sqlite://")
            .or_else(|| raw.strip_prefix("sqlite:"))
            .ok_or_else(|| {
                DbError::Config(format!(
                    "DATABASE_URL must start with mysql:// or sqlite:// (got {:?})",
                    raw.split(':').next().unwrap_or_default()
                ))
            })?;
        if path.is_empty() {
            return Err(DbError::Config("DATABASE_URL names no SQLite file".into()));
        }
        Ok(Self::Sqlite(PathBuf::from(path)))
    }

    /// The backend's short name, for logs and `/ready`.
    pub fn backend(&self) -> &'static str {
        match self {
            Self::Mysql(_) => "mysql",
            Self::Sqlite(_) => "sqlite",
        }
    }

    /// The URL with any password masked, safe to log.
    pub fn redacted(&self) -> String {
        match self {
            Self::Mysql(raw) => match url::Url::parse(raw) {
                Ok(mut url) => {
                    if url.password().is_some() {
                        let _ = url.set_password(Some("***"));
                    }
                    url.to_string()
                }
                Err(_) => "mysql://(unparseable)".into(),
            },
            Self::Sqlite(path) => format!("sqlite://{}", path.display()),
        }
    }
}

/// Pool sizes and timeouts.
#[derive(Debug, Clone, Copy)]
pub struct PoolOptions {
    /// Most connections open at once.
    pub max_size: usize,
    /// How long a request waits for a free connection before failing with
    /// [`DbError::Unavailable`] (a 503, not a hung request).
    pub wait_timeout: Duration,
    /// How long opening a connection may take.
    pub connect_timeout: Duration,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self {
            max_size: 16,
            wait_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(5),
        }
    }
}

/// A pool for one of the two backends. Cheap to clone.
#[derive(Clone)]
pub enum DbPool {
    /// MySQL / MariaDB; whether the server takes `INSERT … RETURNING`
    /// (MariaDB 10.5+ does, MySQL does not).
    Mysql(Pool<AsyncMysqlConnection>, bool),
    /// SQLite.
    Sqlite(Pool<SqliteAsyncConnection>),
}

impl std::fmt::Debug for DbPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let status = self.status();
        f.debug_struct("DbPool")
            .field("backend", &self.backend())
            .field("size", &status.size)
            .field("available", &status.available)
            .finish()
    }
}

/// A snapshot of the pool for metrics.
#[derive(Debug, Clone, Copy)]
pub struct PoolStatus {
    /// Connections the pool may open.
    pub max_size: usize,
    /// Connections open now.
    pub size: usize,
    /// Open connections idle in the pool.
    pub available: usize,
    /// Requests waiting for a connection.
    pub waiting: usize,
}

/// How long a SQLite connection waits for another's lock before failing.
pub(crate) const SQLITE_BUSY_TIMEOUT: &str = "PRAGMA busy_timeout = 10000";

// busy_timeout first: the journal_mode pragma needs a lock, and without the
// timeout a new connection opened while another writes failed at once with
// "database is locked" (a 503; found by schemathesis).
const SQLITE_PRAGMAS: &str = "PRAGMA busy_timeout = 10000; \
     PRAGMA journal_mode = WAL; \
     PRAGMA synchronous = NORMAL; \
     PRAGMA foreign_keys = ON;";

// Strict mode makes MySQL refuse over-long or malformed values instead of
// truncating them; UTC so that DATETIME columns mean one thing everywhere.
const MYSQL_SESSION: &str = "SET time_zone = '+00:00', \
     sql_mode = 'STRICT_ALL_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION', \
     NAMES utf8mb4 COLLATE utf8mb4_bin";

impl DbPool {
    /// Builds a pool and checks that a first connection can be opened, so a
    /// wrong URL fails at start-up with a clear message.
    pub async fn connect(url: &DatabaseUrl, options: PoolOptions) -> Result<Self, DbError> {
        let pool = match url {
            DatabaseUrl::Mysql(raw) => {
                let mut config = ManagerConfig::<AsyncMysqlConnection>::default();
                config.custom_setup = Box::new(|url| {
                    let url = url.to_owned();
                    async move {
                        let mut conn = AsyncMysqlConnection::establish(&url).await?;
                        conn.batch_execute(MYSQL_SESSION)
                            .await
                            .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
                        Ok(conn)
                    }
                    .boxed()
                });
                let manager = AsyncDieselConnectionManager::new_with_config(raw, config);
                let pool = build(Pool::builder(manager), options)?;
                let mut conn = pool.get().await?;
                let version: String =
                    diesel::select(diesel::dsl::sql::<diesel::sql_types::Text>("VERSION()"))
                        .get_result::<String>(&mut *conn)
                        .await?;
                drop(conn);
                Self::Mysql(pool, version.contains("MariaDB"))
            }
            DatabaseUrl::Sqlite(path) => {
                prepare_sqlite_file(path)?;
                let mut config = ManagerConfig::<SqliteAsyncConnection>::default();
                config.custom_setup = Box::new(|url| {
                    let url = url.to_owned();
                    async move {
                        let mut conn = SqliteAsyncConnection::establish(&url).await?;
                        conn.batch_execute(SQLITE_PRAGMAS)
                            .await
                            .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
                        Ok(conn)
                    }
                    .boxed()
                });
                let manager = AsyncDieselConnectionManager::new_with_config(
                    path.to_string_lossy().into_owned(),
                    config,
                );
                Self::Sqlite(build(Pool::builder(manager), options)?)
            }
        };
        // Fail fast on a wrong host, password or path.
        drop(pool.get().await?);
        Ok(pool)
    }

    /// Which backend this pool talks to.
    pub fn backend(&self) -> &'static str {
        match self {
            Self::Mysql(..) => "mysql",
            Self::Sqlite(_) => "sqlite",
        }
    }

    /// Takes a connection, waiting at most the pool's wait timeout.
    pub async fn get(&self) -> Result<DbConn, DbError> {
        let inner = match self {
            Self::Mysql(pool, _) => Pooled::Mysql(pool.get().await?),
            Self::Sqlite(pool) => Pooled::Sqlite(pool.get().await?),
        };
        Ok(DbConn {
            inner: Some(inner),
            in_transaction: false,
            implicit_begin: false,
            insert_returning: matches!(self, Self::Mysql(_, true) | Self::Sqlite(_)),
            told: Vec::new(),
            told_before_tx: 0,
            at_commit: Vec::new(),
        })
    }

    /// Takes a connection and opens a transaction on it. Commit it with
    /// [`DbConn::commit`]; dropping it uncommitted rolls back.
    pub async fn begin(&self) -> Result<DbConn, DbError> {
        let mut conn = self.get().await?;
        conn.begin().await?;
        Ok(conn)
    }

    /// A connection for one writer that runs many short transactions back
    /// to back (the bid engine's per-auction writer). On MySQL autocommit is
    /// switched off once, so each transaction opens with its first statement
    /// instead of a `START TRANSACTION` round trip. Hand it back with
    /// [`DbConn::release`]; dropped otherwise, it is closed, never pooled.
    pub async fn session(&self) -> Result<DbConn, DbError> {
        let mut conn = self.get().await?;
        if conn.is_mysql() {
            crate::with_conn!(conn, |c| c.batch_execute("SET autocommit = 0").await)?;
            conn.implicit_begin = true;
        }
        Ok(conn)
    }

    /// A round trip to the database, for readiness checks.
    pub async fn ping(&self) -> Result<(), DbError> {
        let mut conn = self.get().await?;
        crate::with_conn!(conn, |c| c.batch_execute("SELECT 1").await)?;
        Ok(())
    }

    /// Pool usage for metrics.
    pub fn status(&self) -> PoolStatus {
        let status = match self {
            Self::Mysql(pool, _) => pool.status(),
            Self::Sqlite(pool) => pool.status(),
        };
        PoolStatus {
            max_size: status.max_size,
            size: status.size,
            available: status.available,
            waiting: status.waiting,
        }
    }

    /// Closes every idle connection and refuses new ones.
    pub fn close(&self) {
        match self {
            Self::Mysql(pool, _) => pool.close(),
            Self::Sqlite(pool) => pool.close(),
        }
    }
}

fn build<C>(
    builder: diesel_async::pooled_connection::deadpool::PoolBuilder<C>,
    options: PoolOptions,
) -> Result<Pool<C>, DbError>
where
    C: diesel_async::pooled_connection::PoolableConnection + Send + 'static,
    AsyncDieselConnectionManager<C>: deadpool::managed::Manager<Type = C>,
{
    builder
        .max_size(options.max_size)
        .runtime(deadpool::Runtime::Tokio1)
        .wait_timeout(Some(options.wait_timeout))
        .create_timeout(Some(options.connect_timeout))
        .recycle_timeout(Some(options.connect_timeout))
        .build()
        .map_err(|e| DbError::Config(format!("cannot build the connection pool: {e}")))
}

/// Creates the SQLite file's directory (owner-only when it is new) and
/// the file itself readable by its owner only: it holds password hashes,
/// tokens' hashes and every wallet. SQLite gives its `-wal` and `-shm`
/// files the database file's permissions.
pub(crate) fn prepare_sqlite_file(path: &Path) -> Result<(), DbError> {
    let config_error = |what: &str, e: std::io::Error| {
        DbError::Config(format!("cannot prepare {what} {}: {e}", path.display()))
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder
            .create(dir)
            .map_err(|e| config_error("the data directory of", e))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(path)
        .map_err(|e| config_error("the database file", e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| config_error("the permissions of", e))?;
    }
    Ok(())
}

enum Pooled {
    Mysql(Object<AsyncMysqlConnection>),
    Sqlite(Object<SqliteAsyncConnection>),
}

/// A borrowed connection of either backend; what [`with_conn!`] matches on.
///
/// [`with_conn!`]: crate::with_conn
pub enum AnyConn<'a> {
    /// MySQL / MariaDB.
    Mysql(&'a mut AsyncMysqlConnection),
    /// SQLite.
    Sqlite(&'a mut SqliteAsyncConnection),
}

/// A pooled connection, possibly inside a transaction. Every repository
/// function takes `&mut DbConn`, so callers compose several of them in one
/// transaction simply by passing the same handle.
pub struct DbConn {
    // `None` only after the connection was taken out of the pool in `Drop`.
    inner: Option<Pooled>,
    in_transaction: bool,
    // Autocommit is off (a [`DbPool::session`]): transactions open by
    // themselves, and the connection must not go back to the pool as it is.
    implicit_begin: bool,
    insert_returning: bool,
    // Notifications stored on this connection (user, event key) since the
    // last `take_told`; a rollback forgets those of its transaction.
    told: Vec<crate::notifications::NoticeKey>,
    told_before_tx: usize,
    // Writes whose results nobody reads, sent with the COMMIT: on MySQL in
    // the same round trip ([`DbConn::write_at_commit`]).
    at_commit: Vec<crate::statement::Statement>,
}

impl DbConn {
    /// The notifications stored on this connection and committed (user,
    /// event key), taken: after commit the caller sends them live
    /// (`RoomBus::stored` in `sitga-realtime`).
    pub fn take_told(&mut self) -> Vec<crate::notifications::NoticeKey> {
        self.told_before_tx = 0;
        std::mem::take(&mut self.told)
    }

    /// Commits the open transaction and returns the notifications it stored
    /// (see [`DbConn::take_told`]).
    pub async fn commit_told(mut self) -> Result<Vec<crate::notifications::NoticeKey>, DbError> {
        self.commit_in_place().await?;
        Ok(self.take_told())
    }

    pub(crate) fn record_told(
        &mut self,
        events: impl IntoIterator<Item = crate::notifications::NoticeKey>,
    ) {
        self.told.extend(events);
    }

    /// Queues a write of the open transaction to be sent with its COMMIT
    /// (on MySQL one multi-statement round trip: the writes, then `COMMIT`;
    /// SQLite, which has no round trips, runs them just before it). For
    /// writes nothing later in the transaction reads, such as history rows;
    /// once one is queued the transaction runs nothing else but its end
    /// (another statement is refused, so that none reads around them). A
    /// queued write that fails fails the commit, which then rolled nothing
    /// back: the caller drops the connection, as after any failed commit.
    pub(crate) fn write_at_commit(
        &mut self,
        statements: impl IntoIterator<Item = crate::statement::Statement>,
    ) -> Result<(), DbError> {
        if !self.in_transaction {
            return Err(DbError::Invariant(
                "a write for the commit outside a transaction".into(),
            ));
        }
        self.at_commit.extend(statements);
        Ok(())
    }

    /// The connection to run a query on.
    pub fn backend_mut(&mut self) -> Result<AnyConn<'_>, DbError> {
        if !self.at_commit.is_empty() {
            return Err(DbError::Invariant(
                "a statement after writes queued for the commit".into(),
            ));
        }
        match self.inner.as_mut() {
            Some(Pooled::Mysql(c)) => Ok(AnyConn::Mysql(c)),
            Some(Pooled::Sqlite(c)) => Ok(AnyConn::Sqlite(c)),
            None => Err(DbError::Unavailable("connection already released".into())),
        }
    }

    /// Whether this is a MySQL connection (for the rare statement that has
    /// to differ, such as a row lock SQLite does not have).
    pub fn is_mysql(&self) -> bool {
        matches!(self.inner, Some(Pooled::Mysql(_)))
    }

    /// Whether `INSERT … RETURNING` works here (SQLite, MariaDB), saving the
    /// round trip that reads the new id.
    pub fn insert_returning(&self) -> bool {
        self.insert_returning
    }

    /// Opens a transaction. SQLite takes the write lock up front
    /// (`BEGIN IMMEDIATE`) so that two writers queue on the busy timeout
    /// instead of failing when a reader upgrades.
    pub async fn begin(&mut self) -> Result<(), DbError> {
        if self.in_transaction {
            return Err(DbError::Unavailable("transaction already open".into()));
        }
        self.told_before_tx = self.told.len();
        if self.implicit_begin {
            self.in_transaction = true;
            return Ok(());
        }
        crate::with_conn!(self, |c| {
            let sql = if matches!(c.backend_name(), "mysql") {
                "START TRANSACTION"
            } else {
                "BEGIN IMMEDIATE"
            };
            c.batch_execute(sql).await
        })?;
        self.in_transaction = true;
        Ok(())
    }

    /// Commits the open transaction.
    pub async fn commit(mut self) -> Result<(), DbError> {
        self.commit_in_place().await
    }

    /// Rolls the open transaction back.
    pub async fn rollback(mut self) -> Result<(), DbError> {
        self.rollback_in_place().await
    }

    /// Commits the open transaction and keeps the connection for the next.
    pub async fn commit_in_place(&mut self) -> Result<(), DbError> {
        self.end_transaction("COMMIT").await
    }

    /// Rolls the open transaction back and keeps the connection.
    pub async fn rollback_in_place(&mut self) -> Result<(), DbError> {
        self.end_transaction("ROLLBACK").await
    }

    async fn end_transaction(&mut self, sql: &str) -> Result<(), DbError> {
        let queued = std::mem::take(&mut self.at_commit);
        if sql == "ROLLBACK" {
            // Whatever the rollback's outcome, those were never stored.
            self.told.truncate(self.told_before_tx);
            crate::with_conn!(self, |c| c.batch_execute(sql).await)?;
        } else if queued.is_empty() {
            crate::with_conn!(self, |c| c.batch_execute(sql).await)?;
        } else {
            match self.backend_mut()? {
                AnyConn::Mysql(c) => {
                    let mut text = String::new();
                    for statement in &queued {
                        text.push_str(&statement.to_mysql_text()?);
                        text.push_str(";\n");
                    }
                    text.push_str(sql);
                    c.batch_execute(&text).await?;
                }
                AnyConn::Sqlite(c) => {
                    for statement in queued {
                        statement.execute(c).await?;
                    }
                    c.batch_execute(sql).await?;
                }
            }
        }
        self.in_transaction = false;
        Ok(())
    }

    /// Gives a [`DbPool::session`] back to the pool with autocommit on again
    /// (a connection in the middle of a transaction is closed instead).
    pub async fn release(mut self) -> Result<(), DbError> {
        if self.implicit_begin && !self.in_transaction {
            crate::with_conn!(self, |c| c.batch_execute("SET autocommit = 1").await)?;
            self.implicit_begin = false;
        }
        Ok(())
    }
}

impl Drop for DbConn {
    fn drop(&mut self) {
        // An abandoned transaction (an error path, a cancelled request) must
        // not go back to the pool, nor a connection with autocommit off:
        // detach and close it, and the server rolls back what was open.
        if self.in_transaction || self.implicit_begin {
            match self.inner.take() {
                Some(Pooled::Mysql(obj)) => drop(Object::take(obj)),
                Some(Pooled::Sqlite(obj)) => drop(Object::take(obj)),
                None => {}
            }
        }
    }
}

/// Tells the two connection types apart inside [`with_conn!`] bodies.
///
/// [`with_conn!`]: crate::with_conn
pub trait BackendName {
    /// `"mysql"` or `"sqlite"`.
    fn backend_name(&self) -> &'static str;
}

impl BackendName for AsyncMysqlConnection {
    fn backend_name(&self) -> &'static str {
        "mysql"
    }
}

impl BackendName for SqliteAsyncConnection {
    fn backend_name(&self) -> &'static str {
        "sqlite"
    }
}
