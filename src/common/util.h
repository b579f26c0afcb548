/* util.h — strict number parsing and formatting, glob matching, clocks. */
#ifndef HALO_UTIL_H
#define HALO_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

/* Parse the whole of s[0..len) as a base-10 int64 with Redis's strictness: no
 * spaces, no leading '+', no leading zeros, no overflow. Returns true on success. */
bool str_to_i64(const char *s, size_t len, int64_t *out);
/* "host:port" or "[v6]:port" (s[0..len)): the host (brackets removed) into
 * host[0..cap) NUL-terminated and the port (1..65535). false when malformed
 * or the host does not fit. No resolution: the host is returned as text. */
bool split_hostport(const char *s, size_t len, char *host, size_t cap, int *port);
/* Parse a double as Redis does for scores and INCRBYFLOAT: whole string,
 * no spaces, "inf"/"-inf" accepted, NaN rejected. */
bool str_to_double(const char *s, size_t len, double *out);
/* Like str_to_double but for long double (INCRBYFLOAT arithmetic). */
bool str_to_ldouble(const char *s, size_t len, long double *out);
/* Writes the decimal form of v into buf (>= 21 bytes); returns its length. */
int i64_to_str(char *buf, size_t cap, int64_t v);
/* The same for an unsigned value; buf >= 21 bytes (no cap check: hot paths). */
size_t u64_to_str(char *buf, uint64_t v);
/* Formats a double as Redis replies with it (%.17g, inf/-inf); buf >= 32. */
int double_to_str(char *buf, size_t cap, double v);
/* Formats a long double as INCRBYFLOAT does (no exponent, trailing zeros
 * trimmed); buf >= 5120 for any value; returns length or -1 if it does not fit. */
int ldouble_to_str(char *buf, size_t cap, long double v);

/* Glob-style match (*, ?, [abc], [^a-z], \x), as Redis's stringmatchlen. */
bool glob_match(const char *pat, size_t plen, const char *s, size_t slen, bool nocase);

/* Case-insensitive equality of a length-delimited string with a C string. */
bool str_eq_nocase(const char *s, size_t len, const char *cstr);

/* Wall clock in milliseconds / microseconds since the epoch. */
int64_t time_ms(void);
int64_t time_us(void);
/* Monotonic clock in microseconds. */
int64_t mono_us(void);

/* Fill buf with random bytes from the kernel (getrandom), falling back to time. */
void random_bytes(void *buf, size_t len);
/* Fast non-cryptographic PRNG (xorshift128+), seeded from random_bytes. */
uint64_t rand_u64(void);

/* SipHash-1-3 keyed hash (hash-flooding resistant), as Redis uses for its dicts. */
uint64_t siphash13(const void *in, size_t len, const uint8_t key[16]);
uint64_t siphash13_nocase(const void *in, size_t len, const uint8_t key[16]);

#endif
