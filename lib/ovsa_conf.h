/*
 * ovsa_conf.h: default.yaml, the one configuration file of an ovsa
 * license server, read by the nginx module, the backend and the tools.
 * The schema is documented in docs/configuration.md.
 *
 * Relative paths in the file are resolved against the directory that holds
 * the file.  Every named file must exist and be readable when the file is
 * loaded.  Errors name "FILE:LINE: key: reason"; unknown and repeated
 * keys (at any level) are errors.
 */

#ifndef OVSA_CONF_H
#define OVSA_CONF_H

#include "ovsa_err.h"

#define OVSA_SYNC_MIN      300        /* 5 minutes */
#define OVSA_SYNC_MAX      86400      /* 24 hours */

#define OVSA_CONF_LISTEN   "unix:/run/ovsa/backend.sock"

/* One entry of backend.trusted_peers: a user or a group id. */
typedef struct {
    unsigned int   id;        /* uid, or gid when group is 1 */
    int            group;
} ovsa_conf_peer_t;

typedef struct {
    char   *file;             /* absolute path of default.yaml */

    /* identity: */
    char   *chain;            /* leaf first, then intermediates (+ root) */
    char   *key;              /* PEM private key; NULL in hardware mode */
    char   *root;             /* the one trusted vendor root */
    int     chain_line;
    int     key_line;
    int     root_line;

    /* hardware_key: */
    int     hw_enabled;
    char   *hw_module;        /* PKCS#11 module path */
    char   *hw_key_uri;       /* RFC 7512 URI of the private key */
    char   *hw_pin_file;      /* PIN from this file, or */
    char   *hw_pin_env;       /* from this environment variable */
    int     hw_sign_timeout;  /* milliseconds, the token call only */
    int     hw_queue_max;     /* signatures waiting per worker, at most */
    /* 12a: batch signatures */
    int     hw_batch_window;  /* ms an answer waits for others; 0: off */
    int     hw_batch_max;     /* answers per signed Merkle root */
    int     hw_line;
    /* 12b: TLS on a software key (both or neither), answers on the token */
    char   *hw_tls_chain;     /* the TLS leaf + intermediates, same root */
    char   *hw_tls_key;       /* its private key file (0600) */
    int     hw_tls_line;

    /* backend: */
    char   *listen;           /* "unix:/path" or "host:port" */
    long    listen_group;     /* gid of the unix socket; -1: the process's */
    int     listen_group_line;
    char   *admin_listen;     /* "unix:/path" or "host:port" */
    char   *admin_token_file; /* bearer token for the admin API */
    int     threads;
    int     max_body;         /* bytes */

    /*
     * trusted_peers: who may state the client certificate over the unix
     * socket (resolved to ids when loaded; the backend adds its own uid)
     */
    ovsa_conf_peer_t  *trusted_peers;
    int                n_trusted_peers;

    /* redis: */
    char   *redis_address;    /* "unix:/path" or "host:port" */
    int     redis_db;
    char   *redis_password_file;
    char   *redis_prefix;     /* key prefix, default "ovsa:" */
    int     redis_timeout;    /* milliseconds */
    /* issue 11 part A */
    int     redis_require_durable;  /* refuse writes unless AOF + fsync +
                                       noeviction (default 1) */
    int     redis_connect_timeout;  /* milliseconds, default 500 */
    int     redis_breaker_open;     /* milliseconds the breaker stays
                                       open, default 1000 */

    /* redis, part B: Sentinel and replica acknowledgements */
    char  **redis_sentinels;  /* NULL-terminated "host:port" list, or NULL */
    int     n_redis_sentinels;
    int     redis_sentinels_line;
    char   *redis_master_name;
    int     redis_master_name_line;
    int     redis_min_replicas_ack;       /* WAIT N after a write; 0: off */
    int     redis_replicas_ack_timeout;   /* WAIT's timeout, milliseconds */

    /* redis, part C */
    int     redis_cluster;    /* address is a Redis Cluster seed node */

    /* 16d: audit: (docs/audit.md) */
    int     audit_enabled;        /* append the audit trail; default 1 */
    int     audit_retention_days; /* 0: keep every entry */
    int     audit_checkpoint_every;  /* entries between checkpoints */

    /* licenses: */
    char  **isv_certs;        /* NULL-terminated; ISV certificates */
    int     n_isv_certs;

    /* 16c: metrics: (docs/metrics.md) */
    char   *metrics_listen;   /* NULL: no unauthenticated /metrics */
    int     metrics_gauge_interval;  /* seconds between license scans */
} ovsa_conf_t;

/*
 * Loads and validates path.  On OVSA_OK *out is a new configuration the
 * caller frees with ovsa_conf_free().  On OVSA_ERR err says
 * "FILE:LINE: key: reason" and *out is untouched.
 */
int ovsa_conf_load(const char *path, ovsa_conf_t **out, ovsa_err_t *err);

/*
 * 16a: ovsa_conf_load() with flags.  OVSA_CONF_NO_NGINX_FILES: the files
 * only nginx opens (identity.chain, .key, .root; hardware_key.module,
 * .pin_file) are resolved against the configuration's directory but not
 * checked, for ovsa-backend, which runs as its own user (ovsa) and must
 * not need read access to the server's key (docs/install.md).
 */
#define OVSA_CONF_NO_NGINX_FILES  0x1

int ovsa_conf_load_flags(const char *path, unsigned flags, ovsa_conf_t **out,
    ovsa_err_t *err);

/*
 * Like ovsa_conf_load() for a file text of len bytes (need not be
 * NUL-terminated) that is not on disk: path names it in messages, and
 * relative file names resolve against path's directory, which must exist.
 */
int ovsa_conf_load_mem(const char *path, const char *text, size_t len,
    ovsa_conf_t **out, ovsa_err_t *err);

/* Frees a configuration from ovsa_conf_load(); NULL is allowed. */
void ovsa_conf_free(ovsa_conf_t *conf);

/*
 * Reads a secret (a PIN, token or password) from a file: the first line,
 * without its newline.  A file that group or others may access in any way
 * is refused (OVSA_E_SECRET_MODE, naming the file and its mode), like a
 * private key file.  Returns a malloc'd string the caller wipes with
 * ovsa_secret_free(), or NULL with err set.
 */
char *ovsa_secret_read_file(const char *path, ovsa_err_t *err);

/* Wipes and frees a secret; NULL is allowed. */
void ovsa_secret_free(char *secret);

#endif /* OVSA_CONF_H */
