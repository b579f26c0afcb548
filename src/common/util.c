/* util.c — strict number parsing and formatting, glob matching, clocks, PRNG. */
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/time.h>
#include <time.h>

bool str_to_i64(const char *s, size_t len, int64_t *out)
{
    if (len == 0 || len > 20) return false;
    size_t i = 0;
    bool neg = false;
    if (len == 1 && s[0] == '0') {
        *out = 0;
        return true;
    }
    if (s[0] == '-') {
        neg = true;
        i = 1;
        if (len == 1) return false;
    }
    if (s[i] < '1' || s[i] > '9') return false;
    uint64_t v = 0;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10) return false;
        v = v * 10 + d;
    }
    if (neg) {
        if (v > (uint64_t)INT64_MAX + 1) return false;
        *out = (int64_t)(0 - v);
    } else {
        if (v > (uint64_t)INT64_MAX) return false;
        *out = (int64_t)v;
    }
    return true;
}

/* Numbers longer than this are not numbers (Redis: MAX_LONG_DOUBLE_CHARS). */
#define MAX_NUM_CHARS 5120

static bool copy_num(const char *s, size_t len, char *buf, size_t cap)
{
    if (len == 0 || len >= cap) return false;
    if (isspace((unsigned char)s[0])) return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    return true;
}

bool str_to_double(const char *s, size_t len, double *out)
{
    char buf[MAX_NUM_CHARS];
    if (!copy_num(s, len, buf, sizeof(buf))) return false;
    char *end;
    errno = 0;
    double v = strtod(buf, &end);
    if (end != buf + len || isnan(v)) return false;
    if (errno == ERANGE && (v == HUGE_VAL || v == -HUGE_VAL || v == 0)) return false;
    *out = v;
    return true;
}

bool str_to_ldouble(const char *s, size_t len, long double *out)
{
    char buf[MAX_NUM_CHARS];
    if (!copy_num(s, len, buf, sizeof(buf))) return false;
    char *end;
    errno = 0;
    long double v = strtold(buf, &end);
    if (end != buf + len || isnan(v) || errno == ERANGE) return false;
    *out = v;
    return true;
}

size_t u64_to_str(char *buf, uint64_t v)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++) buf[i] = tmp[n - 1 - i];
    buf[n] = '\0';
    return n;
}

int i64_to_str(char *buf, size_t cap, int64_t v)
{
    char tmp[24];
    int n = 0;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0) tmp[n++] = '-';
    if ((size_t)n + 1 > cap) return -1;
    for (int i = 0; i < n; i++) buf[i] = tmp[n - 1 - i];
    buf[n] = '\0';
    return n;
}

int double_to_str(char *buf, size_t cap, double v)
{
    if (isinf(v)) return snprintf(buf, cap, v > 0 ? "inf" : "-inf");
    /* Integers that fit print without exponent, as Redis does. */
    if (v == floor(v) && fabs(v) < 1e17) return snprintf(buf, cap, "%.0f", v);
    return snprintf(buf, cap, "%.17g", v);
}

int ldouble_to_str(char *buf, size_t cap, long double v)
{
    if (isinf(v)) return snprintf(buf, cap, v > 0 ? "inf" : "-inf");
    int n = snprintf(buf, cap, "%.17Lf", v);
    if (n < 0 || (size_t)n >= cap) return -1;
    if (strchr(buf, '.')) {
        while (n > 0 && buf[n - 1] == '0') n--;
        if (n > 0 && buf[n - 1] == '.') n--;
        buf[n] = '\0';
    }
    if (n == 2 && buf[0] == '-' && buf[1] == '0') {
        buf[0] = '0';
        buf[1] = '\0';
        n = 1;
    }
    return n;
}

static int fold(int c, bool nocase) { return nocase ? tolower(c) : c; }

/* Match one pattern element (a literal, '?', '\\x' or a [class]) at p against
 * byte c. Sets *elen to the element's length in the pattern. */
static bool match_one(const char *p, size_t pl, int c, bool nc, size_t *elen)
{
    if (p[0] == '?') {
        *elen = 1;
        return true;
    }
    if (p[0] == '\\' && pl >= 2) {
        *elen = 2;
        return fold((unsigned char)p[1], nc) == fold(c, nc);
    }
    if (p[0] != '[') {
        *elen = 1;
        return fold((unsigned char)p[0], nc) == fold(c, nc);
    }
    size_t i = 1;
    bool neg = i < pl && p[i] == '^';
    if (neg) i++;
    bool hit = false;
    int fc = fold(c, nc);
    while (i < pl && p[i] != ']') {
        if (p[i] == '\\' && i + 1 < pl) {
            if ((unsigned char)p[i + 1] == c) hit = true;
            i += 2;
        } else if (i + 2 < pl && p[i + 1] == '-' && p[i + 2] != ']') {
            int a = fold((unsigned char)p[i], nc), b = fold((unsigned char)p[i + 2], nc);
            if (a > b) {
                int t = a;
                a = b;
                b = t;
            }
            if (fc >= a && fc <= b) hit = true;
            i += 3;
        } else {
            if (fold((unsigned char)p[i], nc) == fc) hit = true;
            i++;
        }
    }
    *elen = i < pl ? i + 1 : i; /* an unterminated class runs to the end */
    return neg ? !hit : hit;
}

/* Iterative glob with backtracking to the last '*' only: O(len(p) * len(s))
 * worst case, so no pattern can make a KEYS or SCAN MATCH run away. */
bool glob_match(const char *pat, size_t plen, const char *s, size_t slen, bool nocase)
{
    size_t p = 0, i = 0, star_p = SIZE_MAX, star_i = 0;
    while (i < slen) {
        if (p < plen && pat[p] == '*') {
            while (p < plen && pat[p] == '*') p++;
            if (p == plen) return true;
            star_p = p;
            star_i = i;
            continue;
        }
        size_t elen;
        if (p < plen && match_one(pat + p, plen - p, (unsigned char)s[i], nocase, &elen)) {
            p += elen;
            i++;
            continue;
        }
        if (star_p == SIZE_MAX) return false;
        p = star_p;
        i = ++star_i;
    }
    while (p < plen && pat[p] == '*') p++;
    return p == plen;
}

bool str_eq_nocase(const char *s, size_t len, const char *cstr)
{
    size_t n = strlen(cstr);
    return n == len && strncasecmp(s, cstr, n) == 0;
}

int64_t time_us(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

int64_t time_ms(void) { return time_us() / 1000; }

int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void random_bytes(void *buf, size_t len)
{
    ssize_t n = getrandom(buf, len, GRND_NONBLOCK);
    if (n == (ssize_t)len) return;
    uint64_t x = (uint64_t)time_us() ^ ((uint64_t)(uintptr_t)buf << 16);
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        ((unsigned char *)buf)[i] = (unsigned char)x;
    }
}

static _Thread_local uint64_t rng_s[2];

uint64_t rand_u64(void)
{
    if (rng_s[0] == 0 && rng_s[1] == 0) {
        random_bytes(rng_s, sizeof(rng_s));
        rng_s[0] |= 1;
    }
    uint64_t s1 = rng_s[0];
    const uint64_t s0 = rng_s[1];
    rng_s[0] = s0;
    s1 ^= s1 << 23;
    rng_s[1] = s1 ^ s0 ^ (s1 >> 18) ^ (s0 >> 5);
    return rng_s[1] + s0;
}

/* SipHash-1-3: one compression round, three finalisation rounds. */
#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                           \
    do {                                                                                   \
        v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32);                          \
        v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;                                             \
        v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;                                             \
        v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32);                          \
    } while (0)

static uint64_t load64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v; /* little-endian hosts only (x86_64, arm64) */
}

static uint64_t siphash_impl(const uint8_t *in, size_t len, const uint8_t key[16], bool nocase)
{
    uint64_t k0 = load64(key), k1 = load64(key + 8);
    uint64_t v0 = 0x736f6d6570736575ULL ^ k0, v1 = 0x646f72616e646f6dULL ^ k1;
    uint64_t v2 = 0x6c7967656e657261ULL ^ k0, v3 = 0x7465646279746573ULL ^ k1;
    uint64_t b = ((uint64_t)len) << 56;
    const uint8_t *end = in + len - (len % 8);
    for (; in != end; in += 8) {
        uint8_t tmp[8];
        const uint8_t *src = in;
        if (nocase) {
            for (int i = 0; i < 8; i++) tmp[i] = (uint8_t)tolower(in[i]);
            src = tmp;
        }
        uint64_t m = load64(src);
        v3 ^= m;
        SIPROUND;
        v0 ^= m;
    }
    int left = (int)(len & 7);
    for (int i = left - 1; i >= 0; i--) {
        uint8_t c = nocase ? (uint8_t)tolower(in[i]) : in[i];
        b |= ((uint64_t)c) << (8 * i);
    }
    v3 ^= b;
    SIPROUND;
    v0 ^= b;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

uint64_t siphash13(const void *in, size_t len, const uint8_t key[16])
{
    return siphash_impl(in, len, key, false);
}

uint64_t siphash13_nocase(const void *in, size_t len, const uint8_t key[16])
{
    return siphash_impl(in, len, key, true);
}

bool split_hostport(const char *s, size_t len, char *host, size_t cap, int *port)
{
    const char *colon = s + len;
    while (colon > s && colon[-1] != ':') colon--;
    if (colon == s) return false;
    size_t hl = (size_t)(colon - 1 - s);
    int64_t p;
    if (!str_to_i64(colon, len - (size_t)(colon - s), &p) || p < 1 || p > 65535) return false;
    if (hl >= 2 && s[0] == '[' && s[hl - 1] == ']') {
        s++;
        hl -= 2;
    }
    if (hl == 0 || hl >= cap) return false;
    memcpy(host, s, hl);
    host[hl] = '\0';
    *port = (int)p;
    return true;
}
