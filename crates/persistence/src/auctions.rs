//! Auctions, their bids and their room chat.
//!
//! Every state change is a guarded UPDATE whose guard is the rule it
//! enforces (`status = 'open'`, `bid_count = 0`, `version = ?`), so two
//! instances can never both apply conflicting changes: one sees 0 rows.

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use sitga_auction::{
    AuctionSettings, AuctionSnapshot, AuctionStatus, ClockSale, ClockState, Increment, Krw,
};
use sitga_core::{AuctionId, BidId, UserId};

use crate::schema::{auctions, bids, chat_messages};
use crate::statement::{Bind, Statement};
use crate::time::{naive, now, utc};
use crate::{BackendName, DbConn, DbError, with_conn};

/// A stored auction.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = auctions)]
pub struct Auction {
    /// Id.
    pub id: AuctionId,
    /// Seller.
    pub seller_id: UserId,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Species (free text, or from the identify endpoint).
    pub species: Option<String>,
    /// Photo URL.
    pub photo_url: Option<String>,
    /// Start price.
    pub start_price: Krw,
    /// The fixed raise (for a tiered auction: the raise at the start
    /// price; [`Auction::increment`] is the rule).
    pub min_increment: Krw,
    /// Hidden reserve.
    pub reserve_price: Option<Krw>,
    /// Highest accepted bid.
    pub current_price: Option<Krw>,
    /// Its bidder.
    pub leader_id: Option<UserId>,
    /// Accepted bids.
    pub bid_count: i64,
    /// Views.
    pub view_count: i64,
    status: String,
    ends_at: NaiveDateTime,
    hard_end_at: NaiveDateTime,
    soft_close_seconds: i64,
    /// Bumped by every change; the optimistic guard between instances.
    pub version: i64,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    closed_at: Option<NaiveDateTime>,
    increment_rule: String,
    /// Buy-now price.
    pub buy_now_price: Option<Krw>,
    starts_at: Option<NaiveDateTime>,
    /// Private to the leader: read through [`Auction::max_of`].
    leader_max: Option<Krw>,
    format: String,
    // `opened_at` is only written and filtered on (`insert`, `due_to_open`,
    // `mark_opened`): nothing reads it back.
}

impl Auction {
    /// Status.
    pub fn status(&self) -> AuctionStatus {
        // The CHECK constraint admits only the four codes.
        AuctionStatus::parse(&self.status).unwrap_or(AuctionStatus::Cancelled)
    }

    /// Effective end.
    pub fn ends_at(&self) -> DateTime<Utc> {
        utc(self.ends_at)
    }

    /// Cap on extensions.
    pub fn hard_end_at(&self) -> DateTime<Utc> {
        utc(self.hard_end_at)
    }

    /// When bids open, if scheduled.
    pub fn starts_at(&self) -> Option<DateTime<Utc>> {
        self.starts_at.map(utc)
    }

    /// Creation time.
    pub fn created_at(&self) -> DateTime<Utc> {
        utc(self.created_at)
    }

    /// Last change.
    pub fn updated_at(&self) -> DateTime<Utc> {
        utc(self.updated_at)
    }

    /// When it closed.
    pub fn closed_at(&self) -> Option<DateTime<Utc>> {
        self.closed_at.map(utc)
    }

    /// The raise rule.
    pub fn increment(&self) -> Increment {
        // The CHECK constraint admits only the two codes.
        if self.increment_rule == Increment::Tiered.code() {
            Increment::Tiered
        } else {
            Increment::Fixed(self.min_increment)
        }
    }

    /// Whether it sells by a descending clock (a Dutch auction: accepts,
    /// no bids); its clock is in [`crate::clocks`].
    pub fn is_clock(&self) -> bool {
        self.format == crate::clocks::DUTCH
    }

    /// `user`'s standing maximum here: only while they lead with one (a
    /// maximum is nobody else's business).
    pub fn max_of(&self, user: UserId) -> Option<Krw> {
        self.leader_max.filter(|_| self.leader_id == Some(user))
    }

    /// The rules' view of it.
    pub fn snapshot(&self) -> AuctionSnapshot {
        AuctionSnapshot {
            id: self.id,
            seller_id: self.seller_id,
            status: self.status(),
            start_price: self.start_price,
            increment: self.increment(),
            reserve_price: self.reserve_price,
            buy_now_price: self.buy_now_price,
            current_price: self.current_price,
            leader_id: self.leader_id,
            leader_max: self.leader_max,
            bid_count: self.bid_count,
            starts_at: self.starts_at(),
            ends_at: self.ends_at(),
            hard_end_at: self.hard_end_at(),
            soft_close: Duration::seconds(self.soft_close_seconds),
        }
    }
}

/// A new auction.
#[derive(Debug, Clone)]
pub struct NewAuction {
    /// Seller.
    pub seller_id: UserId,
    /// Title (1–100 characters, checked by the caller).
    pub title: String,
    /// Description.
    pub description: String,
    /// Species.
    pub species: Option<String>,
    /// Photo URL.
    pub photo_url: Option<String>,
    /// Validated prices and times.
    pub settings: AuctionSettings,
}

/// The id of the row this connection inserted last.
pub(crate) async fn last_insert_id(conn: &mut DbConn) -> Result<i64, DbError> {
    let id = with_conn!(conn, |c| {
        let function = if c.backend_name() == "mysql" {
            "SELECT LAST_INSERT_ID()"
        } else {
            "SELECT last_insert_rowid()"
        };
        Statement::<diesel::sql_types::BigInt>::new(function, Vec::new())
            .get_result::<i64>(c)
            .await
    })?;
    Ok(id)
}

/// Creates an auction.
pub async fn insert(conn: &mut DbConn, new: &NewAuction) -> Result<Auction, DbError> {
    let at = now();
    let s = &new.settings;
    let insert = diesel::insert_into(auctions::table).values((
        auctions::seller_id.eq(new.seller_id),
        auctions::title.eq(&new.title),
        auctions::description.eq(&new.description),
        auctions::species.eq(&new.species),
        auctions::photo_url.eq(&new.photo_url),
        auctions::start_price.eq(s.start_price),
        auctions::min_increment.eq(s.increment.over(s.start_price)),
        auctions::increment_rule.eq(s.increment.code()),
        auctions::reserve_price.eq(s.reserve_price),
        auctions::buy_now_price.eq(s.buy_now_price),
        auctions::starts_at.eq(s.starts_at.map(naive)),
        // Starting at once: nothing left to announce.
        auctions::opened_at.eq(s.starts_at.is_none().then_some(at)),
        auctions::status.eq(AuctionStatus::Open.code()),
        auctions::ends_at.eq(naive(s.ends_at)),
        auctions::hard_end_at.eq(naive(s.hard_end_at)),
        auctions::soft_close_seconds.eq(s.soft_close.num_seconds()),
        auctions::created_at.eq(at),
        auctions::updated_at.eq(at),
        auctions::format.eq(if s.clock.is_some() {
            crate::clocks::DUTCH
        } else {
            crate::clocks::ENGLISH
        }),
    ));
    with_conn!(conn, |c| insert.execute(c).await)?;
    let id = AuctionId::new(last_insert_id(conn).await?);
    if let Some(rules) = &s.clock {
        let opening = ClockState::opening(rules, s.start_price, s.starts_at.unwrap_or(utc(at)));
        crate::clocks::insert(conn, id, rules, &opening).await?;
    }
    find(conn, id).await?.ok_or(DbError::NotFound)
}

/// The auctions of `ids` that exist, in the order of `ids`.
pub async fn find_many(conn: &mut DbConn, ids: &[AuctionId]) -> Result<Vec<Auction>, DbError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<Auction> = with_conn!(conn, |c| auctions::table
        .filter(auctions::id.eq_any(ids))
        .select(Auction::as_select())
        .load(c)
        .await)?;
    let mut by_id: std::collections::HashMap<AuctionId, Auction> =
        rows.into_iter().map(|a| (a.id, a)).collect();
    Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
}

/// Looks an auction up.
pub async fn find(conn: &mut DbConn, id: AuctionId) -> Result<Option<Auction>, DbError> {
    let row = with_conn!(conn, |c| auctions::table
        .find(id)
        .select(Auction::as_select())
        .first(c)
        .await
        .optional())?;
    Ok(row)
}

/// Takes the auction's row lock for the rest of the transaction (MySQL:
/// an exclusive lock; SQLite: the transaction already holds the database
/// write lock). Bids and closes lock the auction first, so concurrent
/// transactions on one auction queue here instead of deadlocking on wallets.
pub async fn lock(conn: &mut DbConn, id: AuctionId) -> Result<(), DbError> {
    with_conn!(conn, |c| diesel::update(auctions::table.find(id))
        .set(auctions::version.eq(auctions::version))
        .execute(c)
        .await)?;
    Ok(())
}

/// Reads an auction and takes its row lock for the rest of the transaction
/// in one round trip (MySQL: `SELECT … FOR UPDATE`; SQLite: the
/// transaction already holds the database write lock).
pub async fn find_for_update(conn: &mut DbConn, id: AuctionId) -> Result<Option<Auction>, DbError> {
    let row = match conn.backend_mut()? {
        crate::AnyConn::Mysql(c) => auctions::table
            .find(id)
            .select(Auction::as_select())
            .for_update()
            .first(c)
            .await
            .optional()?,
        crate::AnyConn::Sqlite(c) => auctions::table
            .find(id)
            .select(Auction::as_select())
            .first(c)
            .await
            .optional()?,
    };
    Ok(row)
}

/// Sort order of listings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    /// Newest first.
    Newest,
    /// Soonest end first.
    EndingSoon,
}

/// Listing filters.
#[derive(Debug, Clone)]
pub struct ListFilter {
    /// Only this status (`None`: all).
    pub status: Option<AuctionStatus>,
    /// Only this seller.
    pub seller_id: Option<UserId>,
    /// Text in the title or species.
    pub query: Option<String>,
    /// Order.
    pub sort: Sort,
}

fn like_pattern(text: &str) -> String {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// A page of auctions and the total matching.
pub async fn list(
    conn: &mut DbConn,
    filter: &ListFilter,
    offset: i64,
    limit: i64,
) -> Result<(Vec<Auction>, i64), DbError> {
    let pattern = filter.query.as_deref().map(like_pattern);
    let at = now();
    macro_rules! filtered {
        () => {{
            let mut q = auctions::table.into_boxed();
            // Scheduled is open before its start: neither shows the other.
            match filter.status {
                Some(AuctionStatus::Scheduled) => {
                    q = q
                        .filter(auctions::status.eq(AuctionStatus::Open.code()))
                        .filter(auctions::starts_at.gt(at));
                }
                Some(AuctionStatus::Open) => {
                    q = q
                        .filter(auctions::status.eq(AuctionStatus::Open.code()))
                        .filter(auctions::starts_at.is_null().or(auctions::starts_at.le(at)));
                }
                Some(status) => q = q.filter(auctions::status.eq(status.code())),
                None => {}
            }
            if let Some(seller) = filter.seller_id {
                q = q.filter(auctions::seller_id.eq(seller));
            }
            if let Some(p) = &pattern {
                q = q.filter(
                    auctions::title
                        .like(p.clone())
                        .escape('\\')
                        .or(auctions::species.like(p.clone()).escape('\\')),
                );
            }
            q
        }};
    }
    let rows = with_conn!(conn, |c| {
        let q = filtered!();
        let q = match filter.sort {
            Sort::Newest => q.order(auctions::id.desc()),
            Sort::EndingSoon => q.order((auctions::ends_at.asc(), auctions::id.asc())),
        };
        q.offset(offset)
            .limit(limit)
            .select(Auction::as_select())
            .load(c)
            .await
    })?;
    let total: i64 = with_conn!(conn, |c| filtered!().count().get_result(c).await)?;
    Ok((rows, total))
}

/// Counts a view (atomic increment). `false` if no such auction.
pub async fn increment_views(conn: &mut DbConn, id: AuctionId) -> Result<bool, DbError> {
    let n = with_conn!(conn, |c| diesel::update(auctions::table.find(id))
        .set(auctions::view_count.eq(auctions::view_count + 1))
        .execute(c)
        .await)?;
    Ok(n == 1)
}

/// Editable details.
#[derive(Debug, Clone, Default, AsChangeset)]
#[diesel(table_name = auctions)]
pub struct DetailsChange {
    /// Title.
    pub title: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Species.
    pub species: Option<Option<String>>,
    /// Photo.
    pub photo_url: Option<Option<String>>,
    /// Start price.
    pub start_price: Option<Krw>,
    /// A fixed raise (with `increment_rule` `fixed`).
    pub min_increment: Option<Krw>,
    /// `fixed` or `tiered`.
    pub increment_rule: Option<&'static str>,
    /// Reserve.
    pub reserve_price: Option<Option<Krw>>,
    /// Buy-now price.
    pub buy_now_price: Option<Option<Krw>>,
}

/// Edits an open auction of `seller_id` that has no bid yet. `false` when
/// the guard fails (not the seller's, closed, or bid on).
pub async fn update_details(
    conn: &mut DbConn,
    id: AuctionId,
    seller_id: UserId,
    change: &DetailsChange,
) -> Result<bool, DbError> {
    let n = with_conn!(conn, |c| diesel::update(
        auctions::table
            .find(id)
            .filter(auctions::seller_id.eq(seller_id))
            .filter(auctions::status.eq(AuctionStatus::Open.code()))
            .filter(auctions::bid_count.eq(0))
    )
    .set((
        change,
        auctions::version.eq(auctions::version + 1),
        auctions::updated_at.eq(now())
    ))
    .execute(c)
    .await)?;
    Ok(n == 1)
}

/// Cancels an open auction of `seller_id` without bids. `false` when the
/// guard fails.
pub async fn cancel(conn: &mut DbConn, id: AuctionId, seller_id: UserId) -> Result<bool, DbError> {
    let at = now();
    let n = with_conn!(conn, |c| diesel::update(
        auctions::table
            .find(id)
            .filter(auctions::seller_id.eq(seller_id))
            .filter(auctions::status.eq(AuctionStatus::Open.code()))
            .filter(auctions::bid_count.eq(0))
    )
    .set((
        auctions::status.eq(AuctionStatus::Cancelled.code()),
        auctions::version.eq(auctions::version + 1),
        auctions::updated_at.eq(at),
        auctions::closed_at.eq(Some(at)),
    ))
    .execute(c)
    .await)?;
    Ok(n == 1)
}

/// Open auctions whose scheduled start has come and was not announced
/// yet, earliest first.
pub async fn due_to_open(
    conn: &mut DbConn,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<AuctionId>, DbError> {
    let ids = with_conn!(conn, |c| auctions::table
        .filter(auctions::starts_at.le(naive(now)))
        .filter(auctions::opened_at.is_null())
        .filter(auctions::status.eq(AuctionStatus::Open.code()))
        .order((auctions::starts_at.asc(), auctions::id.asc()))
        .limit(limit)
        .select(auctions::id)
        .load::<AuctionId>(c)
        .await)?;
    Ok(ids)
}

/// Marks the start of `id` announced, once: `true` for the one caller whose
/// guarded update applied (the start has come, it is still open, nobody
/// announced it yet).
pub async fn mark_opened(
    conn: &mut DbConn,
    id: AuctionId,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    let at = naive(now);
    let n = with_conn!(conn, |c| diesel::update(
        auctions::table
            .find(id)
            .filter(auctions::starts_at.le(at))
            .filter(auctions::opened_at.is_null())
            .filter(auctions::status.eq(AuctionStatus::Open.code()))
    )
    .set(auctions::opened_at.eq(Some(at)))
    .execute(c)
    .await)?;
    Ok(n == 1)
}

/// Open, started auctions that may owe an ending-soon reminder now: ending
/// within ten minutes (and not yet past), with `(id, ends_at, smallest
/// lead sent)` (`None`: none sent). `sitga_auction::reminder_due` decides.
pub async fn due_reminders(
    conn: &mut DbConn,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<(AuctionId, DateTime<Utc>, Option<i64>)>, DbError> {
    let at = naive(now);
    let horizon = naive(now + chrono::Duration::minutes(10));
    let last = naive(now + chrono::Duration::minutes(1));
    let rows: Vec<(AuctionId, NaiveDateTime, i16)> = with_conn!(conn, |c| auctions::table
        .filter(auctions::status.eq(AuctionStatus::Open.code()))
        .filter(auctions::ends_at.gt(at))
        .filter(auctions::ends_at.le(horizon))
        .filter(auctions::starts_at.is_null().or(auctions::starts_at.le(at)))
        .filter(
            auctions::reminded_minutes
                .eq(0)
                .or(auctions::reminded_minutes
                    .ne(1)
                    .and(auctions::ends_at.le(last)))
        )
        .order(auctions::ends_at.asc())
        .limit(limit)
        .select((auctions::id, auctions::ends_at, auctions::reminded_minutes))
        .load(c)
        .await)?;
    Ok(rows
        .into_iter()
        .map(|(id, ends, sent)| (id, utc(ends), (sent > 0).then_some(i64::from(sent))))
        .collect())
}

/// Records that the `minutes` reminder of `id` went out, once: `true` for
/// the one caller whose guarded update applied (nothing as close to the end
/// was sent before). The row's version stays: bids are not affected.
pub async fn mark_reminded(
    conn: &mut DbConn,
    id: AuctionId,
    minutes: i64,
) -> Result<bool, DbError> {
    let minutes = i16::try_from(minutes)
        .map_err(|_| DbError::Invariant(format!("a reminder {minutes} minutes ahead")))?;
    let n = with_conn!(conn, |c| diesel::update(
        auctions::table
            .find(id)
            .filter(auctions::status.eq(AuctionStatus::Open.code()))
            .filter(
                auctions::reminded_minutes
                    .eq(0)
                    .or(auctions::reminded_minutes.gt(minutes))
            )
    )
    .set(auctions::reminded_minutes.eq(minutes))
    .execute(c)
    .await)?;
    Ok(n == 1)
}

/// Who follows `id`: its watchers and everyone who bid on it, each once,
/// without its seller.
pub async fn followers(conn: &mut DbConn, id: AuctionId) -> Result<Vec<UserId>, DbError> {
    let seller: Option<UserId> = with_conn!(conn, |c| auctions::table
        .find(id)
        .select(auctions::seller_id)
        .first(c)
        .await
        .optional())?;
    let watchers: Vec<UserId> = with_conn!(conn, |c| crate::schema::watchlist::table
        .filter(crate::schema::watchlist::auction_id.eq(id))
        .select(crate::schema::watchlist::user_id)
        .load(c)
        .await)?;
    let bidders: Vec<UserId> = with_conn!(conn, |c| bids::table
        .filter(bids::auction_id.eq(id))
        .select(bids::bidder_id)
        .distinct()
        .load(c)
        .await)?;
    let mut all: Vec<UserId> = watchers
        .into_iter()
        .chain(bidders)
        .filter(|u| Some(*u) != seller)
        .collect();
    all.sort_unstable();
    all.dedup();
    Ok(all)
}

/// Writes the state after accepted bids, if nobody changed the auction since
/// `expected_version` was read. `false`: another writer won; re-read.
pub async fn apply_bids(
    conn: &mut DbConn,
    id: AuctionId,
    expected_version: i64,
    after: &AuctionSnapshot,
) -> Result<bool, DbError> {
    // A cached statement: this runs once per bid batch.
    let update = Statement::<diesel::sql_types::Untyped>::new(
        "UPDATE auctions SET current_price = ?, leader_id = ?, leader_max = ?, bid_count = ?, \
         ends_at = ?, version = version + 1, updated_at = ? WHERE id = ? AND version = ? AND \
         status = ?",
        vec![
            Bind::OptInt(after.current_price.map(Krw::get)),
            Bind::OptInt(after.leader_id.map(UserId::get)),
            Bind::OptInt(after.leader_max.map(Krw::get)),
            Bind::Int(after.bid_count),
            Bind::Time(naive(after.ends_at)),
            Bind::Time(now()),
            Bind::Int(id.get()),
            Bind::Int(expected_version),
            Bind::Text(AuctionStatus::Open.code().to_owned()),
        ],
    );
    let n = with_conn!(conn, |c| update.execute(c).await)?;
    Ok(n == 1)
}

/// Closes an open auction read at `expected_version` with `status`.
/// `false` if it changed meanwhile (a bid, another closer).
pub async fn close(
    conn: &mut DbConn,
    id: AuctionId,
    expected_version: i64,
    status: AuctionStatus,
) -> Result<bool, DbError> {
    let at = now();
    let n = with_conn!(conn, |c| diesel::update(
        auctions::table
            .find(id)
            .filter(auctions::version.eq(expected_version))
            .filter(auctions::status.eq(AuctionStatus::Open.code()))
    )
    .set((
        auctions::status.eq(status.code()),
        auctions::version.eq(auctions::version + 1),
        auctions::updated_at.eq(at),
        auctions::closed_at.eq(Some(at)),
    ))
    .execute(c)
    .await)?;
    Ok(n == 1)
}

/// Open auctions whose end has passed, oldest end first.
pub async fn due(
    conn: &mut DbConn,
    at: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<AuctionId>, DbError> {
    let cutoff = naive(at);
    let ids = with_conn!(conn, |c| auctions::table
        .filter(auctions::status.eq(AuctionStatus::Open.code()))
        .filter(auctions::ends_at.le(cutoff))
        .order(auctions::ends_at.asc())
        .limit(limit)
        .select(auctions::id)
        .load(c)
        .await)?;
    Ok(ids)
}

/// Auctions won by `user_id`, newest first.
pub async fn won_by(
    conn: &mut DbConn,
    user_id: UserId,
    offset: i64,
    limit: i64,
) -> Result<Vec<Auction>, DbError> {
    let rows = with_conn!(conn, |c| auctions::table
        .filter(auctions::status.eq(AuctionStatus::Sold.code()))
        .filter(auctions::leader_id.eq(user_id))
        .order(auctions::closed_at.desc())
        .offset(offset)
        .limit(limit)
        .select(Auction::as_select())
        .load(c)
        .await)?;
    Ok(rows)
}

/// Closed auctions of `seller_id` (sold or unsold), newest first.
pub async fn closed_by_seller(
    conn: &mut DbConn,
    seller_id: UserId,
    offset: i64,
    limit: i64,
) -> Result<Vec<Auction>, DbError> {
    let rows = with_conn!(conn, |c| auctions::table
        .filter(auctions::seller_id.eq(seller_id))
        .filter(auctions::status.eq_any([AuctionStatus::Sold.code(), AuctionStatus::Unsold.code()]))
        .order(auctions::closed_at.desc())
        .offset(offset)
        .limit(limit)
        .select(Auction::as_select())
        .load(c)
        .await)?;
    Ok(rows)
}

/// An accepted bid.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = bids)]
pub struct Bid {
    /// Id.
    pub id: BidId,
    /// Auction.
    pub auction_id: AuctionId,
    /// 1, 2, … per auction, gap-free.
    pub seq: i64,
    /// Bidder.
    pub bidder_id: UserId,
    /// Amount (a clock's accept: the price of each unit).
    pub amount: Krw,
    created_at: NaiveDateTime,
    /// Units (1 but for a clock's accept).
    pub units: i32,
}

impl Bid {
    /// When it was accepted.
    pub fn created_at(&self) -> DateTime<Utc> {
        utc(self.created_at)
    }
}

/// A client's key for a request (a WebSocket frame's `ref`), stored with
/// the bid it placed: the same key again from the same bidder on the same
/// auction is a re-sent frame, answered from the stored bid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRef {
    /// The key (≤ 80 characters).
    pub key: String,
    /// The request it stood for (≤ 64 characters), to tell a re-sent frame
    /// from a different one under a used key.
    pub request: String,
}

/// A bid to append.
#[derive(Debug, Clone, Copy)]
pub struct NewBid<'a> {
    /// 1, 2, … per auction.
    pub seq: i64,
    /// Bidder.
    pub bidder_id: UserId,
    /// Amount.
    pub amount: Krw,
    /// The client's key for the request that placed it.
    pub client_ref: Option<&'a ClientRef>,
}

/// Appends an accepted bid. The unique `(auction_id, seq)` makes a second
/// writer with a stale view fail loudly rather than fork the history.
pub async fn insert_bid(
    conn: &mut DbConn,
    auction_id: AuctionId,
    seq: i64,
    bidder_id: UserId,
    amount: Krw,
) -> Result<(), DbError> {
    let bid = NewBid {
        seq,
        bidder_id,
        amount,
        client_ref: None,
    };
    insert_bids(conn, auction_id, &[bid]).await
}

/// Appends accepted bids in one statement.
pub async fn insert_bids(
    conn: &mut DbConn,
    auction_id: AuctionId,
    rows: &[NewBid<'_>],
) -> Result<(), DbError> {
    if let Some(insert) = bid_rows(auction_id, rows) {
        with_conn!(conn, |c| insert.execute(c).await)?;
    }
    Ok(())
}

/// [`insert_bids`] with the commit ([`DbConn`]'s writes at commit: on
/// MySQL in the commit's round trip); the transaction runs nothing after
/// it but other writes at commit.
pub fn insert_bids_at_commit(
    conn: &mut DbConn,
    auction_id: AuctionId,
    rows: &[NewBid<'_>],
) -> Result<(), DbError> {
    conn.write_at_commit(bid_rows(auction_id, rows))
}

/// One INSERT of `rows` (`None` without rows).
fn bid_rows(auction_id: AuctionId, rows: &[NewBid<'_>]) -> Option<Statement> {
    if rows.is_empty() {
        return None;
    }
    let at = now();
    let mut binds = Vec::with_capacity(rows.len() * 7);
    for row in rows {
        binds.extend([
            Bind::Int(auction_id.get()),
            Bind::Int(row.seq),
            Bind::Int(row.bidder_id.get()),
            Bind::Int(row.amount.get()),
            Bind::Time(at),
            Bind::OptText(row.client_ref.map(|r| r.key.clone())),
            Bind::OptText(row.client_ref.map(|r| r.request.clone())),
        ]);
    }
    Some(Statement::new(
        format!(
            "INSERT INTO bids (auction_id, seq, bidder_id, amount, created_at, client_ref, \
             client_request) VALUES {}",
            vec!["(?, ?, ?, ?, ?, ?, ?)"; rows.len()].join(", ")
        ),
        binds,
    ))
}

/// Appends a clock's accept to the bid history: its units at the clock's
/// price, under the client's key (the auction's row lock is held).
pub async fn insert_accept(
    conn: &mut DbConn,
    auction_id: AuctionId,
    sale: &ClockSale,
    client_ref: Option<&ClientRef>,
) -> Result<(), DbError> {
    let insert = diesel::insert_into(bids::table).values((
        bids::auction_id.eq(auction_id),
        bids::seq.eq(sale.seq),
        bids::bidder_id.eq(sale.buyer_id),
        bids::amount.eq(sale.unit_price),
        bids::units.eq(i32::try_from(sale.units).unwrap_or(i32::MAX)),
        bids::created_at.eq(now()),
        bids::client_ref.eq(client_ref.map(|r| r.key.as_str())),
        bids::client_request.eq(client_ref.map(|r| r.request.as_str())),
    ));
    with_conn!(conn, |c| insert.execute(c).await)?;
    Ok(())
}

/// Writes a clock auction's row after an accept (its price, accepts and
/// new end), if nobody changed it since `expected_version`; with the last
/// unit sold it closes as sold.
pub async fn apply_accept(
    conn: &mut DbConn,
    id: AuctionId,
    expected_version: i64,
    sale: &ClockSale,
    ends_at: DateTime<Utc>,
) -> Result<bool, DbError> {
    let at = now();
    let status = if sale.sold_out {
        AuctionStatus::Sold
    } else {
        AuctionStatus::Open
    };
    let end = naive(ends_at);
    let n = with_conn!(conn, |c| diesel::update(
        auctions::table
            .find(id)
            .filter(auctions::version.eq(expected_version))
            .filter(auctions::status.eq(AuctionStatus::Open.code()))
    )
    .set((
        auctions::current_price.eq(Some(sale.unit_price)),
        auctions::bid_count.eq(sale.seq),
        auctions::ends_at.eq(end),
        auctions::hard_end_at.eq(end),
        auctions::status.eq(status.code()),
        auctions::closed_at.eq(sale.sold_out.then_some(at)),
        auctions::version.eq(auctions::version + 1),
        auctions::updated_at.eq(at),
    ))
    .execute(c)
    .await)?;
    Ok(n == 1)
}

/// A bid found by its client key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyedBid {
    /// Bidder.
    pub bidder_id: UserId,
    /// The key.
    pub key: String,
    /// The request the key stood for.
    pub request: String,
    /// The bid's sequence number.
    pub seq: i64,
    /// Its amount.
    pub amount: Krw,
    /// Its units (a clock's accept may buy several).
    pub units: i32,
}

/// The bids of `auction_id` placed under any of `keys` (bidder, key), the
/// earliest first, in one query (a key a client reused for another bid
/// keeps its first).
pub async fn bids_by_client_ref(
    conn: &mut DbConn,
    auction_id: AuctionId,
    keys: &[(UserId, &str)],
) -> Result<Vec<KeyedBid>, DbError> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let texts: Vec<&str> = keys.iter().map(|(_, key)| *key).collect();
    /// Bidder, key, request, seq, amount, units.
    type KeyedRow = (UserId, Option<String>, Option<String>, i64, Krw, i32);
    let rows: Vec<KeyedRow> = with_conn!(conn, |c| bids::table
        .filter(bids::auction_id.eq(auction_id))
        .filter(bids::client_ref.eq_any(&texts))
        .select((
            bids::bidder_id,
            bids::client_ref,
            bids::client_request,
            bids::seq,
            bids::amount,
            bids::units,
        ))
        .load(c)
        .await)?;
    Ok(rows
        .into_iter()
        .filter_map(|(bidder_id, key, request, seq, amount, units)| {
            let key = key?;
            keys.iter()
                .any(|(user, k)| *user == bidder_id && *k == key)
                .then(|| KeyedBid {
                    bidder_id,
                    key,
                    request: request.unwrap_or_default(),
                    seq,
                    amount,
                    units,
                })
        })
        .collect())
}

/// Forgets client keys of bids placed before `before` (a key is kept 24
/// hours); returns how many.
pub async fn forget_client_refs(
    conn: &mut DbConn,
    before: DateTime<Utc>,
) -> Result<usize, DbError> {
    let update = diesel::update(
        bids::table
            .filter(bids::client_ref.is_not_null())
            .filter(bids::created_at.lt(naive(before))),
    )
    .set((
        bids::client_ref.eq(None::<String>),
        bids::client_request.eq(None::<String>),
    ));
    Ok(with_conn!(conn, |c| update.execute(c).await)?)
}

/// Bids of an auction, highest sequence first.
pub async fn bids_of(
    conn: &mut DbConn,
    auction_id: AuctionId,
    offset: i64,
    limit: i64,
) -> Result<Vec<Bid>, DbError> {
    let rows = with_conn!(conn, |c| bids::table
        .filter(bids::auction_id.eq(auction_id))
        .order(bids::seq.desc())
        .offset(offset)
        .limit(limit)
        .select(Bid::as_select())
        .load(c)
        .await)?;
    Ok(rows)
}

/// What one user bid on one auction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MyBids {
    /// The auction.
    pub auction_id: AuctionId,
    /// Their highest bid there.
    pub top: Krw,
    /// How many of its bids are theirs.
    pub count: i64,
    /// When they (or their maximum) last bid.
    pub last_at: DateTime<Utc>,
}

/// The auctions `user` bid on, the latest bid first (a page), and how many
/// there are.
pub async fn bid_on_by(
    conn: &mut DbConn,
    user: UserId,
    offset: i64,
    limit: i64,
) -> Result<(Vec<MyBids>, i64), DbError> {
    use diesel::dsl::{count, count_star, max};
    let rows: Vec<(AuctionId, Option<Krw>, i64, Option<NaiveDateTime>)> =
        with_conn!(conn, |c| bids::table
            .filter(bids::bidder_id.eq(user))
            .group_by(bids::auction_id)
            .select((
                bids::auction_id,
                max(bids::amount),
                count_star(),
                max(bids::created_at),
            ))
            .order((max(bids::created_at).desc(), bids::auction_id.desc()))
            .offset(offset)
            .limit(limit)
            .load(c)
            .await)?;
    let total: i64 = with_conn!(conn, |c| bids::table
        .filter(bids::bidder_id.eq(user))
        .select(count(bids::auction_id).aggregate_distinct())
        .get_result(c)
        .await)?;
    let items = rows
        .into_iter()
        .map(|(auction_id, top, count, last_at)| MyBids {
            auction_id,
            top: top.unwrap_or(Krw::ZERO),
            count,
            last_at: last_at.map_or_else(Utc::now, utc),
        })
        .collect();
    Ok((items, total))
}

/// A room message kept for history.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = chat_messages)]
pub struct ChatMessage {
    /// Id (increasing; the history cursor).
    pub id: i64,
    /// Room.
    pub auction_id: AuctionId,
    /// Author (none for system notices).
    pub user_id: Option<UserId>,
    /// Author's nickname at the time.
    pub nickname: Option<String>,
    /// `chat`, `bid` or `notice`.
    pub kind: String,
    /// Text.
    pub body: String,
    /// Bid amount for `bid` messages.
    pub amount: Option<Krw>,
    created_at: NaiveDateTime,
}

impl ChatMessage {
    /// When it was said.
    pub fn created_at(&self) -> DateTime<Utc> {
        utc(self.created_at)
    }
}

/// Stores a room message and returns its id.
pub async fn insert_chat(
    conn: &mut DbConn,
    auction_id: AuctionId,
    user: Option<(UserId, &str)>,
    kind: &str,
    body: &str,
    amount: Option<Krw>,
) -> Result<i64, DbError> {
    let at = now();
    if conn.insert_returning() {
        // One round trip instead of two (the bid transaction writes one
        // message per accepted bid).
        let insert = Statement::<diesel::sql_types::BigInt>::new(
            "INSERT INTO chat_messages (auction_id, user_id, nickname, kind, body, amount, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
            vec![
                Bind::Int(auction_id.get()),
                Bind::OptInt(user.map(|(id, _)| id.get())),
                Bind::OptText(user.map(|(_, n)| n.to_owned())),
                Bind::Text(kind.to_owned()),
                Bind::Text(body.to_owned()),
                Bind::OptInt(amount.map(Krw::get)),
                Bind::Time(at),
            ],
        );
        let id = with_conn!(conn, |c| insert.get_result::<i64>(c).await)?;
        return Ok(id);
    }
    let insert = diesel::insert_into(chat_messages::table).values((
        chat_messages::auction_id.eq(auction_id),
        chat_messages::user_id.eq(user.map(|(id, _)| id)),
        chat_messages::nickname.eq(user.map(|(_, n)| n)),
        chat_messages::kind.eq(kind),
        chat_messages::body.eq(body),
        chat_messages::amount.eq(amount),
        chat_messages::created_at.eq(at),
    ));
    with_conn!(conn, |c| insert.execute(c).await)?;
    last_insert_id(conn).await
}

/// Up to `limit` messages before id `before` (or the latest), oldest first.
pub async fn chat_history(
    conn: &mut DbConn,
    auction_id: AuctionId,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<ChatMessage>, DbError> {
    let before = before.unwrap_or(i64::MAX);
    let mut rows: Vec<ChatMessage> = with_conn!(conn, |c| chat_messages::table
        .filter(chat_messages::auction_id.eq(auction_id))
        .filter(chat_messages::id.lt(before))
        .order(chat_messages::id.desc())
        .limit(limit)
        .select(ChatMessage::as_select())
        .load(c)
        .await)?;
    rows.reverse();
    Ok(rows)
}

/// `(seller, winner)` of every sold auction.
pub async fn sales(conn: &mut DbConn) -> Result<Vec<(UserId, UserId)>, DbError> {
    let rows: Vec<(UserId, Option<UserId>)> = with_conn!(conn, |c| auctions::table
        .filter(auctions::status.eq(AuctionStatus::Sold.code()))
        .select((auctions::seller_id, auctions::leader_id))
        .load(c)
        .await)?;
    Ok(rows
        .into_iter()
        .filter_map(|(s, w)| Some((s, w?)))
        .collect())
}
