/* http_req.c — incremental HTTP/1.x request-head parser: request line and header syntax only. */
#include "http_req.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

void http_req_init(http_req *r) { memset(r, 0, sizeof(*r)); }

/* token characters, RFC 9110 §5.6.2 */
static bool is_tchar(unsigned char ch)
{
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9'))
        return true;
    return ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

/* visible US-ASCII: what a request-target may contain (RFC 3986 is ASCII) */
static bool is_vchar(unsigned char ch) { return ch > 0x20 && ch < 0x7f; }

/* field-value bytes: VCHAR, obs-text, SP, HTAB (RFC 9110 §5.5) */
static bool is_field_byte(unsigned char ch)
{
    return ch == ' ' || ch == '\t' || (ch > 0x20 && ch != 0x7f);
}

/* Reduce "http://host:port/p?q" to "/p?q"; origin-form and "*" pass as is. */
static bool target_to_origin(const char **t, size_t *len)
{
    const char *p = *t;
    size_t n = *len;
    if (p[0] == '/' || (n == 1 && p[0] == '*')) return true;
    size_t skip;
    if (n >= 7 && strncasecmp(p, "http://", 7) == 0) skip = 7;
    else if (n >= 8 && strncasecmp(p, "https://", 8) == 0) skip = 8;
    else return false;
    size_t i = skip;
    while (i < n && p[i] != '/' && p[i] != '?') i++;
    if (i == skip) return false; /* empty authority */
    if (i == n) { /* no path: it is "/" (RFC 9112 §3.2.4) */
        *t = "/";
        *len = 1;
        return true;
    }
    if (p[i] == '?') return false; /* "http://h?q": legal but never sent; refused */
    *t = p + i;
    *len = n - i;
    return true;
}

static bool parse_target(http_req *r, const char *t, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!is_vchar((unsigned char)t[i]) || t[i] == '#') return false;
    if (!target_to_origin(&t, &len)) return false;
    const char *q = memchr(t, '?', len);
    r->path = t;
    r->path_len = q ? (size_t)(q - t) : len;
    r->query = q ? q + 1 : NULL;
    r->query_len = q ? len - r->path_len - 1 : 0;
    return true;
}

static bool parse_version(http_req *r, const char *v, size_t len)
{
    if (len != 8 || memcmp(v, "HTTP/", 5) != 0 || v[6] != '.') return false;
    if (v[5] < '0' || v[5] > '9' || v[7] < '0' || v[7] > '9') return false;
    r->version_major = v[5] - '0';
    r->version_minor = v[7] - '0';
    return true;
}

/* request-line = method SP request-target SP HTTP-version (RFC 9112 §3) */
static bool parse_request_line(http_req *r, const char *line, size_t len)
{
    size_t i = 0;
    while (i < len && is_tchar((unsigned char)line[i])) i++;
    if (i == 0 || i > HTTP_REQ_MAX_METHOD || i == len || line[i] != ' ') return false;
    r->method = line;
    r->method_len = i;
    const char *target = line + i + 1;
    const char *end = line + len;
    const char *sp = memchr(target, ' ', (size_t)(end - target));
    if (sp == NULL || sp == target) return false;
    if (!parse_target(r, target, (size_t)(sp - target))) return false;
    return parse_version(r, sp + 1, (size_t)(end - sp - 1));
}

/* field-line = field-name ":" OWS field-value OWS (RFC 9112 §5); no space
 * before the colon and no obs-fold, both of which must be rejected. */
static bool parse_header_line(const char *line, size_t len)
{
    size_t i = 0;
    while (i < len && is_tchar((unsigned char)line[i])) i++;
    if (i == 0 || i == len || line[i] != ':') return false;
    for (i++; i < len; i++)
        if (!is_field_byte((unsigned char)line[i])) return false;
    return true;
}

/* Byte-by-byte checks of the unfinished request line, so that a peer speaking
 * another protocol is refused at once rather than at the timeout. */
static bool request_line_byte_ok(http_req *r, size_t pos, unsigned char ch)
{
    if (ch == '\r') return true; /* must be followed by LF: checked on the next byte */
    if (!r->method_done) {
        if (ch == ' ' && pos > r->line_start) {
            r->method_done = 1;
            return true;
        }
        return is_tchar(ch) && pos - r->line_start < HTTP_REQ_MAX_METHOD;
    }
    return ch == ' ' || is_vchar(ch);
}

/* A complete line [line_start, end) (terminator stripped) arrived. */
static http_req_status on_line(http_req *r, const char *data, size_t end, size_t next)
{
    const char *line = data + r->line_start;
    size_t len = end - r->line_start;
    unsigned no = r->line_no++;
    r->line_start = next;
    if (no == 0) return parse_request_line(r, line, len) ? HTTP_REQ_AGAIN : HTTP_REQ_BAD;
    if (len == 0) {
        r->head_len = next;
        return HTTP_REQ_DONE;
    }
    return parse_header_line(line, len) ? HTTP_REQ_AGAIN : HTTP_REQ_BAD;
}

static http_req_status step(http_req *r, const char *data, size_t pos)
{
    unsigned char ch = (unsigned char)data[pos];
    bool after_cr = pos > r->line_start && data[pos - 1] == '\r';
    if (ch == '\n') {
        size_t end = after_cr ? pos - 1 : pos;
        return on_line(r, data, end, pos + 1);
    }
    if (after_cr) return HTTP_REQ_BAD; /* a CR not ending a line */
    if (r->line_no == 0 && !request_line_byte_ok(r, pos, ch)) return HTTP_REQ_BAD;
    return HTTP_REQ_AGAIN;
}

http_req_status http_req_parse(http_req *r, const char *data, size_t len, size_t max_head)
{
    if (r->final) return (http_req_status)r->final;
    http_req_status st = HTTP_REQ_AGAIN;
    while (r->scanned < len && st == HTTP_REQ_AGAIN) {
        if (r->scanned >= max_head) {
            st = HTTP_REQ_TOO_BIG;
            break;
        }
        st = step(r, data, r->scanned++);
    }
    if (st != HTTP_REQ_AGAIN) r->final = (int)st;
    return st;
}
