/*
 * fuzz_license_rt.c: license round trip.  The input is a payload (JSON
 * text); ovsatool's path signs it with an ISV key made at start.  When
 * signing succeeds, parsing the license must succeed and give back every
 * field of the payload; the same license with a non-canonical signature
 * (other unused bits in its last character) must not parse.  When signing
 * fails, it is for a payload rule, with a license error code.  The first
 * byte picks the key: Ed25519 or P-256.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fuzz_util.h"
#include "ovsa_license.h"

static EVP_PKEY  *fuzz_isv_key[2];
static X509      *fuzz_isv_cert[2];


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_isv_key[0] = fuzz_key("ED25519");
    fuzz_isv_key[1] = fuzz_key("P-256");
    fuzz_isv_cert[0] = fuzz_cert(fuzz_isv_key[0], "fuzz ISV ed25519");
    fuzz_isv_cert[1] = fuzz_cert(fuzz_isv_key[1], "fuzz ISV p256");
    return 0;
}


/* the integer at key of obj, 0 for null */
static int64_t
fuzz_int(json_t *obj, const char *key)
{
    json_t  *v;

    v = json_object_get(obj, key);
    FUZZ_ASSERT(v != NULL && (json_is_integer(v) || json_is_null(v)));
    return json_is_null(v) ? 0 : json_integer_value(v);
}


/* the string at key of obj equals s (NULL for null) */
static void
fuzz_str_eq(json_t *obj, const char *key, const char *s)
{
    json_t  *v;

    v = json_object_get(obj, key);
    FUZZ_ASSERT(v != NULL);
    if (s == NULL) {
        FUZZ_ASSERT(json_is_null(v));
    } else {
        FUZZ_ASSERT(json_is_string(v) && strcmp(json_string_value(v), s) == 0);
    }
}


static void
fuzz_compare(const ovsa_license_t *lic, json_t *p)
{
    size_t   i, j;
    json_t  *c, *l, *s, *pins;

    FUZZ_ASSERT(fuzz_int(p, "ovsa") == lic->format);
    fuzz_str_eq(p, "license_id", lic->id);
    FUZZ_ASSERT(fuzz_int(p, "version") == lic->version);
    FUZZ_ASSERT(fuzz_int(p, "issued_at") == lic->issued_at);

    c = json_object_get(p, "customer");
    fuzz_str_eq(c, "name", lic->customer_name);
    fuzz_str_eq(c, "cert_sha256", lic->customer_cert_sha256);
    fuzz_str_eq(c, "secret_sha256", lic->secret_sha256[0] != '\0'
                                    ? lic->secret_sha256 : NULL);
    FUZZ_ASSERT(lic->customer_cert_sha256 != NULL
                || lic->secret_sha256[0] != '\0');

    fuzz_str_eq(p, "product", lic->product);
    fuzz_str_eq(p, "type", ovsa_license_type_name(lic->type));

    l = json_object_get(p, "limits");
    FUZZ_ASSERT(fuzz_int(l, "usage") == lic->limits.usage);
    FUZZ_ASSERT(fuzz_int(l, "max_activations")
                == lic->limits.max_activations);
    FUZZ_ASSERT(fuzz_int(l, "seats") == lic->limits.seats);
    FUZZ_ASSERT(fuzz_int(l, "lease_seconds") == lic->limits.lease_seconds);
    FUZZ_ASSERT(json_is_null(json_object_get(l, "deactivations"))
                ? lic->deactivations == -1
                : fuzz_int(l, "deactivations") == lic->deactivations);
    FUZZ_ASSERT(json_is_null(json_object_get(l, "deactivation_period"))
                ? lic->deactivation_period == -1
                : fuzz_int(l, "deactivation_period")
                  == lic->deactivation_period);

    FUZZ_ASSERT(json_is_true(json_object_get(p, "require_hardware_key"))
                == lic->require_hardware_key);
    FUZZ_ASSERT(fuzz_int(p, "sync_interval") == lic->sync_interval);
    FUZZ_ASSERT(fuzz_int(p, "expires_at") == lic->expires_at);

    s = json_object_get(p, "servers");
    FUZZ_ASSERT(json_array_size(s) == lic->nservers);
    for (i = 0; i < lic->nservers; i++) {
        fuzz_str_eq(json_array_get(s, i), "url", lic->servers[i].url);
        pins = json_object_get(json_array_get(s, i), "pins");
        if (lic->format == OVSA_LICENSE_FORMAT_SET) {
            FUZZ_ASSERT(json_array_size(pins) == lic->servers[i].npins);
            for (j = 0; j < lic->servers[i].npins; j++) {
                FUZZ_ASSERT(strcmp(json_string_value(json_array_get(pins, j)),
                                   lic->servers[i].pins[j]) == 0);
            }
            continue;
        }
        fuzz_str_eq(pins, "current", lic->servers[i].pins[0]);
        if (lic->servers[i].npins == 2) {
            fuzz_str_eq(pins, "future", lic->servers[i].pins[1]);
        }
    }
}


/* the base64url character whose value differs from c's in the last bit */
static char
fuzz_b64url_flip(char c)
{
    static const char  alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                 "abcdefghijklmnopqrstuvwxyz0123456789-_";
    const char        *p;

    p = strchr(alpha, c);
    FUZZ_ASSERT(p != NULL && c != '\0');
    return alpha[(p - alpha) ^ 1];
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int              k, rc;
    char            *text, *jws, *sig;
    json_t          *p, *j, *payload;
    size_t           n;
    ovsa_err_t       err;
    json_error_t     jerr;
    ovsa_license_t  *lic;

    if (size < 1) {
        return 0;
    }

    k = data[0] & 1;
    text = fuzz_field(&data, &size, -1, NULL);      /* a C string copy */
    jws = NULL;

    ovsa_err_clear(&err);
    rc = ovsa_license_sign(text + 1, fuzz_isv_key[k], fuzz_isv_cert[k], &jws,
                           &err);
    if (rc != OVSA_OK) {
        FUZZ_ASSERT(jws == NULL);
        FUZZ_ASSERT((err.code >= OVSA_E_LIC_SYNTAX
                     && err.code <= OVSA_E_LIC_URL)
                    || err.code == OVSA_E_LIC_CREDENTIAL
                    || err.code == OVSA_E_LIC_PIN_SET);
        FUZZ_ASSERT(err.code != OVSA_E_LIC_SIGNATURE);
        free(text);
        return 0;
    }

    FUZZ_ASSERT(ovsa_license_parse(jws, strlen(jws), &lic, &err) == OVSA_OK);

    /* every field comes back; the payload is the same JSON value */
    p = json_loads(text + 1, JSON_REJECT_DUPLICATES, &jerr);
    FUZZ_ASSERT(p != NULL);
    fuzz_compare(lic, p);
    payload = json_loads(lic->payload, 0, &jerr);
    FUZZ_ASSERT(payload != NULL && json_equal(payload, p));
    FUZZ_ASSERT(strcmp(lic->jws, jws) == 0);
    FUZZ_ASSERT(X509_cmp(lic->signer, fuzz_isv_cert[k]) == 0);
    ovsa_license_free(lic);
    json_decref(payload);
    json_decref(p);

    /* the signature spelt with other unused bits is refused */
    j = json_loads(jws, 0, &jerr);
    FUZZ_ASSERT(j != NULL);
    sig = strdup(json_string_value(json_object_get(j, "signature")));
    FUZZ_ASSERT(sig != NULL);
    n = strlen(sig);
    FUZZ_ASSERT(n % 4 == 2);              /* 64 bytes: 4 unused bits */
    sig[n - 1] = fuzz_b64url_flip(sig[n - 1]);
    json_object_set_new(j, "signature", json_string(sig));
    free(jws);
    jws = json_dumps(j, JSON_COMPACT);
    FUZZ_ASSERT(jws != NULL);
    FUZZ_ASSERT(ovsa_license_parse(jws, strlen(jws), &lic, &err) == OVSA_ERR
                && err.code == OVSA_E_LIC_SYNTAX);

    json_decref(j);
    free(sig);
    free(jws);
    free(text);
    return 0;
}
