/*
 * proof.h: who is asking.  A public request proves that it holds the
 * license (the license secret in "Authorization: License <secret>", whose
 * SHA-256 the script compares with the stored one, or the customer
 * certificate nginx reports) and, for operations on an activation or a
 * lease, that it holds the machine key they were made with (an RFC 9421
 * request signature, docs/signatures.md "Request signatures").  This file
 * reads and verifies what the request presents; the decision, which needs
 * the stored license, is the Lua scripts' (backend/lua/_common.lua
 * proven() and machine_refusal()).
 */

#ifndef OVSA_PROOF_H
#define OVSA_PROOF_H

#include <jansson.h>

#include "backend.h"
#include "ovsa_pin.h"

/* Allowed distance between a request signature's created and now, s. */
#define OVSA_REQSIG_SKEW  300

typedef struct {
    char  secret_sha256[65];             /* "" when no secret presented */
    char  machine[OVSA_KEYID_LEN + 1];   /* verified machine keyid or "" */
} ovsa_proof_t;

/*
 * Reads the license secret of the Authorization header and, when the
 * body has "machine_key", verifies the request signature made with it.
 * Returns 0 with proof filled, or -1 with resp answered: 400 BAD_FIELD
 * (Authorization not "License <43 base64url characters>", machine_key
 * malformed), 401 MACHINE_PROOF_REQUIRED (machine_key without a
 * signature), 401 MACHINE_SIGNATURE_INVALID (the signature does not
 * verify; the message names the OVSA_E_ code).
 */
int ovsa_proof_read(ovsa_req_t *req, json_t *body, ovsa_resp_t *resp,
    ovsa_proof_t *proof);

#endif /* OVSA_PROOF_H */
