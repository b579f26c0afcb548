/* PLACEHOLDER until the module lands: compiles, does nothing. */
#include "aof.h"
int aof_open_and_load(struct kv_server *srv, kv_aof **out) { (void)srv; *out = NULL; return 0; }
void aof_feed(kv_aof *aof, const char *data, size_t len) { (void)aof; (void)data; (void)len; }
int aof_flush(kv_aof *aof) { (void)aof; return 0; }
void aof_cron(kv_aof *aof) { (void)aof; }
int aof_rewrite_start(kv_aof *aof) { (void)aof; return 0; }
void aof_close(kv_aof *aof) { (void)aof; }
void aof_set_fsync(kv_aof *aof, int policy) { (void)aof; (void)policy; }
void aof_get_info(const kv_aof *aof, aof_info *out) { (void)aof; (void)out; }
