/*
 * fuzz_sig.c: the signature fields of an answer as the SDK receives them:
 * ovsa_sig_parse() over Signature-Input and Signature, ovsa_digest_verify()
 * over Content-Digest and a body, and, when the fields parse, the signature
 * base built from them.  What parses must be what the profile allows (6
 * components, or 7 with "content-digest";req), and printing the parsed
 * parameters back must parse to the same values.  A batch alg
 * ("ovsa-batch-...") reads the batch parameters of the Signature member.
 *
 * Input: Signature-Input \n Signature \n Content-Digest \n body.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "ovsa_httpsig.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                rc;
    char              *input, *signature, *digest, *body, *base;
    char               field[OVSA_SIG_INPUT_MAX];
    size_t             ilen, slen, dlen, blen, sig_len, sig_len2, base_len;
    ovsa_err_t         err;
    ovsa_str_t         in, sg, dg;
    ovsa_sig_msg_t     msg;
    ovsa_sig_params_t  p, p2;
    unsigned char      sig[OVSA_SIG_MAX], sig2[OVSA_SIG_MAX];

    input = fuzz_field(&data, &size, '\n', &ilen);
    signature = fuzz_field(&data, &size, '\n', &slen);
    digest = fuzz_field(&data, &size, '\n', &dlen);
    body = fuzz_field(&data, &size, -1, &blen);

    in.data = input;
    in.len = ilen;
    sg.data = signature;
    sg.len = slen;
    dg.data = digest;
    dg.len = dlen;

    /* Content-Digest */
    ovsa_err_clear(&err);
    rc = ovsa_digest_verify(dg, body, blen, &err);
    FUZZ_ASSERT(rc == OVSA_OK || err.code == OVSA_E_DIGEST_MISSING
                || err.code == OVSA_E_SIG_SYNTAX
                || err.code == OVSA_E_DIGEST_MISMATCH);

    /* Signature-Input and Signature */
    ovsa_err_clear(&err);
    rc = ovsa_sig_parse(in, sg, &p, sig, &sig_len, &err);
    if (rc != OVSA_OK) {
        FUZZ_ASSERT(err.code == OVSA_E_SIG_MISSING
                    || err.code == OVSA_E_SIG_SYNTAX
                    || err.code == OVSA_E_SIG_COMPONENTS
                    || err.code == OVSA_E_SIG_TAG
                    || err.code == OVSA_E_SIG_ALG
                    || err.code == OVSA_E_BATCH_ALG
                    || err.code == OVSA_E_BATCH_PROOF);
        FUZZ_ASSERT(err.msg[0] != '\0');
        goto done;
    }

    FUZZ_ASSERT(p.alg != NULL && p.expires > p.created && p.created >= 0);
    FUZZ_ASSERT(sig_len >= 1 && sig_len <= OVSA_SIG_MAX);
    FUZZ_ASSERT(strlen(p.keyid) >= 1
                && strlen(p.keyid) <= OVSA_SIG_KEYID_MAX);

    /* the parameters printed back parse to the same values */
    FUZZ_ASSERT(ovsa_sig_input_field(&p, field, &err) == OVSA_OK);
    in.data = field;
    in.len = strlen(field);
    FUZZ_ASSERT(ovsa_sig_parse(in, sg, &p2, sig2, &sig_len2, &err)
                == OVSA_OK);
    FUZZ_ASSERT(p2.created == p.created && p2.expires == p.expires
                && strcmp(p2.keyid, p.keyid) == 0 && p2.alg == p.alg
                && p2.req_digest == p.req_digest);
    FUZZ_ASSERT((strstr(field, "\"content-digest\";req") != NULL)
                == (p.req_digest != 0));
    FUZZ_ASSERT(sig_len2 == sig_len && memcmp(sig, sig2, sig_len) == 0);

    /* a batch signature: its parameters, in range, read the same */
    FUZZ_ASSERT(p2.batch == p.batch);
    FUZZ_ASSERT((strstr(field, "alg=\"ovsa-batch-") != NULL)
                == (p.batch != 0));
    if (p.batch) {
        FUZZ_ASSERT(p.bp.size >= 1 && p.bp.size <= OVSA_BATCH_MAX
                    && p.bp.index < p.bp.size
                    && p.bp.proof_len <= OVSA_BATCH_PROOF_MAX
                    && p.bp.proof_len % OVSA_BATCH_HASH_LEN == 0);
        FUZZ_ASSERT(memcmp(&p.bp, &p2.bp, sizeof(p.bp)) == 0);
    }

    /* the base of a message made of the same fields */
    memset(&msg, 0, sizeof(msg));
    msg.status = 200;
    msg.content_type.data = "application/json";
    msg.content_type.len = 16;
    msg.content_digest = dg;
    msg.nonce.data = body;
    msg.nonce.len = blen;
    msg.method.data = "POST";
    msg.method.len = 4;
    msg.target_uri.data = signature;
    msg.target_uri.len = slen;

    /* the parameters and the message must agree on the 7th component */
    FUZZ_ASSERT(ovsa_sig_check_components(&msg, &p, &err)
                == (p.req_digest ? OVSA_ERR : OVSA_OK));
    if (p.req_digest) {
        FUZZ_ASSERT(err.code == OVSA_E_SIG_COMPONENTS);
        msg.req_content_digest = dg;
    }

    if (ovsa_sig_base(&msg, &p, NULL, 0, &base_len, &err) == OVSA_OK) {
        base = malloc(base_len);
        FUZZ_ASSERT(base != NULL);
        FUZZ_ASSERT(ovsa_sig_base(&msg, &p, base, base_len, &base_len, &err)
                    == OVSA_OK);
        FUZZ_ASSERT(memchr(base, '\0', base_len) == NULL);
        free(base);

    } else {
        FUZZ_ASSERT(err.code == OVSA_E_SIG_COMPONENTS);
    }

done:

    free(input);
    free(signature);
    free(digest);
    free(body);
    return 0;
}
