/*
 * mod_messager 2.0.0 - chat messages, now also counting bytes and
 * remembering who spoke last in each room.
 *
 * State (layout 2): a hash table of rooms (any number), each with its
 * message and byte counters and the last speaker. code_change converts
 * both ways:
 *   LM_UP   (in 2.0.0, from 1.x or any layout): reads the old state through
 *           its header (messager_state.h) into a new table; byte counts
 *           start at 0, since 1.x never kept them;
 *   LM_DOWN (in 2.0.0, back to 1.x): builds a layout-1 state (the fixed
 *           table of 128 rooms, counters kept, bytes and last speaker
 *           dropped) for 1.x's init to adopt; refuses when there are more
 *           rooms than layout 1 holds. Our own state stays as it is: this
 *           version keeps serving until the older one is published.
 * Neither direction frees the state it was given.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chatd_api.h"
#include "messager_state.h"

#define VSN "2.0.0"
#define NBUCKETS 64

struct room_v2 {
	struct room_v2 *next;
	long msgs;
	long bytes;
	char last[32];
	char name[];
};

struct state_v2 {
	struct msgr_header h;
	pthread_mutex_t mu;
	size_t nrooms;
	struct room_v2 *buckets[NBUCKETS];
};

/* Layout 1, as 1.0.0 defines it: what LM_DOWN must produce. */
#define V1_MAX_ROOMS 128
#define V1_ROOM_MAX 32
struct room_v1 {
	char name[V1_ROOM_MAX];
	long msgs;
};
struct state_v1 {
	struct msgr_header h;
	pthread_mutex_t mu;
	size_t n;
	struct room_v1 rooms[V1_MAX_ROOMS];
};

static struct state_v2 *st;

static unsigned hash(const char *s)
{
	unsigned h = 2166136261u;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h % NBUCKETS;
}

static void list_rooms(const void *self, msgr_room_fn fn, void *ctx)
{
	const struct state_v2 *s = self;

	for (size_t b = 0; b < NBUCKETS; b++)
		for (const struct room_v2 *r = s->buckets[b]; r; r = r->next)
			fn(ctx, r->name, r->msgs);
}

static struct state_v2 *state_new(void)
{
	struct state_v2 *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->h.magic = MSGR_MAGIC;
	s->h.layout = 2;
	s->h.rooms = list_rooms;
	pthread_mutex_init(&s->mu, NULL);
	return s;
}

static void state_free(struct state_v2 *s)
{
	for (size_t b = 0; b < NBUCKETS; b++) {
		struct room_v2 *r = s->buckets[b], *next;

		for (; r; r = next) {
			next = r->next;
			free(r);
		}
	}
	pthread_mutex_destroy(&s->mu);
	free(s);
}

/* Caller holds s->mu (or owns s alone). */
static struct room_v2 *room_get(struct state_v2 *s, const char *name,
				int create)
{
	unsigned b = hash(name);
	struct room_v2 *r;

	for (r = s->buckets[b]; r; r = r->next)
		if (strcmp(r->name, name) == 0)
			return r;
	if (!create || !(r = calloc(1, sizeof(*r) + strlen(name) + 1)))
		return NULL;
	strcpy(r->name, name);
	r->next = s->buckets[b];
	s->buckets[b] = r;
	s->nrooms++;
	return r;
}

static int init(void **state)
{
	struct state_v2 *s = *state;

	if (s) { /* adopt: only a state in our own layout */
		if (s->h.magic != MSGR_MAGIC || s->h.layout != 2)
			return -1;
		st = s;
		return 0;
	}
	if (!(st = state_new()))
		return -1;
	*state = st;
	return 0;
}

struct import {
	struct state_v2 *s;
	int failed;
};

static void import_room(void *ctx, const char *room, long msgs)
{
	struct import *im = ctx;
	struct room_v2 *r = room_get(im->s, room, 1);

	if (r)
		r->msgs = msgs;
	else
		im->failed = 1;
}

static int down_to_v1(const struct state_v2 *s, void **new_state)
{
	struct state_v1 *o = calloc(1, sizeof(*o));

	if (!o)
		return -1;
	o->h.magic = MSGR_MAGIC;
	o->h.layout = 1;
	o->h.rooms = NULL; /* 1.x's init adopts it and sets its own */
	pthread_mutex_init(&o->mu, NULL);
	for (size_t b = 0; b < NBUCKETS; b++)
		for (const struct room_v2 *r = s->buckets[b]; r; r = r->next) {
			if (o->n == V1_MAX_ROOMS ||
			    strlen(r->name) >= V1_ROOM_MAX) {
				pthread_mutex_destroy(&o->mu);
				free(o);
				return -1; /* layout 1 cannot hold it */
			}
			strcpy(o->rooms[o->n].name, r->name);
			o->rooms[o->n++].msgs = r->msgs;
		}
	*new_state = o;
	return 0;
}

static int code_change(lm_change_mode mode, const char *vsn, void *old,
		       const char *extra, void **new_state)
{
	const struct msgr_header *h = old;
	struct import im = { 0 };

	(void)extra;
	if (!h || h->magic != MSGR_MAGIC)
		return -1;
	if (mode == LM_DOWN) {
		if (strncmp(vsn, "1.", 2) != 0)
			return -1; /* a version whose layout we do not know */
		return down_to_v1(old, new_state);
	}
	if (!h->rooms || !(im.s = state_new()))
		return -1;
	h->rooms(old, import_room, &im);
	if (im.failed) {
		state_free(im.s);
		return -1;
	}
	*new_state = st = im.s;
	return 0;
}

static void terminate(void *state)
{
	state_free(state);
}

LM_MODULE(mod_messager, VSN, .deps = LM_DEPS("mod_util"), .init = init,
	  .code_change = code_change, .terminate = terminate,
	  .purge = LM_SOFT_PURGE);

LM_PROVIDE(CHATD_RECORD);
static long record(lm_task *t, const char *room, const char *nick, size_t len)
{
	struct room_v2 *r;
	long seq = -1;

	(void)t;
	pthread_mutex_lock(&st->mu);
	if ((r = room_get(st, room, 1))) {
		seq = ++r->msgs;
		r->bytes += (long)len;
		snprintf(r->last, sizeof(r->last), "%s", nick);
	}
	pthread_mutex_unlock(&st->mu);
	return seq;
}

LM_PROVIDE(CHATD_FORMAT);
static int format(lm_task *t, const char *room, long seq, const char *nick,
		  const char *text, char *out, size_t cap)
{
	char n[64], x[4096];

	t->api->escape(t, nick, n, sizeof(n));
	t->api->escape(t, text, x, sizeof(x));
	return snprintf(out, cap, "msg %s #%ld <%s> %s", room, seq, n, x);
}

LM_PROVIDE(CHATD_STATS);
static int stats(lm_task *t, const char *room, char *out, size_t cap)
{
	struct room_v2 *r;
	long msgs = 0, bytes = 0;
	char last[32] = "-";
	size_t rooms;

	(void)t;
	pthread_mutex_lock(&st->mu);
	if ((r = room_get(st, room, 0))) {
		msgs = r->msgs;
		bytes = r->bytes;
		if (r->last[0])
			snprintf(last, sizeof(last), "%s", r->last);
	}
	rooms = st->nrooms;
	pthread_mutex_unlock(&st->mu);
	return snprintf(out, cap, "stats %s messages %ld rooms %zu bytes %ld "
			"last %s (mod_messager " VSN ", layout 2)", room, msgs,
			rooms, bytes, last);
}
