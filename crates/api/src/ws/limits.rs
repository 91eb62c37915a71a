//! Limits across a client's sockets: how many it may hold open (per
//! account and per client address), and how fast one account may chat and
//! bid whatever number of sockets it uses. The per-socket frame rate lives
//! in `connection`.
//!
//! Counted per instance: behind a proxy spreading sockets over N instances
//! the effective caps are N times these.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, PoisonError};

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use sitga_core::UserId;

use crate::auth::client_key;

/// The caps, as configured.
#[derive(Debug, Clone, Copy)]
pub struct WsQuotas {
    /// Frames one socket may send per second (bursts of twice that).
    pub frames_per_second: NonZeroU32,
    /// Chat lines and bids one account may send per second over all its
    /// sockets (bursts of twice that).
    pub account_messages_per_second: NonZeroU32,
    /// Open sockets per account.
    pub sockets_per_user: NonZeroU32,
    /// Open sockets per client address (IPv6: per /64), signed in or not.
    pub sockets_per_ip: NonZeroU32,
}

impl Default for WsQuotas {
    fn default() -> Self {
        Self {
            frames_per_second: NonZeroU32::MIN.saturating_add(9),
            account_messages_per_second: NonZeroU32::MIN.saturating_add(4),
            sockets_per_user: NonZeroU32::MIN.saturating_add(4),
            sockets_per_ip: NonZeroU32::MIN.saturating_add(49),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Holder {
    User(UserId),
    Address(IpAddr),
}

/// Why a socket was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketRefusal {
    /// The account holds its maximum.
    PerUser(u32),
    /// The client address holds its maximum.
    PerAddress(u32),
}

/// The live-socket counts and the per-account message buckets.
pub struct WsLimits {
    quotas: WsQuotas,
    open: Mutex<HashMap<Holder, u32>>,
    messages: DefaultKeyedRateLimiter<UserId>,
}

impl std::fmt::Debug for WsLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsLimits")
            .field("quotas", &self.quotas)
            .finish_non_exhaustive()
    }
}

/// One open socket's place; given back when dropped.
#[derive(Debug)]
pub struct SocketSlot {
    limits: Arc<WsLimits>,
    holders: Vec<Holder>,
}

impl Drop for SocketSlot {
    fn drop(&mut self) {
        let mut open = self
            .limits
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for holder in &self.holders {
            if let Some(count) = open.get_mut(holder) {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    open.remove(holder);
                }
            }
        }
    }
}

impl WsLimits {
    /// Limits with these quotas.
    pub fn new(quotas: WsQuotas) -> Self {
        let per_second = quotas.account_messages_per_second;
        let burst = per_second.saturating_mul(NonZeroU32::MIN.saturating_add(1));
        Self {
            quotas,
            open: Mutex::new(HashMap::new()),
            messages: RateLimiter::keyed(Quota::per_second(per_second).allow_burst(burst)),
        }
    }

    /// The quotas.
    pub fn quotas(&self) -> WsQuotas {
        self.quotas
    }

    /// Takes a place for one more socket of `user` from `ip`, or says which
    /// cap it would break. Both counts change together or not at all.
    pub fn open(
        self: &Arc<Self>,
        user: Option<UserId>,
        ip: Option<IpAddr>,
    ) -> Result<SocketSlot, SocketRefusal> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let mut holders = Vec::with_capacity(2);
        if let Some(user) = user {
            let cap = self.quotas.sockets_per_user.get();
            if open.get(&Holder::User(user)).copied().unwrap_or(0) >= cap {
                return Err(SocketRefusal::PerUser(cap));
            }
            holders.push(Holder::User(user));
        }
        if let Some(ip) = ip {
            let cap = self.quotas.sockets_per_ip.get();
            let key = Holder::Address(client_key(ip));
            if open.get(&key).copied().unwrap_or(0) >= cap {
                return Err(SocketRefusal::PerAddress(cap));
            }
            holders.push(key);
        }
        for holder in &holders {
            *open.entry(*holder).or_insert(0) += 1;
        }
        Ok(SocketSlot {
            limits: self.clone(),
            holders,
        })
    }

    /// Counts one chat line or bid of `user`'s; `false` when over the
    /// account's rate.
    pub fn message_allowed(&self, user: UserId) -> bool {
        self.messages.check_key(&user).is_ok()
    }

    /// Forgets accounts whose buckets are full again, bounding memory.
    pub fn prune(&self) {
        self.messages.retain_recent();
        self.messages.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(per_user: u32, per_ip: u32) -> Arc<WsLimits> {
        Arc::new(WsLimits::new(WsQuotas {
            sockets_per_user: NonZeroU32::new(per_user).unwrap(),
            sockets_per_ip: NonZeroU32::new(per_ip).unwrap(),
            ..WsQuotas::default()
        }))
    }

    #[test]
    fn sockets_are_capped_per_user_and_per_address_and_given_back() {
        let limits = limits(2, 3);
        let (alice, bob) = (Some(UserId::new(1)), Some(UserId::new(2)));
        let here: Option<IpAddr> = Some("10.0.0.1".parse().unwrap());
        let a1 = limits.open(alice, here).unwrap();
        let _a2 = limits.open(alice, here).unwrap();
        assert_eq!(
            limits.open(alice, Some("10.9.9.9".parse().unwrap())).err(),
            Some(SocketRefusal::PerUser(2))
        );
        let _anonymous = limits.open(None, here).unwrap();
        // The address is full, even for another account.
        assert_eq!(
            limits.open(bob, here).err(),
            Some(SocketRefusal::PerAddress(3))
        );
        // A refused attempt took nothing: bob elsewhere is fine.
        let _b = limits.open(bob, Some("10.0.0.2".parse().unwrap())).unwrap();
        drop(a1);
        let _a3 = limits.open(alice, here).unwrap();
    }

    #[test]
    fn ipv6_sockets_count_per_slash_64() {
        let limits = limits(10, 1);
        let _first = limits
            .open(None, Some("2001:db8::1".parse().unwrap()))
            .unwrap();
        assert!(
            limits
                .open(None, Some("2001:db8::2".parse().unwrap()))
                .is_err()
        );
    }

    #[test]
    fn one_account_shares_its_message_rate_across_sockets() {
        let limits = WsLimits::new(WsQuotas {
            account_messages_per_second: NonZeroU32::new(2).unwrap(),
            ..WsQuotas::default()
        });
        let user = UserId::new(7);
        let allowed = (0..10).filter(|_| limits.message_allowed(user)).count();
        assert_eq!(allowed, 4, "a burst of twice the rate, then refusals");
        assert!(limits.message_allowed(UserId::new(8)));
    }
}
