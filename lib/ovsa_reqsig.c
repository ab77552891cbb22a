/*
 * ovsa_reqsig.c: machine keys and the request profile of RFC 9421 (see
 * ovsa_reqsig.h and docs/signatures.md), on the parser and base builder
 * of the answers' profile (ovsa_httpsig_int.h).
 */

#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "ovsa_b64.h"
#include "ovsa_httpsig_int.h"
#include "ovsa_key.h"
#include "ovsa_pin.h"
#include "ovsa_reqsig.h"


static const ovsa_sig_comp_t  ovsa_reqsig_components[] = {
    { "@method", 0 },
    { "@path", 0 },
    { "content-digest", 0 },
    { "ovsa-nonce", 0 },
};

#define OVSA_REQSIG_NCOMPONENTS                                               \
    (sizeof(ovsa_reqsig_components) / sizeof(ovsa_reqsig_components[0]))

static const ovsa_sig_profile_t  ovsa_reqsig_profile = {
    ovsa_reqsig_components, OVSA_REQSIG_NCOMPONENTS, 0, 0, OVSA_REQSIG_TAG, 0
};


/* ---- machine keys */

/* The httpsig alg of a machine key: Ed25519 or P-256 only. */
static const ovsa_alg_t *
ovsa_machine_key_alg(EVP_PKEY *pkey, ovsa_err_t *err)
{
    ovsa_err_t       e;
    ovsa_key_kind_t  kind;

    if (ovsa_key_kind(pkey, &kind, &e) != OVSA_OK) {
        ovsa_err_set(err, OVSA_E_MACHINE_KEY_TYPE, "machine key: %s", e.msg);
        return NULL;
    }

    if (kind != OVSA_KEY_ED25519 && kind != OVSA_KEY_P256) {
        ovsa_err_set(err, OVSA_E_MACHINE_KEY_TYPE, "machine key: an RSA key; "
                     "machine keys are Ed25519 or P-256");
        return NULL;
    }

    return ovsa_alg_for_key(OVSA_ALG_HTTPSIG, pkey, err);
}


int
ovsa_machine_key_parse(const char *b64, size_t len, EVP_PKEY **out,
    ovsa_err_t *err)
{
    int                   n, same;
    size_t                der_len;
    EVP_PKEY             *pkey;
    unsigned char        *der, *re;
    const unsigned char  *p;

    *out = NULL;

    if (b64 == NULL || len == 0 || len > OVSA_MACHINE_KEY_MAX) {
        return ovsa_err_set(err, OVSA_E_MACHINE_KEY, "machine key: %zu "
                            "characters, not 1..%d", b64 ? len : 0,
                            OVSA_MACHINE_KEY_MAX);
    }

    der = ovsa_b64_decode_alloc(b64, len, 1, &der_len);
    if (der == NULL) {
        return ovsa_err_set(err, OVSA_E_MACHINE_KEY, "machine key: not "
                            "base64url without padding");
    }

    /* the two machine key types in their one DER form, without OpenSSL's
     * decoder (lib/ovsa_key.h); anything else the slow way, to name it */
    pkey = ovsa_key_from_spki_fixed(der, der_len);
    if (pkey != NULL) {
        free(der);
        *out = pkey;
        return OVSA_OK;
    }

    p = der;
    pkey = d2i_PUBKEY(NULL, &p, (long) der_len);

    if (pkey == NULL || p != der + der_len) {
        EVP_PKEY_free(pkey);
        free(der);
        ERR_clear_error();
        return ovsa_err_set(err, OVSA_E_MACHINE_KEY, "machine key: not "
                            "exactly one DER SubjectPublicKeyInfo");
    }

    /*
     * OpenSSL reads some non-DER forms (e.g. a BIT STRING with unused
     * bits set): one key must have one encoding, the one the keyid is
     * computed from, so anything i2d would not write back is refused.
     */
    re = NULL;
    n = i2d_PUBKEY(pkey, &re);
    same = n > 0 && (size_t) n == der_len && memcmp(re, der, der_len) == 0;
    OPENSSL_free(re);
    free(der);

    if (!same) {
        EVP_PKEY_free(pkey);
        ERR_clear_error();
        return ovsa_err_set(err, OVSA_E_MACHINE_KEY, "machine key: not the "
                            "canonical DER of its SubjectPublicKeyInfo");
    }

    if (ovsa_machine_key_alg(pkey, err) == NULL) {
        EVP_PKEY_free(pkey);
        return OVSA_ERR;
    }

    *out = pkey;
    return OVSA_OK;
}


int
ovsa_machine_key_encode(EVP_PKEY *pub, char *out, size_t size,
    ovsa_err_t *err)
{
    int             n;
    unsigned char  *der;

    if (ovsa_machine_key_alg(pub, err) == NULL) {
        return OVSA_ERR;
    }

    der = NULL;
    n = i2d_PUBKEY(pub, &der);
    if (n <= 0) {
        return ovsa_err_ssl(err, OVSA_E_INTERNAL, "machine key: DER");
    }

    if (OVSA_B64URL_LEN((size_t) n) + 1 > size) {
        OPENSSL_free(der);
        return ovsa_err_set(err, OVSA_E_INTERNAL, "machine key: %zu "
                            "characters do not fit in %zu",
                            OVSA_B64URL_LEN((size_t) n), size);
    }

    ovsa_b64_encode(der, (size_t) n, out, 1);
    OPENSSL_free(der);

    return OVSA_OK;
}


/* ---- the request profile */

static int
ovsa_reqsig_base(const ovsa_reqsig_msg_t *msg, const ovsa_sig_params_t *p,
    char **base, size_t *len, ovsa_err_t *err)
{
    ovsa_str_t  v[OVSA_REQSIG_NCOMPONENTS];

    v[0] = msg->method;
    v[1] = msg->path;
    v[2] = msg->content_digest;
    v[3] = msg->nonce;

    *base = NULL;

    if (ovsa_sig_profile_base(&ovsa_reqsig_profile, OVSA_REQSIG_NCOMPONENTS,
                              v, p, NULL, 0, len, err) != OVSA_OK)
    {
        return OVSA_ERR;
    }

    *base = OPENSSL_malloc(*len);
    if (*base == NULL) {
        return ovsa_err_set(err, OVSA_E_NOMEM, "request signature: base of "
                            "%zu bytes", *len);
    }

    return ovsa_sig_profile_base(&ovsa_reqsig_profile,
                                 OVSA_REQSIG_NCOMPONENTS, v, p, *base, *len,
                                 len, err);
}


int
ovsa_reqsig_sign(EVP_PKEY *key, const ovsa_reqsig_msg_t *msg,
    time_t created, char *input, char *sig, ovsa_err_t *err)
{
    int                ret;
    char              *base;
    size_t             len, n;
    EVP_MD_CTX        *ctx;
    ovsa_sig_params_t  p;
    const ovsa_alg_t  *alg;
    unsigned char      raw[OVSA_SIG_MAX];

    memset(&p, 0, sizeof(p));

    alg = ovsa_machine_key_alg(key, err);
    if (alg == NULL) {
        return OVSA_ERR;
    }

    if (ovsa_keyid_pkey(key, p.keyid, err) != OVSA_OK) {
        return OVSA_ERR;
    }

    p.alg = alg->name;
    p.created = (long long) created;

    if (ovsa_reqsig_base(msg, &p, &base, &len, err) != OVSA_OK) {
        OPENSSL_free(base);
        return OVSA_ERR;
    }

    ret = ovsa_sig_profile_input(&ovsa_reqsig_profile,
                                 OVSA_REQSIG_NCOMPONENTS, &p, input, err);

    ctx = NULL;

    if (ret == OVSA_OK) {
        ctx = EVP_MD_CTX_new();
        if (ctx == NULL) {
            ret = ovsa_err_set(err, OVSA_E_NOMEM, "request signature: out "
                               "of memory");
        }
    }

    if (ret == OVSA_OK) {
        ret = ovsa_alg_init(ctx, alg, key, 1, err);
    }

    if (ret == OVSA_OK) {
        ret = ovsa_alg_sign(ctx, alg, base, len, raw, sizeof(raw), &n, err);
    }

    if (ret == OVSA_OK) {
        memcpy(sig, OVSA_SIG_LABEL "=:", sizeof(OVSA_SIG_LABEL) + 1);
        n = ovsa_b64_encode(raw, n, sig + sizeof(OVSA_SIG_LABEL) + 1, 0);
        memcpy(sig + sizeof(OVSA_SIG_LABEL) + 1 + n, ":", 2);
    }

    EVP_MD_CTX_free(ctx);
    OPENSSL_free(base);
    OPENSSL_cleanse(raw, sizeof(raw));
    return ret;
}


int
ovsa_reqsig_verify(EVP_PKEY *pub, const ovsa_reqsig_msg_t *msg,
    ovsa_str_t input, ovsa_str_t signature, time_t now, long skew,
    ovsa_err_t *err)
{
    return ovsa_reqsig_verify_aged(pub, msg, input, signature, now, skew,
                                   skew, err);
}


int
ovsa_reqsig_verify_aged(EVP_PKEY *pub, const ovsa_reqsig_msg_t *msg,
    ovsa_str_t input, ovsa_str_t signature, time_t now, long max_age,
    long skew, ovsa_err_t *err)
{
    int                ret;
    char              *base;
    size_t             sig_len, ncomp, len;
    ovsa_sig_params_t  p;
    const ovsa_alg_t  *alg;
    unsigned char      sig[OVSA_SIG_MAX];
    char               keyid[OVSA_KEYID_LEN + 1];

    if (ovsa_sig_profile_parse(&ovsa_reqsig_profile, input, signature, &p,
                               &ncomp, sig, &sig_len, err)
        != OVSA_OK)
    {
        return OVSA_ERR;
    }

    alg = ovsa_machine_key_alg(pub, err);
    if (alg == NULL) {
        return OVSA_ERR;
    }

    if (strcmp(alg->name, p.alg) != 0) {
        return ovsa_err_set(err, OVSA_E_SIG_ALG, "request signature: alg "
                            "\"%s\" but the machine key needs \"%s\"",
                            p.alg, alg->name);
    }

    if (ovsa_keyid_pkey(pub, keyid, err) != OVSA_OK) {
        return OVSA_ERR;
    }

    if (strcmp(keyid, p.keyid) != 0) {
        return ovsa_err_set(err, OVSA_E_SIG_KEYID, "request signature: keyid "
                            "\"%s\" is not the machine key's \"%s\"",
                            p.keyid, keyid);
    }

    if (p.created < (long long) now - max_age) {
        return ovsa_err_set(err, OVSA_E_SIG_EXPIRED, "request signature: "
                            "created %lld is %lld s old (at most %ld)",
                            p.created, (long long) now - p.created, max_age);
    }

    if (p.created > (long long) now + skew) {
        return ovsa_err_set(err, OVSA_E_SIG_CREATED, "request signature: "
                            "created %lld is %lld s ahead (skew %ld)",
                            p.created, p.created - (long long) now, skew);
    }

    if (ovsa_reqsig_base(msg, &p, &base, &len, err) != OVSA_OK) {
        OPENSSL_free(base);
        return OVSA_ERR;
    }

    ret = ovsa_alg_verify(alg, pub, base, len, sig, sig_len,
                          OVSA_E_SIG_INVALID, err);

    OPENSSL_free(base);
    return ret;
}
