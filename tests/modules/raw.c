/*
 * raw.c - a module whose descriptor is written out by hand instead of by
 * LM_MODULE, so a test can give it what the macro never would: a bad
 * name, an empty version, an ABI from the future.
 *
 *   -DRAW_NAME='"Bad-Name"' -DRAW_VSN='"1.0.0"' -DRAW_ABI=2
 *
 * Its size is this header's (LM_ABI_VERSION's): an ABI below it is refused
 * for its size, before the name is read.
 */
#include <livemod/module.h>

__attribute__((used, section(LM_DESC_SECTION)))
const struct lm_module_desc lm_module_descriptor = {
	.magic = LM_DESC_MAGIC,
	.abi = RAW_ABI,
	.size = sizeof(struct lm_module_desc),
	.name = RAW_NAME,
	.vsn = RAW_VSN,
};
