/*
 * p11_open_driver.c: p11-open, drives lib/ovsa_p11 against a real token for
 * t/090-hwkey-token.t.  Prints one "step: CODE: message" line per step and
 * exits 0 when every step had the outcome the command expects.
 *
^ *   p11-open open   MODULE URI PINFILE   prints the code of the open
^ *   p11-open conf   DEFAULT_YAML         ovsa_p11_open_conf + sign
^ *   p11-open sign   MODULE URI PINFILE   open, sign (PSS + PKCS#1 /
 *                                             ECDSA), verify in software
^ *   p11-open unplug MODULE URI PINFILE FIXTURE DIR
 *       open and sign, unplug the p11-kit server (sh FIXTURE unplug DIR),
 *       probe and sign on the old handle (must fail), restart the server,
 *       probe and sign on the old handle again (reported), re-open in the
 *       same process (must be refused)
^ *   p11-open freeze MODULE URI PINFILE FIXTURE DIR
 *       open and sign, SIGSTOP the server (sh FIXTURE freeze DIR), sign
 *       under a 3 s alarm: prints HANG and exits 3 if it blocks
 *
 * Every token call runs under alarm(): a hang fails the test (exit 3).
 */

#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "ovsa_conf.h"
#include "ovsa_p11.h"
#include "ovsa_p11_conf.h"
#include "ovsa_x509.h"

static const char  *p11_test_step = "start";
static unsigned     p11_test_alarm_s = 20;


static void
p11_test_alarm(int sig)
{
    char  msg[256];
    int   n;

    n = snprintf(msg, sizeof(msg), "%s: HANG: no answer in %u s\n",
                 p11_test_step, p11_test_alarm_s);
    (void) !write(STDOUT_FILENO, msg, n);
    _exit(3);
}


static void
p11_test_report(const char *step, int rc, ovsa_err_t *err)
{
    printf("%s: %s: %s\n", step, rc == OVSA_OK ? "OVSA_OK"
                                               : ovsa_code_name(err->code),
           rc == OVSA_OK ? "ok" : err->msg);
    fflush(stdout);
}


static char *
p11_test_pin(const char *file)
{
    FILE  *f;
    char   buf[256], *pin;

    f = fopen(file, "r");
    if (f == NULL || fgets(buf, sizeof(buf), f) == NULL) {
        fprintf(stderr, "p11-open: %s: cannot read PIN\n", file);
        exit(2);
    }

    fclose(f);
    buf[strcspn(buf, "\r\n")] = '\0';
    pin = strdup(buf);
    OPENSSL_cleanse(buf, sizeof(buf));

    return pin;
}


static int
p11_test_open(const char *module, const char *uri, const char *pinfile,
    ovsa_p11_t **h, const char *step)
{
    int          rc;
    char        *pin;
    ovsa_err_t   err;

    pin = p11_test_pin(pinfile);
    p11_test_step = step;
    alarm(p11_test_alarm_s);
    rc = ovsa_p11_open(module, uri, pin, h, &err);
    alarm(0);
    OPENSSL_cleanse(pin, strlen(pin));
    free(pin);
    p11_test_report(step, rc, &err);

    return rc;
}


/* Signs with the token and verifies with a software copy of the pubkey. */
static int
p11_test_sign(ovsa_p11_t *h, int pss, const char *step)
{
    int              rc, ok;
    long             ms;
    size_t           siglen;
    EVP_PKEY        *pub;
    EVP_MD_CTX      *mctx;
    EVP_PKEY_CTX    *pctx;
    ovsa_err_t       err;
    unsigned char   *der, *sig;
    const char      *tbs = "\"@status\": 200\n\"@signature-params\": ();";
    struct timespec  t0, t1;
    const unsigned char  *p;

    p11_test_step = step;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    alarm(p11_test_alarm_s);
    rc = ovsa_p11_sign(h, EVP_sha256(), pss, (const unsigned char *) tbs,
                       strlen(tbs), &sig, &siglen, &err);
    alarm(0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;

    if (rc != OVSA_OK) {
        p11_test_report(step, rc, &err);
        return rc;
    }

    der = NULL;
    rc = i2d_PUBKEY(ovsa_p11_pkey(h), &der);
    p = der;
    pub = rc > 0 ? d2i_PUBKEY(NULL, &p, rc) : NULL;
    OPENSSL_free(der);

    ok = 0;
    mctx = EVP_MD_CTX_new();
    if (pub != NULL && mctx != NULL
        && EVP_DigestVerifyInit(mctx, &pctx, EVP_sha256(), NULL, pub) == 1
        && (!pss || EVP_PKEY_get_base_id(pub) != EVP_PKEY_RSA
            || (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1
                && EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx,
                                                    RSA_PSS_SALTLEN_DIGEST)
                   == 1))
        && EVP_DigestVerify(mctx, sig, siglen, (const unsigned char *) tbs,
                            strlen(tbs)) == 1)
    {
        ok = 1;
    }

    printf("%s: %s: %zu-byte signature %s (%ld ms)\n", step,
           ok ? "OVSA_OK" : "VERIFY_FAILED", siglen,
           ok ? "verifies" : "does not verify", ms);
    fflush(stdout);

    EVP_MD_CTX_free(mctx);
    EVP_PKEY_free(pub);
    OPENSSL_free(sig);

    return ok ? OVSA_OK : OVSA_ERR;
}


static int
p11_test_probe(ovsa_p11_t *h, const char *step)
{
    int         rc;
    ovsa_err_t  err;

    p11_test_step = step;
    alarm(p11_test_alarm_s);
    rc = ovsa_p11_probe(h, &err);
    alarm(0);
    p11_test_report(step, rc, &err);

    return rc;
}


static int
p11_test_fixture(const char *fixture, const char *cmd, const char *dir)
{
    char  line[1024];

    snprintf(line, sizeof(line), "sh '%s' %s '%s'", fixture, cmd, dir);
    if (system(line) != 0) {
        printf("fixture-%s: FAILED\n", cmd);
        return OVSA_ERR;
    }

    printf("fixture-%s: done\n", cmd);
    fflush(stdout);

    return OVSA_OK;
}


int
main(int argc, char **argv)
{
    int          ret;
    ovsa_p11_t  *h, *h2;

    ret = 1;
    h = NULL;
    h2 = NULL;

    if (argc == 3 && strcmp(argv[1], "conf") == 0) {
        ovsa_conf_t  *conf;
        ovsa_err_t    err;
        int           rc;

        signal(SIGPIPE, SIG_IGN);
        signal(SIGALRM, p11_test_alarm);
        if (ovsa_conf_load(argv[2], &conf, &err) != OVSA_OK) {
            p11_test_report("conf", OVSA_ERR, &err);
            return 1;
        }
        p11_test_step = "open-conf";
        alarm(p11_test_alarm_s);
        rc = ovsa_p11_open_conf(conf, &h, &err);
        alarm(0);
        p11_test_report("open-conf", rc, &err);
        if (rc == OVSA_OK) {
            /* What the module does in a worker: the token key vs the leaf. */
            ovsa_identity_t  id;

            memset(&id, 0, sizeof(id));
            rc = ovsa_identity_load(conf, &id, &err);
            if (rc == OVSA_OK) {
                rc = ovsa_key_match(sk_X509_value(id.chain, 0),
                                    ovsa_p11_pkey(h), &err);
            }
            p11_test_report("key-match", rc, &err);
            ovsa_identity_free(&id);
        }
        ovsa_conf_free(conf);
        if (rc == OVSA_OK && p11_test_sign(h, 1, "sign-pss") == OVSA_OK) {
            ret = 0;
        }
        ovsa_p11_close(h);
        return ret;
    }

    if (argc < 5) {
        fprintf(stderr, "usage: p11-open open|sign|reopen|unplug|"
                        "freeze MODULE URI PINFILE [FIXTURE DIR]\n");
        return 2;
    }

    /* As nginx does: a write to a dead p11-kit socket must not kill us. */
    if (getenv("P11_TEST_SIGPIPE_DEFAULT") == NULL) {
        signal(SIGPIPE, SIG_IGN);
    }
    signal(SIGALRM, p11_test_alarm);

    if (strcmp(argv[1], "open") == 0) {
        if (p11_test_open(argv[2], argv[3], argv[4], &h, "open") == OVSA_OK) {
            ret = 0;
        }

    } else if (strcmp(argv[1], "sign") == 0) {
        if (p11_test_open(argv[2], argv[3], argv[4], &h, "open") == OVSA_OK
            && p11_test_sign(h, 1, "sign-pss") == OVSA_OK
            && p11_test_sign(h, 0, "sign-pkcs1") == OVSA_OK
            && p11_test_probe(h, "probe") == OVSA_OK)
        {
            ret = 0;
        }

    } else if (strcmp(argv[1], "reopen") == 0) {
        if (p11_test_open(argv[2], argv[3], argv[4], &h, "open") == OVSA_OK
            && p11_test_sign(h, 1, "sign") == OVSA_OK)
        {
            ovsa_p11_close(h);
            h = NULL;
            if (p11_test_open(argv[2], argv[3], argv[4], &h, "reopen")
                == OVSA_OK
                && p11_test_sign(h, 1, "sign-reopened") == OVSA_OK)
            {
                ret = 0;
            }
        }

    } else if (strcmp(argv[1], "unplug") == 0 && argc == 7) {
        if (p11_test_open(argv[2], argv[3], argv[4], &h, "open") != OVSA_OK
            || p11_test_sign(h, 1, "sign-before") != OVSA_OK
            || p11_test_fixture(argv[5], "unplug", argv[6]) != OVSA_OK)
        {
            goto end;
        }

        /* The old handle must report the loss, not hang, not succeed. */
        if (p11_test_sign(h, 1, "sign-unplugged") == OVSA_OK
            || p11_test_probe(h, "probe-unplugged") == OVSA_OK
            || p11_test_fixture(argv[5], "start", argv[6]) != OVSA_OK)
        {
            goto end;
        }

        /* Measured: the old handle does not come back by itself. */
        (void) p11_test_probe(h, "probe-replugged-old-handle");
        (void) p11_test_sign(h, 1, "sign-replugged-old-handle");

        /* One open per process: a re-open here is refused. */
        if (p11_test_open(argv[2], argv[3], argv[4], &h2, "reopen-same")
            == OVSA_OK)
        {
            goto end;
        }

        ret = 0;

    } else if (strcmp(argv[1], "freeze") == 0 && argc == 7) {
        /* Measurement: a token that stops answering blocks the caller. */
        if (p11_test_open(argv[2], argv[3], argv[4], &h, "open") != OVSA_OK
            || p11_test_sign(h, 1, "sign-before") != OVSA_OK
            || p11_test_fixture(argv[5], "freeze", argv[6]) != OVSA_OK)
        {
            goto end;
        }

        p11_test_alarm_s = 3;
        (void) p11_test_sign(h, 1, "sign-frozen");
        ret = 0;

    } else {
        fprintf(stderr, "p11-open: bad command\n");
        return 2;
    }

end:

    ovsa_p11_close(h2);
    ovsa_p11_close(h);

    return ret;
}
