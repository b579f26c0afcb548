/* limits.h — every limit on what a client or file may declare, with the reason for each. */
#ifndef HALO_LIMITS_H
#define HALO_LIMITS_H

/* Largest element count a client may declare for one command (*N). Redis
 * allows up to 1024*1024*1024; we keep the same ceiling so its clients work,
 * but never preallocate from it (see HALO_ARGV_PREALLOC_MAX). */
#define HALO_MAX_MULTIBULK_LEN (1024L * 1024 * 1024)

/* We preallocate argv for at most this many arguments before the bytes arrive;
 * larger commands grow as arguments actually come in (Redis: min(n, 1024)). */
#define HALO_ARGV_PREALLOC_MAX 1024

/* Default for proto-max-bulk-len (largest single bulk string), as Redis: 512 MiB. */
#define HALO_DEFAULT_PROTO_MAX_BULK_LEN (512LL * 1024 * 1024)

/* An inline command (telnet style) line may not exceed this: a client that
 * sends this much without a newline is not speaking the inline protocol. */
#define HALO_MAX_INLINE_LEN (64 * 1024)

/* An unfinished multibulk header line ("*123\r\n" / "$123\r\n") longer than
 * this is garbage, not a number. */
#define HALO_MAX_HEADER_LINE 64

/* Nesting depth a RESP value may have (only replies and the AOF nest;
 * commands are flat arrays). Bounds parser recursion and stack use. */
#define HALO_MAX_RESP_DEPTH 32

/* Query buffer a single client may hold before it is disconnected, as Redis
 * client-query-buffer-limit: 1 GiB. Also bounded by proto-max-bulk-len. */
#define HALO_DEFAULT_QUERYBUF_MAX (1024LL * 1024 * 1024)

/* Default output-buffer hard limit for normal clients: 0 = unlimited in Redis;
 * we default to 256 MiB so one slow reader cannot exhaust memory. */
#define HALO_DEFAULT_OBUF_HARD_MAX (256LL * 1024 * 1024)

/* Pub/sub clients: 32 MiB hard, as Redis's default class limit. */
#define HALO_DEFAULT_OBUF_PUBSUB_MAX (32LL * 1024 * 1024)

/* A config file line longer than this is an error, not a directive. */
#define HALO_MAX_CONFIG_LINE 4096

/* Largest string value after SETRANGE/APPEND, as Redis: 512 MiB. */
#define HALO_MAX_STRING_LEN (512LL * 1024 * 1024)

/* Members returned by one SCAN step are bounded by COUNT, itself capped. */
#define HALO_MAX_SCAN_COUNT 100000

/* Keys tracked by one client's WATCH and channels by one client's SUBSCRIBE
 * are naturally bounded by argv size; blocking commands by argc as well. */

/* The admin/metrics HTTP listener of both services (src/metrics/admin_http.c)
 * reads at most this much of a request, head and body: a longer head is a 431,
 * a longer request a 413. */
#define HALO_MAX_HTTP_REQUEST 8192

#endif
