//! The daily purge of what only matters for a while: refresh tokens a week
//! after they expired (kept that long so a stolen, recently expired copy is
//! still recognised), idempotency keys after a day (a retry that late is
//! a new request; so are the WebSocket `ref`s kept with bids) and a buyer's delivery address 30 days after the sale
//! ended, notifications 90 days after they were read (a year after they
//! were sent, read or not); and, every hour, photos uploaded over a day
//! ago and never attached to anything.

use apalis::prelude::{BoxDynError, Data};
use apalis_cron::Tick;
use chrono::{DateTime, Duration, Utc};
use sitga_persistence::{
    DbError, DbPool, auctions, idempotency, notifications, refresh_tokens, sales,
};
use tracing::Instrument;

/// Daily at 04:00 UTC (13:00 in Korea), after the badge safety net.
pub(super) const PURGE_CRON: &str = "0 0 4 * * *";

/// Hourly, at minute 17.
pub(super) const PHOTO_SWEEP_CRON: &str = "0 17 * * * *";

/// How long an expired refresh token is kept.
pub const REFRESH_TOKEN_GRACE: Duration = Duration::days(7);
/// How long an idempotency key answers retries.
pub const IDEMPOTENCY_KEY_TTL: Duration = Duration::hours(24);
/// How long a read notification is kept.
pub const READ_NOTIFICATION_TTL: Duration = Duration::days(90);
/// How long any notification is kept.
pub const NOTIFICATION_TTL: Duration = Duration::days(365);

/// What one purge removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Purged {
    /// Refresh tokens.
    pub refresh_tokens: usize,
    /// Idempotency keys.
    pub idempotency_keys: usize,
    /// WebSocket `ref`s forgotten from bids.
    pub bid_refs: usize,
    /// Sales whose buyer's address was erased.
    pub addresses: usize,
    /// Notifications.
    pub notifications: usize,
}

/// Removes what is past its retention at `now`.
pub async fn purge(db: &DbPool, now: DateTime<Utc>) -> Result<Purged, DbError> {
    let mut conn = db.get().await?;
    Ok(Purged {
        refresh_tokens: refresh_tokens::purge_expired(&mut conn, now - REFRESH_TOKEN_GRACE).await?,
        idempotency_keys: idempotency::purge_before(&mut conn, now - IDEMPOTENCY_KEY_TTL).await?,
        bid_refs: auctions::forget_client_refs(&mut conn, now - IDEMPOTENCY_KEY_TTL).await?,
        addresses: sales::forget_addresses(&mut conn, now - sitga_auction::ADDRESS_RETENTION)
            .await?,
        notifications: notifications::purge(
            &mut conn,
            now - READ_NOTIFICATION_TTL,
            now - NOTIFICATION_TTL,
        )
        .await?,
    })
}

pub(super) async fn purge_tick(_tick: Tick, db: Data<DbPool>) -> Result<(), BoxDynError> {
    let purged = purge(&db, Utc::now())
        .instrument(tracing::info_span!("daily_purge"))
        .await?;
    tracing::info!(
        refresh_tokens = purged.refresh_tokens,
        idempotency_keys = purged.idempotency_keys,
        bid_refs = purged.bid_refs,
        addresses = purged.addresses,
        notifications = purged.notifications,
        "daily purge done"
    );
    Ok(())
}

pub(super) async fn photo_sweep_tick(
    _tick: Tick,
    photos: Data<crate::photos::Photos>,
) -> Result<(), BoxDynError> {
    let swept = photos
        .sweep(Utc::now())
        .instrument(tracing::info_span!("photo_sweep"))
        .await?;
    if swept.photos > 0 {
        tracing::info!(
            photos = swept.photos,
            files = swept.files,
            "deleted photos nobody attached"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use sitga_persistence::test_support::{TestDatabase, insert_member};

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_purge_removes_only_what_is_past_its_retention() {
        let database = TestDatabase::create().await.unwrap();
        let db = database.pool().await.unwrap();
        let mut conn = db.get().await.unwrap();
        let user = insert_member(&mut conn, "purge").await.unwrap();
        let now = Utc::now();
        for (hash, expires) in [
            ("long-expired", now - Duration::days(10)),
            ("just-expired", now - Duration::days(1)),
            ("valid", now + Duration::days(30)),
        ] {
            refresh_tokens::insert(&mut conn, user, "family", hash, expires)
                .await
                .unwrap();
        }
        idempotency::claim(&mut conn, user, "bid-1", "hash")
            .await
            .unwrap();
        let told = |key: &str| notifications::NewNotification {
            user_id: user,
            kind: sitga_user::NotificationKind::BadgeAwarded,
            key: key.into(),
            auction_id: None,
            sale_id: None,
            pickup_id: None,
            text_ko: "배지".into(),
            text_en: "badge".into(),
        };
        notifications::store(&mut conn, &[told("read"), told("unread")])
            .await
            .unwrap();
        let (page, _) = notifications::page(&mut conn, user, false, 0, 10)
            .await
            .unwrap();
        let read_one: Vec<i64> = page
            .iter()
            .filter(|n| n.dedupe_key == "read")
            .map(|n| n.id)
            .collect();
        notifications::mark_read(&mut conn, user, Some(&read_one))
            .await
            .unwrap();
        drop(conn);

        let first = purge(&db, now).await.unwrap();
        assert_eq!(
            first,
            Purged {
                refresh_tokens: 1,
                idempotency_keys: 0,
                bid_refs: 0,
                addresses: 0,
                notifications: 0,
            }
        );
        let mut conn = db.get().await.unwrap();
        assert!(
            refresh_tokens::find_by_hash(&mut conn, "just-expired")
                .await
                .unwrap()
                .is_some(),
            "a token expired yesterday is kept to recognise reuse"
        );
        drop(conn);
        let a_day_later = purge(&db, now + Duration::hours(25)).await.unwrap();
        assert_eq!(
            a_day_later,
            Purged {
                refresh_tokens: 0,
                idempotency_keys: 1,
                bid_refs: 0,
                addresses: 0,
                notifications: 0,
            }
        );
        let mut conn = db.get().await.unwrap();
        // The key is free again: a new request may use it.
        assert_eq!(
            idempotency::claim(&mut conn, user, "bid-1", "other")
                .await
                .unwrap(),
            idempotency::KeyState::New
        );
        // Read 90 days ago: gone; unread: kept until a year has passed.
        let quarter = purge(&db, now + Duration::days(91)).await.unwrap();
        assert_eq!(quarter.notifications, 1);
        let year = purge(&db, now + Duration::days(366)).await.unwrap();
        assert_eq!(year.notifications, 1);
    }
}
