/*
 * ngx_http_ovsa_module.h: what the ovsa modules of one nginx share: the
 * configuration read from default.yaml and the verified identity.
 */

#ifndef _NGX_HTTP_OVSA_MODULE_H_INCLUDED_
#define _NGX_HTTP_OVSA_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <ovsa_conf.h>
#include <ovsa_httpsig.h>
#include <ovsa_x509.h>


typedef struct {
    ngx_str_t              file;        /* ovsa_config argument */
    ovsa_conf_t           *conf;        /* NULL without ovsa_config */
    ovsa_identity_t        id;          /* verified at configuration time */

    ovsa_signer_t          signer;      /* alg, keyid, prepared key context */
    ngx_str_t              chain_pem;   /* leaf + intermediates */
    ngx_str_t              tls_cert;    /* "data:" + chain_pem, ovsa_tls;
                                           with hardware_key.tls_chain,
                                           that chain */
    ngx_str_t              tls_key;     /* "data:" + PEM key, wiped */

    /* hardware-key mode (docs/hardware-key.md) */
    ngx_str_t              thread_pool_name;  /* ovsa_sign_thread_pool */
    u_char                *conf_file;   /* where ovsa_config was given */
    ngx_uint_t             conf_line;
    ngx_str_t              hw_cert;     /* "data:" placeholder certificate */
    ngx_str_t              hw_key;      /* "data:" placeholder key */
    ngx_array_t            tls_ctxs;    /* SSL_CTX * of ovsa_tls servers */

    /* 16c: metrics (ngx_http_ovsa_metrics.c, docs/metrics.md) */
    ngx_shm_zone_t        *metrics;     /* NULL without ovsa_metrics */
    ngx_array_t            metrics_locs;  /* where ovsa_metrics was given */
} ngx_http_ovsa_main_conf_t;


typedef struct {
    ngx_flag_t             tls;
    u_char                *tls_file;    /* where ovsa_tls was given */
    ngx_uint_t             tls_line;
} ngx_http_ovsa_srv_conf_t;


/*
 * Called in the event loop when a signature posted with
 * ngx_http_ovsa_hwkey_sign() is done: rc OVSA_OK and sig (the Signature
 * field value), or OVSA_ERR and err.  The request is then re-driven
 * through its write event handler.
 */
typedef void (*ngx_http_ovsa_hwkey_done_pt)(ngx_http_request_t *r,
    void *data, int rc, ovsa_err_t *err, const char *sig);


extern ngx_module_t  ngx_http_ovsa_module;
extern ngx_module_t  ngx_http_ovsa_sign_filter_module;


/* ngx_http_ovsa_hwkey.c: hardware-key mode */
ngx_int_t ngx_http_ovsa_hwkey_check(ngx_conf_t *cf,
    ngx_http_ovsa_main_conf_t *omcf);
ngx_int_t ngx_http_ovsa_hwkey_placeholder(ngx_conf_t *cf,
    ngx_http_ovsa_main_conf_t *omcf);
ngx_int_t ngx_http_ovsa_hwkey_postconf(ngx_conf_t *cf,
    ngx_http_ovsa_main_conf_t *omcf);
ngx_int_t ngx_http_ovsa_hwkey_sign(ngx_http_request_t *r, const char *base,
    size_t len, ngx_uint_t anon, ngx_http_ovsa_hwkey_done_pt done,
    void *data, ovsa_err_t *err);
ngx_int_t ngx_http_ovsa_hwkey_init_module(ngx_cycle_t *cycle);
ngx_int_t ngx_http_ovsa_hwkey_init_process(ngx_cycle_t *cycle);
void ngx_http_ovsa_hwkey_exit_master(ngx_cycle_t *cycle);
/* 1 once the hardware key was lost (shared by all processes) */
ngx_uint_t ngx_http_ovsa_hwkey_is_lost(void);


/*
 * ngx_http_ovsa_metrics.c: counters shared by the workers; each call is
 * a no-op without an ovsa_metrics location.  Labels are these fixed sets.
 */
#define NGX_HTTP_OVSA_M_NOT_REPLACED   ((ngx_uint_t) -1)
#define NGX_HTTP_OVSA_M_NONCE          0    /* NONCE_REQUIRED */
#define NGX_HTTP_OVSA_M_DIGEST         1    /* DIGEST_REQUIRED */
#define NGX_HTTP_OVSA_M_UNSIGNABLE     2    /* UNSIGNABLE_RESPONSE */
#define NGX_HTTP_OVSA_M_TOO_LARGE      3    /* RESPONSE_TOO_LARGE */
#define NGX_HTTP_OVSA_M_REPLACED_N     4

#define NGX_HTTP_OVSA_M_FAIL_NO_KEY    0
#define NGX_HTTP_OVSA_M_FAIL_NOMEM     1
#define NGX_HTTP_OVSA_M_FAIL_SIGN      2
#define NGX_HTTP_OVSA_M_FAIL_HWKEY     3
#define NGX_HTTP_OVSA_M_FAIL_REQLINE   4
#define NGX_HTTP_OVSA_M_FAIL_N         5

/* an answer went out signed; start_us: ovsa_metrics_now_us() or 0 */
void ngx_http_ovsa_metrics_signed(ngx_http_request_t *r, ngx_uint_t status,
    ngx_uint_t replaced, uint64_t start_us);
void ngx_http_ovsa_metrics_failed(ngx_http_request_t *r, ngx_uint_t reason);
void ngx_http_ovsa_metrics_busy(ngx_http_request_t *r);
void ngx_http_ovsa_metrics_queue(ngx_cycle_t *cycle, ngx_uint_t depth);
ngx_int_t ngx_http_ovsa_metrics_check(ngx_conf_t *cf,
    ngx_http_ovsa_main_conf_t *omcf);
char *ngx_http_ovsa_metrics(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);


#endif /* _NGX_HTTP_OVSA_MODULE_H_INCLUDED_ */
