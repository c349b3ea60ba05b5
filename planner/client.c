/*
 * client.c - one request to the running node's control API: over
 * <state>/agent.sock, or over loopback TCP with the bearer token of
 * <state>/token when LIVEMOD_NODE names the node's HOST:PORT
 * (docs/control-api.md).
 *
 * The HTTP itself is lib/httpclient.c's, a small client of our own: the
 * libcurl this used to open cost 18 ms of every such command's start-up
 * (its 28 dependent objects) against ~2 ms for the whole exchange here
 * (DESIGN.md, "Dependencies"). "No running node" is told apart from other
 * failures because it has its own exit status (3).
 */
#include "client.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "error.h"
#include "fsutil.h"
#include "httpclient.h"

/* An apply loads objects, checks, swaps and purges (a brutal purge waits
 * for in-flight calls to drain): seconds, not minutes. */
static const lm_http_limits limits = {
	.connect_ms = 5000,
	.total_ms = 60000,
	/* An answer is a plan or a module list; anything past this is
	 * wrong. */
	.body_max = 64u << 20,
};

/* The token of <state>/token: 64 hex digits and a newline, as the node
 * writes it. */
int lm_client_token(char tok[65], const char *state_dir)
{
	char *path = lm_path_join(state_dir, "token");
	void *buf = NULL;
	size_t len = 0, i;
	int rc;

	if (!path)
		return lm_error_set(LM_ERROR, "out of memory");
	rc = lm_file_read(&buf, &len, path);
	if (rc == LM_ENOTFOUND)
		rc = lm_error_set(LM_ENONODE, "no running node on TCP: %s does "
				  "not exist (the node writes it when it "
				  "listens on TCP)", path);
	while (rc == 0 && len && isspace(((unsigned char *)buf)[len - 1]))
		len--;
	for (i = 0; rc == 0 && i < len; i++)
		if (!isxdigit(((unsigned char *)buf)[i]))
			break;
	if (rc == 0 && (len != 64 || i != len))
		rc = lm_error_set(LM_EINVAL, "%s: not a token (64 hex "
				  "digits)", path);
	if (rc == 0) {
		memcpy(tok, buf, 64);
		tok[64] = '\0';
	}
	free(buf);
	free(path);
	return rc;
}

/* One exchange with target `t`, the reply's body taken into `out`. */
static int exchange(lm_client_response *out, const lm_http_target *t,
		    const char *method, const char *path, const char *body,
		    size_t body_len)
{
	lm_http_reply r;
	int rc = lm_http_request(&r, t, method, path, body, body_len, &limits);

	if (rc < 0)
		return rc;
	out->status = r.status;
	out->body = r.body; /* taken: the reply's own */
	out->len = r.len;
	r.body = NULL;
	lm_http_reply_clear(&r);
	return 0;
}

int lm_client_request(lm_client_response *out, const char *state_dir,
		      const char *method, const char *path, const char *body,
		      size_t body_len)
{
	const char *tcp = getenv("LIVEMOD_NODE");
	lm_http_target t;
	char tok[65], *sock = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	if (tcp && *tcp) {
		if ((rc = lm_client_token(tok, state_dir)) < 0 ||
		    (rc = lm_http_target_tcp(&t, tcp, tok)) < 0)
			return rc;
	} else {
		if (!(sock = lm_path_join(state_dir, "agent.sock")))
			return lm_error_set(LM_ERROR, "out of memory");
		rc = lm_http_target_unix(&t, sock);
		free(sock);
		if (rc < 0)
			return rc;
	}
	return exchange(out, &t, method, path, body, body_len);
}

int lm_client_request_tcp(lm_client_response *out, const char *authority,
			  const char *token, const char *method,
			  const char *path)
{
	lm_http_target t;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = lm_http_target_tcp(&t, authority, token)) < 0)
		return rc;
	return exchange(out, &t, method, path, NULL, 0);
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
