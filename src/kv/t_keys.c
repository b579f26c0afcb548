/* t_keys.c — generic key commands: DEL, EXISTS, TYPE, TTLs, RENAME, COPY, KEYS, SCAN, OBJECT, MEMORY. */
#include "cmd.h"
#include "scan.h"
#include "subsys.h"
#include "types.h"
#include "../common/mem.h"
#include "../common/util.h"
#include "../persist/aof.h"

#include <string.h>

#define KEY(i) c->argv[i].ptr, c->argv[i].len

/* Longest user text echoed back in an error, as Redis's %.128s. */
#define ECHO_MAX 128
#define ECHO_LEN(i) (int)(c->argv[i].len < ECHO_MAX ? c->argv[i].len : ECHO_MAX)

static void touched(kv_client *c, int i)
{
    db_signal_modified(&c->srv->db, KEY(i));
    c->srv->dirty++;
}

static bool same_key(kv_client *c, int a, int b)
{
    return c->argv[a].len == c->argv[b].len && memcmp(c->argv[a].ptr, c->argv[b].ptr, c->argv[a].len) == 0;
}

/* Lookup that expires the key but keeps its LRU stamp (Redis's
 * LOOKUP_NOTOUCH: TYPE, TTL, EXISTS), still counting hits and misses. */
static kv_entry *lookup_notouch(kv_client *c, int i)
{
    kv_db *db = &c->srv->db;
    kv_entry *e = db_lookup_write(db, KEY(i));
    if (e) db->hits++;
    else db->misses++;
    return e;
}

static void reply_help(kv_client *c, const char *const *lines)
{
    int64_t n = 0;
    while (lines[n]) n++;
    reply_array(c, n);
    for (int64_t i = 0; i < n; i++) reply_status(c, lines[i]);
}

/* ---- DEL, UNLINK, EXISTS, TYPE, TOUCH ---- */

static void del_cmd(kv_client *c)
{
    kv_db *db = &c->srv->db;
    int64_t n = 0;
    for (int i = 1; i < c->argc; i++) {
        if (db_lookup_write(db, KEY(i)) && db_delete(db, KEY(i))) {
            touched(c, i);
            n++;
        }
    }
    reply_int(c, n);
}

static void exists_cmd(kv_client *c)
{
    int64_t n = 0;
    for (int i = 1; i < c->argc; i++)
        if (lookup_notouch(c, i)) n++;
    reply_int(c, n);
}

static void type_cmd(kv_client *c)
{
    kv_entry *e = lookup_notouch(c, 1);
    reply_status(c, e ? kv_type_name(entry_type(e)) : "none");
}

static void touch_cmd(kv_client *c)
{
    int64_t n = 0;
    for (int i = 1; i < c->argc; i++)
        if (db_lookup_read(&c->srv->db, KEY(i))) n++;
    reply_int(c, n);
}

/* ---- EXPIRE family ---- */

enum { EXP_NX = 1, EXP_XX = 2, EXP_GT = 4, EXP_LT = 8 };

static bool parse_expire_flags(kv_client *c, unsigned *flags)
{
    *flags = 0;
    for (int i = 3; i < c->argc; i++) {
        if (arg_is(c, i, "nx")) *flags |= EXP_NX;
        else if (arg_is(c, i, "xx")) *flags |= EXP_XX;
        else if (arg_is(c, i, "gt")) *flags |= EXP_GT;
        else if (arg_is(c, i, "lt")) *flags |= EXP_LT;
        else {
            reply_errorf(c, "ERR Unsupported option %.*s", ECHO_LEN(i), c->argv[i].ptr);
            return false;
        }
    }
    if ((*flags & EXP_NX) && (*flags & (EXP_XX | EXP_GT | EXP_LT))) {
        reply_error(c, "ERR NX and XX, GT or LT options at the same time are not compatible");
        return false;
    }
    if ((*flags & EXP_GT) && (*flags & EXP_LT)) {
        reply_error(c, "ERR GT and LT options at the same time are not compatible");
        return false;
    }
    return true;
}

/* Whether the options let `when` replace the current expiry cur (-1: none,
 * which GT and LT treat as infinite). */
static bool expire_allowed(unsigned flags, int64_t cur, int64_t when)
{
    if ((flags & EXP_NX) && cur != -1) return false;
    if ((flags & EXP_XX) && cur == -1) return false;
    if ((flags & EXP_GT) && (cur == -1 || when <= cur)) return false;
    if ((flags & EXP_LT) && cur != -1 && when >= cur) return false;
    return true;
}

/* The argument as absolute unix ms; base_ms is "now" for the relative forms
 * and 0 for the absolute ones. Replies on overflow. */
static bool expire_arg(kv_client *c, int64_t base_ms, bool secs, const char *name, int64_t *when)
{
    if (!arg_i64(c, 2, when)) return false;
    bool bad = secs && (*when > INT64_MAX / 1000 || *when < INT64_MIN / 1000);
    if (!bad && secs) *when *= 1000;
    if (bad || *when > INT64_MAX - base_ms) {
        reply_errorf(c, "ERR invalid expire time in '%s' command", name);
        return false;
    }
    *when += base_ms;
    return true;
}

/* Propagate as PEXPIREAT with the absolute time and the same options, so the
 * AOF and replicas apply exactly this expiry whenever they replay it. */
static void propagate_pexpireat(kv_client *c, int64_t when, unsigned flags)
{
    char ms[24];
    int n = i64_to_str(ms, sizeof(ms), when);
    resp_arg argv[5] = {{"PEXPIREAT", 9}, c->argv[1], {ms, (size_t)n}};
    int argc = 3;
    if (flags & EXP_NX) argv[argc++] = (resp_arg){"NX", 2};
    if (flags & EXP_XX) argv[argc++] = (resp_arg){"XX", 2};
    if (flags & EXP_GT) argv[argc++] = (resp_arg){"GT", 2};
    if (flags & EXP_LT) argv[argc++] = (resp_arg){"LT", 2};
    prop_replace(c, argc, argv);
}

/* EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT. A time already past deletes the key
 * (propagated as DEL), except while loading or on a replica, which keep the
 * key until the primary's DEL arrives. */
static void expire_generic(kv_client *c, bool relative, bool secs, const char *name)
{
    kv_db *db = &c->srv->db;
    unsigned flags;
    int64_t when;
    if (!parse_expire_flags(c, &flags)) return;
    if (!expire_arg(c, relative ? db->now_ms : 0, secs, name, &when)) return;
    kv_entry *e = db_lookup_write(db, KEY(1));
    if (e == NULL || !expire_allowed(flags, db_get_expire(db, e), when)) {
        reply_int(c, 0);
        return;
    }
    if (when <= db->now_ms && !c->srv->loading && !db->no_expire) {
        db_delete(db, KEY(1));
        resp_arg argv[2] = {{"DEL", 3}, c->argv[1]};
        prop_replace(c, 2, argv);
    } else {
        db_set_expire(db, e, when);
        propagate_pexpireat(c, when, flags);
    }
    touched(c, 1);
    reply_int(c, 1);
}

static void expire_cmd(kv_client *c) { expire_generic(c, true, true, "expire"); }
static void pexpire_cmd(kv_client *c) { expire_generic(c, true, false, "pexpire"); }
static void expireat_cmd(kv_client *c) { expire_generic(c, false, true, "expireat"); }
static void pexpireat_cmd(kv_client *c) { expire_generic(c, false, false, "pexpireat"); }

/* TTL, PTTL, EXPIRETIME, PEXPIRETIME: -2 no key, -1 no expiry; seconds are
 * rounded to the nearest as Redis does. */
static void ttl_generic(kv_client *c, bool ms, bool absolute)
{
    kv_db *db = &c->srv->db;
    kv_entry *e = lookup_notouch(c, 1);
    if (e == NULL) {
        reply_int(c, -2);
        return;
    }
    int64_t when = db_get_expire(db, e);
    if (when == -1) {
        reply_int(c, -1);
        return;
    }
    int64_t v = absolute ? when : when - db->now_ms;
    if (v < 0) v = 0;
    reply_int(c, ms ? v : v / 1000 + (v % 1000 >= 500));
}

static void ttl_cmd(kv_client *c) { ttl_generic(c, false, false); }
static void pttl_cmd(kv_client *c) { ttl_generic(c, true, false); }
static void expiretime_cmd(kv_client *c) { ttl_generic(c, false, true); }
static void pexpiretime_cmd(kv_client *c) { ttl_generic(c, true, true); }

static void persist_cmd(kv_client *c)
{
    kv_entry *e = db_lookup_write(&c->srv->db, KEY(1));
    if (e && db_persist(&c->srv->db, e)) {
        touched(c, 1);
        reply_int(c, 1);
    } else {
        reply_int(c, 0);
    }
}

/* ---- RENAME, RENAMENX, COPY ---- */

static void set_lru(kv_entry *e, uint32_t lru) { e->meta = (e->meta & 0xFFu) | (lru << 8); }

/* Move the value of src (key argv[s]) to the absent key argv[d], with its
 * TTL and LRU stamp; src is deleted. */
static void move_entry(kv_client *c, kv_entry *src, int s, int d)
{
    kv_db *db = &c->srv->db;
    int64_t when = db_get_expire(db, src);
    uint32_t lru = entry_lru(src);
    int type = entry_type(src);
    kv_entry *dst;
    if (type == KV_STRING) {
        dst = db_set_string(db, KEY(d), entry_str(src), src->vlen, false);
        db_delete(db, KEY(s));
    } else {
        void *obj = db_detach_object(db, src);
        dst = db_add_object(db, KEY(d), type, obj);
    }
    set_lru(dst, lru);
    if (when != -1) db_set_expire(db, dst, when);
}

static void rename_generic(kv_client *c, bool nx)
{
    kv_db *db = &c->srv->db;
    kv_entry *src = db_lookup_write(db, KEY(1));
    if (src == NULL) {
        reply_error(c, "ERR no such key");
        return;
    }
    if (same_key(c, 1, 2)) {
        if (nx) reply_int(c, 0);
        else reply_ok(c);
        return;
    }
    if (db_lookup_write(db, KEY(2))) {
        if (nx) {
            reply_int(c, 0);
            return;
        }
        db_delete(db, KEY(2));
    }
    move_entry(c, src, 1, 2);
    db_signal_modified(db, KEY(1));
    touched(c, 2);
    if (nx) reply_int(c, 1);
    else reply_ok(c);
}

static void rename_cmd(kv_client *c) { rename_generic(c, false); }
static void renamenx_cmd(kv_client *c) { rename_generic(c, true); }

/* COPY options: REPLACE, and DB which only names the one database. */
static bool parse_copy_opts(kv_client *c, bool *replace)
{
    *replace = false;
    for (int i = 3; i < c->argc; i++) {
        if (arg_is(c, i, "replace")) {
            *replace = true;
        } else if (arg_is(c, i, "db") && i + 1 < c->argc) {
            int64_t id;
            if (!arg_i64_range(c, ++i, INT32_MIN, INT32_MAX, &id, NULL)) return false;
            if (id != 0) {
                reply_error(c, "ERR DB index is out of range");
                return false;
            }
        } else {
            reply_syntax_error(c);
            return false;
        }
    }
    return true;
}

static void copy_cmd(kv_client *c)
{
    kv_db *db = &c->srv->db;
    bool replace;
    if (!parse_copy_opts(c, &replace)) return;
    if (same_key(c, 1, 2)) {
        reply_error(c, "ERR source and destination objects are the same");
        return;
    }
    kv_entry *src = db_lookup_read(db, KEY(1));
    if (src == NULL) {
        reply_int(c, 0);
        return;
    }
    if (db_lookup_write(db, KEY(2))) {
        if (!replace) {
            reply_int(c, 0);
            return;
        }
        db_delete(db, KEY(2));
    }
    int64_t when = db_get_expire(db, src);
    kv_entry *dst;
    if (entry_type(src) == KV_STRING)
        dst = db_set_string(db, KEY(2), entry_str(src), src->vlen, false);
    else
        dst = db_add_object(db, KEY(2), entry_type(src), kv_object_dup(entry_type(src), entry_obj(src)));
    if (when != -1) db_set_expire(db, dst, when);
    touched(c, 2);
    reply_int(c, 1);
}

/* ---- KEYS, SCAN, RANDOMKEY ---- */

static void keys_cmd(kv_client *c)
{
    kv_db *db = &c->srv->db;
    const resp_arg *pat = &c->argv[1];
    bool all = pat->len == 1 && pat->ptr[0] == '*';
    void *slot = reply_deferred_len(c);
    int64_t n = 0;
    dict_iter it;
    dict_iter_init(&it, &db->keys, false);
    dict_node *node;
    while ((node = dict_iter_next(&it)) && !client_closing(c)) {
        kv_entry *e = (kv_entry *)node;
        if (!all && !glob_match(pat->ptr, pat->len, entry_key(e), e->keylen, false)) continue;
        if (db_is_expired(db, e)) continue; /* no deletion: KEYS iterates the dict */
        reply_bulk(c, entry_key(e), e->keylen);
        n++;
    }
    dict_iter_done(&it);
    reply_set_deferred_array(c, slot, n);
}

/* SCAN's filter after MATCH: TYPE, then expiry (an expired key is deleted,
 * or on a replica only skipped). */
static bool scan_keep_key(kv_client *c, dict_node *n, const scan_opts *o)
{
    kv_entry *e = (kv_entry *)n;
    if (o->type && !str_eq_nocase(o->type->ptr, o->type->len, kv_type_name(entry_type(e)))) return false;
    return !db_expire_if_needed(&c->srv->db, e);
}

static void scan_emit_key(kv_client *c, const dict_node *n)
{
    const kv_entry *e = (const kv_entry *)n;
    reply_bulk(c, entry_key(e), e->keylen);
}

/* SCAN cursor [MATCH p] [COUNT n] [TYPE t]. */
static void scan_cmd(kv_client *c)
{
    static const scan_spec spec = {.keep = scan_keep_key, .emit = scan_emit_key, .width = 1};
    uint64_t cursor;
    scan_opts o;
    if (scan_arg_cursor(c, 1, &cursor) && scan_parse_opts(c, 2, true, &o))
        scan_reply(c, &c->srv->db.keys, cursor, &o, &spec);
}

/* Random picks a replica makes before answering nil when every pick was
 * logically expired but, awaiting the primary's DELs, not deleted. */
#define RANDOMKEY_HIDDEN_TRIES 100

/* Each expired pick is deleted, so the loop ends within the keyspace size;
 * a replica cannot delete, so it stops after RANDOMKEY_HIDDEN_TRIES (where
 * Redis would return an expired name, we answer nil: nearly every key is
 * then logically gone). */
static void randomkey_cmd(kv_client *c)
{
    kv_db *db = &c->srv->db;
    kv_entry *e;
    int tries = 0;
    while ((e = (kv_entry *)dict_random(&db->keys)) != NULL) {
        if (!db_expire_if_needed(db, e)) {
            reply_bulk(c, entry_key(e), e->keylen);
            return;
        }
        if (db->no_expire && ++tries == RANDOMKEY_HIDDEN_TRIES) break;
    }
    reply_null(c);
}

/* ---- OBJECT ---- */

/* Limits of a compact encoding while a walk checks elements. */
typedef struct compact_check {
    size_t max_bytes;
    bool ints;
    bool ok;
} compact_check;

static bool elem_compact(const char *p, size_t len, void *priv)
{
    compact_check *cc = priv;
    int64_t v;
    if (cc->ints ? !str_to_i64(p, len, &v) : len > cc->max_bytes) cc->ok = false;
    return cc->ok;
}

/* Whether Redis would still hold this value compactly (listpack, intset):
 * at most max_entries elements, each at most max_bytes (or all integers).
 * The walk stops at the first element that does not fit. */
static bool compact(const kv_entry *e, size_t max_entries, size_t max_bytes, bool ints)
{
    const kv_type_ops *ops = kv_type_ops_of(entry_type(e));
    void *obj = entry_obj(e);
    if (ops == NULL || ops->len(obj) > max_entries) return false;
    compact_check cc = {max_bytes, ints, true};
    ops->each(obj, elem_compact, &cc);
    return cc.ok;
}

/* The encoding Redis 7.0 would report with its default thresholds. */
static const char *encoding_of(kv_entry *e)
{
    int64_t v;
    switch (entry_type(e)) {
    case KV_STRING:
        if (e->vlen <= 20 && str_to_i64(entry_str(e), e->vlen, &v)) return "int";
        return e->vlen <= 44 ? "embstr" : "raw";
    case KV_LIST: return "quicklist";
    case KV_SET: return compact(e, 512, 0, true) ? "intset" : "hashtable";
    case KV_ZSET: return compact(e, 128, 64, false) ? "listpack" : "skiplist";
    default: return compact(e, 128, 64, false) ? "listpack" : "hashtable";
    }
}

static const char *const object_help[] = {
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Prints this help.",
    NULL,
};

/* Checks the arity of a container's subcommand as Redis reports it. */
static bool sub_arity(kv_client *c, const char *container, const char *sub, int arity)
{
    if ((arity > 0 && c->argc == arity) || (arity < 0 && c->argc >= -arity)) return true;
    reply_errorf(c, "ERR wrong number of arguments for '%s|%s' command", container, sub);
    return false;
}

static void reply_unknown_sub(kv_client *c, const char *container)
{
    reply_errorf(c, "ERR unknown subcommand '%.*s'. Try %s HELP.", ECHO_LEN(1), c->argv[1].ptr,
                 container);
}

static void object_key_sub(kv_client *c, const char *sub)
{
    if (!sub_arity(c, "object", sub, 3)) return;
    /* No LRU update and no hit statistics: looking must not change the answer. */
    kv_entry *e = db_lookup_write(&c->srv->db, KEY(2));
    if (e == NULL) reply_null(c);
    else if (sub[0] == 'e') reply_cstr(c, encoding_of(e));
    else if (sub[0] == 'i') reply_int(c, (db_lru_clock() - entry_lru(e)) & KV_LRU_MAX);
    else if (sub[0] == 'r') reply_int(c, 1);
    else
        reply_error(c, "ERR An LFU maxmemory policy is not selected, access frequency not tracked. "
                       "Please note that when switching between policies at runtime LRU and LFU "
                       "data will take some time to adjust.");
}

static void object_cmd(kv_client *c)
{
    static const char *const subs[] = {"encoding", "idletime", "refcount", "freq"};
    if (arg_is(c, 1, "help")) {
        if (sub_arity(c, "object", "help", 2)) reply_help(c, object_help);
        return;
    }
    for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
        if (arg_is(c, 1, subs[i])) {
            object_key_sub(c, subs[i]);
            return;
        }
    }
    reply_unknown_sub(c, "OBJECT");
}

/* ---- MEMORY ---- */

/* Bytes of one key: its entry (key and, for strings, value), its bucket
 * slot, and the value object by the type's estimate. */
static size_t entry_usage(kv_entry *e)
{
    size_t n = hmem_usable(e) + sizeof(dict_node *);
    const kv_type_ops *ops = kv_type_ops_of(entry_type(e));
    if (ops) n += ops->mem(entry_obj(e));
    return n;
}

static void memory_usage(kv_client *c)
{
    if (!sub_arity(c, "memory", "usage", -3)) return;
    for (int i = 3; i < c->argc; i += 2) {
        int64_t samples;
        if (!arg_is(c, i, "samples") || i + 1 >= c->argc) {
            reply_syntax_error(c);
            return;
        }
        if (!arg_i64(c, i + 1, &samples)) return;
        if (samples < 0) {
            reply_syntax_error(c);
            return;
        }
    }
    /* As Redis's dbFind: no expiry, no statistics. */
    kv_entry *e = db_find(&c->srv->db, KEY(2));
    if (e == NULL) reply_null(c);
    else reply_int(c, (int64_t)entry_usage(e));
}

static size_t clients_memory(kv_server *srv)
{
    size_t n = 0;
    for (kv_client *cl = srv->clients; cl; cl = cl->next) n += cl->qcap + client_obuf_bytes(cl);
    return n;
}

static void reply_kv_int(kv_client *c, const char *name, size_t v)
{
    reply_cstr(c, name);
    reply_int(c, (int64_t)v);
}

/* A subset of Redis's MEMORY STATS with the same field names. */
static void memory_stats(kv_client *c)
{
    if (!sub_arity(c, "memory", "stats", 2)) return;
    kv_server *srv = c->srv;
    size_t total = kv_used_memory(srv), keys = db_size(&srv->db);
    aof_info ai = {0};
    if (srv->aof) aof_get_info(srv->aof, &ai);
    size_t aof = ai.pending_bytes; /* what eviction does not count */
    size_t main_ht = dict_mem(&srv->db.keys), expires_ht = dict_mem(&srv->db.expires);
    size_t clients = clients_memory(srv), overhead = main_ht + expires_ht + clients + aof;
    size_t dataset = total > overhead ? total - overhead : 0;
    reply_map(c, 9);
    reply_kv_int(c, "total.allocated", total);
    reply_kv_int(c, "clients.normal", clients);
    reply_kv_int(c, "aof.buffer", aof);
    reply_cstr(c, "db.0");
    reply_map(c, 2);
    reply_kv_int(c, "overhead.hashtable.main", main_ht);
    reply_kv_int(c, "overhead.hashtable.expires", expires_ht);
    reply_kv_int(c, "overhead.total", overhead);
    reply_kv_int(c, "keys.count", keys);
    reply_kv_int(c, "keys.bytes-per-key", keys ? total / keys : 0);
    reply_kv_int(c, "dataset.bytes", dataset);
    reply_cstr(c, "dataset.percentage");
    reply_double(c, total ? 100.0 * (double)dataset / (double)total : 0.0);
}

static const char *const memory_help[] = {
    "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DOCTOR",
    "    Return memory problems reports.",
    "MALLOC-STATS",
    "    Return internal statistics report from the memory allocator.",
    "PURGE",
    "    Attempt to purge dirty pages for reclamation by the allocator.",
    "STATS",
    "    Return information about the memory usage of the server.",
    "USAGE <key> [SAMPLES <count>]",
    "    Return memory in bytes used by <key> and its value. Nested values are",
    "    sampled up to <count> times (default: 5, 0 means sample all).",
    "HELP",
    "    Prints this help.",
    NULL,
};

static void memory_cmd(kv_client *c)
{
    static const char doctor[] = "Hi Sam, I can't find any memory issue in your instance. "
                                 "I can only account for what occurs on this base.";
    if (arg_is(c, 1, "usage")) memory_usage(c);
    else if (arg_is(c, 1, "stats")) memory_stats(c);
    else if (arg_is(c, 1, "help")) {
        if (sub_arity(c, "memory", "help", 2)) reply_help(c, memory_help);
    } else if (arg_is(c, 1, "doctor")) {
        if (sub_arity(c, "memory", "doctor", 2)) reply_verbatim(c, doctor, sizeof(doctor) - 1, "txt");
    } else if (arg_is(c, 1, "malloc-stats")) {
        if (sub_arity(c, "memory", "malloc-stats", 2))
            reply_cstr(c, "Stats not supported for the current allocator");
    } else if (arg_is(c, 1, "purge")) {
        if (sub_arity(c, "memory", "purge", 2)) reply_ok(c);
    } else {
        reply_unknown_sub(c, "MEMORY");
    }
}

kv_cmd kv_cmds_keys[] = {
    {"del", del_cmd, -2, CMD_WRITE, 1, -1, 1, "generic", "Deletes one or more keys.", "1.0.0"},
    {"unlink", del_cmd, -2, CMD_WRITE | CMD_FAST, 1, -1, 1, "generic", "Asynchronously deletes one or more keys.", "4.0.0"},
    {"exists", exists_cmd, -2, CMD_READONLY | CMD_FAST, 1, -1, 1, "generic", "Determines whether one or more keys exist.", "1.0.0"},
    {"type", type_cmd, 2, CMD_READONLY | CMD_FAST, 1, 1, 1, "generic", "Determines the type of value stored at a key.", "1.0.0"},
    {"touch", touch_cmd, -2, CMD_READONLY | CMD_FAST, 1, -1, 1, "generic", "Returns the number of existing keys out of those specified after updating the time they were last accessed.", "3.2.1"},
    {"expire", expire_cmd, -3, CMD_WRITE | CMD_FAST, 1, 1, 1, "generic", "Sets the expiration time of a key in seconds.", "1.0.0"},
    {"pexpire", pexpire_cmd, -3, CMD_WRITE | CMD_FAST, 1, 1, 1, "generic", "Sets the expiration time of a key in milliseconds.", "2.6.0"},
    {"expireat", expireat_cmd, -3, CMD_WRITE | CMD_FAST, 1, 1, 1, "generic", "Sets the expiration time of a key to a Unix timestamp.", "1.2.0"},
    {"pexpireat", pexpireat_cmd, -3, CMD_WRITE | CMD_FAST, 1, 1, 1, "generic", "Sets the expiration time of a key to a Unix milliseconds timestamp.", "2.6.0"},
    {"ttl", ttl_cmd, 2, CMD_READONLY | CMD_FAST, 1, 1, 1, "generic", "Returns the expiration time in seconds of a key.", "1.0.0"},
    {"pttl", pttl_cmd, 2, CMD_READONLY | CMD_FAST, 1, 1, 1, "generic", "Returns the expiration time in milliseconds of a key.", "2.6.0"},
    {"expiretime", expiretime_cmd, 2, CMD_READONLY | CMD_FAST, 1, 1, 1, "generic", "Returns the expiration time of a key as a Unix timestamp.", "7.0.0"},
    {"pexpiretime", pexpiretime_cmd, 2, CMD_READONLY | CMD_FAST, 1, 1, 1, "generic", "Returns the expiration time of a key as a Unix milliseconds timestamp.", "7.0.0"},
    {"persist", persist_cmd, 2, CMD_WRITE | CMD_FAST, 1, 1, 1, "generic", "Removes the expiration time of a key.", "2.2.0"},
    {"rename", rename_cmd, 3, CMD_WRITE, 1, 2, 1, "generic", "Renames a key and overwrites the destination.", "1.0.0"},
    {"renamenx", renamenx_cmd, 3, CMD_WRITE | CMD_FAST, 1, 2, 1, "generic", "Renames a key only when the target key name doesn't exist.", "1.0.0"},
    {"copy", copy_cmd, -3, CMD_WRITE | CMD_DENYOOM, 1, 2, 1, "generic", "Copies the value of a key to a new key.", "6.2.0"},
    {"keys", keys_cmd, 2, CMD_READONLY, 0, 0, 0, "generic", "Returns all key names that match a pattern.", "1.0.0"},
    {"scan", scan_cmd, -2, CMD_READONLY, 0, 0, 0, "generic", "Iterates over the key names in the database.", "2.8.0"},
    {"randomkey", randomkey_cmd, 1, CMD_READONLY, 0, 0, 0, "generic", "Returns a random key name from the database.", "1.0.0"},
    {"object", object_cmd, -2, CMD_READONLY, 0, 0, 0, "generic", "A container for object introspection commands.", "2.2.3"},
    {"memory", memory_cmd, -2, CMD_READONLY, 0, 0, 0, "server", "A container for memory diagnostics commands.", "4.0.0"},
    {NULL},
};
