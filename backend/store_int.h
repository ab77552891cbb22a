/*
 * store_int.h: what store.c shares with the files that extend it (one
 * section per part of issue 11).  Internal to backend/store*.c.
 */

#ifndef OVSA_STORE_INT_H
#define OVSA_STORE_INT_H

#include <stddef.h>

#include <hiredis/hiredis.h>

#include "store.h"


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

#endif /* OVSA_STORE_INT_H */
