#!/bin/bash
# test-deb.sh DEBDIR: the clean-root install test (make test-deb).
#
# A clean Debian 12 root (mmdebstrap --variant=apt from deb.debian.org,
# cached as build/deb-root/bookworm.tar), in which:
#   1. the .debs of DEBDIR (make deb) are installed with apt-get, so that
#      their dependencies (nginx, redis-server, ...) come from Debian;
#   2. every ```sh block of docs/install.md is run, literally and in order,
#      as root, with `bash -eux` (the first block, the package
#      installation, with the network; the others in a network namespace
#      of their own, so that ports 80, 443, 6379 and 9081 are the root's
#      alone); the last one is ovsa-check verifying a license check;
#   3. conf.d/README.md's ```sh blocks, run the same way on that stock
#      Debian nginx with the packages installed, pass `nginx -t`;
#   4. the SDK's pkg-config file and library are where an ISV finds them.
# There is no systemd in the root: `systemctl` there is a small stand-in
# (below) that runs nginx and redis-server by their init scripts and
# ovsa-backend as its unit says (User, Group, SupplementaryGroups,
# RuntimeDirectory, NoNewPrivileges, ExecStartPre, ExecStart).  The unit
# itself is checked with `systemd-analyze verify` where that exists.
#
# Everything runs in a mount + pid namespace: when a step ends, its
# processes and mounts go with it.  The root is removed on every exit.
set -euo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
DEBDIR=${1:-$TOP/build/deb}
CACHE=${OVSA_DEB_ROOT_CACHE:-$TOP/build/deb-root}
MIRROR=${OVSA_DEB_MIRROR:-http://deb.debian.org}
TARBALL=$CACHE/bookworm.tar
PROG=test-deb

die() { echo "$PROG: FAIL: $*" >&2; exit 1; }
say() { echo "==> $PROG: $*"; }

[ "$(id -u)" = 0 ] || die "needs root (chroot, namespaces)"
for c in mmdebstrap unshare chroot ip; do
    command -v "$c" >/dev/null || die "needs $c (apt-get install mmdebstrap util-linux iproute2)"
done
ls "$DEBDIR"/*.deb >/dev/null 2>&1 || die "no .deb in $DEBDIR (run make deb)"

# ---- the documents' shell blocks
# blocks FILE: the ```sh blocks of FILE, each followed by a line "#--block"
blocks() {
    awk '/^```sh$/ { on = 1; next }
         /^```/ && on { on = 0; print "#--block"; next }
         on { print }' "$1"
}
# block N FILE: the Nth ```sh block (1-based) of FILE
block() {
    blocks "$2" | awk -v n="$1" '/^#--block$/ { i++; next } i == n - 1 { print }'
}
nblocks() { blocks "$1" | grep -c '^#--block$' || true; }

INSTALL_MD=$TOP/docs/install.md
README_MD=$TOP/conf.d/README.md
n_inst=$(nblocks "$INSTALL_MD")
n_read=$(nblocks "$README_MD")
[ "$n_inst" -ge 5 ] || die "docs/install.md: $n_inst sh blocks, expected the full procedure"
[ "$n_read" -ge 1 ] || die "conf.d/README.md: no sh block"
block 1 "$INSTALL_MD" | grep -q 'apt-get install' \
    || die "docs/install.md: the first sh block must install the packages"
block "$n_inst" "$INSTALL_MD" | grep -q '^ovsa-check ' \
    || die "docs/install.md: the last sh block must be the ovsa-check"
# what install.md says about the drop-in is what conf.d/README.md says
for i in $(seq 1 "$n_read"); do
    block "$i" "$README_MD" > "${TMPDIR:-/tmp}/ovsa-readme-block.$$"
    blocks "$INSTALL_MD" | perl -e '
        local $/; open(my $f, "<", $ARGV[0]) or die; my $b = <$f>; my $all = <STDIN>;
        exit(index($all, $b) >= 0 ? 0 : 1)' "${TMPDIR:-/tmp}/ovsa-readme-block.$$" \
        || { rm -f "${TMPDIR:-/tmp}/ovsa-readme-block.$$";
             die "conf.d/README.md sh block $i is not, as it is, in docs/install.md"; }
    rm -f "${TMPDIR:-/tmp}/ovsa-readme-block.$$"
done

# ---- the unit
unit=$(ls "$DEBDIR"/ovsa-backend_*.deb | head -1)
if command -v systemd-analyze >/dev/null; then
    ux=$(mktemp -d)
    dpkg-deb -x "$unit" "$ux"
    # the unit with its program where it was unpacked: verify then checks
    # every setting and that the commands exist; it prints nothing (and
    # still exits 0 on an unknown or invalid setting) when all is well
    sed "s#/usr/sbin/ovsa-backend#$ux/usr/sbin/ovsa-backend#g" \
        "$ux/lib/systemd/system/ovsa-backend.service" > "$ux/ovsa-backend.service"
    out=$(systemd-analyze verify --man=no "$ux/ovsa-backend.service" 2>&1) \
        || out="$out (exit status $?)"
    rm -rf "$ux"
    if [ -n "$out" ]; then
        printf '%s\n' "$out" >&2
        die "systemd-analyze verify: ovsa-backend.service"
    fi
    say "systemd-analyze verify ovsa-backend.service: clean"
else
    say "systemd-analyze not available: unit not verified"
fi

# ---- the clean root, cached
mkdir -p "$CACHE"
if [ ! -s "$TARBALL" ]; then
    say "mmdebstrap bookworm from $MIRROR into $TARBALL"
    mmdebstrap --variant=apt --mode=root --format=tar bookworm "$TARBALL.tmp" \
        "deb $MIRROR/debian bookworm main" \
        "deb $MIRROR/debian bookworm-updates main" \
        "deb $MIRROR/debian-security bookworm-security main" \
        > "$CACHE/mmdebstrap.log" 2>&1 \
        || { tail -20 "$CACHE/mmdebstrap.log"; rm -f "$TARBALL.tmp"; die "mmdebstrap failed"; }
    mv "$TARBALL.tmp" "$TARBALL"
fi

R=$(mktemp -d "${TMPDIR:-/tmp}/ovsa-deb-root.XXXXXX")
cleanup() {
    rc=$?
    # the namespaces took their mounts with them; never remove a root that
    # still has anything mounted under it
    if grep -q " $R/" /proc/self/mounts; then
        echo "$PROG: mounts left under $R, not removed" >&2
    else
        rm -rf --one-file-system "$R"
    fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

tar --numeric-owner -C "$R" -xf "$TARBALL"
mkdir -p "$R/debs" "$CACHE/archives/partial"
cp "$DEBDIR"/*.deb "$R/debs/"
# no daemon starts while packages are installed
printf '#!/bin/sh\nexit 101\n' > "$R/usr/sbin/policy-rc.d"
chmod 0755 "$R/usr/sbin/policy-rc.d"
rm -f "$R/etc/apt/apt.conf.d/docker-clean"
cp /etc/resolv.conf "$R/etc/resolv.conf"
# what the installer writes on a real system (no package ships it)
[ -s "$R/etc/hosts" ] \
    || printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' \
        > "$R/etc/hosts"


# in_root NET SCRIPT: run SCRIPT (a file in the root) with bash -eux in
# the root, in new mount + pid namespaces, and with NET=nonet in a network
# namespace of its own (loopback only)
in_root() {
    unshare --mount --pid --fork --propagation private ${1:+--net} \
        bash -euc '
            R=$1; NET=$3
            if [ -n "$NET" ]; then ip link set lo up; fi
            mount -t proc proc "$R/proc"
            mount --bind /dev "$R/dev"
            mount --bind "$CACHE/archives" "$R/var/cache/apt/archives"
            exec chroot "$R" /usr/bin/env -i HOME=/root TERM=dumb \
                PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
                DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 \
                bash -eux -c "cd /debs && . $2"
        ' in_root "$R" "$2" "$1"
}
export CACHE

# 1. the packages, with the network: install.md's first block
{
    echo 'export DEBIAN_FRONTEND=noninteractive'
    block 1 "$INSTALL_MD"
    # and the SDK, as an ISV installs it
    echo 'apt-get install -y --no-install-recommends ./libovsa-client1_*.deb ./libovsa-client-dev_*.deb pkg-config'
} > "$R/step-install.sh"
say "apt-get install of the .debs in a clean bookworm root"
in_root "" /step-install.sh || die "installing the packages failed"

# 2-4: the procedure, without the network
# the systemctl stand-in (only in this root, ahead of /usr/bin in PATH;
# written after the installation, which must not see it)
cat > "$R/usr/local/sbin/systemctl" <<'SHIM'
#!/bin/sh
# systemctl stand-in for the test root (no systemd): init scripts for
# nginx and redis-server, the unit's own settings for ovsa-backend
set -eu
now=
args=
for a; do
    case $a in --now) now=1 ;; -*) ;; *) args="$args $a" ;; esac
done
set -- $args
act=$1; shift
for u; do
    u=${u%.service}
    if [ "$act" = enable ]; then
        [ -n "$now" ] || continue
        act1=start
    else
        act1=$act
    fi
    if [ "$u" != ovsa-backend ]; then
        /etc/init.d/"$u" "$act1"
        continue
    fi
    f=/lib/systemd/system/ovsa-backend.service
    key() { sed -n "s/^$1=//p" "$f" | tail -1; }
    pid=/run/ovsa-backend.shim.pid
    stop() {
        [ -f $pid ] && kill "$(cat $pid)" 2>/dev/null || true
        while [ -f $pid ] && kill -0 "$(cat $pid)" 2>/dev/null; do sleep 0.1; done
        rm -f $pid
    }
    case $act1 in
        stop) stop; continue ;;
        start|restart|reload) stop ;;
        *) echo "systemctl (test): $act1 not supported" >&2; exit 1 ;;
    esac
    user=$(key User); group=$(key Group)
    grps=$(for g in $(key SupplementaryGroups); do getent group "$g" | cut -d: -f3; done | paste -sd,)
    rd=$(key RuntimeDirectory); rdm=$(key RuntimeDirectoryMode)
    install -d -o "$user" -g "$group" -m "${rdm:-0755}" "/run/$rd"
    nnp=; [ "$(key NoNewPrivileges)" = yes ] && nnp=--no-new-privs
    priv="setpriv --reuid=$user --regid=$group --groups=${grps:-$group} $nnp"
    umask "$(key UMask)"
    # shellcheck disable=SC2046
    $priv $(key ExecStartPre) || { echo "ovsa-backend: ExecStartPre failed" >&2; exit 1; }
    $priv $(key ExecStart) >>/var/log/ovsa-backend.log 2>&1 &
    echo $! > $pid
    n=0
    until [ -S /run/ovsa/backend.sock ]; do
        n=$((n + 1))
        kill -0 "$(cat $pid)" 2>/dev/null \
            || { cat /var/log/ovsa-backend.log >&2; echo "ovsa-backend exited" >&2; exit 1; }
        [ $n -lt 100 ] || { echo "ovsa-backend: no socket" >&2; exit 1; }
        sleep 0.1
    done
done
SHIM
chmod 0755 "$R/usr/local/sbin/systemctl"

{
    for i in $(seq 2 "$n_inst"); do
        echo "echo '==> docs/install.md block $i'"
        block "$i" "$INSTALL_MD"
    done
    for i in $(seq 1 "$n_read"); do
        echo "echo '==> conf.d/README.md block $i'"
        block "$i" "$README_MD"
    done
    cat <<'EOF'
echo '==> the backend runs as its unit says, without access to the key'
bpid=$(cat /run/ovsa-backend.shim.pid)
test "$(awk '/^Uid:/ { print $2 }' /proc/$bpid/status)" = "$(id -u ovsa)"
grep -q '^NoNewPrivs:[[:space:]]*1$' /proc/$bpid/status
test "$(stat -c %U:%G:%a /run/ovsa/backend.sock)" = ovsa:www-data:660
if setpriv --reuid=ovsa --regid=ovsa --clear-groups cat /etc/ovsa/current/server.key >/dev/null 2>&1; then
    echo "FAIL: the user ovsa can read the server key" >&2; exit 1
fi
echo '==> the SDK for an ISV'
pkg-config --cflags --libs ovsa-client | grep -q -- '-lovsa-client'
test -f "$(pkg-config --variable=includedir ovsa-client)/ovsa.h"
test -e "$(pkg-config --variable=libdir ovsa-client)/libovsa-client.so.1"
echo '==> an answer nginx signed, from the packaged module'
ovsa-check -license /root/DEMO-0001.lic -isv /root/isv/isv.crt \
    -root /root/ovsa-dev-ca/root.pem -cache /root/ovsa-cache
echo "TEST-DEB-OK"
EOF
} > "$R/step-procedure.sh"
say "docs/install.md and conf.d/README.md, literally, in the root"
out=$R/procedure.log
in_root nonet /step-procedure.sh 2>&1 | tee "$out" \
    || { for l in var/log/ovsa-backend.log var/log/nginx/error.log; do
             [ -f "$R/$l" ] && { echo "--- $l"; tail -20 "$R/$l"; }; done
         die "the documented procedure failed"; }
grep -qx 'TEST-DEB-OK' "$out" || die "the procedure did not finish"
grep -q '^verified: valid OK' "$out" || die "ovsa-check did not print a valid verdict"
say "PASS: clean-root install, docs/install.md and conf.d/README.md verified"
