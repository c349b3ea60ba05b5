/*
 * test_descriptor.c - the descriptor reader, its text and JSON forms, and
 * module sets.
 *
 * Modules are real shared objects compiled from the C text below, the way
 * an author builds them; malformed ones are made by patching the bytes of
 * a good one (the descriptor struct, a section header), so every refusal
 * is tested against the file layout the compiler really produces.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <dlfcn.h>
#include <elf.h>

#include "descriptor.h"
#include "error.h"
#include "modset.h"
#include "testutil.h"

#define SIG_HANDLE "int (lm_task *, const char *, size_t)"

/* init and code_change (static: RELATIVE relocations), no terminate;
 * exports declared out of name order. */
static const char full_src[] =
	"#include <livemod/module.h>\n"
	"static int init(void **state) { *state = 0; return 0; }\n"
	"static int code_change(lm_change_mode m, const char *vsn, void *old,\n"
	"                       const char *extra, void **new_state)\n"
	"{ (void)m; (void)vsn; (void)extra; *new_state = old; return 0; }\n"
	"LM_MODULE(mod_full, \"1.2.0-rc1\", .deps = LM_DEPS(\"mod_util\", \"mod_log\"),\n"
	"          .init = init, .code_change = code_change,\n"
	"          .purge = LM_SOFT_PURGE);\n"
	"LM_EXPORT(mod_full, zeta, int (lm_task *, const char *, size_t));\n"
	"static int zeta(lm_task *t, const char *s, size_t n)\n"
	"{ (void)t; (void)s; return (int)n; }\n"
	"LM_EXPORT(mod_full, alpha, size_t (void));\n"
	"static size_t alpha(void) { return 1; }\n";

/* terminate only, a global function: an R_X86_64_64 symbol relocation
 * rather than a RELATIVE one. No exports. */
static const char term_src[] =
	"#include <livemod/module.h>\n"
	"void mod_term_fini(void *state);\n"
	"void mod_term_fini(void *state) { (void)state; }\n"
	"LM_MODULE(mod_term, \"0.1\", .terminate = mod_term_fini);\n";

static const char bare_src[] =
	"#include <livemod/module.h>\n"
	"LM_MODULE(mod_bare, \"3\");\n";

static const char plain_src[] =
	"int plain_fn(void);\n"
	"int plain_fn(void) { return 1; }\n";

static const char dupdep_src[] =
	"#include <livemod/module.h>\n"
	"LM_MODULE(mod_dd, \"1\", .deps = LM_DEPS(\"mod_a\", \"mod_a\"));\n";

static const char selfdep_src[] =
	"#include <livemod/module.h>\n"
	"LM_MODULE(mod_self, \"1\", .deps = LM_DEPS(\"mod_self\"));\n";

static const char badvsn_src[] =
	"#include <livemod/module.h>\n"
	"LM_MODULE(mod_v, \"1 0\");\n";

static const char foreign_src[] =
	"#include <livemod/module.h>\n"
	"LM_MODULE(mod_x, \"1\");\n"
	"LM_EXPORT(mod_y, f, int (void));\n"
	"static int f(void) { return 0; }\n";

/* Two exports whose names differ in one byte, to be patched equal. */
static const char twoexp_src[] =
	"#include <livemod/module.h>\n"
	"LM_MODULE(mod_two, \"1\");\n"
	"LM_EXPORT(mod_two, fa, int (void));\n"
	"static int fa(void) { return 0; }\n"
	"LM_EXPORT(mod_two, fb, int (void));\n"
	"static int fb(void) { return 1; }\n";

/* ABI 1: built against the frozen copy of module.h in tests/modules/abi1
 * (what modules built before ABI 2 carry). */
static const char abi1_src[] =
	"#include <livemod/module.h>\n"
	"_Static_assert(LM_ABI_VERSION == 1, \"the ABI 1 header\");\n"
	"static int init(void **s) { *s = 0; return 0; }\n"
	"static int cc(lm_change_mode m, const char *v, void *o, const char *e,\n"
	"              void **n) { (void)m, (void)v, (void)e; *n = o; return 0; }\n"
	"static void term(void *s) { (void)s; }\n"
	"LM_MODULE(mod_old, \"1.0.0\", .init = init, .code_change = cc,\n"
	"          .terminate = term);\n"
	"LM_EXPORT(mod_old, f, int (void));\n"
	"static int f(void) { return 1; }\n";

/* ABI 2, state by move. */
static const char move_src[] =
	"#include <livemod/module.h>\n"
	"static int cc(lm_change_mode m, const char *v, void *o, const char *e,\n"
	"              void **n) { (void)m, (void)v, (void)e; *n = o; return 0; }\n"
	"static void commit(lm_change_mode m, void *o, void *n)\n"
	"{ (void)m, (void)o, (void)n; }\n"
	"static void abort_(lm_change_mode m, void *o, void *n)\n"
	"{ (void)m, (void)o, (void)n; }\n"
	"LM_MODULE(mod_move, \"2.0.0\", .code_change = cc,\n"
	"          .change_commit = commit, .change_abort = abort_);\n";

static char *dir;

static char *path_of(const char *file)
{
	char *p;

	if (asprintf(&p, "%s/%s", dir, file) < 0)
		abort();
	return p;
}

static int setup(void **state)
{
	(void)state;
	dir = tu_tmpdir();
	tu_build_module(dir, "mod_full.so", full_src);
	tu_build_module(dir, "mod_term.so", term_src);
	tu_build_module(dir, "mod_bare.so", bare_src);
	tu_build_module(dir, "plain.so", plain_src);
	tu_build_module(dir, "mod_dd.so", dupdep_src);
	tu_build_module(dir, "mod_self.so", selfdep_src);
	tu_build_module(dir, "mod_v.so", badvsn_src);
	tu_build_module(dir, "mod_x.so", foreign_src);
	tu_build_module(dir, "mod_two.so", twoexp_src);
	tu_build_module_flags(dir, "mod_abi1.so", abi1_src,
			      "-I" LM_SRCDIR "/tests/modules/abi1");
	tu_build_module(dir, "mod_move.so", move_src);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tu_rm_rf(dir);
	free(dir);
	return 0;
}

/* The call failed with `code` and a message holding `want`. */
static void expect_error(int rc, int code, const char *want)
{
	if (rc != code)
		fail_msg("rc %d, want %d; message: %s", rc, code,
			 lm_error_last());
	if (want && !strstr(lm_error_last(), want))
		fail_msg("message '%s' lacks '%s'", lm_error_last(), want);
}

static lm_descriptor *read_ok(const char *file)
{
	char *p = path_of(file);
	lm_descriptor *d = NULL;
	int rc = lm_descriptor_read_file(&d, p);

	if (rc != 0)
		fail_msg("%s: rc %d: %s", p, rc, lm_error_last());
	free(p);
	return d;
}

/* ---- patching built objects --------------------------------------- */

typedef struct image {
	char *path; /* where patched copies are written */
	char *buf;
	size_t len;
} image;

static image load(const char *file)
{
	char *p = path_of(file);
	image im = { .path = path_of("patched.so") };

	im.buf = tu_read_file(p, &im.len);
	assert_non_null(im.buf);
	free(p);
	return im;
}

static void unload(image *im)
{
	free(im->buf);
	free(im->path);
}

/* Writes the image and reads it back from the file. */
static int reread(const image *im, lm_descriptor **d)
{
	tu_write_file(im->path, im->buf, im->len);
	return lm_descriptor_read_file(d, im->path);
}

/* The descriptor struct in the file (tests build objects of this host,
 * so the struct layout is the file layout). */
static struct lm_module_desc *desc_in(image *im)
{
	/* magic with its NUL, then abi 2 (little-endian hosts). */
	static const char head[12] = LM_DESC_MAGIC "\0\2\0\0";
	char *hit = memmem(im->buf, im->len, head, sizeof(head));

	assert_non_null(hit);
	assert_null(memmem(hit + 1, im->len - (size_t)(hit + 1 - im->buf),
			   head, sizeof(head)));
	return (struct lm_module_desc *)(void *)hit;
}

/* The export record of `module` named `name`. */
static struct lm_export_desc *export_in(image *im, const char *module,
					const char *name)
{
	size_t i;

	/* Records are aligned in the file as in memory: step by alignment. */
	for (i = 0; i + sizeof(struct lm_export_desc) <= im->len;
	     i += _Alignof(struct lm_export_desc)) {
		struct lm_export_desc *e = (void *)(im->buf + i);

		if (memcmp(e->module, module, strlen(module) + 1) == 0 &&
		    memcmp(e->name, name, strlen(name) + 1) == 0)
			return e;
	}
	fail_msg("no export %s.%s", module, name);
	return NULL;
}

static Elf64_Ehdr *ehdr_in(image *im)
{
	return (Elf64_Ehdr *)(void *)im->buf;
}

/* The header of the section named `name`. */
static Elf64_Shdr *shdr_in(image *im, const char *name)
{
	Elf64_Ehdr *eh = ehdr_in(im);
	Elf64_Shdr *sh = (Elf64_Shdr *)(void *)(im->buf + eh->e_shoff);
	const char *names = im->buf + sh[eh->e_shstrndx].sh_offset;
	size_t i;

	for (i = 0; i < eh->e_shnum; i++)
		if (strcmp(names + sh[i].sh_name, name) == 0)
			return &sh[i];
	fail_msg("no section %s", name);
	return NULL;
}

/* The name bytes of section `name` in the section name table. */
static char *shname_in(image *im, const char *name)
{
	Elf64_Ehdr *eh = ehdr_in(im);
	Elf64_Shdr *sh = (Elf64_Shdr *)(void *)(im->buf + eh->e_shoff);

	return im->buf + sh[eh->e_shstrndx].sh_offset +
	       shdr_in(im, name)->sh_name;
}

/* ---- reading good modules ----------------------------------------- */

static void check_full(const lm_descriptor *d)
{
	assert_string_equal(d->name, "mod_full");
	assert_string_equal(d->vsn, "1.2.0-rc1");
	assert_int_equal(d->abi, LM_ABI_VERSION);
	assert_int_equal(d->ndeps, 2);
	assert_string_equal(d->deps[0], "mod_util");
	assert_string_equal(d->deps[1], "mod_log");
	assert_int_equal(d->callbacks, LM_CB_INIT | LM_CB_CODE_CHANGE);
	assert_int_equal(d->purge, LM_SOFT_PURGE);
	assert_int_equal(d->nexports, 2);
	assert_string_equal(d->exports[0].name, "alpha");
	assert_string_equal(d->exports[0].signature, "size_t (void)");
	assert_string_equal(d->exports[1].name, "zeta");
	assert_string_equal(d->exports[1].signature, SIG_HANDLE);
	assert_ptr_equal(lm_descriptor_export(d, "zeta"), &d->exports[1]);
	assert_null(lm_descriptor_export(d, "nope"));
}

static void test_read_full(void **state)
{
	lm_descriptor *d = read_ok("mod_full.so");

	(void)state;
	check_full(d);
	assert_int_equal(lm_descriptor_validate(d, "x"), 0);
	lm_descriptor_free(d);
}

static void test_read_mem_same_as_file(void **state)
{
	image im = load("mod_full.so");
	lm_descriptor *d = NULL, *f = read_ok("mod_full.so");

	(void)state;
	assert_int_equal(lm_descriptor_read_mem(&d, im.buf, im.len, "mem"), 0);
	check_full(d);
	assert_true(lm_descriptor_equal(d, f));
	lm_descriptor_free(d);
	lm_descriptor_free(f);
	unload(&im);
}

static void test_read_symbol_reloc_no_exports(void **state)
{
	lm_descriptor *d = read_ok("mod_term.so");

	(void)state;
	assert_string_equal(d->name, "mod_term");
	assert_string_equal(d->vsn, "0.1");
	assert_int_equal(d->ndeps, 0);
	assert_int_equal(d->nexports, 0);
	assert_int_equal(d->callbacks, LM_CB_TERMINATE);
	assert_int_equal(d->purge, LM_PURGE_DEFAULT);
	lm_descriptor_free(d);
}

static void test_read_bare(void **state)
{
	lm_descriptor *d = read_ok("mod_bare.so");

	(void)state;
	assert_string_equal(d->name, "mod_bare");
	assert_int_equal(d->callbacks, 0);
	assert_int_equal(d->nexports, 0);
	assert_null(d->exports);
	lm_descriptor_free(d);
}

/* Packed relative relocations (SHT_RELR): the slots are found in the
 * bitmap entries. Skipped where the linker cannot emit them (a failure
 * under LM_REQUIRE_ALL). */
static void test_read_relr(void **state)
{
	lm_descriptor *d;
	image im;

	(void)state;
	if (tu_sh("echo 'int x;' | ${CC:-cc} -shared -fPIC "
		  "-Wl,-z,pack-relative-relocs -x c -o %s/relr_probe.so - "
		  ">/dev/null 2>&1", dir) != 0) {
		tu_skip("the linker cannot emit SHT_RELR "
			"(-z pack-relative-relocs)");
		return;
	}
	setenv("CC", "cc -Wl,-z,pack-relative-relocs", 1);
	tu_build_module(dir, "mod_relr.so", full_src);
	unsetenv("CC");
	im = load("mod_relr.so");
	assert_int_equal(shdr_in(&im, ".relr.dyn")->sh_type, SHT_RELR);
	d = read_ok("mod_relr.so");
	check_full(d);
	lm_descriptor_free(d);
	shdr_in(&im, ".relr.dyn")->sh_size -= 4;
	expect_error(reread(&im, &d), LM_EINVAL, "is not whole entries");
	unload(&im);
}

/* A slot holding a value in the file counts even with no relocation. */
static void test_nonzero_slot_is_present(void **state)
{
	image im = load("mod_bare.so");
	lm_descriptor *d = NULL;

	(void)state;
	desc_in(&im)->code_change = (lm_code_change_fn)(uintptr_t)0x1234;
	assert_int_equal(reread(&im, &d), 0);
	assert_int_equal(d->callbacks, LM_CB_CODE_CHANGE);
	lm_descriptor_free(d);
	unload(&im);
}

/* An ABI 1 module (its descriptor 16 bytes shorter, no change_commit or
 * change_abort slots) reads from the file and from memory alike. */
static void test_abi1_module(void **state)
{
	char *p = path_of("mod_abi1.so");
	lm_descriptor *f = read_ok("mod_abi1.so"), *d = NULL;
	void *h = dlopen(p, RTLD_NOW | RTLD_LOCAL);
	const struct lm_module_desc *m;

	(void)state;
	assert_int_equal(f->abi, 1);
	assert_int_equal(f->callbacks,
			 LM_CB_INIT | LM_CB_CODE_CHANGE | LM_CB_TERMINATE);
	assert_int_equal(f->nexports, 1);
	assert_non_null(h);
	m = dlsym(h, "lm_module_descriptor");
	assert_non_null(m);
	assert_int_equal(m->size, LM_DESC_SIZE_ABI1);
	assert_int_equal(lm_descriptor_from_loaded(&d, m, p), 0);
	assert_true(lm_descriptor_equal(d, f));
	lm_descriptor_free(d);
	dlclose(h);
	lm_descriptor_free(f);
	free(p);
}

/* ABI 2's two callbacks, seen in the file (by their relocations), in
 * memory, and through the JSON form. */
static void test_move_callbacks(void **state)
{
	char *p = path_of("mod_move.so");
	lm_descriptor *f = read_ok("mod_move.so"), *d = NULL, *back = NULL;
	void *h = dlopen(p, RTLD_NOW | RTLD_LOCAL);
	cJSON *j = lm_descriptor_to_json(f);
	char *text = cJSON_PrintUnformatted(j);

	(void)state;
	assert_int_equal(f->abi, 2);
	assert_int_equal(f->callbacks, LM_CB_CODE_CHANGE | LM_CB_CHANGE_COMMIT |
				       LM_CB_CHANGE_ABORT);
	assert_non_null(h);
	assert_int_equal(lm_descriptor_from_loaded(
				 &d, dlsym(h, "lm_module_descriptor"), p), 0);
	assert_true(lm_descriptor_equal(d, f));
	assert_non_null(strstr(text, "\"callbacks\":[\"code_change\","
				     "\"change_commit\",\"change_abort\"]"));
	assert_int_equal(lm_descriptor_from_json(&back, j, "p"), 0);
	assert_true(lm_descriptor_equal(back, f));
	lm_descriptor_free(back);
	lm_descriptor_free(d);
	free(text);
	cJSON_Delete(j);
	dlclose(h);
	lm_descriptor_free(f);
	free(p);
}

static void test_from_loaded(void **state)
{
	char *p = path_of("mod_full.so");
	void *h = dlopen(p, RTLD_NOW | RTLD_LOCAL);
	const struct lm_module_desc *m;
	lm_descriptor *d = NULL, *f = read_ok("mod_full.so");
	struct lm_module_desc bad;

	(void)state;
	assert_non_null(h);
	m = dlsym(h, "lm_module_descriptor");
	assert_non_null(m);
	assert_int_equal(lm_descriptor_from_loaded(&d, m, p), 0);
	assert_true(lm_descriptor_equal(d, f));
	lm_descriptor_free(d);

	bad = *m;
	bad.exports_end = bad.exports_begin - 1;
	expect_error(lm_descriptor_from_loaded(&d, &bad, p), LM_EINVAL,
		     "is not an array of exports");
	bad = *m;
	memcpy(bad.name, "Bad-Name", 9);
	expect_error(lm_descriptor_from_loaded(&d, &bad, p), LM_EINVAL,
		     ": descriptor: name 'Bad-Name' is not [a-z][a-z0-9_]*");
	assert_null(d);
	expect_error(lm_descriptor_from_loaded(&d, NULL, p), LM_EINVAL, p);
	dlclose(h);
	lm_descriptor_free(f);
	free(p);
}

/* ---- refusing files ----------------------------------------------- */

static void test_not_elf(void **state)
{
	char *p = path_of("text.so");
	lm_descriptor *d = NULL;

	(void)state;
	tu_write_file(p, "hello, world\n", 13);
	expect_error(lm_descriptor_read_file(&d, p), LM_ENOTELF,
		     "not an ELF object");
	assert_non_null(strstr(lm_error_last(), p));
	assert_null(d);
	tu_write_file(p, "", 0);
	expect_error(lm_descriptor_read_file(&d, p), LM_ENOTELF, "empty file");
	expect_error(lm_descriptor_read_mem(&d, "", 0, "m"), LM_ENOTELF, "m: ");
	expect_error(lm_descriptor_read_mem(&d, "\177ELF", 4, "m"), LM_ENOTELF,
		     "not an ELF object");
	free(p);
}

static void test_io_errors(void **state)
{
	char *p = path_of("missing.so");
	lm_descriptor *d = NULL;

	(void)state;
	expect_error(lm_descriptor_read_file(&d, p), LM_ERROR, p);
	expect_error(lm_descriptor_read_file(&d, dir), LM_EINVAL,
		     "not a regular file");
	free(p);
}

static void test_no_descriptor(void **state)
{
	lm_descriptor *d = NULL;
	char *p = path_of("plain.so");

	(void)state;
	expect_error(lm_descriptor_read_file(&d, p), LM_ENODESC,
		     "no lm_module section");
	assert_non_null(strstr(lm_error_last(), p));
	free(p);
}

/* Every cut must be refused cleanly: ENOTELF while the header is not
 * whole, EINVAL after; never a crash (run under ASan/valgrind too). */
static void test_truncated(void **state)
{
	image im = load("mod_full.so");
	lm_descriptor *d = NULL;
	size_t cut, fixed[] = { 1, 4, 15, 16, 63, 64, 65, 200, 4096 };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		int rc = lm_descriptor_read_mem(&d, im.buf, fixed[i], "cut");

		assert_true(rc == LM_EINVAL || rc == LM_ENOTELF);
		assert_true(rc == LM_ENOTELF || fixed[i] >= EI_NIDENT);
		assert_null(d);
	}
	for (cut = 0; cut < im.len; cut += 61) {
		int rc = lm_descriptor_read_mem(&d, im.buf, cut, "cut");

		if (rc != LM_EINVAL && rc != LM_ENOTELF)
			fail_msg("cut at %zu: rc %d: %s", cut, rc,
				 lm_error_last());
	}
	expect_error(lm_descriptor_read_mem(&d, im.buf, im.len - 1, "cut"),
		     LM_EINVAL, "cut: ");
	im.len /= 2;
	expect_error(reread(&im, &d), LM_EINVAL, im.path);
	unload(&im);
}

/* Random byte flips: any result but a crash; success only with a valid
 * descriptor. */
static void test_flipped_bytes(void **state)
{
	image im = load("mod_full.so");
	char *copy = malloc(im.len);
	unsigned seed = 12345;
	int round;

	(void)state;
	assert_non_null(copy);
	for (round = 0; round < 3000; round++) {
		lm_descriptor *d = NULL;
		int k, rc;

		memcpy(copy, im.buf, im.len);
		for (k = 0; k < 1 + round % 8; k++) {
			seed = seed * 1103515245u + 12345u;
			copy[(seed >> 8) % im.len] = (char)(seed >> 16);
		}
		rc = lm_descriptor_read_mem(&d, copy, im.len, "fuzz");
		if (rc == 0)
			assert_int_equal(lm_descriptor_validate(d, "fuzz"), 0);
		else
			assert_null(d);
		lm_descriptor_free(d);
	}
	free(copy);
	unload(&im);
}

static void test_wrong_class_machine_type(void **state)
{
	image im = load("mod_bare.so");
	lm_descriptor *d = NULL;

	(void)state;
	im.buf[EI_CLASS] = ELFCLASS32;
	expect_error(reread(&im, &d), LM_EINVAL, "ELF class 32-bit");
	im.buf[EI_CLASS] = ELFCLASS64;
	im.buf[EI_DATA] = ELFDATA2MSB;
	expect_error(reread(&im, &d), LM_EINVAL, "byte order");
	im.buf[EI_DATA] = ELFDATA2LSB;
	ehdr_in(&im)->e_machine = ehdr_in(&im)->e_machine == EM_X86_64
					  ? EM_AARCH64
					  : EM_X86_64;
	expect_error(reread(&im, &d), LM_EINVAL, "is not this host's");
	unload(&im);
	im = load("mod_bare.so");
	ehdr_in(&im)->e_type = ET_REL;
	expect_error(reread(&im, &d), LM_EINVAL, "not a shared object");
	unload(&im);
}

static void test_corrupt_section_headers(void **state)
{
	image im = load("mod_bare.so");
	lm_descriptor *d = NULL;
	Elf64_Half shstrndx = ehdr_in(&im)->e_shstrndx;

	(void)state;
	ehdr_in(&im)->e_shstrndx = (Elf64_Half)(ehdr_in(&im)->e_shnum + 3);
	expect_error(reread(&im, &d), LM_EINVAL, "corrupt ELF");
	ehdr_in(&im)->e_shstrndx = shstrndx;

	shdr_in(&im, "lm_module")->sh_offset = im.len - 16;
	expect_error(reread(&im, &d), LM_EINVAL, "beyond the file");
	unload(&im);

	im = load("mod_bare.so");
	ehdr_in(&im)->e_shoff = im.len - 8;
	expect_error(reread(&im, &d), LM_EINVAL, "section header table");
	unload(&im);

	im = load("mod_bare.so");
	ehdr_in(&im)->e_shentsize = 32;
	expect_error(reread(&im, &d), LM_EINVAL, "e_shentsize 32");
	unload(&im);

	im = load("mod_bare.so");
	shdr_in(&im, "lm_module")->sh_name = 0x7ffffff0;
	expect_error(reread(&im, &d), LM_EINVAL, "corrupt ELF: section name");
	unload(&im);
}

static void test_section_renamed_or_doubled(void **state)
{
	image im = load("mod_bare.so");
	lm_descriptor *d = NULL;

	(void)state;
	shname_in(&im, "lm_module")[8] = 'x';
	expect_error(reread(&im, &d), LM_ENODESC, "no lm_module section");
	unload(&im);

	im = load("mod_full.so");
	memcpy(shname_in(&im, "lm_exports"), "lm_module", 10);
	expect_error(reread(&im, &d), LM_EINVAL, "two sections named lm_module");
	unload(&im);
}

static void test_section_sizes(void **state)
{
	image im = load("mod_full.so");
	lm_descriptor *d = NULL;

	(void)state;
	shdr_in(&im, "lm_exports")->sh_size -= 8;
	expect_error(reread(&im, &d), LM_EINVAL,
		     "not a whole number of exports");
	shdr_in(&im, "lm_exports")->sh_size += 8;
	shdr_in(&im, "lm_module")->sh_size -= 8;
	expect_error(reread(&im, &d), LM_EINVAL, "not one ABI 2 descriptor");
	shdr_in(&im, "lm_module")->sh_size = 10;
	expect_error(reread(&im, &d), LM_EINVAL, "too few for a descriptor");
	shdr_in(&im, "lm_module")->sh_type = SHT_NOBITS;
	expect_error(reread(&im, &d), LM_EINVAL, "SHT_NOBITS");
	unload(&im);
}

/* One patch of the descriptor struct and the message it must produce. */
typedef void (*desc_patch)(struct lm_module_desc *m);

static void expect_patched(const char *file, desc_patch patch,
			   const char *want)
{
	image im = load(file);
	lm_descriptor *d = NULL;

	patch(desc_in(&im));
	expect_error(reread(&im, &d), LM_EINVAL, want);
	assert_non_null(strstr(lm_error_last(), im.path));
	assert_null(d);
	unload(&im);
}

static void p_name(struct lm_module_desc *m) { strcpy(m->name, "Bad-Name"); }
static void p_name_unterminated(struct lm_module_desc *m)
{
	memset(m->name, 'a', sizeof(m->name));
}
static void p_name_empty(struct lm_module_desc *m) { m->name[0] = '\0'; }
static void p_vsn_empty(struct lm_module_desc *m) { m->vsn[0] = '\0'; }
static void p_vsn_unterminated(struct lm_module_desc *m)
{
	memset(m->vsn, '1', sizeof(m->vsn));
}
static void p_abi_future(struct lm_module_desc *m) { m->abi = LM_ABI_VERSION + 1; }
static void p_abi_zero(struct lm_module_desc *m) { m->abi = 0; }
static void p_magic(struct lm_module_desc *m) { m->magic[0] = 'X'; }
static void p_size(struct lm_module_desc *m) { m->size += 8; }
static void p_purge(struct lm_module_desc *m) { m->purge = 7; }
static void p_dep_bad(struct lm_module_desc *m) { strcpy(m->deps[1], "Log"); }
static void p_dep_gap(struct lm_module_desc *m)
{
	m->deps[0][0] = '\0';
}
static void p_dep_unterminated(struct lm_module_desc *m)
{
	memset(m->deps[0], 'a', sizeof(m->deps[0]));
}

static void test_bad_descriptor_fields(void **state)
{
	(void)state;
	expect_patched("mod_full.so", p_name,
		       ": descriptor: name 'Bad-Name' is not [a-z][a-z0-9_]*");
	expect_patched("mod_full.so", p_name_unterminated,
		       "descriptor: name is not NUL-terminated");
	expect_patched("mod_full.so", p_name_empty, "descriptor: name is empty");
	expect_patched("mod_full.so", p_vsn_empty, "descriptor: vsn is empty");
	expect_patched("mod_full.so", p_vsn_unterminated,
		       "descriptor: vsn is not NUL-terminated");
	expect_patched("mod_full.so", p_abi_future,
		       "ABI 3 is newer than this livemod's (2)");
	expect_patched("mod_full.so", p_abi_zero, "abi 0 is not a livemod ABI");
	expect_patched("mod_full.so", p_magic, "magic is not \"LIVEMOD\"");
	expect_patched("mod_full.so", p_size, "is not the size of an ABI 2 descriptor");
	expect_patched("mod_full.so", p_purge, "descriptor: purge 7");
	expect_patched("mod_full.so", p_dep_bad,
		       "descriptor: deps[1]: 'Log' is not a module name");
	expect_patched("mod_full.so", p_dep_gap,
		       "descriptor: deps[1] follows the empty deps[0]");
	expect_patched("mod_full.so", p_dep_unterminated,
		       "descriptor: deps[0] is not NUL-terminated");
}

static void test_bad_descriptor_built(void **state)
{
	lm_descriptor *d = NULL;
	char *p;

	(void)state;
	p = path_of("mod_dd.so");
	expect_error(lm_descriptor_read_file(&d, p), LM_EINVAL,
		     "deps[1]: 'mod_a' is listed twice");
	free(p);
	p = path_of("mod_self.so");
	expect_error(lm_descriptor_read_file(&d, p), LM_EINVAL,
		     "module 'mod_self' depends on itself");
	free(p);
	p = path_of("mod_v.so");
	expect_error(lm_descriptor_read_file(&d, p), LM_EINVAL, "vsn '1 0'");
	free(p);
	p = path_of("mod_x.so");
	expect_error(lm_descriptor_read_file(&d, p), LM_EINVAL,
		     "exports[0] 'f' is declared for module 'mod_y', not 'mod_x'");
	free(p);
	assert_null(d);
}

static void test_bad_exports(void **state)
{
	image im = load("mod_two.so");
	lm_descriptor *d = NULL;
	struct lm_export_desc *fb = export_in(&im, "mod_two", "fb");

	(void)state;
	fb->name[1] = 'a';
	expect_error(reread(&im, &d), LM_EINVAL, "export 'fa' is declared twice");
	strcpy(fb->name, "not ident");
	expect_error(reread(&im, &d), LM_EINVAL,
		     "name 'not ident' is not a C identifier");
	strcpy(fb->name, "fb");
	fb->signature[0] = '\0';
	expect_error(reread(&im, &d), LM_EINVAL, "export 'fb': signature is empty");
	memset(fb->signature, 'x', sizeof(fb->signature));
	expect_error(reread(&im, &d), LM_EINVAL,
		     "exports[1].signature is not NUL-terminated");
	unload(&im);
}

/* ---- validate, equal, dup ------------------------------------------ */

static lm_descriptor *json_desc(const char *text)
{
	cJSON *j = cJSON_Parse(text);
	lm_descriptor *d = NULL;

	assert_non_null(j);
	if (lm_descriptor_from_json(&d, j, "t") != 0)
		fail_msg("%s", lm_error_last());
	cJSON_Delete(j);
	return d;
}

static const char good_json[] =
	"{\"name\":\"mod_a\",\"vsn\":\"1.0\",\"abi\":1,"
	"\"deps\":[\"mod_b\",\"mod_c\"],"
	"\"exports\":[{\"name\":\"zz\",\"signature\":\"int (void)\"},"
	"{\"name\":\"aa\",\"signature\":\"" SIG_HANDLE "\"}],"
	"\"callbacks\":[\"init\",\"terminate\"],\"purge\":\"brutal_purge\"}";

static void test_validate_direct(void **state)
{
	lm_descriptor *d = json_desc(good_json);
	lm_export_info t;

	(void)state;
	assert_int_equal(lm_descriptor_validate(d, "L"), 0);
	expect_error(lm_descriptor_validate(NULL, "L"), LM_EINVAL, "L: ");
	d->callbacks |= 32;
	expect_error(lm_descriptor_validate(d, "L"), LM_EINVAL,
		     "L: callbacks: unknown bits 0x20");
	/* state by move: ABI 2, both callbacks or neither */
	d->abi = 2;
	d->callbacks = LM_CB_CODE_CHANGE | LM_CB_CHANGE_COMMIT;
	expect_error(lm_descriptor_validate(d, "L"), LM_EINVAL,
		     "L: callbacks: change_commit without change_abort");
	d->callbacks = LM_CB_CODE_CHANGE | LM_CB_CHANGE_ABORT;
	expect_error(lm_descriptor_validate(d, "L"), LM_EINVAL,
		     "L: callbacks: change_abort without change_commit");
	d->callbacks |= LM_CB_CHANGE_COMMIT;
	assert_int_equal(lm_descriptor_validate(d, "L"), 0);
	d->abi = 1;
	expect_error(lm_descriptor_validate(d, "L"), LM_EINVAL,
		     "change_commit and change_abort need ABI 2 (abi is 1)");
	d->callbacks &= 7;
	d->purge = (lm_purge_mode)9;
	expect_error(lm_descriptor_validate(d, "L"), LM_EINVAL, "L: purge");
	d->purge = LM_PURGE_DEFAULT;
	d->abi = LM_ABI_VERSION + 1;
	expect_error(lm_descriptor_validate(d, "L"), LM_EINVAL,
		     "L: abi: ABI 3 is newer");
	d->abi = 1;
	t = d->exports[0];
	d->exports[0] = d->exports[1];
	d->exports[1] = t;
	expect_error(lm_descriptor_validate(d, "L"), LM_EINVAL, "not sorted");
	lm_descriptor_free(d);
}

static void test_equal_dup(void **state)
{
	lm_descriptor *a = json_desc(good_json), *b = lm_descriptor_dup(a);

	(void)state;
	assert_non_null(b);
	assert_true(lm_descriptor_equal(a, b));
	assert_true(lm_descriptor_equal(a, a));
	assert_false(lm_descriptor_equal(a, NULL));
	assert_null(lm_descriptor_dup(NULL));
	b->callbacks = 0;
	assert_false(lm_descriptor_equal(a, b));
	b->callbacks = a->callbacks;
	b->exports[1].signature[0] = 'X';
	assert_false(lm_descriptor_equal(a, b));
	b->exports[1].signature[0] = a->exports[1].signature[0];
	b->deps[1][4] = 'x';
	assert_false(lm_descriptor_equal(a, b));
	b->deps[1][4] = a->deps[1][4];
	b->vsn[0] = '2';
	assert_false(lm_descriptor_equal(a, b));
	lm_descriptor_free(a);
	lm_descriptor_free(b);
	lm_descriptor_free(NULL);
}

/* ---- JSON ------------------------------------------------------------ */

static void test_json_round_trip(void **state)
{
	lm_descriptor *f = read_ok("mod_full.so"), *back = NULL;
	cJSON *j = lm_descriptor_to_json(f), *parsed;
	char *text = cJSON_PrintUnformatted(j);

	(void)state;
	assert_non_null(strstr(text, "\"callbacks\":[\"init\",\"code_change\"]"));
	assert_non_null(strstr(text, "\"purge\":\"soft_purge\""));
	parsed = cJSON_Parse(text);
	assert_int_equal(lm_descriptor_from_json(&back, parsed, "p"), 0);
	assert_true(lm_descriptor_equal(f, back));
	lm_descriptor_free(back);
	cJSON_Delete(parsed);
	free(text);
	cJSON_Delete(j);

	f->purge = LM_PURGE_DEFAULT;
	j = lm_descriptor_to_json(f);
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(j, "purge")));
	assert_int_equal(lm_descriptor_from_json(&back, j, "p"), 0);
	assert_true(lm_descriptor_equal(f, back));
	lm_descriptor_free(back);
	cJSON_Delete(j);
	lm_descriptor_free(f);
}

static void test_json_sorts_and_defaults(void **state)
{
	lm_descriptor *d = json_desc(good_json);

	(void)state;
	assert_string_equal(d->exports[0].name, "aa");
	assert_int_equal(d->callbacks, LM_CB_INIT | LM_CB_TERMINATE);
	assert_int_equal(d->purge, LM_BRUTAL_PURGE);
	lm_descriptor_free(d);
	d = json_desc("{\"name\":\"m\",\"vsn\":\"1\",\"abi\":1,\"deps\":[],"
		      "\"exports\":[],\"callbacks\":[]}");
	assert_int_equal(d->purge, LM_PURGE_DEFAULT);
	lm_descriptor_free(d);
}

static const struct {
	const char *json, *want;
} bad_json[] = {
	{ "[]", "L: descriptor is not an object" },
	{ "{\"vsn\":\"1\",\"abi\":1,\"deps\":[],\"exports\":[],\"callbacks\":[]}",
	  "L: name: missing" },
	{ "{\"name\":3,\"vsn\":\"1\",\"abi\":1,\"deps\":[],\"exports\":[],\"callbacks\":[]}",
	  "L: name: not a string" },
	{ "{\"name\":\"Bad-Name\",\"vsn\":\"1\",\"abi\":1,\"deps\":[],\"exports\":[],\"callbacks\":[]}",
	  "L: name 'Bad-Name' is not [a-z][a-z0-9_]*" },
	{ "{\"name\":\"m\",\"abi\":1,\"deps\":[],\"exports\":[],\"callbacks\":[]}",
	  "L: vsn: missing" },
	{ "{\"name\":\"m\",\"vsn\":\"\",\"abi\":1,\"deps\":[],\"exports\":[],\"callbacks\":[]}",
	  "L: vsn is empty" },
	{ "{\"name\":\"m\",\"vsn\":\"1\",\"deps\":[],\"exports\":[],\"callbacks\":[]}",
	  "L: abi: missing" },
	{ "{\"name\":\"m\",\"vsn\":\"1\",\"abi\":\"1\",\"deps\":[],\"exports\":[],\"callbacks\":[]}",
	  "L: abi: not a number" },
	{ "{\"name\":\"m\",\"vsn\":\"1\",\"abi\":1.5,\"deps\":[],\"exports\":[],\"callbacks\":[]}",
	  "L: abi: 1.5 is not an ABI version" },
	{ "{\"name\":\"m\",\"vsn\":\"1\",\"abi\":7,\"deps\":[],\"exports\":[],\"callbacks\":[]}",
	  "L: abi: ABI 7 is newer than this livemod's (2)" },
	{ "{\"name\":\"m\",\"vsn\":\"1\",\"abi\":1,\"deps\":{},\"exports\":[],\"callbacks\":[]}",
	  "L: deps: not an array" },
	{ "{\"name\":\"m\",\"vsn\":\"1\",\"abi\":1,\"deps\":[\"a\",2],\"exports\":[],\"callbacks\":[]}",
	  "L: deps[1]: not a string" },
	{ "{\"name\":\"m\",\"vsn\":\"1\",\"abi\":1,\"deps\":[\"a\",\"a\"],\"exports\":[],\"callbacks\":[]}",
	  "L: deps[1]: 'a' is listed twice" },
	{ "{\"name\":\"m\",\"vsn\":\"1\",\"abi\":1,\"deps\":[\"A\"],\"exports\":[],\"callbacks\":[]}",
	  "L: deps[0]: 'A' is not a module name" },
	{ "{\"name\":\"m\",\"vsn\":\"1\",\"abi\":1,\"deps\":[],\"callbacks\":[]}",
	  "L: exports: missing" },
	{ "{\"name\":\"m\",\"vsn\":\"1\",\"abi\":1,\"deps\":[],\"exports\":[1],\"callbacks\":[]}",
	  "L: exports[0]: not an object" },
	{ "{\"name\":\"m\",\"vsn\":\"1\",\"abi\":1,\"deps\":[],\"exports\":[{\"signature\":\"int (void)\"}],\"callbacks\":[]}",
	  "L: exports[0].name: missing" },
	{ "{\"name\":\"m\",\"vsn\":\"1\",\"abi\":1,\"deps\":[],\"exports\":[{\"name\":\"f\",\"signature\":1}],\"callbacks\":[]}",
	  "L: exports[0].signature: not a string" },
	{ "{\"name\":\"m\",\"vsn\":\"1\",\"abi\":1,\"deps\":[],\"exports\":[{\"name\":\"1f\",\"signature\":\"int (void)\"}],\"callbacks\":[]}",
	  "L: exports: name '1f' is not a C identifier" },
	{ "{\"name\":\"m\",\"vsn\":\"1\",\"abi\":1,\"deps\":[],\"exports\":[{\"name\":\"f\",\"signature\":\"int (void)\"},{\"name\":\"f\",\"signature\":\"int (void)\"}],\"callbacks\":[]}",
	  "L: export 'f' is declared twice" },
	{ "{\"name\":\"m\",\"vsn\":\"1\",\"abi\":1,\"deps\":[],\"exports\":[{\"name\":\"f\",\"signature\":\"a\\tb\"}],\"callbacks\":[]}",
	  "L: export 'f': signature 'a?b' is not" },
	{ "{\"name\":\"m\",\"vsn\":\"1\",\"abi\":1,\"deps\":[],\"exports\":[]}",
	  "L: callbacks: missing" },
	{ "{\"name\":\"m\",\"vsn\":\"1\",\"abi\":1,\"deps\":[],\"exports\":[],\"callbacks\":[\"boot\"]}",
	  "L: callbacks[0]: 'boot' is not init, code_change, terminate, change_commit or change_abort" },
	{ "{\"name\":\"m\",\"vsn\":\"1\",\"abi\":1,\"deps\":[],\"exports\":[],\"callbacks\":[\"init\",\"init\"]}",
	  "L: callbacks[1]: 'init' is listed twice" },
	{ "{\"name\":\"m\",\"vsn\":\"1\",\"abi\":1,\"deps\":[],\"exports\":[],\"callbacks\":[3]}",
	  "L: callbacks[0]: not a string" },
	{ "{\"name\":\"m\",\"vsn\":\"1\",\"abi\":1,\"deps\":[],\"exports\":[],\"callbacks\":[],\"purge\":\"gentle\"}",
	  "L: purge: not soft_purge, brutal_purge or null" },
};

static void test_json_rejections(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad_json) / sizeof(bad_json[0]); i++) {
		cJSON *j = cJSON_Parse(bad_json[i].json);
		lm_descriptor *d = NULL;

		if (!j)
			fail_msg("case %zu: test JSON does not parse", i);
		expect_error(lm_descriptor_from_json(&d, j, "L"), LM_EINVAL,
			     bad_json[i].want);
		assert_null(d);
		cJSON_Delete(j);
	}
}

/* ---- text forms --------------------------------------------------------- */

static void test_text_round_trip(void **state)
{
	lm_descriptor *d = read_ok("mod_full.so"), *e = lm_descriptor_dup(d);
	char *deps = lm_descriptor_deps_text(d);
	char *exps = lm_descriptor_exports_text(d);

	(void)state;
	assert_string_equal(deps, "mod_util mod_log");
	assert_string_equal(exps, "alpha\tsize_t (void)\nzeta\t" SIG_HANDLE "\n");
	assert_int_equal(lm_descriptor_set_deps_text(e, ""), 0);
	assert_int_equal(lm_descriptor_set_exports_text(e, ""), 0);
	assert_int_equal(e->ndeps, 0);
	assert_int_equal(e->nexports, 0);
	assert_int_equal(lm_descriptor_set_deps_text(e, deps), 0);
	/* Out of order and without the last newline: sorted on the way in. */
	assert_int_equal(lm_descriptor_set_exports_text(
				 e, "zeta\t" SIG_HANDLE "\nalpha\tsize_t (void)"),
			 0);
	assert_true(lm_descriptor_equal(d, e));
	free(deps);
	free(exps);
	deps = lm_descriptor_deps_text(e);
	assert_string_equal(deps, "mod_util mod_log");
	free(deps);
	lm_descriptor_free(e);
	e = json_desc("{\"name\":\"m\",\"vsn\":\"1\",\"abi\":1,\"deps\":[],"
		      "\"exports\":[],\"callbacks\":[]}");
	deps = lm_descriptor_deps_text(e);
	exps = lm_descriptor_exports_text(e);
	assert_string_equal(deps, "");
	assert_string_equal(exps, "");
	free(deps);
	free(exps);
	lm_descriptor_free(e);
	lm_descriptor_free(d);
}

static void test_text_rejections(void **state)
{
	lm_descriptor *d = read_ok("mod_full.so");

	(void)state;
	expect_error(lm_descriptor_set_deps_text(d, "mod_a Bad"), LM_EINVAL,
		     "module 'mod_full': deps[1]: 'Bad' is not a module name");
	expect_error(lm_descriptor_set_deps_text(d, "mod_a mod_a"), LM_EINVAL,
		     "deps[1]: 'mod_a' is listed twice");
	expect_error(lm_descriptor_set_deps_text(d, "mod_full"), LM_EINVAL,
		     "depends on itself");
	expect_error(lm_descriptor_set_deps_text(
			     d, "a b c d e f g h i j k l m n o p q"),
		     LM_EINVAL, "17 dependencies, at most 16");
	expect_error(lm_descriptor_set_exports_text(d, "f\tint (void)\ng int"),
		     LM_EINVAL, "exports text line 2: no tab");
	expect_error(lm_descriptor_set_exports_text(
			     d, "f\tint (void)\nf\tint (void)\n"),
		     LM_EINVAL, "export 'f' is declared twice");
	expect_error(lm_descriptor_set_exports_text(d, "f\t\n"), LM_EINVAL,
		     "export 'f': signature is empty");
	/* A refused text leaves the old value. */
	assert_int_equal(d->ndeps, 2);
	assert_int_equal(d->nexports, 2);
	assert_string_equal(d->exports[1].signature, SIG_HANDLE);
	lm_descriptor_free(d);
}

/* ---- names, versions, purge ---------------------------------------- */

static void test_names_and_versions(void **state)
{
	char longname[LM_NAME_MAX + 1], longvsn[LM_VSN_MAX + 1];

	(void)state;
	memset(longname, 'a', sizeof(longname));
	longname[LM_NAME_MAX - 1] = '\0';
	assert_true(lm_module_name_valid(longname));
	longname[LM_NAME_MAX - 1] = 'a';
	longname[LM_NAME_MAX] = '\0';
	assert_false(lm_module_name_valid(longname));
	assert_true(lm_module_name_valid("mod_a2"));
	assert_true(lm_module_name_valid("m"));
	assert_false(lm_module_name_valid(""));
	assert_false(lm_module_name_valid(NULL));
	assert_false(lm_module_name_valid("_mod"));
	assert_false(lm_module_name_valid("2mod"));
	assert_false(lm_module_name_valid("Mod"));
	assert_false(lm_module_name_valid("mod-a"));

	memset(longvsn, '1', sizeof(longvsn));
	longvsn[LM_VSN_MAX - 1] = '\0';
	assert_true(lm_vsn_valid(longvsn));
	longvsn[LM_VSN_MAX - 1] = '1';
	longvsn[LM_VSN_MAX] = '\0';
	assert_false(lm_vsn_valid(longvsn));
	assert_true(lm_vsn_valid("1.2.0-rc1+git.abc"));
	assert_false(lm_vsn_valid(""));
	assert_false(lm_vsn_valid(NULL));
	assert_false(lm_vsn_valid("1 0"));
	assert_false(lm_vsn_valid("1,0"));
	assert_false(lm_vsn_valid("\"1\""));
	assert_false(lm_vsn_valid("{1}"));
	assert_false(lm_vsn_valid("[1]"));
	assert_false(lm_vsn_valid("1\\0"));
	assert_false(lm_vsn_valid("1\t"));
}

static void test_purge_names(void **state)
{
	(void)state;
	assert_string_equal(lm_purge_name(LM_SOFT_PURGE), "soft_purge");
	assert_string_equal(lm_purge_name(LM_BRUTAL_PURGE), "brutal_purge");
	assert_null(lm_purge_name(LM_PURGE_DEFAULT));
	assert_int_equal(lm_purge_parse("soft_purge"), LM_SOFT_PURGE);
	assert_int_equal(lm_purge_parse("brutal_purge"), LM_BRUTAL_PURGE);
	assert_int_equal(lm_purge_parse("default"), -1);
	assert_int_equal(lm_purge_parse(NULL), -1);
}

/* ---- modset ----------------------------------------------------------- */

static lm_descriptor *named(const char *name)
{
	lm_descriptor *d = json_desc(good_json);
	lm_descriptor *n = lm_descriptor_new(name, d->vsn);

	/* good_json's descriptor under another name: its parts move over */
	assert_non_null(n);
	n->abi = d->abi;
	n->callbacks = d->callbacks;
	n->purge = d->purge;
	n->deps = d->deps;
	n->ndeps = d->ndeps;
	n->exports = d->exports;
	n->nexports = d->nexports;
	d->deps = NULL;
	d->ndeps = 0;
	d->exports = NULL;
	d->nexports = 0;
	lm_descriptor_free(d);
	return n;
}

#define OID_A "0123456789abcdef0123456789abcdef01234567"

static void test_modset_sort_find(void **state)
{
	lm_modset s = { 0 };
	const char *names[] = { "mod_c", "mod_a", "mod_b" };
	size_t i;

	(void)state;
	for (i = 0; i < 3; i++)
		assert_int_equal(lm_modset_add(&s, names[i], i ? OID_A : NULL,
					       named(names[i])),
				 0);
	assert_int_equal(lm_modset_sort(&s), 0);
	assert_string_equal(s.v[0].desc->name, "mod_a");
	assert_string_equal(s.v[1].desc->name, "mod_b");
	assert_string_equal(s.v[2].desc->name, "mod_c");
	assert_string_equal(s.v[0].oid, OID_A);
	assert_string_equal(s.v[2].oid, "");
	assert_string_equal(lm_modset_find(&s, "mod_b")->file, "mod_b");
	assert_null(lm_modset_find(&s, "mod_d"));
	assert_null(lm_modset_find(&s, "mod_0"));
	lm_modset_clear(&s);
	assert_int_equal(s.n, 0);
	assert_null(lm_modset_find(&s, "mod_a"));
	assert_int_equal(lm_modset_sort(&s), 0);
}

static void test_modset_errors(void **state)
{
	lm_modset s = { 0 };

	(void)state;
	assert_int_equal(lm_modset_add(&s, "b.so", NULL, named("mod_x")), 0);
	assert_int_equal(lm_modset_add(&s, "m.so", NULL, named("mod_m")), 0);
	assert_int_equal(lm_modset_add(&s, "a.so", NULL, named("mod_x")), 0);
	expect_error(lm_modset_sort(&s), LM_EINVAL,
		     "module 'mod_x' is declared by both a.so and b.so");
	expect_error(lm_modset_add(&s, "c.so", "XYZ", named("mod_c")),
		     LM_EINVAL, "c.so: object id 'XYZ'");
	assert_int_equal(s.n, 3);
	lm_modset_clear(&s);

	assert_true(lm_oid_valid(OID_A));
	assert_false(lm_oid_valid(NULL));
	assert_false(lm_oid_valid(""));
	assert_false(lm_oid_valid(OID_A "8"));
	assert_false(lm_oid_valid("0123456789ABCDEF0123456789abcdef01234567"));
	assert_false(lm_oid_valid("0123456789abcdef0123456789abcdef0123456"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_full),
		cmocka_unit_test(test_read_mem_same_as_file),
		cmocka_unit_test(test_read_symbol_reloc_no_exports),
		cmocka_unit_test(test_read_bare),
		cmocka_unit_test(test_read_relr),
		cmocka_unit_test(test_nonzero_slot_is_present),
		cmocka_unit_test(test_abi1_module),
		cmocka_unit_test(test_move_callbacks),
		cmocka_unit_test(test_from_loaded),
		cmocka_unit_test(test_not_elf),
		cmocka_unit_test(test_io_errors),
		cmocka_unit_test(test_no_descriptor),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_flipped_bytes),
		cmocka_unit_test(test_wrong_class_machine_type),
		cmocka_unit_test(test_corrupt_section_headers),
		cmocka_unit_test(test_section_renamed_or_doubled),
		cmocka_unit_test(test_section_sizes),
		cmocka_unit_test(test_bad_descriptor_fields),
		cmocka_unit_test(test_bad_descriptor_built),
		cmocka_unit_test(test_bad_exports),
		cmocka_unit_test(test_validate_direct),
		cmocka_unit_test(test_equal_dup),
		cmocka_unit_test(test_json_round_trip),
		cmocka_unit_test(test_json_sorts_and_defaults),
		cmocka_unit_test(test_json_rejections),
		cmocka_unit_test(test_text_round_trip),
		cmocka_unit_test(test_text_rejections),
		cmocka_unit_test(test_names_and_versions),
		cmocka_unit_test(test_purge_names),
		cmocka_unit_test(test_modset_sort_find),
		cmocka_unit_test(test_modset_errors),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
