/*
 * httpclient.h - one HTTP/1.1 request and its reply, over a unix socket or
 * loopback TCP: what the `livemod` command needs of an HTTP client to
 * talk to a node's control API (planner/client.c), and no more. One
 * request per connection (Connection: close), deadlines kept with
 * poll(2), the reply read by lib/httpreply.c.
 *
 * Every failure is named, with the address in the message:
 *   LM_ENONODE  no socket file, or nothing listens there (a node that is
 *               not running)
 *   LM_ENODEBUSY  a node is there but takes no request now: its listen
 *               queue stayed full until the connect deadline, or it
 *               closed the connection before a byte of answer (it had
 *               no room for it); a node_busy answer (503, 429) is a
 *               reply like any other, for the caller to read
 *   LM_EINVAL   a bad address, method or path (the caller's)
 *   LM_ERROR    permission denied, a deadline passed ("no answer within
 *               60 s"), a malformed reply ("malformed reply: Content-Length
 *               'x' is not a number"), an I/O error
 */
#ifndef LM_HTTPCLIENT_H
#define LM_HTTPCLIENT_H

#include <stddef.h>
#include <sys/socket.h>

#include "httpreply.h"

typedef struct lm_http_target {
	struct sockaddr_storage addr;
	socklen_t addrlen;
	char name[128];  /* for messages: the socket path or HOST:PORT */
	char host[64];   /* the Host header */
	const char *token; /* the bearer token (TCP), or NULL; not owned */
} lm_http_target;

typedef struct lm_http_limits {
	int connect_ms;   /* connecting, a full listen queue waited out */
	int total_ms;     /* the whole exchange */
	size_t body_max;  /* of the reply's body */
} lm_http_limits;

/* A unix socket at `path` (at most 107 bytes: LM_EINVAL past it). */
int lm_http_target_unix(lm_http_target *t, const char *path);

/* TCP to "HOST:PORT" or "[V6]:PORT", HOST a numeric loopback address
 * (127.0.0.0/8, ::1) as the node requires of its own listener; a leading
 * '!' takes any address (the token then crosses the network in clear
 * text, as docs/control-api.md says). `token` is sent as
 * "Authorization: Bearer". LM_EINVAL naming `spec` when malformed. */
int lm_http_target_tcp(lm_http_target *t, const char *spec,
		       const char *token);

/*
 * Sends `method` `path` with `body` (JSON, `body_len` bytes; none when
 * NULL) and reads the reply into `out` (out->status, out->body,
 * out->len), which the caller clears with lm_http_reply_clear after a
 * success and need not after a failure. Returns 0 once a whole reply
 * came, whatever its status.
 */
int lm_http_request(lm_http_reply *out, const lm_http_target *t,
		    const char *method, const char *path, const char *body,
		    size_t body_len, const lm_http_limits *lim);

#endif
