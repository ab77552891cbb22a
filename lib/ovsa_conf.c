/*
 * ovsa_conf.c: default.yaml, parsed with libyaml's document API.
 *
 * The schema is a table: each section names its keys, their type and where
 * the value goes in ovsa_conf_t.  Every error names "FILE:LINE: key".
 */

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <grp.h>
#include <pwd.h>
#include <unistd.h>
#include <sys/stat.h>

#include <openssl/crypto.h>
#include <yaml.h>

#include "ovsa_conf.h"


typedef enum {
    OVSA_T_STR,
    OVSA_T_PATH,        /* a file that must exist and be readable */
    OVSA_T_PATHS,       /* a sequence of such files */
    OVSA_T_BOOL,
    OVSA_T_INT,
    OVSA_T_ADDR,        /* "unix:/path" or "host:port" */
    OVSA_T_GROUP,       /* a group name or gid, kept as a long gid */
    OVSA_T_PEERS,       /* a sequence of users and "group:" groups */
    OVSA_T_HOSTPORTS    /* a non-empty sequence of "host:port" */
} ovsa_conf_type_t;

typedef struct {
    const char        *name;
    ovsa_conf_type_t   type;
    size_t             off;
    long               min;
    long               max;
    ptrdiff_t          line_off;   /* -1: no line kept */
} ovsa_conf_key_t;

typedef struct {
    const char             *name;
    const ovsa_conf_key_t  *keys;
} ovsa_conf_section_t;

typedef struct {
    const char     *file;
    char           *dir;
    yaml_document_t doc;
    ovsa_conf_t    *conf;
    ovsa_err_t     *err;
    unsigned        flags;      /* OVSA_CONF_* of ovsa_conf_load_flags() */
} ovsa_conf_ctx_t;


#define OFF(f)      offsetof(ovsa_conf_t, f)
#define NOLINE      -1

static const ovsa_conf_key_t  ovsa_conf_identity[] = {
    { "chain", OVSA_T_PATH, OFF(chain), 0, 0, OFF(chain_line) },
    { "key", OVSA_T_PATH, OFF(key), 0, 0, OFF(key_line) },
    { "root", OVSA_T_PATH, OFF(root), 0, 0, OFF(root_line) },
    { NULL, 0, 0, 0, 0, 0 }
};

static const ovsa_conf_key_t  ovsa_conf_hardware_key[] = {
    { "enabled", OVSA_T_BOOL, OFF(hw_enabled), 0, 1, OFF(hw_line) },
    { "module", OVSA_T_PATH, OFF(hw_module), 0, 0, NOLINE },
    { "key_uri", OVSA_T_STR, OFF(hw_key_uri), 0, 0, NOLINE },
    { "pin_file", OVSA_T_PATH, OFF(hw_pin_file), 0, 0, NOLINE },
    { "pin_env", OVSA_T_STR, OFF(hw_pin_env), 0, 0, NOLINE },
    { "sign_timeout_ms", OVSA_T_INT, OFF(hw_sign_timeout), 10, 60000,
      NOLINE },
    { "queue_max", OVSA_T_INT, OFF(hw_queue_max), 1, 65536, NOLINE },
    /* 12a: batch signatures (docs/signatures.md, "Batch profile") */
    { "batch_window_ms", OVSA_T_INT, OFF(hw_batch_window), 0, 200, NOLINE },
    { "batch_max", OVSA_T_INT, OFF(hw_batch_max), 1, 1024, NOLINE },
    /* 12b: TLS on a software key, answers signed by the token */
    { "tls_chain", OVSA_T_PATH, OFF(hw_tls_chain), 0, 0,
      OFF(hw_tls_line) },
    { "tls_key", OVSA_T_PATH, OFF(hw_tls_key), 0, 0, OFF(hw_tls_line) },
    { NULL, 0, 0, 0, 0, 0 }
};

static const ovsa_conf_key_t  ovsa_conf_backend[] = {
    { "listen", OVSA_T_ADDR, OFF(listen), 0, 0, NOLINE },
    { "listen_group", OVSA_T_GROUP, OFF(listen_group), 0, 0,
      OFF(listen_group_line) },
    { "trusted_peers", OVSA_T_PEERS, OFF(trusted_peers), 0, 0, NOLINE },
    { "admin_listen", OVSA_T_ADDR, OFF(admin_listen), 0, 0, NOLINE },
    { "admin_token_file", OVSA_T_PATH, OFF(admin_token_file), 0, 0,
      NOLINE },
    { "threads", OVSA_T_INT, OFF(threads), 1, 256, NOLINE },
    { "max_body", OVSA_T_INT, OFF(max_body), 256, 16 * 1024 * 1024,
      NOLINE },
    { NULL, 0, 0, 0, 0, 0 }
};

static const ovsa_conf_key_t  ovsa_conf_redis[] = {
    { "address", OVSA_T_ADDR, OFF(redis_address), 0, 0, NOLINE },
    { "db", OVSA_T_INT, OFF(redis_db), 0, 15, NOLINE },
    { "password_file", OVSA_T_PATH, OFF(redis_password_file), 0, 0,
      NOLINE },
    { "prefix", OVSA_T_STR, OFF(redis_prefix), 0, 0, NOLINE },
    { "timeout_ms", OVSA_T_INT, OFF(redis_timeout), 10, 60000, NOLINE },
    /* issue 11 part A: durability check, circuit breaker */
    { "require_durable", OVSA_T_BOOL, OFF(redis_require_durable), 0, 1,
      NOLINE },
    { "connect_timeout_ms", OVSA_T_INT, OFF(redis_connect_timeout), 10,
      60000, NOLINE },
    { "breaker_open_ms", OVSA_T_INT, OFF(redis_breaker_open), 100, 60000,
      NOLINE },
    /* part B: Sentinel, replica acknowledgements */
    { "sentinels", OVSA_T_HOSTPORTS, OFF(redis_sentinels), 0, 0,
      OFF(redis_sentinels_line) },
    { "master_name", OVSA_T_STR, OFF(redis_master_name), 0, 0,
      OFF(redis_master_name_line) },
    { "min_replicas_ack", OVSA_T_INT, OFF(redis_min_replicas_ack), 0, 64,
      NOLINE },
    { "replicas_ack_timeout_ms", OVSA_T_INT,
      OFF(redis_replicas_ack_timeout), 10, 60000, NOLINE },
    /* part C (issue 11): Redis Cluster; address is then a seed node */
    { "cluster", OVSA_T_BOOL, OFF(redis_cluster), 0, 1, NOLINE },
    { NULL, 0, 0, 0, 0, 0 }
};

static const ovsa_conf_key_t  ovsa_conf_licenses[] = {
    { "isv_certs", OVSA_T_PATHS, OFF(isv_certs), 0, 0, NOLINE },
    { NULL, 0, 0, 0, 0, 0 }
};

/* 16c: metrics (docs/metrics.md) */
static const ovsa_conf_key_t  ovsa_conf_metrics[] = {
    { "listen", OVSA_T_ADDR, OFF(metrics_listen), 0, 0, NOLINE },
    { "gauge_interval_s", OVSA_T_INT, OFF(metrics_gauge_interval), 1, 3600,
      NOLINE },
    { NULL, 0, 0, 0, 0, 0 }
};

/* 16d: the usage audit trail (docs/audit.md) */
static const ovsa_conf_key_t  ovsa_conf_audit[] = {
    { "enabled", OVSA_T_BOOL, OFF(audit_enabled), 0, 1, NOLINE },
    { "retention_days", OVSA_T_INT, OFF(audit_retention_days), 0, 36500,
      NOLINE },
    { "checkpoint_every", OVSA_T_INT, OFF(audit_checkpoint_every), 1,
      1000000, NOLINE },
    { NULL, 0, 0, 0, 0, 0 }
};

static const ovsa_conf_section_t  ovsa_conf_sections[] = {
    { "identity", ovsa_conf_identity },
    { "hardware_key", ovsa_conf_hardware_key },
    { "backend", ovsa_conf_backend },
    { "redis", ovsa_conf_redis },
    { "licenses", ovsa_conf_licenses },
    { "metrics", ovsa_conf_metrics },
    { "audit", ovsa_conf_audit },
    { NULL, NULL }
};


static int
ovsa_conf_fail(ovsa_conf_ctx_t *ctx, int code, yaml_node_t *node,
    const char *key, const char *reason)
{
    return ovsa_err_set(ctx->err, code, "%s:%lu: %s: %s", ctx->file,
                        node ? (unsigned long) node->start_mark.line + 1 : 0,
                        key, reason);
}


static char *
ovsa_conf_resolve(ovsa_conf_ctx_t *ctx, const char *value)
{
    size_t  dl, vl;
    char   *p;

    if (value[0] == '/') {
        return strdup(value);
    }

    dl = strlen(ctx->dir);
    vl = strlen(value);
    p = malloc(dl + 1 + vl + 1);
    if (p == NULL) {
        return NULL;
    }

    memcpy(p, ctx->dir, dl);
    p[dl] = '/';
    memcpy(p + dl + 1, value, vl + 1);
    return p;
}


/*
 * A file name of nginx's alone (identity.*, hardware_key.*) read by a
 * program that does not open those files (OVSA_CONF_NO_NGINX_FILES):
 * resolved, not checked, so that the backend, running as its own user,
 * needs no access to the server's key or the token's PIN.
 */
static int
ovsa_conf_path_unchecked(ovsa_conf_ctx_t *ctx, yaml_node_t *node,
    const char *key, char **out)
{
    char  *path;

    if (node->type != YAML_SCALAR_NODE || node->data.scalar.length == 0) {
        return ovsa_conf_fail(ctx, OVSA_E_CONF_TYPE, node, key,
                              "expected a file name");
    }

    path = ovsa_conf_resolve(ctx, (const char *) node->data.scalar.value);
    if (path == NULL) {
        return ovsa_conf_fail(ctx, OVSA_E_NOMEM, node, key, "out of memory");
    }

    free(*out);
    *out = path;
    return OVSA_OK;
}


static int
ovsa_conf_path(ovsa_conf_ctx_t *ctx, yaml_node_t *node, const char *key,
    char **out)
{
    char         reason[PATH_MAX + 64];
    char        *path;
    const char  *value;
    struct stat  st;

    if (node->type != YAML_SCALAR_NODE || node->data.scalar.length == 0) {
        return ovsa_conf_fail(ctx, OVSA_E_CONF_TYPE, node, key,
                              "expected a file name");
    }

    value = (const char *) node->data.scalar.value;
    path = ovsa_conf_resolve(ctx, value);
    if (path == NULL) {
        return ovsa_conf_fail(ctx, OVSA_E_NOMEM, node, key, "out of memory");
    }

    if (access(path, R_OK) != 0 || stat(path, &st) != 0) {
        snprintf(reason, sizeof(reason), "%s: %s", path, strerror(errno));
        free(path);
        return ovsa_conf_fail(ctx, OVSA_E_CONF_FILE, node, key, reason);
    }

    if (!S_ISREG(st.st_mode)) {
        snprintf(reason, sizeof(reason), "%s: not a regular file", path);
        free(path);
        return ovsa_conf_fail(ctx, OVSA_E_CONF_FILE, node, key, reason);
    }

    free(*out);
    *out = path;
    return OVSA_OK;
}


static int
ovsa_conf_int(ovsa_conf_ctx_t *ctx, yaml_node_t *node, const char *key,
    const ovsa_conf_key_t *k, long *out)
{
    char        reason[128];
    long        v;
    char       *end;
    const char *s;

    if (node->type != YAML_SCALAR_NODE
        || node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
    {
        return ovsa_conf_fail(ctx, OVSA_E_CONF_TYPE, node, key,
                              "expected an integer");
    }

    s = (const char *) node->data.scalar.value;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0') {
        return ovsa_conf_fail(ctx, OVSA_E_CONF_TYPE, node, key,
                              "expected an integer");
    }

    if (v < k->min || v > k->max) {
        snprintf(reason, sizeof(reason), "%ld is out of range %ld..%ld",
                 v, k->min, k->max);
        return ovsa_conf_fail(ctx, OVSA_E_CONF_VALUE, node, key, reason);
    }

    *out = v;
    return OVSA_OK;
}


static int
ovsa_conf_bool(ovsa_conf_ctx_t *ctx, yaml_node_t *node, const char *key,
    int *out)
{
    const char  *s;

    if (node->type == YAML_SCALAR_NODE
        && node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
    {
        s = (const char *) node->data.scalar.value;

        if (strcmp(s, "true") == 0 || strcmp(s, "yes") == 0
            || strcmp(s, "on") == 0)
        {
            *out = 1;
            return OVSA_OK;
        }

        if (strcmp(s, "false") == 0 || strcmp(s, "no") == 0
            || strcmp(s, "off") == 0)
        {
            *out = 0;
            return OVSA_OK;
        }
    }

    return ovsa_conf_fail(ctx, OVSA_E_CONF_TYPE, node, key,
                          "expected true or false");
}


static int
ovsa_conf_addr(ovsa_conf_ctx_t *ctx, yaml_node_t *node, const char *key,
    char **out)
{
    const char  *s, *colon;

    if (node->type != YAML_SCALAR_NODE || node->data.scalar.length == 0) {
        return ovsa_conf_fail(ctx, OVSA_E_CONF_TYPE, node, key,
                              "expected \"unix:/path\" or \"host:port\"");
    }

    s = (const char *) node->data.scalar.value;

    if (strncmp(s, "unix:", 5) == 0) {
        if (s[5] != '/') {
            return ovsa_conf_fail(ctx, OVSA_E_CONF_VALUE, node, key,
                                  "unix socket path must be absolute");
        }

    } else {
        colon = strrchr(s, ':');
        if (colon == NULL || colon == s || atoi(colon + 1) <= 0
            || atoi(colon + 1) > 65535
            || strspn(colon + 1, "0123456789") != strlen(colon + 1))
        {
            return ovsa_conf_fail(ctx, OVSA_E_CONF_VALUE, node, key,
                                  "expected \"unix:/path\" or "
                                  "\"host:port\"");
        }
    }

    free(*out);
    *out = strdup(s);
    return *out ? OVSA_OK : ovsa_conf_fail(ctx, OVSA_E_NOMEM, node, key,
                                           "out of memory");
}


/* redis.sentinels: a non-empty list of "host:port" (no unix sockets) */
static int
ovsa_conf_hostports(ovsa_conf_ctx_t *ctx, yaml_node_t *node, const char *key,
    char ***out)
{
    int                n, i;
    char               name[160];
    char             **list;
    yaml_node_t       *item;
    yaml_node_item_t  *it;

    n = (node->type == YAML_SEQUENCE_NODE)
        ? node->data.sequence.items.top - node->data.sequence.items.start : 0;

    if (n == 0) {
        return ovsa_conf_fail(ctx, OVSA_E_CONF_TYPE, node, key,
                              "expected a non-empty list of \"host:port\"");
    }

    list = calloc(n + 1, sizeof(char *));
    if (list == NULL) {
        return ovsa_conf_fail(ctx, OVSA_E_NOMEM, node, key, "out of memory");
    }

    i = 0;
    for (it = node->data.sequence.items.start;
         it < node->data.sequence.items.top;
         it++, i++)
    {
        item = yaml_document_get_node(&ctx->doc, *it);
        snprintf(name, sizeof(name), "%s[%d]", key, i);

        if (item->type == YAML_SCALAR_NODE
            && strncmp((const char *) item->data.scalar.value, "unix:", 5)
               == 0)
        {
            ovsa_conf_fail(ctx, OVSA_E_CONF_VALUE, item, name,
                           "expected \"host:port\"");
            goto failed;
        }

        if (ovsa_conf_addr(ctx, item, name, &list[i]) != OVSA_OK) {
            goto failed;
        }
    }

    /* repeated keys are refused, so *out is still NULL */
    free(*out);
    *out = list;
    ctx->conf->n_redis_sentinels = n;
    return OVSA_OK;

failed:

    for (i = 0; i < n; i++) {
        free(list[i]);
    }
    free(list);
    return OVSA_ERR;
}


static int
ovsa_conf_paths(ovsa_conf_ctx_t *ctx, yaml_node_t *node, const char *key,
    char ***out)
{
    int                n, i;
    char             **list, **old;
    yaml_node_t       *item;
    yaml_node_item_t  *it;

    if (node->type != YAML_SEQUENCE_NODE) {
        return ovsa_conf_fail(ctx, OVSA_E_CONF_TYPE, node, key,
                              "expected a list of file names");
    }

    n = node->data.sequence.items.top - node->data.sequence.items.start;
    list = calloc(n + 1, sizeof(char *));
    if (list == NULL) {
        return ovsa_conf_fail(ctx, OVSA_E_NOMEM, node, key, "out of memory");
    }

    i = 0;
    for (it = node->data.sequence.items.start;
         it < node->data.sequence.items.top;
         it++)
    {
        item = yaml_document_get_node(&ctx->doc, *it);
        if (ovsa_conf_path(ctx, item, key, &list[i]) != OVSA_OK) {
            for (i = 0; i < n; i++) {
                free(list[i]);
            }
            free(list);
            return OVSA_ERR;
        }
        i++;
    }

    /* never reached twice (repeated keys are refused), but never leak */
    if (*out != NULL) {
        for (old = *out; *old != NULL; old++) {
            free(*old);
        }
        free(*out);
    }

    *out = list;
    ctx->conf->n_isv_certs = n;
    return OVSA_OK;
}


/*
 * Resolves a user (group 0) or group (group 1) given by name or by
 * numeric id into *id.  Returns OVSA_OK, or OVSA_ERR when there is no
 * such name (a numeric id need not exist, as with chown).
 */
static int
ovsa_conf_id(const char *s, int group, unsigned int *id)
{
    int             rc;
    char           *buf, *end;
    long            size;
    unsigned long   v;
    struct group    gr, *grp;
    struct passwd   pw, *pwp;

    if (s[0] >= '0' && s[0] <= '9') {
        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno != 0 || *end != '\0' || v >= 0xffffffffUL) {
            return OVSA_ERR;
        }
        *id = (unsigned int) v;
        return OVSA_OK;
    }

    size = sysconf(group ? _SC_GETGR_R_SIZE_MAX : _SC_GETPW_R_SIZE_MAX);
    if (size < 4096) {
        size = 4096;
    }

    for ( ;; ) {
        buf = malloc(size);
        if (buf == NULL) {
            return OVSA_ERR;
        }

        grp = NULL;
        pwp = NULL;
        rc = group ? getgrnam_r(s, &gr, buf, size, &grp)
                   : getpwnam_r(s, &pw, buf, size, &pwp);

        if (rc == ERANGE && size < 1024 * 1024) {
            free(buf);
            size *= 4;
            continue;
        }

        if (rc == 0 && grp != NULL) {
            *id = (unsigned int) grp->gr_gid;
        } else if (rc == 0 && pwp != NULL) {
            *id = (unsigned int) pwp->pw_uid;
        } else {
            rc = -1;
        }

        free(buf);
        return rc == 0 ? OVSA_OK : OVSA_ERR;
    }
}


static int
ovsa_conf_group(ovsa_conf_ctx_t *ctx, yaml_node_t *node, const char *key,
    long *out)
{
    char           reason[160];
    const char    *s;
    unsigned int   gid;

    if (node->type != YAML_SCALAR_NODE || node->data.scalar.length == 0) {
        return ovsa_conf_fail(ctx, OVSA_E_CONF_TYPE, node, key,
                              "expected a group name or gid");
    }

    s = (const char *) node->data.scalar.value;

    if (ovsa_conf_id(s, 1, &gid) != OVSA_OK) {
        snprintf(reason, sizeof(reason), "no such group \"%.100s\"", s);
        return ovsa_conf_fail(ctx, OVSA_E_CONF_VALUE, node, key, reason);
    }

    *out = (long) gid;
    return OVSA_OK;
}


/*
 * backend.trusted_peers: a list of "NAME" or "UID" (a user),
 * "user:NAME|UID" and "group:NAME|GID" (a group).
 */
static int
ovsa_conf_peers(ovsa_conf_ctx_t *ctx, yaml_node_t *node, const char *key,
    ovsa_conf_peer_t **out)
{
    int                n, i, group;
    char               name[160], reason[200];
    const char        *s;
    yaml_node_t       *item;
    ovsa_conf_peer_t  *list;
    yaml_node_item_t  *it;

    if (node->type != YAML_SEQUENCE_NODE) {
        return ovsa_conf_fail(ctx, OVSA_E_CONF_TYPE, node, key,
                              "expected a list of users and "
                              "\"group:NAME\" groups");
    }

    n = node->data.sequence.items.top - node->data.sequence.items.start;
    list = calloc(n + 1, sizeof(ovsa_conf_peer_t));
    if (list == NULL) {
        return ovsa_conf_fail(ctx, OVSA_E_NOMEM, node, key, "out of memory");
    }

    i = 0;
    for (it = node->data.sequence.items.start;
         it < node->data.sequence.items.top;
         it++, i++)
    {
        item = yaml_document_get_node(&ctx->doc, *it);
        snprintf(name, sizeof(name), "%s[%d]", key, i);

        if (item->type != YAML_SCALAR_NODE || item->data.scalar.length == 0) {
            free(list);
            return ovsa_conf_fail(ctx, OVSA_E_CONF_TYPE, item, name,
                                  "expected a user name or uid, or "
                                  "\"group:NAME\"");
        }

        s = (const char *) item->data.scalar.value;
        group = 0;
        if (strncmp(s, "group:", 6) == 0) {
            s += 6;
            group = 1;
        } else if (strncmp(s, "user:", 5) == 0) {
            s += 5;
        }

        if (s[0] == '\0' || ovsa_conf_id(s, group, &list[i].id) != OVSA_OK) {
            snprintf(reason, sizeof(reason), "no such %s \"%.100s\"",
                     group ? "group" : "user", s);
            free(list);
            return ovsa_conf_fail(ctx, OVSA_E_CONF_VALUE, item, name, reason);
        }

        list[i].group = group;
    }

    free(*out);
    *out = list;
    ctx->conf->n_trusted_peers = n;
    return OVSA_OK;
}


static int
ovsa_conf_value(ovsa_conf_ctx_t *ctx, const char *section,
    const ovsa_conf_key_t *k, yaml_node_t *key_node, yaml_node_t *node)
{
    int    rc;
    long   v = 0;
    char   name[128];
    char  *base;

    snprintf(name, sizeof(name), "%s.%s", section, k->name);
    base = (char *) ctx->conf;

    switch (k->type) {

    case OVSA_T_STR:
        if (node->type != YAML_SCALAR_NODE || node->data.scalar.length == 0) {
            return ovsa_conf_fail(ctx, OVSA_E_CONF_TYPE, node, name,
                                  "expected a non-empty string");
        }
        free(*(char **) (base + k->off));
        *(char **) (base + k->off) = strdup((char *) node->data.scalar.value);
        rc = *(char **) (base + k->off) ? OVSA_OK
             : ovsa_conf_fail(ctx, OVSA_E_NOMEM, node, name, "out of memory");
        break;

    case OVSA_T_PATH:
        if ((ctx->flags & OVSA_CONF_NO_NGINX_FILES)
            && (strcmp(section, "identity") == 0
                || strcmp(section, "hardware_key") == 0))
        {
            rc = ovsa_conf_path_unchecked(ctx, node, name,
                                          (char **) (base + k->off));
            break;
        }
        rc = ovsa_conf_path(ctx, node, name, (char **) (base + k->off));
        break;

    case OVSA_T_PATHS:
        rc = ovsa_conf_paths(ctx, node, name, (char ***) (base + k->off));
        break;

    case OVSA_T_BOOL:
        rc = ovsa_conf_bool(ctx, node, name, (int *) (base + k->off));
        break;

    case OVSA_T_INT:
        rc = ovsa_conf_int(ctx, node, name, k, &v);
        if (rc == OVSA_OK) {
            *(int *) (base + k->off) = (int) v;
        }
        break;

    case OVSA_T_GROUP:
        rc = ovsa_conf_group(ctx, node, name, (long *) (base + k->off));
        break;

    case OVSA_T_PEERS:
        rc = ovsa_conf_peers(ctx, node, name,
                             (ovsa_conf_peer_t **) (base + k->off));
        break;

    case OVSA_T_HOSTPORTS:
        rc = ovsa_conf_hostports(ctx, node, name, (char ***) (base + k->off));
        break;

    default: /* OVSA_T_ADDR */
        rc = ovsa_conf_addr(ctx, node, name, (char **) (base + k->off));
        break;
    }

    if (rc == OVSA_OK && k->line_off != NOLINE) {
        *(int *) (base + k->line_off) = (int) key_node->start_mark.line + 1;
    }

    return rc;
}


static int
ovsa_conf_section(ovsa_conf_ctx_t *ctx, const ovsa_conf_section_t *s,
    yaml_node_t *node)
{
    char                    name[128];
    const char             *kname;
    yaml_node_t            *key, *value;
    yaml_node_pair_t       *pair;
    const ovsa_conf_key_t  *k;

    if (node->type != YAML_MAPPING_NODE) {
        return ovsa_conf_fail(ctx, OVSA_E_CONF_TYPE, node, s->name,
                              "expected a mapping");
    }

    for (pair = node->data.mapping.pairs.start;
         pair < node->data.mapping.pairs.top;
         pair++)
    {
        key = yaml_document_get_node(&ctx->doc, pair->key);
        value = yaml_document_get_node(&ctx->doc, pair->value);

        if (key->type != YAML_SCALAR_NODE) {
            return ovsa_conf_fail(ctx, OVSA_E_CONF_KEY, key, s->name,
                                  "keys must be plain names");
        }

        kname = (const char *) key->data.scalar.value;
        snprintf(name, sizeof(name), "%s.%s", s->name, kname);

        for (k = s->keys; k->name; k++) {
            if (strcmp(k->name, kname) == 0) {
                break;
            }
        }

        if (k->name == NULL) {
            return ovsa_conf_fail(ctx, OVSA_E_CONF_KEY, key, name,
                                  "unknown key");
        }

        if (ovsa_conf_value(ctx, s->name, k, key, value) != OVSA_OK) {
            return OVSA_ERR;
        }
    }

    return OVSA_OK;
}


static int
ovsa_conf_defaults(ovsa_conf_t *conf)
{
    conf->hw_sign_timeout = 2000;
    conf->hw_queue_max = 64;
    conf->hw_batch_window = 0;        /* 12a: batching off */
    conf->hw_batch_max = 256;
    conf->threads = 4;
    conf->max_body = 65536;
    conf->redis_db = 0;
    conf->redis_timeout = 1000;
    conf->redis_require_durable = 1;
    conf->redis_connect_timeout = 500;
    conf->redis_breaker_open = 1000;
    conf->redis_min_replicas_ack = 0;
    conf->redis_replicas_ack_timeout = 1000;
    conf->metrics_gauge_interval = 30;
    conf->audit_enabled = 1;                  /* 16d */
    conf->audit_retention_days = 0;
    conf->audit_checkpoint_every = 1000;
    conf->listen = strdup(OVSA_CONF_LISTEN);
    conf->listen_group = -1;
    conf->admin_listen = strdup("127.0.0.1:9081");
    conf->redis_address = strdup("127.0.0.1:6379");
    conf->redis_prefix = strdup("ovsa:");

    if (conf->listen == NULL || conf->admin_listen == NULL
        || conf->redis_address == NULL || conf->redis_prefix == NULL)
    {
        return OVSA_ERR;
    }

    /* the user Debian's nginx workers run as, when it exists */
    conf->trusted_peers = calloc(2, sizeof(ovsa_conf_peer_t));
    if (conf->trusted_peers == NULL) {
        return OVSA_ERR;
    }

    if (ovsa_conf_id("www-data", 0, &conf->trusted_peers[0].id) == OVSA_OK) {
        conf->n_trusted_peers = 1;
    }

    return OVSA_OK;
}


/* cross-key rules, checked once the whole file is read */
static int
ovsa_conf_check(ovsa_conf_ctx_t *ctx, yaml_node_t *root)
{
    ovsa_conf_t  *c = ctx->conf;

    if (c->listen_group != -1 && strncmp(c->listen, "unix:", 5) != 0) {
        return ovsa_err_set(ctx->err, OVSA_E_CONF_VALUE,
                            "%s:%d: backend.listen_group: applies to a "
                            "\"unix:\" backend.listen only", ctx->file,
                            c->listen_group_line);
    }

    /* Sentinel is both keys or neither, and not with a Cluster */
    if ((c->redis_sentinels == NULL) != (c->redis_master_name == NULL)) {
        return ovsa_err_set(ctx->err, OVSA_E_CONF_MISSING,
                            "%s:%d: redis: \"sentinels\" and \"master_name\" "
                            "go together (Sentinel), or neither is set",
                            ctx->file, c->redis_sentinels
                                       ? c->redis_sentinels_line
                                       : c->redis_master_name_line);
    }

    if (c->redis_sentinels != NULL && c->redis_cluster) {
        return ovsa_err_set(ctx->err, OVSA_E_CONF_VALUE,
                            "%s:%d: redis: \"sentinels\" and \"cluster\" "
                            "exclude each other (a Redis Cluster fails over "
                            "by itself)", ctx->file, c->redis_sentinels_line);
    }

    if (c->chain == NULL) {
        return ovsa_conf_fail(ctx, OVSA_E_CONF_MISSING, root,
                              "identity.chain", "required key is missing");
    }

    if (c->root == NULL) {
        return ovsa_conf_fail(ctx, OVSA_E_CONF_MISSING, root,
                              "identity.root", "required key is missing");
    }

    if (!c->hw_enabled && (c->hw_tls_chain != NULL || c->hw_tls_key != NULL))
    {
        return ovsa_err_set(ctx->err, OVSA_E_CONF_VALUE,
                            "%s:%d: hardware_key: \"tls_chain\" and "
                            "\"tls_key\" need hardware_key.enabled: true "
                            "(in software mode identity.key serves TLS)",
                            ctx->file, c->hw_tls_line);
    }

    if (!c->hw_enabled) {
        if (c->key == NULL) {
            return ovsa_conf_fail(ctx, OVSA_E_CONF_MISSING, root,
                                  "identity.key", "required key is missing "
                                  "(unless hardware_key.enabled is true)");
        }

        return OVSA_OK;
    }

    if (c->key != NULL) {
        return ovsa_err_set(ctx->err, OVSA_E_CONF_VALUE,
                            "%s:%d: identity.key: must not be set when "
                            "hardware_key.enabled is true: the key stays on "
                            "the token", ctx->file, c->key_line);
    }

    if (c->hw_module == NULL || c->hw_key_uri == NULL) {
        return ovsa_err_set(ctx->err, OVSA_E_CONF_MISSING,
                            "%s:%d: hardware_key: \"module\" and \"key_uri\" "
                            "are required when enabled", ctx->file,
                            c->hw_line);
    }

    if (strncmp(c->hw_key_uri, "pkcs11:", 7) != 0) {
        return ovsa_err_set(ctx->err, OVSA_E_CONF_VALUE,
                            "%s:%d: hardware_key.key_uri: not an RFC 7512 "
                            "\"pkcs11:\" URI", ctx->file, c->hw_line);
    }

    if ((c->hw_pin_file == NULL) == (c->hw_pin_env == NULL)) {
        return ovsa_err_set(ctx->err, OVSA_E_CONF_VALUE,
                            "%s:%d: hardware_key: exactly one of \"pin_file\" "
                            "and \"pin_env\" is required", ctx->file,
                            c->hw_line);
    }

    if ((c->hw_tls_chain == NULL) != (c->hw_tls_key == NULL)) {
        return ovsa_err_set(ctx->err, OVSA_E_CONF_MISSING,
                            "%s:%d: hardware_key: \"tls_chain\" and "
                            "\"tls_key\" go together (the TLS identity's "
                            "chain and its software key)", ctx->file,
                            c->hw_tls_line);
    }

    return OVSA_OK;
}


/*
 * Writes the dotted name of node ("backend.listen", "licenses.isv_certs[1]")
 * into buf: the keys and sequence indexes that lead to it from the root.
 * Only used for messages; an alias makes the first path found the name.
 */
static void
ovsa_conf_node_name(ovsa_conf_ctx_t *ctx, yaml_node_t *node, char *buf,
    size_t size)
{
    int                depth, found;
    char               part[128];
    size_t             i, pl, bl;
    yaml_node_t       *n, *parent, *k, *up;
    yaml_node_item_t  *it;
    yaml_node_pair_t  *pair;

    buf[0] = '\0';

    for (depth = 0; depth < 16; depth++) {
        found = 0;
        up = NULL;

        for (parent = ctx->doc.nodes.start;
             parent < ctx->doc.nodes.top && !found;
             parent++)
        {
            if (parent->type == YAML_MAPPING_NODE) {
                for (pair = parent->data.mapping.pairs.start;
                     pair < parent->data.mapping.pairs.top;
                     pair++)
                {
                    n = yaml_document_get_node(&ctx->doc, pair->value);
                    k = yaml_document_get_node(&ctx->doc, pair->key);
                    if (n == node && k->type == YAML_SCALAR_NODE) {
                        snprintf(part, sizeof(part), "%s%s",
                                 (char *) k->data.scalar.value,
                                 buf[0] && buf[0] != '[' ? "." : "");
                        up = parent;
                        found = 1;
                        break;
                    }
                }

            } else if (parent->type == YAML_SEQUENCE_NODE) {
                i = 0;
                for (it = parent->data.sequence.items.start;
                     it < parent->data.sequence.items.top;
                     it++, i++)
                {
                    if (yaml_document_get_node(&ctx->doc, *it) == node) {
                        snprintf(part, sizeof(part), "[%zu]%s", i,
                                 buf[0] && buf[0] != '[' ? "." : "");
                        up = parent;
                        found = 1;
                        break;
                    }
                }
            }
        }

        if (!found) {
            return;
        }

        /* prepend part; a name too long for buf keeps its tail */
        pl = strlen(part);
        bl = strlen(buf);
        if (pl + bl + 1 > size) {
            return;
        }
        memmove(buf + pl, buf, bl + 1);
        memcpy(buf, part, pl);
        node = up;
    }
}


/*
 * A key that appears twice in one mapping, at any level, is an error: YAML
 * says keys are unique, and libyaml would let the second one win silently.
 */
static int
ovsa_conf_repeated(ovsa_conf_ctx_t *ctx)
{
    char               name[256], full[384], reason[64];
    yaml_node_t       *node, *ka, *kb;
    yaml_node_pair_t  *a, *b;

    for (node = ctx->doc.nodes.start; node < ctx->doc.nodes.top; node++) {
        if (node->type != YAML_MAPPING_NODE) {
            continue;
        }

        for (a = node->data.mapping.pairs.start;
             a < node->data.mapping.pairs.top;
             a++)
        {
            ka = yaml_document_get_node(&ctx->doc, a->key);
            if (ka == NULL || ka->type != YAML_SCALAR_NODE) {
                continue;
            }

            for (b = node->data.mapping.pairs.start; b < a; b++) {
                kb = yaml_document_get_node(&ctx->doc, b->key);
                if (kb == NULL || kb->type != YAML_SCALAR_NODE
                    || kb->data.scalar.length != ka->data.scalar.length
                    || memcmp(kb->data.scalar.value, ka->data.scalar.value,
                              ka->data.scalar.length) != 0)
                {
                    continue;
                }

                ovsa_conf_node_name(ctx, node, name, sizeof(name));
                snprintf(full, sizeof(full), "%s%s%s", name,
                         name[0] ? "." : "", (char *) ka->data.scalar.value);
                snprintf(reason, sizeof(reason),
                         "duplicate key (first on line %lu)",
                         (unsigned long) kb->start_mark.line + 1);
                return ovsa_conf_fail(ctx, OVSA_E_CONF_KEY, ka, full,
                                      reason);
            }
        }
    }

    return OVSA_OK;
}


/*
 * Parses the YAML parser's input (set by the caller) as the configuration
 * file path, whose absolute name abs the configuration takes over.
 */
static int
ovsa_conf_parse(const char *path, char *abs, yaml_parser_t *parser,
    unsigned flags, ovsa_conf_t **out, ovsa_err_t *err)
{
    int                         rc, started;
    char                       *slash;
    yaml_node_t                *root, *key, *value;
    yaml_node_pair_t           *pair;
    ovsa_conf_ctx_t             ctx;
    const ovsa_conf_section_t  *s;

    rc = OVSA_ERR;
    started = 0;
    memset(&ctx, 0, sizeof(ctx));
    ctx.flags = flags;
    ctx.file = path;
    ctx.err = err;

    ctx.dir = strdup(abs);
    ctx.conf = calloc(1, sizeof(ovsa_conf_t));
    if (ctx.dir == NULL || ctx.conf == NULL
        || ovsa_conf_defaults(ctx.conf) != OVSA_OK)
    {
        ovsa_err_set(err, OVSA_E_NOMEM, "%s: out of memory", path);
        free(abs);
        goto end;
    }

    slash = strrchr(ctx.dir, '/');
    slash[slash == ctx.dir ? 1 : 0] = '\0';
    ctx.conf->file = abs;

    if (!yaml_parser_load(parser, &ctx.doc)) {
        if (parser->context) {
            ovsa_err_set(err, OVSA_E_CONF_SYNTAX,
                         "%s:%lu: malformed YAML: %s %s started at line %lu",
                         path, (unsigned long) parser->problem_mark.line + 1,
                         parser->problem, parser->context,
                         (unsigned long) parser->context_mark.line + 1);
        } else {
            ovsa_err_set(err, OVSA_E_CONF_SYNTAX,
                         "%s:%lu: malformed YAML: %s", path,
                         (unsigned long) parser->problem_mark.line + 1,
                         parser->problem ? parser->problem : "parse error");
        }
        goto end;
    }

    started = 1;

    root = yaml_document_get_root_node(&ctx.doc);
    if (root == NULL) {
        ovsa_err_set(err, OVSA_E_CONF_MISSING, "%s:1: identity: the file is "
                     "empty", path);
        goto end;
    }

    if (root->type != YAML_MAPPING_NODE) {
        ovsa_conf_fail(&ctx, OVSA_E_CONF_TYPE, root, "(top level)",
                       "expected a mapping of sections");
        goto end;
    }

    if (ovsa_conf_repeated(&ctx) != OVSA_OK) {
        goto end;
    }

    for (pair = root->data.mapping.pairs.start;
         pair < root->data.mapping.pairs.top;
         pair++)
    {
        key = yaml_document_get_node(&ctx.doc, pair->key);
        value = yaml_document_get_node(&ctx.doc, pair->value);

        for (s = ovsa_conf_sections; s->name; s++) {
            if (key->type == YAML_SCALAR_NODE
                && strcmp(s->name, (char *) key->data.scalar.value) == 0)
            {
                break;
            }
        }

        if (s->name == NULL) {
            ovsa_conf_fail(&ctx, OVSA_E_CONF_KEY, key,
                           key->type == YAML_SCALAR_NODE
                           ? (char *) key->data.scalar.value : "(complex)",
                           "unknown section");
            goto end;
        }

        if (ovsa_conf_section(&ctx, s, value) != OVSA_OK) {
            goto end;
        }
    }

    if (ovsa_conf_check(&ctx, root) != OVSA_OK) {
        goto end;
    }

    *out = ctx.conf;
    ctx.conf = NULL;
    rc = OVSA_OK;

end:

    if (started) {
        yaml_document_delete(&ctx.doc);
    }

    free(ctx.dir);
    ovsa_conf_free(ctx.conf);
    return rc;
}


int
ovsa_conf_load(const char *path, ovsa_conf_t **out, ovsa_err_t *err)
{
    return ovsa_conf_load_flags(path, 0, out, err);
}


int
ovsa_conf_load_flags(const char *path, unsigned flags, ovsa_conf_t **out,
    ovsa_err_t *err)
{
    int            rc;
    FILE          *fp;
    char          *abs;
    yaml_parser_t  parser;

    abs = realpath(path, NULL);
    if (abs == NULL) {
        return ovsa_err_set(err, OVSA_E_CONF_FILE, "%s: %s", path,
                            strerror(errno));
    }

    fp = fopen(abs, "r");
    if (fp == NULL) {
        ovsa_err_set(err, OVSA_E_CONF_FILE, "%s: %s", path, strerror(errno));
        free(abs);
        return OVSA_ERR;
    }

    if (!yaml_parser_initialize(&parser)) {
        fclose(fp);
        free(abs);
        return ovsa_err_set(err, OVSA_E_NOMEM, "%s: out of memory", path);
    }

    yaml_parser_set_input_file(&parser, fp);
    rc = ovsa_conf_parse(path, abs, &parser, flags, out, err);

    yaml_parser_delete(&parser);
    fclose(fp);
    return rc;
}


int
ovsa_conf_load_mem(const char *path, const char *text, size_t len,
    ovsa_conf_t **out, ovsa_err_t *err)
{
    int            rc;
    char          *dir, *abs, *slash;
    const char    *base;
    size_t         dl, bl;
    yaml_parser_t  parser;

    /* the directory must exist: relative file names resolve against it */
    slash = strrchr(path, '/');
    base = slash ? slash + 1 : path;
    dir = slash ? strndup(path, slash == path ? 1 : (size_t) (slash - path))
                : strdup(".");
    if (dir == NULL) {
        return ovsa_err_set(err, OVSA_E_NOMEM, "%s: out of memory", path);
    }

    abs = realpath(dir, NULL);
    free(dir);
    if (abs == NULL) {
        return ovsa_err_set(err, OVSA_E_CONF_FILE, "%s: %s", path,
                            strerror(errno));
    }

    dl = strlen(abs);
    bl = strlen(base);
    dir = abs;
    abs = malloc(dl + 1 + bl + 1);
    if (abs == NULL) {
        free(dir);
        return ovsa_err_set(err, OVSA_E_NOMEM, "%s: out of memory", path);
    }
    memcpy(abs, dir, dl);
    abs[dl] = '/';
    memcpy(abs + dl + (dl > 1 ? 1 : 0), base, bl + 1);
    free(dir);

    if (!yaml_parser_initialize(&parser)) {
        free(abs);
        return ovsa_err_set(err, OVSA_E_NOMEM, "%s: out of memory", path);
    }

    yaml_parser_set_input_string(&parser, (const unsigned char *) text, len);
    rc = ovsa_conf_parse(path, abs, &parser, 0, out, err);

    yaml_parser_delete(&parser);
    return rc;
}


void
ovsa_conf_free(ovsa_conf_t *conf)
{
    char  **p;

    if (conf == NULL) {
        return;
    }

    free(conf->file);
    free(conf->chain);
    free(conf->key);
    free(conf->root);
    free(conf->hw_module);
    free(conf->hw_key_uri);
    free(conf->hw_pin_file);
    free(conf->hw_pin_env);
    free(conf->hw_tls_chain);
    free(conf->hw_tls_key);
    free(conf->listen);
    free(conf->admin_listen);
    free(conf->metrics_listen);
    free(conf->admin_token_file);
    free(conf->trusted_peers);
    free(conf->redis_address);
    free(conf->redis_password_file);
    free(conf->redis_prefix);
    free(conf->redis_master_name);

    if (conf->redis_sentinels) {
        for (p = conf->redis_sentinels; *p; p++) {
            free(*p);
        }
        free(conf->redis_sentinels);
    }

    if (conf->isv_certs) {
        for (p = conf->isv_certs; *p; p++) {
            free(*p);
        }
        free(conf->isv_certs);
    }

    free(conf);
}


char *
ovsa_secret_read_file(const char *path, ovsa_err_t *err)
{
    FILE         *fp;
    char          buf[1024];
    char         *nl, *s;
    struct stat   st;

    fp = fopen(path, "r");
    if (fp == NULL) {
        ovsa_err_set(err, (errno == EACCES || errno == EPERM)
                          ? OVSA_E_PERMISSION : OVSA_E_IO,
                     "read secret: %s: %s", path, strerror(errno));
        return NULL;
    }

    /* the mode of the file opened, not of whatever the path names later */
    if (fstat(fileno(fp), &st) == -1) {
        ovsa_err_set(err, OVSA_E_IO, "read secret: %s: %s", path,
                     strerror(errno));
        fclose(fp);
        return NULL;
    }

    if (st.st_mode & (S_IRWXG | S_IRWXO)) {
        ovsa_err_set(err, OVSA_E_SECRET_MODE, "read secret: %s: mode %04o: "
                     "group and others must have no access (chmod 600)",
                     path, (unsigned) (st.st_mode & 07777));
        fclose(fp);
        return NULL;
    }

    if (fgets(buf, sizeof(buf), fp) == NULL) {
        fclose(fp);
        ovsa_err_set(err, OVSA_E_IO, "read secret: %s: file is empty", path);
        return NULL;
    }

    fclose(fp);

    nl = strpbrk(buf, "\r\n");
    if (nl) {
        *nl = '\0';
    }

    if (buf[0] == '\0') {
        OPENSSL_cleanse(buf, sizeof(buf));
        ovsa_err_set(err, OVSA_E_IO, "read secret: %s: first line is empty",
                     path);
        return NULL;
    }

    s = strdup(buf);
    OPENSSL_cleanse(buf, sizeof(buf));

    if (s == NULL) {
        ovsa_err_set(err, OVSA_E_NOMEM, "read secret: out of memory");
    }

    return s;
}


void
ovsa_secret_free(char *secret)
{
    if (secret != NULL) {
        OPENSSL_cleanse(secret, strlen(secret));
        free(secret);
    }
}
