/* aof_format.h — the AOF's on-disk format without I/O: checksummed batches of RESP commands, and the manifest. */
#ifndef HALO_AOF_FORMAT_H
#define HALO_AOF_FORMAT_H

#include "../common/buf.h"
#include "../proto/resp.h"
#include "../repl/repl_sm.h" /* repl_history, the type of a position record */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A batch is the bytes of zero or more RESP commands followed by a checksum
 * record, itself a RESP command no client can send:
 *     *2\r\n$7\r\nHALOCRC\r\n$8\r\n<crc32 of the batch's command bytes, 8 lower-case hex>\r\n
 * A batch is applied on load only once its checksum matched, so a batch
 * (one flush, or one MULTI/EXEC) is all-or-nothing. */
#define AOF_CRC_NAME "HALOCRC"
#define AOF_CRC_RECORD_LEN 31

/* Append data[0..len) and its checksum record to out: one batch. */
void aof_frame_batch(buf *out, const char *data, size_t len);
/* Make b[start..len) a batch: append the checksum record of those bytes. */
void aof_seal_batch(buf *b, size_t start);
uint32_t aof_crc32(const char *data, size_t len);

/* A position record names the replication position (a repl_history) of the
 * stream at the point where it stands. Like the checksum record it is a RESP
 * command no client can send, and it sits inside a batch (covered by its
 * checksum):
 *     *<3+2n> $7 HALOPOS <end> <n> <epoch1> <start1> ... <epochN> <startN>
 * every number an unsigned decimal without leading zeros. It is not part of
 * the replication stream: the stream's offsets count the bytes of command
 * records only, never of HALOCRC or HALOPOS records. */
#define AOF_POS_NAME "HALOPOS"
/* Longest HALOPOS record: its header and REPL_MAX_HISTORY segments of 20-digit numbers. */
#define AOF_POS_RECORD_MAX (16 + 13 + (2 + 2 * REPL_MAX_HISTORY) * 27)

/* Whether pos may be written: 0 <= n <= REPL_MAX_HISTORY, epochs and starts
 * strictly ascending, every start <= end (the rules repl_sm applies to a
 * history received from the network). */
bool aof_pos_valid(const repl_history *pos);
/* Append the HALOPOS record of pos (a valid one) to out: a command, not a
 * batch; the caller frames it with others. */
void aof_format_pos(buf *out, const repl_history *pos);
/* Whether argv is a HALOPOS record (argv[0] is the name). */
bool aof_is_pos_record(int argc, const resp_arg *argv);
/* Parse a HALOPOS record into *out: NULL, or what is wrong with it. */
const char *aof_parse_pos(int argc, const resp_arg *argv, repl_history *out);

/* Argument storage reused from command to command; it grows only with
 * arguments actually present in the input, never from a declared count. */
typedef struct aof_parser {
    resp_arg *argv;
    size_t argc, cap;
} aof_parser;

void aof_parser_init(aof_parser *p);
void aof_parser_free(aof_parser *p);

enum { AOF_CMD_BAD = -1, AOF_CMD_INCOMPLETE = 0, AOF_CMD_OK = 1 };
/* Parse the RESP command starting at data[off]. OK: p->argv points into data,
 * *end is the offset after it. INCOMPLETE: its bytes run past len. BAD: the
 * bytes are not a well-formed command; *err_off is the first wrong byte and
 * *err says what was expected. */
int aof_parse_cmd(aof_parser *p, const char *data, size_t len, size_t off, size_t *end,
                  size_t *err_off, const char **err);

/* Called for each command of a verified batch, in order; off is where the
 * command starts. A nonzero return stops the scan (status AOF_SCAN_STOPPED).
 * Checksum and position records are the scanner's own: never handed to it. */
typedef int (*aof_apply_fn)(void *priv, int argc, const resp_arg *argv, size_t off);

enum {
    AOF_SCAN_OK = 0,      /* every byte belongs to a verified batch */
    AOF_SCAN_TORN = 1,    /* the data ends inside a batch: bytes from good_len on are an
                             unfinished write (incomplete command, no checksum yet, or a
                             run of NUL bytes to the end, as a power loss can leave) */
    AOF_SCAN_CORRUPT = 2, /* malformed bytes or a checksum mismatch at err_off */
    AOF_SCAN_STOPPED = 3, /* the apply function returned apply_rc at err_off */
};

typedef struct aof_scan_result {
    int status;
    size_t good_len;   /* end of the last verified (and applied) batch */
    size_t err_off;    /* CORRUPT/STOPPED: where; TORN: where the parse gave up */
    const char *err;   /* CORRUPT: what is wrong (static string) */
    int apply_rc;
    uint64_t batches, commands; /* commands: those handed to fn */
    /* The position where the applied batches end: the last HALOPOS record
     * applied (has_pos), and the bytes of the commands applied after it, or
     * of all applied commands when there was none. A cut batch is never
     * applied, so it counts for nothing. */
    bool has_pos;
    repl_history pos;
    uint64_t cmd_bytes;
    uint64_t positions; /* HALOPOS records applied */
} aof_scan_result;

/* Verify and apply every batch of data[0..len); fn may be NULL (verify
 * only). A malformed HALOPOS record is corruption. */
void aof_scan(const char *data, size_t len, aof_apply_fn fn, void *priv, aof_scan_result *res);

/* The position record of the first batch of a BASE-format file, from its
 * first bytes data[0..len): NULL and *out, or why there is none (the first
 * batch is cut, corrupt, or holds no HALOPOS). Files written by snap_fork
 * and rewrites with a position start with a batch holding only it. */
const char *aof_head_pos(const char *data, size_t len, repl_history *out);

/* ---- manifest: which files make up the AOF, one line each, in order ----
 *     file <name> seq <n> type b      (exactly one BASE file, first)
 *     file <name> seq <n> type i      (INCR files, seq increasing)
 * '#' lines are comments. The format follows Redis 7's manifest. */

/* Longest file name a manifest may hold (a file name component on Linux). */
#define AOF_NAME_MAX 255
/* A manifest larger than this is not one we wrote: each rewrite leaves at
 * most a few lines, so this bounds the read before parsing. */
#define AOF_MANIFEST_MAX_BYTES (1024 * 1024)

typedef struct aof_file_ent {
    char name[AOF_NAME_MAX + 1];
    int64_t seq;
} aof_file_ent;

typedef struct aof_manifest {
    aof_file_ent base;
    aof_file_ent *incr; /* in replay order; the last one receives appends */
    size_t nincr, cap;
} aof_manifest;

void aof_manifest_init(aof_manifest *m);
void aof_manifest_free(aof_manifest *m);
void aof_manifest_copy(aof_manifest *dst, const aof_manifest *src);
/* Parse text[0..len). Returns 0, or -HALO_ECORRUPT with a message in err. */
int aof_manifest_parse(aof_manifest *m, const char *text, size_t len, char *err, size_t errcap);
void aof_manifest_format(const aof_manifest *m, buf *out);
/* Append an INCR entry (names checked by the caller). */
void aof_manifest_push_incr(aof_manifest *m, const aof_file_ent *e);
/* Largest seq named by the manifest. */
int64_t aof_manifest_max_seq(const aof_manifest *m);
/* Whether name is listed. */
bool aof_manifest_has(const aof_manifest *m, const char *name);

/* "<prefix>.<seq>.base.aof" / ".incr.aof" into out; false if it does not fit. */
bool aof_file_name(char *out, size_t cap, const char *prefix, int64_t seq, bool base);
/* Whether name is a safe file name (no '/', not "." or "..", printable, <= AOF_NAME_MAX). */
bool aof_name_ok(const char *name, size_t len);

#endif
