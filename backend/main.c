/*
 * main.c: ovsa-backend, the license-state daemon.  Options, start-up from
 * default.yaml, signals and graceful shutdown.
 *
 *   ovsa-backend [-c default.yaml] [-t]
 *
 * Exit status (lib/ovsa_opt.h, docs/cli.md): 0 after a clean stop or a
 * good -t, 1 when the configuration or the start fails, 2 on usage.
 * SIGTERM/SIGINT: stop accepting, let requests in flight finish, exit 0.
 * SIGHUP is ignored (logged): the configuration is read at start only.
 */

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "backend.h"
#include "license.h"
#include "ovsa_opt.h"
#include "store.h"

#define OVSA_DEFAULT_CONF   "/etc/ovsa/default.yaml"
#define OVSA_DRAIN_SECONDS  30

ovsa_backend_t  ovsa_backend;

enum {
    OPT_CONF = 1, OPT_TEST
};

static const ovsa_opt_t ovsa_backend_opts[] = {
    { "c", NULL, OPT_CONF, OVSA_OPT_STR, "FILE",
      "Configuration (default " OVSA_DEFAULT_CONF ")" },
    { "t", NULL, OPT_TEST, OVSA_OPT_FLAG, NULL,
      "Check the configuration and exit" },
    { NULL, NULL, 0, 0, NULL, NULL }
};

static const ovsa_opt_prog_t ovsa_backend_prog = {
    OVSA_BACKEND_NAME, "[options]", ovsa_backend_opts, NULL,
    OVSA_EXIT_BIT(OVSA_EXIT_OK) | OVSA_EXIT_BIT(OVSA_EXIT_ERROR)
    | OVSA_EXIT_BIT(OVSA_EXIT_USAGE)
};


/* Reads the secrets and certificates default.yaml names. */
static int
ovsa_backend_setup(ovsa_conf_t *conf, char **redis_pw, ovsa_err_t *err)
{
    ovsa_isv_t  *isv;

    if (strlen(conf->redis_prefix) > 64) {
        return ovsa_err_set(err, OVSA_E_CONF_VALUE,
                            "%s: redis.prefix: longer than 64 characters",
                            conf->file);
    }

    ovsa_backend.conf = conf;
    ovsa_backend.hw_mode = conf->hw_enabled;
    ovsa_backend.max_body = conf->max_body;

    if (conf->admin_token_file != NULL) {
        ovsa_backend.admin_token = ovsa_secret_read_file(
                                       conf->admin_token_file, err);
        if (ovsa_backend.admin_token == NULL) {
            return OVSA_ERR;
        }

        ovsa_backend.admin_token_len = strlen(ovsa_backend.admin_token);
        if (ovsa_backend.admin_token_len < 16) {
            return ovsa_err_set(err, OVSA_E_CONF_VALUE,
                                "%s: backend.admin_token_file: the token must "
                                "be at least 16 characters", conf->file);
        }

        SHA256((const unsigned char *) ovsa_backend.admin_token,
               ovsa_backend.admin_token_len,
               ovsa_backend.admin_token_sha256);
    }

    if (conf->redis_password_file != NULL) {
        *redis_pw = ovsa_secret_read_file(conf->redis_password_file, err);
        if (*redis_pw == NULL) {
            return OVSA_ERR;
        }
    }

    if (ovsa_isv_load(conf, &isv, err) != OVSA_OK) {
        return OVSA_ERR;
    }

    ovsa_backend.isv = isv;

    return OVSA_OK;
}


int
main(int argc, char **argv)
{
    int                 ret, o, test, fd, afd, mfd, sig;
    char               *redis_pw, *help;
    time_t              deadline;
    sigset_t            set;
    const char         *conf_file, *unix_pub, *unix_adm, *unix_met;
    ovsa_err_t          err;
    ovsa_conf_t        *conf;
    ovsa_opt_state_t    st;
    ovsa_store_conf_t   sc;
    struct MHD_Daemon  *pub, *adm, *met;

    ret = OVSA_EXIT_ERROR;
    test = 0;
    fd = -1;
    afd = -1;
    mfd = -1;
    pub = NULL;
    adm = NULL;
    met = NULL;
    conf = NULL;
    redis_pw = NULL;
    unix_pub = NULL;
    unix_adm = NULL;
    unix_met = NULL;
    conf_file = OVSA_DEFAULT_CONF;
    ovsa_err_clear(&err);

    ovsa_opt_init(&st, &ovsa_backend_prog, argc, argv);

    while ((o = ovsa_opt_next(&st)) != OVSA_OPT_EOF) {
        switch (o) {
        case OVSA_OPT_HELP:
            help = ovsa_opt_help(&ovsa_backend_prog);
            printf("%s", help ? help : "");
            free(help);
            return OVSA_EXIT_OK;
        case OPT_CONF:
            conf_file = st.val;
            break;
        case OPT_TEST:
            test = 1;
            break;
        default:
            goto opthelp;
        }
    }

    if (ovsa_opt_args(&st, 0) != 0) {
        goto opthelp;
    }

    /* the backend never opens the identity or the token: it needs no
     * access to the server's key (it runs as its own user) */
    if (ovsa_conf_load_flags(conf_file, OVSA_CONF_NO_NGINX_FILES, &conf, &err)
            != OVSA_OK
        || ovsa_backend_setup(conf, &redis_pw, &err) != OVSA_OK)
    {
        ovsa_log("emerg", "%s (%s)", err.msg, ovsa_code_name(err.code));
        goto end;
    }

    if (test) {
        fprintf(stderr, OVSA_BACKEND_NAME ": configuration %s is ok\n",
                conf->file);
        ret = OVSA_EXIT_OK;
        goto end;
    }

    if (ovsa_backend.admin_token == NULL) {
        ovsa_log("warn", "backend.admin_token_file not set: the admin API "
                 "refuses every request");
    }

    sc.address = conf->redis_address;
    sc.db = conf->redis_db;
    sc.password = redis_pw;
    sc.prefix = conf->redis_prefix;
    sc.timeout_ms = conf->redis_timeout;
    sc.connect_timeout_ms = conf->redis_connect_timeout;
    sc.require_durable = conf->redis_require_durable;
    sc.breaker_open_ms = conf->redis_breaker_open;

    if (!conf->redis_require_durable) {
        ovsa_log("warn", "redis.require_durable is false: state-changing "
                 "operations are served even when Redis does not persist "
                 "them (no append-only file, appendfsync no, or an "
                 "evicting maxmemory-policy); a Redis crash can then lose "
                 "acknowledged activations, uses and leases");
    }
    sc.sentinels = conf->redis_sentinels;
    sc.master_name = conf->redis_master_name;
    sc.min_replicas_ack = conf->redis_min_replicas_ack;
    sc.replicas_ack_timeout_ms = conf->redis_replicas_ack_timeout;
    sc.cluster = conf->redis_cluster;
    sc.audit = conf->audit_enabled;                   /* 16d */

    if (ovsa_store_init(&sc, &err) != OVSA_OK) {
        ovsa_log("emerg", "%s", err.msg);
        goto end;
    }

    if (ovsa_store_load_scripts(&err) != OVSA_OK) {
        if (err.code != OVSA_E_TRANSPORT) {
            ovsa_log("emerg", "%s", err.msg);
            goto end;
        }
        ovsa_log("warn", "%s; answering 503 until it is reachable",
                 err.msg);
    }

    /* the HTTP threads make their own connections */
    ovsa_store_close();

    /* every thread started from here on inherits the blocked signals */
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    fd = ovsa_http_listen(conf->listen, conf->listen_group, &err);
    if (fd == -1) {
        ovsa_log("emerg", "backend.listen: %s", err.msg);
        goto end;
    }

    if (strncmp(conf->listen, "unix:", 5) == 0) {
        unix_pub = conf->listen + 5;
    }

    afd = ovsa_http_listen(conf->admin_listen, -1, &err);
    if (afd == -1) {
        ovsa_log("emerg", "backend.admin_listen: %s", err.msg);
        goto end;
    }

    if (strncmp(conf->admin_listen, "unix:", 5) == 0) {
        unix_adm = conf->admin_listen + 5;
    }

    /* 16c: the optional unauthenticated metrics listener */
    if (conf->metrics_listen != NULL) {
        mfd = ovsa_http_listen(conf->metrics_listen, -1, &err);
        if (mfd == -1) {
            ovsa_log("emerg", "metrics.listen: %s", err.msg);
            goto end;
        }

        if (strncmp(conf->metrics_listen, "unix:", 5) == 0) {
            unix_met = conf->metrics_listen + 5;
        }
    }

    pub = ovsa_http_start(fd, conf->threads, 0, &err);
    adm = (pub != NULL) ? ovsa_http_start(afd, 1, 1, &err) : NULL;
    met = (adm != NULL && mfd != -1) ? ovsa_http_start(mfd, 1, 2, &err)
                                     : NULL;
    if (pub == NULL || adm == NULL || (mfd != -1 && met == NULL)) {
        ovsa_log("emerg", "%s", err.msg);
        goto end;
    }

    ovsa_log("notice", "serving %s (admin %s), %d threads, redis %s%s%s",
             conf->listen, conf->admin_listen, conf->threads,
             conf->redis_address,
             conf->redis_cluster ? " (cluster seed node)" : "",
             ovsa_backend.hw_mode
             ? ", hardware-key mode" : "");

    do {
        if (sigwait(&set, &sig) != 0) {
            sig = 0;
        }
        if (sig == SIGHUP) {
            ovsa_log("notice", "SIGHUP ignored: restart to read %s again",
                     conf->file);
        }
    } while (sig != SIGTERM && sig != SIGINT);

    ovsa_log("notice", "signal %d: draining", sig);

    /* stop accepting, then let the requests in flight finish */
    MHD_quiesce_daemon(pub);
    MHD_quiesce_daemon(adm);
    if (met != NULL) {
        MHD_quiesce_daemon(met);
    }
    close(fd);
    close(afd);
    fd = -1;
    afd = -1;
    if (mfd != -1) {
        close(mfd);
        mfd = -1;
    }

    deadline = time(NULL) + OVSA_DRAIN_SECONDS;
    while (ovsa_http_inflight() > 0 && time(NULL) < deadline) {
        usleep(10000);
    }

    ret = OVSA_EXIT_OK;

end:

    if (pub != NULL) {
        MHD_stop_daemon(pub);
    }

    if (adm != NULL) {
        MHD_stop_daemon(adm);
    }

    if (met != NULL) {
        MHD_stop_daemon(met);
    }

    if (mfd != -1) {
        close(mfd);
    }

    if (unix_met != NULL) {
        unlink(unix_met);
    }

    if (fd != -1) {
        close(fd);
    }

    if (afd != -1) {
        close(afd);
    }

    /* remove the socket files this process created */
    if (unix_pub != NULL) {
        unlink(unix_pub);
    }

    if (unix_adm != NULL) {
        unlink(unix_adm);
    }

    if (ret == 0 && !test) {
        ovsa_log("notice", "exiting");
    }

    ovsa_log_flush();

    ovsa_isv_free(ovsa_backend.isv);
    ovsa_secret_free(ovsa_backend.admin_token);
    ovsa_secret_free(redis_pw);
    ovsa_conf_free(conf);

    return ret;

opthelp:

    fprintf(stderr, OVSA_BACKEND_NAME ": %s\n"
            OVSA_BACKEND_NAME ": Use -help for summary.\n", st.msg);

    return OVSA_EXIT_USAGE;
}
