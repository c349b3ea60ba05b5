/*
 * dict.h - the keyspace: a hash table of binary-safe keys to byte values.
 *
 * Compiled into every version of kvd_store (dict.c), and part of the
 * state each version hands the next (kvd_state.h): its layout is the one
 * thing about the state that never changes, so any version can read,
 * copy or take over any other's table. Not thread-safe: kvd calls the
 * keyspace from its one loop thread.
 */
#ifndef KVD_DICT_H
#define KVD_DICT_H

#include <stddef.h>
#include <stdint.h>

struct dict_val {
	size_t len, cap; /* cap: APPEND grows values geometrically */
	char data[];
};

struct dict;

struct dict *dict_new(void);
void dict_free(struct dict *d);
size_t dict_size(const struct dict *d);
/* The value of key, or NULL. */
struct dict_val *dict_get(const struct dict *d, const char *k, size_t kl);
/* Sets key to a copy of v; 0, or -1 out of memory (nothing changed). */
int dict_set(struct dict *d, const char *k, size_t kl, const char *v,
	     size_t vl);
/* Appends v to key's value (creating it); the new length, or -1 out of
 * memory (nothing changed). */
long long dict_append(struct dict *d, const char *k, size_t kl,
		      const char *v, size_t vl);
/* 1 when key was there and is gone, else 0. */
int dict_del(struct dict *d, const char *k, size_t kl);
/* A deep copy, or NULL out of memory. */
struct dict *dict_copy(const struct dict *d);

#endif
