/*
 * ovsa_opt.c: options tables, the parser, the generated help and the
 * exit codes of the ovsa programs.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ovsa_err.h"
#include "ovsa_opt.h"

#define OVSA_OPT_COLUMN  29     /* where the help text of an option starts */
#define OVSA_OPT_WIDTH   79     /* and where it wraps */

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


int
ovsa_exit_status(int code)
{
    switch (code) {

    case OVSA_E_NONE:
        return OVSA_EXIT_OK;

    case OVSA_E_TRANSPORT:
        return OVSA_EXIT_UNREACHABLE;

    case OVSA_E_INTERNAL:
    case OVSA_E_NOMEM:
    case OVSA_E_IO:
    case OVSA_E_CONF_SYNTAX:
    case OVSA_E_CONF_KEY:
    case OVSA_E_CONF_TYPE:
    case OVSA_E_CONF_VALUE:
    case OVSA_E_CONF_MISSING:
    case OVSA_E_CONF_FILE:
    case OVSA_E_KEY:
    case OVSA_E_KEY_MODE:
    case OVSA_E_SECRET_MODE:
    case OVSA_E_LIC_SECRET:
    case OVSA_E_P11_MODULE:
    case OVSA_E_P11_TOKEN:
    case OVSA_E_P11_PIN:
    case OVSA_E_P11_KEY:
    case OVSA_E_P11_DEVICE:
    case OVSA_E_P11_TIMEOUT:
    case OVSA_E_P11_BUSY:
        return OVSA_EXIT_ERROR;

    default:
        return OVSA_EXIT_UNVERIFIED;
    }
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


int
ovsa_opt_args(ovsa_opt_state_t *st, int max)
{
    if (ovsa_opt_nrest(st) > max) {
        return ovsa_opt_bad(st, "unexpected argument \"%s\"",
                            ovsa_opt_rest(st)[max]);
    }

    return 0;
}


const ovsa_opt_cmd_t *
ovsa_opt_cmd(ovsa_opt_state_t *st, const ovsa_opt_cmd_t *cmds,
    const char *name)
{
    for ( ; cmds != NULL && cmds->name != NULL; cmds++) {
        if (strcmp(cmds->name, name) == 0) {
            return cmds;
        }
    }

    ovsa_opt_bad(st, "unknown command \"%s\"", name);
    return NULL;
}


int
ovsa_opt_cmd_args(ovsa_opt_state_t *st, const ovsa_opt_cmd_t *cmd, int n)
{
    if (n < cmd->min_args || (cmd->max_args >= 0 && n > cmd->max_args)) {
        return ovsa_opt_bad(st, "%s: expects %s%s%s", cmd->name, cmd->name,
                            cmd->args[0] ? " " : "", cmd->args);
    }

    return 0;
}


/*
 * One help row: the left column, then the text from OVSA_OPT_COLUMN on,
 * wrapped at word boundaries before OVSA_OPT_WIDTH.
 */
static void
ovsa_opt_row(FILE *f, const char *indent, const char *left, const char *help)
{
    int          n, col, w;
    const char  *p;

    n = fprintf(f, "%s%s", indent, left);
    if (n < 0) {
        return;
    }

    if (n + 1 >= OVSA_OPT_COLUMN) {
        fprintf(f, "\n");
        n = 0;
    }

    col = OVSA_OPT_COLUMN;
    fprintf(f, "%*s", col - n, "");

    for (p = help; *p != '\0'; p += w) {
        while (*p == ' ') {
            p++;
        }

        w = (int) strcspn(p, " ");
        if (w == 0) {
            break;
        }

        if (col > OVSA_OPT_COLUMN && col + 1 + w > OVSA_OPT_WIDTH) {
            fprintf(f, "\n%*s", OVSA_OPT_COLUMN, "");
            col = OVSA_OPT_COLUMN;
        }

        if (col > OVSA_OPT_COLUMN) {
            fputc(' ', f);
            col++;
        }

        fprintf(f, "%.*s", w, p);
        col += w;
    }

    fputc('\n', f);
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
