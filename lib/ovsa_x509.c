/*
 * ovsa_x509.c: chains, keys and the one-root verification.
 */

#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "ovsa_file.h"
#include "ovsa_x509.h"


const char *
ovsa_cert_subject(X509 *cert, char *buf, size_t size)
{
    BIO   *bio;
    int    n;

    buf[0] = '\0';
    bio = BIO_new(BIO_s_mem());
    if (bio == NULL) {
        return buf;
    }

    X509_NAME_print_ex(bio, X509_get_subject_name(cert), 0,
                       XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
    n = BIO_read(bio, buf, (int) size - 1);
    buf[n > 0 ? n : 0] = '\0';
    BIO_free(bio);
    return buf;
}


/* concatenated DER certificates */
static int
ovsa_chain_der(const unsigned char *der, size_t len, const char *what,
    STACK_OF(X509) *chain, ovsa_err_t *err)
{
    X509                 *x;
    const unsigned char  *p, *end;

    p = der;
    end = der + len;

    while (p < end) {
        x = d2i_X509(NULL, &p, (long) (end - p));
        if (x == NULL) {
            return ovsa_err_ssl(err, OVSA_E_PEM, "%s: certificate %d: not a "
                                "valid DER X.509 certificate", what,
                                sk_X509_num(chain) + 1);
        }

        if (!sk_X509_push(chain, x)) {
            X509_free(x);
            return ovsa_err_set(err, OVSA_E_NOMEM, "%s: out of memory", what);
        }
    }

    return OVSA_OK;
}


/* The first occurrence of s in p[0..n), or NULL. */
static const char *
ovsa_find(const char *p, size_t n, const char *s)
{
    size_t  k;

    k = strlen(s);
    for ( ; n >= k; p++, n--) {
        if (memcmp(p, s, k) == 0) {
            return p;
        }
    }

    return NULL;
}


/* CERTIFICATE blocks */
static int
ovsa_chain_pem(const char *pem, size_t len, const char *what,
    STACK_OF(X509) *chain, ovsa_err_t *err)
{
    int                   n;
    BIO                  *bio;
    X509                 *x;
    char                 *name, *header, *rest;
    long                  dlen, rlen;
    const char           *begin;
    unsigned char        *data;
    const unsigned char  *p;

    bio = BIO_new_mem_buf(pem, (int) len);
    if (bio == NULL) {
        return ovsa_err_set(err, OVSA_E_NOMEM, "%s: out of memory", what);
    }

    /*
     * PEM_read_bio() block by block, so that a truncated or foreign block
     * is an error rather than the end of the chain.
     */
    for ( ;; ) {
        /*
         * PEM_read_bio() skips text before a block: an END line there is
         * what is left of a block that lost its BEGIN line.
         */
        rlen = BIO_get_mem_data(bio, &rest);
        begin = ovsa_find(rest, (size_t) rlen, "-----BEGIN ");
        if (ovsa_find(rest, begin ? (size_t) (begin - rest) : (size_t) rlen,
                      "-----END ") != NULL)
        {
            n = sk_X509_num(chain) + 1;
            BIO_free(bio);
            return ovsa_err_set(err, OVSA_E_PEM, "%s: certificate %d: "
                                "malformed PEM (an END line without its "
                                "BEGIN line)", what, n);
        }

        if (!PEM_read_bio(bio, &name, &header, &data, &dlen)) {
            /* end of input: PEM_read_bio() finds no further block */
            if (ERR_GET_REASON(ERR_peek_last_error()) == PEM_R_NO_START_LINE
                && sk_X509_num(chain) > 0)
            {
                ERR_clear_error();
                break;
            }

            n = sk_X509_num(chain) + 1;
            BIO_free(bio);
            if (ERR_GET_REASON(ERR_peek_last_error()) == PEM_R_NO_START_LINE) {
                ERR_clear_error();
                return ovsa_err_set(err, OVSA_E_CHAIN_EMPTY,
                                    "%s: no PEM or DER certificate found",
                                    what);
            }
            return ovsa_err_ssl(err, OVSA_E_PEM,
                                "%s: certificate %d: malformed PEM", what, n);
        }

        x = NULL;
        if (strcmp(name, PEM_STRING_X509) == 0
            || strcmp(name, PEM_STRING_X509_OLD) == 0)
        {
            p = data;
            x = d2i_X509(NULL, &p, dlen);
            if (x != NULL && p != data + dlen) {
                X509_free(x);
                x = NULL;
            }
        }

        OPENSSL_free(name);
        OPENSSL_free(header);
        OPENSSL_free(data);

        if (x == NULL) {
            n = sk_X509_num(chain) + 1;
            BIO_free(bio);
            return ovsa_err_ssl(err, OVSA_E_PEM,
                                "%s: certificate %d: not a valid X.509 "
                                "certificate", what, n);
        }

        if (!sk_X509_push(chain, x)) {
            X509_free(x);
            BIO_free(bio);
            return ovsa_err_set(err, OVSA_E_NOMEM, "%s: out of memory", what);
        }
    }

    BIO_free(bio);
    return OVSA_OK;
}


/*
 * DER or PEM: a DER certificate is a SEQUENCE longer than 127 bytes, so
 * it starts with 0x30 and a long-form length (0x81..0x84); no text starts
 * with these two bytes.
 */
static int
ovsa_is_der(const unsigned char *p, size_t len)
{
    return len >= 2 && p[0] == 0x30 && p[1] >= 0x81 && p[1] <= 0x84;
}


int
ovsa_chain_load_mem(const char *data, size_t len, const char *what,
    STACK_OF(X509) **out, ovsa_err_t *err)
{
    int              rc;
    STACK_OF(X509)  *chain;

    chain = sk_X509_new_null();
    if (chain == NULL) {
        return ovsa_err_set(err, OVSA_E_NOMEM, "%s: out of memory", what);
    }

    if (ovsa_is_der((const unsigned char *) data, len)) {
        rc = ovsa_chain_der((const unsigned char *) data, len, what, chain,
                            err);
    } else {
        rc = ovsa_chain_pem(data, len, what, chain, err);
    }

    if (rc != OVSA_OK) {
        sk_X509_pop_free(chain, X509_free);
        return OVSA_ERR;
    }

    *out = chain;
    return OVSA_OK;
}


int
ovsa_chain_load(const char *file, STACK_OF(X509) **out, ovsa_err_t *err)
{
    int      rc;
    char    *buf;
    size_t   len;

    if (ovsa_file_read(file, 1024 * 1024, &buf, &len, err) != OVSA_OK) {
        return OVSA_ERR;
    }

    rc = ovsa_chain_load_mem(buf, len, file, out, err);
    free(buf);
    return rc;
}


int
ovsa_cert_load(const char *file, X509 **out, ovsa_err_t *err)
{
    int              n;
    STACK_OF(X509)  *certs;

    if (ovsa_chain_load(file, &certs, err) != OVSA_OK) {
        return OVSA_ERR;
    }

    n = sk_X509_num(certs);
    if (n != 1) {
        sk_X509_pop_free(certs, X509_free);
        return ovsa_err_set(err, OVSA_E_PEM, "%s: expected exactly one "
                            "certificate, found %d", file, n);
    }

    *out = sk_X509_shift(certs);
    sk_X509_free(certs);
    return OVSA_OK;
}


int
ovsa_key_match(X509 *leaf, EVP_PKEY *key, ovsa_err_t *err)
{
    char  name[256];

    if (EVP_PKEY_eq(X509_get0_pubkey(leaf), key) != 1) {
        ERR_clear_error();
        return ovsa_err_set(err, OVSA_E_KEY_MISMATCH, "private key does not "
                            "match the leaf certificate (%s)",
                            ovsa_cert_subject(leaf, name, sizeof(name)));
    }

    return OVSA_OK;
}


static int
ovsa_has_policy(X509 *leaf)
{
    int                          i, found;
    char                         oid[128];
    POLICYINFO                  *pi;
    CERTIFICATEPOLICIES         *pols;

    pols = X509_get_ext_d2i(leaf, NID_certificate_policies, NULL, NULL);
    if (pols == NULL) {
        return 0;
    }

    found = 0;
    for (i = 0; i < sk_POLICYINFO_num(pols); i++) {
        pi = sk_POLICYINFO_value(pols, i);
        if (OBJ_obj2txt(oid, sizeof(oid), pi->policyid, 1) > 0
            && strcmp(oid, OVSA_POLICY_OID) == 0)
        {
            found = 1;
            break;
        }
    }

    CERTIFICATEPOLICIES_free(pols);
    return found;
}


/* the OVSA_VERIFY_* usage checks of a leaf: serverAuth EKU, policy OID */
static int
ovsa_leaf_usage(X509 *leaf, unsigned flags, ovsa_err_t *err)
{
    char  a[256];

    if ((flags & OVSA_VERIFY_EKU_SERVER)
        && (!(X509_get_extension_flags(leaf) & EXFLAG_XKUSAGE)
            || !(X509_get_extended_key_usage(leaf) & XKU_SSL_SERVER)))
    {
        return ovsa_err_set(err, OVSA_E_CERT_EKU, "leaf (%s) does not list "
                            "the serverAuth extended key usage",
                            ovsa_cert_subject(leaf, a, sizeof(a)));
    }

    if ((flags & OVSA_VERIFY_POLICY) && !ovsa_has_policy(leaf)) {
        return ovsa_err_set(err, OVSA_E_CERT_POLICY, "leaf (%s) does not "
                            "carry the ovsa policy %s",
                            ovsa_cert_subject(leaf, a, sizeof(a)),
                            OVSA_POLICY_OID);
    }

    return OVSA_OK;
}


static int
ovsa_verify_code(int v)
{
    switch (v) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
        return OVSA_E_CERT_EXPIRED;
    case X509_V_ERR_CERT_NOT_YET_VALID:
        return OVSA_E_CERT_NOT_YET;
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
        return OVSA_E_CHAIN_ROOT;
    case X509_V_ERR_INVALID_PURPOSE:
        return OVSA_E_CERT_EKU;
    default:
        return OVSA_E_CHAIN_VERIFY;
    }
}


int
ovsa_chain_verify(STACK_OF(X509) *chain, X509 *root, unsigned flags,
    time_t at, ovsa_err_t *err)
{
    int              i, n, rc, v, depth, self;
    X509            *leaf, *x;
    char             a[256], b[256];
    X509_STORE      *store;
    X509_STORE_CTX  *ctx;
    STACK_OF(X509)  *untrusted;

    n = sk_X509_num(chain);
    if (n == 0) {
        return ovsa_err_set(err, OVSA_E_CHAIN_EMPTY, "chain: no certificate");
    }

    leaf = sk_X509_value(chain, 0);
    self = (n == 1 && X509_cmp(leaf, root) == 0);

    /* a trailing copy of the root is allowed; it is not sent or used */
    if (n > 1 && X509_cmp(sk_X509_value(chain, n - 1), root) == 0) {
        n--;
    }

    for (i = 0; i + 1 < n; i++) {
        if (X509_check_issued(sk_X509_value(chain, i + 1),
                              sk_X509_value(chain, i)) != X509_V_OK)
        {
            return ovsa_err_set(err, OVSA_E_CHAIN_ORDER,
                "chain: certificate %d (%s) is not the issuer of "
                "certificate %d (%s): the chain must run from the leaf "
                "to the root", i + 2,
                ovsa_cert_subject(sk_X509_value(chain, i + 1), a, sizeof(a)),
                i + 1,
                ovsa_cert_subject(sk_X509_value(chain, i), b, sizeof(b)));
        }
    }

    x = sk_X509_value(chain, n - 1);
    if (!self && X509_check_issued(root, x) != X509_V_OK) {
        return ovsa_err_set(err, OVSA_E_CHAIN_ROOT,
            "chain: certificate %d (%s) is not issued by the expected root "
            "(%s)", n, ovsa_cert_subject(x, a, sizeof(a)),
            ovsa_cert_subject(root, b, sizeof(b)));
    }

    if (!self && X509_check_ca(root) == 0) {
        return ovsa_err_set(err, OVSA_E_ROOT, "root: %s is not a CA "
                            "certificate",
                            ovsa_cert_subject(root, a, sizeof(a)));
    }

    if (ovsa_leaf_usage(leaf, flags, err) != OVSA_OK) {
        return OVSA_ERR;
    }

    rc = OVSA_ERR;
    store = X509_STORE_new();
    ctx = X509_STORE_CTX_new();
    untrusted = sk_X509_new_null();

    if (store == NULL || ctx == NULL || untrusted == NULL
        || !X509_STORE_add_cert(store, root))
    {
        ovsa_err_ssl(err, OVSA_E_NOMEM, "chain: cannot build the trust store");
        goto end;
    }

    for (i = 1; i < n; i++) {
        if (!sk_X509_push(untrusted, sk_X509_value(chain, i))) {
            ovsa_err_set(err, OVSA_E_NOMEM, "chain: out of memory");
            goto end;
        }
    }

    if (!X509_STORE_CTX_init(ctx, store, leaf, untrusted)) {
        ovsa_err_ssl(err, OVSA_E_INTERNAL, "chain: verify init");
        goto end;
    }

    X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_X509_STRICT);
    if (at != 0) {
        X509_STORE_CTX_set_time(ctx, 0, at);
    }

    if (X509_verify_cert(ctx) == 1) {
        rc = OVSA_OK;
        goto end;
    }

    v = X509_STORE_CTX_get_error(ctx);
    depth = X509_STORE_CTX_get_error_depth(ctx);
    x = X509_STORE_CTX_get_current_cert(ctx);

    ERR_clear_error();
    ovsa_err_set(err, ovsa_verify_code(v), "chain: certificate %d (%s): %s",
                 depth + 1, x ? ovsa_cert_subject(x, a, sizeof(a)) : "?",
                 X509_verify_cert_error_string(v));

end:

    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    sk_X509_free(untrusted);
    return rc;
}


/*
 * 12b: the TLS identity of hardware-key mode (hardware_key.tls_chain and
 * tls_key): a second leaf under the same root with the same checks as
 * identity.chain, a software key that matches it and is not the key of
 * the signing leaf (the token's).
 */
static int
ovsa_identity_tls(const ovsa_conf_t *conf, ovsa_identity_t *id,
    ovsa_err_t *err)
{
    int          n;
    ovsa_err_t   e;

    if (ovsa_chain_load(conf->hw_tls_chain, &id->tls_chain, &e) != OVSA_OK) {
        return ovsa_err_set(err, e.code, "hardware_key.tls_chain: %s", e.msg);
    }

    if (ovsa_chain_verify(id->tls_chain, id->root, OVSA_VERIFY_SERVER, 0,
                          &e)
        != OVSA_OK)
    {
        return ovsa_err_set(err, e.code, "hardware_key.tls_chain: %s: %s",
                            conf->hw_tls_chain, e.msg);
    }

    n = sk_X509_num(id->tls_chain);
    if (n > 1
        && X509_cmp(sk_X509_value(id->tls_chain, n - 1), id->root) == 0)
    {
        X509_free(sk_X509_pop(id->tls_chain));
    }

    if (EVP_PKEY_eq(X509_get0_pubkey(sk_X509_value(id->tls_chain, 0)),
                    X509_get0_pubkey(sk_X509_value(id->chain, 0)))
        == 1)
    {
        return ovsa_err_set(err, OVSA_E_CONF_VALUE, "hardware_key.tls_chain: "
                            "%s: the TLS leaf has the key of identity.chain's "
                            "leaf (the token's); the TLS identity needs a "
                            "key of its own", conf->hw_tls_chain);
    }

    if (ovsa_key_load(conf->hw_tls_key, &id->tls_key, &e) != OVSA_OK) {
        return ovsa_err_set(err, e.code, "hardware_key.tls_key: %s", e.msg);
    }

    if (ovsa_key_match(sk_X509_value(id->tls_chain, 0), id->tls_key, &e)
        != OVSA_OK)
    {
        return ovsa_err_set(err, e.code, "hardware_key.tls_key: %s: %s",
                            conf->hw_tls_key, e.msg);
    }

    return OVSA_OK;
}


int
ovsa_identity_load(const ovsa_conf_t *conf, ovsa_identity_t *id,
    ovsa_err_t *err)
{
    int          n;
    ovsa_err_t   e;

    memset(id, 0, sizeof(*id));

    if (ovsa_cert_load(conf->root, &id->root, &e) != OVSA_OK) {
        ovsa_err_set(err, e.code == OVSA_E_IO ? OVSA_E_ROOT : e.code,
                     "identity.root: %s", e.msg);
        goto failed;
    }

    if (ovsa_chain_load(conf->chain, &id->chain, &e) != OVSA_OK) {
        ovsa_err_set(err, e.code, "identity.chain: %s", e.msg);
        goto failed;
    }

    if (ovsa_chain_verify(id->chain, id->root, OVSA_VERIFY_SERVER, 0, &e)
        != OVSA_OK)
    {
        ovsa_err_set(err, e.code, "identity.chain: %s: %s", conf->chain,
                     e.msg);
        goto failed;
    }

    /* drop a trailing root: the server presents leaf + intermediates */
    n = sk_X509_num(id->chain);
    if (n > 1 && X509_cmp(sk_X509_value(id->chain, n - 1), id->root) == 0) {
        X509_free(sk_X509_pop(id->chain));
    }

    if (conf->key == NULL) {
        /* hardware-key mode: the token is checked later */
        if (conf->hw_tls_chain == NULL) {
            return OVSA_OK;
        }

        if (ovsa_identity_tls(conf, id, err) != OVSA_OK) {
            goto failed;
        }

        return OVSA_OK;
    }

    if (ovsa_key_load(conf->key, &id->key, &e) != OVSA_OK) {
        ovsa_err_set(err, e.code, "identity.key: %s", e.msg);
        goto failed;
    }

    if (ovsa_key_match(sk_X509_value(id->chain, 0), id->key, &e) != OVSA_OK) {
        ovsa_err_set(err, e.code, "identity.key: %s: %s", conf->key, e.msg);
        goto failed;
    }

    return OVSA_OK;

failed:

    ovsa_identity_free(id);
    return OVSA_ERR;
}


void
ovsa_identity_free(ovsa_identity_t *id)
{
    sk_X509_pop_free(id->chain, X509_free);
    X509_free(id->root);
    EVP_PKEY_free(id->key);
    sk_X509_pop_free(id->tls_chain, X509_free);
    EVP_PKEY_free(id->tls_key);
    memset(id, 0, sizeof(*id));
}


int
ovsa_leaf_verify(X509 *leaf, unsigned flags, time_t at, ovsa_err_t *err)
{
    char    a[256];
    time_t  now;

    now = at ? at : time(NULL);

    if (X509_cmp_time(X509_get0_notBefore(leaf), &now) >= 0) {
        return ovsa_err_set(err, OVSA_E_CERT_NOT_YET, "leaf (%s): not yet "
                            "valid", ovsa_cert_subject(leaf, a, sizeof(a)));
    }

    if (X509_cmp_time(X509_get0_notAfter(leaf), &now) <= 0) {
        return ovsa_err_set(err, OVSA_E_CERT_EXPIRED, "leaf (%s): "
                            "certificate has expired",
                            ovsa_cert_subject(leaf, a, sizeof(a)));
    }

    return ovsa_leaf_usage(leaf, flags, err);
}
