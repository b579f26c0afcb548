/* PLACEHOLDER until the module lands: compiles, does nothing. */
#include "metrics_http.h"
int metrics_http_start(struct kv_server *srv, const char *host, int port, kv_metrics_http **out)
{ (void)srv; (void)host; (void)port; *out = 0; return 0; }
void metrics_http_stop(kv_metrics_http *m) { (void)m; }
