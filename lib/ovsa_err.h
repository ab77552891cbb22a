/*
 * ovsa_err.h: the one error convention of libovsa.
 *
 * Every fallible function returns OVSA_OK (0) or OVSA_ERR (-1) and, on
 * error, fills an ovsa_err_t: a stable code (OVSA_E_*, never renumbered,
 * its name is part of the public protocol and CLI output) and a message
 * "<operation>: <reason>".  Library code never prints.
 */

#ifndef OVSA_ERR_H
#define OVSA_ERR_H

#include <stddef.h>

#define OVSA_OK    0
#define OVSA_ERR  -1

/*
 * X(name, http-ish class, short description)
 * Append new codes at the end of their group; never reuse a name.
 */
#define OVSA_ERROR_CODES(X)                                                   \
    X(OVSA_E_NONE,            "no error")                                     \
    X(OVSA_E_INTERNAL,        "internal error")                               \
    X(OVSA_E_NOMEM,           "out of memory")                                \
    X(OVSA_E_IO,              "file could not be read or written")            \
    /* default.yaml */                                                        \
    X(OVSA_E_CONF_SYNTAX,     "malformed YAML")                               \
    X(OVSA_E_CONF_KEY,        "unknown configuration key")                    \
    X(OVSA_E_CONF_TYPE,       "configuration value of the wrong type")        \
    X(OVSA_E_CONF_VALUE,      "configuration value out of range")             \
    X(OVSA_E_CONF_MISSING,    "required configuration key missing")           \
    X(OVSA_E_CONF_FILE,       "configured file missing or unreadable")        \
    /* provisioned identity */                                                \
    X(OVSA_E_PEM,             "malformed PEM or DER input")                   \
    X(OVSA_E_CHAIN_EMPTY,     "no certificate in the chain file")             \
    X(OVSA_E_CHAIN_ORDER,     "chain is not in leaf-to-root order")           \
    X(OVSA_E_CHAIN_ROOT,      "chain does not end in the expected root")      \
    X(OVSA_E_CHAIN_VERIFY,    "chain does not verify")                        \
    X(OVSA_E_CERT_EXPIRED,    "certificate has expired")                      \
    X(OVSA_E_CERT_NOT_YET,    "certificate is not yet valid")                 \
    X(OVSA_E_CERT_EKU,        "certificate lacks the serverAuth EKU")         \
    X(OVSA_E_CERT_POLICY,     "certificate lacks the ovsa policy OID")        \
    X(OVSA_E_KEY,             "private key unreadable or malformed")          \
    X(OVSA_E_KEY_MISMATCH,    "private key does not match the leaf")          \
    X(OVSA_E_KEY_TYPE,        "unsupported key type")                         \
    X(OVSA_E_ROOT,            "expected root unreadable or not a CA")         \
    X(OVSA_E_KEY_MODE,        "private key file open to group or others")     \
    X(OVSA_E_SECRET_MODE,     "secret file open to group or others")          \
    /* response signatures (RFC 9421 / RFC 9530) */                           \
    X(OVSA_E_SIG_MISSING,     "response carries no signature")                \
    X(OVSA_E_SIG_SYNTAX,      "malformed Signature or Signature-Input")       \
    X(OVSA_E_SIG_COMPONENTS,  "signature does not cover required components") \
    X(OVSA_E_SIG_INVALID,     "signature does not verify")                    \
    X(OVSA_E_SIG_EXPIRED,     "signature has expired")                        \
    X(OVSA_E_SIG_CREATED,     "signature created in the future")              \
    X(OVSA_E_SIG_ALG,         "signature algorithm not allowed for the key")  \
    X(OVSA_E_SIG_KEYID,       "signature keyid does not match the chain")     \
    X(OVSA_E_SIG_TAG,         "signature tag is not ovsa's")                  \
    X(OVSA_E_DIGEST_MISSING,  "response carries no Content-Digest")           \
    X(OVSA_E_DIGEST_MISMATCH, "Content-Digest does not match the body")       \
    X(OVSA_E_NONCE,           "answer is bound to another nonce")             \
    X(OVSA_E_TARGET,          "answer is bound to another request target")    \
    X(OVSA_E_TRANSPORT,       "could not reach the license server")           \
    X(OVSA_E_PIN,             "server key matches no pin of the license")     \
    X(OVSA_E_PROTOCOL,        "server answer is not ovsa protocol")           \
    X(OVSA_E_NO_ANCHOR,       "no ISV certificate or vendor root to trust")   \
    X(OVSA_E_MACHINE_KEY,     "machine key is not base64url DER SPKI")        \
    X(OVSA_E_MACHINE_KEY_TYPE, "machine key type not supported")              \
    /* customer licenses (JWS) */                                             \
    X(OVSA_E_LIC_SYNTAX,      "malformed license")                            \
    X(OVSA_E_LIC_SIGNATURE,   "license signature does not verify")            \
    X(OVSA_E_LIC_ISV,         "license signed by an unknown ISV")             \
    X(OVSA_E_LIC_VERSION,     "license version is not newer")                 \
    X(OVSA_E_LIC_ID,          "license id differs")                           \
    X(OVSA_E_LIC_FIELD,       "license field missing or invalid")             \
    X(OVSA_E_CUSTOMER_CERT,   "customer certificate does not match")          \
    X(OVSA_E_LIC_HEADER,      "license JWS header malformed")                 \
    X(OVSA_E_LIC_ALG,         "license algorithm unknown or wrong for key")   \
    X(OVSA_E_LIC_X5C,         "license x5c missing or malformed")             \
    X(OVSA_E_LIC_FORMAT,      "license format version not supported")         \
    X(OVSA_E_LIC_RANGE,       "license value out of range")                   \
    X(OVSA_E_LIC_LIMITS,      "limit required by the license type missing")   \
    X(OVSA_E_LIC_PIN,         "license pin malformed")                        \
    X(OVSA_E_LIC_URL,         "license server URL not https or repeated")     \
    X(OVSA_E_LIC_SERVER,      "server URL not in the license")                \
    X(OVSA_E_LIC_CREDENTIAL,  "license protected by neither secret nor cert") \
    X(OVSA_E_LIC_SECRET,      "license secret is not 43 base64url chars")     \
    X(OVSA_E_LIC_SECRET_MISMATCH, "license secret does not match")            \
    /* hardware key */                                                        \
    X(OVSA_E_P11_MODULE,      "PKCS#11 module could not be loaded")           \
    X(OVSA_E_P11_TOKEN,       "token not present")                            \
    X(OVSA_E_P11_PIN,         "token PIN missing or wrong")                   \
    X(OVSA_E_P11_KEY,         "key not found on the token")                   \
    X(OVSA_E_P11_DEVICE,      "token failed during an operation")             \
    X(OVSA_E_P11_TIMEOUT,     "token did not answer in time")                 \
    X(OVSA_E_P11_BUSY,        "signing queue of the token is full")           \
    /* the license store (backend, Redis) */                                  \
    X(OVSA_E_STORE_NOT_DURABLE, "license store does not persist durably")     \
    X(OVSA_E_REPLICA_ACK,     "replicas did not acknowledge a write in time") \
    /* 12a: batch signatures */                                               \
    X(OVSA_E_BATCH_ALG,       "batch signature alg unknown")                  \
    X(OVSA_E_BATCH_PROOF,     "batch proof malformed or out of range")        \
    X(OVSA_E_BATCH_LEAF,      "answer does not hash to the batch leaf")       \
    X(OVSA_E_BATCH_ROOT,      "batch proof does not lead to the root")        \
    X(OVSA_E_BATCH_SIG,       "batch root signature does not verify")         \
    /* 10: grants (a verified answer kept to be verified offline) */          \
    X(OVSA_E_GRANT_SYNTAX,    "grant file malformed")                         \
    X(OVSA_E_GRANT_SERVER,    "grant from a server the license does not name")\
    X(OVSA_E_GRANT_NONCE,     "grant answers no request this machine made")   \
    X(OVSA_E_GRANT_MACHINE,   "grant is bound to another machine key or hwid")\
    X(OVSA_E_GRANT_EXPIRED,   "grant no longer holds")                        \
    X(OVSA_E_GRANT_DEACTIVATED, "grant of an activation deactivated here")    \
    X(OVSA_E_OFFLINE_REQUEST, "offline request file malformed or misdirected")\
    /* 12c: several keys per license server URL */                            \
    X(OVSA_E_LIC_PIN_SET,     "license pin set empty, too large or repeated") \
    /* 16b: a drop-in that holds */                                           \
    X(OVSA_E_PERMISSION,      "file or socket not accessible to this user")   \
    /* 16d: the usage audit trail */                                          \
    X(OVSA_E_AUDIT_SYNTAX,    "audit entry is not well-formed")               \
    X(OVSA_E_AUDIT_GAP,       "audit entry missing from the chain")           \
    X(OVSA_E_AUDIT_ORDER,     "audit entries out of order")                   \
    X(OVSA_E_AUDIT_HASH,      "audit entry altered (hash mismatch)")          \
    X(OVSA_E_AUDIT_CHECKPOINT, "audit chain differs from a signed checkpoint") \
    X(OVSA_E_AUDIT_CHECKPOINT_SIG, "audit checkpoint signature invalid")

typedef enum {
#define OVSA_X_ENUM(name, desc) name,
    OVSA_ERROR_CODES(OVSA_X_ENUM)
#undef OVSA_X_ENUM
    OVSA_E__COUNT
} ovsa_code_t;

typedef struct {
    int   code;          /* ovsa_code_t */
    char  msg[512];      /* "<operation>: <reason>" */
} ovsa_err_t;

/* Returns the stable name of a code ("OVSA_E_CHAIN_ROOT"); never NULL. */
const char *ovsa_code_name(int code);

/* Returns the one-line description of a code; never NULL. */
const char *ovsa_code_desc(int code);

/*
 * Sets code and a printf-style message; err may be NULL.  Always returns
 * OVSA_ERR so callers can write "return ovsa_err_set(err, ...);".
 */
int ovsa_err_set(ovsa_err_t *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Like ovsa_err_set() but appends ": <reason>" taken from the OpenSSL
 * error queue (which it empties).
 */
int ovsa_err_ssl(ovsa_err_t *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Clears an error (code OVSA_E_NONE, empty message). */
void ovsa_err_clear(ovsa_err_t *err);

/* Constant-time comparison of two byte strings; 1 when equal. */
int ovsa_memeq_ct(const void *a, size_t alen, const void *b, size_t blen);

#endif /* OVSA_ERR_H */
