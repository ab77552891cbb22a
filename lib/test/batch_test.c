/*
 * batch_test.c: cmocka unit tests of lib/ovsa_batch (the Merkle tree of
 * the batch profile) and of the batch profile in lib/ovsa_httpsig (sign
 * a batch, verify each answer, every tampering to its own code).  Run by
 * t/010-unit.t.
 *
 * The tree is checked against an independent recursive implementation
 * of RFC 9162's MTH (section 2.1.1) and its hashes against SHA-256
 * computed here over the bytes the profile specifies.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/evp.h>

#include "ovsa_batch.h"
#include "ovsa_httpsig.h"

#define H  OVSA_BATCH_HASH_LEN


static void
sha256(const void *a, size_t alen, const void *b, size_t blen,
    const void *c, size_t clen, unsigned char *out)
{
    EVP_MD_CTX  *ctx;

    ctx = EVP_MD_CTX_new();
    assert_non_null(ctx);
    assert_int_equal(EVP_DigestInit_ex(ctx, EVP_sha256(), NULL), 1);
    assert_int_equal(EVP_DigestUpdate(ctx, a, alen), 1);
    assert_int_equal(EVP_DigestUpdate(ctx, b, blen), 1);
    assert_int_equal(EVP_DigestUpdate(ctx, c, clen), 1);
    assert_int_equal(EVP_DigestFinal_ex(ctx, out, NULL), 1);
    EVP_MD_CTX_free(ctx);
}


/* RFC 9162 MTH, recursive: the reference the level-wise tree must meet */
static void
ref_mth(const unsigned char *leaves, size_t n, unsigned char *out)
{
    size_t         k;
    unsigned char  l[H], r[H], one = 0x01;

    if (n == 1) {
        memcpy(out, leaves, H);
        return;
    }

    for (k = 1; k * 2 < n; k *= 2) {
        /* the largest power of two below n */
    }

    ref_mth(leaves, k, l);
    ref_mth(leaves + k * H, n - k, r);
    sha256(&one, 1, l, H, r, H, out);
}


/* n distinct leaves: the leaf hashes of "answer <i>" */
static unsigned char *
make_leaves(size_t n)
{
    char            base[32];
    size_t          i;
    ovsa_err_t      err;
    unsigned char  *leaves;

    leaves = malloc(n * H);
    assert_non_null(leaves);

    for (i = 0; i < n; i++) {
        snprintf(base, sizeof(base), "answer %zu", i);
        assert_int_equal(ovsa_batch_leaf(base, strlen(base),
                                         leaves + i * H, &err), OVSA_OK);
    }

    return leaves;
}


/* both domain separations, byte for byte */
static void
test_domains(void **state)
{
    ovsa_err_t     err;
    unsigned char  leaf[H], want[H], node[H], plain[H];
    unsigned char  zero = 0x00, one = 0x01;

    static const char  base[] = "\"@status\": 200";
    static const char  ctx[] = "ovsa-batch-v1 leaf";

    assert_int_equal(ovsa_batch_leaf(base, strlen(base), leaf, &err),
                     OVSA_OK);

    /* 0x00 || "ovsa-batch-v1 leaf" || 0x00 || base */
    sha256(&zero, 1, ctx, sizeof(ctx), base, strlen(base), want);
    assert_memory_equal(leaf, want, H);

    /* not the plain RFC 9162 leaf of the same bytes */
    sha256(&zero, 1, base, strlen(base), "", 0, plain);
    assert_memory_not_equal(leaf, plain, H);

    /* node = SHA-256(0x01 || l || r), and not the leaf of l || r */
    assert_int_equal(ovsa_batch_node(leaf, plain, node, &err), OVSA_OK);
    sha256(&one, 1, leaf, H, plain, H, want);
    assert_memory_equal(node, want, H);
    sha256(&zero, 1, leaf, H, plain, H, want);
    assert_memory_not_equal(node, want, H);

    /* order matters */
    assert_int_equal(ovsa_batch_node(plain, leaf, want, &err), OVSA_OK);
    assert_memory_not_equal(node, want, H);
}


/* the root message: context, 0x00, uint32 big-endian size, root */
static void
test_root_msg(void **state)
{
    unsigned char  root[H], msg[OVSA_BATCH_MSG_LEN];

    memset(root, 0xab, sizeof(root));
    ovsa_batch_root_msg(0x01020304, root, msg);

    assert_int_equal(sizeof(msg), 19 + 4 + 32);
    assert_memory_equal(msg, "ovsa-batch-v1 root\0", 19);
    assert_memory_equal(msg + 19, "\x01\x02\x03\x04", 4);
    assert_memory_equal(msg + 23, root, H);

    /* never an RFC 9421 base, which starts with '"' */
    assert_int_not_equal(msg[0], '"');
}


/* a tree of n: the reference root, every proof, every refusal */
static void
check_size(size_t n)
{
    size_t              i, j, len, depth, want_len;
    ovsa_err_t          err;
    unsigned char      *leaves;
    unsigned char       ref[H], root[H], proof[OVSA_BATCH_PROOF_MAX + H];
    ovsa_batch_tree_t   t;

    leaves = make_leaves(n);

    assert_int_equal(ovsa_batch_tree_build(leaves, n, &t, &err), OVSA_OK);
    ref_mth(leaves, n, ref);
    assert_memory_equal(ovsa_batch_tree_root(&t), ref, H);

    for (depth = 0; ((size_t) 1 << depth) < n; depth++) {
        /* ceil(log2(n)) */
    }

    for (i = 0; i < n; i++) {
        assert_int_equal(ovsa_batch_tree_proof(&t, i, proof, &len, &err),
                         OVSA_OK);

        /* at most ceil(log2 n) hashes, exactly as many as the path has */
        assert_true(len <= depth * H);
        assert_int_equal(len % H, 0);

        assert_int_equal(ovsa_batch_root_from_proof(leaves + i * H, i, n,
                                                    proof, len, root, &err),
                         OVSA_OK);
        assert_memory_equal(root, ref, H);

        /* the proof of leaf i at another index: another root or refused */
        for (j = 0; j < n && j < 8; j++) {
            if (j == i) {
                continue;
            }
            if (ovsa_batch_root_from_proof(leaves + i * H, j, n, proof, len,
                                           root, &err) == OVSA_OK)
            {
                assert_memory_not_equal(root, ref, H);
            } else {
                assert_int_equal(err.code, OVSA_E_BATCH_PROOF);
            }
        }

        /* another leaf with this proof: another root */
        if (n > 1) {
            assert_int_equal(ovsa_batch_root_from_proof(
                                 leaves + ((i + 1) % n) * H, i, n, proof,
                                 len, root, &err), OVSA_OK);
            assert_memory_not_equal(root, ref, H);
        }

        /* a flipped bit of the proof: another root */
        if (len > 0) {
            proof[len / 2] ^= 0x01;
            assert_int_equal(ovsa_batch_root_from_proof(leaves + i * H, i,
                                                        n, proof, len, root,
                                                        &err), OVSA_OK);
            assert_memory_not_equal(root, ref, H);
            proof[len / 2] ^= 0x01;

            /* one hash short */
            assert_int_equal(ovsa_batch_root_from_proof(leaves + i * H, i,
                                                        n, proof, len - H,
                                                        root, &err),
                             OVSA_ERR);
            assert_int_equal(err.code, OVSA_E_BATCH_PROOF);

            /* not a whole number of hashes */
            assert_int_equal(ovsa_batch_root_from_proof(leaves + i * H, i,
                                                        n, proof, len - 1,
                                                        root, &err),
                             OVSA_ERR);
            assert_int_equal(err.code, OVSA_E_BATCH_PROOF);
        }

        /* one hash too many */
        want_len = len;
        memset(proof + want_len, 0x5a, H);
        assert_int_equal(ovsa_batch_root_from_proof(leaves + i * H, i, n,
                                                    proof, want_len + H,
                                                    root, &err), OVSA_ERR);
        assert_int_equal(err.code, OVSA_E_BATCH_PROOF);
    }

    /* index out of range, size out of range */
    assert_int_equal(ovsa_batch_root_from_proof(leaves, n, n, proof, 0,
                                                root, &err), OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_BATCH_PROOF);
    assert_int_equal(ovsa_batch_root_from_proof(leaves, 0, 0, proof, 0,
                                                root, &err), OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_BATCH_PROOF);
    assert_int_equal(ovsa_batch_root_from_proof(leaves, 0,
                                                OVSA_BATCH_MAX + 1, proof,
                                                0, root, &err), OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_BATCH_PROOF);

    ovsa_batch_tree_free(&t);
    free(leaves);
}


static void
test_sizes(void **state)
{
    size_t  n;

    static const size_t  named[] = { 1, 2, 3, 5, 256, 1024 };

    for (n = 0; n < sizeof(named) / sizeof(named[0]); n++) {
        check_size(named[n]);
    }

    for (n = 4; n <= 70; n++) {
        check_size(n);
    }
}


/* sizes 1, 2, 3 and 5 by hand: which hashes, in which order */
static void
test_shapes(void **state)
{
    size_t              len;
    ovsa_err_t          err;
    unsigned char      *L;
    unsigned char       n01[H], n23[H], n0123[H], want[H];
    unsigned char       proof[OVSA_BATCH_PROOF_MAX];
    ovsa_batch_tree_t   t;

    L = make_leaves(5);

    /* 1: the root is the leaf, the proof is empty */
    assert_int_equal(ovsa_batch_tree_build(L, 1, &t, &err), OVSA_OK);
    assert_memory_equal(ovsa_batch_tree_root(&t), L, H);
    assert_int_equal(ovsa_batch_tree_proof(&t, 0, proof, &len, &err),
                     OVSA_OK);
    assert_int_equal(len, 0);
    ovsa_batch_tree_free(&t);

    /* 2: node(L0, L1); the proof of 0 is L1 */
    ovsa_batch_node(L, L + H, n01, &err);
    assert_int_equal(ovsa_batch_tree_build(L, 2, &t, &err), OVSA_OK);
    assert_memory_equal(ovsa_batch_tree_root(&t), n01, H);
    assert_int_equal(ovsa_batch_tree_proof(&t, 0, proof, &len, &err),
                     OVSA_OK);
    assert_int_equal(len, H);
    assert_memory_equal(proof, L + H, H);
    ovsa_batch_tree_free(&t);

    /* 3: node(node(L0, L1), L2); the proof of 2 is node(L0, L1) alone */
    ovsa_batch_node(n01, L + 2 * H, want, &err);
    assert_int_equal(ovsa_batch_tree_build(L, 3, &t, &err), OVSA_OK);
    assert_memory_equal(ovsa_batch_tree_root(&t), want, H);
    assert_int_equal(ovsa_batch_tree_proof(&t, 2, proof, &len, &err),
                     OVSA_OK);
    assert_int_equal(len, H);
    assert_memory_equal(proof, n01, H);
    assert_int_equal(ovsa_batch_tree_proof(&t, 1, proof, &len, &err),
                     OVSA_OK);
    assert_int_equal(len, 2 * H);
    assert_memory_equal(proof, L, H);
    assert_memory_equal(proof + H, L + 2 * H, H);
    ovsa_batch_tree_free(&t);

    /* 5: node(node(n01, n23), L4); the proof of 4 is n0123 */
    ovsa_batch_node(L + 2 * H, L + 3 * H, n23, &err);
    ovsa_batch_node(n01, n23, n0123, &err);
    ovsa_batch_node(n0123, L + 4 * H, want, &err);
    assert_int_equal(ovsa_batch_tree_build(L, 5, &t, &err), OVSA_OK);
    assert_memory_equal(ovsa_batch_tree_root(&t), want, H);
    assert_int_equal(ovsa_batch_tree_proof(&t, 4, proof, &len, &err),
                     OVSA_OK);
    assert_int_equal(len, H);
    assert_memory_equal(proof, n0123, H);
    assert_int_equal(ovsa_batch_tree_proof(&t, 3, proof, &len, &err),
                     OVSA_OK);
    assert_int_equal(len, 3 * H);
    assert_memory_equal(proof, L + 2 * H, H);
    assert_memory_equal(proof + H, n01, H);
    assert_memory_equal(proof + 2 * H, L + 4 * H, H);
    ovsa_batch_tree_free(&t);

    /* no tree of 0 or of more than OVSA_BATCH_MAX */
    assert_int_equal(ovsa_batch_tree_build(L, 0, &t, &err), OVSA_ERR);
    assert_int_equal(ovsa_batch_tree_build(L, OVSA_BATCH_MAX + 1, &t, &err),
                     OVSA_ERR);

    free(L);
}


/* ---- the profile: a signed batch of answers */

#define NANS  5
#define NOW   1700000100

typedef struct {
    char            nonce[48];
    char            digest[OVSA_DIGEST_FIELD_LEN + 1];
    char            input[OVSA_SIG_INPUT_MAX];
    char            sig[OVSA_SIG_BATCH_FIELD_MAX];
    char            base[2048];
    size_t          base_len;
    ovsa_sig_msg_t  msg;
} answer_t;


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


/* signs n answers as one batch, as the module does */
static void
sign_batch(ovsa_signer_t *s, answer_t *a, size_t n, const char *tag)
{
    size_t              i, raw_len;
    ovsa_err_t          err;
    unsigned char       leaves[NANS * H] = { 0 }, raw[OVSA_SIG_MAX];
    ovsa_batch_tree_t   t;
    ovsa_batch_proof_t  bp;

    static const char   body[] = "{\"verdict\":\"valid\",\"code\":\"OK\"}";

    for (i = 0; i < n; i++) {
        memset(&a[i].msg, 0, sizeof(a[i].msg));
        snprintf(a[i].nonce, sizeof(a[i].nonce), "%sn%zu", tag, i);
        a[i].msg.status = 200;
        a[i].msg.content_type = ovsa_str("application/json");
        a[i].msg.nonce = ovsa_str(a[i].nonce);
        a[i].msg.method = ovsa_str("POST");
        a[i].msg.target_uri = ovsa_str("https://license.example/v1/check");

        assert_int_equal(ovsa_sig_prepare(s, &a[i].msg, body,
                                          sizeof(body) - 1, NOW, 300,
                                          a[i].digest, a[i].input,
                                          a[i].base, sizeof(a[i].base),
                                          &a[i].base_len, &err), OVSA_OK);
        a[i].msg.content_digest = ovsa_str(a[i].digest);

        assert_non_null(strstr(a[i].input, "alg=\"ovsa-batch-"));
        assert_non_null(strstr(a[i].base, "alg=\"ovsa-batch-"));

        assert_int_equal(ovsa_batch_leaf(a[i].base, a[i].base_len,
                                         leaves + i * H, &err), OVSA_OK);
    }

    assert_int_equal(ovsa_batch_tree_build(leaves, n, &t, &err), OVSA_OK);
    assert_int_equal(ovsa_sig_batch_sign(s, n, ovsa_batch_tree_root(&t), raw,
                                         &raw_len, &err), OVSA_OK);

    for (i = 0; i < n; i++) {
        memset(&bp, 0, sizeof(bp));
        bp.size = n;
        bp.index = i;
        memcpy(bp.leaf, leaves + i * H, H);
        memcpy(bp.root, ovsa_batch_tree_root(&t), H);
        assert_int_equal(ovsa_batch_tree_proof(&t, i, bp.proof,
                                               &bp.proof_len, &err),
                         OVSA_OK);
        assert_int_equal(ovsa_sig_batch_field(raw, raw_len, &bp, a[i].sig,
                                              &err), OVSA_OK);
    }

    ovsa_batch_tree_free(&t);
}


static int
verify(EVP_PKEY *pub, const answer_t *a, const char *input, const char *sig)
{
    ovsa_err_t          err;
    ovsa_sig_params_t   p;

    err.code = OVSA_E_NONE;
    if (ovsa_sig_verify(pub, &a->msg, ovsa_str(input), ovsa_str(sig), NOW,
                        60, &p, &err) == OVSA_OK)
    {
        assert_int_equal(p.batch, 1);
        return OVSA_E_NONE;
    }

    return err.code;
}


/* replaces the first from in s by to (static buffer) */
static const char *
subst(const char *s, const char *from, const char *to)
{
    static char   out[OVSA_SIG_BATCH_FIELD_MAX + 256];
    const char   *p;

    p = strstr(s, from);
    assert_non_null(p);
    snprintf(out, sizeof(out), "%.*s%s%s", (int) (p - s), s, to,
             p + strlen(from));
    return out;
}


static void
profile_trip(const char *type, const char *alg)
{
    char            want[64], sig[OVSA_SIG_BATCH_FIELD_MAX];
    char           *p, *q;
    size_t          i, len;
    EVP_PKEY       *pkey, *other;
    ovsa_err_t      err;
    ovsa_signer_t   s, os;
    static answer_t  a[NANS], b[NANS];

    pkey = gen_key(type);
    other = gen_key(type);

    assert_int_equal(ovsa_signer_init(&s, pkey, pkey, &err), OVSA_OK);
    s.batch = 1;
    assert_int_equal(ovsa_signer_init(&os, other, other, &err), OVSA_OK);
    os.batch = 1;

    /* a batch signer never signs a base by itself */
    assert_int_equal(ovsa_sig_finish(&s, "x", 1, sig, &err), OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_INTERNAL);

    sign_batch(&s, a, NANS, "a");
    sign_batch(&s, b, NANS, "b");

    snprintf(want, sizeof(want), "alg=\"ovsa-batch-%s\"", alg);

    for (i = 0; i < NANS; i++) {
        assert_non_null(strstr(a[i].input, want));
        assert_non_null(strstr(a[i].sig, ";size=5;index="));
        assert_int_equal(verify(pkey, &a[i], a[i].input, a[i].sig),
                         OVSA_E_NONE);
        assert_int_equal(verify(pkey, &b[i], b[i].input, b[i].sig),
                         OVSA_E_NONE);
    }

    /* another key: the root signature does not verify (keyid first) */
    assert_int_equal(verify(other, &a[0], a[0].input, a[0].sig),
                     OVSA_E_SIG_KEYID);

    /* the whole Signature of answer 1 on answer 0: not its leaf */
    assert_int_equal(verify(pkey, &a[0], a[0].input, a[1].sig),
                     OVSA_E_BATCH_LEAF);

    /* an altered answer (status): not its leaf */
    a[0].msg.status = 403;
    assert_int_equal(verify(pkey, &a[0], a[0].input, a[0].sig),
                     OVSA_E_BATCH_LEAF);
    a[0].msg.status = 200;

    /* answer 0's leaf with answer 1's index and proof: not the root */
    p = strstr(a[1].sig, ";index=");
    q = strstr(a[0].sig, ";index=");
    snprintf(sig, sizeof(sig), "%.*s;index=1%s", (int) (q - a[0].sig),
             a[0].sig, strstr(q, ";leaf="));
    assert_int_equal(verify(pkey, &a[0], a[0].input, sig),
                     OVSA_E_BATCH_ROOT);
    p = strstr(a[1].sig, ";proof=");
    q = strstr(a[0].sig, ";proof=");
    snprintf(sig, sizeof(sig), "%.*s%s", (int) (q - a[0].sig), a[0].sig, p);
    assert_int_equal(verify(pkey, &a[0], a[0].input, sig),
                     OVSA_E_BATCH_ROOT);

    /* the root signature of another batch: does not verify */
    p = strchr(a[0].sig + 6, ':');
    q = strchr(b[0].sig + 6, ':');
    snprintf(sig, sizeof(sig), "%.*s%s", (int) (q - b[0].sig), b[0].sig, p);
    assert_int_equal(verify(pkey, &a[0], a[0].input, sig),
                     OVSA_E_BATCH_SIG);

    /* a consistent batch signed by another key under this keyid */
    sign_batch(&os, b, NANS, "a");
    p = strchr(a[0].sig + 6, ':');
    q = strchr(b[0].sig + 6, ':');
    snprintf(sig, sizeof(sig), "%.*s%s", (int) (q - b[0].sig), b[0].sig, p);
    assert_int_equal(verify(pkey, &a[0], a[0].input, sig),
                     OVSA_E_BATCH_SIG);

    /* malformed proofs: index out of range, size 0, a short proof */
    assert_int_equal(verify(pkey, &a[0], a[0].input,
                            subst(a[0].sig, ";size=5", ";size=0")),
                     OVSA_E_BATCH_PROOF);
    assert_int_equal(verify(pkey, &a[0], a[0].input,
                            subst(a[0].sig, ";index=0", ";index=5")),
                     OVSA_E_BATCH_PROOF);
    assert_int_equal(verify(pkey, &a[0], a[0].input,
                            subst(a[0].sig, ";size=5", ";size=9")),
                     OVSA_E_BATCH_PROOF);
    assert_int_equal(verify(pkey, &a[0], a[0].input,
                            subst(a[0].sig, ";proof=:", ";proof=:AAAA")),
                     OVSA_E_BATCH_PROOF);
    p = strstr(a[0].sig, ";proof=:");
    snprintf(sig, sizeof(sig), "%.*s;proof=:%.44s:", (int) (p - a[0].sig),
             a[0].sig, p + 8);
    assert_int_equal(verify(pkey, &a[0], a[0].input, sig),
                     OVSA_E_BATCH_PROOF);
    assert_int_equal(verify(pkey, &a[0], a[0].input,
                            subst(a[0].sig, ";root=:", ";root=:AAAA")),
                     OVSA_E_BATCH_PROOF);
    assert_int_equal(verify(pkey, &a[0], a[0].input,
                            subst(a[0].sig, ";leaf=", ";extra=1;leaf=")),
                     OVSA_E_BATCH_PROOF);

    /* a batch Signature-Input without the batch parameters */
    p = strchr(a[0].sig + 6, ':');
    len = (size_t) (p - a[0].sig) + 1;
    snprintf(sig, sizeof(sig), "%.*s", (int) len, a[0].sig);
    assert_int_equal(verify(pkey, &a[0], a[0].input, sig),
                     OVSA_E_BATCH_PROOF);

    /* an unknown batch alg */
    assert_int_equal(verify(pkey, &a[0],
                            subst(a[0].input, want,
                                  "alg=\"ovsa-batch-hmac-sha256\""),
                            a[0].sig),
                     OVSA_E_BATCH_ALG);

    /*
     * the root signature as an ordinary signature (the batch alg taken
     * off): the base now says the plain alg and is no root message
     */
    snprintf(want, sizeof(want), "alg=\"%s\"", alg);
    assert_int_equal(verify(pkey, &a[0],
                            subst(a[0].input, "ovsa-batch-", ""), sig),
                     OVSA_E_SIG_INVALID);

    ovsa_signer_free(&s);
    ovsa_signer_free(&os);
    EVP_PKEY_free(pkey);
    EVP_PKEY_free(other);
}


static void
test_profile_rsa(void **state)
{
    profile_trip("RSA", "rsa-pss-sha512");
}


static void
test_profile_p256(void **state)
{
    profile_trip("EC", "ecdsa-p256-sha256");
}


static void
test_profile_ed25519(void **state)
{
    profile_trip("ED25519", "ed25519");
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_domains),
        cmocka_unit_test(test_root_msg),
        cmocka_unit_test(test_shapes),
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_profile_rsa),
        cmocka_unit_test(test_profile_p256),
        cmocka_unit_test(test_profile_ed25519),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
