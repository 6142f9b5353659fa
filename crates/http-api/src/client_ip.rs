//! The client's IP address: the one function sessions and rate limits use.
//!
//! It is the TCP peer, unless that peer is one of our own proxies
//! (`TRUSTED_PROXIES`): then `X-Forwarded-For` is walked from the right,
//! skipping trusted hops, and the first untrusted address wins. A header
//! sent by anyone else is ignored, since any client can write one. (actix's
//! `realip_remote_addr()` trusts the header from every peer, so it is never
//! used.)

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::str::FromStr;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use ipnet::IpNet;

/// The networks our own reverse proxies live in (`TRUSTED_PROXIES`:
/// comma-separated CIDRs, or plain addresses; empty: trust no one).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a CIDR or an IP address: {0:?}")]
pub struct InvalidProxyNetwork(String);

impl FromStr for TrustedProxies {
    type Err = InvalidProxyNetwork;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        raw.split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(|entry| {
                entry
                    .parse::<IpNet>()
                    .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| InvalidProxyNetwork(entry.to_owned()))
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }
}

impl TrustedProxies {
    pub fn contains(&self, address: IpAddr) -> bool {
        let address = canonical(address);
        self.0.iter().any(|network| network.contains(&address))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The client behind `peer`, given the request's `X-Forwarded-For`
    /// values in the order they arrived.
    pub fn client_ip<'a>(
        &self,
        peer: IpAddr,
        forwarded_for: impl IntoIterator<Item = &'a str>,
    ) -> IpAddr {
        let peer = canonical(peer);
        if !self.contains(peer) {
            return peer;
        }
        let hops: Vec<&str> = forwarded_for
            .into_iter()
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .collect();
        let mut client = peer;
        for hop in hops.iter().rev() {
            // A hop a trusted proxy wrote is an address; anything else
            // means the chain cannot be followed further.
            let Some(address) = hop_address(hop).map(canonical) else {
                break;
            };
            client = address;
            if !self.contains(address) {
                break;
            }
        }
        client
    }
}

/// The address of one `X-Forwarded-For` hop. Some proxies write the
/// client's port too (`1.2.3.4:80`, `[2001:db8::1]:443`) or bracket an
/// IPv6 address; the port says nothing about who the client is, and
/// refusing such a hop would stop the walk at our own proxy, putting every
/// client behind it in one rate-limit bucket.
fn hop_address(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|socket| socket.ip()))
        .or_else(|| {
            hop.strip_prefix('[')
                .and_then(|rest| rest.strip_suffix(']'))
                .and_then(|inner| inner.parse::<Ipv6Addr>().ok())
                .map(IpAddr::V6)
        })
}

/// IPv4-mapped IPv6 addresses (`::ffff:1.2.3.4`, as a dual-stack socket
/// reports IPv4 peers) are the IPv4 address they carry.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// The address as a rate-limit key: IPv4 as is, IPv6 grouped by its /64
/// (one subscriber usually holds a whole /64).
pub fn rate_limit_group(address: IpAddr) -> String {
    match canonical(address) {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !((1u128 << 64) - 1);
            format!("{}/64", Ipv6Addr::from(prefix))
        }
    }
}

/// The address's network as a rate-limit key: IPv4 by /24, IPv6 by /48
/// (a site's usual allocation), for rules that count a guesser spread over
/// many addresses of one network.
pub fn network_group(address: IpAddr) -> String {
    match canonical(address) {
        IpAddr::V4(v4) => {
            let prefix = u32::from(v4) & !((1u32 << 8) - 1);
            format!("{}/24", std::net::Ipv4Addr::from(prefix))
        }
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !((1u128 << 80) - 1);
            format!("{}/48", Ipv6Addr::from(prefix))
        }
    }
}

/// The caller's IP address, as [`TrustedProxies::client_ip`] decides it.
/// Needs the app's [`TrustedProxies`] as app data (none registered: trust
/// no proxy).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

impl ClientIp {
    pub fn of(request: &HttpRequest) -> Option<Self> {
        let peer = request.peer_addr()?.ip();
        let forwarded_for = request
            .headers()
            .get_all("x-forwarded-for")
            .filter_map(|value| value.to_str().ok());
        let ip = match request.app_data::<web::Data<TrustedProxies>>() {
            Some(trusted) => trusted.client_ip(peer, forwarded_for),
            None => canonical(peer),
        };
        Some(Self(ip))
    }
}

impl FromRequest for ClientIp {
    type Error = std::convert::Infallible;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        // Only a test request built without a peer has none; such a request
        // comes from this process, hence loopback.
        let ip = Self::of(request).unwrap_or(Self(IpAddr::from([127, 0, 0, 1])));
        std::future::ready(Ok(ip))
    }
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    fn ip(raw: &str) -> IpAddr {
        raw.parse().unwrap()
    }

    fn trusted(raw: &str) -> TrustedProxies {
        raw.parse().unwrap()
    }

    #[test]
    fn parses_cidrs_and_plain_addresses() {
        let proxies = trusted(" 10.0.0.0/8, 192.168.1.7 ,fd00::/8,");
        assert!(proxies.contains(ip("10.1.2.3")));
        assert!(proxies.contains(ip("192.168.1.7")));
        assert!(!proxies.contains(ip("192.168.1.8")));
        assert!(proxies.contains(ip("fd12::1")));
        assert!(trusted("").is_empty());
        assert!("10.0.0.0/33".parse::<TrustedProxies>().is_err());
        assert!("proxy.internal".parse::<TrustedProxies>().is_err());
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        let proxies = trusted("10.0.0.0/8");
        assert_eq!(
            proxies.client_ip(ip("203.0.113.9"), ["1.1.1.1"]),
            ip("203.0.113.9")
        );
        assert_eq!(
            TrustedProxies::default().client_ip(ip("10.0.0.1"), ["1.1.1.1"]),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn walks_forwarded_for_from_the_right_skipping_trusted_hops() {
        let proxies = trusted("10.0.0.0/8");
        // The client forged the leftmost entry; our proxies appended the rest.
        let header = "6.6.6.6, 198.51.100.4, 10.0.0.3";
        assert_eq!(
            proxies.client_ip(ip("10.0.0.2"), [header]),
            ip("198.51.100.4")
        );
        // Several header lines count as one list, in order.
        assert_eq!(
            proxies.client_ip(ip("10.0.0.2"), ["6.6.6.6", "198.51.100.4, 10.0.0.3"]),
            ip("198.51.100.4")
        );
    }

    #[test]
    fn a_chain_of_only_trusted_hops_ends_at_the_leftmost() {
        let proxies = trusted("10.0.0.0/8");
        assert_eq!(
            proxies.client_ip(ip("10.0.0.2"), ["10.0.0.9, 10.0.0.3"]),
            ip("10.0.0.9")
        );
        assert_eq!(
            proxies.client_ip(ip("10.0.0.2"), std::iter::empty()),
            ip("10.0.0.2")
        );
    }

    #[test]
    fn garbage_stops_the_walk_at_the_last_trusted_hop() {
        let proxies = trusted("10.0.0.0/8");
        assert_eq!(
            proxies.client_ip(ip("10.0.0.2"), ["1.2.3.4, not-an-ip, 10.0.0.3"]),
            ip("10.0.0.3")
        );
    }

    #[test]
    fn hops_with_a_port_or_brackets_are_read_as_their_address() {
        let proxies = trusted("10.0.0.0/8");
        for (header, client) in [
            ("1.2.3.4:80", "1.2.3.4"),
            ("[2001:db8::1]:443", "2001:db8::1"),
            ("[2001:db8::1]", "2001:db8::1"),
            ("6.6.6.6, 198.51.100.4:5000, 10.0.0.3:80", "198.51.100.4"),
            ("[::ffff:198.51.100.4]:80", "198.51.100.4"),
        ] {
            assert_eq!(
                proxies.client_ip(ip("10.0.0.2"), [header]),
                ip(client),
                "{header}"
            );
        }
        // Not an address with a port: the walk stops as for any garbage.
        for header in ["1.2.3.4:http", "2001:db8::1:443:x", "1.2.3.4:99999"] {
            assert_eq!(
                proxies.client_ip(ip("10.0.0.2"), [header]),
                ip("10.0.0.2"),
                "{header}"
            );
        }
    }

    #[test]
    fn ipv4_mapped_peers_are_ipv4() {
        let proxies = trusted("10.0.0.0/8");
        assert_eq!(
            proxies.client_ip(ip("::ffff:10.0.0.2"), ["198.51.100.4"]),
            ip("198.51.100.4")
        );
        assert_eq!(rate_limit_group(ip("::ffff:1.2.3.4")), "1.2.3.4");
    }

    #[test]
    fn ipv6_clients_are_grouped_by_their_64() {
        assert_eq!(
            rate_limit_group(ip("2001:db8:1:2:aaaa:bbbb:cccc:dddd")),
            "2001:db8:1:2::/64"
        );
        assert_eq!(
            rate_limit_group(ip("2001:db8:1:2::1")),
            rate_limit_group(ip("2001:db8:1:2:ffff::9"))
        );
        assert_ne!(
            rate_limit_group(ip("2001:db8:1:2::1")),
            rate_limit_group(ip("2001:db8:1:3::1"))
        );
        assert_eq!(rate_limit_group(ip("198.51.100.4")), "198.51.100.4");
    }

    #[test]
    fn networks_are_ipv4_24s_and_ipv6_48s() {
        assert_eq!(network_group(ip("198.51.100.4")), "198.51.100.0/24");
        assert_eq!(
            network_group(ip("198.51.100.4")),
            network_group(ip("198.51.100.255"))
        );
        assert_ne!(
            network_group(ip("198.51.100.4")),
            network_group(ip("198.51.101.4"))
        );
        assert_eq!(network_group(ip("::ffff:198.51.100.4")), "198.51.100.0/24");
        assert_eq!(
            network_group(ip("2001:db8:1:2:aaaa:bbbb:cccc:dddd")),
            "2001:db8:1::/48"
        );
        // Two /64s of one /48 share a network; the next /48 does not.
        assert_eq!(
            network_group(ip("2001:db8:1:2::1")),
            network_group(ip("2001:db8:1:ffff:ffff::9"))
        );
        assert_ne!(
            network_group(ip("2001:db8:1::1")),
            network_group(ip("2001:db8:2::1"))
        );
    }

    #[actix_web::test]
    async fn the_extractor_uses_the_peer_and_the_app_proxies() {
        let request = TestRequest::default()
            .peer_addr("10.0.0.2:4000".parse().unwrap())
            .insert_header(("x-forwarded-for", "198.51.100.4"))
            .to_http_request();
        assert_eq!(ClientIp::of(&request), Some(ClientIp(ip("10.0.0.2"))));

        let request = TestRequest::default()
            .peer_addr("10.0.0.2:4000".parse().unwrap())
            .insert_header(("x-forwarded-for", "198.51.100.4"))
            .app_data(web::Data::new(trusted("10.0.0.0/8")))
            .to_http_request();
        assert_eq!(ClientIp::of(&request), Some(ClientIp(ip("198.51.100.4"))));
    }
}
