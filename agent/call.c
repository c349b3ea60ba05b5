/*
 * call.c - the host's side of calling modules: thread registration,
 * resolving export refs (where signatures are checked, once), and the
 * slow path of a call that found its module suspended.
 *
 * The fast path itself is inline in <livemod/agent.h>.
 */
#include "internal.h"
#include "imports.h"

#include <assert.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* See LM__TSAN_RELEASE in agent.h; defined in every build so that a TSan
 * host links against a normal agent library. */
LM_EXTERN(char) lm__tsan_grace;

/* How long a call spins on a suspended module before it sleeps. A swap
 * is a grace period and a pointer store; on a VM the grace period's IPIs
 * make it ~50-100 us, and waking a sleeping thread costs another IPI and
 * an idle exit, as much again. Spinning through a typical swap halves the
 * pause. A sched_yield every SPIN_YIELD_NS lets an applier sharing the
 * CPU run; yielding more often made each memb swap ~7 us longer here (a
 * system call every few microseconds on the CPU the grace period's
 * membarrier interrupts: docs/BENCHMARKS.md). */
#define SPIN_NS 300000L
#define SPIN_YIELD_NS 20000L
#define SPIN_CHECK_EVERY 64

/* Waits for `hot` to have a table again, spinning up to SPIN_NS; true
 * when it has one. */
static bool spin_for_resume(struct lm__hot *hot)
{
	long now = lm__mono_ns(), until = now + SPIN_NS;
	long yield_at = now + SPIN_YIELD_NS;
	int i;

	do {
		for (i = 0; i < SPIN_CHECK_EVERY; i++) {
			if (__atomic_load_n(&hot->vtab, __ATOMIC_ACQUIRE))
				return true;
			caa_cpu_relax();
		}
		if ((now = lm__mono_ns()) >= yield_at) {
			sched_yield();
			yield_at = now + SPIN_YIELD_NS;
		}
	} while (now < until);
	return false;
}

/*
 * A call made while the caller is already inside a module call (a module
 * calling another through the host) holds an outer read-side section that
 * the suspension's grace period waits for: were it to wait for resume, the
 * grace period and the call would wait for each other for ever. It runs
 * the published version instead, which stays mapped and keeps its state
 * until a grace period after it is replaced (docs/host-guide.md, "Nested
 * calls").
 */
static lm__fn *published_table(struct lm_module *mod)
{
	lm__fn *vt;

	pthread_mutex_lock(&mod->mu);
	vt = mod->published ? mod->published->vtab : NULL;
	pthread_mutex_unlock(&mod->mu);
	return vt;
}

/* A call held at the door for `ns`: the suspension's longest, so far. */
static void note_hold(struct lm_module *mod, uint64_t ns)
{
	uint64_t cur = __atomic_load_n(&mod->hold_max_ns, __ATOMIC_RELAXED);

	while (ns > cur &&
	       !__atomic_compare_exchange_n(&mod->hold_max_ns, &cur, ns, true,
					    __ATOMIC_RELAXED,
					    __ATOMIC_RELAXED))
		;
}

lm__fn *lm__call_wait(struct lm__hot *hot)
{
	struct lm_module *mod = hot->mod;
	long since = lm__mono_ns();
	lm__fn *vt;

	for (;;) {
		/* Waiting inside the section would stall the grace period
		 * the swap itself may be waiting for. A nested call holds
		 * an outer section (or, QSBR, runs module code): it must not
		 * leave it. */
		if (lm__section_leave_unless_nested()) {
			if ((vt = published_table(mod)))
				return vt;
			/* a suspended module always has one */
			fprintf(stderr, "livemod: nested call into module %s, "
				"which has no published version\n", mod->name);
			abort();
		}
		if (spin_for_resume(hot))
			goto again;
		pthread_mutex_lock(&mod->mu);
		while (mod->suspended)
			pthread_cond_wait(&mod->resumed, &mod->mu);
		if (!mod->published) {
			/* lm_runtime_remove refuses while refs exist, so
			 * only a ref used after lm_export_ref_free or a pin
			 * call after release gets here. */
			fprintf(stderr, "livemod: call into module %s, which "
				"has no published version (ref used after "
				"free?)\n", mod->name);
			abort();
		}
		pthread_mutex_unlock(&mod->mu);
again:
		lm__section_enter();
		vt = __atomic_load_n(&hot->vtab, __ATOMIC_ACQUIRE);
		if (vt) {
			note_hold(mod, (uint64_t)(lm__mono_ns() - since));
			return vt;
		}
	}
}

/* The slot for `name`, new or reused; caller holds rt->mu. */
static int slot_for(unsigned *out, struct lm_module *mod, const char *name,
		    const char *sig)
{
	unsigned i;

	for (i = 0; i < mod->nslots; i++)
		if (strcmp(mod->slots[i].name, name) == 0)
			break;
	if (i == mod->nslots) {
		if (i == LM_AGENT_SLOTS_MAX)
			return lm_error_set(LM_EINVAL, "module %s: more than %d "
					    "distinct exports referenced",
					    mod->name, LM_AGENT_SLOTS_MAX);
		mod->slots[i].name = strdup(name);
		mod->slots[i].sig = strdup(sig);
		if (!mod->slots[i].name || !mod->slots[i].sig) {
			free(mod->slots[i].name);
			free(mod->slots[i].sig);
			return lm_error_set(LM_ERROR, "out of memory");
		}
		mod->nslots++;
	} else if (strcmp(mod->slots[i].sig, sig) != 0) {
		if (mod->slots[i].refs)
			return lm_error_set(LM_ECHECK, "export %s.%s: the host "
					    "already uses it as '%s', not '%s'",
					    mod->name, name, mod->slots[i].sig,
					    sig);
		free(mod->slots[i].sig);
		if (!(mod->slots[i].sig = strdup(sig)))
			return lm_error_set(LM_ERROR, "out of memory");
	}
	*out = i;
	return 0;
}

/*
 * Every version a call can reach (published, staged, old with pins) must
 * have the export with this signature; fill the slot in every version
 * that has it. Caller holds rt->mu; a pinned count only drops, so an
 * unpinned old version cannot be reached later.
 */
static int fill_slot(struct lm_module *mod, unsigned slot, const char *name,
		     const char *sig)
{
	struct lm_version *v, *list[2] = { mod->published, mod->staged };
	const struct lm_export_desc *e;
	int k, rc;

	for (k = 0; k < 2; k++) {
		if (!list[k])
			continue;
		rc = lm__export_matches(list[k], name, sig, &e);
		if (rc == 0)
			return lm_error_set(LM_ENOTFOUND, "module %s %s has no "
					    "export %s", mod->name,
					    list[k]->desc->vsn, name);
		if (rc < 0)
			return rc;
	}
	for (v = mod->old; v; v = v->next) {
		rc = lm__export_matches(v, name, sig, &e);
		if (rc <= 0 && lm__version_pins(v))
			return rc < 0 ? rc :
			       lm_error_set(LM_ECHECK, "module %s: old version "
					    "%s, still pinned, has no export %s",
					    mod->name, v->desc->vsn, name);
	}
	for (k = 0; k < 2; k++)
		if (list[k] && lm__export_matches(list[k], name, sig, &e) > 0)
			__atomic_store_n(&list[k]->vtab[slot], e->fn,
					 __ATOMIC_RELAXED);
	for (v = mod->old; v; v = v->next)
		if (lm__export_matches(v, name, sig, &e) > 0)
			__atomic_store_n(&v->vtab[slot], e->fn,
					 __ATOMIC_RELAXED);
	lm_error_clear();
	return 0;
}

static int lookup_locked(lm_export_ref **out, lm_runtime *rt,
			 const char *module, const char *name,
			 const char *sig)
{
	struct lm_module *mod;
	struct lm_export_ref *ref;
	unsigned slot = 0;
	int rc = lm__module_loaded(&mod, rt, module);

	if (rc < 0)
		return rc;
	rc = slot_for(&slot, mod, name, sig);
	if (rc == 0)
		rc = fill_slot(mod, slot, name, sig);
	if (rc < 0)
		return rc;
	ref = calloc(1, sizeof(*ref));
	if (!ref)
		return lm_error_set(LM_ERROR, "out of memory");
	ref->head.hot = mod->hot;
	ref->head.slot = slot;
	ref->mod = mod;
	mod->slots[slot].refs++;
	mod->nrefs++;
	*out = ref;
	return 0;
}

int lm_export_ref_lookup(lm_export_ref **out, lm_runtime *rt,
			 const char *module, const char *name,
			 const char *signature)
{
	char *sig;
	int rc;

	assert(out && rt);
	*out = NULL;
	if (!module || !name || !signature)
		return lm_error_set(LM_EINVAL, "export ref: module, name and "
				    "signature are required");
	lm__assert_outside_call(__func__);
	sig = lm_sig_normalize(signature);
	if (!sig)
		return lm_error_set(LM_ERROR, "out of memory");
	lm__rt_lock(rt);
	rc = lookup_locked(out, rt, module, name, sig);
	lm__rt_unlock(rt);
	free(sig);
	return rc;
}

void lm_export_ref_free(lm_export_ref *ref)
{
	lm_runtime *rt;

	if (!ref)
		return;
	rt = ref->mod->rt;
	lm__rt_lock(rt);
	assert(ref->mod->slots[ref->head.slot].refs > 0);
	ref->mod->slots[ref->head.slot].refs--;
	ref->mod->nrefs--;
	lm__rt_unlock(rt);
	free(ref);
}
