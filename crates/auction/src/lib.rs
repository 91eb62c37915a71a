//! Fish-auction rules for sitga, as plain functions with no web or database
//! code: auction settings, bid validity, soft close, chat bids, the close
//! outcome and settlement, and point-balance amounts.
//!
//! Money is integer KRW ([`Krw`] is `i64`) everywhere.
//!
//! ```
//! use chrono::{Duration, TimeZone, Utc};
//! use sitga_auction::{AuctionSnapshot, AuctionStatus, BidRejection, validate_bid};
//!
//! let now = Utc.with_ymd_and_hms(2026, 11, 27, 12, 0, 0).unwrap();
//! let auction = AuctionSnapshot {
//!     id: 1,
//!     seller_id: 10,
//!     status: AuctionStatus::Open,
//!     start_price: 10_000,
//!     min_increment: 1_000,
//!     reserve_price: None,
//!     current_price: None,
//!     leader_id: None,
//!     bid_count: 0,
//!     ends_at: now + Duration::hours(1),
//!     hard_end_at: now + Duration::hours(1) + Duration::minutes(30),
//!     soft_close: Duration::minutes(2),
//! };
//! let accepted = validate_bid(&auction, 20, 10_000, 50_000, now).unwrap();
//! assert_eq!(accepted.amount, 10_000);
//! assert_eq!(
//!     validate_bid(&auction, 10, 10_000, 50_000, now),
//!     Err(BidRejection::SellerCannotBid)
//! );
//! ```

mod batch;
mod chat;
mod money;
mod rules;
mod settings;

pub use batch::{
    BatchPlan, BidRequest, PlanError, PointMove, WalletMove, plan_bids, state_if_funded,
};
pub use chat::{ChatLine, MAX_CHAT_CHARS, parse_chat_line};
pub use money::{Krw, MAX_AMOUNT, MAX_WALLET_OPERATION, Wallet, WalletAmount};
pub use rules::{
    AcceptedBid, AuctionSnapshot, AuctionStatus, BidRejection, CloseOutcome, Settlement,
    close_outcome, extended_end, min_next_bid, reserve_met, settle, validate_bid,
};
pub use settings::{AuctionSettings, AuctionSettingsInput, SettingsError};
