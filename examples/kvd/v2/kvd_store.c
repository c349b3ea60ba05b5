/*
 * kvd_store 2.0.0 - the keyspace, with APPEND and STRLEN, and hit and
 * miss counts (INFO's keyspace_hits, keyspace_misses).
 *
 * State (layout 2): the header every layout begins with (kvd_state.h),
 * then the counters. An upgrade moves the keyspace over (kvd_state.c:
 * no copy, whatever its size) and starts the counters at zero; the way
 * back (LM_DOWN, here: this version knows both layouts) hands 1.0.0 a
 * layout-1 state around the same table.
 */
#include <stdlib.h>

#include "kvd_api.h"
#include "kvd_state.h"
#include "store_cmds.h"

#define VSN "2.0.0"

struct state_v2 {
	struct kvd_state_hdr h;
	uint64_t hits, misses;
};

/* Layout 1, as 1.0.0 lays it out: what the way back makes. */
struct state_v1 {
	struct kvd_state_hdr h;
};

static struct state_v2 *st;

static const struct store_cmd cmds[] = {
	{ "get", 2, cmd_get },        { "set", -3, cmd_set },
	{ "del", -2, cmd_del },       { "incr", 2, cmd_incr },
	{ "mget", -2, cmd_mget },     { "mset", -3, cmd_mset },
	{ "exists", -2, cmd_exists }, { "dbsize", 1, cmd_dbsize },
	{ "append", 3, cmd_append },  { "strlen", 2, cmd_strlen },
};

/* A state of `layout` (1 or 2) and `size` bytes on `keys` (freed with
 * the state once it commits). */
static void *state_new(uint32_t layout, size_t size, struct dict *keys)
{
	struct kvd_state_hdr *h = keys ? calloc(1, size) : NULL;

	if (!h)
		return NULL;
	h->magic = KVD_STATE_MAGIC;
	h->layout = layout;
	h->keys = keys;
	return h;
}

static int init(void **state)
{
	struct state_v2 *s = *state;
	struct dict *keys;

	if (s) { /* adopt: only a state in our own layout */
		if (s->h.magic != KVD_STATE_MAGIC || s->h.layout != 2)
			return -1;
		st = s;
		return 0;
	}
	keys = dict_new();
	if (!(st = state_new(2, sizeof(*st), keys))) {
		dict_free(keys);
		return -1;
	}
	*state = st;
	return 0;
}

static int code_change(lm_change_mode mode, const char *vsn, void *old,
		       const char *extra, void **new_state)
{
	struct dict *keys = kvd_state_keys_from(old);
	void *s;

	(void)vsn, (void)extra;
	if (mode == LM_DOWN) { /* our statics stay: we serve until purged */
		s = state_new(1, sizeof(struct state_v1), keys);
	} else if ((s = state_new(2, sizeof(struct state_v2), keys))) {
		st = s;
	}
	*new_state = s;
	return s ? 0 : -1;
}

static void terminate(void *state)
{
	struct kvd_state_hdr *h = state;

	dict_free(h->keys);
	free(h);
}

static int exec(lm_task *t, int argc, const char *const *argv,
		const size_t *len)
{
	struct store_ctx c = { st->h.keys, &st->hits, &st->misses };

	return store_exec(t, cmds, sizeof(cmds) / sizeof(cmds[0]), &c, argc,
			  argv, len);
}

static int info(lm_task *t, char *out, size_t cap)
{
	(void)t;
	return snprintf(out, cap,
			"keyspace_hits:%llu\r\nkeyspace_misses:%llu\r\n"
			"# Keyspace\r\ndb0:keys=%zu,expires=0\r\n"
			"kvd_store:" VSN ",layout=2\r\n",
			(unsigned long long)st->hits,
			(unsigned long long)st->misses, dict_size(st->h.keys));
}

LM_MODULE(kvd_store, VSN, .init = init, .code_change = code_change,
	  .change_commit = kvd_state_commit, .change_abort = kvd_state_abort,
	  .terminate = terminate, .purge = LM_BRUTAL_PURGE);
LM_PROVIDE(KVD_EXEC);
LM_PROVIDE(KVD_INFO);
