/*
 * ovsa-check: ask an ovsa license server about a license and print the
 * verified verdict, or which check the answer failed.
 *
 *   ovsa-check -url https://127.0.0.1:8443 -root vendor-root.pem \
 *       -id LICENSE_ID [-op check] [-hwid X] [-json]
 *   ovsa-check -license FILE [-root vendor-root.pem] [-isv ISV.crt] \
 *       [-cert C.pem -key K.pem] [-op check] ...
 *
 * License mode (-license): the servers of the license are tried in order,
 * each trusted through its own pins; a verified newer license in the
 * answer replaces FILE (docs/rotation.md).
 *
 * Exit status: 0 verified and valid; 1 usage or local error; 2 verified
 * denial or error verdict; 3 the answer failed verification, or the
 * license it offered was refused; 4 the server (with -license: every
 * server) could not be reached.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "ovsa_client.h"
#include "ovsa_err.h"
#include "ovsa_license.h"

#define PROG             "ovsa-check"
#define EXIT_VALID       0
#define EXIT_USAGE       1
#define EXIT_DENIED      2
#define EXIT_UNVERIFIED  3
#define EXIT_TRANSPORT   4
#define MAX_PINS         8

typedef enum {
    OPT_ERR = -1, OPT_EOF = 0, OPT_HELP,
    OPT_URL, OPT_ROOT, OPT_CACHE, OPT_ID, OPT_HWID, OPT_OP, OPT_LEASE,
    OPT_CLIENT, OPT_VERSION, OPT_SKEW, OPT_ATTIME, OPT_PIN, OPT_PATH,
    OPT_JSON, OPT_LICENSE, OPT_ISV, OPT_CERT, OPT_KEY
} opt_t;

/* valtype: '-' no value, 's' string, 'n' number */
static const struct {
    const char  *name;
    opt_t        ret;
    char         valtype;
    const char  *help;
} options[] = {
    { "help",    OPT_HELP,    '-', "Display this summary" },
    { "url",     OPT_URL,     's', "License server URL, https://host[:port]" },
    { "root",    OPT_ROOT,    's', "Vendor root certificate (PEM), the only "
                                   "trust anchor (with -license: optional, "
                                   "required in addition to the pins)" },
    { "cache",   OPT_CACHE,   's', "Signing-chain cache directory" },
    { "id",      OPT_ID,      's', "License id" },
    { "hwid",    OPT_HWID,    's', "Hardware id (check, activate, "
                                   "deactivate)" },
    { "op",      OPT_OP,      's', "check|activate|deactivate|checkout|"
                                   "heartbeat|checkin (default check)" },
    { "lease",   OPT_LEASE,   's', "Lease id (heartbeat, checkin, check)" },
    { "client",  OPT_CLIENT,  's', "Client id (checkout; default -hwid)" },
    { "version", OPT_VERSION, 'n', "License version the client holds" },
    { "skew",    OPT_SKEW,    'n', "Allowed clock skew in seconds "
                                   "(default 60)" },
    { "attime",  OPT_ATTIME,  'n', "Verify at this unix time, not now" },
    { "pin",     OPT_PIN,     's', "Pin-only TLS: sha256//<base64> "
                                   "(repeatable)" },
    { "path",    OPT_PATH,    's', "Request path instead of the -op's "
                                   "(testing)" },
    { "json",    OPT_JSON,    '-', "Print the verified answer as JSON" },
    { "license", OPT_LICENSE, 's', "License mode: the customer license file "
                                   "(servers, pins, id, version; updated "
                                   "in place)" },
    { "isv",     OPT_ISV,     's', "License mode: the ISV certificate the "
                                   "license must be signed by" },
    { "cert",    OPT_CERT,    's', "TLS client certificate (PEM), for "
                                   "customer binding" },
    { "key",     OPT_KEY,     's', "Private key file of -cert (PEM, not "
                                   "readable by others)" },
    { NULL,      OPT_EOF,     0,   NULL }
};

static const struct {
    const char  *op;
    const char  *path;
} ops[] = {
    { "check",      "/v1/check" },
    { "activate",   "/v1/activate" },
    { "deactivate", "/v1/deactivate" },
    { "checkout",   "/v1/lease/checkout" },
    { "heartbeat",  "/v1/lease/heartbeat" },
    { "checkin",    "/v1/lease/checkin" },
    { NULL, NULL }
};


static void
usage(void)
{
    int   i;
    char  name[32];

    printf("Usage: " PROG " [options]\n\nValid options are:\n");

    for (i = 0; options[i].name != NULL; i++) {
        snprintf(name, sizeof(name), "-%s%s", options[i].name,
                 options[i].valtype == 's' ? " val"
                 : options[i].valtype == 'n' ? " +int" : "");
        printf(" %-16s %s\n", name, options[i].help);
    }

    printf("\nExit status: 0 verified and valid, 1 usage or local error, "
           "2 verified denial,\n3 answer failed verification (or the "
           "license it offered was refused),\n4 server unreachable (with "
           "-license: every server).\n");
}


/* The next option, with its value in *val; OPT_ERR on a bad one. */
static opt_t
opt_next(int argc, char **argv, int *i, const char **val)
{
    int          k;
    const char  *a;
    char        *end;

    if (*i >= argc) {
        return OPT_EOF;
    }

    a = argv[(*i)++];
    if (a[0] != '-') {
        fprintf(stderr, PROG ": unexpected argument \"%s\"\n", a);
        return OPT_ERR;
    }

    for (k = 0; options[k].name != NULL; k++) {
        if (strcmp(a + 1, options[k].name) == 0) {
            break;
        }
    }

    if (options[k].name == NULL) {
        fprintf(stderr, PROG ": unknown option \"%s\"\n", a);
        return OPT_ERR;
    }

    if (options[k].valtype == '-') {
        return options[k].ret;
    }

    if (*i >= argc) {
        fprintf(stderr, PROG ": option \"%s\" needs a value\n", a);
        return OPT_ERR;
    }

    *val = argv[(*i)++];

    if (options[k].valtype == 'n') {
        strtoll(*val, &end, 10);
        if (**val == '\0' || *end != '\0' || **val == '-') {
            fprintf(stderr, PROG ": option \"%s\" needs a number\n", a);
            return OPT_ERR;
        }
    }

    return options[k].ret;
}


static const char *
utc(long long t, char *buf, size_t size)
{
    time_t     tt;
    struct tm  tm;

    tt = (time_t) t;
    if (gmtime_r(&tt, &tm) == NULL
        || strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
    {
        snprintf(buf, size, "%lld", t);
    }

    return buf;
}


static int
exit_code(int rc, int code, const char *verdict)
{
    if (rc != OVSA_OK) {
        return code == OVSA_E_TRANSPORT ? EXIT_TRANSPORT : EXIT_UNVERIFIED;
    }

    return strcmp(verdict, "valid") == 0 ? EXIT_VALID : EXIT_DENIED;
}


/* License mode: every server of the license in order; the update. */
static int
check_license(const char *license, const char *root, const char *isv,
    const char *cache, const char *cert, const char *key, long skew,
    long long attime, const char *path, const char *fields, int json_out)
{
    int                     rc;
    char                    when[32];
    size_t                  i;
    json_t                 *out, *tries, *answer, *upd;
    ovsa_err_t              err;
    ovsa_attempt_t         *a;
    ovsa_license_conf_t     conf;
    ovsa_license_result_t   res;

    memset(&conf, 0, sizeof(conf));
    conf.license = license;
    conf.root = root;
    conf.isv = isv;
    conf.cache_dir = cache;
    conf.client_cert = cert;
    conf.client_key = key;
    conf.skew = skew;
    conf.at = (time_t) attime;

    ovsa_err_clear(&err);
    rc = ovsa_client_check_license(&conf, "POST", path, fields, &res, &err);

    if (json_out) {
        out = json_pack("{s:b, s:s}", "verified", res.server >= 0,
                        "check", ovsa_code_name(rc == OVSA_OK ? OVSA_E_NONE
                                                              : err.code));
        tries = json_array();
        for (i = 0; i < res.nattempts; i++) {
            a = &res.attempts[i];
            json_array_append_new(tries, json_pack("{s:s, s:s, s:I, s:s}",
                "url", a->url, "check", ovsa_code_name(a->code),
                "status", (json_int_t) a->status, "message", a->msg));
        }
        json_object_set_new(out, "attempts", tries);
        json_object_set_new(out, "license_id", json_string(res.license_id));
        json_object_set_new(out, "version",
                            json_integer(res.held_version));
        if (rc != OVSA_OK) {
            json_object_set_new(out, "message", json_string(err.msg));
        }
        if (res.server >= 0) {
            answer = json_loadb(res.answer.body, res.answer.body_len, 0,
                                NULL);
            if (answer != NULL) {
                json_object_del(answer, "license");
                json_object_set_new(out, "answer", answer);
            }
            json_object_set_new(out, "server",
                                json_string(res.attempts[res.server].url));
            json_object_set_new(out, "status",
                                json_integer(res.answer.status));
        }
        if (res.offered) {
            upd = json_pack("{s:b, s:s, s:s, s:I}", "updated", res.updated,
                            "check", ovsa_code_name(res.update_code),
                            "message", res.update_msg,
                            "new_version", (json_int_t) res.new_version);
            json_object_set_new(out, "license_update", upd);
        }
        json_dumpf(out, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
        printf("\n");
        json_decref(out);

    } else {
        printf("license %s version %lld\n", res.license_id,
               res.held_version);
        for (i = 0; i < res.nattempts; i++) {
            a = &res.attempts[i];
            if (a->code == OVSA_E_NONE) {
                printf("server %zu %s: verified (%ld)\n", i + 1, a->url,
                       a->status);
            } else {
                printf("server %zu %s: %s: %s\n", i + 1, a->url,
                       ovsa_code_name(a->code), a->msg);
            }
        }

        if (res.server >= 0) {
            printf("verified: %s %s", res.answer.verdict, res.answer.code);
            if (res.answer.valid_until > 0) {
                printf(", valid until %s", utc(res.answer.valid_until, when,
                                               sizeof(when)));
            }
            if (res.answer.message[0] != '\0') {
                printf(": %s", res.answer.message);
            }
            printf("\n");
        }

        if (res.updated) {
            printf("license updated: %s version %lld -> %lld, %s replaced\n",
                   res.license_id, res.held_version, res.new_version,
                   license);
        }

        if (rc != OVSA_OK) {
            fprintf(stderr, PROG ": %s: %s: %s\n",
                    res.offered && res.update_code != OVSA_E_NONE
                    ? "license update refused" : "not verified",
                    ovsa_code_name(err.code), err.msg);
        }
    }

    rc = exit_code(rc, err.code, res.answer.verdict);

    /* a local error (license file, options) is not a server's fault */
    if (rc == EXIT_UNVERIFIED && res.nattempts == 0) {
        rc = EXIT_USAGE;
    }

    ovsa_license_result_free(&res);
    return rc;
}


int
main(int argc, char **argv)
{
    int                  i, ret, json_out, rc;
    opt_t                o;
    char                *req, when[32];
    size_t               npins;
    json_t              *body, *answer, *out;
    const char          *val, *url, *root, *cache, *id, *hwid, *op, *lease;
    const char          *client_id, *version, *path, *req_path;
    const char          *license, *isv, *cert, *key;
    const char          *pins[MAX_PINS];
    long                 skew;
    long long            attime;
    ovsa_err_t           err;
    ovsa_client_t       *client;
    ovsa_result_t        res;
    ovsa_client_conf_t   conf;

    ret = EXIT_USAGE;
    client = NULL;
    body = NULL;
    req = NULL;
    memset(&res, 0, sizeof(res));
    url = root = cache = id = hwid = lease = client_id = version = NULL;
    req_path = NULL;
    license = isv = cert = key = NULL;
    op = "check";
    val = NULL;
    skew = -1;
    attime = 0;
    npins = 0;
    json_out = 0;

    i = 1;
    while ((o = opt_next(argc, argv, &i, &val)) != OPT_EOF) {
        switch (o) {
        case OPT_ERR:
            goto opthelp;
        case OPT_HELP:
            usage();
            ret = 0;
            goto end;
        case OPT_URL:
            url = val;
            break;
        case OPT_ROOT:
            root = val;
            break;
        case OPT_CACHE:
            cache = val;
            break;
        case OPT_ID:
            id = val;
            break;
        case OPT_HWID:
            hwid = val;
            break;
        case OPT_OP:
            op = val;
            break;
        case OPT_LEASE:
            lease = val;
            break;
        case OPT_CLIENT:
            client_id = val;
            break;
        case OPT_VERSION:
            version = val;
            break;
        case OPT_SKEW:
            skew = strtol(val, NULL, 10);
            break;
        case OPT_ATTIME:
            attime = strtoll(val, NULL, 10);
            break;
        case OPT_PIN:
            if (npins == MAX_PINS) {
                fprintf(stderr, PROG ": at most %d pins\n", MAX_PINS);
                goto opthelp;
            }
            pins[npins++] = val;
            break;
        case OPT_PATH:
            req_path = val;
            break;
        case OPT_JSON:
            json_out = 1;
            break;
        case OPT_LICENSE:
            license = val;
            break;
        case OPT_ISV:
            isv = val;
            break;
        case OPT_CERT:
            cert = val;
            break;
        case OPT_KEY:
            key = val;
            break;
        case OPT_EOF:
            break;
        }
    }

    if (license != NULL) {
        if (url != NULL || id != NULL || npins > 0 || version != NULL) {
            fprintf(stderr, PROG ": -license gives the servers, pins, id "
                    "and version: -url, -pin, -id and -version do not "
                    "apply\n");
            goto opthelp;
        }

    } else if (url == NULL || root == NULL || id == NULL) {
        fprintf(stderr, PROG ": -url, -root and -id are required (or "
                "-license)\n");
        goto opthelp;

    } else if (isv != NULL) {
        fprintf(stderr, PROG ": -isv needs -license\n");
        goto opthelp;
    }

    if ((cert == NULL) != (key == NULL)) {
        fprintf(stderr, PROG ": -cert and -key go together\n");
        goto opthelp;
    }

    path = NULL;
    for (i = 0; ops[i].op != NULL; i++) {
        if (strcmp(op, ops[i].op) == 0) {
            path = ops[i].path;
        }
    }

    if (path == NULL) {
        fprintf(stderr, PROG ": unknown -op \"%s\"\n", op);
        goto opthelp;
    }

    if (req_path != NULL) {
        path = req_path;
    }

    if (id != NULL && !ovsa_license_id_valid(id)) {
        fprintf(stderr, PROG ": -id \"%s\" is not a license id "
                "(1..%d of [A-Za-z0-9._-])\n", id, OVSA_LICENSE_ID_MAX);
        goto opthelp;
    }

    /* the request body of each operation (COMMON protocol, docs) */
    body = json_object();
    if (id != NULL) {
        json_object_set_new(body, "license_id", json_string(id));
    }

    if (strcmp(op, "activate") == 0 || strcmp(op, "deactivate") == 0) {
        if (hwid == NULL) {
            fprintf(stderr, PROG ": -op %s needs -hwid\n", op);
            goto opthelp;
        }
    }

    if (strcmp(op, "checkout") == 0) {
        client_id = client_id ? client_id : hwid;
        if (client_id == NULL) {
            fprintf(stderr, PROG ": -op checkout needs -client or -hwid\n");
            goto opthelp;
        }
        json_object_set_new(body, "client_id", json_string(client_id));

    } else if (hwid != NULL && strcmp(op, "heartbeat") != 0
               && strcmp(op, "checkin") != 0)
    {
        json_object_set_new(body, "hwid", json_string(hwid));
    }

    if (strcmp(op, "heartbeat") == 0 || strcmp(op, "checkin") == 0) {
        if (lease == NULL) {
            fprintf(stderr, PROG ": -op %s needs -lease\n", op);
            goto opthelp;
        }
    }

    if (lease != NULL && strcmp(op, "checkout") != 0) {
        json_object_set_new(body, "lease_id", json_string(lease));
    }

    if (version != NULL && strcmp(op, "check") == 0) {
        json_object_set_new(body, "version",
                            json_integer(strtoll(version, NULL, 10)));
    }

    req = json_dumps(body, JSON_COMPACT);
    if (req == NULL) {
        fprintf(stderr, PROG ": out of memory\n");
        goto end;
    }

    if (license != NULL) {
        ret = check_license(license, root, isv, cache, cert, key, skew,
                            attime, path, req, json_out);
        goto end;
    }

    memset(&conf, 0, sizeof(conf));
    conf.client_cert = cert;
    conf.client_key = key;
    conf.url = url;
    conf.root = root;
    conf.cache_dir = cache;
    conf.skew = skew;

    if (ovsa_client_new(&conf, &client, &err) != OVSA_OK
        || (npins > 0
            && ovsa_client_set_pins(client, pins, npins, &err) != OVSA_OK))
    {
        fprintf(stderr, PROG ": %s: %s\n", ovsa_code_name(err.code), err.msg);
        goto end;
    }

    ovsa_client_set_time(client, (time_t) attime);

    rc = ovsa_client_request(client, "POST", path, req, &res, &err);

    if (json_out) {
        answer = NULL;
        if (res.verified && res.body != NULL) {
            answer = json_loadb(res.body, res.body_len, 0, NULL);
        }

        out = json_pack("{s:b, s:s, s:I}", "verified", rc == OVSA_OK,
                        "check", ovsa_code_name(rc == OVSA_OK ? OVSA_E_NONE
                                                              : err.code),
                        "status", (json_int_t) res.status);
        if (out != NULL) {
            if (rc != OVSA_OK) {
                json_object_set_new(out, "message", json_string(err.msg));
            }
            if (answer != NULL) {
                json_object_set_new(out, "answer", answer);
            }
            if (res.keyid[0] != '\0') {
                json_object_set_new(out, "keyid", json_string(res.keyid));
            }
            json_dumpf(out, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
            printf("\n");
            json_decref(out);
        }

    } else if (rc == OVSA_OK) {
        printf("verified: %s %s", res.verdict, res.code);
        if (res.valid_until > 0) {
            printf(", valid until %s", utc(res.valid_until, when,
                                           sizeof(when)));
        }
        if (res.message[0] != '\0') {
            printf(": %s", res.message);
        }
        printf("\n");

    } else {
        fprintf(stderr, PROG ": not verified: %s: %s\n",
                ovsa_code_name(err.code), err.msg);
    }

    ret = exit_code(rc, err.code, res.verdict);

    goto end;

opthelp:

    fprintf(stderr, PROG ": Use -help for summary.\n");
    ret = EXIT_USAGE;

end:

    ovsa_result_free(&res);
    ovsa_client_free(client);
    json_decref(body);
    free(req);
    return ret;
}
