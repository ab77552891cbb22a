/*
 * fuzz_license.c: ovsa_license_parse() over any text: the JWS JSON, the
 * base64url members, the protected header, the x5c certificate, the
 * signature and (for inputs that verify, such as the seeds) every payload
 * field.  A license that parses must satisfy the documented rules.
 */

#include <stdint.h>
#include <string.h>

#include "fuzz_util.h"
#include "ovsa_license.h"
#include "ovsa_pin.h"


static void
fuzz_pin(const char *pin)
{
    FUZZ_ASSERT(strlen(pin) == OVSA_PIN_LEN);
    FUZZ_ASSERT(strncmp(pin, OVSA_PIN_PREFIX, sizeof(OVSA_PIN_PREFIX) - 1)
                == 0);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int              rc;
    size_t           i, j;
    X509            *isv[1];
    ovsa_err_t       err;
    ovsa_license_t  *lic;

    ovsa_err_clear(&err);
    rc = ovsa_license_parse((const char *) data, size, &lic, &err);

    if (rc != OVSA_OK) {
        FUZZ_ASSERT(lic == NULL);
        FUZZ_ASSERT((err.code >= OVSA_E_LIC_SYNTAX
                     && err.code <= OVSA_E_LIC_URL
                     && err.code != OVSA_E_LIC_ISV
                     && err.code != OVSA_E_LIC_VERSION
                     && err.code != OVSA_E_LIC_ID
                     && err.code != OVSA_E_CUSTOMER_CERT)
                    || err.code == OVSA_E_LIC_CREDENTIAL
                    || err.code == OVSA_E_LIC_PIN_SET
                    || err.code == OVSA_E_NOMEM);
        FUZZ_ASSERT(strncmp(err.msg, "license", 7) == 0);
        return 0;
    }

    FUZZ_ASSERT(lic->id != NULL && lic->id[0] != '\0'
                && strlen(lic->id) <= OVSA_LICENSE_ID_MAX);
    FUZZ_ASSERT(lic->version >= 1 && lic->issued_at >= 1);
    FUZZ_ASSERT(lic->customer_name != NULL && lic->product != NULL);
    FUZZ_ASSERT(lic->customer_cert_sha256 == NULL
                || strlen(lic->customer_cert_sha256) == 64);
    FUZZ_ASSERT(lic->secret_sha256[0] == '\0'
                || strlen(lic->secret_sha256) == 64);
    FUZZ_ASSERT(lic->customer_cert_sha256 != NULL
                || lic->secret_sha256[0] != '\0');
    FUZZ_ASSERT((lic->deactivations == -1) == (lic->deactivation_period == -1));
    FUZZ_ASSERT(lic->deactivations == -1
                || (lic->deactivations >= 0
                    && lic->deactivation_period
                       >= OVSA_LICENSE_DEACT_PERIOD_MIN
                    && lic->deactivation_period
                       <= OVSA_LICENSE_DEACT_PERIOD_MAX));
    FUZZ_ASSERT(lic->type != OVSA_LIC_NODE_LOCKED || lic->deactivations >= 0);
    FUZZ_ASSERT(ovsa_license_type_name(lic->type) != NULL);
    FUZZ_ASSERT(lic->sync_interval >= OVSA_LICENSE_SYNC_MIN
                && lic->sync_interval <= OVSA_LICENSE_SYNC_MAX);
    FUZZ_ASSERT(lic->nservers >= 1
                && lic->nservers <= OVSA_LICENSE_MAX_SERVERS);

    for (i = 0; i < lic->nservers; i++) {
        FUZZ_ASSERT(strncmp(lic->servers[i].url, "https://", 8) == 0
                    || strncmp(lic->servers[i].url, "HTTPS://", 8) == 0
                    || strncasecmp(lic->servers[i].url, "https://", 8) == 0);
        FUZZ_ASSERT(lic->servers[i].npins >= 1
                    && lic->servers[i].npins <= OVSA_LICENSE_MAX_PINS);
        for (j = 0; j < lic->servers[i].npins; j++) {
            fuzz_pin(lic->servers[i].pins[j]);
            FUZZ_ASSERT(ovsa_license_server_pinned(&lic->servers[i],
                                                   lic->servers[i].pins[j]));
        }
    }

    FUZZ_ASSERT(lic->signer != NULL && lic->payload != NULL
                && lic->jws != NULL && lic->alg != NULL);

    /* its own signer is trusted; the same version is no update */
    isv[0] = lic->signer;
    FUZZ_ASSERT(ovsa_license_trusted(lic, isv, 1, &err) == OVSA_OK);
    FUZZ_ASSERT(ovsa_license_check_update(lic, lic, &err) == OVSA_ERR
                && err.code == OVSA_E_LIC_VERSION);

    ovsa_license_free(lic);
    return 0;
}
