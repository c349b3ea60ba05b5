/*
 * readside.c - the two read-side flavours a host's calling threads can
 * use, and the grace period that waits for both.
 *
 * memb (the default): any thread, no duty; a short call is an RCU
 * read-side section, and a grace period is a membarrier (an IPI to every
 * CPU running the process: tens of microseconds on a VM with a busy
 * caller). qsbr: a thread registered with lm_thread_register_qsbr (a host
 * compiled with LM_AGENT_QSBR) announces quiescent states between calls
 * (lm_quiescent) and goes offline while it blocks; its calls cost nothing
 * on entry and exit but a thread-local depth count, and a grace period
 * only waits for each online reader's next announcement (about a
 * microsecond).
 *
 * A grace period waits for the flavours that have readers: counted here,
 * so that a process with only QSBR readers never pays a membarrier (the
 * reaper's own memb registration, for call_rcu, is not a reader).
 */
#include "internal.h"

#include <assert.h>

#include <stdio.h>
#include <stdlib.h>

#include <urcu/map/clear.h>
#include <urcu/urcu-qsbr.h>

/* urcu/call-rcu.h declares rcu_barrier once, under the first flavour's
 * name (memb, through agent.h): the QSBR one, which liburcu-qsbr
 * exports, is named here. */
void urcu_qsbr_barrier(void);

#ifdef LM__TSAN
void __tsan_acquire(void *addr);
#endif

/* a file built with LM_AGENT_QSBR (a sanitizer test build compiles the
 * agent with the test's flags) still defines the memb registration */
#undef lm_thread_register

LM_EXTERN(__thread unsigned) lm__qsbr_depth __attribute__((tls_model("initial-exec")));

/* The calling thread's flavour: the slow path leaves a section its way. */
static __thread bool thread_qsbr;
static unsigned long memb_readers, qsbr_readers;

void lm_thread_register(void)
{
	urcu_memb_register_thread();
	__atomic_add_fetch(&memb_readers, 1, __ATOMIC_SEQ_CST);
}

void lm_thread_unregister(void)
{
	if (thread_qsbr) {
		__atomic_sub_fetch(&qsbr_readers, 1, __ATOMIC_SEQ_CST);
		urcu_qsbr_unregister_thread();
		thread_qsbr = false;
		return;
	}
	__atomic_sub_fetch(&memb_readers, 1, __ATOMIC_SEQ_CST);
	urcu_memb_unregister_thread();
}

void lm_thread_register_qsbr(void)
{
	/* counted first: a grace period that starts from now waits for the
	 * thread, which is online once registered */
	__atomic_add_fetch(&qsbr_readers, 1, __ATOMIC_SEQ_CST);
	urcu_qsbr_register_thread();
	thread_qsbr = true;
}

void lm_quiescent(void)
{
	urcu_qsbr_quiescent_state();
}

void lm_thread_offline(void)
{
	urcu_qsbr_thread_offline();
}

void lm_thread_online(void)
{
	urcu_qsbr_thread_online();
}

bool lm__section_leave_unless_nested(void)
{
	if (thread_qsbr) {
		if (lm__qsbr_depth > 1)
			return true;
		urcu_qsbr_thread_offline();
		return false;
	}
	/* memb counts nesting itself: one level off, is one still on? */
	urcu_memb_read_unlock();
	if (!urcu_memb_read_ongoing())
		return false;
	urcu_memb_read_lock();
	return true;
}

void lm__section_enter(void)
{
	if (thread_qsbr)
		urcu_qsbr_thread_online();
	else
		urcu_memb_read_lock();
}

void lm__synchronize(void)
{
	/* seq_cst: the counts are read after the caller's unpublishing
	 * stores, so a reader counted later cannot have seen what went */
	if (__atomic_load_n(&memb_readers, __ATOMIC_SEQ_CST))
		urcu_memb_synchronize_rcu();
	if (__atomic_load_n(&qsbr_readers, __ATOMIC_SEQ_CST))
		urcu_qsbr_synchronize_rcu();
#ifdef LM__TSAN
	__tsan_acquire(&lm__tsan_grace);
#endif
}

void lm__barrier(void)
{
	urcu_memb_barrier();
	if (__atomic_load_n(&qsbr_readers, __ATOMIC_SEQ_CST))
		urcu_qsbr_barrier();
}

/* Offline while it waits for the writer lock, and while it holds it: a
 * thread that holds rt->mu may be waiting for a grace period, which would
 * wait for this thread's next announcement. Only a thread outside any
 * call gets here (lm__assert_outside_call), so it holds nothing a grace
 * period protects. rt->mu does not nest. */
static __thread bool rt_offline;

void lm__rt_lock(lm_runtime *rt)
{
	assert(rt); /* every public writer enters here */
	if (thread_qsbr && urcu_qsbr_read_ongoing()) {
		urcu_qsbr_thread_offline();
		rt_offline = true;
	}
	pthread_mutex_lock(&rt->mu);
}

void lm__rt_unlock(lm_runtime *rt)
{
	pthread_mutex_unlock(&rt->mu);
	if (rt_offline) {
		rt_offline = false;
		urcu_qsbr_thread_online();
	}
}

void lm__assert_outside_call(const char *fn)
{
	if (thread_qsbr ? lm__qsbr_depth > 0 : urcu_memb_read_ongoing()) {
		fprintf(stderr, "livemod: %s called from inside a module call "
			"(an RCU read-side section): it would wait for itself\n",
			fn);
		abort();
	}
}
