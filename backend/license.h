/*
 * license.h: importing a customer license into the backend: parse and
 * verify the JWS with lib/ovsa_license (which owns every license rule),
 * require a signer listed in licenses.isv_certs, then turn the parsed
 * license into the record stored in Redis.
 */

#ifndef OVSA_BACKEND_LICENSE_H
#define OVSA_BACKEND_LICENSE_H

#include "ovsa_conf.h"
#include "ovsa_err.h"
#include "ovsa_license.h"

typedef struct ovsa_isv_s  ovsa_isv_t;

/*
 * Loads the certificates named by licenses.isv_certs.  Returns OVSA_OK
 * and *out (free with ovsa_isv_free()), or OVSA_ERR with err set.
 */
int ovsa_isv_load(const ovsa_conf_t *conf, ovsa_isv_t **out,
    ovsa_err_t *err);

/* Frees what ovsa_isv_load() returned; NULL is allowed. */
void ovsa_isv_free(ovsa_isv_t *isv);

/* Fields of the license hash written by an import (docs/protocol.md). */
#define OVSA_IMPORT_FIELDS  21
#define OVSA_IMPORT_NARGS   (2 + 2 * OVSA_IMPORT_FIELDS)

typedef struct {
    ovsa_license_t  *lic;       /* the parsed, verified license */
    char            *jws;       /* its JWS JSON text, compact, malloc'd */
    char            *pins;      /* every pin, space-separated, malloc'd */
    char             num[12][24];
    const char      *args[OVSA_IMPORT_NARGS];   /* ARGV of import.lua */
    int              nargs;
} ovsa_import_t;

/*
 * Verifies the license text (len bytes) for import.  On OVSA_OK *imp is
 * filled, args ready for import.lua; release it with ovsa_import_free().
 * On OVSA_ERR *answer is "LICENSE_INVALID" (any code of
 * ovsa_license_parse()) or "LICENSE_UNTRUSTED" (signer not listed), and
 * err carries the OVSA_E code and message.
 */
int ovsa_import_verify(const ovsa_isv_t *isv, const char *text, size_t len,
    ovsa_import_t *imp, const char **answer, ovsa_err_t *err);

/*
 * Fills imp->pins, imp->num, imp->args and imp->nargs from imp->lic and
 * imp->jws: the ARGV of backend/lua/import.lua, that is version,
 * license_id, then the field/value pairs of the license hash.  args point
 * into *imp and imp->lic.  Called by ovsa_import_verify(); public for the
 * unit tests.  Returns OVSA_OK, or OVSA_ERR with OVSA_E_NOMEM.
 */
int ovsa_import_record(ovsa_import_t *imp, ovsa_err_t *err);

/* Releases what ovsa_import_verify() filled (lic, jws, pins); safe on a
 * zeroed struct. */
void ovsa_import_free(ovsa_import_t *imp);

#endif /* OVSA_BACKEND_LICENSE_H */
