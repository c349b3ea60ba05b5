/*
 * sqlitelib.c - SQLite, opened at first use; see sqlitelib.h. The soname
 * (LM_SQLITE_SONAME) is the Makefile's, read from the library the
 * headers belong to.
 */
#include "sqlitelib.h"

#include <pthread.h>

#include "error.h"

#define LM_LAZY_VAR lm_sqlite
LM_LAZY_DEFINE(lm_sqlite_table, lm_sqlite, lm_sqlite_load, LM_SQLITE_SONAME, LM_SQLITE_FUNCTIONS)
