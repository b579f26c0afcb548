/* zskiplist.h — sorted-set core: a skiplist with spans (ranks) whose nodes are also linked in a member dict. */
#ifndef HALO_ZSKIPLIST_H
#define HALO_ZSKIPLIST_H

#include "dict.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* After Redis's zskiplist (William Pugh's skiplist with a span per link so
 * ranks cost O(log n)): ordered by score, then by member bytes (memcmp, the
 * shorter prefix first). Each node is ONE allocation holding its links, its
 * score and its member bytes, and it is linked both in the skiplist and in
 * the member dict (dict_node at offset 0), so ZSCORE is O(1) and a member
 * costs a single malloc. The dict never owns nodes: the skiplist does. */

#define ZSL_MAXLEVEL 32 /* enough for 2^64 elements at p = 1/4 */
#define ZSL_P 0.25

typedef struct zsl_node zsl_node;

struct zsl_level {
    zsl_node *forward;
    size_t span; /* nodes skipped by this link: rank(forward) - rank(this) */
};

struct zsl_node {
    dict_node dnode;    /* offset 0: link in the member -> node dict */
    double score;       /* never NaN (-0.0 is kept as given) */
    zsl_node *backward; /* previous node at level 0, NULL for the first */
    uint32_t mlen;      /* member length; the bytes follow level[nlevel] */
    uint8_t nlevel;
    struct zsl_level level[];
};

typedef struct zskiplist {
    zsl_node *header, *tail; /* header: a sentinel with ZSL_MAXLEVEL links */
    size_t length;
    int level;               /* levels in use, 1..ZSL_MAXLEVEL */
    dict members;            /* member -> the same nodes */
} zskiplist;

/* Score interval; min/max may be +-inf. Exclusive ends when minex/maxex. */
typedef struct zsl_range {
    double min, max;
    bool minex, maxex;
} zsl_range;

/* One end of a lexicographic interval: inf -1 is "-" (below everything),
 * +1 is "+" (above everything), 0 a value (p, len) that ex excludes. The
 * bytes are borrowed from the caller (command arguments). */
typedef struct zsl_lex_bound {
    const char *p;
    size_t len;
    int inf;
    bool ex;
} zsl_lex_bound;

typedef struct zsl_lex_range {
    zsl_lex_bound min, max;
} zsl_lex_range;

/* Lifecycle. zsl_free frees every node. */
zskiplist *zsl_new(void);
void zsl_free(zskiplist *zsl);
/* A deep copy (same order, same scores). */
zskiplist *zsl_dup(const zskiplist *zsl);

static inline size_t zsl_len(const zskiplist *zsl) { return zsl->length; }
static inline const char *zsl_member(const zsl_node *n)
{
    return (const char *)(n->level + n->nlevel);
}
static inline zsl_node *zsl_first(const zskiplist *zsl) { return zsl->header->level[0].forward; }
static inline zsl_node *zsl_last(const zskiplist *zsl) { return zsl->tail; }
static inline zsl_node *zsl_next(const zsl_node *n) { return n->level[0].forward; }
static inline zsl_node *zsl_prev(const zsl_node *n) { return n->backward; }

/* Byte order of members: memcmp, then the shorter first. */
int zsl_cmp_member(const char *a, size_t alen, const char *b, size_t blen);

/* O(1) member lookup through the dict; NULL when absent. */
zsl_node *zsl_find(zskiplist *zsl, const char *member, size_t len);
/* Insert a member that is absent (the caller checked with zsl_find); score
 * must not be NaN; len must fit 32 bits. Returns the new node. */
zsl_node *zsl_insert(zskiplist *zsl, double score, const char *member, size_t len);
/* Unlink n from the skiplist and the dict and free it. */
void zsl_delete_node(zskiplist *zsl, zsl_node *n);
/* Delete member if present; true if it was. */
bool zsl_delete(zskiplist *zsl, const char *member, size_t len);
/* Move n to its place for a new score (not NaN). The node is relinked, never
 * reallocated, so pointers to it and its dict link stay valid. */
void zsl_update_score(zskiplist *zsl, zsl_node *n, double score);

/* 1-based rank of a node in the list (0 for a node not in it). */
size_t zsl_rank(const zskiplist *zsl, const zsl_node *n);
/* Node of 1-based rank, NULL when rank is 0 or > length. O(log n). */
zsl_node *zsl_by_rank(const zskiplist *zsl, size_t rank);

/* Score ranges. An empty interval (min > max, or min == max with an
 * exclusive end) matches nothing. */
bool zsl_range_empty(const zsl_range *r);
bool zsl_score_gte_min(double score, const zsl_range *r);
bool zsl_score_lte_max(double score, const zsl_range *r);
zsl_node *zsl_first_in_range(const zskiplist *zsl, const zsl_range *r);
zsl_node *zsl_last_in_range(const zskiplist *zsl, const zsl_range *r);

/* Lexicographic ranges; meaningful when all scores are equal (as Redis's
 * BYLEX commands document), since they walk the list by member alone. */
bool zsl_lex_empty(const zsl_lex_range *r);
bool zsl_lex_gte_min(const zsl_node *n, const zsl_lex_range *r);
bool zsl_lex_lte_max(const zsl_node *n, const zsl_lex_range *r);
zsl_node *zsl_first_in_lex(const zskiplist *zsl, const zsl_lex_range *r);
zsl_node *zsl_last_in_lex(const zskiplist *zsl, const zsl_lex_range *r);

/* Delete every node of a range (from the dict too); return how many. Ranks
 * are 1-based and inclusive, and must satisfy 1 <= start <= end <= length. */
size_t zsl_delete_range_by_score(zskiplist *zsl, const zsl_range *r);
size_t zsl_delete_range_by_lex(zskiplist *zsl, const zsl_lex_range *r);
size_t zsl_delete_range_by_rank(zskiplist *zsl, size_t start, size_t end);

/* Approximate heap bytes (sampled member sizes; O(1) in the length). */
size_t zsl_mem(const zskiplist *zsl);

#endif
