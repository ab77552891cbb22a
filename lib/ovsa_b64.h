/*
 * ovsa_b64.h: base64 (RFC 4648 section 4, padded) and base64url (section
 * 5, without padding), strict: a character of the other alphabet, a '='
 * anywhere but the end, a bad length or a last character whose unused bits
 * are not zero (non-canonical text, RFC 4648 section 3.5) is an error, so
 * each byte string has exactly one accepted text.
 */

#ifndef OVSA_B64_H
#define OVSA_B64_H

#include <stddef.h>

/*
 * Writes NUL-terminated standard base64 of in (url = 1: base64url, no
 * padding) to out, which needs 4 * ((len + 2) / 3) + 1 bytes; returns its
 * length.
 */
size_t ovsa_b64_encode(const unsigned char *in, size_t len, char *out,
    int url);

/* The same into a malloc'ed string (base64url); NULL when out of memory. */
char *ovsa_b64url_alloc(const unsigned char *in, size_t len);

/*
 * Decodes len characters (url = 1: base64url without padding, else
 * standard with padding).  Returns a malloc'ed buffer, NUL after the
 * *outlen bytes, that the caller frees; NULL when the text is not base64
 * or memory is short.
 */
unsigned char *ovsa_b64_decode_alloc(const char *in, size_t len, int url,
    size_t *outlen);

/*
 * Decodes standard padded base64 into out; returns the length, or -1 when
 * malformed or longer than size.
 */
long ovsa_b64_decode(const char *in, size_t len, unsigned char *out,
    size_t size);

#endif /* OVSA_B64_H */
