/*
 * httpclient.c - one HTTP/1.1 request over a unix socket or TCP; see
 * httpclient.h.
 *
 * The socket is non-blocking and every wait is a poll(2) against one
 * deadline, so a node that stops reading or answering costs at most the
 * limits given. A unix socket whose listen queue is full refuses a
 * non-blocking connect with EAGAIN rather than queueing it: that is a
 * busy node, retried every few milliseconds until the connect deadline,
 * never "no node"; so is a node that closes the connection before a
 * byte of answer (LM_ENODEBUSY, the CLI's exit status 4).
 */
#include "httpclient.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "error.h"

/* How often a full listen queue is tried again. */
#define BUSY_RETRY_MS 5

static int64_t now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static int left_ms(int64_t deadline)
{
	int64_t d = deadline - now_ms();

	return d < 0 ? 0 : d > 3600000 ? 3600000 : (int)d;
}

int lm_http_target_unix(lm_http_target *t, const char *path)
{
	struct sockaddr_un *a = (struct sockaddr_un *)&t->addr;

	memset(t, 0, sizeof(*t));
	if (strlen(path) >= sizeof(a->sun_path))
		return lm_error_set(LM_EINVAL, "%s: a unix socket path holds "
				    "at most %zu bytes", path,
				    sizeof(a->sun_path) - 1);
	a->sun_family = AF_UNIX;
	memcpy(a->sun_path, path, strlen(path) + 1);
	t->addrlen = (socklen_t)sizeof(*a);
	snprintf(t->name, sizeof(t->name), "%s", path);
	snprintf(t->host, sizeof(t->host), "localhost");
	return 0;
}

static int is_loopback(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr)
			>> 24) == 127;
	return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)ss)->sin6_addr);
}

int lm_http_target_tcp(lm_http_target *t, const char *spec, const char *token)
{
	struct sockaddr_in *a4 = (struct sockaddr_in *)&t->addr;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&t->addr;
	const char *p = spec + (spec[0] == '!'), *colon = strrchr(p, ':');
	char host[64], *end;
	size_t hl;
	long port;

	memset(t, 0, sizeof(*t));
	if (!colon || colon == p || (hl = (size_t)(colon - p)) >= sizeof(host))
		return lm_error_set(LM_EINVAL, "node address '%s': expected "
				    "HOST:PORT, e.g. 127.0.0.1:8470", spec);
	memcpy(host, p, hl);
	host[hl] = '\0';
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (!colon[1] || *end || errno || port < 1 || port > 65535)
		return lm_error_set(LM_EINVAL, "node address '%s': port '%s' "
				    "is not 1..65535", spec, colon + 1);
	if (hl > 2 && host[0] == '[' && host[hl - 1] == ']') {
		host[hl - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, &a6->sin6_addr) != 1)
			return lm_error_set(LM_EINVAL, "node address '%s': "
					    "'%s' is not an IPv6 address",
					    spec, host + 1);
		host[hl - 1] = ']';
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		t->addrlen = sizeof(*a6);
	} else if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		t->addrlen = sizeof(*a4);
	} else {
		return lm_error_set(LM_EINVAL, "node address '%s': '%s' is not "
				    "a numeric IPv4 or [IPv6] address", spec,
				    host);
	}
	if (spec[0] != '!' && !is_loopback(&t->addr))
		return lm_error_set(LM_EINVAL, "node address '%s': %s is not a "
				    "loopback address, and the token would "
				    "cross the network in clear text (write "
				    "'!%s' to use it anyway)", spec, host, spec);
	snprintf(t->name, sizeof(t->name), "%s", p);
	snprintf(t->host, sizeof(t->host), "%s", p);
	t->token = token;
	return 0;
}

/* ---- connecting --------------------------------------------------------------- */

static int connect_failed(const lm_http_target *t, int err)
{
	bool local = t->addr.ss_family == AF_UNIX;

	if (local && (err == ENOENT || err == ENOTDIR))
		return lm_error_set(LM_ENONODE, "no running node: %s does not "
				    "exist", t->name);
	if (err == ECONNREFUSED)
		return lm_error_set(LM_ENONODE, "no running node: nothing "
				    "listens on %s", t->name);
	if (local && (err == EACCES || err == EPERM))
		return lm_error_set(LM_ERROR, "%s: permission denied (the "
				    "socket is mode 0600: run as the node's "
				    "user)", t->name);
	return lm_error_set(LM_ERROR, "%s: cannot connect: %s", t->name,
			    strerror(err));
}

/* A connected non-blocking socket, or an error. */
static int open_conn(const lm_http_target *t, int wait_ms, int *out)
{
	int64_t deadline = now_ms() + wait_ms;
	int fd = socket(t->addr.ss_family,
			SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int err = 0;
	socklen_t elen = sizeof(err);
	struct pollfd pf;

	if (fd < 0)
		return lm_error_set(LM_ERROR, "%s: socket: %s", t->name,
				    strerror(errno));
	while (connect(fd, (const struct sockaddr *)&t->addr, t->addrlen) < 0) {
		err = errno;
		if (err == EINTR)
			continue;
		if (err == EAGAIN && t->addr.ss_family == AF_UNIX) {
			/* the listen queue is full: a busy node */
			if (!left_ms(deadline)) {
				close(fd);
				return lm_error_set(LM_ENODEBUSY, "node busy: "
						    "%s accepted no connection "
						    "within %d ms (its listen "
						    "queue stayed full)",
						    t->name, wait_ms);
			}
			poll(NULL, 0, BUSY_RETRY_MS);
			continue;
		}
		if (err != EINPROGRESS) {
			close(fd);
			return connect_failed(t, err);
		}
		/* TCP: the handshake completes in the background */
		pf = (struct pollfd){ .fd = fd, .events = POLLOUT };
		if (poll(&pf, 1, left_ms(deadline)) == 0) {
			close(fd);
			return lm_error_set(LM_ERROR, "%s: no connection "
					    "within %d ms", t->name, wait_ms);
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
			err = errno;
		if (err) {
			close(fd);
			return connect_failed(t, err);
		}
		break;
	}
	*out = fd;
	return 0;
}

/* ---- the exchange --------------------------------------------------------------- */

/* Whether `s` may go into a request line: no space, no control byte. */
static bool token_ok(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || *s == 0x7f)
			return false;
	return true;
}

/* Sends iov[0..n) whole. 1 when the peer closed first (its answer may
 * be waiting: read it), 0 when all went out, or an error. */
static int send_all(int fd, struct iovec *iov, int n, int64_t deadline,
		    const lm_http_target *t, int total_ms)
{
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = (size_t)n };
	struct pollfd pf = { .fd = fd, .events = POLLOUT };
	ssize_t w;

	while (mh.msg_iovlen) {
		if (mh.msg_iov->iov_len == 0) {
			mh.msg_iov++;
			mh.msg_iovlen--;
			continue;
		}
		w = sendmsg(fd, &mh, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EPIPE || errno == ECONNRESET))
			return 1;
		if (w < 0 && errno != EAGAIN)
			return lm_error_set(LM_ERROR, "%s: sending the request: "
					    "%s", t->name, strerror(errno));
		if (w < 0) {
			if (poll(&pf, 1, left_ms(deadline)) == 0)
				return lm_error_set(LM_ERROR, "%s: the node "
						    "took no request within "
						    "%d ms", t->name, total_ms);
			continue;
		}
		while (w > 0) {
			size_t k = (size_t)w < mh.msg_iov->iov_len
				? (size_t)w : mh.msg_iov->iov_len;

			mh.msg_iov->iov_base = (char *)mh.msg_iov->iov_base + k;
			mh.msg_iov->iov_len -= k;
			w -= (ssize_t)k;
			if (mh.msg_iov->iov_len == 0) {
				mh.msg_iov++;
				mh.msg_iovlen--;
			}
		}
	}
	return 0;
}

/* Reads until the reply is whole (or the node closes). */
static int read_reply(int fd, lm_http_reply *r, int64_t deadline,
		      const lm_http_target *t, const char *method,
		      const char *path, int total_ms)
{
	char buf[65536];
	struct pollfd pf = { .fd = fd, .events = POLLIN };
	ssize_t n;
	int rc = 0;

	while (rc == 0) {
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			if (poll(&pf, 1, left_ms(deadline)) == 0)
				return lm_error_set(LM_ERROR, "%s: no %s to "
						    "%s %s from the node "
						    "within %d ms", t->name,
						    lm_http_reply_started(r)
							? "whole answer"
							: "answer",
						    method, path, total_ms);
			continue;
		}
		if (n < 0 && errno != ECONNRESET)
			return lm_error_set(LM_ERROR, "%s: reading the answer: "
					    "%s", t->name, strerror(errno));
		if (n <= 0) { /* the end, or a reset: the same to a reply */
			if (!lm_http_reply_started(r))
				return lm_error_set(LM_ENODEBUSY, "node busy: "
						    "%s: the node closed the "
						    "connection without "
						    "answering (it had no room "
						    "for it, or is stopping)",
						    t->name);
			if ((rc = lm_http_reply_eof(r)) < 0)
				break;
			return 0;
		}
		rc = lm_http_reply_feed(r, buf, (size_t)n);
	}
	if (rc > 0)
		return 0;
	lm_error_wrap("%s: malformed answer to %s %s", t->name, method, path);
	return lm_error_recode(rc == LM_EINVAL ? LM_ERROR : rc);
}

int lm_http_request(lm_http_reply *out, const lm_http_target *t,
		    const char *method, const char *path, const char *body,
		    size_t body_len, const lm_http_limits *lim)
{
	int64_t start = now_ms();
	char head[1024];
	struct iovec iov[2];
	int fd = -1, n, rc;

	lm_http_reply_init(out, strcmp(method, "HEAD") == 0, lim->body_max);
	if (!token_ok(method) || !token_ok(path) || path[0] != '/' ||
	    (t->token && !token_ok(t->token)))
		return lm_error_set(LM_EINVAL, "bad request '%s %s': a space "
				    "or control byte, or a path not starting "
				    "with '/'", method, path);
	n = snprintf(head, sizeof(head),
		     "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n"
		     "%s%s%s",
		     method, path, t->host, t->token ? "Authorization: Bearer "
		     : "", t->token ? t->token : "", t->token ? "\r\n" : "");
	if (n > 0 && (size_t)n < sizeof(head) &&
	    (body || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0))
		n += snprintf(head + n, sizeof(head) - (size_t)n,
			      "%sContent-Length: %zu\r\n",
			      body ? "Content-Type: application/json\r\n" : "",
			      body ? body_len : 0);
	if (n > 0 && (size_t)n < sizeof(head))
		n += snprintf(head + n, sizeof(head) - (size_t)n, "\r\n");
	if (n < 0 || (size_t)n >= sizeof(head))
		return lm_error_set(LM_EINVAL, "request '%s %.100s...': too "
				    "long", method, path);
	iov[0] = (struct iovec){ head, (size_t)n };
	iov[1] = (struct iovec){ (void *)body, body ? body_len : 0 };
	if ((rc = open_conn(t, lim->connect_ms, &fd)) == 0 &&
	    (rc = send_all(fd, iov, 2, start + lim->total_ms, t,
			   lim->total_ms)) >= 0)
		rc = read_reply(fd, out, start + lim->total_ms, t, method,
				path, lim->total_ms);
	if (fd >= 0)
		close(fd);
	if (rc < 0)
		lm_http_reply_clear(out);
	return rc < 0 ? rc : 0;
}
