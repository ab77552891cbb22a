/*
 * p11_delay.c: a PKCS#11 module for tests that makes a real token slow.
 *
 * Every call goes to the module named by $OVSA_P11_DELAY_TARGET; C_Sign
 * and C_SignFinal first sleep $OVSA_P11_DELAY_MS milliseconds (read at
 * each call, 0 when unset).  C_GetFunctionList hands out a copy of the
 * target's function list with those two entries replaced.
 */

#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include <p11-kit/pkcs11.h>


static void                  *p11_delay_dl;
static CK_FUNCTION_LIST_PTR   p11_delay_target;
static CK_FUNCTION_LIST       p11_delay_list;


static void
p11_delay_sleep(void)
{
    long             ms;
    const char      *v;
    struct timespec  ts;

    v = getenv("OVSA_P11_DELAY_MS");
    ms = v != NULL ? strtol(v, NULL, 10) : 0;
    if (ms <= 0) {
        return;
    }

    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;

    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
        /* sleep the rest */
    }
}


static CK_RV
p11_delay_C_Sign(CK_SESSION_HANDLE s, CK_BYTE_PTR data, CK_ULONG len,
    CK_BYTE_PTR sig, CK_ULONG_PTR siglen)
{
    /* A size query (sig == NULL) does not touch the key: no delay. */
    if (sig != NULL) {
        p11_delay_sleep();
    }

    return p11_delay_target->C_Sign(s, data, len, sig, siglen);
}


static CK_RV
p11_delay_C_SignFinal(CK_SESSION_HANDLE s, CK_BYTE_PTR sig,
    CK_ULONG_PTR siglen)
{
    if (sig != NULL) {
        p11_delay_sleep();
    }

    return p11_delay_target->C_SignFinal(s, sig, siglen);
}


CK_RV
C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list)
{
    CK_RV                 rv;
    const char           *path;
    CK_C_GetFunctionList  get;

    if (list == NULL) {
        return CKR_ARGUMENTS_BAD;
    }

    if (p11_delay_target == NULL) {
        path = getenv("OVSA_P11_DELAY_TARGET");
        if (path == NULL) {
            return CKR_GENERAL_ERROR;
        }

        p11_delay_dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        if (p11_delay_dl == NULL) {
            return CKR_GENERAL_ERROR;
        }

        *(void **) &get = dlsym(p11_delay_dl, "C_GetFunctionList");
        if (get == NULL) {
            return CKR_GENERAL_ERROR;
        }

        rv = get(&p11_delay_target);
        if (rv != CKR_OK) {
            return rv;
        }

        p11_delay_list = *p11_delay_target;
        p11_delay_list.C_GetFunctionList = C_GetFunctionList;
        p11_delay_list.C_Sign = p11_delay_C_Sign;
        p11_delay_list.C_SignFinal = p11_delay_C_SignFinal;
    }

    *list = &p11_delay_list;

    return CKR_OK;
}
