/* fuzz_config.c — libFuzzer target for the `halo kv` config file parser: any text
 * either loads or fails with a message, never crashes or leaks. */
#include "common/buf.h"
#include "kv/config.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kv_config cfg;
    config_defaults(&cfg);
    buf err;
    buf_init(&err);
    int rc = config_load_text(&cfg, (const char *)data, size, "fuzz.conf", &err);
    if (rc == 0) config_validate(&cfg, &err);
    buf_free(&err);
    config_free(&cfg);
    return 0;
}
