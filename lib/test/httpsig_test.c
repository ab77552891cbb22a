/*
 * httpsig_test.c: cmocka unit tests of lib/ovsa_httpsig (RFC 9530
 * Content-Digest, the ovsa RFC 9421 profile: the signing sequence of the
 * server, the parse-once verification of the client) and lib/ovsa_sf
 * (RFC 8941).  Run by t/010-unit.t.
 *
 * The known answers were produced outside this code: the digest is the
 * example of RFC 9530 section 2, the base was written by hand from RFC
 * 9421 section 2.5 and its Ed25519 signature computed with
 * "openssl pkeyutl -sign -rawin" (Ed25519 is deterministic).
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

#include "ovsa_httpsig.h"
#include "ovsa_sf.h"



/* a signer prepared for pkey, as a server prepares it once at start */
static const ovsa_signer_t *
signer_of(EVP_PKEY *pkey)
{
    static ovsa_signer_t  signer;
    ovsa_err_t            err;

    ovsa_signer_free(&signer);
    assert_int_equal(ovsa_signer_init(&signer, pkey, pkey, &err), OVSA_OK);
    return &signer;
}

static const char kat_key[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEICu3XPOKHKJnfDuyoKwX69wyahTQAmvBLyCmtgPBAcBA\n"
    "-----END PRIVATE KEY-----\n";

static const char kat_keyid[] = "iGpE-rF0ZzZPnl5dr_HhE9Ht-lZca5o_5YTQYwOsjGo";

static const char kat_body[] = "{\"hello\": \"world\"}";

static const char kat_digest[] =
    "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:";

static const char kat_base[] =
    "\"@status\": 200\n"
    "\"content-type\": application/json\n"
    "\"content-digest\": "
        "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:\n"
    "\"ovsa-nonce\";req: bm9uY2UtMTIzNDU2Nzg5MA\n"
    "\"@method\";req: POST\n"
    "\"@target-uri\";req: https://license.example:8443/v1/check\n"
    "\"@signature-params\": (\"@status\" \"content-type\" "
        "\"content-digest\" \"ovsa-nonce\";req \"@method\";req "
        "\"@target-uri\";req);created=1700000000;expires=1700000300;"
        "keyid=\"iGpE-rF0ZzZPnl5dr_HhE9Ht-lZca5o_5YTQYwOsjGo\";"
        "alg=\"ed25519\";tag=\"ovsa-license-v1\"";

static const char kat_input[] =
    "ovsa=(\"@status\" \"content-type\" \"content-digest\" "
    "\"ovsa-nonce\";req \"@method\";req \"@target-uri\";req);"
    "created=1700000000;expires=1700000300;"
    "keyid=\"iGpE-rF0ZzZPnl5dr_HhE9Ht-lZca5o_5YTQYwOsjGo\";"
    "alg=\"ed25519\";tag=\"ovsa-license-v1\"";

static const char kat_sig[] =
    "ovsa=:QxWXOc8AcBDKMcRTmm4The/3bwH9V/vItu+Xj4Xy7sVwGY97cAfIDCJf2/I9I50p"
    "3a0Qil7NbhJZtnuxktPuAA==:";

#define KAT_NOW  1700000100

/*
 * The same answer to a request that carried a body: the request's
 * Content-Digest (of kat_req_body) is the 7th component.
 */
static const char kat_req_body[] = "{\"license_id\":\"L1\"}";

static const char kat_req_digest[] =
    "sha-256=:FZlOcB3UOzQZ2kk5mGZQK2RZbUBCWhBDHJsioy7umEU=:";

static const char kat7_base[] =
    "\"@status\": 200\n"
    "\"content-type\": application/json\n"
    "\"content-digest\": "
        "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:\n"
    "\"ovsa-nonce\";req: bm9uY2UtMTIzNDU2Nzg5MA\n"
    "\"@method\";req: POST\n"
    "\"@target-uri\";req: https://license.example:8443/v1/check\n"
    "\"content-digest\";req: "
        "sha-256=:FZlOcB3UOzQZ2kk5mGZQK2RZbUBCWhBDHJsioy7umEU=:\n"
    "\"@signature-params\": (\"@status\" \"content-type\" "
        "\"content-digest\" \"ovsa-nonce\";req \"@method\";req "
        "\"@target-uri\";req \"content-digest\";req);created=1700000000;"
        "expires=1700000300;"
        "keyid=\"iGpE-rF0ZzZPnl5dr_HhE9Ht-lZca5o_5YTQYwOsjGo\";"
        "alg=\"ed25519\";tag=\"ovsa-license-v1\"";

static const char kat7_input[] =
    "ovsa=(\"@status\" \"content-type\" \"content-digest\" "
    "\"ovsa-nonce\";req \"@method\";req \"@target-uri\";req "
    "\"content-digest\";req);"
    "created=1700000000;expires=1700000300;"
    "keyid=\"iGpE-rF0ZzZPnl5dr_HhE9Ht-lZca5o_5YTQYwOsjGo\";"
    "alg=\"ed25519\";tag=\"ovsa-license-v1\"";

static const char kat7_sig[] =
    "ovsa=:fqguvdc+OytjMmex6KyUaNEU/EiqunWRMsxMMp5rfsP5MsLE9GrT+vXEqnhB4fTj"
    "G/AKcSMTMvHA/srKEH9/Aw==:";


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


static ovsa_sig_msg_t
kat_msg(const char *digest)
{
    ovsa_sig_msg_t  m;

    memset(&m, 0, sizeof(m));
    m.status = 200;
    m.content_type = ovsa_str("application/json");
    m.content_digest = ovsa_str(digest);
    m.nonce = ovsa_str("bm9uY2UtMTIzNDU2Nzg5MA");
    m.method = ovsa_str("POST");
    m.target_uri = ovsa_str("https://license.example:8443/v1/check");
    return m;
}


/* ---- RFC 8941 */

static void
test_sf_dict(void **state)
{
    int             n;
    size_t          klen;
    ovsa_sf_t       c, p, l, ip;
    const char     *k;
    ovsa_sf_item_t  v, it;
    const char     *d = "a=1, b=?0;x=\"y\" ,  c=(\"s\" tok;req);q=-1.5,"
                        "e=:AAE=:, f";

    ovsa_sf_init(&c, d, strlen(d));
    n = 0;
    while (ovsa_sf_dict_next(&c, &k, &klen, &v, &p) == 1) {
        n++;
        if (klen == 1 && *k == 'c') {
            assert_int_equal(v.type, OVSA_SF_INNER_LIST);
            ovsa_sf_list_init(&l, &v);
            assert_int_equal(ovsa_sf_list_next(&l, &it, &ip), 1);
            assert_true(ovsa_sf_item_is(&it, OVSA_SF_STRING, "s"));
            assert_int_equal(ovsa_sf_list_next(&l, &it, &ip), 1);
            assert_true(ovsa_sf_item_is(&it, OVSA_SF_TOKEN, "tok"));
            assert_int_equal(ovsa_sf_param_next(&ip, &k, &klen, &it), 1);
            assert_int_equal(it.type, OVSA_SF_BOOLEAN);
            assert_int_equal(ovsa_sf_list_next(&l, &it, &ip), 0);
            assert_int_equal(ovsa_sf_param_next(&p, &k, &klen, &it), 1);
            assert_int_equal(it.type, OVSA_SF_DECIMAL);
        }
        if (klen == 1 && *k == 'f') {
            assert_int_equal(v.type, OVSA_SF_BOOLEAN);
            assert_int_equal(v.num, 1);
        }
    }
    assert_int_equal(n, 5);

    assert_int_equal(ovsa_sf_dict_get(d, strlen(d), "e", &v, &p), 1);
    assert_int_equal(v.type, OVSA_SF_BINARY);
    assert_int_equal(ovsa_sf_dict_get(d, strlen(d), "zz", &v, &p), 0);

    /* last duplicate wins */
    assert_int_equal(ovsa_sf_dict_get("a=1, a=2", 8, "a", &v, &p), 1);
    assert_int_equal(v.num, 2);

    /* malformed */
    assert_int_equal(ovsa_sf_dict_get("a=1,", 4, "a", &v, &p), -1);
    assert_int_equal(ovsa_sf_dict_get("A=1", 3, "a", &v, &p), -1);
    assert_int_equal(ovsa_sf_dict_get("a=(1", 4, "a", &v, &p), -1);
    assert_int_equal(ovsa_sf_dict_get("a=\"x", 4, "a", &v, &p), -1);
    assert_int_equal(ovsa_sf_dict_get("a=:AA", 5, "a", &v, &p), -1);
    assert_int_equal(ovsa_sf_dict_get("a=1 b=2", 7, "a", &v, &p), -1);
    assert_int_equal(ovsa_sf_dict_get("a=\"\\x\"", 6, "a", &v, &p), -1);
    assert_int_equal(ovsa_sf_dict_get("a=1234567890123456", 18, "a", &v,
                                      &p), -1);
}


/* ---- RFC 9530 */

static void
test_digest(void **state)
{
    char        out[OVSA_DIGEST_FIELD_LEN + 1];
    ovsa_err_t  err;

    assert_int_equal(ovsa_digest_field(kat_body, strlen(kat_body), out,
                                       &err), OVSA_OK);
    assert_string_equal(out, kat_digest);

    assert_int_equal(ovsa_digest_verify(ovsa_str(kat_digest), kat_body,
                                        strlen(kat_body), &err), OVSA_OK);

    /* sha-512 understood, unknown algorithms ignored */
    assert_int_equal(ovsa_digest_verify(ovsa_str("md5=:AAAA:, sha-512=:WZDPaVn/7XgH"
        "aAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHW"
        "XvJwew==:"), kat_body, strlen(kat_body), &err), OVSA_OK);

    assert_int_equal(ovsa_digest_verify(ovsa_str(kat_digest), "{\"hello\": \"World"
                                        "\"}", 18, &err), OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_DIGEST_MISMATCH);

    assert_int_equal(ovsa_digest_verify(ovsa_str(NULL), kat_body, 18, &err),
                     OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_DIGEST_MISSING);

    assert_int_equal(ovsa_digest_verify(ovsa_str("md5=:AAAA:"), kat_body, 18, &err),
                     OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_DIGEST_MISSING);

    assert_int_equal(ovsa_digest_verify(ovsa_str("sha-256=X48E"), kat_body, 18,
                                        &err), OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_SIG_SYNTAX);

    assert_int_equal(ovsa_digest_verify(ovsa_str("sha-256=:AAAA:"), kat_body, 18,
                                        &err), OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_SIG_SYNTAX);
}


/* ---- RFC 9421 known answer */

static void
test_kat(void **state)
{
    char               input[OVSA_SIG_INPUT_MAX], sig[OVSA_SIG_FIELD_MAX];
    char               base[2048];
    size_t             len;
    EVP_PKEY          *pkey;
    ovsa_err_t         err;
    ovsa_sig_msg_t     m;
    ovsa_sig_params_t  p;

    pkey = kat_pkey();
    m = kat_msg(kat_digest);

    assert_int_equal(ovsa_sig_params_init(&p, signer_of(pkey), 1700000000, 300, &err),
                     OVSA_OK);
    assert_string_equal(p.keyid, kat_keyid);
    assert_string_equal(p.alg, "ed25519");

    assert_int_equal(ovsa_sig_input_field(&p, input, &err), OVSA_OK);
    assert_string_equal(input, kat_input);

    /* sizing call, then the real one */
    assert_int_equal(ovsa_sig_base(&m, &p, NULL, 0, &len, &err), OVSA_OK);
    assert_int_equal(len, strlen(kat_base));
    assert_int_equal(ovsa_sig_base(&m, &p, base, sizeof(base), &len, &err),
                     OVSA_OK);
    base[len] = '\0';
    assert_string_equal(base, kat_base);

    assert_int_equal(ovsa_sig_finish(signer_of(pkey), base, len, sig, &err),
                     OVSA_OK);
    assert_string_equal(sig, kat_sig);

    assert_int_equal(ovsa_sig_verify(pkey, &m, ovsa_str(kat_input), ovsa_str(kat_sig),
                                     KAT_NOW, 60, &p, &err), OVSA_OK);

    /* field values as sent may carry outer spaces; base trims them */
    m.content_type = ovsa_str("  application/json ");
    assert_int_equal(ovsa_sig_verify(pkey, &m, ovsa_str(kat_input), ovsa_str(kat_sig),
                                     KAT_NOW, 60, NULL, &err), OVSA_OK);

    /* other labels in the dictionaries are skipped */
    assert_int_equal(ovsa_sig_verify(pkey, &m, ovsa_str("x=(\"@method\");k=1, "
                                     "ovsa=(\"@status\" \"content-type\" "
                                     "\"content-digest\" \"ovsa-nonce\";req "
                                     "\"@method\";req \"@target-uri\";req);"
                                     "created=1700000000;expires=1700000300;"
                                     "keyid=\"iGpE-rF0ZzZPnl5dr_HhE9Ht-lZca5"
                                     "o_5YTQYwOsjGo\";alg=\"ed25519\";"
                                     "tag=\"ovsa-license-v1\""),
                                     ovsa_str("x=:AAAA:, ovsa=:QxWXOc8AcBDKMcRTmm4T"
                                     "he/3bwH9V/vItu+Xj4Xy7sVwGY97cAfIDCJf2/"
                                     "I9I50p3a0Qil7NbhJZtnuxktPuAA==:"),
                                     KAT_NOW, 60, NULL, &err), OVSA_OK);

    EVP_PKEY_free(pkey);
}


/* ---- round trips */

static EVP_PKEY *
gen_key(const char *type)
{
    EVP_PKEY  *pkey;

    if (strcmp(type, "RSA") == 0) {
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t) 2048);
    } else if (strcmp(type, "EC") == 0) {
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    } else {
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, type);
    }

    assert_non_null(pkey);
    return pkey;
}


typedef struct {
    char            digest[OVSA_DIGEST_FIELD_LEN + 1];
    char            input[OVSA_SIG_INPUT_MAX];
    char            sig[OVSA_SIG_FIELD_MAX];
    char            base[2048];
    ovsa_sig_msg_t  msg;
} signed_t;


static void
sign_kat_msg(EVP_PKEY *pkey, time_t now, signed_t *s)
{
    size_t      len;
    ovsa_err_t  err;

    s->msg = kat_msg(NULL);
    assert_int_equal(ovsa_sig_sign_response(signer_of(pkey), &s->msg, kat_body,
                                            strlen(kat_body), now, 300,
                                            s->base, sizeof(s->base), &len,
                                            s->digest, s->input, s->sig,
                                            &err), OVSA_OK);
    s->msg.content_digest = ovsa_str(s->digest);
}


/*
 * The code of ovsa_sig_verify(), after checking that the client's path,
 * parse once then ovsa_sig_verify_parsed(), gives the same.
 */
static int
verify_code(EVP_PKEY *pub, const ovsa_sig_msg_t *m, const char *input,
    const char *sig, time_t now)
{
    int                code;
    size_t             sig_len;
    ovsa_err_t         err, err2;
    ovsa_sig_params_t  p;
    unsigned char      raw[OVSA_SIG_MAX];

    ovsa_err_clear(&err);
    if (ovsa_sig_verify(pub, m, ovsa_str(input), ovsa_str(sig), now, 60, NULL, &err)
        == OVSA_OK)
    {
        code = OVSA_E_NONE;

    } else {
        assert_true(err.msg[0] != '\0');
        code = err.code;
    }

    ovsa_err_clear(&err2);
    if (ovsa_sig_parse(ovsa_str(input), ovsa_str(sig), &p, raw, &sig_len, &err2) == OVSA_OK
        && ovsa_sig_verify_parsed(pub, m, &p, raw, sig_len, now, 60, &err2)
           == OVSA_OK)
    {
        assert_int_equal(code, OVSA_E_NONE);

    } else {
        assert_int_equal(err2.code, code);
        assert_string_equal(err2.msg, err.msg);
    }

    return code;
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


static void
round_trip(const char *type, const char *alg, size_t raw_len)
{
    char            other_alg[64], sigbad[OVSA_SIG_FIELD_MAX];
    size_t          n;
    long            sl;
    EVP_PKEY       *pkey, *other;
    signed_t        s;
    ovsa_err_t      err;
    ovsa_sig_msg_t  m;
    unsigned char   raw[OVSA_SIG_MAX];

    pkey = gen_key(type);
    other = gen_key(type);

    sign_kat_msg(pkey, 1700000000, &s);
    assert_non_null(strstr(s.input, alg));

    /* the signature has the size the alg defines (r||s for P-256) */
    n = strlen(s.sig);
    sl = ovsa_b64_decode(s.sig + 6, n - 7, raw, sizeof(raw));
    assert_int_equal(sl, raw_len);

    assert_int_equal(verify_code(pkey, &s.msg, s.input, s.sig, KAT_NOW),
                     OVSA_E_NONE);

    /* each tampering: its own code */
    m = s.msg;
    m.status = 203;
    assert_int_equal(verify_code(pkey, &m, s.input, s.sig, KAT_NOW),
                     OVSA_E_SIG_INVALID);

    m = s.msg;
    m.content_type = ovsa_str("text/plain");
    assert_int_equal(verify_code(pkey, &m, s.input, s.sig, KAT_NOW),
                     OVSA_E_SIG_INVALID);

    m = s.msg;
    m.content_type = ovsa_str(NULL);
    assert_int_equal(verify_code(pkey, &m, s.input, s.sig, KAT_NOW),
                     OVSA_E_SIG_INVALID);

    m = s.msg;
    m.nonce = ovsa_str("another-nonce");
    assert_int_equal(verify_code(pkey, &m, s.input, s.sig, KAT_NOW),
                     OVSA_E_SIG_INVALID);

    m = s.msg;
    m.method = ovsa_str("GET");
    assert_int_equal(verify_code(pkey, &m, s.input, s.sig, KAT_NOW),
                     OVSA_E_SIG_INVALID);

    m = s.msg;
    m.target_uri = ovsa_str("https://license.example:8443/v1/activate");
    assert_int_equal(verify_code(pkey, &m, s.input, s.sig, KAT_NOW),
                     OVSA_E_SIG_INVALID);

    m = s.msg;
    m.content_digest = ovsa_str("sha-256=:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
                         "=:");
    assert_int_equal(verify_code(pkey, &m, s.input, s.sig, KAT_NOW),
                     OVSA_E_SIG_INVALID);

    /* a flipped signature byte */
    strcpy(sigbad, s.sig);
    sigbad[10] = sigbad[10] == 'A' ? 'B' : 'A';
    assert_int_equal(verify_code(pkey, &s.msg, s.input, sigbad, KAT_NOW),
                     OVSA_E_SIG_INVALID);

    /*
     * the same signature bytes with other unused bits in the last base64
     * character (every alg's signature ends in "x==", 4 unused bits):
     * refused as malformed, so the Signature field has one spelling only
     */
    strcpy(sigbad, s.sig);
    n = strlen(sigbad);
    assert_string_equal(sigbad + n - 3, "==:");
    {
        static const char  b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                   "abcdefghijklmnopqrstuvwxyz0123456789+/";

        sigbad[n - 4] = b64[(strchr(b64, sigbad[n - 4]) - b64) ^ 1];
    }
    assert_int_equal(verify_code(pkey, &s.msg, s.input, sigbad, KAT_NOW),
                     OVSA_E_SIG_SYNTAX);

    /* parameters: created, expires */
    assert_int_equal(verify_code(pkey, &s.msg, subst(s.input,
                     "created=1700000000", "created=1700000001"), s.sig,
                     KAT_NOW), OVSA_E_SIG_INVALID);
    assert_int_equal(verify_code(pkey, &s.msg, s.input, s.sig,
                     1700000000 - 61), OVSA_E_SIG_CREATED);
    assert_int_equal(verify_code(pkey, &s.msg, s.input, s.sig,
                     1700000000 - 59), OVSA_E_NONE);
    assert_int_equal(verify_code(pkey, &s.msg, s.input, s.sig,
                     1700000300 + 60), OVSA_E_SIG_EXPIRED);
    assert_int_equal(verify_code(pkey, &s.msg, s.input, s.sig,
                     1700000300 + 59), OVSA_E_NONE);

    /* components */
    assert_int_equal(verify_code(pkey, &s.msg, subst(s.input,
                     " \"content-digest\"", ""), s.sig, KAT_NOW),
                     OVSA_E_SIG_COMPONENTS);
    assert_int_equal(verify_code(pkey, &s.msg, subst(s.input,
                     "\"@method\";req", "\"@method\""), s.sig, KAT_NOW),
                     OVSA_E_SIG_COMPONENTS);
    assert_int_equal(verify_code(pkey, &s.msg, subst(s.input,
                     ";req)", ";req \"date\")"), s.sig, KAT_NOW),
                     OVSA_E_SIG_COMPONENTS);
    assert_int_equal(verify_code(pkey, &s.msg, subst(s.input,
                     "\"ovsa-license-v1\"", "\"ovsa-license-v1\";nonce=\"x\""),
                     s.sig, KAT_NOW), OVSA_E_SIG_COMPONENTS);

    /* tag, alg, keyid */
    assert_int_equal(verify_code(pkey, &s.msg, subst(s.input,
                     "ovsa-license-v1", "ovsa-license-v2"), s.sig, KAT_NOW),
                     OVSA_E_SIG_TAG);
    snprintf(other_alg, sizeof(other_alg), "alg=\"%s\"",
             strcmp(alg, "ed25519") == 0 ? "rsa-pss-sha512" : "ed25519");
    assert_int_equal(verify_code(pkey, &s.msg, subst(s.input,
                     strstr(s.input, "alg="), other_alg), s.sig, KAT_NOW),
                     OVSA_E_SIG_COMPONENTS);   /* tag went with it */
    snprintf(other_alg, sizeof(other_alg), "alg=\"%s\";",
             strcmp(alg, "ed25519") == 0 ? "rsa-pss-sha512" : "ed25519");
    {
        char  from[64];

        snprintf(from, sizeof(from), "alg=\"%s\";", alg);
        assert_int_equal(verify_code(pkey, &s.msg, subst(s.input, from,
                         other_alg), s.sig, KAT_NOW), OVSA_E_SIG_ALG);
        assert_int_equal(verify_code(pkey, &s.msg, subst(s.input, from,
                         "alg=\"hmac-sha256\";"), s.sig, KAT_NOW),
                         OVSA_E_SIG_ALG);
    }

    /* signed by another key: its keyid is not the leaf's */
    assert_int_equal(verify_code(other, &s.msg, s.input, s.sig, KAT_NOW),
                     OVSA_E_SIG_KEYID);

    /* another key's signature under this key's keyid */
    {
        signed_t  o;

        sign_kat_msg(other, 1700000000, &o);
        assert_int_equal(verify_code(pkey, &s.msg, s.input, o.sig, KAT_NOW),
                         OVSA_E_SIG_INVALID);
    }

    /* missing and malformed fields */
    assert_int_equal(verify_code(pkey, &s.msg, NULL, s.sig, KAT_NOW),
                     OVSA_E_SIG_MISSING);
    assert_int_equal(verify_code(pkey, &s.msg, s.input, NULL, KAT_NOW),
                     OVSA_E_SIG_MISSING);
    assert_int_equal(verify_code(pkey, &s.msg, subst(s.input, "ovsa=",
                     "other="), s.sig, KAT_NOW), OVSA_E_SIG_MISSING);
    assert_int_equal(verify_code(pkey, &s.msg, subst(s.input, "ovsa=(",
                     "ovsa=(("), s.sig, KAT_NOW), OVSA_E_SIG_SYNTAX);
    assert_int_equal(verify_code(pkey, &s.msg, s.input, "ovsa=:!!:",
                     KAT_NOW), OVSA_E_SIG_SYNTAX);
    assert_int_equal(verify_code(pkey, &s.msg, s.input, "ovsa=\"abc\"",
                     KAT_NOW), OVSA_E_SIG_SYNTAX);

    /* the key type decides the alg: a key of another type cannot sign */
    {
        EVP_PKEY       *foreign;
        ovsa_signer_t   sg;

        foreign = gen_key(strcmp(type, "ED25519") == 0 ? "EC" : "ED25519");
        assert_int_equal(ovsa_signer_init(&sg, pkey, foreign, &err),
                         OVSA_ERR);
        assert_int_equal(err.code, OVSA_E_SIG_ALG);
        ovsa_signer_free(&sg);

        /* a signer without a private key prepares but does not sign */
        assert_int_equal(ovsa_signer_init(&sg, pkey, NULL, &err), OVSA_OK);
        assert_int_equal(ovsa_sig_finish(&sg, "x", 1, sigbad, &err),
                         OVSA_ERR);
        assert_int_equal(err.code, OVSA_E_KEY);
        ovsa_signer_free(&sg);
        EVP_PKEY_free(foreign);
    }

    EVP_PKEY_free(other);
    EVP_PKEY_free(pkey);
}


/* ---- the 7th component, "content-digest";req */

static void
test_kat_req_digest(void **state)
{
    char               digest[OVSA_DIGEST_FIELD_LEN + 1];
    char               input[OVSA_SIG_INPUT_MAX], sig[OVSA_SIG_FIELD_MAX];
    char               base[2048];
    size_t             len, sig_len;
    EVP_PKEY          *pkey;
    ovsa_err_t         err;
    ovsa_sig_msg_t     m;
    ovsa_sig_params_t  p;
    unsigned char      raw[OVSA_SIG_MAX];

    pkey = kat_pkey();

    /* the request digest is RFC 9530's of the request body */
    assert_int_equal(ovsa_digest_field(kat_req_body, strlen(kat_req_body),
                                       digest, &err), OVSA_OK);
    assert_string_equal(digest, kat_req_digest);

    m = kat_msg(kat_digest);
    m.req_content_digest = ovsa_str(kat_req_digest);

    /* the signing sequence of the server covers it */
    assert_int_equal(ovsa_sig_sign_response(signer_of(pkey), &m, kat_body,
                                            strlen(kat_body), 1700000000,
                                            300, base, sizeof(base), &len,
                                            digest, input, sig, &err),
                     OVSA_OK);
    base[len] = '\0';
    assert_string_equal(digest, kat_digest);
    assert_string_equal(base, kat7_base);
    assert_string_equal(input, kat7_input);
    assert_string_equal(sig, kat7_sig);

    /* the client's parse once, then verify */
    assert_int_equal(ovsa_sig_parse(ovsa_str(kat7_input), ovsa_str(kat7_sig),
                                    &p, raw, &sig_len, &err), OVSA_OK);
    assert_int_equal(p.req_digest, 1);
    assert_int_equal(ovsa_sig_verify_parsed(pkey, &m, &p, raw, sig_len,
                                            KAT_NOW, 60, &err), OVSA_OK);

    /* the answer without the 7th: req_digest 0 */
    assert_int_equal(ovsa_sig_parse(ovsa_str(kat_input), ovsa_str(kat_sig),
                                    &p, raw, &sig_len, &err), OVSA_OK);
    assert_int_equal(p.req_digest, 0);

    /* params and msg that disagree build no base */
    assert_int_equal(ovsa_sig_base(&m, &p, NULL, 0, &len, &err), OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_SIG_COMPONENTS);
    assert_int_equal(ovsa_sig_check_components(&m, &p, &err), OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_SIG_COMPONENTS);

    EVP_PKEY_free(pkey);
}


static void
req_digest_trip(const char *type)
{
    char            *at;
    EVP_PKEY        *pkey;
    signed_t         s, s6;
    ovsa_err_t       err;
    ovsa_sig_msg_t   m;
    size_t           len;

    pkey = gen_key(type);

    /* signed with the request's Content-Digest */
    memset(&s, 0, sizeof(s));
    s.msg = kat_msg(NULL);
    s.msg.req_content_digest = ovsa_str(kat_req_digest);
    assert_int_equal(ovsa_sig_sign_response(signer_of(pkey), &s.msg,
                                            kat_body, strlen(kat_body),
                                            1700000000, 300, s.base,
                                            sizeof(s.base), &len, s.digest,
                                            s.input, s.sig, &err), OVSA_OK);
    s.msg.content_digest = ovsa_str(s.digest);
    assert_non_null(strstr(s.input, "\"@target-uri\";req "
                                    "\"content-digest\";req);"));

    assert_int_equal(verify_code(pkey, &s.msg, s.input, s.sig, KAT_NOW),
                     OVSA_E_NONE);

    /* another request digest than the one sent: the base differs */
    m = s.msg;
    m.req_content_digest =
        ovsa_str("sha-256=:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:");
    assert_int_equal(verify_code(pkey, &m, s.input, s.sig, KAT_NOW),
                     OVSA_E_SIG_INVALID);

    /* the client sent none, the answer covers one: refused */
    m = s.msg;
    m.req_content_digest = ovsa_str(NULL);
    assert_int_equal(verify_code(pkey, &m, s.input, s.sig, KAT_NOW),
                     OVSA_E_SIG_COMPONENTS);

    /* the client sent one, the answer does not cover it: refused */
    sign_kat_msg(pkey, 1700000000, &s6);
    m = s6.msg;
    m.req_content_digest = ovsa_str(kat_req_digest);
    assert_int_equal(verify_code(pkey, &m, s6.input, s6.sig, KAT_NOW),
                     OVSA_E_SIG_COMPONENTS);
    assert_int_equal(verify_code(pkey, &s6.msg, s6.input, s6.sig, KAT_NOW),
                     OVSA_E_NONE);

    /* the 7th component dropped from the input, as a tamperer would */
    assert_int_equal(verify_code(pkey, &s.msg, subst(s.input,
                     " \"content-digest\";req)", ")"), s.sig, KAT_NOW),
                     OVSA_E_SIG_COMPONENTS);

    /* ... or changed: without ;req, another name, an 8th */
    assert_int_equal(verify_code(pkey, &s.msg, subst(s.input,
                     "\"content-digest\";req)", "\"content-digest\")"),
                     s.sig, KAT_NOW), OVSA_E_SIG_COMPONENTS);
    assert_int_equal(verify_code(pkey, &s.msg, subst(s.input,
                     "\"content-digest\";req)", "\"repr-digest\";req)"),
                     s.sig, KAT_NOW), OVSA_E_SIG_COMPONENTS);
    assert_int_equal(verify_code(pkey, &s.msg, subst(s.input,
                     "\"content-digest\";req)",
                     "\"content-digest\";req \"content-digest\";req)"),
                     s.sig, KAT_NOW), OVSA_E_SIG_COMPONENTS);

    /* a 6-component input over a 7-component signature */
    at = strstr(s.input, " \"content-digest\";req)");
    assert_non_null(at);
    assert_int_equal(verify_code(pkey, &s6.msg, subst(s.input,
                     " \"content-digest\";req)", ")"), s.sig, KAT_NOW),
                     OVSA_E_SIG_INVALID);

    EVP_PKEY_free(pkey);
}


static void
test_req_digest(void **state)
{
    req_digest_trip("ED25519");
    req_digest_trip("EC");
    req_digest_trip("RSA");
}



static void
test_rsa(void **state)
{
    round_trip("RSA", "rsa-pss-sha512", 256);
}


static void
test_p256(void **state)
{
    round_trip("EC", "ecdsa-p256-sha256", 64);
}


static void
test_ed25519(void **state)
{
    round_trip("ED25519", "ed25519", 64);
}


static void
test_key_types(void **state)
{
    EVP_PKEY    *pkey;
    ovsa_err_t   err;

    pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    assert_null(ovsa_alg_for_key(OVSA_ALG_HTTPSIG, pkey, &err));
    assert_int_equal(err.code, OVSA_E_KEY_TYPE);
    EVP_PKEY_free(pkey);

    pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t) 1024);
    assert_null(ovsa_alg_for_key(OVSA_ALG_HTTPSIG, pkey, &err));
    assert_int_equal(err.code, OVSA_E_KEY_TYPE);
    EVP_PKEY_free(pkey);

    pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED448");
    assert_null(ovsa_alg_for_key(OVSA_ALG_HTTPSIG, pkey, &err));
    assert_int_equal(err.code, OVSA_E_KEY_TYPE);
    EVP_PKEY_free(pkey);
}


static void
test_base_rejects(void **state)
{
    size_t             len;
    EVP_PKEY          *pkey;
    ovsa_err_t         err;
    ovsa_sig_msg_t     m;
    ovsa_sig_params_t  p;

    pkey = kat_pkey();
    assert_int_equal(ovsa_sig_params_init(&p, signer_of(pkey), 1700000000, 300, &err),
                     OVSA_OK);

    m = kat_msg(kat_digest);
    m.nonce = ovsa_str("a\r\nx-injected: 1");
    assert_int_equal(ovsa_sig_base(&m, &p, NULL, 0, &len, &err), OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_SIG_COMPONENTS);
    assert_non_null(strstr(err.msg, "ovsa-nonce"));

    m = kat_msg(NULL);
    assert_int_equal(ovsa_sig_base(&m, &p, NULL, 0, &len, &err), OVSA_ERR);
    assert_non_null(strstr(err.msg, "content-digest"));

    m = kat_msg(kat_digest);
    m.status = 42;
    assert_int_equal(ovsa_sig_base(&m, &p, NULL, 0, &len, &err), OVSA_ERR);

    EVP_PKEY_free(pkey);
}


static void
test_nonce(void **state)
{
    char  big[130];

    assert_true(ovsa_nonce_valid("abc-_XYZ09", 10));
    assert_false(ovsa_nonce_valid("", 0));
    assert_false(ovsa_nonce_valid("a b", 3));
    assert_false(ovsa_nonce_valid("ab+/", 4));
    assert_false(ovsa_nonce_valid("ab=", 3));
    memset(big, 'a', sizeof(big));
    assert_true(ovsa_nonce_valid(big, 128));
    assert_false(ovsa_nonce_valid(big, 129));
}


static void
test_b64(void **state)
{
    char           out[16];
    unsigned char  raw[8];

    assert_int_equal(ovsa_b64_encode((const unsigned char *) "\xfb\xff", 2,
                                     out, 1), 3);
    assert_string_equal(out, "-_8");
    assert_int_equal(ovsa_b64_encode((const unsigned char *) "\xfb\xff", 2,
                                     out, 0), 4);
    assert_string_equal(out, "+/8=");
    assert_int_equal(ovsa_b64_decode("+/8=", 4, raw, sizeof(raw)), 2);
    assert_int_equal(ovsa_b64_decode("+/8", 3, raw, sizeof(raw)), -1);
    assert_int_equal(ovsa_b64_decode("+=8=", 4, raw, sizeof(raw)), -1);
    assert_int_equal(ovsa_b64_decode("AA==AAAA", 8, raw, sizeof(raw)), -1);
    assert_int_equal(ovsa_b64_decode("AAAAAAAA", 8, raw, 5), -1);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sf_dict),
        cmocka_unit_test(test_digest),
        cmocka_unit_test(test_kat),
        cmocka_unit_test(test_kat_req_digest),
        cmocka_unit_test(test_req_digest),
        cmocka_unit_test(test_rsa),
        cmocka_unit_test(test_p256),
        cmocka_unit_test(test_ed25519),
        cmocka_unit_test(test_key_types),
        cmocka_unit_test(test_base_rejects),
        cmocka_unit_test(test_nonce),
        cmocka_unit_test(test_b64),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
