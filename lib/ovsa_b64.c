/*
 * ovsa_b64.c: base64 and base64url (RFC 4648) for all of libovsa: pins and
 * key ids, Content-Digest and signatures, nonces, JWS licenses.
 * OpenSSL's EVP_EncodeBlock/EVP_DecodeBlock do the coding; this file adds
 * the url alphabet, padding rules and strictness.
 */

#include <ctype.h>
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


unsigned char *
ovsa_b64_decode_alloc(const char *in, size_t len, int url, size_t *outlen)
{
    int             c, pad;
    size_t          i, n;
    unsigned char  *std, *out;

    pad = 0;
    if (url) {
        if (len % 4 == 1) {
            return NULL;
        }
        pad = (4 - len % 4) % 4;

    } else {
        if (len % 4 != 0) {
            return NULL;
        }
        while (len > 0 && in[len - 1] == '=' && pad < 2) {
            len--;
            pad++;
        }
    }

    n = len + pad;
    std = malloc(n + 1);
    out = malloc(n / 4 * 3 + 1);
    if (std == NULL || out == NULL) {
        free(std);
        free(out);
        return NULL;
    }

    for (i = 0; i < len; i++) {
        c = (unsigned char) in[i];
        if (url && (c == '+' || c == '/')) {
            goto bad;
        }
        if (!url && (c == '-' || c == '_')) {
            goto bad;
        }
        if (c == '-') {
            c = '+';
        } else if (c == '_') {
            c = '/';
        } else if (!isalnum(c) && c != '+' && c != '/') {
            goto bad;
        }
        std[i] = (unsigned char) c;
    }
    memset(std + len, '=', pad);
    std[n] = '\0';

    if (n == 0) {
        *outlen = 0;
        out[0] = '\0';
        free(std);
        return out;
    }

    if (EVP_DecodeBlock(out, std, (int) n) < 0) {
        goto bad;
    }

    *outlen = n / 4 * 3 - pad;
    out[*outlen] = '\0';
    free(std);
    return out;

bad:

    free(std);
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
