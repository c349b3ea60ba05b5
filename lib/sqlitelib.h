/*
 * sqlitelib.h - the SQLite functions livemod calls (lib/ledger.c,
 * lib/gc.c), opened at the first ledger open rather than linked
 * (lib/lazylib.h): `livemod status` and the other HTTP commands never
 * open the ledger. Calls: lm_sqlite.step(st) for sqlite3_step(st).
 */
#ifndef LM_SQLITELIB_H
#define LM_SQLITELIB_H

#include <sqlite3.h>

#include "lazylib.h"

/* Every function livemod calls: X(prefix, name). */
#define LM_SQLITE_FUNCTIONS(X)                                              \
	X(sqlite3_, bind_int64)                                             \
	X(sqlite3_, bind_null)                                              \
	X(sqlite3_, bind_parameter_count)                                   \
	X(sqlite3_, bind_text)                                              \
	X(sqlite3_, busy_timeout)                                           \
	X(sqlite3_, clear_bindings)                                         \
	X(sqlite3_, changes)                                                \
	X(sqlite3_, close)                                                  \
	X(sqlite3_, column_bytes)                                           \
	X(sqlite3_, column_int64)                                           \
	X(sqlite3_, column_name)                                            \
	X(sqlite3_, column_text)                                            \
	X(sqlite3_, column_type)                                            \
	X(sqlite3_, db_filename)                                            \
	X(sqlite3_, db_handle)                                              \
	X(sqlite3_, errcode)                                                \
	X(sqlite3_, errmsg)                                                 \
	X(sqlite3_, exec)                                                   \
	X(sqlite3_, extended_result_codes)                                  \
	X(sqlite3_, finalize)                                               \
	X(sqlite3_, free)                                                   \
	X(sqlite3_, get_autocommit)                                         \
	X(sqlite3_, last_insert_rowid)                                      \
	X(sqlite3_, mprintf)                                                \
	X(sqlite3_, open_v2)                                                \
	X(sqlite3_, prepare_v2)                                             \
	X(sqlite3_, reset)                                                  \
	X(sqlite3_, sql)                                                    \
	X(sqlite3_, step)                                                   \
	X(sqlite3_, total_changes64)

LM_LAZY_TABLE(lm_sqlite_table, lm_sqlite, lm_sqlite_load, LM_SQLITE_FUNCTIONS)

#endif
