/*
 * ovsa_batch.h: the Merkle tree of the batch profile (docs/signatures.md,
 * "Batch profile"): many answers, one token signature.
 *
 * The tree is RFC 9162's (section 2.1.1): for n > 1 leaves, the left
 * subtree holds the largest power of two k < n leaves; inner node =
 * SHA-256(0x01 || left || right).  The leaves are ovsa's:
 *
 *   leaf = SHA-256(0x00 || "ovsa-batch-v1 leaf" || 0x00 || base)
 *
 * where base is the answer's own RFC 9421 signature base.  The token
 * signs, instead of a base, the root message
 *
 *   "ovsa-batch-v1 root" || 0x00 || uint32_be(size) || root
 *
 * (an RFC 9421 base starts with '"' and holds no control character, so
 * neither can be taken for the other).  An inclusion proof is RFC 9162's
 * audit path (section 2.1.3.1), leaf to root, hashes concatenated.
 *
 * Pure functions of their arguments, no allocation except the tree's
 * (ovsa_batch_tree_build / ovsa_batch_tree_free); safe in any thread.
 */

#ifndef OVSA_BATCH_H
#define OVSA_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "ovsa_err.h"

#define OVSA_BATCH_HASH_LEN    32                /* SHA-256 */
#define OVSA_BATCH_MAX         1024              /* leaves per tree */
#define OVSA_BATCH_DEPTH_MAX   10                /* log2(OVSA_BATCH_MAX) */
#define OVSA_BATCH_PROOF_MAX   (OVSA_BATCH_DEPTH_MAX * OVSA_BATCH_HASH_LEN)

#define OVSA_BATCH_LEAF_CTX    "ovsa-batch-v1 leaf"
#define OVSA_BATCH_ROOT_CTX    "ovsa-batch-v1 root"

/* the root message: context, 0x00, uint32_be size, root */
#define OVSA_BATCH_MSG_LEN                                                    \
    (sizeof(OVSA_BATCH_ROOT_CTX) + 4 + OVSA_BATCH_HASH_LEN)

/* the alg of a batch signature: this prefix + the key's alg */
#define OVSA_BATCH_ALG_PREFIX  "ovsa-batch-"


/*
 * A built tree: every level, leaves first (level 0 = the n leaves, each
 * next level ceil(len / 2) nodes: pairs hashed, an odd last node carried
 * up unchanged, which gives RFC 9162's tree), the root last.
 */
typedef struct {
    size_t          n;             /* leaves */
    size_t          nlevels;
    size_t          off[OVSA_BATCH_DEPTH_MAX + 2];  /* level start, nodes */
    size_t          len[OVSA_BATCH_DEPTH_MAX + 2];  /* level length */
    unsigned char (*h)[OVSA_BATCH_HASH_LEN];        /* all nodes */
} ovsa_batch_tree_t;

/* What a batch signature carries besides the root signature. */
typedef struct {
    size_t          size;          /* leaves in the tree, 1..MAX */
    size_t          index;         /* this answer's leaf, 0..size-1 */
    size_t          proof_len;     /* bytes, a multiple of HASH_LEN */
    unsigned char   leaf[OVSA_BATCH_HASH_LEN];
    unsigned char   root[OVSA_BATCH_HASH_LEN];
    unsigned char   proof[OVSA_BATCH_PROOF_MAX];
} ovsa_batch_proof_t;


/* The leaf hash of a signature base into leaf[OVSA_BATCH_HASH_LEN]. */
int ovsa_batch_leaf(const void *base, size_t len, unsigned char *leaf,
    ovsa_err_t *err);

/* An inner node: SHA-256(0x01 || l || r) into out[OVSA_BATCH_HASH_LEN]. */
int ovsa_batch_node(const unsigned char *l, const unsigned char *r,
    unsigned char *out, ovsa_err_t *err);

/*
 * Builds the tree over n (1..OVSA_BATCH_MAX) leaf hashes, leaves[i]
 * being 32 bytes each, concatenated.  Allocates t->h: free with
 * ovsa_batch_tree_free().  The root is ovsa_batch_tree_root(t).
 */
int ovsa_batch_tree_build(const unsigned char *leaves, size_t n,
    ovsa_batch_tree_t *t, ovsa_err_t *err);

/* The root of a built tree (OVSA_BATCH_HASH_LEN bytes, owned by t). */
const unsigned char *ovsa_batch_tree_root(const ovsa_batch_tree_t *t);

/* Frees t->h; t may be zeroed. */
void ovsa_batch_tree_free(ovsa_batch_tree_t *t);

/*
 * The inclusion proof of leaf index of t into proof[OVSA_BATCH_PROOF_MAX]
 * (RFC 9162 audit path, nearest sibling first), its length in *len.
 */
int ovsa_batch_tree_proof(const ovsa_batch_tree_t *t, size_t index,
    unsigned char *proof, size_t *len, ovsa_err_t *err);

/*
 * RFC 9162 section 2.1.3.2: the root that leaf, at index of a tree of
 * size leaves, leads to with proof[len] into root[OVSA_BATCH_HASH_LEN].
 * OVSA_E_BATCH_PROOF when size is 0 or above OVSA_BATCH_MAX, index is not
 * below size, len is not a multiple of 32 or not the path length of
 * that index in that size.
 */
int ovsa_batch_root_from_proof(const unsigned char *leaf, size_t index,
    size_t size, const unsigned char *proof, size_t len,
    unsigned char *root, ovsa_err_t *err);

/* The root message the token signs, into out[OVSA_BATCH_MSG_LEN]. */
void ovsa_batch_root_msg(size_t size, const unsigned char *root,
    unsigned char *out);

#endif /* OVSA_BATCH_H */
