/*
 * policy.h: the pure decisions of ovsa-backend, with no I/O: what each
 * answer code means (HTTP status, verdict, message), how long a valid
 * answer may be trusted, and the syntax of the request fields that are
 * the backend's own (hwid, client_id, lease_id, the client-certificate
 * hash).  Every license rule, license ids and pins included, is
 * lib/ovsa_license's and lib/ovsa_pin's.  Unit-tested in
 * backend/test/unit_test.c.
 */

#ifndef OVSA_POLICY_H
#define OVSA_POLICY_H

#include <stddef.h>

#define OVSA_TEXT_MAX        256     /* hwid, client_id */
#define OVSA_LEASE_ID_LEN    32      /* 128 bits in hex */
#define OVSA_CERT_HEX_LEN    64      /* SHA-256 in hex */

typedef struct {
    const char  *code;      /* "OK", "LICENSE_REVOKED", ... */
    int          status;    /* HTTP status */
    const char  *verdict;   /* "valid", "denied" or "error" */
    const char  *message;   /* default human-readable message */
} ovsa_policy_code_t;

/*
 * Returns the table entry of an answer code, or NULL when the code is not
 * one of the protocol's codes.  The entry is static.
 */
const ovsa_policy_code_t *ovsa_policy_code(const char *code);

/* The i-th entry of the code table (0-based), NULL past its end. */
const ovsa_policy_code_t *ovsa_policy_code_at(size_t i);

/*
 * Returns the last second at which a valid check answer may be relied on:
 * min(now + sync_interval, expires_at, lease_expires), where 0 means "no
 * such bound" for expires_at and lease_expires.
 */
long ovsa_policy_valid_until(long now, long sync_interval, long expires_at,
    long lease_expires);

/* Returns 1 when s is 1..256 printable ASCII characters (hwid, client). */
int ovsa_policy_text_ok(const char *s);

/* Returns 1 when s is exactly len hexadecimal digits. */
int ovsa_policy_hex_ok(const char *s, size_t len);

#endif /* OVSA_POLICY_H */
