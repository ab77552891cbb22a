/*
 * policy.c: pure decisions of ovsa-backend (see policy.h).
 */

#include <ctype.h>
#include <string.h>

#include "policy.h"


static const ovsa_policy_code_t  ovsa_policy_codes[] = {
    { "OK",                     200, "valid",  "ok" },
    { "UNKNOWN_LICENSE",        404, "denied", "license is not known" },
    { "LICENSE_REVOKED",        403, "denied", "license has been revoked" },
    { "LICENSE_EXPIRED",        403, "denied", "license has expired" },
    { "USAGE_EXHAUSTED",        403, "denied", "no usage left" },
    { "HWID_NOT_ACTIVATED",     403, "denied",
      "license is not activated for this hwid" },
    { "LEASE_UNKNOWN",          403, "denied",
      "lease is not held (expired, released or never issued)" },
    { "HARDWARE_KEY_REQUIRED",  403, "denied",
      "this server only serves licenses that require a hardware key" },
    { "CUSTOMER_CERT_MISMATCH", 403, "denied",
      "client certificate does not match the license's customer" },
    { "LICENSE_PROOF_REQUIRED", 401, "error",
      "the license secret is required (Authorization: License <secret>)" },
    { "LICENSE_PROOF_INVALID",  403, "denied",
      "the license secret is wrong" },
    { "LICENSE_UNPROTECTED",    403, "denied",
      "the stored license has neither a secret nor a customer "
      "certificate: import a license re-issued with one" },
    { "MACHINE_PROOF_REQUIRED", 401, "error",
      "this operation needs machine_key and a request signature made "
      "with it" },
    { "MACHINE_SIGNATURE_INVALID", 401, "error",
      "the request signature does not verify with machine_key" },
    { "MACHINE_KEY_MISMATCH",   403, "denied",
      "the activation or lease belongs to another machine key" },
    { "DEACTIVATION_LIMIT",     409, "denied",
      "the license's deactivations for this period are used up" },
    { "MAX_ACTIVATIONS",        409, "denied",
      "all activations of the license are in use" },
    { "NO_SEATS",               409, "denied",
      "all seats of the license are held" },
    { "ACTIVATION_UNKNOWN",     404, "denied",
      "license is not activated for this hwid" },
    { "WRONG_LICENSE_TYPE",     400, "error",
      "operation does not apply to this license type" },
    { "BAD_JSON",               400, "error", "body is not a JSON object" },
    { "BAD_FIELD",              400, "error", "field missing or invalid" },
    { "BODY_TOO_LARGE",         413, "error", "request body too large" },
    { "DIGEST_REQUIRED",        400, "error",
      "a request with a body needs one Content-Digest of that body" },
    { "DIGEST_MISMATCH",        400, "error",
      "Content-Digest does not match the request body" },
    { "NOT_FOUND",              404, "error", "no such route" },
    { "METHOD_NOT_ALLOWED",     405, "error", "method not allowed" },
    { "UNAUTHORIZED",           401, "error", "missing or wrong admin token" },
    { "CERT_HEADER_UNTRUSTED",  403, "error",
      "X-OVSA-Client-Cert-SHA256 is only accepted from nginx over the "
      "backend's unix socket" },
    { "LICENSE_INVALID",        400, "error", "license is not valid" },
    { "LICENSE_UNTRUSTED",      403, "error",
      "license is not signed by a configured ISV certificate" },
    { "VERSION_NOT_NEWER",      409, "error",
      "stored license version is the same or newer" },
    { "STORE_UNAVAILABLE",      503, "error", "license store unavailable" },
    { "STORE_NOT_DURABLE",      503, "error",
      "the license store does not persist durably: state-changing "
      "operations are refused" },
    { "REPLICA_ACK_TIMEOUT",    503, "error",
      "the change was made but not acknowledged by enough replicas in "
      "time: retry with the same request_id to learn its outcome" },
    { "INTERNAL",               500, "error", "internal error" },
    /* docs/offline.md */
    { "BORROW_NOT_ALLOWED",     403, "denied",
      "the license does not lend seats (no max_borrow)" },
    { "LEASE_BORROWED",         409, "denied",
      "a borrowed lease is not renewed: check it in and borrow again" },
    { "OFFLINE_NOT_ALLOWED",    403, "denied",
      "the license is not activated offline (no max_offline)" },
    { "OFFLINE_REQUEST_REPLAYED", 409, "denied",
      "this offline request was answered before and its activation no "
      "longer stands" },
    /* 16b: admin hygiene */
    { "ADMIN_THROTTLED",        429, "error",
      "too many wrong admin tokens from this address: try again after "
      "Retry-After seconds" },
    /* 16d: the audit trail (docs/audit.md) */
    { "AUDIT_CHAIN_INVALID",    409, "error",
      "the license's audit trail does not verify (the message gives the "
      "entry and OVSA_E_AUDIT_* code): no head is given for it" },
    { "AUDIT_CHECKPOINT_MISMATCH", 409, "error",
      "the checkpoint does not state the chain's entry at its seq" },
    { NULL, 0, NULL, NULL }
};

const ovsa_policy_code_t *
ovsa_policy_code(const char *code)
{
    const ovsa_policy_code_t  *c;

    if (code == NULL) {
        return NULL;
    }

    for (c = ovsa_policy_codes; c->code != NULL; c++) {
        if (strcmp(c->code, code) == 0) {
            return c;
        }
    }

    return NULL;
}


/* 16c: the i-th entry of the code table (metrics labels), NULL past it */
const ovsa_policy_code_t *
ovsa_policy_code_at(size_t i)
{
    if (i >= sizeof(ovsa_policy_codes) / sizeof(ovsa_policy_codes[0]) - 1) {
        return NULL;
    }

    return &ovsa_policy_codes[i];
}


long
ovsa_policy_valid_until(long now, long sync_interval, long expires_at,
    long lease_expires)
{
    long  until;

    until = now + sync_interval;

    if (expires_at > 0 && expires_at < until) {
        until = expires_at;
    }

    if (lease_expires > 0 && lease_expires < until) {
        until = lease_expires;
    }

    return until;
}


int
ovsa_policy_text_ok(const char *s)
{
    size_t  n;

    for (n = 0; s[n] != '\0'; n++) {
        if ((unsigned char) s[n] < 0x20 || (unsigned char) s[n] > 0x7e) {
            return 0;
        }
    }

    return n >= 1 && n <= OVSA_TEXT_MAX;
}


int
ovsa_policy_hex_ok(const char *s, size_t len)
{
    size_t  n;

    for (n = 0; s[n] != '\0'; n++) {
        if (!isxdigit((unsigned char) s[n])) {
            return 0;
        }
    }

    return n == len;
}
