/*
 * kvd_cmd 1.0.0 - the server commands: PING, ECHO, INFO, COMMAND, CONFIG
 * GET, SELECT, QUIT; every other command is the keyspace's (kvd_store),
 * which knows which ones it has. No state: plans load it with
 * load_module.
 *
 * COMMAND and CONFIG GET answer just enough for real clients: redis-cli
 * asks COMMAND DOCS for its help, redis-benchmark CONFIG GET save and
 * appendonly before it starts (it warns when they fail).
 */
#include "kvd_api.h"

#define VSN "1.0.0"

static void ping(lm_task *t, int argc, const char *const *argv,
		 const size_t *len)
{
	if (argc == 1)
		kvd_reply_raw(t, "+PONG\r\n");
	else if (argc == 2)
		kvd_reply_bulk(t, argv[1], len[1]);
	else
		kvd_reply_arity(t, "ping");
}

static void info(lm_task *t)
{
	char buf[2048];
	int n = t->api->host_info(t, buf, sizeof(buf)), m;

	if (n < 0 || (size_t)n >= sizeof(buf) ||
	    (m = t->api->store_info(t, buf + n, sizeof(buf) - (size_t)n)) < 0) {
		kvd_reply_error(t, "ERR INFO failed");
		return;
	}
	kvd_reply_bulk(t, buf, (size_t)n + (size_t)m);
}

/* CONFIG GET NAME: "save" and "appendonly" as a server that persists
 * nothing; any other name matches nothing (an empty array). */
static void config(lm_task *t, int argc, const char *const *argv,
		   const size_t *len)
{
	if (argc != 3 || !kvd_arg_is(argv[1], len[1], "get")) {
		kvd_reply_error(t, "ERR CONFIG: only CONFIG GET NAME");
	} else if (kvd_arg_is(argv[2], len[2], "save")) {
		kvd_reply_raw(t, "*2\r\n$4\r\nsave\r\n$0\r\n\r\n");
	} else if (kvd_arg_is(argv[2], len[2], "appendonly")) {
		kvd_reply_raw(t, "*2\r\n$10\r\nappendonly\r\n$2\r\nno\r\n");
	} else {
		kvd_reply_raw(t, "*0\r\n");
	}
}

static int dispatch(lm_task *t, int argc, const char *const *argv,
		    const size_t *len)
{
	const char *a = argv[0];
	size_t n = len[0];

	if (kvd_arg_is(a, n, "ping")) {
		ping(t, argc, argv, len);
	} else if (kvd_arg_is(a, n, "echo")) {
		if (argc != 2)
			kvd_reply_arity(t, "echo");
		else
			kvd_reply_bulk(t, argv[1], len[1]);
	} else if (kvd_arg_is(a, n, "info")) {
		info(t);
	} else if (kvd_arg_is(a, n, "command")) {
		kvd_reply_raw(t, "*0\r\n"); /* no command table: clients cope */
	} else if (kvd_arg_is(a, n, "config")) {
		config(t, argc, argv, len);
	} else if (kvd_arg_is(a, n, "select")) {
		if (argc == 2 && kvd_arg_is(argv[1], len[1], "0"))
			kvd_reply_raw(t, "+OK\r\n");
		else
			kvd_reply_error(t, "ERR DB index is out of range");
	} else if (kvd_arg_is(a, n, "quit")) {
		kvd_reply_raw(t, "+OK\r\n");
		return KVD_CLOSE;
	} else {
		return KVD_TO_STORE;
	}
	return 0;
}

LM_MODULE(kvd_cmd, VSN);
LM_PROVIDE(KVD_DISPATCH);
