//! The on-chain donation outbox and the chain monitor's samples.
//!
//! A completed donation adds an outbox row in the same transaction. Workers
//! on any instance take due rows with a lease (a guarded update), so one
//! row is sent by one worker at a time; the outcome is written back.

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use sitga_core::PickupId;

use crate::schema::{chain_donations, chain_samples};
use crate::time::{naive, now, utc};
use crate::{DbConn, DbError, with_conn};

/// Where a donation's chain record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChainStatus {
    /// Not on chain yet (being sent or waiting for a retry).
    Pending,
    /// Mined.
    Confirmed,
    /// Gave up after the last attempt.
    Failed,
}

impl ChainStatus {
    /// Stored code.
    pub fn code(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Confirmed => "confirmed",
            Self::Failed => "failed",
        }
    }

    fn parse(code: &str) -> Self {
        match code {
            "confirmed" => Self::Confirmed,
            "failed" => Self::Failed,
            _ => Self::Pending,
        }
    }
}

/// An outbox row.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = chain_donations)]
pub struct ChainDonation {
    /// The pickup (the donation id on chain).
    pub pickup_id: PickupId,
    /// The salted donor reference (`0x…`, 32 bytes).
    pub donor_ref: String,
    /// Grams collected.
    pub grams: i64,
    status: String,
    /// Attempts so far.
    pub attempts: i32,
    next_attempt_at: NaiveDateTime,
    lease_until: Option<NaiveDateTime>,
    /// The recording transaction.
    pub tx_hash: Option<String>,
    /// Its block.
    pub block_number: Option<i64>,
    /// The last attempt's error.
    pub last_error: Option<String>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

impl ChainDonation {
    /// Status.
    pub fn status(&self) -> ChainStatus {
        ChainStatus::parse(&self.status)
    }

    /// When the next attempt is due.
    pub fn next_attempt_at(&self) -> DateTime<Utc> {
        utc(self.next_attempt_at)
    }

    /// Last change.
    pub fn updated_at(&self) -> DateTime<Utc> {
        utc(self.updated_at)
    }

    /// Queued (when the donation completed).
    pub fn created_at(&self) -> DateTime<Utc> {
        utc(self.created_at)
    }

    /// Until when a worker holds it.
    pub fn lease_until(&self) -> Option<DateTime<Utc>> {
        self.lease_until.map(utc)
    }
}

/// Queues a donation for recording (once per pickup).
pub async fn enqueue(
    conn: &mut DbConn,
    pickup_id: PickupId,
    donor_ref: &str,
    grams: i64,
) -> Result<(), DbError> {
    let at = now();
    let insert = diesel::insert_or_ignore_into(chain_donations::table).values((
        chain_donations::pickup_id.eq(pickup_id),
        chain_donations::donor_ref.eq(donor_ref),
        chain_donations::grams.eq(grams),
        chain_donations::status.eq(ChainStatus::Pending.code()),
        chain_donations::next_attempt_at.eq(at),
        chain_donations::created_at.eq(at),
        chain_donations::updated_at.eq(at),
    ));
    with_conn!(conn, |c| insert.execute(c).await)?;
    Ok(())
}

/// Takes up to `limit` due rows for `lease` (other workers skip them until
/// it runs out). Returns the rows this call leased.
pub async fn lease_due(
    conn: &mut DbConn,
    limit: i64,
    lease: Duration,
) -> Result<Vec<ChainDonation>, DbError> {
    let at = now();
    let candidates: Vec<PickupId> = with_conn!(conn, |c| chain_donations::table
        .filter(chain_donations::status.eq(ChainStatus::Pending.code()))
        .filter(chain_donations::next_attempt_at.le(at))
        .filter(
            chain_donations::lease_until
                .is_null()
                .or(chain_donations::lease_until.lt(at))
        )
        .order(chain_donations::next_attempt_at.asc())
        .limit(limit)
        .select(chain_donations::pickup_id)
        .load(c)
        .await)?;
    let until = naive(utc(at) + lease);
    let mut leased = Vec::new();
    for id in candidates {
        let update = diesel::update(
            chain_donations::table
                .filter(chain_donations::pickup_id.eq(id))
                .filter(chain_donations::status.eq(ChainStatus::Pending.code()))
                .filter(
                    chain_donations::lease_until
                        .is_null()
                        .or(chain_donations::lease_until.lt(at)),
                ),
        )
        .set(chain_donations::lease_until.eq(until));
        if with_conn!(conn, |c| update.execute(c).await)? == 1 {
            leased.push(id);
        }
    }
    if leased.is_empty() {
        return Ok(Vec::new());
    }
    Ok(with_conn!(conn, |c| chain_donations::table
        .filter(chain_donations::pickup_id.eq_any(&leased))
        .select(ChainDonation::as_select())
        .load(c)
        .await)?)
}

/// Records the confirmation of a donation.
pub async fn confirm(
    conn: &mut DbConn,
    pickup_id: PickupId,
    tx_hash: &str,
    block_number: i64,
) -> Result<(), DbError> {
    let update = diesel::update(chain_donations::table.find(pickup_id)).set((
        chain_donations::status.eq(ChainStatus::Confirmed.code()),
        chain_donations::tx_hash.eq(tx_hash),
        chain_donations::block_number.eq(block_number),
        chain_donations::attempts.eq(chain_donations::attempts + 1),
        chain_donations::lease_until.eq(None::<NaiveDateTime>),
        chain_donations::last_error.eq(None::<String>),
        chain_donations::updated_at.eq(now()),
    ));
    with_conn!(conn, |c| update.execute(c).await)?;
    Ok(())
}

/// Records a failed attempt: retried at `retry_at`, or given up when
/// `retry_at` is `None`.
pub async fn attempt_failed(
    conn: &mut DbConn,
    pickup_id: PickupId,
    error: &str,
    retry_at: Option<DateTime<Utc>>,
) -> Result<(), DbError> {
    let status = if retry_at.is_some() {
        ChainStatus::Pending
    } else {
        ChainStatus::Failed
    };
    let error: String = error.chars().take(500).collect();
    let at = now();
    let update = diesel::update(chain_donations::table.find(pickup_id)).set((
        chain_donations::status.eq(status.code()),
        chain_donations::attempts.eq(chain_donations::attempts + 1),
        chain_donations::next_attempt_at.eq(retry_at.map(naive).unwrap_or(at)),
        chain_donations::lease_until.eq(None::<NaiveDateTime>),
        chain_donations::last_error.eq(error),
        chain_donations::updated_at.eq(at),
    ));
    with_conn!(conn, |c| update.execute(c).await)?;
    Ok(())
}

/// Donations confirmed since `since`, all of them or one donor's: what the
/// platform paid for today.
pub async fn confirmed_since(
    conn: &mut DbConn,
    since: DateTime<Utc>,
    donor_ref: Option<&str>,
) -> Result<i64, DbError> {
    let since = naive(since);
    let n: i64 = with_conn!(conn, |c| {
        let mut query = chain_donations::table
            .filter(chain_donations::status.eq(ChainStatus::Confirmed.code()))
            .filter(chain_donations::updated_at.ge(since))
            .into_boxed();
        if let Some(donor) = donor_ref {
            query = query.filter(chain_donations::donor_ref.eq(donor));
        }
        query.count().get_result(c).await
    })?;
    Ok(n)
}

/// Puts a leased donation back, untouched, until `until` (a daily cap was
/// reached); `why` shows in `last_error`. Attempts are not counted.
pub async fn defer(
    conn: &mut DbConn,
    pickup_id: PickupId,
    until: DateTime<Utc>,
    why: &str,
) -> Result<(), DbError> {
    let update = diesel::update(chain_donations::table.find(pickup_id)).set((
        chain_donations::next_attempt_at.eq(naive(until)),
        chain_donations::lease_until.eq(None::<NaiveDateTime>),
        chain_donations::last_error.eq(why),
        chain_donations::updated_at.eq(now()),
    ));
    with_conn!(conn, |c| update.execute(c).await)?;
    Ok(())
}

/// Pending donations waiting for a later day because of a cap (their
/// `last_error` says so), as of `now`.
pub async fn deferred_count(conn: &mut DbConn, now_at: DateTime<Utc>) -> Result<i64, DbError> {
    let at = naive(now_at);
    let n: i64 = with_conn!(conn, |c| chain_donations::table
        .filter(chain_donations::status.eq(ChainStatus::Pending.code()))
        .filter(chain_donations::next_attempt_at.gt(at))
        .filter(chain_donations::last_error.like("daily cap%"))
        .count()
        .get_result(c)
        .await)?;
    Ok(n)
}

/// The outbox rows of these pickups.
pub async fn of_pickups(
    conn: &mut DbConn,
    pickup_ids: &[PickupId],
) -> Result<Vec<ChainDonation>, DbError> {
    if pickup_ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(with_conn!(conn, |c| chain_donations::table
        .filter(chain_donations::pickup_id.eq_any(pickup_ids))
        .select(ChainDonation::as_select())
        .load(c)
        .await)?)
}

/// Rows per status: (pending, confirmed, failed).
pub async fn status_counts(conn: &mut DbConn) -> Result<(i64, i64, i64), DbError> {
    let rows: Vec<(String, i64)> = with_conn!(conn, |c| chain_donations::table
        .group_by(chain_donations::status)
        .select((chain_donations::status, diesel::dsl::count_star()))
        .load(c)
        .await)?;
    let get = |s: ChainStatus| {
        rows.iter()
            .find(|(code, _)| code == s.code())
            .map_or(0, |(_, n)| *n)
    };
    Ok((
        get(ChainStatus::Pending),
        get(ChainStatus::Confirmed),
        get(ChainStatus::Failed),
    ))
}

/// A monitor sample.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = chain_samples)]
pub struct ChainSample {
    /// Id.
    pub id: i64,
    sampled_at: NaiveDateTime,
    /// The contract sampled.
    pub contract: String,
    /// The latest block then.
    pub latest_block: i64,
    /// The last block whose transactions were counted.
    pub scanned_to: i64,
    /// The contract's donation counter.
    pub donation_count: i64,
    /// Transactions since the previous sample.
    pub transactions: i64,
}

impl ChainSample {
    /// When.
    pub fn sampled_at(&self) -> DateTime<Utc> {
        utc(self.sampled_at)
    }
}

/// A sample to store.
#[derive(Debug, Clone, Copy)]
pub struct NewSample<'a> {
    /// The contract.
    pub contract: &'a str,
    /// The latest block.
    pub latest_block: i64,
    /// The last block counted.
    pub scanned_to: i64,
    /// The contract's counter.
    pub donation_count: i64,
    /// Transactions since the previous sample.
    pub transactions: i64,
}

/// Stores a sample.
pub async fn insert_sample(conn: &mut DbConn, s: NewSample<'_>) -> Result<(), DbError> {
    let insert = diesel::insert_into(chain_samples::table).values((
        chain_samples::sampled_at.eq(now()),
        chain_samples::contract.eq(s.contract),
        chain_samples::latest_block.eq(s.latest_block),
        chain_samples::scanned_to.eq(s.scanned_to),
        chain_samples::donation_count.eq(s.donation_count),
        chain_samples::transactions.eq(s.transactions),
    ));
    with_conn!(conn, |c| insert.execute(c).await)?;
    Ok(())
}

/// The newest `limit` samples of `contract`, newest first.
pub async fn samples(
    conn: &mut DbConn,
    contract: &str,
    limit: i64,
) -> Result<Vec<ChainSample>, DbError> {
    Ok(with_conn!(conn, |c| chain_samples::table
        .filter(chain_samples::contract.eq(contract))
        .order(chain_samples::id.desc())
        .limit(limit)
        .select(ChainSample::as_select())
        .load(c)
        .await)?)
}
