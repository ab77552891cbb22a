/*
 * ovsa_metrics.c: Prometheus text exposition helpers (see ovsa_metrics.h).
 */

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "ovsa_metrics.h"


const uint64_t  ovsa_metrics_bucket_us[OVSA_METRICS_NBUCKETS] = {
    100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000,
    250000, 500000, 1000000, 2500000
};


unsigned
ovsa_metrics_bucket(uint64_t us)
{
    unsigned  i;

    for (i = 0; i < OVSA_METRICS_NBUCKETS; i++) {
        if (us <= ovsa_metrics_bucket_us[i]) {
            return i;
        }
    }

    return OVSA_METRICS_NBUCKETS;
}


uint64_t
ovsa_metrics_now_us(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}


void
ovsa_mbuf_printf(ovsa_mbuf_t *b, const char *fmt, ...)
{
    int      n;
    va_list  ap;

    if (b->full) {
        return;
    }

    va_start(ap, fmt);
    n = vsnprintf(b->data + b->len, b->size - b->len, fmt, ap);
    va_end(ap);

    if (n < 0 || (size_t) n >= b->size - b->len) {
        b->full = 1;
        b->data[b->len] = '\0';
        return;
    }

    b->len += (size_t) n;
}


void
ovsa_metrics_head(ovsa_mbuf_t *b, const char *name, const char *type,
    const char *help)
{
    ovsa_mbuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
                     type);
}


void
ovsa_metrics_histogram(ovsa_mbuf_t *b, const char *name, const char *labels,
    const uint64_t *counts, uint64_t sum_us)
{
    unsigned     i;
    uint64_t     total;
    const char  *sep;

    sep = labels[0] != '\0' ? "," : "";
    total = 0;

    for (i = 0; i < OVSA_METRICS_NBUCKETS; i++) {
        total += counts[i];
        ovsa_mbuf_printf(b, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels,
                         sep, (double) ovsa_metrics_bucket_us[i] / 1e6,
                         (unsigned long long) total);
    }

    total += counts[OVSA_METRICS_NBUCKETS];

    ovsa_mbuf_printf(b, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels,
                     sep, (unsigned long long) total);

    if (labels[0] != '\0') {
        ovsa_mbuf_printf(b, "%s_sum{%s} %.6f\n%s_count{%s} %llu\n", name,
                         labels, (double) sum_us / 1e6, name, labels,
                         (unsigned long long) total);
    } else {
        ovsa_mbuf_printf(b, "%s_sum %.6f\n%s_count %llu\n", name,
                         (double) sum_us / 1e6, name,
                         (unsigned long long) total);
    }
}
