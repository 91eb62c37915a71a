//! Badge rules for sitga: the catalogue and the conditions that award a
//! badge, as plain functions with no web or database code.
//!
//! This crate is filled by the coffee-grounds issue; until then it holds no
//! rules (and pretends to none).
