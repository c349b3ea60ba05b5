/*
 * agent.h - what a host server includes to run livemod modules.
 *
 * The runtime (lm_runtime) loads module versions, publishes one current
 * version per module, and retires old versions only when no thread can
 * still run their code. The host calls modules two ways:
 *   - a short call (LM_CALL) through an export ref, inside an RCU
 *     read-side section: no shared cache-line write on the call path;
 *   - a pinned call (LM_PIN_CALL) through a pin a long-lived task holds
 *     on one version, moved to the newest version with lm_pin_refresh.
 * The swap primitives (stage, suspend, code_change, init, publish,
 * resume, purge, remove) are what the plan interpreter drives.
 *
 * Every thread that calls into modules registers once with
 * lm_thread_register(). Public calls return 0 or a negative LM_E* code
 * (<livemod/error.h>) with a message in lm_error_last(). See docs/host-guide.md.
 *
 * The inline fast path below needs liburcu's memb flavour read-side
 * primitives inlined: they are the "10-line" functions liburcu documents
 * as usable from non-LGPL code. Define LM_AGENT_NO_INLINE_RCU to call the
 * library functions instead (a few ns slower per call).
 */
#ifndef LIVEMOD_AGENT_H
#define LIVEMOD_AGENT_H

#include <assert.h>
#include <stddef.h>

#include <livemod/error.h>
#include <livemod/module.h>

#if defined(__SANITIZE_THREAD__)
#define LM__TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define LM__TSAN 1
#endif
#endif

/* Under TSan the read-side primitives are called, not inlined: liburcu's
 * inline code uses plain volatile accesses TSan would report, while the
 * library's own copy is not instrumented. */
#if defined(LM__TSAN) && !defined(LM_AGENT_NO_INLINE_RCU)
#define LM_AGENT_NO_INLINE_RCU 1
#endif

#if !defined(_LGPL_SOURCE) && !defined(LM_AGENT_NO_INLINE_RCU)
#define _LGPL_SOURCE
#define LM__UNDEF_LGPL
#endif
#include <urcu/urcu-memb.h>
#ifdef LM__UNDEF_LGPL
#undef _LGPL_SOURCE
#undef LM__UNDEF_LGPL
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lm_runtime lm_runtime;
typedef struct lm_export_ref lm_export_ref;
typedef struct lm_pin lm_pin;

/* Most export refs one module can have distinct names for. */
#define LM_AGENT_SLOTS_MAX 128

/* ---- runtime -------------------------------------------------------- */

LM_EXTERN(int) lm_runtime_new(lm_runtime **out);
/* Unloads every module (terminating its state). Every pin must have been
 * released and every export ref freed. NULL is a no-op. */
LM_EXTERN(void) lm_runtime_free(lm_runtime *rt);

/* How long a brutal purge waits for the pinning tasks to let go before it
 * gives up with LM_EBUSY (the versions stay marked and are retired when
 * the last pin drops). Default 5000 ms. */
LM_EXTERN(void) lm_runtime_set_brutal_timeout(lm_runtime *rt, unsigned ms);

/* What a brutal-purge callback learns about one pin it must end. */
typedef struct lm_pin_victim {
	const lm_pin *pin;   /* identity only: do not call lm_pin_* on it here */
	void *task;          /* the cookie given to lm_pin_acquire */
	const char *module;
	const char *vsn;     /* the version being purged */
} lm_pin_victim;

/* Called once per pin on a version being brutally purged, with the
 * module's pin lock held: ask the task to end (set a flag, shut its
 * socket, ...) and return; the task then releases or refreshes its pin.
 * The callback must not call any lm_* function. */
typedef void (*lm_brutal_purge_fn)(void *ctx, const lm_pin_victim *victim);
LM_EXTERN(void) lm_runtime_on_brutal_purge(lm_runtime *rt, lm_brutal_purge_fn fn,
				void *ctx);

/* Warnings (an object that stayed mapped after dlclose, a module built
 * with STB_GNU_UNIQUE symbols, ...). Default: one line on stderr. May be
 * called from the runtime's reaper thread. */
typedef void (*lm_warning_fn)(void *ctx, const char *message);
LM_EXTERN(void) lm_runtime_on_warning(lm_runtime *rt, lm_warning_fn fn, void *ctx);

/* ---- threads -------------------------------------------------------- */

/*
 * Every thread that calls LM_CALL / LM_PIN_CALL registers once, and
 * unregisters before it exits (liburcu reader registration).
 *
 * Two read sides (docs/host-guide.md, "Choosing the read side"):
 *   - memb, the default: any thread, no duty. A grace period (every
 *     unload) is two membarriers: IPIs to each CPU running the process,
 *     tens of microseconds each with a busy caller; a suspension's
 *     drain of the calls in flight is one.
 *   - QSBR, for event-loop hosts: compile the files that call modules
 *     with LM_AGENT_QSBR defined before including this header. Their
 *     lm_thread_register() registers a QSBR reader, which must call
 *     lm_quiescent() between calls (once per loop iteration) and
 *     lm_thread_offline() / lm_thread_online() around anything that
 *     blocks (epoll_wait, read). Calls then cost a thread-local count on
 *     entry and exit, and a grace period waits only for each online
 *     reader's next lm_quiescent(): about a microsecond. A reader that
 *     neither announces nor goes offline stalls every apply.
 * The flavours mix: each thread has its own, and grace periods wait for
 * the flavours that have readers. A pointer a module returns is good
 * during the call only, in both.
 */
LM_EXTERN(void) lm_thread_register(void);
LM_EXTERN(void) lm_thread_register_qsbr(void);
LM_EXTERN(void) lm_thread_unregister(void);
LM_EXTERN(void) lm_quiescent(void);
LM_EXTERN(void) lm_thread_offline(void);
LM_EXTERN(void) lm_thread_online(void);
#ifdef LM_AGENT_QSBR
#define lm_thread_register() lm_thread_register_qsbr()
#endif

/* ---- swap primitives (the plan interpreter's) ------------------------ */

/*
 * Loads the object at `path` as the next version of the module it
 * declares: dlopen(RTLD_NOW|RTLD_LOCAL), descriptor checked, compared with
 * `expected_json` when not NULL (the planned descriptor, as the plan
 * carries it: the "descriptor" object of docs/plan-format.md; a mismatch
 * names the module and field), every export the host holds a ref to
 * checked for presence and signature. Nothing is published. `oid` may be
 * NULL. Errors: LM_EINVAL (also an `expected_json` that is not a
 * descriptor), LM_ENODESC, LM_ECHECK (mismatch, signature change),
 * LM_EBUSY (module already has a staged version, or the path is loaded).
 */
LM_EXTERN(int) lm_runtime_stage(lm_runtime *rt, const char *path, const char *oid,
		     const char *expected_json);

/* Unloads the staged version of `module` (terminating any state an init
 * or code_change made for it; a state code_change moved out of the
 * current one — module ABI 2 — is given back instead, through the
 * mover's change_abort: unstage before resuming the module). */
LM_EXTERN(int) lm_runtime_unstage(lm_runtime *rt, const char *module);

/* New calls (short and pinned) to any version of `module` wait until
 * lm_runtime_resume; returns once the in-flight ones have drained (every
 * read-side section that began before the module was marked has ended).
 * A call made from inside another module call (nested) does not wait —
 * the suspension waits for its outer section — and runs the published
 * version (docs/host-guide.md, "Nested calls"). */
LM_EXTERN(int) lm_runtime_suspend(lm_runtime *rt, const char *module);
LM_EXTERN(int) lm_runtime_resume(lm_runtime *rt, const char *module);

/* lm_runtime_suspend of each module, in order, sharing one drain: every
 * module's new calls wait from the moment it is marked, and the call
 * returns once the in-flight calls to all of them have drained (a memb
 * drain costs IPIs to every CPU running the process: for the plan, not
 * per module). All or nothing: when one of them cannot
 * be suspended, the ones before it are resumed and the error names it. */
LM_EXTERN(int) lm_runtime_suspend_many(lm_runtime *rt, const char *const *modules,
			    size_t n);

/*
 * LM_UP: calls the staged version's code_change with the current
 * version's state; LM_DOWN: calls the current version's code_change (it
 * converts to the staged, older version's layout), then hands the result
 * to the staged version's init with *state preset (the adopt call).
 * `extra` may be NULL (""). A non-zero return is LM_EEVAL: nothing is
 * published and the current version keeps its state (a module that moves
 * state and failed after setting *new_state has it given back by its
 * change_abort first). A moved state is committed by lm_runtime_publish
 * and aborted by lm_runtime_unstage (docs/module-guide.md, "State by
 * move").
 */
LM_EXTERN(int) lm_runtime_code_change(lm_runtime *rt, const char *module,
			   lm_change_mode mode, const char *extra);

/* Calls the staged version's init (module with no published version);
 * non-zero is LM_EEVAL. */
LM_EXTERN(int) lm_runtime_init_module(lm_runtime *rt, const char *module);

/* Makes the staged version current (one atomic pointer store); the
 * replaced version joins the old versions awaiting purge. A state its
 * code_change moved is committed first: the mover's change_commit runs,
 * and the replaced version's terminate is never called on its state. A staged
 * version that neither init nor code_change gave a state takes the
 * current one's over (OTP's load_module): its init is called with *state
 * preset to adopt it; non-zero is LM_EEVAL and nothing is published. */
LM_EXTERN(int) lm_runtime_publish(lm_runtime *rt, const char *module);

/* Hands the current version's state to the staged version now, through
 * its init with *state preset (the adopt call publish would otherwise
 * make), so that the publish that follows cannot fail: the plan
 * interpreter adopts every load_module before publishing any. A no-op
 * when the staged version has a state already, or there is none to take.
 * A refusing init is LM_EEVAL; nothing is published. */
LM_EXTERN(int) lm_runtime_adopt(lm_runtime *rt, const char *module);

/* Boot convenience: stage, init (when defined), publish a module that has
 * no published version yet. */
LM_EXTERN(int) lm_runtime_load(lm_runtime *rt, const char *path, const char *oid);

/* Purge flags. */
#define LM_PURGE_DEFER 1u /* soft: retire pinned versions when the last pin
			   * drops, in the background, instead of failing */
#define LM_PURGE_REAP 2u  /* retire every old version now (no new call
			   * reaches it) and leave the unload to the reaper:
			   * grace period, rcu_barrier, dlclose and the unmap
			   * check happen at its next round (lm_runtime_reap,
			   * or a pin's release), each version's once its last
			   * pin is gone. Soft: as LM_PURGE_DEFER. Brutal: the
			   * host is asked to end the pinning tasks, and not
			   * waited for. What is still awaiting its unload
			   * shows in lm_runtime_modules (retiring), and
			   * lm_runtime_on_reaped tells when it is gone. */

/* Starts a reaper round now: every retiring version with no pin left is
 * unloaded, on the reaper thread. The node calls it once eval has
 * answered, so that the unload does not compete with the apply. */
LM_EXTERN(void) lm_runtime_reap(lm_runtime *rt);

/* Called by the reaper after each round that unloaded versions: how many,
 * and how long the round took (grace period, barrier, dlclose, unmap
 * check), in microseconds. May be NULL. Runs on the reaper thread with no
 * lock of the runtime held; it must not call a swap primitive. */
typedef void (*lm_reaped_fn)(void *ctx, size_t versions, long us);
LM_EXTERN(void) lm_runtime_on_reaped(lm_runtime *rt, lm_reaped_fn fn, void *ctx);

/*
 * Purges the old versions of `module`:
 *   LM_SOFT_PURGE: pins remain on an old version -> LM_EBUSY naming it and
 *     nothing changed (the pre-purge); with LM_PURGE_DEFER the pinned ones
 *     retire in the background (the post-purge) and the rest now;
 *   LM_BRUTAL_PURGE (or LM_PURGE_DEFAULT): calls the brutal-purge callback
 *     for exactly the pinning tasks, waits for them to let go, unloads.
 * Unloading waits for in-flight calls and call_rcu callbacks, dlcloses,
 * and verifies the object left memory (a warning says why when not).
 */
LM_EXTERN(int) lm_runtime_purge(lm_runtime *rt, const char *module, lm_purge_mode mode,
		     unsigned flags);

/* The check a purge would pass, changing nothing: LM_EBUSY when a soft
 * purge would fail, or a brutal one has pins and no callback. */
LM_EXTERN(int) lm_runtime_check_purge(lm_runtime *rt, const char *module,
			   lm_purge_mode mode);

/* Unpublishes `module` and purges every version as lm_runtime_purge does
 * (its states are terminated). Refused with LM_EBUSY while the host holds
 * export refs into it, or while staged or suspended. */
LM_EXTERN(int) lm_runtime_remove(lm_runtime *rt, const char *module, lm_purge_mode mode,
		      unsigned flags);

/* The check a removal would pass, changing nothing: the same refusals as
 * lm_runtime_remove (export refs held, pins a soft purge or a missing
 * brutal-purge callback cannot end), LM_EBUSY naming what holds it. */
LM_EXTERN(int) lm_runtime_check_remove(lm_runtime *rt, const char *module,
			    lm_purge_mode mode);

/* One purge (or removal) of lm_runtime_purge_batch. */
typedef struct lm_purge_op {
	const char *module;
	lm_purge_mode mode;
	unsigned flags;     /* LM_PURGE_* */
	int remove;         /* non-zero: lm_runtime_remove, not _purge */
	int rc;             /* out: 0 or a negative LM_E* code */
	char error[512];    /* out: the message when rc < 0 */
} lm_purge_op;

/*
 * Each op as lm_runtime_purge (or lm_runtime_remove) would do it, in
 * order, with the same checks, pin handling and results, except that the
 * versions they retire now are unloaded together once the last op is
 * done: one grace period, one rcu_barrier, one /proc/self/maps read to
 * verify the unmaps, instead of one of each per module. Returns 0, or the
 * first failing op's code (every op has its own rc and error).
 */
LM_EXTERN(int) lm_runtime_purge_batch(lm_runtime *rt, lm_purge_op *ops, size_t n);

/* 1 when some version (current, staged or old) of any module was loaded
 * from the file at `path` (same device and inode), else 0: the file can
 * not be dlopen'ed as a new version while it is. */
LM_EXTERN(int) lm_runtime_file_loaded(lm_runtime *rt, const char *path);

/* ---- introspection --------------------------------------------------- */

typedef struct lm_version_info {
	char *vsn;
	char *path;
	char oid[41];    /* "" when not given */
	size_t pins;
	int retiring;    /* purge requested, waiting for pins to drop */
} lm_version_info;

typedef struct lm_module_info {
	char *name;
	int suspended;
	lm_version_info *current; /* NULL when removed */
	lm_version_info *staged;  /* NULL when none */
	lm_version_info *old;     /* old versions awaiting purge, oldest first */
	size_t nold;
} lm_module_info;

/* A snapshot of every module, sorted by name. */
LM_EXTERN(int) lm_runtime_modules(lm_module_info **out, size_t *n, lm_runtime *rt);
/* Frees what lm_runtime_modules gave (`n` entries); NULL is a no-op. */
LM_EXTERN(void) lm_module_info_free(lm_module_info *v, size_t n);

/* The pause `module`'s last suspension gave its callers: the longest a
 * call waited at the closed door, from finding it closed to running
 * again, in nanoseconds (0 when no call came while it was closed). Read
 * once the suspension has ended; the next one starts again from 0. A
 * figure for a host's metrics; LM_ENOTFOUND for an unknown module. */
LM_EXTERN(int) lm_runtime_module_hold(uint64_t *out_ns, lm_runtime *rt,
				      const char *module);

/* ---- export refs and short calls ------------------------------------- */

/*
 * Resolves `module`'s export `name` once; `signature` is the type text the
 * host was compiled against, e.g. LM_SIG(int (lm_task *, const char *,
 * size_t)) (compared ignoring whitespace between tokens). Errors:
 * LM_ENOTFOUND (module or export), LM_ECHECK (signature differs, in the
 * current version or in any version still pinned).
 */
LM_EXTERN(int) lm_export_ref_lookup(lm_export_ref **out, lm_runtime *rt,
			 const char *module, const char *name,
			 const char *signature);
/* NULL is a no-op. */
LM_EXTERN(void) lm_export_ref_free(lm_export_ref *ref);

/* The text of a type, as LM_EXPORT records it. */
#define LM_SIG(...) #__VA_ARGS__

/*
 * LM_CALL(ref, type, ret, args...): ret = <current version of ref>(args),
 * where `type` is the function pointer type, e.g.
 *   LM_CALL(ref, int (*)(lm_task *, const char *, size_t), rc, t, b, n);
 * LM_CALL_VOID(ref, type, args...) for functions returning void.
 * The call runs inside an RCU read-side section: keep it short (no
 * blocking I/O); long-lived work holds a pin instead.
 */
#define LM_CALL(ref, type, ret, ...)                                        \
	do {                                                                \
		__typeof__(type) lm__f = (__typeof__(type))lm__call_enter(ref);                     \
		(ret) = lm__f(__VA_ARGS__);                                 \
		lm__call_leave();                                           \
	} while (0)

#define LM_CALL_VOID(ref, type, ...)                                        \
	do {                                                                \
		__typeof__(type) lm__f = (__typeof__(type))lm__call_enter(ref);                     \
		lm__f(__VA_ARGS__);                                         \
		lm__call_leave();                                           \
	} while (0)

/*
 * Typed references to a declared export (LM_DECLARE, <livemod/module.h>):
 *
 *   static LM_REF(MSG_HANDLE) handle;           // or a typedef of it
 *   if (LM_LOOKUP(&handle, rt, MSG_HANDLE) < 0) // lm_export_ref_lookup
 *           ... lm_error_last() ...
 *   LM_INVOKE(handle, rc, task, buf, len);      // a typed LM_CALL
 *   LM_PIN_INVOKE(pin, handle, rc, task, buf, len);
 *   lm_export_ref_free(handle.ref);
 *
 * The reference carries the declared function type, so a call with the
 * wrong arguments fails to compile, and LM_LOOKUP refuses (at compile
 * time, naming the export) a reference declared with another type. The
 * signature it looks up with is the declaration's, made after macro
 * expansion, as LM_PROVIDE records it in the module.
 */
#define LM_REF(decl)                                                        \
	union {                                                             \
		lm_export_ref *ref;                                         \
		LM_DECL_TYPE(decl) *fn; /* the type only; never set */      \
	}

#define LM_LOOKUP(r, rt, decl)                                              \
	__extension__({                                                     \
		_Static_assert(__builtin_types_compatible_p(                \
				       __typeof__((r)->fn),                 \
				       LM_DECL_TYPE(decl) *),               \
			       "LM_LOOKUP of export " LM_DECL_MODULE(decl)  \
			       "." LM_DECL_NAME(decl) " through a reference " \
			       "of another type");                          \
		lm_export_ref_lookup(&(r)->ref, (rt), LM_DECL_MODULE(decl), \
				     LM_DECL_NAME(decl), LM_DECL_SIG(decl)); \
	})

#define LM_INVOKE(r, ret, ...)                                              \
	LM_CALL((r).ref, __typeof__((r).fn), ret, __VA_ARGS__)
#define LM_INVOKE_VOID(r, ...)                                              \
	LM_CALL_VOID((r).ref, __typeof__((r).fn), __VA_ARGS__)

/* ---- pins ------------------------------------------------------------ */

/* Pins the current version of `module` for a long-lived task; `task` is
 * the host's cookie handed to the brutal-purge callback. A pin belongs to
 * one thread at a time. */
LM_EXTERN(int) lm_pin_acquire(lm_pin **out, lm_runtime *rt, const char *module,
		   void *task);
/* Moves the pin to the newest version (at a safe point of the task);
 * returns 1 when it moved, 0 when already newest. */
LM_EXTERN(int) lm_pin_refresh(lm_pin *pin);
/* Drops the pin (its version may then retire); NULL is a no-op. */
LM_EXTERN(void) lm_pin_release(lm_pin *pin);
/* The version the pin holds. */
LM_EXTERN(const char *) lm_pin_vsn(const lm_pin *pin);

/* LM_PIN_CALL(pin, ref, type, ret, args...): as LM_CALL, through the
 * pinned version (`ref` names the export; it must be of the pin's
 * module). */
#define LM_PIN_CALL(pin, ref, type, ret, ...)                               \
	do {                                                                \
		__typeof__(type) lm__f = (__typeof__(type))lm__pin_enter(pin, ref);                 \
		(ret) = lm__f(__VA_ARGS__);                                 \
		lm__call_leave();                                           \
	} while (0)

#define LM_PIN_CALL_VOID(pin, ref, type, ...)                               \
	do {                                                                \
		__typeof__(type) lm__f = (__typeof__(type))lm__pin_enter(pin, ref);                 \
		lm__f(__VA_ARGS__);                                         \
		lm__call_leave();                                           \
	} while (0)

/* LM_PIN_INVOKE(pin, r, ret, args...): LM_INVOKE through the pinned
 * version, as LM_PIN_CALL. */
#define LM_PIN_INVOKE(pin, r, ret, ...)                                     \
	LM_PIN_CALL(pin, (r).ref, __typeof__((r).fn), ret, __VA_ARGS__)
#define LM_PIN_INVOKE_VOID(pin, r, ...)                                     \
	LM_PIN_CALL_VOID(pin, (r).ref, __typeof__((r).fn), __VA_ARGS__)

/* ---- implementation of the fast path: not API ------------------------ */

typedef void (*lm__fn)(void);

/* What every call reads: one cache line per module, written only by
 * swaps. `vtab` is the published version's function table, NULL while
 * the module is suspended. */
struct lm__hot {
	lm__fn *vtab;
	void *mod;
} __attribute__((aligned(64)));

/* The leading part of an lm_export_ref and of an lm_pin. */
struct lm__refhead {
	struct lm__hot *hot;
	unsigned slot;
};
struct lm__pinhead {
	lm__fn *vtab; /* the pinned version's table; changed only by
		       * lm_pin_refresh, in the pin's own thread */
	struct lm__hot *hot;
};

/* Slow path: leaves the read-side section, waits for resume, re-enters;
 * returns the table to call through. */
LM_EXTERN(lm__fn *) lm__call_wait(struct lm__hot *hot);

#ifdef LM__TSAN
/* liburcu is not TSan-instrumented, so TSan cannot see that a grace
 * period orders a reader's accesses before the reclaimer's. Each reader
 * releases on this address when it leaves its section; the agent acquires
 * it after every synchronize_rcu. */
extern LM_EXTERN(char) lm__tsan_grace;
void __tsan_release(void *addr);
#define LM__TSAN_RELEASE() __tsan_release(&lm__tsan_grace)
#else
#define LM__TSAN_RELEASE() ((void)0)
#endif

/* The read side's entry and exit: memb's section, or (LM_AGENT_QSBR) a
 * depth count the slow path reads to tell a nested call. */
#ifdef LM_AGENT_QSBR
extern LM_EXTERN(__thread unsigned) lm__qsbr_depth
	__attribute__((tls_model("initial-exec")));
#define LM__READ_LOCK() \
	(lm__qsbr_depth++, __atomic_signal_fence(__ATOMIC_SEQ_CST))
#define LM__READ_UNLOCK() \
	(__atomic_signal_fence(__ATOMIC_SEQ_CST), lm__qsbr_depth--)
#else
#define LM__READ_LOCK() urcu_memb_read_lock()
#define LM__READ_UNLOCK() urcu_memb_read_unlock()
#endif

static inline lm__fn lm__call_enter(const lm_export_ref *ref)
{
	const struct lm__refhead *r = (const struct lm__refhead *)ref;
	lm__fn *vt;

	LM__READ_LOCK();
	vt = __atomic_load_n(&r->hot->vtab, __ATOMIC_ACQUIRE);
	if (__builtin_expect(vt == NULL, 0))
		vt = lm__call_wait(r->hot);
	return __atomic_load_n(&vt[r->slot], __ATOMIC_RELAXED);
}

static inline lm__fn lm__pin_enter(const lm_pin *pin,
				   const lm_export_ref *ref)
{
	const struct lm__pinhead *p = (const struct lm__pinhead *)pin;
	const struct lm__refhead *r = (const struct lm__refhead *)ref;

	assert(p->hot == r->hot);
	LM__READ_LOCK();
	/* Only the suspend gate is read from the shared line; the code is
	 * the pinned version's. */
	if (__builtin_expect(
		    __atomic_load_n(&p->hot->vtab, __ATOMIC_ACQUIRE) == NULL, 0))
		(void)lm__call_wait(p->hot);
	return __atomic_load_n(&p->vtab[r->slot], __ATOMIC_RELAXED);
}

static inline void lm__call_leave(void)
{
	LM__TSAN_RELEASE();
	LM__READ_UNLOCK();
}

#ifdef __cplusplus
}
#endif
#endif /* LIVEMOD_AGENT_H */
