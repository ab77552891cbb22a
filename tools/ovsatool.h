/*
 * ovsatool.h: what the ovsatool subcommands share: the options-table
 * parser (in the style of OpenSSL's apps/lib/opt.c), passphrase sources,
 * the ISV keystore, certificate loading and error output.
 */

#ifndef OVSATOOL_H
#define OVSATOOL_H

#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "ovsa_err.h"

#define OVSATOOL_PROG      "ovsatool"
#define OVSATOOL_KEY_FILE  "isv.key"
#define OVSATOOL_CERT_FILE "isv.crt"

/* option argument kinds */
#define OVSATOOL_ARG_NONE  0
#define OVSATOOL_ARG_STR   1
#define OVSATOOL_ARG_PAIR  2        /* two values: "-u URL CERT" */

#define OVSATOOL_OPT_EOF   0
#define OVSATOOL_OPT_ERR  -1
#define OVSATOOL_OPT_HELP  1        /* every table has it; ids start at 2 */

typedef struct {
    const char  *name;              /* without the dash: "keystore" */
    const char  *alias;             /* short form "k", or NULL */
    int          id;
    int          arg;
    const char  *valname;           /* "dir", "file", "url cert" */
    const char  *help;
} ovsatool_opt_t;

typedef struct {
    const char            *cmd;     /* "create" */
    const char            *synopsis;
    const ovsatool_opt_t  *opts;
    int                    argc;
    char                 **argv;
    int                    i;
    const char            *val;
    const char            *val2;
} ovsatool_args_t;

/* Returns the id of the next option (its values in a->val, a->val2), 
 * OVSATOOL_OPT_EOF at the end, or OVSATOOL_OPT_ERR after printing why.
 * "-name" and "--name" are both accepted, so is the alias. */
int ovsatool_opt_next(ovsatool_args_t *a);

/* Prints the summary generated from the table to stdout. */
void ovsatool_opt_help(const ovsatool_args_t *a);

/* Parses a->val as a decimal integer; prints and returns OVSA_ERR when it
 * is not one. */
int ovsatool_opt_int(const ovsatool_args_t *a, int64_t *out);

/* Prints "ovsatool: <cmd>: <what>" then the -help hint; returns 1. */
int ovsatool_usage(const ovsatool_args_t *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prints "ovsatool <cmd>: <CODE>: <message>" to stderr. */
void ovsatool_fail(const char *cmd, const ovsa_err_t *err);

/*
 * Reads a passphrase from "file:PATH" (first line), "env:VAR" or "fd:N"
 * into buf (NUL-terminated, newline stripped).  Anything else, and
 * "pass:" in particular, is refused: secrets never travel in argv.
 */
int ovsatool_passin(const char *spec, char *buf, size_t size,
    ovsa_err_t *err);

/* Loads DIR/isv.key (ovsa_key_load_pass: PEM or DER, mode 0600, decrypted
 * with the -passin passphrase when given) and DIR/isv.crt, and checks
 * that they belong together. */
int ovsatool_keystore_load(const char *dir, const char *passin,
    EVP_PKEY **key, X509 **cert, ovsa_err_t *err);

/* Loads the first certificate (the leaf) of a PEM or DER file
 * (ovsa_chain_load); a file without one is OVSA_E_PEM. */
int ovsatool_load_cert(const char *path, X509 **out, ovsa_err_t *err);

/* Writes the lower-case hex SHA-256 of the certificate's DER to
 * hex[65]. */
int ovsatool_cert_sha256(X509 *cert, char *hex, ovsa_err_t *err);

/* Returns a malloc'ed "https://..." form of a server URL given as a URL
 * or as "host:port", normalized by libcurl; NULL when it cannot be. */
char *ovsatool_server_url(const char *in);

int ovsatool_keystore_main(int argc, char **argv);
int ovsatool_create_main(int argc, char **argv);
int ovsatool_update_main(int argc, char **argv);
int ovsatool_verify_main(int argc, char **argv);
int ovsatool_show_main(int argc, char **argv);

#endif /* OVSATOOL_H */
