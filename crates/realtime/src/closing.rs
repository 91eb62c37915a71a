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

use std::collections::HashMap;

use chrono::Utc;
use sitga_auction::{
    AcceptedBid, AuctionSnapshot, AuctionStatus, BidRejection, CloseOutcome, Placed, PlanError,
    Sale, Settlement, close_outcome, plan_buy_now, reminder_due, settle,
};
use sitga_core::{AuctionId, Krw, SaleId, UserId};
use sitga_persistence::auctions::{ClientRef, NewBid};
use sitga_persistence::audit::{self, AuditAction, NewAudit};
use sitga_persistence::sales::{self, NewSale};
use sitga_persistence::{DbConn, DbError, DbPool, auctions, lots, notifications, users, wallets};

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
    /// This call stopped a clock (Dutch) auction: at its floor with units
    /// left (or early, by its seller); what its accepts sold stays sold.
    ClockStopped {
        /// Units sold by accepts.
        sold: u32,
        /// Units left unsold.
        unsold: u32,
    },
}

/// How a buy-now went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuyNowResult {
    /// Bought: the auction is sold to the buyer and its sale opened.
    Bought {
        /// The buy-now as the auction's last bid.
        bid: AcceptedBid,
        /// The sale (escrow until the handover).
        sale_id: SaleId,
    },
    /// Refused by a rule; nothing changed.
    Refused(BidRejection),
    /// No such auction.
    Missing,
    /// The same buy-now under the same client key bought it already:
    /// nothing was decided again.
    Replayed {
        /// The buy-now's bid.
        seq: i64,
        /// The price paid.
        amount: Krw,
        /// The sale it opened.
        sale_id: Option<SaleId>,
    },
    /// The client key was used for a different request on this auction.
    RefReused,
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
    pub(crate) db: DbPool,
    pub(crate) bus: RoomBus,
    /// One clock accept per auction at a time on this instance: the crowd
    /// accepting one step waits here, in memory, not with a pooled
    /// connection each in the row lock's queue ([`crate::clock`]).
    pub(crate) accept_gates: crate::clock::Gates,
}

impl Closer {
    /// A closer on `db` publishing to `bus`.
    pub fn new(db: DbPool, bus: RoomBus) -> Self {
        Self {
            db,
            bus,
            accept_gates: crate::clock::Gates::default(),
        }
    }

    /// The database this closer works on.
    pub fn db(&self) -> &DbPool {
        &self.db
    }

    /// Closes `auction_id` if its end has passed (or at once when `early`,
    /// the seller's early close).
    #[tracing::instrument(name = "close", skip(self))]
    pub async fn close(&self, auction_id: AuctionId, early: bool) -> Result<CloseResult, DbError> {
        retried(auction_id, "closing", || self.try_close(auction_id, early)).await
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
        if row.is_clock() {
            return self.stop_clock(tx, &row).await;
        }
        let Some(closing) = close_locked(&mut tx, auction_id, &row.snapshot(), row.version).await?
        else {
            tx.rollback().await?;
            return Ok(None);
        };
        self.bus.stored(tx.commit_told().await?);
        tracing::info!(
            auction_id = auction_id.get(),
            sale_id = closing.sale_id.map(SaleId::get),
            outcome = ?closing.outcome,
            early,
            "auction closed"
        );
        let outcome = closing.outcome;
        self.announce_close(auction_id, closing).await;
        Ok(Some(CloseResult::Closed(outcome)))
    }

    /// Ends `auction_id` at once as sold to `buyer_id` at its buy-now price,
    /// which the buyer saw as `agreed`: in one transaction with the auction
    /// row locked, the leader's hold goes back, the buyer's points are held
    /// and the sale opens with them in escrow, as at a close. A racing bid
    /// or closer queues on the row lock: exactly one of them applies.
    /// The client's key (`client_ref`) is stored with the purchase; a
    /// buy-now the client sends again (`resend`) under a key the buyer
    /// already bought with is answered from that purchase.
    #[tracing::instrument(name = "buy_now", skip(self, nickname, client_ref))]
    pub async fn buy_now(
        &self,
        auction_id: AuctionId,
        buyer_id: UserId,
        nickname: &str,
        agreed: Krw,
        client_ref: Option<&ClientRef>,
        resend: bool,
    ) -> Result<BuyNowResult, DbError> {
        retried(auction_id, "buying it now", || {
            self.try_buy_now(auction_id, buyer_id, nickname, agreed, client_ref, resend)
        })
        .await
    }

    /// The answer to a buy-now whose client key placed a bid already.
    async fn replayed_buy_now(
        tx: &mut DbConn,
        auction_id: AuctionId,
        buyer_id: UserId,
        key: &ClientRef,
    ) -> Result<Option<BuyNowResult>, DbError> {
        let found =
            auctions::bids_by_client_ref(tx, auction_id, &[(buyer_id, key.key.as_str())]).await?;
        let Some(bid) = found.into_iter().next() else {
            return Ok(None);
        };
        if bid.request != key.request {
            return Ok(Some(BuyNowResult::RefReused));
        }
        let sale_id = sales::of_auctions(tx, &[auction_id])
            .await?
            .get(&auction_id)
            .map(|(id, _)| *id);
        Ok(Some(BuyNowResult::Replayed {
            seq: bid.seq,
            amount: bid.amount,
            sale_id,
        }))
    }

    async fn try_buy_now(
        &self,
        auction_id: AuctionId,
        buyer_id: UserId,
        nickname: &str,
        agreed: Krw,
        client_ref: Option<&ClientRef>,
        resend: bool,
    ) -> Result<Option<BuyNowResult>, DbError> {
        let mut tx = self.db.begin().await?;
        auctions::lock(&mut tx, auction_id).await?;
        let Some(row) = auctions::find(&mut tx, auction_id).await? else {
            tx.rollback().await?;
            return Ok(Some(BuyNowResult::Missing));
        };
        if let Some(key) = client_ref.filter(|_| resend)
            && let Some(answer) = Self::replayed_buy_now(&mut tx, auction_id, buyer_id, key).await?
        {
            tx.rollback().await?;
            return Ok(Some(answer));
        }
        if row.is_clock() {
            tx.rollback().await?;
            return Ok(Some(BuyNowResult::Refused(BidRejection::WrongFormat)));
        }
        let before = row.snapshot();
        let mut wallets = HashMap::new();
        let plan = loop {
            match plan_buy_now(&before, &wallets, buyer_id, agreed, Utc::now()) {
                Ok(plan) => break plan,
                Err(PlanError::NeedWallets(ids)) => {
                    wallets.extend(wallets::lock_many(&mut tx, &ids).await?);
                }
                Err(books @ PlanError::Books { .. }) => {
                    return Err(DbError::Invariant(books.to_string()));
                }
            }
        };
        let bid = match plan.outcomes.into_iter().next() {
            Some(Ok(Placed::Bid { bid, .. })) => bid,
            Some(Err(reason)) => {
                tx.rollback().await?;
                return Ok(Some(BuyNowResult::Refused(reason)));
            }
            _ => return Err(DbError::Invariant("a buy-now plan without its bid".into())),
        };
        wallets::apply_moves(&mut tx, auction_id, &wallets, &plan.wallets, &plan.moves).await?;
        let row_of_bid = NewBid {
            seq: bid.seq,
            bidder_id: buyer_id,
            amount: bid.amount,
            client_ref,
        };
        auctions::insert_bids(&mut tx, auction_id, &[row_of_bid]).await?;
        let line = bought_text_ko(nickname, bid.amount);
        let chat_id = auctions::insert_chat(
            &mut tx,
            auction_id,
            Some((buyer_id, nickname)),
            "bid",
            &line,
            Some(bid.amount),
        )
        .await?;
        if !auctions::apply_bids(&mut tx, auction_id, row.version, &plan.after).await? {
            tx.rollback().await?;
            return Ok(None);
        }
        let closing = close_locked(&mut tx, auction_id, &plan.after, row.version + 1).await?;
        let Some((closing, sale_id)) = closing.and_then(|c| c.sale_id.map(|id| (c, id))) else {
            return Err(DbError::Invariant(format!(
                "auction {auction_id} did not sell at its buy-now price"
            )));
        };
        self.bus.stored(tx.commit_told().await?);
        tracing::info!(
            auction_id = auction_id.get(),
            user_id = buyer_id.get(),
            sale_id = sale_id.get(),
            price = bid.amount.get(),
            "bought now"
        );
        self.bus
            .remember(
                auction_id,
                &HistoryItem {
                    id: chat_id,
                    user: Some(nickname.to_owned()),
                    code: "bid_accepted".into(),
                    context: line,
                    amount: Some(bid.amount),
                    at: Utc::now().timestamp_millis(),
                },
            )
            .await;
        self.bus
            .publish(auction_id, &ServerFrame::bid_accepted(nickname, &bid))
            .await;
        self.announce_close(auction_id, closing).await;
        Ok(Some(BuyNowResult::Bought { bid, sale_id }))
    }

    /// After commit: the `closed` frame of `closing`.
    async fn announce_close(&self, auction_id: AuctionId, closing: Closing) {
        let Closing {
            outcome,
            sale_id,
            winner,
            notice,
            notice_id,
        } = closing;
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
    }

    /// After commit: the room's history gets the notice, every watcher the
    /// `closed` frame, and the room's in-memory state is let go.
    pub(crate) async fn announce(
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
        retried(auction_id, "removing it", || {
            self.try_remove(auction_id, operator, reason)
        })
        .await
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

    /// Announces every scheduled auction whose start has come: the one
    /// instance whose guarded update marks it opened sends the room a
    /// `state` frame (bids were taken from the start on regardless: the rule
    /// is the time, not this announcement). Returns how many this call
    /// announced.
    pub async fn open_due(&self) -> Result<usize, DbError> {
        let now = Utc::now();
        let mut conn = self.db.get().await?;
        let due = auctions::due_to_open(&mut conn, now, SWEEP_BATCH).await?;
        let mut opened = 0;
        for id in due {
            if !auctions::mark_opened(&mut conn, id, now).await? {
                continue;
            }
            opened += 1;
            let Some(row) = auctions::find(&mut conn, id).await? else {
                continue;
            };
            let leader = match row.leader_id {
                Some(leader) => users::find_by_id(&mut conn, leader)
                    .await?
                    .map(|u| u.nickname),
                None => None,
            };
            tracing::info!(auction_id = id.get(), "scheduled auction opened");
            self.bus
                .publish(
                    id,
                    &ServerFrame::state(&row.snapshot(), leader.as_deref(), Utc::now()),
                )
                .await;
        }
        Ok(opened)
    }

    /// Sends the ending-soon reminders due now (ten minutes and one minute
    /// before each auction's effective end, which a soft close may have
    /// moved) to its watchers and bidders: the one instance whose guarded
    /// update records a reminder stores it for each of them in the same
    /// transaction. Returns how many auctions' reminders this call sent.
    pub async fn remind_due(&self) -> Result<usize, DbError> {
        let now = Utc::now();
        let due = {
            let mut conn = self.db.get().await?;
            auctions::due_reminders(&mut conn, now, SWEEP_BATCH).await?
        };
        let mut sent = 0;
        for (id, ends_at, already) in due {
            let Some(minutes) = reminder_due(ends_at, now, already) else {
                continue;
            };
            let mut tx = self.db.begin().await?;
            if !auctions::mark_reminded(&mut tx, id, minutes).await? {
                tx.rollback().await?;
                continue;
            }
            let followers = auctions::followers(&mut tx, id).await?;
            let items: Vec<_> = followers
                .iter()
                .map(|user| crate::notices::ending_soon(*user, id, minutes))
                .collect();
            notifications::store(&mut tx, &items).await?;
            self.bus.stored(tx.commit_told().await?);
            tracing::debug!(
                auction_id = id.get(),
                minutes,
                followers = followers.len(),
                "ending-soon reminders sent"
            );
            sent += 1;
        }
        Ok(sent)
    }

    /// Closes every auction whose end has passed (and announces the
    /// scheduled ones whose start has come, sends the ending-soon
    /// reminders and tells the running clocks' steps). Returns how many this call closed.
    pub async fn sweep(&self) -> Result<usize, DbError> {
        if let Err(e) = self.open_due().await {
            tracing::warn!(error = %e, "could not announce the auctions due to open; the next sweep retries");
        }
        if let Err(e) = self.remind_due().await {
            tracing::warn!(error = %e, "could not send the ending-soon reminders; the next sweep retries");
        }
        if let Err(e) = self.tell_clocks().await {
            tracing::warn!(error = %e, "could not tell the clocks' steps; the next sweep retries");
        }
        let due = {
            let mut conn = self.db.get().await?;
            auctions::due(&mut conn, Utc::now(), SWEEP_BATCH).await?
        };
        let mut closed = 0;
        for id in due {
            match self.close(id, false).await {
                Ok(CloseResult::Closed(_) | CloseResult::ClockStopped { .. }) => closed += 1,
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(auction_id = id.get(), error = %e, "could not close a due auction; next sweep retries")
                }
            }
        }
        Ok(closed)
    }
}

/// Runs `attempt` (one transaction) until it decides: a lost version guard
/// (`Ok(None)`) or a deadlock means another writer changed the auction
/// meanwhile, so it reads again, at most five times.
pub(crate) async fn retried<T, F, Fut>(
    auction_id: AuctionId,
    doing: &str,
    mut attempt: F,
) -> Result<T, DbError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>, DbError>>,
{
    for _ in 0..5 {
        match attempt().await {
            Err(DbError::Conflict(_)) | Ok(None) => continue,
            Ok(Some(result)) => return Ok(result),
            Err(e) => return Err(e),
        }
    }
    Err(DbError::Conflict(format!(
        "auction {auction_id} kept changing while {doing}"
    )))
}

/// What a close wrote, for the frames sent after commit.
struct Closing {
    outcome: CloseOutcome,
    sale_id: Option<SaleId>,
    winner: Option<String>,
    notice: String,
    notice_id: i64,
}

/// Closes the open auction `snapshot` (row locked by the caller, read at
/// `version`) inside `tx`: the status guarded by the version, the
/// settlement (escrow and a sale when sold, the hold back when not), the
/// badges and the notice. `None` when the guard failed (the caller rolls
/// back and retries).
async fn close_locked(
    tx: &mut DbConn,
    auction_id: AuctionId,
    snapshot: &AuctionSnapshot,
    version: i64,
) -> Result<Option<Closing>, DbError> {
    let outcome = close_outcome(snapshot);
    if !auctions::close(tx, auction_id, version, outcome.status()).await? {
        return Ok(None);
    }
    let mut sale_id = None;
    match settle(snapshot, outcome) {
        Settlement::Pay {
            winner_id,
            seller_id,
            price,
        } => {
            wallets::hold_to_escrow(tx, winner_id, price, auction_id).await?;
            audit::record(
                tx,
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
            let sale = sale_terms(tx, auction_id, price).await?;
            sale_id = Some(
                sales::open(
                    tx,
                    &NewSale {
                        auction_id,
                        seller_id,
                        buyer_id: winner_id,
                        sale,
                        units: 1,
                        bid_seq: snapshot.bid_count,
                    },
                )
                .await?,
            );
            if let Some(sale) = sale_id {
                notifications::store(
                    tx,
                    &crate::notices::sold(auction_id, winner_id, seller_id, price, sale),
                )
                .await?;
            }
            crate::awards::award_sale_badges(tx, seller_id, winner_id).await?;
        }
        Settlement::Release { bidder_id, amount } => {
            wallets::release(tx, bidder_id, amount, auction_id).await?;
        }
        Settlement::Nothing => {}
    }
    let winner = match outcome {
        CloseOutcome::Sold { winner_id, .. } => {
            users::find_by_id(tx, winner_id).await?.map(|u| u.nickname)
        }
        CloseOutcome::Unsold => None,
    };
    let notice = match (&outcome, &winner) {
        (CloseOutcome::Sold { price, .. }, Some(nick)) => format!(
            "경매가 종료되었습니다. {nick}님이 {price}원에 낙찰받았습니다. \
             인계가 끝날 때까지 대금은 에스크로에 보관됩니다."
        ),
        _ => "경매가 유찰되었습니다.".to_owned(),
    };
    let notice_id = auctions::insert_chat(tx, auction_id, None, "notice", &notice, None).await?;
    Ok(Some(Closing {
        outcome,
        sale_id,
        winner,
        notice,
        notice_id,
    }))
}

/// A new sale of `price` on the terms of the auction's lot (pickup, courier
/// fee).
pub(crate) async fn sale_terms(
    tx: &mut DbConn,
    auction_id: AuctionId,
    price: Krw,
) -> Result<Sale, DbError> {
    let delivery = lots::of_auctions(tx, &[auction_id])
        .await?
        .remove(&auction_id)
        .and_then(|stored| stored.lot.delivery)
        .unwrap_or_default();
    Ok(Sale::new(
        price,
        delivery.pickup.is_some(),
        delivery.courier_fee,
        Utc::now(),
    ))
}

/// The room line for a buy-now.
pub fn bought_text_ko(nickname: &str, amount: Krw) -> String {
    format!("{nickname}님이 {amount}원에 즉시 구매하였습니다.")
}

#[cfg(test)]
mod tests {
    use sitga_persistence::test_support::{
        TestDatabase, end_auction_in, insert_auction, insert_member,
    };
    use sitga_persistence::watchlist;

    use super::*;

    /// An auction watched by more people than one statement (or one
    /// read-back query) holds: each gets its reminder once, stored in
    /// chunks, and the live copy reaches the last of them.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_crowd_of_watchers_gets_its_reminders_in_chunks() {
        let database = TestDatabase::create().await.unwrap();
        let db = database.pool().await.unwrap();
        let mut conn = db.get().await.unwrap();
        let seller = insert_member(&mut conn, "w0").await.unwrap();
        let auction = insert_auction(&mut conn, seller, 10_000).await.unwrap();
        // More than two statements' worth, and more than one read-back.
        let crowd = 1_234;
        let mut watchers = Vec::with_capacity(crowd);
        for n in 1..=crowd {
            let id = insert_member(&mut conn, &format!("w{n}")).await.unwrap();
            watchlist::add(&mut conn, id, auction).await.unwrap();
            watchers.push(id);
        }
        let (first, last) = (watchers[0], watchers[crowd - 1]);
        drop(conn);
        let bus = RoomBus::local();
        let _notifier = bus.spawn_notifier(db.clone()).unwrap();
        let mut inbox = bus.subscribe_user(last);
        let closer = Closer::new(db.clone(), bus);
        end_auction_in(&db, auction, 5 * 60).await.unwrap();
        assert_eq!(closer.remind_due().await.unwrap(), 1);
        assert_eq!(closer.remind_due().await.unwrap(), 0);
        let frame = tokio::time::timeout(std::time::Duration::from_secs(10), inbox.recv())
            .await
            .unwrap()
            .unwrap();
        let frame: serde_json::Value = serde_json::from_str(&frame).unwrap();
        assert_eq!(frame["kind"], "ending_soon");
        assert_eq!(frame["auction_id"], auction.get());
        let mut conn = db.get().await.unwrap();
        let mut stored = 0;
        for user in [seller, last] {
            stored += notifications::unread_count(&mut conn, user).await.unwrap();
        }
        assert_eq!(stored, 1, "the last watcher, not the seller");
        let (_, total) = notifications::page(&mut conn, first, false, 0, 10)
            .await
            .unwrap();
        assert_eq!(total, 1, "the first watcher too");
    }
}
