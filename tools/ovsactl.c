/*
 * ovsactl: command-line client of the ovsa-backend admin API.
 *
 *   ovsactl [-c default.yaml] [-url URL] [-token-file F] [-json] COMMAND
 *
 * URL ("http://host:port" or "unix:/path") and the token file come from
 * -url / -token-file, else from default.yaml (-c: backend.admin_listen and
 * backend.admin_token_file), else from OVSA_ADMIN_URL and
 * OVSA_ADMIN_TOKEN_FILE; the token itself is never taken from the command
 * line.  Exit status (lib/ovsa_opt.h, docs/cli.md): 0 success, 1 local
 * error (a file, default.yaml, an answer that is not JSON), 2 usage,
 * 4 the admin API could not be reached, 5 the server refused (the code is
 * printed), 6 -c names a configuration without backend.admin_token_file
 * and no other token file is given.
 */

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/crypto.h>

#include "ovsa_conf.h"
#include "ovsa_err.h"
#include "ovsa_license.h"
#include "ovsa_opt.h"
#include "ovsactl.h"

#define DEFAULT_URL   "http://127.0.0.1:9081"
#define MAX_FILE      (1024 * 1024)

typedef struct {
    char    *data;
    size_t   len;
} ovsactl_buf_t;

static int cmd_import(void *ctx, int argc, char **argv);
static int cmd_list(void *ctx, int argc, char **argv);
static int cmd_report(void *ctx, int argc, char **argv);
static int cmd_show(void *ctx, int argc, char **argv);
static int cmd_revoke(void *ctx, int argc, char **argv);
static int cmd_release(void *ctx, int argc, char **argv);
static int cmd_deactivate(void *ctx, int argc, char **argv);
static int cmd_pins(void *ctx, int argc, char **argv);

static const ovsa_opt_cmd_t ovsactl_cmds[] = {
    { "import", "FILE|DIR",
      "import signed licenses (a newer version replaces)", cmd_import,
      1, 1 },
    { "list", "", "list licenses", cmd_list, 0, 0 },
    { "report", "", "the state counts per license and in total (compare "
      "a restored backup with a running fleet)", cmd_report, 0, 0 },
    { "show", "ID", "show a license, its activations and live leases",
      cmd_show, 1, 1 },
    { "revoke", "ID", "revoke a license", cmd_revoke, 1, 1 },
    { "release", "ID LEASE|-all", "force-release one lease or all leases",
      cmd_release, 2, 2 },
    { "deactivate", "ID HWID", "remove the activation of a hwid",
      cmd_deactivate, 2, 2 },
    { "pins", "PIN", "count active licenses that do / do not pin PIN",
      cmd_pins, 1, 1 },
    { "audit", "export|verify|checkpoint [options]", "the usage audit "
      "trail: export, verify, checkpoint (ovsactl audit CMD -help)",
      ovsactl_audit, 1, -1 },
    { NULL, NULL, NULL, NULL, 0, 0 }
};

enum {
    OPT_CONF = 1, OPT_URL, OPT_TOKEN_FILE, OPT_JSON
};

static const ovsa_opt_t ovsactl_opts[] = {
    { "c", NULL, OPT_CONF, OVSA_OPT_STR, "FILE",
      "default.yaml: backend.admin_listen and backend.admin_token_file" },
    { "url", NULL, OPT_URL, OVSA_OPT_STR, "URL",
      "Admin API: http://host:port or unix:/path (env OVSA_ADMIN_URL, "
      "default " DEFAULT_URL ")" },
    { "token-file", NULL, OPT_TOKEN_FILE, OVSA_OPT_STR, "FILE",
      "File holding the admin token (env OVSA_ADMIN_TOKEN_FILE)" },
    { "json", NULL, OPT_JSON, OVSA_OPT_FLAG, NULL,
      "Print the server's JSON answers" },
    { NULL, NULL, 0, 0, NULL, NULL }
};

static const ovsa_opt_prog_t ovsactl_prog = {
    PROG, "[options] command [args]", ovsactl_opts, ovsactl_cmds,
    OVSA_EXIT_BIT(OVSA_EXIT_OK) | OVSA_EXIT_BIT(OVSA_EXIT_ERROR)
    | OVSA_EXIT_BIT(OVSA_EXIT_USAGE) | OVSA_EXIT_BIT(OVSA_EXIT_UNREACHABLE)
    | OVSA_EXIT_BIT(OVSA_EXIT_REFUSED)
    | OVSA_EXIT_BIT(OVSA_EXIT_NOT_CONFIGURED)
};


static size_t
ovsactl_write(char *p, size_t size, size_t n, void *arg)
{
    char           *d;
    ovsactl_buf_t  *b = arg;

    d = realloc(b->data, b->len + size * n + 1);
    if (d == NULL) {
        return 0;
    }

    memcpy(d + b->len, p, size * n);
    b->data = d;
    b->len += size * n;
    b->data[b->len] = '\0';

    return size * n;
}


/*
 * Sends one request; returns the parsed answer object, or NULL after
 * printing why, with the exit status in c->fail.  *text gets the raw
 * answer (caller frees).
 */
json_t *
ovsactl_call(ovsactl_t *c, const char *method, const char *path,
    const char *body, size_t len, char **text)
{
    long                status;
    char                url[2048], auth[1024];
    json_t             *ans;
    CURLcode            rc;
    json_error_t        jerr;
    ovsactl_buf_t       buf;
    struct curl_slist  *h;

    *text = NULL;
    memset(&buf, 0, sizeof(buf));
    h = NULL;
    curl_easy_reset(c->curl);

    if (strncmp(c->url, "unix:", 5) == 0) {
        curl_easy_setopt(c->curl, CURLOPT_UNIX_SOCKET_PATH, c->url + 5);
        snprintf(url, sizeof(url), "http://localhost%s", path);
    } else {
        snprintf(url, sizeof(url), "%s%s", c->url, path);
    }

    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", c->token);
    h = curl_slist_append(h, auth);
    h = curl_slist_append(h, "Content-Type: application/json");
    OPENSSL_cleanse(auth, sizeof(auth));

    curl_easy_setopt(c->curl, CURLOPT_URL, url);
    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, ovsactl_write);
    curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &buf);
    curl_easy_setopt(c->curl, CURLOPT_TIMEOUT, 30L);
    if (body != NULL) {
        curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE, (long) len);
    }

    rc = curl_easy_perform(c->curl);
    curl_slist_free_all(h);

    if (rc != CURLE_OK) {
        fprintf(stderr, PROG ": %s: %s\n", c->url, curl_easy_strerror(rc));
        free(buf.data);
        c->fail = OVSA_EXIT_UNREACHABLE;
        return NULL;
    }

    curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);

    ans = buf.data ? json_loads(buf.data, 0, &jerr) : NULL;
    if (!json_is_object(ans)) {
        fprintf(stderr, PROG ": %s: HTTP %ld, answer is not JSON\n", url,
                status);
        json_decref(ans);
        free(buf.data);
        c->fail = OVSA_EXIT_ERROR;
        return NULL;
    }

    *text = buf.data;

    return ans;
}


static const char *
str(json_t *obj, const char *name)
{
    json_t  *v;

    v = json_object_get(obj, name);
    return json_is_string(v) ? json_string_value(v) : "";
}


static long
num(json_t *obj, const char *name)
{
    return (long) json_integer_value(json_object_get(obj, name));
}


static const char *
when(long t, char *buf, size_t size)
{
    time_t     tt;
    struct tm  tm;

    if (t <= 0) {
        return "never";
    }

    tt = (time_t) t;
    gmtime_r(&tt, &tm);
    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);

    return buf;
}


/*
 * Common tail of every command: with -json print the raw answer; on a
 * refusal print the code and message.  Returns OVSA_EXIT_OK when the code
 * is OK, else OVSA_EXIT_REFUSED.
 */
int
ovsactl_done(ovsactl_t *c, json_t *ans, const char *text, const char *what)
{
    if (c->json) {
        printf("%s\n", text);
    }

    if (strcmp(str(ans, "code"), "OK") == 0) {
        return OVSA_EXIT_OK;
    }

    fprintf(stderr, PROG ": %s%s%s: %s\n", what ? what : "",
            what ? ": " : "", str(ans, "code"), str(ans, "message"));

    return OVSA_EXIT_REFUSED;
}


static int
import_one(ovsactl_t *c, const char *file)
{
    int     ret;
    char   *data, *text;
    long    size;
    FILE   *fp;
    json_t *ans;

    ret = OVSA_EXIT_ERROR;
    data = NULL;
    text = NULL;
    ans = NULL;

    fp = fopen(file, "rb");
    if (fp == NULL) {
        perror(file);
        return OVSA_EXIT_ERROR;
    }

    if (fseek(fp, 0, SEEK_END) != 0 || (size = ftell(fp)) < 0
        || size > MAX_FILE || fseek(fp, 0, SEEK_SET) != 0
        || (data = malloc(size + 1)) == NULL
        || fread(data, 1, size, fp) != (size_t) size)
    {
        fprintf(stderr, PROG ": %s: cannot read (or larger than %d bytes)\n",
                file, MAX_FILE);
        goto end;
    }

    ans = ovsactl_call(c, "POST", "/admin/v1/licenses", data, size, &text);
    if (ans == NULL) {
        ret = c->fail;
        goto end;
    }

    ret = ovsactl_done(c, ans, text, file);
    if (ret == 0 && !c->json) {
        if (num(ans, "previous_version") > 0) {
            printf("%s: updated %s to version %ld (was %ld)\n", file,
                   str(ans, "license_id"), num(ans, "version"),
                   num(ans, "previous_version"));
        } else {
            printf("%s: imported %s version %ld\n", file,
                   str(ans, "license_id"), num(ans, "version"));
        }
    }

end:

    fclose(fp);
    free(data);
    free(text);
    json_decref(ans);

    return ret;
}


static int
namecmp(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}


static int
cmd_import(void *ctx, int argc, char **argv)
{
    ovsactl_t  *c = ctx;

    int               i, n, ret, r;
    char              path[4096];
    struct stat       st;
    struct dirent   **list;

    if (stat(argv[1], &st) != 0) {
        perror(argv[1]);
        return OVSA_EXIT_ERROR;
    }

    if (!S_ISDIR(st.st_mode)) {
        return import_one(c, argv[1]);
    }

    n = scandir(argv[1], &list, NULL, namecmp);
    if (n < 0) {
        perror(argv[1]);
        return OVSA_EXIT_ERROR;
    }

    ret = 0;
    for (i = 0; i < n; i++) {
        snprintf(path, sizeof(path), "%s/%s", argv[1], list[i]->d_name);
        if (list[i]->d_name[0] != '.' && stat(path, &st) == 0
            && S_ISREG(st.st_mode))
        {
            r = import_one(c, path);
            if (ret == OVSA_EXIT_OK) {
                ret = r;            /* the first failure's status */
            }
        }
        free(list[i]);
    }
    free(list);

    return ret;
}


static int
cmd_list(void *ctx, int argc, char **argv)
{
    ovsactl_t  *c = ctx;

    int      ret;
    char    *text, use[64], tb[32];
    size_t   i;
    json_t  *ans, *l;

    ans = ovsactl_call(c, "GET", "/admin/v1/licenses", NULL, 0, &text);
    if (ans == NULL) {
        return c->fail;
    }

    ret = ovsactl_done(c, ans, text, NULL);
    if (ret == 0 && !c->json) {
        printf("%-24s %4s %-12s %-8s %-20s %-12s %s\n", "LICENSE", "VER",
               "TYPE", "STATUS", "EXPIRES", "USE", "CUSTOMER");
        json_array_foreach(json_object_get(ans, "licenses"), i, l) {
            if (strcmp(str(l, "type"), "floating") == 0) {
                snprintf(use, sizeof(use), "%ld/%ld seats",
                         num(l, "leases"), num(l, "seats"));
            } else if (strcmp(str(l, "type"), "node-locked") == 0) {
                snprintf(use, sizeof(use), "%ld/%ld nodes",
                         num(l, "activations"), num(l, "max_activations"));
            } else if (strcmp(str(l, "type"), "usage-count") == 0) {
                snprintf(use, sizeof(use), "%ld/%ld uses", num(l, "used"),
                         num(l, "usage"));
            } else {
                snprintf(use, sizeof(use), "-");
            }
            printf("%-24s %4ld %-12s %-8s %-20s %-12s %s\n",
                   str(l, "license_id"), num(l, "version"), str(l, "type"),
                   json_is_true(json_object_get(l, "expired"))
                   ? "expired" : str(l, "status"),
                   when(num(l, "expires_at"), tb, sizeof(tb)), use,
                   str(l, "customer"));
        }
    }

    free(text);
    json_decref(ans);

    return ret;
}


/*
 * report: per license the version, status and the counts of its state
 * (uses spent, activations, live leases), then the totals; with -json
 * one JSON object {"licenses": [...], "total": {...}} instead of the
 * server's answer.  Two fleets (or a fleet and a restored backup) hold
 * the same state when their reports are equal (docs/operations.md).
 */
static int
cmd_report(void *ctx, int argc, char **argv)
{
    ovsactl_t  *c = ctx;

    int      ret, json;
    char    *text, *out;
    long     used, acts, leases;
    size_t   i;
    json_t  *ans, *l, *rows, *total, *report;

    ans = ovsactl_call(c, "GET", "/admin/v1/licenses", NULL, 0, &text);
    if (ans == NULL) {
        return c->fail;
    }

    /* the report, not the server's answer, is what -json prints */
    json = c->json;
    c->json = 0;
    ret = ovsactl_done(c, ans, text, NULL);
    c->json = json;

    if (ret != OVSA_EXIT_OK) {
        goto end;
    }

    used = 0;
    acts = 0;
    leases = 0;
    rows = json_array();

    if (!json) {
        printf("%-24s %4s %-8s %10s %11s %7s\n", "LICENSE", "VER", "STATUS",
               "USED", "ACTIVATIONS", "LEASES");
    }

    json_array_foreach(json_object_get(ans, "licenses"), i, l) {
        used += num(l, "used");
        acts += num(l, "activations");
        leases += num(l, "leases");

        if (!json) {
            printf("%-24s %4ld %-8s %10ld %11ld %7ld\n",
                   str(l, "license_id"), num(l, "version"), str(l, "status"),
                   num(l, "used"), num(l, "activations"), num(l, "leases"));
            continue;
        }

        json_array_append_new(rows, json_pack("{s:s, s:I, s:s, s:I, s:I, s:I}",
            "license_id", str(l, "license_id"),
            "version", (json_int_t) num(l, "version"),
            "status", str(l, "status"),
            "used", (json_int_t) num(l, "used"),
            "activations", (json_int_t) num(l, "activations"),
            "leases", (json_int_t) num(l, "leases")));
    }

    if (!json) {
        printf("%-24s %4s %-8s %10ld %11ld %7ld\n", "TOTAL",
               "", "", used, acts, leases);
        printf("%zu licenses\n",
               json_array_size(json_object_get(ans, "licenses")));
        json_decref(rows);
        goto end;
    }

    total = json_pack("{s:I, s:I, s:I, s:I}",
        "licenses", (json_int_t) json_array_size(rows),
        "used", (json_int_t) used, "activations", (json_int_t) acts,
        "leases", (json_int_t) leases);
    report = json_pack("{s:o, s:o}", "licenses", rows, "total", total);
    out = report ? json_dumps(report, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
    json_decref(report);
    if (out == NULL) {
        fprintf(stderr, PROG ": report: no memory\n");
        ret = OVSA_EXIT_ERROR;
        goto end;
    }
    printf("%s\n", out);
    free(out);

end:

    free(text);
    json_decref(ans);

    return ret;
}


static int
check_id(const char *id)
{
    if (!ovsa_license_id_valid(id)) {
        fprintf(stderr, PROG ": \"%s\" is not a license id\n"
                PROG ": Use -help for summary.\n", id);
        return -1;
    }

    return 0;
}


static const char  *show_fields[] = {
    "license_id", "version", "status", "type", "product", "customer",
    "issued_at", "expires_at", "sync_interval", "require_hardware_key",
    "cert_sha256", "usage", "used", "usage_remaining", "max_activations",
    "seats", "lease_seconds", "max_borrow", "max_offline", "pins",
    "imported_at", "updated_at", NULL
};


static int
cmd_show(void *ctx, int argc, char **argv)
{
    ovsactl_t   *c = ctx;

    int          ret, f;
    char        *text, path[256], tb[32];
    size_t       i;
    json_t      *ans, *r, *v;
    const char  *k;

    if (check_id(argv[1]) != 0) {
        return OVSA_EXIT_USAGE;
    }

    snprintf(path, sizeof(path), "/admin/v1/licenses/%s", argv[1]);
    ans = ovsactl_call(c, "GET", path, NULL, 0, &text);
    if (ans == NULL) {
        return c->fail;
    }

    ret = ovsactl_done(c, ans, text, argv[1]);
    if (ret == 0 && !c->json) {
        r = json_object_get(ans, "record");
        for (f = 0; show_fields[f] != NULL; f++) {
            k = show_fields[f];
            v = json_object_get(r, k);
            if (json_is_string(v)) {
                printf("%-22s %s\n", k, json_string_length(v)
                       ? json_string_value(v) : "-");
            } else if (json_is_integer(v)) {
                if (strstr(k, "_at") != NULL) {
                    printf("%-22s %s\n", k,
                           when(json_integer_value(v), tb, sizeof(tb)));
                } else {
                    printf("%-22s %" JSON_INTEGER_FORMAT "\n", k,
                           json_integer_value(v));
                }
            } else if (json_is_boolean(v)) {
                printf("%-22s %s\n", k, json_is_true(v) ? "yes" : "no");
            } else if (json_is_array(v)) {
                printf("%-22s", k);
                for (i = 0; i < json_array_size(v); i++) {
                    printf(" %s", json_string_value(json_array_get(v, i)));
                }
                printf("\n");
            }
        }

        printf("\nACTIVATIONS (%zu)\n",
               json_array_size(json_object_get(ans, "activations")));
        json_array_foreach(json_object_get(ans, "activations"), i, v) {
            printf("  %-40s %s\n", str(v, "hwid"),
                   when(num(v, "activated_at"), tb, sizeof(tb)));
        }

        printf("\nLIVE LEASES (%zu)\n",
               json_array_size(json_object_get(ans, "leases")));
        json_array_foreach(json_object_get(ans, "leases"), i, v) {
            printf("  %s  expires %s  %s%s\n", str(v, "lease_id"),
                   when(num(v, "expires"), tb, sizeof(tb)),
                   str(v, "client_id"),
                   !json_is_true(json_object_get(v, "borrowed")) ? ""
                   : json_is_true(json_object_get(v, "release_asked"))
                     ? "  (borrowed; release asked, at its end)"
                     : "  (borrowed)");
        }
    }

    free(text);
    json_decref(ans);

    return ret;
}


/* POST /admin/v1/licenses/ID/ACTION with body; prints msg on success. */
static int
action(ovsactl_t *c, const char *id, const char *act, json_t *body)
{
    int      ret;
    char    *text, *b, path[256], tb[32];
    size_t   i;
    json_t  *ans, *v;

    if (check_id(id) != 0) {
        json_decref(body);
        return OVSA_EXIT_USAGE;
    }

    b = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    snprintf(path, sizeof(path), "/admin/v1/licenses/%s/%s", id, act);

    ans = ovsactl_call(c, "POST", path, b, b ? strlen(b) : 0, &text);
    free(b);
    if (ans == NULL) {
        return c->fail;
    }

    ret = ovsactl_done(c, ans, text, id);
    if (ret == 0 && !c->json) {
        if (strcmp(act, "revoke") == 0) {
            printf("revoked %s\n", id);
        } else if (strcmp(act, "release") == 0) {
            printf("released %ld lease(s) of %s\n", num(ans, "released"),
                   id);
            json_array_foreach(json_object_get(ans, "deferred"), i, v) {
                printf("borrowed lease %s: release recorded, takes effect "
                       "at its end, %s\n", str(v, "lease_id"),
                       when(num(v, "takes_effect"), tb, sizeof(tb)));
            }
        } else {
            printf("removed activation %s of %s (%ld left)\n",
                   str(ans, "hwid"), id, num(ans, "activations"));
        }
    }

    free(text);
    json_decref(ans);

    return ret;
}


static int
cmd_revoke(void *ctx, int argc, char **argv)
{
    return action(ctx, argv[1], "revoke", json_object());
}


static int
cmd_release(void *ctx, int argc, char **argv)
{
    if (strcmp(argv[2], "-all") == 0) {
        return action(ctx, argv[1], "release", json_pack("{sb}", "all", 1));
    }

    return action(ctx, argv[1], "release",
                  json_pack("{ss}", "lease_id", argv[2]));
}


static int
cmd_deactivate(void *ctx, int argc, char **argv)
{
    return action(ctx, argv[1], "deactivate",
                  json_pack("{ss}", "hwid", argv[2]));
}


static int
cmd_pins(void *ctx, int argc, char **argv)
{
    ovsactl_t  *c = ctx;

    int      ret;
    char    *text, *esc, path[512];
    size_t   i;
    json_t  *ans, *v;

    esc = curl_easy_escape(c->curl, argv[1], 0);
    if (esc == NULL) {
        return OVSA_EXIT_ERROR;
    }

    snprintf(path, sizeof(path), "/admin/v1/pins?pin=%s", esc);
    curl_free(esc);

    ans = ovsactl_call(c, "GET", path, NULL, 0, &text);
    if (ans == NULL) {
        return c->fail;
    }

    ret = ovsactl_done(c, ans, text, NULL);
    if (ret == 0 && !c->json) {
        printf("%s: %ld active license(s), %ld pin it, %ld do not\n",
               str(ans, "pin"), num(ans, "active"), num(ans, "pinning"),
               num(ans, "not_pinning"));
        json_array_foreach(json_object_get(ans, "not_pinning_ids"), i, v) {
            printf("  not pinning: %s\n", json_string_value(v));
        }
    }

    free(text);
    json_decref(ans);

    return ret;
}


/* An environment variable; set but empty counts as unset. */
static const char *
ovsactl_env(const char *name)
{
    const char  *v;

    v = getenv(name);
    return (v != NULL && v[0] != '\0') ? v : NULL;
}


/*
 * The admin API of a default.yaml: "unix:/path" as is, "host:port" as
 * http://host:port.  Sets *url (malloc'ed) and *token_file (malloc'ed or
 * NULL when the file names none).  Prints why on failure.
 */
static int
ovsactl_conf(const char *file, char **url, char **token_file)
{
    size_t        n;
    ovsa_err_t    err;
    ovsa_conf_t  *conf;

    if (ovsa_conf_load(file, &conf, &err) != OVSA_OK) {
        fprintf(stderr, PROG ": %s: %s\n", ovsa_code_name(err.code),
                err.msg);
        return -1;
    }

    n = strlen(conf->admin_listen) + sizeof("http://");
    *url = malloc(n);
    *token_file = conf->admin_token_file ? strdup(conf->admin_token_file)
                                         : NULL;

    if (*url == NULL
        || (conf->admin_token_file != NULL && *token_file == NULL))
    {
        fprintf(stderr, PROG ": out of memory\n");
        ovsa_conf_free(conf);
        return -1;
    }

    snprintf(*url, n, "%s%s",
             strncmp(conf->admin_listen, "unix:", 5) == 0 ? "" : "http://",
             conf->admin_listen);

    ovsa_conf_free(conf);
    return 0;
}


int
main(int argc, char **argv)
{
    int                    ret, o, n;
    char                  *conf_url, *conf_token, *help, **rest;
    const char            *token_file, *conf_file, *opt_url, *opt_token;
    ovsa_err_t             err;
    ovsactl_t              c;
    ovsa_opt_state_t       st;
    const ovsa_opt_cmd_t  *cmd;

    ret = OVSA_EXIT_ERROR;
    memset(&c, 0, sizeof(c));
    conf_file = opt_url = opt_token = NULL;
    conf_url = conf_token = NULL;

    ovsa_opt_init(&st, &ovsactl_prog, argc, argv);

    while ((o = ovsa_opt_next(&st)) != OVSA_OPT_EOF) {
        switch (o) {
        case OVSA_OPT_HELP:
            help = ovsa_opt_help(&ovsactl_prog);
            printf("%s", help ? help : "");
            free(help);
            ret = OVSA_EXIT_OK;
            goto end;
        case OPT_CONF:
            conf_file = st.val;
            break;
        case OPT_URL:
            opt_url = st.val;
            break;
        case OPT_TOKEN_FILE:
            opt_token = st.val;
            break;
        case OPT_JSON:
            c.json = 1;
            break;
        default:
            goto opthelp;
        }
    }

    n = ovsa_opt_nrest(&st);
    rest = ovsa_opt_rest(&st);

    if (n == 0) {
        ovsa_opt_bad(&st, "no command");
        goto opthelp;
    }

    cmd = ovsa_opt_cmd(&st, ovsactl_cmds, rest[0]);
    if (cmd == NULL || ovsa_opt_cmd_args(&st, cmd, n - 1) != 0) {
        goto opthelp;
    }

    /* "audit CMD -help" needs no token (ovsactl_audit.c) */
    if (cmd->run == ovsactl_audit) {
        for (o = 1; o < n; o++) {
            if (strcmp(rest[o], "-help") == 0
                || strcmp(rest[o], "--help") == 0)
            {
                ret = ovsactl_audit(&c, n, rest);
                goto end;
            }
        }
    }

    /* the command line, then default.yaml, then the environment */
    if (conf_file != NULL && ovsactl_conf(conf_file, &conf_url, &conf_token)
                             != 0)
    {
        goto end;
    }

    c.url = opt_url ? opt_url : conf_url ? conf_url
                    : ovsactl_env("OVSA_ADMIN_URL");
    token_file = opt_token ? opt_token : conf_token ? conf_token
                           : ovsactl_env("OVSA_ADMIN_TOKEN_FILE");

    if (c.url == NULL) {
        c.url = DEFAULT_URL;
    }

    if (token_file == NULL && conf_file != NULL) {
        fprintf(stderr, PROG ": no token file: %s sets no "
                "backend.admin_token_file (nor -token-file or "
                "OVSA_ADMIN_TOKEN_FILE)\n", conf_file);
        ret = OVSA_EXIT_NOT_CONFIGURED;
        goto end;
    }

    if (token_file == NULL) {
        ovsa_opt_bad(&st, "no token file: use -c, -token-file or "
                     "OVSA_ADMIN_TOKEN_FILE");
        goto opthelp;
    }

    c.token = ovsa_secret_read_file(token_file, &err);
    if (c.token == NULL) {
        fprintf(stderr, PROG ": %s (%s)\n", err.msg,
                ovsa_code_name(err.code));
        goto end;
    }

    curl_global_init(CURL_GLOBAL_DEFAULT);
    c.curl = curl_easy_init();
    if (c.curl == NULL) {
        fprintf(stderr, PROG ": curl_easy_init failed\n");
        goto end;
    }

    ret = cmd->run(&c, n, rest);
    goto end;

opthelp:

    fprintf(stderr, PROG ": %s\n" PROG ": Use -help for summary.\n", st.msg);
    ret = OVSA_EXIT_USAGE;

end:

    if (c.curl != NULL) {
        curl_easy_cleanup(c.curl);
    }
    curl_global_cleanup();      /* a no-op without curl_global_init() */
    ovsa_secret_free(c.token);
    free(conf_token);
    free(conf_url);

    return ret;
}
