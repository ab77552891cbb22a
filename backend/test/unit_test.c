/*
 * unit_test.c: cmocka unit tests of the pure parts of ovsa-backend:
 * policy.c (answer codes, valid_until, the backend's own identifiers),
 * json.c (request validation, license ids by lib's rule) and license.c's
 * record (what an import stores from the license lib parsed) and
 * store_cluster.c's key slots (CRC16, hash tags) and redirections.  Run
 * by t/010-unit.t.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json.h"
#include "license.h"
#include "ovsa_pin.h"
#include "policy.h"
#include "store_int.h"


/* the backend's logger (http.c): store_health.c and store_sentinel.c,
 * linked here with store.c for the key slots, log through it */
void
ovsa_log(const char *level, const char *fmt, ...)
{
    (void) level;
    (void) fmt;
}

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
    assert_int_equal(ovsa_policy_code("STORE_NOT_DURABLE")->status, 503);
    assert_int_equal(ovsa_policy_code("BAD_FIELD")->status, 400);
    assert_string_equal(ovsa_policy_code("BAD_FIELD")->verdict, "error");
    assert_string_equal(ovsa_policy_code("USAGE_EXHAUSTED")->verdict,
                        "denied");
    assert_null(ovsa_policy_code("NO_SUCH_CODE"));
    assert_null(ovsa_policy_code(NULL));
}


/* 16c: the metrics walk the table by index: every entry, then NULL */
static void
test_code_at(void **state)
{
    size_t                     i;
    const ovsa_policy_code_t  *c;

    assert_string_equal(ovsa_policy_code_at(0)->code, "OK");

    for (i = 0; (c = ovsa_policy_code_at(i)) != NULL; i++) {
        assert_ptr_equal(ovsa_policy_code(c->code), c);
    }

    assert_true(i > 30);
    assert_null(ovsa_policy_code_at(i + 1));
    assert_null(ovsa_policy_code_at((size_t) -1));
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
    assert_true(ovsa_policy_text_ok("host 1 / eth0 = 00:11"));
    assert_false(ovsa_policy_text_ok(""));
    assert_false(ovsa_policy_text_ok("tab\there"));
    assert_false(ovsa_policy_text_ok("caf\xc3\xa9"));

    assert_true(ovsa_policy_hex_ok("00ff", 4));
    assert_false(ovsa_policy_hex_ok("00fg", 4));
    assert_false(ovsa_policy_hex_ok("00ff0", 4));
}


/* license_id and request_id follow lib's license-id rule exactly. */
static void
test_request_ids(void **state)
{
    char           body[512], id[OVSA_LICENSE_ID_MAX + 2];
    json_t        *o;
    const char    *s;
    ovsa_reqerr_t  re;
    size_t         i;
    static const struct {
        const char  *id;
        int          ok;
    } rows[] = {
        { "lic-001.a_B", 1 }, { "a b", 0 }, { "a/b", 0 }, { "a:b", 0 },
        { "caf\xc3\xa9", 0 }, { "", 0 }
    };

    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        snprintf(body, sizeof(body), "{\"license_id\":\"%s\"}", rows[i].id);
        o = ovsa_json_object(body, strlen(body), &re);
        assert_non_null(o);
        assert_int_equal(ovsa_license_id_valid(rows[i].id), rows[i].ok);
        assert_int_equal(ovsa_json_str(o, "license_id", 1, OVSA_STR_ID, &s,
                                       &re), rows[i].ok ? 0 : -1);
        json_decref(o);
    }

    /* the length bound is lib's OVSA_LICENSE_ID_MAX */
    memset(id, 'x', sizeof(id) - 1);
    id[sizeof(id) - 1] = '\0';
    for (i = OVSA_LICENSE_ID_MAX; i <= OVSA_LICENSE_ID_MAX + 1; i++) {
        id[i] = '\0';
        snprintf(body, sizeof(body), "{\"request_id\":\"%s\"}", id);
        o = ovsa_json_object(body, strlen(body), &re);
        assert_int_equal(ovsa_json_str(o, "request_id", 1, OVSA_STR_ID, &s,
                                       &re),
                         i == OVSA_LICENSE_ID_MAX ? 0 : -1);
        json_decref(o);
        id[i] = 'x';
    }
    assert_string_equal(re.field, "request_id");
}


/* A license as lib's parser returns it, with n servers. */
static ovsa_license_t *
parsed(ovsa_license_type_t type, size_t n)
{
    size_t           i;
    char             url[64];
    ovsa_license_t  *lic;

    lic = calloc(1, sizeof(*lic));
    assert_non_null(lic);
    lic->id = strdup("L1");
    lic->version = 3;
    lic->issued_at = 1700000000;
    lic->customer_name = strdup("M\xc3\xbcller & S\xc3\xb6hne GmbH");
    lic->product = strdup("\xe9\xa1\x94 \xce\xa9");
    lic->type = type;
    lic->limits.seats = 5;
    lic->limits.lease_seconds = 60;
    lic->sync_interval = 600;
    lic->deactivations = -1;
    lic->deactivation_period = -1;
    lic->servers = calloc(n, sizeof(ovsa_license_server_t));
    assert_non_null(lic->servers);
    lic->nservers = n;

    for (i = 0; i < n; i++) {
        snprintf(url, sizeof(url), "https://ls%zu.example", i);
        lic->servers[i].url = strdup(url);
        lic->servers[i].pins[0] = strdup(i % 2 ? PIN_B : PIN_A);
        lic->servers[i].npins = 1;
        if (i % 3 == 0) {
            lic->servers[i].pins[1] = strdup(PIN_B);
            lic->servers[i].npins = 2;
        }
    }

    return lic;
}


/* The value of field in the import arguments, or NULL. */
static const char *
arg(const ovsa_import_t *imp, const char *field)
{
    int  i;

    for (i = 2; i + 1 < imp->nargs; i += 2) {
        if (strcmp(imp->args[i], field) == 0) {
            return imp->args[i + 1];
        }
    }

    return NULL;
}


static void
test_record(void **state)
{
    size_t         i, j;
    char           want[8192];
    ovsa_err_t     err;
    ovsa_import_t  imp;

    /* a perpetual license with an expiry stores it: it is enforced */
    memset(&imp, 0, sizeof(imp));
    imp.lic = parsed(OVSA_LIC_PERPETUAL, 1);
    imp.lic->expires_at = 1900000000;
    imp.jws = strdup("{\"payload\":\"x\"}");
    assert_int_equal(ovsa_import_record(&imp, &err), OVSA_OK);
    assert_int_equal(imp.nargs, OVSA_IMPORT_NARGS);
    assert_string_equal(imp.args[0], "3");
    assert_string_equal(imp.args[1], "L1");
    assert_string_equal(arg(&imp, "id"), "L1");
    assert_string_equal(arg(&imp, "ver"), "3");
    assert_string_equal(arg(&imp, "type"), "perpetual");
    assert_string_equal(arg(&imp, "exp"), "1900000000");
    assert_string_equal(arg(&imp, "usage"), "0");
    assert_string_equal(arg(&imp, "seats"), "5");
    assert_string_equal(arg(&imp, "lease_s"), "60");
    assert_string_equal(arg(&imp, "hwreq"), "0");
    assert_string_equal(arg(&imp, "sync"), "600");
    assert_string_equal(arg(&imp, "issued"), "1700000000");
    assert_string_equal(arg(&imp, "cert"), "");
    assert_string_equal(arg(&imp, "secret"), "");
    assert_string_equal(arg(&imp, "deact"), "");
    assert_string_equal(arg(&imp, "deact_s"), "");
    assert_string_equal(arg(&imp, "pins"), PIN_A " " PIN_B);
    assert_string_equal(arg(&imp, "customer"),
                        "M\xc3\xbcller & S\xc3\xb6hne GmbH");
    assert_string_equal(arg(&imp, "product"), "\xe9\xa1\x94 \xce\xa9");
    assert_string_equal(arg(&imp, "jws"), "{\"payload\":\"x\"}");
    ovsa_import_free(&imp);
    assert_null(imp.lic);

    /* without an expiry: 0; every pin of 12 servers, in order */
    imp.lic = parsed(OVSA_LIC_FLOATING, 12);
    imp.lic->customer_cert_sha256 = strdup("abcdef0123456789abcdef0123456789"
                                           "abcdef0123456789abcdef0123456789");
    imp.lic->require_hardware_key = 1;
    strcpy(imp.lic->secret_sha256, "78f595e2df3866a1153f4d1760a5566a"
                                   "2744777cad8900dee0f9c28a24339cbc");
    imp.lic->deactivations = 0;
    imp.lic->deactivation_period = 31536000;
    imp.jws = strdup("{}");
    assert_int_equal(ovsa_import_record(&imp, &err), OVSA_OK);
    assert_int_equal(imp.nargs, OVSA_IMPORT_NARGS);
    assert_string_equal(arg(&imp, "secret"), imp.lic->secret_sha256);
    assert_string_equal(arg(&imp, "deact"), "0");
    assert_string_equal(arg(&imp, "deact_s"), "31536000");
    assert_string_equal(arg(&imp, "type"), "floating");
    assert_string_equal(arg(&imp, "exp"), "0");
    assert_string_equal(arg(&imp, "hwreq"), "1");
    assert_string_equal(arg(&imp, "cert"), imp.lic->customer_cert_sha256);
    want[0] = '\0';
    for (i = 0; i < 12; i++) {
        snprintf(want + strlen(want), sizeof(want) - strlen(want), "%s%s%s%s",
                 i ? " " : "", i % 2 ? PIN_B : PIN_A,
                 i % 3 == 0 ? " " : "", i % 3 == 0 ? PIN_B : "");
    }
    assert_string_equal(arg(&imp, "pins"), want);
    ovsa_import_free(&imp);

    /* 12c: the largest record, 16 servers of 8 pins each (format 2) */
    imp.lic = parsed(OVSA_LIC_FLOATING, OVSA_LICENSE_MAX_SERVERS);
    imp.lic->format = OVSA_LICENSE_FORMAT_SET;
    strcpy(imp.lic->secret_sha256, "78f595e2df3866a1153f4d1760a5566a"
                                   "2744777cad8900dee0f9c28a24339cbc");
    want[0] = '\0';
    for (i = 0; i < OVSA_LICENSE_MAX_SERVERS; i++) {
        ovsa_license_server_t  *s = &imp.lic->servers[i];

        for (j = 0; j < s->npins; j++) {
            free(s->pins[j]);
        }
        for (j = 0; j < OVSA_LICENSE_MAX_PINS; j++) {
            s->pins[j] = strdup(j % 2 ? PIN_B : PIN_A);
            snprintf(want + strlen(want), sizeof(want) - strlen(want),
                     "%s%s", i + j ? " " : "", j % 2 ? PIN_B : PIN_A);
        }
        s->npins = OVSA_LICENSE_MAX_PINS;
    }
    imp.jws = strdup("{}");
    assert_int_equal(ovsa_import_record(&imp, &err), OVSA_OK);
    assert_string_equal(arg(&imp, "pins"), want);
    assert_int_equal(strlen(want), OVSA_LICENSE_MAX_SERVERS
                     * OVSA_LICENSE_MAX_PINS * (OVSA_PIN_LEN + 1) - 1);
    ovsa_import_free(&imp);
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


/*
 * Key slots as Redis computes them: the expected values are what
 * redis-server 7.0 answered to CLUSTER KEYSLOT for the same keys.
 */
static void
test_cluster_slot(void **state)
{
    static const struct {
        const char  *key;
        unsigned     slot;
    } v[] = {
        { "foo", 12182 },
        { "123456789", 12739 },         /* CRC16 check value 0x31c3 */
        { "ovsa:lic:{U1}", 5944 },
        { "ovsa:req:{U1}:abc", 5944 },  /* same tag, same slot */
        { "foo{}{bar}", 8363 },         /* empty tag: the whole key */
        { "foo{{bar}}zap", 4015 },      /* tag "{bar" */
        { "foo{bar}{zap}", 5061 },      /* first tag only: "bar" */
        { "{", 4092 },
        { "a{b", 13340 },               /* no "}": the whole key */
        { "ovsa:licenses", 10901 },
        { "x{}", 2608 },
    };

    size_t  i;

    assert_int_equal(ovsa_cluster_crc16("123456789", 9), 0x31c3);
    assert_int_equal(ovsa_cluster_crc16("", 0), 0);

    for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        assert_int_equal(ovsa_cluster_keyslot(v[i].key, strlen(v[i].key)),
                         v[i].slot);
    }

    assert_int_equal(ovsa_cluster_keyslot("bar", 3),
                     ovsa_cluster_keyslot("foo{bar}{zap}", 13));
}


/* An error reply as hiredis makes it. */
static redisReply *
error_reply(const char *text)
{
    static redisReply  r;

    memset(&r, 0, sizeof(r));
    r.type = REDIS_REPLY_ERROR;
    r.str = (char *) text;
    r.len = strlen(text);

    return &r;
}


/*
 * The redirections store.c hands to store_cluster.c: what is retried,
 * where, and where it gives up.  The nodes named are not reachable
 * (port 1): a MOVED's map refresh fails and the redirection still holds.
 */
static void
test_cluster_redirect(void **state)
{
    int                   i;
    redisReply            ok;
    ovsa_err_t            err;
    ovsa_store_conf_t     sc;
    ovsa_cluster_route_t  rt = OVSA_CLUSTER_ROUTE_INIT;
    ovsa_cluster_route_t  fresh = OVSA_CLUSTER_ROUTE_INIT;

    memset(&sc, 0, sizeof(sc));
    sc.address = "127.0.0.1:1";
    sc.prefix = "ovsa:";
    sc.timeout_ms = 100;
    sc.cluster = 1;
    assert_int_equal(ovsa_store_init(&sc, &err), OVSA_OK);

    /* not redirections: the caller answers them */
    memset(&ok, 0, sizeof(ok));
    ok.type = REDIS_REPLY_STRING;
    assert_int_equal(ovsa_cluster_redirect(&rt, &ok, &err), 0);
    assert_int_equal(ovsa_cluster_redirect(&rt,
        error_reply("CLUSTERDOWN The cluster is down"), &err), 0);
    assert_int_equal(ovsa_cluster_redirect(&rt,
        error_reply("ERR Error running script"), &err), 0);
    assert_int_equal(ovsa_cluster_redirect(&rt,
        error_reply("MOVEDX 1 a:1"), &err), 0);

    /* ASK: the next attempt goes to the named node, once per attempt */
    assert_int_equal(ovsa_cluster_redirect(&rt,
        error_reply("ASK 5944 127.0.0.1:7001"), &err), 1);
    assert_true(rt.ask >= 0);
    assert_int_equal(rt.redirects, 1);

    /* MOVED: the map changes, the ASK is over */
    assert_int_equal(ovsa_cluster_redirect(&rt,
        error_reply("MOVED 5944 127.0.0.1:7002"), &err), 1);
    assert_int_equal(rt.ask, -1);
    assert_int_equal(rt.redirects, 2);

    /* at most 5 redirections per command */
    for (i = 3; i <= 5; i++) {
        assert_int_equal(ovsa_cluster_redirect(&rt,
            error_reply("MOVED 5944 127.0.0.1:7002"), &err), 1);
    }
    assert_int_equal(ovsa_cluster_redirect(&rt,
        error_reply("MOVED 5944 127.0.0.1:7002"), &err), -1);
    assert_int_equal(err.code, OVSA_E_TRANSPORT);

    /* malformed: given up, never sent anywhere */
    rt = fresh;
    assert_int_equal(ovsa_cluster_redirect(&rt,
        error_reply("MOVED 99999 127.0.0.1:7002"), &err), -1);
    rt = fresh;
    assert_int_equal(ovsa_cluster_redirect(&rt,
        error_reply("ASK x 127.0.0.1:7002"), &err), -1);

    /* TRYAGAIN: 20 retries with a backoff (about 0.9 s), then 503 */
    rt = fresh;
    for (i = 0; i < 20; i++) {
        assert_int_equal(ovsa_cluster_redirect(&rt,
            error_reply("TRYAGAIN Multiple keys request during rehashing "
                        "of slot"), &err), 1);
    }
    assert_int_equal(ovsa_cluster_redirect(&rt,
        error_reply("TRYAGAIN Multiple keys request"), &err), -1);
    assert_int_equal(err.code, OVSA_E_TRANSPORT);
    assert_int_equal(rt.redirects, 0);

    ovsa_store_close();
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_codes),
        cmocka_unit_test(test_code_at),
        cmocka_unit_test(test_valid_until),
        cmocka_unit_test(test_identifiers),
        cmocka_unit_test(test_request_ids),
        cmocka_unit_test(test_record),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_cluster_slot),
        cmocka_unit_test(test_cluster_redirect),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
