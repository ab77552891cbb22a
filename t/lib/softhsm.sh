#!/bin/sh
# softhsm.sh: a private SoftHSM2 token behind `p11-kit server`, for tests.
#
# The token lives in DIR (a private temp dir the caller owns).  Clients
# reach it through p11-kit-client.so on a unix socket, so killing the
# server processes behaves like pulling a hardware token out.
#
#   softhsm.sh init DIR [ec]   new token, PINs in DIR/*-pin (0600), an
#                              RSA-2048 key (label ovsa-rsa, id 01) and,
#                              with "ec", a P-256 key (ovsa-ec, id 02)
#   softhsm.sh start DIR       start p11-kit server on DIR/p11.sock
#   softhsm.sh unplug DIR      kill the server and its per-client children
#   softhsm.sh stop DIR        same as unplug (no error when not running)
#   softhsm.sh freeze DIR      SIGSTOP server and children (a hung token)
#   softhsm.sh thaw DIR        SIGCONT them
#   softhsm.sh env DIR         print the sh environment a client needs
#   softhsm.sh destroy DIR     stop, then remove DIR
#
# Token label: $OVSA_HSM_LABEL (default ovsa-test).
set -eu
umask 077

SOFTHSM_MODULE=${SOFTHSM_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
CLIENT_MODULE=/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so
LABEL=${OVSA_HSM_LABEL:-ovsa-test}

usage() {
    echo "usage: softhsm.sh init|start|stop|unplug|freeze|thaw|env|destroy DIR [ec]" >&2
    exit 2
}

die() { echo "softhsm.sh: $*" >&2; exit 1; }

# A random decimal PIN of $1 digits.
random_pin() {
    od -An -N16 -tu8 /dev/urandom | tr -dc 0-9 | cut -c1-"$1"
}

# pkcs11-tool on the direct SoftHSM module; PINs travel in the environment
# (pkcs11-tool reads "env:NAME"), never in argv.
p11tool() {
    SOFTHSM2_CONF="$DIR/softhsm2.conf" \
        pkcs11-tool --module "$SOFTHSM_MODULE" "$@"
}

cmd_init() {
    [ ! -e "$DIR/softhsm2.conf" ] || die "$DIR already holds a token"
    command -v pkcs11-tool >/dev/null || die "pkcs11-tool not found (opensc)"
    [ -r "$SOFTHSM_MODULE" ] || die "$SOFTHSM_MODULE missing (softhsm2)"
    mkdir -p "$DIR/tokens" || die "cannot create $DIR/tokens"
    chmod 0700 "$DIR" || die "cannot chmod $DIR"
    printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\n'\
'log.level = ERROR\nslots.removable = false\n' "$DIR" \
        > "$DIR/softhsm2.conf" || die "cannot write softhsm2.conf"

    random_pin 8 > "$DIR/so-pin" || die "cannot write so-pin"
    random_pin 6 > "$DIR/user-pin" || die "cannot write user-pin"
    chmod 0600 "$DIR/so-pin" "$DIR/user-pin" || die "cannot chmod pin files"
    OVSA_SO_PIN=$(cat "$DIR/so-pin") || die "cannot read so-pin"
    OVSA_USER_PIN=$(cat "$DIR/user-pin") || die "cannot read user-pin"
    export OVSA_SO_PIN OVSA_USER_PIN

    p11tool --init-token --slot-index 0 --label "$LABEL" \
        --so-pin env:OVSA_SO_PIN >/dev/null 2>&1 \
        || die "init token $LABEL failed"
    p11tool --token-label "$LABEL" --login --login-type so \
        --so-pin env:OVSA_SO_PIN --init-pin --pin env:OVSA_USER_PIN \
        >/dev/null 2>&1 || die "init user PIN failed"
    p11tool --token-label "$LABEL" --login --pin env:OVSA_USER_PIN \
        --keypairgen --key-type rsa:2048 --label ovsa-rsa --id 01 \
        >/dev/null 2>&1 || die "RSA-2048 key generation failed"
    if [ "$EXTRA" = ec ]; then
        p11tool --token-label "$LABEL" --login --pin env:OVSA_USER_PIN \
            --keypairgen --key-type EC:prime256v1 --label ovsa-ec --id 02 \
            >/dev/null 2>&1 || die "P-256 key generation failed"
    fi

    p11tool --token-label "$LABEL" --login --pin env:OVSA_USER_PIN \
        --list-objects --type privkey 2>/dev/null | grep -q 'label: *ovsa-rsa' \
        || die "RSA key not found on the token after generation"
    unset OVSA_SO_PIN OVSA_USER_PIN
}

# True while process $1 exists and is not a zombie (our parent may not be
# the one that reaps it).
alive() {
    [ -r "/proc/$1/stat" ] || return 1
    state=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1) || return 1
    [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

# The pid of the running server, or nothing.
server_pid() {
    [ -s "$DIR/server.pid" ] || return 0
    pid=$(cat "$DIR/server.pid")
    if alive "$pid"; then echo "$pid"; fi
    return 0
}

cmd_start() {
    [ -r "$DIR/softhsm2.conf" ] || die "no token in $DIR (run init first)"
    [ -z "$(server_pid)" ] || die "server already running in $DIR"
    rm -f "$DIR/p11.sock"
    # p11-kit writes to clients that may have gone: never die of SIGPIPE.
    trap '' PIPE
    SOFTHSM2_CONF="$DIR/softhsm2.conf" p11-kit server -f -s \
        --provider "$SOFTHSM_MODULE" -n "$DIR/p11.sock" \
        "pkcs11:token=$LABEL" >"$DIR/server.out" 2>"$DIR/server.err" </dev/null &
    echo $! > "$DIR/server.pid" || die "cannot write server.pid"

    i=0
    while [ ! -S "$DIR/p11.sock" ]; do
        i=$((i + 1))
        [ "$i" -le 100 ] || die "p11-kit server did not create its socket: \
$(cat "$DIR/server.err")"
        alive "$(cat "$DIR/server.pid")" \
            || die "p11-kit server exited: $(cat "$DIR/server.err")"
        sleep 0.05
    done

    P11_KIT_SERVER_ADDRESS="unix:path=$DIR/p11.sock" \
        pkcs11-tool --module "$CLIENT_MODULE" -L 2>/dev/null \
        | grep -q "token label *: *$LABEL\$" \
        || die "token $LABEL not visible through $DIR/p11.sock"
}

# Kills the server and every child it forked for a client.  The server is
# stopped first so it cannot fork while its children are listed.
cmd_unplug() {
    pid=$(server_pid)
    if [ -z "$pid" ]; then
        [ "$1" = quiet ] || die "server not running in $DIR"
        return 0
    fi
    kill -STOP "$pid" 2>/dev/null || true
    kids=$(pgrep -P "$pid" || true)
    echo "$pid $kids" > "$DIR/unplugged.pids"
    # shellcheck disable=SC2086
    kill -KILL "$pid" $kids 2>/dev/null || true
    for p in $pid $kids; do
        i=0
        while alive "$p"; do
            i=$((i + 1))
            [ "$i" -le 100 ] || die "process $p survived SIGKILL"
            sleep 0.05
        done
    done
    rm -f "$DIR/server.pid" "$DIR/p11.sock"
}

# SIGSTOP / SIGCONT the server and its children: a token that hangs.
cmd_signal() {
    pid=$(server_pid)
    [ -n "$pid" ] || die "server not running in $DIR"
    kids=$(pgrep -P "$pid" || true)
    # shellcheck disable=SC2086
    kill -"$1" "$pid" $kids || die "kill -$1 failed"
}

cmd_env() {
    echo "P11_KIT_SERVER_ADDRESS='unix:path=$DIR/p11.sock'; export P11_KIT_SERVER_ADDRESS;"
    echo "OVSA_P11_MODULE='$CLIENT_MODULE'; export OVSA_P11_MODULE;"
    echo "OVSA_HSM_LABEL='$LABEL'; export OVSA_HSM_LABEL;"
    echo "OVSA_HSM_PIN_FILE='$DIR/user-pin'; export OVSA_HSM_PIN_FILE;"
    echo "SOFTHSM2_CONF='$DIR/softhsm2.conf'; export SOFTHSM2_CONF;"
}

[ $# -ge 2 ] || usage
CMD=$1
DIR=$2
EXTRA=${3:-}
case "$DIR" in
/*) ;;
*)  DIR=$PWD/$DIR ;;
esac

case "$CMD" in
init)    mkdir -p "$DIR" || die "cannot create $DIR"; cmd_init ;;
start)   cmd_start ;;
unplug)  cmd_unplug loud ;;
stop)    cmd_unplug quiet ;;
freeze)  cmd_signal STOP ;;
thaw)    cmd_signal CONT ;;
env)     cmd_env ;;
destroy) cmd_unplug quiet; rm -rf "$DIR" || die "cannot remove $DIR" ;;
*)       echo "softhsm.sh: unknown command '$CMD'" >&2; usage ;;
esac
