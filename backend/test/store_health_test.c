/*
 * store_health_test.c: cmocka unit tests of backend/store_health.c's
 * circuit breaker and write gate (the readings of Redis's settings are
 * tested against a real redis-server by t/041-redis-durable.t).  Run by
 * t/010-unit.t.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "store_int.h"

static int   log_lines;
static char  log_last[512];


/* the backend's logger (http.c), counted here */
void
ovsa_log(const char *level, const char *fmt, ...)
{
    va_list  ap;

    va_start(ap, fmt);
    vsnprintf(log_last, sizeof(log_last), fmt, ap);
    va_end(ap);
    log_lines++;
}


static void
sleep_ms(long ms)
{
    struct timespec  ts;

    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    nanosleep(&ts, NULL);
}


static void
init(int require, int open_ms)
{
    ovsa_store_conf_t  conf;

    memset(&conf, 0, sizeof(conf));
    conf.address = "127.0.0.1:1";
    conf.require_durable = require;
    conf.breaker_open_ms = open_ms;
    ovsa_store_health_init(&conf);
}


static void
test_breaker(void **state)
{
    int         probe, probe2, not_sent;
    ovsa_err_t  err;

    init(1, 200);
    log_lines = 0;

    /* closed: admitted, not a probe */
    assert_int_equal(ovsa_store_breaker_admit("a:1", &probe, &err), OVSA_OK);
    assert_int_equal(probe, 0);
    ovsa_store_breaker_report("a:1", 1, NULL);
    assert_int_equal(log_lines, 0);

    /* the first failure opens it, logged once */
    err.code = OVSA_E_TRANSPORT;
    snprintf(err.msg, sizeof(err.msg), "redis: EVALSHA check: timeout");
    ovsa_store_breaker_report("a:1", 0, &err);
    assert_int_equal(log_lines, 1);
    assert_non_null(strstr(log_last, "circuit breaker open for 200 ms"));
    assert_non_null(strstr(log_last, "timeout"));

    /* open: refused at once, nothing sent, Retry-After >= 1 */
    assert_int_equal(ovsa_store_breaker_admit("a:1", &probe, &err), OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_TRANSPORT);
    assert_int_equal(ovsa_store_retry_after(&not_sent), 1);
    assert_int_equal(not_sent, 1);

    /* a late failure of a call already in flight does not extend it */
    ovsa_store_breaker_report("a:1", 0, &err);
    assert_int_equal(log_lines, 1);

    /* another server's breaker is its own */
    assert_int_equal(ovsa_store_breaker_admit("b:2", &probe, &err), OVSA_OK);
    assert_int_equal(ovsa_store_retry_after(&not_sent), 1);
    assert_int_equal(not_sent, 0);

    /* after breaker_open_ms: one probe, the others still refused */
    sleep_ms(250);
    assert_int_equal(ovsa_store_breaker_admit("a:1", &probe, &err), OVSA_OK);
    assert_int_equal(probe, 1);
    assert_int_equal(ovsa_store_breaker_admit("a:1", &probe2, &err),
                     OVSA_ERR);

    /* the probe fails: open again (no new "open" line: it was not closed) */
    ovsa_store_breaker_report("a:1", 0, &err);
    assert_int_equal(log_lines, 1);
    assert_int_equal(ovsa_store_breaker_admit("a:1", &probe, &err), OVSA_ERR);

    /* the next probe succeeds: closed, logged */
    sleep_ms(250);
    assert_int_equal(ovsa_store_breaker_admit("a:1", &probe, &err), OVSA_OK);
    assert_int_equal(probe, 1);
    ovsa_store_breaker_report("a:1", 1, NULL);
    assert_int_equal(log_lines, 2);
    assert_non_null(strstr(log_last, "circuit breaker closed"));
    assert_int_equal(ovsa_store_breaker_admit("a:1", &probe, &err), OVSA_OK);
    assert_int_equal(probe, 0);
}


static void
test_gate(void **state)
{
    char        why[512];
    ovsa_err_t  err;

    /* nothing read yet: refused while durability is required */
    init(1, 1000);
    assert_int_equal(ovsa_store_writable(&err), OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_STORE_NOT_DURABLE);
    ovsa_store_not_durable(why, sizeof(why));
    assert_non_null(strstr(why, "not read yet"));

    /* the explicit opt-out */
    init(0, 1000);
    assert_int_equal(ovsa_store_writable(&err), OVSA_OK);
    ovsa_store_not_durable(why, sizeof(why));
    assert_string_equal(why, "");
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_breaker),
        cmocka_unit_test(test_gate),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
