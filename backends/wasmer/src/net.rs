//! WASIX networking limited to what a location grants: outbound TCP connections and name
//! lookups checked by the run's [`ConnectGuard`], everything else (listening, UDP, raw sockets)
//! unsupported. Granted connections are the host's own sockets.

use runtime_api::ConnectGuard;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use virtual_net::host::LocalNetworking;
use virtual_net::{NetworkError, VirtualNetworking, VirtualTcpSocket};

/// The networking of one run.
#[derive(Debug)]
pub struct GrantedNetworking {
    /// The process's host networking (it owns a poller thread, so it is not made per run).
    host: Arc<LocalNetworking>,
    guard: ConnectGuard,
}

impl GrantedNetworking {
    pub fn new(host: Arc<LocalNetworking>, guard: ConnectGuard) -> Self {
        Self { host, guard }
    }

    /// Runs a check that may ask the host's resolver (which blocks) off the async workers.
    async fn checked<T: Send + 'static>(
        &self,
        check: impl FnOnce(&ConnectGuard) -> Result<T, runtime_api::Refusal> + Send + 'static,
    ) -> virtual_net::Result<T> {
        let guard = self.guard.clone();
        tokio::task::spawn_blocking(move || check(&guard))
            .await
            .map_err(|_| NetworkError::UnknownError)?
            .map_err(|_| NetworkError::PermissionDenied)
    }
}

// Only the two methods below are overridden; the trait's defaults refuse everything else with
// `Unsupported`.
#[async_trait::async_trait]
impl VirtualNetworking for GrantedNetworking {
    async fn connect_tcp(
        &self,
        addr: SocketAddr,
        peer: SocketAddr,
    ) -> virtual_net::Result<Box<dyn VirtualTcpSocket + Sync>> {
        self.checked(move |guard| guard.check_connect(peer)).await?;
        self.host.connect_tcp(addr, peer).await
    }

    async fn resolve(
        &self,
        host: &str,
        _port: Option<u16>,
        _dns_server: Option<IpAddr>,
    ) -> virtual_net::Result<Vec<IpAddr>> {
        // Answered by the host's resolver, whatever DNS server the guest asks for.
        let host = host.to_owned();
        self.checked(move |guard| guard.resolve(&host)).await
    }
}
