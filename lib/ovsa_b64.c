/*
 * ovsa_b64.c: base64 and base64url (RFC 4648) for all of libovsa: pins and
 * key ids, Content-Digest and signatures, nonces, JWS licenses.
 * OpenSSL's EVP_EncodeBlock encodes; decoding is done here, strictly: one
 * alphabet, padding only where the variant has it, and canonical text only
 * (no set unused bits).
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "ovsa_b64.h"


size_t
ovsa_b64_encode(const unsigned char *in, size_t len, char *out, int url)
{
    size_t         i, n, full;
    unsigned char  tail[5];

    if (!url) {
        return EVP_EncodeBlock((unsigned char *) out, in, (int) len);
    }

    /*
     * base64url: whole groups straight into out, the last 1 or 2 bytes
     * through tail, so that no '=' (and no byte past the NUL) is written
     * to out: it needs only 4 * len / 3 rounded up, plus 1, bytes.
     */
    full = len / 3 * 3;
    n = EVP_EncodeBlock((unsigned char *) out, in, (int) full);

    if (len > full) {
        EVP_EncodeBlock(tail, in + full, (int) (len - full));
        memcpy(out + n, tail, len - full + 1);
        n += len - full + 1;
    }

    out[n] = '\0';

    for (i = 0; i < n; i++) {
        if (out[i] == '+') {
            out[i] = '-';
        } else if (out[i] == '/') {
            out[i] = '_';
        }
    }

    return n;
}


/* the 6-bit value of c in the alphabet (url: base64url), or -1 */
static int
ovsa_b64_value(int c, int url)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }

    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }

    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }

    if (c == (url ? '-' : '+')) {
        return 62;
    }

    if (c == (url ? '_' : '/')) {
        return 63;
    }

    return -1;
}


unsigned char *
ovsa_b64_decode_alloc(const char *in, size_t len, int url, size_t *outlen)
{
    int             v;
    size_t          i, n, pad;
    uint32_t        acc;
    unsigned char  *out;

    pad = 0;
    if (!url) {
        if (len % 4 != 0) {
            return NULL;
        }
        while (len > 0 && in[len - 1] == '=' && pad < 2) {
            len--;
            pad++;
        }
    }

    /* 4n characters, or a tail of 2 (one byte) or 3 (two bytes) */
    if (len % 4 == 1) {
        return NULL;
    }

    out = malloc(len / 4 * 3 + 3);
    if (out == NULL) {
        return NULL;
    }

    acc = 0;
    n = 0;

    for (i = 0; i < len; i++) {
        v = ovsa_b64_value((unsigned char) in[i], url);
        if (v < 0) {
            goto bad;
        }

        acc = acc << 6 | (uint32_t) v;

        if (i % 4 == 3) {
            out[n++] = (unsigned char) (acc >> 16);
            out[n++] = (unsigned char) (acc >> 8);
            out[n++] = (unsigned char) acc;
            acc = 0;
        }
    }

    /*
     * The tail: its last character has unused bits, which must be zero
     * (RFC 4648 section 3.5), else two texts would decode to the same bytes.
     */
    switch (len % 4) {

    case 2:
        if (acc & 0x0f) {
            goto bad;
        }
        out[n++] = (unsigned char) (acc >> 4);
        break;

    case 3:
        if (acc & 0x03) {
            goto bad;
        }
        out[n++] = (unsigned char) (acc >> 10);
        out[n++] = (unsigned char) (acc >> 2);
        break;

    default:
        break;
    }

    out[n] = '\0';
    *outlen = n;
    return out;

bad:

    free(out);
    return NULL;
}


char *
ovsa_b64url_alloc(const unsigned char *in, size_t len)
{
    char  *out;

    out = malloc(4 * ((len + 2) / 3) + 1);
    if (out != NULL) {
        ovsa_b64_encode(in, len, out, 1);
    }

    return out;
}


long
ovsa_b64_decode(const char *in, size_t len, unsigned char *out, size_t size)
{
    size_t          n;
    unsigned char  *p;

    p = ovsa_b64_decode_alloc(in, len, 0, &n);
    if (p == NULL) {
        return -1;
    }

    if (n > size) {
        free(p);
        return -1;
    }

    memcpy(out, p, n);
    free(p);
    return (long) n;
}
