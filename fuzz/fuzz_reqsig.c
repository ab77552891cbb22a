/*
 * fuzz_reqsig.c: the request profile (lib/ovsa_reqsig.h) as a backend
 * receives it: the "machine_key" body member and a request's
 * Signature-Input and Signature, against machine keys made at start.
 *
 *   the machine key: what parses is Ed25519 or P-256 and encodes back to
 *     the same text (one spelling per key); refusals are
 *     OVSA_E_MACHINE_KEY or OVSA_E_MACHINE_KEY_TYPE.
 *   first byte even: the fields are a request; nothing may verify, since
 *     nobody but this process holds the keys ("KEYID" in the
 *     Signature-Input is replaced by the key's keyid, to get past that
 *     check), and every refusal is one of the documented codes.
 *   first byte odd: the fields are the covered components; what the
 *     library signs verifies, and another nonce or path does not.
 *
 * Fields after the first byte, separated by \n: machine_key,
 * Signature-Input, Signature, method, path, Content-Digest, then the
 * nonce (the rest).
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "ovsa_pin.h"
#include "ovsa_reqsig.h"

#define FUZZ_NKEYS  2

static EVP_PKEY  *fuzz_keys[FUZZ_NKEYS];
static char       fuzz_keyids[FUZZ_NKEYS][OVSA_KEYID_LEN + 1];


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    int          i;
    ovsa_err_t   err;
    const char  *types[FUZZ_NKEYS] = { "ED25519", "P-256" };

    for (i = 0; i < FUZZ_NKEYS; i++) {
        fuzz_keys[i] = fuzz_key(types[i]);
        FUZZ_ASSERT(ovsa_keyid_pkey(fuzz_keys[i], fuzz_keyids[i], &err)
                    == OVSA_OK);
    }

    return 0;
}


static ovsa_str_t
fuzz_str(const char *s, size_t len)
{
    ovsa_str_t  v;

    v.data = s;
    v.len = len;
    return v;
}


static void
fuzz_machine_key(const char *b64, size_t len)
{
    EVP_PKEY    *pub;
    ovsa_err_t   err;
    char         out[OVSA_MACHINE_KEY_MAX + 1];

    ovsa_err_clear(&err);
    if (ovsa_machine_key_parse(b64, len, &pub, &err) != OVSA_OK) {
        FUZZ_ASSERT(err.code == OVSA_E_MACHINE_KEY
                    || err.code == OVSA_E_MACHINE_KEY_TYPE);
        FUZZ_ASSERT(err.msg[0] != '\0');
        return;
    }

    FUZZ_ASSERT(ovsa_machine_key_encode(pub, out, sizeof(out), &err)
                == OVSA_OK);
    FUZZ_ASSERT(strlen(out) == len && memcmp(out, b64, len) == 0);
    EVP_PKEY_free(pub);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                 i, k, rc;
    char               *f[7], *in;
    size_t              len[7], ilen;
    ovsa_err_t          err;
    ovsa_reqsig_msg_t   m;
    char                input[OVSA_SIG_INPUT_MAX + 1];
    char                sig[OVSA_SIG_FIELD_MAX + 1];

    if (size < 1) {
        return 0;
    }

    k = (data[0] >> 1) % FUZZ_NKEYS;
    i = data[0] & 1;
    data++;
    size--;

    for (rc = 0; rc < 7; rc++) {
        f[rc] = fuzz_field(&data, &size, rc < 6 ? '\n' : -1, &len[rc]);
    }

    fuzz_machine_key(f[0], len[0]);

    memset(&m, 0, sizeof(m));
    m.method = fuzz_str(f[3], len[3]);
    m.path = fuzz_str(f[4], len[4]);
    m.content_digest = fuzz_str(f[5], len[5]);
    m.nonce = fuzz_str(f[6], len[6]);

    if (i == 0) {
        ilen = len[1];
        in = fuzz_keyid(f[1], &ilen, fuzz_keyids[k]);

        ovsa_err_clear(&err);
        rc = ovsa_reqsig_verify(fuzz_keys[k], &m, fuzz_str(in, ilen),
                                fuzz_str(f[2], len[2]), FUZZ_NOW, 60, &err);

        /* a forgery */
        FUZZ_ASSERT(rc == OVSA_ERR);
        FUZZ_ASSERT(err.code == OVSA_E_SIG_MISSING
                    || err.code == OVSA_E_SIG_SYNTAX
                    || err.code == OVSA_E_SIG_COMPONENTS
                    || err.code == OVSA_E_SIG_TAG
                    || err.code == OVSA_E_SIG_ALG
                    || err.code == OVSA_E_SIG_KEYID
                    || err.code == OVSA_E_SIG_EXPIRED
                    || err.code == OVSA_E_SIG_CREATED
                    || err.code == OVSA_E_SIG_INVALID);
        FUZZ_ASSERT(err.msg[0] != '\0');
        free(in);

    } else {
        ovsa_err_clear(&err);
        rc = ovsa_reqsig_sign(fuzz_keys[k], &m, FUZZ_NOW, input, sig, &err);

        if (rc != OVSA_OK) {
            /* only components a field line cannot carry are refused */
            FUZZ_ASSERT(err.code == OVSA_E_SIG_COMPONENTS);

        } else {
            FUZZ_ASSERT(ovsa_reqsig_verify(fuzz_keys[k], &m,
                                           fuzz_str(input, strlen(input)),
                                           fuzz_str(sig, strlen(sig)),
                                           FUZZ_NOW + 30, 60, &err)
                        == OVSA_OK);

            /* the other key is another machine */
            FUZZ_ASSERT(ovsa_reqsig_verify(fuzz_keys[1 - k], &m,
                                           fuzz_str(input, strlen(input)),
                                           fuzz_str(sig, strlen(sig)),
                                           FUZZ_NOW, 60, &err)
                        == OVSA_ERR);
            FUZZ_ASSERT(err.code == OVSA_E_SIG_ALG
                        || err.code == OVSA_E_SIG_KEYID);

            /* another path (values compare trimmed: make it differ) */
            m.path = fuzz_str("/v1/ANOTHER", 11);
            if (len[4] < 11 || strstr(f[4], "/v1/ANOTHER") == NULL) {
                FUZZ_ASSERT(ovsa_reqsig_verify(fuzz_keys[k], &m,
                                               fuzz_str(input,
                                                        strlen(input)),
                                               fuzz_str(sig, strlen(sig)),
                                               FUZZ_NOW, 60, &err)
                            == OVSA_ERR);
                FUZZ_ASSERT(err.code == OVSA_E_SIG_INVALID);
            }
        }
    }

    for (rc = 0; rc < 7; rc++) {
        free(f[rc]);
    }

    return 0;
}
