//! A component's TCP connections (`wasi:sockets`): opened only to what the location grants
//! (`WasmAllowConnect host:port`), names looked up only when a grant names them, and the rest
//! refused and recorded for the run's report, as under the other runtimes.
//!
//! wasmtime-wasi asks the host about every address a socket is to be bound to, connected to or
//! listen on (its socket address check): a connection is checked against the run's
//! [`ConnectGuard`], the implicit bind that precedes it is let through, and anything else
//! (listening, a bind of the guest's choosing) is refused. UDP is never enabled. Its own name
//! lookup asks the host's resolver about any name the guest gives, which would let a guest
//! send what it likes to any DNS server on the way; so `wasi:sockets/ip-name-lookup` is
//! replaced here by one that answers from the guard, which looks up granted names only.

use super::RunState;
use runtime_api::{ConnectGuard, Refusal};
use std::net::IpAddr;
use wasmtime::component::{Linker, Resource, ResourceType};
use wasmtime_wasi::p2::bindings::sockets::network::{ErrorCode, IpAddress};
use wasmtime_wasi::p2::{subscribe, DynPollable, Network, Pollable};
use wasmtime_wasi::sockets::SocketAddrUse;
use wasmtime_wasi::WasiCtxBuilder;

/// The `wasi:sockets/ip-name-lookup` that wasmtime-wasi links, and this module replaces.
const IP_NAME_LOOKUP: &str = "wasi:sockets/ip-name-lookup@0.2.12";

/// Lets the run's sockets connect where `guard` allows, and nowhere else.
pub(super) fn grant(builder: &mut WasiCtxBuilder, guard: ConnectGuard) {
    builder
        .allow_tcp(true)
        .allow_udp(false)
        // Replaced by `link_name_lookup`; off in case anything reached wasmtime-wasi's own.
        .allow_ip_name_lookup(false)
        .socket_addr_check(move |address, usage| {
            let allowed = match usage {
                SocketAddrUse::TcpConnect => guard.check_connect(address).is_ok(),
                // What a connection does first, with the system choosing address and port.
                SocketAddrUse::TcpBind if address.ip().is_unspecified() && address.port() == 0 => {
                    true
                }
                SocketAddrUse::TcpBind => {
                    guard.refuse(Refusal::Socket("binding a local address"));
                    false
                }
                SocketAddrUse::TcpListen | SocketAddrUse::TcpAccept => {
                    guard.refuse(Refusal::Socket("listening for connections"));
                    false
                }
                _ => {
                    guard.refuse(Refusal::Socket("a socket other than TCP"));
                    false
                }
            };
            Box::pin(async move { allowed })
        });
}

/// The addresses one lookup found, handed out one by one.
pub(super) struct ResolvedAddresses(std::vec::IntoIter<IpAddr>);

/// A lookup is answered before its stream exists: it is always ready.
#[wasmtime_wasi::async_trait]
impl Pollable for ResolvedAddresses {
    async fn ready(&mut self) {}
}

/// Replaces wasmtime-wasi's `wasi:sockets/ip-name-lookup` in `linker` (which must allow
/// shadowing) with lookups through the run's guard.
pub(super) fn link_name_lookup(linker: &mut Linker<RunState>) -> wasmtime::Result<()> {
    let mut lookup = linker.instance(IP_NAME_LOOKUP)?;
    lookup.resource(
        "resolve-address-stream",
        ResourceType::host::<ResolvedAddresses>(),
        |mut store, rep| {
            let stream = Resource::<ResolvedAddresses>::new_own(rep);
            store.data_mut().table.delete(stream)?;
            Ok(())
        },
    )?;
    lookup.func_wrap(
        "resolve-addresses",
        |mut store, (network, name): (Resource<Network>, String)| {
            let state = store.data_mut();
            // The network is the guest's capability to look names up: it must hold one.
            state.table.get(&network)?;
            let answer = match state.connections.resolve(&name) {
                Ok(addresses) => Ok(state.table.push(ResolvedAddresses(addresses.into_iter()))?),
                // What wasmtime-wasi answers when lookups are not allowed at all.
                Err(_) => Err(ErrorCode::PermanentResolverFailure),
            };
            Ok((answer,))
        },
    )?;
    lookup.func_wrap(
        "[method]resolve-address-stream.resolve-next-address",
        |mut store, (stream,): (Resource<ResolvedAddresses>,)| {
            let next = store.data_mut().table.get_mut(&stream)?.0.next();
            Ok((Ok::<_, ErrorCode>(next.map(IpAddress::from)),))
        },
    )?;
    lookup.func_wrap(
        "[method]resolve-address-stream.subscribe",
        |mut store, (stream,): (Resource<ResolvedAddresses>,)| {
            let pollable: Resource<DynPollable> = subscribe(&mut store.data_mut().table, stream)?;
            Ok((pollable,))
        },
    )?;
    Ok(())
}
