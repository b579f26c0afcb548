/* fuzz_http_req.c — libFuzzer target: the HTTP request-head parser, whole and in chunks. */
#include "metrics/http_req.h"
#include "common/limits.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Results must point inside the input and describe a head within the limit. */
static void check_result(const http_req *r, http_req_status st, const char *d, size_t len,
                         size_t max)
{
    if (st != HTTP_REQ_DONE) return;
    if (r->head_len == 0 || r->head_len > len || r->head_len > max) abort();
    if (r->method < d || r->method + r->method_len > d + r->head_len) abort();
    if (r->method_len == 0 || r->method_len > HTTP_REQ_MAX_METHOD) abort();
    bool static_path = r->path_len == 1 && r->path[0] == '/'; /* "http://host" */
    if (!static_path && (r->path < d || r->path + r->path_len > d + r->head_len)) abort();
    if (r->query && (r->query < d || r->query + r->query_len > d + r->head_len)) abort();
}

/* First byte: the head limit (small, to reach TOO_BIG) and the chunking seed. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    size_t max = data[0] & 0x80 ? (size_t)(data[0] & 0x7f) + 1 : HALO_MAX_HTTP_REQUEST;
    unsigned seed = data[1];
    const char *d = (const char *)data + 2;
    size_t len = size - 2;

    http_req whole;
    http_req_init(&whole);
    http_req_status st_whole = http_req_parse(&whole, d, len, max);
    check_result(&whole, st_whole, d, len, max);

    /* Same bytes arriving in pieces must give the same answer. */
    http_req part;
    http_req_init(&part);
    http_req_status st = HTTP_REQ_AGAIN;
    size_t have = 0;
    while (have < len && st == HTTP_REQ_AGAIN) {
        seed = seed * 1103515245u + 12345u;
        size_t step = 1 + (seed >> 16) % 17;
        have = have + step > len ? len : have + step;
        st = http_req_parse(&part, d, have, max);
    }
    if (st != st_whole) abort();
    if (st == HTTP_REQ_DONE && (part.head_len != whole.head_len ||
                                part.path_len != whole.path_len ||
                                part.method_len != whole.method_len))
        abort();
    return 0;
}
