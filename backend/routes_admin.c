/*
 * routes_admin.c: the admin API under /admin/v1/, served only on
 * backend.admin_listen and only with "Authorization: Bearer <token>"
 * equal to the content of backend.admin_token_file (their SHA-256 hashes
 * compared in constant time); wrong tokens are throttled per source.
 * See docs/protocol.md.
 */

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "backend.h"
#include "license.h"
#include "ovsa_pin.h"
#include "store.h"

#define OVSA_ADMIN_LICENSES  "/admin/v1/licenses/"
#define OVSA_KEY_MAX      512    /* prefix (<= 64) + kind + ids */


/*
 * Wrong tokens per source address: after OVSA_ADMIN_FAIL_MAX wrong bearer
 * tokens in a row (compared tokens; a missing header or another scheme
 * guesses nothing and is not counted) the source is refused for a backoff window (429 ADMIN_THROTTLED,
 * Retry-After), doubled for each further window it earns, up to
 * OVSA_ADMIN_BACKOFF_MAX; a correct token forgets the source.  Other
 * sources are unaffected.  The table holds OVSA_ADMIN_SOURCES sources;
 * a new one replaces the least recently seen.
 */
typedef struct {
    unsigned char  addr[16];
    int            used;
    int            fails;        /* since the last success or window */
    int            windows;      /* backoff windows earned in a row */
    time_t         until;        /* refused before this time */
    time_t         seen;
} ovsa_admin_source_t;

static ovsa_admin_source_t  ovsa_admin_sources[OVSA_ADMIN_SOURCES];
static pthread_mutex_t      ovsa_admin_lock = PTHREAD_MUTEX_INITIALIZER;


/* the source address as 16 bytes (IPv4 mapped), text in buf */
static void
ovsa_admin_source(struct MHD_Connection *conn, unsigned char *addr,
    char *buf, size_t size)
{
    const struct sockaddr_in        *in;
    const struct sockaddr_in6       *in6;
    const union MHD_ConnectionInfo  *ci;

    memset(addr, 0, 16);
    snprintf(buf, size, "local");

    ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci == NULL || ci->client_addr == NULL) {
        return;
    }

    if (ci->client_addr->sa_family == AF_INET) {
        in = (const struct sockaddr_in *) ci->client_addr;
        addr[10] = 0xff;
        addr[11] = 0xff;
        memcpy(addr + 12, &in->sin_addr, 4);
        inet_ntop(AF_INET, &in->sin_addr, buf, size);

    } else if (ci->client_addr->sa_family == AF_INET6) {
        in6 = (const struct sockaddr_in6 *) ci->client_addr;
        memcpy(addr, &in6->sin6_addr, 16);
        inet_ntop(AF_INET6, &in6->sin6_addr, buf, size);
    }
}


/* the source's entry, a new one (the least recently seen replaced) */
static ovsa_admin_source_t *
ovsa_admin_source_get(const unsigned char *addr, time_t now)
{
    size_t                i;
    ovsa_admin_source_t  *s, *old;

    old = &ovsa_admin_sources[0];

    for (i = 0; i < OVSA_ADMIN_SOURCES; i++) {
        s = &ovsa_admin_sources[i];

        if (s->used && memcmp(s->addr, addr, 16) == 0) {
            s->seen = now;
            return s;
        }

        if (!s->used || (old->used && s->seen < old->seen)) {
            old = s;
        }
    }

    memset(old, 0, sizeof(*old));
    memcpy(old->addr, addr, 16);
    old->used = 1;
    old->seen = now;

    return old;
}


int
ovsa_admin_authorized(ovsa_req_t *req, ovsa_resp_t *resp)
{
    int                   i, ok, compared;
    long                  wait;
    time_t                now;
    const char           *h, *why;
    ovsa_admin_source_t  *s;
    unsigned char         addr[16], md[SHA256_DIGEST_LENGTH];
    char                  src[INET6_ADDRSTRLEN];

    ovsa_admin_source(req->conn, addr, src, sizeof(src));
    now = time(NULL);

    pthread_mutex_lock(&ovsa_admin_lock);
    s = ovsa_admin_source_get(addr, now);
    wait = s->until > now ? (long) (s->until - now) : 0;
    pthread_mutex_unlock(&ovsa_admin_lock);

    /* a source in its backoff window is not even compared */
    if (wait > 0) {
        ovsa_log("warn", "admin: %s %s from %s refused: too many wrong "
                 "tokens, in its backoff window", req->method, req->path,
                 src);
        ovsa_resp_code(resp, "ADMIN_THROTTLED", NULL);
        resp->retry_after = (int) wait;
        return 0;
    }

    h = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
                                    MHD_HTTP_HEADER_AUTHORIZATION);
    ok = 0;
    compared = 0;
    why = "no Authorization header";

    if (h != NULL) {
        why = "wrong or malformed token";
    }

    /*
     * fixed-size hashes compared in constant time: the time tells
     * neither how much of the token matched nor how long it is
     */
    if (h != NULL && ovsa_backend.admin_token != NULL
        && strncasecmp(h, "Bearer ", 7) == 0)
    {
        h += 7;
        compared = 1;
        SHA256((const unsigned char *) h, strlen(h), md);
        ok = CRYPTO_memcmp(md, ovsa_backend.admin_token_sha256,
                           sizeof(md)) == 0;
        OPENSSL_cleanse(md, sizeof(md));
    }

    pthread_mutex_lock(&ovsa_admin_lock);
    s = ovsa_admin_source_get(addr, now);

    if (ok) {
        s->fails = 0;
        s->windows = 0;

    } else if (compared && ++s->fails >= OVSA_ADMIN_FAIL_MAX) {
        wait = OVSA_ADMIN_BACKOFF_FIRST;
        for (i = 0; i < s->windows && wait < OVSA_ADMIN_BACKOFF_MAX; i++) {
            wait *= 2;
        }
        wait = wait < OVSA_ADMIN_BACKOFF_MAX ? wait : OVSA_ADMIN_BACKOFF_MAX;
        s->until = now + wait;
        s->windows++;
        s->fails = 0;
    }

    pthread_mutex_unlock(&ovsa_admin_lock);

    if (ok) {
        return 1;
    }

    if (wait > 0) {
        ovsa_log("warn", "admin: unauthorized %s %s from %s (%s); %d wrong "
                 "tokens: source refused for %lds", req->method, req->path,
                 src, why, OVSA_ADMIN_FAIL_MAX, wait);
    } else {
        ovsa_log("warn", "admin: unauthorized %s %s from %s (%s)",
                 req->method, req->path, src, why);
    }

    ovsa_resp_code(resp, "UNAUTHORIZED", NULL);
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
    const char     *answer, *keys[1];
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

    /*
     * Two steps, each on one slot (Redis Cluster): the id into the index
     * set first, then the record.  An import that fails between them
     * leaves an index member without a record, which the readers skip;
     * the other order could leave a record no list shows.
     */
    ovsa_store_index_key(idx, sizeof(idx));
    keys[0] = idx;
    ans = ovsa_run(resp, OVSA_LUA_INDEX, 1, keys, 1, &imp.args[1]);
    if (ans == NULL) {
        ovsa_import_free(&imp);
        return;
    }
    json_decref(ans);

    ovsa_store_key(key, sizeof(key), "lic", imp.lic->id, NULL);
    keys[0] = key;

    ans = ovsa_run(resp, OVSA_LUA_IMPORT, 1, keys, imp.nargs, imp.args);
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


/*
 * The summaries of every license of the index, sorted by id, as a JSON
 * array (summary.lua's rows); index members without a record are
 * skipped.  One script per license, each on its own slot (Redis
 * Cluster): the list is not one atomic snapshot, each row is.  Returns
 * NULL after answering resp.
 */
json_t *
ovsa_admin_summaries(ovsa_resp_t *resp)
{
    char         idx[OVSA_KEY_MAX], k[3][OVSA_KEY_MAX];
    size_t       i;
    json_t      *ans, *ids, *rows, *row, *id;
    const char  *keys[3], *code;

    ovsa_store_index_key(idx, sizeof(idx));
    keys[0] = idx;

    ans = ovsa_run(resp, OVSA_LUA_IDS, 1, keys, 0, NULL);
    if (ans == NULL) {
        return NULL;
    }

    rows = json_array();
    ids = json_object_get(ans, "ids");

    json_array_foreach(ids, i, id) {
        if (!json_is_string(id)
            || !ovsa_license_id_valid(json_string_value(id)))
        {
            continue;
        }

        ovsa_store_key(k[0], OVSA_KEY_MAX, "lic", json_string_value(id),
                       NULL);
        ovsa_store_key(k[1], OVSA_KEY_MAX, "act", json_string_value(id),
                       NULL);
        ovsa_store_key(k[2], OVSA_KEY_MAX, "lz", json_string_value(id),
                       NULL);
        keys[0] = k[0];
        keys[1] = k[1];
        keys[2] = k[2];

        row = ovsa_run(resp, OVSA_LUA_SUMMARY, 3, keys, 0, NULL);
        if (row == NULL) {
            json_decref(rows);
            json_decref(ans);
            return NULL;
        }

        code = json_string_value(json_object_get(row, "code"));
        if (code == NULL || strcmp(code, "OK") != 0) {
            json_decref(row);           /* in the index, no record */
            continue;
        }

        json_object_del(row, "code");
        json_object_del(row, "server_time");
        json_array_append_new(rows, row);
    }

    json_decref(ans);

    return rows;
}


static void
ovsa_admin_list(ovsa_req_t *req, ovsa_resp_t *resp)
{
    size_t   i;
    json_t  *ans, *rows, *row;

    rows = ovsa_admin_summaries(resp);
    if (rows == NULL) {
        return;
    }

    json_array_foreach(rows, i, row) {
        json_object_del(row, "pins");
    }

    ans = json_object();
    json_object_set_new(ans, "code", json_string("OK"));
    json_object_set_new(ans, "count", json_integer(json_array_size(rows)));
    json_object_set_new(ans, "licenses", rows);
    ovsa_resp_answer(resp, ans);
}


/* Returns 1 when the space-separated list pins holds pin. */
static int
ovsa_admin_pinned(const char *pins, const char *pin)
{
    size_t       n;
    const char  *p, *e;

    n = strlen(pin);

    for (p = pins; *p != '\0'; p = e) {
        while (*p == ' ') {
            p++;
        }
        e = p;
        while (*e != ' ' && *e != '\0') {
            e++;
        }
        if ((size_t) (e - p) == n && n > 0 && memcmp(p, pin, n) == 0) {
            return 1;
        }
    }

    return 0;
}


static void
ovsa_admin_pins(ovsa_req_t *req, ovsa_resp_t *resp)
{
    char           pin[128], *s;
    size_t         i;
    json_int_t     active, pinning;
    json_t        *ans, *rows, *row, *missing;
    const char    *q, *pins, *status;
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

    rows = ovsa_admin_summaries(resp);
    if (rows == NULL) {
        return;
    }

    /* active: not revoked, not expired (by Redis's clock, summary.lua) */
    active = 0;
    pinning = 0;
    missing = json_array();

    json_array_foreach(rows, i, row) {
        status = json_string_value(json_object_get(row, "status"));
        pins = json_string_value(json_object_get(row, "pins"));
        if (status == NULL || strcmp(status, "active") != 0
            || json_is_true(json_object_get(row, "expired")))
        {
            continue;
        }

        active++;
        if (ovsa_admin_pinned(pins ? pins : "", pin)) {
            pinning++;
        } else if (json_array_size(missing) < 100) {
            json_array_append(missing, json_object_get(row, "license_id"));
        }
    }

    json_decref(rows);

    ans = json_object();
    json_object_set_new(ans, "code", json_string("OK"));
    json_object_set_new(ans, "pin", json_string(pin));
    json_object_set_new(ans, "active", json_integer(active));
    json_object_set_new(ans, "pinning", json_integer(pinning));
    json_object_set_new(ans, "not_pinning", json_integer(active - pinning));
    json_object_set_new(ans, "not_pinning_ids", missing);
    ovsa_resp_answer(resp, ans);
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

    /* 16d: the audit trail (routes_audit.c) */
    if (strcmp(action, "audit") == 0 || strcmp(action, "audit/head") == 0) {
        ovsa_admin_audit_get(req, resp, id, action);
        return;
    }

    if (action[0] != '\0') {
        if (strcmp(action, "audit/checkpoint") == 0
            || strcmp(action, "revoke") == 0 || strcmp(action, "release") == 0
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

    } else if (strcmp(action, "audit/checkpoint") == 0) {
        ovsa_admin_audit_post(req, resp, id);       /* 16d */
        return;

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
