/*
 * ovsa_x509.h: the provisioned identity: certificate chains, keys, and
 * their verification against exactly one trusted root (never the system
 * store).  Used by the module at start, by the client SDK for the signing
 * chain, and by the tools.
 */

#ifndef OVSA_X509_H
#define OVSA_X509_H

#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "ovsa_conf.h"
#include "ovsa_err.h"
#include "ovsa_key.h"

/* Certificate policy of ovsa license-server leaves (a UUID OID, X.667). */
#define OVSA_POLICY_OID  "2.25.62921892084539946696184864784773543139"

#define OVSA_VERIFY_EKU_SERVER   0x01   /* leaf must list serverAuth */
#define OVSA_VERIFY_POLICY       0x02   /* leaf must carry OVSA_POLICY_OID */

/* what a license server leaf must carry, at start and for its clients */
#define OVSA_VERIFY_SERVER  (OVSA_VERIFY_EKU_SERVER | OVSA_VERIFY_POLICY)

/*
 * Loads every certificate of a file, in file order, into a new stack the
 * caller frees with sk_X509_pop_free(chain, X509_free).  The file is PEM
 * (one or more CERTIFICATE blocks) or DER (one or more concatenated
 * certificates).  Any byte that is not a certificate (a truncated block,
 * garbage) is an error: OVSA_E_CHAIN_EMPTY when there is no certificate
 * at all, OVSA_E_PEM otherwise; OVSA_E_IO when the file is unreadable.
 */
int ovsa_chain_load(const char *file, STACK_OF(X509) **out, ovsa_err_t *err);

/* The same, from memory; "what" names the input in messages. */
int ovsa_chain_load_mem(const char *data, size_t len, const char *what,
    STACK_OF(X509) **out, ovsa_err_t *err);

/*
 * Loads a file of exactly one certificate, PEM or DER (else OVSA_E_PEM);
 * the caller frees it with X509_free().
 */
int ovsa_cert_load(const char *file, X509 **out, ovsa_err_t *err);

/*
 * Verifies chain (leaf first, then intermediates; a trailing copy of the
 * root is allowed and ignored) against root only, at time "at" (0: now),
 * with the OVSA_VERIFY_* flags.  A one-certificate chain equal to root is
 * a self-signed identity and verifies.  Errors name the certificate by
 * position and subject.
 */
int ovsa_chain_verify(STACK_OF(X509) *chain, X509 *root, unsigned flags,
    time_t at, ovsa_err_t *err);

/* OVSA_OK when key is the private half of leaf's public key. */
int ovsa_key_match(X509 *leaf, EVP_PKEY *key, ovsa_err_t *err);

/* Writes "CN=..., O=..." of a certificate's subject into buf. */
const char *ovsa_cert_subject(X509 *cert, char *buf, size_t size);

typedef struct {
    STACK_OF(X509)  *chain;   /* leaf first, intermediates; no root */
    X509            *root;
    EVP_PKEY        *key;     /* NULL in hardware-key mode */
    /* 12b: hardware_key.tls_chain/tls_key, else both NULL */
    STACK_OF(X509)  *tls_chain;   /* TLS leaf first, intermediates */
    EVP_PKEY        *tls_key;     /* its software key */
} ovsa_identity_t;

/*
 * Loads and verifies the identity default.yaml names: the chain ends in
 * the configured root, verifies and is within its validity period, the
 * leaf carries what clients require (OVSA_VERIFY_SERVER), and (when not in
 * hardware-key mode) the key matches the leaf.  In hardware-key mode with
 * hardware_key.tls_chain and tls_key, the TLS chain passes the same checks
 * against the same root, its key matches its leaf, and that key is not
 * the signing leaf's (OVSA_E_CONF_VALUE).  Every error names the file and
 * the reason.  Free with ovsa_identity_free().
 */
int ovsa_identity_load(const ovsa_conf_t *conf, ovsa_identity_t *id,
    ovsa_err_t *err);

void ovsa_identity_free(ovsa_identity_t *id);

/*
 * Checks a leaf on its own, for a key that is trusted by a pin rather
 * than by a chain: valid at "at" (0: now; OVSA_E_CERT_EXPIRED,
 * OVSA_E_CERT_NOT_YET) and the OVSA_VERIFY_* flags (OVSA_E_CERT_EKU,
 * OVSA_E_CERT_POLICY).  No issuer is looked at.
 */
int ovsa_leaf_verify(X509 *leaf, unsigned flags, time_t at, ovsa_err_t *err);

#endif /* OVSA_X509_H */
