/* pubsub.c — publish/subscribe: channels, patterns, and the PUBSUB introspection command. */
#include "cmd.h"
#include "subsys.h"
#include "../common/mem.h"
#include "../common/util.h"

#include <string.h>

/* Every (client, topic) pair is one ps_sub, linked twice: into the topic's
 * list of subscribers (so PUBLISH walks only them) and into the client's dict
 * (so SUBSCRIBE dedups and UNSUBSCRIBE finds it). A topic (channel or pattern)
 * exists exactly while it has a subscriber; c->pubsub exists exactly while
 * the client has a subscription, because reply.c picks the pub/sub output
 * limit by c->pubsub != NULL.
 *
 * SSUBSCRIBE/SUNSUBSCRIBE/SPUBLISH share the channel space with their plain
 * forms (one data node owns every slot). A subscription made by SSUBSCRIBE
 * only remembers to deliver "smessage", as sharded clients expect. */

typedef struct ps_sub ps_sub;

typedef struct ps_topic {
    dict_node node; /* in kv_pubsub.channels or .patterns; must stay first */
    ps_sub *head;   /* subscribers, linked by prev/next */
    size_t nsubs;
    size_t len;
    char name[];
} ps_topic;

struct ps_sub {
    dict_node node; /* in the client's dict, keyed by topic's name; must stay first */
    ps_sub *prev, *next;
    kv_client *c;
    ps_topic *topic;
    bool shard;     /* made by SSUBSCRIBE */
};

struct kv_client_pubsub {
    dict channels, patterns;
};

struct kv_pubsub {
    dict channels, patterns;
};

/* The three families of (un)subscribe commands. */
typedef enum { PS_CHANNEL, PS_PATTERN, PS_SHARD } ps_kind;

static const char *const sub_reply[] = {"subscribe", "psubscribe", "ssubscribe"};
static const char *const unsub_reply[] = {"unsubscribe", "punsubscribe", "sunsubscribe"};

static const char *topic_name(const dict_node *n, size_t *len)
{
    const ps_topic *t = (const ps_topic *)n;
    *len = t->len;
    return t->name;
}

static const char *sub_name(const dict_node *n, size_t *len)
{
    const ps_sub *s = (const ps_sub *)n;
    *len = s->topic->len;
    return s->topic->name;
}

static const dict_type topic_type = {.key = topic_name};
static const dict_type sub_type = {.key = sub_name};

void pubsub_init(kv_server *srv)
{
    srv->pubsub = hmalloc(sizeof(*srv->pubsub));
    dict_init(&srv->pubsub->channels, &topic_type);
    dict_init(&srv->pubsub->patterns, &topic_type);
}

static void free_topic(dict_node *n, void *priv)
{
    (void)priv;
    hfree(n);
}

/* Called after every client is gone: no subscription points at a topic. */
void pubsub_free(kv_server *srv)
{
    if (srv->pubsub == NULL) return;
    dict_clear(&srv->pubsub->channels, free_topic, NULL);
    dict_clear(&srv->pubsub->patterns, free_topic, NULL);
    hfree(srv->pubsub);
    srv->pubsub = NULL;
}

size_t pubsub_client_subs(const kv_client *c)
{
    if (c->pubsub == NULL) return 0;
    return dict_size(&c->pubsub->channels) + dict_size(&c->pubsub->patterns);
}

size_t pubsub_channels(kv_server *srv) { return dict_size(&srv->pubsub->channels); }
size_t pubsub_patterns(kv_server *srv) { return dict_size(&srv->pubsub->patterns); }

static dict *server_dict(kv_server *srv, ps_kind kind)
{
    return kind == PS_PATTERN ? &srv->pubsub->patterns : &srv->pubsub->channels;
}

static dict *client_dict(kv_client *c, ps_kind kind)
{
    return kind == PS_PATTERN ? &c->pubsub->patterns : &c->pubsub->channels;
}

/* Subscribe c to name; false if it already was. */
static bool ps_add(kv_client *c, ps_kind kind, const char *name, size_t len)
{
    if (c->pubsub == NULL) {
        c->pubsub = hmalloc(sizeof(*c->pubsub));
        dict_init(&c->pubsub->channels, &sub_type);
        dict_init(&c->pubsub->patterns, &sub_type);
    }
    if (dict_find(client_dict(c, kind), name, len)) return false;
    dict *topics = server_dict(c->srv, kind);
    ps_topic *t = (ps_topic *)dict_find(topics, name, len);
    if (t == NULL) {
        t = hmalloc(sizeof(*t) + len);
        t->head = NULL;
        t->nsubs = 0;
        t->len = len;
        if (len) memcpy(t->name, name, len);
        dict_add(topics, &t->node);
    }
    ps_sub *s = hmalloc(sizeof(*s));
    s->c = c;
    s->topic = t;
    s->shard = kind == PS_SHARD;
    s->prev = NULL;
    s->next = t->head;
    if (t->head) t->head->prev = s;
    t->head = s;
    t->nsubs++;
    dict_add(client_dict(c, kind), &s->node);
    return true;
}

/* Unlink s from its topic (freeing the topic with its last subscriber) and
 * free it. The caller has removed s from the client's dict. */
static void ps_sub_free(dict *topics, ps_sub *s)
{
    ps_topic *t = s->topic;
    if (s->prev) s->prev->next = s->next;
    else t->head = s->next;
    if (s->next) s->next->prev = s->prev;
    if (--t->nsubs == 0) {
        dict_unlink(topics, t->name, t->len);
        hfree(t);
    }
    hfree(s);
}

static void free_channel_sub(dict_node *n, void *priv)
{
    kv_server *srv = priv;
    ps_sub_free(&srv->pubsub->channels, (ps_sub *)n);
}

static void free_pattern_sub(dict_node *n, void *priv)
{
    kv_server *srv = priv;
    ps_sub_free(&srv->pubsub->patterns, (ps_sub *)n);
}

/* Unsubscribe c from name; false if it was not subscribed. Leaves c->pubsub
 * in place (callers may be iterating it): see release_if_idle. */
static bool ps_remove(kv_client *c, ps_kind kind, const char *name, size_t len)
{
    if (c->pubsub == NULL) return false;
    ps_sub *s = (ps_sub *)dict_unlink(client_dict(c, kind), name, len);
    if (s == NULL) return false;
    ps_sub_free(server_dict(c->srv, kind), s);
    return true;
}

static void release_if_idle(kv_client *c)
{
    if (c->pubsub && pubsub_client_subs(c) == 0) pubsub_client_free(c);
}

/* Drop every subscription without telling the client (close, RESET). */
void pubsub_client_free(kv_client *c)
{
    if (c->pubsub == NULL) return;
    dict_clear(&c->pubsub->channels, free_channel_sub, c->srv);
    dict_clear(&c->pubsub->patterns, free_pattern_sub, c->srv);
    hfree(c->pubsub);
    c->pubsub = NULL;
}

/* ["subscribe", name, count]: a push in RESP3; name NULL replies a null. */
static void reply_confirm(kv_client *c, const char *kind, const char *name, size_t len)
{
    reply_push(c, 3);
    reply_cstr(c, kind);
    if (name) reply_bulk(c, name, len);
    else reply_null(c);
    reply_int(c, (int64_t)pubsub_client_subs(c));
}

static void subscribe_generic(kv_client *c, ps_kind kind)
{
    for (int i = 1; i < c->argc; i++) {
        ps_add(c, kind, c->argv[i].ptr, c->argv[i].len);
        reply_confirm(c, sub_reply[kind], c->argv[i].ptr, c->argv[i].len);
    }
}

/* Without arguments: every subscription of this family (plain and shard
 * channels are told apart by how they were made), or one null reply. */
static void unsubscribe_all(kv_client *c, ps_kind kind)
{
    int replied = 0;
    if (c->pubsub) {
        dict_iter it;
        dict_iter_init(&it, client_dict(c, kind), true);
        for (dict_node *n; (n = dict_iter_next(&it));) {
            ps_sub *s = (ps_sub *)n;
            if (kind != PS_PATTERN && s->shard != (kind == PS_SHARD)) continue;
            /* The topic may be freed with s: reply with its name first. */
            ps_topic *t = s->topic;
            dict_unlink(client_dict(c, kind), t->name, t->len);
            reply_push(c, 3);
            reply_cstr(c, unsub_reply[kind]);
            reply_bulk(c, t->name, t->len);
            ps_sub_free(server_dict(c->srv, kind), s);
            reply_int(c, (int64_t)pubsub_client_subs(c));
            replied++;
        }
        dict_iter_done(&it);
    }
    if (replied == 0) reply_confirm(c, unsub_reply[kind], NULL, 0);
}

static void unsubscribe_generic(kv_client *c, ps_kind kind)
{
    if (c->argc == 1) {
        unsubscribe_all(c, kind);
    } else {
        for (int i = 1; i < c->argc; i++) {
            ps_remove(c, kind, c->argv[i].ptr, c->argv[i].len);
            reply_confirm(c, unsub_reply[kind], c->argv[i].ptr, c->argv[i].len);
        }
    }
    release_if_idle(c);
}

static void subscribe_cmd(kv_client *c) { subscribe_generic(c, PS_CHANNEL); }
static void psubscribe_cmd(kv_client *c) { subscribe_generic(c, PS_PATTERN); }
static void ssubscribe_cmd(kv_client *c) { subscribe_generic(c, PS_SHARD); }
static void unsubscribe_cmd(kv_client *c) { unsubscribe_generic(c, PS_CHANNEL); }
static void punsubscribe_cmd(kv_client *c) { unsubscribe_generic(c, PS_PATTERN); }
static void sunsubscribe_cmd(kv_client *c) { unsubscribe_generic(c, PS_SHARD); }

/* ---- PUBLISH ---- */

/* Delivery only appends to output buffers: a subscriber that overflows its
 * pub/sub limit is closed asynchronously, so the lists do not change while
 * they are walked. */
static int64_t deliver_channel(kv_server *srv, const resp_arg *ch, const resp_arg *msg)
{
    ps_topic *t = (ps_topic *)dict_find(&srv->pubsub->channels, ch->ptr, ch->len);
    if (t == NULL) return 0;
    for (ps_sub *s = t->head; s; s = s->next) {
        reply_push(s->c, 3);
        if (s->shard) reply_bulk(s->c, "smessage", 8);
        else reply_bulk(s->c, "message", 7);
        reply_bulk(s->c, ch->ptr, ch->len);
        reply_bulk(s->c, msg->ptr, msg->len);
    }
    return (int64_t)t->nsubs;
}

static int64_t deliver_patterns(kv_server *srv, const resp_arg *ch, const resp_arg *msg)
{
    int64_t n = 0;
    dict_iter it;
    dict_iter_init(&it, &srv->pubsub->patterns, false);
    for (dict_node *node; (node = dict_iter_next(&it));) {
        ps_topic *t = (ps_topic *)node;
        if (!glob_match(t->name, t->len, ch->ptr, ch->len, false)) continue;
        for (ps_sub *s = t->head; s; s = s->next) {
            reply_push(s->c, 4);
            reply_bulk(s->c, "pmessage", 8);
            reply_bulk(s->c, t->name, t->len);
            reply_bulk(s->c, ch->ptr, ch->len);
            reply_bulk(s->c, msg->ptr, msg->len);
        }
        n += (int64_t)t->nsubs;
    }
    dict_iter_done(&it);
    return n;
}

/* PUBLISH / SPUBLISH: the number of deliveries. Not a keyspace write. */
static void publish_cmd(kv_client *c)
{
    kv_server *srv = c->srv;
    int64_t n = deliver_channel(srv, &c->argv[1], &c->argv[2]);
    if (dict_size(&srv->pubsub->patterns)) n += deliver_patterns(srv, &c->argv[1], &c->argv[2]);
    reply_int(c, n);
}

/* ---- PUBSUB ---- */

static void pubsub_channels_reply(kv_client *c)
{
    const resp_arg *pat = c->argc == 3 ? &c->argv[2] : NULL;
    void *slot = reply_deferred_len(c);
    int64_t n = 0;
    dict_iter it;
    dict_iter_init(&it, &c->srv->pubsub->channels, false);
    for (dict_node *node; (node = dict_iter_next(&it));) {
        ps_topic *t = (ps_topic *)node;
        if (pat && !glob_match(pat->ptr, pat->len, t->name, t->len, false)) continue;
        reply_bulk(c, t->name, t->len);
        n++;
    }
    dict_iter_done(&it);
    reply_set_deferred_array(c, slot, n);
}

static void pubsub_numsub_reply(kv_client *c)
{
    reply_array(c, (int64_t)(c->argc - 2) * 2);
    for (int i = 2; i < c->argc; i++) {
        ps_topic *t = (ps_topic *)dict_find(&c->srv->pubsub->channels, c->argv[i].ptr, c->argv[i].len);
        reply_bulk(c, c->argv[i].ptr, c->argv[i].len);
        reply_int(c, t ? (int64_t)t->nsubs : 0);
    }
}

static void pubsub_help_reply(kv_client *c)
{
    static const char *const help[] = {
        "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CHANNELS [<pattern>]",
        "    Return the currently active channels matching a <pattern> (default: '*').",
        "NUMPAT",
        "    Return number of subscriptions to patterns.",
        "NUMSUB [<channel> ...]",
        "    Return the number of subscribers for the specified channels, excluding",
        "    pattern subscriptions(default: no channels).",
        "SHARDCHANNELS [<pattern>]",
        "    Return the currently active shard level channels matching a <pattern> (default: '*').",
        "SHARDNUMSUB [<shardchannel> ...]",
        "    Return the number of subscribers for the specified shard level channel(s)",
        "HELP",
        "    Prints this help.",
    };
    size_t n = sizeof(help) / sizeof(help[0]);
    reply_array(c, (int64_t)n);
    for (size_t i = 0; i < n; i++) reply_status(c, help[i]);
}

/* A fixed-arity subcommand given extra arguments: Redis's per-subcommand arity error. */
static bool sub_arity_ok(kv_client *c, const char *name)
{
    if (c->argc == 2) return true;
    reply_errorf(c, "ERR wrong number of arguments for 'pubsub|%s' command", name);
    return false;
}

static void pubsub_cmd(kv_client *c)
{
    int sublen = c->argv[1].len > 128 ? 128 : (int)c->argv[1].len;
    if ((arg_is(c, 1, "channels") || arg_is(c, 1, "shardchannels")) && c->argc <= 3) {
        pubsub_channels_reply(c);
    } else if (arg_is(c, 1, "numsub") || arg_is(c, 1, "shardnumsub")) {
        pubsub_numsub_reply(c);
    } else if (arg_is(c, 1, "numpat")) {
        if (sub_arity_ok(c, "numpat")) reply_int(c, (int64_t)pubsub_patterns(c->srv));
    } else if (arg_is(c, 1, "help")) {
        if (sub_arity_ok(c, "help")) pubsub_help_reply(c);
    } else if (arg_is(c, 1, "channels") || arg_is(c, 1, "shardchannels")) {
        reply_errorf(c, "ERR unknown subcommand or wrong number of arguments for '%.*s'. Try PUBSUB HELP.",
                     sublen, c->argv[1].ptr);
    } else {
        reply_errorf(c, "ERR unknown subcommand '%.*s'. Try PUBSUB HELP.", sublen, c->argv[1].ptr);
    }
}

#define SUB_FLAGS (CMD_PUBSUB | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_ALLOW_PUBSUB)
#define PUB_FLAGS (CMD_PUBSUB | CMD_LOADING | CMD_STALE | CMD_FAST)

kv_cmd kv_cmds_pubsub[] = {
    {"subscribe", subscribe_cmd, -2, SUB_FLAGS, 0, 0, 0, "pubsub", "Listens for messages published to channels.", "2.0.0"},
    {"unsubscribe", unsubscribe_cmd, -1, SUB_FLAGS, 0, 0, 0, "pubsub", "Stops listening to messages posted to channels.", "2.0.0"},
    {"psubscribe", psubscribe_cmd, -2, SUB_FLAGS, 0, 0, 0, "pubsub", "Listens for messages published to channels that match one or more patterns.", "2.0.0"},
    {"punsubscribe", punsubscribe_cmd, -1, SUB_FLAGS, 0, 0, 0, "pubsub", "Stops listening to messages published to channels that match one or more patterns.", "2.0.0"},
    {"ssubscribe", ssubscribe_cmd, -2, SUB_FLAGS, 1, -1, 1, "pubsub", "Listens for messages published to shard channels.", "7.0.0"},
    {"sunsubscribe", sunsubscribe_cmd, -1, SUB_FLAGS, 1, -1, 1, "pubsub", "Stops listening to messages posted to shard channels.", "7.0.0"},
    {"publish", publish_cmd, 3, PUB_FLAGS, 0, 0, 0, "pubsub", "Posts a message to a channel.", "2.0.0"},
    {"spublish", publish_cmd, 3, PUB_FLAGS, 1, 1, 1, "pubsub", "Post a message to a shard channel", "7.0.0"},
    {"pubsub", pubsub_cmd, -2, CMD_PUBSUB | CMD_LOADING | CMD_STALE, 0, 0, 0, "pubsub", "A container for Pub/Sub commands.", "2.8.0"},
    {NULL},
};
