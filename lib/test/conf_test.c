/*
 * conf_test.c: cmocka tests of lib/ovsa_conf.c: a valid default.yaml,
 * repeated keys at every mapping level (an error naming FILE:LINE with
 * OVSA_E_CONF_KEY, never a silent override), the in-memory loader, and
 * secret files (refused when group or others may access them).
 * The files the configuration names live in a temporary directory.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "ovsa_conf.h"

static char  dir[] = "/tmp/ovsa-conf-test-XXXXXX";
static char  yaml[sizeof(dir) + 32];

static const char  *files[] = {
    "chain.pem", "key.pem", "root.pem", "isv1.pem", "isv2.pem", "isv3.pem",
    "default.yaml"
};

#define BASE                                                                  \
    "identity:\n"                                                             \
    "  chain: chain.pem\n"                                                    \
    "  key: key.pem\n"                                                        \
    "  root: root.pem\n"


static int
setup(void **state)
{
    size_t  i;
    char    path[sizeof(dir) + 32];
    FILE   *fp;

    if (mkdtemp(dir) == NULL) {
        return -1;
    }

    for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
        fp = fopen(path, "w");
        if (fp == NULL) {
            return -1;
        }
        fputs("placeholder\n", fp);
        fclose(fp);
    }

    snprintf(yaml, sizeof(yaml), "%s/default.yaml", dir);
    return 0;
}


static int
teardown(void **state)
{
    size_t  i;
    char    path[sizeof(dir) + 32];

    for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
        unlink(path);
    }

    rmdir(dir);
    return 0;
}


/* loads text as default.yaml; returns the code (OVSA_E_NONE on success) */
static int
load(const char *text, ovsa_conf_t **out, ovsa_err_t *err)
{
    FILE  *fp;

    fp = fopen(yaml, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);

    *out = NULL;
    ovsa_err_clear(err);

    if (ovsa_conf_load(yaml, out, err) != OVSA_OK) {
        assert_null(*out);
        assert_int_not_equal(err->code, OVSA_E_NONE);
        return err->code;
    }

    assert_non_null(*out);
    return OVSA_E_NONE;
}


/* asserts that text fails with code and a message ending in want */
static void
refused(const char *text, int code, const char *want)
{
    char          msg[600];
    ovsa_conf_t  *conf;
    ovsa_err_t    err;

    assert_int_equal(load(text, &conf, &err), code);
    snprintf(msg, sizeof(msg), "%s:%s", yaml, want);
    assert_string_equal(err.msg, msg);
}


static void
test_valid(void **state)
{
    char          path[sizeof(dir) + 32];
    ovsa_conf_t  *conf;
    ovsa_err_t    err;

    assert_int_equal(load(BASE
                          "licenses:\n"
                          "  isv_certs: [isv1.pem, isv2.pem]\n"
                          "redis:\n"
                          "  db: 3\n", &conf, &err), OVSA_E_NONE);

    assert_int_equal(conf->n_isv_certs, 2);
    snprintf(path, sizeof(path), "%s/isv2.pem", dir);
    assert_string_equal(conf->isv_certs[1], path);
    assert_null(conf->isv_certs[2]);
    assert_int_equal(conf->redis_db, 3);
    assert_int_equal(conf->redis_cluster, 0);     /* the default */
    assert_int_equal(conf->chain_line, 2);
    /* issue 11 part A defaults: durability required, breaker 1 s */
    assert_int_equal(conf->redis_require_durable, 1);
    assert_int_equal(conf->redis_connect_timeout, 500);
    assert_int_equal(conf->redis_breaker_open, 1000);
    ovsa_conf_free(conf);

    assert_int_equal(load(BASE
                          "redis:\n"
                          "  require_durable: false\n"
                          "  connect_timeout_ms: 200\n"
                          "  breaker_open_ms: 250\n", &conf, &err),
                     OVSA_E_NONE);
    assert_int_equal(conf->redis_require_durable, 0);
    assert_int_equal(conf->redis_connect_timeout, 200);
    assert_int_equal(conf->redis_breaker_open, 250);
    ovsa_conf_free(conf);

    assert_int_equal(load(BASE
                          "redis:\n"
                          "  breaker_open_ms: 50\n", &conf, &err),
                     OVSA_E_CONF_VALUE);
}


static void
test_sentinel(void **state)
{
    ovsa_conf_t  *conf;
    ovsa_err_t    err;

    assert_int_equal(load(BASE
                          "redis:\n"
                          "  sentinels: [\"127.0.0.1:26379\", \"[::1]:26380\"]\n"
                          "  master_name: ovsa\n"
                          "  min_replicas_ack: 1\n"
                          "  replicas_ack_timeout_ms: 250\n", &conf, &err),
                     OVSA_E_NONE);
    assert_int_equal(conf->n_redis_sentinels, 2);
    assert_string_equal(conf->redis_sentinels[1], "[::1]:26380");
    assert_null(conf->redis_sentinels[2]);
    assert_string_equal(conf->redis_master_name, "ovsa");
    assert_int_equal(conf->redis_min_replicas_ack, 1);
    assert_int_equal(conf->redis_replicas_ack_timeout, 250);
    ovsa_conf_free(conf);

    /* defaults: no Sentinel, no WAIT */
    assert_int_equal(load(BASE, &conf, &err), OVSA_E_NONE);
    assert_null(conf->redis_sentinels);
    assert_int_equal(conf->redis_min_replicas_ack, 0);
    assert_int_equal(conf->redis_replicas_ack_timeout, 1000);
    ovsa_conf_free(conf);

    refused(BASE
            "redis:\n"
            "  sentinels: [\"127.0.0.1:26379\"]\n",
            OVSA_E_CONF_MISSING,
            "6: redis: \"sentinels\" and \"master_name\" go together "
            "(Sentinel), or neither is set");

    refused(BASE
            "redis:\n"
            "  master_name: ovsa\n",
            OVSA_E_CONF_MISSING,
            "6: redis: \"sentinels\" and \"master_name\" go together "
            "(Sentinel), or neither is set");

    refused(BASE
            "redis:\n"
            "  sentinels: []\n"
            "  master_name: ovsa\n",
            OVSA_E_CONF_TYPE,
            "6: redis.sentinels: expected a non-empty list of \"host:port\"");

    refused(BASE
            "redis:\n"
            "  sentinels: [\"127.0.0.1:26379\", \"unix:/tmp/s\"]\n"
            "  master_name: ovsa\n",
            OVSA_E_CONF_VALUE,
            "6: redis.sentinels[1]: expected \"host:port\"");

    refused(BASE
            "redis:\n"
            "  min_replicas_ack: -1\n",
            OVSA_E_CONF_VALUE,
            "6: redis.min_replicas_ack: -1 is out of range 0..64");

    /* part C: a cluster seed */
    assert_int_equal(load(BASE
                          "licenses:\n"
                          "  isv_certs: [isv1.pem]\n"
                          "redis:\n"
                          "  cluster: true\n", &conf, &err), OVSA_E_NONE);
    assert_int_equal(conf->redis_cluster, 1);
    ovsa_conf_free(conf);

    /* Sentinel and Cluster exclude each other */
    refused(BASE
            "redis:\n"
            "  sentinels: [\"127.0.0.1:26379\"]\n"
            "  master_name: ovsa\n"
            "  cluster: true\n",
            OVSA_E_CONF_VALUE,
            "6: redis: \"sentinels\" and \"cluster\" exclude each other "
            "(a Redis Cluster fails over by itself)");
}


static void
test_duplicate_section(void **state)
{
    /* the report: a second licenses: overrode the first (and leaked it) */
    refused(BASE
            "licenses:\n"
            "  isv_certs: [isv1.pem, isv2.pem]\n"
            "redis:\n"
            "  db: 3\n"
            "licenses:\n"
            "  isv_certs: [isv3.pem]\n",
            OVSA_E_CONF_KEY,
            "9: licenses: duplicate key (first on line 5)");

    refused(BASE
            "identity:\n"
            "  chain: chain.pem\n",
            OVSA_E_CONF_KEY,
            "5: identity: duplicate key (first on line 1)");

    /* the same key however it is quoted */
    refused(BASE
            "\"redis\": {db: 1}\n"
            "'redis': {db: 2}\n",
            OVSA_E_CONF_KEY,
            "6: redis: duplicate key (first on line 5)");

    /* an empty section repeated */
    refused(BASE
            "backend:\n"
            "backend:\n",
            OVSA_E_CONF_KEY,
            "6: backend: duplicate key (first on line 5)");
}


static void
test_duplicate_key(void **state)
{
    refused("identity:\n"
            "  chain: chain.pem\n"
            "  chain: chain.pem\n"
            "  key: key.pem\n"
            "  root: root.pem\n",
            OVSA_E_CONF_KEY,
            "3: identity.chain: duplicate key (first on line 2)");

    refused(BASE
            "licenses: {isv_certs: [isv1.pem], isv_certs: [isv2.pem]}\n",
            OVSA_E_CONF_KEY,
            "5: licenses.isv_certs: duplicate key (first on line 5)");

    /* deeper mappings are wrong anyway, but the repetition comes first */
    refused(BASE
            "backend:\n"
            "  listen:\n"
            "    host: a\n"
            "    host: b\n",
            OVSA_E_CONF_KEY,
            "8: backend.listen.host: duplicate key (first on line 7)");

    refused(BASE
            "licenses:\n"
            "  isv_certs:\n"
            "    - isv1.pem\n"
            "    - {a: 1, a: 2}\n",
            OVSA_E_CONF_KEY,
            "8: licenses.isv_certs[1].a: duplicate key (first on line 8)");
}


static void
test_load_mem(void **state)
{
    const char    *text;
    ovsa_conf_t   *conf;
    ovsa_err_t     err;

    text = BASE "licenses:\n  isv_certs: [isv1.pem]\n";
    assert_int_equal(ovsa_conf_load_mem(yaml, text, strlen(text), &conf,
                                        &err), OVSA_OK);
    assert_int_equal(conf->n_isv_certs, 1);
    assert_string_equal(conf->file, yaml);
    ovsa_conf_free(conf);

    /* not NUL-terminated: only len bytes count */
    assert_int_equal(ovsa_conf_load_mem(yaml, text, strlen(BASE) - 1, &conf,
                                        &err), OVSA_OK);
    assert_int_equal(conf->n_isv_certs, 0);
    ovsa_conf_free(conf);

    text = BASE "identity: {}\n";
    assert_int_equal(ovsa_conf_load_mem(yaml, text, strlen(text), &conf,
                                        &err), OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_CONF_KEY);

    assert_int_equal(ovsa_conf_load_mem("/nonexistent/default.yaml", text,
                                        strlen(text), &conf, &err),
                     OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_CONF_FILE);
}


/*
 * backend.trusted_peers and backend.listen_group: names and ids resolve
 * when loaded; an unknown name is an error at its line; the default is
 * the unix socket and www-data.
 */
static void
test_trusted_peers(void **state)
{
    ovsa_conf_t  *conf;
    ovsa_err_t    err;

    assert_int_equal(load(BASE, &conf, &err), OVSA_E_NONE);
    assert_string_equal(conf->listen, "unix:/run/ovsa/backend.sock");
    assert_int_equal(conf->listen_group, -1);
    assert_int_equal(conf->n_trusted_peers, 1);      /* www-data: uid 33 */
    assert_int_equal(conf->trusted_peers[0].id, 33);
    assert_int_equal(conf->trusted_peers[0].group, 0);
    ovsa_conf_free(conf);

    assert_int_equal(load(BASE
                          "backend:\n"
                          "  listen: unix:/tmp/x.sock\n"
                          "  listen_group: nogroup\n"
                          "  trusted_peers: [nobody, 4242, 'user:root',\n"
                          "                  'group:nogroup', 'group:7']\n",
                          &conf, &err), OVSA_E_NONE);
    assert_int_equal(conf->listen_group, 65534);
    assert_int_equal(conf->n_trusted_peers, 5);
    assert_int_equal(conf->trusted_peers[0].id, 65534);
    assert_int_equal(conf->trusted_peers[0].group, 0);
    assert_int_equal(conf->trusted_peers[1].id, 4242);
    assert_int_equal(conf->trusted_peers[2].id, 0);
    assert_int_equal(conf->trusted_peers[2].group, 0);
    assert_int_equal(conf->trusted_peers[3].id, 65534);
    assert_int_equal(conf->trusted_peers[3].group, 1);
    assert_int_equal(conf->trusted_peers[4].id, 7);
    assert_int_equal(conf->trusted_peers[4].group, 1);
    ovsa_conf_free(conf);

    /* an empty list: only the backend's own user */
    assert_int_equal(load(BASE "backend: {trusted_peers: []}\n", &conf,
                          &err), OVSA_E_NONE);
    assert_int_equal(conf->n_trusted_peers, 0);
    ovsa_conf_free(conf);

    refused(BASE
            "backend:\n"
            "  trusted_peers:\n"
            "    - www-data\n"
            "    - no-such-user-ovsa\n",
            OVSA_E_CONF_VALUE,
            "8: backend.trusted_peers[1]: no such user \"no-such-user-ovsa\"");

    refused(BASE
            "backend:\n"
            "  trusted_peers: ['group:no-such-group-ovsa']\n",
            OVSA_E_CONF_VALUE,
            "6: backend.trusted_peers[0]: no such group "
            "\"no-such-group-ovsa\"");

    refused(BASE "backend: {trusted_peers: [99999999999]}\n",
            OVSA_E_CONF_VALUE,
            "5: backend.trusted_peers[0]: no such user \"99999999999\"");

    refused(BASE "backend: {trusted_peers: www-data}\n",
            OVSA_E_CONF_TYPE,
            "5: backend.trusted_peers: expected a list of users and "
            "\"group:NAME\" groups");

    refused(BASE "backend: {trusted_peers: [[a]]}\n",
            OVSA_E_CONF_TYPE,
            "5: backend.trusted_peers[0]: expected a user name or uid, or "
            "\"group:NAME\"");

    refused(BASE
            "backend:\n"
            "  listen: unix:/tmp/x.sock\n"
            "  listen_group: no-such-group-ovsa\n",
            OVSA_E_CONF_VALUE,
            "7: backend.listen_group: no such group \"no-such-group-ovsa\"");

    refused(BASE
            "backend:\n"
            "  listen: 127.0.0.1:9080\n"
            "  listen_group: nogroup\n",
            OVSA_E_CONF_VALUE,
            "7: backend.listen_group: applies to a \"unix:\" backend.listen "
            "only");
}


/* A secret file: 0600 and 0400 are read; any group or other bit is
 * refused with OVSA_E_SECRET_MODE, naming the file and its mode. */
static void
test_secret_mode(void **state)
{
    char          path[sizeof(dir) + 32], want[512], *s;
    size_t        i;
    FILE         *fp;
    ovsa_err_t    err;
    const mode_t  ok[] = { 0600, 0400 };
    const mode_t  bad[] = { 0640, 0604, 0620, 0602, 0610, 0601, 0644 };

    snprintf(path, sizeof(path), "%s/token", dir);
    fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("s3cret-token-value\n", fp);
    fclose(fp);

    for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        assert_int_equal(chmod(path, ok[i]), 0);
        s = ovsa_secret_read_file(path, &err);
        assert_non_null(s);
        assert_string_equal(s, "s3cret-token-value");
        ovsa_secret_free(s);
    }

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(chmod(path, bad[i]), 0);
        ovsa_err_clear(&err);
        assert_null(ovsa_secret_read_file(path, &err));
        assert_int_equal(err.code, OVSA_E_SECRET_MODE);
        snprintf(want, sizeof(want), "read secret: %s: mode %04o: group and "
                 "others must have no access (chmod 600)", path,
                 (unsigned) bad[i]);
        assert_string_equal(err.msg, want);
    }

    unlink(path);
}


/* hardware_key.queue_max: 64 by default, 1..65536 */
static void
test_hw_queue_max(void **state)
{
    ovsa_conf_t  *conf;
    ovsa_err_t    err;

    assert_int_equal(load(BASE
                          "licenses:\n"
                          "  isv_certs: [isv1.pem]\n", &conf, &err),
                     OVSA_E_NONE);
    assert_int_equal(conf->hw_queue_max, 64);
    ovsa_conf_free(conf);

    assert_int_equal(load(BASE
                          "licenses:\n"
                          "  isv_certs: [isv1.pem]\n"
                          "hardware_key:\n"
                          "  queue_max: 8\n", &conf, &err), OVSA_E_NONE);
    assert_int_equal(conf->hw_queue_max, 8);
    ovsa_conf_free(conf);

    refused(BASE
            "hardware_key:\n"
            "  queue_max: 0\n",
            OVSA_E_CONF_VALUE,
            "6: hardware_key.queue_max: 0 is out of range 1..65536");
}


/* 12a: hardware_key.batch_window_ms 0 (off) by default, 0..200;
   batch_max 256 by default, 1..1024 */
static void
test_hw_batch(void **state)
{
    ovsa_conf_t  *conf;
    ovsa_err_t    err;

    assert_int_equal(load(BASE
                          "licenses:\n"
                          "  isv_certs: [isv1.pem]\n", &conf, &err),
                     OVSA_E_NONE);
    assert_int_equal(conf->hw_batch_window, 0);
    assert_int_equal(conf->hw_batch_max, 256);
    ovsa_conf_free(conf);

    assert_int_equal(load(BASE
                          "licenses:\n"
                          "  isv_certs: [isv1.pem]\n"
                          "hardware_key:\n"
                          "  batch_window_ms: 100\n"
                          "  batch_max: 512\n", &conf, &err), OVSA_E_NONE);
    assert_int_equal(conf->hw_batch_window, 100);
    assert_int_equal(conf->hw_batch_max, 512);
    ovsa_conf_free(conf);

    refused(BASE
            "hardware_key:\n"
            "  batch_window_ms: 201\n",
            OVSA_E_CONF_VALUE,
            "6: hardware_key.batch_window_ms: 201 is out of range 0..200");

    refused(BASE
            "hardware_key:\n"
            "  batch_max: 1025\n",
            OVSA_E_CONF_VALUE,
            "6: hardware_key.batch_max: 1025 is out of range 1..1024");
}


/*
 * 16a: OVSA_CONF_NO_NGINX_FILES (ovsa-backend, running as user ovsa): the
 * identity's and the token's files are resolved but not opened, so a key
 * the backend may not read is no reason to refuse; the files the backend
 * does open (admin token, ISV certificates) are still checked, and
 * without the flag a missing identity file is still refused.
 */
static void
test_no_nginx_files(void **state)
{
    char          want[sizeof(dir) + 64];
    ovsa_conf_t  *conf;
    ovsa_err_t    err;
    FILE         *fp;
    const char   *text =
        "identity:\n"
        "  chain: chain.pem\n"
        "  key: missing-key.pem\n"
        "  root: root.pem\n"
        "hardware_key:\n"
        "  pin_file: missing.pin\n"
        "licenses:\n"
        "  isv_certs: [isv1.pem]\n";

    assert_int_equal(load(text, &conf, &err), OVSA_E_CONF_FILE);
    assert_non_null(strstr(err.msg, "identity.key:"));

    ovsa_err_clear(&err);
    conf = NULL;
    assert_int_equal(ovsa_conf_load_flags(yaml, OVSA_CONF_NO_NGINX_FILES,
                                          &conf, &err), OVSA_OK);
    assert_non_null(conf);
    snprintf(want, sizeof(want), "%s/missing-key.pem", dir);
    assert_string_equal(conf->key, want);
    snprintf(want, sizeof(want), "%s/missing.pin", dir);
    assert_string_equal(conf->hw_pin_file, want);
    ovsa_conf_free(conf);

    /* what the backend opens is checked as before */
    fp = fopen(yaml, "w");
    assert_non_null(fp);
    fputs(BASE "licenses:\n  isv_certs: [missing-isv.pem]\n", fp);
    fclose(fp);
    conf = NULL;
    ovsa_err_clear(&err);
    assert_int_equal(ovsa_conf_load_flags(yaml, OVSA_CONF_NO_NGINX_FILES,
                                          &conf, &err), OVSA_ERR);
    assert_null(conf);
    assert_int_equal(err.code, OVSA_E_CONF_FILE);
    assert_non_null(strstr(err.msg, "licenses.isv_certs"));
}


/* 16c: metrics.listen (none by default), metrics.gauge_interval_s */
static void
test_metrics(void **state)
{
    ovsa_conf_t  *conf;
    ovsa_err_t    err;

    assert_int_equal(load(BASE
                          "licenses:\n"
                          "  isv_certs: [isv1.pem]\n", &conf, &err),
                     OVSA_E_NONE);
    assert_null(conf->metrics_listen);
    assert_int_equal(conf->metrics_gauge_interval, 30);
    ovsa_conf_free(conf);

    assert_int_equal(load(BASE
                          "licenses:\n"
                          "  isv_certs: [isv1.pem]\n"
                          "metrics:\n"
                          "  listen: 127.0.0.1:9464\n"
                          "  gauge_interval_s: 5\n", &conf, &err),
                     OVSA_E_NONE);
    assert_string_equal(conf->metrics_listen, "127.0.0.1:9464");
    assert_int_equal(conf->metrics_gauge_interval, 5);
    ovsa_conf_free(conf);

    refused(BASE
            "metrics:\n"
            "  gauge_interval_s: 0\n",
            OVSA_E_CONF_VALUE,
            "6: metrics.gauge_interval_s: 0 is out of range 1..3600");
}


/* 12b: hardware_key.tls_chain + tls_key: both or neither, hardware mode
 * only */
static void
test_hw_tls(void **state)
{
    ovsa_conf_t  *conf;
    ovsa_err_t    err;

#define HW_BASE                                                               \
    "identity:\n"                                                             \
    "  chain: chain.pem\n"                                                    \
    "  root: root.pem\n"                                                      \
    "hardware_key:\n"                                                         \
    "  enabled: true\n"                                                       \
    "  module: isv3.pem\n"                                                    \
    "  key_uri: \"pkcs11:token=t;object=o;type=private\"\n"                   \
    "  pin_file: isv2.pem\n"

    assert_int_equal(load(HW_BASE
                          "  tls_chain: isv1.pem\n"
                          "  tls_key: key.pem\n", &conf, &err), OVSA_E_NONE);
    assert_non_null(conf->hw_tls_chain);
    assert_non_null(conf->hw_tls_key);
    assert_non_null(strstr(conf->hw_tls_chain, "/isv1.pem"));
    assert_non_null(strstr(conf->hw_tls_key, "/key.pem"));
    ovsa_conf_free(conf);

    assert_int_equal(load(HW_BASE, &conf, &err), OVSA_E_NONE);
    assert_null(conf->hw_tls_chain);
    assert_null(conf->hw_tls_key);
    ovsa_conf_free(conf);

    refused(HW_BASE
            "  tls_chain: isv1.pem\n",
            OVSA_E_CONF_MISSING,
            "9: hardware_key: \"tls_chain\" and \"tls_key\" go together "
            "(the TLS identity's chain and its software key)");

    refused(HW_BASE
            "  tls_key: key.pem\n",
            OVSA_E_CONF_MISSING,
            "9: hardware_key: \"tls_chain\" and \"tls_key\" go together "
            "(the TLS identity's chain and its software key)");

    refused(BASE
            "hardware_key:\n"
            "  tls_chain: isv1.pem\n"
            "  tls_key: key.pem\n",
            OVSA_E_CONF_VALUE,
            "7: hardware_key: \"tls_chain\" and \"tls_key\" need "
            "hardware_key.enabled: true (in software mode identity.key "
            "serves TLS)");

#undef HW_BASE
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_sentinel),
        cmocka_unit_test(test_duplicate_section),
        cmocka_unit_test(test_duplicate_key),
        cmocka_unit_test(test_load_mem),
        cmocka_unit_test(test_secret_mode),
        cmocka_unit_test(test_trusted_peers),
        cmocka_unit_test(test_hw_queue_max),
        cmocka_unit_test(test_hw_batch),
        cmocka_unit_test(test_no_nginx_files),
        cmocka_unit_test(test_metrics),
        cmocka_unit_test(test_hw_tls),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
