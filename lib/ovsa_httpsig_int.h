/*
 * ovsa_httpsig_int.h: the RFC 9421 machinery behind both ovsa profiles,
 * the answers' (lib/ovsa_httpsig.c) and the machine-signed requests'
 * (lib/ovsa_reqsig.c): one writer of Signature-Input, one base builder,
 * one parser.  Internal to lib/: callers use the two profiles' APIs.
 */

#ifndef OVSA_HTTPSIG_INT_H
#define OVSA_HTTPSIG_INT_H

#include "ovsa_httpsig.h"

/* at most this many covered components in a profile */
#define OVSA_SIG_PROFILE_MAX  8

typedef struct {
    const char  *name;             /* "@status", "content-digest", ... */
    int          req;              /* ;req (a component of the request) */
} ovsa_sig_comp_t;

/*
 * A profile: the covered components in order, of which the last nopt are
 * optional together (a signature covers either ncomp - nopt or all
 * ncomp), the parameters created, [expires,] keyid, alg, tag in this
 * order, and the tag.
 */
typedef struct {
    const ovsa_sig_comp_t  *comp;
    size_t                  ncomp;
    size_t                  nopt;
    int                     expires;  /* the profile has "expires" */
    const char             *tag;
    int                     batch;    /* the batch algs are allowed */
} ovsa_sig_profile_t;


/*
 * Writes the Signature-Input field value of the first ncomp components
 * of pf with parameters p, NUL-terminated, to out[OVSA_SIG_INPUT_MAX].
 */
int ovsa_sig_profile_input(const ovsa_sig_profile_t *pf, size_t ncomp,
    const ovsa_sig_params_t *p, char *out, ovsa_err_t *err);

/*
 * The signature base of the first ncomp components of pf, whose values
 * are v[0..ncomp-1] (trimmed of OWS; absent or holding a control
 * character: OVSA_E_SIG_COMPONENTS), and p; as ovsa_sig_base(): *len is
 * always set, out written only when size >= *len.
 */
int ovsa_sig_profile_base(const ovsa_sig_profile_t *pf, size_t ncomp,
    const ovsa_str_t *v, const ovsa_sig_params_t *p, char *out, size_t size,
    size_t *len, ovsa_err_t *err);

/*
 * Parses Signature-Input and Signature (member "ovsa") for profile pf:
 * exactly its components (all, or all but the optional ones: *ncomp says
 * which), exactly its parameters, its tag.  Errors as ovsa_sig_parse().
 */
int ovsa_sig_profile_parse(const ovsa_sig_profile_t *pf, ovsa_str_t input,
    ovsa_str_t signature, ovsa_sig_params_t *p, size_t *ncomp,
    unsigned char *sig, size_t *sig_len, ovsa_err_t *err);

#endif /* OVSA_HTTPSIG_INT_H */
