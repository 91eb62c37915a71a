//! Embedded migrations, one folder per backend.

use diesel::connection::SimpleConnection;
use diesel::{Connection, RunQueryDsl};
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
            // Several instances may start at once: one migrates, the others
            // wait for it and then find nothing pending.
            let locked: LockResult =
                diesel::sql_query("SELECT GET_LOCK('sitga_migrations', 120) AS acquired")
                    .get_result(&mut conn)?;
            if locked.acquired != Some(1) {
                return Err(DbError::Migration(
                    "timed out waiting for another instance's migrations".into(),
                ));
            }
            let result = apply(&mut conn, MYSQL);
            let _: LockResult =
                diesel::sql_query("SELECT RELEASE_LOCK('sitga_migrations') AS acquired")
                    .get_result(&mut conn)?;
            result
        }
        DatabaseUrl::Sqlite(path) => {
            crate::pool::prepare_sqlite_file(&path)?;
            let mut conn = diesel::SqliteConnection::establish(&path.to_string_lossy())?;
            // Another process (or a restarting instance's last connection,
            // checkpointing as it closes) may hold the lock for a moment:
            // wait for it like every pooled connection does.
            conn.batch_execute(crate::pool::SQLITE_BUSY_TIMEOUT)?;
            apply(&mut conn, SQLITE)
        }
    })
    .await
    .map_err(|e| DbError::Migration(format!("migration task failed: {e}")))?
}

#[derive(diesel::QueryableByName)]
struct LockResult {
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::BigInt>)]
    acquired: Option<i64>,
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
