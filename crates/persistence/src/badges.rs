//! The badge catalogue (seeded by migration) and awards.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use sitga_badge::BadgeCode;

use sitga_core::UserId;

use crate::schema::{badges, user_badges};
use crate::time::{now, utc};
use crate::{DbConn, DbError, with_conn};

/// A catalogue row.
#[derive(Debug, Clone, Queryable, Selectable, PartialEq, Eq)]
#[diesel(table_name = badges)]
pub struct BadgeRow {
    /// Code.
    pub code: String,
    /// Korean name.
    pub name_ko: String,
    /// English name.
    pub name_en: String,
    /// How to earn it (Korean).
    pub how_ko: String,
    /// How to earn it (English).
    pub how_en: String,
    /// Rarity.
    pub rarity: String,
    /// Image path.
    pub image: String,
    /// Display order.
    pub sort_order: i32,
}

/// The catalogue, in display order.
pub async fn catalogue(conn: &mut DbConn) -> Result<Vec<BadgeRow>, DbError> {
    Ok(with_conn!(conn, |c| badges::table
        .order(badges::sort_order.asc())
        .select(BadgeRow::as_select())
        .load(c)
        .await)?)
}

/// Awards a badge; `true` if it is new (awarding twice is a no-op).
pub async fn award(conn: &mut DbConn, user_id: UserId, code: BadgeCode) -> Result<bool, DbError> {
    let insert = diesel::insert_or_ignore_into(user_badges::table).values((
        user_badges::user_id.eq(user_id),
        user_badges::badge_code.eq(code.code()),
        user_badges::awarded_at.eq(now()),
    ));
    let n = with_conn!(conn, |c| insert.execute(c).await)?;
    Ok(n == 1)
}

/// A user's badges with their award time, newest first.
pub async fn of_user(
    conn: &mut DbConn,
    user_id: UserId,
) -> Result<Vec<(BadgeRow, DateTime<Utc>)>, DbError> {
    let rows: Vec<(BadgeRow, NaiveDateTime)> = with_conn!(conn, |c| user_badges::table
        .inner_join(badges::table.on(badges::code.eq(user_badges::badge_code)))
        .filter(user_badges::user_id.eq(user_id))
        .order(user_badges::awarded_at.desc())
        .select((BadgeRow::as_select(), user_badges::awarded_at))
        .load(c)
        .await)?;
    Ok(rows.into_iter().map(|(b, at)| (b, utc(at))).collect())
}

/// How many users hold each badge.
pub async fn counts(conn: &mut DbConn) -> Result<Vec<(String, i64)>, DbError> {
    Ok(with_conn!(conn, |c| user_badges::table
        .group_by(user_badges::badge_code)
        .select((user_badges::badge_code, diesel::dsl::count_star()))
        .load(c)
        .await)?)
}
