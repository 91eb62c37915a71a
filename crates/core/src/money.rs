//! Integer Korean won.

use std::iter::Sum;
use std::ops::{Add, AddAssign, Neg, Sub, SubAssign};

/// An amount of Korean won: an integer, never a float. Signed, because a
/// ledger line may take points away.
///
/// Arithmetic is plain `i64` arithmetic; every amount the platform accepts
/// is bounded far below overflow by the domain rules (a bid is at most a
/// billion won), and [`Krw::checked_add`] is there where an input is not.
///
/// ```
/// use sitga_core::Krw;
///
/// let balance = Krw::new(50_000);
/// let held = Krw::new(20_000);
/// assert_eq!(balance - held, Krw::new(30_000));
/// assert!(Krw::new(-1).is_negative());
/// assert_eq!([Krw::new(1), Krw::new(2)].into_iter().sum::<Krw>(), Krw::new(3));
/// assert_eq!(Krw::new(i64::MAX).checked_add(Krw::new(1)), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(transparent))]
#[cfg_attr(
    feature = "diesel",
    derive(diesel::expression::AsExpression, diesel::deserialize::FromSqlRow)
)]
#[cfg_attr(feature = "diesel", diesel(sql_type = diesel::sql_types::BigInt))]
pub struct Krw(i64);

impl Krw {
    /// Nothing.
    pub const ZERO: Self = Self(0);
    /// The largest representable amount (an "unlimited" balance in rules
    /// that check everything but the balance).
    pub const MAX: Self = Self(i64::MAX);

    /// `won` won.
    pub const fn new(won: i64) -> Self {
        Self(won)
    }

    /// The amount in won.
    pub const fn get(self) -> i64 {
        self.0
    }

    /// Greater than zero.
    pub const fn is_positive(self) -> bool {
        self.0 > 0
    }

    /// Less than zero.
    pub const fn is_negative(self) -> bool {
        self.0 < 0
    }

    /// The sum, or `None` on overflow.
    pub fn checked_add(self, other: Self) -> Option<Self> {
        self.0.checked_add(other.0).map(Self)
    }

    /// The sum, stopping at the largest amount instead of overflowing.
    pub fn saturating_add(self, other: Self) -> Self {
        Self(self.0.saturating_add(other.0))
    }

    /// The difference, or `None` on overflow.
    pub fn checked_sub(self, other: Self) -> Option<Self> {
        self.0.checked_sub(other.0).map(Self)
    }
}

impl From<i64> for Krw {
    fn from(won: i64) -> Self {
        Self(won)
    }
}

impl From<Krw> for i64 {
    fn from(amount: Krw) -> i64 {
        amount.0
    }
}

impl std::fmt::Display for Krw {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl Add for Krw {
    type Output = Self;
    fn add(self, other: Self) -> Self {
        Self(self.0 + other.0)
    }
}

impl Sub for Krw {
    type Output = Self;
    fn sub(self, other: Self) -> Self {
        Self(self.0 - other.0)
    }
}

impl Neg for Krw {
    type Output = Self;
    fn neg(self) -> Self {
        Self(-self.0)
    }
}

impl AddAssign for Krw {
    fn add_assign(&mut self, other: Self) {
        self.0 += other.0;
    }
}

impl SubAssign for Krw {
    fn sub_assign(&mut self, other: Self) {
        self.0 -= other.0;
    }
}

impl Sum for Krw {
    fn sum<I: Iterator<Item = Self>>(iter: I) -> Self {
        Self(iter.map(|k| k.0).sum())
    }
}

/// diesel support for an `i64` newtype: binds and loads as `BIGINT` on any
/// backend that has it for `i64` (MySQL and SQLite here).
#[cfg(feature = "diesel")]
macro_rules! bigint_sql {
    ($name:ident) => {
        impl<DB> diesel::serialize::ToSql<diesel::sql_types::BigInt, DB> for $name
        where
            DB: diesel::backend::Backend,
            i64: diesel::serialize::ToSql<diesel::sql_types::BigInt, DB>,
        {
            fn to_sql<'b>(
                &'b self,
                out: &mut diesel::serialize::Output<'b, '_, DB>,
            ) -> diesel::serialize::Result {
                self.0.to_sql(out)
            }
        }

        impl<DB> diesel::deserialize::FromSql<diesel::sql_types::BigInt, DB> for $name
        where
            DB: diesel::backend::Backend,
            i64: diesel::deserialize::FromSql<diesel::sql_types::BigInt, DB>,
        {
            fn from_sql(bytes: DB::RawValue<'_>) -> diesel::deserialize::Result<Self> {
                i64::from_sql(bytes).map(Self)
            }
        }
    };
}

#[cfg(feature = "diesel")]
pub(crate) use bigint_sql;

#[cfg(feature = "diesel")]
bigint_sql!(Krw);
