/* prom.c — Prometheus text exposition writers (format 0.0.4). */
#include "prom.h"

#include <inttypes.h>
#include <stdbool.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void append_escaped(buf *b, const char *s, size_t len, bool quote)
{
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        if (ch == '\\') buf_append(b, "\\\\", 2);
        else if (ch == '\n') buf_append(b, "\\n", 2);
        else if (ch == '"' && quote) buf_append(b, "\\\"", 2);
        else buf_append(b, &ch, 1);
    }
}

void prom_family(buf *b, const char *name, const char *type, const char *help)
{
    buf_printf(b, "# HELP %s ", name);
    append_escaped(b, help, strlen(help), false);
    buf_printf(b, "\n# TYPE %s %s\n", name, type);
}

static void sample_start(buf *b, const char *name, const char *labels)
{
    buf_append_str(b, name);
    if (labels && labels[0]) {
        buf_append(b, "{", 1);
        buf_append_str(b, labels);
        buf_append(b, "}", 1);
    }
    buf_append(b, " ", 1);
}

void prom_sample_u64(buf *b, const char *name, const char *labels, uint64_t v)
{
    sample_start(b, name, labels);
    buf_printf(b, "%" PRIu64 "\n", v);
}

void prom_sample_double(buf *b, const char *name, const char *labels, double v)
{
    char num[32];
    int n = prom_format_double(num, sizeof(num), v);
    sample_start(b, name, labels);
    buf_append(b, num, (size_t)n);
    buf_append(b, "\n", 1);
}

void prom_counter(buf *b, const char *name, const char *help, uint64_t v)
{
    prom_family(b, name, "counter", help);
    prom_sample_u64(b, name, NULL, v);
}

void prom_gauge(buf *b, const char *name, const char *help, double v)
{
    prom_family(b, name, "gauge", help);
    prom_sample_double(b, name, NULL, v);
}

void prom_label(buf *b, const char *name, const char *value, size_t len)
{
    buf_printf(b, "%s=\"", name);
    append_escaped(b, value, len, true);
    buf_append(b, "\"", 1);
}

int prom_format_double(char *out, size_t cap, double v)
{
    if (isnan(v)) return snprintf(out, cap, "NaN");
    if (isinf(v)) return snprintf(out, cap, v > 0 ? "+Inf" : "-Inf");
    int n = snprintf(out, cap, "%.15g", v);
    if (strtod(out, NULL) != v) n = snprintf(out, cap, "%.17g", v);
    return n;
}

void prom_histogram(buf *b, const char *name, const char *help, const double *bounds, size_t n,
                    const uint64_t *counts, double sum, double per_unit)
{
    char series[160], label[48], le[32];
    prom_family(b, name, "histogram", help);
    snprintf(series, sizeof(series), "%s_bucket", name);
    uint64_t cumulative = 0;
    for (size_t i = 0; i <= n; i++) {
        cumulative += counts[i];
        if (i < n) prom_format_double(le, sizeof(le), bounds[i] / per_unit);
        else snprintf(le, sizeof(le), "+Inf");
        snprintf(label, sizeof(label), "le=\"%s\"", le);
        prom_sample_u64(b, series, label, cumulative);
    }
    snprintf(series, sizeof(series), "%s_sum", name);
    prom_sample_double(b, series, NULL, sum / per_unit);
    snprintf(series, sizeof(series), "%s_count", name);
    prom_sample_u64(b, series, NULL, cumulative);
}
