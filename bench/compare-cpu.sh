#!/bin/sh
# compare-cpu.sh: server CPU per kept-alive ECDSA check of two source
# trees, measured back to back on this machine (docs/performance.md "Cost
# of authentication").  Each tree is measured with its own bench/lib and
# bench/wrk scripts and its own build/ (so each sends what its clients
# send: the older tree no license secret, no Content-Digest), rounds
# alternating A B, B A, A B, ...  A round of one tree: fresh redis,
# backend and nginx (ovsa_sign on, P-256 identity), 1000 seeded licenses,
# a 2 s warm-up, then check-ka-ec for SECS seconds on 8 kept-alive
# connections (wrk, 1 thread), metered like bench/run.sh (utime + stime of
# nginx master and worker, backend, redis from /proc, per request).  When
# a tree has bench/signed.c's ovsa-bench-signed, the round also measures
# check-ka-node-ec (node-locked checks signed with a machine key).  Each
# round also replays the backend's EVALSHA of check.lua in redis-benchmark
# (redis-evalsha-check, and redis-hmget-license as its floor).
#
# With -s, each round also measures check-ka-spend-ec: usage-count
# checks that each spend a use (a new request_id per request, so each
# writes an audit entry).  -A ENV / -B ENV: "VAR=VALUE ..." exported in
# the rounds of tree A / B only, to compare one tree with itself under
# two settings, e.g. the cost of the audit trail and metrics
# (docs/performance.md "Cost of the audit trail and metrics"):
#   sh bench/compare-cpu.sh -s -A 'OVSA_BENCH_AUDIT=0 OVSA_BENCH_METRICS=0' . .
# -q: only check-ka-ec (and check-ka-spend-ec with -s), for more rounds
# in the same time.  -I: count instructions instead of timing CPU:
# redis-server, ovsa-backend and nginx (one process, master_process off)
# run under valgrind's callgrind, and each row is thousands of
# instructions per request, summed over the three processes and then
# each process (user space only; the kernel's work is the same for A
# and B: the same requests, connections and Redis round trips).  It
# does not drift with the machine's speed, which moves timings by up to
# 40% between rounds on a shared VM: use it for differences of a few
# percent.  -I implies -q and seeds 50 licenses; callgrind is about 50
# times slower, so each row counts a few hundred requests.
# -k rsa: the RSA-2048 identity (what scripts/demo.sh provisions)
# instead of P-256; the rows are then named check-ka-rsa and
# check-ka-spend-rsa (and check-ka-node-rsa).  OVSA_BENCH_KEEP=1 keeps
# each round's directory (logs, callgrind files) in $TMPDIR.
#
# Usage: sh bench/compare-cpu.sh [-n ROUNDS] [-t SECS] [-o FILE] [-s] [-q]
#            [-k ec|rsa] [-A ENV] [-B ENV] [-I] TREE_A TREE_B
#   (default 3 rounds, 8 s; FILE gets one line per measurement)
# Uses the ports of bench/run.sh (OVSA_BENCH_PORT_BASE, default 25800):
# run it as `flock /tmp/ovsa-prove.lock sh bench/compare-cpu.sh ...`.
set -eu
umask 077

ROUNDS=3
SECS=8
OUT=""
SPEND=0
QUICK=0
INSTR=0
KEY=ec
ENV_A=""
ENV_B=""
while [ $# -gt 2 ]; do
    case "$1" in
    -n) ROUNDS=$2; shift 2 ;;
    -t) SECS=$2; shift 2 ;;
    -o) OUT=$2; shift 2 ;;
    -s) SPEND=1; shift ;;
    -q) QUICK=1; shift ;;
    -I) INSTR=1; QUICK=1; shift ;;
    -k) KEY=$2; shift 2 ;;
    -A) ENV_A=$2; shift 2 ;;
    -B) ENV_B=$2; shift 2 ;;
    *)  break ;;
    esac
done
[ $# -eq 2 ] || { sed -n '2,/^set -eu/p' "$0" | sed -n 's/^# \{0,1\}//p' >&2; exit 2; }

TREE_A=$(cd "$1" && pwd) || exit 1
TREE_B=$(cd "$2" && pwd) || exit 1
for _t in "$TREE_A" "$TREE_B"; do
    for _f in bin/ovsa-backend bin/ovsatool bin/ovsactl \
        nginx/ngx_http_ovsa_module.so
    do
        [ -e "$_t/build/$_f" ] || { echo "compare-cpu: $_t/build/$_f missing (make -j2 there)" >&2; exit 1; }
    done
done
RES=$(mktemp "${TMPDIR:-/tmp}/ovsa-compare-XXXXXX") || exit 1
[ -n "$OUT" ] || OUT=$RES

# one TREE LABEL ENV: one round of TREE with ENV exported; appends
# "LABEL scenario cpu nginx backend redis rps errors" lines to $RES.
one() (
    ROOT=$1 LABEL=$2
    for _kv in $3; do
        case "$_kv" in
        [A-Z_]*=*) export "${_kv?}" ;;
        *) echo "compare-cpu: not VAR=VALUE: $_kv" >&2; exit 2 ;;
        esac
    done
    BENCH=$ROOT/bench
    BIN=$ROOT/build/bin
    unset OVSA_BUILD OVSA_BENCH_BACKEND OVSA_BENCH_MODULE
    RUN=$(mktemp -d "${TMPDIR:-/tmp}/ovsa-compare-run-XXXXXX") || exit 1
    mkdir -p "$RUN/pids" "$RUN/logs" "$RUN/out" "$RUN/pki"
    . "$BENCH/lib/proc.sh"
    . "$BENCH/lib/nginx.sh"
    . "$BENCH/lib/measure.sh"
    . "$BENCH/lib/ovsa.sh"
    trap 'stop_all; [ -n "${OVSA_BENCH_KEEP:-}" ] || rm -rf "$RUN"' EXIT
    meter=measure
    if [ "$INSTR" = 1 ]; then
        mkdir -p "$RUN/cg"
        spawn() {
            _name=$1
            shift
            valgrind --tool=callgrind --trace-children=yes \
                --callgrind-out-file="$RUN/cg/$_name.%p.out" "$@" \
                >"$RUN/logs/$_name.log" 2>&1 &
            echo $! >"$RUN/pids/$_name"
        }
        meter=instr_measure
        MASTER=off      # one nginx process (as bench/lib/profile.sh)
        # 50 licenses, not 1000: at callgrind's few hundred requests a
        # second the 2 s warm-up then spends on every license, so the
        # counted spends append to a trail that exists (as in a long
        # run), not mostly a license's first entry (a new list key)
        NLIC=50
    fi
    trap 'exit 130' INT TERM
    CSV="$RUN/rows.csv"
    CONNS=8 PROBE_SECS=1 SPEED_SECS=1
    BASE=${OVSA_BENCH_PORT_BASE:-${OVSA_TEST_PORT_BASE:-25800}}
    P_OVSA=$((BASE + 3)) P_BACKEND=$((BASE + 4)) P_ADMIN=$((BASE + 5))
    P_REDIS=$((BASE + 6))
    PKI="$RUN/pki"
    perl -I"$ROOT/t/lib" -MOvsaPKI=make_pki -e 'make_pki(dir => $ARGV[0])' \
        "$PKI" >"$RUN/logs/pki.log" 2>&1 || die "test PKI"
    csv_init
    redis_start || die "$LABEL: redis-server did not start"
    backend_start || die "$LABEL: ovsa-backend did not start"
    make_template || die "$LABEL: no template license"
    seed_license "$IDFMT" 1 "$NLIC" || die "$LABEL: seeding failed"
    ovsa_nginx "$KEY" on || die "$LABEL: nginx did not start"
    one_check on || die "$LABEL: a check does not answer 200: $(head -c 200 "$RUN/out/one-check.txt")"
    _url="https://127.0.0.1:$P_OVSA/"
    DUR=2
    wrk_run "$CONNS" "$_url" check.lua OVSA_BENCH_LICENSES="$NLIC" \
        >/dev/null 2>&1 || true
    DUR=$SECS
    $meter "check-ka-$KEY" ovsa "$KEY" "$CONNS" "" \
        wrk_run "$CONNS" "$_url" check.lua OVSA_BENCH_LICENSES="$NLIC"
    if [ "$SPEND" = 1 ]; then
        seed_license bench-use-%07d 1 "$NLIC" type usage-count \
            usage 1000000000000 || die "$LABEL: seeding failed"
        DUR=2
        wrk_run "$CONNS" "$_url" check.lua OVSA_BENCH_LICENSES="$NLIC" \
            OVSA_BENCH_IDFMT=bench-use-%07d OVSA_BENCH_SPEND=1 \
            >/dev/null 2>&1 || true
        DUR=$SECS
        $meter "check-ka-spend-$KEY" ovsa "$KEY" "$CONNS" "" \
            wrk_run "$CONNS" "$_url" check.lua OVSA_BENCH_LICENSES="$NLIC" \
            OVSA_BENCH_IDFMT=bench-use-%07d OVSA_BENCH_SPEND=1
    fi
    # Redis's own cost of the backend's EVALSHA of check.lua (replayed by
    # redis-benchmark) against a plain HMGET
    [ "$QUICK" = 1 ] || redis_ops
    if [ "$QUICK" = 0 ] && [ -x "$BIN/ovsa-bench-signed" ] \
        && command -v signed_run >/dev/null
    then
        seed_license bench-node 1 1 type node-locked maxact 1000000 \
            deact 3 deact_s 2592000 || die "$LABEL: seeding failed"
        measure "check-ka-node-$KEY" ovsa "$KEY" "$CONNS" "" \
            signed_run "$CONNS" -mix node -license bench-node
    fi
    # the refusals a load generator told (a bench of refusals is worthless)
    grep -h ': thread [0-9]*: ' "$RUN"/out/*.txt >&2 || true
    awk -F, -v l="$LABEL" 'NR > 1 { print l, $1, $11, $12, $13, $14, $6,
        ($22 == "ok" ? $10 : "skipped") }' "$CSV" >>"$RES"
)

# instr_control -z|-d: zero or dump the counts of the server processes
# under callgrind.
instr_control() {
    for _p in $(cat "$RUN/pids/redis" "$RUN/pids/backend" \
                    "$RUN/pids/nginx-ovsa")
    do
        timeout 20 callgrind_control "$1" "$_p" >>"$RUN/logs/cg.log" 2>&1 \
            || die "callgrind_control $1 $_p: $(tail -1 "$RUN/logs/cg.log")"
    done
}

# instr_measure SCENARIO GROUP KEY CONNS CEILING CMD...: measure()'s
# arguments; with -I, the instructions the servers under callgrind spend
# while CMD runs, appended to $RES as "LABEL scenario total nginx
# backend redis req/s errors" in thousands per request.
instr_measure() {
    _sc=$1
    shift 5
    _out="$RUN/out/$_sc.txt"
    rm -f "$RUN"/cg/*.out.[0-9]*
    instr_control -z
    "$@" >"$_out" 2>&1 || die "$_sc: load generator failed: $(tail -1 "$_out")"
    instr_control -d
    _n=$(sed -n 's/^OVSA-BENCH requests=\([0-9]*\) .*/\1/p' "$_out" | tail -1)
    [ "${_n:-0}" -gt 0 ] || die "$_sc: no requests counted"
    # one dump per process
    _i=0
    until [ "$(ls "$RUN"/cg/*.out.[0-9]* 2>/dev/null | wc -l)" -ge 3 ] \
          || [ $_i -ge 100 ]
    do
        sleep 0.1
        _i=$((_i + 1))
    done
    for _g in nginx-ovsa backend redis; do
        cat "$RUN"/cg/"$_g".*.out.[0-9]* 2>/dev/null \
            | awk '/^totals:/ { s += $2 } END { printf "%.0f\n", s }'
    done | awk -v l="$LABEL" -v sc="$_sc" -v n="$_n" -v d="$DUR" '
        { v[NR] = $1 / n / 1000 }
        END { printf "%s %s %.1f %.1f %.1f %.1f %.1f 0\n", l, sc,
                     v[1] + v[2] + v[3], v[1], v[2], v[3], n / d }' >>"$RES"
}

: >"$RES"
_r=1
while [ $_r -le "$ROUNDS" ]; do
    if [ $((_r % 2)) -eq 1 ]; then
        one "$TREE_A" A "$ENV_A"
        one "$TREE_B" B "$ENV_B"
    else
        one "$TREE_B" B "$ENV_B"
        one "$TREE_A" A "$ENV_A"
    fi
    _r=$((_r + 1))
done
[ "$OUT" = "$RES" ] || cp "$RES" "$OUT"

echo "A = $TREE_A${ENV_A:+ ($ENV_A)}"
echo "B = $TREE_B${ENV_B:+ ($ENV_B)}"
if [ "$INSTR" = 1 ]; then
    echo "(-I: every figure below is thousands of instructions per request, not us)"
fi
echo "tree scenario cpu_us_per_req (nginx backend redis) req/s errors, in run order:"
cat "$RES"
# B / A of each pair of adjacent rounds (A B, then B A, ...): a slow
# drift of the machine's speed moves both rounds of a pair, where it
# moves the medians of A and B apart (the shared test VM's speed moved
# by up to 40% between rounds)
awk '$2 !~ /^redis-/ {
        o = ($1 == "A") ? "B" : "A"
        if (!(($2, o) in p)) { p[$2, $1] = $3; next }
        r = ($1 == "A") ? p[$2, o] / $3 : $3 / p[$2, o]
        delete p[$2, o]
        if (r > 0) printf "%s %.4f\n", $2, r
    }' "$RES" | sort -k1,1 -k2,2n | awk '
    { n[$1]++; v[$1, n[$1]] = $2 }
    END {
        for (k in n) {
            h = int(n[k] / 2)
            if (n[k] % 2) m = v[k, h + 1]
            else m = (v[k, h] + v[k, h + 1]) / 2
            printf "%s: B / A = %.3f (median of %d paired rounds, %.3f..%.3f)\n",
                k, m, n[k], v[k, 1], v[k, n[k]]
        }
    }'
# median and spread (min..max) per tree and scenario
sort -k1,1 -k2,2 -k3,3n "$RES" | awk -v key="$KEY" '
    { k = $1 " " $2; n[k]++; v[k, n[k]] = $3; if ($8 != 0) bad = 1
      ng[k, n[k]] = $4; be[k, n[k]] = $5; rd[k, n[k]] = $6 }
    END {
        print "tree scenario runs median_cpu_us min max  (nginx backend redis of the median run)"
        for (k in n) {
            m = int((n[k] + 1) / 2)
            printf "%s %d %.1f %.1f %.1f  (%s %s %s)\n", k, n[k], v[k, m],
                v[k, 1], v[k, n[k]], ng[k, m], be[k, m], rd[k, m]
            med[k] = v[k, m]
        }
        for (k in n) {
            split(k, ks, " ")
            if (ks[1] == "A" && med["B " ks[2]] > 0 && ks[2] !~ /^redis-/)
                printf "%s: B / A = %.3f (medians)\n", ks[2],
                    med["B " ks[2]] / med[k]
        }
        if (med["A redis-evalsha-check"] > 0 && med["B redis-evalsha-check"] > 0)
            printf "redis-evalsha-check: B / A = %.3f (medians)\n",
                med["B redis-evalsha-check"] / med["A redis-evalsha-check"]
        if (med["B check-ka-" key] > 0 && med["B check-ka-node-" key] > 0)
            printf "B: check-ka-node-%s / check-ka-%s = %.3f (medians)\n",
                key, key, med["B check-ka-node-" key] / med["B check-ka-" key]
        if (bad) { print "some runs had errors or were skipped"; exit 1 }
    }'
