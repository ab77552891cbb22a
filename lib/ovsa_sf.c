/*
 * ovsa_sf.c: a strict, allocation-free RFC 8941 dictionary parser (see
 * ovsa_sf.h for why it exists).  Section numbers refer to RFC 8941.
 */

#include <string.h>

#include "ovsa_sf.h"


#define ovsa_sf_digit(ch)   ((ch) >= '0' && (ch) <= '9')
#define ovsa_sf_lcalpha(ch) ((ch) >= 'a' && (ch) <= 'z')
#define ovsa_sf_alpha(ch)   (ovsa_sf_lcalpha(ch) || ((ch) >= 'A' && (ch) <= 'Z'))


static int ovsa_sf_bare_item(ovsa_sf_t *c, ovsa_sf_item_t *item);
static int ovsa_sf_params(ovsa_sf_t *c, ovsa_sf_t *params);


static void
ovsa_sf_skip_sp(ovsa_sf_t *c)
{
    while (c->p < c->end && *c->p == ' ') {
        c->p++;
    }
}


static void
ovsa_sf_skip_ows(ovsa_sf_t *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t')) {
        c->p++;
    }
}


static int
ovsa_sf_tchar(int ch)
{
    return ovsa_sf_alpha(ch) || ovsa_sf_digit(ch)
           || (ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}


/* 4.2.3.3 */
static int
ovsa_sf_key(ovsa_sf_t *c, const char **key, size_t *len)
{
    const char  *start;

    if (c->p == c->end || !(ovsa_sf_lcalpha(*c->p) || *c->p == '*')) {
        return -1;
    }

    start = c->p++;

    while (c->p < c->end
           && (ovsa_sf_lcalpha(*c->p) || ovsa_sf_digit(*c->p)
               || *c->p == '_' || *c->p == '-' || *c->p == '.'
               || *c->p == '*'))
    {
        c->p++;
    }

    *key = start;
    *len = c->p - start;
    return 0;
}


/* 4.2.4 */
static int
ovsa_sf_number(ovsa_sf_t *c, ovsa_sf_item_t *item)
{
    int        neg, digits, frac;
    long long  n;

    neg = 0;
    if (*c->p == '-') {
        neg = 1;
        c->p++;
    }

    n = 0;
    digits = 0;
    while (c->p < c->end && ovsa_sf_digit(*c->p)) {
        if (++digits > 15) {
            return -1;
        }
        n = n * 10 + (*c->p++ - '0');
    }

    if (digits == 0) {
        return -1;
    }

    item->type = OVSA_SF_INTEGER;
    item->num = neg ? -n : n;

    if (c->p < c->end && *c->p == '.') {
        if (digits > 12) {
            return -1;
        }

        c->p++;
        frac = 0;
        while (c->p < c->end && ovsa_sf_digit(*c->p)) {
            frac++;
            c->p++;
        }

        if (frac < 1 || frac > 3) {
            return -1;
        }

        item->type = OVSA_SF_DECIMAL;
    }

    return 0;
}


/* 4.2.5 */
static int
ovsa_sf_string(ovsa_sf_t *c, ovsa_sf_item_t *item)
{
    const char  *start;

    start = ++c->p;

    while (c->p < c->end) {
        if (*c->p == '\\') {
            if (c->p + 1 == c->end || (c->p[1] != '"' && c->p[1] != '\\')) {
                return -1;
            }
            c->p += 2;
            continue;
        }

        if (*c->p == '"') {
            item->type = OVSA_SF_STRING;
            item->s = start;
            item->len = c->p - start;
            c->p++;
            return 0;
        }

        if ((unsigned char) *c->p < 0x20 || (unsigned char) *c->p > 0x7e) {
            return -1;
        }

        c->p++;
    }

    return -1;
}


/* 4.2.6 */
static int
ovsa_sf_token(ovsa_sf_t *c, ovsa_sf_item_t *item)
{
    const char  *start;

    start = c->p++;

    while (c->p < c->end
           && (ovsa_sf_tchar(*c->p) || *c->p == ':' || *c->p == '/'))
    {
        c->p++;
    }

    item->type = OVSA_SF_TOKEN;
    item->s = start;
    item->len = c->p - start;
    return 0;
}


/* 4.2.7 */
static int
ovsa_sf_binary(ovsa_sf_t *c, ovsa_sf_item_t *item)
{
    const char  *start;

    start = ++c->p;

    while (c->p < c->end && *c->p != ':') {
        if (!(ovsa_sf_alpha(*c->p) || ovsa_sf_digit(*c->p) || *c->p == '+'
              || *c->p == '/' || *c->p == '='))
        {
            return -1;
        }
        c->p++;
    }

    if (c->p == c->end) {
        return -1;
    }

    item->type = OVSA_SF_BINARY;
    item->s = start;
    item->len = c->p - start;
    c->p++;
    return 0;
}


/* 4.2.3.1 */
static int
ovsa_sf_bare_item(ovsa_sf_t *c, ovsa_sf_item_t *item)
{
    char  ch;

    memset(item, 0, sizeof(*item));

    if (c->p == c->end) {
        return -1;
    }

    ch = *c->p;

    if (ch == '-' || ovsa_sf_digit(ch)) {
        return ovsa_sf_number(c, item);
    }

    if (ch == '"') {
        return ovsa_sf_string(c, item);
    }

    if (ovsa_sf_alpha(ch) || ch == '*') {
        return ovsa_sf_token(c, item);
    }

    if (ch == ':') {
        return ovsa_sf_binary(c, item);
    }

    if (ch == '?') {
        if (c->end - c->p < 2 || (c->p[1] != '0' && c->p[1] != '1')) {
            return -1;
        }
        item->type = OVSA_SF_BOOLEAN;
        item->num = c->p[1] - '0';
        c->p += 2;
        return 0;
    }

    return -1;
}


/* 4.2.3.2: validates the parameters and returns a cursor over them */
static int
ovsa_sf_params(ovsa_sf_t *c, ovsa_sf_t *params)
{
    size_t          len;
    const char     *key;
    ovsa_sf_item_t  item;

    params->p = c->p;
    params->state = 0;

    while (c->p < c->end && *c->p == ';') {
        c->p++;
        ovsa_sf_skip_sp(c);

        if (ovsa_sf_key(c, &key, &len) != 0) {
            return -1;
        }

        if (c->p < c->end && *c->p == '=') {
            c->p++;
            if (ovsa_sf_bare_item(c, &item) != 0) {
                return -1;
            }
        }
    }

    params->end = c->p;
    return 0;
}


/* 4.2.1.2: c->p is on '(' */
static int
ovsa_sf_inner_list(ovsa_sf_t *c, ovsa_sf_item_t *value, ovsa_sf_t *params)
{
    const char      *start;
    ovsa_sf_t        ip;
    ovsa_sf_item_t   item;

    start = ++c->p;

    for ( ;; ) {
        ovsa_sf_skip_sp(c);

        if (c->p == c->end) {
            return -1;
        }

        if (*c->p == ')') {
            memset(value, 0, sizeof(*value));
            value->type = OVSA_SF_INNER_LIST;
            value->s = start;
            value->len = c->p - start;
            c->p++;
            return ovsa_sf_params(c, params);
        }

        if (ovsa_sf_bare_item(c, &item) != 0 || ovsa_sf_params(c, &ip) != 0) {
            return -1;
        }

        if (c->p == c->end || (*c->p != ' ' && *c->p != ')')) {
            return -1;
        }
    }
}


void
ovsa_sf_init(ovsa_sf_t *c, const char *s, size_t len)
{
    c->p = s;
    c->end = s + len;
    c->state = 0;

    /* 4.2: leading and trailing spaces are discarded */
    while (c->p < c->end && *c->p == ' ') {
        c->p++;
    }

    while (c->end > c->p && c->end[-1] == ' ') {
        c->end--;
    }
}


/* 4.2.2 */
int
ovsa_sf_dict_next(ovsa_sf_t *c, const char **key, size_t *key_len,
    ovsa_sf_item_t *value, ovsa_sf_t *params)
{
    if (c->state) {
        ovsa_sf_skip_ows(c);

        if (c->p == c->end) {
            return 0;
        }

        if (*c->p != ',') {
            return -1;
        }

        c->p++;
        ovsa_sf_skip_ows(c);

        if (c->p == c->end) {
            return -1;                       /* trailing comma */
        }

    } else if (c->p == c->end) {
        return 0;
    }

    c->state = 1;

    if (ovsa_sf_key(c, key, key_len) != 0) {
        return -1;
    }

    if (c->p < c->end && *c->p == '=') {
        c->p++;

        if (c->p < c->end && *c->p == '(') {
            return ovsa_sf_inner_list(c, value, params) == 0 ? 1 : -1;
        }

        if (ovsa_sf_bare_item(c, value) != 0) {
            return -1;
        }

    } else {
        memset(value, 0, sizeof(*value));
        value->type = OVSA_SF_BOOLEAN;
        value->num = 1;
    }

    return ovsa_sf_params(c, params) == 0 ? 1 : -1;
}


int
ovsa_sf_dict_get(const char *s, size_t len, const char *key,
    ovsa_sf_item_t *value, ovsa_sf_t *params)
{
    int             rc, found;
    size_t          klen;
    ovsa_sf_t       c, p;
    const char     *k;
    ovsa_sf_item_t  v;

    found = 0;
    ovsa_sf_init(&c, s, len);

    while ((rc = ovsa_sf_dict_next(&c, &k, &klen, &v, &p)) == 1) {
        if (klen == strlen(key) && memcmp(k, key, klen) == 0) {
            *value = v;
            *params = p;
            found = 1;
        }
    }

    return rc < 0 ? -1 : found;
}


void
ovsa_sf_list_init(ovsa_sf_t *c, const ovsa_sf_item_t *inner)
{
    c->p = inner->s;
    c->end = inner->s + inner->len;
    c->state = 0;
}


int
ovsa_sf_list_next(ovsa_sf_t *c, ovsa_sf_item_t *item, ovsa_sf_t *params)
{
    ovsa_sf_skip_sp(c);

    if (c->p == c->end) {
        return 0;
    }

    if (ovsa_sf_bare_item(c, item) != 0 || ovsa_sf_params(c, params) != 0) {
        return -1;
    }

    if (c->p < c->end && *c->p != ' ') {
        return -1;
    }

    return 1;
}


int
ovsa_sf_param_next(ovsa_sf_t *c, const char **key, size_t *key_len,
    ovsa_sf_item_t *value)
{
    if (c->p == c->end || *c->p != ';') {
        return 0;
    }

    c->p++;
    ovsa_sf_skip_sp(c);

    if (ovsa_sf_key(c, key, key_len) != 0) {
        return 0;
    }

    if (c->p < c->end && *c->p == '=') {
        c->p++;
        return ovsa_sf_bare_item(c, value) == 0;
    }

    memset(value, 0, sizeof(*value));
    value->type = OVSA_SF_BOOLEAN;
    value->num = 1;
    return 1;
}


int
ovsa_sf_item_is(const ovsa_sf_item_t *item, int type, const char *s)
{
    return item->type == type && item->len == strlen(s)
           && memcmp(item->s, s, item->len) == 0;
}
