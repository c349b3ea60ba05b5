/*
 * test_fsutil.c - the two-step file write (lm_file_write_start, _finish in
 * lib/fsutil.c) a plan's pending file goes through: the bytes are there
 * once it finishes, finishing twice is harmless, and a write that cannot
 * be made (no directory, a file size limit as a full disk) fails naming
 * the file and leaves nothing behind, as lm_file_write does.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "error.h"
#include "fsutil.h"
#include "testutil.h"

static int setup(void **state)
{
	*state = tu_tmpdir();
	return 0;
}

static int teardown(void **state)
{
	tu_rm_rf(*state);
	free(*state);
	return 0;
}

static char *path_in(const char *dir, const char *name)
{
	char *p;

	assert_true(asprintf(&p, "%s/%s", dir, name) > 0);
	return p;
}

static void test_write_start_finish(void **state)
{
	static const char text[] = "{\"id\": 1}\n";
	char *path = path_in(*state, "1.json.pending"), *got;
	lm_file_sync w;
	size_t n;

	assert_int_equal(lm_file_write_start(&w, path, text, strlen(text),
					     0644), 0);
	assert_int_equal(lm_file_write_finish(&w), 0);
	got = tu_read_file(path, &n);
	assert_int_equal(n, strlen(text));
	assert_memory_equal(got, text, n);
	free(got);
	/* finished: a second finish does nothing */
	assert_int_equal(lm_file_write_finish(&w), 0);
	assert_int_equal(access(path, F_OK), 0);
	free(path);
}

static void test_write_start_fails(void **state)
{
	char *path = path_in(*state, "no/such/dir/1.json.pending");
	lm_file_sync w;

	assert_int_equal(lm_file_write_start(&w, path, "x", 1, 0644),
			 LM_ERROR);
	assert_non_null(strstr(lm_error_last(), path));
	/* nothing to finish */
	assert_int_equal(lm_file_write_finish(&w), 0);
	free(path);
}

/* A file size limit makes the write fail as a full disk would (EFBIG for
 * ENOSPC); in a child, whose limit goes with it. */
static void test_write_start_full(void **state)
{
	char *path = path_in(*state, "big.pending");
	static char buf[64 << 10];
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		struct rlimit r = { 4096, 4096 };
		lm_file_sync w;
		int rc;

		signal(SIGXFSZ, SIG_IGN);
		if (setrlimit(RLIMIT_FSIZE, &r) != 0)
			_exit(3);
		rc = lm_file_write_start(&w, path, buf, sizeof(buf), 0644);
		rc = rc == LM_ERROR && strstr(lm_error_last(), path) &&
		     strstr(lm_error_last(), "too large") ? 0 : 1;
		free(path); /* the child's copy: valgrind follows it */
		_exit(rc);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(access(path, F_OK), -1); /* removed */
	free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_write_start_finish),
		T(test_write_start_fails),
		T(test_write_start_full),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
