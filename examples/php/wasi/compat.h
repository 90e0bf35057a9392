/*
 * What PHP's C code expects from a POSIX system and WASI's C library (wasi-libc) does not have.
 * Included before every file of the build (-include), so that PHP's sources compile unchanged
 * where the answer is simply "this sandbox has no such thing". compat.c implements what is
 * declared here; each function says what it does instead and why that is right in a sandbox.
 *
 * configure does not see compat.c (it is linked only into the programs), so it still reports
 * these functions as missing and PHP takes its own fallbacks wherever it has one.
 */
#ifndef MOD_WASM_PHP_WASI_COMPAT_H
#define MOD_WASM_PHP_WASI_COMPAT_H

#ifndef _GNU_SOURCE
# define _GNU_SOURCE 1
#endif

/* WASI's sockaddr_un has no path, since it has no UNIX domain sockets. PHP's FastCGI and
 * unix:// code compiles against the POSIX layout; socket() fails before any of it runs. */
#define __wasilibc___struct_sockaddr_un_h
#include <__typedef_sa_family_t.h>
struct sockaddr_un {
	sa_family_t sun_family;
	char sun_path[108];
};

#include <sys/types.h>
#include <sys/socket.h>
#include <signal.h>
#include <stdio.h>

/* Users and groups: the sandbox has one anonymous user, uid and gid 0, who owns every file
 * (WASI reports 0 as every file's owner), and no user database. */
struct passwd {
	char *pw_name;
	char *pw_passwd;
	uid_t pw_uid;
	gid_t pw_gid;
	char *pw_gecos;
	char *pw_dir;
	char *pw_shell;
};
struct group {
	char *gr_name;
	char *gr_passwd;
	gid_t gr_gid;
	char **gr_mem;
};
uid_t getuid(void);
uid_t geteuid(void);
gid_t getgid(void);
gid_t getegid(void);
int getgroups(int size, gid_t list[]);
struct passwd *getpwuid(uid_t uid);
struct passwd *getpwnam(const char *name);
struct group *getgrnam(const char *name);
struct group *getgrgid(gid_t gid);
int chown(const char *path, uid_t owner, gid_t group);
int lchown(const char *path, uid_t owner, gid_t group);
int fchown(int fd, uid_t owner, gid_t group);
mode_t umask(mode_t mask);
/* Files have no permission bits in WASI either: the host decides them (Apache's user and
 * umask). wasi-libc's chmod fails with ENOSYS; these succeed for a file that exists, as the
 * PHP applications that set a mode after writing a file expect. */
int chmod(const char *path, mode_t mode);
int fchmod(int fd, mode_t mode);
int compat_chmod(const char *path, mode_t mode);
int compat_fchmod(int fd, mode_t mode);
#define chmod(path, mode) compat_chmod(path, mode)
#define fchmod(fd, mode) compat_fchmod(fd, mode)

/* Processes: a sandboxed program cannot start, signal or wait for others. Signal sets are
 * kept (as bits) for code that fills one before asking for a handler. */
struct sigaction {
	void (*sa_handler)(int);
	sigset_t sa_mask;
	int sa_flags;
};
int sigaction(int sig, const struct sigaction *act, struct sigaction *old);
int sigemptyset(sigset_t *set);
int sigfillset(sigset_t *set);
int sigaddset(sigset_t *set, int sig);
int sigdelset(sigset_t *set, int sig);
int sigprocmask(int how, const sigset_t *set, sigset_t *old);
pid_t fork(void);
pid_t wait(int *status);
int kill(pid_t pid, int sig);
pid_t setsid(void);
pid_t getpgrp(void);
FILE *popen(const char *command, const char *mode);
int pclose(FILE *stream);

/* Descriptors: WASI cannot duplicate one. */
int dup(int fd);
int getdtablesize(void);

/* Temporary files (uploads, php://temp): created in a directory the location grants. */
int mkstemp(char *template);

/* File locks: WASI has none; fcntl refuses these requests, so flock() fails honestly. */
#ifndef F_RDLCK
# define F_GETLK 5
# define F_RDLCK 0
# define F_WRLCK 1
# define F_UNLCK 2
# define F_SETLK 6
# define F_SETLKW 7
#endif

/* The system log: messages go to stderr, which the server writes to its error log. */
#define LOG_EMERG 0
#define LOG_ALERT 1
#define LOG_CRIT 2
#define LOG_ERR 3
#define LOG_WARNING 4
#define LOG_NOTICE 5
#define LOG_INFO 6
#define LOG_DEBUG 7
#define LOG_PID 0x01
#define LOG_CONS 0x02
#define LOG_ODELAY 0x04
#define LOG_NDELAY 0x08
#define LOG_NOWAIT 0x10
#define LOG_PERROR 0x20
#define LOG_KERN (0 << 3)
#define LOG_USER (1 << 3)
#define LOG_MAIL (2 << 3)
#define LOG_DAEMON (3 << 3)
#define LOG_AUTH (4 << 3)
#define LOG_SYSLOG (5 << 3)
#define LOG_LPR (6 << 3)
#define LOG_NEWS (7 << 3)
#define LOG_UUCP (8 << 3)
#define LOG_CRON (9 << 3)
#define LOG_AUTHPRIV (10 << 3)
#define LOG_FTP (11 << 3)
#define LOG_LOCAL0 (16 << 3)
#define LOG_LOCAL1 (17 << 3)
#define LOG_LOCAL2 (18 << 3)
#define LOG_LOCAL3 (19 << 3)
#define LOG_LOCAL4 (20 << 3)
#define LOG_LOCAL5 (21 << 3)
#define LOG_LOCAL6 (22 << 3)
#define LOG_LOCAL7 (23 << 3)
void openlog(const char *ident, int option, int facility);
void syslog(int priority, const char *format, ...);
void closelog(void);

/* Sockets: WASI 0.1 has no way to open one; the runtimes that connect add their own ABI,
 * and compat.c implements these on whichever one the program is linked with (net.h), TCP
 * only. WASI 0.2's C library has them (wasi:sockets, TCP and UDP), and its <sys/socket.h>
 * says so by defining __wasilibc_use_wasip2. Neither has UNIX domain sockets (see
 * sockaddr_un above). */
#ifndef __wasilibc_use_wasip2
int socket(int domain, int type, int protocol);
int bind(int fd, const struct sockaddr *addr, socklen_t len);
int listen(int fd, int backlog);
int connect(int fd, const struct sockaddr *addr, socklen_t len);
ssize_t sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *addr, socklen_t addrlen);
ssize_t recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *addr, socklen_t *addrlen);
int getpeername(int fd, struct sockaddr *addr, socklen_t *len);
int getsockname(int fd, struct sockaddr *addr, socklen_t *len);
int setsockopt(int fd, int level, int name, const void *value, socklen_t len);
#endif
#ifndef PF_UNIX
# define PF_UNIX AF_UNIX
#endif
#ifndef SOMAXCONN
# define SOMAXCONN 128
#endif
#ifndef SOL_IP
# define SOL_IP 0
#endif
#ifndef SO_ERROR
# define SO_ERROR 4
#endif
#ifndef SO_KEEPALIVE
# define SO_KEEPALIVE 9
#endif
#ifndef MSG_OOB
# define MSG_OOB 0x0001
#endif
/* Reverse name lookups: a sandbox has none (mod_wasm answers lookups of the names a location
 * grants, and nothing else), and WASI 0.2's C library aborts the program in getnameinfo, which
 * PHP's gethostbyaddr() calls (WordPress does, for a comment's author). Both flavours use
 * compat.c's, which gives an address as a number. */
#define getnameinfo compat_getnameinfo
/* Forward lookups: PHP looks names up with gethostbyname (configure, cross-compiling, does not
 * find getaddrinfo), and WASI 0.2's C library finds nothing with it, even for a name that
 * resolves; its getaddrinfo asks wasi:sockets. compat.c's answers through getaddrinfo. */
#ifdef __wasilibc_use_wasip2
# define gethostbyname compat_gethostbyname
#endif

/* Urgent data, which WASI does not have: a bit wasi-libc's poll() ignores. (Linux's value,
 * 0x002, is POLLOUT in wasi-libc: PHP's wait for a socket to be readable would return as soon
 * as it is writable.) */
#ifndef POLLPRI
# define POLLPRI 0x0400
#endif

#endif
