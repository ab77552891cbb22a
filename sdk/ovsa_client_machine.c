/*
 * ovsa_client_machine.c: the machine key of a client: an Ed25519 key
 * made on first use in the client's state directory, whose public half
 * the server records with an activation or a lease, and with which every
 * later request on them is signed (docs/signatures.md "Request
 * signatures").  The file is PKCS#8 PEM, mode 0600, written to a temp
 * file and linked into place, so two processes starting at once end up
 * with the same key.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "ovsa_client.h"
#include "ovsa_file.h"
#include "ovsa_key.h"

#define OVSA_MACHINE_KEY_FILE  "machine.key"


/* Makes a new key and writes it to path unless path exists. */
static int
ovsa_machine_key_create(const char *path, ovsa_err_t *err)
{
    int        rc;
    long       len;
    char      *pem;
    BIO       *bio;
    EVP_PKEY  *key;

    key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    bio = BIO_new(BIO_s_mem());

    if (key == NULL || bio == NULL
        || PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) != 1)
    {
        BIO_free(bio);
        EVP_PKEY_free(key);
        return ovsa_err_ssl(err, OVSA_E_KEY, "machine key: cannot make an "
                            "Ed25519 key");
    }

    len = BIO_get_mem_data(bio, &pem);
    rc = ovsa_file_write(path, pem, (size_t) len, 0600, OVSA_FILE_NOCLOBBER,
                         err);

    BIO_free(bio);
    EVP_PKEY_free(key);

    if (rc != OVSA_OK && access(path, F_OK) == 0) {
        return OVSA_OK;       /* made by another process meanwhile */
    }

    return rc;
}


int
ovsa_client_machine_key(const char *state_dir, EVP_PKEY **out,
    ovsa_err_t *err)
{
    char  path[4096];

    *out = NULL;

    if (state_dir == NULL || state_dir[0] == '\0') {
        return ovsa_err_set(err, OVSA_E_CONF_MISSING, "machine key: no "
                            "state directory");
    }

    if (mkdir(state_dir, 0700) != 0 && errno != EEXIST) {
        return ovsa_err_set(err, OVSA_E_IO, "machine key: %s: %s",
                            state_dir, strerror(errno));
    }

    if ((size_t) snprintf(path, sizeof(path), "%s/%s", state_dir,
                          OVSA_MACHINE_KEY_FILE) >= sizeof(path))
    {
        return ovsa_err_set(err, OVSA_E_CONF_VALUE, "machine key: %s: path "
                            "too long", state_dir);
    }

    if (access(path, F_OK) != 0
        && ovsa_machine_key_create(path, err) != OVSA_OK)
    {
        return OVSA_ERR;
    }

    return ovsa_key_load(path, out, err);
}
