/*
 * The functions compat.h declares. None of them can do what its POSIX namesake does inside a
 * WASI sandbox; each does the closest thing that is true there, and fails with errno set
 * where pretending would mislead the script.
 */
#include "compat.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

uid_t getuid(void) { return 0; }
uid_t geteuid(void) { return 0; }
gid_t getgid(void) { return 0; }
gid_t getegid(void) { return 0; }
int getgroups(int size, gid_t list[]) { (void) size; (void) list; return 0; }

/* No user database: every lookup finds nothing, as for an unknown name. */
struct passwd *getpwuid(uid_t uid) { (void) uid; errno = 0; return NULL; }
struct passwd *getpwnam(const char *name) { (void) name; errno = 0; return NULL; }
struct group *getgrnam(const char *name) { (void) name; errno = 0; return NULL; }
struct group *getgrgid(gid_t gid) { (void) gid; errno = 0; return NULL; }

/* Files have no owners to change. */
int chown(const char *path, uid_t owner, gid_t group)
{
	(void) path; (void) owner; (void) group;
	errno = EPERM;
	return -1;
}
int lchown(const char *path, uid_t owner, gid_t group) { return chown(path, owner, group); }
int fchown(int fd, uid_t owner, gid_t group) { (void) fd; return chown(NULL, owner, group); }

int compat_chmod(const char *path, mode_t mode)
{
	struct stat status;
	(void) mode;
	return stat(path, &status);
}

int compat_fchmod(int fd, mode_t mode)
{
	struct stat status;
	(void) mode;
	return fstat(fd, &status);
}

/* The mask is kept for scripts that read it back, and has no effect. */
static mode_t file_mask = 022;
mode_t umask(mode_t mask)
{
	mode_t old = file_mask;
	file_mask = mask & 0777;
	return old;
}

int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	(void) sig; (void) act;
	if (old) {
		memset(old, 0, sizeof *old);
	}
	errno = ENOSYS;
	return -1;
}
int sigemptyset(sigset_t *set) { memset(set, 0, sizeof *set); return 0; }
int sigfillset(sigset_t *set) { memset(set, 0xff, sizeof *set); return 0; }
int sigaddset(sigset_t *set, int sig) { (void) set; (void) sig; return 0; }
int sigdelset(sigset_t *set, int sig) { (void) set; (void) sig; return 0; }
int sigprocmask(int how, const sigset_t *set, sigset_t *old)
{
	(void) how; (void) set;
	if (old) {
		sigemptyset(old);
	}
	return 0;
}
pid_t fork(void) { errno = ENOSYS; return -1; }
pid_t wait(int *status) { (void) status; errno = ECHILD; return -1; }
int kill(pid_t pid, int sig) { (void) pid; (void) sig; errno = EPERM; return -1; }
pid_t setsid(void) { errno = EPERM; return -1; }
pid_t getpgrp(void) { return getpid(); }
FILE *popen(const char *command, const char *mode) { (void) command; (void) mode; errno = ENOSYS; return NULL; }
int pclose(FILE *stream) { (void) stream; errno = ECHILD; return -1; }

int dup(int fd) { (void) fd; errno = ENOTSUP; return -1; }
int getdtablesize(void) { return 1024; }

/* As POSIX asks: the trailing XXXXXX replaced until a name is free, the file created
 * exclusively. The letters come from the host's random source. */
int mkstemp(char *template)
{
	static const char letters[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	size_t length = strlen(template);
	if (length < 6 || memcmp(template + length - 6, "XXXXXX", 6) != 0) {
		errno = EINVAL;
		return -1;
	}
	char *suffix = template + length - 6;
	for (int attempt = 0; attempt < 100; attempt++) {
		unsigned char random[6];
		arc4random_buf(random, sizeof random);
		for (int i = 0; i < 6; i++) {
			suffix[i] = letters[random[i] % (sizeof letters - 1)];
		}
		int fd = open(template, O_RDWR | O_CREAT | O_EXCL, 0600);
		if (fd >= 0 || errno != EEXIST) {
			return fd;
		}
	}
	errno = EEXIST;
	return -1;
}

static const char *log_ident = "php";
void openlog(const char *ident, int option, int facility)
{
	(void) option; (void) facility;
	if (ident && *ident) {
		log_ident = ident;
	}
}
void syslog(int priority, const char *format, ...)
{
	(void) priority;
	va_list args;
	va_start(args, format);
	fprintf(stderr, "%s: ", log_ident);
	vfprintf(stderr, format, args);
	fputc('\n', stderr);
	va_end(args);
}
void closelog(void) { log_ident = "php"; }

#ifndef __wasilibc_use_wasip2
/* WASI 0.1: TCP through the socket ABI this flavour is linked with (net.h), and nothing else:
 * no datagrams, no listening. */
#include "net.h"

#include <arpa/inet.h>

int socket(int domain, int type, int protocol)
{
	(void) protocol;
	if (domain != AF_INET && domain != AF_INET6) {
		errno = EAFNOSUPPORT;
		return -1;
	}
	if ((type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) != SOCK_STREAM) {
		errno = EPROTONOSUPPORT;
		return -1;
	}
	int fd;
	int error = compat_net_open(domain, &fd);
	if (error != 0) {
		errno = error;
		return -1;
	}
	return fd;
}

/* An IPv4 or IPv6 socket address as net.h's address and port; 0 if it is neither. */
static int from_sockaddr(const struct sockaddr *addr, socklen_t len, struct compat_net_address *address, unsigned *port)
{
	if (addr && addr->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *v4 = (const struct sockaddr_in *) addr;
		address->family = AF_INET;
		memcpy(address->octets, &v4->sin_addr, 4);
		*port = ntohs(v4->sin_port);
		return 1;
	}
	if (addr && addr->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *) addr;
		address->family = AF_INET6;
		memcpy(address->octets, &v6->sin6_addr, 16);
		*port = ntohs(v6->sin6_port);
		return 1;
	}
	return 0;
}

/* Connects, always to the end: PHP asks for a non-blocking connect and then waits for the
 * socket to become writable and reads SO_ERROR, which WASI 0.1 cannot report. A blocking
 * connect ends in the same state, and the request's deadline bounds it like any other wait. */
int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
	struct compat_net_address address;
	unsigned port;
	if (!from_sockaddr(addr, len, &address, &port)) {
		errno = EAFNOSUPPORT;
		return -1;
	}
	int flags = fcntl(fd, F_GETFL);
	int nonblocking = flags != -1 && (flags & O_NONBLOCK);
	if (nonblocking) {
		fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
	}
	int error = compat_net_connect(fd, &address, port);
	if (nonblocking) {
		fcntl(fd, F_SETFL, flags);
	}
	if (error != 0) {
		errno = error;
		return -1;
	}
	return 0;
}
int bind(int fd, const struct sockaddr *addr, socklen_t len) { (void) fd; (void) addr; (void) len; errno = ENOSYS; return -1; }
int listen(int fd, int backlog) { (void) fd; (void) backlog; errno = ENOSYS; return -1; }
ssize_t sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *addr, socklen_t addrlen)
{
	(void) fd; (void) buf; (void) len; (void) flags; (void) addr; (void) addrlen;
	errno = ENOSYS;
	return -1;
}
ssize_t recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *addr, socklen_t *addrlen)
{
	(void) fd; (void) buf; (void) len; (void) flags; (void) addr; (void) addrlen;
	errno = ENOSYS;
	return -1;
}
/* Standard input and output are not sockets (php-cgi asks, to tell CGI from FastCGI). */
int getpeername(int fd, struct sockaddr *addr, socklen_t *len) { (void) fd; (void) addr; (void) len; errno = ENOTSOCK; return -1; }
int getsockname(int fd, struct sockaddr *addr, socklen_t *len) { (void) fd; (void) addr; (void) len; errno = ENOTSOCK; return -1; }
/* Socket options: WASI 0.1 sets none; the defaults serve (PHP and mysqlnd go on without). */
int setsockopt(int fd, int level, int name, const void *value, socklen_t len)
{
	(void) fd; (void) level; (void) name; (void) value; (void) len;
	errno = ENOPROTOOPT;
	return -1;
}

/* Name service (netdb.h): numeric addresses are themselves; names are looked up through the
 * socket ABI (net.h), which answers for the names the location grants, and nothing without
 * one. */
#include <netdb.h>

int h_errno;

/* The addresses of node, numeric or looked up, at most max of them, of the family asked for
 * (AF_UNSPEC for any): their number, or an EAI_ code (negative). */
static int lookup(const char *node, int family, int numeric_only, struct compat_net_address *addresses, size_t max)
{
	if ((family == AF_UNSPEC || family == AF_INET) && inet_pton(AF_INET, node, addresses[0].octets) == 1) {
		addresses[0].family = AF_INET;
		return 1;
	}
	if ((family == AF_UNSPEC || family == AF_INET6) && inet_pton(AF_INET6, node, addresses[0].octets) == 1) {
		addresses[0].family = AF_INET6;
		return 1;
	}
	if (numeric_only) {
		return EAI_NONAME;
	}
	struct compat_net_address found[8];
	size_t count;
	int error = compat_net_resolve(node, found, sizeof found / sizeof found[0], &count);
	if (error == ENOSYS) {
		return EAI_FAIL;
	}
	if (error != 0) {
		errno = error;
		return EAI_SYSTEM;
	}
	size_t kept = 0;
	for (size_t i = 0; i < count && kept < max; i++) {
		if (family == AF_UNSPEC || found[i].family == family) {
			addresses[kept++] = found[i];
		}
	}
	return kept > 0 ? (int) kept : EAI_NONAME;
}

int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints, struct addrinfo **result)
{
	int family = hints ? hints->ai_family : AF_UNSPEC;
	long port = 0;
	if (service) {
		char *end;
		port = strtol(service, &end, 10);
		if (*service == '\0' || *end != '\0' || port < 0 || port > 65535) {
			return EAI_SERVICE;
		}
	}
	if (!node) {
		node = hints && (hints->ai_flags & AI_PASSIVE) ? "0.0.0.0" : "127.0.0.1";
	}
	struct compat_net_address addresses[8];
	int count = lookup(node, family, hints && (hints->ai_flags & AI_NUMERICHOST), addresses, sizeof addresses / sizeof addresses[0]);
	if (count < 0) {
		return count;
	}

	struct addrinfo *first = NULL, **next = &first;
	for (int i = 0; i < count; i++) {
		struct addrinfo *info = calloc(1, sizeof *info + sizeof(struct sockaddr_in6));
		if (!info) {
			freeaddrinfo(first);
			return EAI_MEMORY;
		}
		info->ai_addr = (struct sockaddr *) (info + 1);
		if (addresses[i].family == AF_INET) {
			struct sockaddr_in *v4 = (struct sockaddr_in *) info->ai_addr;
			v4->sin_family = AF_INET;
			v4->sin_port = htons((uint16_t) port);
			memcpy(&v4->sin_addr, addresses[i].octets, 4);
			info->ai_addrlen = sizeof *v4;
		} else {
			struct sockaddr_in6 *v6 = (struct sockaddr_in6 *) info->ai_addr;
			v6->sin6_family = AF_INET6;
			v6->sin6_port = htons((uint16_t) port);
			memcpy(&v6->sin6_addr, addresses[i].octets, 16);
			info->ai_addrlen = sizeof *v6;
		}
		info->ai_family = addresses[i].family;
		info->ai_socktype = hints && hints->ai_socktype ? hints->ai_socktype : SOCK_STREAM;
		info->ai_protocol = hints ? hints->ai_protocol : 0;
		*next = info;
		next = &info->ai_next;
	}
	*result = first;
	return 0;
}

void freeaddrinfo(struct addrinfo *list)
{
	while (list) {
		struct addrinfo *next = list->ai_next;
		free(list);
		list = next;
	}
}

const char *gai_strerror(int code)
{
	switch (code) {
	case EAI_FAIL: return "names cannot be resolved without sockets, only numeric addresses";
	case EAI_SYSTEM: return strerror(errno);
	case EAI_SERVICE: return "service is not a port number";
	case EAI_MEMORY: return "out of memory";
	case EAI_NONAME: return "name does not resolve";
	case EAI_FAMILY: return "address family not supported";
	default: return "name resolution failed";
	}
}

struct hostent *gethostbyname(const char *name)
{
	enum { MAX = 8 };
	static struct in_addr addresses[MAX];
	static char *address_list[MAX + 1];
	static char *no_aliases[1] = { NULL };
	static char host_name[256];
	static struct hostent entry = { host_name, no_aliases, AF_INET, sizeof(struct in_addr), address_list };
	struct compat_net_address found[MAX];
	int count = lookup(name, AF_INET, 0, found, MAX);
	if (count < 0) {
		h_errno = count == EAI_SYSTEM ? NO_RECOVERY : HOST_NOT_FOUND;
		return NULL;
	}
	for (int i = 0; i < count; i++) {
		memcpy(&addresses[i], found[i].octets, 4);
		address_list[i] = (char *) &addresses[i];
	}
	address_list[count] = NULL;
	snprintf(host_name, sizeof host_name, "%s", name);
	return &entry;
}

struct hostent *gethostbyaddr(const void *addr, socklen_t len, int type)
{
	(void) addr; (void) len; (void) type;
	h_errno = HOST_NOT_FOUND;
	return NULL;
}

struct servent *getservbyname(const char *name, const char *proto) { (void) name; (void) proto; return NULL; }
struct servent *getservbyport(int port, const char *proto) { (void) port; (void) proto; return NULL; }

/* The protocols PHP's stream sockets name. */
static struct protoent protocols[] = {
	{ "ip", NULL, 0 }, { "icmp", NULL, 1 }, { "tcp", NULL, 6 }, { "udp", NULL, 17 },
};

struct protoent *getprotobyname(const char *name)
{
	for (size_t i = 0; i < sizeof protocols / sizeof protocols[0]; i++) {
		if (strcmp(protocols[i].p_name, name) == 0) {
			return &protocols[i];
		}
	}
	return NULL;
}

struct protoent *getprotobynumber(int proto)
{
	for (size_t i = 0; i < sizeof protocols / sizeof protocols[0]; i++) {
		if (protocols[i].p_proto == proto) {
			return &protocols[i];
		}
	}
	return NULL;
}
#endif

#ifdef __wasilibc_use_wasip2
/* Forward lookups (see compat.h): IPv4 addresses, as gethostbyname gives them. */
#include <netdb.h>

struct hostent *compat_gethostbyname(const char *name)
{
	enum { MAX = 8 };
	static struct in_addr addresses[MAX];
	static char *address_list[MAX + 1];
	static char *no_aliases[1] = { NULL };
	static char host_name[256];
	static struct hostent entry = { host_name, no_aliases, AF_INET, sizeof(struct in_addr), address_list };
	struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM };
	struct addrinfo *found;
	if (getaddrinfo(name, NULL, &hints, &found) != 0) {
		h_errno = HOST_NOT_FOUND;
		return NULL;
	}
	int count = 0;
	for (struct addrinfo *info = found; info && count < MAX; info = info->ai_next) {
		addresses[count] = ((const struct sockaddr_in *) info->ai_addr)->sin_addr;
		address_list[count] = (char *) &addresses[count];
		count++;
	}
	address_list[count] = NULL;
	freeaddrinfo(found);
	snprintf(host_name, sizeof host_name, "%s", name);
	return &entry;
}
#endif

/* Reverse lookups (see compat.h): addresses are given as numbers; a name, when one is
 * required, is not found. */
#include <arpa/inet.h>
#include <netdb.h>

int compat_getnameinfo(const struct sockaddr *addr, socklen_t addrlen, char *host, socklen_t hostlen, char *serv, socklen_t servlen, int flags)
{
	(void) addrlen;
	if (flags & NI_NAMEREQD) {
		return EAI_NONAME;
	}
	int port;
	if (addr->sa_family == AF_INET) {
		const struct sockaddr_in *v4 = (const struct sockaddr_in *) addr;
		if (host && !inet_ntop(AF_INET, &v4->sin_addr, host, hostlen)) {
			return EAI_OVERFLOW;
		}
		port = ntohs(v4->sin_port);
	} else if (addr->sa_family == AF_INET6) {
		const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *) addr;
		if (host && !inet_ntop(AF_INET6, &v6->sin6_addr, host, hostlen)) {
			return EAI_OVERFLOW;
		}
		port = ntohs(v6->sin6_port);
	} else {
		return EAI_FAMILY;
	}
	if (serv && snprintf(serv, servlen, "%d", port) >= (int) servlen) {
		return EAI_OVERFLOW;
	}
	return 0;
}
