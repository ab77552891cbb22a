/*
 * http.c: the HTTP side of ovsa-backend on libmicrohttpd: listening
 * sockets, daemons with an internal thread pool (epoll), request bodies
 * up to backend.max_body, the Content-Digest of public requests, route
 * dispatch and JSON answers.
 */

#include <errno.h>
#include <stdint.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "metrics.h"
#include "ovsa_httpsig.h"
#include "ovsa_metrics.h"
#include "policy.h"
#include "store.h"


typedef struct {
    char    *body;
    size_t   len;
    size_t   cap;
    int      too_large;
    uint64_t start_us;      /* metrics: the request's first call */
} ovsa_http_ctx_t;

/* the Content-Digest fields of one request */
typedef struct {
    int          n;
    const char  *value;
} ovsa_http_digest_t;

static long  ovsa_http_busy;    /* requests in flight, atomic */

/* the cls of the metrics listener's daemon (16c); the admin one is 1 */
#define OVSA_HTTP_METRICS  ((void *) 2)


/*
 * The logger's memory of recent lines: a line identical (level and text)
 * to one first written less than OVSA_LOG_WINDOW seconds before is
 * written OVSA_LOG_BURST times in all, then counted, not written; the
 * count is written as "<line> (repeated N more times in T s)" once the
 * window has passed (at the next line logged, or at
 * ovsa_log_flush()).  A Redis outage of a few seconds so writes a handful
 * of lines, not one per request.
 */
#define OVSA_LOG_WINDOW  10
#define OVSA_LOG_SLOTS   32
#define OVSA_LOG_BURST   3

typedef struct {
    char      line[1024];
    char      level[12];
    time_t    first;         /* written at; the window starts */
    time_t    last;          /* last repeat */
    unsigned  repeats;       /* not written since */
    unsigned  written;       /* written in this window */
    int       used;
} ovsa_log_slot_t;

static ovsa_log_slot_t  ovsa_log_slots[OVSA_LOG_SLOTS];
static pthread_mutex_t  ovsa_log_lock = PTHREAD_MUTEX_INITIALIZER;


static void
ovsa_log_write(time_t now, const char *level, const char *line,
    unsigned repeats, long secs)
{
    char       ts[32];
    struct tm  tm;

    gmtime_r(&now, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);

    if (repeats == 0) {
        fprintf(stderr, "%s " OVSA_BACKEND_NAME ": [%s] %s\n", ts, level,
                line);
    } else {
        fprintf(stderr, "%s " OVSA_BACKEND_NAME ": [%s] %s (repeated %u "
                "more time%s in %ld s)\n", ts, level, line, repeats,
                repeats == 1 ? "" : "s", secs);
    }
}


/* writes the counts of windows that have passed; with the lock held */
static void
ovsa_log_expire(time_t now, int all)
{
    size_t            i;
    ovsa_log_slot_t  *s;

    for (i = 0; i < OVSA_LOG_SLOTS; i++) {
        s = &ovsa_log_slots[i];

        if (!s->used || (!all && now - s->first < OVSA_LOG_WINDOW)) {
            continue;
        }

        if (s->repeats) {
            ovsa_log_write(now, s->level, s->line, s->repeats,
                           (long) (s->last - s->first));
        }

        s->used = 0;
    }
}


void
ovsa_log_flush(void)
{
    pthread_mutex_lock(&ovsa_log_lock);
    ovsa_log_expire(time(NULL), 1);
    pthread_mutex_unlock(&ovsa_log_lock);
}


void
ovsa_log(const char *level, const char *fmt, ...)
{
    char              line[1024];
    size_t            i;
    time_t            now;
    va_list           ap;
    ovsa_log_slot_t  *s, *free_slot, *oldest;

    now = time(NULL);

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);

    pthread_mutex_lock(&ovsa_log_lock);

    ovsa_log_expire(now, 0);

    free_slot = NULL;
    oldest = &ovsa_log_slots[0];

    for (i = 0; i < OVSA_LOG_SLOTS; i++) {
        s = &ovsa_log_slots[i];

        if (!s->used) {
            if (free_slot == NULL) {
                free_slot = s;
            }
            continue;
        }

        if (strcmp(s->line, line) == 0 && strcmp(s->level, level) == 0) {
            s->last = now;

            /* the first OVSA_LOG_BURST are written, the rest counted */
            if (s->written < OVSA_LOG_BURST) {
                s->written++;
                ovsa_log_write(now, level, line, 0, 0);
            } else {
                s->repeats++;
            }

            pthread_mutex_unlock(&ovsa_log_lock);
            return;
        }

        if (s->first < oldest->first) {
            oldest = s;
        }
    }

    /* a new line: remembered (the oldest one's count written first) */
    s = free_slot;
    if (s == NULL) {
        s = oldest;
        if (s->repeats) {
            ovsa_log_write(now, s->level, s->line, s->repeats,
                           (long) (s->last - s->first));
        }
    }

    snprintf(s->line, sizeof(s->line), "%s", line);
    snprintf(s->level, sizeof(s->level), "%s", level);
    s->first = now;
    s->last = now;
    s->repeats = 0;
    s->written = 1;
    s->used = 1;

    ovsa_log_write(now, level, line, 0, 0);

    pthread_mutex_unlock(&ovsa_log_lock);
}


long
ovsa_http_inflight(void)
{
    return __atomic_load_n(&ovsa_http_busy, __ATOMIC_SEQ_CST);
}


/* ---- answers */

static int
ovsa_resp_keycmp(const void *a, const void *b)
{
    return strcmp(*(const char **) a, *(const char **) b);
}


/*
 * Returns a copy of body with verdict, code, message, server_time first
 * and the other members in name order, so answers read the same every
 * time.  Steals body.
 */
static json_t *
ovsa_resp_ordered(json_t *body)
{
    size_t       i, n;
    json_t      *out, *v;
    const char  *k, **keys;

    static const char  *first[] = {
        "verdict", "code", "message", "field", "server_time", NULL
    };

    out = json_object();
    n = json_object_size(body);
    keys = calloc(n + 1, sizeof(char *));
    if (out == NULL || keys == NULL) {
        free(keys);
        json_decref(out);
        return body;
    }

    for (i = 0; first[i] != NULL; i++) {
        v = json_object_get(body, first[i]);
        if (v != NULL) {
            json_object_set(out, first[i], v);
        }
    }

    i = 0;
    json_object_foreach(body, k, v) {
        keys[i++] = k;
    }
    qsort(keys, i, sizeof(char *), ovsa_resp_keycmp);

    for (n = 0; n < i; n++) {
        if (json_object_get(out, keys[n]) == NULL) {
            json_object_set(out, keys[n], json_object_get(body, keys[n]));
        }
    }

    free(keys);
    json_decref(body);

    return out;
}


static void
ovsa_resp_fill(ovsa_resp_t *resp, json_t *body, const char *code,
    const char *message)
{
    const ovsa_policy_code_t  *pc;

    pc = ovsa_policy_code(code);
    if (pc == NULL) {
        ovsa_log("alert", "unknown answer code \"%s\"", code);
        pc = ovsa_policy_code("INTERNAL");
        message = NULL;
        json_object_clear(body);
    }

    resp->status = pc->status;
    json_object_set_new(body, "verdict", json_string(pc->verdict));
    json_object_set_new(body, "code", json_string(pc->code));

    if (strcmp(pc->code, "OK") != 0) {
        if (message != NULL) {
            json_object_set_new(body, "message", json_string(message));
        } else if (json_object_get(body, "message") == NULL) {
            json_object_set_new(body, "message", json_string(pc->message));
        }
    }

    if (json_object_get(body, "server_time") == NULL) {
        json_object_set_new(body, "server_time",
                            json_integer((json_int_t) time(NULL)));
    }

    json_decref(resp->body);
    resp->body = ovsa_resp_ordered(body);
}


void
ovsa_resp_code(ovsa_resp_t *resp, const char *code, const char *message)
{
    ovsa_resp_fill(resp, json_object(), code, message);
}


void
ovsa_resp_reqerr(ovsa_resp_t *resp, const ovsa_reqerr_t *re)
{
    json_t  *body;

    body = json_object();
    if (re->field != NULL) {
        json_object_set_new(body, "field", json_string(re->field));
    }

    ovsa_resp_fill(resp, body, re->code, re->message);
}


void
ovsa_resp_store(ovsa_resp_t *resp, const ovsa_err_t *err)
{
    int  not_sent;

    if (err->code == OVSA_E_REPLICA_ACK) {
        /* the change was made on the master; a retry learns it */
        ovsa_log("error", "%s", err->msg);
        ovsa_resp_code(resp, "REPLICA_ACK_TIMEOUT", NULL);

    } else if (err->code == OVSA_E_TRANSPORT) {
        resp->retry_after = ovsa_store_retry_after(&not_sent);
        if (!not_sent) {
            /* the open breaker's refusals were logged when it opened */
            ovsa_log("error", "%s", err->msg);
        }
        ovsa_resp_code(resp, "STORE_UNAVAILABLE", NULL);

    } else if (err->code == OVSA_E_STORE_NOT_DURABLE) {
        /* logged once when the store's state changed (store_health.c) */
        ovsa_resp_code(resp, "STORE_NOT_DURABLE", err->msg);

    } else {
        ovsa_log("crit", "%s", err->msg);
        ovsa_resp_code(resp, "INTERNAL", NULL);
    }
}


void
ovsa_resp_answer(ovsa_resp_t *resp, json_t *ans)
{
    json_t      *code;
    const char  *c;

    code = json_object_get(ans, "code");
    c = json_is_string(code) ? json_string_value(code) : "INTERNAL";

    ovsa_resp_fill(resp, ans, c, NULL);
}


/*
 * Whether a script's answer reports a change of license state that must
 * reach min_replicas_ack replicas before it is answered: the "OK" of a
 * script whose store mode is not RO (for check, the SPEND script: a use
 * spent or replayed).  Refusals change nothing the client relies on.
 */
static int
ovsa_run_wrote(int script, json_t *ans)
{
    json_t  *code;

    /*
     * The index step of an import (index.lua, before import.lua) does not
     * wait: the import is not made yet, so a REPLICA_ACK_TIMEOUT saying
     * "the change was made" would be false; the record's own WAIT follows.
     */
    if (ovsa_store_mode(script) == OVSA_STORE_RO || script == OVSA_LUA_INDEX)
    {
        return 0;
    }

    code = json_object_get(ans, "code");
    if (!json_is_string(code) || strcmp(json_string_value(code), "OK") != 0)
    {
        return 0;
    }

    if (script == OVSA_LUA_CHECK) {
        return json_object_get(ans, "usage_remaining") != NULL;
    }

    return 1;
}


json_t *
ovsa_run(ovsa_resp_t *resp, int script, int nkeys, const char **keys,
    int nargs, const char **args)
{
    int            acked;
    char           msg[200];
    char          *out;
    json_t        *ans, *code;
    ovsa_err_t     err;
    json_error_t   jerr;

    if (ovsa_store_eval(script, nkeys, keys, nargs, args, &out, &err)
        != OVSA_OK)
    {
        ovsa_resp_store(resp, &err);
        return NULL;
    }

    ans = json_loads(out, 0, &jerr);
    free(out);

    if (!json_is_object(ans)) {
        json_decref(ans);
        err.code = OVSA_E_INTERNAL;
        snprintf(err.msg, sizeof(err.msg), "store: script answer: %s",
                 jerr.text);
        ovsa_resp_store(resp, &err);
        return NULL;
    }

    /* a spend the script refused itself (OVSA_STORE_SPEND): say why */
    code = json_object_get(ans, "code");
    if (json_is_string(code)
        && strcmp(json_string_value(code), "STORE_NOT_DURABLE") == 0)
    {
        ovsa_store_not_durable(err.msg, sizeof(err.msg));
        json_object_set_new(ans, "message", json_string(err.msg[0]
            ? err.msg : "the license store became durable: retry"));
    }

    /* WAIT for the replicas before the answer says "done" */
    if (ovsa_store_replicas_ack(ovsa_run_wrote(script, ans), &acked, &err)
        != OVSA_OK)
    {
        json_decref(ans);

        if (err.code != OVSA_E_REPLICA_ACK) {
            ovsa_resp_store(resp, &err);
            return NULL;
        }

        ovsa_log("error", "%s", err.msg);
        snprintf(msg, sizeof(msg), "the change was made but acknowledged by "
                 "%d of %d replicas within %d ms: retry with the same "
                 "request_id to learn its outcome", acked,
                 ovsa_store_min_replicas_ack(),
                 ovsa_store_replicas_ack_timeout());
        ovsa_resp_code(resp, "REPLICA_ACK_TIMEOUT", msg);
        return NULL;
    }

    return ans;
}


/* ---- dispatch */

/* Runs the route of req; returns it (the metrics' label), or NULL. */
static const ovsa_route_t *
ovsa_http_dispatch(const ovsa_route_t *routes, ovsa_req_t *req,
    ovsa_resp_t *resp)
{
    size_t               n;
    const ovsa_route_t  *r, *path_match;

    path_match = NULL;

    for (r = routes; r->path != NULL; r++) {
        n = strlen(r->path);

        if (r->path[n - 1] == '/'
            ? strncmp(req->path, r->path, n) != 0 || req->path[n] == '\0'
            : strcmp(req->path, r->path) != 0)
        {
            continue;
        }

        if (strcmp(req->method, r->method) == 0) {
            r->handler(req, resp);
            return r;
        }

        path_match = r;
        n = strlen(resp->allow);
        snprintf(resp->allow + n, sizeof(resp->allow) - n, "%s%s",
                 n ? ", " : "", r->method);
    }

    if (path_match != NULL) {
        ovsa_resp_code(resp, "METHOD_NOT_ALLOWED", NULL);
        return NULL;
    }

    ovsa_resp_code(resp, "NOT_FOUND", NULL);
    return NULL;
}


/*
 * 16c: GET /metrics, the Prometheus text (metrics.c); on the admin
 * listener behind its token, or on metrics.listen.
 */
static enum MHD_Result
ovsa_http_metrics(struct MHD_Connection *conn)
{
    char                 *text;
    enum MHD_Result       rc;
    struct MHD_Response  *r;

    text = ovsa_metrics_text();
    if (text == NULL) {
        return MHD_NO;
    }

    r = MHD_create_response_from_buffer(strlen(text), text,
                                        MHD_RESPMEM_MUST_FREE);
    if (r == NULL) {
        free(text);
        return MHD_NO;
    }

    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                            OVSA_METRICS_CONTENT_TYPE);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");

    rc = MHD_queue_response(conn, MHD_HTTP_OK, r);
    MHD_destroy_response(r);

    return rc;
}


static enum MHD_Result
ovsa_http_send(struct MHD_Connection *conn, ovsa_resp_t *resp)
{
    char                  ra[16];
    char                 *text;
    enum MHD_Result       rc;
    struct MHD_Response  *r;

    text = json_dumps(resp->body, JSON_COMPACT);
    if (text == NULL) {
        return MHD_NO;
    }

    r = MHD_create_response_from_buffer(strlen(text), text,
                                        MHD_RESPMEM_MUST_FREE);
    if (r == NULL) {
        free(text);
        return MHD_NO;
    }

    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                            "application/json");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");

    if (resp->retry_after > 0) {
        snprintf(ra, sizeof(ra), "%d", resp->retry_after);
        MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, ra);
    }
    if (resp->allow[0] != '\0') {
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, resp->allow);
    }

    rc = MHD_queue_response(conn, resp->status, r);
    MHD_destroy_response(r);

    return rc;
}


static enum MHD_Result
ovsa_http_digest_field(void *cls, enum MHD_ValueKind kind, const char *key,
    const char *value)
{
    ovsa_http_digest_t  *d = cls;

    if (strcasecmp(key, "Content-Digest") == 0) {
        d->n++;
        d->value = value;
    }

    return MHD_YES;
}


/*
 * A public request with a body must carry one Content-Digest (RFC 9530)
 * of that body, checked before the body is parsed or any route runs:
 * nginx signs the answer over the request's digest ("content-digest";req),
 * so the digest must be of the bytes the backend acts on.  A request
 * without a body may carry one; it must then be the empty body's.
 * Returns OVSA_OK, or OVSA_ERR with resp filled: DIGEST_REQUIRED (none
 * for a body, several, malformed, no sha-256 or sha-512) or
 * DIGEST_MISMATCH.
 */
static int
ovsa_http_digest(struct MHD_Connection *conn, ovsa_req_t *req,
    ovsa_resp_t *resp)
{
    int                  body;
    char                 msg[600];
    const char          *cl;
    ovsa_err_t           err;
    ovsa_http_digest_t   d;

    d.n = 0;
    d.value = NULL;
    MHD_get_connection_values(conn, MHD_HEADER_KIND, ovsa_http_digest_field,
                              &d);

    cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                     MHD_HTTP_HEADER_CONTENT_LENGTH);
    body = req->len > 0
           || (cl != NULL && strtoll(cl, NULL, 10) > 0)
           || MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                          MHD_HTTP_HEADER_TRANSFER_ENCODING)
              != NULL;

    if (d.n == 0 && !body) {
        return OVSA_OK;
    }

    if (d.n != 1) {
        snprintf(msg, sizeof(msg), d.n == 0
                 ? "a request with a body needs a Content-Digest header "
                   "(RFC 9530, sha-256 or sha-512) of that body"
                 : "the request carries %d Content-Digest headers; one is "
                   "needed", d.n);
        ovsa_resp_code(resp, "DIGEST_REQUIRED", msg);
        return OVSA_ERR;
    }

    if (ovsa_digest_verify(ovsa_str(d.value), req->body, req->len, &err)
        == OVSA_OK)
    {
        return OVSA_OK;
    }

    snprintf(msg, sizeof(msg), "%s", err.msg);
    ovsa_resp_code(resp, err.code == OVSA_E_DIGEST_MISMATCH
                         ? "DIGEST_MISMATCH" : "DIGEST_REQUIRED", msg);
    return OVSA_ERR;
}


static enum MHD_Result
ovsa_http_access(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
    char                *p, peer[160];
    size_t               n;
    const char          *cl, *h;
    const ovsa_route_t  *route;
    json_t              *code;
    ovsa_req_t           req;
    ovsa_resp_t       resp;
    enum MHD_Result   rc;
    ovsa_http_ctx_t  *ctx;

    ctx = *con_cls;

    if (ctx == NULL) {
        ctx = calloc(1, sizeof(*ctx));
        if (ctx == NULL) {
            return MHD_NO;
        }
        *con_cls = ctx;
        ctx->start_us = ovsa_metrics_now_us();
        __atomic_add_fetch(&ovsa_http_busy, 1, __ATOMIC_SEQ_CST);

        cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                         MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl == NULL || strtoll(cl, NULL, 10) <= ovsa_backend.max_body) {
            return MHD_YES;
        }

        /* refuse at once: MHD closes the connection after this answer */
        ctx->too_large = 1;
        goto answer;
    }

    if (*upload_data_size != 0) {
        n = *upload_data_size;
        *upload_data_size = 0;

        if (ctx->too_large) {
            return MHD_YES;
        }

        if (ctx->len + n > (size_t) ovsa_backend.max_body) {
            ctx->too_large = 1;
            free(ctx->body);
            ctx->body = NULL;
            return MHD_YES;
        }

        if (ctx->len + n + 1 > ctx->cap) {
            ctx->cap = (ctx->len + n + 1) * 2;
            p = realloc(ctx->body, ctx->cap);
            if (p == NULL) {
                return MHD_NO;
            }
            ctx->body = p;
        }

        memcpy(ctx->body + ctx->len, upload_data, n);
        ctx->len += n;
        ctx->body[ctx->len] = '\0';

        return MHD_YES;
    }

answer:

    memset(&resp, 0, sizeof(resp));
    req.conn = conn;
    req.method = method;
    req.path = url;
    req.body = ctx->body ? ctx->body : "";
    req.len = ctx->len;
    req.admin = (cls != NULL);
    req.cert_header = NULL;
    route = NULL;

    /* the metrics listener serves GET /metrics and nothing else */
    if (cls == OVSA_HTTP_METRICS) {
        if (strcmp(method, "GET") == 0 && strcmp(url, "/metrics") == 0
            && !ctx->too_large)
        {
            return ovsa_http_metrics(conn);
        }

        ovsa_resp_code(&resp, strcmp(url, "/metrics") == 0
                              ? "METHOD_NOT_ALLOWED" : "NOT_FOUND", NULL);
        if (strcmp(url, "/metrics") == 0) {
            snprintf(resp.allow, sizeof(resp.allow), "GET");
        }
        goto send;
    }

    h = req.admin ? NULL
                  : MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                OVSA_CERT_HEADER);

    if (ctx->too_large) {
        ovsa_resp_code(&resp, "BODY_TOO_LARGE", NULL);

    } else if (h != NULL && !ovsa_peer_trusted(conn, peer, sizeof(peer))) {
        /* only nginx states the client certificate: refuse, change nothing */
        ovsa_log("warn", "%s %s: " OVSA_CERT_HEADER " from an untrusted "
                 "peer (%s) refused", method, url, peer);
        ovsa_resp_code(&resp, "CERT_HEADER_UNTRUSTED", NULL);

    } else if (req.admin) {
        if (!ovsa_admin_authorized(&req, &resp)) {
            /* resp: 401 UNAUTHORIZED or 429 ADMIN_THROTTLED */

        } else if (strcmp(url, "/metrics") == 0
                   && strcmp(method, "GET") == 0)
        {
            return ovsa_http_metrics(conn);

        } else {
            route = ovsa_http_dispatch(ovsa_routes_admin, &req, &resp);
        }

    } else if (ovsa_http_digest(conn, &req, &resp) == OVSA_OK) {
        req.cert_header = h;
        route = ovsa_http_dispatch(ovsa_routes_public, &req, &resp);
    }

    code = json_object_get(resp.body, "code");
    ovsa_metrics_answer(req.admin, route,
                        json_is_string(code) ? json_string_value(code) : NULL,
                        ctx->start_us);

send:

    rc = ovsa_http_send(conn, &resp);
    json_decref(resp.body);

    return rc;
}


static void
ovsa_http_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
    ovsa_http_ctx_t  *ctx;

    ctx = *con_cls;
    if (ctx == NULL) {
        return;
    }

    free(ctx->body);
    free(ctx);
    *con_cls = NULL;
    __atomic_sub_fetch(&ovsa_http_busy, 1, __ATOMIC_SEQ_CST);
}


static void
ovsa_http_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char  line[512];
    size_t n;

    vsnprintf(line, sizeof(line), fmt, ap);
    n = strlen(line);
    while (n > 0 && line[n - 1] == '\n') {
        line[--n] = '\0';
    }

    ovsa_log("warn", "microhttpd: %s", line);
}


/* ---- listeners */

static int
ovsa_http_listen_unix(const char *path, long gid, ovsa_err_t *err)
{
    int                 fd;
    char                dir[sizeof(((struct sockaddr_un *) 0)->sun_path)];
    char               *slash;
    struct stat         st;
    struct sockaddr_un  sun;

    if (strlen(path) >= sizeof(sun.sun_path)) {
        return ovsa_err_set(err, OVSA_E_CONF_VALUE,
                            "listen unix:%s: path too long", path);
    }

    /* the directory of the socket (/run/ovsa): made when missing */
    snprintf(dir, sizeof(dir), "%s", path);
    slash = strrchr(dir, '/');
    if (slash != NULL && slash != dir) {
        *slash = '\0';
        if (mkdir(dir, 0755) == 0) {
            /* 0755 whatever the umask: the socket's own mode protects it */
            if (chmod(dir, 0755) == -1) {
                return ovsa_err_set(err, OVSA_E_IO, "listen unix:%s: chmod "
                                    "%s: %s", path, dir, strerror(errno));
            }

        } else if (errno != EEXIST) {
            return ovsa_err_set(err, OVSA_E_IO, "listen unix:%s: mkdir %s: "
                                "%s", path, dir, strerror(errno));
        }
    }

    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    memcpy(sun.sun_path, path, strlen(path) + 1);

    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            return ovsa_err_set(err, OVSA_E_CONF_VALUE,
                                "listen unix:%s: exists and is not a socket",
                                path);
        }

        /* a live socket belongs to a running process: leave it alone */
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd != -1
            && connect(fd, (struct sockaddr *) &sun, sizeof(sun)) == 0)
        {
            close(fd);
            return ovsa_err_set(err, OVSA_E_IO,
                                "listen unix:%s: in use by a running "
                                "process", path);
        }
        if (fd != -1) {
            close(fd);
        }

        unlink(path);    /* stale, left by a process that died */
    }

    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd == -1) {
        return ovsa_err_set(err, OVSA_E_IO, "listen unix:%s: socket: %s",
                            path, strerror(errno));
    }

    if (bind(fd, (struct sockaddr *) &sun, sizeof(sun)) == -1
        || chmod(path, 0660) == -1)
    {
        ovsa_err_set(err, OVSA_E_IO, "listen unix:%s: %s", path,
                     strerror(errno));
        close(fd);
        return -1;
    }

    /* the group of the nginx workers, so that they may connect */
    if (gid != -1 && chown(path, (uid_t) -1, (gid_t) gid) == -1) {
        ovsa_err_set(err, OVSA_E_IO, "listen unix:%s: backend.listen_group "
                     "%ld: chown: %s", path, gid, strerror(errno));
        unlink(path);
        close(fd);
        return -1;
    }

    if (listen(fd, 511) == -1) {
        ovsa_err_set(err, OVSA_E_IO, "listen unix:%s: %s", path,
                     strerror(errno));
        unlink(path);
        close(fd);
        return -1;
    }

    return fd;
}


int
ovsa_http_listen(const char *address, long gid, ovsa_err_t *err)
{
    int               fd, rc, on;
    char              host[256];
    const char       *colon;
    struct addrinfo   hints, *res, *ai;

    ovsa_err_clear(err);

    if (strncmp(address, "unix:", 5) == 0) {
        return ovsa_http_listen_unix(address + 5, gid, err);
    }

    colon = strrchr(address, ':');
    if (colon == NULL || colon == address || colon[1] == '\0'
        || (size_t) (colon - address) >= sizeof(host))
    {
        return ovsa_err_set(err, OVSA_E_CONF_VALUE,
                            "listen %s: not unix:/path or host:port",
                            address);
    }

    if (address[0] == '[' && colon[-1] == ']') {
        snprintf(host, sizeof(host), "%.*s", (int) (colon - address - 2),
                 address + 1);
    } else {
        snprintf(host, sizeof(host), "%.*s", (int) (colon - address),
                 address);
    }

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;

    rc = getaddrinfo(host, colon + 1, &hints, &res);
    if (rc != 0) {
        return ovsa_err_set(err, OVSA_E_CONF_VALUE, "listen %s: %s",
                            address, gai_strerror(rc));
    }

    fd = -1;
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        fd = socket(ai->ai_family,
                    ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd == -1) {
            continue;
        }

        on = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));

        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0
            && listen(fd, 511) == 0)
        {
            break;
        }

        ovsa_err_set(err, OVSA_E_IO, "listen %s: %s", address,
                     strerror(errno));
        close(fd);
        fd = -1;
    }

    freeaddrinfo(res);

    if (fd == -1 && err != NULL && err->msg[0] == '\0') {
        ovsa_err_set(err, OVSA_E_IO, "listen %s: no usable address", address);
    }

    return fd;
}


struct MHD_Daemon *
ovsa_http_start(int fd, int threads, int admin, ovsa_err_t *err)
{
    int                  n;
    struct MHD_Daemon   *d;
    struct MHD_OptionItem  ops[8];

    /* the logger first, so MHD reports option problems through it */
    n = 0;
    ops[n++] = (struct MHD_OptionItem) { MHD_OPTION_EXTERNAL_LOGGER,
                                         (intptr_t) ovsa_http_mhd_log, NULL };
    ops[n++] = (struct MHD_OptionItem) { MHD_OPTION_LISTEN_SOCKET, fd, NULL };
    ops[n++] = (struct MHD_OptionItem) { MHD_OPTION_NOTIFY_COMPLETED,
                                         (intptr_t) ovsa_http_completed,
                                         NULL };
    ops[n++] = (struct MHD_OptionItem) { MHD_OPTION_CONNECTION_TIMEOUT,
                                         120, NULL };
    if (threads > 1) {
        ops[n++] = (struct MHD_OptionItem) { MHD_OPTION_THREAD_POOL_SIZE,
                                             threads, NULL };
    }
    ops[n++] = (struct MHD_OptionItem) { MHD_OPTION_END, 0, NULL };

    d = MHD_start_daemon(MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC
                         | MHD_USE_ERROR_LOG,
                         0, NULL, NULL,
                         ovsa_http_access,
                         admin == 2 ? OVSA_HTTP_METRICS
                                    : admin ? (void *) 1 : NULL,
                         MHD_OPTION_ARRAY, ops, MHD_OPTION_END);
    if (d == NULL) {
        ovsa_err_set(err, OVSA_E_INTERNAL, "microhttpd: cannot start daemon");
    }

    return d;
}
