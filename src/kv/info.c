/* info.c — the INFO command's text: Redis 7.0 compatible sections and field names. */
#include "../common/version.h"
#include "cmd.h"
#include "subsys.h"
#include "../common/mem.h"
#include "../common/util.h"
#include "../persist/aof.h"
#include "../repl/repl_node.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>


/* What clients and tools check before they talk to us (redis-py, redis-cli,
 * exporters gate features on it); the same string HELLO replies with. */
#define INFO_REDIS_VERSION "7.0.15"

typedef void (*section_fn)(kv_server *srv, buf *out);

typedef struct info_section {
    const char *name;  /* as INFO takes it (matched case-insensitively) */
    const char *title; /* the "# Title" header line */
    section_fn render;
    bool in_default;   /* part of INFO with no argument / "default" */
} info_section;

/* Redis's bytesToHuman: B below 1 KiB, else two decimals and K/M/G/T/P. */
static void bytes_human(char *out, size_t cap, uint64_t n)
{
    static const char units[] = "KMGTP";
    if (n < 1024) {
        snprintf(out, cap, "%" PRIu64 "B", n);
        return;
    }
    double d = (double)n / 1024;
    size_t u = 0;
    while (d >= 1024 && u + 1 < sizeof(units) - 1) {
        d /= 1024;
        u++;
    }
    snprintf(out, cap, "%.2f%c", d, units[u]);
}

/* The absolute path of the running binary: what the server recorded at start,
 * else the kernel's link. */
static void executable_path(const kv_server *srv, char *out, size_t cap)
{
    if (srv->executable[0]) {
        snprintf(out, cap, "%s", srv->executable);
        return;
    }
    ssize_t n = readlink("/proc/self/exe", out, cap - 1);
    out[n > 0 ? n : 0] = '\0';
}

static void info_server(kv_server *srv, buf *o)
{
    char exe[1024];
    executable_path(srv, exe, sizeof(exe));
    struct utsname un;
    if (uname(&un) != 0) memset(&un, 0, sizeof(un));
    int64_t uptime_s = (time_ms() - srv->start_time_ms) / 1000;
    buf_printf(o,
               "redis_version:" INFO_REDIS_VERSION "\r\n"
               "redis_git_sha1:00000000\r\n"
               "redis_git_dirty:0\r\n"
               "halo_version:" HALO_VERSION "\r\n"
               "redis_mode:standalone\r\n"
               "os:%s %s %s\r\n"
               "arch_bits:%d\r\n"
               "monotonic_clock:POSIX clock_gettime\r\n"
               "multiplexing_api:libuv\r\n"
               "process_id:%d\r\n"
               "process_supervised:no\r\n"
               "run_id:%s\r\n"
               "tcp_port:%d\r\n"
               "server_time_usec:%" PRId64 "\r\n"
               "uptime_in_seconds:%" PRId64 "\r\n"
               "uptime_in_days:%" PRId64 "\r\n"
               "hz:%d\r\n"
               "configured_hz:%d\r\n"
               "lru_clock:%u\r\n"
               "executable:%s\r\n"
               "config_file:%s\r\n"
               "io_threads_active:0\r\n",
               un.sysname, un.release, un.machine, (int)(sizeof(long) * 8), (int)getpid(),
               srv->run_id, srv->cfg.port, time_us(), uptime_s, uptime_s / 86400, srv->cfg.hz,
               srv->cfg.hz, (unsigned)db_lru_clock(), exe,
               srv->config_file ? srv->config_file : "");
}

static void info_clients(kv_server *srv, buf *o)
{
    size_t max_in = 0, max_out = 0;
    for (kv_client *c = srv->clients; c; c = c->next) {
        if (c->qcap > max_in) max_in = c->qcap;
        size_t ob = client_obuf_bytes(c);
        if (ob > max_out) max_out = ob;
    }
    buf_printf(o,
               "connected_clients:%d\r\n"
               "cluster_connections:0\r\n"
               "maxclients:%d\r\n"
               "client_recent_max_input_buffer:%zu\r\n"
               "client_recent_max_output_buffer:%zu\r\n"
               "blocked_clients:%zu\r\n"
               "tracking_clients:0\r\n"
               "clients_in_timeout_table:0\r\n",
               srv->nclients, srv->cfg.maxclients, max_in, max_out, block_count(srv));
}

static const char *policy_name(int policy)
{
    static const char *const names[] = {
        [EVICT_NOEVICTION] = "noeviction",         [EVICT_ALLKEYS_LRU] = "allkeys-lru",
        [EVICT_VOLATILE_LRU] = "volatile-lru",     [EVICT_ALLKEYS_RANDOM] = "allkeys-random",
        [EVICT_VOLATILE_RANDOM] = "volatile-random", [EVICT_VOLATILE_TTL] = "volatile-ttl",
    };
    if (policy < 0 || (size_t)policy >= sizeof(names) / sizeof(names[0]) || !names[policy])
        return "unknown";
    return names[policy];
}

static uint64_t total_system_memory(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
    return pages > 0 && size > 0 ? (uint64_t)pages * (uint64_t)size : 0;
}

/* The AOF's figures, or those of a node without AOF (srv->aof == NULL). */
static void aof_snapshot(kv_server *srv, aof_info *ai)
{
    memset(ai, 0, sizeof(*ai));
    ai->last_write_ok = ai->last_rewrite_ok = true;
    ai->last_rewrite_time_s = -1;
    if (srv->aof == NULL) return;
    ai->enabled = true;
    aof_get_info(srv->aof, ai);
}

static void info_memory(kv_server *srv, buf *o)
{
    uint64_t used = kv_used_memory(srv), rss = hmem_rss(), sys = total_system_memory();
    uint64_t maxmem = (uint64_t)srv->cfg.maxmemory;
    char used_h[32], rss_h[32], sys_h[32], max_h[32];
    bytes_human(used_h, sizeof(used_h), used);
    bytes_human(rss_h, sizeof(rss_h), rss);
    bytes_human(sys_h, sizeof(sys_h), sys);
    bytes_human(max_h, sizeof(max_h), maxmem);
    aof_info ai;
    aof_snapshot(srv, &ai);
    double frag = used ? (double)rss / (double)used : 0;
    buf_printf(o,
               "used_memory:%" PRIu64 "\r\n"
               "used_memory_human:%s\r\n"
               "used_memory_rss:%" PRIu64 "\r\n"
               "used_memory_rss_human:%s\r\n"
               "total_system_memory:%" PRIu64 "\r\n"
               "total_system_memory_human:%s\r\n"
               "maxmemory:%" PRIu64 "\r\n"
               "maxmemory_human:%s\r\n"
               "maxmemory_policy:%s\r\n"
               "mem_fragmentation_ratio:%.2f\r\n"
               "mem_fragmentation_bytes:%" PRId64 "\r\n"
               "mem_aof_buffer:%" PRIu64 "\r\n"
               "mem_allocator:libc\r\n",
               used, used_h, rss, rss_h, sys, sys_h, maxmem, max_h,
               policy_name(srv->cfg.maxmemory_policy), frag, (int64_t)rss - (int64_t)used,
               ai.pending_bytes);
}

static void info_persistence(kv_server *srv, buf *o)
{
    aof_info ai;
    aof_snapshot(srv, &ai);
    /* halo has no RDB snapshots; the rdb_ fields say "nothing saved, nothing
     * running" so that tools reading them keep working. */
    buf_printf(o,
               "loading:%d\r\n"
               "async_loading:0\r\n"
               "rdb_changes_since_last_save:%" PRIu64 "\r\n"
               "rdb_bgsave_in_progress:0\r\n"
               "rdb_last_save_time:%" PRId64 "\r\n"
               "rdb_last_bgsave_status:ok\r\n"
               "rdb_saves:0\r\n"
               "aof_enabled:%d\r\n"
               "aof_rewrite_in_progress:%d\r\n"
               "aof_rewrite_scheduled:%d\r\n"
               "aof_last_rewrite_time_sec:%" PRId64 "\r\n"
               "aof_current_rewrite_time_sec:%" PRId64 "\r\n"
               "aof_last_bgrewrite_status:%s\r\n"
               "aof_rewrites:%" PRIu64 "\r\n"
               "aof_last_write_status:%s\r\n",
               srv->loading ? 1 : 0, srv->dirty, srv->start_time_ms / 1000, ai.enabled ? 1 : 0,
               ai.rewrite_in_progress ? 1 : 0, ai.rewrite_scheduled ? 1 : 0,
               ai.last_rewrite_time_s, ai.enabled ? ai.current_rewrite_time_s : -1,
               ai.last_rewrite_ok ? "ok" : "err", ai.rewrites, ai.last_write_ok ? "ok" : "err");
    if (!ai.enabled) return;
    buf_printf(o,
               "aof_current_size:%" PRId64 "\r\n"
               "aof_base_size:%" PRId64 "\r\n"
               "aof_pending_rewrite:0\r\n"
               "aof_buffer_length:%" PRIu64 "\r\n"
               "aof_pending_bio_fsync:0\r\n"
               "aof_delayed_fsync:%" PRId64 "\r\n"
               "aof_fsyncs:%" PRIu64 "\r\n"
               "aof_write_errors:%" PRIu64 "\r\n"
               "aof_last_fsync_ms:%" PRId64 "\r\n",
               ai.current_size, ai.base_size, ai.pending_bytes, ai.delayed_fsync, ai.fsyncs,
               ai.write_errors, ai.last_fsync_ms);
}

/* Commands per second over the sample ring the cron fills once per tick:
 * from the oldest sample still held to the newest. */
static uint64_t ops_per_sec(const kv_stats *st)
{
    int newest = st->ops_idx, oldest = -1;
    for (int i = 1; i < 16; i++) {
        int k = (newest + i) % 16;
        if (st->ops_sample_time[k] != 0) {
            oldest = k;
            break;
        }
    }
    if (oldest < 0) return 0;
    int64_t dt_us = st->ops_sample_time[newest] - st->ops_sample_time[oldest];
    if (dt_us <= 0 || st->ops_sample[newest] < st->ops_sample[oldest]) return 0;
    double ops = (double)(st->ops_sample[newest] - st->ops_sample[oldest]);
    return (uint64_t)(ops * 1e6 / (double)dt_us + 0.5);
}

static void info_stats(kv_server *srv, buf *o)
{
    const kv_stats *st = &srv->stats;
    buf_printf(o,
               "total_connections_received:%" PRIu64 "\r\n"
               "total_commands_processed:%" PRIu64 "\r\n"
               "instantaneous_ops_per_sec:%" PRIu64 "\r\n"
               "total_net_input_bytes:%" PRIu64 "\r\n"
               "total_net_output_bytes:%" PRIu64 "\r\n"
               "rejected_connections:%" PRIu64 "\r\n"
               "expired_keys:%" PRIu64 "\r\n"
               "evicted_keys:%" PRIu64 "\r\n"
               "keyspace_hits:%" PRIu64 "\r\n"
               "keyspace_misses:%" PRIu64 "\r\n"
               "pubsub_channels:%zu\r\n"
               "pubsub_patterns:%zu\r\n"
               "total_forks:0\r\n"
               "client_output_buffer_limit_disconnections:%" PRIu64 "\r\n"
               "client_idle_timeout_disconnections:%" PRIu64 "\r\n"
               "total_protocol_errors:%" PRIu64 "\r\n"
               "total_error_replies:%" PRIu64 "\r\n",
               st->connections_received, st->commands_processed, ops_per_sec(st),
               st->net_input_bytes, st->net_output_bytes, st->rejected_connections,
               srv->db.expired, srv->db.evicted, srv->db.hits, srv->db.misses,
               pubsub_channels(srv), pubsub_patterns(srv), st->evicted_clients_obuf,
               st->timeouts_closed, st->protocol_errors, st->error_replies);
}

static void info_replication(kv_server *srv, buf *o)
{
    repl_info(srv, o);
}

static void rusage_field(buf *o, const char *name, const struct timeval *tv)
{
    buf_printf(o, "%s:%ld.%06ld\r\n", name, (long)tv->tv_sec, (long)tv->tv_usec);
}

static void info_cpu(kv_server *srv, buf *o)
{
    (void)srv;
    struct rusage self, children, thread;
    memset(&self, 0, sizeof(self));
    memset(&children, 0, sizeof(children));
    memset(&thread, 0, sizeof(thread));
    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &children);
    getrusage(RUSAGE_THREAD, &thread);
    rusage_field(o, "used_cpu_sys", &self.ru_stime);
    rusage_field(o, "used_cpu_user", &self.ru_utime);
    rusage_field(o, "used_cpu_sys_children", &children.ru_stime);
    rusage_field(o, "used_cpu_user_children", &children.ru_utime);
    rusage_field(o, "used_cpu_sys_main_thread", &thread.ru_stime);
    rusage_field(o, "used_cpu_user_main_thread", &thread.ru_utime);
}

static void info_modules(kv_server *srv, buf *o)
{
    (void)srv;
    (void)o; /* no modules: the header alone, as Redis prints it */
}


/* One line per command used since start (or CONFIG RESETSTAT), by name. */
static void info_commandstats(kv_server *srv, buf *o)
{
    (void)srv;
    cmd_list l;
    cmd_list_used(&l);
    for (size_t i = 0; i < l.n; i++) {
        const kv_cmd *cmd = l.v[i];
        double per_call = cmd->calls ? (double)cmd->usec / (double)cmd->calls : 0;
        buf_printf(o,
                   "cmdstat_%s:calls=%" PRIu64 ",usec=%" PRIu64 ",usec_per_call=%.2f"
                   ",rejected_calls=%" PRIu64 ",failed_calls=%" PRIu64 "\r\n",
                   cmd->name, cmd->calls, cmd->usec, per_call, cmd->rejected_calls,
                   cmd->failed_calls);
    }
    hfree(l.v);
}

static void info_cluster(kv_server *srv, buf *o)
{
    (void)srv;
    buf_append_str(o, "cluster_enabled:0\r\n");
}

/* avg_ttl is reported as 0: Redis estimates it from expiry sampling, which
 * halo does not track; clients only display it. */
static void info_keyspace(kv_server *srv, buf *o)
{
    if (db_size(&srv->db) == 0) return;
    buf_printf(o, "db0:keys=%zu,expires=%zu,avg_ttl=0\r\n", db_size(&srv->db),
               db_volatile(&srv->db));
}

/* In Redis's order; the output follows this order whatever the arguments'. */
static const info_section sections[] = {
    {"server", "Server", info_server, true},
    {"clients", "Clients", info_clients, true},
    {"memory", "Memory", info_memory, true},
    {"persistence", "Persistence", info_persistence, true},
    {"stats", "Stats", info_stats, true},
    {"replication", "Replication", info_replication, true},
    {"cpu", "CPU", info_cpu, true},
    {"modules", "Modules", info_modules, true},
    {"commandstats", "Commandstats", info_commandstats, false},
    {"cluster", "Cluster", info_cluster, true},
    {"keyspace", "Keyspace", info_keyspace, true},
};
#define NSECTIONS (sizeof(sections) / sizeof(sections[0]))
_Static_assert(NSECTIONS <= 32, "section mask is 32 bits");

static uint32_t default_mask(void)
{
    uint32_t m = 0;
    for (size_t i = 0; i < NSECTIONS; i++)
        if (sections[i].in_default) m |= 1u << i;
    return m;
}

/* Sections named by the arguments; unknown names select nothing (as Redis,
 * INFO with only unknown sections replies an empty string). */
static uint32_t select_sections(int argc, const resp_arg *args)
{
    if (argc == 0) return default_mask();
    uint32_t all = (1u << NSECTIONS) - 1, m = 0;
    for (int a = 0; a < argc; a++) {
        const char *p = args[a].ptr;
        size_t len = args[a].len;
        if (str_eq_nocase(p, len, "all") || str_eq_nocase(p, len, "everything")) m |= all;
        else if (str_eq_nocase(p, len, "default")) m |= default_mask();
        for (size_t i = 0; i < NSECTIONS; i++)
            if (str_eq_nocase(p, len, sections[i].name)) m |= 1u << i;
    }
    return m;
}

void info_render(kv_server *srv, kv_client *c, int argc, const resp_arg *args, buf *out)
{
    (void)c;
    uint32_t mask = select_sections(argc, args);
    bool first = true;
    for (size_t i = 0; i < NSECTIONS; i++) {
        if (!(mask & (1u << i))) continue;
        if (!first) buf_append(out, "\r\n", 2);
        first = false;
        buf_printf(out, "# %s\r\n", sections[i].title);
        sections[i].render(srv, out);
    }
}
