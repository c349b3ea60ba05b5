/*
 * test_ctequal.c - lm_ct_equal (lib/ctequal.c), the comparison the
 * control API's bearer token goes through: equal and unequal buffers
 * (every byte position, every bit), the empty case, and the property that
 * makes it constant-time: it reads every byte even when the first already
 * differs. That is proved, not timed: the last byte compared is the last
 * of a readable page, the next page is PROT_NONE, and the buffers are
 * shifted one byte on so that a comparison reading all of them faults,
 * in a child process, while one that stopped at the first difference
 * would return.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "ctequal.h"
#include "testutil.h"

static void test_equal(void **state)
{
	static const char tok[] = "0123456789abcdef0123456789abcdef";
	char copy[sizeof(tok)];

	(void)state;
	memcpy(copy, tok, sizeof(tok));
	assert_int_equal(lm_ct_equal(tok, copy, sizeof(tok) - 1), 1);
	assert_int_equal(lm_ct_equal(tok, tok, sizeof(tok) - 1), 1);
	/* nothing to compare is equal, and reads nothing */
	assert_int_equal(lm_ct_equal(NULL, NULL, 0), 1);
}

/* A difference of any single bit at any position is seen, and the answer
 * is exactly 1 or 0 (callers test it as a boolean and as == 1). */
static void test_every_byte_and_bit(void **state)
{
	unsigned char a[64], b[64];
	size_t i;
	int bit;

	(void)state;
	for (i = 0; i < sizeof(a); i++)
		a[i] = (unsigned char)(i * 37 + 11);
	for (i = 0; i < sizeof(a); i++)
		for (bit = 0; bit < 8; bit++) {
			memcpy(b, a, sizeof(a));
			b[i] ^= (unsigned char)(1u << bit);
			assert_int_equal(lm_ct_equal(a, b, sizeof(a)), 0);
			assert_int_equal(lm_ct_equal(b, a, sizeof(a)), 0);
			/* the bytes before the difference are still equal */
			assert_int_equal(lm_ct_equal(a, b, i), 1);
		}
	/* every byte different, and 0xff against 0x00 */
	memset(a, 0xff, sizeof(a));
	memset(b, 0x00, sizeof(b));
	assert_int_equal(lm_ct_equal(a, b, sizeof(a)), 0);
}

/*
 * No early exit. Two 32-byte buffers differ at their first byte; each
 * ends one byte into a PROT_NONE page, so that reading their last byte
 * faults. lm_ct_equal must fault (SIGSEGV, or under ASan its report and
 * a non-zero exit); a comparison that stopped at the first difference
 * would return, and the child exit 0.
 */
static void test_reads_every_byte(void **state)
{
	long page = sysconf(_SC_PAGESIZE);
	unsigned char *m;
	pid_t pid;
	int status;

	(void)state;
	assert_true(page > 64);
	m = mmap(NULL, (size_t)page * 2, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(m != MAP_FAILED);
	/* a = m + page - 31 (31 readable bytes, then the guard page), b
	 * 64 bytes before it, differing from a at byte 0 */
	memset(m, 'x', (size_t)page);
	m[page - 31] = 'a';
	m[page - 64 - 31] = 'b';
	assert_int_equal(mprotect(m + page, (size_t)page, PROT_NONE), 0);
	/* the readable 31 bytes alone: compared and unequal, no fault */
	assert_int_equal(lm_ct_equal(m + page - 31, m + page - 64 - 31, 31), 0);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* ASan would report the fault at length; keep the log short */
		freopen("/dev/null", "w", stderr);
		signal(SIGSEGV, SIG_DFL);
		(void)lm_ct_equal(m + page - 31, m + page - 64 - 31, 32);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		fail_msg("lm_ct_equal returned without reading the last byte: "
			 "it stops early");
	assert_true(WIFSIGNALED(status) || WEXITSTATUS(status) != 0);
	munmap(m, (size_t)page * 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_equal),
		cmocka_unit_test(test_every_byte_and_bit),
		cmocka_unit_test(test_reads_every_byte),
	};

	return cmocka_run_group_tests_name("ctequal", tests, NULL, NULL);
}
