/*
 * descriptor_internal.h - what the parts of the descriptor share:
 * descriptor.c (model, validation), descriptor_text.c, descriptor_json.c,
 * descriptor_raw.c, descriptor_elf.c. Nothing else includes it.
 */
#ifndef LM_DESCRIPTOR_INTERNAL_H
#define LM_DESCRIPTOR_INTERNAL_H

#include "descriptor.h"

/* The optional callbacks, in the order of their slots in
 * struct lm_module_desc. */
struct lmd_callback_name {
	unsigned bit;
	const char *name;
};
#define LMD_NCALLBACKS 5
#define LM_CB_ABI1 (LM_CB_INIT | LM_CB_CODE_CHANGE | LM_CB_TERMINATE)
#define LM_CB_MOVE (LM_CB_CHANGE_COMMIT | LM_CB_CHANGE_ABORT)
#define LM_CB_ALL (LM_CB_ABI1 | LM_CB_MOVE)
extern const struct lmd_callback_name lmd_callback_names[LMD_NCALLBACKS];

/* Text from a file may hold anything: `s` with every unprintable byte as
 * '?', cut to the buffer. SHOW(s) in a message. */
const char *lmd_shown(const char *s, char *buf, size_t cap);
#define SHOWN_MAX 256
#define SHOW(s) lmd_shown((s), (char[SHOWN_MAX]){0}, SHOWN_MAX)

/* LM_ERROR "out of memory". */
int lmd_oom(void);

void lmd_free_exports(lm_export_info *v, size_t n);
void lmd_free_strings(char **v, size_t n);
int lmd_push_dep(lm_descriptor *d, const char *dep);
int lmd_push_export(lm_descriptor *d, const char *name, const char *sig);
void lmd_sort_exports(lm_descriptor *d);

/* The validator's parts, for readers that check a field as they read it;
 * each LM_EINVAL naming `label` and the field. */
int lmd_validate_name(const char *name, const char *label);
int lmd_validate_vsn(const char *vsn, const char *label);
int lmd_validate_abi(unsigned abi, const char *label);
int lmd_validate_deps(char *const *deps, size_t n, const char *self,
		      const char *label);
int lmd_validate_exports(const lm_export_info *v, size_t n,
			 const char *label);

/* descriptor_raw.c, for the ELF reader too. */
char *lmd_field_label(const char *label);
int lmd_check_header(const struct lm_module_desc *raw, const char *label);
/* The size of a descriptor of ABI `abi` (1..LM_ABI_VERSION): an older
 * one is a prefix of struct lm_module_desc. */
size_t lmd_desc_size(unsigned abi);
int lmd_desc_from_raw(lm_descriptor **out, const struct lm_module_desc *raw,
		      const char *label);
int lmd_exports_from_raw(lm_descriptor *d, const struct lm_export_desc *v,
			 size_t n, const char *label);
unsigned lmd_callbacks_set(const struct lm_module_desc *m);
int lmd_finish(lm_descriptor **out, lm_descriptor *d, int rc,
	       const char *label);

#endif
