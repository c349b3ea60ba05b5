/*
 * http.h - the node's control API server (http.c), as node.c starts it.
 *
 * The server reaches the node only through the calls node.c hands it in
 * struct lm_httpd_calls: node.c includes this header and http.c never
 * includes the node's (docs/layers.md). Each call is the endpoint's work
 * done by the node: malloc'ed JSON text in *out, or an apply result, or
 * a negative LM_E* code with lm_error_last() set.
 */
#ifndef LM_HTTP_H
#define LM_HTTP_H

#include <stdint.h>

#include <livemod/node.h>

typedef struct lm_httpd lm_httpd;

typedef struct lm_httpd_calls {
	/* GET /update-modules */
	int (*update_info)(lm_node *n, char **out);
	/* GET /update-modules/all (names NULL), POST /update-modules */
	int (*update)(lm_node *n, const char *const *names, size_t count,
		      unsigned flags, lm_apply_result **res);
	/* POST /plans/{id}/apply; `reviewed` the body, or NULL */
	int (*apply)(lm_node *n, int64_t id, const char *reviewed,
		     unsigned flags, lm_apply_result **res);
	/* POST /rollback; `to` 0 for the default */
	int (*rollback)(lm_node *n, int64_t to, unsigned flags,
			lm_apply_result **res);
	void (*result_free)(lm_apply_result *res);
	int (*plan)(lm_node *n, int64_t id, char **out);      /* GET /plans/{id} */
	int (*modules)(lm_node *n, char **out);               /* GET /modules */
	int (*health)(lm_node *n, char **out);                /* GET /health */
	int (*history)(lm_node *n, char **out);               /* GET /history */
	/* POST /make-permanent; `release` 0 for the current one */
	int (*make_permanent)(lm_node *n, int64_t release, char **out);
	int64_t (*release)(lm_node *n); /* the node's current release */
} lm_httpd_calls;

/*
 * Starts the listeners `opts` asks for (control_socket: STATE/agent.sock;
 * http_listen: TCP behind STATE/token, which is created 0600 on the first
 * start), serving `node` through `calls` (both must outlive the server).
 */
int lm_httpd_start(lm_httpd **out, const char *state_dir,
		   const lm_node_options *opts, lm_node *node,
		   const lm_httpd_calls *calls);

/* Stops serving, removes the socket and STATE/http; NULL is accepted. */
void lm_httpd_stop(lm_httpd *h);

/* The TCP listener's port, or 0 when there is none; NULL is accepted. */
int lm_httpd_port(const lm_httpd *h);

#endif
