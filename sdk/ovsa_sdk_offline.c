/*
 * ovsa_sdk_offline.c: what the high-level SDK keeps and checks for use
 * without a server (docs/offline.md): the nonces of the offline requests
 * this machine made and of the activations it deactivated, and the
 * grants it holds (an offline activation, a borrowed seat), verified
 * again every time they are used.
 *
 * State directory files (0600, temp + rename):
 *   <id>.offline.json        {"pending": [nonce...], "deactivated":
 *                            [nonce...]}, at most OVSA_SDK_NONCES each
 *   <id>.<kind>.grant        a grant (kind: activation, borrow)
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "ovsa_client.h"
#include "ovsa_file.h"
#include "ovsa_key.h"
#include "ovsa_sdk_int.h"

#define OVSA_SDK_NONCES  16


static int
ovsa_sdk_offline_path(const char *dir, const char *id, const char *what,
    char *out, size_t size, ovsa_err_t *err)
{
    if ((size_t) snprintf(out, size, "%s/%s.%s", dir, id, what) >= size) {
        return ovsa_err_set(err, OVSA_E_CONF_VALUE, "state: %s: path too "
                            "long", dir);
    }

    return OVSA_OK;
}


/* The nonce lists; a missing file is two empty lists. */
static json_t *
ovsa_sdk_nonces_load(const char *dir, const char *id)
{
    char        path[4096], *text;
    json_t     *o;
    ovsa_err_t  e;

    o = NULL;

    if (ovsa_sdk_offline_path(dir, id, "offline.json", path, sizeof(path),
                              &e) == OVSA_OK
        && ovsa_file_read(path, OVSA_SDK_STATE_MAX, &text, NULL, &e)
           == OVSA_OK)
    {
        o = json_loads(text, 0, NULL);
        free(text);
    }

    if (!json_is_object(o)) {
        json_decref(o);
        o = json_object();
    }

    if (!json_is_array(json_object_get(o, "pending"))) {
        json_object_set_new(o, "pending", json_array());
    }
    if (!json_is_array(json_object_get(o, "deactivated"))) {
        json_object_set_new(o, "deactivated", json_array());
    }

    return o;
}


static int
ovsa_sdk_nonces_has(json_t *o, const char *list, const char *nonce)
{
    size_t   i;
    json_t  *v;

    json_array_foreach(json_object_get(o, list), i, v) {
        if (json_is_string(v) && strcmp(json_string_value(v), nonce) == 0) {
            return 1;
        }
    }

    return 0;
}


int
ovsa_sdk_nonce_note(const char *dir, const char *id, const char *list,
    const char *nonce, int add, ovsa_err_t *err)
{
    int      rc;
    char     path[4096], *text;
    size_t   i;
    json_t  *o, *a, *v;

    o = ovsa_sdk_nonces_load(dir, id);
    a = json_object_get(o, list);

    json_array_foreach(a, i, v) {
        if (json_is_string(v) && strcmp(json_string_value(v), nonce) == 0) {
            json_array_remove(a, i);
            break;
        }
    }

    if (add) {
        json_array_append_new(a, json_string(nonce));
        while (json_array_size(a) > OVSA_SDK_NONCES) {
            json_array_remove(a, 0);        /* the oldest */
        }
    }

    text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);

    if (text == NULL
        || ovsa_sdk_offline_path(dir, id, "offline.json", path, sizeof(path),
                                 err) != OVSA_OK)
    {
        free(text);
        return text == NULL ? ovsa_err_set(err, OVSA_E_NOMEM, "state: out "
                                           "of memory")
                            : OVSA_ERR;
    }

    rc = ovsa_file_write(path, text, strlen(text), 0600, 0, err);
    free(text);
    return rc;
}


int
ovsa_sdk_nonce_is(const char *dir, const char *id, const char *list,
    const char *nonce)
{
    int      has;
    json_t  *o;

    o = ovsa_sdk_nonces_load(dir, id);
    has = ovsa_sdk_nonces_has(o, list, nonce);
    json_decref(o);
    return has;
}


int
ovsa_sdk_grant_save(const char *dir, const char *id, const char *kind,
    const char *text, size_t len, ovsa_err_t *err)
{
    char  path[4096], what[64];

    snprintf(what, sizeof(what), "%s.grant", kind);

    if (ovsa_sdk_offline_path(dir, id, what, path, sizeof(path), err)
        != OVSA_OK)
    {
        return OVSA_ERR;
    }

    return ovsa_file_write(path, text, len, 0600, 0, err);
}


int
ovsa_sdk_grant_load(const char *dir, const char *id, const char *kind,
    char **text, size_t *len, ovsa_err_t *err)
{
    char  path[4096], what[64];

    snprintf(what, sizeof(what), "%s.grant", kind);

    if (ovsa_sdk_offline_path(dir, id, what, path, sizeof(path), err)
        != OVSA_OK)
    {
        return OVSA_ERR;
    }

    return ovsa_file_read(path, 64 * 1024, text, len, err);
}


void
ovsa_sdk_grant_remove(const char *dir, const char *id, const char *kind)
{
    char        path[4096], what[64];
    ovsa_err_t  e;

    snprintf(what, sizeof(what), "%s.grant", kind);

    if (ovsa_sdk_offline_path(dir, id, what, path, sizeof(path), &e)
        == OVSA_OK)
    {
        (void) unlink(path);
    }
}


/* The "path" a grant's request went to ("" when it has none). */
static void
ovsa_sdk_grant_path(const char *text, size_t len, char *out, size_t size)
{
    json_t  *g, *v;

    g = json_loadb(text, len, 0, NULL);
    v = json_object_get(g, "path");
    snprintf(out, size, "%s", json_is_string(v) ? json_string_value(v) : "");
    json_decref(g);
}


int
ovsa_sdk_grant_check(const ovsa_license_conf_t *lc, const char *text,
    size_t len, const ovsa_sdk_grant_want_t *want, ovsa_result_t *r,
    long long *until, ovsa_err_t *err)
{
    char         path[64];
    json_t      *a, *v;
    const char  *s;

    *until = 0;

    if (ovsa_license_grant_verify(lc, text, len, r, err) != OVSA_OK) {
        return OVSA_ERR;
    }

    ovsa_sdk_grant_path(text, len, path, sizeof(path));
    if (strcmp(path, want->path) != 0) {
        return ovsa_err_set(err, OVSA_E_GRANT_NONCE, "grant: an answer to "
                            "%s, not to %s", path, want->path);
    }

    if (want->dir != NULL
        && ovsa_sdk_nonce_is(want->dir, want->id, "deactivated", r->nonce))
    {
        return ovsa_err_set(err, OVSA_E_GRANT_DEACTIVATED, "grant: the "
                            "activation it made was deactivated on this "
                            "machine");
    }

    /* a verified refusal: the caller reads r->code */
    if (strcmp(r->verdict, "valid") != 0) {
        return ovsa_err_set(err, OVSA_E_NONE, "grant: %s", r->code);
    }

    a = json_loadb(r->body, r->body_len, 0, NULL);

    v = json_object_get(a, "machine_keyid");
    s = json_is_string(v) ? json_string_value(v) : "";
    if (strcmp(s, want->keyid) != 0) {
        ovsa_err_set(err, OVSA_E_GRANT_MACHINE, "grant: for machine key "
                     "\"%.64s\", this machine's is \"%s\"", s, want->keyid);
        json_decref(a);
        return OVSA_ERR;
    }

    if (want->hwid != NULL) {
        v = json_object_get(a, "hwid");
        s = json_is_string(v) ? json_string_value(v) : "";
        if (strcmp(s, want->hwid) != 0) {
            ovsa_err_set(err, OVSA_E_GRANT_MACHINE, "grant: for hwid "
                         "\"%.64s\", not this machine's", s);
            json_decref(a);
            return OVSA_ERR;
        }
    }

    if (want->pending
        && !ovsa_sdk_nonce_is(want->dir, want->id, "pending", r->nonce))
    {
        json_decref(a);
        return ovsa_err_set(err, OVSA_E_GRANT_NONCE, "grant: answers "
                            "request %s, which this machine did not make "
                            "or already used", r->nonce);
    }

    v = json_object_get(a, want->until);
    *until = json_is_integer(v) ? (long long) json_integer_value(v) : 0;
    json_decref(a);

    if (*until <= want->now) {
        return ovsa_err_set(err, OVSA_E_GRANT_EXPIRED, "grant: held until "
                            "%lld, now %lld", *until, want->now);
    }

    return OVSA_OK;
}
