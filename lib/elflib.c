/*
 * elflib.c - libelf, opened at first use; see elflib.h. The soname
 * (LM_ELF_SONAME) is the Makefile's, read from the library the
 * headers belong to.
 */
#include "elflib.h"

#include <pthread.h>

#include "error.h"

#define LM_LAZY_VAR lm_elf
LM_LAZY_DEFINE(lm_elf_table, lm_elf, lm_elf_load, LM_ELF_SONAME, LM_ELF_FUNCTIONS)
