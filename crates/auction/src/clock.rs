//! The descending clock (Dutch auction) for the day's catch: the price falls
//! a step at a time from the start price; the first bidder to accept buys
//! some of the units at the price on the clock, the clock pauses a moment and
//! falls on for the rest; at the floor with units left, the rest is unsold.
//!
//! The clock is a pure function of its stored schedule (the rules) and its
//! anchor (the price and the moment its current fall began), so every
//! instance reads the same price at the same moment without a timer of its
//! own, and a restart loses nothing.
//!
//! ```
//! use chrono::{Duration, TimeZone, Utc};
//! use sitga_auction::{ClockInput, ClockRules, ClockState, Krw};
//!
//! let start = Utc.with_ymd_and_hms(2026, 12, 5, 5, 0, 0).unwrap();
//! let rules = ClockRules::parse(&ClockInput {
//!     floor_price: Krw::new(20_000),
//!     step: Krw::new(1_000),
//!     step_seconds: 5,
//!     quantity: Some(10),
//!     pause_seconds: None,
//! }, Krw::new(30_000)).unwrap();
//! let clock = ClockState::opening(&rules, Krw::new(30_000), start);
//! assert_eq!(clock.read(&rules, start).price, Krw::new(30_000));
//! assert_eq!(clock.read(&rules, start + Duration::seconds(12)).price, Krw::new(28_000));
//! // Ten steps down to the floor, held for one step, then the rest is unsold.
//! assert_eq!(clock.ends_at(&rules), start + Duration::seconds(55));
//! ```

use chrono::{DateTime, Duration, DurationRound, Utc};

use sitga_core::{FieldError, UserId};

use crate::money::{Krw, MAX_AMOUNT};
use crate::rules::{AuctionSnapshot, BidRejection, taking_bids_from};
use crate::settings::MAX_DURATION_MINUTES;

/// How long the clock stands still after an accept unless the seller says.
pub const DEFAULT_PAUSE_SECONDS: i64 = 3;
/// The longest pause a seller may choose.
pub const MAX_PAUSE_SECONDS: i64 = 60;
/// The slowest step.
pub const MAX_STEP_SECONDS: i64 = 3_600;
/// The most units (boxes) one clock sells.
pub const MAX_QUANTITY: i64 = 10_000;

/// The seller's clock choices as sent (the start price and the start time
/// are the auction's own).
#[derive(Debug, Clone, Default)]
pub struct ClockInput {
    /// The clock never goes below this; at it, with units left, the rest is
    /// unsold.
    pub floor_price: Krw,
    /// How much the price falls at each step.
    pub step: Krw,
    /// Seconds between steps (1 … 3,600).
    pub step_seconds: i64,
    /// Units for sale (default 1; at most [`MAX_QUANTITY`]).
    pub quantity: Option<i64>,
    /// Seconds the clock stands still after an accept (default 3; 0 … 60).
    pub pause_seconds: Option<i64>,
}

/// A clock's validated schedule. It never changes after the auction opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockRules {
    /// Lowest price.
    pub floor_price: Krw,
    /// Fall per step.
    pub step: Krw,
    /// Time between steps.
    pub step_every: Duration,
    /// Stand-still after an accept.
    pub pause: Duration,
    /// Units for sale at the start.
    pub quantity: u32,
}

impl ClockRules {
    /// Validates `input` for a clock starting at `start_price`.
    pub fn parse(input: &ClockInput, start_price: Krw) -> Result<Self, FieldError> {
        if !input.floor_price.is_positive() || input.floor_price > MAX_AMOUNT {
            return Err(FieldError::new(
                "floor_price",
                format!("must be 1 to {MAX_AMOUNT} won"),
            ));
        }
        if input.floor_price >= start_price {
            return Err(FieldError::inconsistent(
                "floor_price",
                "must be below the start price (the clock falls from it)",
            ));
        }
        if !input.step.is_positive() || input.step > MAX_AMOUNT {
            return Err(FieldError::new(
                "step",
                format!("must be 1 to {MAX_AMOUNT} won"),
            ));
        }
        if !(1..=MAX_STEP_SECONDS).contains(&input.step_seconds) {
            return Err(FieldError::new(
                "step_seconds",
                format!("must be 1 to {MAX_STEP_SECONDS} seconds"),
            ));
        }
        let quantity = input.quantity.unwrap_or(1);
        if !(1..=MAX_QUANTITY).contains(&quantity) {
            return Err(FieldError::new(
                "quantity",
                format!("must be 1 to {MAX_QUANTITY} units"),
            ));
        }
        let pause = input.pause_seconds.unwrap_or(DEFAULT_PAUSE_SECONDS);
        if !(0..=MAX_PAUSE_SECONDS).contains(&pause) {
            return Err(FieldError::new(
                "pause_seconds",
                format!("must be 0 to {MAX_PAUSE_SECONDS} seconds"),
            ));
        }
        let rules = Self {
            floor_price: input.floor_price,
            step: input.step,
            step_every: Duration::seconds(input.step_seconds),
            pause: Duration::seconds(pause),
            // In range: checked above.
            quantity: u32::try_from(quantity).unwrap_or(1),
        };
        // From the start price to the floor and one step there: the longest
        // a clock with no accept runs.
        let fall = rules.step_every * (steps_between(start_price, rules) + 1);
        if fall > Duration::minutes(MAX_DURATION_MINUTES) {
            return Err(FieldError::inconsistent(
                "step_seconds",
                "the clock would take more than 7 days to reach the floor: \
                 raise the step or shorten its time",
            ));
        }
        Ok(rules)
    }
}

/// Steps from `price` down to the floor (the last one may be partial).
fn steps_between(price: Krw, rules: ClockRules) -> i32 {
    let gap = (price.get() - rules.floor_price.get()).max(0);
    let step = rules.step.get().max(1);
    let steps = gap / step + i64::from(gap % step != 0);
    i32::try_from(steps).unwrap_or(i32::MAX)
}

/// Where a clock stands: the price its current fall began at, when, and the
/// units left. Stored with the auction; everything else is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ClockState {
    /// The current fall began here: the price holds until one step after
    /// `anchor_at`, then falls a step at a time.
    pub anchor_at: DateTime<Utc>,
    /// The price at `anchor_at`.
    pub anchor_price: Krw,
    /// Units not sold yet.
    pub remaining: u32,
}

/// What the clock shows at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockReading {
    /// The price a bidder accepts now.
    pub price: Krw,
    /// When it falls next (`None` at the floor: it ends instead).
    pub next_step_at: Option<DateTime<Utc>>,
    /// When the current price began to show.
    pub level_since: DateTime<Utc>,
    /// Units left.
    pub remaining: u32,
    /// When the clock stops with no further accept: one step after it
    /// reached the floor.
    pub ends_at: DateTime<Utc>,
}

/// An accept as a buyer sends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockOrder {
    /// The buyer.
    pub buyer_id: UserId,
    /// Units asked for (checked: 1 … the units left).
    pub units: i64,
    /// The clock's price per unit as the buyer saw it.
    pub price: Krw,
}

/// An accept the rules allow: what is sold, for how much, and the clock after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockSale {
    /// The buyer.
    pub buyer_id: UserId,
    /// Units bought.
    pub units: u32,
    /// Price per unit (the clock's).
    pub unit_price: Krw,
    /// `units × unit_price`: what leaves the buyer's wallet for the sale's
    /// escrow.
    pub total: Krw,
    /// The accept's number in the auction's history.
    pub seq: i64,
    /// The clock after it (paused, fewer units).
    pub after: ClockState,
    /// Whether nothing is left: the auction closes with this accept.
    pub sold_out: bool,
}

impl ClockState {
    /// A clock that starts at `start_price` at `starts_at` with every unit.
    pub fn opening(rules: &ClockRules, start_price: Krw, starts_at: DateTime<Utc>) -> Self {
        Self {
            anchor_at: to_millis(starts_at),
            anchor_price: start_price,
            remaining: rules.quantity,
        }
    }

    /// The clock at `now`.
    pub fn read(&self, rules: &ClockRules, now: DateTime<Utc>) -> ClockReading {
        let every = rules.step_every;
        let to_floor = steps_between(self.anchor_price, *rules);
        let ends_at = self.ends_at(rules);
        let elapsed = now - self.anchor_at;
        let steps = if elapsed < Duration::zero() {
            0
        } else {
            let n = elapsed.num_milliseconds() / every.num_milliseconds().max(1);
            i32::try_from(n).unwrap_or(i32::MAX).min(to_floor)
        };
        let fallen = rules.step.get().saturating_mul(i64::from(steps));
        let price = Krw::new((self.anchor_price.get() - fallen).max(rules.floor_price.get()));
        let next_step_at = (steps < to_floor).then(|| self.anchor_at + every * (steps + 1));
        ClockReading {
            price,
            next_step_at,
            level_since: self.anchor_at + every * steps,
            remaining: self.remaining,
            ends_at,
        }
    }

    /// When the clock stops if nobody accepts again: one step after it
    /// reaches the floor.
    pub fn ends_at(&self, rules: &ClockRules) -> DateTime<Utc> {
        self.anchor_at + rules.step_every * (steps_between(self.anchor_price, *rules) + 1)
    }

    /// Decides `order` by a buyer who has `available` points, at `now`.
    /// Accepted only if its price is still the clock's price (a late
    /// accept after a step is told the new one), the units remain and the
    /// buyer covers them all.
    pub fn accept(
        &self,
        rules: &ClockRules,
        auction: &AuctionSnapshot,
        order: ClockOrder,
        available: Krw,
        now: DateTime<Utc>,
    ) -> Result<ClockSale, BidRejection> {
        let ClockOrder {
            buyer_id,
            units,
            price,
        } = order;
        taking_bids_from(auction, buyer_id, now)?;
        let reading = self.read(rules, now);
        if self.remaining == 0 || now >= reading.ends_at {
            return Err(BidRejection::Ended);
        }
        let units = u32::try_from(units)
            .ok()
            .filter(|u| *u >= 1)
            .ok_or(BidRejection::InvalidAmount)?;
        if units > self.remaining {
            return Err(BidRejection::UnitsUnavailable {
                remaining: self.remaining,
            });
        }
        if price != reading.price {
            return Err(BidRejection::PriceMoved {
                price: reading.price,
            });
        }
        let total = reading
            .price
            .get()
            .checked_mul(i64::from(units))
            .map(Krw::new)
            .filter(|t| *t <= MAX_AMOUNT)
            .ok_or(BidRejection::InvalidAmount)?;
        if available < total {
            return Err(BidRejection::InsufficientBalance { available });
        }
        let remaining = self.remaining - units;
        // The price holds through the pause, then falls on at once: the new
        // fall is anchored one step before the pause ends.
        let after = Self {
            anchor_at: to_millis(now + rules.pause - rules.step_every),
            anchor_price: reading.price,
            remaining,
        };
        Ok(ClockSale {
            buyer_id,
            units,
            unit_price: reading.price,
            total,
            seq: auction.bid_count + 1,
            after,
            sold_out: remaining == 0,
        })
    }
}

/// Both backends keep at least milliseconds: an anchor stored and read back
/// is the anchor the writer computed with.
fn to_millis(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(Duration::milliseconds(1)).unwrap_or(at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::increments::Increment;
    use crate::rules::AuctionStatus;
    use chrono::TimeZone;
    use sitga_core::AuctionId;

    const SELLER: UserId = UserId::new(1);
    const BUYER: UserId = UserId::new(2);

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 5, 5, 0, 0).unwrap()
    }

    fn rules() -> ClockRules {
        ClockRules::parse(
            &ClockInput {
                floor_price: Krw::new(20_000),
                step: Krw::new(1_000),
                step_seconds: 5,
                quantity: Some(10),
                pause_seconds: None,
            },
            Krw::new(30_000),
        )
        .unwrap()
    }

    fn auction(clock: &ClockState, bid_count: i64) -> AuctionSnapshot {
        AuctionSnapshot {
            id: AuctionId::new(1),
            seller_id: SELLER,
            status: AuctionStatus::Open,
            start_price: Krw::new(30_000),
            increment: Increment::Tiered,
            buy_now_price: None,
            reserve_price: None,
            current_price: None,
            leader_id: None,
            leader_max: None,
            bid_count,
            starts_at: Some(t0()),
            ends_at: clock.ends_at(&rules()),
            hard_end_at: clock.ends_at(&rules()),
            soft_close: Duration::zero(),
        }
    }

    fn secs(s: i64) -> DateTime<Utc> {
        t0() + Duration::seconds(s)
    }

    #[test]
    fn the_price_falls_a_step_at_a_time_to_the_floor_and_stops_one_step_later() {
        let rules = rules();
        let clock = ClockState::opening(&rules, Krw::new(30_000), t0());
        let at = |s| clock.read(&rules, secs(s));
        assert_eq!(at(-10).price, Krw::new(30_000), "before the start");
        assert_eq!(at(0).price, Krw::new(30_000));
        assert_eq!(at(0).next_step_at, Some(secs(5)));
        assert_eq!(at(4).price, Krw::new(30_000));
        assert_eq!(at(5).price, Krw::new(29_000));
        assert_eq!(at(5).level_since, secs(5));
        assert_eq!(at(49).price, Krw::new(21_000));
        assert_eq!(at(50).price, Krw::new(20_000));
        assert_eq!(at(50).next_step_at, None, "at the floor it only ends");
        assert_eq!(at(54).price, Krw::new(20_000));
        assert_eq!(at(500).price, Krw::new(20_000), "never below the floor");
        assert_eq!(at(0).ends_at, secs(55));
    }

    #[test]
    fn a_partial_last_step_stops_at_the_floor() {
        let rules = ClockRules {
            floor_price: Krw::new(20_500),
            ..rules()
        };
        let clock = ClockState::opening(&rules, Krw::new(30_000), t0());
        assert_eq!(clock.read(&rules, secs(45)).price, Krw::new(21_000));
        assert_eq!(clock.read(&rules, secs(50)).price, Krw::new(20_500));
        assert_eq!(clock.ends_at(&rules), secs(55));
    }

    #[test]
    fn an_accept_buys_at_the_clock_price_pauses_and_the_clock_falls_on() {
        let rules = rules();
        let clock = ClockState::opening(&rules, Krw::new(30_000), t0());
        let now = secs(12); // 28,000 since 10 s
        let sale = clock
            .accept(
                &rules,
                &auction(&clock, 0),
                ClockOrder {
                    buyer_id: BUYER,
                    units: 3,
                    price: Krw::new(28_000),
                },
                Krw::new(100_000),
                now,
            )
            .unwrap();
        assert_eq!(
            (sale.units, sale.unit_price, sale.total, sale.seq),
            (3, Krw::new(28_000), Krw::new(84_000), 1)
        );
        assert!(!sale.sold_out);
        let after = sale.after;
        assert_eq!(after.remaining, 7);
        // Paused at 28,000 for 3 s, then a step at once.
        assert_eq!(after.read(&rules, secs(14)).price, Krw::new(28_000));
        assert_eq!(after.read(&rules, secs(14)).next_step_at, Some(secs(15)));
        assert_eq!(after.read(&rules, secs(15)).price, Krw::new(27_000));
        assert_eq!(after.read(&rules, secs(20)).price, Krw::new(26_000));
        // Eight steps to the floor from 28,000, one held there.
        assert_eq!(after.ends_at(&rules), secs(15 + 7 * 5 + 5));
    }

    #[test]
    fn a_pause_longer_than_a_step_holds_the_price_through_it() {
        let rules = ClockRules {
            pause: Duration::seconds(8),
            ..rules()
        };
        let clock = ClockState::opening(&rules, Krw::new(30_000), t0());
        let sale = clock
            .accept(
                &rules,
                &auction(&clock, 0),
                ClockOrder {
                    buyer_id: BUYER,
                    units: 1,
                    price: Krw::new(30_000),
                },
                Krw::new(30_000),
                secs(1),
            )
            .unwrap();
        assert_eq!(sale.after.read(&rules, secs(8)).price, Krw::new(30_000));
        assert_eq!(sale.after.read(&rules, secs(9)).price, Krw::new(29_000));
    }

    #[test]
    fn a_late_accept_is_told_the_new_price_and_other_refusals_name_their_reason() {
        let rules = rules();
        let clock = ClockState::opening(&rules, Krw::new(30_000), t0());
        let a = auction(&clock, 0);
        let try_accept = |who, units, price: i64, available: i64, s| {
            clock.accept(
                &rules,
                &a,
                ClockOrder {
                    buyer_id: who,
                    units,
                    price: Krw::new(price),
                },
                Krw::new(available),
                secs(s),
            )
        };
        assert_eq!(
            try_accept(BUYER, 1, 30_000, 99_000, 5),
            Err(BidRejection::PriceMoved {
                price: Krw::new(29_000)
            })
        );
        assert_eq!(
            try_accept(BUYER, 11, 30_000, 999_000, 1),
            Err(BidRejection::UnitsUnavailable { remaining: 10 })
        );
        assert_eq!(
            try_accept(BUYER, 0, 30_000, 99_000, 1),
            Err(BidRejection::InvalidAmount)
        );
        assert_eq!(
            try_accept(BUYER, -1, 30_000, 99_000, 1),
            Err(BidRejection::InvalidAmount)
        );
        assert_eq!(
            try_accept(BUYER, 2, 30_000, 59_999, 1),
            Err(BidRejection::InsufficientBalance {
                available: Krw::new(59_999)
            })
        );
        assert_eq!(
            try_accept(SELLER, 1, 30_000, 99_000, 1),
            Err(BidRejection::SellerCannotBid)
        );
        assert_eq!(
            try_accept(BUYER, 1, 30_000, 99_000, -1),
            Err(BidRejection::NotStarted)
        );
        assert_eq!(
            try_accept(BUYER, 1, 20_000, 99_000, 55),
            Err(BidRejection::Ended)
        );
        assert!(try_accept(BUYER, 1, 20_000, 99_000, 54).is_ok());
    }

    #[test]
    fn the_last_units_sell_out_the_clock() {
        let rules = rules();
        let mut clock = ClockState::opening(&rules, Krw::new(30_000), t0());
        let mut sold = 0;
        let mut bids = 0;
        for (s, units) in [(0, 4), (4, 4), (20, 2)] {
            let price = clock.read(&rules, secs(s)).price;
            let sale = clock
                .accept(
                    &rules,
                    &auction(&clock, bids),
                    ClockOrder {
                        buyer_id: BUYER,
                        units,
                        price,
                    },
                    Krw::new(1_000_000),
                    secs(s),
                )
                .unwrap();
            sold += sale.units;
            bids = sale.seq;
            clock = sale.after;
        }
        assert_eq!((sold, clock.remaining, bids), (10, 0, 3));
        assert_eq!(
            clock.accept(
                &rules,
                &auction(&clock, bids),
                ClockOrder {
                    buyer_id: BUYER,
                    units: 1,
                    price: clock.read(&rules, secs(21)).price
                },
                Krw::new(1_000_000),
                secs(21)
            ),
            Err(BidRejection::Ended),
            "nothing is sold twice"
        );
    }

    #[test]
    fn schedules_are_checked() {
        let start = Krw::new(30_000);
        let input = ClockInput {
            floor_price: Krw::new(20_000),
            step: Krw::new(1_000),
            step_seconds: 5,
            quantity: None,
            pause_seconds: None,
        };
        let field = |input: ClockInput| ClockRules::parse(&input, start).unwrap_err().field;
        assert_eq!(ClockRules::parse(&input, start).unwrap().quantity, 1);
        assert_eq!(
            ClockRules::parse(&input, start).unwrap().pause,
            Duration::seconds(3)
        );
        let floor = |p| ClockInput {
            floor_price: Krw::new(p),
            ..input.clone()
        };
        assert_eq!(field(floor(0)), "floor_price");
        assert_eq!(field(floor(30_000)), "floor_price");
        assert_eq!(
            field(ClockInput {
                step: Krw::ZERO,
                ..input.clone()
            }),
            "step"
        );
        for bad in [0, MAX_STEP_SECONDS + 1] {
            assert_eq!(
                field(ClockInput {
                    step_seconds: bad,
                    ..input.clone()
                }),
                "step_seconds"
            );
        }
        for bad in [0, MAX_QUANTITY + 1] {
            assert_eq!(
                field(ClockInput {
                    quantity: Some(bad),
                    ..input.clone()
                }),
                "quantity"
            );
        }
        assert_eq!(
            field(ClockInput {
                pause_seconds: Some(61),
                ..input.clone()
            }),
            "pause_seconds"
        );
        // 10,000 steps of an hour: far past 7 days.
        assert_eq!(
            field(ClockInput {
                step: Krw::new(1),
                step_seconds: 3_600,
                ..input
            }),
            "step_seconds"
        );
    }
}
