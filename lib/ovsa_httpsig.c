/*
 * ovsa_httpsig.c: RFC 9530 Content-Digest and the ovsa profile of RFC 9421
 * HTTP Message Signatures (see ovsa_httpsig.h and docs/signatures.md).
 */

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "ovsa_httpsig.h"
#include "ovsa_httpsig_int.h"
#include "ovsa_pin.h"
#include "ovsa_sf.h"


/*
 * The covered components of an answer, in signing order (RFC 9421
 * section 2.5); the last, the request's Content-Digest, is covered exactly
 * when the request carried one.
 */
static const ovsa_sig_comp_t  ovsa_sig_components[] = {
    { "@status", 0 },
    { "content-type", 0 },
    { "content-digest", 0 },
    { "ovsa-nonce", 1 },
    { "@method", 1 },
    { "@target-uri", 1 },
    { "content-digest", 1 },
};

#define OVSA_SIG_NCOMPONENTS                                                  \
    (sizeof(ovsa_sig_components) / sizeof(ovsa_sig_components[0]))

static const ovsa_sig_profile_t  ovsa_sig_answer = {
    ovsa_sig_components, OVSA_SIG_NCOMPONENTS, 1, 1, OVSA_SIG_TAG, 1
};

/* the number of components p covers */
#define ovsa_sig_ncomp(p)                                                     \
    ((p)->req_digest ? OVSA_SIG_NCOMPONENTS : OVSA_SIG_NCOMPONENTS - 1)


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
    p->batch = signer->batch;
    memcpy(p->keyid, signer->keyid, sizeof(p->keyid));
    p->created = (long long) now;
    p->expires = (long long) now + ttl;

    return OVSA_OK;
}


/* appends printf output to out[size] at *n; OVSA_ERR when it does not fit */
static int
ovsa_sig_append(char *out, size_t size, size_t *n, const char *fmt, ...)
{
    int      k;
    va_list  ap;

    if (*n >= size) {
        return OVSA_ERR;
    }

    va_start(ap, fmt);
    k = vsnprintf(out + *n, size - *n, fmt, ap);
    va_end(ap);

    if (k < 0 || (size_t) k >= size - *n) {
        *n = size;
        return OVSA_ERR;
    }

    *n += (size_t) k;
    return OVSA_OK;
}


/* the value of "@signature-params" and of the Signature-Input member */
static int
ovsa_sig_params_value(const ovsa_sig_profile_t *pf, size_t ncomp,
    const ovsa_sig_params_t *p, char *out, size_t size, ovsa_err_t *err)
{
    int     rc;
    size_t  i, n;

    if (p->alg == NULL || p->keyid[0] == '\0'
        || strpbrk(p->keyid, "\"\\") != NULL)
    {
        return ovsa_err_set(err, OVSA_E_INTERNAL,
                            "signature: incomplete parameters");
    }

    if (ncomp == 0 || ncomp > pf->ncomp || ncomp + pf->nopt < pf->ncomp) {
        return ovsa_err_set(err, OVSA_E_INTERNAL,
                            "signature: %zu components for the profile",
                            ncomp);
    }

    n = 0;
    rc = OVSA_OK;

    for (i = 0; i < ncomp && rc == OVSA_OK; i++) {
        rc = ovsa_sig_append(out, size, &n, "%s\"%s\"%s", i ? " " : "(",
                             pf->comp[i].name, pf->comp[i].req ? ";req" : "");
    }

    if (rc == OVSA_OK) {
        rc = pf->expires
             ? ovsa_sig_append(out, size, &n, ");created=%lld;expires=%lld",
                               p->created, p->expires)
             : ovsa_sig_append(out, size, &n, ");created=%lld", p->created);
    }

    if (rc == OVSA_OK) {
        rc = ovsa_sig_append(out, size, &n,
                             ";keyid=\"%s\";alg=\"%s%s\";tag=\"%s\"",
                             p->keyid, p->batch ? OVSA_BATCH_ALG_PREFIX : "",
                             p->alg, pf->tag);
    }

    if (rc != OVSA_OK) {
        return ovsa_err_set(err, OVSA_E_INTERNAL,
                            "signature: parameters too long");
    }

    return (int) n;
}


int
ovsa_sig_profile_input(const ovsa_sig_profile_t *pf, size_t ncomp,
    const ovsa_sig_params_t *p, char *out, ovsa_err_t *err)
{
    memcpy(out, OVSA_SIG_LABEL "=", sizeof(OVSA_SIG_LABEL));

    if (ovsa_sig_params_value(pf, ncomp, p, out + sizeof(OVSA_SIG_LABEL),
                              OVSA_SIG_INPUT_MAX - sizeof(OVSA_SIG_LABEL),
                              err) < 0)
    {
        return OVSA_ERR;
    }

    return OVSA_OK;
}


int
ovsa_sig_input_field(const ovsa_sig_params_t *p, char *out, ovsa_err_t *err)
{
    return ovsa_sig_profile_input(&ovsa_sig_answer, ovsa_sig_ncomp(p), p,
                                  out, err);
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
ovsa_sig_profile_base(const ovsa_sig_profile_t *pf, size_t ncomp,
    const ovsa_str_t *in, const ovsa_sig_params_t *p, char *out, size_t size,
    size_t *len, ovsa_err_t *err)
{
    int          n;
    char         params[OVSA_SIG_INPUT_MAX];
    size_t       i, total, nlen;
    ovsa_str_t   v[OVSA_SIG_PROFILE_MAX];

    if (ncomp > OVSA_SIG_PROFILE_MAX) {
        return ovsa_err_set(err, OVSA_E_INTERNAL,
                            "signature base: %zu components", ncomp);
    }

    for (i = 0; i < ncomp && i < pf->ncomp; i++) {
        if (ovsa_sig_value(in[i], &v[i]) != OVSA_OK) {
            return ovsa_err_set(err, OVSA_E_SIG_COMPONENTS,
                                "signature base: component \"%s\"%s is "
                                "absent or holds a control character",
                                pf->comp[i].name,
                                pf->comp[i].req ? ";req" : "");
        }
    }

    n = ovsa_sig_params_value(pf, ncomp, p, params, sizeof(params), err);
    if (n < 0) {
        return OVSA_ERR;
    }

    /* "name": value\n  or  "name";req: value\n */
    total = 0;
    for (i = 0; i < ncomp; i++) {
        total += strlen(pf->comp[i].name) + 2 + (pf->comp[i].req ? 4 : 0)
                 + 2 + v[i].len + 1;
    }
    total += sizeof("\"@signature-params\": ") - 1 + n;

    *len = total;

    if (out == NULL || size < total) {
        return OVSA_OK;
    }

    for (i = 0; i < ncomp; i++) {
        nlen = strlen(pf->comp[i].name);
        *out++ = '"';
        memcpy(out, pf->comp[i].name, nlen);
        out += nlen;
        *out++ = '"';
        if (pf->comp[i].req) {
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


int
ovsa_sig_check_components(const ovsa_sig_msg_t *msg,
    const ovsa_sig_params_t *p, ovsa_err_t *err)
{
    /* "content-digest";req: exactly when the request carried one */
    if ((msg->req_content_digest.data != NULL) != (p->req_digest != 0)) {
        return ovsa_err_set(err, OVSA_E_SIG_COMPONENTS,
                            "signature: the request carried %s "
                            "Content-Digest but the signature %s "
                            "\"content-digest\";req",
                            p->req_digest ? "no" : "a",
                            p->req_digest ? "covers" : "does not cover");
    }

    return OVSA_OK;
}


int
ovsa_sig_base(const ovsa_sig_msg_t *msg, const ovsa_sig_params_t *p,
    char *out, size_t size, size_t *len, ovsa_err_t *err)
{
    char        status[4];
    ovsa_str_t  v[OVSA_SIG_NCOMPONENTS];

    if (msg->status < 100 || msg->status > 999) {
        return ovsa_err_set(err, OVSA_E_SIG_COMPONENTS,
                            "signature base: status %d", msg->status);
    }

    if (ovsa_sig_check_components(msg, p, err) != OVSA_OK) {
        return OVSA_ERR;
    }

    snprintf(status, sizeof(status), "%d", msg->status);
    v[0].data = status;
    v[0].len = 3;
    v[1] = msg->content_type;
    v[2] = msg->content_digest;
    v[3] = msg->nonce;
    v[4] = msg->method;
    v[5] = msg->target_uri;
    v[6] = msg->req_content_digest;

    return ovsa_sig_profile_base(&ovsa_sig_answer, ovsa_sig_ncomp(p), v, p,
                                 out, size, len, err);
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
           + msg->target_uri.len + msg->req_content_digest.len;
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
        || ovsa_sig_params_init(&p, signer, now, ttl, err) != OVSA_OK)
    {
        return OVSA_ERR;
    }

    /* the request's Content-Digest is covered when it carried one */
    p.req_digest = (msg->req_content_digest.data != NULL);

    if (ovsa_sig_input_field(&p, input, err) != OVSA_OK) {
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

    /* a batch base is never signed by itself: its leaf goes in a tree */
    if (signer->batch) {
        return ovsa_err_set(err, OVSA_E_INTERNAL, "signature: a batch "
                            "signer signs roots (ovsa_sig_batch_sign)");
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
ovsa_sig_batch_sign(const ovsa_signer_t *signer, size_t size,
    const unsigned char *root, unsigned char *raw, size_t *raw_len,
    ovsa_err_t *err)
{
    int             ret;
    EVP_MD_CTX     *ctx;
    unsigned char   msg[OVSA_BATCH_MSG_LEN];

    if (signer->ctx == NULL) {
        return ovsa_err_set(err, OVSA_E_KEY, "batch: no private key "
                            "loaded");
    }

    if (size == 0 || size > OVSA_BATCH_MAX) {
        return ovsa_err_set(err, OVSA_E_INTERNAL, "batch: tree size %zu",
                            size);
    }

    ovsa_batch_root_msg(size, root, msg);

    ctx = EVP_MD_CTX_new();
    if (ctx == NULL || EVP_MD_CTX_copy_ex(ctx, signer->ctx) != 1) {
        EVP_MD_CTX_free(ctx);
        return ovsa_err_ssl(err, OVSA_E_NOMEM, "batch: context copy");
    }

    ret = ovsa_alg_sign(ctx, signer->alg, msg, sizeof(msg), raw,
                        OVSA_SIG_MAX, raw_len, err);
    EVP_MD_CTX_free(ctx);

    return ret;
}


int
ovsa_sig_batch_field(const unsigned char *raw, size_t raw_len,
    const ovsa_batch_proof_t *bp, char *out, ovsa_err_t *err)
{
    size_t  n;

    if (raw_len == 0 || raw_len > OVSA_SIG_MAX
        || bp->proof_len > OVSA_BATCH_PROOF_MAX
        || bp->proof_len % OVSA_BATCH_HASH_LEN != 0)
    {
        return ovsa_err_set(err, OVSA_E_INTERNAL, "batch: field values "
                            "out of range");
    }

    /* ovsa=:<root signature>:;size=N;index=I;leaf=:..:;root=:..:;proof=: */
    n = 0;
    memcpy(out, OVSA_SIG_LABEL "=:", sizeof(OVSA_SIG_LABEL) + 1);
    n += sizeof(OVSA_SIG_LABEL) + 1;
    n += ovsa_b64_encode(raw, raw_len, out + n, 0);

    n += sprintf(out + n, ":;size=%zu;index=%zu;leaf=:", bp->size,
                 bp->index);
    n += ovsa_b64_encode(bp->leaf, OVSA_BATCH_HASH_LEN, out + n, 0);

    memcpy(out + n, ":;root=:", 8);
    n += 8;
    n += ovsa_b64_encode(bp->root, OVSA_BATCH_HASH_LEN, out + n, 0);

    memcpy(out + n, ":;proof=:", 9);
    n += 9;
    n += ovsa_b64_encode(bp->proof, bp->proof_len, out + n, 0);

    memcpy(out + n, ":", 2);

    return OVSA_OK;
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


/*
 * The parameters of the Signature member of a batch signature, exactly
 * these in this order: size, index (integers), leaf, root (32-byte byte
 * sequences), proof (a byte sequence of 0..DEPTH_MAX hashes).  The proof
 * itself is checked against size and index when verified.
 */
static int
ovsa_sig_batch_parse(ovsa_sf_t *params, ovsa_batch_proof_t *bp,
    ovsa_err_t *err)
{
    int              rc;
    long             n;
    size_t           i, klen;
    const char      *key;
    ovsa_sf_item_t   item;

    static const char  *names[] = { "size", "index", "leaf", "root",
                                    "proof" };

    memset(bp, 0, sizeof(*bp));

    for (i = 0; i <= 5; i++) {
        rc = ovsa_sf_param_next(params, &key, &klen, &item);

        if (rc < 0) {
            return ovsa_err_set(err, OVSA_E_BATCH_PROOF, "batch: malformed "
                                "parameters of the Signature member");
        }

        if (i == 5) {
            if (rc != 0) {
                return ovsa_err_set(err, OVSA_E_BATCH_PROOF, "batch: "
                                    "parameter \"%.*s\" is not the "
                                    "profile's", (int) klen, key);
            }
            break;
        }

        if (rc == 0 || klen != strlen(names[i])
            || memcmp(key, names[i], klen) != 0)
        {
            return ovsa_err_set(err, OVSA_E_BATCH_PROOF, "batch: parameter "
                                "%zu of the Signature member must be "
                                "\"%s\"", i + 1, names[i]);
        }

        if (i < 2) {
            if (item.type != OVSA_SF_INTEGER || item.num < 0
                || item.num > OVSA_BATCH_MAX)
            {
                return ovsa_err_set(err, OVSA_E_BATCH_PROOF, "batch: %s is "
                                    "not an integer 0..%d", names[i],
                                    OVSA_BATCH_MAX);
            }
            if (i == 0) {
                bp->size = (size_t) item.num;
            } else {
                bp->index = (size_t) item.num;
            }
            continue;
        }

        if (item.type != OVSA_SF_BINARY) {
            return ovsa_err_set(err, OVSA_E_BATCH_PROOF, "batch: %s is not a "
                                "byte sequence", names[i]);
        }

        if (i == 4) {
            n = item.len == 0 ? 0
                : ovsa_b64_decode(item.s, item.len, bp->proof,
                                  sizeof(bp->proof));
            if (n < 0 || n % OVSA_BATCH_HASH_LEN != 0) {
                return ovsa_err_set(err, OVSA_E_BATCH_PROOF, "batch: the "
                                    "proof is not up to %d hashes of %d "
                                    "bytes", OVSA_BATCH_DEPTH_MAX,
                                    OVSA_BATCH_HASH_LEN);
            }
            bp->proof_len = (size_t) n;
            continue;
        }

        n = ovsa_b64_decode(item.s, item.len, i == 2 ? bp->leaf : bp->root,
                            OVSA_BATCH_HASH_LEN);
        if (n != OVSA_BATCH_HASH_LEN) {
            return ovsa_err_set(err, OVSA_E_BATCH_PROOF, "batch: %s is not "
                                "a %d-byte hash", names[i],
                                OVSA_BATCH_HASH_LEN);
        }
    }

    if (bp->size == 0 || bp->index >= bp->size) {
        return ovsa_err_set(err, OVSA_E_BATCH_PROOF, "batch: leaf index %zu "
                            "of a tree of %zu", bp->index, bp->size);
    }

    return OVSA_OK;
}


int
ovsa_sig_profile_parse(const ovsa_sig_profile_t *pf, ovsa_str_t input,
    ovsa_str_t signature, ovsa_sig_params_t *p, size_t *ncomp,
    unsigned char *sig, size_t *sig_len, ovsa_err_t *err)
{
    int                rc;
    long               n;
    size_t             i, klen, nnames, plen;
    ovsa_sf_t          params, sparams, list, ip;
    const char        *key, *name;
    ovsa_sf_item_t     v, item;
    const ovsa_alg_t  *alg;

    static const char  *names[] = {
        "created", "expires", "keyid", "alg", "tag"
    };

    static const char  *names_noexp[] = {
        "created", "keyid", "alg", "tag"
    };

    memset(p, 0, sizeof(*p));
    *ncomp = 0;

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
    sparams = params;           /* the batch profile's, read below */

    /* Signature-Input: ovsa=(...);created=..;[expires=..;]keyid;alg;tag */
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

    /*
     * exactly our components, in our order, with exactly our parameters;
     * the optional last ones all or none
     */
    ovsa_sf_list_init(&list, &v);

    for (i = 0; i <= pf->ncomp; i++) {
        rc = ovsa_sf_list_next(&list, &item, &ip);
        if (rc < 0) {
            return ovsa_err_set(err, OVSA_E_SIG_SYNTAX,
                                "signature: malformed component list");
        }

        if (i == pf->ncomp) {
            if (rc != 0) {
                return ovsa_err_set(err, OVSA_E_SIG_COMPONENTS,
                                    "signature: covers more than the ovsa "
                                    "components");
            }
            break;
        }

        if (rc == 0 && i == pf->ncomp - pf->nopt) {
            break;                      /* without the optional ones */
        }

        if (rc == 0
            || !ovsa_sf_item_is(&item, OVSA_SF_STRING, pf->comp[i].name))
        {
            return ovsa_err_set(err, OVSA_E_SIG_COMPONENTS,
                                "signature: component %zu is not \"%s\"%s",
                                i + 1, pf->comp[i].name,
                                pf->comp[i].req ? ";req" : "");
        }

        rc = ovsa_sf_param_next(&ip, &key, &klen, &item);
        if (pf->comp[i].req) {
            if (rc != 1 || klen != 3 || memcmp(key, "req", 3) != 0
                || item.type != OVSA_SF_BOOLEAN || item.num != 1)
            {
                return ovsa_err_set(err, OVSA_E_SIG_COMPONENTS,
                                    "signature: \"%s\" (component %zu) must "
                                    "be ;req", pf->comp[i].name, i + 1);
            }
            rc = ovsa_sf_param_next(&ip, &key, &klen, &item);
        }

        if (rc != 0) {
            return ovsa_err_set(err, OVSA_E_SIG_COMPONENTS,
                                "signature: \"%s\" (component %zu) has "
                                "unexpected parameters", pf->comp[i].name,
                                i + 1);
        }
    }

    *ncomp = i;

    nnames = pf->expires ? 5 : 4;

    for (i = 0; i <= nnames; i++) {
        rc = ovsa_sf_param_next(&params, &key, &klen, &item);

        if (i == nnames) {
            if (rc != 0) {
                return ovsa_err_set(err, OVSA_E_SIG_COMPONENTS,
                                    "signature: parameter \"%.*s\" is not "
                                    "ovsa's", (int) klen, key);
            }
            break;
        }

        name = pf->expires ? names[i] : names_noexp[i];

        if (rc == 0 || klen != strlen(name)
            || memcmp(key, name, klen) != 0)
        {
            return ovsa_err_set(err, OVSA_E_SIG_COMPONENTS,
                                "signature: parameter %zu must be \"%s\"",
                                i + 1, name);
        }

        if (strcmp(name, "created") == 0 || strcmp(name, "expires") == 0) {
            if (item.type != OVSA_SF_INTEGER || item.num < 0) {
                return ovsa_err_set(err, OVSA_E_SIG_SYNTAX,
                                    "signature: %s is not a time", name);
            }
            if (name[0] == 'c') {
                p->created = item.num;
            } else {
                p->expires = item.num;
            }

        } else if (strcmp(name, "keyid") == 0) {
            if (!ovsa_sig_keyid_ok(&item)) {
                return ovsa_err_set(err, OVSA_E_SIG_SYNTAX,
                                    "signature: keyid is not a base64url "
                                    "string");
            }
            memcpy(p->keyid, item.s, item.len);
            p->keyid[item.len] = '\0';

        } else if (strcmp(name, "alg") == 0) {
            plen = sizeof(OVSA_BATCH_ALG_PREFIX) - 1;

            if (pf->batch && item.type == OVSA_SF_STRING
                && item.len >= plen
                && memcmp(item.s, OVSA_BATCH_ALG_PREFIX, plen) == 0)
            {
                alg = ovsa_alg_by_name(OVSA_ALG_HTTPSIG, item.s + plen,
                                       item.len - plen);
                if (alg == NULL) {
                    return ovsa_err_set(err, OVSA_E_BATCH_ALG,
                                        "signature: batch alg \"%.*s\" is "
                                        "not known", (int) item.len, item.s);
                }
                p->batch = 1;

            } else {
                alg = item.type == OVSA_SF_STRING
                      ? ovsa_alg_by_name(OVSA_ALG_HTTPSIG, item.s, item.len)
                      : NULL;
            }

            if (alg == NULL) {
                return ovsa_err_set(err, OVSA_E_SIG_ALG,
                                    "signature: alg \"%.*s\" is not "
                                    "allowed", item.s ? (int) item.len : 0,
                                    item.s ? item.s : "");
            }
            p->alg = alg->name;

        } else if (!ovsa_sf_item_is(&item, OVSA_SF_STRING, pf->tag)) {
            return ovsa_err_set(err, OVSA_E_SIG_TAG,
                                "signature: tag \"%.*s\" is not \"%s\"",
                                item.s ? (int) item.len : 0,
                                item.s ? item.s : "", pf->tag);
        }
    }

    if (pf->expires && p->expires <= p->created) {
        return ovsa_err_set(err, OVSA_E_SIG_SYNTAX,
                            "signature: expires %lld is not after created "
                            "%lld", p->expires, p->created);
    }

    if (p->batch) {
        return ovsa_sig_batch_parse(&sparams, &p->bp, err);
    }

    return OVSA_OK;
}


int
ovsa_sig_parse(ovsa_str_t input, ovsa_str_t signature, ovsa_sig_params_t *p,
    unsigned char *sig, size_t *sig_len, ovsa_err_t *err)
{
    size_t  ncomp;

    if (ovsa_sig_profile_parse(&ovsa_sig_answer, input, signature, p, &ncomp,
                               sig, sig_len, err)
        != OVSA_OK)
    {
        return OVSA_ERR;
    }

    p->req_digest = (ncomp == OVSA_SIG_NCOMPONENTS);

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


/*
 * The last step of the batch profile: the answer's base is the leaf, the
 * proof leads from the leaf to the root, the token signed the root.
 */
static int
ovsa_sig_batch_verify(const ovsa_alg_t *alg, EVP_PKEY *pub,
    const char *base, size_t base_len, const ovsa_batch_proof_t *bp,
    const unsigned char *sig, size_t sig_len, ovsa_err_t *err)
{
    unsigned char  leaf[OVSA_BATCH_HASH_LEN], root[OVSA_BATCH_HASH_LEN];
    unsigned char  msg[OVSA_BATCH_MSG_LEN];

    if (ovsa_batch_leaf(base, base_len, leaf, err) != OVSA_OK) {
        return OVSA_ERR;
    }

    if (!ovsa_memeq_ct(leaf, sizeof(leaf), bp->leaf, sizeof(bp->leaf))) {
        return ovsa_err_set(err, OVSA_E_BATCH_LEAF, "batch: this answer "
                            "does not hash to the leaf of its proof (the "
                            "answer or its request was altered)");
    }

    if (ovsa_batch_root_from_proof(leaf, bp->index, bp->size, bp->proof,
                                   bp->proof_len, root, err)
        != OVSA_OK)
    {
        return OVSA_ERR;
    }

    if (!ovsa_memeq_ct(root, sizeof(root), bp->root, sizeof(bp->root))) {
        return ovsa_err_set(err, OVSA_E_BATCH_ROOT, "batch: the proof of "
                            "leaf %zu of %zu does not lead to the root "
                            "(a proof of another answer)", bp->index,
                            bp->size);
    }

    ovsa_batch_root_msg(bp->size, root, msg);

    return ovsa_alg_verify(alg, pub, msg, sizeof(msg), sig, sig_len,
                           OVSA_E_BATCH_SIG, err);
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

    /* 6 or 7 components, as the request was sent */
    if (ovsa_sig_check_components(msg, p, err) != OVSA_OK) {
        return OVSA_ERR;
    }

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
        ret = p->batch
              ? ovsa_sig_batch_verify(alg, pub, base, base_len, &p->bp, sig,
                                      sig_len, err)
              : ovsa_alg_verify(alg, pub, base, base_len, sig, sig_len,
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
