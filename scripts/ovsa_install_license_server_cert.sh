#!/bin/sh
# shellcheck disable=SC2015  # "a && b || die" is meant: die if either fails
# ovsa_install_license_server_cert.sh: provision the TLS/signing identity of
# an ovsa license server: a CSR for the vendor CA, self-signed certificates,
# installation of CA-signed chains, and rotation current -> future.
#
# CONFDIR layout (see docs/provisioning.md):
#   default.yaml                  written once, never rewritten
#   identities/<id>/              one key + chain + the root it verified to:
#       server.key (0600) server-chain.pem root.pem
#   current -> identities/<id>    what the server uses
#   future  -> identities/<id>    the next identity (gencert-new, install-new-cert)
#   vendor-root.pem -> current/root.pem
#   pending/server.key server.csr the key + CSR of `csr`, until installed
#   backup/<UTC timestamp>/       identities replaced by a switch
# current and future are symlinks switched by rename(2), so a reader sees
# either the old or the new key+chain pair, never a mix.
set -eu
umask 077

PROG=ovsa_install_license_server_cert.sh
# ovsa_bin: ovsatool and ovsactl, found as every ovsa script finds them
. "$(dirname "$0")/ovsa_bin.sh"

usage() {
    cat <<EOF
usage: $PROG [-d CONFDIR] COMMAND [options]

CONFDIR: -d, else \$OVSA_CONF_DIR, else /etc/ovsa.

  csr [-cn NAME] [-san LIST] [--force]
        new RSA-2048 key + CSR in CONFDIR/pending/; prints the CSR path.
        Refuses to replace a pending CSR unless --force
  gencert [-cn NAME] [-san LIST] [--force]
        self-signed certificate (365 days) installed as the current
        identity; it is also the vendor root.  --force replaces a current one
  gencert-new [-cn NAME] [-san LIST] [--force]
        the same, as the future identity; current is not touched
  install-cert CHAIN [KEY] [-root ROOT.pem] [--force]
        install a CA-signed chain (leaf first) as the current identity; KEY
        defaults to the pending key of \`csr\`, ROOT to CONFDIR/vendor-root.pem
  install-new-cert CHAIN [KEY] [-root ROOT.pem] [--force]
        the same, as the future identity
  provision-new-cert [--force] [--reload PIDFILE]
        asks the license store (ovsactl -c CONFDIR/default.yaml pins PIN)
        whether every active license pins the future key and refuses
        otherwise, unless --force; then the future identity becomes
        current; the replaced one is moved to
        CONFDIR/backup/<UTC timestamp>/.  With --reload (or
        \$OVSA_NGINX_PIDFILE) nginx is sent SIGHUP afterwards.  A license
        may pin a set of keys per URL (one per server of a fleet): the
        future key must be in the set
  check-new-cert CHAIN
        the same pre-switch check for CHAIN's leaf key, without installing
        anything: a server whose key lives on a hardware token (not in
        CONFDIR/identities) asks before it switches.  Exit 0 when every
        active license pins the key, 1 (with the reason) otherwise
  pin [FILE]
        print the SHA-256 SPKI pin (sha256//<base64>) of FILE, a certificate
        (a chain: its leaf) or a public or private key (default: the
        current chain's leaf)
  status
        current and future identities, their pins and expiry
  help  this text

SAN LIST: "DNS:name,IP:addr,..." (default DNS:localhost,IP:127.0.0.1).
Every install prints the pin of what it installed.  Identities are checked
by \`ovsatool identity\`, the check nginx makes at start, and refused with
the reason nginx -t would give; pins come from \`ovsatool pin\`.
EOF
}

die() { echo "$PROG: $*" >&2; exit 1; }
warn() { echo "$PROG: $*" >&2; }

WORK=""
LOCKED=""
CLEAN=""        # newline-separated temporaries removed on exit
cleanup() {
    [ -z "$WORK" ] || rm -rf "$WORK"
    if [ -n "$CLEAN" ]; then
        printf '%s\n' "$CLEAN" | while IFS= read -r p; do
            [ -z "$p" ] || rm -rf "$p"
        done
    fi
    [ -z "$LOCKED" ] || rmdir "$LOCKED" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

later_remove() {
    CLEAN="$CLEAN
$1"
}
keep() {        # keep PATH: forget a temporary that has been renamed
    CLEAN=$(printf '%s\n' "$CLEAN" | grep -vxF -- "$1" || true)
}

need_value() {
    [ $# -ge 2 ] || die "$CMD: option $1 needs a value"
}

# run cmd...: an openssl step whose chatter is shown only when it fails.
run() {
    "$@" >"$WORK/run.log" 2>&1 </dev/null || { cat "$WORK/run.log" >&2; return 1; }
}

utc_stamp() { date -u +%Y%m%dT%H%M%SZ; }

# ---- the identity: checked and pinned by lib, through ovsatool

# tool ARGS...: ovsatool ARGS; when it refuses, its reason (the text nginx
# -t gives for the same identity) after "$CMD: ", and exit 1.
tool() {
    if [ -z "${OVSATOOL_BIN:-}" ]; then
        OVSATOOL_BIN=$(ovsa_bin ovsatool) \
            || die "$CMD: ovsatool not found (build it with make, install it, or set OVSATOOL)"
    fi
    "$OVSATOOL_BIN" "$@" 2>"$WORK/tool.err" </dev/null && return 0
    _why=$(sed -n '1s/^ovsatool [a-z-]*: //p' "$WORK/tool.err")
    die "$CMD: ${_why:-ovsatool $1 failed}"
}

# check_identity CHAIN KEY ROOT: the check nginx makes at start (chain to
# the one ROOT, validity, serverAuth, the ovsa policy, the key); the
# verified identity, re-encoded, goes to $WORK/id/ (server-chain.pem,
# server.key, root.pem).
check_identity() {
    rm -rf "$WORK/id" && mkdir "$WORK/id" || die "$CMD: work dir failed"
    tool identity -chain "$1" -key "$2" -root "$3" -out "$WORK/id" >/dev/null
}

# ---- CONFDIR state

link_target() {  # link_target NAME: identities/<id>, or nothing
    [ -L "$CONFDIR/$1" ] || return 0
    readlink "$CONFDIR/$1"
}

lock_confdir() {
    if [ ! -d "$CONFDIR" ]; then
        mkdir -p "$CONFDIR" || die "$CMD: cannot create $CONFDIR"
    fi
    mkdir "$CONFDIR/.lock" 2>/dev/null \
        || die "$CMD: $CONFDIR is busy ($CONFDIR/.lock exists; remove it if no other run is active)"
    LOCKED="$CONFDIR/.lock"
    for d in identities backup; do
        [ -d "$CONFDIR/$d" ] || mkdir "$CONFDIR/$d" || die "$CMD: cannot create $CONFDIR/$d"
    done
}

# new_identity: $WORK/id/{server.key,server-chain.pem,root.pem} ->
# identities/<id>.  Sets ID.
new_identity() {
    _tmp=$(mktemp -d "$CONFDIR/identities/.new.XXXXXX") \
        || die "$CMD: cannot write in $CONFDIR/identities"
    later_remove "$_tmp"
    cp "$WORK/id/server.key" "$_tmp/server.key" \
        && cp "$WORK/id/server-chain.pem" "$_tmp/server-chain.pem" \
        && cp "$WORK/id/root.pem" "$_tmp/root.pem" \
        || die "$CMD: cannot write the identity files"
    chmod 0600 "$_tmp/server.key" && chmod 0644 "$_tmp/server-chain.pem" \
        "$_tmp/root.pem" || die "$CMD: cannot set modes"
    sync "$_tmp/server.key" "$_tmp/server-chain.pem" "$_tmp/root.pem" \
        2>/dev/null || true
    ID="$(utc_stamp)-$(openssl rand -hex 4)" || die "$CMD: no random id"
    mv "$_tmp" "$CONFDIR/identities/$ID" || die "$CMD: cannot install identity $ID"
    keep "$_tmp"
}

# set_link NAME ID: atomically point CONFDIR/NAME at identities/ID.
set_link() {
    _l="$CONFDIR/.$1.tmp.$$"
    later_remove "$_l"
    rm -f "$_l"
    ln -s "identities/$2" "$_l" || die "$CMD: cannot create the $1 link"
    mv -T "$_l" "$CONFDIR/$1" || die "$CMD: cannot switch $1 to $2"
    keep "$_l"
}

# vendor-root.pem follows the current identity's root.
ensure_vendor_root() {
    [ "$(link_target vendor-root.pem)" = "current/root.pem" ] && return 0
    _l="$CONFDIR/.vendor-root.tmp.$$"
    later_remove "$_l"
    rm -f "$_l"
    ln -s current/root.pem "$_l" && mv -T "$_l" "$CONFDIR/vendor-root.pem" \
        || die "$CMD: cannot write $CONFDIR/vendor-root.pem"
    keep "$_l"
}

ensure_default_yaml() {
    [ ! -e "$CONFDIR/default.yaml" ] || return 0
    _t=$(mktemp "$CONFDIR/.default.yaml.XXXXXX") || die "$CMD: cannot write in $CONFDIR"
    later_remove "$_t"
    cat >"$_t" <<'EOF' || die "$CMD: cannot write default.yaml"
# default.yaml: configuration of this ovsa license server.
# Written once by ovsa_install_license_server_cert.sh, which never rewrites
# it; edit it freely.  Relative paths are resolved against this directory.
# The schema is in docs/configuration.md.

# The server's identity: the leaf + intermediate chain, its key and the one
# vendor root the chain must verify to.  current/ is switched atomically by
# provision-new-cert.
identity:
  chain: current/server-chain.pem
  key: current/server.key
  root: vendor-root.pem

# Sign with a PKCS#11 token (YubiKey, HSM); then remove identity.key.
#hardware_key:
#  enabled: true
#  module: /usr/lib/x86_64-linux-gnu/libykcs11.so
#  key_uri: "pkcs11:token=ovsa;object=server"
#  pin_file: token.pin
#  sign_timeout_ms: 2000

#backend:
#  listen: unix:/run/ovsa/backend.sock
#  listen_group: www-data
#  trusted_peers: [www-data]
#  admin_listen: 127.0.0.1:9081
#  admin_token_file: admin.token
#  threads: 4
#  max_body: 65536

#redis:
#  address: 127.0.0.1:6379
#  db: 0
#  password_file: redis.password
#  prefix: "ovsa:"
#  timeout_ms: 1000

#licenses:
#  isv_certs: [isv.pem]
EOF
    mv "$_t" "$CONFDIR/default.yaml" || die "$CMD: cannot install default.yaml"
    keep "$_t"
}

# retire ID: move a replaced identity to backup/<UTC timestamp>/.
retire() {
    [ -n "$1" ] && [ -d "$CONFDIR/identities/$1" ] || return 0
    _b="$CONFDIR/backup/$(utc_stamp)"
    _n=1
    while [ -e "$_b" ]; do
        _n=$((_n + 1))
        _b="$CONFDIR/backup/$(utc_stamp)-$_n"
    done
    mv "$CONFDIR/identities/$1" "$_b" || die "$CMD: cannot back up identity $1"
    echo "backup: $_b"
}

# install_as SLOT FORCE: the loaded identity in $WORK becomes SLOT
# (current or future).
install_as() {
    _old=$(link_target "$1")
    new_identity
    set_link "$1" "$ID"
    if [ "$1" = current ]; then
        ensure_vendor_root
        ensure_default_yaml
    fi
    [ -z "$_old" ] || retire "${_old#identities/}"
    echo "installed $1 identity $ID ($CONFDIR/$1/server-chain.pem)"
    _pin=$(tool pin "$CONFDIR/$1/server-chain.pem") || exit 1
    echo "pin: $_pin"
}

refuse_occupied() {  # refuse_occupied SLOT FORCE
    [ "$2" -eq 1 ] && return 0
    [ -z "$(link_target "$1")" ] && return 0
    case "$1" in
    current) die "$CMD: $CONFDIR already has a current identity (rotate with gencert-new or install-new-cert + provision-new-cert, or use --force)" ;;
    *)       die "$CMD: $CONFDIR already has a future identity (provision it first, or use --force to replace it)" ;;
    esac
}

# ---- key and request generation

check_name() {
    case "$1" in
    ''|*/*|*'
'*) die "$CMD: -cn must be non-empty and must not contain '/'" ;;
    esac
}

# write_req_cnf SAN [POLICY]: $WORK/req.cnf for csr, and with the policy
# (ovsatool policy-oid: the one lib checks) the self_ext of gencert.
write_req_cnf() {
    cat >"$WORK/req.cnf" <<EOF || die "$CMD: cannot write the request config"
[ req ]
distinguished_name = req_dn
prompt             = no

[ req_dn ]
CN = unused

[ csr_ext ]
subjectAltName = $1
EOF
    [ $# -ge 2 ] || return 0
    cat >>"$WORK/req.cnf" <<EOF || die "$CMD: cannot write the request config"

[ self_ext ]
basicConstraints     = critical, CA:FALSE
keyUsage             = critical, digitalSignature, keyEncipherment
extendedKeyUsage     = serverAuth
certificatePolicies  = $2
subjectAltName       = $1
subjectKeyIdentifier = hash
# = its own SKI: tells two self-signed certificates with the same name
# apart in a client's trust list during a rotation.
authorityKeyIdentifier = keyid:always
EOF
}

gen_key() {  # gen_key OUT: RSA-2048, created 0600 (umask 077)
    run openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1" \
        || die "$CMD: RSA key generation failed"
    chmod 0600 "$1" || die "$CMD: cannot set the key mode"
}

parse_name_opts() {  # sets CN SAN FORCE; the rest is an error
    CN="ovsa-license-server" SAN="DNS:localhost,IP:127.0.0.1" FORCE=0
    while [ $# -gt 0 ]; do
        case "$1" in
        -cn)     need_value "$@"; CN=$2; shift 2 ;;
        -san)    need_value "$@"; SAN=$2; shift 2 ;;
        -d)      need_value "$@"; CONFDIR=$2; shift 2 ;;
        --force) FORCE=1; shift ;;
        *)       die "$CMD: unknown option '$1' (try '$PROG help')" ;;
        esac
    done
    check_name "$CN"
}

cmd_csr() {
    parse_name_opts "$@"
    if [ -e "$CONFDIR/pending" ] && [ "$FORCE" -eq 0 ]; then
        die "$CMD: a CSR is already pending: $CONFDIR/pending/server.csr (install its certificate first, or use --force to replace it)"
    fi
    write_req_cnf "$SAN"
    lock_confdir
    _p=$(mktemp -d "$CONFDIR/.pending.XXXXXX") || die "$CMD: cannot write in $CONFDIR"
    later_remove "$_p"
    gen_key "$_p/server.key"
    run openssl req -config "$WORK/req.cnf" -new -sha256 -key "$_p/server.key" \
        -subj "/CN=$CN" -reqexts csr_ext -out "$_p/server.csr" \
        || die "$CMD: CSR generation failed (check -san)"
    chmod 0644 "$_p/server.csr" || die "$CMD: cannot set the CSR mode"
    if [ -e "$CONFDIR/pending" ]; then
        _o="$CONFDIR/.pending.old.$$"
        later_remove "$_o"
        mv "$CONFDIR/pending" "$_o" || die "$CMD: cannot replace the pending CSR"
    fi
    mv "$_p" "$CONFDIR/pending" || die "$CMD: cannot install the pending CSR"
    keep "$_p"
    echo "$CONFDIR/pending/server.csr"
}

cmd_gencert() {  # cmd_gencert SLOT args...
    _slot=$1
    shift
    parse_name_opts "$@"
    refuse_occupied "$_slot" "$FORCE"
    _oid=$(tool policy-oid) || exit 1
    write_req_cnf "$SAN" "$_oid"
    gen_key "$WORK/server.key"
    run openssl req -config "$WORK/req.cnf" -new -x509 -sha256 -days 365 \
        -key "$WORK/server.key" -subj "/CN=$CN" -extensions self_ext \
        -out "$WORK/self.pem" || die "$CMD: certificate generation failed (check -san)"
    # self-signed: the certificate is its own vendor root
    check_identity "$WORK/self.pem" "$WORK/server.key" "$WORK/self.pem"
    lock_confdir
    install_as "$_slot"
}

cmd_install() {  # cmd_install SLOT args...
    _slot=$1
    shift
    chain="" key="" root="" FORCE=0
    while [ $# -gt 0 ]; do
        case "$1" in
        -root)   need_value "$@"; root=$2; shift 2 ;;
        -d)      need_value "$@"; CONFDIR=$2; shift 2 ;;
        --force) FORCE=1; shift ;;
        -*)      die "$CMD: unknown option '$1' (try '$PROG help')" ;;
        *)
            if [ -z "$chain" ]; then chain=$1
            elif [ -z "$key" ]; then key=$1
            else die "$CMD: too many arguments"
            fi
            shift ;;
        esac
    done
    [ -n "$chain" ] || die "$CMD: missing the certificate chain file"
    used_pending=0
    if [ -z "$key" ]; then
        key="$CONFDIR/pending/server.key"
        [ -e "$key" ] || die "$CMD: no key given and no pending key in $CONFDIR/pending (run csr first)"
        used_pending=1
    fi
    if [ -z "$root" ]; then
        root="$CONFDIR/vendor-root.pem"
        [ -e "$root" ] || die "$CMD: no vendor root: $root does not exist (pass -root ROOT.pem)"
    fi
    check_identity "$chain" "$key" "$root"
    refuse_occupied "$_slot" "$FORCE"
    lock_confdir
    install_as "$_slot"
    if [ "$used_pending" -eq 1 ]; then
        # The pending key now lives in the identity; a CSR without it is
        # useless.
        _o="$CONFDIR/.pending.done.$$"
        later_remove "$_o"
        mv "$CONFDIR/pending" "$_o" || warn "$CMD: could not remove $CONFDIR/pending"
    fi
}

# pre_switch_check CHAIN WHAT: the last word before a server switches to
# the key of CHAIN's leaf (WHAT names it: "future key", "new key").  Asks
# the license store (the backend's admin API, found through
# CONFDIR/default.yaml) how many active licenses do not pin that key yet
# (a license pins a set of keys per URL: the key must be in it): their
# clients would reject the server after the switch.  Prints the counts;
# returns non-zero (after saying why on stderr) to refuse the switch.
# provision-new-cert --force skips it.
pre_switch_check() {
    _pin=$(tool pin "$1") || exit 1
    _what=$2
    _ctl=$(ovsa_bin ovsactl) \
        || { warn "$CMD: cannot ask the license store: ovsactl not found (install it or set OVSACTL)"; return 1; }
    _rc=0
    "$_ctl" -c "$CONFDIR/default.yaml" pins "$_pin" \
        >"$WORK/pins.out" 2>"$WORK/pins.err" </dev/null || _rc=$?
    case $_rc in            # ovsactl's exit codes: docs/cli.md
    0)  ;;
    6)  # no admin token configured: this server's store takes no imports
        warn "$CMD: pre-switch check skipped: $CONFDIR/default.yaml sets no backend.admin_token_file, so no license can have been imported here"
        return 0 ;;
    5)  warn "$CMD: the license store refused the pin query: $(head -n1 "$WORK/pins.err")"
        return 1 ;;
    *)  warn "$CMD: cannot ask the license store whether licenses pin $_pin (admin API unreachable): $(head -n1 "$WORK/pins.err")"
        return 1 ;;
    esac
    _line=$(head -n1 "$WORK/pins.out")
    _not=$(printf '%s\n' "$_line" \
        | sed -n 's/^.*, [0-9][0-9]* pin it, \([0-9][0-9]*\) do not$/\1/p')
    [ -n "$_not" ] || { warn "$CMD: unexpected answer from ovsactl: $_line"; return 1; }
    echo "pre-switch check: ${_what% key} $_line"
    if [ "$_not" -ne 0 ]; then
        sed -n "s/^  not pinning: /  not pinning the $_what: /p" "$WORK/pins.out" >&2
        warn "$CMD: $_not active license(s) do not pin the $_what $_pin yet (it is in no pin set of theirs): reissue them (ovsatool updatecustlicense -u URL FUTURE_CERT, or -add-pin URL NEW_CERT for a license with a pin set per URL), import them (ovsactl import), let the clients fetch them, then switch"
        return 1
    fi
    return 0
}

send_reload() {  # send_reload PIDFILE
    [ -r "$1" ] || die "$CMD: switched to $ID, but cannot read pid file $1: not reloaded"
    _pid=$(head -n1 "$1" | tr -d ' \t\r')
    case "$_pid" in
    ''|*[!0-9]*) die "$CMD: switched to $ID, but $1 holds no pid: not reloaded" ;;
    esac
    kill -HUP "$_pid" 2>/dev/null \
        || die "$CMD: switched to $ID, but SIGHUP to pid $_pid failed: not reloaded"
    echo "reload: sent SIGHUP to pid $_pid ($1)"
}

cmd_provision() {
    FORCE=0 reload=${OVSA_NGINX_PIDFILE:-}
    while [ $# -gt 0 ]; do
        case "$1" in
        --force)  FORCE=1; shift ;;
        --reload) need_value "$@"; reload=$2; shift 2 ;;
        -d)       need_value "$@"; CONFDIR=$2; shift 2 ;;
        *)        die "$CMD: unknown option '$1' (try '$PROG help')" ;;
        esac
    done
    _fut=$(link_target future)
    [ -n "$_fut" ] && [ -d "$CONFDIR/$_fut" ] \
        || die "$CMD: no future identity in $CONFDIR (run gencert-new or install-new-cert first)"
    _fd="$CONFDIR/$_fut"
    check_identity "$_fd/server-chain.pem" "$_fd/server.key" "$_fd/root.pem"
    if [ "$FORCE" -eq 1 ]; then
        warn "$CMD: --force: skipping the pre-switch check"
    else
        pre_switch_check "$_fd/server-chain.pem" "future key" \
            || die "$CMD: pre-switch check refused the switch (use --force to switch anyway)"
    fi
    lock_confdir
    _old=$(link_target current)
    ID=${_fut#identities/}
    set_link current "$ID"
    rm -f "$CONFDIR/future" || warn "$CMD: could not remove $CONFDIR/future"
    ensure_vendor_root
    ensure_default_yaml
    [ -z "$_old" ] || [ "$_old" = "$_fut" ] || retire "${_old#identities/}"
    echo "provisioned: current identity is now $ID"
    _pin=$(tool pin "$CONFDIR/current/server-chain.pem") || exit 1
    echo "pin: $_pin"
    [ -z "$reload" ] || send_reload "$reload"
}

cmd_pin() {
    _f=""
    while [ $# -gt 0 ]; do
        case "$1" in
        -d) need_value "$@"; CONFDIR=$2; shift 2 ;;
        -*) die "$CMD: unknown option '$1' (try '$PROG help')" ;;
        *)  [ -z "$_f" ] || die "$CMD: too many arguments"; _f=$1; shift ;;
        esac
    done
    if [ -z "$_f" ]; then
        _f="$CONFDIR/current/server-chain.pem"
        [ -e "$_f" ] || die "$CMD: no current identity in $CONFDIR"
    fi
    tool pin "$_f"
}

cmd_check_new() {
    _f=""
    while [ $# -gt 0 ]; do
        case "$1" in
        -d) need_value "$@"; CONFDIR=$2; shift 2 ;;
        -*) die "$CMD: unknown option '$1' (try '$PROG help')" ;;
        *)  [ -z "$_f" ] || die "$CMD: too many arguments"; _f=$1; shift ;;
        esac
    done
    [ -n "$_f" ] || die "$CMD: which chain? (check-new-cert CHAIN)"
    [ -r "$_f" ] || die "$CMD: cannot read $_f"
    pre_switch_check "$_f" "new key" \
        || die "$CMD: refused: switching a server to this key would lock out the clients of those licenses"
    echo "$CMD: every active license pins $_pin: a server may switch to it"
}

cmd_status() {
    [ $# -eq 0 ] || { [ "$1" = -d ] && [ $# -eq 2 ] && CONFDIR=$2; } \
        || die "$CMD: unknown option '$1' (try '$PROG help')"
    for s in current future; do
        _t=$(link_target "$s")
        if [ -z "$_t" ]; then
            echo "$s: none"
            continue
        fi
        _c="$CONFDIR/$_t/server-chain.pem"
        _end=$(openssl x509 -in "$_c" -noout -enddate 2>/dev/null | sed 's/^notAfter=//')
        _pin=$(tool pin "$_c" 2>/dev/null) || _pin='?'
        echo "$s: ${_t#identities/} pin $_pin expires ${_end:-?}"
    done
    [ ! -e "$CONFDIR/pending/server.csr" ] || echo "pending: $CONFDIR/pending/server.csr"
}

CONFDIR=${OVSA_CONF_DIR:-/etc/ovsa}
CMD=$PROG
while [ $# -gt 0 ]; do
    case "$1" in
    -d) need_value "$@"; CONFDIR=$2; shift 2 ;;
    *)  break ;;
    esac
done
[ $# -ge 1 ] || { usage >&2; exit 2; }
CMD=$1
shift
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ovsa_cert.XXXXXX") \
    || die "cannot create a temporary directory"

case "$CMD" in
csr)                cmd_csr "$@" ;;
gencert)            cmd_gencert current "$@" ;;
gencert-new)        cmd_gencert future "$@" ;;
install-cert)       cmd_install current "$@" ;;
install-new-cert)   cmd_install future "$@" ;;
provision-new-cert) cmd_provision "$@" ;;
check-new-cert)     cmd_check_new "$@" ;;
pin)                cmd_pin "$@" ;;
status)             cmd_status "$@" ;;
help|-h|-help|--help) usage ;;
*)                  die "unknown command '$CMD' (try '$PROG help')" ;;
esac
