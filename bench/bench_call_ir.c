/*
 * bench_call_ir.c - instructions per call, for callgrind: the same
 * module export called N times through a plain function pointer
 * (loop_plain) and through the agent (loop_lmcall, an RCU read-side
 * section and one table load). Run under
 *   valgrind --tool=callgrind bench_call_ir MODULE.so N
 * and divide each loop function's inclusive Ir by N (bench/run.sh does).
 * Instruction counts repeat exactly, whatever else the machine does.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <livemod/agent.h>

typedef int (*answer_fn)(void);

__attribute__((noinline)) static long loop_plain(answer_fn volatile *fp,
						 long n)
{
	long i, sum = 0;

	for (i = 0; i < n; i++)
		sum += (*fp)();
	return sum;
}

__attribute__((noinline)) static long loop_lmcall(lm_export_ref *ref, long n)
{
	long i, sum = 0;
	int r;

	for (i = 0; i < n; i++) {
		LM_CALL(ref, answer_fn, r);
		sum += r;
	}
	return sum;
}

int main(int argc, char **argv)
{
	const struct lm_module_desc *d;
	const struct lm_export_desc *e;
	answer_fn volatile fp = NULL;
	lm_export_ref *ref;
	lm_runtime *rt;
	long n;
	void *h;

	if (argc < 3)
		return fprintf(stderr, "usage: bench_call_ir MODULE.so N\n"), 2;
	n = atol(argv[2]);
	lm_thread_register();
	if (lm_runtime_new(&rt) < 0 || lm_runtime_load(rt, argv[1], NULL) < 0)
		return fprintf(stderr, "%s\n", lm_error_last()), 1;
	h = dlopen(argv[1], RTLD_NOW | RTLD_NOLOAD);
	d = h ? dlsym(h, "lm_module_descriptor") : NULL;
	for (e = d ? d->exports_begin : NULL; e && e < d->exports_end; e++)
		if (strcmp(e->name, "answer") == 0)
			fp = (answer_fn)e->fn;
	if (!fp || lm_export_ref_lookup(&ref, rt, d->name, "answer",
					LM_SIG(int (void))) < 0)
		return fprintf(stderr, "no answer export\n"), 1;
	printf("%ld %ld\n", loop_plain(&fp, n), loop_lmcall(ref, n));
	lm_export_ref_free(ref);
	dlclose(h);
	lm_runtime_free(rt);
	lm_thread_unregister();
	return 0;
}
