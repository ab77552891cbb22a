/*
 * fuzz_util.h: what the fuzz targets share: keys and certificates made at
 * start, a private temporary directory, and splitting an input into
 * fields.  Failures here abort: they are bugs of the harness.
 */

#ifndef OVSA_FUZZ_UTIL_H
#define OVSA_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

/* the clock of every target that checks times: 2026-01-01T00:00:00Z */
#define FUZZ_NOW  ((time_t) 1767225600)

/* aborts with a message when cond is false (also in release builds) */
#define FUZZ_ASSERT(cond)                                                     \
    ((cond) ? (void) 0 : fuzz_fail(__FILE__, __LINE__, #cond))

void fuzz_fail(const char *file, int line, const char *what)
    __attribute__((noreturn));

/* a new key: "ED25519", "P-256" or "RSA" (2048 bits) */
EVP_PKEY *fuzz_key(const char *type);

/* a key from PEM text (a fixed test key, so seeds can carry signatures) */
EVP_PKEY *fuzz_key_pem(const char *pem);

/*
 * A self-signed certificate for key, valid around FUZZ_NOW, with EKU
 * serverAuth and the ovsa policy (a license-server leaf that pins trust).
 */
X509 *fuzz_cert(EVP_PKEY *key, const char *cn);

/* A fresh directory under $TMPDIR, removed with its files at exit. */
const char *fuzz_tmpdir(void);

/* Writes len bytes to dir/name (mode 0600); returns the malloc'ed path. */
char *fuzz_write(const char *dir, const char *name, const void *data,
    size_t len);

/*
 * Cuts the next field, up to sep (-1: the rest) or the end, off the input
 * (data, size) into a malloc'ed NUL-terminated string the caller frees;
 * *len, when len is not NULL, is its length.
 */
char *fuzz_field(const uint8_t **data, size_t *size, int sep, size_t *len);

/*
 * s (*len bytes) with every "KEYID" replaced by keyid, so that seeds can
 * name the key id of a key made at start; malloc'ed, *len updated.
 */
char *fuzz_keyid(const char *s, size_t *len, const char *keyid);

#endif /* OVSA_FUZZ_UTIL_H */
