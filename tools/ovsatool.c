/*
 * ovsatool.c: the ISV's license tool.  Subcommands:
 *
 *   keystore           make an ISV signing key and self-signed certificate
 *   create             issue a customer license (version 1)
 *   updatecustlicense  issue the next version with new server pins
 *   verify             check a license's signature (and its ISV)
 *   show               print a license
 *
 * Each subcommand has an options table its -help is generated from.
 * License format: docs/license-format.md.
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


typedef struct {
    const char  *name;
    int        (*main)(int argc, char **argv);
    const char  *help;
} ovsatool_cmd_t;

static const ovsatool_cmd_t ovsatool_cmds[] = {
    { "keystore", ovsatool_keystore_main,
      "make an ISV signing key and self-signed certificate" },
    { "create", ovsatool_create_main, "issue a customer license" },
    { "updatecustlicense", ovsatool_update_main,
      "issue the next version of a license with new server pins" },
    { "verify", ovsatool_verify_main,
      "verify a license's signature (and its ISV)" },
    { "show", ovsatool_show_main, "print a license" },
    { NULL, NULL, NULL }
};


static void
ovsatool_help(FILE *f)
{
    const ovsatool_cmd_t  *c;

    fprintf(f, "Usage: %s command [options]\n"
               "Commands:\n", OVSATOOL_PROG);
    for (c = ovsatool_cmds; c->name != NULL; c++) {
        fprintf(f, "  %-18s %s\n", c->name, c->help);
    }
    fprintf(f, "Use \"%s command -help\" for the options of a command.\n",
            OVSATOOL_PROG);
}


int
main(int argc, char **argv)
{
    const ovsatool_cmd_t  *c;

    if (argc < 2) {
        ovsatool_help(stderr);
        return 1;
    }

    if (strcmp(argv[1], "-help") == 0 || strcmp(argv[1], "--help") == 0
        || strcmp(argv[1], "help") == 0)
    {
        ovsatool_help(stdout);
        return 0;
    }

    for (c = ovsatool_cmds; c->name != NULL; c++) {
        if (strcmp(argv[1], c->name) == 0) {
            return c->main(argc - 1, argv + 1);
        }
    }

    fprintf(stderr, "%s: unknown command \"%s\"\n"
            "%s: Use -help for summary.\n", OVSATOOL_PROG, argv[1],
            OVSATOOL_PROG);
    return 1;
}


/* ---- options */

int
ovsatool_usage(const ovsatool_args_t *a, const char *fmt, ...)
{
    va_list  ap;

    fprintf(stderr, "%s %s: ", OVSATOOL_PROG, a->cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n%s %s: Use -help for summary.\n", OVSATOOL_PROG,
            a->cmd);
    return 1;
}


int
ovsatool_opt_next(ovsatool_args_t *a)
{
    const char            *arg, *name;
    const ovsatool_opt_t  *o;

    if (a->i == 0) {
        a->i = 1;                            /* argv[0] is the command */
    }

    if (a->i >= a->argc) {
        return OVSATOOL_OPT_EOF;
    }

    arg = a->argv[a->i++];
    if (arg[0] != '-' || arg[1] == '\0') {
        ovsatool_usage(a, "unexpected argument \"%s\"", arg);
        return OVSATOOL_OPT_ERR;
    }

    name = arg + (arg[1] == '-' ? 2 : 1);
    if (strcmp(name, "help") == 0) {
        return OVSATOOL_OPT_HELP;
    }

    for (o = a->opts; o->name != NULL; o++) {
        if (strcmp(name, o->name) == 0
            || (o->alias != NULL && strcmp(name, o->alias) == 0))
        {
            break;
        }
    }

    if (o->name == NULL) {
        ovsatool_usage(a, "unknown option \"%s\"", arg);
        return OVSATOOL_OPT_ERR;
    }

    a->val = a->val2 = NULL;

    if (o->arg >= OVSATOOL_ARG_STR) {
        if (a->i >= a->argc) {
            ovsatool_usage(a, "%s needs %s", arg, o->valname);
            return OVSATOOL_OPT_ERR;
        }
        a->val = a->argv[a->i++];
    }

    if (o->arg == OVSATOOL_ARG_PAIR) {
        if (a->i >= a->argc) {
            ovsatool_usage(a, "%s needs %s", arg, o->valname);
            return OVSATOOL_OPT_ERR;
        }
        a->val2 = a->argv[a->i++];
    }

    return o->id;
}


void
ovsatool_opt_help(const ovsatool_args_t *a)
{
    char                   left[64];
    const ovsatool_opt_t  *o;

    printf("Usage: %s %s %s\nValid options are:\n", OVSATOOL_PROG, a->cmd,
           a->synopsis);
    printf(" %-32s %s\n", "-help", "Display this summary");

    for (o = a->opts; o->name != NULL; o++) {
        snprintf(left, sizeof(left), "%s%s%s-%s%s%s",
                 o->alias ? "-" : "", o->alias ? o->alias : "",
                 o->alias ? ", " : "", o->name,
                 o->valname ? " " : "", o->valname ? o->valname : "");
        printf(" %-32s %s\n", left, o->help);
    }
}


int
ovsatool_opt_int(const ovsatool_args_t *a, int64_t *out)
{
    char       *end;
    long long   n;

    errno = 0;
    n = strtoll(a->val, &end, 10);
    if (errno != 0 || end == a->val || *end != '\0') {
        ovsatool_usage(a, "\"%s\" is not a whole number", a->val);
        return OVSA_ERR;
    }

    *out = n;
    return OVSA_OK;
}


void
ovsatool_fail(const char *cmd, const ovsa_err_t *err)
{
    fprintf(stderr, "%s %s: %s: %s\n", OVSATOOL_PROG, cmd,
            ovsa_code_name(err->code), err->msg);
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
