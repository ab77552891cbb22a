/*
 * ngx_http_ovsa_sign_filter_module: signs every answer of a location with
 * the identity of ngx_http_ovsa_module (RFC 9530 Content-Digest + RFC 9421
 * signature "ovsa", see docs/signatures.md).
 *
 *   ovsa_sign           on | off;   (http, server, location; off)
 *   ovsa_sign_max_body  SIZE;       (1m) larger answers become a signed 502
 *   ovsa_sign_ttl       TIME;       (5m) expires - created
 *
 * The header filter holds the response header; the body filter collects
 * the body in memory, and at the last buffer computes the digest and the
 * signature, adds the headers, fixes Content-Length and only then calls
 * the next header and body filters.  Non-200 answers are signed too,
 * nginx's own error pages included.  Deliberately not signed: subrequests
 * (their output is part of the main answer), HEAD and other header-only
 * answers (no content to digest).
 *
 * A request without a valid OVSA-Nonce (1..128 base64url characters) is
 * refused before it reaches the content handler, and its answer becomes a
 * signed 400 {"code":"NONCE_REQUIRED"} whose "ovsa-nonce";req value is
 * the empty string.  So is a request with a body (Content-Length > 0,
 * chunked, an HTTP/2 stream with DATA) without exactly one Content-Digest
 * header, or any request with two: a signed 400 {"code":
 * "DIGEST_REQUIRED"}.  The filter does not read the body; the backend
 * checks the digest against it.  The request's one Content-Digest, when
 * it sent one, is covered as the 7th component "content-digest";req.
 * An error_page target (r->error_page) is not refused again: it answers
 * for a request nginx refused or failed already, maybe before it read
 * the headers (400, 414, 494), and keeps its status and code, signed
 * over the nonce "" when there is none and the method "" when nginx
 * never read a request line.  The preaccess refusals set r->error_page
 * themselves, so that an error_page 400 of the server does not take
 * them over.
 *
 * With a hardware key (default.yaml hardware_key.enabled) the signature
 * itself runs in the thread pool of ovsa_sign_thread_pool under a
 * watchdog (ngx_http_ovsa_hwkey.c): the answer stays held until the token
 * answers.  When it cannot (token lost, timeout) the answer becomes an
 * unsigned 503 with one [error] line naming the OVSA_E_P11_* code: only
 * the token can sign.  When hardware_key.queue_max signatures already
 * wait for the token in this worker, the answer is an unsigned 503
 * {"code":"SIGNER_BUSY"} with Retry-After: 1, at once; the key is fine.
 *
 * The filter must see the answer as it goes on the wire: it must run
 * after gzip, charset and add_header.  The module's ngx_module_order puts
 * it there; postconfiguration refuses any other placement.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_ovsa_module.h"
#include <ovsa_httpsig.h>
#include <ovsa_metrics.h>


#define NGX_HTTP_OVSA_SIGN_BUFFERED  0x08


typedef struct {
    ngx_flag_t       enable;        /* first: ngx_http_ovsa_metrics_check */
    size_t           max_body;
    time_t           ttl;
} ngx_http_ovsa_sign_loc_conf_t;


typedef struct {
    ngx_flag_t       used;          /* "ovsa_sign on" somewhere */
} ngx_http_ovsa_sign_main_conf_t;


typedef struct {
    u_char          *body;
    size_t           len;
    size_t           size;
    ngx_uint_t       status;        /* replacement answer, or 0 */
    const char      *code;          /* its "code" */
    const char      *message;       /* its "message" */
    ovsa_str_t       nonce;         /* "ovsa-nonce";req as signed */
    char            *sig;           /* hardware key: the Signature value */
    ovsa_err_t      *sign_err;      /* hardware key: why not */
    int              sign_rc;
    uint64_t         start_us;      /* metrics: signing began, or 0 */
    unsigned         failed:1;      /* pass the unsigned error through */
    unsigned         done:1;        /* signed and passed on */
    unsigned         signing:1;     /* posted to the hardware key */
    unsigned         answered:1;    /* ... and it answered */
    unsigned         started:1;     /* the header filter has run */
    unsigned         no_digest:1;   /* refused in preaccess: a body
                                       without one Content-Digest (the
                                       body may be discarded by now) */
    unsigned         no_nonce:1;    /* refused in preaccess: no nonce */
    char             digest[OVSA_DIGEST_FIELD_LEN + 1];
    char             input[OVSA_SIG_INPUT_MAX];
} ngx_http_ovsa_sign_ctx_t;


static ngx_int_t ngx_http_ovsa_sign_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_http_ovsa_sign_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
static ngx_int_t ngx_http_ovsa_sign_collect(ngx_http_request_t *r,
    ngx_http_ovsa_sign_ctx_t *ctx, ngx_chain_t *in, ngx_uint_t *last);
static ngx_int_t ngx_http_ovsa_sign_send(ngx_http_request_t *r,
    ngx_http_ovsa_sign_ctx_t *ctx);
static void ngx_http_ovsa_sign_hw_done(ngx_http_request_t *r, void *data,
    int rc, ovsa_err_t *err, const char *sig);
static ngx_int_t ngx_http_ovsa_sign_output(ngx_http_request_t *r,
    ngx_http_ovsa_sign_ctx_t *ctx, const char *sig);
static ngx_int_t ngx_http_ovsa_sign_target(ngx_http_request_t *r,
    ovsa_str_t *target);
static void ngx_http_ovsa_sign_json_answer(ngx_http_request_t *r,
    ngx_uint_t status);
static ngx_int_t ngx_http_ovsa_sign_busy(ngx_http_request_t *r,
    ngx_http_ovsa_sign_ctx_t *ctx, ovsa_err_t *err);
static ngx_int_t ngx_http_ovsa_sign_fail(ngx_http_request_t *r,
    ngx_http_ovsa_sign_ctx_t *ctx, ngx_uint_t status, const char *reason,
    ovsa_err_t *err);
static ngx_uint_t ngx_http_ovsa_sign_replaced(ngx_http_ovsa_sign_ctx_t *ctx);
static ngx_uint_t ngx_http_ovsa_sign_fail_reason(const char *reason);
static ngx_int_t ngx_http_ovsa_sign_replace(ngx_http_request_t *r,
    ngx_http_ovsa_sign_ctx_t *ctx);
static ngx_int_t ngx_http_ovsa_sign_content_type(ngx_http_request_t *r);
static ngx_uint_t ngx_http_ovsa_sign_headers(ngx_list_t *list,
    ngx_str_t *names, ngx_uint_t nnames, ngx_uint_t drop,
    ngx_table_elt_t **last);
static ngx_table_elt_t *ngx_http_ovsa_sign_nonce(ngx_http_request_t *r,
    ngx_uint_t *valid);
static ngx_table_elt_t *ngx_http_ovsa_sign_req_digest(ngx_http_request_t *r,
    ngx_uint_t *valid);
static void ngx_http_ovsa_sign_drop_headers(ngx_http_request_t *r);
static ngx_int_t ngx_http_ovsa_sign_add_header(ngx_http_request_t *r,
    const char *name, u_char *value, size_t len);
static ngx_int_t ngx_http_ovsa_sign_preaccess_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_ovsa_sign_refuse(ngx_http_request_t *r,
    ngx_uint_t no_digest);
static ngx_int_t ngx_http_ovsa_sign_init(ngx_conf_t *cf);
static void *ngx_http_ovsa_sign_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_ovsa_sign_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_ovsa_sign_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_http_ovsa_sign(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


static ngx_conf_num_bounds_t  ngx_http_ovsa_sign_ttl_bounds = {
    ngx_conf_check_num_bounds, 10, 86400
};


static ngx_command_t  ngx_http_ovsa_sign_commands[] = {

    { ngx_string("ovsa_sign"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_http_ovsa_sign,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_ovsa_sign_loc_conf_t, enable),
      NULL },

    { ngx_string("ovsa_sign_max_body"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_ovsa_sign_loc_conf_t, max_body),
      NULL },

    { ngx_string("ovsa_sign_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_ovsa_sign_loc_conf_t, ttl),
      &ngx_http_ovsa_sign_ttl_bounds },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_ovsa_sign_filter_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_http_ovsa_sign_init,               /* postconfiguration */

    ngx_http_ovsa_sign_create_main_conf,   /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_ovsa_sign_create_loc_conf,    /* create location configuration */
    ngx_http_ovsa_sign_merge_loc_conf      /* merge location configuration */
};


ngx_module_t  ngx_http_ovsa_sign_filter_module = {
    NGX_MODULE_V1,
    &ngx_http_ovsa_sign_filter_module_ctx, /* module context */
    ngx_http_ovsa_sign_commands,           /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;

static ngx_str_t  ngx_http_ovsa_sign_json = ngx_string("application/json");


static ngx_int_t
ngx_http_ovsa_sign_header_filter(ngx_http_request_t *r)
{
    off_t                           len;
    ngx_uint_t                      valid;
    ngx_http_ovsa_sign_ctx_t       *ctx;
    ngx_http_ovsa_sign_loc_conf_t  *slcf;

    slcf = ngx_http_get_module_loc_conf(r, ngx_http_ovsa_sign_filter_module);

    /* not a signed location */
    if (!slcf->enable) {
        return ngx_http_next_header_filter(r);
    }

    /* a subrequest's output is part of the main answer, signed there */
    if (r != r->main) {
        return ngx_http_next_header_filter(r);
    }

    /* the unsigned 502 that replaced an answer that could not be signed */
    ctx = ngx_http_get_module_ctx(r, ngx_http_ovsa_sign_filter_module);
    if (ctx != NULL && ctx->started) {
        return ngx_http_next_header_filter(r);
    }

    /* HEAD and header-only answers carry no content to digest */
    if (r->method == NGX_HTTP_HEAD || r->header_only) {
        ngx_http_ovsa_sign_drop_headers(r);
        return ngx_http_next_header_filter(r);
    }

    if (ctx == NULL) {
        ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_ovsa_sign_ctx_t));
        if (ctx == NULL) {
            return NGX_ERROR;
        }

        ngx_http_set_ctx(r, ctx, ngx_http_ovsa_sign_filter_module);
    }

    ctx->started = 1;

    (void) ngx_http_ovsa_sign_nonce(r, &valid);

    /*
     * An error_page target answers for a request nginx refused or failed
     * earlier, possibly before its headers were read (400, 414, 494):
     * it keeps its status and code, signed over the nonce "" when there
     * is none.  Any other answer to a request without a nonce is the
     * NONCE_REQUIRED refusal.
     */
    if (ctx->no_nonce || (!valid && !r->error_page)) {
        ctx->status = NGX_HTTP_BAD_REQUEST;
        ctx->code = "NONCE_REQUIRED";
        ctx->message = "the request needs an OVSA-Nonce header of 1 to 128 "
                       "base64url characters";

    } else if (ctx->no_digest
               || (!r->error_page
                   && ngx_http_ovsa_sign_req_digest(r, &valid) == NULL
                   && !valid))
    {
        ctx->status = NGX_HTTP_BAD_REQUEST;
        ctx->code = "DIGEST_REQUIRED";
        ctx->message = "a request with a body needs one Content-Digest "
                       "header (RFC 9530) of that body";

    } else if (r->headers_out.status == NGX_HTTP_NO_CONTENT
               || r->headers_out.status == NGX_HTTP_NOT_MODIFIED
               || r->headers_out.status < NGX_HTTP_OK)
    {
        /* nginx sends these without content and without Content-Type */
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "ovsa_sign: status %ui has no content to sign",
                      r->headers_out.status);
        ctx->status = NGX_HTTP_BAD_GATEWAY;
        ctx->code = "UNSIGNABLE_RESPONSE";
        ctx->message = "the answer could not be signed";

    } else {
        len = r->headers_out.content_length_n;

        if (len > (off_t) slcf->max_body) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "ovsa_sign: response of %O bytes exceeds "
                          "ovsa_sign_max_body %uz", len, slcf->max_body);
            ctx->status = NGX_HTTP_BAD_GATEWAY;
            ctx->code = "RESPONSE_TOO_LARGE";
            ctx->message = "the answer is larger than the server signs";

        } else if (len > 0) {
            ctx->size = (size_t) len;
        }
    }

    r->main_filter_need_in_memory = 1;
    r->allow_ranges = 0;

    return NGX_OK;
}


static ngx_int_t
ngx_http_ovsa_sign_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_int_t                  rc;
    ngx_uint_t                 last;
    ngx_http_ovsa_sign_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_ovsa_sign_filter_module);

    if (ctx == NULL || !ctx->started || ctx->failed || ctx->done
        || r != r->main)
    {
        return ngx_http_next_body_filter(r, in);
    }

    if (ctx->signing) {
        /* the hardware key has the answer */
        if (!ctx->answered) {
            return NGX_AGAIN;
        }

        ctx->signing = 0;
        r->connection->buffered &= ~NGX_HTTP_OVSA_SIGN_BUFFERED;

        if (ctx->sign_rc != OVSA_OK) {
            return ngx_http_ovsa_sign_fail(r, ctx,
                                           NGX_HTTP_SERVICE_UNAVAILABLE,
                                           "hardware key", ctx->sign_err);
        }

        return ngx_http_ovsa_sign_output(r, ctx, ctx->sig);
    }

    if (in == NULL) {
        return NGX_OK;
    }

    rc = ngx_http_ovsa_sign_collect(r, ctx, in, &last);
    if (rc != NGX_OK) {
        return ngx_http_ovsa_sign_fail(r, ctx, NGX_HTTP_BAD_GATEWAY,
                                       "out of memory", NULL);
    }

    if (!last) {
        r->connection->buffered |= NGX_HTTP_OVSA_SIGN_BUFFERED;
        return NGX_OK;
    }

    r->connection->buffered &= ~NGX_HTTP_OVSA_SIGN_BUFFERED;

    return ngx_http_ovsa_sign_send(r, ctx);
}


/*
 * Copies the buffers into ctx->body, up to ovsa_sign_max_body; beyond it
 * the rest is consumed and dropped and the answer becomes a signed 502.
 */

static ngx_int_t
ngx_http_ovsa_sign_collect(ngx_http_request_t *r,
    ngx_http_ovsa_sign_ctx_t *ctx, ngx_chain_t *in, ngx_uint_t *last)
{
    size_t                          size, n;
    u_char                         *p;
    ngx_buf_t                      *b;
    ngx_chain_t                    *cl;
    ngx_http_ovsa_sign_loc_conf_t  *slcf;

    slcf = ngx_http_get_module_loc_conf(r, ngx_http_ovsa_sign_filter_module);

    *last = 0;

    for (cl = in; cl; cl = cl->next) {
        b = cl->buf;

        if (b->last_buf) {
            *last = 1;
        }

        size = ngx_buf_in_memory(b) ? (size_t) (b->last - b->pos) : 0;

        if (!ngx_buf_in_memory(b) && ngx_buf_size(b) > 0) {
            /* main_filter_need_in_memory makes this an impossible state */
            ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                          "ovsa_sign: response buffer not in memory");
            return NGX_ERROR;
        }

        if (ctx->status != 0 || size == 0) {
            b->pos = b->last;
            if (b->in_file) {
                b->file_pos = b->file_last;
            }
            continue;
        }

        if (ctx->len + size > slcf->max_body) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "ovsa_sign: response exceeds ovsa_sign_max_body "
                          "%uz", slcf->max_body);
            ctx->status = NGX_HTTP_BAD_GATEWAY;
            ctx->code = "RESPONSE_TOO_LARGE";
            ctx->message = "the answer is larger than the server signs";
            b->pos = b->last;
            continue;
        }

        if (ctx->body == NULL || ctx->len + size > ctx->size) {
            n = ngx_max(ctx->size, 4096);
            while (n < ctx->len + size) {
                n *= 2;
            }
            n = ngx_min(n, slcf->max_body);

            p = ngx_pnalloc(r->pool, n);
            if (p == NULL) {
                return NGX_ERROR;
            }

            if (ctx->len) {
                ngx_memcpy(p, ctx->body, ctx->len);
            }

            ctx->body = p;
            ctx->size = n;
        }

        ngx_memcpy(ctx->body + ctx->len, b->pos, size);
        ctx->len += size;
        b->pos = b->last;
    }

    return NGX_OK;
}


/*
 * At the last buffer: ovsa_sig_prepare() (digest, parameters, base) in the
 * event loop, then ovsa_sig_finish() (the signature with the signer
 * prepared at start): here with a software key, in a thread pool with a
 * hardware key (ngx_http_ovsa_hwkey.c), where the answer stays held
 * (NGX_AGAIN) until the request is re-driven with the result.
 */

static ngx_int_t
ngx_http_ovsa_sign_send(ngx_http_request_t *r, ngx_http_ovsa_sign_ctx_t *ctx)
{
    size_t                          base_size, base_len;
    u_char                         *base, *p;
    ngx_int_t                       rc;
    ngx_uint_t                      valid;
    ovsa_err_t                      err;
    ngx_table_elt_t                *nonce, *digest;
    ovsa_sig_msg_t                  msg;
    ngx_http_ovsa_sign_loc_conf_t  *slcf;
    ngx_http_ovsa_main_conf_t      *omcf;
    char                            sig[OVSA_SIG_FIELD_MAX];

    slcf = ngx_http_get_module_loc_conf(r, ngx_http_ovsa_sign_filter_module);
    omcf = ngx_http_get_module_main_conf(r, ngx_http_ovsa_module);

    if (omcf->signer.ctx == NULL && !omcf->conf->hw_enabled) {
        return ngx_http_ovsa_sign_fail(r, ctx, NGX_HTTP_BAD_GATEWAY,
                                       "no signing key loaded", NULL);
    }

    if (ctx->status != 0 && ngx_http_ovsa_sign_replace(r, ctx) != NGX_OK) {
        return ngx_http_ovsa_sign_fail(r, ctx, NGX_HTTP_BAD_GATEWAY,
                                       "out of memory", NULL);
    }

    if (ngx_http_ovsa_sign_content_type(r) != NGX_OK) {
        return ngx_http_ovsa_sign_fail(r, ctx, NGX_HTTP_BAD_GATEWAY,
                                       "out of memory", NULL);
    }

    ngx_memzero(&msg, sizeof(ovsa_sig_msg_t));

    msg.status = (int) r->headers_out.status;
    msg.content_type.data = (char *) r->headers_out.content_type.data;
    msg.content_type.len = r->headers_out.content_type.len;

    /* an invalid nonce is signed as "" (the NONCE_REQUIRED answer) */
    nonce = ngx_http_ovsa_sign_nonce(r, &valid);
    msg.nonce.data = valid ? (char *) nonce->value.data : "";
    msg.nonce.len = valid ? nonce->value.len : 0;
    ctx->nonce = msg.nonce;

    /*
     * the method of the request line: error_page may have changed it;
     * "" when nginx refused the request before it had read a request
     * line (a malformed one, 414)
     */
    if (r->request_line.len == 0) {
        msg.method.data = "";
        msg.method.len = 0;

    } else {
        p = ngx_strlchr(r->request_line.data,
                        r->request_line.data + r->request_line.len, ' ');
        if (p == NULL) {
            return ngx_http_ovsa_sign_fail(r, ctx, NGX_HTTP_BAD_GATEWAY,
                                           "no request line", NULL);
        }

        msg.method.data = (char *) r->request_line.data;
        msg.method.len = p - r->request_line.data;
    }

    /* the request's one Content-Digest: the 7th component */
    digest = ngx_http_ovsa_sign_req_digest(r, &valid);
    if (digest != NULL) {
        msg.req_content_digest.data = (char *) digest->value.data;
        msg.req_content_digest.len = digest->value.len;
    }

    if (ngx_http_ovsa_sign_target(r, &msg.target_uri) != NGX_OK) {
        return ngx_http_ovsa_sign_fail(r, ctx, NGX_HTTP_BAD_GATEWAY,
                                       "out of memory", NULL);
    }

    if (omcf->metrics != NULL) {
        ctx->start_us = ovsa_metrics_now_us();
    }

    /* the cheap part, here: digest, parameters, Signature-Input, base */
    base_size = ovsa_sig_base_max(&msg);
    base = ngx_pnalloc(r->pool, base_size);
    if (base == NULL) {
        return ngx_http_ovsa_sign_fail(r, ctx, NGX_HTTP_BAD_GATEWAY,
                                       "out of memory", NULL);
    }

    if (ovsa_sig_prepare(&omcf->signer, &msg,
                         ctx->body ? ctx->body : (u_char *) "", ctx->len,
                         ngx_time(), (long) slcf->ttl, ctx->digest,
                         ctx->input, (char *) base, base_size, &base_len,
                         &err)
        != OVSA_OK)
    {
        return ngx_http_ovsa_sign_fail(r, ctx, NGX_HTTP_BAD_GATEWAY,
                                       "signing failed", &err);
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "ovsa_sign: base \"%*s\"", base_len, base);

    /*
     * The signature: in the thread pool with a hardware key.  Refusals of
     * requests without a nonce or credentials (400, 401) may take only a
     * quarter of the queue (12b, the flood).
     */
    if (omcf->conf->hw_enabled) {
        rc = ngx_http_ovsa_hwkey_sign(r, (char *) base, base_len,
                                      msg.nonce.len == 0
                                      || msg.status == NGX_HTTP_BAD_REQUEST
                                      || msg.status == NGX_HTTP_UNAUTHORIZED,
                                      ngx_http_ovsa_sign_hw_done, ctx, &err);

        if (rc == NGX_BUSY) {
            return ngx_http_ovsa_sign_busy(r, ctx, &err);
        }

        if (rc != NGX_OK) {
            return ngx_http_ovsa_sign_fail(r, ctx,
                                           NGX_HTTP_SERVICE_UNAVAILABLE,
                                           "hardware key", &err);
        }

        ctx->signing = 1;
        r->connection->buffered |= NGX_HTTP_OVSA_SIGN_BUFFERED;

        return NGX_AGAIN;
    }

    if (ovsa_sig_finish(&omcf->signer, (char *) base, base_len, sig, &err)
        != OVSA_OK)
    {
        return ngx_http_ovsa_sign_fail(r, ctx, NGX_HTTP_BAD_GATEWAY,
                                       "signing failed", &err);
    }

    return ngx_http_ovsa_sign_output(r, ctx, sig);
}


/* The hardware key answered (event loop); the body filter goes on. */

static void
ngx_http_ovsa_sign_hw_done(ngx_http_request_t *r, void *data, int rc,
    ovsa_err_t *err, const char *sig)
{
    ngx_http_ovsa_sign_ctx_t  *ctx = data;

    size_t  len;

    ctx->answered = 1;
    ctx->sign_rc = rc;

    if (rc == OVSA_OK) {
        len = ngx_strlen(sig);
        ctx->sig = ngx_pnalloc(r->pool, len + 1);
        if (ctx->sig != NULL) {
            ngx_memcpy(ctx->sig, sig, len + 1);
            return;
        }

        ctx->sign_rc = OVSA_ERR;
        err = NULL;
    }

    ctx->sign_err = ngx_palloc(r->pool, sizeof(ovsa_err_t));
    if (ctx->sign_err != NULL) {
        if (err != NULL) {
            *ctx->sign_err = *err;

        } else {
            ovsa_err_set(ctx->sign_err, OVSA_E_NOMEM, "out of memory");
        }
    }
}


/* Signed: the headers, then the held header and the whole body go on. */

static ngx_int_t
ngx_http_ovsa_sign_output(ngx_http_request_t *r,
    ngx_http_ovsa_sign_ctx_t *ctx, const char *sig)
{
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    ngx_http_ovsa_sign_drop_headers(r);

    if (ngx_http_ovsa_sign_add_header(r, "Content-Digest",
                                      (u_char *) ctx->digest,
                                      ngx_strlen(ctx->digest)) != NGX_OK
        || ngx_http_ovsa_sign_add_header(r, "Signature-Input",
                                         (u_char *) ctx->input,
                                         ngx_strlen(ctx->input)) != NGX_OK
        || ngx_http_ovsa_sign_add_header(r, "Signature", (u_char *) sig,
                                         ngx_strlen(sig)) != NGX_OK
        || (ctx->nonce.len
            && ngx_http_ovsa_sign_add_header(r, "OVSA-Nonce",
                                             (u_char *) ctx->nonce.data,
                                             ctx->nonce.len) != NGX_OK))
    {
        return ngx_http_ovsa_sign_fail(r, ctx, NGX_HTTP_BAD_GATEWAY,
                                       "out of memory", NULL);
    }

    ngx_http_clear_content_length(r);
    r->headers_out.content_length_n = ctx->len;
    ngx_http_clear_accept_ranges(r);

    ctx->done = 1;

    ngx_http_ovsa_metrics_signed(r, r->headers_out.status,
                                 ngx_http_ovsa_sign_replaced(ctx),
                                 ctx->start_us);

    rc = ngx_http_next_header_filter(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    if (ctx->len) {
        b->pos = ctx->body;
        b->last = ctx->body + ctx->len;
        b->memory = 1;
    }

    b->last_buf = 1;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_next_body_filter(r, &out);
}


/*
 * The signing queue of the hardware key is full: nothing can sign this
 * answer now, and waiting would only grow the queue.  The answer becomes
 * an unsigned 503 {"code":"SIGNER_BUSY"} with Retry-After: 1, sent at
 * once; the key is not lost.  A client treats it as "try again" (like a
 * connection refused), never as a verdict (docs/signatures.md).
 */

/*
 * Turns r's headers into those of an answer the module writes itself:
 * status, JSON, no charset, encoding, validators of the original answer.
 */

static void
ngx_http_ovsa_sign_json_answer(ngx_http_request_t *r, ngx_uint_t status)
{
    r->headers_out.status = status;
    r->headers_out.status_line.len = 0;
    r->headers_out.content_type = ngx_http_ovsa_sign_json;
    r->headers_out.content_type_len = ngx_http_ovsa_sign_json.len;
    r->headers_out.content_type_lowcase = NULL;
    ngx_str_null(&r->headers_out.charset);

    if (r->headers_out.content_encoding) {
        r->headers_out.content_encoding->hash = 0;
        r->headers_out.content_encoding = NULL;
    }

    ngx_http_clear_last_modified(r);
    ngx_http_clear_etag(r);
}


static ngx_int_t
ngx_http_ovsa_sign_busy(ngx_http_request_t *r, ngx_http_ovsa_sign_ctx_t *ctx,
    ovsa_err_t *err)
{
    ngx_int_t        rc;
    ngx_buf_t       *b;
    ngx_chain_t      out;
    ngx_table_elt_t *h;

    static u_char  body[] = "{\"code\":\"SIGNER_BUSY\",\"message\":\"the "
                            "hardware key is busy signing other answers; "
                            "try again\",\"retry_after\":1}";

    ngx_http_ovsa_metrics_busy(r);

    ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                  "ovsa_sign: answer %ui for \"%V\" not signed, sending "
                  "503 SIGNER_BUSY: %s: %s", r->headers_out.status,
                  &r->unparsed_uri, ovsa_code_name(err->code), err->msg);

    ngx_http_ovsa_sign_drop_headers(r);

    ngx_http_ovsa_sign_json_answer(r, NGX_HTTP_SERVICE_UNAVAILABLE);
    ngx_http_clear_accept_ranges(r);
    ngx_http_clear_content_length(r);
    r->headers_out.content_length_n = sizeof(body) - 1;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Retry-After");
    ngx_str_set(&h->value, "1");
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif

    ctx->done = 1;
    r->connection->buffered &= ~NGX_HTTP_OVSA_SIGN_BUFFERED;

    rc = ngx_http_next_header_filter(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->pos = body;
    b->last = body + sizeof(body) - 1;
    b->memory = 1;
    b->last_buf = 1;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_next_body_filter(r, &out);
}


/*
 * @target-uri: scheme "://" the Host header as sent, then the original
 * request target (r->unparsed_uri survives internal redirects); an
 * absolute-form request target is the target URI itself.
 */

static ngx_int_t
ngx_http_ovsa_sign_target(ngx_http_request_t *r, ovsa_str_t *target)
{
    u_char     *p;
    size_t      len;
    ngx_str_t  *host;

    if (r->unparsed_uri.len && r->unparsed_uri.data[0] != '/') {
        target->data = (char *) r->unparsed_uri.data;
        target->len = r->unparsed_uri.len;
        return NGX_OK;
    }

    host = r->headers_in.host ? &r->headers_in.host->value
                              : &r->headers_in.server;

    len = sizeof("https://") - 1 + host->len + r->unparsed_uri.len;

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    target->data = (char *) p;
    target->len = ngx_sprintf(p, "%s://%V%V",
#if (NGX_HTTP_SSL)
                              r->connection->ssl ? "https" : "http",
#else
                              "http",
#endif
                              host, &r->unparsed_uri) - p;

    return NGX_OK;
}


/*
 * One [error] line, then nginx's error page, unsigned: 502, or 503 when
 * the hardware key failed (it is what would sign the answer).
 */

static ngx_int_t
ngx_http_ovsa_sign_fail(ngx_http_request_t *r, ngx_http_ovsa_sign_ctx_t *ctx,
    ngx_uint_t status, const char *reason, ovsa_err_t *err)
{
    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "ovsa_sign: answer %ui for \"%V\" not signed, sending "
                  "%ui: %s%s%s%s%s", r->headers_out.status,
                  &r->unparsed_uri, status, reason, err ? ": " : "",
                  err ? ovsa_code_name(err->code) : "", err ? ": " : "",
                  err ? err->msg : "");

    ngx_http_ovsa_metrics_failed(r, ngx_http_ovsa_sign_fail_reason(reason));

    ctx->failed = 1;
    r->connection->buffered &= ~NGX_HTTP_OVSA_SIGN_BUFFERED;

    return ngx_http_filter_finalize_request(r,
                                            &ngx_http_ovsa_sign_filter_module,
                                            status);
}


/* metrics: the label of a replacement answer, of a failure */

static ngx_uint_t
ngx_http_ovsa_sign_replaced(ngx_http_ovsa_sign_ctx_t *ctx)
{
    ngx_uint_t  i;

    static const char  *codes[] = {
        "NONCE_REQUIRED", "DIGEST_REQUIRED", "UNSIGNABLE_RESPONSE",
        "RESPONSE_TOO_LARGE"
    };

    if (ctx->status == 0 || ctx->code == NULL) {
        return NGX_HTTP_OVSA_M_NOT_REPLACED;
    }

    for (i = 0; i < NGX_HTTP_OVSA_M_REPLACED_N; i++) {
        if (ngx_strcmp(ctx->code, codes[i]) == 0) {
            return i;
        }
    }

    return NGX_HTTP_OVSA_M_NOT_REPLACED;
}


static ngx_uint_t
ngx_http_ovsa_sign_fail_reason(const char *reason)
{
    if (ngx_strcmp(reason, "no signing key loaded") == 0) {
        return NGX_HTTP_OVSA_M_FAIL_NO_KEY;
    }

    if (ngx_strcmp(reason, "out of memory") == 0) {
        return NGX_HTTP_OVSA_M_FAIL_NOMEM;
    }

    if (ngx_strcmp(reason, "hardware key") == 0) {
        return NGX_HTTP_OVSA_M_FAIL_HWKEY;
    }

    if (ngx_strcmp(reason, "no request line") == 0) {
        return NGX_HTTP_OVSA_M_FAIL_REQLINE;
    }

    return NGX_HTTP_OVSA_M_FAIL_SIGN;
}


/*
 * Replaces the answer with ovsa's JSON error:
 * {"verdict":"error","code":..,"message":..,"server_time":..}
 */

static ngx_int_t
ngx_http_ovsa_sign_replace(ngx_http_request_t *r,
    ngx_http_ovsa_sign_ctx_t *ctx)
{
    size_t  len;
    u_char  *p;

    len = sizeof("{\"verdict\":\"error\",\"code\":\"\",\"message\":\"\","
                 "\"server_time\":}") - 1
          + ngx_strlen(ctx->code) + ngx_strlen(ctx->message) + NGX_TIME_T_LEN;

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ctx->body = p;
    ctx->len = ngx_sprintf(p, "{\"verdict\":\"error\",\"code\":\"%s\","
                           "\"message\":\"%s\",\"server_time\":%T}",
                           ctx->code, ctx->message, ngx_time()) - p;

    ngx_http_ovsa_sign_json_answer(r, ctx->status);

    return NGX_OK;
}


/*
 * Makes Content-Type exactly what ngx_http_header_filter will write:
 * "type; charset=x" folded into one string.  An answer without one is
 * application/octet-stream (RFC 9110 section 8.3): the header must exist
 * to be covered.
 */

static ngx_int_t
ngx_http_ovsa_sign_content_type(ngx_http_request_t *r)
{
    u_char     *p;
    ngx_str_t  *type, *charset;

    type = &r->headers_out.content_type;
    charset = &r->headers_out.charset;

    if (type->len == 0) {
        ngx_str_set(type, "application/octet-stream");
        r->headers_out.content_type_len = type->len;
        ngx_str_null(charset);
        return NGX_OK;
    }

    if (r->headers_out.content_type_len == type->len && charset->len) {
        p = ngx_pnalloc(r->pool, type->len + sizeof("; charset=") - 1
                                 + charset->len);
        if (p == NULL) {
            return NGX_ERROR;
        }

        type->len = ngx_sprintf(p, "%V; charset=%V", type, charset) - p;
        type->data = p;
    }

    r->headers_out.content_type_len = type->len;
    r->headers_out.content_type_lowcase = NULL;
    ngx_str_null(charset);

    return NGX_OK;
}


/*
 * Walks a header list: counts the headers named one of names (any case),
 * sets *last to the last of them, and with drop hides them (hash = 0).
 */

static ngx_uint_t
ngx_http_ovsa_sign_headers(ngx_list_t *list, ngx_str_t *names,
    ngx_uint_t nnames, ngx_uint_t drop, ngx_table_elt_t **last)
{
    ngx_uint_t        i, k, n;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    n = 0;
    part = &list->part;
    h = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        for (k = 0; k < nnames; k++) {
            if (h[i].key.len == names[k].len
                && ngx_strncasecmp(h[i].key.data, names[k].data,
                                   names[k].len) == 0)
            {
                n++;

                if (last != NULL) {
                    *last = &h[i];
                }

                if (drop) {
                    h[i].hash = 0;
                }
            }
        }
    }

    return n;
}


/* The request's one OVSA-Nonce header; *valid when it is well-formed. */

static ngx_table_elt_t *
ngx_http_ovsa_sign_nonce(ngx_http_request_t *r, ngx_uint_t *valid)
{
    ngx_uint_t        n;
    ngx_table_elt_t  *found;

    static ngx_str_t  name = ngx_string("OVSA-Nonce");

    found = NULL;
    n = ngx_http_ovsa_sign_headers(&r->headers_in.headers, &name, 1, 0,
                                   &found);

    /* two nonces are no nonce */
    *valid = (n == 1 && ovsa_nonce_valid((char *) found->value.data,
                                         found->value.len));

    return found;
}


/*
 * The request's one Content-Digest header, or NULL when it has none or
 * several.  *valid when the request may go on: exactly one, or none and
 * no body.  The body is announced (Content-Length > 0, chunked) or, in
 * HTTP/2, a stream whose HEADERS frame did not end it.
 */

static ngx_table_elt_t *
ngx_http_ovsa_sign_req_digest(ngx_http_request_t *r, ngx_uint_t *valid)
{
    ngx_uint_t        n, body;
    ngx_table_elt_t  *found;

    static ngx_str_t  name = ngx_string("Content-Digest");

    found = NULL;
    n = ngx_http_ovsa_sign_headers(&r->headers_in.headers, &name, 1, 0,
                                   &found);

    body = (r->headers_in.content_length_n > 0 || r->headers_in.chunked);

#if (NGX_HTTP_V2)
    if (r->stream != NULL && !r->stream->in_closed) {
        body = 1;
    }
#endif

    /* two digests are no digest */
    *valid = (n == 1 || (n == 0 && !body));

    return n == 1 ? found : NULL;
}


/* A backend cannot sign for the server: drop what it sent of ours. */

static void
ngx_http_ovsa_sign_drop_headers(ngx_http_request_t *r)
{
    static ngx_str_t  names[] = {
        ngx_string("Content-Digest"),
        ngx_string("Signature-Input"),
        ngx_string("Signature"),
        ngx_string("OVSA-Nonce"),
        ngx_string("Repr-Digest"),
        ngx_string("Digest")
    };

    (void) ngx_http_ovsa_sign_headers(&r->headers_out.headers, names,
                                      sizeof(names) / sizeof(names[0]), 1,
                                      NULL);
}


static ngx_int_t
ngx_http_ovsa_sign_add_header(ngx_http_request_t *r, const char *name,
    u_char *value, size_t len)
{
    u_char           *p;
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL && len) {
        return NGX_ERROR;
    }

    ngx_memcpy(p, value, len);

    h->hash = 1;
    h->key.data = (u_char *) name;
    h->key.len = ngx_strlen(name);
    h->value.data = p;
    h->value.len = len;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif

    return NGX_OK;
}


/*
 * Refuses a request without a valid nonce, or with a body and without
 * one Content-Digest, before any backend sees it; the header filter
 * turns the 400 into the signed NONCE_REQUIRED or DIGEST_REQUIRED answer.
 */

static ngx_int_t
ngx_http_ovsa_sign_preaccess_handler(ngx_http_request_t *r)
{
    ngx_uint_t                      valid;
    ngx_http_ovsa_sign_loc_conf_t  *slcf;

    slcf = ngx_http_get_module_loc_conf(r, ngx_http_ovsa_sign_filter_module);

    /* an error_page target: the request was refused or failed already */
    if (!slcf->enable || r != r->main || r->method == NGX_HTTP_HEAD
        || r->error_page)
    {
        return NGX_DECLINED;
    }

    (void) ngx_http_ovsa_sign_nonce(r, &valid);

    if (!valid) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "ovsa_sign: request without a valid OVSA-Nonce");
        return ngx_http_ovsa_sign_refuse(r, 0);
    }

    (void) ngx_http_ovsa_sign_req_digest(r, &valid);

    if (!valid) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "ovsa_sign: request with a body and without one "
                      "Content-Digest");
        return ngx_http_ovsa_sign_refuse(r, 1);
    }

    return NGX_DECLINED;
}


/*
 * The 400 of a refusal in preaccess: the header filter must know why (the
 * 400 discards the body), and an error_page 400 of the server must not
 * take it over (it would lose the code): the error page is this one.
 */

static ngx_int_t
ngx_http_ovsa_sign_refuse(ngx_http_request_t *r, ngx_uint_t no_digest)
{
    ngx_http_ovsa_sign_ctx_t  *ctx;

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_ovsa_sign_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->no_nonce = !no_digest;
    ctx->no_digest = no_digest;
    ngx_http_set_ctx(r, ctx, ngx_http_ovsa_sign_filter_module);

    r->error_page = 1;

    return NGX_HTTP_BAD_REQUEST;
}


/*
 * Registers the filters and the nonce check.  The filter signs what goes
 * on the wire only if it runs after the gzip, charset and headers filters,
 * i.e. if it comes before them in the module list.
 */

static ngx_int_t
ngx_http_ovsa_sign_init(ngx_conf_t *cf)
{
    ngx_uint_t                       i, k;
    ngx_http_handler_pt             *h;
    ngx_http_core_main_conf_t       *cmcf;
    ngx_http_ovsa_sign_main_conf_t  *smcf;

    static const char  *after[] = {
        "ngx_http_gzip_filter_module",
        "ngx_http_charset_filter_module",
        "ngx_http_headers_filter_module",
        "ngx_http_sub_filter_module",
        "ngx_http_addition_filter_module"
    };

    smcf = ngx_http_conf_get_module_main_conf(cf,
                                              ngx_http_ovsa_sign_filter_module);

    if (!smcf->used) {
        return NGX_OK;
    }

    for (i = 0; cf->cycle->modules[i]; i++) {
        if (cf->cycle->modules[i] == &ngx_http_ovsa_sign_filter_module) {
            break;
        }

        for (k = 0; k < sizeof(after) / sizeof(after[0]); k++) {
            if (ngx_strcmp(cf->cycle->modules[i]->name, after[k]) == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "ovsa_sign: the signing filter would run "
                                   "before %s and sign what is not sent; "
                                   "build the module with the "
                                   "ngx_module_order of docs/signatures.md",
                                   after[k]);
                return NGX_ERROR;
            }
        }
    }

    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_ovsa_sign_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_ovsa_sign_body_filter;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_PREACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_ovsa_sign_preaccess_handler;

    return NGX_OK;
}


static void *
ngx_http_ovsa_sign_create_main_conf(ngx_conf_t *cf)
{
    /* "used" starts unset; NULL when out of memory */
    return ngx_pcalloc(cf->pool, sizeof(ngx_http_ovsa_sign_main_conf_t));
}


static void *
ngx_http_ovsa_sign_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_ovsa_sign_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_ovsa_sign_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    conf->enable = NGX_CONF_UNSET;
    conf->max_body = NGX_CONF_UNSET_SIZE;
    conf->ttl = NGX_CONF_UNSET;

    return conf;
}


static char *
ngx_http_ovsa_sign_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_ovsa_sign_loc_conf_t *prev = parent;
    ngx_http_ovsa_sign_loc_conf_t *conf = child;

    ngx_conf_merge_value(conf->enable, prev->enable, 0);
    ngx_conf_merge_size_value(conf->max_body, prev->max_body, 1024 * 1024);
    ngx_conf_merge_sec_value(conf->ttl, prev->ttl, 300);

    return NGX_CONF_OK;
}


static char *
ngx_http_ovsa_sign(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char                            *rv;
    ngx_flag_t                      *fp;
    ngx_http_ovsa_main_conf_t       *omcf;
    ngx_http_ovsa_sign_main_conf_t  *smcf;

    rv = ngx_conf_set_flag_slot(cf, cmd, conf);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    fp = (ngx_flag_t *) ((char *) conf + cmd->offset);
    if (!*fp) {
        return NGX_CONF_OK;
    }

    omcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_ovsa_module);
    if (omcf->conf == NULL) {
        return "needs \"ovsa_config\" earlier: it signs with that identity";
    }

    smcf = ngx_http_conf_get_module_main_conf(cf,
                                              ngx_http_ovsa_sign_filter_module);
    smcf->used = 1;

    return NGX_CONF_OK;
}
