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
