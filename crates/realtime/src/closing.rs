//! Closing auctions: exactly one result and one settlement per auction,
//! however many closers (sweepers on several instances, an early close by
//! the seller) race for it.
//!
//! A close is one transaction: lock the auction row, read it, decide the
//! outcome with the domain rules, write the new status guarded by the
//! version read (`status = 'open' AND version = ?`), move the money, then
//! commit. A closer that loses the guard finds the auction already closed
//! and does nothing. The `closed` frame goes to the room after commit.
//!
//! A sold auction does not pay its seller: the winner's hold moves into a
//! new sale's escrow, paid out once the buyer has the fish
//! ([`crate::sales`]).

use chrono::Utc;
use sitga_auction::{AuctionStatus, CloseOutcome, Sale, Settlement, close_outcome, settle};
use sitga_core::{AuctionId, Krw, SaleId, UserId};
use sitga_persistence::audit::{self, AuditAction, NewAudit};
use sitga_persistence::sales::{self, NewSale};
use sitga_persistence::{DbError, DbPool, auctions, lots, users, wallets};

use crate::bus::{HistoryItem, RoomBus};
use crate::frames::ServerFrame;

/// Most auctions one sweep closes (the next sweep takes the rest).
const SWEEP_BATCH: i64 = 200;

/// How a close went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseResult {
    /// This call closed it.
    Closed(CloseOutcome),
    /// Already closed (or cancelled) by someone else.
    AlreadyClosed,
    /// Not due yet (a late bid extended it).
    NotDue,
}

/// How removing a listing went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoveResult {
    /// Removed now; the leading bidder's hold, if there was one, went back.
    Removed {
        /// Who got how much back.
        refunded: Option<(UserId, Krw)>,
    },
    /// Already sold, unsold or cancelled: nothing changed.
    NotOpen,
    /// No such auction.
    Missing,
}

/// Closes auctions and announces it.
#[derive(Clone, Debug)]
pub struct Closer {
    db: DbPool,
    bus: RoomBus,
}

impl Closer {
    /// A closer on `db` publishing to `bus`.
    pub fn new(db: DbPool, bus: RoomBus) -> Self {
        Self { db, bus }
    }

    /// The database this closer works on.
    pub fn db(&self) -> &DbPool {
        &self.db
    }

    /// Closes `auction_id` if its end has passed (or at once when `early`,
    /// the seller's early close).
    #[tracing::instrument(name = "close", skip(self))]
    pub async fn close(&self, auction_id: AuctionId, early: bool) -> Result<CloseResult, DbError> {
        for _ in 0..5 {
            match self.try_close(auction_id, early).await {
                Err(DbError::Conflict(_)) => continue,
                Ok(None) => continue,
                Ok(Some(result)) => return Ok(result),
                Err(e) => return Err(e),
            }
        }
        Err(DbError::Conflict(format!(
            "auction {auction_id} kept changing while closing"
        )))
    }

    async fn try_close(
        &self,
        auction_id: AuctionId,
        early: bool,
    ) -> Result<Option<CloseResult>, DbError> {
        let mut tx = self.db.begin().await?;
        auctions::lock(&mut tx, auction_id).await?;
        let Some(row) = auctions::find(&mut tx, auction_id).await? else {
            return Err(DbError::NotFound);
        };
        if row.status() != AuctionStatus::Open {
            tx.rollback().await?;
            return Ok(Some(CloseResult::AlreadyClosed));
        }
        if !early && row.ends_at() > Utc::now() {
            tx.rollback().await?;
            return Ok(Some(CloseResult::NotDue));
        }
        let snapshot = row.snapshot();
        let outcome = close_outcome(&snapshot);
        if !auctions::close(&mut tx, auction_id, row.version, outcome.status()).await? {
            tx.rollback().await?;
            return Ok(None);
        }
        let mut sale_id = None;
        match settle(&snapshot, outcome) {
            Settlement::Pay {
                winner_id,
                seller_id,
                price,
            } => {
                wallets::hold_to_escrow(&mut tx, winner_id, price, auction_id).await?;
                audit::record(
                    &mut tx,
                    &NewAudit {
                        actor: None,
                        action: AuditAction::Escrow,
                        subject_user: Some(winner_id),
                        subject_auction: Some(auction_id),
                        amount: Some(price),
                        reason: None,
                    },
                )
                .await?;
                let delivery = lots::of_auctions(&mut tx, &[auction_id])
                    .await?
                    .remove(&auction_id)
                    .and_then(|stored| stored.lot.delivery)
                    .unwrap_or_default();
                let sale = Sale::new(
                    price,
                    delivery.pickup.is_some(),
                    delivery.courier_fee,
                    Utc::now(),
                );
                sale_id = Some(
                    sales::open(
                        &mut tx,
                        &NewSale {
                            auction_id,
                            seller_id,
                            buyer_id: winner_id,
                            sale,
                        },
                    )
                    .await?,
                );
                crate::awards::award_sale_badges(&mut tx, seller_id, winner_id).await?;
            }
            Settlement::Release { bidder_id, amount } => {
                wallets::release(&mut tx, bidder_id, amount, auction_id).await?;
            }
            Settlement::Nothing => {}
        }
        let winner = match outcome {
            CloseOutcome::Sold { winner_id, .. } => users::find_by_id(&mut tx, winner_id)
                .await?
                .map(|u| u.nickname),
            CloseOutcome::Unsold => None,
        };
        let notice = match (&outcome, &winner) {
            (CloseOutcome::Sold { price, .. }, Some(nick)) => format!(
                "경매가 종료되었습니다. {nick}님이 {price}원에 낙찰받았습니다. \
                 인계가 끝날 때까지 대금은 에스크로에 보관됩니다."
            ),
            _ => "경매가 유찰되었습니다.".to_owned(),
        };
        let notice_id =
            auctions::insert_chat(&mut tx, auction_id, None, "notice", &notice, None).await?;
        tx.commit().await?;
        tracing::info!(
            auction_id = auction_id.get(),
            sale_id = sale_id.map(SaleId::get),
            ?outcome,
            early,
            "auction closed"
        );
        let frame = match (outcome, sale_id) {
            (CloseOutcome::Sold { price, .. }, Some(sale)) => ServerFrame::closed(
                outcome.status(),
                winner,
                Some((price, sale)),
                notice.clone(),
                format!("sold for {price} won; the payment waits in escrow until the handover"),
            ),
            _ => ServerFrame::closed(
                outcome.status(),
                None,
                None,
                notice.clone(),
                "closed without a sale".to_owned(),
            ),
        };
        self.announce(auction_id, notice_id, notice, &frame).await;
        Ok(Some(CloseResult::Closed(outcome)))
    }

    /// After commit: the room's history gets the notice, every watcher the
    /// `closed` frame, and the room's in-memory state is let go.
    async fn announce(
        &self,
        auction_id: AuctionId,
        notice_id: i64,
        notice: String,
        frame: &ServerFrame,
    ) {
        self.bus
            .remember(
                auction_id,
                &HistoryItem {
                    id: notice_id,
                    user: None,
                    code: "notice".into(),
                    context: notice,
                    amount: None,
                    at: Utc::now().timestamp_millis(),
                },
            )
            .await;
        self.bus.publish(auction_id, frame).await;
        self.bus.forget_history(auction_id);
    }

    /// An operator removes an open listing: the auction is cancelled with
    /// `reason`, the leading bid's hold goes back to its bidder, both are
    /// audited, and the room gets `closed` / `cancelled`. Exactly once
    /// against any racing bid or closer (the same row lock and version
    /// guard).
    #[tracing::instrument(name = "remove", skip(self, reason))]
    pub async fn remove(
        &self,
        auction_id: AuctionId,
        operator: UserId,
        reason: &str,
    ) -> Result<RemoveResult, DbError> {
        for _ in 0..5 {
            match self.try_remove(auction_id, operator, reason).await {
                Err(DbError::Conflict(_)) | Ok(None) => continue,
                Ok(Some(result)) => return Ok(result),
                Err(e) => return Err(e),
            }
        }
        Err(DbError::Conflict(format!(
            "auction {auction_id} kept changing while being removed"
        )))
    }

    async fn try_remove(
        &self,
        auction_id: AuctionId,
        operator: UserId,
        reason: &str,
    ) -> Result<Option<RemoveResult>, DbError> {
        let mut tx = self.db.begin().await?;
        auctions::lock(&mut tx, auction_id).await?;
        let Some(row) = auctions::find(&mut tx, auction_id).await? else {
            tx.rollback().await?;
            return Ok(Some(RemoveResult::Missing));
        };
        if row.status() != AuctionStatus::Open {
            tx.rollback().await?;
            return Ok(Some(RemoveResult::NotOpen));
        }
        let snapshot = row.snapshot();
        if !auctions::close(&mut tx, auction_id, row.version, AuctionStatus::Cancelled).await? {
            tx.rollback().await?;
            return Ok(None);
        }
        // A cancelled listing settles like an unsold one: the leader's hold
        // goes back, nobody pays.
        let refunded = match settle(&snapshot, CloseOutcome::Unsold) {
            Settlement::Release { bidder_id, amount } => {
                wallets::release(&mut tx, bidder_id, amount, auction_id).await?;
                audit::record(
                    &mut tx,
                    &NewAudit {
                        actor: Some(operator),
                        action: AuditAction::Refund,
                        subject_user: Some(bidder_id),
                        subject_auction: Some(auction_id),
                        amount: Some(amount),
                        reason: Some(reason),
                    },
                )
                .await?;
                Some((bidder_id, amount))
            }
            Settlement::Pay { .. } | Settlement::Nothing => None,
        };
        audit::record(
            &mut tx,
            &NewAudit {
                actor: Some(operator),
                action: AuditAction::AuctionRemove,
                subject_user: Some(row.seller_id),
                subject_auction: Some(auction_id),
                amount: None,
                reason: Some(reason),
            },
        )
        .await?;
        let notice = "운영자가 경매를 취소하였습니다. 입찰 포인트는 반환되었습니다.".to_owned();
        let notice_id =
            auctions::insert_chat(&mut tx, auction_id, None, "notice", &notice, None).await?;
        tx.commit().await?;
        tracing::info!(
            auction_id = auction_id.get(),
            operator = operator.get(),
            refunded = refunded.map(|(_, amount)| amount.get()),
            "listing removed"
        );
        let frame = ServerFrame::closed(
            AuctionStatus::Cancelled,
            None,
            None,
            notice.clone(),
            "removed by an operator".to_owned(),
        );
        self.announce(auction_id, notice_id, notice, &frame).await;
        Ok(Some(RemoveResult::Removed { refunded }))
    }

    /// Closes every auction whose end has passed. Returns how many this call
    /// closed.
    pub async fn sweep(&self) -> Result<usize, DbError> {
        let due = {
            let mut conn = self.db.get().await?;
            auctions::due(&mut conn, Utc::now(), SWEEP_BATCH).await?
        };
        let mut closed = 0;
        for id in due {
            match self.close(id, false).await {
                Ok(CloseResult::Closed(_)) => closed += 1,
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(auction_id = id.get(), error = %e, "could not close a due auction; next sweep retries")
                }
            }
        }
        Ok(closed)
    }
}
