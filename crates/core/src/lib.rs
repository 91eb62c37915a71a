//! The words every sitga crate shares, so that a line of code says what its
//! numbers are:
//!
//! - typed ids ([`UserId`], [`AuctionId`], [`PickupId`], [`BidId`], [`SaleId`]): a
//!   function that takes a bidder cannot be called with an auction;
//! - [`Krw`]: an amount of Korean won, an integer, never a float;
//! - [`FieldError`]: the one shape of a value that failed its rule, naming
//!   the input field so a client can point at it;
//! - [`Calendar`] and [`Month`]: days and months in the platform's time
//!   zone (Asia/Seoul unless configured);
//! - [`Province`]: the 17 first-level divisions of South Korea, where
//!   people, cafes and catches are.
//!
//! ```
//! use sitga_core::{AuctionId, FieldError, Krw, UserId};
//!
//! let price = Krw::new(15_000);
//! assert_eq!(price + Krw::new(1_000), Krw::new(16_000));
//! assert_eq!(price.to_string(), "15000");
//!
//! let seller = UserId::new(7);
//! let auction = AuctionId::new(7);
//! assert_eq!(seller.get(), auction.get()); // same number, different things
//!
//! let e = FieldError::new("amount", "must be a positive number of won");
//! assert_eq!(e.to_string(), "amount: must be a positive number of won");
//! ```
//!
//! Features: `serde` (ids and amounts serialize as the integers they wrap),
//! `diesel` (they bind and load as `BIGINT` on any diesel backend).

#![warn(missing_docs)]

mod calendar;
mod field;
mod ids;
mod money;
mod province;

pub use calendar::{Calendar, DEFAULT_TIMEZONE, Month};
pub use field::FieldError;
pub use ids::{AuctionId, BidId, PickupId, SaleId, UserId};
pub use money::Krw;
pub use province::Province;

// The README's examples are tested with the crate's.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

/// Serde support for an enum that has a stable text code: it serializes as
/// `code()` and deserializes through `parse()` (an unknown code is an
/// error), so the wire text is the one the rest of the platform uses.
/// The calling crate needs `serde` (behind its own `serde` feature).
///
/// ```
/// # #[cfg(feature = "serde")] {
/// #[derive(Debug, Clone, Copy, PartialEq)]
/// enum Size { Small, Large }
/// impl Size {
///     fn code(self) -> &'static str { match self { Self::Small => "small", Self::Large => "large" } }
///     fn parse(code: &str) -> Option<Self> { [Self::Small, Self::Large].into_iter().find(|s| s.code() == code) }
/// }
/// sitga_core::serde_as_code!(Size);
/// assert_eq!(serde_json::to_string(&Size::Large).unwrap(), r#""large""#);
/// assert_eq!(serde_json::from_str::<Size>(r#""small""#).unwrap(), Size::Small);
/// assert!(serde_json::from_str::<Size>(r#""huge""#).is_err());
/// # }
/// ```
#[macro_export]
macro_rules! serde_as_code {
    ($type:ty) => {
        impl ::serde::Serialize for $type {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.code())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $type {
            fn deserialize<D: ::serde::Deserializer<'de>>(
                deserializer: D,
            ) -> Result<Self, D::Error> {
                let code = <::std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                <$type>::parse(&code).ok_or_else(|| {
                    ::serde::de::Error::custom(format!("unknown {} {code:?}", stringify!($type)))
                })
            }
        }
    };
}
