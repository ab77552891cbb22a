/*
 * ovsa_client_offline.c: offline requests (docs/offline.md).  A machine
 * without a path to the license server makes and signs a request with its
 * machine key; anything that can reach a server of the license and holds
 * the license secret carries it there unchanged and writes the signed
 * answer as a grant (ovsa_client_grant.c), which the offline machine
 * verifies and keeps.
 *
 * Request file (JSON object):
 *   "ovsa_offline_request": 1, "license_id", "op" ("activate" |
 *   "deactivate"), "path", "nonce", "created", "body" (the JSON request
 *   body, exact), "signature_input", "signature" (the machine key's
 *   RFC 9421 request signature over "@method" "@path" "content-digest"
 *   "ovsa-nonce", lib/ovsa_reqsig.h).
 * No secret is in it: the license secret is presented by the machine
 * that submits it.
 */

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/rand.h>

#include "ovsa_b64.h"
#include "ovsa_client.h"
#include "ovsa_client_int.h"
#include "ovsa_httpsig.h"
#include "ovsa_license.h"
#include "ovsa_reqsig.h"

#define OVSA_OFFLINE_MAX  (16 * 1024)

static const struct {
    const char  *op;
    const char  *path;
} ovsa_offline_ops[] = {
    { "activate",   "/v1/offline/activate" },
    { "deactivate", "/v1/offline/deactivate" },
    { NULL, NULL }
};


static const char *
ovsa_offline_path(const char *op)
{
    size_t  i;

    for (i = 0; op != NULL && ovsa_offline_ops[i].op != NULL; i++) {
        if (strcmp(ovsa_offline_ops[i].op, op) == 0) {
            return ovsa_offline_ops[i].path;
        }
    }

    return NULL;
}


int
ovsa_offline_request_make(const ovsa_license_conf_t *conf, const char *op,
    const char *fields, char **text, char *nonce, ovsa_err_t *err)
{
    int                 ret;
    char               *body, mkey[512];
    char                digest[OVSA_DIGEST_FIELD_LEN + 1];
    char                input[OVSA_SIG_INPUT_MAX + 1];
    char                sig[OVSA_SIG_FIELD_MAX + 1];
    time_t              created;
    json_t             *b, *f;
    EVP_PKEY           *machine;
    const char         *path;
    unsigned char       raw[16];
    ovsa_license_t     *lic;
    ovsa_reqsig_msg_t   m;

    ret = OVSA_ERR;
    *text = NULL;
    body = NULL;
    b = f = NULL;
    machine = NULL;
    lic = NULL;

    path = ovsa_offline_path(op);
    if (path == NULL) {
        return ovsa_err_set(err, OVSA_E_CONF_VALUE, "offline: \"%s\" is not "
                            "activate or deactivate", op ? op : "(null)");
    }

    if (ovsa_license_open(conf, &lic, NULL, err) != OVSA_OK) {
        goto end;
    }

    if (lic->type != OVSA_LIC_NODE_LOCKED) {
        ovsa_err_set(err, OVSA_E_CONF_VALUE, "offline: license %s is %s: "
                     "only node-locked licenses are activated offline",
                     lic->id, ovsa_license_type_name(lic->type));
        goto end;
    }

    if (conf->state_dir == NULL) {
        ovsa_err_set(err, OVSA_E_CONF_MISSING, "offline: the machine key "
                     "needs a state directory");
        goto end;
    }

    if (ovsa_client_machine_key(conf->state_dir, &machine, err) != OVSA_OK
        || ovsa_machine_key_encode(machine, mkey, sizeof(mkey), err)
           != OVSA_OK)
    {
        goto end;
    }

    b = fields ? json_loads(fields, JSON_REJECT_DUPLICATES, NULL)
               : json_object();
    if (!json_is_object(b)) {
        ovsa_err_set(err, OVSA_E_CONF_VALUE, "offline: fields are not a JSON "
                     "object");
        goto end;
    }

    if (json_object_set_new(b, "license_id", json_string(lic->id)) != 0
        || json_object_set_new(b, "version", json_integer(lic->version))
           != 0
        || json_object_set_new(b, "machine_key", json_string(mkey)) != 0
        || (body = json_dumps(b, JSON_COMPACT)) == NULL)
    {
        ovsa_err_set(err, OVSA_E_NOMEM, "offline: out of memory");
        goto end;
    }

    if (RAND_bytes(raw, sizeof(raw)) != 1) {
        ovsa_err_ssl(err, OVSA_E_INTERNAL, "offline: no random nonce");
        goto end;
    }
    ovsa_b64_encode(raw, sizeof(raw), nonce, 1);

    if (ovsa_digest_field(body, strlen(body), digest, err) != OVSA_OK) {
        goto end;
    }

    memset(&m, 0, sizeof(m));
    m.method = ovsa_str("POST");
    m.path = ovsa_str(path);
    m.content_digest = ovsa_str(digest);
    m.nonce = ovsa_str(nonce);
    created = conf->at ? conf->at : time(NULL);

    if (ovsa_reqsig_sign(machine, &m, created, input, sig, err) != OVSA_OK) {
        goto end;
    }

    f = json_pack("{s:i, s:s, s:s, s:s, s:s, s:I, s:s, s:s, s:s}",
                  "ovsa_offline_request", 1, "license_id", lic->id,
                  "op", op, "path", path, "nonce", nonce,
                  "created", (json_int_t) created, "body", body,
                  "signature_input", input, "signature", sig);
    *text = f ? json_dumps(f, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    if (*text == NULL) {
        ovsa_err_set(err, OVSA_E_NOMEM, "offline: out of memory");
        goto end;
    }

    ret = OVSA_OK;

end:

    json_decref(f);
    json_decref(b);
    free(body);
    EVP_PKEY_free(machine);
    ovsa_license_free(lic);
    return ret;
}


/* A string member of a request file; NULL with err set. */
static const char *
ovsa_offline_str(json_t *f, const char *name, ovsa_err_t *err)
{
    json_t  *v;

    v = json_object_get(f, name);
    if (!json_is_string(v) || json_string_length(v) == 0) {
        ovsa_err_set(err, OVSA_E_OFFLINE_REQUEST, "offline request: \"%s\" "
                     "missing, empty or not a string", name);
        return NULL;
    }

    return json_string_value(v);
}


int
ovsa_offline_request_submit(const ovsa_license_conf_t *conf,
    const char *text, size_t len, ovsa_license_result_t *res,
    ovsa_err_t *err)
{
    int                   ret;
    json_t               *f, *b, *v;
    const char           *id, *op, *path;
    ovsa_license_t       *lic;
    ovsa_presigned_t      pre;
    ovsa_license_conf_t   c;

    memset(res, 0, sizeof(*res));
    res->server = -1;
    ret = OVSA_ERR;
    f = b = NULL;
    lic = NULL;

    if (len > OVSA_OFFLINE_MAX) {
        return ovsa_err_set(err, OVSA_E_OFFLINE_REQUEST, "offline request: "
                            "%zu bytes, more than %d", len,
                            OVSA_OFFLINE_MAX);
    }

    f = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
    v = json_object_get(f, "ovsa_offline_request");
    if (!json_is_integer(v) || json_integer_value(v) != 1) {
        ovsa_err_set(err, OVSA_E_OFFLINE_REQUEST, "offline request: not an "
                     "ovsa offline request (\"ovsa_offline_request\": 1)");
        goto end;
    }

    if ((id = ovsa_offline_str(f, "license_id", err)) == NULL
        || (op = ovsa_offline_str(f, "op", err)) == NULL
        || (path = ovsa_offline_str(f, "path", err)) == NULL
        || (pre.body = ovsa_offline_str(f, "body", err)) == NULL
        || (pre.nonce = ovsa_offline_str(f, "nonce", err)) == NULL
        || (pre.input = ovsa_offline_str(f, "signature_input", err)) == NULL
        || (pre.sig = ovsa_offline_str(f, "signature", err)) == NULL)
    {
        goto end;
    }

    /* the carrier sends what the file says only to the operation's own
     * path: a file cannot steer it to another */
    if (ovsa_offline_path(op) == NULL
        || strcmp(ovsa_offline_path(op), path) != 0)
    {
        ovsa_err_set(err, OVSA_E_OFFLINE_REQUEST, "offline request: op "
                     "\"%s\" with path \"%s\"", op, path);
        goto end;
    }

    b = json_loads(pre.body, JSON_REJECT_DUPLICATES, NULL);
    v = json_object_get(b, "license_id");
    if (!json_is_string(v) || strcmp(json_string_value(v), id) != 0) {
        ovsa_err_set(err, OVSA_E_OFFLINE_REQUEST, "offline request: the body "
                     "is not for license %s", id);
        goto end;
    }

    if (ovsa_license_open(conf, &lic, NULL, err) != OVSA_OK) {
        goto end;
    }

    if (strcmp(lic->id, id) != 0) {
        ovsa_err_set(err, OVSA_E_OFFLINE_REQUEST, "offline request: for "
                     "license %s, not %s", id, lic->id);
        goto end;
    }

    c = *conf;
    c.keep_grant = 1;
    ret = ovsa_license_walk(&c, "POST", path, NULL, &pre, res, err);

end:

    ovsa_license_free(lic);
    json_decref(b);
    json_decref(f);
    return ret;
}
