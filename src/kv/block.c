/* PLACEHOLDER until the module lands: compiles, does nothing. */
#include "subsys.h"
void block_init(kv_server *srv) { (void)srv; }
void block_free(kv_server *srv) { (void)srv; }
void block_signal_key(kv_server *srv, const char *key, size_t len) { (void)srv; (void)key; (void)len; }
void block_serve_ready(kv_server *srv) { (void)srv; }
void block_client_free(kv_client *c) { (void)c; }
void block_unblock_client(kv_client *c, bool with_error) { (void)c; (void)with_error; }
size_t block_count(kv_server *srv) { (void)srv; return 0; }
void block_for_keys(kv_client *c, const resp_arg *keys, int nkeys, int64_t timeout_ms, block_serve_fn serve)
{ (void)c; (void)keys; (void)nkeys; (void)timeout_ms; (void)serve; }
