//! Refresh tokens, stored only as SHA-256 hashes and grouped in families
//! (one family per login; each refresh adds a token to it).

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use sitga_user::token::RefreshTokenState;

use sitga_core::UserId;

use crate::schema::refresh_tokens;

use crate::time::{naive, now, utc};
use crate::{DbConn, DbError, with_conn};

/// A stored refresh token.
#[derive(Debug, Clone)]
pub struct RefreshToken {
    /// Primary key.
    pub id: i64,
    /// Owner.
    pub user_id: UserId,
    /// The login session this token belongs to.
    pub family_id: String,
    /// Rotation and revocation state.
    pub state: RefreshTokenState,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = refresh_tokens)]
struct Row {
    id: i64,
    user_id: UserId,
    family_id: String,
    expires_at: NaiveDateTime,
    rotated_at: Option<NaiveDateTime>,
    revoked_at: Option<NaiveDateTime>,
}

impl From<Row> for RefreshToken {
    fn from(row: Row) -> Self {
        Self {
            id: row.id,
            user_id: row.user_id,
            family_id: row.family_id,
            state: RefreshTokenState {
                expires_at: utc(row.expires_at),
                rotated_at: row.rotated_at.map(utc),
                revoked_at: row.revoked_at.map(utc),
            },
        }
    }
}

/// Stores a new token hash in `family_id`.
pub async fn insert(
    conn: &mut DbConn,
    user_id: UserId,
    family_id: &str,
    token_hash: &str,
    expires_at: DateTime<Utc>,
) -> Result<(), DbError> {
    let insert = diesel::insert_into(refresh_tokens::table).values((
        refresh_tokens::user_id.eq(user_id),
        refresh_tokens::family_id.eq(family_id),
        refresh_tokens::token_hash.eq(token_hash),
        refresh_tokens::created_at.eq(now()),
        refresh_tokens::expires_at.eq(naive(expires_at)),
    ));
    with_conn!(conn, |c| insert.execute(c).await)?;
    Ok(())
}

/// Finds a token by the hash of the presented secret.
pub async fn find_by_hash(
    conn: &mut DbConn,
    token_hash: &str,
) -> Result<Option<RefreshToken>, DbError> {
    let row: Option<Row> = with_conn!(conn, |c| refresh_tokens::table
        .filter(refresh_tokens::token_hash.eq(token_hash))
        .select(Row::as_select())
        .first(c)
        .await
        .optional())?;
    Ok(row.map(RefreshToken::from))
}

/// Retires a token because it was exchanged. Guarded: only a token that is
/// neither rotated nor revoked changes, so of two concurrent refreshes with
/// one token exactly one wins (`true`); the other sees `false` and must
/// treat it as reuse.
pub async fn mark_rotated(conn: &mut DbConn, id: i64) -> Result<bool, DbError> {
    let n = with_conn!(conn, |c| diesel::update(
        refresh_tokens::table
            .find(id)
            .filter(refresh_tokens::rotated_at.is_null())
            .filter(refresh_tokens::revoked_at.is_null())
    )
    .set(refresh_tokens::rotated_at.eq(now()))
    .execute(c)
    .await)?;
    Ok(n == 1)
}

/// Revokes every token of a family (logout, detected reuse). Returns how
/// many tokens were still unrevoked.
pub async fn revoke_family(conn: &mut DbConn, family_id: &str) -> Result<usize, DbError> {
    let n = with_conn!(conn, |c| diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::family_id.eq(family_id))
            .filter(refresh_tokens::revoked_at.is_null())
    )
    .set(refresh_tokens::revoked_at.eq(now()))
    .execute(c)
    .await)?;
    Ok(n)
}

/// Revokes every session of a user except `keep_family` (the caller's own,
/// after a password change).
pub async fn revoke_user_sessions(
    conn: &mut DbConn,
    user_id: UserId,
    keep_family: Option<&str>,
) -> Result<usize, DbError> {
    let keep = keep_family.unwrap_or("");
    let n = with_conn!(conn, |c| diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::user_id.eq(user_id))
            .filter(refresh_tokens::family_id.ne(keep))
            .filter(refresh_tokens::revoked_at.is_null())
    )
    .set(refresh_tokens::revoked_at.eq(now()))
    .execute(c)
    .await)?;
    Ok(n)
}

/// Deletes tokens that expired before `before` (callers pass a point well in
/// the past, so a recently expired copy can still be recognised as reuse).
/// Returns how many were removed.
pub async fn purge_expired(conn: &mut DbConn, before: DateTime<Utc>) -> Result<usize, DbError> {
    let cutoff = naive(before);
    let n = with_conn!(conn, |c| diesel::delete(
        refresh_tokens::table.filter(refresh_tokens::expires_at.lt(cutoff))
    )
    .execute(c)
    .await)?;
    Ok(n)
}

/// Whether login session `family_id` of `user_id` is still alive: one of
/// its refresh tokens is neither revoked nor expired. Logout, a reused
/// token, a password change or an operator revoke a session by revoking
/// its tokens.
pub async fn session_alive(
    conn: &mut DbConn,
    user_id: UserId,
    family_id: &str,
) -> Result<bool, DbError> {
    let at = now();
    let n: i64 = with_conn!(conn, |c| refresh_tokens::table
        .filter(refresh_tokens::family_id.eq(family_id))
        .filter(refresh_tokens::user_id.eq(user_id))
        .filter(refresh_tokens::revoked_at.is_null())
        .filter(refresh_tokens::expires_at.gt(at))
        .count()
        .get_result(c)
        .await)?;
    Ok(n > 0)
}
