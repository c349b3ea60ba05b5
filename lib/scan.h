/*
 * scan.h - reads a libdir: each module object's blob id and descriptor.
 *
 * As git's index does, a file whose size, mtime, ctime and inode match the
 * stat cache is not read again; an entry is only trusted when the file was
 * last changed at least a second before the entry was written, since file
 * timestamps come from a coarse clock and a change in the same tick would
 * otherwise go unseen ("racily clean", in git's words).
 *
 * Only files named *.so are considered. One that is not an ELF object, or
 * is a corrupt one, or carries a malformed descriptor, fails the scan: a
 * broken install must not be planned. A valid ELF object without a livemod
 * descriptor (a helper library installed alongside) is skipped with a
 * warning.
 *
 * A warm scan of 10,000 modules is a stat() a file and a walk of three
 * sorted lists (libdir, cache, release), as close to `git status` as a
 * ledger in SQLite allows.
 */
#ifndef LM_SCAN_H
#define LM_SCAN_H

#include "ledger.h"
#include "modset.h"

typedef struct lm_scan {
	lm_modset mods;         /* sorted by module name */
	/* With a ledger: the node's current release when scanned, partial
	 * descriptors; what planning diffs against. A file the cache vouches
	 * for that is the same object there shares its descriptor, so `mods`
	 * (and a plan's new set) must not outlive `base`. */
	lm_modset base;
	int64_t base_release;   /* its id; 0 without a ledger or a node */
	lm_stat_entry *stats;   /* one per module file, for the cache */
	size_t nstats;
	char **warnings;        /* "x.so: no livemod descriptor; skipped" */
	size_t nwarnings;
	size_t nread;           /* files read and hashed (cache misses) */
	/* Of those, the stats[] entries the cache would now vouch for: out
	 * of the racy window, of an object the ledger records. What
	 * lm_planning_refresh_stats writes back, so the next scan need not
	 * read them again (git status's index refresh). */
	size_t *fresh;
	size_t nfresh;
	/* A *.so entry is a symbolic link (or of a type readdir did not
	 * say): its object may change outside libdir, where a watch on
	 * libdir does not see it (agent/node/libwatch.h). */
	bool links;
	struct lm_listing *listing; /* between lm_scan_start and _finish */
} lm_scan;

/* Scans `libdir`, using the stat cache of `ledger` when not NULL, and
 * reading the node's current release into out->base. A file the cache
 * vouches for takes its descriptor from there, or from the ledger's record
 * of the object when the file is not that object in the base release.
 * LM_EINVAL naming libdir when it is missing or unreadable, or naming the
 * file at fault. */
int lm_scan_libdir(lm_scan *out, const char *libdir, lm_ledger *ledger);
/* lm_scan_libdir in two steps, for a caller with work of its own to
 * overlap with the listing: lm_scan_start lists and stats `libdir` on a
 * thread of its own, lm_scan_finish reads `ledger` and completes the
 * scan (with its errors). After lm_scan_start, `out` must see
 * lm_scan_finish or lm_scan_clear, which end that thread.
 * lm_scan_libdir itself creates no thread: the node scans inside a busy
 * server, whose own threads should not share the CPUs with a helper at
 * every update; the one-shot CLI, with two cores to itself, starts its
 * scans this way. */
int lm_scan_start(lm_scan *out, const char *libdir);
int lm_scan_finish(lm_scan *s, lm_ledger *ledger);
void lm_scan_clear(lm_scan *s);

/* Whether cache entry `e` is racy: a rewrite of its file could leave the
 * four stat fields as they are, so they vouch for nothing. `margin_ns` is
 * 0 on a file system stamped by this kernel's coarse clock (e's
 * cached_at_ns a reading of that clock before e's stat was taken), more
 * where the stamps may come from another clock. */
bool lm_scan_racy(const lm_stat_entry *e, int64_t margin_ns);
/* That margin for the file system of directory `dirfd`: 0 for the local
 * ones stamped from this kernel's clock (ext2-4, xfs, btrfs, f2fs, zfs,
 * tmpfs, ramfs, overlayfs), a second for any other (NFS, SMB, FUSE...). */
int64_t lm_scan_clock_margin(int dirfd);

#endif
