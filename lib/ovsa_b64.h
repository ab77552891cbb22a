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

/* characters of the base64 (padded) and base64url (unpadded) of n bytes */
#define OVSA_B64_LEN(n)     (4 * (((n) + 2) / 3))
#define OVSA_B64URL_LEN(n)  ((4 * (n) + 2) / 3)

/*
 * Writes NUL-terminated standard base64 of in to out, which needs
 * OVSA_B64_LEN(len) + 1 bytes; with url = 1 base64url without padding,
 * for which OVSA_B64URL_LEN(len) + 1 bytes are enough.  Returns the
 * length written before the NUL.
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
