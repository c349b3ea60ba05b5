/*
 * mod_messager 1.0.0 - chat messages: numbers each message in its room
 * and formats it for the members.
 *
 * State (layout 1): a fixed table of at most 128 rooms, each a name and a
 * message counter, behind one mutex. chatd calls `record` and `stats` as
 * short calls (always the current version: one live copy of the state,
 * converted exactly while the module is suspended) and `format` through
 * each connection's pin (the version that connection runs).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chatd_api.h"
#include "messager_state.h"

#define VSN "1.0.0"
#define MAX_ROOMS 128
#define ROOM_MAX 32

struct room_v1 {
	char name[ROOM_MAX];
	long msgs;
};

struct state_v1 {
	struct msgr_header h;
	pthread_mutex_t mu;
	size_t n;
	struct room_v1 rooms[MAX_ROOMS];
};

static struct state_v1 *st;

static void list_rooms(const void *self, msgr_room_fn fn, void *ctx)
{
	const struct state_v1 *s = self;

	for (size_t i = 0; i < s->n; i++)
		fn(ctx, s->rooms[i].name, s->rooms[i].msgs);
}

static struct state_v1 *state_new(void)
{
	struct state_v1 *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->h.magic = MSGR_MAGIC;
	s->h.layout = 1;
	s->h.rooms = list_rooms;
	pthread_mutex_init(&s->mu, NULL);
	return s;
}

/* Caller holds s->mu. */
static struct room_v1 *room_get(struct state_v1 *s, const char *name,
				int create)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->rooms[i].name, name) == 0)
			return &s->rooms[i];
	if (!create || s->n == MAX_ROOMS || strlen(name) >= ROOM_MAX)
		return NULL;
	snprintf(s->rooms[s->n].name, ROOM_MAX, "%s", name);
	return &s->rooms[s->n++];
}

static int init(void **state)
{
	struct state_v1 *s = *state;

	if (s) { /* adopt: only a state in our own layout */
		if (s->h.magic != MSGR_MAGIC || s->h.layout != 1)
			return -1;
		s->h.rooms = list_rooms; /* made by a newer version: ours now */
		st = s;
		return 0;
	}
	if (!(st = state_new()))
		return -1;
	*state = st;
	return 0;
}

struct import {
	struct state_v1 *s;
	int failed;
};

static void import_room(void *ctx, const char *room, long msgs)
{
	struct import *im = ctx;
	struct room_v1 *r = room_get(im->s, room, 1);

	if (r)
		r->msgs = msgs;
	else
		im->failed = 1; /* more rooms than this layout holds */
}

/* 1.0.0 knows no later layout, yet reads any through its header: this is
 * what lets v1 installed again over v2 take v2's rooms back. */
static int code_change(lm_change_mode mode, const char *vsn, void *old,
		       const char *extra, void **new_state)
{
	const struct msgr_header *h = old;
	struct import im = { 0 };

	(void)vsn, (void)extra;
	if (!h || h->magic != MSGR_MAGIC || !h->rooms)
		return -1;
	if (mode == LM_DOWN) /* nothing older than 1.0.0 */
		return -1;
	if (!(im.s = state_new()))
		return -1;
	h->rooms(old, import_room, &im);
	if (im.failed) {
		free(im.s);
		return -1;
	}
	*new_state = st = im.s; /* never free `old`: its version still runs */
	return 0;
}

static void terminate(void *state)
{
	struct state_v1 *s = state;

	pthread_mutex_destroy(&s->mu);
	free(s);
}

LM_MODULE(mod_messager, VSN, .deps = LM_DEPS("mod_util"), .init = init,
	  .code_change = code_change, .terminate = terminate,
	  .purge = LM_SOFT_PURGE);

/* Counts one message of `len` bytes from `nick` in `room`; returns its
 * number in the room, or -1 when the room table is full. */
LM_PROVIDE(CHATD_RECORD);
static long record(lm_task *t, const char *room, const char *nick, size_t len)
{
	struct room_v1 *r;
	long seq = -1;

	(void)t, (void)nick, (void)len;
	pthread_mutex_lock(&st->mu);
	if ((r = room_get(st, room, 1)))
		seq = ++r->msgs;
	pthread_mutex_unlock(&st->mu);
	return seq;
}

/* The line every member of the room receives. */
LM_PROVIDE(CHATD_FORMAT);
static int format(lm_task *t, const char *room, long seq, const char *nick,
		  const char *text, char *out, size_t cap)
{
	char n[64], x[2048];

	t->api->escape(t, nick, n, sizeof(n));
	t->api->escape(t, text, x, sizeof(x));
	return snprintf(out, cap, "msg %s #%ld %s: %s", room, seq, n, x);
}

LM_PROVIDE(CHATD_STATS);
static int stats(lm_task *t, const char *room, char *out, size_t cap)
{
	struct room_v1 *r;
	long msgs;
	size_t rooms;

	(void)t;
	pthread_mutex_lock(&st->mu);
	r = room_get(st, room, 0);
	msgs = r ? r->msgs : 0;
	rooms = st->n;
	pthread_mutex_unlock(&st->mu);
	return snprintf(out, cap, "stats %s messages %ld rooms %zu (mod_messager "
			VSN ", layout 1)", room, msgs, rooms);
}
