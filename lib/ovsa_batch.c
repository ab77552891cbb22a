/*
 * ovsa_batch.c: the Merkle tree of the batch profile (see ovsa_batch.h
 * and docs/signatures.md, "Batch profile").
 */

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "ovsa_batch.h"


int
ovsa_batch_leaf(const void *base, size_t len, unsigned char *leaf,
    ovsa_err_t *err)
{
    int            ok;
    EVP_MD_CTX    *ctx;
    unsigned int   n;

    /* 0x00 || "ovsa-batch-v1 leaf" || 0x00 || base */
    static const unsigned char  prefix[] = "\0" OVSA_BATCH_LEAF_CTX;

    ctx = EVP_MD_CTX_new();

    ok = ctx != NULL
         && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1
         && EVP_DigestUpdate(ctx, prefix, sizeof(prefix)) == 1
         && EVP_DigestUpdate(ctx, base, len) == 1
         && EVP_DigestFinal_ex(ctx, leaf, &n) == 1;

    EVP_MD_CTX_free(ctx);

    if (!ok) {
        return ovsa_err_ssl(err, OVSA_E_INTERNAL, "batch: leaf hash");
    }

    return OVSA_OK;
}


int
ovsa_batch_node(const unsigned char *l, const unsigned char *r,
    unsigned char *out, ovsa_err_t *err)
{
    unsigned char  buf[1 + 2 * OVSA_BATCH_HASH_LEN];

    buf[0] = 0x01;
    memcpy(buf + 1, l, OVSA_BATCH_HASH_LEN);
    memcpy(buf + 1 + OVSA_BATCH_HASH_LEN, r, OVSA_BATCH_HASH_LEN);

    if (EVP_Digest(buf, sizeof(buf), out, NULL, EVP_sha256(), NULL) != 1) {
        return ovsa_err_ssl(err, OVSA_E_INTERNAL, "batch: node hash");
    }

    return OVSA_OK;
}


int
ovsa_batch_tree_build(const unsigned char *leaves, size_t n,
    ovsa_batch_tree_t *t, ovsa_err_t *err)
{
    size_t  lv, i, total, len, off;

    memset(t, 0, sizeof(*t));

    if (n == 0 || n > OVSA_BATCH_MAX) {
        return ovsa_err_set(err, OVSA_E_INTERNAL, "batch: %zu leaves, "
                            "1..%d allowed", n, OVSA_BATCH_MAX);
    }

    /* the level lengths: n, ceil(n / 2), ..., 1 */
    total = 0;
    len = n;
    lv = 0;

    for ( ;; ) {
        t->off[lv] = total;
        t->len[lv] = len;
        total += len;
        lv++;

        if (len == 1) {
            break;
        }

        len = (len + 1) / 2;
    }

    t->nlevels = lv;
    t->n = n;

    t->h = malloc(total * OVSA_BATCH_HASH_LEN);
    if (t->h == NULL) {
        return ovsa_err_set(err, OVSA_E_NOMEM, "batch: out of memory");
    }

    memcpy(t->h, leaves, n * OVSA_BATCH_HASH_LEN);

    for (lv = 1; lv < t->nlevels; lv++) {
        off = t->off[lv - 1];

        for (i = 0; i < t->len[lv]; i++) {

            if (2 * i + 1 < t->len[lv - 1]) {
                if (ovsa_batch_node(t->h[off + 2 * i], t->h[off + 2 * i + 1],
                                    t->h[t->off[lv] + i], err)
                    != OVSA_OK)
                {
                    ovsa_batch_tree_free(t);
                    return OVSA_ERR;
                }

            } else {
                /* an odd last node goes up unchanged (RFC 9162's split) */
                memcpy(t->h[t->off[lv] + i], t->h[off + 2 * i],
                       OVSA_BATCH_HASH_LEN);
            }
        }
    }

    return OVSA_OK;
}


const unsigned char *
ovsa_batch_tree_root(const ovsa_batch_tree_t *t)
{
    return t->h[t->off[t->nlevels - 1]];
}


void
ovsa_batch_tree_free(ovsa_batch_tree_t *t)
{
    free(t->h);
    t->h = NULL;
}


int
ovsa_batch_tree_proof(const ovsa_batch_tree_t *t, size_t index,
    unsigned char *proof, size_t *len, ovsa_err_t *err)
{
    size_t  lv, i, sib;

    *len = 0;

    if (t->h == NULL || index >= t->n) {
        return ovsa_err_set(err, OVSA_E_INTERNAL, "batch: leaf %zu of %zu",
                            index, t->n);
    }

    i = index;

    for (lv = 0; lv + 1 < t->nlevels; lv++) {
        sib = i ^ 1;

        /* no sibling: the node goes up unchanged, nothing to prove */
        if (sib < t->len[lv]) {
            memcpy(proof + *len, t->h[t->off[lv] + sib],
                   OVSA_BATCH_HASH_LEN);
            *len += OVSA_BATCH_HASH_LEN;
        }

        i >>= 1;
    }

    return OVSA_OK;
}


int
ovsa_batch_root_from_proof(const unsigned char *leaf, size_t index,
    size_t size, const unsigned char *proof, size_t len,
    unsigned char *root, ovsa_err_t *err)
{
    size_t          fn, sn, k;
    const unsigned char  *p;
    unsigned char   r[OVSA_BATCH_HASH_LEN];

    if (size == 0 || size > OVSA_BATCH_MAX) {
        return ovsa_err_set(err, OVSA_E_BATCH_PROOF, "batch: tree size %zu "
                            "is not 1..%d", size, OVSA_BATCH_MAX);
    }

    if (index >= size) {
        return ovsa_err_set(err, OVSA_E_BATCH_PROOF, "batch: leaf index %zu "
                            "is not below the tree size %zu", index, size);
    }

    if (len % OVSA_BATCH_HASH_LEN != 0 || len > OVSA_BATCH_PROOF_MAX) {
        return ovsa_err_set(err, OVSA_E_BATCH_PROOF, "batch: a proof of %zu "
                            "bytes is not up to %d hashes of %d bytes", len,
                            OVSA_BATCH_DEPTH_MAX, OVSA_BATCH_HASH_LEN);
    }

    /* RFC 9162 section 2.1.3.2 */
    fn = index;
    sn = size - 1;
    memcpy(r, leaf, OVSA_BATCH_HASH_LEN);

    for (k = 0; k < len; k += OVSA_BATCH_HASH_LEN) {
        p = proof + k;

        if (sn == 0) {
            return ovsa_err_set(err, OVSA_E_BATCH_PROOF, "batch: the proof "
                                "has more hashes than leaf %zu of a tree of "
                                "%zu needs", index, size);
        }

        if ((fn & 1) || fn == sn) {
            if (ovsa_batch_node(p, r, r, err) != OVSA_OK) {
                return OVSA_ERR;
            }

            if (!(fn & 1)) {
                while (!(fn & 1) && fn != 0) {
                    fn >>= 1;
                    sn >>= 1;
                }
            }

        } else {
            if (ovsa_batch_node(r, p, r, err) != OVSA_OK) {
                return OVSA_ERR;
            }
        }

        fn >>= 1;
        sn >>= 1;
    }

    if (sn != 0) {
        return ovsa_err_set(err, OVSA_E_BATCH_PROOF, "batch: the proof has "
                            "fewer hashes than leaf %zu of a tree of %zu "
                            "needs", index, size);
    }

    memcpy(root, r, OVSA_BATCH_HASH_LEN);
    return OVSA_OK;
}


void
ovsa_batch_root_msg(size_t size, const unsigned char *root,
    unsigned char *out)
{
    /* "ovsa-batch-v1 root" || 0x00 || uint32_be(size) || root */
    memcpy(out, OVSA_BATCH_ROOT_CTX, sizeof(OVSA_BATCH_ROOT_CTX));
    out += sizeof(OVSA_BATCH_ROOT_CTX);

    out[0] = (unsigned char) (size >> 24);
    out[1] = (unsigned char) (size >> 16);
    out[2] = (unsigned char) (size >> 8);
    out[3] = (unsigned char) size;

    memcpy(out + 4, root, OVSA_BATCH_HASH_LEN);
}
