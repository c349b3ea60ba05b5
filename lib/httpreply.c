/*
 * httpreply.c - the HTTP/1.1 reply parser; see httpreply.h.
 *
 * A state machine over lines (status line, header fields, chunk-size
 * lines, trailers) and counted runs of bytes (a Content-Length body, a
 * chunk's data). Lines are gathered in r->line until their LF, so a
 * reply may arrive cut anywhere; body bytes are copied in runs. The
 * limits are checked before memory is taken: a hostile length costs
 * nothing.
 */
#include "httpreply.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "error.h"

enum {
	S_STATUS,     /* the status line */
	S_HEADER,     /* a header field line, or the empty line ending them */
	S_BODY_CL,    /* body bytes, Content-Length of them */
	S_BODY_EOF,   /* body bytes until the connection ends */
	S_CHUNK_SIZE, /* a chunk-size line: hex [; extensions] */
	S_CHUNK_DATA, /* chunk_left bytes of a chunk */
	S_CHUNK_END,  /* the CRLF after a chunk's data */
	S_TRAILER,    /* trailer field lines, or the empty line ending them */
	S_DONE,
	S_FAILED
};

/* A chunk-size line holds a size and its extensions; the node sends
 * none, and anything this long is not a chunk-size line. */
#define CHUNK_LINE_MAX 4096

static int fail(lm_http_reply *r, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(lm_http_reply *r, int code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	r->state = S_FAILED;
	r->rc = code;
	return lm_error_set(code, "%s", msg);
}

void lm_http_reply_init(lm_http_reply *r, bool head, size_t body_max)
{
	memset(r, 0, sizeof(*r));
	r->head = head;
	/* below SIZE_MAX, so that a body and its NUL always fit a size_t */
	r->body_max = body_max < SIZE_MAX / 2 ? body_max : SIZE_MAX / 2;
	r->state = S_STATUS;
}

void lm_http_reply_clear(lm_http_reply *r)
{
	free(r->body);
	free(r->line);
	memset(r, 0, sizeof(*r));
}

bool lm_http_reply_started(const lm_http_reply *r)
{
	return r->started;
}

/* A line as text for a message: at most 60 bytes, control bytes as '?'. */
static const char *shown(const char *s, size_t n, char buf[64])
{
	size_t i;

	if (n > 60)
		n = 60;
	for (i = 0; i < n; i++)
		buf[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	buf[n] = '\0';
	return buf;
}

/* Room for `more` body bytes: the limit first, then memory. */
static int body_reserve(lm_http_reply *r, uint64_t more)
{
	size_t want;
	char *p;

	if (more > r->body_max - r->len)
		return fail(r, LM_EINVAL, "the reply's body is larger than "
			    "the %zu-byte limit", r->body_max);
	want = r->len + (size_t)more + 1;
	if (want <= r->cap)
		return 0;
	if (r->cap && want < 2 * r->cap && 2 * r->cap - 1 <= r->body_max)
		want = 2 * r->cap;
	if (!(p = realloc(r->body, want)))
		return fail(r, LM_ERROR, "out of memory (a reply of %zu "
			    "bytes)", want);
	r->body = p;
	r->cap = want;
	return 0;
}

static void body_append(lm_http_reply *r, const char *p, size_t n)
{
	memcpy(r->body + r->len, p, n);
	r->len += n;
	r->body[r->len] = '\0';
}

/* ---- the status line and header fields ----------------------------------- */

static int parse_status(lm_http_reply *r, const char *s, size_t n)
{
	char b[64];

	if (n < 12 || memcmp(s, "HTTP/1.", 7) != 0 ||
	    (s[7] != '0' && s[7] != '1') || s[8] != ' ')
		return fail(r, LM_EINVAL, "status line '%s' is not "
			    "'HTTP/1.x NNN ...'", shown(s, n, b));
	if (s[9] < '1' || s[9] > '5' || s[10] < '0' || s[10] > '9' ||
	    s[11] < '0' || s[11] > '9' || (n > 12 && s[12] != ' '))
		return fail(r, LM_EINVAL, "status line '%s': the status is "
			    "not a number from 100 to 599", shown(s, n, b));
	r->status = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
	return 0;
}

static bool is_tchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* The elements of a comma-separated field value, OWS trimmed: calls
 * `fn` on each non-empty one; the first error stops. */
static int each_element(lm_http_reply *r, const char *v, size_t n,
			int (*fn)(lm_http_reply *, const char *, size_t))
{
	size_t i = 0, j;
	int rc;

	while (i < n) {
		j = i;
		while (j < n && v[j] != ',')
			j++;
		size_t a = i, z = j;

		while (a < z && (v[a] == ' ' || v[a] == '\t'))
			a++;
		while (z > a && (v[z - 1] == ' ' || v[z - 1] == '\t'))
			z--;
		if (z > a && (rc = fn(r, v + a, z - a)) < 0)
			return rc;
		i = j + 1;
	}
	return 0;
}

static int content_length(lm_http_reply *r, const char *v, size_t n)
{
	uint64_t x = 0;
	size_t i;
	char b[64];

	for (i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return fail(r, LM_EINVAL, "Content-Length '%s' is not "
				    "a number", shown(v, n, b));
		if (x > (UINT64_MAX - 9) / 10)
			return fail(r, LM_EINVAL, "Content-Length '%s' is "
				    "too large", shown(v, n, b));
		x = x * 10 + (uint64_t)(v[i] - '0');
	}
	if (r->has_length && x != r->length)
		return fail(r, LM_EINVAL, "Content-Length given twice, as "
			    "%" PRIu64 " and %" PRIu64, r->length, x);
	r->has_length = true;
	r->length = x;
	return 0;
}

static int transfer_coding(lm_http_reply *r, const char *v, size_t n)
{
	char b[64];

	if (r->chunked) /* chunked must be the last coding, and once */
		return fail(r, LM_EINVAL, "Transfer-Encoding: a coding "
			    "after chunked");
	if (n == 7 && strncasecmp(v, "chunked", 7) == 0) {
		r->chunked = true;
		return 0;
	}
	if (n == 8 && strncasecmp(v, "identity", 8) == 0)
		return 0; /* RFC 2616's no-op coding */
	return fail(r, LM_EINVAL, "Transfer-Encoding '%s' is not "
		    "understood (only chunked is)", shown(v, n, b));
}

/* One "name: value" line of the headers (or of the trailers, which are
 * checked for form and dropped). */
static int parse_field(lm_http_reply *r, const char *s, size_t n,
		       bool trailer)
{
	const char *colon = memchr(s, ':', n);
	size_t name_len = colon ? (size_t)(colon - s) : 0, i;
	const char *v;
	size_t vn;
	char b[64];

	if (s[0] == ' ' || s[0] == '\t')
		return fail(r, LM_EINVAL, "obsolete line folding in the "
			    "%s ('%s')", trailer ? "trailers" : "header "
			    "section", shown(s, n, b));
	for (i = 0; i < name_len && is_tchar(s[i]); i++)
		;
	if (!colon || !name_len || i != name_len)
		return fail(r, LM_EINVAL, "%s line '%s' is not 'name: value'",
			    trailer ? "trailer" : "header", shown(s, n, b));
	v = colon + 1;
	vn = n - name_len - 1;
	if (trailer)
		return 0;
	if (name_len == 14 && strncasecmp(s, "Content-Length", 14) == 0)
		return each_element(r, v, vn, content_length);
	if (name_len == 17 && strncasecmp(s, "Transfer-Encoding", 17) == 0)
		return each_element(r, v, vn, transfer_coding);
	return 0;
}

/* After the empty line ending a reply's header section: how its body is
 * framed, or the next reply after an interim one. */
static int headers_done(lm_http_reply *r)
{
	if (r->status == 101)
		return fail(r, LM_EINVAL, "the reply switches protocols "
			    "(101): not HTTP any more");
	if (r->status < 200) { /* 100 Continue, 102, 103: the real one next */
		r->state = S_STATUS;
		r->status = 0;
		r->chunked = r->has_length = false;
		r->length = 0;
		r->header_bytes = 0;
		return 0;
	}
	if (r->head || r->status == 204 || r->status == 304) {
		r->state = S_DONE;
		return 0;
	}
	if (r->chunked) {
		r->has_length = false; /* RFC 9112 6.3: chunked wins */
		r->state = S_CHUNK_SIZE;
		return 0;
	}
	if (!r->has_length) {
		r->state = S_BODY_EOF;
		return 0;
	}
	if (r->length > r->body_max)
		return fail(r, LM_EINVAL, "the reply's body, %" PRIu64
			    " bytes (Content-Length), is larger than the "
			    "%zu-byte limit", r->length, r->body_max);
	r->state = r->length ? S_BODY_CL : S_DONE;
	return r->length ? body_reserve(r, r->length) : 0;
}

/* ---- chunked bodies -------------------------------------------------------- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)(c | 0x20);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static int parse_chunk_size(lm_http_reply *r, const char *s, size_t n)
{
	uint64_t x = 0;
	size_t i;
	char b[64];
	int d;

	for (i = 0; i < n && (d = hexval(s[i])) >= 0; i++) {
		if (x > (UINT64_MAX >> 4))
			return fail(r, LM_EINVAL, "chunk size '%s' is too "
				    "large", shown(s, n, b));
		x = (x << 4) | (uint64_t)d;
	}
	/* after the digits: nothing, or BWS then ";" extensions (dropped) */
	while (i > 0 && i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	if (i == 0 || (i < n && s[i] != ';'))
		return fail(r, LM_EINVAL, "chunk-size line '%s' is not a "
			    "hexadecimal size", shown(s, n, b));
	if (x == 0) {
		r->state = S_TRAILER;
		r->header_bytes = 0;
		return 0;
	}
	if (x > r->body_max - r->len)
		return fail(r, LM_EINVAL, "a chunk of %" PRIu64 " bytes "
			    "takes the reply's body past the %zu-byte limit",
			    x, r->body_max);
	r->chunk_left = x;
	r->state = S_CHUNK_DATA;
	return body_reserve(r, x);
}

/* ---- lines ----------------------------------------------------------------- */

/* One whole line, its LF and a CR before it removed. */
static int take_line(lm_http_reply *r, const char *s, size_t n)
{
	char b[64];
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 && s[i] != '\t')
			return fail(r, LM_EINVAL, "a control byte (0x%02x) in "
				    "the line '%s'", (unsigned char)s[i],
				    shown(s, n, b));
	switch (r->state) {
	case S_STATUS:
		r->state = S_HEADER;
		return parse_status(r, s, n);
	case S_HEADER:
		return n ? parse_field(r, s, n, false) : headers_done(r);
	case S_CHUNK_SIZE:
		return parse_chunk_size(r, s, n);
	case S_CHUNK_END:
		if (n)
			return fail(r, LM_EINVAL, "a chunk's data is longer "
				    "than its size ('%s' follows)",
				    shown(s, n, b));
		r->state = S_CHUNK_SIZE;
		return 0;
	case S_TRAILER:
		if (!n) {
			r->state = S_DONE;
			return 0;
		}
		return parse_field(r, s, n, true);
	}
	return fail(r, LM_ERROR, "reply parser: line in state %d", r->state);
}

/* Gathers bytes of a line; calls take_line at its LF. Returns the bytes
 * used, or an error. */
static long feed_line(lm_http_reply *r, const char *p, size_t n)
{
	const char *lf = memchr(p, '\n', n);
	size_t take = lf ? (size_t)(lf - p) + 1 : n;
	bool in_headers = r->state == S_STATUS || r->state == S_HEADER ||
			  r->state == S_TRAILER;
	size_t max = in_headers ? LM_HTTP_HEADERS_MAX : CHUNK_LINE_MAX;
	size_t len;
	int rc;

	if (in_headers && take > max - r->header_bytes)
		return fail(r, LM_EINVAL, "the reply's %s are longer than "
			    "%zu bytes", r->state == S_TRAILER ? "trailers"
			    : "headers", max);
	if (!in_headers && r->line_len + take > max)
		return fail(r, LM_EINVAL, "a chunk-size line longer than %zu "
			    "bytes", max);
	if (in_headers)
		r->header_bytes += take;
	if (r->line_len + take > r->line_cap) {
		size_t cap = r->line_cap ? 2 * r->line_cap : 256;
		char *q;

		while (cap < r->line_len + take)
			cap *= 2;
		if (!(q = realloc(r->line, cap)))
			return fail(r, LM_ERROR, "out of memory");
		r->line = q;
		r->line_cap = cap;
	}
	memcpy(r->line + r->line_len, p, take);
	r->line_len += take;
	if (!lf)
		return (long)take;
	len = r->line_len - 1;
	if (len && r->line[len - 1] == '\r')
		len--;
	r->line_len = 0;
	rc = take_line(r, r->line, len);
	return rc < 0 ? rc : (long)take;
}

int lm_http_reply_feed(lm_http_reply *r, const void *data, size_t len)
{
	const char *p = data;
	size_t take;
	long used;
	int rc;

	r->started |= len > 0;
	while (len && r->state != S_DONE && r->state != S_FAILED) {
		switch (r->state) {
		case S_BODY_CL:
			take = r->length - r->len < len
				? (size_t)(r->length - r->len) : len;
			body_append(r, p, take);
			if (r->len == r->length)
				r->state = S_DONE;
			break;
		case S_BODY_EOF:
			if ((rc = body_reserve(r, len)) < 0)
				return rc;
			take = len;
			body_append(r, p, take);
			break;
		case S_CHUNK_DATA:
			take = r->chunk_left < len ? (size_t)r->chunk_left : len;
			body_append(r, p, take);
			if (!(r->chunk_left -= take))
				r->state = S_CHUNK_END;
			break;
		default:
			if ((used = feed_line(r, p, len)) < 0)
				return (int)used;
			take = (size_t)used;
		}
		p += take;
		len -= take;
	}
	if (r->state == S_FAILED)
		return r->rc;
	if (r->state != S_DONE)
		return 0;
	if (!r->body && !(r->body = calloc(1, 1)))
		return fail(r, LM_ERROR, "out of memory");
	return 1;
}

int lm_http_reply_eof(lm_http_reply *r)
{
	switch (r->state) {
	case S_DONE:
		return 0;
	case S_FAILED:
		return r->rc;
	case S_BODY_EOF:
		r->state = S_DONE;
		return lm_http_reply_feed(r, "", 0) < 0 ? LM_ERROR : 0;
	case S_STATUS:
	case S_HEADER:
		return fail(r, LM_EINVAL, lm_http_reply_started(r)
			    ? "the reply ended inside its header section"
			    : "the connection closed before a reply");
	case S_BODY_CL:
		return fail(r, LM_EINVAL, "the reply ended after %zu of its "
			    "%" PRIu64 " body bytes (Content-Length)", r->len,
			    r->length);
	case S_TRAILER:
		return fail(r, LM_EINVAL, "the reply ended inside its "
			    "trailer fields");
	default:
		return fail(r, LM_EINVAL, "the reply ended inside its chunked "
			    "body, after %zu bytes, before the last chunk",
			    r->len);
	}
}
