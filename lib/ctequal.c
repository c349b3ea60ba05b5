/*
 * ctequal.c - constant-time comparison of secrets; see ctequal.h.
 *
 * The differences are OR-ed together and only looked at after the loop.
 * The accumulator is volatile so that the compiler cannot turn the loop
 * back into one that stops once the result is known (it may, for a plain
 * one: once `diff` has a bit set, the answer is fixed).
 */
#include "ctequal.h"

int lm_ct_equal(const void *a, const void *b, size_t n)
{
	const volatile unsigned char *x = a, *y = b;
	volatile unsigned char diff = 0;
	size_t i;

	for (i = 0; i < n; i++)
		diff |= (unsigned char)(x[i] ^ y[i]);
	/* 0 -> 1, 1..255 -> 0, without a branch on the secret */
	return (int)(1 & ((diff - 1u) >> 8));
}
