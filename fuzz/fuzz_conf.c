/*
 * fuzz_conf.c: the default.yaml loader (lib/ovsa_conf.c) over any text,
 * through ovsa_conf_load_mem() as if the file were <tmp>/default.yaml;
 * the files a configuration may name exist there (chain.pem, key.pem,
 * root.pem, isv1.pem, isv2.pem, admin.token, redis.pass, pin.txt,
 * softhsm2.so).  Errors name the file and line with a configuration
 * code; what loads satisfies the schema's rules.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "ovsa_conf.h"

static char  *fuzz_yaml;


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    size_t       i;
    const char  *dir;
    const char  *files[] = { "chain.pem", "key.pem", "root.pem", "isv1.pem",
                             "isv2.pem", "admin.token", "redis.pass",
                             "pin.txt", "softhsm2.so" };

    dir = fuzz_tmpdir();
    for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        free(fuzz_write(dir, files[i], "placeholder\n", 12));
    }

    fuzz_yaml = malloc(strlen(dir) + sizeof("/default.yaml"));
    FUZZ_ASSERT(fuzz_yaml != NULL);
    strcpy(fuzz_yaml, dir);
    strcat(fuzz_yaml, "/default.yaml");
    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int           i;
    ovsa_err_t    err;
    ovsa_conf_t  *conf;

    ovsa_err_clear(&err);
    conf = NULL;

    if (ovsa_conf_load_mem(fuzz_yaml, (const char *) data, size, &conf, &err)
        != OVSA_OK)
    {
        FUZZ_ASSERT(conf == NULL);
        FUZZ_ASSERT(err.code >= OVSA_E_CONF_SYNTAX
                    && err.code <= OVSA_E_CONF_FILE);
        FUZZ_ASSERT(strncmp(err.msg, fuzz_yaml, strlen(fuzz_yaml)) == 0
                    && err.msg[strlen(fuzz_yaml)] == ':');
        return 0;
    }

    FUZZ_ASSERT(strcmp(conf->file, fuzz_yaml) == 0);
    FUZZ_ASSERT(conf->chain != NULL && conf->root != NULL);
    FUZZ_ASSERT((conf->key != NULL) != (conf->hw_enabled != 0));
    FUZZ_ASSERT(conf->listen != NULL && conf->admin_listen != NULL
                && conf->redis_address != NULL && conf->redis_prefix != NULL);
    FUZZ_ASSERT(conf->threads >= 1 && conf->threads <= 256);
    FUZZ_ASSERT(conf->redis_db >= 0 && conf->redis_db <= 15);

    if (conf->isv_certs != NULL) {
        for (i = 0; i < conf->n_isv_certs; i++) {
            FUZZ_ASSERT(conf->isv_certs[i] != NULL
                        && conf->isv_certs[i][0] == '/');
        }
        FUZZ_ASSERT(conf->isv_certs[i] == NULL);
    }

    ovsa_conf_free(conf);
    return 0;
}
