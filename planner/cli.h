/*
 * cli.h - what the `livemod` subcommands share: parsed options, error
 * reporting with DESIGN.md's exit statuses, and plan printing.
 */
#ifndef LM_CLI_H
#define LM_CLI_H

#include <stddef.h>

#include "planning.h"

struct cJSON;

typedef struct cli {
	const char *cmd;
	const char *state;   /* --state, else $LIVEMOD_STATE */
	int json;            /* --json */
	int dry_run;         /* --dry-run */
	const char *libdir;  /* --libdir (init) */
	const char *app;     /* --app (init) */
	lm_purge_mode purge; /* --purge */
	lm_extra *extras;    /* --extra MOD=TEXT, repeatable */
	size_t nextras;
	int try_only;        /* --try: leave the new release current only */
	long long to;        /* --to RELEASE (rollback), 0 when not given */
	long long keep;      /* --keep N (gc), 0 when not given */
	char **args;         /* operands after the command */
	size_t nargs;
} cli;

/* Prints "livemod <cmd>: <last error>" to stderr (and, with --json, an
 * {"error": {...}} object to stdout); returns the exit status for `rc`. */
int cli_fail(const cli *c, int rc);

/* Usage error: message to stderr, returns 2. */
int cli_usage(const cli *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The state dir, or a usage error when neither --state nor LIVEMOD_STATE
 * is given (returns NULL and prints). */
const char *cli_state_dir(const cli *c);

/* Prints "label: [...]" in OTP terms, continuation lines aligned; "[]"
 * when there is no plan. */
void cli_print_script(const char *label, const lm_script *s,
		      const lm_plan *p);

/* Prints a plan for a person: header, modules, scripts (OTP terms). */
void cli_print_plan(const lm_plan *p, int with_downgrade);

/* Prints a plan's JSON (as plans/<id>.json holds it). */
void cli_print_plan_json(const lm_plan *p);

/* Sends an apply-like request (update, apply, rollback) to the running
 * node and prints its answer: the plan, check and eval. Returns the exit
 * status (cmd_node.c). */
int cli_node_apply(cli *c, const char *method, const char *path,
		   const char *body, size_t len);

/* A positive decimal integer of at most 18 digits, or -1. */
long long cli_positive(const char *arg);
/* A release operand: its id, or -1 after a usage error naming it. */
long long cli_release_arg(const cli *c, const char *arg);

/* Whether a node runs on the state dir: 1 it answers, 0 none (nothing
 * listens on agent.sock), < 0 an error (set). */
int cli_node_running(const cli *c);

/* With no node running, makes `to` the release the next start boots and
 * says so (rollback, make_permanent). Returns the exit status. */
int cli_set_boot_release(cli *c, long long to);

/* The endpoint's path, with ?try=1 under --try (static buffer). */
const char *cli_try_path(const cli *c, const char *path);

/* A field of a JSON answer: its string, or `absent` when missing or not
 * a string (a module without a loaded version has "vsn": null); its
 * number, or 0; whether it is true. */
const char *cli_json_str(const struct cJSON *o, const char *key,
			 const char *absent);
long long cli_json_num(const struct cJSON *o, const char *key);
int cli_json_true(const struct cJSON *o, const char *key);

/* check or eval as OTP prints it ("{ok,[]}", "{error,\"...\"}") from
 * the node's answer or the ledger: a string, an object's "text", or an
 * object {"ok": [...]} / {"error": "..."}. NULL when absent; caller
 * frees. */
char *cli_term_text(const struct cJSON *v);

/* Prints cJSON-made text and a newline to stdout; frees it. */
void cli_print_json_text(char *text);

int cmd_init(cli *c);
int cmd_plan(cli *c);
int cmd_update_list(cli *c);
int cmd_update_info(cli *c);
int cmd_show(cli *c);
/* cmd_node.c: through the running node's control API */
int cmd_update(cli *c);
int cmd_apply(cli *c);
int cmd_status(cli *c);
/* cmd_history.c: history and make_permanent, read from the ledger */
int cmd_history(cli *c);
int cmd_make_permanent(cli *c);
/* cmd_rollback.c */
int cmd_rollback(cli *c);
/* cmd_gc.c */
int cmd_gc(cli *c);
/* cmd_web.c: the web page's URL, with the token */
int cmd_web(cli *c);
/* cmd_transport.c: releases between stores, and into the libdir */
int cmd_fetch(cli *c);
int cmd_push(cli *c);
int cmd_stage(cli *c);

#endif
