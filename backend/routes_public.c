/*
 * routes_public.c: the public license API under /v1/ (nginx proxies it).
 * Each route validates its body, then runs one Lua script that decides
 * and changes state atomically.  See docs/protocol.md.
 *
 * The header X-OVSA-Client-Cert-SHA256 is trusted as set by nginx from
 * the client certificate: the public listener must only be reachable by
 * nginx (unix socket or loopback), and nginx must always set or clear it.
 */

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <openssl/rand.h>

#include "backend.h"
#include "policy.h"
#include "store.h"

#define OVSA_CERT_HEADER  "X-OVSA-Client-Cert-SHA256"
#define OVSA_KEY_MAX      512    /* prefix (<= 64) + kind + ids */

/* What every public route starts with. */
typedef struct {
    json_t      *obj;                 /* the request body */
    const char  *id;                  /* license_id */
    char         cert[OVSA_CERT_HEX_LEN + 1];
    const char  *hw;                  /* "1" in hardware-key mode */
    char         lic[OVSA_KEY_MAX];   /* key names */
    char         act[OVSA_KEY_MAX];
    char         lz[OVSA_KEY_MAX];
    char         lh[OVSA_KEY_MAX];
} ovsa_pub_t;


/* Parses body, license_id and the client-cert header; 0 or -1 (answered). */
static int
ovsa_pub_start(ovsa_req_t *req, ovsa_resp_t *resp, ovsa_pub_t *p)
{
    size_t         i;
    const char    *h;
    ovsa_reqerr_t  re;

    memset(p, 0, sizeof(*p));
    p->hw = ovsa_backend.hw_mode ? "1" : "0";

    h = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
                                    OVSA_CERT_HEADER);
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

    ovsa_store_key(p->lic, sizeof(p->lic), "lic", p->id, NULL);
    ovsa_store_key(p->act, sizeof(p->act), "act", p->id, NULL);
    ovsa_store_key(p->lz, sizeof(p->lz), "lz", p->id, NULL);
    ovsa_store_key(p->lh, sizeof(p->lh), "lh", p->id, NULL);

    return 0;
}


/* Answers a script's result, adding license_id. */
static void
ovsa_pub_answer(ovsa_resp_t *resp, ovsa_pub_t *p, json_t *ans)
{
    json_object_set_new(ans, "license_id", json_string(p->id));
    ovsa_resp_answer(resp, ans);
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


static void
ovsa_pub_check(ovsa_req_t *req, ovsa_resp_t *resp)
{
    long           version, sync, exp, lexp, now;
    char           ver[32], ttl[32], rkey[OVSA_KEY_MAX], lease[33];
    json_t        *ans, *lic, *v;
    size_t         i;
    ovsa_pub_t     p;
    const char    *hwid, *lease_id, *rid, *keys[5], *args[7];
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

    lease[0] = '\0';
    if (lease_id != NULL) {
        for (i = 0; i < OVSA_LEASE_ID_LEN; i++) {
            lease[i] = (char) tolower((unsigned char) lease_id[i]);
        }
        lease[i] = '\0';
    }

    snprintf(ver, sizeof(ver), "%ld", version);
    snprintf(ttl, sizeof(ttl), "%d", OVSA_REQUEST_ID_TTL);
    ovsa_store_key(rkey, sizeof(rkey), "req", p.id, rid ? rid : "");

    keys[0] = p.lic;
    keys[1] = p.act;
    keys[2] = p.lz;
    keys[3] = p.lh;
    keys[4] = rkey;
    args[0] = p.hw;
    args[1] = p.cert;
    args[2] = ver;
    args[3] = hwid ? hwid : "";
    args[4] = lease;
    args[5] = rid ? rid : "";
    args[6] = ttl;

    ans = ovsa_run(resp, OVSA_LUA_CHECK, 5, keys, 7, args);
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


static void
ovsa_pub_activation(ovsa_req_t *req, ovsa_resp_t *resp, int script)
{
    json_t      *ans;
    ovsa_pub_t   p;
    const char  *hwid, *keys[2], *args[3];

    if (ovsa_pub_start(req, resp, &p) != 0
        || ovsa_pub_str(resp, &p, "hwid", 1, OVSA_STR_TEXT, &hwid) != 0)
    {
        goto end;
    }

    keys[0] = p.lic;
    keys[1] = p.act;
    args[0] = p.hw;
    args[1] = p.cert;
    args[2] = hwid;

    ans = ovsa_run(resp, script, 2, keys, 3, args);
    if (ans != NULL) {
        ovsa_pub_answer(resp, &p, ans);
    }

end:

    json_decref(p.obj);
}


static void
ovsa_pub_activate(ovsa_req_t *req, ovsa_resp_t *resp)
{
    ovsa_pub_activation(req, resp, OVSA_LUA_ACTIVATE);
}


static void
ovsa_pub_deactivate(ovsa_req_t *req, ovsa_resp_t *resp)
{
    ovsa_pub_activation(req, resp, OVSA_LUA_DEACTIVATE);
}


static void
ovsa_pub_checkout(ovsa_req_t *req, ovsa_resp_t *resp)
{
    int            i;
    char           lease[OVSA_LEASE_ID_LEN + 1];
    json_t        *ans;
    ovsa_pub_t     p;
    const char    *client, *keys[3], *args[4];
    unsigned char  rnd[OVSA_LEASE_ID_LEN / 2];

    if (ovsa_pub_start(req, resp, &p) != 0
        || ovsa_pub_str(resp, &p, "client_id", 1, OVSA_STR_TEXT, &client))
    {
        goto end;
    }

    if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
        ovsa_log("crit", "checkout: RAND_bytes failed");
        ovsa_resp_code(resp, "INTERNAL", NULL);
        goto end;
    }

    for (i = 0; i < (int) sizeof(rnd); i++) {
        snprintf(&lease[2 * i], 3, "%02x", rnd[i]);
    }

    keys[0] = p.lic;
    keys[1] = p.lz;
    keys[2] = p.lh;
    args[0] = p.hw;
    args[1] = p.cert;
    args[2] = lease;
    args[3] = client;

    ans = ovsa_run(resp, OVSA_LUA_CHECKOUT, 3, keys, 4, args);
    if (ans != NULL) {
        ovsa_pub_answer(resp, &p, ans);
    }

end:

    json_decref(p.obj);
}


static void
ovsa_pub_lease(ovsa_req_t *req, ovsa_resp_t *resp, int script)
{
    size_t       i;
    char         lease[OVSA_LEASE_ID_LEN + 1];
    json_t      *ans;
    ovsa_pub_t   p;
    const char  *lease_id, *keys[3], *args[3];

    if (ovsa_pub_start(req, resp, &p) != 0
        || ovsa_pub_str(resp, &p, "lease_id", 1, OVSA_STR_LEASE, &lease_id))
    {
        goto end;
    }

    for (i = 0; i < OVSA_LEASE_ID_LEN; i++) {
        lease[i] = (char) tolower((unsigned char) lease_id[i]);
    }
    lease[i] = '\0';

    keys[0] = p.lic;
    keys[1] = p.lz;
    keys[2] = p.lh;
    args[0] = p.hw;
    args[1] = p.cert;
    args[2] = lease;

    ans = ovsa_run(resp, script, 3, keys, 3, args);
    if (ans != NULL) {
        ovsa_pub_answer(resp, &p, ans);
    }

end:

    json_decref(p.obj);
}


static void
ovsa_pub_heartbeat(ovsa_req_t *req, ovsa_resp_t *resp)
{
    ovsa_pub_lease(req, resp, OVSA_LUA_HEARTBEAT);
}


static void
ovsa_pub_checkin(ovsa_req_t *req, ovsa_resp_t *resp)
{
    ovsa_pub_lease(req, resp, OVSA_LUA_CHECKIN);
}


const ovsa_route_t  ovsa_routes_public[] = {
    { "POST", "/v1/check",           ovsa_pub_check },
    { "POST", "/v1/activate",        ovsa_pub_activate },
    { "POST", "/v1/deactivate",      ovsa_pub_deactivate },
    { "POST", "/v1/lease/checkout",  ovsa_pub_checkout },
    { "POST", "/v1/lease/heartbeat", ovsa_pub_heartbeat },
    { "POST", "/v1/lease/checkin",   ovsa_pub_checkin },
    { NULL, NULL, NULL }
};
