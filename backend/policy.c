/*
 * policy.c: pure decisions of ovsa-backend (see policy.h).
 */

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "ovsa_conf.h"
#include "ovsa_pin.h"
#include "policy.h"


static const ovsa_policy_code_t  ovsa_policy_codes[] = {
    { "OK",                     200, "valid",  "ok" },
    { "UNKNOWN_LICENSE",        404, "denied", "license is not known" },
    { "LICENSE_REVOKED",        403, "denied", "license has been revoked" },
    { "LICENSE_EXPIRED",        403, "denied", "license has expired" },
    { "USAGE_EXHAUSTED",        403, "denied", "no usage left" },
    { "HWID_NOT_ACTIVATED",     403, "denied",
      "license is not activated for this hwid" },
    { "LEASE_UNKNOWN",          403, "denied",
      "lease is not held (expired, released or never issued)" },
    { "HARDWARE_KEY_REQUIRED",  403, "denied",
      "this server only serves licenses that require a hardware key" },
    { "CUSTOMER_CERT_MISMATCH", 403, "denied",
      "client certificate does not match the license's customer" },
    { "MAX_ACTIVATIONS",        409, "denied",
      "all activations of the license are in use" },
    { "NO_SEATS",               409, "denied",
      "all seats of the license are held" },
    { "ACTIVATION_UNKNOWN",     404, "denied",
      "license is not activated for this hwid" },
    { "WRONG_LICENSE_TYPE",     400, "error",
      "operation does not apply to this license type" },
    { "BAD_JSON",               400, "error", "body is not a JSON object" },
    { "BAD_FIELD",              400, "error", "field missing or invalid" },
    { "BODY_TOO_LARGE",         413, "error", "request body too large" },
    { "NOT_FOUND",              404, "error", "no such route" },
    { "METHOD_NOT_ALLOWED",     405, "error", "method not allowed" },
    { "UNAUTHORIZED",           401, "error", "missing or wrong admin token" },
    { "LICENSE_INVALID",        400, "error", "license is not valid" },
    { "LICENSE_UNTRUSTED",      403, "error",
      "license is not signed by a configured ISV certificate" },
    { "VERSION_NOT_NEWER",      409, "error",
      "stored license version is the same or newer" },
    { "STORE_UNAVAILABLE",      503, "error", "license store unavailable" },
    { "INTERNAL",               500, "error", "internal error" },
    { NULL, 0, NULL, NULL }
};

static const char  *ovsa_policy_types[] = {
    "perpetual", "time-limited", "usage-count", "node-locked", "floating",
    NULL
};


const ovsa_policy_code_t *
ovsa_policy_code(const char *code)
{
    const ovsa_policy_code_t  *c;

    if (code == NULL) {
        return NULL;
    }

    for (c = ovsa_policy_codes; c->code != NULL; c++) {
        if (strcmp(c->code, code) == 0) {
            return c;
        }
    }

    return NULL;
}


long
ovsa_policy_valid_until(long now, long sync_interval, long expires_at,
    long lease_expires)
{
    long  until;

    until = now + sync_interval;

    if (expires_at > 0 && expires_at < until) {
        until = expires_at;
    }

    if (lease_expires > 0 && lease_expires < until) {
        until = lease_expires;
    }

    return until;
}


int
ovsa_policy_id_ok(const char *s)
{
    size_t  n;

    for (n = 0; s[n] != '\0'; n++) {
        if (!isalnum((unsigned char) s[n]) && strchr("._-", s[n]) == NULL) {
            return 0;
        }
    }

    return n >= 1 && n <= OVSA_ID_MAX;
}


int
ovsa_policy_text_ok(const char *s)
{
    size_t  n;

    for (n = 0; s[n] != '\0'; n++) {
        if ((unsigned char) s[n] < 0x20 || (unsigned char) s[n] > 0x7e) {
            return 0;
        }
    }

    return n >= 1 && n <= OVSA_TEXT_MAX;
}


int
ovsa_policy_hex_ok(const char *s, size_t len)
{
    size_t  n;

    for (n = 0; s[n] != '\0'; n++) {
        if (!isxdigit((unsigned char) s[n])) {
            return 0;
        }
    }

    return n == len;
}


int
ovsa_policy_pin_ok(const char *s)
{
    size_t  n, plen;

    plen = sizeof(OVSA_PIN_PREFIX) - 1;

    if (strncmp(s, OVSA_PIN_PREFIX, plen) != 0) {
        return 0;
    }

    for (n = plen; s[n] != '\0'; n++) {
        if (!isalnum((unsigned char) s[n]) && strchr("+/=", s[n]) == NULL) {
            return 0;
        }
    }

    return n == plen + 44 && s[n - 1] == '=';
}


int
ovsa_policy_type_ok(const char *type)
{
    int  i;

    for (i = 0; ovsa_policy_types[i] != NULL; i++) {
        if (strcmp(type, ovsa_policy_types[i]) == 0) {
            return 1;
        }
    }

    return 0;
}


/* Reads an optional non-negative integer; null or absent gives 0. */
static int
ovsa_policy_limit(json_t *obj, const char *name, long *out, ovsa_err_t *err)
{
    json_t  *v;

    *out = 0;
    v = (obj != NULL) ? json_object_get(obj, name) : NULL;

    if (v == NULL || json_is_null(v)) {
        return OVSA_OK;
    }

    if (!json_is_integer(v) || json_integer_value(v) < 0) {
        return ovsa_err_set(err, OVSA_E_LIC_FIELD,
                            "license: limits.%s: not a non-negative integer",
                            name);
    }

    *out = (long) json_integer_value(v);

    return OVSA_OK;
}


static int
ovsa_policy_pins(json_t *servers, ovsa_record_t *rec, ovsa_err_t *err)
{
    size_t       i, len;
    json_t      *srv, *pins, *cur, *fut;
    const char  *p;

    rec->pins[0] = '\0';

    if (servers == NULL || json_is_null(servers)) {
        return OVSA_OK;
    }

    if (!json_is_array(servers) || json_array_size(servers) > OVSA_SERVERS_MAX)
    {
        return ovsa_err_set(err, OVSA_E_LIC_FIELD,
                            "license: servers: not an array of at most %d",
                            OVSA_SERVERS_MAX);
    }

    json_array_foreach(servers, i, srv) {
        pins = json_object_get(srv, "pins");
        cur = json_object_get(pins, "current");
        fut = json_object_get(pins, "future");

        if (!json_is_string(cur) || !ovsa_policy_pin_ok(json_string_value(cur))
            || (fut != NULL && !json_is_null(fut)
                && (!json_is_string(fut)
                    || !ovsa_policy_pin_ok(json_string_value(fut)))))
        {
            return ovsa_err_set(err, OVSA_E_LIC_FIELD,
                                "license: servers[%zu].pins: not "
                                "sha256//<base64> pins", i);
        }

        p = json_string_value(cur);
        len = strlen(rec->pins);
        snprintf(rec->pins + len, sizeof(rec->pins) - len, "%s%s",
                 len ? " " : "", p);

        if (json_is_string(fut)) {
            len = strlen(rec->pins);
            snprintf(rec->pins + len, sizeof(rec->pins) - len, " %s",
                     json_string_value(fut));
        }
    }

    return OVSA_OK;
}


int
ovsa_policy_record(json_t *payload, ovsa_record_t *rec, ovsa_err_t *err)
{
    size_t       i;
    json_t      *v, *limits, *customer;
    const char  *s, *field;

    memset(rec, 0, sizeof(*rec));

    if (!json_is_object(payload)) {
        return ovsa_err_set(err, OVSA_E_LIC_FIELD,
                            "license: payload is not a JSON object");
    }

    field = "ovsa";
    v = json_object_get(payload, field);
    if (!json_is_integer(v) || json_integer_value(v) != 1) {
        goto bad;
    }

    field = "license_id";
    v = json_object_get(payload, field);
    if (!json_is_string(v) || !ovsa_policy_id_ok(json_string_value(v))) {
        goto bad;
    }
    rec->id = json_string_value(v);

    field = "version";
    v = json_object_get(payload, field);
    if (!json_is_integer(v) || json_integer_value(v) < 1) {
        goto bad;
    }
    rec->version = (long) json_integer_value(v);

    field = "issued_at";
    v = json_object_get(payload, field);
    if (!json_is_integer(v) || json_integer_value(v) < 0) {
        goto bad;
    }
    rec->issued_at = (long) json_integer_value(v);

    field = "type";
    v = json_object_get(payload, field);
    if (!json_is_string(v) || !ovsa_policy_type_ok(json_string_value(v))) {
        goto bad;
    }
    rec->type = json_string_value(v);

    field = "product";
    v = json_object_get(payload, field);
    if (!json_is_string(v) || !ovsa_policy_text_ok(json_string_value(v))) {
        goto bad;
    }
    rec->product = json_string_value(v);

    field = "customer.name";
    customer = json_object_get(payload, "customer");
    v = json_object_get(customer, "name");
    if (!json_is_string(v) || !ovsa_policy_text_ok(json_string_value(v))) {
        goto bad;
    }
    rec->customer = json_string_value(v);

    field = "customer.cert_sha256";
    v = json_object_get(customer, "cert_sha256");
    if (v != NULL && !json_is_null(v)) {
        if (!json_is_string(v)
            || !ovsa_policy_hex_ok(json_string_value(v), OVSA_CERT_HEX_LEN))
        {
            goto bad;
        }

        s = json_string_value(v);
        for (i = 0; i < OVSA_CERT_HEX_LEN; i++) {
            rec->cert[i] = (char) tolower((unsigned char) s[i]);
        }
    }

    field = "require_hardware_key";
    v = json_object_get(payload, field);
    if (!json_is_boolean(v)) {
        goto bad;
    }
    rec->require_hw = json_is_true(v);

    field = "sync_interval";
    v = json_object_get(payload, field);
    if (!json_is_integer(v) || json_integer_value(v) < OVSA_SYNC_MIN
        || json_integer_value(v) > OVSA_SYNC_MAX)
    {
        goto bad;
    }
    rec->sync_interval = (long) json_integer_value(v);

    field = "expires_at";
    v = json_object_get(payload, field);
    if (v != NULL && !json_is_null(v)) {
        if (!json_is_integer(v) || json_integer_value(v) < 1) {
            goto bad;
        }
        rec->expires_at = (long) json_integer_value(v);
    }

    limits = json_object_get(payload, "limits");
    if (limits != NULL && !json_is_null(limits) && !json_is_object(limits)) {
        field = "limits";
        goto bad;
    }

    if (ovsa_policy_limit(limits, "usage", &rec->usage, err) != OVSA_OK
        || ovsa_policy_limit(limits, "max_activations", &rec->max_activations,
                             err) != OVSA_OK
        || ovsa_policy_limit(limits, "seats", &rec->seats, err) != OVSA_OK
        || ovsa_policy_limit(limits, "lease_seconds", &rec->lease_seconds,
                             err) != OVSA_OK)
    {
        return OVSA_ERR;
    }

    /* what each type needs */

    if (strcmp(rec->type, "perpetual") == 0 && rec->expires_at != 0) {
        return ovsa_err_set(err, OVSA_E_LIC_FIELD,
                            "license: expires_at: a perpetual license "
                            "does not expire");
    }

    if (strcmp(rec->type, "time-limited") == 0 && rec->expires_at == 0) {
        return ovsa_err_set(err, OVSA_E_LIC_FIELD,
                            "license: expires_at: required for time-limited");
    }

    if (strcmp(rec->type, "usage-count") == 0 && rec->usage < 1) {
        return ovsa_err_set(err, OVSA_E_LIC_FIELD,
                            "license: limits.usage: required (>= 1) for "
                            "usage-count");
    }

    if (strcmp(rec->type, "node-locked") == 0 && rec->max_activations < 1) {
        return ovsa_err_set(err, OVSA_E_LIC_FIELD,
                            "license: limits.max_activations: required "
                            "(>= 1) for node-locked");
    }

    if (strcmp(rec->type, "floating") == 0
        && (rec->seats < 1 || rec->lease_seconds < 1
            || rec->lease_seconds > OVSA_LEASE_MAX))
    {
        return ovsa_err_set(err, OVSA_E_LIC_FIELD,
                            "license: limits.seats and limits.lease_seconds: "
                            "required for floating (seats >= 1, "
                            "lease_seconds 1..%d)", OVSA_LEASE_MAX);
    }

    return ovsa_policy_pins(json_object_get(payload, "servers"), rec, err);

bad:

    return ovsa_err_set(err, OVSA_E_LIC_FIELD,
                        "license: %s: missing or invalid", field);
}
