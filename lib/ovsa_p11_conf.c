/*
 * ovsa_p11_conf.c: open the hardware key named by default.yaml's
 * hardware_key: section (module, key_uri, pin_file | pin_env).
 */

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "ovsa_conf.h"
#include "ovsa_p11.h"
#include "ovsa_p11_conf.h"


int
ovsa_p11_open_conf(const ovsa_conf_t *conf, ovsa_p11_t **out,
    ovsa_err_t *err)
{
    int    rc;
    char  *pin, *env;

    if (!conf->hw_enabled) {
        return ovsa_err_set(err, OVSA_E_CONF_MISSING,
                            "%s: hardware_key: not enabled", conf->file);
    }

    if (conf->hw_pin_file != NULL) {
        pin = ovsa_secret_read_file(conf->hw_pin_file, err);
        if (pin == NULL) {
            return OVSA_ERR;
        }

    } else if (conf->hw_pin_env != NULL) {
        env = getenv(conf->hw_pin_env);
        if (env == NULL || env[0] == '\0') {
            return ovsa_err_set(err, OVSA_E_P11_PIN,
                                "hardware_key.pin_env: $%s is not set "
                                "(nginx passes it only with \"env %s;\")",
                                conf->hw_pin_env, conf->hw_pin_env);
        }

        pin = OPENSSL_strdup(env);
        if (pin == NULL) {
            return ovsa_err_set(err, OVSA_E_NOMEM, "pin_env: no memory");
        }

        /* This process needs it no more: wipe the environment copy. */
        OPENSSL_cleanse(env, strlen(env));

    } else {
        return ovsa_err_set(err, OVSA_E_CONF_MISSING,
                            "%s:%d: hardware_key: pin_file or pin_env needed",
                            conf->file, conf->hw_line);
    }

    rc = ovsa_p11_open(conf->hw_module, conf->hw_key_uri, pin, out, err);

    OPENSSL_cleanse(pin, strlen(pin));
    OPENSSL_free(pin);

    return rc;
}
