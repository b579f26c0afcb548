/* PLACEHOLDER until the module lands: compiles, does nothing. */
#include "subsys.h"
void info_render(kv_server *srv, kv_client *c, int argc, const resp_arg *sections, buf *out)
{ (void)srv; (void)c; (void)argc; (void)sections; buf_append_str(out, "# Server\r\n"); }
