/* PLACEHOLDER until the module lands: compiles, does nothing. */
#include "cmd.h"
#include "subsys.h"
kv_cmd kv_cmds_multi[] = {{NULL}};
void multi_queue(kv_client *c, const struct kv_cmd *cmd) { (void)c; (void)cmd; }
void multi_discard(kv_client *c) { (void)c; }
void watch_init(kv_server *srv) { (void)srv; }
void watch_free(kv_server *srv) { (void)srv; }
void watch_touch_key(kv_server *srv, const char *key, size_t len) { (void)srv; (void)key; (void)len; }
void watch_touch_all(kv_server *srv) { (void)srv; }
void watch_unwatch_all(kv_client *c) { (void)c; }
