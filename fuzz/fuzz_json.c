/*
 * fuzz_json.c: the backend's request bodies (backend/json.c): the body
 * parsed as a JSON object, then every field the routes read
 * (routes_public.c, routes_admin.c) with the kind and range they use.
 * A refused field names itself; an accepted string satisfies its kind.
 */

#include <stdint.h>
#include <string.h>

#include "fuzz_util.h"
#include "json.h"
#include "ovsa_license.h"
#include "policy.h"


static void
fuzz_refused(const ovsa_reqerr_t *re, const char *name)
{
    FUZZ_ASSERT(strcmp(re->code, "BAD_FIELD") == 0);
    FUZZ_ASSERT(re->field != NULL && strcmp(re->field, name) == 0);
    FUZZ_ASSERT(strncmp(re->message, name, strlen(name)) == 0);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int            b;
    long           v;
    json_t        *obj;
    size_t         i;
    const char    *s;
    ovsa_reqerr_t  re;

    static const struct {
        const char       *name;
        ovsa_str_kind_t   kind;
    } strs[] = {
        { "license_id", OVSA_STR_ID },
        { "request_id", OVSA_STR_ID },
        { "hwid", OVSA_STR_TEXT },
        { "client_id", OVSA_STR_TEXT },
        { "lease_id", OVSA_STR_LEASE },
    };

    memset(&re, 0, sizeof(re));

    obj = ovsa_json_object((const char *) data, size, &re);
    if (obj == NULL) {
        FUZZ_ASSERT(strcmp(re.code, "BAD_JSON") == 0 && re.field == NULL);
        FUZZ_ASSERT(strlen(re.message) < sizeof(re.message));
        return 0;
    }

    FUZZ_ASSERT(json_is_object(obj));

    for (i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
        if (ovsa_json_str(obj, strs[i].name, i == 0, strs[i].kind, &s, &re)
            != 0)
        {
            fuzz_refused(&re, strs[i].name);
            FUZZ_ASSERT(s == NULL);
            continue;
        }

        if (s == NULL) {
            continue;
        }

        FUZZ_ASSERT(strlen(s) > 0);
        switch (strs[i].kind) {
        case OVSA_STR_ID:
            FUZZ_ASSERT(ovsa_license_id_valid(s));
            break;
        case OVSA_STR_TEXT:
            FUZZ_ASSERT(ovsa_policy_text_ok(s));
            break;
        default:
            FUZZ_ASSERT(strlen(s) == OVSA_LEASE_ID_LEN);
        }
    }

    if (ovsa_json_int(obj, "version", 0, 0, 1L << 53, 0, &v, &re) != 0) {
        fuzz_refused(&re, "version");
    } else {
        FUZZ_ASSERT(v >= 0 && v <= 1L << 53);
    }

    if (ovsa_json_bool(obj, "all", 0, &b, &re) != 0) {
        fuzz_refused(&re, "all");
    } else {
        FUZZ_ASSERT(b == 0 || b == 1);
    }

    json_decref(obj);
    return 0;
}
