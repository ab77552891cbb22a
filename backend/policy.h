/*
 * policy.h: the pure decisions of ovsa-backend, with no I/O: what each
 * answer code means (HTTP status, verdict, message), how long a valid
 * answer may be trusted, which identifiers are acceptable, and how a
 * customer-license payload becomes the record stored in Redis.
 * Unit-tested in backend/test/unit_test.c.
 */

#ifndef OVSA_POLICY_H
#define OVSA_POLICY_H

#include <jansson.h>

#include "ovsa_err.h"

#define OVSA_ID_MAX          128     /* license_id, request_id */
#define OVSA_TEXT_MAX        256     /* hwid, client_id */
#define OVSA_LEASE_ID_LEN    32      /* 128 bits in hex */
#define OVSA_CERT_HEX_LEN    64      /* SHA-256 in hex */
#define OVSA_LEASE_MAX       86400   /* longest lease, seconds */
#define OVSA_SERVERS_MAX     8
#define OVSA_PINS_MAX        (OVSA_SERVERS_MAX * 2 * 53)

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

/*
 * Returns the last second at which a valid check answer may be relied on:
 * min(now + sync_interval, expires_at, lease_expires), where 0 means "no
 * such bound" for expires_at and lease_expires.
 */
long ovsa_policy_valid_until(long now, long sync_interval, long expires_at,
    long lease_expires);

/* Returns 1 when s is a license or request id: 1..128 of [A-Za-z0-9._-]. */
int ovsa_policy_id_ok(const char *s);

/* Returns 1 when s is 1..256 printable ASCII characters (hwid, client). */
int ovsa_policy_text_ok(const char *s);

/* Returns 1 when s is exactly len hexadecimal digits. */
int ovsa_policy_hex_ok(const char *s, size_t len);

/* Returns 1 when s is a pin "sha256//" + 44 base64 characters. */
int ovsa_policy_pin_ok(const char *s);

/* Returns 1 when type is one of the five license types. */
int ovsa_policy_type_ok(const char *type);

/*
 * The license record kept in Redis, taken from a verified payload.
 * String members point into the payload (valid while it lives), except
 * cert and pins which are copied (cert lower-cased).
 */
typedef struct {
    const char  *id;
    long         version;
    long         issued_at;
    const char  *type;
    const char  *product;
    const char  *customer;
    long         expires_at;        /* 0: none */
    long         usage;             /* 0: not limited / not applicable */
    long         max_activations;
    long         seats;
    long         lease_seconds;
    int          require_hw;
    long         sync_interval;
    char         cert[OVSA_CERT_HEX_LEN + 1];   /* "" when not bound */
    char         pins[OVSA_PINS_MAX + 1];       /* space-separated */
} ovsa_record_t;

/*
 * Fills rec from a customer-license payload (the decoded JWS payload
 * object), checking every field the backend enforces: types, ranges and
 * the limits each license type needs.  Returns OVSA_OK, or OVSA_ERR with
 * err->code OVSA_E_LIC_FIELD and a message naming the field.
 */
int ovsa_policy_record(json_t *payload, ovsa_record_t *rec, ovsa_err_t *err);

#endif /* OVSA_POLICY_H */
