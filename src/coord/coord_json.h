/* coord_json.h — strict, bounded encoder and parser for the coordinator's JSON documents. */
#ifndef HALO_COORD_JSON_H
#define HALO_COORD_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The three documents kept in ZooKeeper (docs/coordinator.md):
 *
 *   groups/<gid>/config   {"epoch":7,"primary":"n1","isr":["n1","n2"],"members":["n1","n2","n3"]}
 *   nodes/<id>            {"addr":"127.0.0.1:7001","repl":"127.0.0.1:17001","zone":"a"}
 *   groups/<gid>/primary  {"node":"n1","epoch":7}
 *
 * Grammar: one JSON object; whitespace (space, tab, CR, LF) between tokens;
 * keys in any order, each at most once. Strings of known fields allow no
 * escape sequences (their alphabets never need one). Numbers are unsigned
 * decimal integers without sign, fraction, exponent or leading zeros.
 *
 * Unknown keys: the config REJECTS them: nodes rewrite the config by
 * compare-and-set, and a node that re-encoded a field it does not know would
 * silently drop it from the cluster's truth. Node and primary documents
 * IGNORE them (any JSON value, nested at most COORD_JSON_MAX_DEPTH deep): only
 * their owner writes them, so a newer node may add fields (zone, ports) that
 * older readers skip. Either way the whole document is at most COORD_DOC_MAX
 * bytes, and a NUL byte anywhere is an error. */

/* A node or group id: [A-Za-z0-9_.-]{1,64}. Also the cluster name. */
#define COORD_ID_MAX 64
/* Members (and so in-sync members) of one group: a replica group is small;
 * this bounds the config document and every loop over it. */
#define COORD_MAX_MEMBERS 16
/* Largest document we parse or write: far above the largest valid config
 * (about 2.3 KiB with 16 members of 64-byte ids), far below ZooKeeper's 1 MiB. */
#define COORD_DOC_MAX 4096
/* "host:port" — a DNS name (253) would not fit; addresses here are IPs or
 * short names, and a bound keeps the node document small. */
#define COORD_ADDR_MAX 128
/* Nesting allowed inside an ignored value of a node or primary document. */
#define COORD_JSON_MAX_DEPTH 8

typedef char coord_id[COORD_ID_MAX + 1];

/* A group's configuration. Invariants (coord_config_validate): 1..16 members,
 * distinct valid ids; isr distinct and a subset of members; primary either
 * empty (no primary: written as null) or a member of isr. */
typedef struct coord_config {
    uint64_t epoch;
    coord_id primary; /* "" when the group has no primary */
    unsigned n_isr;
    coord_id isr[COORD_MAX_MEMBERS];
    unsigned n_members;
    coord_id members[COORD_MAX_MEMBERS];
} coord_config;

/* What a data node publishes about itself. addr is required; repl and zone
 * may be empty (absent from the document). */
typedef struct coord_node_info {
    char addr[COORD_ADDR_MAX + 1]; /* clients' address, "ip:port" or "[ipv6]:port" */
    char repl[COORD_ADDR_MAX + 1]; /* replication address, "" if the same as addr */
    coord_id zone;                 /* failure domain, "" if unknown */
} coord_node_info;

/* The primary marker: who holds the role and in which epoch it took it. */
typedef struct coord_primary_info {
    coord_id node;
    uint64_t epoch;
} coord_primary_info;

/* Parsers: doc[0..len) need not be NUL-terminated. Return 0 and fill *out, or
 * -HALO_ETOOBIG (len > COORD_DOC_MAX) / -HALO_EPROTO (malformed or invalid)
 * with *why (if why != NULL) set to a static message naming the problem. *out
 * is unspecified after an error. */
int coord_config_parse(const char *doc, size_t len, coord_config *out, const char **why);
int coord_node_parse(const char *doc, size_t len, coord_node_info *out, const char **why);
int coord_primary_parse(const char *doc, size_t len, coord_primary_info *out, const char **why);

/* Encoders write a compact document (keys in the order above) into buf[0..cap)
 * without a terminating NUL and return its length, or -HALO_EINVAL if the
 * value breaks its invariants (*why says which), or -HALO_ETOOBIG if cap is too
 * small (COORD_DOC_MAX is always enough). */
int coord_config_encode(const coord_config *cfg, char *buf, size_t cap, const char **why);
int coord_node_encode(const coord_node_info *info, char *buf, size_t cap, const char **why);
int coord_primary_encode(const coord_primary_info *p, char *buf, size_t cap, const char **why);

/* 0 or -HALO_EINVAL with *why: the invariants listed with each type. */
int coord_config_validate(const coord_config *cfg, const char **why);
int coord_node_validate(const coord_node_info *info, const char **why);
int coord_primary_validate(const coord_primary_info *p, const char **why);

bool coord_id_valid(const char *s, size_t len);
/* "host:port": host an IPv4/name of [A-Za-z0-9.-] or "[" IPv6 "]", port 1..65535. */
bool coord_addr_valid(const char *s, size_t len);
/* Whether id is one of ids[0..n). */
bool coord_id_in(const coord_id *ids, unsigned n, const char *id);

/* Field-wise equality (the order of isr and members matters: it is the
 * order the writer chose, and a re-encoding keeps it). */
bool coord_config_equal(const coord_config *a, const coord_config *b);
bool coord_node_equal(const coord_node_info *a, const coord_node_info *b);
bool coord_primary_equal(const coord_primary_info *a, const coord_primary_info *b);

#endif
