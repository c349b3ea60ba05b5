/*
 * precompute.c - a thread that computes GET /update-modules' answer ahead
 * of the request. It sleeps in poll() on inotify instances of its own
 * (the libdir; the ledger's files in the state dir, written and closed)
 * and has query.c compute and keep the answer:
 *
 *  - at once when another process closes the ledger after opening it to
 *    write (the post-install hook's plan, an install's last step: the
 *    `livemod update_list` an operator or a script runs next then finds
 *    the answer made, or being made, while its own process starts);
 *  - otherwise once the libdir and the ledger have been quiet for
 *    QUIET_MS (an install is many events; an apply by the node writes
 *    the ledger through a connection it never closes). It wakes once per
 *    QUIET_MS at most while events keep coming, not once per event.
 *
 * After each answer, and once as it starts, it also stages ahead the
 * newest recorded plan, when the node would apply it next (apply.c,
 * lm_node_stage_recorded): the hook's plan is loaded before anyone asks
 * for its apply.
 *
 * A request that comes meanwhile waits for that answer instead of
 * scanning a second time (query.c). Computing never holds the ledger's
 * writer (it plans on the node's read-only connection, query_mu), so an
 * apply that starts meanwhile does not wait for it.
 *
 * Nothing rests on this thread but speed: a request checks the kept
 * answer's key itself (the libdir's own watch, the ledger's stamp), so an
 * event this thread misses, or a computation it has not finished, costs
 * a scan, never a stale answer. It costs the server one scan after each
 * burst of changes, on a thread that otherwise sleeps.
 */
#include "precompute.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "libwatch.h"
#include "node_internal.h"

/* An install writes its files within milliseconds of each other; an
 * answer computed in the middle would be computed again. Also the
 * longest the thread sleeps through a burst of events before it looks
 * at them again. */
#define QUIET_MS 50

/* The state dir's events, in two instances: the closes are read even in
 * a nap, the writes (one event per write(2), tens per commit) only once
 * it ends, so that an apply's commits do not wake the thread. */
#define STATE_WRITE_MASK (IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_ONLYDIR)
#define STATE_CLOSE_MASK (IN_CLOSE_WRITE | IN_ONLYDIR)

struct lm_precompute {
	lm_node *node;
	int close_ino;    /* inotify: closes in the state dir */
	int state_ino;    /* inotify: writes in the state dir */
	int lib_ino;      /* inotify: the libdir */
	int stop;         /* eventfd: lm_precompute_stop */
	pthread_t thread;
	bool running;
};

/* What events ask for, in increasing order. */
enum why { NONE, LATER, NOW };

static void note_libdir(const struct inotify_event *ev, void *ctx)
{
	(void)ev;
	*(enum why *)ctx = LATER;
}

/* The ledger's files are ledger.db, its -wal and -journal (its -shm is
 * written through mmap, which inotify does not see). A close after
 * opening one to write is NOW: the node's own connections are never
 * closed while it runs, so that is another process done with the ledger.
 * Events lost are LATER. */
static void note_state(const struct inotify_event *ev, void *ctx)
{
	enum why *w = ctx, e = NONE;

	if (ev->mask & IN_Q_OVERFLOW)
		e = LATER;
	else if (ev->len && strncmp(ev->name, "ledger.db", 9) == 0)
		e = (ev->mask & IN_CLOSE_WRITE) ? NOW : LATER;
	if (e > *w)
		*w = e;
}

/* Reads the queued events of `fd`: what they ask for; LATER when the
 * read failed (events may be lost). */
static enum why drain(int fd, void (*note)(const struct inotify_event *,
					   void *))
{
	enum why w = NONE;

	return lm_inotify_drain(fd, note, &w) < 0 && w < LATER ? LATER : w;
}

static int64_t now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Waits until it is time to compute (above); false when told to stop.
 * Napping, not reading the writes' events as they come, keeps the thread
 * asleep through a burst: the kernel queues them meanwhile, merging
 * repeats, and one read takes them all. Only a close wakes a nap. */
static bool wait_turn(lm_precompute *p)
{
	struct pollfd pf[4] = { { .fd = p->stop, .events = POLLIN },
				{ .fd = p->close_ino, .events = POLLIN },
				{ .fd = p->state_ino, .events = POLLIN },
				{ .fd = p->lib_ino, .events = POLLIN } };
	bool napping = false, stirred = false;
	int64_t until = 0;

	for (;;) {
		int64_t left = until - now_ms();
		int r = poll(pf, napping ? 2 : 4,
			     !napping ? -1 : left > 0 ? (int)left : 0);
		enum why w = NONE, l;

		if (r < 0 && errno != EINTR)
			return false;
		if (r > 0 && pf[0].revents)
			return false;
		if (r > 0 && pf[1].revents)
			w = drain(p->close_ino, note_state);
		if (r > 0 && !napping && pf[2].revents &&
		    (l = drain(p->state_ino, note_state)) > w)
			w = l;
		if (r > 0 && !napping && pf[3].revents &&
		    (l = drain(p->lib_ino, note_libdir)) > w)
			w = l;
		if (w == NOW) {
			/* the events so far are in the answer's key */
			(void)drain(p->state_ino, note_state);
			(void)drain(p->lib_ino, note_libdir);
			return true;
		}
		if (napping && w == LATER) {
			stirred = true; /* closes lost */
		} else if (napping && r == 0) {
			/* both read: what queued in the nap is taken */
			l = drain(p->state_ino, note_state);
			if (!stirred && drain(p->lib_ino, note_libdir) == NONE &&
			    l == NONE)
				return true; /* a nap with nothing new */
			stirred = false;
			until = now_ms() + QUIET_MS;
		} else if (!napping && w == LATER) {
			napping = true;
			until = now_ms() + QUIET_MS;
		}
	}
}

static void *run(void *arg)
{
	lm_precompute *p = arg;

	/* a plan recorded while no node ran (an install with the server
	 * down): staged as if it had just been recorded */
	lm_node_stage_recorded(p->node);
	while (wait_turn(p)) {
		/* a failure (a broken install) is the request's to report */
		(void)lm_node_update_info_json(p->node, NULL);
		lm_error_clear();
		lm_node_stage_recorded(p->node); /* the hook's plan, if any */
	}
	return NULL;
}

int lm_precompute_start(lm_precompute **out, lm_node *n, const char *libdir,
			const char *state_dir)
{
	lm_precompute *p = calloc(1, sizeof(*p));

	*out = NULL;
	if (!p)
		return lm_error_set(LM_ERROR, "out of memory");
	p->node = n;
	p->stop = -1;
	p->close_ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	p->state_ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	p->lib_ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (p->close_ino >= 0 && p->state_ino >= 0 && p->lib_ino >= 0 &&
	    inotify_add_watch(p->close_ino, state_dir, STATE_CLOSE_MASK) >= 0 &&
	    inotify_add_watch(p->state_ino, state_dir, STATE_WRITE_MASK) >= 0 &&
	    inotify_add_watch(p->lib_ino, libdir, LM_LIBDIR_EVENTS) >= 0 &&
	    (p->stop = eventfd(0, EFD_CLOEXEC)) >= 0)
		p->running = pthread_create(&p->thread, NULL, run, p) == 0;
	*out = p; /* without the thread, requests compute for themselves */
	return 0;
}

void lm_precompute_stop(lm_precompute *p)
{
	uint64_t one = 1;

	if (!p)
		return;
	if (p->running) {
		/* an eventfd write of 8 bytes cannot be short */
		if (write(p->stop, &one, sizeof(one)) == sizeof(one))
			pthread_join(p->thread, NULL);
		else
			abort();
	}
	if (p->stop >= 0)
		close(p->stop);
	if (p->close_ino >= 0)
		close(p->close_ino);
	if (p->state_ino >= 0)
		close(p->state_ino);
	if (p->lib_ino >= 0)
		close(p->lib_ino);
	free(p);
}
