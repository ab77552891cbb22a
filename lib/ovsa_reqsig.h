/*
 * ovsa_reqsig.h: machine signatures on requests (docs/signatures.md,
 * "Request profile").
 *
 * A client holds a machine key pair (Ed25519 or P-256) and sends its
 * public key as the body member "machine_key": base64url without padding
 * of the DER SubjectPublicKeyInfo.  Its keyid is the answers' keyid form
 * (lib/ovsa_pin.h ovsa_keyid_pkey).  A request with a body is signed with
 * it, RFC 9421, in this one profile:
 *
 *   label      ovsa  (request fields Signature-Input and Signature)
 *   covered    "@method" "@path" "content-digest" "ovsa-nonce"
 *   params     created, keyid, alg, tag="ovsa-machine-v1"
 *   alg        ecdsa-p256-sha256 (raw r||s) or ed25519, by the key type
 *              (lib/ovsa_key.h)
 *
 * The parser and base builder are the answers' (lib/ovsa_httpsig.c).
 * Nothing here allocates on the caller's behalf except the EVP_PKEY of
 * ovsa_machine_key_parse().
 */

#ifndef OVSA_REQSIG_H
#define OVSA_REQSIG_H

#include <stddef.h>
#include <time.h>

#include <openssl/evp.h>

#include "ovsa_err.h"
#include "ovsa_httpsig.h"

#define OVSA_REQSIG_TAG        "ovsa-machine-v1"

/* base64url of the DER SPKI of a P-256 key (91 bytes) is 122 characters */
#define OVSA_MACHINE_KEY_MAX   128

/* The covered components of one request, as sent. */
typedef struct {
    ovsa_str_t   method;           /* "POST" */
    ovsa_str_t   path;             /* "@path": the absolute path, no query */
    ovsa_str_t   content_digest;   /* the request's Content-Digest */
    ovsa_str_t   nonce;            /* the request's OVSA-Nonce */
} ovsa_reqsig_msg_t;


/*
 * Parses a machine key: b64[len] is base64url (no padding) of exactly
 * one DER SubjectPublicKeyInfo.  OVSA_E_MACHINE_KEY when it is not that
 * (empty, longer than OVSA_MACHINE_KEY_MAX, not base64url, not DER SPKI,
 * trailing bytes); OVSA_E_MACHINE_KEY_TYPE for a key that is not Ed25519
 * or P-256.  On OVSA_OK the caller frees *out with EVP_PKEY_free().
 */
int ovsa_machine_key_parse(const char *b64, size_t len, EVP_PKEY **out,
    ovsa_err_t *err);

/*
 * The inverse: writes the NUL-terminated machine key of pub (its public
 * half when pub is a private key) to out[size]; size
 * OVSA_MACHINE_KEY_MAX + 1 is always enough.  OVSA_E_MACHINE_KEY_TYPE for
 * a key type that is not Ed25519 or P-256, OVSA_E_INTERNAL when size is
 * too small.
 */
int ovsa_machine_key_encode(EVP_PKEY *pub, char *out, size_t size,
    ovsa_err_t *err);

/*
 * Signs a request with the machine's private key: writes the
 * Signature-Input field value to input[OVSA_SIG_INPUT_MAX + 1] and the
 * Signature field value to sig[OVSA_SIG_FIELD_MAX + 1], both
 * NUL-terminated, with created as "created".  Every component of msg must
 * be present (OVSA_E_SIG_COMPONENTS); OVSA_E_MACHINE_KEY_TYPE for a key
 * that is not Ed25519 or P-256.
 */
int ovsa_reqsig_sign(EVP_PKEY *key, const ovsa_reqsig_msg_t *msg,
    time_t created, char *input, char *sig, ovsa_err_t *err);

/*
 * Verifies a request's Signature-Input and Signature field values with
 * the machine key pub, at time now with clock skew skew seconds.  Checks,
 * in order: both fields and their "ovsa" member present
 * (OVSA_E_SIG_MISSING), well-formed (OVSA_E_SIG_SYNTAX), exactly the
 * request components and parameters (OVSA_E_SIG_COMPONENTS), the tag
 * (OVSA_E_SIG_TAG), an alg that exists and fits pub (OVSA_E_SIG_ALG;
 * OVSA_E_MACHINE_KEY_TYPE for a pub that is not Ed25519 or P-256), keyid
 * equal to pub's (OVSA_E_SIG_KEYID), created not before now - skew
 * (OVSA_E_SIG_EXPIRED) nor after now + skew (OVSA_E_SIG_CREATED), then
 * the signature over the base rebuilt from msg (OVSA_E_SIG_INVALID; an
 * absent component of msg is OVSA_E_SIG_COMPONENTS).  The
 * Content-Digest in msg is checked against the body separately
 * (ovsa_digest_verify).
 */
int ovsa_reqsig_verify(EVP_PKEY *pub, const ovsa_reqsig_msg_t *msg,
    ovsa_str_t input, ovsa_str_t sig, time_t now, long skew,
    ovsa_err_t *err);

/*
 * ovsa_reqsig_verify() for a request made earlier and carried by hand
 * (offline activation, docs/offline.md): created may be up to max_age
 * seconds old (OVSA_E_SIG_EXPIRED beyond), and at most skew ahead.
 */
int ovsa_reqsig_verify_aged(EVP_PKEY *pub, const ovsa_reqsig_msg_t *msg,
    ovsa_str_t input, ovsa_str_t sig, time_t now, long max_age, long skew,
    ovsa_err_t *err);

/* How old an offline request may be when it reaches the server. */
#define OVSA_OFFLINE_REQUEST_MAX_AGE  (30 * 86400)

#endif /* OVSA_REQSIG_H */
