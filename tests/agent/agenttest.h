/*
 * agenttest.h - what the agent tests share: building variants of
 * tests/agent/mod_template.c, finding an object in /proc/self/maps,
 * RSS, and a full up/down swap as the plan interpreter will drive it.
 */
#ifndef LM_AGENTTEST_H
#define LM_AGENTTEST_H

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <livemod/agent.h>

#include "error.h"
#include "testutil.h"

#define AT_ANSWER_SIG LM_SIG(long (void))
#define AT_SLOW_SIG LM_SIG(void (int, volatile int *))
typedef long (*at_answer_fn)(void);
typedef void (*at_slow_fn)(int, volatile int *);

/* Builds `src` (a path under the source tree) as `<dir>/<file>` with
 * extra compiler flags, given before the include path (an -I there wins);
 * returns the path (caller frees). */
static inline char *at_build_src(const char *dir, const char *file,
				 const char *flags, const char *src)
{
	char *out;

	if (asprintf(&out, "%s/%s", dir, file) < 0)
		abort();
	if (tu_sh("${CC:-cc} -std=c11 -Wall -Wextra -Werror -shared -fPIC "
		  "-fno-gnu-unique %s -I%s/include -o '%s' %s/%s",
		  flags, LM_SRCDIR, out, LM_SRCDIR, src) != 0) {
		fprintf(stderr, "cannot build test module %s\n", out);
		abort();
	}
	return out;
}

/* Builds the template as `<dir>/<file>` with extra compiler flags (the
 * -D variant switches, linker options); returns the path (caller frees). */
static inline char *at_build(const char *dir, const char *file,
			     const char *flags)
{
	return at_build_src(dir, file, flags, "tests/agent/mod_template.c");
}

/* True when the file at `path` is mapped in this process. */
static inline bool at_mapped(const char *path)
{
	struct stat st;
	char line[4096];
	bool found = false;
	FILE *f;

	if (stat(path, &st) != 0 || !(f = fopen("/proc/self/maps", "r")))
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		unsigned maj, min;
		unsigned long ino;

		if (sscanf(line, "%*x-%*x %*s %*x %x:%x %lu", &maj, &min,
			   &ino) == 3 &&
		    ino == (unsigned long)st.st_ino &&
		    maj == major(st.st_dev) && min == minor(st.st_dev))
			found = true;
	}
	fclose(f);
	return found;
}

/* Resident set size in KiB. */
static inline long at_rss_kib(void)
{
	long pages = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (!f || fscanf(f, "%ld %ld", &pages, &rss) != 2)
		abort();
	fclose(f);
	return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

#define AT_CHECK(rc)                                                        \
	do {                                                                \
		int at__rc = (rc);                                          \
		if (at__rc != 0) {                                          \
			fprintf(stderr, "%s:%d: %s = %d: %s\n", __FILE__,   \
				__LINE__, #rc, at__rc, lm_error_last());    \
			abort();                                            \
		}                                                           \
	} while (0)

/* stage, suspend, code_change (extra = generation), publish, resume: an
 * "update advanced" of OTP's; without `suspend`, calls keep running the
 * old version right up to the publish. Returns the first failure. */
static inline int at_swap_how(lm_runtime *rt, const char *module,
			      const char *path, lm_change_mode mode, long gen,
			      bool suspend)
{
	char extra[32];
	int rc;

	snprintf(extra, sizeof(extra), "%ld", gen);
	rc = lm_runtime_stage(rt, path, NULL, NULL);
	if (rc < 0)
		return rc;
	rc = suspend ? lm_runtime_suspend(rt, module) : 0;
	if (rc == 0) {
		rc = lm_runtime_code_change(rt, module, mode, extra);
		if (rc == 0)
			rc = lm_runtime_publish(rt, module);
		if (suspend)
			AT_CHECK(lm_runtime_resume(rt, module));
	}
	if (rc < 0) {
		char *msg = strdup(lm_error_last());

		lm_runtime_unstage(rt, module);
		lm_error_set(rc, "%s", msg);
		free(msg);
	}
	return rc;
}

static inline int at_swap(lm_runtime *rt, const char *module,
			  const char *path, lm_change_mode mode, long gen)
{
	return at_swap_how(rt, module, path, mode, gen, true);
}

/* The number of old versions of `module` awaiting purge. */
static inline size_t at_nold(lm_runtime *rt, const char *module)
{
	lm_module_info *mi;
	size_t n, i, nold = 0;

	AT_CHECK(lm_runtime_modules(&mi, &n, rt));
	for (i = 0; i < n; i++)
		if (strcmp(mi[i].name, module) == 0)
			nold = mi[i].nold;
	lm_module_info_free(mi, n);
	return nold;
}

#endif
