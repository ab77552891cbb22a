#!/bin/sh
# demo.sh: a working ovsa license server on loopback with a development
# identity, in one command, for a new user on Debian 12.
#
#   sh scripts/demo.sh [up]   install deps, build, provision, start, check
#   sh scripts/demo.sh down   stop what "up" started
#
# Everything lives in $OVSA_DEMO_DIR (default: build/demo in the repo).
set -eu
umask 077

PROG=demo.sh
TOP=$(cd "$(dirname "$0")/.." && pwd)
D=${OVSA_DEMO_DIR:-$TOP/build/demo}
PORT=${OVSA_DEMO_PORT:-8443}
NGINX=${NGINX:-/usr/sbin/nginx}

usage() {
    echo "usage: $PROG [up|down]"
}

die() { echo "$PROG: $*" >&2; exit 1; }
say() { echo "==> $*"; }

nginx_pid() {
    [ -f "$D/nginx/logs/nginx.pid" ] && cat "$D/nginx/logs/nginx.pid"
}

down() {
    pid=$(nginx_pid) || true
    if [ -n "${pid:-}" ] && kill -0 "$pid" 2>/dev/null; then
        kill -QUIT "$pid" && say "nginx stopped"
    fi
}

provision() {
    ca="$D/ca"
    etc="$D/etc"
    if [ ! -f "$ca/root.pem" ]; then
        say "development vendor CA in $ca"
        sh "$TOP/scripts/ovsa_dev_ca.sh" init -d "$ca" >/dev/null \
            || die "cannot create the development CA"
    fi
    if [ ! -e "$etc/current" ]; then
        say "license server key + CSR, signed by the development CA"
        sh "$TOP/scripts/ovsa_install_license_server_cert.sh" -d "$etc" \
            csr -cn localhost --force >/dev/null || die "cannot make the CSR"
        sh "$TOP/scripts/ovsa_dev_ca.sh" sign -d "$ca" \
            -in "$etc/pending/server.csr" -out "$D/issued-chain.pem" \
            -days 365 >/dev/null || die "the development CA did not sign"
        sh "$TOP/scripts/ovsa_install_license_server_cert.sh" -d "$etc" \
            install-cert "$D/issued-chain.pem" -root "$ca/root.pem" \
            || die "cannot install the issued chain"
    fi
}

nginx_conf() {
    mkdir -p "$D/nginx/conf" "$D/nginx/logs" "$D/nginx/tmp"
    tmp="$D/nginx/conf/nginx.conf.tmp"
    {
        echo "pid $D/nginx/logs/nginx.pid;"
        echo "error_log $D/nginx/logs/error.log notice;"
        echo "load_module $TOP/build/nginx/ngx_http_ovsa_module.so;"
        echo "worker_processes 1;"
        echo "events { worker_connections 256; }"
        echo "http {"
        echo "  access_log $D/nginx/logs/access.log;"
        for t in client_body proxy fastcgi uwsgi scgi; do
            echo "  ${t}_temp_path $D/nginx/tmp/$t;"
        done
        sed -e "s#/etc/ovsa/#$D/etc/#g" \
            -e "s#listen 443 ssl;#listen 127.0.0.1:$PORT ssl;#" \
            "$TOP/conf.d/ovsa-license-server.conf"
        echo "}"
    } > "$tmp" || die "cannot write nginx.conf"
    mv "$tmp" "$D/nginx/conf/nginx.conf" || die "cannot install nginx.conf"
}

up() {
    sh "$TOP/scripts/install-deps.sh" || die "dependencies not installed"
    make -C "$TOP" -s >/dev/null || die "build failed (run make for details)"
    mkdir -p "$D"
    down
    provision
    nginx_conf
    "$NGINX" -p "$D/nginx/" -c "$D/nginx/conf/nginx.conf" -t -q \
        || die "nginx -t refused the configuration"
    "$NGINX" -p "$D/nginx/" -c "$D/nginx/conf/nginx.conf" \
        || die "nginx did not start"
    say "license server on https://localhost:$PORT (identity in $D/etc)"

    out=$(openssl s_client -connect "127.0.0.1:$PORT" -servername localhost \
          -verify_return_error -CAfile "$D/ca/root.pem" </dev/null 2>&1) \
        || die "TLS check against the vendor root failed: $out"
    say "TLS chain verified against the development vendor root"
    curl -sf --cacert "$D/ca/root.pem" \
        --resolve "localhost:$PORT:127.0.0.1" \
        "https://localhost:$PORT/.well-known/ovsa/chain" >/dev/null \
        || die "cannot fetch the signing chain"
    say "signing chain: https://localhost:$PORT/.well-known/ovsa/chain"
    echo "stop it with: sh scripts/demo.sh down"
}

case "${1:-up}" in
    up)   up ;;
    down) down ;;
    -h|--help|help) usage ;;
    *) usage >&2; die "unknown command '$1'" ;;
esac
