/*
 * store.c: Redis access for ovsa-backend (see store.h).
 */

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>
#include <openssl/evp.h>

#include "store_int.h"
#include "ovsa_metrics.h"


#define OVSA_STORE_ARGS_MAX  64

/* from the generated lua_scripts.c */
#define OVSA_LUA_EXTERN(e, f, m) extern const unsigned char ovsa_lua_##f[];
OVSA_LUA_SCRIPTS(OVSA_LUA_EXTERN)
#undef OVSA_LUA_EXTERN

static const char  *ovsa_store_src[] = {
#define OVSA_LUA_SRC(e, f, m) (const char *) ovsa_lua_##f,
    OVSA_LUA_SCRIPTS(OVSA_LUA_SRC)
#undef OVSA_LUA_SRC
};

static const int  ovsa_store_modes[] = {
#define OVSA_LUA_MODE(e, f, m) OVSA_STORE_##m,
    OVSA_LUA_SCRIPTS(OVSA_LUA_MODE)
#undef OVSA_LUA_MODE
};

static const char  *ovsa_store_names[] = {
#define OVSA_LUA_NAME(e, f, m) #f,
    OVSA_LUA_SCRIPTS(OVSA_LUA_NAME)
#undef OVSA_LUA_NAME
};

static char                 ovsa_store_sha[OVSA_LUA__COUNT][41];
static ovsa_store_conf_t    ovsa_store_conf;
static pthread_key_t        ovsa_store_tls;

/* part B: the Sentinel generation the thread's connection was made for */
static __thread unsigned long  ovsa_store_conn_gen;

/* the connection the calling thread's last script ran on (WAIT uses it) */
static __thread redisContext  *ovsa_store_last;

/*
 * 1 when the calling thread's last failure was an answer of Redis (TRYAGAIN
 * after a slot migration, LOADING, BUSY, READONLY...): Redis is responsive,
 * so the circuit breaker, which is for stalls and lost connections, stays
 * closed.
 */
static __thread int  ovsa_store_answered;


static void
ovsa_store_tls_free(void *ctx)
{
    redisFree(ctx);
}


int
ovsa_store_init(const ovsa_store_conf_t *conf, ovsa_err_t *err)
{
    int            i, j;
    unsigned int   len;
    unsigned char  md[EVP_MAX_MD_SIZE];

    ovsa_store_conf = *conf;
    ovsa_store_health_init(conf);

    if (conf->cluster) {
        if (conf->db != 0) {
            return ovsa_err_set(err, OVSA_E_CONF_VALUE, "redis.db: must be 0 "
                                "with redis.cluster: true (a cluster has "
                                "database 0 only)");
        }
        if (ovsa_cluster_init(err) != OVSA_OK) {
            return OVSA_ERR;
        }
    }

    if (ovsa_sentinel_init(conf, err) != OVSA_OK) {
        return OVSA_ERR;
    }

    for (i = 0; i < OVSA_LUA__COUNT; i++) {
        if (EVP_Digest(ovsa_store_src[i], strlen(ovsa_store_src[i]), md,
                       &len, EVP_sha1(), NULL) != 1)
        {
            return ovsa_err_ssl(err, OVSA_E_INTERNAL, "store: sha1");
        }

        for (j = 0; j < 20; j++) {
            snprintf(&ovsa_store_sha[i][2 * j], 3, "%02x", md[j]);
        }
    }

    if (pthread_key_create(&ovsa_store_tls, ovsa_store_tls_free) != 0) {
        return ovsa_err_set(err, OVSA_E_INTERNAL, "store: pthread_key_create");
    }

    return OVSA_OK;
}


int
ovsa_store_mode(ovsa_lua_t script)
{
    return ovsa_store_modes[script];
}


const ovsa_store_conf_t *
ovsa_store_config(void)
{
    return &ovsa_store_conf;
}


const char *
ovsa_store_prefix(void)
{
    return ovsa_store_conf.prefix;
}


int
ovsa_store_key(char *buf, size_t size, const char *kind, const char *id,
    const char *sub)
{
    int  n;

    /*
     * "{id}" is the Redis Cluster hash tag: every key of one license
     * hashes to the same slot, so each script touches one slot only
     * (docs/protocol.md, "Keys")
     */
    n = snprintf(buf, size, "%s%s:{%s}%s%s", ovsa_store_conf.prefix, kind,
                 id, sub ? ":" : "", sub ? sub : "");

    return (n < 0 || (size_t) n >= size) ? OVSA_ERR : OVSA_OK;
}


int
ovsa_store_index_key(char *buf, size_t size)
{
    int  n;

    n = snprintf(buf, size, "%slicenses", ovsa_store_conf.prefix);

    return (n < 0 || (size_t) n >= size) ? OVSA_ERR : OVSA_OK;
}


/* Drops the calling thread's connection (after an I/O error). */
static void
ovsa_store_drop(void)
{
    redisContext  *c;

    c = pthread_getspecific(ovsa_store_tls);
    if (c != NULL) {
        pthread_setspecific(ovsa_store_tls, NULL);
        redisFree(c);
    }
}


/* Drops c, the connection a command failed on. */
static void
ovsa_store_forget(redisContext *c)
{
    if (ovsa_store_conf.cluster) {
        ovsa_cluster_drop(c);
    } else {
        ovsa_store_drop();
    }
}


void
ovsa_store_close(void)
{
    if (ovsa_store_conf.cluster) {
        ovsa_cluster_close();
    }
    ovsa_store_drop();
}


/* Runs one command on a fresh connection during its set-up. */
static int
ovsa_store_setup_cmd(redisContext *c, int argc, const char **argv,
    const char *what, ovsa_err_t *err)
{
    int         rc;
    redisReply *r;

    r = redisCommandArgv(c, argc, argv, NULL);
    if (r == NULL) {
        return ovsa_err_set(err, OVSA_E_TRANSPORT, "redis: %s: %s", what,
                            c->errstr);
    }

    rc = OVSA_OK;
    if (r->type == REDIS_REPLY_ERROR) {
        rc = ovsa_err_set(err, OVSA_E_TRANSPORT, "redis: %s: %.200s", what,
                          r->str);
    }

    freeReplyObject(r);

    return rc;
}


redisContext *
ovsa_store_connect(const char *a, int select, ovsa_err_t *err)
{
    char            host[256], db[16];
    const char     *colon, *argv[2];
    redisContext   *c;
    struct timeval  tv;

    tv.tv_sec = ovsa_store_conf.connect_timeout_ms / 1000;
    tv.tv_usec = (ovsa_store_conf.connect_timeout_ms % 1000) * 1000;

    if (strncmp(a, "unix:", 5) == 0) {
        c = redisConnectUnixWithTimeout(a + 5, tv);

    } else {
        colon = strrchr(a, ':');
        if (colon == NULL || (size_t) (colon - a) >= sizeof(host)) {
            ovsa_err_set(err, OVSA_E_INTERNAL, "redis: bad address \"%s\"", a);
            return NULL;
        }

        if (a[0] == '[' && colon > a + 1 && colon[-1] == ']') {
            snprintf(host, sizeof(host), "%.*s", (int) (colon - a - 2), a + 1);
        } else {
            snprintf(host, sizeof(host), "%.*s", (int) (colon - a), a);
        }

        c = redisConnectWithTimeout(host, atoi(colon + 1), tv);
    }

    if (c == NULL) {
        ovsa_err_set(err, OVSA_E_TRANSPORT, "redis: connect %s: no memory", a);
        return NULL;
    }

    if (c->err) {
        ovsa_err_set(err, OVSA_E_TRANSPORT, "redis: connect %s: %s", a,
                     c->errstr);
        redisFree(c);
        return NULL;
    }

    tv.tv_sec = ovsa_store_conf.timeout_ms / 1000;
    tv.tv_usec = (ovsa_store_conf.timeout_ms % 1000) * 1000;

    if (redisSetTimeout(c, tv) != REDIS_OK) {
        ovsa_err_set(err, OVSA_E_TRANSPORT, "redis: set timeout: %s",
                     c->errstr);
        redisFree(c);
        return NULL;
    }

    if (ovsa_store_conf.password != NULL) {
        argv[0] = "AUTH";
        argv[1] = ovsa_store_conf.password;
        if (ovsa_store_setup_cmd(c, 2, argv, "AUTH", err) != OVSA_OK) {
            redisFree(c);
            return NULL;
        }
    }

    if (select && ovsa_store_conf.db != 0) {
        snprintf(db, sizeof(db), "%d", ovsa_store_conf.db);
        argv[0] = "SELECT";
        argv[1] = db;
        if (ovsa_store_setup_cmd(c, 2, argv, "SELECT", err) != OVSA_OK) {
            redisFree(c);
            return NULL;
        }
    }

    return c;
}


/*
 * Returns the calling thread's connection, connecting when needed; *fresh
 * says whether it was just made.
 */
static redisContext *
ovsa_store_conn(int *fresh, ovsa_err_t *err)
{
    int             port;
    char            host[256], addr[300];
    const char     *a;
    redisContext   *c;
    unsigned long   gen;

    *fresh = 0;
    c = pthread_getspecific(ovsa_store_tls);

    /* part B: another thread learned of a new master: move to it */
    if (c != NULL && ovsa_sentinel_enabled()
        && ovsa_store_conn_gen != ovsa_sentinel_gen())
    {
        ovsa_store_drop();
        c = NULL;
    }

    if (c != NULL) {
        return c;
    }

    a = ovsa_store_conf.address;
    gen = 0;

    if (ovsa_sentinel_enabled()) {
        /* part B: the master the sentinels name now */
        if (ovsa_sentinel_master(host, sizeof(host), &port, &gen, err)
            != OVSA_OK)
        {
            return NULL;
        }

        snprintf(addr, sizeof(addr), "%s:%d", host, port);
        a = addr;
    }

    c = ovsa_store_connect(a, 1, err);
    if (c == NULL) {
        if (gen != 0 && err->code == OVSA_E_TRANSPORT) {
            ovsa_sentinel_stale(gen);
        }
        return NULL;
    }

    /* part B: never write to a replica the sentinels were wrong about */
    if (gen != 0 && ovsa_sentinel_check_role(c, a, gen, err) != OVSA_OK) {
        redisFree(c);
        return NULL;
    }

    ovsa_store_conn_gen = gen;
    *fresh = 1;
    pthread_setspecific(ovsa_store_tls, c);

    return c;
}


/* Returns 1 for error replies that mean "Redis cannot serve right now". */
static int
ovsa_store_unavailable(const char *msg)
{
    static const char  *busy[] = {
        "LOADING", "BUSY", "MASTERDOWN", "READONLY", "OOM", "NOAUTH",
        "MISCONF", "CLUSTERDOWN", "TRYAGAIN", NULL
    };

    int  i;

    for (i = 0; busy[i] != NULL; i++) {
        if (strncmp(msg, busy[i], strlen(busy[i])) == 0) {
            return 1;
        }
    }

    return 0;
}


int
ovsa_store_load_one(redisContext *c, int i, ovsa_err_t *err)
{
    int          rc;
    const char  *argv[3];
    redisReply  *r;

    argv[0] = "SCRIPT";
    argv[1] = "LOAD";
    argv[2] = ovsa_store_src[i];

    r = redisCommandArgv(c, 3, argv, NULL);
    if (r == NULL) {
        return ovsa_err_set(err, OVSA_E_TRANSPORT, "redis: SCRIPT LOAD: %s",
                            c->errstr);
    }

    rc = OVSA_OK;

    if (r->type == REDIS_REPLY_ERROR) {
        rc = ovsa_err_set(err, ovsa_store_unavailable(r->str)
                               ? OVSA_E_TRANSPORT : OVSA_E_INTERNAL,
                          "redis: SCRIPT LOAD %s.lua: %.300s",
                          ovsa_store_names[i], r->str);

    } else if (r->type != REDIS_REPLY_STRING
               || strcmp(r->str, ovsa_store_sha[i]) != 0)
    {
        rc = ovsa_err_set(err, OVSA_E_INTERNAL,
                          "redis: SCRIPT LOAD %s.lua: unexpected answer",
                          ovsa_store_names[i]);
    }

    freeReplyObject(r);

    return rc;
}


int
ovsa_store_load_scripts(ovsa_err_t *err)
{
    int            i, fresh;
    redisContext  *c;

    if (ovsa_store_conf.cluster) {
        return ovsa_cluster_load_scripts(err);
    }

    c = ovsa_store_conn(&fresh, err);
    if (c == NULL) {
        return OVSA_ERR;
    }

    for (i = 0; i < OVSA_LUA__COUNT; i++) {
        if (ovsa_store_load_one(c, i, err) != OVSA_OK) {
            if (err->code == OVSA_E_TRANSPORT) {
                ovsa_store_drop();
            }
            return OVSA_ERR;
        }
    }

    return OVSA_OK;
}


/*
 * Writes the address c is connected to ("unix:/path" or "host:port": the
 * master the sentinels named, or a cluster node) for log lines and
 * answers.  Returns buf.
 */
static const char *
ovsa_store_addr(const redisContext *c, char *buf, size_t size)
{
    if (c->connection_type == REDIS_CONN_UNIX) {
        snprintf(buf, size, "unix:%s", c->unix_sock.path);
    } else {
        snprintf(buf, size, "%s:%d", c->tcp.host, c->tcp.port);
    }

    return buf;
}


/*
 * 16c: the Redis round trip of each script (metrics.c reads them):
 * relaxed atomic adds, no lock.  Sized by the script list itself: sized
 * by its last entry once, the scripts added after it wrote past the end.
 */
static uint64_t  ovsa_store_rtt[OVSA_LUA__COUNT][OVSA_METRICS_NBUCKETS + 1];
static uint64_t  ovsa_store_rtt_sum[OVSA_LUA__COUNT];
static uint64_t  ovsa_store_rtt_err[OVSA_LUA__COUNT];


static void
ovsa_store_rtt_count(ovsa_lua_t script, uint64_t us, int ok)
{
    __atomic_fetch_add(&ovsa_store_rtt[script][ovsa_metrics_bucket(us)], 1,
                       __ATOMIC_RELAXED);
    __atomic_fetch_add(&ovsa_store_rtt_sum[script], us, __ATOMIC_RELAXED);

    if (!ok) {
        __atomic_fetch_add(&ovsa_store_rtt_err[script], 1, __ATOMIC_RELAXED);
    }
}


void
ovsa_store_rtt_get(ovsa_lua_t script, uint64_t *counts, uint64_t *sum_us,
    uint64_t *errors)
{
    int  i;

    for (i = 0; i <= OVSA_METRICS_NBUCKETS; i++) {
        counts[i] = __atomic_load_n(&ovsa_store_rtt[script][i],
                                    __ATOMIC_RELAXED);
    }

    *sum_us = __atomic_load_n(&ovsa_store_rtt_sum[script], __ATOMIC_RELAXED);
    *errors = __atomic_load_n(&ovsa_store_rtt_err[script], __ATOMIC_RELAXED);
}


/* ovsa_store_eval() inside the circuit breaker; probe: see admit(). */
static int
ovsa_store_eval_run(ovsa_lua_t script, int nkeys, const char **keys,
    int nargs, const char **args, int probe, char **out, ovsa_err_t *err)
{
    int                    i, argc, rc, fresh, reconnected, stale, redirect,
                           gated, readonly;
    char                   nk[16], akey[600];
    size_t                 plen;
    uint64_t               t0;
    const char            *argv[OVSA_STORE_ARGS_MAX];
    redisReply            *r;
    char                   addr[300];
    redisContext          *c, *loaded;
    ovsa_cluster_route_t   rt = OVSA_CLUSTER_ROUTE_INIT;

    *out = NULL;
    r = NULL;
    ovsa_store_last = NULL;

    if (3 + nkeys + 1 + nargs + 1 > OVSA_STORE_ARGS_MAX) {
        return ovsa_err_set(err, OVSA_E_INTERNAL, "store: too many args");
    }

    /* 16d: the license's audit list as the last key (store.h) */
    akey[0] = '\0';
    if (ovsa_store_conf.audit && ovsa_store_modes[script] != OVSA_STORE_RO
        && nkeys > 0)
    {
        plen = strlen(ovsa_store_conf.prefix);
        if (strncmp(keys[0], ovsa_store_conf.prefix, plen) == 0
            && strncmp(keys[0] + plen, "lic:{", 5) == 0
            && (size_t) snprintf(akey, sizeof(akey), "%saudit:%s",
                                 ovsa_store_conf.prefix, keys[0] + plen + 4)
               >= sizeof(akey))
        {
            return ovsa_err_set(err, OVSA_E_INTERNAL, "store: key too long");
        }
    }

    snprintf(nk, sizeof(nk), "%d", nkeys + (akey[0] != '\0'));
    argc = 0;
    argv[argc++] = "EVALSHA";
    argv[argc++] = ovsa_store_sha[script];
    argv[argc++] = nk;
    for (i = 0; i < nkeys; i++) {
        argv[argc++] = keys[i];
    }
    if (akey[0] != '\0') {
        argv[argc++] = akey;
    }
    for (i = 0; i < nargs; i++) {
        argv[argc++] = args[i];
    }

    /*
     * At most one retry for each of: a stale connection (Redis restarted
     * since this thread last used it: EOF or reset before any answer, so
     * the script did not run) and NOSCRIPT (script cache empty; once per
     * node on a cluster), and READONLY after a failover (part B).  A
     * timeout is never retried: the script may have run.  On a cluster,
     * ovsa_cluster_redirect() bounds the retries after MOVED, ASK and
     * TRYAGAIN.
     */
    reconnected = 0;
    loaded = NULL;
    gated = 0;
    readonly = 0;

    for ( ;; ) {
        /* ---- part C: the node of keys[0]'s slot on a cluster */
        if (ovsa_store_conf.cluster) {
            c = ovsa_cluster_conn(&rt, nkeys > 0 ? keys[0] : "", &fresh,
                                  err);
        } else {
            c = ovsa_store_conn(&fresh, err);
        }
        /* ---- */

        if (c == NULL) {
            return OVSA_ERR;
        }

        /* ---- part A: durability (store_health.c), then the write gate */
        errno = 0;
        if (ovsa_store_health_check(c, ovsa_store_addr(c, addr, sizeof(addr)),
                                    fresh || probe, err) != OVSA_OK)
        {
            stale = (c->err == REDIS_ERR_EOF || errno == ECONNRESET
                     || errno == EPIPE);
            ovsa_store_forget(c);

            if (stale && !fresh && !reconnected) {
                reconnected = 1;
                loaded = NULL;
                continue;
            }

            return OVSA_ERR;
        }
        probe = 0;

        if (!gated) {
            gated = 1;
            if (ovsa_store_modes[script] == OVSA_STORE_RW
                && ovsa_store_writable(err) != OVSA_OK)
            {
                return OVSA_ERR;
            }
            if (ovsa_store_modes[script] == OVSA_STORE_SPEND) {
                argv[argc++] = ovsa_store_writable(NULL) == OVSA_OK
                               ? "1" : "0";
            }
        }
        /* ---- */

        errno = 0;
        t0 = ovsa_metrics_now_us();
        r = redisCommandArgv(c, argc, argv, NULL);
        ovsa_store_rtt_count(script, ovsa_metrics_now_us() - t0, r != NULL);
        if (r == NULL) {
            stale = (c->err == REDIS_ERR_EOF || errno == ECONNRESET
                     || errno == EPIPE);
            ovsa_err_set(err, OVSA_E_TRANSPORT, "redis: EVALSHA %s: %s",
                         ovsa_store_names[script], c->errstr);
            ovsa_store_forget(c);

            /* part B: the master may be gone: ask the sentinels again */
            if (ovsa_sentinel_enabled()) {
                ovsa_sentinel_stale(ovsa_store_conn_gen);
            }

            if (stale && !fresh && !reconnected) {
                reconnected = 1;
                loaded = NULL;          /* a new connection, maybe a new Redis */
                continue;
            }

            return OVSA_ERR;
        }

        if (r->type == REDIS_REPLY_ERROR && c != loaded
            && strncmp(r->str, "NOSCRIPT", 8) == 0)
        {
            /* load on the node that answered (a cluster has several) */
            freeReplyObject(r);
            r = NULL;
            loaded = c;
            if (ovsa_store_load_one(c, script, err) != OVSA_OK) {
                if (err->code == OVSA_E_TRANSPORT) {
                    ovsa_store_forget(c);
                }
                return OVSA_ERR;
            }
            continue;
        }

        /* ---- part C: MOVED, ASK, TRYAGAIN: the script did not run */
        if (ovsa_store_conf.cluster) {
            redirect = ovsa_cluster_redirect(&rt, r, err);
            if (redirect != 0) {
                freeReplyObject(r);
                r = NULL;
                if (redirect == -1) {
                    ovsa_store_answered = 1;
                    return OVSA_ERR;
                }
                continue;
            }
        }
        /* ---- */

        /*
         * Part B: READONLY means the server was demoted to a replica
         * (failover) since this connection was made.  Retrying the script
         * on the new master is safe because nothing was written: on a
         * read-only replica every write command of a script is refused,
         * the first refusal aborts the script, and Lua scripts write
         * nothing before their first write command; the reads it made
         * changed nothing.  Once only.
         */
        if (r->type == REDIS_REPLY_ERROR && ovsa_sentinel_enabled()
            && ovsa_sentinel_readonly(r->str))
        {
            ovsa_err_set(err, OVSA_E_TRANSPORT, "redis: %s.lua: %.300s",
                         ovsa_store_names[script], r->str);
            freeReplyObject(r);
            r = NULL;
            ovsa_sentinel_stale(ovsa_store_conn_gen);
            ovsa_store_forget(c);

            if (readonly) {
                ovsa_store_answered = 1;
                return OVSA_ERR;
            }

            readonly = 1;
            loaded = NULL;
            continue;
        }

        break;
    }

    ovsa_store_last = c;

    rc = OVSA_OK;

    if (r->type == REDIS_REPLY_ERROR) {
        ovsa_store_answered = 1;
        rc = ovsa_err_set(err, ovsa_store_unavailable(r->str)
                               ? OVSA_E_TRANSPORT : OVSA_E_INTERNAL,
                          "redis: %s.lua: %.300s",
                          ovsa_store_names[script], r->str);

    } else if (r->type != REDIS_REPLY_STRING) {
        rc = ovsa_err_set(err, OVSA_E_INTERNAL,
                          "redis: %s.lua: answer is not a string",
                          ovsa_store_names[script]);

    } else {
        *out = strndup(r->str, r->len);
        if (*out == NULL) {
            rc = ovsa_err_set(err, OVSA_E_NOMEM, "redis: %s.lua: no memory",
                              ovsa_store_names[script]);
        }
    }

    freeReplyObject(r);

    return rc;
}


int
ovsa_store_eval(ovsa_lua_t script, int nkeys, const char **keys,
    int nargs, const char **args, char **out, ovsa_err_t *err)
{
    int  rc, probe;

    /* part A: the circuit breaker of the server (store_health.c) */
    if (ovsa_store_breaker_admit(ovsa_store_conf.address, &probe, err)
        != OVSA_OK)
    {
        *out = NULL;
        return OVSA_ERR;
    }

    ovsa_store_answered = 0;
    rc = ovsa_store_eval_run(script, nkeys, keys, nargs, args, probe, out,
                             err);

    ovsa_store_breaker_report(ovsa_store_conf.address,
                              rc == OVSA_OK || err->code != OVSA_E_TRANSPORT
                              || ovsa_store_answered,
                              err);

    return rc;
}


/* ---- part B: WAIT for replica acknowledgements */

int
ovsa_store_min_replicas_ack(void)
{
    return ovsa_store_conf.min_replicas_ack;
}


int
ovsa_store_replicas_ack_timeout(void)
{
    return ovsa_store_conf.replicas_ack_timeout_ms;
}


int
ovsa_store_replicas_ack(int wrote, int *acked, ovsa_err_t *err)
{
    int             rc, ms;
    char            n[16], t[16];
    const char     *argv[3];
    redisReply     *r;
    redisContext   *c;
    struct timeval  tv;

    *acked = 0;

    if (!wrote || ovsa_store_conf.min_replicas_ack == 0) {
        return OVSA_OK;
    }

    /* the connection that ran the script: WAIT counts its own writes */
    c = ovsa_store_last;
    if (c == NULL) {
        return ovsa_err_set(err, OVSA_E_TRANSPORT,
                            "redis: WAIT: the connection is gone");
    }

    snprintf(n, sizeof(n), "%d", ovsa_store_conf.min_replicas_ack);
    snprintf(t, sizeof(t), "%d", ovsa_store_conf.replicas_ack_timeout_ms);
    argv[0] = "WAIT";
    argv[1] = n;
    argv[2] = t;

    /* WAIT blocks up to its own timeout: give the socket that much more */
    ms = ovsa_store_conf.timeout_ms + ovsa_store_conf.replicas_ack_timeout_ms;
    tv.tv_sec = ms / 1000;
    tv.tv_usec = (ms % 1000) * 1000;
    redisSetTimeout(c, tv);

    r = redisCommandArgv(c, 3, argv, NULL);
    if (r == NULL) {
        ovsa_err_set(err, OVSA_E_TRANSPORT, "redis: WAIT: %s", c->errstr);
        ovsa_store_last = NULL;
        ovsa_store_forget(c);
        if (ovsa_sentinel_enabled()) {
            ovsa_sentinel_stale(ovsa_store_conn_gen);
        }
        return OVSA_ERR;
    }

    tv.tv_sec = ovsa_store_conf.timeout_ms / 1000;
    tv.tv_usec = (ovsa_store_conf.timeout_ms % 1000) * 1000;
    redisSetTimeout(c, tv);

    if (r->type == REDIS_REPLY_INTEGER) {
        *acked = (int) r->integer;
        rc = (r->integer >= ovsa_store_conf.min_replicas_ack)
             ? OVSA_OK
             : ovsa_err_set(err, OVSA_E_REPLICA_ACK, "redis: WAIT: "
                            "acknowledged by %lld of %d replicas within "
                            "%d ms", r->integer,
                            ovsa_store_conf.min_replicas_ack,
                            ovsa_store_conf.replicas_ack_timeout_ms);

    } else {
        rc = ovsa_err_set(err, OVSA_E_TRANSPORT, "redis: WAIT: %.200s",
                          r->type == REDIS_REPLY_ERROR ? r->str
                                                       : "unexpected answer");
    }

    freeReplyObject(r);

    return rc;
}
