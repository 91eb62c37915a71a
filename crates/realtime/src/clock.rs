//! Clock (Dutch) auctions live: accepts, the clock's steps told to the
//! room, and the stop at the floor.
//!
//! An accept is decided like a buy-now: one transaction with the auction's
//! row locked (so accepts from any instance queue there and exactly one
//! writer decides each), the clock read at that moment from its stored
//! anchor (an accept sent before a step and decided after it is told the
//! new price), the buyer's points moved into a new sale's escrow, the
//! accept appended to the bid history with its units, the clock's new
//! anchor and units written, all committed before any frame. The steps are
//! told by the sweeper of every instance: the one whose guarded update
//! records a step sends its `clock` frame.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::Utc;
use sitga_auction::{AuctionStatus, BidRejection, ClockOrder, ClockReading, ClockSale, Krw};
use sitga_core::{AuctionId, SaleId, UserId};
use sitga_persistence::auctions::{Auction, ClientRef};
use sitga_persistence::audit::{self, AuditAction, NewAudit};
use sitga_persistence::clocks::{self, StoredClock};
use sitga_persistence::sales::{self, NewSale};
use sitga_persistence::{DbConn, DbError, auctions, notifications, wallets};

use crate::bus::HistoryItem;
use crate::closing::{CloseResult, Closer, retried, sale_terms};
use crate::frames::{ServerFrame, clock_accepted_text_ko};

/// Per-auction gates for accepts: a map from auction to its lock, each
/// entry dropped when nobody holds or waits for it.
#[derive(Debug, Clone, Default)]
pub struct Gates(Arc<std::sync::Mutex<HashMap<AuctionId, Arc<tokio::sync::Mutex<()>>>>>);

impl Gates {
    /// Waits for `auction`'s gate and holds it until the guard drops.
    async fn enter(&self, auction: AuctionId) -> Gate {
        let lock = {
            let mut map = self
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            Arc::clone(map.entry(auction).or_default())
        };
        let guard = Arc::clone(&lock).lock_owned().await;
        Gate {
            gates: self.clone(),
            auction,
            lock,
            _guard: guard,
        }
    }
}

/// A held gate; leaving it forgets the auction's entry when it was the last.
struct Gate {
    gates: Gates,
    auction: AuctionId,
    lock: Arc<tokio::sync::Mutex<()>>,
    _guard: tokio::sync::OwnedMutexGuard<()>,
}

impl Drop for Gate {
    fn drop(&mut self) {
        let mut map = self
            .gates
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // The map's entry, this gate and its guard's: nobody else waits.
        if Arc::strong_count(&self.lock) <= 3 {
            map.remove(&self.auction);
        }
    }
}

/// A bidder accepting the clock's price for some units.
#[derive(Debug, Clone, Copy)]
pub struct AcceptCommand<'a> {
    /// The clock auction.
    pub auction_id: AuctionId,
    /// The buyer.
    pub buyer_id: UserId,
    /// Their nickname, for the room.
    pub nickname: &'a str,
    /// Units asked for (checked: 1 … the units left).
    pub units: i64,
    /// The price the buyer saw on the clock (per unit).
    pub price: Krw,
    /// The client's key for this request.
    pub client_ref: Option<&'a ClientRef>,
    /// Whether the client sent this request before (look the key up).
    pub resend: bool,
}

/// How an accept went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AcceptResult {
    /// Bought: the units are the buyer's, their points wait in the sale's
    /// escrow.
    Bought {
        /// What was sold.
        sale: ClockSale,
        /// The sale (escrow until the handover).
        sale_id: SaleId,
        /// The clock after it.
        clock: ClockReading,
    },
    /// Refused by a rule (`price_moved` carries the price now); nothing
    /// changed.
    Refused(BidRejection),
    /// No such auction.
    Missing,
    /// The same accept under the same client key bought already: nothing
    /// was decided again.
    Replayed {
        /// The accept's number in the history.
        seq: i64,
        /// Units it bought.
        units: u32,
        /// Each one's price.
        unit_price: Krw,
        /// The sale it opened.
        sale_id: Option<SaleId>,
    },
    /// The client key was used for a different request on this auction.
    RefReused,
}

/// Reads a clock auction's clock now, for a `clock` frame or an auction's
/// body; `None` for an auction that takes bids.
pub async fn read_clock(
    conn: &mut DbConn,
    auction: AuctionId,
) -> Result<Option<(ClockReading, u32)>, DbError> {
    Ok(clocks::find(conn, auction)
        .await?
        .map(|c| (c.state().read(&c.rules(), Utc::now()), c.rules().quantity)))
}

impl Closer {
    /// Decides `command` (see the module's notes); after commit the room
    /// gets the accept's line and the clock (or `closed` when the last unit
    /// sold).
    #[tracing::instrument(
        name = "accept",
        skip(self, command),
        fields(auction_id = command.auction_id.get(), user_id = command.buyer_id.get())
    )]
    pub async fn accept(&self, command: &AcceptCommand<'_>) -> Result<AcceptResult, DbError> {
        // One at a time per auction on this instance; other instances queue
        // on the row lock.
        let _gate = self.accept_gates.enter(command.auction_id).await;
        // A re-send is looked up under the lock, whatever the clock says now.
        if !command.resend
            && let Some(refused) = self.certain_refusal(command).await?
        {
            return Ok(refused);
        }
        retried(command.auction_id, "accepting its clock", || {
            self.try_accept(command)
        })
        .await
    }

    /// The refusals a plain read already makes certain, without a
    /// transaction or the row lock: a clock only ever closes and loses
    /// units, so the crowd that comes after the last box costs one read
    /// each, not a place in the lock's queue.
    async fn certain_refusal(
        &self,
        cmd: &AcceptCommand<'_>,
    ) -> Result<Option<AcceptResult>, DbError> {
        let mut conn = self.db.get().await?;
        let Some(row) = auctions::find(&mut conn, cmd.auction_id).await? else {
            return Ok(Some(AcceptResult::Missing));
        };
        let refusal = if !row.is_clock() {
            Some(BidRejection::WrongFormat)
        } else if row.status() != AuctionStatus::Open {
            Some(BidRejection::NotOpen)
        } else {
            clocks::find(&mut conn, cmd.auction_id)
                .await?
                .map(|c| c.state().remaining)
                .filter(|left| i64::from(*left) < cmd.units)
                .map(|remaining| BidRejection::UnitsUnavailable { remaining })
        };
        Ok(refusal.map(AcceptResult::Refused))
    }

    async fn try_accept(&self, cmd: &AcceptCommand<'_>) -> Result<Option<AcceptResult>, DbError> {
        let id = cmd.auction_id;
        let mut tx = self.db.begin().await?;
        auctions::lock(&mut tx, id).await?;
        let Some(row) = auctions::find(&mut tx, id).await? else {
            tx.rollback().await?;
            return Ok(Some(AcceptResult::Missing));
        };
        let Some(clock) = clocks::find(&mut tx, id).await?.filter(|_| row.is_clock()) else {
            tx.rollback().await?;
            return Ok(Some(AcceptResult::Refused(BidRejection::WrongFormat)));
        };
        if let Some(key) = cmd.client_ref.filter(|_| cmd.resend)
            && let Some(answer) = replayed(&mut tx, id, cmd.buyer_id, key).await?
        {
            tx.rollback().await?;
            return Ok(Some(answer));
        }
        let (rules, now) = (clock.rules(), Utc::now());
        let wallet = wallets::lock_many(&mut tx, &[cmd.buyer_id])
            .await?
            .remove(&cmd.buyer_id)
            .unwrap_or_default();
        let decided = clock.state().accept(
            &rules,
            &row.snapshot(),
            ClockOrder {
                buyer_id: cmd.buyer_id,
                units: cmd.units,
                price: cmd.price,
            },
            wallet.available(),
            now,
        );
        let sale = match decided {
            Ok(sale) => sale,
            Err(reason) => {
                tx.rollback().await?;
                return Ok(Some(AcceptResult::Refused(reason)));
            }
        };
        let ends_at = sale.after.ends_at(&rules);
        if !auctions::apply_accept(&mut tx, id, row.version, &sale, ends_at).await? {
            tx.rollback().await?;
            return Ok(None);
        }
        clocks::save_accept(&mut tx, id, &sale.after, now).await?;
        // The wallet is locked and its available points were checked.
        if !wallets::pay_into_escrow(&mut tx, cmd.buyer_id, sale.total, id).await? {
            return Err(DbError::Invariant(format!(
                "buyer {} could not pay {} checked under lock",
                cmd.buyer_id, sale.total
            )));
        }
        audit::record(
            &mut tx,
            &NewAudit {
                actor: None,
                action: AuditAction::Escrow,
                subject_user: Some(cmd.buyer_id),
                subject_auction: Some(id),
                amount: Some(sale.total),
                reason: None,
            },
        )
        .await?;
        auctions::insert_accept(&mut tx, id, &sale, cmd.client_ref).await?;
        let line = clock_accepted_text_ko(cmd.nickname, &sale);
        let chat_id = auctions::insert_chat(
            &mut tx,
            id,
            Some((cmd.buyer_id, cmd.nickname)),
            "bid",
            &line,
            Some(sale.unit_price),
        )
        .await?;
        let sale_id = open_sale(&mut tx, &row, &sale).await?;
        let sold_out = if sale.sold_out {
            let notice = format!(
                "모두 판매되었습니다. 경매가 종료되었습니다 ({}개).",
                rules.quantity
            );
            let notice_id =
                auctions::insert_chat(&mut tx, id, None, "notice", &notice, None).await?;
            Some((notice, notice_id))
        } else {
            None
        };
        self.bus.stored(tx.commit_told().await?);
        tracing::info!(
            sale_id = sale_id.get(),
            units = sale.units,
            price = sale.unit_price.get(),
            remaining = sale.after.remaining,
            "clock accepted"
        );
        let reading = sale.after.read(&rules, now);
        self.bus
            .remember(
                id,
                &HistoryItem {
                    id: chat_id,
                    user: Some(cmd.nickname.to_owned()),
                    code: "bid_accepted".into(),
                    context: line,
                    amount: Some(sale.unit_price),
                    at: now.timestamp_millis(),
                },
            )
            .await;
        let accepted = ServerFrame::clock_accepted(cmd.nickname, &sale);
        match sold_out {
            Some((notice, notice_id)) => {
                self.bus.publish(id, &accepted).await;
                let frame = ServerFrame::closed(
                    AuctionStatus::Sold,
                    None,
                    None,
                    notice.clone(),
                    format!("all {} units sold", rules.quantity),
                );
                self.announce(id, notice_id, notice, &frame).await;
            }
            None => {
                // The sale and the clock after it: one item for the room.
                let clock = ServerFrame::clock(&reading, rules.quantity);
                self.bus.publish_all(id, &[accepted, clock]).await;
            }
        }
        Ok(Some(AcceptResult::Bought {
            sale,
            sale_id,
            clock: reading,
        }))
    }

    /// Stops the clock auction `row` (locked by the caller in `tx`, due or
    /// closed early by its seller): sold if any accept bought, unsold if
    /// none; the accepts' sales are theirs already, nothing else moves.
    pub(crate) async fn stop_clock(
        &self,
        tx: DbConn,
        row: &Auction,
    ) -> Result<Option<CloseResult>, DbError> {
        let mut tx = tx;
        let id = row.id;
        let Some(clock) = clocks::find(&mut tx, id).await? else {
            return Err(DbError::Invariant(format!(
                "clock auction {id} has no clock"
            )));
        };
        let (quantity, unsold) = (clock.rules().quantity, clock.state().remaining);
        let sold = quantity - unsold;
        let status = if sold > 0 {
            AuctionStatus::Sold
        } else {
            AuctionStatus::Unsold
        };
        if !auctions::close(&mut tx, id, row.version, status).await? {
            tx.rollback().await?;
            return Ok(None);
        }
        let notice = if sold > 0 {
            format!("경매가 종료되었습니다. {sold}개가 판매되었고 {unsold}개는 유찰되었습니다.")
        } else {
            "경매가 유찰되었습니다.".to_owned()
        };
        let notice_id = auctions::insert_chat(&mut tx, id, None, "notice", &notice, None).await?;
        tx.commit().await?;
        tracing::info!(auction_id = id.get(), sold, unsold, "clock stopped");
        let frame = ServerFrame::closed(
            status,
            None,
            None,
            notice.clone(),
            format!("the clock stopped: {sold} sold, {unsold} unsold"),
        );
        self.announce(id, notice_id, notice, &frame).await;
        Ok(Some(CloseResult::ClockStopped { sold, unsold }))
    }

    /// Tells each running clock's room the step it shows now, once: the
    /// instance whose guarded update records the step sends its `clock`
    /// frame (a step an accept already told is not told again). Returns how
    /// many steps this call told.
    pub async fn tell_clocks(&self) -> Result<usize, DbError> {
        let now = Utc::now();
        let mut conn = self.db.get().await?;
        let running = clocks::running(&mut conn, now).await?;
        let mut told = 0;
        for clock in running {
            if let Some(frame) = due_step(&mut conn, &clock, now).await? {
                self.bus.publish(clock.auction_id, &frame).await;
                told += 1;
            }
        }
        Ok(told)
    }
}

/// The `clock` frame of `clock`'s current step if nobody told it yet (and
/// this call recorded it as told).
async fn due_step(
    conn: &mut DbConn,
    clock: &StoredClock,
    now: chrono::DateTime<Utc>,
) -> Result<Option<ServerFrame>, DbError> {
    let rules = clock.rules();
    let reading = clock.state().read(&rules, now);
    if reading.remaining == 0
        || now >= reading.ends_at
        || clock
            .told_at()
            .is_some_and(|told| told >= reading.level_since)
        || !clocks::mark_told(conn, clock.auction_id, reading.level_since).await?
    {
        return Ok(None);
    }
    Ok(Some(ServerFrame::clock(&reading, rules.quantity)))
}

/// The answer to an accept whose client key bought already.
async fn replayed(
    tx: &mut DbConn,
    auction: AuctionId,
    buyer: UserId,
    key: &ClientRef,
) -> Result<Option<AcceptResult>, DbError> {
    let found = auctions::bids_by_client_ref(tx, auction, &[(buyer, key.key.as_str())]).await?;
    let Some(bid) = found.into_iter().min_by_key(|b| b.seq) else {
        return Ok(None);
    };
    if bid.request != key.request {
        return Ok(Some(AcceptResult::RefReused));
    }
    Ok(Some(AcceptResult::Replayed {
        seq: bid.seq,
        units: u32::try_from(bid.units).unwrap_or(1),
        unit_price: bid.amount,
        sale_id: sales::of_bid(tx, auction, bid.seq).await?,
    }))
}

/// Opens the sale of an accept (its total in escrow), tells both sides and
/// counts it for their badges.
async fn open_sale(tx: &mut DbConn, row: &Auction, sold: &ClockSale) -> Result<SaleId, DbError> {
    let sale = sale_terms(tx, row.id, sold.total).await?;
    let sale_id = sales::open(
        tx,
        &NewSale {
            auction_id: row.id,
            seller_id: row.seller_id,
            buyer_id: sold.buyer_id,
            sale,
            units: sold.units,
            bid_seq: sold.seq,
        },
    )
    .await?;
    notifications::store(
        tx,
        &crate::notices::sold_units(row.id, sold, row.seller_id, sale_id),
    )
    .await?;
    crate::awards::award_sale_badges(tx, row.seller_id, sold.buyer_id).await?;
    Ok(sale_id)
}
