/*
 * generic.c - one source for every test module: the build picks name,
 * version, dependencies and callbacks with -D flags, the way a real module
 * changes between releases.
 *
 *   -DMOD_NAME=mod_a -DMOD_VSN='"1.0.0"'     required
 *   -DMOD_DEPS='"mod_util","mod_x"'         optional dependencies
 *   -DMOD_CODE_CHANGE                       define code_change
 *   -DMOD_PURGE=LM_SOFT_PURGE               the module's purge mode
 *   -DMOD_ANSWER=2                          what answer() returns
 *   -DMOD_SIG_LONG                          answer() takes a long (ABI break)
 *   -DMOD_INIT_FAIL                         init() fails (returns -1)
 *   -DMOD_CC_FAIL                           code_change fails (implies
 *                                           MOD_CODE_CHANGE)
 *   -DMOD_CC_SLEEP_MS=500                   code_change sleeps that long
 *                                           first (implies MOD_CODE_CHANGE)
 *   -DMOD_CC_HOLD='"/path/hold"'           code_change creates
 *                                           /path/hold.in on entry, then
 *                                           waits while /path/hold exists
 *                                           (60 s at most: a hang guard);
 *                                           a test's readiness signal
 *                                           (implies MOD_CODE_CHANGE)
 *   -DMOD_CC_MARK='"/path/mark"'           code_change creates
 *                                           /path/mark on entry: proof
 *                                           that it ran (implies
 *                                           MOD_CODE_CHANGE)
 *   -DMOD_ENTRY_CLOCK                       also export entered(): the
 *                                           CLOCK_MONOTONIC ns at entry,
 *                                           for bench_apply's pause
 */
#if defined(MOD_CC_SLEEP_MS) || defined(MOD_CC_HOLD) || \
	defined(MOD_ENTRY_CLOCK)
#define _POSIX_C_SOURCE 200809L
#include <time.h>
#endif
#if defined(MOD_CC_HOLD) || defined(MOD_CC_MARK)
#include <fcntl.h>
#include <unistd.h>
#endif
#include <livemod/module.h>

#if (defined(MOD_CC_FAIL) || defined(MOD_CC_SLEEP_MS) || \
     defined(MOD_CC_HOLD) || defined(MOD_CC_MARK)) && \
	!defined(MOD_CODE_CHANGE)
#define MOD_CODE_CHANGE
#endif

#ifndef MOD_DEPS
#define MOD_DEPS ""
#endif
#ifndef MOD_PURGE
#define MOD_PURGE LM_PURGE_DEFAULT
#endif
#ifndef MOD_ANSWER
#define MOD_ANSWER 1
#endif

static int state_value = MOD_ANSWER;

static int init(void **state)
{
	*state = &state_value;
#ifdef MOD_INIT_FAIL
	return -1;
#else
	return 0;
#endif
}

#ifdef MOD_CODE_CHANGE
static int code_change(lm_change_mode mode, const char *vsn, void *old_state,
		       const char *extra, void **new_state)
{
	(void)mode;
	(void)vsn;
	(void)old_state;
	(void)extra;
#ifdef MOD_CC_MARK
	{
		int fd = open(MOD_CC_MARK, O_WRONLY | O_CREAT, 0644);

		if (fd >= 0)
			close(fd);
	}
#endif
#ifdef MOD_CC_SLEEP_MS
	{
		struct timespec ts = { (MOD_CC_SLEEP_MS) / 1000,
				       ((MOD_CC_SLEEP_MS) % 1000) * 1000000L };

		while (nanosleep(&ts, &ts) != 0)
			;
	}
#endif
#ifdef MOD_CC_HOLD
	{
		struct timespec ts = { 0, 10 * 1000000L };
		int fd = open(MOD_CC_HOLD ".in", O_WRONLY | O_CREAT, 0644);
		int n;

		if (fd >= 0)
			close(fd);
		for (n = 0; n < 6000 && access(MOD_CC_HOLD, F_OK) == 0; n++)
			nanosleep(&ts, NULL);
	}
#endif
	*new_state = &state_value;
#ifdef MOD_CC_FAIL
	return -1;
#else
	return 0;
#endif
}
#define CC_FIELD .code_change = code_change,
#else
#define CC_FIELD
#endif

LM_MODULE(MOD_NAME, MOD_VSN, .deps = LM_DEPS(MOD_DEPS), .init = init,
	  CC_FIELD .purge = MOD_PURGE);

#ifdef MOD_SIG_LONG
LM_EXPORT(MOD_NAME, answer, int (long));
static int answer(long x)
{
	return (int)x + MOD_ANSWER;
}
#else
LM_EXPORT(MOD_NAME, answer, int (void));
static int answer(void)
{
	return MOD_ANSWER;
}
#endif

#ifdef MOD_ENTRY_CLOCK
LM_EXPORT(MOD_NAME, entered, long (void));
static long entered(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000000L + t.tv_nsec;
}
#endif
