//! Login throttling per client address and per e-mail.
//!
//! The limits live in each process. With several instances behind a proxy
//! each counts separately, so the effective limit is N times the quota;
//! still enough to stop online guessing.

use std::net::IpAddr;
use std::num::NonZeroU32;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::error::ApiError;

/// Attempts allowed per minute (also the burst size).
#[derive(Debug, Clone, Copy)]
pub struct LoginQuotas {
    /// Per client IP address.
    pub per_ip_per_minute: NonZeroU32,
    /// Per e-mail address tried.
    pub per_email_per_minute: NonZeroU32,
}

impl Default for LoginQuotas {
    fn default() -> Self {
        Self {
            per_ip_per_minute: NonZeroU32::MIN.saturating_add(29),
            per_email_per_minute: NonZeroU32::MIN.saturating_add(4),
        }
    }
}

/// Keyed token buckets for login attempts.
pub struct LoginLimiter {
    by_ip: DefaultKeyedRateLimiter<IpAddr>,
    by_email: DefaultKeyedRateLimiter<String>,
    clock: DefaultClock,
}

impl std::fmt::Debug for LoginLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginLimiter")
            .field("tracked_ips", &self.by_ip.len())
            .field("tracked_emails", &self.by_email.len())
            .finish()
    }
}

impl LoginLimiter {
    /// A limiter with the given quotas.
    pub fn new(quotas: LoginQuotas) -> Self {
        Self {
            by_ip: RateLimiter::keyed(Quota::per_minute(quotas.per_ip_per_minute)),
            by_email: RateLimiter::keyed(Quota::per_minute(quotas.per_email_per_minute)),
            clock: DefaultClock::default(),
        }
    }

    /// Counts one attempt; `Err(429)` with a retry delay when over quota.
    pub fn check(&self, ip: Option<IpAddr>, email: &str) -> Result<(), ApiError> {
        if let Some(ip) = ip {
            self.by_ip
                .check_key(&ip)
                .map_err(|not_until| self.limited(not_until.wait_time_from(self.clock.now())))?;
        }
        self.by_email
            .check_key(&email.trim().to_lowercase())
            .map_err(|not_until| self.limited(not_until.wait_time_from(self.clock.now())))?;
        Ok(())
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
        self.by_ip.retain_recent();
        self.by_email.retain_recent();
        self.by_ip.shrink_to_fit();
        self.by_email.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_quota_per_email_and_reports_retry_after() {
        let limiter = LoginLimiter::new(LoginQuotas {
            per_ip_per_minute: NonZeroU32::new(100).unwrap(),
            per_email_per_minute: NonZeroU32::new(3).unwrap(),
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
        let limiter = LoginLimiter::new(LoginQuotas {
            per_ip_per_minute: NonZeroU32::new(2).unwrap(),
            per_email_per_minute: NonZeroU32::new(100).unwrap(),
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
}
