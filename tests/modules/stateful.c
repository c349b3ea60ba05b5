/*
 * stateful.c - a test module whose state changes layout with every
 * major version, and which writes each init, adoption and code_change to
 * the file named by $LMTEST_TRAIL, so that a test can follow one value
 * through upgrades and rollbacks, and see which Extra each step got.
 *
 *   -DMOD_NAME=mod_s -DMOD_VSN='"2.0.0"'     required; the layout is the
 *                                           version's major number
 *
 * Layout N keeps the value multiplied by N: a conversion that takes the
 * wrong layout shows as a wrong value in the trail. Each version keeps
 * its state in its own object (a state handed over is copied in), so no
 * version points into another's code once that is unmapped.
 */
#include <stdio.h>
#include <stdlib.h>

#include <livemod/module.h>

struct state {
	int layout;
	long stored; /* value * layout */
};

static struct state mine;

static int layout_of(const char *vsn)
{
	return atoi(vsn);
}

static void trail(const char *fmt, long a, long b, long value,
		  const char *extra)
{
	const char *path = getenv("LMTEST_TRAIL");
	FILE *f = path ? fopen(path, "a") : NULL;

	if (!f)
		return;
	fprintf(f, fmt, a, b);
	fprintf(f, " value %ld extra '%s'\n", value, extra ? extra : "");
	fclose(f);
}

/* Creates the state, or adopts one that a newer version's code_change
 * (down) made in this version's layout. */
static int init(void **state)
{
	const struct state *given = *state;
	int layout = layout_of(MOD_VSN);

	if (given && given->layout != layout)
		return -1;
	mine.layout = layout;
	mine.stored = given ? given->stored : 42L * layout;
	if (given)
		free((void *)given);
	trail(given ? "adopt %ld %ld" : "init %ld %ld", layout, layout,
	      mine.stored / layout, NULL);
	*state = &mine;
	return 0;
}

static int code_change(lm_change_mode mode, const char *vsn, void *old_state,
		       const char *extra, void **new_state)
{
	const struct state *old = old_state;
	int to = mode == LM_UP ? layout_of(MOD_VSN) : layout_of(vsn);
	long value = old->stored / old->layout;
	struct state *s;

	if (mode == LM_UP) {
		s = &mine;
	} else if (!(s = malloc(sizeof(*s)))) {
		return -1; /* handed to the older version's init */
	}
	s->layout = to;
	s->stored = value * to;
	trail(mode == LM_UP ? "up %ld->%ld" : "down %ld->%ld", old->layout,
	      to, s->stored / to, extra);
	*new_state = s;
	return 0;
}

LM_MODULE(MOD_NAME, MOD_VSN, .init = init, .code_change = code_change);

/* A short call sees the value: lmhost counts an answer <= 0 as bad. */
LM_EXPORT(MOD_NAME, answer, int (void));
static int answer(void)
{
	return mine.layout ? (int)(mine.stored / mine.layout) : 0;
}
