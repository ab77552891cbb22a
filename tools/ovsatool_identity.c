/*
 * ovsatool_identity.c: the license server identity, checked by the code
 * nginx runs at start (lib/ovsa_x509, lib/ovsa_p11), for the provisioning
 * scripts and operators:
 *
 *   identity    ovsa_identity_load() and, in hardware-key mode, the token
 *               key against the leaf: the same checks, the same error text
 *               and code as "nginx -t"; -out writes what was verified
 *   pin         the sha256// pin (lib/ovsa_pin) of a certificate, a public
 *               or private key, or a key on a PKCS#11 token
 *   policy-oid  the certificate policy an ovsa server leaf carries
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "ovsa_conf.h"
#include "ovsa_file.h"
#include "ovsa_p11.h"
#include "ovsa_p11_conf.h"
#include "ovsa_pin.h"
#include "ovsa_x509.h"
#include "ovsatool.h"

#define OVSATOOL_CHAIN_FILE  "server-chain.pem"
#define OVSATOOL_SKEY_FILE   "server.key"
#define OVSATOOL_ROOT_FILE   "root.pem"
#define OVSATOOL_MAX_PEM     (1024 * 1024)

enum {
    OPT_CONFIG = 1, OPT_CHAIN, OPT_KEY, OPT_ROOT, OPT_MODULE, OPT_KEY_URI,
    OPT_PIN_FILE, OPT_OUT
};

/* the hardware key, as default.yaml's hardware_key: names it */
#define OVSATOOL_TOKEN_OPTS                                                   \
    { "module", NULL, OPT_MODULE, OVSA_OPT_STR, "file",                       \
      "Hardware key: the PKCS#11 module" },                                   \
    { "key-uri", NULL, OPT_KEY_URI, OVSA_OPT_STR, "uri",                      \
      "Hardware key: the pkcs11: URI of the private key" },                   \
    { "pin-file", NULL, OPT_PIN_FILE, OVSA_OPT_STR, "file",                   \
      "Hardware key: the file holding the token PIN" }

static const ovsa_opt_t ovsatool_identity_opts[] = {
    { "config", NULL, OPT_CONFIG, OVSA_OPT_STR, "file",
      "default.yaml: the identity (and hardware key) it names" },
    { "chain", NULL, OPT_CHAIN, OVSA_OPT_STR, "file",
      "Chain: the leaf, then its intermediates" },
    { "key", NULL, OPT_KEY, OVSA_OPT_STR, "file",
      "Private key of the leaf (PEM, not readable by others)" },
    { "root", NULL, OPT_ROOT, OVSA_OPT_STR, "file",
      "The vendor root, the only trust anchor" },
    OVSATOOL_TOKEN_OPTS,
    { "out", NULL, OPT_OUT, OVSA_OPT_STR, "dir",
      "Write the verified identity into dir: " OVSATOOL_CHAIN_FILE ", "
      OVSATOOL_SKEY_FILE " (0600), " OVSATOOL_ROOT_FILE "; never "
      "overwrites" },
    { NULL, NULL, 0, 0, NULL, NULL }
};

static const ovsa_opt_t ovsatool_pin_opts[] = {
    OVSATOOL_TOKEN_OPTS,
    { NULL, NULL, 0, 0, NULL, NULL }
};

static const ovsa_opt_prog_t ovsatool_identity_prog = {
    "ovsatool identity", "-config FILE | -chain FILE -root FILE "
    "(-key FILE | -module M -key-uri URI -pin-file F) [-out DIR]",
    ovsatool_identity_opts, NULL, OVSATOOL_EXITS
};

static const ovsa_opt_prog_t ovsatool_pin_prog = {
    "ovsatool pin", "FILE | -module M -key-uri URI -pin-file F",
    ovsatool_pin_opts, NULL, OVSATOOL_EXITS
};

static const ovsa_opt_prog_t ovsatool_policy_oid_prog = {
    "ovsatool policy-oid", "", NULL, NULL, OVSATOOL_EXITS
};


/* ---- identity */

/* PEM of every certificate of chain (or of x alone) into a memory BIO. */
static int
ovsatool_write_pem(const char *dir, const char *name, STACK_OF(X509) *chain,
    X509 *x, EVP_PKEY *key, ovsa_err_t *err)
{
    int     i, ok, ret;
    BIO    *bio;
    long    len;
    char   *data, path[4096];

    bio = BIO_new(key != NULL ? BIO_s_secmem() : BIO_s_mem());
    if (bio == NULL) {
        return ovsa_err_set(err, OVSA_E_NOMEM, "identity: out of memory");
    }

    ok = 1;
    if (key != NULL) {
        ok = PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL);
    } else if (x != NULL) {
        ok = PEM_write_bio_X509(bio, x);
    } else {
        for (i = 0; ok && i < sk_X509_num(chain); i++) {
            ok = PEM_write_bio_X509(bio, sk_X509_value(chain, i));
        }
    }

    ret = OVSA_ERR;
    snprintf(path, sizeof(path), "%s/%s", dir, name);

    if (!ok) {
        ovsa_err_ssl(err, OVSA_E_INTERNAL, "identity: %s: PEM encoding",
                     path);
        goto end;
    }

    len = BIO_get_mem_data(bio, &data);
    ret = ovsa_file_write(path, data, (size_t) len, key ? 0600 : 0644,
                          OVSA_FILE_NOCLOBBER, err);

end:

    BIO_free(bio);          /* secure memory for the key: wiped */
    return ret;
}


/* The token key matches the leaf: what the module's start check does. */
static int
ovsatool_token_match(const ovsa_conf_t *conf, X509 *leaf, ovsa_err_t *err)
{
    int          rc;
    ovsa_err_t   e;
    ovsa_p11_t  *h;

    h = NULL;
    rc = ovsa_p11_open_conf(conf, &h, &e);
    if (rc == OVSA_OK) {
        rc = ovsa_key_match(leaf, ovsa_p11_pkey(h), &e);
    }

    if (rc != OVSA_OK) {
        ovsa_err_set(err, e.code, "hardware key: %s", e.msg);
    }

    ovsa_p11_close(h);
    return rc;
}


int
ovsatool_identity_main(void *ctx, int argc, char **argv)
{
    int                ret, o;
    ovsa_err_t         err;
    const char        *config, *out;
    ovsa_conf_t        line, *conf, *loaded;
    ovsa_identity_t    id;
    ovsa_opt_state_t   st;
    char               pin[OVSA_PIN_LEN + 1];

    ret = OVSA_EXIT_ERROR;
    config = out = NULL;
    loaded = NULL;
    memset(&line, 0, sizeof(line));
    memset(&id, 0, sizeof(id));
    line.file = "(command line)";

    ovsa_opt_init(&st, &ovsatool_identity_prog, argc, argv);

    while ((o = ovsatool_opt(&st, 0, &ret)) > 0) {
        switch (o) {
        case OPT_CONFIG:   config = st.val; break;
        case OPT_CHAIN:    line.chain = (char *) st.val; break;
        case OPT_KEY:      line.key = (char *) st.val; break;
        case OPT_ROOT:     line.root = (char *) st.val; break;
        case OPT_MODULE:   line.hw_module = (char *) st.val; break;
        case OPT_KEY_URI:  line.hw_key_uri = (char *) st.val; break;
        case OPT_PIN_FILE: line.hw_pin_file = (char *) st.val; break;
        case OPT_OUT:      out = st.val; break;
        }
    }

    if (o < 0) {
        goto end;
    }

    line.hw_enabled = line.hw_module != NULL || line.hw_key_uri != NULL
                      || line.hw_pin_file != NULL;

    if (config != NULL) {
        if (line.chain || line.key || line.root || line.hw_enabled) {
            ret = ovsatool_usage(&st, "-config names the identity: -chain, "
                                 "-key, -root and the hardware key do not "
                                 "apply");
            goto end;
        }

    } else if (line.chain == NULL || line.root == NULL) {
        ret = ovsatool_usage(&st, "-config, or -chain and -root, are "
                             "required");
        goto end;

    } else if (line.hw_enabled
               ? (line.key != NULL || line.hw_module == NULL
                  || line.hw_key_uri == NULL || line.hw_pin_file == NULL)
               : line.key == NULL)
    {
        ret = ovsatool_usage(&st, "either -key, or -module, -key-uri and "
                             "-pin-file (a hardware key)");
        goto end;
    }

    conf = &line;
    if (config != NULL) {
        if (ovsa_conf_load(config, &loaded, &err) != OVSA_OK) {
            goto fail;
        }
        conf = loaded;
    }

    /* what ngx_http_ovsa_module does while it reads its configuration */
    if (ovsa_identity_load(conf, &id, &err) != OVSA_OK
        || (conf->hw_enabled
            && ovsatool_token_match(conf, sk_X509_value(id.chain, 0), &err)
               != OVSA_OK))
    {
        goto fail;
    }

    if (out != NULL
        && (ovsatool_write_pem(out, OVSATOOL_CHAIN_FILE, id.chain, NULL,
                               NULL, &err) != OVSA_OK
            || ovsatool_write_pem(out, OVSATOOL_ROOT_FILE, NULL, id.root,
                                  NULL, &err) != OVSA_OK
            || (id.key != NULL
                && ovsatool_write_pem(out, OVSATOOL_SKEY_FILE, NULL, NULL,
                                      id.key, &err) != OVSA_OK)))
    {
        ovsatool_fail(argv[0], &err);
        goto end;
    }

    if (ovsa_pin_cert(sk_X509_value(id.chain, 0), pin, &err) != OVSA_OK) {
        ovsatool_fail(argv[0], &err);
        goto end;
    }

    printf("identity verified: %s\npin: %s\n", conf->chain, pin);
    ret = OVSA_EXIT_OK;
    goto end;

fail:

    ovsatool_fail(argv[0], &err);
    ret = ovsa_exit_status(err.code);

end:

    ovsa_identity_free(&id);
    ovsa_conf_free(loaded);
    return ret;
}


/* ---- pin */

/*
 * The public key of FILE: the first certificate of a PEM chain, a PEM
 * public key, or a private key (ovsa_key_load: unencrypted, not readable
 * by others).
 */
static EVP_PKEY *
ovsatool_file_pkey(const char *file, ovsa_err_t *err)
{
    BIO             *bio;
    char            *pem;
    size_t           len;
    EVP_PKEY        *pkey;
    STACK_OF(X509)  *chain;

    pkey = NULL;

    if (ovsa_file_read(file, OVSATOOL_MAX_PEM, &pem, &len, err) != OVSA_OK) {
        return NULL;
    }

    if (strstr(pem, "-----BEGIN CERTIFICATE-----") != NULL) {
        if (ovsa_chain_load_mem(pem, len, file, &chain, err) == OVSA_OK) {
            pkey = X509_get_pubkey(sk_X509_value(chain, 0));
            sk_X509_pop_free(chain, X509_free);
            if (pkey == NULL) {
                ovsa_err_ssl(err, OVSA_E_PEM, "%s: certificate 1 has no "
                             "usable public key", file);
            }
        }

    } else if (strstr(pem, "-----BEGIN PUBLIC KEY-----") != NULL) {
        bio = BIO_new_mem_buf(pem, (int) len);
        pkey = bio ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
        BIO_free(bio);
        if (pkey == NULL) {
            ovsa_err_ssl(err, OVSA_E_PEM, "%s: not a valid PEM public key",
                         file);
        }

    } else if (strstr(pem, "PRIVATE KEY-----") != NULL) {
        (void) ovsa_key_load(file, &pkey, err);

    } else {
        ovsa_err_set(err, OVSA_E_PEM, "%s: not a PEM certificate, public key "
                     "or private key", file);
    }

    OPENSSL_cleanse(pem, len);
    free(pem);
    return pkey;
}


/*
 * The public key of the token key, after a signature over a random
 * challenge that verifies with it: the token holds the private half.
 * The caller frees the key; h stays open until the caller closes it.
 */
static EVP_PKEY *
ovsatool_token_pkey(const ovsa_conf_t *conf, ovsa_p11_t **h,
    ovsa_err_t *err)
{
    int                   ok, derlen;
    size_t                siglen;
    EVP_PKEY             *pub;
    EVP_MD_CTX           *mctx;
    unsigned char        *der, *sig, challenge[64];
    const unsigned char  *p;

    pub = NULL;
    sig = NULL;
    der = NULL;

    if (ovsa_p11_open_conf(conf, h, err) != OVSA_OK) {
        return NULL;
    }

    /* a software copy of the public half: verifying never uses the token */
    derlen = i2d_PUBKEY(ovsa_p11_pkey(*h), &der);
    p = der;
    if (derlen <= 0 || (pub = d2i_PUBKEY(NULL, &p, derlen)) == NULL) {
        ovsa_err_ssl(err, OVSA_E_P11_KEY, "%s: no public key",
                     conf->hw_key_uri);
        goto end;
    }

    if (RAND_bytes(challenge, sizeof(challenge)) != 1) {
        ovsa_err_ssl(err, OVSA_E_INTERNAL, "pin: no random challenge");
        EVP_PKEY_free(pub);
        pub = NULL;
        goto end;
    }

    if (ovsa_p11_sign(*h, EVP_sha256(), 0, challenge, sizeof(challenge),
                      &sig, &siglen, err) != OVSA_OK)
    {
        EVP_PKEY_free(pub);
        pub = NULL;
        goto end;
    }

    mctx = EVP_MD_CTX_new();
    ok = mctx != NULL
         && EVP_DigestVerifyInit(mctx, NULL, EVP_sha256(), NULL, pub) == 1
         && EVP_DigestVerify(mctx, sig, siglen, challenge,
                             sizeof(challenge)) == 1;
    EVP_MD_CTX_free(mctx);

    if (!ok) {
        ovsa_err_ssl(err, OVSA_E_KEY_MISMATCH, "%s: the token's signature "
                     "does not verify with its public key", conf->hw_key_uri);
        EVP_PKEY_free(pub);
        pub = NULL;
    }

end:

    OPENSSL_free(der);
    OPENSSL_free(sig);
    return pub;
}


int
ovsatool_pin_main(void *ctx, int argc, char **argv)
{
    int                ret, o;
    EVP_PKEY          *pkey;
    ovsa_err_t         err;
    ovsa_p11_t        *h;
    ovsa_conf_t        token;
    ovsa_opt_state_t   st;
    char               pin[OVSA_PIN_LEN + 1];

    ret = OVSA_EXIT_ERROR;
    pkey = NULL;
    h = NULL;
    memset(&token, 0, sizeof(token));
    token.file = "(command line)";
    ovsa_err_clear(&err);

    ovsa_opt_init(&st, &ovsatool_pin_prog, argc, argv);

    while ((o = ovsatool_opt(&st, 1, &ret)) > 0) {
        switch (o) {
        case OPT_MODULE:   token.hw_module = (char *) st.val; break;
        case OPT_KEY_URI:  token.hw_key_uri = (char *) st.val; break;
        case OPT_PIN_FILE: token.hw_pin_file = (char *) st.val; break;
        }
    }

    if (o < 0) {
        goto end;
    }

    token.hw_enabled = token.hw_module != NULL || token.hw_key_uri != NULL
                       || token.hw_pin_file != NULL;

    if (token.hw_enabled
        ? (ovsa_opt_nrest(&st) != 0 || token.hw_module == NULL
           || token.hw_key_uri == NULL || token.hw_pin_file == NULL)
        : ovsa_opt_nrest(&st) != 1)
    {
        ret = ovsatool_usage(&st, "a FILE, or -module, -key-uri and "
                             "-pin-file (a hardware key)");
        goto end;
    }

    pkey = token.hw_enabled ? ovsatool_token_pkey(&token, &h, &err)
                            : ovsatool_file_pkey(ovsa_opt_rest(&st)[0], &err);

    if (pkey == NULL || ovsa_pin_pkey(pkey, pin, &err) != OVSA_OK) {
        ovsatool_fail(argv[0], &err);
        ret = ovsa_exit_status(err.code);
        goto end;
    }

    printf("%s\n", pin);
    ret = OVSA_EXIT_OK;

end:

    EVP_PKEY_free(pkey);
    ovsa_p11_close(h);
    return ret;
}


/* ---- policy-oid */

int
ovsatool_policy_oid_main(void *ctx, int argc, char **argv)
{
    int                ret, o;
    ovsa_opt_state_t   st;

    ret = OVSA_EXIT_ERROR;
    ovsa_opt_init(&st, &ovsatool_policy_oid_prog, argc, argv);

    while ((o = ovsatool_opt(&st, 0, &ret)) > 0) {
        /* no options */
    }

    if (o == 0) {
        printf("%s\n", OVSA_POLICY_OID);
        ret = OVSA_EXIT_OK;
    }

    return ret;
}
