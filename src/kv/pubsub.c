/* PLACEHOLDER until the module lands: compiles, does nothing. */
#include "cmd.h"
#include "subsys.h"
kv_cmd kv_cmds_pubsub[] = {{NULL}};
void pubsub_init(kv_server *srv) { (void)srv; }
void pubsub_free(kv_server *srv) { (void)srv; }
size_t pubsub_client_subs(const kv_client *c) { (void)c; return 0; }
void pubsub_client_free(kv_client *c) { (void)c; }
size_t pubsub_channels(kv_server *srv) { (void)srv; return 0; }
size_t pubsub_patterns(kv_server *srv) { (void)srv; return 0; }
