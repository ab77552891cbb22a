/*
 * ovsatool.c: the ISV's license tool.  Subcommands:
 *
 *   keystore           make an ISV signing key and self-signed certificate
 *   create             issue a customer license (version 1)
 *   updatecustlicense  issue the next version with new server pins
 *   verify             check a license's signature (and its ISV)
 *   show               print a license
 *   identity           check a license server identity as nginx does
 *   pin                the sha256// pin of a certificate, key or token key
 *   policy-oid         the certificate policy of ovsa server leaves
 *
 * Each subcommand has an options table (lib/ovsa_opt) its -help is
 * generated from; exit codes: docs/cli.md.  License format:
 * docs/license-format.md.
 */

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "ovsa_file.h"
#include "ovsa_key.h"
#include "ovsa_x509.h"
#include "ovsatool.h"


static const ovsa_opt_cmd_t ovsatool_cmds[] = {
    { "keystore", "", "make an ISV signing key and self-signed certificate",
      ovsatool_keystore_main, 0, -1 },
    { "create", "", "issue a customer license", ovsatool_create_main,
      0, -1 },
    { "updatecustlicense", "",
      "issue the next version of a license with new server pins",
      ovsatool_update_main, 0, -1 },
    { "verify", "", "verify a license's signature (and its ISV)",
      ovsatool_verify_main, 0, -1 },
    { "show", "", "print a license", ovsatool_show_main, 0, -1 },
    { "identity", "",
      "check a license server identity as nginx does at start",
      ovsatool_identity_main, 0, -1 },
    { "pin", "", "print the sha256// pin of a certificate, key or token key",
      ovsatool_pin_main, 0, -1 },
    { "policy-oid", "", "print the certificate policy of ovsa server leaves",
      ovsatool_policy_oid_main, 0, -1 },
    { NULL, NULL, NULL, NULL, 0, 0 }
};

static const ovsa_opt_prog_t ovsatool_prog = {
    OVSATOOL_PROG, "command [options]", NULL, ovsatool_cmds, OVSATOOL_EXITS
};


int
main(int argc, char **argv)
{
    int                    o;
    char                  *help;
    ovsa_opt_state_t       st;
    const ovsa_opt_cmd_t  *cmd;

    ovsa_opt_init(&st, &ovsatool_prog, argc, argv);

    o = ovsa_opt_next(&st);

    if (o == OVSA_OPT_HELP
        || (o == OVSA_OPT_EOF && ovsa_opt_nrest(&st) > 0
            && strcmp(ovsa_opt_rest(&st)[0], "help") == 0))
    {
        help = ovsa_opt_help(&ovsatool_prog);
        printf("%s", help ? help : "");
        printf("Use \"%s command -help\" for the options of a command.\n",
               OVSATOOL_PROG);
        free(help);
        return OVSA_EXIT_OK;
    }

    if (o == OVSA_OPT_EOF && ovsa_opt_nrest(&st) == 0) {
        ovsa_opt_bad(&st, "no command");
    }

    cmd = NULL;
    if (o == OVSA_OPT_EOF && ovsa_opt_nrest(&st) > 0) {
        cmd = ovsa_opt_cmd(&st, ovsatool_cmds, ovsa_opt_rest(&st)[0]);
    }

    if (cmd == NULL) {
        fprintf(stderr, "%s: %s\n%s: Use -help for summary.\n",
                OVSATOOL_PROG, st.msg, OVSATOOL_PROG);
        return OVSA_EXIT_USAGE;
    }

    return cmd->run(NULL, ovsa_opt_nrest(&st), ovsa_opt_rest(&st));
}


/* ---- options */

int
ovsatool_usage(ovsa_opt_state_t *st, const char *fmt, ...)
{
    va_list  ap;

    if (fmt != NULL) {
        va_start(ap, fmt);
        vsnprintf(st->msg, sizeof(st->msg), fmt, ap);
        va_end(ap);
    }

    fprintf(stderr, "%s: %s\n%s: Use -help for summary.\n", st->prog->prog,
            st->msg, st->prog->prog);
    return OVSA_EXIT_USAGE;
}


int
ovsatool_opt(ovsa_opt_state_t *st, int maxargs, int *ret)
{
    int    o;
    char  *help;

    o = ovsa_opt_next(st);

    if (o == OVSA_OPT_HELP) {
        help = ovsa_opt_help(st->prog);
        printf("%s", help ? help : "");
        free(help);
        *ret = OVSA_EXIT_OK;
        return -1;
    }

    if (o == OVSA_OPT_EOF && ovsa_opt_args(st, maxargs) != 0) {
        o = OVSA_OPT_ERR;
    }

    if (o == OVSA_OPT_ERR) {
        *ret = ovsatool_usage(st, NULL);
        return -1;
    }

    return o;
}


void
ovsatool_fail(const char *cmd, const ovsa_err_t *err)
{
    fprintf(stderr, "%s %s: %s (%s)\n", OVSATOOL_PROG, cmd, err->msg,
            ovsa_code_name(err->code));
}


/* ---- secrets */

static int
ovsatool_read_line(int fd, char *buf, size_t size, const char *what,
    ovsa_err_t *err)
{
    char     c;
    size_t   n;
    ssize_t  r;

    n = 0;
    for ( ;; ) {
        r = read(fd, &c, 1);
        if (r == -1 && errno == EINTR) {
            continue;
        }
        if (r == -1) {
            return ovsa_err_set(err, OVSA_E_IO, "passphrase: %s: %s", what,
                                strerror(errno));
        }
        if (r == 0 || c == '\n') {
            break;
        }
        if (n + 1 >= size) {
            OPENSSL_cleanse(buf, size);
            return ovsa_err_set(err, OVSA_E_KEY, "passphrase: %s: longer "
                                "than %zu bytes", what, size - 2);
        }
        buf[n++] = c;
    }

    if (n > 0 && buf[n - 1] == '\r') {
        n--;
    }
    buf[n] = '\0';
    return OVSA_OK;
}


int
ovsatool_passin(const char *spec, char *buf, size_t size, ovsa_err_t *err)
{
    int          fd, rc;
    char        *end;
    long         n;
    const char  *v;

    buf[0] = '\0';

    if (strncmp(spec, "file:", 5) == 0) {
        fd = open(spec + 5, O_RDONLY | O_CLOEXEC);
        if (fd == -1) {
            return ovsa_err_set(err, OVSA_E_IO, "passphrase: %s: %s",
                                spec + 5, strerror(errno));
        }
        rc = ovsatool_read_line(fd, buf, size, spec + 5, err);
        close(fd);
        if (rc != OVSA_OK) {
            return OVSA_ERR;
        }

    } else if (strncmp(spec, "env:", 4) == 0) {
        v = getenv(spec + 4);
        if (v == NULL) {
            return ovsa_err_set(err, OVSA_E_KEY, "passphrase: environment "
                                "variable %s is not set", spec + 4);
        }
        if (strlen(v) + 1 > size) {
            return ovsa_err_set(err, OVSA_E_KEY, "passphrase: %s: too long",
                                spec + 4);
        }
        strcpy(buf, v);

    } else if (strncmp(spec, "fd:", 3) == 0) {
        errno = 0;
        n = strtol(spec + 3, &end, 10);
        if (errno != 0 || end == spec + 3 || *end != '\0' || n < 0) {
            return ovsa_err_set(err, OVSA_E_KEY, "passphrase: \"%s\" is not "
                                "fd:NUMBER", spec);
        }
        if (ovsatool_read_line((int) n, buf, size, spec, err) != OVSA_OK) {
            return OVSA_ERR;
        }

    } else if (strncmp(spec, "pass:", 5) == 0) {
        return ovsa_err_set(err, OVSA_E_KEY, "passphrase: pass: is refused, "
                            "secrets never go on the command line; use "
                            "file:, env: or fd:");

    } else {
        return ovsa_err_set(err, OVSA_E_KEY, "passphrase: source must be "
                            "file:PATH, env:VAR or fd:N");
    }

    if (buf[0] == '\0') {
        return ovsa_err_set(err, OVSA_E_KEY, "passphrase: %s: empty", spec);
    }

    return OVSA_OK;
}


/* ---- keys and certificates (lib/ovsa_key.h, lib/ovsa_x509.h) */

int
ovsatool_keystore_load(const char *dir, const char *passin, EVP_PKEY **key,
    X509 **cert, ovsa_err_t *err)
{
    int          ret;
    char         path[4096], pass[1024];
    ovsa_err_t   e;

    ret = OVSA_ERR;
    *key = NULL;
    *cert = NULL;
    pass[0] = '\0';

    snprintf(path, sizeof(path), "%s/%s", dir, OVSATOOL_CERT_FILE);
    if (ovsatool_load_cert(path, cert, err) != OVSA_OK) {
        goto end;
    }

    if (passin != NULL
        && ovsatool_passin(passin, pass, sizeof(pass), err) != OVSA_OK)
    {
        goto end;
    }

    snprintf(path, sizeof(path), "%s/%s", dir, OVSATOOL_KEY_FILE);
    if (ovsa_key_load_pass(path, passin ? pass : NULL, key, &e) != OVSA_OK) {
        ovsa_err_set(err, e.code, "keystore: %s%s", e.msg,
                     e.code == OVSA_E_KEY && passin == NULL
                     ? " (encrypted? give -passin)" : "");
        goto end;
    }

    if (X509_check_private_key(*cert, *key) != 1) {
        ovsa_err_ssl(err, OVSA_E_KEY_MISMATCH, "keystore: %s: the key is not "
                     "the key of %s", path, OVSATOOL_CERT_FILE);
        goto end;
    }

    ret = OVSA_OK;

end:

    OPENSSL_cleanse(pass, sizeof(pass));
    if (ret != OVSA_OK) {
        EVP_PKEY_free(*key);
        X509_free(*cert);
        *key = NULL;
        *cert = NULL;
    }
    return ret;
}


int
ovsatool_load_cert(const char *path, X509 **out, ovsa_err_t *err)
{
    ovsa_err_t       e;
    STACK_OF(X509)  *certs;

    if (ovsa_chain_load(path, &certs, &e) != OVSA_OK) {
        return ovsa_err_set(err, e.code == OVSA_E_CHAIN_EMPTY ? OVSA_E_PEM
                                                              : e.code,
                            "%s", e.msg);
    }

    /* the first certificate of a chain file is its leaf */
    *out = sk_X509_shift(certs);
    sk_X509_pop_free(certs, X509_free);

    return OVSA_OK;
}


int
ovsatool_cert_sha256(X509 *cert, char *hex, ovsa_err_t *err)
{
    unsigned int   i, n;
    unsigned char  md[EVP_MAX_MD_SIZE];

    if (X509_digest(cert, EVP_sha256(), md, &n) != 1 || n != 32) {
        return ovsa_err_ssl(err, OVSA_E_INTERNAL, "certificate sha256");
    }

    for (i = 0; i < n; i++) {
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    }

    return OVSA_OK;
}


char *
ovsatool_server_url(const char *in)
{
    char       *full, *url, *out;
    size_t      len;
    CURLU      *u;

    out = NULL;
    url = NULL;

    if (strstr(in, "://") == NULL) {
        full = malloc(strlen(in) + sizeof("https://"));
        if (full == NULL) {
            return NULL;
        }
        sprintf(full, "https://%s", in);
    } else {
        full = strdup(in);
        if (full == NULL) {
            return NULL;
        }
    }

    u = curl_url();
    if (u != NULL
        && curl_url_set(u, CURLUPART_URL, full, CURLU_NON_SUPPORT_SCHEME)
           == CURLUE_OK
        && curl_url_get(u, CURLUPART_URL, &url, 0) == CURLUE_OK)
    {
        /* "https://host:port/" -> "https://host:port" */
        len = strlen(url);
        if (len > 0 && url[len - 1] == '/' && strstr(url, "://") != NULL
            && strchr(strstr(url, "://") + 3, '/') == url + len - 1)
        {
            url[len - 1] = '\0';
        }
        out = strdup(url);
    }

    curl_free(url);
    curl_url_cleanup(u);
    free(full);
    return out;
}
