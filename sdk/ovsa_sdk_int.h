/*
 * ovsa_sdk_int.h: the local state of the high-level SDK (ovsa.h) and the
 * hwid derivation, apart from the network, for sdk/test/sdk_test.c.  Not
 * part of the installed API.
 *
 * State directory (0700):
 *   machine.key            the machine key (ovsa_client_machine.c)
 *   clock.json             {"trusted_time": T}: the latest server_time of
 *                          a verified answer; only ever raised
 *   <id>.<op>.json         the last verified answer of one operation of
 *                          license <id> (op: check, activate, lease)
 * Every file is written 0600 to a temporary file and renamed
 * (ovsa_file_write).
 */

#ifndef OVSA_SDK_INT_H
#define OVSA_SDK_INT_H

#include <stddef.h>

#include "ovsa_client.h"
#include "ovsa_err.h"

#define OVSA_SDK_CLOCK_FILE  "clock.json"
#define OVSA_SDK_STATE_MAX   8192          /* bytes of one state file */

/* The saved answer of one operation. */
typedef struct {
    int        allowed;         /* the answer's verdict was "valid" */
    char       code[64];
    long long  server_time;
    long long  valid_until;     /* 0: none */
    char       hwid[257];       /* check, activate: the hwid sent */
    char       lease_id[64];    /* lease, check of a floating license */
    long long  lease_expires;
    long       pid;             /* the process that saved it (a lease is
                                   resumed only when that one is gone) */
} ovsa_sdk_saved_t;

/*
 * Writes s as <dir>/<license_id>.<op>.json (0600, temp + rename).
 * Returns OVSA_OK or OVSA_ERR (OVSA_E_IO, OVSA_E_CONF_VALUE for a path
 * too long).
 */
int ovsa_sdk_state_save(const char *dir, const char *license_id,
    const char *op, const ovsa_sdk_saved_t *s, ovsa_err_t *err);

/*
 * Reads <dir>/<license_id>.<op>.json into s.  OVSA_ERR with OVSA_E_IO
 * when missing or unreadable, OVSA_E_PROTOCOL when malformed (a damaged
 * file allows nothing).
 */
int ovsa_sdk_state_load(const char *dir, const char *license_id,
    const char *op, ovsa_sdk_saved_t *s, ovsa_err_t *err);

/* Removes <dir>/<license_id>.<op>.json; a missing file is fine. */
void ovsa_sdk_state_remove(const char *dir, const char *license_id,
    const char *op);

/*
 * Raises the trusted time of dir to t (no change when t is not later
 * than the recorded one).  OVSA_OK or OVSA_ERR (OVSA_E_IO).
 */
int ovsa_sdk_clock_note(const char *dir, long long t, ovsa_err_t *err);

/* The trusted time of dir, 0 when none is recorded or dir is NULL. */
long long ovsa_sdk_clock_trusted(const char *dir);

/*
 * The clock rule: OVSA_OK when now + skew >= the trusted time of dir,
 * else OVSA_ERR with err naming both times.
 */
int ovsa_sdk_clock_check(const char *dir, long long now, long skew,
    ovsa_err_t *err);

/*
 * The hwid derivation of ovsa_sdk_hwid() over the given files, in order:
 * the first readable one whose first line, trimmed and in lower case, is
 * not empty keys HMAC-SHA256 over "ovsa-hwid-v1:" product; out gets the
 * base64url MAC (43 characters + NUL, size >= 44).  Returns the index
 * of the file used, or -1 when none is usable (or product is NULL).
 */
int ovsa_sdk_hwid_from(const char *const *files, size_t n,
    const char *product, char *out, size_t size);

/* ---- offline use (ovsa_sdk_offline.c, docs/offline.md) */

/*
 * Adds nonce to (add 1) or removes it from (add 0) list "pending" or
 * "deactivated" of <dir>/<id>.offline.json (at most 16 each, the oldest
 * dropped).  OVSA_OK or OVSA_ERR (OVSA_E_IO).
 */
int ovsa_sdk_nonce_note(const char *dir, const char *id, const char *list,
    const char *nonce, int add, ovsa_err_t *err);

/* 1 when nonce is in list of <dir>/<id>.offline.json. */
int ovsa_sdk_nonce_is(const char *dir, const char *id, const char *list,
    const char *nonce);

/* <dir>/<id>.<kind>.grant (kind "activation" or "borrow"): save (0600,
 * temp + rename), load (free *text), remove. */
int ovsa_sdk_grant_save(const char *dir, const char *id, const char *kind,
    const char *text, size_t len, ovsa_err_t *err);
int ovsa_sdk_grant_load(const char *dir, const char *id, const char *kind,
    char **text, size_t *len, ovsa_err_t *err);
void ovsa_sdk_grant_remove(const char *dir, const char *id,
    const char *kind);

/* What a grant must be to allow this machine. */
typedef struct {
    const char  *path;      /* the request path it answers */
    const char  *keyid;     /* this machine key's keyid */
    const char  *hwid;      /* this hwid, or NULL (not checked) */
    const char  *until;     /* the member that says until when:
                               "valid_until" or "lease_expires" */
    long long    now;
    const char  *dir;       /* state directory: its "deactivated" list
                               is checked; NULL: not checked */
    const char  *id;        /* the license id */
    int          pending;   /* 1: the nonce must be in "pending" */
} ovsa_sdk_grant_want_t;

/*
 * Verifies a grant (ovsa_license_grant_verify()) and that it allows this
 * machine now, in this order: the path (OVSA_E_GRANT_NONCE), not an
 * activation deactivated here (OVSA_E_GRANT_DEACTIVATED), a "valid"
 * verdict (else OVSA_ERR with code OVSA_E_NONE: read r->code), the
 * machine key and hwid (OVSA_E_GRANT_MACHINE), a pending request's nonce
 * when asked (OVSA_E_GRANT_NONCE), *until > now (OVSA_E_GRANT_EXPIRED).
 * r is filled as by the verification; free it with ovsa_result_free().
 */
int ovsa_sdk_grant_check(const ovsa_license_conf_t *lc, const char *text,
    size_t len, const ovsa_sdk_grant_want_t *want, ovsa_result_t *r,
    long long *until, ovsa_err_t *err);

#endif /* OVSA_SDK_INT_H */
