/*
 * widget.c: a small protected program, node-locked or floating.
 *
 *   widget [-floating] [-run S] [-every S] [-heartbeat S] [-checkers N]
 *          LICENSE ISV STATE
 *
 * Node-locked: activates, then checks every -every seconds (default 1)
 * for -run seconds (default 0: once); it keeps running while the checks
 * allow it (from the server, or offline from the saved answer until its
 * valid_until) and stops (exit 3) as soon as one does not.
 *
 * Floating: takes a lease, kept alive by the SDK's heartbeat thread, runs
 * for -run seconds and exits normally: the SDK releases the lease at
 * exit.  When the lease is lost (released by the operator, or expired)
 * the callback reports it and the program stops (exit 3).  -checkers N
 * runs N threads that check the license on the same handle every
 * second meanwhile (one handle, many threads: docs/sdk.md "Threads").
 */

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ovsa.h>

static volatile sig_atomic_t  lost, done;
static pthread_mutex_t        count_lock = PTHREAD_MUTEX_INITIALIZER;
static long                   checks_ok, checks_refused;


/* a thread of the program that checks the license on the shared handle */
static void *
checker(void *arg)
{
    ovsa_sdk_t         *lic = arg;
    ovsa_sdk_status_t   st;

    while (!done && !lost) {
        (void) ovsa_sdk_check(lic, &st);
        pthread_mutex_lock(&count_lock);
        if (st.allowed) {
            checks_ok++;
        } else {
            checks_refused++;
            printf("checker: refused %s: %s\n", st.code_name, st.message);
            fflush(stdout);
        }
        pthread_mutex_unlock(&count_lock);
        sleep(1);
    }

    return NULL;
}


static void
on_lease_lost(ovsa_sdk_t *lic, const ovsa_sdk_status_t *st, void *arg)
{
    (void) lic;
    (void) arg;
    printf("lease lost: %s: %s\n", st->code_name, st->message);
    fflush(stdout);
    lost = 1;
}


static void
show(const char *what, const ovsa_sdk_status_t *st)
{
    printf("%s: %s %s, valid until %lld%s%s%s\n", what,
           st->allowed ? "allowed" : "refused", st->code_name,
           st->valid_until, st->cached ? " (offline: saved answer)" : "",
           st->message[0] ? ": " : "", st->message);
    fflush(stdout);
}


int
main(int argc, char **argv)
{
    int                 i, floating, nthreads;
    pthread_t           threads[16];
    long                run, every;
    time_t              end;
    ovsa_sdk_t         *lic;
    ovsa_sdk_conf_t     conf;
    ovsa_sdk_status_t   st;

    floating = 0;
    nthreads = 0;
    run = 0;
    every = 1;
    memset(&conf, 0, sizeof(conf));

    for (i = 1; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "-floating") == 0) {
            floating = 1;
        } else if (strcmp(argv[i], "-run") == 0 && i + 1 < argc) {
            run = atol(argv[++i]);
        } else if (strcmp(argv[i], "-every") == 0 && i + 1 < argc) {
            every = atol(argv[++i]);
        } else if (strcmp(argv[i], "-checkers") == 0 && i + 1 < argc) {
            nthreads = atoi(argv[++i]);
            nthreads = nthreads < 0 ? 0 : nthreads > 16 ? 16 : nthreads;
        } else if (strcmp(argv[i], "-heartbeat") == 0 && i + 1 < argc) {
            conf.heartbeat_s = atol(argv[++i]);
        } else {
            break;
        }
    }

    if (argc - i != 3) {
        fprintf(stderr, "usage: widget [-floating] [-run S] [-every S] "
                "[-heartbeat S] [-checkers N] LICENSE ISV STATE\n");
        return 2;
    }

    conf.license = argv[i];
    conf.isv = argv[i + 1];
    conf.state_dir = argv[i + 2];

    lic = ovsa_sdk_open(&conf, &st);
    if (lic == NULL) {
        show("open", &st);
        return 1;
    }

    end = time(NULL) + run;

    if (floating) {
        if (!ovsa_sdk_lease_acquire(lic, on_lease_lost, NULL, &st)) {
            show("lease", &st);
            return 3;
        }
        printf("lease %s until %lld\n", st.lease_id, st.lease_expires);
        fflush(stdout);

        for (i = 0; i < nthreads; i++) {
            if (pthread_create(&threads[i], NULL, checker, lic) != 0) {
                nthreads = i;
                break;
            }
        }

        while (!lost && time(NULL) < end) {
            sleep(1);
        }

        done = 1;
        for (i = 0; i < nthreads; i++) {
            pthread_join(threads[i], NULL);
        }
        if (nthreads > 0) {
            printf("checks: %ld allowed, %ld refused\n", checks_ok,
                   checks_refused);
        }

        if (lost) {
            printf("stopped: the lease is lost\n");
            return 3;
        }

        printf("done: exiting, the lease is released at exit\n");
        fflush(stdout);
        return 0;               /* no ovsa_sdk_close(): atexit releases */
    }

    if (!ovsa_sdk_activate(lic, &st)) {
        show("activate", &st);
        ovsa_sdk_close(lic);
        return 3;
    }
    show("activate", &st);

    for ( ;; ) {
        if (!ovsa_sdk_check(lic, &st)) {
            show("check", &st);
            printf("stopped at %lld\n", (long long) time(NULL));
            ovsa_sdk_close(lic);
            return 3;
        }
        show("check", &st);

        if (time(NULL) + every > end) {
            break;
        }
        sleep((unsigned) every);
    }

    ovsa_sdk_close(lic);
    return 0;
}
