//! Coffee-grounds pickups and the supply/demand figures built from them.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use sitga_coffee_grounds::{Grams, Moved, PickupKind, PickupSnapshot, PickupStatus, Sides, sides};

use sitga_core::{PickupId, UserId};

use crate::schema::{pickups, users};
use crate::time::{naive, now, utc};
use crate::{DbConn, DbError, with_conn};

/// One page of the pickups a local `filtered!()` macro selects, in `order`,
/// and how many it selects in all (a macro: each backend needs its own
/// query value).
macro_rules! page {
    ($conn:expr, $filtered:ident, $order:expr, $offset:expr, $limit:expr) => {{
        let rows = with_conn!($conn, |c| $filtered!()
            .order($order)
            .offset($offset)
            .limit($limit)
            .select(Pickup::as_select())
            .load(c)
            .await)?;
        let total: i64 = with_conn!($conn, |c| $filtered!().count().get_result(c).await)?;
        Ok((rows, total))
    }};
}

/// A stored pickup.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = pickups)]
pub struct Pickup {
    /// Id.
    pub id: PickupId,
    /// Who posted it.
    pub owner_id: UserId,
    kind: String,
    /// Amount posted (grams).
    pub grams: i64,
    /// Amount weighed at completion (grams).
    pub measured_grams: Option<i64>,
    status: String,
    /// The owner's province when posted.
    pub province: Option<String>,
    /// Who claimed it.
    pub collector_id: Option<UserId>,
    /// Bumped by every move.
    pub version: i64,
    created_at: NaiveDateTime,
    claimed_at: Option<NaiveDateTime>,
    completed_at: Option<NaiveDateTime>,
    cancelled_at: Option<NaiveDateTime>,
    weight_confirmed_at: Option<NaiveDateTime>,
    counted_at: Option<NaiveDateTime>,
}

impl Pickup {
    /// Supply or demand.
    pub fn kind(&self) -> PickupKind {
        PickupKind::parse(&self.kind).unwrap_or(PickupKind::Supply)
    }

    /// Status.
    pub fn status(&self) -> PickupStatus {
        PickupStatus::parse(&self.status).unwrap_or(PickupStatus::Cancelled)
    }

    /// The rules' view.
    pub fn snapshot(&self) -> PickupSnapshot {
        PickupSnapshot {
            kind: self.kind(),
            status: self.status(),
            owner_id: self.owner_id,
            collector_id: self.collector_id,
        }
    }

    /// Posted at.
    pub fn created_at(&self) -> DateTime<Utc> {
        utc(self.created_at)
    }

    /// Claimed at.
    pub fn claimed_at(&self) -> Option<DateTime<Utc>> {
        self.claimed_at.map(utc)
    }

    /// Completed at.
    pub fn completed_at(&self) -> Option<DateTime<Utc>> {
        self.completed_at.map(utc)
    }

    /// Cancelled at.
    pub fn cancelled_at(&self) -> Option<DateTime<Utc>> {
        self.cancelled_at.map(utc)
    }

    /// When the cafe confirmed a surprising measured weight.
    pub fn weight_confirmed_at(&self) -> Option<DateTime<Utc>> {
        self.weight_confirmed_at.map(utc)
    }

    /// When it began to count (rankings, figures, badges, chain).
    pub fn counted_at(&self) -> Option<DateTime<Utc>> {
        self.counted_at.map(utc)
    }

    /// Its cafe and its recycler.
    pub fn sides(&self) -> Sides {
        sides(&self.snapshot())
    }

    /// Posted amount.
    pub fn posted(&self) -> Grams {
        Grams::from_stored(self.grams)
    }

    /// Measured amount.
    pub fn measured(&self) -> Option<Grams> {
        self.measured_grams.map(Grams::from_stored)
    }
}

/// Marks a completed pickup as counting from now. `false`: it counted
/// already (someone else got there first), so its effects (chain record,
/// badges) must not be repeated.
pub async fn mark_counted(conn: &mut DbConn, id: PickupId) -> Result<bool, DbError> {
    let update = diesel::update(
        pickups::table
            .find(id)
            .filter(pickups::status.eq(PickupStatus::Completed.code()))
            .filter(pickups::counted_at.is_null()),
    )
    .set(pickups::counted_at.eq(Some(now())));
    Ok(with_conn!(conn, |c| update.execute(c).await)? == 1)
}

/// Records the cafe's confirmation of the measured weight (once).
pub async fn confirm_weight(conn: &mut DbConn, id: PickupId) -> Result<bool, DbError> {
    let update = diesel::update(
        pickups::table
            .find(id)
            .filter(pickups::weight_confirmed_at.is_null()),
    )
    .set((
        pickups::weight_confirmed_at.eq(Some(now())),
        pickups::version.eq(pickups::version + 1),
    ));
    Ok(with_conn!(conn, |c| update.execute(c).await)? == 1)
}

/// Completed pickups of `user` (either side) that do not count yet.
pub async fn uncounted_of(conn: &mut DbConn, user: UserId) -> Result<Vec<Pickup>, DbError> {
    Ok(with_conn!(conn, |c| pickups::table
        .filter(
            pickups::owner_id
                .eq(user)
                .or(pickups::collector_id.eq(user))
        )
        .filter(pickups::status.eq(PickupStatus::Completed.code()))
        .filter(pickups::counted_at.is_null())
        .order(pickups::id.asc())
        .select(Pickup::as_select())
        .load(c)
        .await)?)
}

/// Every completed pickup that does not count yet (the catch-up job).
pub async fn uncounted(conn: &mut DbConn, limit: i64) -> Result<Vec<Pickup>, DbError> {
    Ok(with_conn!(conn, |c| pickups::table
        .filter(pickups::status.eq(PickupStatus::Completed.code()))
        .filter(pickups::counted_at.is_null())
        .order(pickups::id.asc())
        .limit(limit)
        .select(Pickup::as_select())
        .load(c)
        .await)?)
}

/// Posts a pickup.
pub async fn insert(
    conn: &mut DbConn,
    owner_id: UserId,
    kind: PickupKind,
    grams: Grams,
    province: Option<&str>,
) -> Result<Pickup, DbError> {
    let insert = diesel::insert_into(pickups::table).values((
        pickups::owner_id.eq(owner_id),
        pickups::kind.eq(kind.code()),
        pickups::grams.eq(grams.get()),
        pickups::status.eq(PickupStatus::Waiting.code()),
        pickups::province.eq(province),
        pickups::created_at.eq(now()),
    ));
    with_conn!(conn, |c| insert.execute(c).await)?;
    let id = PickupId::new(crate::auctions::last_insert_id(conn).await?);
    find(conn, id).await?.ok_or(DbError::NotFound)
}

/// Looks a pickup up.
pub async fn find(conn: &mut DbConn, id: PickupId) -> Result<Option<Pickup>, DbError> {
    Ok(with_conn!(conn, |c| pickups::table
        .find(id)
        .select(Pickup::as_select())
        .first(c)
        .await
        .optional())?)
}

/// Applies a decided move if the pickup is still at `expected_version`
/// (`false`: someone else moved it first).
pub async fn apply_move(
    conn: &mut DbConn,
    id: PickupId,
    expected_version: i64,
    moved: Moved,
    measured: Option<Grams>,
) -> Result<bool, DbError> {
    let at = now();
    let (claimed, completed, cancelled) = match moved.status {
        PickupStatus::OnWay => (Some(at), None, None),
        PickupStatus::Completed => (None, Some(at), None),
        PickupStatus::Cancelled => (None, None, Some(at)),
        PickupStatus::Waiting => (None, None, None),
    };
    let n = with_conn!(conn, |c| {
        let target = pickups::table
            .find(id)
            .filter(pickups::version.eq(expected_version));
        let base = diesel::update(target).set((
            pickups::status.eq(moved.status.code()),
            pickups::collector_id.eq(moved.collector_id),
            pickups::version.eq(pickups::version + 1),
        ));
        let n = base.execute(c).await?;
        if n == 1 {
            if let Some(at) = claimed {
                diesel::update(pickups::table.find(id))
                    .set(pickups::claimed_at.eq(Some(at)))
                    .execute(c)
                    .await?;
            }
            if let Some(at) = completed {
                diesel::update(pickups::table.find(id))
                    .set((
                        pickups::completed_at.eq(Some(at)),
                        pickups::measured_grams.eq(measured.map(Grams::get)),
                    ))
                    .execute(c)
                    .await?;
            }
            if let Some(at) = cancelled {
                diesel::update(pickups::table.find(id))
                    .set(pickups::cancelled_at.eq(Some(at)))
                    .execute(c)
                    .await?;
            }
        }
        Ok::<usize, diesel::result::Error>(n)
    })?;
    Ok(n == 1)
}

/// Pickups a user posted or collected, newest first.
pub async fn of_user(
    conn: &mut DbConn,
    user_id: UserId,
    offset: i64,
    limit: i64,
) -> Result<(Vec<Pickup>, i64), DbError> {
    macro_rules! filtered {
        () => {
            pickups::table.filter(
                pickups::owner_id
                    .eq(user_id)
                    .or(pickups::collector_id.eq(user_id)),
            )
        };
    }
    page!(conn, filtered, pickups::id.desc(), offset, limit)
}

/// Completed pickups `cafe` gave (its offers and the requests it filled),
/// newest first: its donations.
pub async fn donations_of(
    conn: &mut DbConn,
    cafe: UserId,
    offset: i64,
    limit: i64,
) -> Result<(Vec<Pickup>, i64), DbError> {
    macro_rules! filtered {
        () => {
            pickups::table
                .filter(pickups::status.eq(PickupStatus::Completed.code()))
                .filter(
                    pickups::kind
                        .eq(PickupKind::Supply.code())
                        .and(pickups::owner_id.eq(cafe))
                        .or(pickups::kind
                            .eq(PickupKind::Demand.code())
                            .and(pickups::collector_id.eq(cafe))),
                )
        };
    }
    page!(conn, filtered, pickups::id.desc(), offset, limit)
}

/// Waiting pickups of one kind, oldest first, optionally in one province.
pub async fn open(
    conn: &mut DbConn,
    kind: PickupKind,
    province: Option<&str>,
    offset: i64,
    limit: i64,
) -> Result<(Vec<Pickup>, i64), DbError> {
    macro_rules! filtered {
        () => {{
            let mut q = pickups::table
                .filter(pickups::status.eq(PickupStatus::Waiting.code()))
                .filter(pickups::kind.eq(kind.code()))
                .into_boxed();
            if let Some(p) = province {
                q = q.filter(pickups::province.eq(p));
            }
            q
        }};
    }
    page!(conn, filtered, pickups::id.asc(), offset, limit)
}

/// Grams a user posted (not cancelled) and completed (on either side; the
/// measured weight; counting pickups only) within `[from, to)`.
pub async fn summary(
    conn: &mut DbConn,
    user_id: UserId,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<(i64, i64, i64), DbError> {
    let (from, to) = (naive(from), naive(to));
    let posted: Vec<i64> = with_conn!(conn, |c| pickups::table
        .filter(pickups::owner_id.eq(user_id))
        .filter(pickups::status.ne(PickupStatus::Cancelled.code()))
        .filter(pickups::created_at.ge(from))
        .filter(pickups::created_at.lt(to))
        .select(pickups::grams)
        .load(c)
        .await)?;
    let completed: Vec<(i64, Option<i64>)> = with_conn!(conn, |c| pickups::table
        .filter(
            pickups::owner_id
                .eq(user_id)
                .or(pickups::collector_id.eq(user_id))
        )
        .filter(pickups::status.eq(PickupStatus::Completed.code()))
        .filter(pickups::counted_at.is_not_null())
        .filter(pickups::completed_at.ge(from))
        .filter(pickups::completed_at.lt(to))
        .select((pickups::grams, pickups::measured_grams))
        .load(c)
        .await)?;
    let completed_grams = completed.iter().map(|(g, m)| m.unwrap_or(*g)).sum();
    Ok((posted.iter().sum(), completed_grams, completed.len() as i64))
}

/// Who ranks: cafes by grams given, recyclers by grams received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RankingSide {
    /// The cafes of counting pickups.
    Cafes,
    /// The recyclers of counting pickups.
    Recyclers,
}

/// `(nickname, grams)`, most first, over counting pickups completed in
/// `[from, to)` (all time when `None`), offers and requests alike.
pub async fn rankings(
    conn: &mut DbConn,
    side: RankingSide,
    window: Option<(DateTime<Utc>, DateTime<Utc>)>,
    limit: i64,
) -> Result<Vec<(String, i64)>, DbError> {
    let window = window.map(|(from, to)| (naive(from), naive(to)));
    let rows: Vec<Pickup> = with_conn!(conn, |c| {
        let mut q = pickups::table
            .filter(pickups::status.eq(PickupStatus::Completed.code()))
            .filter(pickups::counted_at.is_not_null())
            .into_boxed();
        if let Some((from, to)) = window {
            q = q
                .filter(pickups::completed_at.ge(from))
                .filter(pickups::completed_at.lt(to));
        }
        q.select(Pickup::as_select()).load(c).await
    })?;
    let mut totals: std::collections::HashMap<UserId, i64> = std::collections::HashMap::new();
    for p in rows {
        let sides = p.sides();
        let who = match side {
            RankingSide::Cafes => sides.cafe,
            RankingSide::Recyclers => sides.recycler,
        };
        if let Some(who) = who {
            *totals.entry(who).or_default() += p.measured_grams.unwrap_or(p.grams);
        }
    }
    let ids: Vec<UserId> = totals.keys().copied().collect();
    let names: Vec<(UserId, String)> = with_conn!(conn, |c| users::table
        .filter(users::id.eq_any(&ids))
        .select((users::id, users::nickname))
        .load(c)
        .await)?;
    let mut ranked: Vec<(String, i64)> = names
        .into_iter()
        .map(|(id, nick)| (nick, totals.get(&id).copied().unwrap_or(0)))
        .collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    ranked.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    Ok(ranked)
}

/// grams, measured grams, completed at, province.
type CompletedRow = (i64, Option<i64>, Option<NaiveDateTime>, Option<String>);

/// Counting pickups a user gave or received: `(grams, completed_at,
/// province)`, for badge rules.
pub async fn completed_by(
    conn: &mut DbConn,
    user_id: UserId,
) -> Result<Vec<(i64, DateTime<Utc>, Option<String>)>, DbError> {
    let rows: Vec<CompletedRow> = with_conn!(conn, |c| pickups::table
        .filter(
            pickups::owner_id
                .eq(user_id)
                .or(pickups::collector_id.eq(user_id))
        )
        .filter(pickups::status.eq(PickupStatus::Completed.code()))
        .filter(pickups::counted_at.is_not_null())
        .select((
            pickups::grams,
            pickups::measured_grams,
            pickups::completed_at,
            pickups::province
        ))
        .load(c)
        .await)?;
    Ok(rows
        .into_iter()
        .filter_map(|(g, m, at, p)| Some((m.unwrap_or(g), utc(at?), p)))
        .collect())
}

/// Pickups `recycler` completed since `since` (as the receiving side: the
/// claimer of an offer or the poster of a request), counted or not.
pub async fn completed_by_recycler_since(
    conn: &mut DbConn,
    recycler: UserId,
    since: DateTime<Utc>,
) -> Result<i64, DbError> {
    let since = crate::time::naive(since);
    let n: i64 = with_conn!(conn, |c| pickups::table
        .filter(
            pickups::kind
                .eq(PickupKind::Supply.code())
                .and(pickups::collector_id.eq(recycler))
                .or(pickups::kind
                    .eq(PickupKind::Demand.code())
                    .and(pickups::owner_id.eq(recycler)))
        )
        .filter(pickups::status.eq(PickupStatus::Completed.code()))
        .filter(pickups::completed_at.ge(since))
        .count()
        .get_result(c)
        .await)?;
    Ok(n)
}

/// Counting pickups in `province` completed within `[from, to)`.
pub async fn completed_in_province(
    conn: &mut DbConn,
    province: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<i64, DbError> {
    let (from, to) = (naive(from), naive(to));
    Ok(with_conn!(conn, |c| pickups::table
        .filter(pickups::status.eq(PickupStatus::Completed.code()))
        .filter(pickups::counted_at.is_not_null())
        .filter(pickups::province.eq(province))
        .filter(pickups::completed_at.ge(from))
        .filter(pickups::completed_at.lt(to))
        .count()
        .get_result(c)
        .await)?)
}

/// One non-cancelled pickup posted in a window: when, what, where, grams.
pub type PostedAmount = (DateTime<Utc>, PickupKind, Option<String>, Grams);

/// Every non-cancelled pickup posted in `[from, to)` (cancelled offers were
/// never real supply or demand).
pub async fn posted_amounts(
    conn: &mut DbConn,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<PostedAmount>, DbError> {
    let (from, to) = (naive(from), naive(to));
    let rows: Vec<(NaiveDateTime, String, Option<String>, i64)> =
        with_conn!(conn, |c| pickups::table
            .filter(pickups::status.ne(PickupStatus::Cancelled.code()))
            .filter(pickups::created_at.ge(from))
            .filter(pickups::created_at.lt(to))
            .select((
                pickups::created_at,
                pickups::kind,
                pickups::province,
                pickups::grams
            ))
            .load(c)
            .await)?;
    Ok(rows
        .into_iter()
        .map(|(at, kind, province, grams)| {
            (
                utc(at),
                PickupKind::parse(&kind).unwrap_or(PickupKind::Supply),
                province,
                Grams::from_stored(grams),
            )
        })
        .collect())
}

/// The day of the first non-cancelled pickup of `kind` (in `province`, or
/// anywhere), if any: where a series' history begins.
pub async fn first_posted(
    conn: &mut DbConn,
    kind: PickupKind,
    province: Option<&str>,
) -> Result<Option<DateTime<Utc>>, DbError> {
    let base = pickups::table
        .filter(pickups::status.ne(PickupStatus::Cancelled.code()))
        .filter(pickups::kind.eq(kind.code()))
        .select(diesel::dsl::min(pickups::created_at));
    // Boxed queries are bound to one backend, so each case is spelled out.
    let first: Option<NaiveDateTime> = match province {
        Some(p) => {
            let query = base.filter(pickups::province.eq(p));
            with_conn!(conn, |c| query.first(c).await)?
        }
        None => with_conn!(conn, |c| base.first(c).await)?,
    };
    Ok(first.map(utc))
}

/// Posted grams (not cancelled) per `(province, kind)` within `[from, to)`.
pub async fn amounts_by_province(
    conn: &mut DbConn,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<(Option<String>, PickupKind, i64)>, DbError> {
    let mut totals: std::collections::BTreeMap<(Option<String>, &'static str), i64> =
        std::collections::BTreeMap::new();
    for (_, kind, province, grams) in posted_amounts(conn, from, to).await? {
        *totals.entry((province, kind.code())).or_default() += grams.get();
    }
    Ok(totals
        .into_iter()
        .map(|((p, k), g)| (p, PickupKind::parse(k).unwrap_or(PickupKind::Supply), g))
        .collect())
}

/// Counting grams completed per province within `[from, to)` (the weight
/// measured).
pub async fn completed_by_province(
    conn: &mut DbConn,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<(Option<String>, i64)>, DbError> {
    let (from, to) = (naive(from), naive(to));
    let rows: Vec<(Option<String>, i64, Option<i64>)> = with_conn!(conn, |c| pickups::table
        .filter(pickups::status.eq(PickupStatus::Completed.code()))
        .filter(pickups::counted_at.is_not_null())
        .filter(pickups::completed_at.ge(from))
        .filter(pickups::completed_at.lt(to))
        .select((pickups::province, pickups::grams, pickups::measured_grams))
        .load(c)
        .await)?;
    let mut totals: std::collections::BTreeMap<Option<String>, i64> = Default::default();
    for (province, grams, measured) in rows {
        *totals.entry(province).or_default() += measured.unwrap_or(grams);
    }
    Ok(totals.into_iter().collect())
}

/// Every pickup, newest first, filtered by province, status and the
/// window it was posted in (operators).
pub async fn list_all(
    conn: &mut DbConn,
    province: Option<&str>,
    status: Option<PickupStatus>,
    posted: Option<(DateTime<Utc>, DateTime<Utc>)>,
    offset: i64,
    limit: i64,
) -> Result<(Vec<Pickup>, i64), DbError> {
    let posted = posted.map(|(from, to)| (naive(from), naive(to)));
    macro_rules! filtered {
        () => {{
            let mut q = pickups::table.into_boxed();
            if let Some((from, to)) = posted {
                q = q
                    .filter(pickups::created_at.ge(from))
                    .filter(pickups::created_at.lt(to));
            }
            if let Some(p) = province {
                q = q.filter(pickups::province.eq(p));
            }
            if let Some(s) = status {
                q = q.filter(pickups::status.eq(s.code()));
            }
            q
        }};
    }
    page!(conn, filtered, pickups::id.desc(), offset, limit)
}

/// Where a pickup with a lived history (demo data) stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum History {
    /// Nobody took it yet.
    Waiting,
    /// Taken by `claimer` at `at`.
    OnWay {
        /// The other side (a recycler for an offer, a cafe for a request).
        claimer: UserId,
        /// When.
        at: DateTime<Utc>,
    },
    /// Taken by `claimer` and completed at `at` with the posted weight,
    /// counting from then when `counted`.
    Completed {
        /// The other side.
        claimer: UserId,
        /// When.
        at: DateTime<Utc>,
        /// Whether it counts.
        counted: bool,
    },
}

/// Posts a pickup with its history already lived (demo data), created at
/// `created_at`.
pub async fn insert_historical(
    conn: &mut DbConn,
    owner_id: UserId,
    kind: PickupKind,
    grams: Grams,
    province: Option<&str>,
    created_at: DateTime<Utc>,
    history: History,
) -> Result<(), DbError> {
    let (status, claimer, claimed_at, completed_at, counted_at) = match history {
        History::Waiting => (PickupStatus::Waiting, None, None, None, None),
        History::OnWay { claimer, at } => {
            (PickupStatus::OnWay, Some(claimer), Some(at), None, None)
        }
        History::Completed {
            claimer,
            at,
            counted,
        } => (
            PickupStatus::Completed,
            Some(claimer),
            Some(created_at.max(at - chrono::Duration::hours(1))),
            Some(at),
            counted.then_some(at),
        ),
    };
    let insert = diesel::insert_into(pickups::table).values((
        pickups::owner_id.eq(owner_id),
        pickups::kind.eq(kind.code()),
        pickups::grams.eq(grams.get()),
        pickups::measured_grams.eq(completed_at.map(|_| grams.get())),
        pickups::status.eq(status.code()),
        pickups::province.eq(province),
        pickups::collector_id.eq(claimer),
        pickups::created_at.eq(naive(created_at)),
        pickups::claimed_at.eq(claimed_at.map(naive)),
        pickups::completed_at.eq(completed_at.map(naive)),
        pickups::counted_at.eq(counted_at.map(naive)),
    ));
    with_conn!(conn, |c| insert.execute(c).await)?;
    Ok(())
}

/// Everyone who gave or received a counting pickup.
pub async fn participants(conn: &mut DbConn) -> Result<Vec<UserId>, DbError> {
    let rows: Vec<(UserId, Option<UserId>)> = with_conn!(conn, |c| pickups::table
        .filter(pickups::status.eq(PickupStatus::Completed.code()))
        .filter(pickups::counted_at.is_not_null())
        .select((pickups::owner_id, pickups::collector_id))
        .load(c)
        .await)?;
    let mut ids: Vec<UserId> = rows
        .into_iter()
        .flat_map(|(o, c)| std::iter::once(o).chain(c))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}
