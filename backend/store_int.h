/*
 * store_int.h: what store.c and its helpers (store_health.c,
 * store_sentinel.c, store_cluster.c) share inside ovsa-backend; not a
 * public API (that is store.h).  One section per file.
 */

#ifndef OVSA_STORE_INT_H
#define OVSA_STORE_INT_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "ovsa_err.h"
#include "store.h"


/* ---- store.c */

/* The configuration ovsa_store_init() kept. */
const ovsa_store_conf_t *ovsa_store_config(void);

/*
 * Opens a connection to address ("unix:/path", "host:port", "[v6]:port"
 * or "v6addr:port") with the configured timeouts, AUTH and, when select
 * is set, SELECT of the configured db.  Returns the context (the caller
 * frees it with redisFree), or NULL with err->code OVSA_E_TRANSPORT
 * (unreachable) or OVSA_E_INTERNAL (bad address).
 */
redisContext *ovsa_store_connect(const char *address, int select,
    ovsa_err_t *err);

/*
 * SCRIPT LOAD of script i on c, checking the SHA-1 Redis returns.
 * Returns OVSA_OK or OVSA_ERR (OVSA_E_TRANSPORT: the connection is no
 * longer usable or Redis cannot serve; OVSA_E_INTERNAL otherwise).
 */
int ovsa_store_load_one(redisContext *c, int i, ovsa_err_t *err);


/* ---- part A: store_health.c (durability check, circuit breaker) */

/* How often each connection reads Redis's persistence settings again. */
#define OVSA_STORE_HEALTH_PERIOD_MS  5000

/* Keeps what it needs of conf; called by ovsa_store_init(). */
void ovsa_store_health_init(const ovsa_store_conf_t *conf);

/*
 * The circuit breaker of the Redis server at addr (one per address, so a
 * new master after a failover or each node of a cluster has its own).
 * Returns OVSA_OK when a command may be sent (*probe is 1 when it is the
 * one half-open probe: the caller reads the settings first, which is the
 * probe), or OVSA_ERR with OVSA_E_TRANSPORT while the breaker is open:
 * nothing may be sent.
 */
int ovsa_store_breaker_admit(const char *addr, int *probe, ovsa_err_t *err);

/*
 * Reports how an admitted exchange with addr ended: ok 0 for a failure
 * (OVSA_E_TRANSPORT: connection refused or lost, timeout, Redis busy or
 * loading), which opens the breaker; ok 1 when Redis answered, which
 * closes it.
 */
void ovsa_store_breaker_report(const char *addr, int ok,
    const ovsa_err_t *err);

/*
 * Reads the persistence and memory settings of the server behind c when
 * now is 1 or the calling thread's last read is older than
 * OVSA_STORE_HEALTH_PERIOD_MS, and records whether it is durable (logged
 * once per change).  Returns OVSA_ERR (OVSA_E_TRANSPORT) only when c
 * failed (the caller drops it); settings that cannot be read count as
 * not durable.
 */
int ovsa_store_health_check(redisContext *c, const char *addr, int now,
    ovsa_err_t *err);

/*
 * Returns OVSA_OK when state-changing scripts may run (Redis is durable,
 * or redis.require_durable is off), else OVSA_ERR with
 * OVSA_E_STORE_NOT_DURABLE and the reason.
 */
int ovsa_store_writable(ovsa_err_t *err);

/* Records the Retry-After of the calling thread's failure (seconds). */
void ovsa_store_set_retry_after(int seconds);


/* ---- part B: Redis Sentinel (store_sentinel.c) */

/*
 * Keeps the sentinel list and master name of conf (not copied: conf's
 * strings outlive the store).  Call once from ovsa_store_init().
 * Returns OVSA_OK or OVSA_ERR.
 */
int ovsa_sentinel_init(const ovsa_store_conf_t *conf, ovsa_err_t *err);

/* Returns 1 when the master is found through Sentinel. */
int ovsa_sentinel_enabled(void);

/*
 * Returns the generation of the master address: it changes each time the
 * sentinels name another master.  A thread whose connection was made for
 * an older generation drops it and connects to the new master.  Once a
 * second, the calling thread first asks the sentinels whether the master
 * is still the same (one thread at a time; the others do not wait).
 */
unsigned long ovsa_sentinel_gen(void);

/*
 * Writes the current master's host (NUL-terminated, at most size bytes)
 * and port, and its generation, asking the sentinels first when it is not
 * known (at start, or after ovsa_sentinel_stale()).  Each sentinel is
 * asked in turn (SENTINEL get-master-addr-by-name) until one names a
 * server whose ROLE is master.  Returns OVSA_OK, or OVSA_ERR with
 * OVSA_E_TRANSPORT when none does.
 */
int ovsa_sentinel_master(char *host, size_t size, int *port,
    unsigned long *gen, ovsa_err_t *err);

/*
 * Says that the master of generation gen failed (I/O error, READONLY, a
 * ROLE that is not master): the next ovsa_sentinel_master() asks the
 * sentinels again.  Does nothing when another thread already moved on.
 */
void ovsa_sentinel_stale(unsigned long gen);

/*
 * Confirms with ROLE that c (just connected and authenticated) is a
 * master; otherwise marks gen stale.  Returns OVSA_OK, or OVSA_ERR with
 * OVSA_E_TRANSPORT (a replica is never written to: the answer is 503
 * STORE_UNAVAILABLE, and the next request asks the sentinels again).
 */
int ovsa_sentinel_check_role(redisContext *c, const char *addr,
    unsigned long gen, ovsa_err_t *err);

/* Returns 1 when a Redis error reply means "this server is a replica". */
int ovsa_sentinel_readonly(const char *msg);


/* ---- store_cluster.c: Redis Cluster (redis.cluster: true) */

/* The state of one ovsa_store_eval() call across redirections. */
typedef struct {
    int  ask;         /* node of an ASK redirection, -1: none */
    int  redirects;   /* MOVED and ASK followed so far */
    int  tryagain;    /* TRYAGAIN retries so far */
} ovsa_cluster_route_t;

#define OVSA_CLUSTER_ROUTE_INIT  { -1, 0, 0 }

/* CRC16-CCITT (XMODEM) of buf, the Redis Cluster key hash. */
uint16_t ovsa_cluster_crc16(const char *buf, size_t len);

/* The hash slot (0..16383) of key, honouring its {hash tag}. */
unsigned ovsa_cluster_keyslot(const char *key, size_t len);

/* Call once from ovsa_store_init() when conf->cluster is set. */
int ovsa_cluster_init(ovsa_err_t *err);

/*
 * The calling thread's connection to the master that serves key's slot
 * (or the node of rt's ASK redirection, after ASKING), reading the slot
 * map first when the thread has none.  *fresh says whether the
 * connection was just made.  Returns NULL with err set (OVSA_E_TRANSPORT)
 * when no node can be reached or the slot is not served.
 */
redisContext *ovsa_cluster_conn(ovsa_cluster_route_t *rt, const char *key,
    int *fresh, ovsa_err_t *err);

/*
 * Looks at an error reply of the node that c is connected to: MOVED
 * (slot map updated and read again, retry), ASK (retry once at the named
 * node after ASKING, map unchanged), TRYAGAIN (short backoff, retry).
 * Returns 1: retry the command; 0: not a redirection, the caller handles
 * the reply; -1: gave up (too many redirections or retries), err set
 * with OVSA_E_TRANSPORT.
 */
int ovsa_cluster_redirect(ovsa_cluster_route_t *rt, const redisReply *r,
    ovsa_err_t *err);

/* Closes and forgets c, one of the calling thread's node connections,
 * after an I/O error; the slot map is read again on next use. */
void ovsa_cluster_drop(redisContext *c);

/* Closes every connection of the calling thread. */
void ovsa_cluster_close(void);

/*
 * Reads the slot map and loads every script on every master.  Returns
 * OVSA_OK or OVSA_ERR (OVSA_E_TRANSPORT: a node is unreachable).
 */
int ovsa_cluster_load_scripts(ovsa_err_t *err);

#endif /* OVSA_STORE_INT_H */
