/*
 * descriptor_elf.c - a descriptor from a module's ELF file, with libelf:
 * the "lm_module" and "lm_exports" sections and the relocations that say
 * which callbacks are set. No code of the module runs (plan time).
 */
#include "descriptor_internal.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "elflib.h"
#include "error.h"

/* ---------------------------------------------------------------------
 * From an ELF file, with libelf
 * ------------------------------------------------------------------- */

#if defined(__x86_64__)
#define HOST_MACHINE EM_X86_64
#elif defined(__aarch64__)
#define HOST_MACHINE EM_AARCH64
#elif defined(__riscv) && __riscv_xlen == 64
#define HOST_MACHINE EM_RISCV
#elif defined(__powerpc64__)
#define HOST_MACHINE EM_PPC64
#elif defined(__s390x__)
#define HOST_MACHINE EM_S390
#elif defined(__loongarch64)
#define HOST_MACHINE EM_LOONGARCH
#elif defined(__mips64)
#define HOST_MACHINE EM_MIPS
#else
#error "livemod: add this architecture's ELF e_machine"
#endif

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define HOST_DATA ELFDATA2LSB
#else
#define HOST_DATA ELFDATA2MSB
#endif

/* Files larger than this are not modules; refusing them bounds memory. */
#define MAX_OBJECT_SIZE ((size_t)1 << 30)

static const char *machine_name(unsigned m)
{
	switch (m) {
	case EM_X86_64: return "x86-64";
	case EM_386: return "i386";
	case EM_AARCH64: return "aarch64";
	case EM_ARM: return "arm";
	case EM_RISCV: return "riscv";
	case EM_PPC64: return "ppc64";
	case EM_S390: return "s390";
	case EM_MIPS: return "mips";
	default: return "other";
	}
}

static pthread_once_t elf_once = PTHREAD_ONCE_INIT;
static bool elf_ready;

static void elf_init(void)
{
	elf_ready = lm_elf.elf_version(EV_CURRENT) != EV_NONE;
}

/* What the reader learns about one image while walking its sections. */
typedef struct elf_image {
	const char *label;        /* the path, for messages */
	const unsigned char *buf; /* the whole file */
	size_t len;
	Elf *elf;
	size_t shstrndx;
	GElf_Shdr desc_sh, exports_sh;
	bool has_desc, has_exports;
} elf_image;

static int corrupt(const elf_image *im, const char *what)
{
	return lm_error_set(LM_EINVAL, "%s: corrupt ELF: %s: %s", im->label,
			    what, lm_elf.elf_errmsg(-1));
}

/* The section header table must lie inside the image: libelf takes a
 * table cut off by truncation for "no sections", which would turn a
 * truncated module into LM_ENODESC. */
static int check_shdr_table(const unsigned char *buf, size_t len,
			    const char *label)
{
	Elf64_Ehdr eh;
	Elf64_Shdr sh0;
	uint64_t n;

	memcpy(&eh, buf, sizeof(eh));
	if (eh.e_shoff == 0 && eh.e_shnum == 0)
		return 0;
	if (eh.e_shentsize != sizeof(Elf64_Shdr))
		return lm_error_set(LM_EINVAL,
				    "%s: corrupt ELF: e_shentsize %u is not %zu",
				    label, eh.e_shentsize, sizeof(Elf64_Shdr));
	if (eh.e_shoff > len || len - eh.e_shoff < sizeof(sh0))
		goto truncated;
	/* e_shnum 0 with a table: the count is in section 0 (extended). */
	memcpy(&sh0, buf + eh.e_shoff, sizeof(sh0));
	n = eh.e_shnum ? eh.e_shnum : sh0.sh_size;
	if (n > (len - eh.e_shoff) / sizeof(Elf64_Shdr))
		goto truncated;
	return 0;
truncated:
	return lm_error_set(LM_EINVAL,
			    "%s: truncated or corrupt ELF: the section header "
			    "table (at %llu) ends beyond the file (%zu bytes)",
			    label, (unsigned long long)eh.e_shoff, len);
}

/* The checks of the header bytes, before libelf sees the image. */
static int check_ident(const unsigned char *buf, size_t len, const char *label)
{
	if (len == 0)
		return lm_error_set(LM_ENOTELF,
				    "%s: empty file, not an ELF object", label);
	if (len < EI_NIDENT || memcmp(buf, ELFMAG, SELFMAG) != 0)
		return lm_error_set(LM_ENOTELF, "%s: not an ELF object", label);
	if (buf[EI_CLASS] != ELFCLASS64)
		return lm_error_set(LM_EINVAL,
				    "%s: ELF class %s: livemod reads 64-bit "
				    "(ELFCLASS64) objects only",
				    label,
				    buf[EI_CLASS] == ELFCLASS32 ? "32-bit"
								: "unknown");
	if (buf[EI_DATA] != HOST_DATA)
		return lm_error_set(LM_EINVAL,
				    "%s: ELF byte order %u is not this host's (%u)",
				    label, buf[EI_DATA], HOST_DATA);
	if (len < sizeof(Elf64_Ehdr))
		return lm_error_set(LM_EINVAL,
				    "%s: truncated ELF header (%zu bytes)", label,
				    len);
	return check_shdr_table(buf, len, label);
}

static int check_ehdr(elf_image *im)
{
	GElf_Ehdr eh;

	if (lm_elf.elf_kind(im->elf) != ELF_K_ELF || !lm_elf.gelf_getehdr(im->elf, &eh))
		return corrupt(im, "ELF header");
	if (eh.e_machine != HOST_MACHINE)
		return lm_error_set(LM_EINVAL,
				    "%s: e_machine %u (%s) is not this host's "
				    "%u (%s)",
				    im->label, eh.e_machine,
				    machine_name(eh.e_machine), HOST_MACHINE,
				    machine_name(HOST_MACHINE));
	if (eh.e_type != ET_DYN)
		return lm_error_set(LM_EINVAL,
				    "%s: e_type %u is not a shared object (ET_DYN)",
				    im->label, eh.e_type);
	return 0;
}

/* Keeps the header of our section `name`; two of one are refused. */
static int note_section(elf_image *im, const char *name, const GElf_Shdr *sh)
{
	bool is_desc = strcmp(name, LM_DESC_SECTION) == 0;
	bool *has = is_desc ? &im->has_desc : &im->has_exports;

	if (!is_desc && strcmp(name, LM_EXPORT_SECTION) != 0)
		return 0;
	if (*has)
		return lm_error_set(LM_EINVAL, "%s: two sections named %s",
				    im->label, name);
	if (sh->sh_type == SHT_NOBITS)
		return lm_error_set(LM_EINVAL,
				    "%s: section %s holds no bytes in the file "
				    "(SHT_NOBITS)",
				    im->label, name);
	*has = true;
	*(is_desc ? &im->desc_sh : &im->exports_sh) = *sh;
	return 0;
}

/* Every section: a readable header, a name, and data inside the file. */
static int walk_sections(elf_image *im)
{
	Elf_Scn *scn = NULL;
	size_t shnum;
	int rc;

	if (lm_elf.elf_getshdrnum(im->elf, &shnum) != 0)
		return corrupt(im, "section count");
	if (shnum == 0)
		return 0;
	if (lm_elf.elf_getshdrstrndx(im->elf, &im->shstrndx) != 0 ||
	    im->shstrndx == SHN_UNDEF || im->shstrndx >= shnum)
		return lm_error_set(LM_EINVAL,
				    "%s: corrupt ELF: bad section name table index",
				    im->label);
	while ((scn = lm_elf.elf_nextscn(im->elf, scn))) {
		size_t idx = lm_elf.elf_ndxscn(scn);
		GElf_Shdr sh;
		const char *name;

		if (!lm_elf.gelf_getshdr(scn, &sh))
			return corrupt(im, "section header");
		if (sh.sh_type != SHT_NOBITS &&
		    (sh.sh_offset > im->len || sh.sh_size > im->len - sh.sh_offset))
			return lm_error_set(LM_EINVAL,
					    "%s: truncated or corrupt ELF: section %zu "
					    "(%llu bytes at %llu) ends beyond the "
					    "file (%zu bytes)",
					    im->label, idx,
					    (unsigned long long)sh.sh_size,
					    (unsigned long long)sh.sh_offset,
					    im->len);
		if (!(name = lm_elf.elf_strptr(im->elf, im->shstrndx, sh.sh_name)))
			return corrupt(im, "section name");
		if ((rc = note_section(im, name, &sh)) != 0)
			return rc;
	}
	return 0;
}

/* Virtual addresses of the callback slots, and which were seen relocated. */
typedef struct slots {
	GElf_Addr addr[LMD_NCALLBACKS];
	unsigned found;
} slots;

static void slots_init(slots *s, GElf_Addr base)
{
	static const size_t off[LMD_NCALLBACKS] = {
		offsetof(struct lm_module_desc, init),
		offsetof(struct lm_module_desc, code_change),
		offsetof(struct lm_module_desc, terminate),
		offsetof(struct lm_module_desc, change_commit),
		offsetof(struct lm_module_desc, change_abort),
	};
	size_t i;

	/* off[] follows lmd_callback_names[]' order. */
	assert(lmd_callback_names[0].bit == LM_CB_INIT &&
	       lmd_callback_names[2].bit == LM_CB_TERMINATE &&
	       lmd_callback_names[4].bit == LM_CB_CHANGE_ABORT);
	for (i = 0; i < LMD_NCALLBACKS; i++)
		s->addr[i] = base + off[i];
	s->found = 0;
}

static void slots_hit(slots *s, GElf_Addr a)
{
	size_t i;

	for (i = 0; i < LMD_NCALLBACKS; i++)
		if (a == s->addr[i])
			s->found |= lmd_callback_names[i].bit;
}

/* SHT_RELA or SHT_REL through gelf, which bounds every entry. */
static int scan_rel(elf_image *im, Elf_Scn *scn, const GElf_Shdr *sh,
		    slots *s)
{
	bool rela = sh->sh_type == SHT_RELA;
	Elf_Data *data = lm_elf.elf_getdata(scn, NULL);
	size_t i, n, entsize;

	if (!data)
		return corrupt(im, "relocation section");
	entsize = lm_elf.gelf_fsize(im->elf, rela ? ELF_T_RELA : ELF_T_REL, 1,
			     EV_CURRENT);
	assert(entsize > 0);
	n = data->d_size / entsize;
	for (i = 0; i < n; i++) {
		GElf_Rela r;
		GElf_Rel rl;

		if (rela ? !lm_elf.gelf_getrela(data, (int)i, &r)
			 : !lm_elf.gelf_getrel(data, (int)i, &rl))
			return corrupt(im, "relocation");
		if (!rela) {
			r.r_offset = rl.r_offset;
			r.r_info = rl.r_info;
		}
		/* R_*_NONE (0) relocates nothing on every machine. */
		if (GELF_R_TYPE(r.r_info) != 0)
			slots_hit(s, r.r_offset);
	}
	return 0;
}

/* SHT_RELR (DT_RELR): an even entry is an address to relocate; an odd
 * entry is a bitmap over the 63 words that follow the last address, bit i
 * (from 1) meaning word i-1. Read from the file bytes, bounded by
 * walk_sections(), since not every libelf knows the type. */
static int scan_relr(elf_image *im, const GElf_Shdr *sh, slots *s)
{
	const uint64_t word = sizeof(uint64_t);
	GElf_Addr where = 0;
	size_t i;

	if (sh->sh_size % word != 0)
		return lm_error_set(LM_EINVAL,
				    "%s: corrupt ELF: SHT_RELR section of %llu "
				    "bytes is not whole entries",
				    im->label, (unsigned long long)sh->sh_size);
	for (i = 0; i < sh->sh_size / word; i++) {
		uint64_t e;
		unsigned bit;

		memcpy(&e, im->buf + sh->sh_offset + i * word, sizeof(e));
		if ((e & 1) == 0) {
			slots_hit(s, e);
			where = e + word;
			continue;
		}
		for (bit = 1; bit < 64; bit++)
			if (e >> bit & 1)
				slots_hit(s, where + (bit - 1) * word);
		where += 63 * word;
	}
	return 0;
}

/* The callbacks whose slots some dynamic relocation fills. */
static int relocated_slots(elf_image *im, slots *s)
{
	Elf_Scn *scn = NULL;
	int rc = 0;

	while (rc == 0 && (scn = lm_elf.elf_nextscn(im->elf, scn))) {
		GElf_Shdr sh;

		if (!lm_elf.gelf_getshdr(scn, &sh))
			return corrupt(im, "section header");
		if (sh.sh_type == SHT_RELA || sh.sh_type == SHT_REL)
			rc = scan_rel(im, scn, &sh, s);
		else if (sh.sh_type == SHT_RELR)
			rc = scan_relr(im, &sh, s);
	}
	return rc;
}

/* The descriptor struct from section lm_module: the shared header first,
 * so a descriptor of another ABI is named as such rather than by size. */
static int read_desc_section(const elf_image *im,
			     struct lm_module_desc *raw, const char *ctx)
{
	const GElf_Shdr *sh = &im->desc_sh;
	size_t head = offsetof(struct lm_module_desc, size) + sizeof(raw->size);
	int rc;

	memset(raw, 0, sizeof(*raw));
	if (sh->sh_size < head)
		return lm_error_set(LM_EINVAL,
				    "%s: section %s holds %llu bytes, too few for "
				    "a descriptor",
				    ctx, LM_DESC_SECTION,
				    (unsigned long long)sh->sh_size);
	memcpy(raw, im->buf + sh->sh_offset, head);
	if ((rc = lmd_check_header(raw, ctx)) != 0)
		return rc;
	/* An older ABI's descriptor is a prefix: the rest stays zero. */
	if (sh->sh_size != lmd_desc_size(raw->abi))
		return lm_error_set(LM_EINVAL,
				    "%s: section %s holds %llu bytes, not one "
				    "ABI %u descriptor (%zu)",
				    ctx, LM_DESC_SECTION,
				    (unsigned long long)sh->sh_size, raw->abi,
				    lmd_desc_size(raw->abi));
	memcpy(raw, im->buf + sh->sh_offset, lmd_desc_size(raw->abi));
	return 0;
}

static int read_exports_section(const elf_image *im, lm_descriptor *d,
				const char *ctx)
{
	const GElf_Shdr *sh = &im->exports_sh;
	const size_t esz = sizeof(struct lm_export_desc);
	struct lm_export_desc *v;
	size_t n;
	int rc;

	if (!im->has_exports)
		return 0;
	if (sh->sh_size % esz != 0)
		return lm_error_set(LM_EINVAL,
				    "%s: section %s holds %llu bytes, not a whole "
				    "number of exports (%zu bytes each)",
				    ctx, LM_EXPORT_SECTION,
				    (unsigned long long)sh->sh_size, esz);
	if ((n = (size_t)(sh->sh_size / esz)) == 0)
		return 0;
	/* A copy: the file bytes need not be aligned for the struct. */
	if (!(v = malloc(n * esz)))
		return lmd_oom();
	memcpy(v, im->buf + sh->sh_offset, n * esz);
	rc = lmd_exports_from_raw(d, v, n, ctx);
	free(v);
	return rc;
}

/* Everything after the ELF headers were accepted. */
static int read_image(elf_image *im, lm_descriptor **out)
{
	struct lm_module_desc raw;
	lm_descriptor *d = NULL;
	slots s;
	char *ctx;
	int rc;

	if ((rc = check_ehdr(im)) != 0 || (rc = walk_sections(im)) != 0)
		return rc;
	if (!im->has_desc)
		return lm_error_set(LM_ENODESC,
				    "%s: no %s section: not a livemod module",
				    im->label, LM_DESC_SECTION);
	if (!(ctx = lmd_field_label(im->label)))
		return lmd_oom();
	rc = read_desc_section(im, &raw, ctx);
	if (rc == 0)
		rc = lmd_desc_from_raw(&d, &raw, ctx);
	if (rc == 0) {
		slots_init(&s, im->desc_sh.sh_addr);
		rc = relocated_slots(im, &s);
		/* A slot already holding a value needs no relocation
		 * (SHT_REL keeps its addend there; prelinked objects). */
		if (raw.abi < 2) /* no such slots: whatever follows */
			s.found &= LM_CB_ABI1;
		d->callbacks = s.found | lmd_callbacks_set(&raw);
	}
	if (rc == 0)
		rc = read_exports_section(im, d, ctx);
	rc = lmd_finish(out, d, rc, ctx);
	free(ctx);
	return rc;
}

/* Reads from `buf`, which libelf may use in place (it wants it writable). */
static int read_owned(lm_descriptor **out, char *buf, size_t len,
		      const char *label)
{
	elf_image im = { .label = label, .buf = (unsigned char *)buf,
			 .len = len };
	int rc;

	if ((rc = lm_elf_load()) < 0)
		return lm_error_wrap("%s", label);
	pthread_once(&elf_once, elf_init);
	if (!elf_ready)
		return lm_error_set(LM_ERROR, "%s: libelf: %s", label,
				    lm_elf.elf_errmsg(-1));
	if (!(im.elf = lm_elf.elf_memory(buf, len)))
		return corrupt(&im, "ELF header");
	rc = read_image(&im, out);
	lm_elf.elf_end(im.elf);
	return rc;
}

int lm_descriptor_read_mem(lm_descriptor **out, const void *buf, size_t len,
			   const char *label)
{
	char *copy;
	int rc;

	assert(out && label && (buf || len == 0));
	*out = NULL;
	if ((rc = check_ident(buf, len, label)) != 0)
		return rc;
	if (len > MAX_OBJECT_SIZE)
		return lm_error_set(LM_EINVAL, "%s: %zu bytes, too large for a "
				    "module", label, len);
	/* libelf wants writable, aligned memory; the caller's is neither
	 * promised. */
	if (!(copy = malloc(len)))
		return lmd_oom();
	memcpy(copy, buf, len);
	rc = read_owned(out, copy, len, label);
	free(copy);
	return rc;
}

/* The whole regular file at `path` in a malloc'ed buffer. */
static int slurp(const char *path, char **buf, size_t *len)
{
	struct stat st;
	size_t got = 0;
	char *p = NULL;
	int fd, rc = 0;

	*buf = NULL;
	*len = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return lm_error_set(LM_ERROR, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0)
		rc = lm_error_set(LM_ERROR, "%s: %s", path, strerror(errno));
	else if (!S_ISREG(st.st_mode))
		rc = lm_error_set(LM_EINVAL, "%s: not a regular file", path);
	else if ((uint64_t)st.st_size > MAX_OBJECT_SIZE)
		rc = lm_error_set(LM_EINVAL, "%s: %lld bytes, too large for a "
				  "module", path, (long long)st.st_size);
	else if (!(p = malloc((size_t)st.st_size + 1)))
		rc = lmd_oom();
	while (rc == 0 && got < (size_t)st.st_size) {
		ssize_t n = read(fd, p + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			rc = lm_error_set(LM_ERROR, "%s: %s", path,
					  strerror(errno));
		if (n <= 0)
			break; /* a file that shrank is read as it is now */
		got += (size_t)n;
	}
	close(fd);
	if (rc != 0) {
		free(p);
		return rc;
	}
	*buf = p;
	*len = got;
	return 0;
}

int lm_descriptor_read_file(lm_descriptor **out, const char *path)
{
	char *buf;
	size_t len;
	int rc;

	assert(out && path);
	*out = NULL;
	if ((rc = slurp(path, &buf, &len)) != 0)
		return rc;
	rc = check_ident((unsigned char *)buf, len, path);
	if (rc == 0)
		rc = read_owned(out, buf, len, path);
	free(buf);
	return rc;
}
