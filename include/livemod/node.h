/*
 * node.h - the node: what a host server runs to be upgraded live.
 *
 * A node is one running server with its agent. lm_node_start opens the
 * state dir (ledger, store), boots the node's current release — every
 * module of it extracted from the store to objects/<oid>.so, checked
 * against its oid and loaded — and serves the control API (HTTP over
 * state/agent.sock, and on a loopback TCP port behind a bearer token when
 * asked). Applying a plan drives the lm_runtime swap primitives in the
 * order of the plan's low-level script and records check, eval and
 * timings in the ledger.
 *
 * Public calls return 0 or a negative LM_E* code with lm_error_last().
 */
#ifndef LIVEMOD_NODE_H
#define LIVEMOD_NODE_H

#include <stdint.h>

#include <livemod/agent.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lm_node lm_node;

/*
 * One export the host looks up: declared when the node starts, so that
 * booting a release validates it (a release that lacks it, or has it with
 * another signature, does not boot: the node falls back) and every plan
 * is checked against it, by the node and offline by the planner (a plan
 * that removes the module or changes the export fails its check).
 *
 *   static const lm_import imports[] = {
 *       LM_IMPORT(mod_util, escape, int (const char *, char *, size_t)),
 *   };
 */
typedef struct lm_import {
	const char *module;
	const char *name;
	const char *signature; /* LM_SIG(type), as for lm_export_ref_lookup */
} lm_import;

#define LM_IMPORT(module, name, ...) { #module, #name, LM_SIG(__VA_ARGS__) }

/* The import of a declared export (LM_DECLARE, <livemod/module.h>):
 *   static const lm_import imports[] = { LM_IMPORT_DECL(MSG_HANDLE) }; */
#define LM_IMPORT_DECL(decl)                                                \
	{ LM_DECL_MODULE(decl), LM_DECL_NAME(decl), LM_DECL_SIG(decl) }

typedef struct lm_node_options {
	const char *state_dir;   /* required */
	/* Serve the control API on state/agent.sock (mode 0600). */
	int control_socket;
	/* "127.0.0.1:PORT" to also serve on loopback TCP, every request
	 * needing "Authorization: Bearer <state/token>"; NULL for none. */
	const char *http_listen;
	/* Brutal purges end the tasks that pin an old version through this
	 * callback (see lm_runtime_on_brutal_purge); may be NULL. */
	lm_brutal_purge_fn on_brutal_purge;
	void *on_brutal_purge_ctx;
	/* The exports the host will look up (may be NULL when nimports is
	 * 0): validated at boot, recorded in the ledger, every plan checked
	 * against them. */
	const lm_import *imports;
	size_t nimports;
} lm_node_options;

/* Starts the node. On start, apply runs left 'running' by a node that
 * died are marked 'interrupted', and the node boots on its permanent
 * release (OTP's word): the last one whose eval succeeded, unless that
 * apply was only a try (LM_APPLY_TRY) never made permanent — then the
 * restart undoes it, and the permanent release becomes current again.
 * A permanent release that cannot boot (an object fails to load, an init
 * fails, a declared import is missing or has another signature) is
 * recorded 'boot_failed' with the reason, and the node boots the last
 * release that booted on it instead (lm_node_fallback; the node's log,
 * GET /health, `livemod status` and `history` say so). */
LM_EXTERN(int) lm_node_start(lm_node **out, const lm_node_options *opts);

/* Stops serving and unloads every module. Every export ref and pin the
 * host holds must have been released. NULL is a no-op. */
LM_EXTERN(void) lm_node_stop(lm_node *node);

/* The runtime to resolve exports, call and pin through. */
LM_EXTERN(lm_runtime *) lm_node_runtime(lm_node *node);

/* The node's current release (ledger id). */
LM_EXTERN(int64_t) lm_node_release(lm_node *node);

/* The release the node boots on a restart (ledger id). */
LM_EXTERN(int64_t) lm_node_permanent_release(lm_node *node);

/* When the node booted a fallback release: the release that failed to
 * boot (and *reason, owned by the node, why); else 0. */
LM_EXTERN(int64_t) lm_node_fallback(lm_node *node, const char **reason);

/* The TCP port the control API listens on (after start with
 * http_listen "127.0.0.1:0"), or 0. */
LM_EXTERN(int) lm_node_http_port(lm_node *node);

/* What an apply returns: check and eval as OTP prints them, and JSON. */
typedef struct lm_apply_result {
	int status;            /* 0, LM_ECHECK, LM_EEVAL, LM_EBUSY, ... */
	int64_t plan_id, run_id;
	int64_t from_release, to_release;
	char *check;           /* "{ok,[]}" | "{error,\"...\"}" | NULL */
	char *eval;            /* same, NULL when not reached */
	char *json;            /* {"plan","run","check":{...},"eval":{...},
				*  "timings":{...},"modules":[...]} */
} lm_apply_result;

/* Flags of an apply. */
enum {
	/* Leave the new release current only: the node runs it, but a
	 * restart boots the permanent release again until `livemod
	 * make_permanent`. Without it a successful eval makes the new
	 * release permanent too. */
	LM_APPLY_TRY = 1 << 0
};

/*
 * Applies recorded plan `plan_id`. `expected_json` (may be NULL) is the
 * plan text the caller reviewed: when given, it must equal what the
 * ledger recorded. Refused before anything runs: LM_ENOTFOUND (no such
 * plan), LM_ESTALE (the node is not on the plan's from-release),
 * LM_EBUSY (another apply runs). Then LM_ECHECK (check failed, nothing
 * changed) or LM_EEVAL (eval failed, the old versions stay published).
 * *res is filled in every case but the first three (NULL then).
 */
LM_EXTERN(int) lm_node_apply(lm_node *node, int64_t plan_id, const char *expected_json,
		  unsigned flags, lm_apply_result **res);

/* Plans (and records) the modified modules — all when n is 0 — and
 * applies the plan. A libdir that matches the current release gives
 * status 0 with an empty result ("nothing to update"). */
LM_EXTERN(int) lm_node_update(lm_node *node, const char *const *modules, size_t n,
		   unsigned flags, lm_apply_result **res);

/* Plans (and records) the way back to release `to` — 0 for the release
 * the current one was planned from — from the ledger and the store, and
 * applies it (docs/history.md). Refused before anything runs:
 * LM_ENOTFOUND (no such release), LM_EINVAL (the node is on it, or has
 * no earlier release), LM_EBUSY. */
LM_EXTERN(int) lm_node_rollback(lm_node *node, int64_t to, unsigned flags,
		     lm_apply_result **res);

/* Frees a result lm_node_apply, _update or _rollback gave; NULL is a no-op. */
LM_EXTERN(void) lm_apply_result_free(lm_apply_result *r);

#ifdef __cplusplus
}
#endif
#endif /* LIVEMOD_NODE_H */
