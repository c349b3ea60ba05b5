/*
 * mod_move.c - a module whose state is a hash table, moved (not copied)
 * from version to version: what tests/agent/state_move.c and
 * bench/bench_state_move.c compile, once per variant, with -D flags:
 *   MODNAME (mod_ma), VSN_ID (1 or 2; VSN is "VSN_ID.0.0"),
 *   MOVE: ABI 2's change_commit and change_abort, and a code_change that
 *     moves the table; without it code_change copies the table (as a
 *     module must when it cannot move);
 *   ABI1: built against the frozen ABI 1 header (no MOVE then);
 *   DEPS: the module's LM_DEPS, e.g. -DDEPS='"mod_ma"'.
 * Version 1's state is struct st1, version 2's struct st2 (another
 * layout); version 2's code_change converts both ways. The plan's extra
 * steers failures: "fail" refuses before touching anything,
 * "fail-after-move" refuses after it moved the table into a new state.
 * The table holds LMT_KEYS keys (environment; 10 by default): key k has
 * the value k * 7 + 1.
 */
#include <livemod/module.h>
#include <stdlib.h>
#include <string.h>

#ifndef MODNAME
#define MODNAME mod_ma
#endif
#ifndef VSN_ID
#define VSN_ID 1
#endif
#define VSN_STR2(x) #x ".0.0"
#define VSN_STR(x) VSN_STR2(x)
#ifdef DEPS
#define MOD_DEPS .deps = LM_DEPS(DEPS),
#else
#define MOD_DEPS
#endif

struct table {
	size_t cap, n; /* cap a power of two, twice n at least */
	long *keys;    /* -1: empty */
	long *vals;
};
struct st1 {
	struct table *t;
};
struct st2 {
	long generation;
	struct table *t;
};

static void *cur; /* struct st1 * in version 1, struct st2 * in 2 */

static struct table **table_of(void *state, int vsn_id)
{
	return vsn_id == 1 ? &((struct st1 *)state)->t
			   : &((struct st2 *)state)->t;
}

static size_t slot(const struct table *t, long k)
{
	size_t h = (size_t)k * 0x9e3779b97f4a7c15ull;

	for (h &= t->cap - 1; t->keys[h] != -1 && t->keys[h] != k;
	     h = (h + 1) & (t->cap - 1))
		;
	return h;
}

static void table_free(struct table *t)
{
	if (!t)
		return;
	free(t->keys);
	free(t->vals);
	free(t);
}

static struct table *table_new(size_t n)
{
	struct table *t = calloc(1, sizeof(*t));
	size_t cap = 16;

	while (cap < 2 * n)
		cap *= 2;
	if (!t || !(t->keys = malloc(cap * sizeof(long))) ||
	    !(t->vals = malloc(cap * sizeof(long)))) {
		table_free(t);
		return NULL;
	}
	t->cap = cap;
	memset(t->keys, 0xff, cap * sizeof(long)); /* -1 */
	for (size_t k = 0; k < n; k++) {
		size_t s = slot(t, (long)k);

		t->keys[s] = (long)k;
		t->vals[s] = (long)k * 7 + 1;
	}
	t->n = n;
	return t;
}

#if VSN_ID == 2 && !defined(MOVE)
static struct table *table_copy(const struct table *o)
{
	struct table *t = calloc(1, sizeof(*t));

	if (!t || !(t->keys = malloc(o->cap * sizeof(long))) ||
	    !(t->vals = malloc(o->cap * sizeof(long)))) {
		table_free(t);
		return NULL;
	}
	t->cap = o->cap;
	t->n = o->n;
	memcpy(t->keys, o->keys, o->cap * sizeof(long));
	memcpy(t->vals, o->vals, o->cap * sizeof(long));
	return t;
}
#endif

static void *state_new(int vsn_id, struct table *t)
{
	void *s = calloc(1, vsn_id == 1 ? sizeof(struct st1)
				     : sizeof(struct st2));

	if (s)
		*table_of(s, vsn_id) = t;
	return s;
}

static int init(void **state)
{
	const char *k = getenv("LMT_KEYS");
	struct table *t;

	if (*state) { /* adopting what a downgrade made */
		cur = *state;
		return 0;
	}
	if (!(t = table_new(k ? strtoul(k, NULL, 10) : 10)) ||
	    !(cur = state_new(VSN_ID, t))) {
		table_free(t);
		return -1;
	}
	*state = cur;
	return 0;
}

static void terminate(void *state)
{
	table_free(*table_of(state, VSN_ID));
	free(state);
}

#if VSN_ID == 2
/* Version 2 knows both layouts: up from 1, down to 1. */
static int code_change(lm_change_mode mode, const char *vsn, void *old,
		       const char *extra, void **new_state)
{
	int from = mode == LM_UP ? 1 : 2, to = mode == LM_UP ? 2 : 1;
	struct table **ot = table_of(old, from), *t;
	void *n;

	(void)vsn;
	if (strcmp(extra, "fail") == 0)
		return 6;
#ifdef MOVE
	t = *ot; /* taken: the old state no longer holds it */
	*ot = NULL;
#else
	if (!(t = table_copy(*ot)))
		return -1;
#endif
	if (!(n = state_new(to, t))) {
#ifdef MOVE
		*ot = t;
#else
		table_free(t);
#endif
		return -1;
	}
	*new_state = n;
	if (mode == LM_UP)
		cur = n;
	/* Having moved: livemod calls change_abort to give it back. */
	return strcmp(extra, "fail-after-move") == 0 ? 7 : 0;
}

#ifdef MOVE
/* The old state gave up its table: only its shell is left to free. */
static void change_commit(lm_change_mode mode, void *old, void *new_state)
{
	(void)mode, (void)new_state;
	free(old);
}

/* Back to the old state, and the new shell freed: nothing else was
 * allocated. */
static void change_abort(lm_change_mode mode, void *old, void *new_state)
{
	int from = mode == LM_UP ? 1 : 2, to = mode == LM_UP ? 2 : 1;

	*table_of(old, from) = *table_of(new_state, to);
	free(new_state);
	if (mode == LM_UP)
		cur = NULL; /* this version is being dropped */
}

LM_MODULE(MODNAME, VSN_STR(VSN_ID), MOD_DEPS .init = init, .code_change = code_change,
	  .terminate = terminate, .change_commit = change_commit,
	  .change_abort = change_abort);
#else
LM_MODULE(MODNAME, VSN_STR(VSN_ID), MOD_DEPS .init = init, .code_change = code_change,
	  .terminate = terminate);
#endif
#else
LM_MODULE(MODNAME, VSN_STR(VSN_ID), MOD_DEPS .init = init, .terminate = terminate);
#endif

/* The value of key `k`: -1 when absent, -2 when this version's state has
 * no table (moved away and not given back). */
LM_EXPORT(MODNAME, get, long (long));
static long get(long k)
{
	struct table *t = *table_of(cur, VSN_ID);

	if (!t)
		return -2;
	k = t->keys[slot(t, k)] == k ? t->vals[slot(t, k)] : -1;
	return k;
}

/* How many keys the table holds (-2 without a table). */
LM_EXPORT(MODNAME, count, long (void));
static long count(void)
{
	struct table *t = *table_of(cur, VSN_ID);

	return t ? (long)t->n : -2;
}

LM_EXPORT(MODNAME, which, long (void));
static long which(void)
{
	return VSN_ID;
}

/* VSN_ID while the table is whole (its first keys with their values),
 * else 0: tests/host/lmhost.c counts a call answered 0 as bad. */
LM_EXPORT(MODNAME, answer, int (void));
static int answer(void)
{
	struct table *t = *table_of(cur, VSN_ID);

	if (!t)
		return 0;
	for (long k = 0; k < 16 && k < (long)t->n; k++)
		if (t->keys[slot(t, k)] != k || t->vals[slot(t, k)] != k * 7 + 1)
			return 0;
	return VSN_ID;
}
