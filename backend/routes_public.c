/*
 * routes_public.c: the public license API under /v1/ (nginx proxies it).
 * Each route validates its body and what the request presents as proof
 * (proof.c), then runs one Lua script that decides and changes state
 * atomically.  See docs/protocol.md.
 *
 * The header X-OVSA-Client-Cert-SHA256 is trusted as set by nginx from
 * the client certificate: the public listener must only be reachable by
 * nginx (unix socket or loopback), and nginx must always set or clear it.
 */

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <openssl/rand.h>

#include "ovsa_httpsig.h"
#include "ovsa_license.h"
#include "ovsa_reqsig.h"

#include "backend.h"
#include "policy.h"
#include "proof.h"
#include "store.h"

#define OVSA_KEY_MAX      512    /* prefix (<= 64) + kind + ids */

/* What every public route starts with, and what its script gets. */
typedef struct {
    json_t      *obj;                 /* the request body */
    const char  *id;                  /* license_id */
    char         cert[OVSA_CERT_HEX_LEN + 1];
    char         lease[OVSA_LEASE_ID_LEN + 1];
    char         lic[OVSA_KEY_MAX];   /* key names */
    char         act[OVSA_KEY_MAX];
    char         lz[OVSA_KEY_MAX];
    char         lh[OVSA_KEY_MAX];
    char         dz[OVSA_KEY_MAX];
    ovsa_proof_t proof;
    const char  *keys[5];             /* KEYS: lic, then the route's */
    const char  *args[10];            /* ARGV: hw, cert, proof, machine
                                         keyid, then the route's */
    int          nkeys;
    int          nargs;
} ovsa_pub_t;

#define ovsa_pub_key(p, k)  (p)->keys[(p)->nkeys++] = (k)
#define ovsa_pub_arg(p, a)  (p)->args[(p)->nargs++] = (a)

/*
 * The routes that take one required field besides license_id: their
 * script, the field, and the keys beyond the license hash (the
 * activations hash, or the lease zset and hash).
 */
typedef struct {
    const char       *path;
    int               script;
    const char       *field;
    ovsa_str_kind_t   kind;
    int               leases;
    int               dlog;     /* also the deactivation log */
} ovsa_pub_op_t;

static const ovsa_pub_op_t  ovsa_pub_ops[] = {
    { "/v1/activate",        OVSA_LUA_ACTIVATE,   "hwid",      OVSA_STR_TEXT,
      0, 0 },
    { "/v1/deactivate",      OVSA_LUA_DEACTIVATE, "hwid",      OVSA_STR_TEXT,
      0, 1 },
    { "/v1/lease/checkout",  OVSA_LUA_CHECKOUT,   "client_id", OVSA_STR_TEXT,
      1, 0 },
    { "/v1/lease/heartbeat", OVSA_LUA_HEARTBEAT,  "lease_id",  OVSA_STR_LEASE,
      1, 0 },
    { "/v1/lease/checkin",   OVSA_LUA_CHECKIN,    "lease_id",  OVSA_STR_LEASE,
      1, 0 },
    /* docs/offline.md */
    { "/v1/lease/borrow",    OVSA_LUA_CHECKOUT,   "client_id", OVSA_STR_TEXT,
      1, 0 },
    { "/v1/offline/activate", OVSA_LUA_ACTIVATE,  "hwid",      OVSA_STR_TEXT,
      0, 0 },
    { "/v1/offline/deactivate", OVSA_LUA_DEACTIVATE, "hwid",   OVSA_STR_TEXT,
      0, 1 },
    { NULL, 0, NULL, 0, 0, 0 }
};


/*
 * Parses body, license_id, the client-cert header and the proofs
 * (proof.c), and starts the script's KEYS (license hash) and ARGV (hw,
 * cert, proof, machine keyid); 0 or -1 (answered).
 */
static int
ovsa_pub_start(ovsa_req_t *req, ovsa_resp_t *resp, ovsa_pub_t *p)
{
    size_t         i;
    const char    *h;
    ovsa_reqerr_t  re;

    memset(p, 0, sizeof(*p));

    h = req->cert_header;    /* from a trusted peer only (peer.c) */
    if (h != NULL && h[0] != '\0') {
        if (!ovsa_policy_hex_ok(h, OVSA_CERT_HEX_LEN)) {
            ovsa_json_bad_field(&re, OVSA_CERT_HEADER,
                                "not a SHA-256 in hex");
            ovsa_resp_reqerr(resp, &re);
            return -1;
        }
        for (i = 0; i < OVSA_CERT_HEX_LEN; i++) {
            p->cert[i] = (char) tolower((unsigned char) h[i]);
        }
    }

    p->obj = ovsa_json_object(req->body, req->len, &re);
    if (p->obj == NULL
        || ovsa_json_str(p->obj, "license_id", 1, OVSA_STR_ID, &p->id, &re))
    {
        ovsa_resp_reqerr(resp, &re);
        return -1;
    }

    if (ovsa_proof_read(req, p->obj, resp, &p->proof) != 0) {
        return -1;
    }

    ovsa_store_key(p->lic, sizeof(p->lic), "lic", p->id, NULL);
    ovsa_store_key(p->act, sizeof(p->act), "act", p->id, NULL);
    ovsa_store_key(p->lz, sizeof(p->lz), "lz", p->id, NULL);
    ovsa_store_key(p->lh, sizeof(p->lh), "lh", p->id, NULL);
    ovsa_store_key(p->dz, sizeof(p->dz), "dz", p->id, NULL);

    ovsa_pub_key(p, p->lic);
    ovsa_pub_arg(p, ovsa_backend.hw_mode ? "1" : "0");
    ovsa_pub_arg(p, p->cert);
    ovsa_pub_arg(p, p->proof.secret_sha256);
    ovsa_pub_arg(p, p->proof.machine);

    return 0;
}


/* Reads a string field; -1 when refused (answered). */
static int
ovsa_pub_str(ovsa_resp_t *resp, ovsa_pub_t *p, const char *name,
    int required, ovsa_str_kind_t kind, const char **out)
{
    ovsa_reqerr_t  re;

    if (ovsa_json_str(p->obj, name, required, kind, out, &re) != 0) {
        ovsa_resp_reqerr(resp, &re);
        return -1;
    }

    return 0;
}


/* Returns p->lease: lease_id (32 hex digits, any case) in lower case, or
 * "" when lease_id is NULL. */
static const char *
ovsa_pub_lease_id(ovsa_pub_t *p, const char *lease_id)
{
    size_t  i;

    for (i = 0; lease_id != NULL && i < OVSA_LEASE_ID_LEN; i++) {
        p->lease[i] = (char) tolower((unsigned char) lease_id[i]);
    }
    p->lease[i] = '\0';

    return p->lease;
}


/* Returns p->lease: a new lease id, 128 random bits in hex; NULL when
 * the random generator fails. */
static const char *
ovsa_pub_new_lease(ovsa_pub_t *p)
{
    size_t         i;
    unsigned char  rnd[OVSA_LEASE_ID_LEN / 2];

    if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
        return NULL;
    }

    for (i = 0; i < sizeof(rnd); i++) {
        snprintf(&p->lease[2 * i], 3, "%02x", rnd[i]);
    }

    return p->lease;
}


/* Runs the script with p's KEYS and ARGV; NULL when answered (503/500). */
static json_t *
ovsa_pub_run(ovsa_resp_t *resp, ovsa_pub_t *p, int script)
{
    return ovsa_run(resp, script, p->nkeys, p->keys, p->nargs, p->args);
}


/* Answers a script's result, adding license_id. */
static void
ovsa_pub_answer(ovsa_resp_t *resp, ovsa_pub_t *p, json_t *ans)
{
    json_object_set_new(ans, "license_id", json_string(p->id));
    ovsa_resp_answer(resp, ans);
}


static void
ovsa_pub_check(ovsa_req_t *req, ovsa_resp_t *resp)
{
    long           version, sync, exp, lexp, now;
    char           ver[32], ttl[32], rkey[OVSA_KEY_MAX];
    json_t        *ans, *lic, *v;
    ovsa_pub_t     p;
    const char    *hwid, *lease_id, *rid;
    ovsa_reqerr_t  re;
    json_error_t   jerr;

    if (ovsa_pub_start(req, resp, &p) != 0
        || ovsa_pub_str(resp, &p, "hwid", 0, OVSA_STR_TEXT, &hwid) != 0
        || ovsa_pub_str(resp, &p, "lease_id", 0, OVSA_STR_LEASE, &lease_id)
        || ovsa_pub_str(resp, &p, "request_id", 0, OVSA_STR_ID, &rid) != 0)
    {
        goto end;
    }

    if (ovsa_json_int(p.obj, "version", 0, 0, 1L << 53, 0, &version, &re)) {
        ovsa_resp_reqerr(resp, &re);
        goto end;
    }

    snprintf(ver, sizeof(ver), "%ld", version);
    snprintf(ttl, sizeof(ttl), "%d", OVSA_REQUEST_ID_TTL);
    ovsa_store_key(rkey, sizeof(rkey), "req", p.id, rid ? rid : "");

    ovsa_pub_key(&p, p.act);
    ovsa_pub_key(&p, p.lz);
    ovsa_pub_key(&p, p.lh);
    ovsa_pub_key(&p, rkey);
    ovsa_pub_arg(&p, ver);
    ovsa_pub_arg(&p, hwid ? hwid : "");
    ovsa_pub_arg(&p, ovsa_pub_lease_id(&p, lease_id));
    ovsa_pub_arg(&p, rid ? rid : "");
    ovsa_pub_arg(&p, ttl);

    ans = ovsa_pub_run(resp, &p, OVSA_LUA_CHECK);
    if (ans == NULL) {
        goto end;
    }

    v = json_object_get(ans, "code");
    if (json_is_string(v) && strcmp(json_string_value(v), "OK") == 0) {
        now = json_integer_value(json_object_get(ans, "server_time"));
        sync = json_integer_value(json_object_get(ans, "sync_interval"));
        exp = json_integer_value(json_object_get(ans, "expires_at"));
        lexp = json_integer_value(json_object_get(ans, "lease_expires"));

        json_object_set_new(ans, "valid_until", json_integer(
            ovsa_policy_valid_until(now, sync, exp, lexp)));

        v = json_object_get(ans, "license");
        if (json_is_string(v)) {
            lic = json_loads(json_string_value(v), 0, &jerr);
            if (lic == NULL) {
                json_decref(ans);
                ovsa_log("crit", "check %s: stored license is not JSON",
                         p.id);
                ovsa_resp_code(resp, "INTERNAL", NULL);
                goto end;
            }
            json_object_set_new(ans, "license", lic);
        }
    }

    if (json_integer_value(json_object_get(ans, "expires_at")) == 0
        && json_object_get(ans, "expires_at") != NULL)
    {
        json_object_set_new(ans, "expires_at", json_null());
    }

    ovsa_pub_answer(resp, &p, ans);

end:

    json_decref(p.obj);
}


/*
 * The offline operations' own arguments (docs/offline.md): the key that
 * remembers an offline activation's nonce, or the activated_at an
 * offline deactivation names; -1 when refused (answered).
 */
static int
ovsa_pub_offline(ovsa_req_t *req, ovsa_resp_t *resp, ovsa_pub_t *p,
    const ovsa_pub_op_t *op, char *nkey, char *num, size_t size)
{
    long            at;
    const char     *nonce;
    ovsa_reqerr_t   re;

    if (op->script == OVSA_LUA_DEACTIVATE) {
        if (ovsa_json_int(p->obj, "activated_at", 1, 1, 1L << 53, 0, &at,
                          &re) != 0)
        {
            ovsa_resp_reqerr(resp, &re);
            return -1;
        }
        snprintf(num, size, "%ld", at);
        ovsa_pub_arg(p, num);
        return 0;
    }

    nonce = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
                                        "OVSA-Nonce");
    if (nonce == NULL || !ovsa_nonce_valid(nonce, strlen(nonce))) {
        ovsa_json_bad_field(&re, "OVSA-Nonce", "an offline request needs "
                            "the nonce it was signed with");
        ovsa_resp_reqerr(resp, &re);
        return -1;
    }

    ovsa_store_key(nkey, OVSA_KEY_MAX, "onc", p->id, nonce);
    ovsa_pub_key(p, nkey);
    ovsa_pub_arg(p, "1");
    snprintf(num, size, "%d", OVSA_OFFLINE_REQUEST_MAX_AGE);
    ovsa_pub_arg(p, num);
    return 0;
}


/* activate, deactivate, lease/checkout, lease/heartbeat, lease/checkin,
 * lease/borrow, offline/activate, offline/deactivate */
static void
ovsa_pub_op(ovsa_req_t *req, ovsa_resp_t *resp)
{
    long                  secs;
    char                  rkey[OVSA_KEY_MAX], nkey[OVSA_KEY_MAX];
    char                  num[32];
    json_t               *ans;
    ovsa_pub_t            p;
    const char           *v, *lease, *rid;
    ovsa_reqerr_t         re;
    const ovsa_pub_op_t  *op;

    rid = NULL;

    for (op = ovsa_pub_ops; op->path != NULL; op++) {
        if (strcmp(op->path, req->path) == 0) {
            break;
        }
    }

    if (op->path == NULL) {
        ovsa_log("alert", "no operation for %s", req->path);
        ovsa_resp_code(resp, "INTERNAL", NULL);
        return;
    }

    if (ovsa_pub_start(req, resp, &p) != 0
        || ovsa_pub_str(resp, &p, op->field, 1, op->kind, &v) != 0)
    {
        goto end;
    }

    if (op->leases) {
        ovsa_pub_key(&p, p.lz);
        ovsa_pub_key(&p, p.lh);
    } else {
        ovsa_pub_key(&p, p.act);
    }

    if (op->dlog) {
        ovsa_pub_key(&p, p.dz);
    }

    if (op->script == OVSA_LUA_CHECKOUT) {
        /* a checkout takes a seat: its retry must be able to find it */
        if (ovsa_pub_str(resp, &p, "request_id", 1, OVSA_STR_ID, &rid) != 0) {
            goto end;
        }
        ovsa_store_key(rkey, sizeof(rkey), "req", p.id, rid);
        ovsa_pub_key(&p, rkey);

        lease = ovsa_pub_new_lease(&p);
        if (lease == NULL) {
            ovsa_log("crit", "checkout: RAND_bytes failed");
            ovsa_resp_code(resp, "INTERNAL", NULL);
            goto end;
        }
        ovsa_pub_arg(&p, lease);
    }

    ovsa_pub_arg(&p, op->kind == OVSA_STR_LEASE ? ovsa_pub_lease_id(&p, v)
                                                : v);

    if (op->script == OVSA_LUA_CHECKOUT) {
        ovsa_pub_arg(&p, rid);
    }

    if (strcmp(op->path, "/v1/lease/borrow") == 0) {
        if (ovsa_json_int(p.obj, "borrow_seconds", 1, OVSA_LICENSE_BORROW_MIN,
                          OVSA_LICENSE_BORROW_MAX, 0, &secs, &re) != 0)
        {
            ovsa_resp_reqerr(resp, &re);
            goto end;
        }
        snprintf(num, sizeof(num), "%ld", secs);
        ovsa_pub_arg(&p, num);

    } else if (strncmp(op->path, "/v1/offline/", 12) == 0
               && ovsa_pub_offline(req, resp, &p, op, nkey, num, sizeof(num))
                  != 0)
    {
        goto end;
    }

    ans = ovsa_pub_run(resp, &p, op->script);
    if (ans != NULL) {
        ovsa_pub_answer(resp, &p, ans);
    }

end:

    json_decref(p.obj);
}


const ovsa_route_t  ovsa_routes_public[] = {
    { "POST", "/v1/check",           ovsa_pub_check },
    { "POST", "/v1/activate",        ovsa_pub_op },
    { "POST", "/v1/deactivate",      ovsa_pub_op },
    { "POST", "/v1/lease/checkout",  ovsa_pub_op },
    { "POST", "/v1/lease/heartbeat", ovsa_pub_op },
    { "POST", "/v1/lease/checkin",   ovsa_pub_op },
    { "POST", "/v1/lease/borrow",    ovsa_pub_op },
    { "POST", "/v1/offline/activate", ovsa_pub_op },
    { "POST", "/v1/offline/deactivate", ovsa_pub_op },
    { NULL, NULL, NULL }
};
