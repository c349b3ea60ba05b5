/*
 * ctequal.h - comparing secrets (the control API's bearer token) in time
 * that does not depend on where, or whether, they differ.
 *
 * memcmp and strcmp return at the first difference, so how long a wrong
 * guess takes says how many of its leading bytes were right, and a secret
 * can be found a byte at a time. lm_ct_equal reads every byte of both
 * buffers whatever it finds.
 */
#ifndef LM_CTEQUAL_H
#define LM_CTEQUAL_H

#include <stddef.h>

/* 1 when the `n` bytes at `a` and `b` are equal, else 0; reads all `n`
 * bytes of each in every case (no early exit). n == 0 is equal. The
 * length itself is not secret: callers compare lengths first. */
int lm_ct_equal(const void *a, const void *b, size_t n);

#endif
