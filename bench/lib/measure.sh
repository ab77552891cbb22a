# measure.sh: runs one load generator and writes one CSV row.  Sourced
# by bench/run.sh after proc.sh; needs $RUN, $CSV, $DUR (seconds),
# $BENCH (the bench/ directory) and $BIN ($OVSA_BUILD/bin, default build/bin).

CSV_HEADER="scenario,group,key,conns,requests,rps,p50_ms,p99_ms,p999_ms,\
errors,cpu_us_per_req,nginx_us_per_req,backend_us_per_req,\
redis_us_per_req,rss_nginx_kb,rss_backend_kb,rss_redis_kb,ceiling,ratio,\
sign_ratio,bytes_per_item,status"

csv_init() {
    echo "$CSV_HEADER" >"$CSV" || die "write $CSV"
}

# csv_get SCENARIO COLUMN: a value of an earlier row ("" when none).
csv_get() {
    awk -F, -v s="$1" -v c="$2" '
        NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
        $1 == s && (c in col) { v = $(col[c]) }
        END { print v }' "$CSV"
}

# skip SCENARIO GROUP KEY REASON: a row that says why it was not run.
skip() {
    note "$1: skipped: $4"
    echo "$1,$2,$3,,,,,,,,,,,,,,,,,,,skipped: $4" >>"$CSV"
}

# sign_cost KEY: microseconds of CPU per signature from openssl speed.
sign_cost() {
    csv_get "openssl-sign-$1" cpu_us_per_req
}

# speed KEY ALG: openssl speed's signing rate for ALG (single core: no
# -multi), as a row whose cpu_us_per_req is the CPU of one signature.
speed() {
    _out="$RUN/out/speed-$1.txt"
    openssl speed -seconds "$SPEED_SECS" "$2" >"$_out" 2>&1 \
        || { skip "openssl-sign-$1" ceiling "$1" "openssl speed $2 failed"
             return 0; }
    awk -v sc="openssl-sign-$1" -v key="$1" '
        / sign\/s / { hdr = 1; next }
        hdr && NF > 4 && !done { rate = $(NF - 1); done = 1 }
        END {
            if (rate <= 0) exit 1
            printf "%s,ceiling,%s,1,,%.1f,,,,0,%.2f,,,,,,,,1.000,1.000,,ok\n",
                sc, key, rate, 1e6 / rate
        }' "$_out" >>"$CSV" \
        || skip "openssl-sign-$1" ceiling "$1" "cannot parse openssl speed"
}

# measure SCENARIO GROUP KEY CONNS CEILING CMD...: runs CMD (a load
# generator printing an OVSA-BENCH line), meters the services around it
# and appends the row.  CEILING names the row whose rps is 1.0 ("" for
# a ceiling itself).
measure() {
    _sc=$1 _grp=$2 _key=$3 _conns=$4 _ceil=$5
    shift 5
    _out="$RUN/out/$_sc.txt"
    _t0=$(snapshot)
    if ! "$@" >"$_out" 2>&1; then
        skip "$_sc" "$_grp" "$_key" "load generator failed: $(tail -1 "$_out" | tr -d ',')"
        return 0
    fi
    _t1=$(snapshot)
    _line=$(grep '^OVSA-BENCH ' "$_out" | tail -1)
    if [ -z "$_line" ]; then
        skip "$_sc" "$_grp" "$_key" "no result line: $(tail -1 "$_out" | tr -d ',')"
        return 0
    fi
    _crps=""
    [ -n "$_ceil" ] && _crps=$(csv_get "$_ceil" rps)
    _sign=$(sign_cost "$_key")
    case "$_sc" in
    *hwkey*) _sign=$(csv_get "softhsm-sign-$_key" cpu_us_per_req) ;;
    esac
    echo "$_t0 $_t1 $_line" | awk -v sc="$_sc" -v grp="$_grp" \
        -v key="$_key" -v conns="$_conns" -v ceil="$_ceil" \
        -v crps="$_crps" -v sign="$_sign" -v hz="$CLK_TCK" '{
        for (i = 14; i <= NF; i++) {
            split($i, kv, "="); v[kv[1]] = kv[2]
        }
        n = v["requests"]; secs = v["duration_us"] / 1e6
        rps = secs > 0 ? n / secs : 0
        d = n > 0 ? 1e6 / hz / n : 0
        ng = ($7 - $1) * d; be = ($9 - $3) * d; rd = ($11 - $5) * d
        cpu = ng + be + rd
        ratio = (crps > 0) ? sprintf("%.3f", rps / crps) : (ceil == "" ? "1.000" : "")
        sr = (sign > 0 && n > 0 && grp == "ovsa") ? sprintf("%.3f", cpu / sign) : ""
        printf "%s,%s,%s,%s,%d,%.1f,%.3f,%.3f,%.3f,%d,%.1f,%.1f,%.1f,%.1f," \
               "%d,%d,%d,%s,%s,%s,,ok\n",
            sc, grp, key, conns, n, rps, v["p50_us"] / 1000,
            v["p99_us"] / 1000, v["p999_us"] / 1000, v["errors"],
            cpu, ng, be, rd, $8, $10, $12, ceil, ratio, sr
    }' >>"$CSV"
    rss_list >"$RUN/out/$_sc.rss"
    note "$(tail -1 "$CSV" | awk -F, '{ printf "%-24s %10s req/s  p99 %s ms  errors %s  cpu %s us/req  ratio %s", $1, $6, $8, $10, $11, $19 }')"
}

# wrk_run CONNS URL SCRIPT [ENV...]: wrk on CONNS kept-alive connections
# for $DUR seconds (1 thread: the other core is the server's).  Requests
# present the license secret of $SECRET_FILE once make_template set it.
wrk_run() {
    _c=$1 _url=$2 _script=$3
    shift 3
    env OVSA_BENCH_LUA="$BENCH/wrk" OVSA_BENCH_CONNS="$_c" \
        OVSA_BENCH_SECRET_FILE="$SECRET_FILE" "$@" \
        wrk -t 1 -c "$_c" -d "${DUR}s" --timeout 5s \
        -s "$BENCH/wrk/$_script" "$_url"
}

# conn_run THREADS PORT [ARGS...]: a new TLS connection per request
# (with the license secret once make_template set it).
conn_run() {
    _c=$1 _port=$2
    shift 2
    [ -z "$SECRET_FILE" ] || set -- "$@" -secret "$SECRET_FILE"
    "$BIN/ovsa-bench-conn" -connect "127.0.0.1:$_port" -c "$_c" -t "$DUR" "$@"
}

# signed_run CONNS [ARGS...]: ovsa-bench-signed on CONNS kept-alive
# connections to the license server for $DUR seconds, each request
# signed with the connection's machine key.
signed_run() {
    _c=$1
    shift
    "$BIN/ovsa-bench-signed" -connect "127.0.0.1:$P_OVSA" -c "$_c" \
        -t "$DUR" -secret "$SECRET_FILE" "$@"
}
