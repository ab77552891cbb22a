/*
 * license.c: verify a customer license for import (see license.h).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/x509.h>

#include "license.h"
#include "ovsa_pin.h"
#include "ovsa_x509.h"

struct ovsa_isv_s {
    X509  **certs;
    int     n;
};


int
ovsa_isv_load(const ovsa_conf_t *conf, ovsa_isv_t **out, ovsa_err_t *err)
{
    int          i;
    ovsa_isv_t  *isv;

    isv = calloc(1, sizeof(*isv));
    if (isv == NULL
        || (isv->certs = calloc(conf->n_isv_certs + 1, sizeof(X509 *)))
           == NULL)
    {
        free(isv);
        return ovsa_err_set(err, OVSA_E_NOMEM, "isv certs: no memory");
    }

    for (i = 0; i < conf->n_isv_certs; i++) {
        if (ovsa_cert_load(conf->isv_certs[i], &isv->certs[i], err)
            != OVSA_OK)
        {
            ovsa_isv_free(isv);
            return OVSA_ERR;
        }
        isv->n++;
    }

    *out = isv;

    return OVSA_OK;
}


void
ovsa_isv_free(ovsa_isv_t *isv)
{
    int  i;

    if (isv == NULL) {
        return;
    }

    for (i = 0; i < isv->n; i++) {
        X509_free(isv->certs[i]);
    }

    free(isv->certs);
    free(isv);
}


int
ovsa_import_verify(const ovsa_isv_t *isv, const char *text, size_t len,
    ovsa_import_t *imp, const char **answer, ovsa_err_t *err)
{
    int            ret;
    json_t        *jws;
    json_error_t   jerr;

    ret = OVSA_ERR;
    jws = NULL;
    memset(imp, 0, sizeof(*imp));
    *answer = "LICENSE_INVALID";

    if (ovsa_license_parse(text, len, &imp->lic, err) != OVSA_OK) {
        goto end;
    }

    if (ovsa_license_trusted(imp->lic, isv->certs, isv->n, err) != OVSA_OK) {
        *answer = "LICENSE_UNTRUSTED";
        goto end;
    }

    /* stored compact: a check answer embeds it as a JSON object */
    jws = json_loads(imp->lic->jws, 0, &jerr);
    if (jws == NULL) {
        ovsa_err_set(err, OVSA_E_LIC_SYNTAX, "license: %s", jerr.text);
        goto end;
    }

    imp->jws = json_dumps(jws, JSON_COMPACT);
    if (imp->jws == NULL) {
        ovsa_err_set(err, OVSA_E_NOMEM, "license: no memory");
        goto end;
    }

    ret = ovsa_import_record(imp, err);

end:

    if (ret != OVSA_OK) {
        ovsa_import_free(imp);
    }

    json_decref(jws);

    return ret;
}


/* Appends one field/value pair to the import arguments. */
static void
ovsa_import_arg(ovsa_import_t *imp, const char *field, const char *value)
{
    imp->args[imp->nargs++] = field;
    imp->args[imp->nargs++] = value;
}


/* Appends a field whose value is a number, formatted into imp->num. */
static void
ovsa_import_num(ovsa_import_t *imp, int *k, const char *field, int64_t v)
{
    snprintf(imp->num[*k], sizeof(imp->num[0]), "%lld", (long long) v);
    ovsa_import_arg(imp, field, imp->num[(*k)++]);
}


/* The same for a value that may be null (-1): "" in the record. */
static void
ovsa_import_opt(ovsa_import_t *imp, int *k, const char *field, long v)
{
    if (v < 0) {
        ovsa_import_arg(imp, field, "");
        return;
    }

    ovsa_import_num(imp, k, field, v);
}


int
ovsa_import_record(ovsa_import_t *imp, ovsa_err_t *err)
{
    int                     k;
    char                   *p;
    size_t                  i, j;
    const ovsa_license_t   *lic;
    ovsa_license_server_t  *s;

    lic = imp->lic;

    /* every pin of every server's set, each with a separator */
    imp->pins = malloc(lic->nservers * OVSA_LICENSE_MAX_PINS
                       * (OVSA_PIN_LEN + 1) + 1);
    if (imp->pins == NULL) {
        return ovsa_err_set(err, OVSA_E_NOMEM, "license: no memory");
    }

    p = imp->pins;
    *p = '\0';
    for (i = 0; i < lic->nservers; i++) {
        s = &lic->servers[i];
        for (j = 0; j < s->npins; j++) {
            p += sprintf(p, "%s%s", p == imp->pins ? "" : " ", s->pins[j]);
        }
    }

    k = 0;
    imp->nargs = 2;
    ovsa_import_arg(imp, "id", lic->id);
    ovsa_import_num(imp, &k, "ver", lic->version);

    /* import.lua compares the version before it writes the pairs */
    imp->args[0] = imp->num[0];
    imp->args[1] = lic->id;

    ovsa_import_arg(imp, "type", ovsa_license_type_name(lic->type));
    ovsa_import_num(imp, &k, "exp", lic->expires_at);
    ovsa_import_num(imp, &k, "usage", lic->limits.usage);
    ovsa_import_num(imp, &k, "maxact", lic->limits.max_activations);
    ovsa_import_num(imp, &k, "seats", lic->limits.seats);
    ovsa_import_num(imp, &k, "lease_s", lic->limits.lease_seconds);
    ovsa_import_num(imp, &k, "borrow", lic->limits.max_borrow);
    ovsa_import_num(imp, &k, "offl", lic->limits.max_offline);
    ovsa_import_arg(imp, "hwreq", lic->require_hardware_key ? "1" : "0");
    ovsa_import_num(imp, &k, "sync", lic->sync_interval);
    ovsa_import_arg(imp, "cert", lic->customer_cert_sha256
                                 ? lic->customer_cert_sha256 : "");
    ovsa_import_arg(imp, "secret", lic->secret_sha256);
    ovsa_import_opt(imp, &k, "deact", lic->deactivations);
    ovsa_import_opt(imp, &k, "deact_s", lic->deactivation_period);
    ovsa_import_arg(imp, "pins", imp->pins);
    ovsa_import_arg(imp, "product", lic->product);
    ovsa_import_arg(imp, "customer", lic->customer_name);
    ovsa_import_num(imp, &k, "issued", lic->issued_at);
    ovsa_import_arg(imp, "jws", imp->jws);

    return OVSA_OK;
}


void
ovsa_import_free(ovsa_import_t *imp)
{
    ovsa_license_free(imp->lic);
    free(imp->jws);
    free(imp->pins);
    memset(imp, 0, sizeof(*imp));
}
