//! The clocks of clock (Dutch) auctions: each one's schedule and anchor.
//! The price at a moment is computed from them by
//! [`sitga_auction::ClockState::read`]; nothing here ticks.

use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use sitga_auction::{AuctionStatus, ClockRules, ClockState, Krw};
use sitga_core::AuctionId;

use crate::schema::{auctions, clocks};
use crate::time::{naive, utc};
use crate::{DbConn, DbError, with_conn};

/// The stored format code of a clock auction.
pub const DUTCH: &str = "dutch";
/// The stored format code of an auction that takes bids.
pub const ENGLISH: &str = "english";

/// A stored clock.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = clocks)]
pub struct StoredClock {
    /// Its auction.
    pub auction_id: AuctionId,
    floor_price: Krw,
    step: Krw,
    step_seconds: i32,
    pause_seconds: i32,
    quantity: i32,
    remaining: i32,
    anchor_at: NaiveDateTime,
    anchor_price: Krw,
    told_at: Option<NaiveDateTime>,
}

impl StoredClock {
    /// Its schedule.
    pub fn rules(&self) -> ClockRules {
        ClockRules {
            floor_price: self.floor_price,
            step: self.step,
            step_every: Duration::seconds(i64::from(self.step_seconds)),
            pause: Duration::seconds(i64::from(self.pause_seconds)),
            // The CHECK constraint keeps it positive.
            quantity: u32::try_from(self.quantity).unwrap_or(0),
        }
    }

    /// Where it stands.
    pub fn state(&self) -> ClockState {
        ClockState {
            anchor_at: utc(self.anchor_at),
            anchor_price: self.anchor_price,
            remaining: u32::try_from(self.remaining).unwrap_or(0),
        }
    }

    /// The last step (or accept) announced to the room.
    pub fn told_at(&self) -> Option<DateTime<Utc>> {
        self.told_at.map(utc)
    }
}

fn count(units: u32) -> i32 {
    i32::try_from(units).unwrap_or(i32::MAX)
}

/// Stores the clock of a new clock auction, at its opening.
pub async fn insert(
    conn: &mut DbConn,
    auction: AuctionId,
    rules: &ClockRules,
    state: &ClockState,
) -> Result<(), DbError> {
    let insert = diesel::insert_into(clocks::table).values((
        clocks::auction_id.eq(auction),
        clocks::floor_price.eq(rules.floor_price),
        clocks::step.eq(rules.step),
        clocks::step_seconds.eq(i32::try_from(rules.step_every.num_seconds()).unwrap_or(1)),
        clocks::pause_seconds.eq(i32::try_from(rules.pause.num_seconds()).unwrap_or(0)),
        clocks::quantity.eq(count(rules.quantity)),
        clocks::remaining.eq(count(state.remaining)),
        clocks::anchor_at.eq(naive(state.anchor_at)),
        clocks::anchor_price.eq(state.anchor_price),
    ));
    with_conn!(conn, |c| insert.execute(c).await)?;
    Ok(())
}

/// The clock of `auction`, if it is a clock auction.
pub async fn find(conn: &mut DbConn, auction: AuctionId) -> Result<Option<StoredClock>, DbError> {
    Ok(with_conn!(conn, |c| clocks::table
        .find(auction)
        .select(StoredClock::as_select())
        .first(c)
        .await
        .optional())?)
}

/// The clocks of those of `auctions` that have one.
pub async fn of_auctions(
    conn: &mut DbConn,
    auctions: &[AuctionId],
) -> Result<HashMap<AuctionId, StoredClock>, DbError> {
    if auctions.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<StoredClock> = with_conn!(conn, |c| clocks::table
        .filter(clocks::auction_id.eq_any(auctions))
        .select(StoredClock::as_select())
        .load(c)
        .await)?;
    Ok(rows.into_iter().map(|c| (c.auction_id, c)).collect())
}

/// Writes the clock after an accept (the caller holds the auction's row
/// lock), and records the accept as told: the room hears it with the
/// accept's own frames.
pub async fn save_accept(
    conn: &mut DbConn,
    auction: AuctionId,
    after: &ClockState,
    at: DateTime<Utc>,
) -> Result<(), DbError> {
    let n = with_conn!(conn, |c| diesel::update(clocks::table.find(auction))
        .set((
            clocks::remaining.eq(count(after.remaining)),
            clocks::anchor_at.eq(naive(after.anchor_at)),
            clocks::anchor_price.eq(after.anchor_price),
            clocks::told_at.eq(Some(naive(at))),
        ))
        .execute(c)
        .await)?;
    if n == 1 {
        Ok(())
    } else {
        Err(DbError::Invariant(format!(
            "auction {auction} has no clock"
        )))
    }
}

/// Records that the step shown since `level_since` was announced; `false`
/// if it (or a later one) was already: one instance announces each step.
pub async fn mark_told(
    conn: &mut DbConn,
    auction: AuctionId,
    level_since: DateTime<Utc>,
) -> Result<bool, DbError> {
    let at = naive(level_since);
    let n = with_conn!(conn, |c| diesel::update(
        clocks::table
            .find(auction)
            .filter(clocks::told_at.is_null().or(clocks::told_at.lt(at)))
    )
    .set(clocks::told_at.eq(Some(at)))
    .execute(c)
    .await)?;
    Ok(n == 1)
}

/// The clocks of open clock auctions that have started by `now` (the
/// step announcer's work list).
pub async fn running(conn: &mut DbConn, now: DateTime<Utc>) -> Result<Vec<StoredClock>, DbError> {
    let at = naive(now);
    Ok(with_conn!(conn, |c| clocks::table
        .inner_join(auctions::table)
        .filter(auctions::status.eq(AuctionStatus::Open.code()))
        .filter(auctions::starts_at.is_null().or(auctions::starts_at.le(at)))
        .select(StoredClock::as_select())
        .load(c)
        .await)?)
}
