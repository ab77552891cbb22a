# profile.sh: a short CPU profile of the signed-check path (nginx:
# TLS + signing filter) with RSA-2048 and ECDSA P-256 identities.
# perf record when the machine counts instructions (perf stat -e
# instructions), else valgrind --tool=callgrind on a single nginx
# process (master_process off) for a fixed number of kept-alive checks.
# Writes $RUN/profile.md for the docs.  Sourced by bench/run.sh.

PROFILE_REQS=${OVSA_BENCH_PROFILE_REQS:-500}
PROFILE_TOP=15

perf_works() {
    perf stat -x, -e instructions true 2>&1 \
        | grep -q '^[0-9][0-9]*,,instructions'
}

# profile_perf KEY: perf record of the worker during a wrk run.
profile_perf() {
    ovsa_nginx "$1" on && one_check on || return 1
    _w=$(pgrep -P "$(cat "$RUN/pids/nginx-ovsa")" | head -1)
    perf record -q -g -o "$RUN/perf-$1.data" -p "$_w" -- sleep "$DUR" \
        >"$RUN/logs/perf-$1.log" 2>&1 &
    _pp=$!
    wrk_run "$CONNS" "https://127.0.0.1:$P_OVSA/" check.lua \
        OVSA_BENCH_LICENSES=$NLIC >"$RUN/out/profile-$1.txt" 2>&1
    wait $_pp || return 1
    perf report -i "$RUN/perf-$1.data" --stdio --no-children \
        --sort symbol -g none 2>/dev/null \
        | grep -v '^#' | grep -v '^$' | head -n $PROFILE_TOP
}

# profile_callgrind KEY: PROFILE_REQS checks against nginx under callgrind.
profile_callgrind() {
    nginx_stop ovsa
    ovsa_yaml "$1"
    MASTER=off
    nginx_conf ovsa "load_module $MODULE;" "    ovsa_config $RUN/ovsa/default-$1.yaml;
    upstream ovsa_backend {
        server 127.0.0.1:$P_BACKEND;
        keepalive 16;
    }" "        listen 127.0.0.1:$P_OVSA ssl;
        server_name localhost;
        ovsa_tls on;
        location /v1/ {
            ovsa_sign on;
            proxy_pass http://ovsa_backend;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
        }"
    MASTER=on
    spawn nginx-ovsa valgrind --tool=callgrind \
        --toggle-collect=ngx_process_events_and_timers \
        --callgrind-out-file="$RUN/callgrind-$1.out" \
        "$NGINX" -p "$RUN/ovsa/" -c "$RUN/ovsa/nginx.conf"
    _i=0
    until one_check on; do
        _i=$((_i + 1))
        [ $_i -lt 60 ] || { nginx_stop ovsa; return 1; }
        sleep 0.5
    done
    "$BIN/ovsa-bench-conn" -connect "127.0.0.1:$P_OVSA" -c 1 -t 600 -ka \
        -n "$PROFILE_REQS" -path /v1/check -nonce -body "$CHECK_BODY" \
        >"$RUN/out/profile-$1.txt" 2>&1
    nginx_stop ovsa
    [ -s "$RUN/callgrind-$1.out" ] || return 1
    _cg="$RUN/callgrind-$1.out"
    echo "self instructions by object:"
    callgrind_objects "$_cg"
    echo "self, top functions:"
    callgrind_annotate --inclusive=no --auto=no --threshold=100 "$_cg" 2>/dev/null \
        | callgrind_rows | head -n $PROFILE_TOP
    echo "inclusive, named functions:"
    callgrind_annotate --inclusive=yes --auto=no --threshold=100 "$_cg" 2>/dev/null \
        | callgrind_rows \
        | grep -v '???:0x\|libc-start\|below main\|:main \|_process_cycle\|ngx_process_events_and_timers' \
        | head -n 20
}

# callgrind_rows: the function rows of callgrind_annotate's output,
# shortened paths.
callgrind_rows() {
    grep -E '^ *[0-9,]+ \( *[0-9.]+%\)  ' | grep -v 'PROGRAM TOTALS' \
        | sed 's|\[/[^]]*/\([^]/]*\)\]$|[\1]|; s|  [^ ]*/\([^/ :]*\.c:\)|  \1|'
}

# callgrind_objects FILE: self Ir per shared object (percent), from the
# raw callgrind file: cost lines count, except the one after "calls="
# (that is a call's inclusive cost).
callgrind_objects() {
    awk '
        /^ob=/ { id = $1; sub(/^ob=/, "", id)
                 if (NF > 1) { name[id] = $NF }; ob = id; next }
        /^cob=/ { id = $1; sub(/^cob=/, "", id)
                  if (NF > 1) { name[id] = $NF }; next }
        /^calls=/ { skipnext = 1; next }
        /^[0-9+*-]/ { if (skipnext) { skipnext = 0; next }
                      ir[ob] += $NF; total += $NF; next }
        { skipnext = 0 }
        END { for (o in ir) if (ir[o] * 100 >= total)
                  printf "%6.1f%%  %s\n", ir[o] * 100 / total, name[o] }' \
        "$1" | sort -rn
}

profile() {
    _why=$(why_not_ready)
    [ -n "$_why" ] || _why=$SIGN_WHY
    {
        echo "### CPU profile of the signed check (nginx process)"
        echo
        if [ -n "$_why" ]; then
            echo "Not run: $_why."
        elif perf_works; then
            echo "perf record -g of the nginx worker for ${DUR} s of"
            echo "kept-alive signed checks; self time per symbol:"
        else
            echo "This machine does not count instructions (perf stat -e"
            echo "instructions: not supported), so valgrind --tool=callgrind"
            echo "ran one nginx process (master_process off), counting only"
            echo "inside its event loop (ngx_process_events_and_timers), for"
            echo "$PROFILE_REQS kept-alive signed checks on 1 connection"
            echo "(ovsa-bench-conn -ka -n); instructions (Ir) by function,"
            echo "self, then inclusive.  Debian's libcrypto has no symbols for"
            echo "its static functions: they show as ???:<address>; the"
            echo "inclusive list names the public entry points above them."
        fi
    } >"$RUN/profile.md"
    [ -z "$_why" ] || return 0
    if ! perf_works && ! command -v valgrind >/dev/null 2>&1; then
        echo "Not run: valgrind is not installed (make deps)." \
            >>"$RUN/profile.md"
        return 0
    fi
    for _k in rsa ec; do
        printf '\n%s identity:\n\n```\n' "$_k" >>"$RUN/profile.md"
        if perf_works; then
            profile_perf "$_k" >>"$RUN/profile.md" \
                || echo "(profile failed)" >>"$RUN/profile.md"
        else
            profile_callgrind "$_k" >>"$RUN/profile.md" \
                || echo "(profile failed)" >>"$RUN/profile.md"
        fi
        printf '```\n' >>"$RUN/profile.md"
    done
}
