/*
 * metrics.c: ovsa-backend's Prometheus text exposition (format 0.0.4),
 * see docs/metrics.md.
 *
 * Counters are relaxed atomic adds into fixed arrays indexed by route,
 * answer code and script: no lock and no allocation on the hot path, and
 * label values come from the route table, backend/policy.c's code table
 * and store.h's script list only (bounded cardinality).  The license
 * gauges (licenses, activations and leases in use) read every license's
 * summary from Redis, at most once per metrics.gauge_interval_s, in the
 * scrape that finds them stale (under a mutex of the scrape path).
 */

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "ovsa_metrics.h"
#include "policy.h"
#include "store.h"

#define OVSA_M_ROUTES   32      /* public + admin routes, then "other" */
#define OVSA_M_CODES    96      /* backend/policy.c's table, then "other" */
#define OVSA_M_TEXT     (256 * 1024)

#define OVSA_M_NSCRIPTS  OVSA_LUA__COUNT

typedef struct {
    uint64_t  answers[OVSA_M_ROUTES + 2][OVSA_M_CODES + 1];
    uint64_t  lat[OVSA_M_ROUTES + 2][OVSA_METRICS_NBUCKETS + 1];
    uint64_t  lat_sum[OVSA_M_ROUTES + 2];
} ovsa_metrics_t;

static ovsa_metrics_t  ovsa_m;

static const char  *ovsa_m_scripts[] = {
#define OVSA_M_NAME(e, f, m) #f,
    OVSA_LUA_SCRIPTS(OVSA_M_NAME)
#undef OVSA_M_NAME
};

/* the license gauges, recomputed at most every gauge_interval_s */
static pthread_mutex_t  ovsa_m_mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t         ovsa_m_gauges_at;      /* monotonic us, 0: never */
static int              ovsa_m_gauges_ok;
static long long        ovsa_m_licenses, ovsa_m_activations, ovsa_m_leases;
static uint64_t         ovsa_m_scans;


#define OVSA_M_ADD(p, n)  __atomic_fetch_add((p), (n), __ATOMIC_RELAXED)
#define OVSA_M_GET(p)     __atomic_load_n((p), __ATOMIC_RELAXED)


static size_t
ovsa_m_nroutes(const ovsa_route_t *t)
{
    size_t  n;

    for (n = 0; t[n].path != NULL; n++) {
        /* void */
    }

    return n;
}


/* route index: public routes, admin routes, "other" public, admin */
static size_t
ovsa_m_route(int admin, const ovsa_route_t *route)
{
    size_t  npub, i;

    npub = ovsa_m_nroutes(ovsa_routes_public);

    if (route != NULL) {
        i = admin ? npub + (size_t) (route - ovsa_routes_admin)
                  : (size_t) (route - ovsa_routes_public);
        if (i < OVSA_M_ROUTES) {
            return i;
        }
    }

    return OVSA_M_ROUTES + (admin ? 1 : 0);
}


static size_t
ovsa_m_code(const char *code)
{
    size_t                     i;
    const ovsa_policy_code_t  *c;

    for (i = 0; i < OVSA_M_CODES; i++) {
        c = ovsa_policy_code_at(i);
        if (c == NULL) {
            break;
        }
        if (code != NULL && strcmp(c->code, code) == 0) {
            return i;
        }
    }

    return OVSA_M_CODES;
}


void
ovsa_metrics_answer(int admin, const ovsa_route_t *route, const char *code,
    uint64_t start_us)
{
    size_t    r;
    uint64_t  us;

    r = ovsa_m_route(admin, route);
    us = ovsa_metrics_now_us() - start_us;

    OVSA_M_ADD(&ovsa_m.answers[r][ovsa_m_code(code)], 1);
    OVSA_M_ADD(&ovsa_m.lat[r][ovsa_metrics_bucket(us)], 1);
    OVSA_M_ADD(&ovsa_m.lat_sum[r], us);
}


/* Reads every license's summary: counts, activations, live leases. */
static void
ovsa_m_gauges(void)
{
    size_t        i;
    json_t       *rows, *row;
    uint64_t      now;
    long long     lic, act, lz;
    ovsa_resp_t   resp;

    now = ovsa_metrics_now_us();

    if (ovsa_m_gauges_at != 0
        && now - ovsa_m_gauges_at
           < (uint64_t) ovsa_backend.conf->metrics_gauge_interval * 1000000)
    {
        return;
    }

    ovsa_m_gauges_at = now;
    ovsa_m_scans++;

    memset(&resp, 0, sizeof(resp));
    rows = ovsa_admin_summaries(&resp);
    json_decref(resp.body);

    if (rows == NULL) {
        ovsa_m_gauges_ok = 0;
        return;
    }

    lic = act = lz = 0;

    json_array_foreach(rows, i, row) {
        lic++;
        act += json_integer_value(json_object_get(row, "activations"));
        lz += json_integer_value(json_object_get(row, "leases"));
    }

    json_decref(rows);

    ovsa_m_licenses = lic;
    ovsa_m_activations = act;
    ovsa_m_leases = lz;
    ovsa_m_gauges_ok = 1;
}


static void
ovsa_m_route_label(char *buf, size_t size, size_t r)
{
    size_t               npub;
    const ovsa_route_t  *rt;

    npub = ovsa_m_nroutes(ovsa_routes_public);

    if (r >= OVSA_M_ROUTES) {
        snprintf(buf, size, "listener=\"%s\",method=\"other\","
                 "route=\"other\"", r == OVSA_M_ROUTES ? "public" : "admin");
        return;
    }

    rt = r < npub ? &ovsa_routes_public[r] : &ovsa_routes_admin[r - npub];

    snprintf(buf, size, "listener=\"%s\",method=\"%s\",route=\"%s\"",
             r < npub ? "public" : "admin", rt->method, rt->path);
}


char *
ovsa_metrics_text(void)
{
    int                        breaker, durable;
    size_t                     r, c, nroutes, b;
    char                       labels[256];
    uint64_t                   n, sum, counts[OVSA_METRICS_NBUCKETS + 1];
    uint64_t                   errors[OVSA_M_NSCRIPTS];
    ovsa_mbuf_t                t;
    const ovsa_policy_code_t  *pc;

    t.data = malloc(OVSA_M_TEXT);
    if (t.data == NULL) {
        return NULL;
    }

    t.size = OVSA_M_TEXT;
    t.len = 0;
    t.full = 0;
    t.data[0] = '\0';

    nroutes = ovsa_m_nroutes(ovsa_routes_public)
              + ovsa_m_nroutes(ovsa_routes_admin);
    if (nroutes > OVSA_M_ROUTES) {
        nroutes = OVSA_M_ROUTES;
    }

    ovsa_metrics_head(&t, "ovsa_backend_build_info", "gauge",
                      "Always 1; the labels name the build.");
    ovsa_mbuf_printf(&t, "ovsa_backend_build_info{program=\"%s\","
                     "compiled=\"%s\"} 1\n", OVSA_BACKEND_NAME,
                     __DATE__ " " __TIME__);

    /* answers: only the (route, code) pairs seen, so 0s do not flood */
    ovsa_metrics_head(&t, "ovsa_backend_answers_total", "counter",
                      "Answers by listener, route, answer code and verdict "
                      "(docs/protocol.md); pairs never seen are absent.");

    for (r = 0; r < OVSA_M_ROUTES + 2; r++) {
        if (r >= nroutes && r < OVSA_M_ROUTES) {
            continue;
        }

        ovsa_m_route_label(labels, sizeof(labels), r);

        for (c = 0; c <= OVSA_M_CODES; c++) {
            n = OVSA_M_GET(&ovsa_m.answers[r][c]);
            if (n == 0) {
                continue;
            }

            pc = c < OVSA_M_CODES ? ovsa_policy_code_at(c) : NULL;

            ovsa_mbuf_printf(&t, "ovsa_backend_answers_total{%s,code=\"%s\","
                             "verdict=\"%s\"} %llu\n", labels,
                             pc ? pc->code : "other",
                             pc ? pc->verdict : "error",
                             (unsigned long long) n);
        }
    }

    ovsa_metrics_head(&t, "ovsa_backend_request_duration_seconds",
                      "histogram", "Time from the request's first byte to "
                      "its answer, by route.");

    for (r = 0; r < OVSA_M_ROUTES + 2; r++) {
        if (r >= nroutes && r < OVSA_M_ROUTES) {
            continue;
        }

        ovsa_m_route_label(labels, sizeof(labels), r);

        for (b = 0; b <= OVSA_METRICS_NBUCKETS; b++) {
            counts[b] = OVSA_M_GET(&ovsa_m.lat[r][b]);
        }

        ovsa_metrics_histogram(&t, "ovsa_backend_request_duration_seconds",
                               labels, counts,
                               OVSA_M_GET(&ovsa_m.lat_sum[r]));
    }

    ovsa_metrics_head(&t, "ovsa_backend_redis_duration_seconds",
                      "histogram", "Redis round trip of one script "
                      "(EVALSHA, with a reload after NOSCRIPT), by "
                      "script.");

    for (r = 0; r < OVSA_M_NSCRIPTS; r++) {
        snprintf(labels, sizeof(labels), "script=\"%s\"", ovsa_m_scripts[r]);

        ovsa_store_rtt_get((ovsa_lua_t) r, counts, &sum, &errors[r]);
        ovsa_metrics_histogram(&t, "ovsa_backend_redis_duration_seconds",
                               labels, counts, sum);
    }

    ovsa_metrics_head(&t, "ovsa_backend_redis_errors_total", "counter",
                      "Script calls that got no answer from Redis "
                      "(connection refused, lost or timed out), by script.");

    for (r = 0; r < OVSA_M_NSCRIPTS; r++) {
        ovsa_mbuf_printf(&t, "ovsa_backend_redis_errors_total{script=\"%s\"}"
                         " %llu\n", ovsa_m_scripts[r],
                         (unsigned long long) errors[r]);
    }

    ovsa_store_health_state(&breaker, &durable);

    ovsa_metrics_head(&t, "ovsa_backend_redis_breaker_open", "gauge",
                      "1 while the circuit breaker of the store is open or "
                      "half-open (Redis is not answering), else 0.");
    ovsa_mbuf_printf(&t, "ovsa_backend_redis_breaker_open %d\n", breaker);

    ovsa_metrics_head(&t, "ovsa_backend_redis_durable", "gauge",
                      "1 when Redis persists durably (state-changing "
                      "operations are allowed), 0 when they are refused "
                      "(STORE_NOT_DURABLE) or not known yet.");
    ovsa_mbuf_printf(&t, "ovsa_backend_redis_durable %d\n", durable);

    ovsa_metrics_head(&t, "ovsa_backend_requests_in_flight", "gauge",
                      "Requests being handled now, all listeners.");
    ovsa_mbuf_printf(&t, "ovsa_backend_requests_in_flight %ld\n",
                     ovsa_http_inflight());

    pthread_mutex_lock(&ovsa_m_mu);

    ovsa_m_gauges();

    ovsa_metrics_head(&t, "ovsa_backend_license_scan_ok", "gauge",
                      "1 when the last scan of the licenses (every "
                      "metrics.gauge_interval_s at most) succeeded.");
    ovsa_mbuf_printf(&t, "ovsa_backend_license_scan_ok %d\n",
                     ovsa_m_gauges_ok);

    ovsa_metrics_head(&t, "ovsa_backend_license_scans_total", "counter",
                      "Scans of the licenses made for the gauges.");
    ovsa_mbuf_printf(&t, "ovsa_backend_license_scans_total %llu\n",
                     (unsigned long long) ovsa_m_scans);

    ovsa_metrics_head(&t, "ovsa_backend_licenses", "gauge",
                      "Licenses imported (at the last scan).");
    ovsa_mbuf_printf(&t, "ovsa_backend_licenses %lld\n", ovsa_m_licenses);

    ovsa_metrics_head(&t, "ovsa_backend_activations_in_use", "gauge",
                      "Activations (node-locked machines), all licenses, "
                      "at the last scan.");
    ovsa_mbuf_printf(&t, "ovsa_backend_activations_in_use %lld\n",
                     ovsa_m_activations);

    ovsa_metrics_head(&t, "ovsa_backend_leases_in_use", "gauge",
                      "Live floating leases, all licenses, at the last "
                      "scan.");
    ovsa_mbuf_printf(&t, "ovsa_backend_leases_in_use %lld\n", ovsa_m_leases);

    pthread_mutex_unlock(&ovsa_m_mu);

    if (t.full) {
        ovsa_log("crit", "metrics: exposition larger than %d bytes",
                 OVSA_M_TEXT);
        free(t.data);
        return NULL;
    }

    return t.data;
}
