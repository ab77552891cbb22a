/*
 * ovsa_client_int.h: the SDK's handling of one received answer, apart
 * from the transport, for the fuzz target fuzz/fuzz_client.c.  Not part of
 * the installed API.
 */

#ifndef OVSA_CLIENT_INT_H
#define OVSA_CLIENT_INT_H

#include <stddef.h>

#include <openssl/x509.h>

#include "ovsa_client.h"
#include "ovsa_license.h"

/* the response fields the checks read */
enum {
    OVSA_H_CONTENT_TYPE = 0,
    OVSA_H_CONTENT_DIGEST,
    OVSA_H_SIGNATURE_INPUT,
    OVSA_H_SIGNATURE,
    OVSA_H_NONCE,
    OVSA_H_RETRY_AFTER,
    OVSA_H_N
};

/* One HTTP exchange as received. */
typedef struct {
    long     status;
    char    *h[OVSA_H_N];   /* combined field values, NUL-terminated */
    char    *body;          /* NUL-terminated; len bytes */
    size_t   len;
    size_t   max;
    int      too_big;
} ovsa_client_resp_t;

/*
 * libcurl's header callback: takes one header line ("Name: value\r\n", or
 * a status line, which forgets the fields seen so far) of size * n bytes
 * into resp.  Returns size * n, or 0 when out of memory.
 */
size_t ovsa_client_on_header(char *line, size_t size, size_t n, void *resp);

/* Frees the fields and body of resp (not resp itself). */
void ovsa_client_resp_free(ovsa_client_resp_t *resp);

/*
 * Checks an answer received for "method path" sent with nonce r->nonce:
 * nonce echo, Content-Digest, signature, time window, signing chain (from
 * the cache or fetched), then the verdict in the body (ovsa_client.h).
 * The body moves from resp to r.  Returns OVSA_OK or OVSA_ERR with err
 * set; the caller frees resp and r.
 */
int ovsa_client_answer(ovsa_client_t *c, const char *method,
    const char *path, ovsa_client_resp_t *resp, ovsa_result_t *r,
    ovsa_err_t *err);

/*
 * Makes r->grant from a verified answer (ovsa_client_grant.c): origin,
 * method and path of the request, the fields of resp, r's nonce, request
 * digest and body, and the verified signing chain.
 */
int ovsa_grant_make(const char *origin, const char *method, const char *path,
    const ovsa_client_resp_t *resp, ovsa_result_t *r, STACK_OF(X509) *chain,
    ovsa_err_t *err);

/* Verifies with this chain (PEM, copied) instead of the cache and the
 * network. */
int ovsa_client_set_chain(ovsa_client_t *c, const char *pem, size_t len,
    ovsa_err_t *err);

/* Requests send this request signature (both borrowed) instead of
 * signing with the machine key; NULL, NULL: sign again. */
void ovsa_client_set_presigned(ovsa_client_t *c, const char *input,
    const char *sig);

/* An offline request as the offline machine made it (docs/offline.md). */
typedef struct {
    const char  *body;
    const char  *nonce;
    const char  *input;     /* Signature-Input */
    const char  *sig;       /* Signature */
} ovsa_presigned_t;

/*
 * ovsa_client_check_license(); with pre, the body, nonce and request
 * signature are pre's (fields unused; no machine key is loaded), and the
 * license secret is the submitting machine's.
 */
int ovsa_license_walk(const ovsa_license_conf_t *conf, const char *method,
    const char *path, const char *fields, const ovsa_presigned_t *pre,
    ovsa_license_result_t *res, ovsa_err_t *err);

/*
 * Loads conf->license, checks its signer against conf->isv; *isv (when
 * isv is not NULL) gets the ISV certificate or NULL.  Free both.
 */
int ovsa_license_open(const ovsa_license_conf_t *conf, ovsa_license_t **out,
    X509 **isv, ovsa_err_t *err);

/* ovsa_client_request() with the given nonce (NULL: a fresh one). */
int ovsa_client_request_nonce(ovsa_client_t *c, const char *method,
    const char *path, const char *json_body, const char *nonce,
    ovsa_result_t *r, ovsa_err_t *err);

#endif /* OVSA_CLIENT_INT_H */
