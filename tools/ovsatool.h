/*
 * ovsatool.h: what the ovsatool subcommands share: option parsing (on
 * lib/ovsa_opt), passphrase sources, the ISV keystore, certificate
 * loading and error output.
 */

#ifndef OVSATOOL_H
#define OVSATOOL_H

#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "ovsa_err.h"
#include "ovsa_opt.h"

#define OVSATOOL_PROG      "ovsatool"
#define OVSATOOL_KEY_FILE  "isv.key"
#define OVSATOOL_CERT_FILE "isv.crt"

/* the exit codes of every subcommand (lib/ovsa_opt.h) */
#define OVSATOOL_EXITS                                                        \
    (OVSA_EXIT_BIT(OVSA_EXIT_OK) | OVSA_EXIT_BIT(OVSA_EXIT_ERROR)             \
     | OVSA_EXIT_BIT(OVSA_EXIT_USAGE) | OVSA_EXIT_BIT(OVSA_EXIT_UNVERIFIED))

/*
 * The next option of a subcommand: its id (> 0); 0 when the options end
 * and at most maxargs arguments follow; or -1 after printing the help
 * (*ret = OVSA_EXIT_OK) or the usage error (*ret = OVSA_EXIT_USAGE).
 */
int ovsatool_opt(ovsa_opt_state_t *st, int maxargs, int *ret);

/*
 * Prints "<prog>: <what>" and the -help hint for a value the subcommand
 * refuses after parsing; returns OVSA_EXIT_USAGE.
 */
int ovsatool_usage(ovsa_opt_state_t *st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Prints "ovsatool <cmd>: <message> (<CODE>)" to stderr, as nginx -t
 * prints the same error.
 */
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

/* The subcommands: argv[0] is the subcommand's name. */
int ovsatool_keystore_main(void *ctx, int argc, char **argv);
int ovsatool_create_main(void *ctx, int argc, char **argv);
int ovsatool_update_main(void *ctx, int argc, char **argv);
int ovsatool_verify_main(void *ctx, int argc, char **argv);
int ovsatool_show_main(void *ctx, int argc, char **argv);
int ovsatool_identity_main(void *ctx, int argc, char **argv);
int ovsatool_pin_main(void *ctx, int argc, char **argv);
int ovsatool_policy_oid_main(void *ctx, int argc, char **argv);

#endif /* OVSATOOL_H */
