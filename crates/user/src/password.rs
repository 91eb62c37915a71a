//! Password hashing with argon2id.
//!
//! Hashing is deliberately slow (tens of milliseconds); callers on an async
//! runtime run it on a blocking thread.

use argon2::password_hash::{SaltString, rand_core::OsRng};
use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};

use crate::Password;

/// OWASP's argon2id recommendation: 19 MiB, 2 passes, 1 lane.
const MEMORY_KIB: u32 = 19 * 1024;
const PASSES: u32 = 2;
const LANES: u32 = 1;

/// A PHC-format argon2id hash (`$argon2id$v=19$m=…`), safe to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    /// Wraps a hash read back from storage.
    pub fn from_stored(phc: String) -> Self {
        Self(phc)
    }

    /// The PHC string to store.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Hashing failed; only possible on a broken system RNG or invalid
/// parameters.
#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

fn hasher() -> Result<Argon2<'static>, HashError> {
    let params =
        Params::new(MEMORY_KIB, PASSES, LANES, None).map_err(|e| HashError(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes a password with a fresh random salt.
///
/// ```
/// # use sitga_user::{Password, hash_password, verify_password};
/// let pw = Password::parse("correct horse").unwrap();
/// let hash = hash_password(&pw).unwrap();
/// assert!(hash.as_str().starts_with("$argon2id$"));
/// assert!(verify_password(&pw, &hash));
/// ```
pub fn hash_password(password: &Password) -> Result<PasswordHash, HashError> {
    let salt = SaltString::generate(&mut OsRng);
    let hash = hasher()?
        .hash_password(password.expose().as_bytes(), &salt)
        .map_err(|e| HashError(e.to_string()))?;
    Ok(PasswordHash(hash.to_string()))
}

/// Checks a password against a stored hash. A malformed stored hash counts
/// as a mismatch (and is logged by the caller, not here).
pub fn verify_password(password: &Password, hash: &PasswordHash) -> bool {
    let Ok(parsed) = argon2::PasswordHash::new(&hash.0) else {
        return false;
    };
    // Verify with the parameters recorded in the hash, so that raising
    // the cost later does not lock anybody out.
    Argon2::default()
        .verify_password(password.expose().as_bytes(), &parsed)
        .is_ok()
}

/// A hash of a fixed password, verified against for unknown e-mails so
/// that a login spends the same time whether or not the address has an
/// account. Computed once per process: hashing it on every call made unknown
/// addresses measurably slower (a hash plus a verification) than known ones.
pub fn dummy_hash() -> Option<PasswordHash> {
    static DUMMY: std::sync::OnceLock<Option<PasswordHash>> = std::sync::OnceLock::new();
    DUMMY
        .get_or_init(|| {
            Password::parse("sitga-timing-equaliser")
                .ok()
                .and_then(|p| hash_password(&p).ok())
        })
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_timing_hash_is_computed_once() {
        let first = dummy_hash().unwrap();
        assert_eq!(dummy_hash().unwrap(), first, "same hash, not a new salt");
        assert!(!verify_password(
            &Password::parse("anything-else").unwrap(),
            &first
        ));
    }

    #[test]
    fn wrong_password_fails() {
        let hash = hash_password(&Password::parse("first-password").unwrap()).unwrap();
        assert!(!verify_password(
            &Password::parse("other-password").unwrap(),
            &hash
        ));
    }

    #[test]
    fn same_password_gets_different_salts() {
        let pw = Password::parse("same-password").unwrap();
        assert_ne!(hash_password(&pw).unwrap(), hash_password(&pw).unwrap());
    }

    #[test]
    fn garbage_hash_never_verifies() {
        let pw = Password::parse("anything-at-all").unwrap();
        assert!(!verify_password(
            &pw,
            &PasswordHash::from_stored("plaintext".into())
        ));
    }

    #[test]
    fn uses_argon2id_with_owasp_cost() {
        let hash = hash_password(&Password::parse("cost-check").unwrap()).unwrap();
        assert!(
            hash.as_str().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{}",
            hash.as_str()
        );
    }
}
