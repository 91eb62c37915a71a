//! Fish-auction rules for sitga: bid validity, soft close, chat bids and
//! settlement, as plain functions with no web or database code.
//!
//! This crate is filled by the auctions issue; until then it holds no rules
//! (and pretends to none).
