# ovsa.sh: the real license-check path: TLS nginx with the ovsa module
# (ovsa_tls, ovsa_sign) -> ovsa-backend -> redis-server.  Sourced by
# bench/run.sh.  Leaves the ECDSA stack running for scale.sh.

MODULE=${OVSA_BENCH_MODULE:-$ROOT/build/nginx/ngx_http_ovsa_module.so}
BACKEND=${OVSA_BENCH_BACKEND:-$BIN/ovsa-backend}
PREFIX="ovsa:"
IDFMT="bench-%07d"
NLIC=1000
LEASE_LIC="bench-lease"
# a check body of the benchmark: the client holds the current version
CHECK_BODY='{"license_id":"bench-0000001","version":1}'

rcli() {
    redis-cli -h 127.0.0.1 -p "$P_REDIS" "$@"
}

redis_start() {
    mkdir -p "$RUN/redis" || die "mkdir redis"
    spawn redis redis-server --bind 127.0.0.1 --port "$P_REDIS" \
        --dir "$RUN/redis" --save "" --appendonly no --daemonize no \
        --loglevel warning --enable-debug-command local
    _i=0
    until rcli ping >/dev/null 2>&1; do
        _i=$((_i + 1))
        [ $_i -lt 100 ] || return 1
        sleep 0.1
    done
}

# seed KIND IDFMT FIRST LAST ARGS...: seed.lua in batches of 100k.
seed() {
    _kind=$1 _fmt=$2 _a=$3 _b=$4
    shift 4
    while [ "$_a" -le "$_b" ]; do
        _e=$((_a + 99999))
        [ "$_e" -le "$_b" ] || _e=$_b
        rcli EVAL "$(cat "$BENCH/redis/seed.lua")" 0 "$_kind" "$PREFIX" \
            "$_fmt" "$_a" "$_e" "$@" >"$RUN/logs/seed.log" 2>&1 \
            || return 1
        grep -q '^[0-9]' "$RUN/logs/seed.log" || return 1
        _a=$((_e + 1))
    done
}

# A customer-license JWS of realistic size stands in for the document
# the admin import stores (ISV certificate in x5c, ES256): the checks
# never send it (the client holds the current version).
jws_placeholder() {
    head -c 1350 /dev/zero | tr '\0' 'A' | awk '{ printf "{\"payload\":\"%s\",\"protected\":\"%s\",\"signature\":\"%s\"}", substr($0, 1, 640), substr($0, 641, 600), substr($0, 1, 86) }'
}

# license_fields TYPE SEATS LEASE_S: the hash of routes_admin.c's import.
license_fields() {
    echo "id '<ID>' ver 1 type $1 exp 0 usage 0 maxact 10 seats $2 lease_s $3 hwreq 0 sync 300 cert '' pins sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= product bench customer bench issued 1700000000 status active used 0 imported_at 1700000000 updated_at 1700000000"
}

# seed_license IDFMT FIRST LAST TYPE SEATS LEASE_S
seed_license() {
    _sl="$1 $2 $3"
    eval "set -- $(license_fields "$4" "$5" "$6")"
    # shellcheck disable=SC2086
    seed license $_sl "$@" jws "$JWS"
}

ovsa_yaml() {
    mkdir -p "$RUN/ovsa" || die "mkdir ovsa"
    [ -f "$RUN/ovsa/admin.token" ] \
        || openssl rand -hex 32 >"$RUN/ovsa/admin.token" \
        || die "admin token"
    [ -f "$RUN/ovsa/isv.pem" ] || openssl req -x509 -newkey ec \
        -pkeyopt ec_paramgen_curve:P-256 -nodes -subj '/CN=bench isv' \
        -days 30 -keyout "$RUN/ovsa/isv.key" -out "$RUN/ovsa/isv.pem" \
        >"$RUN/logs/isv.log" 2>&1 || die "ISV certificate"
    cat >"$RUN/ovsa/default-$1.yaml" <<EOF || die "write default-$1.yaml"
identity:
  chain: $PKI/chain-$1.pem
  key: $PKI/leaf-$1.key
  root: $PKI/root.pem
backend:
  listen: 127.0.0.1:$P_BACKEND
  admin_listen: 127.0.0.1:$P_ADMIN
  admin_token_file: $RUN/ovsa/admin.token
  threads: 2
redis:
  address: 127.0.0.1:$P_REDIS
  prefix: "$PREFIX"
licenses:
  isv_certs:
    - $RUN/ovsa/isv.pem
EOF
}

backend_start() {
    ovsa_yaml ec
    "$BACKEND" -c "$RUN/ovsa/default-ec.yaml" -t \
        >"$RUN/logs/backend-t.log" 2>&1 || return 1
    spawn backend "$BACKEND" -c "$RUN/ovsa/default-ec.yaml"
    wait_port 127.0.0.1 "$P_BACKEND"
}

# ovsa_nginx KEY SIGN: the license server nginx with the KEY identity;
# SIGN is on or off.
ovsa_nginx() {
    ovsa_yaml "$1"
    nginx_stop ovsa
    _sign="ovsa_sign $2;"
    [ -n "$SIGN_WHY" ] && _sign=""
    nginx_conf ovsa "load_module $MODULE;" "    ovsa_config $RUN/ovsa/default-$1.yaml;
    upstream ovsa_backend {
        server 127.0.0.1:$P_BACKEND;
        keepalive 16;
    }" "        listen 127.0.0.1:$P_OVSA ssl;
        server_name localhost;
        ovsa_tls on;
        location /v1/ {
            $_sign
            proxy_pass http://ovsa_backend;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
        }
        location = /.well-known/ovsa/chain {
            ovsa_chain;
        }" || return 1
    nginx_start ovsa "https://127.0.0.1:$P_OVSA/.well-known/ovsa/chain"
}

# one_check: a signed check answers 200 with a Signature header.
one_check() {
    curl -sk -o "$RUN/out/one-check.txt" -D "$RUN/out/one-check.hdr" \
        --max-time 5 -H 'Content-Type: application/json' \
        -H 'OVSA-Nonce: benchprobe1' --data "$CHECK_BODY" \
        "https://127.0.0.1:$P_OVSA/v1/check" || return 1
    head -1 "$RUN/out/one-check.hdr" | grep -q ' 200' || return 1
    [ "$1" = off ] || grep -qi '^signature:' "$RUN/out/one-check.hdr"
}

# why_not_ready: "" when the backend path can run, else the reason.
why_not_ready() {
    [ -x "$BACKEND" ] || {
        echo "ovsa-backend not built (backend not merged into main yet)"
        return 0
    }
    [ -f "$MODULE" ] || echo "ovsa module not built"
}

# why_no_sign: "" when the module has the signing filter.
why_no_sign() {
    grep -qa 'ovsa_sign' "$MODULE" \
        || echo "no ovsa_sign directive (signing filter not merged yet)"
}

SIGN_WHY=""
ALL_OVSA="check-ka-nosign check-ka-ec check-ka-rsa check-ka-ed25519
check-half-ec check-half-rsa lease-mix-ec check-new-ec check-new-rsa
check-new-ed25519 check-resume-ec check-ka-hwkey"

key_of() {
    case "$1" in
    *-rsa|*-hwkey) echo rsa ;;
    *-ed25519)     echo ed25519 ;;
    *)             echo ec ;;
    esac
}

skip_all() {
    for _s in $ALL_OVSA; do
        skip "$_s" ovsa "$(key_of "$_s")" "$1"
    done
}

# half SCENARIO KEY: paced checks at about half of check-ka-KEY's rate.
# Closed-loop pacing undershoots by the latency, so a short probe run
# measures the achieved rate and the target is scaled once to meet it.
half() {
    _max=$(csv_get "check-ka-$2" rps)
    if [ -z "$_max" ]; then
        skip "$1" ovsa "$2" "no check-ka-$2 rate to halve"
        return 0
    fi
    _goal=$(awk -v r="$_max" 'BEGIN { printf "%d", r / 2 }')
    # enough connections that each waits >= 4 ms between requests
    _c=$(awk -v r="$_goal" 'BEGIN { c = int(r * 0.004) + 1;
        if (c > 64) c = 64; if (c < 2) c = 2; print c }')
    _rate=$_goal
    DUR_SAVE=$DUR
    DUR=$PROBE_SECS
    wrk_run "$_c" "https://127.0.0.1:$P_OVSA/" check.lua \
        OVSA_BENCH_LICENSES=$NLIC OVSA_BENCH_RATE="$_rate" \
        >"$RUN/out/$1-probe.txt" 2>&1 || true
    DUR=$DUR_SAVE
    _rate=$(awk -v g="$_goal" -v max="$_max" '/^OVSA-BENCH / {
            for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
            a = v["requests"] / (v["duration_us"] / 1e6)
        }
        END { r = (a > 0) ? g * g / a : g; if (r > max) r = max;
              printf "%d", r }' "$RUN/out/$1-probe.txt")
    measure "$1" ovsa "$2" "$_c" "check-ka-$2" \
        wrk_run "$_c" "https://127.0.0.1:$P_OVSA/" check.lua \
        OVSA_BENCH_LICENSES=$NLIC OVSA_BENCH_RATE="$_rate"
}

ovsa_scenarios() {
    _why=$(why_not_ready)
    if [ -n "$_why" ]; then
        skip_all "$_why"
        return 0
    fi
    SIGN_WHY=$(why_no_sign)
    redis_start || { skip_all "redis-server did not start"; return 0; }
    JWS=$(jws_placeholder)
    seed_license "$IDFMT" 1 "$NLIC" perpetual 0 0 \
        && seed_license "$LEASE_LIC" 1 1 floating 1000000 600 \
        || { skip_all "cannot seed Redis: $(cat "$RUN/logs/seed.log")"
             return 0; }
    backend_start || { skip_all "ovsa-backend did not start: $(tail -1 "$RUN/logs/backend"*.log)"
                       return 0; }

    _url="https://127.0.0.1:$P_OVSA/"
    if ovsa_nginx ec off && one_check off; then
        measure check-ka-nosign ovsa ec "$CONNS" proxy-hop-ka \
            wrk_run "$CONNS" "$_url" check.lua OVSA_BENCH_LICENSES=$NLIC
    else
        skip check-ka-nosign ovsa ec "unsigned check failed: $(head -c 200 "$RUN/out/one-check.txt" | tr -d ',\n')"
    fi

    if [ -n "$SIGN_WHY" ]; then
        for _s in $ALL_OVSA; do
            [ "$_s" = check-ka-nosign ] && continue
            skip "$_s" ovsa "$(key_of "$_s")" "$SIGN_WHY"
        done
        return 0
    fi
    for _k in rsa ed25519 ec; do
        if ! ovsa_nginx "$_k" on || ! one_check on; then
            _r="signed check failed: $(head -c 200 "$RUN/out/one-check.txt" | tr -d ',\n')"
            for _s in check-ka check-new; do
                skip "$_s-$_k" ovsa "$_k" "$_r"
            done
            continue
        fi
        measure "check-ka-$_k" ovsa "$_k" "$CONNS" proxy-hop-ka \
            wrk_run "$CONNS" "$_url" check.lua OVSA_BENCH_LICENSES=$NLIC
        measure "check-new-$_k" ovsa "$_k" "$NEWCONNS" "static-tls-new-$_k" \
            conn_run "$NEWCONNS" "$P_OVSA" -path /v1/check -nonce \
            -body "$CHECK_BODY"
        case "$_k" in
        rsa)
            half check-half-rsa rsa
            ;;
        ec)
            half check-half-ec ec
            measure check-resume-ec ovsa ec "$NEWCONNS" static-tls-resume \
                conn_run "$NEWCONNS" "$P_OVSA" -path /v1/check -nonce \
                -body "$CHECK_BODY" -reuse
            measure lease-mix-ec ovsa ec "$CONNS" proxy-hop-ka \
                wrk_run "$CONNS" "$_url" lease.lua \
                OVSA_BENCH_LEASE_ID="$LEASE_LIC"
            ;;
        esac
    done
    hwkey_scenarios
}

hwkey_scenarios() {
    skip check-ka-hwkey ovsa rsa "hardware-key mode not merged yet"
}
