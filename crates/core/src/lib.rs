//! The words every sitga crate shares, so that a line of code says what its
//! numbers are:
//!
//! - typed ids ([`UserId`], [`AuctionId`], [`PickupId`], [`BidId`]): a
//!   function that takes a bidder cannot be called with an auction;
//! - [`Krw`]: an amount of Korean won, an integer, never a float;
//! - [`FieldError`]: the one shape of a value that failed its rule, naming
//!   the input field so a client can point at it.
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

mod field;
mod ids;
mod money;

pub use field::FieldError;
pub use ids::{AuctionId, BidId, PickupId, UserId};
pub use money::Krw;

// The README's examples are tested with the crate's.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
