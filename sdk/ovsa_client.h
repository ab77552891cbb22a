/*
 * ovsa_client.h: the client SDK of an ovsa license server.
 *
 * A client sends one JSON request at a time and accepts the answer only
 * when all of these hold (docs/signatures.md):
 *
 *   - TLS: the server chain verifies against the vendor root ONLY (no
 *     system CA store), or, after ovsa_client_set_pins(), the server key
 *     matches one of the license's pins (no CA decides at all);
 *   - the answer echoes the request's fresh nonce (OVSA-Nonce);
 *   - Content-Digest matches the body bytes as received;
 *   - the RFC 9421 signature "ovsa" covers exactly the ovsa components and
 *     verifies over the base rebuilt from what was sent and received, its
 *     created/expires lie within the clock skew; a request with a body
 *     sends its Content-Digest, and the answer must cover it as
 *     "content-digest";req (else OVSA_E_SIG_COMPONENTS), rebuilt from the
 *     digest the client sent (a body changed on the way: the answer does
 *     not verify);
 *   - the signing chain (GET /.well-known/ovsa/chain, cached by keyid)
 *     verifies against the vendor root ONLY, every time it is used: leaf
 *     valid now, EKU serverAuth, the ovsa policy OID, leaf keyid equal to
 *     the signature's keyid.
 *
 * License mode (ovsa_client_new_pinned(), ovsa_client_check_license()):
 * the pins of one server URL of the ISV-signed customer license are the
 * anchor for both TLS and the signing leaf; a vendor root, when given,
 * must in addition verify the signing chain.
 *
 * Every failure has its own OVSA_E_* code (lib/ovsa_err.h).  An
 * ovsa_client_t is not thread-safe: use one per thread (ovsa.h's handle
 * is).  Link: pkg-config --cflags --libs ovsa-client (the shared
 * libovsa-client.so.1); in the tree also libovsa-client.a libovsa.a
 * -lcurl -ljansson -lssl -lcrypto.
 */

#ifndef OVSA_CLIENT_H
#define OVSA_CLIENT_H

#include <stddef.h>
#include <time.h>

#include <openssl/evp.h>

#include "ovsa_err.h"

/* the shared library exports what this header declares (and ovsa.h) */
#pragma GCC visibility push(default)

#define OVSA_CLIENT_SKEW_DEFAULT   60          /* seconds */
#define OVSA_CLIENT_MAX_BODY       (1 << 20)   /* answers larger: error */

typedef struct ovsa_client_s  ovsa_client_t;

typedef struct {
    const char  *url;         /* "https://host[:port]", no path */
    const char  *root;        /* PEM or DER file of the one trusted vendor
                                 root */
    const char  *cache_dir;   /* signing-chain cache; NULL: fetch each time */
    long         skew;        /* allowed clock skew, s; < 0: the default */
    long         timeout_ms;  /* whole request; 0: 10 s */
    const char  *client_cert; /* client certificate (PEM or DER) presented
                                 in TLS (customer binding), or NULL */
    const char  *client_key;  /* its private key file (PEM or DER, mode
                                 0600); required with client_cert */
} ovsa_client_conf_t;

/* What one request produced.  Free with ovsa_result_free(). */
typedef struct {
    int          verified;        /* 1: TLS, nonce, digest, signature and
                                     chain checks passed (the body may still
                                     fail OVSA_E_PROTOCOL) */
    int          failed_check;    /* OVSA_E_NONE, or the check that failed */

    long         status;          /* HTTP status, 0 when no answer */
    char        *body;            /* NUL-terminated copy of the body */
    size_t       body_len;

    /* from the answer's JSON, when verified (empty/0 when absent) */
    char         verdict[16];     /* "valid" | "denied" | "error" */
    char         code[64];        /* "OK", "LICENSE_REVOKED", ... */
    char         message[256];
    long long    server_time;
    long long    valid_until;

    /* the signature that was checked */
    char         keyid[65];
    long long    sig_created;
    long long    sig_expires;
    char         nonce[32];       /* the nonce this request sent */
    char         req_digest[64];  /* the Content-Digest it sent, "" when
                                     it had no body */

    /* ovsa_client_keep(): the verified answer as a grant, else NULL */
    char        *grant;
    size_t       grant_len;
} ovsa_result_t;

/*
 * Creates a client.  Reads and checks the root now (OVSA_E_ROOT), checks
 * the URL (https only) and creates cache_dir if missing (0700).  On
 * OVSA_OK *out is a client the caller frees with ovsa_client_free().
 */
int ovsa_client_new(const ovsa_client_conf_t *conf, ovsa_client_t **out,
    ovsa_err_t *err);

/* Frees a client; NULL is allowed. */
void ovsa_client_free(ovsa_client_t *client);

/*
 * Switches TLS to pin-only mode: the server's public key must match one
 * of pins ("sha256//<base64>", lib/ovsa_pin.h), and no CA store is
 * consulted for TLS (CURLOPT_SSL_VERIFYPEER off, CURLOPT_PINNEDPUBLICKEY
 * on).  Signatures and the signing chain are still verified against the
 * vendor root.  n == 0 returns to root-verified TLS.  A pin mismatch
 * fails requests with OVSA_E_PIN.  The pins are copied.
 */
int ovsa_client_set_pins(ovsa_client_t *client, const char *const *pins,
    size_t n, ovsa_err_t *err);

/*
 * License mode: creates a client for one server of a customer license.
 * TLS is pin-only with pins (the URL's current and future pins; no CA
 * store takes part), and the trust in the answers' signatures comes from
 * the same pins: the signing leaf's key must match one of them
 * (OVSA_E_PIN), be valid now and carry EKU serverAuth and the ovsa policy.
 * conf->root is optional here; when given, the signing chain must also
 * verify to it (CA-signed deployments).  n is 1..8.  Free with
 * ovsa_client_free().
 */
int ovsa_client_new_pinned(const ovsa_client_conf_t *conf,
    const char *const *pins, size_t n, ovsa_client_t **out, ovsa_err_t *err);

/*
 * Checks that a TLS client certificate (PEM or DER, one certificate) and
 * its private key file (PEM or DER, unencrypted, mode 0600: see
 * ovsa_key_load) load and belong together: OVSA_E_PEM / OVSA_E_IO,
 * OVSA_E_KEY, OVSA_E_KEY_MODE, OVSA_E_KEY_MISMATCH, OVSA_E_CONF_MISSING
 * when only one is given.  Both NULL is OVSA_OK.
 */
int ovsa_client_check_tls_cert(const char *cert_file, const char *key_file,
    ovsa_err_t *err);

/*
 * Verifies at a fixed time instead of the clock (0: the clock again):
 * for tests and for "ovsa-check -attime".  The same time is the
 * "created" of machine signatures (ovsa_client_set_auth).
 */
void ovsa_client_set_time(ovsa_client_t *client, time_t at);

/*
 * The license holder's credentials, both optional (NULL: none; a call
 * replaces what an earlier one set):
 *
 *   license_secret  43 base64url characters (32 bytes), copied (wiped on
 *                   free); every request of ovsa_client_request() carries
 *                   "Authorization: License <secret>" (not the signing
 *                   chain fetch).  OVSA_E_CONF_VALUE when malformed; the
 *                   secret is never in an error message.
 *   machine_key     the machine's private key, Ed25519 or P-256
 *                   (OVSA_E_MACHINE_KEY_TYPE otherwise), up-ref'd: every
 *                   request with a body is signed with it per the request
 *                   profile (lib/ovsa_reqsig.h: Signature-Input and
 *                   Signature over "@method" "@path" "content-digest"
 *                   "ovsa-nonce", created = the client's time).  Its
 *                   public half, for the "machine_key" body member:
 *                   ovsa_machine_key_encode().
 *
 * On error nothing changes.
 */
int ovsa_client_set_auth(ovsa_client_t *client, const char *license_secret,
    EVP_PKEY *machine_key, ovsa_err_t *err);

/*
 * Sends "method path" with json_body (NULL: no body) and a fresh 128-bit
 * nonce, and verifies the answer.  Returns OVSA_OK when the answer
 * verified (whatever its verdict: read result->verdict), else OVSA_ERR
 * with err set and result->failed_check = err->code; result->status and
 * result->body then hold what arrived, unverified, for diagnosis only.
 * The caller frees result with ovsa_result_free() in both cases.
 */
int ovsa_client_request(ovsa_client_t *client, const char *method,
    const char *path, const char *json_body, ovsa_result_t *result,
    ovsa_err_t *err);

/* Frees what a request put in result; safe on a zeroed result. */
void ovsa_result_free(ovsa_result_t *result);

/*
 * keep 1: every verified answer is also kept as a grant in
 * result->grant (JSON text, grant_len bytes; docs/offline.md): the answer
 * as received, what the request put in its signature base, the signing
 * chain.  A grant can be verified later without the network.
 */
void ovsa_client_keep(ovsa_client_t *client, int keep);

/*
 * Verifies a grant (text of len bytes, at most 64 KiB) as the answer it
 * holds was verified when it arrived: nonce echo, Content-Digest, the
 * RFC 9421 signature over the base rebuilt from the grant, the signing
 * chain in the grant against pins (1..8, license mode) and, when root is
 * not NULL, the vendor root, all as of the signature's "created" time;
 * then the verdict.  Says nothing about whether the answer still holds
 * (valid_until, lease_expires: the caller's clock) or was meant for this
 * machine (nonce, machine key: the caller's binding).  Returns OVSA_OK
 * with result filled like a request's (result->nonce the grant's), or
 * OVSA_ERR with err set: OVSA_E_GRANT_SYNTAX, or the code of the online
 * check that failed.  Free result with ovsa_result_free().
 */
int ovsa_grant_verify(const char *text, size_t len, const char *const *pins,
    size_t npins, const char *root, long skew, ovsa_result_t *result,
    ovsa_err_t *err);

/* The "url" of a grant into url[size] (to find its pins); OVSA_OK or
 * OVSA_ERR (OVSA_E_GRANT_SYNTAX). */
int ovsa_grant_parse_url(const char *text, size_t len, char *url,
    size_t size, ovsa_err_t *err);


/* ---- license mode: check a customer license against its servers */

#define OVSA_CLIENT_MAX_ATTEMPTS  16    /* = OVSA_LICENSE_MAX_SERVERS */

typedef struct {
    const char  *license;     /* customer license file (JWS); replaced
                                 atomically by a verified newer version,
                                 keeping its mode */
    const char  *root;        /* the vendor root the signing chain must
                                 also verify to, or NULL */
    const char  *isv;         /* the ISV certificate the license (and
                                 every update) must be signed by, or NULL;
                                 root or isv is required (OVSA_E_NO_ANCHOR):
                                 without either, a self-signed forged
                                 license naming the forger's server would
                                 verify */
    const char  *secret;      /* the license secret file (0600); NULL:
                                 "<license>.secret", read only when the
                                 license has customer.secret_sha256 */
    const char  *state_dir;   /* the client's state directory (0700, made
                                 when missing): its machine key
                                 (machine.key), required for node-locked
                                 and floating licenses */
    const char  *cache_dir;   /* signing-chain cache, or NULL */
    const char  *client_cert; /* TLS client certificate, or NULL */
    const char  *client_key;
    long         skew;        /* < 0: the default */
    long         timeout_ms;  /* per server; 0: 10 s */
    time_t       at;          /* verify at this time; 0: the clock */
    int          keep_grant;  /* 1: res->answer.grant is filled */
} ovsa_license_conf_t;

/* One server URL tried. */
typedef struct {
    char        *url;
    int          code;        /* OVSA_E_NONE: a verified answer */
    long         status;      /* HTTP status, 0 when none arrived */
    char         msg[512];    /* the failure, empty when verified */
} ovsa_attempt_t;

typedef struct {
    ovsa_result_t   answer;       /* the verified answer that was used */
    int             server;       /* its index in the license, -1: none */
    size_t          nattempts;
    ovsa_attempt_t  attempts[OVSA_CLIENT_MAX_ATTEMPTS];

    char            license_id[129];
    long long       held_version; /* the version sent */
    char            request_id[129]; /* sent with a usage-count check
                                        or a checkout (the caller's or a
                                        random one): a retry never spends
                                        twice */
    int             replayed;     /* 1: the server answered a request id
                                     it had seen (nothing spent again) */
    int             offered;      /* 1: the answer carried "license" */
    int             update_code;  /* OVSA_E_NONE, or why it was refused */
    char            update_msg[512];
    int             updated;      /* 1: the license file was replaced */
    long long       new_version;
} ovsa_license_result_t;

/*
 * The client's machine key, <state_dir>/machine.key (an Ed25519 key made
 * on first use, PKCS#8 PEM, 0600; the directory is made 0700 when
 * missing).  The caller frees *out with EVP_PKEY_free().
 */
int ovsa_client_machine_key(const char *state_dir, EVP_PKEY **out,
    ovsa_err_t *err);

/*
 * Loads the license (and, with conf->isv, checks its signer), then tries
 * its servers IN ORDER, each with ovsa_client_new_pinned() and that URL's
 * current + future pins, sending "method path" with the JSON object
 * fields (NULL: {}) plus "license_id" and "version" (the held version),
 * the license secret (when the license has one; checked against the
 * license first: OVSA_E_LIC_SECRET_MISMATCH), and for node-locked and
 * floating licenses "machine_key" and a request signature made with the
 * machine key of conf->state_dir.  A usage-count check and a checkout get
 * a random "request_id" unless fields has one; the same body goes to every server
 * and a server that could not be reached is asked once more, so a retry
 * never spends twice.
 * A server that is unreachable, fails its pin or any check, or gives a
 * verified 5xx answer is recorded in res->attempts and the next one is
 * tried; the first other verified answer ends the walk.
 *
 * When that answer carries "license", it is parsed and its ISV signature
 * verified, checked against conf->isv when given and against the held
 * license with ovsa_license_check_update() (same id, higher version, same
 * ISV key), and only then written over the license file (temp + rename).
 * Any refusal keeps the old file and sets res->update_code:
 * OVSA_E_LIC_SIGNATURE, OVSA_E_LIC_ID, OVSA_E_LIC_VERSION, OVSA_E_LIC_ISV,
 * another OVSA_E_LIC_* parse code, or OVSA_E_IO.
 *
 * Returns OVSA_OK when a verified answer was used (read res->answer
 * .verdict) and no update was refused.  Otherwise OVSA_ERR with err set:
 * the update refusal; or, when no server answered verifiably, the first
 * attempt's failure that is not OVSA_E_TRANSPORT (else OVSA_E_TRANSPORT);
 * or a local error (license file, conf).  Free res with
 * ovsa_license_result_free() in every case.
 */
int ovsa_client_check_license(const ovsa_license_conf_t *conf,
    const char *method, const char *path, const char *fields,
    ovsa_license_result_t *res, ovsa_err_t *err);

/*
 * Verifies a grant (ovsa_grant_verify) in license mode: the license of
 * conf (and its ISV, as ovsa_client_check_license) must name the grant's
 * URL (else OVSA_E_GRANT_SERVER), whose pins anchor the signing chain;
 * conf->root, when given, must also verify it.  Free result with
 * ovsa_result_free().
 */
int ovsa_license_grant_verify(const ovsa_license_conf_t *conf,
    const char *text, size_t len, ovsa_result_t *result, ovsa_err_t *err);

/*
 * Offline activation (docs/offline.md).  On the machine without a path
 * to the server: makes a request file for op "activate" or "deactivate"
 * of conf->license (node-locked) with the JSON object fields ("hwid";
 * deactivate also "activated_at"), signed with the machine key of
 * conf->state_dir, created at conf->at or now.  *text (free()) is the
 * file's JSON text; nonce[32] receives the request's nonce, which the
 * answer will be bound to.  No secret goes into the file.
 */
int ovsa_offline_request_make(const ovsa_license_conf_t *conf,
    const char *op, const char *fields, char **text, char *nonce,
    ovsa_err_t *err);

/*
 * On a machine that reaches a server of the license: sends the request
 * file (text, len) unchanged, with the license secret of conf, to the
 * license's servers in order (ovsa_client_check_license()'s walk and
 * checks) and keeps the verified answer as a grant
 * (res->answer.grant): the response file.  The file must be for
 * conf->license and name its operation's own path
 * (OVSA_E_OFFLINE_REQUEST).
 */
int ovsa_offline_request_submit(const ovsa_license_conf_t *conf,
    const char *text, size_t len, ovsa_license_result_t *res,
    ovsa_err_t *err);

/* Frees what ovsa_client_check_license() put in res; safe when zeroed. */
void ovsa_license_result_free(ovsa_license_result_t *res);

#pragma GCC visibility pop

#endif /* OVSA_CLIENT_H */
