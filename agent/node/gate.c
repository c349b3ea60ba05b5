/*
 * gate.c - admission of a listener's connections: the limits, the
 * evictions and the head deadline; see gate.h.
 *
 * The slots are a list in the order the connections came in, so "the
 * oldest connection whose head is incomplete" is the first such one on
 * it. One mutex guards the list; one thread sleeps until the next head
 * deadline (or until a new slot may bring it nearer) and cuts what is
 * late.
 */
#include "gate.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "error.h"

enum slot_state {
	S_HEAD,    /* waiting for a whole request head: evictable */
	S_SERVED,  /* its request is being served */
	S_REFUSED, /* to be answered node_busy once its head is whole */
	S_CUT      /* shut down; waiting for the server to let it go */
};

struct lm_gate_slot {
	lm_gate_slot *prev, *next;
	enum slot_state state;
	int verdict;       /* S_REFUSED: LM_GATE_FULL or LM_GATE_PEER */
	int fd;            /* our duplicate of the connection's socket */
	int64_t deadline;  /* S_HEAD, S_REFUSED: ms, CLOCK_MONOTONIC */
	char peer[48];
};

struct lm_gate {
	lm_gate_limits lim;
	const char *what;
	pthread_mutex_t mu;
	pthread_cond_t wake; /* a nearer deadline, or stop */
	pthread_t thread;
	int stop;
	lm_gate_slot *head, *tail; /* oldest first */
	unsigned total;            /* slots on the list, in any state */
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Whether the slot counts against the limits: waiting for a head or
 * served, and its client still there. A client that read its answer and
 * hung up can be answered nothing more, yet its slot says "served" until
 * the connection's thread runs to let it go; on a loaded machine a
 * client making one request at a time is back with its next connection
 * before that, and counting the old slots would refuse it as "8 at
 * once". A client that only half-closed (shutdown(SHUT_WR) after its
 * request) is not counted either: such a slot lasts no longer than its
 * request, the server closing it at the next read, and LM_GATE_TOTAL
 * bounds what is held meanwhile.
 */
static int live(const lm_gate_slot *s)
{
	struct pollfd p = { .fd = s->fd, .events = POLLRDHUP };

	if (s->state != S_HEAD && s->state != S_SERVED)
		return 0;
	return poll(&p, 1, 0) != 1 ||
	       !(p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

/* Shuts the connection down: the server's read on it ends, and it lets
 * the connection go (lm_gate_leave). Under g->mu. */
static void cut(lm_gate_slot *s)
{
	assert(s->state != S_CUT);
	shutdown(s->fd, SHUT_RDWR);
	s->state = S_CUT;
}

/* The oldest connection still waiting for its head, of `peer` or of
 * anyone (NULL). */
static lm_gate_slot *oldest_waiting(lm_gate *g, const char *peer)
{
	lm_gate_slot *s;

	for (s = g->head; s; s = s->next)
		if (s->state == S_HEAD && (!peer || strcmp(s->peer, peer) == 0))
			return s;
	return NULL;
}

/* Makes room for a connection from `peer`: LM_GATE_SERVE when there is
 * (having evicted one if need be), else the refusal. Under g->mu. */
static int make_room(lm_gate *g, const char *peer)
{
	unsigned all = 0, mine = 0, refused = 0;
	lm_gate_slot *s, *victim;
	int verdict = LM_GATE_SERVE;

	for (s = g->head; s; s = s->next) {
		all += live(s);
		mine += live(s) && strcmp(s->peer, peer) == 0;
		refused += s->state == S_REFUSED;
	}
	if (mine >= g->lim.peer_max) {
		victim = oldest_waiting(g, peer);
		verdict = LM_GATE_PEER;
	} else if (all >= g->lim.conn_max) {
		victim = oldest_waiting(g, NULL);
		verdict = LM_GATE_FULL;
	} else {
		return LM_GATE_SERVE;
	}
	if (victim) {
		fprintf(stderr, "livemod agent: http: %s: a connection from %s "
			"had sent no whole request head; closed to serve one "
			"from %s (%s)\n", g->what, victim->peer, peer,
			verdict == LM_GATE_PEER ? "its peer at its limit"
						: "every slot taken");
		cut(victim);
		return LM_GATE_SERVE;
	}
	/* the refusals themselves are bounded: past conn_max of them, and
	 * past what the server holds, a newcomer is closed unanswered */
	if (refused >= g->lim.conn_max ||
	    g->total + 1 >= LM_GATE_TOTAL(g->lim.conn_max))
		return LM_GATE_CUT;
	return verdict;
}

int lm_gate_enter(lm_gate *g, int fd, const char *peer, lm_gate_slot **out)
{
	lm_gate_slot *s;
	int verdict;

	assert(g && fd >= 0 && peer && out);
	*out = NULL;
	if (!(s = calloc(1, sizeof(*s))))
		return LM_GATE_CUT;
	if ((s->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) < 0) {
		free(s);
		return LM_GATE_CUT;
	}
	snprintf(s->peer, sizeof(s->peer), "%s", peer);
	pthread_mutex_lock(&g->mu);
	verdict = make_room(g, s->peer);
	if (verdict == LM_GATE_CUT) {
		pthread_mutex_unlock(&g->mu);
		fprintf(stderr, "livemod agent: http: %s: a connection from %s "
			"closed unanswered: every slot serves a request and "
			"%u more wait for their node_busy answer\n", g->what,
			peer, g->lim.conn_max);
		close(s->fd);
		free(s);
		return LM_GATE_CUT;
	}
	s->state = verdict == LM_GATE_SERVE ? S_HEAD : S_REFUSED;
	s->verdict = verdict;
	s->deadline = now_ms() + (int64_t)g->lim.head_s * 1000;
	s->prev = g->tail;
	if (g->tail)
		g->tail->next = s;
	else
		g->head = s;
	g->tail = s;
	g->total++;
	pthread_cond_signal(&g->wake);
	pthread_mutex_unlock(&g->mu);
	*out = s;
	return verdict;
}

int lm_gate_head(lm_gate *g, lm_gate_slot *s)
{
	int verdict;

	assert(g && s);
	pthread_mutex_lock(&g->mu);
	switch (s->state) {
	case S_HEAD:
		s->state = S_SERVED;
		verdict = LM_GATE_SERVE;
		break;
	case S_REFUSED:
		verdict = s->verdict;
		break;
	case S_SERVED: /* a request the server calls us for twice */
		verdict = LM_GATE_SERVE;
		break;
	default:
		verdict = LM_GATE_CUT;
		break;
	}
	pthread_mutex_unlock(&g->mu);
	return verdict;
}

void lm_gate_answered(lm_gate *g, lm_gate_slot *s)
{
	assert(g && s);
	pthread_mutex_lock(&g->mu);
	if (s->state == S_SERVED) {
		s->state = S_HEAD;
		s->deadline = now_ms() + (int64_t)g->lim.head_s * 1000;
		pthread_cond_signal(&g->wake);
	}
	pthread_mutex_unlock(&g->mu);
}

void lm_gate_leave(lm_gate *g, lm_gate_slot *s)
{
	if (!s)
		return;
	assert(g && g->total > 0);
	pthread_mutex_lock(&g->mu);
	if (s->prev)
		s->prev->next = s->next;
	else
		g->head = s->next;
	if (s->next)
		s->next->prev = s->prev;
	else
		g->tail = s->prev;
	g->total--;
	pthread_mutex_unlock(&g->mu);
	close(s->fd);
	free(s);
}

/* Cuts every connection whose head is late; returns the next deadline,
 * or -1 when none waits. Under g->mu. */
static int64_t cut_late(lm_gate *g, int64_t now)
{
	int64_t next = -1;
	lm_gate_slot *s;

	for (s = g->head; s; s = s->next) {
		if (s->state != S_HEAD && s->state != S_REFUSED)
			continue;
		if (s->deadline <= now) {
			fprintf(stderr, "livemod agent: http: %s: a connection "
				"from %s sent no whole request head within %u "
				"s; closed\n", g->what, s->peer,
				g->lim.head_s);
			cut(s);
		} else if (next < 0 || s->deadline < next) {
			next = s->deadline;
		}
	}
	return next;
}

static void *watch(void *arg)
{
	lm_gate *g = arg;
	struct timespec ts;
	int64_t next;

	pthread_mutex_lock(&g->mu);
	while (!g->stop) {
		next = cut_late(g, now_ms());
		if (next < 0) {
			pthread_cond_wait(&g->wake, &g->mu);
			continue;
		}
		ts.tv_sec = (time_t)(next / 1000);
		ts.tv_nsec = (long)(next % 1000) * 1000000;
		pthread_cond_timedwait(&g->wake, &g->mu, &ts);
	}
	pthread_mutex_unlock(&g->mu);
	return NULL;
}

int lm_gate_new(lm_gate **out, const lm_gate_limits *lim, const char *what)
{
	pthread_condattr_t ca;
	lm_gate *g;
	int err;

	assert(out && lim && what);
	assert(lim->conn_max > 0 && lim->peer_max > 0 && lim->head_s > 0);
	*out = NULL;
	if (!(g = calloc(1, sizeof(*g))))
		return lm_error_set(LM_ERROR, "out of memory");
	g->lim = *lim;
	g->what = what;
	pthread_mutex_init(&g->mu, NULL);
	/* the deadlines are CLOCK_MONOTONIC's, as the wait must be */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&g->wake, &ca);
	pthread_condattr_destroy(&ca);
	if ((err = pthread_create(&g->thread, NULL, watch, g)) != 0) {
		pthread_cond_destroy(&g->wake);
		pthread_mutex_destroy(&g->mu);
		free(g);
		return lm_error_set(LM_ERROR, "%s: cannot start the thread that "
				    "cuts slow request heads: %s", what,
				    strerror(err));
	}
	*out = g;
	return 0;
}

void lm_gate_free(lm_gate *g)
{
	lm_gate_slot *s, *next;

	if (!g)
		return;
	pthread_mutex_lock(&g->mu);
	g->stop = 1;
	pthread_cond_signal(&g->wake);
	pthread_mutex_unlock(&g->mu);
	pthread_join(g->thread, NULL);
	for (s = g->head; s; s = next) {
		next = s->next;
		close(s->fd);
		free(s);
	}
	pthread_cond_destroy(&g->wake);
	pthread_mutex_destroy(&g->mu);
	free(g);
}
