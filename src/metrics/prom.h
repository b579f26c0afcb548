/* prom.h — writers for the Prometheus text exposition format, version 0.0.4. */
#ifndef HALO_PROM_H
#define HALO_PROM_H

#include "../common/buf.h"

#include <stddef.h>
#include <stdint.h>

#define PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* "# HELP name help\n# TYPE name type\n"; help is escaped (\\ and \n). Every
 * family is written once, before its samples. type: "counter", "gauge",
 * "histogram". */
void prom_family(buf *b, const char *name, const char *type, const char *help);

/* One sample line "name{labels} value\n". labels is NULL or already
 * formatted ("cmd=\"get\""; build it with prom_label). */
void prom_sample_u64(buf *b, const char *name, const char *labels, uint64_t v);
void prom_sample_double(buf *b, const char *name, const char *labels, double v);

/* A family with one unlabelled sample. */
void prom_counter(buf *b, const char *name, const char *help, uint64_t v);
void prom_gauge(buf *b, const char *name, const char *help, double v);

/* Append name="value" with the value escaped (\\, \", \n) to b. */
void prom_label(buf *b, const char *name, const char *value, size_t len);

/* Shortest text that reads back as v: "+Inf", "-Inf", "NaN" or %.15g/%.17g.
 * cap >= 32. Returns the length. */
int prom_format_double(char *out, size_t cap, double v);

/* A histogram family: bounds[0..n) are the upper bounds in the source unit,
 * divided by per_unit for output (microseconds -> seconds: 1e6; a division,
 * so that 10 us prints as 1e-05, not 9.9999999999999991e-06); counts[0..n]
 * are per-bucket (not cumulative) with counts[n] the overflow bucket; sum is
 * in the source unit too. Writes cumulative _bucket lines with +Inf, _sum and
 * _count (= the +Inf bucket). */
void prom_histogram(buf *b, const char *name, const char *help, const double *bounds, size_t n,
                    const uint64_t *counts, double sum, double per_unit);

#endif
