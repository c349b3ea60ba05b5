/*
 * testutil.h - what the unit tests share: scratch directories, compiling a
 * real module from C text, reading and writing files.
 *
 * Header-only so each test binary stays one file. Tests run from the
 * repository root (LM_SRCDIR is passed by the Makefile).
 */
#ifndef LM_TESTUTIL_H
#define LM_TESTUTIL_H

#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef LM_SRCDIR
#define LM_SRCDIR "."
#endif

/* A fresh directory under $TMPDIR (or /tmp); caller frees the string. */
static inline char *tu_tmpdir(void)
{
	const char *t = getenv("TMPDIR");
	char *p;

	if (asprintf(&p, "%s/lmtest.XXXXXX", t && *t ? t : "/tmp") < 0)
		abort();
	if (!mkdtemp(p))
		abort();
	return p;
}

static inline void tu_rm_rf(const char *dir)
{
	char *cmd;

	if (asprintf(&cmd, "rm -rf '%s'", dir) < 0)
		abort();
	if (system(cmd) != 0)
		abort();
	free(cmd);
}

static inline void tu_write_file(const char *path, const void *buf, size_t n)
{
	FILE *f = fopen(path, "wb");

	if (!f || fwrite(buf, 1, n, f) != n || fclose(f) != 0)
		abort();
}

/* Whole file in a NUL-terminated buffer; *n gets the length. */
static inline char *tu_read_file(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long len;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)len + 1);
	if (!buf || fread(buf, 1, (size_t)len, f) != (size_t)len)
		abort();
	buf[len] = '\0';
	fclose(f);
	if (n)
		*n = (size_t)len;
	return buf;
}

/* tu_skip(WHY): a test that cannot run here (a tool or linker feature
 * missing) skips, saying why; when LM_REQUIRE_ALL is set (CI, .ci/run),
 * where everything is installed, it fails instead: a skip is not a pass.
 * A macro so that it needs cmocka only where it is used. */
#define tu_skip(why)                                                       \
	do {                                                               \
		const char *tu_req_ = getenv("LM_REQUIRE_ALL");            \
		if (tu_req_ && *tu_req_)                                   \
			fail_msg("LM_REQUIRE_ALL is set and %s", (why));   \
		print_message("skip: %s\n", (why));                       \
		skip();                                                    \
	} while (0)

/* Whether `needle` is in `hay` as whole tokens: neither end glued to a
 * letter, digit, '_' or '.' ("returned 7" is not in "returned 70", nor
 * "1.0.0" in "1.0.01"), as the shell tests' has() checks. */
static inline bool tu_has_words(const char *hay, const char *needle)
{
	size_t n = strlen(needle);
	const char *p;

	for (p = hay; n && (p = strstr(p, needle)); p++) {
		bool glued_before = p > hay && (isalnum((unsigned char)p[-1]) ||
						p[-1] == '_' || p[-1] == '.');
		bool glued_after = isalnum((unsigned char)p[n]) ||
				   p[n] == '_' || p[n] == '.';

		if (!glued_before && !glued_after)
			return true;
	}
	return false;
}

/* Runs a shell command built printf-style; returns its exit status. */
static inline int tu_sh(const char *fmt, ...)
{
	char *cmd;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	if (vasprintf(&cmd, fmt, ap) < 0)
		abort();
	va_end(ap);
	rc = system(cmd);
	free(cmd);
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/*
 * Compiles `src` (C text) into `<dir>/<file>` as a livemod module, the way
 * a module author would (-shared -fPIC -fno-gnu-unique). Aborts when the
 * compiler fails: a test's module source is part of the test.
 */
/* Builds module `file` in `dir` from `src`, with `flags` before the
 * include path (e.g. "-Idir" of an older <livemod/module.h>). */
static inline void tu_build_module_flags(const char *dir, const char *file,
					 const char *src, const char *flags)
{
	char *c;

	if (asprintf(&c, "%s/%s.c", dir, file) < 0)
		abort();
	tu_write_file(c, src, strlen(src));
	if (tu_sh("${CC:-cc} -std=c11 -Wall -Wextra -Werror -shared -fPIC "
		  "-fno-gnu-unique %s -I%s/include -o '%s/%s' '%s'",
		  flags, LM_SRCDIR, dir, file, c) != 0)
		abort();
	unlink(c);
	free(c);
}

static inline void tu_build_module(const char *dir, const char *file,
				   const char *src)
{
	tu_build_module_flags(dir, file, src, "");
}

#endif
