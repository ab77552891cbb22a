/*
 * license_test.c: cmocka unit tests of lib/ovsa_license.c, run by
 * t/010-unit.t.  Keys and certificates are made in memory; the
 * field tests sign their (invalid) payloads with a JWS signer of their own,
 * written here independently of the library's.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <dirent.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "ovsa_file.h"
#include "ovsa_license.h"
#include "ovsa_pin.h"

#define PIN_A  "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
#define PIN_B  "sha256//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="

/* a license secret and its hash (sha256 of the 43 characters) */
#define SECRET      "b3ZzYS10ZXN0LXNlY3JldC0wMDAwMDAwMDAwMDAwMDA"
#define SECRET_HEX  "78f595e2df3866a1153f4d1760a5566a" \
                    "2744777cad8900dee0f9c28a24339cbc"

static EVP_PKEY  *k_rsa, *k_rsa2, *k_ec, *k_ec2, *k_ed, *k_ed2, *k_rsa1024;
static X509      *c_rsa, *c_rsa2, *c_ec, *c_ec2, *c_ed, *c_ed2, *c_rsa1024;


/* ---- fixtures */

static X509 *
make_cert(EVP_PKEY *key, const char *cn)
{
    X509       *x;
    X509_NAME  *name;

    x = X509_new();
    assert_non_null(x);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, key);
    name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               (const unsigned char *) cn, -1, -1, 0);
    X509_set_issuer_name(x, name);
    assert_true(X509_sign(x, key, EVP_PKEY_is_a(key, "ED25519")
                                  ? NULL : EVP_sha256()) > 0);
    return x;
}


static int
setup(void **state)
{
    k_rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t) 2048);
    k_rsa2 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t) 2048);
    k_rsa1024 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t) 1024);
    k_ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    k_ec2 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    k_ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    k_ed2 = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    if (!k_rsa || !k_rsa2 || !k_rsa1024 || !k_ec || !k_ec2 || !k_ed
        || !k_ed2)
    {
        return -1;
    }

    c_rsa = make_cert(k_rsa, "isv rsa");
    c_rsa2 = make_cert(k_rsa2, "isv rsa 2");
    c_rsa1024 = make_cert(k_rsa1024, "isv rsa 1024");
    c_ec = make_cert(k_ec, "isv ec");
    c_ec2 = make_cert(k_ec2, "isv ec 2");
    c_ed = make_cert(k_ed, "isv ed");
    c_ed2 = make_cert(k_ed2, "isv ed 2");
    return 0;
}


static int
teardown(void **state)
{
    EVP_PKEY  *k[] = { k_rsa, k_rsa2, k_rsa1024, k_ec, k_ec2, k_ed, k_ed2 };
    X509      *c[] = { c_rsa, c_rsa2, c_rsa1024, c_ec, c_ec2, c_ed, c_ed2 };
    size_t     i;

    for (i = 0; i < sizeof(k) / sizeof(k[0]); i++) {
        EVP_PKEY_free(k[i]);
        X509_free(c[i]);
    }
    return 0;
}


/* A valid floating license payload. */
static json_t *
base_payload(void)
{
    json_t  *p;

    p = json_pack("{s:i, s:s, s:i, s:i, s:{s:s, s:n, s:s}, s:s, s:s,"
                  " s:{s:n, s:i, s:i, s:i, s:n, s:n}, s:b, s:i, s:n,"
                  " s:[{s:s, s:{s:s, s:n}}, {s:s, s:{s:s, s:s}}]}",
                  "ovsa", 1, "license_id", "lic-0001", "version", 1,
                  "issued_at", 1763800000,
                  "customer", "name", "ACME Corp", "cert_sha256",
                  "secret_sha256", SECRET_HEX,
                  "product", "face-detection", "type", "floating",
                  "limits", "usage", "max_activations", 3, "seats", 10,
                  "lease_seconds", 600, "deactivations",
                  "deactivation_period",
                  "require_hardware_key", 0, "sync_interval", 3600,
                  "expires_at",
                  "servers",
                  "url", "https://ls1.example.com:8443",
                  "pins", "current", PIN_A, "future",
                  "url", "https://ls2.example.com",
                  "pins", "current", PIN_A, "future", PIN_B);
    assert_non_null(p);
    return p;
}


static char *
b64url(const unsigned char *in, size_t len)
{
    char    *out;
    size_t   i, n;

    out = malloc(4 * ((len + 2) / 3) + 1);
    n = EVP_EncodeBlock((unsigned char *) out, in, (int) len);
    for (i = 0; i < n && out[i] != '='; i++) {
        out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
    }
    out[i] = '\0';
    return out;
}


static char *
cert_b64(X509 *x)
{
    int             len;
    char           *out;
    unsigned char  *der = NULL;

    len = i2d_X509(x, &der);
    out = malloc(4 * ((len + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *) out, der, len);
    OPENSSL_free(der);
    return out;
}


/* The test's own JWS: Ed25519 over header text + payload bytes. */
static char *
jws_raw(const char *hdr, const char *payload, size_t plen, EVP_PKEY *key)
{
    char           *prot, *pay, *input, *sig, *out;
    size_t          siglen, n;
    EVP_MD_CTX     *m;
    unsigned char   s[64];

    prot = b64url((const unsigned char *) hdr, strlen(hdr));
    pay = b64url((const unsigned char *) payload, plen);
    n = strlen(prot) + strlen(pay) + 2;
    input = malloc(n);
    snprintf(input, n, "%s.%s", prot, pay);

    m = EVP_MD_CTX_new();
    siglen = sizeof(s);
    assert_int_equal(EVP_DigestSignInit(m, NULL, NULL, NULL, key), 1);
    assert_int_equal(EVP_DigestSign(m, s, &siglen,
                                    (unsigned char *) input, n - 1), 1);
    EVP_MD_CTX_free(m);
    sig = b64url(s, siglen);

    n = strlen(prot) + strlen(pay) + strlen(sig) + 64;
    out = malloc(n);
    snprintf(out, n, "{\"protected\":\"%s\",\"payload\":\"%s\","
             "\"signature\":\"%s\"}", prot, pay, sig);
    free(prot);
    free(pay);
    free(input);
    free(sig);
    return out;
}


static char *
ed_header(void)
{
    char  *x5c, *h;

    x5c = cert_b64(c_ed);
    h = malloc(strlen(x5c) + 128);
    sprintf(h, "{\"alg\":\"EdDSA\",\"typ\":\"ovsa-license+jws\","
            "\"x5c\":[\"%s\"]}", x5c);
    free(x5c);
    return h;
}


static char *
jws_payload(json_t *p)
{
    char  *hdr, *text, *out;

    hdr = ed_header();
    text = json_dumps(p, JSON_COMPACT);
    out = jws_raw(hdr, text, strlen(text), k_ed);
    free(hdr);
    free(text);
    return out;
}


static int
parse_code(const char *jws, ovsa_err_t *err)
{
    ovsa_license_t  *lic = NULL;

    ovsa_err_clear(err);
    if (ovsa_license_parse(jws, strlen(jws), &lic, err) == OVSA_OK) {
        ovsa_license_free(lic);
        return OVSA_E_NONE;
    }
    assert_null(lic);
    return err->code;
}


/* ---- round trips */

static void
roundtrip(EVP_PKEY *key, X509 *cert, X509 *other, const char *alg,
    const char *want_alg)
{
    char            *text, *jws;
    json_t          *p, *j;
    size_t           n;
    ovsa_err_t       err;
    unsigned char   *sig;
    ovsa_license_t  *lic;
    X509            *isv[2];

    p = base_payload();
    text = json_dumps(p, 0);
    assert_int_equal(ovsa_license_sign_alg(text, key, cert, alg, &jws, &err),
                     OVSA_OK);

    assert_int_equal(ovsa_license_parse(jws, strlen(jws), &lic, &err),
                     OVSA_OK);
    assert_string_equal(lic->alg, want_alg);
    assert_string_equal(lic->id, "lic-0001");
    assert_int_equal(lic->version, 1);
    assert_int_equal(lic->issued_at, 1763800000);
    assert_string_equal(lic->customer_name, "ACME Corp");
    assert_null(lic->customer_cert_sha256);
    assert_string_equal(lic->secret_sha256, SECRET_HEX);
    assert_int_equal(lic->deactivations, -1);
    assert_int_equal(lic->deactivation_period, -1);
    assert_string_equal(lic->product, "face-detection");
    assert_int_equal(lic->type, OVSA_LIC_FLOATING);
    assert_int_equal(lic->limits.usage, 0);
    assert_int_equal(lic->limits.max_activations, 3);
    assert_int_equal(lic->limits.seats, 10);
    assert_int_equal(lic->limits.lease_seconds, 600);
    assert_int_equal(lic->require_hardware_key, 0);
    assert_int_equal(lic->sync_interval, 3600);
    assert_int_equal(lic->expires_at, 0);
    assert_int_equal(lic->nservers, 2);
    assert_string_equal(lic->servers[0].url, "https://ls1.example.com:8443");
    /* format 1: current, then future when set, form the set */
    assert_int_equal(lic->format, 1);
    assert_int_equal(lic->servers[0].npins, 1);
    assert_string_equal(lic->servers[0].pins[0], PIN_A);
    assert_int_equal(lic->servers[1].npins, 2);
    assert_string_equal(lic->servers[1].pins[0], PIN_A);
    assert_string_equal(lic->servers[1].pins[1], PIN_B);
    assert_string_equal(lic->jws, jws);
    assert_int_equal(X509_cmp(lic->signer, cert), 0);

    /* the payload member decodes to the payload JSON */
    j = json_loads(lic->payload, 0, NULL);
    assert_true(json_equal(j, p));
    json_decref(j);

    /* ES256 signatures are raw r || s */
    if (strcmp(want_alg, "ES256") == 0) {
        j = json_loads(jws, 0, NULL);
        sig = (unsigned char *) strdup(json_string_value(
                  json_object_get(j, "signature")));
        n = strlen((char *) sig);
        assert_int_equal(n, 86);          /* 64 bytes in base64url */
        free(sig);
        json_decref(j);
    }

    isv[0] = other;
    isv[1] = cert;
    assert_int_equal(ovsa_license_trusted(lic, isv, 2, &err), OVSA_OK);
    assert_int_equal(ovsa_license_trusted(lic, isv, 1, &err), OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_LIC_ISV);
    assert_int_equal(ovsa_license_trusted(lic, NULL, 0, &err), OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_LIC_ISV);

    ovsa_license_free(lic);
    json_decref(p);
    free(text);
    free(jws);
}


static void
test_roundtrip_rsa(void **state)
{
    roundtrip(k_rsa, c_rsa, c_rsa2, NULL, "PS256");
    roundtrip(k_rsa, c_rsa, c_rsa2, "RS256", "RS256");
}


static void
test_roundtrip_p256(void **state)
{
    roundtrip(k_ec, c_ec, c_ec2, NULL, "ES256");
}


static void
test_roundtrip_ed25519(void **state)
{
    roundtrip(k_ed, c_ed, c_ed2, NULL, "EdDSA");
}


/* ---- signing refusals */

static void
test_sign_refusals(void **state)
{
    char        *text, *jws;
    json_t      *p;
    ovsa_err_t   err;

    p = base_payload();
    text = json_dumps(p, 0);

    assert_int_equal(ovsa_license_sign(text, k_rsa, c_rsa2, &jws, &err),
                     OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_KEY_MISMATCH);
    assert_null(jws);

    assert_int_equal(ovsa_license_sign(text, k_rsa1024, c_rsa1024, &jws,
                                       &err), OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_LIC_ALG);

    assert_int_equal(ovsa_license_sign_alg(text, k_rsa, c_rsa, "EdDSA", &jws,
                                           &err), OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_LIC_ALG);

    assert_int_equal(ovsa_license_sign_alg(text, k_ec, c_ec, "HS256", &jws,
                                           &err), OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_LIC_ALG);

    assert_int_equal(ovsa_license_sign("[1]", k_ed, c_ed, &jws, &err),
                     OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_LIC_SYNTAX);

    /* an invalid payload is never signed */
    json_object_set_new(p, "sync_interval", json_integer(10));
    free(text);
    text = json_dumps(p, 0);
    assert_int_equal(ovsa_license_sign(text, k_ed, c_ed, &jws, &err),
                     OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_LIC_RANGE);
    assert_non_null(strstr(err.msg, "sync_interval"));
    assert_null(jws);

    json_decref(p);
    free(text);
}


/* ---- tampering */

static char *
sign_base(EVP_PKEY *key, X509 *cert)
{
    char        *text, *jws;
    json_t      *p;
    ovsa_err_t   err;

    p = base_payload();
    text = json_dumps(p, 0);
    assert_int_equal(ovsa_license_sign(text, key, cert, &jws, &err), OVSA_OK);
    json_decref(p);
    free(text);
    return jws;
}


/* Replaces member key of the JWS object with value; returns new text. */
static char *
jws_set(const char *jws, const char *key, const char *value)
{
    char    *out;
    json_t  *j;

    j = json_loads(jws, 0, NULL);
    assert_non_null(j);
    json_object_set_new(j, key, json_string(value));
    out = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return out;
}


static const char *
jws_get(const char *jws, const char *key, json_t **hold)
{
    *hold = json_loads(jws, 0, NULL);
    return json_string_value(json_object_get(*hold, key));
}


/* the base64url character whose value differs from c's in the lowest bit */
static char
b64url_next(char c)
{
    static const char  alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                 "abcdefghijklmnopqrstuvwxyz0123456789-_";
    const char        *p;

    p = strchr(alpha, c);
    assert_non_null(p);
    return alpha[(p - alpha) ^ 1];
}


static void
tamper_all(EVP_PKEY *key, X509 *cert, X509 *other, X509 *othertype)
{
    int          i;
    char        *jws, *bad, *s, *hdr, *x5c, *enc;
    json_t      *hold, *h;
    size_t       len;
    ovsa_err_t   err;
    const char  *member[] = { "payload", "signature" };

    jws = sign_base(key, cert);
    assert_int_equal(parse_code(jws, &err), OVSA_E_NONE);

    /* one character of the payload or of the signature */
    for (i = 0; i < 2; i++) {
        s = strdup(jws_get(jws, member[i], &hold));
        len = strlen(s);
        s[len / 2] = s[len / 2] == 'A' ? 'B' : 'A';
        bad = jws_set(jws, member[i], s);
        assert_int_equal(parse_code(bad, &err), OVSA_E_LIC_SIGNATURE);
        free(bad);

        /* and the first one (never only padding bits) */
        s[len / 2] = jws_get(jws, member[i], &h)[len / 2];
        json_decref(h);
        s[0] = s[0] == 'e' ? 'f' : 'e';
        bad = jws_set(jws, member[i], s);
        assert_int_equal(parse_code(bad, &err), OVSA_E_LIC_SIGNATURE);
        free(bad);
        free(s);
        json_decref(hold);
    }

    /*
     * the signature's last character with other unused bits (RSA-2048,
     * P-256 and Ed25519 signatures all end in a character that carries 4
     * bits of padding): the same signature bytes, but not the text that was
     * signed, so a strict decoder refuses it
     */
    s = strdup(jws_get(jws, "signature", &hold));
    len = strlen(s);
    assert_int_equal(len % 4, 2);
    s[len - 1] = b64url_next(s[len - 1]);
    bad = jws_set(jws, "signature", s);
    assert_int_equal(parse_code(bad, &err), OVSA_E_LIC_SYNTAX);
    assert_string_equal(err.msg, "license: signature: not base64url");
    free(bad);
    free(s);
    json_decref(hold);

    /* a truncated signature (to whole groups: still canonical text) */
    s = strdup(jws_get(jws, "signature", &hold));
    s[strlen(s) - 6] = '\0';
    bad = jws_set(jws, "signature", s);
    assert_int_equal(parse_code(bad, &err), OVSA_E_LIC_SIGNATURE);
    free(bad);
    free(s);
    json_decref(hold);

    /* the same header, other bytes (white space added) */
    s = (char *) ovsa_license_default_alg(key);
    x5c = cert_b64(cert);
    hdr = malloc(8192);
    sprintf(hdr, "{ \"alg\":\"%s\", \"typ\":\"ovsa-license+jws\","
            " \"x5c\":[\"%s\"] }", s, x5c);
    enc = b64url((unsigned char *) hdr, strlen(hdr));
    bad = jws_set(jws, "protected", enc);
    assert_int_equal(parse_code(bad, &err), OVSA_E_LIC_SIGNATURE);
    free(bad);
    free(enc);
    free(x5c);

    /* x5c swapped for another certificate of the same key type */
    x5c = cert_b64(other);
    sprintf(hdr, "{\"alg\":\"%s\",\"typ\":\"ovsa-license+jws\","
            "\"x5c\":[\"%s\"]}", s, x5c);
    enc = b64url((unsigned char *) hdr, strlen(hdr));
    bad = jws_set(jws, "protected", enc);
    assert_int_equal(parse_code(bad, &err), OVSA_E_LIC_SIGNATURE);
    free(bad);
    free(enc);
    free(x5c);

    /* ... and of another key type: the alg does not fit */
    x5c = cert_b64(othertype);
    sprintf(hdr, "{\"alg\":\"%s\",\"typ\":\"ovsa-license+jws\","
            "\"x5c\":[\"%s\"]}", s, x5c);
    enc = b64url((unsigned char *) hdr, strlen(hdr));
    bad = jws_set(jws, "protected", enc);
    assert_int_equal(parse_code(bad, &err), OVSA_E_LIC_ALG);
    free(bad);
    free(enc);
    free(x5c);

    free(hdr);
    free(jws);
}


static void
test_tamper_rsa(void **state)
{
    char        *jws, *bad, *hdr, *enc, *x5c;
    ovsa_err_t   err;

    tamper_all(k_rsa, c_rsa, c_rsa2, c_ec);

    /* PS256 relabelled RS256 */
    jws = sign_base(k_rsa, c_rsa);
    x5c = cert_b64(c_rsa);
    hdr = malloc(strlen(x5c) + 128);
    sprintf(hdr, "{\"alg\":\"RS256\",\"typ\":\"ovsa-license+jws\","
            "\"x5c\":[\"%s\"]}", x5c);
    enc = b64url((unsigned char *) hdr, strlen(hdr));
    bad = jws_set(jws, "protected", enc);
    assert_int_equal(parse_code(bad, &err), OVSA_E_LIC_SIGNATURE);
    free(bad);
    free(enc);
    free(hdr);
    free(x5c);
    free(jws);
}


static void
test_tamper_p256(void **state)
{
    tamper_all(k_ec, c_ec, c_ec2, c_ed);
}


static void
test_tamper_ed25519(void **state)
{
    tamper_all(k_ed, c_ed, c_ed2, c_rsa);
}


/* ---- JWS structure and header */

static void
test_header(void **state)
{
    size_t       i;
    char        *x5c, *x5c2, *hdr, *jws, *text;
    json_t      *p;
    ovsa_err_t   err;

    struct {
        const char  *fmt;    /* %s = x5c, %s = second x5c */
        int          code;
        const char  *msg;
    } rows[] = {
        { "{\"alg\":\"EdDSA\",\"typ\":\"ovsa-license+jws\",\"x5c\":[\"%s\"]}",
          OVSA_E_NONE, NULL },
        { "{\"alg\":\"EdDSA\",\"typ\":\"JWT\",\"x5c\":[\"%s\"]}",
          OVSA_E_LIC_HEADER, "typ" },
        { "{\"alg\":\"EdDSA\",\"x5c\":[\"%s\"]}",
          OVSA_E_LIC_HEADER, "typ" },
        { "{\"alg\":\"EdDSA\",\"typ\":\"ovsa-license+jws\",\"x5c\":[\"%s\"],"
          "\"crit\":[\"exp\"],\"exp\":1}", OVSA_E_LIC_HEADER, "crit" },
        { "{\"alg\":\"EdDSA\",\"typ\":\"ovsa-license+jws\",\"x5c\":[\"%s\"],"
          "\"kid\":\"x\"}", OVSA_E_LIC_HEADER, "kid" },
        { "{\"typ\":\"ovsa-license+jws\",\"x5c\":[\"%s\"]}",
          OVSA_E_LIC_HEADER, "alg" },
        { "{\"alg\":\"none\",\"typ\":\"ovsa-license+jws\",\"x5c\":[\"%s\"]}",
          OVSA_E_LIC_ALG, "none" },
        { "{\"alg\":\"HS256\",\"typ\":\"ovsa-license+jws\",\"x5c\":[\"%s\"]}",
          OVSA_E_LIC_ALG, "HS256" },
        { "{\"alg\":\"ES256\",\"typ\":\"ovsa-license+jws\",\"x5c\":[\"%s\"]}",
          OVSA_E_LIC_ALG, "ES256" },
        { "{\"alg\":\"EdDSA\",\"typ\":\"ovsa-license+jws\"}",
          OVSA_E_LIC_X5C, "x5c" },
        { "{\"alg\":\"EdDSA\",\"typ\":\"ovsa-license+jws\",\"x5c\":[]}",
          OVSA_E_LIC_X5C, "x5c" },
        { "{\"alg\":\"EdDSA\",\"typ\":\"ovsa-license+jws\","
          "\"x5c\":[\"%s\",\"%s\"]}", OVSA_E_LIC_X5C, "x5c" },
        { "{\"alg\":\"EdDSA\",\"typ\":\"ovsa-license+jws\","
          "\"x5c\":[\"QUJD\"]}", OVSA_E_LIC_X5C, "x5c[0]" },
        { "{\"alg\":\"EdDSA\",\"typ\":\"ovsa-license+jws\","
          "\"x5c\":[\"%s%%\"]}", OVSA_E_LIC_X5C, "x5c[0]" },
        { "[1]", OVSA_E_LIC_HEADER, "protected" },
        { "{\"alg\":\"EdDSA\",\"alg\":\"EdDSA\",\"typ\":\"ovsa-license+jws\","
          "\"x5c\":[\"%s\"]}", OVSA_E_LIC_HEADER, "protected" },
    };

    x5c = cert_b64(c_ed);
    x5c2 = cert_b64(c_ed2);
    hdr = malloc(2 * strlen(x5c) + 512);
    p = base_payload();
    text = json_dumps(p, JSON_COMPACT);

    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        sprintf(hdr, rows[i].fmt, x5c, x5c2);
        jws = jws_raw(hdr, text, strlen(text), k_ed);
        if (parse_code(jws, &err) != rows[i].code) {
            fail_msg("header row %zu: got %s (%s), want %s", i,
                     ovsa_code_name(err.code), err.msg,
                     ovsa_code_name(rows[i].code));
        }
        if (rows[i].msg != NULL && strstr(err.msg, rows[i].msg) == NULL) {
            fail_msg("header row %zu: \"%s\" lacks \"%s\"", i, err.msg,
                     rows[i].msg);
        }
        free(jws);
    }

    json_decref(p);
    free(text);
    free(hdr);
    free(x5c);
    free(x5c2);
}


static void
test_syntax(void **state)
{
    char        *jws, *bad, *big;
    size_t       i;
    ovsa_err_t   err;
    json_t      *j;

    jws = sign_base(k_ed, c_ed);

    const char *rows[] = {
        "", "not json", "[1]", "{}", "{\"protected\":1}",
        "{\"protected\":\"e30\",\"payload\":\"e30\"}",
    };
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        assert_int_equal(parse_code(rows[i], &err), OVSA_E_LIC_SYNTAX);
    }

    /* base64url only: padding and the standard alphabet are refused */
    bad = jws_set(jws, "signature", "AAAA+A==");
    assert_int_equal(parse_code(bad, &err), OVSA_E_LIC_SYNTAX);
    assert_non_null(strstr(err.msg, "signature"));
    free(bad);
    bad = jws_set(jws, "protected", "e30=");
    assert_int_equal(parse_code(bad, &err), OVSA_E_LIC_SYNTAX);
    free(bad);
    bad = jws_set(jws, "payload", "e");
    assert_int_equal(parse_code(bad, &err), OVSA_E_LIC_SYNTAX);
    free(bad);

    /* members other than the flattened ones */
    bad = jws_set(jws, "signatures", "x");
    assert_int_equal(parse_code(bad, &err), OVSA_E_LIC_SYNTAX);
    free(bad);
    bad = jws_set(jws, "header", "x");
    assert_int_equal(parse_code(bad, &err), OVSA_E_LIC_HEADER);
    free(bad);

    /* unprotected header object, as RFC 7515 would allow */
    j = json_loads(jws, 0, NULL);
    json_object_set_new(j, "header", json_pack("{s:s}", "kid", "x"));
    bad = json_dumps(j, 0);
    assert_int_equal(parse_code(bad, &err), OVSA_E_LIC_HEADER);
    free(bad);
    json_decref(j);

    /* too large */
    big = malloc(OVSA_LICENSE_MAX_SIZE + 2);
    memset(big, ' ', OVSA_LICENSE_MAX_SIZE + 1);
    big[OVSA_LICENSE_MAX_SIZE + 1] = '\0';
    assert_int_equal(parse_code(big, &err), OVSA_E_LIC_SYNTAX);
    free(big);

    /* trailing white space is fine and not kept */
    bad = malloc(strlen(jws) + 3);
    sprintf(bad, "%s\n\n", jws);
    ovsa_license_t *lic;
    assert_int_equal(ovsa_license_parse(bad, strlen(bad), &lic, &err),
                     OVSA_OK);
    assert_string_equal(lic->jws, jws);
    ovsa_license_free(lic);
    free(bad);

    free(jws);
}


/* ---- payload fields */

/* Sets (or, value NULL, deletes) a dotted path ("servers.0.pins.current")
 * in p to the JSON text value. */
static void
set_path(json_t *p, const char *path, const char *value)
{
    char    *copy, *part, *next, *save;
    json_t  *cur, *v;

    copy = strdup(path);
    cur = p;
    part = strtok_r(copy, ".", &save);
    while ((next = strtok_r(NULL, ".", &save)) != NULL) {
        cur = json_is_array(cur) ? json_array_get(cur, atoi(part))
                                 : json_object_get(cur, part);
        assert_non_null(cur);
        part = next;
    }

    if (value == NULL) {
        if (json_is_array(cur)) {
            json_array_remove(cur, atoi(part));
        } else {
            json_object_del(cur, part);
        }
    } else {
        v = json_loads(value, JSON_DECODE_ANY, NULL);
        assert_non_null(v);
        if (json_is_array(cur)) {
            json_array_set_new(cur, atoi(part), v);
        } else {
            json_object_set_new(cur, part, v);
        }
    }
    free(copy);
}


#define DEL  NULL
#define HEX64U "\"ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789\""
#define HEX64  "\"abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789\""

typedef struct {
    const char  *path[4];
    const char  *value[4];
    int          code;
    const char  *msg;        /* must appear in the message */
} field_row_t;

static const field_row_t field_rows[] = {
    { { "ovsa" }, { "3" }, OVSA_E_LIC_FORMAT, "ovsa" },
    { { "ovsa" }, { "0" }, OVSA_E_LIC_FORMAT, "ovsa" },
    { { "ovsa" }, { "2" }, OVSA_E_LIC_FIELD, "pins: not an array" },
    { { "ovsa" }, { "\"1\"" }, OVSA_E_LIC_FIELD, "ovsa" },
    { { "ovsa" }, { DEL }, OVSA_E_LIC_FIELD, "ovsa" },
    { { "license_id" }, { DEL }, OVSA_E_LIC_FIELD, "license_id: missing" },
    { { "license_id" }, { "\"a b\"" }, OVSA_E_LIC_FIELD, "license_id" },
    { { "license_id" }, { "\"a/b\"" }, OVSA_E_LIC_FIELD, "license_id" },
    { { "license_id" }, { "\"\"" }, OVSA_E_LIC_FIELD, "license_id" },
    { { "license_id" }, { "7" }, OVSA_E_LIC_FIELD, "license_id" },
    { { "license_id" }, { "\"" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" "\"" }, OVSA_E_LIC_FIELD,
      "license_id" },
    { { "license_id" }, { "\"" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaa" "\"" }, OVSA_E_NONE, NULL },
    { { "version" }, { "0" }, OVSA_E_LIC_RANGE, "version" },
    { { "version" }, { "-3" }, OVSA_E_LIC_RANGE, "version" },
    { { "version" }, { "\"2\"" }, OVSA_E_LIC_FIELD, "version" },
    { { "version" }, { "1.5" }, OVSA_E_LIC_FIELD, "version" },
    { { "version" }, { DEL }, OVSA_E_LIC_FIELD, "version: missing" },
    { { "issued_at" }, { "0" }, OVSA_E_LIC_RANGE, "issued_at" },
    { { "issued_at" }, { "null" }, OVSA_E_LIC_FIELD, "issued_at" },
    { { "customer" }, { DEL }, OVSA_E_LIC_FIELD, "customer: missing" },
    { { "customer" }, { "\"ACME\"" }, OVSA_E_LIC_FIELD, "customer" },
    { { "customer.name" }, { "\"\"" }, OVSA_E_LIC_FIELD, "customer.name" },
    { { "customer.name" }, { "\"a\\nb\"" }, OVSA_E_LIC_FIELD,
      "customer.name" },
    { { "customer.name" }, { DEL }, OVSA_E_LIC_FIELD, "customer.name" },
    { { "customer.cert_sha256" }, { "\"abc\"" }, OVSA_E_LIC_FIELD,
      "customer.cert_sha256" },
    { { "customer.cert_sha256" }, { HEX64U }, OVSA_E_LIC_FIELD,
      "customer.cert_sha256" },
    { { "customer.cert_sha256" }, { HEX64 }, OVSA_E_NONE, NULL },
    { { "customer.cert_sha256" }, { DEL }, OVSA_E_LIC_FIELD,
      "customer.cert_sha256: missing" },
    { { "customer.email" }, { "\"x@y\"" }, OVSA_E_LIC_FIELD,
      "customer.email: unknown" },
    { { "product" }, { "5" }, OVSA_E_LIC_FIELD, "product" },
    { { "product" }, { DEL }, OVSA_E_LIC_FIELD, "product" },
    { { "type" }, { "\"trial\"" }, OVSA_E_LIC_FIELD, "type" },
    { { "type" }, { "1" }, OVSA_E_LIC_FIELD, "type" },
    { { "limits" }, { DEL }, OVSA_E_LIC_FIELD, "limits: missing" },
    { { "limits" }, { "[]" }, OVSA_E_LIC_FIELD, "limits" },
    { { "limits.seats" }, { "0" }, OVSA_E_LIC_RANGE, "limits.seats" },
    { { "limits.seats" }, { "-1" }, OVSA_E_LIC_RANGE, "limits.seats" },
    { { "limits.seats" }, { "\"10\"" }, OVSA_E_LIC_FIELD, "limits.seats" },
    { { "limits.seats" }, { DEL }, OVSA_E_LIC_FIELD, "limits.seats" },
    { { "limits.usage" }, { "true" }, OVSA_E_LIC_FIELD, "limits.usage" },
    { { "limits.max_activations" }, { "0" }, OVSA_E_LIC_RANGE,
      "limits.max_activations" },
    { { "limits.lease_seconds" }, { "59" }, OVSA_E_LIC_RANGE,
      "limits.lease_seconds" },
    { { "limits.lease_seconds" }, { "86401" }, OVSA_E_LIC_RANGE,
      "limits.lease_seconds" },
    { { "limits.lease_seconds" }, { "60" }, OVSA_E_NONE, NULL },
    { { "limits.bogus" }, { "1" }, OVSA_E_LIC_FIELD, "limits.bogus" },
    { { "limits.seats" }, { "null" }, OVSA_E_LIC_LIMITS, "limits.seats" },
    { { "limits.lease_seconds" }, { "null" }, OVSA_E_LIC_LIMITS,
      "limits.lease_seconds" },
    { { "type", "limits.usage" }, { "\"usage-count\"", "null" },
      OVSA_E_LIC_LIMITS, "limits.usage" },
    { { "type", "limits.usage" }, { "\"usage-count\"", "100" },
      OVSA_E_NONE, NULL },
    { { "type", "limits.max_activations", "limits.deactivations",
        "limits.deactivation_period" },
      { "\"node-locked\"", "null", "3", "2592000" },
      OVSA_E_LIC_LIMITS, "limits.max_activations" },
    { { "type" }, { "\"time-limited\"" }, OVSA_E_LIC_LIMITS, "expires_at" },
    { { "type", "expires_at" }, { "\"time-limited\"", "1900000000" },
      OVSA_E_NONE, NULL },
    { { "type", "limits.seats", "limits.lease_seconds" },
      { "\"perpetual\"", "null", "null" }, OVSA_E_NONE, NULL },
    /* perpetual "needs nothing": an expiry is allowed, and enforced */
    { { "type", "expires_at" }, { "\"perpetual\"", "1900000000" },
      OVSA_E_NONE, NULL },
    { { "type", "expires_at" }, { "\"perpetual\"", "0" },
      OVSA_E_LIC_RANGE, "expires_at" },
    /* names are UTF-8 text, not ASCII */
    { { "customer.name", "product" },
      { "\"M\\u00fcller & S\\u00f6hne GmbH\"",
        "\"\\u9854\\u8a8d\\u8b58 \\u03a9\"" },
      OVSA_E_NONE, NULL },
    { { "require_hardware_key" }, { "1" }, OVSA_E_LIC_FIELD,
      "require_hardware_key" },
    { { "require_hardware_key" }, { DEL }, OVSA_E_LIC_FIELD,
      "require_hardware_key" },
    { { "require_hardware_key" }, { "true" }, OVSA_E_NONE, NULL },
    { { "sync_interval" }, { "299" }, OVSA_E_LIC_RANGE, "sync_interval" },
    { { "sync_interval" }, { "86401" }, OVSA_E_LIC_RANGE, "sync_interval" },
    { { "sync_interval" }, { "300" }, OVSA_E_NONE, NULL },
    { { "sync_interval" }, { "86400" }, OVSA_E_NONE, NULL },
    { { "sync_interval" }, { "null" }, OVSA_E_LIC_FIELD, "sync_interval" },
    { { "sync_interval" }, { DEL }, OVSA_E_LIC_FIELD, "sync_interval" },
    { { "expires_at" }, { "0" }, OVSA_E_LIC_RANGE, "expires_at" },
    { { "expires_at" }, { "\"2027-01-01\"" }, OVSA_E_LIC_FIELD,
      "expires_at" },
    { { "expires_at" }, { DEL }, OVSA_E_LIC_FIELD, "expires_at: missing" },
    { { "servers" }, { "[]" }, OVSA_E_LIC_RANGE, "servers" },
    { { "servers" }, { "{}" }, OVSA_E_LIC_FIELD, "servers" },
    { { "servers" }, { DEL }, OVSA_E_LIC_FIELD, "servers: missing" },
    { { "servers.0" }, { "\"https://x\"" }, OVSA_E_LIC_FIELD,
      "servers[0]" },
    { { "servers.0.url" }, { "\"http://ls1.example.com\"" },
      OVSA_E_LIC_URL, "servers[0].url" },
    { { "servers.0.url" }, { "\"ls1.example.com:8443\"" },
      OVSA_E_LIC_URL, "servers[0].url" },
    { { "servers.0.url" }, { "\"https://\"" }, OVSA_E_LIC_URL,
      "servers[0].url" },
    { { "servers.0.url" }, { "\"https://u:p@ls1.example.com\"" },
      OVSA_E_LIC_URL, "servers[0].url" },
    { { "servers.0.url" }, { "\"https://ls1.example.com/#x\"" },
      OVSA_E_LIC_URL, "servers[0].url" },
    { { "servers.0.url" }, { "\"ftp://ls1.example.com\"" },
      OVSA_E_LIC_URL, "servers[0].url" },
    { { "servers.1.url" }, { "\"https://ls1.example.com:8443\"" },
      OVSA_E_LIC_URL, "servers[1].url" },
    { { "servers.0.url" }, { "7" }, OVSA_E_LIC_FIELD, "servers[0].url" },
    { { "servers.0.url" }, { DEL }, OVSA_E_LIC_FIELD, "servers[0].url" },
    { { "servers.0.port" }, { "7" }, OVSA_E_LIC_FIELD,
      "servers[0].port: unknown" },
    { { "servers.0.pins" }, { DEL }, OVSA_E_LIC_FIELD, "servers[0].pins" },
    { { "servers.0.pins.current" }, { "null" }, OVSA_E_LIC_FIELD,
      "servers[0].pins.current" },
    { { "servers.0.pins.current" }, { DEL }, OVSA_E_LIC_FIELD,
      "servers[0].pins.current" },
    { { "servers.0.pins.current" }, { "\"sha256//short=\"" },
      OVSA_E_LIC_PIN, "servers[0].pins.current" },
    { { "servers.0.pins.current" },
      { "\"sha1//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"" },
      OVSA_E_LIC_PIN, "servers[0].pins.current" },
    { { "servers.0.pins.current" },
      { "\"sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"" },
      OVSA_E_LIC_PIN, "servers[0].pins.current" },
    { { "servers.0.pins.current" },
      { "\"sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA-A=\"" },
      OVSA_E_LIC_PIN, "servers[0].pins.current" },
    { { "servers.0.pins.current" },
      { "\"sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB=\"" },
      OVSA_E_LIC_PIN, "servers[0].pins.current" },
    { { "servers.0.pins.current" },
      { "\"sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"" },
      OVSA_E_LIC_PIN, "servers[0].pins.current" },
    { { "servers.0.pins.current" }, { "\"\"" }, OVSA_E_LIC_PIN,
      "servers[0].pins.current" },
    { { "servers.1.pins.future" }, { "\"sha256//\"" }, OVSA_E_LIC_PIN,
      "servers[1].pins.future" },
    { { "servers.1.pins.future" }, { "5" }, OVSA_E_LIC_FIELD,
      "servers[1].pins.future" },
    { { "servers.0.pins.next" }, { "null" }, OVSA_E_LIC_FIELD,
      "servers[0].pins.next: unknown" },
    { { "comment" }, { "\"hi\"" }, OVSA_E_LIC_FIELD, "comment: unknown" },

    /* customer.secret_sha256: required member, 64 lower hex or null */
    { { "customer.secret_sha256" }, { DEL }, OVSA_E_LIC_FIELD,
      "customer.secret_sha256: missing" },
    { { "customer.secret_sha256" }, { HEX64U }, OVSA_E_LIC_FIELD,
      "customer.secret_sha256" },
    { { "customer.secret_sha256" }, { "\"abc\"" }, OVSA_E_LIC_FIELD,
      "customer.secret_sha256" },
    { { "customer.secret_sha256" }, { "\"" SECRET "\"" },
      OVSA_E_LIC_FIELD, "customer.secret_sha256" },
    { { "customer.secret_sha256" }, { "\"\"" }, OVSA_E_LIC_FIELD,
      "customer.secret_sha256" },
    { { "customer.secret_sha256" }, { "7" }, OVSA_E_LIC_FIELD,
      "customer.secret_sha256" },
    /* at least one credential */
    { { "customer.secret_sha256" }, { "null" }, OVSA_E_LIC_CREDENTIAL,
      "anyone who knows its id" },
    { { "customer.secret_sha256", "customer.cert_sha256" },
      { "null", HEX64 }, OVSA_E_NONE, NULL },
    { { "customer.cert_sha256" }, { HEX64 }, OVSA_E_NONE, NULL },
    /* deactivation limits: required members, both or neither */
    { { "limits.deactivations" }, { DEL }, OVSA_E_LIC_FIELD,
      "limits.deactivations: missing" },
    { { "limits.deactivation_period" }, { DEL }, OVSA_E_LIC_FIELD,
      "limits.deactivation_period: missing" },
    { { "limits.deactivations", "limits.deactivation_period" },
      { "0", "3600" }, OVSA_E_NONE, NULL },
    { { "limits.deactivations", "limits.deactivation_period" },
      { "3", "31536000" }, OVSA_E_NONE, NULL },
    { { "limits.deactivations", "limits.deactivation_period" },
      { "-1", "3600" }, OVSA_E_LIC_RANGE, "limits.deactivations" },
    { { "limits.deactivations", "limits.deactivation_period" },
      { "\"3\"", "3600" }, OVSA_E_LIC_FIELD, "limits.deactivations" },
    { { "limits.deactivations", "limits.deactivation_period" },
      { "3", "3599" }, OVSA_E_LIC_RANGE, "limits.deactivation_period" },
    { { "limits.deactivations", "limits.deactivation_period" },
      { "3", "31536001" }, OVSA_E_LIC_RANGE,
      "limits.deactivation_period" },
    { { "limits.deactivations", "limits.deactivation_period" },
      { "3", "1.5" }, OVSA_E_LIC_FIELD, "limits.deactivation_period" },
    { { "limits.deactivations" }, { "3" }, OVSA_E_LIC_LIMITS,
      "limits.deactivation_period" },
    { { "limits.deactivation_period" }, { "86400" }, OVSA_E_LIC_LIMITS,
      "limits.deactivations" },
    /* node-locked needs max_activations and the deactivation limits */
    { { "type" }, { "\"node-locked\"" }, OVSA_E_LIC_LIMITS,
      "limits.deactivations: a node-locked license needs it" },
    { { "type", "limits.deactivations", "limits.deactivation_period" },
      { "\"node-locked\"", "3", "2592000" }, OVSA_E_NONE, NULL },
    { { "type", "limits.deactivations", "limits.deactivation_period" },
      { "\"node-locked\"", "0", "2592000" }, OVSA_E_NONE, NULL },
    /* max_borrow (floating) and max_offline (node-locked): optional */
    { { "limits.max_borrow" }, { "null" }, OVSA_E_NONE, NULL },
    { { "limits.max_borrow" }, { "60" }, OVSA_E_NONE, NULL },
    { { "limits.max_borrow" }, { "2592000" }, OVSA_E_NONE, NULL },
    { { "limits.max_borrow" }, { "59" }, OVSA_E_LIC_RANGE,
      "limits.max_borrow" },
    { { "limits.max_borrow" }, { "2592001" }, OVSA_E_LIC_RANGE,
      "limits.max_borrow" },
    { { "limits.max_borrow" }, { "\"1d\"" }, OVSA_E_LIC_FIELD,
      "limits.max_borrow" },
    { { "type", "limits.max_borrow" }, { "\"perpetual\"", "3600" },
      OVSA_E_LIC_LIMITS, "only a floating license lends seats" },
    { { "limits.max_offline" }, { "86400" }, OVSA_E_LIC_LIMITS,
      "only a node-locked license is activated offline" },
    { { "type", "limits.deactivations", "limits.deactivation_period",
        "limits.max_offline" },
      { "\"node-locked\"", "3", "2592000", "86400" }, OVSA_E_NONE, NULL },
    { { "type", "limits.deactivations", "limits.deactivation_period",
        "limits.max_offline" },
      { "\"node-locked\"", "3", "2592000", "3599" }, OVSA_E_LIC_RANGE,
      "limits.max_offline" },
    { { "type", "limits.deactivations", "limits.deactivation_period",
        "limits.max_offline" },
      { "\"node-locked\"", "3", "2592000", "31536001" }, OVSA_E_LIC_RANGE,
      "limits.max_offline" },
};


static void
test_fields(void **state)
{
    int          j;
    char        *jws;
    size_t       i;
    json_t      *p;
    ovsa_err_t   err;

    for (i = 0; i < sizeof(field_rows) / sizeof(field_rows[0]); i++) {
        p = base_payload();
        for (j = 0; j < 4 && field_rows[i].path[j] != NULL; j++) {
            set_path(p, field_rows[i].path[j], field_rows[i].value[j]);
        }
        jws = jws_payload(p);
        if (parse_code(jws, &err) != field_rows[i].code) {
            fail_msg("field row %zu (%s): got %s (%s), want %s", i,
                     field_rows[i].path[0], ovsa_code_name(err.code),
                     err.msg, ovsa_code_name(field_rows[i].code));
        }
        if (field_rows[i].msg != NULL
            && strstr(err.msg, field_rows[i].msg) == NULL)
        {
            fail_msg("field row %zu: \"%s\" lacks \"%s\"", i, err.msg,
                     field_rows[i].msg);
        }
        free(jws);
        json_decref(p);
    }
}


static void
test_servers_count(void **state)
{
    int          i;
    char        *jws, url[64];
    json_t      *p, *arr;
    ovsa_err_t   err;

    p = base_payload();
    arr = json_object_get(p, "servers");
    json_array_clear(arr);
    for (i = 0; i < OVSA_LICENSE_MAX_SERVERS; i++) {
        snprintf(url, sizeof(url), "https://ls%d.example.com", i);
        json_array_append_new(arr, json_pack("{s:s, s:{s:s, s:n}}", "url",
                                             url, "pins", "current", PIN_A,
                                             "future"));
    }
    jws = jws_payload(p);
    assert_int_equal(parse_code(jws, &err), OVSA_E_NONE);
    free(jws);

    json_array_append_new(arr, json_pack("{s:s, s:{s:s, s:n}}", "url",
                                         "https://one-more.example.com",
                                         "pins", "current", PIN_A, "future"));
    jws = jws_payload(p);
    assert_int_equal(parse_code(jws, &err), OVSA_E_LIC_RANGE);
    assert_non_null(strstr(err.msg, "servers"));
    free(jws);
    json_decref(p);
}


/* ---- pin sets (format 2) */

/* The i-th of a family of distinct valid pins (i < 26). */
static void
pin_n(int i, char *out)
{
    memset(out, 'A', OVSA_PIN_LEN);
    memcpy(out, OVSA_PIN_PREFIX, 8);
    out[8 + 41] = (char) ('B' + i);
    out[OVSA_PIN_LEN - 1] = '=';
    out[OVSA_PIN_LEN] = '\0';
}


/* base_payload() in format 2, server 0 pinning pins 0..n-1. */
static json_t *
set_payload(int n)
{
    int      i;
    char     pin[OVSA_PIN_LEN + 1];
    json_t  *p, *arr;

    p = base_payload();
    json_object_set_new(p, "ovsa", json_integer(2));
    arr = json_array();
    for (i = 0; i < n; i++) {
        pin_n(i, pin);
        json_array_append_new(arr, json_string(pin));
    }
    json_object_set_new(json_array_get(json_object_get(p, "servers"), 0),
                        "pins", arr);
    json_object_set_new(json_array_get(json_object_get(p, "servers"), 1),
                        "pins", json_pack("[s]", PIN_B));
    return p;
}


/* parse code of payload p (consumed); the message must contain want */
static int
set_code(json_t *p, const char *want)
{
    int          code;
    char        *jws;
    ovsa_err_t   err;

    jws = jws_payload(p);
    json_decref(p);
    code = parse_code(jws, &err);
    free(jws);
    if (want != NULL && strstr(err.msg, want) == NULL) {
        fail_msg("message \"%s\" lacks \"%s\"", err.msg, want);
    }
    return code;
}


static void
test_pin_sets(void **state)
{
    int               i;
    char             *jws, pin[OVSA_PIN_LEN + 1], pins[9][OVSA_PIN_LEN + 1];
    json_t           *p, *s0;
    ovsa_err_t        err;
    const char       *list[10];
    ovsa_license_t   *lic;

    /* format 2: three keys for one URL, in order; any of them is pinned */
    p = set_payload(3);
    jws = jws_payload(p);
    json_decref(p);
    assert_int_equal(ovsa_license_parse(jws, strlen(jws), &lic, &err),
                     OVSA_OK);
    free(jws);
    assert_int_equal(lic->format, OVSA_LICENSE_FORMAT_SET);
    assert_int_equal(lic->servers[0].npins, 3);
    for (i = 0; i < 3; i++) {
        pin_n(i, pin);
        assert_string_equal(lic->servers[0].pins[i], pin);
        assert_true(ovsa_license_server_pinned(&lic->servers[0], pin));
        assert_false(ovsa_license_server_pinned(&lic->servers[1], pin));
    }
    pin_n(3, pin);
    assert_false(ovsa_license_server_pinned(&lic->servers[0], pin));
    assert_false(ovsa_license_server_pinned(&lic->servers[0], NULL));
    assert_int_equal(lic->servers[1].npins, 1);
    assert_true(ovsa_license_server_pinned(&lic->servers[1], PIN_B));
    ovsa_license_free(lic);

    /* the limit: 8 keys per URL pass, 9 are refused with their code */
    assert_int_equal(set_code(set_payload(OVSA_LICENSE_MAX_PINS), NULL),
                     OVSA_E_NONE);
    assert_int_equal(set_code(set_payload(OVSA_LICENSE_MAX_PINS + 1),
                              "servers[0].pins: 9 pins, not 1..8"),
                     OVSA_E_LIC_PIN_SET);
    assert_int_equal(set_code(set_payload(0), "servers[0].pins: 0 pins"),
                     OVSA_E_LIC_PIN_SET);

    /* a key twice */
    p = set_payload(3);
    s0 = json_object_get(json_array_get(json_object_get(p, "servers"), 0),
                         "pins");
    pin_n(0, pin);
    json_array_set_new(s0, 2, json_string(pin));
    assert_int_equal(set_code(p, "servers[0].pins[2]: "),
                     OVSA_E_LIC_PIN_SET);

    /* a malformed member: not a pin, not a string */
    p = set_payload(2);
    s0 = json_object_get(json_array_get(json_object_get(p, "servers"), 0),
                         "pins");
    json_array_set_new(s0, 1, json_string("sha256//AAAA"));
    assert_int_equal(set_code(p, "servers[0].pins[1]: not"), OVSA_E_LIC_PIN);
    p = set_payload(2);
    s0 = json_object_get(json_array_get(json_object_get(p, "servers"), 0),
                         "pins");
    pin_n(1, pin);
    pin[OVSA_PIN_LEN - 2] = 'B';       /* stray low bits in the last char */
    json_array_set_new(s0, 1, json_string(pin));
    assert_int_equal(set_code(p, "servers[0].pins[1]"), OVSA_E_LIC_PIN);
    p = set_payload(2);
    s0 = json_object_get(json_array_get(json_object_get(p, "servers"), 0),
                         "pins");
    json_array_set_new(s0, 0, json_integer(7));
    assert_int_equal(set_code(p, "servers[0].pins[0]"), OVSA_E_LIC_PIN);

    /* the formats do not mix: an object in format 2, an array in 1 */
    p = base_payload();
    json_object_set_new(p, "ovsa", json_integer(2));
    assert_int_equal(set_code(p, "servers[0].pins: not an array"),
                     OVSA_E_LIC_FIELD);
    p = set_payload(2);
    json_object_set_new(p, "ovsa", json_integer(1));
    assert_int_equal(set_code(p, "servers[0].pins: not an object"),
                     OVSA_E_LIC_FIELD);
    p = set_payload(2);
    json_object_set_new(p, "ovsa", json_integer(3));
    assert_int_equal(set_code(p, "format 3"), OVSA_E_LIC_FORMAT);

    /* format 1 with future == current: one key */
    p = base_payload();
    json_object_set_new(json_object_get(json_array_get(
                            json_object_get(p, "servers"), 1), "pins"),
                        "current", json_string(PIN_B));
    jws = jws_payload(p);
    json_decref(p);
    assert_int_equal(ovsa_license_parse(jws, strlen(jws), &lic, &err),
                     OVSA_OK);
    free(jws);
    assert_int_equal(lic->format, 1);
    assert_int_equal(lic->servers[1].npins, 1);
    ovsa_license_free(lic);

    /* the rule itself, as tools call it before writing a set */
    for (i = 0; i < 9; i++) {
        pin_n(i, pins[i]);
        list[i] = pins[i];
    }
    assert_int_equal(ovsa_license_pins_check(list, 8, "x", &err), OVSA_OK);
    assert_int_equal(ovsa_license_pins_check(list, 9, "x", &err), OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_LIC_PIN_SET);
    assert_int_equal(ovsa_license_pins_check(list, 0, "x", &err), OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_LIC_PIN_SET);
    list[3] = pins[1];
    assert_int_equal(ovsa_license_pins_check(list, 4, "x", &err), OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_LIC_PIN_SET);
    assert_non_null(strstr(err.msg, "x[3]"));
    list[3] = "sha256//nope";
    assert_int_equal(ovsa_license_pins_check(list, 4, "x", &err), OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_LIC_PIN);
}


static void
test_payload_text(void **state)
{
    char        *hdr, *jws;
    ovsa_err_t   err;
    const char  *dup = "{\"ovsa\":1,\"ovsa\":1}";
    const char  *nul = "{\"ovsa\":1}\0junk";

    hdr = ed_header();

    jws = jws_raw(hdr, dup, strlen(dup), k_ed);
    assert_int_equal(parse_code(jws, &err), OVSA_E_LIC_SYNTAX);
    assert_non_null(strstr(err.msg, "payload"));
    free(jws);

    jws = jws_raw(hdr, "[1]", 3, k_ed);
    assert_int_equal(parse_code(jws, &err), OVSA_E_LIC_SYNTAX);
    free(jws);

    jws = jws_raw(hdr, nul, 15, k_ed);
    assert_int_equal(parse_code(jws, &err), OVSA_E_LIC_SYNTAX);
    free(jws);

    free(hdr);
}


/* ---- updates */

static ovsa_license_t *
signed_version(EVP_PKEY *key, X509 *cert, const char *id, int version)
{
    char            *text, *jws;
    json_t          *p;
    ovsa_err_t       err;
    ovsa_license_t  *lic;

    p = base_payload();
    json_object_set_new(p, "license_id", json_string(id));
    json_object_set_new(p, "version", json_integer(version));
    text = json_dumps(p, 0);
    assert_int_equal(ovsa_license_sign(text, key, cert, &jws, &err), OVSA_OK);
    assert_int_equal(ovsa_license_parse(jws, strlen(jws), &lic, &err),
                     OVSA_OK);
    json_decref(p);
    free(text);
    free(jws);
    return lic;
}


static void
test_check_update(void **state)
{
    ovsa_err_t       err;
    ovsa_license_t  *v1, *v2, *v2b, *v1other, *v3ec, *v3rsa;

    v1 = signed_version(k_ed, c_ed, "lic-1", 1);
    v2 = signed_version(k_ed, c_ed, "lic-1", 2);
    v2b = signed_version(k_ed, c_ed, "lic-1", 2);
    v1other = signed_version(k_ed, c_ed, "lic-2", 5);
    v3ec = signed_version(k_ec, c_ec, "lic-1", 3);
    v3rsa = signed_version(k_ed2, c_ed2, "lic-1", 3);

    assert_int_equal(ovsa_license_check_update(v1, v2, &err), OVSA_OK);
    assert_int_equal(ovsa_license_check_update(v2, v2b, &err), OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_LIC_VERSION);
    assert_int_equal(ovsa_license_check_update(v2, v1, &err), OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_LIC_VERSION);
    assert_int_equal(ovsa_license_check_update(v1, v1other, &err), OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_LIC_ID);
    assert_int_equal(ovsa_license_check_update(v2, v3ec, &err), OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_LIC_ISV);
    assert_int_equal(ovsa_license_check_update(v2, v3rsa, &err), OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_LIC_ISV);

    ovsa_license_free(v1);
    ovsa_license_free(v2);
    ovsa_license_free(v2b);
    ovsa_license_free(v1other);
    ovsa_license_free(v3ec);
    ovsa_license_free(v3rsa);
}


/* ---- files */

static int
count_entries(const char *dir)
{
    int             n;
    DIR            *d;
    struct dirent  *e;

    n = 0;
    d = opendir(dir);
    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            n++;
        }
    }
    closedir(d);
    return n;
}


static void
test_files(void **state)
{
    char             dir[] = "/tmp/ovsa-lic-test.XXXXXX";
    char             path[256], bad[300];
    char            *jws, *jws2;
    size_t           len;
    FILE            *f;
    struct stat      st;
    ovsa_err_t       err;
    ovsa_license_t  *lic;

    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/a.lic", dir);
    jws = sign_base(k_ec, c_ec);

    assert_int_equal(ovsa_license_save_file(path, jws, &err), OVSA_OK);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    assert_int_equal(count_entries(dir), 1);

    assert_int_equal(ovsa_license_load_file(path, &lic, &err), OVSA_OK);
    assert_string_equal(lic->jws, jws);
    ovsa_license_free(lic);

    /* a replaced license keeps the mode (and group) of the old file */
    assert_int_equal(chmod(path, 0600), 0);
    assert_int_equal(ovsa_license_save_file(path, jws, &err), OVSA_OK);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(chmod(path, 0640), 0);
    assert_int_equal(ovsa_license_save_file(path, jws, &err), OVSA_OK);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0640);
    if (geteuid() == 0) {
        assert_int_equal(chown(path, 4242, 4243), 0);
        assert_int_equal(ovsa_license_save_file(path, jws, &err), OVSA_OK);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0640);
        assert_int_equal(st.st_uid, 4242);
        assert_int_equal(st.st_gid, 4243);
        assert_int_equal(chown(path, 0, 0), 0);
    }
    assert_int_equal(count_entries(dir), 1);

    /* a failed save leaves the old file as it was */
    snprintf(bad, sizeof(bad), "%s/missing/a.lic", dir);
    assert_int_equal(ovsa_license_save_file(bad, jws, &err), OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_IO);

    snprintf(bad, sizeof(bad), "%s/a.lic/x", dir);
    assert_int_equal(ovsa_license_save_file(bad, "{}", &err), OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_IO);
    assert_int_equal(ovsa_license_load_file(path, &lic, &err), OVSA_OK);
    ovsa_license_free(lic);
    assert_int_equal(count_entries(dir), 1);

    assert_int_equal(ovsa_license_load_file(bad, &lic, &err), OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_IO);

    /* a damaged file: the code of the damage, the file name in the text */
    f = fopen(path, "w");
    fputs("{\"protected\":", f);
    fclose(f);
    assert_int_equal(ovsa_license_load_file(path, &lic, &err), OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_LIC_SYNTAX);
    assert_non_null(strstr(err.msg, path));

    /* ovsa_file_write: exact mode whatever the umask, no-clobber */
    snprintf(bad, sizeof(bad), "%s/k", dir);
    umask(0);
    assert_int_equal(ovsa_file_write(bad, "one", 3, 0600,
                                      OVSA_FILE_NOCLOBBER, &err), OVSA_OK);
    umask(022);
    assert_int_equal(stat(bad, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(ovsa_file_write(bad, "two", 3, 0600,
                                      OVSA_FILE_NOCLOBBER, &err), OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_IO);
    assert_non_null(strstr(err.msg, "not overwritten"));
    assert_int_equal(ovsa_file_read(bad, 100, &jws2, &len, &err), OVSA_OK);
    assert_int_equal(len, 3);
    assert_string_equal(jws2, "one");
    free(jws2);
    assert_int_equal(ovsa_file_read(bad, 2, &jws2, &len, &err), OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_IO);
    assert_int_equal(ovsa_file_write(bad, "two", 3, 0644, 0, &err), OVSA_OK);
    assert_int_equal(ovsa_file_read(bad, 100, &jws2, NULL, &err), OVSA_OK);
    assert_string_equal(jws2, "two");
    free(jws2);
    unlink(bad);
    assert_int_equal(count_entries(dir), 1);

    unlink(path);
    rmdir(dir);
    free(jws);
}


/* The two syntax rules every part shares (license ids and pins). */
static void
test_id_and_pin_syntax(void **state)
{
    char  id[OVSA_LICENSE_ID_MAX + 2];

    assert_true(ovsa_license_id_valid("lic-001.a_B9"));
    assert_false(ovsa_license_id_valid(NULL));
    assert_false(ovsa_license_id_valid(""));
    assert_false(ovsa_license_id_valid("a b"));
    assert_false(ovsa_license_id_valid("a/b"));
    assert_false(ovsa_license_id_valid("a:b"));
    assert_false(ovsa_license_id_valid("caf\xc3\xa9"));
    memset(id, 'x', sizeof(id) - 1);
    id[sizeof(id) - 1] = '\0';
    assert_false(ovsa_license_id_valid(id));
    id[OVSA_LICENSE_ID_MAX] = '\0';
    assert_true(ovsa_license_id_valid(id));

    assert_true(ovsa_pin_valid(PIN_A));
    assert_true(ovsa_pin_valid(PIN_B));
    assert_false(ovsa_pin_valid(NULL));
    assert_false(ovsa_pin_valid(""));
    assert_false(ovsa_pin_valid("sha256//"));
    assert_false(ovsa_pin_valid("sha256//AAAA="));
    /* prefix: exactly "sha256//" */
    assert_false(ovsa_pin_valid(
        "SHA256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="));
    assert_false(ovsa_pin_valid(
        "sha1//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="));
    /* no padding, wrong padding, base64url, stray bits, too long */
    assert_false(ovsa_pin_valid(
        "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
    assert_false(ovsa_pin_valid(
        "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=="));
    assert_false(ovsa_pin_valid(
        "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA-A="));
    assert_false(ovsa_pin_valid(
        "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB="));
    assert_false(ovsa_pin_valid(
        "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="));
    assert_false(ovsa_pin_valid(
        "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=;"));
}


/* ---- the license secret */

static void
test_secret(void **state)
{
    int          i, j;
    char         s[OVSA_LICENSE_SECRET_LEN + 1], s2[sizeof(s)], hex[65];
    char         bad[64];
    ovsa_err_t   err;

    /* the hash is of the 43 characters: a fixed vector */
    assert_int_equal(ovsa_license_secret_hash(SECRET, strlen(SECRET), hex,
                                              &err), OVSA_OK);
    assert_string_equal(hex, SECRET_HEX);

    /* not NUL-terminated: len counts */
    snprintf(bad, sizeof(bad), "%sXYZ", SECRET);
    assert_int_equal(ovsa_license_secret_hash(bad, 43, hex, &err), OVSA_OK);
    assert_string_equal(hex, SECRET_HEX);

    /* new secrets: 43 base64url characters, each its own, each valid */
    for (i = 0; i < 32; i++) {
        assert_int_equal(ovsa_license_secret_new(s, &err), OVSA_OK);
        assert_int_equal(strlen(s), OVSA_LICENSE_SECRET_LEN);
        assert_int_equal(strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                   "abcdefghijklmnopqrstuvwxyz0123456789-_"),
                         OVSA_LICENSE_SECRET_LEN);
        assert_int_equal(ovsa_license_secret_hash(s, strlen(s), hex, &err),
                         OVSA_OK);
        for (j = 0; j < 64; j++) {
            assert_non_null(strchr("0123456789abcdef", hex[j]));
        }
        if (i > 0) {
            assert_string_not_equal(s, s2);
        }
        memcpy(s2, s, sizeof(s));
    }

    /* refusals: a distinct code, and the secret is never in the text */
    const char  *rows[] = {
        "",
        "b3ZzYS10ZXN0LXNlY3JldC0wMDAwMDAwMDAwMDAwMD",     /* 42 */
        "b3ZzYS10ZXN0LXNlY3JldC0wMDAwMDAwMDAwMDAwMDAw",   /* 44 */
        "b3ZzYS10ZXN0LXNlY3JldC0wMDAwMDAwMDAwMDAwMDB",    /* stray bits */
        "b3ZzYS10ZXN0LXNlY3JldC0wMDAwMDAwMDAwMDAwMD+",    /* base64 */
        "b3ZzYS10ZXN0LXNlY3JldC0wMDAwMDAwMDAwMDAwMD=",    /* padding */
        "b3ZzYS10ZXN0LXNlY3JldC0wMDAwMD AwMDAwMDAwMDA",   /* space */
        "b3ZzYS10ZXN0LXNlY3JldC0wMDAwMDAwMDAwMDAwMDA\n",  /* newline */
        "78f595e2df3866a1153f4d1760a5566a2744777cad8900dee0f9c28a24339cbc",
    };
    for (i = 0; i < (int) (sizeof(rows) / sizeof(rows[0])); i++) {
        ovsa_err_clear(&err);
        strcpy(hex, "untouched");
        if (ovsa_license_secret_hash(rows[i], strlen(rows[i]), hex, &err)
            != OVSA_ERR || err.code != OVSA_E_LIC_SECRET)
        {
            fail_msg("secret row %d: got %s", i, ovsa_code_name(err.code));
        }
        assert_string_equal(hex, "");
        if (rows[i][0] != '\0') {
            assert_null(strstr(err.msg, rows[i]));
        }
        assert_non_null(strstr(err.msg, "43 base64url"));
    }

    /* a NUL inside the 43 characters */
    memcpy(bad, SECRET, 44);
    bad[10] = '\0';
    assert_int_equal(ovsa_license_secret_hash(bad, 43, hex, &err), OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_LIC_SECRET);
}


static ovsa_license_t *
license_with(const char *secret_hex, const char *cert_hex)
{
    char            *jws;
    json_t          *p, *c;
    ovsa_err_t       err;
    ovsa_license_t  *lic;

    p = base_payload();
    c = json_object_get(p, "customer");
    json_object_set_new(c, "secret_sha256", secret_hex
                        ? json_string(secret_hex) : json_null());
    json_object_set_new(c, "cert_sha256", cert_hex
                        ? json_string(cert_hex) : json_null());
    jws = jws_payload(p);
    assert_int_equal(ovsa_license_parse(jws, strlen(jws), &lic, &err),
                     OVSA_OK);
    free(jws);
    json_decref(p);
    return lic;
}


static void
test_secret_match(void **state)
{
    char             other[OVSA_LICENSE_SECRET_LEN + 1];
    ovsa_err_t       err;
    ovsa_license_t  *lic, *certonly;

    lic = license_with(SECRET_HEX, NULL);
    certonly = license_with(NULL, "abcdef0123456789abcdef0123456789"
                                  "abcdef0123456789abcdef0123456789");
    assert_string_equal(certonly->secret_sha256, "");

    assert_int_equal(ovsa_license_secret_match(lic, SECRET, strlen(SECRET),
                                               &err), OVSA_OK);

    /* the attack: another well-formed secret, the hash itself, nothing */
    assert_int_equal(ovsa_license_secret_new(other, &err), OVSA_OK);
    assert_int_equal(ovsa_license_secret_match(lic, other, strlen(other),
                                               &err), OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_LIC_SECRET_MISMATCH);
    assert_null(strstr(err.msg, other));
    assert_int_equal(ovsa_license_secret_match(lic, SECRET_HEX, 64, &err),
                     OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_LIC_SECRET);
    assert_int_equal(ovsa_license_secret_match(lic, "", 0, &err), OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_LIC_SECRET);

    /* a license without a secret matches none */
    assert_int_equal(ovsa_license_secret_match(certonly, SECRET,
                                               strlen(SECRET), &err),
                     OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_LIC_SECRET_MISMATCH);
    assert_non_null(strstr(err.msg, "no secret"));

    ovsa_license_free(lic);
    ovsa_license_free(certonly);
}


static void
test_secret_read(void **state)
{
    char          dir[] = "/tmp/ovsa-secret-test.XXXXXX";
    char          path[256], out[OVSA_LICENSE_SECRET_LEN + 1];
    ovsa_err_t    err;

    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/lic.secret", dir);

    /* written as ovsatool writes it: the secret and a newline, 0600 */
    assert_int_equal(ovsa_file_write(path, SECRET "\n", 44, 0600, 0, &err),
                     OVSA_OK);
    assert_int_equal(ovsa_license_secret_read(path, out, &err), OVSA_OK);
    assert_string_equal(out, SECRET);

    /* readable by others: refused, nothing read */
    assert_int_equal(chmod(path, 0640), 0);
    assert_int_equal(ovsa_license_secret_read(path, out, &err), OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_SECRET_MODE);
    assert_string_equal(out, "");

    /* not a secret: the file named, the content not */
    assert_int_equal(ovsa_file_write(path, "hunter2-not-a-secret\n", 21,
                                      0600, 0, &err), OVSA_OK);
    assert_int_equal(ovsa_license_secret_read(path, out, &err), OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_LIC_SECRET);
    assert_non_null(strstr(err.msg, path));
    assert_null(strstr(err.msg, "hunter2"));

    unlink(path);
    assert_int_equal(ovsa_license_secret_read(path, out, &err), OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_IO);

    rmdir(dir);
}


static void
test_types(void **state)
{
    assert_string_equal(ovsa_license_type_name(OVSA_LIC_NODE_LOCKED),
                        "node-locked");
    assert_null(ovsa_license_type_name(0));
    assert_null(ovsa_license_type_name(99));
    assert_int_equal(ovsa_license_type_from_name("floating"),
                     OVSA_LIC_FLOATING);
    assert_int_equal(ovsa_license_type_from_name("Floating"), 0);
    assert_int_equal(ovsa_license_type_from_name(NULL), 0);
    assert_string_equal(ovsa_license_default_alg(k_rsa), "PS256");
    assert_string_equal(ovsa_license_default_alg(k_ec), "ES256");
    assert_string_equal(ovsa_license_default_alg(k_ed), "EdDSA");
    assert_null(ovsa_license_default_alg(k_rsa1024));
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_rsa),
        cmocka_unit_test(test_roundtrip_p256),
        cmocka_unit_test(test_roundtrip_ed25519),
        cmocka_unit_test(test_sign_refusals),
        cmocka_unit_test(test_tamper_rsa),
        cmocka_unit_test(test_tamper_p256),
        cmocka_unit_test(test_tamper_ed25519),
        cmocka_unit_test(test_header),
        cmocka_unit_test(test_syntax),
        cmocka_unit_test(test_fields),
        cmocka_unit_test(test_servers_count),
        cmocka_unit_test(test_pin_sets),
        cmocka_unit_test(test_payload_text),
        cmocka_unit_test(test_check_update),
        cmocka_unit_test(test_files),
        cmocka_unit_test(test_types),
        cmocka_unit_test(test_id_and_pin_syntax),
        cmocka_unit_test(test_secret),
        cmocka_unit_test(test_secret_match),
        cmocka_unit_test(test_secret_read),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
