//! Authentication: access tokens (JWT), the logged-in user extractor and the
//! throttling of the account endpoints and the bounded argon2 queue.

mod extractor;
mod hashing;
mod jwt;
mod rate_limit;
mod sessions;

pub use extractor::{AdminUser, AuthUser, Viewer};
pub use hashing::PasswordWork;
pub use jwt::{AccessClaims, IssuedAccess, JwtKeys};
pub use rate_limit::{ClientLimiter, ClientQuotas, client_key};
pub use sessions::{ALIVE_FOR, Sessions};
