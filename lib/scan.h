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
 */
#ifndef LM_SCAN_H
#define LM_SCAN_H

#include "ledger.h"
#include "modset.h"

typedef struct lm_scan {
	lm_modset mods;         /* sorted by module name */
	lm_stat_entry *stats;   /* one per module file, for the cache */
	size_t nstats;
	char **warnings;        /* "x.so: no livemod descriptor; skipped" */
	size_t nwarnings;
	size_t nread;           /* files read and hashed (cache misses) */
} lm_scan;

/* Scans `libdir`, using the stat cache of `ledger` when not NULL.
 * LM_EINVAL naming libdir when it is missing or unreadable, or naming the
 * file at fault. */
int lm_scan_libdir(lm_scan *out, const char *libdir, lm_ledger *ledger);
void lm_scan_clear(lm_scan *s);

#endif
