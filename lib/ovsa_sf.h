/*
 * ovsa_sf.h: the part of RFC 8941 (Structured Field Values for HTTP) that
 * the ovsa signature fields need: dictionaries, inner lists, parameters
 * and bare items, parsed in place without allocation.
 *
 * Why a parser of our own: Signature-Input, Signature (RFC 9421) and
 * Content-Digest (RFC 9530) are RFC 8941 dictionaries, and no C library in
 * Debian 12 parses Structured Fields (nginx, curl, OpenSSL and jansson do
 * not; the implementations that exist are in Go, Rust, Python and JS).
 * This one is strict (the grammar of RFC 8941 section 4.2, every member is
 * checked even when skipped), does not decode, and stays small: strings
 * are handed out raw, with their escapes, which is enough for comparing
 * them with values that contain no '"' or '\'.
 */

#ifndef OVSA_SF_H
#define OVSA_SF_H

#include <stddef.h>

enum {
    OVSA_SF_INTEGER = 1,
    OVSA_SF_DECIMAL,
    OVSA_SF_STRING,          /* s/len: between the quotes, escapes kept */
    OVSA_SF_TOKEN,
    OVSA_SF_BINARY,          /* s/len: the base64 text between the colons */
    OVSA_SF_BOOLEAN,         /* num: 0 or 1 */
    OVSA_SF_INNER_LIST       /* s/len: the text between the parentheses */
};

typedef struct {
    int          type;
    const char  *s;
    size_t       len;
    long long    num;        /* OVSA_SF_INTEGER, OVSA_SF_BOOLEAN */
} ovsa_sf_item_t;

/* A cursor over field text: p moves towards end. */
typedef struct {
    const char  *p;
    const char  *end;
    int          state;      /* dictionary: 0 before the first member */
} ovsa_sf_t;

/* Starts a cursor over a dictionary field value (outer spaces allowed). */
void ovsa_sf_init(ovsa_sf_t *c, const char *s, size_t len);

/*
 * Returns the next dictionary member: 1 with its key (key/key_len), value
 * (an item or an inner list) and a cursor over its parameters; 0 at the
 * end; -1 when the text is not a valid dictionary.
 */
int ovsa_sf_dict_next(ovsa_sf_t *c, const char **key, size_t *key_len,
    ovsa_sf_item_t *value, ovsa_sf_t *params);

/*
 * Finds member key in a whole dictionary (the last one wins, RFC 8941
 * section 3.2).  Returns 1 found, 0 absent, -1 malformed dictionary.
 */
int ovsa_sf_dict_get(const char *s, size_t len, const char *key,
    ovsa_sf_item_t *value, ovsa_sf_t *params);

/* Starts a cursor over the items of an inner list value. */
void ovsa_sf_list_init(ovsa_sf_t *c, const ovsa_sf_item_t *inner);

/* Next item of an inner list: 1 (item, params), 0 end, -1 malformed. */
int ovsa_sf_list_next(ovsa_sf_t *c, ovsa_sf_item_t *item,
    ovsa_sf_t *params);

/* Next parameter: 1 (key, value; a bare key is boolean true), 0 end. */
int ovsa_sf_param_next(ovsa_sf_t *c, const char **key, size_t *key_len,
    ovsa_sf_item_t *value);

/* Returns 1 when item is a string or token equal to the C string s. */
int ovsa_sf_item_is(const ovsa_sf_item_t *item, int type, const char *s);

#endif /* OVSA_SF_H */
