/* types.h — per-type operations on value objects (list, set, zset, hash), for the db and the AOF. */
#ifndef HALO_KV_TYPES_H
#define HALO_KV_TYPES_H

#include "../common/buf.h"
#include <stdbool.h>
#include <stddef.h>

/* Visitor of a value's elements; return false to stop the walk. */
typedef bool (*kv_elem_fn)(const char *p, size_t len, void *priv);

typedef struct kv_type_ops {
    void (*free)(void *obj);
    void *(*dup)(const void *obj);
    size_t (*len)(const void *obj);
    /* Append RESP commands that recreate the value under key (AOF rewrite):
     * e.g. RPUSH key e1 .. eN, batched at most 64 elements per command. */
    void (*rewrite)(const void *obj, const char *key, size_t klen, buf *out);
    /* Approximate heap bytes of the value (MEMORY USAGE, metrics). */
    size_t (*mem)(const void *obj);
    /* Visit every element: list items in order; set members; hash field then
     * value; zset member then score (as double_to_str prints it). Sets and
     * hashes are visited in table order, which is not stable across nodes. */
    void (*each)(const void *obj, kv_elem_fn fn, void *priv);
} kv_type_ops;

/* Defined by t_list.c, t_set.c, t_zset.c, t_hash.c. */
extern const kv_type_ops tlist_ops, tset_ops, tzset_ops, thash_ops;

/* Ops for a type (KV_LIST .. KV_HASH), NULL for strings. */
const kv_type_ops *kv_type_ops_of(int type);

#endif
