/*
 * test_script.c - dependency order and script building (lib/script.c):
 * order of chains, diamonds, ties and outside deps; cycles named in full;
 * every translation rule on the way up and back, checked through the OTP
 * text; missing and removed dependencies refused by name; the release
 * check `livemod init` makes; ordering only the plan's closure.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "error.h"
#include "script.h"
#include "testutil.h"

/* ---- fixtures --------------------------------------------------------- */

static lm_descriptor *mkdesc(const char *name, const char *vsn, unsigned cb,
			     const char *deps)
{
	lm_descriptor *d = lm_descriptor_new(name, vsn);

	assert_non_null(d);
	d->abi = LM_ABI_VERSION;
	d->callbacks = cb;
	assert_int_equal(lm_descriptor_set_deps_text(d, deps), 0);
	return d;
}

/* A stable fake blob id per (name, vsn): equal versions, equal oids. */
static void fake_oid(char out[LM_OID_HEXSZ + 1], const char *name,
		     const char *vsn)
{
	uint32_t h = 2166136261u;

	for (const char *s = name; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	for (const char *s = vsn; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	for (int i = 0; i < 5; i++)
		snprintf(out + 8 * i, 9, "%08x", h * (uint32_t)(i + 1));
}

/* Adds one module to a set and keeps the set sorted for lm_modset_find. */
static void set_add(lm_modset *s, const char *name, const char *vsn,
		    unsigned cb, const char *deps)
{
	char oid[LM_OID_HEXSZ + 1], file[128];

	fake_oid(oid, name, vsn);
	snprintf(file, sizeof(file), "%s.so", name);
	assert_int_equal(lm_modset_add(s, file, oid, mkdesc(name, vsn, cb, deps)), 0);
	assert_int_equal(lm_modset_sort(s), 0);
}

static lm_plan_side *side_of(const lm_modinfo *mi)
{
	lm_plan_side *sd = calloc(1, sizeof(*sd));

	assert_non_null(sd);
	sd->file = strdup(mi->file);
	memcpy(sd->oid, mi->oid, sizeof(sd->oid));
	sd->desc = lm_descriptor_dup(mi->desc);
	return sd;
}

static void plan_add(lm_plan *p, const lm_modinfo *o, const lm_modinfo *n)
{
	lm_plan_module *m;

	p->modules = realloc(p->modules, (p->nmodules + 1) * sizeof(*m));
	assert_non_null(p->modules);
	m = &p->modules[p->nmodules++];
	memset(m, 0, sizeof(*m));
	m->name = strdup((o ? o : n)->desc->name);
	m->change = !o ? LM_ADDED : !n ? LM_REMOVED : LM_CHANGED;
	m->old_side = o ? side_of(o) : NULL;
	m->new_side = n ? side_of(n) : NULL;
	m->pre_purge = m->post_purge = LM_BRUTAL_PURGE;
	m->extra = strdup("");
}

/* The diff the planner makes, in miniature: by name, changed when the
 * oids differ. Scripts are left for lm_script_build. */
static lm_plan *diff(const lm_modset *old, const lm_modset *new)
{
	lm_plan *p = calloc(1, sizeof(*p));

	assert_non_null(p);
	p->app = strdup("chatd");
	p->from_release = 1;
	fake_oid(p->from_commit, "release", "1");
	for (size_t i = 0; i < old->n; i++) {
		const lm_modinfo *n = lm_modset_find(new, old->v[i].desc->name);

		if (!n || strcmp(n->oid, old->v[i].oid) != 0)
			plan_add(p, &old->v[i], n);
	}
	for (size_t i = 0; i < new->n; i++)
		if (!lm_modset_find(old, new->v[i].desc->name))
			plan_add(p, NULL, &new->v[i]);
	return p;
}

static lm_plan_module *module(lm_plan *p, const char *name)
{
	for (size_t i = 0; i < p->nmodules; i++)
		if (strcmp(p->modules[i].name, name) == 0)
			return &p->modules[i];
	fail_msg("no module %s in the plan", name);
	return NULL;
}

static void assert_script(const lm_script *s, const lm_plan *p,
			  const char *want)
{
	char *text = lm_script_format(s, p, -1);

	assert_non_null(text);
	assert_string_equal(text, want);
	free(text);
}

/* ---- lm_deps_order ---------------------------------------------------- */

/* Orders every module of `s`; returns the names joined by spaces, or the
 * error message. */
static char *order_all(const lm_modset *s, int *rc)
{
	const char **names = calloc(s->n + 1, sizeof(char *)), **out = NULL;
	char *text = calloc(1, 1024);

	for (size_t i = 0; i < s->n; i++)
		names[i] = s->v[i].desc->name;
	*rc = lm_deps_order(&out, names, s->n, s);
	if (*rc)
		strcpy(text, lm_error_last());
	for (size_t i = 0; *rc == 0 && i < s->n; i++) {
		if (i)
			strcat(text, " ");
		strcat(text, out[i]);
	}
	free(out);
	free(names);
	return text;
}

static void expect_order(const lm_modset *s, const char *want)
{
	int rc;
	char *got = order_all(s, &rc);

	assert_int_equal(rc, 0);
	assert_string_equal(got, want);
	free(got);
}

static void expect_cycle(const lm_modset *s, const char *want)
{
	int rc;
	char *got = order_all(s, &rc);

	assert_int_equal(rc, LM_EINVAL);
	assert_string_equal(got, want);
	free(got);
}

static void test_order_chain(void **state)
{
	lm_modset s = {0};

	(void)state;
	set_add(&s, "a_top", "1", 0, "m_mid");
	set_add(&s, "m_mid", "1", 0, "z_base");
	set_add(&s, "z_base", "1", 0, "");
	expect_order(&s, "z_base m_mid a_top");
	lm_modset_clear(&s);
}

static void test_order_diamond(void **state)
{
	lm_modset s = {0};

	(void)state;
	set_add(&s, "top", "1", 0, "right left");
	set_add(&s, "left", "1", 0, "base");
	set_add(&s, "right", "1", 0, "base");
	set_add(&s, "base", "1", 0, "");
	expect_order(&s, "base left right top");
	lm_modset_clear(&s);
}

static void test_order_ties_by_name(void **state)
{
	lm_modset s = {0};

	(void)state;
	set_add(&s, "zeta", "1", 0, "");
	set_add(&s, "alpha", "1", 0, "");
	set_add(&s, "mu", "1", 0, "");
	set_add(&s, "beta", "1", 0, "zeta");
	/* beta waits for zeta, which comes last among the free ones */
	expect_order(&s, "alpha mu zeta beta");
	lm_modset_clear(&s);
}

static void test_order_outside_deps_ignored(void **state)
{
	lm_modset s = {0};
	const char *names[] = {"b", "a"}, **out = NULL;

	(void)state;
	set_add(&s, "a", "1", 0, "libc_shim");
	set_add(&s, "b", "1", 0, "a");
	set_add(&s, "c", "1", 0, "b");
	expect_order(&s, "a b c");
	/* a subset: c is not ordered, a's unknown dep is ignored */
	assert_int_equal(lm_deps_order(&out, names, 2, &s), 0);
	assert_string_equal(out[0], "a");
	assert_string_equal(out[1], "b");
	assert_ptr_equal(out[0], names[1]); /* pointers into `names` */
	free(out);
	lm_modset_clear(&s);
}

static void test_order_empty(void **state)
{
	lm_modset s = {0};
	const char **out = NULL;

	(void)state;
	assert_int_equal(lm_deps_order(&out, NULL, 0, &s), 0);
	free(out);
}

static void test_cycle_of_two(void **state)
{
	lm_modset s = {0};

	(void)state;
	set_add(&s, "mod_b", "1", 0, "mod_a");
	set_add(&s, "mod_a", "1", 0, "mod_b");
	set_add(&s, "mod_c", "1", 0, "");
	expect_cycle(&s, "dependency cycle: mod_a -> mod_b -> mod_a");
	lm_modset_clear(&s);
}

static void test_cycle_of_three(void **state)
{
	lm_modset s = {0};

	(void)state;
	/* a module hanging off the cycle is not part of the message */
	set_add(&s, "a_user", "1", 0, "x");
	set_add(&s, "x", "1", 0, "y");
	set_add(&s, "y", "1", 0, "w");
	set_add(&s, "w", "1", 0, "x");
	expect_cycle(&s, "dependency cycle: w -> x -> y -> w");
	lm_modset_clear(&s);
}

/* ---- lm_script_build -------------------------------------------------- */

/* old: util, msg (no code_change), room (code_change), gone;
 * new: util unchanged, msg and room changed, gone removed, fresh added. */
static void releases(lm_modset *old, lm_modset *new)
{
	set_add(old, "util", "1", 0, "");
	set_add(old, "msg", "1", 0, "util");
	set_add(old, "room", "1", LM_CB_CODE_CHANGE, "util");
	set_add(old, "gone", "1", 0, "util");
	set_add(new, "util", "1", 0, "");
	set_add(new, "msg", "2", 0, "util");
	set_add(new, "room", "2", LM_CB_CODE_CHANGE | LM_CB_INIT, "util");
	set_add(new, "fresh", "1", 0, "msg");
}

static void test_build_up(void **state)
{
	lm_modset old = {0}, new = {0};
	lm_plan *p;

	(void)state;
	releases(&old, &new);
	p = diff(&old, &new);
	assert_int_equal(lm_script_build(p, &old, &new), 0);
	assert_script(&p->script, p,
		      "[{load_module,msg},{add_module,fresh,[msg]},"
		      "{update,room,{advanced,[]},brutal_purge,brutal_purge,[]},"
		      "{delete_module,gone}]");
	assert_script(&p->low_level, p,
		      "[{load_object_code,{chatd,[],[msg,fresh,room]}},"
		      "point_of_no_return,"
		      "{load,{msg,brutal_purge,brutal_purge}},"
		      "{load,{fresh,brutal_purge,brutal_purge}},"
		      "{suspend,[room]},{code_change,up,[{room,[]}]},"
		      "{load,{room,brutal_purge,brutal_purge}},{resume,[room]},"
		      "{remove,{gone,brutal_purge,brutal_purge}},{purge,[gone]}]");
	/* p->modules follow the script */
	assert_string_equal(p->modules[0].name, "msg");
	assert_string_equal(p->modules[1].name, "fresh");
	assert_string_equal(p->modules[2].name, "room");
	assert_string_equal(p->modules[3].name, "gone");
	lm_plan_free(p);
	lm_modset_clear(&old);
	lm_modset_clear(&new);
}

static void test_build_down(void **state)
{
	lm_modset old = {0}, new = {0};
	lm_plan *p;

	(void)state;
	releases(&old, &new);
	p = diff(&old, &new);
	assert_int_equal(lm_script_build(p, &old, &new), 0);
	assert_script(&p->down_script, p,
		      "[{add_module,gone},{load_module,msg},"
		      "{update,room,{advanced,[]},brutal_purge,brutal_purge,[]},"
		      "{delete_module,fresh,[msg]}]");
	assert_script(&p->down_low_level, p,
		      "[{load_object_code,{chatd,[],[gone,msg,room]}},"
		      "point_of_no_return,"
		      "{load,{gone,brutal_purge,brutal_purge}},"
		      "{load,{msg,brutal_purge,brutal_purge}},"
		      "{suspend,[room]},{code_change,down,[{room,[]}]},"
		      "{load,{room,brutal_purge,brutal_purge}},{resume,[room]},"
		      "{remove,{fresh,brutal_purge,brutal_purge}},{purge,[fresh]}]");
	lm_plan_free(p);
	lm_modset_clear(&old);
	lm_modset_clear(&new);
}

/* Purge modes and Extra reach both scripts; the new version decides
 * update vs load_module both ways. */
static void test_build_purges_extra_and_code_change_side(void **state)
{
	lm_modset old = {0}, new = {0};
	lm_plan *p;

	(void)state;
	set_add(&old, "lost_cc", "1", LM_CB_CODE_CHANGE, "");
	set_add(&old, "got_cc", "1", 0, "");
	set_add(&new, "lost_cc", "2", 0, "");
	set_add(&new, "got_cc", "2", LM_CB_CODE_CHANGE, "lost_cc");
	p = diff(&old, &new);
	module(p, "got_cc")->pre_purge = LM_SOFT_PURGE;
	free(module(p, "got_cc")->extra);
	module(p, "got_cc")->extra = strdup("to \"v2\"");
	module(p, "lost_cc")->post_purge = LM_SOFT_PURGE;
	assert_int_equal(lm_script_build(p, &old, &new), 0);
	assert_script(&p->script, p,
		      "[{load_module,lost_cc,brutal_purge,soft_purge,[]},"
		      "{update,got_cc,{advanced,\"to \\\"v2\\\"\"},soft_purge,"
		      "brutal_purge,[lost_cc]}]");
	assert_script(&p->low_level, p,
		      "[{load_object_code,{chatd,[],[lost_cc,got_cc]}},"
		      "point_of_no_return,"
		      "{load,{lost_cc,brutal_purge,soft_purge}},"
		      "{suspend,[got_cc]},"
		      "{code_change,up,[{got_cc,\"to \\\"v2\\\"\"}]},"
		      "{load,{got_cc,soft_purge,brutal_purge}},{resume,[got_cc]}]");
	/* going back: got_cc v1 has no dependency on lost_cc */
	assert_script(&p->down_script, p,
		      "[{update,got_cc,{advanced,\"to \\\"v2\\\"\"},soft_purge,"
		      "brutal_purge,[]},"
		      "{load_module,lost_cc,brutal_purge,soft_purge,[]}]");
	assert_script(&p->down_low_level, p,
		      "[{load_object_code,{chatd,[],[got_cc,lost_cc]}},"
		      "point_of_no_return,{suspend,[got_cc]},"
		      "{code_change,down,[{got_cc,\"to \\\"v2\\\"\"}]},"
		      "{load,{got_cc,soft_purge,brutal_purge}},{resume,[got_cc]},"
		      "{load,{lost_cc,brutal_purge,soft_purge}}]");
	lm_plan_free(p);
	lm_modset_clear(&old);
	lm_modset_clear(&new);
}

/* Deleting: dependents first on the way up, dependencies first when added
 * back; a plan that only deletes has no load_object_code. */
static void test_build_delete_order(void **state)
{
	lm_modset old = {0}, new = {0};
	lm_plan *p;

	(void)state;
	set_add(&old, "base", "1", 0, "");
	set_add(&old, "user", "1", 0, "base");
	set_add(&old, "keep", "1", 0, "");
	set_add(&new, "keep", "1", 0, "");
	p = diff(&old, &new);
	assert_int_equal(lm_script_build(p, &old, &new), 0);
	assert_script(&p->script, p,
		      "[{delete_module,user,[base]},{delete_module,base}]");
	assert_script(&p->low_level, p,
		      "[point_of_no_return,"
		      "{remove,{user,brutal_purge,brutal_purge}},{purge,[user]},"
		      "{remove,{base,brutal_purge,brutal_purge}},{purge,[base]}]");
	assert_script(&p->down_script, p,
		      "[{add_module,base},{add_module,user,[base]}]");
	assert_script(&p->down_low_level, p,
		      "[{load_object_code,{chatd,[],[base,user]}},"
		      "point_of_no_return,"
		      "{load,{base,brutal_purge,brutal_purge}},"
		      "{load,{user,brutal_purge,brutal_purge}}]");
	lm_plan_free(p);
	lm_modset_clear(&old);
	lm_modset_clear(&new);
}

/* Order goes through unchanged modules: c uses b uses a, only a and c
 * change, and a still comes first. */
static void test_build_transitive_order(void **state)
{
	lm_modset old = {0}, new = {0};
	lm_plan *p;

	(void)state;
	set_add(&old, "a_top", "1", 0, "b_mid");
	set_add(&old, "b_mid", "1", 0, "c_base");
	set_add(&old, "c_base", "1", 0, "");
	set_add(&new, "a_top", "2", 0, "b_mid");
	set_add(&new, "b_mid", "1", 0, "c_base");
	set_add(&new, "c_base", "2", 0, "");
	p = diff(&old, &new);
	assert_int_equal(lm_script_build(p, &old, &new), 0);
	assert_script(&p->script, p, "[{load_module,c_base},{load_module,a_top}]");
	lm_plan_free(p);
	lm_modset_clear(&old);
	lm_modset_clear(&new);
}

static void expect_build_error(lm_modset *old, lm_modset *new, const char *want)
{
	lm_plan *p = diff(old, new);

	assert_int_equal(lm_script_build(p, old, new), LM_EINVAL);
	assert_string_equal(lm_error_last(), want);
	lm_plan_free(p);
	lm_modset_clear(old);
	lm_modset_clear(new);
}

static void test_build_missing_dependency(void **state)
{
	lm_modset old = {0}, new = {0};

	(void)state;
	set_add(&new, "mod_a", "1", 0, "mod_x");
	expect_build_error(&old, &new,
			   "mod_a depends on mod_x, which is not installed");
}

static void test_build_depends_on_removed(void **state)
{
	lm_modset old = {0}, new = {0};

	(void)state;
	set_add(&old, "mod_x", "1", 0, "");
	set_add(&old, "mod_a", "1", 0, "mod_x");
	set_add(&new, "mod_a", "1", 0, "mod_x"); /* unchanged, still uses x */
	expect_build_error(&old, &new,
			   "mod_a depends on mod_x, which this plan removes");
}

static void test_build_cycle(void **state)
{
	lm_modset old = {0}, new = {0};

	(void)state;
	set_add(&new, "mod_b", "1", 0, "mod_a");
	set_add(&new, "mod_a", "1", 0, "mod_c");
	set_add(&new, "mod_c", "1", 0, "mod_b");
	expect_build_error(&old, &new,
			   "dependency cycle: mod_a -> mod_c -> mod_b -> mod_a");
}

/* What `livemod init` checks of the release a node starts from. */
static void test_release_check(void **state)
{
	lm_modset s = {0};

	(void)state;
	set_add(&s, "b", "1", 0, "a");
	set_add(&s, "a", "1", 0, "");
	assert_int_equal(lm_release_check(&s), 0);
	set_add(&s, "c", "1", 0, "ghost");
	assert_int_equal(lm_release_check(&s), LM_EINVAL);
	assert_string_equal(lm_error_last(),
			    "c depends on ghost, which is not installed");
	lm_modset_clear(&s);
	set_add(&s, "b", "1", 0, "a");
	set_add(&s, "a", "1", 0, "b");
	assert_int_equal(lm_release_check(&s), LM_EINVAL);
	assert_string_equal(lm_error_last(), "dependency cycle: a -> b -> a");
	lm_modset_clear(&s);
	assert_int_equal(lm_release_check(&s), 0);
}

/* A plan orders its modules and what they depend on, not the release:
 * modules outside that closure (here a cycle the from release could not
 * have, see lm_release_check) are not looked at, and the order is the
 * one the whole release would give. */
static void test_build_orders_plan_closure_only(void **state)
{
	lm_modset old = {0}, new = {0};
	lm_plan *p;

	(void)state;
	set_add(&old, "x_loop", "1", 0, "y_loop");
	set_add(&old, "y_loop", "1", 0, "x_loop");
	set_add(&old, "base", "1", 0, "");
	set_add(&old, "mid", "1", 0, "base");
	set_add(&old, "a_top", "1", 0, "mid");
	set_add(&new, "x_loop", "1", 0, "y_loop");
	set_add(&new, "y_loop", "1", 0, "x_loop");
	set_add(&new, "base", "2", 0, "");
	set_add(&new, "mid", "1", 0, "base");
	set_add(&new, "a_top", "2", 0, "mid");
	p = diff(&old, &new);
	assert_int_equal(lm_script_build(p, &old, &new), 0);
	assert_script(&p->script, p, "[{load_module,base},{load_module,a_top}]");
	lm_plan_free(p);
	lm_modset_clear(&old);
	lm_modset_clear(&new);
}

static void test_build_nothing(void **state)
{
	lm_modset old = {0}, new = {0};
	lm_plan *p;

	(void)state;
	set_add(&old, "same", "1", 0, "");
	set_add(&new, "same", "1", 0, "");
	p = diff(&old, &new);
	assert_int_equal(lm_script_build(p, &old, &new), 0);
	assert_script(&p->script, p, "[]");
	assert_script(&p->low_level, p, "[]");
	assert_script(&p->down_low_level, p, "[]");
	lm_plan_free(p);
	lm_modset_clear(&old);
	lm_modset_clear(&new);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order_chain),
		cmocka_unit_test(test_order_diamond),
		cmocka_unit_test(test_order_ties_by_name),
		cmocka_unit_test(test_order_outside_deps_ignored),
		cmocka_unit_test(test_order_empty),
		cmocka_unit_test(test_cycle_of_two),
		cmocka_unit_test(test_cycle_of_three),
		cmocka_unit_test(test_build_up),
		cmocka_unit_test(test_build_down),
		cmocka_unit_test(test_build_purges_extra_and_code_change_side),
		cmocka_unit_test(test_build_delete_order),
		cmocka_unit_test(test_build_transitive_order),
		cmocka_unit_test(test_build_missing_dependency),
		cmocka_unit_test(test_build_depends_on_removed),
		cmocka_unit_test(test_build_cycle),
		cmocka_unit_test(test_release_check),
		cmocka_unit_test(test_build_orders_plan_closure_only),
		cmocka_unit_test(test_build_nothing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
