/*
 * ovsa_license.h: the customer license, a JWS in flattened JSON
 * serialization (RFC 7515 section 7.2.2) signed by the ISV key:
 *
 *   {"protected": b64url(header), "payload": b64url(payload),
 *    "signature": b64url(signature)}
 *
 * header  = {"alg": "RS256"|"PS256"|"ES256"|"EdDSA",
 *            "typ": "ovsa-license+jws", "x5c": [std-b64 DER ISV cert]}
 * payload = {"ovsa": 1, "license_id", "version", "issued_at",
 *            "customer": {"name", "cert_sha256"|null,
 *                         "secret_sha256"|null}, "product", "type",
 *            "limits": {"usage", "max_activations", "seats",
 *                       "lease_seconds", "deactivations"|null,
 *                       "deactivation_period"|null,
 *                       ["max_borrow"|null], ["max_offline"|null]},
 *            "require_hardware_key",
 *            "sync_interval", "expires_at"|null,
 *            "servers": [{"url", "pins": {"current", "future"|null}}]}
 *
 * Format 2 ("ovsa": 2) is the same payload except that each server's
 * "pins" is a set: an array of 1..OVSA_LICENSE_MAX_PINS distinct pins,
 * any of which may serve the URL (a fleet with one key per server behind
 * one load-balanced URL).  Both formats parse into the same pin set.
 *
 * The format, every field and the update rules: docs/license-format.md.
 * Parsing verifies the signature against the certificate in x5c; whether
 * that certificate belongs to a trusted ISV is a separate question
 * (ovsa_license_trusted()).
 */

#ifndef OVSA_LICENSE_H
#define OVSA_LICENSE_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "ovsa_err.h"

#define OVSA_LICENSE_TYP         "ovsa-license+jws"
#define OVSA_LICENSE_FORMAT      1           /* the payload's "ovsa" */
#define OVSA_LICENSE_FORMAT_SET  2           /* "pins" is an array */
#define OVSA_LICENSE_MAX_PINS    8           /* keys per server URL */
#define OVSA_LICENSE_MAX_SIZE    (256 * 1024) /* bytes of JWS text */
#define OVSA_LICENSE_MAX_SERVERS 16
#define OVSA_LICENSE_ID_MAX      128         /* [A-Za-z0-9._-], 1..128 */
#define OVSA_LICENSE_NAME_MAX    256         /* product, customer name */
#define OVSA_LICENSE_URL_MAX     2048
#define OVSA_LICENSE_SYNC_MIN    300
#define OVSA_LICENSE_SYNC_MAX    86400
#define OVSA_LICENSE_DEACT_PERIOD_MIN  3600      /* 1 hour */
#define OVSA_LICENSE_DEACT_PERIOD_MAX  31536000  /* 365 days */
/* limits.max_borrow (floating) and limits.max_offline (node-locked),
 * optional: docs/offline.md */
#define OVSA_LICENSE_BORROW_MIN        60        /* a lease's minimum */
#define OVSA_LICENSE_BORROW_MAX        2592000   /* 30 days */
#define OVSA_LICENSE_OFFLINE_MIN       3600      /* 1 hour */
#define OVSA_LICENSE_OFFLINE_MAX       31536000  /* 365 days */

/*
 * The license secret: 32 random bytes as base64url without padding (43
 * characters).  The license carries only customer.secret_sha256, the
 * lower-case hex SHA-256 of those 43 ASCII characters; the holder sends
 * the secret as "Authorization: License <secret>".
 */
#define OVSA_LICENSE_SECRET_BYTES  32
#define OVSA_LICENSE_SECRET_LEN    43        /* OVSA_B64URL_LEN(32) */
/* how a client presents it: "Authorization: License <secret>" */
#define OVSA_LICENSE_AUTH_SCHEME   "License "

typedef enum {
    OVSA_LIC_PERPETUAL = 1,
    OVSA_LIC_TIME_LIMITED,
    OVSA_LIC_USAGE_COUNT,
    OVSA_LIC_NODE_LOCKED,
    OVSA_LIC_FLOATING
} ovsa_license_type_t;

/*
 * One server URL and the set of keys that may serve it.  Format 1:
 * pins[0] is "current", pins[1] "future" when set and not equal to
 * current.  Format 2: the "pins" array in its order.
 */
typedef struct {
    char        *url;             /* "https://..." */
    char        *pins[OVSA_LICENSE_MAX_PINS]; /* "sha256//<44 b64>" */
    size_t       npins;           /* 1..OVSA_LICENSE_MAX_PINS */
} ovsa_license_server_t;

typedef struct {
    int64_t      usage;           /* 0 when null/unset */
    int64_t      max_activations;
    int64_t      seats;
    int64_t      lease_seconds;
    int64_t      max_borrow;      /* floating: longest borrow, s; 0: none */
    int64_t      max_offline;     /* node-locked: how long an offline
                                     activation holds, s; 0: none */
} ovsa_license_limits_t;

typedef struct {
    int                     format;         /* "ovsa": 1 or 2 */
    char                   *id;
    int64_t                 version;        /* >= 1 */
    int64_t                 issued_at;      /* unix seconds */
    char                   *customer_name;
    char                   *customer_cert_sha256; /* 64 lower hex or NULL */
    char                    secret_sha256[65];    /* 64 lower hex, or ""
                                                     when null */
    char                   *product;
    ovsa_license_type_t     type;
    ovsa_license_limits_t   limits;
    long                    deactivations;        /* >= 0, -1 when null */
    long                    deactivation_period;  /* seconds, -1 when null */
    int                     require_hardware_key;
    int64_t                 sync_interval;  /* seconds, 300..86400 */
    int64_t                 expires_at;     /* unix seconds, 0 = none */
    ovsa_license_server_t  *servers;
    size_t                  nservers;       /* >= 1 */

    char                   *alg;            /* JWS "alg" */
    char                   *jws;            /* the JWS text as parsed */
    char                   *payload;        /* decoded payload JSON */
    X509                   *signer;         /* x5c[0] */
} ovsa_license_t;

/*
 * Parses a license (JWS text of len bytes, need not be NUL-terminated),
 * validates every payload field and verifies the signature with the key of
 * the x5c certificate.  Does not decide whether the signer is trusted.
 * Returns OVSA_OK and a new license in *out (free with
 * ovsa_license_free()), or OVSA_ERR with err set:
 *   OVSA_E_LIC_SYNTAX     not a flattened JWS JSON object, bad base64url,
 *                         payload not a JSON object, too large
 *   OVSA_E_LIC_HEADER     protected header malformed, typ wrong, crit or
 *                         an unprotected "header" present
 *   OVSA_E_LIC_ALG        alg unknown or not usable with the signer's key
 *   OVSA_E_LIC_X5C        x5c missing or not exactly one DER certificate
 *   OVSA_E_LIC_SIGNATURE  signature does not verify
 *   OVSA_E_LIC_FORMAT     "ovsa" is not 1
 *   OVSA_E_LIC_FIELD      a field missing, unknown or of the wrong type
 *   OVSA_E_LIC_RANGE      a value out of range (version, sync_interval...)
 *   OVSA_E_LIC_LIMITS     the limit the license type needs is not set,
 *                         or only one of deactivations and
 *                         deactivation_period is set
 *   OVSA_E_LIC_CREDENTIAL neither customer.cert_sha256 nor
 *                         customer.secret_sha256 is set
 *   OVSA_E_LIC_PIN        a pin is not "sha256//" + 44 base64 chars
 *   OVSA_E_LIC_PIN_SET    format 2: a server's pin set is empty, holds
 *                         more than OVSA_LICENSE_MAX_PINS pins or one
 *                         pin twice
 *   OVSA_E_LIC_URL        a server URL is not https, or is repeated
 * (and OVSA_E_NOMEM / OVSA_E_INTERNAL).  The message names the field
 * ("license: servers[1].pins.current: not ...").  err may be NULL.
 */
int ovsa_license_parse(const char *jws, size_t len, ovsa_license_t **out,
    ovsa_err_t *err);

/*
 * Returns OVSA_OK when the signer's public key (DER SubjectPublicKeyInfo)
 * equals the key of one of the n certificates in isv, else OVSA_ERR with
 * OVSA_E_LIC_ISV.
 */
int ovsa_license_trusted(const ovsa_license_t *lic, X509 **isv, int n,
    ovsa_err_t *err);

/*
 * Returns OVSA_OK when next may replace cur: same license id (else
 * OVSA_E_LIC_ID), higher version (else OVSA_E_LIC_VERSION) and the same
 * signer key (else OVSA_E_LIC_ISV).  Both must come from
 * ovsa_license_parse().
 */
int ovsa_license_check_update(const ovsa_license_t *cur,
    const ovsa_license_t *next, ovsa_err_t *err);

/*
 * Signs payload_json (a JSON object following the format) with key, whose
 * certificate cert goes into x5c.  The algorithm follows the key: PS256
 * for RSA (>= 2048 bits), ES256 for P-256, EdDSA for Ed25519.  The payload
 * is re-serialized compactly, and the result is parsed back, so an invalid
 * payload fails with the code ovsa_license_parse() would give.
 * Returns OVSA_OK and a NUL-terminated JWS JSON text in *out_jws (free with
 * free()), or OVSA_ERR: OVSA_E_KEY_MISMATCH when key is not cert's key,
 * OVSA_E_LIC_ALG for an unusable key, or a parse code.
 */
int ovsa_license_sign(const char *payload_json, EVP_PKEY *key, X509 *cert,
    char **out_jws, ovsa_err_t *err);

/* Like ovsa_license_sign() with an explicit JWS alg ("RS256", "PS256",
 * "ES256", "EdDSA"); NULL picks the default for the key. */
int ovsa_license_sign_alg(const char *payload_json, EVP_PKEY *key,
    X509 *cert, const char *alg, char **out_jws, ovsa_err_t *err);

/*
 * Reads and parses the license file at path.  Returns OVSA_OK and *out
 * (free with ovsa_license_free()), or OVSA_ERR: OVSA_E_IO when the file
 * cannot be read, or a parse code.
 */
int ovsa_license_load_file(const char *path, ovsa_license_t **out,
    ovsa_err_t *err);

/*
 * Writes the JWS text jws (e.g. lic->jws, or the output of
 * ovsa_license_sign()) plus a newline to path, mode 0644 or the mode of
 * the file it replaces (OVSA_FILE_KEEPMODE), through a temporary file in
 * the same directory, fsync and rename: the old file survives any
 * failure.  Returns OVSA_OK or OVSA_ERR with OVSA_E_IO.
 */
int ovsa_license_save_file(const char *path, const char *jws,
    ovsa_err_t *err);

/*
 * Writes a new license secret to out: 32 bytes of RAND_bytes() as
 * base64url without padding, 43 characters and a NUL.  Returns OVSA_OK,
 * or OVSA_ERR with OVSA_E_INTERNAL when the random generator fails.
 * The caller wipes out (OPENSSL_cleanse) when done.
 */
int ovsa_license_secret_new(char out[OVSA_LICENSE_SECRET_LEN + 1],
    ovsa_err_t *err);

/*
 * Writes the lower-case hex SHA-256 of the len characters of secret s to
 * hex (64 digits and a NUL): the license's customer.secret_sha256.
 * Anything but exactly 43 base64url characters (canonical: the last one
 * carries no stray bits) is refused with OVSA_E_LIC_SECRET, whose message
 * never contains the secret.  s need not be NUL-terminated.
 */
int ovsa_license_secret_hash(const char *s, size_t len,
    char hex[65], ovsa_err_t *err);

/*
 * Reads a license secret from the first line of file (through
 * ovsa_secret_read_file(): a file group or others may access is refused
 * with OVSA_E_SECRET_MODE) into out (43 characters and a NUL).  Returns
 * OVSA_OK, or OVSA_ERR with OVSA_E_IO, OVSA_E_SECRET_MODE or
 * OVSA_E_LIC_SECRET (not a secret's syntax).
 */
int ovsa_license_secret_read(const char *file,
    char out[OVSA_LICENSE_SECRET_LEN + 1], ovsa_err_t *err);

/*
 * Returns OVSA_OK when the len characters of secret hash to the license's
 * customer.secret_sha256 (compared in constant time).  Else OVSA_ERR:
 * OVSA_E_LIC_SECRET when secret is not a secret's syntax,
 * OVSA_E_LIC_SECRET_MISMATCH when it does not match or the license has
 * no secret.
 */
int ovsa_license_secret_match(const ovsa_license_t *lic, const char *secret,
    size_t len, ovsa_err_t *err);

/*
 * The pin-set rule of a server URL (format 2 "pins", and any set a tool
 * is about to write): 1..OVSA_LICENSE_MAX_PINS pins, each
 * ovsa_pin_valid() (else OVSA_E_LIC_PIN), none twice (else
 * OVSA_E_LIC_PIN_SET; also for an empty or too large set).  what names
 * the set in messages ("servers[0].pins").  Returns OVSA_OK or OVSA_ERR.
 */
int ovsa_license_pins_check(const char *const *pins, size_t n,
    const char *what, ovsa_err_t *err);

/* Returns 1 when pin is one of the pins of server s, else 0. */
int ovsa_license_server_pinned(const ovsa_license_server_t *s,
    const char *pin);

/* Frees a license and everything it holds; lic may be NULL. */
void ovsa_license_free(ovsa_license_t *lic);

/*
 * Returns 1 when id is a license id: 1..OVSA_LICENSE_ID_MAX characters of
 * [A-Za-z0-9._-], else 0 (also for NULL).  The one rule for license ids,
 * in licenses and in every request that names a license.
 */
int ovsa_license_id_valid(const char *id);

/* Returns the payload name of a type ("node-locked"), or NULL. */
const char *ovsa_license_type_name(ovsa_license_type_t type);

/* Returns the type named name, or 0 when the name is unknown. */
ovsa_license_type_t ovsa_license_type_from_name(const char *name);

/* Returns the JWS alg the signer of a key defaults to ("PS256", "ES256",
 * "EdDSA"), or NULL when the key cannot sign licenses. */
const char *ovsa_license_default_alg(EVP_PKEY *key);

#endif /* OVSA_LICENSE_H */
