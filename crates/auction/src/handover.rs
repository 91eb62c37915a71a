//! What the two sides of a sale type in on the way to the handover: the
//! buyer's delivery address, the seller's shipment, the pickup's handover
//! code, a dispute's report and the ratings after it. Each parsed once,
//! here; a value of these types is valid.

use sitga_core::FieldError;

/// Longest comment on a rating, in characters.
pub const RATING_COMMENT_MAX: usize = 300;
/// Most photos a dispute may show.
pub const MAX_DISPUTE_PHOTOS: usize = 4;
/// Longest dispute reason, in characters.
pub const DISPUTE_REASON_MAX: usize = 1_000;
/// Longest recipient or courier name, in characters.
pub const SALE_NAME_MAX: usize = 50;
/// Longest address line, in characters.
pub const ADDRESS_LINE_MAX: usize = 200;

/// Prose may break lines and indent; no other control character.
fn is_forbidden_in_prose(c: char) -> bool {
    c.is_control() && !matches!(c, '\n' | '\r' | '\t')
}

/// One line of 1 to `max` characters, trimmed, without control characters.
fn line(field: &'static str, raw: &str, max: usize) -> Result<String, FieldError> {
    let text = raw.trim();
    let len = text.chars().count();
    if len == 0 || len > max || text.chars().any(char::is_control) {
        return Err(FieldError::new(
            field,
            format!("must be 1 to {max} characters on one line"),
        ));
    }
    Ok(text.to_owned())
}

/// Where a courier takes the fish. Shown to the seller only, and only
/// until [`crate::ADDRESS_RETENTION`] after the sale ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryAddress {
    /// Who receives it.
    pub recipient: String,
    /// A Korean phone number, digits only (`01012345678`).
    pub phone: String,
    /// The five-digit postcode (우편번호).
    pub postcode: String,
    /// Street address.
    pub line1: String,
    /// Building, floor, unit.
    pub line2: Option<String>,
}

impl DeliveryAddress {
    /// Checks each part: a recipient of 1–50 characters; a phone number of
    /// 9–11 digits starting with 0 (hyphens and spaces are dropped); a
    /// five-digit postcode; address lines of 1–200 characters.
    pub fn parse(
        recipient: &str,
        phone: &str,
        postcode: &str,
        line1: &str,
        line2: Option<&str>,
    ) -> Result<DeliveryAddress, FieldError> {
        let recipient = line("address.recipient", recipient, SALE_NAME_MAX)?;
        let digits: String = phone.chars().filter(|c| *c != '-' && *c != ' ').collect();
        if !(9..=11).contains(&digits.len())
            || !digits.starts_with('0')
            || !digits.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(FieldError::new(
                "address.phone",
                "must be a Korean phone number such as 010-1234-5678",
            ));
        }
        let postcode = postcode.trim();
        if postcode.len() != 5 || !postcode.bytes().all(|b| b.is_ascii_digit()) {
            return Err(FieldError::new(
                "address.postcode",
                "must be a five-digit postcode such as 63122",
            ));
        }
        let line1 = line("address.line1", line1, ADDRESS_LINE_MAX)?;
        let line2 = match line2.map(str::trim) {
            None | Some("") => None,
            Some(text) => Some(line("address.line2", text, ADDRESS_LINE_MAX)?),
        };
        Ok(DeliveryAddress {
            recipient,
            phone: digits,
            postcode: postcode.to_owned(),
            line1,
            line2,
        })
    }
}

/// A parcel handed to a courier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shipment {
    /// The courier's name (`CJ대한통운`).
    pub courier: String,
    /// Its tracking number: 6–30 letters, digits or hyphens.
    pub tracking_number: String,
}

impl Shipment {
    /// Checks a courier name of 1–50 characters and a tracking number.
    pub fn parse(courier: &str, tracking_number: &str) -> Result<Shipment, FieldError> {
        let courier = line("courier", courier, SALE_NAME_MAX)?;
        let number = tracking_number.trim();
        if !(6..=30).contains(&number.len())
            || !number
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(FieldError::new(
                "tracking_number",
                "must be 6 to 30 letters, digits or hyphens",
            ));
        }
        Ok(Shipment {
            courier,
            tracking_number: number.to_owned(),
        })
    }
}

/// The six digits the buyer shows the seller at a pickup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandoverCode(String);

impl HandoverCode {
    /// The code for a number drawn at random (only its last six decimal
    /// digits count).
    pub fn from_number(n: u32) -> HandoverCode {
        HandoverCode(format!("{:06}", n % 1_000_000))
    }

    /// Six ASCII digits (surrounding spaces are dropped).
    pub fn parse(raw: &str) -> Result<HandoverCode, FieldError> {
        let code = raw.trim();
        if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(FieldError::new("code", "must be the buyer's six digits"));
        }
        Ok(HandoverCode(code.to_owned()))
    }

    /// The digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What the buyer says went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisputeReport {
    /// In the buyer's words, 1–1,000 characters (several lines allowed).
    pub reason: String,
    /// The buyer's photos of it, at most [`MAX_DISPUTE_PHOTOS`], each once.
    pub photo_ids: Vec<String>,
}

impl DisputeReport {
    /// Checks the reason's length and the photos' count and uniqueness
    /// (whose photos they are is the caller's to check).
    pub fn parse(reason: &str, photo_ids: &[String]) -> Result<DisputeReport, FieldError> {
        let reason = reason.trim();
        let len = reason.chars().count();
        if len == 0 || len > DISPUTE_REASON_MAX || reason.chars().any(is_forbidden_in_prose) {
            return Err(FieldError::new(
                "reason",
                format!("must be 1 to {DISPUTE_REASON_MAX} characters"),
            ));
        }
        if photo_ids.len() > MAX_DISPUTE_PHOTOS {
            return Err(FieldError::new(
                "photo_ids",
                format!("at most {MAX_DISPUTE_PHOTOS} photos"),
            ));
        }
        let mut seen = std::collections::HashSet::new();
        if !photo_ids.iter().all(|id| seen.insert(id.as_str())) {
            return Err(FieldError::new("photo_ids", "each photo at most once"));
        }
        Ok(DisputeReport {
            reason: reason.to_owned(),
            photo_ids: photo_ids.to_vec(),
        })
    }
}

/// One side's rating of the other after a settled sale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rating {
    /// 1 (bad) to 5 (excellent).
    pub stars: u8,
    /// Up to [`RATING_COMMENT_MAX`] characters; empty is none.
    pub comment: Option<String>,
}

impl Rating {
    /// Checks the stars and the comment's length.
    pub fn parse(stars: i64, comment: Option<&str>) -> Result<Rating, FieldError> {
        let stars = u8::try_from(stars)
            .ok()
            .filter(|s| (1..=5).contains(s))
            .ok_or_else(|| FieldError::new("stars", "must be 1 to 5"))?;
        let comment = match comment.map(str::trim) {
            None | Some("") => None,
            Some(text) => {
                if text.chars().count() > RATING_COMMENT_MAX
                    || text.chars().any(is_forbidden_in_prose)
                {
                    return Err(FieldError::new(
                        "comment",
                        format!("must be at most {RATING_COMMENT_MAX} characters"),
                    ));
                }
                Some(text.to_owned())
            }
        };
        Ok(Rating { stars, comment })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_normalised_or_refused_by_part() {
        let ok = DeliveryAddress::parse(
            " 김민수 ",
            "010-1234-5678",
            "63122",
            "제주시 첨단로 242",
            Some(" "),
        )
        .unwrap();
        assert_eq!(ok.phone, "01012345678");
        assert_eq!(ok.recipient, "김민수");
        assert_eq!(ok.line2, None);
        let field = |r: Result<DeliveryAddress, FieldError>| r.unwrap_err().field;
        assert_eq!(
            field(DeliveryAddress::parse(
                "",
                "01012345678",
                "63122",
                "a",
                None
            )),
            "address.recipient"
        );
        for phone in ["1012345678", "010-12", "010-1234-567a", "010123456789"] {
            assert_eq!(
                field(DeliveryAddress::parse("a", phone, "63122", "a", None)),
                "address.phone",
                "{phone}"
            );
        }
        for postcode in ["6312", "631222", "6312a"] {
            assert_eq!(
                field(DeliveryAddress::parse(
                    "a",
                    "01012345678",
                    postcode,
                    "a",
                    None
                )),
                "address.postcode"
            );
        }
        assert_eq!(
            field(DeliveryAddress::parse(
                "a",
                "01012345678",
                "63122",
                "a\nb",
                None
            )),
            "address.line1"
        );
    }

    #[test]
    fn shipments_codes_disputes_and_ratings_check_their_parts() {
        assert!(Shipment::parse("CJ대한통운", "6012-3456-7890").is_ok());
        assert_eq!(
            Shipment::parse("CJ", "12345").unwrap_err().field,
            "tracking_number"
        );
        assert_eq!(Shipment::parse(" ", "123456").unwrap_err().field, "courier");
        assert_eq!(HandoverCode::from_number(42).as_str(), "000042");
        assert_eq!(HandoverCode::from_number(1_234_567).as_str(), "234567");
        assert!(HandoverCode::parse(" 004211 ").is_ok());
        for bad in ["12345", "1234567", "12a456", "１２３４５６"] {
            assert!(HandoverCode::parse(bad).is_err(), "{bad}");
        }
        let ids: Vec<String> = (0..5).map(|i| format!("{i:032x}")).collect();
        assert!(DisputeReport::parse("상했어요\n냄새가 납니다", &ids[..4]).is_ok());
        assert_eq!(
            DisputeReport::parse("x", &ids).unwrap_err().field,
            "photo_ids"
        );
        assert_eq!(
            DisputeReport::parse("x", &[ids[0].clone(), ids[0].clone()])
                .unwrap_err()
                .field,
            "photo_ids"
        );
        assert_eq!(DisputeReport::parse(" ", &[]).unwrap_err().field, "reason");
        assert_eq!(Rating::parse(5, Some("  ")).unwrap().comment, None);
        assert_eq!(Rating::parse(0, None).unwrap_err().field, "stars");
        assert_eq!(Rating::parse(6, None).unwrap_err().field, "stars");
        assert_eq!(
            Rating::parse(3, Some(&"가".repeat(301))).unwrap_err().field,
            "comment"
        );
        assert!(Rating::parse(3, Some(&"가".repeat(300))).is_ok());
    }
}
