//! Throttling per client address (and, for logins, per e-mail): login,
//! sign-up, the availability check and photo identification.
//!
//! The per-e-mail bucket counts failed logins only: counting every attempt
//! would let anyone lock a victim out with a few requests a minute without
//! knowing anything. Once an address has failed too often, every login to
//! it is refused (even with the right password, or the refusal itself would
//! confirm a guess) until the bucket refills.
//!
//! The limits live in each process. With several instances behind a proxy
//! each counts separately, so the effective limit is N times the quota;
//! still enough to stop online guessing and sign-up floods. IPv6 clients are
//! counted per /64 (one subscriber usually holds a whole /64, so counting
//! single addresses would give them 2^64 buckets).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use sitga_core::{AuctionId, UserId};

use crate::error::ApiError;

/// Attempts allowed per minute (also the burst size).
#[derive(Debug, Clone, Copy)]
pub struct ClientQuotas {
    /// Logins per client address.
    pub per_ip_per_minute: NonZeroU32,
    /// Failed logins per e-mail address tried.
    pub per_email_per_minute: NonZeroU32,
    /// Sign-ups per client address.
    pub signup_per_ip_per_minute: NonZeroU32,
    /// Availability checks per client address (a form checks as one types).
    pub availability_per_ip_per_minute: NonZeroU32,
    /// Photo identifications per client address.
    pub identify_per_ip_per_minute: NonZeroU32,
    /// Photo uploads per account.
    pub photo_uploads_per_user_per_minute: NonZeroU32,
}

impl Default for ClientQuotas {
    fn default() -> Self {
        Self {
            per_ip_per_minute: NonZeroU32::MIN.saturating_add(29),
            per_email_per_minute: NonZeroU32::MIN.saturating_add(4),
            signup_per_ip_per_minute: NonZeroU32::MIN.saturating_add(4),
            availability_per_ip_per_minute: NonZeroU32::MIN.saturating_add(59),
            identify_per_ip_per_minute: NonZeroU32::MIN.saturating_add(19),
            photo_uploads_per_user_per_minute: NonZeroU32::MIN.saturating_add(29),
        }
    }
}

/// Keyed token buckets per client.
pub struct ClientLimiter {
    by_ip: DefaultKeyedRateLimiter<IpAddr>,
    failures_by_email: DefaultKeyedRateLimiter<String>,
    /// E-mails whose failure bucket ran dry, and until when.
    locked_until: Mutex<HashMap<String, Instant>>,
    signup_by_ip: DefaultKeyedRateLimiter<IpAddr>,
    availability_by_ip: DefaultKeyedRateLimiter<IpAddr>,
    identify_by_ip: DefaultKeyedRateLimiter<IpAddr>,
    uploads_by_user: DefaultKeyedRateLimiter<UserId>,
    /// One counted view per client and auction an hour.
    views: DefaultKeyedRateLimiter<(IpAddr, AuctionId)>,
    clock: DefaultClock,
}

impl std::fmt::Debug for ClientLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientLimiter")
            .field("tracked_ips", &self.by_ip.len())
            .field("tracked_emails", &self.failures_by_email.len())
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

impl ClientLimiter {
    /// A limiter with the given quotas.
    pub fn new(quotas: ClientQuotas) -> Self {
        Self {
            by_ip: RateLimiter::keyed(Quota::per_minute(quotas.per_ip_per_minute)),
            failures_by_email: RateLimiter::keyed(Quota::per_minute(quotas.per_email_per_minute)),
            locked_until: Mutex::new(HashMap::new()),
            signup_by_ip: RateLimiter::keyed(Quota::per_minute(quotas.signup_per_ip_per_minute)),
            availability_by_ip: RateLimiter::keyed(Quota::per_minute(
                quotas.availability_per_ip_per_minute,
            )),
            identify_by_ip: RateLimiter::keyed(Quota::per_minute(
                quotas.identify_per_ip_per_minute,
            )),
            uploads_by_user: RateLimiter::keyed(Quota::per_minute(
                quotas.photo_uploads_per_user_per_minute,
            )),
            views: RateLimiter::keyed(Quota::per_hour(NonZeroU32::MIN)),
            clock: DefaultClock::default(),
        }
    }

    /// Counts one login attempt from `ip`, and refuses it while `email` is
    /// locked after too many failures; `Err(429)` with a retry delay.
    pub fn check(&self, ip: Option<IpAddr>, email: &str) -> Result<(), ApiError> {
        self.check_ip(&self.by_ip, ip)?;
        let key = email_key(email);
        let now = Instant::now();
        let mut locked = self
            .locked_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match locked.get(&key) {
            Some(until) if *until > now => Err(self.limited(*until - now)),
            Some(_) => {
                locked.remove(&key);
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Counts one failed login to `email`; when its bucket runs dry the
    /// address is locked until a token is back.
    pub fn record_failure(&self, email: &str) {
        let key = email_key(email);
        if let Err(not_until) = self.failures_by_email.check_key(&key) {
            let wait = not_until.wait_time_from(self.clock.now());
            self.locked_until
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(key, Instant::now() + wait);
        }
    }

    /// Counts one sign-up from `ip`.
    pub fn check_signup(&self, ip: Option<IpAddr>) -> Result<(), ApiError> {
        self.check_ip(&self.signup_by_ip, ip)
    }

    /// Counts one availability check from `ip`.
    pub fn check_availability(&self, ip: Option<IpAddr>) -> Result<(), ApiError> {
        self.check_ip(&self.availability_by_ip, ip)
    }

    /// Counts one photo identification from `ip`.
    pub fn check_identify(&self, ip: Option<IpAddr>) -> Result<(), ApiError> {
        self.check_ip(&self.identify_by_ip, ip)
    }

    /// Counts one photo upload by `user`.
    pub fn check_upload(&self, user: UserId) -> Result<(), ApiError> {
        self.uploads_by_user
            .check_key(&user)
            .map_err(|not_until| self.limited(not_until.wait_time_from(self.clock.now())))
    }

    /// Whether a page view of `auction` from `ip` is counted: once per
    /// client (IPv6: per /64) and auction an hour, so reloading, or a script
    /// hammering one page, writes nothing.
    pub fn count_view(&self, ip: Option<IpAddr>, auction: AuctionId) -> bool {
        ip.is_none_or(|ip| self.views.check_key(&(client_key(ip), auction)).is_ok())
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
        for buckets in [
            &self.by_ip,
            &self.signup_by_ip,
            &self.availability_by_ip,
            &self.identify_by_ip,
        ] {
            buckets.retain_recent();
            buckets.shrink_to_fit();
        }
        self.uploads_by_user.retain_recent();
        self.uploads_by_user.shrink_to_fit();
        self.views.retain_recent();
        self.views.shrink_to_fit();
        self.failures_by_email.retain_recent();
        self.failures_by_email.shrink_to_fit();
        let now = Instant::now();
        self.locked_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|_, until| *until > now);
    }
}

fn email_key(email: &str) -> String {
    email.trim().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_an_email_after_its_failures_and_reports_retry_after() {
        let limiter = ClientLimiter::new(ClientQuotas {
            per_ip_per_minute: NonZeroU32::new(100).unwrap(),
            per_email_per_minute: NonZeroU32::new(3).unwrap(),
            ..ClientQuotas::default()
        });
        let ip = Some("10.0.0.1".parse().unwrap());
        // Attempts alone (say, successful logins) spend nothing.
        for _ in 0..10 {
            limiter.check(ip, "a@x.com").unwrap();
        }
        for _ in 0..3 {
            limiter.check(ip, "a@x.com").unwrap();
            limiter.record_failure("a@x.com");
        }
        limiter.check(ip, "a@x.com").unwrap();
        limiter.record_failure("A@X.com ");
        match limiter.check(ip, "a@x.com") {
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
        let limiter = ClientLimiter::new(ClientQuotas {
            per_ip_per_minute: NonZeroU32::new(2).unwrap(),
            per_email_per_minute: NonZeroU32::new(100).unwrap(),
            ..ClientQuotas::default()
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
        let limiter = ClientLimiter::new(ClientQuotas {
            signup_per_ip_per_minute: NonZeroU32::new(2).unwrap(),
            ..ClientQuotas::default()
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
