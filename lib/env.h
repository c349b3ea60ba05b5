/*
 * env.h - whole numbers read from the environment: the limits operators
 * and tests set (LIVEMOD_LOCK_TIMEOUT_MS, LIVEMOD_HTTP_IDLE_S, ...).
 */
#ifndef LM_ENV_H
#define LM_ENV_H

/*
 * The environment's `name` as a decimal integer in [min, max] into *out,
 * or `dflt` when it is unset or empty. Anything else — a sign, a space, a
 * unit, a number out of range — is LM_EINVAL with the message
 * "NAME='VALUE': expected UNIT, MIN to MAX": a limit mistyped must not
 * silently become another.
 */
int lm_env_long(const char *name, long min, long max, long dflt,
		const char *unit, long *out);

#endif
