/*
 * cmd_web.c - `livemod web`: the web page's address (docs/web.md),
 * http://ADDR:PORT/ui/#token=TOKEN.
 *
 * The node writes STATE/http (its TCP listener's address) when it starts
 * with a TCP listener and removes it when it stops; the token is
 * STATE/token. Before printing, the command asks GET /health there with
 * the token, so it never prints the address of a node that has gone (a
 * file left by a killed node) or a token that no longer opens the door.
 * The token goes in the fragment: a browser never sends a fragment to the
 * server, nor in a Referer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "client.h"
#include "error.h"
#include "fsutil.h"

/* The first line of STATE/NAME into buf; LM_ENONODE when it is missing
 * (the node removes STATE/http when it stops). */
static int read_line(const char *dir, const char *name, const char *what,
		     char *buf, size_t cap)
{
	char *path = lm_path_join(dir, name);
	void *data = NULL;
	size_t len = 0;
	int rc;

	if (!path)
		return lm_error_set(LM_ERROR, "out of memory");
	rc = lm_file_read(&data, &len, path);
	if (rc == LM_ENOTFOUND)
		rc = lm_error_set(LM_ENONODE, "no running node serves the web "
				  "page: %s does not exist (start the node "
				  "with a TCP listener, e.g. chatd --http "
				  "127.0.0.1:0)", path);
	else if (rc == 0 && (len == 0 || len >= cap ||
			     memchr(data, '\0', len)))
		rc = lm_error_set(LM_EINVAL, "%s: not %s", path, what);
	if (rc == 0) {
		memcpy(buf, data, len);
		buf[len] = '\0';
		buf[strcspn(buf, "\r\n")] = '\0';
	}
	free(data);
	free(path);
	return rc;
}

int cmd_web(cli *c)
{
	char addr[128], token[65], *url = NULL;
	lm_client_response r;
	int rc;

	if (!cli_state_dir(c))
		return 2;
	if ((rc = read_line(c->state, "http", "an address ADDR:PORT", addr,
			    sizeof(addr))) < 0 ||
	    (rc = lm_client_token(token, c->state)) < 0)
		return cli_fail(c, rc);
	rc = lm_client_request_tcp(&r, addr, token, "GET", "/health");
	if (rc == 0 && r.status != 200)
		rc = lm_client_error(&r);
	lm_client_response_clear(&r);
	if (rc == 0 && asprintf(&url, "http://%s/ui/#token=%s", addr,
				token) < 0) {
		url = NULL;
		rc = lm_error_set(LM_ERROR, "out of memory");
	}
	explicit_bzero(token, sizeof(token));
	if (rc < 0)
		return cli_fail(c, rc);
	if (c->json)
		printf("{\"url\": \"%s\"}\n", url);
	else
		printf("%s\n", url);
	explicit_bzero(url, strlen(url));
	free(url);
	return 0;
}
