/*
 * json.c: validation of JSON request bodies (see json.h).
 */

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "json.h"
#include "ovsa_license.h"
#include "policy.h"


json_t *
ovsa_json_object(const char *body, size_t len, ovsa_reqerr_t *re)
{
    json_t        *obj;
    json_error_t   jerr;

    obj = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);

    if (obj == NULL || !json_is_object(obj)) {
        re->code = "BAD_JSON";
        re->field = NULL;
        if (obj == NULL) {
            snprintf(re->message, sizeof(re->message),
                     "body: line %d column %d: %s",
                     jerr.line, jerr.column, jerr.text);
        } else {
            snprintf(re->message, sizeof(re->message),
                     "body: not a JSON object");
            json_decref(obj);
        }
        return NULL;
    }

    return obj;
}


int
ovsa_json_bad_field(ovsa_reqerr_t *re, const char *field, const char *fmt,
    ...)
{
    int      n;
    va_list  ap;

    re->code = "BAD_FIELD";
    re->field = field;

    n = snprintf(re->message, sizeof(re->message), "%s: ", field);
    if (n < 0 || (size_t) n >= sizeof(re->message)) {
        return -1;
    }

    va_start(ap, fmt);
    vsnprintf(re->message + n, sizeof(re->message) - n, fmt, ap);
    va_end(ap);

    return -1;
}


int
ovsa_json_str(json_t *obj, const char *name, int required,
    ovsa_str_kind_t kind, const char **out, ovsa_reqerr_t *re)
{
    int          ok;
    json_t      *v;
    const char  *s;

    *out = NULL;
    v = json_object_get(obj, name);

    if (v == NULL || json_is_null(v)) {
        return required ? ovsa_json_bad_field(re, name, "required") : 0;
    }

    if (!json_is_string(v)) {
        return ovsa_json_bad_field(re, name, "not a string");
    }

    s = json_string_value(v);

    if (strlen(s) != json_string_length(v)) {
        return ovsa_json_bad_field(re, name, "contains a NUL character");
    }

    switch (kind) {
    case OVSA_STR_ID:
        ok = ovsa_license_id_valid(s);
        break;
    case OVSA_STR_TEXT:
        ok = ovsa_policy_text_ok(s);
        break;
    default:
        ok = ovsa_policy_hex_ok(s, OVSA_LEASE_ID_LEN);
        break;
    }

    if (!ok) {
        return ovsa_json_bad_field(re, name, "%s",
            kind == OVSA_STR_ID ? "not 1..128 of [A-Za-z0-9._-]"
            : kind == OVSA_STR_TEXT ? "not 1..256 printable ASCII characters"
            : "not a lease id (32 hex digits)");
    }

    *out = s;

    return 0;
}


int
ovsa_json_int(json_t *obj, const char *name, int required, long min,
    long max, long dflt, long *out, ovsa_reqerr_t *re)
{
    json_t     *v;
    json_int_t  i;

    *out = dflt;
    v = json_object_get(obj, name);

    if (v == NULL || json_is_null(v)) {
        return required ? ovsa_json_bad_field(re, name, "required") : 0;
    }

    if (!json_is_integer(v)) {
        return ovsa_json_bad_field(re, name, "not an integer");
    }

    i = json_integer_value(v);

    if (i < min || i > max) {
        return ovsa_json_bad_field(re, name, "not in %ld..%ld", min, max);
    }

    *out = (long) i;

    return 0;
}


int
ovsa_json_bool(json_t *obj, const char *name, int required, int *out,
    ovsa_reqerr_t *re)
{
    json_t  *v;

    *out = 0;
    v = json_object_get(obj, name);

    if (v == NULL || json_is_null(v)) {
        return required ? ovsa_json_bad_field(re, name, "required") : 0;
    }

    if (!json_is_boolean(v)) {
        return ovsa_json_bad_field(re, name, "not a boolean");
    }

    *out = json_is_true(v);

    return 0;
}
