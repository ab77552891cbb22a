/*
 * fuzz_answer.c: verification of a whole answer (Content-Digest, then the
 * RFC 9421 signature) against keys made at start, two ways:
 *
 *   first byte even: the input is an answer; nothing in it may verify,
 *     since nobody but this process holds the key.  "KEYID" in the
 *     Signature-Input is replaced by the key's keyid, so that the fuzzer
 *     gets past the keyid check to the time window, the base and the
 *     signature check itself.
 *   first byte odd: the input gives the covered components and the body;
 *     what the library signs must verify, and a changed body or nonce
 *     must not.
 *   first byte >= 0x80: the answer is to a request with a body, whose
 *     Content-Digest (the Content-Digest field) is the 7th component; an
 *     answer without it, or to another request digest, must not verify.
 *
 * Fields after the first byte, separated by \n: status, Content-Type,
 * Content-Digest, Signature-Input, Signature, nonce, method, target URI,
 * then the body (the rest).
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "ovsa_httpsig.h"
#include "ovsa_pin.h"

#define FUZZ_NKEYS  3

static EVP_PKEY       *fuzz_keys[FUZZ_NKEYS];
static ovsa_signer_t   fuzz_signers[FUZZ_NKEYS];


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    int          i;
    ovsa_err_t   err;
    const char  *types[FUZZ_NKEYS] = { "ED25519", "P-256", "RSA" };

    for (i = 0; i < FUZZ_NKEYS; i++) {
        fuzz_keys[i] = fuzz_key(types[i]);
        FUZZ_ASSERT(ovsa_signer_init(&fuzz_signers[i], fuzz_keys[i],
                                     fuzz_keys[i], &err)
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
fuzz_attack(int k, int req, char **f, size_t *len)
{
    int                rc;
    char              *input;
    size_t             ilen;
    ovsa_err_t         err;
    ovsa_sig_msg_t     msg;
    ovsa_sig_params_t  p;

    ilen = len[3];
    input = fuzz_keyid(f[3], &ilen, fuzz_signers[k].keyid);

    memset(&msg, 0, sizeof(msg));
    msg.status = atoi(f[0]);
    msg.content_type = fuzz_str(f[1], len[1]);
    msg.content_digest = fuzz_str(f[2], len[2]);
    msg.nonce = fuzz_str(f[5], len[5]);
    msg.method = fuzz_str(f[6], len[6]);
    msg.target_uri = fuzz_str(f[7], len[7]);
    if (req) {
        msg.req_content_digest = fuzz_str(f[2], len[2]);
    }

    ovsa_err_clear(&err);
    (void) ovsa_digest_verify(msg.content_digest, f[8], len[8], &err);

    ovsa_err_clear(&err);
    rc = ovsa_sig_verify(fuzz_keys[k], &msg, fuzz_str(input, ilen),
                         fuzz_str(f[4], len[4]), FUZZ_NOW, 60, &p, &err);

    /* a forgery */
    FUZZ_ASSERT(rc == OVSA_ERR);
    FUZZ_ASSERT(err.code != OVSA_E_NONE && err.msg[0] != '\0');

    free(input);
}


static void
fuzz_roundtrip(int k, int req, char **f, size_t *len)
{
    int                rc;
    char              *base, *body;
    size_t             base_len;
    ovsa_err_t         err;
    ovsa_str_t         n;
    ovsa_sig_msg_t     msg;
    ovsa_sig_params_t  p;
    char               digest[OVSA_DIGEST_FIELD_LEN + 1];
    char               input[OVSA_SIG_INPUT_MAX], sig[OVSA_SIG_FIELD_MAX];

    memset(&msg, 0, sizeof(msg));
    msg.status = 100 + (len[0] > 0 ? (unsigned char) f[0][0] * 7 % 900 : 100);
    msg.content_type = fuzz_str(f[1], len[1]);
    msg.nonce = fuzz_str(f[5], len[5]);
    msg.method = fuzz_str(f[6], len[6]);
    msg.target_uri = fuzz_str(f[7], len[7]);
    if (req) {
        msg.req_content_digest = fuzz_str(f[2], len[2]);
    }
    body = f[8];

    base_len = 0;
    base = NULL;
    ovsa_err_clear(&err);
    rc = ovsa_sig_sign_response(&fuzz_signers[k], &msg, body, len[8],
                                FUZZ_NOW, 300, NULL, 0, &base_len, digest,
                                input, sig, &err);
    if (rc != OVSA_OK && err.code == OVSA_E_INTERNAL && base_len > 0) {
        base = malloc(base_len);
        FUZZ_ASSERT(base != NULL);
        rc = ovsa_sig_sign_response(&fuzz_signers[k], &msg, body, len[8],
                                    FUZZ_NOW, 300, base, base_len, &base_len,
                                    digest, input, sig, &err);
    }

    if (rc != OVSA_OK) {
        /* only components a field line cannot carry are refused */
        FUZZ_ASSERT(err.code == OVSA_E_SIG_COMPONENTS);
        free(base);
        return;
    }

    msg.content_digest = fuzz_str(digest, strlen(digest));

    FUZZ_ASSERT(ovsa_digest_verify(msg.content_digest, body, len[8], &err)
                == OVSA_OK);
    FUZZ_ASSERT(ovsa_sig_verify(fuzz_keys[k], &msg,
                                fuzz_str(input, strlen(input)),
                                fuzz_str(sig, strlen(sig)), FUZZ_NOW + 10,
                                60, &p, &err) == OVSA_OK);
    FUZZ_ASSERT(p.created == FUZZ_NOW && p.expires == FUZZ_NOW + 300);
    FUZZ_ASSERT(strcmp(p.keyid, fuzz_signers[k].keyid) == 0);
    FUZZ_ASSERT(p.req_digest == req);

    /* 6 components where 7 were signed, or 7 where 6: refused */
    {
        ovsa_sig_msg_t  m;

        m = msg;
        m.req_content_digest = req ? fuzz_str(NULL, 0)
                                   : fuzz_str("sha-256=:x:", 11);
        FUZZ_ASSERT(ovsa_sig_verify(fuzz_keys[k], &m,
                                    fuzz_str(input, strlen(input)),
                                    fuzz_str(sig, strlen(sig)), FUZZ_NOW,
                                    60, &p, &err) == OVSA_ERR);
        FUZZ_ASSERT(err.code == OVSA_E_SIG_COMPONENTS);
    }

    /* another body does not match the digest */
    if (len[8] > 0) {
        body[0] ^= 1;
        FUZZ_ASSERT(ovsa_digest_verify(msg.content_digest, body, len[8],
                                       &err) == OVSA_ERR);
        FUZZ_ASSERT(err.code == OVSA_E_DIGEST_MISMATCH);
        body[0] ^= 1;
    }

    /* another request's nonce does not verify (values compare trimmed) */
    n = fuzz_str(f[5], len[5]);
    while (n.len > 0 && (n.data[0] == ' ' || n.data[0] == '\t')) {
        n.data++;
        n.len--;
    }
    while (n.len > 0 && (n.data[n.len - 1] == ' '
                         || n.data[n.len - 1] == '\t'))
    {
        n.len--;
    }

    msg.nonce = fuzz_str("ANOTHER-nonce", 13);
    if (n.len != 13 || memcmp(n.data, "ANOTHER-nonce", 13) != 0) {
        FUZZ_ASSERT(ovsa_sig_verify(fuzz_keys[k], &msg,
                                    fuzz_str(input, strlen(input)),
                                    fuzz_str(sig, strlen(sig)), FUZZ_NOW,
                                    60, &p, &err) == OVSA_ERR);
        FUZZ_ASSERT(err.code == OVSA_E_SIG_INVALID);
    }

    free(base);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int      i, mode, k, req;
    char    *f[9];
    size_t   len[9];

    if (size < 1) {
        return 0;
    }

    mode = data[0] & 1;
    req = data[0] >> 7;
    k = ((data[0] & 0x7f) >> 1) % FUZZ_NKEYS;
    data++;
    size--;

    for (i = 0; i < 9; i++) {
        f[i] = fuzz_field(&data, &size, i < 8 ? '\n' : -1, &len[i]);
    }

    if (mode == 0) {
        fuzz_attack(k, req, f, len);

    } else if (k != 2) {
        fuzz_roundtrip(k, req, f, len); /* RSA signing is too slow here */
    }

    for (i = 0; i < 9; i++) {
        free(f[i]);
    }

    return 0;
}
