/* http1.h — sans-I/O HTTP/1.1 message heads on top of llhttp: parse, validate, rewrite. */
#ifndef HALO_GW_HTTP1_H
#define HALO_GW_HTTP1_H

#include "../common/buf.h"

#include <llhttp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Most header fields one message head may carry (431 / bad response beyond).
 * Real clients send 10-30; nginx's default buffers hold about 100. */
#define H1_MAX_HEADERS 128

/* Largest response head an upstream may send (a bad response beyond): the
 * same order as the default request-head limit. */
#define H1_MAX_RESPONSE_HEAD (64 * 1024)

/* Connection: tokens remembered per head (hop-by-hop names to strip);
 * more are ignored, which only keeps a few extra headers. */
#define H1_MAX_CONN_TOKENS 16

/* A run of bytes inside h1_head.store. */
typedef struct h1_span {
    uint32_t off, len;
} h1_span;

/* Header names the gateway itself reads or rewrites, recognised once per header
 * when the head is parsed, so forwarding a head compares no names. */
enum h1_hdr_kind {
    H1H_OTHER,
    /* hop-by-hop by definition (RFC 9110 7.6.1): H1H_CONNECTION..H1H_TRANSFER_ENCODING */
    H1H_CONNECTION, H1H_KEEP_ALIVE, H1H_PROXY_CONNECTION, H1H_TE, H1H_TRAILER, H1H_UPGRADE,
    H1H_TRANSFER_ENCODING,
    H1H_HOST, H1H_VIA, H1H_X_FORWARDED_FOR, H1H_X_FORWARDED_PROTO, H1H_EXPECT, H1H_COOKIE,
    /* framing: never forwarded as received, written from the parsed length */
    H1H_CONTENT_LENGTH,
};

typedef struct h1_header {
    h1_span name, value; /* value without leading/trailing whitespace */
    int kind;            /* enum h1_hdr_kind of name */
} h1_header;

/* One parsed message head. store holds the head's bytes as received; spans
 * point into it; the parser owns it. */
typedef struct h1_head {
    buf store;
    h1_span url;                      /* requests: request-target as sent */
    h1_span reason;                   /* responses: reason phrase */
    int method;                       /* requests: enum llhttp_method */
    int status;                       /* responses */
    int major, minor;                 /* HTTP version */
    int nhdr;
    /* Framing, from llhttp at the end of the head. */
    bool chunked;                     /* Transfer-Encoding: chunked (validated) */
    bool has_length;                  /* Content-Length present (validated, single) */
    uint64_t content_length;
    bool keep_alive;                  /* the connection may carry another message */
    bool upgrade;                     /* Upgrade/CONNECT: not proxied, closes after */
    bool expect_continue;             /* Expect: 100-continue */
    /* Last, so that starting a new head clears everything before it and leaves
     * these 2.5 KiB alone: entries at nhdr and beyond are undefined. */
    h1_header hdr[H1_MAX_HEADERS];
} h1_head;

/* Pointer to a span's bytes. */
static inline const char *h1_str(const h1_head *h, h1_span s) { return h->store.data + s.off; }

/* Value of the first header named name (case-insensitive), or NULL. */
const char *h1_get(const h1_head *h, const char *name, size_t *len);
/* How many headers are named name. */
int h1_count(const h1_head *h, const char *name);
/* Value of cookie name from the Cookie headers, or NULL. */
const char *h1_cookie(const h1_head *h, const char *name, size_t *len);
/* Whether the method is idempotent (RFC 9110 9.2.2): GET HEAD OPTIONS PUT DELETE TRACE. */
bool h1_idempotent(int method);
/* Whether a header name is hop-by-hop by definition (RFC 9110 7.6.1). */
bool h1_is_hop_by_hop(const char *name, size_t len);
/* The enum h1_hdr_kind of a header name (case-insensitive). */
int h1_header_kind(const char *name, size_t len);

/* Where a request goes: host (from an absolute-form target, else Host, port
 * kept), the origin-form path with query, and the path without query (for
 * routing). Pointers are into the head's store or static strings. */
typedef struct h1_target {
    const char *host, *path;
    size_t host_len, path_len, route_path_len;
} h1_target;
void h1_request_target(const h1_head *h, h1_target *t);

/* ---- parser ---- */

enum h1_kind { H1_REQUEST, H1_RESPONSE };

typedef struct h1_limits {
    uint64_t max_head_bytes;  /* start line + headers; 431 (requests) beyond */
    uint64_t max_url_bytes;   /* requests: 414 beyond; 0 = only the head limit */
    uint64_t max_body_bytes;  /* decoded body; 413 beyond; 0 = unlimited */
} h1_limits;

/* Parser states (h1_parser.state):
 *   H1S_HEAD  reading a head; bytes are copied into head.store
 *             --head complete--> H1S_BODY (or H1S_DONE if there is no body)
 *   H1S_BODY  body bytes pass through; --message complete--> H1S_DONE
 *   H1S_DONE  one message done; the next h1_feed starts the next message
 *   H1S_ERROR terminal: err_status/err_reason say why                        */
enum { H1S_HEAD, H1S_BODY, H1S_DONE, H1S_ERROR };

typedef enum { H1_AGAIN, H1_HEAD, H1_BODY, H1_DONE, H1_ERROR } h1_ev;

typedef struct h1_parser {
    llhttp_t ll;
    enum h1_kind kind;
    h1_limits lim;
    int state;
    bool paused;              /* llhttp returned HPE_PAUSED and awaits resume */
    bool ev_head, ev_done;    /* set by callbacks, read after llhttp_execute */
    bool after_lf;            /* the last head byte scanned was LF (obs-fold check) */
    int last_cb;              /* which header callback ran last (span joining) */
    uint64_t field_len;       /* length of the header name being read */
    uint64_t head_bytes;      /* bytes of the current head consumed so far */
    uint64_t body_bytes;      /* decoded body bytes of the current message */
    bool skip_body;           /* responses: the request was HEAD (no body follows) */
    bool last_chunk;          /* the chunk being read is the last one (size 0) */
    char last_byte;           /* the last head byte scanned (bare-LF check across reads) */
    buf *body_out;            /* when set, decoded body bytes are appended here */
    buf *chunked_out;         /* when set, a chunked body is re-framed here: see h1_feed */
    int err_status;           /* H1_ERROR: the status to answer (requests) */
    const char *err_reason;   /* H1_ERROR: static text for logs and the error body */
    const char *raw_base;     /* the bytes llhttp runs over now ... */
    uint32_t raw_off;         /* ... start at this offset of head.store (head only) */
    h1_head head;             /* last: see h1_head.hdr */
} h1_parser;

void h1_parser_init(h1_parser *p, enum h1_kind kind, const h1_limits *lim);
void h1_parser_free(h1_parser *p);
/* Start over for a new connection (keeps kind and limits). */
void h1_parser_reset(h1_parser *p);

/* Feed bytes; *used says how many were consumed. Events:
 *   H1_AGAIN  all consumed, need more (head incomplete, or len == 0 in a body)
 *   H1_HEAD   the head is complete and in p->head; *used ends at the head. The
 *             message may be complete already: check h1_done(p).
 *   H1_BODY   data[0..*used) are raw body bytes (with chunk framing, as sent)
 *   H1_DONE   data[0..*used) end the message; the next feed starts the next one
 *   H1_ERROR  malformed or over a limit: err_status and err_reason say which
 * The caller forwards raw body bytes as they are (llhttp validated framing),
 * or, with p->body_out set, takes the decoded body from there. With
 * p->chunked_out set, a chunked body is also written there re-framed: the
 * chunk sizes as received, chunk extensions and trailer fields left out, and
 * the last chunk as "0\r\n\r\n" — what a proxy forwards instead of the raw
 * bytes, so that nothing but framing it wrote itself reaches the next hop.
 * Responses to HEAD (skip_body) and with status 1xx, 204 or 304 have no body
 * whatever their framing headers say (RFC 9112 6.3). */
h1_ev h1_feed(h1_parser *p, const char *data, size_t len, size_t *used);
/* The peer closed: completes a close-delimited body (H1_DONE) or fails. */
h1_ev h1_finish(h1_parser *p);
static inline bool h1_done(const h1_parser *p) { return p->state == H1S_DONE; }
/* Whether the current body ends only at the peer's close. */
bool h1_needs_eof(const h1_parser *p);

/* ---- writing heads ---- */

/* How to forward a request upstream. */
typedef struct h1_fwd_req {
    const char *client_ip;    /* appended to X-Forwarded-For */
    const char *proto;        /* X-Forwarded-Proto, e.g. "http" */
    const char *host;         /* Host to send when the client sent none (HTTP/1.0) */
    bool strip_expect;        /* the gateway answers 100-continue itself */
} h1_fwd_req;

/* Write the upstream request head: "METHOD origin-path HTTP/1.1", headers
 * without hop-by-hop ones (Connection and what it lists, Keep-Alive,
 * Proxy-Connection, TE, Trailer, Upgrade), the framing from the parsed head
 * (Content-Length: n or Transfer-Encoding: chunked; the received framing
 * headers are never copied, and Connection cannot remove them or Host),
 * X-Forwarded-For with the client appended, X-Forwarded-Proto replaced,
 * Via: 1.1 halo appended. */
void h1_write_request(const h1_head *h, const h1_fwd_req *o, buf *out);

/* How to forward a response to the client. */
typedef struct h1_fwd_resp {
    bool close;               /* send Connection: close (the client connection ends) */
    bool keep_alive_10;       /* HTTP/1.0 client kept alive: Connection: keep-alive */
    bool dechunk;             /* body is sent decoded and close-delimited */
} h1_fwd_resp;

/* Write the client response head: "HTTP/1.1 status reason", headers without
 * hop-by-hop ones, the framing from the parsed head (Content-Length: n, or
 * Transfer-Encoding: chunked unless dechunked; neither for 1xx and 204,
 * RFC 9110 8.6, 6.1), Via added. */
void h1_write_response(const h1_head *h, const h1_fwd_resp *o, buf *out);

/* A complete error response with a short text body: "<status> <reason>: detail".
 * no_body: the request was HEAD (Content-Length kept, body left out). */
void h1_write_error(int status, const char *detail, bool close, bool no_body, buf *out);

/* Reason phrase for a status ("Bad Gateway"), or "Unknown". */
const char *h1_status_text(int status);

#endif
