/*
 * audit_test.c: cmocka tests of lib/ovsa_audit.c: entries built the way
 * backend/lua/_audit.lua builds them (netstrings, SHA-1 link hash), a
 * chain that verifies, and each tampering with its own code: an altered
 * entry, a removed one, two swapped, a history rewritten with fresh link
 * hashes against a checkpoint, a chain trimmed after a checkpoint
 * (verifies) and without one (gap).
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/sha.h>

#include "ovsa_audit.h"

#define N  5

static char    ent[N][512];
static size_t  len[N];


static void
ns(char *buf, const char *s)
{
    sprintf(buf + strlen(buf), "%zu:%s,", strlen(s), s);
}


/* entry seq with prev, as _audit.lua writes it; returns its hash */
static void
make(char *out, size_t *outlen, long long seq, const char *prev,
    const char *client, char hash[41])
{
    int            i;
    char           c[400], num[32];
    unsigned char  md[SHA_DIGEST_LENGTH];

    c[0] = '\0';
    ns(c, "v1");
    snprintf(num, sizeof(num), "%lld", seq);
    ns(c, num);
    snprintf(num, sizeof(num), "%lld", 1700000000 + seq);
    ns(c, num);
    ns(c, "F1");
    ns(c, "checkout");
    ns(c, "machine:k1");
    ns(c, prev);
    ns(c, "client_id");
    ns(c, client);
    SHA1((unsigned char *) c, strlen(c), md);
    for (i = 0; i < SHA_DIGEST_LENGTH; i++) {
        sprintf(&hash[2 * i], "%02x", md[i]);
    }
    *outlen = (size_t) sprintf(out, "%s %s", hash, c);
}


static void
chain(const char *alter_client_of_2)
{
    int   i;
    char  prev[41], h[41];

    memset(prev, '0', 40);
    prev[40] = '\0';
    for (i = 0; i < N; i++) {
        make(ent[i], &len[i], i + 1, prev,
             (i == 1 && alter_client_of_2) ? alter_client_of_2 : "c",
             h);
        memcpy(prev, h, 41);
    }
}


static int
verify(const char **e, const size_t *l, size_t n,
    const ovsa_audit_head_t *cps, size_t ncp, ovsa_audit_head_t *head,
    ovsa_err_t *err)
{
    return ovsa_audit_verify(e, l, n, cps, ncp, "F1", head, NULL, err);
}


static void
refs(const char **e, size_t *l, const int *order, size_t n)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        e[i] = ent[order[i]];
        l[i] = len[order[i]];
    }
}


static void
test_ok_and_parse(void **state)
{
    int                 order[N] = { 0, 1, 2, 3, 4 };
    size_t              l[N];
    const char         *e[N];
    ovsa_err_t          err;
    ovsa_audit_head_t   head;
    ovsa_audit_entry_t  en;

    (void) state;
    chain(NULL);
    refs(e, l, order, N);
    assert_int_equal(verify(e, l, N, NULL, 0, &head, &err), OVSA_OK);
    assert_int_equal(head.seq, 5);
    assert_int_equal(strlen(head.digest), 64);

    assert_int_equal(ovsa_audit_parse(ent[1], len[1], &en, &err), OVSA_OK);
    assert_int_equal(en.seq, 2);
    assert_int_equal(en.ndetail, 1);
    assert_memory_equal(en.op.p, "checkout", 8);

    /* another license's entries */
    assert_int_equal(ovsa_audit_verify(e, l, N, NULL, 0, "F2", &head, NULL,
                                       &err), OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_AUDIT_SYNTAX);

    /* malformed */
    assert_int_equal(ovsa_audit_parse("abc", 3, &en, &err), OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_AUDIT_SYNTAX);
}


static void
test_tampering(void **state)
{
    int                 gap[N - 1] = { 0, 1, 3, 4 };
    int                 swap[N] = { 0, 2, 1, 3, 4 };
    int                 order[N] = { 0, 1, 2, 3, 4 };
    char                saved[512];
    size_t              l[N], bad;
    const char         *e[N];
    ovsa_err_t          err;
    ovsa_audit_head_t   head, cp;

    (void) state;
    chain(NULL);

    /* altered: one byte of entry 2's detail */
    refs(e, l, order, N);
    memcpy(saved, ent[1], sizeof(saved));
    ent[1][len[1] - 2] = 'x';
    assert_int_equal(ovsa_audit_verify(e, l, N, NULL, 0, "F1", &head, &bad,
                                       &err), OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_AUDIT_HASH);
    assert_int_equal(bad, 1);
    memcpy(ent[1], saved, sizeof(saved));

    /* removed */
    refs(e, l, gap, N - 1);
    assert_int_equal(verify(e, l, N - 1, NULL, 0, &head, &err), OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_AUDIT_GAP);

    /* swapped */
    refs(e, l, swap, N);
    assert_int_equal(verify(e, l, N, NULL, 0, &head, &err), OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_AUDIT_ORDER);

    /* the tail removed past a checkpoint */
    refs(e, l, order, N);
    assert_int_equal(verify(e, l, N, NULL, 0, &cp, &err), OVSA_OK);
    assert_int_equal(verify(e, l, N - 1, &cp, 1, &head, &err), OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_AUDIT_GAP);

    /* rewritten with valid links: only the checkpoint tells */
    chain("evil");
    refs(e, l, order, N);
    assert_int_equal(verify(e, l, N, NULL, 0, &head, &err), OVSA_OK);
    assert_int_equal(verify(e, l, N, &cp, 1, &head, &err), OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_AUDIT_CHECKPOINT);
}


static void
test_trimmed(void **state)
{
    int                 order[N] = { 0, 1, 2, 3, 4 };
    size_t              l[N];
    const char         *e[N];
    ovsa_err_t          err;
    ovsa_audit_head_t   cp, head;

    (void) state;
    chain(NULL);
    refs(e, l, order, N);

    /* the head at seq 2 is the checkpoint; entries 1-2 trimmed */
    assert_int_equal(verify(e, l, 2, NULL, 0, &cp, &err), OVSA_OK);
    assert_int_equal(cp.seq, 2);
    assert_int_equal(verify(e + 2, l + 2, N - 2, &cp, 1, &head, &err),
                     OVSA_OK);
    assert_int_equal(head.seq, 5);

    /* trimmed without a checkpoint at the cut */
    assert_int_equal(verify(e + 2, l + 2, N - 2, NULL, 0, &head, &err),
                     OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_AUDIT_GAP);

    /* a checkpoint with another digest at the cut */
    cp.digest[0] = cp.digest[0] == 'a' ? 'b' : 'a';
    assert_int_equal(verify(e, l, N, &cp, 1, &head, &err), OVSA_ERR);
    assert_int_equal(err.code, OVSA_E_AUDIT_CHECKPOINT);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ok_and_parse),
        cmocka_unit_test(test_tampering),
        cmocka_unit_test(test_trimmed),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
