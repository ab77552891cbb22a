/*
 * store_int.h: what store.c's helpers (store_health.c, store_sentinel.c,
 * store_cluster.c) share with it.  Internal to the backend's store; the
 * rest of the backend uses store.h.  One section per helper.
 */

#ifndef OVSA_STORE_INT_H
#define OVSA_STORE_INT_H

#include <stddef.h>

#include <hiredis/hiredis.h>

#include "store.h"


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

#endif /* OVSA_STORE_INT_H */
