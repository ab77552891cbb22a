/*
 * sdk_test.c: the SDK's local state (sdk/ovsa_sdk_state.c): saved
 * answers are 0600 files written through a temporary file and renamed,
 * a damaged or foreign file allows nothing, the trusted time only rises
 * and the clock rule refuses a local time earlier than it; and the hwid
 * derivation: stable, per product, from the first usable source, equal
 * to an HMAC-SHA256 computed here independently.
 */

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "ovsa.h"
#include "ovsa_b64.h"
#include "ovsa_sdk_int.h"


static char  dir[64];


static int
setup(void **state)
{
    snprintf(dir, sizeof(dir), "/tmp/ovsa-sdk-test-XXXXXX");
    assert_non_null(mkdtemp(dir));
    return 0;
}


static int
teardown(void **state)
{
    char            path[512];
    DIR            *d;
    struct dirent  *e;

    d = opendir(dir);
    while (d != NULL && (e = readdir(d)) != NULL) {
        if (e->d_name[0] != '.' || strlen(e->d_name) > 2) {
            snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
            unlink(path);
        }
    }
    if (d != NULL) {
        closedir(d);
    }
    rmdir(dir);
    return 0;
}


static void
spew(const char *name, const char *text, mode_t mode)
{
    char   path[512];
    FILE  *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    chmod(path, mode);
}


/* the number of entries of dir, "." and ".." aside */
static int
entries(void)
{
    int             n;
    DIR            *d;
    struct dirent  *e;

    n = 0;
    d = opendir(dir);
    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            n++;
        }
    }
    closedir(d);
    return n;
}


static void
test_state_roundtrip_0600(void **state)
{
    char              path[512];
    mode_t            old;
    ovsa_err_t        err;
    struct stat       sb;
    ovsa_sdk_saved_t  s, r;

    memset(&s, 0, sizeof(s));
    s.allowed = 1;
    strcpy(s.code, "OK");
    s.server_time = 1000;
    s.valid_until = 1300;
    strcpy(s.hwid, "h1");
    s.pid = 4242;

    old = umask(0);          /* the mode must not come from the umask */
    assert_int_equal(ovsa_sdk_state_save(dir, "L1", "check", &s, &err),
                     OVSA_OK);
    umask(old);

    snprintf(path, sizeof(path), "%s/L1.check.json", dir);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 07777, 0600);
    assert_int_equal(entries(), 1);       /* no temporary file left */

    assert_int_equal(ovsa_sdk_state_load(dir, "L1", "check", &r, &err),
                     OVSA_OK);
    assert_int_equal(r.allowed, 1);
    assert_string_equal(r.code, "OK");
    assert_int_equal(r.server_time, 1000);
    assert_int_equal(r.valid_until, 1300);
    assert_string_equal(r.hwid, "h1");
    assert_int_equal(r.pid, 4242);

    /* replaced by rename: a second save keeps one file, still 0600 */
    s.valid_until = 1600;
    assert_int_equal(ovsa_sdk_state_save(dir, "L1", "check", &s, &err),
                     OVSA_OK);
    assert_int_equal(entries(), 1);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 07777, 0600);
    assert_int_equal(ovsa_sdk_state_load(dir, "L1", "check", &r, &err),
                     OVSA_OK);
    assert_int_equal(r.valid_until, 1600);

    ovsa_sdk_state_remove(dir, "L1", "check");
    assert_int_equal(ovsa_sdk_state_load(dir, "L1", "check", &r, &err),
                     OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_IO);
}


static void
test_state_rename_keeps_old_on_failure(void **state)
{
    char              sub[600];
    ovsa_err_t        err;
    ovsa_sdk_saved_t  s, r;

    memset(&s, 0, sizeof(s));
    s.allowed = 1;
    strcpy(s.code, "OK");
    s.valid_until = 1300;

    snprintf(sub, sizeof(sub), "%s", dir);
    assert_int_equal(ovsa_sdk_state_save(sub, "L2", "check", &s, &err),
                     OVSA_OK);

    /* a directory nobody may write: the write fails, the old file stays */
    if (geteuid() != 0) {
        chmod(dir, 0500);
        s.valid_until = 9999;
        assert_int_equal(ovsa_sdk_state_save(sub, "L2", "check", &s, &err),
                         OVSA_ERR);
        chmod(dir, 0700);
        assert_int_equal(ovsa_sdk_state_load(dir, "L2", "check", &r, &err),
                         OVSA_OK);
        assert_int_equal(r.valid_until, 1300);
    }
}


static void
test_state_damaged_or_foreign(void **state)
{
    ovsa_err_t        err;
    ovsa_sdk_saved_t  r;

    spew("L3.check.json", "{\"license_id\":\"L3\",\"op\":\"check\"", 0600);
    assert_int_equal(ovsa_sdk_state_load(dir, "L3", "check", &r, &err),
                     OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_PROTOCOL);
    assert_int_equal(r.allowed, 0);

    /* a file copied from another license (or operation) allows nothing */
    spew("L4.check.json", "{\"license_id\":\"L3\",\"op\":\"check\","
         "\"allowed\":true,\"code\":\"OK\",\"server_time\":1,"
         "\"valid_until\":99999999999,\"hwid\":\"\",\"lease_id\":\"\","
         "\"lease_expires\":0}", 0600);
    assert_int_equal(ovsa_sdk_state_load(dir, "L4", "check", &r, &err),
                     OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_PROTOCOL);
    spew("L3.lease.json", "{\"license_id\":\"L3\",\"op\":\"check\","
         "\"allowed\":true,\"code\":\"OK\",\"server_time\":1,"
         "\"valid_until\":99999999999,\"hwid\":\"\",\"lease_id\":\"\","
         "\"lease_expires\":0}", 0600);
    assert_int_equal(ovsa_sdk_state_load(dir, "L3", "lease", &r, &err),
                     OVSA_ERR);
}


static void
test_clock_rule(void **state)
{
    char         path[512];
    ovsa_err_t   err;
    struct stat  sb;

    assert_int_equal(ovsa_sdk_clock_trusted(dir), 0);
    assert_int_equal(ovsa_sdk_clock_check(dir, 5, 60, &err), OVSA_OK);

    assert_int_equal(ovsa_sdk_clock_note(dir, 100000, &err), OVSA_OK);
    assert_int_equal(ovsa_sdk_clock_trusted(dir), 100000);
    snprintf(path, sizeof(path), "%s/" OVSA_SDK_CLOCK_FILE, dir);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 07777, 0600);

    /* only ever raised */
    assert_int_equal(ovsa_sdk_clock_note(dir, 50000, &err), OVSA_OK);
    assert_int_equal(ovsa_sdk_clock_trusted(dir), 100000);
    assert_int_equal(ovsa_sdk_clock_note(dir, 100500, &err), OVSA_OK);
    assert_int_equal(ovsa_sdk_clock_trusted(dir), 100500);

    /* later, equal, within the skew: fine; earlier: refused */
    assert_int_equal(ovsa_sdk_clock_check(dir, 100600, 60, &err), OVSA_OK);
    assert_int_equal(ovsa_sdk_clock_check(dir, 100500, 60, &err), OVSA_OK);
    assert_int_equal(ovsa_sdk_clock_check(dir, 100440, 60, &err), OVSA_OK);
    assert_int_equal(ovsa_sdk_clock_check(dir, 100439, 60, &err), OVSA_ERR);
    assert_non_null(strstr(err.msg, "earlier than 100500"));
    assert_int_equal(ovsa_sdk_clock_check(dir, 1, 60, &err), OVSA_ERR);
}


/* the expected hwid, computed with OpenSSL's HMAC here */
static void
expect_hwid(const char *key, const char *product, char *out)
{
    char           msg[256], *b;
    unsigned int   n;
    unsigned char  mac[EVP_MAX_MD_SIZE];

    snprintf(msg, sizeof(msg), "ovsa-hwid-v1:%s", product);
    assert_non_null(HMAC(EVP_sha256(), key, (int) strlen(key),
                         (unsigned char *) msg, strlen(msg), mac, &n));
    b = ovsa_b64url_alloc(mac, n);
    strcpy(out, b);
    free(b);
}


static void
test_hwid(void **state)
{
    char         f1[512], f2[512], f3[512], a[64], b[64], want[64];
    const char  *files[3];

    snprintf(f1, sizeof(f1), "%s/missing", dir);
    snprintf(f2, sizeof(f2), "%s/empty", dir);
    snprintf(f3, sizeof(f3), "%s/machine-id", dir);
    spew("empty", "  \n", 0644);
    spew("machine-id", " 0123456789ABCDEF0123456789abcdef \nrest\n", 0644);
    files[0] = f1;
    files[1] = f2;
    files[2] = f3;

    /* missing and empty sources are skipped; trimmed, lower case */
    assert_int_equal(ovsa_sdk_hwid_from(files, 3, "Widget", a, sizeof(a)),
                     2);
    expect_hwid("0123456789abcdef0123456789abcdef", "Widget", want);
    assert_string_equal(a, want);
    assert_int_equal(strlen(a), 43);

    /* stable */
    assert_int_equal(ovsa_sdk_hwid_from(files, 3, "Widget", b, sizeof(b)),
                     2);
    assert_string_equal(a, b);

    /* another product (vendor): an unrelated id */
    assert_int_equal(ovsa_sdk_hwid_from(files, 3, "Gadget", b, sizeof(b)),
                     2);
    assert_string_not_equal(a, b);

    /* the machine-id itself never appears in it */
    assert_null(strstr(a, "0123456789"));

    /* nothing usable, no product, too small a buffer */
    assert_int_equal(ovsa_sdk_hwid_from(files, 2, "Widget", b, sizeof(b)),
                     -1);
    assert_int_equal(ovsa_sdk_hwid_from(files, 3, NULL, b, sizeof(b)), -1);
    assert_int_equal(ovsa_sdk_hwid_from(files, 3, "Widget", b, 43), -1);
}


/* offline state: the nonce lists are bounded, a removed nonce is gone,
 * the file and the grants are 0600 */
static void
test_offline_nonces(void **state)
{
    int          i;
    char         nonce[32], path[256], *text;
    size_t       len;
    struct stat  sb;
    ovsa_err_t   err;

    for (i = 0; i < 20; i++) {
        snprintf(nonce, sizeof(nonce), "n%02d", i);
        assert_int_equal(ovsa_sdk_nonce_note(dir, "L1", "pending", nonce, 1,
                                             &err), OVSA_OK);
    }

    /* 16 kept: the 4 oldest dropped */
    assert_false(ovsa_sdk_nonce_is(dir, "L1", "pending", "n00"));
    assert_false(ovsa_sdk_nonce_is(dir, "L1", "pending", "n03"));
    assert_true(ovsa_sdk_nonce_is(dir, "L1", "pending", "n04"));
    assert_true(ovsa_sdk_nonce_is(dir, "L1", "pending", "n19"));
    assert_false(ovsa_sdk_nonce_is(dir, "L1", "deactivated", "n19"));
    assert_false(ovsa_sdk_nonce_is(dir, "L2", "pending", "n19"));

    assert_int_equal(ovsa_sdk_nonce_note(dir, "L1", "pending", "n10", 0,
                                         &err), OVSA_OK);
    assert_false(ovsa_sdk_nonce_is(dir, "L1", "pending", "n10"));
    assert_true(ovsa_sdk_nonce_is(dir, "L1", "pending", "n11"));

    snprintf(path, sizeof(path), "%s/L1.offline.json", dir);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 07777, 0600);

    assert_int_equal(ovsa_sdk_grant_save(dir, "L1", "borrow", "{}", 2, &err),
                     OVSA_OK);
    snprintf(path, sizeof(path), "%s/L1.borrow.grant", dir);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 07777, 0600);
    assert_int_equal(ovsa_sdk_grant_load(dir, "L1", "borrow", &text, &len,
                                         &err), OVSA_OK);
    assert_int_equal(len, 2);
    free(text);
    ovsa_sdk_grant_remove(dir, "L1", "borrow");
    assert_int_not_equal(ovsa_sdk_grant_load(dir, "L1", "borrow", &text,
                                             &len, &err), OVSA_OK);
    unlink(path);
    snprintf(path, sizeof(path), "%s/L1.offline.json", dir);
    unlink(path);
}


static void
test_code_names(void **state)
{
    assert_string_equal(ovsa_sdk_code_name(OVSA_SDK_OK), "OK");
    assert_string_equal(ovsa_sdk_code_name(OVSA_SDK_OFFLINE), "OFFLINE");
    assert_string_equal(ovsa_sdk_code_name(OVSA_SDK_CLOCK_BACK),
                        "CLOCK_BACK");
    assert_string_equal(ovsa_sdk_code_name(OVSA_SDK_NO_SEATS), "NO_SEATS");
    assert_string_equal(ovsa_sdk_code_name(OVSA_SDK__COUNT), "OTHER");
}


static void
test_open_refusals(void **state)
{
    ovsa_sdk_t         *h;
    ovsa_sdk_conf_t     conf;
    ovsa_sdk_status_t   st;

    memset(&conf, 0, sizeof(conf));
    h = ovsa_sdk_open(&conf, &st);
    assert_null(h);
    assert_int_equal(st.allowed, 0);
    assert_int_equal(st.code, OVSA_SDK_LOCAL_ERROR);
    assert_int_equal(st.error, OVSA_E_CONF_MISSING);

    conf.license = "/nonexistent.lic";
    h = ovsa_sdk_open(&conf, &st);
    assert_null(h);
    assert_int_equal(st.error, OVSA_E_NO_ANCHOR);
    assert_string_equal(st.code_name, "LOCAL_ERROR");
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_state_roundtrip_0600, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_state_rename_keeps_old_on_failure,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_state_damaged_or_foreign,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_clock_rule, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hwid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_offline_nonces, setup, teardown),
        cmocka_unit_test(test_code_names),
        cmocka_unit_test(test_open_refusals),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
