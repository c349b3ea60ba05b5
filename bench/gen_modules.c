/*
 * gen_modules.c - makes N distinct module objects from one compiled
 * template by rewriting its placeholder name (and, on request, version)
 * in place. Compiling 10,000 modules would take the benchmark most of an
 * hour on two cores; patching same-length strings takes a second and
 * yields objects the planner cannot tell from compiled ones.
 *
 *   gen_modules TEMPLATE.so OUTDIR N [FIRST]      mod_b<13 digits>.so
 *   gen_modules --bump FILE.so                    version 0.0.1 -> 0.0.2
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME_PH "mod_bench_template" /* 18 characters */
#define VSN_OLD "0.0.1-bench"
#define VSN_NEW "0.0.2-bench"

static char *slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long len;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	buf = malloc((size_t)len);
	if (!buf || fread(buf, 1, (size_t)len, f) != (size_t)len) {
		fclose(f);
		free(buf);
		return NULL;
	}
	fclose(f);
	*n = (size_t)len;
	return buf;
}

static int spit(const char *path, const char *buf, size_t n)
{
	FILE *f = fopen(path, "wb");

	if (!f || fwrite(buf, 1, n, f) != n)
		return -1;
	return fclose(f);
}

/* Replaces every occurrence of `from` by `to` (same length); returns how
 * many. */
static int replace_all(char *buf, size_t n, const char *from, const char *to)
{
	size_t len = strlen(from);
	char *p = buf;
	int count = 0;

	while ((p = memmem(p, n - (size_t)(p - buf), from, len))) {
		memcpy(p, to, len);
		p += len;
		count++;
	}
	return count;
}

int main(int argc, char **argv)
{
	char *tpl, *copy, name[32], path[4096];
	size_t n;
	long i, count, first;

	if (argc == 3 && strcmp(argv[1], "--bump") == 0) {
		if (!(tpl = slurp(argv[2], &n)) ||
		    replace_all(tpl, n, VSN_OLD, VSN_NEW) == 0 ||
		    spit(argv[2], tpl, n) != 0)
			return fprintf(stderr, "cannot bump %s\n", argv[2]), 1;
		return 0;
	}
	if (argc < 4)
		return fprintf(stderr, "usage: gen_modules TPL DIR N [FIRST]\n"), 2;
	count = atol(argv[3]);
	first = argc > 4 ? atol(argv[4]) : 0;
	if (!(tpl = slurp(argv[1], &n)) || !(copy = malloc(n)))
		return fprintf(stderr, "cannot read %s\n", argv[1]), 1;
	for (i = first; i < first + count; i++) {
		snprintf(name, sizeof(name), "mod_b%013ld", i);
		memcpy(copy, tpl, n);
		if (replace_all(copy, n, NAME_PH, name) < 2)
			return fprintf(stderr, "placeholder not found\n"), 1;
		snprintf(path, sizeof(path), "%s/%s.so", argv[2], name);
		if (spit(path, copy, n) != 0)
			return fprintf(stderr, "cannot write %s\n", path), 1;
	}
	return 0;
}
