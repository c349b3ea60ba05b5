/*
 * module.h - what a livemod module author includes.
 *
 * A module is a shared object that declares itself once with LM_MODULE and
 * names each function the host may call with LM_EXPORT. Both macros emit
 * plain data into two ELF sections: the planner reads them with libelf
 * without running any code of the module, and the agent reads the same
 * bytes through the `lm_module_descriptor` symbol after dlopen.
 *
 * Every string lives inline in the descriptor (fixed-size arrays) so that
 * reading it from the file needs no relocation processing; only the
 * function pointers are relocated, and the planner learns which callbacks
 * exist from the relocations that target their slots.
 *
 * ABI rules: LM_ABI_VERSION grows when struct lm_module_desc or
 * struct lm_export_desc change layout; the agent and planner refuse a
 * module whose ABI is newer than theirs.
 */
#ifndef LIVEMOD_MODULE_H
#define LIVEMOD_MODULE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LM_ABI_VERSION 1

#define LM_NAME_MAX 64  /* module and export names, NUL included */
#define LM_VSN_MAX 32   /* version text, NUL included */
#define LM_DEPS_MAX 16  /* dependencies per module */
#define LM_SIG_MAX 192  /* export signature text, NUL included */

#define LM_DESC_MAGIC "LIVEMOD" /* 7 chars + NUL = 8 bytes */
#define LM_DESC_SECTION "lm_module"
#define LM_EXPORT_SECTION "lm_exports"

/* A task of the host (a connection, a session); defined by the host. */
typedef struct lm_task lm_task;

/* How the old code of a module is purged, in OTP's words. */
typedef enum lm_purge_mode {
	LM_PURGE_DEFAULT = 0, /* let the plan decide (brutal_purge) */
	LM_SOFT_PURGE = 1,    /* wait for the last pin and call to go */
	LM_BRUTAL_PURGE = 2   /* ask the host to end pinning tasks */
} lm_purge_mode;

/* Direction of a code_change, as OTP's code_change/3. */
typedef enum lm_change_mode {
	LM_UP = 0,  /* called in the new version, with the old version's state */
	LM_DOWN = 1 /* called in the current version, to go back to an older one */
} lm_change_mode;

/* Creates the module's state when the module is first loaded. Returns 0 on
 * success; non-zero makes the load fail and the old code stay. */
typedef int (*lm_init_fn)(void **state);

/* Converts state between versions. On LM_UP, `vsn` is the version being
 * replaced; on LM_DOWN, the version being gone back to. `extra` is the
 * plan's Extra term (never NULL, "" when none). Returns 0 and sets
 * *new_state, or non-zero to refuse (the old version stays published). */
typedef int (*lm_code_change_fn)(lm_change_mode mode, const char *vsn,
				 void *old_state, const char *extra,
				 void **new_state);

/* Releases the state when the module is removed. */
typedef void (*lm_terminate_fn)(void *state);

/* One exported function. Lives in section "lm_exports". */
struct lm_export_desc {
	char module[LM_NAME_MAX];    /* the declaring module's name */
	char name[LM_NAME_MAX];      /* C identifier */
	char signature[LM_SIG_MAX];  /* the type, as written, e.g.
				      * "int (lm_task *, const char *, size_t)" */
	void (*fn)(void);            /* cast back to the signature to call */
};

/* The module descriptor. Lives in section "lm_module". */
struct lm_module_desc {
	char magic[8];                        /* LM_DESC_MAGIC */
	uint32_t abi;                         /* LM_ABI_VERSION at build */
	uint32_t size;                        /* sizeof(struct lm_module_desc) */
	char name[LM_NAME_MAX];               /* [a-z][a-z0-9_]* */
	char vsn[LM_VSN_MAX];                 /* non-empty, printable */
	char deps[LM_DEPS_MAX][LM_NAME_MAX];  /* module names, "" ends */
	uint32_t purge;                       /* lm_purge_mode */
	uint32_t reserved;
	lm_init_fn init;
	lm_code_change_fn code_change;
	lm_terminate_fn terminate;
	const struct lm_export_desc *exports_begin;
	const struct lm_export_desc *exports_end;
};

/* Linker-made bounds of the export section; hidden so that each module
 * sees its own, weak so that a module without exports still links. */
extern const struct lm_export_desc __start_lm_exports[]
	__attribute__((weak, visibility("hidden")));
extern const struct lm_export_desc __stop_lm_exports[]
	__attribute__((weak, visibility("hidden")));

/* Stringifies after expansion, so a name may come from a macro. */
#define LM__STR(x) LM__STR2(x)
#define LM__STR2(x) #x

/* LM_DEPS("mod_a", "mod_b"): the modules this one calls into. */
#define LM_DEPS(...) { __VA_ARGS__ }

/*
 * LM_MODULE(name, "vsn", .deps = LM_DEPS(...), .init = f, .code_change = g,
 *           .terminate = h, .purge = LM_SOFT_PURGE)
 * Declares the module; once per module. `name` is a bare identifier.
 */
#define LM_MODULE(mod, version, ...)                                        \
	__attribute__((used, section(LM_DESC_SECTION),                      \
		       aligned(__alignof__(struct lm_module_desc))))        \
	const struct lm_module_desc lm_module_descriptor = {                \
		.magic = LM_DESC_MAGIC,                                     \
		.abi = LM_ABI_VERSION,                                      \
		.size = sizeof(struct lm_module_desc),                      \
		.name = LM__STR(mod),                                       \
		.vsn = version,                                             \
		.exports_begin = __start_lm_exports,                        \
		.exports_end = __stop_lm_exports,                           \
		__VA_ARGS__                                                 \
	}

/*
 * LM_EXPORT(module, fn, type): makes `fn` callable by the host under the
 * name "fn" with the function type `type`. The compiler checks that `fn`
 * has that type; the type's text is what the planner compares between
 * versions. Define exported functions `static`: the host reaches them only
 * through the descriptor.
 */
#define LM_EXPORT(mod, fun, ...)                                            \
	typedef __typeof__(__VA_ARGS__) lm__sig_##fun;                      \
	static lm__sig_##fun fun;                                           \
	__attribute__((used, section(LM_EXPORT_SECTION),                    \
		       aligned(__alignof__(struct lm_export_desc))))        \
	static const struct lm_export_desc lm__export_##fun = {             \
		.module = LM__STR(mod),                                     \
		.name = #fun,                                               \
		.signature = #__VA_ARGS__,                                  \
		.fn = (void (*)(void))fun                                   \
	}

#ifdef __cplusplus
}
#endif
#endif /* LIVEMOD_MODULE_H */
