//! HS256 access tokens.

use chrono::Utc;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sitga_core::UserId;
use sitga_user::Role;
use sitga_user::token::{ACCESS_TTL, ACCESS_TYPE};

use crate::error::ApiError;
use crate::error::ErrorCode;

/// The claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    /// The user id, as a string (JWT convention).
    pub sub: String,
    /// Roles at the time of issue.
    pub roles: Vec<Role>,
    /// Expiry, seconds since the epoch.
    pub exp: i64,
    /// Issue time, seconds since the epoch.
    pub iat: i64,
    /// Unique token id.
    pub jti: String,
    /// Token type; must be `access`.
    pub typ: String,
    /// The login session (refresh-token family) it was issued for.
    pub sid: String,
}

/// A signed access token and its lifetime.
#[derive(Debug, Clone)]
pub struct IssuedAccess {
    /// The compact JWT.
    pub token: String,
    /// Seconds until it expires.
    pub expires_in: i64,
}

/// Signing and verification keys for access tokens.
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JwtKeys(***)")
    }
}

impl JwtKeys {
    /// Keys from a shared secret (at least 32 bytes; checked by the config).
    pub fn new(secret: &[u8]) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "iat", "sub"]);
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
        }
    }

    /// Issues an access token for `user_id` in session `session_id`.
    pub fn issue(
        &self,
        user_id: UserId,
        roles: &[Role],
        session_id: &str,
    ) -> Result<IssuedAccess, ApiError> {
        let now = Utc::now();
        let claims = AccessClaims {
            sub: user_id.to_string(),
            roles: roles.to_vec(),
            iat: now.timestamp(),
            exp: (now + ACCESS_TTL).timestamp(),
            jti: uuid::Uuid::new_v4().to_string(),
            typ: ACCESS_TYPE.to_owned(),
            sid: session_id.to_owned(),
        };
        Ok(IssuedAccess {
            token: self.sign(&claims)?,
            expires_in: ACCESS_TTL.num_seconds(),
        })
    }

    /// Signs arbitrary claims. Public so that tests can mint expired or
    /// wrong-type tokens with the real key.
    pub fn sign(&self, claims: &AccessClaims) -> Result<String, ApiError> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .map_err(ApiError::internal)
    }

    /// Verifies a presented access token.
    pub fn verify(&self, token: &str) -> Result<AccessClaims, ApiError> {
        let data = jsonwebtoken::decode::<AccessClaims>(token, &self.decoding, &self.validation)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => ApiError::Unauthorized {
                    code: ErrorCode::TokenExpired,
                    message: "the access token has expired; refresh it",
                },
                _ => ApiError::Unauthorized {
                    code: ErrorCode::InvalidToken,
                    message: "the access token is invalid",
                },
            })?;
        if data.claims.typ != ACCESS_TYPE {
            return Err(ApiError::Unauthorized {
                code: ErrorCode::WrongTokenType,
                message: "an access token is required here",
            });
        }
        Ok(data.claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> JwtKeys {
        JwtKeys::new(b"0123456789abcdef0123456789abcdef")
    }

    #[test]
    fn round_trip() {
        let k = keys();
        let issued = k.issue(UserId::new(42), &[Role::Admin], "fam").unwrap();
        let claims = k.verify(&issued.token).unwrap();
        assert_eq!(claims.sub, "42");
        assert_eq!(claims.roles, vec![Role::Admin]);
        assert_eq!(claims.typ, "access");
        assert_eq!(claims.exp - claims.iat, 900);
        assert_eq!(issued.expires_in, 900);
    }

    #[test]
    fn rejects_other_key_expired_and_wrong_type() {
        let k = keys();
        let other = JwtKeys::new(b"another-secret-another-secret-xx");
        let token = other.issue(UserId::new(1), &[], "f").unwrap().token;
        assert_eq!(
            k.verify(&token).unwrap_err().code().as_str(),
            "invalid_token"
        );

        let mut claims = k
            .verify(&k.issue(UserId::new(1), &[], "f").unwrap().token)
            .unwrap();
        claims.exp = Utc::now().timestamp() - 3600;
        let expired = k.sign(&claims).unwrap();
        assert_eq!(
            k.verify(&expired).unwrap_err().code().as_str(),
            "token_expired"
        );

        claims.exp = Utc::now().timestamp() + 3600;
        claims.typ = "refresh".into();
        let wrong = k.sign(&claims).unwrap();
        assert_eq!(
            k.verify(&wrong).unwrap_err().code().as_str(),
            "wrong_token_type"
        );

        assert_eq!(
            k.verify("not.a.jwt").unwrap_err().code().as_str(),
            "invalid_token"
        );
    }
}
