/*
 * ovsa_p11_conf.h: the hardware key of a loaded default.yaml.
 */

#ifndef OVSA_P11_CONF_H
#define OVSA_P11_CONF_H

#include "ovsa_conf.h"
#include "ovsa_p11.h"

/*
 * Reads the PIN from hardware_key.pin_file (ovsa_secret_read_file) or
 * hardware_key.pin_env (the variable's value is wiped in this process's
 * environment), opens hardware_key.key_uri with hardware_key.module, and
 * wipes the PIN.  Returns what ovsa_p11_open() returns; OVSA_E_CONF_MISSING
 * when hardware_key is disabled or names no PIN source, OVSA_E_P11_PIN when
 * pin_env is unset or empty, and the reader's code when pin_file fails.
 */
int ovsa_p11_open_conf(const ovsa_conf_t *conf, ovsa_p11_t **out,
    ovsa_err_t *err);

#endif /* OVSA_P11_CONF_H */
