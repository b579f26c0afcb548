/* hstr.h — a length-prefixed, NUL-terminated byte string in one allocation. */
#ifndef HALO_HSTR_H
#define HALO_HSTR_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "../common/mem.h"

/* Owned by whoever holds the pointer; free with hstr_free. The NUL after the
 * bytes lets number parsers read it in place; the bytes may contain NULs. */
typedef struct hstr {
    uint32_t len;
    char data[];
} hstr;

static inline hstr *hstr_new(const char *p, size_t len)
{
    hstr *s = hmalloc(sizeof(hstr) + len + 1);
    s->len = (uint32_t)len;
    if (len) memcpy(s->data, p, len);
    s->data[len] = '\0';
    return s;
}

static inline void hstr_free(hstr *s) { hfree(s); }

#endif
