/*
 * ovsatool_keystore.c: "ovsatool keystore", the ISV signing key
 * (DIR/isv.key, PKCS#8 PEM, mode 0600, AES-256 encrypted when a
 * passphrase is given) and its self-signed certificate (DIR/isv.crt).
 * Never overwrites either file.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "ovsa_file.h"
#include "ovsa_pin.h"
#include "ovsatool.h"


enum {
    OPT_OUT = 1, OPT_ALG, OPT_CN, OPT_DAYS, OPT_PASSIN
};

static const ovsa_opt_t ovsatool_keystore_opts[] = {
    { "out", NULL, OPT_OUT, OVSA_OPT_STR, "dir",
      "Keystore directory to create or fill (required)" },
    { "alg", NULL, OPT_ALG, OVSA_OPT_STR, "rsa|ec|ed25519",
      "Key type: RSA 3072, P-256 or Ed25519 (default rsa)" },
    { "cn", NULL, OPT_CN, OVSA_OPT_STR, "name",
      "Certificate common name (default \"ovsa ISV\")" },
    { "days", NULL, OPT_DAYS, OVSA_OPT_INT, "n",
      "Certificate validity in days (default 3650)" },
    { "passin", NULL, OPT_PASSIN, OVSA_OPT_STR, "file:F|env:V|fd:N",
      "Encrypt the key with this passphrase (never given in argv)" },
    { NULL, NULL, 0, 0, NULL, NULL }
};

static const ovsa_opt_prog_t ovsatool_keystore_prog = {
    "ovsatool keystore", "-out DIR [options]", ovsatool_keystore_opts, NULL,
    OVSATOOL_EXITS
};


static EVP_PKEY *
ovsatool_keygen(const char *alg, ovsa_err_t *err)
{
    EVP_PKEY  *key;

    if (strcmp(alg, "rsa") == 0) {
        key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t) 3072);
    } else if (strcmp(alg, "ec") == 0) {
        key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    } else if (strcmp(alg, "ed25519") == 0) {
        key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    } else {
        ovsa_err_set(err, OVSA_E_KEY_TYPE, "keystore: -alg %s: not rsa, ec "
                     "or ed25519", alg);
        return NULL;
    }

    if (key == NULL) {
        ovsa_err_ssl(err, OVSA_E_INTERNAL, "keystore: key generation");
    }
    return key;
}


static int
ovsatool_add_ext(X509 *x, int nid, const char *value)
{
    int              ok;
    X509V3_CTX       ctx;
    X509_EXTENSION  *ext;

    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (ext == NULL) {
        return 0;
    }
    ok = X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    return ok;
}


static X509 *
ovsatool_selfsign(EVP_PKEY *key, const char *cn, int64_t days,
    ovsa_err_t *err)
{
    X509           *x;
    BIGNUM         *bn;
    X509_NAME      *name;
    unsigned char   serial[16];

    x = X509_new();
    bn = NULL;
    if (x == NULL || RAND_bytes(serial, sizeof(serial)) != 1) {
        goto fail;
    }
    serial[0] &= 0x7f;                        /* positive */

    bn = BN_bin2bn(serial, sizeof(serial), NULL);
    name = X509_get_subject_name(x);
    if (bn == NULL
        || X509_set_version(x, X509_VERSION_3) != 1
        || BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL
        || X509_gmtime_adj(X509_getm_notBefore(x), 0) == NULL
        || X509_time_adj_ex(X509_getm_notAfter(x), (int) days, 0, NULL)
           == NULL
        || X509_set_pubkey(x, key) != 1
        || X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                      (const unsigned char *) cn, -1, -1, 0)
           != 1
        || X509_set_issuer_name(x, name) != 1
        || !ovsatool_add_ext(x, NID_basic_constraints, "critical,CA:FALSE")
        || !ovsatool_add_ext(x, NID_key_usage, "critical,digitalSignature")
        || !ovsatool_add_ext(x, NID_subject_key_identifier, "hash")
        || X509_sign(x, key, EVP_PKEY_is_a(key, "ED25519") ? NULL
                                                          : EVP_sha256())
           <= 0)
    {
        goto fail;
    }

    BN_free(bn);
    return x;

fail:

    BN_free(bn);
    X509_free(x);
    ovsa_err_ssl(err, OVSA_E_INTERNAL, "keystore: self-signed certificate");
    return NULL;
}


/* PEM of the key (encrypted when pass is non-empty) and of the cert. */
static int
ovsatool_keystore_write(const char *dir, EVP_PKEY *key, X509 *cert,
    const char *pass, ovsa_err_t *err)
{
    int    ret;
    BIO   *kb, *cb;
    long   klen, clen;
    char  *kdata, *cdata, kpath[4096], cpath[4096];

    ret = OVSA_ERR;
    kb = BIO_new(BIO_s_secmem());
    cb = BIO_new(BIO_s_mem());

    snprintf(kpath, sizeof(kpath), "%s/%s", dir, OVSATOOL_KEY_FILE);
    snprintf(cpath, sizeof(cpath), "%s/%s", dir, OVSATOOL_CERT_FILE);

    if (kb == NULL || cb == NULL
        || PEM_write_bio_PKCS8PrivateKey(kb, key,
                                         pass[0] ? EVP_aes_256_cbc() : NULL,
                                         pass[0] ? (char *) pass : NULL,
                                         (int) strlen(pass), NULL, NULL)
           != 1
        || PEM_write_bio_X509(cb, cert) != 1)
    {
        ovsa_err_ssl(err, OVSA_E_INTERNAL, "keystore: PEM encoding");
        goto end;
    }

    klen = BIO_get_mem_data(kb, &kdata);
    clen = BIO_get_mem_data(cb, &cdata);

    /* both refused before either is written */
    if (access(kpath, F_OK) == 0 || access(cpath, F_OK) == 0) {
        ovsa_err_set(err, OVSA_E_IO, "keystore: %s already holds %s or %s, "
                     "not overwritten", dir, OVSATOOL_KEY_FILE,
                     OVSATOOL_CERT_FILE);
        goto end;
    }

    if (ovsa_file_write(kpath, kdata, klen, 0600, OVSA_FILE_NOCLOBBER, err)
        != OVSA_OK)
    {
        goto end;
    }

    if (ovsa_file_write(cpath, cdata, clen, 0644, OVSA_FILE_NOCLOBBER, err)
        != OVSA_OK)
    {
        unlink(kpath);
        goto end;
    }

    ret = OVSA_OK;

end:

    BIO_free(kb);          /* secure memory: wiped */
    BIO_free(cb);
    return ret;
}


int
ovsatool_keystore_main(void *ctx, int argc, char **argv)
{
    int                ret, o;
    X509              *cert;
    int64_t            days;
    EVP_PKEY          *key;
    ovsa_err_t         err;
    const char        *out, *alg, *cn, *passin;
    ovsa_opt_state_t   st;
    char               pass[1024], pin[OVSA_PIN_LEN + 1];
    char               path[4096], path2[4096];

    ret = OVSA_EXIT_ERROR;
    key = NULL;
    cert = NULL;
    out = passin = NULL;
    alg = "rsa";
    cn = "ovsa ISV";
    days = 3650;
    pass[0] = '\0';

    ovsa_opt_init(&st, &ovsatool_keystore_prog, argc, argv);

    while ((o = ovsatool_opt(&st, 0, &ret)) > 0) {
        switch (o) {
        case OPT_OUT:
            out = st.val;
            break;
        case OPT_ALG:
            alg = st.val;
            break;
        case OPT_CN:
            cn = st.val;
            break;
        case OPT_DAYS:
            days = st.num;
            if (days < 1 || days > 36500) {
                ret = ovsatool_usage(&st, "-days %s: not in 1..36500",
                                     st.val);
                goto end;
            }
            break;
        case OPT_PASSIN:
            passin = st.val;
            break;
        }
    }

    if (o < 0) {
        goto end;
    }

    if (out == NULL) {
        ret = ovsatool_usage(&st, "-out DIR is required");
        goto end;
    }

    if (passin != NULL
        && ovsatool_passin(passin, pass, sizeof(pass), &err) != OVSA_OK)
    {
        ovsatool_fail(argv[0], &err);
        goto end;
    }

    if (mkdir(out, 0700) == -1 && errno != EEXIST) {
        ovsa_err_set(&err, OVSA_E_IO, "keystore: mkdir %s: %s", out,
                     strerror(errno));
        ovsatool_fail(argv[0], &err);
        goto end;
    }

    /* refuse before the (slow) key generation; written no-clobber anyway */
    snprintf(path, sizeof(path), "%s/%s", out, OVSATOOL_KEY_FILE);
    snprintf(path2, sizeof(path2), "%s/%s", out, OVSATOOL_CERT_FILE);
    if (access(path, F_OK) == 0 || access(path2, F_OK) == 0) {
        ovsa_err_set(&err, OVSA_E_IO, "keystore: %s already holds %s or %s, "
                     "not overwritten", out, OVSATOOL_KEY_FILE,
                     OVSATOOL_CERT_FILE);
        ovsatool_fail(argv[0], &err);
        goto end;
    }

    if ((key = ovsatool_keygen(alg, &err)) == NULL
        || (cert = ovsatool_selfsign(key, cn, days, &err)) == NULL
        || ovsatool_keystore_write(out, key, cert, pass, &err) != OVSA_OK
        || ovsa_pin_cert(cert, pin, &err) != OVSA_OK)
    {
        ovsatool_fail(argv[0], &err);
        goto end;
    }

    printf("%s/%s: %s ISV key%s\n%s/%s: certificate, key %s\n", out,
           OVSATOOL_KEY_FILE, alg, pass[0] ? " (encrypted)" : "", out,
           OVSATOOL_CERT_FILE, pin);
    ret = OVSA_EXIT_OK;

end:

    OPENSSL_cleanse(pass, sizeof(pass));
    EVP_PKEY_free(key);
    X509_free(cert);
    return ret;
}
