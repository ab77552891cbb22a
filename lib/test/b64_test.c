/*
 * b64_test.c: cmocka tests of lib/ovsa_b64.c: both alphabets, padding
 * rules, and canonical text only (the unused bits of the last character
 * must be zero, RFC 4648 section 3.5), so that no two texts decode to
 * the same bytes.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ovsa_b64.h"

static const char  std_alpha[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char  url_alpha[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";


/* decodes s (NUL-terminated); returns the length or -1 */
static long
dec(const char *s, int url, unsigned char *out, size_t size)
{
    size_t          n;
    unsigned char  *p;

    p = ovsa_b64_decode_alloc(s, strlen(s), url, &n);
    if (p == NULL) {
        return -1;
    }

    assert_int_equal(p[n], '\0');
    assert_true(n <= size);
    memcpy(out, p, n);
    free(p);
    return (long) n;
}


static void
test_roundtrip(void **state)
{
    int            url;
    char           text[4 * 22 + 4];
    size_t         len, i, n;
    unsigned char  in[64], out[64];

    for (i = 0; i < sizeof(in); i++) {
        in[i] = (unsigned char) (i * 37 + 11);
    }

    for (url = 0; url <= 1; url++) {
        for (len = 0; len <= sizeof(in); len++) {
            n = ovsa_b64_encode(in, len, text, url);
            assert_int_equal(n, strlen(text));
            assert_int_equal(n, url ? (len * 4 + 2) / 3 : (len + 2) / 3 * 4);
            assert_int_equal(dec(text, url, out, sizeof(out)), (long) len);
            assert_memory_equal(in, out, len);
        }
    }
}


static void
test_known(void **state)
{
    char           text[16];
    unsigned char  raw[8];

    assert_int_equal(ovsa_b64_encode((const unsigned char *) "\xfb\xff", 2,
                                     text, 1), 3);
    assert_string_equal(text, "-_8");
    assert_int_equal(ovsa_b64_encode((const unsigned char *) "\xfb\xff", 2,
                                     text, 0), 4);
    assert_string_equal(text, "+/8=");

    assert_int_equal(dec("", 0, raw, sizeof(raw)), 0);
    assert_int_equal(dec("", 1, raw, sizeof(raw)), 0);
    assert_int_equal(dec("+/8=", 0, raw, sizeof(raw)), 2);
    assert_memory_equal(raw, "\xfb\xff", 2);
    assert_int_equal(dec("-_8", 1, raw, sizeof(raw)), 2);
    assert_memory_equal(raw, "\xfb\xff", 2);
    assert_int_equal(dec("Zm9vYmFy", 0, raw, sizeof(raw)), 6);
    assert_memory_equal(raw, "foobar", 6);

    assert_int_equal(ovsa_b64_decode("Zm9vYg==", 8, raw, sizeof(raw)), 4);
    assert_int_equal(ovsa_b64_decode("Zm9vYg==", 8, raw, 4), 4);
    assert_int_equal(ovsa_b64_decode("Zm9vYg==", 8, raw, 3), -1);
}


static void
test_malformed(void **state)
{
    unsigned char  raw[16];
    size_t         i;

    static const char  *std_bad[] = {
        "A", "AA", "AAA", "AAAAA", "A===", "====", "AA=A", "+=8=",
        "AA==AAAA", "AAA==", "AAAA====", "AA-_", "AA_=", " AAA", "AAA ",
        "AA\nA", "AAA\0", "AA.A", "\xc3\xa9" "AA",
    };
    static const char  *url_bad[] = {
        "A", "AAAAA", "AA==", "AAA=", "AA+/", "+/8", "AA=A", "AA A",
        "AA.", "\xc3\xa9" "A",
    };

    for (i = 0; i < sizeof(std_bad) / sizeof(std_bad[0]); i++) {
        assert_int_equal(dec(std_bad[i], 0, raw, sizeof(raw)), -1);
    }

    for (i = 0; i < sizeof(url_bad) / sizeof(url_bad[0]); i++) {
        assert_int_equal(dec(url_bad[i], 1, raw, sizeof(raw)), -1);
    }

    /* a NUL inside the given length */
    assert_null(ovsa_b64_decode_alloc("AA\0A", 4, 0, &i));
    assert_null(ovsa_b64_decode_alloc("AA\0A", 4, 1, &i));
}


/*
 * Every last character of a one- and two-byte tail: only those whose
 * unused bits are zero decode; the others are the same bytes spelt
 * differently and are refused.
 */
static void
test_unused_bits(void **state)
{
    int            url, v;
    char           text[8];
    long           want;
    unsigned char  raw[8];

    for (url = 0; url <= 1; url++) {
        for (v = 0; v < 64; v++) {
            /* "A?": one byte, 4 unused bits */
            strcpy(text, url ? "QA" : "QA==");
            text[1] = (url ? url_alpha : std_alpha)[v];
            want = (v & 0x0f) == 0 ? 1 : -1;
            assert_int_equal(dec(text, url, raw, sizeof(raw)), want);

            /* "AA?": two bytes, 2 unused bits */
            strcpy(text, url ? "QUE" : "QUE=");
            text[2] = (url ? url_alpha : std_alpha)[v];
            want = (v & 0x03) == 0 ? 2 : -1;
            assert_int_equal(dec(text, url, raw, sizeof(raw)), want);
        }
    }

    /* the cases of the report */
    assert_int_equal(dec("AA==", 0, raw, sizeof(raw)), 1);
    assert_int_equal(dec("AB==", 0, raw, sizeof(raw)), -1);
    assert_int_equal(dec("AAA=", 0, raw, sizeof(raw)), 2);
    assert_int_equal(dec("AAB=", 0, raw, sizeof(raw)), -1);
    assert_int_equal(dec("AA", 1, raw, sizeof(raw)), 1);
    assert_int_equal(dec("AB", 1, raw, sizeof(raw)), -1);
    assert_int_equal(dec("AAB", 1, raw, sizeof(raw)), -1);
    assert_int_equal(ovsa_b64_decode("AB==", 4, raw, sizeof(raw)), -1);

    /* full groups have no unused bits: every last character decodes */
    assert_int_equal(dec("AAA/", 0, raw, sizeof(raw)), 3);
    assert_int_equal(dec("AAA_", 1, raw, sizeof(raw)), 3);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_known),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_unused_bits),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
