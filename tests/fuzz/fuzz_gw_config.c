/* fuzz_gw_config.c — libFuzzer target for the `halo gw` YAML config loader: any
 * bytes either load or fail with a file:line:col message, never crash, leak,
 * hang or blow up memory (aliases, deep nesting, huge lists). */
#include "common/buf.h"
#include "gw/gw_config.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    buf err;
    buf_init(&err);
    gw_config *cfg = gw_config_parse((const char *)data, size, "fuzz.yaml", &err);
    if (cfg) {
        /* A loaded config is usable: routes resolve, matching takes any bytes. */
        for (int i = 0; i < cfg->nroutes; i++)
            if (cfg->routes[i].cluster < 0 || cfg->routes[i].cluster >= cfg->nclusters)
                __builtin_trap();
        size_t half = size / 2;
        (void)gw_config_match_route(cfg, (const char *)data, half, (const char *)data + half,
                                    size - half);
        (void)gw_config_match_route(cfg, NULL, 0, (const char *)data, size);
    } else if (err.len < 10 || memcmp(err.data, "fuzz.yaml:", 10) != 0) {
        __builtin_trap(); /* every failure names the file */
    }
    gw_config_free(cfg);
    buf_free(&err);

    char s[64]; /* a short NUL-terminated copy for the duration parser */
    size_t n = size < sizeof(s) - 1 ? size : sizeof(s) - 1;
    memcpy(s, data, n);
    s[n] = '\0';
    int64_t ms;
    (void)gw_parse_duration_ms(s, &ms);
    return 0;
}
