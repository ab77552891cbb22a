/*
 * license.h: importing a customer license into the backend: parse and
 * verify the JWS with lib/ovsa_license, require a signer listed in
 * licenses.isv_certs, then check the fields enforcement needs
 * (policy.c).
 */

#ifndef OVSA_BACKEND_LICENSE_H
#define OVSA_BACKEND_LICENSE_H

#include <jansson.h>

#include "ovsa_conf.h"
#include "ovsa_err.h"
#include "policy.h"

typedef struct ovsa_isv_s  ovsa_isv_t;

/*
 * Loads the certificates named by licenses.isv_certs.  Returns OVSA_OK
 * and *out (free with ovsa_isv_free()), or OVSA_ERR with err set.
 */
int ovsa_isv_load(const ovsa_conf_t *conf, ovsa_isv_t **out,
    ovsa_err_t *err);

/* Frees what ovsa_isv_load() returned; NULL is allowed. */
void ovsa_isv_free(ovsa_isv_t *isv);

typedef struct {
    json_t         *payload;   /* decoded payload; rec points into it */
    char           *jws;       /* compact JWS JSON text, malloc'd */
    ovsa_record_t   rec;
} ovsa_import_t;

/*
 * Verifies the license text (len bytes) for import.  On OVSA_OK *imp is
 * filled; release it with ovsa_import_free().  On OVSA_ERR *answer is
 * "LICENSE_INVALID" (malformed, bad signature, bad field) or
 * "LICENSE_UNTRUSTED" (signer not listed), and err carries the OVSA_E
 * code and message.
 */
int ovsa_import_verify(const ovsa_isv_t *isv, const char *text, size_t len,
    ovsa_import_t *imp, const char **answer, ovsa_err_t *err);

/* Releases what ovsa_import_verify() filled; safe on a zeroed struct. */
void ovsa_import_free(ovsa_import_t *imp);

#endif /* OVSA_BACKEND_LICENSE_H */
