/*
 * ovsatool_license.c: "ovsatool create" (version 1 of a customer license)
 * and "ovsatool updatecustlicense" (the next version, with new server
 * pins).  Both sign with the ISV keystore; the library validates every
 * field before anything is written.  Rules: docs/license-format.md.
 */

#define _GNU_SOURCE            /* strptime */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "ovsa_file.h"
#include "ovsa_license.h"
#include "ovsa_pin.h"
#include "ovsatool.h"


/* ---- create */

enum {
    OPT_KEYSTORE = 1, OPT_PASSIN, OPT_ID, OPT_PRODUCT, OPT_CUSTOMER,
    OPT_CUSTOMER_CERT, OPT_TYPE, OPT_USAGE, OPT_MAX_ACT, OPT_SEATS,
    OPT_LEASE, OPT_HWKEY, OPT_SYNC, OPT_EXPIRES, OPT_SERVER,
    OPT_SERVER_CERT, OPT_OUT, OPT_LICENSE, OPT_UPDATE, OPT_ADD_SERVER,
    OPT_NO_SECRET, OPT_SECRET_OUT, OPT_NEW_SECRET, OPT_DEACT, OPT_DEACT_PERIOD,
    OPT_MAX_BORROW, OPT_MAX_OFFLINE, OPT_PIN_SET, OPT_ADD_PIN, OPT_DROP_PIN
};

/* node-locked defaults: 3 deactivations per 30 days */
#define OVSATOOL_DEACT_DEFAULT         3
#define OVSATOOL_DEACT_PERIOD_DEFAULT  (30 * 86400)

static const ovsa_opt_t ovsatool_create_opts[] = {
    { "keystore", "k", OPT_KEYSTORE, OVSA_OPT_STR, "dir",
      "ISV keystore (isv.key, isv.crt) (required)" },
    { "passin", NULL, OPT_PASSIN, OVSA_OPT_STR, "file:F|env:V|fd:N",
      "Passphrase of an encrypted isv.key" },
    { "id", NULL, OPT_ID, OVSA_OPT_STR, "id",
      "License id, [A-Za-z0-9._-]{1,128} (required)" },
    { "product", NULL, OPT_PRODUCT, OVSA_OPT_STR, "name",
      "Product the license is for (required)" },
    { "customer", NULL, OPT_CUSTOMER, OVSA_OPT_STR, "name",
      "Customer name (required)" },
    { "customer-cert", NULL, OPT_CUSTOMER_CERT, OVSA_OPT_STR, "file",
      "Bind the license to this customer certificate (PEM or DER)" },
    { "no-secret", NULL, OPT_NO_SECRET, OVSA_OPT_FLAG, NULL,
      "No license secret (only with -customer-cert)" },
    { "secret-out", NULL, OPT_SECRET_OUT, OVSA_OPT_STR, "file",
      "License secret file, 0600, never overwritten (default: -out "
      "FILE.secret)" },
    { "type", NULL, OPT_TYPE, OVSA_OPT_STR, "type",
      "perpetual|time-limited|usage-count|node-locked|floating (required)" },
    { "usage", NULL, OPT_USAGE, OVSA_OPT_UINT, "n",
      "Usage count (usage-count licenses)" },
    { "max-activations", NULL, OPT_MAX_ACT, OVSA_OPT_UINT, "n",
      "Hosts that may activate (node-locked licenses)" },
    { "seats", NULL, OPT_SEATS, OVSA_OPT_UINT, "n",
      "Concurrent leases (floating licenses)" },
    { "lease-seconds", NULL, OPT_LEASE, OVSA_OPT_UINT, "n",
      "Lease length, 60..86400 (floating licenses)" },
    { "deactivations", NULL, OPT_DEACT, OVSA_OPT_UINT, "n",
      "Deactivations allowed per -deactivation-period (node-locked "
      "default 3)" },
    { "deactivation-period", NULL, OPT_DEACT_PERIOD, OVSA_OPT_STR, "s|Nd",
      "Seconds or days, 3600..31536000 s (node-locked default 30d)" },
    { "max-borrow", NULL, OPT_MAX_BORROW, OVSA_OPT_STR, "s|Nd",
      "Longest borrow of a seat, 60 s..30d (floating; default: no "
      "borrowing)" },
    { "max-offline", NULL, OPT_MAX_OFFLINE, OVSA_OPT_STR, "s|Nd",
      "How long an offline activation holds, 3600 s..365d (node-locked; "
      "default: no offline activation)" },
    { "require-hardware-key", NULL, OPT_HWKEY, OVSA_OPT_FLAG, NULL,
      "Only hardware-key servers may serve the license" },
    { "sync-interval", NULL, OPT_SYNC, OVSA_OPT_UINT, "s",
      "Seconds between online checks, 300..86400 (default 3600)" },
    { "expires", NULL, OPT_EXPIRES, OVSA_OPT_STR, "date",
      "YYYY-MM-DD (00:00 UTC) or unix seconds (default: never)" },
    { "server", NULL, OPT_SERVER, OVSA_OPT_STR, "url",
      "License server URL (https://host[:port] or host:port), repeatable" },
    { "server-cert", NULL, OPT_SERVER_CERT, OVSA_OPT_STR, "cert",
      "Certificate of the -server before it: its key is pinned; repeat "
      "it (up to 8) to pin a set of keys for that URL (format 2)" },
    { "pin-set", NULL, OPT_PIN_SET, OVSA_OPT_FLAG, NULL,
      "Write format 2 (a set of pins per URL) even with one -server-cert "
      "per -server" },
    { "out", NULL, OPT_OUT, OVSA_OPT_STR, "file",
      "License file to write; never overwritten (required)" },
    { NULL, NULL, 0, 0, NULL, NULL }
};

static const ovsa_opt_prog_t ovsatool_create_prog = {
    "ovsatool create", "-k DIR -id ID -product P -customer NAME -type T "
    "-server URL -server-cert CERT [-server-cert CERT ...] -out FILE "
    "[-secret-out FILE] [options]",
    ovsatool_create_opts,
    NULL, OVSATOOL_EXITS
};


static json_t *
ovsatool_limit(int64_t n)
{
    return n > 0 ? json_integer(n) : json_null();
}


/* -expires: YYYY-MM-DD (00:00 UTC) or unix seconds */
static int
ovsatool_expires(ovsa_opt_state_t *st, int64_t *out)
{
    char        *end;
    struct tm    tm;
    long long    n;
    const char  *v;

    v = st->val;

    if (v[0] != '\0' && strspn(v, "0123456789") == strlen(v)) {
        errno = 0;
        n = strtoll(v, NULL, 10);
        if (errno != 0) {
            ovsatool_usage(st, "-expires %s: out of range", v);
            return OVSA_ERR;
        }
        *out = n;
        return OVSA_OK;
    }

    memset(&tm, 0, sizeof(tm));
    end = strptime(v, "%Y-%m-%d", &tm);
    if (end == NULL || *end != '\0') {
        ovsatool_usage(st, "-expires %s: not YYYY-MM-DD or unix seconds", v);
        return OVSA_ERR;
    }

    *out = (int64_t) timegm(&tm);
    return OVSA_OK;
}


/* -deactivation-period: seconds, or days with a "d" */
static int
ovsatool_period(ovsa_opt_state_t *st, int64_t *out)
{
    size_t       n;
    long long    v;
    const char  *s;

    s = st->val;
    n = strspn(s, "0123456789");

    if (n == 0 || n > 9 || (s[n] != '\0' && strcmp(s + n, "d") != 0)) {
        ovsatool_usage(st, "%s %s: not seconds or a number of days "
                       "(\"30d\")", st->opt, s);
        return OVSA_ERR;
    }

    v = strtoll(s, NULL, 10);
    *out = s[n] == 'd' ? v * 86400 : v;
    return OVSA_OK;
}


/* Writes the license secret and a newline to path: 0600, through a
 * temporary file, never over an existing file. */
static int
ovsatool_secret_save(const char *path, const char *secret, ovsa_err_t *err)
{
    int   rc;
    char  buf[OVSA_LICENSE_SECRET_LEN + 2];

    memcpy(buf, secret, OVSA_LICENSE_SECRET_LEN);
    buf[OVSA_LICENSE_SECRET_LEN] = '\n';
    buf[OVSA_LICENSE_SECRET_LEN + 1] = '\0';

    rc = ovsa_file_write(path, buf, OVSA_LICENSE_SECRET_LEN + 1, 0600,
                         OVSA_FILE_NOCLOBBER, err);
    OPENSSL_cleanse(buf, sizeof(buf));
    return rc;
}


/*
 * Signs payload, checks the result (and that it may follow prev, when
 * given), writes the license secret to secret_out when secret is given,
 * then the license to out.  When the license cannot be written, the new
 * secret file is removed again.
 */
static int
ovsatool_sign_save(const char *cmd, json_t *payload, EVP_PKEY *key,
    X509 *cert, const ovsa_license_t *prev, const char *out,
    const char *secret, const char *secret_out, ovsa_license_t **lic,
    ovsa_err_t *err)
{
    int    ret;
    char  *text, *jws;

    ret = OVSA_ERR;
    jws = NULL;

    text = json_dumps(payload, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (text == NULL) {
        return ovsa_err_set(err, OVSA_E_NOMEM, "%s: out of memory", cmd);
    }

    if (ovsa_license_sign(text, key, cert, &jws, err) != OVSA_OK
        || ovsa_license_parse(jws, strlen(jws), lic, err) != OVSA_OK
        || (prev != NULL
            && ovsa_license_check_update(prev, *lic, err) != OVSA_OK)
        || (secret != NULL
            && ovsatool_secret_save(secret_out, secret, err) != OVSA_OK))
    {
        goto end;
    }

    if (ovsa_license_save_file(out, jws, err) != OVSA_OK) {
        if (secret != NULL) {
            unlink(secret_out);
        }
        goto end;
    }

    ret = OVSA_OK;

end:

    free(text);
    free(jws);
    return ret;
}


int
ovsatool_create_main(void *ctx, int argc, char **argv)
{
    int                ret, o, hwkey, nosecret, pinset, fmt;
    char              *url, *secret_path;
    X509              *cert, *scert, *ccert;
    json_t            *payload, *servers, *cust_hex, *secret_hex, *set;
    size_t             i, j, nsrv, ncert[OVSA_LICENSE_MAX_SERVERS];
    int64_t            usage, maxact, seats, lease, sync, expires;
    int64_t            deact, deact_s, borrow, offline;
    EVP_PKEY          *key;
    ovsa_err_t         err;
    const char        *ks, *passin, *id, *product, *customer, *custcert;
    const char        *type, *out, *srv[OVSA_LICENSE_MAX_SERVERS];
    const char        *srvcert[OVSA_LICENSE_MAX_SERVERS]
                               [OVSA_LICENSE_MAX_PINS + 1];
    const char        *secret_out;
    char               hex[65], pin[OVSA_PIN_LEN + 1];
    char               secret[OVSA_LICENSE_SECRET_LEN + 1];
    ovsa_license_t    *lic;
    ovsa_opt_state_t   st;

    ret = OVSA_EXIT_ERROR;
    key = NULL;
    cert = scert = ccert = NULL;
    payload = secret_hex = NULL;
    lic = NULL;
    url = secret_path = NULL;
    ks = passin = id = product = customer = custcert = type = out = NULL;
    secret_out = NULL;
    usage = maxact = seats = lease = expires = borrow = offline = 0;
    deact = deact_s = -1;
    sync = 3600;
    hwkey = nosecret = pinset = 0;
    nsrv = 0;
    memset(ncert, 0, sizeof(ncert));
    secret[0] = '\0';

    ovsa_opt_init(&st, &ovsatool_create_prog, argc, argv);

    while ((o = ovsatool_opt(&st, 0, &ret)) > 0) {
        switch (o) {
        case OPT_KEYSTORE:      ks = st.val; break;
        case OPT_PASSIN:        passin = st.val; break;
        case OPT_ID:            id = st.val; break;
        case OPT_PRODUCT:       product = st.val; break;
        case OPT_CUSTOMER:      customer = st.val; break;
        case OPT_CUSTOMER_CERT: custcert = st.val; break;
        case OPT_TYPE:          type = st.val; break;
        case OPT_OUT:           out = st.val; break;
        case OPT_HWKEY:         hwkey = 1; break;
        case OPT_USAGE:         usage = st.num; break;
        case OPT_MAX_ACT:       maxact = st.num; break;
        case OPT_SEATS:         seats = st.num; break;
        case OPT_LEASE:         lease = st.num; break;
        case OPT_SYNC:          sync = st.num; break;
        case OPT_NO_SECRET:     nosecret = 1; break;
        case OPT_SECRET_OUT:    secret_out = st.val; break;
        case OPT_DEACT:         deact = st.num; break;
        case OPT_PIN_SET:       pinset = 1; break;
        case OPT_DEACT_PERIOD:
            if (ovsatool_period(&st, &deact_s) != OVSA_OK) {
                ret = OVSA_EXIT_USAGE;
                goto end;
            }
            break;
        case OPT_MAX_BORROW:
        case OPT_MAX_OFFLINE:
            if (ovsatool_period(&st, o == OPT_MAX_BORROW ? &borrow : &offline)
                != OVSA_OK)
            {
                ret = OVSA_EXIT_USAGE;
                goto end;
            }
            break;
        case OPT_EXPIRES:
            if (ovsatool_expires(&st, &expires) != OVSA_OK) {
                ret = OVSA_EXIT_USAGE;
                goto end;
            }
            break;
        case OPT_SERVER:
            if (nsrv > 0 && ncert[nsrv - 1] == 0) {
                ret = ovsatool_usage(&st, "-server %s: the -server before "
                                     "it has no -server-cert", st.val);
                goto end;
            }
            if (nsrv == OVSA_LICENSE_MAX_SERVERS) {
                ret = ovsatool_usage(&st, "more than %d -server",
                                     OVSA_LICENSE_MAX_SERVERS);
                goto end;
            }
            srv[nsrv++] = st.val;
            break;
        case OPT_SERVER_CERT:
            if (nsrv == 0) {
                ret = ovsatool_usage(&st, "-server-cert %s: no -server "
                                     "before it", st.val);
                goto end;
            }
            /* one more than the set may hold: the library refuses it
             * with OVSA_E_LIC_PIN_SET, as it would in any license */
            if (ncert[nsrv - 1] == OVSA_LICENSE_MAX_PINS + 1) {
                ret = ovsatool_usage(&st, "-server %s: more than %d "
                                     "-server-cert", srv[nsrv - 1],
                                     OVSA_LICENSE_MAX_PINS);
                goto end;
            }
            srvcert[nsrv - 1][ncert[nsrv - 1]++] = st.val;
            break;
        }
    }

    if (o < 0) {
        goto end;
    }

    if (ks == NULL || id == NULL || product == NULL || customer == NULL
        || type == NULL || out == NULL || nsrv == 0)
    {
        ret = ovsatool_usage(&st, "-k, -id, -product, -customer, -type, "
                             "-server and -out are required");
        goto end;
    }

    if (ncert[nsrv - 1] == 0) {
        ret = ovsatool_usage(&st, "-server %s has no -server-cert",
                             srv[nsrv - 1]);
        goto end;
    }

    /* format 2 when a URL pins several keys (or when asked to) */
    fmt = pinset ? OVSA_LICENSE_FORMAT_SET : OVSA_LICENSE_FORMAT;
    for (i = 0; i < nsrv; i++) {
        if (ncert[i] > 1) {
            fmt = OVSA_LICENSE_FORMAT_SET;
        }
    }

    if (nosecret && secret_out != NULL) {
        ret = ovsatool_usage(&st, "-secret-out and -no-secret exclude each "
                             "other");
        goto end;
    }

    if (nosecret && custcert == NULL) {
        ovsa_err_set(&err, OVSA_E_LIC_CREDENTIAL, "create: -no-secret needs "
                     "-customer-cert: a license that neither a secret nor a "
                     "certificate protects could be used by anyone who "
                     "knows its id");
        goto fail;
    }

    if (!nosecret && secret_out == NULL) {
        secret_path = malloc(strlen(out) + sizeof(".secret"));
        if (secret_path == NULL) {
            ovsa_err_set(&err, OVSA_E_NOMEM, "create: out of memory");
            goto fail;
        }
        sprintf(secret_path, "%s.secret", out);
        secret_out = secret_path;
    }

    /* node-locked: 3 deactivations per 30 days unless told otherwise */
    if (strcmp(type, "node-locked") == 0) {
        if (deact < 0) {
            deact = OVSATOOL_DEACT_DEFAULT;
        }
        if (deact_s < 0) {
            deact_s = OVSATOOL_DEACT_PERIOD_DEFAULT;
        }
    }

    if (access(out, F_OK) == 0) {
        ovsa_err_set(&err, OVSA_E_IO, "create: %s exists, not overwritten",
                     out);
        goto fail;
    }

    if (secret_out != NULL && access(secret_out, F_OK) == 0) {
        ovsa_err_set(&err, OVSA_E_IO, "create: %s exists, not overwritten "
                     "(the secret of another license?)", secret_out);
        goto fail;
    }

    secret_hex = json_null();
    if (!nosecret) {
        if (ovsa_license_secret_new(secret, &err) != OVSA_OK
            || ovsa_license_secret_hash(secret, OVSA_LICENSE_SECRET_LEN, hex,
                                        &err) != OVSA_OK)
        {
            goto fail;
        }
        json_decref(secret_hex);
        secret_hex = json_string(hex);
    }

    if (ovsatool_keystore_load(ks, passin, &key, &cert, &err) != OVSA_OK) {
        goto fail;
    }

    cust_hex = json_null();
    if (custcert != NULL) {
        if (ovsatool_load_cert(custcert, &ccert, &err) != OVSA_OK
            || ovsatool_cert_sha256(ccert, hex, &err) != OVSA_OK)
        {
            json_decref(cust_hex);
            goto fail;
        }
        json_decref(cust_hex);
        cust_hex = json_string(hex);
    }

    servers = json_array();
    payload = json_pack("{s:i, s:s, s:i, s:I, s:{s:s, s:o, s:O}, s:s, s:s,"
                        " s:{s:o, s:o, s:o, s:o, s:o, s:o}, s:b, s:I, s:o,"
                        " s:o}",
                        "ovsa", fmt, "license_id", id,
                        "version", 1, "issued_at", (json_int_t) time(NULL),
                        "customer", "name", customer, "cert_sha256", cust_hex,
                        "secret_sha256", secret_hex,
                        "product", product, "type", type,
                        "limits", "usage", ovsatool_limit(usage),
                        "max_activations", ovsatool_limit(maxact),
                        "seats", ovsatool_limit(seats),
                        "lease_seconds", ovsatool_limit(lease),
                        "deactivations", deact >= 0 ? json_integer(deact)
                                                    : json_null(),
                        "deactivation_period",
                        deact_s >= 0 ? json_integer(deact_s) : json_null(),
                        "require_hardware_key", hwkey,
                        "sync_interval", (json_int_t) sync,
                        "expires_at", ovsatool_limit(expires),
                        "servers", servers);
    if (payload == NULL) {
        ovsa_err_set(&err, OVSA_E_INTERNAL, "create: payload (bad UTF-8 in "
                     "an argument?)");
        goto fail;
    }

    /* optional limits: written only when given (older readers) */
    if (borrow > 0) {
        json_object_set_new(json_object_get(payload, "limits"), "max_borrow",
                            json_integer(borrow));
    }
    if (offline > 0) {
        json_object_set_new(json_object_get(payload, "limits"),
                            "max_offline", json_integer(offline));
    }

    for (i = 0; i < nsrv; i++) {
        url = ovsatool_server_url(srv[i]);
        if (url == NULL) {
            ovsa_err_set(&err, OVSA_E_LIC_URL, "create: -server %s: not a "
                         "URL", srv[i]);
            goto fail;
        }

        set = json_array();
        for (j = 0; j < ncert[i]; j++) {
            if (ovsatool_load_cert(srvcert[i][j], &scert, &err) != OVSA_OK
                || ovsa_pin_cert(scert, pin, &err) != OVSA_OK)
            {
                json_decref(set);
                goto fail;
            }
            json_array_append_new(set, json_string(pin));
            X509_free(scert);
            scert = NULL;
        }

        if (fmt == OVSA_LICENSE_FORMAT_SET) {
            json_array_append_new(servers, json_pack("{s:s, s:o}", "url", url,
                                                     "pins", set));
        } else {
            json_array_append_new(servers,
                                  json_pack("{s:s, s:{s:O, s:n}}", "url",
                                            url, "pins", "current",
                                            json_array_get(set, 0),
                                            "future"));
            json_decref(set);
        }
        free(url);
        url = NULL;
    }

    if (ovsatool_sign_save(argv[0], payload, key, cert, NULL, out,
                           nosecret ? NULL : secret, secret_out, &lic, &err)
        != OVSA_OK)
    {
        goto fail;
    }

    printf("%s: license %s version 1 (%s, %s), %zu server%s\n", out,
           lic->id, ovsa_license_type_name(lic->type), lic->alg,
           lic->nservers, lic->nservers == 1 ? "" : "s");
    if (!nosecret) {
        printf("%s: license secret (0600; give it to the customer, the "
               "license carries only its sha256 %s)\n", secret_out,
               lic->secret_sha256);
    }
    ret = OVSA_EXIT_OK;
    goto end;

fail:

    ovsatool_fail(argv[0], &err);

end:

    OPENSSL_cleanse(secret, sizeof(secret));
    free(url);
    free(secret_path);
    json_decref(secret_hex);
    json_decref(payload);
    ovsa_license_free(lic);
    EVP_PKEY_free(key);
    X509_free(cert);
    X509_free(scert);
    X509_free(ccert);
    return ret;
}


/* ---- updatecustlicense */

static const ovsa_opt_t ovsatool_update_opts[] = {
    { "keystore", "k", OPT_KEYSTORE, OVSA_OPT_STR, "dir",
      "ISV keystore that signed the license (required)" },
    { "passin", NULL, OPT_PASSIN, OVSA_OPT_STR, "file:F|env:V|fd:N",
      "Passphrase of an encrypted isv.key" },
    { "license", "l", OPT_LICENSE, OVSA_OPT_STR, "file",
      "Current license (required)" },
    { "customer-cert", "p", OPT_CUSTOMER_CERT, OVSA_OPT_STR, "file",
      "Customer certificate: binds an unbound license, must match a bound "
      "one" },
    { "server", "u", OPT_UPDATE, OVSA_OPT_PAIR, "url cert",
      "Server URL and its future certificate, repeatable (format 1: "
      "current/future rotation; format 2: as -add-pin)" },
    { "add-pin", NULL, OPT_ADD_PIN, OVSA_OPT_PAIR, "url cert",
      "Add the key of cert to the URL's pin set (up to 8), repeatable; "
      "makes a format 1 license format 2" },
    { "drop-pin", NULL, OPT_DROP_PIN, OVSA_OPT_PAIR, "url cert|pin",
      "Remove a key (a certificate, or its sha256// pin) from the URL's "
      "pin set, repeatable; applied after every -u and -add-pin" },
    { "add-server", NULL, OPT_ADD_SERVER, OVSA_OPT_FLAG, NULL,
      "A -u or -add-pin URL not in the license is added with that key" },
    { "out", "c", OPT_OUT, OVSA_OPT_STR, "file",
      "New license file (required; may be the -l file)" },
    { "new-secret", NULL, OPT_NEW_SECRET, OVSA_OPT_FLAG, NULL,
      "Replace the license secret (a leaked one) with a new one; needs "
      "-secret-out" },
    { "secret-out", NULL, OPT_SECRET_OUT, OVSA_OPT_STR, "file",
      "File for the new secret, 0600, never overwritten" },
    { NULL, NULL, 0, 0, NULL, NULL }
};

static const ovsa_opt_prog_t ovsatool_update_prog = {
    "ovsatool updatecustlicense", "-k DIR -l OLD.lic [-p CUSTOMER_CERT] "
    "{-u URL FUTURE_CERT | -add-pin URL CERT | -drop-pin URL CERT|PIN | "
    "-new-secret -secret-out FILE} -c NEW.lic [options]",
    ovsatool_update_opts, NULL, OVSATOOL_EXITS
};


/* Index of the server whose normalized URL is url, or -1. */
static int
ovsatool_find_server(json_t *servers, const char *url)
{
    int          found;
    char        *norm;
    size_t       i;
    const char  *s;

    found = -1;
    for (i = 0; found < 0 && i < json_array_size(servers); i++) {
        s = json_string_value(json_object_get(json_array_get(servers, i),
                                              "url"));
        norm = s ? ovsatool_server_url(s) : NULL;
        if (norm != NULL && strcmp(norm, url) == 0) {
            found = (int) i;
        }
        free(norm);
    }

    return found;
}


/*
 * The pin rules, for one server: the new pin is the current one: nothing
 * changes; it is already the future one: nothing changes; there is another
 * future pin: that one becomes current and the new one future (rotation);
 * there is none: the new one becomes future.
 */
static const char *
ovsatool_move_pins(json_t *pins, const char *pin)
{
    json_t      *cur, *fut;

    cur = json_object_get(pins, "current");
    fut = json_object_get(pins, "future");

    if (json_is_string(cur) && strcmp(json_string_value(cur), pin) == 0) {
        return "unchanged (already current)";
    }

    if (json_is_string(fut) && strcmp(json_string_value(fut), pin) == 0) {
        return "unchanged (already future)";
    }

    if (json_is_string(fut)) {
        json_object_set(pins, "current", fut);
        json_object_set_new(pins, "future", json_string(pin));
        return "rotated: old future is current, new future added";
    }

    json_object_set_new(pins, "future", json_string(pin));
    return "future added";
}


/* What one -u, -add-pin or -drop-pin asks for. */
typedef struct {
    int          opt;              /* OPT_UPDATE, OPT_ADD_PIN, OPT_DROP_PIN */
    const char  *arg;              /* the URL as given */
    const char  *key;              /* certificate file, or a pin (drop) */
    char        *url;              /* normalized */
    const char  *what;             /* what was done, for the report */
} ovsatool_pin_op_t;

#define OVSATOOL_PIN_OPS  (2 * OVSA_LICENSE_MAX_SERVERS \
                           * OVSA_LICENSE_MAX_PINS)


/* Format 1 to format 2: each {"current", "future"} becomes the set
 * [current, future] (future left out when null or equal to current). */
static void
ovsatool_to_pin_sets(json_t *payload)
{
    size_t   i;
    json_t  *servers, *srv, *pins, *cur, *fut, *set;

    servers = json_object_get(payload, "servers");
    for (i = 0; i < json_array_size(servers); i++) {
        srv = json_array_get(servers, i);
        pins = json_object_get(srv, "pins");
        cur = json_object_get(pins, "current");
        fut = json_object_get(pins, "future");
        set = json_array();
        json_array_append(set, cur);
        if (json_is_string(fut) && !json_equal(fut, cur)) {
            json_array_append(set, fut);
        }
        json_object_set_new(srv, "pins", set);
    }

    json_object_set_new(payload, "ovsa",
                        json_integer(OVSA_LICENSE_FORMAT_SET));
}


/* Index of pin in the array set, or -1. */
static int
ovsatool_set_find(json_t *set, const char *pin)
{
    size_t       i;
    const char  *s;

    for (i = 0; i < json_array_size(set); i++) {
        s = json_string_value(json_array_get(set, i));
        if (s != NULL && strcmp(s, pin) == 0) {
            return (int) i;
        }
    }

    return -1;
}


/* The pin a -drop-pin names: a "sha256//" pin as is, else a cert file. */
static int
ovsatool_drop_key(const char *key, char *pin, ovsa_err_t *err)
{
    int    rc;
    X509  *x;

    if (strncmp(key, OVSA_PIN_PREFIX, sizeof(OVSA_PIN_PREFIX) - 1) == 0) {
        if (!ovsa_pin_valid(key)) {
            return ovsa_err_set(err, OVSA_E_LIC_PIN, "updatecustlicense: "
                                "-drop-pin %s: not \"sha256//\" followed by "
                                "44 base64 characters", key);
        }
        strcpy(pin, key);
        return OVSA_OK;
    }

    x = NULL;
    rc = ovsatool_load_cert(key, &x, err) == OVSA_OK
         ? ovsa_pin_cert(x, pin, err) : OVSA_ERR;
    X509_free(x);
    return rc;
}


/*
 * Applies one pin operation to payload (format 2 for -add-pin and
 * -drop-pin, either format for -u).  Sets op->what, or err.
 */
static int
ovsatool_pin_op(json_t *payload, ovsatool_pin_op_t *op, int add,
    const char *lfile, ovsa_err_t *err)
{
    int          idx, at, v2;
    X509        *x;
    json_t      *servers, *srv, *set;
    char         pin[OVSA_PIN_LEN + 1];

    op->url = ovsatool_server_url(op->arg);
    if (op->url == NULL) {
        return ovsa_err_set(err, OVSA_E_LIC_URL, "updatecustlicense: %s: "
                            "not a URL", op->arg);
    }

    if (op->opt == OPT_DROP_PIN) {
        if (ovsatool_drop_key(op->key, pin, err) != OVSA_OK) {
            return OVSA_ERR;
        }

    } else {
        x = NULL;
        if (ovsatool_load_cert(op->key, &x, err) != OVSA_OK
            || ovsa_pin_cert(x, pin, err) != OVSA_OK)
        {
            X509_free(x);
            return OVSA_ERR;
        }
        X509_free(x);
    }

    v2 = json_integer_value(json_object_get(payload, "ovsa"))
         == OVSA_LICENSE_FORMAT_SET;
    servers = json_object_get(payload, "servers");
    idx = ovsatool_find_server(servers, op->url);

    if (idx < 0 && (op->opt == OPT_DROP_PIN || !add)) {
        return ovsa_err_set(err, OVSA_E_LIC_SERVER, "updatecustlicense: %s: "
                            "no such server in %s%s", op->url, lfile,
                            op->opt == OPT_DROP_PIN
                            ? "" : " (use -add-server to add it)");
    }

    if (idx < 0) {
        json_array_append_new(servers, v2
                              ? json_pack("{s:s, s:[s]}", "url", op->url,
                                          "pins", pin)
                              : json_pack("{s:s, s:{s:s, s:n}}", "url",
                                          op->url, "pins", "current", pin,
                                          "future"));
        op->what = v2 ? "added, its key is the only one of its set"
                      : "added, certificate pinned as current";
        return OVSA_OK;
    }

    srv = json_array_get(servers, idx);

    if (!v2) {
        op->what = ovsatool_move_pins(json_object_get(srv, "pins"), pin);
        return OVSA_OK;
    }

    set = json_object_get(srv, "pins");
    at = ovsatool_set_find(set, pin);

    if (op->opt != OPT_DROP_PIN) {
        if (at >= 0) {
            op->what = "unchanged (already in the pin set)";
            return OVSA_OK;
        }
        /* a ninth key: the library refuses the set (OVSA_E_LIC_PIN_SET) */
        json_array_append_new(set, json_string(pin));
        op->what = "key added to the pin set";
        return OVSA_OK;
    }

    if (at < 0) {
        return ovsa_err_set(err, OVSA_E_LIC_PIN_SET, "updatecustlicense: "
                            "-drop-pin %s: %s is not in the pin set of "
                            "that server", op->url, pin);
    }

    if (json_array_size(set) == 1) {
        return ovsa_err_set(err, OVSA_E_LIC_PIN_SET, "updatecustlicense: "
                            "-drop-pin %s: %s is the last key of that "
                            "server's pin set; a URL needs at least one",
                            op->url, pin);
    }

    json_array_remove(set, at);
    op->what = "key removed from the pin set";
    return OVSA_OK;
}


int
ovsatool_update_main(void *ctx, int argc, char **argv)
{
    int                ret, o, add, newsecret, sets, pass;
    X509              *cert, *ccert, *isv[1];
    json_t            *payload, *old_hex;
    size_t             i, nops;
    EVP_PKEY          *key;
    ovsa_err_t         err;
    json_error_t       jerr;
    const char        *ks, *passin, *lfile, *custcert, *out, *secret_out;
    char               hex[65];
    char               secret[OVSA_LICENSE_SECRET_LEN + 1];
    ovsa_license_t    *old, *lic;
    ovsa_opt_state_t   st;
    ovsatool_pin_op_t  ops[OVSATOOL_PIN_OPS];

    ret = OVSA_EXIT_ERROR;
    key = NULL;
    cert = ccert = NULL;
    payload = NULL;
    old = lic = NULL;
    ks = passin = lfile = custcert = out = secret_out = NULL;
    add = newsecret = sets = 0;
    secret[0] = '\0';
    nops = 0;
    memset(ops, 0, sizeof(ops));

    ovsa_opt_init(&st, &ovsatool_update_prog, argc, argv);

    while ((o = ovsatool_opt(&st, 0, &ret)) > 0) {
        switch (o) {
        case OPT_KEYSTORE:      ks = st.val; break;
        case OPT_PASSIN:        passin = st.val; break;
        case OPT_LICENSE:       lfile = st.val; break;
        case OPT_CUSTOMER_CERT: custcert = st.val; break;
        case OPT_OUT:           out = st.val; break;
        case OPT_ADD_SERVER:    add = 1; break;
        case OPT_NEW_SECRET:    newsecret = 1; break;
        case OPT_SECRET_OUT:    secret_out = st.val; break;
        case OPT_UPDATE:
        case OPT_ADD_PIN:
        case OPT_DROP_PIN:
            if (nops == OVSATOOL_PIN_OPS) {
                ret = ovsatool_usage(&st, "more than %d -u, -add-pin and "
                                     "-drop-pin", OVSATOOL_PIN_OPS);
                goto end;
            }
            sets |= o != OPT_UPDATE;
            ops[nops].opt = o;
            ops[nops].arg = st.val;
            ops[nops++].key = st.val2;
            break;
        }
    }

    if (o < 0) {
        goto end;
    }

    if (ks == NULL || lfile == NULL || out == NULL
        || (nops == 0 && !newsecret))
    {
        ret = ovsatool_usage(&st, "-k, -l, -c and -u URL CERT (or "
                             "-add-pin, -drop-pin, -new-secret) are "
                             "required");
        goto end;
    }

    if (newsecret != (secret_out != NULL)) {
        ret = ovsatool_usage(&st, "-new-secret and -secret-out FILE go "
                             "together");
        goto end;
    }

    if (secret_out != NULL && access(secret_out, F_OK) == 0) {
        ovsa_err_set(&err, OVSA_E_IO, "updatecustlicense: %s exists, not "
                     "overwritten", secret_out);
        goto fail;
    }

    if (ovsa_license_load_file(lfile, &old, &err) != OVSA_OK
        || ovsatool_keystore_load(ks, passin, &key, &cert, &err) != OVSA_OK)
    {
        goto fail;
    }

    isv[0] = cert;
    if (ovsa_license_trusted(old, isv, 1, &err) != OVSA_OK) {
        ovsa_err_set(&err, OVSA_E_LIC_ISV, "updatecustlicense: %s was not "
                     "signed by the keystore %s", lfile, ks);
        goto fail;
    }

    payload = json_loads(old->payload, JSON_REJECT_DUPLICATES, &jerr);
    if (payload == NULL) {
        ovsa_err_set(&err, OVSA_E_INTERNAL, "updatecustlicense: payload: %s",
                     jerr.text);
        goto fail;
    }

    if (custcert != NULL) {
        if (ovsatool_load_cert(custcert, &ccert, &err) != OVSA_OK
            || ovsatool_cert_sha256(ccert, hex, &err) != OVSA_OK)
        {
            goto fail;
        }

        old_hex = json_object_get(json_object_get(payload, "customer"),
                                  "cert_sha256");
        if (json_is_string(old_hex)
            && strcmp(json_string_value(old_hex), hex) != 0)
        {
            ovsa_err_set(&err, OVSA_E_CUSTOMER_CERT, "updatecustlicense: "
                         "%s: the license is bound to customer certificate "
                         "sha256 %s, not %s", custcert,
                         json_string_value(old_hex), hex);
            goto fail;
        }

        json_object_set_new(json_object_get(payload, "customer"),
                            "cert_sha256", json_string(hex));
    }

    /* -add-pin and -drop-pin work on sets: a format 1 license becomes
     * format 2 (which clients before format 2 cannot read) */
    if (sets && old->format == OVSA_LICENSE_FORMAT) {
        ovsatool_to_pin_sets(payload);
    }

    /* -u and -add-pin first, then -drop-pin: "-add-pin URL NEW -drop-pin
     * URL OLD" replaces one key of a set in one version */
    for (pass = 0; pass < 2; pass++) {
        for (i = 0; i < nops; i++) {
            if ((ops[i].opt == OPT_DROP_PIN) != pass) {
                continue;
            }
            if (ovsatool_pin_op(payload, &ops[i], add, lfile, &err)
                != OVSA_OK)
            {
                goto fail;
            }
        }
    }

    /* secret_sha256 and the deactivation limits are kept, unless the
     * secret is replaced */
    if (newsecret) {
        if (ovsa_license_secret_new(secret, &err) != OVSA_OK
            || ovsa_license_secret_hash(secret, OVSA_LICENSE_SECRET_LEN, hex,
                                        &err) != OVSA_OK)
        {
            goto fail;
        }
        json_object_set_new(json_object_get(payload, "customer"),
                            "secret_sha256", json_string(hex));
    }

    json_object_set_new(payload, "version",
                        json_integer(old->version + 1));
    json_object_set_new(payload, "issued_at",
                        json_integer((json_int_t) time(NULL)));

    if (ovsatool_sign_save(argv[0], payload, key, cert, old, out,
                           newsecret ? secret : NULL, secret_out, &lic, &err)
        != OVSA_OK)
    {
        goto fail;
    }

    printf("%s: license %s version %lld (was %lld)%s\n", out, lic->id,
           (long long) lic->version, (long long) old->version,
           lic->format != old->format
           ? ", now format 2 (a pin set per URL)" : "");
    for (i = 0; i < nops; i++) {
        printf("  %s: %s\n", ops[i].url, ops[i].what);
    }
    if (newsecret) {
        printf("%s: new license secret (0600; the old one no longer works "
               "once this version is imported; sha256 %s)\n", secret_out,
               lic->secret_sha256);
    }
    ret = OVSA_EXIT_OK;
    goto end;

fail:

    ovsatool_fail(argv[0], &err);

end:

    OPENSSL_cleanse(secret, sizeof(secret));
    for (i = 0; i < nops; i++) {
        free(ops[i].url);
    }
    json_decref(payload);
    ovsa_license_free(old);
    ovsa_license_free(lic);
    EVP_PKEY_free(key);
    X509_free(cert);
    X509_free(ccert);
    return ret;
}
