/* host_old.c FIRST.so - a host as written before declarations: LM_SIG,
 * lm_export_ref_lookup, its own typedefs and LM_CALL. */
#include <livemod/agent.h>
#include <stdio.h>

#include "decl_api.h"

typedef int (*count_fn)(lm_task *, int, argv_t, const size_t *);
typedef long (*which_fn)(void);

int main(int argc, char **argv)
{
	static const char *const args[] = { "SET", "key", "value" };
	static const size_t lens[] = { 3, 3, 5 };
	lm_export_ref *count, *which;
	lm_runtime *rt;
	long w;
	int n;

	if (argc < 2 || lm_runtime_new(&rt) < 0)
		return 2;
	lm_thread_register();
	if (lm_runtime_load(rt, argv[1], NULL) < 0 ||
	    lm_export_ref_lookup(&count, rt, "mod_decl", "count",
				 LM_SIG(int (lm_task *, int, argv_t,
					     const size_t *))) < 0 ||
	    lm_export_ref_lookup(&which, rt, "mod_decl", "which",
				 LM_SIG(long(void))) < 0) {
		fprintf(stderr, "start: %s\n", lm_error_last());
		return 1;
	}
	LM_CALL(count, count_fn, n, NULL, 3, args, lens);
	LM_CALL(which, which_fn, w);
	printf("count %d which %ld\n", n, w);
	lm_export_ref_free(count);
	lm_export_ref_free(which);
	lm_thread_unregister();
	lm_runtime_free(rt);
	return 0;
}
