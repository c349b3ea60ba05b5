/*
 * elflib.h - the libelf functions lib/descriptor.c calls to read a
 * module's descriptor, opened at the first read rather than linked
 * (lib/lazylib.h): most commands read no object (a warm scan trusts the
 * stat cache). Calls: lm_elf.elf_memory(...) for elf_memory(...).
 */
#ifndef LM_ELFLIB_H
#define LM_ELFLIB_H

#include <gelf.h>
#include <libelf.h>

#include "lazylib.h"

/* Every function livemod calls: X(prefix, name). */
#define LM_ELF_FUNCTIONS(X)                                                 \
	X(, elf_end)                                                        \
	X(, elf_errmsg)                                                     \
	X(, elf_getdata)                                                    \
	X(, elf_getshdrnum)                                                 \
	X(, elf_getshdrstrndx)                                              \
	X(, elf_kind)                                                       \
	X(, elf_memory)                                                     \
	X(, elf_ndxscn)                                                     \
	X(, elf_nextscn)                                                    \
	X(, elf_strptr)                                                     \
	X(, elf_version)                                                    \
	X(, gelf_fsize)                                                     \
	X(, gelf_getehdr)                                                   \
	X(, gelf_getrel)                                                    \
	X(, gelf_getrela)                                                   \
	X(, gelf_getshdr)

LM_LAZY_TABLE(lm_elf_table, lm_elf, lm_elf_load, LM_ELF_FUNCTIONS)

#endif
