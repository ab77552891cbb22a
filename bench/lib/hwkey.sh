# hwkey.sh: hardware-key mode on a SoftHSM2 token (t/lib/softhsm.sh
# makes it: RSA-2048 "ovsa-rsa" and P-256 "ovsa-ec").  The ceiling is the
# token's signing rate through lib/ovsa_p11 (ovsa-bench-p11sign); the
# scenario is kept-alive signed checks with hardware_key.enabled.
# Sourced by bench/run.sh after ovsa.sh.

SOFTHSM_LIB=/usr/lib/softhsm/libsofthsm2.so

# p11_speed KEY: the token's signing rate as a ceiling row.
p11_speed() {
    _sc="softhsm-sign-$1"
    _out="$RUN/out/$_sc.txt"
    if ! SOFTHSM2_CONF="$HSM/softhsm2.conf" "$BIN/ovsa-bench-p11sign" \
        -module "$SOFTHSM_LIB" \
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
        return 0
    fi
    sh "$ROOT/t/lib/softhsm.sh" init "$HSM" ec >"$RUN/logs/hsm.log" 2>&1 || {
        skip check-ka-hwkey ovsa rsa "SoftHSM token: $(tail -1 "$RUN/logs/hsm.log")"
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
        nginx_stop ovsa
        ovsa_nginx ec on >/dev/null 2>&1 || true
    else
        skip check-ka-hwkey ovsa rsa "no signed check path or no token identity"
    fi
}
