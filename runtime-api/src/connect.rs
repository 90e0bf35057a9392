//! Outbound connections a location grants (`WasmAllowConnect host:port`).
//!
//! Nothing granted means no connection at all. A grant names one TCP port on one host; the
//! host is an IP address or a name. A name is resolved by the host when the guest asks for it,
//! and the guest may connect to the addresses it resolved to on the granted port; names that
//! are not granted do not resolve.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::{IpAddr, SocketAddr};

/// The host part of a grant.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum GrantedHost {
    Address(IpAddr),
    /// A DNS name, lower-cased, without a trailing dot.
    Name(String),
}

/// One `WasmAllowConnect host:port`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ConnectGrant {
    pub host: GrantedHost,
    pub port: u16,
}

/// Why a `WasmAllowConnect` argument is not a grant.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvalidGrant {
    #[error("'{0}' has no port; write host:port (an IPv6 address as [addr]:port)")]
    MissingPort(String),
    #[error("'{0}' is not a port between 1 and 65535")]
    Port(String),
    #[error("'{0}' is not a host name or an IP address")]
    Host(String),
}

impl ConnectGrant {
    /// Parses `host:port`, `[v6 address]:port` or `v4 address:port`.
    pub fn parse(text: &str) -> Result<Self, InvalidGrant> {
        let (host, port) = if let Some(rest) = text.strip_prefix('[') {
            let (address, port) = rest
                .split_once("]:")
                .ok_or_else(|| InvalidGrant::MissingPort(text.to_owned()))?;
            (address, port)
        } else {
            text.rsplit_once(':')
                .ok_or_else(|| InvalidGrant::MissingPort(text.to_owned()))?
        };
        let port = match port.parse::<u16>() {
            Ok(port) if port > 0 => port,
            _ => return Err(InvalidGrant::Port(port.to_owned())),
        };
        let bracketed = text.starts_with('[');
        let host = if bracketed != host.contains(':') {
            // An IPv6 address needs brackets, and only an IPv6 address may have them.
            return Err(InvalidGrant::Host(host.to_owned()));
        } else if let Ok(address) = host.parse::<IpAddr>() {
            GrantedHost::Address(address)
        } else if bracketed {
            return Err(InvalidGrant::Host(host.to_owned()));
        } else {
            GrantedHost::Name(parse_name(host)?)
        };
        Ok(Self { host, port })
    }

    /// Whether this grant allows connecting to `address` directly (by address, not by a name
    /// resolved through a grant).
    pub fn allows_address(&self, address: SocketAddr) -> bool {
        self.port == address.port() && self.host == GrantedHost::Address(address.ip())
    }

    /// Whether this grant allows resolving `name`.
    pub fn allows_name(&self, name: &str) -> bool {
        match (&self.host, parse_name(name)) {
            (GrantedHost::Name(granted), Ok(name)) => *granted == name,
            _ => false,
        }
    }
}

/// A DNS name as granted: letters, digits, hyphens and dots, compared without case.
fn parse_name(name: &str) -> Result<String, InvalidGrant> {
    let trimmed = name.strip_suffix('.').unwrap_or(name);
    let valid_label = |label: &str| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    if trimmed.is_empty() || trimmed.len() > 253 || !trimmed.split('.').all(valid_label) {
        return Err(InvalidGrant::Host(name.to_owned()));
    }
    Ok(trimmed.to_ascii_lowercase())
}

impl fmt::Display for ConnectGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.host {
            GrantedHost::Address(IpAddr::V6(v6)) => write!(f, "[{v6}]:{}", self.port),
            GrantedHost::Address(IpAddr::V4(v4)) => write!(f, "{v4}:{}", self.port),
            GrantedHost::Name(name) => write!(f, "{name}:{}", self.port),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(text: &str) -> ConnectGrant {
        ConnectGrant::parse(text).unwrap()
    }

    #[test]
    fn grants_name_a_host_and_a_port() {
        assert_eq!(
            grant("DB.Example.org.:3306").host,
            GrantedHost::Name("db.example.org".into())
        );
        assert_eq!(
            grant("127.0.0.1:3306").host,
            GrantedHost::Address("127.0.0.1".parse().unwrap())
        );
        assert_eq!(
            grant("[::1]:5432").host,
            GrantedHost::Address("::1".parse().unwrap())
        );
        assert_eq!(grant("[::1]:5432").to_string(), "[::1]:5432");
        assert_eq!(grant("localhost:3306").to_string(), "localhost:3306");
    }

    #[test]
    fn a_port_is_required_and_must_be_valid() {
        assert!(matches!(
            ConnectGrant::parse("db"),
            Err(InvalidGrant::MissingPort(_))
        ));
        for bad in ["db:0", "db:65536", "db:mysql", "db:"] {
            assert!(
                matches!(ConnectGrant::parse(bad), Err(InvalidGrant::Port(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            ConnectGrant::parse("::1:80"),
            Err(InvalidGrant::Host(_))
        ));
        for bad in ["bad_name:80", "[127.0.0.1]:80", "[db]:80", ":80"] {
            assert!(
                matches!(ConnectGrant::parse(bad), Err(InvalidGrant::Host(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn addresses_match_exactly_and_names_without_case() {
        let by_address = grant("127.0.0.1:3306");
        assert!(by_address.allows_address("127.0.0.1:3306".parse().unwrap()));
        assert!(!by_address.allows_address("127.0.0.1:3307".parse().unwrap()));
        assert!(!by_address.allows_address("127.0.0.2:3306".parse().unwrap()));
        let by_name = grant("localhost:3306");
        assert!(by_name.allows_name("LOCALHOST"));
        assert!(by_name.allows_name("localhost."));
        assert!(!by_name.allows_name("example.org"));
        assert!(!by_name.allows_address("127.0.0.1:3306".parse().unwrap()));
    }
}
