//! Embedded migrations, one folder per backend.

use diesel::Connection;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::{DatabaseUrl, DbError};

const MYSQL: EmbeddedMigrations = embed_migrations!("../../migrations/mysql");
const SQLITE: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");

/// Applies every pending migration and returns the versions applied.
///
/// Runs on a blocking thread with its own connection (migrations are sync in
/// diesel), so it works from any tokio runtime flavour.
pub async fn run_migrations(url: &DatabaseUrl) -> Result<Vec<String>, DbError> {
    let url = url.clone();
    tokio::task::spawn_blocking(move || match url {
        DatabaseUrl::Mysql(raw) => {
            let mut conn: diesel_async::async_connection_wrapper::AsyncConnectionWrapper<
                diesel_async::AsyncMysqlConnection,
            > = Connection::establish(&raw)?;
            apply(&mut conn, MYSQL)
        }
        DatabaseUrl::Sqlite(path) => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| {
                    DbError::Config(format!("cannot create {}: {e}", dir.display()))
                })?;
            }
            let mut conn = diesel::SqliteConnection::establish(&path.to_string_lossy())?;
            apply(&mut conn, SQLITE)
        }
    })
    .await
    .map_err(|e| DbError::Migration(format!("migration task failed: {e}")))?
}

fn apply<C>(conn: &mut C, migrations: EmbeddedMigrations) -> Result<Vec<String>, DbError>
where
    C: MigrationHarness<C::Backend> + Connection,
{
    let applied = conn
        .run_pending_migrations(migrations)
        .map_err(|e| DbError::Migration(e.to_string()))?;
    Ok(applied.into_iter().map(|v| v.to_string()).collect())
}
