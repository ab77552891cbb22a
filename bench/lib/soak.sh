# soak.sh: memory over a long run of kept-alive checks (issue 16 item
# 6).  The shape of the report: 16 kept-alive connections, RSA
# identity, conf.d/ovsa-license-server.conf as scripts/demo.sh runs it
# (ssl_session_cache shared:ovsa_tls:10m, ssl_session_timeout 1h,
# ssl_verify_client optional_no_ca, keepalive_requests at nginx's
# default of 1000, so every connection is replaced by a new TLS
# handshake after 1000 checks, an access log).  Sourced by bench/run.sh
# after ovsa.sh; needs the Redis and backend of ovsa_scenarios.
#
# A warm-up, then SOAK_SECS of checks in SOAK_SEGS segments; after each
# segment the resident memory of the nginx worker (RssAnon and RssShmem
# apart: /proc/PID/status), the backend (RssAnon) and Redis (RssAnon) is
# read.  Each row's bytes_per_item is the growth from the end of the
# first segment to the end of the run per check after it (the report
# shows kB per million checks): the first segment at full load still
# settles (in a 600 s run the backend's RssAnon rose 96 kB in the first
# 100 s, then stayed); a leak is a slope that goes on.  RssShmem of the
# worker is the pages of the shared TLS session cache (and other shared
# zones) it has touched: it grows by about one session per new TLS
# connection until the zone is full or the sessions expire, then stays
# (docs/operations.md "Memory").
# soak-nginx-heap is what the worker's malloc holds (bytes in use, from
# glibc's mallinfo2 through the LD_PRELOAD probe bench/mallinfo.c): a
# leak grows it; RssAnon also grows while pages of a heap that no longer
# grows are touched for the first time, which is bounded by the heap.
# The samples of every segment go to <results>/<run>-soak.txt.
#
# The soak's nginx runs with glibc's per-thread cache off
# (GLIBC_TUNABLES=glibc.malloc.tcache_count=0): it keeps up to 7 freed
# chunks of each small size for reuse, which mallinfo2 counts as in use,
# so the bytes in use crept up by 2 to 9 kB after each burst of new
# connections until the cache was full (about 100 kB in 20 wrk runs);
# with it off they stay flat to the kB (docs/performance.md, "Memory
# over a long run").  A leak shows either way.

SOAK_CONNS=16
SOAK_KEY=rsa
SOAK_CACHE=${OVSA_BENCH_SOAK_CACHE:-shared:ovsa_tls:10m}
SOAK_KAREQ=${OVSA_BENCH_SOAK_KAREQ:-1000}
SOAK_ROWS="soak-nginx-anon soak-nginx-shmem soak-nginx-heap soak-backend-anon soak-redis-anon"
SOAK_PROBE=$BIN/ovsa-bench-mallinfo.so

# soak_nginx: the license server nginx in the drop-in's shape.
soak_nginx() {
    ovsa_yaml "$SOAK_KEY"
    nginx_stop ovsa
    _cache="ssl_session_cache $SOAK_CACHE;
        ssl_session_timeout 1h;"
    [ "$SOAK_CACHE" != off ] || _cache="ssl_session_cache off;"
    nginx_conf ovsa "load_module $MODULE;" \
        "    ovsa_config $RUN/ovsa/default-$SOAK_KEY.yaml;
    upstream ovsa_backend {
        server 127.0.0.1:$P_BACKEND;
        keepalive 16;
        keepalive_timeout 60s;
    }" "        listen 127.0.0.1:$P_OVSA ssl;
        server_name localhost;
        ovsa_tls on;
        $_cache
        ssl_verify_client optional_no_ca;
        keepalive_requests $SOAK_KAREQ;
        access_log $RUN/ovsa/logs/access.log;
        location = /.well-known/ovsa/chain {
            ovsa_chain;
        }
        location /v1/ {
            ovsa_sign on;
            proxy_pass http://ovsa_backend;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
            proxy_set_header X-OVSA-Client-Cert-SHA256 \$ovsa_client_cert_sha256;
            proxy_next_upstream off;
            client_max_body_size 64k;
        }
        location / {
            return 404;
        }" || return 1
    rm -rf "$RUN/mallinfo"
    if [ -f "$SOAK_PROBE" ]; then
        # the worker drops to "user" after the probe opened its file
        mkdir -p "$RUN/mallinfo" || return 1
        NGINX_ENV="LD_PRELOAD=$SOAK_PROBE OVSA_MALLINFO_DIR=$RUN/mallinfo
            GLIBC_TUNABLES=glibc.malloc.tcache_count=0"
    fi
    _rc=0
    nginx_start ovsa "https://127.0.0.1:$P_OVSA/.well-known/ovsa/chain" \
        || _rc=1
    NGINX_ENV=""
    return $_rc
}

# soak_mem: "worker_anon worker_shmem backend_anon redis_anon
# worker_heap" in kB (worker_heap: malloc's bytes in use and mmapped of
# the probe's last sample, "-" without the probe).
soak_mem() {
    _w=$(pgrep -P "$(cat "$RUN/pids/nginx-ovsa")" | head -1)
    _b=$(cat "$RUN/pids/backend")
    _r=$(cat "$RUN/pids/redis")
    _h=-
    if [ -s "$RUN/mallinfo/$_w" ]; then
        sleep 3     # a sample taken after the segment ended
        _h=$(tail -1 "$RUN/mallinfo/$_w" | awk '{ printf "%.1f", ($3 + $5) / 1024 }')
    fi
    awk -v h="$_h" '
        FNR == 1 { f++ }
        /^RssAnon:/ { a[f] = $2 }
        /^RssShmem:/ { s[f] = $2 }
        END { print a[1] + 0, s[1] + 0, a[2] + 0, a[3] + 0, h }' \
        "/proc/$_w/status" "/proc/$_b/status" "/proc/$_r/status"
}

# soak_segment SECS: one wrk run; prints its number of checks.
soak_segment() {
    DUR_SAVE=$DUR
    DUR=$1
    _rc=0
    wrk_run "$SOAK_CONNS" "https://127.0.0.1:$P_OVSA/" check.lua \
        OVSA_BENCH_LICENSES="$NLIC" >"$RUN/out/soak-seg.txt" 2>&1 || _rc=1
    DUR=$DUR_SAVE
    [ $_rc -eq 0 ] || return 1
    awk '/^OVSA-BENCH / { for (i = 2; i <= NF; i++) {
            split($i, kv, "="); v[kv[1]] = kv[2] }
            if (v["errors"] > 0) exit 1
            print v["requests"]; ok = 1 }
        END { exit !ok }' "$RUN/out/soak-seg.txt"
}

soak_skip() {
    for _s in $SOAK_ROWS; do
        skip "$_s" soak "$SOAK_KEY" "$1"
    done
}

soak() {
    if [ ! -f "$RUN/pids/backend" ] || [ ! -f "$RUN/pids/redis" ] \
        || [ -n "$SIGN_WHY" ] || [ -z "$SECRET_FILE" ]
    then
        soak_skip "no license-check stack (see the check-ka rows)"
        return 0
    fi
    if ! soak_nginx || ! one_check on; then
        soak_skip "signed check failed: $(head -c 200 "$RUN/out/one-check.txt" | tr -d ',\n')"
        nginx_stop ovsa
        ovsa_nginx ec on >/dev/null 2>&1 || true
        return 0
    fi
    _secs=$SOAK_SECS
    _warm=$((_secs / 6))
    [ $_warm -ge 1 ] || _warm=1
    _seg=$((_secs / SOAK_SEGS))
    [ $_seg -ge 1 ] || _seg=1
    note "soak: ${_warm}s warm-up, then ${SOAK_SEGS} x ${_seg}s of checks on $SOAK_CONNS connections (session cache $SOAK_CACHE, keepalive_requests $SOAK_KAREQ)"
    _log="$RUN/out/soak.txt"
    : >"$_log"
    _fail=""
    if soak_segment "$_warm" >/dev/null; then
        _n=0 _t=0
        echo "0 0 $(soak_mem)" >>"$_log"
        _i=0
        while [ $_i -lt "$SOAK_SEGS" ]; do
            _c=$(soak_segment "$_seg") || {
                _fail="wrk failed or saw errors: $(tail -1 "$RUN/out/soak-seg.txt" | tr -d ',')"
                break
            }
            _n=$((_n + _c)) _t=$((_t + _seg))
            echo "$_n $_t $(soak_mem)" >>"$_log"
            _i=$((_i + 1))
        done
    else
        _fail="warm-up failed: $(tail -1 "$RUN/out/soak-seg.txt" | tr -d ',')"
    fi
    nginx_stop ovsa
    ovsa_nginx ec on >/dev/null 2>&1 || note "soak: the ECDSA nginx did not start again"
    if [ -n "$_fail" ]; then
        soak_skip "$_fail"
        return 0
    fi
    # one row per process: first and last sample, per check; rss_* the
    # last value (kB)
    [ -z "${OUTDIR:-}" ] || [ -z "${STAMP:-}" ] || {
        echo "# checks seconds nginx_anon_kb nginx_shmem_kb backend_anon_kb redis_anon_kb nginx_heap_kb"
        cat "$_log"
    } >"$OUTDIR/$STAMP-soak.txt"
    for _col in 3:soak-nginx-anon 4:soak-nginx-shmem 7:soak-nginx-heap \
        5:soak-backend-anon 6:soak-redis-anon
    do
        if [ "$(awk -v c="${_col%%:*}" 'END { print $c }' "$_log")" = - ]; then
            skip "${_col#*:}" soak "$SOAK_KEY" "no malloc probe ($SOAK_PROBE)"
            continue
        fi
        awk -v col="${_col%%:*}" -v sc="${_col#*:}" -v key="$SOAK_KEY" \
            -v conns="$SOAK_CONNS" '
            NR == 2 { first = $col; n0 = $1 }
            { n = $1; t = $2; last = $col; ng = $3 + $4; be = $5; rd = $6 }
            END {
                if (n - n0 <= 0) exit 1
                printf "%s,soak,%s,%d,%d,%.1f,,,,0,,,,,%d,%d,%d,,,,%.4f,ok\n",
                    sc, key, conns, n, n / t, ng, be, rd,
                    (last - first) * 1024 / (n - n0)
            }' "$_log" >>"$CSV" || skip "${_col#*:}" soak "$SOAK_KEY" "no checks"
    done
    note "soak: $(awk 'END { printf "%d checks in %d s", $1, $2 }' "$_log"); growth per million checks: $(awk -F, '$2 == "soak" && $22 == "ok" {
        printf "%s%s %.1f kB", sep, substr($1, 6), $21 * 1e6 / 1024; sep = ", " }' "$CSV")"
}

# soak_table: the soak rows, growth per million checks.
soak_table() {
    awk -F, '
    NR == 1 { next }
    BEGIN {
        print "| process (memory) | checks | checks/s | growth kB per million checks | RSS kB at the end | status |"
        print "|---|---|---|---|---|---|"
    }
    $2 == "soak" {
        w = "-"
        if ($21 != "") w = sprintf("%.1f", $21 * 1e6 / 1024)
        r = "-"
        if ($1 ~ /nginx/) r = $15 " (anon+shmem)"
        if ($1 ~ /backend/) r = $16
        if ($1 ~ /redis/) r = $17
        printf "| %s | %s | %s | %s | %s | %s |\n", substr($1, 6),
            ($5 == "" ? "-" : $5), ($6 == "" ? "-" : $6), w,
            ($15 == "" ? "-" : r), $22
    }' "$CSV"
}

# soak_stack: Redis, the backend and the seeded licenses of
# ovsa_scenarios without its measurements (run.sh --soak).
soak_stack() {
    _why=$(why_not_ready)
    [ -z "$_why" ] || { note "soak: $_why"; return 0; }
    SIGN_WHY=$(why_no_sign)
    redis_start || { note "soak: redis-server did not start"; return 0; }
    backend_start || { note "soak: ovsa-backend did not start"; return 0; }
    make_template && seed_license "$IDFMT" 1 "$NLIC" \
        || note "soak: cannot seed Redis: $(cat "$RUN/logs/seed.log")"
}
