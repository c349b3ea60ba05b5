/*
 * probe.c - a module the fleet tests (tests/e2e/test_fleet.sh) put in
 * chatd's releases beside its own, so that one chosen node of a fleet can
 * be made to fail or to stall in its apply while every node rolls the
 * very same release. Its code_change, on the way up only (a rollback must
 * still work), looks in the directory named by $LM_PROBE_DIR in the
 * node's environment:
 *
 *   fail   code_change returns an error: eval fails, the node stays on
 *          its release (docs/agent.md)
 *   hold   code_change creates "held" and waits while "hold" exists (at
 *          most 60 s): the test SIGKILLs the node in the middle of its
 *          apply, at a moment it chose
 *
 *   -DPROBE_VSN='"1.1.0"'   the version (required)
 */
#define _POSIX_C_SOURCE 200809L
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <livemod/module.h>

static int state_value = 1;

static int init(void **state)
{
	*state = &state_value;
	return 0;
}

/* "$LM_PROBE_DIR/name" exists. */
static int probe(const char *name, char *path, size_t cap)
{
	const char *dir = getenv("LM_PROBE_DIR");

	if (!dir)
		return 0;
	snprintf(path, cap, "%s/%s", dir, name);
	return access(path, F_OK) == 0;
}

static int code_change(lm_change_mode mode, const char *vsn, void *old_state,
		       const char *extra, void **new_state)
{
	struct timespec tick = { 0, 20 * 1000000L };
	char path[4096];
	int i, fd;

	(void)vsn;
	(void)old_state;
	(void)extra;
	*new_state = &state_value;
	if (mode != LM_UP)
		return 0;
	if (probe("fail", path, sizeof(path)))
		return -1;
	if (probe("hold", path, sizeof(path))) {
		char held[4096];

		probe("held", held, sizeof(held));
		if ((fd = open(held, O_WRONLY | O_CREAT, 0644)) >= 0)
			close(fd);
		for (i = 0; i < 3000 && access(path, F_OK) == 0; i++)
			nanosleep(&tick, NULL);
	}
	return 0;
}

LM_MODULE(mod_probe, PROBE_VSN, .init = init, .code_change = code_change);
