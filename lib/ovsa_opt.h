/*
 * ovsa_opt.h: the command line of every ovsa program (ovsatool, ovsactl,
 * ovsa-check, ovsa-backend): an options table, one parser, the -help text
 * generated from the table, and the one table of exit codes.  In the
 * style of OpenSSL's apps/lib/opt.c.
 *
 *   -name and --name are the same option; an option may have a short
 *   alias ("-k" for "-keystore").  "-help" / "--help" is in every table.
 *   Parsing stops at the first argument that is not an option, at "-"
 *   (stdin) or after "--"; the rest are the program's arguments.
 *
 * The parser never prints: a bad argument leaves its reason in the state;
 * the program prints "<prog>: <reason>" and "<prog>: Use -help for
 * summary." and exits with OVSA_EXIT_USAGE.  docs/cli.md documents it.
 */

#ifndef OVSA_OPT_H
#define OVSA_OPT_H

#include <stdint.h>

/*
 * X(name, status, description): the exit status of every ovsa program.
 * ovsa-check's 3 and 4 are older than this table and must not move.
 */
#define OVSA_EXIT_CODES(X)                                                    \
    X(OVSA_EXIT_OK,             0, "success")                                 \
    X(OVSA_EXIT_ERROR,          1, "error: a file, key, configuration or "    \
                                   "resource problem")                        \
    X(OVSA_EXIT_USAGE,          2, "bad command line")                        \
    X(OVSA_EXIT_UNVERIFIED,     3, "a check failed: an answer, license, "     \
                                   "identity or key did not verify")          \
    X(OVSA_EXIT_UNREACHABLE,    4, "the server could not be reached")         \
    X(OVSA_EXIT_REFUSED,        5, "the server answered no: a verified "      \
                                   "denial, a refused admin request")         \
    X(OVSA_EXIT_NOT_CONFIGURED, 6, "the configuration does not enable it "    \
                                   "(ovsactl -c: no admin token file)")

enum {
#define OVSA_X_EXIT(name, status, desc) name = status,
    OVSA_EXIT_CODES(OVSA_X_EXIT)
#undef OVSA_X_EXIT
    OVSA_EXIT__COUNT
};

/* A set of exit codes, for the help of a program that uses them. */
#define OVSA_EXIT_BIT(status)  (1u << (status))

/* Returns the description of an exit status; never NULL. */
const char *ovsa_exit_desc(int status);

/*
 * The exit status for a check that failed with the ovsa_err_t code
 * "code": OVSA_EXIT_UNREACHABLE for OVSA_E_TRANSPORT, OVSA_EXIT_ERROR for
 * a local problem (memory, a file, the configuration, an unreadable key,
 * the token), else OVSA_EXIT_UNVERIFIED; OVSA_EXIT_OK for OVSA_E_NONE.
 */
int ovsa_exit_status(int code);

/* Kinds of option values. */
typedef enum {
    OVSA_OPT_FLAG = 0,          /* no value */
    OVSA_OPT_STR,               /* one value */
    OVSA_OPT_INT,               /* one decimal integer, in st->num */
    OVSA_OPT_UINT,              /* one decimal integer >= 0, in st->num */
    OVSA_OPT_PAIR               /* two values: "-u URL CERT" */
} ovsa_opt_kind_t;

/* What ovsa_opt_next() returns besides an option id (ids are > 0). */
#define OVSA_OPT_EOF    0       /* no more options; see ovsa_opt_rest() */
#define OVSA_OPT_ERR   -1       /* bad argument; the reason in st->msg */
#define OVSA_OPT_HELP  -2       /* -help */

typedef struct {
    const char       *name;     /* without the dash: "keystore" */
    const char       *alias;    /* "k", or NULL */
    int               id;       /* > 0, returned by ovsa_opt_next() */
    ovsa_opt_kind_t   kind;
    const char       *valname;  /* in the help: "dir", "url cert" */
    const char       *help;
} ovsa_opt_t;                   /* a table ends with name NULL */

/*
 * A command of a program with commands (ovsatool, ovsactl).  run gets the
 * program's context and argv from the command's name on; the program
 * checks min_args <= argc - 1 <= max_args (-1: any) before calling it.
 */
typedef struct {
    const char  *name;          /* "import" */
    const char  *args;          /* "FILE|DIR", or "" */
    const char  *help;
    int        (*run)(void *ctx, int argc, char **argv);
    int          min_args;
    int          max_args;
} ovsa_opt_cmd_t;               /* a list ends with name NULL */

typedef struct {
    const char            *prog;     /* "ovsatool create" */
    const char            *synopsis; /* "-l FILE [options]" */
    const ovsa_opt_t      *opts;
    const ovsa_opt_cmd_t  *cmds;     /* commands for the help, or NULL */
    unsigned               exits;    /* OVSA_EXIT_BIT()s the help lists */
} ovsa_opt_prog_t;

typedef struct {
    const ovsa_opt_prog_t  *prog;
    int                     argc;
    char                  **argv;
    int                     i;       /* the next argument */
    const char             *opt;     /* the option as written: "--out" */
    const char             *val;     /* its value(s) */
    const char             *val2;
    int64_t                 num;     /* OVSA_OPT_INT / OVSA_OPT_UINT */
    char                    msg[256];
} ovsa_opt_state_t;

/*
 * Starts parsing argv[1..argc-1] (argv[0] is the program or command
 * name) with the table of prog; prog must outlive the state.
 */
void ovsa_opt_init(ovsa_opt_state_t *st, const ovsa_opt_prog_t *prog,
    int argc, char **argv);

/*
 * Returns the id of the next option with its value(s) in st->val,
 * st->val2 and st->num, OVSA_OPT_HELP, OVSA_OPT_EOF at the end of the
 * options, or OVSA_OPT_ERR with the reason in st->msg (unknown option,
 * missing value, not a number).  A repeated option is returned each time.
 */
int ovsa_opt_next(ovsa_opt_state_t *st);

/* The arguments after the options, and how many there are. */
char **ovsa_opt_rest(const ovsa_opt_state_t *st);
int ovsa_opt_nrest(const ovsa_opt_state_t *st);

/*
 * Returns 0 when at most max arguments follow the options, else
 * OVSA_OPT_ERR with "unexpected argument" and the first extra in st->msg.
 */
int ovsa_opt_args(ovsa_opt_state_t *st, int max);

/*
 * Puts a reason into st->msg for a value the program refuses after
 * parsing; returns OVSA_OPT_ERR.
 */
int ovsa_opt_bad(ovsa_opt_state_t *st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Returns the help of prog, generated from its tables: usage line,
 * options, commands and the exit codes in prog->exits.  The caller prints
 * it and frees it with free(); NULL when out of memory.
 */
char *ovsa_opt_help(const ovsa_opt_prog_t *prog);

/*
 * Returns the command of cmds called name, or NULL with the reason in
 * st->msg (unknown command).
 */
const ovsa_opt_cmd_t *ovsa_opt_cmd(ovsa_opt_state_t *st,
    const ovsa_opt_cmd_t *cmds, const char *name);

/*
 * Returns 0 when n arguments suit cmd, else OVSA_OPT_ERR with the
 * reason in st->msg.
 */
int ovsa_opt_cmd_args(ovsa_opt_state_t *st, const ovsa_opt_cmd_t *cmd,
    int n);

#endif /* OVSA_OPT_H */
