/*
 * main.c: ovsa-backend, the license-state daemon.  Options, start-up from
 * default.yaml, signals and graceful shutdown.
 *
 *   ovsa-backend [-c default.yaml] [-t]
 *
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

#include "backend.h"
#include "license.h"
#include "store.h"

#define OVSA_DEFAULT_CONF   "/etc/ovsa/default.yaml"
#define OVSA_DRAIN_SECONDS  30

ovsa_backend_t  ovsa_backend;

typedef enum {
    OPT_ERR = -1, OPT_HELP, OPT_CONF, OPT_TEST
} ovsa_opt_t;

static const struct {
    const char  *name;
    ovsa_opt_t   opt;
    const char  *arg;
    const char  *help;
} ovsa_options[] = {
    { "help", OPT_HELP, NULL, "Display this summary" },
    { "c", OPT_CONF, "FILE", "Configuration (default " OVSA_DEFAULT_CONF ")" },
    { "t", OPT_TEST, NULL, "Check the configuration and exit" },
    { NULL, OPT_ERR, NULL, NULL }
};


static void
ovsa_usage(void)
{
    fprintf(stderr, "Usage: " OVSA_BACKEND_NAME " [options]\n"
                    "Valid options are:\n");

    char  buf[32];
    int   i;

    for (i = 0; ovsa_options[i].name != NULL; i++) {
        snprintf(buf, sizeof(buf), "%s%s%s", ovsa_options[i].name,
                 ovsa_options[i].arg ? " " : "",
                 ovsa_options[i].arg ? ovsa_options[i].arg : "");
        fprintf(stderr, " -%-10s %s\n", buf, ovsa_options[i].help);
    }
}


static ovsa_opt_t
ovsa_opt(const char *arg)
{
    int  i;

    if (arg[0] != '-') {
        return OPT_ERR;
    }

    arg += (arg[1] == '-') ? 2 : 1;

    for (i = 0; ovsa_options[i].name != NULL; i++) {
        if (strcmp(arg, ovsa_options[i].name) == 0) {
            return ovsa_options[i].opt;
        }
    }

    return OPT_ERR;
}


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
    int                 ret, i, test, fd, afd, sig;
    char               *redis_pw;
    time_t              deadline;
    sigset_t            set;
    const char         *conf_file, *unix_pub, *unix_adm;
    ovsa_err_t          err;
    ovsa_conf_t        *conf;
    ovsa_store_conf_t   sc;
    struct MHD_Daemon  *pub, *adm;

    ret = 1;
    test = 0;
    fd = -1;
    afd = -1;
    pub = NULL;
    adm = NULL;
    conf = NULL;
    redis_pw = NULL;
    unix_pub = NULL;
    unix_adm = NULL;
    conf_file = OVSA_DEFAULT_CONF;
    ovsa_err_clear(&err);

    for (i = 1; i < argc; i++) {
        switch (ovsa_opt(argv[i])) {
        case OPT_HELP:
            ovsa_usage();
            return 0;
        case OPT_CONF:
            if (++i == argc) {
                goto opthelp;
            }
            conf_file = argv[i];
            break;
        case OPT_TEST:
            test = 1;
            break;
        default:
            goto opthelp;
        }
    }

    if (ovsa_conf_load(conf_file, &conf, &err) != OVSA_OK
        || ovsa_backend_setup(conf, &redis_pw, &err) != OVSA_OK)
    {
        ovsa_log("emerg", "%s (%s)", err.msg, ovsa_code_name(err.code));
        goto end;
    }

    if (test) {
        fprintf(stderr, OVSA_BACKEND_NAME ": configuration %s is ok\n",
                conf->file);
        ret = 0;
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

    fd = ovsa_http_listen(conf->listen, &err);
    if (fd == -1) {
        ovsa_log("emerg", "backend.listen: %s", err.msg);
        goto end;
    }

    if (strncmp(conf->listen, "unix:", 5) == 0) {
        unix_pub = conf->listen + 5;
    }

    afd = ovsa_http_listen(conf->admin_listen, &err);
    if (afd == -1) {
        ovsa_log("emerg", "backend.admin_listen: %s", err.msg);
        goto end;
    }

    if (strncmp(conf->admin_listen, "unix:", 5) == 0) {
        unix_adm = conf->admin_listen + 5;
    }

    pub = ovsa_http_start(fd, conf->threads, 0, &err);
    adm = (pub != NULL) ? ovsa_http_start(afd, 1, 1, &err) : NULL;
    if (pub == NULL || adm == NULL) {
        ovsa_log("emerg", "%s", err.msg);
        goto end;
    }

    ovsa_log("notice", "serving %s (admin %s), %d threads, redis %s%s",
             conf->listen, conf->admin_listen, conf->threads,
             conf->redis_address, ovsa_backend.hw_mode
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
    close(fd);
    close(afd);
    fd = -1;
    afd = -1;

    deadline = time(NULL) + OVSA_DRAIN_SECONDS;
    while (ovsa_http_inflight() > 0 && time(NULL) < deadline) {
        usleep(10000);
    }

    ret = 0;

end:

    if (pub != NULL) {
        MHD_stop_daemon(pub);
    }

    if (adm != NULL) {
        MHD_stop_daemon(adm);
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

    ovsa_isv_free(ovsa_backend.isv);
    ovsa_secret_free(ovsa_backend.admin_token);
    ovsa_secret_free(redis_pw);
    ovsa_conf_free(conf);

    return ret;

opthelp:

    fprintf(stderr, OVSA_BACKEND_NAME ": Use -help for summary.\n");

    return 1;
}
