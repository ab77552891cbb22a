/*
 * ovsa.h: the high-level client SDK of an ovsa license server: protect a
 * program in a few lines (docs/sdk.md).
 *
 *     ovsa_sdk_conf_t    conf = { .license = "widget.lic",
 *                                 .isv = "isv.crt",
 *                                 .state_dir = "/var/lib/widget/ovsa" };
 *     ovsa_sdk_status_t  st;
 *     ovsa_sdk_t        *lic = ovsa_sdk_open(&conf, &st);
 *
 *     if (lic == NULL || !ovsa_sdk_activate(lic, &st)
 *         || !ovsa_sdk_check(lic, &st))
 *     {
 *         ... st.code_name says why; stop ...
 *     }
 *
 * Every operation is one verified request (ovsa_client.h: pins, answer
 * signature, nonce, the license's servers in order) and fills a status:
 * allowed or not, the stable code, until when.  A verified answer is
 * saved in the state directory; when no server can give one (transport
 * error, 5xx, an answer that fails verification) the saved answer of
 * the same operation allows the program until its valid_until, never
 * beyond, and the status says so (cached = 1, code OFFLINE).
 *
 * Threads: one handle may be used from any number of threads; each call
 * holds the handle's mutex for its whole request.  The lease heartbeat
 * thread takes the same mutex.  A lease callback runs on the heartbeat
 * thread and must not call ovsa_sdk_close() or ovsa_sdk_lease_release()
 * on its handle (they refuse with LOCAL_ERROR there); any other call is
 * allowed.
 *
 * Link: pkg-config --cflags --libs ovsa-client (libovsa-client.so.1).
 */

#ifndef OVSA_H
#define OVSA_H

#include <stddef.h>
#include <time.h>

#include "ovsa_client.h"

#ifdef __cplusplus
extern "C" {
#endif

#pragma GCC visibility push(default)

/*
 * The codes of a status: first the SDK's own, then the server's
 * (docs/protocol.md "Codes and HTTP statuses").  A code the SDK does not
 * know is OVSA_SDK_OTHER; code_name then still holds its name.  Never
 * renumbered: append only.
 */
#define OVSA_SDK_CODES(X)                                                     \
    X(OK)                                                                     \
    X(OFFLINE)             /* no server answered; the saved answer allows */ \
    X(OFFLINE_EXPIRED)     /* no server answered; saved answer expired   */ \
    X(UNREACHABLE)         /* no server answered; nothing saved          */ \
    X(UNVERIFIED)          /* an answer failed verification; nothing saved */\
    X(CLOCK_BACK)          /* local time earlier than a trusted time seen */ \
    X(LEASE_LOST)          /* the lease expired: heartbeats unanswered    */ \
    X(NO_LEASE)            /* heartbeat/release without a lease           */ \
    X(LOCAL_ERROR)         /* files, keys, configuration: see message    */  \
    X(OTHER)               /* a server code this SDK does not know        */ \
    X(UNKNOWN_LICENSE)                                                        \
    X(LICENSE_REVOKED)                                                        \
    X(LICENSE_EXPIRED)                                                        \
    X(USAGE_EXHAUSTED)                                                        \
    X(HWID_NOT_ACTIVATED)                                                     \
    X(LEASE_UNKNOWN)                                                          \
    X(HARDWARE_KEY_REQUIRED)                                                  \
    X(CUSTOMER_CERT_MISMATCH)                                                 \
    X(LICENSE_PROOF_REQUIRED)                                                 \
    X(LICENSE_PROOF_INVALID)                                                  \
    X(LICENSE_UNPROTECTED)                                                    \
    X(MACHINE_PROOF_REQUIRED)                                                 \
    X(MACHINE_SIGNATURE_INVALID)                                              \
    X(MACHINE_KEY_MISMATCH)                                                   \
    X(DEACTIVATION_LIMIT)                                                     \
    X(MAX_ACTIVATIONS)                                                        \
    X(NO_SEATS)                                                               \
    X(ACTIVATION_UNKNOWN)                                                     \
    X(WRONG_LICENSE_TYPE)                                                     \
    X(BAD_JSON)                                                               \
    X(BAD_FIELD)                                                              \
    X(BODY_TOO_LARGE)                                                         \
    X(DIGEST_REQUIRED)                                                        \
    X(DIGEST_MISMATCH)                                                        \
    X(NOT_FOUND)                                                              \
    X(METHOD_NOT_ALLOWED)                                                     \
    X(STORE_UNAVAILABLE)                                                      \
    X(INTERNAL)                                                               \
    X(STORE_NOT_DURABLE)                                                      \
    X(REPLICA_ACK_TIMEOUT)

#define OVSA_SDK_X_ENUM(name)  OVSA_SDK_##name,
typedef enum {
    OVSA_SDK_CODES(OVSA_SDK_X_ENUM)
    OVSA_SDK__COUNT
} ovsa_sdk_code_t;
#undef OVSA_SDK_X_ENUM

/* What one operation decided.  Plain data: no freeing. */
typedef struct {
    int              allowed;       /* 1: the program may run (or the
                                       operation was done) */
    ovsa_sdk_code_t  code;
    char             code_name[64]; /* "OK", "OFFLINE", "NO_SEATS", ... */
    char             message[512];  /* why, for people; "" with OK */
    long long        valid_until;   /* unix s the answer may be relied on
                                       until; 0: none (activate, ...) */
    long long        server_time;   /* the answer's (or saved answer's) */
    int              cached;        /* 1: from the state directory */
    int              verified;      /* 1: a verified server answer */
    int              error;         /* ovsa_code_t (OVSA_E_*) of a local
                                       or transport failure, else 0 */
    char             lease_id[64];  /* leases: the lease, "" when none */
    long long        lease_expires;
    long long        usage_remaining; /* usage-count; -1 when absent */
    long long        retry_at;      /* DEACTIVATION_LIMIT; 0 when absent */
} ovsa_sdk_status_t;

typedef struct ovsa_sdk_s  ovsa_sdk_t;

/*
 * Called on the heartbeat thread when the lease is lost: the server
 * refused a heartbeat (LEASE_UNKNOWN: released by the operator, expired,
 * or another verified refusal) or no heartbeat was answered before the
 * lease expired (LEASE_LOST).  st->allowed is 0.  The heartbeat thread
 * ends after the call.
 */
typedef void (*ovsa_sdk_lease_cb)(ovsa_sdk_t *lic,
    const ovsa_sdk_status_t *st, void *arg);

typedef struct {
    const char  *license;       /* customer license file (JWS); required;
                                   replaced by a verified newer version */
    const char  *isv;           /* ISV certificate the license must be
                                   signed by; isv or root required */
    const char  *root;          /* vendor root, or NULL */
    const char  *secret;        /* license secret file (0600); NULL:
                                   "<license>.secret" */
    const char  *state_dir;     /* 0700, made when missing: machine.key
                                   and the saved answers; NULL: no saved
                                   answers (no offline use) */
    const char  *cache_dir;     /* signing-chain cache; NULL:
                                   "<state_dir>/chains" */
    const char  *hwid;          /* NULL: derived (ovsa_sdk_hwid()) */
    const char  *product;       /* hwid derivation; NULL: the license's
                                   product */
    const char  *client_id;     /* leases; NULL: the hwid */
    const char  *client_cert;   /* TLS client certificate, or NULL */
    const char  *client_key;
    long         timeout_ms;    /* per server; 0: 10 s */
    long         skew;          /* < 0 or 0: 60 s */
    long         heartbeat_s;   /* 0: a third of the lease's length */
    time_t       at;            /* tests/CLI: verify at this time; 0: the
                                   clock */
} ovsa_sdk_conf_t;

/*
 * Opens a license: loads and verifies it against conf->isv / conf->root,
 * checks its secret file and the TLS client key when given, makes the
 * state directory (0700) and derives the hwid.  No request is sent.
 * Returns a handle (free with ovsa_sdk_close()) or NULL with st filled
 * (LOCAL_ERROR, st->error the OVSA_E_ code).  The strings of conf are
 * copied.
 */
ovsa_sdk_t *ovsa_sdk_open(const ovsa_sdk_conf_t *conf,
    ovsa_sdk_status_t *st);

/*
 * Releases the lease, if one is held (checkin; stops the heartbeat),
 * and frees the handle.  NULL is allowed.  A lease still held at normal
 * process exit is released too (atexit).
 */
void ovsa_sdk_close(ovsa_sdk_t *lic);

/*
 * The operations.  Each returns st->allowed (1 or 0) and fills st.
 *
 *   activate    node-locked: binds the hwid to this machine's key
 *               (idempotent; offline: allowed when this hwid's
 *               activation was saved, valid_until 0)
 *   check       the license: node-locked with the hwid, floating with
 *               the held lease; usage-count spends one use (= spend);
 *               offline: the saved check until its valid_until
 *   deactivate  node-locked: frees the activation; removes the saved
 *               answers; never offline
 *   spend       usage-count: one use, with a request id (a retry never
 *               spends twice); never offline
 */
int ovsa_sdk_activate(ovsa_sdk_t *lic, ovsa_sdk_status_t *st);
int ovsa_sdk_check(ovsa_sdk_t *lic, ovsa_sdk_status_t *st);
int ovsa_sdk_deactivate(ovsa_sdk_t *lic, ovsa_sdk_status_t *st);
int ovsa_sdk_spend(ovsa_sdk_t *lic, ovsa_sdk_status_t *st);

/*
 * Floating licenses.  lease_acquire checks out a seat (a saved lease
 * still live is renewed instead, so a restarted program holds one seat);
 * with cb != NULL a heartbeat thread renews the lease every
 * conf->heartbeat_s (default a third of its length) and calls cb when
 * it is lost.  Offline: allowed until the saved lease's expiry.
 * lease_heartbeat renews it once by hand; lease_release checks it in
 * (the seat is free at once) and stops the thread.
 */
int ovsa_sdk_lease_acquire(ovsa_sdk_t *lic, ovsa_sdk_lease_cb cb,
    void *arg, ovsa_sdk_status_t *st);
int ovsa_sdk_lease_heartbeat(ovsa_sdk_t *lic, ovsa_sdk_status_t *st);
int ovsa_sdk_lease_release(ovsa_sdk_t *lic, ovsa_sdk_status_t *st);

/*
 * Without a path to the server (docs/offline.md).
 *
 *   borrow           floating: takes a seat for up to seconds (at most
 *                    the license's max_borrow) and keeps the signed grant
 *                    in the state directory; until it ends, check and
 *                    lease_acquire allow without a server (OFFLINE);
 *                    lease_release returns it early
 *   offline_request  node-locked, on the offline machine: writes the
 *                    request file of op "activate" or "deactivate" to
 *                    out; "deactivate" removes the offline activation
 *                    held here first (this machine never accepts its
 *                    grant again) and the file proves it to the server
 *   offline_submit   on a machine that reaches a server: sends the
 *                    request file in with this handle's license secret
 *                    and writes the signed answer (a grant) to out;
 *                    detail as in ovsa_sdk_call(), or NULL
 *   offline_accept   on the offline machine: verifies the grant in
 *                    (signature, pins, the pending request's nonce, this
 *                    machine key and hwid, not expired) and keeps it:
 *                    check and activate then allow until its valid_until
 */
int ovsa_sdk_borrow(ovsa_sdk_t *lic, long seconds, ovsa_sdk_status_t *st);
int ovsa_sdk_offline_request(ovsa_sdk_t *lic, const char *op,
    const char *out, ovsa_sdk_status_t *st);
int ovsa_sdk_offline_submit(ovsa_sdk_t *lic, const char *in,
    const char *out, ovsa_sdk_status_t *st, ovsa_license_result_t *detail);
int ovsa_sdk_offline_accept(ovsa_sdk_t *lic, const char *in,
    ovsa_sdk_status_t *st);

/*
 * The hwid this handle sends (conf->hwid, or derived); copies it to out
 * (size >= 64).  Returns 0, or -1 when out is too small.
 */
int ovsa_sdk_get_hwid(ovsa_sdk_t *lic, char *out, size_t size);

/*
 * Derives the hwid of this machine for product (docs/sdk.md): the first
 * readable, non-empty one of /etc/machine-id, /var/lib/dbus/machine-id,
 * /sys/class/dmi/id/product_uuid (trimmed, lower case) is the key of
 * HMAC-SHA256 over "ovsa-hwid-v1:" product; the hwid is the base64url
 * of the MAC (43 characters).  Returns 0, or -1 with nothing readable
 * (then set conf->hwid).
 */
int ovsa_sdk_hwid(const char *product, char *out, size_t size);

/* The name of a code ("OFFLINE"); never NULL. */
const char *ovsa_sdk_code_name(ovsa_sdk_code_t code);

/*
 * The general call under the operations, for tools (ovsa-check uses
 * it): op is "check", "activate", "deactivate", "spend", "checkout",
 * "heartbeat" or "checkin"; fields a JSON object of extra request
 * members (NULL: none; "hwid", "lease_id", "client_id", "request_id"
 * given here win over the handle's).  detail, when not NULL, receives
 * the whole walk (free with ovsa_license_result_free()).  The handle's
 * own lease is neither used nor changed: the caller names its lease in
 * fields, starts no heartbeat thread and releases nothing at exit.
 */
int ovsa_sdk_call(ovsa_sdk_t *lic, const char *op, const char *fields,
    ovsa_sdk_status_t *st, ovsa_license_result_t *detail);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif /* OVSA_H */
