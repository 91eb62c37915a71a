//! Coffee-grounds pickup rules for sitga: amounts, the pickup lifecycle and
//! the supply/demand series, as plain functions with no web or database code.
//!
//! This crate is filled by the coffee-grounds issue; until then it holds no
//! rules (and pretends to none).
