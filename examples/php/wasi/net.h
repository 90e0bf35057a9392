/*
 * Outbound TCP for WASI 0.1, which has no way to open a socket: the runtimes that connect add
 * their own, WASIX under Wasmer and WasmEdge's socket extension. Both give a descriptor on
 * which WASI 0.1's own functions work (sock_recv, sock_send, poll_oneoff, fd_close), so
 * wasi-libc's recv(), send(), poll() and close() serve PHP unchanged; what differs is how a
 * socket is opened, connected, and how a name is looked up. compat.c implements socket(),
 * connect(), gethostbyname() and getaddrinfo() on these three functions, and net/<abi>.c
 * implements them once per ABI. PHP is compiled once; each flavour links a different one.
 *
 * Each returns 0 or a WASI errno (which is wasi-libc's errno): EPERM when the location does
 * not grant the address or name (the server logs the refusal), ENOSYS where there are no
 * sockets at all.
 */
#ifndef MOD_WASM_PHP_WASI_NET_H
#define MOD_WASM_PHP_WASI_NET_H

#include <netinet/in.h>
#include <stddef.h>

/* An IP address: AF_INET with 4 octets, or AF_INET6 with 16. */
struct compat_net_address {
	int family;
	unsigned char octets[16];
};

/* Opens a TCP socket of the address family (AF_INET or AF_INET6) in *fd. */
int compat_net_open(int family, int *fd);

/* Connects the socket to address:port (the port in host order), blocking until done. */
int compat_net_connect(int fd, const struct compat_net_address *address, unsigned port);

/* The addresses name resolves to, at most max of them, their number in *found. */
int compat_net_resolve(const char *name, struct compat_net_address *addresses, size_t max, size_t *found);

#endif
