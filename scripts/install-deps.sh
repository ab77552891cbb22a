#!/bin/sh
# install-deps.sh: install the Debian 12 packages ovsa-nginx needs to build,
# run and test.  Waits for the dpkg lock instead of failing when another
# apt is running.  Does nothing when everything is already installed.
set -eu

PKGS="build-essential pkg-config nginx-light nginx-dev redis-server
libyaml-dev libhiredis-dev libjansson-dev libmicrohttpd-dev
libcurl4-openssl-dev libssl-dev openssl curl libp11-kit-dev
softhsm2 opensc p11-kit p11-kit-modules libengine-pkcs11-openssl
libtest-base-perl libtext-diff-perl liblist-moreutils-perl
libio-socket-ssl-perl libjson-pp-perl wrk gnuplot-nox libcmocka-dev
clang-14 libclang-rt-14-dev faketime python3
xxd redis-tools valgrind
debhelper dpkg-dev lintian mmdebstrap iproute2
prometheus"

die() { echo "install-deps: $*" >&2; exit 1; }

missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null \
        | grep -q '^install ok installed$' || missing="$missing $p"
done

[ -n "$missing" ] || exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || die "need root or sudo to install:$missing"
    SUDO=sudo
fi

echo "install-deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get -o DPkg::Lock::Timeout=600 update -q \
    || die "apt-get update failed"
# shellcheck disable=SC2086
$SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends \
    $missing || die "apt-get install failed"

# Debian starts the packaged daemons; ovsa runs its own private ones.
# (prometheus is here for promtool, t/103-metrics.t: its server is not used)
for svc in nginx redis-server prometheus; do
    if command -v service >/dev/null 2>&1; then
        $SUDO service "$svc" stop >/dev/null 2>&1 || true
    fi
done
