/*
 * ovsa_opt.c: options tables, the parser, the generated help and the
 * exit codes of the ovsa programs.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ovsa_opt.h"

#define OVSA_OPT_COLUMN  33     /* where the help text of an option starts */

static const char *ovsa_exit_descs[] = {
#define OVSA_X_DESC(name, status, desc) [status] = desc,
    OVSA_EXIT_CODES(OVSA_X_DESC)
#undef OVSA_X_DESC
};


const char *
ovsa_exit_desc(int status)
{
    if (status < 0 || status >= OVSA_EXIT__COUNT
        || ovsa_exit_descs[status] == NULL)
    {
        return "unknown exit status";
    }

    return ovsa_exit_descs[status];
}


void
ovsa_opt_init(ovsa_opt_state_t *st, const ovsa_opt_prog_t *prog, int argc,
    char **argv)
{
    memset(st, 0, sizeof(*st));
    st->prog = prog;
    st->argc = argc;
    st->argv = argv;
    st->i = 1;
}


int
ovsa_opt_bad(ovsa_opt_state_t *st, const char *fmt, ...)
{
    va_list  ap;

    va_start(ap, fmt);
    vsnprintf(st->msg, sizeof(st->msg), fmt, ap);
    va_end(ap);

    return OVSA_OPT_ERR;
}


/* Parses st->val as a decimal integer into st->num; 0 or OVSA_OPT_ERR. */
static int
ovsa_opt_number(ovsa_opt_state_t *st, int non_negative)
{
    char       *end;
    long long   n;
    const char *v;

    v = st->val;
    errno = 0;
    n = strtoll(v, &end, 10);

    /* strtoll() would skip leading blanks: refuse them */
    if (errno != 0 || end == v || *end != '\0'
        || !(v[0] == '-' || v[0] == '+' || (v[0] >= '0' && v[0] <= '9')))
    {
        return ovsa_opt_bad(st, "%s: \"%s\" is not a whole number", st->opt,
                            v);
    }

    if (non_negative && n < 0) {
        return ovsa_opt_bad(st, "%s: \"%s\" must not be negative", st->opt,
                            v);
    }

    st->num = n;
    return 0;
}


int
ovsa_opt_next(ovsa_opt_state_t *st)
{
    const char        *arg, *name;
    const ovsa_opt_t  *o;

    st->opt = st->val = st->val2 = NULL;
    st->num = 0;
    st->msg[0] = '\0';

    if (st->i >= st->argc) {
        return OVSA_OPT_EOF;
    }

    arg = st->argv[st->i];

    /* an argument, or "-" (stdin): the options end before it */
    if (arg[0] != '-' || arg[1] == '\0') {
        return OVSA_OPT_EOF;
    }

    st->i++;

    if (strcmp(arg, "--") == 0) {
        return OVSA_OPT_EOF;
    }

    st->opt = arg;
    name = arg + (arg[1] == '-' ? 2 : 1);

    if (strcmp(name, "help") == 0) {
        return OVSA_OPT_HELP;
    }

    for (o = st->prog->opts; o != NULL && o->name != NULL; o++) {
        if (strcmp(name, o->name) == 0
            || (o->alias != NULL && strcmp(name, o->alias) == 0))
        {
            break;
        }
    }

    if (o == NULL || o->name == NULL) {
        return ovsa_opt_bad(st, "unknown option \"%s\"", arg);
    }

    if (o->kind == OVSA_OPT_FLAG) {
        return o->id;
    }

    if (st->i >= st->argc) {
        return ovsa_opt_bad(st, "option \"%s\" needs a value (%s)", arg,
                            o->valname ? o->valname : "value");
    }

    st->val = st->argv[st->i++];

    switch (o->kind) {

    case OVSA_OPT_PAIR:
        if (st->i >= st->argc) {
            return ovsa_opt_bad(st, "option \"%s\" needs two values (%s)",
                                arg, o->valname ? o->valname : "two values");
        }
        st->val2 = st->argv[st->i++];
        break;

    case OVSA_OPT_INT:
    case OVSA_OPT_UINT:
        if (ovsa_opt_number(st, o->kind == OVSA_OPT_UINT) != 0) {
            return OVSA_OPT_ERR;
        }
        break;

    default:
        break;
    }

    return o->id;
}


char **
ovsa_opt_rest(const ovsa_opt_state_t *st)
{
    return st->argv + st->i;
}


int
ovsa_opt_nrest(const ovsa_opt_state_t *st)
{
    return st->argc - st->i;
}


const ovsa_opt_cmd_t *
ovsa_opt_cmd(const ovsa_opt_cmd_t *cmds, const char *name)
{
    for ( ; cmds != NULL && cmds->name != NULL; cmds++) {
        if (strcmp(cmds->name, name) == 0) {
            return cmds;
        }
    }

    return NULL;
}


/* One help row: left column, then the text at OVSA_OPT_COLUMN. */
static void
ovsa_opt_row(FILE *f, const char *indent, const char *left, const char *help)
{
    int  n;

    n = fprintf(f, "%s%s", indent, left);
    if (n < 0) {
        return;
    }

    if (n + 1 >= OVSA_OPT_COLUMN) {
        fprintf(f, "\n%*s%s\n", OVSA_OPT_COLUMN, "", help);
    } else {
        fprintf(f, "%*s%s\n", OVSA_OPT_COLUMN - n, "", help);
    }
}


char *
ovsa_opt_help(const ovsa_opt_prog_t *p)
{
    int                    s;
    FILE                  *f;
    char                  *text, left[128];
    size_t                 len;
    const ovsa_opt_t      *o;
    const ovsa_opt_cmd_t  *c;

    text = NULL;
    len = 0;

    /* a memory stream: the library formats, the program prints */
    f = open_memstream(&text, &len);
    if (f == NULL) {
        return NULL;
    }

    fprintf(f, "Usage: %s %s\n", p->prog, p->synopsis ? p->synopsis : "");

    fprintf(f, "Valid options are:\n");
    ovsa_opt_row(f, " ", "-help", "Display this summary");

    for (o = p->opts; o != NULL && o->name != NULL; o++) {
        snprintf(left, sizeof(left), "%s%s%s-%s%s%s",
                 o->alias ? "-" : "", o->alias ? o->alias : "",
                 o->alias ? ", " : "", o->name,
                 o->valname ? " " : "", o->valname ? o->valname : "");
        ovsa_opt_row(f, " ", left, o->help);
    }

    if (p->cmds != NULL) {
        fprintf(f, "Commands:\n");
        for (c = p->cmds; c->name != NULL; c++) {
            snprintf(left, sizeof(left), "%s%s%s", c->name,
                     c->args && c->args[0] ? " " : "",
                     c->args ? c->args : "");
            ovsa_opt_row(f, "  ", left, c->help);
        }
    }

    if (p->exits != 0) {
        fprintf(f, "Exit status:\n");
        for (s = 0; s < OVSA_EXIT__COUNT; s++) {
            if (p->exits & OVSA_EXIT_BIT(s)) {
                fprintf(f, "  %d  %s\n", s, ovsa_exit_desc(s));
            }
        }
    }

    if (fclose(f) != 0) {
        free(text);
        return NULL;
    }

    return text;
}
