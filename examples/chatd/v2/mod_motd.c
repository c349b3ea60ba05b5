/*
 * mod_motd 1.1.0 - the message of the day. A plain module: no state, no
 * dependencies; v2 only says something else.
 */
#include <stdio.h>

#include "chatd_api.h"

LM_MODULE(mod_motd, "1.1.0", .purge = LM_SOFT_PURGE);

LM_PROVIDE(CHATD_MOTD);
static int motd(lm_task *t, char *out, size_t cap)
{
	(void)t;
	return snprintf(out, cap, "motd Welcome to chatd - upgraded live, no "
			"connection dropped. Commands: /nick NAME, /join ROOM, "
			"/version, /stats, /motd, /quit");
}
