/*
 * ovsa_sdk.c: the high-level client SDK (ovsa.h): one handle per
 * license, one call per operation on top of ovsa_client_check_license(),
 * the saved answers that allow a program while no server answers, the
 * clock rule, and the lease heartbeat thread (docs/sdk.md).
 */

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "ovsa.h"
#include "ovsa_file.h"
#include "ovsa_key.h"
#include "ovsa_license.h"
#include "ovsa_pin.h"
#include "ovsa_sdk_int.h"
#include "ovsa_x509.h"

#define OVSA_SDK_ST_CHECK     "check"
#define OVSA_SDK_ST_ACTIVATE  "activate"
#define OVSA_SDK_ST_LEASE     "lease"

typedef enum {
    OVSA_OP_CHECK = 0,
    OVSA_OP_ACTIVATE,
    OVSA_OP_DEACTIVATE,
    OVSA_OP_SPEND,
    OVSA_OP_CHECKOUT,
    OVSA_OP_HEARTBEAT,
    OVSA_OP_CHECKIN,
    OVSA_OP_BORROW
} ovsa_sdk_op_t;

static const struct {
    const char  *name;
    const char  *path;
} ovsa_sdk_ops[] = {
    { "check",      "/v1/check" },
    { "activate",   "/v1/activate" },
    { "deactivate", "/v1/deactivate" },
    { "spend",      "/v1/check" },
    { "checkout",   "/v1/lease/checkout" },
    { "heartbeat",  "/v1/lease/heartbeat" },
    { "checkin",    "/v1/lease/checkin" },
    { "borrow",     "/v1/lease/borrow" },
};

#define OVSA_SDK_GRANT_ACTIVATION  "activation"
#define OVSA_SDK_GRANT_BORROW      "borrow"

#define OVSA_SDK_NOPS  (sizeof(ovsa_sdk_ops) / sizeof(ovsa_sdk_ops[0]))

#define OVSA_SDK_X_NAME(name)  #name,
static const char *ovsa_sdk_code_names[] = {
    OVSA_SDK_CODES(OVSA_SDK_X_NAME)
};
#undef OVSA_SDK_X_NAME

struct ovsa_sdk_s {
    pthread_mutex_t       lock;
    pthread_cond_t        wake;

    char                 *license;
    char                 *isv;
    char                 *root;
    char                 *secret;
    char                 *state_dir;
    char                 *cache_dir;
    char                 *client_cert;
    char                 *client_key;
    long                  timeout_ms;
    long                  skew;
    long                  heartbeat_s;
    time_t                at;

    char                 *license_id;
    ovsa_license_type_t   type;
    char                  hwid[257];
    char                  client_id[257];

    /* the held lease */
    char                  lease_id[64];
    long long             lease_expires;
    long long             lease_len;      /* its length, s (server) */
    int                   borrowed;       /* a borrowed seat: kept at
                                             close and exit (it is the
                                             point of borrowing) */

    /* the heartbeat thread */
    pthread_t             thread;
    int                   thread_on;
    int                   stop;
    ovsa_sdk_lease_cb     cb;
    void                 *cb_arg;

    ovsa_sdk_t           *next;           /* the open handles (atexit) */
};

static pthread_mutex_t  ovsa_sdk_all_lock = PTHREAD_MUTEX_INITIALIZER;
static ovsa_sdk_t      *ovsa_sdk_all;
static pthread_once_t   ovsa_sdk_once = PTHREAD_ONCE_INIT;

static const char *ovsa_sdk_hwid_files[] = {
    "/etc/machine-id",
    "/var/lib/dbus/machine-id",
    "/sys/class/dmi/id/product_uuid",
};


const char *
ovsa_sdk_code_name(ovsa_sdk_code_t code)
{
    if ((unsigned) code >= OVSA_SDK__COUNT) {
        return "OTHER";
    }

    return ovsa_sdk_code_names[code];
}


static void
ovsa_sdk_set_code(ovsa_sdk_status_t *st, const char *name)
{
    size_t  i;

    snprintf(st->code_name, sizeof(st->code_name), "%s", name);
    st->code = OVSA_SDK_OTHER;

    for (i = 0; i < OVSA_SDK__COUNT; i++) {
        if (strcmp(ovsa_sdk_code_names[i], name) == 0) {
            st->code = (ovsa_sdk_code_t) i;
            return;
        }
    }
}


static void
ovsa_sdk_status_init(ovsa_sdk_status_t *st)
{
    memset(st, 0, sizeof(*st));
    st->usage_remaining = -1;
}


/* A refusal of the SDK itself. */
static int
ovsa_sdk_refuse(ovsa_sdk_status_t *st, ovsa_sdk_code_t code, int error,
    const char *msg)
{
    st->allowed = 0;
    st->code = code;
    snprintf(st->code_name, sizeof(st->code_name), "%s",
             ovsa_sdk_code_name(code));
    st->error = error;
    snprintf(st->message, sizeof(st->message), "%s", msg);
    return 0;
}


int
ovsa_sdk_hwid(const char *product, char *out, size_t size)
{
    return ovsa_sdk_hwid_from(ovsa_sdk_hwid_files,
                              sizeof(ovsa_sdk_hwid_files)
                              / sizeof(ovsa_sdk_hwid_files[0]),
                              product, out, size) < 0 ? -1 : 0;
}


static long long
ovsa_sdk_now(const ovsa_sdk_t *h)
{
    return h->at != 0 ? (long long) h->at : (long long) time(NULL);
}


static char *
ovsa_sdk_strdup(const char *s, int *fail)
{
    char  *d;

    if (s == NULL) {
        return NULL;
    }

    d = strdup(s);
    if (d == NULL) {
        *fail = 1;
    }

    return d;
}


static void
ovsa_sdk_free(ovsa_sdk_t *h)
{
    free(h->license);
    free(h->isv);
    free(h->root);
    free(h->secret);
    free(h->state_dir);
    free(h->cache_dir);
    free(h->client_cert);
    free(h->client_key);
    free(h->license_id);
    pthread_mutex_destroy(&h->lock);
    pthread_cond_destroy(&h->wake);
    free(h);
}


/* ---- the atexit release */

static int ovsa_sdk_grant_allows(ovsa_sdk_t *h, const char *kind,
    ovsa_sdk_status_t *st);
static int ovsa_sdk_release_locked(ovsa_sdk_t *h, ovsa_sdk_status_t *st,
    int from_exit);

static void
ovsa_sdk_at_exit(void)
{
    ovsa_sdk_t         *h;
    ovsa_sdk_status_t   st;

    pthread_mutex_lock(&ovsa_sdk_all_lock);

    for (h = ovsa_sdk_all; h != NULL; h = h->next) {
        pthread_mutex_lock(&h->lock);
        if ((h->lease_id[0] != '\0' && !h->borrowed) || h->thread_on) {
            (void) ovsa_sdk_release_locked(h, &st, 1);
        }
        pthread_mutex_unlock(&h->lock);
    }

    pthread_mutex_unlock(&ovsa_sdk_all_lock);
}


static void
ovsa_sdk_register_at_exit(void)
{
    (void) atexit(ovsa_sdk_at_exit);
}


ovsa_sdk_t *
ovsa_sdk_open(const ovsa_sdk_conf_t *conf, ovsa_sdk_status_t *st)
{
    int                 fail;
    char                path[4096];
    X509               *isv;
    ovsa_err_t          err;
    ovsa_sdk_t         *h;
    ovsa_license_t     *lic;
    pthread_condattr_t  ca;

    ovsa_sdk_status_init(st);
    ovsa_err_clear(&err);
    lic = NULL;
    isv = NULL;
    fail = 0;

    if (conf == NULL || conf->license == NULL) {
        ovsa_sdk_refuse(st, OVSA_SDK_LOCAL_ERROR, OVSA_E_CONF_MISSING,
                        "open: no license file");
        return NULL;
    }

    if (conf->isv == NULL && conf->root == NULL) {
        ovsa_sdk_refuse(st, OVSA_SDK_LOCAL_ERROR, OVSA_E_NO_ANCHOR,
                        "open: neither an ISV certificate nor a vendor "
                        "root: a license signed by anyone would be "
                        "trusted");
        return NULL;
    }

    if (ovsa_license_load_file(conf->license, &lic, &err) != OVSA_OK
        || (conf->isv != NULL
            && (ovsa_cert_load(conf->isv, &isv, &err) != OVSA_OK
                || ovsa_license_trusted(lic, &isv, 1, &err) != OVSA_OK)))
    {
        X509_free(isv);
        ovsa_license_free(lic);
        ovsa_sdk_refuse(st, OVSA_SDK_LOCAL_ERROR, err.code, err.msg);
        return NULL;
    }

    X509_free(isv);

    if (conf->state_dir != NULL && mkdir(conf->state_dir, 0700) != 0
        && errno != EEXIST)
    {
        snprintf(path, sizeof(path), "open: %s: %s", conf->state_dir,
                 strerror(errno));
        ovsa_license_free(lic);
        ovsa_sdk_refuse(st, OVSA_SDK_LOCAL_ERROR, OVSA_E_IO, path);
        return NULL;
    }

    h = calloc(1, sizeof(*h));
    if (h == NULL) {
        ovsa_license_free(lic);
        ovsa_sdk_refuse(st, OVSA_SDK_LOCAL_ERROR, OVSA_E_NOMEM,
                        "open: out of memory");
        return NULL;
    }

    pthread_mutex_init(&h->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&h->wake, &ca);
    pthread_condattr_destroy(&ca);

    h->license = ovsa_sdk_strdup(conf->license, &fail);
    h->isv = ovsa_sdk_strdup(conf->isv, &fail);
    h->root = ovsa_sdk_strdup(conf->root, &fail);
    h->secret = ovsa_sdk_strdup(conf->secret, &fail);
    h->state_dir = ovsa_sdk_strdup(conf->state_dir, &fail);
    h->client_cert = ovsa_sdk_strdup(conf->client_cert, &fail);
    h->client_key = ovsa_sdk_strdup(conf->client_key, &fail);
    h->license_id = ovsa_sdk_strdup(lic->id, &fail);

    if (conf->cache_dir != NULL) {
        h->cache_dir = ovsa_sdk_strdup(conf->cache_dir, &fail);

    } else if (conf->state_dir != NULL) {
        snprintf(path, sizeof(path), "%s/chains", conf->state_dir);
        h->cache_dir = ovsa_sdk_strdup(path, &fail);
    }

    h->timeout_ms = conf->timeout_ms;
    h->skew = conf->skew > 0 ? conf->skew : OVSA_CLIENT_SKEW_DEFAULT;
    h->heartbeat_s = conf->heartbeat_s;
    h->at = conf->at;
    h->type = lic->type;

    if (conf->hwid != NULL) {
        if (conf->hwid[0] == '\0' || strlen(conf->hwid) >= sizeof(h->hwid)) {
            fail = 2;
        }
        snprintf(h->hwid, sizeof(h->hwid), "%s", conf->hwid);

    } else {
        (void) ovsa_sdk_hwid(conf->product ? conf->product : lic->product,
                             h->hwid, sizeof(h->hwid));
    }

    if (conf->client_id != NULL) {
        if (conf->client_id[0] == '\0'
            || strlen(conf->client_id) >= sizeof(h->client_id))
        {
            fail = 3;
        }
        snprintf(h->client_id, sizeof(h->client_id), "%s", conf->client_id);

    } else {
        snprintf(h->client_id, sizeof(h->client_id), "%s", h->hwid);
    }

    ovsa_license_free(lic);

    if (fail) {
        ovsa_sdk_refuse(st, OVSA_SDK_LOCAL_ERROR,
                        fail == 1 ? OVSA_E_NOMEM : OVSA_E_CONF_VALUE,
                        fail == 1 ? "open: out of memory"
                        : fail == 2 ? "open: hwid: 1..256 characters"
                                    : "open: client_id: 1..256 "
                                      "characters");
        ovsa_sdk_free(h);
        return NULL;
    }

    pthread_mutex_lock(&ovsa_sdk_all_lock);
    h->next = ovsa_sdk_all;
    ovsa_sdk_all = h;
    pthread_mutex_unlock(&ovsa_sdk_all_lock);

    (void) pthread_once(&ovsa_sdk_once, ovsa_sdk_register_at_exit);

    st->allowed = 1;
    ovsa_sdk_set_code(st, "OK");
    return h;
}


int
ovsa_sdk_get_hwid(ovsa_sdk_t *h, char *out, size_t size)
{
    if (size <= strlen(h->hwid)) {
        return -1;
    }

    snprintf(out, size, "%s", h->hwid);
    return 0;
}


/* ---- one operation */

/* The verified answer's members into st. */
static void
ovsa_sdk_from_answer(const ovsa_result_t *r, ovsa_sdk_status_t *st)
{
    json_t  *a, *v;

    st->verified = 1;
    st->allowed = strcmp(r->verdict, "valid") == 0;
    ovsa_sdk_set_code(st, r->code[0] ? r->code : "OTHER");
    snprintf(st->message, sizeof(st->message), "%s", r->message);
    st->server_time = r->server_time;
    st->valid_until = r->valid_until;

    a = json_loadb(r->body, r->body_len, 0, NULL);
    if (!json_is_object(a)) {
        json_decref(a);
        return;
    }

    v = json_object_get(a, "lease_id");
    if (json_is_string(v)) {
        snprintf(st->lease_id, sizeof(st->lease_id), "%s",
                 json_string_value(v));
    }
    v = json_object_get(a, "lease_expires");
    if (json_is_integer(v)) {
        st->lease_expires = (long long) json_integer_value(v);
    }
    v = json_object_get(a, "usage_remaining");
    if (json_is_integer(v)) {
        st->usage_remaining = (long long) json_integer_value(v);
    }
    v = json_object_get(a, "retry_at");
    if (json_is_integer(v)) {
        st->retry_at = (long long) json_integer_value(v);
    }

    json_decref(a);
}


/*
 * No server gave a verified answer: the saved answer of the operation,
 * when there is one that still holds.
 */
static void
ovsa_sdk_offline(ovsa_sdk_t *h, ovsa_sdk_op_t op, const char *hwid,
    const char *lease, ovsa_sdk_status_t *st)
{
    long long         now;
    ovsa_err_t        e;
    const char       *which;
    ovsa_sdk_saved_t  s;

    switch (op) {
    case OVSA_OP_CHECK:
        which = h->type == OVSA_LIC_USAGE_COUNT ? NULL : OVSA_SDK_ST_CHECK;
        break;
    case OVSA_OP_ACTIVATE:
        which = OVSA_SDK_ST_ACTIVATE;
        break;
    case OVSA_OP_HEARTBEAT:
        which = OVSA_SDK_ST_LEASE;
        break;
    default:
        which = NULL;       /* spends and releases are never offline */
    }

    /* a grant this machine holds (offline activation, borrowed seat) */
    if (which != NULL
        && ovsa_sdk_grant_allows(h, h->type == OVSA_LIC_FLOATING
                                    ? OVSA_SDK_GRANT_BORROW
                                    : OVSA_SDK_GRANT_ACTIVATION, st))
    {
        return;
    }

    if (which == NULL || h->state_dir == NULL
        || ovsa_sdk_state_load(h->state_dir, h->license_id, which, &s, &e)
           != OVSA_OK
        || !s.allowed
        || (hwid != NULL && strcmp(s.hwid, hwid) != 0)
        || (lease != NULL && strcmp(s.lease_id, lease) != 0))
    {
        return;
    }

    now = ovsa_sdk_now(h);

    if (op == OVSA_OP_HEARTBEAT) {
        s.valid_until = s.lease_expires;
    }

    st->cached = 1;
    st->server_time = s.server_time;
    st->valid_until = s.valid_until;
    snprintf(st->lease_id, sizeof(st->lease_id), "%s", s.lease_id);
    st->lease_expires = s.lease_expires;

    if (op != OVSA_OP_ACTIVATE && now >= s.valid_until) {
        st->allowed = 0;
        st->code = OVSA_SDK_OFFLINE_EXPIRED;
        snprintf(st->code_name, sizeof(st->code_name), "OFFLINE_EXPIRED");
        snprintf(st->message, sizeof(st->message), "no server answered and "
                 "the saved answer of %s held until %lld (now %lld)",
                 ovsa_sdk_ops[op].name, s.valid_until, now);
        return;
    }

    st->allowed = 1;
    st->code = OVSA_SDK_OFFLINE;
    snprintf(st->code_name, sizeof(st->code_name), "OFFLINE");
    if (op == OVSA_OP_ACTIVATE) {
        snprintf(st->message, sizeof(st->message), "no server answered; "
                 "hwid activated (saved answer of %lld)", s.server_time);
    } else {
        snprintf(st->message, sizeof(st->message), "no server answered; "
                 "the saved answer of %lld holds until %lld",
                 s.server_time, s.valid_until);
    }
}


/* The license-mode configuration of the handle. */
static void
ovsa_sdk_lconf(const ovsa_sdk_t *h, ovsa_license_conf_t *lc)
{
    memset(lc, 0, sizeof(*lc));
    lc->license = h->license;
    lc->root = h->root;
    lc->isv = h->isv;
    lc->secret = h->secret;
    lc->state_dir = h->state_dir;
    lc->cache_dir = h->cache_dir;
    lc->client_cert = h->client_cert;
    lc->client_key = h->client_key;
    lc->skew = h->skew;
    lc->timeout_ms = h->timeout_ms;
    lc->at = h->at;
}


/* The keyid of this machine's key (state directory), for grants. */
static int
ovsa_sdk_keyid(const ovsa_sdk_t *h, char *keyid, ovsa_err_t *err)
{
    int        rc;
    EVP_PKEY  *k;

    if (h->state_dir == NULL) {
        return ovsa_err_set(err, OVSA_E_CONF_MISSING, "offline: needs a "
                            "state directory");
    }

    if (ovsa_client_machine_key(h->state_dir, &k, err) != OVSA_OK) {
        return OVSA_ERR;
    }

    rc = ovsa_keyid_pkey(k, keyid, err);
    EVP_PKEY_free(k);
    return rc;
}


/*
 * A grant this machine holds (kind: activation, borrow) that allows it
 * now: verified again, bound to this machine; fills st (OFFLINE) and
 * returns 1, else 0 with st unchanged.
 */
static int
ovsa_sdk_grant_allows(ovsa_sdk_t *h, const char *kind, ovsa_sdk_status_t *st)
{
    int                    ok;
    char                  *text, keyid[OVSA_KEYID_LEN + 1];
    size_t                 len;
    long long              until;
    ovsa_err_t             e;
    ovsa_result_t          r;
    ovsa_license_conf_t    lc;
    ovsa_sdk_grant_want_t  w;

    if (h->state_dir == NULL
        || ovsa_sdk_grant_load(h->state_dir, h->license_id, kind, &text,
                               &len, &e) != OVSA_OK)
    {
        return 0;
    }

    memset(&w, 0, sizeof(w));
    w.keyid = keyid;
    w.now = ovsa_sdk_now(h);
    w.dir = h->state_dir;
    w.id = h->license_id;

    if (strcmp(kind, OVSA_SDK_GRANT_BORROW) == 0) {
        w.path = "/v1/lease/borrow";
        w.until = "lease_expires";
    } else {
        w.path = "/v1/offline/activate";
        w.until = "valid_until";
        w.hwid = h->hwid;
    }

    ovsa_sdk_lconf(h, &lc);
    ok = ovsa_sdk_keyid(h, keyid, &e) == OVSA_OK
         && ovsa_sdk_grant_check(&lc, text, len, &w, &r, &until, &e)
            == OVSA_OK;
    free(text);

    if (ok) {
        ovsa_sdk_status_init(st);
        ovsa_sdk_from_answer(&r, st);
        st->allowed = 1;
        st->code = OVSA_SDK_OFFLINE;
        snprintf(st->code_name, sizeof(st->code_name), "OFFLINE");
        snprintf(st->message, sizeof(st->message), "no server answered; the "
                 "%s grant of %lld holds until %lld", kind, r.server_time,
                 until);
        st->cached = 1;
        st->verified = 1;
        st->server_time = r.server_time;
        st->valid_until = until;
    }

    ovsa_result_free(&r);
    return ok;
}


/* Saves (or forgets) what a verified answer says. */
static void
ovsa_sdk_remember(ovsa_sdk_t *h, ovsa_sdk_op_t op, const char *hwid,
    const char *lease, const ovsa_sdk_status_t *st)
{
    ovsa_err_t        e;
    const char       *which;
    ovsa_sdk_saved_t  s;

    if (h->state_dir == NULL) {
        return;
    }

    (void) ovsa_sdk_clock_note(h->state_dir, st->server_time, &e);

    switch (op) {
    case OVSA_OP_CHECK:
        which = h->type == OVSA_LIC_USAGE_COUNT ? NULL : OVSA_SDK_ST_CHECK;
        break;
    case OVSA_OP_ACTIVATE:
        which = OVSA_SDK_ST_ACTIVATE;
        break;
    case OVSA_OP_CHECKOUT:
    case OVSA_OP_HEARTBEAT:
        which = OVSA_SDK_ST_LEASE;
        break;
    case OVSA_OP_DEACTIVATE:
        if (st->allowed) {
            ovsa_sdk_state_remove(h->state_dir, h->license_id,
                                  OVSA_SDK_ST_ACTIVATE);
            ovsa_sdk_state_remove(h->state_dir, h->license_id,
                                  OVSA_SDK_ST_CHECK);
        }
        return;
    case OVSA_OP_CHECKIN:
        ovsa_sdk_state_remove(h->state_dir, h->license_id,
                              OVSA_SDK_ST_LEASE);
        return;
    default:
        return;
    }

    if (which == NULL) {
        return;
    }

    if (!st->allowed) {
        /* a verified refusal: nothing saved allows any more */
        if (op != OVSA_OP_CHECKOUT) {
            ovsa_sdk_state_remove(h->state_dir, h->license_id, which);
        }
        return;
    }

    memset(&s, 0, sizeof(s));
    s.allowed = 1;
    snprintf(s.code, sizeof(s.code), "%s", st->code_name);
    s.server_time = st->server_time;
    s.valid_until = st->valid_until;
    snprintf(s.hwid, sizeof(s.hwid), "%s", hwid ? hwid : "");
    snprintf(s.lease_id, sizeof(s.lease_id), "%s",
             st->lease_id[0] ? st->lease_id : (lease ? lease : ""));
    s.lease_expires = st->lease_expires;
    s.pid = (long) getpid();

    (void) ovsa_sdk_state_save(h->state_dir, h->license_id, which, &s, &e);
}


/* Adds name: value to o unless o has it. */
static void
ovsa_sdk_field(json_t *o, const char *name, const char *value)
{
    if (json_object_get(o, name) == NULL) {
        json_object_set_new(o, name, json_string(value));
    }
}


/* Called with h->lock held. */
static int
ovsa_sdk_do(ovsa_sdk_t *h, ovsa_sdk_op_t op, const char *fields,
    ovsa_sdk_status_t *st, ovsa_license_result_t *detail, int *decided)
{
    int                    rc, usable;
    char                  *body, msg[512];
    json_t                *o, *v;
    ovsa_err_t             err;
    const char            *hwid, *lease;
    ovsa_license_conf_t    lc;
    ovsa_license_result_t  res;

    ovsa_sdk_status_init(st);
    ovsa_err_clear(&err);
    memset(&res, 0, sizeof(res));
    res.server = -1;
    if (decided != NULL) {
        *decided = 0;
    }

    if (h->state_dir != NULL
        && ovsa_sdk_clock_check(h->state_dir, ovsa_sdk_now(h), h->skew, &err)
           != OVSA_OK)
    {
        ovsa_sdk_refuse(st, OVSA_SDK_CLOCK_BACK, OVSA_E_NONE, err.msg);
        goto done;
    }

    o = fields ? json_loads(fields, JSON_REJECT_DUPLICATES, NULL)
               : json_object();
    if (!json_is_object(o)) {
        json_decref(o);
        ovsa_sdk_refuse(st, OVSA_SDK_LOCAL_ERROR, OVSA_E_CONF_VALUE,
                        "request: fields are not a JSON object");
        goto done;
    }

    switch (op) {
    case OVSA_OP_ACTIVATE:
    case OVSA_OP_DEACTIVATE:
        if (h->hwid[0] != '\0') {
            ovsa_sdk_field(o, "hwid", h->hwid);
        }
        break;
    case OVSA_OP_CHECK:
        if (h->type == OVSA_LIC_NODE_LOCKED && h->hwid[0] != '\0') {
            ovsa_sdk_field(o, "hwid", h->hwid);
        }
        if (h->type == OVSA_LIC_FLOATING && h->lease_id[0] != '\0') {
            ovsa_sdk_field(o, "lease_id", h->lease_id);
        }
        break;
    case OVSA_OP_CHECKOUT:
    case OVSA_OP_BORROW:
        if (h->client_id[0] != '\0') {
            ovsa_sdk_field(o, "client_id", h->client_id);
        }
        break;
    case OVSA_OP_HEARTBEAT:
    case OVSA_OP_CHECKIN:
        if (h->lease_id[0] != '\0') {
            ovsa_sdk_field(o, "lease_id", h->lease_id);
        }
        break;
    default:
        break;
    }

    v = json_object_get(o, "hwid");
    hwid = json_is_string(v) ? json_string_value(v) : NULL;
    v = json_object_get(o, "lease_id");
    lease = json_is_string(v) ? json_string_value(v) : NULL;

    if (((op == OVSA_OP_ACTIVATE || op == OVSA_OP_DEACTIVATE
          || (op == OVSA_OP_CHECK && h->type == OVSA_LIC_NODE_LOCKED))
         && hwid == NULL))
    {
        json_decref(o);
        ovsa_sdk_refuse(st, OVSA_SDK_LOCAL_ERROR, OVSA_E_CONF_MISSING,
                        "hwid: none of /etc/machine-id, "
                        "/var/lib/dbus/machine-id, "
                        "/sys/class/dmi/id/product_uuid is readable: set "
                        "the hwid");
        goto done;
    }

    if ((op == OVSA_OP_HEARTBEAT || op == OVSA_OP_CHECKIN
         || (op == OVSA_OP_CHECK && h->type == OVSA_LIC_FLOATING))
        && lease == NULL)
    {
        json_decref(o);
        ovsa_sdk_refuse(st, OVSA_SDK_NO_LEASE, OVSA_E_NONE,
                        "no lease held: acquire one first");
        goto done;
    }

    body = json_dumps(o, JSON_COMPACT);
    if (body == NULL) {
        json_decref(o);
        ovsa_sdk_refuse(st, OVSA_SDK_LOCAL_ERROR, OVSA_E_NOMEM,
                        "request: out of memory");
        goto done;
    }

    ovsa_sdk_lconf(h, &lc);
    lc.keep_grant = detail != NULL;     /* tools: the answer as a grant */

    rc = ovsa_client_check_license(&lc, "POST", ovsa_sdk_ops[op].path, body,
                                   &res, &err);
    free(body);

    usable = res.server >= 0 && res.answer.status < 500;

    if (res.server >= 0) {
        ovsa_sdk_from_answer(&res.answer, st);
    }

    if (usable) {
        if (decided != NULL) {
            *decided = 1;
        }
        ovsa_sdk_remember(h, op, hwid, lease, st);

        if (rc != OVSA_OK) {
            /* the answer verified; the license it offered did not */
            st->error = err.code;
            snprintf(st->message, sizeof(st->message), "%s", err.msg);
        }

        json_decref(o);
        goto done;
    }

    /* no usable verified answer */
    if (rc != OVSA_OK && res.nattempts == 0) {
        json_decref(o);
        ovsa_sdk_refuse(st, OVSA_SDK_LOCAL_ERROR, err.code, err.msg);
        goto done;
    }

    if (res.server >= 0) {
        /* every server that answered had a server error (5xx) */
        st->allowed = 0;
        snprintf(msg, sizeof(msg), "%.200s: %.300s", st->code_name,
                 st->message);
        snprintf(st->message, sizeof(st->message), "%s", msg);
    } else {
        ovsa_sdk_refuse(st, err.code == OVSA_E_TRANSPORT
                            ? OVSA_SDK_UNREACHABLE : OVSA_SDK_UNVERIFIED,
                        err.code, err.msg);
    }

    ovsa_sdk_offline(h, op, hwid, lease, st);
    json_decref(o);

done:

    if (detail != NULL) {
        *detail = res;
    } else {
        ovsa_license_result_free(&res);
    }

    return st->allowed;
}


static int
ovsa_sdk_op(ovsa_sdk_t *h, ovsa_sdk_op_t op, ovsa_sdk_status_t *st)
{
    pthread_mutex_lock(&h->lock);
    (void) ovsa_sdk_do(h, op, NULL, st, NULL, NULL);
    pthread_mutex_unlock(&h->lock);

    return st->allowed;
}


int
ovsa_sdk_activate(ovsa_sdk_t *h, ovsa_sdk_status_t *st)
{
    return ovsa_sdk_op(h, OVSA_OP_ACTIVATE, st);
}


int
ovsa_sdk_check(ovsa_sdk_t *h, ovsa_sdk_status_t *st)
{
    return ovsa_sdk_op(h, OVSA_OP_CHECK, st);
}


int
ovsa_sdk_deactivate(ovsa_sdk_t *h, ovsa_sdk_status_t *st)
{
    return ovsa_sdk_op(h, OVSA_OP_DEACTIVATE, st);
}


int
ovsa_sdk_spend(ovsa_sdk_t *h, ovsa_sdk_status_t *st)
{
    return ovsa_sdk_op(h, OVSA_OP_SPEND, st);
}


/* ---- leases */

/* Takes the lease of a verified answer (checkout, heartbeat). */
static void
ovsa_sdk_hold(ovsa_sdk_t *h, const ovsa_sdk_status_t *st)
{
    if (st->lease_id[0] != '\0') {
        snprintf(h->lease_id, sizeof(h->lease_id), "%s", st->lease_id);
    }
    h->lease_expires = st->lease_expires;
    if (st->verified && st->lease_expires > st->server_time) {
        h->lease_len = st->lease_expires - st->server_time;
    }
}


static void
ovsa_sdk_drop(ovsa_sdk_t *h)
{
    h->lease_id[0] = '\0';
    h->lease_expires = 0;
    h->borrowed = 0;
}


static struct timespec
ovsa_sdk_mono_in(long long s)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += s;
    return ts;
}


static long long
ovsa_sdk_mono(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long) ts.tv_sec;
}


static void *
ovsa_sdk_heartbeat_thread(void *arg)
{
    int                 lost, decided;
    long long           every, deadline;
    ovsa_sdk_t         *h = arg;
    struct timespec     ts;
    ovsa_sdk_status_t   st;

    lost = 0;
    ovsa_sdk_status_init(&st);

    pthread_mutex_lock(&h->lock);

    every = h->heartbeat_s > 0 ? h->heartbeat_s
                               : (h->lease_len > 3 ? h->lease_len / 3 : 1);
    deadline = ovsa_sdk_mono() + (h->lease_len > 0 ? h->lease_len : every);

    while (!h->stop) {
        ts = ovsa_sdk_mono_in(every);
        while (!h->stop
               && pthread_cond_timedwait(&h->wake, &h->lock, &ts) == 0)
        {
            /* woken: stop, or spurious */
        }

        if (h->stop) {
            break;
        }

        if (h->lease_id[0] == '\0') {
            ovsa_sdk_refuse(&st, OVSA_SDK_NO_LEASE, OVSA_E_NONE,
                            "the lease was released");
            break;
        }

        (void) ovsa_sdk_do(h, OVSA_OP_HEARTBEAT, NULL, &st, NULL, &decided);

        if (decided && st.allowed) {
            ovsa_sdk_hold(h, &st);
            every = h->heartbeat_s > 0 ? h->heartbeat_s
                                       : (h->lease_len > 3
                                          ? h->lease_len / 3 : 1);
            deadline = ovsa_sdk_mono() + h->lease_len;
            continue;
        }

        if (decided) {
            /* a verified refusal: released, expired, revoked ... */
            lost = 1;
            break;
        }

        /* no server answered: try again soon, until the lease ends */
        if (ovsa_sdk_mono() >= deadline) {
            ovsa_sdk_refuse(&st, OVSA_SDK_LEASE_LOST, OVSA_E_TRANSPORT,
                            "no heartbeat was answered before the lease "
                            "expired");
            lost = 1;
            break;
        }

        every = every > 4 ? every / 4 : 1;
    }

    if (lost) {
        snprintf(st.lease_id, sizeof(st.lease_id), "%s", h->lease_id);
        st.allowed = 0;
        ovsa_sdk_drop(h);
        if (h->state_dir != NULL) {
            ovsa_sdk_state_remove(h->state_dir, h->license_id,
                                  OVSA_SDK_ST_LEASE);
        }
    }

    pthread_mutex_unlock(&h->lock);

    if (lost && h->cb != NULL) {
        h->cb(h, &st, h->cb_arg);
    }

    return NULL;
}


int
ovsa_sdk_lease_acquire(ovsa_sdk_t *h, ovsa_sdk_lease_cb cb, void *arg,
    ovsa_sdk_status_t *st)
{
    int               decided;
    ovsa_err_t        e;
    ovsa_sdk_saved_t  s;

    pthread_mutex_lock(&h->lock);

    /* a borrowed seat: held without the server until the borrow ends */
    if (ovsa_sdk_grant_allows(h, OVSA_SDK_GRANT_BORROW, st)) {
        ovsa_sdk_hold(h, st);
        h->borrowed = 1;
        snprintf(st->message, sizeof(st->message), "borrowed seat, held "
                 "until %lld", st->lease_expires);
        pthread_mutex_unlock(&h->lock);
        return st->allowed;
    }

    /*
     * a lease this process, or a previous run that is gone, holds and
     * may renew (not one of another running process: one seat each)
     */
    if (h->lease_id[0] == '\0' && h->state_dir != NULL
        && ovsa_sdk_state_load(h->state_dir, h->license_id,
                               OVSA_SDK_ST_LEASE, &s, &e) == OVSA_OK
        && s.allowed && s.lease_id[0] != '\0'
        && s.lease_expires > ovsa_sdk_now(h)
        && (s.pid <= 0 || s.pid == (long) getpid()
            || (kill((pid_t) s.pid, 0) != 0 && errno == ESRCH)))
    {
        snprintf(h->lease_id, sizeof(h->lease_id), "%s", s.lease_id);
        h->lease_expires = s.lease_expires;
        h->lease_len = s.lease_expires - s.server_time;
    }

    if (h->lease_id[0] != '\0') {
        (void) ovsa_sdk_do(h, OVSA_OP_HEARTBEAT, NULL, st, NULL, &decided);
        if (decided && !st->allowed) {
            ovsa_sdk_drop(h);       /* gone: a new one */
        }
    }

    if (h->lease_id[0] == '\0') {
        (void) ovsa_sdk_do(h, OVSA_OP_CHECKOUT, NULL, st, NULL, &decided);
    }

    if (decided && st->allowed) {
        ovsa_sdk_hold(h, st);
        st->valid_until = st->lease_expires;
    }

    if (st->allowed && cb != NULL && !h->thread_on) {
        h->cb = cb;
        h->cb_arg = arg;
        h->stop = 0;
        if (pthread_create(&h->thread, NULL, ovsa_sdk_heartbeat_thread, h)
            != 0)
        {
            ovsa_sdk_refuse(st, OVSA_SDK_LOCAL_ERROR, OVSA_E_INTERNAL,
                            "lease: cannot start the heartbeat thread");
        } else {
            h->thread_on = 1;
        }
    }

    pthread_mutex_unlock(&h->lock);
    return st->allowed;
}


int
ovsa_sdk_lease_heartbeat(ovsa_sdk_t *h, ovsa_sdk_status_t *st)
{
    int  decided;

    pthread_mutex_lock(&h->lock);

    (void) ovsa_sdk_do(h, OVSA_OP_HEARTBEAT, NULL, st, NULL, &decided);
    if (decided && st->allowed) {
        ovsa_sdk_hold(h, st);
    } else if (decided) {
        ovsa_sdk_drop(h);
    }

    pthread_mutex_unlock(&h->lock);
    return st->allowed;
}


/*
 * Stops the heartbeat thread and checks the lease in; called and
 * returns with h->lock held.  from_exit: at process exit, possibly on
 * the heartbeat thread itself (a callback that called exit()).
 */
static int
ovsa_sdk_release_locked(ovsa_sdk_t *h, ovsa_sdk_status_t *st,
    int from_exit)
{
    int  decided;

    ovsa_sdk_status_init(st);

    if (h->thread_on) {
        if (pthread_equal(pthread_self(), h->thread)) {
            if (!from_exit) {
                return ovsa_sdk_refuse(st, OVSA_SDK_LOCAL_ERROR,
                                       OVSA_E_INTERNAL, "lease: not from "
                                       "the lease callback");
            }
            h->stop = 1;

        } else {
            h->stop = 1;
            pthread_cond_broadcast(&h->wake);
            pthread_mutex_unlock(&h->lock);
            pthread_join(h->thread, NULL);
            pthread_mutex_lock(&h->lock);
            h->thread_on = 0;
        }
    }

    if (h->lease_id[0] == '\0') {
        return ovsa_sdk_refuse(st, OVSA_SDK_NO_LEASE, OVSA_E_NONE,
                               "no lease held");
    }

    (void) ovsa_sdk_do(h, OVSA_OP_CHECKIN, NULL, st, NULL, &decided);

    if (decided) {
        /* checked in, or not live any more: either way not ours */
        ovsa_sdk_drop(h);
        if (h->state_dir != NULL) {
            ovsa_sdk_grant_remove(h->state_dir, h->license_id,
                                  OVSA_SDK_GRANT_BORROW);
        }
    }

    return st->allowed;
}


int
ovsa_sdk_lease_release(ovsa_sdk_t *h, ovsa_sdk_status_t *st)
{
    int  rc;

    pthread_mutex_lock(&h->lock);
    rc = ovsa_sdk_release_locked(h, st, 0);
    pthread_mutex_unlock(&h->lock);

    return rc;
}


void
ovsa_sdk_close(ovsa_sdk_t *h)
{
    ovsa_sdk_t        **p;
    ovsa_sdk_status_t   st;

    if (h == NULL) {
        return;
    }

    if (h->thread_on && pthread_equal(pthread_self(), h->thread)) {
        return;             /* not from the lease callback (ovsa.h) */
    }

    pthread_mutex_lock(&ovsa_sdk_all_lock);
    for (p = &ovsa_sdk_all; *p != NULL; p = &(*p)->next) {
        if (*p == h) {
            *p = h->next;
            break;
        }
    }
    pthread_mutex_unlock(&ovsa_sdk_all_lock);

    pthread_mutex_lock(&h->lock);
    if ((h->lease_id[0] != '\0' && !h->borrowed) || h->thread_on) {
        (void) ovsa_sdk_release_locked(h, &st, 0);
    }
    pthread_mutex_unlock(&h->lock);

    ovsa_sdk_free(h);
}


int
ovsa_sdk_call(ovsa_sdk_t *h, const char *op, const char *fields,
    ovsa_sdk_status_t *st, ovsa_license_result_t *detail)
{
    size_t  i;

    for (i = 0; i < OVSA_SDK_NOPS; i++) {
        if (strcmp(op, ovsa_sdk_ops[i].name) == 0) {
            break;
        }
    }

    if (i == OVSA_SDK_NOPS) {
        if (detail != NULL) {
            memset(detail, 0, sizeof(*detail));
            detail->server = -1;
        }
        ovsa_sdk_status_init(st);
        return ovsa_sdk_refuse(st, OVSA_SDK_LOCAL_ERROR, OVSA_E_CONF_VALUE,
                               "call: unknown operation");
    }

    pthread_mutex_lock(&h->lock);

    (void) ovsa_sdk_do(h, (ovsa_sdk_op_t) i, fields, st, detail, NULL);

    pthread_mutex_unlock(&h->lock);
    return st->allowed;
}


/* ---- offline use (docs/offline.md) */

int
ovsa_sdk_borrow(ovsa_sdk_t *h, long seconds, ovsa_sdk_status_t *st)
{
    int                    decided;
    char                   fields[64];
    ovsa_err_t             e;
    ovsa_license_result_t  res;

    pthread_mutex_lock(&h->lock);

    if (h->state_dir == NULL) {
        ovsa_sdk_status_init(st);
        ovsa_sdk_refuse(st, OVSA_SDK_LOCAL_ERROR, OVSA_E_CONF_MISSING,
                        "borrow: the grant is kept in the state directory: "
                        "set one");
        goto done;
    }

    snprintf(fields, sizeof(fields), "{\"borrow_seconds\":%ld}", seconds);

    memset(&res, 0, sizeof(res));
    (void) ovsa_sdk_do(h, OVSA_OP_BORROW, fields, st, &res, &decided);

    if (decided && st->allowed) {
        if (res.answer.grant == NULL
            || ovsa_sdk_grant_save(h->state_dir, h->license_id,
                                   OVSA_SDK_GRANT_BORROW, res.answer.grant,
                                   res.answer.grant_len, &e) != OVSA_OK)
        {
            ovsa_sdk_refuse(st, OVSA_SDK_LOCAL_ERROR, OVSA_E_IO,
                            "borrow: granted, but the grant could not be "
                            "saved: release it");
        } else {
            ovsa_sdk_hold(h, st);
            h->borrowed = 1;
            st->valid_until = st->lease_expires;
        }
    }

    ovsa_license_result_free(&res);

done:

    pthread_mutex_unlock(&h->lock);
    return st->allowed;
}


/* Reads a file for an offline operation; OVSA_OK or st refused. */
static int
ovsa_sdk_read(const char *file, char **text, size_t *len,
    ovsa_sdk_status_t *st)
{
    ovsa_err_t  e;

    if (ovsa_file_read(file, 64 * 1024, text, len, &e) != OVSA_OK) {
        ovsa_sdk_refuse(st, OVSA_SDK_LOCAL_ERROR, e.code, e.msg);
        return OVSA_ERR;
    }

    return OVSA_OK;
}


int
ovsa_sdk_offline_request(ovsa_sdk_t *h, const char *op, const char *out,
    ovsa_sdk_status_t *st)
{
    int                    deact;
    char                  *text, *grant, nonce[32], old[32], *fields;
    char                   keyid[OVSA_KEYID_LEN + 1];
    size_t                 len;
    json_t                *f, *a;
    long long              until, at;
    ovsa_err_t             e;
    ovsa_result_t          r;
    ovsa_license_conf_t    lc;
    ovsa_sdk_grant_want_t  w;

    ovsa_sdk_status_init(st);
    text = grant = fields = NULL;
    f = NULL;
    memset(&r, 0, sizeof(r));
    deact = op != NULL && strcmp(op, "deactivate") == 0;
    old[0] = '\0';

    pthread_mutex_lock(&h->lock);
    ovsa_sdk_lconf(h, &lc);

    if (h->state_dir == NULL || h->hwid[0] == '\0') {
        ovsa_sdk_refuse(st, OVSA_SDK_LOCAL_ERROR, OVSA_E_CONF_MISSING,
                        "offline: needs a state directory and a hwid");
        goto done;
    }

    f = json_pack("{s:s}", "hwid", h->hwid);

    if (deact) {
        /* the activation it removes: the offline activation held here */
        memset(&w, 0, sizeof(w));
        w.path = "/v1/offline/activate";
        w.keyid = keyid;
        w.hwid = h->hwid;
        w.until = "valid_until";
        w.now = 0;                  /* an expired one is removed too */
        w.dir = h->state_dir;
        w.id = h->license_id;

        if (ovsa_sdk_grant_load(h->state_dir, h->license_id,
                                OVSA_SDK_GRANT_ACTIVATION, &grant, &len, &e)
               != OVSA_OK
            || ovsa_sdk_keyid(h, keyid, &e) != OVSA_OK
            || ovsa_sdk_grant_check(&lc, grant, len, &w, &r, &until, &e)
               != OVSA_OK)
        {
            ovsa_sdk_refuse(st, OVSA_SDK_LOCAL_ERROR, e.code, "offline "
                            "deactivation: no offline activation held "
                            "here");
            goto done;
        }

        a = json_loadb(r.body, r.body_len, 0, NULL);
        at = json_integer_value(json_object_get(a, "activated_at"));
        json_decref(a);
        json_object_set_new(f, "activated_at", json_integer(at));
        snprintf(old, sizeof(old), "%s", r.nonce);
    }

    fields = json_dumps(f, JSON_COMPACT);

    if (fields == NULL
        || ovsa_offline_request_make(&lc, op, fields, &text, nonce, &e)
           != OVSA_OK
        || ovsa_file_write(out, text, strlen(text), 0600, 0, &e) != OVSA_OK)
    {
        ovsa_sdk_refuse(st, OVSA_SDK_LOCAL_ERROR, e.code, e.msg);
        goto done;
    }

    if (deact) {
        /*
         * removed here first: the server frees the slot when the proof
         * reaches it, and this machine never again accepts the grant
         */
        if (ovsa_sdk_nonce_note(h->state_dir, h->license_id, "deactivated",
                                old, 1, &e) != OVSA_OK)
        {
            ovsa_sdk_refuse(st, OVSA_SDK_LOCAL_ERROR, e.code, e.msg);
            goto done;
        }
        ovsa_sdk_grant_remove(h->state_dir, h->license_id,
                              OVSA_SDK_GRANT_ACTIVATION);
        ovsa_sdk_state_remove(h->state_dir, h->license_id,
                              OVSA_SDK_ST_ACTIVATE);
        ovsa_sdk_state_remove(h->state_dir, h->license_id,
                              OVSA_SDK_ST_CHECK);

    } else if (ovsa_sdk_nonce_note(h->state_dir, h->license_id, "pending",
                                   nonce, 1, &e) != OVSA_OK)
    {
        ovsa_sdk_refuse(st, OVSA_SDK_LOCAL_ERROR, e.code, e.msg);
        goto done;
    }

    st->allowed = 1;
    ovsa_sdk_set_code(st, "OK");
    snprintf(st->message, sizeof(st->message), "offline %s request %s "
             "written to %s", op, nonce, out);

done:

    pthread_mutex_unlock(&h->lock);
    ovsa_result_free(&r);
    json_decref(f);
    free(fields);
    free(text);
    free(grant);
    return st->allowed;
}


int
ovsa_sdk_offline_submit(ovsa_sdk_t *h, const char *in, const char *out,
    ovsa_sdk_status_t *st, ovsa_license_result_t *detail)
{
    int                    rc;
    char                  *text;
    size_t                 len;
    ovsa_err_t             e;
    ovsa_license_conf_t    lc;
    ovsa_license_result_t  res;

    ovsa_sdk_status_init(st);
    memset(&res, 0, sizeof(res));
    res.server = -1;

    if (ovsa_sdk_read(in, &text, &len, st) != OVSA_OK) {
        goto done;
    }

    pthread_mutex_lock(&h->lock);
    ovsa_sdk_lconf(h, &lc);
    rc = ovsa_offline_request_submit(&lc, text, len, &res, &e);
    pthread_mutex_unlock(&h->lock);
    free(text);

    if (res.server < 0) {
        ovsa_sdk_refuse(st, rc == OVSA_OK || e.code == OVSA_E_TRANSPORT
                            ? OVSA_SDK_UNREACHABLE
                            : (res.nattempts ? OVSA_SDK_UNVERIFIED
                                             : OVSA_SDK_LOCAL_ERROR),
                        e.code, e.msg);
        goto done;
    }

    ovsa_sdk_from_answer(&res.answer, st);

    /* the answer, a refusal too, goes back to the offline machine */
    if (res.answer.grant == NULL
        || ovsa_file_write(out, res.answer.grant, res.answer.grant_len,
                           0600, 0, &e) != OVSA_OK)
    {
        ovsa_sdk_refuse(st, OVSA_SDK_LOCAL_ERROR,
                        res.answer.grant ? e.code : OVSA_E_INTERNAL,
                        res.answer.grant ? e.msg : "offline: the answer "
                        "was not kept");
    }

done:

    if (detail != NULL) {
        *detail = res;
    } else {
        ovsa_license_result_free(&res);
    }

    return st->allowed;
}


int
ovsa_sdk_offline_accept(ovsa_sdk_t *h, const char *in, ovsa_sdk_status_t *st)
{
    char                  *text, keyid[OVSA_KEYID_LEN + 1];
    size_t                 len;
    long long              until;
    ovsa_err_t             e;
    ovsa_result_t          r;
    ovsa_license_conf_t    lc;
    ovsa_sdk_grant_want_t  w;

    ovsa_sdk_status_init(st);
    memset(&r, 0, sizeof(r));
    text = NULL;

    pthread_mutex_lock(&h->lock);

    if (h->state_dir != NULL
        && ovsa_sdk_clock_check(h->state_dir, ovsa_sdk_now(h), h->skew, &e)
           != OVSA_OK)
    {
        ovsa_sdk_refuse(st, OVSA_SDK_CLOCK_BACK, OVSA_E_NONE, e.msg);
        goto done;
    }

    if (h->state_dir == NULL || h->hwid[0] == '\0'
        || ovsa_sdk_keyid(h, keyid, &e) != OVSA_OK)
    {
        ovsa_sdk_refuse(st, OVSA_SDK_LOCAL_ERROR, OVSA_E_CONF_MISSING,
                        "offline: needs a state directory and a hwid");
        goto done;
    }

    if (ovsa_sdk_read(in, &text, &len, st) != OVSA_OK) {
        goto done;
    }

    memset(&w, 0, sizeof(w));
    w.path = "/v1/offline/activate";
    w.keyid = keyid;
    w.hwid = h->hwid;
    w.until = "valid_until";
    w.now = ovsa_sdk_now(h);
    w.dir = h->state_dir;
    w.id = h->license_id;
    w.pending = 1;

    ovsa_sdk_lconf(h, &lc);

    if (ovsa_sdk_grant_check(&lc, text, len, &w, &r, &until, &e) != OVSA_OK)
    {
        if (e.code == OVSA_E_NONE && r.verified) {
            ovsa_sdk_from_answer(&r, st);     /* the server's refusal */
        } else {
            ovsa_sdk_refuse(st, OVSA_SDK_UNVERIFIED, e.code, e.msg);
        }
        goto done;
    }

    if (ovsa_sdk_grant_save(h->state_dir, h->license_id,
                            OVSA_SDK_GRANT_ACTIVATION, text, len, &e)
           != OVSA_OK
        || ovsa_sdk_nonce_note(h->state_dir, h->license_id, "pending",
                               r.nonce, 0, &e) != OVSA_OK)
    {
        ovsa_sdk_refuse(st, OVSA_SDK_LOCAL_ERROR, e.code, e.msg);
        goto done;
    }

    (void) ovsa_sdk_clock_note(h->state_dir, r.server_time, &e);

    ovsa_sdk_from_answer(&r, st);
    st->valid_until = until;

done:

    pthread_mutex_unlock(&h->lock);
    ovsa_result_free(&r);
    free(text);
    return st->allowed;
}
