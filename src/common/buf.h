/* buf.h — a growable byte buffer for building output (propagation, AOF, HTTP). */
#ifndef HALO_BUF_H
#define HALO_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct buf {
    char *data;
    size_t len, cap;
} buf;

void buf_init(buf *b);
void buf_free(buf *b);
void buf_reserve(buf *b, size_t extra);
void buf_append(buf *b, const void *p, size_t len);
void buf_append_str(buf *b, const char *s);
void buf_printf(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Drop the first n bytes. */
void buf_consume(buf *b, size_t n);
static inline void buf_reset(buf *b) { b->len = 0; }
/* Append a RESP array of bulk strings (a command), as the AOF and replicas take it. */
void buf_append_resp_cmd(buf *b, int argc, const char *const *argv, const size_t *lens);
void buf_append_bulk(buf *b, const char *p, size_t len);
void buf_append_mbulk_len(buf *b, char prefix, int64_t n);

#endif
