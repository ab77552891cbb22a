/*
 * metrics.h: ovsa-backend's Prometheus counters (docs/metrics.md).  The
 * counters are process-wide relaxed atomics, no lock on the hot path;
 * every label comes from a fixed table (routes, answer codes, scripts).
 */

#ifndef OVSA_BACKEND_METRICS_H
#define OVSA_BACKEND_METRICS_H

#include <stdint.h>

#include "backend.h"

/* Counts one answer: the route matched (NULL: none), its answer code. */
void ovsa_metrics_answer(int admin, const ovsa_route_t *route,
    const char *code, uint64_t start_us);

/*
 * Writes the exposition; returns a malloc()ed NUL-terminated text the
 * caller frees, or NULL when out of memory.
 */
char *ovsa_metrics_text(void);

#endif /* OVSA_BACKEND_METRICS_H */
