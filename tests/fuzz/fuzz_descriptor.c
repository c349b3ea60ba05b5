/*
 * fuzz_descriptor.c - libFuzzer target: the ELF descriptor reader
 * (lib/descriptor.c, with libelf) on arbitrary bytes, as `livemod plan`
 * meets whatever `make install` left in a libdir.
 *
 * lm_descriptor_read_file() is lm_descriptor_read_mem() behind a read of
 * the file, so the buffer entry point is the one fuzzed. A refusal must
 * be a clean LM_E* with a message. A descriptor that reads must validate,
 * and come back equal from both forms it is stored in: the JSON of plans
 * and the text columns of the ledger.
 */
#include <stdlib.h>

#include "descriptor.h"
#include "error.h"
#include "fuzz.h"

/* The plan form: lm_descriptor_to_json and back. */
static void json_round_trip(const lm_descriptor *d)
{
	lm_descriptor *back = NULL;
	cJSON *j = lm_descriptor_to_json(d);

	if (!j)
		fuzz_fail("lm_descriptor_to_json failed");
	lm_error_clear();
	if (lm_descriptor_from_json(&back, j, "fuzz.so json") != 0)
		fuzz_fail("a descriptor's JSON does not read back");
	if (!lm_descriptor_equal(d, back))
		fuzz_fail("a descriptor changed through its JSON");
	cJSON_Delete(j);
	lm_descriptor_free(back);
}

/* The ledger form: deps and exports as text, read into a copy. */
static void text_round_trip(const lm_descriptor *d)
{
	lm_descriptor *back = lm_descriptor_dup(d);
	char *deps = lm_descriptor_deps_text(d);
	char *exports = lm_descriptor_exports_text(d);

	if (!back || !deps || !exports)
		fuzz_fail("copying a descriptor or its text failed");
	lm_error_clear();
	if (lm_descriptor_set_deps_text(back, deps) != 0 ||
	    lm_descriptor_set_exports_text(back, exports) != 0)
		fuzz_fail("a descriptor's ledger text does not read back:\n"
			  "deps '%s'\nexports '%s'", deps, exports);
	if (!lm_descriptor_equal(d, back))
		fuzz_fail("a descriptor changed through its ledger text");
	free(deps);
	free(exports);
	lm_descriptor_free(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	lm_descriptor *d = NULL;

	if (FUZZ_MAY_FAIL(lm_descriptor_read_mem(&d, data, size,
						 "fuzz.so")) != 0) {
		if (d)
			fuzz_fail("lm_descriptor_read_mem failed but gave a "
				  "descriptor");
		return 0;
	}
	if (lm_descriptor_validate(d, "fuzz.so") != 0)
		fuzz_fail("a descriptor read from ELF does not validate");
	json_round_trip(d);
	text_round_trip(d);
	lm_descriptor_free(d);
	return 0;
}
