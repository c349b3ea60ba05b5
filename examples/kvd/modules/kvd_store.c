/*
 * kvd_store 1.0.0 - the keyspace: GET, SET, DEL, INCR, MGET, MSET,
 * EXISTS, DBSIZE (store_cmds.c).
 *
 * State (layout 1): the header every layout begins with (kvd_state.h)
 * and nothing else. Moved, not copied, across versions (kvd_state.c);
 * purged brutally, so no code of a version that gave its state away runs
 * after the apply (kvd holds no pins: nothing is ended). kvd calls `exec` and `info` as short calls from its
 * one loop thread, so the keyspace needs no lock, and a code_change sees
 * it still while the module is suspended.
 */
#include <stdlib.h>

#include "kvd_api.h"
#include "kvd_state.h"
#include "store_cmds.h"

#define VSN "1.0.0"

struct state_v1 {
	struct kvd_state_hdr h;
};

static struct state_v1 *st;

static const struct store_cmd cmds[] = {
	{ "get", 2, cmd_get },       { "set", -3, cmd_set },
	{ "del", -2, cmd_del },      { "incr", 2, cmd_incr },
	{ "mget", -2, cmd_mget },    { "mset", -3, cmd_mset },
	{ "exists", -2, cmd_exists }, { "dbsize", 1, cmd_dbsize },
};

/* A layout-1 state on `keys` (freed with the state once it commits). */
static struct state_v1 *state_new(struct dict *keys)
{
	struct state_v1 *s = keys ? calloc(1, sizeof(*s)) : NULL;

	if (!s)
		return NULL;
	s->h.magic = KVD_STATE_MAGIC;
	s->h.layout = 1;
	s->h.keys = keys;
	return s;
}

static int init(void **state)
{
	struct state_v1 *s = *state;
	struct dict *keys;

	if (s) { /* adopt: only a state in our own layout (a downgrade's) */
		if (s->h.magic != KVD_STATE_MAGIC || s->h.layout != 1)
			return -1;
		st = s;
		return 0;
	}
	keys = dict_new();
	if (!(st = state_new(keys))) {
		dict_free(keys);
		return -1;
	}
	*state = st;
	return 0;
}

/* Up from any layout (an older or a newer build): the keyspace moved
 * over (kvd_state.c). 1.0.0 is the first version: it is never asked to
 * go down. */
static int code_change(lm_change_mode mode, const char *vsn, void *old,
		       const char *extra, void **new_state)
{
	struct state_v1 *s;

	(void)vsn, (void)extra;
	if (mode != LM_UP || !(s = state_new(kvd_state_keys_from(old))))
		return -1;
	st = s;
	*new_state = s;
	return 0;
}

static void terminate(void *state)
{
	struct state_v1 *s = state;

	dict_free(s->h.keys);
	free(s);
}

static int exec(lm_task *t, int argc, const char *const *argv,
		const size_t *len)
{
	struct store_ctx c = { .keys = st->h.keys };

	return store_exec(t, cmds, sizeof(cmds) / sizeof(cmds[0]), &c, argc,
			  argv, len);
}

static int info(lm_task *t, char *out, size_t cap)
{
	(void)t;
	return snprintf(out, cap,
			"# Keyspace\r\ndb0:keys=%zu,expires=0\r\n"
			"kvd_store:" VSN ",layout=1\r\n",
			dict_size(st->h.keys));
}

LM_MODULE(kvd_store, VSN, .init = init, .code_change = code_change,
	  .change_commit = kvd_state_commit, .change_abort = kvd_state_abort,
	  .terminate = terminate, .purge = LM_BRUTAL_PURGE);
LM_PROVIDE(KVD_EXEC);
LM_PROVIDE(KVD_INFO);
