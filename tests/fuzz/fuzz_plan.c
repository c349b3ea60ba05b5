/*
 * fuzz_plan.c - libFuzzer target: the plan parser and validator
 * (lib/plan.c) on arbitrary bytes, as `livemod apply FILE` and the
 * control API's reviewed-plan bodies meet them.
 *
 * A refusal must be a clean LM_E* with a message. A plan that parses must
 * validate again, print its four scripts as OTP text, and survive a round
 * trip: its JSON must parse, and print the very same JSON and scripts;
 * what `livemod plan` writes is what `apply` reads.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "fuzz.h"
#include "plan.h"

/* The four scripts' OTP text, one after the other, as `show` prints
 * them (indented) and `update_info` (one line). */
static char *scripts_text(const lm_plan *p)
{
	const lm_script *s[] = { &p->script, &p->low_level, &p->down_script,
				 &p->down_low_level };
	size_t i, len = 0;
	char *all = NULL;

	for (i = 0; i < sizeof(s) / sizeof(s[0]); i++) {
		char *a = lm_script_format(s[i], p, 19);
		char *b = lm_script_format(s[i], p, -1);
		char *next;

		if (!a || !b)
			fuzz_fail("lm_script_format of script %zu failed", i);
		if (!(next = realloc(all, len + strlen(a) + strlen(b) + 3)))
			fuzz_fail("out of memory");
		all = next;
		len += (size_t)sprintf(all + len, "%s\n%s\n", a, b);
		free(a);
		free(b);
	}
	return all;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	lm_plan *p = NULL, *q = NULL;
	char *json = NULL, *again = NULL, *text, *text_again;

	if (FUZZ_MAY_FAIL(lm_plan_from_json(&p, (const char *)data, size,
					    "fuzz.json")) != 0) {
		if (p)
			fuzz_fail("lm_plan_from_json failed but gave a plan");
		return 0;
	}
	if (lm_plan_validate(p, "fuzz.json") != 0)
		fuzz_fail("a parsed plan does not validate again");
	text = scripts_text(p);
	if (lm_plan_to_json(&json, p) != 0)
		fuzz_fail("lm_plan_to_json of a parsed plan failed");
	if (lm_plan_from_json(&q, json, strlen(json), "again") != 0)
		fuzz_fail("the plan's own JSON does not parse:\n%s", json);
	if (lm_plan_to_json(&again, q) != 0)
		fuzz_fail("lm_plan_to_json of the plan read back failed");
	if (strcmp(json, again) != 0)
		fuzz_fail("round trip changed the JSON:\n%s\n--- became ---\n%s",
			  json, again);
	text_again = scripts_text(q);
	if (strcmp(text, text_again) != 0)
		fuzz_fail("round trip changed the scripts:\n%s\n--- became "
			  "---\n%s", text, text_again);
	free(text);
	free(text_again);
	free(json);
	free(again);
	lm_plan_free(p);
	lm_plan_free(q);
	return 0;
}
