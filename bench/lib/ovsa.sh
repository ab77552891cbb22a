# ovsa.sh: the real license-check path: TLS nginx with the ovsa module
# (ovsa_tls, ovsa_sign) -> ovsa-backend -> redis-server.  Sourced by
# bench/run.sh.  Leaves the ECDSA stack running for scale.sh.

MODULE=${OVSA_BENCH_MODULE:-${OVSA_BUILD:-$ROOT/build}/nginx/ngx_http_ovsa_module.so}
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

# seed_license IDFMT FIRST LAST [FIELD VALUE]...: copies of the template
# license (make_template), with ver 1 and the given fields changed.
seed_license() {
    _sl="$1 $2 $3"
    shift 3
    # shellcheck disable=SC2086
    seed license $_sl "${PREFIX}lic:{bench-template}" ver 1 "$@"
}

# make_isv: the ISV keystore whose certificate default.yaml trusts.
make_isv() {
    [ -f "$RUN/isv/isv.crt" ] && return 0
    if [ -x "$BIN/ovsatool" ]; then
        "$BIN/ovsatool" keystore -out "$RUN/isv" -alg ec -cn "bench ISV" \
            >"$RUN/logs/isv.log" 2>&1 || die "ovsatool keystore: $(tail -1 "$RUN/logs/isv.log")"
    else
        mkdir -p "$RUN/isv" || die "mkdir isv"
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
            -nodes -subj '/CN=bench ISV' -days 30 \
            -keyout "$RUN/isv/isv.key" -out "$RUN/isv/isv.crt" \
            >"$RUN/logs/isv.log" 2>&1 || die "ISV certificate"
    fi
}

# use_secret FILE: the license secret every request presents
# (docs/protocol.md "Who may call"): SECRET_FILE for wrk (check.lua) and
# the C load generators, AUTH_HDR a curl header file (-H @file), both
# 0600; the secret never goes on a command line.
use_secret() {
    SECRET_FILE=$1
    AUTH_HDR="$RUN/lic/auth.hdr"
    printf 'Authorization: License %s\n' "$(head -1 "$SECRET_FILE")" \
        >"$AUTH_HDR" || die "write $AUTH_HDR"
}

# new_secret FILE: a license secret as ovsatool makes one (32 random
# bytes, base64url without padding) into FILE (0600); prints the
# lower-case hex SHA-256 of its 43 characters (the Redis field "secret").
new_secret() {
    openssl rand -base64 32 | tr -d '=\n' | tr '+/' '-_' >"$1" \
        && chmod 600 "$1" && [ "$(wc -c <"$1")" -eq 43 ] \
        && openssl dgst -sha256 -r "$1" | cut -d' ' -f1
}

# make_template: the license every seeded one copies (and so its secret
# hash: every seeded license has the template's secret).  A real license
# (ovsatool create, imported with ovsactl through the admin API) when the
# tools are built and the backend runs; else a hash with the fields of
# docs/protocol.md, a secret of new_secret and a JWS-sized placeholder.
# TEMPLATE says which.
make_template() {
    mkdir -p "$RUN/lic" || die "mkdir lic"
    if [ -x "$BIN/ovsatool" ] && [ -x "$BIN/ovsactl" ] \
        && [ -f "$RUN/pids/backend" ]
    then
        rm -f "$RUN/lic/template.lic" "$RUN/lic/template.lic.secret"
        if "$BIN/ovsatool" create -k "$RUN/isv" -id bench-template \
                -product bench -customer "Bench Customer" -type perpetual \
                -server "https://127.0.0.1:$P_OVSA" \
                -server-cert "$PKI/leaf-ec.pem" -out "$RUN/lic/template.lic" \
                >"$RUN/logs/template.log" 2>&1 \
            && "$BIN/ovsactl" -url "http://127.0.0.1:$P_ADMIN" \
                -token-file "$RUN/ovsa/admin.token" \
                import "$RUN/lic/template.lic" >>"$RUN/logs/template.log" 2>&1 \
            && [ "$(rcli EXISTS "${PREFIX}lic:{bench-template}")" = 1 ] \
            && [ -s "$RUN/lic/template.lic.secret" ]
        then
            use_secret "$RUN/lic/template.lic.secret"
            TEMPLATE="a real license (ovsatool create, ovsactl import)"
            return 0
        fi
        note "real template license failed: $(tail -1 "$RUN/logs/template.log")"
    fi
    _jws=$(head -c 1500 /dev/zero | tr '\0' 'A')
    _hash=$(new_secret "$RUN/lic/synthetic.secret") && [ ${#_hash} -eq 64 ] \
        || die "cannot make a license secret"
    use_secret "$RUN/lic/synthetic.secret"
    rcli HSET "${PREFIX}lic:{bench-template}" id bench-template ver 1 \
        status active type perpetual exp 0 usage 0 used 0 maxact 0 \
        seats 0 lease_s 0 hwreq 0 sync 3600 cert "" secret "$_hash" \
        deact "" deact_s "" \
        pins "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=" \
        product bench customer "Bench Customer" issued 1700000000 \
        imported_at 1700000000 updated_at 1700000000 \
        jws "$_jws.$_jws.AAAA" >/dev/null || return 1
    TEMPLATE="a synthetic hash (fields of docs/protocol.md, a secret, 3 kB JWS placeholder)"
}

ovsa_yaml() {
    mkdir -p "$RUN/ovsa" || die "mkdir ovsa"
    case "$1" in
    hw|yk*) return 0 ;;           # written by hwkey.sh
    esac
    [ -f "$RUN/ovsa/admin.token" ] \
        || openssl rand -hex 32 >"$RUN/ovsa/admin.token" \
        || die "admin token"
    make_isv
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
  # this Redis runs without an append-only file (the non-durable
  # figure): the explicit opt-out of the durability check
  require_durable: false
licenses:
  isv_certs:
    - $RUN/isv/isv.crt
EOF
    # OVSA_BENCH_AUDIT=0: the audit trail off (docs/audit.md), to
    # measure its cost within one tree (compare-cpu.sh -A/-B)
    if [ "${OVSA_BENCH_AUDIT:-1}" = 0 ]; then
        printf 'audit:\n  enabled: false\n' >>"$RUN/ovsa/default-$1.yaml" \
            || die "write default-$1.yaml"
    fi
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
    nginx_conf ovsa "load_module $MODULE;
$MAIN_EXTRA" "    ovsa_config $RUN/ovsa/default-$1.yaml;
    upstream ovsa_backend {
        server 127.0.0.1:$P_BACKEND;
        keepalive 16;
    }" "        listen 127.0.0.1:$P_OVSA ssl;
        server_name localhost;
        ovsa_tls on;
        ssl_session_cache shared:bench:10m;
        ssl_session_timeout 1h;
        location /v1/ {
            $_sign
            proxy_pass http://ovsa_backend;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
            proxy_set_header X-OVSA-Client-Cert-SHA256 \$ovsa_client_cert_sha256;
            client_max_body_size 64k;
            proxy_next_upstream off;
        }
        location = /.well-known/ovsa/chain {
            ovsa_chain;
        }" || return 1
    nginx_start ovsa "https://127.0.0.1:$P_OVSA/.well-known/ovsa/chain"
}

# content_digest BODY: the RFC 9530 Content-Digest value of BODY, which
# every request with a body carries (docs/protocol.md).
content_digest() {
    printf 'sha-256=:%s:' \
        "$(printf '%s' "$1" | openssl dgst -sha256 -binary | base64)"
}

# one_check: a signed check answers 200 with a Signature header.
one_check() {
    curl -sk -o "$RUN/out/one-check.txt" -D "$RUN/out/one-check.hdr" \
        --max-time 5 -H 'Content-Type: application/json' -H @"$AUTH_HDR" \
        -H 'OVSA-Nonce: benchprobe1' --data "$CHECK_BODY" \
        -H "Content-Digest: $(content_digest "$CHECK_BODY")" \
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
MAIN_EXTRA=""
TEMPLATE="none (not seeded)"
SECRET_FILE=""
AUTH_HDR=/dev/null
NODE_LIC="bench-node"
ALL_OVSA="check-ka-nosign check-ka-ec check-ka-rsa check-ka-ed25519
check-half-ec check-half-rsa lease-mix-ec check-ka-node-ec check-new-ec
check-new-rsa check-new-ed25519 check-resume-ec"

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
    backend_start || { skip_all "ovsa-backend did not start: $(tail -1 "$RUN/logs/backend"*.log)"
                       return 0; }
    make_template \
        && seed_license "$IDFMT" 1 "$NLIC" \
        && seed_license "$LEASE_LIC" 1 1 type floating seats 1000000 \
            lease_s 600 \
        && seed_license "$NODE_LIC" 1 1 type node-locked maxact 1000000 \
            deact 3 deact_s 2592000 \
        || { skip_all "cannot seed Redis: $(cat "$RUN/logs/seed.log")"
             return 0; }
    note "licenses copy $TEMPLATE"

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
            # machine-signed operations: ovsa-bench-signed (wrk's Lua
            # cannot sign Ed25519)
            measure lease-mix-ec ovsa ec "$CONNS" proxy-hop-ka \
                signed_run "$CONNS" -mix lease -license "$LEASE_LIC"
            measure check-ka-node-ec ovsa ec "$CONNS" proxy-hop-ka \
                signed_run "$CONNS" -mix node -license "$NODE_LIC"
            redis_ops
            ;;
        esac
    done
}

# rb_run N ARGS...: redis-benchmark of one command (8 clients), printed
# as an OVSA-BENCH line.  redis-benchmark reports no p99.9: that column
# holds its max latency.
rb_run() {
    _n=$1
    shift
    redis-benchmark -h 127.0.0.1 -p "$P_REDIS" -c 8 -n "$_n" --csv "$@" \
        | tr -d '"' | awk -F, -v n="$_n" '$2 + 0 > 0 {
            printf "OVSA-BENCH requests=%d duration_us=%d p50_us=%d" \
                " p99_us=%d p999_us=%d errors=0 non2xx=0\n", n,
                n / $2 * 1e6, $5 * 1000, $7 * 1000, $8 * 1000; ok = 1 }
            END { exit !ok }'
}

# redis_ops: what Redis spends on a check: the backend's own EVALSHA of
# check.lua (captured with MONITOR during one real check, replayed by
# redis-benchmark) against a plain HMGET of the same license fields.
redis_ops() {
    _mon="$RUN/out/monitor.txt"
    # redis-cli itself in the background (not the rcli function, whose
    # subshell would survive the kill and keep a MONITOR client that
    # receives every later command, scripts' included)
    redis-cli -h 127.0.0.1 -p "$P_REDIS" MONITOR >"$_mon" 2>&1 &
    _mp=$!
    sleep 0.3
    one_check on || true
    sleep 0.3
    kill "$_mp" 2>/dev/null || true
    wait "$_mp" 2>/dev/null || true
    if rcli CLIENT LIST | grep -q 'cmd=monitor'; then
        die "a MONITOR client is still connected to the bench Redis"
    fi
    grep -m1 '"EVALSHA".*"ovsa:lic:{bench-0000001}"' "$_mon" \
        | sed 's/^[^"]*//' | grep -o '"[^"]*"' | tr -d '"' \
        >"$RUN/out/evalsha.args"
    if [ ! -s "$RUN/out/evalsha.args" ]; then
        skip redis-evalsha-check redis ec "no EVALSHA seen during a check"
        skip redis-hmget-license redis ec "no EVALSHA seen during a check"
        return 0
    fi
    _rn=200000
    [ "$DUR" -gt 1 ] || _rn=20000
    measure redis-hmget-license redis ec 8 "" rb_run "$_rn" HMGET \
        "${PREFIX}lic:{bench-0000001}" id ver status type exp usage maxact \
        seats lease_s hwreq sync cert used
    set --
    while IFS= read -r _a; do
        set -- "$@" "$_a"
    done <"$RUN/out/evalsha.args"
    if ! rcli "$@" 2>&1 | grep -q '"code":"OK"'; then
        skip redis-evalsha-check redis ec "the replayed EVALSHA does not answer OK"
        return 0
    fi
    measure redis-evalsha-check redis ec 8 redis-hmget-license \
        rb_run "$_rn" "$@"
}
