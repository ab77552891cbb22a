/*
 * ngx_http_ovsa_metrics.c: Prometheus counters of the signing filter,
 * shared by every worker (docs/metrics.md).
 *
 *   ovsa_metrics;        (location) the text exposition (format 0.0.4)
 *
 * The first ovsa_metrics location creates the shared zone "ovsa_metrics"
 * (atomic counters, no lock); without one nothing is counted.  The
 * location is refused in a server with "ovsa_tls on" or under
 * "ovsa_sign on": metrics belong on the admin server block, never on the
 * public license server.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_ovsa_module.h"
#include <ovsa_metrics.h>


#define NGX_HTTP_OVSA_METRICS_ZONE  (64 * 1024)
#define NGX_HTTP_OVSA_METRICS_TEXT  (16 * 1024)
#define NGX_HTTP_OVSA_METRICS_WORKERS  1024     /* NGX_MAX_PROCESSES */


typedef struct {
    ngx_atomic_t   signed_class[6];      /* [status / 100], 0: other */
    ngx_atomic_t   replaced[NGX_HTTP_OVSA_M_REPLACED_N];
    ngx_atomic_t   failures[NGX_HTTP_OVSA_M_FAIL_N];
    ngx_atomic_t   busy;                 /* SIGNER_BUSY answers */
    ngx_atomic_t   sign_buckets[OVSA_METRICS_NBUCKETS + 1];
    ngx_atomic_t   sign_sum_us;
    ngx_atomic_t   queue[NGX_HTTP_OVSA_METRICS_WORKERS];
    /*
     * 12a (batch signing): per-batch counters go here, e.g. batches
     * signed and a histogram of answers per signed root, counted where
     * the batch's root signature completes; the scrape writes them below.
     */
} ngx_http_ovsa_metrics_shm_t;


typedef struct {
    ngx_http_conf_ctx_t  *ctx;
    u_char               *file;
    ngx_uint_t            line;
} ngx_http_ovsa_metrics_loc_t;


static ngx_int_t ngx_http_ovsa_metrics_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_ovsa_metrics_init_zone(ngx_shm_zone_t *zone,
    void *data);
static ngx_http_ovsa_metrics_shm_t *ngx_http_ovsa_metrics_get(
    ngx_http_request_t *r);


static const char  *ngx_http_ovsa_metrics_replaced_names[] = {
    "NONCE_REQUIRED", "DIGEST_REQUIRED", "UNSIGNABLE_RESPONSE",
    "RESPONSE_TOO_LARGE"
};

static const char  *ngx_http_ovsa_metrics_fail_names[] = {
    "no_key", "out_of_memory", "sign_error", "hardware_key",
    "bad_request_line"
};

static ngx_str_t  ngx_http_ovsa_metrics_type =
    ngx_string(OVSA_METRICS_CONTENT_TYPE);


static ngx_http_ovsa_metrics_shm_t *
ngx_http_ovsa_metrics_get(ngx_http_request_t *r)
{
    ngx_http_ovsa_main_conf_t  *omcf;

    omcf = ngx_http_get_module_main_conf(r, ngx_http_ovsa_module);

    if (omcf->metrics == NULL) {
        return NULL;
    }

    return omcf->metrics->data;
}


void
ngx_http_ovsa_metrics_signed(ngx_http_request_t *r, ngx_uint_t status,
    ngx_uint_t replaced, uint64_t start_us)
{
    uint64_t                      us;
    ngx_uint_t                    c;
    ngx_http_ovsa_metrics_shm_t  *m;

    m = ngx_http_ovsa_metrics_get(r);
    if (m == NULL) {
        return;
    }

    c = status / 100;
    (void) ngx_atomic_fetch_add(&m->signed_class[c < 6 ? c : 0], 1);

    if (replaced < NGX_HTTP_OVSA_M_REPLACED_N) {
        (void) ngx_atomic_fetch_add(&m->replaced[replaced], 1);
    }

    if (start_us != 0) {
        us = ovsa_metrics_now_us() - start_us;
        (void) ngx_atomic_fetch_add(
                              &m->sign_buckets[ovsa_metrics_bucket(us)], 1);
        (void) ngx_atomic_fetch_add(&m->sign_sum_us, us);
    }
}


void
ngx_http_ovsa_metrics_failed(ngx_http_request_t *r, ngx_uint_t reason)
{
    ngx_http_ovsa_metrics_shm_t  *m;

    m = ngx_http_ovsa_metrics_get(r);
    if (m != NULL && reason < NGX_HTTP_OVSA_M_FAIL_N) {
        (void) ngx_atomic_fetch_add(&m->failures[reason], 1);
    }
}


void
ngx_http_ovsa_metrics_busy(ngx_http_request_t *r)
{
    ngx_http_ovsa_metrics_shm_t  *m;

    m = ngx_http_ovsa_metrics_get(r);
    if (m != NULL) {
        (void) ngx_atomic_fetch_add(&m->busy, 1);
    }
}


/* The worker's hardware-key queue depth (signatures waiting for it). */

void
ngx_http_ovsa_metrics_queue(ngx_cycle_t *cycle, ngx_uint_t depth)
{
    ngx_http_ovsa_main_conf_t    *omcf;
    ngx_http_ovsa_metrics_shm_t  *m;

    omcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_ovsa_module);

    if (omcf == NULL || omcf->metrics == NULL
        || ngx_worker >= NGX_HTTP_OVSA_METRICS_WORKERS)
    {
        return;
    }

    m = omcf->metrics->data;
    if (m != NULL) {
        m->queue[ngx_worker] = depth;
    }
}


static ngx_int_t
ngx_http_ovsa_metrics_handler(ngx_http_request_t *r)
{
    ngx_int_t                     rc;
    ngx_uint_t                    i, hw;
    ngx_buf_t                    *b;
    ngx_chain_t                   out;
    ovsa_mbuf_t                   t;
    ngx_core_conf_t              *ccf;
    ngx_http_ovsa_main_conf_t    *omcf;
    ngx_http_ovsa_metrics_shm_t  *m;
    uint64_t                      counts[OVSA_METRICS_NBUCKETS + 1];
    uint64_t                      depth;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    omcf = ngx_http_get_module_main_conf(r, ngx_http_ovsa_module);
    m = ngx_http_ovsa_metrics_get(r);
    if (m == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    t.data = ngx_pnalloc(r->pool, NGX_HTTP_OVSA_METRICS_TEXT);
    if (t.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    t.size = NGX_HTTP_OVSA_METRICS_TEXT;
    t.len = 0;
    t.full = 0;

    ovsa_metrics_head(&t, "ovsa_nginx_answers_signed_total", "counter",
                      "Answers signed by the ovsa_sign filter, by HTTP "
                      "status class.");
    for (i = 1; i < 6; i++) {
        ovsa_mbuf_printf(&t, "ovsa_nginx_answers_signed_total"
                         "{class=\"%uxx\"} %lu\n", (unsigned) i,
                         (unsigned long) m->signed_class[i]);
    }
    ovsa_mbuf_printf(&t, "ovsa_nginx_answers_signed_total{class=\"other\"} "
                     "%lu\n", (unsigned long) m->signed_class[0]);

    ovsa_metrics_head(&t, "ovsa_nginx_answers_replaced_total", "counter",
                      "Answers the filter replaced with its own signed JSON "
                      "error, by code.");
    for (i = 0; i < NGX_HTTP_OVSA_M_REPLACED_N; i++) {
        ovsa_mbuf_printf(&t, "ovsa_nginx_answers_replaced_total"
                         "{code=\"%s\"} %lu\n",
                         ngx_http_ovsa_metrics_replaced_names[i],
                         (unsigned long) m->replaced[i]);
    }

    ovsa_metrics_head(&t, "ovsa_nginx_sign_failures_total", "counter",
                      "Answers that could not be signed (sent as an "
                      "unsigned 502 or 503), by reason.");
    for (i = 0; i < NGX_HTTP_OVSA_M_FAIL_N; i++) {
        ovsa_mbuf_printf(&t, "ovsa_nginx_sign_failures_total"
                         "{reason=\"%s\"} %lu\n",
                         ngx_http_ovsa_metrics_fail_names[i],
                         (unsigned long) m->failures[i]);
    }

    ovsa_metrics_head(&t, "ovsa_nginx_signer_busy_total", "counter",
                      "Unsigned 503 SIGNER_BUSY answers (hardware-key "
                      "queue full).");
    ovsa_mbuf_printf(&t, "ovsa_nginx_signer_busy_total %lu\n",
                     (unsigned long) m->busy);

    for (i = 0; i <= OVSA_METRICS_NBUCKETS; i++) {
        counts[i] = m->sign_buckets[i];
    }

    ovsa_metrics_head(&t, "ovsa_nginx_sign_duration_seconds", "histogram",
                      "Time to sign one answer: digest, signature base and "
                      "signature (with a hardware key: queue and token).");
    ovsa_metrics_histogram(&t, "ovsa_nginx_sign_duration_seconds", "",
                           counts, m->sign_sum_us);

    hw = (omcf->conf != NULL && omcf->conf->hw_enabled);

    ovsa_metrics_head(&t, "ovsa_nginx_hwkey_enabled", "gauge",
                      "1 in hardware-key mode (default.yaml "
                      "hardware_key.enabled).");
    ovsa_mbuf_printf(&t, "ovsa_nginx_hwkey_enabled %u\n", (unsigned) hw);

    ovsa_metrics_head(&t, "ovsa_nginx_hwkey_up", "gauge",
                      "1 while the hardware key signs, 0 once it is lost "
                      "(nginx then stops); 0 without a hardware key.");
    ovsa_mbuf_printf(&t, "ovsa_nginx_hwkey_up %u\n",
                     (unsigned) (hw && !ngx_http_ovsa_hwkey_is_lost()));

    ccf = (ngx_core_conf_t *) ngx_get_conf(ngx_cycle->conf_ctx,
                                           ngx_core_module);
    depth = 0;
    for (i = 0; i < (ngx_uint_t) ccf->worker_processes
                && i < NGX_HTTP_OVSA_METRICS_WORKERS; i++)
    {
        depth += m->queue[i];
    }

    ovsa_metrics_head(&t, "ovsa_nginx_hwkey_queue_depth", "gauge",
                      "Signatures waiting for the hardware key, all "
                      "workers.");
    ovsa_mbuf_printf(&t, "ovsa_nginx_hwkey_queue_depth %llu\n",
                     (unsigned long long) depth);

    ovsa_metrics_head(&t, "ovsa_nginx_hwkey_queue_max", "gauge",
                      "hardware_key.queue_max: the queue bound per worker.");
    ovsa_mbuf_printf(&t, "ovsa_nginx_hwkey_queue_max %ld\n",
                     hw ? (long) (omcf->conf->hw_queue_max > 0
                                  ? omcf->conf->hw_queue_max : 64) : 0L);

    if (t.full) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "ovsa_metrics: exposition larger than %d bytes",
                      NGX_HTTP_OVSA_METRICS_TEXT);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = t.len;
    r->headers_out.content_type = ngx_http_ovsa_metrics_type;
    r->headers_out.content_type_len = ngx_http_ovsa_metrics_type.len;

    if (r->method == NGX_HTTP_HEAD) {
        return ngx_http_send_header(r);
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->pos = (u_char *) t.data;
    b->last = (u_char *) t.data + t.len;
    b->memory = 1;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    rc = ngx_http_send_header(r);
    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    return ngx_http_output_filter(r, &out);
}


/* Counters survive a reload (same zone name and size). */

static ngx_int_t
ngx_http_ovsa_metrics_init_zone(ngx_shm_zone_t *zone, void *data)
{
    ngx_slab_pool_t              *shpool;
    ngx_http_ovsa_metrics_shm_t  *m;

    if (data != NULL) {
        zone->data = data;
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) zone->shm.addr;

    if (zone->shm.exists) {
        zone->data = shpool->data;
        return NGX_OK;
    }

    m = ngx_slab_calloc(shpool, sizeof(ngx_http_ovsa_metrics_shm_t));
    if (m == NULL) {
        return NGX_ERROR;
    }

    shpool->data = m;
    zone->data = m;

    return NGX_OK;
}


/*
 * postconfiguration: an ovsa_metrics location in a server with
 * "ovsa_tls on" (the public license server) or under "ovsa_sign on" is
 * refused.
 */

ngx_int_t
ngx_http_ovsa_metrics_check(ngx_conf_t *cf, ngx_http_ovsa_main_conf_t *omcf)
{
    ngx_uint_t                    i;
    ngx_flag_t                   *sign;
    ngx_http_ovsa_srv_conf_t     *oscf;
    ngx_http_ovsa_metrics_loc_t  *loc;

    if (omcf->metrics_locs.nelts == 0) {
        return NGX_OK;
    }

    loc = omcf->metrics_locs.elts;

    for (i = 0; i < omcf->metrics_locs.nelts; i++) {
        oscf = loc[i].ctx->srv_conf[ngx_http_ovsa_module.ctx_index];

        /* the first member of the sign filter's location conf: enable */
        sign = loc[i].ctx->loc_conf[
                                 ngx_http_ovsa_sign_filter_module.ctx_index];

        if (oscf->tls == 1 || *sign == 1) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "ovsa_metrics: not on the public license server "
                          "(a server with \"ovsa_tls on\" or a location "
                          "with \"ovsa_sign on\"); put it in the admin "
                          "server block (docs/metrics.md) in %s:%ui",
                          loc[i].file, loc[i].line);
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


char *
ngx_http_ovsa_metrics(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_shm_zone_t               *zone;
    ngx_http_core_loc_conf_t     *clcf;
    ngx_http_ovsa_main_conf_t    *omcf;
    ngx_http_ovsa_metrics_loc_t  *loc;

    static ngx_str_t  name = ngx_string("ovsa_metrics");

    omcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_ovsa_module);

    if (omcf->metrics == NULL) {
        zone = ngx_shared_memory_add(cf, &name, NGX_HTTP_OVSA_METRICS_ZONE,
                                     &ngx_http_ovsa_module);
        if (zone == NULL) {
            return NGX_CONF_ERROR;
        }

        zone->init = ngx_http_ovsa_metrics_init_zone;
        omcf->metrics = zone;

        if (ngx_array_init(&omcf->metrics_locs, cf->pool, 2,
                           sizeof(ngx_http_ovsa_metrics_loc_t))
            != NGX_OK)
        {
            return NGX_CONF_ERROR;
        }
    }

    loc = ngx_array_push(&omcf->metrics_locs);
    if (loc == NULL) {
        return NGX_CONF_ERROR;
    }

    loc->ctx = cf->ctx;
    loc->file = cf->conf_file->file.name.data;
    loc->line = cf->conf_file->line;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_ovsa_metrics_handler;

    return NGX_CONF_OK;
}
