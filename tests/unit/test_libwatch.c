/*
 * test_libwatch.c - the libdir watch behind GET /update-modules' answer
 * from memory (agent/node/libwatch.c): its generation stands while nothing
 * happens and moves after every kind of change a libdir sees (a file
 * created, written, its mode or mtime changed, renamed in or out,
 * removed), when the directory is replaced or its path (a symbolic link)
 * re-pointed, and, until it can watch, on every call. Real directories,
 * real inotify. End to end: tests/e2e/test_node.sh
 * t_update_list_from_memory.
 *
 * libwatch.c is compiled into this test (it belongs to the agent, which
 * the unit tests do not link).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <fcntl.h>
#include <sys/time.h>

#include "../../agent/node/libwatch.c"
#include "testutil.h"

typedef struct fixture {
	char *root, *dir;
	lm_libwatch *w;
	uint64_t gen;
} fixture;

static char *join(const char *a, const char *b)
{
	char *p;

	if (asprintf(&p, "%s/%s", a, b) < 0)
		abort();
	return p;
}

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));

	f->root = tu_tmpdir();
	f->dir = join(f->root, "lib");
	assert_int_equal(mkdir(f->dir, 0755), 0);
	assert_int_equal(lm_libwatch_open(&f->w, f->dir), 0);
	f->gen = lm_libwatch_generation(f->w);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;

	lm_libwatch_free(f->w);
	tu_rm_rf(f->root);
	free(f->dir);
	free(f->root);
	free(f);
	return 0;
}

/* The generation stands (twice asked) or moved, then stands again. */
static void stands(fixture *f)
{
	assert_true(lm_libwatch_generation(f->w) == f->gen);
	assert_true(lm_libwatch_generation(f->w) == f->gen);
}

static void moved(fixture *f)
{
	uint64_t g = lm_libwatch_generation(f->w);

	assert_true(g != f->gen);
	f->gen = g;
	stands(f);
}

static void put(const char *dir, const char *name, const char *text)
{
	char *p = join(dir, name);

	tu_write_file(p, text, strlen(text));
	free(p);
}

static void test_every_change_moves_it(void **state)
{
	fixture *f = *state;
	char *a = join(f->dir, "a.so"), *b = join(f->dir, "b.so");
	char *out = join(f->root, "out.so");
	struct timeval tv[2] = { { 1000000000, 0 }, { 1000000000, 0 } };
	int fd;

	stands(f);
	put(f->dir, "a.so", "one");             /* created */
	moved(f);
	fd = open(a, O_WRONLY | O_APPEND);      /* opening is not a change, */
	assert_true(fd >= 0);
	stands(f);
	assert_int_equal(write(fd, "x", 1), 1); /* writing in place is */
	moved(f);
	assert_int_equal(close(fd), 0);         /* closed after writing */
	moved(f);
	assert_int_equal(chmod(a, 0600), 0);    /* its mode */
	moved(f);
	assert_int_equal(utimes(a, tv), 0);     /* its mtime alone */
	moved(f);
	assert_int_equal(rename(a, b), 0);      /* renamed inside */
	moved(f);
	assert_int_equal(rename(b, out), 0);    /* out */
	moved(f);
	assert_int_equal(rename(out, a), 0);    /* in, as install(1) does */
	moved(f);
	assert_int_equal(unlink(a), 0);         /* removed */
	moved(f);
	free(a);
	free(b);
	free(out);
}

static void test_reading_does_not_move_it(void **state)
{
	fixture *f = *state;
	char *a = join(f->dir, "a.so");
	size_t n;

	put(f->dir, "a.so", "one");
	moved(f);
	free(tu_read_file(a, &n));               /* the scan reads objects */
	stands(f);
	free(a);
}

/* The directory removed and made again at its path: the change is seen,
 * and so are changes in the new directory after it. */
static void test_directory_replaced(void **state)
{
	fixture *f = *state;
	char *away = join(f->root, "away");

	assert_int_equal(rename(f->dir, away), 0);
	assert_int_equal(mkdir(f->dir, 0755), 0);
	moved(f);
	put(f->dir, "a.so", "one");
	moved(f);
	put(away, "b.so", "two");                /* no longer libdir */
	stands(f);
	free(away);
}

/* A libdir reached through a symbolic link that is re-pointed (a
 * "current" link moved to a new release's directory). */
static void test_link_repointed(void **state)
{
	fixture *f = *state;
	char *r1 = join(f->root, "r1"), *r2 = join(f->root, "r2");
	char *cur = join(f->root, "current"), *tmp = join(f->root, "cur.new");
	lm_libwatch *w;
	uint64_t g;

	assert_int_equal(mkdir(r1, 0755), 0);
	assert_int_equal(mkdir(r2, 0755), 0);
	assert_int_equal(symlink(r1, cur), 0);
	assert_int_equal(lm_libwatch_open(&w, cur), 0);
	g = lm_libwatch_generation(w);
	assert_true(lm_libwatch_generation(w) == g);
	put(r1, "a.so", "one");                 /* through the link */
	assert_true(lm_libwatch_generation(w) != g);
	g = lm_libwatch_generation(w);
	assert_int_equal(symlink(r2, tmp), 0);
	assert_int_equal(rename(tmp, cur), 0);
	assert_true(lm_libwatch_generation(w) != g);
	g = lm_libwatch_generation(w);
	assert_true(lm_libwatch_generation(w) == g);
	put(r2, "b.so", "two");                 /* the new target is watched */
	assert_true(lm_libwatch_generation(w) != g);
	lm_libwatch_free(w);
	free(r1);
	free(r2);
	free(cur);
	free(tmp);
}

/* No directory to watch yet: every call is a change, until there is one. */
static void test_unwatched_moves_every_time(void **state)
{
	fixture *f = *state;
	char *later = join(f->root, "later");
	lm_libwatch *w;
	uint64_t g;

	assert_int_equal(lm_libwatch_open(&w, later), 0);
	g = lm_libwatch_generation(w);
	assert_true(lm_libwatch_generation(w) != g);
	assert_true(lm_libwatch_generation(w) != g + 1);
	assert_int_equal(mkdir(later, 0755), 0);
	g = lm_libwatch_generation(w);          /* watched from here */
	assert_true(lm_libwatch_generation(w) == g);
	put(later, "a.so", "one");
	assert_true(lm_libwatch_generation(w) != g);
	lm_libwatch_free(w);
	lm_libwatch_free(NULL);
	free(later);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_every_change_moves_it,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_reading_does_not_move_it,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_directory_replaced,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_link_repointed,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_unwatched_moves_every_time,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
