/*
 * ovsa_httpsig.c: RFC 9530 Content-Digest and the ovsa profile of RFC 9421
 * HTTP Message Signatures (see ovsa_httpsig.h and docs/signatures.md).
 */

#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "ovsa_httpsig.h"
#include "ovsa_pin.h"
#include "ovsa_sf.h"


/* The covered components, in signing order (RFC 9421 section 2.5). */
#define OVSA_SIG_COMPONENTS                                                   \
    "(\"@status\" \"content-type\" \"content-digest\" \"ovsa-nonce\";req "    \
    "\"@method\";req \"@target-uri\";req)"

static const struct {
    const char  *name;
    int          req;
} ovsa_sig_components[] = {
    { "@status", 0 },
    { "content-type", 0 },
    { "content-digest", 0 },
    { "ovsa-nonce", 1 },
    { "@method", 1 },
    { "@target-uri", 1 },
};

#define OVSA_SIG_NCOMPONENTS                                                  \
    (sizeof(ovsa_sig_components) / sizeof(ovsa_sig_components[0]))

static const char *ovsa_sig_param_names[] = {
    "created", "expires", "keyid", "alg", "tag"
};


/* ---- Content-Digest (RFC 9530) */

int
ovsa_digest_field(const void *body, size_t len, char *out, ovsa_err_t *err)
{
    unsigned int   mdlen;
    unsigned char  md[EVP_MAX_MD_SIZE];

    if (EVP_Digest(body, len, md, &mdlen, EVP_sha256(), NULL) != 1) {
        return ovsa_err_ssl(err, OVSA_E_INTERNAL, "content-digest: sha-256");
    }

    memcpy(out, "sha-256=:", 9);
    ovsa_b64_encode(md, mdlen, out + 9, 0);
    memcpy(out + 9 + 44, ":", 2);

    return OVSA_OK;
}


int
ovsa_digest_verify(ovsa_str_t field, const void *body, size_t len,
    ovsa_err_t *err)
{
    int             rc, known;
    long            n;
    size_t          klen;
    ovsa_sf_t       c, params;
    const char     *key;
    const EVP_MD   *md;
    unsigned int    mdlen;
    ovsa_sf_item_t  v;
    unsigned char   want[EVP_MAX_MD_SIZE], got[EVP_MAX_MD_SIZE];

    if (field.data == NULL) {
        return ovsa_err_set(err, OVSA_E_DIGEST_MISSING,
                            "content-digest: no Content-Digest field");
    }

    known = 0;
    ovsa_sf_init(&c, field.data, field.len);

    while ((rc = ovsa_sf_dict_next(&c, &key, &klen, &v, &params)) == 1) {

        if (klen == 7 && memcmp(key, "sha-256", 7) == 0) {
            md = EVP_sha256();

        } else if (klen == 7 && memcmp(key, "sha-512", 7) == 0) {
            md = EVP_sha512();

        } else {
            continue;                      /* RFC 9530: ignore the unknown */
        }

        if (v.type != OVSA_SF_BINARY) {
            return ovsa_err_set(err, OVSA_E_SIG_SYNTAX,
                                "content-digest: %.*s is not a byte "
                                "sequence", (int) klen, key);
        }

        n = ovsa_b64_decode(v.s, v.len, want, sizeof(want));
        if (n != EVP_MD_get_size(md)) {
            return ovsa_err_set(err, OVSA_E_SIG_SYNTAX,
                                "content-digest: %.*s has a malformed value",
                                (int) klen, key);
        }

        if (EVP_Digest(body, len, got, &mdlen, md, NULL) != 1) {
            return ovsa_err_ssl(err, OVSA_E_INTERNAL, "content-digest: %.*s",
                                (int) klen, key);
        }

        if (!ovsa_memeq_ct(want, n, got, mdlen)) {
            return ovsa_err_set(err, OVSA_E_DIGEST_MISMATCH,
                                "content-digest: %.*s does not match the "
                                "%zu body bytes received", (int) klen, key,
                                len);
        }

        known++;
    }

    if (rc < 0) {
        return ovsa_err_set(err, OVSA_E_SIG_SYNTAX,
                            "content-digest: not a structured dictionary");
    }

    if (known == 0) {
        return ovsa_err_set(err, OVSA_E_DIGEST_MISSING,
                            "content-digest: neither sha-256 nor sha-512");
    }

    return OVSA_OK;
}


/* ---- parameters, Signature-Input, base */

int
ovsa_signer_init(ovsa_signer_t *s, EVP_PKEY *pub, EVP_PKEY *key,
    ovsa_err_t *err)
{
    memset(s, 0, sizeof(*s));

    s->alg = ovsa_alg_for_key(OVSA_ALG_HTTPSIG, pub, err);
    if (s->alg == NULL) {
        return OVSA_ERR;
    }

    /* the Signature field holds at most OVSA_SIG_MAX bytes */
    if (EVP_PKEY_get_size(pub) > OVSA_SIG_MAX) {
        return ovsa_err_set(err, OVSA_E_KEY_TYPE, "signature: %d-byte "
                            "signatures, at most %d fit",
                            EVP_PKEY_get_size(pub), OVSA_SIG_MAX);
    }

    /* OVSA_KEYID_LEN + 1 <= sizeof(s->keyid) */
    if (ovsa_keyid_pkey(pub, s->keyid, err) != OVSA_OK) {
        return OVSA_ERR;
    }

    if (key == NULL) {
        return OVSA_OK;
    }

    return ovsa_signer_set_key(s, key, err);
}


int
ovsa_signer_set_key(ovsa_signer_t *s, EVP_PKEY *key, ovsa_err_t *err)
{
    EVP_MD_CTX  *ctx;

    ctx = EVP_MD_CTX_new();
    if (ctx == NULL) {
        return ovsa_err_set(err, OVSA_E_NOMEM, "signature: out of memory");
    }

    if (ovsa_alg_init(ctx, s->alg, key, 1, err) != OVSA_OK) {
        EVP_MD_CTX_free(ctx);
        return OVSA_ERR;
    }

    EVP_MD_CTX_free(s->ctx);
    s->ctx = ctx;
    s->pkey = key;

    return OVSA_OK;
}


void
ovsa_signer_free(ovsa_signer_t *s)
{
    EVP_MD_CTX_free(s->ctx);
    s->ctx = NULL;
    s->pkey = NULL;
}


int
ovsa_sig_params_init(ovsa_sig_params_t *p, const ovsa_signer_t *signer,
    time_t now, long ttl, ovsa_err_t *err)
{
    memset(p, 0, sizeof(*p));

    if (ttl <= 0) {
        return ovsa_err_set(err, OVSA_E_INTERNAL,
                            "signature: ttl must be positive");
    }

    if (signer->alg == NULL || signer->keyid[0] == '\0') {
        return ovsa_err_set(err, OVSA_E_INTERNAL,
                            "signature: signer not initialised");
    }

    p->alg = signer->alg->name;
    memcpy(p->keyid, signer->keyid, sizeof(p->keyid));
    p->created = (long long) now;
    p->expires = (long long) now + ttl;

    return OVSA_OK;
}


/* the value of "@signature-params" and of the Signature-Input member */
static int
ovsa_sig_params_value(const ovsa_sig_params_t *p, char *out, size_t size,
    ovsa_err_t *err)
{
    int  n;

    if (p->alg == NULL || p->keyid[0] == '\0'
        || strpbrk(p->keyid, "\"\\") != NULL)
    {
        return ovsa_err_set(err, OVSA_E_INTERNAL,
                            "signature: incomplete parameters");
    }

    n = snprintf(out, size, OVSA_SIG_COMPONENTS ";created=%lld;expires=%lld;"
                 "keyid=\"%s\";alg=\"%s\";tag=\"" OVSA_SIG_TAG "\"",
                 p->created, p->expires, p->keyid, p->alg);

    if (n < 0 || (size_t) n >= size) {
        return ovsa_err_set(err, OVSA_E_INTERNAL,
                            "signature: parameters too long");
    }

    return n;
}


int
ovsa_sig_input_field(const ovsa_sig_params_t *p, char *out, ovsa_err_t *err)
{
    memcpy(out, OVSA_SIG_LABEL "=", sizeof(OVSA_SIG_LABEL));

    if (ovsa_sig_params_value(p, out + sizeof(OVSA_SIG_LABEL),
                              OVSA_SIG_INPUT_MAX - sizeof(OVSA_SIG_LABEL),
                              err) < 0)
    {
        return OVSA_ERR;
    }

    return OVSA_OK;
}


/* trims field OWS (RFC 9421 section 2.1) and checks the characters */
static int
ovsa_sig_value(ovsa_str_t in, ovsa_str_t *out)
{
    size_t  i;

    if (in.data == NULL) {
        return OVSA_ERR;
    }

    out->data = in.data;
    out->len = in.len;

    while (out->len && (*out->data == ' ' || *out->data == '\t')) {
        out->data++;
        out->len--;
    }

    while (out->len && (out->data[out->len - 1] == ' '
                        || out->data[out->len - 1] == '\t'))
    {
        out->len--;
    }

    for (i = 0; i < out->len; i++) {
        if ((unsigned char) out->data[i] < 0x20 && out->data[i] != '\t') {
            return OVSA_ERR;
        }
        if (out->data[i] == 0x7f) {
            return OVSA_ERR;
        }
    }

    return OVSA_OK;
}


int
ovsa_sig_base(const ovsa_sig_msg_t *msg, const ovsa_sig_params_t *p,
    char *out, size_t size, size_t *len, ovsa_err_t *err)
{
    int          n;
    char         status[4];
    char         params[OVSA_SIG_INPUT_MAX];
    size_t       i, total, nlen;
    ovsa_str_t         v[OVSA_SIG_NCOMPONENTS];
    const ovsa_str_t  *in[OVSA_SIG_NCOMPONENTS - 1];

    if (msg->status < 100 || msg->status > 999) {
        return ovsa_err_set(err, OVSA_E_SIG_COMPONENTS,
                            "signature base: status %d", msg->status);
    }

    snprintf(status, sizeof(status), "%d", msg->status);
    v[0].data = status;
    v[0].len = 3;

    in[0] = &msg->content_type;
    in[1] = &msg->content_digest;
    in[2] = &msg->nonce;
    in[3] = &msg->method;
    in[4] = &msg->target_uri;

    for (i = 1; i < OVSA_SIG_NCOMPONENTS; i++) {
        if (ovsa_sig_value(*in[i - 1], &v[i]) != OVSA_OK) {
            return ovsa_err_set(err, OVSA_E_SIG_COMPONENTS,
                                "signature base: component \"%s\" is "
                                "absent or holds a control character",
                                ovsa_sig_components[i].name);
        }
    }

    n = ovsa_sig_params_value(p, params, sizeof(params), err);
    if (n < 0) {
        return OVSA_ERR;
    }

    /* "name": value\n  or  "name";req: value\n */
    total = 0;
    for (i = 0; i < OVSA_SIG_NCOMPONENTS; i++) {
        total += strlen(ovsa_sig_components[i].name) + 2
                 + (ovsa_sig_components[i].req ? 4 : 0) + 2 + v[i].len + 1;
    }
    total += sizeof("\"@signature-params\": ") - 1 + n;

    *len = total;

    if (out == NULL || size < total) {
        return OVSA_OK;
    }

    for (i = 0; i < OVSA_SIG_NCOMPONENTS; i++) {
        nlen = strlen(ovsa_sig_components[i].name);
        *out++ = '"';
        memcpy(out, ovsa_sig_components[i].name, nlen);
        out += nlen;
        *out++ = '"';
        if (ovsa_sig_components[i].req) {
            memcpy(out, ";req", 4);
            out += 4;
        }
        *out++ = ':';
        *out++ = ' ';
        memcpy(out, v[i].data, v[i].len);
        out += v[i].len;
        *out++ = '\n';
    }

    memcpy(out, "\"@signature-params\": ", 21);
    memcpy(out + 21, params, n);

    return OVSA_OK;
}


size_t
ovsa_sig_base_max(const ovsa_sig_msg_t *msg)
{
    size_t  i, n;

    /* the component names and separators, then the values */
    n = sizeof("\"@signature-params\": ") + OVSA_SIG_INPUT_MAX + 4;

    for (i = 0; i < OVSA_SIG_NCOMPONENTS; i++) {
        n += strlen(ovsa_sig_components[i].name) + sizeof("\"\";req: \n");
    }

    return n + OVSA_DIGEST_FIELD_LEN + msg->content_type.len
           + msg->content_digest.len + msg->nonce.len + msg->method.len
           + msg->target_uri.len;
}


/* ---- signing: prepare (digest, parameters, base), finish (signature) */

int
ovsa_sig_prepare(const ovsa_signer_t *signer, const ovsa_sig_msg_t *msg,
    const void *body, size_t body_len, time_t now, long ttl, char *digest,
    char *input, char *base, size_t base_size, size_t *base_len,
    ovsa_err_t *err)
{
    ovsa_sig_msg_t     m;
    ovsa_sig_params_t  p;

    if (ovsa_digest_field(body, body_len, digest, err) != OVSA_OK
        || ovsa_sig_params_init(&p, signer, now, ttl, err) != OVSA_OK
        || ovsa_sig_input_field(&p, input, err) != OVSA_OK)
    {
        return OVSA_ERR;
    }

    m = *msg;
    m.content_digest.data = digest;
    m.content_digest.len = OVSA_DIGEST_FIELD_LEN;

    if (ovsa_sig_base(&m, &p, base, base_size, base_len, err) != OVSA_OK) {
        return OVSA_ERR;
    }

    if (base == NULL || *base_len > base_size) {
        return ovsa_err_set(err, OVSA_E_INTERNAL, "signature: base needs "
                            "%zu bytes, %zu given", *base_len, base_size);
    }

    return OVSA_OK;
}


int
ovsa_sig_finish(const ovsa_signer_t *signer, const char *base,
    size_t base_len, char *sig, ovsa_err_t *err)
{
    int             ret;
    size_t          n;
    EVP_MD_CTX     *ctx;
    unsigned char   raw[OVSA_SIG_MAX];

    if (signer->ctx == NULL) {
        return ovsa_err_set(err, OVSA_E_KEY, "signature: no private key "
                            "loaded");
    }

    /* a copy of the context prepared at start: no setup per answer */
    ctx = EVP_MD_CTX_new();
    if (ctx == NULL || EVP_MD_CTX_copy_ex(ctx, signer->ctx) != 1) {
        EVP_MD_CTX_free(ctx);
        return ovsa_err_ssl(err, OVSA_E_NOMEM, "signature: context copy");
    }

    ret = ovsa_alg_sign(ctx, signer->alg, base, base_len, raw, sizeof(raw),
                        &n, err);
    EVP_MD_CTX_free(ctx);

    if (ret == OVSA_OK) {
        memcpy(sig, OVSA_SIG_LABEL "=:", sizeof(OVSA_SIG_LABEL) + 1);
        n = ovsa_b64_encode(raw, n, sig + sizeof(OVSA_SIG_LABEL) + 1, 0);
        memcpy(sig + sizeof(OVSA_SIG_LABEL) + 1 + n, ":", 2);
    }

    OPENSSL_cleanse(raw, sizeof(raw));
    return ret;
}


int
ovsa_sig_sign_response(const ovsa_signer_t *signer,
    const ovsa_sig_msg_t *msg,
    const void *body, size_t body_len, time_t now, long ttl, char *base,
    size_t base_size, size_t *base_len, char *digest, char *input,
    char *sig, ovsa_err_t *err)
{
    if (ovsa_sig_prepare(signer, msg, body, body_len, now, ttl, digest,
                         input, base, base_size, base_len, err) != OVSA_OK)
    {
        return OVSA_ERR;
    }

    return ovsa_sig_finish(signer, base, *base_len, sig, err);
}


/* ---- verifying */

static int
ovsa_sig_keyid_ok(const ovsa_sf_item_t *v)
{
    size_t  i;

    if (v->type != OVSA_SF_STRING || v->len == 0
        || v->len > OVSA_SIG_KEYID_MAX)
    {
        return 0;
    }

    for (i = 0; i < v->len; i++) {
        if (!((v->s[i] >= 'A' && v->s[i] <= 'Z')
              || (v->s[i] >= 'a' && v->s[i] <= 'z')
              || (v->s[i] >= '0' && v->s[i] <= '9')
              || v->s[i] == '-' || v->s[i] == '_'))
        {
            return 0;
        }
    }

    return 1;
}


int
ovsa_sig_parse(ovsa_str_t input, ovsa_str_t signature, ovsa_sig_params_t *p,
    unsigned char *sig, size_t *sig_len, ovsa_err_t *err)
{
    int                rc;
    long               n;
    size_t             i, klen;
    ovsa_sf_t          params, list, ip;
    const char        *key;
    ovsa_sf_item_t     v, item;
    const ovsa_alg_t  *alg;

    memset(p, 0, sizeof(*p));

    if (input.data == NULL || signature.data == NULL) {
        return ovsa_err_set(err, OVSA_E_SIG_MISSING, "signature: no %s field",
                            input.data == NULL ? "Signature-Input"
                                               : "Signature");
    }

    /* Signature: ovsa=:<base64>: */
    rc = ovsa_sf_dict_get(signature.data, signature.len, OVSA_SIG_LABEL, &v,
                          &params);
    if (rc < 0) {
        return ovsa_err_set(err, OVSA_E_SIG_SYNTAX,
                            "signature: Signature is not a structured "
                            "dictionary");
    }

    if (rc == 0) {
        return ovsa_err_set(err, OVSA_E_SIG_MISSING,
                            "signature: Signature has no \"ovsa\" member");
    }

    if (v.type != OVSA_SF_BINARY) {
        return ovsa_err_set(err, OVSA_E_SIG_SYNTAX,
                            "signature: Signature ovsa is not a byte "
                            "sequence");
    }

    n = ovsa_b64_decode(v.s, v.len, sig, OVSA_SIG_MAX);
    if (n <= 0) {
        return ovsa_err_set(err, OVSA_E_SIG_SYNTAX,
                            "signature: Signature ovsa is not base64 of at "
                            "most %d bytes", OVSA_SIG_MAX);
    }

    *sig_len = (size_t) n;

    /* Signature-Input: ovsa=(...);created=..;expires=..;keyid;alg;tag */
    rc = ovsa_sf_dict_get(input.data, input.len, OVSA_SIG_LABEL, &v,
                          &params);
    if (rc < 0) {
        return ovsa_err_set(err, OVSA_E_SIG_SYNTAX,
                            "signature: Signature-Input is not a structured "
                            "dictionary");
    }

    if (rc == 0) {
        return ovsa_err_set(err, OVSA_E_SIG_MISSING,
                            "signature: Signature-Input has no \"ovsa\" "
                            "member");
    }

    if (v.type != OVSA_SF_INNER_LIST) {
        return ovsa_err_set(err, OVSA_E_SIG_SYNTAX,
                            "signature: Signature-Input ovsa is not an "
                            "inner list");
    }

    /* exactly our components, in our order, with exactly our parameters */
    ovsa_sf_list_init(&list, &v);

    for (i = 0; i <= OVSA_SIG_NCOMPONENTS; i++) {
        rc = ovsa_sf_list_next(&list, &item, &ip);
        if (rc < 0) {
            return ovsa_err_set(err, OVSA_E_SIG_SYNTAX,
                                "signature: malformed component list");
        }

        if (i == OVSA_SIG_NCOMPONENTS) {
            if (rc != 0) {
                return ovsa_err_set(err, OVSA_E_SIG_COMPONENTS,
                                    "signature: covers more than the ovsa "
                                    "components");
            }
            break;
        }

        if (rc == 0
            || !ovsa_sf_item_is(&item, OVSA_SF_STRING,
                                ovsa_sig_components[i].name))
        {
            return ovsa_err_set(err, OVSA_E_SIG_COMPONENTS,
                                "signature: component %zu is not \"%s\"",
                                i + 1, ovsa_sig_components[i].name);
        }

        rc = ovsa_sf_param_next(&ip, &key, &klen, &item);
        if (ovsa_sig_components[i].req) {
            if (rc != 1 || klen != 3 || memcmp(key, "req", 3) != 0
                || item.type != OVSA_SF_BOOLEAN || item.num != 1)
            {
                return ovsa_err_set(err, OVSA_E_SIG_COMPONENTS,
                                    "signature: \"%s\" must be ;req",
                                    ovsa_sig_components[i].name);
            }
            rc = ovsa_sf_param_next(&ip, &key, &klen, &item);
        }

        if (rc != 0) {
            return ovsa_err_set(err, OVSA_E_SIG_COMPONENTS,
                                "signature: \"%s\" has unexpected "
                                "parameters", ovsa_sig_components[i].name);
        }
    }

    for (i = 0; i <= 5; i++) {
        rc = ovsa_sf_param_next(&params, &key, &klen, &item);

        if (i == 5) {
            if (rc != 0) {
                return ovsa_err_set(err, OVSA_E_SIG_COMPONENTS,
                                    "signature: parameter \"%.*s\" is not "
                                    "ovsa's", (int) klen, key);
            }
            break;
        }

        if (rc == 0 || klen != strlen(ovsa_sig_param_names[i])
            || memcmp(key, ovsa_sig_param_names[i], klen) != 0)
        {
            return ovsa_err_set(err, OVSA_E_SIG_COMPONENTS,
                                "signature: parameter %zu must be \"%s\"",
                                i + 1, ovsa_sig_param_names[i]);
        }

        switch (i) {

        case 0:
        case 1:
            if (item.type != OVSA_SF_INTEGER || item.num < 0) {
                return ovsa_err_set(err, OVSA_E_SIG_SYNTAX,
                                    "signature: %s is not a time",
                                    ovsa_sig_param_names[i]);
            }
            if (i == 0) {
                p->created = item.num;
            } else {
                p->expires = item.num;
            }
            break;

        case 2:
            if (!ovsa_sig_keyid_ok(&item)) {
                return ovsa_err_set(err, OVSA_E_SIG_SYNTAX,
                                    "signature: keyid is not a base64url "
                                    "string");
            }
            memcpy(p->keyid, item.s, item.len);
            p->keyid[item.len] = '\0';
            break;

        case 3:
            alg = item.type == OVSA_SF_STRING
                  ? ovsa_alg_by_name(OVSA_ALG_HTTPSIG, item.s, item.len)
                  : NULL;
            if (alg == NULL) {
                return ovsa_err_set(err, OVSA_E_SIG_ALG,
                                    "signature: alg \"%.*s\" is not "
                                    "allowed", item.s ? (int) item.len : 0,
                                    item.s ? item.s : "");
            }
            p->alg = alg->name;
            break;

        default:
            if (!ovsa_sf_item_is(&item, OVSA_SF_STRING, OVSA_SIG_TAG)) {
                return ovsa_err_set(err, OVSA_E_SIG_TAG,
                                    "signature: tag \"%.*s\" is not \""
                                    OVSA_SIG_TAG "\"",
                                    item.s ? (int) item.len : 0,
                                    item.s ? item.s : "");
            }
        }
    }

    if (p->expires <= p->created) {
        return ovsa_err_set(err, OVSA_E_SIG_SYNTAX,
                            "signature: expires %lld is not after created "
                            "%lld", p->expires, p->created);
    }

    return OVSA_OK;
}


int
ovsa_sig_check_time(const ovsa_sig_params_t *p, time_t now, long skew,
    ovsa_err_t *err)
{
    if (p->created > (long long) now + skew) {
        return ovsa_err_set(err, OVSA_E_SIG_CREATED, "signature: created "
                            "%lld is %lld s ahead of local time (skew %ld)",
                            p->created, p->created - (long long) now, skew);
    }

    if (p->expires <= (long long) now - skew) {
        return ovsa_err_set(err, OVSA_E_SIG_EXPIRED, "signature: expired "
                            "at %lld, %lld s ago (skew %ld)", p->expires,
                            (long long) now - p->expires, skew);
    }

    return OVSA_OK;
}


int
ovsa_sig_verify_parsed(EVP_PKEY *pub, const ovsa_sig_msg_t *msg,
    const ovsa_sig_params_t *p, const unsigned char *sig, size_t sig_len,
    time_t now, long skew, ovsa_err_t *err)
{
    int                ret;
    char              *base;
    size_t             base_len;
    const ovsa_alg_t  *alg;
    char               keyid[OVSA_KEYID_LEN + 1];

    alg = ovsa_alg_for_key(OVSA_ALG_HTTPSIG, pub, err);
    if (alg == NULL) {
        return OVSA_ERR;
    }

    if (p->alg == NULL || strcmp(alg->name, p->alg) != 0) {
        return ovsa_err_set(err, OVSA_E_SIG_ALG, "signature: alg \"%s\" "
                            "but the leaf key needs \"%s\"",
                            p->alg ? p->alg : "(none)", alg->name);
    }

    if (ovsa_keyid_pkey(pub, keyid, err) != OVSA_OK) {
        return OVSA_ERR;
    }

    if (strcmp(keyid, p->keyid) != 0) {
        return ovsa_err_set(err, OVSA_E_SIG_KEYID, "signature: keyid \"%s\" "
                            "is not the leaf's \"%s\"", p->keyid, keyid);
    }

    if (ovsa_sig_check_time(p, now, skew, err) != OVSA_OK) {
        return OVSA_ERR;
    }

    if (ovsa_sig_base(msg, p, NULL, 0, &base_len, err) != OVSA_OK) {
        if (err != NULL && err->code == OVSA_E_SIG_COMPONENTS) {
            err->code = OVSA_E_SIG_INVALID;
        }
        return OVSA_ERR;
    }

    base = OPENSSL_malloc(base_len);
    if (base == NULL) {
        return ovsa_err_set(err, OVSA_E_NOMEM, "signature: base of %zu "
                            "bytes", base_len);
    }

    ret = ovsa_sig_base(msg, p, base, base_len, &base_len, err);
    if (ret == OVSA_OK) {
        ret = ovsa_alg_verify(alg, pub, base, base_len, sig, sig_len,
                              OVSA_E_SIG_INVALID, err);
    }

    OPENSSL_free(base);
    return ret;
}


int
ovsa_sig_verify(EVP_PKEY *pub, const ovsa_sig_msg_t *msg, ovsa_str_t input,
    ovsa_str_t signature, time_t now, long skew, ovsa_sig_params_t *out,
    ovsa_err_t *err)
{
    size_t             sig_len;
    ovsa_sig_params_t  p;
    unsigned char      sig[OVSA_SIG_MAX];

    if (ovsa_sig_parse(input, signature, &p, sig, &sig_len, err) != OVSA_OK)
    {
        return OVSA_ERR;
    }

    if (out != NULL) {
        *out = p;
    }

    return ovsa_sig_verify_parsed(pub, msg, &p, sig, sig_len, now, skew,
                                  err);
}


int
ovsa_nonce_valid(const char *s, size_t len)
{
    size_t  i;

    if (len < 1 || len > OVSA_SIG_NONCE_MAX) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z')
              || (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_'))
        {
            return 0;
        }
    }

    return 1;
}
