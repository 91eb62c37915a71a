//! The audit log: who did what to whom, for every admin or operator action
//! and every money movement that is not a bid hold. Append-only: this
//! module only inserts and reads, and the database's triggers refuse any
//! UPDATE or DELETE of a row whoever sends it.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use sitga_core::{AuctionId, Krw, UserId};

use crate::schema::audit_log;
use crate::time::{naive, now, utc};
use crate::{DbConn, DbError, with_conn};

/// What was done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditAction {
    /// Points bought.
    Charge,
    /// A payout was requested: the points left the wallet.
    Withdraw,
    /// An operator sent a requested payout.
    PayoutPaid,
    /// An operator rejected a payout; its points went back.
    PayoutRejected,
    /// An admin added points.
    AdjustCredit,
    /// An admin took points away.
    AdjustDebit,
    /// A sale's escrow paid its seller (all of it, or the seller's part of
    /// a split).
    Settlement,
    /// A sold auction's winning bid went into its sale's escrow.
    Escrow,
    /// A sale's escrow went back to its buyer (cancelled, refunded, or the
    /// buyer's part of a split).
    SaleRefund,
    /// An operator ended a dispute (the reason names the outcome).
    DisputeResolved,
    /// A role was given (`sitga admin grant`; the reason names the role).
    RoleGrant,
    /// A role was taken away (`sitga admin revoke`).
    RoleRevoke,
    /// An admin banned an account.
    Ban,
    /// An admin lifted a ban.
    Unban,
    /// An admin removed a listing (the auction is cancelled).
    AuctionRemove,
    /// A bid's hold given back because its auction was removed.
    Refund,
    /// An operator verified a business registration.
    BusinessVerified,
    /// An operator rejected a business registration.
    BusinessRejected,
}

impl AuditAction {
    /// Every action.
    pub const ALL: [Self; 18] = [
        Self::Charge,
        Self::Withdraw,
        Self::PayoutPaid,
        Self::PayoutRejected,
        Self::AdjustCredit,
        Self::AdjustDebit,
        Self::Settlement,
        Self::Escrow,
        Self::SaleRefund,
        Self::DisputeResolved,
        Self::RoleGrant,
        Self::RoleRevoke,
        Self::Ban,
        Self::Unban,
        Self::AuctionRemove,
        Self::Refund,
        Self::BusinessVerified,
        Self::BusinessRejected,
    ];

    /// Stored code.
    pub fn code(self) -> &'static str {
        match self {
            Self::Charge => "charge",
            Self::Withdraw => "withdraw",
            Self::AdjustCredit => "adjust_credit",
            Self::AdjustDebit => "adjust_debit",
            Self::Settlement => "settlement",
            Self::RoleGrant => "role_grant",
            Self::RoleRevoke => "role_revoke",
            Self::BusinessVerified => "business_verified",
            Self::BusinessRejected => "business_rejected",
            Self::Ban => "ban",
            Self::Unban => "unban",
            Self::PayoutPaid => "payout_paid",
            Self::PayoutRejected => "payout_rejected",
            Self::AuctionRemove => "auction_remove",
            Self::Refund => "refund",
            Self::Escrow => "escrow",
            Self::SaleRefund => "sale_refund",
            Self::DisputeResolved => "dispute_resolved",
        }
    }

    /// The action of a stored code.
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.code() == code)
    }
}

/// A row to write.
#[derive(Debug, Clone)]
pub struct NewAudit<'a> {
    /// Who did it (`None`: the system, e.g. the closing job).
    pub actor: Option<UserId>,
    /// What.
    pub action: AuditAction,
    /// The account it was done to.
    pub subject_user: Option<UserId>,
    /// The auction it concerns.
    pub subject_auction: Option<AuctionId>,
    /// Points moved.
    pub amount: Option<Krw>,
    /// Why (mandatory for admin actions; at most 500 characters kept).
    pub reason: Option<&'a str>,
}

/// One stored row.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = audit_log)]
pub struct AuditEntry {
    /// Id (also the order).
    pub id: i64,
    at: NaiveDateTime,
    /// Who did it.
    pub actor_id: Option<UserId>,
    /// What (a code of [`AuditAction`]).
    pub action: String,
    /// To whom.
    pub subject_user_id: Option<UserId>,
    /// Which auction.
    pub subject_auction_id: Option<AuctionId>,
    /// Points moved.
    pub amount: Option<Krw>,
    /// Why.
    pub reason: Option<String>,
}

impl AuditEntry {
    /// When.
    pub fn at(&self) -> DateTime<Utc> {
        utc(self.at)
    }
}

/// Appends a row (call inside the transaction that does the deed, so the
/// two commit together).
pub async fn record(conn: &mut DbConn, entry: &NewAudit<'_>) -> Result<(), DbError> {
    let reason: Option<String> = entry.reason.map(|r| r.chars().take(500).collect());
    let insert = diesel::insert_into(audit_log::table).values((
        audit_log::at.eq(now()),
        audit_log::actor_id.eq(entry.actor),
        audit_log::action.eq(entry.action.code()),
        audit_log::subject_user_id.eq(entry.subject_user),
        audit_log::subject_auction_id.eq(entry.subject_auction),
        audit_log::amount.eq(entry.amount),
        audit_log::reason.eq(reason),
    ));
    with_conn!(conn, |c| insert.execute(c).await)?;
    Ok(())
}

/// Which rows to list; every field narrows.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Done by.
    pub actor: Option<UserId>,
    /// Done to.
    pub subject_user: Option<UserId>,
    /// Of this kind.
    pub action: Option<AuditAction>,
    /// At or after.
    pub from: Option<DateTime<Utc>>,
    /// Before.
    pub to: Option<DateTime<Utc>>,
}

/// A page of rows, newest first, and how many match.
pub async fn list(
    conn: &mut DbConn,
    filter: &AuditFilter,
    offset: i64,
    limit: i64,
) -> Result<(Vec<AuditEntry>, i64), DbError> {
    macro_rules! filtered {
        () => {{
            let mut query = audit_log::table.into_boxed();
            if let Some(actor) = filter.actor {
                query = query.filter(audit_log::actor_id.eq(actor));
            }
            if let Some(subject) = filter.subject_user {
                query = query.filter(audit_log::subject_user_id.eq(subject));
            }
            if let Some(action) = filter.action {
                query = query.filter(audit_log::action.eq(action.code()));
            }
            if let Some(from) = filter.from {
                query = query.filter(audit_log::at.ge(naive(from)));
            }
            if let Some(to) = filter.to {
                query = query.filter(audit_log::at.lt(naive(to)));
            }
            query
        }};
    }
    let rows = with_conn!(conn, |c| filtered!()
        .order(audit_log::id.desc())
        .offset(offset)
        .limit(limit)
        .select(AuditEntry::as_select())
        .load(c)
        .await)?;
    let total: i64 = with_conn!(conn, |c| filtered!().count().get_result(c).await)?;
    Ok((rows, total))
}
