/*
 * test_planning.c - from a libdir and the ledger to a plan, and from a plan
 * to the store, the ledger and plans/<id>.json (lib/planning.c), against
 * real modules compiled here, a real ledger and a real store: what counts
 * as a change (bytes, not stat data), added and removed modules, planning
 * only named modules, purge resolution, --extra checks, recording, and the
 * stat cache that lets a warm scan read nothing.
 */
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#include <cmocka.h>
#include <git2.h>

#include "error.h"
#include "fsutil.h"
#include "ledger.h"
#include "planning.h"
#include "rollback.h"
#include "scan.h"
#include "script.h"
#include "store.h"
#include "statefix.h"
#include "testutil.h"

/* ---- module templates, compiled once per run ---------------------------- */

enum { A1, A2, B1, B2, C1, C2, D1, NTPL };

static struct tpl {
	const char *mod;     /* module name; the file is <mod>.so */
	const char *vsn;
	const char *defines; /* more -D switches for generic.c, as #defines */
	char *path;          /* compiled object in the template dir */
	char oid[LM_OID_HEXSZ + 1];
} tpls[NTPL] = {
	[A1] = { "mod_a", "1.0.0", "", NULL, "" },
	[A2] = { "mod_a", "1.1.0", "", NULL, "" },
	/* mod_b chooses soft_purge itself */
	[B1] = { "mod_b", "1.0.0", "#define MOD_PURGE LM_SOFT_PURGE\n", NULL, "" },
	[B2] = { "mod_b", "1.1.0", "#define MOD_PURGE LM_SOFT_PURGE\n", NULL, "" },
	/* mod_c has code_change: an update, the one taking an Extra */
	[C1] = { "mod_c", "1.0.0", "#define MOD_CODE_CHANGE\n", NULL, "" },
	[C2] = { "mod_c", "1.1.0", "#define MOD_CODE_CHANGE\n", NULL, "" },
	[D1] = { "mod_d", "1.0.0", "", NULL, "" },
};

static char *tpl_dir;

static int group_setup(void **state)
{
	char *generic = tu_read_file(LM_SRCDIR "/tests/modules/generic.c", NULL);
	int i;

	(void)state;
	if (!generic)
		return -1;
	tpl_dir = tu_tmpdir();
	for (i = 0; i < NTPL; i++) {
		char *src, *file;

		if (asprintf(&src, "#define MOD_NAME %s\n#define MOD_VSN \"%s\"\n"
			     "%s%s", tpls[i].mod, tpls[i].vsn, tpls[i].defines,
			     generic) < 0 ||
		    asprintf(&file, "t%d.so", i) < 0)
			abort();
		tu_build_module(tpl_dir, file, src);
		if (asprintf(&tpls[i].path, "%s/%s", tpl_dir, file) < 0)
			abort();
		if (lm_store_hash_file(tpls[i].oid, tpls[i].path) < 0)
			abort();
		free(src);
		free(file);
	}
	free(generic);
	/* Two versions of a module differ in their bytes. */
	if (!strcmp(tpls[A1].oid, tpls[A2].oid) ||
	    !strcmp(tpls[B1].oid, tpls[B2].oid) ||
	    !strcmp(tpls[C1].oid, tpls[C2].oid))
		return -1;
	return 0;
}

static int group_teardown(void **state)
{
	int i;

	(void)state;
	for (i = 0; i < NTPL; i++)
		free(tpls[i].path);
	tu_rm_rf(tpl_dir);
	free(tpl_dir);
	return 0;
}

/* ---- fixture: a libdir, a state dir made as `livemod init` makes it ------ */

typedef struct fixture {
	char *tmp;
	char *lib;    /* realpath, as init records it */
	char *state;
	char commit1[LM_OID_HEXSZ + 1];
	lm_state st;
	/* the last compute */
	lm_scan scan;
	lm_modset new_set;
	lm_plan *plan;
} fixture;

static char *lib_path(const fixture *f, const char *mod)
{
	char *p;

	if (asprintf(&p, "%s/%s.so", f->lib, mod) < 0)
		abort();
	return p;
}

/* Installs template `t` as <mod>.so (rewriting the file in place when it
 * exists, as `cp` does). */
static void install(const fixture *f, int t)
{
	char *p = lib_path(f, tpls[t].mod);
	size_t n = 0;
	char *buf = tu_read_file(tpls[t].path, &n);

	assert_non_null(buf);
	tu_write_file(p, buf, n);
	free(buf);
	free(p);
}

static void uninstall(const fixture *f, const char *mod)
{
	char *p = lib_path(f, mod);

	assert_int_equal(unlink(p), 0);
	free(p);
}

/* The state `livemod init` makes, on the libdir as it is now. */
static void init_state(fixture *f)
{
	sf_dirs d = { f->tmp, f->lib, f->state, NULL };

	sf_init_commit(&d, f->commit1);
}

/* Frees the last compute: plan, then new_set, then the scan it shares. */
static void clear_compute(fixture *f)
{
	lm_plan_free(f->plan);
	f->plan = NULL;
	lm_modset_clear(&f->new_set);
	lm_scan_clear(&f->scan);
}

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	sf_dirs d;

	assert_non_null(f);
	sf_dirs_make(&d);
	f->tmp = d.tmp;
	f->lib = d.lib;
	f->state = d.state;
	free(d.store);
	install(f, A1);
	install(f, B1);
	install(f, C1);
	init_state(f);
	assert_int_equal(lm_state_open(&f->st, f->state, 0), 0);
	assert_int_equal(f->st.node.current_release, 1);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;

	clear_compute(f);
	lm_state_close(&f->st);
	tu_rm_rf(f->tmp);
	free(f->tmp);
	free(f->lib);
	free(f->state);
	free(f);
	return 0;
}

/* Scans the libdir with the node's ledger and computes, leaving the
 * result in f->scan, f->new_set, f->plan. */
static int compute(fixture *f, const lm_plan_opts *o)
{
	lm_plan_opts none = { 0 };

	clear_compute(f);
	assert_int_equal(lm_scan_libdir(&f->scan, f->lib, f->st.ledger), 0);
	assert_int_equal(f->scan.base_release, 1);
	return lm_planning_compute(&f->plan, &f->new_set, &f->st, &f->scan,
				   o ? o : &none);
}

static void assert_msg_has(const char *part)
{
	if (!strstr(lm_error_last(), part))
		fail_msg("message '%s' lacks '%s'", lm_error_last(), part);
}

static const lm_plan_module *pmod(const lm_plan *p, const char *name)
{
	size_t i;

	assert_non_null(p);
	for (i = 0; i < p->nmodules; i++)
		if (!strcmp(p->modules[i].name, name))
			return &p->modules[i];
	fail_msg("plan has no module %s", name);
	return NULL;
}

/* The plan module `name` is a change of `kind` from template `from` to
 * template `to` (-1: no such side). */
static void assert_change(const lm_plan *p, const char *name,
			  lm_change_kind kind, int from, int to)
{
	const lm_plan_module *m = pmod(p, name);

	assert_int_equal(m->change, kind);
	if (from < 0) {
		assert_null(m->old_side);
	} else {
		assert_non_null(m->old_side);
		assert_string_equal(m->old_side->oid, tpls[from].oid);
		assert_string_equal(m->old_side->desc->name, name);
		assert_string_equal(m->old_side->desc->vsn, tpls[from].vsn);
		/* a plan side carries the whole descriptor */
		assert_false(m->old_side->desc->partial);
		assert_int_equal(m->old_side->desc->nexports, 1);
		assert_string_equal(m->old_side->desc->exports[0].name, "answer");
	}
	if (to < 0) {
		assert_null(m->new_side);
	} else {
		char file[64];

		snprintf(file, sizeof(file), "%s.so", name);
		assert_non_null(m->new_side);
		assert_string_equal(m->new_side->file, file);
		assert_string_equal(m->new_side->oid, tpls[to].oid);
		assert_string_equal(m->new_side->desc->name, name);
		assert_string_equal(m->new_side->desc->vsn, tpls[to].vsn);
		assert_false(m->new_side->desc->partial);
		assert_int_equal(m->new_side->desc->nexports, 1);
	}
}

/* The to-release holds exactly these modules (template ids, any order). */
static void assert_new_set(const lm_modset *s, const int *t, size_t n)
{
	size_t i;

	assert_int_equal(s->n, n);
	for (i = 0; i < n; i++) {
		const lm_modinfo *m = lm_modset_find(s, tpls[t[i]].mod);

		if (!m)
			fail_msg("new set lacks %s", tpls[t[i]].mod);
		assert_string_equal(m->oid, tpls[t[i]].oid);
		assert_string_equal(m->desc->vsn, tpls[t[i]].vsn);
	}
}

/* Sets the mtime (and atime) of lib/<mod>.so `ago` seconds into the past;
 * the ctime becomes now. */
static void set_mtime_ago(const fixture *f, const char *mod, int ago)
{
	char *p = lib_path(f, mod);
	struct timespec now, ts[2];

	clock_gettime(CLOCK_REALTIME, &now);
	ts[0] = ts[1] = now;
	ts[0].tv_sec -= ago;
	ts[1].tv_sec -= ago;
	assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);
	free(p);
}

/* Replaces lib/<mod>.so by a copy of itself: same bytes, new inode. */
static void recopy(const fixture *f, const char *mod)
{
	char *p = lib_path(f, mod), *tmp;
	struct stat before, after;
	size_t n = 0;
	char *buf = tu_read_file(p, &n);

	assert_non_null(buf);
	assert_true(asprintf(&tmp, "%s/%s.tmp", f->lib, mod) > 0);
	assert_int_equal(stat(p, &before), 0);
	tu_write_file(tmp, buf, n);
	assert_int_equal(rename(tmp, p), 0);
	assert_int_equal(stat(p, &after), 0);
	assert_true(before.st_ino != after.st_ino);
	free(buf);
	free(tmp);
	free(p);
}

/* The commit the store's ref `name` points at. */
static void assert_ref(const fixture *f, const char *name, const char *commit)
{
	char *path = lm_path_join(f->state, "store.git");
	git_repository *repo = NULL;
	git_oid oid;

	git_libgit2_init();
	assert_int_equal(git_repository_open_bare(&repo, path), 0);
	if (git_reference_name_to_id(&oid, repo, name) != 0)
		fail_msg("store has no ref %s", name);
	assert_string_equal(git_oid_tostr_s(&oid), commit);
	git_repository_free(repo);
	git_libgit2_shutdown();
	free(path);
}

static int file_exists(const char *path)
{
	return access(path, F_OK) == 0;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0)
		;
}

/* ---- what counts as a change --------------------------------------------- */

static void test_unchanged_no_plan(void **state)
{
	fixture *f = *state;
	static const int all[] = { A1, B1, C1 };

	assert_int_equal(compute(f, NULL), 0);
	assert_null(f->plan);
	/* the to-release is still handed over: the scan's whole set */
	assert_new_set(&f->new_set, all, 3);
	assert_int_equal(f->scan.mods.n, 0);
}

static void test_changed_module(void **state)
{
	fixture *f = *state;
	static const int all[] = { A2, B1, C1 };
	const lm_plan *p;

	install(f, A2);
	assert_int_equal(compute(f, NULL), 0);
	p = f->plan;
	assert_non_null(p);
	assert_int_equal(p->nmodules, 1);
	assert_change(p, "mod_a", LM_CHANGED, A1, A2);
	assert_new_set(&f->new_set, all, 3);
	/* a dry run: from the node's release, not recorded */
	assert_int_equal(p->from_release, 1);
	assert_string_equal(p->from_commit, f->commit1);
	assert_int_equal(p->id, 0);
	assert_int_equal(p->to_release, 0);
	assert_string_equal(p->to_commit, "");
	assert_string_equal(p->app, "testapp");
	assert_string_equal(p->libdir, f->lib);
	assert_non_null(p->created_at);
	/* scripts were built: load_module for mod_a */
	assert_true(p->script.n >= 1);
	assert_int_equal(p->script.v[0].op, LM_OP_LOAD_MODULE);
	assert_string_equal(p->script.v[0].modules[0], "mod_a");
}

static void test_touched_identical_no_plan(void **state)
{
	fixture *f = *state;

	set_mtime_ago(f, "mod_a", 3600);
	set_mtime_ago(f, "mod_b", -3600); /* in the future, too */
	assert_int_equal(compute(f, NULL), 0);
	assert_null(f->plan);
	assert_int_equal(f->new_set.n, 3);
}

static void test_new_inode_same_bytes_no_plan(void **state)
{
	fixture *f = *state;

	recopy(f, "mod_a");
	recopy(f, "mod_c");
	assert_int_equal(compute(f, NULL), 0);
	assert_null(f->plan);
	assert_int_equal(f->new_set.n, 3);
}

static void test_added_module(void **state)
{
	fixture *f = *state;
	static const int all[] = { A1, B1, C1, D1 };

	install(f, D1);
	assert_int_equal(compute(f, NULL), 0);
	assert_non_null(f->plan);
	assert_int_equal(f->plan->nmodules, 1);
	assert_change(f->plan, "mod_d", LM_ADDED, -1, D1);
	assert_new_set(&f->new_set, all, 4);
	assert_int_equal(f->plan->script.v[0].op, LM_OP_ADD_MODULE);
}

static void test_removed_module(void **state)
{
	fixture *f = *state;
	static const int rest[] = { A1, C1 };

	uninstall(f, "mod_b");
	assert_int_equal(compute(f, NULL), 0);
	assert_non_null(f->plan);
	assert_int_equal(f->plan->nmodules, 1);
	assert_change(f->plan, "mod_b", LM_REMOVED, B1, -1);
	assert_new_set(&f->new_set, rest, 2);
	assert_int_equal(f->plan->script.v[0].op, LM_OP_DELETE_MODULE);
}

static void test_all_kinds_at_once(void **state)
{
	fixture *f = *state;
	static const int all[] = { A2, C2, D1 };

	install(f, A2);
	uninstall(f, "mod_b");
	install(f, C2);
	install(f, D1);
	assert_int_equal(compute(f, NULL), 0);
	assert_non_null(f->plan);
	assert_int_equal(f->plan->nmodules, 4);
	assert_change(f->plan, "mod_a", LM_CHANGED, A1, A2);
	assert_change(f->plan, "mod_b", LM_REMOVED, B1, -1);
	assert_change(f->plan, "mod_c", LM_CHANGED, C1, C2);
	assert_change(f->plan, "mod_d", LM_ADDED, -1, D1);
	assert_new_set(&f->new_set, all, 3);
}

/* ---- planning named modules only ------------------------------------------ */

static void test_only_changed(void **state)
{
	fixture *f = *state;
	static const char *const only[] = { "mod_a" };
	static const int to[] = { A2, B1, C1 };
	lm_plan_opts o = { .only = only, .nonly = 1 };

	install(f, A2);
	install(f, B2);
	install(f, D1);
	assert_int_equal(compute(f, &o), 0);
	assert_non_null(f->plan);
	assert_int_equal(f->plan->nmodules, 1);
	assert_change(f->plan, "mod_a", LM_CHANGED, A1, A2);
	/* mod_b stays at its release version, mod_d is not added */
	assert_new_set(&f->new_set, to, 3);
}

static void test_only_added_and_removed(void **state)
{
	fixture *f = *state;
	static const char *const only[] = { "mod_d", "mod_b" };
	static const int to[] = { A1, C1, D1 };
	lm_plan_opts o = { .only = only, .nonly = 2 };

	install(f, A2);
	uninstall(f, "mod_b");
	install(f, C2);
	install(f, D1);
	assert_int_equal(compute(f, &o), 0);
	assert_non_null(f->plan);
	assert_int_equal(f->plan->nmodules, 2);
	assert_change(f->plan, "mod_b", LM_REMOVED, B1, -1);
	assert_change(f->plan, "mod_d", LM_ADDED, -1, D1);
	assert_new_set(&f->new_set, to, 3);
}

static void test_only_unchanged_no_plan(void **state)
{
	fixture *f = *state;
	static const char *const only[] = { "mod_c" };
	lm_plan_opts o = { .only = only, .nonly = 1 };

	install(f, A2);
	install(f, D1);
	assert_int_equal(compute(f, &o), 0);
	assert_null(f->plan);
}

static void test_only_unknown(void **state)
{
	fixture *f = *state;
	static const char *const only[] = { "mod_a", "mod_zz" };
	lm_plan_opts o = { .only = only, .nonly = 2 };

	install(f, A2);
	assert_int_equal(compute(f, &o), LM_ENOTFOUND);
	assert_msg_has("mod_zz");
	assert_null(f->plan);
	assert_int_equal(f->new_set.n, 0);
}

static void test_only_invalid(void **state)
{
	fixture *f = *state;
	static const char *const only[] = { "Mod-A" };
	static const char *const only2[] = { "mod_a", "mod_a.so" };
	lm_plan_opts o = { .only = only, .nonly = 1 };

	install(f, A2);
	assert_int_equal(compute(f, &o), LM_EINVAL);
	assert_msg_has("'Mod-A'");
	assert_null(f->plan);
	assert_int_equal(f->new_set.n, 0);

	o.only = only2;
	o.nonly = 2;
	assert_int_equal(compute(f, &o), LM_EINVAL);
	assert_msg_has("'mod_a.so'");
	assert_null(f->plan);
}

/* ---- purge resolution ------------------------------------------------------ */

static void assert_purge(const lm_plan *p, const char *name, lm_purge_mode m)
{
	const lm_plan_module *pm = pmod(p, name);

	assert_int_equal(pm->pre_purge, m);
	assert_int_equal(pm->post_purge, m);
}

static void test_purge_resolution(void **state)
{
	fixture *f = *state;
	lm_plan_opts o = { 0 };

	install(f, A2); /* default purge */
	install(f, B2); /* soft_purge of its own */

	/* no choice anywhere: brutal; the module's own otherwise */
	assert_int_equal(compute(f, &o), 0);
	assert_int_equal(f->plan->nmodules, 2);
	assert_purge(f->plan, "mod_a", LM_BRUTAL_PURGE);
	assert_purge(f->plan, "mod_b", LM_SOFT_PURGE);

	/* the option wins over the module's own choice, either way */
	o.purge = LM_BRUTAL_PURGE;
	assert_int_equal(compute(f, &o), 0);
	assert_purge(f->plan, "mod_a", LM_BRUTAL_PURGE);
	assert_purge(f->plan, "mod_b", LM_BRUTAL_PURGE);

	o.purge = LM_SOFT_PURGE;
	assert_int_equal(compute(f, &o), 0);
	assert_purge(f->plan, "mod_a", LM_SOFT_PURGE);
	assert_purge(f->plan, "mod_b", LM_SOFT_PURGE);
}

/* A removed module's own choice comes from the release (a partial
 * descriptor read in bulk), and an added one's from its file. */
static void test_purge_removed_and_added(void **state)
{
	fixture *f = *state;

	uninstall(f, "mod_b");
	install(f, D1);
	assert_int_equal(compute(f, NULL), 0);
	assert_int_equal(f->plan->nmodules, 2);
	assert_purge(f->plan, "mod_b", LM_SOFT_PURGE);
	assert_purge(f->plan, "mod_d", LM_BRUTAL_PURGE);
}

/* ---- --extra --------------------------------------------------------------- */

static void test_extra_for_unchanged_module(void **state)
{
	fixture *f = *state;
	static const lm_extra ex[] = { { "mod_c", "from_1" } };
	static const lm_extra ex2[] = { { "mod_a", "x" }, { "mod_zz", "y" } };
	lm_plan_opts o = { .extras = ex, .nextras = 1 };

	install(f, A2);
	assert_int_equal(compute(f, &o), LM_EINVAL);
	assert_msg_has("mod_c");
	assert_null(f->plan);
	assert_int_equal(f->new_set.n, 0);

	/* one good, one naming a module that is nowhere */
	o.extras = ex2;
	o.nextras = 2;
	assert_int_equal(compute(f, &o), LM_EINVAL);
	assert_msg_has("mod_zz");
	assert_null(f->plan);

	/* nothing changes at all: still no plan, and no error */
	install(f, A1);
	o.extras = ex;
	o.nextras = 1;
	assert_int_equal(compute(f, &o), 0);
	assert_null(f->plan);
}

/* A module left out by `only` is not changed by the plan either. */
static void test_extra_for_module_left_out(void **state)
{
	fixture *f = *state;
	static const char *const only[] = { "mod_a" };
	static const lm_extra ex[] = { { "mod_c", "from_1" } };
	lm_plan_opts o = { .only = only, .nonly = 1, .extras = ex,
			   .nextras = 1 };

	install(f, A2);
	install(f, C2);
	assert_int_equal(compute(f, &o), LM_EINVAL);
	assert_msg_has("mod_c");
	assert_null(f->plan);
}

static void test_extra_for_changed_module(void **state)
{
	fixture *f = *state;
	static const lm_extra ex[] = { { "mod_c", "from_1" } };
	lm_plan_opts o = { .extras = ex, .nextras = 1 };
	char *text;

	install(f, A2);
	install(f, C2);
	assert_int_equal(compute(f, &o), 0);
	assert_non_null(f->plan);
	assert_int_equal(f->plan->nmodules, 2);
	assert_string_equal(pmod(f->plan, "mod_c")->extra, "from_1");
	assert_string_equal(pmod(f->plan, "mod_a")->extra, "");
	/* and it reaches the update instruction */
	text = lm_script_format(&f->plan->script, f->plan, -1);
	assert_non_null(text);
	if (!strstr(text, "{update,mod_c,{advanced,\"from_1\"}"))
		fail_msg("script lacks the extra: %s", text);
	free(text);
}

/* ---- recording -------------------------------------------------------------- */

static void test_record(void **state)
{
	fixture *f = *state;
	static const int to[] = { A2, B1, C1 };
	lm_plan_row row = { 0 };
	lm_release_info rel = { 0 };
	lm_node_info node = { 0 };
	lm_modset mods = { 0 };
	lm_plan *loaded = NULL;
	lm_store *store = NULL;
	char *path, *json, *store_path;
	int64_t first_id;
	size_t n = 0;

	install(f, A2);
	assert_int_equal(compute(f, NULL), 0);
	assert_non_null(f->plan);
	assert_int_equal(lm_planning_record(&f->st, f->plan, &f->new_set,
					    &f->scan), 0);
	assert_true(f->plan->id > 0);
	assert_int_equal(f->plan->to_release, 2);
	assert_true(lm_oid_valid(f->plan->to_commit));
	assert_string_not_equal(f->plan->to_commit, f->commit1);
	first_id = f->plan->id;

	/* plans/<id>.json, as recorded in the ledger */
	assert_true(asprintf(&path, "%s/plans/%lld.json", f->state,
			     (long long)f->plan->id) > 0);
	json = tu_read_file(path, &n);
	assert_non_null(json);
	assert_int_equal(lm_plan_load_file(&loaded, path), 0);
	assert_int_equal(loaded->id, f->plan->id);
	assert_int_equal(loaded->from_release, 1);
	assert_int_equal(loaded->to_release, 2);
	assert_string_equal(loaded->to_commit, f->plan->to_commit);
	assert_int_equal(loaded->nmodules, 1);
	assert_change(loaded, "mod_a", LM_CHANGED, A1, A2);
	lm_plan_free(loaded);
	assert_int_equal(lm_ledger_plan_get(f->st.ledger, f->plan->id, &row), 0);
	assert_string_equal(row.status, "planned");
	assert_int_equal(row.from_release, 1);
	assert_int_equal(row.to_release, 2);
	assert_true(strstr(path, row.path) &&
		    !strcmp(strstr(path, row.path), row.path));
	assert_string_equal(row.json, json);
	lm_plan_row_clear(&row);
	free(json);
	free(path);

	/* release 2 in the ledger and the store; the node did not move */
	assert_int_equal(lm_ledger_release_get(f->st.ledger, 2, &rel), 0);
	assert_int_equal(rel.parent, 1);
	assert_string_equal(rel.commit, f->plan->to_commit);
	lm_release_info_clear(&rel);
	assert_int_equal(lm_ledger_release_modules(f->st.ledger, 2, &mods), 0);
	assert_new_set(&mods, to, 3);
	lm_modset_clear(&mods);
	store_path = lm_path_join(f->state, "store.git");
	assert_int_equal(lm_store_open(&store, store_path, 0), 0);
	assert_true(lm_store_has(store, tpls[A2].oid));
	lm_store_free(store);
	free(store_path);
	assert_ref(f, "refs/tags/release-2", f->plan->to_commit);
	assert_ref(f, "refs/heads/main", f->plan->to_commit);
	assert_int_equal(lm_ledger_node_get(f->st.ledger, &node), 0);
	assert_int_equal(node.current_release, 1);
	lm_node_info_clear(&node);

	/* planned again from release 1: the same diff */
	assert_int_equal(compute(f, NULL), 0);
	assert_non_null(f->plan);
	assert_int_equal(f->plan->from_release, 1);
	assert_string_equal(f->plan->from_commit, f->commit1);
	assert_int_equal(f->plan->nmodules, 1);
	assert_change(f->plan, "mod_a", LM_CHANGED, A1, A2);
	assert_new_set(&f->new_set, to, 3);

	/* recording it supersedes the first plan */
	assert_int_equal(lm_planning_record(&f->st, f->plan, &f->new_set,
					    &f->scan), 0);
	assert_true(f->plan->id > first_id);
	assert_int_equal(lm_ledger_plan_get(f->st.ledger, first_id, &row), 0);
	assert_string_equal(row.status, "superseded");
	lm_plan_row_clear(&row);
}

/* A plan made from a release the node has left is refused, and leaves no
 * plan file behind. */
static void test_record_stale(void **state)
{
	fixture *f = *state;
	lm_plan_row row = { 0 };
	char *path;

	install(f, A2);
	assert_int_equal(compute(f, NULL), 0);
	assert_int_equal(lm_planning_record(&f->st, f->plan, &f->new_set,
					    &f->scan), 0);
	assert_int_equal(lm_ledger_node_set_current(f->st.ledger, f->st.node.id,
						    2), 0);
	f->plan->id = 0;
	assert_int_equal(lm_planning_record(&f->st, f->plan, &f->new_set,
					    &f->scan), LM_ESTALE);
	assert_msg_has("plan again");
	assert_int_equal(f->plan->id, 0);
	assert_int_equal(f->plan->to_release, 0);
	assert_string_equal(f->plan->to_commit, "");
	assert_int_equal(lm_ledger_plan_get(f->st.ledger, 2, &row), LM_ENOTFOUND);
	assert_true(asprintf(&path, "%s/plans/2.json", f->state) > 0);
	assert_false(file_exists(path));
	free(path);
}

/* ---- the stat cache ---------------------------------------------------------- */

static void test_stat_cache(void **state)
{
	fixture *f = *state;
	static const char *const mods[] = { "mod_a", "mod_b", "mod_c" };
	size_t i;

	install(f, A2);
	/* older than the racy window: mtimes in the past, and the ctime the
	 * touch set more than a second before the scan */
	for (i = 0; i < 3; i++)
		set_mtime_ago(f, mods[i], 10);
	sleep_ms(1100);
	assert_int_equal(compute(f, NULL), 0);
	assert_int_equal(f->scan.nread, 3); /* nothing cached for these */
	assert_non_null(f->plan);
	assert_int_equal(lm_planning_record(&f->st, f->plan, &f->new_set,
					    &f->scan), 0);

	/* warm: nothing read, the same diff (mod_a's descriptors from the
	 * ledger's record of its new version, the rest from release 1) */
	assert_int_equal(compute(f, NULL), 0);
	assert_int_equal(f->scan.nread, 0);
	assert_non_null(f->plan);
	assert_int_equal(f->plan->nmodules, 1);
	assert_change(f->plan, "mod_a", LM_CHANGED, A1, A2);

	/* a touched file is read again, and is no change */
	set_mtime_ago(f, "mod_b", 20);
	assert_int_equal(compute(f, NULL), 0);
	assert_int_equal(f->scan.nread, 1);
	assert_int_equal(f->plan->nmodules, 1);
	assert_change(f->plan, "mod_a", LM_CHANGED, A1, A2);

	/* so is a copy with a new inode */
	recopy(f, "mod_c");
	assert_int_equal(compute(f, NULL), 0);
	assert_int_equal(f->scan.nread, 2);
	assert_int_equal(f->plan->nmodules, 1);

	/* and a file rewritten with other bytes is seen */
	install(f, C2);
	assert_int_equal(compute(f, NULL), 0);
	assert_int_equal(f->plan->nmodules, 2);
	assert_change(f->plan, "mod_c", LM_CHANGED, C1, C2);
}

/* Recording a plan of named modules caches only the files the release
 * holds: a file left out is read again next time, and still a change. */
static void test_stat_cache_only(void **state)
{
	fixture *f = *state;
	static const char *const mods[] = { "mod_a", "mod_b", "mod_c" };
	static const char *const only[] = { "mod_a" };
	lm_plan_opts o = { .only = only, .nonly = 1 };
	size_t i;

	install(f, A2);
	install(f, C2);
	for (i = 0; i < 3; i++)
		set_mtime_ago(f, mods[i], 10);
	sleep_ms(1100);
	assert_int_equal(compute(f, &o), 0);
	assert_int_equal(f->plan->nmodules, 1);
	assert_int_equal(lm_planning_record(&f->st, f->plan, &f->new_set,
					    &f->scan), 0);

	assert_int_equal(compute(f, NULL), 0);
	assert_int_equal(f->scan.nread, 1); /* mod_c.so, not in release 2 */
	assert_non_null(f->plan);
	assert_int_equal(f->plan->nmodules, 2);
	assert_change(f->plan, "mod_a", LM_CHANGED, A1, A2);
	assert_change(f->plan, "mod_c", LM_CHANGED, C1, C2);
}

/* An entry vouches for its file only when the file last changed before
 * the scan that wrote it began, by the coarse clock the kernel stamps
 * files with: files dated ahead, as if rewritten while the scan ran, are
 * read again by every scan; files changed before a scan began are trusted
 * by the next one at once, after a clock tick and not a second (unless the
 * file system may take its times from another clock). */
static void test_stat_cache_racy(void **state)
{
	fixture *f = *state;
	static const char *const mods[] = { "mod_a", "mod_b", "mod_c" };
	size_t written = 0, i;
	int64_t margin;
	int fd;

	install(f, A2);
	for (i = 0; i < 3; i++)
		set_mtime_ago(f, mods[i], -600);
	assert_int_equal(compute(f, NULL), 0);
	assert_int_equal(f->scan.nread, 3);
	assert_non_null(f->plan);
	assert_int_equal(lm_planning_record(&f->st, f->plan, &f->new_set,
					    &f->scan), 0);
	assert_int_equal(compute(f, NULL), 0);
	assert_int_equal(f->scan.nread, 3);
	assert_int_equal(f->scan.nfresh, 0);

	for (i = 0; i < 3; i++)
		set_mtime_ago(f, mods[i], 10); /* the ctime: now */
	assert_true((fd = open(f->lib, O_RDONLY | O_DIRECTORY)) >= 0);
	margin = lm_scan_clock_margin(fd);
	close(fd);
	/* a tick is at most 10 ms (HZ >= 100) */
	sleep_ms(30 + margin / 1000000);
	assert_int_equal(compute(f, NULL), 0);
	assert_int_equal(f->scan.nread, 3);
	assert_int_equal(f->scan.nfresh, 3);
	assert_int_equal(lm_planning_refresh_stats(&f->st, &f->scan, &written),
			 0);
	assert_int_equal(written, 3);
	assert_int_equal(compute(f, NULL), 0);
	assert_int_equal(f->scan.nread, 0);
	assert_change(f->plan, "mod_a", LM_CHANGED, A1, A2);
}

/* Files recorded within the racy window are read again by every scan
 * until a command refreshes the cache once the window has passed; after
 * that refresh, none is. Entries of objects the ledger does not record
 * are not written back (the cache's foreign key). */
static void test_stat_cache_refresh(void **state)
{
	fixture *f = *state;
	static const char *const mods[] = { "mod_a", "mod_b", "mod_c" };
	lm_state ro;
	size_t written = 99, i;

	install(f, A2); /* recorded below: a known object */
	/* dated 3 s ahead: whatever this machine's speed, every entry
	 * written before then is racy (no test asserts a time) */
	for (i = 0; i < 3; i++)
		set_mtime_ago(f, mods[i], -3);
	assert_int_equal(compute(f, NULL), 0);
	assert_int_equal(f->scan.nread, 3);
	assert_int_equal(f->scan.nfresh, 0); /* still within the window */
	assert_int_equal(lm_planning_refresh_stats(&f->st, &f->scan, &written),
			 0);
	assert_int_equal(written, 0);
	assert_int_equal(lm_planning_record(&f->st, f->plan, &f->new_set,
					    &f->scan), 0);
	install(f, D1); /* never recorded: read every time */
	sleep_ms(4100);
	/* read-only, as update_list opens it */
	assert_int_equal(lm_state_open(&ro, f->state, 1), 0);
	clear_compute(f);
	assert_int_equal(lm_scan_libdir(&f->scan, f->lib, ro.ledger), 0);
	assert_int_equal(f->scan.nread, 4);
	assert_int_equal(f->scan.nfresh, 3);
	assert_int_equal(lm_planning_refresh_stats(&ro, &f->scan, &written), 0);
	assert_int_equal(written, 3);
	clear_compute(f);
	assert_int_equal(lm_scan_libdir(&f->scan, f->lib, ro.ledger), 0);
	assert_int_equal(f->scan.nread, 1); /* mod_d.so only */
	assert_int_equal(f->scan.nfresh, 0);
	/* and the diff is the same as before the refresh */
	assert_int_equal(lm_planning_compute(&f->plan, &f->new_set, &ro,
					     &f->scan, &(lm_plan_opts){ 0 }), 0);
	assert_non_null(f->plan);
	assert_change(f->plan, "mod_a", LM_CHANGED, A1, A2);
	assert_change(f->plan, "mod_d", LM_ADDED, -1, D1);
	clear_compute(f);
	lm_state_close(&ro);
}

/* A refresh never waits for the write lock: another writer holding it
 * makes it LM_EBUSY at once, and the cache stays as it was. (Were it to
 * wait, the busy timeout set here would hold this test for ten minutes;
 * no test asserts a time.) */
static void test_stat_cache_refresh_locked(void **state)
{
	fixture *f = *state;
	static const char *const mods[] = { "mod_a", "mod_b", "mod_c" };
	lm_state ro;
	size_t i;

	setenv("LIVEMOD_LOCK_TIMEOUT_MS", "600000", 1);
	/* changed since init's cache, settled by the time of the scan */
	for (i = 0; i < 3; i++)
		set_mtime_ago(f, mods[i], -2);
	sleep_ms(3100);
	assert_int_equal(lm_state_open(&ro, f->state, 1), 0);
	assert_int_equal(lm_scan_libdir(&f->scan, f->lib, ro.ledger), 0);
	assert_int_equal(f->scan.nfresh, 3);
	assert_int_equal(lm_ledger_begin(f->st.ledger), 0); /* the lock */
	assert_int_equal(lm_planning_refresh_stats(&ro, &f->scan, NULL),
			 LM_EBUSY);
	lm_ledger_rollback(f->st.ledger);
	clear_compute(f);
	assert_int_equal(lm_scan_libdir(&f->scan, f->lib, ro.ledger), 0);
	assert_int_equal(f->scan.nread, 3);
	unsetenv("LIVEMOD_LOCK_TIMEOUT_MS");
	lm_state_close(&ro);
}

/* ---- rollback ------------------------------------------------------------------ */

/* Release 2 = {A2, C2, D1} planned from release 1 = {A1, B1, C1} with
 * Extra "x" for mod_c, recorded and (as far as the ledger knows) applied:
 * the node is on release 2. */
static void on_release_2(fixture *f)
{
	const lm_extra x = { "mod_c", "x" };
	lm_plan_opts o = { 0 };

	install(f, A2);
	install(f, C2);
	install(f, D1);
	uninstall(f, "mod_b");
	o.extras = &x;
	o.nextras = 1;
	assert_int_equal(compute(f, &o), 0);
	assert_int_equal(lm_planning_record(&f->st, f->plan, &f->new_set,
					    &f->scan), 0);
	assert_int_equal(f->plan->to_release, 2);
	assert_int_equal(lm_ledger_plan_set_status(f->st.ledger, f->plan->id,
						   "applied"), 0);
	assert_int_equal(lm_ledger_node_set_current(f->st.ledger,
						    f->st.node.id, 2), 0);
	f->st.node.current_release = 2;
	clear_compute(f);
}

static char *store_of(const fixture *f)
{
	return lm_path_join(f->state, "store.git");
}

/* The first instruction of `s` with op `op` naming `mod`, or NULL. */
static const lm_instr *instr(const lm_script *s, lm_op op, const char *mod)
{
	for (size_t i = 0; i < s->n; i++)
		for (size_t k = 0; k < s->v[i].nmodules; k++)
			if (s->v[i].op == op && !strcmp(s->v[i].modules[k], mod))
				return &s->v[i];
	return NULL;
}

/* Down to the parent: the upgrade's downgrade, turned round. */
static void test_rollback_down(void **state)
{
	fixture *f = *state;
	lm_plan_opts o = { 0 };
	char *store = store_of(f), *json = NULL;
	const lm_instr *in;
	lm_plan *p = NULL, *back = NULL;
	int64_t to = 0;

	on_release_2(f);
	assert_int_equal(lm_rollback_target(&f->st, 0, &to), 0);
	assert_int_equal(to, 1);
	assert_int_equal(lm_rollback_compute(&p, &f->st, store, to, &o), 0);
	assert_non_null(p);
	assert_int_equal(p->direction, LM_DOWN);
	assert_int_equal(p->from_release, 2);
	assert_int_equal(p->to_release, 1);
	assert_string_equal(p->to_commit, f->commit1);
	assert_int_equal(p->nmodules, 4);
	assert_change(p, "mod_a", LM_CHANGED, A2, A1);
	assert_change(p, "mod_b", LM_ADDED, -1, B1);
	assert_change(p, "mod_c", LM_CHANGED, C2, C1);
	assert_change(p, "mod_d", LM_REMOVED, D1, -1);
	/* code_change down, in the version being left, with the way up's
	 * Extra; the way up again in the downgrade */
	assert_string_equal(pmod(p, "mod_c")->extra, "x");
	assert_non_null(instr(&p->script, LM_OP_UPDATE, "mod_c"));
	assert_non_null(instr(&p->script, LM_OP_ADD_MODULE, "mod_b"));
	assert_non_null(instr(&p->script, LM_OP_DELETE_MODULE, "mod_d"));
	assert_non_null(in = instr(&p->low_level, LM_OP_CODE_CHANGE, "mod_c"));
	assert_int_equal(in->mode, LM_DOWN);
	assert_string_equal(in->extras[0], "x");
	assert_non_null(in = instr(&p->down_low_level, LM_OP_CODE_CHANGE,
				   "mod_c"));
	assert_int_equal(in->mode, LM_UP);
	/* the modules in script order */
	for (size_t i = 0; i < p->nmodules; i++)
		assert_string_equal(p->modules[i].name, p->script.v[i].modules[0]);
	/* a valid plan, its file form included */
	assert_int_equal(lm_plan_validate(p, "rollback"), 0);
	assert_int_equal(lm_plan_to_json(&json, p), 0);
	assert_int_equal(lm_plan_from_json(&back, json, strlen(json), "json"), 0);
	assert_int_equal(back->direction, LM_DOWN);
	lm_plan_free(back);
	free(json);

	/* recorded between the two releases: no new release */
	assert_int_equal(lm_planning_record_existing(&f->st, p), 0);
	assert_true(p->id > 0);
	{
		lm_plan_row row = { 0 };
		lm_release_info *v = NULL;
		size_t n = 0;

		assert_int_equal(lm_ledger_plan_get(f->st.ledger, p->id, &row), 0);
		assert_int_equal(row.from_release, 2);
		assert_int_equal(row.to_release, 1);
		assert_string_equal(row.status, "planned");
		lm_plan_row_clear(&row);
		assert_int_equal(lm_ledger_release_list(f->st.ledger, &v, &n), 0);
		assert_int_equal(n, 2);
		for (size_t i = 0; i < n; i++)
			lm_release_info_clear(&v[i]);
		free(v);
	}
	/* stale once the node moved */
	assert_int_equal(lm_ledger_node_set_current(f->st.ledger,
						    f->st.node.id, 1), 0);
	p->id = 0;
	assert_int_equal(lm_planning_record_existing(&f->st, p), LM_ESTALE);
	assert_int_equal(p->id, 0);
	lm_plan_free(p);
	free(store);
}

/* Back up to a later release: an upgrade, with the way up's Extra. */
static void test_rollback_up(void **state)
{
	fixture *f = *state;
	lm_plan_opts o = { 0 };
	char *store = store_of(f);
	const lm_instr *in;
	lm_plan *p = NULL;

	on_release_2(f);
	assert_int_equal(lm_ledger_node_set_current(f->st.ledger,
						    f->st.node.id, 1), 0);
	f->st.node.current_release = 1;
	assert_int_equal(lm_rollback_compute(&p, &f->st, store, 2, &o), 0);
	assert_int_equal(p->direction, LM_UP);
	assert_int_equal(p->from_release, 1);
	assert_int_equal(p->to_release, 2);
	assert_change(p, "mod_c", LM_CHANGED, C1, C2);
	assert_change(p, "mod_b", LM_REMOVED, B1, -1);
	assert_non_null(in = instr(&p->low_level, LM_OP_CODE_CHANGE, "mod_c"));
	assert_int_equal(in->mode, LM_UP);
	assert_string_equal(in->extras[0], "x");
	lm_plan_free(p);
	free(store);
}

static void test_rollback_refusals(void **state)
{
	fixture *f = *state;
	lm_plan_opts o = { 0 };
	char *store = store_of(f), *obj;
	lm_plan *p = (lm_plan *)1;
	int64_t to = 7;

	/* at the first release, nothing earlier */
	assert_int_equal(lm_rollback_target(&f->st, 0, &to), LM_EINVAL);
	assert_int_equal(to, 0);
	assert_msg_has("release 1 is the first release");
	assert_int_equal(lm_rollback_target(&f->st, 1, &to), LM_EINVAL);
	assert_msg_has("already on release 1");
	assert_int_equal(lm_rollback_target(&f->st, 99, &to), LM_ENOTFOUND);
	assert_msg_has("no release 99");
	/* an object of the target gone from the store */
	on_release_2(f);
	assert_true(asprintf(&obj, "%s/objects/%.2s/%s", store, tpls[B1].oid,
			     tpls[B1].oid + 2) > 0);
	assert_int_equal(unlink(obj), 0);
	assert_int_equal(lm_rollback_compute(&p, &f->st, store, 1, &o),
			 LM_EINVAL);
	assert_null(p);
	assert_msg_has("lacks object");
	assert_msg_has("mod_b");
	free(obj);
	free(store);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_unchanged_no_plan),
		T(test_changed_module),
		T(test_touched_identical_no_plan),
		T(test_new_inode_same_bytes_no_plan),
		T(test_added_module),
		T(test_removed_module),
		T(test_all_kinds_at_once),
		T(test_only_changed),
		T(test_only_added_and_removed),
		T(test_only_unchanged_no_plan),
		T(test_only_unknown),
		T(test_only_invalid),
		T(test_purge_resolution),
		T(test_purge_removed_and_added),
		T(test_extra_for_unchanged_module),
		T(test_extra_for_module_left_out),
		T(test_extra_for_changed_module),
		T(test_record),
		T(test_record_stale),
		T(test_stat_cache),
		T(test_stat_cache_only),
		T(test_stat_cache_racy),
		T(test_stat_cache_refresh),
		T(test_stat_cache_refresh_locked),
		T(test_rollback_down),
		T(test_rollback_up),
		T(test_rollback_refusals),
#undef T
	};

	return cmocka_run_group_tests_name("planning", tests, group_setup,
					   group_teardown);
}
