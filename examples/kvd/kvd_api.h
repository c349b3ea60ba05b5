/*
 * kvd_api.h - what kvd and its modules agree on.
 *
 * kvd's task is one client connection. A module sees only the services
 * below: it writes its RESP reply through them and asks the host for what
 * lives in another module (INFO's keyspace lines), so modules never call
 * each other directly and the host decides which calls wait for a
 * suspended module (all of them: every call starts on the host's loop).
 *
 * Every export is declared once, at the end (LM_DECLARE): each module
 * provides its own (LM_PROVIDE, which fails to compile when the function
 * does not match), and kvd looks them up and calls them typed (LM_REF,
 * LM_LOOKUP, LM_INVOKE, LM_IMPORT_DECL).
 */
#ifndef KVD_API_H
#define KVD_API_H

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <livemod/module.h>

/* dispatch's answers besides 0 (answered): the command is the
 * keyspace's to run; or answered, and the connection closes (QUIT) */
#define KVD_TO_STORE 1
#define KVD_CLOSE 2

struct kvd_api {
	/* Appends reply bytes to the connection's output. */
	void (*write)(lm_task *t, const void *p, size_t n);
	/* Appends an error reply "-MSG\r\n"; the host counts them (INFO's
	 * total_error_replies). */
	void (*error)(lm_task *t, const char *msg);
	/* kvd_store's info, through the host. */
	int (*store_info)(lm_task *t, char *out, size_t cap);
	/* The host's INFO lines: server, clients, stats. */
	int (*host_info)(lm_task *t, char *out, size_t cap);
};

struct lm_task {
	const struct kvd_api *api;
	void *host; /* the connection: the host's, opaque to modules */
};

/* ---- RESP2 replies, written through the task --------------------------- */

static inline void kvd_reply_raw(lm_task *t, const char *s)
{
	t->api->write(t, s, strlen(s));
}

static inline void kvd_reply_error(lm_task *t, const char *msg)
{
	t->api->error(t, msg);
}

/* ":N\r\n", "*N\r\n", "$N\r\n": a type byte and a number. */
static inline void kvd_reply_num(lm_task *t, char type, long long n)
{
	char b[32];
	int len = snprintf(b, sizeof(b), "%c%lld\r\n", type, n);

	t->api->write(t, b, (size_t)len);
}

static inline void kvd_reply_bulk(lm_task *t, const char *p, size_t n)
{
	kvd_reply_num(t, '$', (long long)n);
	t->api->write(t, p, n);
	t->api->write(t, "\r\n", 2);
}

static inline void kvd_reply_nil(lm_task *t)
{
	t->api->write(t, "$-1\r\n", 5);
}

/* "ERR wrong number of arguments for 'NAME' command" */
static inline void kvd_reply_arity(lm_task *t, const char *name)
{
	char msg[96];

	snprintf(msg, sizeof(msg),
		 "ERR wrong number of arguments for '%s' command", name);
	kvd_reply_error(t, msg);
}

/* An argument equal to NAME, ignoring case (command names). */
static inline int kvd_arg_is(const char *arg, size_t len, const char *name)
{
	return strlen(name) == len && strncasecmp(arg, name, len) == 0;
}

/* ---- the exports ---------------------------------------------------------- */

/* The arguments of one command, as the host parsed them (resp.c):
 * argc, then argv[i] of len[i] bytes (not NUL-terminated). */
#define KVD_ARGV int, const char *const *, const size_t *

/* kvd_cmd: answers the server commands (PING, ECHO, INFO, COMMAND,
 * CONFIG, SELECT, QUIT); KVD_TO_STORE for any other. */
#define KVD_DISPATCH LM_DECLARE(kvd_cmd, dispatch, int, lm_task *, KVD_ARGV)
/* kvd_store: the keyspace's commands, on the keyspace (module state). */
#define KVD_EXEC LM_DECLARE(kvd_store, exec, int, lm_task *, KVD_ARGV)
/* kvd_store: INFO's keyspace lines into out; their length. */
#define KVD_INFO LM_DECLARE(kvd_store, info, int, lm_task *, char *, size_t)

#endif
