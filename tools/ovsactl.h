/*
 * ovsactl.h: what ovsactl.c shares with its command files
 * (ovsactl_audit.c).
 */

#ifndef OVSACTL_H
#define OVSACTL_H

#include <stddef.h>

#include <curl/curl.h>
#include <jansson.h>

#define PROG          "ovsactl"

typedef struct {
    const char  *url;
    char        *token;
    int          json;
    int          fail;      /* exit status of the last failed call */
    CURL        *curl;
} ovsactl_t;

/*
 * Sends one request to the admin API; returns the parsed answer object,
 * or NULL after printing why, with the exit status in c->fail.  *text
 * gets the raw answer (caller frees).
 */
json_t *ovsactl_call(ovsactl_t *c, const char *method, const char *path,
    const char *body, size_t len, char **text);

/*
 * With -json prints text; on a refusal prints the code and message.
 * Returns OVSA_EXIT_OK when the code is OK, else OVSA_EXIT_REFUSED.
 */
int ovsactl_done(ovsactl_t *c, json_t *ans, const char *text,
    const char *what);

/* ovsactl audit export|verify|checkpoint (ovsactl_audit.c) */
int ovsactl_audit(void *ctx, int argc, char **argv);

#endif /* OVSACTL_H */
