/*
 * runtime_node.h - what the runtime offers the node layer beyond the
 * public API of <livemod/agent.h>.
 *
 * The public lm_runtime_stage takes the planned descriptor as JSON text,
 * the form a plan carries, so that its header needs no uninstalled type.
 * The node has the plan parsed already: it hands the descriptor over as
 * is, and the staging path (the apply's, and the loader thread's) parses
 * nothing twice.
 */
#ifndef LM_AGENT_RUNTIME_NODE_H
#define LM_AGENT_RUNTIME_NODE_H

#include <livemod/agent.h>

#include "descriptor.h"

/* lm_runtime_stage with the planned descriptor already parsed. */
int lm__runtime_stage_desc(lm_runtime *rt, const char *path, const char *oid,
			   const lm_descriptor *expected);

#endif
