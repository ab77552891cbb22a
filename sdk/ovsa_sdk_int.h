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

#endif /* OVSA_SDK_INT_H */
