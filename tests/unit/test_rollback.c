/*
 * test_rollback.c - planning the way back (lib/rollback.c) on a real
 * state dir of three releases (mod_a 1.0.0 -> 1.1.0 -> 1.2.0, applied):
 * which release a rollback goes to and what it refuses (the first
 * release, the release the node is on, an unknown one), the plan down to
 * an ancestor and up to a later release, a target whose object left the
 * store, and the offline rollback that sets what the next start boots,
 * with its refusals (unknown, already the boot release, the ledger held
 * by another writer). Every refusal changes nothing, and computing a
 * plan writes nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ledger.h"
#include "rollback.h"
#include "statefix.h"
#include "store.h"

#define tpl (*sf_group_tpl()) /* mod_a 1.0.0, 1.1.0, 1.2.0 */

typedef struct fixture {
	sf_dirs d;
	lm_state st;
	lm_plan *p;
} fixture;

static void reopen(fixture *f)
{
	lm_state_close(&f->st);
	assert_int_equal(lm_state_open(&f->st, f->d.state, 0), 0);
}

/* Releases 1, 2, 3, the node on 3 (permanent: 1, as init left it). */
static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	sf_three_releases(&f->d, &tpl);
	assert_int_equal(lm_state_open(&f->st, f->d.state, 0), 0);
	assert_int_equal(f->st.node.current_release, 3);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;

	lm_plan_free(f->p);
	lm_state_close(&f->st);
	sf_dirs_free(&f->d);
	free(f);
	return 0;
}

static void test_target(void **state)
{
	fixture *f = *state;
	int64_t to = 7;

	assert_int_equal(lm_rollback_target(&f->st, 0, &to), 0);
	assert_int_equal(to, 2); /* the current release's parent */
	assert_int_equal(lm_rollback_target(&f->st, 1, &to), 0);
	assert_int_equal(to, 1);
	assert_int_equal(lm_rollback_target(&f->st, 3, &to), LM_EINVAL);
	assert_int_equal(to, 0);
	sf_msg_has("already on release 3");
	assert_int_equal(lm_rollback_target(&f->st, 99, &to), LM_ENOTFOUND);
	sf_msg_has("no release 99");
	/* on the first release, no default target */
	f->st.node.current_release = 1;
	assert_int_equal(lm_rollback_target(&f->st, 0, &to), LM_EINVAL);
	sf_msg_has("release 1 is the first release");
}

/* Down two releases to an ancestor: one plan, direction down, to the
 * objects of release 1; computing it writes nothing. */
static void test_compute_down(void **state)
{
	fixture *f = *state;
	lm_plan_opts o = { 0 };
	char *before = sf_snapshot(&f->d);

	assert_int_equal(lm_rollback_compute(&f->p, &f->st, f->d.store, 1, &o),
			 0);
	assert_non_null(f->p);
	assert_int_equal(f->p->from_release, 3);
	assert_int_equal(f->p->nmodules, 1);
	assert_string_equal(f->p->modules[0].new_side->oid, tpl.oids[0]);
	assert_string_equal(f->p->modules[0].old_side->oid, tpl.oids[2]);
	assert_int_equal(lm_plan_validate(f->p, "rollback"), 0);
	sf_unchanged(&f->d, before);
}

/* Up from release 1 (the node moved back) to release 3, a descendant. */
static void test_compute_up(void **state)
{
	fixture *f = *state;
	lm_plan_opts o = { 0 };

	assert_int_equal(lm_ledger_node_set_current(f->st.ledger, f->st.node.id,
						    1), 0);
	reopen(f);
	assert_int_equal(lm_rollback_compute(&f->p, &f->st, f->d.store, 3, &o),
			 0);
	assert_int_equal(f->p->from_release, 1);
	assert_int_equal(f->p->to_release, 3);
	assert_string_equal(f->p->modules[0].new_side->oid, tpl.oids[2]);
}

/* The target's object gone from the store, or no store at all: refused,
 * naming it; no plan. */
static void test_compute_refusals(void **state)
{
	fixture *f = *state;
	lm_plan_opts o = { 0 };
	char *obj, *none = lm_path_join(f->d.tmp, "nostore.git");

	assert_true(asprintf(&obj, "%s/objects/%.2s/%s", f->d.store, tpl.oids[0],
			     tpl.oids[0] + 2) > 0);
	assert_int_equal(tu_sh("rm -f '%s'", obj), 0);
	assert_int_equal(lm_rollback_compute(&f->p, &f->st, f->d.store, 1, &o),
			 LM_EINVAL);
	assert_null(f->p);
	sf_msg_has("lacks object");
	sf_msg_has(tpl.oids[0]);
	sf_msg_has("mod_a 1.0.0");
	assert_int_equal(lm_rollback_compute(&f->p, &f->st, none, 2, &o),
			 LM_ENOTFOUND);
	assert_null(f->p);
	free(obj);
	free(none);
}

/* With the node down: the next start boots release 2; current and
 * permanent both move, in one write. */
static void test_set_boot(void **state)
{
	fixture *f = *state;
	int64_t was = 0;

	assert_int_equal(lm_rollback_set_boot(&f->st, 2, &was), 0);
	assert_int_equal(was, 1); /* the permanent release */
	reopen(f);
	assert_int_equal(f->st.node.current_release, 2);
	assert_int_equal(f->st.node.permanent_release, 2);
}

static void test_set_boot_refusals(void **state)
{
	fixture *f = *state;
	char *before;
	lm_ledger *other;
	int64_t was;

	assert_int_equal(lm_rollback_set_boot(&f->st, 2, &was), 0);
	before = sf_snapshot(&f->d);
	assert_int_equal(lm_rollback_set_boot(&f->st, 2, &was), LM_EINVAL);
	sf_msg_has("release 2 is already the release the node boots");
	assert_int_equal(lm_rollback_set_boot(&f->st, 99, &was), LM_ENOTFOUND);
	sf_msg_has("no release 99");
	other = sf_writer(&f->d);
	reopen(f); /* to wait 50 ms for the lock, not 5 s */
	assert_int_equal(lm_rollback_set_boot(&f->st, 1, &was), LM_EBUSY);
	sf_writer_end(other);
	sf_unchanged(&f->d, before);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_target),
		T(test_compute_down),
		T(test_compute_up),
		T(test_compute_refusals),
		T(test_set_boot),
		T(test_set_boot_refusals),
#undef T
	};

	return cmocka_run_group_tests_name("rollback", tests, sf_group_setup,
					   sf_group_teardown);
}
