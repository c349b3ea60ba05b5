/*
 * objects.c - object extraction for dlopen; see objects.h.
 */
#include "objects.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "fsutil.h"

/* ---- files already checked against their oid ------------------------- */

/*
 * Re-hashing every object at every apply was a third of a many-module
 * apply. A file this process hashed is trusted again while it is the same
 * file with the same contents: same path, device, inode, size, mtime and
 * ctime. The kernel sets ctime on every write, truncate, chmod, link or
 * rename of the inode, and no system call sets it to a chosen value, so
 * any change to the bytes after the hash shows. File timestamps come from
 * a clock that ticks coarsely: a change in the same tick as the hash could
 * leave ctime equal, so an entry is only kept when the file's ctime is
 * strictly older than the (coarse) time the hash began; a file written or
 * changed just before is hashed again at its next use.
 */
typedef struct verified {
	char *path;
	char oid[LM_OID_HEXSZ + 1];
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
} verified;

#define VERIFIED_MAX 1024 /* a bound for a node that runs for years */

static pthread_mutex_t verified_mu = PTHREAD_MUTEX_INITIALIZER;
static verified verified_tab[VERIFIED_MAX];
static size_t nverified, verified_next;

static bool ts_eq(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

static bool ts_lt(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec ||
	       (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

static bool same_file(const verified *v, const struct stat *st)
{
	return v->dev == st->st_dev && v->ino == st->st_ino &&
	       v->size == st->st_size && ts_eq(&v->mtime, &st->st_mtim) &&
	       ts_eq(&v->ctime, &st->st_ctim);
}

/* 1 when `path` is a file this process found to hold `oid` and that has
 * not changed since. */
static int trusted(const char *path, const char *oid)
{
	struct stat st;
	size_t i;
	int ok = 0;

	if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
		return 0;
	pthread_mutex_lock(&verified_mu);
	for (i = 0; i < nverified && !ok; i++)
		ok = strcmp(verified_tab[i].oid, oid) == 0 &&
		     strcmp(verified_tab[i].path, path) == 0 &&
		     same_file(&verified_tab[i], &st);
	pthread_mutex_unlock(&verified_mu);
	return ok;
}

/* Records that `path` hashed to `oid` by a read that began at `began`. */
static void note_verified(const char *path, const char *oid,
			  const struct timespec *began)
{
	struct stat st;
	verified *v = NULL;
	char *copy;
	size_t i;

	if (stat(path, &st) != 0 || !ts_lt(&st.st_ctim, began))
		return;
	if (!(copy = strdup(path)))
		return; /* only a cache */
	pthread_mutex_lock(&verified_mu);
	for (i = 0; i < nverified && !v; i++)
		if (strcmp(verified_tab[i].path, path) == 0)
			v = &verified_tab[i];
	if (!v && nverified < VERIFIED_MAX)
		v = &verified_tab[nverified++];
	if (!v) { /* full: the oldest entry goes */
		v = &verified_tab[verified_next];
		verified_next = (verified_next + 1) % VERIFIED_MAX;
	}
	free(v->path);
	v->path = copy;
	snprintf(v->oid, sizeof(v->oid), "%s", oid);
	v->dev = st.st_dev;
	v->ino = st.st_ino;
	v->size = st.st_size;
	v->mtime = st.st_mtim;
	v->ctime = st.st_ctim;
	pthread_mutex_unlock(&verified_mu);
}

/* ---- extraction ------------------------------------------------------ */

/* 1 when the file at `path` holds exactly the object `oid`: trusted from
 * an earlier hash, or hashed now. */
static int holds(const char *path, const char *oid)
{
	char got[LM_OID_HEXSZ + 1];
	struct timespec began;

	if (trusted(path, oid))
		return 1;
	clock_gettime(CLOCK_REALTIME_COARSE, &began);
	if (access(path, F_OK) != 0 || lm_store_hash_file(got, path) != 0 ||
	    strcmp(got, oid) != 0)
		return 0;
	note_verified(path, oid, &began);
	return 1;
}

/* The path `oid` loads from: objects/<oid>.so, or objects/<oid>.<k>.so
 * while the names before it are loaded. Sets *ok when a verified copy of
 * the object is already there. */
static int locate(char **path, int *ok, const char *state_dir,
		  lm_runtime *rt, const char *oid)
{
	char *p = NULL;
	unsigned k;

	*path = NULL;
	*ok = 0;
	if (!lm_oid_valid(oid))
		return lm_error_set(LM_EINVAL, "'%s' is not an object id", oid);
	for (k = 0; k < 1000; k++) {
		free(p);
		if ((k == 0 ? asprintf(&p, "%s/objects/%s.so", state_dir, oid)
			    : asprintf(&p, "%s/objects/%s.%u.so", state_dir,
				       oid, k)) < 0)
			return lm_error_set(LM_ERROR, "out of memory");
		if (!lm_runtime_file_loaded(rt, p))
			break;
	}
	if (k == 1000) {
		free(p);
		return lm_error_set(LM_EBUSY, "object %s is loaded 1000 times",
				    oid);
	}
	*ok = holds(p, oid);
	*path = p;
	return 0;
}

int lm_objects_reuse(char **path, const char *state_dir, lm_runtime *rt,
		     const char *oid)
{
	int ok, rc = locate(path, &ok, state_dir, rt, oid);

	if (rc < 0)
		return rc;
	if (!ok) {
		free(*path);
		*path = NULL;
	}
	return ok;
}

/* Writes the bytes of object `oid` from the store, or else from the
 * file `src` (hashed: it must still hold exactly `oid`), to its path. */
static int extract(char **path, const char *state_dir, lm_store *store,
		   const char *src, lm_runtime *rt, const char *oid)
{
	char got[LM_OID_HEXSZ + 1];
	void *buf = NULL;
	size_t len = 0;
	char *p;
	int ok, rc = locate(&p, &ok, state_dir, rt, oid);

	if (rc < 0 || ok) {
		*path = rc < 0 ? NULL : p;
		return rc;
	}
	if (store)
		rc = lm_store_read(store, oid, &buf, &len);
	else if ((rc = lm_file_read(&buf, &len, src)) == 0 &&
		 (rc = lm_store_hash_buf(got, buf, len)) == 0 &&
		 strcmp(got, oid) != 0)
		rc = lm_error_set(LM_ECHECK, "%s no longer holds object %s "
				  "(it holds %s)", src, oid, got);
	if (rc == 0)
		rc = lm_file_write_atomic(p, buf, len, 0500);
	free(buf);
	if (rc < 0) {
		free(p);
		return rc;
	}
	*path = p;
	return 0;
}

int lm_objects_extract(char **path, const char *state_dir, lm_store *store,
		       lm_runtime *rt, const char *oid)
{
	return extract(path, state_dir, store, NULL, rt, oid);
}

int lm_objects_copy(char **path, const char *state_dir, const char *src,
		    lm_runtime *rt, const char *oid)
{
	return extract(path, state_dir, NULL, src, rt, oid);
}
