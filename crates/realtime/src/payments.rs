//! Buying points through a payment provider.
//!
//! A charge is three steps, so that neither the daily cap nor the books can
//! be beaten by racing or by a provider that fails half-way:
//!
//! 1. In one transaction holding the user's wallet lock: check the day's
//!    cap against what was charged (approved or still pending) and record
//!    the charge as `pending`. Two concurrent charges of one user are
//!    serialised here, so together they never pass the cap.
//! 2. Ask the provider, outside any transaction.
//! 3. Approved: one transaction marks the charge approved (only if still
//!    pending), credits the wallet and writes the audit row. Declined or
//!    unreachable: the charge is marked declined and stops counting.
//!
//! [`DevPaymentProvider`] approves at once and takes no money: the embedded
//! default and the demo use it; with MySQL the server refuses to start until
//! a provider is chosen explicitly.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use chrono::Utc;
pub use sitga_auction::ChargeCap;
use sitga_auction::{Krw, OverChargeCap, Wallet, WalletAmount};
use sitga_core::UserId;
use sitga_persistence::audit::{self, AuditAction, NewAudit};
use sitga_persistence::{DbError, DbPool, payments, wallets};

/// What the provider is asked to approve.
#[derive(Debug, Clone, Copy)]
pub struct PaymentOrder {
    /// Our charge id (the provider's order id: a retry of the same order
    /// must not be paid twice).
    pub charge_id: i64,
    /// Who pays.
    pub user_id: UserId,
    /// Won.
    pub amount: Krw,
}

/// An approved payment.
#[derive(Debug, Clone)]
pub struct Approval {
    /// The provider's reference for the payment (kept with the charge and
    /// in the audit log, for reconciliation and refunds).
    pub reference: String,
}

/// Why a provider did not approve.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ProviderError {
    /// The provider refused the payment (card declined, limit, …).
    #[error("the payment was declined: {0}")]
    Declined(String),
    /// The provider could not be reached or answered nonsense.
    #[error("the payment provider is unavailable: {0}")]
    Unavailable(String),
}

/// The future a provider answers with.
pub type ApprovalFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Approval, ProviderError>> + Send + 'a>>;

/// A payment provider: takes the money for an order, or says why not.
pub trait PaymentProvider: Send + Sync + std::fmt::Debug {
    /// A short name, stored with every charge (`dev`, …).
    fn name(&self) -> &'static str;

    /// Takes `order.amount` from the user's payment method.
    fn approve<'a>(&'a self, order: &'a PaymentOrder) -> ApprovalFuture<'a>;
}

/// Approves every order at once without taking money: for development, the
/// demo and tests only.
#[derive(Debug, Clone, Copy, Default)]
pub struct DevPaymentProvider;

impl PaymentProvider for DevPaymentProvider {
    fn name(&self) -> &'static str {
        "dev"
    }

    fn approve<'a>(&'a self, order: &'a PaymentOrder) -> ApprovalFuture<'a> {
        Box::pin(async move {
            Ok(Approval {
                reference: format!("dev-{}", order.charge_id),
            })
        })
    }
}

/// Why a charge did not credit points.
#[derive(Debug, thiserror::Error)]
pub enum ChargeError {
    /// It would pass the user's daily cap.
    #[error(transparent)]
    OverCap(#[from] OverChargeCap),
    /// The provider refused or could not be asked.
    #[error(transparent)]
    Provider(#[from] ProviderError),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Charges points through the configured provider, within the daily cap.
#[derive(Debug, Clone)]
pub struct Payments {
    db: DbPool,
    provider: Arc<dyn PaymentProvider>,
    cap: ChargeCap,
    calendar: sitga_core::Calendar,
}

impl Payments {
    /// Charges on `db` through `provider`, at most `cap` per user and
    /// local day of `calendar`.
    pub fn new(
        db: DbPool,
        provider: Arc<dyn PaymentProvider>,
        cap: ChargeCap,
        calendar: sitga_core::Calendar,
    ) -> Self {
        Self {
            db,
            provider,
            cap,
            calendar,
        }
    }

    /// The daily cap.
    pub fn cap(&self) -> ChargeCap {
        self.cap
    }

    /// The provider's name.
    pub fn provider(&self) -> &'static str {
        self.provider.name()
    }

    /// Charges `amount` to `user_id`; the wallet after.
    #[tracing::instrument(name = "charge", skip(self, amount), fields(amount = amount.get().get()))]
    pub async fn charge(
        &self,
        user_id: UserId,
        amount: WalletAmount,
    ) -> Result<Wallet, ChargeError> {
        let amount = amount.get();
        // The wallet row exists before the transaction locks it: inserting
        // it inside would take gap locks that deadlock concurrent charges.
        wallets::ensure(&mut self.db.get().await?, user_id).await?;
        let mut attempt = 0;
        let charge_id = loop {
            attempt += 1;
            match self.reserve(user_id, amount).await {
                Err(ChargeError::Db(DbError::Conflict(_))) if attempt < 5 => continue,
                other => break other?,
            }
        };
        let order = PaymentOrder {
            charge_id,
            user_id,
            amount,
        };
        let approval = match self.provider.approve(&order).await {
            Ok(approval) => approval,
            Err(refusal) => {
                tracing::warn!(charge_id, error = %refusal, "charge not approved");
                let mut conn = self.db.get().await?;
                payments::decline_charge(&mut conn, charge_id).await?;
                return Err(refusal.into());
            }
        };
        let mut attempt = 0;
        let credited = loop {
            attempt += 1;
            // Settling is guarded on the charge being pending: a retry after
            // a deadlock never credits twice.
            match self.credit(&order, &approval).await {
                Err(ChargeError::Db(DbError::Conflict(_))) if attempt < 5 => continue,
                other => break other,
            }
        };
        if let Err(e) = &credited {
            // The provider took the money and the books do not show it yet:
            // the pending charge and this line are what reconciliation needs.
            tracing::error!(charge_id, reference = %approval.reference, error = %e, "approved charge not credited");
        }
        credited
    }

    /// Step 1: within the cap, the charge is recorded as pending.
    async fn reserve(&self, user_id: UserId, amount: Krw) -> Result<i64, ChargeError> {
        let mut tx = self.db.begin().await?;
        // The wallet's row lock serialises this user's charges (MySQL;
        // SQLite's write transaction already does).
        wallets::lock_many(&mut tx, &[user_id]).await?;
        let (midnight, _) = self.calendar.day_range(Utc::now());
        let charged = payments::charged_since(&mut tx, user_id, midnight).await?;
        self.cap.check(charged, amount)?;
        let id = payments::begin_charge(&mut tx, user_id, amount, self.provider.name()).await?;
        tx.commit().await?;
        Ok(id)
    }

    async fn credit(
        &self,
        order: &PaymentOrder,
        approval: &Approval,
    ) -> Result<Wallet, ChargeError> {
        let mut tx = self.db.begin().await?;
        let Some(after) = payments::approve_charge(
            &mut tx,
            order.charge_id,
            order.user_id,
            order.amount,
            &approval.reference,
        )
        .await?
        else {
            return Err(DbError::Invariant(format!(
                "charge {} was settled twice",
                order.charge_id
            ))
            .into());
        };
        let reason = format!("{}:{}", self.provider.name(), approval.reference);
        audit::record(
            &mut tx,
            &NewAudit {
                actor: Some(order.user_id),
                action: AuditAction::Charge,
                subject_user: Some(order.user_id),
                subject_auction: None,
                amount: Some(order.amount),
                reason: Some(&reason),
            },
        )
        .await?;
        tx.commit().await?;
        tracing::info!(
            user_id = order.user_id.get(),
            charge_id = order.charge_id,
            "points charged"
        );
        Ok(after)
    }
}
