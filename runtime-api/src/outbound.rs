//! Outbound connections a location grants (`WasmAllowConnect host:port`).
//!
//! Nothing granted means no connection at all. A grant names one TCP port on one host; the
//! host is an IP address or a name. A name grant allows the addresses the host's resolver
//! (`/etc/hosts`, DNS) gives for that name when the guest connects, on the granted port. The
//! guest's own name lookups are answered only for granted names.
//!
//! [`ConnectGrants`] is what a location grants; [`ConnectGuard`] is what one run's networking
//! consults, and it records what the guest was refused, for the run's report.

use crate::sync::lock;
use crate::{ExitCode, RunError, RunReport};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::{Arc, Mutex, MutexGuard};

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
    /// A Unix domain socket (`unix:/run/mysqld/mysqld.sock`, or a path): mod_wasm grants TCP
    /// only. `wasi:sockets` has no Unix sockets, and a grant that only some runtimes could
    /// honour would make a location's sandbox depend on its runtime.
    #[error(
        "'{0}' is a Unix domain socket; mod_wasm grants TCP connections only: grant the \
         server's TCP address instead (for MariaDB or MySQL, 127.0.0.1:3306 with \
         skip-networking off) and have the guest connect to it"
    )]
    UnixSocket(String),
}

impl ConnectGrant {
    /// Parses `host:port`, `[v6 address]:port` or `v4 address:port`.
    pub fn parse(text: &str) -> Result<Self, InvalidGrant> {
        if text.starts_with("unix:") || text.starts_with('/') {
            return Err(InvalidGrant::UnixSocket(text.to_owned()));
        }
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

/// Something a guest tried and was not granted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// A TCP connection to this address.
    Connect(SocketAddr),
    /// A name lookup.
    Resolve(String),
    /// A socket kind mod_wasm never grants (listening, datagrams).
    Socket(&'static str),
    /// An outgoing HTTP request to this `host:port` (a component's `wasi:http`).
    HttpRequest(String),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::HttpRequest(authority) => write!(
                f,
                "refused an HTTP request to {authority}: no WasmAllowConnect grants it"
            ),
            Refusal::Connect(address) => write!(
                f,
                "refused a connection to {address}: no WasmAllowConnect grants it"
            ),
            Refusal::Resolve(name) => write!(
                f,
                "refused to resolve '{name}': no WasmAllowConnect grants that name"
            ),
            Refusal::Socket(what) => write!(f, "refused {what}: only outbound TCP is granted"),
        }
    }
}

/// What one run was refused: the first [`Refusals::KEPT`] refusals in order, and how many more
/// there were. A guest that retries a refused connection in a loop until its time limit must
/// grow neither the child's memory nor the error log with every try.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Refusals {
    kept: Vec<Refusal>,
    dropped: u64,
}

impl Refusals {
    /// How many refusals a run keeps, to be logged one by one.
    pub const KEPT: usize = 16;

    /// Nothing refused.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records `refusal`: kept while fewer than [`KEPT`](Self::KEPT) are, else only counted.
    pub fn record(&mut self, refusal: Refusal) {
        if self.kept.len() < Self::KEPT {
            self.kept.push(refusal);
        } else {
            self.dropped += 1;
        }
    }

    /// The first refusals, in order.
    pub fn kept(&self) -> &[Refusal] {
        &self.kept
    }

    /// How many refusals came after those kept.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// How many refusals there were in all.
    pub fn total(&self) -> u64 {
        self.kept.len() as u64 + self.dropped
    }

    pub fn is_empty(&self) -> bool {
        self.kept.is_empty()
    }
}

impl<const N: usize> From<[Refusal; N]> for Refusals {
    fn from(refusals: [Refusal; N]) -> Self {
        let mut recorded = Refusals::new();
        for refusal in refusals {
            recorded.record(refusal);
        }
        recorded
    }
}

/// The outbound connections a location grants: nothing unless granted. Immutable and cheap to
/// clone, so one configuration's grants are shared by all its runs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConnectGrants(Arc<[ConnectGrant]>);

impl ConnectGrants {
    pub fn new(grants: impl Into<Arc<[ConnectGrant]>>) -> Self {
        Self(grants.into())
    }

    /// Whether an outgoing HTTP request may go to `host` (a name or an address, as the URL
    /// writes it; an IPv6 address with or without brackets) on `port`: a grant must name the
    /// host the same way, and the port.
    pub fn allows_origin(&self, host: &str, port: u16) -> bool {
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        self.0.iter().any(|grant| {
            grant.port == port
                && match host.parse::<IpAddr>() {
                    Ok(address) => grant.host == GrantedHost::Address(address),
                    Err(_) => grant.allows_name(host),
                }
        })
    }

    pub fn as_slice(&self) -> &[ConnectGrant] {
        &self.0
    }

    /// Whether anything is granted at all.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The guard for one run under these grants.
    pub fn guard(&self) -> ConnectGuard {
        ConnectGuard {
            grants: self.clone(),
            run: Arc::default(),
        }
    }

    /// Runs a guest whose networking goes through `run`'s guard, and reports how it ended with
    /// what the guard refused on the way.
    pub fn guarded(
        &self,
        run: impl FnOnce(ConnectGuard) -> Result<ExitCode, RunError>,
    ) -> RunReport {
        let guard = self.guard();
        let outcome = run(guard.clone());
        RunReport {
            outcome,
            refusals: guard.refusals(),
            refused_growth: None,
        }
    }
}

/// What one run's connections and name lookups pass through: it checks them against the grants
/// and records what it refuses, for the run's [`RunReport`]. A backend makes
/// one per run; clones share the record, so one can go into the engine's networking layer while
/// the backend keeps another to collect the refusals when the run is over.
#[derive(Clone, Debug)]
pub struct ConnectGuard {
    grants: ConnectGrants,
    run: Arc<Mutex<RunState>>,
}

#[derive(Debug, Default)]
struct RunState {
    refused: Refusals,
    /// Host lookups of granted names, done once per run.
    resolved: HashMap<String, Vec<IpAddr>>,
}

impl ConnectGuard {
    fn state(&self) -> MutexGuard<'_, RunState> {
        // A panic while the lock was held cannot leave the record inconsistent.
        lock(&self.run)
    }

    /// What the location grants.
    pub fn grants(&self) -> &ConnectGrants {
        &self.grants
    }

    /// Records a refusal and returns it, for the runtime to turn into the guest's error.
    pub fn refuse(&self, refusal: Refusal) -> Refusal {
        self.state().refused.record(refusal.clone());
        refusal
    }

    /// What the guest was refused so far.
    pub fn refusals(&self) -> Refusals {
        self.state().refused.clone()
    }

    /// What the guest was refused since the last call: for an instance that serves one run
    /// after another, each run's own.
    pub fn take_refusals(&self) -> Refusals {
        std::mem::take(&mut self.state().refused)
    }

    /// Checks a connection the guest is about to open; a refusal is recorded.
    pub fn check_connect(&self, address: SocketAddr) -> Result<(), Refusal> {
        let granted = self.grants.as_slice().iter().any(|grant| {
            grant.allows_address(address)
                || match &grant.host {
                    GrantedHost::Name(name) if grant.port == address.port() => {
                        self.lookup(name).contains(&address.ip())
                    }
                    _ => false,
                }
        });
        if granted {
            Ok(())
        } else {
            Err(self.refuse(Refusal::Connect(address)))
        }
    }

    /// Answers a name lookup by the guest: the addresses of a granted name (an empty list when
    /// the host cannot resolve it); a name no grant mentions is refused and recorded. An IP
    /// address written as a name resolves to itself when it is granted.
    pub fn resolve(&self, name: &str) -> Result<Vec<IpAddr>, Refusal> {
        let grants = self.grants.as_slice();
        if let Ok(address) = name.parse::<IpAddr>() {
            if grants
                .iter()
                .any(|grant| grant.host == GrantedHost::Address(address))
            {
                return Ok(vec![address]);
            }
        } else if let Some(grant) = grants.iter().find(|grant| grant.allows_name(name)) {
            let GrantedHost::Name(granted) = &grant.host else {
                unreachable!("allows_name only matches name grants")
            };
            return Ok(self.lookup(granted));
        }
        Err(self.refuse(Refusal::Resolve(name.to_owned())))
    }

    /// The host resolver's addresses for a granted name, asked once per run.
    fn lookup(&self, name: &str) -> Vec<IpAddr> {
        if let Some(addresses) = self.state().resolved.get(name) {
            return addresses.clone();
        }
        // Not under the lock: a lookup can take as long as the resolver's timeout.
        let mut addresses: Vec<IpAddr> = (name, 0)
            .to_socket_addrs()
            .map(|found| found.map(|address| address.ip()).collect())
            .unwrap_or_default();
        addresses.dedup();
        self.state()
            .resolved
            .insert(name.to_owned(), addresses.clone());
        addresses
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_http_origin_is_granted_as_its_url_writes_it() {
        let grants = ConnectGrants::new(vec![
            ConnectGrant::parse("api.example.com:443").unwrap(),
            ConnectGrant::parse("127.0.0.1:8080").unwrap(),
            ConnectGrant::parse("[::1]:8080").unwrap(),
        ]);
        assert!(grants.allows_origin("API.example.com", 443));
        assert!(grants.allows_origin("127.0.0.1", 8080));
        assert!(grants.allows_origin("[::1]", 8080));
        assert!(grants.allows_origin("::1", 8080));
        assert!(!grants.allows_origin("api.example.com", 80));
        assert!(
            !grants.allows_origin("localhost", 8080),
            "a name is not its address"
        );
        assert!(!grants.allows_origin("example.com", 443));
    }

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
        for unix in ["unix:/run/mysqld/mysqld.sock", "/run/mysqld/mysqld.sock"] {
            assert!(
                matches!(ConnectGrant::parse(unix), Err(InvalidGrant::UnixSocket(_))),
                "{unix}"
            );
        }
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

    #[test]
    fn nothing_granted_refuses_everything_and_records_it() {
        let outbound = ConnectGrants::default().guard();
        let database: SocketAddr = "127.0.0.1:3306".parse().unwrap();
        assert_eq!(
            outbound.check_connect(database),
            Err(Refusal::Connect(database))
        );
        assert_eq!(
            outbound.resolve("localhost"),
            Err(Refusal::Resolve("localhost".into()))
        );
        // Every clone of a guard shares its record.
        assert_eq!(
            outbound.clone().refusals().kept(),
            [
                Refusal::Connect(database),
                Refusal::Resolve("localhost".into())
            ]
        );
    }

    #[test]
    fn a_run_keeps_the_first_refusals_and_counts_the_rest() {
        let outbound = ConnectGrants::default().guard();
        let database: SocketAddr = "127.0.0.1:3306".parse().unwrap();
        // A guest retrying a refused connection until its time limit.
        for _ in 0..100_000 {
            let _ = outbound.check_connect(database);
        }
        let refusals = outbound.refusals();
        assert_eq!(refusals.kept().len(), Refusals::KEPT);
        assert!(refusals
            .kept()
            .iter()
            .all(|r| *r == Refusal::Connect(database)));
        assert_eq!(refusals.dropped(), 100_000 - Refusals::KEPT as u64);
        assert_eq!(refusals.total(), 100_000);
    }

    #[test]
    fn each_run_keeps_its_own_record() {
        let grants = ConnectGrants::new(vec![grant("127.0.0.1:3306")]);
        let first = grants.guard();
        assert!(first.resolve("localhost").is_err());
        assert_eq!(first.refusals().total(), 1);
        assert!(grants.guard().refusals().is_empty());
    }

    #[test]
    fn grants_allow_their_address_and_port_only() {
        let outbound = ConnectGrants::new(vec![grant("127.0.0.1:3306")]).guard();
        assert_eq!(
            outbound.check_connect("127.0.0.1:3306".parse().unwrap()),
            Ok(())
        );
        assert!(outbound
            .check_connect("127.0.0.1:3307".parse().unwrap())
            .is_err());
        assert!(outbound
            .check_connect("127.0.0.2:3306".parse().unwrap())
            .is_err());
        assert_eq!(
            outbound.resolve("127.0.0.1"),
            Ok(vec!["127.0.0.1".parse().unwrap()])
        );
        assert!(outbound.resolve("127.0.0.2").is_err());
        assert_eq!(outbound.refusals().total(), 3);
    }

    #[test]
    fn name_grants_allow_what_the_name_resolves_to() {
        // `localhost` resolves through /etc/hosts, without a network.
        let outbound = ConnectGrants::new(vec![grant("LocalHost:3306")]).guard();
        let addresses = outbound.resolve("localhost").unwrap();
        assert!(
            addresses.contains(&"127.0.0.1".parse().unwrap()),
            "{addresses:?}"
        );
        assert_eq!(
            outbound.check_connect("127.0.0.1:3306".parse().unwrap()),
            Ok(())
        );
        assert!(outbound
            .check_connect("127.0.0.1:22".parse().unwrap())
            .is_err());
        assert!(outbound.resolve("example.org").is_err());
    }
}
