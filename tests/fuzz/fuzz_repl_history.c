/* fuzz_repl_history.c — libFuzzer target for the replication link's history field
 * ("end:e1@s1,e2@s2"): any bytes must parse or fail cleanly, and whatever parses
 * must format and parse back to the same history. */
#include "common/buf.h"
#include "common/err.h"
#include "repl/repl_node.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *p = malloc(size ? size : 1); /* exact size: ASan catches an overread */
    if (p == NULL) abort();
    if (size) memcpy(p, data, size);
    repl_history a, b;
    int rc = repl_history_parse(p, size, &a);
    if (rc == 0) {
        if (a.n < 0 || a.n > REPL_MAX_HISTORY) abort();
        for (int i = 0; i < a.n; i++) {
            if (a.seg[i].start > a.end) abort();
            if (i > 0 && (a.seg[i].epoch <= a.seg[i - 1].epoch || a.seg[i].start < a.seg[i - 1].start))
                abort();
        }
        buf out;
        buf_init(&out);
        repl_history_format(&a, &out);
        if (repl_history_parse(out.data, out.len, &b) != 0) abort();
        if (b.n != a.n || b.end != a.end || memcmp(a.seg, b.seg, (size_t)a.n * sizeof(a.seg[0])) != 0)
            abort();
        buf_free(&out);
    } else if (rc != -HALO_EPROTO) {
        abort();
    }
    free(p);
    return 0;
}
