/* host_bad_ref.c - looks DECL_COUNT up through a DECL_WHICH reference:
 * must not compile. */
#include <livemod/agent.h>

#include "decl_api.h"

int lookup(lm_runtime *rt);
int lookup(lm_runtime *rt)
{
	static LM_REF(DECL_WHICH) r;

	return LM_LOOKUP(&r, rt, DECL_COUNT);
}
