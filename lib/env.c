/*
 * env.c - whole numbers read from the environment; see env.h.
 */
#include "env.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>

#include "error.h"

int lm_env_long(const char *name, long min, long max, long dflt,
		const char *unit, long *out)
{
	const char *e = getenv(name);
	char *end;
	long v;

	assert(name && unit && out && min <= dflt && dflt <= max);
	*out = dflt;
	if (!e || !*e)
		return 0;
	errno = 0;
	v = strtol(e, &end, 10);
	/* digits only: strtol alone would take " 7" and "-0" */
	if (*end || errno || e[0] < '0' || e[0] > '9' || v < min || v > max)
		return lm_error_set(LM_EINVAL, "%s='%.32s': expected %s, %ld "
				    "to %ld", name, e, unit, min, max);
	*out = v;
	return 0;
}
