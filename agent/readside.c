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
 *
 * A suspension does not need a whole grace period, only the drain of the
 * calls that may have seen the table it cleared (lm__drain): for memb
 * readers, one membarrier and a look at each reader's nesting count,
 * where liburcu's synchronize_rcu takes two membarriers and a phase flip
 * so that it can also outlast readers that keep entering new sections.
 */
#include "internal.h"

#include <assert.h>

#include <linux/membarrier.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

/* struct urcu_reader and its nesting mask, without remapping the public
 * names to the inline versions (under TSan the agent calls them) */
#include <urcu/static/urcu-memb.h>

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

/* Every memb reader registered through lm_thread_register, for the drain
 * to read its liburcu nesting count. Linked through thread-local nodes: a
 * thread unregisters before it exits (the host's contract), and the
 * drain holds memb_mu while it reads them. */
struct memb_reader {
	struct memb_reader *prev, *next;
	const unsigned long *ctr; /* the thread's urcu_memb_reader.ctr */
};
static __thread struct memb_reader self_reader;
static struct memb_reader *memb_list;
static pthread_mutex_t memb_mu = PTHREAD_MUTEX_INITIALIZER;

void lm_thread_register(void)
{
	assert(!self_reader.ctr); /* once per thread, as liburcu's */
	urcu_memb_register_thread();
	self_reader.ctr = &URCU_TLS(urcu_memb_reader).ctr;
	pthread_mutex_lock(&memb_mu);
	self_reader.prev = NULL;
	self_reader.next = memb_list;
	if (memb_list)
		memb_list->prev = &self_reader;
	memb_list = &self_reader;
	pthread_mutex_unlock(&memb_mu);
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
	pthread_mutex_lock(&memb_mu);
	assert(self_reader.ctr); /* registered by lm_thread_register */
	if (self_reader.prev)
		self_reader.prev->next = self_reader.next;
	else
		memb_list = self_reader.next;
	if (self_reader.next)
		self_reader.next->prev = self_reader.prev;
	self_reader.ctr = NULL;
	pthread_mutex_unlock(&memb_mu);
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

/* The fence liburcu's memb grace period sends (its smp_mb_master): a
 * membarrier when the readers rely on one, the kind liburcu chose at its
 * start (private expedited, registered by liburcu's constructor, where
 * the kernel has it); a plain fence when the readers fence themselves. */
static void memb_fence(void)
{
	static int cmd = -1;
	int c = __atomic_load_n(&cmd, __ATOMIC_RELAXED);

	if (!urcu_memb_has_sys_membarrier) {
		cmm_smp_mb();
		return;
	}
	if (c < 0) {
		int mask = (int)syscall(__NR_membarrier, MEMBARRIER_CMD_QUERY, 0);

		c = mask >= 0 && (mask & MEMBARRIER_CMD_PRIVATE_EXPEDITED) ?
		    MEMBARRIER_CMD_PRIVATE_EXPEDITED : MEMBARRIER_CMD_SHARED;
		/* idempotent, and done already by liburcu when it chose it */
		if (c == MEMBARRIER_CMD_PRIVATE_EXPEDITED &&
		    syscall(__NR_membarrier,
			    MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0) != 0)
			c = MEMBARRIER_CMD_SHARED;
		__atomic_store_n(&cmd, c, __ATOMIC_RELAXED);
	}
	if (syscall(__NR_membarrier, c, 0) != 0) {
		perror("livemod: membarrier");
		abort(); /* as liburcu's own grace period does (urcu_die) */
	}
}

/* How long the drain watches for a reader still inside a section before
 * it leaves the wait to a whole grace period: about one membarrier on a
 * VM. A call held at a closed door waits outside its section, so only a
 * reader preempted inside a call, or one inside another module's calls
 * back to back (a nested caller), lasts that long. */
#define DRAIN_SPIN_NS 20000L

/*
 * After the membarrier, a reader either ran a full fence since the tables
 * were cleared (its next section sees them cleared: it cannot have
 * entered the old code since) or was inside a section that began before
 * (still running, or gone since). Seeing its nesting count at zero at any
 * moment after the membarrier proves that section over. On x86 the
 * count's store is seen only after the call's own accesses (TSO), so the
 * read is the end of the wait; elsewhere a second membarrier orders the
 * call's accesses before the caller's, as liburcu's grace period ends.
 */
static void memb_drain(void)
{
	struct memb_reader *r;
	long until = -1;
	unsigned spins = 0;

	pthread_mutex_lock(&memb_mu);
	memb_fence();
	for (r = memb_list; r; r = r->next) {
		while (CMM_LOAD_SHARED(*r->ctr) & URCU_GP_CTR_NEST_MASK) {
			caa_cpu_relax();
			if (++spins % 64)
				continue;
			if (until < 0)
				until = lm__mono_ns() + DRAIN_SPIN_NS;
			else if (lm__mono_ns() > until) {
				pthread_mutex_unlock(&memb_mu);
				urcu_memb_synchronize_rcu();
				return;
			}
		}
	}
#if !defined(__x86_64__) && !defined(__i386__)
	memb_fence();
#endif
	pthread_mutex_unlock(&memb_mu);
}

/* Waits for the flavours that have readers, memb's way `memb_wait`. */
static void wait_readers(void (*memb_wait)(void))
{
	/* seq_cst: the counts are read after the caller's unpublishing
	 * stores, so a reader counted later cannot have seen what went */
	if (__atomic_load_n(&memb_readers, __ATOMIC_SEQ_CST))
		memb_wait();
	if (__atomic_load_n(&qsbr_readers, __ATOMIC_SEQ_CST))
		urcu_qsbr_synchronize_rcu();
#ifdef LM__TSAN
	__tsan_acquire(&lm__tsan_grace);
#endif
}

void lm__synchronize(void)
{
	wait_readers(urcu_memb_synchronize_rcu);
}

void lm__drain(void)
{
	wait_readers(memb_drain);
}

void lm__drain_ready(void)
{
	if (__atomic_load_n(&memb_readers, __ATOMIC_SEQ_CST))
		memb_fence();
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
