/*
 * test_gc.c - housekeeping (lib/gc.c) on a real state dir: three releases
 * of a module, each planned and applied as the planner and the node
 * record them. What is kept (the newest N, the node's current and
 * permanent releases), what goes (releases, their plans and runs, module
 * versions no kept release holds, store tags, objects/ files nothing
 * loads), a dry run that reports the same and changes nothing, and the
 * refusal when another writer holds the ledger, which changes nothing
 * either. The store stays a sound git repository.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "gc.h"
#include "ledger.h"
#include "statefix.h"
#include "store.h"

#define tpl (*sf_group_tpl()) /* mod_a 1.0.0, 1.1.0, 1.2.0 */

typedef struct fixture {
	sf_dirs d;
	lm_state st;
	lm_gc_result r;
} fixture;

/* Releases 1, 2, 3 (mod_a 1.0.0, 1.1.0, 1.2.0), the node on 3, which is
 * also permanent; objects/ holding each release's extracted object, as
 * a node leaves them. */
static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	sf_three_releases(&f->d, &tpl);
	assert_int_equal(lm_state_open(&f->st, f->d.state, 0), 0);
	assert_int_equal(lm_ledger_node_set_permanent(f->st.ledger,
						      f->st.node.id, 3), 0);
	lm_state_close(&f->st);
	for (int i = 0; i < 3; i++)
		assert_int_equal(tu_sh("cp '%s/a%d.so' '%s/objects/%s.so'", tpl.dir,
				       i + 1, f->d.state, tpl.oids[i]), 0);
	assert_int_equal(lm_state_open(&f->st, f->d.state, 0), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;

	lm_gc_result_clear(&f->r);
	lm_state_close(&f->st);
	sf_dirs_free(&f->d);
	free(f);
	return 0;
}

static void assert_ids(const int64_t *v, size_t n, const int64_t *want,
		       size_t nwant)
{
	assert_int_equal(n, nwant);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(v[i], want[i]);
}

/* keep 1: releases 1 and 2 go, 3 (newest, current, permanent) stays. */
static void check_result(const fixture *f)
{
	static const int64_t kept[] = { 3 }, pruned[] = { 1, 2 };

	assert_ids(f->r.kept, f->r.nkept, kept, 1);
	assert_ids(f->r.pruned, f->r.npruned, pruned, 2);
	assert_int_equal(f->r.nplans, 2);
	assert_int_equal(f->r.current, 3);
	assert_int_equal(f->r.permanent, 3);
	assert_int_equal(f->r.nobjects, 2);
}

static void test_dry_run_changes_nothing(void **state)
{
	fixture *f = *state;
	lm_gc_opts o = { .keep = 1, .dry_run = 1 };
	char *before = sf_snapshot(&f->d);

	assert_int_equal(lm_gc_run(&f->r, &f->st, &o), 0);
	check_result(f);
	sf_unchanged(&f->d, before);
}

static void test_prune(void **state)
{
	fixture *f = *state;
	lm_gc_opts o = { .keep = 1 };
	lm_release_info r = { 0 };
	char *p;

	assert_int_equal(lm_gc_run(&f->r, &f->st, &o), 0);
	check_result(f);
	/* the ledger */
	assert_int_equal(lm_ledger_release_get(f->st.ledger, 1, &r),
			 LM_ENOTFOUND);
	assert_int_equal(lm_ledger_release_get(f->st.ledger, 2, &r),
			 LM_ENOTFOUND);
	assert_int_equal(lm_ledger_release_get(f->st.ledger, 3, &r), 0);
	lm_release_info_clear(&r);
	assert_int_equal(tu_sh("test \"$(sqlite3 '%s/ledger.db' 'SELECT "
			       "count(*) FROM plans; SELECT count(*) FROM "
			       "module_versions' | paste -sd ' ')\" = '0 1'",
			       f->d.state), 0);
	/* the store: release 3 whole and readable by git, the rest untagged */
	assert_int_equal(tu_sh("test \"$(git --git-dir='%s' tag | paste -sd "
			       "' ')\" = release-3", f->d.store), 0);
	assert_int_equal(tu_sh("git --git-dir='%s' fsck --strict 2>/dev/null "
			       ">&2", f->d.store), 0);
	assert_int_equal(tu_sh("git --git-dir='%s' cat-file -e %s", f->d.store,
			       tpl.oids[2]), 0);
	/* objects/: only what release 3 loads */
	for (int i = 0; i < 3; i++) {
		assert_true(asprintf(&p, "%s/objects/%s.so", f->d.state,
				     tpl.oids[i]) > 0);
		assert_int_equal(access(p, F_OK) == 0, i == 2);
		free(p);
	}
	/* again: nothing left to prune */
	lm_gc_result_clear(&f->r);
	assert_int_equal(lm_gc_run(&f->r, &f->st, &o), 0);
	assert_int_equal(f->r.npruned, 0);
	assert_int_equal(f->r.nobjects, 0);
}

/* What the node has loaded stays in objects/; when it cannot say, all. */
static void test_loaded_objects_kept(void **state)
{
	fixture *f = *state;
	const char *loaded[] = { tpl.oids[0] };
	lm_gc_opts o = { .keep = 1, .dry_run = 1, .loaded = loaded,
			 .nloaded = 1 };

	assert_int_equal(lm_gc_run(&f->r, &f->st, &o), 0);
	assert_int_equal(f->r.nobjects, 1);
	assert_string_equal(f->r.objects[0], tpl.oids[1]);
	lm_gc_result_clear(&f->r);
	o.loaded_unknown = 1;
	assert_int_equal(lm_gc_run(&f->r, &f->st, &o), 0);
	assert_int_equal(f->r.nobjects, 0);
}

/* The node's permanent release (what it boots) is kept however old. */
static void test_permanent_kept(void **state)
{
	fixture *f = *state;
	lm_gc_opts o = { .keep = 1 };
	static const int64_t kept[] = { 1, 3 }, pruned[] = { 2 };

	assert_int_equal(lm_ledger_node_set_permanent(f->st.ledger,
						      f->st.node.id, 1), 0);
	assert_int_equal(lm_gc_run(&f->r, &f->st, &o), 0);
	assert_ids(f->r.kept, f->r.nkept, kept, 2);
	assert_ids(f->r.pruned, f->r.npruned, pruned, 1);
	assert_int_equal(f->r.permanent, 1);
	assert_int_equal(tu_sh("test \"$(git --git-dir='%s' tag | paste -sd "
			       "' ')\" = 'release-1 release-3'", f->d.store), 0);
}

/* Another writer holds the ledger: LM_EBUSY, and nothing changed. */
static void test_busy_changes_nothing(void **state)
{
	fixture *f = *state;
	lm_gc_opts o = { .keep = 1 };
	char *before = sf_snapshot(&f->d);
	lm_ledger *other = sf_writer(&f->d);

	/* opened again, to wait 50 ms for the lock rather than 5 s */
	lm_state_close(&f->st);
	assert_int_equal(lm_state_open(&f->st, f->d.state, 0), 0);
	assert_int_equal(lm_gc_run(&f->r, &f->st, &o), LM_EBUSY);
	sf_writer_end(other);
	sf_unchanged(&f->d, before);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_dry_run_changes_nothing),
		T(test_prune),
		T(test_loaded_objects_kept),
		T(test_permanent_kept),
		T(test_busy_changes_nothing),
#undef T
	};

	return cmocka_run_group_tests_name("gc", tests, sf_group_setup,
					   sf_group_teardown);
}
