/*
 * precompute.h - GET /update-modules' answer made ready ahead of the
 * request: after an install, the post-install hook's plan or an apply,
 * the `livemod update_list` that follows finds it computed
 * (docs/control-api.md, "GET /update-modules from memory").
 */
#ifndef LM_PRECOMPUTE_H
#define LM_PRECOMPUTE_H

#include <livemod/node.h>

typedef struct lm_precompute lm_precompute;

/* Starts the thread that watches `libdir` and the ledger's files in
 * `state_dir`. Without inotify it does nothing, and says nothing: the
 * requests compute their answers themselves, as they always can. */
int lm_precompute_start(lm_precompute **out, lm_node *n, const char *libdir,
			const char *state_dir);
/* Ends and joins the thread. Accepts NULL. */
void lm_precompute_stop(lm_precompute *p);

#endif
