/*
 * history.h - a node's history as JSON: its releases and apply runs,
 * newest first, for `livemod history` and GET /history alike.
 */
#ifndef LM_HISTORY_H
#define LM_HISTORY_H

#include <cjson/cJSON.h>

#include "ledger.h"

/*
 * {"current": N, "permanent": N,
 *  "releases": [{"id", "commit", "parent": N|null, "created_at",
 *                "note": "..."|null, "current": bool, "permanent": bool}],
 *  "runs": [{"id", "plan", "from", "to", "phase", "status",
 *            "check": {"ok": [...]}|{"error": "..."}|null, "eval": same,
 *            "timings": {"step": us, ...}|null, "started_at",
 *            "finished_at": "..."|null}]}
 * Both lists newest first. An interrupted run has "status":
 * "interrupted" and the phase it had reached.
 */
int lm_history_json(cJSON **out, lm_ledger *l);

/*
 * OTP's release_handler:make_permanent: the node's current release
 * becomes the one it boots, in one ledger transaction. `release` 0 means
 * whichever is current; any other must be the current release. Another
 * release, or one already permanent: LM_EINVAL, nothing changed. *made
 * is the release made permanent, *was the one before. `livemod
 * make_permanent` (node running) and POST /make-permanent both call this.
 */
int lm_make_permanent(lm_ledger *l, int64_t release, int64_t *made,
		      int64_t *was);

#endif
