/* scan.h — the SCAN family's shared parts: cursor and option parsing, and one COUNT-bounded step over a dict. */
#ifndef HALO_KV_SCAN_H
#define HALO_KV_SCAN_H

#include "client.h"
#include "../ds/dict.h"

/* The options after the cursor, as Redis's scanGenericCommand reads them. */
typedef struct scan_opts {
    int64_t count;         /* elements one step aims for: 1..HALO_MAX_SCAN_COUNT, default 10 */
    const resp_arg *match; /* MATCH pattern (borrows argv); NULL when absent or "*" */
    const resp_arg *type;  /* TYPE name (SCAN only, borrows argv); NULL when absent */
} scan_opts;

/* How one command reports the nodes a step collects. */
typedef struct scan_spec {
    /* Filter applied after MATCH (SCAN's TYPE and expiry); it may delete the
     * node it rejects, since the walk is over by then. NULL keeps all. */
    bool (*keep)(kv_client *c, dict_node *n, const scan_opts *o);
    /* Reply one kept node as `width` array entries (member; field and value). */
    void (*emit)(kv_client *c, const dict_node *n);
    int width;
} scan_spec;

/* The cursor at argv[i] as Redis's strtoul reads it: optional sign (a
 * negative value wraps), decimal digits, stopping at the end or a NUL byte;
 * "" is 0. Leading space, other trailing bytes or overflow reply
 * "ERR invalid cursor" and return false. */
bool scan_arg_cursor(kv_client *c, int i, uint64_t *cursor);

/* MATCH and COUNT pairs (and TYPE when with_type) from argv[first..];
 * replies the Redis error and returns false on anything else. */
bool scan_parse_opts(kv_client *c, int first, bool with_type, scan_opts *o);

/* Reply [next-cursor, [elements]] for one step from cursor over d: buckets
 * are visited until COUNT nodes are collected or 10 * COUNT buckets were
 * seen, so one call's work is bounded by COUNT. The filters run after the
 * walk, so dict_scan never sees the dict change. */
void scan_reply(kv_client *c, dict *d, uint64_t cursor, const scan_opts *o, const scan_spec *spec);

/* HSCAN/SSCAN/ZSCAN key cursor [MATCH p] [COUNT n] once the key is looked
 * up: d is the value's dict, NULL for a missing key, which answers an empty
 * scan before the options are parsed, as Redis does. */
void scan_value(kv_client *c, dict *d, uint64_t cursor, const scan_spec *spec);

#endif
