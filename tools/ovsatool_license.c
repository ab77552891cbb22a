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
    OPT_MAX_BORROW, OPT_MAX_OFFLINE
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
      "Certificate of the -server before it: its key is pinned" },
    { "out", NULL, OPT_OUT, OVSA_OPT_STR, "file",
      "License file to write; never overwritten (required)" },
    { NULL, NULL, 0, 0, NULL, NULL }
};

static const ovsa_opt_prog_t ovsatool_create_prog = {
    "ovsatool create", "-k DIR -id ID -product P -customer NAME -type T "
    "-server URL -server-cert CERT -out FILE [-secret-out FILE] [options]",
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
    int                ret, o, hwkey, nosecret;
    char              *url, *secret_path;
    X509              *cert, *scert, *ccert;
    json_t            *payload, *servers, *cust_hex, *secret_hex;
    size_t             i, nsrv, ncert;
    int64_t            usage, maxact, seats, lease, sync, expires;
    int64_t            deact, deact_s, borrow, offline;
    EVP_PKEY          *key;
    ovsa_err_t         err;
    const char        *ks, *passin, *id, *product, *customer, *custcert;
    const char        *type, *out, *srv[OVSA_LICENSE_MAX_SERVERS];
    const char        *srvcert[OVSA_LICENSE_MAX_SERVERS], *secret_out;
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
    hwkey = nosecret = 0;
    nsrv = ncert = 0;
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
            if (nsrv != ncert) {
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
            if (ncert + 1 != nsrv) {
                ret = ovsatool_usage(&st, "-server-cert %s: no -server "
                                     "before it", st.val);
                goto end;
            }
            srvcert[ncert++] = st.val;
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

    if (ncert != nsrv) {
        ret = ovsatool_usage(&st, "-server %s has no -server-cert",
                             srv[nsrv - 1]);
        goto end;
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
                        "ovsa", OVSA_LICENSE_FORMAT, "license_id", id,
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

        if (ovsatool_load_cert(srvcert[i], &scert, &err) != OVSA_OK
            || ovsa_pin_cert(scert, pin, &err) != OVSA_OK)
        {
            goto fail;
        }

        json_array_append_new(servers, json_pack("{s:s, s:{s:s, s:n}}",
                                                 "url", url, "pins",
                                                 "current", pin, "future"));
        X509_free(scert);
        scert = NULL;
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
      "Server URL and its future certificate, repeatable (required)" },
    { "add-server", NULL, OPT_ADD_SERVER, OVSA_OPT_FLAG, NULL,
      "A -u URL not in the license is added (cert pinned as current)" },
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
    "{-u URL FUTURE_CERT | -new-secret -secret-out FILE} -c NEW.lic "
    "[options]", ovsatool_update_opts, NULL, OVSATOOL_EXITS
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


int
ovsatool_update_main(void *ctx, int argc, char **argv)
{
    int                ret, o, add, idx, newsecret;
    X509              *cert, *scert, *ccert, *isv[1];
    json_t            *payload, *servers, *pins, *old_hex;
    size_t             i, nsrv;
    EVP_PKEY          *key;
    ovsa_err_t         err;
    json_error_t       jerr;
    const char        *ks, *passin, *lfile, *custcert, *out, *secret_out;
    const char        *srv[OVSA_LICENSE_MAX_SERVERS];
    const char        *srvcert[OVSA_LICENSE_MAX_SERVERS];
    const char        *what[OVSA_LICENSE_MAX_SERVERS];
    char              *urls[OVSA_LICENSE_MAX_SERVERS];
    char               hex[65], pin[OVSA_PIN_LEN + 1];
    char               secret[OVSA_LICENSE_SECRET_LEN + 1];
    ovsa_license_t    *old, *lic;
    ovsa_opt_state_t   st;

    ret = OVSA_EXIT_ERROR;
    key = NULL;
    cert = scert = ccert = NULL;
    payload = NULL;
    old = lic = NULL;
    ks = passin = lfile = custcert = out = secret_out = NULL;
    add = newsecret = 0;
    secret[0] = '\0';
    nsrv = 0;
    memset(urls, 0, sizeof(urls));

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
            if (nsrv == OVSA_LICENSE_MAX_SERVERS) {
                ret = ovsatool_usage(&st, "more than %d -u",
                                     OVSA_LICENSE_MAX_SERVERS);
                goto end;
            }
            srv[nsrv] = st.val;
            srvcert[nsrv++] = st.val2;
            break;
        }
    }

    if (o < 0) {
        goto end;
    }

    if (ks == NULL || lfile == NULL || out == NULL
        || (nsrv == 0 && !newsecret))
    {
        ret = ovsatool_usage(&st, "-k, -l, -c and -u URL CERT (or "
                             "-new-secret) are required");
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

    servers = json_object_get(payload, "servers");

    for (i = 0; i < nsrv; i++) {
        urls[i] = ovsatool_server_url(srv[i]);
        if (urls[i] == NULL) {
            ovsa_err_set(&err, OVSA_E_LIC_URL, "updatecustlicense: -u %s: "
                         "not a URL", srv[i]);
            goto fail;
        }

        if (ovsatool_load_cert(srvcert[i], &scert, &err) != OVSA_OK
            || ovsa_pin_cert(scert, pin, &err) != OVSA_OK)
        {
            goto fail;
        }
        X509_free(scert);
        scert = NULL;

        idx = ovsatool_find_server(servers, urls[i]);
        if (idx < 0 && !add) {
            ovsa_err_set(&err, OVSA_E_LIC_SERVER, "updatecustlicense: -u "
                         "%s: no such server in %s (use -add-server to add "
                         "it)", urls[i], lfile);
            goto fail;
        }

        if (idx < 0) {
            json_array_append_new(servers,
                                  json_pack("{s:s, s:{s:s, s:n}}", "url",
                                            urls[i], "pins", "current", pin,
                                            "future"));
            what[i] = "added, certificate pinned as current";
            continue;
        }

        pins = json_object_get(json_array_get(servers, idx), "pins");
        what[i] = ovsatool_move_pins(pins, pin);
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

    printf("%s: license %s version %lld (was %lld)\n", out, lic->id,
           (long long) lic->version, (long long) old->version);
    for (i = 0; i < nsrv; i++) {
        printf("  %s: %s\n", urls[i], what[i]);
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
    for (i = 0; i < OVSA_LICENSE_MAX_SERVERS; i++) {
        free(urls[i]);
    }
    json_decref(payload);
    ovsa_license_free(old);
    ovsa_license_free(lic);
    EVP_PKEY_free(key);
    X509_free(cert);
    X509_free(scert);
    X509_free(ccert);
    return ret;
}
