//! Typed row ids. Each wraps the database's `BIGINT` id; none converts into
//! another, so arguments cannot be swapped.

/// Declares an id newtype with its conversions (and, behind features, serde
/// and diesel support as a plain integer).
macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
        #[cfg_attr(feature = "serde", serde(transparent))]
        #[cfg_attr(feature = "diesel", derive(diesel::expression::AsExpression, diesel::deserialize::FromSqlRow))]
        #[cfg_attr(feature = "diesel", diesel(sql_type = diesel::sql_types::BigInt))]
        pub struct $name(i64);

        impl $name {
            /// Wraps a raw id.
            pub const fn new(id: i64) -> Self {
                Self(id)
            }

            /// The raw id.
            pub const fn get(self) -> i64 {
                self.0
            }
        }

        impl From<i64> for $name {
            fn from(id: i64) -> Self {
                Self(id)
            }
        }

        impl From<$name> for i64 {
            fn from(id: $name) -> i64 {
                id.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = std::num::ParseIntError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.parse().map(Self)
            }
        }

        #[cfg(feature = "diesel")]
        crate::money::bigint_sql!($name);
    };
}

id_type!(
    /// An account.
    UserId
);
id_type!(
    /// An auction (also its room: a room is named by its auction's id).
    AuctionId
);
id_type!(
    /// A coffee-grounds pickup request (supply offer or demand request).
    PickupId
);
id_type!(
    /// A row of an auction's bid history.
    BidId
);
id_type!(
    /// A sold auction's way from the hammer to the handover.
    SaleId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_text_and_integers() {
        let id: AuctionId = "42".parse().unwrap();
        assert_eq!(id, AuctionId::new(42));
        assert_eq!(i64::from(id), 42);
        assert_eq!(UserId::from(7).to_string(), "7");
        assert!("x".parse::<PickupId>().is_err());
    }

    #[cfg(feature = "serde")]
    #[test]
    fn ids_serialize_as_plain_integers() {
        assert_eq!(serde_json::to_string(&UserId::new(5)).unwrap(), "5");
        let id: BidId = serde_json::from_str("9").unwrap();
        assert_eq!(id, BidId::new(9));
    }
}
