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
/* WASI 0.1: no sockets, and no name service (see compat.h). */
int socket(int domain, int type, int protocol) { (void) domain; (void) type; (void) protocol; errno = ENOSYS; return -1; }
int bind(int fd, const struct sockaddr *addr, socklen_t len) { (void) fd; (void) addr; (void) len; errno = ENOSYS; return -1; }
int listen(int fd, int backlog) { (void) fd; (void) backlog; errno = ENOSYS; return -1; }
int connect(int fd, const struct sockaddr *addr, socklen_t len) { (void) fd; (void) addr; (void) len; errno = ENOSYS; return -1; }
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
int setsockopt(int fd, int level, int name, const void *value, socklen_t len)
{
	(void) fd; (void) level; (void) name; (void) value; (void) len;
	errno = ENOTSOCK;
	return -1;
}

/* Name service (netdb.h): WASI 0.1 has none. Numeric addresses resolve to themselves; names
 * do not resolve. */
#include <arpa/inet.h>
#include <netdb.h>

int h_errno;

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

	struct addrinfo *info = calloc(1, sizeof *info + sizeof(struct sockaddr_in6));
	if (!info) {
		return EAI_MEMORY;
	}
	info->ai_addr = (struct sockaddr *) (info + 1);
	struct sockaddr_in *v4 = (struct sockaddr_in *) info->ai_addr;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *) info->ai_addr;
	if ((family == AF_UNSPEC || family == AF_INET) && inet_pton(AF_INET, node, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t) port);
		info->ai_family = AF_INET;
		info->ai_addrlen = sizeof *v4;
	} else if ((family == AF_UNSPEC || family == AF_INET6) && inet_pton(AF_INET6, node, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t) port);
		info->ai_family = AF_INET6;
		info->ai_addrlen = sizeof *v6;
	} else {
		free(info);
		return EAI_FAIL;
	}
	info->ai_socktype = hints && hints->ai_socktype ? hints->ai_socktype : SOCK_STREAM;
	info->ai_protocol = hints ? hints->ai_protocol : 0;
	*result = info;
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
	case EAI_FAIL: return "names cannot be resolved in this sandbox, only numeric addresses";
	case EAI_SERVICE: return "service is not a port number";
	case EAI_MEMORY: return "out of memory";
	case EAI_NONAME: return "name does not resolve";
	case EAI_FAMILY: return "address family not supported";
	default: return "name resolution failed";
	}
}

struct hostent *gethostbyname(const char *name)
{
	static struct in_addr address;
	static char *addresses[2] = { (char *) &address, NULL };
	static char *no_aliases[1] = { NULL };
	static char host_name[INET_ADDRSTRLEN];
	static struct hostent entry = { host_name, no_aliases, AF_INET, sizeof address, addresses };
	if (inet_pton(AF_INET, name, &address) != 1) {
		h_errno = HOST_NOT_FOUND;
		return NULL;
	}
	inet_ntop(AF_INET, &address, host_name, sizeof host_name);
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
