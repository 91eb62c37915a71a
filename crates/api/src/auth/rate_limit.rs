//! Throttling of the account endpoints per client address (and, for
//! logins, per e-mail): login, sign-up and the availability check.
//!
//! The limits live in each process. With several instances behind a proxy
//! each counts separately, so the effective limit is N times the quota;
//! still enough to stop online guessing and sign-up floods. IPv6 clients are
//! counted per /64 (one subscriber usually holds a whole /64, so counting
//! single addresses would give them 2^64 buckets).

use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::error::ApiError;

/// Attempts allowed per minute (also the burst size).
#[derive(Debug, Clone, Copy)]
pub struct AuthQuotas {
    /// Logins per client address.
    pub per_ip_per_minute: NonZeroU32,
    /// Logins per e-mail address tried.
    pub per_email_per_minute: NonZeroU32,
    /// Sign-ups per client address.
    pub signup_per_ip_per_minute: NonZeroU32,
    /// Availability checks per client address (a form checks as one types).
    pub availability_per_ip_per_minute: NonZeroU32,
}

impl Default for AuthQuotas {
    fn default() -> Self {
        Self {
            per_ip_per_minute: NonZeroU32::MIN.saturating_add(29),
            per_email_per_minute: NonZeroU32::MIN.saturating_add(4),
            signup_per_ip_per_minute: NonZeroU32::MIN.saturating_add(4),
            availability_per_ip_per_minute: NonZeroU32::MIN.saturating_add(59),
        }
    }
}

/// Keyed token buckets for the account endpoints.
pub struct AuthLimiter {
    by_ip: DefaultKeyedRateLimiter<IpAddr>,
    by_email: DefaultKeyedRateLimiter<String>,
    signup_by_ip: DefaultKeyedRateLimiter<IpAddr>,
    availability_by_ip: DefaultKeyedRateLimiter<IpAddr>,
    clock: DefaultClock,
}

impl std::fmt::Debug for AuthLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthLimiter")
            .field("tracked_ips", &self.by_ip.len())
            .field("tracked_emails", &self.by_email.len())
            .field("tracked_signup_ips", &self.signup_by_ip.len())
            .finish()
    }
}

/// The bucket key of a client: the address itself for IPv4, its /64 for
/// IPv6.
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(Ipv6Addr::from(prefix))
            }
        },
    }
}

impl AuthLimiter {
    /// A limiter with the given quotas.
    pub fn new(quotas: AuthQuotas) -> Self {
        Self {
            by_ip: RateLimiter::keyed(Quota::per_minute(quotas.per_ip_per_minute)),
            by_email: RateLimiter::keyed(Quota::per_minute(quotas.per_email_per_minute)),
            signup_by_ip: RateLimiter::keyed(Quota::per_minute(quotas.signup_per_ip_per_minute)),
            availability_by_ip: RateLimiter::keyed(Quota::per_minute(
                quotas.availability_per_ip_per_minute,
            )),
            clock: DefaultClock::default(),
        }
    }

    /// Counts one login attempt; `Err(429)` with a retry delay when over
    /// quota.
    pub fn check(&self, ip: Option<IpAddr>, email: &str) -> Result<(), ApiError> {
        self.check_ip(&self.by_ip, ip)?;
        self.by_email
            .check_key(&email.trim().to_lowercase())
            .map_err(|not_until| self.limited(not_until.wait_time_from(self.clock.now())))?;
        Ok(())
    }

    /// Counts one sign-up from `ip`.
    pub fn check_signup(&self, ip: Option<IpAddr>) -> Result<(), ApiError> {
        self.check_ip(&self.signup_by_ip, ip)
    }

    /// Counts one availability check from `ip`.
    pub fn check_availability(&self, ip: Option<IpAddr>) -> Result<(), ApiError> {
        self.check_ip(&self.availability_by_ip, ip)
    }

    fn check_ip(
        &self,
        buckets: &DefaultKeyedRateLimiter<IpAddr>,
        ip: Option<IpAddr>,
    ) -> Result<(), ApiError> {
        match ip {
            Some(ip) => buckets
                .check_key(&client_key(ip))
                .map_err(|not_until| self.limited(not_until.wait_time_from(self.clock.now()))),
            None => Ok(()),
        }
    }

    fn limited(&self, wait: std::time::Duration) -> ApiError {
        // Round up: a client told "0" would retry at once and fail again.
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        ApiError::RateLimited {
            retry_after_secs: secs.max(1),
        }
    }

    /// Forgets keys whose buckets are full again, bounding memory.
    pub fn prune(&self) {
        for buckets in [&self.by_ip, &self.signup_by_ip, &self.availability_by_ip] {
            buckets.retain_recent();
            buckets.shrink_to_fit();
        }
        self.by_email.retain_recent();
        self.by_email.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_quota_per_email_and_reports_retry_after() {
        let limiter = AuthLimiter::new(AuthQuotas {
            per_ip_per_minute: NonZeroU32::new(100).unwrap(),
            per_email_per_minute: NonZeroU32::new(3).unwrap(),
            ..AuthQuotas::default()
        });
        let ip = Some("10.0.0.1".parse().unwrap());
        for _ in 0..3 {
            limiter.check(ip, "a@x.com").unwrap();
        }
        match limiter.check(ip, "A@X.com ") {
            Err(ApiError::RateLimited { retry_after_secs }) => {
                assert!((1..=20).contains(&retry_after_secs));
            }
            other => panic!("expected 429, got {other:?}"),
        }
        // another e-mail from the same address is still allowed
        limiter.check(ip, "b@x.com").unwrap();
    }

    #[test]
    fn blocks_per_ip() {
        let limiter = AuthLimiter::new(AuthQuotas {
            per_ip_per_minute: NonZeroU32::new(2).unwrap(),
            per_email_per_minute: NonZeroU32::new(100).unwrap(),
            ..AuthQuotas::default()
        });
        let ip = Some("10.0.0.2".parse().unwrap());
        limiter.check(ip, "a@x.com").unwrap();
        limiter.check(ip, "b@x.com").unwrap();
        assert!(limiter.check(ip, "c@x.com").is_err());
        assert!(
            limiter
                .check(Some("10.0.0.3".parse().unwrap()), "c@x.com")
                .is_ok()
        );
    }

    #[test]
    fn ipv6_clients_share_their_slash_64() {
        let limiter = AuthLimiter::new(AuthQuotas {
            signup_per_ip_per_minute: NonZeroU32::new(2).unwrap(),
            ..AuthQuotas::default()
        });
        limiter
            .check_signup(Some("2001:db8:1:2::1".parse().unwrap()))
            .unwrap();
        limiter
            .check_signup(Some("2001:db8:1:2:ffff::9".parse().unwrap()))
            .unwrap();
        assert!(
            limiter
                .check_signup(Some("2001:db8:1:2:abcd::1".parse().unwrap()))
                .is_err(),
            "a third address of the same /64 shares the bucket"
        );
        limiter
            .check_signup(Some("2001:db8:1:3::1".parse().unwrap()))
            .unwrap();
        // Sign-ups do not spend the login buckets.
        limiter
            .check(Some("2001:db8:1:2::1".parse().unwrap()), "a@x.com")
            .unwrap();
    }

    #[test]
    fn mapped_ipv4_is_the_ipv4_address() {
        assert_eq!(
            client_key("::ffff:10.0.0.7".parse().unwrap()),
            "10.0.0.7".parse::<IpAddr>().unwrap()
        );
    }
}
