/*
 * libwatch.h - whether anything in a directory may have changed since
 * the last look (inotify): what lets the node answer GET /update-modules
 * from its last scan instead of stat'ing every object again
 * (docs/control-api.md, "update_list from memory").
 *
 * Not thread-safe: the node asks under its ledger_mu.
 */
#ifndef LM_LIBWATCH_H
#define LM_LIBWATCH_H

#include <stdint.h>
#include <sys/inotify.h>

typedef struct lm_libwatch lm_libwatch;

/* What a change to a libdir is, for inotify: the watch below and the
 * precompute thread's (agent/node/precompute.c) ask for the same. */
#define LM_LIBDIR_EVENTS (IN_CREATE | IN_DELETE | IN_MODIFY | IN_ATTRIB |     \
			  IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO |       \
			  IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)

/* Reads every event queued on the non-blocking inotify `fd`, passing each
 * to `each`; 0 once the queue is empty, -1 on a read error other than
 * EAGAIN or EINTR (events may be lost). */
int lm_inotify_drain(int fd, void (*each)(const struct inotify_event *ev,
					  void *ctx),
		     void *ctx);

/* Watches `dir`. Never fails for want of inotify: a watch that cannot be
 * set up answers "changed" every time. LM_ERROR only when out of
 * memory. */
int lm_libwatch_open(lm_libwatch **out, const char *dir);
/* A number that moves whenever `dir` or a file in it may have changed
 * since the previous call: an entry created, removed, renamed, written
 * or its attributes changed; the directory removed, renamed or its path
 * pointing at another one; events lost; no watch. Equal numbers from two
 * calls mean that none of this happened in between, as far as the
 * kernel saw (a file changed through a hard link from elsewhere, through
 * a shared writable mapping, or by another host over a network file
 * system, is not seen). */
uint64_t lm_libwatch_generation(lm_libwatch *w);
/* Accepts NULL. */
void lm_libwatch_free(lm_libwatch *w);

#endif
