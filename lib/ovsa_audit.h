/*
 * ovsa_audit.h: the usage audit trail (docs/audit.md): the entry format
 * the backend's Lua scripts write (backend/lua/_audit.lua), the link
 * chain (SHA-1 of each canonical entry, its prev field) and the SHA-256
 * chain the signed checkpoints commit to, and the one verification of
 * both, shared by the backend (before it answers a head to sign) and
 * ovsactl audit verify.
 */

#ifndef OVSA_AUDIT_H
#define OVSA_AUDIT_H

#include <stddef.h>

#include "ovsa_err.h"

#define OVSA_AUDIT_DETAIL_MAX  16          /* name/value pairs */

/* A field of an entry: bytes inside the entry string, not NUL-ended. */
typedef struct {
    const char  *p;
    size_t       n;
} ovsa_audit_str_t;

/* One parsed entry; every pointer points into the string parsed. */
typedef struct {
    char               hash[41];           /* stored link hash, hex */
    char               prev[41];           /* hash of the entry before */
    long long          seq;
    long long          time;               /* Redis TIME, seconds */
    ovsa_audit_str_t   license;
    ovsa_audit_str_t   op;
    ovsa_audit_str_t   actor;
    ovsa_audit_str_t   name[OVSA_AUDIT_DETAIL_MAX];
    ovsa_audit_str_t   value[OVSA_AUDIT_DETAIL_MAX];
    int                ndetail;
    const char        *canon;              /* what hash covers */
    size_t             canon_len;
} ovsa_audit_entry_t;

/* A chain head: what a checkpoint states (and signs). */
typedef struct {
    long long  seq;
    long long  time;                       /* the head entry's time */
    char       hash[41];                   /* its link hash */
    char       digest[65];                 /* SHA-256 chain value, hex */
} ovsa_audit_head_t;

/*
 * Parses one stored entry "<hash> <canonical>".  Returns OVSA_OK, or
 * OVSA_ERR with OVSA_E_AUDIT_SYNTAX.
 */
int ovsa_audit_parse(const char *s, size_t len, ovsa_audit_entry_t *e,
    ovsa_err_t *err);

/*
 * Verifies a license's chain: entries[0..n-1] (the stored strings, in
 * list order) against the checkpoints cps[0..ncp-1] (any order; their
 * signatures are the caller's to check).  The chain starts at seq 1, or
 * right after a checkpoint (retention trimmed what it covers).  Checks,
 * entry by entry: syntax and license id (OVSA_E_AUDIT_SYNTAX), the seq
 * (OVSA_E_AUDIT_ORDER when an entry comes before its place, else
 * OVSA_E_AUDIT_GAP for a missing one), the link hash and prev
 * (OVSA_E_AUDIT_HASH), and at every checkpoint's seq its hash and digest
 * (OVSA_E_AUDIT_CHECKPOINT); a checkpoint past the last entry is a gap.
 * license: the id every entry must carry, or NULL.  On OVSA_OK *head is
 * the last entry's head (seq 0 when n is 0 and no checkpoint anchors);
 * on OVSA_ERR *bad (when not NULL) is the list index of the entry found
 * wrong, or n for a checkpoint past the end.
 */
int ovsa_audit_verify(const char *const *entries, const size_t *lens,
    size_t n, const ovsa_audit_head_t *cps, size_t ncp, const char *license,
    ovsa_audit_head_t *head, size_t *bad, ovsa_err_t *err);

#endif /* OVSA_AUDIT_H */
