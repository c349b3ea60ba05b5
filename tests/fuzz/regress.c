/*
 * regress.c - the plain driver of a fuzz harness, without libFuzzer: runs
 * LLVMFuzzerTestOneInput once on every file named, or found in the
 * directories named, in name order. Built with ASan+UBSan, this is what
 * `make fuzz-regress` (and so `make test`) runs over the seed corpus and
 * every crasher kept in tests/fuzz/regress/<target>/: fast and
 * deterministic, where a fuzzing run is neither.
 *
 *   regress-TARGET CORPUS [DIR_OR_FILE...]
 *
 * CORPUS (the seed corpus) must exist and hold at least one input, or the
 * run fails (exit 2): an empty run proves nothing. The others (kept
 * crashers) may not exist yet.
 *
 * A harness aborts on a bug, so getting to the end is passing; prints
 * "TARGET: N inputs" then.
 */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sanitizer/common_interface_defs.h>

#include "fuzz.h"

#pragma weak LLVMFuzzerInitialize

static size_t ninputs;
static const char *current; /* the input running, for a crash report */

static void say_current(void)
{
	if (current)
		fprintf(stderr, "regress: the input was %s\n", current);
}

static void on_abort(int sig)
{
	say_current();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	struct stat st;
	uint8_t *buf;
	size_t len;

	/* exactly `len` bytes, as libFuzzer hands them over, so that ASan
	 * sees a read past the input */
	if (!f || fstat(fileno(f), &st) != 0 ||
	    !(buf = malloc((len = (size_t)st.st_size) ? len : 1)) ||
	    fread(buf, 1, len, f) != len) {
		perror(path);
		exit(2);
	}
	fclose(f);
	current = path;
	LLVMFuzzerTestOneInput(buf, len);
	current = NULL;
	free(buf);
	ninputs++;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every regular file directly in `dir`, in name order (not hidden ones:
 * a README or .gitkeep is no input). */
static void run_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **names = NULL;
	size_t n = 0, i;

	if (!d) {
		perror(dir);
		exit(2);
	}
	while ((e = readdir(d))) {
		char *path;
		struct stat st;

		if (e->d_name[0] == '.' || strcmp(e->d_name, "README") == 0)
			continue;
		if (asprintf(&path, "%s/%s", dir, e->d_name) < 0 ||
		    !(names = realloc(names, (n + 1) * sizeof(*names)))) {
			fprintf(stderr, "%s: out of memory\n", dir);
			exit(2);
		}
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
			names[n++] = path;
		else
			free(path);
	}
	closedir(d);
	if (n) /* qsort wants a non-NULL array even for none */
		qsort(names, n, sizeof(*names), by_name);
	for (i = 0; i < n; i++) {
		run_file(names[i]);
		free(names[i]);
	}
	free(names);
}

int main(int argc, char **argv)
{
	const char *name = strrchr(argv[0], '/');
	struct stat st;
	int i;

	if (argc < 2) {
		fprintf(stderr, "usage: %s CORPUS [DIR_OR_FILE...]\n", argv[0]);
		return 2;
	}
	__sanitizer_set_death_callback(say_current);
	signal(SIGABRT, on_abort); /* fuzz_fail, assert */
	if (LLVMFuzzerInitialize)
		LLVMFuzzerInitialize(&argc, &argv);
	for (i = 1; i < argc; i++) {
		size_t before = ninputs;

		/* The first operand is the seed corpus: it must be there and
		 * hold inputs, or the run proves nothing. Later ones (kept
		 * crashers) may not exist yet. */
		if (stat(argv[i], &st) != 0) {
			if (i > 1)
				continue; /* no crashers kept for this target yet */
			perror(argv[i]);
			return 2;
		}
		if (S_ISDIR(st.st_mode))
			run_dir(argv[i]);
		else
			run_file(argv[i]);
		if (i == 1 && ninputs == before) {
			fprintf(stderr, "%s: no inputs (an empty corpus "
				"proves nothing)\n", argv[i]);
			return 2;
		}
	}
	printf("%s: %zu inputs\n", name ? name + 1 : argv[0], ninputs);
	return 0;
}
