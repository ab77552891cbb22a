/*
 * ovsa_p11.h: the server key on a PKCS#11 token (hardware_key: mode).
 *
 * The key never leaves the token.  ovsa_p11_open() checks the module, the
 * token, the PIN and the key one by one through the PKCS#11 module itself
 * (so each failure has its own code), then loads the key through the
 * libp11 OpenSSL engine.  The EVP_PKEY it hands out is an ordinary key for
 * EVP_DigestSign*() and SSL_CTX_use_PrivateKey(): every private-key
 * operation on it is a C_Sign on the token.
 *
 * One successful open per process, in the process that signs (an nginx
 * worker's init_process, never the master: PKCS#11 state does not survive
 * fork).  The libp11 engine cannot be re-initialised in a process, so
 * after a lost token a NEW process re-opens (failed opens do not count).  A handle is not thread-safe: sign from one thread at a time.
 * Any call may block as long as the token does (a stuck device blocks
 * forever); callers that must not hang run it in a thread with their own
 * timeout.  See docs/hardware-key.md.
 */

#ifndef OVSA_P11_H
#define OVSA_P11_H

#include <stddef.h>

#include <openssl/evp.h>

#include "ovsa_err.h"

#define OVSA_P11_ENGINE_PATH \
    "/usr/lib/x86_64-linux-gnu/engines-3/pkcs11.so"

typedef struct ovsa_p11_s  ovsa_p11_t;

/*
 * Opens the private key named by key_uri (RFC 7512, "pkcs11:token=..;
 * object=..;type=private") with the PKCS#11 module at module_path, logging
 * in with pin (the caller owns pin and wipes it afterwards; the engine
 * keeps its own copy, wiped by ovsa_p11_close()).
 *
 * Returns OVSA_OK and a new handle in *out, or OVSA_ERR with err->code:
 *   OVSA_E_P11_MODULE  module missing, not a PKCS#11 module, C_Initialize
 *                      failed for a reason other than a missing device,
 *                      the engine failed, or this process already opened
 *                      the key once
 *   OVSA_E_P11_TOKEN   no present token matches the URI (or the device
 *                      behind the module is unreachable)
 *   OVSA_E_P11_PIN     pin NULL/empty, wrong, or locked
 *   OVSA_E_P11_KEY     malformed URI, no such private key, or the engine
 *                      could not load it
 */
int ovsa_p11_open(const char *module_path, const char *key_uri,
    const char *pin, ovsa_p11_t **out, ovsa_err_t *err);

/*
 * Returns the token key, owned by the handle (do not free; it is valid
 * until ovsa_p11_close()).  EVP_DigestSign() on it signs on the token.
 * Take a reference with EVP_PKEY_up_ref() to hand it to an SSL_CTX.
 */
EVP_PKEY *ovsa_p11_pkey(ovsa_p11_t *h);

/*
 * Cheap liveness check: C_GetSlotInfo + C_GetTokenInfo on the key's slot,
 * and the token must still carry the serial number seen at open.
 * Returns OVSA_OK, or OVSA_ERR with OVSA_E_P11_DEVICE (the module reports
 * a device error: the link to the token is gone) or OVSA_E_P11_TOKEN (the
 * token was removed or replaced).  A handle that failed a probe is dead:
 * later probes and signs return the same error at once without calling
 * the token; close it and re-open in a new process once the token is back.
 */
int ovsa_p11_probe(ovsa_p11_t *h, ovsa_err_t *err);

/*
 * Signs tbs with the token key: EVP_DigestSign with md; for RSA keys
 * rsa_pss selects RSASSA-PSS (salt length = digest length) instead of
 * PKCS#1 v1.5; ignored for EC keys.  On OVSA_OK *sig is an OPENSSL_malloc'd
 * signature of *siglen bytes that the caller frees with OPENSSL_free().
 * On failure the token is probed to classify the error: OVSA_E_P11_DEVICE
 * or OVSA_E_P11_TOKEN when the token is gone (the handle is dead),
 * OVSA_E_P11_DEVICE "sign failed" otherwise.
 */
int ovsa_p11_sign(ovsa_p11_t *h, const EVP_MD *md, int rsa_pss,
    const unsigned char *tbs, size_t tbslen, unsigned char **sig,
    size_t *siglen, ovsa_err_t *err);

/*
 * Releases the key, the engine (which wipes its PIN copy and finalizes the
 * module) and the module.  NULL is allowed.
 */
void ovsa_p11_close(ovsa_p11_t *h);

#endif /* OVSA_P11_H */
