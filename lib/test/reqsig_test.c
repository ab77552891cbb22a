/*
 * reqsig_test.c: cmocka unit tests of lib/ovsa_reqsig (machine keys and
 * the request profile of RFC 9421).  Run by t/010-unit.t.
 *
 * The known answer was produced outside this code: the base written by
 * hand from RFC 9421 section 2.5 and docs/signatures.md, its Ed25519
 * signature computed with "openssl pkeyutl -sign -rawin", the machine key
 * with "openssl pkey -pubout -outform DER | base64" in the url alphabet.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "ovsa_b64.h"
#include "ovsa_pin.h"
#include "ovsa_reqsig.h"


static const char kat_key[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEICu3XPOKHKJnfDuyoKwX69wyahTQAmvBLyCmtgPBAcBA\n"
    "-----END PRIVATE KEY-----\n";

static const char kat_machine_key[] =
    "MCowBQYDK2VwAyEAbOOInzII0LVrqVivjwUfXsOWTe2j85U3R0InfrIPvao";

static const char kat_keyid[] = "iGpE-rF0ZzZPnl5dr_HhE9Ht-lZca5o_5YTQYwOsjGo";

static const char kat_digest[] =
    "sha-256=:FZlOcB3UOzQZ2kk5mGZQK2RZbUBCWhBDHJsioy7umEU=:";

static const char kat_input[] =
    "ovsa=(\"@method\" \"@path\" \"content-digest\" \"ovsa-nonce\");"
    "created=1700000000;"
    "keyid=\"iGpE-rF0ZzZPnl5dr_HhE9Ht-lZca5o_5YTQYwOsjGo\";"
    "alg=\"ed25519\";tag=\"ovsa-machine-v1\"";

static const char kat_sig[] =
    "ovsa=:EY+Cv/5fViWAPfAIhksOJlmGe4+NOcFil6mZH4ZRD7WRZG28GT8VmANe8LmtIogg"
    "SBpti7SyHimAIYI26HX/CA==:";

#define KAT_CREATED  1700000000
#define KAT_NOW      1700000030
#define SKEW         60


static EVP_PKEY *
kat_pkey(void)
{
    BIO       *bio;
    EVP_PKEY  *pkey;

    bio = BIO_new_mem_buf(kat_key, -1);
    pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    BIO_free(bio);
    assert_non_null(pkey);
    return pkey;
}


static ovsa_reqsig_msg_t
kat_msg(void)
{
    ovsa_reqsig_msg_t  m;

    memset(&m, 0, sizeof(m));
    m.method = ovsa_str("POST");
    m.path = ovsa_str("/v1/check");
    m.content_digest = ovsa_str(kat_digest);
    m.nonce = ovsa_str("bm9uY2UtMTIzNDU2Nzg5MA");
    return m;
}


static EVP_PKEY *
gen_key(const char *type)
{
    EVP_PKEY  *pkey;

    if (strcmp(type, "RSA") == 0) {
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t) 2048);
    } else if (strcmp(type, "EC") == 0) {
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    } else if (strcmp(type, "P-384") == 0) {
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    } else {
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, type);
    }

    assert_non_null(pkey);
    return pkey;
}


/* the code of ovsa_reqsig_verify (OVSA_E_NONE when it verifies) */
static int
verify_code(EVP_PKEY *pub, const ovsa_reqsig_msg_t *m, const char *input,
    const char *sig, time_t now)
{
    ovsa_err_t  err;

    ovsa_err_clear(&err);
    if (ovsa_reqsig_verify(pub, m, ovsa_str(input), ovsa_str(sig), now,
                           SKEW, &err)
        == OVSA_OK)
    {
        return OVSA_E_NONE;
    }

    assert_true(err.msg[0] != '\0');
    return err.code;
}


/* replaces the first "from" in s by "to" (in a static buffer) */
static const char *
subst(const char *s, const char *from, const char *to)
{
    static char  buf[4096];
    const char  *at;

    at = strstr(s, from);
    assert_non_null(at);
    snprintf(buf, sizeof(buf), "%.*s%s%s", (int) (at - s), s, to,
             at + strlen(from));
    return buf;
}


/* ---- machine keys */

static void
test_machine_key_kat(void **state)
{
    char          out[OVSA_MACHINE_KEY_MAX + 1], keyid[OVSA_KEYID_LEN + 1];
    EVP_PKEY     *pkey, *pub;
    ovsa_err_t    err;

    pkey = kat_pkey();

    /* the private key encodes as its public half */
    assert_int_equal(ovsa_machine_key_encode(pkey, out, sizeof(out), &err),
                     OVSA_OK);
    assert_string_equal(out, kat_machine_key);

    assert_int_equal(ovsa_machine_key_parse(kat_machine_key,
                                            strlen(kat_machine_key), &pub,
                                            &err), OVSA_OK);
    assert_int_equal(EVP_PKEY_eq(pub, pkey), 1);
    assert_int_equal(ovsa_keyid_pkey(pub, keyid, &err), OVSA_OK);
    assert_string_equal(keyid, kat_keyid);

    /* too small a buffer */
    assert_int_equal(ovsa_machine_key_encode(pkey, out, 20, &err), OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_INTERNAL);

    EVP_PKEY_free(pub);
    EVP_PKEY_free(pkey);
}


static void
machine_key_trip(const char *type)
{
    char         out[OVSA_MACHINE_KEY_MAX + 1];
    EVP_PKEY    *pkey, *pub;
    ovsa_err_t   err;

    pkey = gen_key(type);
    assert_int_equal(ovsa_machine_key_encode(pkey, out, sizeof(out), &err),
                     OVSA_OK);
    assert_true(strlen(out) <= OVSA_MACHINE_KEY_MAX);
    assert_null(strpbrk(out, "+/="));
    assert_int_equal(ovsa_machine_key_parse(out, strlen(out), &pub, &err),
                     OVSA_OK);
    assert_int_equal(EVP_PKEY_eq(pub, pkey), 1);

    EVP_PKEY_free(pub);
    EVP_PKEY_free(pkey);
}


static void
test_machine_key_round_trip(void **state)
{
    machine_key_trip("ED25519");
    machine_key_trip("EC");
}


static int
parse_code(const char *b64, size_t len)
{
    EVP_PKEY    *pub;
    ovsa_err_t   err;

    pub = (EVP_PKEY *) 1;
    ovsa_err_clear(&err);
    if (ovsa_machine_key_parse(b64, len, &pub, &err) == OVSA_OK) {
        EVP_PKEY_free(pub);
        return OVSA_E_NONE;
    }

    assert_null(pub);
    assert_true(err.msg[0] != '\0');
    return err.code;
}


static void
test_machine_key_refusals(void **state)
{
    int             i;
    char            b64[1024], *s;
    size_t          der_len;
    EVP_PKEY       *pkey;
    ovsa_err_t      err;
    unsigned char  *der, *p, buf[1024];

    static const char  *types[] = { "RSA", "P-384", "ED448", "X25519" };

    /* malformed: OVSA_E_MACHINE_KEY */
    assert_int_equal(parse_code("", 0), OVSA_E_MACHINE_KEY);
    assert_int_equal(parse_code(NULL, 0), OVSA_E_MACHINE_KEY);
    assert_int_equal(parse_code(kat_machine_key,
                                strlen(kat_machine_key) - 1),
                     OVSA_E_MACHINE_KEY);              /* truncated */
    s = (char *) subst(kat_machine_key, "MCow", "MC+w");   /* base64 */
    assert_int_equal(parse_code(s, strlen(s)), OVSA_E_MACHINE_KEY);
    snprintf(b64, sizeof(b64), "%s=", kat_machine_key);     /* padding */
    assert_int_equal(parse_code(b64, strlen(b64)), OVSA_E_MACHINE_KEY);
    assert_int_equal(parse_code("AAAA", 4), OVSA_E_MACHINE_KEY);
    memset(b64, 'A', OVSA_MACHINE_KEY_MAX + 4);
    assert_int_equal(parse_code(b64, OVSA_MACHINE_KEY_MAX + 4),
                     OVSA_E_MACHINE_KEY);               /* too long */

    /* one DER SPKI and nothing after it */
    der = ovsa_b64_decode_alloc(kat_machine_key, strlen(kat_machine_key), 1,
                                &der_len);
    assert_non_null(der);
    memcpy(buf, der, der_len);
    buf[der_len] = 0;
    ovsa_b64_encode(buf, der_len + 1, b64, 1);
    assert_int_equal(parse_code(b64, strlen(b64)), OVSA_E_MACHINE_KEY);

    /* BER OpenSSL reads but would not write (the BIT STRING's unused-bits
     * byte set, found by fuzz/reqsig): one key, one encoding */
    assert_int_equal(der[11], 0x00);
    memcpy(buf, der, der_len);
    buf[11] = 0x05;
    ovsa_b64_encode(buf, der_len, b64, 1);
    assert_int_equal(parse_code(b64, strlen(b64)), OVSA_E_MACHINE_KEY);
    free(der);

    /* well-formed keys of other types: OVSA_E_MACHINE_KEY_TYPE */
    for (i = 0; i < (int) (sizeof(types) / sizeof(types[0])); i++) {
        pkey = gen_key(types[i]);
        p = NULL;
        der_len = (size_t) i2d_PUBKEY(pkey, &p);
        assert_true(der_len > 0 && der_len < 400);
        ovsa_b64_encode(p, der_len, b64, 1);
        OPENSSL_free(p);

        assert_int_equal(ovsa_machine_key_encode(pkey, b64 + 600, 400, &err),
                         OVSA_ERR);
        assert_int_equal(err.code, OVSA_E_MACHINE_KEY_TYPE);

        /* the RSA key is longer than any machine key: malformed first */
        assert_int_equal(parse_code(b64, strlen(b64)),
                         strlen(b64) > OVSA_MACHINE_KEY_MAX
                         ? OVSA_E_MACHINE_KEY : OVSA_E_MACHINE_KEY_TYPE);
        EVP_PKEY_free(pkey);
    }
}


/* ---- the request profile */

static void
test_kat(void **state)
{
    char               input[OVSA_SIG_INPUT_MAX + 1];
    char               sig[OVSA_SIG_FIELD_MAX + 1];
    EVP_PKEY          *pkey;
    ovsa_err_t         err;
    ovsa_reqsig_msg_t  m;

    pkey = kat_pkey();
    m = kat_msg();

    assert_int_equal(ovsa_reqsig_sign(pkey, &m, KAT_CREATED, input, sig,
                                      &err), OVSA_OK);
    assert_string_equal(input, kat_input);
    assert_string_equal(sig, kat_sig);

    assert_int_equal(verify_code(pkey, &m, kat_input, kat_sig, KAT_NOW),
                     OVSA_E_NONE);

    EVP_PKEY_free(pkey);
}


static void
round_trip(const char *type, const char *alg)
{
    char               input[OVSA_SIG_INPUT_MAX + 1], other_alg[64];
    char               sig[OVSA_SIG_FIELD_MAX + 1], sigbad[OVSA_SIG_FIELD_MAX + 1];
    char               oinput[OVSA_SIG_INPUT_MAX + 1];
    char               osig[OVSA_SIG_FIELD_MAX + 1];
    char               from[64];
    EVP_PKEY          *pkey, *other, *pub;
    ovsa_err_t         err;
    ovsa_reqsig_msg_t  m, t;

    pkey = gen_key(type);
    other = gen_key(type);
    m = kat_msg();

    assert_int_equal(ovsa_reqsig_sign(pkey, &m, KAT_CREATED, input, sig,
                                      &err), OVSA_OK);
    assert_non_null(strstr(input, alg));

    /* the verifier holds the public key only, from "machine_key" */
    {
        char  mk[OVSA_MACHINE_KEY_MAX + 1];

        assert_int_equal(ovsa_machine_key_encode(pkey, mk, sizeof(mk), &err),
                         OVSA_OK);
        assert_int_equal(ovsa_machine_key_parse(mk, strlen(mk), &pub, &err),
                         OVSA_OK);
    }

    assert_int_equal(verify_code(pub, &m, input, sig, KAT_NOW), OVSA_E_NONE);

    /* each covered component changed: the signature does not verify */
    t = m;
    t.method = ovsa_str("PUT");
    assert_int_equal(verify_code(pub, &t, input, sig, KAT_NOW),
                     OVSA_E_SIG_INVALID);
    t = m;
    t.path = ovsa_str("/v1/activate");
    assert_int_equal(verify_code(pub, &t, input, sig, KAT_NOW),
                     OVSA_E_SIG_INVALID);
    t = m;
    t.content_digest =
        ovsa_str("sha-256=:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:");
    assert_int_equal(verify_code(pub, &t, input, sig, KAT_NOW),
                     OVSA_E_SIG_INVALID);
    t = m;
    t.nonce = ovsa_str("another-nonce");
    assert_int_equal(verify_code(pub, &t, input, sig, KAT_NOW),
                     OVSA_E_SIG_INVALID);

    /* an absent component cannot be verified, nor signed */
    t = m;
    t.content_digest = ovsa_str(NULL);
    assert_int_equal(verify_code(pub, &t, input, sig, KAT_NOW),
                     OVSA_E_SIG_COMPONENTS);
    assert_int_equal(ovsa_reqsig_sign(pkey, &t, KAT_CREATED, oinput, osig,
                                      &err), OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_SIG_COMPONENTS);

    /* a flipped signature byte */
    strcpy(sigbad, sig);
    sigbad[10] = sigbad[10] == 'A' ? 'B' : 'A';
    assert_int_equal(verify_code(pub, &m, input, sigbad, KAT_NOW),
                     OVSA_E_SIG_INVALID);

    /* another machine's signature under this machine's keyid */
    assert_int_equal(ovsa_reqsig_sign(other, &m, KAT_CREATED, oinput, osig,
                                      &err), OVSA_OK);
    assert_int_equal(verify_code(pub, &m, input, osig, KAT_NOW),
                     OVSA_E_SIG_INVALID);

    /* ... and under its own keyid: not this machine */
    assert_int_equal(verify_code(pub, &m, oinput, osig, KAT_NOW),
                     OVSA_E_SIG_KEYID);

    /* created: within now +- skew */
    assert_int_equal(verify_code(pub, &m, input, sig, KAT_CREATED + SKEW),
                     OVSA_E_NONE);
    assert_int_equal(verify_code(pub, &m, input, sig,
                                 KAT_CREATED + SKEW + 1),
                     OVSA_E_SIG_EXPIRED);
    assert_int_equal(verify_code(pub, &m, input, sig, KAT_CREATED - SKEW),
                     OVSA_E_NONE);
    assert_int_equal(verify_code(pub, &m, input, sig,
                                 KAT_CREATED - SKEW - 1),
                     OVSA_E_SIG_CREATED);
    assert_int_equal(verify_code(pub, &m, subst(input, "created=1700000000",
                                 "created=1700000001"), sig, KAT_NOW),
                     OVSA_E_SIG_INVALID);

    /* missing fields or label */
    assert_int_equal(verify_code(pub, &m, NULL, sig, KAT_NOW),
                     OVSA_E_SIG_MISSING);
    assert_int_equal(verify_code(pub, &m, input, NULL, KAT_NOW),
                     OVSA_E_SIG_MISSING);
    assert_int_equal(verify_code(pub, &m, subst(input, "ovsa=", "sig1="),
                                 sig, KAT_NOW), OVSA_E_SIG_MISSING);
    assert_int_equal(verify_code(pub, &m, input, subst(sig, "ovsa=", "x="),
                                 KAT_NOW), OVSA_E_SIG_MISSING);

    /* malformed */
    assert_int_equal(verify_code(pub, &m, subst(input, "ovsa=(", "ovsa=(("),
                                 sig, KAT_NOW), OVSA_E_SIG_SYNTAX);
    assert_int_equal(verify_code(pub, &m, input, "ovsa=:!!:", KAT_NOW),
                     OVSA_E_SIG_SYNTAX);
    assert_int_equal(verify_code(pub, &m, subst(input, "created=1700000000",
                                 "created=-1"), sig, KAT_NOW),
                     OVSA_E_SIG_SYNTAX);

    /* exactly our components and parameters */
    assert_int_equal(verify_code(pub, &m, subst(input, " \"ovsa-nonce\"", ""),
                                 sig, KAT_NOW), OVSA_E_SIG_COMPONENTS);
    assert_int_equal(verify_code(pub, &m, subst(input, "\"ovsa-nonce\")",
                                 "\"ovsa-nonce\" \"content-type\")"),
                                 sig, KAT_NOW), OVSA_E_SIG_COMPONENTS);
    assert_int_equal(verify_code(pub, &m, subst(input, "\"@path\"",
                                 "\"@target-uri\""), sig, KAT_NOW),
                     OVSA_E_SIG_COMPONENTS);
    assert_int_equal(verify_code(pub, &m, subst(input, "\"ovsa-nonce\")",
                                 "\"ovsa-nonce\";req)"), sig, KAT_NOW),
                     OVSA_E_SIG_COMPONENTS);
    assert_int_equal(verify_code(pub, &m, subst(input, ";keyid=",
                                 ";expires=1700000300;keyid="), sig,
                                 KAT_NOW), OVSA_E_SIG_COMPONENTS);
    assert_int_equal(verify_code(pub, &m, subst(input, "\"ovsa-machine-v1\"",
                                 "\"ovsa-machine-v1\";nonce=\"x\""), sig,
                                 KAT_NOW), OVSA_E_SIG_COMPONENTS);

    /* the answers' tag is not the requests' */
    assert_int_equal(verify_code(pub, &m, subst(input, "ovsa-machine-v1",
                                 "ovsa-license-v1"), sig, KAT_NOW),
                     OVSA_E_SIG_TAG);

    /* alg: unknown, or not the key's */
    snprintf(from, sizeof(from), "alg=\"%s\"", alg);
    snprintf(other_alg, sizeof(other_alg), "alg=\"%s\"",
             strcmp(alg, "ed25519") == 0 ? "ecdsa-p256-sha256" : "ed25519");
    assert_int_equal(verify_code(pub, &m, subst(input, from, other_alg), sig,
                                 KAT_NOW), OVSA_E_SIG_ALG);
    assert_int_equal(verify_code(pub, &m, subst(input, from,
                                 "alg=\"hmac-sha256\""), sig, KAT_NOW),
                     OVSA_E_SIG_ALG);

    EVP_PKEY_free(pub);
    EVP_PKEY_free(other);
    EVP_PKEY_free(pkey);
}


static void
test_ed25519(void **state)
{
    round_trip("ED25519", "ed25519");
}


static void
test_p256(void **state)
{
    round_trip("EC", "ecdsa-p256-sha256");
}


/* RSA has an answer alg but is no machine key: neither signs nor verifies */
static void
test_rsa_refused(void **state)
{
    char               input[OVSA_SIG_INPUT_MAX + 1];
    char               sig[OVSA_SIG_FIELD_MAX + 1];
    EVP_PKEY          *rsa;
    ovsa_err_t         err;
    ovsa_reqsig_msg_t  m;

    rsa = gen_key("RSA");
    m = kat_msg();

    assert_int_equal(ovsa_reqsig_sign(rsa, &m, KAT_CREATED, input, sig,
                                      &err), OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_MACHINE_KEY_TYPE);
    assert_int_equal(verify_code(rsa, &m, kat_input, kat_sig, KAT_NOW),
                     OVSA_E_MACHINE_KEY_TYPE);

    EVP_PKEY_free(rsa);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_machine_key_kat),
        cmocka_unit_test(test_machine_key_round_trip),
        cmocka_unit_test(test_machine_key_refusals),
        cmocka_unit_test(test_kat),
        cmocka_unit_test(test_ed25519),
        cmocka_unit_test(test_p256),
        cmocka_unit_test(test_rsa_refused),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
