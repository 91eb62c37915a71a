//! How much a bid must beat the current price by.
//!
//! By default the step grows with the price, as on every serious auction
//! site: a 500 won raise means something on an 8,000 won mackerel and
//! nothing on a 600,000 won 참다랑어. A seller may still fix one step for the
//! whole auction.

use crate::money::Krw;

/// The tiered table: below `limit` the step is `step`; at or above the last
/// limit it is [`TOP_INCREMENT`].
///
/// | current price (KRW) | minimum raise |
/// |---|---|
/// | below 10,000 | 500 |
/// | 10,000 – 49,999 | 1,000 |
/// | 50,000 – 99,999 | 2,000 |
/// | 100,000 – 499,999 | 5,000 |
/// | 500,000 and above | 10,000 |
pub const INCREMENT_TIERS: [(Krw, Krw); 4] = [
    (Krw::new(10_000), Krw::new(500)),
    (Krw::new(50_000), Krw::new(1_000)),
    (Krw::new(100_000), Krw::new(2_000)),
    (Krw::new(500_000), Krw::new(5_000)),
];

/// The step at and above the last tier's limit.
pub const TOP_INCREMENT: Krw = Krw::new(10_000);

/// The raise over `price` the tiered table asks for.
///
/// ```
/// # use sitga_auction::{Krw, tiered_increment};
/// assert_eq!(tiered_increment(Krw::new(9_999)), Krw::new(500));
/// assert_eq!(tiered_increment(Krw::new(10_000)), Krw::new(1_000));
/// assert_eq!(tiered_increment(Krw::new(75_000)), Krw::new(2_000));
/// assert_eq!(tiered_increment(Krw::new(2_000_000)), Krw::new(10_000));
/// ```
pub fn tiered_increment(price: Krw) -> Krw {
    INCREMENT_TIERS
        .iter()
        .find(|(limit, _)| price < *limit)
        .map_or(TOP_INCREMENT, |(_, step)| *step)
}

/// The rule an auction's minimum raise follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(tag = "rule", content = "step"))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Increment {
    /// The same raise whatever the price (the seller chose it).
    Fixed(Krw),
    /// [`tiered_increment`] of the current price (the default).
    Tiered,
}

impl Increment {
    /// The raise over `price` this rule asks for.
    pub fn over(self, price: Krw) -> Krw {
        match self {
            Self::Fixed(step) => step,
            Self::Tiered => tiered_increment(price),
        }
    }

    /// The stored and API code: `fixed` or `tiered`.
    pub fn code(self) -> &'static str {
        match self {
            Self::Fixed(_) => "fixed",
            Self::Tiered => "tiered",
        }
    }

    /// The seller's fixed step, if there is one.
    pub fn fixed(self) -> Option<Krw> {
        match self {
            Self::Fixed(step) => Some(step),
            Self::Tiered => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tier_edge() {
        let won = Krw::new;
        let cases = [
            (1, 500),
            (9_999, 500),
            (10_000, 1_000),
            (49_999, 1_000),
            (50_000, 2_000),
            (99_999, 2_000),
            (100_000, 5_000),
            (499_999, 5_000),
            (500_000, 10_000),
            (1_000_000_000, 10_000),
        ];
        for (price, step) in cases {
            assert_eq!(tiered_increment(won(price)), won(step), "at {price}");
            assert_eq!(Increment::Tiered.over(won(price)), won(step));
            assert_eq!(Increment::Fixed(won(300)).over(won(price)), won(300));
        }
        // Steps never shrink as the price grows.
        let mut last = Krw::ZERO;
        for price in (0..=600_000).step_by(250) {
            let step = tiered_increment(won(price));
            assert!(step >= last, "at {price}");
            last = step;
        }
    }
}
