/*
 * web.h - what the TCP listener needs for the web page (docs/web.md): the
 * page's files, embedded at build time (scripts/embed-ui.sh turns
 * agent/node/ui/ into build/gen/ui_files.c), the Host check that keeps
 * other sites out (DNS rebinding), and STATE/http, where the node says
 * which address its TCP listener took so `livemod web` can print the URL.
 */
#ifndef LM_NODE_WEB_H
#define LM_NODE_WEB_H

#include <stddef.h>
#include <sys/socket.h>

typedef struct lm_ui_file {
	const char *name;  /* "index.html", "app.js", ... */
	const char *type;  /* Content-Type */
	const char *data;
	size_t len;
} lm_ui_file;

/* Generated: every file of agent/node/ui/, then one with name NULL. */
extern const lm_ui_file lm_ui_files[];

/* The prefix of the page's paths; only the TCP listener serves them. */
#define LM_UI_PREFIX "/ui/"

/* The file a /ui/ path names ("/ui/" is index.html), or NULL. */
const lm_ui_file *lm_ui_lookup(const char *url);

/* "ADDR:PORT" of a socket address ("[::1]:PORT" for IPv6; a wildcard
 * address is written as the loopback of its family, where a browser on
 * this machine reaches it). 0, or -1 when `sa` is no IP address. */
int lm_web_authority(char *out, size_t cap, const struct sockaddr *sa);

/* Whether the Host header `host` (may be NULL) names this listener:
 * "localhost:PORT" (any case) or exactly the authority of `local`, the
 * address the request arrived on. */
int lm_web_host_ok(const char *host, const struct sockaddr *local);

/* STATE/http: the listener's authority and a newline, replaced whole;
 * removed when the node stops. */
int lm_web_publish(const char *state_dir, const struct sockaddr *bound);
void lm_web_unpublish(const char *state_dir);

#endif
