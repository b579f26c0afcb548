/* PLACEHOLDER until the module lands: compiles, does nothing. */
#include "cmd.h"
kv_cmd kv_cmds_keys[] = {{NULL}};
