/*
 * listen.c - the control API's listening sockets: state/agent.sock
 * (mode 0600, a dead node's socket replaced, a live node's left alone)
 * and loopback TCP (another address only when forced with '!'), and the
 * name of the peer on the other end of a connection, by which the gate
 * (gate.c) counts a peer's connections.
 */
#include "listen.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "error.h"

/* The kernel's queue of connections not yet accepted. */
#define BACKLOG 64

/* ---- the unix socket -------------------------------------------------------- */

/*
 * A socket left at `path` by a node that died is removed; one a live node
 * answers on means that node serves this state dir, and this one must not
 * take its socket away.
 */
static int clear_stale_socket(const char *path, const struct sockaddr_un *a)
{
	struct stat st;
	int fd, rc;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0
				       : lm_error_set(LM_ERROR, "%s: %s", path,
						      strerror(errno));
	if (!S_ISSOCK(st.st_mode))
		return lm_error_set(LM_EINVAL, "%s exists and is not a socket; "
				    "not replacing it", path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return lm_error_set(LM_ERROR, "socket: %s", strerror(errno));
	rc = connect(fd, (const struct sockaddr *)a, sizeof(*a));
	close(fd);
	if (rc == 0)
		return lm_error_set(LM_EBUSY, "another node answers on %s; "
				    "stop it first", path);
	if (errno != ECONNREFUSED)
		return lm_error_set(LM_ERROR, "%s: %s", path, strerror(errno));
	if (unlink(path) < 0 && errno != ENOENT)
		return lm_error_set(LM_ERROR, "removing stale %s: %s", path,
				    strerror(errno));
	return 0;
}

int lm_listen_unix(const char *state_dir, int *out)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	char *path = NULL;
	mode_t old;
	int fd = -1, rc, err;

	if (asprintf(&path, "%s/agent.sock", state_dir) < 0)
		return lm_error_set(LM_ERROR, "out of memory");
	if (strlen(path) >= sizeof(a.sun_path)) {
		rc = lm_error_set(LM_EINVAL, "%s: path longer than a unix "
				  "socket takes (%zu bytes)", path,
				  sizeof(a.sun_path) - 1);
		goto out;
	}
	memcpy(a.sun_path, path, strlen(path) + 1);
	if ((rc = clear_stale_socket(path, &a)) < 0)
		goto out;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		rc = lm_error_set(LM_ERROR, "socket: %s", strerror(errno));
		goto out;
	}
	/* The socket file's mode is the access control: no moment with
	 * wider rights (the umask is the process's, so this is brief), and
	 * chmod after in case the file system ignores the umask. */
	old = umask(0177);
	rc = bind(fd, (const struct sockaddr *)&a, sizeof(a));
	err = errno;
	umask(old);
	if (rc < 0 || chmod(path, 0600) < 0 || listen(fd, BACKLOG) < 0) {
		rc = lm_error_set(LM_ERROR, "%s: %s", path,
				  strerror(rc < 0 ? err : errno));
		close(fd);
		fd = -1;
		goto out;
	}
	*out = fd;
	rc = 0;
out:
	free(path);
	return rc;
}

/* ---- loopback TCP --------------------------------------------------------------- */

static int is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr)
			>> 24) == 127;
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a =
			&((const struct sockaddr_in6 *)sa)->sin6_addr;

		return IN6_IS_ADDR_LOOPBACK(a) ||
		       (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
	}
	return 0;
}

/*
 * "HOST:PORT" ("[::1]:PORT" for IPv6), PORT 0 for any free one. A
 * non-loopback HOST is refused unless the whole string starts with "!":
 * the token then travels in clear over the network, which must be a
 * deliberate choice.
 */
int lm_listen_tcp(const char *spec, int *out, int *port,
		  struct sockaddr_storage *bound)
{
	struct addrinfo hints = { 0 }, *ai = NULL;
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	const char *p = spec, *colon;
	char host[256], *end;
	int forced = 0, fd = -1, one = 1, rc;
	long v;

	if (*p == '!') {
		forced = 1;
		p++;
	}
	colon = strrchr(p, ':');
	if (!colon || colon == p || (size_t)(colon - p) >= sizeof(host))
		return lm_error_set(LM_EINVAL, "http listen '%s': expected "
				    "HOST:PORT, e.g. 127.0.0.1:8470", spec);
	memcpy(host, p, (size_t)(colon - p));
	host[colon - p] = '\0';
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		memmove(host, host + 1, strlen(host) - 2);
		host[strlen(host) - 2] = '\0';
	}
	errno = 0;
	v = strtol(colon + 1, &end, 10);
	if (!colon[1] || *end || errno || v < 0 || v > 65535)
		return lm_error_set(LM_EINVAL, "http listen '%s': port '%s' is "
				    "not 0..65535", spec, colon + 1);
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if ((rc = getaddrinfo(host, colon + 1, &hints, &ai)) != 0)
		return lm_error_set(LM_EINVAL, "http listen '%s': %s", spec,
				    gai_strerror(rc));
	if (!forced && !is_loopback(ai->ai_addr)) {
		rc = lm_error_set(LM_EINVAL, "http listen '%s': %s is not a "
				  "loopback address (write '!%s' to serve on "
				  "it anyway)", spec, host, spec);
		goto out;
	}
	if (!is_loopback(ai->ai_addr))
		fprintf(stderr, "livemod agent: WARNING: the control API listens "
			"on %s, which is not a loopback address: anyone who "
			"reaches it and learns the bearer token (sent in clear, "
			"no TLS) can replace this server's code\n", host);
	if ((fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, BACKLOG) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &sslen) < 0) {
		rc = lm_error_set(LM_ERROR, "http listen '%s': %s", spec,
				  strerror(errno));
		if (fd >= 0)
			close(fd);
		goto out;
	}
	*port = ntohs(ss.ss_family == AF_INET6
			      ? ((struct sockaddr_in6 *)&ss)->sin6_port
			      : ((struct sockaddr_in *)&ss)->sin_port);
	*out = fd;
	*bound = ss;
	rc = 0;
out:
	freeaddrinfo(ai);
	return rc;
}

/* ---- the peer ------------------------------------------------------------------- */

void lm_listen_peer(int fd, char *buf, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	char addr[INET6_ADDRSTRLEN];
	const void *a;

	if (getpeername(fd, (struct sockaddr *)&ss, &sslen) < 0) {
		snprintf(buf, len, "an unknown peer");
		return;
	}
	switch (ss.ss_family) {
	case AF_UNIX:
		/* every client of the socket is the node's user: the process
		 * is what tells one apart from another */
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == 0)
			snprintf(buf, len, "pid %ld", (long)cred.pid);
		else
			snprintf(buf, len, "an unknown process");
		return;
	case AF_INET:
		a = &((const struct sockaddr_in *)&ss)->sin_addr;
		break;
	case AF_INET6:
		a = &((const struct sockaddr_in6 *)&ss)->sin6_addr;
		break;
	default:
		snprintf(buf, len, "an unknown peer");
		return;
	}
	if (!inet_ntop(ss.ss_family, a, addr, sizeof(addr)))
		snprintf(addr, sizeof(addr), "?");
	snprintf(buf, len, "%s", addr);
}
