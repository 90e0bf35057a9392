/*
 * Sockets through WasmEdge's socket extension: functions WasmEdge adds to the
 * wasi_snapshot_preview1 module, as the wasmedge_wasi_socket crate declares them. The server
 * checks each connection and lookup against the location's WasmAllowConnect grants.
 */
#include "../net.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#define WASMEDGE_INET4 1
#define WASMEDGE_INET6 2
#define WASMEDGE_STREAM 2

/* An address as bytes. */
struct wasmedge_address {
	const uint8_t *buf;
	uint32_t len;
};

/* sock_getaddrinfo's records, as WasmEdge lays them out: C's own layout on wasm32. */
struct wasmedge_sockaddr {
	uint8_t family;
	uint32_t data_len;
	uint8_t *data;
};

struct wasmedge_addrinfo {
	uint16_t flags;
	uint8_t family;
	uint8_t socktype;
	uint8_t protocol;
	uint32_t addrlen;
	struct wasmedge_sockaddr *addr;
	char *canonname;
	uint32_t canonnamelen;
	struct wasmedge_addrinfo *next;
};

#define WASMEDGE_IMPORT(name) __attribute__((import_module("wasi_snapshot_preview1"), import_name(name)))

WASMEDGE_IMPORT("sock_open")
uint16_t wasmedge_sock_open(uint32_t family, uint32_t kind, uint32_t *fd);
WASMEDGE_IMPORT("sock_connect")
uint16_t wasmedge_sock_connect(uint32_t fd, const struct wasmedge_address *address, uint32_t port);
WASMEDGE_IMPORT("sock_getaddrinfo")
uint16_t wasmedge_sock_getaddrinfo(const char *node, uint32_t node_len, const char *service, uint32_t service_len,
	const struct wasmedge_addrinfo *hints, struct wasmedge_addrinfo **results, uint32_t max, uint32_t *found);

int compat_net_open(int family, int *fd)
{
	uint32_t opened;
	uint16_t error = wasmedge_sock_open(family == AF_INET6 ? WASMEDGE_INET6 : WASMEDGE_INET4, WASMEDGE_STREAM, &opened);
	if (error == 0) {
		*fd = (int) opened;
	}
	return error;
}

int compat_net_connect(int fd, const struct compat_net_address *address, unsigned port)
{
	struct wasmedge_address wire = { address->octets, address->family == AF_INET6 ? 16 : 4 };
	return wasmedge_sock_connect((uint32_t) fd, &wire, port);
}

/* WasmEdge answers with one IPv4 address, written into the record the call is given. */
int compat_net_resolve(const char *name, struct compat_net_address *addresses, size_t max, size_t *found)
{
	uint8_t data[16];
	struct wasmedge_sockaddr sockaddr = { 0, sizeof data, data };
	struct wasmedge_addrinfo record = { .family = WASMEDGE_INET4, .socktype = WASMEDGE_STREAM, .addr = &sockaddr };
	struct wasmedge_addrinfo hints = { .family = WASMEDGE_INET4, .socktype = WASMEDGE_STREAM };
	struct wasmedge_addrinfo *results = &record;
	uint32_t count = 0;
	*found = 0;
	/* The name is passed with its terminating NUL, as wasmedge_wasi_socket passes it. */
	uint16_t error = wasmedge_sock_getaddrinfo(name, (uint32_t) strlen(name) + 1, NULL, 0, &hints, &results, 1, &count);
	if (error != 0) {
		return error;
	}
	if (count > 0 && max > 0) {
		/* The record's data is the port (2 bytes), then the address. */
		addresses[0].family = AF_INET;
		memcpy(addresses[0].octets, data + 2, 4);
		*found = 1;
	}
	return 0;
}
