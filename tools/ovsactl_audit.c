/*
 * ovsactl_audit.c: ovsactl audit export|verify|checkpoint, the usage
 * audit trail (docs/audit.md).
 *
 *   export      the entries of one license, optionally of a period, as
 *               JSON lines or CSV (what an ISV's true-up reads)
 *   verify      the chain of one or every license: a removed entry is
 *               AUDIT_GAP, a moved one AUDIT_ORDER, an altered one
 *               AUDIT_HASH, a rewritten history AUDIT_CHECKPOINT, a
 *               checkpoint whose signature does not verify with the
 *               server identity (chain to -root) AUDIT_CHECKPOINT_SIG;
 *               exit 3 (unverified) with that code
 *   checkpoint  asks nginx (-sign-url, the admin location with ovsa_sign
 *               on) for each license's chain head, verifies the signed
 *               answer, and stores it with the backend as a checkpoint
 */

#define _GNU_SOURCE            /* strptime, timegm */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "ovsa_audit.h"
#include "ovsa_b64.h"
#include "ovsa_err.h"
#include "ovsa_httpsig.h"
#include "ovsa_opt.h"
#include "ovsa_x509.h"
#include "ovsactl.h"

enum {
    OPT_LICENSE = 1, OPT_FROM, OPT_TO, OPT_FORMAT, OPT_ROOT, OPT_SIGN_URL,
    OPT_ALL
};

static const ovsa_opt_t  audit_export_opts[] = {
    { "license", NULL, OPT_LICENSE, OVSA_OPT_STR, "ID", "the license" },
    { "from", NULL, OPT_FROM, OVSA_OPT_STR, "T",
      "entries at or after T (unix seconds or YYYY-MM-DD[THH:MM:SSZ])" },
    { "to", NULL, OPT_TO, OVSA_OPT_STR, "T", "entries before T" },
    { "format", NULL, OPT_FORMAT, OVSA_OPT_STR, "jsonl|csv",
      "output format (default jsonl)" },
    { NULL, NULL, 0, 0, NULL, NULL }
};

static const ovsa_opt_t  audit_verify_opts[] = {
    { "license", NULL, OPT_LICENSE, OVSA_OPT_STR, "ID",
      "one license (default: every license)" },
    { "root", NULL, OPT_ROOT, OVSA_OPT_STR, "FILE",
      "vendor root the checkpoints' signing chain must end in (needed "
      "when a license has checkpoints)" },
    { NULL, NULL, 0, 0, NULL, NULL }
};

static const ovsa_opt_t  audit_cp_opts[] = {
    { "sign-url", NULL, OPT_SIGN_URL, OVSA_OPT_STR, "URL",
      "nginx's admin server, https://host:port: GET .../audit/head there "
      "is signed (ovsa_sign on)" },
    { "root", NULL, OPT_ROOT, OVSA_OPT_STR, "FILE",
      "vendor root: TLS to -sign-url and the answer's signing chain" },
    { "license", NULL, OPT_LICENSE, OVSA_OPT_STR, "ID",
      "one license (default: every license)" },
    { "all", NULL, OPT_ALL, OVSA_OPT_FLAG, NULL,
      "every license with new entries, not only those with "
      "audit.checkpoint_every of them" },
    { NULL, NULL, 0, 0, NULL, NULL }
};

#define AUDIT_EXITS                                                           \
    (OVSA_EXIT_BIT(OVSA_EXIT_OK) | OVSA_EXIT_BIT(OVSA_EXIT_ERROR)             \
     | OVSA_EXIT_BIT(OVSA_EXIT_USAGE) | OVSA_EXIT_BIT(OVSA_EXIT_UNVERIFIED)   \
     | OVSA_EXIT_BIT(OVSA_EXIT_UNREACHABLE)                                   \
     | OVSA_EXIT_BIT(OVSA_EXIT_REFUSED))

static const ovsa_opt_prog_t  audit_export_prog = {
    PROG " audit export", "-license ID [-from T] [-to T] "
    "[-format jsonl|csv]", audit_export_opts, NULL, AUDIT_EXITS
};

static const ovsa_opt_prog_t  audit_verify_prog = {
    PROG " audit verify", "[-license ID] [-root FILE]", audit_verify_opts,
    NULL, AUDIT_EXITS
};

static const ovsa_opt_prog_t  audit_cp_prog = {
    PROG " audit checkpoint", "-sign-url URL -root FILE [-license ID] "
    "[-all]", audit_cp_opts, NULL, AUDIT_EXITS
};

typedef struct {
    char    *data;
    size_t   len;
} audit_buf_t;


static const char *
jstr(json_t *o, const char *name)
{
    const char  *s;

    s = json_string_value(json_object_get(o, name));
    return s ? s : "";
}


/* "1700000000", "2026-12-01" or "2026-12-01T10:00:00Z"; -1 if neither */
static long long
audit_time(const char *s)
{
    char       *end;
    long long   v;
    struct tm   tm;

    v = strtoll(s, &end, 10);
    if (*s != '\0' && *end == '\0' && strlen(s) > 8) {
        return v;
    }
    memset(&tm, 0, sizeof(tm));
    end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (end == NULL || *end != '\0') {
        memset(&tm, 0, sizeof(tm));
        end = strptime(s, "%Y-%m-%d", &tm);
        if (end == NULL || *end != '\0') {
            return -1;
        }
    }
    return (long long) timegm(&tm);
}


/* GET /admin/v1/licenses/ID/audit; NULL after printing (c->fail set) */
static json_t *
audit_fetch(ovsactl_t *c, const char *id)
{
    int      rc, json;
    char     path[512], *text;
    json_t  *ans;

    snprintf(path, sizeof(path), "/admin/v1/licenses/%s/audit", id);
    ans = ovsactl_call(c, "GET", path, NULL, 0, &text);
    if (ans == NULL) {
        return NULL;
    }
    /* the raw answer is not printed with -json: the command prints */
    json = c->json;
    c->json = 0;
    rc = ovsactl_done(c, ans, text, id);
    c->json = json;
    free(text);
    if (rc != OVSA_EXIT_OK) {
        json_decref(ans);
        c->fail = rc;
        return NULL;
    }
    return ans;
}


/* An entry as a JSON object (export). */
static json_t *
audit_entry_json(const ovsa_audit_entry_t *e)
{
    int      i;
    json_t  *o, *d;

    o = json_object();
    d = json_object();
    json_object_set_new(o, "license_id",
                        json_stringn(e->license.p, e->license.n));
    json_object_set_new(o, "seq", json_integer(e->seq));
    json_object_set_new(o, "time", json_integer(e->time));
    json_object_set_new(o, "op", json_stringn(e->op.p, e->op.n));
    json_object_set_new(o, "actor", json_stringn(e->actor.p, e->actor.n));
    for (i = 0; i < e->ndetail; i++) {
        char  name[64];

        snprintf(name, sizeof(name), "%.*s", (int) e->name[i].n,
                 e->name[i].p);
        json_object_set_new(d, name, json_stringn(e->value[i].p,
                                                  e->value[i].n));
    }
    json_object_set_new(o, "detail", d);
    json_object_set_new(o, "prev", json_string(e->prev));
    json_object_set_new(o, "hash", json_string(e->hash));
    return o;
}


/* One CSV field (RFC 4180 quoting when needed). */
static void
csv_field(FILE *out, const char *p, size_t n, int last)
{
    size_t  i;

    if (memchr(p, ',', n) || memchr(p, '"', n)
        || memchr(p, '\n', n) || memchr(p, '\r', n))
    {
        fputc('"', out);
        for (i = 0; i < n; i++) {
            if (p[i] == '"') {
                fputc('"', out);
            }
            fputc(p[i], out);
        }
        fputc('"', out);
    } else {
        fwrite(p, 1, n, out);
    }
    fputs(last ? "\r\n" : ",", out);
}


static int
audit_export(ovsactl_t *c, int argc, char **argv)
{
    int                 o, csv, i;
    char                num[32], when[32], *detail, *line;
    size_t              k, dl;
    json_t             *ans, *e;
    time_t              tt;
    struct tm           tm;
    long long           from, to;
    const char         *id;
    ovsa_err_t          err;
    ovsa_opt_state_t    st;
    ovsa_audit_entry_t  en;

    id = NULL;
    csv = 0;
    from = 0;
    to = -1;

    ovsa_opt_init(&st, &audit_export_prog, argc, argv);
    while ((o = ovsa_opt_next(&st)) != OVSA_OPT_EOF) {
        switch (o) {
        case OVSA_OPT_HELP:
            line = ovsa_opt_help(&audit_export_prog);
            printf("%s", line ? line : "");
            free(line);
            return OVSA_EXIT_OK;
        case OPT_LICENSE:
            id = st.val;
            break;
        case OPT_FROM:
        case OPT_TO:
            if (audit_time(st.val) < 0) {
                ovsa_opt_bad(&st, "%s: not a time: %s", st.opt, st.val);
                goto usage;
            }
            if (o == OPT_FROM) {
                from = audit_time(st.val);
            } else {
                to = audit_time(st.val);
            }
            break;
        case OPT_FORMAT:
            if (strcmp(st.val, "csv") == 0) {
                csv = 1;
            } else if (strcmp(st.val, "jsonl") == 0) {
                csv = 0;
            } else {
                ovsa_opt_bad(&st, "-format: jsonl or csv, not %s", st.val);
                goto usage;
            }
            break;
        default:
            goto usage;
        }
    }
    if (ovsa_opt_args(&st, 0) != 0) {
        goto usage;
    }
    if (id == NULL) {
        ovsa_opt_bad(&st, "-license is required");
        goto usage;
    }

    ans = audit_fetch(c, id);
    if (ans == NULL) {
        return c->fail;
    }

    if (csv) {
        printf("license_id,seq,time,time_utc,op,actor,detail,prev,hash\r\n");
    }

    json_array_foreach(json_object_get(ans, "entries"), k, e) {
        if (ovsa_audit_parse(json_string_value(e), json_string_length(e),
                             &en, &err) != OVSA_OK)
        {
            fprintf(stderr, PROG ": audit %s: entry %zu: %s (%s); "
                    "run ovsactl audit verify\n", id, k, err.msg,
                    ovsa_code_name(err.code));
            json_decref(ans);
            return OVSA_EXIT_UNVERIFIED;
        }
        if (en.time < from || (to >= 0 && en.time >= to)) {
            continue;
        }

        if (!csv) {
            json_t  *j = audit_entry_json(&en);

            line = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
            printf("%s\n", line ? line : "{}");
            free(line);
            json_decref(j);
            continue;
        }

        tt = (time_t) en.time;
        gmtime_r(&tt, &tm);
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);

        /* detail as name=value pairs joined with ';' */
        dl = 1;
        for (i = 0; i < en.ndetail; i++) {
            dl += en.name[i].n + en.value[i].n + 2;
        }
        detail = malloc(dl);
        if (detail == NULL) {
            json_decref(ans);
            return OVSA_EXIT_ERROR;
        }
        detail[0] = '\0';
        dl = 0;
        for (i = 0; i < en.ndetail; i++) {
            dl += sprintf(detail + dl, "%s%.*s=%.*s", i ? ";" : "",
                          (int) en.name[i].n, en.name[i].p,
                          (int) en.value[i].n, en.value[i].p);
        }

        csv_field(stdout, en.license.p, en.license.n, 0);
        snprintf(num, sizeof(num), "%lld", en.seq);
        csv_field(stdout, num, strlen(num), 0);
        snprintf(num, sizeof(num), "%lld", en.time);
        csv_field(stdout, num, strlen(num), 0);
        csv_field(stdout, when, strlen(when), 0);
        csv_field(stdout, en.op.p, en.op.n, 0);
        csv_field(stdout, en.actor.p, en.actor.n, 0);
        csv_field(stdout, detail, dl, 0);
        csv_field(stdout, en.prev, 40, 0);
        csv_field(stdout, en.hash, 40, 1);
        free(detail);
    }

    json_decref(ans);
    return OVSA_EXIT_OK;

usage:

    fprintf(stderr, PROG ": %s\n" PROG ": Use -help for summary.\n", st.msg);
    return OVSA_EXIT_USAGE;
}


/*
 * Verifies a checkpoint's signed answer: the signing chain ends in root
 * (at the signature's time), Content-Digest matches the body, the RFC
 * 9421 signature verifies with the chain's leaf, and the body states
 * this license's head with the values of cp.  On OVSA_OK *h is the head.
 * Errors: OVSA_E_AUDIT_CHECKPOINT_SIG, the reason in err->msg.
 */
static int
audit_cp_verify(json_t *cp, const char *id, X509 *root, ovsa_audit_head_t *h,
    ovsa_err_t *err)
{
    int                 rc;
    size_t              sig_len;
    json_t             *s, *body;
    EVP_PKEY           *pub;
    ovsa_err_t          e;
    json_error_t        jerr;
    const char         *text;
    unsigned char       sig[OVSA_SIG_MAX];
    STACK_OF(X509)     *chain;
    ovsa_sig_msg_t      msg;
    ovsa_sig_params_t   p;

    chain = NULL;
    body = NULL;
    rc = OVSA_ERR;
    memset(h, 0, sizeof(*h));
    ovsa_err_clear(&e);

    s = json_object_get(cp, "signed");
    text = jstr(s, "body");

    if (ovsa_chain_load_mem(jstr(s, "chain"), strlen(jstr(s, "chain")),
                            "checkpoint chain", &chain, &e) != OVSA_OK)
    {
        goto end;
    }

    memset(&msg, 0, sizeof(msg));
    msg.status = (int) json_integer_value(json_object_get(s, "status"));
    msg.content_type = ovsa_str(jstr(s, "content_type"));
    msg.content_digest = ovsa_str(jstr(s, "content_digest"));
    msg.nonce = ovsa_str(jstr(s, "nonce"));
    msg.method = ovsa_str(jstr(s, "method"));
    msg.target_uri = ovsa_str(jstr(s, "target_uri"));

    if (ovsa_sig_parse(ovsa_str(jstr(s, "signature_input")),
                       ovsa_str(jstr(s, "signature")), &p, sig, &sig_len, &e)
        != OVSA_OK
        || ovsa_chain_verify(chain, root, OVSA_VERIFY_SERVER,
                             (time_t) p.created, &e) != OVSA_OK
        || ovsa_digest_verify(msg.content_digest, text, strlen(text), &e)
           != OVSA_OK)
    {
        goto end;
    }

    pub = X509_get0_pubkey(sk_X509_value(chain, 0));
    if (pub == NULL
        || ovsa_sig_verify_parsed(pub, &msg, &p, sig, sig_len,
                                  (time_t) p.created, 0, &e) != OVSA_OK)
    {
        if (pub == NULL) {
            ovsa_err_set(&e, OVSA_E_SIG_INVALID, "no leaf key");
        }
        goto end;
    }

    body = json_loads(text, 0, &jerr);
    if (strcmp(jstr(body, "code"), "OK") != 0
        || strcmp(jstr(body, "license_id"), id) != 0
        || strcmp(jstr(cp, "license_id"), id) != 0
        || !json_equal(json_object_get(body, "seq"),
                       json_object_get(cp, "seq"))
        || !json_equal(json_object_get(body, "time"),
                       json_object_get(cp, "time"))
        || strcmp(jstr(body, "hash"), jstr(cp, "hash")) != 0
        || strcmp(jstr(body, "digest"), jstr(cp, "digest")) != 0
        || strlen(jstr(body, "hash")) != 40
        || strlen(jstr(body, "digest")) != 64)
    {
        ovsa_err_set(&e, OVSA_E_SIG_INVALID, "the signed answer does not "
                     "state this checkpoint of license %s", id);
        goto end;
    }

    h->seq = json_integer_value(json_object_get(body, "seq"));
    h->time = json_integer_value(json_object_get(body, "time"));
    memcpy(h->hash, jstr(body, "hash"), 41);
    memcpy(h->digest, jstr(body, "digest"), 65);
    rc = OVSA_OK;

end:

    if (rc != OVSA_OK) {
        ovsa_err_set(err, OVSA_E_AUDIT_CHECKPOINT_SIG, "audit: checkpoint "
                     "seq %lld: %s (%s)",
                     (long long) json_integer_value(json_object_get(cp,
                                                                    "seq")),
                     e.msg, ovsa_code_name(e.code));
    }
    json_decref(body);
    if (chain != NULL) {
        sk_X509_pop_free(chain, X509_free);
    }
    return rc;
}


/*
 * Verifies one license's trail; prints the outcome.  Returns
 * OVSA_EXIT_OK, OVSA_EXIT_UNVERIFIED, or another exit status.
 */
static int
audit_verify_one(ovsactl_t *c, const char *id, X509 *root)
{
    int                 rc;
    size_t              i, n, ncp, bad;
    json_t             *ans, *entries, *cps, *out;
    const char        **ents;
    size_t             *lens;
    ovsa_err_t          err;
    ovsa_audit_head_t  *heads, head;

    ans = audit_fetch(c, id);
    if (ans == NULL) {
        return c->fail;
    }

    entries = json_object_get(ans, "entries");
    cps = json_object_get(ans, "checkpoints");
    n = json_array_size(entries);
    ncp = json_array_size(cps);
    ents = calloc(n + 1, sizeof(*ents));
    lens = calloc(n + 1, sizeof(*lens));
    heads = calloc(ncp + 1, sizeof(*heads));
    if (ents == NULL || lens == NULL || heads == NULL) {
        rc = OVSA_EXIT_ERROR;
        goto end;
    }
    for (i = 0; i < n; i++) {
        ents[i] = json_string_value(json_array_get(entries, i));
        lens[i] = json_string_length(json_array_get(entries, i));
        if (ents[i] == NULL) {
            ents[i] = "";
        }
    }

    ovsa_err_clear(&err);
    bad = 0;
    rc = OVSA_EXIT_OK;

    if (ncp > 0 && root == NULL) {
        fprintf(stderr, PROG ": audit %s: %zu checkpoint(s): -root is "
                "needed to verify their signatures\n", id, ncp);
        rc = OVSA_EXIT_USAGE;
        goto end;
    }

    for (i = 0; i < ncp; i++) {
        if (audit_cp_verify(json_array_get(cps, i), id, root, &heads[i],
                            &err) != OVSA_OK)
        {
            rc = OVSA_EXIT_UNVERIFIED;
            break;
        }
    }

    if (rc == OVSA_EXIT_OK
        && ovsa_audit_verify(ents, lens, n, heads, ncp, id, &head, &bad,
                             &err) != OVSA_OK)
    {
        rc = OVSA_EXIT_UNVERIFIED;
    }

    if (c->json) {
        out = json_object();
        json_object_set_new(out, "license_id", json_string(id));
        json_object_set_new(out, "ok", json_boolean(rc == OVSA_EXIT_OK));
        json_object_set_new(out, "entries", json_integer(n));
        json_object_set_new(out, "checkpoints", json_integer(ncp));
        if (rc == OVSA_EXIT_OK) {
            json_object_set_new(out, "seq", json_integer(head.seq));
            json_object_set_new(out, "hash", json_string(head.hash));
            json_object_set_new(out, "digest", json_string(head.digest));
        } else {
            /* "OVSA_E_AUDIT_GAP" -> "AUDIT_GAP" */
            json_object_set_new(out, "code",
                                json_string(ovsa_code_name(err.code) + 7));
            json_object_set_new(out, "message", json_string(err.msg));
            json_object_set_new(out, "index", json_integer(bad));
        }
        {
            char  *t = json_dumps(out, JSON_COMPACT | JSON_PRESERVE_ORDER);

            printf("%s\n", t ? t : "{}");
            free(t);
        }
        json_decref(out);

    } else if (rc == OVSA_EXIT_OK) {
        printf("%s: OK: %zu entries, head seq %lld, %zu checkpoint(s)\n",
               id, n, head.seq, ncp);
    } else {
        fprintf(stderr, PROG ": audit %s: %s: %s\n", id,
                ovsa_code_name(err.code) + 7, err.msg);
    }

end:

    free(ents);
    free(lens);
    free(heads);
    json_decref(ans);
    return rc;
}


static X509 *
audit_root(const char *file)
{
    X509        *root;
    ovsa_err_t   err;

    if (ovsa_cert_load(file, &root, &err) != OVSA_OK) {
        fprintf(stderr, PROG ": %s (%s)\n", err.msg,
                ovsa_code_name(err.code));
        return NULL;
    }
    return root;
}


/* The license ids of GET /admin/v1/licenses, or NULL (c->fail). */
static json_t *
audit_ids(ovsactl_t *c)
{
    char    *text;
    size_t   i;
    json_t  *ans, *ids, *l;

    ans = ovsactl_call(c, "GET", "/admin/v1/licenses", NULL, 0, &text);
    if (ans == NULL) {
        return NULL;
    }
    free(text);
    if (strcmp(jstr(ans, "code"), "OK") != 0) {
        fprintf(stderr, PROG ": list: %s: %s\n", jstr(ans, "code"),
                jstr(ans, "message"));
        json_decref(ans);
        c->fail = OVSA_EXIT_REFUSED;
        return NULL;
    }
    ids = json_array();
    json_array_foreach(json_object_get(ans, "licenses"), i, l) {
        json_array_append_new(ids, json_string(jstr(l, "license_id")));
    }
    json_decref(ans);
    return ids;
}


static int
audit_verify(ovsactl_t *c, int argc, char **argv)
{
    int                o, rc, r;
    char              *help;
    size_t             i;
    json_t            *ids, *v;
    X509              *root;
    const char        *id, *root_file;
    ovsa_opt_state_t   st;

    id = root_file = NULL;
    ovsa_opt_init(&st, &audit_verify_prog, argc, argv);
    while ((o = ovsa_opt_next(&st)) != OVSA_OPT_EOF) {
        switch (o) {
        case OVSA_OPT_HELP:
            help = ovsa_opt_help(&audit_verify_prog);
            printf("%s", help ? help : "");
            free(help);
            return OVSA_EXIT_OK;
        case OPT_LICENSE:
            id = st.val;
            break;
        case OPT_ROOT:
            root_file = st.val;
            break;
        default:
            goto usage;
        }
    }
    if (ovsa_opt_args(&st, 0) != 0) {
        goto usage;
    }

    root = NULL;
    if (root_file != NULL && (root = audit_root(root_file)) == NULL) {
        return OVSA_EXIT_ERROR;
    }

    if (id != NULL) {
        ids = json_array();
        json_array_append_new(ids, json_string(id));
    } else {
        ids = audit_ids(c);
        if (ids == NULL) {
            X509_free(root);
            return c->fail;
        }
    }

    /* the first failure's status; every license is checked */
    rc = OVSA_EXIT_OK;
    json_array_foreach(ids, i, v) {
        r = audit_verify_one(c, json_string_value(v), root);
        if (r != OVSA_EXIT_OK && rc == OVSA_EXIT_OK) {
            rc = r;
        }
    }

    json_decref(ids);
    X509_free(root);
    return rc;

usage:

    fprintf(stderr, PROG ": %s\n" PROG ": Use -help for summary.\n", st.msg);
    return OVSA_EXIT_USAGE;
}


static size_t
audit_write(char *p, size_t size, size_t n, void *arg)
{
    char         *d;
    audit_buf_t  *b = arg;

    d = realloc(b->data, b->len + size * n + 1);
    if (d == NULL) {
        return 0;
    }
    memcpy(d + b->len, p, size * n);
    b->data = d;
    b->len += size * n;
    b->data[b->len] = '\0';
    return size * n;
}


/* Keeps the response headers a checkpoint needs. */
typedef struct {
    char  content_type[128];
    char  content_digest[OVSA_DIGEST_FIELD_LEN + 64];
    char  signature_input[OVSA_SIG_INPUT_MAX];
    char  signature[OVSA_SIG_FIELD_MAX + 16];
} audit_hdrs_t;


static void
audit_hdr(char *dst, size_t size, const char *v, size_t n)
{
    while (n > 0 && (*v == ' ' || *v == '\t')) {
        v++;
        n--;
    }
    while (n > 0 && (v[n - 1] == '\r' || v[n - 1] == '\n'
                     || v[n - 1] == ' '))
    {
        n--;
    }
    if (n < size) {
        memcpy(dst, v, n);
        dst[n] = '\0';
    }
}


static size_t
audit_header(char *p, size_t size, size_t n, void *arg)
{
    size_t         len;
    audit_hdrs_t  *h = arg;

    len = size * n;
#define AUDIT_HDR(name, field)                                                \
    if (len > sizeof(name) && strncasecmp(p, name ":", sizeof(name)) == 0) { \
        audit_hdr(h->field, sizeof(h->field), p + sizeof(name),              \
                  len - sizeof(name));                                        \
    }
    AUDIT_HDR("Content-Type", content_type)
    AUDIT_HDR("Content-Digest", content_digest)
    AUDIT_HDR("Signature-Input", signature_input)
    AUDIT_HDR("Signature", signature)
#undef AUDIT_HDR
    return len;
}


/* GET sign_url + path over TLS to root; NULL after printing. */
static char *
audit_https_get(ovsactl_t *c, const char *url, const char *root_file,
    const char *nonce, int auth, long *status, audit_hdrs_t *hdrs)
{
    char                line[1024];
    CURLcode            rc;
    audit_buf_t         buf;
    struct curl_slist  *h;

    memset(&buf, 0, sizeof(buf));
    h = NULL;
    curl_easy_reset(c->curl);

    if (auth) {
        snprintf(line, sizeof(line), "Authorization: Bearer %s", c->token);
        h = curl_slist_append(h, line);
        OPENSSL_cleanse(line, sizeof(line));
    }
    if (nonce != NULL) {
        snprintf(line, sizeof(line), "OVSA-Nonce: %s", nonce);
        h = curl_slist_append(h, line);
    }

    curl_easy_setopt(c->curl, CURLOPT_URL, url);
    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c->curl, CURLOPT_CAINFO, root_file);
    curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, audit_write);
    curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &buf);
    if (hdrs != NULL) {
        memset(hdrs, 0, sizeof(*hdrs));
        curl_easy_setopt(c->curl, CURLOPT_HEADERFUNCTION, audit_header);
        curl_easy_setopt(c->curl, CURLOPT_HEADERDATA, hdrs);
    }
    curl_easy_setopt(c->curl, CURLOPT_TIMEOUT, 30L);

    rc = curl_easy_perform(c->curl);
    curl_slist_free_all(h);

    if (rc != CURLE_OK) {
        fprintf(stderr, PROG ": %s: %s\n", url, curl_easy_strerror(rc));
        free(buf.data);
        c->fail = OVSA_EXIT_UNREACHABLE;
        return NULL;
    }
    curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, status);
    if (buf.data == NULL) {
        buf.data = strdup("");
    }
    return buf.data;
}


/*
 * Checkpoints one license: the signed head from nginx, verified here,
 * then stored with the backend.  Returns an exit status.
 */
static int
audit_cp_one(ovsactl_t *c, const char *sign_url, const char *root_file,
    X509 *root, const char *chain, const char *id, int all)
{
    int                 rc;
    long                status;
    char                url[2048], path[512], *nonce, *body, *text, *cpt;
    json_t             *ans, *cp, *s, *head;
    json_error_t        jerr;
    ovsa_err_t          err;
    unsigned char       rnd[24];
    audit_hdrs_t        hdrs;
    ovsa_audit_head_t   h;

    ans = NULL;
    cp = NULL;
    head = NULL;
    text = NULL;
    rc = OVSA_EXIT_ERROR;

    if (RAND_bytes(rnd, sizeof(rnd)) != 1
        || (nonce = ovsa_b64url_alloc(rnd, sizeof(rnd))) == NULL)
    {
        fprintf(stderr, PROG ": no random nonce\n");
        return OVSA_EXIT_ERROR;
    }

    snprintf(path, sizeof(path), "/admin/v1/licenses/%s/audit/head", id);
    snprintf(url, sizeof(url), "%s%s", sign_url, path);

    body = audit_https_get(c, url, root_file, nonce, 1, &status, &hdrs);
    if (body == NULL) {
        free(nonce);
        return c->fail;
    }

    head = json_loads(body, 0, &jerr);
    if (!json_is_object(head)) {
        fprintf(stderr, PROG ": %s: HTTP %ld, answer is not JSON\n", url,
                status);
        goto end;
    }
    if (strcmp(jstr(head, "code"), "OK") != 0) {
        fprintf(stderr, PROG ": audit checkpoint %s: %s: %s\n", id,
                jstr(head, "code"), jstr(head, "message"));
        rc = OVSA_EXIT_REFUSED;
        goto end;
    }
    if (json_integer_value(json_object_get(head, "since_checkpoint")) == 0
        || (!all && !json_is_true(json_object_get(head, "checkpoint_due"))))
    {
        if (!c->json) {
            printf("%s: no checkpoint due (%lld new entries)\n", id,
                   (long long) json_integer_value(
                       json_object_get(head, "since_checkpoint")));
        }
        rc = OVSA_EXIT_OK;
        goto end;
    }

    cp = json_object();
    json_object_set(cp, "license_id", json_object_get(head, "license_id"));
    json_object_set(cp, "seq", json_object_get(head, "seq"));
    json_object_set(cp, "time", json_object_get(head, "time"));
    json_object_set(cp, "hash", json_object_get(head, "hash"));
    json_object_set(cp, "digest", json_object_get(head, "digest"));
    s = json_object();
    json_object_set_new(s, "status", json_integer(status));
    json_object_set_new(s, "content_type", json_string(hdrs.content_type));
    json_object_set_new(s, "content_digest",
                        json_string(hdrs.content_digest));
    json_object_set_new(s, "signature_input",
                        json_string(hdrs.signature_input));
    json_object_set_new(s, "signature", json_string(hdrs.signature));
    json_object_set_new(s, "nonce", json_string(nonce));
    json_object_set_new(s, "method", json_string("GET"));
    json_object_set_new(s, "target_uri", json_string(url));
    json_object_set_new(s, "body", json_string(body));
    json_object_set_new(s, "chain", json_string(chain));
    json_object_set_new(cp, "signed", s);

    if (audit_cp_verify(cp, id, root, &h, &err) != OVSA_OK) {
        fprintf(stderr, PROG ": audit checkpoint %s: %s: %s\n", id,
                ovsa_code_name(err.code) + 7, err.msg);
        rc = OVSA_EXIT_UNVERIFIED;
        goto end;
    }

    cpt = json_dumps(cp, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (cpt == NULL) {
        goto end;
    }
    snprintf(path, sizeof(path), "/admin/v1/licenses/%s/audit/checkpoint",
             id);
    ans = ovsactl_call(c, "POST", path, cpt, strlen(cpt), &text);
    free(cpt);
    if (ans == NULL) {
        rc = c->fail;
        goto end;
    }
    rc = ovsactl_done(c, ans, text, id);
    if (rc == OVSA_EXIT_OK && !c->json) {
        printf("%s: checkpoint at seq %lld%s", id, h.seq,
               json_is_true(json_object_get(ans, "stored")) ? ""
               : " (already stored)");
        if (json_integer_value(json_object_get(ans, "trimmed")) > 0) {
            printf(", %lld entries past retention removed",
                   (long long) json_integer_value(
                       json_object_get(ans, "trimmed")));
        }
        printf("\n");
    }

end:

    free(nonce);
    free(body);
    free(text);
    json_decref(head);
    json_decref(cp);
    json_decref(ans);
    return rc;
}


static int
audit_checkpoint(ovsactl_t *c, int argc, char **argv)
{
    int                o, rc, r, all;
    long               status;
    char              *help, *chain, url[2048];
    size_t             i;
    json_t            *ids, *v;
    X509              *root;
    const char        *id, *root_file, *sign_url;
    ovsa_opt_state_t   st;

    id = root_file = sign_url = NULL;
    all = 0;
    ovsa_opt_init(&st, &audit_cp_prog, argc, argv);
    while ((o = ovsa_opt_next(&st)) != OVSA_OPT_EOF) {
        switch (o) {
        case OVSA_OPT_HELP:
            help = ovsa_opt_help(&audit_cp_prog);
            printf("%s", help ? help : "");
            free(help);
            return OVSA_EXIT_OK;
        case OPT_LICENSE:
            id = st.val;
            break;
        case OPT_ROOT:
            root_file = st.val;
            break;
        case OPT_SIGN_URL:
            sign_url = st.val;
            break;
        case OPT_ALL:
            all = 1;
            break;
        default:
            goto usage;
        }
    }
    if (ovsa_opt_args(&st, 0) != 0) {
        goto usage;
    }
    if (sign_url == NULL || root_file == NULL
        || strncmp(sign_url, "https://", 8) != 0)
    {
        ovsa_opt_bad(&st, "-sign-url https://... and -root are required");
        goto usage;
    }

    root = audit_root(root_file);
    if (root == NULL) {
        return OVSA_EXIT_ERROR;
    }

    snprintf(url, sizeof(url), "%s/.well-known/ovsa/chain", sign_url);
    chain = audit_https_get(c, url, root_file, NULL, 0, &status, NULL);
    if (chain == NULL || status != 200) {
        if (chain != NULL) {
            fprintf(stderr, PROG ": %s: HTTP %ld\n", url, status);
        }
        free(chain);
        X509_free(root);
        return chain ? OVSA_EXIT_ERROR : c->fail;
    }

    if (id != NULL) {
        ids = json_array();
        json_array_append_new(ids, json_string(id));
    } else {
        ids = audit_ids(c);
        if (ids == NULL) {
            free(chain);
            X509_free(root);
            return c->fail;
        }
    }

    rc = OVSA_EXIT_OK;
    json_array_foreach(ids, i, v) {
        r = audit_cp_one(c, sign_url, root_file, root, chain,
                         json_string_value(v), all || id != NULL);
        if (r != OVSA_EXIT_OK && rc == OVSA_EXIT_OK) {
            rc = r;
        }
    }

    json_decref(ids);
    free(chain);
    X509_free(root);
    return rc;

usage:

    fprintf(stderr, PROG ": %s\n" PROG ": Use -help for summary.\n", st.msg);
    return OVSA_EXIT_USAGE;
}


int
ovsactl_audit(void *ctx, int argc, char **argv)
{
    ovsactl_t  *c = ctx;

    if (strcmp(argv[1], "-help") == 0 || strcmp(argv[1], "--help") == 0) {
        printf("Usage: " PROG " [options] audit export|verify|checkpoint "
               "[options]\n"
               "  export      one license's entries as JSON lines or CSV\n"
               "  verify      the chain of one or every license\n"
               "  checkpoint  store each license's head signed by nginx\n"
               PROG " audit CMD -help: the options of CMD (docs/audit.md)\n");
        return OVSA_EXIT_OK;
    }

    if (strcmp(argv[1], "export") == 0) {
        return audit_export(c, argc - 1, argv + 1);
    }
    if (strcmp(argv[1], "verify") == 0) {
        return audit_verify(c, argc - 1, argv + 1);
    }
    if (strcmp(argv[1], "checkpoint") == 0) {
        return audit_checkpoint(c, argc - 1, argv + 1);
    }

    fprintf(stderr, PROG ": audit: unknown command \"%s\" (export, verify, "
            "checkpoint)\n" PROG ": Use -help for summary.\n", argv[1]);
    return OVSA_EXIT_USAGE;
}
