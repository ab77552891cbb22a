/*
 * ngx_http_ovsa_module: the license server's provisioned identity.
 *
 *   ovsa_config /etc/ovsa/default.yaml;   (http)  read + verify at start
 *   ovsa_tls on;                           (server) serve that identity
 *   ovsa_chain;                            (location) the signing chain
 *   ovsa_sign_thread_pool ovsa;            (http) hardware-key signatures
 *   ovsa_metrics;                          (location, admin server only)
 *                                          Prometheus text, see
 *                                          ngx_http_ovsa_metrics.c
 *
 * In hardware-key mode (ngx_http_ovsa_hwkey.c) the token is checked at
 * configuration time in a child process, and each worker opens it.
 *
 * Every check runs while the configuration is read, so a broken identity
 * fails "nginx -t" and a reload keeps the running configuration.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <openssl/pem.h>

#include "ngx_http_ovsa_module.h"


static ngx_int_t ngx_http_ovsa_chain_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_ovsa_client_cert_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_ovsa_add_variables(ngx_conf_t *cf);
static ngx_int_t ngx_http_ovsa_init(ngx_conf_t *cf);
static ngx_int_t ngx_http_ovsa_tls_server(ngx_conf_t *cf,
    ngx_http_ovsa_main_conf_t *omcf, ngx_http_core_srv_conf_t *cscf);
static ngx_int_t ngx_http_ovsa_set_signer(ngx_conf_t *cf,
    ngx_http_ovsa_main_conf_t *omcf);
static ngx_int_t ngx_http_ovsa_chain_data(ngx_conf_t *cf,
    STACK_OF(X509) *chain, ngx_str_t *out);
static ngx_int_t ngx_http_ovsa_data_pem(ngx_conf_t *cf, BIO *bio,
    ngx_str_t *out);
static void ngx_http_ovsa_wipe_key(void *data);
static void *ngx_http_ovsa_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_ovsa_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_ovsa_create_srv_conf(ngx_conf_t *cf);
static char *ngx_http_ovsa_merge_srv_conf(ngx_conf_t *cf, void *parent,
    void *child);
static void ngx_http_ovsa_cleanup(void *data);
static char *ngx_http_ovsa_config(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_ovsa_tls(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_ovsa_chain(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


static ngx_command_t  ngx_http_ovsa_commands[] = {

    { ngx_string("ovsa_config"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_ovsa_config,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("ovsa_tls"),
      NGX_HTTP_SRV_CONF|NGX_CONF_FLAG,
      ngx_http_ovsa_tls,
      NGX_HTTP_SRV_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("ovsa_chain"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_ovsa_chain,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("ovsa_metrics"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_ovsa_metrics,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("ovsa_sign_thread_pool"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_ovsa_main_conf_t, thread_pool_name),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_ovsa_module_ctx = {
    ngx_http_ovsa_add_variables,           /* preconfiguration */
    ngx_http_ovsa_init,                    /* postconfiguration */

    ngx_http_ovsa_create_main_conf,        /* create main configuration */
    ngx_http_ovsa_init_main_conf,          /* init main configuration */

    ngx_http_ovsa_create_srv_conf,         /* create server configuration */
    ngx_http_ovsa_merge_srv_conf,          /* merge server configuration */

    NULL,                                  /* create location configuration */
    NULL                                   /* merge location configuration */
};


ngx_module_t  ngx_http_ovsa_module = {
    NGX_MODULE_V1,
    &ngx_http_ovsa_module_ctx,             /* module context */
    ngx_http_ovsa_commands,                /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    ngx_http_ovsa_hwkey_init_module,       /* init module */
    ngx_http_ovsa_hwkey_init_process,      /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    ngx_http_ovsa_hwkey_exit_master,       /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_str_t  ngx_http_ovsa_chain_type =
    ngx_string("application/pem-certificate-chain");


static ngx_http_variable_t  ngx_http_ovsa_vars[] = {

    { ngx_string("ovsa_client_cert_sha256"), NULL,
      ngx_http_ovsa_client_cert_variable, 0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


static ngx_int_t
ngx_http_ovsa_chain_handler(ngx_http_request_t *r)
{
    ngx_int_t                   rc;
    ngx_buf_t                  *b;
    ngx_chain_t                 out;
    ngx_http_ovsa_main_conf_t  *omcf;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    omcf = ngx_http_get_module_main_conf(r, ngx_http_ovsa_module);

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = omcf->chain_pem.len;
    r->headers_out.content_type = ngx_http_ovsa_chain_type;
    r->headers_out.content_type_len = ngx_http_ovsa_chain_type.len;

    if (r->method == NGX_HTTP_HEAD) {
        return ngx_http_send_header(r);
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->pos = omcf->chain_pem.data;
    b->last = omcf->chain_pem.data + omcf->chain_pem.len;
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


/*
 * $ovsa_client_cert_sha256: lower-case hex SHA-256 of the DER client
 * certificate of this TLS connection, empty without one.  The backend
 * compares it with the customer certificate a license binds; the TLS
 * handshake proved the client holds its key.
 */

static ngx_int_t
ngx_http_ovsa_client_cert_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    X509           *cert;
    u_char         *p;
    unsigned int    len;
    u_char          md[EVP_MAX_MD_SIZE];

    v->not_found = 1;

    if (r->connection->ssl == NULL) {
        return NGX_OK;
    }

    cert = SSL_get_peer_certificate(r->connection->ssl->connection);
    if (cert == NULL) {
        return NGX_OK;
    }

    if (!X509_digest(cert, EVP_sha256(), md, &len)) {
        X509_free(cert);
        ngx_ssl_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "ovsa: X509_digest() failed");
        return NGX_ERROR;
    }

    X509_free(cert);

    p = ngx_pnalloc(r->pool, 2 * len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    v->len = ngx_hex_dump(p, md, len) - p;
    v->data = p;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    return NGX_OK;
}


static ngx_int_t
ngx_http_ovsa_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_ovsa_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_ovsa_init(ngx_conf_t *cf)
{
    ngx_uint_t                   s;
    ngx_http_ovsa_srv_conf_t    *oscf;
    ngx_http_core_srv_conf_t   **cscfp;
    ngx_http_core_main_conf_t   *cmcf;
    ngx_http_ovsa_main_conf_t   *omcf;

    omcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_ovsa_module);
    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    if (ngx_http_ovsa_metrics_check(cf, omcf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (omcf->conf != NULL && omcf->conf->hw_enabled) {
        if (ngx_http_ovsa_hwkey_postconf(cf, omcf) != NGX_OK) {
            return NGX_ERROR;
        }

        if (ngx_array_init(&omcf->tls_ctxs, cf->pool, 1, sizeof(SSL_CTX *))
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    cscfp = cmcf->servers.elts;

    for (s = 0; s < cmcf->servers.nelts; s++) {
        oscf = cscfp[s]->ctx->srv_conf[ngx_http_ovsa_module.ctx_index];

        if (oscf->tls != 1) {
            continue;
        }

        if (ngx_http_ovsa_tls_server(cf, omcf, cscfp[s]) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    /* every SSL_CTX holds the key now: no copy of it stays in memory */
    ngx_http_ovsa_wipe_key(omcf);

    return NGX_OK;
}


/*
 * Runs after the ssl module made the server's SSL_CTX from what ovsa_tls
 * gave it (the verified chain and key as "data:"): make sure the context
 * holds exactly the verified identity, and present leaf + intermediates
 * only, on TLS 1.2 and 1.3.
 */

static ngx_int_t
ngx_http_ovsa_tls_server(ngx_conf_t *cf, ngx_http_ovsa_main_conf_t *omcf,
    ngx_http_core_srv_conf_t *cscf)
{
    int                        i;
    X509                      *leaf;
    SSL_CTX                   *ctx, **ctxp;
    const char                *file;
    STACK_OF(X509)            *chain;
    ngx_http_ssl_srv_conf_t   *sscf;
    ngx_http_ovsa_srv_conf_t  *oscf;

    sscf = cscf->ctx->srv_conf[ngx_http_ssl_module.ctx_index];
    oscf = cscf->ctx->srv_conf[ngx_http_ovsa_module.ctx_index];

    /* the TLS identity: identity.chain, or hardware_key.tls_chain (12b) */
    chain = omcf->id.chain;
    file = omcf->conf->chain;

    if (omcf->id.tls_chain != NULL) {
        chain = omcf->id.tls_chain;
        file = omcf->conf->hw_tls_chain;
    }

    ctx = sscf->ssl.ctx;

    if (ctx == NULL || sscf->certificates == NULL
        || sscf->certificates->nelts != 1)
    {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "ovsa_tls: the server must have exactly the "
                      "certificate from default.yaml; remove "
                      "\"ssl_certificate\" in %s:%ui",
                      oscf->tls_file, oscf->tls_line);
        return NGX_ERROR;
    }

    if (sscf->protocols & (NGX_SSL_SSLv2|NGX_SSL_SSLv3
                           |NGX_SSL_TLSv1|NGX_SSL_TLSv1_1))
    {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "ovsa_tls: \"ssl_protocols\" must be limited to "
                      "TLSv1.2 and TLSv1.3 in %s:%ui",
                      oscf->tls_file, oscf->tls_line);
        return NGX_ERROR;
    }

    if (omcf->conf->hw_enabled && omcf->id.tls_chain == NULL) {
        /*
         * Replace the placeholder certificate with the leaf; OpenSSL drops
         * the placeholder key, which no longer matches.  Each worker
         * installs the token key (ngx_http_ovsa_hwkey_init_process).
         */
        if (!SSL_CTX_use_certificate(ctx, sk_X509_value(omcf->id.chain, 0))) {
            ngx_ssl_error(NGX_LOG_EMERG, cf->log, 0,
                          "ovsa_tls: SSL_CTX_use_certificate() failed");
            return NGX_ERROR;
        }

        if (SSL_CTX_get0_privatekey(ctx) != NULL) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "ovsa_tls: the placeholder key is still in use "
                          "in %s:%ui", oscf->tls_file, oscf->tls_line);
            return NGX_ERROR;
        }

        ctxp = ngx_array_push(&omcf->tls_ctxs);
        if (ctxp == NULL) {
            return NGX_ERROR;
        }

        *ctxp = ctx;
    }

    leaf = SSL_CTX_get0_certificate(ctx);
    if (leaf == NULL || X509_cmp(leaf, sk_X509_value(chain, 0))) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "ovsa_tls: the certificate loaded for the server is "
                      "not the verified leaf of %s in %s:%ui",
                      file, oscf->tls_file, oscf->tls_line);
        return NGX_ERROR;
    }

    if (!SSL_CTX_clear_chain_certs(ctx)) {
        ngx_ssl_error(NGX_LOG_EMERG, cf->log, 0,
                      "ovsa_tls: SSL_CTX_clear_chain_certs() failed");
        return NGX_ERROR;
    }

    for (i = 1; i < sk_X509_num(chain); i++) {
        if (!SSL_CTX_add1_chain_cert(ctx, sk_X509_value(chain, i))) {
            ngx_ssl_error(NGX_LOG_EMERG, cf->log, 0,
                          "ovsa_tls: SSL_CTX_add1_chain_cert() failed");
            return NGX_ERROR;
        }
    }

    if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION)) {
        ngx_ssl_error(NGX_LOG_EMERG, cf->log, 0,
                      "ovsa_tls: SSL_CTX_set_min_proto_version() failed");
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void *
ngx_http_ovsa_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_ovsa_main_conf_t  *omcf;

    omcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_ovsa_main_conf_t));
    if (omcf == NULL) {
        return NULL;
    }

    return omcf;
}


static char *
ngx_http_ovsa_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_ovsa_main_conf_t *omcf = conf;

    if (omcf->thread_pool_name.data == NULL) {
        ngx_str_set(&omcf->thread_pool_name, "ovsa");
    }

    return NGX_CONF_OK;
}


static void *
ngx_http_ovsa_create_srv_conf(ngx_conf_t *cf)
{
    ngx_http_ovsa_srv_conf_t  *oscf;

    oscf = ngx_pcalloc(cf->pool, sizeof(ngx_http_ovsa_srv_conf_t));
    if (oscf == NULL) {
        return NULL;
    }

    oscf->tls = NGX_CONF_UNSET;

    return oscf;
}


static char *
ngx_http_ovsa_merge_srv_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_ovsa_srv_conf_t  *conf = child;

    /* not inherited: each license server block says ovsa_tls itself */
    ngx_conf_init_value(conf->tls, 0);

    return NGX_CONF_OK;
}


static void
ngx_http_ovsa_cleanup(void *data)
{
    ngx_http_ovsa_main_conf_t  *omcf = data;

    ovsa_signer_free(&omcf->signer);
    ovsa_identity_free(&omcf->id);
    ovsa_conf_free(omcf->conf);
    omcf->conf = NULL;
}


/*
 * The verified identity, prepared once: the signer (alg, keyid and the
 * signing context; in hardware-key mode, id.key NULL, each worker adds
 * the token key's context), the chain the ovsa_chain location serves, and
 * what ovsa_tls hands to the ssl module as "data:" PEM: the verified
 * objects themselves, whatever encoding their files have (PEM or DER),
 * so no file is read twice.  The key's copy is wiped once the ssl module
 * has loaded it (ngx_http_ovsa_init) and when the pool goes.
 */

static ngx_int_t
ngx_http_ovsa_set_signer(ngx_conf_t *cf, ngx_http_ovsa_main_conf_t *omcf)
{
    BIO                 *bio;
    EVP_PKEY            *key;
    ovsa_err_t           err;
    ngx_pool_cleanup_t  *cln;

    if (ovsa_signer_init(&omcf->signer,
                         X509_get0_pubkey(sk_X509_value(omcf->id.chain, 0)),
                         omcf->id.key, &err)
        != OVSA_OK)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "ovsa: %s: %s (%s)",
                           omcf->conf->chain, err.msg,
                           ovsa_code_name(err.code));
        return NGX_ERROR;
    }

    if (ngx_http_ovsa_chain_data(cf, omcf->id.chain, &omcf->tls_cert)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* the chain endpoint serves the same bytes, without "data:" */
    omcf->chain_pem.data = omcf->tls_cert.data + sizeof("data:") - 1;
    omcf->chain_pem.len = omcf->tls_cert.len - (sizeof("data:") - 1);

    /* 12b: TLS on the software key of hardware_key.tls_chain */
    key = omcf->id.key;

    if (omcf->id.tls_chain != NULL) {
        if (ngx_http_ovsa_chain_data(cf, omcf->id.tls_chain, &omcf->tls_cert)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        key = omcf->id.tls_key;
    }

    if (key == NULL) {
        return NGX_OK;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    bio = BIO_new(BIO_s_secmem());
    if (bio == NULL
        || !PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL)
        || ngx_http_ovsa_data_pem(cf, bio, &omcf->tls_key) != NGX_OK)
    {
        BIO_free(bio);
        ngx_ssl_error(NGX_LOG_EMERG, cf->log, 0,
                      "ovsa: PEM_write_bio_PrivateKey() failed");
        return NGX_ERROR;
    }

    BIO_free(bio);

    cln->handler = ngx_http_ovsa_wipe_key;
    cln->data = omcf;

    return NGX_OK;
}


/* "data:" + the PEM of every certificate of chain, from cf->pool */

static ngx_int_t
ngx_http_ovsa_chain_data(ngx_conf_t *cf, STACK_OF(X509) *chain,
    ngx_str_t *out)
{
    int   i, n;
    BIO  *bio;

    bio = BIO_new(BIO_s_mem());
    if (bio == NULL) {
        return NGX_ERROR;
    }

    n = sk_X509_num(chain);
    for (i = 0; i < n; i++) {
        if (!PEM_write_bio_X509(bio, sk_X509_value(chain, i))) {
            BIO_free(bio);
            ngx_ssl_error(NGX_LOG_EMERG, cf->log, 0,
                          "ovsa: PEM_write_bio_X509() failed");
            return NGX_ERROR;
        }
    }

    if (ngx_http_ovsa_data_pem(cf, bio, out) != NGX_OK) {
        BIO_free(bio);
        return NGX_ERROR;
    }

    BIO_free(bio);

    return NGX_OK;
}


/* "data:" + the BIO's contents, NUL-terminated, from cf->pool */

static ngx_int_t
ngx_http_ovsa_data_pem(ngx_conf_t *cf, BIO *bio, ngx_str_t *out)
{
    char    *pem;
    long     len;
    u_char  *p;

    len = BIO_get_mem_data(bio, &pem);
    if (len <= 0) {
        return NGX_ERROR;
    }

    p = ngx_pnalloc(cf->pool, sizeof("data:") - 1 + len + 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    out->data = p;
    p = ngx_cpymem(p, "data:", sizeof("data:") - 1);
    p = ngx_cpymem(p, pem, len);
    *p = '\0';
    out->len = p - out->data;

    return NGX_OK;
}


static void
ngx_http_ovsa_wipe_key(void *data)
{
    ngx_http_ovsa_main_conf_t  *omcf = data;

    if (omcf->tls_key.data != NULL) {
        ngx_explicit_memzero(omcf->tls_key.data, omcf->tls_key.len);
        ngx_str_null(&omcf->tls_key);
    }
}


static char *
ngx_http_ovsa_config(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_ovsa_main_conf_t *omcf = conf;

    ngx_str_t           *value;
    ovsa_err_t           err;
    ngx_pool_cleanup_t  *cln;

    if (omcf->file.data) {
        return "is duplicate";
    }

    value = cf->args->elts;
    omcf->file = value[1];
    omcf->conf_file = cf->conf_file->file.name.data;
    omcf->conf_line = cf->conf_file->line;

    if (ngx_conf_full_name(cf->cycle, &omcf->file, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        return NGX_CONF_ERROR;
    }

    cln->handler = ngx_http_ovsa_cleanup;
    cln->data = omcf;

    if (ovsa_conf_load((char *) omcf->file.data, &omcf->conf, &err)
        != OVSA_OK)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "ovsa: %s (%s)", err.msg,
                           ovsa_code_name(err.code));
        return NGX_CONF_ERROR;
    }

    if (ovsa_identity_load(omcf->conf, &omcf->id, &err) != OVSA_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "ovsa: %s (%s)", err.msg,
                           ovsa_code_name(err.code));
        return NGX_CONF_ERROR;
    }

    if (ngx_http_ovsa_set_signer(cf, omcf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    /* "nginx -s stop" must work while the token is away */
    if (omcf->conf->hw_enabled && ngx_process != NGX_PROCESS_SIGNALLER
        && ngx_http_ovsa_hwkey_check(cf, omcf) != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    ngx_log_error(NGX_LOG_NOTICE, cf->log, 0,
                  "ovsa: identity verified: %s, keyid %s, alg %s",
                  omcf->conf->chain, omcf->signer.keyid,
                  omcf->signer.alg->name);

    return NGX_CONF_OK;
}


static char *
ngx_http_ovsa_tls(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_ovsa_srv_conf_t *oscf = conf;

    ngx_str_t                  *value, *s;
    ngx_http_ssl_srv_conf_t    *sscf;
    ngx_http_ovsa_main_conf_t  *omcf;

    if (oscf->tls != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcasecmp(value[1].data, (u_char *) "off") == 0) {
        oscf->tls = 0;
        return NGX_CONF_OK;
    }

    if (ngx_strcasecmp(value[1].data, (u_char *) "on") != 0) {
        return "takes \"on\" or \"off\"";
    }

    omcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_ovsa_module);
    if (omcf->conf == NULL) {
        return "needs \"ovsa_config\" earlier in the http block";
    }

    sscf = ngx_http_conf_get_module_srv_conf(cf, ngx_http_ssl_module);

    if (sscf->certificates != NGX_CONF_UNSET_PTR
        || sscf->certificate_keys != NGX_CONF_UNSET_PTR)
    {
        return "conflicts with \"ssl_certificate\" in this server: the "
               "certificate comes from default.yaml";
    }

    sscf->certificates = ngx_array_create(cf->pool, 1, sizeof(ngx_str_t));
    sscf->certificate_keys = ngx_array_create(cf->pool, 1, sizeof(ngx_str_t));
    if (sscf->certificates == NULL || sscf->certificate_keys == NULL) {
        return NGX_CONF_ERROR;
    }

    s = ngx_array_push(sscf->certificates);
    if (s == NULL) {
        return NGX_CONF_ERROR;
    }

    /* the verified chain and key themselves (ngx_http_ovsa_set_signer) */
    *s = omcf->tls_cert;

    /* with hardware_key.tls_chain TLS has a software key (12b) */
    if (omcf->conf->hw_enabled && omcf->id.tls_chain == NULL) {
        /* a throwaway pair; the leaf and the token key replace it */
        if (ngx_http_ovsa_hwkey_placeholder(cf, omcf) != NGX_OK) {
            return NGX_CONF_ERROR;
        }

        *s = omcf->hw_cert;
    }

    s = ngx_array_push(sscf->certificate_keys);
    if (s == NULL) {
        return NGX_CONF_ERROR;
    }

    if (omcf->conf->hw_enabled && omcf->id.tls_chain == NULL) {
        *s = omcf->hw_key;

    } else {
        *s = omcf->tls_key;
    }

    if (sscf->protocols == 0) {
        sscf->protocols = NGX_CONF_BITMASK_SET|NGX_SSL_TLSv1_2
                          |NGX_SSL_TLSv1_3;
    }

    oscf->tls = 1;
    oscf->tls_file = cf->conf_file->file.name.data;
    oscf->tls_line = cf->conf_file->line;

    return NGX_CONF_OK;
}


static char *
ngx_http_ovsa_chain(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t   *clcf;
    ngx_http_ovsa_main_conf_t  *omcf;

    omcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_ovsa_module);
    if (omcf->conf == NULL) {
        return "needs \"ovsa_config\" earlier in the http block";
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_ovsa_chain_handler;

    return NGX_CONF_OK;
}
