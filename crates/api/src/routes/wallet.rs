//! The logged-in user's points and auction results.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use paperclip::actix::{Apiv2Schema, api_v2_operation, web};
use serde::{Deserialize, Serialize};
use sitga_auction::{Krw, Wallet, WalletAmount};
use sitga_core::{AuctionId, UserId};
use sitga_persistence::audit::{self, AuditAction, NewAudit};
use sitga_persistence::{auctions, payments, sales, users, wallets};
use sitga_realtime::payments::{ChargeError, ProviderError};

use super::dto::PageQuery;
use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::error::ErrorCode;
use crate::extract::{JsonBody, QueryParams};
use crate::state::AppState;

/// Points of the logged-in user (KRW).
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct BalanceDto {
    /// Owned.
    pub balance: i64,
    /// Reserved by bids you lead.
    pub held: i64,
    /// What you can bid or withdraw now.
    pub available: i64,
}

impl From<Wallet> for BalanceDto {
    fn from(w: Wallet) -> Self {
        Self {
            balance: w.balance.get(),
            held: w.held.get(),
            available: w.available().get(),
        }
    }
}

/// Your points
#[api_v2_operation(tags(Points))]
pub async fn balance(
    state: web::Data<AppState>,
    auth: AuthUser,
) -> Result<web::Json<BalanceDto>, ApiError> {
    let mut conn = state.db.get().await?;
    Ok(web::Json(wallets::get(&mut conn, auth.id).await?.into()))
}

/// An amount of points.
#[derive(Debug, Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct AmountRequest {
    /// KRW, 1 … 10,000,000.
    pub amount: i64,
}

fn wallet_amount(raw: i64) -> Result<WalletAmount, ApiError> {
    WalletAmount::parse(Krw::new(raw)).map_err(ApiError::from)
}

/// Charge points
///
/// Buys points through the payment provider. At most the day's cap per
/// user (UTC day; `SITGA_CHARGE_DAILY_CAP`, 2,000,000 by default): past it,
/// 409 `daily_charge_limit` and the message says what is left today. 422
/// `payment_declined` when the provider refuses, 503 `payment_unavailable`
/// when it cannot be reached; nothing is charged then.
#[api_v2_operation(tags(Points))]
pub async fn charge(
    state: web::Data<AppState>,
    auth: AuthUser,
    body: JsonBody<AmountRequest>,
) -> Result<web::Json<BalanceDto>, ApiError> {
    let amount = wallet_amount(body.0.amount)?;
    let after = state
        .payments
        .charge(auth.id, amount)
        .await
        .map_err(|e| match e {
            ChargeError::OverCap(over) => ApiError::Conflict {
                code: ErrorCode::DailyChargeLimit,
                message: over.to_string(),
                field: Some("amount"),
            },
            ChargeError::Provider(ProviderError::Declined(why)) => ApiError::Unprocessable {
                code: ErrorCode::PaymentDeclined,
                message: format!("the payment was declined: {why}"),
            },
            ChargeError::Provider(ProviderError::Unavailable(_)) => ApiError::ServiceUnavailable {
                code: ErrorCode::PaymentUnavailable,
                message: "the payment provider cannot be reached; nothing was charged".into(),
            },
            ChargeError::Db(e) => e.into(),
        })?;
    Ok(web::Json(after.into()))
}

/// A payout request.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct PayoutDto {
    /// Id.
    pub id: i64,
    /// Won to send.
    pub amount: i64,
    /// Where to, as the profile's bank account stood when requested.
    pub bank_account: String,
    /// `requested` (waiting for an operator), `paid` or `rejected` (the
    /// points went back).
    pub status: String,
    /// The transfer's reference (paid) or why it was rejected.
    pub note: Option<String>,
    /// When requested.
    pub requested_at: DateTime<Utc>,
    /// When decided.
    pub decided_at: Option<DateTime<Utc>>,
}

impl From<payments::Payout> for PayoutDto {
    fn from(p: payments::Payout) -> Self {
        Self {
            status: p.status().code().to_owned(),
            requested_at: p.requested_at(),
            decided_at: p.decided_at(),
            id: p.id,
            amount: p.amount.get(),
            bank_account: p.bank_account,
            note: p.note,
        }
    }
}

/// Withdraw points (request a payout)
///
/// Takes the amount out of your available points into a payout request to
/// the bank account on your profile (409 `bank_account_required` without
/// one; 409 `insufficient_balance` when the available points do not cover
/// it). An operator sends the money and marks it paid, or rejects it and
/// the points come back.
#[api_v2_operation(tags(Points))]
pub async fn withdraw(
    state: web::Data<AppState>,
    auth: AuthUser,
    body: JsonBody<AmountRequest>,
) -> Result<web::Json<PayoutDto>, ApiError> {
    let amount = wallet_amount(body.0.amount)?;
    let mut tx = state.db.begin().await?;
    let bank_account = users::find_by_id(&mut tx, auth.id)
        .await?
        .and_then(|u| u.bank_account)
        .ok_or_else(|| ApiError::Conflict {
            code: ErrorCode::BankAccountRequired,
            message: "add a bank account to your profile (PATCH /api/v1/users/me) first".into(),
            field: Some("bank_account"),
        })?;
    let Some((payout, _)) =
        payments::request_payout(&mut tx, auth.id, amount.get(), &bank_account).await?
    else {
        let available = wallets::get(&mut tx, auth.id).await?.available();
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
            action: AuditAction::Withdraw,
            subject_user: Some(auth.id),
            subject_auction: None,
            amount: Some(amount.get()),
            reason: None,
        },
    )
    .await?;
    tx.commit().await?;
    tracing::info!(
        user_id = auth.id.get(),
        payout_id = payout.id,
        amount = amount.get().get(),
        "payout requested"
    );
    Ok(web::Json(payout.into()))
}

/// A page of payout requests.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct PayoutPage {
    /// Payouts.
    pub items: Vec<PayoutDto>,
    /// Page.
    pub page: u32,
    /// Page size.
    pub per_page: u32,
    /// All that match.
    pub total: i64,
}

/// A page of payouts matching `filter`.
pub(super) async fn payout_page(
    state: &AppState,
    filter: payments::PayoutFilter,
    query: &PageQuery,
) -> Result<PayoutPage, ApiError> {
    let (page, per_page, offset) = query.resolve()?;
    let mut conn = state.db.get().await?;
    let (rows, total) =
        payments::list_payouts(&mut conn, filter, offset, i64::from(per_page)).await?;
    Ok(PayoutPage {
        items: rows.into_iter().map(PayoutDto::from).collect(),
        page,
        per_page,
        total,
    })
}

/// Your payout requests, newest first
#[api_v2_operation(tags(Points))]
pub async fn payouts(
    state: web::Data<AppState>,
    auth: AuthUser,
    query: QueryParams<PageQuery>,
) -> Result<web::Json<PayoutPage>, ApiError> {
    let filter = payments::PayoutFilter {
        user: Some(auth.id),
        status: None,
    };
    Ok(web::Json(payout_page(&state, filter, &query.0).await?))
}

/// One movement of points.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct LedgerEntryDto {
    /// Id.
    pub id: i64,
    /// `charge`, `withdraw` (a payout request), `hold`, `release`,
    /// `payment`, `sale`, `adjust_credit`, `adjust_debit` or
    /// `payout_return` (a rejected payout's points, back).
    pub kind: String,
    /// Amount moved (KRW, positive).
    pub amount: i64,
    /// Balance after.
    pub balance_after: i64,
    /// Held after.
    pub held_after: i64,
    /// The auction involved.
    pub auction_id: Option<i64>,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// A page of ledger entries.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct LedgerPage {
    /// Entries, newest first.
    pub items: Vec<LedgerEntryDto>,
    /// Page.
    pub page: u32,
    /// Page size.
    pub per_page: u32,
    /// All entries.
    pub total: i64,
}

/// Your points ledger
#[api_v2_operation(tags(Points))]
pub async fn ledger(
    state: web::Data<AppState>,
    auth: AuthUser,
    query: QueryParams<PageQuery>,
) -> Result<web::Json<LedgerPage>, ApiError> {
    Ok(web::Json(ledger_page(&state, auth.id, &query.0).await?))
}

/// A page of `user`'s ledger (theirs, or an admin's view of it).
pub(super) async fn ledger_page(
    state: &AppState,
    user: UserId,
    query: &PageQuery,
) -> Result<LedgerPage, ApiError> {
    let (page, per_page, offset) = query.resolve()?;
    let mut conn = state.db.get().await?;
    let (rows, total) = wallets::ledger(&mut conn, user, offset, i64::from(per_page)).await?;
    Ok(LedgerPage {
        items: rows
            .into_iter()
            .map(|e| LedgerEntryDto {
                created_at: e.created_at(),
                id: e.id,
                kind: e.kind,
                amount: e.amount.get(),
                balance_after: e.balance_after.get(),
                held_after: e.held_after.get(),
                auction_id: e.auction_id.map(AuctionId::get),
            })
            .collect(),
        page,
        per_page,
        total,
    })
}

/// A closed auction from one side.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct ResultDto {
    /// Auction id.
    pub auction_id: i64,
    /// Title.
    pub title: String,
    /// Species.
    pub species: Option<String>,
    /// `sold` or `unsold`.
    pub status: String,
    /// Final price (KRW), null if unsold.
    pub price: Option<i64>,
    /// The other party's nickname (seller for purchases, buyer for sales).
    pub counterpart: Option<String>,
    /// The sale that carries a sold auction to its handover
    /// (`GET /api/v1/sales/{sale_id}`); null if unsold.
    pub sale_id: Option<i64>,
    /// The sale's state (`awaiting_details` … `settled`); null if unsold.
    pub state: Option<String>,
    /// Units sold (1; a dutch auction's accept may buy several, and
    /// `price` is then for all of them).
    pub units: i32,
    /// Opened.
    pub created_at: DateTime<Utc>,
    /// Closed.
    pub closed_at: Option<DateTime<Utc>>,
}

async fn results(
    conn: &mut sitga_persistence::DbConn,
    rows: Vec<auctions::Auction>,
    counterpart: impl Fn(&auctions::Auction) -> Option<UserId>,
) -> Result<Vec<ResultDto>, ApiError> {
    let ids: Vec<UserId> = rows.iter().filter_map(&counterpart).collect();
    let names = users::nicknames(conn, &ids).await?;
    let auction_ids: Vec<AuctionId> = rows.iter().map(|a| a.id).collect();
    let sales = sitga_persistence::sales::of_auctions(conn, &auction_ids).await?;
    Ok(rows
        .into_iter()
        .map(|a| {
            let sold = a.status() == sitga_auction::AuctionStatus::Sold;
            let sale = sales.get(&a.id);
            ResultDto {
                units: 1,
                counterpart: counterpart(&a).and_then(|id| names.get(&id).cloned()),
                sale_id: sale.map(|(id, _)| id.get()),
                state: sale.map(|(_, state)| state.code().to_owned()),
                status: a.status().code().to_owned(),
                price: if sold {
                    a.current_price.map(Krw::get)
                } else {
                    None
                },
                created_at: a.created_at(),
                closed_at: a.closed_at(),
                auction_id: a.id.get(),
                title: a.title,
                species: a.species,
            }
        })
        .collect())
}

/// What you bought
///
/// Each sale you bought, newest first: an auction you won, a buy-now, each
/// accept of a dutch auction (with its `units`; `price` is the total).
#[api_v2_operation(tags(Points))]
pub async fn purchases(
    state: web::Data<AppState>,
    auth: AuthUser,
    query: QueryParams<PageQuery>,
) -> Result<web::Json<Vec<ResultDto>>, ApiError> {
    let (_, per_page, offset) = query.0.resolve()?;
    let mut conn = state.db.get().await?;
    let bought = sales::bought_by(&mut conn, auth.id, offset, i64::from(per_page)).await?;
    let auction_ids: Vec<AuctionId> = bought.iter().map(|s| s.auction_id).collect();
    let auctions: HashMap<AuctionId, auctions::Auction> =
        auctions::find_many(&mut conn, &auction_ids)
            .await?
            .into_iter()
            .map(|a| (a.id, a))
            .collect();
    let sellers: Vec<UserId> = bought.iter().map(|s| s.seller_id).collect();
    let names = users::nicknames(&mut conn, &sellers).await?;
    Ok(web::Json(
        bought
            .into_iter()
            .filter_map(|sale| {
                let a = auctions.get(&sale.auction_id)?;
                Some(ResultDto {
                    auction_id: a.id.get(),
                    title: a.title.clone(),
                    species: a.species.clone(),
                    status: a.status().code().to_owned(),
                    price: Some(sale.price.get()),
                    counterpart: names.get(&sale.seller_id).cloned(),
                    sale_id: Some(sale.id.get()),
                    state: Some(sale.state().code().to_owned()),
                    units: sale.units,
                    created_at: a.created_at(),
                    closed_at: a.closed_at(),
                })
            })
            .collect(),
    ))
}

/// Your closed auctions as a seller
#[api_v2_operation(tags(Points))]
pub async fn sales(
    state: web::Data<AppState>,
    auth: AuthUser,
    query: QueryParams<PageQuery>,
) -> Result<web::Json<Vec<ResultDto>>, ApiError> {
    let (_, per_page, offset) = query.0.resolve()?;
    let mut conn = state.db.get().await?;
    let rows = auctions::closed_by_seller(&mut conn, auth.id, offset, i64::from(per_page)).await?;
    Ok(web::Json(
        results(&mut conn, rows, |a| {
            (a.status() == sitga_auction::AuctionStatus::Sold)
                .then_some(a.leader_id)
                .flatten()
        })
        .await?,
    ))
}
