/*
 * signed.c: ovsa-bench-signed, a load generator for the operations a
 * client signs with its machine key (docs/protocol.md "Who may call"),
 * which wrk's Lua cannot sign.  Each of -c threads makes its own Ed25519
 * machine key (as the SDK does), opens one TLS connection, keeps it
 * alive, and until -t seconds have passed (or -n requests) sends:
 *
 *   -mix lease      the floating-seat mix of one floating license:
 *                   checkout, heartbeat, heartbeat, checkin, again
 *                   (25% checkout, 50% heartbeat, 25% checkin)
 *   -mix node       one activation of its own hwid on a node-locked
 *                   license, then checks of that hwid
 *   -mix checkout   checkouts only (leases left to expire)
 *
 * Every request carries "Authorization: License <secret>" (the secret
 * read from -secret FILE, never from argv), Content-Digest, a unique
 * OVSA-Nonce, machine_key in the body and the RFC 9421 request signature
 * of lib/ovsa_reqsig.h.  Answers are not verified (this measures the
 * server); a request is an error when the connection fails or the status
 * is not 200.  After an error a lease cycle starts again with a checkout.
 *
 * Prints one line in the format of bench/wrk/report.lua:
 *   OVSA-BENCH requests=N duration_us=N p50_us=N p99_us=N p999_us=N
 *              errors=N non2xx=N
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

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#include "bench_tls.h"
#include "ovsa_httpsig.h"
#include "ovsa_license.h"
#include "ovsa_reqsig.h"

#define SIGNED_MAX_THREADS  64
#define SIGNED_REQ_MAX      4096
#define SIGNED_ID_MAX       128

typedef enum {
    MIX_LEASE, MIX_NODE, MIX_CHECKOUT
} signed_mix_t;

typedef struct {
    SSL_CTX            *ctx;
    struct sockaddr_in  addr;
    const char         *license;
    char                secret[OVSA_LICENSE_SECRET_LEN + 1];
    signed_mix_t        mix;
    unsigned long       count;      /* requests per thread, 0: until */
    double              until;      /* monotonic seconds */
} signed_conf_t;

typedef struct {
    pthread_t            tid;
    int                  id;
    const signed_conf_t *conf;
    EVP_PKEY            *key;
    char                 mkey[OVSA_MACHINE_KEY_MAX + 1];
    char                 lease[SIGNED_ID_MAX];   /* "" : none held */
    int                  step;      /* lease: 0 checkout .. 3 checkin */
    uint32_t            *lat;       /* microseconds, one per request */
    size_t               n, cap;
    unsigned long        errors, non2xx;
} signed_thread_t;

static const char *prog = "ovsa-bench-signed";


/*
 * One signed POST on the kept-alive connection; the answer's body (up to
 * its Content-Length, NUL-terminated) is left in ans[size].  Returns the
 * HTTP status, or -1 (the connection is then unusable).
 */
static int
signed_post(signed_thread_t *t, SSL *ssl, const char *path,
    const char *body, unsigned long seq, char *ans, size_t size)
{
    int                   n, len, status = -1;
    char                  req[SIGNED_REQ_MAX], buf[16384], *eoh, *cl;
    char                  nonce[80], digest[OVSA_DIGEST_FIELD_LEN + 1];
    char                  input[OVSA_SIG_INPUT_MAX + 1];
    char                  sig[OVSA_SIG_FIELD_MAX + 1];
    size_t                got = 0, need, blen = strlen(body), keep;
    ovsa_err_t            err;
    ovsa_reqsig_msg_t     m;
    const signed_conf_t  *c = t->conf;

    snprintf(nonce, sizeof(nonce), "s%d-%d-%lu-%08x", (int) getpid(),
             t->id, seq, (unsigned) random());

    if (ovsa_digest_field(body, blen, digest, &err) != OVSA_OK) {
        fprintf(stderr, "%s: digest: %s\n", prog, err.msg);
        return -1;
    }

    m.method = ovsa_str("POST");
    m.path = ovsa_str(path);
    m.nonce = ovsa_str(nonce);
    m.content_digest = ovsa_str(digest);

    if (ovsa_reqsig_sign(t->key, &m, time(NULL), input, sig, &err)
        != OVSA_OK)
    {
        fprintf(stderr, "%s: signing: %s\n", prog, err.msg);
        return -1;
    }

    len = snprintf(req, sizeof(req),
                   "POST %s HTTP/1.1\r\nHost: localhost\r\n"
                   "Connection: keep-alive\r\n"
                   "Authorization: License %s\r\n"
                   "OVSA-Nonce: %s\r\n"
                   "Content-Type: application/json\r\n"
                   "Content-Digest: %s\r\n"
                   "Signature-Input: %s\r\n"
                   "Signature: %s\r\n"
                   "Content-Length: %zu\r\n\r\n%s",
                   path, c->secret, nonce, digest, input, sig, blen, body);
    n = (len > 0 && len < (int) sizeof(req)) ? SSL_write(ssl, req, len) : -1;
    OPENSSL_cleanse(req, sizeof(req));
    if (n != len) {
        return -1;
    }

    /* the head must fit in buf */
    for ( ;; ) {
        n = SSL_read(ssl, buf + got, (int) (sizeof(buf) - 1 - got));
        if (n <= 0) {
            return -1;
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

    cl = strcasestr(buf, "\r\nContent-Length:");
    if (cl == NULL || cl > eoh) {
        return -1;
    }
    need = strtoul(cl + 17, NULL, 10);
    got -= (size_t) (eoh + 4 - buf);
    keep = got < size - 1 ? got : size - 1;
    memcpy(ans, eoh + 4, keep);
    while (got < need) {
        n = SSL_read(ssl, buf, sizeof(buf));
        if (n <= 0) {
            return -1;
        }
        if (keep < size - 1) {
            size_t k = (size_t) n < size - 1 - keep ? (size_t) n
                                                    : size - 1 - keep;
            memcpy(ans + keep, buf, k);
            keep += k;
        }
        got += (size_t) n;
    }
    ans[keep] = '\0';
    return got == need ? status : -1;
}

/* Copies the answer's "lease_id" to t->lease; -1 when it has none. */
static int
signed_lease_id(signed_thread_t *t, const char *ans)
{
    size_t       n;
    const char  *p, *e;

    p = strstr(ans, "\"lease_id\":\"");
    if (p == NULL) {
        return -1;
    }
    p += sizeof("\"lease_id\":\"") - 1;
    e = strchr(p, '"');
    n = e == NULL ? 0 : (size_t) (e - p);
    if (n == 0 || n >= sizeof(t->lease)) {
        return -1;
    }
    memcpy(t->lease, p, n);
    t->lease[n] = '\0';
    return 0;
}

/* Tells the first refusals of a thread (status and answer) on stderr. */
static void
signed_refused(signed_thread_t *t, int status, const char *path,
    const char *ans)
{
    if (status != 200 && status != -1 && t->non2xx < 3) {
        fprintf(stderr, "%s: thread %d: %s: %d %.200s\n", prog, t->id,
                path, status, ans);
    }
}

/* The next request of the thread's mix; returns its status or -1. */
static int
signed_next(signed_thread_t *t, SSL *ssl, unsigned long seq)
{
    int                   status;
    char                  body[1024], ans[4096];
    const char           *path;
    const signed_conf_t  *c = t->conf;

    if (c->mix == MIX_NODE) {
        /* activate once (it takes no version), then check */
        path = t->step == 0 ? "/v1/activate" : "/v1/check";
        snprintf(body, sizeof(body), "{\"license_id\":\"%s\",%s"
                 "\"hwid\":\"bench-hw-%d-%d\",\"machine_key\":\"%s\"}",
                 c->license, t->step == 0 ? "" : "\"version\":1,",
                 (int) getpid(), t->id, t->mkey);
        status = signed_post(t, ssl, path, body, seq, ans, sizeof(ans));
        if (status == 200) {
            t->step = 1;
        }
        signed_refused(t, status, path, ans);
        return status;
    }

    if (c->mix == MIX_CHECKOUT || t->step == 0) {
        /* a checkout needs a request id (docs/protocol.md) */
        snprintf(body, sizeof(body), "{\"license_id\":\"%s\",\"client_id\":"
                 "\"bench-%d-%d-%lu\",\"request_id\":\"bench-%d-%d-%lu\","
                 "\"machine_key\":\"%s\"}", c->license, (int) getpid(),
                 t->id, seq, (int) getpid(), t->id, seq, t->mkey);
        status = signed_post(t, ssl, "/v1/lease/checkout", body, seq, ans,
                             sizeof(ans));
        if (status == 200 && c->mix == MIX_LEASE) {
            t->step = signed_lease_id(t, ans) == 0 ? 1 : 0;
        }
        signed_refused(t, status, "/v1/lease/checkout", ans);
        return status;
    }

    path = t->step < 3 ? "/v1/lease/heartbeat" : "/v1/lease/checkin";
    snprintf(body, sizeof(body), "{\"license_id\":\"%s\",\"lease_id\":\"%s\","
             "\"machine_key\":\"%s\"}", c->license, t->lease, t->mkey);
    status = signed_post(t, ssl, path, body, seq, ans, sizeof(ans));
    t->step = (status == 200 && t->step < 3) ? t->step + 1 : 0;
    signed_refused(t, status, path, ans);
    return status;
}

static void *
signed_thread(void *arg)
{
    signed_thread_t      *t = arg;
    SSL                  *ssl = NULL;
    unsigned long         seq = 0;
    const signed_conf_t  *c = t->conf;
    double                t0;
    int                   status;

    while ((t0 = bench_now()) < c->until
           && (c->count == 0 || seq < c->count))
    {
        status = -1;
        if (ssl == NULL) {
            ssl = bench_tls_open(c->ctx, &c->addr, NULL, NULL);
        }
        if (ssl != NULL) {
            status = signed_next(t, ssl, seq);
            if (status < 0) {
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
        } else if (status != 200) {
            t->non2xx++;
        }
        if (status != 200 && c->mix == MIX_LEASE) {
            t->step = 0;
        }
        seq++;
    }
    bench_tls_close(ssl);
    return NULL;
}

typedef enum {
    OPT_ERR = -1, OPT_HELP, OPT_CONNECT, OPT_THREADS, OPT_TIME, OPT_LICENSE,
    OPT_SECRET, OPT_MIX, OPT_COUNT
} signed_opt_t;

static const struct {
    const char    *name;
    signed_opt_t   opt;
    const char    *arg;
    const char    *help;
} signed_options[] = {
    { "help", OPT_HELP, NULL, "Display this summary" },
    { "connect", OPT_CONNECT, "ip:port", "Server (IPv4), required" },
    { "c", OPT_THREADS, "n", "Kept-alive connections (threads), default 1" },
    { "t", OPT_TIME, "secs", "Duration in seconds, default 5" },
    { "license", OPT_LICENSE, "id", "License id, required" },
    { "secret", OPT_SECRET, "file", "The license secret's file, required" },
    { "mix", OPT_MIX, "mix", "lease (default), node or checkout" },
    { "n", OPT_COUNT, "n", "Stop after n requests per thread" },
    { NULL, OPT_ERR, NULL, NULL }
};

static void
signed_usage(void)
{
    int i;

    printf("Usage: %s [options]\n", prog);
    for (i = 0; signed_options[i].name != NULL; i++) {
        printf(" -%-8s %-8s %s\n", signed_options[i].name,
               signed_options[i].arg ? signed_options[i].arg : "",
               signed_options[i].help);
    }
}

int
main(int argc, char **argv)
{
    int               i, j, ret = 1, nthreads = 1, started = 0;
    double            secs = 5, t0, elapsed;
    char             *connect_to = NULL, *colon;
    const char       *secret_file = NULL;
    signed_conf_t     conf;
    signed_thread_t  *th = NULL;
    uint32_t         *all = NULL;
    size_t            n = 0;
    unsigned long     errors = 0, non2xx = 0;
    ovsa_err_t        err;

    memset(&conf, 0, sizeof(conf));
    conf.mix = MIX_LEASE;

    for (i = 1; i < argc; i++) {
        signed_opt_t o = OPT_ERR;
        const char *a = argv[i];

        if (a[0] == '-') {
            for (j = 0; signed_options[j].name != NULL; j++) {
                if (strcmp(a + 1, signed_options[j].name) == 0) {
                    o = signed_options[j].opt;
                    if (signed_options[j].arg != NULL && ++i >= argc) {
                        o = OPT_ERR;
                    }
                    break;
                }
            }
        }
        switch (o) {
        case OPT_HELP:
            signed_usage();
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
        case OPT_LICENSE:
            conf.license = argv[i];
            break;
        case OPT_SECRET:
            secret_file = argv[i];
            break;
        case OPT_MIX:
            if (strcmp(argv[i], "lease") == 0) {
                conf.mix = MIX_LEASE;
            } else if (strcmp(argv[i], "node") == 0) {
                conf.mix = MIX_NODE;
            } else if (strcmp(argv[i], "checkout") == 0) {
                conf.mix = MIX_CHECKOUT;
            } else {
                fprintf(stderr, "%s: -mix: not lease, node or checkout: "
                        "%s\n", prog, argv[i]);
                return 1;
            }
            break;
        case OPT_COUNT:
            conf.count = strtoul(argv[i], NULL, 10);
            break;
        case OPT_ERR:
        default:
            fprintf(stderr, "%s: Use -help for summary.\n", prog);
            return 1;
        }
    }

    if (connect_to == NULL || conf.license == NULL || secret_file == NULL
        || strlen(conf.license) > 64 || strpbrk(conf.license, "\"\\") != NULL
        || nthreads < 1 || nthreads > SIGNED_MAX_THREADS || secs <= 0
        || (colon = strrchr(connect_to, ':')) == NULL)
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
    if (ovsa_license_secret_read(secret_file, conf.secret, &err) != OVSA_OK)
    {
        fprintf(stderr, "%s: -secret: %s\n", prog, err.msg);
        return 1;
    }

    conf.ctx = SSL_CTX_new(TLS_client_method());
    if (conf.ctx == NULL
        || !SSL_CTX_set_min_proto_version(conf.ctx, TLS1_3_VERSION))
    {
        goto end;
    }
    SSL_CTX_set_verify(conf.ctx, SSL_VERIFY_NONE, NULL);
    srandom((unsigned) getpid());

    th = calloc((size_t) nthreads, sizeof(*th));
    if (th == NULL) {
        goto end;
    }
    for (i = 0; i < nthreads; i++) {
        th[i].id = i;
        th[i].conf = &conf;
        th[i].key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
        if (th[i].key == NULL
            || ovsa_machine_key_encode(th[i].key, th[i].mkey,
                                       sizeof(th[i].mkey), &err) != OVSA_OK)
        {
            fprintf(stderr, "%s: machine key: %s\n", prog,
                    th[i].key == NULL ? "keygen failed" : err.msg);
            goto end;
        }
    }

    t0 = bench_now();
    conf.until = t0 + secs;
    for (i = 0; i < nthreads; i++) {
        if (pthread_create(&th[i].tid, NULL, signed_thread, &th[i]) != 0) {
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
    }
    bench_lat_sort(all, n);

    printf("OVSA-BENCH requests=%zu duration_us=%.0f p50_us=%u p99_us=%u"
           " p999_us=%u errors=%lu non2xx=%lu\n",
           n, elapsed * 1e6, bench_lat_pct(all, n, 50), bench_lat_pct(all, n, 99),
           bench_lat_pct(all, n, 99.9), errors + non2xx, non2xx);
    ret = 0;

end:
    if (ret != 0) {
        ERR_print_errors_fp(stderr);
    }
    if (th != NULL) {
        for (i = 0; i < nthreads; i++) {
            free(th[i].lat);
            EVP_PKEY_free(th[i].key);
        }
    }
    OPENSSL_cleanse(conf.secret, sizeof(conf.secret));
    free(th);
    free(all);
    SSL_CTX_free(conf.ctx);
    return ret;
}
