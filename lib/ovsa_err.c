/*
 * ovsa_err.c: error codes and messages shared by every ovsa program.
 */

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>

#include "ovsa_err.h"


static const char *ovsa_code_names[] = {
#define OVSA_X_NAME(name, desc) #name,
    OVSA_ERROR_CODES(OVSA_X_NAME)
#undef OVSA_X_NAME
};

static const char *ovsa_code_descs[] = {
#define OVSA_X_DESC(name, desc) desc,
    OVSA_ERROR_CODES(OVSA_X_DESC)
#undef OVSA_X_DESC
};


const char *
ovsa_code_name(int code)
{
    if (code < 0 || code >= OVSA_E__COUNT) {
        return "OVSA_E_INTERNAL";
    }

    return ovsa_code_names[code];
}


const char *
ovsa_code_desc(int code)
{
    if (code < 0 || code >= OVSA_E__COUNT) {
        return "internal error";
    }

    return ovsa_code_descs[code];
}


static void
ovsa_err_vset(ovsa_err_t *err, int code, const char *fmt, va_list ap)
{
    err->code = code;
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
}


int
ovsa_err_set(ovsa_err_t *err, int code, const char *fmt, ...)
{
    va_list  ap;

    if (err != NULL) {
        va_start(ap, fmt);
        ovsa_err_vset(err, code, fmt, ap);
        va_end(ap);
    }

    return OVSA_ERR;
}


int
ovsa_err_ssl(ovsa_err_t *err, int code, const char *fmt, ...)
{
    char           reason[256];
    size_t         len;
    va_list        ap;
    unsigned long  e, last;

    last = 0;
    while ((e = ERR_get_error()) != 0) {
        last = e;
    }

    if (err == NULL) {
        return OVSA_ERR;
    }

    va_start(ap, fmt);
    ovsa_err_vset(err, code, fmt, ap);
    va_end(ap);

    if (last != 0) {
        ERR_error_string_n(last, reason, sizeof(reason));
        len = strlen(err->msg);
        snprintf(err->msg + len, sizeof(err->msg) - len, ": %s", reason);
    }

    return OVSA_ERR;
}


void
ovsa_err_clear(ovsa_err_t *err)
{
    if (err != NULL) {
        err->code = OVSA_E_NONE;
        err->msg[0] = '\0';
    }
}


int
ovsa_memeq_ct(const void *a, size_t alen, const void *b, size_t blen)
{
    if (alen != blen) {
        return 0;
    }

    return CRYPTO_memcmp(a, b, alen) == 0;
}
