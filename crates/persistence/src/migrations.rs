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

#[cfg(test)]
mod tests {
    use diesel::connection::SimpleConnection;
    use diesel::{Connection, RunQueryDsl, SqliteConnection};
    use diesel_migrations::MigrationHarness;

    use super::SQLITE;

    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }

    fn count(conn: &mut SqliteConnection, sql: &str) -> i64 {
        diesel::sql_query(sql)
            .get_result::<Count>(conn)
            .map(|c| c.n)
            .unwrap()
    }

    /// The clock migration rebuilds `sales` on SQLite. The bundled SQLite
    /// enforces foreign keys by default, under which dropping the old table
    /// would cascade-delete every sale's timeline and ratings: the rows a
    /// database had before must all be there after it.
    #[test]
    fn rebuilding_sales_keeps_every_sale_and_its_timeline() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        let mut conn = SqliteConnection::establish(&path.to_string_lossy()).unwrap();
        while !conn
            .pending_migrations(SQLITE)
            .unwrap()
            .first()
            .is_some_and(|m| m.name().to_string().contains("clock_auctions"))
        {
            conn.run_next_migration(SQLITE).unwrap();
        }
        // An old sale with its timeline and a rating (parents left out: the
        // foreign keys are off while the rows go in, on for the migration).
        conn.batch_execute(
            "PRAGMA foreign_keys = OFF;
             INSERT INTO sales (id, auction_id, seller_id, buyer_id, price, escrow, state, \
                 state_since, offers_pickup, created_at) \
                 VALUES (7, 3, 1, 2, 15000, 15000, 'awaiting_details', '2026-12-01 00:00:00', 1, \
                 '2026-12-01 00:00:00');
             INSERT INTO sale_events (sale_id, event, at) \
                 VALUES (7, 'awaiting_details', '2026-12-01 00:00:00');
             INSERT INTO sale_ratings (sale_id, rater_id, ratee_id, stars, created_at) \
                 VALUES (7, 2, 1, 5, '2026-12-02 00:00:00');
             PRAGMA foreign_keys = ON;",
        )
        .unwrap();
        conn.run_pending_migrations(SQLITE).unwrap();
        assert_eq!(
            count(
                &mut conn,
                "SELECT COUNT(*) AS n FROM sales WHERE id = 7 AND units = 1"
            ),
            1
        );
        assert_eq!(count(&mut conn, "SELECT COUNT(*) AS n FROM sale_events"), 1);
        assert_eq!(
            count(&mut conn, "SELECT COUNT(*) AS n FROM sale_ratings"),
            1
        );
        // Foreign keys are back on for whoever uses the connection next,
        // and the new table keeps its cascade to the timeline.
        conn.batch_execute("DELETE FROM sales WHERE id = 7")
            .unwrap();
        assert_eq!(count(&mut conn, "SELECT COUNT(*) AS n FROM sale_events"), 0);
    }
}
