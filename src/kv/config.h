/* config.h — `halo kv` directives: file of "directive value" lines and --directive flags. */
#ifndef HALO_KV_CONFIG_H
#define HALO_KV_CONFIG_H

#include "server.h"
#include "../common/buf.h"

void config_defaults(kv_config *cfg);
void config_free(kv_config *cfg);
/* Parse a config file's text; errors name file and line. Returns 0 or -HALO_ECONFIG
 * with the message in err. */
int config_load_text(kv_config *cfg, const char *text, size_t len, const char *fname, buf *err);
int config_load_file(kv_config *cfg, const char *path, buf *err);
/* Parse argv: an optional config file path first, then --directive value... */
int config_load_args(kv_config *cfg, int argc, char **argv, char **config_file, buf *err);
/* Check cross-field consistency after loading. */
int config_validate(const kv_config *cfg, buf *err);
/* CONFIG SET: only directives marked runtime-settable. 0 or -HALO_E*, err has a message. */
int config_set(kv_server *srv, const char *name, const char *value, buf *err);
/* CONFIG GET with a glob pattern: appends name, value pairs; returns pairs added. */
typedef void (*config_pair_fn)(const char *name, const char *value, void *priv);
int config_get(const kv_config *cfg, const char *pattern, size_t plen, config_pair_fn fn, void *priv);
/* Parse a memory size as Redis does: 100, 1k, 1kb, 1m, 1mb, 1g, 1gb. */
bool config_parse_memory(const char *s, int64_t *out);

#endif
