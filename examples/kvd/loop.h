/*
 * loop.h - kvd's event loop: one thread, one epoll set, every client
 * connection non-blocking, pipelined commands answered in order.
 *
 * The loop knows RESP and sockets, nothing of modules: each command goes
 * to kvd_execute (kvd.c), the one place that calls into them. The loop
 * thread is a QSBR reader (docs/host-guide.md, "Choosing the read side"):
 * offline while it waits in epoll_wait, a quiescent state after each
 * round of events.
 */
#ifndef KVD_LOOP_H
#define KVD_LOOP_H

#include <stddef.h>

#include "kvd_api.h"

/* What INFO tells about the server. Written by the loop thread only. */
struct kvd_stats {
	unsigned long long clients;     /* connected now */
	unsigned long long connections; /* accepted in all */
	unsigned long long commands;    /* run in all */
	unsigned long long errors;      /* error replies in all */
};

extern struct kvd_stats kvd_stats;

/* Runs one command for the connection of t (defined by kvd.c); returns
 * KVD_CLOSE when the connection is to close once answered, else 0. */
int kvd_execute(lm_task *t, int argc, const char *const *argv,
		const size_t *len);

/* Serves on listen_fd until a signal in `stop` (blocked by the caller)
 * arrives; returns that signal, or -1 when the loop cannot run. */
int kvd_loop(int listen_fd, const void *stop_sigset);

/* The services modules get through their lm_task (kvd_api.h); kvd.c
 * fills in the two INFO ones. */
extern struct kvd_api kvd_services;

#endif
