/*
 * lmhost.c - the smallest real host: a process that runs a livemod node
 * on a state dir and keeps calling its modules, for the end-to-end tests
 * of update, apply, status and the control API.
 *
 *   lmhost --state DIR [--http 127.0.0.1:0] [--call MOD]... [--import MOD]...
 *          [--pin MOD]...
 *
 * --call MOD  a thread calls MOD's `int answer(void)` in a tight loop
 *             (short calls); a call answered <= 0 is counted as bad.
 * --import MOD  declares MOD's `int answer(void)` an import of the host
 *             (lm_node_options imports): boot and every plan check it.
 * --pin MOD   a task pins MOD; a brutal purge of its version ends it
 *             (the task prints "ended MOD VSN" and lets go); SIGUSR1
 *             makes pinned tasks refresh.
 * Prints "port N" (with --http) and "ready" on stdout, then on SIGTERM
 * "calls N bad N" and exits 0 after stopping the node cleanly.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <livemod/node.h>

#define MAXN 16

typedef struct pinned {
	char *module;
	lm_pin *pin;
	atomic_int end; /* set by the brutal-purge callback */
} pinned;

static volatile sig_atomic_t stop, refresh;
static atomic_long calls, bad;
static lm_export_ref *refs[MAXN];
static pinned pins[MAXN];
static lm_import imports[MAXN];
static int nrefs, npins;

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		refresh = 1;
	else
		stop = 1;
}

static void *caller(void *arg)
{
	lm_export_ref *ref = arg;
	int r;

	lm_thread_register();
	while (!stop) {
		LM_CALL(ref, int (*)(void), r);
		atomic_fetch_add(&calls, 1);
		if (r <= 0)
			atomic_fetch_add(&bad, 1);
	}
	lm_thread_unregister();
	return NULL;
}

/* Runs with the module's pin lock held: only flags the task. */
static void end_task(void *ctx, const lm_pin_victim *v)
{
	pinned *p = v->task;

	(void)ctx;
	printf("ending %s %s\n", v->module, v->vsn);
	atomic_store(&p->end, 1);
}

/* The main thread plays the pinned tasks: at each tick, a task whose
 * version is being purged ends, and on SIGUSR1 the others refresh. */
static void tend_pins(lm_runtime *rt)
{
	int i;

	for (i = 0; i < npins; i++) {
		pinned *p = &pins[i];

		if (p->pin && atomic_load(&p->end)) {
			printf("ended %s %s\n", p->module, lm_pin_vsn(p->pin));
			fflush(stdout);
			lm_pin_release(p->pin);
			p->pin = NULL;
		}
		if (p->pin && refresh)
			lm_pin_refresh(p->pin);
		if (!p->pin && refresh &&
		    lm_pin_acquire(&p->pin, rt, p->module, p) == 0)
			atomic_store(&p->end, 0);
	}
	refresh = 0;
}

int main(int argc, char **argv)
{
	lm_node_options o = { 0 };
	pthread_t th[MAXN];
	sigset_t sigs, unblocked;
	lm_node *node;
	int i, rc;

	o.control_socket = 1;
	o.on_brutal_purge = end_task;
	o.imports = imports;
	for (i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--state") == 0)
			o.state_dir = argv[i + 1];
		else if (strcmp(argv[i], "--http") == 0)
			o.http_listen = argv[i + 1];
		else if (strcmp(argv[i], "--call") == 0 && nrefs < MAXN)
			refs[nrefs++] = (lm_export_ref *)argv[i + 1];
		else if (strcmp(argv[i], "--import") == 0 &&
			 o.nimports < MAXN)
			imports[o.nimports++] = (lm_import){
				argv[i + 1], "answer", LM_SIG(int (void)) };
		else if (strcmp(argv[i], "--pin") == 0 && npins < MAXN)
			pins[npins++].module = argv[i + 1];
		else
			break;
	}
	if (i < argc || !o.state_dir) {
		fprintf(stderr, "usage: lmhost --state DIR [--http ADDR] "
				"[--call MOD]... [--import MOD]... [--pin MOD]...\n");
		return 2;
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGUSR1, on_signal);
	/* Blocked in every thread (they inherit it) but this one, where it
	 * waits: a host with no pins to tend sleeps until a signal, rather
	 * than waking every 2 ms on the CPUs the benchmarks time. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &sigs, &unblocked);
	if ((rc = lm_node_start(&node, &o)) < 0) {
		fprintf(stderr, "lmhost: %s\n", lm_error_last());
		return 1;
	}
	for (i = 0; i < nrefs; i++) {
		const char *mod = (const char *)refs[i];

		if (lm_export_ref_lookup(&refs[i], lm_node_runtime(node), mod,
					 "answer", LM_SIG(int (void))) < 0) {
			fprintf(stderr, "lmhost: %s\n", lm_error_last());
			return 1;
		}
		pthread_create(&th[i], NULL, caller, refs[i]);
	}
	for (i = 0; i < npins; i++)
		if (lm_pin_acquire(&pins[i].pin, lm_node_runtime(node),
				   pins[i].module, &pins[i]) < 0) {
			fprintf(stderr, "lmhost: %s\n", lm_error_last());
			return 1;
		}
	if (o.http_listen)
		printf("port %d\n", lm_node_http_port(node));
	printf("ready\n");
	fflush(stdout);
	if (npins)
		pthread_sigmask(SIG_SETMASK, &unblocked, NULL);
	while (!stop) {
		if (!npins) {
			sigsuspend(&unblocked);
			continue;
		}
		tend_pins(lm_node_runtime(node));
		usleep(2000);
	}
	for (i = 0; i < nrefs; i++)
		pthread_join(th[i], NULL);
	for (i = 0; i < nrefs; i++)
		lm_export_ref_free(refs[i]);
	for (i = 0; i < npins; i++)
		if (pins[i].pin)
			lm_pin_release(pins[i].pin);
	lm_node_stop(node);
	printf("calls %ld bad %ld\n", atomic_load(&calls), atomic_load(&bad));
	return 0;
}
