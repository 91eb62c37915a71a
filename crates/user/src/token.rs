//! Token rules: lifetimes, the opaque refresh secret, and what a presented
//! refresh token means (usable, reused, revoked, expired).
//!
//! Refresh tokens rotate: each use returns a new token of the same *family*
//! and retires the old one. Presenting a retired token again means it was
//! copied, so the whole family is revoked (reuse detection).

use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// How long an access token (JWT) is valid.
pub const ACCESS_TTL: Duration = Duration::minutes(15);
/// How long a refresh token is valid.
pub const REFRESH_TTL: Duration = Duration::days(30);
/// Random bytes in a refresh secret (256 bits).
const REFRESH_BYTES: usize = 32;

/// The `typ` claim of an access token; anything else is refused where an
/// access token is required.
pub const ACCESS_TYPE: &str = "access";

/// A freshly generated refresh secret: the plaintext goes to the client once,
/// only the hash is stored.
#[derive(Debug, Clone)]
pub struct RefreshSecret {
    /// URL-safe base64 of 32 random bytes; shown to the client once.
    pub plaintext: String,
    /// Hex SHA-256 of the plaintext; what the database keeps.
    pub hash: String,
}

impl RefreshSecret {
    /// Generates a new secret from the OS random source.
    ///
    /// ```
    /// # use sitga_user::token::{RefreshSecret, hash_refresh_token};
    /// let s = RefreshSecret::generate();
    /// assert_eq!(hash_refresh_token(&s.plaintext), s.hash);
    /// assert_ne!(s.plaintext, RefreshSecret::generate().plaintext);
    /// ```
    pub fn generate() -> Self {
        let mut bytes = [0u8; REFRESH_BYTES];
        rand::rng().fill_bytes(&mut bytes);
        let plaintext = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        let hash = hash_refresh_token(&plaintext);
        Self { plaintext, hash }
    }
}

/// The stored form of a presented refresh token. A fast hash is right here:
/// the secret has 256 bits of entropy, so there is nothing to brute-force.
pub fn hash_refresh_token(plaintext: &str) -> String {
    hex::encode(Sha256::digest(plaintext.as_bytes()))
}

/// What the database knows about one refresh token.
#[derive(Debug, Clone, Copy)]
pub struct RefreshTokenState {
    /// When it stops being valid.
    pub expires_at: DateTime<Utc>,
    /// Set once it has been exchanged for a newer token.
    pub rotated_at: Option<DateTime<Utc>>,
    /// Set when its family was revoked (logout, reuse, password change).
    pub revoked_at: Option<DateTime<Utc>>,
}

/// What presenting a refresh token means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshVerdict {
    /// Exchange it for a new pair.
    Usable,
    /// Already exchanged once: someone holds a copy. Revoke the family.
    Reused,
    /// Its family was revoked.
    Revoked,
    /// Past its lifetime.
    Expired,
}

impl RefreshTokenState {
    /// Judges the token at `now`. Revocation wins over everything, then reuse
    /// (even an expired token that was already rotated signals a copy).
    ///
    /// ```
    /// # use chrono::{Utc, Duration};
    /// # use sitga_user::token::{RefreshTokenState, RefreshVerdict};
    /// let now = Utc::now();
    /// let fresh = RefreshTokenState { expires_at: now + Duration::days(1), rotated_at: None, revoked_at: None };
    /// assert_eq!(fresh.verdict(now), RefreshVerdict::Usable);
    /// let used = RefreshTokenState { rotated_at: Some(now), ..fresh };
    /// assert_eq!(used.verdict(now), RefreshVerdict::Reused);
    /// ```
    pub fn verdict(&self, now: DateTime<Utc>) -> RefreshVerdict {
        if self.revoked_at.is_some() {
            RefreshVerdict::Revoked
        } else if self.rotated_at.is_some() {
            RefreshVerdict::Reused
        } else if self.expires_at <= now {
            RefreshVerdict::Expired
        } else {
            RefreshVerdict::Usable
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(now: DateTime<Utc>) -> RefreshTokenState {
        RefreshTokenState {
            expires_at: now + Duration::hours(1),
            rotated_at: None,
            revoked_at: None,
        }
    }

    #[test]
    fn verdict_table() {
        let now = Utc::now();
        let base = state(now);
        assert_eq!(base.verdict(now), RefreshVerdict::Usable);
        assert_eq!(
            RefreshTokenState {
                expires_at: now,
                ..base
            }
            .verdict(now),
            RefreshVerdict::Expired
        );
        assert_eq!(
            RefreshTokenState {
                rotated_at: Some(now),
                ..base
            }
            .verdict(now),
            RefreshVerdict::Reused
        );
        assert_eq!(
            RefreshTokenState {
                rotated_at: Some(now),
                expires_at: now - Duration::hours(2),
                ..base
            }
            .verdict(now),
            RefreshVerdict::Reused
        );
        assert_eq!(
            RefreshTokenState {
                rotated_at: Some(now),
                revoked_at: Some(now),
                ..base
            }
            .verdict(now),
            RefreshVerdict::Revoked
        );
    }

    #[test]
    fn secrets_are_long_and_hash_is_hex_sha256() {
        let s = RefreshSecret::generate();
        assert_eq!(s.plaintext.len(), 43);
        assert_eq!(s.hash.len(), 64);
        assert!(s.hash.chars().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn lifetimes_match_the_contract() {
        assert_eq!(ACCESS_TTL.num_seconds(), 900);
        assert_eq!(REFRESH_TTL.num_days(), 30);
    }
}
