/*
 * ovsa_key.c: key types, the signature algorithms of both uses (answers
 * and licenses), ECDSA DER <-> r || s, and private key files.  See
 * ovsa_key.h.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/decoder.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include "ovsa_file.h"
#include "ovsa_key.h"


/* the largest private key file read: a PEM RSA-16384 key is ~13 kB */
#define OVSA_KEY_FILE_MAX  (64 * 1024)


static const ovsa_alg_t  ovsa_algs[] = {

    /* RFC 9421 section 3.3: PSS with SHA-512, MGF1-SHA-512, salt 64 */
    { "rsa-pss-sha512", OVSA_ALG_HTTPSIG, OVSA_KEY_RSA, NID_sha512,
      RSA_PKCS1_PSS_PADDING, 64, 0, 1 },
    { "ecdsa-p256-sha256", OVSA_ALG_HTTPSIG, OVSA_KEY_P256, NID_sha256,
      0, 0, 32, 1 },
    { "ed25519", OVSA_ALG_HTTPSIG, OVSA_KEY_ED25519, NID_undef,
      0, 0, 0, 1 },

    /* RFC 7518 section 3 (PS256: salt = digest length), RFC 8037 */
    { "PS256", OVSA_ALG_JWS, OVSA_KEY_RSA, NID_sha256,
      RSA_PKCS1_PSS_PADDING, RSA_PSS_SALTLEN_DIGEST, 0, 1 },
    { "RS256", OVSA_ALG_JWS, OVSA_KEY_RSA, NID_sha256,
      RSA_PKCS1_PADDING, 0, 0, 0 },
    { "ES256", OVSA_ALG_JWS, OVSA_KEY_P256, NID_sha256,
      0, 0, 32, 1 },
    { "EdDSA", OVSA_ALG_JWS, OVSA_KEY_ED25519, NID_undef,
      0, 0, 0, 1 }
};

#define OVSA_NALGS  (sizeof(ovsa_algs) / sizeof(ovsa_algs[0]))


/* ---- key types and algorithms */

int
ovsa_key_kind(EVP_PKEY *pkey, ovsa_key_kind_t *kind, ovsa_err_t *err)
{
    int   bits;
    char  group[64];

    if (pkey == NULL) {
        return ovsa_err_set(err, OVSA_E_KEY_TYPE, "key: no key");
    }

    switch (EVP_PKEY_get_base_id(pkey)) {

    case EVP_PKEY_RSA:
        bits = EVP_PKEY_get_bits(pkey);
        if (bits < OVSA_KEY_RSA_MIN_BITS) {
            return ovsa_err_set(err, OVSA_E_KEY_TYPE, "key: RSA key of %d "
                                "bits, at least %d needed", bits,
                                OVSA_KEY_RSA_MIN_BITS);
        }
        *kind = OVSA_KEY_RSA;
        return OVSA_OK;

    case EVP_PKEY_EC:
        if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME,
                                           group, sizeof(group), NULL) != 1)
        {
            ERR_clear_error();
            group[0] = '\0';
        }

        if (strcmp(group, "prime256v1") != 0 && strcmp(group, "P-256") != 0)
        {
            return ovsa_err_set(err, OVSA_E_KEY_TYPE, "key: EC key on %s, "
                                "not P-256", group[0] ? group : "a curve "
                                "without a name");
        }
        *kind = OVSA_KEY_P256;
        return OVSA_OK;

    case EVP_PKEY_ED25519:
        *kind = OVSA_KEY_ED25519;
        return OVSA_OK;

    default:
        return ovsa_err_set(err, OVSA_E_KEY_TYPE, "key: key type %s is not "
                            "RSA, P-256 or Ed25519",
                            EVP_PKEY_get0_type_name(pkey)
                            ? EVP_PKEY_get0_type_name(pkey) : "(unknown)");
    }
}


const ovsa_alg_t *
ovsa_alg_for_key(ovsa_alg_use_t use, EVP_PKEY *pkey, ovsa_err_t *err)
{
    size_t           i;
    ovsa_key_kind_t  kind;

    if (ovsa_key_kind(pkey, &kind, err) != OVSA_OK) {
        return NULL;
    }

    for (i = 0; i < OVSA_NALGS; i++) {
        if (ovsa_algs[i].use == use && ovsa_algs[i].kind == kind
            && ovsa_algs[i].preferred)
        {
            return &ovsa_algs[i];
        }
    }

    ovsa_err_set(err, OVSA_E_INTERNAL, "key: no algorithm for the key");
    return NULL;
}


const ovsa_alg_t *
ovsa_alg_by_name(ovsa_alg_use_t use, const char *name, size_t len)
{
    size_t  i;

    if (name == NULL) {
        return NULL;
    }

    for (i = 0; i < OVSA_NALGS; i++) {
        if (ovsa_algs[i].use == use && strlen(ovsa_algs[i].name) == len
            && memcmp(ovsa_algs[i].name, name, len) == 0)
        {
            return &ovsa_algs[i];
        }
    }

    return NULL;
}


int
ovsa_alg_fits(const ovsa_alg_t *alg, EVP_PKEY *pkey)
{
    ovsa_key_kind_t  kind;

    return alg != NULL && ovsa_key_kind(pkey, &kind, NULL) == OVSA_OK
           && kind == alg->kind;
}


int
ovsa_alg_init(EVP_MD_CTX *ctx, const ovsa_alg_t *alg, EVP_PKEY *pkey,
    int sign, ovsa_err_t *err)
{
    int            rc;
    const EVP_MD  *md;
    EVP_PKEY_CTX  *pctx;

    if (!ovsa_alg_fits(alg, pkey)) {
        return ovsa_err_set(err, OVSA_E_SIG_ALG, "signature: alg %s does not "
                            "fit the %s key", alg ? alg->name : "(none)",
                            pkey && EVP_PKEY_get0_type_name(pkey)
                            ? EVP_PKEY_get0_type_name(pkey) : "(no)");
    }

    md = alg->md != NID_undef ? EVP_get_digestbynid(alg->md) : NULL;

    rc = sign ? EVP_DigestSignInit(ctx, &pctx, md, NULL, pkey)
              : EVP_DigestVerifyInit(ctx, &pctx, md, NULL, pkey);
    if (rc != 1) {
        return ovsa_err_ssl(err, OVSA_E_INTERNAL, "signature: %s %s setup",
                            alg->name, sign ? "sign" : "verify");
    }

    if (alg->padding != 0
        && EVP_PKEY_CTX_set_rsa_padding(pctx, alg->padding) != 1)
    {
        return ovsa_err_ssl(err, OVSA_E_INTERNAL, "signature: %s padding",
                            alg->name);
    }

    if (alg->padding == RSA_PKCS1_PSS_PADDING
        && (EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) != 1
            || EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, alg->saltlen) != 1))
    {
        return ovsa_err_ssl(err, OVSA_E_INTERNAL, "signature: %s PSS "
                            "parameters", alg->name);
    }

    return OVSA_OK;
}


int
ovsa_alg_sign(EVP_MD_CTX *ctx, const ovsa_alg_t *alg, const void *data,
    size_t len, unsigned char *sig, size_t size, size_t *siglen,
    ovsa_err_t *err)
{
    int            ret;
    size_t         n;
    unsigned char  der[OVSA_ECDSA_DER_MAX];

    if (alg->ec_half == 0) {
        n = size;
        if (EVP_DigestSign(ctx, sig, &n, data, len) != 1) {
            return ovsa_err_ssl(err, OVSA_E_INTERNAL, "signature: %s sign",
                                alg->name);
        }

        *siglen = n;
        return OVSA_OK;
    }

    /* ECDSA: OpenSSL's DER ECDSA-Sig-Value -> r || s */
    if (size < 2 * alg->ec_half) {
        return ovsa_err_set(err, OVSA_E_INTERNAL, "signature: %s needs %zu "
                            "bytes", alg->name, 2 * alg->ec_half);
    }

    n = sizeof(der);
    if (EVP_DigestSign(ctx, der, &n, data, len) != 1) {
        return ovsa_err_ssl(err, OVSA_E_INTERNAL, "signature: %s sign",
                            alg->name);
    }

    ret = ovsa_ecdsa_der_to_raw(der, n, sig, 2 * alg->ec_half, err);
    if (ret == OVSA_OK) {
        *siglen = 2 * alg->ec_half;
    }

    return ret;
}


int
ovsa_alg_verify(const ovsa_alg_t *alg, EVP_PKEY *pub, const void *data,
    size_t len, const unsigned char *sig, size_t siglen, int bad,
    ovsa_err_t *err)
{
    int             ret;
    size_t          n;
    EVP_MD_CTX     *ctx;
    unsigned char   der[OVSA_ECDSA_DER_MAX];

    if (alg->ec_half != 0) {
        if (siglen != 2 * alg->ec_half) {
            return ovsa_err_set(err, bad, "signature: %s needs %zu bytes "
                                "r || s, got %zu", alg->name,
                                2 * alg->ec_half, siglen);
        }

        if (ovsa_ecdsa_raw_to_der(sig, siglen, der, sizeof(der), &n, err)
            != OVSA_OK)
        {
            return OVSA_ERR;
        }

        sig = der;
        siglen = n;
    }

    ctx = EVP_MD_CTX_new();
    if (ctx == NULL) {
        return ovsa_err_set(err, OVSA_E_NOMEM, "signature: out of memory");
    }

    ret = ovsa_alg_init(ctx, alg, pub, 0, err);

    if (ret == OVSA_OK && EVP_DigestVerify(ctx, sig, siglen, data, len) != 1)
    {
        ret = ovsa_err_ssl(err, bad, "signature: %s signature does not "
                           "verify", alg->name);
    }

    EVP_MD_CTX_free(ctx);
    return ret;
}


/* ---- ECDSA signatures: DER ECDSA-Sig-Value <-> r || s */

int
ovsa_ecdsa_der_to_raw(const unsigned char *der, size_t der_len,
    unsigned char *raw, size_t raw_len, ovsa_err_t *err)
{
    int                   ret;
    size_t                half;
    ECDSA_SIG            *ecsig;
    const BIGNUM         *r, *s;
    const unsigned char  *p;

    half = raw_len / 2;

    if (raw_len == 0 || raw_len % 2 != 0) {
        return ovsa_err_set(err, OVSA_E_INTERNAL, "ecdsa: r || s of %zu "
                            "bytes", raw_len);
    }

    p = der;
    ecsig = d2i_ECDSA_SIG(NULL, &p, (long) der_len);

    if (ecsig == NULL || p != der + der_len) {
        ECDSA_SIG_free(ecsig);
        ERR_clear_error();
        return ovsa_err_set(err, OVSA_E_SIG_SYNTAX, "ecdsa: not one DER "
                            "ECDSA-Sig-Value");
    }

    ECDSA_SIG_get0(ecsig, &r, &s);

    ret = OVSA_OK;
    if (BN_is_negative(r) || BN_is_negative(s)
        || BN_bn2binpad(r, raw, (int) half) < 0
        || BN_bn2binpad(s, raw + half, (int) half) < 0)
    {
        ERR_clear_error();
        ret = ovsa_err_set(err, OVSA_E_SIG_SYNTAX, "ecdsa: r or s does not "
                           "fit in %zu bytes", half);
    }

    ECDSA_SIG_free(ecsig);
    return ret;
}


int
ovsa_ecdsa_raw_to_der(const unsigned char *raw, size_t raw_len,
    unsigned char *der, size_t size, size_t *der_len, ovsa_err_t *err)
{
    int             n;
    BIGNUM         *r, *s;
    ECDSA_SIG      *ecsig;
    unsigned char  *p;

    if (raw_len == 0 || raw_len % 2 != 0) {
        return ovsa_err_set(err, OVSA_E_SIG_SYNTAX, "ecdsa: r || s of %zu "
                            "bytes", raw_len);
    }

    ecsig = ECDSA_SIG_new();
    r = BN_bin2bn(raw, (int) (raw_len / 2), NULL);
    s = BN_bin2bn(raw + raw_len / 2, (int) (raw_len / 2), NULL);

    if (ecsig == NULL || r == NULL || s == NULL
        || ECDSA_SIG_set0(ecsig, r, s) != 1)
    {
        BN_free(r);
        BN_free(s);
        ECDSA_SIG_free(ecsig);
        return ovsa_err_ssl(err, OVSA_E_NOMEM, "ecdsa: out of memory");
    }

    n = i2d_ECDSA_SIG(ecsig, NULL);
    if (n <= 0 || (size_t) n > size) {
        ECDSA_SIG_free(ecsig);
        return ovsa_err_ssl(err, OVSA_E_INTERNAL, "ecdsa: DER of %d bytes, "
                            "%zu available", n, size);
    }

    p = der;
    n = i2d_ECDSA_SIG(ecsig, &p);
    ECDSA_SIG_free(ecsig);

    if (n <= 0) {
        return ovsa_err_ssl(err, OVSA_E_INTERNAL, "ecdsa: DER encoding");
    }

    *der_len = (size_t) n;
    return OVSA_OK;
}


/* ---- private key files */

int
ovsa_key_mode_check(const char *file, mode_t mode, ovsa_err_t *err)
{
    if (mode & (S_IRWXG | S_IRWXO)) {
        return ovsa_err_set(err, OVSA_E_KEY_MODE, "%s: private key file has "
                            "mode %04o: group and others must have no "
                            "access (chmod 600)", file,
                            (unsigned) (mode & 07777));
    }

    return OVSA_OK;
}


typedef struct {
    const char  *pass;
    unsigned     asked:1;
} ovsa_key_pass_t;


/* the decoder asks only for an encrypted key; without pass: no key */
static int
ovsa_key_pass_cb(char *buf, int size, int rwflag, void *u)
{
    size_t            len;
    ovsa_key_pass_t  *kp = u;

    kp->asked = 1;

    if (kp->pass == NULL) {
        return 0;
    }

    len = strlen(kp->pass);
    if (len > (size_t) size) {
        return 0;
    }

    memcpy(buf, kp->pass, len);
    return (int) len;
}


int
ovsa_key_load_pass(const char *file, const char *pass, EVP_PKEY **out,
    ovsa_err_t *err)
{
    int                   ret;
    char                 *buf;
    size_t                size, len;
    EVP_PKEY             *pkey;
    ovsa_err_t            e;
    struct stat           st;
    ovsa_key_pass_t       kp;
    OSSL_DECODER_CTX     *dctx;
    const unsigned char  *p;

    /* the mode first: a key open to others is refused unread */
    if (stat(file, &st) != 0) {
        return ovsa_err_set(err, OVSA_E_KEY, "%s: %s", file, strerror(errno));
    }

    if (ovsa_key_mode_check(file, st.st_mode, err) != OVSA_OK) {
        return OVSA_ERR;
    }

    if (ovsa_file_read(file, OVSA_KEY_FILE_MAX, &buf, &size, &e) != OVSA_OK)
    {
        return ovsa_err_set(err, OVSA_E_KEY, "%s", e.msg);
    }

    ret = OVSA_ERR;
    pkey = NULL;

    /* PEM or DER, any structure; the callback keeps any prompt away */
    kp.pass = pass;
    kp.asked = 0;

    dctx = OSSL_DECODER_CTX_new_for_pkey(&pkey, NULL, NULL, NULL,
                                         EVP_PKEY_KEYPAIR, NULL, NULL);
    if (dctx == NULL
        || OSSL_DECODER_CTX_set_pem_password_cb(dctx, ovsa_key_pass_cb, &kp)
           != 1)
    {
        ovsa_err_ssl(err, OVSA_E_NOMEM, "%s: key decoder", file);
        goto end;
    }

    p = (const unsigned char *) buf;
    len = size;
    if (OSSL_DECODER_from_data(dctx, &p, &len) != 1 || pkey == NULL) {
        EVP_PKEY_free(pkey);
        pkey = NULL;
        ERR_clear_error();

        if (kp.asked && pass == NULL) {
            ovsa_err_set(err, OVSA_E_KEY, "%s: the private key is "
                         "encrypted and no passphrase was given", file);

        } else if (kp.asked) {
            ovsa_err_set(err, OVSA_E_KEY, "%s: the private key cannot be "
                         "decrypted (wrong passphrase?)", file);

        } else {
            ovsa_err_set(err, OVSA_E_KEY, "%s: not a PEM or DER private "
                         "key", file);
        }

        goto end;
    }

    switch (EVP_PKEY_get_base_id(pkey)) {
    case EVP_PKEY_RSA:
    case EVP_PKEY_EC:
    case EVP_PKEY_ED25519:
        break;
    default:
        ovsa_err_set(err, OVSA_E_KEY_TYPE, "%s: key type %s is not RSA, EC "
                     "or Ed25519", file, EVP_PKEY_get0_type_name(pkey)
                     ? EVP_PKEY_get0_type_name(pkey) : "(unknown)");
        goto end;
    }

    *out = pkey;
    pkey = NULL;
    ret = OVSA_OK;

end:

    EVP_PKEY_free(pkey);
    OSSL_DECODER_CTX_free(dctx);
    OPENSSL_cleanse(buf, size);    /* the key material, before free() */
    free(buf);
    return ret;
}


int
ovsa_key_load(const char *file, EVP_PKEY **out, ovsa_err_t *err)
{
    return ovsa_key_load_pass(file, NULL, out, err);
}


/* ---- the fixed SPKI forms of Ed25519 and P-256 keys */

static const unsigned char  ovsa_spki_ed25519[] = {
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00
};

static const unsigned char  ovsa_spki_p256[] = {
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02,
    0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03,
    0x42, 0x00
};

#define OVSA_ED25519_RAW  32
#define OVSA_P256_POINT   65


size_t
ovsa_key_spki_fixed(EVP_PKEY *pkey, unsigned char *out)
{
    char    group[32];
    size_t  n;

    if (EVP_PKEY_is_a(pkey, "ED25519")) {
        n = OVSA_ED25519_RAW;
        if (EVP_PKEY_get_raw_public_key(pkey, out + sizeof(ovsa_spki_ed25519),
                                        &n) != 1
            || n != OVSA_ED25519_RAW)
        {
            ERR_clear_error();
            return 0;
        }
        memcpy(out, ovsa_spki_ed25519, sizeof(ovsa_spki_ed25519));
        return sizeof(ovsa_spki_ed25519) + n;
    }

    if (EVP_PKEY_is_a(pkey, "EC")
        && EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME,
                                          group, sizeof(group), NULL) == 1
        && strcmp(group, "prime256v1") == 0
        && EVP_PKEY_get_octet_string_param(pkey,
               OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
               out + sizeof(ovsa_spki_p256), OVSA_P256_POINT, &n) == 1
        && n == OVSA_P256_POINT && out[sizeof(ovsa_spki_p256)] == 0x04)
    {
        memcpy(out, ovsa_spki_p256, sizeof(ovsa_spki_p256));
        return sizeof(ovsa_spki_p256) + n;
    }

    ERR_clear_error();
    return 0;
}


EVP_PKEY *
ovsa_key_from_spki_fixed(const unsigned char *der, size_t len)
{
    EVP_PKEY        *pkey;
    OSSL_PARAM      *params;
    EVP_PKEY_CTX    *ctx;
    OSSL_PARAM_BLD  *bld;

    if (len == sizeof(ovsa_spki_ed25519) + OVSA_ED25519_RAW
        && memcmp(der, ovsa_spki_ed25519, sizeof(ovsa_spki_ed25519)) == 0)
    {
        pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL,
                                           der + sizeof(ovsa_spki_ed25519),
                                           OVSA_ED25519_RAW);
        ERR_clear_error();
        return pkey;
    }

    if (len != sizeof(ovsa_spki_p256) + OVSA_P256_POINT
        || memcmp(der, ovsa_spki_p256, sizeof(ovsa_spki_p256)) != 0
        || der[sizeof(ovsa_spki_p256)] != 0x04)
    {
        return NULL;
    }

    /* the import checks that the point is on the curve */
    pkey = NULL;
    params = NULL;
    ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    bld = OSSL_PARAM_BLD_new();

    if (ctx != NULL && bld != NULL
        && OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
                                           "prime256v1", 0) == 1
        && OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY,
                                            der + sizeof(ovsa_spki_p256),
                                            OVSA_P256_POINT) == 1
        && (params = OSSL_PARAM_BLD_to_param(bld)) != NULL
        && EVP_PKEY_fromdata_init(ctx) == 1)
    {
        if (EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) {
            pkey = NULL;
        }
    }

    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    EVP_PKEY_CTX_free(ctx);
    ERR_clear_error();
    return pkey;
}
