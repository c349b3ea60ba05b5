/*
 * messager_state.h - how every version of mod_messager begins its state.
 *
 * Each version lays its state out as it likes (v1: a fixed array of
 * rooms; v2: a hash table with more per-room fields), but every layout
 * starts with this header, which never changes: a magic number, the
 * layout's number, and a function of the owning version that lists the
 * rooms in a layout-free form. So any version's code_change can read any
 * other version's state, newer or older:
 *
 *   - an upgrade (LM_UP, in the new version): read the old state through
 *     its header;
 *   - a downgrade done by the plan's way back (LM_DOWN, in the newer
 *     version, which knows both layouts);
 *   - an "upgrade" to an older build, as when v1 is installed again over
 *     v2 and `livemod update` plans it forward: v1's code_change (LM_UP)
 *     gets v2's state, a layout it has never seen, and still reads it.
 *
 * The function pointer is only ever called during a code_change, while
 * the version that owns the state is loaded (it is the current version:
 * the state being converted is its own). No other version keeps it.
 */
#ifndef MESSAGER_STATE_H
#define MESSAGER_STATE_H

#include <stdint.h>

#define MSGR_MAGIC 0x6d736772u /* "msgr" */

/* Called once per room by a state's `rooms` function. */
typedef void (*msgr_room_fn)(void *ctx, const char *room, long msgs);

struct msgr_header {
	uint32_t magic;  /* MSGR_MAGIC */
	uint32_t layout; /* 1, 2, ... */
	/* Lists the rooms of `self` (a state whose header this is). */
	void (*rooms)(const void *self, msgr_room_fn fn, void *ctx);
};

#endif
