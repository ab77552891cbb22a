# hwkey.sh: hardware-key mode on a SoftHSM2 token (t/lib/softhsm.sh
# makes it: RSA-2048 "ovsa-rsa" and P-256 "ovsa-ec").  The ceiling is the
# token's signing rate through lib/ovsa_p11 (ovsa-bench-p11sign); the
# scenario is kept-alive signed checks with hardware_key.enabled.
# Sourced by bench/run.sh after ovsa.sh.

SOFTHSM_LIB=/usr/lib/softhsm/libsofthsm2.so

# p11_speed KEY [SCENARIO MODULE]: the token's signing rate as a ceiling
# row (default softhsm-sign-KEY, SoftHSM itself).
p11_speed() {
    _sc=${2:-softhsm-sign-$1}
    _out="$RUN/out/$_sc.txt"
    if ! SOFTHSM2_CONF="$HSM/softhsm2.conf" "$BIN/ovsa-bench-p11sign" \
        -module "${3:-$SOFTHSM_LIB}" \
        -uri "pkcs11:token=ovsa-test;object=ovsa-$1;type=private" \
        -pin-file "$HSM/user-pin" -t "$SPEED_SECS" >"$_out" 2>&1
    then
        skip "$_sc" ceiling "$1" "ovsa-bench-p11sign failed: $(tail -1 "$_out" | tr -d ',')"
        return 0
    fi
    awk -v sc="$_sc" -v key="$1" '/^OVSA-BENCH / {
        for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
        n = v["requests"]; rate = n / (v["duration_us"] / 1e6)
        printf "%s,ceiling,%s,1,%d,%.1f,%.3f,%.3f,%.3f,%d,%.1f,,,,,,,,1.000,,,ok\n",
            sc, key, n, rate, v["p50_us"] / 1000, v["p99_us"] / 1000,
            v["p999_us"] / 1000, v["errors"], v["cpu_us"] / n
    }' "$_out" >>"$CSV"
    note "$(tail -1 "$CSV" | cut -d, -f1,6 | tr ',' ' ') signatures/s"
}

# hw_identity: a leaf for the token's RSA key (CSR signed on the token by
# scripts/ovsa_hwkey.sh, issued by the test PKI's intermediate).
hw_identity() {
    SOFTHSM2_CONF="$HSM/softhsm2.conf" sh "$ROOT/scripts/ovsa_hwkey.sh" csr \
        -module "$SOFTHSM_LIB" \
        -uri "pkcs11:token=ovsa-test;object=ovsa-rsa;type=private" \
        -pin-file "$HSM/user-pin" -cn localhost -out "$HSM/hw.csr" \
        >"$RUN/logs/hw-csr.log" 2>&1 || return 1
    openssl ca -batch -notext -config "$PKI/inter.cnf" -cert "$PKI/inter.pem" \
        -keyfile "$PKI/inter.key" -in "$HSM/hw.csr" -out "$HSM/hw-leaf.pem" \
        -extensions v3_leaf -extfile "$PKI/inter.cnf" -days 30 \
        >"$RUN/logs/hw-ca.log" 2>&1 || return 1
    cat "$HSM/hw-leaf.pem" "$PKI/inter.pem" >"$HSM/hw-chain.pem"
}

hwkey_scenarios() {
    HSM="$RUN/hsm"
    if [ ! -x "$BIN/ovsa-bench-p11sign" ] || [ ! -r "$SOFTHSM_LIB" ]; then
        for _k in rsa ec; do
            skip "softhsm-sign-$_k" ceiling "$_k" "no ovsa-bench-p11sign or SoftHSM2"
        done
        skip check-ka-hwkey ovsa rsa "no SoftHSM2"
        yk_skip "no ovsa-bench-p11sign or SoftHSM2"
        return 0
    fi
    sh "$ROOT/t/lib/softhsm.sh" init "$HSM" ec >"$RUN/logs/hsm.log" 2>&1 || {
        skip check-ka-hwkey ovsa rsa "SoftHSM token: $(tail -1 "$RUN/logs/hsm.log")"
        yk_skip "SoftHSM token failed"
        return 0
    }
    p11_speed rsa
    p11_speed ec

    if [ -z "$(why_not_ready)" ] && [ -z "$SIGN_WHY" ] \
        && [ -f "$RUN/pids/backend" ] && hw_identity
    then
        # nginx workers run as nobody and open the token themselves
        # (SoftHSM also writes lock files next to the token objects); the
        # PIN file stays 0600 (secret files open to others are refused)
        # and belongs to the worker user instead
        chmod -R a+rX "$HSM" && chmod 0600 "$HSM/user-pin" \
            && chmod -R a+rwX "$HSM/tokens" \
            || die "chmod $HSM"
        if [ "$(id -u)" -eq 0 ]; then
            chown nobody "$HSM/user-pin" || die "chown $HSM/user-pin"
        fi
        cat >"$RUN/ovsa/default-hw.yaml" <<EOF || die "write default-hw.yaml"
identity:
  chain: $HSM/hw-chain.pem
  root: $PKI/root.pem
hardware_key:
  enabled: true
  module: $SOFTHSM_LIB
  key_uri: "pkcs11:token=ovsa-test;object=ovsa-rsa;type=private"
  pin_file: $HSM/user-pin
backend:
  listen: 127.0.0.1:$P_BACKEND
  admin_listen: 127.0.0.1:$P_ADMIN
  admin_token_file: $RUN/ovsa/admin.token
redis:
  address: 127.0.0.1:$P_REDIS
  prefix: "$PREFIX"
  require_durable: false    # the bench's Redis runs without AOF
licenses:
  isv_certs:
    - $RUN/isv/isv.crt
EOF
        # the backend itself is not in hardware-key mode here, so the
        # licenses need not require a hardware key
        SOFTHSM2_CONF="$HSM/softhsm2.conf"
        export SOFTHSM2_CONF
        MAIN_EXTRA="env SOFTHSM2_CONF;
thread_pool ovsa threads=1;"
        if ovsa_nginx hw on 2>"$RUN/logs/hw-nginx.log" && one_check on; then
            measure check-ka-hwkey ovsa rsa "$CONNS" softhsm-sign-rsa \
                wrk_run "$CONNS" "https://127.0.0.1:$P_OVSA/" check.lua \
                OVSA_BENCH_LICENSES=$NLIC
        else
            skip check-ka-hwkey ovsa rsa "the module does not sign with hardware_key yet: $(grep -h 'emerg\|error' "$RUN/logs/hw-nginx.log" "$RUN/ovsa/logs/error.log" 2>/dev/null | tail -1 | sed 's/^.*\] [0-9#]*: //; s/ in \/.*//' | cut -c1-140 | tr -d ',')"
        fi
        unset SOFTHSM2_CONF
        MAIN_EXTRA=""
        yubikey_scenarios
        nginx_stop ovsa
        ovsa_nginx ec on >/dev/null 2>&1 || true
    else
        skip check-ka-hwkey ovsa rsa "no signed check path or no token identity"
        yk_skip "no signed check path or no token identity"
    fi
}

# ---- 12b: the same token at YubiKey speed (docs/performance.md,
# "Hardware key at token speed").  The PKCS#11 delay shim makes SoftHSM
# sign one operation at a time for every process (OVSA_P11_TOKEN_LOCK)
# in YK_RSA_MS / YK_EC_MS per signature; the lock file counts the
# signatures the token made.

P11_DELAY=${OVSA_BUILD:-$ROOT/build}/lib/ovsa-p11-delay.so
YK_RSA_MS=${OVSA_BENCH_YK_RSA_MS:-100}
YK_EC_MS=${OVSA_BENCH_YK_EC_MS:-80}
YK_CONNS=256         # kept-alive checks that batching can gather
YK_FLOOD=500         # flooding connections
YK_ROWS="yubikey-sign-rsa yubikey-sign-ec ka-chain-hwkey-idle
ka-chain-hwkey-hs-token ka-chain-hwkey-hs-split check-ka-hwkey-yubikey
flood-hwkey-yubikey"

yk_skip() {
    for _s in $YK_ROWS; do
        case "$_s" in
        *-ec) skip "$_s" ceiling ec "$1" ;;
        yubikey-*) skip "$_s" ceiling rsa "$1" ;;
        *) skip "$_s" ovsa rsa "$1" ;;
        esac
    done
}

# yk_yaml NAME EXTRA: default-NAME.yaml, the token behind the shim, with
# EXTRA lines under hardware_key:
yk_yaml() {
    cat >"$RUN/ovsa/default-$1.yaml" <<EOF || die "write default-$1.yaml"
identity:
  chain: $HSM/hw-chain.pem
  root: $PKI/root.pem
hardware_key:
  enabled: true
  module: $HSM/ovsa-p11-delay.so
  key_uri: "pkcs11:token=ovsa-test;object=ovsa-rsa;type=private"
  pin_file: $HSM/user-pin
$2
backend:
  listen: 127.0.0.1:$P_BACKEND
  admin_listen: 127.0.0.1:$P_ADMIN
  admin_token_file: $RUN/ovsa/admin.token
redis:
  address: 127.0.0.1:$P_REDIS
  prefix: "$PREFIX"
  require_durable: false    # the bench's Redis runs without AOF
licenses:
  isv_certs:
    - $RUN/isv/isv.crt
EOF
}

# yk_signatures: how many signatures the emulated token made so far
yk_signatures() {
    _c=$(head -1 "$HSM/token.lock" 2>/dev/null | tr -cd 0-9)
    echo "${_c:-0}"
}

# yk_stall NAME SCENARIO CEILING [new]: kept-alive GETs of the chain
# (unsigned, no backend) with default-NAME.yaml; with "new", one client
# meanwhile opens a new TLS connection per request (full handshakes) to
# the same worker: the stall a handshake causes to the others.
yk_stall() {
    if ! ovsa_nginx "$1" on 2>"$RUN/logs/$1-nginx.log"; then
        skip "$2" ovsa rsa "nginx with default-$1.yaml did not start: $(tail -1 "$RUN/logs/$1-nginx.log" | cut -c1-140 | tr -d ',')"
        return 0
    fi
    if [ -n "${4:-}" ]; then
        conn_run 1 "$P_OVSA" -path /.well-known/ovsa/chain \
            >"$RUN/out/$2-newconns.txt" 2>&1 &
        _np=$!
        sleep 0.5
    fi
    measure "$2" ovsa rsa "$CONNS" "$3" \
        wrk_run "$CONNS" "https://127.0.0.1:$P_OVSA/.well-known/ovsa/chain" \
        static.lua
    if [ -n "${4:-}" ]; then
        wait "$_np" 2>/dev/null || true
        note "$2: new TLS connections meanwhile: $(grep -o 'requests=[0-9]*' "$RUN/out/$2-newconns.txt" | tail -1)"
    fi
}

yubikey_scenarios() {
    if [ ! -r "$P11_DELAY" ]; then
        yk_skip "$P11_DELAY not built (run make)"
        return 0
    fi
    cp "$P11_DELAY" "$HSM/ovsa-p11-delay.so" \
        && chmod 0755 "$HSM/ovsa-p11-delay.so" \
        && : >"$HSM/token.lock" && chmod 0666 "$HSM/token.lock" \
        || die "yubikey: shim and lock file"
    OVSA_P11_DELAY_TARGET=$SOFTHSM_LIB OVSA_P11_DELAY_MS_RSA=$YK_RSA_MS
    OVSA_P11_DELAY_MS_EC=$YK_EC_MS OVSA_P11_TOKEN_LOCK=$HSM/token.lock
    SOFTHSM2_CONF="$HSM/softhsm2.conf"
    export OVSA_P11_DELAY_TARGET OVSA_P11_DELAY_MS_RSA OVSA_P11_DELAY_MS_EC \
        OVSA_P11_TOKEN_LOCK SOFTHSM2_CONF

    p11_speed rsa yubikey-sign-rsa "$HSM/ovsa-p11-delay.so"
    p11_speed ec yubikey-sign-ec "$HSM/ovsa-p11-delay.so"

    MAIN_EXTRA="env SOFTHSM2_CONF;
env OVSA_P11_DELAY_TARGET;
env OVSA_P11_DELAY_MS_RSA;
env OVSA_P11_DELAY_MS_EC;
env OVSA_P11_TOKEN_LOCK;
thread_pool ovsa threads=1;"

    # the TLS key split off the token (hardware_key.tls_chain/tls_key):
    # the test PKI's P-256 leaf, same root
    cp "$PKI/leaf-ec.key" "$HSM/tls.key" && chmod 0600 "$HSM/tls.key" \
        && cp "$PKI/chain-ec.pem" "$HSM/tls-chain.pem" \
        && chmod 0644 "$HSM/tls-chain.pem" || die "yubikey: TLS identity"
    _split="  tls_chain: $HSM/tls-chain.pem
  tls_key: $HSM/tls.key"
    yk_yaml yk-tok ""
    yk_yaml yk "$_split"
    yk_yaml yk-batch "$_split
  batch_window_ms: 20
  batch_max: 256
  queue_max: 1024"

    # the handshake stall, then without it
    yk_stall yk ka-chain-hwkey-idle ""
    yk_stall yk-tok ka-chain-hwkey-hs-token ka-chain-hwkey-idle new
    yk_stall yk ka-chain-hwkey-hs-split ka-chain-hwkey-idle new

    # batching (part 12a): skipped with the reason when the module does
    # not know hardware_key.batch_window_ms
    _cfg=yk-batch
    if ! ovsa_nginx yk-batch on 2>"$RUN/logs/yk-batch-nginx.log" \
        || ! one_check on
    then
        _why=$(grep -h 'emerg\|error' "$RUN/logs/yk-batch-nginx.log" \
            "$RUN/ovsa/logs/error.log" 2>/dev/null | tail -1 \
            | sed 's/^.*\] [0-9#]*: //; s/ in \/.*//' | cut -c1-140 | tr -d ',')
        skip check-ka-hwkey-yubikey ovsa rsa "batching unknown to the built module (part 12a): $_why"
        _cfg=yk
    else
        _s0=$(yk_signatures)
        measure check-ka-hwkey-yubikey ovsa rsa "$YK_CONNS" yubikey-sign-rsa \
            wrk_run "$YK_CONNS" "https://127.0.0.1:$P_OVSA/" check.lua \
            OVSA_BENCH_LICENSES=$NLIC
        _s1=$(yk_signatures)
        _n=$(csv_get check-ka-hwkey-yubikey requests)
        note "check-ka-hwkey-yubikey: $((_s1 - _s0)) token signatures for ${_n:-0} answers: batch size seen $(awk -v n="${_n:-0}" -v s=$((_s1 - _s0)) 'BEGIN { printf "%.1f", (s > 0 ? n / s : 0) }')"
    fi

    # the flood: YK_FLOOD connections without credentials (every other
    # request without a nonce either) while one client checks on a
    # kept-alive connection; the row is that client's
    if ! ovsa_nginx "$_cfg" on 2>"$RUN/logs/yk-flood-nginx.log" \
        || ! one_check on
    then
        skip flood-hwkey-yubikey ovsa rsa "nginx with default-$_cfg.yaml: $(tail -1 "$RUN/logs/yk-flood-nginx.log" | cut -c1-140 | tr -d ',')"
    else
        _mp=$(cat "$RUN/ovsa/logs/nginx.pid" 2>/dev/null)
        _wp=$(pgrep -P "$_mp" | sort | tr '\n' ' ')
        DUR_SAVE=$DUR
        DUR=$((DUR + 2))
        wrk_run "$YK_FLOOD" "https://127.0.0.1:$P_OVSA/" flood.lua \
            >"$RUN/out/flood-hwkey-yubikey-flood.txt" 2>&1 &
        _fp=$!
        DUR=$DUR_SAVE
        sleep 1
        measure flood-hwkey-yubikey ovsa rsa 1 yubikey-sign-rsa \
            wrk_run 1 "https://127.0.0.1:$P_OVSA/" check.lua \
            OVSA_BENCH_LICENSES=$NLIC
        wait "$_fp" 2>/dev/null || true
        if [ -n "$_mp" ] && kill -0 "$_mp" 2>/dev/null \
            && [ "$(pgrep -P "$_mp" | sort | tr '\n' ' ')" = "$_wp" ]
        then
            _up="nginx up with the same worker"
        else
            _up="nginx RESTARTED OR DOWN"
        fi
        note "flood-hwkey-yubikey ($_cfg): the flood sent $(grep -o 'requests=[0-9]*' "$RUN/out/flood-hwkey-yubikey-flood.txt" | tail -1 | cut -d= -f2) refused requests; $_up"
    fi

    unset OVSA_P11_DELAY_TARGET OVSA_P11_DELAY_MS_RSA OVSA_P11_DELAY_MS_EC \
        OVSA_P11_TOKEN_LOCK SOFTHSM2_CONF
    MAIN_EXTRA=""
}
