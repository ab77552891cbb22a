/*
 * ovsa-check: ask an ovsa license server about a license and print the
 * verified verdict, or which check the answer failed.
 *
 *   ovsa-check -url https://127.0.0.1:8443 -root vendor-root.pem \
 *       -id LICENSE_ID [-secret F] [-state DIR] [-op check] [-hwid X]
 *   ovsa-check -license FILE (-root vendor-root.pem | -isv ISV.crt) \
 *       [-secret F] [-state DIR] [-cert C.pem -key K.pem] [-op check] ...
 *
 * License mode (-license): the servers of the license are tried in order,
 * each trusted through its own pins; a verified newer license in the
 * answer replaces FILE (docs/rotation.md).
 *
 * Exit status (lib/ovsa_opt.h, docs/cli.md): 0 verified and valid;
 * 1 local error (files, keys, the license file); 2 usage; 3 the answer
 * failed verification, or the license it offered was refused; 4 the
 * server (with -license: every server) could not be reached; 5 verified
 * denial or error verdict.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "ovsa.h"
#include "ovsa_client.h"
#include "ovsa_err.h"
#include "ovsa_file.h"
#include "ovsa_license.h"
#include "ovsa_opt.h"
#include "ovsa_reqsig.h"

#define PROG             "ovsa-check"
#define MAX_PINS         8

enum {
    OPT_URL = 1, OPT_ROOT, OPT_CACHE, OPT_ID, OPT_HWID, OPT_OP, OPT_LEASE,
    OPT_CLIENT, OPT_VERSION, OPT_SKEW, OPT_ATTIME, OPT_PIN, OPT_PATH,
    OPT_JSON, OPT_LICENSE, OPT_ISV, OPT_CERT, OPT_KEY, OPT_SECRET, OPT_STATE,
    OPT_REQUEST_ID, OPT_GRANT_OUT, OPT_GRANT, OPT_IN, OPT_OUT, OPT_SECONDS
};

static const ovsa_opt_t options[] = {
    { "url", NULL, OPT_URL, OVSA_OPT_STR, "val",
      "License server URL, https://host[:port]" },
    { "root", NULL, OPT_ROOT, OVSA_OPT_STR, "val",
      "Vendor root certificate (PEM), the only trust anchor (with "
      "-license: optional, required in addition to the pins)" },
    { "cache", NULL, OPT_CACHE, OVSA_OPT_STR, "val",
      "Signing-chain cache directory" },
    { "id", NULL, OPT_ID, OVSA_OPT_STR, "val", "License id" },
    { "hwid", NULL, OPT_HWID, OVSA_OPT_STR, "val",
      "Hardware id (check, activate, deactivate)" },
    { "op", NULL, OPT_OP, OVSA_OPT_STR, "val",
      "check|activate|deactivate|checkout|heartbeat|checkin (default "
      "check); license mode also borrow|lease|lease-release|"
      "offline-request|offline-deactivate|offline-submit|offline-accept "
      "(docs/offline.md)" },
    { "in", NULL, OPT_IN, OVSA_OPT_STR, "file",
      "offline-submit: the request file; offline-accept: the response "
      "file" },
    { "out", NULL, OPT_OUT, OVSA_OPT_STR, "file",
      "offline-request, offline-deactivate: the request file to write; "
      "offline-submit: the response file to write" },
    { "seconds", NULL, OPT_SECONDS, OVSA_OPT_UINT, "+int",
      "borrow: how long, at most the license's max_borrow" },
    { "lease", NULL, OPT_LEASE, OVSA_OPT_STR, "val",
      "Lease id (heartbeat, checkin, check)" },
    { "client", NULL, OPT_CLIENT, OVSA_OPT_STR, "val",
      "Client id (checkout; default -hwid)" },
    { "version", NULL, OPT_VERSION, OVSA_OPT_UINT, "+int",
      "License version the client holds" },
    { "skew", NULL, OPT_SKEW, OVSA_OPT_UINT, "+int",
      "Allowed clock skew in seconds (default 60)" },
    { "attime", NULL, OPT_ATTIME, OVSA_OPT_UINT, "+int",
      "Verify at this unix time, not now" },
    { "pin", NULL, OPT_PIN, OVSA_OPT_STR, "val",
      "Pin-only TLS: sha256//<base64> (repeatable)" },
    { "path", NULL, OPT_PATH, OVSA_OPT_STR, "val",
      "Request path instead of the -op's (testing)" },
    { "json", NULL, OPT_JSON, OVSA_OPT_FLAG, NULL,
      "Print the verified answer as JSON" },
    { "license", NULL, OPT_LICENSE, OVSA_OPT_STR, "val",
      "License mode: the customer license file (servers, pins, id, "
      "version; updated in place)" },
    { "isv", NULL, OPT_ISV, OVSA_OPT_STR, "val",
      "License mode: the ISV certificate the license must be signed by" },
    { "cert", NULL, OPT_CERT, OVSA_OPT_STR, "val",
      "TLS client certificate (PEM), for customer binding" },
    { "key", NULL, OPT_KEY, OVSA_OPT_STR, "val",
      "Private key file of -cert (PEM, not readable by others)" },
    { "secret", NULL, OPT_SECRET, OVSA_OPT_STR, "val",
      "License secret file (mode 0600; with -license default "
      "LICENSE.secret)" },
    { "request-id", NULL, OPT_REQUEST_ID, OVSA_OPT_STR, "val",
      "Request id of a usage spend or checkout (a retry with the same id "
      "spends nothing; default a random one)" },
    { "state", NULL, OPT_STATE, OVSA_OPT_STR, "val",
      "State directory: the machine key (machine.key, made on first use) "
      "that activations and leases are bound to" },
    { "grant-out", NULL, OPT_GRANT_OUT, OVSA_OPT_STR, "val",
      "License mode: also write the verified answer as a grant to this "
      "file (docs/offline.md)" },
    { "grant", NULL, OPT_GRANT, OVSA_OPT_STR, "val",
      "License mode: verify this grant file offline (no request is sent) "
      "and print its verdict" },
    { NULL, NULL, 0, 0, NULL, NULL }
};

static const ovsa_opt_prog_t prog = {
    PROG, "[options]", options, NULL,
    OVSA_EXIT_BIT(OVSA_EXIT_OK) | OVSA_EXIT_BIT(OVSA_EXIT_ERROR)
    | OVSA_EXIT_BIT(OVSA_EXIT_USAGE) | OVSA_EXIT_BIT(OVSA_EXIT_UNVERIFIED)
    | OVSA_EXIT_BIT(OVSA_EXIT_UNREACHABLE)
    | OVSA_EXIT_BIT(OVSA_EXIT_REFUSED)
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
        return code == OVSA_E_TRANSPORT ? OVSA_EXIT_UNREACHABLE
                                        : OVSA_EXIT_UNVERIFIED;
    }

    return strcmp(verdict, "valid") == 0 ? OVSA_EXIT_OK : OVSA_EXIT_REFUSED;
}


/* "verified: valid OK, valid until ...: message" */
static void
print_verdict(const ovsa_result_t *r)
{
    char  when[32];

    printf("verified: %s %s", r->verdict, r->code);
    if (r->valid_until > 0) {
        printf(", valid until %s", utc(r->valid_until, when, sizeof(when)));
    }
    if (r->message[0] != '\0') {
        printf(": %s", r->message);
    }
    printf("\n");
}


/*
 * License mode, through the high-level API (ovsa.h) as an integrator
 * gets it: every server of the license in order, the update, the saved
 * answers of the state directory when no server answers.
 */
static int
check_license(const ovsa_sdk_conf_t *conf, const char *op,
    const char *fields, int json_out, const char *grant_out)
{
    int                     rc, verified;
    size_t                  i;
    json_t                 *out, *tries, *answer, *upd;
    ovsa_err_t              err;
    ovsa_sdk_t             *lic;
    ovsa_attempt_t         *a;
    ovsa_sdk_status_t       st;
    ovsa_license_result_t   res;
    const char             *license = conf->license;

    memset(&res, 0, sizeof(res));
    res.server = -1;
    ovsa_err_clear(&err);

    lic = ovsa_sdk_open(conf, &st);
    if (lic != NULL) {
        (void) ovsa_sdk_call(lic, op, fields, &st, &res);
    }

    /* the walk's outcome: a usable verified answer and no refused update */
    verified = res.server >= 0;
    rc = OVSA_OK;

    if (verified && grant_out != NULL
        && (res.answer.grant == NULL
            || ovsa_file_write(grant_out, res.answer.grant,
                               res.answer.grant_len, 0600, 0, &err)
               != OVSA_OK))
    {
        fprintf(stderr, PROG ": grant: %s\n", res.answer.grant == NULL
                ? "the answer was not kept" : err.msg);
        ovsa_license_result_free(&res);
        ovsa_sdk_close(lic);
        return OVSA_EXIT_ERROR;
    }
    if (lic == NULL || st.code == OVSA_SDK_LOCAL_ERROR
        || st.code == OVSA_SDK_CLOCK_BACK || st.code == OVSA_SDK_NO_LEASE
        || !verified || (res.offered && res.update_code != OVSA_E_NONE))
    {
        rc = OVSA_ERR;
        err.code = st.error != OVSA_E_NONE ? st.error : OVSA_E_INTERNAL;
        snprintf(err.msg, sizeof(err.msg), "%s", st.message);
    }

    if (json_out) {
        out = json_pack("{s:b, s:s}", "verified", verified,
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
        json_object_set_new(out, "sdk", json_pack("{s:b, s:s, s:I, s:b}",
            "allowed", st.allowed, "code", st.code_name,
            "valid_until", (json_int_t) st.valid_until,
            "cached", st.cached));
        if (res.request_id[0] != '\0') {
            json_object_set_new(out, "request_id",
                                json_string(res.request_id));
            json_object_set_new(out, "replayed",
                                json_boolean(res.replayed));
        }
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
        if (res.license_id[0] != '\0') {
            printf("license %s version %lld\n", res.license_id,
                   res.held_version);
        }
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
            print_verdict(&res.answer);
            if (res.replayed) {
                printf("replayed: request %s was answered before; nothing "
                       "spent again\n", res.request_id);
            }
        }

        if (st.cached) {
            printf("offline: %s %s: %s\n",
                   st.allowed ? "allowed" : "refused", st.code_name,
                   st.message);
        }

        if (res.updated) {
            printf("license updated: %s version %lld -> %lld, %s replaced\n",
                   res.license_id, res.held_version, res.new_version,
                   license);
        }

        if (rc != OVSA_OK && !st.cached) {
            if (st.code == OVSA_SDK_CLOCK_BACK
                || st.code == OVSA_SDK_NO_LEASE)
            {
                fprintf(stderr, PROG ": %s: %s\n", st.code_name,
                        st.message);
            } else {
                fprintf(stderr, PROG ": %s: %s: %s\n",
                        res.offered && res.update_code != OVSA_E_NONE
                        ? "license update refused" : "not verified",
                        ovsa_code_name(err.code), err.msg);
            }
        }
    }

    if (st.cached) {
        /* no server answered; the saved answer decides */
        rc = st.allowed ? OVSA_EXIT_OK : OVSA_EXIT_UNREACHABLE;

    } else {
        rc = exit_code(rc, err.code, res.answer.verdict);

        /* a local error (license file, keys, clock) is not a server's
         * fault */
        if (rc == OVSA_EXIT_UNVERIFIED && res.nattempts == 0) {
            rc = OVSA_EXIT_ERROR;
        }
    }

    ovsa_license_result_free(&res);
    ovsa_sdk_close(lic);
    return rc;
}


static int
offline_op(const char *op)
{
    return strcmp(op, "borrow") == 0 || strcmp(op, "lease") == 0
           || strcmp(op, "lease-release") == 0
           || strncmp(op, "offline-", 8) == 0;
}


/*
 * The offline operations (docs/offline.md) through the high-level API:
 * borrow, offline-request / offline-deactivate (the offline machine
 * writes a request file), offline-submit (a connected machine carries
 * it), offline-accept (the offline machine keeps the answer).
 */
static int
offline(const ovsa_sdk_conf_t *conf, const char *op, const char *in,
    const char *out, long seconds, int json_out)
{
    int                 rc, need_in, need_out;
    char                when[32];
    json_t             *o;
    ovsa_sdk_t         *lic;
    ovsa_sdk_status_t   st;

    need_in = strcmp(op, "offline-submit") == 0
              || strcmp(op, "offline-accept") == 0;
    need_out = strcmp(op, "offline-request") == 0
               || strcmp(op, "offline-deactivate") == 0
               || strcmp(op, "offline-submit") == 0;

    if ((need_in && in == NULL) || (need_out && out == NULL)
        || (strcmp(op, "borrow") == 0 && seconds <= 0))
    {
        fprintf(stderr, PROG ": -op %s needs%s%s%s\n", op,
                need_in ? " -in" : "", need_out ? " -out" : "",
                strcmp(op, "borrow") == 0 ? " -seconds" : "");
        return OVSA_EXIT_USAGE;
    }

    lic = ovsa_sdk_open(conf, &st);
    if (lic != NULL) {
        if (strcmp(op, "borrow") == 0) {
            (void) ovsa_sdk_borrow(lic, seconds, &st);
        } else if (strcmp(op, "lease") == 0) {
            (void) ovsa_sdk_lease_acquire(lic, NULL, NULL, &st);
        } else if (strcmp(op, "lease-release") == 0) {
            if (ovsa_sdk_lease_acquire(lic, NULL, NULL, &st)) {
                (void) ovsa_sdk_lease_release(lic, &st);
            }
        } else if (strcmp(op, "offline-request") == 0) {
            (void) ovsa_sdk_offline_request(lic, "activate", out, &st);
        } else if (strcmp(op, "offline-deactivate") == 0) {
            (void) ovsa_sdk_offline_request(lic, "deactivate", out, &st);
        } else if (strcmp(op, "offline-submit") == 0) {
            (void) ovsa_sdk_offline_submit(lic, in, out, &st, NULL);
        } else if (strcmp(op, "offline-accept") == 0) {
            (void) ovsa_sdk_offline_accept(lic, in, &st);
        } else {
            ovsa_sdk_close(lic);
            fprintf(stderr, PROG ": -op %s: unknown\n", op);
            return OVSA_EXIT_USAGE;
        }
        ovsa_sdk_close(lic);
    }

    if (json_out) {
        o = json_pack("{s:s, s:b, s:s, s:s, s:s, s:I, s:I, s:b, s:b}",
                      "op", op, "allowed", st.allowed,
                      "code", st.code_name, "message", st.message,
                      "check", ovsa_code_name(st.error),
                      "valid_until", (json_int_t) st.valid_until,
                      "server_time", (json_int_t) st.server_time,
                      "verified", st.verified, "cached", st.cached);
        if (st.lease_id[0] != '\0') {
            json_object_set_new(o, "lease_id", json_string(st.lease_id));
            json_object_set_new(o, "lease_expires",
                                json_integer(st.lease_expires));
        }
        json_dumpf(o, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
        printf("\n");
        json_decref(o);

    } else if (st.allowed) {
        printf("%s: %s", op, st.code_name);
        if (st.valid_until > 0) {
            printf(", valid until %s", utc(st.valid_until, when,
                                           sizeof(when)));
        }
        printf("%s%s\n", st.message[0] ? ": " : "", st.message);

    } else {
        fprintf(stderr, PROG ": %s: %s (%s): %s\n", op, st.code_name,
                ovsa_code_name(st.error), st.message);
    }

    if (st.allowed) {
        rc = OVSA_EXIT_OK;
    } else if (st.code == OVSA_SDK_LOCAL_ERROR
               || st.code == OVSA_SDK_CLOCK_BACK)
    {
        rc = OVSA_EXIT_ERROR;
    } else if (st.code == OVSA_SDK_UNREACHABLE) {
        rc = OVSA_EXIT_UNREACHABLE;
    } else if (st.code == OVSA_SDK_UNVERIFIED) {
        rc = OVSA_EXIT_UNVERIFIED;
    } else {
        rc = OVSA_EXIT_REFUSED;
    }

    return rc;
}


/* -grant: a grant verified offline, as license mode trusts answers */
static int
check_grant(const ovsa_sdk_conf_t *sc, const char *file, int json_out)
{
    int                   rc;
    char                 *text;
    size_t                len;
    json_t               *out, *answer;
    ovsa_err_t            err;
    ovsa_result_t         r;
    ovsa_license_conf_t   lc;

    memset(&r, 0, sizeof(r));

    if (ovsa_file_read(file, 64 * 1024, &text, &len, &err) != OVSA_OK) {
        fprintf(stderr, PROG ": grant: %s\n", err.msg);
        return OVSA_EXIT_ERROR;
    }

    memset(&lc, 0, sizeof(lc));
    lc.license = sc->license;
    lc.root = sc->root;
    lc.isv = sc->isv;
    lc.skew = sc->skew;

    rc = ovsa_license_grant_verify(&lc, text, len, &r, &err);
    free(text);

    if (json_out) {
        out = json_pack("{s:b, s:s, s:I}", "verified", rc == OVSA_OK,
                        "check", ovsa_code_name(rc == OVSA_OK ? OVSA_E_NONE
                                                              : err.code),
                        "status", (json_int_t) r.status);
        if (rc != OVSA_OK) {
            json_object_set_new(out, "message", json_string(err.msg));
        } else {
            answer = json_loadb(r.body, r.body_len, 0, NULL);
            if (answer != NULL) {
                json_object_del(answer, "license");
                json_object_set_new(out, "answer", answer);
            }
            json_object_set_new(out, "nonce", json_string(r.nonce));
            json_object_set_new(out, "signed_at",
                                json_integer(r.sig_created));
        }
        json_dumpf(out, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
        printf("\n");
        json_decref(out);

    } else if (rc == OVSA_OK) {
        print_verdict(&r);

    } else {
        fprintf(stderr, PROG ": grant not verified: %s: %s\n",
                ovsa_code_name(err.code), err.msg);
    }

    rc = rc != OVSA_OK && err.code == OVSA_E_TRANSPORT
         ? OVSA_EXIT_UNVERIFIED : exit_code(rc, err.code, r.verdict);
    ovsa_result_free(&r);
    return rc;
}


int
main(int argc, char **argv)
{
    int                  i, ret, json_out, rc, o;
    char                *req, *help;
    size_t               npins;
    json_t              *body, *answer, *out;
    int64_t              version;
    const char          *url, *root, *cache, *id, *hwid, *op, *lease;
    const char          *client_id, *path, *req_path;
    const char          *license, *isv, *cert, *key, *secret_file, *state;
    const char          *request_id, *grant_out, *grant, *in, *outf;
    long long            seconds;
    char                 rid[33];
    unsigned char        rnd[16];
    const char          *pins[MAX_PINS];
    char                 secret[OVSA_LICENSE_SECRET_LEN + 1];
    char                 mkey[512];
    EVP_PKEY            *machine;
    ovsa_sdk_conf_t      lconf;
    long                 skew;
    long long            attime;
    ovsa_err_t           err;
    ovsa_client_t       *client;
    ovsa_result_t        res;
    ovsa_opt_state_t     st;
    ovsa_client_conf_t   conf;

    ret = OVSA_EXIT_ERROR;
    client = NULL;
    body = NULL;
    req = NULL;
    memset(&res, 0, sizeof(res));
    url = root = cache = id = hwid = lease = client_id = NULL;
    req_path = NULL;
    license = isv = cert = key = secret_file = state = NULL;
    machine = NULL;
    request_id = NULL;
    grant_out = grant = in = outf = NULL;
    seconds = 0;
    secret[0] = '\0';
    op = "check";
    version = -1;
    skew = -1;
    attime = 0;
    npins = 0;
    json_out = 0;

    ovsa_opt_init(&st, &prog, argc, argv);

    while ((o = ovsa_opt_next(&st)) != OVSA_OPT_EOF) {
        switch (o) {
        case OVSA_OPT_HELP:
            help = ovsa_opt_help(&prog);
            printf("%s", help ? help : "");
            free(help);
            ret = OVSA_EXIT_OK;
            goto end;
        case OPT_URL:
            url = st.val;
            break;
        case OPT_GRANT_OUT:
            grant_out = st.val;
            break;
        case OPT_GRANT:
            grant = st.val;
            break;
        case OPT_IN:
            in = st.val;
            break;
        case OPT_OUT:
            outf = st.val;
            break;
        case OPT_SECONDS:
            seconds = st.num;
            break;
        case OPT_ROOT:
            root = st.val;
            break;
        case OPT_CACHE:
            cache = st.val;
            break;
        case OPT_ID:
            id = st.val;
            break;
        case OPT_HWID:
            hwid = st.val;
            break;
        case OPT_OP:
            op = st.val;
            break;
        case OPT_LEASE:
            lease = st.val;
            break;
        case OPT_CLIENT:
            client_id = st.val;
            break;
        case OPT_VERSION:
            version = st.num;
            break;
        case OPT_SKEW:
            skew = (long) st.num;
            break;
        case OPT_ATTIME:
            attime = (long long) st.num;
            break;
        case OPT_PIN:
            if (npins == MAX_PINS) {
                ovsa_opt_bad(&st, "at most %d pins", MAX_PINS);
                goto opthelp;
            }
            pins[npins++] = st.val;
            break;
        case OPT_PATH:
            req_path = st.val;
            break;
        case OPT_JSON:
            json_out = 1;
            break;
        case OPT_LICENSE:
            license = st.val;
            break;
        case OPT_ISV:
            isv = st.val;
            break;
        case OPT_CERT:
            cert = st.val;
            break;
        case OPT_KEY:
            key = st.val;
            break;
        case OPT_SECRET:
            secret_file = st.val;
            break;
        case OPT_STATE:
            state = st.val;
            break;
        case OPT_REQUEST_ID:
            request_id = st.val;
            break;
        default:
            goto opthelp;
        }
    }

    if (ovsa_opt_args(&st, 0) != 0) {
        goto opthelp;
    }

    if (license != NULL) {
        if (url != NULL || id != NULL || npins > 0 || version >= 0) {
            ovsa_opt_bad(&st, "-license gives the servers, pins, id and "
                         "version: -url, -pin, -id and -version do not "
                         "apply");
            goto opthelp;
        }

    } else if (url == NULL || root == NULL || id == NULL) {
        ovsa_opt_bad(&st, "-url, -root and -id are required (or -license)");
        goto opthelp;

    } else if (isv != NULL) {
        ovsa_opt_bad(&st, "-isv needs -license");
        goto opthelp;
    }

    if ((cert == NULL) != (key == NULL)) {
        ovsa_opt_bad(&st, "-cert and -key go together");
        goto opthelp;
    }

    path = NULL;
    for (i = 0; ops[i].op != NULL; i++) {
        if (strcmp(op, ops[i].op) == 0) {
            path = ops[i].path;
        }
    }

    if (path == NULL && offline_op(op)) {
        if (license == NULL) {
            ovsa_opt_bad(&st, "-op %s needs -license", op);
            goto opthelp;
        }
        path = "";                  /* the SDK knows the path */
    }

    if (path == NULL) {
        ovsa_opt_bad(&st, "unknown -op \"%s\"", op);
        goto opthelp;
    }

    if (req_path != NULL) {
        if (license != NULL) {
            ovsa_opt_bad(&st, "-path needs -url");
            goto opthelp;
        }
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

    /* license mode: the SDK derives the hwid (and the client id) */
    if ((strcmp(op, "activate") == 0 || strcmp(op, "deactivate") == 0)
        && license == NULL)
    {
        if (hwid == NULL) {
            ovsa_opt_bad(&st, "-op %s needs -hwid", op);
            goto opthelp;
        }
    }

    if (strcmp(op, "checkout") == 0) {
        client_id = client_id ? client_id : hwid;
        if (client_id == NULL && license == NULL) {
            ovsa_opt_bad(&st, "-op checkout needs -client or -hwid");
            goto opthelp;
        }
        if (client_id != NULL) {
            json_object_set_new(body, "client_id",
                                json_string(client_id));
        }

    } else if (hwid != NULL && strcmp(op, "heartbeat") != 0
               && strcmp(op, "checkin") != 0)
    {
        json_object_set_new(body, "hwid", json_string(hwid));
    }

    if (strcmp(op, "heartbeat") == 0 || strcmp(op, "checkin") == 0) {
        if (lease == NULL) {
            ovsa_opt_bad(&st, "-op %s needs -lease", op);
            goto opthelp;
        }
    }

    if (lease != NULL && strcmp(op, "checkout") != 0) {
        json_object_set_new(body, "lease_id", json_string(lease));
    }

    if (version >= 0 && strcmp(op, "check") == 0) {
        json_object_set_new(body, "version", json_integer(version));
    }

    if (request_id != NULL) {
        if (!ovsa_license_id_valid(request_id)) {
            ovsa_opt_bad(&st, "-request-id \"%s\": not 1..%d of "
                         "[A-Za-z0-9._-]", request_id, OVSA_LICENSE_ID_MAX);
            goto opthelp;
        }
        json_object_set_new(body, "request_id", json_string(request_id));

    } else if (license == NULL
               && (strcmp(op, "check") == 0 || strcmp(op, "checkout") == 0))
    {
        /*
         * -url mode: a usage check or a checkout needs a request id
         * (license mode: the SDK makes one); a random one, in -json's
         * output, so that a retry can send it with -request-id
         */
        if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
            fprintf(stderr, PROG ": no random request id\n");
            goto end;
        }
        for (i = 0; i < (int) sizeof(rnd); i++) {
            snprintf(&rid[2 * i], 3, "%02x", rnd[i]);
        }
        request_id = rid;
        json_object_set_new(body, "request_id", json_string(request_id));
    }

    /* -url mode: the secret and the machine key as given (license mode:
     * the SDK reads them for the license) */
    if (license == NULL
        && ((secret_file != NULL
             && ovsa_license_secret_read(secret_file, secret, &err)
                != OVSA_OK)
            || (state != NULL
                && (ovsa_client_machine_key(state, &machine, &err) != OVSA_OK
                    || ovsa_machine_key_encode(machine, mkey, sizeof(mkey),
                                               &err) != OVSA_OK))))
    {
        fprintf(stderr, PROG ": %s: %s\n", ovsa_code_name(err.code), err.msg);
        goto end;
    }

    if (machine != NULL) {
        json_object_set_new(body, "machine_key", json_string(mkey));
    }

    req = json_dumps(body, JSON_COMPACT);
    if (req == NULL) {
        fprintf(stderr, PROG ": out of memory\n");
        goto end;
    }

    if (license != NULL) {
        memset(&lconf, 0, sizeof(lconf));
        lconf.license = license;
        lconf.root = root;
        lconf.isv = isv;
        lconf.secret = secret_file;
        lconf.state_dir = state;
        lconf.cache_dir = cache;
        lconf.client_cert = cert;
        lconf.client_key = key;
        lconf.skew = skew;
        lconf.at = (time_t) attime;
        lconf.hwid = hwid;
        if (offline_op(op)) {
            ret = offline(&lconf, op, in, outf, (long) seconds, json_out);
        } else {
            ret = grant != NULL ? check_grant(&lconf, grant, json_out)
                                : check_license(&lconf, op, req, json_out,
                                                grant_out);
        }
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

    if (ovsa_client_set_auth(client, secret[0] ? secret : NULL, machine, &err)
        != OVSA_OK)
    {
        fprintf(stderr, PROG ": %s: %s\n", ovsa_code_name(err.code), err.msg);
        goto end;
    }

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
            if (request_id != NULL) {
                json_object_set_new(out, "request_id",
                                    json_string(request_id));
            }
            json_dumpf(out, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
            printf("\n");
            json_decref(out);
        }

    } else if (rc == OVSA_OK) {
        print_verdict(&res);

    } else {
        fprintf(stderr, PROG ": not verified: %s: %s\n",
                ovsa_code_name(err.code), err.msg);
    }

    ret = exit_code(rc, err.code, res.verdict);
    goto end;

opthelp:

    fprintf(stderr, PROG ": %s\n" PROG ": Use -help for summary.\n", st.msg);
    ret = OVSA_EXIT_USAGE;

end:

    ovsa_result_free(&res);
    ovsa_client_free(client);
    EVP_PKEY_free(machine);
    OPENSSL_cleanse(secret, sizeof(secret));
    json_decref(body);
    free(req);
    return ret;
}
