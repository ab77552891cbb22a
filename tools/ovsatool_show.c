/*
 * ovsatool_show.c: "ovsatool verify" (signature, and ISV trust when -isv
 * certificates are given) and "ovsatool show" (a readable summary, or
 * JSON).  Both refuse a license that does not verify.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/x509.h>

#include "ovsa_license.h"
#include "ovsa_pin.h"
#include "ovsa_x509.h"
#include "ovsatool.h"

#define OVSATOOL_MAX_ISV  64

enum {
    OPT_LICENSE = 1, OPT_ISV, OPT_JSON
};

static const ovsa_opt_t ovsatool_verify_opts[] = {
    { "license", "l", OPT_LICENSE, OVSA_OPT_STR, "file",
      "License file (required)" },
    { "isv", NULL, OPT_ISV, OVSA_OPT_STR, "cert",
      "Trusted ISV certificate, repeatable: the signer must be one" },
    { NULL, NULL, 0, 0, NULL, NULL }
};

static const ovsa_opt_t ovsatool_show_opts[] = {
    { "license", "l", OPT_LICENSE, OVSA_OPT_STR, "file",
      "License file (required)" },
    { "json", NULL, OPT_JSON, OVSA_OPT_FLAG, NULL,
      "Print JSON: the header facts and the payload" },
    { NULL, NULL, 0, 0, NULL, NULL }
};

static const ovsa_opt_prog_t ovsatool_verify_prog = {
    "ovsatool verify", "-l FILE [-isv CERT ...]", ovsatool_verify_opts, NULL,
    OVSATOOL_EXITS
};

static const ovsa_opt_prog_t ovsatool_show_prog = {
    "ovsatool show", "-l FILE [-json]", ovsatool_show_opts, NULL,
    OVSATOOL_EXITS
};


int
ovsatool_verify_main(void *ctx, int argc, char **argv)
{
    int                ret, o, i, n;
    X509              *isv[OVSATOOL_MAX_ISV];
    ovsa_err_t         err;
    const char        *lfile, *isvfile[OVSATOOL_MAX_ISV];
    ovsa_license_t    *lic;
    ovsa_opt_state_t   st;

    ret = OVSA_EXIT_ERROR;
    lic = NULL;
    lfile = NULL;
    n = 0;
    memset(isv, 0, sizeof(isv));

    ovsa_opt_init(&st, &ovsatool_verify_prog, argc, argv);

    while ((o = ovsatool_opt(&st, 0, &ret)) > 0) {
        switch (o) {
        case OPT_LICENSE:
            lfile = st.val;
            break;
        case OPT_ISV:
            if (n == OVSATOOL_MAX_ISV) {
                ret = ovsatool_usage(&st, "more than %d -isv",
                                     OVSATOOL_MAX_ISV);
                goto end;
            }
            isvfile[n++] = st.val;
            break;
        }
    }

    if (o < 0) {
        goto end;
    }

    if (lfile == NULL) {
        ret = ovsatool_usage(&st, "-l FILE is required");
        goto end;
    }

    for (i = 0; i < n; i++) {
        if (ovsatool_load_cert(isvfile[i], &isv[i], &err) != OVSA_OK) {
            goto fail;
        }
    }

    if (ovsa_license_load_file(lfile, &lic, &err) != OVSA_OK
        || (n > 0 && ovsa_license_trusted(lic, isv, n, &err) != OVSA_OK))
    {
        goto fail;
    }

    printf("%s: OK (license %s version %lld, %s%s)\n", lfile, lic->id,
           (long long) lic->version, lic->alg,
           n > 0 ? ", trusted ISV" : ", ISV not checked");
    ret = OVSA_EXIT_OK;
    goto end;

fail:

    printf("%s: FAILED %s\n", lfile, ovsa_code_name(err.code));
    ovsatool_fail(argv[0], &err);
    ret = ovsa_exit_status(err.code);

end:

    for (i = 0; i < n; i++) {
        X509_free(isv[i]);
    }
    ovsa_license_free(lic);
    return ret;
}


static void
ovsatool_time(int64_t t, char *buf, size_t size)
{
    time_t     tt;
    struct tm  tm;

    tt = (time_t) t;
    if (gmtime_r(&tt, &tm) == NULL
        || strftime(buf, size, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
    {
        snprintf(buf, size, "%lld", (long long) t);
    }
}


static void
ovsatool_show_text(const ovsa_license_t *lic)
{
    char                          when[64], subject[256];
    char                          pin[OVSA_PIN_LEN + 1];
    size_t                        i, j, n;
    const ovsa_license_server_t  *s;

    ovsatool_time(lic->issued_at, when, sizeof(when));
    printf("license:         %s\n", lic->id);
    printf("version:         %lld, issued %s\n", (long long) lic->version,
           when);
    printf("product:         %s\n", lic->product);
    printf("customer:        %s\n", lic->customer_name);
    printf("customer cert:   %s\n", lic->customer_cert_sha256
                                    ? lic->customer_cert_sha256
                                    : "not bound");
    if (lic->secret_sha256[0] != '\0') {
        printf("customer secret: set (sha256 %s)\n", lic->secret_sha256);
    } else {
        printf("customer secret: none\n");
    }
    printf("type:            %s\n", ovsa_license_type_name(lic->type));

    printf("limits:         ");
    n = 0;
    if (lic->limits.usage) {
        printf(" usage %lld", (long long) lic->limits.usage);
        n++;
    }
    if (lic->limits.max_activations) {
        printf("%s max activations %lld", n++ ? "," : "",
               (long long) lic->limits.max_activations);
    }
    if (lic->limits.seats) {
        printf("%s seats %lld", n++ ? "," : "",
               (long long) lic->limits.seats);
    }
    if (lic->limits.lease_seconds) {
        printf("%s lease %lld s", n++ ? "," : "",
               (long long) lic->limits.lease_seconds);
    }
    printf("%s\n", n ? "" : " none");

    if (lic->deactivations >= 0) {
        printf("deactivations:   %ld per %ld s", lic->deactivations,
               lic->deactivation_period);
        if (lic->deactivation_period % 86400 == 0) {
            printf(" (%ld days)", lic->deactivation_period / 86400);
        }
        printf("\n");
    } else {
        printf("deactivations:   not limited\n");
    }

    printf("hardware key:    %s\n", lic->require_hardware_key
                                    ? "required" : "not required");
    printf("sync interval:   %lld s\n", (long long) lic->sync_interval);
    if (lic->expires_at) {
        ovsatool_time(lic->expires_at, when, sizeof(when));
    } else {
        strcpy(when, "never");
    }
    printf("expires:         %s\n", when);

    for (i = 0; i < lic->nservers; i++) {
        s = &lic->servers[i];
        printf("server %zu:        %s\n", i + 1, s->url);
        if (lic->format == OVSA_LICENSE_FORMAT) {
            printf("  current pin:   %s\n", s->pins[0]);
            printf("  future pin:    %s\n", s->npins > 1 ? s->pins[1]
                                                         : "none");
            continue;
        }
        /* format 2: a set, any key of which may serve the URL */
        printf("  pin set:       %zu key%s, any may serve\n", s->npins,
               s->npins == 1 ? "" : "s");
        for (j = 0; j < s->npins; j++) {
            printf("  pin %zu:         %s\n", j + 1, s->pins[j]);
        }
    }

    ovsa_cert_subject(lic->signer, subject, sizeof(subject));
    if (ovsa_pin_cert(lic->signer, pin, NULL) != OVSA_OK) {
        strcpy(pin, "?");
    }
    printf("signer:          %s (%s)\n", subject, lic->alg);
    printf("signer key:      %s\n", pin);
}


static int
ovsatool_show_json(const ovsa_license_t *lic, ovsa_err_t *err)
{
    char    subject[256], pin[OVSA_PIN_LEN + 1];
    char   *text;
    json_t *payload, *out;

    payload = json_loads(lic->payload, 0, NULL);
    ovsa_cert_subject(lic->signer, subject, sizeof(subject));
    if (ovsa_pin_cert(lic->signer, pin, NULL) != OVSA_OK) {
        strcpy(pin, "?");
    }

    out = json_pack("{s:{s:s, s:s, s:s, s:s}, s:o}", "header",
                    "alg", lic->alg, "typ", OVSA_LICENSE_TYP,
                    "signer_subject", subject, "signer_pin", pin,
                    "payload", payload);
    text = out ? json_dumps(out, JSON_INDENT(2) | JSON_PRESERVE_ORDER)
               : NULL;
    json_decref(out);
    if (text == NULL) {
        return ovsa_err_set(err, OVSA_E_NOMEM, "show: out of memory");
    }

    printf("%s\n", text);
    free(text);
    return OVSA_OK;
}


int
ovsatool_show_main(void *ctx, int argc, char **argv)
{
    int                ret, o, json;
    ovsa_err_t         err;
    const char        *lfile;
    ovsa_license_t    *lic;
    ovsa_opt_state_t   st;

    ret = OVSA_EXIT_ERROR;
    lic = NULL;
    lfile = NULL;
    json = 0;

    ovsa_opt_init(&st, &ovsatool_show_prog, argc, argv);

    while ((o = ovsatool_opt(&st, 0, &ret)) > 0) {
        switch (o) {
        case OPT_LICENSE:
            lfile = st.val;
            break;
        case OPT_JSON:
            json = 1;
            break;
        }
    }

    if (o < 0) {
        goto end;
    }

    if (lfile == NULL) {
        ret = ovsatool_usage(&st, "-l FILE is required");
        goto end;
    }

    if (ovsa_license_load_file(lfile, &lic, &err) != OVSA_OK) {
        ovsatool_fail(argv[0], &err);
        ret = ovsa_exit_status(err.code);
        goto end;
    }

    if (json) {
        if (ovsatool_show_json(lic, &err) != OVSA_OK) {
            ovsatool_fail(argv[0], &err);
            goto end;
        }
    } else {
        ovsatool_show_text(lic);
    }

    ret = OVSA_EXIT_OK;

end:

    ovsa_license_free(lic);
    return ret;
}
