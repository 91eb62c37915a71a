//! The persistence layer's one error type.

use diesel::result::{DatabaseErrorKind, Error as DieselError};

/// Everything that can go wrong talking to the database.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The configuration is wrong (bad URL, unusable data directory).
    #[error("database configuration: {0}")]
    Config(String),
    /// The database cannot be reached or no connection was free in time.
    /// Callers answer 503 and the pool recovers by itself.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The row asked for does not exist.
    #[error("not found")]
    NotFound,
    /// A unique index refused the write; `message` names the index.
    #[error("unique constraint violated: {message}")]
    UniqueViolation {
        /// The database's message, which names the index or column.
        message: String,
    },
    /// A bookkeeping rule the database should have made impossible failed
    /// (e.g. releasing more than is held); the transaction must roll back.
    #[error("invariant violated: {0}")]
    Invariant(String),
    /// The database aborted the transaction to resolve a lock conflict
    /// (deadlock, lock wait timeout); retrying it is safe.
    #[error("transaction conflict: {0}")]
    Conflict(String),
    /// Migrations could not be applied.
    #[error("migration failed: {0}")]
    Migration(String),
    /// Any other database error: a bug or a broken schema.
    #[error("database error: {0}")]
    Query(DieselError),
}

impl DbError {
    /// For a unique violation, whether it was on an index or column whose
    /// name contains `needle` (both backends name it in their message:
    /// MySQL the index, SQLite `table.column`).
    pub fn violates(&self, needle: &str) -> bool {
        matches!(self, Self::UniqueViolation { message } if message.contains(needle))
    }
}

impl From<DieselError> for DbError {
    fn from(err: DieselError) -> Self {
        match err {
            DieselError::NotFound => Self::NotFound,
            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
                Self::UniqueViolation {
                    message: info.message().to_owned(),
                }
            }
            DieselError::DatabaseError(DatabaseErrorKind::ClosedConnection, info) => {
                Self::Unavailable(info.message().to_owned())
            }
            DieselError::BrokenTransactionManager => {
                Self::Unavailable("broken transaction state".into())
            }
            DieselError::DatabaseError(DatabaseErrorKind::SerializationFailure, info) => {
                Self::Conflict(info.message().to_owned())
            }
            DieselError::DatabaseError(_, ref info) if looks_like_lock_conflict(info.message()) => {
                Self::Conflict(info.message().to_owned())
            }
            DieselError::DatabaseError(DatabaseErrorKind::Unknown, ref info)
                if looks_like_lost_connection(info.message()) =>
            {
                Self::Unavailable(info.message().to_owned())
            }
            other => Self::Query(other),
        }
    }
}

/// InnoDB resolves deadlocks by aborting one transaction.
fn looks_like_lock_conflict(message: &str) -> bool {
    message.contains("Deadlock found") || message.contains("Lock wait timeout")
}

/// mysql_async reports a dropped socket as an unclassified error; recognise
/// it so that a restarting database gives 503s rather than 500s.
fn looks_like_lost_connection(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    [
        "connection",
        "broken pipe",
        "io error",
        "server has gone away",
        "database is locked",
    ]
    .iter()
    .any(|needle| m.contains(needle))
}

impl From<diesel_async::pooled_connection::deadpool::PoolError> for DbError {
    fn from(err: diesel_async::pooled_connection::deadpool::PoolError) -> Self {
        Self::Unavailable(err.to_string())
    }
}

impl From<diesel::ConnectionError> for DbError {
    fn from(err: diesel::ConnectionError) -> Self {
        Self::Unavailable(err.to_string())
    }
}
