//! Deciding a batch of bids on one auction at once, with the points each
//! accepted bid holds and releases, from wallets read under a lock.
//!
//! The bid writer validates the bids queued for an auction in arrival order
//! and commits them in one transaction; this is the arithmetic of that
//! transaction, so the database work is only "lock these wallets, write
//! these values".

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};

use sitga_core::UserId;

use crate::rules::{next_bid, taking_bids_from};
use crate::{
    AcceptedBid, AuctionSnapshot, BidRejection, Krw, MAX_AMOUNT, Wallet, min_next_bid,
    validate_buy_now,
};

/// A bid waiting in the batch: an amount, a maximum the engine bids up to
/// for the bidder (a proxy bid), or both (bid this now, defend it up to
/// that).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct BidRequest {
    /// Bidder.
    pub bidder_id: UserId,
    /// The amount to bid now (with only a maximum: the least that leads).
    pub amount: Option<Krw>,
    /// The most the engine may bid for the bidder.
    pub max: Option<Krw>,
}

impl BidRequest {
    /// A bid of `amount`.
    pub fn plain(bidder_id: UserId, amount: Krw) -> Self {
        Self {
            bidder_id,
            amount: Some(amount),
            max: None,
        }
    }

    /// A maximum of `max`, bid from `amount` (or from the least that leads).
    pub fn proxy(bidder_id: UserId, amount: Option<Krw>, max: Krw) -> Self {
        Self {
            bidder_id,
            amount,
            max: Some(max),
        }
    }
}

/// What an accepted request did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placed {
    /// The request's bid, and the answer of the standing maximum it did not
    /// beat (placed right after it, by the engine, for the leader).
    Bid {
        /// The request's own bid.
        bid: AcceptedBid,
        /// The leader's proxy bid that outbid it at once.
        answer: Option<AcceptedBid>,
        /// The requester's maximum standing after (while they lead).
        max: Option<Krw>,
    },
    /// The leader raised their own maximum; the price did not move.
    MaxRaised {
        /// The new maximum.
        max: Krw,
    },
}

impl Placed {
    /// Every bid this placed, in order (none for a raised maximum).
    pub fn bids(&self) -> impl Iterator<Item = &AcceptedBid> {
        let (bid, answer) = match self {
            Self::Bid { bid, answer, .. } => (Some(bid), answer.as_ref()),
            Self::MaxRaised { .. } => (None, None),
        };
        bid.into_iter().chain(answer)
    }
}

/// A standing maximum that could not bid as high as it needed: its owner's
/// points ran out; it bid what they covered (or nothing) and stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProxyExhausted {
    /// The maximum's owner.
    pub user_id: UserId,
    /// The sequence number of the bid it had to answer.
    pub at_seq: i64,
}

/// The checks of a request that need no wallet: `Raise` for a leader
/// raising their maximum, `Challenge` with the lowest and highest amount
/// the request may bid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checked {
    /// The leader's new maximum.
    Raise(Krw),
    /// A bid from `floor` up to `cap`.
    Challenge {
        /// The least this request bids.
        floor: Krw,
        /// The most it may bid (its maximum, or the amount).
        cap: Krw,
    },
}

/// Checks `request` against `auction` at `now` without any wallet: the
/// amounts, the auction taking bids, the leader raising (never lowering)
/// their own maximum, and the minimum next bid.
///
/// ```
/// # use chrono::{Duration, Utc};
/// # use sitga_auction::*;
/// # use sitga_core::{AuctionId, UserId};
/// let now = Utc::now();
/// let won = Krw::new;
/// let auction = AuctionSnapshot { id: AuctionId::new(1), seller_id: UserId::new(1),
///     status: AuctionStatus::Open, start_price: won(10_000), increment: Increment::Tiered,
///     reserve_price: None, buy_now_price: None, current_price: Some(won(20_000)),
///     leader_id: Some(UserId::new(2)), leader_max: Some(won(30_000)), bid_count: 3,
///     starts_at: None, ends_at: now + Duration::hours(1), hard_end_at: now + Duration::hours(2),
///     soft_close: Duration::minutes(2) };
/// let raise = BidRequest::proxy(UserId::new(2), None, won(25_000));
/// assert_eq!(check_request(&auction, &raise, now), Err(BidRejection::MaxTooLow { min_max: won(30_001) }));
/// let challenge = BidRequest::proxy(UserId::new(3), None, won(50_000));
/// assert_eq!(check_request(&auction, &challenge, now),
///     Ok(Checked::Challenge { floor: won(21_000), cap: won(50_000) }));
/// ```
pub fn check_request(
    auction: &AuctionSnapshot,
    request: &BidRequest,
    now: DateTime<Utc>,
) -> Result<Checked, BidRejection> {
    let valid = |amount: Krw| amount.is_positive() && amount <= MAX_AMOUNT;
    match (request.amount, request.max) {
        (None, None) => return Err(BidRejection::InvalidAmount),
        (Some(a), _) | (None, Some(a)) if !valid(a) => return Err(BidRejection::InvalidAmount),
        (_, Some(max)) if !valid(max) => return Err(BidRejection::InvalidAmount),
        (Some(amount), Some(max)) if max < amount => {
            return Err(BidRejection::MaxTooLow { min_max: amount });
        }
        _ => {}
    }
    taking_bids_from(auction, request.bidder_id, now)?;
    if auction.leader_id == Some(request.bidder_id) {
        let (None, Some(max)) = (request.amount, request.max) else {
            return Err(BidRejection::AlreadyLeading);
        };
        let standing = auction
            .leader_max
            .or(auction.current_price)
            .unwrap_or(Krw::ZERO);
        if max <= standing {
            return Err(BidRejection::MaxTooLow {
                min_max: standing.saturating_add(Krw::new(1)),
            });
        }
        return Ok(Checked::Raise(max));
    }
    let min_next_bid = min_next_bid(auction);
    let floor = request.amount.unwrap_or(min_next_bid);
    let cap = request.max.unwrap_or(floor);
    if floor < min_next_bid || cap < min_next_bid {
        return Err(BidRejection::TooLow { min_next_bid });
    }
    Ok(Checked::Challenge { floor, cap })
}

/// Which way a bid moved points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum PointMove {
    /// Reserved for a bid that now leads.
    Hold,
    /// Reservation lifted: the leader was outbid.
    Release,
}

/// One movement of points, with the wallet right after it (a ledger line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct WalletMove {
    /// Whose points.
    pub user_id: UserId,
    /// Hold or release.
    pub kind: PointMove,
    /// How much.
    pub amount: Krw,
    /// The wallet after this movement.
    pub after: Wallet,
}

/// What a batch does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchPlan {
    /// Each request's outcome, in request order.
    pub outcomes: Vec<Result<Placed, BidRejection>>,
    /// The auction before each request (what it was judged against).
    pub seen: Vec<AuctionSnapshot>,
    /// The auction after the batch.
    pub after: AuctionSnapshot,
    /// Every point movement, in order.
    pub moves: Vec<WalletMove>,
    /// The final value of every wallet that changed.
    pub wallets: BTreeMap<UserId, Wallet>,
    /// Maximums that ran out of points, in order.
    pub exhausted: Vec<ProxyExhausted>,
}

impl BatchPlan {
    fn new(auction: &AuctionSnapshot, requests: usize) -> Self {
        Self {
            outcomes: Vec::with_capacity(requests),
            seen: Vec::with_capacity(requests),
            after: auction.clone(),
            moves: Vec::new(),
            wallets: BTreeMap::new(),
            exhausted: Vec::new(),
        }
    }

    /// Whether anything was accepted (something to write).
    pub fn accepted_any(&self) -> bool {
        self.outcomes.iter().any(Result::is_ok)
    }

    /// Every bid placed, in order (requests' own bids and proxies' answers).
    pub fn bids(&self) -> impl Iterator<Item = &AcceptedBid> {
        self.outcomes
            .iter()
            .filter_map(|o| o.as_ref().ok())
            .flat_map(Placed::bids)
    }
}

/// Why a batch could not be planned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// These wallets must be read (and locked) first; plan again with them.
    #[error("wallets {0:?} are needed")]
    NeedWallets(Vec<UserId>),
    /// A release larger than what is held: the stored books disagree with
    /// the auction (never expected; the caller must roll back).
    #[error("user {user_id} holds {held}, less than the {amount} to release")]
    Books {
        /// Outbid leader.
        user_id: UserId,
        /// What their wallet holds.
        held: Krw,
        /// The leading amount to release.
        amount: Krw,
    },
}

/// The outbid `leader`'s hold of `amount` lifted from `wallet`, or the
/// books error when the wallet holds less.
fn release_hold(leader: UserId, mut wallet: Wallet, amount: Krw) -> Result<WalletMove, PlanError> {
    if wallet.held < amount {
        return Err(PlanError::Books {
            user_id: leader,
            held: wallet.held,
            amount,
        });
    }
    wallet.held -= amount;
    Ok(WalletMove {
        user_id: leader,
        kind: PointMove::Release,
        amount,
        after: wallet,
    })
}

/// The wallets a plan reads and moves: those read under lock, what the
/// plan did to them so far, and the ones it lacked. `unlimited` plans as
/// if every bidder could pay ([`state_if_funded`]).
struct Books<'a> {
    read: &'a HashMap<UserId, Wallet>,
    current: BTreeMap<UserId, Wallet>,
    missing: Vec<UserId>,
    moves: Vec<WalletMove>,
    unlimited: bool,
}

impl Books<'_> {
    /// What `user` has available now; `None` when their wallet was not read
    /// (the plan then assumes they can pay, to learn every wallet it needs
    /// in one round).
    fn available(&mut self, user: UserId) -> Option<Krw> {
        if self.unlimited {
            return None;
        }
        let found = self.current.get(&user).or_else(|| self.read.get(&user));
        if found.is_none() && !self.missing.contains(&user) {
            self.missing.push(user);
        }
        found.map(|wallet| wallet.available())
    }

    /// Moves points of a known wallet (an unread one is noted and skipped:
    /// the plan is redone once it is read).
    fn record(&mut self, user_id: UserId, kind: PointMove, amount: Krw) -> Result<(), PlanError> {
        if self.unlimited {
            return Ok(());
        }
        let found = self
            .current
            .get(&user_id)
            .or_else(|| self.read.get(&user_id));
        let Some(mut wallet) = found.copied() else {
            if !self.missing.contains(&user_id) {
                self.missing.push(user_id);
            }
            return Ok(());
        };
        match kind {
            PointMove::Hold => wallet.held += amount,
            PointMove::Release if wallet.held < amount => {
                return Err(PlanError::Books {
                    user_id,
                    held: wallet.held,
                    amount,
                });
            }
            PointMove::Release => wallet.held -= amount,
        }
        self.current.insert(user_id, wallet);
        self.moves.push(WalletMove {
            user_id,
            kind,
            amount,
            after: wallet,
        });
        Ok(())
    }

    /// Moves the points of `bid`: its bidder holds it, the leader it
    /// displaced gets their hold back.
    fn place(&mut self, bid: &AcceptedBid) -> Result<(), PlanError> {
        self.record(bid.bidder_id, PointMove::Hold, bid.amount)?;
        if let Some((leader, amount)) = bid.released {
            self.record(leader, PointMove::Release, amount)?;
        }
        Ok(())
    }
}

/// Decides one request on `state` (moved on when accepted).
///
/// A challenger beating the standing maximum leads at the least that beats
/// it (that maximum plus one increment, within the challenger's own
/// range). One that does not is answered at once by the leader's proxy at
/// the challenger's amount plus one increment, capped at the maximum (equal
/// maximums: the earlier leads). A proxy whose owner cannot pay its answer
/// bids what they cover, if that still leads, and stops.
fn decide(
    state: &mut AuctionSnapshot,
    request: &BidRequest,
    now: DateTime<Utc>,
    books: &mut Books<'_>,
    exhausted: &mut Vec<ProxyExhausted>,
) -> Result<Result<Placed, BidRejection>, PlanError> {
    let (floor, cap) = match check_request(state, request, now) {
        Err(reason) => return Ok(Err(reason)),
        Ok(Checked::Raise(max)) => {
            state.leader_max = Some(max);
            return Ok(Ok(Placed::MaxRaised { max }));
        }
        Ok(Checked::Challenge { floor, cap }) => (floor, cap),
    };
    let defender = state.leader_id.zip(state.leader_max);
    let amount = match defender {
        // Not beaten: the challenger bids all it may, then the proxy answers.
        Some((_, max)) if cap <= max => cap,
        Some((_, max)) => floor.max(cap.min(max.saturating_add(state.increment.over(max)))),
        None => floor,
    };
    if let Some(available) = books.available(request.bidder_id)
        && available < amount
    {
        return Ok(Err(BidRejection::InsufficientBalance { available }));
    }
    let own = next_bid(
        state,
        request.bidder_id,
        amount,
        request.amount != Some(amount),
        now,
    );
    books.place(&own)?;
    state.apply(&own);
    state.leader_max = request.max;
    let answer = match defender {
        Some((leader, max)) if cap <= max => {
            let wanted = max.min(amount.saturating_add(state.increment.over(amount)));
            let covered = books.available(leader).unwrap_or(wanted);
            let bid = (covered >= amount)
                .then(|| next_bid(state, leader, wanted.min(covered), true, now));
            if covered < wanted {
                exhausted.push(ProxyExhausted {
                    user_id: leader,
                    at_seq: own.seq,
                });
            }
            if let Some(bid) = &bid {
                books.place(bid)?;
                state.apply(bid);
                state.leader_max = (covered >= wanted).then_some(max);
            }
            bid
        }
        _ => None,
    };
    let max = match answer {
        Some(_) => None,
        None => request.max,
    };
    Ok(Ok(Placed::Bid {
        bid: own,
        answer,
        max,
    }))
}

/// Plans `requests` in order on `auction` with `books`.
fn plan_with(
    auction: &AuctionSnapshot,
    requests: &[BidRequest],
    now: DateTime<Utc>,
    mut books: Books<'_>,
) -> Result<BatchPlan, PlanError> {
    let mut state = auction.clone();
    let mut plan = BatchPlan::new(auction, requests.len());
    for request in requests {
        plan.seen.push(state.clone());
        let outcome = decide(&mut state, request, now, &mut books, &mut plan.exhausted)?;
        plan.outcomes.push(outcome);
    }
    if !books.missing.is_empty() {
        books.missing.sort_unstable();
        return Err(PlanError::NeedWallets(books.missing));
    }
    plan.after = state;
    plan.moves = books.moves;
    plan.wallets = books.current;
    Ok(plan)
}

/// Decides `requests` in order against `auction` and the `wallets` read
/// under lock (a user without a wallet row is passed as an empty wallet).
///
/// Returns [`PlanError::NeedWallets`] with every wallet the batch may touch
/// that `wallets` lacks; the caller reads them and calls again. A refusal
/// for lack of points changes who leads next, so a second round may ask for
/// more.
///
/// ```
/// # use std::collections::HashMap;
/// # use chrono::{Duration, Utc};
/// # use sitga_auction::*;
/// # use sitga_core::{AuctionId, UserId};
/// let now = Utc::now();
/// let won = Krw::new;
/// let (seller, two, three) = (UserId::new(1), UserId::new(2), UserId::new(3));
/// let auction = AuctionSnapshot { id: AuctionId::new(1), seller_id: seller,
///     status: AuctionStatus::Open, start_price: won(10_000), increment: Increment::Fixed(won(1_000)),
///     reserve_price: None, buy_now_price: None, current_price: None, leader_id: None,
///     leader_max: None, bid_count: 0, starts_at: None, ends_at: now + Duration::hours(1),
///     hard_end_at: now + Duration::hours(2), soft_close: Duration::minutes(2) };
/// let bids = [
///     BidRequest::plain(two, won(10_000)),
///     BidRequest::plain(three, won(11_000)),
/// ];
/// let mut wallets = HashMap::new();
/// let need = plan_bids(&auction, &wallets, &bids, now).unwrap_err();
/// assert_eq!(need, PlanError::NeedWallets(vec![two, three]));
/// wallets.insert(two, Wallet { balance: won(50_000), held: Krw::ZERO });
/// wallets.insert(three, Wallet { balance: won(50_000), held: Krw::ZERO });
/// let plan = plan_bids(&auction, &wallets, &bids, now).unwrap();
/// assert_eq!(plan.after.current_price, Some(won(11_000)));
/// // 2 held 10,000, then got it back when 3 outbid them.
/// assert_eq!(plan.wallets[&two], Wallet { balance: won(50_000), held: Krw::ZERO });
/// assert_eq!(plan.wallets[&three], Wallet { balance: won(50_000), held: won(11_000) });
/// assert_eq!(plan.moves.len(), 3);
///
/// // 2 sets a maximum of 30,000: it answers 3's plain 15,000 at once.
/// let bids = [BidRequest::proxy(two, None, won(30_000)), BidRequest::plain(three, won(15_000))];
/// let plan = plan_bids(&auction, &wallets, &bids, now).unwrap();
/// let prices: Vec<_> = plan.bids().map(|b| (b.bidder_id, b.amount.get())).collect();
/// assert_eq!(prices, [(two, 10_000), (three, 15_000), (two, 16_000)]);
/// assert_eq!(plan.after.leader_max, Some(won(30_000)));
/// ```
pub fn plan_bids(
    auction: &AuctionSnapshot,
    wallets: &HashMap<UserId, Wallet>,
    requests: &[BidRequest],
    now: DateTime<Utc>,
) -> Result<BatchPlan, PlanError> {
    let books = Books {
        read: wallets,
        current: BTreeMap::new(),
        missing: Vec::new(),
        moves: Vec::new(),
        unlimited: false,
    };
    plan_with(auction, requests, now, books)
}

/// Plans a buy-now by `buyer_id`, who agreed to pay `agreed`, against
/// `auction` and the wallets read under lock: the leader's hold is released
/// (first, so a leader below the reserve may buy with it) and the buyer's
/// points are held for the price, as for a last bid. The one outcome says
/// whether it was accepted; `after` is the auction the caller then closes.
///
/// ```
/// # use std::collections::HashMap;
/// # use chrono::{Duration, Utc};
/// # use sitga_auction::*;
/// # use sitga_core::{AuctionId, UserId};
/// let now = Utc::now();
/// let won = Krw::new;
/// let (seller, leader, buyer) = (UserId::new(1), UserId::new(2), UserId::new(3));
/// let auction = AuctionSnapshot { id: AuctionId::new(1), seller_id: seller,
///     status: AuctionStatus::Open, start_price: won(10_000), increment: Increment::Tiered,
///     reserve_price: Some(won(40_000)), buy_now_price: Some(won(50_000)),
///     current_price: Some(won(20_000)), leader_id: Some(leader), leader_max: None, bid_count: 3,
///     starts_at: None, ends_at: now + Duration::hours(1), hard_end_at: now + Duration::hours(2),
///     soft_close: Duration::minutes(2) };
/// let wallets = HashMap::from([
///     (leader, Wallet { balance: won(30_000), held: won(20_000) }),
///     (buyer, Wallet { balance: won(60_000), held: Krw::ZERO }),
/// ]);
/// let plan = plan_buy_now(&auction, &wallets, buyer, won(50_000), now).unwrap();
/// assert!(plan.outcomes[0].is_ok());
/// assert_eq!(plan.after.current_price, Some(won(50_000)));
/// assert_eq!(plan.wallets[&leader].held, Krw::ZERO);
/// assert_eq!(plan.wallets[&buyer].held, won(50_000));
/// ```
pub fn plan_buy_now(
    auction: &AuctionSnapshot,
    wallets: &HashMap<UserId, Wallet>,
    buyer_id: UserId,
    agreed: Krw,
    now: DateTime<Utc>,
) -> Result<BatchPlan, PlanError> {
    let mut plan = BatchPlan::new(auction, 1);
    plan.seen.push(auction.clone());
    let bid = match validate_buy_now(auction, buyer_id, agreed, now) {
        Ok(bid) => bid,
        Err(reason) => {
            plan.outcomes.push(Err(reason));
            return Ok(plan);
        }
    };
    let leader = bid
        .released
        .map(|(leader, amount)| (leader, amount, wallets.get(&leader).copied()));
    let (Some(buyer_wallet), None | Some((_, _, Some(_)))) = (wallets.get(&buyer_id), leader)
    else {
        let mut needed: Vec<UserId> = std::iter::once(buyer_id)
            .chain(leader.map(|(id, _, _)| id))
            .filter(|id| !wallets.contains_key(id))
            .collect();
        needed.sort_unstable();
        needed.dedup();
        return Err(PlanError::NeedWallets(needed));
    };
    let mut current: BTreeMap<UserId, Wallet> = BTreeMap::new();
    let mut moves = Vec::with_capacity(2);
    if let Some((leader, amount, Some(wallet))) = leader {
        let release = release_hold(leader, wallet, amount)?;
        current.insert(leader, release.after);
        moves.push(release);
    }
    // A leader buying: their wallet after the release.
    let mut buyer = current.get(&buyer_id).copied().unwrap_or(*buyer_wallet);
    if buyer.available() < bid.amount {
        // Nothing moves: the leader keeps leading with their hold.
        plan.outcomes.push(Err(BidRejection::InsufficientBalance {
            available: buyer.available(),
        }));
        return Ok(plan);
    }
    buyer.held += bid.amount;
    current.insert(buyer_id, buyer);
    moves.push(WalletMove {
        user_id: buyer_id,
        kind: PointMove::Hold,
        amount: bid.amount,
        after: buyer,
    });
    plan.after.apply(&bid);
    plan.outcomes.push(Ok(Placed::Bid {
        bid,
        answer: None,
        max: None,
    }));
    plan.moves = moves;
    plan.wallets = current;
    Ok(plan)
}

/// The auction after `requests` if every bidder's balance covers their bid:
/// what a writer whose cached state is current (its version still matches)
/// can write before it reads any wallet. It then plans with the wallets
/// ([`plan_bids`]) and keeps the write only if both agree on the result.
pub fn state_if_funded(
    auction: &AuctionSnapshot,
    requests: &[BidRequest],
    now: DateTime<Utc>,
) -> AuctionSnapshot {
    let empty = HashMap::new();
    let books = Books {
        read: &empty,
        current: BTreeMap::new(),
        missing: Vec::new(),
        moves: Vec::new(),
        unlimited: true,
    };
    // Unlimited books neither miss a wallet nor find the books wrong.
    plan_with(auction, requests, now, books).map_or_else(|_| auction.clone(), |plan| plan.after)
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;
    use crate::AuctionStatus;
    use sitga_core::AuctionId;

    fn won(n: i64) -> Krw {
        Krw::new(n)
    }

    fn user(n: i64) -> UserId {
        UserId::new(n)
    }

    fn auction(now: DateTime<Utc>) -> AuctionSnapshot {
        AuctionSnapshot {
            id: AuctionId::new(1),
            seller_id: user(1),
            status: AuctionStatus::Open,
            start_price: won(10_000),
            increment: crate::Increment::Fixed(won(1_000)),
            buy_now_price: None,
            reserve_price: None,
            current_price: None,
            leader_id: None,
            leader_max: None,
            bid_count: 0,
            starts_at: None,
            ends_at: now + Duration::hours(1),
            hard_end_at: now + Duration::hours(2),
            soft_close: Duration::minutes(2),
        }
    }

    /// An auction led by user 9 at 20,000 after `bid_count` bids.
    fn led_by_nine(now: DateTime<Utc>, bid_count: i64) -> AuctionSnapshot {
        AuctionSnapshot {
            current_price: Some(won(20_000)),
            leader_id: Some(user(9)),
            bid_count,
            ..auction(now)
        }
    }

    fn rich(ids: &[i64]) -> HashMap<UserId, Wallet> {
        ids.iter()
            .map(|&id| {
                (
                    user(id),
                    Wallet {
                        balance: won(100_000),
                        held: Krw::ZERO,
                    },
                )
            })
            .collect()
    }

    fn bid(bidder: i64, amount: i64) -> BidRequest {
        BidRequest::plain(user(bidder), won(amount))
    }

    fn max(bidder: i64, max: i64) -> BidRequest {
        BidRequest::proxy(user(bidder), None, won(max))
    }

    /// Every bid of `plan` as (bidder, amount, placed by proxy).
    fn steps(plan: &BatchPlan) -> Vec<(i64, i64, bool)> {
        plan.bids()
            .map(|b| (b.bidder_id.get(), b.amount.get(), b.proxy))
            .collect()
    }

    fn held(plan: &BatchPlan, bidder: i64) -> i64 {
        plan.wallets[&user(bidder)].held.get()
    }

    #[test]
    fn same_amount_twice_only_the_first_wins() {
        let now = Utc::now();
        let plan = plan_bids(
            &auction(now),
            &rich(&[2, 3]),
            &[bid(2, 10_000), bid(3, 10_000)],
            now,
        )
        .unwrap();
        assert!(plan.outcomes[0].is_ok());
        assert_eq!(
            plan.outcomes[1],
            Err(BidRejection::TooLow {
                min_next_bid: won(11_000)
            })
        );
        assert_eq!(plan.seen[1].current_price, Some(won(10_000)));
        assert_eq!(plan.moves.len(), 1);
        assert_eq!(plan.wallets.len(), 1);
    }

    #[test]
    fn holds_follow_the_lead_and_money_is_conserved() {
        let now = Utc::now();
        let start = led_by_nine(now, 4);
        let mut wallets = rich(&[2, 3]);
        wallets.insert(
            user(9),
            Wallet {
                balance: won(30_000),
                held: won(20_000),
            },
        );
        let plan = plan_bids(
            &start,
            &wallets,
            &[bid(2, 21_000), bid(3, 22_000), bid(2, 23_000)],
            now,
        )
        .unwrap();
        assert!(plan.outcomes.iter().all(Result::is_ok));
        assert_eq!(plan.after.current_price, Some(won(23_000)));
        assert_eq!(plan.after.bid_count, 7);
        assert_eq!(plan.wallets[&user(9)].held, won(0));
        assert_eq!(plan.wallets[&user(3)].held, won(0));
        assert_eq!(plan.wallets[&user(2)].held, won(23_000));
        let before: Krw = wallets.values().map(|w| w.held).sum();
        let after: Krw = plan.wallets.values().map(|w| w.held).sum();
        assert_eq!((before, after), (won(20_000), won(23_000)));
        let kinds: Vec<_> = plan.moves.iter().map(|m| (m.user_id, m.kind)).collect();
        assert_eq!(
            kinds,
            [
                (user(2), PointMove::Hold),
                (user(9), PointMove::Release),
                (user(3), PointMove::Hold),
                (user(2), PointMove::Release),
                (user(2), PointMove::Hold),
                (user(3), PointMove::Release),
            ]
        );
        // Ledger lines carry the running balance, not the final one.
        assert_eq!(plan.moves[0].after.held, won(21_000));
        assert_eq!(plan.moves[3].after.held, won(0));
    }

    #[test]
    fn a_refusal_for_points_lets_the_next_bid_lead() {
        let now = Utc::now();
        let mut wallets = rich(&[3]);
        wallets.insert(
            user(2),
            Wallet {
                balance: won(5_000),
                held: won(0),
            },
        );
        let plan = plan_bids(
            &auction(now),
            &wallets,
            &[bid(2, 10_000), bid(3, 10_000)],
            now,
        )
        .unwrap();
        assert_eq!(
            plan.outcomes[0],
            Err(BidRejection::InsufficientBalance {
                available: won(5_000)
            })
        );
        assert_eq!(plan.after.leader_id, Some(user(3)));
        assert!(!plan.wallets.contains_key(&user(2)));
    }

    #[test]
    fn asks_for_every_wallet_it_may_touch_then_for_more() {
        let now = Utc::now();
        let start = led_by_nine(now, 1);
        let requests = [bid(2, 21_000), bid(3, 21_000)];
        let need = plan_bids(&start, &HashMap::new(), &requests, now).unwrap_err();
        assert_eq!(need, PlanError::NeedWallets(vec![user(2), user(9)]));
        // 2 cannot pay: now 3 leads, and 3's wallet is needed too.
        let mut wallets = HashMap::from([
            (user(2), Wallet::default()),
            (
                user(9),
                Wallet {
                    balance: won(20_000),
                    held: won(20_000),
                },
            ),
        ]);
        let need = plan_bids(&start, &wallets, &requests, now).unwrap_err();
        assert_eq!(need, PlanError::NeedWallets(vec![user(3)]));
        wallets.extend(rich(&[3]));
        let plan = plan_bids(&start, &wallets, &requests, now).unwrap();
        assert_eq!(plan.after.leader_id, Some(user(3)));
    }

    #[test]
    fn a_release_beyond_what_is_held_is_refused() {
        let now = Utc::now();
        let start = led_by_nine(now, 1);
        let mut wallets = rich(&[2]);
        wallets.insert(user(9), Wallet::default());
        assert!(matches!(
            plan_bids(&start, &wallets, &[bid(2, 21_000)], now),
            Err(PlanError::Books { user_id, .. }) if user_id == user(9)
        ));
    }
    #[test]
    fn state_if_funded_is_the_plan_when_every_wallet_covers_its_bid() {
        let now = Utc::now();
        let start = led_by_nine(now, 4);
        let bids = [
            bid(2, 21_000),
            bid(3, 21_000),
            bid(3, 22_000),
            bid(1, 40_000),
        ];
        let mut wallets = rich(&[2, 3]);
        wallets.insert(
            user(9),
            Wallet {
                balance: won(30_000),
                held: won(20_000),
            },
        );
        let plan = plan_bids(&start, &wallets, &bids, now).unwrap();
        assert_eq!(state_if_funded(&start, &bids, now), plan.after);
        assert_eq!(plan.after.current_price, Some(won(22_000)));
        assert_eq!(plan.after.leader_id, Some(user(3)));
    }

    #[test]
    fn state_if_funded_differs_from_the_plan_when_a_bidder_cannot_pay() {
        let now = Utc::now();
        let start = auction(now);
        let bids = [bid(2, 10_000), bid(3, 11_000)];
        let mut wallets = rich(&[2]);
        wallets.insert(
            user(3),
            Wallet {
                balance: won(5_000),
                held: won(0),
            },
        );
        let plan = plan_bids(&start, &wallets, &bids, now).unwrap();
        let claimed = state_if_funded(&start, &bids, now);
        assert_eq!(claimed.leader_id, Some(user(3)));
        assert_eq!(plan.after.leader_id, Some(user(2)));
        assert_ne!(claimed, plan.after);
    }

    #[test]
    fn buy_now_moves_points_like_a_last_bid_or_not_at_all() {
        let now = Utc::now();
        let mut a = led_by_nine(now, 3);
        a.reserve_price = Some(won(40_000));
        a.buy_now_price = Some(won(50_000));
        let wallet = |balance: i64, held: i64| Wallet {
            balance: won(balance),
            held: won(held),
        };
        let need = plan_buy_now(&a, &HashMap::new(), user(4), won(50_000), now).unwrap_err();
        assert_eq!(need, PlanError::NeedWallets(vec![user(4), user(9)]));
        // Too poor: nothing moves and the leader keeps the lead.
        let poor = HashMap::from([
            (user(4), wallet(49_999, 0)),
            (user(9), wallet(20_000, 20_000)),
        ]);
        let plan = plan_buy_now(&a, &poor, user(4), won(50_000), now).unwrap();
        assert_eq!(
            plan.outcomes,
            vec![Err(BidRejection::InsufficientBalance {
                available: won(49_999)
            })]
        );
        assert!(plan.moves.is_empty() && plan.wallets.is_empty());
        assert_eq!(plan.after, a);
        // The leader buys with their own hold plus 30,000 more.
        let leader = HashMap::from([(user(9), wallet(50_000, 20_000))]);
        let plan = plan_buy_now(&a, &leader, user(9), won(50_000), now).unwrap();
        assert!(plan.outcomes[0].is_ok());
        assert_eq!(plan.wallets[&user(9)], wallet(50_000, 50_000));
        assert_eq!(plan.moves.len(), 2);
        // Another buyer: the leader's hold goes back; balances never change.
        let two = HashMap::from([
            (user(4), wallet(80_000, 5_000)),
            (user(9), wallet(20_000, 20_000)),
        ]);
        let plan = plan_buy_now(&a, &two, user(4), won(50_000), now).unwrap();
        assert_eq!(plan.wallets[&user(9)], wallet(20_000, 0));
        assert_eq!(plan.wallets[&user(4)], wallet(80_000, 55_000));
        assert_eq!(plan.after.leader_id, Some(user(4)));
        assert_eq!(plan.after.current_price, Some(won(50_000)));
        assert_eq!(plan.after.bid_count, 4);
        // A refusal by the rules needs no wallet.
        a.current_price = Some(won(40_000));
        let plan = plan_buy_now(&a, &HashMap::new(), user(4), won(50_000), now).unwrap();
        assert_eq!(plan.outcomes, vec![Err(BidRejection::BuyNowUnavailable)]);
    }

    #[test]
    fn two_maximums_resolve_at_once() {
        let now = Utc::now();
        let plan = plan_bids(
            &auction(now),
            &rich(&[2, 3]),
            &[max(2, 30_000), max(3, 25_000)],
            now,
        )
        .unwrap();
        // 3 bids all it may, 2's proxy answers one increment above.
        assert_eq!(
            steps(&plan),
            [(2, 10_000, true), (3, 25_000, true), (2, 26_000, true)]
        );
        assert_eq!(plan.after.leader_id, Some(user(2)));
        assert_eq!(plan.after.leader_max, Some(won(30_000)));
        assert_eq!(plan.after.bid_count, 3);
        assert_eq!((held(&plan, 2), held(&plan, 3)), (26_000, 0));
        assert!(matches!(
            plan.outcomes[1],
            Ok(Placed::Bid {
                answer: Some(_),
                max: None,
                ..
            })
        ));
        assert!(plan.exhausted.is_empty());
    }

    #[test]
    fn a_higher_maximum_leads_at_the_lower_plus_one_increment_capped() {
        let now = Utc::now();
        let plan = plan_bids(
            &auction(now),
            &rich(&[2, 3]),
            &[max(2, 30_000), max(3, 50_000)],
            now,
        )
        .unwrap();
        assert_eq!(steps(&plan), [(2, 10_000, true), (3, 31_000, true)]);
        assert_eq!(plan.after.leader_max, Some(won(50_000)));
        assert_eq!((held(&plan, 2), held(&plan, 3)), (0, 31_000));
        let capped = plan_bids(
            &auction(now),
            &rich(&[2, 3]),
            &[max(2, 30_000), max(3, 30_500)],
            now,
        )
        .unwrap();
        assert_eq!(steps(&capped), [(2, 10_000, true), (3, 30_500, true)]);
        // A plain bid above the maximum simply leads; nothing stands after.
        let plain = plan_bids(
            &auction(now),
            &rich(&[2, 3]),
            &[max(2, 30_000), bid(3, 35_000)],
            now,
        )
        .unwrap();
        assert_eq!(steps(&plain), [(2, 10_000, true), (3, 35_000, false)]);
        assert_eq!(plain.after.leader_max, None);
    }

    #[test]
    fn equal_maximums_the_earlier_leads() {
        let now = Utc::now();
        let plan = plan_bids(
            &auction(now),
            &rich(&[2, 3]),
            &[max(2, 30_000), max(3, 30_000), bid(4, 30_000)],
            now,
        )
        .unwrap();
        assert_eq!(
            steps(&plan),
            [(2, 10_000, true), (3, 30_000, true), (2, 30_000, true)]
        );
        assert_eq!(plan.after.leader_id, Some(user(2)));
        // 30,000 is no longer enough to bid.
        assert_eq!(
            plan.outcomes[2],
            Err(BidRejection::TooLow {
                min_next_bid: won(31_000)
            })
        );
    }

    #[test]
    fn the_leader_raises_never_lowers_their_maximum_without_moving_the_price() {
        let now = Utc::now();
        let plan = plan_bids(
            &auction(now),
            &rich(&[2]),
            &[
                max(2, 30_000),
                max(2, 40_000),
                max(2, 35_000),
                bid(2, 12_000),
                BidRequest::proxy(user(2), Some(won(12_000)), won(50_000)),
            ],
            now,
        )
        .unwrap();
        assert_eq!(plan.outcomes[1], Ok(Placed::MaxRaised { max: won(40_000) }));
        assert_eq!(
            plan.outcomes[2],
            Err(BidRejection::MaxTooLow {
                min_max: won(40_001)
            })
        );
        assert_eq!(plan.outcomes[3], Err(BidRejection::AlreadyLeading));
        assert_eq!(plan.outcomes[4], Err(BidRejection::AlreadyLeading));
        assert_eq!(plan.after.current_price, Some(won(10_000)));
        assert_eq!(plan.after.bid_count, 1);
        assert_eq!(plan.after.leader_max, Some(won(40_000)));
        assert_eq!(held(&plan, 2), 10_000);
        // A plain leader may set a maximum above the price.
        let led = led_by_nine(now, 1);
        let plan = plan_bids(&led, &HashMap::new(), &[max(9, 20_000)], now).unwrap();
        assert_eq!(
            plan.outcomes[0],
            Err(BidRejection::MaxTooLow {
                min_max: won(20_001)
            })
        );
        let plan = plan_bids(&led, &HashMap::new(), &[max(9, 20_001)], now).unwrap();
        assert_eq!(plan.after.leader_max, Some(won(20_001)));
        assert!(plan.moves.is_empty());
    }

    #[test]
    fn a_proxy_out_of_points_bids_what_they_cover_and_stops() {
        let now = Utc::now();
        let poor = |available: i64| {
            let mut wallets = rich(&[3, 4]);
            wallets.insert(
                user(2),
                Wallet {
                    balance: won(available + 5_000),
                    held: won(5_000),
                },
            );
            wallets
        };
        // 21,500 available: it answers 19,000 in full, then 21,000 only
        // with what it has, and stops.
        let plan = plan_bids(
            &auction(now),
            &poor(21_500),
            &[
                max(2, 30_000),
                bid(3, 19_000),
                bid(4, 21_000),
                bid(3, 22_500),
            ],
            now,
        )
        .unwrap();
        assert_eq!(
            steps(&plan),
            [
                (2, 10_000, true),
                (3, 19_000, false),
                (2, 20_000, true),
                (4, 21_000, false),
                (2, 21_500, true),
                (3, 22_500, false),
            ]
        );
        assert_eq!(
            plan.exhausted,
            [ProxyExhausted {
                user_id: user(2),
                at_seq: 4
            }]
        );
        assert_eq!(plan.after.leader_id, Some(user(3)));
        assert_eq!(plan.after.leader_max, None);
        assert_eq!(
            (held(&plan, 2), held(&plan, 3), held(&plan, 4)),
            (5_000, 22_500, 0)
        );
        // 12,000 available: it cannot even meet 15,000; 3 leads.
        let plan = plan_bids(
            &auction(now),
            &poor(12_000),
            &[max(2, 30_000), bid(3, 15_000)],
            now,
        )
        .unwrap();
        assert_eq!(steps(&plan), [(2, 10_000, true), (3, 15_000, false)]);
        assert_eq!(plan.exhausted.len(), 1);
        assert_eq!(plan.after.leader_id, Some(user(3)));
        // The challenger who cannot pay their own step is refused and the
        // proxy does not move.
        let mut wallets = rich(&[2]);
        wallets.insert(
            user(3),
            Wallet {
                balance: won(14_000),
                held: Krw::ZERO,
            },
        );
        let plan = plan_bids(
            &auction(now),
            &wallets,
            &[max(2, 30_000), bid(3, 15_000)],
            now,
        )
        .unwrap();
        assert!(matches!(
            plan.outcomes[1],
            Err(BidRejection::InsufficientBalance { .. })
        ));
        assert_eq!(plan.after.current_price, Some(won(10_000)));
    }

    #[test]
    fn proxy_steps_extend_the_end_like_plain_bids() {
        let now = Utc::now();
        let mut closing = auction(now);
        closing.ends_at = now + Duration::seconds(30);
        let plan = plan_bids(
            &closing,
            &rich(&[2, 3]),
            &[max(2, 30_000), bid(3, 15_000)],
            now,
        )
        .unwrap();
        let bids: Vec<_> = plan.bids().collect();
        assert!(bids[0].extended);
        assert_eq!(bids[0].ends_at, now + Duration::minutes(2));
        assert!(bids.iter().all(|b| b.ends_at == now + Duration::minutes(2)));
        assert_eq!(plan.after.ends_at, now + Duration::minutes(2));
    }

    #[test]
    fn money_is_conserved_through_any_mix_of_maximums_and_bids() {
        let now = Utc::now();
        let wallets = rich(&[2, 3, 4, 5]);
        let requests = [
            max(2, 40_000),
            bid(3, 12_000),
            max(4, 45_000),
            max(2, 60_000),
            max(3, 44_000),
            bid(5, 46_000),
            max(5, 70_000),
        ];
        let plan = plan_bids(&auction(now), &wallets, &requests, now).unwrap();
        let held: i64 = plan.wallets.values().map(|w| w.held.get()).sum();
        assert_eq!(Some(won(held)), plan.after.current_price);
        let leader = plan.after.leader_id.unwrap();
        assert_eq!(
            plan.wallets[&leader].held,
            plan.after.current_price.unwrap()
        );
        // Sequence numbers are gap-free and prices never fall.
        let bids: Vec<_> = plan.bids().collect();
        assert!(bids.windows(2).all(|w| w[1].seq == w[0].seq + 1));
        assert!(bids.windows(2).all(|w| w[1].amount >= w[0].amount));
        assert_eq!(plan.after.bid_count, bids.len() as i64);
        assert_eq!(state_if_funded(&auction(now), &requests, now), plan.after);
    }

    #[test]
    fn requests_are_checked_before_any_wallet() {
        let now = Utc::now();
        let a = auction(now);
        let none = BidRequest {
            bidder_id: user(2),
            amount: None,
            max: None,
        };
        assert_eq!(
            check_request(&a, &none, now),
            Err(BidRejection::InvalidAmount)
        );
        let below = BidRequest::proxy(user(2), Some(won(20_000)), won(15_000));
        assert_eq!(
            check_request(&a, &below, now),
            Err(BidRejection::MaxTooLow {
                min_max: won(20_000)
            })
        );
        assert_eq!(
            check_request(&a, &max(2, 9_000), now),
            Err(BidRejection::TooLow {
                min_next_bid: won(10_000)
            })
        );
        assert_eq!(
            check_request(&a, &max(1, 90_000), now),
            Err(BidRejection::SellerCannotBid)
        );
        assert_eq!(
            check_request(&a, &max(2, 0), now),
            Err(BidRejection::InvalidAmount)
        );
    }
}
