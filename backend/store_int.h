/*
 * store_int.h: what store.c shares with the files that extend it (one
 * section per part of issue 11).  Internal to backend/store*.c.
 */

#ifndef OVSA_STORE_INT_H
#define OVSA_STORE_INT_H

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

#endif /* OVSA_STORE_INT_H */
