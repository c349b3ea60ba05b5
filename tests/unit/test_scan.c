/*
 * test_scan.c - reading a libdir (lib/scan.c) with real modules compiled
 * here: what is taken (*.so regular files, sorted by module name, with
 * git's blob ids), what is skipped with a warning (an ELF object without
 * a livemod descriptor) or ignored (other names, directories), what fails
 * the scan naming its cause (a missing libdir, a file others can write,
 * a dangling link, something not ELF, a bad descriptor), and the stat
 * cache: a file the ledger's cache vouches for is not read, a changed one
 * is. The two-step scan (lm_scan_start, _finish or _clear) gives what the
 * one-step scan gives. A refused scan leaves the ledger as it was. When
 * an entry is racy, by the granularity its stamps show and the margin of
 * its file system's clock.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ledger.h"
#include "scan.h"
#include "statefix.h"
#include "store.h"

typedef struct fixture {
	sf_dirs d;
	lm_scan scan;
} fixture;

static char *tpl; /* the modules, compiled once */

static int group_setup(void **state)
{
	(void)state;
	tpl = tu_tmpdir();
	/* mod_b's file sorts before mod_a's: the scan sorts by module */
	sf_module(tpl, "mod_a", "1.0.0", "");
	sf_module(tpl, "mod_b", "1.0.0", "#define MOD_DEPS \"mod_a\"\n");
	return tu_sh("mv '%s/mod_b.so' '%s/a_mod_b.so'", tpl, tpl);
}

static int group_teardown(void **state)
{
	(void)state;
	tu_rm_rf(tpl);
	free(tpl);
	return 0;
}

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	sf_dirs_make(&f->d);
	assert_int_equal(tu_sh("cp '%s'/*.so '%s'", tpl, f->d.lib), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;

	lm_scan_clear(&f->scan);
	sf_dirs_free(&f->d);
	free(f);
	return 0;
}

/* `cmd` run in the libdir. */
static void in_lib(const fixture *f, const char *cmd)
{
	assert_int_equal(tu_sh("cd '%s' && %s", f->d.lib, cmd), 0);
}

static void test_scan_libdir(void **state)
{
	fixture *f = *state;
	char oid[LM_OID_HEXSZ + 1], *p;

	/* not modules: other names, a directory named like one */
	in_lib(f, "echo x > README && echo x > mod_c.so.1 && mkdir dir.so");
	assert_int_equal(lm_scan_libdir(&f->scan, f->d.lib, NULL), 0);
	assert_int_equal(f->scan.mods.n, 2);
	assert_string_equal(f->scan.mods.v[0].desc->name, "mod_a");
	assert_string_equal(f->scan.mods.v[0].file, "mod_a.so");
	assert_string_equal(f->scan.mods.v[1].desc->name, "mod_b");
	assert_string_equal(f->scan.mods.v[1].file, "a_mod_b.so");
	assert_int_equal(f->scan.mods.v[1].desc->ndeps, 1);
	p = lm_path_join(f->d.lib, "mod_a.so");
	assert_int_equal(lm_store_hash_file(oid, p), 0);
	assert_string_equal(f->scan.mods.v[0].oid, oid);
	assert_int_equal(tu_sh("test \"$(git hash-object '%s')\" = %s", p,
			       oid), 0);
	/* without a ledger: no base, everything read, nothing to cache */
	assert_int_equal(f->scan.base_release, 0);
	assert_int_equal(f->scan.base.n, 0);
	assert_int_equal(f->scan.nread, 2);
	assert_int_equal(f->scan.nstats, 2);
	assert_int_equal(f->scan.nfresh, 0);
	assert_int_equal(f->scan.nwarnings, 0);
	free(p);
}

/* An ELF object without a descriptor is skipped, with a warning. */
static void test_no_descriptor_skipped(void **state)
{
	fixture *f = *state;

	assert_int_equal(tu_sh("${CC:-cc} -shared -fPIC -o '%s/helper.so' "
			       "'%s/tests/modules/plain.c'", f->d.lib,
			       LM_SRCDIR), 0);
	assert_int_equal(lm_scan_libdir(&f->scan, f->d.lib, NULL), 0);
	assert_int_equal(f->scan.mods.n, 2);
	assert_int_equal(f->scan.nwarnings, 1);
	assert_non_null(strstr(f->scan.warnings[0], "helper.so"));
	assert_non_null(strstr(f->scan.warnings[0], "; skipped"));
}

/* Each refusal: its code, the path it names, and no scan result. */
static void refused(fixture *f, int code, const char *part)
{
	lm_scan_clear(&f->scan);
	assert_int_equal(lm_scan_libdir(&f->scan, f->d.lib, NULL), code);
	sf_msg_has(part);
	lm_scan_clear(&f->scan);
}

static void test_refusals(void **state)
{
	fixture *f = *state;
	char *lib = f->d.lib, *missing = lm_path_join(f->d.tmp, "nolib");

	/* a missing libdir, named */
	f->d.lib = missing;
	refused(f, LM_EINVAL, "libdir");
	sf_msg_has("nolib: No such file or directory");
	f->d.lib = lib;
	/* a file others (or its group) can write */
	in_lib(f, "chmod 666 mod_a.so");
	refused(f, LM_EINVAL, "mod_a.so is writable by others (mode 0666)");
	in_lib(f, "chmod 664 mod_a.so");
	refused(f, LM_EINVAL, "mod_a.so is writable by its group");
	in_lib(f, "chmod 644 mod_a.so");
	/* a link to nothing */
	in_lib(f, "ln -s nowhere.so gone.so");
	refused(f, LM_EINVAL, "gone.so: No such file or directory");
	in_lib(f, "rm gone.so");
	/* not an ELF object; a truncated one */
	in_lib(f, "echo 'not elf' > text.so && chmod 644 text.so");
	refused(f, LM_ENOTELF, "text.so");
	in_lib(f, "head -c 200 mod_a.so > cut.so && rm text.so");
	refused(f, LM_EINVAL, "cut.so");
	in_lib(f, "rm cut.so");
	/* a descriptor with a bad name */
	assert_int_equal(tu_sh("${CC:-cc} -std=c11 -shared -fPIC "
			       "-fno-gnu-unique -I'%s/include' "
			       "-DRAW_NAME='\"Bad-Name\"' -DRAW_VSN='\"1.0.0\"' "
			       "-DRAW_ABI=1 -o '%s/bad.so' "
			       "'%s/tests/modules/raw.c'", LM_SRCDIR, lib,
			       LM_SRCDIR), 0);
	refused(f, LM_EINVAL, "bad.so");
	in_lib(f, "rm bad.so");
	/* and with the cause gone, the scan passes */
	assert_int_equal(lm_scan_libdir(&f->scan, f->d.lib, NULL), 0);
	assert_int_equal(f->scan.mods.n, 2);
	free(missing);
}

/* The two-step scan finds what the one-step scan finds; a started scan
 * may be cleared unfinished. */
static void test_start_finish(void **state)
{
	fixture *f = *state;
	lm_scan two;

	assert_int_equal(lm_scan_libdir(&f->scan, f->d.lib, NULL), 0);
	assert_int_equal(lm_scan_start(&two, f->d.lib), 0);
	assert_int_equal(lm_scan_finish(&two, NULL), 0);
	assert_int_equal(two.mods.n, f->scan.mods.n);
	for (size_t i = 0; i < two.mods.n; i++) {
		assert_string_equal(two.mods.v[i].file, f->scan.mods.v[i].file);
		assert_string_equal(two.mods.v[i].oid, f->scan.mods.v[i].oid);
	}
	lm_scan_clear(&two);
	assert_int_equal(lm_scan_start(&two, f->d.lib), 0);
	lm_scan_clear(&two);
	/* the refusal comes from finish */
	in_lib(f, "chmod 666 mod_a.so");
	assert_int_equal(lm_scan_start(&two, f->d.lib), 0);
	assert_int_equal(lm_scan_finish(&two, NULL), LM_EINVAL);
	sf_msg_has("writable by others");
	lm_scan_clear(&two);
}

/* With the node's ledger: the base release, and the stat cache. The
 * cache's entries are dated 10 s on (as if written well after the files
 * changed) instead of waiting out the racy window. */
static void test_stat_cache(void **state)
{
	fixture *f = *state;
	lm_state st;
	char *before;

	sf_init(&f->d);
	assert_int_equal(tu_sh("sqlite3 '%s/ledger.db' 'UPDATE stat_cache SET "
			       "cached_at_ns = cached_at_ns + 10000000000'",
			       f->d.state), 0);
	assert_int_equal(lm_state_open(&st, f->d.state, 1), 0);
	assert_int_equal(lm_scan_libdir(&f->scan, f->d.lib, st.ledger), 0);
	assert_int_equal(f->scan.base_release, 1);
	assert_int_equal(f->scan.base.n, 2);
	assert_int_equal(f->scan.mods.n, 2);
	assert_int_equal(f->scan.nread, 0);
	lm_scan_clear(&f->scan);
	/* a file rewritten (another inode, other bytes) is read again */
	sf_module(f->d.lib, "mod_a", "1.1.0", "");
	assert_int_equal(lm_scan_libdir(&f->scan, f->d.lib, st.ledger), 0);
	assert_int_equal(f->scan.nread, 1);
	assert_string_equal(f->scan.mods.v[0].desc->vsn, "1.1.0");
	/* the base is still the ledger's release 1 */
	assert_string_equal(lm_modset_find(&f->scan.base, "mod_a")->desc->vsn,
			    "1.0.0");
	lm_scan_clear(&f->scan);
	/* a refused scan with a ledger changes nothing in it */
	before = sf_snapshot(&f->d);
	in_lib(f, "echo junk > junk.so");
	assert_int_equal(lm_scan_libdir(&f->scan, f->d.lib, st.ledger),
			 LM_ENOTELF);
	sf_msg_has("junk.so");
	sf_unchanged(&f->d, before);
	lm_state_close(&st);
}

#define SEC 1000000000LL

/* Racy until the clock read before the stat has passed the change by one
 * granule: a nanosecond where the stamps have nanoseconds, 10 ms where
 * they are whole hundredths (exFAT), 2 s where they are whole seconds;
 * and by the margin on top where another clock may stamp the files. */
static void test_racy(void **state)
{
	lm_stat_entry e = { .mtime_ns = 100 * SEC + 123456789,
			    .ctime_ns = 100 * SEC + 123456790 };

	(void)state;
	e.cached_at_ns = e.ctime_ns;
	assert_true(lm_scan_racy(&e, 0));
	e.cached_at_ns = e.ctime_ns + 1;
	assert_false(lm_scan_racy(&e, 0));
	assert_true(lm_scan_racy(&e, SEC));
	e.cached_at_ns = e.ctime_ns + 1 + SEC;
	assert_false(lm_scan_racy(&e, SEC));

	e.mtime_ns = 100 * SEC + 120000000;
	e.ctime_ns = 100 * SEC + 130000000;
	e.cached_at_ns = e.ctime_ns + 10000000 - 1;
	assert_true(lm_scan_racy(&e, 0));
	e.cached_at_ns = e.ctime_ns + 10000000;
	assert_false(lm_scan_racy(&e, 0));

	e.mtime_ns = e.ctime_ns = 100 * SEC;
	e.cached_at_ns = 102 * SEC - 1;
	assert_true(lm_scan_racy(&e, 0));
	e.cached_at_ns = 102 * SEC;
	assert_false(lm_scan_racy(&e, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_scan_libdir),
		T(test_no_descriptor_skipped),
		T(test_refusals),
		T(test_start_finish),
		T(test_stat_cache),
		cmocka_unit_test(test_racy),
#undef T
	};

	return cmocka_run_group_tests_name("scan", tests, group_setup,
					   group_teardown);
}
