/* PLACEHOLDER until the module lands: compiles, does nothing. */
#include "cmd.h"
#include "types.h"
kv_cmd kv_cmds_list[] = {{NULL}};
static void f(void *o) { (void)o; }
static void *d(const void *o) { (void)o; return NULL; }
static size_t l(const void *o) { (void)o; return 0; }
static void r(const void *o, const char *k, size_t kl, buf *b) { (void)o; (void)k; (void)kl; (void)b; }
const kv_type_ops tlist_ops = {f, d, l, r, l};
