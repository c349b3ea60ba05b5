/*
 * web.c - the web page's files, the Host check and STATE/http (web.h).
 * http.c decides when each applies; this file only knows what they are.
 */
#include "web.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "error.h"
#include "fsutil.h"

const lm_ui_file *lm_ui_lookup(const char *url)
{
	const char *name;
	size_t i;

	if (strncmp(url, LM_UI_PREFIX, strlen(LM_UI_PREFIX)) != 0)
		return NULL;
	name = url + strlen(LM_UI_PREFIX);
	if (!*name)
		name = "index.html";
	for (i = 0; lm_ui_files[i].name; i++)
		if (strcmp(lm_ui_files[i].name, name) == 0)
			return &lm_ui_files[i];
	return NULL;
}

int lm_web_authority(char *out, size_t cap, const struct sockaddr *sa)
{
	char ip[INET6_ADDRSTRLEN];
	struct in_addr v4;
	int port, n;

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)sa;

		v4 = a->sin_addr;
		if (v4.s_addr == htonl(INADDR_ANY))
			v4.s_addr = htonl(INADDR_LOOPBACK);
		port = ntohs(a->sin_port);
		inet_ntop(AF_INET, &v4, ip, sizeof(ip));
		n = snprintf(out, cap, "%s:%d", ip, port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;
		struct in6_addr v6 = a->sin6_addr;

		port = ntohs(a->sin6_port);
		if (IN6_IS_ADDR_V4MAPPED(&v6)) {
			/* an IPv4 client of a dual-stack listener */
			memcpy(&v4, &v6.s6_addr[12], 4);
			inet_ntop(AF_INET, &v4, ip, sizeof(ip));
			n = snprintf(out, cap, "%s:%d", ip, port);
		} else {
			if (IN6_IS_ADDR_UNSPECIFIED(&v6))
				v6 = in6addr_loopback;
			inet_ntop(AF_INET6, &v6, ip, sizeof(ip));
			n = snprintf(out, cap, "[%s]:%d", ip, port);
		}
	} else {
		return -1;
	}
	return n > 0 && (size_t)n < cap ? 0 : -1;
}

int lm_web_host_ok(const char *host, const struct sockaddr *local)
{
	char want[INET6_ADDRSTRLEN + 16];
	const char *colon;

	if (!host || lm_web_authority(want, sizeof(want), local) < 0)
		return 0;
	if (strcmp(host, want) == 0)
		return 1;
	/* localhost:PORT, with this listener's port */
	colon = strrchr(want, ':');
	return strncasecmp(host, "localhost:", 10) == 0 &&
	       strcmp(host + 9, colon) == 0;
}

int lm_web_publish(const char *state_dir, const struct sockaddr *bound)
{
	char text[INET6_ADDRSTRLEN + 16];
	char *path = lm_path_join(state_dir, "http");
	size_t len;
	int rc;

	if (!path)
		return lm_error_set(LM_ERROR, "out of memory");
	if (lm_web_authority(text, sizeof(text) - 1, bound) < 0) {
		free(path);
		return lm_error_set(LM_ERROR, "http listen: not an IP address");
	}
	len = strlen(text);
	text[len++] = '\n';
	rc = lm_file_write_atomic(path, text, len, 0600);
	free(path);
	return rc;
}

void lm_web_unpublish(const char *state_dir)
{
	char *path = lm_path_join(state_dir, "http");

	if (path)
		unlink(path);
	free(path);
}
