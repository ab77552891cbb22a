/*
 * fuzz_grant.c: grants (sdk/ovsa_client_grant.c), the response files an
 * offline machine receives by hand (docs/offline.md): ovsa_grant_parse_url
 * and ovsa_grant_verify in license mode with the pin of a key made at
 * start and no root.  The signing chain comes from the input, so every
 * byte reaches the JSON members, the signature field parser, the PEM
 * chain loader, the pin check and the answer checks.
 *
 * Checked besides "no crash, no leak": a grant verifies only when its
 * chain's leaf carries the key made here (which no input can sign for:
 * none verifies), and every refusal carries a defined code.
 */

#include <stdint.h>
#include <string.h>

#include "fuzz_util.h"
#include "ovsa_client.h"
#include "ovsa_pin.h"

static char  fuzz_pin[OVSA_PIN_LEN + 1];


static void
fuzz_init(void)
{
    X509        *cert;
    EVP_PKEY    *key;
    ovsa_err_t   err;

    key = fuzz_key("P-256");
    cert = fuzz_cert(key, "fuzz grant signer");
    FUZZ_ASSERT(ovsa_pin_cert(cert, fuzz_pin, &err) == OVSA_OK);
    X509_free(cert);
    EVP_PKEY_free(key);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int             rc;
    char            url[2100];
    const char     *pins[1];
    ovsa_err_t      err;
    ovsa_result_t   r;

    static int      ready;

    if (!ready) {
        fuzz_init();
        ready = 1;
    }

    ovsa_err_clear(&err);
    rc = ovsa_grant_parse_url((const char *) data, size, url, sizeof(url),
                              &err);
    FUZZ_ASSERT(rc == OVSA_OK || err.code == OVSA_E_GRANT_SYNTAX);

    pins[0] = fuzz_pin;
    ovsa_err_clear(&err);
    rc = ovsa_grant_verify((const char *) data, size, pins, 1, NULL, 60, &r,
                           &err);

    /* nothing is signed with the key the pin names */
    FUZZ_ASSERT(rc != OVSA_OK);
    FUZZ_ASSERT(err.code > OVSA_E_NONE && err.code < OVSA_E__COUNT);
    FUZZ_ASSERT(r.failed_check == err.code);
    FUZZ_ASSERT(r.grant == NULL);

    ovsa_result_free(&r);
    return 0;
}
