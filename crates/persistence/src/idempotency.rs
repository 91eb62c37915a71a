//! Idempotency keys: a retried request with the same key gets the first
//! outcome instead of acting twice.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use chrono::NaiveDateTime;
use sitga_core::UserId;

use crate::schema::idempotency_keys;

/// How long an unanswered claim blocks its key.
const ABANDONED_AFTER: chrono::Duration = chrono::Duration::seconds(60);
use crate::time::{naive, now};
use crate::{DbConn, DbError, with_conn};

/// What a key already means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyState {
    /// First use: the caller now owns it and must [`complete`] it.
    New,
    /// Seen before with a different request body.
    Mismatch,
    /// Seen before; its request is still being processed.
    InProgress,
    /// Seen before and answered: replay this.
    Done {
        /// HTTP status.
        status: u16,
        /// Response body.
        body: String,
    },
}

/// Claims `key` for `user_id`'s request identified by `request_hash`.
pub async fn claim(
    conn: &mut DbConn,
    user_id: UserId,
    key: &str,
    request_hash: &str,
) -> Result<KeyState, DbError> {
    let insert = diesel::insert_into(idempotency_keys::table).values((
        idempotency_keys::user_id.eq(user_id),
        idempotency_keys::idem_key.eq(key),
        idempotency_keys::request_hash.eq(request_hash),
        idempotency_keys::created_at.eq(now()),
    ));
    match with_conn!(conn, |c| insert.execute(c).await.map_err(DbError::from)) {
        Ok(_) => return Ok(KeyState::New),
        Err(DbError::UniqueViolation { .. }) => {}
        Err(e) => return Err(e),
    }
    let (hash, status, body, claimed_at): (String, Option<i32>, Option<String>, NaiveDateTime) =
        with_conn!(conn, |c| {
            idempotency_keys::table
                .find((user_id, key))
                .select((
                    idempotency_keys::request_hash,
                    idempotency_keys::response_status,
                    idempotency_keys::response_body,
                    idempotency_keys::created_at,
                ))
                .first(c)
                .await
        })?;
    Ok(match (hash == request_hash, status, body) {
        (false, _, _) => KeyState::Mismatch,
        (true, Some(status), Some(body)) => KeyState::Done {
            status: u16::try_from(status).unwrap_or(500),
            body,
        },
        // A claim whose request died (process killed mid-request) is taken
        // over after a while instead of blocking the key forever.
        _ if now() - claimed_at > ABANDONED_AFTER => {
            let n = with_conn!(conn, |c| diesel::update(
                idempotency_keys::table
                    .find((user_id, key))
                    .filter(idempotency_keys::created_at.eq(claimed_at))
                    .filter(idempotency_keys::response_status.is_null())
            )
            .set(idempotency_keys::created_at.eq(now()))
            .execute(c)
            .await)?;
            if n == 1 {
                KeyState::New
            } else {
                KeyState::InProgress
            }
        }
        _ => KeyState::InProgress,
    })
}

/// Records the answer to a claimed key.
pub async fn complete(
    conn: &mut DbConn,
    user_id: UserId,
    key: &str,
    status: u16,
    body: &str,
) -> Result<(), DbError> {
    with_conn!(conn, |c| diesel::update(
        idempotency_keys::table.find((user_id, key))
    )
    .set((
        idempotency_keys::response_status.eq(Some(i32::from(status))),
        idempotency_keys::response_body.eq(Some(body)),
    ))
    .execute(c)
    .await)?;
    Ok(())
}

/// Forgets a claim whose request failed before deciding anything (so a
/// retry can try again).
pub async fn release(conn: &mut DbConn, user_id: UserId, key: &str) -> Result<(), DbError> {
    with_conn!(conn, |c| diesel::delete(
        idempotency_keys::table
            .find((user_id, key))
            .filter(idempotency_keys::response_status.is_null())
    )
    .execute(c)
    .await)?;
    Ok(())
}

/// Deletes keys claimed before `before` (a retry that late is a new
/// request). Returns how many were removed.
pub async fn purge_before(
    conn: &mut DbConn,
    before: chrono::DateTime<chrono::Utc>,
) -> Result<usize, DbError> {
    let cutoff = naive(before);
    let n = with_conn!(conn, |c| diesel::delete(
        idempotency_keys::table.filter(idempotency_keys::created_at.lt(cutoff))
    )
    .execute(c)
    .await)?;
    Ok(n)
}
