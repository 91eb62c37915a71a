//! Persistence for sitga: the diesel schema, repositories, embedded
//! migrations and connection pools, for MySQL/MariaDB (production) and
//! SQLite (the embedded default).
//!
//! Each query is written once inside [`with_conn!`] and compiled for both
//! backends. Repository functions take `&mut DbConn`, which is either a plain
//! pooled connection or one with an open transaction, so a caller can run
//! several of them atomically:
//!
//! ```no_run
//! # async fn demo(pool: sitga_persistence::DbPool) -> Result<(), sitga_persistence::DbError> {
//! use sitga_persistence::users;
//! let mut tx = pool.begin().await?;
//! let user = users::find_by_email(&mut tx, "a@example.com").await?;
//! tx.commit().await?;
//! # let _ = user; Ok(()) }
//! ```

pub mod auctions;
pub mod badges;
pub mod chain;
mod error;
pub mod forecasts;
pub mod idempotency;
mod migrations;
pub mod pickups;
mod pool;
pub mod refresh_tokens;
pub mod schema;
mod statement;
#[cfg(feature = "test-support")]
pub mod test_support;
mod time;
pub mod users;
pub mod wallets;

pub use error::DbError;
pub use migrations::run_migrations;
pub use pool::{
    AnyConn, BackendName, DatabaseUrl, DbConn, DbPool, PoolOptions, PoolStatus,
    SqliteAsyncConnection,
};

/// Runs `$body` with `$c` bound to the concrete connection of whichever
/// backend `$conn` (a `DbConn`) holds. The body is compiled once per backend,
/// so a query that does not type-check on both is a compile error.
#[macro_export]
macro_rules! with_conn {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn.backend_mut()? {
            $crate::AnyConn::Mysql($c) => $body,
            $crate::AnyConn::Sqlite($c) => $body,
        }
    };
}
