/* accesslog.h — one line per request, written by each worker without locks. */
#ifndef HALO_GW_ACCESSLOG_H
#define HALO_GW_ACCESSLOG_H

#include "../common/buf.h"

#include <stddef.h>
#include <stdint.h>

typedef struct gw_accesslog gw_accesslog;

/* What one line says. Strings may be NULL ("-"); url/agent/referer are
 * length-delimited (not NUL-terminated) and escaped when written. */
typedef struct gw_access_entry {
    const char *client_ip;
    const char *method;
    const char *url;
    size_t url_len;
    int major, minor;
    int status;                 /* 0: no response was sent (client left, connection cut) */
    uint64_t bytes_sent;        /* bytes written to the client, head included */
    const char *referer, *agent;
    size_t referer_len, agent_len;
    const char *upstream;       /* endpoint address, NULL when none was tried */
    const char *cluster;
    int attempts;
    int64_t duration_us;
} gw_access_entry;

/* Open the log named in the config: "stderr" or a file path (appended,
 * created 0644). NULL or "off" gives NULL with no error. On failure returns
 * NULL and puts the reason in err (err->len > 0). */
gw_accesslog *accesslog_open(const char *where, buf *err);
void accesslog_close(gw_accesslog *a);

/* Write one line with one write(2): lines of concurrent workers never mix
 * (O_APPEND, and each line is far below the size the kernel writes whole). */
void accesslog_write(gw_accesslog *a, const gw_access_entry *e);

/* Format the line into out (for tests); returns its length. */
size_t accesslog_format(const gw_access_entry *e, int64_t now_s, char *out, size_t cap);

#endif
