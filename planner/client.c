/*
 * client.c - one request to the running node's control API over
 * <state>/agent.sock, with libcurl (DESIGN.md: the CLI's client).
 *
 * The command is one-shot and single-threaded, so libcurl's global init
 * happens here on first use. "No running node" is told apart from other
 * failures because it has its own exit status (3).
 *
 * libcurl is opened with dlopen on first use rather than linked: with its
 * TLS, Kerberos and LDAP dependencies it is 28 shared objects whose
 * loading cost every `livemod` run ~17 ms (measured with perf stat), and
 * only update, apply and status talk to the node. The header still types
 * every call.
 */
#include "client.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <dlfcn.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "error.h"

/* An apply loads objects, checks, swaps and purges (a brutal purge waits
 * for in-flight calls to drain): seconds, not minutes. */
#define REQUEST_TIMEOUT_S 60L
#define CONNECT_TIMEOUT_S 5L
/* An answer is a plan or a module list; anything past this is wrong. */
#define ANSWER_MAX (64u << 20)

/* The libcurl functions this client calls, resolved at first use. */
static struct {
	__typeof__(curl_global_init) *global_init;
	__typeof__(curl_easy_init) *easy_init;
	__typeof__(curl_easy_setopt) *easy_setopt;
	__typeof__(curl_easy_perform) *easy_perform;
	__typeof__(curl_easy_getinfo) *easy_getinfo;
	__typeof__(curl_easy_strerror) *easy_strerror;
	__typeof__(curl_easy_cleanup) *easy_cleanup;
	__typeof__(curl_slist_append) *slist_append;
	__typeof__(curl_slist_free_all) *slist_free_all;
} C;

#define RESOLVE(h, field, name)                                             \
	((*(void **)&C.field = dlsym((h), (name))) != NULL)

static int load_curl(void)
{
	void *h;

	if (C.global_init)
		return 0;
	if (!(h = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL)))
		return lm_error_set(LM_ERROR, "cannot load libcurl: %s",
				    dlerror());
	if (!RESOLVE(h, easy_init, "curl_easy_init") ||
	    !RESOLVE(h, easy_setopt, "curl_easy_setopt") ||
	    !RESOLVE(h, easy_perform, "curl_easy_perform") ||
	    !RESOLVE(h, easy_getinfo, "curl_easy_getinfo") ||
	    !RESOLVE(h, easy_strerror, "curl_easy_strerror") ||
	    !RESOLVE(h, easy_cleanup, "curl_easy_cleanup") ||
	    !RESOLVE(h, slist_append, "curl_slist_append") ||
	    !RESOLVE(h, slist_free_all, "curl_slist_free_all") ||
	    !RESOLVE(h, global_init, "curl_global_init")) {
		C.global_init = NULL;
		return lm_error_set(LM_ERROR, "libcurl lacks a function: %s",
				    dlerror());
	}
	return 0; /* the handle stays open for the process's life */
}

static size_t on_data(char *data, size_t size, size_t n, void *cls)
{
	lm_client_response *r = cls;
	size_t len = size * n;
	char *p;

	if (len > ANSWER_MAX - r->len)
		return 0; /* curl fails the transfer: CURLE_WRITE_ERROR */
	if (!(p = realloc(r->body, r->len + len + 1)))
		return 0;
	memcpy(p + r->len, data, len);
	r->body = p;
	r->len += len;
	p[r->len] = '\0';
	return len;
}

/* Why curl could not talk to the node, as an lm_error. */
static int transport_error(CURL *h, CURLcode cc, const char *sock,
			   const char *errbuf)
{
	long oserr = 0;

	C.easy_getinfo(h, CURLINFO_OS_ERRNO, &oserr);
	if (cc == CURLE_COULDNT_CONNECT &&
	    (oserr == ECONNREFUSED || oserr == ENOENT || oserr == 0))
		return lm_error_set(LM_ENONODE, "no running node: nothing "
				    "listens on %s", sock);
	if (cc == CURLE_COULDNT_CONNECT && oserr == EACCES)
		return lm_error_set(LM_ERROR, "%s: permission denied (the "
				    "socket is mode 0600: run as the node's "
				    "user)", sock);
	if (cc == CURLE_OPERATION_TIMEDOUT)
		return lm_error_set(LM_ERROR, "%s: no answer from the node "
				    "within %ld s", sock, REQUEST_TIMEOUT_S);
	return lm_error_set(LM_ERROR, "%s: %s", sock,
			    errbuf[0] ? errbuf : C.easy_strerror(cc));
}

/* One request to `url`, over the unix socket `sock` when not NULL, with
 * the extra header `auth` when not NULL; `where` names the target in
 * messages. */
static int perform(lm_client_response *out, const char *sock,
		   const char *where, const char *url, const char *auth,
		   const char *method, const char *body, size_t body_len)
{
	static int curl_ready;
	char errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *hdrs = NULL;
	CURLcode cc;
	CURL *h = NULL;
	int rc = 0;

	if (!curl_ready) {
		if ((rc = load_curl()) < 0)
			goto out;
		if (C.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
			rc = lm_error_set(LM_ERROR, "libcurl failed to start");
			goto out;
		}
		curl_ready = 1;
	}
	if (!(h = C.easy_init())) {
		rc = lm_error_set(LM_ERROR, "libcurl: out of memory");
		goto out;
	}
	/* "Expect:" off: no 100-continue round trip before a plan body */
	hdrs = C.slist_append(hdrs, "Expect:");
	if (body)
		hdrs = C.slist_append(hdrs,
					 "Content-Type: application/json");
	if (auth)
		hdrs = C.slist_append(hdrs, auth);
	if (sock)
		C.easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, sock);
	C.easy_setopt(h, CURLOPT_URL, url);
	C.easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	C.easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	C.easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	C.easy_setopt(h, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT_S);
	C.easy_setopt(h, CURLOPT_TIMEOUT, REQUEST_TIMEOUT_S);
	C.easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	C.easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	C.easy_setopt(h, CURLOPT_WRITEDATA, out);
	if (body) {
		C.easy_setopt(h, CURLOPT_POSTFIELDS, body);
		C.easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)body_len);
	}
	if ((cc = C.easy_perform(h)) != CURLE_OK) {
		rc = transport_error(h, cc, where, errbuf);
		goto out;
	}
	C.easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out->status);
	if (!out->body && !(out->body = strdup("")))
		rc = lm_error_set(LM_ERROR, "out of memory");
out:
	if (rc < 0)
		lm_client_response_clear(out);
	if (hdrs)
		C.slist_free_all(hdrs);
	if (h)
		C.easy_cleanup(h);
	return rc;
}

int lm_client_request(lm_client_response *out, const char *state_dir,
		      const char *method, const char *path, const char *body,
		      size_t body_len)
{
	char *sock = NULL, *url = NULL;
	struct stat st;
	int rc;

	memset(out, 0, sizeof(*out));
	if (asprintf(&sock, "%s/agent.sock", state_dir) < 0)
		sock = NULL;
	if (asprintf(&url, "http://localhost%s", path) < 0)
		url = NULL;
	if (!sock || !url)
		rc = lm_error_set(LM_ERROR, "out of memory");
	else if (stat(sock, &st) < 0) {
		rc = errno == ENOENT || errno == ENOTDIR
			     ? lm_error_set(LM_ENONODE, "no running node: %s "
					    "does not exist", sock)
			     : lm_error_set(LM_ERROR, "%s: %s", sock,
					    strerror(errno));
	} else {
		rc = perform(out, sock, sock, url, NULL, method, body,
			     body_len);
	}
	free(url);
	free(sock);
	return rc;
}

int lm_client_request_tcp(lm_client_response *out, const char *authority,
			  const char *token, const char *method,
			  const char *path)
{
	char *url = NULL, *auth = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	if (asprintf(&url, "http://%s%s", authority, path) < 0)
		url = NULL;
	if (asprintf(&auth, "Authorization: Bearer %s", token) < 0)
		auth = NULL;
	if (!url || !auth) {
		rc = lm_error_set(LM_ERROR, "out of memory");
	} else {
		rc = perform(out, NULL, authority, url, auth, method, NULL, 0);
	}
	free(url);
	if (auth)
		explicit_bzero(auth, strlen(auth));
	free(auth);
	return rc;
}

void lm_client_response_clear(lm_client_response *r)
{
	free(r->body);
	memset(r, 0, sizeof(*r));
}

/* The HTTP layer's own refusals: the CLI sent something the API refuses,
 * a usage error. Every other code is an LM_E* name (lm_error_name), so the
 * exit status follows lm_error_exit_status. */
static const char *const usage_codes[] = { "method_not_allowed", "too_large",
					   "unauthorized" };

int lm_client_error(const lm_client_response *r)
{
	cJSON *root = cJSON_ParseWithLength(r->body, r->len);
	const cJSON *err = cJSON_GetObjectItemCaseSensitive(root, "error");
	const cJSON *code = cJSON_GetObjectItemCaseSensitive(err, "code");
	const cJSON *msg = cJSON_GetObjectItemCaseSensitive(err, "message");
	int rc = LM_ERROR;
	size_t i;

	if (cJSON_IsString(code))
		rc = lm_error_from_name(code->valuestring);
	for (i = 0; cJSON_IsString(code) &&
		    i < sizeof(usage_codes) / sizeof(usage_codes[0]); i++)
		if (strcmp(usage_codes[i], code->valuestring) == 0)
			rc = LM_EINVAL;
	if (cJSON_IsString(msg))
		lm_error_set(rc, "%s", msg->valuestring);
	else
		lm_error_set(rc, "the node answered HTTP %ld without an error "
			     "message", r->status);
	cJSON_Delete(root);
	return rc;
}
