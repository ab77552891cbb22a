/*
 * proof.c: reads and verifies the license secret and the machine-key
 * request signature of a public request (see proof.h).
 */

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/evp.h>

#include "ovsa_license.h"
#include "ovsa_reqsig.h"
#include "proof.h"



/* Hashes the secret of "Authorization: License <secret>"; -1: answered. */
static int
ovsa_proof_secret(ovsa_req_t *req, ovsa_resp_t *resp, ovsa_proof_t *proof)
{
    size_t          n;
    const char     *h;
    ovsa_err_t      err;
    ovsa_reqerr_t   re;

    h = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
                                    "Authorization");
    if (h == NULL) {
        return 0;
    }

    n = sizeof(OVSA_LICENSE_AUTH_SCHEME) - 1;

    if (strncasecmp(h, OVSA_LICENSE_AUTH_SCHEME, n) != 0
        || ovsa_license_secret_hash(h + n, strlen(h + n),
                                    proof->secret_sha256, &err) != OVSA_OK)
    {
        /* never echo the header: it may be a secret */
        ovsa_json_bad_field(&re, "Authorization", "not \"License\" followed "
                            "by a license secret (43 base64url characters)");
        ovsa_resp_reqerr(resp, &re);
        return -1;
    }

    return 0;
}


/* Verifies the request signature made with body's machine_key. */
static int
ovsa_proof_machine(ovsa_req_t *req, json_t *body, ovsa_resp_t *resp,
    ovsa_proof_t *proof)
{
    int                 rc;
    char                msg[sizeof(((ovsa_err_t *) 0)->msg) + 64];
    json_t             *v;
    EVP_PKEY           *pub;
    const char         *input, *sig;
    ovsa_err_t          err;
    ovsa_reqerr_t       re;
    ovsa_reqsig_msg_t   m;

    v = json_object_get(body, "machine_key");
    if (v == NULL || json_is_null(v)) {
        return 0;
    }

    pub = NULL;
    if (!json_is_string(v)
        || ovsa_machine_key_parse(json_string_value(v), json_string_length(v),
                                  &pub, &err) != OVSA_OK)
    {
        ovsa_json_bad_field(&re, "machine_key", "not the base64url DER "
                            "SubjectPublicKeyInfo of an Ed25519 or P-256 "
                            "key");
        ovsa_resp_reqerr(resp, &re);
        return -1;
    }

    input = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
                                        "Signature-Input");
    sig = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
                                      "Signature");

    if (input == NULL || sig == NULL) {
        EVP_PKEY_free(pub);
        ovsa_resp_code(resp, "MACHINE_PROOF_REQUIRED", NULL);
        return -1;
    }

    m.method = ovsa_str(req->method);
    m.path = ovsa_str(req->path);
    m.content_digest = ovsa_str(MHD_lookup_connection_value(req->conn,
                                    MHD_HEADER_KIND, "Content-Digest"));
    m.nonce = ovsa_str(MHD_lookup_connection_value(req->conn,
                                    MHD_HEADER_KIND, "OVSA-Nonce"));

    /* an offline request was signed earlier and carried by hand */
    rc = ovsa_reqsig_verify_aged(pub, &m, ovsa_str(input), ovsa_str(sig),
                                 time(NULL),
                                 strncmp(req->path, "/v1/offline/", 12) == 0
                                 ? OVSA_OFFLINE_REQUEST_MAX_AGE
                                 : OVSA_REQSIG_SKEW,
                                 OVSA_REQSIG_SKEW, &err);
    if (rc == OVSA_OK) {
        rc = ovsa_keyid_pkey(pub, proof->machine, &err);
    }

    EVP_PKEY_free(pub);

    if (rc != OVSA_OK) {
        snprintf(msg, sizeof(msg), "%s: %s", ovsa_code_name(err.code),
                 err.msg);
        ovsa_resp_code(resp, err.code == OVSA_E_SIG_MISSING
                             ? "MACHINE_PROOF_REQUIRED"
                             : "MACHINE_SIGNATURE_INVALID", msg);
        return -1;
    }

    return 0;
}


int
ovsa_proof_read(ovsa_req_t *req, json_t *body, ovsa_resp_t *resp,
    ovsa_proof_t *proof)
{
    memset(proof, 0, sizeof(*proof));

    if (ovsa_proof_secret(req, resp, proof) != 0
        || ovsa_proof_machine(req, body, resp, proof) != 0)
    {
        return -1;
    }

    return 0;
}
