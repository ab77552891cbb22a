/*
 * routes_audit.c: the audit trail on the admin API (docs/audit.md,
 * docs/protocol.md):
 *   GET  /admin/v1/licenses/ID/audit             the stored entries and
 *                                                checkpoints, as stored
 *   GET  /admin/v1/licenses/ID/audit/head        the verified chain head
 *                                                (served through nginx
 *                                                with ovsa_sign on, the
 *                                                answer is what a
 *                                                checkpoint keeps)
 *   POST /admin/v1/licenses/ID/audit/checkpoint  stores a signed head
 *                                                and applies retention
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "ovsa_audit.h"
#include "store.h"

#define OVSA_AUDIT_KEY_MAX  512


typedef struct {
    json_t              *ans;        /* audit_read's answer */
    const char         **entries;
    size_t              *lens;
    size_t               n;
    ovsa_audit_head_t   *cps;
    size_t               ncp;
} ovsa_audit_trail_t;


static void
ovsa_audit_trail_free(ovsa_audit_trail_t *t)
{
    free(t->entries);
    free(t->lens);
    free(t->cps);
    json_decref(t->ans);
}


/* The head a checkpoint object states; OVSA_OK or OVSA_ERR. */
static int
ovsa_audit_cp_head(json_t *cp, ovsa_audit_head_t *h)
{
    const char  *hash, *digest;

    hash = json_string_value(json_object_get(cp, "hash"));
    digest = json_string_value(json_object_get(cp, "digest"));
    if (!json_is_integer(json_object_get(cp, "seq")) || hash == NULL
        || digest == NULL || strlen(hash) != 40 || strlen(digest) != 64)
    {
        return OVSA_ERR;
    }
    h->seq = json_integer_value(json_object_get(cp, "seq"));
    h->time = json_integer_value(json_object_get(cp, "time"));
    memcpy(h->hash, hash, 41);
    memcpy(h->digest, digest, 65);
    return OVSA_OK;
}


static void
ovsa_audit_keys(const char *id, char k[3][OVSA_AUDIT_KEY_MAX],
    const char **keys)
{
    ovsa_store_key(k[0], OVSA_AUDIT_KEY_MAX, "audit", id, NULL);
    ovsa_store_key(k[1], OVSA_AUDIT_KEY_MAX, "audit", id, "cp");
    ovsa_store_key(k[2], OVSA_AUDIT_KEY_MAX, "lic", id, NULL);
    keys[0] = k[0];
    keys[1] = k[1];
    keys[2] = k[2];
}


/*
 * Reads a license's trail (audit_read.lua): 0, or -1 after answering
 * resp.  On 0 t->ans's checkpoints are parsed JSON objects.
 */
static int
ovsa_audit_load(ovsa_resp_t *resp, const char *id, ovsa_audit_trail_t *t)
{
    char          k[3][OVSA_AUDIT_KEY_MAX];
    size_t        i;
    json_t       *ans, *e, *c, *cps, *cp;
    const char   *keys[3], *args[2] = { "0", "-1" };
    json_error_t  jerr;

    memset(t, 0, sizeof(*t));
    ovsa_audit_keys(id, k, keys);

    ans = ovsa_run(resp, OVSA_LUA_AUDIT_READ, 3, keys, 2, args);
    if (ans == NULL) {
        return -1;
    }
    if (strcmp(json_string_value(json_object_get(ans, "code")), "OK") != 0) {
        json_object_set_new(ans, "license_id", json_string(id));
        ovsa_resp_answer(resp, ans);
        return -1;
    }

    /* cjson writes an empty table as {} */
    e = json_object_get(ans, "entries");
    if (!json_is_array(e)) {
        json_object_set_new(ans, "entries", json_array());
        e = json_object_get(ans, "entries");
    }
    c = json_object_get(ans, "checkpoints");
    cps = json_array();
    for (i = 0; json_is_array(c) && i < json_array_size(c); i++) {
        cp = json_loads(json_string_value(json_array_get(c, i)), 0, &jerr);
        json_array_append_new(cps, cp ? cp : json_null());
    }
    json_object_set_new(ans, "checkpoints", cps);
    t->ans = ans;

    t->n = json_array_size(e);
    t->entries = calloc(t->n + 1, sizeof(char *));
    t->lens = calloc(t->n + 1, sizeof(size_t));
    t->cps = calloc(json_array_size(cps) + 1, sizeof(ovsa_audit_head_t));
    if (t->entries == NULL || t->lens == NULL || t->cps == NULL) {
        ovsa_audit_trail_free(t);
        ovsa_resp_code(resp, "INTERNAL", "out of memory");
        return -1;
    }
    for (i = 0; i < t->n; i++) {
        t->entries[i] = json_string_value(json_array_get(e, i));
        t->lens[i] = json_string_length(json_array_get(e, i));
    }
    for (i = 0; i < json_array_size(cps); i++) {
        if (ovsa_audit_cp_head(json_array_get(cps, i), &t->cps[t->ncp])
            == OVSA_OK)
        {
            t->ncp++;
        }
    }

    return 0;
}


/* Verifies the trail (lib/ovsa_audit.c); 0, or -1 after answering. */
static int
ovsa_audit_check(ovsa_resp_t *resp, const char *id, ovsa_audit_trail_t *t,
    size_t n, ovsa_audit_head_t *head)
{
    char        msg[700];
    ovsa_err_t  err;

    if (ovsa_audit_verify(t->entries, t->lens, n, t->cps, t->ncp, id, head,
                          NULL, &err) != OVSA_OK)
    {
        snprintf(msg, sizeof(msg), "%s: %s", ovsa_code_name(err.code),
                 err.msg);
        ovsa_log("warn", "admin: audit of %s: %s", id, msg);
        ovsa_resp_code(resp, "AUDIT_CHAIN_INVALID", msg);
        return -1;
    }
    return 0;
}


static void
ovsa_audit_head_json(json_t *ans, const char *id, const ovsa_audit_head_t *h)
{
    json_object_set_new(ans, "license_id", json_string(id));
    json_object_set_new(ans, "seq", json_integer(h->seq));
    json_object_set_new(ans, "time", json_integer(h->time));
    json_object_set_new(ans, "hash", json_string(h->hash));
    json_object_set_new(ans, "digest", json_string(h->digest));
}


/* GET .../audit and .../audit/head */
void
ovsa_admin_audit_get(ovsa_req_t *req, ovsa_resp_t *resp, const char *id,
    const char *action)
{
    size_t              i;
    long long           last_cp;
    json_t             *ans;
    ovsa_audit_head_t   head;
    ovsa_audit_trail_t  t;

    if (ovsa_audit_load(resp, id, &t) != 0) {
        return;
    }

    if (strcmp(action, "audit") == 0) {
        ans = json_incref(t.ans);
        json_object_set_new(ans, "license_id", json_string(id));
        ovsa_audit_trail_free(&t);
        ovsa_resp_answer(resp, ans);
        return;
    }

    if (ovsa_audit_check(resp, id, &t, t.n, &head) != 0) {
        ovsa_audit_trail_free(&t);
        return;
    }

    last_cp = 0;
    for (i = 0; i < t.ncp; i++) {
        if (t.cps[i].seq > last_cp) {
            last_cp = t.cps[i].seq;
        }
    }

    ans = json_object();
    json_object_set_new(ans, "code", json_string("OK"));
    ovsa_audit_head_json(ans, id, &head);
    json_object_set_new(ans, "since_checkpoint",
                        json_integer(head.seq - last_cp));
    json_object_set_new(ans, "checkpoint_due", json_boolean(
        head.seq - last_cp >= ovsa_backend.conf->audit_checkpoint_every));
    ovsa_audit_trail_free(&t);
    ovsa_resp_answer(resp, ans);
}


/* POST .../audit/checkpoint: body = the checkpoint (docs/audit.md) */
void
ovsa_admin_audit_post(ovsa_req_t *req, ovsa_resp_t *resp, const char *id)
{
    char                k[3][OVSA_AUDIT_KEY_MAX], seq[24], tm[24], keep[24];
    char               *text;
    size_t              n, i, j;
    json_t             *cp, *ans;
    const char         *keys[3], *args[5], *lic;
    json_error_t        jerr;
    ovsa_audit_head_t   want, got;
    ovsa_audit_trail_t  t;
    ovsa_audit_entry_t  e;

    cp = json_loadb(req->body, req->len, 0, &jerr);
    lic = json_string_value(json_object_get(cp, "license_id"));
    if (!json_is_object(cp) || ovsa_audit_cp_head(cp, &want) != OVSA_OK
        || lic == NULL || strcmp(lic, id) != 0
        || !json_is_object(json_object_get(cp, "signed")))
    {
        json_decref(cp);
        ovsa_resp_code(resp, "BAD_FIELD", "a checkpoint needs license_id "
                       "(this license), seq, time, hash, digest and signed "
                       "(ovsactl audit checkpoint makes it)");
        return;
    }

    if (ovsa_audit_load(resp, id, &t) != 0) {
        json_decref(cp);
        return;
    }

    /* the chain up to the checkpoint's seq must give its hash and digest */
    for (n = 0; n < t.n; n++) {
        if (ovsa_audit_parse(t.entries[n], t.lens[n], &e, NULL) == OVSA_OK
            && e.seq == want.seq)
        {
            break;
        }
    }
    if (n == t.n) {
        ovsa_audit_trail_free(&t);
        json_decref(cp);
        ovsa_resp_code(resp, "AUDIT_CHECKPOINT_MISMATCH", "the chain has no "
                       "entry at the checkpoint's seq");
        return;
    }
    /* only the checkpoints up to this one apply to entries up to its seq */
    for (i = 0, j = 0; i < t.ncp; i++) {
        if (t.cps[i].seq <= want.seq) {
            t.cps[j++] = t.cps[i];
        }
    }
    t.ncp = j;

    if (ovsa_audit_check(resp, id, &t, n + 1, &got) != 0) {
        ovsa_audit_trail_free(&t);
        json_decref(cp);
        return;
    }
    ovsa_audit_trail_free(&t);

    if (got.seq != want.seq || strcmp(got.hash, want.hash) != 0
        || strcmp(got.digest, want.digest) != 0 || got.time != want.time)
    {
        json_decref(cp);
        ovsa_resp_code(resp, "AUDIT_CHECKPOINT_MISMATCH", "the checkpoint's "
                       "hash, digest or time is not the chain's at its seq");
        return;
    }

    text = json_dumps(cp, JSON_COMPACT);
    json_decref(cp);
    if (text == NULL) {
        ovsa_resp_code(resp, "INTERNAL", "out of memory");
        return;
    }

    snprintf(seq, sizeof(seq), "%lld", want.seq);
    snprintf(tm, sizeof(tm), "%lld", want.time);
    snprintf(keep, sizeof(keep), "%lld",
             (long long) ovsa_backend.conf->audit_retention_days * 86400);
    ovsa_audit_keys(id, k, keys);
    args[0] = seq;
    args[1] = want.hash;
    args[2] = tm;
    args[3] = text;
    args[4] = keep;

    ans = ovsa_run(resp, OVSA_LUA_AUDIT_CP, 3, keys, 5, args);
    free(text);
    if (ans != NULL) {
        if (strcmp(json_string_value(json_object_get(ans, "code")), "OK")
            == 0)
        {
            ovsa_log("info", "admin: audit checkpoint %s seq %s", id, seq);
        }
        json_object_set_new(ans, "license_id", json_string(id));
        ovsa_resp_answer(resp, ans);
    }
}
