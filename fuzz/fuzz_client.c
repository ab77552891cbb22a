/*
 * fuzz_client.c: the client SDK's handling of an answer (sdk/ovsa_client.c
 * through sdk/ovsa_client_int.h): header lines as libcurl hands them over,
 * then every check of ovsa_client_answer() and the verdict JSON, for a
 * POST /v1/check sent with a fixed nonce, in license mode (pinned).
 *
 * The signing key is a fixed test key (below), so that the seeds can be
 * real signed answers: its certificate, made at start, waits in the
 * signing-chain cache.  A keyid not in the cache makes the SDK fetch the
 * chain from https://127.0.0.1:1, where nothing listens.
 *
 * Input: header lines (a status line first when the status is not 200),
 * an empty line, the body.
 *
 * OVSA_FUZZ_SEEDS=DIR makes the target write its seed answers (signed now
 * with the fixed key at FUZZ_NOW) into DIR and exit: fuzz/README.md.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>

#include "fuzz_util.h"
#include "ovsa_client.h"
#include "ovsa_client_int.h"
#include "ovsa_httpsig.h"
#include "ovsa_pin.h"

#define FUZZ_URL     "https://127.0.0.1:1"
#define FUZZ_PATH    "/v1/check"
#define FUZZ_NONCE   "ZnV6ei1ub25jZS0wMDAwMQ"

/* a test key, for this target only */
static const char  fuzz_server_key[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEIDcCeM5ItMlycMeuHF4UBK4KV8bxvjO/MqVTcyx79XI/\n"
    "-----END PRIVATE KEY-----\n";

static EVP_PKEY       *fuzz_pkey;
static ovsa_client_t  *fuzz_client;
static char            fuzz_signer_keyid[OVSA_KEYID_LEN + 1];


/* an answer signed with the fixed key, as nginx would send it */
static void
fuzz_seed(const char *dir, const char *name, int status, const char *extra,
    const char *body)
{
    FILE           *fp;
    char            path[512], digest[OVSA_DIGEST_FIELD_LEN + 1];
    char            input[OVSA_SIG_INPUT_MAX], sig[OVSA_SIG_FIELD_MAX];
    char            base[2048];
    size_t          base_len;
    ovsa_err_t      err;
    ovsa_signer_t   signer;
    ovsa_sig_msg_t  msg;

    memset(&msg, 0, sizeof(msg));
    msg.status = status;
    msg.content_type.data = "application/json";
    msg.content_type.len = 16;
    msg.nonce.data = FUZZ_NONCE;
    msg.nonce.len = strlen(FUZZ_NONCE);
    msg.method.data = "POST";
    msg.method.len = 4;
    msg.target_uri.data = FUZZ_URL FUZZ_PATH;
    msg.target_uri.len = strlen(FUZZ_URL FUZZ_PATH);

    FUZZ_ASSERT(ovsa_signer_init(&signer, fuzz_pkey, fuzz_pkey, &err) == OVSA_OK);
    FUZZ_ASSERT(ovsa_sig_sign_response(&signer, &msg, body, strlen(body),
                                       FUZZ_NOW - 5, 300, base, sizeof(base),
                                       &base_len, digest, input, sig, &err)
                == OVSA_OK);

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    fp = fopen(path, "w");
    FUZZ_ASSERT(fp != NULL);
    fprintf(fp, "HTTP/1.1 %d X\r\nServer: nginx\r\n"
            "Content-Type: application/json\r\nContent-Length: %zu\r\n"
            "Content-Digest: %s\r\nSignature-Input: %s\r\nSignature: %s\r\n"
            "OVSA-Nonce: " FUZZ_NONCE "\r\n%s\r\n%s",
            status, strlen(body), digest, input, sig, extra, body);
    FUZZ_ASSERT(fclose(fp) == 0);
}


static void
fuzz_seeds(const char *dir)
{
    fuzz_seed(dir, "seed-valid", 200, "",
              "{\"verdict\":\"valid\",\"code\":\"OK\",\"server_time\":"
              "1767225595,\"valid_until\":1767225895,\"license_id\":"
              "\"LIC-1\"}");
    fuzz_seed(dir, "seed-denied", 403, "",
              "{\"verdict\":\"denied\",\"code\":\"LICENSE_REVOKED\","
              "\"message\":\"revoked by the vendor\",\"license_id\":"
              "\"LIC-1\"}");
    fuzz_seed(dir, "seed-error", 400, "X-Extra: 1\r\n",
              "{\"verdict\":\"error\",\"code\":\"BAD_FIELD\",\"message\":"
              "\"hwid: required\"}");
    fuzz_seed(dir, "seed-not-json", 200, "", "valid");
    fuzz_seed(dir, "seed-valid-on-403", 403, "",
              "{\"verdict\":\"valid\",\"code\":\"OK\"}");
    fuzz_seed(dir, "seed-repeated-field", 200, "Signature: other=:AAAA:\r\n",
              "{\"verdict\":\"valid\",\"code\":\"OK\"}");
    exit(0);
}


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    X509                *cert;
    char                *pem, pin[OVSA_PIN_LEN + 1], name[64];
    long                 len;
    BIO                 *bio;
    ovsa_err_t           err;
    const char          *dir, *pins[1];
    ovsa_client_conf_t   conf;

    fuzz_pkey = fuzz_key_pem(fuzz_server_key);
    FUZZ_ASSERT(ovsa_keyid_pkey(fuzz_pkey, fuzz_signer_keyid, &err) == OVSA_OK);

    if (getenv("OVSA_FUZZ_SEEDS") != NULL) {
        fuzz_seeds(getenv("OVSA_FUZZ_SEEDS"));
    }

    /* the signing chain, cached under its keyid */
    cert = fuzz_cert(fuzz_pkey, "fuzz license server");
    bio = BIO_new(BIO_s_mem());
    FUZZ_ASSERT(bio != NULL && PEM_write_bio_X509(bio, cert) == 1);
    len = BIO_get_mem_data(bio, &pem);
    dir = fuzz_tmpdir();
    snprintf(name, sizeof(name), "%s.pem", fuzz_signer_keyid);
    free(fuzz_write(dir, name, pem, (size_t) len));
    BIO_free(bio);

    FUZZ_ASSERT(ovsa_pin_cert(cert, pin, &err) == OVSA_OK);
    X509_free(cert);

    memset(&conf, 0, sizeof(conf));
    conf.url = FUZZ_URL;
    conf.cache_dir = dir;
    conf.skew = 60;
    conf.timeout_ms = 1000;
    pins[0] = pin;
    FUZZ_ASSERT(ovsa_client_new_pinned(&conf, pins, 1, &fuzz_client, &err)
                == OVSA_OK);
    ovsa_client_set_time(fuzz_client, FUZZ_NOW);
    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                 rc, first;
    char               *line, *nl;
    size_t              n;
    ovsa_err_t          err;
    ovsa_result_t       r;
    ovsa_client_resp_t  resp;

    memset(&resp, 0, sizeof(resp));
    memset(&r, 0, sizeof(r));
    resp.status = 200;
    resp.max = OVSA_CLIENT_MAX_BODY;

    /* header lines, each with its line end, as libcurl passes them */
    for (first = 1; size > 0; first = 0) {
        nl = memchr(data, '\n', size);
        n = nl ? (size_t) (nl - (const char *) data) + 1 : size;

        if ((n == 1) || (n == 2 && data[0] == '\r')) {
            data += n;
            size -= n;
            break;
        }

        line = malloc(n);
        FUZZ_ASSERT(line != NULL);
        memcpy(line, data, n);

        if (first && n >= 12 && memcmp(line, "HTTP/1.1 ", 9) == 0) {
            resp.status = (line[9] - '0') * 100 + (line[10] - '0') * 10
                          + (line[11] - '0');
        }

        FUZZ_ASSERT(ovsa_client_on_header(line, 1, n, &resp) == n);
        free(line);
        data += n;
        size -= n;
    }

    resp.body = malloc(size + 1);
    FUZZ_ASSERT(resp.body != NULL);
    if (size > 0) {
        memcpy(resp.body, data, size);
    }
    resp.body[size] = '\0';
    resp.len = size;

    strcpy(r.nonce, FUZZ_NONCE);

    ovsa_err_clear(&err);
    rc = ovsa_client_answer(fuzz_client, "POST", FUZZ_PATH, &resp, &r, &err);

    if (rc == OVSA_OK) {
        FUZZ_ASSERT(r.verified == 1);
        FUZZ_ASSERT(strcmp(r.keyid, fuzz_signer_keyid) == 0);
        FUZZ_ASSERT(strcmp(r.verdict, "valid") == 0
                    || strcmp(r.verdict, "denied") == 0
                    || strcmp(r.verdict, "error") == 0);
        FUZZ_ASSERT((r.status == 200) == (strcmp(r.verdict, "valid") == 0));

    } else {
        FUZZ_ASSERT(err.code != OVSA_E_NONE && err.msg[0] != '\0');
        /* only an answer whose signature verified can fail on its body */
        FUZZ_ASSERT(!r.verified || err.code == OVSA_E_PROTOCOL);
    }

    ovsa_client_resp_free(&resp);
    ovsa_result_free(&r);
    return 0;
}
