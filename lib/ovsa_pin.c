/*
 * ovsa_pin.c: SPKI pins and key ids.
 */

#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "ovsa_b64.h"
#include "ovsa_key.h"
#include "ovsa_pin.h"


static int
ovsa_spki_sha256(EVP_PKEY *pkey, unsigned char *md, ovsa_err_t *err)
{
    int             len;
    size_t          fixed;
    unsigned int    mdlen;
    unsigned char  *der, buf[OVSA_SPKI_FIXED_MAX];

    /* Ed25519 and P-256 without OpenSSL's encoder (lib/ovsa_key.h) */
    fixed = ovsa_key_spki_fixed(pkey, buf);
    if (fixed > 0) {
        if (EVP_Digest(buf, fixed, md, &mdlen, EVP_sha256(), NULL) != 1) {
            return ovsa_err_ssl(err, OVSA_E_INTERNAL, "pin: sha256");
        }
        return OVSA_OK;
    }

    der = NULL;
    len = i2d_PUBKEY(pkey, &der);
    if (len <= 0) {
        return ovsa_err_ssl(err, OVSA_E_KEY, "pin: cannot encode public key");
    }

    if (EVP_Digest(der, len, md, &mdlen, EVP_sha256(), NULL) != 1) {
        OPENSSL_free(der);
        return ovsa_err_ssl(err, OVSA_E_INTERNAL, "pin: sha256");
    }

    OPENSSL_free(der);
    return OVSA_OK;
}


int
ovsa_pin_pkey(EVP_PKEY *pkey, char *out, ovsa_err_t *err)
{
    unsigned char  md[32];

    if (ovsa_spki_sha256(pkey, md, err) != OVSA_OK) {
        return OVSA_ERR;
    }

    memcpy(out, OVSA_PIN_PREFIX, sizeof(OVSA_PIN_PREFIX) - 1);
    ovsa_b64_encode(md, sizeof(md), out + sizeof(OVSA_PIN_PREFIX) - 1, 0);
    return OVSA_OK;
}


int
ovsa_pin_cert(X509 *cert, char *out, ovsa_err_t *err)
{
    EVP_PKEY  *pkey;

    pkey = X509_get0_pubkey(cert);
    if (pkey == NULL) {
        return ovsa_err_ssl(err, OVSA_E_PEM, "pin: certificate has no key");
    }

    return ovsa_pin_pkey(pkey, out, err);
}


int
ovsa_keyid_pkey(EVP_PKEY *pkey, char *out, ovsa_err_t *err)
{
    unsigned char  md[32];

    if (ovsa_spki_sha256(pkey, md, err) != OVSA_OK) {
        return OVSA_ERR;
    }

    ovsa_b64_encode(md, sizeof(md), out, 1);

    return OVSA_OK;
}


int
ovsa_pin_valid(const char *pin)
{
    size_t       i, plen;
    const char  *c;
    static const char  b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
                               "qrstuvwxyz0123456789+/";

    plen = sizeof(OVSA_PIN_PREFIX) - 1;

    if (pin == NULL || strlen(pin) != OVSA_PIN_LEN
        || strncmp(pin, OVSA_PIN_PREFIX, plen) != 0
        || pin[OVSA_PIN_LEN - 1] != '=')
    {
        return 0;
    }

    c = NULL;
    for (i = plen; i < OVSA_PIN_LEN - 1; i++) {
        c = strchr(b64, pin[i]);
        if (c == NULL) {
            return 0;
        }
    }

    /* 32 bytes fill the 43rd character with 4 bits and 2 zero bits */
    return (c - b64) % 4 == 0;
}


int
ovsa_pin_match(X509 *cert, const char *pin)
{
    char  mine[OVSA_PIN_LEN + 1];

    if (pin == NULL || strlen(pin) != OVSA_PIN_LEN
        || strncasecmp(pin, OVSA_PIN_PREFIX, sizeof(OVSA_PIN_PREFIX) - 1))
    {
        return 0;
    }

    if (ovsa_pin_cert(cert, mine, NULL) != OVSA_OK) {
        return 0;
    }

    return ovsa_memeq_ct(mine + 8, OVSA_PIN_LEN - 8, pin + 8,
                         OVSA_PIN_LEN - 8);
}
