#!/bin/sh
# run.sh: build the measurement probe of docs/hardware-key.md and run one
# scenario.  Throwaway evidence, not product code.
#   sh docs/hwkey-probe/run.sh build
#   sh docs/hwkey-probe/run.sh delay|unplug|freeze   (TIMEOUT=ms, OVSA_PROBE_NO_EXIT=1)
# shellcheck disable=SC2015  # "a && b || fail" is meant
set -u
OVSA_REPO=$(cd "$(dirname "$0")/../.." && pwd); export OVSA_REPO
P=${PROBE_DIR:-/tmp/ovsa-hwkey-probe}; BUILD=$P/build; TP=$P/run
FX=$OVSA_REPO/t/lib/softhsm.sh; D=$TP/hsm
if [ "$1" = build ]; then
    mkdir -p "$P/mod" && cp "$OVSA_REPO/docs/hwkey-probe/config" \
        "$OVSA_REPO/docs/hwkey-probe/ngx_ovsa_probe_module.c" "$P/mod/" || exit 1
    cd /usr/share/nginx/src && bash -c '. ./conf_flags && ./configure \
      --with-cc-opt="$(dpkg-buildflags --get CFLAGS) -fPIC $(dpkg-buildflags --get CPPFLAGS)" \
      --with-ld-opt="$(dpkg-buildflags --get LDFLAGS) -fPIC" "${NGX_CONF_FLAGS[@]}" \
      --add-dynamic-module='"$P/mod"' --builddir='"$BUILD"' >'"$P"'/configure.log 2>&1' \
      && make -f "$BUILD/Makefile" -C /usr/share/nginx/src modules >"$P/make.log" 2>&1 \
      || { echo "build failed, see $P"; exit 1; }
    exit 0
fi
mkdir -p "$TP/logs"
sed -e "s|@BUILD@|$BUILD|; s|@RUN@|$TP|g" "$OVSA_REPO/docs/hwkey-probe/nginx.conf.in" > "$TP/nginx.conf"
sh "$FX" destroy "$D" 2>/dev/null; sh "$FX" init "$D" >/dev/null && sh "$FX" start "$D" || exit 1
eval "$(sh "$FX" env "$D")"
export OVSA_PROBE_URI="pkcs11:token=ovsa-test;object=ovsa-rsa;type=private"
export OVSA_PROBE_PIN_FILE="$OVSA_HSM_PIN_FILE" OVSA_PROBE_TIMEOUT_MS="${TIMEOUT:-1000}"
export OVSA_PROBE_MODULE="$OVSA_P11_MODULE"
if [ "$1" = delay ]; then
    export OVSA_PROBE_MODULE="$OVSA_REPO/build/lib/ovsa-p11-delay.so"
    export OVSA_P11_DELAY_TARGET="$OVSA_P11_MODULE" OVSA_P11_DELAY_MS=1500
fi
: > "$TP/logs/error.log"
timeout 12 nginx -p "$TP" -c "$TP/nginx.conf" & NP=$!
sleep 1
case "$1" in
delay)
    curl -s -o "$TP/sign.out" -w 'sign: %{http_code} in %{time_total}s\n' http://127.0.0.1:24802/sign &
    sleep 0.2
    curl -s -o /dev/null -w 'fast (while signing): %{http_code} in %{time_total}s\n' http://127.0.0.1:24802/fast
    wait $!; cat "$TP/sign.out"
    kill -QUIT "$(cat "$TP/nginx.pid")" ;;
freeze) sh "$FX" freeze "$D"
    curl -s -m 10 -w ' -> %{http_code} in %{time_total}s\n' http://127.0.0.1:24802/sign ;;
unplug) sh "$FX" unplug "$D"
    curl -s -m 10 -w ' -> %{http_code} in %{time_total}s\n' http://127.0.0.1:24802/sign ;;
esac
wait $NP; echo "nginx master exit status: $?"
grep -E 'ovsa|exited|signal 3|fatal' "$TP/logs/error.log" | sed 's/^[0-9/]* [0-9:]* //'
[ "$1" != freeze ] || sh "$FX" thaw "$D"
sh "$FX" destroy "$D"
