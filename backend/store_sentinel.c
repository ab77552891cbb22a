/*
 * store_sentinel.c: finding the Redis master through Redis Sentinel and
 * following a failover without a restart (part B of issue 11; see
 * store_int.h and docs/configuration.md, "Replicated setup with
 * Sentinel").
 *
 * One process-wide record says which server is the master now: its
 * address, a generation that changes when the address changes, and
 * whether it is still believed.  store.c asks it for the address when a
 * thread connects, confirms the new connection with ROLE, and marks the
 * record stale on an I/O error, a READONLY answer or a ROLE that is not
 * master.  The next thread that needs the master asks the sentinels
 * again (one thread at a time, under the lock); every other thread sees
 * the new generation and reconnects, so all threads move to the new
 * master.  Nothing here writes to Redis.
 */

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>

#include "store_int.h"


/* after the sentinels named no master, fail fast for this long */
#define OVSA_SENTINEL_RETRY_MS  100

/*
 * While the master answers, the sentinels are still asked this often (by
 * one request thread, without holding up the others): a master cut off
 * from the sentinels that keeps serving is left within a second.
 */
#define OVSA_SENTINEL_CHECK_MS  1000

typedef struct {
    pthread_mutex_t     lock;
    char *const        *sentinels;
    const char         *master_name;
    const char         *password;
    int                 timeout_ms;

    char                host[256];   /* the master, when known */
    int                 port;
    int                 valid;       /* host:port believed to be master */
    unsigned long       gen;         /* written under lock, read atomic */
    long long           failed_at;   /* ms, last fruitless round */
    long long           checked_at;  /* ms, last periodic check (atomic) */
    int                 checking;    /* a thread checks now (atomic) */
} ovsa_sentinel_t;

static ovsa_sentinel_t  ovsa_sentinel = {
    .lock = PTHREAD_MUTEX_INITIALIZER
};


static long long
ovsa_sentinel_now_ms(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


/* Splits "host:port" or "[v6]:port".  Returns OVSA_OK or OVSA_ERR. */
static int
ovsa_sentinel_split(const char *a, char *host, size_t size, int *port)
{
    const char  *colon;

    colon = strrchr(a, ':');
    if (colon == NULL || (size_t) (colon - a) >= size) {
        return OVSA_ERR;
    }

    if (a[0] == '[' && colon > a + 1 && colon[-1] == ']') {
        snprintf(host, size, "%.*s", (int) (colon - a - 2), a + 1);
    } else {
        snprintf(host, size, "%.*s", (int) (colon - a), a);
    }

    *port = atoi(colon + 1);

    return (*port > 0 && *port < 65536) ? OVSA_OK : OVSA_ERR;
}


static redisContext *
ovsa_sentinel_connect(const char *host, int port, char *why, size_t size)
{
    redisContext   *c;
    struct timeval  tv;

    tv.tv_sec = ovsa_sentinel.timeout_ms / 1000;
    tv.tv_usec = (ovsa_sentinel.timeout_ms % 1000) * 1000;

    c = redisConnectWithTimeout(host, port, tv);
    if (c == NULL) {
        snprintf(why, size, "%s:%d: no memory", host, port);
        return NULL;
    }

    if (c->err || redisSetTimeout(c, tv) != REDIS_OK) {
        snprintf(why, size, "%s:%d: %s", host, port, c->errstr);
        redisFree(c);
        return NULL;
    }

    return c;
}


/*
 * Returns 1 when ROLE on c says "master", 0 when it says something else
 * (written to role), -1 on an error (written to why).
 */
static int
ovsa_sentinel_role(redisContext *c, char *role, size_t rsize, char *why,
    size_t size)
{
    int          rc;
    redisReply  *r;

    r = redisCommand(c, "ROLE");
    if (r == NULL) {
        snprintf(why, size, "ROLE: %s", c->errstr);
        return -1;
    }

    rc = -1;

    if (r->type == REDIS_REPLY_ARRAY && r->elements >= 1
        && r->element[0]->type == REDIS_REPLY_STRING)
    {
        rc = strcmp(r->element[0]->str, "master") == 0;
        snprintf(role, rsize, "%s", r->element[0]->str);

    } else if (r->type == REDIS_REPLY_ERROR) {
        snprintf(why, size, "ROLE: %.200s", r->str);

    } else {
        snprintf(why, size, "ROLE: unexpected answer");
    }

    freeReplyObject(r);

    return rc;
}


/*
 * Asks one sentinel for the master and checks its ROLE.  Returns OVSA_OK
 * with host and port set, or OVSA_ERR with why.
 */
static int
ovsa_sentinel_ask(const char *sentinel, char *host, size_t hsize, int *port,
    char *why, size_t size)
{
    int            rc, p;
    char           shost[256], role[32];
    redisReply    *r;
    redisContext  *c;

    if (ovsa_sentinel_split(sentinel, shost, sizeof(shost), &p) != OVSA_OK) {
        snprintf(why, size, "bad address \"%s\"", sentinel);
        return OVSA_ERR;
    }

    c = ovsa_sentinel_connect(shost, p, why, size);
    if (c == NULL) {
        return OVSA_ERR;
    }

    r = redisCommand(c, "SENTINEL get-master-addr-by-name %s",
                     ovsa_sentinel.master_name);
    if (r == NULL) {
        snprintf(why, size, "%s: %s", sentinel, c->errstr);
        redisFree(c);
        return OVSA_ERR;
    }

    rc = OVSA_ERR;

    if (r->type == REDIS_REPLY_ARRAY && r->elements == 2
        && r->element[0]->type == REDIS_REPLY_STRING
        && r->element[1]->type == REDIS_REPLY_STRING
        && r->element[0]->len < hsize)
    {
        snprintf(host, hsize, "%s", r->element[0]->str);
        *port = atoi(r->element[1]->str);
        rc = (*port > 0 && *port < 65536) ? OVSA_OK : OVSA_ERR;
        if (rc != OVSA_OK) {
            snprintf(why, size, "%s: bad port \"%.20s\"", sentinel,
                     r->element[1]->str);
        }

    } else if (r->type == REDIS_REPLY_NIL) {
        snprintf(why, size, "%s: no master named \"%s\"", sentinel,
                 ovsa_sentinel.master_name);

    } else if (r->type == REDIS_REPLY_ERROR) {
        snprintf(why, size, "%s: %.200s", sentinel, r->str);

    } else {
        snprintf(why, size, "%s: unexpected answer", sentinel);
    }

    freeReplyObject(r);
    redisFree(c);

    if (rc != OVSA_OK) {
        return OVSA_ERR;
    }

    /* the sentinel may be behind (partitioned, or before its failover) */

    c = ovsa_sentinel_connect(host, *port, why, size);
    if (c == NULL) {
        return OVSA_ERR;
    }

    if (ovsa_sentinel.password != NULL) {
        r = redisCommand(c, "AUTH %s", ovsa_sentinel.password);
        if (r == NULL || r->type == REDIS_REPLY_ERROR) {
            snprintf(why, size, "%s:%d: AUTH: %.200s", host, *port,
                     r ? r->str : c->errstr);
            freeReplyObject(r);
            redisFree(c);
            return OVSA_ERR;
        }
        freeReplyObject(r);
    }

    role[0] = '\0';
    switch (ovsa_sentinel_role(c, role, sizeof(role), why, size)) {

    case 1:
        rc = OVSA_OK;
        break;

    case 0:
        snprintf(why, size, "%s named %s:%d, whose ROLE is %s", sentinel,
                 host, *port, role);
        rc = OVSA_ERR;
        break;

    default:
        rc = OVSA_ERR;
        break;
    }

    redisFree(c);

    return rc;
}


int
ovsa_sentinel_init(const ovsa_store_conf_t *conf, ovsa_err_t *err)
{
    ovsa_sentinel.sentinels = conf->sentinels;
    ovsa_sentinel.master_name = conf->master_name;
    ovsa_sentinel.password = conf->password;
    ovsa_sentinel.timeout_ms = conf->timeout_ms;
    ovsa_sentinel.valid = 0;
    ovsa_sentinel.gen = 1;

    if (conf->sentinels != NULL
        && (conf->sentinels[0] == NULL || conf->master_name == NULL))
    {
        return ovsa_err_set(err, OVSA_E_INTERNAL,
                            "store: sentinels without master_name");
    }

    return OVSA_OK;
}


int
ovsa_sentinel_enabled(void)
{
    return ovsa_sentinel.sentinels != NULL;
}


/*
 * The periodic check: asks the sentinels without the lock and moves to
 * the master they name when it differs and its ROLE is master.  An
 * unreachable sentinel changes nothing (the master still answers).
 */
static void
ovsa_sentinel_check(void)
{
    int           p;
    char          h[256], why[400];
    char *const  *s;

    for (s = ovsa_sentinel.sentinels; *s != NULL; s++) {
        if (ovsa_sentinel_ask(*s, h, sizeof(h), &p, why, sizeof(why))
            != OVSA_OK)
        {
            continue;
        }

        pthread_mutex_lock(&ovsa_sentinel.lock);

        if (ovsa_sentinel.valid
            && (strcmp(h, ovsa_sentinel.host) != 0
                || p != ovsa_sentinel.port))
        {
            snprintf(ovsa_sentinel.host, sizeof(ovsa_sentinel.host), "%s",
                     h);
            ovsa_sentinel.port = p;
            __atomic_add_fetch(&ovsa_sentinel.gen, 1, __ATOMIC_RELEASE);
        }

        pthread_mutex_unlock(&ovsa_sentinel.lock);
        return;
    }
}


unsigned long
ovsa_sentinel_gen(void)
{
    long long  now;

    now = ovsa_sentinel_now_ms();

    if (now - __atomic_load_n(&ovsa_sentinel.checked_at, __ATOMIC_RELAXED)
        >= OVSA_SENTINEL_CHECK_MS
        && !__atomic_exchange_n(&ovsa_sentinel.checking, 1, __ATOMIC_ACQUIRE))
    {
        __atomic_store_n(&ovsa_sentinel.checked_at, now, __ATOMIC_RELAXED);
        ovsa_sentinel_check();
        __atomic_store_n(&ovsa_sentinel.checking, 0, __ATOMIC_RELEASE);
    }

    return __atomic_load_n(&ovsa_sentinel.gen, __ATOMIC_ACQUIRE);
}


int
ovsa_sentinel_master(char *host, size_t size, int *port, unsigned long *gen,
    ovsa_err_t *err)
{
    int           p, rc;
    char          h[256], why[400];
    char *const  *s;
    long long     now;

    pthread_mutex_lock(&ovsa_sentinel.lock);

    if (ovsa_sentinel.valid) {
        goto found;
    }

    now = ovsa_sentinel_now_ms();
    if (ovsa_sentinel.failed_at != 0
        && now - ovsa_sentinel.failed_at < OVSA_SENTINEL_RETRY_MS)
    {
        pthread_mutex_unlock(&ovsa_sentinel.lock);
        return ovsa_err_set(err, OVSA_E_TRANSPORT,
                            "redis: sentinel: no master \"%s\" known "
                            "(asked %lld ms ago)", ovsa_sentinel.master_name,
                            now - ovsa_sentinel.failed_at);
    }

    why[0] = '\0';
    rc = OVSA_ERR;

    for (s = ovsa_sentinel.sentinels; *s != NULL; s++) {
        if (ovsa_sentinel_ask(*s, h, sizeof(h), &p, why, sizeof(why))
            == OVSA_OK)
        {
            rc = OVSA_OK;
            break;
        }
    }

    if (rc != OVSA_OK) {
        ovsa_sentinel.failed_at = ovsa_sentinel_now_ms();
        pthread_mutex_unlock(&ovsa_sentinel.lock);
        return ovsa_err_set(err, OVSA_E_TRANSPORT,
                            "redis: sentinel: no sentinel named a master "
                            "\"%s\" (last: %s)", ovsa_sentinel.master_name,
                            why);
    }

    if (strcmp(h, ovsa_sentinel.host) != 0 || p != ovsa_sentinel.port) {
        snprintf(ovsa_sentinel.host, sizeof(ovsa_sentinel.host), "%s", h);
        ovsa_sentinel.port = p;
        __atomic_add_fetch(&ovsa_sentinel.gen, 1, __ATOMIC_RELEASE);
    }

    ovsa_sentinel.valid = 1;
    ovsa_sentinel.failed_at = 0;
    __atomic_store_n(&ovsa_sentinel.checked_at, ovsa_sentinel_now_ms(),
                     __ATOMIC_RELAXED);

found:

    if (strlen(ovsa_sentinel.host) >= size) {
        pthread_mutex_unlock(&ovsa_sentinel.lock);
        return ovsa_err_set(err, OVSA_E_INTERNAL, "redis: sentinel: host "
                            "name too long");
    }

    memcpy(host, ovsa_sentinel.host, strlen(ovsa_sentinel.host) + 1);
    *port = ovsa_sentinel.port;
    *gen = ovsa_sentinel.gen;

    pthread_mutex_unlock(&ovsa_sentinel.lock);

    return OVSA_OK;
}


void
ovsa_sentinel_stale(unsigned long gen)
{
    pthread_mutex_lock(&ovsa_sentinel.lock);

    if (gen == ovsa_sentinel.gen) {
        ovsa_sentinel.valid = 0;
    }

    pthread_mutex_unlock(&ovsa_sentinel.lock);
}


int
ovsa_sentinel_check_role(redisContext *c, const char *addr,
    unsigned long gen, ovsa_err_t *err)
{
    char  role[32], why[300];

    role[0] = '\0';

    switch (ovsa_sentinel_role(c, role, sizeof(role), why, sizeof(why))) {

    case 1:
        return OVSA_OK;

    case 0:
        ovsa_sentinel_stale(gen);
        return ovsa_err_set(err, OVSA_E_TRANSPORT,
                            "redis: %s is a %s, not the master: not writing "
                            "to it, asking the sentinels again", addr, role);

    default:
        ovsa_sentinel_stale(gen);
        return ovsa_err_set(err, OVSA_E_TRANSPORT, "redis: %s: %s", addr,
                            why);
    }
}


int
ovsa_sentinel_readonly(const char *msg)
{
    /*
     * The error of a write refused on a replica, as a command's answer
     * ("READONLY You can't write against a read only replica.") or
     * inside a script's error.
     */
    return strncmp(msg, "READONLY", 8) == 0
           || strstr(msg, "-READONLY") != NULL
           || strstr(msg, "read only replica") != NULL;
}
