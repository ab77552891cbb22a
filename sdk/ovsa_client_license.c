/*
 * ovsa_client_license.c: license mode of the client SDK: walk the servers
 * of a customer license in order, each trusted through its own pins, and
 * accept a newer license from a verified answer only after verifying it
 * (see ovsa_client.h and docs/rotation.md).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "ovsa_client.h"
#include "ovsa_client_int.h"
#include "ovsa_license.h"
#include "ovsa_reqsig.h"
#include "ovsa_x509.h"


/* What every request of one license walk presents. */
typedef struct {
    char       secret[OVSA_LICENSE_SECRET_LEN + 1];   /* "" when none */
    EVP_PKEY  *machine;                               /* or NULL */
} ovsa_license_auth_t;


void
ovsa_license_result_free(ovsa_license_result_t *res)
{
    size_t  i;

    ovsa_result_free(&res->answer);

    for (i = 0; i < res->nattempts; i++) {
        free(res->attempts[i].url);
        res->attempts[i].url = NULL;
    }

    res->nattempts = 0;
}


/*
 * The request body: fields + license_id + the held version, the machine
 * key, and for a spending operation (a usage-count check, a checkout) a
 * request id (res->request_id) unless fields has one.
 */
static char *
ovsa_license_body(const char *fields, const ovsa_license_t *lic,
    const char *path, const ovsa_license_auth_t *auth,
    ovsa_license_result_t *res, ovsa_err_t *err)
{
    char           *text, mkey[512];
    size_t          i;
    json_t         *body, *rid;
    json_error_t    je;
    unsigned char   rnd[16];

    body = fields ? json_loads(fields, JSON_REJECT_DUPLICATES, &je)
                  : json_object();
    if (body == NULL || !json_is_object(body)) {
        json_decref(body);
        ovsa_err_set(err, OVSA_E_CONF_VALUE, "request: fields are not a "
                     "JSON object");
        return NULL;
    }

    if (auth->machine != NULL) {
        if (ovsa_machine_key_encode(auth->machine, mkey, sizeof(mkey), err)
            != OVSA_OK)
        {
            json_decref(body);
            return NULL;
        }
        json_object_set_new(body, "machine_key", json_string(mkey));
    }

    rid = json_object_get(body, "request_id");
    if (json_is_string(rid)) {
        snprintf(res->request_id, sizeof(res->request_id), "%s",
                 json_string_value(rid));

    } else if ((lic->type == OVSA_LIC_USAGE_COUNT
                && strcmp(path, "/v1/check") == 0)
               || strcmp(path, "/v1/lease/checkout") == 0
               || strcmp(path, "/v1/lease/borrow") == 0)
    {
        if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
            json_decref(body);
            ovsa_err_ssl(err, OVSA_E_INTERNAL, "request: no random request "
                         "id");
            return NULL;
        }
        for (i = 0; i < sizeof(rnd); i++) {
            snprintf(&res->request_id[2 * i], 3, "%02x", rnd[i]);
        }
        json_object_set_new(body, "request_id",
                            json_string(res->request_id));
    }

    if (json_object_set_new(body, "license_id", json_string(lic->id)) != 0
        || json_object_set_new(body, "version",
                               json_integer(lic->version)) != 0
        || (text = json_dumps(body, JSON_COMPACT)) == NULL)
    {
        json_decref(body);
        ovsa_err_set(err, OVSA_E_NOMEM, "request: out of memory");
        return NULL;
    }

    json_decref(body);
    return text;
}


/* Tries one server; fills the attempt.  OVSA_OK: a verified answer. */
static int
ovsa_license_try(const ovsa_license_conf_t *conf,
    const ovsa_license_auth_t *auth, const ovsa_license_server_t *srv,
    const char *method, const char *path, const char *body,
    const ovsa_presigned_t *pre, int retries, ovsa_result_t *r,
    ovsa_attempt_t *a)
{
    int                  rc;
    ovsa_err_t           e;
    ovsa_client_t       *client;
    ovsa_client_conf_t   cc;

    memset(&cc, 0, sizeof(cc));
    cc.url = srv->url;
    cc.root = conf->root;
    cc.cache_dir = conf->cache_dir;
    cc.skew = conf->skew;
    cc.timeout_ms = conf->timeout_ms;
    cc.client_cert = conf->client_cert;
    cc.client_key = conf->client_key;

    /* the URL's whole pin set: any of its keys may serve (a fleet) */
    ovsa_err_clear(&e);
    memset(r, 0, sizeof(*r));

    if (ovsa_client_new_pinned(&cc, (const char *const *) srv->pins,
                               srv->npins, &client, &e) != OVSA_OK) {
        a->code = e.code;
        snprintf(a->msg, sizeof(a->msg), "%s", e.msg);
        return OVSA_ERR;
    }

    ovsa_client_set_time(client, conf->at);
    ovsa_client_keep(client, conf->keep_grant);
    if (pre != NULL) {
        ovsa_client_set_presigned(client, pre->input, pre->sig);
    }

    if (ovsa_client_set_auth(client, auth->secret[0] ? auth->secret : NULL,
                             auth->machine, &e) != OVSA_OK)
    {
        ovsa_client_free(client);
        a->code = e.code;
        snprintf(a->msg, sizeof(a->msg), "%s", e.msg);
        return OVSA_ERR;
    }

    for ( ;; ) {
        rc = ovsa_client_request_nonce(client, method, path, body,
                                       pre ? pre->nonce : NULL, r, &e);
        if ((rc == OVSA_OK
             && strcmp(r->code, "REPLICA_ACK_TIMEOUT") != 0)
            || (rc != OVSA_OK && e.code != OVSA_E_TRANSPORT)
            || retries-- <= 0)
        {
            break;
        }
        /*
         * the same body, request id included: never spent twice.  Also
         * after REPLICA_ACK_TIMEOUT (the change was made but too few
         * replicas acknowledged it): the retry learns its outcome.
         */
        ovsa_result_free(r);
        memset(r, 0, sizeof(*r));
    }

    ovsa_client_free(client);

    a->status = r->status;
    a->code = rc == OVSA_OK ? OVSA_E_NONE : e.code;
    if (rc != OVSA_OK) {
        snprintf(a->msg, sizeof(a->msg), "%s", e.msg);
    }

    return rc;
}


/* Verifies the license an answer offers and replaces the file with it. */
static int
ovsa_license_update(const ovsa_license_conf_t *conf,
    const ovsa_license_t *held, X509 *isv, json_t *offered,
    ovsa_license_result_t *res, ovsa_err_t *err)
{
    int              ret;
    char            *text;
    ovsa_license_t  *next;

    next = NULL;
    ret = OVSA_ERR;

    if (!json_is_object(offered)) {
        return ovsa_err_set(err, OVSA_E_LIC_SYNTAX, "license update: "
                            "\"license\" is not a JWS JSON object");
    }

    text = json_dumps(offered, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (text == NULL) {
        return ovsa_err_set(err, OVSA_E_NOMEM, "license update: out of "
                            "memory");
    }

    if (ovsa_license_parse(text, strlen(text), &next, err) != OVSA_OK
        || (isv != NULL && ovsa_license_trusted(next, &isv, 1, err)
                           != OVSA_OK)
        || ovsa_license_check_update(held, next, err) != OVSA_OK)
    {
        goto end;
    }

    res->new_version = next->version;

    if (ovsa_license_save_file(conf->license, next->jws, err) != OVSA_OK) {
        goto end;
    }

    res->updated = 1;
    ret = OVSA_OK;

end:

    ovsa_license_free(next);
    free(text);
    return ret;
}


/*
 * What the walk presents: the license secret (conf->secret, or
 * "<license>.secret"), checked against the license's hash so a wrong file
 * is a clear local error, and the machine key for node-locked and
 * floating licenses.
 */
static int
ovsa_license_auth(const ovsa_license_conf_t *conf, const ovsa_license_t *lic,
    int need_machine, ovsa_license_auth_t *auth, ovsa_err_t *err)
{
    char        path[4096];
    const char *file;
    ovsa_err_t  e;

    if (lic->secret_sha256[0] != '\0') {
        file = conf->secret;
        if (file == NULL) {
            if ((size_t) snprintf(path, sizeof(path), "%s.secret",
                                  conf->license) >= sizeof(path))
            {
                return ovsa_err_set(err, OVSA_E_CONF_VALUE, "client: "
                                    "%s: path too long", conf->license);
            }
            file = path;
        }

        if (ovsa_license_secret_read(file, auth->secret, &e) != OVSA_OK
            || ovsa_license_secret_match(lic, auth->secret,
                                         strlen(auth->secret), &e)
               != OVSA_OK)
        {
            return ovsa_err_set(err, e.code, "client: license %s needs its "
                                "secret: %s: %s", lic->id, file, e.msg);
        }
    }

    if (need_machine
        && (lic->type == OVSA_LIC_NODE_LOCKED
            || lic->type == OVSA_LIC_FLOATING))
    {
        if (conf->state_dir == NULL) {
            return ovsa_err_set(err, OVSA_E_CONF_MISSING, "client: license "
                                "%s is %s: its machine key needs a state "
                                "directory", lic->id,
                                ovsa_license_type_name(lic->type));
        }
        if (ovsa_client_machine_key(conf->state_dir, &auth->machine, err)
            != OVSA_OK)
        {
            return OVSA_ERR;
        }
    }

    return OVSA_OK;
}


/*
 * Loads conf->license and checks its signer against conf->isv (root or
 * isv required): what every license-mode entry point starts with.
 */
int
ovsa_license_open(const ovsa_license_conf_t *conf, ovsa_license_t **out,
    X509 **isv_out, ovsa_err_t *err)
{
    X509            *isv;
    ovsa_err_t       e;
    ovsa_license_t  *held;

    *out = NULL;
    isv = NULL;

    if (conf->license == NULL) {
        return ovsa_err_set(err, OVSA_E_CONF_MISSING, "client: no license "
                            "file");
    }

    if (conf->isv == NULL && conf->root == NULL) {
        return ovsa_err_set(err, OVSA_E_NO_ANCHOR, "client: neither an ISV "
                            "certificate nor a vendor root: a license "
                            "signed by anyone would be trusted");
    }

    if (ovsa_license_load_file(conf->license, &held, err) != OVSA_OK) {
        return OVSA_ERR;
    }

    if (conf->isv != NULL) {
        if (ovsa_cert_load(conf->isv, &isv, &e) != OVSA_OK) {
            ovsa_license_free(held);
            return ovsa_err_set(err, e.code, "client: isv: %s", e.msg);
        }

        if (ovsa_license_trusted(held, &isv, 1, err) != OVSA_OK) {
            X509_free(isv);
            ovsa_license_free(held);
            return OVSA_ERR;
        }
    }

    *out = held;
    if (isv_out != NULL) {
        *isv_out = isv;
    } else {
        X509_free(isv);
    }

    return OVSA_OK;
}


int
ovsa_client_check_license(const ovsa_license_conf_t *conf,
    const char *method, const char *path, const char *fields,
    ovsa_license_result_t *res, ovsa_err_t *err)
{
    return ovsa_license_walk(conf, method, path, fields, NULL, res, err);
}


int
ovsa_license_walk(const ovsa_license_conf_t *conf, const char *method,
    const char *path, const char *fields, const ovsa_presigned_t *pre,
    ovsa_license_result_t *res, ovsa_err_t *err)
{
    int              ret, fail;
    char            *body;
    size_t           i;
    json_t          *ans, *offered;
    X509            *isv;
    ovsa_err_t       e;
    ovsa_result_t    r;
    ovsa_attempt_t       *a;
    ovsa_license_t       *held;
    ovsa_license_auth_t   auth;

    memset(res, 0, sizeof(*res));
    memset(&auth, 0, sizeof(auth));
    res->server = -1;
    ret = OVSA_ERR;
    held = NULL;
    isv = NULL;
    body = NULL;
    ans = NULL;

    if (ovsa_license_open(conf, &held, &isv, err) != OVSA_OK) {
        goto end;
    }

    /* the client certificate is a local matter: checked once, first */
    if (ovsa_client_check_tls_cert(conf->client_cert, conf->client_key, err)
        != OVSA_OK)
    {
        goto end;
    }

    snprintf(res->license_id, sizeof(res->license_id), "%s", held->id);
    res->held_version = held->version;

    /* a presigned (offline) request: the license secret, no signing */
    if (ovsa_license_auth(conf, held, pre == NULL, &auth, err) != OVSA_OK) {
        goto end;
    }

    body = pre ? strdup(pre->body)
               : ovsa_license_body(fields, held, path, &auth, res, err);
    if (body == NULL) {
        if (pre != NULL) {
            ovsa_err_set(err, OVSA_E_NOMEM, "client: out of memory");
        }
        goto end;
    }

    /* every server of the license, in order, each with its own pins */
    for (i = 0; i < held->nservers && i < OVSA_CLIENT_MAX_ATTEMPTS; i++) {
        a = &res->attempts[res->nattempts++];
        a->url = strdup(held->servers[i].url);
        if (a->url == NULL) {
            ovsa_err_set(err, OVSA_E_NOMEM, "client: out of memory");
            goto end;
        }

        if (ovsa_license_try(conf, &auth, &held->servers[i], method, path,
                             body, pre, res->request_id[0] ? 1 : 0, &r, a)
            != OVSA_OK)
        {
            ovsa_result_free(&r);
            continue;
        }

        /* a verified answer; a server error lets the next server try */
        ovsa_result_free(&res->answer);
        res->answer = r;
        res->server = (int) i;

        if (r.status < 500) {
            break;
        }
    }

    if (res->server < 0) {
        fail = OVSA_E_TRANSPORT;
        for (i = 0; i < res->nattempts; i++) {
            if (res->attempts[i].code != OVSA_E_TRANSPORT) {
                fail = res->attempts[i].code;
                break;
            }
        }
        ovsa_err_set(err, fail, "license %s: no server gave a verified "
                     "answer (%zu tried)", held->id, res->nattempts);
        goto end;
    }

    /* a newer license in the verified answer */
    ans = json_loadb(res->answer.body, res->answer.body_len, 0, NULL);
    offered = json_is_object(ans) ? json_object_get(ans, "license") : NULL;
    res->replayed = json_is_object(ans)
                    && json_is_true(json_object_get(ans, "replayed"));

    if (offered != NULL) {
        res->offered = 1;

        if (ovsa_license_update(conf, held, isv, offered, res, &e)
            != OVSA_OK)
        {
            res->update_code = e.code;
            snprintf(res->update_msg, sizeof(res->update_msg), "%s", e.msg);
            ovsa_err_set(err, e.code, "license update refused, %s kept: %s",
                         conf->license, e.msg);
            goto end;
        }
    }

    ret = OVSA_OK;

end:

    json_decref(ans);
    free(body);
    X509_free(isv);
    ovsa_license_free(held);
    EVP_PKEY_free(auth.machine);
    OPENSSL_cleanse(auth.secret, sizeof(auth.secret));
    return ret;
}


int
ovsa_license_grant_verify(const ovsa_license_conf_t *conf, const char *text,
    size_t len, ovsa_result_t *r, ovsa_err_t *err)
{
    int              ret;
    char             url[OVSA_LICENSE_URL_MAX + 1];
    size_t           i;
    ovsa_license_t  *held;

    memset(r, 0, sizeof(*r));
    ret = OVSA_ERR;
    held = NULL;

    if (ovsa_grant_parse_url(text, len, url, sizeof(url), err) != OVSA_OK
        || ovsa_license_open(conf, &held, NULL, err) != OVSA_OK)
    {
        goto end;
    }

    for (i = 0; i < held->nservers; i++) {
        if (strcmp(held->servers[i].url, url) == 0) {
            break;
        }
    }

    if (i == held->nservers) {
        ovsa_err_set(err, OVSA_E_GRANT_SERVER, "grant: %s is not a server of "
                     "license %s", url, held->id);
        goto end;
    }

    ret = ovsa_grant_verify(text, len,
                            (const char *const *) held->servers[i].pins,
                            held->servers[i].npins, conf->root, conf->skew,
                            r, err);

end:

    ovsa_license_free(held);
    return ret;
}
