/*
 * fuzz_util.c: helpers of the fuzz targets (see fuzz_util.h).
 */

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "fuzz_util.h"
#include "ovsa_x509.h"

static char  fuzz_dir[64];


void
fuzz_fail(const char *file, int line, const char *what)
{
    fprintf(stderr, "%s:%d: fuzz assertion failed: %s\n", file, line, what);
    abort();
}


EVP_PKEY *
fuzz_key(const char *type)
{
    EVP_PKEY  *key;

    if (strcmp(type, "RSA") == 0) {
        key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t) 2048);
    } else if (strcmp(type, "P-256") == 0) {
        key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    } else {
        key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    }

    FUZZ_ASSERT(key != NULL);
    return key;
}


EVP_PKEY *
fuzz_key_pem(const char *pem)
{
    BIO       *bio;
    EVP_PKEY  *key;

    bio = BIO_new_mem_buf(pem, -1);
    FUZZ_ASSERT(bio != NULL);
    key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    BIO_free(bio);
    FUZZ_ASSERT(key != NULL);
    return key;
}


static void
fuzz_ext(X509 *x, int nid, const char *value)
{
    X509V3_CTX       ctx;
    X509_EXTENSION  *ext;

    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    FUZZ_ASSERT(ext != NULL);
    FUZZ_ASSERT(X509_add_ext(x, ext, -1) == 1);
    X509_EXTENSION_free(ext);
}


/* certificatePolicies with the one policy oid (the config form needs a
 * configuration database) */
static void
fuzz_policy(X509 *x, const char *oid)
{
    POLICYINFO              *pi;
    CERTIFICATEPOLICIES     *pols;

    pols = CERTIFICATEPOLICIES_new();
    pi = POLICYINFO_new();
    FUZZ_ASSERT(pols != NULL && pi != NULL);
    ASN1_OBJECT_free(pi->policyid);
    pi->policyid = OBJ_txt2obj(oid, 1);
    FUZZ_ASSERT(pi->policyid != NULL);
    FUZZ_ASSERT(sk_POLICYINFO_push(pols, pi) > 0);
    FUZZ_ASSERT(X509_add1_ext_i2d(x, NID_certificate_policies, pols, 0,
                                  X509V3_ADD_DEFAULT) == 1);
    CERTIFICATEPOLICIES_free(pols);
}


X509 *
fuzz_cert(EVP_PKEY *key, const char *cn)
{
    X509       *x;
    X509_NAME  *name;

    x = X509_new();
    FUZZ_ASSERT(x != NULL);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    FUZZ_ASSERT(ASN1_TIME_set(X509_getm_notBefore(x), FUZZ_NOW - 86400)
                != NULL);
    FUZZ_ASSERT(ASN1_TIME_set(X509_getm_notAfter(x),
                              FUZZ_NOW + 10 * 365 * 86400L) != NULL);
    X509_set_pubkey(x, key);
    name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               (const unsigned char *) cn, -1, -1, 0);
    X509_set_issuer_name(x, name);
    fuzz_ext(x, NID_ext_key_usage, "serverAuth");
    fuzz_policy(x, OVSA_POLICY_OID);
    FUZZ_ASSERT(X509_sign(x, key, EVP_PKEY_is_a(key, "ED25519")
                                  ? NULL : EVP_sha256()) > 0);
    return x;
}


static void
fuzz_rmdir(void)
{
    DIR            *d;
    char            path[sizeof(fuzz_dir) + 256];
    struct dirent  *e;

    d = opendir(fuzz_dir);
    if (d == NULL) {
        return;
    }

    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            snprintf(path, sizeof(path), "%s/%s", fuzz_dir, e->d_name);
            unlink(path);
        }
    }

    closedir(d);
    rmdir(fuzz_dir);
}


const char *
fuzz_tmpdir(void)
{
    const char  *tmp;

    if (fuzz_dir[0] != '\0') {
        return fuzz_dir;
    }

    tmp = getenv("TMPDIR");
    if (tmp == NULL || tmp[0] == '\0' || strlen(tmp) > 32) {
        tmp = "/tmp";
    }

    snprintf(fuzz_dir, sizeof(fuzz_dir), "%s/ovsa-fuzz-XXXXXX", tmp);
    FUZZ_ASSERT(mkdtemp(fuzz_dir) != NULL);
    atexit(fuzz_rmdir);
    return fuzz_dir;
}


char *
fuzz_write(const char *dir, const char *name, const void *data, size_t len)
{
    int      fd;
    char    *path;
    size_t   n;

    n = strlen(dir) + strlen(name) + 2;
    path = malloc(n);
    FUZZ_ASSERT(path != NULL);
    snprintf(path, n, "%s/%s", dir, name);

    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    FUZZ_ASSERT(fd >= 0);
    FUZZ_ASSERT(write(fd, data, len) == (ssize_t) len);
    FUZZ_ASSERT(close(fd) == 0);
    return path;
}


char *
fuzz_field(const uint8_t **data, size_t *size, int sep, size_t *len)
{
    char           *s;
    size_t          n;
    const uint8_t  *end;

    end = sep >= 0 && *size > 0 ? memchr(*data, sep, *size) : NULL;
    n = end ? (size_t) (end - *data) : *size;

    s = malloc(n + 1);
    FUZZ_ASSERT(s != NULL);
    if (n > 0) {
        memcpy(s, *data, n);
    }
    s[n] = '\0';

    *data += end ? n + 1 : n;
    *size -= end ? n + 1 : n;
    if (len != NULL) {
        *len = n;
    }
    return s;
}


char *
fuzz_keyid(const char *s, size_t *len, const char *keyid)
{
    char        *out, *o;
    size_t       n, kl;
    const char  *p, *at;

    kl = strlen(keyid);
    n = 0;
    for (p = s; (at = strstr(p, "KEYID")) != NULL; p = at + 5) {
        n++;
    }

    out = malloc(*len + n * kl + 1);
    FUZZ_ASSERT(out != NULL);

    o = out;
    for (p = s; (at = strstr(p, "KEYID")) != NULL; p = at + 5) {
        memcpy(o, p, at - p);
        o += at - p;
        memcpy(o, keyid, kl);
        o += kl;
    }
    memcpy(o, p, *len - (p - s) + 1);

    *len = *len + n * (kl - 5);
    return out;
}
