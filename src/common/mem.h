/* mem.h — the allocator: counts live bytes for maxmemory and lets tests inject failures. */
#ifndef HALO_MEM_H
#define HALO_MEM_H

#include <stddef.h>

/* hmalloc/hrealloc/hcalloc abort with a log line on out-of-memory: a data node
 * that cannot allocate cannot keep its invariants, and a restart plus replica
 * failover is safer than limping on. Callers therefore never see NULL. */
void *hmalloc(size_t size);
void *hcalloc(size_t n, size_t size);
void *hrealloc(void *ptr, size_t size);
void hfree(void *ptr);
char *hstrdup(const char *s);
void *hmemdup(const void *p, size_t len);
/* Usable size of a block from hmalloc (>= what was asked). */
size_t hmem_usable(void *ptr);
/* Bytes currently allocated through this module (usable sizes). */
size_t hmem_used(void);
/* Resident set size of the process in bytes, from /proc/self/statm, 0 if unknown. */
size_t hmem_rss(void);

#endif
