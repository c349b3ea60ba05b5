/*
 * http.c - the node's control API (DESIGN.md "HTTP control API") served
 * with libmicrohttpd: on state/agent.sock, where the file's mode (0600)
 * is the access control, and, when asked, on a loopback TCP port where
 * every request must carry "Authorization: Bearer <state/token>".
 *
 * Each connection gets its own thread (MHD_USE_THREAD_PER_CONNECTION): an
 * apply can take seconds, and /health or /modules must still answer while
 * it runs (a second apply is refused as busy by the node itself). Each
 * listener's gate (gate.c) decides which connections are served, so
 * clients that trickle their headers cannot starve the others; idle
 * connections time out. The node is reached only through the calls
 * node.c hands over (http.h). docs/control-api.md is the reference for
 * what every endpoint takes and answers.
 */
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <microhttpd.h>

#include "descriptor.h"
#include "env.h"
#include "error.h"
#include "gate.h"
#include "http.h"
#include "listen.h"
#include "token.h"
#include "web.h"

#define BODY_MAX (64 * 1024)      /* bigger request bodies get 413 */
#define CONN_MAX 16u              /* served at once, per listener */
#define PEER_MAX 8u               /* of them, from one peer */
#define HEAD_TIMEOUT_S 10u        /* a request head must be whole by then */
#define IDLE_TIMEOUT_S 30u        /* an idle connection is closed */
#define RETRY_AFTER "1"           /* seconds, in a node_busy answer */
/* A request whose body has not all arrived this many idle timeouts after
 * it began is cut, however steadily it trickles in: a slow sender cannot
 * hold one of the CONN_MAX connections for ever. */
#define REQUEST_MAX_IDLES 2
/* MHD's per-connection pool (headers, its read and write buffers; bodies
 * are ours). libmicrohttpd mallocs a pool of at most 32 KiB and mmaps a
 * bigger one, then munmaps it when the connection closes: a TLB shootdown
 * that interrupts every CPU running a thread of the host, the callers of
 * its modules included, once per request (perf: 9% of the node's time on
 * GET /update-modules with 64 KiB). */
#define CONN_MEMORY (32 * 1024)

/* ---- errors: one table from an error code to a status and a name ------ */

/* Refusals of the HTTP layer itself, beside the LM_E* codes. */
enum {
	HE_UNAUTHORIZED = -100,
	HE_METHOD = -101,
	HE_TOO_LARGE = -102,
	HE_WRONG_HOST = -103,
	HE_FULL = -104,     /* every connection slot serves a request */
	HE_PEER_FULL = -105 /* every slot of the peer does */
};

static const struct http_error {
	int rc;
	unsigned status;
	const char *code; /* the body's error.code: lm_error_name's, and ours */
} http_errors[] = {
	{ LM_EINVAL, MHD_HTTP_BAD_REQUEST, NULL },
	/* a broken libdir met while planning an update: bad input, as the
	 * planner's exit status 2 says */
	{ LM_ENOTELF, MHD_HTTP_BAD_REQUEST, NULL },
	{ LM_ENODESC, MHD_HTTP_BAD_REQUEST, NULL },
	{ LM_ENOTFOUND, MHD_HTTP_NOT_FOUND, NULL },
	{ LM_EBUSY, MHD_HTTP_CONFLICT, NULL },
	{ LM_ESTALE, MHD_HTTP_CONFLICT, NULL },
	{ LM_ECHECK, MHD_HTTP_UNPROCESSABLE_CONTENT, NULL },
	{ LM_EEVAL, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL },
	{ HE_UNAUTHORIZED, MHD_HTTP_UNAUTHORIZED, "unauthorized" },
	{ HE_METHOD, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed" },
	{ HE_TOO_LARGE, MHD_HTTP_CONTENT_TOO_LARGE, "too_large" },
	{ HE_WRONG_HOST, MHD_HTTP_MISDIRECTED_REQUEST, "wrong_host" },
	{ HE_FULL, MHD_HTTP_SERVICE_UNAVAILABLE, "node_busy" },
	{ HE_PEER_FULL, MHD_HTTP_TOO_MANY_REQUESTS, "node_busy" },
};

static const struct http_error internal_error = {
	LM_ERROR, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL
};

static const struct http_error *http_error_of(int rc)
{
	size_t i;

	for (i = 0; i < sizeof(http_errors) / sizeof(http_errors[0]); i++)
		if (http_errors[i].rc == rc)
			return &http_errors[i];
	return &internal_error;
}

/* ---- the server ----------------------------------------------------------- */

typedef struct listener {
	struct lm_httpd *h;
	struct MHD_Daemon *d;
	lm_gate *gate;
	int need_token;   /* TCP: the Host and the bearer token checked */
	const char *what; /* for messages: "state/agent.sock", HOST:PORT */
} listener;

struct lm_httpd {
	lm_node *node;                /* handed to every call; opaque here */
	const lm_httpd_calls *calls;
	char *state_dir;
	char token[LM_TOKEN_HEX + 1]; /* hex; "" when no TCP listener */
	unsigned idle_s;              /* LIVEMOD_HTTP_IDLE_S */
	unsigned head_s;              /* LIVEMOD_HTTP_HEAD_S */
	int port;                     /* TCP, or 0 */
	int has_socket;               /* state/agent.sock is ours to remove */
	listener unix_l, tcp_l;
};

/* ---- replies ------------------------------------------------------------ */

/* What an endpoint answers; the handler turns it into an MHD response. */
typedef struct reply {
	unsigned status;
	char *body;        /* malloc'ed JSON text */
	const char *allow; /* 405: the Allow header */
	int busy;          /* node_busy: Retry-After, and the connection
			    * closed after the answer */
} reply;

static void reply_json(reply *out, unsigned status, char *text)
{
	out->status = status;
	out->body = text;
}

/*
 * An error answer: {"error": {"code", "message"}}, merged into `result`
 * (an apply's result JSON, may be NULL) so a failed check or eval still
 * carries its check, eval and timings. Returns `rc`.
 */
static int reply_fail(reply *out, int rc, const char *message,
		      const char *result)
{
	const struct http_error *e = http_error_of(rc);
	const char *code = e->code ? e->code : lm_error_name(e->rc);
	cJSON *root = result ? cJSON_Parse(result) : NULL, *err;

	if (root && !cJSON_IsObject(root)) {
		cJSON_Delete(root);
		root = NULL;
	}
	if (!root)
		root = cJSON_CreateObject();
	cJSON_DeleteItemFromObjectCaseSensitive(root, "error");
	err = cJSON_AddObjectToObject(root, "error");
	cJSON_AddStringToObject(err, "code", code);
	cJSON_AddStringToObject(err, "message",
				message && *message ? message : code);
	reply_json(out, e->status, cJSON_Print(root));
	cJSON_Delete(root);
	return rc;
}

/* As reply_fail with a message formatted here (the HTTP layer's own
 * refusals, which set no lm_error). */
static int reply_failf(reply *out, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int reply_failf(reply *out, int rc, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return reply_fail(out, rc, msg, NULL);
}

/* A query's answer: 200 with its text, or the error. */
static int reply_query(reply *out, int rc, char *text)
{
	if (rc < 0) {
		free(text);
		return reply_fail(out, rc, lm_error_last(), NULL);
	}
	reply_json(out, MHD_HTTP_OK, text);
	return 0;
}

/* An apply's or update's answer: its result JSON (200), or the error
 * with the result merged in. */
static int reply_apply(lm_httpd *h, reply *out, int rc,
		       lm_apply_result *res)
{
	char *text;

	if (rc < 0) {
		reply_fail(out, rc, lm_error_last(), res ? res->json : NULL);
	} else if (res && res->json) {
		if ((text = strdup(res->json)))
			reply_json(out, MHD_HTTP_OK, text);
		else
			reply_fail(out, LM_ERROR, "out of memory", NULL);
	} else {
		/* nothing to update: the libdir matches the current release */
		cJSON *o = cJSON_CreateObject();

		cJSON_AddNullToObject(o, "plan");
		cJSON_AddNumberToObject(o, "release",
					(double)h->calls->release(h->node));
		reply_json(out, MHD_HTTP_OK, cJSON_Print(o));
		cJSON_Delete(o);
	}
	h->calls->result_free(res);
	return rc;
}

/* ---- request bodies ------------------------------------------------------ */

/* One request's state across the handler's calls. */
typedef struct request {
	char *body;
	size_t len, cap;
	int too_large;  /* more than BODY_MAX arrived: the rest is dropped */
	char *try_arg;  /* the query's try=..., or NULL */
	time_t deadline; /* CLOCK_MONOTONIC seconds: the body must be in */
} request;

static time_t now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* The request asks to be told before it sends its body (RFC 9110 10.1.1). */
static int expects_continue(struct MHD_Connection *c)
{
	const char *e = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						    MHD_HTTP_HEADER_EXPECT);

	return e && strcasecmp(e, "100-continue") == 0;
}

static int body_append(request *r, const char *data, size_t len)
{
	char *p;

	if (r->too_large || len > BODY_MAX - r->len) {
		/* MHD 0.9.75 takes no response in the middle of a body, so a
		 * body past the limit is drained and dropped, and the 413
		 * goes out once it ends (see handle() for the one refused
		 * before any byte is read). */
		r->too_large = 1;
		free(r->body);
		r->body = NULL;
		r->len = r->cap = 0;
		return 0;
	}
	if (r->len + len + 1 > r->cap) {
		size_t cap = r->cap ? r->cap : 1024;

		while (cap < r->len + len + 1)
			cap *= 2;
		if (!(p = realloc(r->body, cap)))
			return -1;
		r->body = p;
		r->cap = cap;
	}
	memcpy(r->body + r->len, data, len);
	r->len += len;
	r->body[r->len] = '\0';
	return 0;
}

/* Parses the body as JSON; NULL with a 400 reply when it is not. */
static cJSON *body_parse(const request *r, reply *out)
{
	const char *end = NULL;
	cJSON *j;

	if (!r->len) {
		reply_failf(out, LM_EINVAL, "request body: empty, expected "
			    "JSON");
		return NULL;
	}
	if (strlen(r->body) != r->len) {
		reply_failf(out, LM_EINVAL, "request body: not JSON (a NUL "
			    "byte at %zu)", strlen(r->body));
		return NULL;
	}
	/* the NUL counted and required: nothing but space after the value */
	if (!(j = cJSON_ParseWithLengthOpts(r->body, r->len + 1, &end, 1)))
		reply_failf(out, LM_EINVAL, "request body: not JSON (at byte "
			    "%zu)", end ? (size_t)(end - r->body) : (size_t)0);
	return j;
}

/* ---- endpoints ----------------------------------------------------------- */

/* `arg` is the path's {id} segment for /plans/{id}..., else NULL. */
typedef int (*endpoint_fn)(lm_httpd *h, const char *arg, const request *r,
			   reply *out);

static int ep_update_info(lm_httpd *h, const char *arg, const request *r,
			  reply *out)
{
	char *text = NULL;

	int rc;

	(void)arg, (void)r;
	rc = h->calls->update_info(h->node, &text);
	return reply_query(out, rc, text);
}

/* The apply flags of the query: ?try=1 (or true) leaves the new release
 * current only; try=0 (or false) is the default. */
static int apply_flags(const request *r, unsigned *flags, reply *out)
{
	const char *t = r->try_arg;

	*flags = 0;
	if (!t || strcmp(t, "0") == 0 || strcmp(t, "false") == 0)
		return 0;
	if (strcmp(t, "1") == 0 || strcmp(t, "true") == 0 || !*t) {
		*flags = LM_APPLY_TRY;
		return 0;
	}
	return reply_failf(out, LM_EINVAL, "query: try: expected 1 or 0, "
			   "got '%.32s'", t);
}

static int ep_update_all(lm_httpd *h, const char *arg, const request *r,
			 reply *out)
{
	lm_apply_result *res = NULL;
	unsigned flags;
	int rc;

	(void)arg;
	if ((rc = apply_flags(r, &flags, out)) < 0)
		return rc;
	rc = h->calls->update(h->node, NULL, 0, flags, &res);
	return reply_apply(h, out, rc, res);
}

/* Checks {"modules": ["mod_a", ...]}: an object whose only field is a
 * non-empty array of distinct module names. Fills `names` (pointers into
 * `body`). */
static int modules_field(const cJSON *body, const char ***names, size_t *n,
			 reply *out)
{
	const cJSON *mods, *it;
	size_t i = 0, j;

	if (!cJSON_IsObject(body))
		return reply_failf(out, LM_EINVAL, "request body: expected an "
				   "object {\"modules\": [...]}");
	cJSON_ArrayForEach(it, body)
		if (strcmp(it->string, "modules") != 0)
			return reply_failf(out, LM_EINVAL, "request body: "
					   "unknown field '%s'", it->string);
	mods = cJSON_GetObjectItemCaseSensitive(body, "modules");
	if (!cJSON_IsArray(mods) || cJSON_GetArraySize(mods) == 0)
		return reply_failf(out, LM_EINVAL, "request body: modules: "
				   "expected a non-empty array of module "
				   "names");
	*n = (size_t)cJSON_GetArraySize(mods);
	if (!(*names = calloc(*n, sizeof(**names))))
		return reply_fail(out, LM_ERROR, "out of memory", NULL);
	cJSON_ArrayForEach(it, mods) {
		if (!cJSON_IsString(it) ||
		    !lm_module_name_valid(it->valuestring))
			return reply_failf(out, LM_EINVAL, "request body: "
					   "modules[%zu]: not a module name "
					   "([a-z][a-z0-9_]*)", i);
		for (j = 0; j < i; j++)
			if (strcmp((*names)[j], it->valuestring) == 0)
				return reply_failf(out, LM_EINVAL,
						   "request body: modules[%zu]:"
						   " '%s' given twice", i,
						   it->valuestring);
		(*names)[i++] = it->valuestring;
	}
	assert(i == *n);
	return 0;
}

static int ep_update_some(lm_httpd *h, const char *arg, const request *r,
			  reply *out)
{
	lm_apply_result *res = NULL;
	const char **names = NULL;
	cJSON *body;
	size_t count = 0;
	unsigned flags;
	int rc;

	(void)arg;
	if ((rc = apply_flags(r, &flags, out)) < 0)
		return rc;
	if (!(body = body_parse(r, out)))
		return LM_EINVAL;
	if ((rc = modules_field(body, &names, &count, out)) == 0) {
		rc = h->calls->update(h->node, names, count, flags, &res);
		reply_apply(h, out, rc, res);
	}
	free(names);
	cJSON_Delete(body);
	return rc;
}

/* A plan id from the path: a positive decimal integer; else 404, since
 * no plan has that name. */
static int plan_id(const char *arg, int64_t *id, reply *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(arg, &end, 10);
	if (arg[0] < '0' || arg[0] > '9' || *end || errno || v <= 0)
		return reply_failf(out, LM_ENOTFOUND, "no plan '%s' (plan ids "
				   "are positive integers)", arg);
	*id = v;
	return 0;
}

/* The optional body is the plan the caller reviewed; lm_node_apply
 * compares it with the recorded one. Here only: is it JSON, and is it
 * that plan? */
static int ep_apply(lm_httpd *h, const char *arg, const request *r,
		    reply *out)
{
	lm_apply_result *res = NULL;
	const cJSON *idj;
	cJSON *body = NULL;
	unsigned flags;
	int64_t id;
	int rc;

	if ((rc = plan_id(arg, &id, out)) < 0 ||
	    (rc = apply_flags(r, &flags, out)) < 0)
		return rc;
	if (r->len) {
		if (!(body = body_parse(r, out)))
			return LM_EINVAL;
		idj = cJSON_GetObjectItemCaseSensitive(body, "id");
		if (!cJSON_IsObject(body) || !cJSON_IsNumber(idj) ||
		    idj->valuedouble != (double)id) {
			cJSON_Delete(body);
			return reply_failf(out, LM_EINVAL, "request body: id: "
					   "expected the plan %lld of the path",
					   (long long)id);
		}
		cJSON_Delete(body);
	}
	rc = h->calls->apply(h->node, id, r->len ? r->body : NULL, flags,
			    &res);
	return reply_apply(h, out, rc, res);
}

static int ep_plan(lm_httpd *h, const char *arg, const request *r,
		   reply *out)
{
	char *text = NULL;
	int64_t id;
	int rc;

	(void)r;
	if ((rc = plan_id(arg, &id, out)) < 0)
		return rc;
	rc = h->calls->plan(h->node, id, &text);
	return reply_query(out, rc, text);
}

static int ep_modules(lm_httpd *h, const char *arg, const request *r,
		      reply *out)
{
	char *text = NULL;

	int rc;

	(void)arg, (void)r;
	rc = h->calls->modules(h->node, &text);
	return reply_query(out, rc, text);
}

static int ep_health(lm_httpd *h, const char *arg, const request *r,
		     reply *out)
{
	char *text = NULL;

	int rc;

	(void)arg, (void)r;
	rc = h->calls->health(h->node, &text);
	return reply_query(out, rc, text);
}

static int ep_history(lm_httpd *h, const char *arg, const request *r,
		      reply *out)
{
	char *text = NULL;
	int rc;

	(void)arg, (void)r;
	rc = h->calls->history(h->node, &text);
	return reply_query(out, rc, text);
}

/* An optional body naming one release, {"FIELD": N} (none or {} too):
 * *release is N, or 0 when absent; else a 400 naming the field. */
static int release_body(const request *r, const char *field,
			int64_t *release, reply *out)
{
	const cJSON *it, *v = NULL;
	cJSON *body = NULL;
	int rc = 0;

	*release = 0;
	if (r->len && !(body = body_parse(r, out)))
		return LM_EINVAL;
	if (body && !cJSON_IsObject(body)) {
		cJSON_Delete(body);
		return reply_failf(out, LM_EINVAL, "request body: expected an "
				   "object {\"%s\": RELEASE}", field);
	}
	cJSON_ArrayForEach(it, body) {
		if (strcmp(it->string, field) != 0) {
			rc = reply_failf(out, LM_EINVAL, "request body: "
					 "unknown field '%s'", it->string);
			break;
		}
		v = it;
	}
	if (rc == 0 && v &&
	    (!cJSON_IsNumber(v) || v->valuedouble < 1 ||
	     v->valuedouble > 9e15 ||
	     v->valuedouble != (double)(int64_t)v->valuedouble))
		rc = reply_failf(out, LM_EINVAL, "request body: %s: expected "
				 "a release id (a positive integer)", field);
	else if (rc == 0 && v)
		*release = (int64_t)v->valuedouble;
	cJSON_Delete(body);
	return rc;
}

/* An optional body {"to": N}; without it (or "to" absent) the release
 * the current one was planned from. */
static int ep_rollback(lm_httpd *h, const char *arg, const request *r,
		       reply *out)
{
	lm_apply_result *res = NULL;
	unsigned flags;
	int64_t to;
	int rc;

	(void)arg;
	if ((rc = apply_flags(r, &flags, out)) < 0 ||
	    (rc = release_body(r, "to", &to, out)) < 0)
		return rc;
	rc = h->calls->rollback(h->node, to, flags, &res);
	return reply_apply(h, out, rc, res);
}

/* An optional body {"release": N}: N must be the current release (400
 * otherwise, as the CLI); without it, whichever is current. As `livemod
 * make_permanent` on a running node, through lm_make_permanent. */
static int ep_make_permanent(lm_httpd *h, const char *arg, const request *r,
			     reply *out)
{
	char *text = NULL;
	int64_t release;
	int rc;

	(void)arg;
	if ((rc = release_body(r, "release", &release, out)) < 0)
		return rc;
	rc = h->calls->make_permanent(h->node, release, &text);
	return reply_query(out, rc, text);
}

/* "*" stands for one path segment, handed to the endpoint. */
static const struct route {
	const char *method;
	const char *path;
	endpoint_fn fn;
} routes[] = {
	{ "GET", "/update-modules", ep_update_info },
	{ "POST", "/update-modules", ep_update_some },
	{ "GET", "/update-modules/all", ep_update_all },
	{ "POST", "/plans/*/apply", ep_apply },
	{ "GET", "/plans/*", ep_plan },
	{ "GET", "/modules", ep_modules },
	{ "GET", "/history", ep_history },
	{ "GET", "/health", ep_health },
	{ "POST", "/rollback", ep_rollback },
	{ "POST", "/make-permanent", ep_make_permanent },
};

/* Matches `url` against `pattern`; the "*" segment goes to arg (at most
 * argsz - 1 characters, longer ones do not match). */
static int path_match(const char *pattern, const char *url, char *arg,
		      size_t argsz)
{
	size_t len;

	for (;;) {
		if (*pattern == '*') {
			len = strcspn(url, "/");
			if (len == 0 || len >= argsz)
				return 0;
			memcpy(arg, url, len);
			arg[len] = '\0';
			pattern++;
			url += len;
			continue;
		}
		if (*pattern != *url)
			return 0;
		if (!*pattern)
			return 1;
		pattern++;
		url++;
	}
}

static void route(lm_httpd *h, const char *method, const char *url,
		  const request *r, reply *out)
{
	static const char allow_get[] = "GET, HEAD", allow_post[] = "POST",
			  allow_both[] = "GET, HEAD, POST";
	int get = 0, post = 0;
	char arg[32];
	size_t i;

	/* HEAD is GET without the body (MHD drops it). */
	if (strcmp(method, "HEAD") == 0)
		method = "GET";
	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (!path_match(routes[i].path, url, arg, sizeof(arg)))
			continue;
		if (strcmp(routes[i].method, method) == 0) {
			lm_error_clear();
			routes[i].fn(h, strchr(routes[i].path, '*') ? arg
								    : NULL,
				     r, out);
			return;
		}
		get |= strcmp(routes[i].method, "GET") == 0;
		post |= strcmp(routes[i].method, "POST") == 0;
	}
	if (get || post) {
		out->allow = get && post ? allow_both
					 : get ? allow_get : allow_post;
		reply_failf(out, HE_METHOD, "%s %s: method not allowed "
			    "(allowed: %s)", method, url, out->allow);
		return;
	}
	reply_failf(out, LM_ENOTFOUND, "no endpoint %s", url);
}

/* ---- the MHD handler ------------------------------------------------------- */

/* The bearer token of the Authorization header (token.c). */
static int authorized(const char *token, struct MHD_Connection *c)
{
	return lm_token_authorizes(token, MHD_lookup_connection_value(
		c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION));
}

/* On every answer of either listener: nothing kept in a cache (the
 * answers are the node's live state, and a page must not come from an
 * older node), no type guessed from the bytes. No CORS header, ever: a
 * page of another origin cannot read an answer. */
static void add_common_headers(struct MHD_Response *resp)
{
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
				"no-store");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
}

static enum MHD_Result send_reply(struct MHD_Connection *c, reply *out)
{
	struct MHD_Response *resp;
	enum MHD_Result ok;
	size_t len;

	if (!out->body) {
		/* cJSON failed to allocate; say so without it */
		out->status = MHD_HTTP_INTERNAL_SERVER_ERROR;
		out->body = strdup("{\"error\": {\"code\": \"internal\", "
				   "\"message\": \"out of memory\"}}");
	}
	if (!out->body)
		return MHD_NO;
	/* a trailing newline, for people reading with curl */
	len = strlen(out->body);
	if (len == 0 || out->body[len - 1] != '\n') {
		char *p = realloc(out->body, len + 2);

		if (p) {
			p[len++] = '\n';
			p[len] = '\0';
			out->body = p;
		}
	}
	resp = MHD_create_response_from_buffer(len, out->body,
					       MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(out->body);
		return MHD_NO;
	}
	out->body = NULL; /* the response owns it now */
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
				"application/json");
	add_common_headers(resp);
	if (out->status == MHD_HTTP_UNAUTHORIZED)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
					"Bearer");
	if (out->allow)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW,
					out->allow);
	if (out->busy) {
		MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER,
					RETRY_AFTER);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION,
					"close");
	}
	ok = MHD_queue_response(c, out->status, resp);
	MHD_destroy_response(resp);
	return ok;
}

/* Whether the request's Host names this listener (lm_web_host_ok, on the
 * address the connection arrived at); else a 421 in `out`. */
static int host_ok(struct MHD_Connection *c, reply *out)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						       MHD_HTTP_HEADER_HOST);
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char want[80] = "?";

	if (ci && getsockname(ci->connect_fd, (struct sockaddr *)&ss,
			      &len) == 0) {
		if (lm_web_host_ok(host, (const struct sockaddr *)&ss))
			return 1;
		lm_web_authority(want, sizeof(want),
				 (const struct sockaddr *)&ss);
	}
	reply_failf(out, HE_WRONG_HOST, "Host '%.64s' is not this listener: "
		    "only %s or localhost:%s are served (another name could "
		    "be another site's page)", host ? host : "",
		    want, strrchr(want, ':') ? strrchr(want, ':') + 1 : "?");
	return 0;
}

/* A GET or HEAD of a /ui/ path: the embedded file with the page's
 * headers; an unknown file is 404 and another method 405, in the API's
 * JSON as any refusal. */
static enum MHD_Result send_ui(struct MHD_Connection *c, const char *method,
			       const char *url)
{
	const lm_ui_file *f = lm_ui_lookup(url);
	struct MHD_Response *resp;
	enum MHD_Result ok;
	reply out = { 0 };

	if (!f) {
		reply_failf(&out, LM_ENOTFOUND, "no file %s (the page is %s)",
			    url, LM_UI_PREFIX);
		return send_reply(c, &out);
	}
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		out.allow = "GET, HEAD";
		reply_failf(&out, HE_METHOD, "%s %s: method not allowed "
			    "(allowed: %s)", method, url, out.allow);
		return send_reply(c, &out);
	}
	resp = MHD_create_response_from_buffer(f->len, (void *)f->data,
					       MHD_RESPMEM_PERSISTENT);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, f->type);
	add_common_headers(resp);
	/* the page's own files only: no inline script or style, no frame
	 * around it, no address of it sent anywhere */
	MHD_add_response_header(resp, "Content-Security-Policy",
				"default-src 'self'; frame-ancestors 'none'");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	ok = MHD_queue_response(c, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	return ok;
}

/* The gate's slot of connection `c`, or NULL. */
static lm_gate_slot *slot_of(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci ? ci->socket_context : NULL;
}

/* Whether the request whose head just arrived is served; else `out`
 * holds its node_busy answer, or nothing when it was cut. */
static int admitted(listener *l, struct MHD_Connection *c, reply *out)
{
	lm_gate_slot *s = slot_of(c);

	switch (s ? lm_gate_head(l->gate, s) : LM_GATE_CUT) {
	case LM_GATE_SERVE:
		return 1;
	case LM_GATE_FULL:
		reply_failf(out, HE_FULL, "node busy: all %u connections of "
			    "%s serve requests; retry later", CONN_MAX,
			    l->what);
		break;
	case LM_GATE_PEER:
		reply_failf(out, HE_PEER_FULL, "node busy: this client "
			    "already has %u requests served on %s at once; "
			    "retry later", PEER_MAX, l->what);
		break;
	default:
		return 0;
	}
	out->busy = 1;
	return 0;
}

/*
 * MHD calls this once with the headers (*con_cls still NULL), once per
 * piece of body, and once more at the end (*upload_size 0). The gate
 * hears of the head first: a connection it admitted only to refuse is
 * answered node_busy. Refusals that need no body (the token; a
 * Content-Length past the limit when the client waits for "100
 * Continue") answer at the first call, so such a body is never sent.
 */
static enum MHD_Result handle(void *cls, struct MHD_Connection *c,
			      const char *url, const char *method,
			      const char *version, const char *upload,
			      size_t *upload_size, void **con_cls)
{
	listener *l = cls;
	lm_httpd *h = l->h;
	request *r = *con_cls;
	reply out = { 0 };
	const char *cl;

	(void)version;
	if (!r) {
		if (!(r = calloc(1, sizeof(*r))))
			return MHD_NO;
		*con_cls = r;
		if (!admitted(l, c, &out))
			return out.body ? send_reply(c, &out) : MHD_NO;
		r->deadline = now_s() + REQUEST_MAX_IDLES * h->idle_s;
		cl = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND,
						 "try");
		if (cl && !(r->try_arg = strdup(cl)))
			return MHD_NO;
		/* TCP: the Host first (a page of another site that made its
		 * name resolve to 127.0.0.1 names itself there), then the
		 * page's files, which need no token (the page must load
		 * before it can send one), then the token */
		if (l->need_token && !host_ok(c, &out))
			return send_reply(c, &out);
		if (l->need_token &&
		    strncmp(url, LM_UI_PREFIX, strlen(LM_UI_PREFIX)) == 0)
			return send_ui(c, method, url);
		if (l->need_token && !authorized(h->token, c)) {
			reply_failf(&out, HE_UNAUTHORIZED, "missing or wrong "
				    "bearer token (Authorization: Bearer "
				    "<state/token>)");
			return send_reply(c, &out);
		}
		cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						 MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl && strtoull(cl, NULL, 10) > BODY_MAX) {
			/* A client waiting for "100 Continue" is answered now
			 * and never sends the body. One already sending it is
			 * read to the end and the body dropped, as a chunked
			 * one: closing on unread bytes resets the connection,
			 * and the client may lose the 413 with it. */
			if (!expects_continue(c)) {
				r->too_large = 1;
				return MHD_YES;
			}
			reply_failf(&out, HE_TOO_LARGE, "request body larger "
				    "than %d bytes", BODY_MAX);
			return send_reply(c, &out);
		}
		return MHD_YES;
	}
	if (*upload_size) {
		if (now_s() > r->deadline) {
			fprintf(stderr, "livemod agent: http: %s %s: body still "
				"arriving after %u s; connection closed\n",
				method, url, REQUEST_MAX_IDLES * h->idle_s);
			return MHD_NO;
		}
		if (body_append(r, upload, *upload_size) < 0)
			return MHD_NO;
		*upload_size = 0;
		return MHD_YES;
	}
	if (r->too_large)
		reply_failf(&out, HE_TOO_LARGE, "request body larger than %d "
			    "bytes", BODY_MAX);
	else
		route(h, method, url, r, &out);
	return send_reply(c, &out);
}

/* The request is answered (or abandoned): the connection may carry
 * another, whose head the gate times from now. */
static void request_done(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode why)
{
	listener *l = cls;
	request *r = *con_cls;
	lm_gate_slot *s = slot_of(c);

	(void)why;
	if (s)
		lm_gate_answered(l->gate, s);
	if (r) {
		free(r->body);
		free(r->try_arg);
		free(r);
		*con_cls = NULL;
	}
}

/* A connection comes or goes: the gate decides whether it is served
 * (it may evict another to make room) and forgets it when it goes. */
static void connection_event(void *cls, struct MHD_Connection *c,
			     void **socket_context,
			     enum MHD_ConnectionNotificationCode what)
{
	listener *l = cls;
	const union MHD_ConnectionInfo *ci;
	lm_gate_slot *s = NULL;
	char peer[48];

	if (what == MHD_CONNECTION_NOTIFY_CLOSED) {
		lm_gate_leave(l->gate, *socket_context);
		*socket_context = NULL;
		return;
	}
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (!ci)
		return;
	lm_listen_peer(ci->connect_fd, peer, sizeof(peer));
	if (lm_gate_enter(l->gate, ci->connect_fd, peer, &s) == LM_GATE_CUT)
		shutdown(ci->connect_fd, SHUT_RDWR); /* MHD closes it */
	*socket_context = s;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	fprintf(stderr, "livemod agent: http: ");
	vfprintf(stderr, fmt, ap);
}

/* Whole seconds, 1..3600, from the environment's `name` into *out, or
 * `dflt` when it is unset or empty: for tests, and for operators who want
 * them shorter. Anything else is LM_EINVAL naming it. */
static int env_seconds(const char *name, unsigned dflt, unsigned *out)
{
	long v;
	int rc = lm_env_long(name, 1, 3600, (long)dflt, "whole seconds", &v);

	*out = (unsigned)v;
	return rc;
}

/* Serves the listening socket `fd` as `l`; MHD owns fd from then on
 * (MHD_stop_daemon closes it), but not when the start fails. */
static int serve(listener *l, lm_httpd *h, int fd, int need_token,
		 const char *what)
{
	const lm_gate_limits lim = { CONN_MAX, PEER_MAX, h->head_s };
	int rc;

	l->h = h;
	l->need_token = need_token;
	l->what = what;
	if ((rc = lm_gate_new(&l->gate, &lim, what)) < 0)
		return rc;
	l->d = MHD_start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD |
			MHD_USE_THREAD_PER_CONNECTION | MHD_USE_AUTO |
			MHD_USE_ERROR_LOG,
		0, NULL, NULL, handle, l,
		MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
		MHD_OPTION_LISTEN_SOCKET, fd,
		/* the gate keeps CONN_MAX served; MHD holds besides the
		 * connections refused or cut on their way out */
		MHD_OPTION_CONNECTION_LIMIT,
		(unsigned)LM_GATE_TOTAL(CONN_MAX),
		MHD_OPTION_CONNECTION_TIMEOUT, h->idle_s,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONN_MEMORY,
		MHD_OPTION_NOTIFY_COMPLETED, request_done, l,
		MHD_OPTION_NOTIFY_CONNECTION, connection_event, l,
		MHD_OPTION_END);
	if (!l->d) {
		lm_gate_free(l->gate);
		l->gate = NULL;
		return lm_error_set(LM_ERROR, "cannot serve the control API on "
				    "%s (libmicrohttpd failed to start)",
				    what);
	}
	return 0;
}

/* Stops `l`: every connection let go (the gate hears of each), then
 * the gate. */
static void unserve(listener *l)
{
	if (l->d)
		MHD_stop_daemon(l->d);
	lm_gate_free(l->gate);
	l->d = NULL;
	l->gate = NULL;
}

/* ---- start and stop ---------------------------------------------------------- */

int lm_httpd_start(lm_httpd **out, const char *state_dir,
		   const lm_node_options *opts, lm_node *node,
		   const lm_httpd_calls *calls)
{
	struct sockaddr_storage bound;
	lm_httpd *h;
	int fd = -1, rc;

	assert(out && state_dir && opts && node && calls);
	*out = NULL;
	if (!(h = calloc(1, sizeof(*h))) || !(h->state_dir = strdup(state_dir))) {
		free(h);
		return lm_error_set(LM_ERROR, "out of memory");
	}
	h->node = node;
	h->calls = calls;
	if ((rc = env_seconds("LIVEMOD_HTTP_IDLE_S", IDLE_TIMEOUT_S,
			      &h->idle_s)) < 0 ||
	    (rc = env_seconds("LIVEMOD_HTTP_HEAD_S", HEAD_TIMEOUT_S,
			      &h->head_s)) < 0)
		goto fail;
	if (opts->control_socket) {
		if ((rc = lm_listen_unix(state_dir, &fd)) < 0)
			goto fail;
		if ((rc = serve(&h->unix_l, h, fd, 0, "state/agent.sock")) < 0) {
			close(fd);
			goto fail;
		}
		h->has_socket = 1;
	}
	if (opts->http_listen) {
		/* the address first: a mistyped one makes no token */
		if ((rc = lm_listen_tcp(opts->http_listen, &fd, &h->port,
					&bound)) < 0)
			goto fail;
		if ((rc = lm_token_load(h->state_dir, h->token)) < 0 ||
		    (rc = serve(&h->tcp_l, h, fd, 1, opts->http_listen)) < 0) {
			close(fd);
			goto fail;
		}
		/* for `livemod web`: where the page is */
		if ((rc = lm_web_publish(state_dir,
					 (const struct sockaddr *)&bound)) < 0)
			goto fail;
	}
	*out = h;
	return 0;
fail:
	lm_httpd_stop(h);
	return rc;
}

void lm_httpd_stop(lm_httpd *h)
{
	char *path = NULL;

	if (!h)
		return;
	if (h->tcp_l.d) {
		unserve(&h->tcp_l);
		lm_web_unpublish(h->state_dir);
	}
	unserve(&h->unix_l); /* closes the socket */
	if (h->has_socket &&
	    asprintf(&path, "%s/agent.sock", h->state_dir) >= 0)
		unlink(path);
	free(path);
	explicit_bzero(h->token, sizeof(h->token));
	free(h->state_dir);
	free(h);
}

int lm_httpd_port(const lm_httpd *h)
{
	return h ? h->port : 0;
}
