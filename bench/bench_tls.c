/*
 * bench_tls.c: the clock, TLS connections and latency percentiles of the
 * bench's load generators (see bench_tls.h).
 */

#include <netinet/tcp.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench_tls.h"


double
bench_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}


SSL *
bench_tls_open(SSL_CTX *ctx, const struct sockaddr_in *addr,
    SSL_SESSION *sess, int *reused)
{
    int   fd, one = 1;
    SSL  *ssl;

    fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd == -1) {
        return NULL;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, (const struct sockaddr *) addr, sizeof(*addr)) == -1) {
        close(fd);
        return NULL;
    }

    ssl = SSL_new(ctx);
    if (ssl == NULL || !SSL_set_fd(ssl, fd)
        || !SSL_set_tlsext_host_name(ssl, "localhost"))
    {
        goto fail;
    }
    if (sess != NULL) {
        SSL_set_session(ssl, sess);
    }
    if (SSL_connect(ssl) != 1) {
        goto fail;
    }
    if (reused != NULL) {
        *reused = SSL_session_reused(ssl);
    }
    return ssl;

fail:
    SSL_free(ssl);
    close(fd);
    return NULL;
}


void
bench_tls_close(SSL *ssl)
{
    int fd;

    if (ssl == NULL) {
        return;
    }
    fd = SSL_get_fd(ssl);
    SSL_shutdown(ssl);
    SSL_free(ssl);
    close(fd);
}


static int
bench_lat_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;

    return x < y ? -1 : x > y;
}


void
bench_lat_sort(uint32_t *v, size_t n)
{
    qsort(v, n, sizeof(*v), bench_lat_cmp);
}


uint32_t
bench_lat_pct(const uint32_t *v, size_t n, double p)
{
    size_t i;

    if (n == 0) {
        return 0;
    }
    i = (size_t) (p / 100.0 * (double) n);
    return v[i >= n ? n - 1 : i];
}
