/*
 * plan.h - the upgrade plan: its in-memory form, its JSON file format
 * ("livemod.plan/1", docs/plan-format.md) and its OTP-style text.
 *
 * A plan names the from and to releases, every module involved with its
 * old and new {vsn, oid} and descriptors, and four scripts: the high-level
 * `script` and its `low_level_script`, and the same two for the way back
 * (`downgrade`). Instruction names are OTP release_handler's.
 */
#ifndef LM_PLAN_H
#define LM_PLAN_H

#include <stdint.h>

#include "modset.h"

#define LM_PLAN_FORMAT "livemod.plan/1"

typedef enum lm_change_kind {
	LM_ADDED,
	LM_CHANGED,
	LM_REMOVED,
	/* Changed to bytes an earlier release holds for the module, older
	 * than those it replaces (an operator copied v1 back over v2): the
	 * way there is a downgrade, code_change down run in the current
	 * version, as a rollback runs it. */
	LM_DOWNGRADED
} lm_change_kind;

/* One version of a module as the plan knows it. */
typedef struct lm_plan_side {
	char *file;                   /* file name in the release tree */
	char oid[LM_OID_HEXSZ + 1];   /* blob id */
	lm_descriptor *desc;          /* vsn, deps, exports, callbacks */
} lm_plan_side;

typedef struct lm_plan_module {
	char *name;
	lm_change_kind change;
	lm_plan_side *old_side;       /* NULL when added */
	lm_plan_side *new_side;       /* NULL when removed */
	lm_purge_mode pre_purge;      /* resolved: never LM_PURGE_DEFAULT */
	lm_purge_mode post_purge;
	char *extra;                  /* code_change Extra, "" when none */
} lm_plan_module;

typedef enum lm_op {
	/* high-level script */
	LM_OP_LOAD_MODULE,   /* {load_module,Mod,Pre,Post,DepMods} */
	LM_OP_UPDATE,        /* {update,Mod,{advanced,Extra},Pre,Post,DepMods} */
	LM_OP_ADD_MODULE,    /* {add_module,Mod,DepMods} */
	LM_OP_DELETE_MODULE, /* {delete_module,Mod,DepMods} */
	/* low-level script */
	LM_OP_LOAD_OBJECT_CODE,   /* {load_object_code,{App,Vsn,[Mod]}} */
	LM_OP_POINT_OF_NO_RETURN, /* point_of_no_return */
	LM_OP_SUSPEND,            /* {suspend,[Mod]} */
	LM_OP_CODE_CHANGE,        /* {code_change,up|down,[{Mod,Extra}]} */
	LM_OP_LOAD,               /* {load,{Mod,Pre,Post}} */
	LM_OP_RESUME,             /* {resume,[Mod]} */
	LM_OP_PURGE,              /* {purge,[Mod]} */
	LM_OP_REMOVE              /* {remove,{Mod,Pre,Post}} */
} lm_op;

typedef struct lm_instr {
	lm_op op;
	char **modules;      /* one for single-module ops, a list otherwise */
	size_t nmodules;
	char **extras;       /* code_change: parallel to modules; update: [0] */
	char **dep_mods;     /* high-level ops: DepMods */
	size_t ndep_mods;
	lm_purge_mode pre_purge, post_purge; /* load_module, update, load, remove */
	lm_change_mode mode; /* code_change */
} lm_instr;

typedef struct lm_script {
	lm_instr *v;
	size_t n, cap;
} lm_script;

typedef struct lm_plan {
	int64_t id;               /* 0 for a dry run (not recorded) */
	char *app;                /* App in load_object_code */
	char *libdir;
	char *created_at;         /* ISO 8601 UTC */
	int64_t from_release;
	char from_commit[LM_OID_HEXSZ + 1];
	int64_t to_release;       /* 0 for a dry run */
	char to_commit[LM_OID_HEXSZ + 1]; /* "" for a dry run */
	/* LM_UP for every plan `livemod plan` makes and a rollback to a
	 * later release; LM_DOWN for a rollback to an ancestor: its script
	 * is the way back, so code_change runs in the version being left
	 * (the old side) in mode down, and its downgrade is the way up. */
	lm_change_mode direction;
	lm_plan_module *modules;  /* in script order */
	size_t nmodules;
	lm_script script, low_level;           /* the way up */
	lm_script down_script, down_low_level; /* the way back */
} lm_plan;

/* Serialises to pretty JSON (caller frees). */
int lm_plan_to_json(char **out, const lm_plan *p);
/* Parses and validates. `label` (file name or "request body") starts every
 * message, followed by the field path: "plans/3.json: modules[1].new.oid:
 * not a 40-hex object id". Unknown or missing `format`: LM_EINVAL "plan
 * format 'x' is not livemod.plan/1 (written by a newer livemod?)". */
int lm_plan_from_json(lm_plan **out, const char *text, size_t len,
		      const char *label);
/* Reads a file and parses it; LM_ENOTFOUND when it does not exist. */
int lm_plan_load_file(lm_plan **out, const char *path);

/* Cross-field checks: module names valid and unique; every instruction
 * names modules of the plan; low-level scripts have exactly one
 * point_of_no_return with load_object_code only before it; code_change
 * only for modules whose version defines code_change. */
int lm_plan_validate(const lm_plan *p, const char *label);

/* OTP term text of a script, e.g. "[{load_module,mod_x}]". With `indent`
 * >= 0, one instruction a line, continuation lines indented by `indent`
 * spaces plus one (as DESIGN.md prints the low level script); with -1, all
 * on one line. Caller frees. */
char *lm_script_format(const lm_script *s, const lm_plan *p, int indent);

/* "LABEL: [...]" as the CLI prints a script: one instruction a line,
 * continuation lines under the first instruction; "LABEL: []" when `p` or
 * `s` is NULL. update_info's JSON carries this very text for the web
 * page, so both show the same. Caller frees; NULL when out of memory. */
char *lm_script_labelled(const char *label, const lm_script *s,
			 const lm_plan *p);

/* Appends an instruction (deep copy of its strings). */
int lm_script_push(lm_script *s, const lm_instr *in);

const char *lm_op_name(lm_op op);
const char *lm_change_name(lm_change_kind c); /* added|changed|removed */

void lm_script_clear(lm_script *s);
void lm_plan_free(lm_plan *p);

#endif
