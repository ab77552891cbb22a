/*
 * license.c: verify a customer license for import (see license.h).
 */

#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "license.h"
#include "ovsa_license.h"
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
    int              ret;
    json_t          *jws;
    json_error_t     jerr;
    ovsa_license_t  *lic;

    ret = OVSA_ERR;
    lic = NULL;
    jws = NULL;
    memset(imp, 0, sizeof(*imp));
    *answer = "LICENSE_INVALID";

    if (ovsa_license_parse(text, len, &lic, err) != OVSA_OK) {
        goto end;
    }

    if (ovsa_license_trusted(lic, isv->certs, isv->n, err) != OVSA_OK) {
        *answer = "LICENSE_UNTRUSTED";
        goto end;
    }

    imp->payload = json_loads(lic->payload, 0, &jerr);
    jws = json_loads(lic->jws, 0, &jerr);
    if (imp->payload == NULL || jws == NULL) {
        ovsa_err_set(err, OVSA_E_LIC_SYNTAX, "license: %s", jerr.text);
        goto end;
    }

    imp->jws = json_dumps(jws, JSON_COMPACT);
    if (imp->jws == NULL) {
        ovsa_err_set(err, OVSA_E_NOMEM, "license: no memory");
        goto end;
    }

    if (ovsa_policy_record(imp->payload, &imp->rec, err) != OVSA_OK) {
        goto end;
    }

    ret = OVSA_OK;

end:

    if (ret != OVSA_OK) {
        ovsa_import_free(imp);
    }

    json_decref(jws);
    ovsa_license_free(lic);

    return ret;
}


void
ovsa_import_free(ovsa_import_t *imp)
{
    json_decref(imp->payload);
    free(imp->jws);
    memset(imp, 0, sizeof(*imp));
}
