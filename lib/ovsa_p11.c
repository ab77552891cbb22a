/*
 * ovsa_p11.c: the server key on a PKCS#11 token, through the libp11
 * engine, with pre-checks and a liveness probe done on the PKCS#11 module
 * directly (dlopen; the same module instance the engine uses).
 */

/* The ENGINE API is deprecated in OpenSSL 3; nginx sets the same define. */
#ifndef OPENSSL_SUPPRESS_DEPRECATED
#define OPENSSL_SUPPRESS_DEPRECATED
#endif

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/engine.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <p11-kit/pkcs11.h>
#include <p11-kit/uri.h>

#include "ovsa_p11.h"


struct ovsa_p11_s {
    void                  *dl;
    CK_FUNCTION_LIST_PTR   fn;
    CK_SLOT_ID             slot;
    unsigned char          serial[16];
    int                    finalize;    /* our C_Initialize did the init */
    ovsa_err_t             dead;        /* code != 0: the token was lost */
    ENGINE                *engine;      /* functional reference */
    EVP_PKEY              *pkey;
};


/* The name of a CK_RV; unknown values as hex (thread-local buffer). */
static const char *
ovsa_p11_rv_name(CK_RV rv)
{
    static __thread char  buf[32];

    switch (rv) {
    case CKR_OK:                        return "CKR_OK";
    case CKR_GENERAL_ERROR:             return "CKR_GENERAL_ERROR";
    case CKR_FUNCTION_FAILED:           return "CKR_FUNCTION_FAILED";
    case CKR_ARGUMENTS_BAD:             return "CKR_ARGUMENTS_BAD";
    case CKR_DEVICE_ERROR:              return "CKR_DEVICE_ERROR";
    case CKR_DEVICE_MEMORY:             return "CKR_DEVICE_MEMORY";
    case CKR_DEVICE_REMOVED:            return "CKR_DEVICE_REMOVED";
    case CKR_PIN_INCORRECT:             return "CKR_PIN_INCORRECT";
    case CKR_PIN_LEN_RANGE:             return "CKR_PIN_LEN_RANGE";
    case CKR_PIN_EXPIRED:               return "CKR_PIN_EXPIRED";
    case CKR_PIN_LOCKED:                return "CKR_PIN_LOCKED";
    case CKR_SESSION_HANDLE_INVALID:    return "CKR_SESSION_HANDLE_INVALID";
    case CKR_SLOT_ID_INVALID:           return "CKR_SLOT_ID_INVALID";
    case CKR_TOKEN_NOT_PRESENT:         return "CKR_TOKEN_NOT_PRESENT";
    case CKR_TOKEN_NOT_RECOGNIZED:      return "CKR_TOKEN_NOT_RECOGNIZED";
    case CKR_USER_PIN_NOT_INITIALIZED:  return "CKR_USER_PIN_NOT_INITIALIZED";
    case CKR_CRYPTOKI_NOT_INITIALIZED:  return "CKR_CRYPTOKI_NOT_INITIALIZED";
    default:
        snprintf(buf, sizeof(buf), "CKR 0x%08lx", (unsigned long) rv);
        return buf;
    }
}


/* Device-level failures, as opposed to a token that is simply not there. */
static int
ovsa_p11_rv_code(CK_RV rv)
{
    switch (rv) {
    case CKR_TOKEN_NOT_PRESENT:
    case CKR_TOKEN_NOT_RECOGNIZED:
    case CKR_SLOT_ID_INVALID:
    case CKR_DEVICE_REMOVED:
        return OVSA_E_P11_TOKEN;
    default:
        return OVSA_E_P11_DEVICE;
    }
}


static int
ovsa_p11_load_module(ovsa_p11_t *h, const char *path, ovsa_err_t *err)
{
    CK_RV                 rv;
    CK_C_GetFunctionList  get;
    CK_C_INITIALIZE_ARGS  args;

    h->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (h->dl == NULL) {
        return ovsa_err_set(err, OVSA_E_P11_MODULE,
                            "pkcs11 module \"%s\": %s", path, dlerror());
    }

    *(void **) &get = dlsym(h->dl, "C_GetFunctionList");
    if (get == NULL) {
        return ovsa_err_set(err, OVSA_E_P11_MODULE,
                            "pkcs11 module \"%s\": no C_GetFunctionList", path);
    }

    rv = get(&h->fn);
    if (rv != CKR_OK || h->fn == NULL) {
        return ovsa_err_set(err, OVSA_E_P11_MODULE,
                            "pkcs11 module \"%s\": C_GetFunctionList: %s",
                            path, ovsa_p11_rv_name(rv));
    }

    memset(&args, 0, sizeof(args));
    args.flags = CKF_OS_LOCKING_OK;

    rv = h->fn->C_Initialize(&args);
    if (rv == CKR_OK) {
        h->finalize = 1;

    } else if (rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
        return ovsa_err_set(err, rv == CKR_DEVICE_ERROR ? OVSA_E_P11_TOKEN
                                                        : OVSA_E_P11_MODULE,
                            "pkcs11 module \"%s\": C_Initialize: %s",
                            path, ovsa_p11_rv_name(rv));
    }

    return OVSA_OK;
}


/* Finds the first present token matching the URI; sets h->slot. */
static int
ovsa_p11_find_token(ovsa_p11_t *h, P11KitUri *uri, const char *key_uri,
    ovsa_err_t *err)
{
    int            ret;
    CK_RV          rv;
    CK_ULONG       i, n;
    CK_SLOT_ID    *slots;
    CK_TOKEN_INFO  ti;

    rv = h->fn->C_GetSlotList(CK_TRUE, NULL, &n);
    if (rv != CKR_OK) {
        return ovsa_err_set(err, OVSA_E_P11_TOKEN, "C_GetSlotList: %s",
                            ovsa_p11_rv_name(rv));
    }

    if (n == 0) {
        return ovsa_err_set(err, OVSA_E_P11_TOKEN,
                            "\"%s\": no token present", key_uri);
    }

    slots = OPENSSL_malloc(n * sizeof(CK_SLOT_ID));
    if (slots == NULL) {
        return ovsa_err_set(err, OVSA_E_NOMEM, "C_GetSlotList: no memory");
    }

    ret = ovsa_err_set(err, OVSA_E_P11_TOKEN,
                       "\"%s\": no present token matches", key_uri);

    rv = h->fn->C_GetSlotList(CK_TRUE, slots, &n);
    if (rv != CKR_OK) {
        ret = ovsa_err_set(err, OVSA_E_P11_TOKEN, "C_GetSlotList: %s",
                           ovsa_p11_rv_name(rv));
        n = 0;
    }

    for (i = 0; i < n; i++) {
        if (h->fn->C_GetTokenInfo(slots[i], &ti) != CKR_OK) {
            continue;
        }

        if (p11_kit_uri_match_token_info(uri, &ti)) {
            h->slot = slots[i];
            memcpy(h->serial, ti.serialNumber, sizeof(h->serial));
            ovsa_err_clear(err);
            ret = OVSA_OK;
            break;
        }
    }

    OPENSSL_free(slots);

    return ret;
}


/* Logs in with pin and looks for the private key; leaves no session. */
static int
ovsa_p11_find_key(ovsa_p11_t *h, P11KitUri *uri, const char *key_uri,
    const char *pin, ovsa_err_t *err)
{
    int                ret;
    CK_RV              rv;
    CK_ULONG           i, nuri, ntmpl, found;
    CK_ATTRIBUTE      *attrs, tmpl[4];
    CK_OBJECT_CLASS    cls;
    CK_OBJECT_HANDLE   obj;
    CK_SESSION_HANDLE  s;

    rv = h->fn->C_OpenSession(h->slot, CKF_SERIAL_SESSION, NULL, NULL, &s);
    if (rv != CKR_OK) {
        return ovsa_err_set(err, ovsa_p11_rv_code(rv), "C_OpenSession: %s",
                            ovsa_p11_rv_name(rv));
    }

    rv = h->fn->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR) pin, strlen(pin));
    if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
        switch (rv) {
        case CKR_PIN_INCORRECT:
        case CKR_PIN_LEN_RANGE:
        case CKR_PIN_EXPIRED:
        case CKR_PIN_LOCKED:
        case CKR_USER_PIN_NOT_INITIALIZED:
            ret = ovsa_err_set(err, OVSA_E_P11_PIN, "C_Login: %s",
                               ovsa_p11_rv_name(rv));
            break;
        default:
            ret = ovsa_err_set(err, ovsa_p11_rv_code(rv), "C_Login: %s",
                               ovsa_p11_rv_name(rv));
        }
        goto end;
    }

    /* The URI's object attributes (label, id, class), private key class. */
    cls = CKO_PRIVATE_KEY;
    ntmpl = 0;
    attrs = p11_kit_uri_get_attributes(uri, &nuri);
    for (i = 0; i < nuri && ntmpl < 3; i++) {
        if (attrs[i].type == CKA_LABEL || attrs[i].type == CKA_ID) {
            tmpl[ntmpl++] = attrs[i];

        } else if (attrs[i].type == CKA_CLASS
                   && (attrs[i].ulValueLen != sizeof(cls)
                       || memcmp(attrs[i].pValue, &cls, sizeof(cls)) != 0))
        {
            ret = ovsa_err_set(err, OVSA_E_P11_KEY,
                               "\"%s\": not a private key (type=)", key_uri);
            goto end;
        }
    }

    if (ntmpl == 0) {
        ret = ovsa_err_set(err, OVSA_E_P11_KEY,
                           "\"%s\": names no object (object= or id=)",
                           key_uri);
        goto end;
    }

    tmpl[ntmpl].type = CKA_CLASS;
    tmpl[ntmpl].pValue = &cls;
    tmpl[ntmpl].ulValueLen = sizeof(cls);
    ntmpl++;

    found = 0;
    rv = h->fn->C_FindObjectsInit(s, tmpl, ntmpl);
    if (rv == CKR_OK) {
        rv = h->fn->C_FindObjects(s, &obj, 1, &found);
        (void) h->fn->C_FindObjectsFinal(s);
    }

    if (rv != CKR_OK) {
        ret = ovsa_err_set(err, ovsa_p11_rv_code(rv), "C_FindObjects: %s",
                           ovsa_p11_rv_name(rv));
        goto end;
    }

    if (found == 0) {
        ret = ovsa_err_set(err, OVSA_E_P11_KEY,
                           "\"%s\": no such private key on the token",
                           key_uri);
        goto end;
    }

    ret = OVSA_OK;

end:

    /* Closing the last session also logs out; the engine logs in again. */
    (void) h->fn->C_CloseSession(s);

    return ret;
}


/*
 * The libp11 engine (0.4.12) is loaded once per process and can key one
 * open: a second dynamic load of pkcs11.so fails in bind ("engine
 * routines::init failed"), and ENGINE_finish() does not drop libp11's
 * PKCS#11 context, so a second ENGINE_init() + key load reuses slots and
 * sessions of the first and fails ("Unable to enumerate private keys") or
 * crashes (after RE_ENUMERATE).  Measured; see docs/hardware-key.md.
 * Recovery from a lost token is therefore a new process.
 */
static ENGINE  *ovsa_p11_engine;
static int      ovsa_p11_engine_used;


static int
ovsa_p11_load_engine(ovsa_p11_t *h, const char *module_path,
    const char *key_uri, const char *pin, ovsa_err_t *err)
{
    ENGINE  *e;

    if (ovsa_p11_engine == NULL) {
        e = ENGINE_by_id("dynamic");
        if (e == NULL) {
            return ovsa_err_ssl(err, OVSA_E_P11_MODULE, "ENGINE dynamic");
        }

        if (!ENGINE_ctrl_cmd_string(e, "SO_PATH", OVSA_P11_ENGINE_PATH, 0)
            || !ENGINE_ctrl_cmd_string(e, "ID", "pkcs11", 0)
            || !ENGINE_ctrl_cmd_string(e, "LIST_ADD", "0", 0)
            || !ENGINE_ctrl_cmd_string(e, "LOAD", NULL, 0))
        {
            ENGINE_free(e);
            return ovsa_err_ssl(err, OVSA_E_P11_MODULE, "ENGINE load \"%s\"",
                                OVSA_P11_ENGINE_PATH);
        }

        ovsa_p11_engine = e;
    }

    e = ovsa_p11_engine;

    if (!ENGINE_ctrl_cmd_string(e, "MODULE_PATH", module_path, 0)
        || !ENGINE_ctrl_cmd_string(e, "PIN", pin, 0))
    {
        return ovsa_err_ssl(err, OVSA_E_P11_MODULE, "ENGINE pkcs11 ctrl");
    }

    if (!ENGINE_init(e)) {
        (void) ENGINE_ctrl_cmd_string(e, "PIN", "", 0);
        return ovsa_err_ssl(err, OVSA_E_P11_MODULE, "ENGINE_init pkcs11");
    }

    h->engine = e;
    ovsa_p11_engine_used = 1;

    h->pkey = ENGINE_load_private_key(e, key_uri, NULL, NULL);
    if (h->pkey == NULL) {
        return ovsa_err_ssl(err, OVSA_E_P11_KEY, "\"%s\": engine load",
                            key_uri);
    }

    return OVSA_OK;
}


int
ovsa_p11_open(const char *module_path, const char *key_uri, const char *pin,
    ovsa_p11_t **out, ovsa_err_t *err)
{
    int          rc;
    ovsa_p11_t  *h;
    P11KitUri   *uri;

    if (ovsa_p11_engine_used) {
        return ovsa_err_set(err, OVSA_E_P11_MODULE,
                            "pkcs11: the key was already opened in this "
                            "process; re-open needs a new process");
    }

    if (pin == NULL || pin[0] == '\0') {
        return ovsa_err_set(err, OVSA_E_P11_PIN, "pkcs11: no PIN given");
    }

    uri = p11_kit_uri_new();
    if (uri == NULL) {
        return ovsa_err_set(err, OVSA_E_NOMEM, "p11_kit_uri_new: no memory");
    }

    rc = p11_kit_uri_parse(key_uri, P11_KIT_URI_FOR_OBJECT_ON_TOKEN, uri);
    if (rc != P11_KIT_URI_OK) {
        p11_kit_uri_free(uri);
        return ovsa_err_set(err, OVSA_E_P11_KEY, "\"%s\": %s", key_uri,
                            p11_kit_uri_message(rc));
    }

    h = OPENSSL_zalloc(sizeof(ovsa_p11_t));
    if (h == NULL) {
        p11_kit_uri_free(uri);
        return ovsa_err_set(err, OVSA_E_NOMEM, "ovsa_p11_open: no memory");
    }

    if (ovsa_p11_load_module(h, module_path, err) != OVSA_OK
        || ovsa_p11_find_token(h, uri, key_uri, err) != OVSA_OK
        || ovsa_p11_find_key(h, uri, key_uri, pin, err) != OVSA_OK
        || ovsa_p11_load_engine(h, module_path, key_uri, pin, err) != OVSA_OK)
    {
        p11_kit_uri_free(uri);
        ovsa_p11_close(h);
        return OVSA_ERR;
    }

    p11_kit_uri_free(uri);
    *out = h;

    return OVSA_OK;
}


EVP_PKEY *
ovsa_p11_pkey(ovsa_p11_t *h)
{
    return h->pkey;
}


int
ovsa_p11_probe(ovsa_p11_t *h, ovsa_err_t *err)
{
    CK_RV          rv;
    CK_SLOT_INFO   si;
    CK_TOKEN_INFO  ti;

    if (h->dead.code != OVSA_E_NONE) {
        goto dead;
    }

    rv = h->fn->C_GetSlotInfo(h->slot, &si);
    if (rv != CKR_OK) {
        ovsa_err_set(&h->dead, ovsa_p11_rv_code(rv),
                     "pkcs11 probe: C_GetSlotInfo: %s", ovsa_p11_rv_name(rv));
        goto dead;
    }

    if (!(si.flags & CKF_TOKEN_PRESENT)) {
        ovsa_err_set(&h->dead, OVSA_E_P11_TOKEN,
                     "pkcs11 probe: token removed from its slot");
        goto dead;
    }

    rv = h->fn->C_GetTokenInfo(h->slot, &ti);
    if (rv != CKR_OK) {
        ovsa_err_set(&h->dead, ovsa_p11_rv_code(rv),
                     "pkcs11 probe: C_GetTokenInfo: %s", ovsa_p11_rv_name(rv));
        goto dead;
    }

    if (memcmp(ti.serialNumber, h->serial, sizeof(h->serial)) != 0) {
        ovsa_err_set(&h->dead, OVSA_E_P11_TOKEN,
                     "pkcs11 probe: another token is in the slot");
        goto dead;
    }

    return OVSA_OK;

dead:

    /* A lost token stays lost for this handle: no more calls into it. */
    return ovsa_err_set(err, h->dead.code, "%s", h->dead.msg);
}


int
ovsa_p11_sign(ovsa_p11_t *h, const EVP_MD *md, int rsa_pss,
    const unsigned char *tbs, size_t tbslen, unsigned char **sig,
    size_t *siglen, ovsa_err_t *err)
{
    int             ret;
    size_t          len;
    EVP_PKEY_CTX   *pctx;
    EVP_MD_CTX     *mctx;
    ovsa_err_t      serr, perr;
    unsigned char  *buf;

    ret = OVSA_ERR;
    buf = NULL;

    if (h->dead.code != OVSA_E_NONE) {
        return ovsa_err_set(err, h->dead.code, "pkcs11 sign: token lost "
                            "earlier: %s", h->dead.msg);
    }

    mctx = EVP_MD_CTX_new();
    if (mctx == NULL) {
        return ovsa_err_set(err, OVSA_E_NOMEM, "pkcs11 sign: no memory");
    }

    if (EVP_DigestSignInit(mctx, &pctx, md, NULL, h->pkey) != 1) {
        goto failed;
    }

    if (rsa_pss && EVP_PKEY_get_base_id(h->pkey) == EVP_PKEY_RSA
        && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1
            || EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST)
               != 1))
    {
        goto failed;
    }

    if (EVP_DigestSign(mctx, NULL, &len, tbs, tbslen) != 1) {
        goto failed;
    }

    buf = OPENSSL_malloc(len);
    if (buf == NULL) {
        ovsa_err_set(err, OVSA_E_NOMEM, "pkcs11 sign: no memory");
        goto end;
    }

    if (EVP_DigestSign(mctx, buf, &len, tbs, tbslen) != 1) {
        goto failed;
    }

    *sig = buf;
    *siglen = len;
    buf = NULL;
    ret = OVSA_OK;
    goto end;

failed:

    /* Tell a lost token from any other failure. */
    ovsa_err_ssl(&serr, OVSA_E_P11_DEVICE, "pkcs11 sign failed");

    if (ovsa_p11_probe(h, &perr) == OVSA_OK) {
        ovsa_err_set(err, OVSA_E_P11_DEVICE, "%s (token still answers)",
                     serr.msg);

    } else {
        ovsa_err_set(err, perr.code, "%s; %s", serr.msg, perr.msg);
    }

end:

    OPENSSL_free(buf);
    EVP_MD_CTX_free(mctx);

    return ret;
}


void
ovsa_p11_close(ovsa_p11_t *h)
{
    if (h == NULL) {
        return;
    }

    EVP_PKEY_free(h->pkey);

    if (h->engine != NULL) {
        /* libp11 wipes its PIN copy when it is replaced. */
        (void) ENGINE_ctrl_cmd_string(h->engine, "PIN", "", 0);
        ENGINE_finish(h->engine);
        ERR_clear_error();
    }

    if (h->fn != NULL && h->finalize) {
        (void) h->fn->C_Finalize(NULL);
    }

    if (h->dl != NULL) {
        dlclose(h->dl);
    }

    OPENSSL_free(h);
}
