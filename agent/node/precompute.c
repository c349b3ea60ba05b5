/*
 * precompute.c - a thread that computes GET /update-modules' answer ahead
 * of the request. It sleeps in poll() on an inotify instance of its own,
 * wakes when the libdir changes or the ledger is written (an install, the
 * post-install hook's plan, an apply), waits until both have been quiet
 * for QUIET_MS (an install is many events), then has query.c compute and
 * keep the answer. It wakes once per QUIET_MS at most while events keep
 * coming, not once per event. A request that comes meanwhile waits for that answer
 * instead of scanning a second time (query.c).
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
#include <unistd.h>

#include "error.h"
#include "libwatch.h"
#include "node_internal.h"

/* An install writes its files within milliseconds of each other and the
 * hook's plan follows at once; an answer computed in the middle would be
 * computed again. Also the longest the thread sleeps through a burst of
 * events before it looks at them again. */
#define QUIET_MS 50

#define STATE_MASK (IN_MODIFY | IN_CLOSE_WRITE | IN_CREATE | IN_MOVED_TO |    \
		    IN_ONLYDIR)

struct lm_precompute {
	lm_node *node;
	int ino;          /* inotify: libdir and state dir */
	int state_wd;
	int stop;         /* eventfd: lm_precompute_stop */
	pthread_t thread;
	bool running;
};

struct reason {
	int state_wd;
	bool any;
};

/* A reason to compute: any event in the libdir, a write to the ledger's
 * files (ledger.db, -wal, -journal) in the state dir, events lost. */
static void note_event(const struct inotify_event *ev, void *ctx)
{
	struct reason *r = ctx;

	if (ev->wd != r->state_wd || (ev->mask & IN_Q_OVERFLOW) ||
	    (ev->len && strncmp(ev->name, "ledger.db", 9) == 0))
		r->any = true;
}

/* Reads the queued events; true when one is a reason to compute, or the
 * read failed (events may be lost). */
static bool drain(lm_precompute *p)
{
	struct reason r = { .state_wd = p->state_wd };

	return lm_inotify_drain(p->ino, note_event, &r) < 0 || r.any;
}

/* Sleeps `ms` unless told to stop (false then). */
static bool nap(lm_precompute *p, int ms)
{
	struct pollfd pf = { .fd = p->stop, .events = POLLIN };
	int r;

	while ((r = poll(&pf, 1, ms)) < 0 && errno == EINTR)
		;
	return r == 0;
}

/* Waits for a reason to compute, then naps QUIET_MS at a time until a
 * nap ends with no new reason; false when told to stop. Napping, not
 * polling the events as they come, keeps the thread asleep through a
 * burst (an install's files, the writes of applies back to back): the
 * kernel queues the events meanwhile, merging repeats, and one read
 * takes them all. */
static bool wait_quiet(lm_precompute *p)
{
	struct pollfd pf[2] = { { .fd = p->ino, .events = POLLIN },
				{ .fd = p->stop, .events = POLLIN } };

	for (;;) {
		if (poll(pf, 2, -1) < 0 && errno != EINTR)
			return false;
		if (pf[1].revents)
			return false;
		if ((pf[0].revents & POLLIN) && drain(p))
			break;
	}
	do {
		if (!nap(p, QUIET_MS))
			return false;
	} while (drain(p));
	return true;
}

static void *run(void *arg)
{
	lm_precompute *p = arg;

	while (wait_quiet(p)) {
		/* a failure (a broken install) is the request's to report */
		(void)lm_node_update_info_json(p->node, NULL);
		lm_error_clear();
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
	p->ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (p->ino >= 0 &&
	    inotify_add_watch(p->ino, libdir, LM_LIBDIR_EVENTS) >= 0 &&
	    (p->state_wd = inotify_add_watch(p->ino, state_dir,
					     STATE_MASK)) >= 0 &&
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
	if (p->ino >= 0)
		close(p->ino);
	free(p);
}
