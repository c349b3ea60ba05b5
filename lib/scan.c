/*
 * scan.c - libdir scan with a stat cache; see scan.h.
 */
#include "scan.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "error.h"
#include "fsutil.h"
#include "store.h"

#define RACY_NS 1000000000LL

/* The stat cache and the base release, whose descriptors cache hits share,
 * both walked in file name order alongside the sorted libdir listing, so
 * that each file costs a comparison or two rather than two searches. */
typedef struct cache {
	lm_stat_entry *v;
	size_t n, at;
	const lm_modinfo **known; /* `known` by file name */
	size_t nknown, kat;
	lm_ledger *ledger;
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

static int cmp_modinfo_file(const void *a, const void *b)
{
	return strcmp((*(const lm_modinfo *const *)a)->file,
		      (*(const lm_modinfo *const *)b)->file);
}

/* The cached entry for `file` when it still describes `st`, else NULL.
 * Files must come in increasing order. */
static const lm_stat_entry *cache_hit(cache *c, const char *file,
				      const struct stat *st)
{
	const lm_stat_entry *e;
	int64_t changed;
	int cmp = 1;

	while (c->at < c->n && (cmp = strcmp(c->v[c->at].file, file)) < 0)
		c->at++;
	if (cmp != 0)
		return NULL;
	e = &c->v[c->at];
	if (e->size != st->st_size || e->ino != st->st_ino ||
	    e->mtime_ns != ts_ns(st->st_mtim) ||
	    e->ctime_ns != ts_ns(st->st_ctim))
		return NULL;
	changed = e->mtime_ns > e->ctime_ns ? e->mtime_ns : e->ctime_ns;
	if (changed + RACY_NS > e->cached_at_ns)
		return NULL;
	return e;
}

/* The known module of `file` when it is object `oid`, else NULL. Files
 * must come in increasing order. */
static const lm_modinfo *known_as(cache *c, const char *file, const char *oid)
{
	int cmp = 1;

	while (c->kat < c->nknown &&
	       (cmp = strcmp(c->known[c->kat]->file, file)) < 0)
		c->kat++;
	if (cmp != 0 || strcmp(c->known[c->kat]->oid, oid) != 0)
		return NULL;
	return c->known[c->kat];
}

/* Indexes `known` (the base release) by file name. A release lists in
 * module name order, which is file name order when files are named after
 * their modules. */
static int known_by_file(cache *c, const lm_modset *known)
{
	size_t i;
	bool sorted = true;

	if (!known->n)
		return 0;
	if (!(c->known = malloc(known->n * sizeof(*c->known))))
		return lm_error_set(LM_ERROR, "out of memory");
	for (i = 0; i < known->n; i++) {
		c->known[i] = &known->v[i];
		if (i && strcmp(known->v[i - 1].file, known->v[i].file) > 0)
			sorted = false;
	}
	if (!sorted)
		qsort(c->known, known->n, sizeof(*c->known), cmp_modinfo_file);
	c->nknown = known->n;
	return 0;
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

/* The descriptor of a cache hit: shared with the known release when the
 * file was that object in it, else the ledger's record of the object.
 * *desc NULL (and 0) when the ledger has none: read the file then. */
static int hit_desc(cache *c, const char *file, const lm_stat_entry *e,
		    lm_descriptor **desc, bool *shared)
{
	const lm_modinfo *m = known_as(c, file, e->oid);
	int rc;

	*desc = NULL;
	*shared = m != NULL;
	if (m) {
		*desc = m->desc;
		return 0;
	}
	rc = lm_ledger_module_version(c->ledger, e->oid, desc);
	return rc == LM_ENOTFOUND ? 0 : rc;
}

/* Scans libdir entry `file` (at `path`), taking it into the scan. */
static int scan_one(lm_scan *s, cache *c, const char *path, char **file,
		    int64_t now)
{
	const lm_stat_entry *hit;
	lm_descriptor *desc = NULL;
	char oid[LM_OID_HEXSZ + 1];
	lm_stat_entry *e;
	struct stat st;
	bool shared = false;
	int rc = 0;

	if (stat(path, &st) != 0)
		return lm_error_set(LM_EINVAL, "%s: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return 0;
	/* the libdir's rule (lm_path_trusted), for the file itself */
	if (st.st_mode & 022)
		return lm_error_set(LM_EINVAL, "%s is writable by %s (mode "
				    "%04o): refusing to plan code others can "
				    "change; chmod go-w it", path,
				    (st.st_mode & 002) ? "others" : "its group",
				    (unsigned)(st.st_mode & 07777));
	hit = cache_hit(c, *file, &st);
	if (hit && (rc = hit_desc(c, *file, hit, &desc, &shared)) < 0)
		return rc;
	if (desc) {
		memcpy(oid, hit->oid, sizeof(oid));
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
			return rc;
		}
		if (rc < 0)
			return rc;
	}
	rc = shared ? lm_modset_add_shared(&s->mods, *file, oid, desc)
		    : lm_modset_add(&s->mods, *file, oid, desc);
	if (rc < 0)
		return rc;
	e = &s->stats[s->nstats++];
	e->file = *file; /* taken from the listing */
	*file = NULL;
	e->size = st.st_size;
	e->mtime_ns = ts_ns(st.st_mtim);
	e->ctime_ns = ts_ns(st.st_ctim);
	e->ino = st.st_ino;
	e->cached_at_ns = now;
	memcpy(e->oid, oid, sizeof(oid));
	return 0;
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

/* The node's current release into s->base; none when the ledger has no
 * node yet. */
static int load_base(lm_scan *s, lm_ledger *ledger)
{
	lm_node_info node;
	int rc = lm_ledger_node_get(ledger, &node);

	if (rc == LM_ENOTFOUND)
		return 0;
	if (rc == 0 && node.current_release > 0) {
		rc = lm_ledger_release_index(ledger, node.current_release,
					     &s->base);
		if (rc == 0)
			s->base_release = node.current_release;
	}
	lm_node_info_clear(&node);
	return rc;
}

int lm_scan_libdir(lm_scan *s, const char *libdir, lm_ledger *ledger)
{
	cache c = { .ledger = ledger };
	struct timespec now;
	char **files = NULL, *path = NULL;
	size_t nfiles = 0, dirlen = strlen(libdir), i;
	int rc;

	memset(s, 0, sizeof(*s));
	if ((rc = list_objects(&files, &nfiles, libdir)) < 0 ||
	    (rc = lm_path_trusted(libdir, "libdir")) < 0)
		goto out;
	if (ledger && ((rc = load_base(s, ledger)) < 0 ||
		       (rc = lm_ledger_stat_load(ledger, &c.v, &c.n)) < 0 ||
		       (rc = known_by_file(&c, &s->base)) < 0))
		goto out;
	s->stats = calloc(nfiles ? nfiles : 1, sizeof(*s->stats));
	/* One path buffer for every file: names are at most NAME_MAX. */
	path = malloc(dirlen + NAME_MAX + 2);
	if (!s->stats || !path) {
		rc = lm_error_set(LM_ERROR, "out of memory");
		goto out;
	}
	memcpy(path, libdir, dirlen);
	path[dirlen] = '/';
	clock_gettime(CLOCK_REALTIME, &now);
	for (i = 0; i < nfiles && rc == 0; i++) {
		size_t len = strlen(files[i]);

		assert(len <= NAME_MAX);
		memcpy(path + dirlen + 1, files[i], len + 1);
		rc = scan_one(s, &c, path, &files[i], ts_ns(now));
	}
	if (rc == 0)
		rc = lm_modset_sort(&s->mods);
out:
	for (i = 0; i < nfiles; i++)
		free(files[i]);
	free(files);
	free(path);
	free(c.known);
	lm_stat_entries_free(c.v, c.n);
	if (rc < 0)
		lm_scan_clear(s);
	return rc;
}

void lm_scan_clear(lm_scan *s)
{
	size_t i;

	lm_modset_clear(&s->mods); /* first: it shares base's descriptors */
	lm_modset_clear(&s->base);
	for (i = 0; i < s->nstats; i++)
		free(s->stats[i].file);
	free(s->stats);
	for (i = 0; i < s->nwarnings; i++)
		free(s->warnings[i]);
	free(s->warnings);
	memset(s, 0, sizeof(*s));
}
