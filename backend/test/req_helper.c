/*
 * req_helper.c: backend-req, a test helper (not installed): what a
 * client adds to a request signed with its machine key, made with the
 * same lib/ovsa_reqsig code as the SDK, so the Perl tests can make
 * signed requests of any shape (a wrong key, an old created time).
 *
 *   backend-req -pub KEY.pem
 *       prints the machine_key member value (base64url DER SPKI)
 *   backend-req KEY.pem METHOD PATH NONCE CREATED < body
 *       prints three lines: the Content-Digest of body, then the
 *       Signature-Input and Signature field values
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "ovsa_httpsig.h"
#include "ovsa_key.h"
#include "ovsa_reqsig.h"


int
main(int argc, char **argv)
{
    int                 ret;
    char                body[65536], digest[OVSA_DIGEST_FIELD_LEN + 1];
    char                input[OVSA_SIG_INPUT_MAX + 1];
    char                sig[OVSA_SIG_FIELD_MAX + 1], pub[1024];
    size_t              n;
    EVP_PKEY           *key;
    ovsa_err_t          err;
    ovsa_reqsig_msg_t   m;

    ret = 1;
    key = NULL;

    if (argc == 3 && strcmp(argv[1], "-pub") == 0) {
        if (ovsa_key_load(argv[2], &key, &err) != OVSA_OK
            || ovsa_machine_key_encode(key, pub, sizeof(pub), &err)
               != OVSA_OK)
        {
            goto fail;
        }
        printf("%s\n", pub);
        EVP_PKEY_free(key);
        return 0;
    }

    if (argc != 6) {
        fprintf(stderr, "usage: backend-req -pub KEY | backend-req KEY "
                "METHOD PATH NONCE CREATED < body\n");
        return 1;
    }

    n = fread(body, 1, sizeof(body), stdin);

    if (ovsa_key_load(argv[1], &key, &err) != OVSA_OK
        || ovsa_digest_field(body, n, digest, &err) != OVSA_OK)
    {
        goto fail;
    }

    m.method = ovsa_str(argv[2]);
    m.path = ovsa_str(argv[3]);
    m.nonce = ovsa_str(argv[4]);
    m.content_digest = ovsa_str(digest);

    if (ovsa_reqsig_sign(key, &m, (time_t) atoll(argv[5]), input, sig, &err)
        != OVSA_OK)
    {
        goto fail;
    }

    printf("%s\n%s\n%s\n", digest, input, sig);
    ret = 0;

fail:

    if (ret != 0) {
        fprintf(stderr, "backend-req: %s\n", err.msg);
    }
    EVP_PKEY_free(key);
    return ret;
}
