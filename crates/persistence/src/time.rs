//! Time columns are stored as UTC without a zone (MySQL `DATETIME(6)`,
//! SQLite text), with microsecond precision on both.

use chrono::{DateTime, NaiveDateTime, SubsecRound, Utc};

/// Now, truncated to what both backends store, so a value read back equals
/// the value written.
pub(crate) fn now() -> NaiveDateTime {
    Utc::now().naive_utc().trunc_subsecs(6)
}

/// A stored column value as a UTC instant.
pub(crate) fn utc(naive: NaiveDateTime) -> DateTime<Utc> {
    naive.and_utc()
}

/// A UTC instant in the stored form.
pub(crate) fn naive(at: DateTime<Utc>) -> NaiveDateTime {
    at.naive_utc().trunc_subsecs(6)
}
