/* net.h — the data node's listeners and client I/O (libuv adapter). */
#ifndef HALO_KV_NET_H
#define HALO_KV_NET_H

#include "server.h"

/* Listen on every address of cfg.bind; 0 when at least the required ones work. */
int net_listen(kv_server *srv);
void net_close_listeners(kv_server *srv);
void net_close_all_clients(kv_server *srv);
/* Flush AOF and every pending reply now (shutdown, tests). */
void net_flush_all(kv_server *srv);
/* Per cron tick: close clients idle longer than cfg.timeout_s and release
 * idle clients' empty query buffers. */
void net_clients_cron(kv_server *srv);

#endif
