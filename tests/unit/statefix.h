/*
 * statefix.h - a real state dir for the unit tests of what works on one
 * (lib/store.c, scan.c, gc.c, rollback.c): modules compiled from
 * tests/modules/generic.c, a state made as `livemod init` makes it, plans
 * recorded and applied as the planner and the node record them, and a
 * snapshot of everything a refusal must leave as it was.
 *
 * Header-only, beside testutil.h; needs cmocka included first.
 */
#ifndef LM_STATEFIX_H
#define LM_STATEFIX_H

#include <limits.h>

#include "error.h"
#include "fsutil.h"
#include "planning.h"
#include "script.h"
#include "store.h"
#include "testutil.h"

/* Compiles generic.c as module `name` at `vsn` into <dir>/<name>.so, with
 * `defines` (#define lines, may be "") before it. */
static inline void sf_module(const char *dir, const char *name,
			     const char *vsn, const char *defines)
{
	char *generic = tu_read_file(LM_SRCDIR "/tests/modules/generic.c", NULL);
	char *src, *file;

	assert_non_null(generic);
	assert_true(asprintf(&src, "#define MOD_NAME %s\n#define MOD_VSN "
			     "\"%s\"\n%s%s", name, vsn, defines, generic) > 0);
	assert_true(asprintf(&file, "%s.so", name) > 0);
	tu_build_module(dir, file, src);
	free(src);
	free(file);
	free(generic);
}

/* A scratch dir holding lib/ (by its real path, as init records it) and
 * the path of a state dir not made yet. */
typedef struct sf_dirs {
	char *tmp, *lib, *state, *store;
} sf_dirs;

static inline void sf_dirs_make(sf_dirs *d)
{
	char buf[PATH_MAX], *lib;

	unsetenv("LIVEMOD_LOCK_TIMEOUT_MS");
	d->tmp = tu_tmpdir();
	lib = lm_path_join(d->tmp, "lib");
	assert_int_equal(mkdir(lib, 0755), 0);
	assert_non_null(realpath(lib, buf));
	free(lib);
	d->lib = strdup(buf);
	d->state = lm_path_join(d->tmp, "state");
	d->store = lm_path_join(d->state, "store.git");
}

static inline void sf_dirs_free(sf_dirs *d)
{
	tu_rm_rf(d->tmp);
	free(d->tmp);
	free(d->lib);
	free(d->state);
	free(d->store);
	memset(d, 0, sizeof(*d));
}

/* `livemod init` on d->lib: release 1, its commit in `commit` when not
 * NULL. */
static inline void sf_init_commit(const sf_dirs *d,
				  char commit[LM_OID_HEXSZ + 1])
{
	lm_scan scan;
	int64_t rel = 0;

	assert_int_equal(lm_scan_libdir(&scan, d->lib, NULL), 0);
	assert_int_equal(lm_release_check(&scan.mods), 0);
	assert_int_equal(lm_mkdir(d->state, 0700), 0);
	assert_int_equal(lm_state_create(d->state, d->lib, "testapp", &scan,
					 &rel, commit), 0);
	assert_int_equal(rel, 1);
	lm_scan_clear(&scan);
}

static inline void sf_init(const sf_dirs *d)
{
	sf_init_commit(d, NULL);
}

/* `livemod plan` on the libdir as it is now, and, with `apply`, the
 * node's record of applying it (plan 'applied', the node on its
 * release). The new release's id. */
static inline int64_t sf_plan(const sf_dirs *d, int apply)
{
	lm_plan_opts none = { 0 };
	lm_modset set = { 0 };
	lm_plan *p = NULL;
	lm_state st;
	lm_scan scan;
	int64_t rel;

	assert_int_equal(lm_state_open(&st, d->state, 0), 0);
	assert_int_equal(lm_scan_libdir(&scan, d->lib, st.ledger), 0);
	assert_int_equal(lm_planning_compute(&p, &set, &st, &scan, &none), 0);
	assert_non_null(p);
	assert_int_equal(lm_planning_record(&st, p, &set, &scan), 0);
	rel = p->to_release;
	if (apply) {
		assert_int_equal(lm_ledger_plan_set_status(st.ledger, p->id,
							   "applied"), 0);
		assert_int_equal(lm_ledger_node_set_current(st.ledger,
							    st.node.id, rel), 0);
	}
	lm_plan_free(p);
	lm_modset_clear(&set);
	lm_scan_clear(&scan);
	lm_state_close(&st);
	return rel;
}

/* Versions of module mod_a compiled once into a template dir, as a1.so,
 * a2.so, ..., with their blob ids. */
#define SF_NVSN 3
typedef struct sf_tpl {
	char *dir;
	char oids[SF_NVSN][LM_OID_HEXSZ + 1];
} sf_tpl;

static inline void sf_tpl_make(sf_tpl *t, const char *defines)
{
	static const char *const vsn[SF_NVSN] = { "1.0.0", "1.1.0", "1.2.0" };
	char *p;

	t->dir = tu_tmpdir();
	for (int i = 0; i < SF_NVSN; i++) {
		sf_module(t->dir, "mod_a", vsn[i], defines);
		assert_int_equal(tu_sh("mv '%s/mod_a.so' '%s/a%d.so'", t->dir,
				       t->dir, i + 1), 0);
		assert_true(asprintf(&p, "%s/a%d.so", t->dir, i + 1) > 0);
		assert_int_equal(lm_store_hash_file(t->oids[i], p), 0);
		free(p);
	}
}

static inline void sf_tpl_free(sf_tpl *t)
{
	tu_rm_rf(t->dir);
	free(t->dir);
	t->dir = NULL;
}

/* The group's versions of mod_a (each with a code_change), made by
 * sf_group_setup and removed by sf_group_teardown (cmocka group fixtures). */
static inline sf_tpl *sf_group_tpl(void)
{
	static sf_tpl t;

	return &t;
}

static inline int sf_group_setup(void **state)
{
	(void)state;
	sf_tpl_make(sf_group_tpl(), "#define MOD_CODE_CHANGE\n");
	return 0;
}

static inline int sf_group_teardown(void **state)
{
	(void)state;
	sf_tpl_free(sf_group_tpl());
	return 0;
}

/* Version `i` (1-based) of mod_a installed in the libdir. */
static inline void sf_install(const sf_dirs *d, const sf_tpl *t, int i)
{
	assert_int_equal(tu_sh("cp '%s/a%d.so' '%s/mod_a.so'", t->dir, i,
			       d->lib), 0);
}

/* A state of three releases, mod_a 1.0.0 (init), 1.1.0 and 1.2.0, each
 * planned and applied: the node on release 3, its permanent release 1. */
static inline void sf_three_releases(sf_dirs *d, const sf_tpl *t)
{
	sf_dirs_make(d);
	sf_install(d, t, 1);
	sf_init(d);
	sf_install(d, t, 2);
	assert_int_equal(sf_plan(d, 1), 2);
	sf_install(d, t, 3);
	assert_int_equal(sf_plan(d, 1), 3);
}

/* Everything of the state a refusal must not change, as text: the
 * ledger's rows (the stat cache aside: a cache), the store's refs and
 * object files, the plans/ and objects/ dirs (as tests/e2e/lib.sh's
 * snapshot). The caller frees. */
static inline char *sf_snapshot(const sf_dirs *d)
{
	char *out = lm_path_join(d->tmp, ".snap"), *text;

	assert_int_equal(tu_sh("{ sqlite3 '%s/ledger.db' .dump | "
			       "grep -v '^INSERT INTO stat_cache VALUES'; "
			       "git --git-dir='%s' for-each-ref; "
			       "(cd '%s' && find objects -type f | sort); "
			       "ls -la '%s/plans' '%s/objects' | "
			       "awk '{print $NF, $5}'; } > '%s' 2>&1",
			       d->state, d->store, d->store, d->state,
			       d->state, out), 0);
	text = tu_read_file(out, NULL);
	assert_non_null(text);
	unlink(out);
	free(out);
	return text;
}

/* Another writer: the state's ledger opened on a connection of its own,
 * its write lock taken (LIVEMOD_LOCK_TIMEOUT_MS=50 makes waiters give up
 * at once). sf_writer_end lets go. */
static inline lm_ledger *sf_writer(const sf_dirs *d)
{
	char *path = lm_path_join(d->state, "ledger.db");
	lm_ledger *l = NULL;

	setenv("LIVEMOD_LOCK_TIMEOUT_MS", "50", 1);
	assert_int_equal(lm_ledger_open(&l, path, 0), 0);
	assert_int_equal(lm_ledger_begin(l), 0);
	free(path);
	return l;
}

static inline void sf_writer_end(lm_ledger *l)
{
	lm_ledger_rollback(l);
	lm_ledger_free(l);
	unsetenv("LIVEMOD_LOCK_TIMEOUT_MS");
}

/* The state is as `before` (an sf_snapshot, freed here) saw it. */
static inline void sf_unchanged(const sf_dirs *d, char *before)
{
	char *after = sf_snapshot(d);

	assert_string_equal(before, after);
	free(before);
	free(after);
}

/* The last error's message holds `part`. */
static inline void sf_msg_has(const char *part)
{
	if (!strstr(lm_error_last(), part))
		fail_msg("error '%s' lacks '%s'", lm_error_last(), part);
}

#endif
