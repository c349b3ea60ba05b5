/*
 * kvd - a Redis-protocol (RESP2) key-value server whose commands are
 * livemod modules, upgraded live without dropping a connection or a key.
 *
 *   kvd --listen 127.0.0.1:PORT --state DIR [--http 127.0.0.1:PORT]
 *
 * Runs in the foreground and logs to stderr; PORT 0 picks a free port
 * (the log says which: "kvd: listening on 127.0.0.1:N"). SIGTERM or
 * SIGINT stops it cleanly. The node (lm_node) boots the state dir's
 * current release and serves the control API on DIR/agent.sock and, with
 * --http, on loopback TCP behind the bearer token in DIR/token.
 *
 * This file: options, the node, and the one place that calls into the
 * modules (kvd_execute): kvd_cmd's dispatch, then, for the keyspace's
 * commands, kvd_store's exec. Both are short calls made by the loop
 * thread (loop.c), never from inside a module, so both wait while their
 * module is suspended and a code_change sees the keyspace still. Each
 * export is declared once, in kvd_api.h: the references, the lookups and
 * the calls below are typed from those declarations.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define LM_AGENT_QSBR /* before the livemod headers: LM_CALL's read side */
#include <livemod/error.h>
#include <livemod/node.h>

#include "loop.h"

/* What kvd looks up, declared to the node once: booting a release checks
 * it gives each of these, and every plan is checked against them
 * (docs/host-guide.md, "Declaring imports"). */
static const lm_import imports[] = {
	LM_IMPORT_DECL(KVD_DISPATCH),
	LM_IMPORT_DECL(KVD_EXEC),
	LM_IMPORT_DECL(KVD_INFO),
};

static struct {
	LM_REF(KVD_DISPATCH) dispatch;
	LM_REF(KVD_EXEC) exec;
	LM_REF(KVD_INFO) info;
} ref;
static lm_node *node;

int kvd_execute(lm_task *t, int argc, const char *const *argv,
		const size_t *len)
{
	int rc;

	LM_INVOKE(ref.dispatch, rc, t, argc, argv, len);
	if (rc == KVD_TO_STORE)
		LM_INVOKE(ref.exec, rc, t, argc, argv, len);
	return rc;
}

/* INFO's keyspace lines: asked by kvd_cmd during its call, so this call
 * is nested (docs/host-guide.md, "Nested calls"): while kvd_store is
 * suspended it reads the version published at that moment; a read, so no
 * harm. */
static int store_info(lm_task *t, char *out, size_t cap)
{
	int n;

	LM_INVOKE(ref.info, n, t, out, cap);
	return n;
}

static int host_info(lm_task *t, char *out, size_t cap)
{
	(void)t;
	return snprintf(out, cap,
			"# Server\r\nkvd_release:%lld\r\nprocess_id:%ld\r\n"
			"# Clients\r\nconnected_clients:%llu\r\n"
			"# Stats\r\ntotal_connections_received:%llu\r\n"
			"total_commands_processed:%llu\r\n"
			"total_error_replies:%llu\r\n",
			(long long)lm_node_release(node), (long)getpid(),
			kvd_stats.clients, kvd_stats.connections,
			kvd_stats.commands, kvd_stats.errors);
}

static int open_listener(const char *addr)
{
	const char *colon = strrchr(addr, ':');
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	char host[64], *end;
	long port = colon ? strtol(colon + 1, &end, 10) : -1;
	int fd, one = 1;

	if (!colon || (size_t)(colon - addr) >= sizeof(host) || *end ||
	    end == colon + 1 || port < 0 || port > 65535) {
		fprintf(stderr, "kvd: --listen %s: want IPV4:PORT, e.g. "
				"127.0.0.1:6379\n", addr);
		return -1;
	}
	memcpy(host, addr, (size_t)(colon - addr));
	host[colon - addr] = '\0';
	sa.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1 ||
	    (fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			 0)) < 0) {
		fprintf(stderr, "kvd: --listen %s: bad address\n", addr);
		return -1;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fd, 511) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &sl) < 0) {
		fprintf(stderr, "kvd: --listen %s: %s\n", addr, strerror(errno));
		close(fd);
		return -1;
	}
	fprintf(stderr, "kvd: listening on %s:%u\n", inet_ntoa(sa.sin_addr),
		ntohs(sa.sin_port));
	return fd;
}

static void usage(void)
{
	fprintf(stderr, "usage: kvd --listen 127.0.0.1:PORT --state DIR "
			"[--http 127.0.0.1:PORT]\n");
}

int main(int argc, char **argv)
{
	lm_node_options o = { 0 };
	const char *listen_addr = NULL;
	int i, lfd = -1, sig = -1, rc = 1;
	sigset_t stop;

	for (i = 1; i < argc; i++) {
		if (i + 1 < argc && strcmp(argv[i], "--listen") == 0)
			listen_addr = argv[++i];
		else if (i + 1 < argc && strcmp(argv[i], "--state") == 0)
			o.state_dir = argv[++i];
		else if (i + 1 < argc && strcmp(argv[i], "--http") == 0)
			o.http_listen = argv[++i];
		else
			return usage(), 2;
	}
	if (!listen_addr || !o.state_dir)
		return usage(), 2;
	/* Blocked in every thread (the node's inherit the mask): the loop
	 * takes them through a signalfd. */
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	signal(SIGPIPE, SIG_IGN);

	o.control_socket = 1;
	o.imports = imports;
	o.nimports = sizeof(imports) / sizeof(imports[0]);
	if (lm_node_start(&node, &o) < 0) {
		fprintf(stderr, "kvd: cannot start the node: %s\n",
			lm_error_last());
		return 1;
	}
	if (LM_LOOKUP(&ref.dispatch, lm_node_runtime(node), KVD_DISPATCH) < 0 ||
	    LM_LOOKUP(&ref.exec, lm_node_runtime(node), KVD_EXEC) < 0 ||
	    LM_LOOKUP(&ref.info, lm_node_runtime(node), KVD_INFO) < 0) {
		fprintf(stderr, "kvd: %s\n", lm_error_last());
		goto out;
	}
	kvd_services.store_info = store_info;
	kvd_services.host_info = host_info;
	if ((lfd = open_listener(listen_addr)) < 0)
		goto out;
	fprintf(stderr, "kvd: release %lld; state %s\n",
		(long long)lm_node_release(node), o.state_dir);
	if (o.http_listen)
		fprintf(stderr, "kvd: control API on http://127.0.0.1:%d\n",
			lm_node_http_port(node));
	fprintf(stderr, "kvd: ready\n");
	sig = kvd_loop(lfd, &stop);
	if (sig < 0) {
		fprintf(stderr, "kvd: the event loop failed: %s\n",
			strerror(errno));
	} else {
		fprintf(stderr, "kvd: stopping (%s)\n",
			sig == SIGINT ? "SIGINT" : "SIGTERM");
		rc = 0;
	}
	close(lfd);
out:
	lm_export_ref_free(ref.dispatch.ref);
	lm_export_ref_free(ref.exec.ref);
	lm_export_ref_free(ref.info.ref);
	lm_node_stop(node);
	if (rc == 0)
		fprintf(stderr, "kvd: stopped\n");
	return rc;
}
