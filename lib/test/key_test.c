/*
 * key_test.c: cmocka unit tests of lib/ovsa_key (key types, the
 * algorithms of both uses, ECDSA DER <-> r || s, private key files), of
 * PEM and DER certificate loading (lib/ovsa_x509), of the key id buffer
 * (lib/ovsa_pin, lib/ovsa_b64) and of the answer signing sequence of
 * lib/ovsa_httpsig (prepare, finish, parse once, verify).  Real keys,
 * files and OpenSSL throughout.  Run by t/010-unit.t.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <pthread.h>

#include <cmocka.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/encoder.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "ovsa_b64.h"
#include "ovsa_httpsig.h"
#include "ovsa_key.h"
#include "ovsa_pin.h"
#include "ovsa_x509.h"


static char  tmpdir[] = "/tmp/ovsa-key-test-XXXXXX";


static EVP_PKEY *
gen(const char *type)
{
    EVP_PKEY  *pkey;

    if (strcmp(type, "RSA") == 0) {
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t) 2048);
    } else if (strcmp(type, "RSA-1024") == 0) {
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t) 1024);
    } else if (strcmp(type, "P-256") == 0 || strcmp(type, "P-384") == 0) {
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", type);
    } else {
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, type);
    }

    assert_non_null(pkey);
    return pkey;
}


static const char *
path(const char *name)
{
    static char  buf[4][256];
    static int   i;

    i = (i + 1) % 4;
    snprintf(buf[i], sizeof(buf[i]), "%s/%s", tmpdir, name);
    return buf[i];
}


static void
spew(const char *file, const void *data, size_t len, mode_t mode)
{
    FILE  *fp;

    fp = fopen(file, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
    assert_int_equal(chmod(file, mode), 0);
}


/* writes pkey's private key to file: "PEM" or "DER", PKCS#8 or type-specific */
static void
spew_key(const char *file, EVP_PKEY *pkey, const char *format,
    const char *structure, const char *pass, mode_t mode)
{
    size_t             len;
    unsigned char     *data;
    OSSL_ENCODER_CTX  *ectx;

    ectx = OSSL_ENCODER_CTX_new_for_pkey(pkey, EVP_PKEY_KEYPAIR, format,
                                         structure, NULL);
    assert_non_null(ectx);

    if (pass != NULL) {
        assert_int_equal(OSSL_ENCODER_CTX_set_cipher(ectx, "AES-256-CBC",
                                                     NULL), 1);
        assert_int_equal(OSSL_ENCODER_CTX_set_passphrase(ectx,
                         (const unsigned char *) pass, strlen(pass)), 1);
    }

    data = NULL;
    assert_int_equal(OSSL_ENCODER_to_data(ectx, &data, &len), 1);
    spew(file, data, len, mode);

    OPENSSL_free(data);
    OSSL_ENCODER_CTX_free(ectx);
}


/* a self-signed certificate of pkey */
static X509 *
self_signed(EVP_PKEY *pkey, const char *cn)
{
    X509  *x;

    x = X509_new();
    assert_non_null(x);
    assert_int_equal(X509_set_version(x, 2), 1);
    assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), 7), 1);
    assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), 0));
    assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 3600));
    assert_int_equal(X509_NAME_add_entry_by_txt(X509_get_subject_name(x),
                     "CN", MBSTRING_ASC, (const unsigned char *) cn, -1, -1,
                     0), 1);
    assert_int_equal(X509_set_issuer_name(x, X509_get_subject_name(x)), 1);
    assert_int_equal(X509_set_pubkey(x, pkey), 1);
    assert_true(X509_sign(x, pkey, EVP_PKEY_get_base_id(pkey)
                                   == EVP_PKEY_ED25519 ? NULL
                                                       : EVP_sha256()) > 0);
    return x;
}


/* ---- key types and the algorithms of both uses */

static void
expect_algs(const char *type, const char *httpsig, const char *jws)
{
    EVP_PKEY         *pkey;
    ovsa_err_t        err;
    ovsa_key_kind_t   kind;
    const ovsa_alg_t *a;

    pkey = gen(type);

    assert_int_equal(ovsa_key_kind(pkey, &kind, &err), OVSA_OK);

    a = ovsa_alg_for_key(OVSA_ALG_HTTPSIG, pkey, &err);
    assert_non_null(a);
    assert_string_equal(a->name, httpsig);
    assert_int_equal(a->kind, kind);
    assert_true(ovsa_alg_fits(a, pkey));

    a = ovsa_alg_for_key(OVSA_ALG_JWS, pkey, &err);
    assert_non_null(a);
    assert_string_equal(a->name, jws);
    assert_true(ovsa_alg_fits(a, pkey));

    EVP_PKEY_free(pkey);
}


static void
expect_refused(const char *type, const char *why)
{
    EVP_PKEY         *pkey;
    ovsa_err_t        err;
    ovsa_key_kind_t   kind;
    ovsa_signer_t     s;

    pkey = gen(type);

    ovsa_err_clear(&err);
    assert_int_equal(ovsa_key_kind(pkey, &kind, &err), OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_KEY_TYPE);
    assert_non_null(strstr(err.msg, why));

    assert_null(ovsa_alg_for_key(OVSA_ALG_HTTPSIG, pkey, &err));
    assert_int_equal(err.code, OVSA_E_KEY_TYPE);
    assert_null(ovsa_alg_for_key(OVSA_ALG_JWS, pkey, &err));
    assert_int_equal(err.code, OVSA_E_KEY_TYPE);

    /* no alg fits it */
    assert_false(ovsa_alg_fits(ovsa_alg_by_name(OVSA_ALG_HTTPSIG,
                               "ed25519", 7), pkey));
    assert_false(ovsa_alg_fits(ovsa_alg_by_name(OVSA_ALG_JWS, "RS256", 5),
                               pkey));

    /* nor can a server sign with it */
    assert_int_equal(ovsa_signer_init(&s, pkey, pkey, &err), OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_KEY_TYPE);
    ovsa_signer_free(&s);

    EVP_PKEY_free(pkey);
}


static void
test_key_types(void **state)
{
    expect_algs("RSA", "rsa-pss-sha512", "PS256");
    expect_algs("P-256", "ecdsa-p256-sha256", "ES256");
    expect_algs("ED25519", "ed25519", "EdDSA");

    expect_refused("RSA-1024", "1024 bits, at least 2048");
    expect_refused("P-384", "secp384r1");
    expect_refused("ED448", "ED448");
    expect_refused("X25519", "X25519");
}


static void
test_alg_names(void **state)
{
    EVP_PKEY          *rsa, *ec;
    const ovsa_alg_t  *a;

    rsa = gen("RSA");
    ec = gen("P-256");

    /* each use has its own names */
    assert_non_null(ovsa_alg_by_name(OVSA_ALG_HTTPSIG, "rsa-pss-sha512", 14));
    assert_null(ovsa_alg_by_name(OVSA_ALG_HTTPSIG, "PS256", 5));
    assert_null(ovsa_alg_by_name(OVSA_ALG_JWS, "ed25519", 7));
    assert_null(ovsa_alg_by_name(OVSA_ALG_JWS, "ES25", 4));
    assert_null(ovsa_alg_by_name(OVSA_ALG_JWS, "ES2566", 6));
    assert_null(ovsa_alg_by_name(OVSA_ALG_JWS, "none", 4));
    assert_null(ovsa_alg_by_name(OVSA_ALG_JWS, NULL, 0));

    /* RS256 is a JWS alg for RSA keys, never the preferred one */
    a = ovsa_alg_by_name(OVSA_ALG_JWS, "RS256", 5);
    assert_non_null(a);
    assert_false(a->preferred);
    assert_true(ovsa_alg_fits(a, rsa));
    assert_false(ovsa_alg_fits(a, ec));

    a = ovsa_alg_by_name(OVSA_ALG_JWS, "ES256", 5);
    assert_true(ovsa_alg_fits(a, ec));
    assert_false(ovsa_alg_fits(a, rsa));
    assert_int_equal(a->ec_half, 32);

    EVP_PKEY_free(rsa);
    EVP_PKEY_free(ec);
}


/* ---- ECDSA DER <-> r || s */

static void
test_ecdsa_der_raw(void **state)
{
    int            i;
    size_t         n, m;
    BIGNUM        *r, *s;
    EVP_PKEY      *pkey;
    ECDSA_SIG     *es;
    EVP_MD_CTX    *ctx;
    ovsa_err_t     err;
    unsigned char  der[OVSA_ECDSA_DER_MAX], der2[OVSA_ECDSA_DER_MAX];
    unsigned char  raw[64], bad[OVSA_ECDSA_DER_MAX + 2], *p;

    pkey = gen("P-256");

    /* OpenSSL's DER signatures round-trip exactly, and still verify */
    for (i = 0; i < 20; i++) {
        ctx = EVP_MD_CTX_new();
        n = sizeof(der);
        assert_int_equal(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL,
                                            pkey), 1);
        assert_int_equal(EVP_DigestSign(ctx, der, &n,
                                        (const unsigned char *) "abc", 3), 1);
        EVP_MD_CTX_free(ctx);

        assert_int_equal(ovsa_ecdsa_der_to_raw(der, n, raw, sizeof(raw),
                                               &err), OVSA_OK);
        assert_int_equal(ovsa_ecdsa_raw_to_der(raw, sizeof(raw), der2,
                                               sizeof(der2), &m, &err),
                         OVSA_OK);
        assert_int_equal(m, n);
        assert_memory_equal(der, der2, n);

        assert_int_equal(ovsa_alg_verify(ovsa_alg_by_name(OVSA_ALG_JWS,
                                         "ES256", 5), pkey, "abc", 3, raw,
                                         sizeof(raw), OVSA_E_LIC_SIGNATURE,
                                         &err), OVSA_OK);
    }

    /* short r and s are left-padded, and come back the same */
    es = ECDSA_SIG_new();
    r = BN_new();
    s = BN_new();
    assert_int_equal(BN_set_word(r, 1), 1);
    assert_int_equal(BN_set_word(s, 0x0102), 1);
    assert_int_equal(ECDSA_SIG_set0(es, r, s), 1);
    p = der;
    n = (size_t) i2d_ECDSA_SIG(es, &p);
    ECDSA_SIG_free(es);

    assert_int_equal(ovsa_ecdsa_der_to_raw(der, n, raw, sizeof(raw), &err),
                     OVSA_OK);
    for (i = 0; i < 31; i++) {
        assert_int_equal(raw[i], 0);
        assert_int_equal(raw[32 + i], i == 30 ? 1 : 0);
    }
    assert_int_equal(raw[31], 1);
    assert_int_equal(raw[63], 2);
    assert_int_equal(ovsa_ecdsa_raw_to_der(raw, sizeof(raw), der2,
                                           sizeof(der2), &m, &err), OVSA_OK);
    assert_int_equal(m, n);
    assert_memory_equal(der, der2, n);

    /* malformed DER is refused: truncated, trailing byte, garbage */
    assert_int_equal(ovsa_ecdsa_der_to_raw(der, n - 1, raw, sizeof(raw),
                                           &err), OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_SIG_SYNTAX);

    memcpy(bad, der, n);
    bad[n] = 0;
    assert_int_equal(ovsa_ecdsa_der_to_raw(bad, n + 1, raw, sizeof(raw),
                                           &err), OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_SIG_SYNTAX);

    memset(bad, 0x41, sizeof(bad));
    assert_int_equal(ovsa_ecdsa_der_to_raw(bad, sizeof(bad), raw,
                                           sizeof(raw), &err), OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_SIG_SYNTAX);

    assert_int_equal(ovsa_ecdsa_der_to_raw(der, 0, raw, sizeof(raw), &err),
                     OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_SIG_SYNTAX);

    /* an r of 33 significant bytes does not fit P-256's 32 */
    es = ECDSA_SIG_new();
    r = BN_new();
    s = BN_new();
    assert_int_equal(BN_set_bit(r, 263), 1);
    assert_int_equal(BN_set_word(s, 5), 1);
    assert_int_equal(ECDSA_SIG_set0(es, r, s), 1);
    p = bad;
    n = (size_t) i2d_ECDSA_SIG(es, &p);
    ECDSA_SIG_free(es);
    assert_int_equal(ovsa_ecdsa_der_to_raw(bad, n, raw, sizeof(raw), &err),
                     OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_SIG_SYNTAX);

    /* r || s of an odd or zero length */
    assert_int_equal(ovsa_ecdsa_raw_to_der(raw, 63, der, sizeof(der), &m,
                                           &err), OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_SIG_SYNTAX);
    assert_int_equal(ovsa_ecdsa_raw_to_der(raw, 0, der, sizeof(der), &m,
                                           &err), OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_SIG_SYNTAX);

    EVP_PKEY_free(pkey);
}


/* ---- sign and verify under every algorithm */

static void
sign_verify(const char *name, ovsa_alg_use_t use, const char *type,
    const char *other_type, size_t raw_len)
{
    int                bad;
    size_t             n, n2;
    EVP_PKEY          *pkey, *other;
    EVP_MD_CTX        *prep, *ctx;
    ovsa_err_t         err;
    const ovsa_alg_t  *alg;
    unsigned char      sig[OVSA_KEY_SIG_MAX], sig2[OVSA_KEY_SIG_MAX];

    bad = use == OVSA_ALG_JWS ? OVSA_E_LIC_SIGNATURE : OVSA_E_SIG_INVALID;
    alg = ovsa_alg_by_name(use, name, strlen(name));
    assert_non_null(alg);

    pkey = gen(type);
    other = gen(other_type);

    /* a context set up once, copied per signature, as the server does */
    prep = EVP_MD_CTX_new();
    assert_int_equal(ovsa_alg_init(prep, alg, pkey, 1, &err), OVSA_OK);

    ctx = EVP_MD_CTX_new();
    assert_int_equal(EVP_MD_CTX_copy_ex(ctx, prep), 1);
    assert_int_equal(ovsa_alg_sign(ctx, alg, "one", 3, sig, sizeof(sig), &n,
                                   &err), OVSA_OK);
    EVP_MD_CTX_free(ctx);

    ctx = EVP_MD_CTX_new();
    assert_int_equal(EVP_MD_CTX_copy_ex(ctx, prep), 1);
    assert_int_equal(ovsa_alg_sign(ctx, alg, "two", 3, sig2, sizeof(sig2),
                                   &n2, &err), OVSA_OK);
    EVP_MD_CTX_free(ctx);
    EVP_MD_CTX_free(prep);

    assert_int_equal(n, raw_len);
    assert_int_equal(n2, raw_len);

    assert_int_equal(ovsa_alg_verify(alg, pkey, "one", 3, sig, n, bad, &err),
                     OVSA_OK);
    assert_int_equal(ovsa_alg_verify(alg, pkey, "two", 3, sig2, n2, bad,
                                     &err), OVSA_OK);

    /* other data, another signature, a flipped bit: code "bad" */
    assert_int_equal(ovsa_alg_verify(alg, pkey, "two", 3, sig, n, bad, &err),
                     OVSA_ERR);
    assert_int_equal(err.code, bad);
    assert_int_equal(ovsa_alg_verify(alg, pkey, "one", 3, sig2, n2, bad,
                                     &err), OVSA_ERR);
    assert_int_equal(err.code, bad);
    sig[n / 2] ^= 0x01;
    assert_int_equal(ovsa_alg_verify(alg, pkey, "one", 3, sig, n, bad, &err),
                     OVSA_ERR);
    assert_int_equal(err.code, bad);
    sig[n / 2] ^= 0x01;
    assert_int_equal(ovsa_alg_verify(alg, pkey, "one", 3, sig, n - 1, bad,
                                     &err), OVSA_ERR);
    assert_int_equal(err.code, bad);

    /* a key of another type fits neither signing nor verifying */
    prep = EVP_MD_CTX_new();
    assert_int_equal(ovsa_alg_init(prep, alg, other, 1, &err), OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_SIG_ALG);
    EVP_MD_CTX_free(prep);
    assert_int_equal(ovsa_alg_verify(alg, other, "one", 3, sig, n, bad,
                                     &err), OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_SIG_ALG);

    EVP_PKEY_free(other);
    EVP_PKEY_free(pkey);
}


static void
test_sign_verify(void **state)
{
    sign_verify("rsa-pss-sha512", OVSA_ALG_HTTPSIG, "RSA", "P-256", 256);
    sign_verify("ecdsa-p256-sha256", OVSA_ALG_HTTPSIG, "P-256", "ED25519", 64);
    sign_verify("ed25519", OVSA_ALG_HTTPSIG, "ED25519", "RSA", 64);
    sign_verify("PS256", OVSA_ALG_JWS, "RSA", "ED25519", 256);
    sign_verify("RS256", OVSA_ALG_JWS, "RSA", "P-256", 256);
    sign_verify("ES256", OVSA_ALG_JWS, "P-256", "RSA", 64);
    sign_verify("EdDSA", OVSA_ALG_JWS, "ED25519", "P-256", 64);
}


/* PS256 and rsa-pss-sha512 differ in digest, MGF1 and salt */
static void
test_pss_parameters(void **state)
{
    size_t          n;
    EVP_PKEY       *pkey;
    EVP_MD_CTX     *ctx;
    EVP_PKEY_CTX   *pctx;
    ovsa_err_t      err;
    unsigned char   sig[OVSA_KEY_SIG_MAX];

    pkey = gen("RSA");

    ctx = EVP_MD_CTX_new();
    assert_int_equal(ovsa_alg_init(ctx, ovsa_alg_by_name(OVSA_ALG_HTTPSIG,
                     "rsa-pss-sha512", 14), pkey, 1, &err), OVSA_OK);
    assert_int_equal(ovsa_alg_sign(ctx, ovsa_alg_by_name(OVSA_ALG_HTTPSIG,
                     "rsa-pss-sha512", 14), "m", 1, sig, sizeof(sig), &n,
                     &err), OVSA_OK);
    EVP_MD_CTX_free(ctx);

    /* verified independently: PSS, SHA-512, MGF1-SHA-512, salt 64 */
    ctx = EVP_MD_CTX_new();
    assert_int_equal(EVP_DigestVerifyInit(ctx, &pctx, EVP_sha512(), NULL,
                                          pkey), 1);
    assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(pctx,
                                                  RSA_PKCS1_PSS_PADDING), 1);
    assert_int_equal(EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha512()), 1);
    assert_int_equal(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 64), 1);
    assert_int_equal(EVP_DigestVerify(ctx, sig, n, (const unsigned char *) "m",
                                      1), 1);
    EVP_MD_CTX_free(ctx);

    /* ... and not as PS256 (SHA-256, salt 32) */
    assert_int_equal(ovsa_alg_verify(ovsa_alg_by_name(OVSA_ALG_JWS, "PS256",
                                     5), pkey, "m", 1, sig, n,
                                     OVSA_E_LIC_SIGNATURE, &err), OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_LIC_SIGNATURE);

    EVP_PKEY_free(pkey);
}


/* ---- private key files */

static void
test_key_file_mode(void **state)
{
    EVP_PKEY    *pkey, *got;
    ovsa_err_t   err;
    const char  *f;

    pkey = gen("P-256");
    f = path("mode.key");
    spew_key(f, pkey, "PEM", "PrivateKeyInfo", NULL, 0600);

    assert_int_equal(ovsa_key_load(f, &got, &err), OVSA_OK);
    assert_int_equal(EVP_PKEY_eq(got, pkey), 1);
    EVP_PKEY_free(got);

    assert_int_equal(chmod(f, 0400), 0);
    assert_int_equal(ovsa_key_load(f, &got, &err), OVSA_OK);
    EVP_PKEY_free(got);

    /* readable by the group */
    assert_int_equal(chmod(f, 0640), 0);
    got = NULL;
    assert_int_equal(ovsa_key_load(f, &got, &err), OVSA_ERR);
    assert_null(got);
    assert_int_equal(err.code, OVSA_E_KEY_MODE);
    assert_non_null(strstr(err.msg, f));
    assert_non_null(strstr(err.msg, "0640"));

    /* readable by everyone, not by the group */
    assert_int_equal(chmod(f, 0604), 0);
    assert_int_equal(ovsa_key_load(f, &got, &err), OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_KEY_MODE);
    assert_non_null(strstr(err.msg, f));
    assert_non_null(strstr(err.msg, "0604"));

    /* any bit for group or others: write or execute too */
    assert_int_equal(chmod(f, 0620), 0);
    assert_int_equal(ovsa_key_load(f, &got, &err), OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_KEY_MODE);
    assert_int_equal(chmod(f, 0601), 0);
    assert_int_equal(ovsa_key_load_pass(f, "x", &got, &err), OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_KEY_MODE);

    /* the rule itself */
    assert_int_equal(ovsa_key_mode_check("k", 0100600, &err), OVSA_OK);
    assert_int_equal(ovsa_key_mode_check("k", 0100700, &err), OVSA_OK);
    assert_int_equal(ovsa_key_mode_check("k", 0100610, &err), OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_KEY_MODE);
    assert_int_equal(ovsa_key_mode_check("k", 0100644, &err), OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_KEY_MODE);

    EVP_PKEY_free(pkey);
}


static void
expect_key_loads(EVP_PKEY *pkey, const char *name, const char *format,
    const char *structure)
{
    EVP_PKEY    *got;
    ovsa_err_t   err;
    const char  *f;

    f = path(name);
    spew_key(f, pkey, format, structure, NULL, 0600);

    got = NULL;
    assert_int_equal(ovsa_key_load(f, &got, &err), OVSA_OK);
    assert_int_equal(EVP_PKEY_eq(got, pkey), 1);
    EVP_PKEY_free(got);
}


static void
test_key_file_formats(void **state)
{
    EVP_PKEY    *rsa, *ec, *ed, *ed448, *got;
    X509        *x;
    BIO         *bio;
    char        *data;
    long         len;
    ovsa_err_t   err;
    const char  *f;

    rsa = gen("RSA");
    ec = gen("P-256");
    ed = gen("ED25519");

    /* PEM and DER, PKCS#8 and the traditional forms */
    expect_key_loads(rsa, "rsa-p8.pem", "PEM", "PrivateKeyInfo");
    expect_key_loads(rsa, "rsa-p8.der", "DER", "PrivateKeyInfo");
    expect_key_loads(rsa, "rsa-trad.pem", "PEM", "type-specific");
    expect_key_loads(rsa, "rsa-trad.der", "DER", "type-specific");
    expect_key_loads(ec, "ec-p8.pem", "PEM", "PrivateKeyInfo");
    expect_key_loads(ec, "ec-p8.der", "DER", "PrivateKeyInfo");
    expect_key_loads(ec, "ec-trad.pem", "PEM", "type-specific");
    expect_key_loads(ed, "ed-p8.pem", "PEM", "PrivateKeyInfo");
    expect_key_loads(ed, "ed-p8.der", "DER", "PrivateKeyInfo");

    /* encrypted: only with the passphrase, never a prompt */
    f = path("enc.pem");
    spew_key(f, ec, "PEM", "EncryptedPrivateKeyInfo", "s3cret", 0600);
    assert_int_equal(ovsa_key_load_pass(f, "s3cret", &got, &err), OVSA_OK);
    assert_int_equal(EVP_PKEY_eq(got, ec), 1);
    EVP_PKEY_free(got);

    assert_int_equal(ovsa_key_load(f, &got, &err), OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_KEY);
    assert_non_null(strstr(err.msg, "encrypted and no passphrase"));
    assert_non_null(strstr(err.msg, f));

    assert_int_equal(ovsa_key_load_pass(f, "wrong", &got, &err), OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_KEY);
    assert_non_null(strstr(err.msg, "wrong passphrase"));

    f = path("enc.der");
    spew_key(f, rsa, "DER", "EncryptedPrivateKeyInfo", "s3cret", 0600);
    assert_int_equal(ovsa_key_load_pass(f, "s3cret", &got, &err), OVSA_OK);
    assert_int_equal(EVP_PKEY_eq(got, rsa), 1);
    EVP_PKEY_free(got);

    /* not a private key: a certificate, a public key, text, nothing */
    x = self_signed(ec, "not a key");
    bio = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_X509(bio, x), 1);
    len = BIO_get_mem_data(bio, &data);
    f = path("cert-as-key.pem");
    spew(f, data, (size_t) len, 0600);
    BIO_free(bio);
    X509_free(x);
    assert_int_equal(ovsa_key_load(f, &got, &err), OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_KEY);
    assert_non_null(strstr(err.msg, "not a PEM or DER private key"));

    bio = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_PUBKEY(bio, ec), 1);
    len = BIO_get_mem_data(bio, &data);
    f = path("pub.pem");
    spew(f, data, (size_t) len, 0600);
    BIO_free(bio);
    assert_int_equal(ovsa_key_load(f, &got, &err), OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_KEY);

    f = path("text.key");
    spew(f, "hello\n", 6, 0600);
    assert_int_equal(ovsa_key_load(f, &got, &err), OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_KEY);

    assert_int_equal(ovsa_key_load(path("missing.key"), &got, &err),
                     OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_KEY);
    assert_non_null(strstr(err.msg, "missing.key"));

    assert_int_equal(ovsa_key_load(tmpdir, &got, &err), OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_KEY);

    /* a key type ovsa does not use */
    ed448 = gen("ED448");
    f = path("ed448.pem");
    spew_key(f, ed448, "PEM", "PrivateKeyInfo", NULL, 0600);
    assert_int_equal(ovsa_key_load(f, &got, &err), OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_KEY_TYPE);
    EVP_PKEY_free(ed448);

    EVP_PKEY_free(rsa);
    EVP_PKEY_free(ec);
    EVP_PKEY_free(ed);
}


/* ---- certificates: PEM or DER */

static void
test_cert_pem_der(void **state)
{
    int              n;
    X509            *a, *b, *got;
    BIO             *bio;
    char            *data;
    long             len;
    EVP_PKEY        *ka, *kb;
    ovsa_err_t       err;
    unsigned char   *der, *der2;
    STACK_OF(X509)  *chain;

    ka = gen("P-256");
    kb = gen("ED25519");
    a = self_signed(ka, "cert a");
    b = self_signed(kb, "cert b");

    bio = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_X509(bio, a), 1);
    len = BIO_get_mem_data(bio, &data);
    spew(path("a.pem"), data, (size_t) len, 0644);
    BIO_free(bio);

    der = NULL;
    n = i2d_X509(a, &der);
    assert_true(n > 0);
    spew(path("a.der"), der, (size_t) n, 0644);

    /* one certificate, either encoding */
    assert_int_equal(ovsa_cert_load(path("a.pem"), &got, &err), OVSA_OK);
    assert_int_equal(X509_cmp(got, a), 0);
    X509_free(got);
    assert_int_equal(ovsa_cert_load(path("a.der"), &got, &err), OVSA_OK);
    assert_int_equal(X509_cmp(got, a), 0);
    X509_free(got);

    /* a DER chain: concatenated certificates, in order */
    der2 = NULL;
    len = i2d_X509(b, &der2);
    der = OPENSSL_realloc(der, (size_t) (n + len));
    memcpy(der + n, der2, (size_t) len);
    spew(path("ab.der"), der, (size_t) (n + len), 0644);
    assert_int_equal(ovsa_chain_load(path("ab.der"), &chain, &err), OVSA_OK);
    assert_int_equal(sk_X509_num(chain), 2);
    assert_int_equal(X509_cmp(sk_X509_value(chain, 0), a), 0);
    assert_int_equal(X509_cmp(sk_X509_value(chain, 1), b), 0);
    sk_X509_pop_free(chain, X509_free);

    assert_int_equal(ovsa_cert_load(path("ab.der"), &got, &err), OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_PEM);
    assert_non_null(strstr(err.msg, "exactly one"));

    /* a truncated DER certificate, trailing garbage */
    spew(path("cut.der"), der, (size_t) n - 10, 0644);
    assert_int_equal(ovsa_chain_load(path("cut.der"), &chain, &err),
                     OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_PEM);
    assert_non_null(strstr(err.msg, "certificate 1"));

    memcpy(der + n, "\x30\x82junk", 6);
    spew(path("junk.der"), der, (size_t) n + 6, 0644);
    assert_int_equal(ovsa_chain_load(path("junk.der"), &chain, &err),
                     OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_PEM);
    assert_non_null(strstr(err.msg, "certificate 2"));

    /* no certificate at all */
    spew(path("text.pem"), "not a certificate\n", 18, 0644);
    assert_int_equal(ovsa_chain_load(path("text.pem"), &chain, &err),
                     OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_CHAIN_EMPTY);
    assert_non_null(strstr(err.msg, "no PEM or DER certificate"));

    OPENSSL_free(der);
    OPENSSL_free(der2);
    X509_free(a);
    X509_free(b);
    EVP_PKEY_free(ka);
    EVP_PKEY_free(kb);
}


/* ---- the key id fits its buffer exactly */

static void
test_keyid_buffer(void **state)
{
    char           *out;
    size_t          n;
    EVP_PKEY       *pkey;
    ovsa_err_t      err;
    unsigned char   in[8];

    pkey = gen("ED25519");

    /* an exactly sized heap buffer (AddressSanitizer sees an overflow) */
    out = malloc(OVSA_KEYID_LEN + 1);
    assert_non_null(out);
    assert_int_equal(ovsa_keyid_pkey(pkey, out, &err), OVSA_OK);
    assert_int_equal(strlen(out), OVSA_KEYID_LEN);
    free(out);

    /* and a guard byte right after it (seen without a sanitizer) */
    out = malloc(OVSA_KEYID_LEN + 2);
    assert_non_null(out);
    memset(out, 0xa5, OVSA_KEYID_LEN + 2);
    assert_int_equal(ovsa_keyid_pkey(pkey, out, &err), OVSA_OK);
    assert_int_equal(out[OVSA_KEYID_LEN], '\0');
    assert_int_equal((unsigned char) out[OVSA_KEYID_LEN + 1], 0xa5);
    free(out);

    /* base64url writes OVSA_B64URL_LEN(n) + 1 bytes, not a byte more */
    memset(in, 0xfb, sizeof(in));
    for (n = 0; n <= sizeof(in); n++) {
        out = malloc(OVSA_B64URL_LEN(n) + 2);
        memset(out, 0xa5, OVSA_B64URL_LEN(n) + 2);
        assert_int_equal(ovsa_b64_encode(in, n, out, 1), OVSA_B64URL_LEN(n));
        assert_int_equal(strlen(out), OVSA_B64URL_LEN(n));
        assert_null(strchr(out, '='));
        assert_int_equal((unsigned char) out[OVSA_B64URL_LEN(n) + 1], 0xa5);
        free(out);
    }

    EVP_PKEY_free(pkey);
}


/* ---- the answer signing sequence, each key type */

static ovsa_sig_msg_t
msg_of(const char *digest)
{
    ovsa_sig_msg_t  m;

    memset(&m, 0, sizeof(m));
    m.status = 200;
    m.content_type = ovsa_str("application/json");
    m.content_digest = ovsa_str(digest);
    m.nonce = ovsa_str("bm9uY2U");
    m.method = ovsa_str("POST");
    m.target_uri = ovsa_str("https://license.example/v1/check");
    return m;
}


typedef struct {
    const ovsa_signer_t  *signer;
    const char           *base;
    size_t                len;
    int                   rc;
    char                  sig[OVSA_SIG_FIELD_MAX];
} finish_job_t;


static void *
finish_thread(void *arg)
{
    finish_job_t  *j = arg;
    ovsa_err_t     err;

    j->rc = ovsa_sig_finish(j->signer, j->base, j->len, j->sig, &err);
    return NULL;
}


static void
sequence(const char *type, const char *alg)
{
    int                i;
    char              *base;
    size_t             base_size, base_len, sig_len, n;
    EVP_PKEY          *pkey;
    pthread_t          th[2];
    ovsa_err_t         err;
    finish_job_t       job[2];
    ovsa_signer_t      s;
    ovsa_sig_msg_t     m;
    ovsa_sig_params_t  p;
    char               digest[OVSA_DIGEST_FIELD_LEN + 1];
    char               input[OVSA_SIG_INPUT_MAX], sig[OVSA_SIG_FIELD_MAX];
    unsigned char      raw[OVSA_SIG_MAX];
    const char         body[] = "{\"verdict\":\"valid\"}";

    pkey = gen(type);
    assert_int_equal(ovsa_signer_init(&s, pkey, pkey, &err), OVSA_OK);
    assert_string_equal(s.alg->name, alg);
    assert_int_equal(strlen(s.keyid), OVSA_KEYID_LEN);

    /* prepare: digest, Signature-Input, base in a buffer of the bound */
    m = msg_of(NULL);
    base_size = ovsa_sig_base_max(&m);
    base = malloc(base_size);
    assert_int_equal(ovsa_sig_prepare(&s, &m, body, strlen(body), 1700000000,
                                      300, digest, input, base, base_size,
                                      &base_len, &err), OVSA_OK);
    assert_true(base_len <= base_size);
    assert_non_null(strstr(input, alg));

    /* a buffer one byte short: refused, the size needed reported */
    assert_int_equal(ovsa_sig_prepare(&s, &m, body, strlen(body), 1700000000,
                                      300, digest, input, base,
                                      base_len - 1, &n, &err), OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_INTERNAL);
    assert_int_equal(n, base_len);

    /* finish, as a hardware-key worker would: two threads, one signer */
    for (i = 0; i < 2; i++) {
        job[i].signer = &s;
        job[i].base = base;
        job[i].len = base_len;
        job[i].rc = OVSA_ERR;
        assert_int_equal(pthread_create(&th[i], NULL, finish_thread,
                                        &job[i]), 0);
    }
    for (i = 0; i < 2; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(job[i].rc, OVSA_OK);
    }

    /* the client: parse once, then verify the parsed signature */
    m = msg_of(digest);
    for (i = 0; i < 2; i++) {
        assert_int_equal(ovsa_sig_parse(ovsa_str(input), ovsa_str(job[i].sig), &p, raw,
                                        &sig_len, &err), OVSA_OK);
        assert_int_equal(ovsa_sig_check_time(&p, 1700000100, 60, &err),
                         OVSA_OK);
        assert_int_equal(ovsa_sig_verify_parsed(pkey, &m, &p, raw, sig_len,
                                                1700000100, 60, &err),
                         OVSA_OK);
    }

    /* every failure of the parsed path has its own code */
    assert_int_equal(ovsa_sig_verify_parsed(pkey, &m, &p, raw, sig_len,
                                            1700000000 - 61, 60, &err),
                     OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_SIG_CREATED);
    assert_int_equal(ovsa_sig_check_time(&p, 1700000300 + 60, 60, &err),
                     OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_SIG_EXPIRED);
    m.method = ovsa_str("GET");
    assert_int_equal(ovsa_sig_verify_parsed(pkey, &m, &p, raw, sig_len,
                                            1700000100, 60, &err), OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_SIG_INVALID);
    m = msg_of(digest);
    p.keyid[0] = p.keyid[0] == 'A' ? 'B' : 'A';
    assert_int_equal(ovsa_sig_verify_parsed(pkey, &m, &p, raw, sig_len,
                                            1700000100, 60, &err), OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_SIG_KEYID);
    p.alg = strcmp(alg, OVSA_ALG_ED25519) ? OVSA_ALG_ED25519 : OVSA_ALG_RSA;
    assert_int_equal(ovsa_sig_verify_parsed(pkey, &m, &p, raw, sig_len,
                                            1700000100, 60, &err), OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_SIG_ALG);

    /* the two steps at once: the same header values */
    m = msg_of(NULL);
    assert_int_equal(ovsa_sig_sign_response(&s, &m, body, strlen(body),
                                            1700000000, 300, base, base_size,
                                            &n, digest, input, sig, &err),
                     OVSA_OK);
    m = msg_of(digest);
    assert_int_equal(ovsa_sig_verify(pkey, &m, ovsa_str(input), ovsa_str(sig), 1700000100,
                                     60, &p, &err), OVSA_OK);
    assert_string_equal(p.alg, alg);

    free(base);
    ovsa_signer_free(&s);
    EVP_PKEY_free(pkey);
}


static void
test_sequence(void **state)
{
    sequence("RSA", OVSA_ALG_RSA);
    sequence("P-256", OVSA_ALG_P256);
    sequence("ED25519", OVSA_ALG_ED25519);
}


static int
setup(void **state)
{
    return mkdtemp(tmpdir) == NULL ? -1 : 0;
}


static int
teardown(void **state)
{
    char  cmd[512];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}


/*
 * The fixed SPKI forms of Ed25519 and P-256 keys are exactly what
 * OpenSSL's encoder writes, both ways, and nothing else takes them.
 */
static void
test_spki_fixed(void **state)
{
    int             i, n;
    size_t          len;
    EVP_PKEY       *pkey, *back;
    unsigned char  *der, buf[OVSA_SPKI_FIXED_MAX], bad[OVSA_SPKI_FIXED_MAX];

    for (i = 0; i < 6; i++) {
        pkey = i % 2 ? EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")
                     : EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
        assert_non_null(pkey);

        der = NULL;
        n = i2d_PUBKEY(pkey, &der);
        assert_true(n > 0);
        len = ovsa_key_spki_fixed(pkey, buf);
        assert_int_equal(len, (size_t) n);
        assert_memory_equal(buf, der, len);

        back = ovsa_key_from_spki_fixed(der, len);
        assert_non_null(back);
        assert_int_equal(EVP_PKEY_eq(pkey, back), 1);
        EVP_PKEY_free(back);

        /* one byte off anywhere in the prefix, or a shorter key: no */
        memcpy(bad, der, len);
        bad[i % 2 ? 20 : 6] ^= 0x01;
        assert_null(ovsa_key_from_spki_fixed(bad, len));
        assert_null(ovsa_key_from_spki_fixed(der, len - 1));

        if (i % 2) {
            /* a P-256 point off the curve */
            memcpy(bad, der, len);
            bad[len - 1] ^= 0x01;
            assert_null(ovsa_key_from_spki_fixed(bad, len));
        }

        OPENSSL_free(der);
        EVP_PKEY_free(pkey);
    }

    /* other keys have no fixed form */
    pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    assert_int_equal(ovsa_key_spki_fixed(pkey, buf), 0);
    EVP_PKEY_free(pkey);
    pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t) 2048);
    assert_int_equal(ovsa_key_spki_fixed(pkey, buf), 0);
    EVP_PKEY_free(pkey);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_types),
        cmocka_unit_test(test_alg_names),
        cmocka_unit_test(test_ecdsa_der_raw),
        cmocka_unit_test(test_sign_verify),
        cmocka_unit_test(test_pss_parameters),
        cmocka_unit_test(test_key_file_mode),
        cmocka_unit_test(test_key_file_formats),
        cmocka_unit_test(test_cert_pem_der),
        cmocka_unit_test(test_keyid_buffer),
        cmocka_unit_test(test_spki_fixed),
        cmocka_unit_test(test_sequence),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
