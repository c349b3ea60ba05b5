/*
 * state_move.c - state by move, with commit and abort (module ABI 2),
 * driven as the plan interpreter drives a two-module plan (agent/node/
 * apply.c): stage both, suspend both, code_change each, then publish both
 * (the commit) or, when one fails, unstage both (the abort) and resume.
 * The modules are tests/agent/mod_move.c: a hash table of keys, moved by
 * version 2's code_change; version 1 of mod_mb is built against the
 * frozen ABI 1 header (tests/modules/abi1), so an ABI 1 module loads and
 * is upgraded to an ABI 2 one. Checked after every step: which version
 * serves, and every key of both tables (an old version whose table was
 * not given back answers -2; a freed one is ASan's to report, and this
 * test runs in the ASan+UBSan build too, leaks included).
 *
 *   1. up, the second module's code_change fails after the first moved
 *      its table: both old versions serve on, tables intact;
 *   2. a module that moves its table and then returns an error: the same;
 *   3. up, both succeed: the new versions serve the same tables, and the
 *      old versions are purged without their terminate touching them;
 *   4. down, the second fails after the first moved: the v2s serve on;
 *   5. down, both succeed: the v1s serve the same tables.
 */
#include <assert.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "agenttest.h"

#define NKEYS 1000
#define NMODS 2

static const char *const mods[NMODS] = { "mod_ma", "mod_mb" };
static char *dir, *v1[NMODS], *v2[NMODS];
static lm_runtime *rt;
static lm_export_ref *get[NMODS], *count[NMODS], *which[NMODS];

typedef long (*get_fn)(long);
typedef long (*long_fn)(void);

static char *build(const char *mod, int vsn, const char *flags)
{
	char file[64], all[512];

	snprintf(file, sizeof(file), "%s-%d.so", mod, vsn);
	snprintf(all, sizeof(all), "%s -DMODNAME=%s -DVSN_ID=%d", flags, mod,
		 vsn);
	return at_build_src(dir, file, all, "tests/agent/mod_move.c");
}

static int setup(void **st)
{
	(void)st;
	dir = tu_tmpdir();
	for (int i = 0; i < NMODS; i++) {
		/* mod_mb 1.0.0 is an ABI 1 module */
		v1[i] = build(mods[i], 1, i == 1 ? "-I" LM_SRCDIR
					     "/tests/modules/abi1 -DABI1" : "");
		v2[i] = build(mods[i], 2, "-DMOVE");
	}
	setenv("LMT_KEYS", "1000", 1);
	assert_int_equal(lm_runtime_new(&rt), 0);
	lm_thread_register();
	for (int i = 0; i < NMODS; i++) {
		if (lm_runtime_load(rt, v1[i], NULL) < 0)
			fail_msg("%s", lm_error_last());
		assert_int_equal(lm_export_ref_lookup(&get[i], rt, mods[i],
						      "get", LM_SIG(long (long))), 0);
		assert_int_equal(lm_export_ref_lookup(&count[i], rt, mods[i],
						      "count", LM_SIG(long (void))), 0);
		assert_int_equal(lm_export_ref_lookup(&which[i], rt, mods[i],
						      "which", LM_SIG(long (void))), 0);
	}
	return 0;
}

static int teardown(void **st)
{
	(void)st;
	for (int i = 0; i < NMODS; i++) {
		lm_export_ref_free(get[i]);
		lm_export_ref_free(count[i]);
		lm_export_ref_free(which[i]);
		free(v1[i]);
		free(v2[i]);
	}
	lm_thread_unregister();
	lm_runtime_free(rt); /* terminates the current states: no leak */
	tu_rm_rf(dir);
	free(dir);
	return 0;
}

/* Both modules serve version `vsn` on their whole table. */
static void serving(int vsn)
{
	for (int i = 0; i < NMODS; i++) {
		long w, n, v;

		LM_CALL(which[i], long_fn, w);
		LM_CALL(count[i], long_fn, n);
		if (w != vsn || n != NKEYS)
			fail_msg("%s: version %ld with %ld keys, want %d with %d",
				 mods[i], w, n, vsn, NKEYS);
		for (long k = 0; k < NKEYS; k++) {
			LM_CALL(get[i], get_fn, v, k);
			if (v != k * 7 + 1)
				fail_msg("%s %d: key %ld is %ld", mods[i], vsn,
					 k, v);
		}
	}
}

/*
 * One two-module apply to `to` (the objects), `mode`, each module's
 * code_change given extras[i]: 0 when it committed, else the failing
 * code_change's error with everything rolled back as apply.c does.
 */
static int apply(char *const to[NMODS], lm_change_mode mode,
		 const char *const extras[NMODS])
{
	int rc = 0, i;

	for (i = 0; i < NMODS; i++)
		assert_int_equal(lm_runtime_stage(rt, to[i], NULL, NULL), 0);
	assert_int_equal(lm_runtime_suspend_many(rt, mods, NMODS), 0);
	for (i = 0; i < NMODS && rc == 0; i++)
		rc = lm_runtime_code_change(rt, mods[i], mode, extras[i]);
	if (rc == 0) {
		for (i = 0; i < NMODS; i++)
			assert_int_equal(lm_runtime_publish(rt, mods[i]), 0);
	} else {
		/* the abort: before any module resumes */
		for (i = NMODS; i-- > 0;)
			assert_int_equal(lm_runtime_unstage(rt, mods[i]), 0);
	}
	for (i = 0; i < NMODS; i++)
		assert_int_equal(lm_runtime_resume(rt, mods[i]), 0);
	if (rc == 0)
		for (i = 0; i < NMODS; i++)
			assert_int_equal(lm_runtime_purge(rt, mods[i],
							  LM_BRUTAL_PURGE, 0), 0);
	return rc;
}

/* apply(): committed when `error` is NULL, else refused with it; then
 * both modules serve version `vsn`, every key intact. */
static void step(char *const to[NMODS], lm_change_mode mode,
		 const char *const extras[NMODS], const char *error, int vsn)
{
	int rc = apply(to, mode, extras);

	if (error ? rc != LM_EEVAL || !strstr(lm_error_last(), error) : rc != 0)
		fail_msg("apply: %d, %s (wanted %s)", rc, lm_error_last(),
			 error ? error : "success");
	serving(vsn);
}

static void test_move(void **st)
{
	static const char *const second_fails[NMODS] = { "", "fail-after-move" };
	static const char *const second_refuses[NMODS] = { "", "fail" };
	static const char *const first_fails[NMODS] = { "fail-after-move", "" };
	static const char *const ok[NMODS] = { "", "" };

	(void)st;
	serving(1);
	/* 1. up: mod_ma moved its table, then mod_mb moved and failed */
	step(v2, LM_UP, second_fails, "mod_mb 2.0.0: code_change (up) "
	     "returned 7", 1);
	/* ... or refused before moving anything */
	step(v2, LM_UP, second_refuses, "mod_mb 2.0.0: code_change (up) "
	     "returned 6", 1);
	/* 2. the first moves and fails: nothing else runs */
	step(v2, LM_UP, first_fails, "mod_ma 2.0.0: code_change (up) "
	     "returned 7", 1);
	/* 3. up, committed: v1's terminate never sees the moved tables */
	step(v2, LM_UP, ok, NULL, 2);
	/* 4. down: mod_ma's v2 moved its table to a v1 state (adopted by
	 * v1's init), then mod_mb's failed after moving */
	step(v1, LM_DOWN, second_fails, "mod_mb 2.0.0: code_change (down) "
	     "returned 7", 2);
	step(v1, LM_DOWN, first_fails, "mod_ma 2.0.0: code_change (down) "
	     "returned 7", 2);
	/* 5. down, committed */
	step(v1, LM_DOWN, ok, NULL, 1);
	/* and up again over the same tables */
	step(v2, LM_UP, ok, NULL, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_move, setup, teardown),
	};

	/* A crash (a state freed twice) ends the run at once: cmocka would
	 * catch it and leave the runtime's lock held for the teardown. */
	setenv("CMOCKA_TEST_ABORT", "1", 1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
