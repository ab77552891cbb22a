/*
 * unit_test.c: cmocka unit tests of the pure parts of ovsa-backend:
 * policy.c (answer codes, valid_until, identifiers, license records) and
 * json.c (request validation).  Run by t/010-unit.t.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "json.h"
#include "policy.h"

#define PIN_A "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
#define PIN_B "sha256//BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB="


static void
test_codes(void **state)
{
    const ovsa_policy_code_t  *c;

    c = ovsa_policy_code("OK");
    assert_non_null(c);
    assert_int_equal(c->status, 200);
    assert_string_equal(c->verdict, "valid");

    assert_int_equal(ovsa_policy_code("LICENSE_REVOKED")->status, 403);
    assert_int_equal(ovsa_policy_code("NO_SEATS")->status, 409);
    assert_int_equal(ovsa_policy_code("MAX_ACTIVATIONS")->status, 409);
    assert_int_equal(ovsa_policy_code("UNKNOWN_LICENSE")->status, 404);
    assert_int_equal(ovsa_policy_code("BODY_TOO_LARGE")->status, 413);
    assert_int_equal(ovsa_policy_code("STORE_UNAVAILABLE")->status, 503);
    assert_int_equal(ovsa_policy_code("BAD_FIELD")->status, 400);
    assert_string_equal(ovsa_policy_code("BAD_FIELD")->verdict, "error");
    assert_string_equal(ovsa_policy_code("USAGE_EXHAUSTED")->verdict,
                        "denied");
    assert_null(ovsa_policy_code("NO_SUCH_CODE"));
    assert_null(ovsa_policy_code(NULL));
}


static void
test_valid_until(void **state)
{
    /* sync bound only */
    assert_int_equal(ovsa_policy_valid_until(1000, 300, 0, 0), 1300);
    /* expiry earlier than the sync bound */
    assert_int_equal(ovsa_policy_valid_until(1000, 300, 1100, 0), 1100);
    /* expiry later: sync bound wins */
    assert_int_equal(ovsa_policy_valid_until(1000, 300, 5000, 0), 1300);
    /* lease expiry earliest */
    assert_int_equal(ovsa_policy_valid_until(1000, 300, 1200, 1050), 1050);
    /* lease later than expiry */
    assert_int_equal(ovsa_policy_valid_until(1000, 300, 1200, 1250), 1200);
}


static void
test_identifiers(void **state)
{
    char  big[OVSA_ID_MAX + 2];

    assert_true(ovsa_policy_id_ok("lic-001.a_b"));
    assert_false(ovsa_policy_id_ok(""));
    assert_false(ovsa_policy_id_ok("a b"));
    assert_false(ovsa_policy_id_ok("a/b"));
    assert_false(ovsa_policy_id_ok("a:b"));
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_false(ovsa_policy_id_ok(big));
    big[OVSA_ID_MAX] = '\0';
    assert_true(ovsa_policy_id_ok(big));

    assert_true(ovsa_policy_text_ok("host 1 / eth0 = 00:11"));
    assert_false(ovsa_policy_text_ok(""));
    assert_false(ovsa_policy_text_ok("tab\there"));
    assert_false(ovsa_policy_text_ok("caf\xc3\xa9"));

    assert_true(ovsa_policy_hex_ok("00ff", 4));
    assert_false(ovsa_policy_hex_ok("00fg", 4));
    assert_false(ovsa_policy_hex_ok("00ff0", 4));

    assert_true(ovsa_policy_pin_ok(PIN_A));
    assert_false(ovsa_policy_pin_ok("sha1//AAAA"));
    assert_false(ovsa_policy_pin_ok("sha256//AAAA="));
    assert_false(ovsa_policy_pin_ok(
        "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA*="));

    assert_true(ovsa_policy_type_ok("floating"));
    assert_false(ovsa_policy_type_ok("Floating"));
}


/* A valid payload of the given type, with the limits it needs. */
static json_t *
payload(const char *type)
{
    json_t  *p;

    p = json_pack("{si ss si si s{ss sn} ss ss s{si si si si} sb si sn"
                  " s[{ss s{ss ss}}]}",
                  "ovsa", 1, "license_id", "L1", "version", 3,
                  "issued_at", 1700000000,
                  "customer", "name", "ACME", "cert_sha256",
                  "product", "P", "type", type,
                  "limits", "usage", 10, "max_activations", 2, "seats", 5,
                  "lease_seconds", 60,
                  "require_hardware_key", 0, "sync_interval", 600,
                  "expires_at",
                  "servers", "url", "https://a.example",
                  "pins", "current", PIN_A, "future", PIN_B);
    assert_non_null(p);

    if (strcmp(type, "time-limited") == 0) {
        json_object_set_new(p, "expires_at", json_integer(1900000000));
    }

    return p;
}


static void
test_record_ok(void **state)
{
    json_t         *p;
    ovsa_err_t      err;
    ovsa_record_t   rec;

    p = payload("floating");
    json_object_set_new(json_object_get(p, "customer"), "cert_sha256",
        json_string("ABCDEF0123456789ABCDEF0123456789"
                    "ABCDEF0123456789ABCDEF0123456789"));

    assert_int_equal(ovsa_policy_record(p, &rec, &err), 0);
    assert_string_equal(rec.id, "L1");
    assert_int_equal(rec.version, 3);
    assert_string_equal(rec.type, "floating");
    assert_int_equal(rec.seats, 5);
    assert_int_equal(rec.lease_seconds, 60);
    assert_int_equal(rec.sync_interval, 600);
    assert_int_equal(rec.expires_at, 0);
    assert_string_equal(rec.cert, "abcdef0123456789abcdef0123456789"
                                  "abcdef0123456789abcdef0123456789");
    assert_string_equal(rec.pins, PIN_A " " PIN_B);
    json_decref(p);

    p = payload("time-limited");
    assert_int_equal(ovsa_policy_record(p, &rec, &err), 0);
    assert_int_equal(rec.expires_at, 1900000000);
    json_decref(p);
}


/* Asserts that p is refused with a message containing needle. */
static void
refused(json_t *p, const char *needle)
{
    ovsa_err_t     err;
    ovsa_record_t  rec;

    memset(&err, 0, sizeof(err));
    assert_int_equal(ovsa_policy_record(p, &rec, &err), -1);
    assert_int_equal(err.code, OVSA_E_LIC_FIELD);
    if (strstr(err.msg, needle) == NULL) {
        fail_msg("message \"%s\" lacks \"%s\"", err.msg, needle);
    }
    json_decref(p);
}


static void
test_record_refused(void **state)
{
    json_t  *p;

    p = payload("perpetual");
    json_object_set_new(p, "sync_interval", json_integer(299));
    refused(p, "sync_interval");

    p = payload("perpetual");
    json_object_set_new(p, "sync_interval", json_integer(86401));
    refused(p, "sync_interval");

    p = payload("perpetual");
    json_object_set_new(p, "type", json_string("trial"));
    refused(p, "type");

    p = payload("perpetual");
    json_object_set_new(p, "expires_at", json_integer(1900000000));
    refused(p, "perpetual");

    refused(json_pack("{}"), "ovsa");

    p = payload("time-limited");
    json_object_set_new(p, "expires_at", json_null());
    refused(p, "time-limited");

    p = payload("usage-count");
    json_object_set_new(json_object_get(p, "limits"), "usage",
                        json_integer(0));
    refused(p, "limits.usage");

    p = payload("node-locked");
    json_object_del(json_object_get(p, "limits"), "max_activations");
    refused(p, "max_activations");

    p = payload("floating");
    json_object_set_new(json_object_get(p, "limits"), "seats",
                        json_integer(0));
    refused(p, "seats");

    p = payload("floating");
    json_object_set_new(json_object_get(p, "limits"), "seats",
                        json_string("5"));
    refused(p, "limits.seats");

    p = payload("perpetual");
    json_object_set_new(json_object_get(p, "customer"), "cert_sha256",
                        json_string("abc"));
    refused(p, "customer.cert_sha256");

    p = payload("perpetual");
    json_object_set_new(json_object_get(json_array_get(
        json_object_get(p, "servers"), 0), "pins"), "current",
        json_string("sha256//short"));
    refused(p, "servers[0].pins");

    p = payload("perpetual");
    json_object_set_new(p, "license_id", json_string("bad id"));
    refused(p, "license_id");
}


static void
test_json(void **state)
{
    long           l;
    int            b;
    json_t        *o;
    const char    *s;
    ovsa_reqerr_t  re;

    assert_null(ovsa_json_object("{", 1, &re));
    assert_string_equal(re.code, "BAD_JSON");
    assert_null(ovsa_json_object("[1]", 3, &re));
    assert_string_equal(re.code, "BAD_JSON");
    assert_null(ovsa_json_object("{\"a\":1,\"a\":2}", 13, &re));
    assert_string_equal(re.code, "BAD_JSON");

    /* jansson refuses \u0000 inside strings: no NUL reaches Redis */
    assert_null(ovsa_json_object("{\"z\":\"a\\u0000b\"}", 15, &re));
    assert_string_equal(re.code, "BAD_JSON");

    s = "{\"id\":\"L1\",\"n\":5,\"b\":true,\"x\":null,\"h\":\"tab\\there\"}";
    o = ovsa_json_object(s, strlen(s), &re);
    assert_non_null(o);

    assert_int_equal(ovsa_json_str(o, "id", 1, OVSA_STR_ID, &s, &re), 0);
    assert_string_equal(s, "L1");

    assert_int_equal(ovsa_json_str(o, "x", 0, OVSA_STR_ID, &s, &re), 0);
    assert_null(s);

    assert_int_equal(ovsa_json_str(o, "x", 1, OVSA_STR_ID, &s, &re), -1);
    assert_string_equal(re.code, "BAD_FIELD");
    assert_string_equal(re.field, "x");

    assert_int_equal(ovsa_json_str(o, "n", 1, OVSA_STR_ID, &s, &re), -1);
    assert_string_equal(re.field, "n");

    assert_int_equal(ovsa_json_str(o, "h", 1, OVSA_STR_TEXT, &s, &re), -1);

    assert_int_equal(ovsa_json_str(o, "id", 1, OVSA_STR_LEASE, &s, &re), -1);

    assert_int_equal(ovsa_json_int(o, "n", 1, 0, 10, 0, &l, &re), 0);
    assert_int_equal(l, 5);
    assert_int_equal(ovsa_json_int(o, "n", 1, 6, 10, 0, &l, &re), -1);
    assert_int_equal(ovsa_json_int(o, "id", 1, 0, 10, 0, &l, &re), -1);
    assert_int_equal(ovsa_json_int(o, "missing", 0, 0, 10, 7, &l, &re), 0);
    assert_int_equal(l, 7);

    assert_int_equal(ovsa_json_bool(o, "b", 1, &b, &re), 0);
    assert_int_equal(b, 1);
    assert_int_equal(ovsa_json_bool(o, "n", 1, &b, &re), -1);

    json_decref(o);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_codes),
        cmocka_unit_test(test_valid_until),
        cmocka_unit_test(test_identifiers),
        cmocka_unit_test(test_record_ok),
        cmocka_unit_test(test_record_refused),
        cmocka_unit_test(test_json),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
