/* admin_req.c — one admin/metrics HTTP request on llhttp: limits, target copy, path. */
#include "admin_req.h"

#include <string.h>
#include <strings.h>

/* ---- llhttp callbacks ---- */

/* RFC 9110 §5.6.2 token characters. llhttp (not built in strict mode) lets a
 * space and other separators into a header name, so names are checked here. */
static bool is_tchar(unsigned char ch)
{
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9'))
        return true;
    return ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

static int on_header_field(llhttp_t *p, const char *at, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!is_tchar((unsigned char)at[i])) return HPE_USER;
    ((admin_req *)p->data)->field_len += len;
    return 0;
}

/* llhttp also takes an empty name (": x"). */
static int on_header_field_complete(llhttp_t *p)
{
    admin_req *r = p->data;
    if (r->field_len == 0) return HPE_USER;
    r->field_len = 0;
    return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t len)
{
    admin_req *r = p->data;
    if (len > sizeof(r->url) - r->url_len) {
        r->url_too_long = true;
        return HPE_USER;
    }
    memcpy(r->url + r->url_len, at, len);
    r->url_len += len;
    return 0;
}

static int on_version_complete(llhttp_t *p)
{
    ((admin_req *)p->data)->version_seen = true;
    return 0;
}

static int on_headers_complete(llhttp_t *p)
{
    ((admin_req *)p->data)->head_done = true;
    return 0;
}

/* One request per connection: pause so pipelined bytes are not parsed. */
static int on_message_complete(llhttp_t *p)
{
    ((admin_req *)p->data)->complete = true;
    return HPE_PAUSED;
}

static const llhttp_settings_t g_settings = {
    .on_url = on_url,
    .on_version_complete = on_version_complete,
    .on_header_field = on_header_field,
    .on_header_field_complete = on_header_field_complete,
    .on_headers_complete = on_headers_complete,
    .on_message_complete = on_message_complete,
};

void admin_req_init(admin_req *r, size_t max_bytes)
{
    memset(r, 0, sizeof(*r));
    r->max_bytes = max_bytes;
    llhttp_init(&r->parser, HTTP_REQUEST, &g_settings);
    r->parser.data = r;
}

/* ---- the result ---- */

/* Length of an "http://" or "https://" prefix of s[0..len), else 0. */
static size_t scheme_len(const char *s, size_t len)
{
    if (len >= 7 && strncasecmp(s, "http://", 7) == 0) return 7;
    if (len >= 8 && strncasecmp(s, "https://", 8) == 0) return 8;
    return 0;
}

/* The path the target names: the query dropped, an absolute-form target
 * reduced to the path after its authority ("/" when it has none). */
static void set_path(admin_req *r)
{
    const char *q = memchr(r->url, '?', r->url_len);
    size_t len = q ? (size_t)(q - r->url) : r->url_len;
    size_t skip = scheme_len(r->url, len);
    const char *path = r->url;
    if (skip) {
        path = memchr(r->url + skip, '/', len - skip);
        if (path == NULL) path = "/", len = 1;
        else len -= (size_t)(path - r->url);
    }
    r->path = path;
    r->path_len = len;
}

/* A complete request. One without an HTTP version (an HTTP/0.9 simple
 * request, which llhttp accepts) is malformed HTTP/1.x: 400. */
static int finish(admin_req *r)
{
    if (!r->version_seen) return 400;
    r->method = llhttp_get_method(&r->parser);
    r->http_major = llhttp_get_http_major(&r->parser);
    set_path(r);
    return ADMIN_REQ_DONE;
}

/* Decide after llhttp returned e; over = bytes past max_bytes were offered. */
static int classify(admin_req *r, llhttp_errno_t e, bool over)
{
    if (r->complete) return finish(r);
    if (r->url_too_long) return 414;
    if (e != HPE_OK) return 400;
    if (over) return r->head_done ? 413 : 431;
    return ADMIN_REQ_AGAIN;
}

int admin_req_feed(admin_req *r, const char *data, size_t len)
{
    if (r->result != ADMIN_REQ_AGAIN) return r->result;
    size_t room = r->max_bytes - r->nread;
    size_t n = len < room ? len : room;
    r->nread += n;
    llhttp_errno_t e = n ? llhttp_execute(&r->parser, data, n) : HPE_OK;
    r->result = classify(r, e, len > n);
    return r->result;
}
