/*
 * routes_admin.c: the admin API under /admin/v1/, served only on
 * backend.admin_listen and only with "Authorization: Bearer <token>"
 * equal (constant time) to the content of backend.admin_token_file.
 * See docs/protocol.md.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "backend.h"
#include "license.h"
#include "ovsa_pin.h"
#include "store.h"

#define OVSA_ADMIN_LICENSES  "/admin/v1/licenses/"
#define OVSA_KEY_MAX      512    /* prefix (<= 64) + kind + ids */


int
ovsa_admin_authorized(ovsa_req_t *req)
{
    size_t       n;
    const char  *h;

    h = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
                                    MHD_HTTP_HEADER_AUTHORIZATION);

    if (h != NULL && ovsa_backend.admin_token != NULL
        && strncasecmp(h, "Bearer ", 7) == 0)
    {
        h += 7;
        n = strlen(h);
        if (ovsa_memeq_ct(h, n, ovsa_backend.admin_token,
                          ovsa_backend.admin_token_len))
        {
            return 1;
        }
    }

    ovsa_log("warn", "admin: unauthorized %s %s (%s)", req->method,
             req->path, h == NULL ? "no Authorization header"
                                  : "wrong or malformed token");

    return 0;
}


/* Turns an empty JSON object member (cjson's empty table) into []. */
static void
ovsa_admin_arrayify(json_t *obj, const char *name)
{
    json_t  *v;

    v = json_object_get(obj, name);
    if (json_is_object(v) && json_object_size(v) == 0) {
        json_object_set_new(obj, name, json_array());
    }
}


static void
ovsa_admin_import(ovsa_req_t *req, ovsa_resp_t *resp)
{
    char            key[OVSA_KEY_MAX], idx[OVSA_KEY_MAX], msg[600];
    json_t         *ans;
    ovsa_err_t      err;
    const char     *answer, *keys[2];
    ovsa_import_t   imp;

    if (ovsa_import_verify(ovsa_backend.isv, req->body, req->len, &imp,
                           &answer, &err) != OVSA_OK)
    {
        snprintf(msg, sizeof(msg), "%s: %s", ovsa_code_name(err.code),
                 err.msg);
        ovsa_log("info", "admin: import refused: %s", msg);
        ovsa_resp_code(resp, answer, msg);
        return;
    }

    ovsa_store_key(key, sizeof(key), "lic", imp.lic->id, NULL);
    snprintf(idx, sizeof(idx), "%slicenses", ovsa_store_prefix());
    keys[0] = key;
    keys[1] = idx;

    ans = ovsa_run(resp, OVSA_LUA_IMPORT, 2, keys, imp.nargs, imp.args);
    if (ans != NULL) {
        if (strcmp(json_string_value(json_object_get(ans, "code")), "OK")
            == 0)
        {
            ovsa_log("info", "admin: imported %s version %lld (%s)",
                     imp.lic->id, (long long) imp.lic->version,
                     ovsa_license_type_name(imp.lic->type));
        }
        json_object_set_new(ans, "license_id", json_string(imp.lic->id));
        ovsa_resp_answer(resp, ans);
    }

    ovsa_import_free(&imp);
}


static void
ovsa_admin_list(ovsa_req_t *req, ovsa_resp_t *resp)
{
    char         idx[OVSA_KEY_MAX];
    json_t      *ans;
    const char  *keys[1], *args[1];

    snprintf(idx, sizeof(idx), "%slicenses", ovsa_store_prefix());
    keys[0] = idx;
    args[0] = ovsa_store_prefix();

    ans = ovsa_run(resp, OVSA_LUA_LIST, 1, keys, 1, args);
    if (ans != NULL) {
        ovsa_admin_arrayify(ans, "licenses");
        ovsa_resp_answer(resp, ans);
    }
}


static void
ovsa_admin_pins(ovsa_req_t *req, ovsa_resp_t *resp)
{
    char           idx[OVSA_KEY_MAX], pin[128], *s;
    json_t        *ans;
    const char    *q, *keys[1], *args[2];
    ovsa_reqerr_t  re;

    q = MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, "pin");
    if (q == NULL || strlen(q) >= sizeof(pin)) {
        ovsa_json_bad_field(&re, "pin", q ? "not a pin sha256//<base64>"
                                          : "required (?pin=sha256//...)");
        ovsa_resp_reqerr(resp, &re);
        return;
    }

    /* an unescaped '+' of base64 arrives as a space */
    snprintf(pin, sizeof(pin), "%s", q);
    for (s = pin; *s != '\0'; s++) {
        if (*s == ' ') {
            *s = '+';
        }
    }

    if (!ovsa_pin_valid(pin)) {
        ovsa_json_bad_field(&re, "pin", "not a pin sha256//<base64>");
        ovsa_resp_reqerr(resp, &re);
        return;
    }

    snprintf(idx, sizeof(idx), "%slicenses", ovsa_store_prefix());
    keys[0] = idx;
    args[0] = ovsa_store_prefix();
    args[1] = pin;

    ans = ovsa_run(resp, OVSA_LUA_PINS, 1, keys, 2, args);
    if (ans != NULL) {
        ovsa_admin_arrayify(ans, "not_pinning_ids");
        ovsa_resp_answer(resp, ans);
    }
}


/*
 * Splits "/admin/v1/licenses/ID[/ACTION]" into id (copied to idbuf) and
 * action ("" when none).  Returns 0, or -1 (answered 404) when the id is
 * not a license id.
 */
static int
ovsa_admin_target(ovsa_req_t *req, ovsa_resp_t *resp, char *idbuf,
    const char **action)
{
    size_t       n;
    const char  *p, *slash;

    p = req->path + sizeof(OVSA_ADMIN_LICENSES) - 1;
    slash = strchr(p, '/');
    n = slash ? (size_t) (slash - p) : strlen(p);
    *action = slash ? slash + 1 : "";

    if (n == 0 || n > OVSA_LICENSE_ID_MAX) {
        ovsa_resp_code(resp, "NOT_FOUND", NULL);
        return -1;
    }

    memcpy(idbuf, p, n);
    idbuf[n] = '\0';

    if (!ovsa_license_id_valid(idbuf)) {
        ovsa_resp_code(resp, "NOT_FOUND", NULL);
        return -1;
    }

    return 0;
}


static void
ovsa_admin_show(ovsa_req_t *req, ovsa_resp_t *resp)
{
    char          id[OVSA_LICENSE_ID_MAX + 1], k[4][OVSA_KEY_MAX];
    json_t       *ans, *v, *lic;
    const char   *action, *keys[4];
    json_error_t  jerr;

    if (ovsa_admin_target(req, resp, id, &action) != 0) {
        return;
    }

    if (action[0] != '\0') {
        if (strcmp(action, "revoke") == 0 || strcmp(action, "release") == 0
            || strcmp(action, "deactivate") == 0)
        {
            snprintf(resp->allow, sizeof(resp->allow), "POST");
            ovsa_resp_code(resp, "METHOD_NOT_ALLOWED", NULL);
        } else {
            ovsa_resp_code(resp, "NOT_FOUND", NULL);
        }
        return;
    }

    ovsa_store_key(k[0], OVSA_KEY_MAX, "lic", id, NULL);
    ovsa_store_key(k[1], OVSA_KEY_MAX, "act", id, NULL);
    ovsa_store_key(k[2], OVSA_KEY_MAX, "lz", id, NULL);
    ovsa_store_key(k[3], OVSA_KEY_MAX, "lh", id, NULL);
    keys[0] = k[0];
    keys[1] = k[1];
    keys[2] = k[2];
    keys[3] = k[3];

    ans = ovsa_run(resp, OVSA_LUA_SHOW, 4, keys, 0, NULL);
    if (ans == NULL) {
        return;
    }

    ovsa_admin_arrayify(ans, "activations");
    ovsa_admin_arrayify(ans, "leases");
    ovsa_admin_arrayify(json_object_get(ans, "record"), "pins");

    v = json_object_get(ans, "license");
    if (json_is_string(v)) {
        lic = json_loads(json_string_value(v), 0, &jerr);
        json_object_set_new(ans, "license", lic ? lic : json_null());
    }

    json_object_set_new(ans, "license_id", json_string(id));
    ovsa_resp_answer(resp, ans);
}


/* POST /admin/v1/licenses/ID/{revoke,release,deactivate} */
static void
ovsa_admin_action(ovsa_req_t *req, ovsa_resp_t *resp)
{
    int            all, script, nkeys;
    char           id[OVSA_LICENSE_ID_MAX + 1], k[3][OVSA_KEY_MAX];
    json_t        *obj, *ans;
    const char    *action, *arg, *keys[3];
    ovsa_reqerr_t  re;

    if (ovsa_admin_target(req, resp, id, &action) != 0) {
        return;
    }

    obj = NULL;
    arg = "";
    ovsa_store_key(k[0], OVSA_KEY_MAX, "lic", id, NULL);

    if (strcmp(action, "revoke") == 0) {
        script = OVSA_LUA_REVOKE;
        nkeys = 1;

    } else if (strcmp(action, "release") == 0) {
        obj = ovsa_json_object(req->body, req->len, &re);
        if (obj == NULL
            || ovsa_json_str(obj, "lease_id", 0, OVSA_STR_LEASE, &arg, &re)
            || ovsa_json_bool(obj, "all", 0, &all, &re))
        {
            goto refused;
        }
        if ((arg == NULL) == !all) {
            ovsa_json_bad_field(&re, "lease_id",
                                "give either lease_id or \"all\": true");
            goto refused;
        }
        arg = arg ? arg : "";
        script = OVSA_LUA_RELEASE;
        ovsa_store_key(k[1], OVSA_KEY_MAX, "lz", id, NULL);
        ovsa_store_key(k[2], OVSA_KEY_MAX, "lh", id, NULL);
        nkeys = 3;

    } else if (strcmp(action, "deactivate") == 0) {
        obj = ovsa_json_object(req->body, req->len, &re);
        if (obj == NULL
            || ovsa_json_str(obj, "hwid", 1, OVSA_STR_TEXT, &arg, &re))
        {
            goto refused;
        }
        script = OVSA_LUA_UNBIND;
        ovsa_store_key(k[1], OVSA_KEY_MAX, "act", id, NULL);
        nkeys = 2;

    } else {
        ovsa_resp_code(resp, "NOT_FOUND", NULL);
        return;
    }

    keys[0] = k[0];
    keys[1] = k[1];
    keys[2] = k[2];

    ans = ovsa_run(resp, script, nkeys, keys, script == OVSA_LUA_REVOKE ? 0 : 1,
                   &arg);
    if (ans != NULL) {
        if (strcmp(json_string_value(json_object_get(ans, "code")), "OK")
            == 0)
        {
            ovsa_log("info", "admin: %s %s%s%s", action, id,
                     arg[0] ? " " : "", arg);
        }
        json_object_set_new(ans, "license_id", json_string(id));
        ovsa_resp_answer(resp, ans);
    }

    json_decref(obj);
    return;

refused:

    ovsa_resp_reqerr(resp, &re);
    json_decref(obj);
}


const ovsa_route_t  ovsa_routes_admin[] = {
    { "POST", "/admin/v1/licenses",    ovsa_admin_import },
    { "GET",  "/admin/v1/licenses",    ovsa_admin_list },
    { "GET",  OVSA_ADMIN_LICENSES,     ovsa_admin_show },
    { "POST", OVSA_ADMIN_LICENSES,     ovsa_admin_action },
    { "GET",  "/admin/v1/pins",        ovsa_admin_pins },
    { NULL, NULL, NULL }
};
