//! Money in and out of the platform: charges (recorded before the payment
//! provider is asked, settled after) and payout requests (the points leave
//! the wallet when requested and come back if an operator rejects them).
//!
//! Conservation: every won in a wallet came from an approved charge, a sale,
//! or an admin's credit; every won that left went to a sale, a payout that
//! is requested or paid, or an admin's debit. A rejected payout returns its
//! points in the same transaction that rejects it.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use sitga_auction::{Krw, PayoutDecision, PayoutStatus, Wallet};
use sitga_core::UserId;

use crate::schema::{charges, payouts};
use crate::time::{naive, now, utc};
use crate::wallets::{self, LedgerKind};
use crate::{DbConn, DbError, with_conn};

const PENDING: &str = "pending";
const APPROVED: &str = "approved";
const DECLINED: &str = "declined";

/// Won `user_id` charged (approved or still being decided) since `since`.
pub async fn charged_since(
    conn: &mut DbConn,
    user_id: UserId,
    since: DateTime<Utc>,
) -> Result<Krw, DbError> {
    let amounts: Vec<i64> = with_conn!(conn, |c| charges::table
        .filter(charges::user_id.eq(user_id))
        .filter(charges::created_at.ge(naive(since)))
        .filter(charges::status.ne(DECLINED))
        .select(charges::amount)
        .load(c)
        .await)?;
    Ok(Krw::new(
        amounts.into_iter().fold(0i64, i64::saturating_add),
    ))
}

/// Records a charge that `provider` is about to be asked for; returns its id.
pub async fn begin_charge(
    conn: &mut DbConn,
    user_id: UserId,
    amount: Krw,
    provider: &str,
) -> Result<i64, DbError> {
    let insert = diesel::insert_into(charges::table).values((
        charges::user_id.eq(user_id),
        charges::amount.eq(amount),
        charges::provider.eq(provider),
        charges::status.eq(PENDING),
        charges::created_at.eq(now()),
    ));
    with_conn!(conn, |c| insert.execute(c).await)?;
    crate::auctions::last_insert_id(conn).await
}

/// The provider approved charge `id` (under `reference`): the points go to
/// the wallet. `None` if the charge was not pending (settled already: no
/// second credit).
pub async fn approve_charge(
    conn: &mut DbConn,
    id: i64,
    user_id: UserId,
    amount: Krw,
    reference: &str,
) -> Result<Option<Wallet>, DbError> {
    let n = with_conn!(conn, |c| diesel::update(
        charges::table
            .find(id)
            .filter(charges::status.eq(PENDING))
            .filter(charges::user_id.eq(user_id))
            .filter(charges::amount.eq(amount))
    )
    .set((
        charges::status.eq(APPROVED),
        charges::provider_ref.eq(Some(reference)),
        charges::decided_at.eq(Some(now())),
    ))
    .execute(c)
    .await)?;
    if n == 0 {
        return Ok(None);
    }
    wallets::charge(conn, user_id, amount).await.map(Some)
}

/// The provider declined charge `id` (or could not be asked): it stops
/// counting against the day's cap.
pub async fn decline_charge(conn: &mut DbConn, id: i64) -> Result<(), DbError> {
    with_conn!(conn, |c| diesel::update(
        charges::table.find(id).filter(charges::status.eq(PENDING))
    )
    .set((
        charges::status.eq(DECLINED),
        charges::decided_at.eq(Some(now())),
    ))
    .execute(c)
    .await)?;
    Ok(())
}

/// A payout request.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = payouts)]
pub struct Payout {
    /// Id.
    pub id: i64,
    /// Whose points.
    pub user_id: UserId,
    /// Won to send.
    pub amount: Krw,
    /// Where to send them, as the account stood when requested.
    pub bank_account: String,
    status: String,
    requested_at: NaiveDateTime,
    decided_at: Option<NaiveDateTime>,
    /// The operator who decided.
    pub decided_by: Option<UserId>,
    /// The transfer's reference (paid) or the reason (rejected).
    pub note: Option<String>,
}

impl Payout {
    /// Where it stands.
    pub fn status(&self) -> PayoutStatus {
        // The CHECK constraint allows only the three codes.
        PayoutStatus::parse(&self.status).unwrap_or(PayoutStatus::Requested)
    }

    /// When it was requested.
    pub fn requested_at(&self) -> DateTime<Utc> {
        utc(self.requested_at)
    }

    /// When an operator decided.
    pub fn decided_at(&self) -> Option<DateTime<Utc>> {
        self.decided_at.map(utc)
    }
}

/// Takes `amount` out of the wallet into a new payout request to
/// `bank_account`. `None` when the available points do not cover it
/// (nothing changes).
pub async fn request_payout(
    conn: &mut DbConn,
    user_id: UserId,
    amount: Krw,
    bank_account: &str,
) -> Result<Option<(Payout, Wallet)>, DbError> {
    let Some(after) = wallets::withdraw(conn, user_id, amount).await? else {
        return Ok(None);
    };
    let insert = diesel::insert_into(payouts::table).values((
        payouts::user_id.eq(user_id),
        payouts::amount.eq(amount),
        payouts::bank_account.eq(bank_account),
        payouts::status.eq(PayoutStatus::Requested.code()),
        payouts::requested_at.eq(now()),
    ));
    with_conn!(conn, |c| insert.execute(c).await)?;
    let id = crate::auctions::last_insert_id(conn).await?;
    let payout = find_payout(conn, id).await?.ok_or(DbError::NotFound)?;
    Ok(Some((payout, after)))
}

/// Looks a payout up.
pub async fn find_payout(conn: &mut DbConn, id: i64) -> Result<Option<Payout>, DbError> {
    Ok(with_conn!(conn, |c| payouts::table
        .find(id)
        .select(Payout::as_select())
        .first(c)
        .await
        .optional())?)
}

/// How deciding a payout went.
#[derive(Debug, Clone)]
pub enum Decided {
    /// Decided now (a rejection returned the points).
    Now(Payout),
    /// It was decided before (its status now).
    Already(PayoutStatus),
    /// No such payout.
    Missing,
}

/// An operator's decision on payout `id`, with the transfer's reference or
/// the rejection's reason. Decided once: a second decision, from this
/// operator or another at the same moment, changes nothing.
pub async fn decide_payout(
    conn: &mut DbConn,
    id: i64,
    decision: PayoutDecision,
    operator: UserId,
    note: &str,
) -> Result<Decided, DbError> {
    let Some(payout) = find_payout(conn, id).await? else {
        return Ok(Decided::Missing);
    };
    let next = match payout.status().decide(decision) {
        Ok(next) => next,
        Err(already) => return Ok(Decided::Already(already.0)),
    };
    // Guarded on the status read: of two deciders exactly one updates.
    let n = with_conn!(conn, |c| diesel::update(
        payouts::table
            .find(id)
            .filter(payouts::status.eq(PayoutStatus::Requested.code()))
    )
    .set((
        payouts::status.eq(next.code()),
        payouts::decided_at.eq(Some(now())),
        payouts::decided_by.eq(Some(operator)),
        payouts::note.eq(Some(note)),
    ))
    .execute(c)
    .await)?;
    if n == 0 {
        let now_status = find_payout(conn, id)
            .await?
            .map_or(PayoutStatus::Paid, |p| p.status());
        return Ok(Decided::Already(now_status));
    }
    if next.returns_points() {
        wallets::credit(
            conn,
            payout.user_id,
            payout.amount,
            LedgerKind::PayoutReturn,
            None,
        )
        .await?;
    }
    let decided = find_payout(conn, id).await?.ok_or(DbError::NotFound)?;
    Ok(Decided::Now(decided))
}

/// Which payouts to list.
#[derive(Debug, Clone, Copy, Default)]
pub struct PayoutFilter {
    /// Of this user.
    pub user: Option<UserId>,
    /// In this status.
    pub status: Option<PayoutStatus>,
}

/// A page of payouts (oldest first when listing requested ones, the order
/// an operator works through them; newest first otherwise) and how many
/// match.
pub async fn list_payouts(
    conn: &mut DbConn,
    filter: PayoutFilter,
    offset: i64,
    limit: i64,
) -> Result<(Vec<Payout>, i64), DbError> {
    macro_rules! filtered {
        () => {{
            let mut query = payouts::table.into_boxed();
            if let Some(user) = filter.user {
                query = query.filter(payouts::user_id.eq(user));
            }
            if let Some(status) = filter.status {
                query = query.filter(payouts::status.eq(status.code()));
            }
            query
        }};
    }
    let oldest_first = filter.status == Some(PayoutStatus::Requested);
    let rows = with_conn!(conn, |c| {
        let query = filtered!();
        let query = if oldest_first {
            query.order(payouts::id.asc())
        } else {
            query.order(payouts::id.desc())
        };
        query
            .offset(offset)
            .limit(limit)
            .select(Payout::as_select())
            .load(c)
            .await
    })?;
    let total: i64 = with_conn!(conn, |c| filtered!().count().get_result(c).await)?;
    Ok((rows, total))
}

/// Won of `user_id`'s payouts still waiting for an operator.
pub async fn pending_payouts(conn: &mut DbConn, user_id: UserId) -> Result<Krw, DbError> {
    let amounts: Vec<i64> = with_conn!(conn, |c| payouts::table
        .filter(payouts::user_id.eq(user_id))
        .filter(payouts::status.eq(PayoutStatus::Requested.code()))
        .select(payouts::amount)
        .load(c)
        .await)?;
    Ok(Krw::new(
        amounts.into_iter().fold(0i64, i64::saturating_add),
    ))
}
