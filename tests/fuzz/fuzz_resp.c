/* fuzz_resp.c — libFuzzer target for the RESP command parser: random bytes fed in
 * random-sized chunks must never crash, read out of bounds or loop forever, and
 * every parsed argument must lie inside the input. */
#include "proto/resp.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    /* The first byte picks the chunk size so partial-input paths are covered. */
    size_t chunk = (size_t)(data[0] % 17) + 1;
    data++;
    size--;
    resp_parser p;
    resp_parser_init(&p, 4096);
    const char *buf = (const char *)data;
    size_t start = 0, avail = 0;
    while (start < size) {
        avail = avail + chunk > size - start ? size - start : avail + chunk;
        size_t used = 0;
        int rc = resp_parse(&p, buf + start, avail, &used);
        if (rc == RESP_ERR) break;
        if (used > avail) abort();
        if (rc == RESP_COMMAND) {
            for (size_t i = 0; i < p.argc; i++) {
                const char *a = p.argv[i].ptr;
                bool in_buf = a >= buf + start && a + p.argv[i].len <= buf + start + avail;
                bool in_inline = p.inline_buf && a >= p.inline_buf &&
                                 a + p.argv[i].len <= p.inline_buf + p.inline_cap;
                if (!in_buf && !in_inline) abort();
            }
        }
        start += used;
        avail -= used;
        if (used == 0 && start + avail >= size) break;
    }
    resp_parser_free(&p);
    return 0;
}
