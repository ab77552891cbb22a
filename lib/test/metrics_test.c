/*
 * metrics_test.c: cmocka tests of lib/ovsa_metrics.c: bucket choice at
 * the bounds, a cumulative histogram in the text format, and a buffer
 * that overflows stops cleanly and says so.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ovsa_metrics.h"


static void
test_bucket(void **state)
{
    (void) state;

    assert_int_equal(ovsa_metrics_bucket(0), 0);
    assert_int_equal(ovsa_metrics_bucket(100), 0);
    assert_int_equal(ovsa_metrics_bucket(101), 1);
    assert_int_equal(ovsa_metrics_bucket(1000), 3);
    assert_int_equal(ovsa_metrics_bucket(2500000), OVSA_METRICS_NBUCKETS - 1);
    assert_int_equal(ovsa_metrics_bucket(2500001), OVSA_METRICS_NBUCKETS);
}


static void
test_histogram(void **state)
{
    char         text[4096];
    uint64_t     counts[OVSA_METRICS_NBUCKETS + 1];
    ovsa_mbuf_t  b = { text, sizeof(text), 0, 0 };

    (void) state;

    memset(counts, 0, sizeof(counts));
    counts[ovsa_metrics_bucket(50)]++;
    counts[ovsa_metrics_bucket(700)]++;
    counts[ovsa_metrics_bucket(9000000)]++;

    ovsa_metrics_histogram(&b, "x_seconds", "op=\"check\"", counts, 9000750);

    assert_false(b.full);
    assert_non_null(strstr(text, "x_seconds_bucket{op=\"check\",le=\"0.0001\"}"
                                 " 1\n"));
    assert_non_null(strstr(text, "x_seconds_bucket{op=\"check\",le=\"0.00025\"}"
                                 " 1\n"));
    assert_non_null(strstr(text, "x_seconds_bucket{op=\"check\",le=\"0.001\"}"
                                 " 2\n"));
    assert_non_null(strstr(text, "x_seconds_bucket{op=\"check\",le=\"2.5\"}"
                                 " 2\n"));
    assert_non_null(strstr(text, "x_seconds_bucket{op=\"check\",le=\"+Inf\"}"
                                 " 3\n"));
    assert_non_null(strstr(text, "x_seconds_sum{op=\"check\"} 9.000750\n"));
    assert_non_null(strstr(text, "x_seconds_count{op=\"check\"} 3\n"));

    b.len = 0;
    ovsa_metrics_histogram(&b, "y", "", counts, 0);
    assert_non_null(strstr(text, "y_bucket{le=\"+Inf\"} 3\ny_sum 0.000000\n"
                                 "y_count 3\n"));
}


static void
test_overflow(void **state)
{
    char         text[16];
    ovsa_mbuf_t  b = { text, sizeof(text), 0, 0 };

    (void) state;

    ovsa_mbuf_printf(&b, "%s", "0123456789");
    assert_false(b.full);
    ovsa_mbuf_printf(&b, "%s", "0123456789");
    assert_true(b.full);
    assert_int_equal(b.len, 10);
    assert_string_equal(text, "0123456789");
    ovsa_mbuf_printf(&b, "x");
    assert_int_equal(b.len, 10);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_bucket),
        cmocka_unit_test(test_histogram),
        cmocka_unit_test(test_overflow),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
