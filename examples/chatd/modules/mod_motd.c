/*
 * mod_motd 1.0.0 - the message of the day, sent to every new connection
 * and on /motd. A plain module: no state, no dependencies.
 */
#include <stdio.h>

#include "chatd_api.h"

LM_MODULE(mod_motd, "1.0.0", .purge = LM_SOFT_PURGE);

LM_PROVIDE(CHATD_MOTD);
static int motd(lm_task *t, char *out, size_t cap)
{
	(void)t;
	return snprintf(out, cap, "motd Welcome to chatd. Commands: /nick NAME, "
			"/join ROOM, /version, /stats, /motd, /quit");
}
