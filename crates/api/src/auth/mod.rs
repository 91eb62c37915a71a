//! Authentication: access tokens (JWT), the logged-in user extractor and the
//! login rate limiter.

mod extractor;
mod jwt;
mod rate_limit;

pub use extractor::AuthUser;
pub use jwt::{AccessClaims, IssuedAccess, JwtKeys};
pub use rate_limit::{LoginLimiter, LoginQuotas};
