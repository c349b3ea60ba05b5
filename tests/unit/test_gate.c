/*
 * test_gate.c - who gets a control API listener's connection slots
 * (agent/node/gate.c): a newcomer evicts the oldest connection whose
 * head is incomplete (its own peer's at the peer's limit), requests being
 * served are never evicted, node_busy verdicts when nothing can be, the
 * refusals bounded, and a late head cut. The connections are socket
 * pairs: a cut is seen as the end of the stream on the other end, as a
 * client would. The server around it is tests/e2e/test_busy.sh's.
 *
 * gate.c is compiled into this test (it belongs to the agent, which the
 * unit tests do not link).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <poll.h>

#include "../../agent/node/gate.c"
#include "testutil.h"

/* One connection: the gate sees `fd`, the client holds `peer_end`. */
typedef struct conn {
	int fd, peer_end;
	lm_gate_slot *slot;
} conn;

static int come(lm_gate *g, conn *c, const char *peer)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
				    sv), 0);
	c->fd = sv[0];
	c->peer_end = sv[1];
	return lm_gate_enter(g, c->fd, peer, &c->slot);
}

static void go(lm_gate *g, conn *c)
{
	lm_gate_leave(g, c->slot);
	close(c->fd);
	if (c->peer_end >= 0)
		close(c->peer_end);
	c->slot = NULL;
}

/* The n connections go, then the gate. */
static void close_all(lm_gate *g, conn *c, int n)
{
	int i;

	for (i = 0; i < n; i++)
		go(g, &c[i]);
	lm_gate_free(g);
}

/* Whether the gate cut c: its client reads the end of the stream. Waits
 * up to `ms` (a hang guard for the deadline's thread, not a measure). */
static int was_cut(const conn *c, int ms)
{
	struct pollfd p = { .fd = c->peer_end, .events = POLLIN };
	char b;

	return poll(&p, 1, ms) == 1 && recv(c->peer_end, &b, 1,
					    MSG_DONTWAIT) == 0;
}

static lm_gate *gate(unsigned conn_max, unsigned peer_max, unsigned head_s)
{
	const lm_gate_limits lim = { conn_max, peer_max, head_s };
	lm_gate *g = NULL;

	assert_int_equal(lm_gate_new(&g, &lim, "test"), 0);
	return g;
}

/* A full listener: the newcomer takes the slot of the oldest connection
 * still sending its head, not of one being served, nor a newer one. */
static void test_evicts_oldest_waiting(void **state)
{
	lm_gate *g = gate(3, 3, 3600);
	conn c[4];

	(void)state;
	assert_int_equal(come(g, &c[0], "pid 1"), LM_GATE_SERVE);
	assert_int_equal(come(g, &c[1], "pid 2"), LM_GATE_SERVE);
	assert_int_equal(come(g, &c[2], "pid 3"), LM_GATE_SERVE);
	assert_int_equal(lm_gate_head(g, c[0].slot), LM_GATE_SERVE);
	assert_int_equal(come(g, &c[3], "pid 4"), LM_GATE_SERVE);
	assert_true(was_cut(&c[1], 0));
	assert_false(was_cut(&c[0], 0));
	assert_false(was_cut(&c[2], 0));
	/* the evicted one's head, arriving late, is not served */
	assert_int_equal(lm_gate_head(g, c[1].slot), LM_GATE_CUT);
	close_all(g, c, 4);
}

/* Every slot serving a request: 503's verdict, and the refusal waits for
 * its head like any connection; a slot freed serves the next one. */
static void test_full(void **state)
{
	lm_gate *g = gate(2, 2, 3600);
	conn c[3];

	(void)state;
	come(g, &c[0], "pid 1");
	come(g, &c[1], "pid 2");
	lm_gate_head(g, c[0].slot);
	lm_gate_head(g, c[1].slot);
	assert_int_equal(come(g, &c[2], "pid 3"), LM_GATE_FULL);
	assert_non_null(c[2].slot);
	assert_int_equal(lm_gate_head(g, c[2].slot), LM_GATE_FULL);
	assert_false(was_cut(&c[0], 0) || was_cut(&c[1], 0));
	go(g, &c[0]);
	assert_int_equal(come(g, &c[0], "pid 3"), LM_GATE_SERVE);
	close_all(g, c, 3);
}

/* A peer at its limit evicts its own oldest waiting connection, never
 * another peer's, and gets 429's verdict when all its own are served. */
static void test_peer_limit(void **state)
{
	lm_gate *g = gate(8, 2, 3600);
	conn c[5];

	(void)state;
	come(g, &c[0], "pid 2");          /* another peer's, waiting */
	come(g, &c[1], "127.0.0.1");
	come(g, &c[2], "127.0.0.1");
	lm_gate_head(g, c[2].slot);
	assert_int_equal(come(g, &c[3], "127.0.0.1"), LM_GATE_SERVE);
	assert_true(was_cut(&c[1], 0));
	assert_false(was_cut(&c[0], 0));
	lm_gate_head(g, c[3].slot);
	assert_int_equal(come(g, &c[4], "127.0.0.1"), LM_GATE_PEER);
	assert_int_equal(lm_gate_head(g, c[4].slot), LM_GATE_PEER);
	assert_false(was_cut(&c[0], 0));
	close_all(g, c, 5);
}

/* A gate of one slot, c[0] served in it and c[1] refused 503. */
static lm_gate *one_slot_taken(conn *c)
{
	lm_gate *g = gate(1, 1, 3600);

	come(g, &c[0], "pid 1");
	lm_gate_head(g, c[0].slot);
	assert_int_equal(come(g, &c[1], "pid 2"), LM_GATE_FULL);
	return g;
}

/* Answered, a kept-alive connection waits for its next head: evictable
 * again. */
static void test_answered_is_evictable(void **state)
{
	conn c[3];
	lm_gate *g = one_slot_taken(c);

	(void)state;
	lm_gate_answered(g, c[0].slot);
	assert_int_equal(come(g, &c[2], "pid 3"), LM_GATE_SERVE);
	assert_true(was_cut(&c[0], 0));
	close_all(g, c, 3);
}

/* Past conn_max refusals waiting for their heads, a newcomer is closed
 * unanswered: no slot. */
static void test_refusals_bounded(void **state)
{
	conn c[3];
	lm_gate *g = one_slot_taken(c);

	(void)state;
	assert_int_equal(come(g, &c[2], "pid 3"), LM_GATE_CUT);
	assert_null(c[2].slot);
	close_all(g, c, 3);
}

/* A client that read its answer and hung up, on a server whose thread
 * has not yet run to let the connection go (a loaded machine): its next
 * connection is served, though the old slot still says "served" — one
 * request at a time is never "already 8 at once", nor does such a slot
 * keep another peer out of a full listener. A slot whose client still
 * waits is counted. */
static void test_hung_up_not_counted(void **state)
{
	lm_gate *g = gate(2, 1, 3600);
	conn c[4];

	(void)state;
	come(g, &c[0], "pid 1");
	lm_gate_head(g, c[0].slot);
	close(c[0].peer_end);
	c[0].peer_end = -1;
	assert_int_equal(come(g, &c[1], "pid 1"), LM_GATE_SERVE);
	assert_int_equal(lm_gate_head(g, c[1].slot), LM_GATE_SERVE);
	assert_int_equal(come(g, &c[2], "pid 2"), LM_GATE_SERVE);
	lm_gate_head(g, c[2].slot);
	/* still there, its client waiting: counted */
	assert_int_equal(come(g, &c[3], "pid 3"), LM_GATE_FULL);
	close_all(g, c, 4);
}

/* A head not whole within head_s is cut by the gate's thread, with no
 * newcomer needed; a request being served is not. */
static void test_head_deadline(void **state)
{
	lm_gate *g = gate(4, 4, 1);
	conn c[2];

	(void)state;
	come(g, &c[0], "pid 1");
	come(g, &c[1], "pid 2");
	lm_gate_head(g, c[1].slot);
	assert_true(was_cut(&c[0], 30000));
	assert_false(was_cut(&c[1], 0));
	close_all(g, c, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_evicts_oldest_waiting),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_peer_limit),
		cmocka_unit_test(test_answered_is_evictable),
		cmocka_unit_test(test_refusals_bounded),
		cmocka_unit_test(test_head_deadline),
		cmocka_unit_test(test_hung_up_not_counted),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
