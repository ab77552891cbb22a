/*
 * fuzz_sf.c: lib/ovsa_sf.c, the RFC 8941 parser, over any field value:
 * every member, inner-list item and parameter is walked, and everything
 * the parser hands out must lie inside the input.
 */

#include <stdint.h>
#include <string.h>

#include "fuzz_util.h"
#include "ovsa_sf.h"

static const char  *fuzz_lo, *fuzz_hi;


static void
fuzz_in(const char *s, size_t len)
{
    FUZZ_ASSERT(s >= fuzz_lo && s + len <= fuzz_hi);
}


static void
fuzz_item(const ovsa_sf_item_t *v)
{
    switch (v->type) {

    case OVSA_SF_STRING:
    case OVSA_SF_TOKEN:
    case OVSA_SF_BINARY:
    case OVSA_SF_INNER_LIST:
        fuzz_in(v->s, v->len);
        break;

    case OVSA_SF_BOOLEAN:
        FUZZ_ASSERT(v->num == 0 || v->num == 1);
        break;

    case OVSA_SF_INTEGER:
        FUZZ_ASSERT(v->num >= -999999999999999LL
                    && v->num <= 999999999999999LL);
        break;

    default:
        FUZZ_ASSERT(v->type == OVSA_SF_DECIMAL);
    }
}


static void
fuzz_params(ovsa_sf_t *params)
{
    int             n;
    size_t          klen;
    const char     *key;
    ovsa_sf_item_t  v;

    for (n = 0; ovsa_sf_param_next(params, &key, &klen, &v) == 1; n++) {
        FUZZ_ASSERT(n < 100000);
        fuzz_in(key, klen);
        FUZZ_ASSERT(klen > 0);
        fuzz_item(&v);
        FUZZ_ASSERT(v.type != OVSA_SF_INNER_LIST);
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int             rc, n;
    size_t          klen;
    ovsa_sf_t       c, params, list, ip;
    const char     *key, *prev;
    ovsa_sf_item_t  v, item;

    fuzz_lo = (const char *) data;
    fuzz_hi = fuzz_lo + size;

    ovsa_sf_init(&c, fuzz_lo, size);
    prev = c.p;

    while ((rc = ovsa_sf_dict_next(&c, &key, &klen, &v, &params)) == 1) {
        FUZZ_ASSERT(c.p > prev && c.p <= fuzz_hi);
        prev = c.p;
        fuzz_in(key, klen);
        fuzz_item(&v);

        if (v.type == OVSA_SF_INNER_LIST) {
            ovsa_sf_list_init(&list, &v);
            for (n = 0; (rc = ovsa_sf_list_next(&list, &item, &ip)) == 1;
                 n++)
            {
                FUZZ_ASSERT(n < 100000);
                fuzz_item(&item);
                FUZZ_ASSERT(item.type != OVSA_SF_INNER_LIST);
                fuzz_params(&ip);
            }
            /* the dictionary parser checked the list already */
            FUZZ_ASSERT(rc == 0);
        }

        fuzz_params(&params);
    }

    FUZZ_ASSERT(rc == 0 || rc == -1);

    /* the lookups the verifier makes */
    if (ovsa_sf_dict_get(fuzz_lo, size, "ovsa", &v, &params) == 1) {
        fuzz_item(&v);
        fuzz_params(&params);
    }

    if (ovsa_sf_dict_get(fuzz_lo, size, "sha-256", &v, &params) == 1) {
        fuzz_item(&v);
    }

    return 0;
}
