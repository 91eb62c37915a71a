//! Bid validity, soft close, the close outcome and settlement.

use chrono::{DateTime, Duration, Utc};

use sitga_core::{AuctionId, UserId};

use crate::increments::Increment;
use crate::money::{Krw, MAX_AMOUNT, Wallet};

/// Where an auction is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum AuctionStatus {
    /// Taking bids.
    Open,
    /// Closed with a winner.
    Sold,
    /// Closed without a winner (no bids, or reserve not met).
    Unsold,
    /// Withdrawn by the seller before any bid.
    Cancelled,
    /// Open, but before its start: listed and watchable, bids wait. Only
    /// shown ([`shown_status`]); an auction is stored `open` with its
    /// `starts_at`.
    Scheduled,
}

impl AuctionStatus {
    /// The stored and API code.
    pub fn code(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Sold => "sold",
            Self::Unsold => "unsold",
            Self::Cancelled => "cancelled",
            Self::Scheduled => "scheduled",
        }
    }

    /// Parses a stored code.
    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.code() == code)
    }

    /// Every status.
    pub const ALL: [Self; 5] = [
        Self::Open,
        Self::Sold,
        Self::Unsold,
        Self::Cancelled,
        Self::Scheduled,
    ];
}

/// Everything the rules need to know about an auction at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct AuctionSnapshot {
    /// Id.
    pub id: AuctionId,
    /// The seller (may not bid).
    pub seller_id: UserId,
    /// Status.
    pub status: AuctionStatus,
    /// First bid must be at least this.
    pub start_price: Krw,
    /// How much later bids must beat the current price by.
    pub increment: Increment,
    /// Hidden reserve.
    pub reserve_price: Option<Krw>,
    /// Anyone may end the auction at once by paying this, while the price
    /// is below the reserve (with no reserve: before the first bid).
    pub buy_now_price: Option<Krw>,
    /// Highest accepted bid, if any.
    pub current_price: Option<Krw>,
    /// Who placed it.
    pub leader_id: Option<UserId>,
    /// The leader's maximum, when they bid by proxy: the engine bids for
    /// them up to it. Private to its owner: never in a frame, a listing or
    /// another user's response.
    #[cfg_attr(feature = "serde", serde(default))]
    pub leader_max: Option<Krw>,
    /// Accepted bids so far (also the last bid's sequence number).
    pub bid_count: i64,
    /// Bids are taken from this time on (`None`: from its creation).
    pub starts_at: Option<DateTime<Utc>>,
    /// The effective end (after soft-close extensions).
    pub ends_at: DateTime<Utc>,
    /// Extensions never go past this.
    pub hard_end_at: DateTime<Utc>,
    /// A bid with less than this left extends the end to now + window.
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_seconds"))]
    pub soft_close: Duration,
}

/// Why a bid was refused. Each has a stable code for clients (with the
/// `serde` feature, the same code tags it on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(tag = "code", rename_all = "snake_case"))]
pub enum BidRejection {
    /// Not a positive amount within limits.
    InvalidAmount,
    /// The auction is sold, unsold or cancelled.
    #[cfg_attr(feature = "serde", serde(rename = "auction_not_open"))]
    NotOpen,
    /// The end time has passed (closing is under way).
    #[cfg_attr(feature = "serde", serde(rename = "auction_ended"))]
    Ended,
    /// The auction opens at its `starts_at`; bids wait until then.
    #[cfg_attr(feature = "serde", serde(rename = "auction_not_started"))]
    NotStarted,
    /// Sellers cannot bid on their own auction.
    SellerCannotBid,
    /// The bidder already leads; outbidding yourself is refused.
    AlreadyLeading,
    /// Below the minimum next bid.
    #[cfg_attr(feature = "serde", serde(rename = "bid_too_low"))]
    TooLow {
        /// The smallest bid that would be accepted now.
        min_next_bid: Krw,
    },
    /// The bidder's available points do not cover the bid.
    InsufficientBalance {
        /// What the bidder has available.
        available: Krw,
    },
    /// The auction has no buy-now price, or the bidding has passed the point
    /// where it applies.
    BuyNowUnavailable,
    /// The price the buyer agreed to is not the price now.
    PriceMoved {
        /// The price now.
        price: Krw,
    },
    /// A leader's new maximum must be above the one standing (a maximum is
    /// never lowered), or a maximum below the bid sent with it.
    MaxTooLow {
        /// The smallest maximum accepted now.
        min_max: Krw,
    },
    /// A clock (Dutch) auction has fewer units left than asked for.
    UnitsUnavailable {
        /// Units still for sale.
        remaining: u32,
    },
    /// A bid or buy-now on a clock auction (it sells by accepting the
    /// clock's price), or an accept on an auction that takes bids.
    WrongFormat,
}

impl BidRejection {
    /// Stable machine-readable code.
    pub fn code(self) -> &'static str {
        match self {
            Self::InvalidAmount => "invalid_amount",
            Self::NotOpen => "auction_not_open",
            Self::Ended => "auction_ended",
            Self::NotStarted => "auction_not_started",
            Self::SellerCannotBid => "seller_cannot_bid",
            Self::AlreadyLeading => "already_leading",
            Self::TooLow { .. } => "bid_too_low",
            Self::InsufficientBalance { .. } => "insufficient_balance",
            Self::BuyNowUnavailable => "buy_now_unavailable",
            Self::PriceMoved { .. } => "price_moved",
            Self::MaxTooLow { .. } => "max_too_low",
            Self::UnitsUnavailable { .. } => "units_unavailable",
            Self::WrongFormat => "wrong_format",
        }
    }

    /// English explanation.
    pub fn message(self) -> String {
        match self {
            Self::InvalidAmount => format!("a bid must be 1 to {MAX_AMOUNT} won"),
            Self::NotOpen => "this auction is no longer open".into(),
            Self::Ended => "this auction has ended".into(),
            Self::NotStarted => "this auction has not started yet".into(),
            Self::SellerCannotBid => "you cannot bid on your own auction".into(),
            Self::AlreadyLeading => "you already hold the highest bid".into(),
            Self::TooLow { min_next_bid } => format!("the minimum next bid is {min_next_bid} won"),
            Self::InsufficientBalance { available } => {
                format!("your available points ({available} won) do not cover this bid")
            }
            Self::BuyNowUnavailable => {
                "buy-now is not available on this auction (none was set, or the bidding passed it)"
                    .into()
            }
            Self::PriceMoved { price } => format!("the price is now {price} won"),
            Self::MaxTooLow { min_max } => {
                format!("your maximum must be at least {min_max} won (a maximum is never lowered)")
            }
            Self::UnitsUnavailable { remaining } => {
                format!("only {remaining} units are left on this clock")
            }
            Self::WrongFormat => "this auction does not sell that way: a clock auction sells by \
                 accepting the clock's price, any other by bids"
                .into(),
        }
    }
}

/// An accepted bid and what it changes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct AcceptedBid {
    /// The amount (now the current price).
    pub amount: Krw,
    /// The bidder (now the leader).
    pub bidder_id: UserId,
    /// Its sequence number in this auction (1, 2, …; gap-free).
    pub seq: i64,
    /// The auction's end after this bid.
    pub ends_at: DateTime<Utc>,
    /// Whether this bid moved the end.
    pub extended: bool,
    /// The outbid leader and the amount whose hold is released.
    pub released: Option<(UserId, Krw)>,
    /// Placed by the engine for the bidder, from their maximum (a proxy
    /// step), not at an amount they sent.
    #[cfg_attr(feature = "serde", serde(default))]
    pub proxy: bool,
}

/// The smallest bid that would be accepted now.
///
/// ```
/// # use sitga_auction::*;
/// # use sitga_core::{AuctionId, UserId};
/// # let now = chrono::Utc::now();
/// # let mut a = AuctionSnapshot { id: AuctionId::new(1), seller_id: UserId::new(1),
/// #   status: AuctionStatus::Open, start_price: Krw::new(10_000),
/// #   increment: Increment::Tiered, reserve_price: None, buy_now_price: None,
/// #   current_price: None, leader_id: None, leader_max: None, bid_count: 0, starts_at: None,
/// #   ends_at: now, hard_end_at: now, soft_close: chrono::Duration::minutes(2) };
/// assert_eq!(min_next_bid(&a), Krw::new(10_000));
/// a.current_price = Some(Krw::new(12_000));
/// a.bid_count = 1;
/// assert_eq!(min_next_bid(&a), Krw::new(13_000));
/// a.current_price = Some(Krw::new(120_000));
/// assert_eq!(min_next_bid(&a), Krw::new(125_000));
/// a.increment = Increment::Fixed(Krw::new(100));
/// assert_eq!(min_next_bid(&a), Krw::new(120_100));
/// ```
pub fn min_next_bid(auction: &AuctionSnapshot) -> Krw {
    match auction.current_price {
        Some(price) if auction.bid_count > 0 => price.saturating_add(auction.increment.over(price)),
        _ => auction.start_price,
    }
}

/// The raise the next bid needs over the current price (over the start
/// price before the first bid, for display).
pub fn current_increment(auction: &AuctionSnapshot) -> Krw {
    auction
        .increment
        .over(auction.current_price.unwrap_or(auction.start_price))
}

/// The buy-now price, while it applies: below the reserve, or before the
/// first bid when there is no reserve (once a bid would sell, the bidding
/// decides the price).
pub fn buy_now_available(auction: &AuctionSnapshot) -> Option<Krw> {
    let price = auction.buy_now_price?;
    let open = match auction.reserve_price {
        Some(_) => !reserve_met(auction),
        None => auction.bid_count == 0,
    };
    open.then_some(price)
}

/// Whether `auction` takes a bid or a buy-now from `user` at `now`: open,
/// started, not ended, and not the seller's own.
pub(crate) fn taking_bids_from(
    auction: &AuctionSnapshot,
    user: UserId,
    now: DateTime<Utc>,
) -> Result<(), BidRejection> {
    if auction.status != AuctionStatus::Open {
        return Err(BidRejection::NotOpen);
    }
    if !has_started(auction, now) {
        return Err(BidRejection::NotStarted);
    }
    if now >= auction.ends_at {
        return Err(BidRejection::Ended);
    }
    if user == auction.seller_id {
        return Err(BidRejection::SellerCannotBid);
    }
    Ok(())
}

/// Decides a buy-now by `buyer_id`, who agreed to pay `agreed`, at `now`:
/// the sale as a last bid at the buy-now price (the auction closes with
/// it). The buyer may be the current leader (their hold is released for
/// the new one); the balance is checked by the caller with the wallets.
pub fn validate_buy_now(
    auction: &AuctionSnapshot,
    buyer_id: UserId,
    agreed: Krw,
    now: DateTime<Utc>,
) -> Result<AcceptedBid, BidRejection> {
    taking_bids_from(auction, buyer_id, now)?;
    let price = buy_now_available(auction).ok_or(BidRejection::BuyNowUnavailable)?;
    if agreed != price {
        return Err(BidRejection::PriceMoved { price });
    }
    Ok(AcceptedBid {
        amount: price,
        bidder_id: buyer_id,
        seq: auction.bid_count + 1,
        ends_at: auction.ends_at,
        extended: false,
        released: auction.leader_id.zip(auction.current_price),
        proxy: false,
    })
}

/// Whether bids are taken by now (the start, if scheduled, has come).
pub fn has_started(auction: &AuctionSnapshot, now: DateTime<Utc>) -> bool {
    auction.starts_at.is_none_or(|start| now >= start)
}

/// The status to show at `now`: [`AuctionStatus::Scheduled`] for an open
/// auction before its start, else the stored one.
pub fn shown_status(auction: &AuctionSnapshot, now: DateTime<Utc>) -> AuctionStatus {
    if auction.status == AuctionStatus::Open && !has_started(auction, now) {
        AuctionStatus::Scheduled
    } else {
        auction.status
    }
}

/// Whether the current price meets the reserve (with no reserve: whether
/// there is any bid).
pub fn reserve_met(auction: &AuctionSnapshot) -> bool {
    match (auction.current_price, auction.reserve_price) {
        (Some(price), Some(reserve)) => price >= reserve,
        (Some(_), None) => true,
        (None, _) => false,
    }
}

/// Soft close: a bid accepted with less than the window left moves the end to
/// `now + window`, never past the hard end.
///
/// ```
/// # use chrono::{Duration, Utc};
/// # use sitga_auction::extended_end;
/// let now = Utc::now();
/// let window = Duration::minutes(2);
/// // plenty of time left: unchanged
/// assert_eq!(extended_end(now + Duration::hours(1), now + Duration::hours(2), window, now), now + Duration::hours(1));
/// // 30 s left: now + 2 min
/// assert_eq!(extended_end(now + Duration::seconds(30), now + Duration::hours(2), window, now), now + window);
/// // capped
/// assert_eq!(extended_end(now + Duration::seconds(30), now + Duration::seconds(60), window, now), now + Duration::seconds(60));
/// ```
pub fn extended_end(
    ends_at: DateTime<Utc>,
    hard_end_at: DateTime<Utc>,
    window: Duration,
    now: DateTime<Utc>,
) -> DateTime<Utc> {
    if ends_at - now < window {
        (now + window).min(hard_end_at).max(ends_at)
    } else {
        ends_at
    }
}

/// Decides a bid of `amount` by `bidder_id`, who has `available` points, at
/// `now`.
pub fn validate_bid(
    auction: &AuctionSnapshot,
    bidder_id: UserId,
    amount: Krw,
    available: Krw,
    now: DateTime<Utc>,
) -> Result<AcceptedBid, BidRejection> {
    if !amount.is_positive() || amount > MAX_AMOUNT {
        return Err(BidRejection::InvalidAmount);
    }
    taking_bids_from(auction, bidder_id, now)?;
    if auction.leader_id == Some(bidder_id) {
        return Err(BidRejection::AlreadyLeading);
    }
    let min_next_bid = min_next_bid(auction);
    if amount < min_next_bid {
        return Err(BidRejection::TooLow { min_next_bid });
    }
    if available < amount {
        return Err(BidRejection::InsufficientBalance { available });
    }
    Ok(next_bid(auction, bidder_id, amount, false, now))
}

/// The bid of `amount` by `bidder_id` on `auction` at `now`, the next in
/// sequence (soft close applied); `proxy` when placed from a maximum.
pub(crate) fn next_bid(
    auction: &AuctionSnapshot,
    bidder_id: UserId,
    amount: Krw,
    proxy: bool,
    now: DateTime<Utc>,
) -> AcceptedBid {
    let ends_at = extended_end(
        auction.ends_at,
        auction.hard_end_at,
        auction.soft_close,
        now,
    );
    AcceptedBid {
        amount,
        bidder_id,
        seq: auction.bid_count + 1,
        extended: ends_at != auction.ends_at,
        ends_at,
        released: auction.leader_id.zip(auction.current_price),
        proxy,
    }
}

impl AuctionSnapshot {
    /// The state after `bid` (for validating the next bid in order). The
    /// leader has no maximum until the caller sets one.
    pub fn apply(&mut self, bid: &AcceptedBid) {
        self.leader_max = None;
        self.current_price = Some(bid.amount);
        self.leader_id = Some(bid.bidder_id);
        self.bid_count = bid.seq;
        self.ends_at = bid.ends_at;
    }
}

/// How a closing auction ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum CloseOutcome {
    /// Sold to the leader at the current price.
    Sold {
        /// The winner.
        winner_id: UserId,
        /// The price.
        price: Krw,
    },
    /// No bids, or the reserve was not met.
    Unsold,
}

impl CloseOutcome {
    /// The status the auction takes.
    pub fn status(self) -> AuctionStatus {
        match self {
            Self::Sold { .. } => AuctionStatus::Sold,
            Self::Unsold => AuctionStatus::Unsold,
        }
    }
}

/// The outcome of closing `auction` now (at its end or early by the seller).
pub fn close_outcome(auction: &AuctionSnapshot) -> CloseOutcome {
    match (auction.leader_id, auction.current_price) {
        (Some(winner_id), Some(price)) if reserve_met(auction) => {
            CloseOutcome::Sold { winner_id, price }
        }
        _ => CloseOutcome::Unsold,
    }
}

/// The money movements of closing an auction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Settlement {
    /// The winner's hold goes into the sale's escrow, paid to the seller
    /// once the buyer has the fish ([`crate::Sale`]).
    Pay {
        /// Who pays.
        winner_id: UserId,
        /// Who is paid.
        seller_id: UserId,
        /// How much.
        price: Krw,
    },
    /// Unsold with a leader below the reserve: release the leader's hold.
    Release {
        /// Whose hold.
        bidder_id: UserId,
        /// How much.
        amount: Krw,
    },
    /// Nothing to move.
    Nothing,
}

/// The settlement for closing `auction` with `outcome`.
///
/// ```
/// # use sitga_auction::*;
/// # use sitga_core::UserId;
/// let won = Krw::new;
/// let s = Settlement::Pay { winner_id: UserId::new(2), seller_id: UserId::new(1), price: won(15_000) };
/// let (winner, seller) = s.apply(
///     Wallet { balance: won(20_000), held: won(15_000) },
///     Wallet::default(),
/// );
/// assert_eq!(winner, Wallet { balance: won(5_000), held: Krw::ZERO });
/// assert_eq!(seller, Wallet { balance: won(15_000), held: Krw::ZERO });
/// ```
pub fn settle(auction: &AuctionSnapshot, outcome: CloseOutcome) -> Settlement {
    match outcome {
        CloseOutcome::Sold { winner_id, price } => Settlement::Pay {
            winner_id,
            seller_id: auction.seller_id,
            price,
        },
        CloseOutcome::Unsold => match auction.leader_id.zip(auction.current_price) {
            Some((bidder_id, amount)) => Settlement::Release { bidder_id, amount },
            None => Settlement::Nothing,
        },
    }
}

impl Settlement {
    /// Applies the movement to the two wallets involved (winner or bidder
    /// first, seller second); total balance is conserved.
    pub fn apply(self, first: Wallet, seller: Wallet) -> (Wallet, Wallet) {
        match self {
            Self::Pay { price, .. } => (
                Wallet {
                    balance: first.balance - price,
                    held: first.held - price,
                },
                Wallet {
                    balance: seller.balance + price,
                    held: seller.held,
                },
            ),
            Self::Release { amount, .. } => (
                Wallet {
                    balance: first.balance,
                    held: first.held - amount,
                },
                seller,
            ),
            Self::Nothing => (first, seller),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn won(n: i64) -> Krw {
        Krw::new(n)
    }

    /// `validate_bid` with plain numbers, for the tables below.
    fn bid(
        a: &AuctionSnapshot,
        bidder: i64,
        amount: i64,
        available: i64,
        at: DateTime<Utc>,
    ) -> Result<AcceptedBid, BidRejection> {
        validate_bid(a, UserId::new(bidder), won(amount), won(available), at)
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 27, 12, 0, 0).unwrap()
    }

    fn open() -> AuctionSnapshot {
        AuctionSnapshot {
            id: AuctionId::new(1),
            seller_id: UserId::new(1),
            status: AuctionStatus::Open,
            start_price: won(10_000),
            increment: Increment::Fixed(won(1_000)),
            buy_now_price: None,
            reserve_price: Some(won(20_000)),
            current_price: None,
            leader_id: None,
            leader_max: None,
            bid_count: 0,
            starts_at: None,
            ends_at: now() + Duration::hours(1),
            hard_end_at: now() + Duration::hours(1) + Duration::minutes(30),
            soft_close: Duration::minutes(2),
        }
    }

    /// auction, bidder, amount, available, time, expected.
    type Case<'a> = (
        &'a AuctionSnapshot,
        i64,
        i64,
        i64,
        DateTime<Utc>,
        Result<i64, BidRejection>,
    );

    #[test]
    fn bid_validity_table() {
        let a = open();
        let mut led = open();
        led.current_price = Some(won(15_000));
        led.leader_id = Some(UserId::new(7));
        led.bid_count = 3;
        let mut sold = open();
        sold.status = AuctionStatus::Sold;
        let mut cancelled = open();
        cancelled.status = AuctionStatus::Cancelled;
        let cases: Vec<Case<'_>> = vec![
            (&a, 2, 10_000, 10_000, now(), Ok(10_000)),
            (
                &a,
                2,
                9_999,
                100_000,
                now(),
                Err(BidRejection::TooLow {
                    min_next_bid: won(10_000),
                }),
            ),
            (&a, 2, 0, 100_000, now(), Err(BidRejection::InvalidAmount)),
            (&a, 2, -5, 100_000, now(), Err(BidRejection::InvalidAmount)),
            (
                &a,
                2,
                MAX_AMOUNT.get() + 1,
                i64::MAX,
                now(),
                Err(BidRejection::InvalidAmount),
            ),
            (
                &a,
                1,
                10_000,
                100_000,
                now(),
                Err(BidRejection::SellerCannotBid),
            ),
            (
                &a,
                2,
                10_000,
                9_999,
                now(),
                Err(BidRejection::InsufficientBalance {
                    available: won(9_999),
                }),
            ),
            (&a, 2, 10_000, 100_000, a.ends_at, Err(BidRejection::Ended)),
            (&sold, 2, 50_000, 100_000, now(), Err(BidRejection::NotOpen)),
            (
                &cancelled,
                2,
                50_000,
                100_000,
                now(),
                Err(BidRejection::NotOpen),
            ),
            (
                &led,
                2,
                15_999,
                100_000,
                now(),
                Err(BidRejection::TooLow {
                    min_next_bid: won(16_000),
                }),
            ),
            (&led, 2, 16_000, 100_000, now(), Ok(16_000)),
            (
                &led,
                7,
                20_000,
                100_000,
                now(),
                Err(BidRejection::AlreadyLeading),
            ),
        ];
        for (i, (auction, bidder, amount, available, at, expected)) in cases.into_iter().enumerate()
        {
            let got = bid(auction, bidder, amount, available, at).map(|b| b.amount.get());
            assert_eq!(got, expected, "case {i}");
        }
    }

    #[test]
    fn accepted_bid_releases_previous_leader_and_counts() {
        let mut a = open();
        let first = bid(&a, 2, 10_000, 50_000, now()).unwrap();
        assert_eq!(
            (first.seq, first.released, first.extended),
            (1, None, false)
        );
        a.apply(&first);
        let second = bid(&a, 3, 11_000, 50_000, now()).unwrap();
        assert_eq!(
            (second.seq, second.released),
            (2, Some((UserId::new(2), won(10_000))))
        );
        a.apply(&second);
        assert_eq!(
            (a.leader_id, a.current_price, a.bid_count),
            (Some(UserId::new(3)), Some(won(11_000)), 2)
        );
    }

    #[test]
    fn soft_close_extends_only_inside_window_and_never_past_cap() {
        let mut a = open();
        let t = a.ends_at - Duration::seconds(30);
        let late_first = bid(&a, 2, 10_000, 50_000, t).unwrap();
        assert!(late_first.extended);
        assert_eq!(late_first.ends_at, t + Duration::minutes(2));
        a.apply(&late_first);
        // repeated late bids climb to the cap and stop there
        let mut bidder = 3;
        let mut at = late_first.ends_at - Duration::seconds(10);
        for _ in 0..400 {
            let amount = min_next_bid(&a).get();
            let b = bid(&a, bidder, amount, i64::MAX, at).unwrap();
            assert!(b.ends_at <= a.hard_end_at);
            assert!(b.ends_at >= a.ends_at, "the end never moves earlier");
            a.apply(&b);
            bidder = if bidder == 3 { 4 } else { 3 };
            at = a.ends_at - Duration::seconds(10);
            if a.ends_at == a.hard_end_at {
                break;
            }
        }
        assert_eq!(a.ends_at, a.hard_end_at);
        // once the cap is reached, late bids no longer extend
        let late = bid(
            &a,
            bidder,
            min_next_bid(&a).get(),
            i64::MAX,
            a.ends_at - Duration::seconds(5),
        )
        .unwrap();
        assert!(!late.extended);
    }

    #[test]
    fn rejected_bids_never_extend() {
        let a = open();
        let t = a.ends_at - Duration::seconds(30);
        assert!(bid(&a, 2, 1, 50_000, t).is_err());
        // the snapshot is untouched by a rejection: only `apply` changes it
        assert_eq!(a.ends_at, now() + Duration::hours(1));
    }

    #[test]
    fn close_outcomes_and_settlement_conserve_money() {
        let mut a = open();
        assert_eq!(close_outcome(&a), CloseOutcome::Unsold);
        assert_eq!(settle(&a, CloseOutcome::Unsold), Settlement::Nothing);

        a.apply(&bid(&a, 2, 15_000, 50_000, now()).unwrap());
        assert!(!reserve_met(&a));
        assert_eq!(close_outcome(&a), CloseOutcome::Unsold);
        let release = settle(&a, CloseOutcome::Unsold);
        assert_eq!(
            release,
            Settlement::Release {
                bidder_id: UserId::new(2),
                amount: won(15_000)
            }
        );
        let (bidder, _) = release.apply(
            Wallet {
                balance: won(50_000),
                held: won(15_000),
            },
            Wallet::default(),
        );
        assert_eq!(
            bidder,
            Wallet {
                balance: won(50_000),
                held: won(0)
            }
        );

        a.apply(&bid(&a, 3, 20_000, 50_000, now()).unwrap());
        assert!(reserve_met(&a));
        let outcome = close_outcome(&a);
        assert_eq!(
            outcome,
            CloseOutcome::Sold {
                winner_id: UserId::new(3),
                price: won(20_000)
            }
        );
        assert_eq!(outcome.status(), AuctionStatus::Sold);
        let pay = settle(&a, outcome);
        let (w0, s0) = (
            Wallet {
                balance: won(30_000),
                held: won(20_000),
            },
            Wallet {
                balance: won(1_000),
                held: won(0),
            },
        );
        let (w1, s1) = pay.apply(w0, s0);
        assert_eq!(w0.balance + s0.balance, w1.balance + s1.balance);
        assert_eq!(
            w1,
            Wallet {
                balance: won(10_000),
                held: won(0)
            }
        );
    }

    #[test]
    fn status_codes_round_trip() {
        for s in [
            AuctionStatus::Open,
            AuctionStatus::Sold,
            AuctionStatus::Unsold,
            AuctionStatus::Cancelled,
        ] {
            assert_eq!(AuctionStatus::parse(s.code()), Some(s));
        }
        assert_eq!(AuctionStatus::parse("closed"), None);
    }

    #[test]
    fn buy_now_applies_only_until_the_bidding_would_sell() {
        let buyer = UserId::new(9);
        // Reserve 20,000; buy-now 30,000.
        let mut a = open();
        a.buy_now_price = Some(won(30_000));
        assert_eq!(buy_now_available(&a), Some(won(30_000)));
        let bid = validate_buy_now(&a, buyer, won(30_000), now()).unwrap();
        assert_eq!((bid.amount, bid.seq, bid.released), (won(30_000), 1, None));
        // A leader below the reserve: still available, and their hold goes.
        a.current_price = Some(won(19_000));
        a.leader_id = Some(UserId::new(7));
        a.bid_count = 4;
        let bid = validate_buy_now(&a, buyer, won(30_000), now()).unwrap();
        assert_eq!(bid.seq, 5);
        assert_eq!(bid.released, Some((UserId::new(7), won(19_000))));
        // The leader themselves may buy now.
        assert!(validate_buy_now(&a, UserId::new(7), won(30_000), now()).is_ok());
        // The price the buyer saw must be the price.
        assert_eq!(
            validate_buy_now(&a, buyer, won(25_000), now()),
            Err(BidRejection::PriceMoved { price: won(30_000) })
        );
        // Reserve met: the bidding decides.
        a.current_price = Some(won(20_000));
        assert_eq!(buy_now_available(&a), None);
        assert_eq!(
            validate_buy_now(&a, buyer, won(30_000), now()),
            Err(BidRejection::BuyNowUnavailable)
        );
        // No reserve: only before the first bid.
        let mut b = open();
        b.reserve_price = None;
        b.buy_now_price = Some(won(30_000));
        assert_eq!(buy_now_available(&b), Some(won(30_000)));
        b.current_price = Some(won(10_000));
        b.leader_id = Some(UserId::new(7));
        b.bid_count = 1;
        assert_eq!(buy_now_available(&b), None);
        // None set; the seller; closed; past the end.
        assert_eq!(
            validate_buy_now(&open(), buyer, won(30_000), now()),
            Err(BidRejection::BuyNowUnavailable)
        );
        let mut c = open();
        c.buy_now_price = Some(won(30_000));
        assert_eq!(
            validate_buy_now(&c, UserId::new(1), won(30_000), now()),
            Err(BidRejection::SellerCannotBid)
        );
        assert_eq!(
            validate_buy_now(&c, buyer, won(30_000), c.ends_at),
            Err(BidRejection::Ended)
        );
        c.status = AuctionStatus::Sold;
        assert_eq!(
            validate_buy_now(&c, buyer, won(30_000), now()),
            Err(BidRejection::NotOpen)
        );
    }

    #[test]
    fn tiered_increments_follow_the_current_price() {
        let mut a = open();
        a.increment = Increment::Tiered;
        a.start_price = won(8_000);
        assert_eq!(min_next_bid(&a), won(8_000));
        assert_eq!(current_increment(&a), won(500));
        a.bid_count = 1;
        for (price, next) in [
            (8_000, 8_500),
            (9_800, 10_300),
            (10_000, 11_000),
            (49_500, 50_500),
            (50_000, 52_000),
            (99_000, 101_000),
            (100_000, 105_000),
            (500_000, 510_000),
        ] {
            a.current_price = Some(won(price));
            assert_eq!(min_next_bid(&a), won(next), "at {price}");
        }
    }

    #[test]
    fn a_scheduled_auction_takes_bids_from_its_start() {
        let mut a = open();
        a.buy_now_price = Some(won(30_000));
        a.starts_at = Some(now() + Duration::minutes(10));
        let before = now() + Duration::minutes(9);
        let at_start = now() + Duration::minutes(10);
        assert_eq!(shown_status(&a, before), AuctionStatus::Scheduled);
        assert_eq!(
            bid(&a, 2, 10_000, 50_000, before),
            Err(BidRejection::NotStarted)
        );
        assert_eq!(
            validate_buy_now(&a, UserId::new(2), won(30_000), before),
            Err(BidRejection::NotStarted)
        );
        assert_eq!(shown_status(&a, at_start), AuctionStatus::Open);
        assert!(bid(&a, 2, 10_000, 50_000, at_start).is_ok());
        // A closed auction shows its stored status whatever its start.
        a.status = AuctionStatus::Cancelled;
        assert_eq!(shown_status(&a, before), AuctionStatus::Cancelled);
        assert_eq!(
            bid(&a, 2, 10_000, 50_000, before),
            Err(BidRejection::NotOpen)
        );
    }
}
