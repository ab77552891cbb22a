/*
 * ovsa_pin.h: public-key pins, SHA-256 over the DER SubjectPublicKeyInfo,
 * written "sha256//<base64>" (curl --pinnedpubkey, RFC 7469).  A renewed
 * certificate with the same key keeps its pin.  The signature keyid is the
 * same hash in base64url without padding.
 */

#ifndef OVSA_PIN_H
#define OVSA_PIN_H

#include <openssl/x509.h>

#include "ovsa_err.h"

#define OVSA_PIN_PREFIX  "sha256//"
#define OVSA_PIN_LEN     (sizeof(OVSA_PIN_PREFIX) - 1 + 44)   /* 52 */
#define OVSA_KEYID_LEN   43

/* Writes the NUL-terminated pin of pkey to out[OVSA_PIN_LEN + 1]. */
int ovsa_pin_pkey(EVP_PKEY *pkey, char *out, ovsa_err_t *err);

/* Writes the pin of a certificate's public key. */
int ovsa_pin_cert(X509 *cert, char *out, ovsa_err_t *err);

/* Writes the NUL-terminated keyid of pkey to out[OVSA_KEYID_LEN + 1]. */
int ovsa_keyid_pkey(EVP_PKEY *pkey, char *out, ovsa_err_t *err);

/*
 * Returns 1 when pin is well-formed, else 0 (also for NULL): "sha256//"
 * followed by the padded standard base64 of 32 bytes, i.e. 43 characters
 * of the base64 alphabet, the last one with its two low bits zero, then
 * '='.  The one pin-syntax rule of licenses, the backend and the SDK.
 */
int ovsa_pin_valid(const char *pin);

/* Returns 1 when pin (any case of the prefix) equals cert's pin, else 0;
 * the comparison is constant-time. */
int ovsa_pin_match(X509 *cert, const char *pin);

#endif /* OVSA_PIN_H */
