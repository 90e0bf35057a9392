/*
 * No sockets: the flavour of php-cgi for every runtime. WASI 0.1 cannot open a socket, and
 * PHP says so: mysqli and PDO report "Function not implemented".
 */
#include "../net.h"

#include <errno.h>

int compat_net_open(int family, int *fd)
{
	(void) family; (void) fd;
	return ENOSYS;
}

int compat_net_connect(int fd, const struct compat_net_address *address, unsigned port)
{
	(void) fd; (void) address; (void) port;
	return ENOSYS;
}

int compat_net_resolve(const char *name, struct compat_net_address *addresses, size_t max, size_t *found)
{
	(void) name; (void) addresses; (void) max;
	*found = 0;
	return ENOSYS;
}
