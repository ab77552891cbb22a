/*
 * backend.h: what the parts of ovsa-backend share: the process-wide
 * settings, the request and response of one HTTP exchange, and the route
 * tables of the public and admin listeners.
 */

#ifndef OVSA_BACKEND_H
#define OVSA_BACKEND_H

#include <stddef.h>

#include <jansson.h>
#include <microhttpd.h>

#include "json.h"
#include "ovsa_conf.h"
#include "ovsa_err.h"

#define OVSA_BACKEND_NAME  "ovsa-backend"

/* nginx's statement of the TLS client certificate (docs/protocol.md) */
#define OVSA_CERT_HEADER  "X-OVSA-Client-Cert-SHA256"

/* How long a usage-count request_id is remembered, seconds. */
#define OVSA_REQUEST_ID_TTL  86400

typedef struct {
    ovsa_conf_t  *conf;
    char         *admin_token;      /* NULL: admin API refuses everything */
    size_t        admin_token_len;
    unsigned char admin_token_sha256[32];   /* what a token is compared by */
    int           hw_mode;          /* hardware_key.enabled */
    long          max_body;
    void         *isv;              /* trusted ISV certs, see license.h */
} ovsa_backend_t;

extern ovsa_backend_t  ovsa_backend;

typedef struct {
    struct MHD_Connection  *conn;
    const char             *method;
    const char             *path;
    const char             *body;
    size_t                  len;
    int                     admin;    /* arrived on the admin listener */

    /*
     * X-OVSA-Client-Cert-SHA256 as sent by a trusted peer (peer.c), not
     * yet checked for syntax; NULL when the request has none.  A request
     * with the header from an untrusted peer never reaches a route.
     */
    const char             *cert_header;
} ovsa_req_t;

typedef struct {
    int          status;
    json_t      *body;               /* always a JSON object */
    char         allow[32];          /* Allow header of a 405 */
    int          retry_after;        /* Retry-After seconds of a 503, or 0 */
} ovsa_resp_t;

typedef void (*ovsa_handler_pt)(ovsa_req_t *req, ovsa_resp_t *resp);

typedef struct {
    const char       *method;
    const char       *path;     /* exact, or a prefix when it ends in '/' */
    ovsa_handler_pt   handler;
} ovsa_route_t;

/* routes_public.c and routes_admin.c */
extern const ovsa_route_t  ovsa_routes_public[];
extern const ovsa_route_t  ovsa_routes_admin[];

/*
 * routes_admin.c: every license's summary row (ids.lua, then summary.lua
 * per license); a new JSON array, or NULL after answering resp.  Also
 * used by the metrics' license gauges (metrics.c).
 */
json_t *ovsa_admin_summaries(ovsa_resp_t *resp);

/*
 * Admin bearer-token check (routes_admin.c): 1 when authorized; else 0
 * with resp set to 401 UNAUTHORIZED, or to 429 ADMIN_THROTTLED with
 * Retry-After when the request's source address has failed
 * OVSA_ADMIN_FAIL_MAX times in a row (it is then not even compared).
 */
#define OVSA_ADMIN_FAIL_MAX       5     /* wrong tokens before a backoff */
#define OVSA_ADMIN_BACKOFF_FIRST  5     /* seconds, doubled per backoff */
#define OVSA_ADMIN_BACKOFF_MAX    300
#define OVSA_ADMIN_SOURCES        256   /* sources remembered (LRU) */

int ovsa_admin_authorized(ovsa_req_t *req, ovsa_resp_t *resp);

/*
 * 16d: routes_audit.c, the audit trail under /admin/v1/licenses/ID/:
 * GET "audit" and "audit/head", POST "audit/checkpoint" (docs/audit.md).
 */
void ovsa_admin_audit_get(ovsa_req_t *req, ovsa_resp_t *resp,
    const char *id, const char *action);
void ovsa_admin_audit_post(ovsa_req_t *req, ovsa_resp_t *resp,
    const char *id);

/*
 * http.c: answers.  Each sets resp->status from the code's table entry
 * and resp->body to {"verdict", "code", "message" (when not OK),
 * "server_time", ...}.
 */

/* An answer with code and message (NULL: the code's default). */
void ovsa_resp_code(ovsa_resp_t *resp, const char *code, const char *message);

/* A 400 answer from a refused request field. */
void ovsa_resp_reqerr(ovsa_resp_t *resp, const ovsa_reqerr_t *re);

/*
 * A 503 (STORE_UNAVAILABLE with Retry-After, STORE_NOT_DURABLE) or 500
 * answer from a store error.
 */
void ovsa_resp_store(ovsa_resp_t *resp, const ovsa_err_t *err);

/*
 * An answer from a script's JSON object (steals the reference): code,
 * server_time and the other members are kept; verdict, message and the
 * status come from the code's table entry.
 */
void ovsa_resp_answer(ovsa_resp_t *resp, json_t *ans);

/*
 * Runs a script and parses its answer.  Returns the answer object (new
 * reference), or NULL with resp filled (503/500).
 */
json_t *ovsa_run(ovsa_resp_t *resp, int script, int nkeys, const char **keys,
    int nargs, const char **args);

/*
 * Logs one line to stderr: "ovsa-backend: [level] message".  A line
 * identical to one first logged less than 10 s before is written 3 times
 * in all, then counted and written once as "<line> (repeated N more
 * times in T s)" (http.c).
 */
void ovsa_log(const char *level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Writes the pending repeat counts (at exit). */
void ovsa_log_flush(void);

/*
 * http.c: listeners.  Opens a listening socket for "unix:/path" (mode
 * 0660, group gid unless gid is -1, an existing stale socket file is
 * replaced, a missing parent directory is created 0755) or "host:port".
 * Returns the fd, or -1 with err set.
 */
int ovsa_http_listen(const char *address, long gid, ovsa_err_t *err);

/*
 * Starts an MHD daemon on fd with threads threads; NULL with err set.
 * admin: 0 the public listener, 1 the admin listener, 2 the metrics
 * listener (metrics.listen: GET /metrics only, no token).
 */
struct MHD_Daemon *ovsa_http_start(int fd, int threads, int admin,
    ovsa_err_t *err);

/*
 * peer.c: 1 when the peer of conn may state the client certificate (a
 * unix-socket peer whose uid is the backend's or in
 * backend.trusted_peers, or whose gid is a trusted group), else 0.
 * desc receives the peer for log lines ("tcp 127.0.0.1:4711", "unix peer
 * pid 12 uid 33 gid 33").
 */
int ovsa_peer_trusted(struct MHD_Connection *conn, char *desc, size_t size);

/* Number of requests being handled right now (all listeners). */
long ovsa_http_inflight(void);

#endif /* OVSA_BACKEND_H */
