/*
 * scan.c - libdir scan with a stat cache; see scan.h.
 */
#include "scan.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>

#include <linux/magic.h>

#include "error.h"
#include "fsutil.h"
#include "heap.h"
#include "store.h"

/* Where file times may come from another clock than this kernel's coarse
 * one (a file server's, a FUSE daemon's), an entry is trusted only a
 * second past the file's change, as before the clock rule below. */
#define FOREIGN_CLOCK_NS 1000000000LL
/* A file system that stores whole seconds (ext3's small inodes, FAT's 2 s) */
#define WHOLE_SECONDS_NS 2000000000LL
#define ZFS_SUPER_MAGIC 0x2fc12fc1 /* not in linux/magic.h: out of tree */

/* The stat cache and the base release, whose descriptors cache hits share,
 * both walked in file name order alongside the sorted libdir listing, so
 * that each file costs a comparison or two rather than two searches. */
typedef struct cache {
	lm_stat_entry *v;
	size_t n, at;
	const lm_modinfo **known; /* `known` by file name */
	size_t nknown, kat;
	lm_ledger *ledger;
	int64_t margin_ns; /* the listing's */
} cache;

/* The libdir's *.so entries and their stats, taken while the ledger is
 * read: a thread lists the directory and starts on the stats, and the
 * scan, once done with the ledger, takes its share of what is left (as
 * git's preload-index does). On two cores the halves of a warm scan then
 * overlap: 10,000 stats cost ~30 ms on the project's VM. */
typedef struct lm_listing {
	char *libdir;
	pthread_t lister;
	bool threaded;         /* lister runs; else its work was done inline */
	DIR *dir;              /* open until the listing is cleared */
	char **files;          /* the *.so names, sorted */
	lm_stat_entry *st;     /* st[i]: the stat of files[i], no file, no oid */
	int *mode;             /* st_mode of files[i], or -errno */
	size_t n;
	bool links;            /* a *.so entry is a link, or of unknown type */
	atomic_size_t next;    /* the first file nobody has taken to stat */
	pthread_mutex_t mu;    /* guards `listed` */
	pthread_cond_t cv;
	bool listed;           /* files, n, st, mode and rc are set */
	int rc;                /* the listing's, message in msg */
	int64_t before_ns;     /* the coarse clock before the first stat */
	int64_t margin_ns;     /* 0, or FOREIGN_CLOCK_NS (libdir's file system) */
	char msg[1024];        /* lm_error_last() of the lister */
} listing; /* lm_scan.listing between lm_scan_start and its end */

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

/* Linux stamps a file from the kernel's coarse wall clock, truncated to
 * the file system's granularity. A change made after a scan read that
 * clock (before its first stat) is stamped at that reading or later; so
 * an entry whose file last changed a granule before it cannot be matched
 * by a later rewrite, and any other entry can (git's "racily clean"). The
 * granularity is read off the stamps themselves: a power of ten dividing
 * both nanosecond fields, or whole seconds when both are 0. */
bool lm_scan_racy(const lm_stat_entry *e, int64_t margin_ns)
{
	int64_t changed = e->mtime_ns > e->ctime_ns ? e->mtime_ns : e->ctime_ns;
	int64_t m = e->mtime_ns % 1000000000, c = e->ctime_ns % 1000000000;
	int64_t gran = 1;

	if (m == 0 && c == 0)
		gran = WHOLE_SECONDS_NS;
	else
		while (gran < 100000000 && m % (gran * 10) == 0 &&
		       c % (gran * 10) == 0)
			gran *= 10;
	return changed + gran + margin_ns > e->cached_at_ns;
}

/* The cached entry for `file` when it still describes `now` (the file's
 * stat as taken by this scan), else NULL. Files must come in increasing
 * order. */
static const lm_stat_entry *cache_hit(cache *c, const char *file,
				      const lm_stat_entry *now)
{
	const lm_stat_entry *e;
	int cmp = 1;

	while (c->at < c->n && (cmp = strcmp(c->v[c->at].file, file)) < 0)
		c->at++;
	if (cmp != 0)
		return NULL;
	e = &c->v[c->at];
	if (e->size != now->size || e->ino != now->ino ||
	    e->mtime_ns != now->mtime_ns || e->ctime_ns != now->ctime_ns)
		return NULL;
	return lm_scan_racy(e, c->margin_ns) ? NULL : e;
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

/* Whether the cache, given entry `e` (just read, cached_at_ns set), would
 * trust it next time: out of the racy window (as cache_hit checks), and
 * of an object the ledger records (the cache's foreign key). */
static int worth_caching(cache *c, const lm_stat_entry *e)
{
	if (!c->ledger || lm_scan_racy(e, c->margin_ns))
		return 0;
	if (known_as(c, e->file, e->oid))
		return 1;
	return lm_ledger_module_known(c->ledger, e->oid);
}

static int add_fresh(lm_scan *s, size_t i)
{
	size_t *v = realloc(s->fresh, (s->nfresh + 1) * sizeof(*v));

	if (!v)
		return lm_error_set(LM_ERROR, "out of memory");
	s->fresh = v;
	s->fresh[s->nfresh++] = i;
	return 0;
}

/* Takes libdir entry ls->files[i] (at `path`) into the scan, by its stat
 * in ls->st[i] and ls->mode[i], dating its cache entry `cached_at`.
 * s->stats is ls->st, compacted as it goes: the entry written is
 * s->nstats <= i. */
static int scan_one(lm_scan *s, cache *c, const char *path, listing *ls,
		    size_t i, int64_t cached_at)
{
	const lm_stat_entry *hit;
	lm_descriptor *desc = NULL;
	char oid[LM_OID_HEXSZ + 1];
	lm_stat_entry *e;
	int mode = ls->mode[i];
	bool shared = false;
	int rc = 0;

	assert(s->stats == ls->st && s->nstats <= i);
	if (mode < 0)
		return lm_error_set(LM_EINVAL, "%s: %s", path, strerror(-mode));
	if (!S_ISREG(mode))
		return 0;
	/* the libdir's rule (lm_path_trusted), for the file itself */
	if (mode & 022)
		return lm_error_set(LM_EINVAL, "%s is writable by %s (mode "
				    "%04o): refusing to plan code others can "
				    "change; chmod go-w it", path,
				    (mode & 002) ? "others" : "its group",
				    (unsigned)(mode & 07777));
	hit = cache_hit(c, ls->files[i], &ls->st[i]);
	if (hit && (rc = hit_desc(c, ls->files[i], hit, &desc, &shared)) < 0)
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
	rc = shared ? lm_modset_add_shared(&s->mods, ls->files[i], oid, desc)
		    : lm_modset_add(&s->mods, ls->files[i], oid, desc);
	if (rc < 0)
		return rc;
	e = &s->stats[s->nstats++];
	*e = ls->st[i];
	e->file = ls->files[i]; /* taken from the listing */
	ls->files[i] = NULL;
	e->cached_at_ns = cached_at;
	memcpy(e->oid, oid, sizeof(oid));
	if (hit)
		return 0;
	rc = worth_caching(c, e);
	return rc > 0 ? add_fresh(s, s->nstats - 1) : rc;
}

/* A zeroed array populated in one call (the stat array of 10,000 files
 * is 220 pages). */
static void *calloc_populated(size_t n, size_t size)
{
	char *p;

	if (n > SIZE_MAX / size || !(p = malloc(n * size)))
		return NULL;
	lm_populate(p, n * size);
	return memset(p, 0, n * size);
}

int64_t lm_scan_clock_margin(int dirfd)
{
	struct statfs fs;

	if (fstatfs(dirfd, &fs) != 0)
		return FOREIGN_CLOCK_NS;
	switch ((unsigned long)fs.f_type) {
	case EXT4_SUPER_MAGIC: /* ext2 and ext3 too */
	case XFS_SUPER_MAGIC:
	case BTRFS_SUPER_MAGIC:
	case F2FS_SUPER_MAGIC:
	case ZFS_SUPER_MAGIC:
	case TMPFS_MAGIC:
	case RAMFS_MAGIC:
	case OVERLAYFS_SUPER_MAGIC:
		return 0;
	default:
		return FOREIGN_CLOCK_NS;
	}
}

/* The *.so entries of ls->libdir, sorted, with room for their stats. */
static int list_objects(listing *ls)
{
	struct dirent *de;
	size_t cap = 0, n1;

	if (!(ls->dir = opendir(ls->libdir)))
		return lm_error_set(LM_EINVAL, "libdir %s: %s", ls->libdir,
				    strerror(errno));
	ls->margin_ns = lm_scan_clock_margin(dirfd(ls->dir));
	while ((de = readdir(ls->dir))) {
		if (!has_so_suffix(de->d_name))
			continue;
		if (de->d_type == DT_LNK || de->d_type == DT_UNKNOWN)
			ls->links = true;
		if (ls->n == cap) {
			char **nv = realloc(ls->files,
					    (cap = cap ? 2 * cap : 64) *
						    sizeof(*nv));
			if (!nv)
				break;
			ls->files = nv;
		}
		if (!(ls->files[ls->n] = strdup(de->d_name)))
			break;
		ls->n++;
	}
	n1 = ls->n ? ls->n : 1;
	if (de || !(ls->st = calloc_populated(n1, sizeof(*ls->st))) ||
	    !(ls->mode = calloc_populated(n1, sizeof(*ls->mode))))
		return lm_error_set(LM_ERROR, "out of memory");
	if (ls->n)
		qsort(ls->files, ls->n, sizeof(*ls->files), cmp_str);
	return 0;
}

/* Stats files nobody has taken yet, a run of them at a time, until none
 * is left; run by the lister and by the scan alike. */
static void stat_share(listing *ls)
{
	enum { RUN = 64 };
	struct stat st;
	size_t i, end;

	while ((i = atomic_fetch_add(&ls->next, RUN)) < ls->n) {
		end = i + RUN < ls->n ? i + RUN : ls->n;
		for (; i < end; i++) {
			lm_stat_entry *e = &ls->st[i];

			if (fstatat(dirfd(ls->dir), ls->files[i], &st, 0) != 0) {
				ls->mode[i] = -errno;
				continue;
			}
			ls->mode[i] = (int)st.st_mode;
			e->size = st.st_size;
			e->mtime_ns = ts_ns(st.st_mtim);
			e->ctime_ns = ts_ns(st.st_ctim);
			e->ino = st.st_ino;
		}
	}
}

static void *listing_run(void *arg)
{
	listing *ls = arg;
	int rc = list_objects(ls);

	pthread_mutex_lock(&ls->mu);
	if ((ls->rc = rc) < 0)
		snprintf(ls->msg, sizeof(ls->msg), "%s", lm_error_last());
	ls->listed = true;
	pthread_cond_signal(&ls->cv);
	pthread_mutex_unlock(&ls->mu);
	if (rc == 0)
		stat_share(ls);
	return NULL;
}

/* Waits for the listing, then stats with the lister; the listing's
 * result. */
static int listing_finish(listing *ls)
{
	int rc;

	pthread_mutex_lock(&ls->mu);
	while (!ls->listed)
		pthread_cond_wait(&ls->cv, &ls->mu);
	rc = ls->rc;
	pthread_mutex_unlock(&ls->mu);
	if (rc == 0)
		stat_share(ls);
	if (ls->threaded)
		pthread_join(ls->lister, NULL);
	ls->threaded = false;
	return rc < 0 ? lm_error_set(rc, "%s", ls->msg) : 0;
}

/* Ends and frees a listing, joining its thread first. */
static void listing_free(listing *ls)
{
	size_t i;

	if (!ls)
		return;
	if (ls->threaded)
		pthread_join(ls->lister, NULL);
	for (i = 0; i < ls->n; i++)
		free(ls->files[i]);
	free(ls->files);
	free(ls->st);
	free(ls->mode);
	if (ls->dir)
		closedir(ls->dir);
	pthread_mutex_destroy(&ls->mu);
	pthread_cond_destroy(&ls->cv);
	free(ls->libdir);
	free(ls);
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

/* lm_scan_start, with the listing on a thread of its own when `thread` */
static int scan_start(lm_scan *s, const char *libdir, bool thread)
{
	listing *ls = calloc(1, sizeof(*ls));
	struct timespec now;

	memset(s, 0, sizeof(*s));
	if (!ls || !(ls->libdir = strdup(libdir))) {
		free(ls);
		return lm_error_set(LM_ERROR, "out of memory");
	}
	pthread_mutex_init(&ls->mu, NULL);
	pthread_cond_init(&ls->cv, NULL);
	clock_gettime(CLOCK_REALTIME_COARSE, &now);
	ls->before_ns = ts_ns(now);
	ls->threaded = thread &&
		       pthread_create(&ls->lister, NULL, listing_run, ls) == 0;
	if (!ls->threaded)
		listing_run(ls);
	s->listing = ls;
	return 0;
}

int lm_scan_start(lm_scan *s, const char *libdir)
{
	return scan_start(s, libdir, true);
}

int lm_scan_finish(lm_scan *s, lm_ledger *ledger)
{
	listing *ls = s->listing;
	cache c = { .ledger = ledger };
	char *path = NULL;
	size_t dirlen, i;
	int rc, ls_rc;

	assert(ls && !s->stats);
	dirlen = strlen(ls->libdir);
	rc = lm_path_trusted(ls->libdir, "libdir");
	if (rc == 0 && ledger && (rc = load_base(s, ledger)) == 0 &&
	    (rc = lm_ledger_stat_load(ledger, &c.v, &c.n)) == 0)
		rc = known_by_file(&c, &s->base);
	if ((ls_rc = listing_finish(ls)) < 0)
		rc = ls_rc; /* the listing's error first: a missing libdir */
	s->links = ls->links;
	c.margin_ns = ls->margin_ns;
	if (rc < 0 || (rc = lm_modset_reserve(&s->mods, ls->n)) < 0)
		goto out;
	/* One path buffer for every file: names are at most NAME_MAX. */
	if (!(path = malloc(dirlen + NAME_MAX + 2))) {
		rc = lm_error_set(LM_ERROR, "out of memory");
		goto out;
	}
	memcpy(path, ls->libdir, dirlen);
	path[dirlen] = '/';
	s->stats = ls->st; /* compacted by scan_one; freed by lm_scan_clear */
	for (i = 0; i < ls->n && rc == 0; i++) {
		size_t len = strlen(ls->files[i]);

		assert(len <= NAME_MAX);
		memcpy(path + dirlen + 1, ls->files[i], len + 1);
		rc = scan_one(s, &c, path, ls, i, ls->before_ns);
	}
	ls->st = NULL;
	if (rc == 0)
		rc = lm_modset_sort(&s->mods);
out:
	s->listing = NULL;
	listing_free(ls);
	free(path);
	free(c.known);
	lm_stat_entries_free(c.v, c.n);
	if (rc < 0)
		lm_scan_clear(s);
	return rc;
}

int lm_scan_libdir(lm_scan *s, const char *libdir, lm_ledger *ledger)
{
	int rc = scan_start(s, libdir, false);

	return rc < 0 ? rc : lm_scan_finish(s, ledger);
}

void lm_scan_clear(lm_scan *s)
{
	size_t i;

	listing_free(s->listing);
	lm_modset_clear(&s->mods); /* first: it shares base's descriptors */
	lm_modset_clear(&s->base);
	for (i = 0; i < s->nstats; i++)
		free(s->stats[i].file);
	free(s->stats);
	for (i = 0; i < s->nwarnings; i++)
		free(s->warnings[i]);
	free(s->warnings);
	free(s->fresh);
	memset(s, 0, sizeof(*s));
}
