/*
 * client.h - the `livemod` command's side of the control API: one HTTP
 * request to the running node over <state>/agent.sock, or loopback TCP
 * when LIVEMOD_NODE=HOST:PORT (lib/httpclient.c), as
 * docs/control-api.md describes.
 */
#ifndef LM_CLIENT_H
#define LM_CLIENT_H

#include <stddef.h>

typedef struct lm_client_response {
	long status;  /* HTTP status */
	char *body;   /* NUL-terminated, "" when none */
	size_t len;
} lm_client_response;

/*
 * Sends `method` `path` (e.g. "GET", "/modules") to the node of
 * `state_dir`, with `body` as JSON when not NULL. Returns 0 once any
 * answer arrived (look at ->status), LM_ENONODE when no node runs there
 * (no socket, or nothing listens on it), LM_ENODEBUSY when a node is
 * there but takes no request (listen queue full, connection closed
 * unanswered; a 503 or 429 node_busy answer is an answer, which
 * lm_client_error turns into LM_ENODEBUSY),
 * LM_ERROR otherwise (timeout, permission, a malformed answer); the
 * message names the socket or address.
 */
int lm_client_request(lm_client_response *out, const char *state_dir,
		      const char *method, const char *path, const char *body,
		      size_t body_len);

/* The node's bearer token, <state>/token (64 hex digits), into tok;
 * LM_ENONODE when the node never listened on TCP, LM_EINVAL naming the
 * file when it is not a token. */
int lm_client_token(char tok[65], const char *state_dir);

/* The same over the node's loopback TCP listener `authority`
 * ("127.0.0.1:PORT"), with the bearer `token`, without a body (`livemod
 * web` asks the page's listener whether a node answers there). */
int lm_client_request_tcp(lm_client_response *out, const char *authority,
			  const char *token, const char *method,
			  const char *path);

void lm_client_response_clear(lm_client_response *r);

/*
 * An error answer's {"error": {"code", "message"}} as lm_error: sets the
 * message and returns the LM_E* code its "code" names (LM_ERROR for one
 * unknown or missing).
 */
int lm_client_error(const lm_client_response *r);

#endif
