/*
 * fuzzutil.c - the checks and scratch directories the fuzz harnesses
 * share; see fuzz.h.
 */
#include "fuzz.h"

#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"

void fuzz_fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "fuzz: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (last error %d: '%s')\n", lm_error_code(),
		lm_error_last());
	abort();
}

int fuzz_checked(int rc, const char *call)
{
	if (rc >= 0)
		return rc;
	if (rc < LM_ENODEBUSY)
		fuzz_fail("%s returned %d, not an LM_E* code", call, rc);
	if (!*lm_error_last())
		fuzz_fail("%s failed (%d, %s) without a message", call, rc,
			  lm_error_name(rc));
	return rc;
}

/* ---- scratch directories ------------------------------------------------ */

#define MAX_SCRATCH 4

static char *scratch[MAX_SCRATCH];
static int nscratch;

static int rm_one(const char *path, const struct stat *sb, int flag,
		  struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	remove(path);
	return 0;
}

static void rm_scratch(void)
{
	int i;

	for (i = 0; i < nscratch; i++)
		nftw(scratch[i], rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

char *fuzz_scratch_dir(const char *prefix)
{
	const char *base = getenv("TMPDIR");
	char *dir;

	/* tmpfs: the ledger and the node write files on every input, and a
	 * disk would make that the fuzzer's bottleneck */
	if (access("/dev/shm", W_OK) == 0)
		base = "/dev/shm";
	else if (!base || !*base)
		base = "/tmp";
	if (nscratch == MAX_SCRATCH)
		fuzz_fail("more than %d scratch directories", MAX_SCRATCH);
	if (asprintf(&dir, "%s/%s.XXXXXX", base, prefix) < 0 || !mkdtemp(dir))
		fuzz_fail("cannot make a scratch directory under %s", base);
	if (nscratch++ == 0)
		atexit(rm_scratch);
	scratch[nscratch - 1] = dir;
	return dir;
}
