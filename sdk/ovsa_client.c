/*
 * ovsa_client.c: verified requests to an ovsa license server (see
 * ovsa_client.h for the checks and their order).
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ovsa_client.h"
#include "ovsa_client_int.h"
#include "ovsa_httpsig.h"
#include "ovsa_license.h"
#include "ovsa_pin.h"
#include "ovsa_reqsig.h"
#include "ovsa_x509.h"


#define OVSA_CHAIN_PATH      "/.well-known/ovsa/chain"
#define OVSA_CHAIN_MAX       (64 * 1024)
#define OVSA_SECRET_LEN      43            /* base64url of 32 bytes */

static const char *ovsa_client_headers[OVSA_H_N] = {
    "content-type", "content-digest", "signature-input", "signature",
    "ovsa-nonce", "retry-after"
};


struct ovsa_client_s {
    char    *url;           /* base URL, no trailing '/' */
    char    *origin;        /* scheme://host[:port] as the Host header */
    char    *root_file;
    X509    *root;
    char    *cache_dir;
    char    *pins;          /* "sha256//..;sha256//.." or NULL */
    char   **pin_list;      /* the same pins, one by one */
    size_t   npins;
    int      pin_sigs;      /* license mode: pins anchor signatures too */
    char    *cert_pem;      /* TLS client certificate as PEM, or NULL */
    size_t   cert_len;
    char    *key_pem;       /* its key as PEM, wiped on free */
    size_t   key_len;
    long     skew;
    long     timeout_ms;
    time_t   at;
    CURL    *curl;
    char    *secret;        /* license secret, wiped on free, or NULL */
    EVP_PKEY *machine_key;  /* signs requests with a body, or NULL */
    int      keep;          /* fill ovsa_result_t.grant (ovsa_client_keep) */
    const char *pre_input;  /* a request signature made earlier (an
                               offline request), sent instead of signing */
    const char *pre_sig;
    char    *chain_pem;     /* a grant's chain: used instead of the cache
                               and the network (ovsa_grant_verify) */
    size_t   chain_len;
};


static int ovsa_client_http(ovsa_client_t *c, const char *method,
    const char *path, const char *body, const char *nonce, int auth,
    size_t max, ovsa_client_resp_t *resp, char *digest, ovsa_err_t *err);
static void ovsa_client_secret_free(ovsa_client_t *c);


/* ---- creation */

static int
ovsa_client_origin(ovsa_client_t *c, ovsa_err_t *err)
{
    int        ret;
    char      *scheme, *host, *port, *path, *query;
    size_t     n;
    CURLU     *u;

    ret = OVSA_ERR;
    scheme = host = port = path = query = NULL;

    u = curl_url();
    if (u == NULL) {
        return ovsa_err_set(err, OVSA_E_NOMEM, "client: out of memory");
    }

    if (curl_url_set(u, CURLUPART_URL, c->url, 0) != CURLUE_OK
        || curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK
        || curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
    {
        ovsa_err_set(err, OVSA_E_CONF_VALUE, "client: \"%s\" is not a URL",
                     c->url);
        goto end;
    }

    if (strcmp(scheme, "https") != 0) {
        ovsa_err_set(err, OVSA_E_CONF_VALUE, "client: \"%s\" is not an https "
                     "URL", c->url);
        goto end;
    }

    if ((curl_url_get(u, CURLUPART_PATH, &path, 0) == CURLUE_OK
         && strcmp(path, "/") != 0)
        || curl_url_get(u, CURLUPART_QUERY, &query, 0) == CURLUE_OK)
    {
        ovsa_err_set(err, OVSA_E_CONF_VALUE, "client: \"%s\": give the server "
                     "URL without a path", c->url);
        goto end;
    }

    /* curl omits the default port from Host, and so does the origin */
    if (curl_url_get(u, CURLUPART_PORT, &port, 0) != CURLUE_OK
        || strcmp(port, "443") == 0)
    {
        curl_free(port);
        port = NULL;
    }

    n = strlen(scheme) + 3 + strlen(host) + (port ? 1 + strlen(port) : 0) + 1;
    c->origin = malloc(n);
    if (c->origin == NULL) {
        ovsa_err_set(err, OVSA_E_NOMEM, "client: out of memory");
        goto end;
    }

    snprintf(c->origin, n, "%s://%s%s%s", scheme, host, port ? ":" : "",
             port ? port : "");

    /* requests go to the origin: no trailing '/' to double */
    free(c->url);
    c->url = strdup(c->origin);
    if (c->url == NULL) {
        ovsa_err_set(err, OVSA_E_NOMEM, "client: out of memory");
        goto end;
    }

    ret = OVSA_OK;

end:

    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(path);
    curl_free(query);
    curl_url_cleanup(u);
    return ret;
}


/*
 * Loads a TLS client certificate and its key (PEM or DER, lib/ovsa_key.h
 * and lib/ovsa_x509.h) and checks that they belong together; the caller
 * frees both.  Both NULL: nothing to load, *cert and *key stay NULL.
 */
static int
ovsa_client_tls_load(const char *cert_file, const char *key_file,
    X509 **cert, EVP_PKEY **key, ovsa_err_t *err)
{
    ovsa_err_t  e;

    *cert = NULL;
    *key = NULL;

    if (cert_file == NULL && key_file == NULL) {
        return OVSA_OK;
    }

    if (cert_file == NULL || key_file == NULL) {
        return ovsa_err_set(err, OVSA_E_CONF_MISSING, "client: a client "
                            "certificate needs its key, and a key its "
                            "certificate");
    }

    if (ovsa_cert_load(cert_file, cert, &e) != OVSA_OK) {
        return ovsa_err_set(err, e.code, "client: certificate: %s", e.msg);
    }

    if (ovsa_key_load(key_file, key, &e) != OVSA_OK
        || ovsa_key_match(*cert, *key, &e) != OVSA_OK)
    {
        X509_free(*cert);
        EVP_PKEY_free(*key);
        *cert = NULL;
        *key = NULL;
        return ovsa_err_set(err, e.code, "client: key %s: %s", key_file,
                            e.msg);
    }

    return OVSA_OK;
}


int
ovsa_client_check_tls_cert(const char *cert_file, const char *key_file,
    ovsa_err_t *err)
{
    X509      *cert;
    EVP_PKEY  *key;

    if (ovsa_client_tls_load(cert_file, key_file, &cert, &key, err)
        != OVSA_OK)
    {
        return OVSA_ERR;
    }

    X509_free(cert);
    EVP_PKEY_free(key);
    return OVSA_OK;
}


/* copies what was written to bio into a new malloc'ed buffer */
static int
ovsa_client_bio_copy(BIO *bio, char **out, size_t *len)
{
    char  *data;
    long   n;

    n = BIO_get_mem_data(bio, &data);
    if (n <= 0) {
        return OVSA_ERR;
    }

    *out = malloc((size_t) n);
    if (*out == NULL) {
        return OVSA_ERR;
    }

    memcpy(*out, data, (size_t) n);
    *len = (size_t) n;
    return OVSA_OK;
}


/*
 * The TLS client certificate: loaded and checked here, for clear errors,
 * and handed to libcurl as PEM from memory, whatever the files' encoding:
 * TLS uses exactly what was checked.
 */
static int
ovsa_client_tls_cert(ovsa_client_t *c, const ovsa_client_conf_t *conf,
    ovsa_err_t *err)
{
    int        ret;
    BIO       *cb, *kb;
    X509      *cert;
    EVP_PKEY  *key;

    if (ovsa_client_tls_load(conf->client_cert, conf->client_key, &cert,
                             &key, err) != OVSA_OK)
    {
        return OVSA_ERR;
    }

    if (cert == NULL) {
        return OVSA_OK;
    }

    cb = BIO_new(BIO_s_mem());
    kb = BIO_new(BIO_s_secmem());

    ret = OVSA_ERR;

    if (cb == NULL || kb == NULL
        || !PEM_write_bio_X509(cb, cert)
        || !PEM_write_bio_PrivateKey(kb, key, NULL, NULL, 0, NULL, NULL)
        || ovsa_client_bio_copy(cb, &c->cert_pem, &c->cert_len) != OVSA_OK
        || ovsa_client_bio_copy(kb, &c->key_pem, &c->key_len) != OVSA_OK)
    {
        ovsa_err_ssl(err, OVSA_E_NOMEM, "client: certificate and key to "
                     "PEM");

    } else {
        ret = OVSA_OK;
    }

    BIO_free(cb);
    BIO_free(kb);
    X509_free(cert);
    EVP_PKEY_free(key);
    return ret;
}


/* Creates a client; root may be NULL only in license mode. */
static int
ovsa_client_create(const ovsa_client_conf_t *conf, int need_root,
    ovsa_client_t **out, ovsa_err_t *err)
{
    ovsa_err_t      e;
    ovsa_client_t  *c;

    if (conf->url == NULL || (need_root && conf->root == NULL)) {
        return ovsa_err_set(err, OVSA_E_CONF_MISSING,
                            "client: url and root are required");
    }

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        return ovsa_err_set(err, OVSA_E_INTERNAL, "client: curl init failed");
    }

    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        curl_global_cleanup();
        return ovsa_err_set(err, OVSA_E_NOMEM, "client: out of memory");
    }

    c->skew = conf->skew < 0 ? OVSA_CLIENT_SKEW_DEFAULT : conf->skew;
    c->timeout_ms = conf->timeout_ms > 0 ? conf->timeout_ms : 10000;
    c->url = strdup(conf->url);
    c->root_file = conf->root ? strdup(conf->root) : NULL;
    c->cache_dir = conf->cache_dir ? strdup(conf->cache_dir) : NULL;
    c->curl = curl_easy_init();

    if (c->url == NULL || c->curl == NULL
        || (conf->root != NULL && c->root_file == NULL)
        || (conf->cache_dir != NULL && c->cache_dir == NULL))
    {
        ovsa_err_set(err, OVSA_E_NOMEM, "client: out of memory");
        goto failed;
    }

    if (ovsa_client_origin(c, err) != OVSA_OK) {
        goto failed;
    }

    if (c->root_file != NULL) {
        if (ovsa_cert_load(c->root_file, &c->root, &e) != OVSA_OK) {
            ovsa_err_set(err, OVSA_E_ROOT, "client: root: %s", e.msg);
            goto failed;
        }

        if (X509_check_ca(c->root) == 0) {
            ovsa_err_set(err, OVSA_E_ROOT, "client: root: %s is not a CA "
                         "certificate", c->root_file);
            goto failed;
        }
    }

    if (ovsa_client_tls_cert(c, conf, err) != OVSA_OK) {
        goto failed;
    }

    if (c->cache_dir != NULL && mkdir(c->cache_dir, 0700) != 0
        && errno != EEXIST)
    {
        ovsa_err_set(err, OVSA_E_IO, "client: cache: %s: %s", c->cache_dir,
                     strerror(errno));
        goto failed;
    }

    *out = c;
    return OVSA_OK;

failed:

    ovsa_client_free(c);
    return OVSA_ERR;
}


int
ovsa_client_new(const ovsa_client_conf_t *conf, ovsa_client_t **out,
    ovsa_err_t *err)
{
    return ovsa_client_create(conf, 1, out, err);
}


int
ovsa_client_new_pinned(const ovsa_client_conf_t *conf,
    const char *const *pins, size_t n, ovsa_client_t **out, ovsa_err_t *err)
{
    ovsa_client_t  *c;

    if (n == 0 || n > 8) {
        return ovsa_err_set(err, OVSA_E_CONF_MISSING, "client: license mode "
                            "needs 1..8 pins, not %zu", n);
    }

    if (ovsa_client_create(conf, 0, &c, err) != OVSA_OK) {
        return OVSA_ERR;
    }

    if (ovsa_client_set_pins(c, pins, n, err) != OVSA_OK) {
        ovsa_client_free(c);
        return OVSA_ERR;
    }

    c->pin_sigs = 1;
    *out = c;
    return OVSA_OK;
}


static void
ovsa_client_pins_free(ovsa_client_t *c)
{
    size_t  i;

    for (i = 0; i < c->npins; i++) {
        free(c->pin_list[i]);
    }

    free(c->pin_list);
    c->pin_list = NULL;
    c->npins = 0;
}


void
ovsa_client_free(ovsa_client_t *c)
{
    if (c == NULL) {
        return;
    }

    if (c->curl != NULL) {
        curl_easy_cleanup(c->curl);
    }

    curl_global_cleanup();

    X509_free(c->root);
    free(c->url);
    free(c->origin);
    free(c->root_file);
    free(c->cache_dir);
    free(c->pins);
    ovsa_client_pins_free(c);
    free(c->cert_pem);
    if (c->key_pem != NULL) {
        OPENSSL_cleanse(c->key_pem, c->key_len);
        free(c->key_pem);
    }
    ovsa_client_secret_free(c);
    EVP_PKEY_free(c->machine_key);
    free(c->chain_pem);
    free(c);
}


static void
ovsa_client_secret_free(ovsa_client_t *c)
{
    if (c->secret != NULL) {
        OPENSSL_cleanse(c->secret, strlen(c->secret));
        free(c->secret);
        c->secret = NULL;
    }
}


int
ovsa_client_set_auth(ovsa_client_t *c, const char *license_secret,
    EVP_PKEY *machine_key, ovsa_err_t *err)
{
    char           *secret, mk[OVSA_MACHINE_KEY_MAX + 1];
    size_t          len;
    unsigned char  *raw;

    secret = NULL;

    /* the secret is never echoed: only its shape is named */
    if (license_secret != NULL) {
        raw = ovsa_b64_decode_alloc(license_secret, strlen(license_secret),
                                    1, &len);
        if (raw != NULL) {
            OPENSSL_cleanse(raw, len);
            free(raw);
        }

        if (raw == NULL || strlen(license_secret) != OVSA_SECRET_LEN
            || len != 32)
        {
            return ovsa_err_set(err, OVSA_E_CONF_VALUE, "client: the "
                                "license secret is not %d base64url "
                                "characters (32 bytes)", OVSA_SECRET_LEN);
        }

        secret = strdup(license_secret);
        if (secret == NULL) {
            return ovsa_err_set(err, OVSA_E_NOMEM, "client: out of memory");
        }
    }

    /* a key that can sign requests: Ed25519 or P-256, private */
    if (machine_key != NULL) {
        if (ovsa_machine_key_encode(machine_key, mk, sizeof(mk), err)
            != OVSA_OK)
        {
            goto failed;
        }

        if (!EVP_PKEY_up_ref(machine_key)) {
            ovsa_err_ssl(err, OVSA_E_INTERNAL, "client: machine key");
            goto failed;
        }
    }

    ovsa_client_secret_free(c);
    c->secret = secret;
    EVP_PKEY_free(c->machine_key);
    c->machine_key = machine_key;

    return OVSA_OK;

failed:

    if (secret != NULL) {
        OPENSSL_cleanse(secret, strlen(secret));
        free(secret);
    }

    return OVSA_ERR;
}


int
ovsa_client_set_pins(ovsa_client_t *c, const char *const *pins, size_t n,
    ovsa_err_t *err)
{
    char    *s, **list;
    size_t   i;

    if (c->pin_sigs && n == 0) {
        return ovsa_err_set(err, OVSA_E_CONF_MISSING, "client: a license-"
                            "mode client cannot drop its pins");
    }

    for (i = 0; i < n; i++) {
        if (!ovsa_pin_valid(pins[i])) {
            return ovsa_err_set(err, OVSA_E_PIN, "client: pin %zu is not "
                                "\"sha256//<base64 of 32 bytes>\"", i + 1);
        }
    }

    s = NULL;
    list = NULL;
    if (n > 0) {
        s = malloc(n * (OVSA_PIN_LEN + 1));
        list = calloc(n, sizeof(char *));
        for (i = 0; list != NULL && i < n; i++) {
            list[i] = strdup(pins[i]);
            if (list[i] == NULL) {
                break;
            }
        }
        if (s == NULL || list == NULL || i < n) {
            while (list != NULL && i > 0) {
                free(list[--i]);
            }
            free(list);
            free(s);
            return ovsa_err_set(err, OVSA_E_NOMEM, "client: out of memory");
        }

        s[0] = '\0';
        for (i = 0; i < n; i++) {
            if (i > 0) {
                strcat(s, ";");
            }
            strcat(s, pins[i]);
        }
    }

    free(c->pins);
    c->pins = s;
    ovsa_client_pins_free(c);
    c->pin_list = list;
    c->npins = n;
    return OVSA_OK;
}


void
ovsa_client_set_time(ovsa_client_t *c, time_t at)
{
    c->at = at;
}


void
ovsa_result_free(ovsa_result_t *r)
{
    free(r->body);
    r->body = NULL;
    r->body_len = 0;
    free(r->grant);
    r->grant = NULL;
    r->grant_len = 0;
}


void
ovsa_client_keep(ovsa_client_t *c, int keep)
{
    c->keep = keep;
}


int
ovsa_client_set_chain(ovsa_client_t *c, const char *pem, size_t len,
    ovsa_err_t *err)
{
    char  *copy;

    copy = malloc(len + 1);
    if (copy == NULL) {
        return ovsa_err_set(err, OVSA_E_NOMEM, "client: out of memory");
    }

    memcpy(copy, pem, len);
    copy[len] = '\0';

    free(c->chain_pem);
    c->chain_pem = copy;
    c->chain_len = len;
    return OVSA_OK;
}


/* ---- transport */

void
ovsa_client_resp_free(ovsa_client_resp_t *resp)
{
    int  i;

    for (i = 0; i < OVSA_H_N; i++) {
        free(resp->h[i]);
        resp->h[i] = NULL;
    }

    free(resp->body);
    resp->body = NULL;
}


size_t
ovsa_client_on_header(char *line, size_t size, size_t n, void *data)
{
    int                  i;
    char                *colon, *v, *s;
    size_t               len, vlen, nlen, old;
    ovsa_client_resp_t  *resp;

    resp = data;
    len = size * n;

    /* a status line starts a new (maybe final) response: forget the last */
    if (len >= 5 && memcmp(line, "HTTP/", 5) == 0) {
        for (i = 0; i < OVSA_H_N; i++) {
            free(resp->h[i]);
            resp->h[i] = NULL;
        }
        return len;
    }

    colon = memchr(line, ':', len);
    if (colon == NULL) {
        return len;
    }

    nlen = colon - line;
    v = colon + 1;
    vlen = len - nlen - 1;

    while (vlen && (*v == ' ' || *v == '\t')) {
        v++;
        vlen--;
    }

    while (vlen && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n'
                    || v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
    {
        vlen--;
    }

    for (i = 0; i < OVSA_H_N; i++) {
        if (strlen(ovsa_client_headers[i]) == nlen
            && strncasecmp(line, ovsa_client_headers[i], nlen) == 0)
        {
            break;
        }
    }

    if (i == OVSA_H_N) {
        return len;
    }

    /* repeated field lines combine with ", " (RFC 9110 section 5.3) */
    old = resp->h[i] ? strlen(resp->h[i]) : 0;
    s = realloc(resp->h[i], old + (old ? 2 : 0) + vlen + 1);
    if (s == NULL) {
        return 0;
    }

    if (old) {
        memcpy(s + old, ", ", 2);
        old += 2;
    }

    memcpy(s + old, v, vlen);
    s[old + vlen] = '\0';
    resp->h[i] = s;

    return len;
}


static size_t
ovsa_client_on_body(char *data, size_t size, size_t n, void *arg)
{
    char                *b;
    size_t               len;
    ovsa_client_resp_t  *resp;

    resp = arg;
    len = size * n;

    if (resp->len + len > resp->max) {
        resp->too_big = 1;
        return 0;
    }

    b = realloc(resp->body, resp->len + len + 1);
    if (b == NULL) {
        return 0;
    }

    memcpy(b + resp->len, data, len);
    resp->len += len;
    b[resp->len] = '\0';
    resp->body = b;

    return len;
}


/*
 * The code of a failed transfer (issue 14, H2): a server certificate that
 * our verification refused (another root, expired, another name) is a
 * verification failure, OVSA_E_CHAIN_VERIFY or OVSA_E_CERT_*, and
 * ovsa-check exits 3; anything else (no connection, a handshake that
 * failed for other reasons, a timeout) is OVSA_E_TRANSPORT, exit 4.
 */
static int
ovsa_client_curl_code(CURL *h, CURLcode rc)
{
    long  vr;

    switch (rc) {

    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_INVALIDCERTSTATUS:
        vr = X509_V_OK;
        curl_easy_getinfo(h, CURLINFO_SSL_VERIFYRESULT, &vr);
        if (vr == X509_V_ERR_CERT_HAS_EXPIRED) {
            return OVSA_E_CERT_EXPIRED;
        }
        if (vr == X509_V_ERR_CERT_NOT_YET_VALID) {
            return OVSA_E_CERT_NOT_YET;
        }
        return OVSA_E_CHAIN_VERIFY;

    default:
        return OVSA_E_TRANSPORT;
    }
}


/* appends "name: value" to *list; OVSA_ERR when out of memory */
static int
ovsa_client_header(struct curl_slist **list, const char *name,
    const char *value)
{
    int                 ret;
    char               *h;
    size_t              n;
    struct curl_slist  *l;

    n = strlen(name) + 2 + strlen(value) + 1;
    h = malloc(n);
    if (h == NULL) {
        return OVSA_ERR;
    }

    snprintf(h, n, "%s: %s", name, value);
    l = curl_slist_append(*list, h);
    ret = l != NULL ? OVSA_OK : OVSA_ERR;
    if (l != NULL) {
        *list = l;
    }

    OPENSSL_cleanse(h, n);
    free(h);
    return ret;
}


/* frees a header list, wiping it first: it may hold the license secret */
static void
ovsa_client_headers_free(struct curl_slist *list)
{
    struct curl_slist  *l;

    for (l = list; l != NULL; l = l->next) {
        OPENSSL_cleanse(l->data, strlen(l->data));
    }

    curl_slist_free_all(list);
}


/*
 * The headers of a request besides curl's own: with a body its
 * Content-Digest (into digest[OVSA_DIGEST_FIELD_LEN + 1]; "" without a
 * body) and, with a machine key, its signature; with auth and a license
 * secret, Authorization.
 */
static int
ovsa_client_req_headers(ovsa_client_t *c, const char *method,
    const char *path, const char *body, const char *nonce, int auth,
    char *digest, struct curl_slist **list, ovsa_err_t *err)
{
    int                 rc;
    char               *secret;
    size_t              n;
    ovsa_reqsig_msg_t   m;
    struct curl_slist  *l;
    char                input[OVSA_SIG_INPUT_MAX + 1];
    char                sig[OVSA_SIG_FIELD_MAX + 1];

    digest[0] = '\0';

    /* "Expect:" off: one round trip, no interim answer */
    l = curl_slist_append(*list, "Expect:");
    if (l != NULL) {
        *list = l;
    }

    if (l == NULL
        || ovsa_client_header(list, "Accept", "application/json") != OVSA_OK
        || (body != NULL
            && ovsa_client_header(list, "Content-Type", "application/json")
               != OVSA_OK)
        || (nonce != NULL
            && ovsa_client_header(list, "OVSA-Nonce", nonce) != OVSA_OK))
    {
        return ovsa_err_set(err, OVSA_E_NOMEM, "client: out of memory");
    }

    if (body != NULL) {
        if (ovsa_digest_field(body, strlen(body), digest, err) != OVSA_OK) {
            return OVSA_ERR;
        }

        if (ovsa_client_header(list, "Content-Digest", digest) != OVSA_OK) {
            return ovsa_err_set(err, OVSA_E_NOMEM, "client: out of memory");
        }
    }

    if (c->pre_input != NULL) {
        /* an offline request: signed by the offline machine, carried */
        if (ovsa_client_header(list, "Signature-Input", c->pre_input)
               != OVSA_OK
            || ovsa_client_header(list, "Signature", c->pre_sig) != OVSA_OK)
        {
            return ovsa_err_set(err, OVSA_E_NOMEM, "client: out of memory");
        }

    } else if (body != NULL && nonce != NULL && c->machine_key != NULL) {
        memset(&m, 0, sizeof(m));
        m.method = ovsa_str(method);
        m.path = ovsa_str(path);
        m.content_digest = ovsa_str(digest);
        m.nonce = ovsa_str(nonce);

        if (ovsa_reqsig_sign(c->machine_key, &m,
                             c->at ? c->at : time(NULL), input, sig, err)
            != OVSA_OK)
        {
            return OVSA_ERR;
        }

        if (ovsa_client_header(list, "Signature-Input", input) != OVSA_OK
            || ovsa_client_header(list, "Signature", sig) != OVSA_OK)
        {
            return ovsa_err_set(err, OVSA_E_NOMEM, "client: out of memory");
        }
    }

    if (auth && c->secret != NULL) {
        n = sizeof(OVSA_LICENSE_AUTH_SCHEME) + strlen(c->secret);
        secret = malloc(n);
        if (secret == NULL) {
            return ovsa_err_set(err, OVSA_E_NOMEM, "client: out of memory");
        }

        snprintf(secret, n, OVSA_LICENSE_AUTH_SCHEME "%s", c->secret);
        rc = ovsa_client_header(list, "Authorization", secret);
        OPENSSL_cleanse(secret, n);
        free(secret);

        if (rc != OVSA_OK) {
            return ovsa_err_set(err, OVSA_E_NOMEM, "client: out of memory");
        }
    }

    return OVSA_OK;
}


static int
ovsa_client_http(ovsa_client_t *c, const char *method, const char *path,
    const char *body, const char *nonce, int auth, size_t max,
    ovsa_client_resp_t *resp, char *digest, ovsa_err_t *err)
{
    int                 ret;
    char               *url;
    size_t              n;
    CURL               *h;
    CURLcode            rc;
    struct curl_blob    blob;
    struct curl_slist  *list;
    char                errbuf[CURL_ERROR_SIZE];

    ret = OVSA_ERR;
    list = NULL;
    memset(resp, 0, sizeof(*resp));
    resp->max = max;

    n = strlen(c->url) + strlen(path) + 1;
    url = malloc(n);
    if (url == NULL) {
        return ovsa_err_set(err, OVSA_E_NOMEM, "client: out of memory");
    }
    snprintf(url, n, "%s%s", c->url, path);

    h = c->curl;
    curl_easy_reset(h);
    errbuf[0] = '\0';

    if (ovsa_client_req_headers(c, method, path, body, nonce, auth, digest,
                                &list, err) != OVSA_OK)
    {
        goto end;
    }

    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, ovsa_client_on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, resp);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, ovsa_client_on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, resp);

    /* no Accept-Encoding: the digest covers the bytes as sent */

    if (c->cert_pem != NULL) {
        /* customer binding: nginx hashes this certificate for the backend */
        blob.data = c->cert_pem;
        blob.len = c->cert_len;
        blob.flags = CURL_BLOB_NOCOPY;
        curl_easy_setopt(h, CURLOPT_SSLCERT_BLOB, &blob);
        curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");

        blob.data = c->key_pem;
        blob.len = c->key_len;
        curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &blob);
        curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
    }

    if (c->pins != NULL) {
        /* pin-only TLS: no CA store decides, the license's pins do */
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
        curl_easy_setopt(h, CURLOPT_PINNEDPUBLICKEY, c->pins);

    } else {
        /* the vendor root is the only trust anchor; no system store */
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
        curl_easy_setopt(h, CURLOPT_CAINFO, c->root_file);
        curl_easy_setopt(h, CURLOPT_CAPATH, NULL);
    }

    if (strcmp(method, "GET") == 0) {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);

    } else {
        if (strcmp(method, "POST") != 0) {
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
        }
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body ? body : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE,
                         (long) (body ? strlen(body) : 0));
    }

    rc = curl_easy_perform(h);

    if (rc == CURLE_SSL_PINNEDPUBKEYNOTMATCH) {
        ovsa_err_set(err, OVSA_E_PIN, "transport: %s%s: server key matches "
                     "none of the license pins", c->url, path);
        goto end;
    }

    if (rc == CURLE_WRITE_ERROR && resp->too_big) {
        ovsa_err_set(err, OVSA_E_PROTOCOL, "transport: %s%s: answer larger "
                     "than %zu bytes", c->url, path, max);
        goto end;
    }

    if (rc != CURLE_OK) {
        ovsa_err_set(err, ovsa_client_curl_code(h, rc), "transport: %s%s: %s",
                     c->url, path, errbuf[0] ? errbuf : curl_easy_strerror(rc));
        goto end;
    }

    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);

    if (resp->body == NULL) {
        resp->body = calloc(1, 1);
        if (resp->body == NULL) {
            ovsa_err_set(err, OVSA_E_NOMEM, "client: out of memory");
            goto end;
        }
    }

    ret = OVSA_OK;

end:

    ovsa_client_headers_free(list);
    free(url);
    return ret;
}


/* ---- the signing chain */

static int
ovsa_client_leaf_keyid(STACK_OF(X509) *chain, char *keyid, ovsa_err_t *err)
{
    EVP_PKEY  *pub;

    pub = X509_get0_pubkey(sk_X509_value(chain, 0));
    if (pub == NULL) {
        return ovsa_err_ssl(err, OVSA_E_PEM, "chain: leaf has no usable "
                            "public key");
    }

    return ovsa_keyid_pkey(pub, keyid, err);
}


static int
ovsa_client_cache_path(ovsa_client_t *c, const char *keyid, char *path,
    size_t size)
{
    int  n;

    n = snprintf(path, size, "%s/%s.pem", c->cache_dir, keyid);
    return (n < 0 || (size_t) n >= size) ? OVSA_ERR : OVSA_OK;
}


/* the cached chain of keyid, or NULL (absent, unreadable, other key) */
static STACK_OF(X509) *
ovsa_client_cache_get(ovsa_client_t *c, const char *keyid)
{
    char             path[4096], leaf[OVSA_KEYID_LEN + 1];
    STACK_OF(X509)  *chain;

    if (c->cache_dir == NULL
        || ovsa_client_cache_path(c, keyid, path, sizeof(path)) != OVSA_OK
        || access(path, R_OK) != 0
        || ovsa_chain_load(path, &chain, NULL) != OVSA_OK)
    {
        return NULL;
    }

    if (ovsa_client_leaf_keyid(chain, leaf, NULL) != OVSA_OK
        || strcmp(leaf, keyid) != 0)
    {
        sk_X509_pop_free(chain, X509_free);
        return NULL;
    }

    return chain;
}


/* stores a verified chain: temp file + rename; failures are not fatal */
static void
ovsa_client_cache_put(ovsa_client_t *c, const char *keyid, const char *pem,
    size_t len)
{
    int      fd;
    char     path[4096], tmp[4096 + 16];
    ssize_t  w;

    if (c->cache_dir == NULL
        || ovsa_client_cache_path(c, keyid, path, sizeof(path)) != OVSA_OK)
    {
        return;
    }

    snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path);
    fd = mkstemp(tmp);
    if (fd < 0) {
        return;
    }

    w = write(fd, pem, len);
    if (w < 0 || (size_t) w != len || fsync(fd) != 0 || close(fd) != 0) {
        if (w >= 0) {
            close(fd);
        }
        unlink(tmp);
        return;
    }

    if (rename(tmp, path) != 0) {
        unlink(tmp);
    }
}


/* Fetches the server's signing chain; its leaf must have keyid. */
static int
ovsa_client_chain_fetch(ovsa_client_t *c, const char *keyid,
    STACK_OF(X509) **out, ovsa_client_resp_t *resp, ovsa_err_t *err)
{
    char           leaf[OVSA_KEYID_LEN + 1], nonce[32];
    char           digest[OVSA_DIGEST_FIELD_LEN + 1];
    ovsa_err_t     e;
    unsigned char  raw[16];

    *out = NULL;

    /*
     * The chain needs no signature (it is verified against the root), but
     * a server that signs everything also wants a nonce here.
     */
    if (RAND_bytes(raw, sizeof(raw)) != 1) {
        return ovsa_err_ssl(err, OVSA_E_INTERNAL, "chain: no random nonce");
    }
    ovsa_b64_encode(raw, sizeof(raw), nonce, 1);

    /* no license secret: the chain is public */
    if (ovsa_client_http(c, "GET", OVSA_CHAIN_PATH, NULL, nonce, 0,
                         OVSA_CHAIN_MAX, resp, digest, err) != OVSA_OK)
    {
        return OVSA_ERR;
    }

    if (resp->status != 200) {
        return ovsa_err_set(err, OVSA_E_PROTOCOL, "chain: GET %s answered "
                            "%ld", OVSA_CHAIN_PATH, resp->status);
    }

    if (ovsa_chain_load_mem(resp->body, resp->len, "server chain", out, &e)
        != OVSA_OK)
    {
        return ovsa_err_set(err, e.code, "chain: %s", e.msg);
    }

    if (ovsa_client_leaf_keyid(*out, leaf, err) != OVSA_OK) {
        return OVSA_ERR;
    }

    if (strcmp(leaf, keyid) != 0) {
        return ovsa_err_set(err, OVSA_E_SIG_KEYID, "signature: keyid \"%s\" "
                            "is not the keyid \"%s\" of the server's chain "
                            "leaf", keyid, leaf);
    }

    return OVSA_OK;
}


/*
 * The one trust decision about a signing chain.  Root mode: the chain
 * verifies to the vendor root.  License mode: the leaf's key matches one
 * of the URL's pins (the ISV-signed anchor) and the leaf is valid, with
 * serverAuth and the ovsa policy; with a root, the chain must also
 * verify to it.
 */
static int
ovsa_client_chain_trusted(ovsa_client_t *c, STACK_OF(X509) *chain,
    ovsa_err_t *err)
{
    X509        *leaf;
    size_t       i;
    unsigned     flags;
    ovsa_err_t   e;
    char         pin[OVSA_PIN_LEN + 1];

    flags = OVSA_VERIFY_EKU_SERVER | OVSA_VERIFY_POLICY;
    leaf = sk_X509_value(chain, 0);

    if (c->pin_sigs) {
        for (i = 0; i < c->npins; i++) {
            if (ovsa_pin_match(leaf, c->pin_list[i])) {
                break;
            }
        }

        if (i == c->npins) {
            if (ovsa_pin_cert(leaf, pin, NULL) != OVSA_OK) {
                strcpy(pin, "?");
            }
            return ovsa_err_set(err, OVSA_E_PIN, "signing chain: leaf key "
                                "%s matches none of the license pins of %s",
                                pin, c->url);
        }

        if (ovsa_leaf_verify(leaf, flags, c->at, &e) != OVSA_OK) {
            return ovsa_err_set(err, e.code, "signing chain: %s", e.msg);
        }
    }

    if (c->root != NULL) {
        if (ovsa_chain_verify(chain, c->root, flags, c->at, &e) != OVSA_OK) {
            return ovsa_err_set(err, e.code, "signing %s", e.msg);
        }

    } else if (!c->pin_sigs) {
        return ovsa_err_set(err, OVSA_E_ROOT, "signing chain: no vendor "
                            "root to verify it against");
    }

    return OVSA_OK;
}


/*
 * The chain a grant carries (verifying offline: no cache, no network); its
 * leaf must have keyid and it gets the same trust decision.
 */
static int
ovsa_client_chain_given(ovsa_client_t *c, const char *keyid,
    STACK_OF(X509) **out, ovsa_err_t *err)
{
    char             leaf[OVSA_KEYID_LEN + 1];
    ovsa_err_t       e;
    STACK_OF(X509)  *chain;

    if (ovsa_chain_load_mem(c->chain_pem, c->chain_len, "grant chain",
                            &chain, &e) != OVSA_OK)
    {
        return ovsa_err_set(err, OVSA_E_GRANT_SYNTAX, "grant: chain: %s",
                            e.msg);
    }

    if (ovsa_client_leaf_keyid(chain, leaf, err) != OVSA_OK) {
        goto failed;
    }

    if (strcmp(leaf, keyid) != 0) {
        ovsa_err_set(err, OVSA_E_SIG_KEYID, "signature: keyid \"%s\" is not "
                     "the keyid \"%s\" of the grant's chain leaf", keyid,
                     leaf);
        goto failed;
    }

    if (ovsa_client_chain_trusted(c, chain, err) != OVSA_OK) {
        goto failed;
    }

    *out = chain;
    return OVSA_OK;

failed:

    sk_X509_pop_free(chain, X509_free);
    return OVSA_ERR;
}


/*
 * The chain whose leaf has keyid, verified against the root at every use:
 * from the cache, or, when absent there or no longer valid (a renewed
 * certificate keeps its key and keyid), from the server, then cached.
 */
static int
ovsa_client_chain(ovsa_client_t *c, const char *keyid,
    STACK_OF(X509) **out, ovsa_err_t *err)
{
    STACK_OF(X509)      *chain;
    ovsa_client_resp_t   resp;

    memset(&resp, 0, sizeof(resp));

    if (c->chain_pem != NULL) {
        return ovsa_client_chain_given(c, keyid, out, err);
    }

    chain = ovsa_client_cache_get(c, keyid);

    if (chain != NULL) {
        if (ovsa_client_chain_trusted(c, chain, NULL) == OVSA_OK) {
            *out = chain;
            return OVSA_OK;
        }

        sk_X509_pop_free(chain, X509_free);
    }

    if (ovsa_client_chain_fetch(c, keyid, &chain, &resp, err) != OVSA_OK) {
        goto failed;
    }

    if (ovsa_client_chain_trusted(c, chain, err) != OVSA_OK) {
        goto failed;
    }

    ovsa_client_cache_put(c, keyid, resp.body, resp.len);

    ovsa_client_resp_free(&resp);
    *out = chain;
    return OVSA_OK;

failed:

    if (chain != NULL) {
        sk_X509_pop_free(chain, X509_free);
    }
    ovsa_client_resp_free(&resp);
    return OVSA_ERR;
}


/* ---- the answer */

static void
ovsa_client_copy(char *dst, size_t size, json_t *v)
{
    const char  *s;

    s = json_string_value(v);
    if (s != NULL) {
        snprintf(dst, size, "%s", s);
    }
}


static int
ovsa_client_verdict(ovsa_result_t *r, ovsa_err_t *err)
{
    json_t        *j, *v;
    json_error_t   je;

    j = json_loadb(r->body, r->body_len, 0, &je);
    if (j == NULL || !json_is_object(j)) {
        json_decref(j);
        return ovsa_err_set(err, OVSA_E_PROTOCOL, "answer: %ld with a body "
                            "that is not a JSON object", r->status);
    }

    v = json_object_get(j, "verdict");
    if (!json_is_string(v)
        || (strcmp(json_string_value(v), "valid") != 0
            && strcmp(json_string_value(v), "denied") != 0
            && strcmp(json_string_value(v), "error") != 0)
        || !json_is_string(json_object_get(j, "code")))
    {
        json_decref(j);
        return ovsa_err_set(err, OVSA_E_PROTOCOL, "answer: %ld without a "
                            "verdict and code", r->status);
    }

    ovsa_client_copy(r->verdict, sizeof(r->verdict), v);
    ovsa_client_copy(r->code, sizeof(r->code), json_object_get(j, "code"));
    ovsa_client_copy(r->message, sizeof(r->message),
                     json_object_get(j, "message"));
    r->server_time = json_integer_value(json_object_get(j, "server_time"));
    r->valid_until = json_integer_value(json_object_get(j, "valid_until"));

    /* a "valid" verdict in a non-200 answer is not ovsa protocol */
    if ((r->status == 200) != (strcmp(r->verdict, "valid") == 0)) {
        json_decref(j);
        return ovsa_err_set(err, OVSA_E_PROTOCOL, "answer: verdict \"%s\" "
                            "with status %ld", r->verdict, r->status);
    }

    json_decref(j);
    return OVSA_OK;
}


void
ovsa_client_set_presigned(ovsa_client_t *c, const char *input,
    const char *sig)
{
    c->pre_input = input;
    c->pre_sig = sig;
}


int
ovsa_client_request(ovsa_client_t *c, const char *method, const char *path,
    const char *json_body, ovsa_result_t *r, ovsa_err_t *err)
{
    return ovsa_client_request_nonce(c, method, path, json_body, NULL, r,
                                     err);
}


int
ovsa_client_request_nonce(ovsa_client_t *c, const char *method,
    const char *path, const char *json_body, const char *nonce,
    ovsa_result_t *r, ovsa_err_t *err)
{
    int                 ret;
    size_t              i;
    ovsa_client_resp_t  resp;
    unsigned char       raw[16];

    ret = OVSA_ERR;
    memset(r, 0, sizeof(*r));
    memset(&resp, 0, sizeof(resp));

    if (path == NULL || path[0] != '/' || method == NULL || method[0] == '\0')
    {
        ovsa_err_set(err, OVSA_E_INTERNAL, "request: path must start with /");
        goto end;
    }

    for (i = 0; path[i] != '\0'; i++) {
        if ((unsigned char) path[i] <= 0x20 || path[i] == 0x7f) {
            ovsa_err_set(err, OVSA_E_INTERNAL, "request: path holds a space "
                         "or control character");
            goto end;
        }
    }

    if (nonce != NULL) {
        /* the nonce an offline request was signed with */
        if (strlen(nonce) >= sizeof(r->nonce)
            || !ovsa_nonce_valid(nonce, strlen(nonce)))
        {
            ovsa_err_set(err, OVSA_E_OFFLINE_REQUEST, "request: not a "
                         "nonce");
            goto end;
        }
        strcpy(r->nonce, nonce);

    } else {
        /* a fresh 128-bit nonce binds the answer to this request */
        if (RAND_bytes(raw, sizeof(raw)) != 1) {
            ovsa_err_ssl(err, OVSA_E_INTERNAL, "request: no random nonce");
            goto end;
        }
        ovsa_b64_encode(raw, sizeof(raw), r->nonce, 1);
    }

    if (ovsa_client_http(c, method, path, json_body, r->nonce, 1,
                         OVSA_CLIENT_MAX_BODY, &resp, r->req_digest, err)
        != OVSA_OK)
    {
        goto end;
    }

    ret = ovsa_client_answer(c, method, path, &resp, r, err);

end:

    if (ret != OVSA_OK) {
        r->failed_check = err ? err->code : OVSA_E_INTERNAL;
    }

    ovsa_client_resp_free(&resp);
    return ret;
}


int
ovsa_client_answer(ovsa_client_t *c, const char *method, const char *path,
    ovsa_client_resp_t *resp, ovsa_result_t *r, ovsa_err_t *err)
{
    int                 ret;
    char               *target;
    size_t              n, sig_len;
    time_t              now;
    EVP_PKEY           *pub;
    STACK_OF(X509)     *chain;
    ovsa_sig_msg_t      msg;
    ovsa_sig_params_t   p;
    unsigned char       sig[OVSA_SIG_MAX];

    ret = OVSA_ERR;
    chain = NULL;
    target = NULL;

    r->status = resp->status;
    r->body = resp->body;
    r->body_len = resp->len;
    resp->body = NULL;

    /*
     * An unsigned 503 with Retry-After: the server's hardware key is busy
     * (SIGNER_BUSY, docs/signatures.md).  Nothing vouches for it, so it
     * is no verdict; it counts as the server not answering, like a
     * refused connection (which anyone on the path can cause anyway):
     * the next server is tried, the retry loop may ask again.
     */
    if (resp->status == 503 && resp->h[OVSA_H_RETRY_AFTER] != NULL
        && resp->h[OVSA_H_SIGNATURE_INPUT] == NULL
        && resp->h[OVSA_H_SIGNATURE] == NULL)
    {
        ovsa_err_set(err, OVSA_E_TRANSPORT, "server busy: unsigned 503 "
                     "with Retry-After: %.16s (not a verdict; try again)",
                     resp->h[OVSA_H_RETRY_AFTER]);
        goto end;
    }

    /* an unsigned answer is that first, whatever else it lacks */
    if (resp->h[OVSA_H_SIGNATURE_INPUT] == NULL
        && resp->h[OVSA_H_SIGNATURE] == NULL)
    {
        ovsa_err_set(err, OVSA_E_SIG_MISSING, "signature: answer %ld "
                     "carries neither Signature-Input nor Signature",
                     resp->status);
        goto end;
    }

    /* the answer must be to this nonce (the signature binds the echo) */
    if (resp->h[OVSA_H_NONCE] == NULL
        || strcmp(resp->h[OVSA_H_NONCE], r->nonce) != 0)
    {
        ovsa_err_set(err, OVSA_E_NONCE, "nonce: answer is bound to %s%s%s, "
                     "this request sent %s",
                     resp->h[OVSA_H_NONCE] ? "\"" : "no nonce",
                     resp->h[OVSA_H_NONCE] ? resp->h[OVSA_H_NONCE] : "",
                     resp->h[OVSA_H_NONCE] ? "\"" : "", r->nonce);
        goto end;
    }

    if (ovsa_digest_verify(ovsa_str(resp->h[OVSA_H_CONTENT_DIGEST]),
                           r->body, r->body_len, err) != OVSA_OK)
    {
        goto end;
    }

    /* parsed once: the keyid names the chain, the rest is verified below */
    if (ovsa_sig_parse(ovsa_str(resp->h[OVSA_H_SIGNATURE_INPUT]),
                       ovsa_str(resp->h[OVSA_H_SIGNATURE]), &p, sig,
                       &sig_len, err) != OVSA_OK)
    {
        goto end;
    }

    snprintf(r->keyid, sizeof(r->keyid), "%s", p.keyid);
    r->sig_created = p.created;
    r->sig_expires = p.expires;

    /*
     * an answer to a request with a body covers the digest the request
     * sent, "content-digest";req, and the base is rebuilt from that one:
     * an answer to a body changed on the way does not verify
     */
    memset(&msg, 0, sizeof(msg));
    msg.req_content_digest = ovsa_str(r->req_digest[0] ? r->req_digest
                                                       : NULL);

    if (ovsa_sig_check_components(&msg, &p, err) != OVSA_OK) {
        goto end;
    }

    /* stale or future answers fail before any chain is fetched */
    now = c->at ? c->at : time(NULL);

    if (ovsa_sig_check_time(&p, now, c->skew, err) != OVSA_OK) {
        goto end;
    }

    if (ovsa_client_chain(c, p.keyid, &chain, err) != OVSA_OK) {
        goto end;
    }

    pub = X509_get0_pubkey(sk_X509_value(chain, 0));
    if (pub == NULL) {
        ovsa_err_ssl(err, OVSA_E_PEM, "chain: leaf has no usable key");
        goto end;
    }

    n = strlen(c->origin) + strlen(path) + 1;
    target = malloc(n);
    if (target == NULL) {
        ovsa_err_set(err, OVSA_E_NOMEM, "client: out of memory");
        goto end;
    }
    snprintf(target, n, "%s%s", c->origin, path);

    msg.status = (int) resp->status;   /* req_content_digest set above */
    msg.content_type = ovsa_str(resp->h[OVSA_H_CONTENT_TYPE]);
    msg.content_digest = ovsa_str(resp->h[OVSA_H_CONTENT_DIGEST]);
    msg.nonce = ovsa_str(r->nonce);
    msg.method = ovsa_str(method);
    msg.target_uri = ovsa_str(target);

    if (ovsa_sig_verify_parsed(pub, &msg, &p, sig, sig_len, now, c->skew,
                               err) != OVSA_OK)
    {
        goto end;
    }

    r->verified = 1;

    if (ovsa_client_verdict(r, err) != OVSA_OK) {
        goto end;
    }

    /*
     * nginx's signed "try again" (docs/protocol.md, "Answers nginx
     * writes"): the backend is down or slow, or this address is over its
     * limit.  It is no verdict on the license: like a refused connection,
     * OVSA_E_TRANSPORT, the next server is tried, the cached verdict
     * stands.
     */
    if (strcmp(r->verdict, "error") == 0
        && (strcmp(r->code, "BACKEND_UNAVAILABLE") == 0
            || strcmp(r->code, "BACKEND_TIMEOUT") == 0
            || strcmp(r->code, "SERVICE_UNAVAILABLE") == 0
            || strcmp(r->code, "RATE_LIMITED") == 0))
    {
        ovsa_err_set(err, OVSA_E_TRANSPORT, "server unavailable: signed "
                     "%ld %s (not a verdict; try again)", r->status,
                     r->code);
        goto end;
    }

    if (c->keep
        && ovsa_grant_make(c->origin, method, path, resp, r, chain, err)
           != OVSA_OK)
    {
        goto end;
    }

    ret = OVSA_OK;

end:

    if (chain != NULL) {
        sk_X509_pop_free(chain, X509_free);
    }
    free(target);
    return ret;
}
