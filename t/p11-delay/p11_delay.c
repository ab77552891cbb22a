/*
 * p11_delay.c: a PKCS#11 module for tests that makes a real token slow,
 * and, on request, serial like a real device (a YubiKey signs one
 * operation at a time for the whole device, about 10 per second).
 *
 * Every call goes to the module named by $OVSA_P11_DELAY_TARGET.
 * C_GetFunctionList hands out a copy of the target's function list with
 * C_SignInit, C_Sign and C_SignFinal replaced.  A signature (C_Sign or
 * C_SignFinal with an output buffer; size queries pass through) first
 * sleeps, then signs:
 *
 *   OVSA_P11_DELAY_MS        milliseconds per signature (0 when unset)
 *   OVSA_P11_DELAY_MS_RSA    the same for RSA mechanisms, and
 *   OVSA_P11_DELAY_MS_EC     for ECDSA ones; each overrides
 *                            OVSA_P11_DELAY_MS for its key type
 *   OVSA_P11_TOKEN_LOCK      a file: when set, the sleep and the signature
 *                            run under flock(LOCK_EX) on it, so every
 *                            thread of every process that loads the shim
 *                            with the same file waits its turn: one
 *                            signature at a time, at 1000 / ms per second
 *
 * With the lock, each signature made also adds one to the decimal count
 * the lock file holds (when the shim may write it): benchmarks read how
 * many signatures the token made, e.g. to tell the batch size seen.
 *
 * The variables are read at each call.  The lock is taken through a new
 * open file description per call (flock locks belong to it), so threads
 * of one process exclude each other too.  A lock file that cannot be
 * opened or locked fails the signature with CKR_DEVICE_ERROR.
 */

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/file.h>

#include <p11-kit/pkcs11.h>


static void                  *p11_delay_dl;
static CK_FUNCTION_LIST_PTR   p11_delay_target;
static CK_FUNCTION_LIST       p11_delay_list;

/* the mechanism of this thread's last C_SignInit: RSA or EC delay */
static __thread CK_MECHANISM_TYPE  p11_delay_mech = CKM_VENDOR_DEFINED;


static long
p11_delay_env(const char *name)
{
    const char  *v;

    v = getenv(name);
    return (v != NULL && *v != '\0') ? strtol(v, NULL, 10) : -1;
}


static long
p11_delay_ms(void)
{
    long  ms;

    ms = -1;

    switch (p11_delay_mech) {
    case CKM_ECDSA:
    case CKM_ECDSA_SHA1:
    case CKM_ECDSA_SHA256:
    case CKM_ECDSA_SHA384:
    case CKM_ECDSA_SHA512:
        ms = p11_delay_env("OVSA_P11_DELAY_MS_EC");
        break;

    case CKM_VENDOR_DEFINED:
        break;

    default:
        ms = p11_delay_env("OVSA_P11_DELAY_MS_RSA");
        break;
    }

    if (ms < 0) {
        ms = p11_delay_env("OVSA_P11_DELAY_MS");
    }

    return ms;
}


static void
p11_delay_sleep(long ms)
{
    struct timespec  ts;

    if (ms <= 0) {
        return;
    }

    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;

    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
        /* sleep the rest */
    }
}


/* Takes the token lock when one is configured: the fd, -1 without one,
 * -2 when the lock file fails. */
static int
p11_delay_lock(void)
{
    int          fd;
    const char  *path;

    path = getenv("OVSA_P11_TOKEN_LOCK");
    if (path == NULL || *path == '\0') {
        return -1;
    }

    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd == -1) {
        /* another user's lock file: a read-only description locks too */
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd == -1) {
            return -2;
        }
    }

    while (flock(fd, LOCK_EX) == -1) {
        if (errno != EINTR) {
            close(fd);
            return -2;
        }
    }

    return fd;
}


/* Under the lock: the count of signatures in the lock file, plus one. */
static void
p11_delay_count(int fd)
{
    int                 n;
    char                buf[32];
    ssize_t             len;
    unsigned long long  count;

    len = pread(fd, buf, sizeof(buf) - 1, 0);
    if (len < 0) {
        return;
    }

    buf[len] = '\0';
    count = strtoull(buf, NULL, 10) + 1;

    n = snprintf(buf, sizeof(buf), "%llu\n", count);
    if (n > 0 && pwrite(fd, buf, (size_t) n, 0) == n
        && ftruncate(fd, n) != 0)
    {
        return;     /* a longer old count stays behind: only a figure */
    }
}


static void
p11_delay_unlock(int fd)
{
    if (fd >= 0) {
        close(fd);      /* releases the flock */
    }
}


static CK_RV
p11_delay_C_SignInit(CK_SESSION_HANDLE s, CK_MECHANISM_PTR mech,
    CK_OBJECT_HANDLE key)
{
    p11_delay_mech = (mech != NULL) ? mech->mechanism : CKM_VENDOR_DEFINED;

    return p11_delay_target->C_SignInit(s, mech, key);
}


static CK_RV
p11_delay_C_Sign(CK_SESSION_HANDLE s, CK_BYTE_PTR data, CK_ULONG len,
    CK_BYTE_PTR sig, CK_ULONG_PTR siglen)
{
    int    fd;
    CK_RV  rv;

    /* A size query (sig == NULL) does not touch the key: no delay. */
    if (sig == NULL) {
        return p11_delay_target->C_Sign(s, data, len, sig, siglen);
    }

    fd = p11_delay_lock();
    if (fd == -2) {
        return CKR_DEVICE_ERROR;
    }

    p11_delay_sleep(p11_delay_ms());
    rv = p11_delay_target->C_Sign(s, data, len, sig, siglen);
    if (rv == CKR_OK && fd >= 0) {
        p11_delay_count(fd);
    }
    p11_delay_unlock(fd);

    return rv;
}


static CK_RV
p11_delay_C_SignFinal(CK_SESSION_HANDLE s, CK_BYTE_PTR sig,
    CK_ULONG_PTR siglen)
{
    int    fd;
    CK_RV  rv;

    if (sig == NULL) {
        return p11_delay_target->C_SignFinal(s, sig, siglen);
    }

    fd = p11_delay_lock();
    if (fd == -2) {
        return CKR_DEVICE_ERROR;
    }

    p11_delay_sleep(p11_delay_ms());
    rv = p11_delay_target->C_SignFinal(s, sig, siglen);
    if (rv == CKR_OK && fd >= 0) {
        p11_delay_count(fd);
    }
    p11_delay_unlock(fd);

    return rv;
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
        p11_delay_list.C_SignInit = p11_delay_C_SignInit;
        p11_delay_list.C_Sign = p11_delay_C_Sign;
        p11_delay_list.C_SignFinal = p11_delay_C_SignFinal;
    }

    *list = &p11_delay_list;

    return CKR_OK;
}
