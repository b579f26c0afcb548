/* http_req.h — a sans-I/O, incremental parser of an HTTP/1.x request head (RFC 9112 §2-5). */
#ifndef HALO_HTTP_REQ_H
#define HALO_HTTP_REQ_H

#include <stddef.h>

/* What http_req_parse says about the bytes seen so far. */
typedef enum http_req_status {
    HTTP_REQ_AGAIN,   /* head not complete yet: feed more bytes */
    HTTP_REQ_DONE,    /* head complete and well formed; fields below are set */
    HTTP_REQ_BAD,     /* malformed: answer 400 */
    HTTP_REQ_TOO_BIG, /* head longer than max_head: answer 431 */
} http_req_status;

/* Longest method token we accept; longer ones are malformed (no real method is). */
#define HTTP_REQ_MAX_METHOD 16

/* Parser state and result. Zero it (http_req_init) before the first call.
 *
 * States (line_no): 0 = reading the request line, >0 = reading header fields;
 * the empty line after the headers ends the head (DONE). Every complete line is
 * validated as soon as its terminator arrives, so garbage fails fast; the
 * unfinished first line is also checked byte by byte for the same reason.
 * Lines end in CRLF or a bare LF (RFC 9112 §2.2 lets a recipient accept LF);
 * a CR anywhere else is malformed. Obsolete line folding is malformed. */
typedef struct http_req {
    /* results, valid after DONE; they point into the caller's data */
    const char *method;
    size_t method_len;
    const char *path;      /* origin-form path; absolute-form is reduced to it */
    size_t path_len;
    const char *query;     /* after '?', without it; NULL if none */
    size_t query_len;
    int version_major, version_minor;
    size_t head_len;       /* bytes of the head including the final empty line */
    /* private */
    size_t line_start;     /* offset of the line being read */
    size_t scanned;        /* bytes already looked at */
    unsigned line_no;
    int method_done;       /* request line: the SP after the method was seen */
    int final;             /* 0 while AGAIN, else the status returned for good */
} http_req;

void http_req_init(http_req *r);

/* Parse data[0..len), the whole request received so far (each call passes the
 * same prefix plus any new bytes; the caller keeps them in one buffer). Work is
 * linear in the total length over all calls. A head whose end would lie past
 * max_head bytes is TOO_BIG. After DONE, BAD or TOO_BIG, further calls return
 * the same status. Bytes after the head (a body) are not looked at. */
http_req_status http_req_parse(http_req *r, const char *data, size_t len, size_t max_head);

#endif
