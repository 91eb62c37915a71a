//! Operators verify cafes' and recyclers' business registrations. A
//! verification then counts every completed pickup of the business that
//! was waiting only for it.

use chrono::{DateTime, Utc};
use paperclip::actix::{Apiv2Schema, api_v2_operation, web};
use serde::{Deserialize, Serialize};
use sitga_core::UserId;
use sitga_persistence::audit::{self, AuditAction, NewAudit};
use sitga_persistence::businesses::{self, Business};
use sitga_persistence::users;
use sitga_realtime::counting::Counter;
use sitga_user::{Role, VerificationDecision, VerificationStatus};

use super::admin::admin_reason;
use super::dto::{AccountTypeDto, BusinessDto, PageQuery};
use crate::auth::AuthUser;
use crate::error::{ApiError, ErrorCode};
use crate::extract::{JsonBody, QueryParams};
use crate::state::AppState;

/// `?status=pending|verified|rejected` (default `pending`) and a page.
#[derive(Debug, Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct VerificationQuery {
    /// `pending` (default: the queue, oldest first), `verified` or
    /// `rejected` (newest first).
    pub status: Option<String>,
    /// Page number, from 1.
    pub page: Option<u32>,
    /// Items per page, 1–100.
    pub per_page: Option<u32>,
}

/// A business registration as operators see it.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct VerificationItemDto {
    /// The account.
    pub user_id: i64,
    /// Its nickname.
    pub nickname: String,
    /// `cafe` or `recycler`.
    pub account_type: AccountTypeDto,
    /// The registration.
    pub business: BusinessDto,
    /// `pending`, `verified` or `rejected`.
    pub status: String,
    /// Why it was rejected.
    pub reason: Option<String>,
    /// Given or last changed.
    pub submitted_at: DateTime<Utc>,
    /// Decided.
    pub decided_at: Option<DateTime<Utc>>,
}

/// A page of registrations.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct VerificationPage {
    /// Registrations.
    pub items: Vec<VerificationItemDto>,
    /// Page.
    pub page: u32,
    /// Page size.
    pub per_page: u32,
    /// All of them.
    pub total: i64,
}

async fn items(
    conn: &mut sitga_persistence::DbConn,
    rows: Vec<Business>,
) -> Result<Vec<VerificationItemDto>, ApiError> {
    let ids: Vec<UserId> = rows.iter().map(|b| b.user_id).collect();
    let accounts = users::find_many(conn, &ids).await?;
    Ok(rows
        .into_iter()
        .filter_map(|b| {
            let user = accounts.get(&b.user_id)?;
            Some(VerificationItemDto {
                user_id: b.user_id.get(),
                nickname: user.nickname.clone(),
                account_type: user.account_type.into(),
                business: BusinessDto {
                    number: b.number().formatted(),
                    name: b.name.clone(),
                },
                status: b.status().code().to_owned(),
                submitted_at: b.submitted_at(),
                decided_at: b.decided_at(),
                reason: b.reason,
            })
        })
        .collect())
}

/// Business registrations to verify (operators)
#[api_v2_operation(tags(Admin))]
pub async fn list(
    state: web::Data<AppState>,
    auth: AuthUser,
    query: QueryParams<VerificationQuery>,
) -> Result<web::Json<VerificationPage>, ApiError> {
    auth.require(Role::Operator)?;
    let q = query.0;
    let (page, per_page, offset) = PageQuery::of(q.page, q.per_page).resolve()?;
    let status = match q.status.as_deref() {
        None => VerificationStatus::Pending,
        Some(raw) => VerificationStatus::parse(raw)
            .filter(|s| *s != VerificationStatus::Unsubmitted)
            .ok_or_else(|| ApiError::BadRequest {
                code: ErrorCode::InvalidQuery,
                message: "status must be pending, verified or rejected".into(),
                field: Some("status".into()),
            })?,
    };
    let mut conn = state.db.get().await?;
    let (rows, total) =
        businesses::list(&mut conn, Some(status), offset, i64::from(per_page)).await?;
    Ok(web::Json(VerificationPage {
        items: items(&mut conn, rows).await?,
        page,
        per_page,
        total,
    }))
}

/// An operator's decision.
#[derive(Debug, Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct DecisionRequest {
    /// `verified` or `rejected`.
    pub decision: String,
    /// Why, 5–500 characters: required to reject, kept in the audit log.
    pub reason: Option<String>,
}

/// User id.
#[derive(Debug, Deserialize, Apiv2Schema)]
pub struct VerificationPath {
    /// The business's account.
    pub user_id: i64,
}

/// A decision and what it set counting.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct DecisionDto {
    /// The registration after the decision.
    pub verification: VerificationItemDto,
    /// Completed pickups of this business that began to count now.
    pub pickups_now_counting: i64,
}

/// Verify or reject a business registration (operators)
///
/// Only a `pending` registration is decided (409
/// `verification_not_pending` otherwise; a business that changes its
/// number or name is pending again). Audited. Verifying counts, at once,
/// the business's completed pickups whose other side is verified too (right
/// after the decision is committed).
#[api_v2_operation(tags(Admin))]
pub async fn decide(
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<VerificationPath>,
    body: JsonBody<DecisionRequest>,
) -> Result<web::Json<DecisionDto>, ApiError> {
    auth.require(Role::Operator)?;
    let req = body.0;
    let decision = VerificationDecision::parse(&req.decision)?;
    let reason = match (decision, req.reason.as_deref()) {
        (_, Some(raw)) => Some(admin_reason(raw)?),
        (VerificationDecision::Rejected, None) => {
            return Err(sitga_core::FieldError::inconsistent(
                "reason",
                "a rejection needs a reason the business can act on",
            )
            .into());
        }
        (VerificationDecision::Verified, None) => None,
    };
    let user_id = UserId::new(path.user_id);
    let mut tx = state.db.begin().await?;
    if !businesses::decide(&mut tx, user_id, decision, reason.as_deref(), auth.id).await? {
        return Err(match businesses::find(&mut tx, user_id).await? {
            None => ApiError::NotFound("business registration"),
            Some(b) => ApiError::Conflict {
                code: ErrorCode::VerificationNotPending,
                message: format!("the registration is already {}", b.status().code()),
                field: None,
            },
        });
    }
    audit::record(
        &mut tx,
        &NewAudit {
            actor: Some(auth.id),
            action: match decision {
                VerificationDecision::Verified => AuditAction::BusinessVerified,
                VerificationDecision::Rejected => AuditAction::BusinessRejected,
            },
            subject_user: Some(user_id),
            subject_auction: None,
            amount: None,
            reason: reason.as_deref(),
        },
    )
    .await?;
    let decided = businesses::find(&mut tx, user_id)
        .await?
        .ok_or(ApiError::NotFound("business registration"))?;
    let verification = items(&mut tx, vec![decided])
        .await?
        .pop()
        .ok_or(ApiError::NotFound("user"))?;
    tx.commit().await?;
    // The catch-up reads after the decision is committed: when two
    // operators verify a pickup's two sides at once, the later of the two
    // sees both (inside each decision's own transaction neither would).
    // A crash in between is caught up by the daily safety net.
    let counted = if decision == VerificationDecision::Verified {
        let mut tx = state.db.begin().await?;
        let counted = Counter {
            chain: state.chain.as_ref(),
            calendar: state.calendar,
        }
        .catch_up_user(&mut tx, user_id)
        .await?;
        // Badges it earned are told live.
        state.bus.stored(tx.commit_told().await?);
        counted
    } else {
        0
    };
    tracing::info!(
        user_id = user_id.get(),
        operator = auth.id.get(),
        decision = decision.code(),
        counted,
        "business registration decided"
    );
    Ok(web::Json(DecisionDto {
        verification,
        pickups_now_counting: i64::try_from(counted).unwrap_or(i64::MAX),
    }))
}
