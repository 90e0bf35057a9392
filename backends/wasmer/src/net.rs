//! WASIX networking limited to what a location grants: outbound TCP connections and name
//! lookups checked by the run's [`ConnectGuard`], everything else (listening, UDP, raw sockets)
//! unsupported. Granted connections are the host's own sockets, wrapped so that their waits
//! end when the run is stopped.

use crate::stop::{Stop, Waiter};
use runtime_api::ConnectGuard;
use std::future::Future;
use std::mem::MaybeUninit;
use std::net::{IpAddr, Shutdown, SocketAddr};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;
use virtual_mio::{ArcInterestHandler, InterestHandler, InterestType};
use virtual_net::host::LocalNetworking;
use virtual_net::{
    NetworkError, SocketStatus, VirtualConnectedSocket, VirtualIoSource, VirtualNetworking,
    VirtualSocket, VirtualTcpSocket,
};

/// The networking of one run.
#[derive(Debug)]
pub struct GrantedNetworking {
    /// The process's host networking (it owns a poller thread, so it is not made per run).
    host: Arc<LocalNetworking>,
    guard: ConnectGuard,
    stop: Arc<Stop>,
}

impl GrantedNetworking {
    pub fn new(host: Arc<LocalNetworking>, guard: ConnectGuard, stop: Arc<Stop>) -> Self {
        Self { host, guard, stop }
    }

    /// Runs a check that may ask the host's resolver (which blocks) off the async workers,
    /// giving up on it when the run is stopped.
    async fn checked<T: Send + 'static>(
        &self,
        check: impl FnOnce(&ConnectGuard) -> Result<T, runtime_api::Refusal> + Send + 'static,
    ) -> virtual_net::Result<T> {
        let guard = self.guard.clone();
        let mut checking = tokio::task::spawn_blocking(move || check(&guard));
        let mut stopped = std::pin::pin!(self.stop.waiter().until_stopped());
        std::future::poll_fn(|cx| {
            if stopped.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Err(NetworkError::TimedOut));
            }
            match std::pin::Pin::new(&mut checking).poll(cx) {
                Poll::Ready(Ok(Ok(checked))) => Poll::Ready(Ok(checked)),
                Poll::Ready(Ok(Err(_refused))) => Poll::Ready(Err(NetworkError::PermissionDenied)),
                Poll::Ready(Err(_)) => Poll::Ready(Err(NetworkError::UnknownError)),
                Poll::Pending => Poll::Pending,
            }
        })
        .await
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
        let socket = self.host.connect_tcp(addr, peer).await?;
        Ok(Box::new(StoppableSocket::new(socket, &self.stop)))
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

/// A host TCP socket whose waits end when its run is stopped.
///
/// WASIX waits on a socket in two ways: polling it for readiness (a connect waits until it is
/// writable), and retrying `try_send`/`try_recv` each time the handler it set is told of new
/// interest. Each way registers with the run's [`Stop`], which wakes it; from then on every
/// operation fails with `TimedOut`, and the guest, back in its code, is interrupted.
#[derive(Debug)]
struct StoppableSocket {
    inner: Box<dyn VirtualTcpSocket + Sync>,
    readable: Waiter,
    writable: Waiter,
    handled: Waiter,
}

impl StoppableSocket {
    fn new(inner: Box<dyn VirtualTcpSocket + Sync>, stop: &Arc<Stop>) -> Self {
        Self {
            inner,
            readable: stop.waiter(),
            writable: stop.waiter(),
            handled: stop.waiter(),
        }
    }

    /// `TimedOut` once the run is stopped.
    fn running(&self) -> virtual_net::Result<()> {
        if self.handled.stopped() {
            Err(NetworkError::TimedOut)
        } else {
            Ok(())
        }
    }

    fn poll_ready(
        waiter: &Waiter,
        cx: &mut Context<'_>,
        poll: impl FnOnce(&mut Context<'_>) -> Poll<virtual_net::Result<usize>>,
    ) -> Poll<virtual_net::Result<usize>> {
        if waiter.stopped_or_wake(cx.waker()) {
            return Poll::Ready(Err(NetworkError::TimedOut));
        }
        let ready = poll(cx);
        if ready.is_ready() {
            waiter.forget();
        }
        ready
    }
}

/// Tells a socket handler of an error when the run is stopped, which makes WASIX try the
/// socket again.
struct HandlerWaker(ArcInterestHandler);

impl Wake for HandlerWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.clone().push_interest(InterestType::Error);
    }
}

impl VirtualIoSource for StoppableSocket {
    fn remove_handler(&mut self) {
        self.handled.forget();
        self.inner.remove_handler();
    }

    fn poll_read_ready(&mut self, cx: &mut Context<'_>) -> Poll<virtual_net::Result<usize>> {
        Self::poll_ready(&self.readable, cx, |cx| self.inner.poll_read_ready(cx))
    }

    fn poll_write_ready(&mut self, cx: &mut Context<'_>) -> Poll<virtual_net::Result<usize>> {
        Self::poll_ready(&self.writable, cx, |cx| self.inner.poll_write_ready(cx))
    }
}

impl VirtualSocket for StoppableSocket {
    fn set_ttl(&mut self, ttl: u32) -> virtual_net::Result<()> {
        self.inner.set_ttl(ttl)
    }

    fn ttl(&self) -> virtual_net::Result<u32> {
        self.inner.ttl()
    }

    fn addr_local(&self) -> virtual_net::Result<SocketAddr> {
        self.inner.addr_local()
    }

    fn status(&self) -> virtual_net::Result<SocketStatus> {
        self.inner.status()
    }

    fn last_error(&self) -> virtual_net::Result<Option<NetworkError>> {
        self.inner.last_error()
    }

    fn set_handler(
        &mut self,
        handler: Box<dyn InterestHandler + Send + Sync>,
    ) -> virtual_net::Result<()> {
        let handler = ArcInterestHandler::new(handler);
        let waker = Waker::from(Arc::new(HandlerWaker(handler.clone())));
        if self.handled.stopped_or_wake(&waker) {
            waker.wake_by_ref();
        }
        self.inner.set_handler(Box::new(handler))
    }
}

impl VirtualConnectedSocket for StoppableSocket {
    fn set_linger(&mut self, linger: Option<Duration>) -> virtual_net::Result<()> {
        self.inner.set_linger(linger)
    }

    fn linger(&self) -> virtual_net::Result<Option<Duration>> {
        self.inner.linger()
    }

    fn try_send(&mut self, data: &[u8]) -> virtual_net::Result<usize> {
        self.running()?;
        self.inner.try_send(data)
    }

    fn try_flush(&mut self) -> virtual_net::Result<()> {
        self.running()?;
        self.inner.try_flush()
    }

    fn close(&mut self) -> virtual_net::Result<()> {
        self.inner.close()
    }

    fn try_recv(&mut self, buf: &mut [MaybeUninit<u8>], peek: bool) -> virtual_net::Result<usize> {
        self.running()?;
        self.inner.try_recv(buf, peek)
    }
}

impl VirtualTcpSocket for StoppableSocket {
    fn set_recv_buf_size(&mut self, size: usize) -> virtual_net::Result<()> {
        self.inner.set_recv_buf_size(size)
    }

    fn recv_buf_size(&self) -> virtual_net::Result<usize> {
        self.inner.recv_buf_size()
    }

    fn set_send_buf_size(&mut self, size: usize) -> virtual_net::Result<()> {
        self.inner.set_send_buf_size(size)
    }

    fn send_buf_size(&self) -> virtual_net::Result<usize> {
        self.inner.send_buf_size()
    }

    fn set_nodelay(&mut self, nodelay: bool) -> virtual_net::Result<()> {
        self.inner.set_nodelay(nodelay)
    }

    fn nodelay(&self) -> virtual_net::Result<bool> {
        self.inner.nodelay()
    }

    fn set_keepalive(&mut self, keepalive: bool) -> virtual_net::Result<()> {
        self.inner.set_keepalive(keepalive)
    }

    fn keepalive(&self) -> virtual_net::Result<bool> {
        self.inner.keepalive()
    }

    fn set_dontroute(&mut self, dontroute: bool) -> virtual_net::Result<()> {
        self.inner.set_dontroute(dontroute)
    }

    fn dontroute(&self) -> virtual_net::Result<bool> {
        self.inner.dontroute()
    }

    fn addr_peer(&self) -> virtual_net::Result<SocketAddr> {
        self.inner.addr_peer()
    }

    fn shutdown(&mut self, how: Shutdown) -> virtual_net::Result<()> {
        self.inner.shutdown(how)
    }

    fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }
}
