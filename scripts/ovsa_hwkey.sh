#!/bin/sh
# ovsa_hwkey.sh: provision the ovsa server key on a PKCS#11 token.
#
# The key is generated on the token and never leaves it.  The CSR is signed
# by the token through the libp11 OpenSSL engine; it then goes through
# `ovsa_dev_ca.sh sign` (or the vendor CA) like a software key's CSR.
# PINs are read from a file and reach the tools through the environment or
# a private temporary OpenSSL config, never through argv.
set -eu
umask 077

PROG=ovsa_hwkey.sh
# ovsa_bin: ovsatool, found as every ovsa script finds it
. "$(dirname "$0")/ovsa_bin.sh"
ENGINE_SO=${OVSA_PKCS11_ENGINE:-/usr/lib/x86_64-linux-gnu/engines-3/pkcs11.so}

usage() {
    cat <<EOF
usage: $PROG keygen -module M -token LABEL -label KEY -pin-file F
                    [-id HEX] [-type rsa:2048|ec:prime256v1]
       $PROG csr    -module M -uri URI -pin-file F -cn NAME
                    [-san DNS:a,IP:b] -out CSR
       $PROG check  -module M -uri URI -pin-file F -cert LEAF

  keygen  generate a key pair on the token; prints the key's pkcs11: URI
  csr     write a PKCS#10 request signed by the token key
  check   prove the token key belongs to the leaf certificate (ovsatool
          pin: the pin of LEAF and of the token key, which must sign a
          random challenge that verifies; lib/ovsa_p11, as nginx uses it)
EOF
    exit 2
}

die() { echo "$PROG: $*" >&2; exit 1; }

TMP=""
cleanup() { [ -z "$TMP" ] || rm -rf "$TMP"; }
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

mktmp() {
    [ -n "$TMP" ] || TMP=$(mktemp -d "${TMPDIR:-/tmp}/ovsa-hwkey.XXXXXX") \
        || die "cannot create a temporary directory"
}

# Reads the PIN (first line of the file) into OVSA_HWKEY_PIN.
read_pin() {
    [ -n "$PIN_FILE" ] || die "-pin-file is required"
    [ -r "$PIN_FILE" ] || die "$PIN_FILE: cannot read the PIN file"
    OVSA_HWKEY_PIN=$(head -n 1 "$PIN_FILE") || die "$PIN_FILE: read failed"
    [ -n "$OVSA_HWKEY_PIN" ] || die "$PIN_FILE: empty PIN"
    case "$OVSA_HWKEY_PIN" in
    *[!A-Za-z0-9._@%+=:,/-]*)
        die "$PIN_FILE: PIN has characters this tool cannot pass safely" ;;
    esac
    export OVSA_HWKEY_PIN
}

need_module() {
    [ -n "$MODULE" ] || die "-module is required"
    [ -r "$MODULE" ] || die "$MODULE: PKCS#11 module not found"
}

need_uri() {
    case "$URI" in
    pkcs11:*) ;;
    "") die "-uri is required" ;;
    *)  die "-uri must be an RFC 7512 pkcs11: URI" ;;
    esac
    case "$URI" in
    *pin-value=*|*pin-source=*) die "-uri must not carry the PIN" ;;
    esac
}

# A private OpenSSL config that loads and initialises the pkcs11 engine
# with the module and the PIN.
engine_conf() {
    [ -r "$ENGINE_SO" ] || die "$ENGINE_SO missing (libengine-pkcs11-openssl)"
    mktmp
    cat > "$TMP/openssl.cnf" <<EOF || die "cannot write the engine config"
openssl_conf = ovsa_init

[ovsa_init]
engines = ovsa_engines

[ovsa_engines]
pkcs11 = ovsa_pkcs11

[ovsa_pkcs11]
engine_id = pkcs11
dynamic_path = $ENGINE_SO
MODULE_PATH = $MODULE
PIN = $OVSA_HWKEY_PIN
init = 1

[req]
distinguished_name = ovsa_dn
[ovsa_dn]
EOF
    OPENSSL_CONF=$TMP/openssl.cnf
    export OPENSSL_CONF
}

cmd_keygen() {
    need_module
    [ -n "$TOKEN" ] || die "-token is required"
    [ -n "$LABEL" ] || die "-label is required"
    case "$TOKEN$LABEL" in
    *[!A-Za-z0-9._-]*) die "token and key labels must be [A-Za-z0-9._-]" ;;
    esac
    case "$KTYPE" in
    rsa:2048|rsa:3072|rsa:4096) ;;
    ec:prime256v1) KTYPE=EC:prime256v1 ;;
    *) die "-type must be rsa:2048, rsa:3072, rsa:4096 or ec:prime256v1" ;;
    esac
    [ -n "$ID" ] || ID=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n') \
        || die "cannot make a key id"
    case "$ID" in
    *[!0-9a-fA-F]*) die "-id must be hexadecimal" ;;
    esac
    read_pin

    if pkcs11-tool --module "$MODULE" --token-label "$TOKEN" --login \
        --pin env:OVSA_HWKEY_PIN --list-objects --type privkey 2>/dev/null \
        | grep -q "label: *$LABEL\$"; then
        die "token $TOKEN already holds a key labelled $LABEL"
    fi
    pkcs11-tool --module "$MODULE" --token-label "$TOKEN" --login \
        --pin env:OVSA_HWKEY_PIN --keypairgen --key-type "$KTYPE" \
        --label "$LABEL" --id "$ID" >/dev/null \
        || die "key generation on token $TOKEN failed"
    echo "pkcs11:token=$TOKEN;object=$LABEL;type=private"
}

cmd_csr() {
    need_module
    need_uri
    [ -n "$CN" ] || die "-cn is required"
    [ -n "$OUT" ] || die "-out is required"
    case "$CN" in
    */*|*[!\ -~]*) die "-cn must be printable ASCII without '/'" ;;
    esac
    read_pin
    engine_conf
    set -- -new -engine pkcs11 -keyform engine -key "$URI" \
        -subj "/CN=$CN" -sha256 -out "$TMP/req.csr"
    [ -z "$SAN" ] || set -- "$@" -addext "subjectAltName=$SAN"
    openssl req "$@" >"$TMP/req.log" 2>&1 \
        || die "CSR signing by the token failed: $(grep -v '^Engine' "$TMP/req.log" | head -3)"
    openssl req -in "$TMP/req.csr" -noout -verify >/dev/null 2>&1 \
        || die "the token produced a CSR that does not verify"
    mv -f "$TMP/req.csr" "$OUT" || die "cannot write $OUT"
}

cmd_check() {
    need_module
    need_uri
    [ -n "$CERT" ] || die "-cert is required"
    [ -r "$CERT" ] || die "$CERT: cannot read the certificate"
    [ -n "$PIN_FILE" ] || die "-pin-file is required"
    [ -r "$PIN_FILE" ] || die "$PIN_FILE: cannot read the PIN file"
    _tool=$(ovsa_bin ovsatool) \
        || die "ovsatool not found (build it with make, install it, or set OVSATOOL)"
    mktmp
    _cert_pin=$("$_tool" pin "$CERT" 2>"$TMP/pin.err") \
        || die "$CERT: $(sed -n '1s/^ovsatool pin: //p' "$TMP/pin.err")"
    # the PIN goes to ovsatool as a file name, never on the command line
    _token_pin=$("$_tool" pin -module "$MODULE" \
        -key-uri "$URI" -pin-file "$PIN_FILE" 2>"$TMP/pin.err") \
        || die "the token key: $(sed -n '1s/^ovsatool pin: //p' "$TMP/pin.err")"
    [ "$_cert_pin" = "$_token_pin" ] \
        || die "MISMATCH: the token key is not the key of $CERT ($_token_pin, the certificate has $_cert_pin)"
    echo "OK: token key matches $CERT ($_cert_pin)"
}

[ $# -ge 1 ] || usage
CMD=$1
shift
MODULE="" TOKEN="" LABEL="" PIN_FILE="" URI="" CN="" SAN="" OUT="" CERT=""
ID="" KTYPE=rsa:2048
while [ $# -gt 0 ]; do
    [ $# -ge 2 ] || die "$1 needs a value; use -help for summary"
    case "$1" in
    -module)   MODULE=$2 ;;
    -token)    TOKEN=$2 ;;
    -label)    LABEL=$2 ;;
    -id)       ID=$2 ;;
    -type)     KTYPE=$2 ;;
    -pin-file) PIN_FILE=$2 ;;
    -uri)      URI=$2 ;;
    -cn)       CN=$2 ;;
    -san)      SAN=$2 ;;
    -out)      OUT=$2 ;;
    -cert)     CERT=$2 ;;
    *)         die "unknown option $1; use -help for summary" ;;
    esac
    shift 2
done

case "$CMD" in
keygen) cmd_keygen ;;
csr)    cmd_csr ;;
check)  cmd_check ;;
-help|--help|help) usage ;;
*)      echo "$PROG: unknown command '$CMD'; use -help for summary" >&2
        exit 2 ;;
esac
