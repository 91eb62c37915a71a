//! Administration: users, point adjustments, any user's ledger, every
//! sale, and the append-only audit log.

use chrono::{DateTime, Utc};
use paperclip::actix::{Apiv2Schema, NoContent, api_v2_operation, web};
use serde::{Deserialize, Serialize};
use sitga_auction::{AuctionStatus, Krw, PayoutDecision, PayoutStatus};
use sitga_core::{FieldError, UserId};
use sitga_persistence::audit::{self, AuditAction, AuditFilter, NewAudit};
use sitga_persistence::{auctions, payments, refresh_tokens, users, wallets};
use sitga_realtime::bus::Revocation;
use sitga_realtime::closing::RemoveResult;

use super::auctions::{AuctionDto, AuctionPath, load_dto};
use super::dto::{PageQuery, UserDto};
use super::wallet::{BalanceDto, LedgerPage, PayoutDto, PayoutPage, ledger_page, payout_page};
use crate::auth::AdminUser;
use crate::error::{ApiError, ErrorCode};
use crate::extract::{JsonBody, QueryParams};
use crate::state::AppState;

/// A page of users.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct UserPage {
    /// The users on this page, oldest first.
    pub items: Vec<UserDto>,
    /// This page's number (from 1).
    pub page: u32,
    /// Page size.
    pub per_page: u32,
    /// All users.
    pub total: i64,
}

/// List users (admin)
#[api_v2_operation(tags(Admin))]
pub async fn list_users(
    state: web::Data<AppState>,
    _admin: AdminUser,
    query: QueryParams<PageQuery>,
) -> Result<web::Json<UserPage>, ApiError> {
    let (page, per_page, offset) = query.0.resolve()?;
    let mut conn = state.db.get().await?;
    let (found, total) = users::list(&mut conn, offset, i64::from(per_page)).await?;
    let ids: Vec<_> = found.iter().map(|u| u.id).collect();
    let roles = users::roles_for(&mut conn, &ids).await?;
    let registered = sitga_persistence::businesses::of_users(&mut conn, &ids).await?;
    let items = found
        .into_iter()
        .map(|user| {
            let held = roles.get(&user.id).map(Vec::as_slice).unwrap_or_default();
            let business = registered.get(&user.id);
            UserDto::from_user(user, held, business)
        })
        .collect();
    Ok(web::Json(UserPage {
        items,
        page,
        per_page,
        total,
    }))
}

/// A user id in the path.
#[derive(Debug, Deserialize, Apiv2Schema)]
pub struct UserPath {
    /// User id.
    pub id: i64,
}

/// A correction of a user's points.
#[derive(Debug, Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct AdjustRequest {
    /// KRW to add (positive) or take away (negative); not zero, at most
    /// 10,000,000 either way. Points that bids hold are never taken.
    pub amount: i64,
    /// Why, 5–500 characters: kept in the audit log.
    pub reason: String,
}

/// Largest single adjustment.
pub const MAX_ADJUSTMENT: i64 = 10_000_000;
/// Shortest reason an admin gives (after trimming).
pub const REASON_MIN: usize = 5;
/// Longest reason an admin gives.
pub const REASON_MAX: usize = 500;
/// Longest bank transfer reference.
pub const REFERENCE_MAX: usize = 100;

/// One line of an admin's text (a reason, a transfer reference): trimmed,
/// `min..=max` characters, no control characters.
pub(super) fn admin_text(
    field: &str,
    raw: &str,
    min: usize,
    max: usize,
) -> Result<String, ApiError> {
    let text = raw.trim();
    let len = text.chars().count();
    if !(min..=max).contains(&len) || text.chars().any(char::is_control) {
        return Err(ApiError::invalid_field(
            field,
            format!("must be {min} to {max} characters without control characters"),
        ));
    }
    Ok(text.to_owned())
}

pub(super) fn admin_reason(raw: &str) -> Result<String, ApiError> {
    admin_text("reason", raw, REASON_MIN, REASON_MAX)
}

/// Adjust a user's points (admin)
///
/// Adds or takes away points with a mandatory reason; the ledger gets an
/// `adjust_credit` / `adjust_debit` line and the audit log a row naming the
/// admin, in one transaction. 409 `insufficient_balance` when a debit is
/// more than the user has available.
#[api_v2_operation(tags(Admin))]
pub async fn adjust(
    state: web::Data<AppState>,
    AdminUser(auth): AdminUser,
    path: web::Path<UserPath>,
    body: JsonBody<AdjustRequest>,
) -> Result<web::Json<BalanceDto>, ApiError> {
    let req = body.0;
    if req.amount == 0 || req.amount.saturating_abs() > MAX_ADJUSTMENT {
        return Err(ApiError::invalid_field(
            "amount",
            "must be non-zero and at most 10,000,000 either way",
        ));
    }
    let reason = admin_reason(&req.reason)?;
    let user = UserId::new(path.id);
    let mut tx = state.db.begin().await?;
    if users::find_by_id(&mut tx, user).await?.is_none() {
        return Err(ApiError::NotFound("user"));
    }
    let Some(after) = wallets::adjust(&mut tx, user, req.amount).await? else {
        let available = wallets::get(&mut tx, user).await?.available();
        return Err(ApiError::Conflict {
            code: ErrorCode::InsufficientBalance,
            message: format!("only {available} won is available"),
            field: Some("amount"),
        });
    };
    audit::record(
        &mut tx,
        &NewAudit {
            actor: Some(auth.id),
            action: if req.amount > 0 {
                AuditAction::AdjustCredit
            } else {
                AuditAction::AdjustDebit
            },
            subject_user: Some(user),
            subject_auction: None,
            amount: Some(Krw::new(req.amount.saturating_abs())),
            reason: Some(&reason),
        },
    )
    .await?;
    tx.commit().await?;
    tracing::info!(
        user_id = auth.id.get(),
        subject = user.get(),
        amount = req.amount,
        "points adjusted"
    );
    Ok(web::Json(after.into()))
}

/// Any user's points ledger (admin)
#[api_v2_operation(tags(Admin))]
pub async fn user_ledger(
    state: web::Data<AppState>,
    _admin: AdminUser,
    path: web::Path<UserPath>,
    query: QueryParams<PageQuery>,
) -> Result<web::Json<LedgerPage>, ApiError> {
    let user = UserId::new(path.id);
    {
        let mut conn = state.db.get().await?;
        if users::find_by_id(&mut conn, user).await?.is_none() {
            return Err(ApiError::NotFound("user"));
        }
    }
    Ok(web::Json(ledger_page(&state, user, &query.0).await?))
}

/// Which audit rows (every field narrows; all optional).
#[derive(Debug, Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Done by this user id.
    pub actor: Option<i64>,
    /// Done to this user id.
    pub subject: Option<i64>,
    /// `charge`, `withdraw`, `adjust_credit`, `adjust_debit`, `settlement`,
    /// `role_grant`, `role_revoke`, `ban` or `unban`.
    pub action: Option<String>,
    /// At or after (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Before (RFC 3339).
    pub to: Option<DateTime<Utc>>,
    /// Page (from 1).
    pub page: Option<u32>,
    /// Page size (1–100, default 20).
    pub per_page: Option<u32>,
}

/// One audit row.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct AuditEntryDto {
    /// Id (rows are only ever added).
    pub id: i64,
    /// When.
    pub at: DateTime<Utc>,
    /// Who (absent: the system, e.g. an auction closing).
    pub actor_id: Option<i64>,
    /// What.
    pub action: String,
    /// To whom.
    pub subject_user_id: Option<i64>,
    /// Which auction.
    pub subject_auction_id: Option<i64>,
    /// Points moved (KRW).
    pub amount: Option<i64>,
    /// Why.
    pub reason: Option<String>,
}

/// A page of audit rows.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct AuditPage {
    /// Newest first.
    pub items: Vec<AuditEntryDto>,
    /// Page.
    pub page: u32,
    /// Page size.
    pub per_page: u32,
    /// Rows matching.
    pub total: i64,
}

/// The audit log (admin)
///
/// Every admin action and every money movement that is not a bid hold
/// (charges, payout requests and decisions, adjustments, settlements,
/// refunds), newest first. Rows are
/// append-only: the database refuses to change or delete them.
#[api_v2_operation(tags(Admin))]
pub async fn audit_log(
    state: web::Data<AppState>,
    _admin: AdminUser,
    query: QueryParams<AuditQuery>,
) -> Result<web::Json<AuditPage>, ApiError> {
    let q = query.0;
    let action = match q.action.as_deref() {
        None => None,
        Some(code) => Some(AuditAction::from_code(code).ok_or_else(|| {
            let known: Vec<&str> = AuditAction::ALL.iter().map(|a| a.code()).collect();
            ApiError::BadRequest {
                code: ErrorCode::InvalidQuery,
                message: format!("action must be one of {}", known.join(", ")),
                field: Some("action".into()),
            }
        })?),
    };
    let (page, per_page, offset) = PageQuery::of(q.page, q.per_page).resolve()?;
    let filter = AuditFilter {
        actor: q.actor.map(UserId::new),
        subject_user: q.subject.map(UserId::new),
        action,
        from: q.from,
        to: q.to,
    };
    let mut conn = state.db.get().await?;
    let (rows, total) = audit::list(&mut conn, &filter, offset, i64::from(per_page)).await?;
    Ok(web::Json(AuditPage {
        items: rows
            .into_iter()
            .map(|r| AuditEntryDto {
                at: r.at(),
                id: r.id,
                actor_id: r.actor_id.map(UserId::get),
                action: r.action,
                subject_user_id: r.subject_user_id.map(UserId::get),
                subject_auction_id: r.subject_auction_id.map(sitga_core::AuctionId::get),
                amount: r.amount.map(Krw::get),
                reason: r.reason,
            })
            .collect(),
        page,
        per_page,
        total,
    }))
}

/// One sale.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct SaleDto {
    /// Auction id.
    pub auction_id: i64,
    /// Title.
    pub title: String,
    /// Species.
    pub species: Option<String>,
    /// Seller's id.
    pub seller_id: i64,
    /// Seller's nickname.
    pub seller: Option<String>,
    /// Buyer's id.
    pub buyer_id: Option<i64>,
    /// Buyer's nickname.
    pub buyer: Option<String>,
    /// Price paid (KRW).
    pub price: Option<i64>,
    /// When it closed.
    pub closed_at: Option<DateTime<Utc>>,
}

/// A page of sales.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct SalePage {
    /// Newest first.
    pub items: Vec<SaleDto>,
    /// Page.
    pub page: u32,
    /// Page size.
    pub per_page: u32,
    /// All sales.
    pub total: i64,
}

/// Every sale with its buyer and price (admin)
#[api_v2_operation(tags(Admin))]
pub async fn sales(
    state: web::Data<AppState>,
    _admin: AdminUser,
    query: QueryParams<PageQuery>,
) -> Result<web::Json<SalePage>, ApiError> {
    let (page, per_page, offset) = query.0.resolve()?;
    let mut conn = state.db.get().await?;
    let filter = auctions::ListFilter {
        status: Some(AuctionStatus::Sold),
        seller_id: None,
        query: None,
        sort: auctions::Sort::Newest,
    };
    let (rows, total) = auctions::list(&mut conn, &filter, offset, i64::from(per_page)).await?;
    let people: Vec<UserId> = rows
        .iter()
        .flat_map(|a| std::iter::once(a.seller_id).chain(a.leader_id))
        .collect();
    let names = users::nicknames(&mut conn, &people).await?;
    Ok(web::Json(SalePage {
        items: rows
            .into_iter()
            .map(|a| SaleDto {
                closed_at: a.closed_at(),
                auction_id: a.id.get(),
                seller: names.get(&a.seller_id).cloned(),
                buyer: a.leader_id.and_then(|b| names.get(&b).cloned()),
                seller_id: a.seller_id.get(),
                buyer_id: a.leader_id.map(UserId::get),
                price: a.current_price.map(Krw::get),
                title: a.title,
                species: a.species,
            })
            .collect(),
        page,
        per_page,
        total,
    }))
}

/// A ban.
#[derive(Debug, Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct BanRequest {
    /// Why, 5–500 characters: kept in the audit log.
    pub reason: String,
    /// When it ends (RFC 3339, in the future); absent: until lifted.
    pub until: Option<DateTime<Utc>>,
}

/// Why (an unban, a payout's rejection, a listing's removal): shown where
/// it concerns the user, always kept in the audit log.
#[derive(Debug, Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct ReasonRequest {
    /// Why, 5–500 characters: kept in the audit log.
    pub reason: String,
}

/// Ban a user (admin)
///
/// The account can no longer log in or refresh (403 `account_banned`); its
/// sessions end at once on every instance (its tokens answer 401
/// `session_revoked`, its sockets close). Auctions it leads or sells keep
/// their state: an operator decides about them. You cannot ban yourself.
#[api_v2_operation(tags(Admin))]
pub async fn ban(
    state: web::Data<AppState>,
    AdminUser(auth): AdminUser,
    path: web::Path<UserPath>,
    body: JsonBody<BanRequest>,
) -> Result<NoContent, ApiError> {
    let req = body.0;
    let reason = admin_reason(&req.reason)?;
    if req.until.is_some_and(|u| u <= Utc::now()) {
        return Err(FieldError::inconsistent("until", "must be in the future").into());
    }
    let user = UserId::new(path.id);
    if user == auth.id {
        return Err(ApiError::Forbidden {
            code: ErrorCode::NotAllowed,
            message: "you cannot ban yourself",
        });
    }
    let mut tx = state.db.begin().await?;
    if !users::ban(&mut tx, user, req.until, &reason).await? {
        return Err(ApiError::NotFound("user"));
    }
    refresh_tokens::revoke_user_sessions(&mut tx, user, None).await?;
    audit::record(
        &mut tx,
        &NewAudit {
            actor: Some(auth.id),
            action: AuditAction::Ban,
            subject_user: Some(user),
            subject_auction: None,
            amount: None,
            reason: Some(&reason),
        },
    )
    .await?;
    tx.commit().await?;
    state.bus.revoke(Revocation::User(user)).await;
    tracing::info!(user_id = auth.id.get(), subject = user.get(), "user banned");
    Ok(NoContent)
}

/// Lift a ban (admin)
///
/// 404 when the user does not exist; lifting a ban that is not in force
/// is recorded too.
#[api_v2_operation(tags(Admin))]
pub async fn unban(
    state: web::Data<AppState>,
    AdminUser(auth): AdminUser,
    path: web::Path<UserPath>,
    body: JsonBody<ReasonRequest>,
) -> Result<NoContent, ApiError> {
    let reason = admin_reason(&body.0.reason)?;
    let user = UserId::new(path.id);
    let mut tx = state.db.begin().await?;
    if users::find_by_id(&mut tx, user).await?.is_none() {
        return Err(ApiError::NotFound("user"));
    }
    users::unban(&mut tx, user).await?;
    audit::record(
        &mut tx,
        &NewAudit {
            actor: Some(auth.id),
            action: AuditAction::Unban,
            subject_user: Some(user),
            subject_auction: None,
            amount: None,
            reason: Some(&reason),
        },
    )
    .await?;
    tx.commit().await?;
    tracing::info!(user_id = auth.id.get(), subject = user.get(), "ban lifted");
    Ok(NoContent)
}

/// Which payouts to list.
#[derive(Debug, Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct PayoutQuery {
    /// `requested` (oldest first: the order to work through them), `paid`
    /// or `rejected`; absent: all, newest first.
    pub status: Option<String>,
    /// Only this user's.
    pub user_id: Option<i64>,
    /// Page number, from 1.
    pub page: Option<u32>,
    /// Page size, 1–100 (default 20).
    pub per_page: Option<u32>,
}

/// Payout requests (admin)
#[api_v2_operation(tags(Admin))]
pub async fn payouts(
    state: web::Data<AppState>,
    _admin: AdminUser,
    query: QueryParams<PayoutQuery>,
) -> Result<web::Json<PayoutPage>, ApiError> {
    let q = query.0;
    let status = match q.status.as_deref() {
        None => None,
        Some(code) => Some(
            PayoutStatus::parse(code).ok_or_else(|| ApiError::BadRequest {
                code: ErrorCode::InvalidQuery,
                message: "status must be requested, paid or rejected".into(),
                field: Some("status".into()),
            })?,
        ),
    };
    let filter = payments::PayoutFilter {
        user: q.user_id.map(UserId::new),
        status,
    };
    let page = PageQuery::of(q.page, q.per_page);
    Ok(web::Json(payout_page(&state, filter, &page).await?))
}

/// A payout id in the path.
#[derive(Debug, Deserialize, Apiv2Schema)]
pub struct PayoutPath {
    /// Payout id.
    pub id: i64,
}

/// The bank transfer that paid a payout.
#[derive(Debug, Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct PaidRequest {
    /// The transfer's reference at the bank, 1–100 characters.
    pub reference: String,
}

/// Mark a payout paid (admin)
///
/// After the bank transfer: the payout becomes `paid` with the transfer's
/// reference, audited. 409 `payout_not_pending` when it was already paid
/// or rejected.
#[api_v2_operation(tags(Admin))]
pub async fn pay_payout(
    state: web::Data<AppState>,
    AdminUser(auth): AdminUser,
    path: web::Path<PayoutPath>,
    body: JsonBody<PaidRequest>,
) -> Result<web::Json<PayoutDto>, ApiError> {
    let reference = admin_text("reference", &body.0.reference, 1, REFERENCE_MAX)?;
    decide_payout(&state, auth.id, path.id, PayoutDecision::Paid, &reference).await
}

/// Reject a payout (admin)
///
/// The payout becomes `rejected` with the reason and its points return to
/// the user's wallet (a `payout_return` ledger line), in one transaction,
/// audited. 409 `payout_not_pending` when it was already paid or rejected.
#[api_v2_operation(tags(Admin))]
pub async fn reject_payout(
    state: web::Data<AppState>,
    AdminUser(auth): AdminUser,
    path: web::Path<PayoutPath>,
    body: JsonBody<ReasonRequest>,
) -> Result<web::Json<PayoutDto>, ApiError> {
    let reason = admin_reason(&body.0.reason)?;
    decide_payout(&state, auth.id, path.id, PayoutDecision::Rejected, &reason).await
}

async fn decide_payout(
    state: &AppState,
    operator: UserId,
    id: i64,
    decision: PayoutDecision,
    note: &str,
) -> Result<web::Json<PayoutDto>, ApiError> {
    let mut tx = state.db.begin().await?;
    let payout = match payments::decide_payout(&mut tx, id, decision, operator, note).await? {
        payments::Decided::Now(payout) => payout,
        payments::Decided::Missing => return Err(ApiError::NotFound("payout")),
        payments::Decided::Already(status) => {
            return Err(ApiError::Conflict {
                code: ErrorCode::PayoutNotPending,
                message: format!("the payout is already {}", status.code()),
                field: None,
            });
        }
    };
    audit::record(
        &mut tx,
        &NewAudit {
            actor: Some(operator),
            action: match decision {
                PayoutDecision::Paid => AuditAction::PayoutPaid,
                PayoutDecision::Rejected => AuditAction::PayoutRejected,
            },
            subject_user: Some(payout.user_id),
            subject_auction: None,
            amount: Some(payout.amount),
            reason: Some(note),
        },
    )
    .await?;
    tx.commit().await?;
    tracing::info!(
        payout_id = id,
        operator = operator.get(),
        status = payout.status().code(),
        "payout decided"
    );
    Ok(web::Json(payout.into()))
}

/// Remove a listing (admin)
///
/// Cancels an open auction whatever its bids, with a mandatory reason: the
/// leading bid's points go back to the bidder, the room gets `closed` with
/// status `cancelled`, and the removal and the refund are audited. 409
/// `auction_not_open` when it is already sold, unsold or cancelled.
#[api_v2_operation(tags(Admin))]
pub async fn remove_auction(
    state: web::Data<AppState>,
    AdminUser(auth): AdminUser,
    path: web::Path<AuctionPath>,
    body: JsonBody<ReasonRequest>,
) -> Result<web::Json<AuctionDto>, ApiError> {
    let reason = admin_reason(&body.0.reason)?;
    let id = path.auction();
    match state.closer.remove(id, auth.id, &reason).await? {
        RemoveResult::Removed { .. } => {}
        RemoveResult::Missing => return Err(ApiError::NotFound("auction")),
        RemoveResult::NotOpen => {
            return Err(ApiError::Conflict {
                code: ErrorCode::AuctionNotOpen,
                message: "the auction is already closed".into(),
                field: None,
            });
        }
    }
    let mut conn = state.db.get().await?;
    Ok(web::Json(load_dto(&mut conn, id).await?))
}
