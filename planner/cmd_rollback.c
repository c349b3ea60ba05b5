/*
 * cmd_rollback.c - placeholder until rollback lands.
 */
#include "cli.h"
#include "error.h"

int cmd_rollback(cli *c)
{
	return cli_fail(c, lm_error_set(LM_ERROR, "not implemented yet"));
}
