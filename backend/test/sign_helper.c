/*
 * sign_helper.c: backend-sign, a test helper (not installed): signs the
 * license payload JSON read from stdin with lib/ovsa_license, so the
 * backend tests can make real signed licenses of any shape, including
 * ones ovsatool's field checks would not let through.
 *
 *   backend-sign KEY.pem CERT.pem < payload.json > license.jws
 */

#include <stdio.h>
#include <stdlib.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "ovsa_license.h"
#include "ovsa_x509.h"


int
main(int argc, char **argv)
{
    int         ret;
    char        buf[65536], *jws;
    size_t      n;
    X509       *cert;
    EVP_PKEY   *key;
    ovsa_err_t  err;

    ret = 1;
    key = NULL;
    cert = NULL;
    jws = NULL;

    if (argc != 3) {
        fprintf(stderr, "usage: backend-sign KEY CERT < payload.json\n");
        return 1;
    }

    n = fread(buf, 1, sizeof(buf) - 1, stdin);
    buf[n] = '\0';

    if (ovsa_key_load(argv[1], &key, &err) != OVSA_OK
        || ovsa_cert_load(argv[2], &cert, &err) != OVSA_OK
        || ovsa_license_sign(buf, key, cert, &jws, &err) != OVSA_OK)
    {
        fprintf(stderr, "backend-sign: %s: %s\n", ovsa_code_name(err.code),
                err.msg);
        goto end;
    }

    printf("%s\n", jws);
    ret = 0;

end:

    free(jws);
    X509_free(cert);
    EVP_PKEY_free(key);

    return ret;
}
