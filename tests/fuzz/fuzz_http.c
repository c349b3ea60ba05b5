/*
 * fuzz_http.c - libFuzzer target: the node's control API (agent/node/
 * http.c behind libmicrohttpd) on arbitrary request bytes: request line,
 * paths, query, headers, bodies.
 *
 * The real thing, in process: LLVMFuzzerInitialize makes a state dir on
 * a libdir of two small modules (FUZZ_LIBDIR, built by fuzz.mk) and starts
 * a node on it serving state/agent.sock and a loopback TCP port. Each
 * input is written raw to one of them, and the answer read until it is
 * whole or the node closes. The libdir never changes, so updates find
 * nothing to update and a rollback has no earlier release to go to: every
 * input meets the same node, and the fuzzer sees what it did.
 *
 * Input form:
 *   - bytes starting "T:" go, without those two, to the TCP port, else to
 *     the unix socket;
 *   - then "B:METHOD PATH\nBODY" is framed by the harness into a well
 *     formed request (HTTP/1.1, Host, the token on TCP, Content-Length):
 *     most raw mutations break the HTTP syntax and end in libmicrohttpd's
 *     400, while this form spends them on what livemod parses itself,
 *     paths, query and bodies; anything else is sent as it is;
 *   - "@TOKEN@" anywhere is replaced by the node's bearer token (the
 *     fuzzer could never guess it; without it TCP only ever meets 401),
 *     and "@HOST@" by the TCP listener's 127.0.0.1:PORT (any other Host
 *     meets 421 there).
 *
 * A request left incomplete (no end of headers, a body shorter than its
 * Content-Length) would have the node wait for the rest until its idle
 * timeout; the harness half-closes the connection instead, at once when
 * it can tell from the bytes, else after QUIET_MS without an answer.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>

#include <livemod/node.h>

#include "error.h"
#include "fuzz.h"
#include "planning.h"
#include "scan.h"

#ifndef FUZZ_LIBDIR
#error "build with -DFUZZ_LIBDIR=\"/abs/path/of/modules\" (tests/fuzz/fuzz.mk)"
#endif

#define QUIET_MS 30      /* no answer yet: the request must be incomplete */
#define ANSWER_MS 5000   /* half-closed and still no answer nor close */
#define ANSWER_MAX (1 << 20)
#define TOKEN_MARK "@TOKEN@"
#define HOST_MARK "@HOST@"

static lm_node *node;
static struct sockaddr_un unix_addr = { .sun_family = AF_UNIX };
static struct sockaddr_in tcp_addr = { .sin_family = AF_INET };
static char token[128];
static char host[64]; /* 127.0.0.1:PORT: the Host the TCP listener takes */
static unsigned long silent; /* inputs neither answered nor closed */
static int verbose;          /* $FUZZ_HTTP_VERBOSE: print each answer */

static void stop_node(void)
{
	if (node)
		lm_node_stop(node);
	node = NULL;
	if (silent)
		fprintf(stderr, "fuzz_http: %lu requests got neither an answer "
			"nor a close in %d ms\n", silent, ANSWER_MS);
}

/* `livemod init --libdir FUZZ_LIBDIR` into `dir`. */
static void init_state(const char *dir)
{
	lm_scan scan = { 0 };
	int64_t rel;

	if (lm_scan_libdir(&scan, FUZZ_LIBDIR, NULL) != 0 ||
	    lm_state_create(dir, FUZZ_LIBDIR, "fuzz", &scan, &rel, NULL) != 0)
		fuzz_fail("cannot init a state dir on %s", FUZZ_LIBDIR);
	lm_scan_clear(&scan);
}

static void read_token(const char *dir)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/token", dir);
	if (!(f = fopen(path, "r")) || !fgets(token, sizeof(token), f))
		fuzz_fail("cannot read %s", path);
	fclose(f);
	token[strcspn(token, "\n")] = '\0';
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char *dir = fuzz_scratch_dir("lmfuzz-http");
	lm_node_options o = { .state_dir = dir, .control_socket = 1,
			      .http_listen = "127.0.0.1:0" };

	(void)argc, (void)argv;
	verbose = getenv("FUZZ_HTTP_VERBOSE") != NULL;
	setenv("LIVEMOD_LOCK_TIMEOUT_MS", "1000", 1);
	init_state(dir);
	if (lm_node_start(&node, &o) != 0)
		fuzz_fail("cannot start a node on %s", dir);
	atexit(stop_node); /* before the scratch dir goes: atexit is LIFO */
	if (snprintf(unix_addr.sun_path, sizeof(unix_addr.sun_path),
		     "%s/agent.sock", dir) >= (int)sizeof(unix_addr.sun_path))
		fuzz_fail("state dir path too long for a socket: %s", dir);
	tcp_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	tcp_addr.sin_port = htons((uint16_t)lm_node_http_port(node));
	snprintf(host, sizeof(host), "127.0.0.1:%d", lm_node_http_port(node));
	read_token(dir);
	return 0;
}

/* ---- the request ---------------------------------------------------------- */

/* `size` bytes with every `what` replaced by `by` (malloc'ed). */
static char *replaced(const char *data, size_t size, const char *what,
		      const char *by, size_t *len)
{
	size_t mark = strlen(what), tlen = strlen(by), i, n = 0;
	char *out = malloc(size / mark * tlen + size + 1);

	if (!out)
		fuzz_fail("out of memory");
	for (i = 0; i < size;) {
		if (size - i >= mark && memcmp(data + i, what, mark) == 0) {
			memcpy(out + n, by, tlen);
			n += tlen;
			i += mark;
		} else {
			out[n++] = data[i++];
		}
	}
	*len = n;
	return out;
}

/* The input with the token and the Host put in (malloc'ed). */
static char *with_token(const uint8_t *data, size_t size, size_t *len)
{
	char *t = replaced((const char *)data, size, TOKEN_MARK, token, len);
	char *out = replaced(t, *len, HOST_MARK, host, len);

	free(t);
	return out;
}

/* "METHOD PATH\nBODY" (`in`, `len` bytes) as a whole request. */
static char *framed(char *in, size_t *len, int tcp)
{
	char *nl = memchr(in, '\n', *len), *out;
	size_t line = nl ? (size_t)(nl - in) : *len;
	size_t body = nl ? *len - line - 1 : 0;
	int n;

	n = asprintf(&out, "%.*s HTTP/1.1\r\nHost: %s\r\n%s%s%s"
		     "Content-Length: %zu\r\n\r\n", (int)line, in,
		     tcp ? host : "localhost",
		     tcp ? "Authorization: Bearer " : "", tcp ? token : "",
		     tcp ? "\r\n" : "", body);
	if (n < 0 || !(out = realloc(out, (size_t)n + body + 1)))
		fuzz_fail("out of memory");
	memcpy(out + n, nl ? nl + 1 : in, body);
	*len = (size_t)n + body;
	free(in);
	return out;
}

/* The bytes to send for an input, and where (see the top comment). */
static char *request_of(const uint8_t *data, size_t size, int *tcp,
			size_t *len)
{
	char *req;

	*tcp = size >= 2 && memcmp(data, "T:", 2) == 0;
	if (*tcp) {
		data += 2;
		size -= 2;
	}
	req = with_token(data, size, len);
	if (*len >= 2 && memcmp(req, "B:", 2) == 0) {
		memmove(req, req + 2, *len -= 2);
		req = framed(req, len, *tcp);
	}
	return req;
}

static const char *find(const char *s, size_t len, const char *what)
{
	return memmem(s, len, what, strlen(what));
}

/* Where the head (request line and headers) ends, or 0 when it does not
 * in these bytes. */
static size_t head_end(const char *s, size_t len)
{
	const char *e = find(s, len, "\r\n\r\n");

	return e ? (size_t)(e - s) + 4 : 0;
}

/* The Content-Length of a head, or -1. */
static long content_length(const char *head, size_t len)
{
	static const char name[] = "\ncontent-length:";
	size_t i;

	for (i = 0; i + sizeof(name) - 1 < len; i++)
		if (strncasecmp(head + i, name, sizeof(name) - 1) == 0)
			return strtol(head + i + sizeof(name) - 1, NULL, 10);
	return -1;
}

/* True when the request bytes surely do not make a whole request, so the
 * node would wait for more. */
static int incomplete(const char *req, size_t len)
{
	size_t h = head_end(req, len);
	long cl;

	if (!h)
		return 1;
	cl = content_length(req, h);
	return cl > 0 && (size_t)cl > len - h;
}

/* True when `a` holds one whole final answer (1xx ones skipped). */
static int answered(const char *a, size_t len, int head_only)
{
	size_t h;
	long cl;

	while ((h = head_end(a, len))) {
		if (len >= 10 && a[9] == '1') { /* "HTTP/1.1 100 Continue" */
			a += h;
			len -= h;
			continue;
		}
		if (head_only)
			return 1;
		cl = content_length(a, h);
		return cl >= 0 && len - h >= (size_t)cl;
	}
	return 0;
}

/* ---- the exchange ----------------------------------------------------------- */

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

typedef struct answer {
	char buf[ANSWER_MAX];
	size_t len;
	int closed;
} answer;

/* Reads what the node sent so far; notes the close. */
static void take(int fd, answer *a)
{
	char scratch[4096];
	ssize_t n;

	for (;;) {
		char *to = a->len < ANSWER_MAX ? a->buf + a->len : scratch;
		size_t room = a->len < ANSWER_MAX ? ANSWER_MAX - a->len
						  : sizeof(scratch);

		n = recv(fd, to, room, MSG_DONTWAIT);
		if (n > 0 && to != scratch)
			a->len += (size_t)n;
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			a->closed = 1;
		if (n <= 0)
			return;
	}
}

/* Writes the whole request, reading at the same time: the node may answer
 * (401, 413) and stop reading before the request ends. */
static void send_all(int fd, const char *req, size_t len, answer *a)
{
	size_t off = 0;
	long deadline = now_ms() + ANSWER_MS;

	while (off < len && !a->closed && now_ms() < deadline) {
		struct pollfd p = { .fd = fd, .events = POLLIN | POLLOUT };
		ssize_t n;

		if (poll(&p, 1, 100) <= 0)
			continue;
		if (p.revents & (POLLIN | POLLHUP))
			take(fd, a);
		if (!(p.revents & POLLOUT))
			continue;
		n = send(fd, req + off, len - off, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0)
			off += (size_t)n;
		else if (n < 0 && errno != EAGAIN && errno != EINTR)
			return; /* the node closed: it answered, or refused */
	}
}

static void exchange(int fd, const char *req, size_t len)
{
	static answer a;
	int head_only = len >= 5 && memcmp(req, "HEAD ", 5) == 0;
	int half_closed = 0;
	long deadline;

	a.len = 0;
	a.closed = 0;
	send_all(fd, req, len, &a);
	if (incomplete(req, len)) {
		shutdown(fd, SHUT_WR);
		half_closed = 1;
	}
	deadline = now_ms() + ANSWER_MS;
	while (!a.closed && !answered(a.buf, a.len, head_only)) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		long left = deadline - now_ms();

		if (left <= 0) {
			silent++;
			break;
		}
		if (poll(&p, 1, half_closed ? (int)left : QUIET_MS) > 0) {
			take(fd, &a);
		} else if (!half_closed) {
			shutdown(fd, SHUT_WR);
			half_closed = 1;
		}
	}
	if (verbose) {
		size_t line = 0;

		while (line < a.len && a.buf[line] != '\r' && a.buf[line] != '\n')
			line++;
		fprintf(stderr, "fuzz_http: %s%sanswer of %zu bytes: %.*s\n",
			half_closed ? "half-closed, " : "",
			a.closed ? "closed, " : "", a.len, (int)line, a.buf);
	}
}

/*
 * connect(2) to the node, carried through the signals libFuzzer sends
 * (its timers): a connect interrupted is not a refusal. A unix socket's
 * connect starts again; a TCP one goes on in the background, and is
 * waited for. Only a real failure (refused, reset) is -1, errno set.
 */
static int connect_node(int fd, const struct sockaddr *a, socklen_t len)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	socklen_t elen = sizeof(int);
	int err = 0;

	for (;;) {
		if (connect(fd, a, len) == 0 || errno == EISCONN)
			return 0;
		if (errno == EINTR)
			continue;
		if (errno != EALREADY && errno != EINPROGRESS)
			return -1;
		while (poll(&p, 1, -1) < 0)
			if (errno != EINTR)
				return -1;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
			return -1;
		errno = err;
		return err ? -1 : 0;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int tcp;
	size_t len;
	char *req = request_of(data, size, &tcp, &len);
	int fd = socket(tcp ? AF_INET : AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int rc = fd < 0 ? -1
			: tcp ? connect_node(fd, (struct sockaddr *)&tcp_addr,
					     sizeof(tcp_addr))
			      : connect_node(fd, (struct sockaddr *)&unix_addr,
					     sizeof(unix_addr));

	if (rc != 0)
		fuzz_fail("cannot connect to the node: %s", strerror(errno));
	exchange(fd, req, len);
	close(fd);
	free(req);
	return 0;
}
