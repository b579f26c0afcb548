/* t_server.c — connection and server commands: PING, AUTH, HELLO, CLIENT, COMMAND, CONFIG, INFO, ... */
#include "cmd.h"
#include "config.h"
#include "subsys.h"
#include "../common/log.h"
#include "../common/mem.h"
#include "../common/util.h"
#include "../persist/aof.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static void ping_cmd(kv_client *c)
{
    if (c->argc > 2) {
        reply_error(c, "ERR wrong number of arguments for 'ping' command");
        return;
    }
    if (c->resp == 2 && pubsub_client_subs(c) > 0) {
        reply_array(c, 2);
        reply_bulk(c, "pong", 4);
        if (c->argc == 2) reply_bulk(c, c->argv[1].ptr, c->argv[1].len);
        else reply_bulk(c, "", 0);
        return;
    }
    if (c->argc == 2) reply_bulk(c, c->argv[1].ptr, c->argv[1].len);
    else reply_raw(c, "+PONG\r\n", 7);
}

static void echo_cmd(kv_client *c) { reply_bulk(c, c->argv[1].ptr, c->argv[1].len); }

static void quit_cmd(kv_client *c)
{
    reply_ok(c);
    c->flags |= CLIENT_CLOSE_AFTER_REPLY;
}

static void select_cmd(kv_client *c)
{
    int64_t db;
    if (!str_to_i64(c->argv[1].ptr, c->argv[1].len, &db)) {
        reply_error(c, "ERR value is not an integer or out of range");
        return;
    }
    if (db != 0) {
        reply_error(c, "ERR DB index is out of range");
        return;
    }
    reply_ok(c);
}

static void dbsize_cmd(kv_client *c) { reply_int(c, (int64_t)db_size(&c->srv->db)); }

static void flush_cmd(kv_client *c)
{
    if (c->argc > 2 || (c->argc == 2 && !arg_is(c, 1, "sync") && !arg_is(c, 1, "async"))) {
        reply_syntax_error(c);
        return;
    }
    kv_server *srv = c->srv;
    srv->dirty += db_size(&srv->db) + 1;
    db_flush(&srv->db);
    watch_touch_all(srv);
    reply_ok(c);
}

static void time_cmd(kv_client *c)
{
    int64_t us = time_us();
    char s[32], u[32];
    int ls = i64_to_str(s, sizeof(s), us / 1000000);
    int lu = i64_to_str(u, sizeof(u), us % 1000000);
    reply_array(c, 2);
    reply_bulk(c, s, (size_t)ls);
    reply_bulk(c, u, (size_t)lu);
}

/* Constant-time comparison so a password cannot be guessed by timing. */
static bool password_ok(const char *want, const char *got, size_t len)
{
    size_t wl = strlen(want);
    unsigned diff = (unsigned)(wl ^ len);
    for (size_t i = 0; i < len; i++) diff |= (unsigned)(got[i] ^ want[i % (wl ? wl : 1)]);
    return diff == 0;
}

static bool check_auth(kv_client *c, int user_idx, int pass_idx)
{
    const char *pass = c->srv->cfg.requirepass;
    if (user_idx >= 0 && !str_eq_nocase(c->argv[user_idx].ptr, c->argv[user_idx].len, "default")) {
        reply_error(c, "WRONGPASS invalid username-password pair or user is disabled.");
        return false;
    }
    if (pass == NULL || pass[0] == '\0') {
        if (user_idx < 0) {
            reply_error(c, "ERR AUTH <password> called without any password configured for "
                           "the default user. Are you sure your configuration is correct?");
            return false;
        }
        c->flags |= CLIENT_AUTHED;
        return true;
    }
    if (!password_ok(pass, c->argv[pass_idx].ptr, c->argv[pass_idx].len)) {
        log_notice("failed authentication from %s", c->addr);
        reply_error(c, "WRONGPASS invalid username-password pair or user is disabled.");
        return false;
    }
    c->flags |= CLIENT_AUTHED;
    return true;
}

static void auth_cmd(kv_client *c)
{
    if (c->argc > 3) {
        reply_syntax_error(c);
        return;
    }
    bool ok = c->argc == 2 ? check_auth(c, -1, 1) : check_auth(c, 1, 2);
    if (ok) reply_ok(c);
}

static void hello_cmd(kv_client *c)
{
    int64_t ver = c->resp;
    int i = 1;
    if (c->argc >= 2) {
        if (!str_to_i64(c->argv[1].ptr, c->argv[1].len, &ver)) {
            reply_error(c, "ERR Protocol version is not an integer or out of range");
            return;
        }
        if (ver < 2 || ver > 3) {
            reply_error(c, "NOPROTO unsupported protocol version");
            return;
        }
        i = 2;
    }
    for (; i < c->argc; i++) {
        if (arg_is(c, i, "auth") && i + 2 < c->argc) {
            if (!check_auth(c, i + 1, i + 2)) return;
            i += 2;
        } else if (arg_is(c, i, "setname") && i + 1 < c->argc) {
            hfree(c->name);
            c->name = hmemdup(c->argv[i + 1].ptr, c->argv[i + 1].len + 1);
            c->name[c->argv[i + 1].len] = '\0';
            i++;
        } else {
            reply_errorf(c, "ERR Syntax error in HELLO option '%.*s'", (int)c->argv[i].len,
                         c->argv[i].ptr);
            return;
        }
    }
    const char *pass = c->srv->cfg.requirepass;
    if (pass && pass[0] && !(c->flags & CLIENT_AUTHED)) {
        reply_error(c, "NOAUTH HELLO must be called with the client already authenticated, "
                       "otherwise the HELLO <proto> AUTH <user> <pass> option can be used to "
                       "authenticate the client and select the RESP protocol version at the "
                       "same time");
        return;
    }
    c->resp = (int)ver;
    reply_map(c, 7);
    reply_cstr(c, "server");
    reply_cstr(c, "redis");
    reply_cstr(c, "version");
    reply_cstr(c, "7.0.15");
    reply_cstr(c, "proto");
    reply_int(c, ver);
    reply_cstr(c, "id");
    reply_int(c, (int64_t)c->id);
    reply_cstr(c, "mode");
    reply_cstr(c, "standalone");
    reply_cstr(c, "role");
    reply_cstr(c, "master");
    reply_cstr(c, "modules");
    reply_array(c, 0);
}

static void reset_cmd(kv_client *c)
{
    multi_discard(c);
    watch_unwatch_all(c);
    pubsub_client_free(c);
    hfree(c->name);
    c->name = NULL;
    c->resp = 2;
    const char *pass = c->srv->cfg.requirepass;
    if (pass && pass[0]) c->flags &= ~CLIENT_AUTHED;
    reply_status(c, "RESET");
}

/* ---- CLIENT ---- */

static bool valid_client_name(const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (p[i] < '!' || p[i] > '~') return false;
    return true;
}

static kv_client *find_client(kv_server *srv, const char *addr, size_t len, int64_t id)
{
    for (kv_client *o = srv->clients; o; o = o->next) {
        if (client_closing(o)) continue;
        if (id >= 0 && (int64_t)o->id == id) return o;
        if (id < 0 && strlen(o->addr) == len && memcmp(o->addr, addr, len) == 0) return o;
    }
    return NULL;
}

static void client_kill(kv_client *c)
{
    kv_server *srv = c->srv;
    if (c->argc == 3) { /* old form: CLIENT KILL addr:port */
        kv_client *o = find_client(srv, c->argv[2].ptr, c->argv[2].len, -1);
        if (o == NULL) {
            reply_error(c, "ERR No such client");
            return;
        }
        if (o == c) c->flags |= CLIENT_CLOSE_AFTER_REPLY;
        else client_close_async(o);
        reply_ok(c);
        return;
    }
    if ((c->argc - 2) % 2 != 0) {
        reply_syntax_error(c);
        return;
    }
    int64_t id = -1;
    const resp_arg *addr = NULL;
    bool skipme = true;
    for (int i = 2; i < c->argc; i += 2) {
        if (arg_is(c, i, "id")) {
            if (!str_to_i64(c->argv[i + 1].ptr, c->argv[i + 1].len, &id) || id <= 0) {
                reply_errorf(c, "ERR client-id should be greater than 0");
                return;
            }
        } else if (arg_is(c, i, "addr")) {
            addr = &c->argv[i + 1];
        } else if (arg_is(c, i, "skipme")) {
            if (arg_is(c, i + 1, "yes")) skipme = true;
            else if (arg_is(c, i + 1, "no")) skipme = false;
            else {
                reply_syntax_error(c);
                return;
            }
        } else {
            reply_syntax_error(c);
            return;
        }
    }
    int64_t killed = 0;
    for (kv_client *o = srv->clients; o; o = o->next) {
        if (client_closing(o)) continue;
        if (id > 0 && (int64_t)o->id != id) continue;
        if (addr && (strlen(o->addr) != addr->len || memcmp(o->addr, addr->ptr, addr->len) != 0))
            continue;
        if (o == c && skipme) continue;
        if (o == c) c->flags |= CLIENT_CLOSE_AFTER_REPLY;
        else client_close_async(o);
        killed++;
    }
    reply_int(c, killed);
}

static void client_cmd(kv_client *c)
{
    kv_server *srv = c->srv;
    if (arg_is(c, 1, "id") && c->argc == 2) {
        reply_int(c, (int64_t)c->id);
    } else if (arg_is(c, 1, "setname") && c->argc == 3) {
        if (!valid_client_name(c->argv[2].ptr, c->argv[2].len)) {
            reply_error(c, "ERR Client names cannot contain spaces, newlines or special characters.");
            return;
        }
        hfree(c->name);
        c->name = NULL;
        if (c->argv[2].len) {
            c->name = hmalloc(c->argv[2].len + 1);
            memcpy(c->name, c->argv[2].ptr, c->argv[2].len);
            c->name[c->argv[2].len] = '\0';
        }
        reply_ok(c);
    } else if (arg_is(c, 1, "getname") && c->argc == 2) {
        if (c->name) reply_cstr(c, c->name);
        else reply_null(c);
    } else if (arg_is(c, 1, "list")) {
        buf out;
        buf_init(&out);
        if (c->argc == 4 && arg_is(c, 2, "id")) {
            for (int i = 3; i < c->argc; i++) {
                int64_t id;
                if (!arg_i64(c, i, &id)) {
                    buf_free(&out);
                    return;
                }
                kv_client *o = find_client(srv, NULL, 0, id);
                if (o) client_info_line(o, &out);
            }
        } else if (c->argc == 4 && arg_is(c, 2, "type")) {
            if (arg_is(c, 3, "normal") || arg_is(c, 3, "pubsub")) {
                bool want_pubsub = arg_is(c, 3, "pubsub");
                for (kv_client *o = srv->clients; o; o = o->next)
                    if ((pubsub_client_subs(o) > 0) == want_pubsub) client_info_line(o, &out);
            } else if (!arg_is(c, 3, "master") && !arg_is(c, 3, "replica")) {
                buf_free(&out);
                reply_errorf(c, "ERR Unknown client type '%.*s'", (int)c->argv[3].len, c->argv[3].ptr);
                return;
            }
        } else if (c->argc != 2) {
            buf_free(&out);
            reply_syntax_error(c);
            return;
        } else {
            for (kv_client *o = srv->clients; o; o = o->next) client_info_line(o, &out);
        }
        reply_verbatim(c, out.data ? out.data : "", out.len, "txt");
        buf_free(&out);
    } else if (arg_is(c, 1, "info") && c->argc == 2) {
        buf out;
        buf_init(&out);
        client_info_line(c, &out);
        reply_verbatim(c, out.data, out.len, "txt");
        buf_free(&out);
    } else if (arg_is(c, 1, "kill") && c->argc >= 3) {
        client_kill(c);
    } else if (arg_is(c, 1, "unblock") && (c->argc == 3 || c->argc == 4)) {
        int64_t id;
        if (!arg_i64(c, 2, &id)) return;
        bool err = false;
        if (c->argc == 4) {
            if (arg_is(c, 3, "error")) err = true;
            else if (!arg_is(c, 3, "timeout")) {
                reply_error(c, "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR");
                return;
            }
        }
        kv_client *o = find_client(srv, NULL, 0, id);
        if (o && (o->flags & CLIENT_BLOCKED)) {
            block_unblock_client(o, err);
            reply_int(c, 1);
        } else {
            reply_int(c, 0);
        }
    } else if (arg_is(c, 1, "setinfo") && c->argc == 4) {
        reply_ok(c);
    } else if (arg_is(c, 1, "no-evict") || arg_is(c, 1, "no-touch")) {
        reply_ok(c);
    } else if (arg_is(c, 1, "help")) {
        static const char *help[] = {
            "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "GETNAME", "    Return the name of the current connection.",
            "ID", "    Return the ID of the current connection.",
            "INFO", "    Return information about the current client connection.",
            "KILL <ip:port> | KILL [ID <id>] [ADDR <ip:port>] [SKIPME yes|no]",
            "    Kill connections.",
            "LIST [TYPE normal|pubsub] [ID <id> ...]", "    Return information about client connections.",
            "SETNAME <name>", "    Assign the name <name> to the current connection.",
            "UNBLOCK <clientid> [TIMEOUT|ERROR]", "    Unblock the specified blocked client.",
        };
        reply_array(c, (int64_t)(sizeof(help) / sizeof(help[0])));
        for (size_t i = 0; i < sizeof(help) / sizeof(help[0]); i++) reply_status(c, help[i]);
    } else {
        reply_errorf(c, "ERR unknown subcommand or wrong number of arguments for '%.*s'. Try CLIENT HELP.",
                     (int)c->argv[1].len, c->argv[1].ptr);
    }
}

/* ---- COMMAND ---- */

static void reply_flags(kv_client *c, const kv_cmd *cmd)
{
    static const struct { uint32_t flag; const char *name; } names[] = {
        {CMD_WRITE, "write"},     {CMD_READONLY, "readonly"}, {CMD_DENYOOM, "denyoom"},
        {CMD_ADMIN, "admin"},     {CMD_PUBSUB, "pubsub"},     {CMD_NOSCRIPT, "noscript"},
        {CMD_BLOCKING, "blocking"}, {CMD_LOADING, "loading"}, {CMD_STALE, "stale"},
        {CMD_FAST, "fast"},       {CMD_NOAUTH, "no_auth"},    {CMD_MOVABLE_KEYS, "movablekeys"},
    };
    int n = 0;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (cmd->flags & names[i].flag) n++;
    reply_set(c, n);
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (cmd->flags & names[i].flag) reply_status(c, names[i].name);
}

static void reply_command_info(kv_client *c, const kv_cmd *cmd)
{
    reply_array(c, 10);
    reply_cstr(c, cmd->name);
    reply_int(c, cmd->arity);
    reply_flags(c, cmd);
    reply_int(c, cmd->first_key);
    reply_int(c, cmd->last_key);
    reply_int(c, cmd->key_step);
    reply_set(c, 0); /* ACL categories */
    reply_array(c, 0); /* tips */
    reply_array(c, 0); /* key specs */
    reply_array(c, 0); /* subcommands */
}

static void each_info(kv_cmd *cmd, void *priv) { reply_command_info(priv, cmd); }

typedef struct name_list {
    kv_client *c;
    int64_t n;
} name_list;

static void each_docs(kv_cmd *cmd, void *priv)
{
    kv_client *c = priv;
    reply_cstr(c, cmd->name);
    reply_map(c, 4);
    reply_cstr(c, "summary");
    reply_cstr(c, cmd->summary ? cmd->summary : "");
    reply_cstr(c, "since");
    reply_cstr(c, cmd->since ? cmd->since : "1.0.0");
    reply_cstr(c, "group");
    reply_cstr(c, cmd->group ? cmd->group : "generic");
    reply_cstr(c, "complexity");
    reply_cstr(c, "");
}

static void each_name(kv_cmd *cmd, void *priv)
{
    name_list *l = priv;
    reply_cstr(l->c, cmd->name);
    l->n++;
}

static void command_cmd(kv_client *c)
{
    if (c->argc == 1) {
        reply_array(c, (int64_t)cmd_count());
        cmd_foreach(each_info, c);
    } else if (arg_is(c, 1, "count") && c->argc == 2) {
        reply_int(c, (int64_t)cmd_count());
    } else if (arg_is(c, 1, "info")) {
        if (c->argc == 2) {
            reply_array(c, (int64_t)cmd_count());
            cmd_foreach(each_info, c);
            return;
        }
        reply_array(c, c->argc - 2);
        for (int i = 2; i < c->argc; i++) {
            const kv_cmd *cmd = cmd_lookup(c->argv[i].ptr, c->argv[i].len);
            if (cmd) reply_command_info(c, cmd);
            else reply_null_array(c);
        }
    } else if (arg_is(c, 1, "docs")) {
        if (c->argc == 2) {
            reply_map(c, (int64_t)cmd_count());
            cmd_foreach(each_docs, c);
            return;
        }
        int64_t n = 0;
        for (int i = 2; i < c->argc; i++)
            if (cmd_lookup(c->argv[i].ptr, c->argv[i].len)) n++;
        reply_map(c, n);
        for (int i = 2; i < c->argc; i++) {
            const kv_cmd *cmd = cmd_lookup(c->argv[i].ptr, c->argv[i].len);
            if (cmd) each_docs((kv_cmd *)cmd, c);
        }
    } else if (arg_is(c, 1, "list") && c->argc == 2) {
        name_list l = {c, 0};
        reply_array(c, (int64_t)cmd_count());
        cmd_foreach(each_name, &l);
    } else if (arg_is(c, 1, "getkeys") && c->argc >= 3) {
        const kv_cmd *cmd = cmd_lookup(c->argv[2].ptr, c->argv[2].len);
        int argc = c->argc - 2;
        if (cmd == NULL) {
            reply_error(c, "ERR Invalid command specified");
            return;
        }
        if ((cmd->arity > 0 && argc != cmd->arity) || (cmd->arity < 0 && argc < -cmd->arity)) {
            reply_error(c, "ERR Invalid number of arguments specified for command");
            return;
        }
        if (cmd->first_key == 0) {
            reply_error(c, "ERR The command has no key arguments");
            return;
        }
        int last = cmd->last_key < 0 ? argc + cmd->last_key : cmd->last_key;
        int64_t n = 0;
        for (int i = cmd->first_key; i <= last; i += cmd->key_step) n++;
        reply_array(c, n);
        for (int i = cmd->first_key; i <= last; i += cmd->key_step)
            reply_bulk(c, c->argv[2 + i].ptr, c->argv[2 + i].len);
    } else {
        reply_errorf(c, "ERR unknown subcommand '%.*s'. Try COMMAND HELP.", (int)c->argv[1].len,
                     c->argv[1].ptr);
    }
}

/* ---- CONFIG ---- */

static void reset_cmd_stats(kv_cmd *cmd, void *priv);

typedef struct get_ctx {
    kv_client *c;
    int n;
    const char **seen;
} get_ctx;

static void emit_pair(const char *name, const char *value, void *priv)
{
    get_ctx *g = priv;
    for (int i = 0; i < g->n; i++)
        if (g->seen[i] == name) return;
    g->seen[g->n++] = name;
    reply_cstr(g->c, name);
    reply_cstr(g->c, value);
}

static void count_pair(const char *name, const char *value, void *priv)
{
    (void)value;
    get_ctx *g = priv;
    for (int i = 0; i < g->n; i++)
        if (g->seen[i] == name) return;
    g->seen[g->n++] = name;
}

static void config_cmd(kv_client *c)
{
    kv_server *srv = c->srv;
    if (arg_is(c, 1, "get") && c->argc >= 3) {
        const char *seen[256];
        get_ctx g = {c, 0, seen};
        for (int i = 2; i < c->argc; i++)
            config_get(&srv->cfg, c->argv[i].ptr, c->argv[i].len, count_pair, &g);
        int total = g.n;
        g.n = 0;
        reply_map(c, total);
        for (int i = 2; i < c->argc; i++)
            config_get(&srv->cfg, c->argv[i].ptr, c->argv[i].len, emit_pair, &g);
    } else if (arg_is(c, 1, "set") && c->argc >= 4 && c->argc % 2 == 0) {
        for (int i = 2; i < c->argc; i += 2) {
            char name[128], value[4096];
            if (c->argv[i].len >= sizeof(name) || c->argv[i + 1].len >= sizeof(value) ||
                memchr(c->argv[i + 1].ptr, '\0', c->argv[i + 1].len)) {
                reply_error(c, "ERR CONFIG SET failed - argument too long or contains NUL");
                return;
            }
            memcpy(name, c->argv[i].ptr, c->argv[i].len);
            name[c->argv[i].len] = '\0';
            memcpy(value, c->argv[i + 1].ptr, c->argv[i + 1].len);
            value[c->argv[i + 1].len] = '\0';
            buf err;
            buf_init(&err);
            if (config_set(srv, name, value, &err) != 0) {
                reply_errorf(c, "ERR %.*s", (int)err.len, err.data);
                buf_free(&err);
                return;
            }
            buf_free(&err);
            log_notice("CONFIG SET %s by client %s", name, c->addr);
        }
        reply_ok(c);
    } else if (arg_is(c, 1, "resetstat") && c->argc == 2) {
        memset(&srv->stats, 0, sizeof(srv->stats));
        cmd_foreach(reset_cmd_stats, NULL);
        srv->db.hits = srv->db.misses = srv->db.expired = srv->db.evicted = 0;
        reply_ok(c);
    } else if (arg_is(c, 1, "rewrite") && c->argc == 2) {
        reply_error(c, "ERR CONFIG REWRITE is not supported: edit the config file and restart");
    } else {
        reply_errorf(c, "ERR unknown subcommand or wrong number of arguments for '%.*s'. Try CONFIG HELP.",
                     (int)c->argv[1].len, c->argv[1].ptr);
    }
}

static void reset_cmd_stats(kv_cmd *cmd, void *priv)
{
    (void)priv;
    cmd->calls = cmd->usec = cmd->failed_calls = cmd->rejected_calls = 0;
}

static void info_cmd(kv_client *c)
{
    buf out;
    buf_init(&out);
    info_render(c->srv, c, c->argc - 1, c->argv + 1, &out);
    reply_verbatim(c, out.data ? out.data : "", out.len, "txt");
    buf_free(&out);
}

static void bgrewriteaof_cmd(kv_client *c)
{
    if (c->srv->aof == NULL) {
        reply_error(c, "ERR Append only file is disabled: set appendonly yes to use BGREWRITEAOF");
        return;
    }
    int rc = aof_rewrite_start(c->srv->aof);
    if (rc == 0) reply_status(c, "Background append only file rewriting started");
    else if (rc == 1) reply_status(c, "Background append only file rewriting scheduled");
    else reply_error(c, "ERR Background append only file rewriting failed to start, see the log");
}

static void shutdown_cmd(kv_client *c)
{
    if (c->argc > 2 && !arg_is(c, 1, "nosave") && !arg_is(c, 1, "save")) {
        reply_syntax_error(c);
        return;
    }
    log_notice("SHUTDOWN requested by client %s", c->addr);
    kv_server_shutdown(c->srv, "SHUTDOWN command");
}

static void lastsave_cmd(kv_client *c) { reply_int(c, c->srv->start_time_ms / 1000); }

kv_cmd kv_cmds_server[] = {
    {"ping", ping_cmd, -1, CMD_FAST | CMD_ALLOW_PUBSUB | CMD_STALE, 0, 0, 0, "connection", "Returns the server's liveliness response.", "1.0.0"},
    {"echo", echo_cmd, 2, CMD_FAST, 0, 0, 0, "connection", "Returns the given string.", "1.0.0"},
    {"quit", quit_cmd, -1, CMD_FAST | CMD_NOAUTH | CMD_ALLOW_PUBSUB | CMD_LOADING | CMD_STALE, 0, 0, 0, "connection", "Closes the connection.", "1.0.0"},
    {"select", select_cmd, 2, CMD_FAST | CMD_LOADING | CMD_STALE, 0, 0, 0, "connection", "Changes the selected database (only 0 exists).", "1.0.0"},
    {"auth", auth_cmd, -2, CMD_FAST | CMD_NOAUTH | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE, 0, 0, 0, "connection", "Authenticates the connection.", "1.0.0"},
    {"hello", hello_cmd, -1, CMD_FAST | CMD_NOAUTH | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE, 0, 0, 0, "connection", "Handshakes with the server.", "6.0.0"},
    {"reset", reset_cmd, 1, CMD_FAST | CMD_NOAUTH | CMD_ALLOW_PUBSUB | CMD_LOADING | CMD_STALE, 0, 0, 0, "connection", "Resets the connection.", "6.2.0"},
    {"client", client_cmd, -2, CMD_ADMIN | CMD_LOADING | CMD_STALE, 0, 0, 0, "connection", "A container for client connection commands.", "2.4.0"},
    {"dbsize", dbsize_cmd, 1, CMD_READONLY | CMD_FAST, 0, 0, 0, "server", "Returns the number of keys in the database.", "1.0.0"},
    {"flushdb", flush_cmd, -1, CMD_WRITE, 0, 0, 0, "server", "Removes all keys from the current database.", "1.0.0"},
    {"flushall", flush_cmd, -1, CMD_WRITE, 0, 0, 0, "server", "Removes all keys from all databases.", "1.0.0"},
    {"time", time_cmd, 1, CMD_FAST | CMD_LOADING | CMD_STALE, 0, 0, 0, "server", "Returns the server time.", "2.6.0"},
    {"command", command_cmd, -1, CMD_LOADING | CMD_STALE, 0, 0, 0, "server", "Returns detailed information about all commands.", "2.8.13"},
    {"config", config_cmd, -2, CMD_ADMIN | CMD_LOADING | CMD_STALE, 0, 0, 0, "server", "A container for server configuration commands.", "2.0.0"},
    {"info", info_cmd, -1, CMD_LOADING | CMD_STALE, 0, 0, 0, "server", "Returns information and statistics about the server.", "1.0.0"},
    {"bgrewriteaof", bgrewriteaof_cmd, 1, CMD_ADMIN | CMD_NOSCRIPT, 0, 0, 0, "server", "Asynchronously rewrites the append-only file.", "1.0.0"},
    {"shutdown", shutdown_cmd, -1, CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE, 0, 0, 0, "server", "Synchronously saves the data and shuts down the server.", "1.0.0"},
    {"lastsave", lastsave_cmd, 1, CMD_FAST | CMD_LOADING | CMD_STALE, 0, 0, 0, "server", "Returns the Unix timestamp of the last successful save.", "1.0.0"},
    {NULL},
};
