#!/bin/sh
# demo.sh: a working ovsa license server on loopback with a development
# identity, and a verified license check, in one command (Debian 12).
#
#   sh scripts/demo.sh [up]   install deps, build, provision, start, check
#   sh scripts/demo.sh check  one more verified license check
#   sh scripts/demo.sh down   stop what "up" started
#
# Everything lives in $OVSA_DEMO_DIR (default: build/demo in the repo):
# a development vendor CA, the server identity (etc/), an ISV keystore, a
# private redis-server, ovsa-backend and nginx with conf.d/'s drop-in.
# nginx reaches the backend over its unix socket, as shipped: run as
# root, the nginx workers are www-data (as on Debian) and the socket is
# /run/ovsa-demo-$OVSA_DEMO_PORT/backend.sock, group www-data; otherwise
# everything runs as you and the socket is $OVSA_DEMO_DIR/run/backend.sock
# ($OVSA_DEMO_SOCKET overrides it).
set -eu
umask 077

PROG=demo.sh
TOP=$(cd "$(dirname "$0")/.." && pwd)
D=${OVSA_DEMO_DIR:-$TOP/build/demo}
PORT=${OVSA_DEMO_PORT:-8443}
APORT=${OVSA_DEMO_ADMIN_PORT:-9081}
if [ "$(id -u)" = 0 ]; then
    SOCK=${OVSA_DEMO_SOCKET:-/run/ovsa-demo-$PORT/backend.sock}
    # the nginx workers' user and the socket's group, as on Debian
    WORKERS=www-data
else
    SOCK=${OVSA_DEMO_SOCKET:-$D/run/backend.sock}
    WORKERS=
fi
NGINX=${NGINX:-/usr/sbin/nginx}
LICENSE_ID=DEMO-0001
# ovsa_bin: the ovsa programs, found as every ovsa script finds them
. "$TOP/scripts/ovsa_bin.sh"

usage() {
    echo "usage: $PROG [up|check|down]"
}

die() { echo "$PROG: $*" >&2; exit 1; }
say() { echo "==> $*"; }

# stop PIDFILE SIGNAL: stop the process of a pid file, if it runs
stop() {
    [ -f "$1" ] || return 0
    pid=$(cat "$1")
    if kill -0 "$pid" 2>/dev/null; then
        kill "-$2" "$pid" || true
        n=0
        while kill -0 "$pid" 2>/dev/null && [ $n -lt 50 ]; do
            sleep 0.1
            n=$((n + 1))
        done
    fi
    rm -f "$1"
}

# find_bins: OVSATOOL OVSACTL OVSA_CHECK OVSA_BACKEND, exported so that
# the provisioning scripts use the same programs
find_bins() {
    OVSATOOL=$(ovsa_bin ovsatool) && OVSACTL=$(ovsa_bin ovsactl) \
        && OVSA_CHECK=$(ovsa_bin ovsa-check) \
        && OVSA_BACKEND=$(ovsa_bin ovsa-backend) \
        || die "the ovsa programs are not built (run make)"
    export OVSATOOL OVSACTL OVSA_CHECK OVSA_BACKEND
}

down() {
    stop "$D/nginx/logs/nginx.pid" QUIT
    stop "$D/run/backend.pid" TERM
    stop "$D/run/redis.pid" TERM
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
    if [ ! -f "$D/isv/isv.crt" ]; then
        say "ISV signing keystore in $D/isv"
        "$OVSATOOL" keystore -out "$D/isv" -alg ec -cn "demo ISV" \
            >/dev/null || die "cannot create the ISV keystore"
    fi
    if [ ! -f "$etc/admin.token" ]; then
        openssl rand -hex 24 > "$etc/admin.token.tmp" \
            && mv "$etc/admin.token.tmp" "$etc/admin.token" \
            || die "cannot write the admin token"
    fi

    # the demo's default.yaml: the identity as provisioned, plus the
    # backend, redis and licenses sections
    mkdir -p "$D/run" "$D/redis"
    cat > "$etc/default.yaml.tmp" <<YAML || die "cannot write default.yaml"
# written by scripts/demo.sh; schema in docs/configuration.md
identity:
  chain: current/server-chain.pem
  key: current/server.key
  root: vendor-root.pem

backend:
  listen: unix:$SOCK
${WORKERS:+  listen_group: $WORKERS
}  admin_listen: 127.0.0.1:$APORT
  admin_token_file: admin.token

redis:
  address: unix:$D/redis/redis.sock
  prefix: "ovsa-demo:"

licenses:
  isv_certs:
    - $D/isv/isv.crt
YAML
    mv "$etc/default.yaml.tmp" "$etc/default.yaml" \
        || die "cannot install default.yaml"
}

nginx_conf() {
    mkdir -p "$D/nginx/conf" "$D/nginx/logs" "$D/nginx/tmp"
    tmp="$D/nginx/conf/nginx.conf.tmp"
    {
        echo "pid $D/nginx/logs/nginx.pid;"
        [ -z "$WORKERS" ] || echo "user $WORKERS;"
        echo "error_log $D/nginx/logs/error.log notice;"
        echo "load_module ${OVSA_BUILD:-$TOP/build}/nginx/ngx_http_ovsa_module.so;"
        echo "worker_processes 1;"
        # room for slow clients (conf.d/ovsa-license-server.conf, limits)
        echo "worker_rlimit_nofile 16384;"
        echo "events { worker_connections 8192; }"
        echo "http {"
        echo "  access_log $D/nginx/logs/access.log;"
        for t in client_body proxy fastcgi uwsgi scgi; do
            echo "  ${t}_temp_path $D/nginx/tmp/$t;"
        done
        sed -e "s#/etc/ovsa/#$D/etc/#g" \
            -e "s#listen 443 ssl;#listen 127.0.0.1:$PORT ssl;#" \
            -e "s#server unix:/run/ovsa/backend.sock;#server unix:$SOCK;#" \
            "$TOP/conf.d/ovsa-license-server.conf"
        echo "}"
    } > "$tmp" || die "cannot write nginx.conf"
    mv "$tmp" "$D/nginx/conf/nginx.conf" || die "cannot install nginx.conf"
}

start_redis() {
    redis-server --port 0 --unixsocket "$D/redis/redis.sock" \
        --unixsocketperm 700 --dir "$D/redis" --daemonize yes \
        --pidfile "$D/run/redis.pid" --logfile "$D/redis/redis.log" \
        --appendonly yes --appendfsync everysec \
        --maxmemory-policy noeviction --save 60 1 >/dev/null \
        || die "redis-server did not start"
    n=0
    until redis-cli -s "$D/redis/redis.sock" ping >/dev/null 2>&1; do
        n=$((n + 1))
        [ $n -lt 50 ] || die "redis-server does not answer (see $D/redis/redis.log)"
        sleep 0.1
    done
}

start_backend() {
    "$OVSA_BACKEND" -c "$D/etc/default.yaml" -t >/dev/null \
        || die "ovsa-backend refused default.yaml"
    "$OVSA_BACKEND" -c "$D/etc/default.yaml" \
        >>"$D/run/backend.log" 2>&1 &
    echo $! > "$D/run/backend.pid"
    n=0
    until curl -s -o /dev/null --unix-socket "$SOCK" http://localhost/; do
        n=$((n + 1))
        kill -0 "$(cat "$D/run/backend.pid")" 2>/dev/null \
            || die "ovsa-backend exited (see $D/run/backend.log)"
        [ $n -lt 50 ] || die "ovsa-backend does not answer"
        sleep 0.1
    done
}

# a demo customer license for this server, signed by the ISV, imported
import_license() {
    lic="$D/licenses/$LICENSE_ID.lic"
    if [ ! -f "$lic" ]; then
        mkdir -p "$D/licenses"
        "$OVSATOOL" create -k "$D/isv" -id "$LICENSE_ID" \
            -product "demo-app" -customer "Demo Customer" \
            -type time-limited -expires "$(date -u -d '+1 year' +%Y-%m-%d)" \
            -sync-interval 3600 -server "https://localhost:$PORT" \
            -server-cert "$D/etc/current/server-chain.pem" -out "$lic" \
            >/dev/null || die "ovsatool could not create the demo license"
    fi
    "$OVSACTL" -url "http://127.0.0.1:$APORT" \
        -token-file "$D/etc/admin.token" import "$lic" >/dev/null 2>&1 \
        || "$OVSACTL" -url "http://127.0.0.1:$APORT" \
            -token-file "$D/etc/admin.token" show "$LICENSE_ID" >/dev/null \
        || die "the demo license could not be imported"
    say "customer license $lic imported (ovsatool show -l $lic; its secret: $lic.secret, 0600)"
}

check() {
    say "license check: ovsa-check with the customer license (pinned TLS, signed answer, signing chain to the vendor root)"
    "$OVSA_CHECK" -license "$D/licenses/$LICENSE_ID.lic" \
        -isv "$D/isv/isv.crt" -root "$D/ca/root.pem" -cache "$D/cache" \
        || die "the license check did not verify"
}

up() {
    sh "$TOP/scripts/install-deps.sh" || die "dependencies not installed"
    # the build is not secret, and nginx workers (user nobody) load parts
    # of it in the tests: build with the usual umask, not this script's
    (umask 022 && make -C "$TOP" -s >/dev/null) \
        || die "build failed (run make for details)"
    find_bins
    mkdir -p "$D"
    down
    provision
    nginx_conf
    start_redis
    start_backend
    "$NGINX" -p "$D/nginx/" -c "$D/nginx/conf/nginx.conf" -t -q \
        || die "nginx -t refused the configuration"
    "$NGINX" -p "$D/nginx/" -c "$D/nginx/conf/nginx.conf" 2>/dev/null \
        || die "nginx did not start"
    say "license server on https://localhost:$PORT (identity in $D/etc)"
    import_license
    check
    echo
    echo "again:  sh scripts/demo.sh check"
    echo "admin:  $OVSACTL -url http://127.0.0.1:$APORT -token-file $D/etc/admin.token list"
    echo "stop:   sh scripts/demo.sh down"
}

case "${1:-up}" in
    up)    up ;;
    check) find_bins; check ;;
    down)  down ;;
    -h|--help|help) usage ;;
    *) usage >&2; die "unknown command '$1'" ;;
esac
