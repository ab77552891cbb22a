/*
 * bench_tls.h: what the bench's C load generators (conn.c, signed.c)
 * share: the clock, a TLS connection to the server under test, and the
 * latency percentiles.
 */

#ifndef BENCH_TLS_H
#define BENCH_TLS_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

/* Monotonic seconds. */
double bench_now(void);

/*
 * Connects to addr (TCP_NODELAY) and handshakes with SNI "localhost",
 * resuming sess when not NULL.  Returns the SSL (the fd inside), or NULL;
 * *reused (may be NULL) tells whether the session was resumed.
 */
SSL *bench_tls_open(SSL_CTX *ctx, const struct sockaddr_in *addr,
    SSL_SESSION *sess, int *reused);

/* Shuts down, frees and closes; NULL is allowed. */
void bench_tls_close(SSL *ssl);

/* Sorts n latencies and returns the p-th percentile of them (0: none). */
void bench_lat_sort(uint32_t *v, size_t n);
uint32_t bench_lat_pct(const uint32_t *v, size_t n, double p);

#endif /* BENCH_TLS_H */
