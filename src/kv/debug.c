/* debug.c — DEBUG: keyspace digests (replicas compare them) and SLEEP for tests. */
#include "cmd.h"
#include "subsys.h"
#include "types.h"
#include "../common/util.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* A 128-bit digest as two 64-bit halves. Fixed SipHash keys make it the same
 * on every node, unlike the dicts' per-process seed. */
typedef struct digest {
    uint64_t a, b;
} digest;

static const uint8_t KEY_A[16] = "halo-digest-k1!";
static const uint8_t KEY_B[16] = "halo-digest-k2?";

static digest hash_bytes(const void *p, size_t len)
{
    return (digest){siphash13(p, len, KEY_A), siphash13(p, len, KEY_B)};
}

/* Ordered mix: d = H(d || bytes), so order matters (lists, zsets). */
static void mix_ordered(digest *d, const void *p, size_t len)
{
    uint8_t tmp[16 + 64];
    memcpy(tmp, d, 16);
    digest h = hash_bytes(p, len);
    memcpy(tmp + 16, &h, 16);
    *d = hash_bytes(tmp, 32);
}

static void mix_xor(digest *d, digest h)
{
    d->a ^= h.a;
    d->b ^= h.b;
}

typedef struct walk {
    digest d;
    bool ordered, pairs;
    digest pending; /* hash field waiting for its value */
    bool have_field;
} walk;

static bool walk_elem(const char *p, size_t len, void *priv)
{
    walk *w = priv;
    if (w->ordered) {
        mix_ordered(&w->d, p, len);
        return true;
    }
    digest h = hash_bytes(p, len);
    if (!w->pairs) {
        mix_xor(&w->d, h);
    } else if (!w->have_field) {
        w->pending = h;
        w->have_field = true;
    } else { /* hash: the pair is hashed together, pairs combine unordered */
        digest pair[2] = {w->pending, h};
        mix_xor(&w->d, hash_bytes(pair, sizeof(pair)));
        w->have_field = false;
    }
    return true;
}

/* Digest of one key: its name, type, value and absolute expire time. */
static digest entry_digest(kv_db *db, kv_entry *e)
{
    digest d = hash_bytes(entry_key(e), e->keylen);
    int type = entry_type(e);
    mix_ordered(&d, &type, sizeof(type));
    if (type == KV_STRING) {
        mix_ordered(&d, entry_str(e), e->vlen);
    } else {
        walk w = {{0, 0}, type == KV_LIST || type == KV_ZSET, type == KV_HASH, {0, 0}, false};
        kv_type_ops_of(type)->each(entry_obj(e), walk_elem, &w);
        mix_ordered(&d, &w.d, sizeof(w.d));
    }
    int64_t when = db_get_expire(db, e);
    if (when >= 0) mix_ordered(&d, &when, sizeof(when));
    return d;
}

static void reply_digest(kv_client *c, digest d)
{
    char hex[33];
    snprintf(hex, sizeof(hex), "%016llx%016llx", (unsigned long long)d.a, (unsigned long long)d.b);
    reply_status(c, hex);
}

static digest keyspace_digest(kv_db *db)
{
    digest total = {0, 0};
    dict_iter it;
    dict_iter_init(&it, &db->keys, false);
    for (dict_node *n; (n = dict_iter_next(&it));) mix_xor(&total, entry_digest(db, (kv_entry *)n));
    dict_iter_done(&it);
    return total;
}

void debug_db_digest(kv_db *db, uint64_t out[2])
{
    digest d = keyspace_digest(db);
    out[0] = d.a;
    out[1] = d.b;
}

static void debug_digest(kv_client *c)
{
    reply_digest(c, keyspace_digest(&c->srv->db));
}

static void debug_digest_value(kv_client *c)
{
    reply_array(c, c->argc - 2);
    for (int i = 2; i < c->argc; i++) {
        kv_entry *e = db_find(&c->srv->db, c->argv[i].ptr, c->argv[i].len);
        reply_digest(c, e ? entry_digest(&c->srv->db, e) : (digest){0, 0});
    }
}

static void debug_cmd(kv_client *c)
{
    if (arg_is(c, 1, "digest") && c->argc == 2) {
        debug_digest(c);
    } else if (arg_is(c, 1, "digest-value") && c->argc >= 3) {
        debug_digest_value(c);
    } else if (arg_is(c, 1, "sleep") && c->argc == 3) {
        double secs;
        if (!arg_double(c, 2, &secs)) return;
        if (secs < 0 || secs > 60) {
            reply_error(c, "ERR DEBUG SLEEP takes 0 to 60 seconds");
            return;
        }
        usleep((useconds_t)(secs * 1e6));
        reply_ok(c);
    } else if (arg_is(c, 1, "help")) {
        static const char *help[] = {
            "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "DIGEST", "    Digest of the whole keyspace (equal on nodes with equal data).",
            "DIGEST-VALUE <key> [<key> ...]", "    Digest of each key's value and TTL.",
            "SLEEP <seconds>", "    Stop serving for <seconds> (tests only)."};
        reply_array(c, (int64_t)(sizeof(help) / sizeof(help[0])));
        for (size_t i = 0; i < sizeof(help) / sizeof(help[0]); i++) reply_status(c, help[i]);
    } else {
        reply_errorf(c, "ERR unknown subcommand or wrong number of arguments for '%.*s'. Try DEBUG HELP.",
                     (int)c->argv[1].len, c->argv[1].ptr);
    }
}

kv_cmd kv_cmds_debug[] = {
    {"debug", debug_cmd, -2, CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE, 0, 0, 0, "server", "A container for debugging commands.", "1.0.0"},
    {NULL},
};
