/*
 * ovsa_metrics.h: the Prometheus text exposition (format 0.0.4) that the
 * module's ovsa_metrics location and the backend's /metrics share: the
 * one table of latency buckets and the writer of a histogram
 * (docs/metrics.md).  No allocation, no locks: callers keep their own
 * counters (atomics) and copy them out to write a scrape.
 */

#ifndef OVSA_METRICS_H
#define OVSA_METRICS_H

#include <stddef.h>
#include <stdint.h>

#define OVSA_METRICS_CONTENT_TYPE  "text/plain; version=0.0.4; charset=utf-8"

/* Latency buckets, upper bounds in microseconds (0.1 ms .. 2.5 s). */
#define OVSA_METRICS_NBUCKETS  14

extern const uint64_t  ovsa_metrics_bucket_us[OVSA_METRICS_NBUCKETS];

/*
 * Returns the index of the first bucket whose bound is >= us, or
 * OVSA_METRICS_NBUCKETS (the +Inf bucket).  Callers count each
 * observation in counts[index] (NBUCKETS + 1 slots, not cumulative).
 */
unsigned ovsa_metrics_bucket(uint64_t us);

/* Monotonic clock in microseconds. */
uint64_t ovsa_metrics_now_us(void);

/*
 * An append-only text buffer: on overflow it stops writing and sets
 * full; callers size it generously and check full once.
 */
typedef struct {
    char    *data;
    size_t   size;
    size_t   len;
    int      full;
} ovsa_mbuf_t;

/* Appends printf-style text. */
void ovsa_mbuf_printf(ovsa_mbuf_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* "# HELP name help\n# TYPE name type\n" */
void ovsa_metrics_head(ovsa_mbuf_t *b, const char *name, const char *type,
    const char *help);

/*
 * The sample lines of one histogram series: name_bucket{labels,le=..}
 * (cumulative, from counts[NBUCKETS + 1] non-cumulative), name_sum
 * (seconds, from sum_us) and name_count.  labels is "" or 'a="x",b="y"'.
 */
void ovsa_metrics_histogram(ovsa_mbuf_t *b, const char *name,
    const char *labels, const uint64_t *counts, uint64_t sum_us);

#endif /* OVSA_METRICS_H */
