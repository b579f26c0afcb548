/* fuzz_coord_json.c — libFuzzer target for the coordinator's JSON documents: any bytes
 * must parse or fail cleanly (with a reason), and whatever parses must encode
 * and parse back to the same value. */
#include "common/err.h"
#include "coord/coord_json.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The parsers must never read past len: copy into an exact-size heap block so
 * AddressSanitizer catches any overread. */
static char *exact_copy(const uint8_t *data, size_t size)
{
    char *p = malloc(size ? size : 1);
    if (p == NULL) abort();
    if (size) memcpy(p, data, size);
    return p;
}

static void check_failure(int rc, const char *why)
{
    if (rc != -HALO_EPROTO && rc != -HALO_ETOOBIG) abort();
    if (why == NULL) abort();
}

static void fuzz_config(const char *doc, size_t len)
{
    coord_config a, b;
    const char *why = NULL;
    int rc = coord_config_parse(doc, len, &a, &why);
    if (rc != 0) {
        check_failure(rc, why);
        return;
    }
    char buf[COORD_DOC_MAX];
    int n = coord_config_encode(&a, buf, sizeof(buf), &why);
    if (n <= 0 || coord_config_parse(buf, (size_t)n, &b, &why) != 0) abort();
    if (!coord_config_equal(&a, &b)) abort();
}

static void fuzz_node(const char *doc, size_t len)
{
    coord_node_info a, b;
    const char *why = NULL;
    int rc = coord_node_parse(doc, len, &a, &why);
    if (rc != 0) {
        check_failure(rc, why);
        return;
    }
    char buf[COORD_DOC_MAX];
    int n = coord_node_encode(&a, buf, sizeof(buf), &why);
    if (n <= 0 || coord_node_parse(buf, (size_t)n, &b, &why) != 0) abort();
    if (!coord_node_equal(&a, &b)) abort();
}

static void fuzz_primary(const char *doc, size_t len)
{
    coord_primary_info a, b;
    const char *why = NULL;
    int rc = coord_primary_parse(doc, len, &a, &why);
    if (rc != 0) {
        check_failure(rc, why);
        return;
    }
    char buf[COORD_DOC_MAX];
    int n = coord_primary_encode(&a, buf, sizeof(buf), &why);
    if (n <= 0 || coord_primary_parse(buf, (size_t)n, &b, &why) != 0) abort();
    if (!coord_primary_equal(&a, &b)) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    /* The first byte picks the document kind. */
    int kind = data[0] % 3;
    char *doc = exact_copy(data + 1, size - 1);
    if (kind == 0)
        fuzz_config(doc, size - 1);
    else if (kind == 1)
        fuzz_node(doc, size - 1);
    else
        fuzz_primary(doc, size - 1);
    free(doc);
    return 0;
}
