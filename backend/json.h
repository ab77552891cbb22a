/*
 * json.h: validation of JSON request bodies (jansson).  A refused field
 * is reported as code BAD_FIELD (or BAD_JSON) with the field's name and a
 * reason, which the routes turn into a 400 answer.
 */

#ifndef OVSA_JSON_H
#define OVSA_JSON_H

#include <jansson.h>

typedef struct {
    const char  *code;         /* "BAD_JSON" or "BAD_FIELD" */
    const char  *field;        /* static name of the refused field */
    char         message[256];
} ovsa_reqerr_t;

/* What a string field must look like. */
typedef enum {
    OVSA_STR_ID,        /* ovsa_license_id_valid: license_id, request_id */
    OVSA_STR_TEXT,      /* ovsa_policy_text_ok: hwid, client_id */
    OVSA_STR_LEASE      /* 32 hex digits */
} ovsa_str_kind_t;

/*
 * Parses len bytes of body as a JSON object.  Returns a new reference the
 * caller releases with json_decref(), or NULL with re filled (BAD_JSON).
 */
json_t *ovsa_json_object(const char *body, size_t len, ovsa_reqerr_t *re);

/*
 * Reads string field name of obj into *out (borrowed from obj).  A JSON
 * null counts as absent.  Absent and !required: returns 0 with *out NULL.
 * Returns 0, or -1 with re filled (BAD_FIELD naming the field).
 */
int ovsa_json_str(json_t *obj, const char *name, int required,
    ovsa_str_kind_t kind, const char **out, ovsa_reqerr_t *re);

/*
 * Reads integer field name (min..max) into *out; absent and !required
 * gives *out = dflt.  Returns 0, or -1 with re filled.
 */
int ovsa_json_int(json_t *obj, const char *name, int required, long min,
    long max, long dflt, long *out, ovsa_reqerr_t *re);

/*
 * Reads boolean field name into *out (0 or 1); absent and !required gives
 * 0.  Returns 0, or -1 with re filled.
 */
int ovsa_json_bool(json_t *obj, const char *name, int required, int *out,
    ovsa_reqerr_t *re);

/* Sets re to BAD_FIELD for field with a printf-style reason; returns -1. */
int ovsa_json_bad_field(ovsa_reqerr_t *re, const char *field,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif /* OVSA_JSON_H */
