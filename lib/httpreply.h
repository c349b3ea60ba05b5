/*
 * httpreply.h - reads one HTTP/1.1 reply from bytes as they arrive: the
 * CLI's side of the control API (lib/httpclient.c), written by hand
 * because a library client cost more start-up than the rest of a command
 * (DESIGN.md, "Dependencies"). Fuzzed (tests/fuzz/fuzz_reply.c).
 *
 * A push parser: feed it whatever a read() returned, in any pieces; it
 * says when the reply is complete. What it reads (RFC 9112):
 *
 * - a status line "HTTP/1.x NNN reason"; interim 1xx replies (100
 *   Continue) are skipped; 101 (a protocol switch) is refused;
 * - header fields, lines ending in CRLF or a bare LF; the header section
 *   at most LM_HTTP_HEADERS_MAX bytes; obsolete line folding refused;
 * - a body framed by Transfer-Encoding: chunked (chunk extensions and
 *   trailer fields read and dropped), else Content-Length (every copy
 *   must agree), else by the end of the connection; none for a reply to
 *   HEAD, for 1xx, 204 and 304;
 * - a body at most `body_max` bytes, else an error naming the limit.
 *
 * Every refusal is LM_EINVAL with a message naming what was wrong
 * ("Content-Length '12x' is not a number"), without the source's name:
 * the caller adds where the bytes came from (lm_error_wrap).
 */
#ifndef LM_HTTPREPLY_H
#define LM_HTTPREPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Header section limit: libmicrohttpd's own answers are a few hundred
 * bytes; anything near this is not the node. */
#define LM_HTTP_HEADERS_MAX (64u << 10)

typedef struct lm_http_reply {
	/* the result */
	int status;          /* 200, 404, ...: the final status */
	char *body;          /* NUL-terminated; "" when none; the caller's
			      * after lm_http_reply_take_body */
	size_t len;
	/* framing, as the headers said */
	bool chunked;
	bool has_length;     /* Content-Length given (and not chunked) */
	uint64_t length;
	/* the parser's own */
	int state;
	int rc;              /* the error, once failed */
	bool started;        /* a byte was fed */
	bool head;           /* the request was HEAD: no body */
	size_t body_max;
	size_t cap;          /* of body */
	char *line;          /* the header or chunk-size line being read */
	size_t line_len, line_cap;
	size_t header_bytes; /* of this reply's header section so far */
	uint64_t chunk_left; /* bytes of the current chunk still to come */
} lm_http_reply;

/* Ready to read the reply to a request; `head` for HEAD. */
void lm_http_reply_init(lm_http_reply *r, bool head, size_t body_max);
void lm_http_reply_clear(lm_http_reply *r);

/*
 * Reads `len` more bytes. Returns 1 when the reply is complete (bytes
 * past its end are ignored: the request said Connection: close), 0 when
 * more are needed, LM_EINVAL (malformed) or LM_ERROR (out of memory)
 * with a message. After an error or completion, feeding again returns
 * the same.
 */
int lm_http_reply_feed(lm_http_reply *r, const void *data, size_t len);

/*
 * The connection ended. Returns 0 when that completes the reply (a body
 * read until the close, or a reply complete already), else LM_EINVAL
 * naming where it was cut: "the reply ended in its headers", "...after
 * 10 of 42 body bytes", "...inside a chunk".
 */
int lm_http_reply_eof(lm_http_reply *r);

/* Whether any byte was fed: tells "closed without answering" from a cut
 * reply. */
bool lm_http_reply_started(const lm_http_reply *r);

#endif
