/*
 * store_cluster.c: the backend on a Redis Cluster (redis.cluster: true;
 * redis.address is then one seed node).  Debian ships no C cluster
 * client, so this is the small part of one that ovsa needs, on hiredis:
 *
 * - the key slot: CRC16 (XMODEM) of the key, or of its hash tag, mod
 *   16384, as the Redis Cluster specification defines it
 *   (https://redis.io/docs/reference/cluster-spec/, "Keys distribution
 *   model" and "Hash tags"; its Appendix A gives the CRC16 used here).
 *   Every key of one license carries the tag "{<license id>}" (store.c
 *   ovsa_store_key), so every script touches exactly one slot;
 * - the slot map from CLUSTER SLOTS, per thread, read on first use, after
 *   a MOVED and after a node connection failed;
 * - one connection per node per thread (no locks: the HTTP threads share
 *   nothing here);
 * - MOVED: map updated and read again, command retried at the named node;
 *   ASK: ASKING then the command at the named node, map unchanged;
 *   TRYAGAIN (keys of the slot split between two nodes during a
 *   migration): bounded retries with a short backoff; CLUSTERDOWN: no
 *   retry, store.c answers STORE_UNAVAILABLE.
 *
 * Retrying after MOVED, ASK or TRYAGAIN is safe: a cluster node decides
 * where a command's keys live before it runs the command (the key
 * routing check of processCommand), and answers these errors instead of
 * running it.  The script did not run, nothing was written, so running
 * it at the right node cannot apply a change twice.
 */

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store_int.h"

#define OVSA_CLUSTER_SLOTS       16384
#define OVSA_CLUSTER_NODES_MAX   128      /* masters and ex-masters seen */
#define OVSA_CLUSTER_NONE        0xff
#define OVSA_CLUSTER_ADDR_MAX    272      /* host (255) + ":" + port */
#define OVSA_CLUSTER_REDIRECTS   5        /* MOVED + ASK per command */
#define OVSA_CLUSTER_TRYAGAIN    20       /* TRYAGAIN retries per command */

typedef struct {
    char           addr[OVSA_CLUSTER_ADDR_MAX];   /* "host:port" */
    redisContext  *c;
} ovsa_cluster_node_t;

typedef struct {
    int                  nnodes;
    int                  mapped;    /* slot[] holds a map read from a node */
    ovsa_cluster_node_t  nodes[OVSA_CLUSTER_NODES_MAX];
    unsigned char        slot[OVSA_CLUSTER_SLOTS];    /* node index */
} ovsa_cluster_tls_t;

static pthread_key_t  ovsa_cluster_key;


/*
 * CRC16-CCITT, XMODEM variant (polynomial 0x1021, initial value 0, no
 * reflection, no final xor): the Redis Cluster spec's Appendix A;
 * crc16("123456789") = 0x31c3.
 */
uint16_t
ovsa_cluster_crc16(const char *buf, size_t len)
{
    int       i;
    size_t    n;
    uint16_t  crc;

    crc = 0;

    for (n = 0; n < len; n++) {
        crc ^= (uint16_t) ((unsigned char) buf[n] << 8);
        for (i = 0; i < 8; i++) {
            crc = (crc & 0x8000) ? (uint16_t) ((crc << 1) ^ 0x1021)
                                 : (uint16_t) (crc << 1);
        }
    }

    return crc;
}


/*
 * The spec's HASH_SLOT: when the key has a "{" followed later by a "}"
 * with at least one character between them, only what lies between the
 * first "{" and the first "}" after it is hashed.
 */
unsigned
ovsa_cluster_keyslot(const char *key, size_t len)
{
    size_t  s, e;

    for (s = 0; s < len && key[s] != '{'; s++) {
        /* void */
    }

    if (s < len) {
        for (e = s + 1; e < len && key[e] != '}'; e++) {
            /* void */
        }

        if (e < len && e != s + 1) {
            return ovsa_cluster_crc16(key + s + 1, e - s - 1)
                   & (OVSA_CLUSTER_SLOTS - 1);
        }
    }

    return ovsa_cluster_crc16(key, len) & (OVSA_CLUSTER_SLOTS - 1);
}


static void
ovsa_cluster_tls_free(void *arg)
{
    int                  i;
    ovsa_cluster_tls_t  *t = arg;

    for (i = 0; i < t->nnodes; i++) {
        if (t->nodes[i].c != NULL) {
            redisFree(t->nodes[i].c);
        }
    }

    free(t);
}


int
ovsa_cluster_init(ovsa_err_t *err)
{
    if (pthread_key_create(&ovsa_cluster_key, ovsa_cluster_tls_free) != 0) {
        return ovsa_err_set(err, OVSA_E_INTERNAL,
                            "store: cluster: pthread_key_create");
    }

    return OVSA_OK;
}


static ovsa_cluster_tls_t *
ovsa_cluster_tls(ovsa_err_t *err)
{
    ovsa_cluster_tls_t  *t;

    t = pthread_getspecific(ovsa_cluster_key);
    if (t != NULL) {
        return t;
    }

    t = calloc(1, sizeof(ovsa_cluster_tls_t));
    if (t == NULL) {
        ovsa_err_set(err, OVSA_E_NOMEM, "store: cluster: no memory");
        return NULL;
    }

    memset(t->slot, OVSA_CLUSTER_NONE, sizeof(t->slot));
    pthread_setspecific(ovsa_cluster_key, t);

    return t;
}


/*
 * The index of the node "host:port" (len bytes of addr), added when new.
 * Returns -1 with err set when the table is full or addr too long.
 */
static int
ovsa_cluster_node(ovsa_cluster_tls_t *t, const char *addr, size_t len,
    ovsa_err_t *err)
{
    int  i;

    if (len == 0 || len >= OVSA_CLUSTER_ADDR_MAX) {
        ovsa_err_set(err, OVSA_E_TRANSPORT,
                     "redis: cluster: bad node address \"%.*s\"",
                     (int) (len > 64 ? 64 : len), addr);
        return -1;
    }

    for (i = 0; i < t->nnodes; i++) {
        if (strlen(t->nodes[i].addr) == len
            && memcmp(t->nodes[i].addr, addr, len) == 0)
        {
            return i;
        }
    }

    if (t->nnodes == OVSA_CLUSTER_NODES_MAX
        || t->nnodes == OVSA_CLUSTER_NONE)
    {
        ovsa_err_set(err, OVSA_E_TRANSPORT,
                     "redis: cluster: more than %d nodes",
                     OVSA_CLUSTER_NODES_MAX);
        return -1;
    }

    memcpy(t->nodes[t->nnodes].addr, addr, len);
    t->nodes[t->nnodes].addr[len] = '\0';
    t->nodes[t->nnodes].c = NULL;

    return t->nnodes++;
}


/* The connection to node i, made when needed; *fresh when just made. */
static redisContext *
ovsa_cluster_node_conn(ovsa_cluster_tls_t *t, int i, int *fresh,
    ovsa_err_t *err)
{
    ovsa_cluster_node_t  *n = &t->nodes[i];

    *fresh = 0;
    if (n->c == NULL) {
        /* a cluster has database 0 only: no SELECT */
        n->c = ovsa_store_connect(n->addr, 0, err);
        if (n->c == NULL) {
            return NULL;
        }
        *fresh = 1;
    }

    return n->c;
}


static void
ovsa_cluster_node_close(ovsa_cluster_tls_t *t, int i)
{
    if (t->nodes[i].c != NULL) {
        redisFree(t->nodes[i].c);
        t->nodes[i].c = NULL;
    }
}


/*
 * Reads CLUSTER SLOTS from node i into t->slot.  Each entry is [first,
 * last, [ip, port, id, ...], replicas...]; the first address is the
 * master's (an empty ip means "the address you reached me at").
 */
static int
ovsa_cluster_read_map(ovsa_cluster_tls_t *t, int i, ovsa_err_t *err)
{
    int            fresh, node, rc;
    char           addr[OVSA_CLUSTER_ADDR_MAX], host[OVSA_CLUSTER_ADDR_MAX];
    size_t         k, len;
    long long      first, last, s;
    const char    *colon;
    redisReply    *r, *e, *m;
    redisContext  *c;
    unsigned char  map[OVSA_CLUSTER_SLOTS];

    c = ovsa_cluster_node_conn(t, i, &fresh, err);
    if (c == NULL) {
        return OVSA_ERR;
    }

    r = redisCommand(c, "CLUSTER SLOTS");
    if (r == NULL) {
        ovsa_err_set(err, OVSA_E_TRANSPORT, "redis: %s: CLUSTER SLOTS: %s",
                     t->nodes[i].addr, c->errstr);
        ovsa_cluster_node_close(t, i);
        return OVSA_ERR;
    }

    if (r->type == REDIS_REPLY_ERROR && strstr(r->str, "cluster support")) {
        /* a configuration error, not an outage: the start fails */
        ovsa_err_set(err, OVSA_E_INTERNAL, "redis.cluster is true but %s "
                     "is not a cluster node: %.200s", t->nodes[i].addr,
                     r->str);
        freeReplyObject(r);
        return OVSA_ERR;
    }

    if (r->type != REDIS_REPLY_ARRAY) {
        ovsa_err_set(err, OVSA_E_TRANSPORT, "redis: %s: CLUSTER SLOTS: %.200s",
                     t->nodes[i].addr, r->type == REDIS_REPLY_ERROR
                     ? r->str : "not an array");
        freeReplyObject(r);
        return OVSA_ERR;
    }

    memset(map, OVSA_CLUSTER_NONE, sizeof(map));
    rc = OVSA_OK;

    for (k = 0; k < r->elements; k++) {
        e = r->element[k];
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 3
            || e->element[0]->type != REDIS_REPLY_INTEGER
            || e->element[1]->type != REDIS_REPLY_INTEGER
            || e->element[2]->type != REDIS_REPLY_ARRAY
            || e->element[2]->elements < 2
            || e->element[2]->element[0]->type != REDIS_REPLY_STRING
            || e->element[2]->element[1]->type != REDIS_REPLY_INTEGER)
        {
            rc = ovsa_err_set(err, OVSA_E_TRANSPORT,
                              "redis: %s: CLUSTER SLOTS: unexpected answer",
                              t->nodes[i].addr);
            break;
        }

        first = e->element[0]->integer;
        last = e->element[1]->integer;
        m = e->element[2];

        if (m->element[0]->len == 0) {
            /* the ip of the node we asked */
            colon = strrchr(t->nodes[i].addr, ':');
            len = colon ? (size_t) (colon - t->nodes[i].addr) : 0;
            snprintf(host, sizeof(host), "%.*s", (int) len,
                     t->nodes[i].addr);
        } else {
            snprintf(host, sizeof(host), "%s", m->element[0]->str);
        }

        len = snprintf(addr, sizeof(addr), "%s:%lld", host,
                       m->element[1]->integer);
        node = ovsa_cluster_node(t, addr, len < sizeof(addr) ? len : 0, err);
        if (node == -1) {
            rc = OVSA_ERR;
            break;
        }

        for (s = first; s <= last && s < OVSA_CLUSTER_SLOTS; s++) {
            if (s >= 0) {
                map[s] = (unsigned char) node;
            }
        }
    }

    freeReplyObject(r);

    if (rc == OVSA_OK) {
        memcpy(t->slot, map, sizeof(map));
        t->mapped = 1;
    }

    return rc;
}


/*
 * Reads the slot map from node prefer (-1: none), else the seed, else
 * any node known.  Returns OVSA_OK or OVSA_ERR with the last error.
 */
static int
ovsa_cluster_refresh(ovsa_cluster_tls_t *t, int prefer, ovsa_err_t *err)
{
    int          i, seed;
    const char  *a;

    if (prefer >= 0 && ovsa_cluster_read_map(t, prefer, err) == OVSA_OK) {
        return OVSA_OK;
    }

    a = ovsa_store_config()->address;
    seed = ovsa_cluster_node(t, a, strlen(a), err);
    if (seed >= 0 && seed != prefer
        && ovsa_cluster_read_map(t, seed, err) == OVSA_OK)
    {
        return OVSA_OK;
    }

    for (i = 0; i < t->nnodes; i++) {
        if (i != seed && i != prefer
            && ovsa_cluster_read_map(t, i, err) == OVSA_OK)
        {
            return OVSA_OK;
        }
    }

    t->mapped = 0;

    return OVSA_ERR;
}


redisContext *
ovsa_cluster_conn(ovsa_cluster_route_t *rt, const char *key, int *fresh,
    ovsa_err_t *err)
{
    int                  node;
    unsigned             slot;
    redisReply          *r;
    redisContext        *c;
    ovsa_cluster_tls_t  *t;

    *fresh = 0;
    t = ovsa_cluster_tls(err);
    if (t == NULL) {
        return NULL;
    }

    if (rt->ask >= 0) {
        node = rt->ask;

    } else {
        slot = ovsa_cluster_keyslot(key, strlen(key));

        if (!t->mapped || t->slot[slot] == OVSA_CLUSTER_NONE) {
            if (ovsa_cluster_refresh(t, -1, err) != OVSA_OK) {
                return NULL;
            }
        }

        node = t->slot[slot];
        if (node == OVSA_CLUSTER_NONE) {
            ovsa_err_set(err, OVSA_E_TRANSPORT,
                         "redis: cluster: slot %u is served by no node",
                         slot);
            return NULL;
        }
    }

    c = ovsa_cluster_node_conn(t, node, fresh, err);
    if (c == NULL) {
        /* the node may be gone: read the map again next time */
        t->mapped = 0;
        return NULL;
    }

    if (rt->ask >= 0) {
        /* ASKING is valid for the next command only: sent every time */
        r = redisCommand(c, "ASKING");
        if (r == NULL || r->type == REDIS_REPLY_ERROR) {
            ovsa_err_set(err, OVSA_E_TRANSPORT, "redis: %s: ASKING: %.200s",
                         t->nodes[node].addr, r ? r->str : c->errstr);
            if (r == NULL) {
                ovsa_cluster_node_close(t, node);
            }
            freeReplyObject(r);
            return NULL;
        }
        freeReplyObject(r);
    }

    return c;
}


/* Sleeps ms milliseconds. */
static void
ovsa_cluster_sleep(long ms)
{
    struct timespec  ts;

    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    nanosleep(&ts, NULL);
}


int
ovsa_cluster_redirect(ovsa_cluster_route_t *rt, const redisReply *r,
    ovsa_err_t *err)
{
    int                  moved, node;
    long                 ms;
    const char          *p, *addr;
    unsigned long        slot;
    ovsa_cluster_tls_t  *t;

    if (r->type != REDIS_REPLY_ERROR) {
        return 0;
    }

    if (strncmp(r->str, "TRYAGAIN", 8) == 0) {
        /*
         * The slot is being migrated and this command's keys are split
         * between the two nodes: it runs once MIGRATE moved them all.
         * 2, 4, 8, 16, 32 then 50 ms: about 0.9 s in all.
         */
        if (rt->tryagain >= OVSA_CLUSTER_TRYAGAIN) {
            ovsa_err_set(err, OVSA_E_TRANSPORT,
                         "redis: cluster: TRYAGAIN %d times (slot "
                         "migration did not finish)", rt->tryagain);
            return -1;
        }
        ms = rt->tryagain < 5 ? 2L << rt->tryagain : 50;
        rt->tryagain++;
        ovsa_cluster_sleep(ms);
        return 1;
    }

    moved = (strncmp(r->str, "MOVED ", 6) == 0);
    if (!moved && strncmp(r->str, "ASK ", 4) != 0) {
        return 0;
    }

    if (++rt->redirects > OVSA_CLUSTER_REDIRECTS) {
        ovsa_err_set(err, OVSA_E_TRANSPORT,
                     "redis: cluster: more than %d redirections: %.200s",
                     OVSA_CLUSTER_REDIRECTS, r->str);
        return -1;
    }

    t = ovsa_cluster_tls(err);
    if (t == NULL) {
        return -1;
    }

    /* "MOVED <slot> <host>:<port>" or "ASK <slot> <host>:<port>" */
    p = r->str + (moved ? 6 : 4);
    slot = strtoul(p, (char **) &addr, 10);
    if (addr == p || *addr != ' ' || slot >= OVSA_CLUSTER_SLOTS) {
        ovsa_err_set(err, OVSA_E_TRANSPORT, "redis: cluster: bad %.200s",
                     r->str);
        return -1;
    }
    addr++;

    node = ovsa_cluster_node(t, addr, strlen(addr), err);
    if (node == -1) {
        return -1;
    }

    if (!moved) {
        rt->ask = node;
        return 1;
    }

    /*
     * The slot has a new owner for good: read the whole map again from
     * it (the neighbouring slots usually moved too), and trust the
     * redirection for this slot whatever the map says.
     */
    rt->ask = -1;
    (void) ovsa_cluster_refresh(t, node, err);
    t->slot[slot] = (unsigned char) node;
    t->mapped = 1;

    return 1;
}


void
ovsa_cluster_drop(redisContext *c)
{
    int                  i;
    ovsa_cluster_tls_t  *t;

    t = pthread_getspecific(ovsa_cluster_key);
    if (t == NULL) {
        return;
    }

    for (i = 0; i < t->nnodes; i++) {
        if (t->nodes[i].c == c && c != NULL) {
            ovsa_cluster_node_close(t, i);
            t->mapped = 0;
        }
    }
}


void
ovsa_cluster_close(void)
{
    ovsa_cluster_tls_t  *t;

    t = pthread_getspecific(ovsa_cluster_key);
    if (t != NULL) {
        pthread_setspecific(ovsa_cluster_key, NULL);
        ovsa_cluster_tls_free(t);
    }
}


int
ovsa_cluster_load_scripts(ovsa_err_t *err)
{
    int                  i, s, fresh;
    unsigned             slot;
    redisContext        *c;
    ovsa_cluster_tls_t  *t;
    unsigned char        done[OVSA_CLUSTER_NODES_MAX];

    t = ovsa_cluster_tls(err);
    if (t == NULL || ovsa_cluster_refresh(t, -1, err) != OVSA_OK) {
        return OVSA_ERR;
    }

    memset(done, 0, sizeof(done));

    for (slot = 0; slot < OVSA_CLUSTER_SLOTS; slot++) {
        i = t->slot[slot];
        if (i == OVSA_CLUSTER_NONE || done[i]) {
            continue;
        }
        done[i] = 1;

        c = ovsa_cluster_node_conn(t, i, &fresh, err);
        if (c == NULL) {
            return OVSA_ERR;
        }

        for (s = 0; s < OVSA_LUA__COUNT; s++) {
            if (ovsa_store_load_one(c, s, err) != OVSA_OK) {
                if (err->code == OVSA_E_TRANSPORT) {
                    ovsa_cluster_node_close(t, i);
                }
                return OVSA_ERR;
            }
        }
    }

    return OVSA_OK;
}
