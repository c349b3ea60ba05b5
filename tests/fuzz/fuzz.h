/*
 * fuzz.h - what the fuzz harnesses share (tests/fuzz/fuzz_*.c).
 *
 * A harness is a libFuzzer target (LLVMFuzzerTestOneInput, and
 * LLVMFuzzerInitialize when it needs a world to fuzz in). The same source
 * links either with libFuzzer (`make fuzz`) or with regress.c, the plain
 * driver that feeds it every seed and crasher once (`make fuzz-regress`).
 *
 * A harness aborts (fuzz_fail) on what must never happen, beside what the
 * sanitizers catch: a refusal that is not a clean LM_E* code with a
 * message, or an invariant broken (a plan whose JSON does not read back
 * the same).
 */
#ifndef LM_FUZZ_H
#define LM_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Prints "fuzz: <what>" and the last lm_error, and aborts: libFuzzer
 * records the input as a crash. */
_Noreturn void fuzz_fail(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

/* A refusal must be one of livemod's codes and say why: aborts when
 * `rc` < 0 is not an LM_E* code or lm_error_last() is empty. `call` names
 * the call in the report. Returns rc. */
int fuzz_checked(int rc, const char *call);

/* Evaluates an lm_* call with the last error cleared first, so that a
 * message left by an earlier call does not count, and checks it with
 * fuzz_checked; its value is the call's. Needs "error.h". */
#define FUZZ_MAY_FAIL(call) (lm_error_clear(), fuzz_checked((call), #call))

/* A private scratch directory (mode 0700) under $TMPDIR, /dev/shm when
 * it exists (SQLite and the node write there on every input), removed
 * with everything in it at exit. The path is malloc'ed, never freed. */
char *fuzz_scratch_dir(const char *prefix);

#endif
