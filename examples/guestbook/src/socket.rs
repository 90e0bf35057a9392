//! Outbound TCP for a wasm32-wasip1 guest. WASI preview1 has no `connect`; the runtimes add
//! their own: WasmEdge's socket extension and WASIX. Both create a socket descriptor, after
//! which the preview1 functions `sock_send`, `sock_recv` and `fd_close` work on it alike.
//!
//! A WASI 0.2 component has sockets of its own (`wasi:sockets`), which std uses: [`Std`].
//! Natively (the same program under mod_cgi, or in tests), all three are
//! `std::net::TcpStream`.

use std::io;
use std::net::{IpAddr, SocketAddr};

/// A way to open TCP connections.
pub trait Connector {
    /// The addresses `host` resolves to (an IP address resolves to itself).
    fn resolve(&self, host: &str) -> io::Result<Vec<IpAddr>>;
    fn connect(&self, address: SocketAddr) -> io::Result<Stream>;

    /// Connects to the first address of `host` that accepts.
    fn connect_to(&self, host: &str, port: u16) -> io::Result<Stream> {
        let addresses = match host.parse::<IpAddr>() {
            Ok(address) => vec![address],
            Err(_) => self.resolve(host)?,
        };
        let mut last = io::Error::new(io::ErrorKind::NotFound, format!("{host} has no address"));
        for address in addresses {
            match self.connect(SocketAddr::new(address, port)) {
                Ok(stream) => return Ok(stream),
                Err(e) => last = e,
            }
        }
        Err(last)
    }
}

/// WasmEdge's socket extension (the `wasmedge_wasi_socket` ABI).
pub struct WasmEdge;

/// WASIX sockets (Wasmer).
pub struct Wasix;

/// std's sockets: `wasi:sockets` in a WASI 0.2 component (wasm32-wasip2).
pub struct Std;

#[cfg(any(not(target_os = "wasi"), target_env = "p2"))]
pub use std::net::TcpStream as Stream;

#[cfg(any(not(target_os = "wasi"), target_env = "p2"))]
mod native {
    use super::*;
    use std::net::ToSocketAddrs;

    impl Connector for Std {
        fn resolve(&self, host: &str) -> io::Result<Vec<IpAddr>> {
            resolve(host)
        }
        fn connect(&self, address: SocketAddr) -> io::Result<Stream> {
            Stream::connect(address).map_err(|e| match e.raw_os_error() {
                // Said as the preview1 builds say it, so that a refusal reads alike under
                // every runtime.
                Some(errno) if cfg!(target_os = "wasi") => io::Error::new(
                    e.kind(),
                    format!("connecting to {address} failed (WASI errno {errno})"),
                ),
                _ => e,
            })
        }
    }

    fn resolve(host: &str) -> io::Result<Vec<IpAddr>> {
        Ok((host, 0).to_socket_addrs()?.map(|a| a.ip()).collect())
    }

    impl Connector for WasmEdge {
        fn resolve(&self, host: &str) -> io::Result<Vec<IpAddr>> {
            resolve(host)
        }
        fn connect(&self, address: SocketAddr) -> io::Result<Stream> {
            Stream::connect(address)
        }
    }

    impl Connector for Wasix {
        fn resolve(&self, host: &str) -> io::Result<Vec<IpAddr>> {
            resolve(host)
        }
        fn connect(&self, address: SocketAddr) -> io::Result<Stream> {
            Stream::connect(address)
        }
    }
}

#[cfg(all(target_os = "wasi", not(target_env = "p2")))]
pub use wasi::Stream;

#[cfg(all(target_os = "wasi", not(target_env = "p2")))]
mod wasi {
    use super::*;
    use std::io::{Read, Write};

    /// A connected socket descriptor.
    pub struct Stream(u32);

    /// A WASI errno as an `io::Error`, with the refusals a sandbox gives named.
    fn error(errno: u16, what: &str) -> io::Error {
        let kind = match errno {
            2 | 63 => io::ErrorKind::PermissionDenied, // EACCES, EPERM
            14 => io::ErrorKind::ConnectionRefused,
            58 | 52 => io::ErrorKind::Unsupported, // ENOTSUP, ENOSYS
            _ => io::ErrorKind::Other,
        };
        io::Error::new(kind, format!("{what} failed (WASI errno {errno})"))
    }

    fn check(errno: u16, what: &str) -> io::Result<()> {
        if errno == 0 {
            Ok(())
        } else {
            Err(error(errno, what))
        }
    }

    #[repr(C)]
    struct IoVec {
        buf: *const u8,
        len: usize,
    }

    #[link(wasm_import_module = "wasi_snapshot_preview1")]
    extern "C" {
        fn sock_recv(
            fd: u32,
            iovs: *const IoVec,
            iovs_len: usize,
            flags: u16,
            received: *mut usize,
            out_flags: *mut u16,
        ) -> u16;
        fn sock_send(
            fd: u32,
            iovs: *const IoVec,
            iovs_len: usize,
            flags: u16,
            sent: *mut usize,
        ) -> u16;
        fn fd_close(fd: u32) -> u16;
    }

    impl Read for Stream {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let iov = IoVec {
                buf: buf.as_mut_ptr(),
                len: buf.len(),
            };
            let (mut received, mut flags) = (0, 0);
            // SAFETY: the iovec points into `buf`, valid for the call.
            check(
                unsafe { sock_recv(self.0, &iov, 1, 0, &mut received, &mut flags) },
                "sock_recv",
            )?;
            Ok(received)
        }
    }

    impl Write for Stream {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let iov = IoVec {
                buf: buf.as_ptr(),
                len: buf.len(),
            };
            let mut sent = 0;
            // SAFETY: the iovec points into `buf`, valid for the call.
            check(
                unsafe { sock_send(self.0, &iov, 1, 0, &mut sent) },
                "sock_send",
            )?;
            Ok(sent)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Drop for Stream {
        fn drop(&mut self) {
            // SAFETY: the descriptor is ours; nothing uses it afterwards.
            unsafe { fd_close(self.0) };
        }
    }

    /// std has no sockets in WASI preview1: the `guestbook` binary built for wasm32-wasip1
    /// says so instead of connecting.
    impl Connector for Std {
        fn resolve(&self, _: &str) -> io::Result<Vec<IpAddr>> {
            Err(no_std_sockets())
        }
        fn connect(&self, _: SocketAddr) -> io::Result<Stream> {
            Err(no_std_sockets())
        }
    }

    fn no_std_sockets() -> io::Error {
        io::Error::new(
            io::ErrorKind::Unsupported,
            "WASI preview1 has no sockets: build guestbook for wasm32-wasip2, or use \
             guestbook-wasmedge or guestbook-wasix",
        )
    }

    mod wasmedge {
        use super::*;

        /// `{ buf, buf_len }`: an address as bytes.
        #[repr(C)]
        struct Address {
            buf: *const u8,
            len: usize,
        }

        /// `sock_getaddrinfo`'s result records, as WasmEdge lays them out.
        #[repr(C)]
        struct SockAddr {
            family: u8,
            data_len: u32,
            data: *mut u8,
        }

        #[repr(C, packed(4))]
        struct AddrInfo {
            flags: u16,
            family: u8,
            socktype: u8,
            protocol: u8,
            addrlen: u32,
            addr: *mut SockAddr,
            canonname: *mut u8,
            canonnamelen: u32,
            next: *mut AddrInfo,
        }

        const INET4: u8 = 1;
        const INET6: u8 = 2;
        const STREAM: u8 = 2;

        #[link(wasm_import_module = "wasi_snapshot_preview1")]
        extern "C" {
            fn sock_open(family: u8, kind: u8, fd: *mut u32) -> u16;
            fn sock_connect(fd: u32, address: *const Address, port: u32) -> u16;
            #[allow(clippy::too_many_arguments)]
            fn sock_getaddrinfo(
                node: *const u8,
                node_len: u32,
                service: *const u8,
                service_len: u32,
                hints: *const AddrInfo,
                results: *mut *mut AddrInfo,
                max_results: u32,
                found: *mut u32,
            ) -> u16;
        }

        impl Connector for WasmEdge {
            /// WasmEdge answers with one IPv4 address.
            fn resolve(&self, host: &str) -> io::Result<Vec<IpAddr>> {
                let node = format!("{host}\0");
                let mut data = [0u8; 16];
                let mut sockaddr = SockAddr {
                    family: 0,
                    data_len: data.len() as u32,
                    data: data.as_mut_ptr(),
                };
                let mut info = AddrInfo {
                    flags: 0,
                    family: INET4,
                    socktype: STREAM,
                    protocol: 0,
                    addrlen: 0,
                    addr: &mut sockaddr,
                    canonname: std::ptr::null_mut(),
                    canonnamelen: 0,
                    next: std::ptr::null_mut(),
                };
                let hints = AddrInfo {
                    flags: 0,
                    family: INET4,
                    socktype: STREAM,
                    protocol: 0,
                    addrlen: 0,
                    addr: std::ptr::null_mut(),
                    canonname: std::ptr::null_mut(),
                    canonnamelen: 0,
                    next: std::ptr::null_mut(),
                };
                let mut results: *mut AddrInfo = &mut info;
                let mut found = 0;
                // SAFETY: every pointer refers to a local that outlives the call.
                check(
                    unsafe {
                        sock_getaddrinfo(
                            node.as_ptr(),
                            node.len() as u32,
                            std::ptr::null(),
                            0,
                            &hints,
                            &mut results,
                            1,
                            &mut found,
                        )
                    },
                    "sock_getaddrinfo",
                )?;
                // The record holds the port (2 bytes) and then the IPv4 address.
                Ok(if found == 0 {
                    Vec::new()
                } else {
                    vec![IpAddr::from([data[2], data[3], data[4], data[5]])]
                })
            }

            fn connect(&self, address: SocketAddr) -> io::Result<Stream> {
                let (family, octets) = match address.ip() {
                    IpAddr::V4(v4) => (INET4, v4.octets().to_vec()),
                    IpAddr::V6(v6) => (INET6, v6.octets().to_vec()),
                };
                let mut fd = 0;
                // SAFETY: `fd` outlives the call.
                check(unsafe { sock_open(family, STREAM, &mut fd) }, "sock_open")?;
                let stream = Stream(fd);
                let wire = Address {
                    buf: octets.as_ptr(),
                    len: octets.len(),
                };
                // SAFETY: `wire` and the octets it points to outlive the call.
                check(
                    unsafe { sock_connect(fd, &wire, u32::from(address.port())) },
                    &format!("connecting to {address}"),
                )?;
                Ok(stream)
            }
        }
    }

    mod wasix {
        use super::*;

        /// `__wasi_addr_port_t`: family, padding, then the port (little endian) and address.
        #[repr(C)]
        struct AddressPort {
            family: u8,
            padding: u8,
            octets: [u8; 18],
        }

        /// `__wasi_addr_t`: family, padding, address.
        #[repr(C)]
        #[derive(Clone, Copy)]
        struct Address {
            family: u8,
            padding: u8,
            octets: [u8; 16],
        }

        const INET4: u8 = 1;
        const INET6: u8 = 2;
        const STREAM: u8 = 1;
        const TCP: u16 = 6;

        #[link(wasm_import_module = "wasix_32v1")]
        extern "C" {
            fn sock_open(family: u8, kind: u8, protocol: u16, fd: *mut u32) -> u16;
            fn sock_connect(fd: u32, address: *const AddressPort) -> u16;
            fn resolve(
                host: *const u8,
                host_len: usize,
                port: u16,
                addresses: *mut Address,
                max_addresses: usize,
                found: *mut usize,
            ) -> u16;
        }

        impl Connector for Wasix {
            fn resolve(&self, host: &str) -> io::Result<Vec<IpAddr>> {
                let mut addresses = [Address {
                    family: 0,
                    padding: 0,
                    octets: [0; 16],
                }; 8];
                let mut found = 0;
                // SAFETY: `host` and `addresses` outlive the call, which writes at most
                // `addresses.len()` records.
                check(
                    unsafe {
                        resolve(
                            host.as_ptr(),
                            host.len(),
                            0,
                            addresses.as_mut_ptr(),
                            addresses.len(),
                            &mut found,
                        )
                    },
                    "resolve",
                )?;
                Ok(addresses[..found.min(addresses.len())]
                    .iter()
                    .filter_map(|a| match a.family {
                        INET4 => Some(IpAddr::from(<[u8; 4]>::try_from(&a.octets[..4]).ok()?)),
                        INET6 => Some(IpAddr::from(a.octets)),
                        _ => None,
                    })
                    .collect())
            }

            fn connect(&self, address: SocketAddr) -> io::Result<Stream> {
                let mut wire = AddressPort {
                    family: INET4,
                    padding: 0,
                    octets: [0; 18],
                };
                wire.octets[..2].copy_from_slice(&address.port().to_le_bytes());
                let family = match address.ip() {
                    IpAddr::V4(v4) => {
                        wire.octets[2..6].copy_from_slice(&v4.octets());
                        INET4
                    }
                    IpAddr::V6(v6) => {
                        wire.octets[2..18].copy_from_slice(&v6.octets());
                        INET6
                    }
                };
                wire.family = family;
                let mut fd = 0;
                // SAFETY: `fd` outlives the call.
                check(
                    unsafe { sock_open(family, STREAM, TCP, &mut fd) },
                    "sock_open",
                )?;
                let stream = Stream(fd);
                // SAFETY: `wire` outlives the call.
                check(
                    unsafe { sock_connect(fd, &wire) },
                    &format!("connecting to {address}"),
                )?;
                Ok(stream)
            }
        }
    }
}
