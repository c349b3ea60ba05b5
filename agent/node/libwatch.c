/*
 * libwatch.c - an inotify watch on the node's libdir, read only when the
 * node asks (lm_libwatch_generation): no thread, nothing done between
 * requests but the kernel queueing events.
 *
 * The kernel queues an event inside the system call that made the change,
 * so a change whose call returned before a request began is in the queue
 * when that request drains it. Anything the watch cannot vouch for counts
 * as a change: an overflowed queue, the directory gone or replaced (the
 * path resolving to another inode: a symlinked libdir re-pointed), no
 * watch at all.
 */
#include "libwatch.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"

/* what ends the watch or loses events: the directory must be watched anew */
#define LOST_MASK (IN_Q_OVERFLOW | IN_IGNORED | IN_DELETE_SELF |               \
		   IN_MOVE_SELF | IN_UNMOUNT)

struct lm_libwatch {
	char *dir;
	int fd;           /* inotify, non-blocking; -1 without inotify */
	int wd;           /* the watch; -1 when the directory is not watched */
	dev_t dev;        /* the directory watched */
	ino_t ino;
	uint64_t gen;
};

static bool same_dir(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* Watches w->dir anew. The directory is stat'ed before and after the
 * watch is added: when both name one inode, it is the one watched. */
static void rewatch(lm_libwatch *w)
{
	struct stat before, after;

	if (w->wd >= 0)
		(void)inotify_rm_watch(w->fd, w->wd); /* gone already: fine */
	w->wd = -1;
	if (w->fd < 0 || stat(w->dir, &before) != 0)
		return;
	w->wd = inotify_add_watch(w->fd, w->dir, LM_LIBDIR_EVENTS);
	if (w->wd >= 0 &&
	    (stat(w->dir, &after) != 0 || !same_dir(&before, &after))) {
		(void)inotify_rm_watch(w->fd, w->wd);
		w->wd = -1;
	}
	w->dev = before.st_dev;
	w->ino = before.st_ino;
}

int lm_inotify_drain(int fd, void (*each)(const struct inotify_event *ev,
					  void *ctx),
		     void *ctx)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		const char *p = buf;

		while (p < buf + n) {
			const struct inotify_event *ev = (const void *)p;

			p += sizeof(*ev) + ev->len;
			each(ev, ctx);
		}
	}
	return n < 0 && errno != EAGAIN && errno != EINTR ? -1 : 0;
}

struct seen {
	int wd;
	bool any, lost;
};

static void note_event(const struct inotify_event *ev, void *ctx)
{
	struct seen *s = ctx;

	/* a watch given up (its IN_IGNORED comes after the removal) says
	 * nothing of the one now */
	if (ev->wd != s->wd && !(ev->mask & IN_Q_OVERFLOW))
		return;
	s->any = true;
	if (ev->mask & LOST_MASK)
		s->lost = true;
}

/* Reads every queued event; true when there was one, *lost when one of
 * them ended the watch or stands for events dropped, or the read failed
 * (trust nothing then). */
static bool drain(lm_libwatch *w, bool *lost)
{
	struct seen s = { .wd = w->wd };

	if (lm_inotify_drain(w->fd, note_event, &s) < 0)
		s.lost = true;
	*lost = *lost || s.lost;
	return s.any;
}

int lm_libwatch_open(lm_libwatch **out, const char *dir)
{
	lm_libwatch *w = calloc(1, sizeof(*w));

	*out = NULL;
	if (!w || !(w->dir = strdup(dir))) {
		free(w);
		return lm_error_set(LM_ERROR, "out of memory");
	}
	w->wd = -1;
	w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	rewatch(w);
	*out = w;
	return 0;
}

uint64_t lm_libwatch_generation(lm_libwatch *w)
{
	struct stat st;
	bool lost = false, changed;

	if (w->wd < 0) {
		rewatch(w);
		w->gen++; /* unwatched until now: anything may have changed */
		return w->gen;
	}
	changed = drain(w, &lost);
	if (!lost && (stat(w->dir, &st) != 0 ||
		      st.st_dev != w->dev || st.st_ino != w->ino))
		lost = true;
	if (lost)
		rewatch(w);
	if (changed || lost || w->wd < 0)
		w->gen++;
	return w->gen;
}

void lm_libwatch_free(lm_libwatch *w)
{
	if (!w)
		return;
	if (w->fd >= 0)
		close(w->fd);
	free(w->dir);
	free(w);
}
