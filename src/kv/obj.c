/* obj.c — dispatch of the generic object operations to each type's ops. */
#include "db.h"
#include "types.h"

const kv_type_ops *kv_type_ops_of(int type)
{
    switch (type) {
    case KV_LIST: return &tlist_ops;
    case KV_SET: return &tset_ops;
    case KV_ZSET: return &tzset_ops;
    case KV_HASH: return &thash_ops;
    default: return NULL;
    }
}

void kv_object_free(int type, void *obj)
{
    const kv_type_ops *ops = kv_type_ops_of(type);
    if (ops && obj) ops->free(obj);
}

void *kv_object_dup(int type, const void *obj)
{
    const kv_type_ops *ops = kv_type_ops_of(type);
    return ops ? ops->dup(obj) : NULL;
}

size_t kv_object_len(int type, const void *obj)
{
    const kv_type_ops *ops = kv_type_ops_of(type);
    return ops ? ops->len(obj) : 1;
}
