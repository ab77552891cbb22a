#!/bin/sh
# shellcheck disable=SC2015  # "a && b || die" is meant: die if either fails
# ovsa_dev_ca.sh: a development vendor CA (root -> intermediate -> leaf), so
# the whole provisioning flow runs on one machine and in tests.  Never use it
# for production: its keys are plain files next to each other.
#
# CADIR layout:
#   root.key root.pem                   self-signed root (CA:TRUE, keyCertSign)
#   intermediate.key intermediate.pem   CA:TRUE,pathlen:0, signed by the root
#   ca.cnf                              the `openssl ca` configuration
#   db/index.txt db/certs/              the `openssl ca` database
set -eu
umask 077

PROG=ovsa_dev_ca.sh
# ovsa_bin: ovsatool, found as every ovsa script finds it
. "$(dirname "$0")/ovsa_bin.sh"

usage() {
    cat <<EOF
usage: $PROG COMMAND [options]

  init -d CADIR [--force]
        create a root CA and an intermediate CA signed by it; refuses when
        CADIR already holds a CA, unless --force
  sign -d CADIR -in CSR -out CHAIN [-days N] [-san LIST]
       [-startdate YYYYMMDDHHMMSSZ -enddate YYYYMMDDHHMMSSZ]
        issue a server leaf (EKU serverAuth, the ovsa policy of
        \`ovsatool policy-oid\`) from CSR, signed by the intermediate; CHAIN gets leaf + intermediate.
        SAN: LIST ("DNS:a,IP:1.2.3.4"), else the CSR's, else
        DNS:localhost,IP:127.0.0.1.  Validity: -days (default 90), or the
        explicit dates (e.g. an already expired leaf for tests)
  issue-client -d CADIR -cn NAME -out PREFIX [-days N]
        a client certificate (EKU clientAuth): PREFIX.key (0600),
        PREFIX.crt (leaf), PREFIX-chain.pem (leaf + intermediate)
  help  this text

The root certificate is CADIR/root.pem.
EOF
}

die() { echo "$PROG: $*" >&2; exit 1; }

WORK=""
CLEAN=""        # newline-separated paths removed on exit
cleanup() {
    [ -z "$WORK" ] || rm -rf "$WORK"
    [ -n "$CLEAN" ] || return 0
    printf '%s\n' "$CLEAN" | while IFS= read -r p; do
        [ -z "$p" ] || rm -rf "$p"
    done
}
# later_remove PATH: remove PATH when the script exits (temporaries).
later_remove() {
    CLEAN="$CLEAN
$1"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

mkwork() {
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/ovsa_dev_ca.XXXXXX") \
        || die "cannot create a temporary directory"
}

# run LOG-NAME cmd...: runs an openssl step, keeps its chatter out of the
# way and shows it only when the step fails.
run() {
    _log="$WORK/$1.log"
    shift
    "$@" >"$_log" 2>&1 </dev/null || { cat "$_log" >&2; return 1; }
}

need_value() {
    [ $# -ge 2 ] || die "option $1 needs a value"
}

# policy_oid: the certificate policy of ovsa server leaves, from lib (the
# one place it is written); openssl needs it in the extension configs.
policy_oid() {
    _t=$(ovsa_bin ovsatool) \
        || die "ovsatool not found (build it with make, install it, or set OVSATOOL)"
    "$_t" policy-oid || die "ovsatool policy-oid failed"
}

abspath() {
    case "$1" in
    /*) printf '%s\n' "$1" ;;
    *)  printf '%s/%s\n' "$(pwd)" "$1" ;;
    esac
}

need_ca() {
    [ -n "$CADIR" ] || die "missing -d CADIR"
    for f in root.pem intermediate.pem intermediate.key ca.cnf; do
        [ -f "$CADIR/$f" ] || die "$CADIR: not a CA directory (no $f; run init)"
    done
}

write_ca_cnf() {
    cat >"$1" <<EOF
# ovsa development CA configuration, written by $PROG init.
[ req ]
distinguished_name = req_dn
prompt             = no

[ req_dn ]
CN = unused

[ v3_root ]
basicConstraints       = critical, CA:TRUE
keyUsage               = critical, keyCertSign, cRLSign
subjectKeyIdentifier   = hash

[ v3_intermediate ]
basicConstraints       = critical, CA:TRUE, pathlen:0
keyUsage               = critical, keyCertSign, cRLSign
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always
certificatePolicies    = $3

[ ca ]
default_ca = ovsa_dev_ca

[ ovsa_dev_ca ]
dir             = $2
database        = \$dir/db/index.txt
new_certs_dir   = \$dir/db/certs
certificate     = \$dir/intermediate.pem
private_key     = \$dir/intermediate.key
default_md      = sha256
default_days    = 90
policy          = policy_any
unique_subject  = no
copy_extensions = none
rand_serial     = yes
email_in_dn     = no

[ policy_any ]
commonName             = supplied
organizationName       = optional
organizationalUnitName = optional
countryName            = optional
stateOrProvinceName    = optional
localityName           = optional
emailAddress           = optional
EOF
}

cmd_init() {
    CADIR="" force=0
    while [ $# -gt 0 ]; do
        case "$1" in
        -d)      need_value "$@"; CADIR=$2; shift 2 ;;
        --force) force=1; shift ;;
        *)       die "init: unknown option '$1'" ;;
        esac
    done
    [ -n "$CADIR" ] || die "init: missing -d CADIR"
    if [ -e "$CADIR/root.pem" ] || [ -e "$CADIR/root.key" ]; then
        [ "$force" -eq 1 ] \
            || die "init: $CADIR already holds a CA (use --force to replace it)"
    fi
    mkdir -p "$CADIR" || die "init: cannot create $CADIR"
    CADIR=$(cd "$CADIR" && pwd) || die "init: cannot enter $CADIR"
    mkwork
    new=$(mktemp -d "$CADIR/.init.XXXXXX") || die "init: cannot write in $CADIR"
    later_remove "$new"

    oid=$(policy_oid) || exit 1
    write_ca_cnf "$new/ca.cnf" "$CADIR" "$oid" || die "init: cannot write ca.cnf"
    mkdir -p "$new/db/certs" && : >"$new/db/index.txt" \
        || die "init: cannot create the CA database"

    run root-key openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
        -out "$new/root.key" || die "init: root key generation failed"
    run root-cert openssl req -config "$new/ca.cnf" -new -x509 -sha256 \
        -key "$new/root.key" -subj "/O=OVSA Development/CN=OVSA Dev Root CA" \
        -days 3650 -extensions v3_root -out "$new/root.pem" \
        || die "init: root certificate failed"

    run int-key openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
        -out "$new/intermediate.key" \
        || die "init: intermediate key generation failed"
    run int-csr openssl req -config "$new/ca.cnf" -new -sha256 \
        -key "$new/intermediate.key" \
        -subj "/O=OVSA Development/CN=OVSA Dev Intermediate CA" \
        -out "$WORK/int.csr" || die "init: intermediate CSR failed"
    serial=0x$(openssl rand -hex 16) || die "init: no random serial"
    run int-cert openssl x509 -req -sha256 -in "$WORK/int.csr" \
        -CA "$new/root.pem" -CAkey "$new/root.key" -set_serial "$serial" \
        -days 1825 -extfile "$new/ca.cnf" -extensions v3_intermediate \
        -out "$new/intermediate.pem" || die "init: intermediate certificate failed"

    chmod 0644 "$new/root.pem" "$new/intermediate.pem" \
        || die "init: chmod failed"
    # Into place; root.pem (the "a CA lives here" marker) last.
    rm -rf "$CADIR/db" || die "init: cannot remove the old CA database"
    for f in db ca.cnf intermediate.key intermediate.pem root.key root.pem; do
        mv -f "$new/$f" "$CADIR/$f" || die "init: cannot install $f"
    done
    echo "$CADIR/root.pem"
}

# csr_san CSR: the CSR's subjectAltName as "DNS:a,IP:b", or nothing.
csr_san() {
    openssl req -in "$1" -noout -text 2>/dev/null | awk '
        /X509v3 Subject Alternative Name/ { getline; print; exit }' \
        | sed -e 's/^ *//' -e 's/IP Address:/IP:/g' -e 's/, /,/g'
}

# leaf_ext FILE EKU KU [POLICY SAN]: the [ leaf ] extensions of an issued
# certificate.
leaf_ext() {
    cat >"$1" <<EOF || return 1
[ leaf ]
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, $3
extendedKeyUsage       = $2
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always
EOF
    [ $# -ge 5 ] || return 0
    printf 'certificatePolicies    = %s\nsubjectAltName         = %s\n' \
        "$4" "$5" >>"$1"
}

# issue CSR OUT-CERT EXTENSIONS-FILE: openssl ca with the dates in $days,
# $startdate, $enddate.
issue() {
    set -- -config "$CADIR/ca.cnf" -batch -notext -in "$1" -out "$2" \
        -extfile "$3" -extensions leaf
    if [ -n "$enddate" ]; then
        set -- "$@" -enddate "$enddate"
    else
        set -- "$@" -days "$days"
    fi
    [ -z "$startdate" ] || set -- "$@" -startdate "$startdate"
    run ca openssl ca "$@"
}

check_days() {
    case "$1" in
    ''|*[!0-9]*|0) die "$2: -days must be a positive integer" ;;
    esac
}

check_date() {
    case "$1" in
    [0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]Z) ;;
    *) die "sign: $2 must be YYYYMMDDHHMMSSZ" ;;
    esac
}

cmd_sign() {
    CADIR="" csr="" out="" days=90 san="" startdate="" enddate=""
    while [ $# -gt 0 ]; do
        case "$1" in
        -d)         need_value "$@"; CADIR=$2; shift 2 ;;
        -in)        need_value "$@"; csr=$2; shift 2 ;;
        -out)       need_value "$@"; out=$2; shift 2 ;;
        -days)      need_value "$@"; days=$2; shift 2 ;;
        -san)       need_value "$@"; san=$2; shift 2 ;;
        -startdate) need_value "$@"; startdate=$2; shift 2 ;;
        -enddate)   need_value "$@"; enddate=$2; shift 2 ;;
        *)          die "sign: unknown option '$1'" ;;
        esac
    done
    need_ca
    [ -n "$csr" ] || die "sign: missing -in CSR"
    [ -n "$out" ] || die "sign: missing -out CHAIN"
    [ -f "$csr" ] || die "sign: $csr: no such file"
    check_days "$days" sign
    [ -z "$startdate" ] || check_date "$startdate" -startdate
    [ -z "$enddate" ] || check_date "$enddate" -enddate
    mkwork
    openssl req -in "$csr" -noout -verify >/dev/null 2>&1 </dev/null \
        || die "sign: $csr: not a PEM CSR with a valid signature"

    [ -n "$san" ] || san=$(csr_san "$csr")
    [ -n "$san" ] || san="DNS:localhost,IP:127.0.0.1"
    ku="digitalSignature"
    if openssl req -in "$csr" -noout -text 2>/dev/null \
            | grep -q 'Public Key Algorithm: rsaEncryption'; then
        ku="digitalSignature, keyEncipherment"
    fi
    oid=$(policy_oid) || exit 1
    leaf_ext "$WORK/ext.cnf" serverAuth "$ku" "$oid" "$san" \
        || die "sign: cannot write the extensions"
    issue "$csr" "$WORK/leaf.pem" "$WORK/ext.cnf" || die "sign: openssl ca failed"
    out_dir=$(dirname "$out")
    tmp=$(mktemp "$out_dir/.chain.XXXXXX") || die "sign: cannot write in $out_dir"
    later_remove "$tmp"
    cat "$WORK/leaf.pem" "$CADIR/intermediate.pem" >"$tmp" \
        || die "sign: cannot write $out"
    chmod 0644 "$tmp" && mv -f "$tmp" "$out" || die "sign: cannot install $out"
    echo "$out"
}

cmd_issue_client() {
    CADIR="" cn="" prefix="" days=90 startdate="" enddate=""
    while [ $# -gt 0 ]; do
        case "$1" in
        -d)    need_value "$@"; CADIR=$2; shift 2 ;;
        -cn)   need_value "$@"; cn=$2; shift 2 ;;
        -out)  need_value "$@"; prefix=$2; shift 2 ;;
        -days) need_value "$@"; days=$2; shift 2 ;;
        *)     die "issue-client: unknown option '$1'" ;;
        esac
    done
    need_ca
    [ -n "$cn" ] || die "issue-client: missing -cn NAME"
    [ -n "$prefix" ] || die "issue-client: missing -out PREFIX"
    case "$cn" in
    */*) die "issue-client: -cn must not contain '/'" ;;
    esac
    check_days "$days" issue-client
    mkwork
    run key openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
        -out "$WORK/client.key" || die "issue-client: key generation failed"
    run csr openssl req -config "$CADIR/ca.cnf" -new -sha256 \
        -key "$WORK/client.key" -subj "/CN=$cn" -out "$WORK/client.csr" \
        || die "issue-client: CSR failed"
    leaf_ext "$WORK/ext.cnf" clientAuth digitalSignature \
        || die "issue-client: cannot write the extensions"
    issue "$WORK/client.csr" "$WORK/client.crt" "$WORK/ext.cnf" \
        || die "issue-client: openssl ca failed"
    cat "$WORK/client.crt" "$CADIR/intermediate.pem" >"$WORK/client-chain.pem" \
        || die "issue-client: cannot write the chain"
    chmod 0644 "$WORK/client.crt" "$WORK/client-chain.pem" \
        || die "issue-client: chmod failed"
    # Same filesystem as PREFIX, so each mv is a rename.
    for f in client.key client.crt client-chain.pem; do
        later_remove "$prefix.$f.tmp"
        cp -p "$WORK/$f" "$prefix.$f.tmp" || die "issue-client: cannot write $prefix.*"
    done
    mv -f "$prefix.client.key.tmp" "$prefix.key" \
        && mv -f "$prefix.client.crt.tmp" "$prefix.crt" \
        && mv -f "$prefix.client-chain.pem.tmp" "$prefix-chain.pem" \
        || die "issue-client: cannot install $prefix.*"
    echo "$prefix.crt"
}

[ $# -ge 1 ] || { usage >&2; exit 2; }
cmd=$1
shift
case "$cmd" in
init)           cmd_init "$@" ;;
sign)           cmd_sign "$@" ;;
issue-client)   cmd_issue_client "$@" ;;
help|-h|-help|--help) usage ;;
*)              die "unknown command '$cmd' (try '$PROG help')" ;;
esac
