/*
 * fuzz_b64.c: lib/ovsa_b64.c: decoding any text in both alphabets (what
 * decodes must encode back to exactly the same text: strict decoding means
 * one spelling per byte string), and encode -> decode of any bytes.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "ovsa_b64.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int             url;
    long            n;
    char           *text;
    size_t          len, tlen;
    unsigned char  *raw, *buf;

    text = malloc(4 * ((size + 2) / 3) + 1);
    FUZZ_ASSERT(text != NULL);

    for (url = 0; url <= 1; url++) {

        /* the input as text */
        raw = ovsa_b64_decode_alloc((const char *) data, size, url, &len);
        if (raw != NULL) {
            FUZZ_ASSERT(raw[len] == '\0');
            FUZZ_ASSERT(len <= size / 4 * 3 + 2);
            tlen = ovsa_b64_encode(raw, len, text, url);
            FUZZ_ASSERT(tlen == size && memcmp(text, data, size) == 0);
            free(raw);
        }

        /* the input as bytes */
        tlen = ovsa_b64_encode(data, size, text, url);
        FUZZ_ASSERT(tlen == strlen(text));
        raw = ovsa_b64_decode_alloc(text, tlen, url, &len);
        FUZZ_ASSERT(raw != NULL);
        FUZZ_ASSERT(len == size && memcmp(raw, data, size) == 0);
        free(raw);
    }

    /* the fixed-buffer decoder: same answer, and never beyond size */
    buf = malloc(size + 1);
    FUZZ_ASSERT(buf != NULL);
    n = ovsa_b64_decode((const char *) data, size, buf, size / 2);
    raw = ovsa_b64_decode_alloc((const char *) data, size, 0, &len);
    FUZZ_ASSERT(n == (raw != NULL && len <= size / 2 ? (long) len : -1));
    if (n > 0) {
        FUZZ_ASSERT(memcmp(buf, raw, len) == 0);
    }
    free(raw);
    free(buf);

    /* a URL-safe helper */
    text[0] = '\0';
    free(text);
    text = ovsa_b64url_alloc(data, size);
    FUZZ_ASSERT(text != NULL);
    raw = ovsa_b64_decode_alloc(text, strlen(text), 1, &len);
    FUZZ_ASSERT(raw != NULL && len == size);
    free(raw);
    free(text);

    return 0;
}
