# scale.sh: Redis memory per license / activation / lease at
# $SCALE_SMALL and $SCALE_BIG records (INFO used_memory deltas), check
# throughput with $SCALE_BIG licenses, and whether expired leases stay
# in Redis.  Records are made by bench/redis/seed.lua in the backend's
# data model.  Sourced by bench/run.sh, after ovsa.sh.

# used_memory: INFO used_memory without the clients' buffers
# (mem_clients_normal), which are not data.
used_memory() {
    rcli INFO memory | tr -d '\r' | awk -F: '
        /^used_memory:/ { m = $2 } /^mem_clients_normal:/ { c = $2 }
        END { print m - c }'
}

# settled_memory: used_memory once no dictionary is being rehashed.  An
# incremental rehash keeps the old and the new table until it ends, and
# would credit the old table's release to whatever is measured next
# (DEBUG HTSTATS: redis_start allows DEBUG from 127.0.0.1).  At most 30 s.
settled_memory() {
    _i=0
    while [ $_i -lt 60 ] && rcli DEBUG HTSTATS 0 | grep -q 'rehashing'; do
        sleep 0.5
        _i=$((_i + 1))
    done
    used_memory
}

# mem_row SCENARIO ITEMS BEFORE: a scale row with the bytes per item.
mem_row() {
    _after=$(settled_memory)
    awk -v s="$1" -v n="$2" -v b="$3" -v a="$_after" 'BEGIN {
        printf "%s,scale,,,%d,,,,,,,,,,,,,,,,%.0f,ok\n", s, n, (a - b) / n
    }' >>"$CSV"
    note "$1: $(tail -1 "$CSV" | cut -d, -f21) bytes per item"
}

# grow KIND ROWNAME PER ARGS...: KIND records 1..SMALL, then ..BIG;
# one row per size (cumulative average over all records of the kind).
grow() {
    _kind=$1 _row=$2 _per=$3
    shift 3
    _m0=$(settled_memory)
    _first=1
    [ "$_kind" = license ] && _first=$((NLIC + 1))
    for _n in "$SCALE_SMALL" "$SCALE_BIG"; do
        if [ "$_kind" = license ]; then
            seed_license "$IDFMT" "$_first" "$_n" \
                || { skip "$_row-$_n" scale "" "seeding failed"; return 1; }
        else
            seed "$_kind" "$IDFMT" "$_first" "$_n" "$_per" "$@" \
                || { skip "$_row-$_n" scale "" "seeding failed"; return 1; }
        fi
        if [ "$_kind" = license ]; then
            mem_row "$_row-$_n" $((_n - NLIC)) "$_m0"
        else
            mem_row "$_row-$_n" "$_n" "$_m0"
        fi
        _first=$((_n + 1))
    done
}

# expired_leases: checkouts with 1 s leases (machine-signed, by
# ovsa-bench-signed), wait, one more checkout; what is left in the lease
# zset besides the new lease is "left over".
expired_leases() {
    seed_license expiry-lic 1 1 type floating seats 1000 lease_s 1 \
        || { skip expired-leases scale "" "seeding failed"; return 0; }
    _n=20
    "$BIN/ovsa-bench-signed" -connect "127.0.0.1:$P_OVSA" -c 1 -t 30 \
        -n "$_n" -mix checkout -license expiry-lic -secret "$SECRET_FILE" \
        >"$RUN/out/expiry.txt" 2>&1
    sleep 2.5
    "$BIN/ovsa-bench-signed" -connect "127.0.0.1:$P_OVSA" -c 1 -t 30 \
        -n 1 -mix checkout -license expiry-lic -secret "$SECRET_FILE" \
        >>"$RUN/out/expiry.txt" 2>&1
    if [ "$(grep -c '^OVSA-BENCH requests=[0-9]* .* errors=0 ' \
            "$RUN/out/expiry.txt")" -ne 2 ] \
        || [ "$(awk '/^OVSA-BENCH / { split($2, kv, "="); n += kv[2] }
                 END { print n + 0 }' "$RUN/out/expiry.txt")" -ne $((_n + 1)) ]
    then
        skip expired-leases scale "" "checkouts failed: $(tr '\n,' '  ' <"$RUN/out/expiry.txt")"
        return 0
    fi
    _z=$(rcli ZCARD "${PREFIX}lz:{expiry-lic}")
    _h=$(rcli HLEN "${PREFIX}lh:{expiry-lic}")
    echo "expired-leases,scale,,,$_n,,,,,$((_z - 1 + _h - 1)),,,,,,,,,,,,ok" \
        >>"$CSV"
    note "expired-leases: $_n expired, zset $_z, hash $_h after one more checkout"
}

scale() {
    if [ ! -f "$RUN/pids/redis" ]; then
        redis_start && make_template \
            || { skip redis-license scale "" "redis-server did not start"
                 return 0; }
    fi
    grow license redis-license 1 || return 0
    if [ -f "$RUN/pids/nginx-ovsa" ] && one_check on; then
        measure "check-ka-ec-$SCALE_BIG" ovsa ec "$CONNS" check-ka-ec \
            wrk_run "$CONNS" "https://127.0.0.1:$P_OVSA/" check.lua \
            OVSA_BENCH_LICENSES="$SCALE_BIG"
    else
        skip "check-ka-ec-$SCALE_BIG" ovsa ec "no signed check path"
    fi
    # 10 activations per node-locked license, 100 leases per floating
    # license (small encodings), 1000 per license (large encodings); the
    # values as the scripts store them: "activated_at keyid" and "keyid
    # client_id", keyid the 43 characters of a machine key's id
    _kid=$(head -c 43 /dev/zero | tr '\0' 'K')
    grow activation redis-activation 10 "1700000000 $_kid" || return 0
    _exp=$(( $(date +%s) + 86400 ))
    grow lease redis-lease 100 "$_exp" "$_kid bench-client-0001" || return 0
    IDFMT_SAVE=$IDFMT
    IDFMT="big-%07d"
    grow lease redis-lease-1000pl 1000 "$_exp" "$_kid bench-client-0001"
    IDFMT=$IDFMT_SAVE
    if [ -f "$RUN/pids/nginx-ovsa" ]; then
        expired_leases
    else
        skip expired-leases scale "" "no license server running"
    fi
}
