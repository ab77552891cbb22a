/*
 * ngx_http_ovsa_module.h: what the ovsa modules of one nginx share: the
 * configuration read from default.yaml and the verified identity.
 */

#ifndef _NGX_HTTP_OVSA_MODULE_H_INCLUDED_
#define _NGX_HTTP_OVSA_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <ovsa_conf.h>
#include <ovsa_httpsig.h>
#include <ovsa_x509.h>


typedef struct {
    ngx_str_t              file;        /* ovsa_config argument */
    ovsa_conf_t           *conf;        /* NULL without ovsa_config */
    ovsa_identity_t        id;          /* verified at configuration time */

    ovsa_signer_t          signer;      /* key, alg and keyid of answers */
    ngx_str_t              chain_pem;   /* leaf + intermediates */
} ngx_http_ovsa_main_conf_t;


typedef struct {
    ngx_flag_t             tls;
    u_char                *tls_file;    /* where ovsa_tls was given */
    ngx_uint_t             tls_line;
} ngx_http_ovsa_srv_conf_t;


extern ngx_module_t  ngx_http_ovsa_module;


#endif /* _NGX_HTTP_OVSA_MODULE_H_INCLUDED_ */
