/* host_bad_call.c - calls DECL_COUNT with too few arguments: must not
 * compile. */
#include <livemod/agent.h>

#include "decl_api.h"

int call(void);
int call(void)
{
	static LM_REF(DECL_COUNT) r;
	int n;

	LM_INVOKE(r, n, NULL, 1);
	return n;
}
