/*
 * gate.h - who gets one of a control API listener's connection slots
 * (docs/control-api.md, "Limits"; docs/SECURITY.md, slow clients).
 *
 * A listener serves at most `conn_max` connections at once, at most
 * `peer_max` of them from one peer (a TCP address; on the unix socket, a
 * process). A connection that has not sent a whole request head holds its
 * slot on sufferance: it is cut `head_s` after it came in (or after its
 * last answer, between requests), and a newcomer that finds no room
 * evicts the oldest such connection — of its own peer when the peer is
 * at its limit, of any peer when the listener is full. So clients that
 * trickle their headers a byte at a time can neither keep a slot nor keep
 * an operator out; only requests being served (their head whole) fill
 * the listener, and then a newcomer is answered `503` (the listener full)
 * or `429` (its peer at its limit) with `node_busy`.
 *
 * The gate only decides and cuts; the HTTP server (http.c) tells it when
 * a connection comes, when its head is whole, when its request is
 * answered and when it goes, and answers the refusals. A cut is a
 * shutdown(2) of the socket, which ends the server's read on it; the
 * gate holds its own duplicate of each socket, so a cut can never reach
 * a descriptor number the server has closed and reused.
 */
#ifndef LM_GATE_H
#define LM_GATE_H

typedef struct lm_gate lm_gate;
typedef struct lm_gate_slot lm_gate_slot;

typedef struct lm_gate_limits {
	unsigned conn_max; /* connections served at once */
	unsigned peer_max; /* of them, from one peer */
	unsigned head_s;   /* a request head must be whole within this */
} lm_gate_limits;

/* What a connection gets: served, or answered node_busy. */
enum lm_gate_verdict {
	LM_GATE_SERVE = 0,
	LM_GATE_FULL = 1, /* 503: every slot serves a request */
	LM_GATE_PEER = 2, /* 429: every slot of its peer serves a request */
	LM_GATE_CUT = 3   /* cut or evicted: close it, answer nothing */
};

/* The most connections a gate keeps track of at once (served, answered
 * node_busy, and cut but not yet gone): what the server may hold. */
#define LM_GATE_TOTAL(conn_max) (4 * (conn_max))

/* A gate for the listener named `what` (in its log lines; not copied:
 * it must outlive the gate), with a thread that cuts late heads. */
int lm_gate_new(lm_gate **out, const lm_gate_limits *lim, const char *what);

/* Stops the thread and closes what is left; NULL is accepted. Call it
 * once the server has let every connection go. */
void lm_gate_free(lm_gate *g);

/*
 * A connection came in on socket `fd` from `peer` (a name: "pid 42",
 * "127.0.0.1"). Returns its verdict and its slot in *out, evicting
 * another connection when that makes room; LM_GATE_CUT with no slot
 * (*out NULL) when even the refusals have no room left, or when the gate
 * cannot keep track of it (out of memory or descriptors): the caller
 * then shuts the socket down.
 */
int lm_gate_enter(lm_gate *g, int fd, const char *peer, lm_gate_slot **out);

/* A request head arrived whole on `s`: the verdict its request gets
 * (a served connection is no longer evictable until its answer). */
int lm_gate_head(lm_gate *g, lm_gate_slot *s);

/* The request on `s` was answered: the connection may carry another,
 * whose head must be whole within head_s from now. */
void lm_gate_answered(lm_gate *g, lm_gate_slot *s);

/* The connection is gone; `s` is freed. NULL is accepted. */
void lm_gate_leave(lm_gate *g, lm_gate_slot *s);

#endif
