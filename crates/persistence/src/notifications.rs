//! Notifications: stored once per user and event, inside the transaction of
//! the event itself (so a notification commits with its cause and a
//! retried or duplicated event stores nothing twice), and the kinds each
//! user turned off.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use sitga_core::{AuctionId, PickupId, SaleId, UserId};
use sitga_user::{NotificationKind, NotificationSettings};

use crate::schema::{notification_settings, notifications};
use crate::statement::{Bind, Statement};
use crate::time::{now, utc};
use crate::{DbConn, DbError, with_conn};

/// Names one stored notification: its user and its event key.
pub type NoticeKey = (UserId, String);

/// A notification to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewNotification {
    /// Who is told.
    pub user_id: UserId,
    /// What kind of event.
    pub kind: NotificationKind,
    /// Names the event (`sitga_user::notifications::dedupe_key`): unique per
    /// user.
    pub key: String,
    /// The auction it is about.
    pub auction_id: Option<AuctionId>,
    /// The sale it is about.
    pub sale_id: Option<SaleId>,
    /// The pickup it is about.
    pub pickup_id: Option<PickupId>,
    /// Korean text (at most 500 characters).
    pub text_ko: String,
    /// English text (at most 500 characters).
    pub text_en: String,
}

/// A stored notification.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = notifications)]
pub struct Notification {
    /// Id (increasing).
    pub id: i64,
    /// Who is told.
    pub user_id: UserId,
    /// The kind's code.
    pub kind: String,
    /// Names the event.
    pub dedupe_key: String,
    /// The auction it is about.
    pub auction_id: Option<AuctionId>,
    /// The sale it is about.
    pub sale_id: Option<SaleId>,
    /// The pickup it is about.
    pub pickup_id: Option<PickupId>,
    /// Korean text.
    pub text_ko: String,
    /// English text.
    pub text_en: String,
    created_at: NaiveDateTime,
    read_at: Option<NaiveDateTime>,
}

impl Notification {
    /// When it was stored.
    pub fn created_at(&self) -> DateTime<Utc> {
        utc(self.created_at)
    }

    /// When its user read it.
    pub fn read_at(&self) -> Option<DateTime<Utc>> {
        self.read_at.map(utc)
    }
}

/// Texts are cut to what the columns hold (on a character boundary).
fn bounded(text: &str) -> String {
    text.chars().take(500).collect()
}

/// Stores `items` in one statement: one a user turned its kind off is left
/// out, one whose event is stored already is ignored. The connection
/// remembers them for live delivery after commit ([`DbConn::take_told`]).
pub async fn store(conn: &mut DbConn, items: &[NewNotification]) -> Result<(), DbError> {
    for chunk in items.chunks(ROWS_PER_STATEMENT) {
        let insert = insert_chunk(conn.is_mysql(), chunk);
        with_conn!(conn, |c| insert.execute(c).await)?;
        conn.record_told(chunk.iter().map(|n| (n.user_id, n.key.clone())));
    }
    Ok(())
}

/// [`store`] with the commit ([`DbConn`]'s writes at commit: on MySQL in
/// the commit's round trip); the transaction runs nothing after it but
/// other writes at commit.
///
/// One statement per notification: they cost no round trip there, and a
/// row checked against its settings without a derived table costs MariaDB
/// about a quarter less.
pub fn store_at_commit(conn: &mut DbConn, items: &[NewNotification]) -> Result<(), DbError> {
    let mysql = conn.is_mysql();
    for item in items {
        conn.write_at_commit([insert_one(mysql, item)])?;
        conn.record_told([(item.user_id, item.key.clone())]);
    }
    Ok(())
}

/// One INSERT of `item` unless its user turned its kind off, ignored when
/// stored already.
fn insert_one(mysql: bool, item: &NewNotification) -> Statement {
    let mut binds = row_binds(item, now());
    binds.extend([
        Bind::Int(item.user_id.get()),
        Bind::Text(item.kind.code().to_owned()),
    ]);
    let (from, on_duplicate) = if mysql {
        (" FROM DUAL", ON_DUPLICATE_MYSQL)
    } else {
        ("", ON_DUPLICATE_SQLITE)
    };
    Statement::new(
        format!(
            "INSERT INTO notifications ({COLUMNS}) SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?{from} \
             WHERE NOT EXISTS (SELECT 1 FROM notification_settings s \
             WHERE s.user_id = ? AND s.kind = ? AND s.enabled = 0) {on_duplicate}"
        ),
        binds,
    )
}

const COLUMNS: &str =
    "user_id, kind, dedupe_key, auction_id, sale_id, pickup_id, text_ko, text_en, created_at";
const ON_DUPLICATE_MYSQL: &str = "ON DUPLICATE KEY UPDATE notifications.id = notifications.id";
const ON_DUPLICATE_SQLITE: &str = "ON CONFLICT (user_id, dedupe_key) DO NOTHING";

/// The values of `item`'s row, in [`COLUMNS`] order.
fn row_binds(item: &NewNotification, at: chrono::NaiveDateTime) -> Vec<Bind> {
    vec![
        Bind::Int(item.user_id.get()),
        Bind::Text(item.kind.code().to_owned()),
        Bind::Text(item.key.clone()),
        Bind::OptInt(item.auction_id.map(AuctionId::get)),
        Bind::OptInt(item.sale_id.map(SaleId::get)),
        Bind::OptInt(item.pickup_id.map(PickupId::get)),
        Bind::Text(bounded(&item.text_ko)),
        Bind::Text(bounded(&item.text_en)),
        Bind::Time(at),
    ]
}

/// Rows one statement stores: each is a `SELECT` of a `UNION ALL`, which
/// SQLite caps at 500 terms (and MySQL at 65,535 bound values: 9 a row).
const ROWS_PER_STATEMENT: usize = 400;

/// One INSERT of `items` (at least one), leaving out each a user turned
/// off and ignoring each stored already.
fn insert_chunk(mysql: bool, items: &[NewNotification]) -> Statement {
    let at = now();
    let binds: Vec<Bind> = items.iter().flat_map(|item| row_binds(item, at)).collect();
    let first = "SELECT ? AS user_id, ? AS kind, ? AS dedupe_key, ? AS auction_id, \
                 ? AS sale_id, ? AS pickup_id, ? AS text_ko, ? AS text_en, ? AS created_at";
    let rest = " UNION ALL SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?".repeat(items.len() - 1);
    let on_duplicate = if mysql {
        ON_DUPLICATE_MYSQL
    } else {
        ON_DUPLICATE_SQLITE
    };
    Statement::new(
        format!(
            "INSERT INTO notifications ({COLUMNS}) \
             SELECT v.user_id, v.kind, v.dedupe_key, v.auction_id, v.sale_id, v.pickup_id, \
             v.text_ko, v.text_en, v.created_at FROM ({first}{rest}) AS v \
             WHERE NOT EXISTS (SELECT 1 FROM notification_settings s \
             WHERE s.user_id = v.user_id AND s.kind = v.kind AND s.enabled = 0) {on_duplicate}"
        ),
        binds,
    )
}

/// The stored notifications of these events (those a user had turned off
/// are not there).
pub async fn of_events(
    conn: &mut DbConn,
    events: &[NoticeKey],
) -> Result<Vec<Notification>, DbError> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let users: Vec<UserId> = events.iter().map(|(u, _)| *u).collect();
    let keys: Vec<&str> = events.iter().map(|(_, k)| k.as_str()).collect();
    let rows: Vec<Notification> = with_conn!(conn, |c| notifications::table
        .filter(notifications::user_id.eq_any(&users))
        .filter(notifications::dedupe_key.eq_any(&keys))
        .order(notifications::id.asc())
        .select(Notification::as_select())
        .load(c)
        .await)?;
    Ok(rows
        .into_iter()
        .filter(|n| {
            events
                .iter()
                .any(|(u, k)| *u == n.user_id && *k == n.dedupe_key)
        })
        .collect())
}

/// A page of `user`'s notifications, newest first, and how many there are
/// (of those asked for: all, or the unread).
pub async fn page(
    conn: &mut DbConn,
    user: UserId,
    unread_only: bool,
    offset: i64,
    limit: i64,
) -> Result<(Vec<Notification>, i64), DbError> {
    use diesel::sql_types::Bool;
    // `read_at IS NULL OR <all asked>`: one statement for both pages.
    let shown = notifications::read_at
        .is_null()
        .or((!unread_only).into_sql::<Bool>());
    let rows = with_conn!(conn, |c| notifications::table
        .filter(notifications::user_id.eq(user))
        .filter(shown)
        .order(notifications::id.desc())
        .offset(offset)
        .limit(limit)
        .select(Notification::as_select())
        .load(c)
        .await)?;
    let total = if unread_only {
        unread_count(conn, user).await?
    } else {
        with_conn!(conn, |c| notifications::table
            .filter(notifications::user_id.eq(user))
            .count()
            .get_result(c)
            .await)?
    };
    Ok((rows, total))
}

/// How many of `user`'s notifications are unread.
pub async fn unread_count(conn: &mut DbConn, user: UserId) -> Result<i64, DbError> {
    Ok(with_conn!(conn, |c| notifications::table
        .filter(notifications::user_id.eq(user))
        .filter(notifications::read_at.is_null())
        .count()
        .get_result(c)
        .await)?)
}

/// Marks `user`'s notifications `ids` read (`None`: all of them); ids of
/// other users' notifications are ignored. Returns how many changed.
pub async fn mark_read(
    conn: &mut DbConn,
    user: UserId,
    ids: Option<&[i64]>,
) -> Result<usize, DbError> {
    let at = now();
    let changed = match ids {
        Some([]) => 0,
        Some(ids) => with_conn!(conn, |c| diesel::update(
            notifications::table
                .filter(notifications::user_id.eq(user))
                .filter(notifications::id.eq_any(ids))
                .filter(notifications::read_at.is_null())
        )
        .set(notifications::read_at.eq(at))
        .execute(c)
        .await)?,
        None => with_conn!(conn, |c| diesel::update(
            notifications::table
                .filter(notifications::user_id.eq(user))
                .filter(notifications::read_at.is_null())
        )
        .set(notifications::read_at.eq(at))
        .execute(c)
        .await)?,
    };
    Ok(changed)
}

/// `user`'s settings.
pub async fn settings(conn: &mut DbConn, user: UserId) -> Result<NotificationSettings, DbError> {
    let off: Vec<String> = with_conn!(conn, |c| notification_settings::table
        .filter(notification_settings::user_id.eq(user))
        .filter(notification_settings::enabled.eq(0))
        .select(notification_settings::kind)
        .load(c)
        .await)?;
    Ok(NotificationSettings::with_off(
        off.iter().filter_map(|code| NotificationKind::parse(code)),
    ))
}

/// Turns kinds on or off for `user`.
pub async fn change_settings(
    conn: &mut DbConn,
    user: UserId,
    changes: &[(NotificationKind, bool)],
) -> Result<(), DbError> {
    for (kind, on) in changes {
        let delete = diesel::delete(
            notification_settings::table
                .filter(notification_settings::user_id.eq(user))
                .filter(notification_settings::kind.eq(kind.code())),
        );
        with_conn!(conn, |c| delete.execute(c).await)?;
        if !on {
            let insert = diesel::insert_into(notification_settings::table).values((
                notification_settings::user_id.eq(user),
                notification_settings::kind.eq(kind.code()),
                notification_settings::enabled.eq(0_i16),
            ));
            with_conn!(conn, |c| insert.execute(c).await)?;
        }
    }
    Ok(())
}

/// Deletes notifications read before `read_before` and any created before
/// `any_before`; returns how many.
pub async fn purge(
    conn: &mut DbConn,
    read_before: DateTime<Utc>,
    any_before: DateTime<Utc>,
) -> Result<usize, DbError> {
    let (read_before, any_before) = (
        crate::time::naive(read_before),
        crate::time::naive(any_before),
    );
    Ok(with_conn!(conn, |c| diesel::delete(
        notifications::table.filter(
            notifications::read_at
                .le(read_before)
                .or(notifications::created_at.le(any_before))
        )
    )
    .execute(c)
    .await)?)
}
