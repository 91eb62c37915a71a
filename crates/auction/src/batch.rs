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

use crate::{
    AcceptedBid, AuctionSnapshot, BidRejection, Krw, Wallet, validate_bid, validate_buy_now,
};

/// A bid waiting in the batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct BidRequest {
    /// Bidder.
    pub bidder_id: UserId,
    /// Amount.
    pub amount: Krw,
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
    pub outcomes: Vec<Result<AcceptedBid, BidRejection>>,
    /// The auction before each request (what it was judged against).
    pub seen: Vec<AuctionSnapshot>,
    /// The auction after the batch.
    pub after: AuctionSnapshot,
    /// Every point movement, in order.
    pub moves: Vec<WalletMove>,
    /// The final value of every wallet that changed.
    pub wallets: BTreeMap<UserId, Wallet>,
}

impl BatchPlan {
    /// Whether any bid was accepted (something to write).
    pub fn accepted_any(&self) -> bool {
        self.outcomes.iter().any(Result::is_ok)
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
///     reserve_price: None, buy_now_price: None, current_price: None, leader_id: None, bid_count: 0,
///     starts_at: None, ends_at: now + Duration::hours(1), hard_end_at: now + Duration::hours(2),
///     soft_close: Duration::minutes(2) };
/// let bids = [
///     BidRequest { bidder_id: two, amount: won(10_000) },
///     BidRequest { bidder_id: three, amount: won(11_000) },
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
/// ```
pub fn plan_bids(
    auction: &AuctionSnapshot,
    wallets: &HashMap<UserId, Wallet>,
    requests: &[BidRequest],
    now: DateTime<Utc>,
) -> Result<BatchPlan, PlanError> {
    let mut state = auction.clone();
    let mut current: BTreeMap<UserId, Wallet> = BTreeMap::new();
    let mut missing: Vec<UserId> = Vec::new();
    let mut plan = BatchPlan {
        outcomes: Vec::with_capacity(requests.len()),
        seen: Vec::with_capacity(requests.len()),
        after: auction.clone(),
        moves: Vec::new(),
        wallets: BTreeMap::new(),
    };
    let mut wallet_of = |id: UserId, current: &BTreeMap<UserId, Wallet>| -> Option<Wallet> {
        let found = current.get(&id).or_else(|| wallets.get(&id)).copied();
        if found.is_none() && !missing.contains(&id) {
            missing.push(id);
        }
        found
    };
    for request in requests {
        plan.seen.push(state.clone());
        // Every rule but the balance first: most refusals need no wallet.
        let bid = match validate_bid(&state, request.bidder_id, request.amount, Krw::MAX, now) {
            Ok(bid) => bid,
            Err(reason) => {
                plan.outcomes.push(Err(reason));
                continue;
            }
        };
        let released = bid
            .released
            .map(|(leader, amount)| (leader, amount, wallet_of(leader, &current)));
        let Some(mut bidder) = wallet_of(request.bidder_id, &current) else {
            // Not read yet: assume it covers the bid, to learn every wallet
            // this batch may need in one round.
            state.apply(&bid);
            plan.outcomes.push(Ok(bid));
            continue;
        };
        if bidder.available() < bid.amount {
            plan.outcomes.push(Err(BidRejection::InsufficientBalance {
                available: bidder.available(),
            }));
            continue;
        }
        bidder.held += bid.amount;
        current.insert(request.bidder_id, bidder);
        plan.moves.push(WalletMove {
            user_id: request.bidder_id,
            kind: PointMove::Hold,
            amount: bid.amount,
            after: bidder,
        });
        if let Some((leader, amount, Some(wallet))) = released {
            let release = release_hold(leader, wallet, amount)?;
            current.insert(leader, release.after);
            plan.moves.push(release);
        }
        state.apply(&bid);
        plan.outcomes.push(Ok(bid));
    }
    if !missing.is_empty() {
        missing.sort_unstable();
        return Err(PlanError::NeedWallets(missing));
    }
    plan.after = state;
    plan.wallets = current;
    Ok(plan)
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
///     current_price: Some(won(20_000)), leader_id: Some(leader), bid_count: 3,
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
    let mut plan = BatchPlan {
        outcomes: Vec::with_capacity(1),
        seen: vec![auction.clone()],
        after: auction.clone(),
        moves: Vec::new(),
        wallets: BTreeMap::new(),
    };
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
    plan.outcomes.push(Ok(bid));
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
    let mut state = auction.clone();
    for request in requests {
        if let Ok(bid) = validate_bid(&state, request.bidder_id, request.amount, Krw::MAX, now) {
            state.apply(&bid);
        }
    }
    state
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
        BidRequest {
            bidder_id: user(bidder),
            amount: won(amount),
        }
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
}
