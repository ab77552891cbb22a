/*
 * ovsa_audit.c: the usage audit trail's entries and chains (see
 * ovsa_audit.h, docs/audit.md).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "ovsa_audit.h"


/* One netstring "<len>:<bytes>," at *p (end e); advances *p. */
static int
ovsa_audit_ns(const char **p, const char *e, ovsa_audit_str_t *out)
{
    size_t       n;
    const char  *s;

    s = *p;
    n = 0;
    if (s >= e || *s < '0' || *s > '9' || (*s == '0' && s + 1 < e
                                           && s[1] != ':'))
    {
        return OVSA_ERR;
    }
    while (s < e && *s >= '0' && *s <= '9') {
        if (n > 100000) {
            return OVSA_ERR;
        }
        n = n * 10 + (size_t) (*s++ - '0');
    }
    if (s >= e || *s++ != ':' || (size_t) (e - s) < n + 1 || s[n] != ',') {
        return OVSA_ERR;
    }
    out->p = s;
    out->n = n;
    *p = s + n + 1;
    return OVSA_OK;
}


static int
ovsa_audit_num(const ovsa_audit_str_t *s, long long *out)
{
    size_t     i;
    long long  v;

    if (s->n == 0 || s->n > 18) {
        return OVSA_ERR;
    }
    v = 0;
    for (i = 0; i < s->n; i++) {
        if (s->p[i] < '0' || s->p[i] > '9') {
            return OVSA_ERR;
        }
        v = v * 10 + (s->p[i] - '0');
    }
    *out = v;
    return OVSA_OK;
}


static int
ovsa_audit_hex40(const char *s, size_t n, char out[41])
{
    size_t  i;

    if (n != 40) {
        return OVSA_ERR;
    }
    for (i = 0; i < 40; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
        {
            return OVSA_ERR;
        }
    }
    memcpy(out, s, 40);
    out[40] = '\0';
    return OVSA_OK;
}


int
ovsa_audit_parse(const char *s, size_t len, ovsa_audit_entry_t *e,
    ovsa_err_t *err)
{
    const char        *p, *end;
    ovsa_audit_str_t   f[7];
    int                i;

    memset(e, 0, sizeof(*e));
    end = s + len;

    if (len < 42 || s[40] != ' ' || ovsa_audit_hex40(s, 40, e->hash)
                                    != OVSA_OK)
    {
        return ovsa_err_set(err, OVSA_E_AUDIT_SYNTAX,
                            "audit: entry does not start with a hash");
    }

    e->canon = s + 41;
    e->canon_len = len - 41;
    p = e->canon;

    for (i = 0; i < 7; i++) {
        if (ovsa_audit_ns(&p, end, &f[i]) != OVSA_OK) {
            return ovsa_err_set(err, OVSA_E_AUDIT_SYNTAX,
                                "audit: entry field %d is not a netstring",
                                i + 1);
        }
    }

    if (f[0].n != 2 || memcmp(f[0].p, "v1", 2) != 0) {
        return ovsa_err_set(err, OVSA_E_AUDIT_SYNTAX,
                            "audit: entry version is not v1");
    }
    if (ovsa_audit_num(&f[1], &e->seq) != OVSA_OK || e->seq < 1
        || ovsa_audit_num(&f[2], &e->time) != OVSA_OK
        || ovsa_audit_hex40(f[6].p, f[6].n, e->prev) != OVSA_OK)
    {
        return ovsa_err_set(err, OVSA_E_AUDIT_SYNTAX,
                            "audit: entry seq, time or prev malformed");
    }
    e->license = f[3];
    e->op = f[4];
    e->actor = f[5];

    while (p < end) {
        if (e->ndetail == OVSA_AUDIT_DETAIL_MAX
            || ovsa_audit_ns(&p, end, &e->name[e->ndetail]) != OVSA_OK
            || ovsa_audit_ns(&p, end, &e->value[e->ndetail]) != OVSA_OK)
        {
            return ovsa_err_set(err, OVSA_E_AUDIT_SYNTAX,
                                "audit: entry %lld: detail malformed",
                                e->seq);
        }
        e->ndetail++;
    }

    return OVSA_OK;
}


static void
ovsa_audit_tohex(const unsigned char *md, size_t n, char *out)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        snprintf(&out[2 * i], 3, "%02x", md[i]);
    }
}


static int
ovsa_audit_unhex32(const char *s, unsigned char out[32])
{
    int           i;
    unsigned int  b;

    if (strlen(s) != 64) {
        return OVSA_ERR;
    }
    for (i = 0; i < 32; i++) {
        if (sscanf(&s[2 * i], "%2x", &b) != 1) {
            return OVSA_ERR;
        }
        out[i] = (unsigned char) b;
    }
    return OVSA_OK;
}


static const ovsa_audit_head_t *
ovsa_audit_cp_at(const ovsa_audit_head_t *cps, size_t ncp, long long seq)
{
    size_t  i;

    for (i = 0; i < ncp; i++) {
        if (cps[i].seq == seq) {
            return &cps[i];
        }
    }
    return NULL;
}


int
ovsa_audit_verify(const char *const *entries, const size_t *lens,
    size_t n, const ovsa_audit_head_t *cps, size_t ncp, const char *license,
    ovsa_audit_head_t *head, size_t *bad, ovsa_err_t *err)
{
    size_t                    i, j;
    char                      h[41];
    long long                 expect, seq;
    unsigned char             d[32], md[SHA_DIGEST_LENGTH], buf[32];
    EVP_MD_CTX               *ctx;
    ovsa_audit_entry_t        e, later;
    const ovsa_audit_head_t  *cp;

    memset(head, 0, sizeof(*head));
    memset(d, 0, sizeof(d));
    memset(h, '0', 40);
    h[40] = '\0';
    expect = 1;
    if (bad != NULL) {
        *bad = 0;
    }

    /* the anchor: seq 1, or the checkpoint right before the first entry */
    if (n > 0) {
        if (ovsa_audit_parse(entries[0], lens[0], &e, err) != OVSA_OK) {
            return OVSA_ERR;
        }
        if (e.seq > 1) {
            cp = ovsa_audit_cp_at(cps, ncp, e.seq - 1);
            if (cp == NULL || ovsa_audit_unhex32(cp->digest, d) != OVSA_OK) {
                return ovsa_err_set(err, OVSA_E_AUDIT_GAP,
                                    "audit: the chain starts at seq %lld "
                                    "without a checkpoint at %lld "
                                    "(entries before it were removed)",
                                    e.seq, e.seq - 1);
            }
            memcpy(h, cp->hash, 41);
            expect = e.seq;
            *head = *cp;
        }
    }

    ctx = EVP_MD_CTX_new();
    if (ctx == NULL) {
        return ovsa_err_set(err, OVSA_E_NOMEM, "audit: out of memory");
    }

    for (i = 0; i < n; i++) {
        if (bad != NULL) {
            *bad = i;
        }
        if (ovsa_audit_parse(entries[i], lens[i], &e, err) != OVSA_OK) {
            goto failed;
        }
        if (license != NULL && (e.license.n != strlen(license)
                                || memcmp(e.license.p, license, e.license.n)
                                   != 0))
        {
            ovsa_err_set(err, OVSA_E_AUDIT_SYNTAX, "audit: entry %lld is "
                         "of another license", e.seq);
            goto failed;
        }

        if (e.seq != expect) {
            seq = e.seq;
            if (seq > expect) {
                for (j = i + 1; j < n; j++) {
                    if (ovsa_audit_parse(entries[j], lens[j], &later, NULL)
                        == OVSA_OK && later.seq == expect)
                    {
                        break;
                    }
                }
                if (j == n) {
                    ovsa_err_set(err, OVSA_E_AUDIT_GAP, "audit: entry %lld "
                                 "is missing (the next is %lld)", expect,
                                 seq);
                    goto failed;
                }
            }
            ovsa_err_set(err, OVSA_E_AUDIT_ORDER, "audit: entry %lld is "
                         "where entry %lld belongs", seq, expect);
            goto failed;
        }

        SHA1((const unsigned char *) e.canon, e.canon_len, md);
        ovsa_audit_tohex(md, SHA_DIGEST_LENGTH, head->hash);
        if (strcmp(head->hash, e.hash) != 0) {
            ovsa_err_set(err, OVSA_E_AUDIT_HASH, "audit: entry %lld: its "
                         "content does not match its hash", e.seq);
            goto failed;
        }
        if (strcmp(e.prev, h) != 0) {
            ovsa_err_set(err, OVSA_E_AUDIT_HASH, "audit: entry %lld: prev "
                         "is not the hash of entry %lld", e.seq, e.seq - 1);
            goto failed;
        }

        if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1
            || EVP_DigestUpdate(ctx, d, 32) != 1
            || EVP_DigestUpdate(ctx, e.canon, e.canon_len) != 1
            || EVP_DigestFinal_ex(ctx, buf, NULL) != 1)
        {
            ovsa_err_ssl(err, OVSA_E_INTERNAL, "audit: sha256");
            goto failed;
        }
        memcpy(d, buf, 32);

        memcpy(h, e.hash, 41);
        head->seq = e.seq;
        head->time = e.time;
        ovsa_audit_tohex(d, 32, head->digest);

        cp = ovsa_audit_cp_at(cps, ncp, e.seq);
        if (cp != NULL && (strcmp(cp->hash, head->hash) != 0
                           || strcmp(cp->digest, head->digest) != 0))
        {
            ovsa_err_set(err, OVSA_E_AUDIT_CHECKPOINT, "audit: entry %lld "
                         "differs from the checkpoint at that seq (the "
                         "entries up to it were rewritten)", e.seq);
            goto failed;
        }

        expect++;
    }

    EVP_MD_CTX_free(ctx);

    for (i = 0; i < ncp; i++) {
        if (cps[i].seq > head->seq) {
            if (bad != NULL) {
                *bad = n;
            }
            return ovsa_err_set(err, OVSA_E_AUDIT_GAP, "audit: a checkpoint "
                                "covers seq %lld, the chain ends at %lld "
                                "(entries were removed from its end)",
                                cps[i].seq, head->seq);
        }
    }

    return OVSA_OK;

failed:

    EVP_MD_CTX_free(ctx);
    return OVSA_ERR;
}
