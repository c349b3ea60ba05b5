/* host_new.c FIRST.so [NEXT.so] - looks mod_decl's exports up through the
 * declarations (LM_REF, LM_LOOKUP, LM_INVOKE), calls them, and, given a
 * second object, upgrades to it and calls again through the same refs. */
#include <livemod/agent.h>
#include <stdio.h>

#include "decl_api.h"

static LM_REF(DECL_COUNT) count;
static LM_REF(DECL_WHICH) which;

static int call(lm_runtime *rt)
{
	static const char *const argv[] = { "GET", "key" };
	static const size_t lens[] = { 3, 3 };
	long w;
	int n;
	lm_pin *pin;

	LM_INVOKE(count, n, NULL, 2, argv, lens);
	LM_INVOKE(which, w);
	printf("count %d which %ld\n", n, w);
	if (lm_pin_acquire(&pin, rt, "mod_decl", NULL) < 0)
		return -1;
	LM_PIN_INVOKE(pin, count, n, NULL, 1, argv, lens);
	printf("pinned count %d\n", n);
	lm_pin_release(pin);
	return 0;
}

int main(int argc, char **argv)
{
	lm_runtime *rt;
	int rc = 0;

	if (argc < 2 || lm_runtime_new(&rt) < 0)
		return 2;
	lm_thread_register();
	if (lm_runtime_load(rt, argv[1], NULL) < 0 ||
	    LM_LOOKUP(&count, rt, DECL_COUNT) < 0 ||
	    LM_LOOKUP(&which, rt, DECL_WHICH) < 0) {
		fprintf(stderr, "start: %s\n", lm_error_last());
		return 1;
	}
	rc = call(rt);
	if (rc == 0 && argc > 2) {
		/* the refs' signatures are checked against the new version */
		if (lm_runtime_stage(rt, argv[2], NULL, NULL) < 0 ||
		    lm_runtime_suspend(rt, "mod_decl") < 0 ||
		    lm_runtime_publish(rt, "mod_decl") < 0 ||
		    lm_runtime_resume(rt, "mod_decl") < 0 ||
		    lm_runtime_purge(rt, "mod_decl", LM_BRUTAL_PURGE, 0) < 0) {
			fprintf(stderr, "upgrade: %s\n", lm_error_last());
			return 1;
		}
		rc = call(rt);
	}
	lm_export_ref_free(count.ref);
	lm_export_ref_free(which.ref);
	lm_thread_unregister();
	lm_runtime_free(rt);
	return rc < 0;
}
