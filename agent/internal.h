/*
 * internal.h - the agent runtime's data structures, shared by the agent/ sources.
 *
 * Locks, always taken in this order:
 *   rt->mu        the writer lock: every swap primitive, purge, ref lookup,
 *                 introspection, the reaper; owns module slots, staged and
 *                 old-version lists, version state pointers;
 *   rt->tab_lock  the module table (read by pin acquire without rt->mu, so
 *                 a long brutal purge never blocks a task starting);
 *   mod->mu       the published pointer, suspension, pin lists and counts;
 *   rt->reap_mu   the reaper's wake-up flag.
 * Modules are never freed before the runtime: a pointer to one stays
 * valid, which keeps the call and pin paths free of lifetime questions.
 */
#ifndef LM_AGENT_INTERNAL_H
#define LM_AGENT_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <sys/types.h>
#include <time.h>

#include <livemod/agent.h>

#include "descriptor.h"
#include "error.h"

/* CLOCK_MONOTONIC in nanoseconds: the spins' deadlines, the holds and
 * the reaper's timings. */
static inline long lm__mono_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000000L + t.tv_nsec;
}

typedef enum lm_vstage {
	LM_V_STAGED,  /* loaded and checked, not published */
	LM_V_CURRENT, /* the published version */
	LM_V_OLD      /* replaced, awaiting purge */
} lm_vstage;

/* What an ELF scan found that keeps dlclose from unmapping an object. */
enum {
	LM_ELF_GNU_UNIQUE = 1u << 0,
	LM_ELF_NODELETE = 1u << 1,
	LM_ELF_TLS = 1u << 2
};

struct lm_pin {
	struct lm__pinhead head; /* first: read by the inline call path */
	struct lm_module *mod;
	struct lm_version *ver;  /* under mod->mu */
	void *task;
	struct lm_pin *prev, *next; /* in ver->pins, under mod->mu */
};

struct lm_version {
	struct lm_module *mod;
	lm_vstage stage;
	char *path;           /* absolute path given to dlopen */
	char oid[41];
	dev_t dev;            /* the file's identity, to find it in maps */
	ino_t ino;
	unsigned elf;         /* LM_ELF_* */
	void *dl;
	const struct lm_module_desc *raw;
	lm_descriptor *desc;
	lm__fn *vtab;         /* LM_AGENT_SLOTS_MAX entries, by slot */
	void *state;          /* under rt->mu */
	bool has_state;
	/* State by move (ABI 2), under rt->mu: a staged version whose state
	 * a code_change of a module with change_commit/change_abort made,
	 * until lm__move_commit (publish) or lm__move_abort (unstage). */
	struct lm_version *mover; /* whose callbacks: LM_UP the staged
				   * version itself, LM_DOWN the published */
	lm_change_mode move_mode;
	void *move_from;          /* the state that code_change was given */
	/* under mod->mu */
	size_t npins;
	struct lm_pin *pins;
	bool retiring;        /* unload when npins drops to 0 */
	struct lm_version *next; /* old list, under rt->mu */
};

/* An export the host resolved; its index is the same in every version's
 * table. */
struct lm_slot {
	char *name;
	char *sig;    /* normalized, as the host gave it */
	size_t refs;
};

struct lm_module {
	struct lm__hot *hot; /* own cache line */
	lm_runtime *rt;
	char *name;
	/* under rt->mu */
	struct lm_version *staged;
	struct lm_version *old; /* oldest first */
	struct lm_slot slots[LM_AGENT_SLOTS_MAX];
	unsigned nslots;
	size_t nrefs;
	/* under mu */
	pthread_mutex_t mu;
	pthread_cond_t resumed;    /* suspension ended */
	pthread_cond_t pins_moved; /* a pin left an old version */
	struct lm_version *published;
	bool suspended;
	/* the longest a call waited at the door in the last suspension
	 * (atomic; reset when the door closes) */
	uint64_t hold_max_ns;
};

struct lm_export_ref {
	struct lm__refhead head; /* first: read by the inline call path */
	struct lm_module *mod;
};

struct lm_runtime {
	pthread_mutex_t mu;
	pthread_rwlock_t tab_lock;
	struct lm_module **mods;
	size_t nmods, cap;

	lm_brutal_purge_fn brutal_fn;
	void *brutal_ctx;
	unsigned brutal_timeout_ms;
	lm_warning_fn warn_fn;
	void *warn_ctx;

	lm_reaped_fn reaped_fn;
	void *reaped_ctx;

	/* Modules suspended now, under mu. The reaper unloads only when
	 * none is: a dlclose, its TLB-shootdown IPIs and the maps check in a
	 * suspension's window would hold callers at the door for them. */
	unsigned nsuspended;
	pthread_cond_t unsuspended;   /* nsuspended reached 0, or stop */

	pthread_t reaper;
	pthread_mutex_t reap_mu;
	pthread_cond_t reap_cv;
	bool reap_pending, reap_stop;
};

/* registry.c: the bottom layer */
/* Frees a module's own memory (its versions are gone). */
void lm__module_free(struct lm_module *mod);
struct lm_module *lm__module_find(lm_runtime *rt, const char *name);
int lm__module_get(struct lm_module **out, lm_runtime *rt, const char *name);
int lm__module_need(struct lm_module **out, lm_runtime *rt,
		    const char *name);
int lm__module_loaded(struct lm_module **out, lm_runtime *rt,
		      const char *name);
void lm__warn(lm_runtime *rt, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* readside.c */
/* A grace period of every flavour that has readers, and TSan told what it
 * means. */
void lm__synchronize(void);
/* Waits until no call that may have read a table cleared before it (a
 * suspension's) can still be running: cheaper than lm__synchronize for
 * memb readers (one membarrier, not two), and no weaker for the calls it
 * waits for. Not a grace period for anything else. */
void lm__drain(void);
/* Sent just before a suspension closes its doors: the membarrier a drain
 * sends, once, so that the one inside the pause finds the IPI path warm.
 * On this VM the first membarrier after the applier did other work costs
 * about twice one sent right after another (bench_apply: held at the
 * door p50 ~30 -> ~13 us, the apply ~10 us longer); the calls are still
 * running meanwhile. Nothing for QSBR readers. */
void lm__drain_ready(void);
/* rcu_barrier of every flavour in use: no call_rcu callback pending. */
void lm__barrier(void);
/* Aborts when called inside a read-side section: every writer path
 * waits for grace periods, which would wait for the caller itself. */
void lm__assert_outside_call(const char *fn);
/* The calling thread's section, its flavour's way: left before a call
 * waits for a suspended module, unless the call is nested in an outer
 * module call (true: the section is kept); entered again after. */
bool lm__section_leave_unless_nested(void);
void lm__section_enter(void);
/* rt->mu, taken and let go; a QSBR reader is offline meanwhile. */
void lm__rt_lock(lm_runtime *rt);
void lm__rt_unlock(lm_runtime *rt);
/* A public writer entry point's body, under rt->mu, never from inside a
 * module call. */
#define WITH_RT(rt, body)                                                   \
	do {                                                                \
		lm__assert_outside_call(__func__);                          \
		lm__rt_lock(rt);                              \
		body;                                                       \
		lm__rt_unlock(rt);                            \
	} while (0)


/* load.c */
int lm__version_open(struct lm_version **out, lm_runtime *rt,
		     const char *path, const char *oid,
		     const lm_descriptor *expected);
/* Closes a version that failed its checks: no code but its constructors
 * ever ran, nothing can call it. */
void lm__version_discard(struct lm_version *v);
/* Frees the bookkeeping of a version whose object is closed. */
void lm__version_free(struct lm_version *v);

/* check.c: a version's descriptor and exports against what is expected */
const struct lm_export_desc *lm__version_export(const struct lm_version *v,
						 const char *name);
int lm__descriptor_compare(const lm_descriptor *got,
			   const lm_descriptor *planned, const char *path);
/* Checks `v` against every export the host holds a ref to and fills its
 * table. */
int lm__version_bind(struct lm_module *mod, struct lm_version *v);
/* 1 when `v` exports `name` with the normalized signature `sig`, 0 when
 * it has no such export, LM_ECHECK when the signature differs. */
int lm__export_matches(const struct lm_version *v, const char *name,
		       const char *sig, const struct lm_export_desc **e);

/* unmap.c */
/* Unloads versions no thread can reach any more (not published, no pin):
 * waits out in-flight calls, terminates states no live version shares,
 * waits for call_rcu callbacks, dlcloses, verifies the unmap. Frees the
 * versions. Caller holds rt->mu; the versions are off every list. */
void lm__unload(lm_runtime *rt, struct lm_version **v, size_t n);
/* Closes a version that never ran outside its constructors and init. */
void lm__close_unpublished(lm_runtime *rt, struct lm_version *v);

/* True when `v`'s code_change moves state (change_commit and
 * change_abort, ABI 2). */
bool lm__moves_state(const struct lm_version *v);
/* The staged version `v`'s moved state, given back to the version it was
 * moved from (the mover's change_abort); `v` then holds no state, and its
 * terminate is never called on it. A no-op when nothing was moved. */
void lm__move_abort(struct lm_version *v);

/* elfinfo.c */
unsigned lm__elf_flags(const char *path);
/* Human words for LM_ELF_* flags, "" for none; static storage. */
const char *lm__elf_reasons(unsigned flags, char *buf, size_t cap);

/* purge.c */
/* Versions taken off their module's lists, to be unloaded together. */
struct lm__taken {
	struct lm_version **v;
	size_t n, cap;
};
/* The pin-handling half of a purge: fails (soft, pinned) or asks the host
 * and waits (brutal) as the purge mode says, marks pinned versions
 * retiring, and moves the ones to unload now to `t`. Caller holds
 * rt->mu. */
int lm__purge_take(lm_runtime *rt, struct lm_module *mod, lm_purge_mode mode,
		   unsigned flags, struct lm__taken *t);
/* lm__unload of everything in `t`, which is emptied. */
void lm__taken_unload(lm_runtime *rt, struct lm__taken *t);
/* lm__purge_take, then lm__taken_unload. */
int lm__purge_locked(lm_runtime *rt, struct lm_module *mod,
		     lm_purge_mode mode, unsigned flags);
int lm__reaper_start(lm_runtime *rt);
void lm__reaper_stop(lm_runtime *rt);
/* registry.c: wakes the reaper (a pin's release, lm_runtime_reap). */
void lm__reaper_kick(lm_runtime *rt);

/* purge.c: lm_runtime_remove's checks and unpublishing, then
 * lm__purge_take. Caller holds rt->mu. */
int lm__remove_take(lm_runtime *rt, const char *module, lm_purge_mode mode,
		    unsigned flags, struct lm__taken *t);
/* pin.c */
/* Pins on `v` now (takes mod->mu). */
size_t lm__version_pins(struct lm_version *v);

#endif
