#!/bin/sh
# run.sh: the ovsa-nginx benchmarks (make bench).  See docs/performance.md.
#
# Measures the license server against ceilings measured in the same run
# on the same machine (every figure is also a ratio to its ceiling), on
# 127.0.0.1 only, for a few minutes; starts private nginx, redis-server
# and ovsa-backend instances in a temporary directory and stops them all.
set -eu
umask 077

usage() {
    cat <<EOF
Usage: sh bench/run.sh [--smoke] [--soak] [--out DIR] [--no-docs] [--keep]

  --smoke    run every scenario for about 1 s, small scale test, no
             profile, no docs update (used by t/095-bench-smoke.t)
  --soak     run only the soak (memory growth over SOAK_SECS of
             checks), no docs update
  --out DIR  write <UTC date-time>.csv and .png there
             (default bench/results)
  --no-docs  do not update docs/performance.md
  --keep     keep the run's temporary directory (configs, logs)

Environment: OVSA_BENCH_PORT_BASE (default \$OVSA_TEST_PORT_BASE or
25800; uses 10 ports from there), OVSA_BENCH_SECS (seconds per scenario,
default 8), SOAK_SECS (seconds of the soak after its warm-up, default
120; the warm-up is a sixth of it), SOAK_SEGS (its samples, default 6;
each is a new wrk run), OVSA_BENCH_SOAK_CACHE (the soak's
ssl_session_cache, default shared:ovsa_tls:10m, or off),
OVSA_BENCH_SOAK_KAREQ (its keepalive_requests, default 1000),
OVSA_BENCH_BACKEND and OVSA_BENCH_MODULE (another
ovsa-backend binary / nginx module than \$OVSA_BUILD's, default build/).
EOF
}

BENCH=$(cd "$(dirname "$0")" && pwd) || exit 1
ROOT=$(dirname "$BENCH")
BIN="${OVSA_BUILD:-$ROOT/build}/bin"
SMOKE=0
SOAK_ONLY=0
DOCS=1
KEEP=0
OUTDIR="$BENCH/results"

while [ $# -gt 0 ]; do
    case "$1" in
    --smoke)   SMOKE=1; DOCS=0 ;;
    --soak)    SOAK_ONLY=1; DOCS=0 ;;
    --out)     [ $# -ge 2 ] || { usage >&2; exit 2; }
               OUTDIR=$2; shift ;;
    --no-docs) DOCS=0 ;;
    --keep)    KEEP=1 ;;
    -h|--help) usage; exit 0 ;;
    *)         echo "bench: unknown option $1 (try --help)" >&2; exit 2 ;;
    esac
    shift
done

. "$BENCH/lib/proc.sh"
. "$BENCH/lib/nginx.sh"
. "$BENCH/lib/measure.sh"
. "$BENCH/lib/ceilings.sh"
. "$BENCH/lib/ovsa.sh"
. "$BENCH/lib/durable.sh"
. "$BENCH/lib/hwkey.sh"
. "$BENCH/lib/soak.sh"
. "$BENCH/lib/scale.sh"
. "$BENCH/lib/profile.sh"
. "$BENCH/lib/report.sh"

for _t in wrk openssl curl perl redis-server redis-cli gnuplot; do
    command -v "$_t" >/dev/null 2>&1 \
        || die "$_t not found (run: make deps)"
done
for _t in ovsa-bench-conn ovsa-bench-signed; do
    [ -x "$BIN/$_t" ] || die "$BIN/$_t missing (run: make)"
done

if [ $SMOKE -eq 1 ]; then
    DUR=1 SPEED_SECS=1 PROBE_SECS=1 SCALE_SMALL=2000 SCALE_BIG=10000
    SOAK_SECS=4 SOAK_SEGS=2
else
    DUR=${OVSA_BENCH_SECS:-8} SPEED_SECS=3 PROBE_SECS=3 SCALE_SMALL=100000 \
        SCALE_BIG=1000000
    SOAK_SECS=${SOAK_SECS:-120} SOAK_SEGS=${SOAK_SEGS:-6}
fi
CONNS=8          # kept-alive connections (wrk, 1 thread)
NEWCONNS=2       # concurrent new-connection clients

BASE=${OVSA_BENCH_PORT_BASE:-${OVSA_TEST_PORT_BASE:-25800}}
P_STATIC=$BASE P_PROXY=$((BASE + 1)) P_UP=$((BASE + 2))
P_OVSA=$((BASE + 3)) P_BACKEND=$((BASE + 4)) P_ADMIN=$((BASE + 5))
P_REDIS=$((BASE + 6)) P_P11=$((BASE + 7))

STAMP=$(date -u +%Y-%m-%dT%H%M%SZ)
mkdir -p "$OUTDIR" || die "cannot create $OUTDIR"
OUTDIR=$(cd "$OUTDIR" && pwd)
CSV="$OUTDIR/$STAMP.csv"
PNG="$OUTDIR/$STAMP.png"

RUN=$(mktemp -d "${TMPDIR:-/tmp}/ovsa-bench-XXXXXX") || die "mktemp"
cleanup() {
    stop_all
    if [ $KEEP -eq 1 ]; then
        note "kept $RUN"
    else
        rm -rf "$RUN"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$RUN/pids" "$RUN/logs" "$RUN/out" || die "mkdir $RUN"

# the test PKI of t/lib/OvsaPKI.pm: root -> intermediate -> rsa, ec,
# ed25519 leaves
PKI="$RUN/pki"
mkdir -p "$PKI" || die "mkdir $PKI"
perl -I"$ROOT/t/lib" -MOvsaPKI=make_pki -e 'make_pki(dir => $ARGV[0])' \
    "$PKI" >"$RUN/logs/pki.log" 2>&1 || die "test PKI: $(tail -3 "$RUN/logs/pki.log")"

note "run $STAMP: ${DUR}s per scenario, worker_processes $WORKERS, $(nproc) cores"
csv_init
if [ $SOAK_ONLY -eq 1 ]; then
    soak_stack
    soak
    stop_all
    soak_table
    note "results: $CSV"
    exit 0
fi
ceilings
ovsa_scenarios
durable
hwkey_scenarios
soak
scale
if [ $SMOKE -eq 0 ]; then
    profile
fi
stop_all

report
note "results: $CSV"
