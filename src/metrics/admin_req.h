/* admin_req.h — one request to the admin/metrics HTTP listener, parsed by llhttp (sans I/O). */
#ifndef HALO_ADMIN_REQ_H
#define HALO_ADMIN_REQ_H

#include <llhttp.h>
#include <stdbool.h>
#include <stddef.h>

/* Longest request target (path and query) accepted; the paths served are
 * short, so a longer one is a 414, and the copy lives in the request. */
#define ADMIN_REQ_MAX_URL 256

/* What admin_req_feed returns besides an HTTP error status (400 malformed,
 * 413 request over the limit with its body, 414 target too long, 431 head
 * over the limit). */
enum { ADMIN_REQ_AGAIN = 0, ADMIN_REQ_DONE = 1 };

/* One request. After DONE: method (an llhttp_method_t), http_major, and the
 * path (the target without its query; an absolute-form target such as
 * http://host/metrics reduced to /metrics, RFC 9112 §3.2.2). The path points
 * into the request, so it lives as long as the request does. */
typedef struct admin_req {
    int method;
    int http_major;
    const char *path;
    size_t path_len;
    /* private */
    llhttp_t parser;
    size_t max_bytes, nread;
    int result;                 /* ADMIN_REQ_AGAIN until decided, then for good */
    bool head_done, complete, version_seen, url_too_long;
    size_t field_len;           /* bytes of the header name being read */
    size_t url_len;
    char url[ADMIN_REQ_MAX_URL];
} admin_req;

/* Start a request of at most max_bytes (head and body; an admin request needs
 * no body, so one is read and ignored). r may then be fed. */
void admin_req_init(admin_req *r, size_t max_bytes);

/* Feed the next len bytes of the connection. Returns AGAIN (feed more), DONE,
 * or an error status to answer with; once not AGAIN, every further call
 * returns the same. Only the first max_bytes bytes over all calls are parsed:
 * more offered before the request completes is a 413 or 431. Bytes after the
 * end of the request (pipelining) are not parsed. */
int admin_req_feed(admin_req *r, const char *data, size_t len);

#endif
