/*
 * ovsa_httpsig.h: signed license-server answers.
 *
 * RFC 9530 Content-Digest (sha-256) and RFC 9421 HTTP Message Signatures
 * for the one fixed profile ovsa uses (docs/signatures.md):
 *
 *   label      ovsa
 *   covered    "@status" "content-type" "content-digest"
 *              "ovsa-nonce";req "@method";req "@target-uri";req
 *              and, exactly when the request carried a Content-Digest
 *              (a request with a body must), "content-digest";req
 *   params     created, expires, keyid, alg, tag="ovsa-license-v1"
 *   alg        rsa-pss-sha512 (RSA >= 2048 bits), ecdsa-p256-sha256 (P-256,
 *              raw r||s), ed25519: chosen by the key type, nothing else
 *              (lib/ovsa_key.h).
 *
 * The machine signatures of requests (another profile over the same
 * parser and base builder) are in lib/ovsa_reqsig.h.
 *
 * Used by the nginx signing filter (sign side: ovsa_sig_prepare() and
 * ovsa_sig_finish()) and by the client SDK (verify side: ovsa_sig_parse()
 * and ovsa_sig_verify_parsed()), so nothing here allocates on the
 * caller's behalf: field values are written into caller buffers of the
 * sizes below, and the one variable-size object, the signature base, goes
 * into a buffer the caller sizes with ovsa_sig_base_max().
 */

#ifndef OVSA_HTTPSIG_H
#define OVSA_HTTPSIG_H

#include <stddef.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "ovsa_b64.h"
#include "ovsa_batch.h"
#include "ovsa_err.h"
#include "ovsa_key.h"

#define OVSA_SIG_LABEL        "ovsa"
#define OVSA_SIG_TAG          "ovsa-license-v1"
#define OVSA_SIG_NONCE_MAX    128       /* OVSA-Nonce: 1..128 base64url */

/* the alg names (lib/ovsa_key.c holds the algorithms) */
#define OVSA_ALG_RSA          "rsa-pss-sha512"
#define OVSA_ALG_P256         "ecdsa-p256-sha256"
#define OVSA_ALG_ED25519      "ed25519"

/* "sha-256=:<44 base64 chars>:" */
#define OVSA_DIGEST_FIELD_LEN   (sizeof("sha-256=::") - 1 + 44)

/* raw signature bytes: RSA up to 8192 bits */
#define OVSA_SIG_MAX          1024

/* Signature-Input value: "ovsa=(...);created=..;...": well below this */
#define OVSA_SIG_INPUT_MAX    512

/* Signature value: "ovsa=:<base64 of up to OVSA_SIG_MAX bytes>:" */
#define OVSA_SIG_FIELD_MAX    (sizeof("ovsa=::") + 4 * (OVSA_SIG_MAX / 3 + 1))

#define OVSA_SIG_KEYID_MAX    64

/*
 * Signature value of the batch profile: the root signature as above,
 * then ;size=N;index=I;leaf=:..:;root=:..:;proof=:..: (docs/signatures.md,
 * "Batch profile")
 */
#define OVSA_SIG_BATCH_FIELD_MAX                                              \
    (OVSA_SIG_FIELD_MAX + sizeof(";size=1024;index=1023;leaf=::;root=::"      \
                                 ";proof=::")                                \
     + 2 * 44 + 4 * (OVSA_BATCH_PROOF_MAX / 3 + 1))


/* A byte string that need not be NUL-terminated; data NULL = absent. */
typedef struct {
    const char  *data;
    size_t       len;
} ovsa_str_t;

/* The ovsa_str_t of a NUL-terminated string; NULL gives an absent one. */
static inline ovsa_str_t
ovsa_str(const char *s)
{
    ovsa_str_t  v;

    v.data = s;
    v.len = s ? strlen(s) : 0;
    return v;
}

/*
 * The covered components of one answer.  Response fields are the values
 * as sent (one field line each; leading/trailing spaces are trimmed when
 * the base is built); request values are those of the request answered.
 */
typedef struct {
    int          status;           /* @status, 100..999 */
    ovsa_str_t   content_type;     /* response Content-Type */
    ovsa_str_t   content_digest;   /* response Content-Digest */
    ovsa_str_t   nonce;            /* request OVSA-Nonce */
    ovsa_str_t   method;           /* request method, e.g. "POST" */
    ovsa_str_t   target_uri;       /* "https://host[:port]/path?query" */
    ovsa_str_t   req_content_digest;  /* request Content-Digest, or absent
                                         (data NULL): 6 components */
} ovsa_sig_msg_t;

/* The signature parameters (the order in the base is fixed). */
typedef struct {
    long long    created;          /* unix seconds */
    long long    expires;          /* unix seconds, > created */
    char         keyid[OVSA_SIG_KEYID_MAX + 1];  /* NUL-terminated */
    const char  *alg;              /* one of OVSA_ALG_*, static string */
    int          req_digest;       /* 1: covers "content-digest";req (7
                                      components), 0: the 6 */
    int          batch;            /* 1: the batch profile, alg is
                                      "ovsa-batch-" + alg; bp holds what
                                      the Signature member carries */
    ovsa_batch_proof_t  bp;        /* batch only (ovsa_sig_parse) */
} ovsa_sig_params_t;


/*
 * Writes the NUL-terminated Content-Digest field value of body,
 * "sha-256=:<base64>:", to out[OVSA_DIGEST_FIELD_LEN + 1].
 */
int ovsa_digest_field(const void *body, size_t len, char *out,
    ovsa_err_t *err);

/*
 * Checks body against a received Content-Digest field value (an RFC 8941
 * dictionary).  sha-256 and sha-512 are understood, other algorithms are
 * ignored; every understood member must match (constant-time compare).
 * Returns OVSA_OK, or OVSA_ERR with OVSA_E_DIGEST_MISSING (field absent or
 * no understood algorithm), OVSA_E_SIG_SYNTAX (malformed field) or
 * OVSA_E_DIGEST_MISMATCH.
 */
int ovsa_digest_verify(ovsa_str_t field, const void *body, size_t len,
    ovsa_err_t *err);

/*
 * A signing key prepared once (at start), so that the per-answer work is
 * one digest, the base and one signature: the alg and keyid of the
 * identity, and a signing context set up for the private key that each
 * signature copies (EVP_MD_CTX_copy_ex) instead of setting one up.
 */
typedef struct {
    EVP_PKEY          *pkey;       /* the private key, not owned; or NULL */
    const ovsa_alg_t  *alg;        /* ovsa_alg_for_key(OVSA_ALG_HTTPSIG) */
    EVP_MD_CTX        *ctx;        /* set up for pkey, copied per answer */
    char               keyid[OVSA_SIG_KEYID_MAX + 1];
    int                batch;      /* 1: answers get the batch profile's
                                      Signature-Input and base, signed
                                      with ovsa_sig_batch_sign() */
} ovsa_signer_t;

/*
 * Prepares s for the identity whose public key is pub: alg for the key
 * type (OVSA_E_KEY_TYPE, see lib/ovsa_key.h; also for a key whose
 * signatures exceed OVSA_SIG_MAX), keyid of pub (lib/ovsa_pin.h), and,
 * when key is not NULL, the signing context of key, the private half of
 * pub (ovsa_signer_set_key).  Free with ovsa_signer_free().
 */
int ovsa_signer_init(ovsa_signer_t *s, EVP_PKEY *pub, EVP_PKEY *key,
    ovsa_err_t *err);

/*
 * Sets (or replaces) the private key of s, e.g. the key on a token opened
 * by a worker, and prepares its signing context.  s borrows key: it must
 * outlive s or the next call.  OVSA_E_SIG_ALG when key does not fit s's
 * alg.
 */
int ovsa_signer_set_key(ovsa_signer_t *s, EVP_PKEY *key, ovsa_err_t *err);

/* Frees the signing context; s may be zeroed or half set up. */
void ovsa_signer_free(ovsa_signer_t *s);

/*
 * Fills params for signing now with signer: created = now, expires =
 * now + ttl, the signer's keyid and alg; req_digest 0 (ovsa_sig_prepare
 * sets it from the message).
 */
int ovsa_sig_params_init(ovsa_sig_params_t *p, const ovsa_signer_t *signer,
    time_t now, long ttl, ovsa_err_t *err);

/*
 * Writes the Signature-Input field value, NUL-terminated, to
 * out[OVSA_SIG_INPUT_MAX]: ovsa=("@status" ...);created=..;expires=..;
 * keyid="..";alg="..";tag="ovsa-license-v1", with 6 or (p->req_digest)
 * 7 components.
 */
int ovsa_sig_input_field(const ovsa_sig_params_t *p, char *out,
    ovsa_err_t *err);

/*
 * OVSA_OK when p covers "content-digest";req exactly when msg carries the
 * request's Content-Digest, else OVSA_E_SIG_COMPONENTS.
 */
int ovsa_sig_check_components(const ovsa_sig_msg_t *msg,
    const ovsa_sig_params_t *p, ovsa_err_t *err);

/*
 * Builds the RFC 9421 section 2.5 signature base (no trailing newline).
 * Sets *len to the base length; when out is NULL or size < *len it writes
 * nothing and still returns OVSA_OK, so callers size their buffer with a
 * first call.  Fails (OVSA_E_SIG_COMPONENTS) when a covered component is
 * absent, a value holds a character a field line cannot carry, or
 * msg->req_content_digest and p->req_digest disagree.
 */
int ovsa_sig_base(const ovsa_sig_msg_t *msg, const ovsa_sig_params_t *p,
    char *out, size_t size, size_t *len, ovsa_err_t *err);

/*
 * An upper bound of the base length of msg (its content_digest may be
 * absent: a computed one is counted), for sizing the buffer of
 * ovsa_sig_prepare() without a first call.
 */
size_t ovsa_sig_base_max(const ovsa_sig_msg_t *msg);

/*
 * Signing an answer is two steps, so that a signer with a slow key (a
 * hardware token) can run the second in another thread:
 *
 * ovsa_sig_prepare(), the cheap part: the Content-Digest of body into
 * digest[OVSA_DIGEST_FIELD_LEN + 1], the parameters (now, ttl) and the
 * Signature-Input value into input[OVSA_SIG_INPUT_MAX], and the base over
 * msg (whose content_digest is ignored: the computed one is covered;
 * req_content_digest, when present, is covered as the 7th component)
 * into base[base_size], its length in *base_len.  A base_size below the base
 * length fails with OVSA_E_INTERNAL, the needed size in *base_len.
 */
int ovsa_sig_prepare(const ovsa_signer_t *signer, const ovsa_sig_msg_t *msg,
    const void *body, size_t body_len, time_t now, long ttl,
    char *digest, char *input, char *base, size_t base_size,
    size_t *base_len, ovsa_err_t *err);

/*
 * ovsa_sig_finish(), the signature: signs base with the signer's key (a
 * copy of its prepared context) and writes the Signature field value,
 * NUL-terminated, "ovsa=:<base64>:", to sig[OVSA_SIG_FIELD_MAX].  Touches
 * nothing but its arguments: safe in another thread while the signer
 * stays unchanged.  OVSA_E_KEY without a private key.
 */
int ovsa_sig_finish(const ovsa_signer_t *signer, const char *base,
    size_t base_len, char *sig, ovsa_err_t *err);

/*
 * The batch profile (docs/signatures.md, "Batch profile"), a signer whose
 * batch is 1: ovsa_sig_prepare() writes the batch alg into the
 * Signature-Input and the base; the caller hashes each base to its leaf
 * (ovsa_batch_leaf), builds the tree over the leaves of a batch
 * (ovsa_batch_tree_build), and signs its root once:
 *
 * ovsa_sig_batch_sign() signs the root message of root (32 bytes) of a
 * tree of size leaves with the signer's key into raw[OVSA_SIG_MAX], its
 * length in *raw_len.  Thread-safe as ovsa_sig_finish().
 */
int ovsa_sig_batch_sign(const ovsa_signer_t *signer, size_t size,
    const unsigned char *root, unsigned char *raw, size_t *raw_len,
    ovsa_err_t *err);

/*
 * Writes the Signature field value of one answer of a batch, NUL-
 * terminated, to out[OVSA_SIG_BATCH_FIELD_MAX]: the root signature
 * raw[raw_len] and bp (size, index, leaf, root, proof).
 */
int ovsa_sig_batch_field(const unsigned char *raw, size_t raw_len,
    const ovsa_batch_proof_t *bp, char *out, ovsa_err_t *err);

/*
 * Both steps at once: the three header values into digest, input and
 * sig, base/base_size as scratch space (see ovsa_sig_prepare).
 */
int ovsa_sig_sign_response(const ovsa_signer_t *signer,
    const ovsa_sig_msg_t *msg,
    const void *body, size_t body_len, time_t now, long ttl,
    char *base, size_t base_size, size_t *base_len,
    char *digest, char *input, char *sig, ovsa_err_t *err);

/*
 * Parses the Signature-Input and Signature field values (RFC 8941
 * dictionaries) and extracts member "ovsa".  Requires exactly the ovsa
 * covered components in order, the 6 or the 7 (p->req_digest says which;
 * ovsa_sig_verify_parsed then requires what the request sent), and the
 * five parameters.  On OVSA_OK p is filled and sig (OVSA_SIG_MAX bytes),
 * with length *sig_len, holds the raw signature.
 * Errors: OVSA_E_SIG_MISSING (either field or the label absent),
 * OVSA_E_SIG_SYNTAX, OVSA_E_SIG_COMPONENTS, OVSA_E_SIG_TAG,
 * OVSA_E_SIG_ALG (unknown alg name).  A batch alg ("ovsa-batch-" + an
 * alg) sets p->batch and fills p->bp from the parameters of the
 * Signature member; then also OVSA_E_BATCH_ALG (the alg after the prefix
 * is unknown) and OVSA_E_BATCH_PROOF (parameters absent, malformed or out
 * of range).
 */
int ovsa_sig_parse(ovsa_str_t input, ovsa_str_t signature,
    ovsa_sig_params_t *p, unsigned char *sig, size_t *sig_len,
    ovsa_err_t *err);

/*
 * The time window of parsed parameters at time now with clock skew skew
 * seconds: created <= now + skew (else OVSA_E_SIG_CREATED), expires >
 * now - skew (else OVSA_E_SIG_EXPIRED).
 */
int ovsa_sig_check_time(const ovsa_sig_params_t *p, time_t now, long skew,
    ovsa_err_t *err);

/*
 * Verifies a parsed signature (p, sig[sig_len] from ovsa_sig_parse) with
 * the leaf public key pub, at time now with clock skew skew seconds.
 * Checks, in order: the components as msg says (6 without, 7 with the
 * request's Content-Digest: ovsa_sig_check_components, else
 * OVSA_E_SIG_COMPONENTS), alg consistent with pub (OVSA_E_SIG_ALG), keyid
 * equal to pub's keyid (OVSA_E_SIG_KEYID), the time window
 * (ovsa_sig_check_time), then the signature over the base rebuilt from
 * msg and p (OVSA_E_SIG_INVALID).  For the batch profile (p->batch) the
 * last step is instead: the base hashes to the leaf carried
 * (OVSA_E_BATCH_LEAF), the proof leads from it to the root carried
 * (OVSA_E_BATCH_ROOT), and the root signature verifies over the root
 * message (OVSA_E_BATCH_SIG).  The Content-Digest value in msg is
 * checked against the body separately (ovsa_digest_verify).
 */
int ovsa_sig_verify_parsed(EVP_PKEY *pub, const ovsa_sig_msg_t *msg,
    const ovsa_sig_params_t *p, const unsigned char *sig, size_t sig_len,
    time_t now, long skew, ovsa_err_t *err);

/*
 * ovsa_sig_parse() then ovsa_sig_verify_parsed(): verifies the answer's
 * Signature-Input and Signature field values.  out, when not NULL,
 * receives the parsed parameters.
 */
int ovsa_sig_verify(EVP_PKEY *pub, const ovsa_sig_msg_t *msg,
    ovsa_str_t input, ovsa_str_t signature, time_t now, long skew,
    ovsa_sig_params_t *out, ovsa_err_t *err);

/*
 * Returns 1 when s is a valid OVSA-Nonce value: 1..128 characters of the
 * base64url alphabet (A-Z a-z 0-9 - _), else 0.
 */
int ovsa_nonce_valid(const char *s, size_t len);

#endif /* OVSA_HTTPSIG_H */
