/*
 * cmd_gc.c - `livemod gc`: placeholder until housekeeping lands.
 */
#include "cli.h"
#include "error.h"

int cmd_gc(cli *c)
{
	return cli_fail(c, lm_error_set(LM_ERROR, "gc: not implemented yet"));
}
