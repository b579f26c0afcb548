/* fuzz_admin_req.c — libFuzzer target: admin/metrics request parsing, whole and in chunks. */
#include "metrics/admin_req.h"
#include "common/limits.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A result must be one admin_req_feed promises. */
static void check_result(const admin_req *r, int st)
{
    if (r->nread > r->max_bytes) abort();
    if (st == ADMIN_REQ_AGAIN || st == 400 || st == 413 || st == 414 || st == 431) return;
    if (st != ADMIN_REQ_DONE) abort();
    if (r->path_len > ADMIN_REQ_MAX_URL) abort();
    bool in_url = r->path >= r->url && r->path + r->path_len <= r->url + r->url_len;
    if (!in_url && !(r->path_len == 1 && r->path[0] == '/')) abort(); /* "http://host" */
    if (memchr(r->path, '?', r->path_len)) abort();
}

/* First byte: the request limit (small, to reach 413/431) and the chunking
 * seed's low bits; second: the seed. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    size_t max = data[0] & 0x80 ? (size_t)(data[0] & 0x7f) + 1 : HALO_MAX_HTTP_REQUEST;
    unsigned seed = data[1];
    const char *d = (const char *)data + 2;
    size_t len = size - 2;

    admin_req whole;
    admin_req_init(&whole, max);
    int st_whole = admin_req_feed(&whole, d, len);
    check_result(&whole, st_whole);

    /* The same bytes in pieces: the same outcome. (Which error a request that
     * breaks two rules gets, say a long and invalid target, may differ:
     * llhttp reports spans lazily.) */
    admin_req part;
    admin_req_init(&part, max);
    int st = ADMIN_REQ_AGAIN;
    for (size_t have = 0; have < len && st == ADMIN_REQ_AGAIN;) {
        seed = seed * 1103515245u + 12345u;
        size_t step = 1 + (seed >> 16) % 17;
        if (step > len - have) step = len - have;
        st = admin_req_feed(&part, d + have, step);
        have += step;
    }
    check_result(&part, st);
    if ((st == ADMIN_REQ_AGAIN) != (st_whole == ADMIN_REQ_AGAIN)) abort();
    if ((st == ADMIN_REQ_DONE) != (st_whole == ADMIN_REQ_DONE)) abort();
    if (st == ADMIN_REQ_DONE &&
        (part.method != whole.method || part.http_major != whole.http_major ||
         part.path_len != whole.path_len || memcmp(part.path, whole.path, part.path_len) != 0))
        abort();
    return 0;
}
