/*
 * test_imports.c - the host's declared imports (lib/imports.c): adding
 * them, the signature normaliser, and the checks of a descriptor, a
 * release and a plan against them, each refusal naming the module, its
 * version and the export.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "descriptor.h"
#include "error.h"
#include "imports.h"
#include "modset.h"
#include "plan.h"
#include "testutil.h"

#define OID_A "1111111111111111111111111111111111111111"

/* mod_x at `vsn` exporting `exports` ("name\tsignature" lines). */
static lm_descriptor *desc(const char *name, const char *vsn,
			   const char *exports)
{
	lm_descriptor *d = lm_descriptor_new(name, vsn);

	assert_non_null(d);
	assert_int_equal(lm_descriptor_set_exports_text(d, exports), 0);
	return d;
}

static void has(const char *needle)
{
	if (!strstr(lm_error_last(), needle))
		fail_msg("'%s' not in '%s'", needle, lm_error_last());
}

static void test_normalise(void **state)
{
	char *s = lm_sig_normalize("  int  ( lm_task*,const char * , size_t ) ");

	(void)state;
	assert_string_equal(s, "int(lm_task*,const char*,size_t)");
	free(s);
	s = lm_sig_normalize("unsigned long long (void)");
	assert_string_equal(s, "unsigned long long(void)");
	free(s);
}

/* What LM_DECLARE records is the text after expansion, spelt as the
 * declaration's author spaced it; the old LM_EXPORT text may be spaced
 * otherwise: the comparison is by tokens. */
static void test_sig_equal(void **state)
{
	static const struct {
		const char *a, *b;
		bool equal;
	} cases[] = {
		{ "int (const char*const*, size_t)",
		  "int(const char *const *,size_t)", true },
		{ "int (lm_task *, int, const char *const *, const size_t *)",
		  "int(lm_task*,int,const char*const*,const size_t*)", true },
		{ " \tint ( void ) ", "int(void)", true },
		{ "", "", true },
		{ "unsigned (void)", "unsigned int (void)", false },
		{ "unsigned long(void)", "unsignedlong(void)", false },
		{ "int (char *)", "int (char **)", false },
		{ "int (void)", "int (void", false },
		{ "int (void)", "", false },
		{ "long (void)", "int (void)", false },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *na = lm_sig_normalize(cases[i].a);
		char *nb = lm_sig_normalize(cases[i].b);

		if (lm_sig_equal(cases[i].a, cases[i].b) != cases[i].equal ||
		    lm_sig_equal(cases[i].b, cases[i].a) != cases[i].equal)
			fail_msg("lm_sig_equal('%s', '%s') is not %d",
				 cases[i].a, cases[i].b, cases[i].equal);
		/* the same verdict as comparing the normal forms */
		assert_int_equal(strcmp(na, nb) == 0, cases[i].equal);
		free(na);
		free(nb);
	}
}

static void test_add(void **state)
{
	lm_imports im = { 0 };

	(void)state;
	assert_int_equal(lm_imports_add(&im, "mod_x", "f", "int (void)"), 0);
	/* the same again, spelt otherwise: one import */
	assert_int_equal(lm_imports_add(&im, "mod_x", "f", "int(void)"), 0);
	assert_int_equal(im.n, 1);
	assert_int_equal(lm_imports_add(&im, "mod_x", "f", "long (void)"),
			 LM_EINVAL);
	has("import mod_x.f declared twice, as 'int(void)' and as 'long(void)'");
	assert_int_equal(lm_imports_add(&im, "mod_x", "", "int (void)"),
			 LM_EINVAL);
	assert_int_equal(lm_imports_add(&im, NULL, "g", "int (void)"),
			 LM_EINVAL);
	has("module, name and signature are required");
	assert_int_equal(im.n, 1);
	lm_imports_clear(&im);
	assert_int_equal(im.n, 0);
}

static void test_check_desc(void **state)
{
	lm_imports im = { 0 };
	lm_descriptor *ok = desc("mod_x", "1.0.0", "f\tint (void)\ng\tvoid (int)\n");
	lm_descriptor *other = desc("mod_x", "2.0.0", "f\tlong (void)\n");
	lm_descriptor *lacks = desc("mod_x", "3.0.0", "g\tvoid (int)\n");
	lm_descriptor *unrelated = desc("mod_y", "1.0.0", "");

	(void)state;
	assert_int_equal(lm_imports_add(&im, "mod_x", "f", "int(void)"), 0);
	assert_int_equal(lm_imports_check_desc(&im, ok), 0);
	assert_int_equal(lm_imports_check_desc(&im, unrelated), 0);
	assert_int_equal(lm_imports_check_desc(&im, other), LM_ECHECK);
	has("module mod_x 2.0.0: export f has signature 'long (void)', the host declared 'int(void)'");
	assert_int_equal(lm_imports_check_desc(&im, lacks), LM_ECHECK);
	has("module mod_x 3.0.0 lacks export f, which the host declared it uses");
	lm_imports_clear(&im);
	lm_descriptor_free(ok);
	lm_descriptor_free(other);
	lm_descriptor_free(lacks);
	lm_descriptor_free(unrelated);
}

static void test_check_set(void **state)
{
	lm_imports im = { 0 };
	lm_modset set = { 0 };

	(void)state;
	assert_int_equal(lm_imports_add(&im, "mod_x", "f", "int(void)"), 0);
	assert_int_equal(lm_modset_add(&set, "y.so", OID_A,
				       desc("mod_y", "1.0.0", "")), 0);
	assert_int_equal(lm_imports_check_set(&im, &set), LM_ECHECK);
	has("module mod_x, which the host declared it uses (export f), is not in the release");
	assert_int_equal(lm_modset_add(&set, "x.so", OID_A,
				       desc("mod_x", "1.0.0", "f\tint (void)\n")), 0);
	assert_int_equal(lm_imports_check_set(&im, &set), 0);
	lm_modset_clear(&set);
	lm_imports_clear(&im);
}

static void test_check_plan(void **state)
{
	lm_imports im = { 0 };
	lm_plan_side old = { 0 }, neu = { 0 };
	lm_plan_module m = { 0 };
	lm_plan p = { 0 };

	(void)state;
	assert_int_equal(lm_imports_add(&im, "mod_x", "f", "int(void)"), 0);
	old.desc = desc("mod_x", "1.0.0", "f\tint (void)\n");
	neu.desc = desc("mod_x", "1.1.0", "f\tint (long)\n");
	m.name = "mod_x";
	m.change = LM_CHANGED;
	m.old_side = &old;
	m.new_side = &neu;
	p.modules = &m;
	p.nmodules = 1;
	assert_int_equal(lm_imports_check_plan(&im, &p), LM_ECHECK);
	has("module mod_x 1.1.0: export f has signature 'int (long)'");
	m.change = LM_REMOVED;
	m.new_side = NULL;
	assert_int_equal(lm_imports_check_plan(&im, &p), LM_ECHECK);
	has("remove: module mod_x: the host declared it uses its export f");
	/* a module nobody declared from may go */
	m.name = "mod_y";
	assert_int_equal(lm_imports_check_plan(&im, &p), 0);
	lm_descriptor_free(old.desc);
	lm_descriptor_free(neu.desc);
	lm_imports_clear(&im);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_normalise),
		cmocka_unit_test(test_sig_equal),
		cmocka_unit_test(test_add),
		cmocka_unit_test(test_check_desc),
		cmocka_unit_test(test_check_set),
		cmocka_unit_test(test_check_plan),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
