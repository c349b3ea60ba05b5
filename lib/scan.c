/*
 * scan.c - libdir scan with a stat cache; see scan.h.
 */
#include "scan.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "error.h"
#include "fsutil.h"
#include "store.h"

#define RACY_NS 1000000000LL

typedef struct cache {
	lm_stat_entry *v;
	lm_descriptor **descs;
	size_t n;
} cache;

static int64_t ts_ns(struct timespec t)
{
	return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static int has_so_suffix(const char *name)
{
	size_t n = strlen(name);

	return n > 3 && strcmp(name + n - 3, ".so") == 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_entry_file(const void *key, const void *elem)
{
	return strcmp(key, ((const lm_stat_entry *)elem)->file);
}

/* The cached entry for `file` when it still describes `st`, else NULL. */
static ssize_t cache_hit(const cache *c, const char *file,
			 const struct stat *st)
{
	const lm_stat_entry *e;
	int64_t changed;

	if (!c->n)
		return -1;
	e = bsearch(file, c->v, c->n, sizeof(*c->v), cmp_entry_file);
	if (!e || e->size != st->st_size || e->ino != st->st_ino ||
	    e->mtime_ns != ts_ns(st->st_mtim) ||
	    e->ctime_ns != ts_ns(st->st_ctim))
		return -1;
	changed = e->mtime_ns > e->ctime_ns ? e->mtime_ns : e->ctime_ns;
	if (changed + RACY_NS > e->cached_at_ns)
		return -1;
	return e - c->v;
}

static int add_warning(lm_scan *s, const char *msg)
{
	char **w = realloc(s->warnings, (s->nwarnings + 1) * sizeof(*w));

	if (!w || !(w[s->nwarnings] = strdup(msg)))
		return lm_error_set(LM_ERROR, "out of memory");
	s->warnings = w;
	s->nwarnings++;
	return 0;
}

/* Reads one module file: its blob id and descriptor. */
static int read_object(const char *path, char oid[LM_OID_HEXSZ + 1],
		       lm_descriptor **desc)
{
	void *buf;
	size_t len;
	int rc;

	if ((rc = lm_file_read(&buf, &len, path)) < 0)
		return rc;
	rc = lm_store_hash_buf(oid, buf, len);
	if (rc == 0)
		rc = lm_descriptor_read_mem(desc, buf, len, path);
	free(buf);
	return rc;
}

static int scan_one(lm_scan *s, cache *c, const char *libdir,
		    const char *file, int64_t now)
{
	lm_descriptor *desc = NULL;
	char oid[LM_OID_HEXSZ + 1];
	lm_stat_entry *e;
	struct stat st;
	char *path = lm_path_join(libdir, file);
	ssize_t hit;
	int rc = 0;

	if (!path)
		return lm_error_set(LM_ERROR, "out of memory");
	if (stat(path, &st) != 0) {
		rc = lm_error_set(LM_EINVAL, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode))
		goto out;
	hit = cache_hit(c, file, &st);
	if (hit >= 0) {
		memcpy(oid, c->v[hit].oid, sizeof(oid));
		desc = c->descs[hit];
		c->descs[hit] = NULL; /* moved into the scan */
	} else {
		s->nread++;
		rc = read_object(path, oid, &desc);
		if (rc == LM_ENODESC) {
			char *w;

			rc = asprintf(&w, "%s; skipped", lm_error_last()) < 0
				? lm_error_set(LM_ERROR, "out of memory")
				: add_warning(s, w);
			if (rc == 0)
				free(w);
			goto out;
		}
		if (rc < 0)
			goto out;
	}
	e = &s->stats[s->nstats];
	e->file = strdup(file);
	e->size = st.st_size;
	e->mtime_ns = ts_ns(st.st_mtim);
	e->ctime_ns = ts_ns(st.st_ctim);
	e->ino = st.st_ino;
	e->cached_at_ns = now;
	memcpy(e->oid, oid, sizeof(oid));
	if (!e->file) {
		rc = lm_error_set(LM_ERROR, "out of memory");
		goto out;
	}
	s->nstats++;
	rc = lm_modset_add(&s->mods, file, oid, desc);
	desc = NULL;
out:
	lm_descriptor_free(desc);
	free(path);
	return rc;
}

/* The names of the *.so entries of `libdir`, sorted. */
static int list_objects(char ***out, size_t *n, const char *libdir)
{
	struct dirent *de;
	char **v = NULL;
	size_t cap = 0;
	DIR *d;

	*n = 0;
	if (!(d = opendir(libdir)))
		return lm_error_set(LM_EINVAL, "libdir %s: %s", libdir,
				    strerror(errno));
	while ((de = readdir(d))) {
		if (!has_so_suffix(de->d_name))
			continue;
		if (*n == cap) {
			char **nv = realloc(v, (cap = cap ? 2 * cap : 64) *
						       sizeof(*v));
			if (!nv)
				break;
			v = nv;
		}
		if (!(v[*n] = strdup(de->d_name)))
			break;
		(*n)++;
	}
	closedir(d);
	if (de) {
		while (*n)
			free(v[--*n]);
		free(v);
		return lm_error_set(LM_ERROR, "out of memory");
	}
	if (*n)
		qsort(v, *n, sizeof(*v), cmp_str);
	*out = v;
	return 0;
}

int lm_scan_libdir(lm_scan *s, const char *libdir, lm_ledger *ledger)
{
	cache c = {0};
	struct timespec now;
	char **files = NULL;
	size_t nfiles = 0, i;
	int rc;

	memset(s, 0, sizeof(*s));
	if ((rc = list_objects(&files, &nfiles, libdir)) < 0)
		return rc;
	if (ledger && (rc = lm_ledger_stat_load(ledger, &c.v, &c.descs,
						&c.n)) < 0)
		goto out;
	s->stats = calloc(nfiles ? nfiles : 1, sizeof(*s->stats));
	if (!s->stats) {
		rc = lm_error_set(LM_ERROR, "out of memory");
		goto out;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	for (i = 0; i < nfiles && rc == 0; i++)
		rc = scan_one(s, &c, libdir, files[i], ts_ns(now));
	if (rc == 0)
		rc = lm_modset_sort(&s->mods);
out:
	for (i = 0; i < nfiles; i++)
		free(files[i]);
	free(files);
	lm_stat_entries_free(c.v, c.descs, c.n);
	if (rc < 0)
		lm_scan_clear(s);
	return rc;
}

void lm_scan_clear(lm_scan *s)
{
	size_t i;

	lm_modset_clear(&s->mods);
	for (i = 0; i < s->nstats; i++)
		free(s->stats[i].file);
	free(s->stats);
	for (i = 0; i < s->nwarnings; i++)
		free(s->warnings[i]);
	free(s->warnings);
	memset(s, 0, sizeof(*s));
}
