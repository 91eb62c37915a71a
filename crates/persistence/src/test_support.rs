//! Fresh, isolated databases for tests (feature `test-support`).
//!
//! The backend follows `SITGA_TEST_DATABASE_URL`, else `DATABASE_URL`:
//! a `mysql://…/db` URL gives each test its own new database on that
//! server (dropped afterwards); anything else gives each test its own
//! SQLite file in a temporary directory.

use diesel_async::{AsyncConnection, AsyncMysqlConnection, SimpleAsyncConnection};

use sitga_core::{AuctionId, UserId};

use crate::{DatabaseUrl, DbError, DbPool, PoolOptions, run_migrations};

/// A migrated database that disappears when dropped.
pub struct TestDatabase {
    /// Where it is.
    pub url: DatabaseUrl,
    _dir: Option<tempfile::TempDir>,
    mysql: Option<(String, String)>,
}

/// The server URL tests should use, if it is MySQL.
pub fn mysql_server_url() -> Option<String> {
    std::env::var("SITGA_TEST_DATABASE_URL")
        .ok()
        .or_else(|| std::env::var("DATABASE_URL").ok())
        .filter(|u| u.trim().starts_with("mysql://"))
}

impl TestDatabase {
    /// Creates and migrates a fresh database.
    pub async fn create() -> Result<Self, DbError> {
        let db = Self::create_unmigrated().await?;
        run_migrations(&db.url).await?;
        Ok(db)
    }

    /// Creates a fresh, empty database (no tables).
    pub async fn create_unmigrated() -> Result<Self, DbError> {
        Self::create_unmigrated_on(mysql_server_url()).await
    }

    /// Creates and migrates a fresh database on the given MySQL server, or a
    /// SQLite file when `None` (for tools that choose explicitly).
    pub async fn create_on(mysql_server: Option<String>) -> Result<Self, DbError> {
        let db = Self::create_unmigrated_on(mysql_server).await?;
        run_migrations(&db.url).await?;
        Ok(db)
    }

    async fn create_unmigrated_on(mysql_server: Option<String>) -> Result<Self, DbError> {
        let db = match mysql_server {
            Some(server) => {
                let mut url = url::Url::parse(&server)
                    .map_err(|e| DbError::Config(format!("bad test database URL: {e}")))?;
                let name = format!("sitga_test_{}", uuid::Uuid::new_v4().simple());
                let mut conn = AsyncMysqlConnection::establish(&server).await?;
                conn.batch_execute(&format!(
                    "CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
                ))
                .await?;
                url.set_path(&format!("/{name}"));
                Self {
                    url: DatabaseUrl::Mysql(url.to_string()),
                    _dir: None,
                    mysql: Some((server, name)),
                }
            }
            None => {
                let dir = tempfile::tempdir()
                    .map_err(|e| DbError::Config(format!("cannot create a temp dir: {e}")))?;
                Self {
                    url: DatabaseUrl::Sqlite(dir.path().join("test.sqlite")),
                    _dir: Some(dir),
                    mysql: None,
                }
            }
        };
        Ok(db)
    }

    /// A pool on this database.
    pub async fn pool(&self) -> Result<DbPool, DbError> {
        self.pool_with(PoolOptions::default()).await
    }

    /// A pool on this database with these limits.
    pub async fn pool_with(&self, options: PoolOptions) -> Result<DbPool, DbError> {
        DbPool::connect(&self.url, options).await
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some((server, name)) = self.mysql.take() else {
            return;
        };
        // Drop is sync and may run inside a runtime: use a thread of its own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(async {
                let mut conn = AsyncMysqlConnection::establish(&server)
                    .await
                    .map_err(|e| e.to_string())?;
                conn.batch_execute(&format!("DROP DATABASE IF EXISTS `{name}`"))
                    .await
                    .map_err(|e| e.to_string())
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("warning: could not drop a test database: {dropped:?}");
        }
    }
}

/// A member account `nickname` (`{nickname}@example.com`, no usable
/// password), as tests below the API need one.
pub async fn insert_member(conn: &mut crate::DbConn, nickname: &str) -> Result<UserId, DbError> {
    use sitga_user::{AccountType, Email, Nickname, PasswordHash, PersonName};
    let invalid = |e: sitga_core::FieldError| DbError::Invariant(format!("test account: {e}"));
    let new = crate::users::NewUser {
        email: Email::parse(&format!("{nickname}@example.com")).map_err(invalid)?,
        nickname: Nickname::parse(nickname).map_err(invalid)?,
        name: PersonName::parse(nickname).map_err(invalid)?,
        phone: None,
        address: None,
        province: None,
        account_type: AccountType::Member,
        password_hash: PasswordHash::from_stored("x".into()),
    };
    crate::users::insert(conn, &new)
        .await
        .map(|user| user.id)
        .map_err(|e| match e {
            crate::users::UniqueUserError::Db(e) => e,
            taken => DbError::Invariant(format!("test account {nickname}: {taken}")),
        })
}

/// An open auction of `seller` from `start_price` KRW, ending in an hour.
pub async fn insert_auction(
    conn: &mut crate::DbConn,
    seller: UserId,
    start_price: i64,
) -> Result<AuctionId, DbError> {
    use sitga_auction::{AuctionSettings, AuctionSettingsInput, Krw};
    let settings = AuctionSettings::parse(
        &AuctionSettingsInput {
            start_price: Krw::new(start_price),
            duration_minutes: Some(60),
            ..Default::default()
        },
        chrono::Utc::now(),
    )
    .map_err(|e| DbError::Invariant(format!("test auction: {e:?}")))?;
    let new = crate::auctions::NewAuction {
        seller_id: seller,
        title: "감성돔".into(),
        description: String::new(),
        species: None,
        photo_url: None,
        settings,
    };
    Ok(crate::auctions::insert(conn, &new).await?.id)
}

/// Moves an auction's end (and hard end) to `seconds_ago` seconds in the
/// past, as if time had passed: lets tests exercise closing without waiting.
pub async fn expire_auction(
    pool: &DbPool,
    auction_id: AuctionId,
    seconds_ago: i64,
) -> Result<(), DbError> {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;

    use crate::schema::auctions;
    let past = crate::time::naive(chrono::Utc::now() - chrono::Duration::seconds(seconds_ago));
    let mut conn = pool.get().await?;
    crate::with_conn!(conn, |c| diesel::update(auctions::table.find(auction_id))
        .set((auctions::ends_at.eq(past), auctions::hard_end_at.eq(past)))
        .execute(c)
        .await)?;
    Ok(())
}

/// Moves an auction's effective end to `seconds` from now (its hard end
/// stays), as bids would have; the version moves on so a bid writer's cache
/// is read again.
pub async fn end_auction_in(
    pool: &DbPool,
    auction_id: AuctionId,
    seconds: i64,
) -> Result<(), DbError> {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;

    use crate::schema::auctions;
    let at = crate::time::naive(chrono::Utc::now() + chrono::Duration::seconds(seconds));
    let mut conn = pool.get().await?;
    crate::with_conn!(conn, |c| diesel::update(auctions::table.find(auction_id))
        .set((
            auctions::ends_at.eq(at),
            auctions::version.eq(auctions::version + 1)
        ))
        .execute(c)
        .await)?;
    Ok(())
}

/// Moves a clock auction's clock (and its end with it) `seconds` into the
/// past, as if that much time had gone by: the price read now is the price
/// `seconds` later. The version moves on like any change.
pub async fn rewind_clock(
    pool: &DbPool,
    auction_id: AuctionId,
    seconds: i64,
) -> Result<(), DbError> {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;

    use crate::schema::{auctions, clocks};
    let mut conn = pool.get().await?;
    let clock = crate::clocks::find(&mut conn, auction_id)
        .await?
        .ok_or(DbError::NotFound)?;
    let back = chrono::Duration::seconds(seconds);
    let state = clock.state();
    let end = crate::time::naive(state.ends_at(&clock.rules()) - back);
    let anchor = crate::time::naive(state.anchor_at - back);
    let told = clock.told_at().map(|t| crate::time::naive(t - back));
    crate::with_conn!(conn, |c| diesel::update(clocks::table.find(auction_id))
        .set((clocks::anchor_at.eq(anchor), clocks::told_at.eq(told)))
        .execute(c)
        .await)?;
    crate::with_conn!(conn, |c| diesel::update(auctions::table.find(auction_id))
        .set((
            auctions::ends_at.eq(end),
            auctions::hard_end_at.eq(end),
            auctions::version.eq(auctions::version + 1)
        ))
        .execute(c)
        .await)?;
    Ok(())
}

/// Gives user `id` the nickname `nickname` keyed by the rule before
/// confusable skeletons (case-folded text, key version 1), as rows written
/// by an older release are.
pub async fn legacy_nickname(pool: &DbPool, id: UserId, nickname: &str) -> Result<(), DbError> {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;

    use crate::schema::users;
    let mut conn = pool.get().await?;
    let key = nickname.to_lowercase();
    crate::with_conn!(conn, |c| diesel::update(users::table.find(id))
        .set((
            users::nickname.eq(nickname),
            users::nickname_key.eq(&key),
            users::nickname_key_version.eq(1i16),
        ))
        .execute(c)
        .await)?;
    Ok(())
}

/// Runs raw SQL as the application's database user (for tests that check
/// what the database itself refuses); the error text when it is refused.
pub async fn execute_raw(pool: &DbPool, sql: &str) -> Result<(), String> {
    let mut conn = pool.get().await.map_err(|e| e.to_string())?;
    match conn.backend_mut().map_err(|e| e.to_string())? {
        crate::AnyConn::Mysql(c) => c.batch_execute(sql).await.map_err(|e| e.to_string()),
        crate::AnyConn::Sqlite(c) => c.batch_execute(sql).await.map_err(|e| e.to_string()),
    }
}
