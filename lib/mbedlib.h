/*
 * mbedlib.h - the mbedTLS SHA-1 functions lib/store.c hashes blobs with,
 * opened at the first hash rather than linked (lib/lazylib.h): a warm
 * scan hashes nothing, the HTTP commands never. Calls:
 * lm_mbed.sha1_init(...) for mbedtls_sha1_init(...).
 */
#ifndef LM_MBEDLIB_H
#define LM_MBEDLIB_H

#include <mbedtls/sha1.h>

#include "lazylib.h"

/* Every function livemod calls: X(prefix, name). */
#define LM_MBED_FUNCTIONS(X)                                                \
	X(mbedtls_, sha1_init)                                              \
	X(mbedtls_, sha1_starts_ret)                                        \
	X(mbedtls_, sha1_update_ret)                                        \
	X(mbedtls_, sha1_finish_ret)                                        \
	X(mbedtls_, sha1_free)

LM_LAZY_TABLE(lm_mbed_table, lm_mbed, lm_mbed_load, LM_MBED_FUNCTIONS)

#endif
