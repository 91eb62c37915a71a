//! Seven-day supply and demand forecasts for sitga (Prophet via `augurs`).
//!
//! This crate is filled by the forecasting issue; until then it makes no
//! forecast (and pretends to none).
