/* handover.h — zero-downtime process replacement: listening sockets passed to a successor
 * over a Unix socket with SCM_RIGHTS (as HAProxy's -x and Envoy's hot restart do). */
#ifndef HALO_GW_HANDOVER_H
#define HALO_GW_HANDOVER_H

#include "../common/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

/* The protocol, on an AF_UNIX SOCK_SEQPACKET socket (message boundaries kept,
 * so every message is read whole or not at all), one exchange per connection:
 *
 *   fetch:    successor -> REQ_FDS
 *             old       -> FDS (up to HANDOVER_FDS_PER_MSG sockets each,
 *                          their addresses in the payload, the descriptors
 *                          in SCM_RIGHTS) ... then END(total), or ERR(text)
 *   release:  successor -> RELEASE
 *             old       -> closes and unlinks its control socket, ACK, then
 *                          calls the owner's done callback (drain), or ERR
 *
 * Both processes accept from the same kernel sockets between fetch and
 * release; the sockets are never closed, so no connection is refused.
 * RELEASE is accepted only from a process (SO_PEERCRED pid) that fetched the
 * sockets, so a stray release cannot make the only gateway drain. Only a peer with our uid (or root) is
 * served (SO_PEERCRED); the socket file is created mode 0600. */

/* Sockets per FDS message: far under the kernel's SCM_MAX_FD (253), and the
 * message stays a few KiB. */
#define HANDOVER_FDS_PER_MSG 16
/* Most sockets one hand-over carries: 256 workers x 64 listeners (the
 * config's limits) plus the admin listener. */
#define HANDOVER_MAX_FDS (256 * 64 + 1)
/* Longest error text in an ERR message. */
#define HANDOVER_MAX_TEXT 256
/* Longest message on the wire: header + HANDOVER_FDS_PER_MSG addresses. */
#define HANDOVER_MAX_MSG (12 + HANDOVER_FDS_PER_MSG * 24)
/* The successor's blocking calls give up after this long without progress;
 * the old process closes a control connection idle for this long. */
#define HANDOVER_TIMEOUT_MS 5000
/* Control connections served at once; more are closed at accept. */
#define HANDOVER_MAX_CONNS 4

/* A received listening socket and the address it is bound to (getsockname
 * in the old process, checked again on receipt). */
typedef struct handover_fd {
    int fd;                         /* -1 once taken (handover_take) */
    struct sockaddr_storage addr;
    socklen_t addrlen;
} handover_fd;

/* ---- old process: serve hand-over requests on the main loop ---- */

typedef struct handover_server handover_server;

/* Fill fds[0..max) with the listening sockets to offer, in a stable order
 * (the successor matches them by address, in this order for equal
 * addresses); return how many, or a negative value to refuse. The server
 * duplicates them at once, so ownership stays with the caller. */
typedef int (*handover_get_fds_fn)(void *ctx, int *fds, int max);
/* The successor announced take-over complete. The control socket is already
 * closed and unlinked and the ACK sent, so the successor may bind the path
 * again. The owner now stops accepting and drains. It may call
 * handover_serve_stop from here. */
typedef void (*handover_done_fn)(void *ctx);

/* Listen on the Unix socket path (a stale socket file left by a dead process
 * is replaced; a live one or a non-socket file is an error). Returns 0 and
 * *out, or -1 with the reason in err. */
int handover_serve_start(uv_loop_t *loop, const char *path, handover_get_fds_fn get_fds,
                         handover_done_fn done, void *ctx, handover_server **out, buf *err);
/* Stop serving: close the control socket and its connections, unlink the
 * path if it is still ours. Memory is released by the close callbacks, so the
 * loop must run once more. NULL and repeated calls are fine. */
void handover_serve_stop(handover_server *s);
/* Whether a successor has fetched the sockets (then released, or not yet). */
int handover_serve_fetches(const handover_server *s);

/* ---- new process: blocking calls, at start-up before the loops run ---- */

/* Connect to path, ask for the listening sockets and receive them into
 * fds[0..max), *n set to how many. Every received socket is checked to be a
 * listening stream socket bound to the declared address. Returns 0, or -1
 * with the reason in err and nothing left open. The caller owns the fds. */
int handover_fetch(const char *path, handover_fd *fds, int max, int *n, buf *err);
/* Tell the old process the take-over is complete; returns 0 once it has
 * acknowledged (its control socket is gone, so the path may be bound), or -1
 * with the reason in err (err may be NULL). */
int handover_release(const char *path, buf *err);

/* ---- matching received sockets to one's own listeners (pure) ---- */

/* Same family, port and address (and IPv6 scope). */
bool handover_addr_eq(const struct sockaddr *a, const struct sockaddr *b);
/* Take the first fd in fds[0..n) bound to addr out of the array (its slot
 * becomes -1) and return it; -1 when none is left. */
int handover_take(handover_fd *fds, int n, const struct sockaddr *addr);
/* Close every fd still in the array (those not taken). */
void handover_close_all(handover_fd *fds, int n);

/* ---- the wire format (sans I/O; exposed for tests) ---- */

enum { HO_REQ_FDS = 1, HO_FDS, HO_END, HO_RELEASE, HO_ACK, HO_ERR };

typedef struct handover_msg {
    int type;
    uint32_t total;                 /* END: sockets sent in all */
    int naddrs;                     /* FDS: addresses (and descriptors) in this message */
    struct sockaddr_storage addrs[HANDOVER_FDS_PER_MSG];
    char text[HANDOVER_MAX_TEXT + 1]; /* ERR: NUL-terminated */
} handover_msg;

/* Encode m into out[0..cap); returns the length, or 0 if it does not fit or
 * m is invalid (unknown type, too many addresses, a non-IP address). */
size_t handover_encode(const handover_msg *m, uint8_t *out, size_t cap);
/* Decode one whole message; returns 0, or -1 when it is malformed in any
 * way (magic, version, type, count, length, address family, padding). */
int handover_decode(const uint8_t *in, size_t len, handover_msg *m);

#endif
