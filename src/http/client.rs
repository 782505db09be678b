//! Which address a request came from. The socket's peer is the client,
//! unless the peer is one of `--trusted-proxies`: then the proxy's
//! `Forwarded` (RFC 7239) or `X-Forwarded-For` header names it, read from
//! the right, skipping every hop that is itself a trusted proxy. A client
//! cannot pick its own address by sending the header: only what trusted
//! proxies appended is believed.

use axum::http::HeaderMap;
use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};

pub fn client_address(peer: IpAddr, headers: &HeaderMap, trusted_proxies: &[IpNet]) -> IpAddr {
    let trusted = |address: &IpAddr| {
        let address = address.to_canonical();
        trusted_proxies.iter().any(|net| net.contains(&address))
    };
    if !trusted(&peer) {
        return peer;
    }
    let hops = forwarded_hops(headers);
    let mut client = peer;
    // Nearest hop first: each one was appended by the proxy before it.
    for hop in hops.iter().rev() {
        let Some(address) = hop else {
            // An entry we cannot read ("unknown", an obfuscated name): the
            // last address we could trust to have been written honestly.
            break;
        };
        client = *address;
        if !trusted(address) {
            break;
        }
    }
    client
}

/// The `for=` hops of every `Forwarded` header or, without one, the
/// entries of every `X-Forwarded-For` header, leftmost first; `None` for
/// an entry that is not an address.
fn forwarded_hops(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let forwarded: Vec<&str> = headers
        .get_all("forwarded")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    if !forwarded.is_empty() {
        return forwarded
            .iter()
            .flat_map(|v| v.split(','))
            .filter_map(|element| {
                element.split(';').find_map(|pair| {
                    let (name, value) = pair.split_once('=')?;
                    name.trim().eq_ignore_ascii_case("for").then(|| parse_node(value))
                })
            })
            .collect();
    }
    headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(parse_node)
        .collect()
}

/// `192.0.2.1`, `192.0.2.1:4711`, `"[2001:db8::1]:4711"`, `2001:db8::1`.
fn parse_node(raw: &str) -> Option<IpAddr> {
    let node = raw.trim().trim_matches('"');
    node.parse::<IpAddr>()
        .ok()
        .or_else(|| node.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .or_else(|| {
            let inner = node.strip_prefix('[')?;
            let end = inner.find(']')?;
            inner.get(..end)?.parse().ok()
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    fn ip(raw: &str) -> IpAddr {
        raw.parse().unwrap()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_sends() {
        let sent = headers(&[("x-forwarded-for", "203.0.113.9")]);
        assert_eq!(client_address(ip("198.51.100.1"), &sent, &[]), ip("198.51.100.1"));
        let proxies = ["10.0.0.0/8".parse().unwrap()];
        assert_eq!(
            client_address(ip("198.51.100.1"), &sent, &proxies),
            ip("198.51.100.1")
        );
    }

    #[test]
    fn a_trusted_proxy_names_the_client_and_spoofed_entries_stay_left() {
        let proxies = ["10.0.0.0/8".parse().unwrap()];
        // The client sent "1.2.3.4" itself; the proxy appended its real address.
        let sent = headers(&[("x-forwarded-for", "1.2.3.4, 203.0.113.9")]);
        assert_eq!(client_address(ip("10.0.0.2"), &sent, &proxies), ip("203.0.113.9"));
        // Two proxies in a row.
        let sent = headers(&[("x-forwarded-for", "203.0.113.9, 10.0.0.7")]);
        assert_eq!(client_address(ip("10.0.0.2"), &sent, &proxies), ip("203.0.113.9"));
    }

    #[test]
    fn forwarded_is_read_with_ports_brackets_and_quotes() {
        let proxies = ["127.0.0.1/32".parse().unwrap()];
        let sent = headers(&[("forwarded", r#"for="[2001:db8::17]:4711";proto=https"#)]);
        assert_eq!(
            client_address(ip("127.0.0.1"), &sent, &proxies),
            ip("2001:db8::17")
        );
        let sent = headers(&[("forwarded", "for=192.0.2.60:8080, for=unknown")]);
        assert_eq!(client_address(ip("127.0.0.1"), &sent, &proxies), ip("127.0.0.1"));
        let sent = headers(&[("forwarded", "For=192.0.2.60")]);
        assert_eq!(client_address(ip("127.0.0.1"), &sent, &proxies), ip("192.0.2.60"));
    }
}
