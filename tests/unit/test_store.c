/*
 * test_store.c - the content store (lib/store.c), a bare git repository
 * opened with libgit2, checked against the git command line: opening and
 * creating (and refusing what is not a store), the modes it is created
 * with under an open umask, blob ids as git computes them, writing and
 * reading objects (a missing, altered or damaged object refused), release
 * trees, commits and tags, and the trees it refuses as release trees.
 * Every refusal is shown to write nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/stat.h>
#include <sys/types.h>

#include "descriptor.h"
#include "error.h"
#include "fsutil.h"
#include "store.h"
#include "testutil.h"

/* git hash-object of "hello\n" and of nothing */
#define OID_HELLO "ce013625030ba8dba906f756967f9e9ca394464a"
#define OID_EMPTY "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"
#define OID_NONE "1234567890123456789012345678901234567890"

typedef struct fixture {
	char *dir;
	char *path;   /* <dir>/store.git, not made yet */
	lm_store *s;
} fixture;

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->dir = tu_tmpdir();
	f->path = lm_path_join(f->dir, "store.git");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;

	lm_store_free(f->s);
	tu_rm_rf(f->dir);
	free(f->dir);
	free(f->path);
	free(f);
	return 0;
}

static void assert_msg_has(const char *part)
{
	if (!strstr(lm_error_last(), part))
		fail_msg("error '%s' lacks '%s'", lm_error_last(), part);
}

/* The store, made. */
static lm_store *made(fixture *f)
{
	assert_int_equal(lm_store_open(&f->s, f->path, 1), 0);
	assert_non_null(f->s);
	return f->s;
}

/* <dir>/<name> holding `text`; its path (caller frees). */
static char *file_with(const fixture *f, const char *name, const char *text)
{
	char *p = lm_path_join(f->dir, name);

	tu_write_file(p, text, strlen(text));
	return p;
}

/* The object files of the store and its refs, as text (caller frees). */
static char *listing(const fixture *f)
{
	char *out = lm_path_join(f->dir, ".list"), *text;

	assert_int_equal(tu_sh("{ git --git-dir='%s' for-each-ref; cd '%s' && "
			       "find objects refs -type f | sort; } > '%s' 2>&1",
			       f->path, f->path, out), 0);
	text = tu_read_file(out, NULL);
	unlink(out);
	free(out);
	return text;
}

/* The path of loose object `oid` (caller frees). */
static char *loose(const fixture *f, const char *oid)
{
	char *p;

	assert_true(asprintf(&p, "%s/objects/%.2s/%s", f->path, oid,
			     oid + 2) > 0);
	return p;
}

static void test_open_missing(void **state)
{
	fixture *f = *state;
	lm_store *s = (lm_store *)1;

	assert_int_equal(lm_store_open(&s, f->path, 0), LM_ENOTFOUND);
	assert_null(s);
	assert_msg_has("no store here");
	assert_int_equal(access(f->path, F_OK), -1);
}

/* A directory that is not a git repository is refused, and left alone. */
static void test_open_not_a_store(void **state)
{
	fixture *f = *state;
	lm_store *s = (lm_store *)1;
	char *junk;

	assert_int_equal(mkdir(f->path, 0700), 0);
	junk = lm_path_join(f->path, "junk");
	tu_write_file(junk, "x", 1);
	assert_int_equal(lm_store_open(&s, f->path, 0), LM_ERROR);
	assert_null(s);
	assert_msg_has("cannot open store");
	/* not even with create: an existing path is opened, never made */
	assert_int_equal(lm_store_open(&s, f->path, 1), LM_ERROR);
	assert_null(s);
	assert_int_equal(tu_sh("test \"$(ls -A '%s')\" = junk", f->path), 0);
	free(junk);
}

/* Created under umask 000, every directory of the store is 0700 and
 * every object 0400, including the ones written after it was made. */
static void test_modes_under_open_umask(void **state)
{
	fixture *f = *state;
	mode_t old = umask(0);
	char *p = file_with(f, "a", "hello\n");

	made(f);
	assert_int_equal(lm_store_put_file(f->s, p, NULL), 0);
	umask(old);
	assert_int_equal(tu_sh("test -z \"$(find '%s' -type d ! -perm 700)\"",
			       f->path), 0);
	assert_int_equal(tu_sh("test -z \"$(find '%s/objects' -type f "
			       "-path '*/objects/?\?/*' ! -perm 400)\"", f->path), 0);
	assert_int_equal(tu_sh("test -f '%s/objects/ce/%s'", f->path,
			       OID_HELLO + 2), 0);
	free(p);
}

/* Blob ids are git's: checked against `git hash-object`. */
static void test_hash(void **state)
{
	fixture *f = *state;
	char oid[LM_OID_HEXSZ + 1];
	char *p = file_with(f, "a", "hello\n"), *missing;

	assert_int_equal(lm_store_hash_buf(oid, "hello\n", 6), 0);
	assert_string_equal(oid, OID_HELLO);
	assert_int_equal(lm_store_hash_buf(oid, "", 0), 0);
	assert_string_equal(oid, OID_EMPTY);
	assert_int_equal(lm_store_hash_file(oid, p), 0);
	assert_string_equal(oid, OID_HELLO);
	assert_int_equal(tu_sh("test \"$(git hash-object '%s')\" = %s", p,
			       OID_HELLO), 0);
	missing = lm_path_join(f->dir, "missing");
	assert_true(lm_store_hash_file(oid, missing) < 0);
	assert_msg_has("missing");
	free(missing);
	free(p);
}

static void test_put_has_read(void **state)
{
	fixture *f = *state;
	char *p = file_with(f, "a", "hello\n"), *e = file_with(f, "e", "");
	void *buf;
	size_t len;

	made(f);
	assert_false(lm_store_has(f->s, OID_HELLO));
	assert_int_equal(lm_store_put_file(f->s, p, OID_HELLO), 0);
	assert_true(lm_store_has(f->s, OID_HELLO));
	/* again: a no-op */
	assert_int_equal(lm_store_put_file(f->s, p, NULL), 0);
	/* an expected object the store holds: the file is not even read (a
	 * plan records the object its id names) */
	assert_int_equal(unlink(p), 0);
	assert_int_equal(lm_store_put_file(f->s, p, OID_HELLO), 0);
	assert_true(lm_store_put_file(f->s, p, NULL) < 0); /* it is gone */
	assert_int_equal(lm_store_read(f->s, OID_HELLO, &buf, &len), 0);
	assert_int_equal(len, 6);
	assert_memory_equal(buf, "hello\n", 6);
	free(buf);
	/* the empty object */
	assert_int_equal(lm_store_put_file(f->s, e, NULL), 0);
	assert_int_equal(lm_store_read(f->s, OID_EMPTY, &buf, &len), 0);
	assert_int_equal(len, 0);
	assert_non_null(buf);
	free(buf);
	/* git reads what was written */
	assert_int_equal(tu_sh("test \"$(git --git-dir='%s' cat-file -p %s)\" "
			       "= hello", f->path, OID_HELLO), 0);
	/* has: unknown ids and what is not an id */
	assert_false(lm_store_has(f->s, OID_NONE));
	assert_false(lm_store_has(f->s, "not an id"));
	assert_false(lm_store_has(f->s, ""));
	free(p);
	free(e);
}

/* A file that changed since it was hashed, or is gone, is refused, and
 * nothing is written. */
static void test_put_refusals(void **state)
{
	fixture *f = *state;
	char *p = file_with(f, "a", "hello again\n"), *missing, *before, *after;

	made(f);
	before = listing(f);
	assert_int_equal(lm_store_put_file(f->s, p, OID_HELLO), LM_EINVAL);
	assert_msg_has("changed while planning (was ce013625030b");
	missing = lm_path_join(f->dir, "missing.so");
	assert_true(lm_store_put_file(f->s, missing, NULL) < 0);
	assert_msg_has("missing.so");
	after = listing(f);
	assert_string_equal(before, after);
	free(before);
	free(after);
	free(missing);
	free(p);
}

static void test_read_refusals(void **state)
{
	fixture *f = *state;
	char *p = file_with(f, "a", "hello\n"), *q = file_with(f, "b", "other\n");
	char other[LM_OID_HEXSZ + 1];
	char *lp, *lq, *bytes;
	void *buf = (void *)1;
	size_t len = 7, n;

	made(f);
	assert_int_equal(lm_store_put_file(f->s, p, NULL), 0);
	assert_int_equal(lm_store_put_file(f->s, q, NULL), 0);
	assert_int_equal(lm_store_hash_file(other, q), 0);
	/* not an id */
	assert_int_equal(lm_store_read(f->s, "xyz", &buf, &len), LM_EINVAL);
	assert_null(buf);
	assert_int_equal(len, 0);
	assert_msg_has("'xyz' is not an object id");
	/* missing */
	assert_int_equal(lm_store_read(f->s, OID_NONE, &buf, &len),
			 LM_ENOTFOUND);
	assert_msg_has("object " OID_NONE " is missing");
	/* altered: the file of another object put in its place */
	lp = loose(f, OID_HELLO);
	lq = loose(f, other);
	assert_int_equal(tu_sh("chmod u+w '%s' && cp '%s' '%s'", lp, lq, lp), 0);
	buf = (void *)1;
	assert_int_equal(lm_store_read(f->s, OID_HELLO, &buf, &len), LM_EINVAL);
	assert_null(buf);
	assert_int_equal(len, 0);
	/* libgit2's own check (strict hash verification, on by default)
	 * or livemod's re-hash, whichever sees it first */
	assert_msg_has(OID_HELLO);
	assert_msg_has("hash");
	/* damaged: not zlib at all */
	tu_write_file(lp, "garbage", 7);
	assert_int_equal(lm_store_read(f->s, OID_HELLO, &buf, &len), LM_EINVAL);
	assert_null(buf);
	assert_msg_has("cannot read object");
	/* the other object still reads */
	assert_int_equal(lm_store_read(f->s, other, &buf, &len), 0);
	bytes = tu_read_file(q, &n);
	assert_int_equal(len, n);
	assert_memory_equal(buf, bytes, n);
	free(bytes);
	free(buf);
	free(lp);
	free(lq);
	free(p);
	free(q);
}

/* Two releases: trees, commits, tags, main; and undoing a tag. */
static void test_releases(void **state)
{
	fixture *f = *state;
	char *p = file_with(f, "a", "hello\n"), *e = file_with(f, "e", "");
	char tree1[LM_OID_HEXSZ + 1], tree2[LM_OID_HEXSZ + 1];
	char c1[LM_OID_HEXSZ + 1], c2[LM_OID_HEXSZ + 1], main[LM_OID_HEXSZ + 1];
	char t[LM_OID_HEXSZ + 1], parents[2][LM_OID_HEXSZ + 1];
	lm_modset one = { 0 }, two = { 0 };
	lm_store_entry *v;
	int64_t *ids;
	size_t n;

	made(f);
	assert_int_equal(lm_store_put_file(f->s, p, NULL), 0);
	assert_int_equal(lm_store_put_file(f->s, e, NULL), 0);
	assert_int_equal(lm_modset_add(&one, "mod_a.so", OID_HELLO,
				       lm_descriptor_new("mod_a", "1.0.0")), 0);
	assert_int_equal(lm_modset_add(&two, "mod_a.so", OID_EMPTY,
				       lm_descriptor_new("mod_a", "1.1.0")), 0);
	assert_int_equal(lm_modset_add(&two, "mod_b.so", OID_HELLO,
				       lm_descriptor_new("mod_b", "1.0.0")), 0);
	assert_int_equal(lm_store_main(f->s, main), 0);
	assert_string_equal(main, "");
	assert_int_equal(lm_store_write_tree(f->s, tree1, &one), 0);
	assert_int_equal(lm_store_commit(f->s, c1, tree1, NULL, "r1\n"), 0);
	assert_int_equal(lm_store_tag(f->s, 1, c1), 0);
	assert_int_equal(lm_store_write_tree(f->s, tree2, &two), 0);
	assert_int_equal(lm_store_commit(f->s, c2, tree2, c1, "r2\n"), 0);
	assert_int_equal(lm_store_tag(f->s, 2, c2), 0);
	/* read back */
	assert_int_equal(lm_store_main(f->s, main), 0);
	assert_string_equal(main, c2);
	assert_int_equal(lm_store_commit_tree(f->s, t, c2), 0);
	assert_string_equal(t, tree2);
	assert_int_equal(lm_store_commit_parents(f->s, c2, parents, 2, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(parents[0], c1);
	assert_int_equal(lm_store_commit_parents(f->s, c1, parents, 2, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(lm_store_tree_entries(f->s, tree2, &v, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(v[0].file, "mod_a.so");
	assert_string_equal(v[0].oid, OID_EMPTY);
	assert_string_equal(v[1].file, "mod_b.so");
	assert_string_equal(v[1].oid, OID_HELLO);
	lm_store_entries_free(v, n);
	assert_int_equal(lm_store_release_tags(f->s, &ids, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(ids[0] + ids[1], 3);
	free(ids);
	/* plain git sees the same */
	assert_int_equal(tu_sh("test \"$(git --git-dir='%s' rev-parse "
			       "release-2^)\" = %s", f->path, c1), 0);
	/* a release tag whose ledger write failed is undone; so is main */
	assert_int_equal(lm_store_untag(f->s, 2, c1), 0);
	assert_int_equal(lm_store_main(f->s, main), 0);
	assert_string_equal(main, c1);
	assert_int_equal(lm_store_release_tags(f->s, &ids, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(ids[0], 1);
	free(ids);
	/* untagging what is not there is no error; "" removes main */
	assert_int_equal(lm_store_untag(f->s, 2, NULL), 0);
	assert_int_equal(lm_store_untag(f->s, 0, ""), 0);
	assert_int_equal(lm_store_main(f->s, main), 0);
	assert_string_equal(main, "");
	/* a tag a killed writer left locked is taken anyway */
	assert_int_equal(tu_sh("touch '%s/refs/tags/release-3.lock' "
			       "'%s/refs/heads/main.lock'", f->path, f->path), 0);
	assert_int_equal(lm_store_tag(f->s, 3, c2), 0);
	assert_int_equal(lm_store_main(f->s, main), 0);
	assert_string_equal(main, c2);
	lm_modset_clear(&one);
	lm_modset_clear(&two);
	free(p);
	free(e);
}

/* Commits, trees and tags of what the store lacks, or of what is not an
 * id: refused, naming what, and nothing written. */
static void test_release_refusals(void **state)
{
	fixture *f = *state;
	char out[LM_OID_HEXSZ + 1], tree[LM_OID_HEXSZ + 1];
	char parents[1][LM_OID_HEXSZ + 1];
	lm_modset bad = { 0 };
	lm_store_entry *v = (lm_store_entry *)1;
	char *before, *after, *p = file_with(f, "a", "hello\n"), *t, *tp;
	size_t n = 9;

	made(f);
	assert_int_equal(lm_store_put_file(f->s, p, NULL), 0);
	before = listing(f);
	assert_int_equal(lm_store_commit(f->s, out, OID_NONE, NULL, "x"),
			 LM_ERROR);
	assert_msg_has("cannot commit");
	assert_int_equal(lm_store_commit(f->s, out, "nope", NULL, "x"), LM_ERROR);
	assert_int_equal(lm_store_commit_tree(f->s, out, OID_NONE), LM_ERROR);
	assert_msg_has("release commit missing");
	assert_int_equal(lm_store_commit_parents(f->s, OID_NONE, parents, 1,
						 &n), LM_ENOTFOUND);
	assert_int_equal(n, 0);
	assert_int_equal(lm_store_commit_parents(f->s, "nope", parents, 1, &n),
			 LM_EINVAL);
	assert_int_equal(lm_store_tag(f->s, 1, "nope"), LM_EINVAL);
	assert_msg_has("'nope' is not a commit id");
	assert_int_equal(lm_store_tree_entries(f->s, "nope", &v, &n), LM_EINVAL);
	assert_null(v);
	assert_int_equal(n, 0);
	assert_int_equal(lm_store_tree_entries(f->s, OID_NONE, &v, &n),
			 LM_EINVAL);
	assert_msg_has("release tree missing");
	/* a release tree naming a blob the store lacks: not written */
	assert_int_equal(lm_modset_add(&bad, "mod_a.so", OID_NONE,
				       lm_descriptor_new("mod_a", "1.0.0")), 0);
	assert_true(lm_store_write_tree(f->s, tree, &bad) < 0);
	after = listing(f);
	assert_string_equal(before, after);
	/* a commit with a parent the store lacks: refused, nothing written */
	assert_int_equal(tu_sh("printf '100644 blob %s\\tmod_a.so\\n' | "
			       "git --git-dir='%s' mktree > '%s/tree'",
			       OID_HELLO, f->path, f->dir), 0);
	free(before);
	before = listing(f);
	tp = lm_path_join(f->dir, "tree");
	t = tu_read_file(tp, NULL);
	t[LM_OID_HEXSZ] = '\0';
	assert_int_equal(lm_store_commit(f->s, out, t, OID_NONE, "x"), LM_ERROR);
	assert_msg_has("parent release commit missing");
	free(t);
	free(tp);
	free(after);
	after = listing(f);
	assert_string_equal(before, after);
	lm_modset_clear(&bad);
	free(before);
	free(after);
	free(p);
}

/* What is not a release tree is refused naming the entry: another file,
 * a hidden one, a directory, a link. */
static void test_tree_entries_refused(void **state)
{
	static const char *const bad[] = {
		"100644 blob " OID_HELLO "\tREADME",
		"100644 blob " OID_HELLO "\t.hidden.so",
		"120000 blob " OID_HELLO "\tlink.so",
		"040000 tree @SUB@\tsub.so",
	};
	fixture *f = *state;
	char *p = file_with(f, "a", "hello\n");
	char sub[LM_OID_HEXSZ + 1], *t, *tp = lm_path_join(f->dir, "tree");
	lm_store_entry *v;
	size_t i, n;

	made(f);
	assert_int_equal(lm_store_put_file(f->s, p, NULL), 0);
	assert_int_equal(tu_sh("printf '100644 blob %s\\tmod_a.so\\n' | "
			       "git --git-dir='%s' mktree > '%s'", OID_HELLO,
			       f->path, tp), 0);
	t = tu_read_file(tp, NULL);
	memcpy(sub, t, LM_OID_HEXSZ);
	sub[LM_OID_HEXSZ] = '\0';
	free(t);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(tu_sh("printf '%%s\\n%%s\\n' '100644 blob %s\t"
				       "mod_a.so' \"$(echo '%s' | sed "
				       "s/@SUB@/%s/)\" | git --git-dir='%s' "
				       "mktree > '%s'", OID_HELLO, bad[i], sub,
				       f->path, tp), 0);
		t = tu_read_file(tp, NULL);
		t[LM_OID_HEXSZ] = '\0';
		v = (lm_store_entry *)1;
		n = 9;
		assert_int_equal(lm_store_tree_entries(f->s, t, &v, &n),
				 LM_EINVAL);
		assert_null(v);
		assert_int_equal(n, 0);
		assert_msg_has("is not a module file");
		assert_msg_has(strrchr(bad[i], '\t') + 1);
		free(t);
	}
	free(tp);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_open_missing),
		T(test_open_not_a_store),
		T(test_modes_under_open_umask),
		T(test_hash),
		T(test_put_has_read),
		T(test_put_refusals),
		T(test_read_refusals),
		T(test_releases),
		T(test_release_refusals),
		T(test_tree_entries_refused),
#undef T
	};

	return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
