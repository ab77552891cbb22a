# durable.sh: the cost of durability (issue 11's benchmark rows).  The
# same kept-alive signed checks and lease mix as check-ka-ec and
# lease-mix-ec, on the same stack, with Redis's append-only file
# (appendfsync everysec), then also with a replica on loopback and the
# backend's redis.min_replicas_ack: 1 (WAIT after every state change).
# Each row's ceiling is its non-durable row of the same run.  Sourced by
# bench/run.sh; runs after ovsa.sh (the ECDSA stack is up) and puts
# Redis and the backend back as they were.

P_REPLICA=$((BASE + 8))
ALL_DURABLE="check-ka-ec-aof lease-mix-ec-aof check-ka-ec-wait1
lease-mix-ec-wait1"

# redis_info_wait PORT PATTERN: waits up to 30 s for INFO to match.
redis_info_wait() {
    _i=0
    until redis-cli -h 127.0.0.1 -p "$1" INFO 2>/dev/null | tr -d '\r' \
        | grep -Eq "$2"
    do
        _i=$((_i + 1))
        [ $_i -lt 300 ] || return 1
        sleep 0.1
    done
}

durable_rows() {
    measure "check-ka-ec-$1" ovsa ec "$CONNS" check-ka-ec \
        wrk_run "$CONNS" "https://127.0.0.1:$P_OVSA/" check.lua \
        OVSA_BENCH_LICENSES=$NLIC
    measure "lease-mix-ec-$1" ovsa ec "$CONNS" lease-mix-ec \
        signed_run "$CONNS" -mix lease -license "$LEASE_LIC"
}

durable() {
    if [ -z "$(csv_get check-ka-ec rps)" ] \
        || [ -z "$(csv_get lease-mix-ec rps)" ] \
        || [ ! -f "$RUN/pids/backend" ]
    then
        for _s in $ALL_DURABLE; do
            skip "$_s" ovsa ec "no non-durable check-ka-ec and lease-mix-ec"
        done
        return 0
    fi

    # 1. the append-only file, fsync once a second
    rcli CONFIG SET appendfsync everysec >/dev/null \
        && rcli CONFIG SET appendonly yes >/dev/null \
        && redis_info_wait "$P_REDIS" \
            '^aof_enabled:1' \
        && redis_info_wait "$P_REDIS" '^aof_rewrite_in_progress:0' \
        || die "cannot turn the append-only file on"
    durable_rows aof

    # 2. and a replica that acknowledges every state change (WAIT 1)
    mkdir -p "$RUN/replica" || die "mkdir replica"
    spawn redis-replica redis-server --bind 127.0.0.1 --port "$P_REPLICA" \
        --dir "$RUN/replica" --save "" --appendonly yes \
        --appendfsync everysec --daemonize no --loglevel warning \
        --repl-diskless-sync-delay 0 --replicaof 127.0.0.1 "$P_REDIS"
    rcli CONFIG SET repl-diskless-sync-delay 0 >/dev/null
    if ! redis_info_wait "$P_REDIS" 'slave0:.*state=online'; then
        for _s in check-ka-ec-wait1 lease-mix-ec-wait1; do
            skip "$_s" ovsa ec "the replica did not get in sync"
        done
    else
        stop backend
        sed 's/^  prefix: .*/&\
  min_replicas_ack: 1\
  replicas_ack_timeout_ms: 1000/' "$RUN/ovsa/default-ec.yaml" \
            >"$RUN/ovsa/default-wait.yaml" || die "write default-wait.yaml"
        spawn backend "$BACKEND" -c "$RUN/ovsa/default-wait.yaml"
        wait_port 127.0.0.1 "$P_BACKEND"
        durable_rows wait1
        stop backend
        backend_start || die "ovsa-backend did not start again"
    fi

    # as before: no replica, no append-only file
    stop redis-replica
    rcli CONFIG SET appendonly no >/dev/null
}
