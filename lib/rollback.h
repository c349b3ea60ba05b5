/*
 * rollback.h - planning the way from the node's current release to any
 * other recorded release, from the ledger and the store alone.
 *
 * The libdir plays no part: every object of the target release is in the
 * store, so a rollback works when the target's files are long gone from
 * the libdir. The plan is an ordinary livemod.plan/1 plan (recorded,
 * shown and applied as any other); docs/history.md gives the rules.
 */
#ifndef LM_ROLLBACK_H
#define LM_ROLLBACK_H

#include "planning.h"

/*
 * The release a rollback goes to: `to` itself, or with `to` 0 the
 * current release's parent (the release it was planned from). Refused
 * with a message that says why: LM_ENOTFOUND for an unknown release,
 * LM_EINVAL for the release the node is on, or for a default target when
 * the current release has no earlier one.
 */
int lm_rollback_target(lm_state *st, int64_t to, int64_t *out);

/*
 * Plans the way from the node's current release to release `to` (already
 * resolved by lm_rollback_target). To an ancestor of the current release
 * the plan goes down: the downgrade of the upgrade from `to` to the
 * current release, with the Extra terms the way up used. To any other
 * release it goes up, as an upgrade between the two trees. `opts` gives
 * purge modes (its `only` must be empty). Every object of the target
 * must be in the store (`store_path`). Writes nothing. Two releases that
 * hold the same objects: LM_EINVAL, nothing to roll back.
 */
int lm_rollback_compute(lm_plan **out, lm_state *st, const char *store_path,
			int64_t to, const lm_plan_opts *opts);

/*
 * With no node running: makes release `to` the one the next start boots
 * (current and permanent), in one write under the ledger's lock, and
 * says in *was which it was. The libdir is left alone, as an online
 * rollback leaves it. LM_ENOTFOUND for an unknown release; LM_EINVAL
 * when `to` is already the boot release.
 */
int lm_rollback_set_boot(lm_state *st, int64_t to, int64_t *was);

#endif
