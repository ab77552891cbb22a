/*
 * ovsa_sdk_state.c: the local state of the high-level SDK: the last
 * verified answer of each operation, the latest trusted time (the clock
 * rule) and the hwid derivation (see ovsa_sdk_int.h and docs/sdk.md).
 */

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/crypto.h>

#include "ovsa_b64.h"
#include "ovsa_file.h"
#include "ovsa_sdk_int.h"

#define OVSA_HWID_LABEL  "ovsa-hwid-v1:"


static int
ovsa_sdk_state_path(const char *dir, const char *license_id,
    const char *op, char *out, size_t size, ovsa_err_t *err)
{
    if ((size_t) snprintf(out, size, "%s/%s.%s.json", dir, license_id, op)
        >= size)
    {
        return ovsa_err_set(err, OVSA_E_CONF_VALUE, "state: %s: path too "
                            "long", dir);
    }

    return OVSA_OK;
}


int
ovsa_sdk_state_save(const char *dir, const char *license_id,
    const char *op, const ovsa_sdk_saved_t *s, ovsa_err_t *err)
{
    int      rc;
    char     path[4096], *text;
    json_t  *o;

    if (ovsa_sdk_state_path(dir, license_id, op, path, sizeof(path), err)
        != OVSA_OK)
    {
        return OVSA_ERR;
    }

    o = json_pack("{s:s, s:s, s:b, s:s, s:I, s:I, s:s, s:s, s:I, s:I}",
                  "license_id", license_id, "op", op,
                  "allowed", s->allowed, "code", s->code,
                  "server_time", (json_int_t) s->server_time,
                  "valid_until", (json_int_t) s->valid_until,
                  "hwid", s->hwid, "lease_id", s->lease_id,
                  "lease_expires", (json_int_t) s->lease_expires,
                  "pid", (json_int_t) s->pid);
    text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);

    if (text == NULL) {
        return ovsa_err_set(err, OVSA_E_NOMEM, "state: out of memory");
    }

    rc = ovsa_file_write(path, text, strlen(text), 0600, 0, err);
    free(text);
    return rc;
}


int
ovsa_sdk_state_load(const char *dir, const char *license_id,
    const char *op, ovsa_sdk_saved_t *s, ovsa_err_t *err)
{
    int           allowed;
    char          path[4096], *text;
    size_t        len;
    json_t       *o;
    json_int_t    st, vu, le, pid;
    const char   *code, *hwid, *lease, *id, *sop;
    json_error_t  je;

    memset(s, 0, sizeof(*s));
    pid = 0;

    if (ovsa_sdk_state_path(dir, license_id, op, path, sizeof(path), err)
        != OVSA_OK
        || ovsa_file_read(path, OVSA_SDK_STATE_MAX, &text, &len, err)
           != OVSA_OK)
    {
        return OVSA_ERR;
    }

    o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    free(text);

    if (o == NULL
        || json_unpack(o, "{s:s, s:s, s:b, s:s, s:I, s:I, s:s, s:s, s:I}",
                       "license_id", &id, "op", &sop, "allowed", &allowed,
                       "code", &code, "server_time", &st,
                       "valid_until", &vu, "hwid", &hwid,
                       "lease_id", &lease, "lease_expires", &le) != 0
        || json_unpack(o, "{s?I}", "pid", &pid) != 0
        || strcmp(id, license_id) != 0 || strcmp(sop, op) != 0
        || strlen(code) >= sizeof(s->code)
        || strlen(hwid) >= sizeof(s->hwid)
        || strlen(lease) >= sizeof(s->lease_id))
    {
        json_decref(o);
        return ovsa_err_set(err, OVSA_E_PROTOCOL, "state: %s: not a saved "
                            "answer of %s %s", path, license_id, op);
    }

    s->allowed = allowed;
    snprintf(s->code, sizeof(s->code), "%s", code);
    snprintf(s->hwid, sizeof(s->hwid), "%s", hwid);
    snprintf(s->lease_id, sizeof(s->lease_id), "%s", lease);
    s->server_time = st;
    s->valid_until = vu;
    s->lease_expires = le;
    s->pid = (long) pid;

    json_decref(o);
    return OVSA_OK;
}


void
ovsa_sdk_state_remove(const char *dir, const char *license_id,
    const char *op)
{
    char  path[4096];

    if (ovsa_sdk_state_path(dir, license_id, op, path, sizeof(path), NULL)
        == OVSA_OK)
    {
        (void) unlink(path);
    }
}


long long
ovsa_sdk_clock_trusted(const char *dir)
{
    char         path[4096], *text;
    size_t       len;
    json_t      *o, *t;
    long long    v;

    if (dir == NULL
        || (size_t) snprintf(path, sizeof(path), "%s/" OVSA_SDK_CLOCK_FILE,
                             dir) >= sizeof(path)
        || ovsa_file_read(path, OVSA_SDK_STATE_MAX, &text, &len, NULL)
           != OVSA_OK)
    {
        return 0;
    }

    o = json_loadb(text, len, 0, NULL);
    free(text);
    t = json_object_get(o, "trusted_time");
    v = json_is_integer(t) ? (long long) json_integer_value(t) : 0;
    json_decref(o);

    return v;
}


int
ovsa_sdk_clock_note(const char *dir, long long t, ovsa_err_t *err)
{
    int   n;
    char  path[4096], text[64];

    if (dir == NULL || t <= ovsa_sdk_clock_trusted(dir)) {
        return OVSA_OK;
    }

    if ((size_t) snprintf(path, sizeof(path), "%s/" OVSA_SDK_CLOCK_FILE,
                          dir) >= sizeof(path))
    {
        return ovsa_err_set(err, OVSA_E_CONF_VALUE, "state: %s: path too "
                            "long", dir);
    }

    n = snprintf(text, sizeof(text), "{\"trusted_time\":%lld}\n", t);

    return ovsa_file_write(path, text, (size_t) n, 0600, 0, err);
}


int
ovsa_sdk_clock_check(const char *dir, long long now, long skew,
    ovsa_err_t *err)
{
    long long  trusted;

    trusted = ovsa_sdk_clock_trusted(dir);

    if (trusted != 0 && now + skew < trusted) {
        return ovsa_err_set(err, OVSA_E_INTERNAL, "clock: the local time "
                            "%lld is earlier than %lld, a time a verified "
                            "answer gave (%s/" OVSA_SDK_CLOCK_FILE "): set "
                            "the clock right", now, trusted, dir);
    }

    return OVSA_OK;
}


/* The first line of path, trimmed, lower case; 0 when unusable. */
static size_t
ovsa_hwid_source(const char *path, char *out, size_t size)
{
    char    *text, *p, *e;
    size_t   len, n;

    if (ovsa_file_read(path, 4096, &text, &len, NULL) != OVSA_OK) {
        return 0;
    }

    p = text;
    while (*p == ' ' || *p == '\t') {
        p++;
    }
    e = p + strcspn(p, "\r\n");
    while (e > p && (e[-1] == ' ' || e[-1] == '\t')) {
        e--;
    }

    n = (size_t) (e - p);
    if (n >= size) {
        n = 0;
    }
    for (len = 0; len < n; len++) {
        out[len] = (char) tolower((unsigned char) p[len]);
    }
    out[n] = '\0';

    OPENSSL_cleanse(text, strlen(text));
    free(text);
    return n;
}


int
ovsa_sdk_hwid_from(const char *const *files, size_t n, const char *product,
    char *out, size_t size)
{
    char           key[512], *msg, *b64;
    size_t         i, klen, mlen;
    unsigned int   maclen;
    unsigned char  mac[EVP_MAX_MD_SIZE];

    if (product == NULL || size < 44) {
        return -1;
    }

    for (i = 0; i < n; i++) {
        klen = ovsa_hwid_source(files[i], key, sizeof(key));
        if (klen == 0) {
            continue;
        }

        mlen = strlen(OVSA_HWID_LABEL) + strlen(product);
        msg = malloc(mlen + 1);
        if (msg == NULL) {
            break;
        }
        snprintf(msg, mlen + 1, OVSA_HWID_LABEL "%s", product);

        b64 = NULL;
        if (HMAC(EVP_sha256(), key, (int) klen, (unsigned char *) msg, mlen,
                 mac, &maclen) != NULL)
        {
            b64 = ovsa_b64url_alloc(mac, maclen);
        }

        free(msg);
        OPENSSL_cleanse(key, sizeof(key));

        if (b64 == NULL || strlen(b64) >= size) {
            free(b64);
            return -1;
        }

        snprintf(out, size, "%s", b64);
        free(b64);
        return (int) i;
    }

    OPENSSL_cleanse(key, sizeof(key));
    return -1;
}
