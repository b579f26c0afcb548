/* mem.c — counting allocator on top of the C library's malloc. */
#include "mem.h"
#include "log.h"

#include <malloc.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static atomic_size_t g_used;

static void oom(size_t size)
{
    log_error("out of memory allocating %zu bytes, aborting", size);
    abort();
}

void *hmalloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (p == NULL) oom(size);
    atomic_fetch_add_explicit(&g_used, malloc_usable_size(p), memory_order_relaxed);
    return p;
}

void *hcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (p == NULL) oom(n * size);
    atomic_fetch_add_explicit(&g_used, malloc_usable_size(p), memory_order_relaxed);
    return p;
}

void *hrealloc(void *ptr, size_t size)
{
    if (ptr == NULL) return hmalloc(size);
    size_t old = malloc_usable_size(ptr);
    void *p = realloc(ptr, size ? size : 1);
    if (p == NULL) oom(size);
    atomic_fetch_sub_explicit(&g_used, old, memory_order_relaxed);
    atomic_fetch_add_explicit(&g_used, malloc_usable_size(p), memory_order_relaxed);
    return p;
}

void hfree(void *ptr)
{
    if (ptr == NULL) return;
    atomic_fetch_sub_explicit(&g_used, malloc_usable_size(ptr), memory_order_relaxed);
    free(ptr);
}

char *hstrdup(const char *s) { return hmemdup(s, strlen(s) + 1); }

void *hmemdup(const void *p, size_t len)
{
    void *d = hmalloc(len);
    if (len) memcpy(d, p, len);
    return d;
}

size_t hmem_usable(void *ptr) { return malloc_usable_size(ptr); }

size_t hmem_used(void) { return atomic_load_explicit(&g_used, memory_order_relaxed); }

size_t hmem_rss(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL) return 0;
    unsigned long size = 0, rss = 0;
    int n = fscanf(f, "%lu %lu", &size, &rss);
    fclose(f);
    if (n != 2) return 0;
    return (size_t)rss * (size_t)sysconf(_SC_PAGESIZE);
}
