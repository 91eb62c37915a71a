//! Point wallets and their ledger.
//!
//! Every change is a guarded single-row UPDATE (the guard is the rule:
//! "available covers it", "held covers it"), followed by a ledger entry
//! carrying the balances after the change. Callers wrap a bid or a
//! settlement's several changes in one transaction.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use sitga_auction::{Krw, Wallet};

use crate::schema::{ledger_entries, wallets};
use crate::time::{now, utc};
use crate::{DbConn, DbError, with_conn};

/// What moved points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LedgerKind {
    /// Points bought.
    Charge,
    /// Points paid out to the bank account.
    Withdraw,
    /// Reserved by a leading bid.
    Hold,
    /// Reservation lifted (outbid, or the auction did not sell).
    Release,
    /// Paid for a won auction.
    Payment,
    /// Received for a sold auction.
    Sale,
}

impl LedgerKind {
    /// Stored code.
    pub fn code(self) -> &'static str {
        match self {
            Self::Charge => "charge",
            Self::Withdraw => "withdraw",
            Self::Hold => "hold",
            Self::Release => "release",
            Self::Payment => "payment",
            Self::Sale => "sale",
        }
    }
}

/// One ledger line.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = ledger_entries)]
pub struct LedgerEntry {
    /// Id (increasing).
    pub id: i64,
    /// Owner.
    pub user_id: i64,
    /// Kind code.
    pub kind: String,
    /// Amount moved (always positive; the kind says which way).
    pub amount: i64,
    /// Balance after.
    pub balance_after: i64,
    /// Held after.
    pub held_after: i64,
    /// The auction involved, if any.
    pub auction_id: Option<i64>,
    created_at: NaiveDateTime,
}

impl LedgerEntry {
    /// When it happened.
    pub fn created_at(&self) -> DateTime<Utc> {
        utc(self.created_at)
    }
}

/// Creates the user's wallet if it does not exist yet.
pub async fn ensure(conn: &mut DbConn, user_id: i64) -> Result<(), DbError> {
    let insert = diesel::insert_or_ignore_into(wallets::table).values((
        wallets::user_id.eq(user_id),
        wallets::balance.eq(0),
        wallets::held.eq(0),
        wallets::updated_at.eq(now()),
    ));
    with_conn!(conn, |c| insert.execute(c).await)?;
    Ok(())
}

/// The user's wallet (empty if never used).
pub async fn get(conn: &mut DbConn, user_id: i64) -> Result<Wallet, DbError> {
    let row: Option<(i64, i64)> = with_conn!(conn, |c| wallets::table
        .find(user_id)
        .select((wallets::balance, wallets::held))
        .first(c)
        .await
        .optional())?;
    Ok(row.map_or(Wallet::default(), |(balance, held)| Wallet {
        balance,
        held,
    }))
}

async fn record(
    conn: &mut DbConn,
    user_id: i64,
    kind: LedgerKind,
    amount: Krw,
    auction_id: Option<i64>,
) -> Result<Wallet, DbError> {
    let after = get(conn, user_id).await?;
    let insert = diesel::insert_into(ledger_entries::table).values((
        ledger_entries::user_id.eq(user_id),
        ledger_entries::kind.eq(kind.code()),
        ledger_entries::amount.eq(amount),
        ledger_entries::balance_after.eq(after.balance),
        ledger_entries::held_after.eq(after.held),
        ledger_entries::auction_id.eq(auction_id),
        ledger_entries::created_at.eq(now()),
    ));
    with_conn!(conn, |c| insert.execute(c).await)?;
    Ok(after)
}

/// Adds points. Returns the wallet after.
pub async fn charge(conn: &mut DbConn, user_id: i64, amount: Krw) -> Result<Wallet, DbError> {
    ensure(conn, user_id).await?;
    with_conn!(conn, |c| diesel::update(wallets::table.find(user_id))
        .set((
            wallets::balance.eq(wallets::balance + amount),
            wallets::updated_at.eq(now())
        ))
        .execute(c)
        .await)?;
    record(conn, user_id, LedgerKind::Charge, amount, None).await
}

/// Takes points out if the available amount covers it; `None` if not.
pub async fn withdraw(
    conn: &mut DbConn,
    user_id: i64,
    amount: Krw,
) -> Result<Option<Wallet>, DbError> {
    let n = with_conn!(conn, |c| diesel::update(
        wallets::table
            .find(user_id)
            .filter((wallets::balance - wallets::held).ge(amount))
    )
    .set((
        wallets::balance.eq(wallets::balance - amount),
        wallets::updated_at.eq(now())
    ))
    .execute(c)
    .await)?;
    if n == 0 {
        return Ok(None);
    }
    record(conn, user_id, LedgerKind::Withdraw, amount, None)
        .await
        .map(Some)
}

/// Reserves `amount` for a leading bid if the available amount covers it;
/// `false` if not (nothing changes).
pub async fn hold(
    conn: &mut DbConn,
    user_id: i64,
    amount: Krw,
    auction_id: i64,
) -> Result<bool, DbError> {
    let n = with_conn!(conn, |c| diesel::update(
        wallets::table
            .find(user_id)
            .filter((wallets::balance - wallets::held).ge(amount))
    )
    .set((
        wallets::held.eq(wallets::held + amount),
        wallets::updated_at.eq(now())
    ))
    .execute(c)
    .await)?;
    if n == 0 {
        return Ok(false);
    }
    record(conn, user_id, LedgerKind::Hold, amount, Some(auction_id)).await?;
    Ok(true)
}

/// Lifts a reservation. Fails (no change) if less is held, which would mean
/// the books disagree: callers roll back.
pub async fn release(
    conn: &mut DbConn,
    user_id: i64,
    amount: Krw,
    auction_id: i64,
) -> Result<(), DbError> {
    let n = with_conn!(conn, |c| diesel::update(
        wallets::table
            .find(user_id)
            .filter(wallets::held.ge(amount))
    )
    .set((
        wallets::held.eq(wallets::held - amount),
        wallets::updated_at.eq(now())
    ))
    .execute(c)
    .await)?;
    if n == 0 {
        return Err(DbError::Invariant(format!(
            "release of {amount} for user {user_id} exceeds what is held"
        )));
    }
    record(conn, user_id, LedgerKind::Release, amount, Some(auction_id)).await?;
    Ok(())
}

/// Turns the winner's hold into a payment to the seller.
pub async fn pay(
    conn: &mut DbConn,
    winner_id: i64,
    seller_id: i64,
    price: Krw,
    auction_id: i64,
) -> Result<(), DbError> {
    let n = with_conn!(conn, |c| diesel::update(
        wallets::table
            .find(winner_id)
            .filter(wallets::held.ge(price))
    )
    .set((
        wallets::held.eq(wallets::held - price),
        wallets::balance.eq(wallets::balance - price),
        wallets::updated_at.eq(now()),
    ))
    .execute(c)
    .await)?;
    if n == 0 {
        return Err(DbError::Invariant(format!(
            "winner {winner_id} does not hold {price} for auction {auction_id}"
        )));
    }
    record(
        conn,
        winner_id,
        LedgerKind::Payment,
        price,
        Some(auction_id),
    )
    .await?;
    ensure(conn, seller_id).await?;
    with_conn!(conn, |c| diesel::update(wallets::table.find(seller_id))
        .set((
            wallets::balance.eq(wallets::balance + price),
            wallets::updated_at.eq(now())
        ))
        .execute(c)
        .await)?;
    record(conn, seller_id, LedgerKind::Sale, price, Some(auction_id)).await?;
    Ok(())
}

/// The user's ledger, newest first.
pub async fn ledger(
    conn: &mut DbConn,
    user_id: i64,
    offset: i64,
    limit: i64,
) -> Result<(Vec<LedgerEntry>, i64), DbError> {
    let rows = with_conn!(conn, |c| ledger_entries::table
        .filter(ledger_entries::user_id.eq(user_id))
        .order(ledger_entries::id.desc())
        .offset(offset)
        .limit(limit)
        .select(LedgerEntry::as_select())
        .load(c)
        .await)?;
    let total: i64 = with_conn!(conn, |c| ledger_entries::table
        .filter(ledger_entries::user_id.eq(user_id))
        .count()
        .get_result(c)
        .await)?;
    Ok((rows, total))
}

/// Sum of all balances and of all holds: what conservation checks compare.
pub async fn totals(conn: &mut DbConn) -> Result<(i64, i64), DbError> {
    let rows: Vec<(i64, i64)> = with_conn!(conn, |c| wallets::table
        .select((wallets::balance, wallets::held))
        .load(c)
        .await)?;
    Ok(rows
        .iter()
        .fold((0, 0), |(b, h), (rb, rh)| (b + rb, h + rh)))
}
