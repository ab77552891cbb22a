/*
 * conn.c: ovsa-bench-conn, a load generator that opens a new TLS
 * connection for every request (wrk keeps connections alive and cannot
 * do this).  Each of -c threads runs, until -t seconds have passed:
 * connect, TLS handshake (resuming the thread's last session with
 * -reuse), one HTTP/1.1 request with "Connection: close", read the
 * answer to EOF, close.  A request is an error when the connection or
 * handshake fails, the status is not 2xx, or -reuse is given and the
 * session was not resumed (after the first one of each thread).
 *
 * Prints one line in the format of bench/wrk/report.lua:
 *   OVSA-BENCH requests=N duration_us=N p50_us=N p99_us=N p999_us=N
 *              errors=N non2xx=N resumed=N
 * With -secret FILE every request carries "Authorization: License
 * <secret>" (docs/protocol.md "Who may call"; the secret is read from the
 * file, never taken from argv).  The server certificate is not verified:
 * this is a load generator on 127.0.0.1, not a client.
 */

#define _GNU_SOURCE     /* strcasestr */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "bench_tls.h"
#include "ovsa_httpsig.h"
#include "ovsa_license.h"

#define CONN_MAX_THREADS  64
#define CONN_REQ_MAX      4096

typedef struct {
    SSL_CTX          *ctx;
    struct sockaddr_in addr;
    const char       *path;
    const char       *body;       /* NULL: GET */
    char              digest[OVSA_DIGEST_FIELD_LEN + 1]; /* its
                                     Content-Digest (RFC 9530) */
    char              auth[OVSA_LICENSE_SECRET_LEN + 32]; /* or "" */
    int               nonce;      /* add a unique OVSA-Nonce header */
    int               reuse;
    int               keepalive;  /* one connection per thread */
    unsigned long     count;      /* requests per thread, 0: until */
    double            until;      /* monotonic seconds */
} conn_conf_t;

typedef struct {
    pthread_t          tid;
    int                id;
    const conn_conf_t *conf;
    uint32_t          *lat;       /* microseconds, one per request */
    size_t             n, cap;
    unsigned long      errors, non2xx, resumed;
} conn_thread_t;

static const char *prog = "ovsa-bench-conn";


/*
 * One request.  With keep-alive the answer is read up to its
 * Content-Length, else to EOF.  Returns the HTTP status, or -1 (the
 * connection is then unusable).
 */
static int
conn_request(conn_thread_t *t, SSL *ssl, unsigned long seq)
{
    int                 n, len, status = -1;
    char                req[CONN_REQ_MAX], buf[16384], *eoh, *cl;
    size_t              got = 0, need = 0;
    const conn_conf_t  *c = t->conf;
    const char         *conn = c->keepalive ? "keep-alive" : "close";
    char                nonce[80] = "";

    if (c->nonce) {
        snprintf(nonce, sizeof(nonce), "OVSA-Nonce: c%d-%d-%lu-%08x\r\n",
                 (int) getpid(), t->id, seq, (unsigned) random());
    }
    if (c->body != NULL) {
        len = snprintf(req, sizeof(req),
                       "POST %s HTTP/1.1\r\nHost: localhost\r\n"
                       "Connection: %s\r\n%s%s"
                       "Content-Type: application/json\r\n"
                       "Content-Digest: %s\r\n"
                       "Content-Length: %zu\r\n\r\n%s",
                       c->path, conn, nonce, c->auth, c->digest,
                       strlen(c->body), c->body);
    } else {
        len = snprintf(req, sizeof(req),
                       "GET %s HTTP/1.1\r\nHost: localhost\r\n"
                       "Connection: %s\r\n%s%s\r\n", c->path, conn, nonce,
                       c->auth);
    }
    n = (len > 0 && len < (int) sizeof(req)) ? SSL_write(ssl, req, len) : -1;
    OPENSSL_cleanse(req, sizeof(req));
    if (n != len) {
        return -1;
    }

    /* the head must fit in buf; the body is counted, not kept */
    for ( ;; ) {
        n = SSL_read(ssl, buf + got, (int) (sizeof(buf) - 1 - got));
        if (n <= 0) {
            return c->keepalive ? -1 : status;
        }
        got += (size_t) n;
        buf[got] = '\0';
        if (status == -1 && got >= 12 && strncmp(buf, "HTTP/1.", 7) == 0) {
            status = atoi(buf + 9);
        }
        eoh = strstr(buf, "\r\n\r\n");
        if (eoh != NULL) {
            break;
        }
        if (got == sizeof(buf) - 1) {
            return -1;
        }
    }
    if (!c->keepalive) {
        while (SSL_read(ssl, buf, sizeof(buf)) > 0) {
            /* to EOF */
        }
        return status;
    }

    cl = strcasestr(buf, "\r\nContent-Length:");
    if (cl == NULL || cl > eoh) {
        return -1;
    }
    need = strtoul(cl + 17, NULL, 10);
    got -= (size_t) (eoh + 4 - buf);
    while (got < need) {
        n = SSL_read(ssl, buf, sizeof(buf));
        if (n <= 0) {
            return -1;
        }
        got += (size_t) n;
    }
    return got == need ? status : -1;
}

static void *
conn_thread(void *arg)
{
    conn_thread_t      *t = arg;
    SSL                *ssl = NULL;
    SSL_SESSION        *sess = NULL;
    unsigned long       seq = 0, before;
    const conn_conf_t  *c = t->conf;
    double              t0;
    int                 status, reused;

    while ((t0 = bench_now()) < c->until && (c->count == 0 || seq < c->count))
    {
        before = t->resumed;
        status = -1;
        if (ssl == NULL) {
            ssl = bench_tls_open(c->ctx, &c->addr, c->reuse ? sess : NULL,
                                 &reused);
            if (ssl != NULL && reused) {
                t->resumed++;
            }
        }
        if (ssl != NULL) {
            status = conn_request(t, ssl, seq);
            if (c->reuse) {
                SSL_SESSION *s = SSL_get1_session(ssl);
                if (s != NULL) {
                    SSL_SESSION_free(sess);
                    sess = s;
                }
            }
            if (!c->keepalive || status < 0) {
                bench_tls_close(ssl);
                ssl = NULL;
            }
        }
        if (t->n == t->cap) {
            size_t    cap = t->cap ? t->cap * 2 : 4096;
            uint32_t *p = realloc(t->lat, cap * sizeof(*p));
            if (p == NULL) {
                break;
            }
            t->lat = p;
            t->cap = cap;
        }
        t->lat[t->n++] = (uint32_t) ((bench_now() - t0) * 1e6);
        if (status < 0) {
            t->errors++;
        } else if (status < 200 || status > 299) {
            t->non2xx++;
        } else if (c->reuse && !c->keepalive && seq > 0
                   && t->resumed == before)
        {
            t->errors++;    /* asked to resume, got a full handshake */
        }
        seq++;
    }
    bench_tls_close(ssl);
    SSL_SESSION_free(sess);
    return NULL;
}

typedef enum {
    OPT_ERR = -1, OPT_HELP, OPT_CONNECT, OPT_THREADS, OPT_TIME, OPT_PATH,
    OPT_BODY, OPT_NONCE, OPT_REUSE, OPT_KEEPALIVE, OPT_COUNT, OPT_SECRET
} conn_opt_t;

static const struct {
    const char  *name;
    conn_opt_t   opt;
    const char  *arg;
    const char  *help;
} conn_options[] = {
    { "help", OPT_HELP, NULL, "Display this summary" },
    { "connect", OPT_CONNECT, "ip:port", "Server (IPv4), required" },
    { "c", OPT_THREADS, "n", "Concurrent connections (threads), default 1" },
    { "t", OPT_TIME, "secs", "Duration in seconds, default 5" },
    { "path", OPT_PATH, "path", "Request target, default /" },
    { "body", OPT_BODY, "json", "POST this body (default: GET)" },
    { "nonce", OPT_NONCE, NULL, "Send a unique OVSA-Nonce header" },
    { "reuse", OPT_REUSE, NULL, "Resume the previous TLS session" },
    { "ka", OPT_KEEPALIVE, NULL, "Keep one connection per thread alive" },
    { "n", OPT_COUNT, "n", "Stop after n requests per thread" },
    { "secret", OPT_SECRET, "file", "Send the license secret of this file" },
    { NULL, OPT_ERR, NULL, NULL }
};

static void
conn_usage(void)
{
    int i;

    printf("Usage: %s [options]\n", prog);
    for (i = 0; conn_options[i].name != NULL; i++) {
        printf(" -%-8s %-8s %s\n", conn_options[i].name,
               conn_options[i].arg ? conn_options[i].arg : "",
               conn_options[i].help);
    }
}

int
main(int argc, char **argv)
{
    int              i, j, ret = 1, nthreads = 1, started = 0;
    double           secs = 5, t0, elapsed;
    char            *connect_to = NULL, *colon;
    conn_conf_t      conf;
    conn_thread_t   *th = NULL;
    uint32_t        *all = NULL;
    size_t           n = 0;
    unsigned long    errors = 0, non2xx = 0, resumed = 0;
    char             secret[OVSA_LICENSE_SECRET_LEN + 1];
    ovsa_err_t       err;

    memset(&conf, 0, sizeof(conf));
    conf.path = "/";

    for (i = 1; i < argc; i++) {
        conn_opt_t o = OPT_ERR;
        const char *a = argv[i];

        if (a[0] == '-') {
            for (j = 0; conn_options[j].name != NULL; j++) {
                if (strcmp(a + 1, conn_options[j].name) == 0) {
                    o = conn_options[j].opt;
                    if (conn_options[j].arg != NULL && ++i >= argc) {
                        o = OPT_ERR;
                    }
                    break;
                }
            }
        }
        switch (o) {
        case OPT_HELP:
            conn_usage();
            return 0;
        case OPT_CONNECT:
            connect_to = argv[i];
            break;
        case OPT_THREADS:
            nthreads = atoi(argv[i]);
            break;
        case OPT_TIME:
            secs = atof(argv[i]);
            break;
        case OPT_PATH:
            conf.path = argv[i];
            break;
        case OPT_BODY:
            conf.body = argv[i];
            if (ovsa_digest_field(conf.body, strlen(conf.body), conf.digest,
                                  &err) != OVSA_OK)
            {
                fprintf(stderr, "%s: %s\n", prog, err.msg);
                return 1;
            }
            break;
        case OPT_NONCE:
            conf.nonce = 1;
            break;
        case OPT_REUSE:
            conf.reuse = 1;
            break;
        case OPT_KEEPALIVE:
            conf.keepalive = 1;
            break;
        case OPT_COUNT:
            conf.count = strtoul(argv[i], NULL, 10);
            break;
        case OPT_SECRET:
            if (ovsa_license_secret_read(argv[i], secret, &err) != OVSA_OK) {
                fprintf(stderr, "%s: -secret: %s\n", prog, err.msg);
                return 1;
            }
            snprintf(conf.auth, sizeof(conf.auth),
                     "Authorization: License %s\r\n", secret);
            OPENSSL_cleanse(secret, sizeof(secret));
            break;
        case OPT_ERR:
        default:
            fprintf(stderr, "%s: Use -help for summary.\n", prog);
            return 1;
        }
    }

    if (connect_to == NULL || nthreads < 1 || nthreads > CONN_MAX_THREADS
        || secs <= 0 || (colon = strrchr(connect_to, ':')) == NULL)
    {
        fprintf(stderr, "%s: Use -help for summary.\n", prog);
        return 1;
    }
    *colon = '\0';
    conf.addr.sin_family = AF_INET;
    conf.addr.sin_port = htons((uint16_t) atoi(colon + 1));
    if (inet_pton(AF_INET, connect_to, &conf.addr.sin_addr) != 1) {
        fprintf(stderr, "%s: -connect: not an IPv4 address: %s\n", prog,
                connect_to);
        return 1;
    }

    conf.ctx = SSL_CTX_new(TLS_client_method());
    if (conf.ctx == NULL
        || !SSL_CTX_set_min_proto_version(conf.ctx, TLS1_3_VERSION))
    {
        goto end;
    }
    SSL_CTX_set_verify(conf.ctx, SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_session_cache_mode(conf.ctx, SSL_SESS_CACHE_CLIENT
                                   | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    srandom((unsigned) getpid());

    th = calloc((size_t) nthreads, sizeof(*th));
    if (th == NULL) {
        goto end;
    }
    t0 = bench_now();
    conf.until = t0 + secs;
    for (i = 0; i < nthreads; i++) {
        th[i].id = i;
        th[i].conf = &conf;
        if (pthread_create(&th[i].tid, NULL, conn_thread, &th[i]) != 0) {
            fprintf(stderr, "%s: pthread_create: %s\n", prog,
                    strerror(errno));
            break;
        }
        started++;
    }
    for (i = 0; i < started; i++) {
        pthread_join(th[i].tid, NULL);
        n += th[i].n;
    }
    elapsed = bench_now() - t0;
    if (started != nthreads) {
        goto end;
    }

    all = malloc((n ? n : 1) * sizeof(*all));
    if (all == NULL) {
        goto end;
    }
    n = 0;
    for (i = 0; i < nthreads; i++) {
        memcpy(all + n, th[i].lat, th[i].n * sizeof(*all));
        n += th[i].n;
        errors += th[i].errors;
        non2xx += th[i].non2xx;
        resumed += th[i].resumed;
    }
    bench_lat_sort(all, n);

    printf("OVSA-BENCH requests=%zu duration_us=%.0f p50_us=%u p99_us=%u"
           " p999_us=%u errors=%lu non2xx=%lu resumed=%lu\n",
           n, elapsed * 1e6, bench_lat_pct(all, n, 50), bench_lat_pct(all, n, 99),
           bench_lat_pct(all, n, 99.9), errors + non2xx, non2xx, resumed);
    ret = 0;

end:
    if (ret != 0) {
        ERR_print_errors_fp(stderr);
    }
    if (th != NULL) {
        for (i = 0; i < nthreads; i++) {
            free(th[i].lat);
        }
    }
    free(th);
    free(all);
    OPENSSL_cleanse(conf.auth, sizeof(conf.auth));
    SSL_CTX_free(conf.ctx);
    return ret;
}
