/* resp.h — sans-I/O parser of Redis commands: RESP multibulk arrays and inline lines. */
#ifndef HALO_RESP_H
#define HALO_RESP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct resp_arg {
    const char *ptr;
    size_t len;
} resp_arg;

typedef struct resp_span {
    size_t off, len;
} resp_span;

/* Parser state for one connection. It never copies multibulk arguments: it
 * records where they lie in the caller's buffer, so the buffer may move
 * (realloc) between calls as long as consumed bytes stay in place. */
typedef struct resp_parser {
    int64_t max_bulk_len;  /* proto-max-bulk-len */
    int64_t multibulk_len; /* arguments still expected, 0 = between commands */
    int64_t bulk_len;      /* length of the argument being read, -1 = header next */
    size_t argc, cap;
    resp_span *spans;       /* argument positions relative to the command start */
    resp_arg *argv;         /* filled when a command completes */
    char *inline_buf;       /* unescaped inline arguments live here */
    size_t inline_cap;
    const char *error;      /* message after RESP_ERR (static or errbuf) */
    char errbuf[48];
} resp_parser;

enum {
    RESP_NEED_MORE = 0, /* *consumed bytes are done with; call again with more */
    RESP_COMMAND = 1,   /* argv[0..argc) holds a command; *consumed covers it */
    RESP_ERR = -1,      /* protocol error: reply with p->error and close */
};

void resp_parser_init(resp_parser *p, int64_t max_bulk_len);
void resp_parser_free(resp_parser *p);

/* Parse from buf[0..len), which starts at the first byte not yet consumed.
 * On RESP_COMMAND the arguments point into buf (or into the parser for inline
 * commands) and stay valid until the next call or until buf changes. An empty
 * inline line is skipped silently (consumed, no command). A command may have
 * argc == 0 only never: empty multibulk "*0" is consumed and skipped. */
int resp_parse(resp_parser *p, const char *buf, size_t len, size_t *consumed);

/* Bytes the parser needs before it can make progress on a large bulk argument
 * (0 when unknown); lets the reader size its buffer once for big values. */
size_t resp_pending_bulk(const resp_parser *p);

/* Copies a command that must outlive its buffer (a queued, blocked or paused
 * command) into ONE allocation, freed with hfree: the argument array, then
 * `extra` bytes for the caller (at (char *)(copy + argc), pointer-aligned),
 * then the argument bytes, each NUL-terminated. */
resp_arg *resp_argv_dup(const resp_arg *argv, size_t argc, size_t extra);

/* Split an inline line into arguments with Redis's quoting rules (sdssplitargs):
 * "double quotes" with \n \r \t \b \a \\ \" \xHH escapes, 'single quotes'.
 * Writes unescaped bytes into out (capacity >= len) and up to max_args spans.
 * Returns the count, or -1 for unbalanced quotes, -2 for too many args. */
int resp_split_inline(const char *line, size_t len, char *out, resp_arg *args, size_t max_args);

#endif
