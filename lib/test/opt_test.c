/*
 * opt_test.c: cmocka unit tests of lib/ovsa_opt.c, the option parser and
 * the generated help of every ovsa program (run by t/072-opt-lib.t).
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ovsa_err.h"
#include "ovsa_opt.h"

enum {
    OPT_OUT = 1, OPT_JSON, OPT_DAYS, OPT_SKEW, OPT_SERVER, OPT_KEYSTORE,
    OPT_LONG
};

static const ovsa_opt_t test_opts[] = {
    { "out", NULL, OPT_OUT, OVSA_OPT_STR, "file", "Output file" },
    { "json", NULL, OPT_JSON, OVSA_OPT_FLAG, NULL, "Print JSON" },
    { "days", NULL, OPT_DAYS, OVSA_OPT_INT, "n", "Validity in days" },
    { "skew", NULL, OPT_SKEW, OVSA_OPT_UINT, "+int", "Clock skew" },
    { "server", "u", OPT_SERVER, OVSA_OPT_PAIR, "url cert",
      "Server and its certificate" },
    { "keystore", "k", OPT_KEYSTORE, OVSA_OPT_STR, "dir", "ISV keystore" },
    { "a-very-long-option-name", NULL, OPT_LONG, OVSA_OPT_STR, "value",
      "A help text long enough to need more than one line in the summary: "
      "it wraps at word boundaries and every line stays within seventy-nine "
      "columns" },
    { NULL, NULL, 0, 0, NULL, NULL }
};

static const ovsa_opt_cmd_t test_cmds[] = {
    { "import", "FILE|DIR", "import licenses", NULL, 1, 1 },
    { "list", "", "list licenses", NULL, 0, 0 },
    { "frob", "ARGS...", "any number", NULL, 0, -1 },
    { NULL, NULL, NULL, NULL, 0, 0 }
};

static const ovsa_opt_prog_t test_prog = {
    "testprog", "[options] command", test_opts, test_cmds,
    OVSA_EXIT_BIT(OVSA_EXIT_OK) | OVSA_EXIT_BIT(OVSA_EXIT_USAGE)
    | OVSA_EXIT_BIT(OVSA_EXIT_UNVERIFIED)
};


/* Parses a NULL-terminated argument list (argv[0] is added). */
static void
start(ovsa_opt_state_t *st, char **args)
{
    static char  *argv[32];
    int           n;

    argv[0] = "testprog";
    for (n = 0; args[n] != NULL; n++) {
        argv[n + 1] = args[n];
    }
    argv[n + 1] = NULL;

    ovsa_opt_init(st, &test_prog, n + 1, argv);
}


static void
test_flags_and_values(void **state)
{
    ovsa_opt_state_t   st;
    char              *args[] = { "-json", "-out", "a.txt", "--days", "-3",
                                  "-skew", "60", NULL };

    start(&st, args);
    assert_int_equal(ovsa_opt_next(&st), OPT_JSON);
    assert_null(st.val);

    assert_int_equal(ovsa_opt_next(&st), OPT_OUT);
    assert_string_equal(st.val, "a.txt");
    assert_string_equal(st.opt, "-out");

    assert_int_equal(ovsa_opt_next(&st), OPT_DAYS);
    assert_int_equal(st.num, -3);
    assert_string_equal(st.opt, "--days");

    assert_int_equal(ovsa_opt_next(&st), OPT_SKEW);
    assert_int_equal(st.num, 60);

    assert_int_equal(ovsa_opt_next(&st), OVSA_OPT_EOF);
    assert_int_equal(ovsa_opt_nrest(&st), 0);
    /* EOF is sticky */
    assert_int_equal(ovsa_opt_next(&st), OVSA_OPT_EOF);
}


static void
test_alias_and_pair(void **state)
{
    ovsa_opt_state_t   st;
    char              *args[] = { "-k", "ks", "-u", "https://a", "a.crt",
                                  "--server", "b:1", "b.crt", NULL };

    start(&st, args);
    assert_int_equal(ovsa_opt_next(&st), OPT_KEYSTORE);
    assert_string_equal(st.val, "ks");

    assert_int_equal(ovsa_opt_next(&st), OPT_SERVER);
    assert_string_equal(st.val, "https://a");
    assert_string_equal(st.val2, "a.crt");

    assert_int_equal(ovsa_opt_next(&st), OPT_SERVER);
    assert_string_equal(st.val, "b:1");
    assert_string_equal(st.val2, "b.crt");

    assert_int_equal(ovsa_opt_next(&st), OVSA_OPT_EOF);
}


static void
test_missing_value(void **state)
{
    ovsa_opt_state_t   st;
    char              *a1[] = { "-json", "-out", NULL };
    char              *a2[] = { "-u", "https://a", NULL };
    char              *a3[] = { "-days", NULL };

    start(&st, a1);
    assert_int_equal(ovsa_opt_next(&st), OPT_JSON);
    assert_int_equal(ovsa_opt_next(&st), OVSA_OPT_ERR);
    assert_string_equal(st.msg, "option \"-out\" needs a value (file)");

    start(&st, a2);
    assert_int_equal(ovsa_opt_next(&st), OVSA_OPT_ERR);
    assert_string_equal(st.msg,
                        "option \"-u\" needs two values (url cert)");

    start(&st, a3);
    assert_int_equal(ovsa_opt_next(&st), OVSA_OPT_ERR);
    assert_non_null(strstr(st.msg, "\"-days\" needs a value"));
}


static void
test_bad_numbers(void **state)
{
    ovsa_opt_state_t   st;
    char              *a1[] = { "-days", "12x", NULL };
    char              *a2[] = { "-days", "", NULL };
    char              *a3[] = { "-skew", "-1", NULL };
    char              *a4[] = { "-days", " 5", NULL };
    char              *a5[] = { "-days", "99999999999999999999", NULL };

    start(&st, a1);
    assert_int_equal(ovsa_opt_next(&st), OVSA_OPT_ERR);
    assert_string_equal(st.msg, "-days: \"12x\" is not a whole number");

    start(&st, a2);
    assert_int_equal(ovsa_opt_next(&st), OVSA_OPT_ERR);

    start(&st, a3);
    assert_int_equal(ovsa_opt_next(&st), OVSA_OPT_ERR);
    assert_string_equal(st.msg, "-skew: \"-1\" must not be negative");

    start(&st, a4);
    assert_int_equal(ovsa_opt_next(&st), OVSA_OPT_ERR);

    start(&st, a5);
    assert_int_equal(ovsa_opt_next(&st), OVSA_OPT_ERR);
}


static void
test_unknown(void **state)
{
    ovsa_opt_state_t   st;
    char              *a1[] = { "-json", "-bogus", "-out", "x", NULL };
    char              *a2[] = { "--jso", NULL };
    char              *a3[] = { "---json", NULL };

    start(&st, a1);
    assert_int_equal(ovsa_opt_next(&st), OPT_JSON);
    assert_int_equal(ovsa_opt_next(&st), OVSA_OPT_ERR);
    assert_string_equal(st.msg, "unknown option \"-bogus\"");

    start(&st, a2);
    assert_int_equal(ovsa_opt_next(&st), OVSA_OPT_ERR);
    assert_string_equal(st.msg, "unknown option \"--jso\"");

    start(&st, a3);
    assert_int_equal(ovsa_opt_next(&st), OVSA_OPT_ERR);
}


static void
test_repeated(void **state)
{
    ovsa_opt_state_t   st;
    char              *args[] = { "-out", "a", "-json", "-out", "b",
                                  "-json", NULL };

    start(&st, args);
    assert_int_equal(ovsa_opt_next(&st), OPT_OUT);
    assert_string_equal(st.val, "a");
    assert_int_equal(ovsa_opt_next(&st), OPT_JSON);
    assert_int_equal(ovsa_opt_next(&st), OPT_OUT);
    assert_string_equal(st.val, "b");
    assert_int_equal(ovsa_opt_next(&st), OPT_JSON);
    assert_int_equal(ovsa_opt_next(&st), OVSA_OPT_EOF);
}


static void
test_end_of_options(void **state)
{
    ovsa_opt_state_t   st;
    char              *a1[] = { "-json", "--", "-out", "x", NULL };
    char              *a2[] = { "-json", "import", "-all", NULL };
    char              *a3[] = { "-", "-json", NULL };
    char              *a4[] = { "--", NULL };

    start(&st, a1);
    assert_int_equal(ovsa_opt_next(&st), OPT_JSON);
    assert_int_equal(ovsa_opt_next(&st), OVSA_OPT_EOF);
    assert_int_equal(ovsa_opt_nrest(&st), 2);
    assert_string_equal(ovsa_opt_rest(&st)[0], "-out");
    assert_string_equal(ovsa_opt_rest(&st)[1], "x");

    /* the first argument ends the options: "-all" belongs to it */
    start(&st, a2);
    assert_int_equal(ovsa_opt_next(&st), OPT_JSON);
    assert_int_equal(ovsa_opt_next(&st), OVSA_OPT_EOF);
    assert_int_equal(ovsa_opt_nrest(&st), 2);
    assert_string_equal(ovsa_opt_rest(&st)[0], "import");

    /* "-" is an argument (stdin) */
    start(&st, a3);
    assert_int_equal(ovsa_opt_next(&st), OVSA_OPT_EOF);
    assert_int_equal(ovsa_opt_nrest(&st), 2);

    start(&st, a4);
    assert_int_equal(ovsa_opt_next(&st), OVSA_OPT_EOF);
    assert_int_equal(ovsa_opt_nrest(&st), 0);
    assert_int_equal(ovsa_opt_args(&st, 0), 0);

    /* a program that takes one argument: a second is refused */
    start(&st, a2);
    assert_int_equal(ovsa_opt_next(&st), OPT_JSON);
    assert_int_equal(ovsa_opt_next(&st), OVSA_OPT_EOF);
    assert_int_equal(ovsa_opt_args(&st, 2), 0);
    assert_int_equal(ovsa_opt_args(&st, 1), OVSA_OPT_ERR);
    assert_string_equal(st.msg, "unexpected argument \"-all\"");
}


static void
test_help_option(void **state)
{
    ovsa_opt_state_t   st;
    char              *a1[] = { "-json", "-help", NULL };
    char              *a2[] = { "--help", NULL };

    start(&st, a1);
    assert_int_equal(ovsa_opt_next(&st), OPT_JSON);
    assert_int_equal(ovsa_opt_next(&st), OVSA_OPT_HELP);

    start(&st, a2);
    assert_int_equal(ovsa_opt_next(&st), OVSA_OPT_HELP);
}


static void
test_bad(void **state)
{
    ovsa_opt_state_t   st;
    char              *args[] = { NULL };

    start(&st, args);
    assert_int_equal(ovsa_opt_bad(&st, "-days %d: not in 1..%d", 0, 10),
                     OVSA_OPT_ERR);
    assert_string_equal(st.msg, "-days 0: not in 1..10");
}


static void
test_help_text(void **state)
{
    char  *h, *p, *nl;

    h = ovsa_opt_help(&test_prog);
    assert_non_null(h);

    assert_non_null(strstr(h, "Usage: testprog [options] command\n"));
    assert_non_null(strstr(h, "\n -help "));
    assert_non_null(strstr(h, "\n -out file "));
    assert_non_null(strstr(h, "\n -k, -keystore dir "));
    assert_non_null(strstr(h, "\n -u, -server url cert "));
    assert_non_null(strstr(h, "\n -json "));
    assert_non_null(strstr(h, "Print JSON\n"));

    assert_non_null(strstr(h, "Commands:\n  import FILE|DIR "));
    assert_non_null(strstr(h, "\n  list "));

    /* the exit codes the program listed, and no others */
    assert_non_null(strstr(h, "Exit status:\n  0  success"));
    assert_non_null(strstr(h, "\n  2  bad command line\n"));
    assert_non_null(strstr(h, "\n  3  a check failed"));
    assert_null(strstr(h, "\n  1  "));
    assert_null(strstr(h, "\n  4  "));

    /* long texts wrap; a long option name puts its text on the next line */
    assert_non_null(strstr(h, "\n -a-very-long-option-name value\n      "));
    assert_non_null(strstr(h, "seventy-nine"));
    assert_non_null(strstr(h, "columns\n"));
    for (p = h; *p != '\0'; p = nl + 1) {
        nl = strchr(p, '\n');
        assert_non_null(nl);
        assert_true(nl - p <= 79);
    }

    free(h);
}


static void
test_exit_table(void **state)
{
    /* numbers scripts and tests rely on */
    assert_int_equal(OVSA_EXIT_OK, 0);
    assert_int_equal(OVSA_EXIT_ERROR, 1);
    assert_int_equal(OVSA_EXIT_USAGE, 2);
    assert_int_equal(OVSA_EXIT_UNVERIFIED, 3);
    assert_int_equal(OVSA_EXIT_UNREACHABLE, 4);
    assert_string_equal(ovsa_exit_desc(OVSA_EXIT_USAGE), "bad command line");
    assert_string_equal(ovsa_exit_desc(99), "unknown exit status");
    assert_string_equal(ovsa_exit_desc(-1), "unknown exit status");

    /* a failed check: local problem, unreachable, or did not verify */
    assert_int_equal(ovsa_exit_status(OVSA_E_NONE), OVSA_EXIT_OK);
    assert_int_equal(ovsa_exit_status(OVSA_E_IO), OVSA_EXIT_ERROR);
    assert_int_equal(ovsa_exit_status(OVSA_E_CONF_SYNTAX), OVSA_EXIT_ERROR);
    assert_int_equal(ovsa_exit_status(OVSA_E_P11_PIN), OVSA_EXIT_ERROR);
    assert_int_equal(ovsa_exit_status(OVSA_E_TRANSPORT),
                     OVSA_EXIT_UNREACHABLE);
    assert_int_equal(ovsa_exit_status(OVSA_E_CERT_EXPIRED),
                     OVSA_EXIT_UNVERIFIED);
    assert_int_equal(ovsa_exit_status(OVSA_E_KEY_MISMATCH),
                     OVSA_EXIT_UNVERIFIED);
    assert_int_equal(ovsa_exit_status(OVSA_E_LIC_SIGNATURE),
                     OVSA_EXIT_UNVERIFIED);
}


static void
test_cmd_lookup(void **state)
{
    ovsa_opt_state_t   st;
    char              *args[] = { NULL };

    start(&st, args);
    assert_ptr_equal(ovsa_opt_cmd(&st, test_cmds, "list"), &test_cmds[1]);
    assert_null(ovsa_opt_cmd(&st, test_cmds, "lis"));
    assert_string_equal(st.msg, "unknown command \"lis\"");
    assert_null(ovsa_opt_cmd(&st, NULL, "list"));

    assert_int_equal(ovsa_opt_cmd_args(&st, &test_cmds[0], 1), 0);
    assert_int_equal(ovsa_opt_cmd_args(&st, &test_cmds[0], 0), OVSA_OPT_ERR);
    assert_string_equal(st.msg, "import: expects import FILE|DIR");
    assert_int_equal(ovsa_opt_cmd_args(&st, &test_cmds[0], 2), OVSA_OPT_ERR);
    assert_int_equal(ovsa_opt_cmd_args(&st, &test_cmds[1], 1), OVSA_OPT_ERR);
    assert_string_equal(st.msg, "list: expects list");
    assert_int_equal(ovsa_opt_cmd_args(&st, &test_cmds[2], 9), 0);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flags_and_values),
        cmocka_unit_test(test_alias_and_pair),
        cmocka_unit_test(test_missing_value),
        cmocka_unit_test(test_bad_numbers),
        cmocka_unit_test(test_unknown),
        cmocka_unit_test(test_repeated),
        cmocka_unit_test(test_end_of_options),
        cmocka_unit_test(test_help_option),
        cmocka_unit_test(test_bad),
        cmocka_unit_test(test_help_text),
        cmocka_unit_test(test_exit_table),
        cmocka_unit_test(test_cmd_lookup),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
