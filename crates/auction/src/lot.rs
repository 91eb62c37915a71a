//! What a listing says about its catch, and how the buyer can get it.
//!
//! ```
//! use chrono::{Duration, Utc};
//! use sitga_auction::{DeliveryInput, Lot, LotInput, Storage};
//!
//! let now = Utc::now();
//! let lot = Lot::parse(
//!     &LotInput {
//!         weight_g: Some(2_400),
//!         length_cm: Some(48),
//!         caught_at: Some(now - Duration::hours(3)),
//!         catch_area: Some("제주 서귀포 갯바위"),
//!         catch_province: Some("jeju"),
//!         storage: Some("iced"),
//!         delivery: Some(DeliveryInput {
//!             pickup: Some(("jeju", "서귀포항 2번 부두")),
//!             courier_fee: Some(5_000),
//!         }),
//!     },
//!     now,
//! )?;
//! assert_eq!(lot.storage, Some(Storage::Iced));
//! assert!(lot.delivery.is_some_and(|d| d.pickup.is_some() && d.courier_fee.is_some()));
//! # Ok::<(), sitga_core::FieldError>(())
//! ```

use chrono::{DateTime, Duration, Utc};
use sitga_core::{FieldError, Krw, Province};

/// Heaviest catch a lot may declare: 500 kg (a bluefin tuna).
pub const MAX_WEIGHT_G: i64 = 500_000;
/// Longest catch a lot may declare, in centimetres.
pub const MAX_LENGTH_CM: i64 = 500;
/// Longest catch area or pickup place text.
pub const PLACE_MAX: usize = 100;
/// Highest courier fee a seller may ask (KRW).
pub const MAX_COURIER_FEE: i64 = 100_000;
/// How long ago a catch may have been caught to be sold fresh.
pub const MAX_CATCH_AGE: Duration = Duration::days(7);
/// How far ahead of the server a phone's clock may run.
const CLOCK_SKEW: Duration = Duration::minutes(5);

/// How the fish is kept until the handover.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Storage {
    /// Alive, in water.
    Live,
    /// On ice.
    Iced,
    /// Frozen.
    Frozen,
}

impl Storage {
    /// Every kind.
    pub const ALL: [Storage; 3] = [Storage::Live, Storage::Iced, Storage::Frozen];

    /// The stable code (`live`, `iced`, `frozen`).
    pub fn code(self) -> &'static str {
        match self {
            Storage::Live => "live",
            Storage::Iced => "iced",
            Storage::Frozen => "frozen",
        }
    }

    /// The kind a code names.
    pub fn parse(code: &str) -> Option<Storage> {
        Storage::ALL.into_iter().find(|s| s.code() == code)
    }
}

/// Where the catch was caught.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatchArea {
    /// In the angler's words ("제주 서귀포 갯바위").
    pub text: String,
    /// The province, when given.
    pub province: Option<Province>,
}

/// Where the buyer may collect the fish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PickupPoint {
    /// Province.
    pub province: Province,
    /// The place ("서귀포항 2번 부두").
    pub place: String,
}

/// How the buyer can get the fish: pickup, courier, or either.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Delivery {
    /// Collecting it in person.
    pub pickup: Option<PickupPoint>,
    /// Sending it by courier, at this fee (KRW, paid by the buyer).
    pub courier_fee: Option<Krw>,
}

/// A lot's catch facts and delivery options, each optional (a listing
/// without them is still a listing), each checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lot {
    /// Weight in grams.
    pub weight_g: Option<i64>,
    /// Length in centimetres.
    pub length_cm: Option<i64>,
    /// When it was caught.
    pub caught_at: Option<DateTime<Utc>>,
    /// Where it was caught.
    pub catch_area: Option<CatchArea>,
    /// How it is kept.
    pub storage: Option<Storage>,
    /// How the buyer gets it.
    pub delivery: Option<Delivery>,
}

/// A lot as given, before its rules are checked.
#[derive(Debug, Clone, Copy, Default)]
pub struct LotInput<'a> {
    /// Weight in grams.
    pub weight_g: Option<i64>,
    /// Length in centimetres.
    pub length_cm: Option<i64>,
    /// When it was caught.
    pub caught_at: Option<DateTime<Utc>>,
    /// Where it was caught (text).
    pub catch_area: Option<&'a str>,
    /// Province code of the catch area.
    pub catch_province: Option<&'a str>,
    /// `live`, `iced` or `frozen`.
    pub storage: Option<&'a str>,
    /// How the buyer gets it, when the seller says.
    pub delivery: Option<DeliveryInput<'a>>,
}

/// Delivery options as given: a given delivery must offer one of them.
#[derive(Debug, Clone, Copy, Default)]
pub struct DeliveryInput<'a> {
    /// Pickup offered: `(province code, place)`.
    pub pickup: Option<(&'a str, &'a str)>,
    /// Courier offered at this fee.
    pub courier_fee: Option<i64>,
}

fn within(
    field: &'static str,
    value: Option<i64>,
    max: i64,
    unit: &str,
) -> Result<Option<i64>, FieldError> {
    match value {
        Some(v) if !(1..=max).contains(&v) => {
            Err(FieldError::new(field, format!("must be 1 to {max} {unit}")))
        }
        v => Ok(v),
    }
}

fn place(field: &'static str, raw: &str) -> Result<String, FieldError> {
    let text = raw.trim();
    let len = text.chars().count();
    if len == 0 || len > PLACE_MAX || text.chars().any(char::is_control) {
        return Err(FieldError::new(
            field,
            format!("must be 1 to {PLACE_MAX} characters on one line"),
        ));
    }
    Ok(text.to_owned())
}

fn province(field: &'static str, code: &str) -> Result<Province, FieldError> {
    Province::parse(code)
        .map_err(|_| FieldError::new(field, "must be a province code such as `jeju`"))
}

impl Lot {
    /// Checks `input` at `now`: weight 1 g–500 kg, length 1–500 cm, caught
    /// not in the future (5 minutes of clock skew allowed) and at most 7
    /// days ago, texts of 1–100 characters, a known storage and province,
    /// a courier fee of 0–100,000 won. A time out of range is
    /// [`FieldError::inconsistent`] (valid alone, wrong for now).
    pub fn parse(input: &LotInput<'_>, now: DateTime<Utc>) -> Result<Lot, FieldError> {
        let caught_at = match input.caught_at {
            Some(at) if at > now + CLOCK_SKEW => {
                return Err(FieldError::inconsistent(
                    "caught_at",
                    "must not be in the future",
                ));
            }
            Some(at) if at < now - MAX_CATCH_AGE => {
                return Err(FieldError::inconsistent(
                    "caught_at",
                    "must be at most 7 days ago: older fish is not sold here",
                ));
            }
            at => at,
        };
        let catch_area = match (input.catch_area, input.catch_province) {
            (None, None) => None,
            (None, Some(_)) => {
                return Err(FieldError::inconsistent(
                    "catch_province",
                    "give catch_area with it",
                ));
            }
            (Some(text), code) => Some(CatchArea {
                text: place("catch_area", text)?,
                province: code.map(|c| province("catch_province", c)).transpose()?,
            }),
        };
        let storage = input
            .storage
            .map(|s| {
                Storage::parse(s)
                    .ok_or_else(|| FieldError::new("storage", "must be live, iced or frozen"))
            })
            .transpose()?;
        let given = input.delivery.unwrap_or_default();
        if input.delivery.is_some() && given.pickup.is_none() && given.courier_fee.is_none() {
            return Err(FieldError::new(
                "delivery",
                "must offer pickup, courier or both",
            ));
        }
        let pickup = given
            .pickup
            .map(|(code, at)| {
                Ok::<_, FieldError>(PickupPoint {
                    province: province("delivery.pickup.province", code)?,
                    place: place("delivery.pickup.place", at)?,
                })
            })
            .transpose()?;
        let courier_fee = match given.courier_fee {
            Some(fee) if !(0..=MAX_COURIER_FEE).contains(&fee) => {
                return Err(FieldError::new(
                    "delivery.courier.fee",
                    format!("must be 0 to {MAX_COURIER_FEE} won"),
                ));
            }
            fee => fee.map(Krw::new),
        };
        Ok(Lot {
            weight_g: within("weight_g", input.weight_g, MAX_WEIGHT_G, "grams")?,
            length_cm: within("length_cm", input.length_cm, MAX_LENGTH_CM, "centimetres")?,
            caught_at,
            catch_area,
            storage,
            delivery: (pickup.is_some() || courier_fee.is_some()).then_some(Delivery {
                pickup,
                courier_fee,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(input: LotInput<'_>) -> Result<Lot, FieldError> {
        Lot::parse(&input, Utc::now())
    }

    #[test]
    fn an_empty_lot_is_a_lot() {
        assert_eq!(parse(LotInput::default()), Ok(Lot::default()));
    }

    #[test]
    fn each_fact_breaks_its_own_rule() {
        let now = Utc::now();
        let cases: Vec<(LotInput<'_>, &str, bool)> = vec![
            (
                LotInput {
                    weight_g: Some(0),
                    ..Default::default()
                },
                "weight_g",
                false,
            ),
            (
                LotInput {
                    weight_g: Some(MAX_WEIGHT_G + 1),
                    ..Default::default()
                },
                "weight_g",
                false,
            ),
            (
                LotInput {
                    length_cm: Some(-3),
                    ..Default::default()
                },
                "length_cm",
                false,
            ),
            (
                LotInput {
                    caught_at: Some(now + Duration::hours(1)),
                    ..Default::default()
                },
                "caught_at",
                true,
            ),
            (
                LotInput {
                    caught_at: Some(now - Duration::days(8)),
                    ..Default::default()
                },
                "caught_at",
                true,
            ),
            (
                LotInput {
                    catch_area: Some("  "),
                    ..Default::default()
                },
                "catch_area",
                false,
            ),
            (
                LotInput {
                    catch_area: Some("바다"),
                    catch_province: Some("atlantis"),
                    ..Default::default()
                },
                "catch_province",
                false,
            ),
            (
                LotInput {
                    catch_province: Some("jeju"),
                    ..Default::default()
                },
                "catch_province",
                true,
            ),
            (
                LotInput {
                    storage: Some("smoked"),
                    ..Default::default()
                },
                "storage",
                false,
            ),
            (
                LotInput {
                    delivery: Some(DeliveryInput {
                        pickup: Some(("busan", "")),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                "delivery.pickup.place",
                false,
            ),
            (
                LotInput {
                    delivery: Some(DeliveryInput {
                        pickup: Some(("mars", "항구")),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                "delivery.pickup.province",
                false,
            ),
            (
                LotInput {
                    delivery: Some(DeliveryInput {
                        courier_fee: Some(-1),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                "delivery.courier.fee",
                false,
            ),
            (
                LotInput {
                    delivery: Some(DeliveryInput {
                        courier_fee: Some(MAX_COURIER_FEE + 1),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                "delivery.courier.fee",
                false,
            ),
            (
                LotInput {
                    delivery: Some(DeliveryInput::default()),
                    ..Default::default()
                },
                "delivery",
                false,
            ),
        ];
        for (input, field, inconsistent) in cases {
            let e = Lot::parse(&input, now).unwrap_err();
            assert_eq!(
                (e.field, e.inconsistent),
                (field, inconsistent),
                "{input:?}: {e}"
            );
        }
    }

    #[test]
    fn edges_are_accepted() {
        let now = Utc::now();
        let lot = Lot::parse(
            &LotInput {
                weight_g: Some(MAX_WEIGHT_G),
                length_cm: Some(1),
                caught_at: Some(now - MAX_CATCH_AGE + Duration::seconds(1)),
                catch_area: Some(&"가".repeat(PLACE_MAX)),
                delivery: Some(DeliveryInput {
                    courier_fee: Some(0),
                    ..Default::default()
                }),
                ..Default::default()
            },
            now,
        )
        .unwrap();
        assert_eq!(
            lot.delivery,
            Some(Delivery {
                pickup: None,
                courier_fee: Some(Krw::new(0))
            })
        );
        assert_eq!(lot.catch_area.unwrap().province, None);
        // A phone a minute ahead is not refused.
        assert!(
            parse(LotInput {
                caught_at: Some(now + Duration::minutes(1)),
                ..Default::default()
            })
            .is_ok()
        );
        for storage in Storage::ALL {
            assert_eq!(Storage::parse(storage.code()), Some(storage));
        }
    }
}
