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

/* X(ENUM, file name in backend/lua/ without .lua) */
#define OVSA_LUA_SCRIPTS(X)                                                   \
    X(CHECK, check)                                                           \
    X(ACTIVATE, activate)                                                     \
    X(DEACTIVATE, deactivate)                                                 \
    X(CHECKOUT, checkout)                                                     \
    X(HEARTBEAT, heartbeat)                                                   \
    X(CHECKIN, checkin)                                                       \
    X(IMPORT, import)                                                         \
    X(REVOKE, revoke)                                                         \
    X(RELEASE, release)                                                       \
    X(UNBIND, unbind)                                                         \
    X(SHOW, show)                                                             \
    X(INDEX, index)                                                           \
    X(IDS, ids)                                                               \
    X(SUMMARY, summary)

typedef enum {
#define OVSA_LUA_ENUM(e, f) OVSA_LUA_##e,
    OVSA_LUA_SCRIPTS(OVSA_LUA_ENUM)
#undef OVSA_LUA_ENUM
    OVSA_LUA__COUNT
} ovsa_lua_t;

typedef struct {
    const char  *address;      /* "unix:/path" or "host:port" */
    int          db;
    const char  *password;     /* NULL: no AUTH */
    const char  *prefix;       /* key prefix, e.g. "ovsa:" */
    int          timeout_ms;   /* connect and command timeout */
    int          cluster;      /* address is a Redis Cluster seed node */
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
 * (unreachable, timed out, loading) or OVSA_E_INTERNAL (script error).
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
 * Writes "<prefix>licenses", the license index set (a key of its own
 * slot), to buf.  Returns OVSA_OK, or OVSA_ERR when it does not fit.
 */
int ovsa_store_index_key(char *buf, size_t size);

/* Closes the calling thread's connection, if any (threads that end
 * close theirs automatically). */
void ovsa_store_close(void);

/* Returns the configured key prefix. */
const char *ovsa_store_prefix(void);

#endif /* OVSA_STORE_H */
