# report.sh: the table, the targets, the plot and the generated section
# of docs/performance.md.  Sourced by bench/run.sh.

# table: the CSV as a Markdown table (what run.sh prints).
table() {
    awk -F, '
    NR == 1 { next }
    function f(v) { return v == "" ? "-" : v }
    BEGIN {
        print "| scenario | key | conns | req/s | p50 ms | p99 ms | p99.9 ms | errors | server CPU us/req (nginx+backend+redis) | RSS kB nginx/backend/redis | ceiling | ratio | CPU / 1 signature | status |"
        print "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    }
    $2 == "scale" || $2 == "soak" { next }
    {
        cpu = $11 == "" ? "-" : sprintf("%s (%s+%s+%s)", $11, $12, $13, $14)
        if ($11 != "" && $12 == "") cpu = $11 " (1 core)"
        rss = $15 == "" ? "-" : $15 "/" $16 "/" $17
        printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
            $1, f($3), f($4), f($6), f($7), f($8), f($9), f($10), cpu,
            rss, f($18), f($19), f($20), $22
    }' "$CSV"
}

# scale_table: the Redis memory rows.
scale_table() {
    awk -F, '
    NR == 1 { next }
    BEGIN {
        print "| scenario | items | bytes per item (used_memory delta) | left over | status |"
        print "|---|---|---|---|---|"
    }
    $2 == "scale" {
        printf "| %s | %s | %s | %s | %s |\n", $1, ($5 == "" ? "-" : $5),
            ($21 == "" ? "-" : $21), ($10 == "" ? "-" : $10), $22
    }' "$CSV"
}

# target NAME VALUE OP LIMIT: one line "met"/"missed"/"not measured".
target() {
    if [ -z "$2" ]; then
        echo "| $1 | - | $3 $4 | not measured |"
        return 0
    fi
    awk -v n="$1" -v v="$2" -v op="$3" -v l="$4" 'BEGIN {
        if (op == "<=") ok = (v + 0 <= l + 0)
        else if (op == ">=") ok = (v + 0 >= l + 0)
        else ok = (v + 0 < l + 0)
        printf "| %s | %s | %s %s | %s |\n", n, v, op, l,
            ok ? "met" : "MISSED"
    }'
}

targets() {
    echo "| target | measured | required | result |"
    echo "|---|---|---|---|"
    target "RSA-2048 keep-alive: server CPU per signed check / CPU of one RSA-2048 signature" \
        "$(csv_get check-ka-rsa sign_ratio)" "<=" 1.25
    target "ECDSA P-256 keep-alive: signed checks/s / static TLS keep-alive req/s" \
        "$(awk -v a="$(csv_get check-ka-ec rps)" \
            -v b="$(csv_get static-tls-ka rps)" \
            'BEGIN { if (a > 0 && b > 0) printf "%.3f", a / b }')" ">=" 0.30
    target "p99 (ms) of ECDSA checks at about half the max rate" \
        "$(csv_get check-half-ec p99_ms)" "<" 5
    target "p99 (ms) of RSA checks at about half the max rate" \
        "$(csv_get check-half-rsa p99_ms)" "<" 5
    target "Redis bytes per activation (1M)" \
        "$(csv_get "redis-activation-$SCALE_BIG" bytes_per_item)" "<=" 300
    target "Redis bytes per lease (1M)" \
        "$(csv_get "redis-lease-$SCALE_BIG" bytes_per_item)" "<=" 300
    target "soak-nginx-heap: the worker's malloc bytes in use, growth after the first segment, kB per million checks" \
        "$(awk -v b="$(csv_get soak-nginx-heap bytes_per_item)" 'BEGIN {
            if (b != "") printf "%.1f", b * 1e6 / 1024 }')" "<=" 50
    for _s in soak-nginx-anon soak-backend-anon soak-redis-anon; do
        target "$_s: RSS growth after the first segment, kB per million checks (about a page per run)" \
            "$(awk -v b="$(csv_get "$_s" bytes_per_item)" 'BEGIN {
                if (b != "") printf "%.1f", b * 1e6 / 1024 }')" "<=" 50
    done
    target "expired leases left in Redis after the next checkout" \
        "$(csv_get expired-leases errors)" "<=" 0
}

# plot: ratio to ceiling and server CPU per request of every measured row.
plot() {
    awk -F, 'NR > 1 && $22 == "ok" && $19 != "" && $2 != "scale" \
        && $1 !~ /^openssl/ { print $1, $19, ($11 == "" ? 0 : $11) }' \
        "$CSV" >"$RUN/plot.dat"
    [ -s "$RUN/plot.dat" ] || return 0
    gnuplot >"$RUN/logs/gnuplot.log" 2>&1 <<EOF || note "gnuplot failed: $(tail -1 "$RUN/logs/gnuplot.log")"
set terminal pngcairo size 1200,900 noenhanced font ",10"
set output "$PNG.tmp"
set multiplot layout 2,1 title "ovsa-nginx bench $STAMP ($(nproc) cores, worker_processes $WORKERS)"
set style data histograms
set style fill solid 0.6 border -1
set boxwidth 0.8
set rmargin 10
set bmargin 7
set xtics rotate by -35 left
set grid ytics
set key off
set ylabel "req/s as a ratio to its ceiling"
set yrange [0:*]
plot "$RUN/plot.dat" using 2:xtic(1) lc rgb "#3070b0"
set ylabel "server CPU us per request"
set logscale y
set yrange [*:*]
plot "$RUN/plot.dat" using 3:xtic(1) lc rgb "#b05030"
unset multiplot
EOF
    [ -s "$PNG.tmp" ] && mv "$PNG.tmp" "$PNG"
}

# rss_lines: RSS of every process after check-ka-ec (1000 licenses) and
# after the check at $SCALE_BIG licenses.
rss_lines() {
    for _s in check-ka-ec "check-ka-ec-$SCALE_BIG"; do
        [ -s "$RUN/out/$_s.rss" ] || continue
        printf 'RSS after %s: %s.\n' "$_s" "$(awk '
            $1 == "nginx" { n++; $1 = (n == 1 ? "nginx master" : "nginx worker") }
            { printf "%s%s %d kB", sep, $1, $3; sep = ", " }' \
            "$RUN/out/$_s.rss")"
    done
}

# latest: the generated section of docs/performance.md.
latest() {
    _cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
    _redis=$(redis-server --version | sed 's/.* v=\([^ ]*\).*/\1/')
    cat <<EOF
Run \`$STAMP\` (\`make bench\`) on $(nproc) cores ($_cpu), shared with
other work: $("$NGINX" -v 2>&1 | sed 's/^nginx version: //'), $(openssl version | cut -d' ' -f1-2), Redis $_redis,
wrk 4.1 (1 thread).  nginx \`worker_processes $WORKERS\` in every
scenario; ${DUR} s per scenario; openssl speed on one core,
${SPEED_SECS} s per algorithm.  Seeded licenses are copies of
$TEMPLATE.  Results: \`bench/results/$STAMP.csv\`, plot
\`bench/results/$STAMP.png\`.

$(table)

$(rss_lines)

Redis memory (INFO used_memory deltas):

$(scale_table)

Memory over the soak (bench/lib/soak.sh; growth from the end of the
first segment after the warm-up to the end of the run, per million
checks; every sample in the run's -soak.txt):

$(soak_table)

Targets:

$(targets)
EOF
    if [ -s "$RUN/profile.md" ]; then
        printf '\n'
        cat "$RUN/profile.md"
    fi
}

# docs: replaces the generated section of docs/performance.md.
docs() {
    _doc="$ROOT/docs/performance.md"
    [ -f "$_doc" ] || { note "no $_doc: not updated"; return 0; }
    latest >"$RUN/latest.md"
    awk -v gen="$RUN/latest.md" '
        /^<!-- BEGIN latest run/ { print; while ((getline l < gen) > 0)
                                   print l; skip = 1; next }
        /^<!-- END latest run/ { skip = 0 }
        !skip { print }' "$_doc" >"$_doc.tmp" || die "write $_doc.tmp"
    mv "$_doc.tmp" "$_doc" || die "rename $_doc"
    note "updated $_doc"
}

report() {
    plot
    table
    printf '\n'
    scale_table
    printf '\n'
    soak_table
    printf '\n'
    targets
    if [ $DOCS -eq 1 ]; then
        docs
    fi
}
