//! A soft-close window as whole seconds on the wire (chrono's `Duration`
//! has no serde support of its own).

use chrono::Duration;
use serde::{Deserialize, Deserializer, Serializer};

pub(crate) fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_i64(value.num_seconds())
}

pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Duration, D::Error> {
    let seconds = i64::deserialize(deserializer)?;
    Duration::try_seconds(seconds)
        .ok_or_else(|| serde::de::Error::custom("soft close out of range"))
}
