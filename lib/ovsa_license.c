/*
 * ovsa_license.c: customer licenses, a flattened JWS JSON serialization
 * (RFC 7515 section 7.2.2, algorithms of RFC 7518 and RFC 8037) signed by
 * the ISV key, on jansson and OpenSSL 3.  See ovsa_license.h and
 * docs/license-format.md.
 */

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "ovsa_file.h"
#include "ovsa_b64.h"
#include "ovsa_conf.h"
#include "ovsa_key.h"
#include "ovsa_license.h"
#include "ovsa_pin.h"


#define OVSA_LIC_INT_MAX   9007199254740991LL   /* 2^53 - 1, JSON-safe */
#define OVSA_LIC_LEASE_MIN 60
#define OVSA_LIC_LEASE_MAX 86400


static const char *ovsa_license_types[] = {
    NULL, "perpetual", "time-limited", "usage-count", "node-locked",
    "floating"
};

static const char *ovsa_license_payload_keys[] = {
    "ovsa", "license_id", "version", "issued_at", "customer", "product",
    "type", "limits", "require_hardware_key", "sync_interval", "expires_at",
    "servers", NULL
};

static const char *ovsa_license_customer_keys[] = {
    "name", "cert_sha256", "secret_sha256", NULL
};

static const char *ovsa_license_limits_keys[] = {
    "usage", "max_activations", "seats", "lease_seconds", "deactivations",
    "deactivation_period", "max_borrow", "max_offline", NULL
};

static const char *ovsa_license_server_keys[] = { "url", "pins", NULL };
static const char *ovsa_license_pins_keys[] = { "current", "future", NULL };
static const char *ovsa_license_header_keys[] = { "alg", "typ", "x5c", NULL };


const char *
ovsa_license_type_name(ovsa_license_type_t type)
{
    if (type < OVSA_LIC_PERPETUAL || type > OVSA_LIC_FLOATING) {
        return NULL;
    }

    return ovsa_license_types[type];
}


ovsa_license_type_t
ovsa_license_type_from_name(const char *name)
{
    int  i;

    for (i = OVSA_LIC_PERPETUAL; name != NULL && i <= OVSA_LIC_FLOATING; i++)
    {
        if (strcmp(name, ovsa_license_types[i]) == 0) {
            return (ovsa_license_type_t) i;
        }
    }

    return 0;
}


int
ovsa_license_id_valid(const char *id)
{
    size_t  n;

    if (id == NULL) {
        return 0;
    }

    n = strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                   "0123456789._-");

    return n >= 1 && n <= OVSA_LICENSE_ID_MAX && id[n] == '\0';
}


/* ---- algorithms (lib/ovsa_key.h) */

const char *
ovsa_license_default_alg(EVP_PKEY *key)
{
    const ovsa_alg_t  *alg;

    alg = key ? ovsa_alg_for_key(OVSA_ALG_JWS, key, NULL) : NULL;

    return alg ? alg->name : NULL;
}


/* Returns the JWS alg named name when it may be used with key. */
static const ovsa_alg_t *
ovsa_jws_alg(EVP_PKEY *key, const char *name, ovsa_err_t *err)
{
    const ovsa_alg_t  *alg, *def;

    alg = ovsa_alg_by_name(OVSA_ALG_JWS, name, strlen(name));
    if (alg == NULL) {
        ovsa_err_set(err, OVSA_E_LIC_ALG, "license: alg \"%s\" is not RS256, "
                     "PS256, ES256 or EdDSA", name);
        return NULL;
    }

    def = ovsa_alg_for_key(OVSA_ALG_JWS, key, NULL);
    if (def == NULL) {
        ovsa_err_set(err, OVSA_E_LIC_ALG, "license: signer key is not RSA "
                     ">= %d bits, P-256 or Ed25519", OVSA_KEY_RSA_MIN_BITS);
        return NULL;
    }

    if (!ovsa_alg_fits(alg, key)) {
        ovsa_err_set(err, OVSA_E_LIC_ALG, "license: alg \"%s\" does not fit "
                     "the signer's key (%s)", name, def->name);
        return NULL;
    }

    return alg;
}


/* Signs in with key; ES256 signatures come out as raw r || s (RFC 7518
 * section 3.4), not DER.  *sig is malloc'ed. */
static int
ovsa_jws_sign(EVP_PKEY *key, const ovsa_alg_t *alg, const char *in,
    size_t inlen, unsigned char **sig, size_t *siglen, ovsa_err_t *err)
{
    int             ret;
    size_t          len;
    EVP_MD_CTX     *mctx;
    unsigned char   buf[OVSA_KEY_SIG_MAX];

    mctx = EVP_MD_CTX_new();
    if (mctx == NULL) {
        return ovsa_err_set(err, OVSA_E_NOMEM, "license: sign: out of memory");
    }

    ret = OVSA_ERR;

    if (ovsa_alg_init(mctx, alg, key, 1, err) != OVSA_OK
        || ovsa_alg_sign(mctx, alg, in, inlen, buf, sizeof(buf), &len, err)
           != OVSA_OK)
    {
        goto end;
    }

    *sig = malloc(len);
    if (*sig == NULL) {
        ovsa_err_set(err, OVSA_E_NOMEM, "license: sign: out of memory");
        goto end;
    }

    memcpy(*sig, buf, len);
    *siglen = len;
    ret = OVSA_OK;

end:

    EVP_MD_CTX_free(mctx);
    return ret;
}


/* ---- payload fields */

static int
ovsa_lic_known(json_t *obj, const char *path, const char **keys,
    ovsa_err_t *err)
{
    int          i;
    void        *it;
    const char  *k;

    for (it = json_object_iter(obj); it; it = json_object_iter_next(obj, it)) {
        k = json_object_iter_key(it);
        for (i = 0; keys[i] != NULL && strcmp(keys[i], k) != 0; i++) {
            /* void */
        }
        if (keys[i] == NULL) {
            return ovsa_err_set(err, OVSA_E_LIC_FIELD, "license: %s%s%s: "
                                "unknown field", path, *path ? "." : "", k);
        }
    }

    return OVSA_OK;
}


/*
 * Member key of obj, of JSON type "type" (named "what" in messages), or
 * null when nullable: OVSA_OK with *out the value, NULL for a null.
 * Missing or of another type: OVSA_E_LIC_FIELD naming path.key.
 */
static int
ovsa_lic_value(json_t *obj, const char *path, const char *key, int nullable,
    json_type type, const char *what, json_t **out, ovsa_err_t *err)
{
    json_t      *v;
    const char  *dot;

    dot = *path ? "." : "";
    v = json_object_get(obj, key);
    *out = NULL;

    if (v == NULL) {
        return ovsa_err_set(err, OVSA_E_LIC_FIELD, "license: %s%s%s: missing",
                            path, dot, key);
    }

    if (nullable && json_is_null(v)) {
        return OVSA_OK;
    }

    if (json_typeof(v) != type) {
        return ovsa_err_set(err, OVSA_E_LIC_FIELD, "license: %s%s%s: not %s%s",
                            path, dot, key, what,
                            nullable ? " or null" : "");
    }

    *out = v;
    return OVSA_OK;
}


static int
ovsa_lic_int(json_t *obj, const char *path, const char *key, int nullable,
    int64_t min, int64_t max, int64_t *out, ovsa_err_t *err)
{
    json_t      *v;
    json_int_t   n;

    *out = 0;

    if (ovsa_lic_value(obj, path, key, nullable, JSON_INTEGER, "an integer",
                       &v, err) != OVSA_OK)
    {
        return OVSA_ERR;
    }

    if (v == NULL) {
        return OVSA_OK;                 /* null */
    }

    n = json_integer_value(v);
    if (n < min || n > max) {
        return ovsa_err_set(err, OVSA_E_LIC_RANGE, "license: %s%s%s: %lld "
                            "not in %lld..%lld", path, *path ? "." : "", key,
                            (long long) n, (long long) min, (long long) max);
    }

    *out = n;
    return OVSA_OK;
}


static int
ovsa_lic_str(json_t *obj, const char *path, const char *key, int nullable,
    size_t max, char **out, ovsa_err_t *err)
{
    size_t       i, len;
    json_t      *v;
    const char  *s, *dot;

    *out = NULL;

    if (ovsa_lic_value(obj, path, key, nullable, JSON_STRING, "a string",
                       &v, err) != OVSA_OK)
    {
        return OVSA_ERR;
    }

    if (v == NULL) {
        return OVSA_OK;                 /* null */
    }

    dot = *path ? "." : "";
    s = json_string_value(v);
    len = json_string_length(v);
    if (len == 0 || len > max || strlen(s) != len) {
        return ovsa_err_set(err, OVSA_E_LIC_FIELD, "license: %s%s%s: empty "
                            "or longer than %zu bytes", path, dot, key, max);
    }

    for (i = 0; i < len; i++) {
        if ((unsigned char) s[i] < 0x20 || s[i] == 0x7f) {
            return ovsa_err_set(err, OVSA_E_LIC_FIELD, "license: %s%s%s: "
                                "control character", path, dot, key);
        }
    }

    *out = strdup(s);
    if (*out == NULL) {
        return ovsa_err_set(err, OVSA_E_NOMEM, "license: out of memory");
    }

    return OVSA_OK;
}


static int
ovsa_lic_object(json_t *obj, const char *path, const char *key,
    const char **keys, json_t **out, ovsa_err_t *err)
{
    json_t      *v;
    char         sub[128];

    v = json_object_get(obj, key);
    snprintf(sub, sizeof(sub), "%s%s%s", path, *path ? "." : "", key);

    if (v == NULL) {
        return ovsa_err_set(err, OVSA_E_LIC_FIELD, "license: %s: missing",
                            sub);
    }

    if (!json_is_object(v)) {
        return ovsa_err_set(err, OVSA_E_LIC_FIELD, "license: %s: not an "
                            "object", sub);
    }

    *out = v;
    return ovsa_lic_known(v, sub, keys, err);
}


static int
ovsa_lic_pin(json_t *pins, const char *path, const char *key, int nullable,
    char **out, ovsa_err_t *err)
{
    json_t  *v;

    v = json_object_get(pins, key);
    if (json_is_string(v) && json_string_length(v) == 0) {
        *out = NULL;
        goto bad;
    }

    if (ovsa_lic_str(pins, path, key, nullable, 1024, out, err)
        != OVSA_OK)
    {
        return OVSA_ERR;
    }

    if (*out == NULL || ovsa_pin_valid(*out)) {
        return OVSA_OK;
    }

bad:

    free(*out);
    *out = NULL;
    return ovsa_err_set(err, OVSA_E_LIC_PIN, "license: %s.%s: not "
                        "\"sha256//\" followed by 44 base64 characters",
                        path, key);
}


static int
ovsa_lic_url(const char *url, const char *path, ovsa_err_t *err)
{
    int        ok;
    char      *scheme, *host, *user, *frag;
    CURLU     *u;
    CURLUcode  rc;

    u = curl_url();
    if (u == NULL) {
        return ovsa_err_set(err, OVSA_E_NOMEM, "license: out of memory");
    }

    scheme = host = user = frag = NULL;
    rc = curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME);
    ok = rc == CURLUE_OK
         && curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK
         && strcmp(scheme, "https") == 0
         && strncasecmp(url, "https://", 8) == 0
         && curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK
         && host[0] != '\0'
         && curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_NO_USER
         && curl_url_get(u, CURLUPART_FRAGMENT, &frag, 0)
            == CURLUE_NO_FRAGMENT;

    curl_free(scheme);
    curl_free(host);
    curl_free(user);
    curl_free(frag);
    curl_url_cleanup(u);

    if (!ok) {
        return ovsa_err_set(err, OVSA_E_LIC_URL, "license: %s.url: \"%s\" is "
                            "not an https URL with a host (and no user or "
                            "fragment)", path, url);
    }

    return OVSA_OK;
}


int
ovsa_license_pins_check(const char *const *pins, size_t n, const char *what,
    ovsa_err_t *err)
{
    size_t  i, j;

    if (n < 1 || n > OVSA_LICENSE_MAX_PINS) {
        return ovsa_err_set(err, OVSA_E_LIC_PIN_SET, "license: %s: %zu "
                            "pins, not 1..%d", what, n,
                            OVSA_LICENSE_MAX_PINS);
    }

    for (i = 0; i < n; i++) {
        if (!ovsa_pin_valid(pins[i])) {
            return ovsa_err_set(err, OVSA_E_LIC_PIN, "license: %s[%zu]: not "
                                "\"sha256//\" followed by 44 base64 "
                                "characters", what, i);
        }

        for (j = 0; j < i; j++) {
            if (strcmp(pins[j], pins[i]) == 0) {
                return ovsa_err_set(err, OVSA_E_LIC_PIN_SET, "license: "
                                    "%s[%zu]: %s repeats %s[%zu]", what, i,
                                    pins[i], what, j);
            }
        }
    }

    return OVSA_OK;
}


int
ovsa_license_server_pinned(const ovsa_license_server_t *s, const char *pin)
{
    size_t  i;

    for (i = 0; pin != NULL && i < s->npins; i++) {
        if (strcmp(s->pins[i], pin) == 0) {
            return 1;
        }
    }

    return 0;
}


/* Format 1: "pins": {"current", "future"|null}, into the set. */
static int
ovsa_lic_pins_v1(json_t *srv, const char *path, ovsa_license_server_t *s,
    ovsa_err_t *err)
{
    char    *cur, *fut, sub[80];
    json_t  *pins;

    if (ovsa_lic_object(srv, path, "pins", ovsa_license_pins_keys, &pins,
                        err) != OVSA_OK)
    {
        return OVSA_ERR;
    }

    snprintf(sub, sizeof(sub), "%s.pins", path);
    cur = fut = NULL;
    if (ovsa_lic_pin(pins, sub, "current", 0, &cur, err) != OVSA_OK) {
        return OVSA_ERR;
    }

    s->pins[s->npins++] = cur;

    if (ovsa_lic_pin(pins, sub, "future", 1, &fut, err) != OVSA_OK) {
        return OVSA_ERR;
    }

    /* a future equal to current adds no key to the set */
    if (fut != NULL && strcmp(fut, cur) == 0) {
        free(fut);
        fut = NULL;
    }

    if (fut != NULL) {
        s->pins[s->npins++] = fut;
    }

    return OVSA_OK;
}


/* Format 2: "pins": [pin, ...], 1..OVSA_LICENSE_MAX_PINS distinct. */
static int
ovsa_lic_pins_set(json_t *srv, const char *path, ovsa_license_server_t *s,
    ovsa_err_t *err)
{
    size_t       i, n;
    json_t      *arr, *v;
    char         sub[80];
    const char  *list[OVSA_LICENSE_MAX_PINS];

    snprintf(sub, sizeof(sub), "%s.pins", path);

    arr = json_object_get(srv, "pins");
    if (arr == NULL) {
        return ovsa_err_set(err, OVSA_E_LIC_FIELD, "license: %s: missing",
                            sub);
    }

    if (!json_is_array(arr)) {
        return ovsa_err_set(err, OVSA_E_LIC_FIELD, "license: %s: not an "
                            "array (format %d has a set of pins per URL)",
                            sub, OVSA_LICENSE_FORMAT_SET);
    }

    n = json_array_size(arr);
    if (n < 1 || n > OVSA_LICENSE_MAX_PINS) {
        return ovsa_err_set(err, OVSA_E_LIC_PIN_SET, "license: %s: %zu "
                            "pins, not 1..%d", sub, n,
                            OVSA_LICENSE_MAX_PINS);
    }

    for (i = 0; i < n; i++) {
        v = json_array_get(arr, i);
        if (!json_is_string(v) || json_string_length(v) != OVSA_PIN_LEN
            || strlen(json_string_value(v)) != OVSA_PIN_LEN)
        {
            return ovsa_err_set(err, OVSA_E_LIC_PIN, "license: %s[%zu]: not "
                                "\"sha256//\" followed by 44 base64 "
                                "characters", sub, i);
        }
        list[i] = json_string_value(v);
    }

    if (ovsa_license_pins_check(list, n, sub, err) != OVSA_OK) {
        return OVSA_ERR;
    }

    for (i = 0; i < n; i++) {
        s->pins[i] = strdup(list[i]);
        if (s->pins[i] == NULL) {
            return ovsa_err_set(err, OVSA_E_NOMEM, "license: out of memory");
        }
        s->npins = i + 1;
    }

    return OVSA_OK;
}


static int
ovsa_lic_servers(json_t *payload, ovsa_license_t *lic, ovsa_err_t *err)
{
    size_t                  i, j, n;
    json_t                 *arr, *srv;
    char                    path[64];
    ovsa_license_server_t  *s;

    arr = json_object_get(payload, "servers");
    if (arr == NULL) {
        return ovsa_err_set(err, OVSA_E_LIC_FIELD, "license: servers: "
                            "missing");
    }

    if (!json_is_array(arr)) {
        return ovsa_err_set(err, OVSA_E_LIC_FIELD, "license: servers: not an "
                            "array");
    }

    n = json_array_size(arr);
    if (n < 1 || n > OVSA_LICENSE_MAX_SERVERS) {
        return ovsa_err_set(err, OVSA_E_LIC_RANGE, "license: servers: %zu "
                            "entries, not 1..%d", n,
                            OVSA_LICENSE_MAX_SERVERS);
    }

    lic->servers = calloc(n, sizeof(ovsa_license_server_t));
    if (lic->servers == NULL) {
        return ovsa_err_set(err, OVSA_E_NOMEM, "license: out of memory");
    }

    for (i = 0; i < n; i++) {
        s = &lic->servers[i];
        lic->nservers = i + 1;
        snprintf(path, sizeof(path), "servers[%zu]", i);

        srv = json_array_get(arr, i);
        if (!json_is_object(srv)) {
            return ovsa_err_set(err, OVSA_E_LIC_FIELD, "license: %s: not an "
                                "object", path);
        }

        if (ovsa_lic_known(srv, path, ovsa_license_server_keys, err)
               != OVSA_OK
            || ovsa_lic_str(srv, path, "url", 0, OVSA_LICENSE_URL_MAX,
                            &s->url, err) != OVSA_OK
            || ovsa_lic_url(s->url, path, err) != OVSA_OK)
        {
            return OVSA_ERR;
        }

        if ((lic->format == OVSA_LICENSE_FORMAT_SET
             ? ovsa_lic_pins_set(srv, path, s, err)
             : ovsa_lic_pins_v1(srv, path, s, err)) != OVSA_OK)
        {
            return OVSA_ERR;
        }

        for (j = 0; j < i; j++) {
            if (strcmp(lic->servers[j].url, s->url) == 0) {
                return ovsa_err_set(err, OVSA_E_LIC_URL, "license: "
                                    "servers[%zu].url: \"%s\" repeats "
                                    "servers[%zu]", i, s->url, j);
            }
        }
    }

    return OVSA_OK;
}


/* 1 when s is exactly 64 lower-case hex digits */
static int
ovsa_lic_hex64(const char *s)
{
    size_t  n;

    n = strspn(s, "0123456789abcdef");

    return n == 64 && s[n] == '\0';
}


/*
 * limits.deactivations (>= 0) and limits.deactivation_period (seconds):
 * -1 in *out for null.
 */
static int
ovsa_lic_deact(json_t *lim, const char *key, int64_t min, int64_t max,
    long *out, ovsa_err_t *err)
{
    int64_t  n;

    if (ovsa_lic_int(lim, "limits", key, 1, min, max, &n, err) != OVSA_OK) {
        return OVSA_ERR;
    }

    *out = json_is_null(json_object_get(lim, key)) ? -1 : (long) n;
    return OVSA_OK;
}


/*
 * An optional limit (docs/offline.md): absent or null is 0, "not
 * allowed"; else an integer in min..max seconds.  Optional, not null-only,
 * so that every license made before these limits existed stays valid.
 */
static int
ovsa_lic_opt_int(json_t *lim, const char *key, int64_t min, int64_t max,
    int64_t *out, ovsa_err_t *err)
{
    *out = 0;

    if (json_object_get(lim, key) == NULL) {
        return OVSA_OK;
    }

    return ovsa_lic_int(lim, "limits", key, 1, min, max, out, err);
}


static int
ovsa_lic_fields(json_t *p, ovsa_license_t *lic, ovsa_err_t *err)
{
    char        *secret;
    json_t      *v, *cust, *lim;
    int64_t      fmt;

    if (ovsa_lic_known(p, "", ovsa_license_payload_keys, err) != OVSA_OK) {
        return OVSA_ERR;
    }

    v = json_object_get(p, "ovsa");
    if (v == NULL || !json_is_integer(v)) {
        return ovsa_err_set(err, OVSA_E_LIC_FIELD, "license: ovsa: missing "
                            "or not an integer");
    }

    fmt = json_integer_value(v);
    if (fmt != OVSA_LICENSE_FORMAT && fmt != OVSA_LICENSE_FORMAT_SET) {
        return ovsa_err_set(err, OVSA_E_LIC_FORMAT, "license: ovsa: format "
                            "%lld is not %d or %d", (long long) fmt,
                            OVSA_LICENSE_FORMAT, OVSA_LICENSE_FORMAT_SET);
    }

    lic->format = (int) fmt;

    if (ovsa_lic_str(p, "", "license_id", 0, OVSA_LICENSE_ID_MAX, &lic->id,
                     err) != OVSA_OK)
    {
        return OVSA_ERR;
    }

    if (!ovsa_license_id_valid(lic->id)) {
        return ovsa_err_set(err, OVSA_E_LIC_FIELD, "license: license_id: "
                            "only letters, digits, '.', '_' and '-' "
                            "are allowed");
    }

    if (ovsa_lic_int(p, "", "version", 0, 1, OVSA_LIC_INT_MAX,
                     &lic->version, err) != OVSA_OK
        || ovsa_lic_int(p, "", "issued_at", 0, 1, OVSA_LIC_INT_MAX,
                        &lic->issued_at, err) != OVSA_OK
        || ovsa_lic_object(p, "", "customer", ovsa_license_customer_keys,
                           &cust, err) != OVSA_OK
        || ovsa_lic_str(cust, "customer", "name", 0, OVSA_LICENSE_NAME_MAX,
                        &lic->customer_name, err) != OVSA_OK
        || ovsa_lic_str(cust, "customer", "cert_sha256", 1, 64,
                        &lic->customer_cert_sha256, err) != OVSA_OK)
    {
        return OVSA_ERR;
    }

    if (lic->customer_cert_sha256 != NULL
        && !ovsa_lic_hex64(lic->customer_cert_sha256))
    {
        return ovsa_err_set(err, OVSA_E_LIC_FIELD, "license: "
                            "customer.cert_sha256: not 64 lower-case hex "
                            "digits");
    }

    if (ovsa_lic_str(cust, "customer", "secret_sha256", 1, 64, &secret, err)
        != OVSA_OK)
    {
        return OVSA_ERR;
    }

    if (secret != NULL) {
        if (!ovsa_lic_hex64(secret)) {
            free(secret);
            return ovsa_err_set(err, OVSA_E_LIC_FIELD, "license: "
                                "customer.secret_sha256: not 64 lower-case "
                                "hex digits");
        }
        memcpy(lic->secret_sha256, secret, 65);
        free(secret);
    }

    if (lic->customer_cert_sha256 == NULL && lic->secret_sha256[0] == '\0')
    {
        return ovsa_err_set(err, OVSA_E_LIC_CREDENTIAL, "license: customer: "
                            "cert_sha256 and secret_sha256 are both null: a "
                            "license that neither a secret nor a "
                            "certificate protects could be used by anyone "
                            "who knows its id");
    }

    if (ovsa_lic_str(p, "", "product", 0, OVSA_LICENSE_NAME_MAX,
                     &lic->product, err) != OVSA_OK)
    {
        return OVSA_ERR;
    }

    v = json_object_get(p, "type");
    if (v == NULL || !json_is_string(v)) {
        return ovsa_err_set(err, OVSA_E_LIC_FIELD, "license: type: missing "
                            "or not a string");
    }

    lic->type = ovsa_license_type_from_name(json_string_value(v));
    if (lic->type == 0) {
        return ovsa_err_set(err, OVSA_E_LIC_FIELD, "license: type: \"%s\" is "
                            "not perpetual, time-limited, usage-count, "
                            "node-locked or floating", json_string_value(v));
    }

    if (ovsa_lic_object(p, "", "limits", ovsa_license_limits_keys, &lim, err)
           != OVSA_OK
        || ovsa_lic_int(lim, "limits", "usage", 1, 1, OVSA_LIC_INT_MAX,
                        &lic->limits.usage, err) != OVSA_OK
        || ovsa_lic_int(lim, "limits", "max_activations", 1, 1,
                        OVSA_LIC_INT_MAX, &lic->limits.max_activations, err)
           != OVSA_OK
        || ovsa_lic_int(lim, "limits", "seats", 1, 1, OVSA_LIC_INT_MAX,
                        &lic->limits.seats, err) != OVSA_OK
        || ovsa_lic_int(lim, "limits", "lease_seconds", 1, OVSA_LIC_LEASE_MIN,
                        OVSA_LIC_LEASE_MAX, &lic->limits.lease_seconds, err)
           != OVSA_OK
        || ovsa_lic_deact(lim, "deactivations", 0, OVSA_LIC_INT_MAX,
                          &lic->deactivations, err) != OVSA_OK
        || ovsa_lic_deact(lim, "deactivation_period",
                          OVSA_LICENSE_DEACT_PERIOD_MIN,
                          OVSA_LICENSE_DEACT_PERIOD_MAX,
                          &lic->deactivation_period, err) != OVSA_OK
        || ovsa_lic_opt_int(lim, "max_borrow", OVSA_LICENSE_BORROW_MIN,
                            OVSA_LICENSE_BORROW_MAX, &lic->limits.max_borrow,
                            err) != OVSA_OK
        || ovsa_lic_opt_int(lim, "max_offline", OVSA_LICENSE_OFFLINE_MIN,
                            OVSA_LICENSE_OFFLINE_MAX,
                            &lic->limits.max_offline, err) != OVSA_OK)
    {
        return OVSA_ERR;
    }

    /* borrowing is of floating seats, offline activation of node locks */
    if (lic->limits.max_borrow != 0 && lic->type != OVSA_LIC_FLOATING) {
        return ovsa_err_set(err, OVSA_E_LIC_LIMITS, "license: "
                            "limits.max_borrow: only a floating license "
                            "lends seats, not a %s one",
                            ovsa_license_type_name(lic->type));
    }

    if (lic->limits.max_offline != 0 && lic->type != OVSA_LIC_NODE_LOCKED) {
        return ovsa_err_set(err, OVSA_E_LIC_LIMITS, "license: "
                            "limits.max_offline: only a node-locked license "
                            "is activated offline, not a %s one",
                            ovsa_license_type_name(lic->type));
    }

    v = json_object_get(p, "require_hardware_key");
    if (v == NULL || !json_is_boolean(v)) {
        return ovsa_err_set(err, OVSA_E_LIC_FIELD, "license: "
                            "require_hardware_key: missing or not a boolean");
    }
    lic->require_hardware_key = json_is_true(v);

    if (ovsa_lic_int(p, "", "sync_interval", 0, OVSA_LICENSE_SYNC_MIN,
                     OVSA_LICENSE_SYNC_MAX, &lic->sync_interval, err)
           != OVSA_OK
        || ovsa_lic_int(p, "", "expires_at", 1, 1, OVSA_LIC_INT_MAX,
                        &lic->expires_at, err) != OVSA_OK
        || ovsa_lic_servers(p, lic, err) != OVSA_OK)
    {
        return OVSA_ERR;
    }

    /* deactivations are limited per period: both or neither */
    if ((lic->deactivations < 0) != (lic->deactivation_period < 0)) {
        return ovsa_err_set(err, OVSA_E_LIC_LIMITS, "license: limits.%s: "
                            "null while limits.%s is set: deactivations "
                            "are limited per period, both or neither",
                            lic->deactivations < 0 ? "deactivations"
                                                   : "deactivation_period",
                            lic->deactivations < 0 ? "deactivation_period"
                                                   : "deactivations");
    }

    /* the limit each type is about */
    switch (lic->type) {

    case OVSA_LIC_TIME_LIMITED:
        if (lic->expires_at == 0) {
            return ovsa_err_set(err, OVSA_E_LIC_LIMITS, "license: expires_at:"
                                " a time-limited license needs an expiry");
        }
        break;

    case OVSA_LIC_USAGE_COUNT:
        if (lic->limits.usage == 0) {
            return ovsa_err_set(err, OVSA_E_LIC_LIMITS, "license: "
                                "limits.usage: a usage-count license needs "
                                "it");
        }
        break;

    case OVSA_LIC_NODE_LOCKED:
        if (lic->limits.max_activations == 0) {
            return ovsa_err_set(err, OVSA_E_LIC_LIMITS, "license: "
                                "limits.max_activations: a node-locked "
                                "license needs it");
        }
        if (lic->deactivations < 0) {
            return ovsa_err_set(err, OVSA_E_LIC_LIMITS, "license: "
                                "limits.deactivations: a node-locked "
                                "license needs it and "
                                "limits.deactivation_period");
        }
        break;

    case OVSA_LIC_FLOATING:
        if (lic->limits.seats == 0) {
            return ovsa_err_set(err, OVSA_E_LIC_LIMITS, "license: "
                                "limits.seats: a floating license needs it");
        }
        if (lic->limits.lease_seconds == 0) {
            return ovsa_err_set(err, OVSA_E_LIC_LIMITS, "license: "
                                "limits.lease_seconds: a floating license "
                                "needs it");
        }
        break;

    default:
        break;
    }

    return OVSA_OK;
}


/* ---- the JWS */

static int
ovsa_lic_member(json_t *jws, const char *key, const char **out,
    ovsa_err_t *err)
{
    json_t  *v;

    v = json_object_get(jws, key);
    if (v == NULL || !json_is_string(v)) {
        return ovsa_err_set(err, OVSA_E_LIC_SYNTAX, "license: JWS member "
                            "\"%s\" missing or not a string", key);
    }

    *out = json_string_value(v);
    return OVSA_OK;
}


static int
ovsa_lic_header(const char *b64, ovsa_license_t *lic, ovsa_err_t *err)
{
    int                   ret;
    size_t                len;
    json_t               *hdr, *v, *x5c;
    json_error_t          jerr;
    unsigned char        *raw, *der;
    const unsigned char  *p;

    ret = OVSA_ERR;
    hdr = NULL;
    der = NULL;

    raw = ovsa_b64_decode_alloc(b64, strlen(b64), 1, &len);
    if (raw == NULL) {
        return ovsa_err_set(err, OVSA_E_LIC_SYNTAX, "license: protected: not "
                            "base64url");
    }

    hdr = json_loadb((char *) raw, len, JSON_REJECT_DUPLICATES, &jerr);
    if (hdr == NULL || !json_is_object(hdr)) {
        ovsa_err_set(err, OVSA_E_LIC_HEADER, "license: protected: not a JSON "
                     "object");
        goto end;
    }

    if (json_object_get(hdr, "crit") != NULL) {
        ovsa_err_set(err, OVSA_E_LIC_HEADER, "license: protected: crit: no "
                     "extension is understood");
        goto end;
    }

    v = json_object_get(hdr, "typ");
    if (v == NULL || !json_is_string(v)
        || strcmp(json_string_value(v), OVSA_LICENSE_TYP) != 0)
    {
        ovsa_err_set(err, OVSA_E_LIC_HEADER, "license: protected: typ: not "
                     "\"%s\"", OVSA_LICENSE_TYP);
        goto end;
    }

    if (ovsa_lic_known(hdr, "protected", ovsa_license_header_keys, err)
        != OVSA_OK)
    {
        if (err != NULL) {
            err->code = OVSA_E_LIC_HEADER;
        }
        goto end;
    }

    v = json_object_get(hdr, "alg");
    if (v == NULL || !json_is_string(v)) {
        ovsa_err_set(err, OVSA_E_LIC_HEADER, "license: protected: alg: "
                     "missing or not a string");
        goto end;
    }

    lic->alg = strdup(json_string_value(v));
    if (lic->alg == NULL) {
        ovsa_err_set(err, OVSA_E_NOMEM, "license: out of memory");
        goto end;
    }

    x5c = json_object_get(hdr, "x5c");
    if (x5c == NULL || !json_is_array(x5c) || json_array_size(x5c) != 1
        || !json_is_string(json_array_get(x5c, 0)))
    {
        ovsa_err_set(err, OVSA_E_LIC_X5C, "license: protected: x5c: not an "
                     "array of exactly one certificate");
        goto end;
    }

    v = json_array_get(x5c, 0);
    der = ovsa_b64_decode_alloc(json_string_value(v), json_string_length(v), 0,
                          &len);
    p = der;
    if (der == NULL
        || (lic->signer = d2i_X509(NULL, &p, (long) len)) == NULL
        || p != der + len)
    {
        ovsa_err_ssl(err, OVSA_E_LIC_X5C, "license: protected: x5c[0]: not "
                     "a base64 DER certificate");
        goto end;
    }

    if (X509_get0_pubkey(lic->signer) == NULL) {
        ovsa_err_ssl(err, OVSA_E_LIC_X5C, "license: protected: x5c[0]: "
                     "unusable public key");
        goto end;
    }

    if (ovsa_jws_alg(X509_get0_pubkey(lic->signer), lic->alg, err) == NULL)
    {
        goto end;
    }

    ret = OVSA_OK;

end:

    json_decref(hdr);
    free(raw);
    free(der);
    return ret;
}


int
ovsa_license_parse(const char *text, size_t len, ovsa_license_t **out,
    ovsa_err_t *err)
{
    int                ret;
    char              *input;
    void              *it;
    json_t            *jws, *payload;
    size_t             plen, slen, ilen;
    json_error_t       jerr;
    const char        *prot, *pay, *sig, *k;
    unsigned char     *sigraw;
    ovsa_license_t    *lic;
    const ovsa_alg_t  *alg;

    ret = OVSA_ERR;
    prot = pay = sig = NULL;
    jws = NULL;
    payload = NULL;
    sigraw = NULL;
    input = NULL;
    *out = NULL;

    if (len > OVSA_LICENSE_MAX_SIZE) {
        return ovsa_err_set(err, OVSA_E_LIC_SYNTAX, "license: %zu bytes, "
                            "more than %d", len, OVSA_LICENSE_MAX_SIZE);
    }

    lic = calloc(1, sizeof(ovsa_license_t));
    if (lic == NULL) {
        return ovsa_err_set(err, OVSA_E_NOMEM, "license: out of memory");
    }

    jws = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (jws == NULL || !json_is_object(jws)) {
        ovsa_err_set(err, OVSA_E_LIC_SYNTAX, "license: not a JWS JSON object"
                     "%s%s", jws ? "" : ": ", jws ? "" : jerr.text);
        goto end;
    }

    for (it = json_object_iter(jws); it; it = json_object_iter_next(jws, it))
    {
        k = json_object_iter_key(it);
        if (strcmp(k, "header") == 0) {
            ovsa_err_set(err, OVSA_E_LIC_HEADER, "license: header: "
                         "unprotected header parameters are not allowed");
            goto end;
        }
        if (strcmp(k, "protected") != 0 && strcmp(k, "payload") != 0
            && strcmp(k, "signature") != 0)
        {
            ovsa_err_set(err, OVSA_E_LIC_SYNTAX, "license: \"%s\": not a "
                         "flattened JWS member", k);
            goto end;
        }
    }

    if (ovsa_lic_member(jws, "protected", &prot, err) != OVSA_OK
        || ovsa_lic_member(jws, "payload", &pay, err) != OVSA_OK
        || ovsa_lic_member(jws, "signature", &sig, err) != OVSA_OK
        || ovsa_lic_header(prot, lic, err) != OVSA_OK)
    {
        goto end;
    }

    sigraw = ovsa_b64_decode_alloc(sig, strlen(sig), 1, &slen);
    if (sigraw == NULL) {
        ovsa_err_set(err, OVSA_E_LIC_SYNTAX, "license: signature: not "
                     "base64url");
        goto end;
    }

    lic->payload = (char *) ovsa_b64_decode_alloc(pay, strlen(pay), 1, &plen);
    if (lic->payload == NULL) {
        ovsa_err_set(err, OVSA_E_LIC_SYNTAX, "license: payload: not "
                     "base64url");
        goto end;
    }

    /* JWS signing input: ASCII(b64url(header) || '.' || b64url(payload)) */
    ilen = strlen(prot) + 1 + strlen(pay);
    input = malloc(ilen + 1);
    if (input == NULL) {
        ovsa_err_set(err, OVSA_E_NOMEM, "license: out of memory");
        goto end;
    }
    snprintf(input, ilen + 1, "%s.%s", prot, pay);

    alg = ovsa_jws_alg(X509_get0_pubkey(lic->signer), lic->alg, err);
    if (alg == NULL) {
        goto end;
    }

    if (ovsa_alg_verify(alg, X509_get0_pubkey(lic->signer), input, ilen,
                        sigraw, slen, OVSA_E_LIC_SIGNATURE, err) != OVSA_OK)
    {
        /* every parse message names the license ("license: signature: ") */
        if (err != NULL) {
            char  m[sizeof(err->msg)];

            snprintf(m, sizeof(m), "%s", err->msg);
            ovsa_err_set(err, err->code, "license: %s", m);
        }
        goto end;
    }

    payload = json_loadb(lic->payload, plen, JSON_REJECT_DUPLICATES, &jerr);
    if (payload == NULL || !json_is_object(payload)
        || strlen(lic->payload) != plen)
    {
        ovsa_err_set(err, OVSA_E_LIC_SYNTAX, "license: payload: not a JSON "
                     "object%s%s", payload ? "" : ": ",
                     payload ? "" : jerr.text);
        goto end;
    }

    if (ovsa_lic_fields(payload, lic, err) != OVSA_OK) {
        goto end;
    }

    /* keep the text without trailing white space */
    while (len > 0 && isspace((unsigned char) text[len - 1])) {
        len--;
    }
    lic->jws = malloc(len + 1);
    if (lic->jws == NULL) {
        ovsa_err_set(err, OVSA_E_NOMEM, "license: out of memory");
        goto end;
    }
    memcpy(lic->jws, text, len);
    lic->jws[len] = '\0';

    *out = lic;
    lic = NULL;
    ret = OVSA_OK;

end:

    ovsa_license_free(lic);
    json_decref(jws);
    json_decref(payload);
    free(sigraw);
    free(input);
    return ret;
}


/* ---- trust and updates */

static int
ovsa_spki_equal(X509 *a, X509 *b)
{
    int             alen, blen, eq;
    unsigned char  *ader, *bder;

    ader = bder = NULL;
    alen = i2d_PUBKEY(X509_get0_pubkey(a), &ader);
    blen = i2d_PUBKEY(X509_get0_pubkey(b), &bder);

    eq = alen > 0 && blen > 0 && alen == blen
         && memcmp(ader, bder, alen) == 0;

    OPENSSL_free(ader);
    OPENSSL_free(bder);
    return eq;
}


int
ovsa_license_trusted(const ovsa_license_t *lic, X509 **isv, int n,
    ovsa_err_t *err)
{
    int   i;
    char  pin[OVSA_PIN_LEN + 1];

    for (i = 0; i < n; i++) {
        if (isv[i] != NULL && ovsa_spki_equal(lic->signer, isv[i])) {
            return OVSA_OK;
        }
    }

    if (ovsa_pin_cert(lic->signer, pin, NULL) != OVSA_OK) {
        strcpy(pin, "?");
    }

    return ovsa_err_set(err, OVSA_E_LIC_ISV, "license %s: signer key %s is "
                        "none of the %d trusted ISV certificates", lic->id,
                        pin, n);
}


int
ovsa_license_check_update(const ovsa_license_t *cur,
    const ovsa_license_t *next, ovsa_err_t *err)
{
    if (strcmp(cur->id, next->id) != 0) {
        return ovsa_err_set(err, OVSA_E_LIC_ID, "license update: id \"%s\" "
                            "is not \"%s\"", next->id, cur->id);
    }

    if (next->version <= cur->version) {
        return ovsa_err_set(err, OVSA_E_LIC_VERSION, "license update %s: "
                            "version %lld is not above %lld", cur->id,
                            (long long) next->version,
                            (long long) cur->version);
    }

    if (!ovsa_spki_equal(cur->signer, next->signer)) {
        return ovsa_err_set(err, OVSA_E_LIC_ISV, "license update %s: signed "
                            "by another ISV key", cur->id);
    }

    return OVSA_OK;
}


/* ---- signing */

int
ovsa_license_sign(const char *payload_json, EVP_PKEY *key, X509 *cert,
    char **out_jws, ovsa_err_t *err)
{
    return ovsa_license_sign_alg(payload_json, key, cert, NULL, out_jws, err);
}


int
ovsa_license_sign_alg(const char *payload_json, EVP_PKEY *key, X509 *cert,
    const char *alg, char **out_jws, ovsa_err_t *err)
{
    int                ret, derlen;
    char              *pay_json, *hdr_json, *prot, *pay, *sig, *input;
    char              *text, *x5c;
    json_t            *payload, *hdr, *jws;
    size_t             ilen, siglen;
    json_error_t       jerr;
    unsigned char     *der, *sigraw;
    ovsa_license_t    *lic;
    const ovsa_alg_t  *jalg;

    ret = OVSA_ERR;
    pay_json = hdr_json = prot = pay = sig = input = text = x5c = NULL;
    payload = hdr = jws = NULL;
    der = sigraw = NULL;
    siglen = 0;
    *out_jws = NULL;

    if (X509_check_private_key(cert, key) != 1) {
        return ovsa_err_ssl(err, OVSA_E_KEY_MISMATCH, "license: sign: the "
                            "key is not the certificate's key");
    }

    if (alg == NULL) {
        alg = ovsa_license_default_alg(key);
        if (alg == NULL) {
            return ovsa_err_set(err, OVSA_E_LIC_ALG, "license: sign: key is "
                                "not RSA >= %d bits, P-256 or Ed25519",
                                OVSA_KEY_RSA_MIN_BITS);
        }
    }

    jalg = ovsa_jws_alg(key, alg, err);
    if (jalg == NULL) {
        return OVSA_ERR;
    }

    payload = json_loads(payload_json, JSON_REJECT_DUPLICATES, &jerr);
    if (payload == NULL || !json_is_object(payload)) {
        ovsa_err_set(err, OVSA_E_LIC_SYNTAX, "license: sign: payload is not "
                     "a JSON object%s%s", payload ? "" : ": ",
                     payload ? "" : jerr.text);
        goto end;
    }

    derlen = i2d_X509(cert, &der);
    if (derlen <= 0) {
        ovsa_err_ssl(err, OVSA_E_PEM, "license: sign: certificate");
        goto end;
    }

    x5c = malloc(4 * ((derlen + 2) / 3) + 1);
    if (x5c == NULL) {
        ovsa_err_set(err, OVSA_E_NOMEM, "license: out of memory");
        goto end;
    }
    ovsa_b64_encode(der, derlen, x5c, 0);

    hdr = json_pack("{s:s, s:s, s:[s]}", "alg", alg, "typ", OVSA_LICENSE_TYP,
                    "x5c", x5c);
    pay_json = json_dumps(payload, JSON_COMPACT | JSON_PRESERVE_ORDER);
    hdr_json = hdr ? json_dumps(hdr, JSON_COMPACT | JSON_PRESERVE_ORDER)
                   : NULL;
    if (pay_json == NULL || hdr_json == NULL
        || (prot = ovsa_b64url_alloc((unsigned char *) hdr_json,
                                      strlen(hdr_json))) == NULL
        || (pay = ovsa_b64url_alloc((unsigned char *) pay_json,
                                     strlen(pay_json))) == NULL)
    {
        ovsa_err_set(err, OVSA_E_NOMEM, "license: out of memory");
        goto end;
    }

    ilen = strlen(prot) + 1 + strlen(pay);
    input = malloc(ilen + 1);
    if (input == NULL) {
        ovsa_err_set(err, OVSA_E_NOMEM, "license: out of memory");
        goto end;
    }
    snprintf(input, ilen + 1, "%s.%s", prot, pay);

    if (ovsa_jws_sign(key, jalg, input, ilen, &sigraw, &siglen, err)
        != OVSA_OK)
    {
        goto end;
    }

    sig = ovsa_b64url_alloc(sigraw, siglen);
    jws = json_pack("{s:s, s:s, s:s}", "protected", prot, "payload", pay,
                    "signature", sig ? sig : "");
    text = jws ? json_dumps(jws, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    if (sig == NULL || text == NULL) {
        ovsa_err_set(err, OVSA_E_NOMEM, "license: out of memory");
        goto end;
    }

    /* never hand out a license that would not parse */
    if (ovsa_license_parse(text, strlen(text), &lic, err) != OVSA_OK) {
        goto end;
    }
    ovsa_license_free(lic);

    *out_jws = text;
    text = NULL;
    ret = OVSA_OK;

end:

    json_decref(payload);
    json_decref(hdr);
    json_decref(jws);
    OPENSSL_free(der);
    free(x5c);
    free(pay_json);
    free(hdr_json);
    free(prot);
    free(pay);
    free(sig);
    free(sigraw);
    free(input);
    free(text);
    return ret;
}


/* ---- the license secret */

int
ovsa_license_secret_new(char out[OVSA_LICENSE_SECRET_LEN + 1],
    ovsa_err_t *err)
{
    unsigned char  raw[OVSA_LICENSE_SECRET_BYTES];

    if (RAND_bytes(raw, sizeof(raw)) != 1) {
        OPENSSL_cleanse(raw, sizeof(raw));
        return ovsa_err_ssl(err, OVSA_E_INTERNAL, "license secret: random "
                            "generator failed");
    }

    ovsa_b64_encode(raw, sizeof(raw), out, 1);
    OPENSSL_cleanse(raw, sizeof(raw));

    return OVSA_OK;
}


int
ovsa_license_secret_hash(const char *s, size_t len, char hex[65],
    ovsa_err_t *err)
{
    size_t          i, n;
    unsigned int    mdlen;
    unsigned char  *raw, md[EVP_MAX_MD_SIZE];

    hex[0] = '\0';

    /* the length first: the decoder never sees a secret of another size */
    raw = NULL;
    n = 0;
    if (len == OVSA_LICENSE_SECRET_LEN) {
        raw = ovsa_b64_decode_alloc(s, len, 1, &n);
    }

    if (raw == NULL || n != OVSA_LICENSE_SECRET_BYTES) {
        if (raw != NULL) {
            OPENSSL_cleanse(raw, n);
            free(raw);
        }
        return ovsa_err_set(err, OVSA_E_LIC_SECRET, "license secret: not %d "
                            "base64url characters (%zu characters given)",
                            OVSA_LICENSE_SECRET_LEN, len);
    }

    OPENSSL_cleanse(raw, n);
    free(raw);

    /* the hash of the 43 ASCII characters, not of the decoded bytes */
    if (EVP_Digest(s, len, md, &mdlen, EVP_sha256(), NULL) != 1
        || mdlen != 32)
    {
        return ovsa_err_ssl(err, OVSA_E_INTERNAL, "license secret: sha256");
    }

    for (i = 0; i < 32; i++) {
        hex[2 * i] = "0123456789abcdef"[md[i] >> 4];
        hex[2 * i + 1] = "0123456789abcdef"[md[i] & 0x0f];
    }
    hex[64] = '\0';

    return OVSA_OK;
}


int
ovsa_license_secret_read(const char *file,
    char out[OVSA_LICENSE_SECRET_LEN + 1], ovsa_err_t *err)
{
    char        *s, hex[65];
    ovsa_err_t   e;

    out[0] = '\0';

    s = ovsa_secret_read_file(file, err);
    if (s == NULL) {
        return OVSA_ERR;
    }

    if (ovsa_license_secret_hash(s, strlen(s), hex, &e) != OVSA_OK) {
        ovsa_secret_free(s);
        return ovsa_err_set(err, e.code, "%s: %s", file, e.msg);
    }

    memcpy(out, s, OVSA_LICENSE_SECRET_LEN + 1);
    ovsa_secret_free(s);

    return OVSA_OK;
}


int
ovsa_license_secret_match(const ovsa_license_t *lic, const char *secret,
    size_t len, ovsa_err_t *err)
{
    char  hex[65];

    if (ovsa_license_secret_hash(secret, len, hex, err) != OVSA_OK) {
        return OVSA_ERR;
    }

    if (lic->secret_sha256[0] == '\0') {
        return ovsa_err_set(err, OVSA_E_LIC_SECRET_MISMATCH, "license %s: "
                            "has no secret", lic->id);
    }

    if (!ovsa_memeq_ct(hex, 64, lic->secret_sha256, 64)) {
        return ovsa_err_set(err, OVSA_E_LIC_SECRET_MISMATCH, "license %s: "
                            "the secret does not match", lic->id);
    }

    return OVSA_OK;
}


/* ---- files */

int
ovsa_license_load_file(const char *path, ovsa_license_t **out,
    ovsa_err_t *err)
{
    int      ret;
    char    *text;
    size_t   len;

    *out = NULL;

    if (ovsa_file_read(path, OVSA_LICENSE_MAX_SIZE, &text, &len, err)
        != OVSA_OK)
    {
        return OVSA_ERR;
    }

    ret = ovsa_license_parse(text, len, out, err);
    if (ret != OVSA_OK && err != NULL) {
        /* prefix the file name, keep the code */
        char    msg[sizeof(err->msg)];
        size_t  n;

        n = strlen(path);
        if (n + 2 < sizeof(msg)) {
            memcpy(msg, path, n);
            memcpy(msg + n, ": ", 2);
            n += 2;
            memcpy(msg + n, err->msg, sizeof(msg) - n - 1);
            msg[sizeof(msg) - 1] = '\0';
            memcpy(err->msg, msg, sizeof(msg));
        }
    }

    free(text);
    return ret;
}


int
ovsa_license_save_file(const char *path, const char *jws, ovsa_err_t *err)
{
    int      ret;
    char    *buf;
    size_t   len;

    len = strlen(jws);
    buf = malloc(len + 2);
    if (buf == NULL) {
        return ovsa_err_set(err, OVSA_E_NOMEM, "license: out of memory");
    }

    memcpy(buf, jws, len);
    buf[len++] = '\n';
    buf[len] = '\0';

    ret = ovsa_file_write(path, buf, len, 0644, OVSA_FILE_KEEPMODE, err);
    free(buf);
    return ret;
}


void
ovsa_license_free(ovsa_license_t *lic)
{
    size_t  i, j;

    if (lic == NULL) {
        return;
    }

    for (i = 0; i < lic->nservers; i++) {
        free(lic->servers[i].url);
        for (j = 0; j < lic->servers[i].npins; j++) {
            free(lic->servers[i].pins[j]);
        }
    }

    free(lic->servers);
    free(lic->id);
    free(lic->customer_name);
    free(lic->customer_cert_sha256);
    free(lic->product);
    free(lic->alg);
    free(lic->jws);
    free(lic->payload);
    X509_free(lic->signer);
    free(lic);
}
