/*
 * cmd_history.c - placeholder until history lands.
 */
#include "cli.h"
#include "error.h"

int cmd_history(cli *c)
{
	return cli_fail(c, lm_error_set(LM_ERROR, "not implemented yet"));
}

int cmd_make_permanent(cli *c)
{
	return cli_fail(c, lm_error_set(LM_ERROR, "not implemented yet"));
}
