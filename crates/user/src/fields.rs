//! Parsed account fields.

use std::fmt;

use unicode_normalization::UnicodeNormalization;
use unicode_security::{GeneralSecurityProfile, RestrictionLevel, RestrictionLevelDetection};

use crate::FieldError;

/// The length limits of the account fields (characters after trimming,
/// bytes for the e-mail), public so the API document states the same ones.
pub mod limits {
    /// Longest e-mail address a mail system accepts (RFC 5321 path limit).
    pub const EMAIL_MAX: usize = 254;
    /// Shortest nickname.
    pub const NICKNAME_MIN: usize = 2;
    /// Longest nickname.
    pub const NICKNAME_MAX: usize = 20;
    /// Shortest password.
    pub const PASSWORD_MIN: usize = 8;
    /// Longest password.
    pub const PASSWORD_MAX: usize = 128;
    /// Longest real name.
    pub const NAME_MAX: usize = 50;
    /// Longest postal address.
    pub const ADDRESS_MAX: usize = 200;
    /// Longest bank account description.
    pub const BANK_ACCOUNT_MAX: usize = 100;
    /// Fewest digits in a phone number.
    pub const PHONE_DIGITS_MIN: usize = 7;
    /// Longest phone number.
    pub const PHONE_MAX: usize = 20;
    /// Longest business name.
    pub const BUSINESS_NAME_MAX: usize = 100;
    /// Digits in a business registration number (사업자등록번호).
    pub const BUSINESS_NUMBER_DIGITS: usize = 10;
}

use limits::*;

/// Trims, NFC-normalises and rejects control characters: the common
/// treatment of every free-text field.
fn clean_text(field: &'static str, raw: &str) -> Result<String, FieldError> {
    let text: String = raw.trim().nfc().collect();
    if text.chars().any(char::is_control) {
        return Err(FieldError::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(text)
}

fn check_length(field: &'static str, text: &str, min: usize, max: usize) -> Result<(), FieldError> {
    let len = text.chars().count();
    if len < min || len > max {
        return Err(FieldError::new(
            field,
            format!("must be {min} to {max} characters long (got {len})"),
        ));
    }
    Ok(())
}

macro_rules! string_newtype {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, Hash)]
        #[cfg_attr(feature = "serde", derive(serde::Serialize))]
        #[cfg_attr(feature = "serde", serde(transparent))]
        pub struct $name(String);

        impl $name {
            /// The normalised value.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// Takes the normalised value out.
            pub fn into_inner(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.0, f)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

string_newtype!(
    /// A syntactically valid e-mail address, trimmed and lower-cased.
    ///
    /// ```
    /// # use sitga_user::Email;
    /// assert!(Email::parse("cafe@example.com").is_ok());
    /// assert!(Email::parse("not an email").is_err());
    /// ```
    Email
);

impl Email {
    /// Parses an address; the whole address is lower-cased so that
    /// `A@x.com` and `a@x.com` are one account.
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        const FIELD: &str = "email";
        let text = raw.trim().to_lowercase();
        if text.is_empty() {
            return Err(FieldError::new(FIELD, "must not be empty"));
        }
        if text.len() > EMAIL_MAX {
            return Err(FieldError::new(
                FIELD,
                format!("must be at most {EMAIL_MAX} bytes long"),
            ));
        }
        let parsed = email_address::EmailAddress::parse_with_options(
            &text,
            email_address::Options::default()
                .without_display_text()
                .without_domain_literal(),
        )
        .map_err(|e| FieldError::new(FIELD, format!("is not a valid address ({e})")))?;
        // A bare host ("a@localhost") is legal in RFC 5322 but never a real
        // mailbox people sign up with.
        if !parsed.domain().contains('.') {
            return Err(FieldError::new(
                FIELD,
                "is not a valid address (the domain needs a dot)",
            ));
        }
        Ok(Self(text))
    }
}

string_newtype!(
    /// A public display name: 2–20 letters or digits of any script (Hangul
    /// included) plus `_`, `-` and `.`. NFKC-normalised, so composed and
    /// decomposed Hangul, or full-width and plain Latin, are the same
    /// nickname; characters Unicode restricts in identifiers (the invisible
    /// Hangul filler U+3164, zero-width and bidi controls, …) and mixes of
    /// scripts no language uses together (Latin with Cyrillic, say) are
    /// refused, and two nicknames that look alike share one [`Nickname::key`].
    ///
    /// ```
    /// # use sitga_user::Nickname;
    /// assert!(Nickname::parse("감성돔_킬러").is_ok());
    /// assert!(Nickname::parse("a").is_err());
    /// assert!(Nickname::parse("🐟🐟").is_err());
    /// assert!(Nickname::parse("김셰프\u{3164}").is_err());
    /// assert_eq!(
    ///     Nickname::parse("paypa1").unwrap().key(),
    ///     Nickname::parse("PayPal").unwrap().key()
    /// );
    /// ```
    Nickname
);

/// The version of [`nickname_key`]: stored with each key, so keys made by
/// an older rule can be recomputed.
pub const NICKNAME_KEY_VERSION: i16 = 2;

/// Longest key a nickname may have (the column's size); a 20-character
/// nickname of ordinary letters stays far below it.
const NICKNAME_KEY_MAX: usize = 255;

/// The key two nicknames collide on: the Unicode confusable skeleton
/// (UTS #39) of the case-folded text, case-folded again, so `Kim`, `KIM`,
/// `ｋｉｍ`, `paypal` and `paypa1` cannot all be different people. Works on
/// any stored text, including nicknames from before today's rules.
pub fn nickname_key(text: &str) -> String {
    let folded: String = text.nfkc().collect::<String>().to_lowercase();
    unicode_security::skeleton(&folded)
        .collect::<String>()
        .to_lowercase()
}

impl Nickname {
    /// Parses a nickname.
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        const FIELD: &str = "nickname";
        let text: String = raw.trim().nfkc().collect();
        if let Some(bad) = text
            .chars()
            .find(|c| c.is_control() || !(c.identifier_allowed() || matches!(c, '_' | '-' | '.')))
        {
            let message = format!(
                "may only contain letters, digits, '_', '-' and '.'; invisible, control and \
                 look-alike characters are refused (found U+{:04X})",
                u32::from(bad)
            );
            return Err(FieldError::new(FIELD, message));
        }
        check_length(FIELD, &text, NICKNAME_MIN, NICKNAME_MAX)?;
        if let Some(bad) = text
            .chars()
            .find(|c| !(c.is_alphanumeric() || matches!(c, '_' | '-' | '.')))
        {
            return Err(FieldError::new(
                FIELD,
                format!("may only contain letters, digits, '_', '-' and '.' (found {bad:?})"),
            ));
        }
        // Latin with Hangul and Han (Korean), or with Han and kana
        // (Japanese), is how people write; Latin with Cyrillic or Greek is
        // how impostors do.
        if text.detect_restriction_level() > RestrictionLevel::HighlyRestrictive {
            return Err(FieldError::new(
                FIELD,
                "mixes scripts that look alike (e.g. Latin with Cyrillic); write it in one script",
            ));
        }
        if nickname_key(&text).chars().count() > NICKNAME_KEY_MAX {
            return Err(FieldError::new(FIELD, "uses too many composed characters"));
        }
        Ok(Self(text))
    }

    /// The key two nicknames collide on (see [`nickname_key`]).
    pub fn key(&self) -> String {
        nickname_key(&self.0)
    }
}

/// A password as typed: 8–128 characters. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// Parses a password. It is not trimmed: spaces are part of it.
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        const FIELD: &str = "password";
        let len = raw.chars().count();
        if !(PASSWORD_MIN..=PASSWORD_MAX).contains(&len) {
            return Err(FieldError::new(
                FIELD,
                format!("must be {PASSWORD_MIN} to {PASSWORD_MAX} characters long"),
            ));
        }
        if raw.chars().any(|c| c == '\0') {
            return Err(FieldError::new(FIELD, "must not contain NUL"));
        }
        Ok(Self(raw.to_owned()))
    }

    /// The secret, for hashing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

string_newtype!(
    /// A person's or business's real name (1–50 characters).
    PersonName
);

impl PersonName {
    /// Parses a name.
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let text = clean_text("name", raw)?;
        check_length("name", &text, 1, NAME_MAX)?;
        Ok(Self(text))
    }
}

string_newtype!(
    /// A phone number: digits with optional `+`, spaces, dashes and
    /// parentheses, 7–20 characters, at least 7 digits.
    Phone
);

impl Phone {
    /// Parses a phone number.
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        const FIELD: &str = "phone";
        let text = clean_text(FIELD, raw)?;
        check_length(FIELD, &text, PHONE_DIGITS_MIN, PHONE_MAX)?;
        let ok_chars = text.chars().enumerate().all(|(i, c)| {
            c.is_ascii_digit() || matches!(c, ' ' | '-' | '(' | ')') || (c == '+' && i == 0)
        });
        let digits = text.chars().filter(char::is_ascii_digit).count();
        if !ok_chars || digits < PHONE_DIGITS_MIN {
            return Err(FieldError::new(
                FIELD,
                "must be a phone number such as 010-1234-5678",
            ));
        }
        Ok(Self(text))
    }
}

string_newtype!(
    /// A postal address (1–200 characters).
    Address
);

impl Address {
    /// Parses an address.
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let text = clean_text("address", raw)?;
        check_length("address", &text, 1, ADDRESS_MAX)?;
        Ok(Self(text))
    }
}

string_newtype!(
    /// Where a seller is paid: bank name and number as free text (1–100
    /// characters).
    BankAccount
);

impl BankAccount {
    /// Parses a bank account description.
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let text = clean_text("bank_account", raw)?;
        check_length("bank_account", &text, 1, BANK_ACCOUNT_MAX)?;
        Ok(Self(text))
    }
}

string_newtype!(
    /// A business's registered name (1–100 characters).
    BusinessName
);

impl BusinessName {
    /// Parses a business name.
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let text = clean_text("business_name", raw)?;
        check_length("business_name", &text, 1, BUSINESS_NAME_MAX)?;
        Ok(Self(text))
    }
}

string_newtype!(
    /// A Korean business registration number (사업자등록번호): ten digits
    /// whose last is the check digit of the other nine. Held as the ten
    /// digits; shown as `XXX-XX-XXXXX`.
    BusinessNumber
);

/// Weights of the first nine digits in the check-digit sum.
const BUSINESS_NUMBER_WEIGHTS: [u32; 9] = [1, 3, 7, 1, 3, 7, 1, 3, 5];

/// The weighted sum of the first nine digits, plus the tens of the ninth
/// digit × 5 (at least nine digits given).
fn checksum(digits: &[u32]) -> u32 {
    let weighted: u32 = digits
        .iter()
        .zip(BUSINESS_NUMBER_WEIGHTS)
        .map(|(d, w)| d * w)
        .sum();
    weighted + digits.get(8).map_or(0, |d| d * 5 / 10)
}

impl BusinessNumber {
    /// Parses `116-82-00276` or `1168200276` (white space around it is
    /// ignored) and checks the check digit: the weighted sum of the first
    /// nine digits (weights 1 3 7 1 3 7 1 3 5), plus the tens of the ninth
    /// digit × 5, must leave `(10 − sum mod 10) mod 10` as the tenth.
    ///
    /// ```
    /// # use sitga_user::BusinessNumber;
    /// assert_eq!(BusinessNumber::parse("116-82-00276").unwrap().formatted(), "116-82-00276");
    /// assert!(BusinessNumber::parse("116-82-00277").is_err());
    /// ```
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        const FIELD: &str = "business_number";
        let trimmed = raw.trim();
        let grouped = trimmed.len() == 12
            && trimmed.char_indices().all(|(i, c)| match i {
                3 | 6 => c == '-',
                _ => c.is_ascii_digit(),
            });
        let bare =
            trimmed.len() == BUSINESS_NUMBER_DIGITS && trimmed.chars().all(|c| c.is_ascii_digit());
        if !(grouped || bare) {
            return Err(FieldError::new(
                FIELD,
                "must be the 10 digits of a business registration number, as 116-82-00276 or 1168200276",
            ));
        }
        let digits: Vec<u32> = trimmed.chars().filter_map(|c| c.to_digit(10)).collect();
        if (10 - checksum(&digits) % 10) % 10 != digits[9] {
            return Err(FieldError::new(
                FIELD,
                "is not a valid business registration number (its check digit does not match)",
            ));
        }
        Ok(Self(
            digits
                .iter()
                .filter_map(|d| char::from_digit(*d, 10))
                .collect(),
        ))
    }

    /// The valid number that begins with these nine digits (its check
    /// digit computed): fixtures and demo data.
    ///
    /// ```
    /// # use sitga_user::BusinessNumber;
    /// assert_eq!(BusinessNumber::completing("116820027").unwrap().formatted(), "116-82-00276");
    /// ```
    pub fn completing(first_nine: &str) -> Result<Self, FieldError> {
        let digits: Vec<u32> = first_nine.chars().filter_map(|c| c.to_digit(10)).collect();
        if digits.len() != 9 || first_nine.chars().count() != 9 {
            return Err(FieldError::new(
                "business_number",
                "must start with 9 digits",
            ));
        }
        let sum = checksum(&digits);
        let check = (10 - sum % 10) % 10;
        Self::parse(&format!("{first_nine}{check}"))
    }

    /// Wraps a stored value (ten digits, checked when it was stored).
    pub fn from_stored(digits: String) -> Self {
        Self(digits)
    }

    /// `XXX-XX-XXXXX`.
    pub fn formatted(&self) -> String {
        let d = &self.0;
        match (d.get(..3), d.get(3..5), d.get(5..)) {
            (Some(a), Some(b), Some(c)) => format!("{a}-{b}-{c}"),
            _ => d.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn business_numbers_are_checked_by_their_check_digit() {
        // The worked example of the reference: 1·1+1·3+6·7+8·1+2·3+0·7+0·1+2·3+7·5
        // = 101, + ⌊7·5/10⌋ = 104, (10 − 4) mod 10 = 6.
        for ok in ["116-82-00276", "1168200276", " 116-82-00276\t"] {
            let n = BusinessNumber::parse(ok).unwrap();
            assert_eq!(n.as_str(), "1168200276", "{ok:?}");
            assert_eq!(n.formatted(), "116-82-00276");
        }
        // Every other last digit fails.
        for last in (0..10).filter(|d| *d != 6) {
            let bad = format!("116820027{last}");
            assert_eq!(
                BusinessNumber::parse(&bad).unwrap_err().field,
                "business_number"
            );
        }
        // The ninth digit counts twice: 9 × 5 = 45, plus ⌊45/10⌋ = 4, so 49
        // and the check digit is 1 (5 if the second term were forgotten).
        assert!(BusinessNumber::parse("000-00-00091").is_ok());
        assert!(BusinessNumber::parse("000-00-00095").is_err());
        for garbage in [
            "",
            "116-82-0027",
            "116-82-002766",
            "116-82-0027a",
            "１１６-82-00276",
            "116/82/00276",
            "116 82 00276",
            "11-682-00276",
            "116-8200276",
        ] {
            assert!(BusinessNumber::parse(garbage).is_err(), "{garbage:?}");
        }
        assert!(BusinessName::parse("  카페 모래내 ").is_ok());
        assert!(BusinessName::parse(" ").is_err());
        assert!(BusinessName::parse(&"가".repeat(101)).is_err());
    }

    #[test]
    fn email_is_trimmed_and_lowercased() {
        assert_eq!(
            Email::parse(" Cafe.A@Company.COM ").unwrap().as_str(),
            "cafe.a@company.com"
        );
    }

    #[test]
    fn email_rejects_garbage() {
        for bad in [
            "",
            "   ",
            "plain",
            "@x.com",
            "a@",
            "a@localhost",
            "a b@x.com",
            "Name <a@x.com>",
            "a@[127.0.0.1]",
            "' OR 1=1 --@x.com",
        ] {
            let err = Email::parse(bad).unwrap_err();
            assert_eq!(err.field, "email", "{bad:?}");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(Email::parse(&long).is_err());
    }

    #[test]
    fn nickname_accepts_korean_and_latin() {
        for ok in ["낚시왕", "kim_01", "Jeju.Fisher", "a-b", "독가시치사냥꾼"] {
            assert!(Nickname::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn nickname_rejects_bad_input() {
        for bad in [
            "a",
            "",
            "  ",
            "🐟fish",
            "with space",
            "tab\tname",
            "robert'); DROP TABLE users;--",
            "이름이너무길어서스무자를넘어가버리는닉네임",
        ] {
            assert!(Nickname::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn nickname_composes_hangul() {
        // "한" written as decomposed jamo (U+1112 U+1161 U+11AB) and composed.
        let decomposed = "\u{1112}\u{1161}\u{11AB}글";
        let composed = "한글";
        assert_eq!(
            Nickname::parse(decomposed).unwrap(),
            Nickname::parse(composed).unwrap()
        );
    }

    #[test]
    fn nickname_refuses_invisible_and_direction_characters() {
        for bad in [
            "김셰프\u{3164}",   // Hangul filler: looks like nothing
            "\u{3164}\u{3164}", // a nickname of nothing at all
            "김셰\u{115F}프",   // Hangul choseong filler
            "kim\u{200B}bob",   // zero-width space
            "kim\u{200D}bob",   // zero-width joiner
            "\u{202E}bob_kim",  // right-to-left override
            "kim\u{2066}bob",   // left-to-right isolate
            "kim\u{FEFF}bob",   // byte-order mark
            "kim\u{00AD}bob",   // soft hyphen
        ] {
            let err = Nickname::parse(bad).unwrap_err();
            assert_eq!(err.field, "nickname", "{bad:?}");
        }
    }

    #[test]
    fn nickname_is_nfkc_normalised() {
        // Full-width Latin and digits are the plain ones.
        assert_eq!(Nickname::parse("ＫＩＭ０１").unwrap().as_str(), "KIM01");
        assert_eq!(
            Nickname::parse("ｋｉｍ").unwrap().key(),
            Nickname::parse("Kim").unwrap().key()
        );
    }

    #[test]
    fn nickname_refuses_impostor_script_mixes_but_not_korean_with_latin() {
        // "pаypal" with a Cyrillic а.
        assert!(Nickname::parse("p\u{0430}ypal").is_err());
        // Greek omicron inside a Latin name.
        assert!(Nickname::parse("b\u{03BF}b_kim").is_err());
        for ok in ["kim낚시", "Jeju낚시왕", "金민수", "ΑΘΗΝΑ", "Москва"] {
            assert!(Nickname::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn look_alike_nicknames_share_a_key() {
        let key = |n: &str| Nickname::parse(n).unwrap().key();
        assert_eq!(key("paypal"), key("paypa1"));
        assert_eq!(key("mike"), key("rnike"));
        assert_eq!(key("kim0"), key("kimO"));
        assert_ne!(key("김셰프"), key("김세프"));
        assert_ne!(key("minsu"), key("minso"));
    }

    #[test]
    fn nickname_key_is_case_folded() {
        assert_eq!(
            Nickname::parse("Kim").unwrap().key(),
            Nickname::parse("kIM").unwrap().key()
        );
    }

    #[test]
    fn password_length_bounds() {
        assert!(Password::parse("1234567").is_err());
        assert!(Password::parse("12345678").is_ok());
        assert!(Password::parse(&"x".repeat(128)).is_ok());
        assert!(Password::parse(&"x".repeat(129)).is_err());
        // characters, not bytes: 8 Hangul syllables are 24 bytes
        assert!(Password::parse("비밀번호비밀번호").is_ok());
        assert_eq!(
            format!("{:?}", Password::parse("secret-pass").unwrap()),
            "Password(***)"
        );
    }

    #[test]
    fn phone_rules() {
        assert!(Phone::parse("010-1234-5678").is_ok());
        assert!(Phone::parse("+82 10 1234 5678").is_ok());
        assert!(Phone::parse("12-34").is_err());
        assert!(Phone::parse("010-CALL-ME").is_err());
        assert!(Phone::parse("01+0123456789").is_err());
    }

    #[test]
    fn free_text_fields_keep_emoji_but_not_controls() {
        assert_eq!(
            PersonName::parse(" 김철수 🐟 ").unwrap().as_str(),
            "김철수 🐟"
        );
        assert!(PersonName::parse("bad\u{7}bell").is_err());
        assert!(Address::parse(&"가".repeat(201)).is_err());
        assert!(BankAccount::parse("국민은행 123-45-6789").is_ok());
    }
}
