/* scan.c — SCAN/HSCAN/SSCAN/ZSCAN's shared cursor and option parsing and their COUNT-bounded dict walk. */
#include "scan.h"
#include "../common/limits.h"
#include "../common/mem.h"
#include "../common/util.h"

#include <ctype.h>
#include <stdio.h>

/* Redis's parseScanCursorOrReply: strtoul(arg, &end, 10), refused on a
 * leading space, on ERANGE, or unless end sits on the terminating NUL (an
 * embedded NUL byte ends the argument early). strtoul takes an optional
 * sign (a negative value wraps) and, finding no digits, sets end to the
 * argument's start: so "" and a leading NUL read as 0, "-" is refused. */
static bool parse_cursor(const char *s, size_t len, uint64_t *out)
{
    if (len && isspace((unsigned char)s[0])) return false;
    size_t i = len && (s[0] == '+' || s[0] == '-') ? 1 : 0, first = i;
    bool overflow = false;
    uint64_t v = 0;
    for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
        uint64_t d = (uint64_t)(s[i] - '0');
        overflow |= v > (UINT64_MAX - d) / 10;
        v = v * 10 + d;
    }
    *out = len && s[0] == '-' ? 0 - v : v;
    if (i == first) return len == 0 || s[0] == '\0';
    return !overflow && (i == len || s[i] == '\0');
}

bool scan_arg_cursor(kv_client *c, int i, uint64_t *cursor)
{
    if (parse_cursor(c->argv[i].ptr, c->argv[i].len, cursor)) return true;
    reply_error(c, "ERR invalid cursor");
    return false;
}

bool scan_parse_opts(kv_client *c, int first, bool with_type, scan_opts *o)
{
    *o = (scan_opts){.count = 10};
    for (int i = first; i < c->argc; i += 2) {
        if (i + 1 >= c->argc) {
            reply_syntax_error(c);
            return false;
        }
        if (arg_is(c, i, "count")) {
            if (!arg_i64(c, i + 1, &o->count)) return false;
            if (o->count < 1) {
                reply_syntax_error(c);
                return false;
            }
        } else if (arg_is(c, i, "match")) {
            o->match = &c->argv[i + 1];
        } else if (with_type && arg_is(c, i, "type")) {
            o->type = &c->argv[i + 1];
        } else {
            reply_syntax_error(c);
            return false;
        }
    }
    if (o->count > HALO_MAX_SCAN_COUNT) o->count = HALO_MAX_SCAN_COUNT;
    if (o->match && o->match->len == 1 && o->match->ptr[0] == '*') o->match = NULL;
    return true;
}

/* The nodes one step collects; grows with what the buckets hold. */
typedef struct scan_batch {
    dict_node **v;
    size_t n, cap;
} scan_batch;

static void collect(dict_node *n, void *priv)
{
    scan_batch *b = priv;
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 16;
        b->v = hrealloc(b->v, b->cap * sizeof(*b->v));
    }
    b->v[b->n++] = n;
}

/* Whether a collected node is reported: MATCH on its key, then spec->keep. */
static bool keep_node(kv_client *c, dict *d, dict_node *n, const scan_opts *o, const scan_spec *spec)
{
    size_t len;
    const char *key = d->type->key(n, &len);
    if (o->match && !glob_match(o->match->ptr, o->match->len, key, len, false)) return false;
    return spec->keep == NULL || spec->keep(c, n, o);
}

void scan_reply(kv_client *c, dict *d, uint64_t cursor, const scan_opts *o, const scan_spec *spec)
{
    scan_batch b = {NULL, 0, 0};
    int64_t buckets = o->count * 10;
    do {
        cursor = dict_scan(d, cursor, collect, &b);
    } while (cursor && buckets-- && b.n < (size_t)o->count);
    size_t kept = 0;
    for (size_t i = 0; i < b.n; i++)
        if (keep_node(c, d, b.v[i], o, spec)) b.v[kept++] = b.v[i];
    char num[24];
    int len = snprintf(num, sizeof(num), "%llu", (unsigned long long)cursor);
    reply_array(c, 2);
    reply_bulk(c, num, (size_t)len);
    reply_array(c, (int64_t)kept * spec->width);
    for (size_t i = 0; i < kept; i++) spec->emit(c, b.v[i]);
    hfree(b.v);
}

void scan_value(kv_client *c, dict *d, uint64_t cursor, const scan_spec *spec)
{
    scan_opts o;
    if (d == NULL) {
        reply_array(c, 2);
        reply_bulk(c, "0", 1);
        reply_array(c, 0);
    } else if (scan_parse_opts(c, 3, false, &o)) {
        scan_reply(c, d, cursor, &o, spec);
    }
}
