/*
 * ovsa_client_grant.c: grants, a verified answer kept so that it can be
 * verified again later without the network (docs/offline.md).
 *
 * A grant is the signed answer as it was received (status, the fields the
 * signature covers, the body), what the request contributed to the
 * signature base (URL origin, method, path, nonce, request
 * Content-Digest), and the signing chain.  Verifying it runs the very
 * checks of an online answer (ovsa_client_answer(): nonce echo,
 * Content-Digest, the RFC 9421 signature, the chain against the pins and
 * the root), with the chain taken from the grant and the time set to the
 * signature's "created": the signature proves what the server said then;
 * how long that holds is the answer's own business (valid_until,
 * lease_expires), which the caller judges against its clock.
 *
 * Format (JSON object, members in this order when written):
 *   "ovsa_grant": 1, "url", "method", "path", "nonce", "request_digest"
 *   ("" for a request without a body), "status", "content_type",
 *   "content_digest", "signature_input", "signature", "body" (the body
 *   text, exact), "chain" (PEM, leaf first).
 */

#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/pem.h>

#include "ovsa_client.h"
#include "ovsa_client_int.h"
#include "ovsa_httpsig.h"
#include "ovsa_license.h"

#define OVSA_GRANT_MAX  (64 * 1024)


/* The chain as PEM text; NULL when out of memory. */
static char *
ovsa_grant_chain_pem(STACK_OF(X509) *chain)
{
    int      i;
    BIO     *bio;
    char    *data, *out;
    long     len;

    bio = BIO_new(BIO_s_mem());
    if (bio == NULL) {
        return NULL;
    }

    for (i = 0; i < sk_X509_num(chain); i++) {
        if (PEM_write_bio_X509(bio, sk_X509_value(chain, i)) != 1) {
            BIO_free(bio);
            return NULL;
        }
    }

    /* the BIO's memory is not NUL-terminated: copied by length (strndup
     * would look for the NUL past it, which ASan's strict string checks
     * report; found by make SANITIZE=1 test-san) */
    len = BIO_get_mem_data(bio, &data);
    out = len > 0 ? malloc((size_t) len + 1) : NULL;
    if (out != NULL) {
        memcpy(out, data, (size_t) len);
        out[len] = '\0';
    }
    BIO_free(bio);
    return out;
}


static int
ovsa_grant_set(json_t *g, const char *name, const char *value)
{
    return json_object_set_new(g, name, json_string(value ? value : ""));
}


int
ovsa_grant_make(const char *origin, const char *method, const char *path,
    const ovsa_client_resp_t *resp, ovsa_result_t *r, STACK_OF(X509) *chain,
    ovsa_err_t *err)
{
    int      fail;
    char    *pem;
    json_t  *g;

    pem = ovsa_grant_chain_pem(chain);
    g = json_object();

    if (pem == NULL || g == NULL) {
        free(pem);
        json_decref(g);
        return ovsa_err_set(err, OVSA_E_NOMEM, "grant: out of memory");
    }

    fail = json_object_set_new(g, "ovsa_grant", json_integer(1))
           | ovsa_grant_set(g, "url", origin)
           | ovsa_grant_set(g, "method", method)
           | ovsa_grant_set(g, "path", path)
           | ovsa_grant_set(g, "nonce", r->nonce)
           | ovsa_grant_set(g, "request_digest", r->req_digest)
           | json_object_set_new(g, "status", json_integer(resp->status))
           | ovsa_grant_set(g, "content_type", resp->h[OVSA_H_CONTENT_TYPE])
           | ovsa_grant_set(g, "content_digest",
                            resp->h[OVSA_H_CONTENT_DIGEST])
           | ovsa_grant_set(g, "signature_input",
                            resp->h[OVSA_H_SIGNATURE_INPUT])
           | ovsa_grant_set(g, "signature", resp->h[OVSA_H_SIGNATURE])
           | json_object_set_new(g, "body",
                                 json_stringn(r->body, r->body_len))
           | ovsa_grant_set(g, "chain", pem);

    free(pem);

    /* a body that is not UTF-8 cannot be kept exactly as a JSON string */
    if (fail || json_object_get(g, "body") == NULL) {
        json_decref(g);
        return ovsa_err_set(err, OVSA_E_PROTOCOL, "grant: the answer cannot "
                            "be kept (body not UTF-8 text)");
    }

    free(r->grant);
    r->grant = json_dumps(g, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(g);

    if (r->grant == NULL) {
        return ovsa_err_set(err, OVSA_E_NOMEM, "grant: out of memory");
    }

    r->grant_len = strlen(r->grant);
    return OVSA_OK;
}


/* A required string member of the grant; NULL with err set. */
static const char *
ovsa_grant_str(json_t *g, const char *name, int empty_ok, ovsa_err_t *err)
{
    json_t  *v;

    v = json_object_get(g, name);
    if (!json_is_string(v) || (!empty_ok && json_string_length(v) == 0)) {
        ovsa_err_set(err, OVSA_E_GRANT_SYNTAX, "grant: \"%s\" missing, empty "
                     "or not a string", name);
        return NULL;
    }

    return json_string_value(v);
}


int
ovsa_grant_parse_url(const char *text, size_t len, char *url, size_t size,
    ovsa_err_t *err)
{
    json_t      *g;
    const char  *u;

    if (len > OVSA_GRANT_MAX) {
        return ovsa_err_set(err, OVSA_E_GRANT_SYNTAX, "grant: %zu bytes, "
                            "more than %d", len, OVSA_GRANT_MAX);
    }

    g = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(g)) {
        json_decref(g);
        return ovsa_err_set(err, OVSA_E_GRANT_SYNTAX, "grant: not a JSON "
                            "object");
    }

    u = ovsa_grant_str(g, "url", 0, err);
    if (u == NULL || strlen(u) >= size) {
        json_decref(g);
        return u == NULL ? OVSA_ERR
                         : ovsa_err_set(err, OVSA_E_GRANT_SYNTAX, "grant: "
                                        "url too long");
    }

    strcpy(url, u);
    json_decref(g);
    return OVSA_OK;
}


int
ovsa_grant_verify(const char *text, size_t len, const char *const *pins,
    size_t npins, const char *root, long skew, ovsa_result_t *r,
    ovsa_err_t *err)
{
    int                  ret;
    size_t               sig_len;
    json_t              *g, *v;
    const char          *s[11];
    ovsa_client_t       *c;
    ovsa_sig_params_t    p;
    ovsa_client_conf_t   cc;
    ovsa_client_resp_t   resp;
    unsigned char        sig[OVSA_SIG_MAX];

    static const char  *names[11] = {
        "url", "method", "path", "nonce", "request_digest", "content_type",
        "content_digest", "signature_input", "signature", "body", "chain"
    };
    static const int    empty_ok[11] = { 0, 0, 0, 0, 1, 1, 0, 0, 0, 1, 0 };

    ret = OVSA_ERR;
    c = NULL;
    memset(r, 0, sizeof(*r));
    memset(&resp, 0, sizeof(resp));

    if (len > OVSA_GRANT_MAX) {
        ovsa_err_set(err, OVSA_E_GRANT_SYNTAX, "grant: %zu bytes, more than "
                     "%d", len, OVSA_GRANT_MAX);
        r->failed_check = OVSA_E_GRANT_SYNTAX;
        return OVSA_ERR;
    }

    g = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(g)) {
        ovsa_err_set(err, OVSA_E_GRANT_SYNTAX, "grant: not a JSON object");
        goto end;
    }

    v = json_object_get(g, "ovsa_grant");
    if (!json_is_integer(v) || json_integer_value(v) != 1) {
        ovsa_err_set(err, OVSA_E_GRANT_SYNTAX, "grant: \"ovsa_grant\" is not "
                     "1");
        goto end;
    }

    for (size_t i = 0; i < 11; i++) {
        s[i] = ovsa_grant_str(g, names[i], empty_ok[i], err);
        if (s[i] == NULL) {
            goto end;
        }
    }

    v = json_object_get(g, "status");
    if (!json_is_integer(v) || json_integer_value(v) < 100
        || json_integer_value(v) > 599)
    {
        ovsa_err_set(err, OVSA_E_GRANT_SYNTAX, "grant: \"status\" is not an "
                     "HTTP status");
        goto end;
    }

    if (strlen(s[3]) >= sizeof(r->nonce)
        || strlen(s[4]) >= sizeof(r->req_digest))
    {
        ovsa_err_set(err, OVSA_E_GRANT_SYNTAX, "grant: nonce or "
                     "request_digest too long");
        goto end;
    }

    /* the time the signature was made: everything is judged as of then */
    if (ovsa_sig_parse(ovsa_str(s[7]), ovsa_str(s[8]), &p, sig, &sig_len,
                       err) != OVSA_OK)
    {
        goto end;
    }

    memset(&cc, 0, sizeof(cc));
    cc.url = s[0];
    cc.root = root;
    cc.skew = skew;

    if (ovsa_client_new_pinned(&cc, pins, npins, &c, err) != OVSA_OK
        || ovsa_client_set_chain(c, s[10], strlen(s[10]), err) != OVSA_OK)
    {
        goto end;
    }

    ovsa_client_set_time(c, (time_t) p.created);

    resp.status = (long) json_integer_value(json_object_get(g, "status"));
    resp.h[OVSA_H_CONTENT_TYPE] = s[5][0] ? strdup(s[5]) : NULL;
    resp.h[OVSA_H_CONTENT_DIGEST] = strdup(s[6]);
    resp.h[OVSA_H_SIGNATURE_INPUT] = strdup(s[7]);
    resp.h[OVSA_H_SIGNATURE] = strdup(s[8]);
    resp.h[OVSA_H_NONCE] = strdup(s[3]);
    resp.len = strlen(s[9]);
    resp.body = strdup(s[9]);

    if (resp.h[OVSA_H_CONTENT_DIGEST] == NULL
        || resp.h[OVSA_H_SIGNATURE_INPUT] == NULL
        || resp.h[OVSA_H_SIGNATURE] == NULL || resp.h[OVSA_H_NONCE] == NULL
        || resp.body == NULL || (s[5][0] && resp.h[OVSA_H_CONTENT_TYPE] == NULL))
    {
        ovsa_err_set(err, OVSA_E_NOMEM, "grant: out of memory");
        goto end;
    }

    snprintf(r->nonce, sizeof(r->nonce), "%s", s[3]);
    snprintf(r->req_digest, sizeof(r->req_digest), "%s", s[4]);

    ret = ovsa_client_answer(c, s[1], s[2], &resp, r, err);

end:

    if (ret != OVSA_OK) {
        r->failed_check = err ? err->code : OVSA_E_INTERNAL;
    }

    ovsa_client_resp_free(&resp);
    ovsa_client_free(c);
    json_decref(g);
    return ret;
}
