/*
 * ngx_http_ovsa_hwkey.c: hardware-key mode of ngx_http_ovsa_module
 * (default.yaml hardware_key.enabled: true).  See docs/hardware-key.md,
 * "How it works".
 *
 *   config time   the master never touches PKCS#11: a short-lived child
 *                 opens the token and matches its key against the leaf;
 *                 ovsa_tls servers get a throwaway key + certificate of
 *                 the leaf's type ("data:"), then the real leaf.
 *   init_module   (master) a shared "lost" flag and a notify pipe whose
 *                 read end raises SIGQUIT in the master (O_ASYNC).
 *   init_process  (worker) opens the token, installs its key in every
 *                 ovsa_tls SSL_CTX and in the signer, starts the probe.
 *   at run time   response signatures and the 1 s probe run in a thread
 *                 pool under a watchdog that times the token call only
 *                 (not the wait in the queue); at most queue_max
 *                 signatures wait per worker, beyond that the answer is
 *                 an unsigned 503 SIGNER_BUSY; a lost token stops nginx,
 *                 whose master then exits with status 3.
 *   batching      (hardware_key.batch_window_ms > 0) the answers of a
 *                 window, at most batch_max, are collected per worker;
 *                 one task signs the Merkle root of their bases, then
 *                 each answer gets the root signature and its proof
 *                 (docs/signatures.md, "Batch profile").  A window that
 *                 ends while a batch is on the token keeps collecting
 *                 until that batch is back (or the batch is full).
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <time.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "ngx_http_ovsa_module.h"
#include <ovsa_p11.h>
#include <ovsa_p11_conf.h>


#define NGX_HTTP_OVSA_HWKEY_CHECK_MS   10000    /* config-time token check */
#define NGX_HTTP_OVSA_HWKEY_PROBE_MS   1000     /* liveness probe period */
#define NGX_HTTP_OVSA_HWKEY_GRACE_MS   1000     /* stuck thread: _exit(2) */
#define NGX_HTTP_OVSA_HWKEY_EXIT       3        /* master status, key lost */


#if (NGX_THREADS)

/* one answer held in a batch */
typedef struct {
    ngx_http_request_t           *r;         /* NULL: answered */
    ngx_http_ovsa_hwkey_done_pt   done;
    void                         *data;
    ngx_uint_t                    anon;      /* counted in nanon */
    u_char                        leaf[OVSA_BATCH_HASH_LEN];
} ngx_http_ovsa_hwkey_entry_t;


typedef struct {
    ngx_queue_t                   queue;     /* pending tasks of the worker,
                                                or a closed batch in ready */
    ngx_http_request_t           *r;         /* NULL: probe, or answered */
    ngx_http_ovsa_hwkey_done_pt   done;
    void                         *data;
    ngx_event_t                   watchdog;
    ovsa_p11_t                   *h;
    const ovsa_signer_t          *signer;    /* the token key's, prepared */
    char                         *base;      /* follows this struct */
    size_t                        base_len;
    int                           rc;
    ovsa_err_t                    err;
    ngx_msec_t                    start;     /* the token call began */
    ngx_atomic_t                  started;   /* set by the thread */
    unsigned                      probe:1;
    unsigned                      queued:1;
    unsigned                      batch:1;
    unsigned                      anon:1;    /* counted in nanon */
    char                          sig[OVSA_SIG_FIELD_MAX];

    /* a batch: its answers (follow this struct), tree, root signature */
    ngx_http_ovsa_hwkey_entry_t  *entries;
    ngx_uint_t                    nentries;
    ovsa_batch_tree_t             tree;
    size_t                        raw_len;
    u_char                        raw[OVSA_SIG_MAX];
} ngx_http_ovsa_hwkey_task_t;


typedef struct {
    ovsa_p11_t                   *h;
    ngx_thread_pool_t            *tp;
    ngx_msec_t                    timeout;
    ngx_uint_t                    queue_max;
    ngx_uint_t                    nsign;     /* answers waiting for the
                                                token (pending, batches) */
    ngx_uint_t                    nanon;     /* ... of them anonymous */
    ngx_uint_t                    anon_max;  /* queue_max / 4, at least 1 */
    ngx_log_t                    *log;
    ngx_queue_t                   pending;
    ngx_event_t                   probe;
    ngx_event_t                   exit;
    ovsa_err_t                    lost_err;

    /* batching: window 0 = off */
    ngx_msec_t                    window;
    ngx_uint_t                    batch_max;
    ngx_uint_t                    inflight;  /* batches posted, not back */
    ngx_http_ovsa_hwkey_task_t   *collect;   /* the batch collecting */
    ngx_queue_t                   ready;     /* closed, not yet posted */
    ngx_event_t                   flush;     /* the window's timer */
    ngx_event_t                   post;      /* posts the ready batches */

    unsigned                      probing:1;
    unsigned                      lost:1;
    unsigned                      flush_wait:1;  /* window over, a batch
                                                    is on the token */
} ngx_http_ovsa_hwkey_worker_t;


static void ngx_http_ovsa_hwkey_thread(void *data, ngx_log_t *log);
static ngx_int_t ngx_http_ovsa_hwkey_post(ngx_http_ovsa_hwkey_task_t *t,
    ngx_log_t *log);
static void ngx_http_ovsa_hwkey_completed(ngx_event_t *ev);
static void ngx_http_ovsa_hwkey_unqueue(ngx_http_ovsa_hwkey_task_t *t);
static ngx_msec_t ngx_http_ovsa_hwkey_now(void);
static void ngx_http_ovsa_hwkey_watchdog(ngx_event_t *ev);
static void ngx_http_ovsa_hwkey_finish(ngx_http_ovsa_hwkey_task_t *t,
    int rc, ovsa_err_t *err);
static void ngx_http_ovsa_hwkey_lost(ngx_log_t *log, ovsa_err_t *err,
    ngx_uint_t stuck);
static void ngx_http_ovsa_hwkey_probe(ngx_event_t *ev);
static void ngx_http_ovsa_hwkey_exit_now(ngx_event_t *ev);
static ngx_int_t ngx_http_ovsa_hwkey_batch_add(ngx_http_request_t *r,
    const char *base, size_t len, ngx_uint_t anon,
    ngx_http_ovsa_hwkey_done_pt done, void *data, ovsa_err_t *err);
static void ngx_http_ovsa_hwkey_batch_close(void);
static void ngx_http_ovsa_hwkey_batch_window(ngx_event_t *ev);
static void ngx_http_ovsa_hwkey_batch_post(ngx_event_t *ev);
static void ngx_http_ovsa_hwkey_batch_answer(ngx_http_ovsa_hwkey_task_t *t);
static void ngx_http_ovsa_hwkey_batch_fail(ngx_http_ovsa_hwkey_task_t *t,
    ovsa_err_t *err);
static void ngx_http_ovsa_hwkey_entry_done(ngx_http_ovsa_hwkey_entry_t *e,
    int rc, ovsa_err_t *err, const char *sig);
static void ngx_http_ovsa_hwkey_atfork_child(void);
static void ngx_http_ovsa_hwkey_pipe_cleanup(void *data);
static int ngx_http_ovsa_hwkey_as_worker(ngx_conf_t *cf, char *user,
    size_t size, ovsa_err_t *err);


static ngx_http_ovsa_hwkey_worker_t  ngx_http_ovsa_hwkey_w;
static pthread_mutex_t  ngx_http_ovsa_hwkey_mutex = PTHREAD_MUTEX_INITIALIZER;

#endif


/* one page shared by the master and every worker, mapped once */
static ngx_atomic_t  *ngx_http_ovsa_hwkey_lost_flag;

/* the notify pipe of the current cycle; its read end signals the master */
static ngx_fd_t       ngx_http_ovsa_hwkey_pipe[2] = { -1, -1 };
static ngx_uint_t     ngx_http_ovsa_hwkey_owner_pending;


/*
 * Config time: checks the token in a short-lived child.  The master must
 * not load the PKCS#11 module itself (libp11 state does not survive fork;
 * a worker that inherits it can deadlock), so the child opens the key,
 * matches it against the verified leaf, writes "OK" or "CODE message" to
 * a pipe and _exit()s.  A child that does not answer in 10 s is killed.
 */

ngx_int_t
ngx_http_ovsa_hwkey_check(ngx_conf_t *cf, ngx_http_ovsa_main_conf_t *omcf)
{
    int             fds[2], status, n, timedout;
    char           *p;
    pid_t           pid;
    ssize_t         len;
    ngx_msec_t      deadline, now;
    ovsa_err_t      err;
    ovsa_p11_t     *h;
    struct pollfd   pfd;
    char            buf[sizeof(err.msg) + 128];
    char            user[64];

    if (pipe(fds) == -1) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "ovsa: hardware key: pipe() failed");
        return NGX_ERROR;
    }

    pid = fork();

    if (pid == -1) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "ovsa: hardware key: fork() failed");
        close(fds[0]);
        close(fds[1]);
        return NGX_ERROR;
    }

    if (pid == 0) {
        /* the child: p11-kit may write to a closed socket */
        close(fds[0]);
        signal(SIGPIPE, SIG_IGN);

        /* as the workers will: their user reads the PIN, opens the token */
        if (ngx_http_ovsa_hwkey_as_worker(cf, user, sizeof(user), &err)
            == OVSA_OK
            && ovsa_p11_open_conf(omcf->conf, &h, &err) == OVSA_OK
            && ovsa_key_match(sk_X509_value(omcf->id.chain, 0),
                              ovsa_p11_pkey(h), &err) == OVSA_OK)
        {
            n = snprintf(buf, sizeof(buf), "OK");

        } else if (err.code == OVSA_E_PERMISSION) {
            n = snprintf(buf, sizeof(buf), "%s %s (the workers' user %s "
                         "cannot use it)", ovsa_code_name(err.code),
                         err.msg, user);

        } else {
            n = snprintf(buf, sizeof(buf), "%s %s", ovsa_code_name(err.code),
                         err.msg);
        }

        if (n > 0 && write(fds[1], buf, ngx_min((size_t) n, sizeof(buf) - 1))
                     == -1)
        {
            _exit(1);
        }

        /* no atexit handlers: they would call back into the engine */
        _exit(0);
    }

    close(fds[1]);

    ngx_time_update();
    deadline = ngx_current_msec + NGX_HTTP_OVSA_HWKEY_CHECK_MS;
    len = 0;
    timedout = 0;

    for ( ;; ) {
        ngx_time_update();
        now = ngx_current_msec;

        if ((ngx_msec_int_t) (deadline - now) <= 0) {
            timedout = 1;
            break;
        }

        pfd.fd = fds[0];
        pfd.events = POLLIN;
        pfd.revents = 0;

        n = poll(&pfd, 1, (int) (deadline - now));

        if (n == -1 && ngx_errno == NGX_EINTR) {
            continue;
        }

        if (n <= 0) {
            timedout = (n == 0);
            break;
        }

        n = read(fds[0], buf + len, sizeof(buf) - 1 - len);

        if (n == -1 && ngx_errno == NGX_EINTR) {
            continue;
        }

        if (n <= 0) {
            break;
        }

        len += n;

        if ((size_t) len >= sizeof(buf) - 1) {
            break;
        }
    }

    close(fds[0]);

    if (timedout) {
        (void) kill(pid, SIGKILL);
    }

    while (waitpid(pid, &status, 0) == -1 && ngx_errno == NGX_EINTR) {
        /* void */
    }

    if (timedout) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "ovsa: hardware key: the token did not answer "
                           "the start check in %d ms (%s)",
                           NGX_HTTP_OVSA_HWKEY_CHECK_MS,
                           ovsa_code_name(OVSA_E_P11_TIMEOUT));
        return NGX_ERROR;
    }

    buf[len] = '\0';

    if (len == 2 && ngx_strncmp(buf, "OK", 2) == 0) {
        ngx_log_error(NGX_LOG_NOTICE, cf->log, 0,
                      "ovsa: hardware key verified: \"%s\" is the key of "
                      "the leaf", omcf->conf->hw_key_uri);
        return NGX_OK;
    }

    if (len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "ovsa: hardware key: the token check process "
                           "ended without an answer (status %d) (%s)",
                           status, ovsa_code_name(OVSA_E_INTERNAL));
        return NGX_ERROR;
    }

    p = (char *) ngx_strlchr((u_char *) buf, (u_char *) buf + len, ' ');
    if (p == NULL) {
        p = buf + len;
    } else {
        *p++ = '\0';
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "ovsa: hardware key: %s (%s)",
                       p, buf);

    return NGX_ERROR;
}


/*
 * In the check's child: becomes the user and group the workers will run
 * as (the "user" directive, or nginx's default when the master is root),
 * so that a PIN file or p11-kit socket they cannot use is refused here,
 * at "nginx -t", as OVSA_E_PERMISSION, not lost at run time.  Not root:
 * the workers run as this same user.
 */

static int
ngx_http_ovsa_hwkey_as_worker(ngx_conf_t *cf, char *user, size_t size,
    ovsa_err_t *err)
{
    char             *name, *addr, *path, *end;
    ngx_uid_t         uid;
    ngx_gid_t         gid;
    struct group     *grp;
    struct passwd    *pwd;
    ngx_core_conf_t  *ccf;

    ngx_cpystrn((u_char *) user, (u_char *) "this user", size);

    if (geteuid() != 0) {
        return OVSA_OK;
    }

    ccf = (ngx_core_conf_t *) ngx_get_conf(cf->cycle->conf_ctx,
                                           ngx_core_module);

    if (ccf->user != (ngx_uid_t) NGX_CONF_UNSET_UINT) {
        name = ccf->username;
        uid = ccf->user;
        gid = ccf->group;

    } else {
        /* ngx_core_module_init_conf() sets this default only later */
        pwd = getpwnam(NGX_USER);
        grp = getgrnam(NGX_GROUP);
        if (pwd == NULL || grp == NULL) {
            return ovsa_err_set(err, OVSA_E_INTERNAL, "the default user "
                                "\"" NGX_USER "\" or group \"" NGX_GROUP
                                "\" does not exist");
        }
        name = NGX_USER;
        uid = pwd->pw_uid;
        gid = grp->gr_gid;
    }

    ngx_cpystrn((u_char *) user, (u_char *) name, size);

    if (uid == 0) {
        return OVSA_OK;
    }

    if (setgid(gid) == -1 || initgroups(name, gid) == -1
        || setuid(uid) == -1)
    {
        return ovsa_err_set(err, OVSA_E_INTERNAL, "cannot become the "
                            "workers' user %s: %s", name, strerror(errno));
    }

    /* a token behind p11-kit: its socket ("unix:path=/run/...") */
    addr = getenv("P11_KIT_SERVER_ADDRESS");
    if (addr != NULL && ngx_strncmp(addr, "unix:path=", 10) == 0) {
        /* freed by _exit() of this child */
        path = ngx_alloc(ngx_strlen(addr), cf->log);
        if (path == NULL) {
            return ovsa_err_set(err, OVSA_E_NOMEM, "out of memory");
        }
        (void) ngx_cpystrn((u_char *) path, (u_char *) addr + 10,
                           ngx_strlen(addr) - 9);
        end = strchr(path, ',');
        if (end != NULL) {
            *end = '\0';
        }
        if (access(path, R_OK | W_OK) == -1
            && (errno == EACCES || errno == EPERM))
        {
            return ovsa_err_set(err, OVSA_E_PERMISSION, "p11-kit socket "
                                "%s: %s", path, strerror(errno));
        }
    }

    return OVSA_OK;
}


/*
 * The ssl module needs a certificate and a matching key when it reads the
 * configuration, and the master must not load the token key.  So an
 * ovsa_tls server gets a throwaway key of the leaf's type and a
 * self-signed certificate for it, as "data:" strings.  Postconfiguration
 * replaces the certificate with the real leaf (OpenSSL then drops the
 * now mismatched key) and each worker installs the token key.
 */

ngx_int_t
ngx_http_ovsa_hwkey_placeholder(ngx_conf_t *cf,
    ngx_http_ovsa_main_conf_t *omcf)
{
    int          type;
    BIO         *bio;
    X509        *x;
    char        *pem;
    long         len;
    EVP_PKEY    *pkey, *pub;
    ngx_int_t    rc;
    X509_NAME   *name;

    if (omcf->hw_cert.len) {
        return NGX_OK;
    }

    pub = X509_get0_pubkey(sk_X509_value(omcf->id.chain, 0));
    type = EVP_PKEY_get_base_id(pub);

    switch (type) {
    case EVP_PKEY_RSA:
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t) 2048);
        break;
    case EVP_PKEY_EC:
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
        break;
    case EVP_PKEY_ED25519:
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
        break;
    default:
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "ovsa_tls: hardware key of unsupported type %d",
                           type);
        return NGX_ERROR;
    }

    if (pkey == NULL) {
        ngx_ssl_error(NGX_LOG_EMERG, cf->log, 0,
                      "ovsa_tls: placeholder key generation failed");
        return NGX_ERROR;
    }

    rc = NGX_ERROR;
    bio = NULL;

    x = X509_new();
    if (x == NULL) {
        goto failed;
    }

    name = X509_get_subject_name(x);

    if (!X509_set_version(x, 2)
        || !ASN1_INTEGER_set(X509_get_serialNumber(x), 1)
        || X509_gmtime_adj(X509_getm_notBefore(x), 0) == NULL
        || X509_gmtime_adj(X509_getm_notAfter(x), 86400) == NULL
        || !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                       (u_char *) "ovsa hardware-key "
                                       "placeholder (never served)",
                                       -1, -1, 0)
        || !X509_set_issuer_name(x, name)
        || !X509_set_pubkey(x, pkey)
        || !X509_sign(x, pkey, type == EVP_PKEY_ED25519 ? NULL
                                                          : EVP_sha256()))
    {
        goto failed;
    }

    bio = BIO_new(BIO_s_mem());
    if (bio == NULL || BIO_puts(bio, "data:") != 5
        || !PEM_write_bio_X509(bio, x))
    {
        goto failed;
    }

    len = BIO_get_mem_data(bio, &pem);
    omcf->hw_cert.data = ngx_pnalloc(cf->pool, len);
    if (omcf->hw_cert.data == NULL) {
        goto failed;
    }

    ngx_memcpy(omcf->hw_cert.data, pem, len);
    omcf->hw_cert.len = len;

    (void) BIO_reset(bio);

    if (BIO_puts(bio, "data:") != 5
        || !PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL))
    {
        goto failed;
    }

    len = BIO_get_mem_data(bio, &pem);
    omcf->hw_key.data = ngx_pnalloc(cf->pool, len);
    if (omcf->hw_key.data == NULL) {
        goto failed;
    }

    ngx_memcpy(omcf->hw_key.data, pem, len);
    omcf->hw_key.len = len;

    rc = NGX_OK;

failed:

    if (rc != NGX_OK) {
        ngx_ssl_error(NGX_LOG_EMERG, cf->log, 0,
                      "ovsa_tls: placeholder certificate failed");
    }

    BIO_free(bio);
    X509_free(x);
    EVP_PKEY_free(pkey);

    return rc;
}


/*
 * Postconfiguration: the signing thread pool must exist ("thread_pool
 * ovsa threads=1;" at main level).  nginx reports a missing pool as
 * "unknown thread pool" at the line of ovsa_config.
 */

ngx_int_t
ngx_http_ovsa_hwkey_postconf(ngx_conf_t *cf, ngx_http_ovsa_main_conf_t *omcf)
{
#if (NGX_THREADS)

    ngx_conf_file_t     file, *saved;
    ngx_thread_pool_t  *tp;

    saved = cf->conf_file;
    file = *saved;
    file.file.name.data = omcf->conf_file;
    file.file.name.len = ngx_strlen(omcf->conf_file);
    file.line = omcf->conf_line;

    cf->conf_file = &file;
    tp = ngx_thread_pool_add(cf, &omcf->thread_pool_name);
    cf->conf_file = saved;

    return (tp == NULL) ? NGX_ERROR : NGX_OK;

#else

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "ovsa: hardware-key mode needs nginx built with "
                       "thread pools (--with-threads)");
    return NGX_ERROR;

#endif
}


/*
 * Master, every cycle: the shared flag (once) and a new notify pipe.  The
 * read end gets O_ASYNC, owner = the master and F_SETSIG(SIGQUIT): when a
 * worker writes a byte, the kernel sends SIGQUIT to the master.  The
 * permission check is the one of the process that set the owner (the
 * master), so this works when the master is root and workers are not,
 * where kill(getppid(), SIGQUIT) fails with EPERM.
 */

ngx_int_t
ngx_http_ovsa_hwkey_init_module(ngx_cycle_t *cycle)
{
    int                         fds[2];
    ngx_shm_t                   shm;
    ngx_core_conf_t            *ccf;
    ngx_pool_cleanup_t         *cln;
    ngx_http_ovsa_main_conf_t  *omcf;

    static ngx_uint_t           atfork;

    omcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_ovsa_module);
    if (omcf == NULL || omcf->conf == NULL || !omcf->conf->hw_enabled) {
        return NGX_OK;
    }

    if (ngx_http_ovsa_hwkey_lost_flag == NULL) {
        shm.size = ngx_pagesize;
        ngx_str_set(&shm.name, "ovsa_hwkey_lost");
        shm.log = cycle->log;

        if (ngx_shm_alloc(&shm) != NGX_OK) {
            return NGX_ERROR;
        }

        ngx_http_ovsa_hwkey_lost_flag = (ngx_atomic_t *) shm.addr;
        *ngx_http_ovsa_hwkey_lost_flag = 0;
    }

    cln = ngx_pool_cleanup_add(cycle->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    if (pipe(fds) == -1) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, ngx_errno,
                      "ovsa: hardware key: pipe() failed");
        return NGX_ERROR;
    }

    cln->handler = ngx_http_ovsa_hwkey_pipe_cleanup;
    cln->data = ngx_palloc(cycle->pool, 2 * sizeof(int));
    if (cln->data == NULL) {
        close(fds[0]);
        close(fds[1]);
        cln->handler = NULL;
        return NGX_ERROR;
    }

    ngx_memcpy(cln->data, fds, 2 * sizeof(int));

    if (ngx_nonblocking(fds[0]) == -1
        || ngx_nonblocking(fds[1]) == -1
        || fcntl(fds[0], F_SETSIG, ngx_signal_value(NGX_SHUTDOWN_SIGNAL))
           == -1
        || fcntl(fds[0], F_SETOWN, ngx_getpid()) == -1
        || fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_ASYNC) == -1)
    {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, ngx_errno,
                      "ovsa: hardware key: notify pipe setup failed");
        return NGX_ERROR;
    }

    ngx_http_ovsa_hwkey_pipe[0] = fds[0];
    ngx_http_ovsa_hwkey_pipe[1] = fds[1];

    /*
     * On the first start nginx reads the configuration before it turns
     * into a daemon: the master is then the child of the next fork().
     */
    ccf = (ngx_core_conf_t *) ngx_get_conf(cycle->conf_ctx, ngx_core_module);

    ngx_http_ovsa_hwkey_owner_pending = (!ngx_daemonized && !ngx_inherited
                                         && ccf->daemon
                                         && ngx_process == NGX_PROCESS_SINGLE);

    if (ngx_http_ovsa_hwkey_owner_pending && !atfork) {
        if (pthread_atfork(NULL, NULL, ngx_http_ovsa_hwkey_atfork_child)
            != 0)
        {
            ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                          "ovsa: hardware key: pthread_atfork() failed");
            return NGX_ERROR;
        }

        atfork = 1;
    }

    return NGX_OK;
}


/* The daemon child: it is the master, it owns the notify pipe. */

static void
ngx_http_ovsa_hwkey_atfork_child(void)
{
    if (ngx_http_ovsa_hwkey_owner_pending) {
        ngx_http_ovsa_hwkey_owner_pending = 0;
        (void) fcntl(ngx_http_ovsa_hwkey_pipe[0], F_SETOWN, getpid());
    }
}


static void
ngx_http_ovsa_hwkey_pipe_cleanup(void *data)
{
    int  *fds = data;

    if (ngx_http_ovsa_hwkey_pipe[0] == fds[0]) {
        ngx_http_ovsa_hwkey_pipe[0] = -1;
        ngx_http_ovsa_hwkey_pipe[1] = -1;
    }

    close(fds[0]);
    close(fds[1]);
}


ngx_uint_t
ngx_http_ovsa_hwkey_is_lost(void)
{
    return ngx_http_ovsa_hwkey_lost_flag != NULL
           && *ngx_http_ovsa_hwkey_lost_flag != 0;
}


/* Master exit: a lost key gives status 3 (e.g. RestartForceExitStatus=3). */

void
ngx_http_ovsa_hwkey_exit_master(ngx_cycle_t *cycle)
{
    if (ngx_http_ovsa_hwkey_lost_flag && *ngx_http_ovsa_hwkey_lost_flag) {
        ngx_log_error(NGX_LOG_ALERT, cycle->log, 0,
                      "ovsa: hardware key lost; exiting with status %d",
                      NGX_HTTP_OVSA_HWKEY_EXIT);
        exit(NGX_HTTP_OVSA_HWKEY_EXIT);
    }
}


#if (NGX_THREADS)

/*
 * Worker start: open the token (one open per process, ovsa_p11.h), check
 * its key against the leaf, hand it to the ovsa_tls SSL_CTXs and to the
 * signer, and start the liveness probe.  A failure here means the token
 * went away since the start check: the worker reports the key as lost,
 * answers 503 to signed locations, and nginx stops.
 */

ngx_int_t
ngx_http_ovsa_hwkey_init_process(ngx_cycle_t *cycle)
{
    SSL_CTX                    **ctxs;
    EVP_PKEY                    *pkey;
    ngx_uint_t                   i;
    ovsa_err_t                   err;
    ngx_http_ovsa_main_conf_t   *omcf;
    ngx_http_ovsa_hwkey_worker_t  *w;

    omcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_ovsa_module);
    if (omcf == NULL || omcf->conf == NULL || !omcf->conf->hw_enabled) {
        return NGX_OK;
    }

    w = &ngx_http_ovsa_hwkey_w;
    ngx_memzero(w, sizeof(ngx_http_ovsa_hwkey_worker_t));
    ngx_queue_init(&w->pending);
    ngx_http_ovsa_metrics_queue(cycle, 0);

    w->log = cycle->log;
    w->timeout = omcf->conf->hw_sign_timeout > 0
                 ? (ngx_msec_t) omcf->conf->hw_sign_timeout : 2000;
    w->queue_max = omcf->conf->hw_queue_max > 0
                   ? (ngx_uint_t) omcf->conf->hw_queue_max : 64;
    w->window = omcf->conf->hw_batch_window > 0
                ? (ngx_msec_t) omcf->conf->hw_batch_window : 0;
    w->batch_max = omcf->conf->hw_batch_max > 0
                   ? (ngx_uint_t) omcf->conf->hw_batch_max : 256;
    ngx_queue_init(&w->ready);

    w->flush.handler = ngx_http_ovsa_hwkey_batch_window;
    w->flush.log = cycle->log;
    w->flush.data = w;

    w->post.handler = ngx_http_ovsa_hwkey_batch_post;
    w->post.log = cycle->log;
    w->post.data = w;
    w->anon_max = ngx_max(w->queue_max / 4, 1);

    w->exit.handler = ngx_http_ovsa_hwkey_exit_now;
    w->exit.log = cycle->log;
    w->exit.data = w;

    w->tp = ngx_thread_pool_get(cycle, &omcf->thread_pool_name);
    if (w->tp == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "ovsa: thread pool \"%V\" not found",
                      &omcf->thread_pool_name);
        return NGX_ERROR;
    }

    if (ovsa_p11_open_conf(omcf->conf, &w->h, &err) != OVSA_OK) {
        w->h = NULL;
        ngx_http_ovsa_hwkey_lost(cycle->log, &err, 0);
        return NGX_OK;
    }

    pkey = ovsa_p11_pkey(w->h);

    if (ovsa_key_match(sk_X509_value(omcf->id.chain, 0), pkey, &err)
        != OVSA_OK)
    {
        ngx_http_ovsa_hwkey_lost(cycle->log, &err, 0);
        return NGX_OK;
    }

    ctxs = omcf->tls_ctxs.elts;

    for (i = 0; i < omcf->tls_ctxs.nelts; i++) {
        if (SSL_CTX_use_PrivateKey(ctxs[i], pkey) != 1) {
            ovsa_err_ssl(&err, OVSA_E_P11_KEY,
                         "SSL_CTX_use_PrivateKey(token key)");
            ngx_http_ovsa_hwkey_lost(cycle->log, &err, 0);
            return NGX_OK;
        }
    }

    /* the token key's signing context, prepared once in this worker */
    if (ovsa_signer_set_key(&omcf->signer, pkey, &err) != OVSA_OK) {
        err.code = OVSA_E_P11_KEY;
        ngx_http_ovsa_hwkey_lost(cycle->log, &err, 0);
        return NGX_OK;
    }

    /* batching: the answers' Signature-Input and base name the batch alg */
    omcf->signer.batch = (w->window > 0);

    ngx_log_error(NGX_LOG_NOTICE, cycle->log, 0,
                  "ovsa: hardware key opened in worker %P: %s%s",
                  ngx_pid, omcf->conf->hw_key_uri,
                  w->window ? " (batch signatures)" : "");

    w->probe.handler = ngx_http_ovsa_hwkey_probe;
    w->probe.log = cycle->log;
    w->probe.data = w;
    w->probe.cancelable = 1;

    ngx_add_timer(&w->probe, NGX_HTTP_OVSA_HWKEY_PROBE_MS);

    return NGX_OK;
}


/*
 * Posts ovsa_sig_finish() of base, the signature of the answer that
 * ovsa_sig_prepare() made, to the thread pool.  Returns NGX_OK (the
 * request is blocked until done() is called), NGX_BUSY with err set
 * (OVSA_E_P11_BUSY) when queue_max signatures already wait for the token
 * in this worker, or anon is set (the answer refuses a request without a
 * nonce or credentials: 400, 401) and queue_max / 4 such signatures
 * already wait (12b: a flood of them cannot take the queue from clients
 * that present credentials): the key is fine, the answer cannot be
 * signed now; or NGX_ERROR with err set: the key is lost (the code of
 * the loss) or the task could not be posted.
 */

ngx_int_t
ngx_http_ovsa_hwkey_sign(ngx_http_request_t *r, const char *base, size_t len,
    ngx_uint_t anon, ngx_http_ovsa_hwkey_done_pt done, void *data,
    ovsa_err_t *err)
{
    ngx_thread_task_t             *task;
    ngx_http_ovsa_hwkey_task_t    *t;
    ngx_http_ovsa_hwkey_worker_t  *w;
    ngx_http_ovsa_main_conf_t     *omcf;

    w = &ngx_http_ovsa_hwkey_w;
    omcf = ngx_http_get_module_main_conf(r, ngx_http_ovsa_module);

    if (w->lost || w->h == NULL || omcf->signer.ctx == NULL) {
        if (w->lost) {
            *err = w->lost_err;
        } else {
            ovsa_err_set(err, OVSA_E_P11_KEY, "hardware key not open");
        }
        return NGX_ERROR;
    }

    if (w->nsign >= w->queue_max) {
        ovsa_err_set(err, OVSA_E_P11_BUSY, "hardware key: %lu signatures "
                     "already wait for the token (queue_max)",
                     (unsigned long) w->nsign);
        return NGX_BUSY;
    }

    if (anon && w->nanon >= w->anon_max) {
        ovsa_err_set(err, OVSA_E_P11_BUSY, "hardware key: %lu signatures "
                     "of refusals without credentials already wait for "
                     "the token (queue_max / 4)", (unsigned long) w->nanon);
        return NGX_BUSY;
    }

    if (w->window) {
        return ngx_http_ovsa_hwkey_batch_add(r, base, len, anon, done, data,
                                             err);
    }

    /* not from r->pool: a stuck thread may write here after r is gone */
    task = ngx_calloc(sizeof(ngx_thread_task_t)
                      + sizeof(ngx_http_ovsa_hwkey_task_t) + len,
                      r->connection->log);
    if (task == NULL) {
        ovsa_err_set(err, OVSA_E_NOMEM, "hardware key: no memory");
        return NGX_ERROR;
    }

    t = (ngx_http_ovsa_hwkey_task_t *) (task + 1);
    task->ctx = t;

    t->r = r;
    t->anon = anon ? 1 : 0;
    t->done = done;
    t->data = data;
    t->h = w->h;
    t->signer = &omcf->signer;
    t->base = (char *) (t + 1);
    t->base_len = len;
    ngx_memcpy(t->base, base, len);

    if (ngx_http_ovsa_hwkey_post(t, r->connection->log) != NGX_OK) {
        ngx_free(task);
        ovsa_err_set(err, OVSA_E_INTERNAL, "hardware key: task not posted");
        return NGX_ERROR;
    }

    r->main->blocked++;
    r->aio = 1;

    return NGX_OK;
}


static ngx_int_t
ngx_http_ovsa_hwkey_post(ngx_http_ovsa_hwkey_task_t *t, ngx_log_t *log)
{
    ngx_thread_task_t             *task;
    ngx_http_ovsa_hwkey_worker_t  *w;

    w = &ngx_http_ovsa_hwkey_w;
    task = (ngx_thread_task_t *) t - 1;

    task->handler = ngx_http_ovsa_hwkey_thread;
    task->event.handler = ngx_http_ovsa_hwkey_completed;
    task->event.data = t;

    if (ngx_thread_task_post(w->tp, task) != NGX_OK) {
        return NGX_ERROR;
    }

    t->watchdog.handler = ngx_http_ovsa_hwkey_watchdog;
    t->watchdog.data = t;
    t->watchdog.log = w->log;

    ngx_add_timer(&t->watchdog, w->timeout);

    ngx_queue_insert_tail(&w->pending, &t->queue);
    t->queued = 1;

    if (!t->probe && !t->batch) {
        w->nsign++;
        w->nanon += t->anon;
        ngx_http_ovsa_metrics_queue((ngx_cycle_t *) ngx_cycle, w->nsign);
    }

    return NGX_OK;
}


static void
ngx_http_ovsa_hwkey_unqueue(ngx_http_ovsa_hwkey_task_t *t)
{
    if (t->queued) {
        ngx_queue_remove(&t->queue);
        t->queued = 0;

        if (!t->probe && !t->batch) {
            ngx_http_ovsa_hwkey_w.nsign--;
            ngx_http_ovsa_hwkey_w.nanon -= t->anon;
            ngx_http_ovsa_metrics_queue((ngx_cycle_t *) ngx_cycle,
                                        ngx_http_ovsa_hwkey_w.nsign);
        }
    }
}


/* CLOCK_MONOTONIC in ms: the same clock in the pool and the event loop */

static ngx_msec_t
ngx_http_ovsa_hwkey_now(void)
{
    struct timespec  ts;

    (void) clock_gettime(CLOCK_MONOTONIC, &ts);

    return (ngx_msec_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


/*
 * In a pool thread: touches only the task and the token handle (one call
 * into it at a time).  A failed signature is classified by a probe: a
 * lost token gives OVSA_E_P11_DEVICE or OVSA_E_P11_TOKEN.  The watchdog
 * counts from t->start, set once this thread holds the token: time spent
 * waiting for the thread or for the token mutex is not the token's.
 */

static void
ngx_http_ovsa_hwkey_thread(void *data, ngx_log_t *log)
{
    ngx_http_ovsa_hwkey_task_t  *t = data;

    ovsa_err_t  perr;

    (void) pthread_mutex_lock(&ngx_http_ovsa_hwkey_mutex);

    t->start = ngx_http_ovsa_hwkey_now();
    ngx_memory_barrier();
    t->started = 1;

    if (t->probe) {
        t->rc = ovsa_p11_probe(t->h, &t->err);

    } else if (t->batch) {
        t->rc = ovsa_sig_batch_sign(t->signer, t->nentries,
                                    ovsa_batch_tree_root(&t->tree), t->raw,
                                    &t->raw_len, &t->err);

        if (t->rc != OVSA_OK && ovsa_p11_probe(t->h, &perr) != OVSA_OK) {
            t->err = perr;
        }

    } else {
        t->rc = ovsa_sig_finish(t->signer, t->base, t->base_len, t->sig,
                                &t->err);

        if (t->rc != OVSA_OK && ovsa_p11_probe(t->h, &perr) != OVSA_OK) {
            t->err = perr;
        }
    }

    (void) pthread_mutex_unlock(&ngx_http_ovsa_hwkey_mutex);
}


/* Event loop: the thread is done with the task. */

static void
ngx_http_ovsa_hwkey_completed(ngx_event_t *ev)
{
    ngx_http_ovsa_hwkey_task_t  *t = ev->data;

    ngx_http_ovsa_hwkey_worker_t  *w;

    w = &ngx_http_ovsa_hwkey_w;

    if (t->watchdog.timer_set) {
        ngx_del_timer(&t->watchdog);
    }

    ngx_http_ovsa_hwkey_unqueue(t);

    if (t->probe) {
        w->probing = 0;

        if (t->rc != OVSA_OK) {
            ngx_http_ovsa_hwkey_lost(w->log, &t->err, 0);
        }

    } else if (t->batch) {
        w->inflight--;

        if (t->rc != OVSA_OK
            && (t->err.code == OVSA_E_P11_DEVICE
                || t->err.code == OVSA_E_P11_TOKEN))
        {
            ngx_http_ovsa_hwkey_lost(w->log, &t->err, 0);
        }

        /*
         * the window ended while this batch was on the token: the next
         * batch goes to the token first, so that the token does not wait
         * while the answers of this one are written (with a hundred
         * answers that took tens of ms: every answer's latency and the
         * token's cycle grew by it)
         */
        if (!w->lost && w->flush_wait && w->inflight == 0) {
            w->flush_wait = 0;
            ngx_http_ovsa_hwkey_batch_close();
            ngx_http_ovsa_hwkey_batch_post(&w->post);
        }

        /* every answer still held: its proof, or the error */
        ngx_http_ovsa_hwkey_batch_answer(t);
        ovsa_batch_tree_free(&t->tree);

        /* the key was lost: the answers collected meanwhile too */
        if (w->flush_wait && w->inflight == 0) {
            w->flush_wait = 0;
            ngx_http_ovsa_hwkey_batch_close();
            ngx_http_ovsa_hwkey_batch_post(&w->post);
        }

    } else if (t->r != NULL) {
        if (t->rc != OVSA_OK
            && (t->err.code == OVSA_E_P11_DEVICE
                || t->err.code == OVSA_E_P11_TOKEN))
        {
            ngx_http_ovsa_hwkey_lost(t->r->connection->log, &t->err, 0);
        }

        /* the loss may have answered this request already */
        if (t->r != NULL) {
            ngx_http_ovsa_hwkey_finish(t, t->rc, &t->err);
        }
    }

    /* else: the watchdog answered the request, the task is only freed */

    ngx_free((ngx_thread_task_t *) t - 1);
}


/*
 * Unblocks the request of a task, reports the result and re-drives the
 * request; the task is detached from it (t->r = NULL).
 */

static void
ngx_http_ovsa_hwkey_finish(ngx_http_ovsa_hwkey_task_t *t, int rc,
    ovsa_err_t *err)
{
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = t->r;
    t->r = NULL;
    c = r->connection;

    if (t->watchdog.timer_set) {
        ngx_del_timer(&t->watchdog);
    }

    ngx_http_ovsa_hwkey_unqueue(t);

    ngx_http_set_log_request(c->log, r);

    r->main->blocked--;
    r->aio = 0;

    t->done(r, t->data, rc, err, t->sig);

    r->write_event_handler(r);
    ngx_http_run_posted_requests(c);
}


/*
 * Every sign_timeout_ms while a task waits: a task the token has not
 * started yet (queued behind others, threads=1) is only re-armed.  A
 * started one that has not returned sign_timeout_ms after its start:
 * the thread is stuck in the token and no later call can succeed.  The
 * key is lost.
 */

static void
ngx_http_ovsa_hwkey_watchdog(ngx_event_t *ev)
{
    ngx_http_ovsa_hwkey_task_t  *t = ev->data;

    ovsa_err_t                     err;
    ngx_msec_t                     elapsed;
    ngx_http_ovsa_hwkey_worker_t  *w;

    w = &ngx_http_ovsa_hwkey_w;

    if (!t->started) {
        ngx_add_timer(ev, w->timeout);
        return;
    }

    ngx_memory_barrier();

    elapsed = ngx_http_ovsa_hwkey_now() - t->start;

    if ((ngx_msec_int_t) elapsed < (ngx_msec_int_t) w->timeout) {
        ngx_add_timer(ev, w->timeout - elapsed);
        return;
    }

    ovsa_err_set(&err, OVSA_E_P11_TIMEOUT,
                 "the token did not answer a %s in %lu ms",
                 t->probe ? "probe" : "signature",
                 (unsigned long) ngx_http_ovsa_hwkey_w.timeout);

    ngx_http_ovsa_hwkey_lost(ev->log, &err, 1);
}


/*
 * The key is lost: log once, set the shared flag, notify the master
 * (SIGQUIT through the pipe), and answer every request waiting for a
 * signature (their tasks will never run or never return).  A stuck
 * thread would keep the worker from exiting: _exit(2) after a grace
 * period that lets the 503 answers go out.
 */

static void
ngx_http_ovsa_hwkey_lost(ngx_log_t *log, ovsa_err_t *err, ngx_uint_t stuck)
{
    ngx_queue_t                   *q;
    ngx_http_ovsa_hwkey_task_t    *t;
    ngx_http_ovsa_hwkey_worker_t  *w;

    w = &ngx_http_ovsa_hwkey_w;

    if (!w->lost) {
        w->lost = 1;
        w->lost_err = *err;

        ngx_log_error(NGX_LOG_ALERT, log, 0,
                      "ovsa: hardware key lost (%s: %s): stopping nginx",
                      ovsa_code_name(err->code), err->msg);

        if (w->probe.timer_set) {
            ngx_del_timer(&w->probe);
        }

        if (ngx_http_ovsa_hwkey_lost_flag) {
            *ngx_http_ovsa_hwkey_lost_flag = 1;
        }

        if (ngx_http_ovsa_hwkey_pipe[1] == -1
            || write(ngx_http_ovsa_hwkey_pipe[1], "L", 1) != 1)
        {
            ngx_log_error(NGX_LOG_ALERT, log, ngx_errno,
                          "ovsa: cannot notify the master");
        }
    }

    if (stuck && !w->exit.timer_set) {
        ngx_add_timer(&w->exit, NGX_HTTP_OVSA_HWKEY_GRACE_MS);
    }

    while (!ngx_queue_empty(&w->pending)) {
        q = ngx_queue_head(&w->pending);
        t = ngx_queue_data(q, ngx_http_ovsa_hwkey_task_t, queue);

        ngx_http_ovsa_hwkey_unqueue(t);

        if (t->watchdog.timer_set) {
            ngx_del_timer(&t->watchdog);
        }

        if (t->batch) {
            ngx_http_ovsa_hwkey_batch_fail(t, err);

        } else if (t->r != NULL) {
            ngx_http_ovsa_hwkey_finish(t, OVSA_ERR, err);
        }
    }

    /* the batches not posted yet: answered here, freed here */
    if (w->flush.timer_set) {
        ngx_del_timer(&w->flush);
    }

    w->flush_wait = 0;
    ngx_http_ovsa_hwkey_batch_close();

    while (!ngx_queue_empty(&w->ready)) {
        q = ngx_queue_head(&w->ready);
        ngx_queue_remove(q);
        t = ngx_queue_data(q, ngx_http_ovsa_hwkey_task_t, queue);

        ngx_http_ovsa_hwkey_batch_fail(t, err);
        ngx_free((ngx_thread_task_t *) t - 1);
    }
}


/* Every second: is the token still there?  Runs in the pool. */

static void
ngx_http_ovsa_hwkey_probe(ngx_event_t *ev)
{
    ngx_thread_task_t             *task;
    ngx_http_ovsa_hwkey_task_t    *t;
    ngx_http_ovsa_hwkey_worker_t  *w = ev->data;

    if (ngx_exiting || ngx_quit || ngx_terminate || w->lost) {
        return;
    }

    if (!w->probing) {
        task = ngx_calloc(sizeof(ngx_thread_task_t)
                          + sizeof(ngx_http_ovsa_hwkey_task_t), ev->log);
        if (task != NULL) {
            t = (ngx_http_ovsa_hwkey_task_t *) (task + 1);
            task->ctx = t;
            t->probe = 1;
            t->h = w->h;

            if (ngx_http_ovsa_hwkey_post(t, ev->log) == NGX_OK) {
                w->probing = 1;

            } else {
                ngx_free(task);
            }
        }
    }

    ngx_add_timer(ev, NGX_HTTP_OVSA_HWKEY_PROBE_MS);
}


static void
ngx_http_ovsa_hwkey_exit_now(ngx_event_t *ev)
{
    /* a pool thread is stuck in the token; exit() would wait for it */
    ngx_log_error(NGX_LOG_ALERT, ev->log, 0,
                  "ovsa: a thread is stuck in the hardware key; worker "
                  "exits with status 2");
    _exit(2);
}


/*
 * Batching: holds the answer of r in the batch being collected (opened
 * with the window's timer by its first answer).  The leaf is hashed
 * here; the batch is closed when the window ends or batch_max answers
 * are in.  Returns as ngx_http_ovsa_hwkey_sign().
 */

static ngx_int_t
ngx_http_ovsa_hwkey_batch_add(ngx_http_request_t *r, const char *base,
    size_t len, ngx_uint_t anon, ngx_http_ovsa_hwkey_done_pt done,
    void *data, ovsa_err_t *err)
{
    ngx_thread_task_t             *task;
    ngx_http_ovsa_hwkey_task_t    *t;
    ngx_http_ovsa_hwkey_entry_t   *e;
    ngx_http_ovsa_hwkey_worker_t  *w;
    ngx_http_ovsa_main_conf_t     *omcf;

    w = &ngx_http_ovsa_hwkey_w;
    omcf = ngx_http_get_module_main_conf(r, ngx_http_ovsa_module);

    if (w->collect == NULL) {
        /* not from a request pool: the batch outlives its requests */
        task = ngx_calloc(sizeof(ngx_thread_task_t)
                          + sizeof(ngx_http_ovsa_hwkey_task_t)
                          + w->batch_max * sizeof(ngx_http_ovsa_hwkey_entry_t),
                          r->connection->log);
        if (task == NULL) {
            ovsa_err_set(err, OVSA_E_NOMEM, "hardware key: no memory");
            return NGX_ERROR;
        }

        t = (ngx_http_ovsa_hwkey_task_t *) (task + 1);
        task->ctx = t;

        t->batch = 1;
        t->h = w->h;
        t->signer = &omcf->signer;
        t->entries = (ngx_http_ovsa_hwkey_entry_t *) (t + 1);

        w->collect = t;

        if (!w->flush.timer_set && !w->flush_wait) {
            ngx_add_timer(&w->flush, w->window);
        }
    }

    t = w->collect;
    e = &t->entries[t->nentries];

    if (ovsa_batch_leaf(base, len, e->leaf, err) != OVSA_OK) {
        return NGX_ERROR;
    }

    e->r = r;
    e->done = done;
    e->data = data;
    e->anon = anon ? 1 : 0;

    t->nentries++;
    w->nsign++;
    w->nanon += e->anon;
    ngx_http_ovsa_metrics_queue((ngx_cycle_t *) ngx_cycle, w->nsign);

    r->main->blocked++;
    r->aio = 1;

    if (t->nentries >= w->batch_max) {
        /* full: signed now, posted from the event loop, not from here */
        ngx_http_ovsa_hwkey_batch_close();
        ngx_post_event(&w->post, &ngx_posted_events);
    }

    return NGX_OK;
}


/* Moves the batch being collected, if any answer is in it, to ready. */

static void
ngx_http_ovsa_hwkey_batch_close(void)
{
    ngx_http_ovsa_hwkey_task_t    *t;
    ngx_http_ovsa_hwkey_worker_t  *w;

    w = &ngx_http_ovsa_hwkey_w;
    t = w->collect;

    if (t == NULL) {
        return;
    }

    w->collect = NULL;

    if (w->flush.timer_set) {
        ngx_del_timer(&w->flush);
    }

    if (t->nentries == 0) {
        ngx_free((ngx_thread_task_t *) t - 1);
        return;
    }

    ngx_queue_insert_tail(&w->ready, &t->queue);
}


/*
 * The window ended.  While a batch is on the token the answers keep
 * coming into this one, which goes when that batch is back: at token
 * speed the batches grow instead of queueing for the token.
 */

static void
ngx_http_ovsa_hwkey_batch_window(ngx_event_t *ev)
{
    ngx_http_ovsa_hwkey_worker_t  *w = ev->data;

    if (w->inflight > 0) {
        w->flush_wait = 1;
        return;
    }

    ngx_http_ovsa_hwkey_batch_close();
    ngx_http_ovsa_hwkey_batch_post(&w->post);
}


/*
 * Builds the tree of each closed batch and posts its one signature.  A
 * batch that cannot be posted answers its requests with the error.
 */

static void
ngx_http_ovsa_hwkey_batch_post(ngx_event_t *ev)
{
    u_char                        *leaves;
    ngx_uint_t                     i;
    ngx_queue_t                   *q;
    ovsa_err_t                     err;
    ngx_http_ovsa_hwkey_task_t    *t;
    ngx_http_ovsa_hwkey_worker_t  *w = ev->data;

    while (!ngx_queue_empty(&w->ready)) {
        q = ngx_queue_head(&w->ready);
        ngx_queue_remove(q);
        t = ngx_queue_data(q, ngx_http_ovsa_hwkey_task_t, queue);

        leaves = ngx_alloc(t->nentries * OVSA_BATCH_HASH_LEN, ev->log);

        if (leaves == NULL) {
            ovsa_err_set(&err, OVSA_E_NOMEM, "hardware key: no memory");
            goto failed;
        }

        for (i = 0; i < t->nentries; i++) {
            ngx_memcpy(leaves + i * OVSA_BATCH_HASH_LEN, t->entries[i].leaf,
                       OVSA_BATCH_HASH_LEN);
        }

        if (ovsa_batch_tree_build(leaves, t->nentries, &t->tree, &err)
            != OVSA_OK)
        {
            ngx_free(leaves);
            goto failed;
        }

        ngx_free(leaves);

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ev->log, 0,
                       "ovsa: batch of %ui answers to the token",
                       t->nentries);

        if (ngx_http_ovsa_hwkey_post(t, ev->log) != NGX_OK) {
            ovsa_err_set(&err, OVSA_E_INTERNAL, "hardware key: task not "
                         "posted");
            ovsa_batch_tree_free(&t->tree);
            goto failed;
        }

        w->inflight++;
        continue;

    failed:

        ngx_http_ovsa_hwkey_batch_fail(t, &err);
        ngx_free((ngx_thread_task_t *) t - 1);
    }
}


/* The root is signed (or not): every answer still held gets the result. */

static void
ngx_http_ovsa_hwkey_batch_answer(ngx_http_ovsa_hwkey_task_t *t)
{
    ngx_uint_t                    i;
    ovsa_err_t                    err;
    ovsa_batch_proof_t            bp;
    ngx_http_ovsa_hwkey_entry_t  *e;
    char                          field[OVSA_SIG_BATCH_FIELD_MAX];

    if (t->rc != OVSA_OK) {
        ngx_http_ovsa_hwkey_batch_fail(t, &t->err);
        return;
    }

    ngx_memzero(&bp, sizeof(ovsa_batch_proof_t));
    bp.size = t->nentries;
    ngx_memcpy(bp.root, ovsa_batch_tree_root(&t->tree), OVSA_BATCH_HASH_LEN);

    for (i = 0; i < t->nentries; i++) {
        e = &t->entries[i];

        if (e->r == NULL) {
            continue;
        }

        bp.index = i;
        ngx_memcpy(bp.leaf, e->leaf, OVSA_BATCH_HASH_LEN);

        if (ovsa_batch_tree_proof(&t->tree, i, bp.proof, &bp.proof_len,
                                  &err) != OVSA_OK
            || ovsa_sig_batch_field(t->raw, t->raw_len, &bp, field, &err)
               != OVSA_OK)
        {
            ngx_http_ovsa_hwkey_entry_done(e, OVSA_ERR, &err, NULL);
            continue;
        }

        ngx_http_ovsa_hwkey_entry_done(e, OVSA_OK, NULL, field);
    }
}


static void
ngx_http_ovsa_hwkey_batch_fail(ngx_http_ovsa_hwkey_task_t *t,
    ovsa_err_t *err)
{
    ngx_uint_t  i;

    for (i = 0; i < t->nentries; i++) {
        if (t->entries[i].r != NULL) {
            ngx_http_ovsa_hwkey_entry_done(&t->entries[i], OVSA_ERR, err,
                                           NULL);
        }
    }
}


/* As ngx_http_ovsa_hwkey_finish(), for one answer of a batch. */

static void
ngx_http_ovsa_hwkey_entry_done(ngx_http_ovsa_hwkey_entry_t *e, int rc,
    ovsa_err_t *err, const char *sig)
{
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = e->r;
    e->r = NULL;
    c = r->connection;

    ngx_http_ovsa_hwkey_w.nsign--;
    ngx_http_ovsa_hwkey_w.nanon -= e->anon;
    ngx_http_ovsa_metrics_queue((ngx_cycle_t *) ngx_cycle,
                                ngx_http_ovsa_hwkey_w.nsign);

    ngx_http_set_log_request(c->log, r);

    r->main->blocked--;
    r->aio = 0;

    e->done(r, e->data, rc, err, sig);

    r->write_event_handler(r);
    ngx_http_run_posted_requests(c);
}


#else

ngx_int_t
ngx_http_ovsa_hwkey_init_process(ngx_cycle_t *cycle)
{
    return NGX_OK;
}


ngx_int_t
ngx_http_ovsa_hwkey_sign(ngx_http_request_t *r, const char *base, size_t len,
    ngx_uint_t anon, ngx_http_ovsa_hwkey_done_pt done, void *data,
    ovsa_err_t *err)
{
    ovsa_err_set(err, OVSA_E_INTERNAL, "no thread pools in this nginx");
    return NGX_ERROR;
}

#endif
