/* coord_json.c — strict, bounded encoder and parser for the coordinator's JSON documents. */
#include "coord/coord_json.h"
#include "common/err.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* ---- reading ------------------------------------------------------------ */

typedef struct jp {
    const char *p, *end;
    const char *why; /* first problem found, static */
} jp;

static bool jp_fail(jp *j, const char *why)
{
    if (j->why == NULL) j->why = why;
    return false;
}

static void jp_ws(jp *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

/* Skips whitespace and consumes c if it comes next. */
static bool jp_eat(jp *j, char c)
{
    jp_ws(j);
    if (j->p < j->end && *j->p == c) {
        j->p++;
        return true;
    }
    return false;
}

static bool jp_expect(jp *j, char c, const char *why)
{
    return jp_eat(j, c) || jp_fail(j, why);
}

static bool jp_word(jp *j, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(j->end - j->p) < n || memcmp(j->p, w, n) != 0) return false;
    j->p += n;
    return true;
}

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* One escape after a backslash (j->p is past the backslash). */
static bool jp_escape(jp *j)
{
    if (j->p >= j->end) return jp_fail(j, "unterminated string");
    char c = *j->p++;
    if (strchr("\"\\/bfnrt", c) != NULL) return true;
    if (c != 'u') return jp_fail(j, "bad escape sequence");
    for (int i = 0; i < 4; i++, j->p++)
        if (j->p >= j->end || !is_hex(*j->p)) return jp_fail(j, "bad \\u escape");
    return true;
}

/* A string token, whitespace skipped first. On success (*s, *len) give the raw
 * bytes between the quotes and *escaped whether any backslash occurred. */
static bool jp_string(jp *j, const char **s, size_t *len, bool *escaped)
{
    jp_ws(j);
    if (j->p >= j->end || *j->p != '"') return jp_fail(j, "expected a string");
    const char *start = ++j->p;
    *escaped = false;
    while (j->p < j->end) {
        unsigned char c = (unsigned char)*j->p;
        if (c == '"') {
            *s = start;
            *len = (size_t)(j->p - start);
            j->p++;
            return true;
        }
        if (c < 0x20) return jp_fail(j, "control character in string");
        j->p++;
        if (c == '\\') {
            *escaped = true;
            if (!jp_escape(j)) return false;
        }
    }
    return jp_fail(j, "unterminated string");
}

/* Unsigned decimal integer: no sign, no leading zero, no fraction, fits 64 bits. */
static bool jp_u64(jp *j, uint64_t *out)
{
    jp_ws(j);
    if (j->p >= j->end || *j->p < '0' || *j->p > '9') return jp_fail(j, "expected an integer");
    if (*j->p == '0' && j->p + 1 < j->end && j->p[1] >= '0' && j->p[1] <= '9')
        return jp_fail(j, "leading zero in integer");
    uint64_t v = 0;
    while (j->p < j->end && *j->p >= '0' && *j->p <= '9') {
        unsigned d = (unsigned)(*j->p++ - '0');
        if (v > (UINT64_MAX - d) / 10) return jp_fail(j, "integer out of range");
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

static bool jp_digits(jp *j)
{
    const char *start = j->p;
    while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
        j->p++;
    return j->p > start || jp_fail(j, "bad number");
}

/* Any JSON number, for skipping: -?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)? */
static bool jp_skip_number(jp *j)
{
    if (j->p < j->end && *j->p == '-') j->p++;
    if (j->p < j->end && *j->p == '0')
        j->p++;
    else if (!jp_digits(j))
        return false;
    if (j->p < j->end && *j->p == '.') {
        j->p++;
        if (!jp_digits(j)) return false;
    }
    if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
        j->p++;
        if (j->p < j->end && (*j->p == '+' || *j->p == '-')) j->p++;
        if (!jp_digits(j)) return false;
    }
    return true;
}

static bool jp_skip_value(jp *j, int depth);

/* Array or object body after its opening bracket; depth already counted. */
static bool jp_skip_container(jp *j, char close, int depth)
{
    if (jp_eat(j, close)) return true;
    do {
        if (close == '}') {
            const char *s;
            size_t n;
            bool esc;
            if (!jp_string(j, &s, &n, &esc) || !jp_expect(j, ':', "expected ':'")) return false;
        }
        if (!jp_skip_value(j, depth)) return false;
    } while (jp_eat(j, ','));
    return jp_expect(j, close, close == '}' ? "expected ',' or '}'" : "expected ',' or ']'");
}

static bool jp_skip_value(jp *j, int depth)
{
    jp_ws(j);
    if (j->p >= j->end) return jp_fail(j, "expected a value");
    const char *s;
    size_t n;
    bool esc;
    switch (*j->p) {
    case '"':
        return jp_string(j, &s, &n, &esc);
    case '{':
    case '[':
        if (depth >= COORD_JSON_MAX_DEPTH) return jp_fail(j, "nesting too deep");
        return jp_skip_container(j, *j->p++ == '{' ? '}' : ']', depth + 1);
    case 't':
        return jp_word(j, "true") || jp_fail(j, "bad literal");
    case 'f':
        return jp_word(j, "false") || jp_fail(j, "bad literal");
    case 'n':
        return jp_word(j, "null") || jp_fail(j, "bad literal");
    default:
        return jp_skip_number(j);
    }
}

/* ---- fields --------------------------------------------------------------- */

bool coord_id_valid(const char *s, size_t len)
{
    if (len < 1 || len > COORD_ID_MAX) return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '.' || c == '-';
        if (!ok) return false;
    }
    return true;
}

static bool port_valid(const char *s, size_t len)
{
    if (len < 1 || len > 5 || s[0] == '0') return false;
    unsigned v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    return v <= 65535;
}

static bool host_chars(const char *s, size_t len, const char *extra)
{
    if (len == 0) return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  (c != '\0' && strchr(extra, c) != NULL);
        if (!ok) return false;
    }
    return true;
}

bool coord_addr_valid(const char *s, size_t len)
{
    if (len < 3 || len > COORD_ADDR_MAX) return false;
    const char *colon = NULL;
    for (size_t i = len; i-- > 0;)
        if (s[i] == ':') {
            colon = s + i;
            break;
        }
    if (colon == NULL || !port_valid(colon + 1, (size_t)(s + len - colon - 1))) return false;
    size_t hlen = (size_t)(colon - s);
    if (hlen >= 2 && s[0] == '[' && s[hlen - 1] == ']')
        return host_chars(s + 1, hlen - 2, ":.") && memchr(s + 1, ':', hlen - 2) != NULL;
    return host_chars(s, hlen, ".-");
}

bool coord_id_in(const coord_id *ids, unsigned n, const char *id)
{
    for (unsigned i = 0; i < n; i++)
        if (strcmp(ids[i], id) == 0) return true;
    return false;
}

typedef enum { F_U64, F_ID, F_ID_OR_NULL, F_ADDR, F_ID_LIST } ftype;

typedef struct field {
    const char *key;
    ftype type;
    bool required;
    size_t off;       /* of the value in the output struct */
    size_t count_off; /* F_ID_LIST: of its unsigned count */
} field;

/* A string field without escapes, copied NUL-terminated into dst[0..cap). */
static bool jp_plain_string(jp *j, char *dst, size_t cap, bool (*valid)(const char *, size_t),
                            const char *why)
{
    const char *s;
    size_t n;
    bool esc;
    if (!jp_string(j, &s, &n, &esc)) return false;
    if (esc || n >= cap || !valid(s, n)) return jp_fail(j, why);
    memcpy(dst, s, n);
    dst[n] = '\0';
    return true;
}

static bool jp_id_list(jp *j, coord_id *ids, unsigned *count)
{
    *count = 0;
    if (!jp_expect(j, '[', "expected '['")) return false;
    if (jp_eat(j, ']')) return true;
    do {
        if (*count == COORD_MAX_MEMBERS) return jp_fail(j, "too many ids in list");
        if (!jp_plain_string(j, ids[*count], sizeof(coord_id), coord_id_valid, "bad id in list"))
            return false;
        (*count)++;
    } while (jp_eat(j, ','));
    return jp_expect(j, ']', "expected ',' or ']'");
}

static bool jp_field(jp *j, const field *f, char *out)
{
    switch (f->type) {
    case F_U64:
        return jp_u64(j, (uint64_t *)(void *)(out + f->off));
    case F_ID_OR_NULL:
        jp_ws(j);
        if (jp_word(j, "null")) {
            out[f->off] = '\0';
            return true;
        }
        /* fall through */
    case F_ID:
        return jp_plain_string(j, out + f->off, sizeof(coord_id), coord_id_valid,
                               "bad id (want [A-Za-z0-9_.-]{1,64})");
    case F_ADDR:
        return jp_plain_string(j, out + f->off, COORD_ADDR_MAX + 1, coord_addr_valid,
                               "bad address (want host:port)");
    case F_ID_LIST:
        return jp_id_list(j, (coord_id *)(void *)(out + f->off),
                          (unsigned *)(void *)(out + f->count_off));
    }
    return jp_fail(j, "internal: unknown field type");
}

static const field *find_field(const field *fields, size_t nf, const char *key, size_t len,
                               size_t *idx)
{
    for (size_t i = 0; i < nf; i++)
        if (strlen(fields[i].key) == len && memcmp(fields[i].key, key, len) == 0) {
            *idx = i;
            return &fields[i];
        }
    return NULL;
}

/* One member "key": value of the top-level object. */
static bool jp_member(jp *j, const field *fields, size_t nf, bool ignore_unknown, char *out,
                      uint32_t *seen)
{
    const char *key;
    size_t klen, idx = 0;
    bool esc;
    if (!jp_string(j, &key, &klen, &esc) || !jp_expect(j, ':', "expected ':'")) return false;
    const field *f = esc ? NULL : find_field(fields, nf, key, klen, &idx);
    if (f == NULL) return ignore_unknown ? jp_skip_value(j, 0) : jp_fail(j, "unknown key");
    if (*seen & (1u << idx)) return jp_fail(j, "duplicate key");
    *seen |= 1u << idx;
    return jp_field(j, f, out);
}

static int parse_doc(const char *doc, size_t len, const field *fields, size_t nf,
                     bool ignore_unknown, void *outp, const char **why)
{
    jp j = {doc, doc + len, NULL};
    char *out = outp;
    uint32_t seen = 0;
    if (len > COORD_DOC_MAX) {
        if (why) *why = "document too large";
        return -HALO_ETOOBIG;
    }
    if (memchr(doc, '\0', len) != NULL)
        jp_fail(&j, "NUL byte in document");
    else if (jp_expect(&j, '{', "expected '{'") && !jp_eat(&j, '}')) {
        do {
            if (!jp_member(&j, fields, nf, ignore_unknown, out, &seen)) break;
        } while (jp_eat(&j, ','));
        if (j.why == NULL) jp_expect(&j, '}', "expected ',' or '}'");
    }
    if (j.why == NULL) {
        jp_ws(&j);
        if (j.p != j.end) jp_fail(&j, "trailing bytes after the document");
    }
    for (size_t i = 0; j.why == NULL && i < nf; i++)
        if (fields[i].required && !(seen & (1u << i))) jp_fail(&j, "missing key");
    if (why) *why = j.why;
    return j.why ? -HALO_EPROTO : 0;
}

/* ---- validation ----------------------------------------------------------- */

static int invalid(const char **why, const char *msg)
{
    if (why) *why = msg;
    return -HALO_EINVAL;
}

/* ids[0..n) valid and distinct. */
static bool ids_ok(const coord_id *ids, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        size_t len = strnlen(ids[i], sizeof(coord_id));
        if (len == sizeof(coord_id) || !coord_id_valid(ids[i], len)) return false;
        for (unsigned k = 0; k < i; k++)
            if (strcmp(ids[i], ids[k]) == 0) return false;
    }
    return true;
}

int coord_config_validate(const coord_config *cfg, const char **why)
{
    if (cfg->n_members < 1 || cfg->n_members > COORD_MAX_MEMBERS)
        return invalid(why, "members: need 1..16");
    if (cfg->n_isr > cfg->n_members) return invalid(why, "isr: larger than members");
    if (!ids_ok(cfg->members, cfg->n_members)) return invalid(why, "members: bad or repeated id");
    if (!ids_ok(cfg->isr, cfg->n_isr)) return invalid(why, "isr: bad or repeated id");
    for (unsigned i = 0; i < cfg->n_isr; i++)
        if (!coord_id_in(cfg->members, cfg->n_members, cfg->isr[i]))
            return invalid(why, "isr: not a member");
    size_t plen = strnlen(cfg->primary, sizeof(coord_id));
    if (plen == sizeof(coord_id)) return invalid(why, "primary: bad id");
    if (plen > 0 && !coord_id_in(cfg->isr, cfg->n_isr, cfg->primary))
        return invalid(why, "primary: not in isr");
    return 0;
}

static bool str_field_ok(const char *s, size_t cap, bool (*valid)(const char *, size_t),
                         bool optional)
{
    size_t len = strnlen(s, cap);
    if (len == cap) return false;
    return (optional && len == 0) || valid(s, len);
}

int coord_node_validate(const coord_node_info *info, const char **why)
{
    if (!str_field_ok(info->addr, sizeof(info->addr), coord_addr_valid, false))
        return invalid(why, "addr: want host:port");
    if (!str_field_ok(info->repl, sizeof(info->repl), coord_addr_valid, true))
        return invalid(why, "repl: want host:port");
    if (!str_field_ok(info->zone, sizeof(info->zone), coord_id_valid, true))
        return invalid(why, "zone: bad id");
    return 0;
}

int coord_primary_validate(const coord_primary_info *p, const char **why)
{
    if (!str_field_ok(p->node, sizeof(p->node), coord_id_valid, false))
        return invalid(why, "node: bad id");
    return 0;
}

/* ---- the three documents ------------------------------------------------ */

#define FLD(type_, key_, ft, req, member)                                                          \
    {                                                                                              \
        key_, ft, req, offsetof(type_, member), 0                                                  \
    }

static const field config_fields[] = {
    FLD(coord_config, "epoch", F_U64, true, epoch),
    FLD(coord_config, "primary", F_ID_OR_NULL, true, primary),
    {"isr", F_ID_LIST, true, offsetof(coord_config, isr), offsetof(coord_config, n_isr)},
    {"members", F_ID_LIST, true, offsetof(coord_config, members),
     offsetof(coord_config, n_members)},
};

static const field node_fields[] = {
    FLD(coord_node_info, "addr", F_ADDR, true, addr),
    FLD(coord_node_info, "repl", F_ADDR, false, repl),
    FLD(coord_node_info, "zone", F_ID, false, zone),
};

static const field primary_fields[] = {
    FLD(coord_primary_info, "node", F_ID, true, node),
    FLD(coord_primary_info, "epoch", F_U64, true, epoch),
};

#define NFIELDS(a) (sizeof(a) / sizeof((a)[0]))

int coord_config_parse(const char *doc, size_t len, coord_config *out, const char **why)
{
    memset(out, 0, sizeof(*out));
    int rc = parse_doc(doc, len, config_fields, NFIELDS(config_fields), false, out, why);
    if (rc == 0 && coord_config_validate(out, why) != 0) rc = -HALO_EPROTO;
    return rc;
}

int coord_node_parse(const char *doc, size_t len, coord_node_info *out, const char **why)
{
    memset(out, 0, sizeof(*out));
    int rc = parse_doc(doc, len, node_fields, NFIELDS(node_fields), true, out, why);
    if (rc == 0 && coord_node_validate(out, why) != 0) rc = -HALO_EPROTO;
    return rc;
}

int coord_primary_parse(const char *doc, size_t len, coord_primary_info *out, const char **why)
{
    memset(out, 0, sizeof(*out));
    int rc = parse_doc(doc, len, primary_fields, NFIELDS(primary_fields), true, out, why);
    if (rc == 0 && coord_primary_validate(out, why) != 0) rc = -HALO_EPROTO;
    return rc;
}

/* ---- writing -------------------------------------------------------------- */

typedef struct jw {
    char *buf;
    size_t cap, len;
    bool over;
} jw;

static void jw_put(jw *w, const char *s, size_t n)
{
    if (w->over || n > w->cap - w->len) {
        w->over = true;
        return;
    }
    memcpy(w->buf + w->len, s, n);
    w->len += n;
}

static void jw_lit(jw *w, const char *s)
{
    jw_put(w, s, strlen(s));
}

/* Values we write never need escaping: validation limited their alphabets. */
static void jw_str(jw *w, const char *s)
{
    jw_lit(w, "\"");
    jw_lit(w, s);
    jw_lit(w, "\"");
}

static void jw_u64(jw *w, uint64_t v)
{
    char num[24];
    int n = snprintf(num, sizeof(num), "%" PRIu64, v);
    jw_put(w, num, (size_t)n);
}

static void jw_ids(jw *w, const coord_id *ids, unsigned n)
{
    jw_lit(w, "[");
    for (unsigned i = 0; i < n; i++) {
        if (i) jw_lit(w, ",");
        jw_str(w, ids[i]);
    }
    jw_lit(w, "]");
}

static int jw_done(jw *w, const char **why)
{
    if (w->over) {
        if (why) *why = "buffer too small";
        return -HALO_ETOOBIG;
    }
    return (int)w->len;
}

_Static_assert(COORD_DOC_MAX >= 64 + 2 * COORD_MAX_MEMBERS * (COORD_ID_MAX + 3) + COORD_ID_MAX,
               "COORD_DOC_MAX must hold the largest valid config");
_Static_assert(COORD_DOC_MAX >= 64 + 2 * COORD_ADDR_MAX + COORD_ID_MAX,
               "COORD_DOC_MAX must hold the largest node document");

int coord_config_encode(const coord_config *cfg, char *buf, size_t cap, const char **why)
{
    int rc = coord_config_validate(cfg, why);
    if (rc) return rc;
    jw w = {buf, cap, 0, false};
    jw_lit(&w, "{\"epoch\":");
    jw_u64(&w, cfg->epoch);
    jw_lit(&w, ",\"primary\":");
    if (cfg->primary[0])
        jw_str(&w, cfg->primary);
    else
        jw_lit(&w, "null");
    jw_lit(&w, ",\"isr\":");
    jw_ids(&w, cfg->isr, cfg->n_isr);
    jw_lit(&w, ",\"members\":");
    jw_ids(&w, cfg->members, cfg->n_members);
    jw_lit(&w, "}");
    return jw_done(&w, why);
}

int coord_node_encode(const coord_node_info *info, char *buf, size_t cap, const char **why)
{
    int rc = coord_node_validate(info, why);
    if (rc) return rc;
    jw w = {buf, cap, 0, false};
    jw_lit(&w, "{\"addr\":");
    jw_str(&w, info->addr);
    if (info->repl[0]) {
        jw_lit(&w, ",\"repl\":");
        jw_str(&w, info->repl);
    }
    if (info->zone[0]) {
        jw_lit(&w, ",\"zone\":");
        jw_str(&w, info->zone);
    }
    jw_lit(&w, "}");
    return jw_done(&w, why);
}

int coord_primary_encode(const coord_primary_info *p, char *buf, size_t cap, const char **why)
{
    int rc = coord_primary_validate(p, why);
    if (rc) return rc;
    jw w = {buf, cap, 0, false};
    jw_lit(&w, "{\"node\":");
    jw_str(&w, p->node);
    jw_lit(&w, ",\"epoch\":");
    jw_u64(&w, p->epoch);
    jw_lit(&w, "}");
    return jw_done(&w, why);
}

/* ---- equality ------------------------------------------------------------- */

static bool ids_equal(const coord_id *a, unsigned na, const coord_id *b, unsigned nb)
{
    if (na != nb) return false;
    for (unsigned i = 0; i < na; i++)
        if (strcmp(a[i], b[i]) != 0) return false;
    return true;
}

bool coord_config_equal(const coord_config *a, const coord_config *b)
{
    return a->epoch == b->epoch && strcmp(a->primary, b->primary) == 0 &&
           ids_equal(a->isr, a->n_isr, b->isr, b->n_isr) &&
           ids_equal(a->members, a->n_members, b->members, b->n_members);
}

bool coord_node_equal(const coord_node_info *a, const coord_node_info *b)
{
    return strcmp(a->addr, b->addr) == 0 && strcmp(a->repl, b->repl) == 0 &&
           strcmp(a->zone, b->zone) == 0;
}

bool coord_primary_equal(const coord_primary_info *a, const coord_primary_info *b)
{
    return strcmp(a->node, b->node) == 0 && a->epoch == b->epoch;
}
