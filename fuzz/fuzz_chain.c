/*
 * fuzz_chain.c: the signing chain as the SDK fetches it from
 * /.well-known/ovsa/chain (lib/ovsa_x509.c, ovsa_chain_load_mem()): PEM
 * blocks, every one a whole certificate; what loads is then verified
 * against a root made at start and checked as a pinned leaf, which must
 * fail for anything but that root.
 */

#include <stdint.h>

#include "fuzz_util.h"
#include "ovsa_pin.h"
#include "ovsa_x509.h"

static X509  *fuzz_root;


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    EVP_PKEY  *key;

    key = fuzz_key("P-256");
    fuzz_root = fuzz_cert(key, "fuzz root");
    EVP_PKEY_free(key);
    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int              rc;
    X509            *leaf;
    char             pin[OVSA_PIN_LEN + 1];
    ovsa_err_t       err;
    STACK_OF(X509)  *chain;

    ovsa_err_clear(&err);
    rc = ovsa_chain_load_mem((const char *) data, size, "chain", &chain,
                             &err);
    if (rc != OVSA_OK) {
        FUZZ_ASSERT(err.code == OVSA_E_PEM || err.code == OVSA_E_CHAIN_EMPTY
                    || err.code == OVSA_E_NOMEM);
        return 0;
    }

    FUZZ_ASSERT(sk_X509_num(chain) >= 1);
    leaf = sk_X509_value(chain, 0);

    (void) ovsa_pin_cert(leaf, pin, &err);
    (void) ovsa_leaf_verify(leaf, OVSA_VERIFY_EKU_SERVER | OVSA_VERIFY_POLICY,
                            FUZZ_NOW, &err);

    /* nobody else holds the root's key */
    rc = ovsa_chain_verify(chain, fuzz_root,
                           OVSA_VERIFY_EKU_SERVER | OVSA_VERIFY_POLICY,
                           FUZZ_NOW, &err);
    FUZZ_ASSERT(rc == OVSA_ERR
                || (sk_X509_num(chain) == 1
                    && X509_cmp(leaf, fuzz_root) == 0));

    sk_X509_pop_free(chain, X509_free);
    return 0;
}
