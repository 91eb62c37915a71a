//! Point wallets and their ledger.
//!
//! Every change is a guarded single-row UPDATE (the guard is the rule:
//! "available covers it", "held covers it"), followed by a ledger entry
//! carrying the balances after the change. Callers wrap a bid or a
//! settlement's several changes in one transaction.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use diesel_async::RunQueryDsl;
use sitga_auction::{Krw, PointMove, Wallet, WalletMove};
use sitga_core::{AuctionId, UserId};

use crate::schema::{ledger_entries, wallets};
use crate::statement::{Bind, Statement, placeholders};
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
    /// Added by an admin (the audit log says who and why).
    AdjustCredit,
    /// Taken away by an admin (the audit log says who and why).
    AdjustDebit,
    /// A rejected payout's points, back in the wallet.
    PayoutReturn,
    /// Paid into a sale's escrow (the winning bid at the close, the courier
    /// fee with the buyer's details).
    Escrow,
    /// A sale's escrow back to its buyer (cancelled, or a dispute refunded
    /// or split).
    Refund,
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
            Self::AdjustCredit => "adjust_credit",
            Self::AdjustDebit => "adjust_debit",
            Self::PayoutReturn => "payout_return",
            Self::Escrow => "escrow",
            Self::Refund => "refund",
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
    pub user_id: UserId,
    /// Kind code.
    pub kind: String,
    /// Amount moved (always positive; the kind says which way).
    pub amount: Krw,
    /// Balance after.
    pub balance_after: Krw,
    /// Held after.
    pub held_after: Krw,
    /// The auction involved, if any.
    pub auction_id: Option<AuctionId>,
    created_at: NaiveDateTime,
}

impl LedgerEntry {
    /// When it happened.
    pub fn created_at(&self) -> DateTime<Utc> {
        utc(self.created_at)
    }
}

/// Creates the user's wallet if it does not exist yet.
pub async fn ensure(conn: &mut DbConn, user_id: UserId) -> Result<(), DbError> {
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
pub async fn get(conn: &mut DbConn, user_id: UserId) -> Result<Wallet, DbError> {
    let row: Option<(Krw, Krw)> = with_conn!(conn, |c| wallets::table
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
    user_id: UserId,
    kind: LedgerKind,
    amount: Krw,
    auction_id: Option<AuctionId>,
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

/// Adds bought points. Returns the wallet after.
pub async fn charge(conn: &mut DbConn, user_id: UserId, amount: Krw) -> Result<Wallet, DbError> {
    credit(conn, user_id, amount, LedgerKind::Charge, None).await
}

/// Adds points, written in the ledger as `kind`. Returns the wallet after.
pub(crate) async fn credit(
    conn: &mut DbConn,
    user_id: UserId,
    amount: Krw,
    kind: LedgerKind,
    auction_id: Option<AuctionId>,
) -> Result<Wallet, DbError> {
    // Update first, create only when missing: on MySQL an INSERT IGNORE of
    // an existing row takes a shared lock that a concurrent locker of the
    // row turns into a deadlock.
    for _ in 0..2 {
        let n = with_conn!(conn, |c| diesel::update(wallets::table.find(user_id))
            .set((
                wallets::balance.eq(wallets::balance + amount),
                wallets::updated_at.eq(now())
            ))
            .execute(c)
            .await)?;
        if n == 1 {
            return record(conn, user_id, kind, amount, auction_id).await;
        }
        ensure(conn, user_id).await?;
    }
    Err(DbError::Invariant(format!(
        "the wallet of user {user_id} could not be created"
    )))
}

/// An admin's correction: adds `amount` points, or takes `-amount` away if
/// the available amount covers it (`None` if not; nothing changes). Never
/// touches what bids hold.
pub async fn adjust(
    conn: &mut DbConn,
    user_id: UserId,
    amount: i64,
) -> Result<Option<Wallet>, DbError> {
    let size = Krw::new(amount.saturating_abs());
    if amount >= 0 {
        return credit(conn, user_id, size, LedgerKind::AdjustCredit, None)
            .await
            .map(Some);
    }
    debit(conn, user_id, size, LedgerKind::AdjustDebit).await
}

/// Takes points out for a payout if the available amount covers it;
/// `None` if not.
pub async fn withdraw(
    conn: &mut DbConn,
    user_id: UserId,
    amount: Krw,
) -> Result<Option<Wallet>, DbError> {
    debit(conn, user_id, amount, LedgerKind::Withdraw).await
}

/// Takes points out (written in the ledger as `kind`) if the available
/// amount covers it; `None` if not (nothing changes). Never touches what
/// bids hold.
async fn debit(
    conn: &mut DbConn,
    user_id: UserId,
    amount: Krw,
    kind: LedgerKind,
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
    record(conn, user_id, kind, amount, None).await.map(Some)
}

/// Reserves `amount` for a leading bid if the available amount covers it;
/// `false` if not (nothing changes).
pub async fn hold(
    conn: &mut DbConn,
    user_id: UserId,
    amount: Krw,
    auction_id: AuctionId,
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
    user_id: UserId,
    amount: Krw,
    auction_id: AuctionId,
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

/// Turns the winner's hold into the sale's escrow: the points leave the
/// winner's wallet (and its hold) and wait in the sale until it is settled,
/// cancelled or refunded.
pub async fn hold_to_escrow(
    conn: &mut DbConn,
    winner_id: UserId,
    price: Krw,
    auction_id: AuctionId,
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
    record(conn, winner_id, LedgerKind::Escrow, price, Some(auction_id)).await?;
    Ok(())
}

/// Moves `amount` of the buyer's available points into a sale's escrow (the
/// courier fee); `false` if what is available does not cover it (nothing
/// changes).
pub async fn pay_into_escrow(
    conn: &mut DbConn,
    buyer_id: UserId,
    amount: Krw,
    auction_id: AuctionId,
) -> Result<bool, DbError> {
    let n = with_conn!(conn, |c| diesel::update(
        wallets::table
            .find(buyer_id)
            .filter((wallets::balance - wallets::held).ge(amount))
    )
    .set((
        wallets::balance.eq(wallets::balance - amount),
        wallets::updated_at.eq(now()),
    ))
    .execute(c)
    .await)?;
    if n == 0 {
        return Ok(false);
    }
    record(conn, buyer_id, LedgerKind::Escrow, amount, Some(auction_id)).await?;
    Ok(true)
}

/// Pays `amount` out of a sale's escrow to `user_id`: the seller's
/// [`LedgerKind::Sale`] or the buyer's [`LedgerKind::Refund`].
pub async fn pay_from_escrow(
    conn: &mut DbConn,
    user_id: UserId,
    amount: Krw,
    kind: LedgerKind,
    auction_id: AuctionId,
) -> Result<(), DbError> {
    credit(conn, user_id, amount, kind, Some(auction_id)).await?;
    Ok(())
}

/// Reads the wallets of `user_ids` and, on MySQL, locks them until the
/// transaction ends (SQLite's `BEGIN IMMEDIATE` already holds the write
/// lock). A user without a wallet row gets an empty wallet.
pub async fn lock_many(
    conn: &mut DbConn,
    user_ids: &[UserId],
) -> Result<HashMap<UserId, Wallet>, DbError> {
    let mut found: HashMap<UserId, Wallet> =
        user_ids.iter().map(|&id| (id, Wallet::default())).collect();
    if user_ids.is_empty() {
        return Ok(found);
    }
    let lock = if conn.is_mysql() { " FOR UPDATE" } else { "" };
    let query = Statement::<(BigInt, BigInt, BigInt)>::new(
        format!(
            "SELECT user_id, balance, held FROM wallets WHERE user_id IN ({}){lock}",
            placeholders(user_ids.len())
        ),
        user_ids.iter().map(|&id| Bind::Int(id.get())).collect(),
    );
    let rows: Vec<(i64, i64, i64)> = with_conn!(conn, |c| query.load(c).await)?;
    for (id, balance, held) in rows {
        let wallet = Wallet {
            balance: Krw::new(balance),
            held: Krw::new(held),
        };
        found.insert(UserId::new(id), wallet);
    }
    Ok(found)
}

/// Writes the holds and releases of a bid batch: each wallet's final value
/// (from `before`, read by [`lock_many`] in this transaction) in one UPDATE,
/// and one ledger line per move in one INSERT.
pub async fn apply_moves(
    conn: &mut DbConn,
    auction_id: AuctionId,
    before: &HashMap<UserId, Wallet>,
    after: &BTreeMap<UserId, Wallet>,
    moves: &[WalletMove],
) -> Result<(), DbError> {
    if !hold_if_unchanged(conn, before, after).await? {
        return Err(DbError::Invariant(format!(
            "a wallet locked for auction {auction_id} changed under its lock"
        )));
    }
    if let Some(insert) = ledger_lines(auction_id, moves) {
        with_conn!(conn, |c| insert.execute(c).await)?;
    }
    Ok(())
}

/// The ledger lines of `moves`, written with the commit ([`DbConn`]'s
/// writes at commit: on MySQL in the commit's round trip), after
/// [`hold_if_unchanged`] wrote the wallets; the transaction runs nothing
/// after it but other writes at commit.
pub fn log_moves_at_commit(
    conn: &mut DbConn,
    auction_id: AuctionId,
    moves: &[WalletMove],
) -> Result<(), DbError> {
    conn.write_at_commit(ledger_lines(auction_id, moves))
}

/// The wallet half of [`apply_moves`], for a batch planned with wallets
/// that may be out of date (a bid writer's copies from its earlier batches,
/// not read under a lock in this transaction): each wallet of `after` that
/// differs from `before` gets its new `held`, in one UPDATE that writes only
/// wallets still exactly as in `before`, which locks them as a locking read
/// would. `Ok(false)` when one was not: the batch was planned on a stale
/// value, nothing but that UPDATE's rows was written, and the caller must
/// roll the transaction back. Every wallet the plan read must be in `after`
/// with a different value, or be read under a lock: an unchanged one is not
/// checked here. The ledger lines are the caller's to write
/// ([`log_moves_at_commit`]).
pub async fn hold_if_unchanged(
    conn: &mut DbConn,
    before: &HashMap<UserId, Wallet>,
    after: &BTreeMap<UserId, Wallet>,
) -> Result<bool, DbError> {
    let changed: Vec<(UserId, Wallet, Wallet)> = after
        .iter()
        .filter_map(|(&id, &wallet)| {
            let was = before.get(&id).copied().unwrap_or_default();
            (was != wallet).then_some((id, was, wallet))
        })
        .collect();
    if changed.is_empty() {
        return Ok(true);
    }
    // Holds and releases move `held` only; the CHECK constraint
    // (0 <= held <= balance) backs the arithmetic. The guard compares
    // each row with the value the plan started from.
    let mut binds = Vec::with_capacity(changed.len() * 6 + 1);
    let mut cases = String::new();
    for (id, _, wallet) in &changed {
        cases.push_str(" WHEN ? THEN ?");
        binds.extend([Bind::Int(id.get()), Bind::Int(wallet.held.get())]);
    }
    binds.push(Bind::Time(now()));
    binds.extend(changed.iter().map(|(id, _, _)| Bind::Int(id.get())));
    let mut guards = String::new();
    for (id, was, _) in &changed {
        guards.push_str(" WHEN ? THEN balance = ? AND held = ?");
        binds.extend([
            Bind::Int(id.get()),
            Bind::Int(was.balance.get()),
            Bind::Int(was.held.get()),
        ]);
    }
    let update = Statement::<diesel::sql_types::Untyped>::new(
        format!(
            "UPDATE wallets SET held = CASE user_id{cases} END, updated_at = ? \
             WHERE user_id IN ({}) AND CASE user_id{guards} END",
            placeholders(changed.len())
        ),
        binds,
    );
    let n = with_conn!(conn, |c| update.execute(c).await)?;
    Ok(n == changed.len())
}

/// One INSERT of a ledger line per move (`None` without moves).
fn ledger_lines(auction_id: AuctionId, moves: &[WalletMove]) -> Option<Statement> {
    if moves.is_empty() {
        return None;
    }
    let at = now();
    let mut binds = Vec::with_capacity(moves.len() * 7);
    for m in moves {
        let kind = match m.kind {
            PointMove::Hold => LedgerKind::Hold,
            PointMove::Release => LedgerKind::Release,
        };
        binds.extend([
            Bind::Int(m.user_id.get()),
            Bind::Text(kind.code().to_owned()),
            Bind::Int(m.amount.get()),
            Bind::Int(m.after.balance.get()),
            Bind::Int(m.after.held.get()),
            Bind::OptInt(Some(auction_id.get())),
            Bind::Time(at),
        ]);
    }
    let row = "(?, ?, ?, ?, ?, ?, ?)";
    Some(Statement::new(
        format!(
            "INSERT INTO ledger_entries \
             (user_id, kind, amount, balance_after, held_after, auction_id, created_at) VALUES {}",
            vec![row; moves.len()].join(", ")
        ),
        binds,
    ))
}

/// The user's ledger, newest first.
pub async fn ledger(
    conn: &mut DbConn,
    user_id: UserId,
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
pub async fn totals(conn: &mut DbConn) -> Result<(Krw, Krw), DbError> {
    let rows: Vec<(Krw, Krw)> = with_conn!(conn, |c| wallets::table
        .select((wallets::balance, wallets::held))
        .load(c)
        .await)?;
    Ok(rows
        .iter()
        .fold((Krw::ZERO, Krw::ZERO), |(b, h), &(rb, rh)| (b + rb, h + rh)))
}
