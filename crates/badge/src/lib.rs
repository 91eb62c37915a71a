//! Badge rules for sitga, with no web or database code: the catalogue and
//! the conditions that award each badge, as data and pure functions.
//!
//! ```
//! use sitga_badge::{BadgeCode, Stats, earned};
//! let stats = Stats { completed_donations: 1, lifetime_grams: 12_000, ..Default::default() };
//! let badges = earned(&stats);
//! assert!(badges.contains(&BadgeCode::FirstDonation));
//! assert!(badges.contains(&BadgeCode::Lifetime10Kg));
//! assert!(!badges.contains(&BadgeCode::Lifetime100Kg));
//! ```

#![warn(missing_docs)]

/// How rare a badge is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Rarity {
    /// Most users earn it.
    Common,
    /// Takes commitment.
    Rare,
    /// Takes a lot.
    Epic,
    /// Very few.
    Legendary,
}

impl Rarity {
    /// Stored code.
    pub fn code(self) -> &'static str {
        match self {
            Self::Common => "common",
            Self::Rare => "rare",
            Self::Epic => "epic",
            Self::Legendary => "legendary",
        }
    }
}

#[cfg(feature = "serde")]
sitga_core::serde_as_code!(BadgeCode);

/// Every badge there is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BadgeCode {
    /// First completed donation of grounds.
    FirstDonation,
    /// 10 kg donated or collected in total.
    Lifetime10Kg,
    /// 100 kg in total.
    Lifetime100Kg,
    /// 1,000 kg in total.
    Lifetime1000Kg,
    /// 5 completed pickups in one calendar month.
    FivePickupsInAMonth,
    /// Active (a completed pickup) in 4 consecutive weeks.
    FourActiveWeeks,
    /// The first completed pickup of the month in one's province.
    FirstInProvinceThisMonth,
    /// First fish sold at auction.
    FirstSale,
    /// First auction won.
    FirstWin,
}

/// A catalogue entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Badge {
    /// Code.
    pub code: BadgeCode,
    /// Korean name.
    pub name_ko: &'static str,
    /// English name.
    pub name_en: &'static str,
    /// How to earn it, in Korean.
    pub how_ko: &'static str,
    /// How to earn it, in English.
    pub how_en: &'static str,
    /// Rarity.
    pub rarity: Rarity,
}

impl BadgeCode {
    /// Stable code stored with awards.
    pub fn code(self) -> &'static str {
        match self {
            Self::FirstDonation => "first_donation",
            Self::Lifetime10Kg => "lifetime_10kg",
            Self::Lifetime100Kg => "lifetime_100kg",
            Self::Lifetime1000Kg => "lifetime_1000kg",
            Self::FivePickupsInAMonth => "five_pickups_month",
            Self::FourActiveWeeks => "four_active_weeks",
            Self::FirstInProvinceThisMonth => "province_first_month",
            Self::FirstSale => "first_sale",
            Self::FirstWin => "first_win",
        }
    }

    /// Parses a stored code.
    pub fn parse(code: &str) -> Option<Self> {
        CATALOGUE.iter().map(|b| b.code).find(|c| c.code() == code)
    }

    /// The image served for it (under `assets/badges/`).
    pub fn image(self) -> String {
        format!("/assets/badges/{}.svg", self.code())
    }

    /// Its catalogue entry.
    pub fn badge(self) -> &'static Badge {
        // Every code has exactly one entry (checked by a test).
        CATALOGUE
            .iter()
            .find(|b| b.code == self)
            .unwrap_or(&CATALOGUE[0])
    }
}

/// The catalogue, in display order.
pub const CATALOGUE: &[Badge] = &[
    Badge {
        code: BadgeCode::FirstDonation,
        name_ko: "첫 기부",
        name_en: "First donation",
        how_ko: "커피박 수거를 처음으로 완료하세요",
        how_en: "Complete your first coffee-grounds pickup",
        rarity: Rarity::Common,
    },
    Badge {
        code: BadgeCode::Lifetime10Kg,
        name_ko: "10kg 달성",
        name_en: "10 kg",
        how_ko: "누적 10kg을 기부하거나 수거하세요",
        how_en: "Donate or collect 10 kg in total",
        rarity: Rarity::Common,
    },
    Badge {
        code: BadgeCode::Lifetime100Kg,
        name_ko: "100kg 달성",
        name_en: "100 kg",
        how_ko: "누적 100kg을 기부하거나 수거하세요",
        how_en: "Donate or collect 100 kg in total",
        rarity: Rarity::Rare,
    },
    Badge {
        code: BadgeCode::Lifetime1000Kg,
        name_ko: "1톤 클럽",
        name_en: "One-tonne club",
        how_ko: "누적 1,000kg을 기부하거나 수거하세요",
        how_en: "Donate or collect 1,000 kg in total",
        rarity: Rarity::Legendary,
    },
    Badge {
        code: BadgeCode::FivePickupsInAMonth,
        name_ko: "이달의 단골",
        name_en: "Regular of the month",
        how_ko: "한 달에 수거 5건을 완료하세요",
        how_en: "Complete 5 pickups in one month",
        rarity: Rarity::Rare,
    },
    Badge {
        code: BadgeCode::FourActiveWeeks,
        name_ko: "꾸준함",
        name_en: "Steady",
        how_ko: "4주 연속으로 수거를 완료하세요",
        how_en: "Complete a pickup in 4 consecutive weeks",
        rarity: Rarity::Epic,
    },
    Badge {
        code: BadgeCode::FirstInProvinceThisMonth,
        name_ko: "우리 동네 1등",
        name_en: "First in the province",
        how_ko: "이번 달 우리 지역에서 가장 먼저 수거를 완료하세요",
        how_en: "Be the first in your province to complete a pickup this month",
        rarity: Rarity::Rare,
    },
    Badge {
        code: BadgeCode::FirstSale,
        name_ko: "첫 판매",
        name_en: "First sale",
        how_ko: "경매에서 처음으로 생선을 판매하세요",
        how_en: "Sell your first fish at auction",
        rarity: Rarity::Common,
    },
    Badge {
        code: BadgeCode::FirstWin,
        name_ko: "첫 낙찰",
        name_en: "First win",
        how_ko: "경매에서 처음으로 낙찰받으세요",
        how_en: "Win your first auction",
        rarity: Rarity::Common,
    },
];

/// What the rules look at, for one user.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Stats {
    /// Completed pickups the user donated (cafe) or collected (recycler).
    pub completed_donations: i64,
    /// Grams over all completed pickups.
    pub lifetime_grams: i64,
    /// Most completed pickups in any one calendar month.
    pub best_month_pickups: i64,
    /// Longest run of consecutive ISO weeks with a completed pickup.
    pub longest_week_streak: i64,
    /// Whether the user ever completed the first pickup of a month in
    /// their province.
    pub first_in_province: bool,
    /// Auctions sold.
    pub sales: i64,
    /// Auctions won.
    pub wins: i64,
}

/// Every badge the stats earn.
pub fn earned(stats: &Stats) -> Vec<BadgeCode> {
    let rules: [(BadgeCode, bool); 9] = [
        (BadgeCode::FirstDonation, stats.completed_donations >= 1),
        (BadgeCode::Lifetime10Kg, stats.lifetime_grams >= 10_000),
        (BadgeCode::Lifetime100Kg, stats.lifetime_grams >= 100_000),
        (BadgeCode::Lifetime1000Kg, stats.lifetime_grams >= 1_000_000),
        (
            BadgeCode::FivePickupsInAMonth,
            stats.best_month_pickups >= 5,
        ),
        (BadgeCode::FourActiveWeeks, stats.longest_week_streak >= 4),
        (BadgeCode::FirstInProvinceThisMonth, stats.first_in_province),
        (BadgeCode::FirstSale, stats.sales >= 1),
        (BadgeCode::FirstWin, stats.wins >= 1),
    ];
    rules
        .into_iter()
        .filter(|(_, ok)| *ok)
        .map(|(code, _)| code)
        .collect()
}

/// The longest run of consecutive week numbers (weeks counted from any
/// fixed origin, e.g. days since the epoch / 7).
///
/// ```
/// # use sitga_badge::longest_streak;
/// assert_eq!(longest_streak(&[3, 4, 5, 7, 8, 9, 10]), 4);
/// assert_eq!(longest_streak(&[]), 0);
/// ```
pub fn longest_streak(weeks: &[i64]) -> i64 {
    let mut sorted = weeks.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let (mut best, mut run) = (0, 0);
    let mut previous: Option<i64> = None;
    for w in sorted {
        run = if previous == Some(w - 1) { run + 1 } else { 1 };
        best = best.max(run);
        previous = Some(w);
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_codes_are_unique_and_round_trip() {
        let mut codes: Vec<&str> = CATALOGUE.iter().map(|b| b.code.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), CATALOGUE.len());
        for b in CATALOGUE {
            assert_eq!(BadgeCode::parse(b.code.code()), Some(b.code));
            assert_eq!(b.code.badge().code, b.code);
        }
    }

    #[test]
    fn thresholds() {
        assert!(earned(&Stats::default()).is_empty());
        let big = Stats {
            completed_donations: 40,
            lifetime_grams: 1_000_000,
            best_month_pickups: 5,
            longest_week_streak: 4,
            first_in_province: true,
            sales: 1,
            wins: 1,
        };
        assert_eq!(earned(&big).len(), CATALOGUE.len());
        let almost = Stats {
            lifetime_grams: 99_999,
            best_month_pickups: 4,
            longest_week_streak: 3,
            ..big
        };
        let e = earned(&almost);
        assert!(!e.contains(&BadgeCode::Lifetime100Kg));
        assert!(!e.contains(&BadgeCode::FivePickupsInAMonth));
        assert!(!e.contains(&BadgeCode::FourActiveWeeks));
    }
}

// The README's examples are tested with the crate's.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

#[cfg(all(test, feature = "serde"))]
mod serde_tests {
    use super::*;

    #[test]
    fn badges_travel_by_their_stored_codes() {
        for badge in CATALOGUE {
            let json = serde_json::to_string(&badge.code).unwrap();
            assert_eq!(json, format!("\"{}\"", badge.code.code()));
            assert_eq!(
                serde_json::from_str::<BadgeCode>(&json).unwrap(),
                badge.code
            );
            let rarity = serde_json::to_string(&badge.rarity).unwrap();
            assert_eq!(rarity, format!("\"{}\"", badge.rarity.code()));
        }
        let stats = Stats {
            wins: 1,
            ..Stats::default()
        };
        let back: Stats = serde_json::from_value(serde_json::to_value(stats).unwrap()).unwrap();
        assert_eq!(back, stats);
    }
}
