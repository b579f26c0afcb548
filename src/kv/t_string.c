/* t_string.c — string commands: GET/SET family, counters, ranges. Values live inline in the entry. */
#include "cmd.h"
#include "../common/limits.h"
#include "../common/util.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define KEY(i) c->argv[i].ptr, c->argv[i].len

/* Look up a string key; NULL with *wrong set when it holds another type. */
static kv_entry *string_at(kv_client *c, int i, bool write, bool *wrong)
{
    return db_lookup_typed(&c->srv->db, KEY(i), write, KV_STRING, wrong);
}

/* The string entry at argv[i] in *out (NULL when absent). Replies WRONGTYPE
 * and returns false when the key holds another type. */
static bool lookup_string(kv_client *c, int i, bool write, kv_entry **out)
{
    return arg_key_typed(c, i, write, KV_STRING, out);
}

static void touched(kv_client *c, int i)
{
    db_signal_modified(&c->srv->db, KEY(i));
    c->srv->dirty++;
}

static bool check_len(kv_client *c, size_t len)
{
    if ((int64_t)len > c->srv->cfg.proto_max_bulk_len || (int64_t)len > HALO_MAX_STRING_LEN) {
        reply_error(c, "ERR string exceeds maximum allowed size (proto-max-bulk-len)");
        return false;
    }
    return true;
}

/* GET's reply for argv[1]: its value, a null when absent, or WRONGTYPE.
 * Returns the entry only when its value was replied. */
static kv_entry *reply_get(kv_client *c, bool write)
{
    kv_entry *e;
    if (!lookup_string(c, 1, write, &e)) return NULL;
    if (e == NULL) reply_null(c);
    else reply_bulk(c, entry_str(e), e->vlen);
    return e;
}

static void get_cmd(kv_client *c) { reply_get(c, false); }

enum { SET_NX = 1, SET_XX = 2, SET_GET = 4, SET_KEEPTTL = 8, SET_EX = 16, SET_PX = 32,
       SET_EXAT = 64, SET_PXAT = 128, SET_PERSIST = 256 };

/* Parse SET/GETEX style options from argv[start..]; *when_ms gets the absolute
 * expiry (0 = none). Replies and returns false on error. */
static bool parse_set_opts(kv_client *c, int start, unsigned allowed, unsigned *flags,
                           int64_t *when_ms, const char *cmdname)
{
    *flags = 0;
    *when_ms = 0;
    for (int i = start; i < c->argc; i++) {
        unsigned f = 0;
        if (arg_is(c, i, "nx")) f = SET_NX;
        else if (arg_is(c, i, "xx")) f = SET_XX;
        else if (arg_is(c, i, "get")) f = SET_GET;
        else if (arg_is(c, i, "keepttl")) f = SET_KEEPTTL;
        else if (arg_is(c, i, "ex")) f = SET_EX;
        else if (arg_is(c, i, "px")) f = SET_PX;
        else if (arg_is(c, i, "exat")) f = SET_EXAT;
        else if (arg_is(c, i, "pxat")) f = SET_PXAT;
        else if (arg_is(c, i, "persist")) f = SET_PERSIST;
        if (f == 0 || !(allowed & f) || (*flags & f)) {
            reply_syntax_error(c);
            return false;
        }
        unsigned timed = SET_EX | SET_PX | SET_EXAT | SET_PXAT;
        if (((f & SET_NX) && (*flags & SET_XX)) || ((f & SET_XX) && (*flags & SET_NX)) ||
            ((f & timed) && (*flags & (timed | SET_KEEPTTL | SET_PERSIST))) ||
            ((f & (SET_KEEPTTL | SET_PERSIST)) && (*flags & timed))) {
            reply_syntax_error(c);
            return false;
        }
        *flags |= f;
        if (f & timed) {
            if (i + 1 >= c->argc) {
                reply_syntax_error(c);
                return false;
            }
            int64_t v;
            if (!arg_i64(c, ++i, &v)) return false;
            int64_t now = c->srv->db.now_ms;
            bool secs = f & (SET_EX | SET_EXAT);
            if (v <= 0 || (secs && v > INT64_MAX / 1000)) {
                reply_errorf(c, "ERR invalid expire time in '%s' command", cmdname);
                return false;
            }
            if (secs) v *= 1000;
            if (f & (SET_EX | SET_PX)) {
                if (v > INT64_MAX - now) {
                    reply_errorf(c, "ERR invalid expire time in '%s' command", cmdname);
                    return false;
                }
                v += now;
            }
            *when_ms = v;
        }
    }
    return true;
}

static void propagate_set_pxat(kv_client *c, int key, int val, int64_t when)
{
    char ms[24];
    int n = i64_to_str(ms, sizeof(ms), when);
    resp_arg argv[5] = {{"SET", 3}, c->argv[key], c->argv[val], {"PXAT", 4}, {ms, (size_t)n}};
    prop_replace(c, 5, argv);
}

/* The SET family's core: flags as parse_set_opts gives them. */
static void set_generic(kv_client *c, int key, int val, unsigned flags, int64_t when,
                        bool ok_reply)
{
    kv_db *db = &c->srv->db;
    bool wrong;
    kv_entry *e = string_at(c, key, true, &wrong);
    if (wrong && (flags & SET_GET)) {
        reply_wrongtype(c);
        return;
    }
    bool exists = e != NULL || wrong;
    if (((flags & SET_NX) && exists) || ((flags & SET_XX) && !exists)) {
        if (flags & SET_GET) {
            if (e) reply_bulk(c, entry_str(e), e->vlen);
            else reply_null(c);
        } else if (ok_reply) {
            reply_null(c);
        } else {
            reply_int(c, 0);
        }
        return;
    }
    if (flags & SET_GET) {
        if (e) reply_bulk(c, entry_str(e), e->vlen);
        else reply_null(c);
    }
    e = db_set_string(db, KEY(key), c->argv[val].ptr, c->argv[val].len, flags & SET_KEEPTTL);
    if (when) {
        db_set_expire(db, e, when);
        propagate_set_pxat(c, key, val, when);
    }
    touched(c, key);
    if (!(flags & SET_GET)) {
        if (ok_reply) reply_ok(c);
        else reply_int(c, 1);
    }
}

static void set_cmd(kv_client *c)
{
    unsigned flags;
    int64_t when;
    if (!parse_set_opts(c, 3, SET_NX | SET_XX | SET_GET | SET_KEEPTTL | SET_EX | SET_PX | SET_EXAT | SET_PXAT,
                        &flags, &when, "set"))
        return;
    set_generic(c, 1, 2, flags, when, true);
}

static void setnx_cmd(kv_client *c) { set_generic(c, 1, 2, SET_NX, 0, false); }

static void setex_generic(kv_client *c, bool ms)
{
    int64_t v;
    if (!arg_i64(c, 2, &v)) return;
    const char *name = ms ? "psetex" : "setex";
    if (v <= 0 || (!ms && v > INT64_MAX / 1000)) {
        reply_errorf(c, "ERR invalid expire time in '%s' command", name);
        return;
    }
    if (!ms) v *= 1000;
    if (v > INT64_MAX - c->srv->db.now_ms) {
        reply_errorf(c, "ERR invalid expire time in '%s' command", name);
        return;
    }
    set_generic(c, 1, 3, 0, c->srv->db.now_ms + v, true);
}

static void setex_cmd(kv_client *c) { setex_generic(c, false); }
static void psetex_cmd(kv_client *c) { setex_generic(c, true); }

static void getset_cmd(kv_client *c) { set_generic(c, 1, 2, SET_GET, 0, true); }

static void getdel_cmd(kv_client *c)
{
    if (reply_get(c, true) == NULL) return;
    db_delete(&c->srv->db, KEY(1));
    touched(c, 1);
    resp_arg argv[2] = {{"DEL", 3}, c->argv[1]};
    prop_replace(c, 2, argv);
}

static void getex_cmd(kv_client *c)
{
    unsigned flags;
    int64_t when;
    if (!parse_set_opts(c, 2, SET_EX | SET_PX | SET_EXAT | SET_PXAT | SET_PERSIST, &flags, &when,
                        "getex"))
        return;
    kv_entry *e = reply_get(c, false);
    if (e == NULL) return;
    kv_db *db = &c->srv->db;
    if (when) {
        db_set_expire(db, e, when);
        char ms[24];
        int n = i64_to_str(ms, sizeof(ms), when);
        resp_arg argv[3] = {{"PEXPIREAT", 9}, c->argv[1], {ms, (size_t)n}};
        prop_replace(c, 3, argv);
        touched(c, 1);
    } else if (flags & SET_PERSIST) {
        if (db_persist(db, e)) {
            resp_arg argv[2] = {{"PERSIST", 7}, c->argv[1]};
            prop_replace(c, 2, argv);
            touched(c, 1);
        }
    }
}

static void mget_cmd(kv_client *c)
{
    reply_array(c, c->argc - 1);
    for (int i = 1; i < c->argc; i++) {
        kv_entry *e = db_lookup_read(&c->srv->db, KEY(i));
        if (e && entry_type(e) == KV_STRING) reply_bulk(c, entry_str(e), e->vlen);
        else reply_null(c);
    }
}

static void mset_generic(kv_client *c, bool nx)
{
    if (c->argc % 2 == 0) {
        reply_errorf(c, "ERR wrong number of arguments for '%s' command", nx ? "msetnx" : "mset");
        return;
    }
    if (nx) {
        for (int i = 1; i < c->argc; i += 2) {
            if (db_lookup_write(&c->srv->db, KEY(i))) {
                reply_int(c, 0);
                return;
            }
        }
    }
    for (int i = 1; i < c->argc; i += 2) {
        db_set_string(&c->srv->db, KEY(i), c->argv[i + 1].ptr, c->argv[i + 1].len, false);
        touched(c, i);
    }
    if (nx) reply_int(c, 1);
    else reply_ok(c);
}

static void mset_cmd(kv_client *c) { mset_generic(c, false); }
static void msetnx_cmd(kv_client *c) { mset_generic(c, true); }

static void incr_generic(kv_client *c, int64_t by)
{
    kv_entry *e;
    if (!lookup_string(c, 1, true, &e)) return;
    int64_t v = 0;
    if (e && !str_to_i64(entry_str(e), e->vlen, &v)) {
        reply_not_integer(c);
        return;
    }
    if ((by < 0 && v < 0 && by < INT64_MIN - v) || (by > 0 && v > 0 && by > INT64_MAX - v)) {
        reply_error(c, "ERR increment or decrement would overflow");
        return;
    }
    v += by;
    char tmp[24];
    int n = i64_to_str(tmp, sizeof(tmp), v);
    if (e) db_update_string(&c->srv->db, e, tmp, (size_t)n); /* no second lookup */
    else db_set_string(&c->srv->db, KEY(1), tmp, (size_t)n, false);
    touched(c, 1);
    reply_int(c, v);
}

static void incr_cmd(kv_client *c) { incr_generic(c, 1); }
static void decr_cmd(kv_client *c) { incr_generic(c, -1); }

static void incrby_cmd(kv_client *c)
{
    int64_t by;
    if (arg_i64(c, 2, &by)) incr_generic(c, by);
}

static void decrby_cmd(kv_client *c)
{
    int64_t by;
    if (!arg_i64(c, 2, &by)) return;
    if (by == INT64_MIN) {
        reply_error(c, "ERR decrement would overflow");
        return;
    }
    incr_generic(c, -by);
}

static void incrbyfloat_cmd(kv_client *c)
{
    kv_entry *e;
    if (!lookup_string(c, 1, true, &e)) return;
    long double v = 0, by;
    if (e && !str_to_ldouble(entry_str(e), e->vlen, &v)) {
        reply_not_float(c);
        return;
    }
    if (!str_to_ldouble(c->argv[2].ptr, c->argv[2].len, &by)) {
        reply_not_float(c);
        return;
    }
    v += by;
    if (isnan(v) || isinf(v)) {
        reply_error(c, "ERR increment would produce NaN or Infinity");
        return;
    }
    char tmp[5120];
    int n = ldouble_to_str(tmp, sizeof(tmp), v);
    if (n < 0) {
        reply_error(c, "ERR increment would produce NaN or Infinity");
        return;
    }
    if (e) db_update_string(&c->srv->db, e, tmp, (size_t)n); /* no second lookup */
    else db_set_string(&c->srv->db, KEY(1), tmp, (size_t)n, false);
    touched(c, 1);
    reply_bulk(c, tmp, (size_t)n);
    resp_arg argv[4] = {{"SET", 3}, c->argv[1], {tmp, (size_t)n}, {"KEEPTTL", 7}};
    prop_replace(c, 4, argv);
}

static void append_cmd(kv_client *c)
{
    kv_entry *e;
    if (!lookup_string(c, 1, true, &e)) return;
    if (e == NULL) {
        e = db_set_string(&c->srv->db, KEY(1), c->argv[2].ptr, c->argv[2].len, false);
    } else {
        if (!check_len(c, (size_t)e->vlen + c->argv[2].len)) return;
        size_t old = e->vlen;
        e = db_resize_string(&c->srv->db, e, old + c->argv[2].len);
        memcpy(entry_str(e) + old, c->argv[2].ptr, c->argv[2].len);
    }
    touched(c, 1);
    reply_int(c, e->vlen);
}

static void strlen_cmd(kv_client *c)
{
    kv_entry *e;
    if (lookup_string(c, 1, false, &e)) reply_int(c, e ? e->vlen : 0);
}

static void getrange_cmd(kv_client *c)
{
    int64_t start, end;
    if (!arg_i64(c, 2, &start) || !arg_i64(c, 3, &end)) return;
    kv_entry *e;
    if (!lookup_string(c, 1, false, &e)) return;
    int64_t len = e ? e->vlen : 0;
    if (start < 0 && end < 0 && start > end) {
        reply_bulk(c, "", 0);
        return;
    }
    if (start < 0) start = len + start;
    if (end < 0) end = len + end;
    if (start < 0) start = 0;
    if (end < 0) end = 0;
    if (end >= len) end = len - 1;
    if (len == 0 || start > end) {
        reply_bulk(c, "", 0);
        return;
    }
    reply_bulk(c, entry_str(e) + start, (size_t)(end - start + 1));
}

static void setrange_cmd(kv_client *c)
{
    int64_t off;
    if (!arg_i64(c, 2, &off)) return;
    if (off < 0) {
        reply_error(c, "ERR offset is out of range");
        return;
    }
    kv_entry *e;
    if (!lookup_string(c, 1, true, &e)) return;
    size_t vlen = c->argv[3].len;
    if (e == NULL && vlen == 0) {
        reply_int(c, 0);
        return;
    }
    if (vlen == 0) {
        reply_int(c, e->vlen);
        return;
    }
    if (!check_len(c, (size_t)off + vlen)) return;
    if (e == NULL) e = db_set_string(&c->srv->db, KEY(1), "", 0, false);
    if ((size_t)off + vlen > e->vlen) e = db_resize_string(&c->srv->db, e, (size_t)off + vlen);
    memcpy(entry_str(e) + off, c->argv[3].ptr, vlen);
    touched(c, 1);
    reply_int(c, e->vlen);
}

kv_cmd kv_cmds_string[] = {
    {"get", get_cmd, 2, CMD_READONLY | CMD_FAST, 1, 1, 1, "string", "Returns the string value of a key.", "1.0.0"},
    {"set", set_cmd, -3, CMD_WRITE | CMD_DENYOOM, 1, 1, 1, "string", "Sets the string value of a key, ignoring its type.", "1.0.0"},
    {"setnx", setnx_cmd, 3, CMD_WRITE | CMD_DENYOOM | CMD_FAST, 1, 1, 1, "string", "Set the string value of a key only when the key doesn't exist.", "1.0.0"},
    {"setex", setex_cmd, 4, CMD_WRITE | CMD_DENYOOM, 1, 1, 1, "string", "Sets the string value and expiration time of a key.", "2.0.0"},
    {"psetex", psetex_cmd, 4, CMD_WRITE | CMD_DENYOOM, 1, 1, 1, "string", "Sets the string value and expiration time in milliseconds of a key.", "2.6.0"},
    {"getset", getset_cmd, 3, CMD_WRITE | CMD_DENYOOM | CMD_FAST, 1, 1, 1, "string", "Returns the previous string value of a key after setting it to a new value.", "1.0.0"},
    {"getdel", getdel_cmd, 2, CMD_WRITE | CMD_FAST, 1, 1, 1, "string", "Returns the string value of a key after deleting the key.", "6.2.0"},
    {"getex", getex_cmd, -2, CMD_WRITE | CMD_FAST, 1, 1, 1, "string", "Returns the string value of a key after setting its expiration time.", "6.2.0"},
    {"mget", mget_cmd, -2, CMD_READONLY | CMD_FAST, 1, -1, 1, "string", "Atomically returns the string values of one or more keys.", "1.0.0"},
    {"mset", mset_cmd, -3, CMD_WRITE | CMD_DENYOOM, 1, -1, 2, "string", "Atomically creates or modifies the string values of one or more keys.", "1.0.1"},
    {"msetnx", msetnx_cmd, -3, CMD_WRITE | CMD_DENYOOM, 1, -1, 2, "string", "Atomically modifies the string values of one or more keys only when all keys don't exist.", "1.0.1"},
    {"incr", incr_cmd, 2, CMD_WRITE | CMD_DENYOOM | CMD_FAST, 1, 1, 1, "string", "Increments the integer value of a key by one.", "1.0.0"},
    {"decr", decr_cmd, 2, CMD_WRITE | CMD_DENYOOM | CMD_FAST, 1, 1, 1, "string", "Decrements the integer value of a key by one.", "1.0.0"},
    {"incrby", incrby_cmd, 3, CMD_WRITE | CMD_DENYOOM | CMD_FAST, 1, 1, 1, "string", "Increments the integer value of a key by a number.", "1.0.0"},
    {"decrby", decrby_cmd, 3, CMD_WRITE | CMD_DENYOOM | CMD_FAST, 1, 1, 1, "string", "Decrements a number from the integer value of a key.", "1.0.0"},
    {"incrbyfloat", incrbyfloat_cmd, 3, CMD_WRITE | CMD_DENYOOM | CMD_FAST, 1, 1, 1, "string", "Increment the floating point value of a key by a number.", "2.6.0"},
    {"append", append_cmd, 3, CMD_WRITE | CMD_DENYOOM | CMD_FAST, 1, 1, 1, "string", "Appends a string to the value of a key.", "2.0.0"},
    {"strlen", strlen_cmd, 2, CMD_READONLY | CMD_FAST, 1, 1, 1, "string", "Returns the length of a string value.", "2.2.0"},
    {"getrange", getrange_cmd, 4, CMD_READONLY, 1, 1, 1, "string", "Returns a substring of the string stored at a key.", "2.4.0"},
    {"substr", getrange_cmd, 4, CMD_READONLY, 1, 1, 1, "string", "Returns a substring from a string value.", "1.0.0"},
    {"setrange", setrange_cmd, 4, CMD_WRITE | CMD_DENYOOM, 1, 1, 1, "string", "Overwrites a part of a string value with another by an offset.", "2.2.0"},
    {NULL},
};
