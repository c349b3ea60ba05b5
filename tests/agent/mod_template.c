/*
 * mod_template.c - the module the agent tests compile, once per variant,
 * with -D flags: MODNAME, VSN ("1.0.0"), VSN_ID (1), and optionally
 * INIT_FAIL=n, CHANGE_FAIL=n, SIG_CHANGE (changes an export's type).
 *
 * Its state is a generation number. answer() returns VSN_ID * 1e6 + gen,
 * or VSN_ID * 1e6 + 999999 when the version was never given a state: a
 * call that reaches a version not fully loaded shows up at once.
 * code_change takes the expected new generation in `extra` and refuses
 * (returns 9) when the old state it was given is not the one before it.
 * When LMT_LOG names a file, init/code_change/terminate append a line.
 */
#define _GNU_SOURCE
#include <livemod/module.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#ifndef VSN_ID
#define VSN_ID 1
#endif
#ifndef VSN
#define VSN "1.0.0"
#endif
#ifndef MODNAME
#define MODNAME mod_a
#endif
#define DECLARE(m, ...) LM_MODULE(m, __VA_ARGS__)
#define EXPORT(m, ...) LM_EXPORT(m, __VA_ARGS__)

struct st {
	long gen;
};

static struct st *cur;

static void note(const char *what, const struct st *s)
{
	const char *p = getenv("LMT_LOG");
	FILE *f;

	if (!p || !(f = fopen(p, "a")))
		return;
	fprintf(f, "%s v%d gen=%ld\n", what, VSN_ID, s ? s->gen : -1L);
	fclose(f);
}

static int init(void **state)
{
#ifdef INIT_FAIL
	(void)state;
	return INIT_FAIL;
#else
	if (*state) { /* adopting a state converted by a downgrade */
		cur = *state;
		note("adopt", cur);
		return 0;
	}
	cur = calloc(1, sizeof(*cur));
	if (!cur)
		return 1;
	note("init", cur);
	*state = cur;
	return 0;
#endif
}

static int code_change(lm_change_mode mode, const char *vsn, void *old,
		       const char *extra, void **new_state)
{
	struct st *o = old, *n;

	(void)vsn;
#ifdef CHANGE_FAIL
	(void)o; (void)n; (void)extra; (void)new_state; (void)mode;
	return CHANGE_FAIL;
#else
	if (*extra == '=') { /* keep the same state object */
		if (mode == LM_UP)
			cur = o;
		note("keep", o);
		*new_state = o;
		return 0;
	}
	n = calloc(1, sizeof(*n));
	if (!n)
		return 1;
	n->gen = *extra ? atol(extra) : o->gen + 1;
	if (n->gen != o->gen + 1) {
		free(n);
		return 9;
	}
	/* Up runs in the new code: it takes the state now. Down runs in the
	 * current code, which keeps serving its own state until the older
	 * version is published and adopts the new one in init. */
	if (mode == LM_UP)
		cur = n;
	note(mode == LM_UP ? "up" : "down", n);
	*new_state = n;
	return 0;
#endif
}

static void terminate(void *state)
{
	note("terminate", state);
	free(state);
}

static long answer(void)
{
	return VSN_ID * 1000000L + (cur ? cur->gen : 999999L);
}

#ifdef SIG_CHANGE
static void slow(int ms, volatile int *flag, int unused)
{
	(void)unused;
#else
static void slow(int ms, volatile int *flag)
{
#endif
	__atomic_store_n(flag, 1, __ATOMIC_SEQ_CST);
	usleep((useconds_t)ms * 1000);
	__atomic_store_n(flag, 2, __ATOMIC_SEQ_CST);
}

DECLARE(MODNAME, VSN, .init = init, .code_change = code_change,
	.terminate = terminate);
EXPORT(MODNAME, answer, long (void));
#ifdef SIG_CHANGE
EXPORT(MODNAME, slow, void (int, volatile int *, int));
#else
EXPORT(MODNAME, slow, void (int, volatile int *));
#endif
