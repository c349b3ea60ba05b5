/*
 * mbedlib.c - mbedTLS's libmbedcrypto, opened at first use; see mbedlib.h. The soname
 * (LM_MBED_SONAME) is the Makefile's, read from the library the
 * headers belong to.
 */
#include "mbedlib.h"

#include <pthread.h>

#include "error.h"

#define LM_LAZY_VAR lm_mbed
LM_LAZY_DEFINE(lm_mbed_table, lm_mbed, lm_mbed_load, LM_MBED_SONAME, LM_MBED_FUNCTIONS)
