/*
 * store.h: the license state in Redis (hiredis).  One connection per
 * thread, opened on first use and dropped after any I/O error (the next
 * call reconnects).  Every operation is one Lua script run with EVALSHA;
 * a NOSCRIPT answer (Redis restarted or flushed) loads the script again
 * and retries once.  The scripts are embedded at build time from
 * backend/lua/ (see backend/build.mk).
 */

#ifndef OVSA_STORE_H
#define OVSA_STORE_H

#include <stddef.h>

#include "ovsa_err.h"

/*
 * What a script may do to the license state, decided here once for every
 * operation (the durability gate in store.c uses it, docs/protocol.md):
 *   RO    reads only: served whatever Redis's persistence;
 *   RW    changes state: refused (OVSA_E_STORE_NOT_DURABLE, nothing run)
 *         while Redis is not durable and redis.require_durable is on;
 *   SPEND changes state only in some cases (check.lua: a usage-count
 *         spend): the store appends one last ARGV, "1" when writes are
 *         allowed, "0" when not, and the script refuses the write itself
 *         with STORE_NOT_DURABLE, changing nothing.
 */
#define OVSA_STORE_RO     0
#define OVSA_STORE_RW     1
#define OVSA_STORE_SPEND  2

/* X(ENUM, file name in backend/lua/ without .lua, OVSA_STORE_ mode) */
#define OVSA_LUA_SCRIPTS(X)                                                   \
    X(CHECK, check, SPEND)                                                    \
    X(ACTIVATE, activate, RW)                                                 \
    X(DEACTIVATE, deactivate, RW)                                             \
    X(CHECKOUT, checkout, RW)                                                 \
    X(HEARTBEAT, heartbeat, RW)                                               \
    X(CHECKIN, checkin, RW)                                                   \
    X(IMPORT, import, RW)                                                     \
    X(REVOKE, revoke, RW)                                                     \
    X(RELEASE, release, RW)                                                   \
    X(UNBIND, unbind, RW)                                                     \
    X(SHOW, show, RO)                                                         \
    X(INDEX, index, RW)                                                       \
    X(IDS, ids, RO)                                                           \
    X(SUMMARY, summary, RO)                                                   \
    X(AUDIT_READ, audit_read, RO)                                             \
    X(AUDIT_CP, audit_cp, RW)

typedef enum {
#define OVSA_LUA_ENUM(e, f, m) OVSA_LUA_##e,
    OVSA_LUA_SCRIPTS(OVSA_LUA_ENUM)
#undef OVSA_LUA_ENUM
    OVSA_LUA__COUNT
} ovsa_lua_t;

typedef struct {
    const char  *address;      /* "unix:/path" or "host:port" */
    int          db;
    const char  *password;     /* NULL: no AUTH */
    const char  *prefix;       /* key prefix, e.g. "ovsa:" */
    int          timeout_ms;   /* command timeout */
    /* issue 11 part A (store_health.c) */
    int          connect_timeout_ms;
    int          require_durable;   /* refuse RW scripts unless durable */
    int          breaker_open_ms;   /* how long the breaker stays open */

    /* part B: Sentinel (store_sentinel.c) and WAIT */
    char *const *sentinels;    /* NULL-terminated "host:port"; NULL: none */
    const char  *master_name;  /* with sentinels */
    int          min_replicas_ack;         /* 0: no WAIT */
    int          replicas_ack_timeout_ms;

    /* part C: Redis Cluster (store_cluster.c) */
    int          cluster;      /* address is a Redis Cluster seed node */

    /*
     * 16d: the audit trail (docs/audit.md): every script that may
     * change state and whose first key is a license hash gets the
     * license's audit list "<prefix>audit:{<id>}" as its last key
     * (_audit.lua appends there; without it, nothing is appended).
     */
    int          audit;
} ovsa_store_conf_t;

/*
 * Keeps a copy of conf and computes the SHA-1 of every script.  Call once
 * before any thread uses the store.  Returns OVSA_OK or OVSA_ERR.
 */
int ovsa_store_init(const ovsa_store_conf_t *conf, ovsa_err_t *err);

/*
 * Loads every script into Redis on the calling thread's connection
 * (SCRIPT LOAD) and checks the returned SHA-1.  Returns OVSA_OK, or
 * OVSA_ERR with OVSA_E_TRANSPORT when Redis is unreachable.
 */
int ovsa_store_load_scripts(ovsa_err_t *err);

/*
 * Runs one script atomically with EVALSHA: nkeys keys then nargs
 * arguments (NUL-terminated strings).  Every script answers one JSON
 * string.  On OVSA_OK *out is that string, malloc'd, freed by the caller.
 * On OVSA_ERR err->code is OVSA_E_TRANSPORT when Redis cannot be used
 * (unreachable, timed out, loading, or the circuit breaker is open: then
 * nothing was sent; ovsa_store_retry_after() says when to come back),
 * OVSA_E_STORE_NOT_DURABLE (an RW script refused, nothing sent: Redis
 * does not persist durably, err->msg says which setting) or
 * OVSA_E_INTERNAL (script error).
 */
int ovsa_store_eval(ovsa_lua_t script, int nkeys, const char **keys,
    int nargs, const char **args, char **out, ovsa_err_t *err);

/*
 * Writes "<prefix><kind>:{<id>}" (and ":<sub>" when sub is not NULL) to
 * buf: "{<id>}" is the Redis Cluster hash tag, so every key of one
 * license lives in one slot.  Returns OVSA_OK, or OVSA_ERR when it does
 * not fit.
 */
int ovsa_store_key(char *buf, size_t size, const char *kind, const char *id,
    const char *sub);

/*
 * Part B: after a script that changed state (wrote = 1), waits for
 * redis.min_replicas_ack replicas to acknowledge it (WAIT on the calling
 * thread's connection, the one that ran the script).  Does nothing when
 * wrote is 0 or min_replicas_ack is 0.  Returns OVSA_OK, or OVSA_ERR
 * with OVSA_E_REPLICA_ACK (*acked replicas acknowledged in time, fewer
 * than the configured number) or OVSA_E_TRANSPORT.  Either way the
 * change was made on the master: a retry with the same request id
 * learns its outcome.
 */
int ovsa_store_replicas_ack(int wrote, int *acked, ovsa_err_t *err);

/* Returns redis.min_replicas_ack and redis.replicas_ack_timeout_ms. */
int ovsa_store_min_replicas_ack(void);
int ovsa_store_replicas_ack_timeout(void);

/*
 * Writes "<prefix>licenses", the license index set (a key of its own
 * slot), to buf.  Returns OVSA_OK, or OVSA_ERR when it does not fit.
 */
int ovsa_store_index_key(char *buf, size_t size);

/* Closes the calling thread's connection, if any (threads that end
 * close theirs automatically). */
void ovsa_store_close(void);

/*
 * Seconds a client should wait before retrying after the calling
 * thread's last OVSA_E_TRANSPORT failure (Retry-After): what is left of
 * the circuit breaker's open time, at least 1.  *not_sent is 1 when that
 * failure was the open breaker's (nothing was sent; already logged when
 * it opened).
 */
int ovsa_store_retry_after(int *not_sent);

/*
 * Why state-changing operations are refused right now, for a
 * STORE_NOT_DURABLE answer ("Redis 127.0.0.1:6379: appendonly is \"no\"
 * (needs yes)"): copied to buf; "" when they are not refused.
 */
void ovsa_store_not_durable(char *buf, size_t size);

/*
 * 16c: the store's health for the metrics: *breaker_open 1 when a
 * circuit breaker is open or half-open; *durable 1 when state-changing
 * scripts are allowed (durable Redis, or redis.require_durable off).
 */
void ovsa_store_health_state(int *breaker_open, int *durable);

/*
 * 16c: the Redis round trips of a script so far, for the metrics:
 * counts[OVSA_METRICS_NBUCKETS + 1] per latency bucket (lib/ovsa_metrics.h,
 * not cumulative), their sum in microseconds, and how many got no answer.
 */
void ovsa_store_rtt_get(ovsa_lua_t script, uint64_t *counts,
    uint64_t *sum_us, uint64_t *errors);

/* Returns the OVSA_STORE_ mode of a script (RO, RW or SPEND). */
int ovsa_store_mode(ovsa_lua_t script);

/* Returns the configured key prefix. */
const char *ovsa_store_prefix(void);

#endif /* OVSA_STORE_H */
