//! WasmEdge's socket extensions limited to what a location grants.
//!
//! async-wasi gives every guest unrestricted sockets (the ABI of the `wasmedge_wasi_socket`
//! crate). Before a run, the functions that reach the network are replaced in the run's WASI
//! module by guarded ones: they check the request with the run's [`ConnectGuard`] and then
//! call async-wasi's own implementation, so a granted socket is an ordinary async-wasi socket.
//!
//! - `sock_open`: TCP only (datagram sockets could send anywhere);
//! - `sock_connect`: only to granted addresses;
//! - `sock_bind`, `sock_listen`: refused, nothing is served from inside a request;
//! - `sock_getaddrinfo`: answered for granted names only. async-wasi implements it but does not
//!   register it; it is added here so that guests can connect by name, as a future (the
//!   host's resolver runs on a blocking thread), so that a slow lookup ends at the deadline.
//!
//! `sock_accept` has two signatures under one name: WasmEdge's `(fd, *fd)` and WASI preview1's
//! `(fd, flags, *fd)`, which wasi-libc's programs (CPython among them) import. A module gets
//! the one it imports (see [`AcceptAbi`]).
//!
//! A refusal is an errno the guest can handle (`EPERM` for a connection or a lookup, the errno
//! WASIX gives under Wasmer; `ENOTSUP` for a socket kind), and is recorded in the run's report.

use crate::WASI_NAMESPACE;
use runtime_api::{ConnectGuard, Refusal};
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use wasmedge_sdk::error::{CoreError, CoreExecutionError};
use wasmedge_sdk::r#async::wasi::async_wasi::snapshots::common::error::Errno;
use wasmedge_sdk::r#async::wasi::async_wasi::snapshots::common::memory::{Memory as _, WasmPtr};
use wasmedge_sdk::r#async::wasi::async_wasi::snapshots::common::types::{
    __wasi_address_t, __wasi_errno_t, __wasi_sock_type_t,
};
use wasmedge_sdk::r#async::wasi::async_wasi::snapshots::preview_1::async_socket;
use wasmedge_sdk::r#async::wasi::async_wasi::snapshots::preview_1::async_socket::addrinfo::{
    AddressFamily as AddrinfoFamily, WasiAddrinfo, WasiSockaddr,
};
use wasmedge_sdk::r#async::wasi::async_wasi::snapshots::WasiCtx;
use wasmedge_sdk::r#async::wasi::AsyncWasiModule;
use wasmedge_sdk::r#async::AsyncInstance;
use wasmedge_sdk::ExternalInstanceType;
use wasmedge_sdk::WasmEdgeResult;
use wasmedge_sdk::{Module, ValType};
use wasmedge_sys::r#async::function::AsyncFunction;
use wasmedge_sys::{CallingFrame, FuncType, Function, Instance, WasmValue};

/// What the guarded functions work on: the run's WASI context and its grants.
pub struct SocketGuard {
    /// The context owned by the run's `AsyncWasiModule` (boxed there, so its address is
    /// stable). Only the guest's own thread calls host functions, one at a time, and every
    /// other user of the context is an async-wasi function the guest called; so at any moment
    /// at most one `&mut` to it is in use.
    wasi: *mut WasiCtx,
    connections: ConnectGuard,
}

// SAFETY: see `wasi` above: the pointer is only dereferenced by host functions of this run,
// which WasmEdge calls one at a time, on whichever thread drives the guest.
unsafe impl Send for SocketGuard {}

impl SocketGuard {
    /// From now on, connections go through `connections`.
    pub fn set_connections(&mut self, connections: ConnectGuard) {
        self.connections = connections;
    }

    /// The run's WASI context.
    ///
    /// # Safety
    /// Only host functions of the run this guard belongs to may call it, while the guest
    /// waits for them; no other reference to the context is in use then (see `wasi`).
    unsafe fn wasi(&mut self) -> &mut WasiCtx {
        // SAFETY: the context outlives the run, and the caller holds the only use of it.
        unsafe { &mut *self.wasi }
    }
}

type Results = Result<Vec<WasmValue>, CoreError>;

fn errno(code: __wasi_errno_t::Type) -> Results {
    Ok(vec![WasmValue::from_i32(i32::from(code))])
}

/// The errno a guest sees for a refusal.
fn refused(refusal: &Refusal) -> Results {
    errno(match refusal {
        Refusal::Connect(_) | Refusal::Resolve(_) | Refusal::HttpRequest(_) => {
            __wasi_errno_t::__WASI_ERRNO_PERM
        }
        Refusal::Socket(_) => __wasi_errno_t::__WASI_ERRNO_NOTSUP,
    })
}

fn signature_mismatch() -> Results {
    Err(CoreError::Execution(CoreExecutionError::FuncSigMismatch))
}

fn no_memory() -> CoreError {
    CoreError::Execution(CoreExecutionError::MemoryOutOfBounds)
}

/// Which `sock_accept` a module imports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AcceptAbi {
    /// `sock_accept(fd, *fd)`, WasmEdge's socket extension: what async-wasi provides.
    #[default]
    WasmEdge,
    /// `sock_accept(fd, flags, *fd)`, as WASI preview1 declares it.
    Preview1,
}

impl AcceptAbi {
    /// The `sock_accept` that `module` imports (WasmEdge's when it imports none).
    pub fn of(module: &Module) -> Self {
        let preview1 = FuncType::new(vec![ValType::I32; 3], vec![ValType::I32]);
        let imports_preview1 = module.imports().iter().any(|import| {
            import.module_name() == WASI_NAMESPACE
                && import.name() == "sock_accept"
                && matches!(import.ty(), Ok(ExternalInstanceType::Func(ty)) if ty == preview1)
        });
        if imports_preview1 {
            Self::Preview1
        } else {
            Self::WasmEdge
        }
    }
}

/// Replaces the network functions of `wasi` by guarded ones, and gives it the `sock_accept`
/// the module imports. The returned guard is their host data: it must outlive every use of
/// `wasi`.
pub fn guard_sockets(
    wasi: &mut AsyncWasiModule,
    connections: ConnectGuard,
    accept: AcceptAbi,
) -> WasmEdgeResult<Box<SocketGuard>> {
    let module = wasi.as_mut();
    let mut guard = Box::new(SocketGuard {
        wasi: module.get_host_data_mut(),
        connections,
    });
    let data: *mut SocketGuard = &mut *guard;
    let i32s = |n: usize| vec![ValType::I32; n];
    let sync_functions: [(&str, usize, SyncGuarded); 3] = [
        ("sock_open", 3, sock_open),
        ("sock_bind", 3, sock_bind),
        ("sock_listen", 2, sock_listen),
    ];
    for (name, params, function) in sync_functions {
        let ty = FuncType::new(i32s(params), i32s(1));
        // SAFETY: `data` points into `guard`, which the caller keeps alive while `wasi` is.
        let function = unsafe { Function::create_sync_func(&ty, function, data, 0) }?;
        module.add_func(name, function);
    }
    module.add_async_func(
        "sock_getaddrinfo",
        AsyncFunction::create_async_func(
            &FuncType::new(i32s(8), i32s(1)),
            sock_getaddrinfo,
            data,
            0,
        )?,
    );
    let ty = FuncType::new(i32s(3), i32s(1));
    module.add_async_func(
        "sock_connect",
        AsyncFunction::create_async_func(&ty, sock_connect, data, 0)?,
    );
    if accept == AcceptAbi::Preview1 {
        let ty = FuncType::new(i32s(3), i32s(1));
        module.add_async_func(
            "sock_accept",
            AsyncFunction::create_async_func(&ty, sock_accept_preview1, data, 0)?,
        );
    }
    Ok(guard)
}

type SyncGuarded =
    fn(&mut SocketGuard, &mut Instance, &mut CallingFrame, Vec<WasmValue>) -> Results;

/// `sock_open(address_family, socket_type, *fd)`: stream sockets only.
fn sock_open(
    guard: &mut SocketGuard,
    _: &mut Instance,
    frame: &mut CallingFrame,
    args: Vec<WasmValue>,
) -> Results {
    let [family, kind, fd_out] = args[..] else {
        return signature_mismatch();
    };
    let kind = kind.to_i32() as __wasi_sock_type_t::Type;
    if kind != __wasi_sock_type_t::__WASI_SOCK_TYPE_SOCK_STREAM {
        return refused(
            &guard
                .connections
                .refuse(Refusal::Socket("a socket other than TCP")),
        );
    }
    let mut memory = frame.memory_mut(0).ok_or_else(no_memory)?;
    // SAFETY: a host function of this run.
    let wasi = unsafe { guard.wasi() };
    let outcome = async_socket::sock_open(
        wasi,
        &mut *memory,
        family.to_i32() as u8,
        kind,
        WasmPtr::from(fd_out.to_i32() as u32 as usize),
    );
    errno(outcome.err().map_or(0, |e| e.0))
}

fn sock_bind(
    guard: &mut SocketGuard,
    _: &mut Instance,
    _: &mut CallingFrame,
    _: Vec<WasmValue>,
) -> Results {
    refused(
        &guard
            .connections
            .refuse(Refusal::Socket("binding a local address")),
    )
}

fn sock_listen(
    guard: &mut SocketGuard,
    _: &mut Instance,
    _: &mut CallingFrame,
    _: Vec<WasmValue>,
) -> Results {
    refused(
        &guard
            .connections
            .refuse(Refusal::Socket("listening for connections")),
    )
}

/// `sock_getaddrinfo(node, node_len, service, service_len, hints, *res, max_len, *res_len)`:
/// for granted names only, answered as async-wasi answers it (its first IPv4 address, in the
/// first of the guest's `addrinfo`s) from the guard's lookup. That lookup asks the host's
/// resolver, which blocks: it runs on a blocking thread, so that the call is a future like a
/// connect, which ends at the run's deadline however long the resolver takes.
fn sock_getaddrinfo<'data, 'inst, 'frame, 'fut>(
    guard: &'data mut SocketGuard,
    _: &'inst mut AsyncInstance,
    frame: &'frame mut CallingFrame,
    args: Vec<WasmValue>,
) -> Box<dyn Future<Output = Results> + Send + 'fut>
where
    'data: 'fut,
    'inst: 'fut,
    'frame: 'fut,
{
    Box::new(async move {
        let [node, node_len, _service, _service_len, _hints, res, max_len, res_len] = args[..]
        else {
            return signature_mismatch();
        };
        let ptr = |value: WasmValue| value.to_i32() as u32 as usize;
        let mut memory = frame.memory_mut(0).ok_or_else(no_memory)?;
        let name = match memory.get_slice(WasmPtr::<u8>::from(ptr(node)), ptr(node_len)) {
            // The node is NUL-terminated within its length.
            Ok(bytes) => {
                String::from_utf8_lossy(bytes.split(|&b| b == 0).next().unwrap_or(&[])).into_owned()
            }
            Err(e) => return errno(e.0),
        };
        if max_len.to_i32() == 0 {
            return errno(__wasi_errno_t::__WASI_ERRNO_INVAL);
        }
        let connections = guard.connections.clone();
        let resolved = tokio::task::spawn_blocking(move || connections.resolve(&name)).await;
        let addresses = match resolved {
            Ok(Ok(addresses)) => addresses,
            Ok(Err(refusal)) => return refused(&refusal),
            Err(_) => return errno(__wasi_errno_t::__WASI_ERRNO_IO),
        };
        let first_ipv4 = addresses.iter().find_map(|address| match address {
            IpAddr::V4(ipv4) => Some(*ipv4),
            IpAddr::V6(_) => None,
        });
        let answered = write_addrinfo(
            &mut *memory,
            WasmPtr::from(ptr(res)),
            WasmPtr::from(ptr(res_len)),
            first_ipv4,
        );
        errno(answered.err().map_or(0, |e| e.0))
    })
}

/// Writes `address` (port 0) into the first `addrinfo` whose address `*res` points to, and the
/// count of answers (0 or 1) at `res_len`, as async-wasi's `sock_getaddrinfo` does.
fn write_addrinfo(
    memory: &mut impl wasmedge_sdk::r#async::wasi::async_wasi::snapshots::common::memory::Memory,
    res: WasmPtr<u32>,
    res_len: WasmPtr<u32>,
    address: Option<Ipv4Addr>,
) -> Result<(), Errno> {
    let Some(address) = address else {
        return memory.write_data(res_len, 0);
    };
    let info_ptr = *memory.get_data(res)?;
    let info = memory.mut_data(WasmPtr::<WasiAddrinfo>::from(info_ptr as usize))?;
    info.ai_addrlen = 4;
    let sockaddr_ptr = WasmPtr::<WasiSockaddr>::from(info.ai_addr as usize);
    let sockaddr = memory.mut_data(sockaddr_ptr)?;
    sockaddr.family = AddrinfoFamily::Inet4;
    let (data_ptr, data_len) = (sockaddr.sa_data as usize, sockaddr.sa_data_len as usize);
    let data = memory.mut_slice(WasmPtr::<u8>::from(data_ptr), data_len)?;
    if data.len() < 6 {
        return Err(Errno::__WASI_ERRNO_INVAL);
    }
    // The port (0: none was asked for), then the address, both in network order.
    data[..2].copy_from_slice(&0u16.to_be_bytes());
    data[2..6].copy_from_slice(&address.octets());
    memory.write_data(res_len, 1)
}

/// `sock_connect(fd, *address, port)`: async-wasi's connect, to granted addresses only.
fn sock_connect<'data, 'inst, 'frame, 'fut>(
    guard: &'data mut SocketGuard,
    _: &'inst mut AsyncInstance,
    frame: &'frame mut CallingFrame,
    args: Vec<WasmValue>,
) -> Box<dyn Future<Output = Results> + Send + 'fut>
where
    'data: 'fut,
    'inst: 'fut,
    'frame: 'fut,
{
    Box::new(async move {
        let [fd, address, port] = args[..] else {
            return signature_mismatch();
        };
        let address_ptr = WasmPtr::<__wasi_address_t>::from(address.to_i32() as u32 as usize);
        let memory = frame.memory_mut(0).ok_or_else(no_memory)?;
        let ip = match guest_ip(&*memory, address_ptr) {
            Ok(ip) => ip,
            Err(code) => return errno(code),
        };
        // The check may ask the host's resolver, which blocks: not on the async workers.
        let connections = guard.connections.clone();
        let peer = SocketAddr::new(ip, port.to_i32() as u16);
        let checked = tokio::task::spawn_blocking(move || connections.check_connect(peer)).await;
        match checked {
            Ok(Ok(())) => {}
            Ok(Err(refusal)) => return refused(&refusal),
            Err(_) => return errno(__wasi_errno_t::__WASI_ERRNO_IO),
        }
        // SAFETY: a host function of this run.
        let wasi = unsafe { guard.wasi() };
        let outcome = async_socket::sock_connect(
            wasi,
            &*memory,
            fd.to_i32(),
            address_ptr,
            port.to_i32() as u32,
        )
        .await;
        errno(outcome.err().map_or(0, |e| e.0))
    })
}

/// `sock_accept(fd, flags, *fd)` of WASI preview1: async-wasi's accept. The flags (the new
/// descriptor's `O_NONBLOCK`) are not applied: no accept can succeed, because a guest can
/// neither listen nor be handed a listening socket.
fn sock_accept_preview1<'data, 'inst, 'frame, 'fut>(
    guard: &'data mut SocketGuard,
    _: &'inst mut AsyncInstance,
    frame: &'frame mut CallingFrame,
    args: Vec<WasmValue>,
) -> Box<dyn Future<Output = Results> + Send + 'fut>
where
    'data: 'fut,
    'inst: 'fut,
    'frame: 'fut,
{
    Box::new(async move {
        let [fd, _flags, fd_out] = args[..] else {
            return signature_mismatch();
        };
        let mut memory = frame.memory_mut(0).ok_or_else(no_memory)?;
        // SAFETY: a host function of this run.
        let wasi = unsafe { guard.wasi() };
        let outcome = async_socket::sock_accept(
            wasi,
            &mut *memory,
            fd.to_i32(),
            WasmPtr::from(fd_out.to_i32() as u32 as usize),
        )
        .await;
        errno(outcome.err().map_or(0, |e| e.0))
    })
}

/// The IP address a guest passes as `{ buf, buf_len }`: 4 or 16 bytes.
fn guest_ip(
    memory: &impl wasmedge_sdk::r#async::wasi::async_wasi::snapshots::common::memory::Memory,
    address: WasmPtr<__wasi_address_t>,
) -> Result<IpAddr, __wasi_errno_t::Type> {
    let header = *memory.get_data(address).map_err(|e| e.0)?;
    let octets = memory
        .get_slice(
            WasmPtr::<u8>::from(header.buf as usize),
            header.buf_len as usize,
        )
        .map_err(|e| e.0)?;
    match *octets {
        [a, b, c, d] => Ok(IpAddr::V4(Ipv4Addr::new(a, b, c, d))),
        _ => <[u8; 16]>::try_from(octets)
            .map(|v6| IpAddr::V6(Ipv6Addr::from(v6)))
            .map_err(|_| __wasi_errno_t::__WASI_ERRNO_INVAL),
    }
}
