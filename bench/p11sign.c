/*
 * p11sign.c: ovsa-bench-p11sign, the signing rate of a key on a PKCS#11
 * token through lib/ovsa_p11 (the libp11 engine), the path hardware-key
 * mode signs on.  The hardware-key ceiling of bench/run.sh, as
 * "openssl speed" is the software one: one thread (a token handle is
 * not thread-safe), SHA-256 digests of a 200-byte message, RSA-PSS for
 * RSA keys as the ovsa signature profile uses.
 *
 * Prints one line in the format of bench/wrk/report.lua, plus the CPU
 * this process spent (the token library runs in it):
 *   OVSA-BENCH requests=N duration_us=N p50_us=N p99_us=N p999_us=N
 *              errors=N non2xx=0 cpu_us=N
 * The PIN comes from a file, never from argv.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "ovsa_err.h"
#include "ovsa_p11.h"

static const char *prog = "ovsa-bench-p11sign";

typedef enum {
    OPT_ERR = -1, OPT_HELP, OPT_MODULE, OPT_URI, OPT_PIN_FILE, OPT_TIME
} p11s_opt_t;

static const struct {
    const char  *name;
    p11s_opt_t   opt;
    const char  *arg;
    const char  *help;
} p11s_options[] = {
    { "help", OPT_HELP, NULL, "Display this summary" },
    { "module", OPT_MODULE, "file", "PKCS#11 module, required" },
    { "uri", OPT_URI, "uri", "RFC 7512 URI of the private key, required" },
    { "pin-file", OPT_PIN_FILE, "file", "File whose first line is the PIN" },
    { "t", OPT_TIME, "secs", "Duration in seconds, default 3" },
    { NULL, OPT_ERR, NULL, NULL }
};

static double
p11s_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
p11s_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;

    return x < y ? -1 : x > y;
}

static uint32_t
p11s_pct(const uint32_t *v, size_t n, double p)
{
    size_t i;

    if (n == 0) {
        return 0;
    }
    i = (size_t) (p / 100.0 * (double) n);
    return v[i >= n ? n - 1 : i];
}

/* Reads the first line of file into pin.  Returns 0 or -1. */
static int
p11s_read_pin(const char *file, char *pin, size_t size)
{
    FILE *f = fopen(file, "r");

    if (f == NULL || fgets(pin, (int) size, f) == NULL) {
        if (f != NULL) {
            fclose(f);
        }
        return -1;
    }
    fclose(f);
    pin[strcspn(pin, "\r\n")] = '\0';
    return pin[0] == '\0' ? -1 : 0;
}

int
main(int argc, char **argv)
{
    int             i, j, ret = 1;
    double          secs = 3, t0, t1, until;
    const char     *module = NULL, *uri = NULL, *pin_file = NULL;
    char            pin[256];
    unsigned char   tbs[200], *sig;
    size_t          siglen, n = 0, cap = 0;
    unsigned long   errors = 0;
    uint32_t       *lat = NULL, *p;
    ovsa_p11_t     *h = NULL;
    ovsa_err_t      err;
    struct rusage   ru0, ru1;
    int             pss;

    memset(&err, 0, sizeof(err));
    memset(tbs, 'x', sizeof(tbs));

    for (i = 1; i < argc; i++) {
        p11s_opt_t o = OPT_ERR;

        if (argv[i][0] == '-') {
            for (j = 0; p11s_options[j].name != NULL; j++) {
                if (strcmp(argv[i] + 1, p11s_options[j].name) == 0) {
                    o = p11s_options[j].opt;
                    if (p11s_options[j].arg != NULL && ++i >= argc) {
                        o = OPT_ERR;
                    }
                    break;
                }
            }
        }
        switch (o) {
        case OPT_HELP:
            printf("Usage: %s [options]\n", prog);
            for (j = 0; p11s_options[j].name != NULL; j++) {
                printf(" -%-9s %-5s %s\n", p11s_options[j].name,
                       p11s_options[j].arg ? p11s_options[j].arg : "",
                       p11s_options[j].help);
            }
            return 0;
        case OPT_MODULE:
            module = argv[i];
            break;
        case OPT_URI:
            uri = argv[i];
            break;
        case OPT_PIN_FILE:
            pin_file = argv[i];
            break;
        case OPT_TIME:
            secs = atof(argv[i]);
            break;
        case OPT_ERR:
        default:
            fprintf(stderr, "%s: Use -help for summary.\n", prog);
            return 1;
        }
    }
    if (module == NULL || uri == NULL || pin_file == NULL || secs <= 0) {
        fprintf(stderr, "%s: Use -help for summary.\n", prog);
        return 1;
    }

    if (p11s_read_pin(pin_file, pin, sizeof(pin)) != 0) {
        fprintf(stderr, "%s: cannot read a PIN from %s\n", prog, pin_file);
        goto end;
    }
    if (ovsa_p11_open(module, uri, pin, &h, &err) != OVSA_OK) {
        fprintf(stderr, "%s: %s (%s)\n", prog, err.msg,
                ovsa_code_name(err.code));
        goto end;
    }
    OPENSSL_cleanse(pin, sizeof(pin));
    pss = EVP_PKEY_get_base_id(ovsa_p11_pkey(h)) == EVP_PKEY_RSA;

    getrusage(RUSAGE_SELF, &ru0);
    t0 = p11s_now();
    until = t0 + secs;
    while ((t1 = p11s_now()) < until) {
        if (ovsa_p11_sign(h, EVP_sha256(), pss, tbs, sizeof(tbs), &sig,
                          &siglen, &err) == OVSA_OK)
        {
            OPENSSL_free(sig);
        } else {
            errors++;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 4096;
            p = realloc(lat, cap * sizeof(*p));
            if (p == NULL) {
                goto end;
            }
            lat = p;
        }
        lat[n++] = (uint32_t) ((p11s_now() - t1) * 1e6);
    }
    t1 = p11s_now();
    getrusage(RUSAGE_SELF, &ru1);
    qsort(lat, n, sizeof(*lat), p11s_cmp);

    printf("OVSA-BENCH requests=%zu duration_us=%.0f p50_us=%u p99_us=%u"
           " p999_us=%u errors=%lu non2xx=0 cpu_us=%.0f\n",
           n, (t1 - t0) * 1e6, p11s_pct(lat, n, 50), p11s_pct(lat, n, 99),
           p11s_pct(lat, n, 99.9), errors,
           (ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec
            + ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) * 1e6
           + (ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec
              + ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec));
    ret = errors == 0 ? 0 : 1;

end:
    OPENSSL_cleanse(pin, sizeof(pin));
    ovsa_p11_close(h);
    free(lat);
    return ret;
}
