/*
 * main.c - the `livemod` command: option parsing and dispatch.
 *
 * Options may come before or after the command name; each command states
 * which it accepts, and any other is a usage error (exit 2).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "error.h"

enum { O_STATE = 256, O_JSON, O_DRY_RUN, O_LIBDIR, O_APP, O_PURGE, O_EXTRA,
       O_TRY, O_TO, O_KEEP, O_LAST = O_KEEP };

/* Which options each command takes, as a string of O_* letters. */
typedef struct command {
	const char *name;
	int (*run)(cli *c);
	unsigned opts; /* bit (O_x - O_STATE) */
	int min_args, max_args; /* -1: no limit */
	const char *synopsis;
} command;

#define OPT(o) (1u << ((o) - O_STATE))
#define COMMON (OPT(O_STATE) | OPT(O_JSON))

static const command commands[] = {
	{ "init", cmd_init, COMMON | OPT(O_LIBDIR) | OPT(O_APP), 0, 0,
	  "init --libdir DIR [--app NAME]   create the state dir, ledger and "
	  "store; record release 1" },
	{ "plan", cmd_plan, COMMON | OPT(O_DRY_RUN) | OPT(O_PURGE) | OPT(O_EXTRA),
	  0, -1,
	  "plan [--dry-run] [--purge soft_purge|brutal_purge] "
	  "[--extra MOD=TEXT] [MODULE...]   write (or only print) a plan" },
	{ "update_list", cmd_update_list, COMMON, 0, 0,
	  "update_list   modified modules, one a line" },
	{ "update_info", cmd_update_info, COMMON | OPT(O_PURGE), 0, -1,
	  "update_info [--purge soft_purge|brutal_purge] [MODULE...]   "
	  "libdir, modules, script, low-level script, check" },
	{ "show", cmd_show, COMMON, 1, 1, "show PLAN   print a plan (id or file)" },
	{ "update", cmd_update, COMMON | OPT(O_TRY), 0, -1,
	  "update [--try] [all|MODULE...]   plan and apply on the running "
	  "node; prints check and eval" },
	{ "apply", cmd_apply, COMMON | OPT(O_TRY), 1, 1,
	  "apply [--try] PLAN   apply a reviewed plan (id or file) on the "
	  "running node" },
	{ "status", cmd_status, COMMON, 0, 0,
	  "status   the running node's modules: vsn, oid, pins, old versions "
	  "awaiting purge" },
	{ "history", cmd_history, COMMON, 0, 0,
	  "history   releases and apply runs, newest first, with check, "
	  "eval and timings" },
	{ "rollback", cmd_rollback,
	  COMMON | OPT(O_TO) | OPT(O_DRY_RUN) | OPT(O_TRY), 0, 0,
	  "rollback [--to RELEASE] [--dry-run] [--try]   plan and apply the "
	  "way back (default: the release the current one came from); no "
	  "node running: set the release the next start boots" },
	{ "make_permanent", cmd_make_permanent, COMMON, 0, 1,
	  "make_permanent [RELEASE]   make the node's current release the one "
	  "it boots (no node running: the release the next start boots)" },
	{ "gc", cmd_gc, COMMON | OPT(O_KEEP) | OPT(O_DRY_RUN), 0, 0,
	  "gc [--keep N] [--dry-run]   prune releases beyond the newest N "
	  "that no node needs, and unused objects" },
	{ "web", cmd_web, COMMON, 0, 0,
	  "web   the running node's web page: its URL, with the token" },
	{ "fetch", cmd_fetch, COMMON | OPT(O_DRY_RUN), 1, 2,
	  "fetch [--dry-run] REMOTE [RELEASE]   bring a fleet release (a tree "
	  "id), or all, from a fleet repository into the store" },
	{ "push", cmd_push, COMMON, 1, 2,
	  "push REMOTE [RELEASE]   put this node's release (default: its "
	  "current one) in a fleet repository, named by its tree" },
	{ "stage", cmd_stage, COMMON | OPT(O_DRY_RUN), 1, 1,
	  "stage [--dry-run] RELEASE   write a fetched release's module files "
	  "into the libdir, inert until 'update' applies it" },
};

static const struct option long_opts[] = {
	{ "state", required_argument, NULL, O_STATE },
	{ "json", no_argument, NULL, O_JSON },
	{ "dry-run", no_argument, NULL, O_DRY_RUN },
	{ "libdir", required_argument, NULL, O_LIBDIR },
	{ "app", required_argument, NULL, O_APP },
	{ "purge", required_argument, NULL, O_PURGE },
	{ "extra", required_argument, NULL, O_EXTRA },
	{ "try", no_argument, NULL, O_TRY },
	{ "to", required_argument, NULL, O_TO },
	{ "keep", required_argument, NULL, O_KEEP },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: livemod [--state DIR] [--json] COMMAND [ARGS]\n\n"
		   "commands:\n");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %s\n", commands[i].synopsis);
	fprintf(f, "\nThe state dir comes from --state or LIVEMOD_STATE.\n"
		   "Exit status: 0 success, 1 check or eval failed or busy, "
		   "2 usage or bad input, 3 no running node, 4 node busy.\n");
}

static const command *find_command(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

static int add_extra(cli *c, char *arg)
{
	char *eq = strchr(arg, '=');
	lm_extra *v;

	if (!eq || eq == arg)
		return cli_usage(c, "--extra wants MODULE=TEXT, got '%s'", arg);
	*eq = '\0';
	if (!lm_module_name_valid(arg))
		return cli_usage(c, "--extra: '%s' is not a module name", arg);
	if (!(v = realloc(c->extras, (c->nextras + 1) * sizeof(*v))))
		return cli_usage(c, "out of memory");
	c->extras = v;
	v[c->nextras].module = arg;
	v[c->nextras++].extra = eq + 1;
	return 0;
}

static int take_option(cli *c, int o, char *arg)
{
	int p;

	switch (o) {
	case O_STATE: c->state = arg; return 0;
	case O_JSON: c->json = 1; return 0;
	case O_DRY_RUN: c->dry_run = 1; return 0;
	case O_LIBDIR: c->libdir = arg; return 0;
	case O_APP: c->app = arg; return 0;
	case O_PURGE:
		if ((p = lm_purge_parse(arg)) <= 0)
			return cli_usage(c, "--purge wants soft_purge or "
				     "brutal_purge, got '%s'", arg);
		c->purge = (lm_purge_mode)p;
		return 0;
	case O_EXTRA: return add_extra(c, arg);
	case O_TRY: c->try_only = 1; return 0;
	case O_TO:
		if ((c->to = cli_positive(arg)) < 0)
			return cli_usage(c, "--to wants a release id (a positive "
				     "integer), got '%s'", arg);
		return 0;
	case O_KEEP:
		if ((c->keep = cli_positive(arg)) < 0)
			return cli_usage(c, "--keep wants a positive number of "
				     "releases, got '%s'", arg);
		return 0;
	}
	return cli_usage(c, "unknown option");
}

int main(int argc, char **argv)
{
	const command *cmd = NULL;
	unsigned seen = 0;
	cli c = { 0 };
	int o, rc;

	opterr = 0;
	c.cmd = "livemod";
	while ((o = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
		if (o == 'h') {
			usage(stdout);
			return 0;
		}
		if (o == '?')
			return cli_usage(&c, "unknown option '%s'",
					 argv[optind - 1]);
		seen |= OPT(o);
		if ((rc = take_option(&c, o, optarg)) != 0)
			return rc;
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	if (!(cmd = find_command(argv[optind])))
		return cli_usage(&c, "unknown command '%s' (see livemod --help)",
				 argv[optind]);
	c.cmd = cmd->name;
	for (o = O_STATE; o <= O_LAST; o++)
		if ((seen & OPT(o)) && !(cmd->opts & OPT(o)))
			return cli_usage(&c, "option --%s is not for '%s'",
					 long_opts[o - O_STATE].name, cmd->name);
	c.args = argv + optind + 1;
	c.nargs = (size_t)(argc - optind - 1);
	if ((int)c.nargs < cmd->min_args ||
	    (cmd->max_args >= 0 && (int)c.nargs > cmd->max_args))
		return cli_usage(&c, "usage: livemod %s", cmd->synopsis);
	if (!c.state)
		c.state = getenv("LIVEMOD_STATE");
	rc = cmd->run(&c);
	free(c.extras);
	return rc;
}
