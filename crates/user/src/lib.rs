//! Account rules for sitga, with no web or database code.
//!
//! Everything a user sends is parsed into a type here before anything else
//! touches it ("parse, don't validate"): once you hold an [`Email`] or a
//! [`Nickname`], it is known to be well-formed and normalised.
//!
//! ```
//! use sitga_user::{Email, Nickname, Province};
//!
//! let email = Email::parse("  Angler@Example.COM ").unwrap();
//! assert_eq!(email.as_str(), "angler@example.com");
//!
//! let nick = Nickname::parse("낚시왕").unwrap();
//! assert_eq!(nick.as_str(), "낚시왕");
//!
//! assert_eq!(Province::parse("jeju").unwrap().name_ko(), "제주특별자치도");
//! ```

#![warn(missing_docs)]

mod account;
mod fields;
pub mod notifications;
mod password;
pub mod token;

pub use account::{AccountType, Role, VerificationDecision, VerificationStatus};
pub use fields::{
    Address, BankAccount, BusinessName, BusinessNumber, Email, NICKNAME_KEY_VERSION, Nickname,
    Password, PersonName, Phone, limits, nickname_key,
};
pub use notifications::{NoticeEvent, NotificationKind, NotificationSettings};
pub use password::{HashError, PasswordHash, dummy_hash, hash_password, verify_password};
/// The 17 provinces live in `sitga-core` (auctions name them too).
pub use sitga_core::Province;

pub use sitga_core::FieldError;

// The README's examples are tested with the crate's.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

#[cfg(all(test, feature = "serde"))]
mod serde_tests {
    use super::*;

    #[test]
    fn roles_and_fields_travel_as_the_platform_writes_them() {
        assert_eq!(
            serde_json::to_string(&Role::Operator).unwrap(),
            "\"operator\""
        );
        assert_eq!(
            serde_json::from_str::<Role>("\"admin\"").unwrap(),
            Role::Admin
        );
        assert_eq!(
            serde_json::to_string(&AccountType::Recycler).unwrap(),
            "\"recycler\""
        );
        let email = Email::parse("Angler@Example.com").unwrap();
        assert_eq!(
            serde_json::to_string(&email).unwrap(),
            "\"angler@example.com\""
        );
    }
}
