/*
 * store_health.c: is the license store fit to keep what we acknowledge,
 * and does it answer at all (issue 11, part A; see store_int.h).
 *
 * Durability: every new connection, every OVSA_STORE_HEALTH_PERIOD_MS on
 * each connection, and each half-open probe read CONFIG GET appendonly
 * appendfsync maxmemory-policy (INFO persistence / memory when CONFIG is
 * renamed or refused; appendfsync cannot be read there, so such a server
 * counts as not durable).  Durable means appendonly yes, appendfsync
 * everysec or always, maxmemory-policy noeviction.  The state is one for
 * the process: the last reading of any thread wins, and a change is
 * logged once.
 *
 * Circuit breaker: one per server address, shared by all threads.  The
 * first failure reported (store.c reports OVSA_E_TRANSPORT failures
 * without an answer from Redis: refused, lost, timed out) opens it for redis.breaker_open_ms; while open every call
 * fails at once with STORE_UNAVAILABLE and Retry-After.  Then one call
 * is let through as the probe (it reads the settings first); an answer
 * closes the breaker, a failure opens it again.  Breakers are keyed by
 * address; store.c asks for the one of the configured address (the
 * store as a whole: with Sentinel the probe finds the new master, on a
 * cluster one stalled master opens it for every license until a probe
 * answers; per-node breakers are a possible refinement).
 */

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend.h"
#include "store_int.h"

#define OVSA_BREAKERS_MAX   64
#define OVSA_ADDR_MAX       272

enum {
    OVSA_BREAKER_CLOSED = 0,
    OVSA_BREAKER_OPEN,
    OVSA_BREAKER_HALF_OPEN     /* the probe is out */
};

typedef struct {
    char       addr[OVSA_ADDR_MAX];
    int        state;
    long long  until;          /* OPEN: monotonic ms it stays open */
} ovsa_breaker_t;

enum {
    OVSA_DURABLE_UNKNOWN = 0,
    OVSA_DURABLE_YES,
    OVSA_DURABLE_NO
};

static int               ovsa_health_require = 1;
static int               ovsa_health_open_ms = 1000;

static pthread_mutex_t   ovsa_health_mu = PTHREAD_MUTEX_INITIALIZER;
static ovsa_breaker_t    ovsa_breakers[OVSA_BREAKERS_MAX];
static int               ovsa_nbreakers;
static int               ovsa_durable;               /* OVSA_DURABLE_* */
static char              ovsa_durable_why[384];

static __thread long long  ovsa_health_last;         /* monotonic ms */
static __thread int        ovsa_health_retry_s;
static __thread int        ovsa_health_not_sent;


static long long
ovsa_health_now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


void
ovsa_store_health_init(const ovsa_store_conf_t *conf)
{
    ovsa_health_require = conf->require_durable;
    ovsa_health_open_ms = conf->breaker_open_ms > 0 ? conf->breaker_open_ms
                                                     : 1000;
}


/* ---- circuit breaker */

/* Returns addr's breaker (made when new); called with the mutex held. */
static ovsa_breaker_t *
ovsa_breaker_find(const char *addr)
{
    int              i;
    ovsa_breaker_t  *b;

    for (i = 0; i < ovsa_nbreakers; i++) {
        if (strcmp(ovsa_breakers[i].addr, addr) == 0) {
            return &ovsa_breakers[i];
        }
    }

    if (ovsa_nbreakers < OVSA_BREAKERS_MAX) {
        b = &ovsa_breakers[ovsa_nbreakers++];
    } else {
        /* more servers than slots: the oldest slot is reused */
        b = &ovsa_breakers[0];
    }

    memset(b, 0, sizeof(*b));
    snprintf(b->addr, sizeof(b->addr), "%s", addr);

    return b;
}


void
ovsa_store_set_retry_after(int seconds)
{
    ovsa_health_retry_s = seconds < 1 ? 1 : seconds;
}


int
ovsa_store_retry_after(int *not_sent)
{
    *not_sent = ovsa_health_not_sent;

    return ovsa_health_retry_s < 1 ? 1 : ovsa_health_retry_s;
}


int
ovsa_store_breaker_admit(const char *addr, int *probe, ovsa_err_t *err)
{
    long long        now, left;
    ovsa_breaker_t  *b;

    *probe = 0;
    ovsa_health_not_sent = 0;
    now = ovsa_health_now();

    pthread_mutex_lock(&ovsa_health_mu);

    b = ovsa_breaker_find(addr);

    if (b->state == OVSA_BREAKER_CLOSED) {
        pthread_mutex_unlock(&ovsa_health_mu);
        return OVSA_OK;
    }

    if (b->state == OVSA_BREAKER_OPEN && now >= b->until) {
        b->state = OVSA_BREAKER_HALF_OPEN;
        pthread_mutex_unlock(&ovsa_health_mu);
        *probe = 1;
        return OVSA_OK;
    }

    left = b->state == OVSA_BREAKER_OPEN ? b->until - now : 0;

    pthread_mutex_unlock(&ovsa_health_mu);

    ovsa_store_set_retry_after((int) ((left + 999) / 1000));
    ovsa_health_not_sent = 1;

    return ovsa_err_set(err, OVSA_E_TRANSPORT, "redis %s: circuit breaker "
                        "open, not sent", addr);
}


void
ovsa_store_breaker_report(const char *addr, int ok, const ovsa_err_t *err)
{
    int              was;
    ovsa_breaker_t  *b;

    pthread_mutex_lock(&ovsa_health_mu);

    b = ovsa_breaker_find(addr);
    was = b->state;

    if (ok) {
        b->state = OVSA_BREAKER_CLOSED;

    } else if (was != OVSA_BREAKER_OPEN) {
        /*
         * closed: the first failure opens it; half-open: the probe failed.
         * A failure reported while open (a call that was already waiting
         * when it opened) does not extend it.
         */
        b->state = OVSA_BREAKER_OPEN;
        b->until = ovsa_health_now() + ovsa_health_open_ms;
    }

    pthread_mutex_unlock(&ovsa_health_mu);

    if (!ok) {
        ovsa_store_set_retry_after((ovsa_health_open_ms + 999) / 1000);
    }

    if (!ok && was == OVSA_BREAKER_CLOSED) {
        ovsa_log("error", "redis %s: circuit breaker open for %d ms, "
                 "answering 503 STORE_UNAVAILABLE at once: %s", addr,
                 ovsa_health_open_ms, err ? err->msg : "failure");

    } else if (ok && was != OVSA_BREAKER_CLOSED) {
        ovsa_log("notice", "redis %s: answering again, circuit breaker "
                 "closed", addr);
    }
}


/* ---- durability */

/* Records a reading; logs when the state or its reason changed. */
static void
ovsa_health_record(const char *addr, int durable, const char *why)
{
    int  changed;

    pthread_mutex_lock(&ovsa_health_mu);

    changed = ovsa_durable != durable
              || strcmp(ovsa_durable_why, why) != 0;
    ovsa_durable = durable;
    snprintf(ovsa_durable_why, sizeof(ovsa_durable_why), "%s", why);

    pthread_mutex_unlock(&ovsa_health_mu);

    if (!changed) {
        return;
    }

    if (durable == OVSA_DURABLE_YES) {
        ovsa_log("notice", "redis %s is durable (appendonly, appendfsync "
                 "everysec or always, maxmemory-policy noeviction)%s", addr,
                 ovsa_health_require ? ": state-changing operations served"
                                     : "");

    } else if (ovsa_health_require) {
        ovsa_log("error", "%s: state-changing operations are refused with "
                 "503 STORE_NOT_DURABLE until it is (reads are served)",
                 why);

    } else {
        ovsa_log("warn", "%s: served anyway (redis.require_durable: "
                 "false), acknowledged changes can be lost", why);
    }
}


/* Judges the three settings; fills why when not durable. */
static int
ovsa_health_judge(const char *addr, const char *aof, const char *fsync,
    const char *policy, const char *unknown, char *why, size_t size)
{
    if (aof == NULL || strcmp(aof, "yes") != 0) {
        snprintf(why, size, "redis %s: appendonly is \"%s\" (needs yes: "
                 "without the append-only file a crash loses every "
                 "change since the last snapshot)", addr,
                 aof ? aof : "unknown");
        return OVSA_DURABLE_NO;
    }

    if (fsync == NULL || (strcmp(fsync, "everysec") != 0
                          && strcmp(fsync, "always") != 0))
    {
        snprintf(why, size, "redis %s: appendfsync is \"%s\" (needs "
                 "everysec or always)%s", addr, fsync ? fsync : "unknown",
                 unknown ? unknown : "");
        return OVSA_DURABLE_NO;
    }

    if (policy == NULL || strcmp(policy, "noeviction") != 0) {
        snprintf(why, size, "redis %s: maxmemory-policy is \"%s\" (needs "
                 "noeviction: eviction deletes license state)", addr,
                 policy ? policy : "unknown");
        return OVSA_DURABLE_NO;
    }

    why[0] = '\0';
    return OVSA_DURABLE_YES;
}


/*
 * Finds "name:value" in an INFO answer; copies value to buf.  Returns buf
 * or NULL.
 */
static const char *
ovsa_health_info_field(const char *info, const char *name, char *buf,
    size_t size)
{
    size_t       n, len;
    const char  *p;

    n = strlen(name);

    p = info;

    while (p != NULL && *p != '\0') {
        if (strncmp(p, name, n) == 0 && p[n] == ':') {
            p += n + 1;
            len = strcspn(p, "\r\n");
            if (len >= size) {
                return NULL;
            }
            memcpy(buf, p, len);
            buf[len] = '\0';
            return buf;
        }

        p = strchr(p, '\n');
        if (p != NULL) {
            p++;
        }
    }

    return NULL;
}


/*
 * Runs one command; returns the reply (caller frees), or NULL with err
 * set when the connection failed.
 */
static redisReply *
ovsa_health_cmd(redisContext *c, const char *addr, int argc,
    const char **argv, ovsa_err_t *err)
{
    redisReply  *r;

    r = redisCommandArgv(c, argc, argv, NULL);
    if (r == NULL) {
        ovsa_err_set(err, OVSA_E_TRANSPORT, "redis %s: %s: %s", addr,
                     argv[0], c->errstr);
    }

    return r;
}


int
ovsa_store_health_check(redisContext *c, const char *addr, int now,
    ovsa_err_t *err)
{
    int          durable;
    char         why[384], aofv[16], polv[32], unknown[300];
    size_t       i;
    long long    t;
    redisReply  *r, *k, *v;
    const char  *aof, *fsync, *policy, *argv[5];

    t = ovsa_health_now();
    if (!now && ovsa_health_last != 0
        && t - ovsa_health_last < OVSA_STORE_HEALTH_PERIOD_MS)
    {
        return OVSA_OK;
    }

    argv[0] = "CONFIG";
    argv[1] = "GET";
    argv[2] = "appendonly";
    argv[3] = "appendfsync";
    argv[4] = "maxmemory-policy";

    r = ovsa_health_cmd(c, addr, 5, argv, err);
    if (r == NULL) {
        return OVSA_ERR;
    }

    aof = NULL;
    fsync = NULL;
    policy = NULL;

    if (r->type == REDIS_REPLY_ARRAY) {
        for (i = 0; i + 1 < r->elements; i += 2) {
            k = r->element[i];
            v = r->element[i + 1];
            if (k->type != REDIS_REPLY_STRING
                || v->type != REDIS_REPLY_STRING)
            {
                continue;
            }
            if (strcmp(k->str, "appendonly") == 0) {
                aof = v->str;
            } else if (strcmp(k->str, "appendfsync") == 0) {
                fsync = v->str;
            } else if (strcmp(k->str, "maxmemory-policy") == 0) {
                policy = v->str;
            }
        }

        durable = ovsa_health_judge(addr, aof, fsync, policy, NULL, why,
                                    sizeof(why));
        freeReplyObject(r);

    } else {
        /* CONFIG renamed or refused (ACL): what INFO tells */
        snprintf(unknown, sizeof(unknown), ": CONFIG GET refused (%.200s), "
                 "appendfsync cannot be read from INFO",
                 r->type == REDIS_REPLY_ERROR ? r->str : "not an array");
        freeReplyObject(r);

        argv[0] = "INFO";
        argv[1] = "persistence";
        r = ovsa_health_cmd(c, addr, 2, argv, err);
        if (r == NULL) {
            return OVSA_ERR;
        }
        aof = NULL;
        if (r->type == REDIS_REPLY_STRING) {
            aof = ovsa_health_info_field(r->str, "aof_enabled", aofv,
                                         sizeof(aofv));
            aof = aof == NULL ? NULL : strcmp(aof, "1") == 0 ? "yes" : "no";
        }
        freeReplyObject(r);

        argv[1] = "memory";
        r = ovsa_health_cmd(c, addr, 2, argv, err);
        if (r == NULL) {
            return OVSA_ERR;
        }
        policy = NULL;
        if (r->type == REDIS_REPLY_STRING) {
            policy = ovsa_health_info_field(r->str, "maxmemory_policy", polv,
                                            sizeof(polv));
        }
        freeReplyObject(r);

        durable = ovsa_health_judge(addr, aof, NULL, policy, unknown, why,
                                    sizeof(why));
    }

    ovsa_health_last = t;
    ovsa_health_record(addr, durable, why);

    return OVSA_OK;
}


/* 16c: for the metrics: any breaker not closed; durable (1) or not */
void
ovsa_store_health_state(int *breaker_open, int *durable)
{
    int  i;

    pthread_mutex_lock(&ovsa_health_mu);

    *breaker_open = 0;
    for (i = 0; i < ovsa_nbreakers; i++) {
        if (ovsa_breakers[i].state != OVSA_BREAKER_CLOSED) {
            *breaker_open = 1;
        }
    }

    *durable = !ovsa_health_require || ovsa_durable == OVSA_DURABLE_YES;

    pthread_mutex_unlock(&ovsa_health_mu);
}


int
ovsa_store_writable(ovsa_err_t *err)
{
    int  rc;

    if (!ovsa_health_require) {
        return OVSA_OK;
    }

    rc = OVSA_OK;

    pthread_mutex_lock(&ovsa_health_mu);

    if (ovsa_durable != OVSA_DURABLE_YES) {
        rc = ovsa_err_set(err, OVSA_E_STORE_NOT_DURABLE, "%s",
                          ovsa_durable_why[0] ? ovsa_durable_why
                          : "redis: persistence settings not read yet");
    }

    pthread_mutex_unlock(&ovsa_health_mu);

    return rc;
}


void
ovsa_store_not_durable(char *buf, size_t size)
{
    ovsa_err_t  err;

    if (ovsa_store_writable(&err) == OVSA_OK) {
        snprintf(buf, size, "%s", "");
    } else {
        snprintf(buf, size, "%s", err.msg);
    }
}
