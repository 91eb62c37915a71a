//! The client's address, for rate limits and socket caps.
//!
//! Behind a reverse proxy every connection comes from the proxy, so the
//! socket peer alone would put all clients in one bucket. `X-Forwarded-For`
//! is honoured only when the peer is a configured trusted proxy (anyone
//! else could write any address into it); the chain is then read from the
//! right, skipping trusted hops, and the first address no trusted proxy
//! owns is the client.

use std::net::IpAddr;

use actix_web::HttpRequest;
use ipnet::IpNet;

/// The proxies whose `X-Forwarded-For` is believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies {
    nets: Vec<IpNet>,
}

/// A `SITGA_TRUSTED_PROXIES` entry that is neither an address nor a network.
#[derive(Debug, thiserror::Error)]
#[error("{entry:?} is not an IP address or a network like 10.0.0.0/8")]
pub struct BadProxyEntry {
    entry: String,
}

impl TrustedProxies {
    /// Parses addresses (`10.0.0.5`, `::1`) and networks (`10.0.0.0/8`).
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, BadProxyEntry> {
        let nets = entries
            .iter()
            .map(|e| e.as_ref().trim())
            .filter(|e| !e.is_empty())
            .map(|entry| {
                entry
                    .parse::<IpNet>()
                    .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| BadProxyEntry {
                        entry: entry.to_owned(),
                    })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { nets })
    }

    /// Whether no proxy is trusted (the socket peer is the client).
    pub fn is_empty(&self) -> bool {
        self.nets.is_empty()
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.nets.iter().any(|net| net.contains(&ip))
    }

    /// The client of `peer`, given the `X-Forwarded-For` values it sent.
    pub fn client_of<'a>(
        &self,
        peer: IpAddr,
        forwarded_for: impl Iterator<Item = &'a str>,
    ) -> IpAddr {
        if !self.trusts(peer) {
            return canonical(peer);
        }
        let hops: Vec<&str> = forwarded_for.flat_map(|v| v.split(',')).collect();
        let mut client = peer;
        for hop in hops.iter().rev() {
            // A trusted proxy appends what it saw; garbage means the chain
            // cannot be read further, so the last good hop stands.
            let Some(ip) = parse_hop(hop) else { break };
            client = ip;
            if !self.trusts(ip) {
                break;
            }
        }
        canonical(client)
    }

    /// The client address of a request (`None` only without a peer, as in
    /// some test requests).
    pub fn client_ip(&self, req: &HttpRequest) -> Option<IpAddr> {
        let peer = req.peer_addr()?.ip();
        let values = req
            .headers()
            .get_all("x-forwarded-for")
            .filter_map(|v| v.to_str().ok());
        Some(self.client_of(peer, values))
    }
}

/// An IPv4-mapped IPv6 address is the IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

/// One `X-Forwarded-For` entry: an address, possibly bracketed or with a
/// port (some proxies add one).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    if let Ok(ip) = hop.parse() {
        return Some(ip);
    }
    if let Ok(addr) = hop.parse::<std::net::SocketAddr>() {
        return Some(addr.ip());
    }
    hop.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .and_then(|h| h.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn without_trusted_proxies_the_header_is_ignored() {
        let proxies = TrustedProxies::default();
        assert_eq!(
            proxies.client_of(ip("203.0.113.9"), ["198.51.100.1"].into_iter()),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn an_untrusted_peer_cannot_pick_its_address() {
        let proxies = TrustedProxies::parse(&["10.0.0.0/8"]).unwrap();
        assert_eq!(
            proxies.client_of(ip("203.0.113.9"), ["10.1.1.1"].into_iter()),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn the_rightmost_untrusted_hop_is_the_client() {
        let proxies = TrustedProxies::parse(&["10.0.0.0/8", "192.168.1.7"]).unwrap();
        // The client forged the first entry; the proxies appended the rest.
        let header = "1.2.3.4, 198.51.100.23, 10.0.0.3";
        assert_eq!(
            proxies.client_of(ip("192.168.1.7"), [header].into_iter()),
            ip("198.51.100.23")
        );
        // Several header lines are one list.
        assert_eq!(
            proxies.client_of(
                ip("10.0.0.1"),
                ["1.2.3.4", "198.51.100.23:5555"].into_iter()
            ),
            ip("198.51.100.23")
        );
        assert_eq!(
            proxies.client_of(ip("10.0.0.1"), ["[2001:db8::1]"].into_iter()),
            ip("2001:db8::1")
        );
    }

    #[test]
    fn garbage_stops_at_the_last_readable_hop() {
        let proxies = TrustedProxies::parse(&["10.0.0.0/8"]).unwrap();
        assert_eq!(
            proxies.client_of(ip("10.0.0.1"), ["unknown, 10.0.0.2"].into_iter()),
            ip("10.0.0.2")
        );
        assert_eq!(
            proxies.client_of(ip("10.0.0.1"), std::iter::empty()),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn mapped_peers_match_ipv4_networks() {
        let proxies = TrustedProxies::parse(&["127.0.0.1"]).unwrap();
        assert_eq!(
            proxies.client_of(ip("::ffff:127.0.0.1"), ["203.0.113.5"].into_iter()),
            ip("203.0.113.5")
        );
    }

    #[test]
    fn bad_entries_are_refused() {
        assert!(TrustedProxies::parse(&["10.0.0.0/33"]).is_err());
        assert!(TrustedProxies::parse(&["proxy.local"]).is_err());
        assert!(TrustedProxies::parse(&[" ", ""]).unwrap().is_empty());
    }
}
