/*
 * Sockets through WASIX (Wasmer): the functions of the wasix_32v1 module, as its
 * wasix-libc declares them. Wasmer checks each connection and lookup against the location's
 * WasmAllowConnect grants.
 */
#include "../net.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#define WASIX_INET4 1
#define WASIX_INET6 2
#define WASIX_STREAM 1
#define WASIX_TCP 6

/* __wasi_addr_port_t: the family, then the port (little endian) and the address. */
struct wasix_address_port {
	uint8_t family;
	uint8_t padding;
	uint8_t port_and_octets[18];
};

/* __wasi_addr_t: the family, then the address. */
struct wasix_address {
	uint8_t family;
	uint8_t padding;
	uint8_t octets[16];
};

#define WASIX_IMPORT(name) __attribute__((import_module("wasix_32v1"), import_name(name)))

WASIX_IMPORT("sock_open")
uint16_t wasix_sock_open(uint32_t family, uint32_t kind, uint32_t protocol, uint32_t *fd);
WASIX_IMPORT("sock_connect")
uint16_t wasix_sock_connect(uint32_t fd, const struct wasix_address_port *address);
WASIX_IMPORT("resolve")
uint16_t wasix_resolve(const char *host, size_t host_len, uint32_t port, struct wasix_address *addresses,
	size_t max, size_t *found);

int compat_net_open(int family, int *fd)
{
	uint32_t opened;
	uint16_t error = wasix_sock_open(family == AF_INET6 ? WASIX_INET6 : WASIX_INET4, WASIX_STREAM, WASIX_TCP, &opened);
	if (error == 0) {
		*fd = (int) opened;
	}
	return error;
}

int compat_net_connect(int fd, const struct compat_net_address *address, unsigned port)
{
	struct wasix_address_port wire = { .family = address->family == AF_INET6 ? WASIX_INET6 : WASIX_INET4 };
	wire.port_and_octets[0] = port & 0xff;
	wire.port_and_octets[1] = port >> 8;
	memcpy(wire.port_and_octets + 2, address->octets, address->family == AF_INET6 ? 16 : 4);
	return wasix_sock_connect((uint32_t) fd, &wire);
}

int compat_net_resolve(const char *name, struct compat_net_address *addresses, size_t max, size_t *found)
{
	struct wasix_address wire[8];
	size_t count = 0;
	*found = 0;
	uint16_t error = wasix_resolve(name, strlen(name), 0, wire, sizeof wire / sizeof wire[0], &count);
	if (error != 0) {
		return error;
	}
	for (size_t i = 0; i < count && i < sizeof wire / sizeof wire[0] && *found < max; i++) {
		struct compat_net_address *address = &addresses[*found];
		if (wire[i].family == WASIX_INET4) {
			address->family = AF_INET;
			memcpy(address->octets, wire[i].octets, 4);
		} else if (wire[i].family == WASIX_INET6) {
			address->family = AF_INET6;
			memcpy(address->octets, wire[i].octets, 16);
		} else {
			continue;
		}
		++*found;
	}
	return 0;
}
