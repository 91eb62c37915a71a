//! Closing auctions: exactly one result and one settlement per auction,
//! however many closers (sweepers on several instances, an early close by
//! the seller) race for it.
//!
//! A close is one transaction: lock the auction row, read it, decide the
//! outcome with the domain rules, write the new status guarded by the
//! version read (`status = 'open' AND version = ?`), move the money, then
//! commit. A closer that loses the guard finds the auction already closed
//! and does nothing. The `closed` frame goes to the room after commit.

use chrono::Utc;
use sitga_auction::{AuctionStatus, CloseOutcome, Settlement, close_outcome, settle};
use sitga_core::AuctionId;
use sitga_persistence::{DbError, DbPool, auctions, users, wallets};

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
        match settle(&snapshot, outcome) {
            Settlement::Pay {
                winner_id,
                seller_id,
                price,
            } => {
                wallets::pay(&mut tx, winner_id, seller_id, price, auction_id).await?;
                sitga_persistence::audit::record(
                    &mut tx,
                    &sitga_persistence::audit::NewAudit {
                        actor: None,
                        action: sitga_persistence::audit::AuditAction::Settlement,
                        subject_user: Some(seller_id),
                        subject_auction: Some(auction_id),
                        amount: Some(price),
                        reason: None,
                    },
                )
                .await?;
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
            (CloseOutcome::Sold { price, .. }, Some(nick)) => {
                format!("경매가 종료되었습니다. {nick}님이 {price}원에 낙찰받았습니다.")
            }
            _ => "경매가 유찰되었습니다.".to_owned(),
        };
        let notice_id =
            auctions::insert_chat(&mut tx, auction_id, None, "notice", &notice, None).await?;
        tx.commit().await?;
        tracing::info!(
            auction_id = auction_id.get(),
            ?outcome,
            early,
            "auction closed"
        );
        self.bus
            .remember(
                auction_id,
                &HistoryItem {
                    id: notice_id,
                    user: None,
                    code: "notice".into(),
                    context: notice.clone(),
                    amount: None,
                    at: Utc::now().timestamp_millis(),
                },
            )
            .await;

        let frame = match outcome {
            CloseOutcome::Sold { price, .. } => ServerFrame::closed(
                outcome.status(),
                winner,
                Some(price),
                notice,
                format!("sold for {price} won"),
            ),
            CloseOutcome::Unsold => ServerFrame::closed(
                outcome.status(),
                None,
                None,
                notice,
                "closed without a sale".to_owned(),
            ),
        };
        self.bus.publish(auction_id, &frame).await;
        self.bus.forget_history(auction_id);
        Ok(Some(CloseResult::Closed(outcome)))
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
