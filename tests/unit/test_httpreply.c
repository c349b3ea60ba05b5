/*
 * test_httpreply.c - the CLI's HTTP client: the reply parser
 * (lib/httpreply.c) on whole and cut replies, every refusal's message;
 * and the exchange (lib/httpclient.c) against small servers of the
 * test's own on a unix socket and on loopback TCP: no node, a busy node,
 * a silent node, a chunked answer, the token sent.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "error.h"
#include "httpclient.h"
#include "httpreply.h"
#include "testutil.h"

#define MAX 1024

/* Parses `text` fed at once, then fed a byte at a time, then with the
 * connection's end after it; both ways must agree. Returns the result
 * (0 complete, else the error), the reply in *r (cleared by the
 * caller). */
static int parse_as(lm_http_reply *r, const char *text, size_t len,
		    bool head, size_t max)
{
	lm_http_reply one;
	int rc, rc1 = 0;
	char msg[600];
	size_t i;

	lm_http_reply_init(r, head, max);
	rc = lm_http_reply_feed(r, text, len);
	if (rc == 0)
		rc = lm_http_reply_eof(r);
	else if (rc == 1)
		rc = 0;
	snprintf(msg, sizeof(msg), "%s", lm_error_last());
	lm_http_reply_init(&one, head, max);
	for (i = 0; i < len && rc1 == 0; i++)
		rc1 = lm_http_reply_feed(&one, text + i, 1);
	if (rc1 == 0)
		rc1 = lm_http_reply_eof(&one);
	else if (rc1 == 1)
		rc1 = 0;
	assert_int_equal(rc, rc1);
	if (rc < 0)
		assert_string_equal(msg, lm_error_last());
	else {
		assert_int_equal(one.status, r->status);
		assert_int_equal(one.len, r->len);
		assert_memory_equal(one.body, r->body, r->len + 1);
	}
	lm_http_reply_clear(&one);
	return rc;
}

static int parse(lm_http_reply *r, const char *text)
{
	return parse_as(r, text, strlen(text), false, MAX);
}

/* The text must be refused with a message containing `want`. */
static void refused(const char *text, const char *want)
{
	lm_http_reply r;

	assert_int_equal(parse(&r, text), LM_EINVAL);
	if (!strstr(lm_error_last(), want))
		fail_msg("'%s' does not say '%s'", lm_error_last(), want);
	lm_http_reply_clear(&r);
}

static void ok(const char *text, int status, const char *body)
{
	lm_http_reply r;

	if (parse(&r, text) != 0)
		fail_msg("refused: %s", lm_error_last());
	assert_int_equal(r.status, status);
	assert_string_equal(r.body, body);
	assert_int_equal(r.len, strlen(body));
	lm_http_reply_clear(&r);
}

/* ---- the parser --------------------------------------------------------------- */

static void test_content_length(void **state)
{
	(void)state;
	ok("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
	   "Content-Length: 11\r\n\r\n{\"a\": 1}\r\n\n", 200, "{\"a\": 1}\r\n\n");
	/* bytes after the end are not the reply's */
	ok("HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\n{}garbage",
	   404, "{}");
	/* bare LF line ends, a repeated equal length, no reason phrase */
	ok("HTTP/1.0 200\nContent-Length: 3, 3\ncontent-length: 3\n\nabc",
	   200, "abc");
	ok("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 200, "");
}

static void test_no_body(void **state)
{
	lm_http_reply r;
	const char *h = "HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n";

	(void)state;
	assert_int_equal(parse_as(&r, h, strlen(h), true, MAX), 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "");
	lm_http_reply_clear(&r);
	ok("HTTP/1.1 204 No Content\r\nContent-Length: 9\r\n\r\n", 204, "");
	ok("HTTP/1.1 304 Not Modified\r\n\r\n", 304, "");
}

static void test_until_close(void **state)
{
	(void)state;
	ok("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall of it\n", 200,
	   "all of it\n");
	ok("HTTP/1.1 500 Internal\r\n\r\n", 500, "");
}

static void test_interim(void **state)
{
	(void)state;
	ok("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\n"
	   "Link: </x>\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 1\r\n"
	   "\r\nx", 201, "x");
	refused("HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n",
		"switches protocols (101)");
}

static void test_chunked(void **state)
{
	(void)state;
	ok("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	   "4\r\n{\"a\"\r\nA\r\n: 1234567}\r\n0\r\n\r\n", 200,
	   "{\"a\": 1234567}");
	/* extensions, upper-case hex, BWS, identity before chunked, a
	 * Content-Length the chunking overrides, trailers */
	ok("HTTP/1.1 200 OK\r\nContent-Length: 99\r\n"
	   "Transfer-Encoding: identity\r\ntransfer-encoding: Chunked\r\n\r\n"
	   "1 ;name=value;x=\"q\"\r\nA\r\n0000B\r\nhello world\r\n"
	   "0;last\r\nX-Trailer: 1\r\nDigest: abc\r\n\r\n", 200,
	   "Ahello world");
	/* a chunk cut anywhere, fed as it comes: parse_as feeds bytewise */
	ok("HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n3\nabc\n0\n\n",
	   200, "abc");
}

static void test_chunked_refused(void **state)
{
	const char *te = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
	char buf[256];

	(void)state;
	snprintf(buf, sizeof(buf), "%sxyz\r\nabc\r\n0\r\n\r\n", te);
	refused(buf, "chunk-size line 'xyz' is not a hexadecimal size");
	snprintf(buf, sizeof(buf), "%s3 x\r\nabc\r\n0\r\n\r\n", te);
	refused(buf, "chunk-size line '3 x' is not a hexadecimal size");
	snprintf(buf, sizeof(buf), "%s2\r\nabc\r\n0\r\n\r\n", te);
	refused(buf, "a chunk's data is longer than its size ('c' follows)");
	snprintf(buf, sizeof(buf), "%s11111111111111111\r\n", te);
	refused(buf, "chunk size '11111111111111111' is too large");
	snprintf(buf, sizeof(buf), "%s401\r\n", te);
	refused(buf, "a chunk of 1025 bytes takes the reply's body past the "
		"1024-byte limit");
	snprintf(buf, sizeof(buf), "%s3\r\nabc\r\n", te);
	refused(buf, "the reply ended inside its chunked body, after 3 bytes, "
		"before the last chunk");
	snprintf(buf, sizeof(buf), "%s3\r\nabc\r\n0\r\nX: 1\r\n", te);
	refused(buf, "the reply ended inside its trailer fields");
	snprintf(buf, sizeof(buf), "%s0\r\nno colon\r\n\r\n", te);
	refused(buf, "trailer line 'no colon' is not 'name: value'");
	refused("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
		"Transfer-Encoding 'gzip' is not understood (only chunked is)");
	refused("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, identity\r\n\r\n",
		"Transfer-Encoding: a coding after chunked");
}

static void test_lengths_refused(void **state)
{
	(void)state;
	refused("HTTP/1.1 200 OK\r\nContent-Length: 12x\r\n\r\n",
		"Content-Length '12x' is not a number");
	refused("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
		"Content-Length '-1' is not a number");
	refused("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
		"Content-Length '99999999999999999999' is too large");
	refused("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4"
		"\r\n\r\nabcd", "Content-Length given twice, as 3 and 4");
	refused("HTTP/1.1 200 OK\r\nContent-Length: 2000\r\n\r\n",
		"the reply's body, 2000 bytes (Content-Length), is larger "
		"than the 1024-byte limit");
	refused("HTTP/1.1 200 OK\r\nContent-Length: 42\r\n\r\n0123456789",
		"the reply ended after 10 of its 42 body bytes "
		"(Content-Length)");
}

static void test_oversized(void **state)
{
	char *big = malloc(LM_HTTP_HEADERS_MAX + 100);
	lm_http_reply r;
	size_t n;

	(void)state;
	assert_non_null(big);
	/* a body read to the close, past the limit */
	n = (size_t)sprintf(big, "HTTP/1.1 200 OK\r\n\r\n");
	memset(big + n, 'x', MAX + 1);
	big[n + MAX + 1] = '\0';
	refused(big, "the reply's body is larger than the 1024-byte limit");
	/* one header line past the header section's limit */
	n = (size_t)sprintf(big, "HTTP/1.1 200 OK\r\nX-Big: ");
	memset(big + n, 'y', LM_HTTP_HEADERS_MAX);
	big[n + LM_HTTP_HEADERS_MAX] = '\0';
	lm_http_reply_init(&r, false, MAX);
	assert_int_equal(lm_http_reply_feed(&r, big, strlen(big)), LM_EINVAL);
	assert_string_equal(lm_error_last(), "the reply's headers are longer "
			    "than 65536 bytes");
	lm_http_reply_clear(&r);
	free(big);
}

static void test_malformed(void **state)
{
	lm_http_reply r;

	(void)state;
	refused("HTTP/2 200 OK\r\n\r\n", "status line 'HTTP/2 200 OK' is not "
		"'HTTP/1.x NNN ...'");
	refused("SSH-2.0-OpenSSH_9.2\r\n", "status line 'SSH-2.0-OpenSSH_9.2' "
		"is not 'HTTP/1.x NNN ...'");
	refused("HTTP/1.1 2000 OK\r\n\r\n", "the status is not a number from "
		"100 to 599");
	refused("HTTP/1.1 099 Low\r\n\r\n", "the status is not a number");
	refused("HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
		"header line 'Bad Name: x' is not 'name: value'");
	refused("HTTP/1.1 200 OK\r\nX-A: 1\r\n folded\r\n\r\n",
		"obsolete line folding in the header section");
	refused("HTTP/1.1 200 OK\r\nX-A: a\rb\r\n\r\n",
		"a control byte (0x0d) in the line 'X-A: a?b'");
	refused("HTTP/1.1 200 OK\r\nContent-Le", "the reply ended inside its "
		"header section");
	/* nothing at all */
	lm_http_reply_init(&r, false, MAX);
	assert_false(lm_http_reply_started(&r));
	assert_int_equal(lm_http_reply_eof(&r), LM_EINVAL);
	assert_string_equal(lm_error_last(), "the connection closed before a "
			    "reply");
	/* an error sticks */
	lm_http_reply_clear(&r);
	lm_http_reply_init(&r, false, MAX);
	assert_int_equal(lm_http_reply_feed(&r, "XTTP", 4), 0);
	assert_true(lm_http_reply_started(&r));
	assert_int_equal(lm_http_reply_feed(&r, "/1.1 200\r\n", 10), LM_EINVAL);
	lm_error_clear();
	assert_int_equal(lm_http_reply_feed(&r, "\r\n", 2), LM_EINVAL);
	assert_int_equal(lm_http_reply_eof(&r), LM_EINVAL);
	lm_http_reply_clear(&r);
}

/* ---- the exchange ------------------------------------------------------------- */

typedef struct server {
	int fd;              /* listening */
	const char *answer;  /* sent after the request's headers; NULL:
			      * close at once; "" : never answer */
	char request[4096];  /* what came */
	pthread_t th;
} server;

static void *serve(void *arg)
{
	server *s = arg;
	int c = accept(s->fd, NULL, NULL);
	size_t n = 0;
	ssize_t k;

	if (c < 0)
		return NULL;
	if (!s->answer) {
		close(c);
		return NULL;
	}
	while (n < sizeof(s->request) - 1 && !strstr(s->request, "\r\n\r\n") &&
	       (k = read(c, s->request + n, sizeof(s->request) - 1 - n)) > 0)
		n += (size_t)k;
	if (*s->answer) {
		if (write(c, s->answer, strlen(s->answer)) < 0)
			abort();
	} else {
		poll(NULL, 0, 1500); /* silent: longer than the test's limit */
	}
	close(c);
	return NULL;
}

static const lm_http_limits lim = { 2000, 300, MAX };

static void start(server *s, const char *answer)
{
	s->answer = answer;
	memset(s->request, 0, sizeof(s->request));
	assert_int_equal(listen(s->fd, 4), 0);
	assert_int_equal(pthread_create(&s->th, NULL, serve, s), 0);
}

static void test_unix_socket(void **state)
{
	char *dir = tu_tmpdir(), *path;
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	lm_http_target t;
	lm_http_reply r;
	server s;

	(void)state;
	assert_true(asprintf(&path, "%s/agent.sock", dir) > 0);
	assert_int_equal(lm_http_target_unix(&t, path), 0);
	/* no socket file */
	assert_int_equal(lm_http_request(&r, &t, "GET", "/health", NULL, 0,
					 &lim), LM_ENONODE);
	assert_true(strstr(lm_error_last(), "no running node: ") &&
		    strstr(lm_error_last(), "agent.sock does not exist"));
	/* a socket file nobody listens on (a node that died) */
	s.fd = socket(AF_UNIX, SOCK_STREAM, 0);
	strcpy(a.sun_path, path);
	assert_int_equal(bind(s.fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(lm_http_request(&r, &t, "GET", "/health", NULL, 0,
					 &lim), LM_ENONODE);
	assert_non_null(strstr(lm_error_last(), "no running node: nothing "
			       "listens on "));
	/* a node that closes at once: busy, not "no node" */
	start(&s, NULL);
	assert_int_equal(lm_http_request(&r, &t, "GET", "/health", NULL, 0,
					 &lim), LM_ENODEBUSY);
	assert_non_null(strstr(lm_error_last(), "node busy: "));
	assert_non_null(strstr(lm_error_last(), "the node closed the "
			       "connection without answering"));
	pthread_join(s.th, NULL);
	/* a silent node: the deadline, named */
	start(&s, "");
	assert_int_equal(lm_http_request(&r, &t, "GET", "/modules", NULL, 0,
					 &lim), LM_ERROR);
	assert_non_null(strstr(lm_error_last(), "agent.sock: no answer to GET "
			       "/modules from the node within 300 ms"));
	pthread_join(s.th, NULL);
	/* a malformed answer */
	start(&s, "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n{}");
	assert_int_equal(lm_http_request(&r, &t, "GET", "/modules", NULL, 0,
					 &lim), LM_ERROR);
	assert_non_null(strstr(lm_error_last(), "agent.sock: malformed answer "
			       "to GET /modules: the reply ended after 2 of "
			       "its 9 body bytes"));
	pthread_join(s.th, NULL);
	/* a chunked answer to a POST with a body */
	start(&s, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		  "2\r\n{}\r\n0\r\n\r\n");
	assert_int_equal(lm_http_request(&r, &t, "POST", "/update-modules",
					 "{\"modules\": []}", 15, &lim), 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "{}");
	pthread_join(s.th, NULL);
	assert_non_null(strstr(s.request, "POST /update-modules HTTP/1.1\r\n"
			       "Host: localhost\r\nConnection: close\r\n"
			       "Content-Type: application/json\r\n"
			       "Content-Length: 15\r\n\r\n"));
	lm_http_reply_clear(&r);
	/* a request line that could smuggle */
	assert_int_equal(lm_http_request(&r, &t, "GET", "/a b", NULL, 0, &lim),
			 LM_EINVAL);
	close(s.fd);
	free(path);
	tu_rm_rf(dir);
	free(dir);
}

/* A listen queue that stays full is a busy node, not "no node". */
static void test_unix_busy(void **state)
{
	char *dir = tu_tmpdir(), *path;
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	const lm_http_limits quick = { 100, 300, MAX };
	int lfd, c[4], i, busy = 0;
	lm_http_target t;
	lm_http_reply r;

	(void)state;
	assert_true(asprintf(&path, "%s/agent.sock", dir) > 0);
	strcpy(a.sun_path, path);
	lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(lfd, 0), 0); /* never accepts */
	for (i = 0; i < 4; i++) { /* fill the queue */
		c[i] = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
		if (connect(c[i], (struct sockaddr *)&a, sizeof(a)) < 0)
			busy++;
	}
	assert_true(busy > 0);
	assert_int_equal(lm_http_target_unix(&t, path), 0);
	assert_int_equal(lm_http_request(&r, &t, "GET", "/health", NULL, 0,
					 &quick), LM_ENODEBUSY);
	assert_non_null(strstr(lm_error_last(), "node busy: "));
	assert_non_null(strstr(lm_error_last(), "accepted no connection "
			       "within 100 ms (its listen queue stayed full)"));
	for (i = 0; i < 4; i++)
		close(c[i]);
	close(lfd);
	free(path);
	tu_rm_rf(dir);
	free(dir);
}

static void test_tcp(void **state)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);
	lm_http_target t;
	lm_http_reply r;
	char spec[64];
	server s;

	(void)state;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s.fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(bind(s.fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(s.fd, (struct sockaddr *)&a, &alen), 0);
	snprintf(spec, sizeof(spec), "127.0.0.1:%d", ntohs(a.sin_port));
	assert_int_equal(lm_http_target_tcp(&t, spec, "t0k"), 0);
	start(&s, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}");
	assert_int_equal(lm_http_request(&r, &t, "GET", "/health", NULL, 0,
					 &lim), 0);
	pthread_join(s.th, NULL);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(s.request, "Authorization: Bearer t0k\r\n"));
	lm_http_reply_clear(&r);
	close(s.fd);
	/* nothing listens there now */
	assert_int_equal(lm_http_request(&r, &t, "GET", "/health", NULL, 0,
					 &lim), LM_ENONODE);
	/* addresses */
	assert_int_equal(lm_http_target_tcp(&t, "[::1]:8470", NULL), 0);
	assert_int_equal(lm_http_target_tcp(&t, "10.1.2.3:8470", NULL),
			 LM_EINVAL);
	assert_non_null(strstr(lm_error_last(), "10.1.2.3 is not a loopback "
			       "address"));
	assert_int_equal(lm_http_target_tcp(&t, "!10.1.2.3:8470", NULL), 0);
	assert_int_equal(lm_http_target_tcp(&t, "localhost:8470", NULL),
			 LM_EINVAL);
	assert_int_equal(lm_http_target_tcp(&t, "127.0.0.1:0", NULL), LM_EINVAL);
	assert_int_equal(lm_http_target_tcp(&t, "127.0.0.1", NULL), LM_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_content_length),
		cmocka_unit_test(test_no_body),
		cmocka_unit_test(test_until_close),
		cmocka_unit_test(test_interim),
		cmocka_unit_test(test_chunked),
		cmocka_unit_test(test_chunked_refused),
		cmocka_unit_test(test_lengths_refused),
		cmocka_unit_test(test_oversized),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_unix_socket),
		cmocka_unit_test(test_unix_busy),
		cmocka_unit_test(test_tcp),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
