/*
 * elfinfo.c - reads from a module's ELF file what makes glibc keep it
 * mapped after dlclose: STB_GNU_UNIQUE symbols (the object becomes
 * NODELETE), DF_1_NODELETE, and a TLS segment (pending thread_local
 * destructors pin it). Used to warn at stage time and to explain a failed
 * unmap. libelf, as lib/descriptor.c does.
 */
#include "internal.h"

#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsutil.h"

static unsigned scan_sections(Elf *e)
{
	unsigned flags = 0;
	Elf_Scn *scn = NULL;

	while ((scn = elf_nextscn(e, scn)) != NULL) {
		GElf_Shdr sh;
		Elf_Data *d;
		size_t i, n;

		if (!gelf_getshdr(scn, &sh) || !(d = elf_getdata(scn, NULL)) ||
		    !sh.sh_entsize)
			continue;
		n = sh.sh_size / sh.sh_entsize;
		if (sh.sh_type == SHT_DYNSYM) {
			for (i = 0; i < n; i++) {
				GElf_Sym sym;

				if (gelf_getsym(d, (int)i, &sym) &&
				    GELF_ST_BIND(sym.st_info) == STB_GNU_UNIQUE &&
				    sym.st_shndx != SHN_UNDEF)
					flags |= LM_ELF_GNU_UNIQUE;
			}
		} else if (sh.sh_type == SHT_DYNAMIC) {
			for (i = 0; i < n; i++) {
				GElf_Dyn dyn;

				if (gelf_getdyn(d, (int)i, &dyn) &&
				    dyn.d_tag == DT_FLAGS_1 &&
				    (dyn.d_un.d_val & DF_1_NODELETE))
					flags |= LM_ELF_NODELETE;
			}
		}
	}
	return flags;
}

unsigned lm__elf_flags(const char *path)
{
	unsigned flags = 0;
	size_t i, nph, len = 0;
	void *buf = NULL;
	Elf *e;

	if (elf_version(EV_CURRENT) == EV_NONE)
		return 0;
	/* One read of the whole (small) object, parsed in memory: libelf's
	 * ELF_C_READ reads it piece by piece, a pread per header and
	 * section, and ELF_C_READ_MMAP's munmap would cost a TLB shootdown
	 * on every CPU running the host. */
	if (lm_file_read(&buf, &len, path) < 0) {
		lm_error_clear();
		return 0;
	}
	e = elf_memory(buf, len);
	if (e && elf_kind(e) == ELF_K_ELF) {
		if (elf_getphdrnum(e, &nph) == 0)
			for (i = 0; i < nph; i++) {
				GElf_Phdr ph;

				if (gelf_getphdr(e, (int)i, &ph) &&
				    ph.p_type == PT_TLS)
					flags |= LM_ELF_TLS;
			}
		flags |= scan_sections(e);
	}
	if (e)
		elf_end(e);
	free(buf);
	return flags;
}

const char *lm__elf_reasons(unsigned flags, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s%s%s",
		 flags & LM_ELF_GNU_UNIQUE ?
			 "it defines STB_GNU_UNIQUE symbols, which make it "
			 "undeletable (build it with -fno-gnu-unique); " : "",
		 flags & LM_ELF_NODELETE ?
			 "it is marked NODELETE (DF_1_NODELETE, -z nodelete); " :
			 "",
		 flags & LM_ELF_TLS ?
			 "it has thread-local storage, and pending TLS "
			 "destructors keep it mapped until their threads exit; " :
			 "");
	if (*buf)
		buf[strlen(buf) - 2] = '\0';
	return buf;
}
