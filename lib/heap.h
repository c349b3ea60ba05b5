/*
 * heap.h - memory taken in one populated piece instead of a page fault at
 * a time: what a one-shot command about to read a large ledger and libdir
 * does first (docs/BENCHMARKS.md, "the warm plan").
 */
#ifndef LM_HEAP_H
#define LM_HEAP_H

#include <stddef.h>

/* Faults in the whole pages of [p, p + len) in one call
 * (MADV_POPULATE_WRITE), contents unchanged: on a VM each page faulted in
 * alone costs ~11 us (docs/planner.md). Best effort: a kernel without the
 * advice leaves the pages to be faulted in as they are touched. */
void lm_populate(void *p, size_t len);

/* Readies malloc's heap for a process about to allocate about `bytes`:
 * populated in one call rather than a page fault at a time. */
void lm_heap_reserve(size_t bytes);

#endif
