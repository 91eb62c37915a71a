//! Fish-auction rules for sitga, as plain functions with no web or database
//! code: auction settings, bid validity, soft close, proxy bids, the
//! descending clock (Dutch auction), chat bids, the close outcome and
//! settlement, and point-balance amounts.
//!
//! Money is integer KRW ([`Krw`], from `sitga-core`) everywhere, and ids are
//! typed: `validate_bid` cannot be handed an auction id where it wants a
//! bidder, or a user id where it wants an amount.
//!
//! ```
//! use chrono::{Duration, TimeZone, Utc};
//! use sitga_auction::{AuctionSnapshot, AuctionStatus, BidRejection, Increment, Krw, validate_bid};
//! use sitga_core::{AuctionId, UserId};
//!
//! let now = Utc.with_ymd_and_hms(2026, 11, 27, 12, 0, 0).unwrap();
//! let (seller, bidder) = (UserId::new(10), UserId::new(20));
//! let auction = AuctionSnapshot {
//!     id: AuctionId::new(1),
//!     seller_id: seller,
//!     status: AuctionStatus::Open,
//!     start_price: Krw::new(10_000),
//!     increment: Increment::Tiered,
//!     buy_now_price: None,
//!     reserve_price: None,
//!     current_price: None,
//!     leader_id: None,
//!     leader_max: None,
//!     bid_count: 0,
//!     starts_at: None,
//!     ends_at: now + Duration::hours(1),
//!     hard_end_at: now + Duration::hours(1) + Duration::minutes(30),
//!     soft_close: Duration::minutes(2),
//! };
//! let (price, points) = (Krw::new(10_000), Krw::new(50_000));
//! let accepted = validate_bid(&auction, bidder, price, points, now).unwrap();
//! assert_eq!(accepted.amount, price);
//! assert_eq!(
//!     validate_bid(&auction, seller, price, points, now),
//!     Err(BidRejection::SellerCannotBid)
//! );
//! ```

#![warn(missing_docs)]

mod batch;
mod chat;
mod clock;
mod fulfilment;
mod handover;
mod increments;
mod lot;
mod money;
mod payments;
mod reminders;
mod rules;
mod settings;

#[cfg(feature = "serde")]
mod serde_seconds;

pub use batch::{
    BatchPlan, BidRequest, Checked, Placed, PlanError, PointMove, ProxyExhausted, WalletMove,
    check_request, plan_bids, plan_buy_now, state_if_funded,
};
pub use chat::{ChatLine, MAX_CHAT_CHARS, parse_chat_line};
pub use clock::{
    ClockInput, ClockOrder, ClockReading, ClockRules, ClockSale, ClockState, DEFAULT_PAUSE_SECONDS,
    MAX_PAUSE_SECONDS, MAX_QUANTITY, MAX_STEP_SECONDS,
};
pub use fulfilment::{
    ADDRESS_RETENTION, Deadlines, DeliveryChoice, DisputeOutcome, MAX_HANDOVER_ATTEMPTS, Payout,
    Sale, SaleAction, SaleActor, SaleRefusal, SaleState, SaleStep,
};
pub use handover::{
    ADDRESS_LINE_MAX, DISPUTE_REASON_MAX, DeliveryAddress, DisputeReport, HandoverCode,
    MAX_DISPUTE_PHOTOS, RATING_COMMENT_MAX, Rating, SALE_NAME_MAX, Shipment,
};
pub use increments::{INCREMENT_TIERS, Increment, TOP_INCREMENT, tiered_increment};
pub use lot::{
    CatchArea, Delivery, DeliveryInput, Lot, LotInput, MAX_CATCH_AGE, MAX_COURIER_FEE,
    MAX_LENGTH_CM, MAX_WEIGHT_G, PLACE_MAX, PickupPoint, Storage,
};
pub use money::{Krw, MAX_AMOUNT, MAX_WALLET_OPERATION, Wallet, WalletAmount};
pub use payments::{
    ChargeCap, DEFAULT_DAILY_CHARGE_CAP, OverChargeCap, PayoutAlreadyDecided, PayoutDecision,
    PayoutStatus,
};
pub use reminders::{REMINDER_MINUTES, reminder_due};
pub use rules::{
    AcceptedBid, AuctionSnapshot, AuctionStatus, BidRejection, CloseOutcome, Settlement,
    buy_now_available, close_outcome, current_increment, extended_end, has_started, min_next_bid,
    reserve_met, settle, shown_status, validate_bid, validate_buy_now,
};
pub use settings::{
    AuctionSettings, AuctionSettingsInput, MAX_DURATION_MINUTES, MAX_START_AHEAD_MINUTES,
    MIN_DURATION_MINUTES,
};
pub use sitga_core::FieldError;

// The README's examples are tested with the crate's.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

#[cfg(all(test, feature = "serde"))]
mod serde_tests {
    use super::*;
    use sitga_core::UserId;

    #[test]
    fn public_types_round_trip_as_plain_json() {
        let refusal = BidRejection::TooLow {
            min_next_bid: Krw::new(16_000),
        };
        let json = serde_json::to_string(&refusal).unwrap();
        assert_eq!(json, r#"{"code":"bid_too_low","min_next_bid":16000}"#);
        assert_eq!(
            serde_json::from_str::<BidRejection>(&json).unwrap(),
            refusal
        );
        // The wire tag is the stable code clients already know.
        for r in [
            BidRejection::NotOpen,
            BidRejection::Ended,
            BidRejection::AlreadyLeading,
        ] {
            let json = serde_json::to_value(r).unwrap();
            assert_eq!(json["code"], r.code());
        }
        let bid = BidRequest::plain(UserId::new(3), Krw::new(20_000));
        let json = serde_json::to_string(&bid).unwrap();
        assert_eq!(json, r#"{"bidder_id":3,"amount":20000,"max":null}"#);
        assert_eq!(serde_json::from_str::<BidRequest>(&json).unwrap(), bid);
        let proxy = BidRequest::proxy(UserId::new(3), None, Krw::new(50_000));
        let json = serde_json::to_string(&proxy).unwrap();
        assert_eq!(json, r#"{"bidder_id":3,"amount":null,"max":50000}"#);
        assert_eq!(serde_json::from_str::<BidRequest>(&json).unwrap(), proxy);
    }
}
