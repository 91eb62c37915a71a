//! Sales after the hammer: each step one transaction that locks the sale,
//! asks the rules ([`sitga_auction::Sale::decide`]), writes the row guarded
//! by the version it read, moves the escrow and records the timeline and
//! the audit. Two racing steps (a confirm and the auto-confirm job, two
//! instances' jobs) cannot both apply: the second finds the sale moved on
//! and is refused by the rules, so the escrow is paid out once.

use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use sitga_auction::{
    Deadlines, DeliveryAddress, DeliveryChoice, DisputeOutcome, DisputeReport, HandoverCode, Krw,
    Rating, SaleAction, SaleActor, SaleRefusal, SaleState, Shipment,
};
use sitga_core::{FieldError, SaleId, UserId};
use sitga_persistence::audit::{self, AuditAction, NewAudit};
use sitga_persistence::sales::{self, StoredSale};
use sitga_persistence::wallets::{self, LedgerKind};
use sitga_persistence::{DbConn, DbError, DbPool, notifications, photos};

use crate::bus::RoomBus;

/// Most sales one deadline tick handles per kind (the next tick takes the
/// rest).
const TICK_BATCH: i64 = 200;

/// A step someone asks of a sale.
#[derive(Debug, Clone)]
pub enum SaleRequest {
    /// The buyer's choice, with the address a courier needs.
    Details {
        /// Pickup or courier.
        delivery: DeliveryChoice,
        /// Required for a courier, refused for a pickup.
        address: Option<DeliveryAddress>,
    },
    /// The seller ships it (`Some`) or has it ready at the pickup (`None`).
    Ship(Option<Shipment>),
    /// The buyer has it.
    Confirm,
    /// The seller enters the buyer's code at the pickup.
    Handover(HandoverCode),
    /// Either side walks away from a partner past their deadline.
    Cancel,
    /// The buyer disputes it.
    Dispute(DisputeReport),
    /// An operator ends the dispute.
    Resolve(DisputeOutcome),
}

/// Why a step did not happen.
#[derive(Debug, thiserror::Error)]
pub enum SaleError {
    /// No such sale, or the asker is neither side (nor an operator).
    #[error("no such sale")]
    NotFound,
    /// The rules refuse it.
    #[error(transparent)]
    Refused(SaleRefusal),
    /// A value that does not fit this sale.
    #[error(transparent)]
    Invalid(FieldError),
    /// The seller's step does not fit the delivery the buyer chose.
    #[error("{0}")]
    NotTheChosenDelivery(&'static str),
    /// This side rated the sale already.
    #[error("you rated this sale already")]
    AlreadyRated,
    /// The buyer's available points do not cover the courier fee.
    #[error("the courier fee of {fee} won is more than your available points")]
    InsufficientPoints {
        /// The fee.
        fee: Krw,
    },
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Who asks.
#[derive(Debug, Clone, Copy)]
pub struct Asker {
    /// The signed-in user.
    pub user: UserId,
    /// Whether they hold the operator role.
    pub operator: bool,
}

/// How much of each deadline job one tick did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ticked {
    /// Buyers reminded to give their details.
    pub reminded: usize,
    /// Shipped sales confirmed by their deadline.
    pub auto_confirmed: usize,
}

/// The sales of sold auctions.
#[derive(Clone, Debug)]
pub struct Sales {
    db: DbPool,
    bus: RoomBus,
    deadlines: Deadlines,
}

impl Sales {
    /// Sales on `db` with these deadlines; each step's notifications go
    /// out live through `bus`.
    pub fn new(db: DbPool, bus: RoomBus, deadlines: Deadlines) -> Self {
        Self { db, bus, deadlines }
    }

    /// The deadlines in force.
    pub fn deadlines(&self) -> &Deadlines {
        &self.deadlines
    }

    /// The sale `id` as `asker` may see it: `None` unless they are its
    /// buyer, its seller or an operator.
    pub async fn visible(
        &self,
        conn: &mut DbConn,
        id: SaleId,
        asker: Asker,
    ) -> Result<Option<StoredSale>, DbError> {
        Ok(sales::find(conn, id)
            .await?
            .filter(|s| asker.operator || s.buyer_id == asker.user || s.seller_id == asker.user))
    }

    /// Takes `request` on sale `id` for `asker` at `now`; the sale after it.
    #[tracing::instrument(name = "sale_step", skip(self, request), fields(sale_id = id.get(), user_id = asker.user.get()))]
    pub async fn act(
        &self,
        id: SaleId,
        asker: Asker,
        request: SaleRequest,
        now: DateTime<Utc>,
    ) -> Result<StoredSale, SaleError> {
        for _ in 0..5 {
            match self.try_act(id, asker, &request, now).await {
                Err(SaleError::Db(DbError::Conflict(_))) | Ok(None) => continue,
                Ok(Some(sale)) => return Ok(sale),
                Err(e) => return Err(e),
            }
        }
        Err(DbError::Conflict(format!("sale {id} kept changing")).into())
    }

    async fn try_act(
        &self,
        id: SaleId,
        asker: Asker,
        request: &SaleRequest,
        now: DateTime<Utc>,
    ) -> Result<Option<StoredSale>, SaleError> {
        let mut tx = self.db.begin().await?;
        let Some(mut row) = sales::find_for_update(&mut tx, id).await? else {
            return Err(SaleError::NotFound);
        };
        let actor = if matches!(request, SaleRequest::Resolve(_)) {
            if !asker.operator {
                return Err(SaleError::NotFound);
            }
            SaleActor::Operator
        } else if asker.user == row.buyer_id {
            SaleActor::Buyer
        } else if asker.user == row.seller_id {
            SaleActor::Seller
        } else {
            return Err(SaleError::NotFound);
        };
        let sale = row.sale();
        let action = match request {
            SaleRequest::Details { delivery, address } => {
                match (delivery, address) {
                    (DeliveryChoice::Courier, None) => {
                        return Err(SaleError::Invalid(FieldError::new(
                            "address",
                            "a courier delivery needs the address",
                        )));
                    }
                    (DeliveryChoice::Pickup, Some(_)) => {
                        return Err(SaleError::Invalid(FieldError::new(
                            "address",
                            "only a courier delivery takes an address",
                        )));
                    }
                    _ => {}
                }
                SaleAction::GiveDetails(*delivery)
            }
            SaleRequest::Ship(shipment) => {
                match (row.delivery(), shipment) {
                    (Some(DeliveryChoice::Courier), None) => {
                        return Err(SaleError::NotTheChosenDelivery(
                            "the buyer chose the courier: give courier and tracking_number",
                        ));
                    }
                    (Some(DeliveryChoice::Pickup), Some(_)) => {
                        return Err(SaleError::NotTheChosenDelivery(
                            "the buyer chose pickup: send {} when it is ready",
                        ));
                    }
                    _ => {}
                }
                if shipment.is_some() {
                    SaleAction::Ship
                } else {
                    SaleAction::ReadyForPickup
                }
            }
            SaleRequest::Confirm => SaleAction::Confirm,
            SaleRequest::Handover(code) => SaleAction::Handover {
                code_matches: row.handover_code.as_deref() == Some(code.as_str()),
            },
            SaleRequest::Cancel => match actor {
                SaleActor::Seller => SaleAction::CancelBySeller,
                _ => SaleAction::CancelByBuyer,
            },
            SaleRequest::Dispute(_) => SaleAction::Dispute,
            SaleRequest::Resolve(outcome) => SaleAction::Resolve(*outcome),
        };
        let step = match sale.decide(actor, &action, now, &self.deadlines) {
            Ok(step) => step,
            Err(SaleRefusal::WrongCode) => {
                // A wrong code counts against the attempts even though the
                // step fails: it commits on its own.
                row.failed_handovers += 1;
                if !sales::save(&mut tx, &row).await? {
                    tx.rollback().await?;
                    return Ok(None);
                }
                sales::add_event(&mut tx, id, "handover_failed", Some(asker.user), now).await?;
                tx.commit().await?;
                tracing::warn!(
                    failed = row.failed_handovers,
                    "a wrong handover code was entered"
                );
                return Err(SaleError::Refused(SaleRefusal::WrongCode));
            }
            Err(refusal) => return Err(SaleError::Refused(refusal)),
        };
        let before = row.clone();
        row.absorb(&step.sale);
        let actor_id = (actor != SaleActor::System).then_some(asker.user);
        match request {
            SaleRequest::Details { address, .. } => row.set_address(address.clone()),
            SaleRequest::Ship(Some(shipment)) => {
                row.courier = Some(shipment.courier.clone());
                row.tracking_number = Some(shipment.tracking_number.clone());
            }
            SaleRequest::Ship(None) => {
                let n = rand::rng().random_range(0..1_000_000u32);
                row.handover_code = Some(HandoverCode::from_number(n).as_str().to_owned());
            }
            SaleRequest::Dispute(report) => {
                row.dispute_reason = Some(report.reason.clone());
                let attached =
                    photos::attach_to_sale(&mut tx, row.buyer_id, &report.photo_ids, id).await?;
                if attached != report.photo_ids.len() {
                    tx.rollback().await?;
                    return Err(SaleError::Invalid(FieldError::inconsistent(
                        "photo_ids",
                        "each photo must be one you uploaded and have not used yet",
                    )));
                }
            }
            _ => {}
        }
        if step.escrow_in > Krw::ZERO {
            if !wallets::pay_into_escrow(&mut tx, row.buyer_id, step.escrow_in, row.auction_id)
                .await?
            {
                tx.rollback().await?;
                return Err(SaleError::InsufficientPoints {
                    fee: step.escrow_in,
                });
            }
            row.escrow += step.escrow_in;
        }
        if let Some(payout) = step.payout {
            pay_out(&mut tx, &mut row, payout, actor_id, &action, now).await?;
        }
        if !sales::save(&mut tx, &row).await? {
            tx.rollback().await?;
            return Ok(None);
        }
        if step.sale.state == SaleState::Settled
            && matches!(
                action,
                SaleAction::Confirm | SaleAction::Handover { .. } | SaleAction::AutoConfirm
            )
        {
            sales::add_event(&mut tx, id, SaleState::Received.code(), actor_id, now).await?;
        }
        sales::add_event(&mut tx, id, step.sale.state.code(), actor_id, now).await?;
        tell_parties(&mut tx, &row, step.sale.state, actor_id).await?;
        self.bus.stored(tx.commit_told().await?);
        tracing::info!(
            from = before.state().code(),
            to = step.sale.state.code(),
            "sale moved"
        );
        Ok(Some(row))
    }

    /// `asker` (the buyer or the seller) rates the other side of settled
    /// sale `id`, once.
    #[tracing::instrument(name = "sale_rating", skip(self, rating), fields(sale_id = id.get(), user_id = asker.user.get()))]
    pub async fn rate(&self, id: SaleId, asker: Asker, rating: &Rating) -> Result<(), SaleError> {
        let mut conn = self.db.get().await?;
        let sale = sales::find(&mut conn, id)
            .await?
            .ok_or(SaleError::NotFound)?;
        let ratee = if asker.user == sale.buyer_id {
            sale.seller_id
        } else if asker.user == sale.seller_id {
            sale.buyer_id
        } else {
            return Err(SaleError::NotFound);
        };
        if sale.state() != SaleState::Settled {
            return Err(SaleError::Refused(SaleRefusal::WrongState(sale.state())));
        }
        if !sales::rate(&mut conn, id, asker.user, ratee, rating).await? {
            return Err(SaleError::AlreadyRated);
        }
        Ok(())
    }

    /// The deadline jobs at `now`: buyers a day into their details window
    /// are reminded (once), and shipped sales past their confirmation
    /// deadline confirm themselves. Safe to run on every instance at once.
    pub async fn tick(&self, now: DateTime<Utc>) -> Result<Ticked, DbError> {
        let mut ticked = Ticked::default();
        let (waiting, shipped) = {
            let mut conn = self.db.get().await?;
            let waiting = sales::awaiting_reminder(
                &mut conn,
                now - reminder_after(&self.deadlines),
                TICK_BATCH,
            )
            .await?;
            let shipped = sales::in_state_since(
                &mut conn,
                SaleState::Shipped,
                now - self.deadlines.confirmation,
                TICK_BATCH,
            )
            .await?;
            (waiting, shipped)
        };
        for id in waiting {
            let mut tx = self.db.begin().await?;
            if sales::mark_reminded(&mut tx, id).await? {
                sales::add_event(&mut tx, id, "reminded", None, now).await?;
                if let Some(row) = sales::find(&mut tx, id).await? {
                    let reminder =
                        crate::notices::sale_step(row.buyer_id, id, row.auction_id, "reminded");
                    notifications::store(&mut tx, &[reminder]).await?;
                }
                self.bus.stored(tx.commit_told().await?);
                tracing::info!(
                    sale_id = id.get(),
                    "buyer reminded to give delivery details"
                );
                ticked.reminded += 1;
            } else {
                tx.rollback().await?;
            }
        }
        for sale in shipped {
            match self.auto_confirm(sale.id, now).await {
                Ok(true) => ticked.auto_confirmed += 1,
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(sale_id = sale.id.get(), error = %e, "auto-confirm failed; the next tick retries")
                }
            }
        }
        Ok(ticked)
    }

    /// Confirms a shipped sale past its deadline; `false` if someone else
    /// (the buyer, a dispute, another instance) moved it first.
    async fn auto_confirm(&self, id: SaleId, now: DateTime<Utc>) -> Result<bool, DbError> {
        let mut tx = self.db.begin().await?;
        let Some(mut row) = sales::find_for_update(&mut tx, id).await? else {
            tx.rollback().await?;
            return Ok(false);
        };
        let Ok(step) = row.sale().decide(
            SaleActor::System,
            &SaleAction::AutoConfirm,
            now,
            &self.deadlines,
        ) else {
            tx.rollback().await?;
            return Ok(false);
        };
        row.absorb(&step.sale);
        if let Some(payout) = step.payout {
            pay_out(
                &mut tx,
                &mut row,
                payout,
                None,
                &SaleAction::AutoConfirm,
                now,
            )
            .await?;
        }
        if !sales::save(&mut tx, &row).await? {
            tx.rollback().await?;
            return Ok(false);
        }
        sales::add_event(&mut tx, id, SaleState::Received.code(), None, now).await?;
        sales::add_event(&mut tx, id, SaleState::Settled.code(), None, now).await?;
        tell_parties(&mut tx, &row, SaleState::Settled, None).await?;
        self.bus.stored(tx.commit_told().await?);
        tracing::info!(sale_id = id.get(), "shipped sale confirmed by its deadline");
        Ok(true)
    }
}

/// Tells the sale's parties, except the one who took the step, that it
/// reached `state`.
async fn tell_parties(
    tx: &mut DbConn,
    row: &StoredSale,
    state: SaleState,
    actor_id: Option<UserId>,
) -> Result<(), DbError> {
    let told: Vec<_> = [row.buyer_id, row.seller_id]
        .into_iter()
        .filter(|party| Some(*party) != actor_id)
        .map(|party| crate::notices::sale_step(party, row.id, row.auction_id, state.code()))
        .collect();
    notifications::store(tx, &told).await
}

/// Pays the escrow out as `payout` says, with a ledger line and an audit
/// row for each side that gets something.
async fn pay_out(
    tx: &mut DbConn,
    row: &mut StoredSale,
    payout: sitga_auction::Payout,
    actor: Option<UserId>,
    action: &SaleAction,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    let resolved = match action {
        SaleAction::Resolve(outcome) => Some(match outcome {
            DisputeOutcome::Refund => "dispute resolved: refund",
            DisputeOutcome::Release => "dispute resolved: release",
            DisputeOutcome::Split { .. } => "dispute resolved: split",
        }),
        _ => None,
    };
    for (user, amount, kind, audit_action) in [
        (
            row.seller_id,
            payout.to_seller,
            LedgerKind::Sale,
            AuditAction::Settlement,
        ),
        (
            row.buyer_id,
            payout.to_buyer,
            LedgerKind::Refund,
            AuditAction::SaleRefund,
        ),
    ] {
        if amount <= Krw::ZERO {
            continue;
        }
        wallets::pay_from_escrow(tx, user, amount, kind, row.auction_id).await?;
        audit::record(
            tx,
            &NewAudit {
                actor,
                action: audit_action,
                subject_user: Some(user),
                subject_auction: Some(row.auction_id),
                amount: Some(amount),
                reason: resolved,
            },
        )
        .await?;
    }
    if let Some(reason) = resolved {
        audit::record(
            tx,
            &NewAudit {
                actor,
                action: AuditAction::DisputeResolved,
                subject_user: Some(row.buyer_id),
                subject_auction: Some(row.auction_id),
                amount: Some(payout.to_buyer),
                reason: Some(reason),
            },
        )
        .await?;
    }
    row.set_ended(payout.to_seller, payout.to_buyer, now);
    Ok(())
}

/// Whether the seller of a sale that ended at `ended_at` (if it did) still
/// sees the buyer's address at `now`.
pub fn seller_sees_address(ended_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    ended_at.is_none_or(|at| now - at < sitga_auction::ADDRESS_RETENTION)
}

/// How long after the close a buyer without details is reminded: half
/// their window, so the reminder comes while they can still act.
pub fn reminder_after(deadlines: &Deadlines) -> Duration {
    deadlines.details / 2
}
