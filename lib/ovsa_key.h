/*
 * ovsa_key.h: the one place for keys and signature algorithms.
 *
 * Key types: RSA of at least 2048 bits, EC P-256 and Ed25519; nothing
 * else signs.  The algorithm follows the key type and the use:
 *
 *   use                    RSA              P-256              Ed25519
 *   answers (RFC 9421)     rsa-pss-sha512   ecdsa-p256-sha256  ed25519
 *   licenses (JWS)         PS256 (RS256)    ES256              EdDSA
 *
 * ECDSA signatures travel as raw r || s in both uses (RFC 9421 section
 * 3.3.4, RFC 7518 section 3.4); OpenSSL speaks DER, the conversion is
 * here.  Private key files: PEM or DER, PKCS#8 or traditional, refused
 * when the file grants any permission to group or others
 * (OVSA_E_KEY_MODE).  Certificates, PEM or DER: lib/ovsa_x509.h.
 */

#ifndef OVSA_KEY_H
#define OVSA_KEY_H

#include <stddef.h>
#include <sys/types.h>

#include <openssl/evp.h>

#include "ovsa_err.h"

#define OVSA_KEY_RSA_MIN_BITS  2048

/* largest raw signature ovsa_alg_sign() writes: RSA up to 16384 bits */
#define OVSA_KEY_SIG_MAX       2048

/* DER ECDSA-Sig-Value of a P-256 signature: at most 72 bytes */
#define OVSA_ECDSA_DER_MAX     80

typedef enum {
    OVSA_KEY_RSA = 1,              /* RSA >= OVSA_KEY_RSA_MIN_BITS */
    OVSA_KEY_P256,                 /* EC on P-256 (prime256v1) */
    OVSA_KEY_ED25519
} ovsa_key_kind_t;

typedef enum {
    OVSA_ALG_HTTPSIG = 1,          /* RFC 9421 answer signatures */
    OVSA_ALG_JWS                   /* RFC 7515 customer licenses */
} ovsa_alg_use_t;

/* One signature algorithm: a static table entry, never freed. */
typedef struct {
    const char       *name;        /* "rsa-pss-sha512", "PS256", ... */
    ovsa_alg_use_t    use;
    ovsa_key_kind_t   kind;        /* the key type it signs with */
    int               md;          /* digest NID; NID_undef for Ed25519 */
    int               padding;     /* RSA: RSA_PKCS1_PSS_PADDING or
                                      RSA_PKCS1_PADDING; else 0 */
    int               saltlen;     /* RSA-PSS salt length */
    size_t            ec_half;     /* ECDSA: bytes of r and of s; else 0 */
    unsigned          preferred:1; /* the one chosen for its key type */
} ovsa_alg_t;


/*
 * Sets *kind for pkey.  Fails with OVSA_E_KEY_TYPE and the reason for
 * anything else: RSA below 2048 bits, other curves, other key types.
 */
int ovsa_key_kind(EVP_PKEY *pkey, ovsa_key_kind_t *kind, ovsa_err_t *err);

/*
 * Returns the algorithm of use for pkey's type (PS256, not RS256, for an
 * RSA key), or NULL with err set (OVSA_E_KEY_TYPE, see ovsa_key_kind).
 */
const ovsa_alg_t *ovsa_alg_for_key(ovsa_alg_use_t use, EVP_PKEY *pkey,
    ovsa_err_t *err);

/* Returns the algorithm of use named name[len], or NULL when unknown. */
const ovsa_alg_t *ovsa_alg_by_name(ovsa_alg_use_t use, const char *name,
    size_t len);

/* Returns 1 when alg signs with keys of pkey's type, else 0. */
int ovsa_alg_fits(const ovsa_alg_t *alg, EVP_PKEY *pkey);

/*
 * Sets up ctx (new or reset) for signing (sign = 1) or verifying with
 * pkey under alg: digest, RSA padding, PSS salt length and MGF1 digest.
 * A context set up once may be copied (EVP_MD_CTX_copy_ex) for each
 * signature.  Fails with OVSA_E_SIG_ALG when alg does not fit pkey.
 */
int ovsa_alg_init(EVP_MD_CTX *ctx, const ovsa_alg_t *alg, EVP_PKEY *pkey,
    int sign, ovsa_err_t *err);

/*
 * Signs len bytes of data with ctx, a context from ovsa_alg_init(sign)
 * or a copy of one (used up by the call), into sig[size]; sets *siglen.
 * ECDSA signatures come out as raw r || s.
 */
int ovsa_alg_sign(EVP_MD_CTX *ctx, const ovsa_alg_t *alg, const void *data,
    size_t len, unsigned char *sig, size_t size, size_t *siglen,
    ovsa_err_t *err);

/*
 * Verifies sig over data with pub under alg (ECDSA: raw r || s).  A
 * signature that does not verify, or a raw ECDSA signature of the wrong
 * size, fails with code bad (OVSA_E_SIG_INVALID, OVSA_E_LIC_SIGNATURE);
 * an alg that does not fit pub with OVSA_E_SIG_ALG.
 */
int ovsa_alg_verify(const ovsa_alg_t *alg, EVP_PKEY *pub, const void *data,
    size_t len, const unsigned char *sig, size_t siglen, int bad,
    ovsa_err_t *err);

/*
 * DER ECDSA-Sig-Value -> r || s, each left-padded to raw_len / 2 bytes.
 * Refuses (OVSA_E_SIG_SYNTAX) input that is not exactly one DER
 * ECDSA-Sig-Value or whose r or s does not fit.
 */
int ovsa_ecdsa_der_to_raw(const unsigned char *der, size_t der_len,
    unsigned char *raw, size_t raw_len, ovsa_err_t *err);

/*
 * r || s (raw_len even, not 0) -> DER ECDSA-Sig-Value in der[size];
 * sets *der_len.  OVSA_E_SIG_SYNTAX for an odd or empty raw_len.
 */
int ovsa_ecdsa_raw_to_der(const unsigned char *raw, size_t raw_len,
    unsigned char *der, size_t size, size_t *der_len, ovsa_err_t *err);

/*
 * The DER SubjectPublicKeyInfo of Ed25519 and P-256 keys is a fixed
 * prefix (RFC 8410, RFC 5480) and the raw key (32 bytes; the uncompressed
 * point, 65 bytes), so these two are written and read here without
 * OpenSSL's encoders and decoders, which cost about 55 and 115 us a call
 * (docs/performance.md "Cost of authentication"): key ids of machine keys
 * are computed on every signed request.
 */
#define OVSA_SPKI_FIXED_MAX  91

/* Writes the DER SPKI of an Ed25519 or P-256 key to
 * out[OVSA_SPKI_FIXED_MAX]; returns its length, or 0 for any other key. */
size_t ovsa_key_spki_fixed(EVP_PKEY *pkey, unsigned char *out);

/* Returns the key of a DER SPKI that is exactly one of those two forms
 * (a valid Ed25519 key; a P-256 point on the curve), else NULL.  The
 * caller frees it. */
EVP_PKEY *ovsa_key_from_spki_fixed(const unsigned char *der, size_t len);

/*
 * The rule for private key files: OVSA_OK when mode grants no permission
 * to group or others (0600, 0400, 0700), else OVSA_E_KEY_MODE with a
 * message naming file and its mode.
 */
int ovsa_key_mode_check(const char *file, mode_t mode, ovsa_err_t *err);

/*
 * Loads a private key file: PEM or DER, PKCS#8 or traditional; an
 * encrypted key only with pass (NULL: unencrypted keys only, never a
 * prompt).  The file must be a regular file that passes
 * ovsa_key_mode_check() (OVSA_E_KEY_MODE) and hold an RSA, EC or Ed25519
 * key (else OVSA_E_KEY_TYPE); other failures are OVSA_E_KEY.  Messages
 * name the file.  The caller frees *out with EVP_PKEY_free().
 */
int ovsa_key_load_pass(const char *file, const char *pass, EVP_PKEY **out,
    ovsa_err_t *err);

/* ovsa_key_load_pass(file, NULL, out, err): an unencrypted key. */
int ovsa_key_load(const char *file, EVP_PKEY **out, ovsa_err_t *err);

#endif /* OVSA_KEY_H */
