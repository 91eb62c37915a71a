//! What a seller chooses when opening an auction, validated.

use chrono::{DateTime, Duration, Utc};

use sitga_core::FieldError;

use crate::clock::{ClockInput, ClockRules, ClockState};
use crate::increments::Increment;
use crate::money::{Krw, MAX_AMOUNT};
/// Default auction length.
pub const DEFAULT_DURATION_MINUTES: i64 = 24 * 60;
/// Shortest auction.
pub const MIN_DURATION_MINUTES: i64 = 1;
/// Longest auction (7 days).
pub const MAX_DURATION_MINUTES: i64 = 7 * 24 * 60;
/// Default soft-close window: a bid in the last 2 minutes extends the end.
pub const DEFAULT_SOFT_CLOSE_MINUTES: i64 = 2;
/// Default cap on extensions: 30 minutes past the planned end.
pub const DEFAULT_HARD_CAP_MINUTES: i64 = 30;
/// A scheduled start is at most this far ahead (7 days).
pub const MAX_START_AHEAD_MINUTES: i64 = 7 * 24 * 60;
/// A start this little in the past (a phone's clock, a slow network) means
/// "now"; earlier is refused.
pub const START_SKEW_SECONDS: i64 = 60;

/// The seller's choices as sent.
#[derive(Debug, Clone, Default)]
pub struct AuctionSettingsInput {
    /// First bid must be at least this.
    pub start_price: Krw,
    /// A fixed minimum raise; without one the raise follows the price
    /// ([`crate::tiered_increment`]).
    pub min_increment: Option<Krw>,
    /// Below this the auction does not sell; bidders only see whether it is met.
    pub reserve_price: Option<Krw>,
    /// Anyone may buy at this price while the reserve is not met (with no
    /// reserve: before the first bid). At least the start price and the
    /// reserve.
    pub buy_now_price: Option<Krw>,
    /// Length in minutes (default 24 h; 1 minute … 7 days), from the start.
    pub duration_minutes: Option<i64>,
    /// When bids open (now … 7 days ahead; `None`: now).
    pub starts_at: Option<DateTime<Utc>>,
    /// A descending clock (Dutch auction) instead of bids: the price falls
    /// from the start price. A clock has no increment, reserve, buy-now or
    /// duration of its own (it ends one step after reaching its floor).
    pub clock: Option<ClockInput>,
}

fn err(field: &'static str, message: impl Into<String>) -> FieldError {
    FieldError::new(field, message)
}

/// Validated auction settings with computed times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuctionSettings {
    /// Start price.
    pub start_price: Krw,
    /// Minimum raise rule.
    pub increment: Increment,
    /// Reserve price.
    pub reserve_price: Option<Krw>,
    /// Buy-now price.
    pub buy_now_price: Option<Krw>,
    /// When bids open, if later than the creation.
    pub starts_at: Option<DateTime<Utc>>,
    /// Planned end.
    pub ends_at: DateTime<Utc>,
    /// No extension goes past this.
    pub hard_end_at: DateTime<Utc>,
    /// Soft-close window.
    pub soft_close: Duration,
    /// The clock's schedule, for a clock (Dutch) auction.
    pub clock: Option<ClockRules>,
}

impl AuctionSettings {
    /// Validates the input, with the auction created at `now`.
    ///
    /// ```
    /// # use chrono::Utc;
    /// # use sitga_auction::{AuctionSettings, AuctionSettingsInput, Increment, Krw};
    /// let now = Utc::now();
    /// let input = AuctionSettingsInput { start_price: Krw::new(10_000), ..Default::default() };
    /// let s = AuctionSettings::parse(&input, now).unwrap();
    /// assert_eq!(s.increment, Increment::Tiered);
    /// assert_eq!((s.ends_at - now).num_hours(), 24);
    /// assert_eq!((s.hard_end_at - s.ends_at).num_minutes(), 30);
    /// ```
    pub fn parse(input: &AuctionSettingsInput, now: DateTime<Utc>) -> Result<Self, FieldError> {
        if !input.start_price.is_positive() || input.start_price > MAX_AMOUNT {
            return Err(err("start_price", format!("must be 1 to {MAX_AMOUNT} won")));
        }
        let increment = match input.min_increment {
            None => Increment::Tiered,
            Some(step) if step.is_positive() && step <= MAX_AMOUNT => Increment::Fixed(step),
            Some(_) => {
                return Err(err(
                    "min_increment",
                    format!("must be 1 to {MAX_AMOUNT} won"),
                ));
            }
        };
        if let Some(reserve) = input.reserve_price {
            if !reserve.is_positive() || reserve > MAX_AMOUNT {
                return Err(err(
                    "reserve_price",
                    format!("must be 1 to {MAX_AMOUNT} won"),
                ));
            }
            if reserve < input.start_price {
                return Err(FieldError::inconsistent(
                    "reserve_price",
                    "must be at least the start price",
                ));
            }
        }
        if let Some(buy_now) = input.buy_now_price {
            if !buy_now.is_positive() || buy_now > MAX_AMOUNT {
                return Err(err(
                    "buy_now_price",
                    format!("must be 1 to {MAX_AMOUNT} won"),
                ));
            }
            if buy_now < input.start_price {
                return Err(FieldError::inconsistent(
                    "buy_now_price",
                    "must be at least the start price",
                ));
            }
            if input.reserve_price.is_some_and(|reserve| buy_now < reserve) {
                return Err(FieldError::inconsistent(
                    "buy_now_price",
                    "must be at least the reserve price",
                ));
            }
        }
        let minutes = input.duration_minutes.unwrap_or(DEFAULT_DURATION_MINUTES);
        if !(MIN_DURATION_MINUTES..=MAX_DURATION_MINUTES).contains(&minutes) {
            return Err(err(
                "duration_minutes",
                format!("must be {MIN_DURATION_MINUTES} to {MAX_DURATION_MINUTES} minutes"),
            ));
        }
        let starts_at = match input.starts_at {
            Some(at) if at > now + Duration::minutes(MAX_START_AHEAD_MINUTES) => {
                return Err(FieldError::inconsistent(
                    "starts_at",
                    "must be at most 7 days ahead",
                ));
            }
            Some(at) if at < now - Duration::seconds(START_SKEW_SECONDS) => {
                return Err(FieldError::inconsistent(
                    "starts_at",
                    "must not be in the past",
                ));
            }
            Some(at) if at > now => Some(at),
            _ => None,
        };
        if let Some(clock) = &input.clock {
            return Self::clock(input, clock, starts_at, now);
        }
        let ends_at = starts_at.unwrap_or(now) + Duration::minutes(minutes);
        Ok(Self {
            start_price: input.start_price,
            increment,
            reserve_price: input.reserve_price,
            buy_now_price: input.buy_now_price,
            starts_at,
            ends_at,
            hard_end_at: ends_at + Duration::minutes(DEFAULT_HARD_CAP_MINUTES),
            soft_close: Duration::minutes(DEFAULT_SOFT_CLOSE_MINUTES),
            clock: None,
        })
    }

    /// A clock auction: its end is where the clock stops without an accept
    /// (each accept moves it), never extended by a soft close.
    fn clock(
        input: &AuctionSettingsInput,
        clock: &ClockInput,
        starts_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<Self, FieldError> {
        let not_for_clocks = [
            ("min_increment", input.min_increment.is_some()),
            ("reserve_price", input.reserve_price.is_some()),
            ("buy_now_price", input.buy_now_price.is_some()),
            ("duration_minutes", input.duration_minutes.is_some()),
        ];
        if let Some((field, _)) = not_for_clocks.into_iter().find(|(_, set)| *set) {
            return Err(FieldError::inconsistent(
                field,
                "a clock (dutch) auction has none: its price falls from the start price \
                 to the floor price, and it ends there",
            ));
        }
        let rules = ClockRules::parse(clock, input.start_price)?;
        let ends_at = ClockState::opening(&rules, input.start_price, starts_at.unwrap_or(now))
            .ends_at(&rules);
        Ok(Self {
            start_price: input.start_price,
            increment: Increment::Fixed(rules.step),
            reserve_price: None,
            buy_now_price: None,
            starts_at,
            ends_at,
            hard_end_at: ends_at,
            soft_close: Duration::zero(),
            clock: Some(rules),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(start: i64) -> AuctionSettingsInput {
        AuctionSettingsInput {
            start_price: Krw::new(start),
            ..Default::default()
        }
    }

    #[test]
    fn bounds() {
        let now = Utc::now();
        assert_eq!(
            AuctionSettings::parse(&input(0), now).unwrap_err().field,
            "start_price"
        );
        assert_eq!(
            AuctionSettings::parse(&input(-1), now).unwrap_err().field,
            "start_price"
        );
        assert!(AuctionSettings::parse(&input(MAX_AMOUNT.get()), now).is_ok());
        let zero_inc = AuctionSettingsInput {
            min_increment: Some(Krw::ZERO),
            ..input(100)
        };
        assert_eq!(
            AuctionSettings::parse(&zero_inc, now).unwrap_err().field,
            "min_increment"
        );
        let low_reserve = AuctionSettingsInput {
            reserve_price: Some(Krw::new(50)),
            ..input(100)
        };
        assert_eq!(
            AuctionSettings::parse(&low_reserve, now).unwrap_err().field,
            "reserve_price"
        );
        for bad in [0, 7 * 24 * 60 + 1, -5] {
            let d = AuctionSettingsInput {
                duration_minutes: Some(bad),
                ..input(100)
            };
            assert_eq!(
                AuctionSettings::parse(&d, now).unwrap_err().field,
                "duration_minutes"
            );
        }
        let cheap_buy_now = AuctionSettingsInput {
            buy_now_price: Some(Krw::new(99)),
            ..input(100)
        };
        assert_eq!(
            AuctionSettings::parse(&cheap_buy_now, now)
                .unwrap_err()
                .field,
            "buy_now_price"
        );
        let under_reserve = AuctionSettingsInput {
            reserve_price: Some(Krw::new(500)),
            buy_now_price: Some(Krw::new(400)),
            ..input(100)
        };
        assert_eq!(
            AuctionSettings::parse(&under_reserve, now)
                .unwrap_err()
                .field,
            "buy_now_price"
        );
        let fixed = AuctionSettingsInput {
            min_increment: Some(Krw::new(300)),
            reserve_price: Some(Krw::new(500)),
            buy_now_price: Some(Krw::new(500)),
            ..input(100)
        };
        let parsed = AuctionSettings::parse(&fixed, now).unwrap();
        assert_eq!(parsed.increment, Increment::Fixed(Krw::new(300)));
        assert_eq!(parsed.buy_now_price, Some(Krw::new(500)));
        let later = now + Duration::hours(3);
        let scheduled = AuctionSettingsInput {
            starts_at: Some(later),
            duration_minutes: Some(60),
            ..input(100)
        };
        let parsed = AuctionSettings::parse(&scheduled, now).unwrap();
        assert_eq!(parsed.starts_at, Some(later));
        assert_eq!(parsed.ends_at, later + Duration::minutes(60));
        // Just now (a skewed clock) is now; the past and beyond a week are not.
        let skewed = AuctionSettingsInput {
            starts_at: Some(now - Duration::seconds(30)),
            ..input(100)
        };
        assert_eq!(
            AuctionSettings::parse(&skewed, now).unwrap().starts_at,
            None
        );
        for bad in [
            now - Duration::minutes(5),
            now + Duration::days(7) + Duration::minutes(1),
        ] {
            let d = AuctionSettingsInput {
                starts_at: Some(bad),
                ..input(100)
            };
            let e = AuctionSettings::parse(&d, now).unwrap_err();
            assert_eq!((e.field, e.inconsistent), ("starts_at", true));
        }
        let week = AuctionSettingsInput {
            duration_minutes: Some(7 * 24 * 60),
            ..input(100)
        };
        assert!(AuctionSettings::parse(&week, now).is_ok());
    }
}
