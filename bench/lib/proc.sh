# proc.sh: starting, stopping and metering the services of a bench run.
# Sourced by bench/run.sh; needs $RUN (the run's private directory).
#
# Every service is started by spawn with a component name (nginx-*,
# backend, redis); its pid is kept in $RUN/pids/<name>.  Server-side CPU
# and RSS are read from /proc/<pid>/stat of those processes and of their
# children (nginx workers), so the load generator never counts.

CLK_TCK=$(getconf CLK_TCK)
PAGE_KB=$(( $(getconf PAGESIZE) / 1024 ))

die() {
    echo "bench: $*" >&2
    exit 1
}

T0=$(date +%s)

note() {
    echo "bench: [$(( $(date +%s) - T0 ))s] $*" >&2
}

# spawn NAME CMD...: runs CMD in the background, output in $RUN/logs/NAME.log
spawn() {
    _name=$1
    shift
    "$@" >"$RUN/logs/$_name.log" 2>&1 &
    echo $! >"$RUN/pids/$_name"
}

# stop NAME: TERM, then KILL after 5 s; waits for the process.
stop() {
    [ -f "$RUN/pids/$1" ] || return 0
    _pid=$(cat "$RUN/pids/$1")
    rm -f "$RUN/pids/$1"
    kill -TERM "$_pid" 2>/dev/null || return 0
    _i=0
    while kill -0 "$_pid" 2>/dev/null && [ $_i -lt 50 ]; do
        sleep 0.1
        _i=$((_i + 1))
    done
    kill -KILL "$_pid" 2>/dev/null || true
    wait "$_pid" 2>/dev/null || true
}

stop_all() {
    for _f in "$RUN"/pids/*; do
        [ -f "$_f" ] || continue
        stop "$(basename "$_f")"
    done
}

# pids COMPONENT: the pids of a component (nginx, backend, redis) and
# of their direct children.
pids() {
    for _f in "$RUN"/pids/"$1"*; do
        [ -f "$_f" ] || continue
        _p=$(cat "$_f")
        echo "$_p"
        pgrep -P "$_p" 2>/dev/null || true
    done
}

# comp_stat COMPONENT: "<utime+stime ticks> <rss kB>" summed over its processes.
comp_stat() {
    _files=""
    for _p in $(pids "$1"); do
        [ -r "/proc/$_p/stat" ] && _files="$_files /proc/$_p/stat"
    done
    if [ -z "$_files" ]; then
        echo "0 0"
        return 0
    fi
    # shellcheck disable=SC2086
    awk -v pk="$PAGE_KB" '{ sub(/^.*\) /, ""); t += $12 + $13;
        r += $22 * pk } END { print t, r }' $_files 2>/dev/null \
        || echo "0 0"
}

# snapshot: one line "nginx_ticks nginx_kb backend_ticks backend_kb
# redis_ticks redis_kb".
snapshot() {
    echo "$(comp_stat nginx) $(comp_stat backend) $(comp_stat redis)"
}

# rss_list: "name pid rss_kB" for every process of the run (for the docs).
rss_list() {
    for _c in nginx backend redis; do
        for _p in $(pids "$_c"); do
            [ -r "/proc/$_p/status" ] || continue
            awk -v c="$_c" -v p="$_p" '/^VmRSS:/ { print c, p, $2 }' \
                "/proc/$_p/status"
        done
    done
}

# wait_http URL: until URL answers (any status), at most 10 s.
wait_http() {
    _i=0
    while [ $_i -lt 100 ]; do
        curl -sk -o /dev/null --max-time 1 "$1" && return 0
        sleep 0.1
        _i=$((_i + 1))
    done
    return 1
}

# wait_port HOST PORT: until something listens, at most 10 s.
wait_port() {
    _i=0
    while [ $_i -lt 100 ]; do
        curl -s -o /dev/null --max-time 1 "telnet://$1:$2" </dev/null \
            && return 0
        [ $? -eq 28 ] && return 0     # connected, then timed out
        sleep 0.1
        _i=$((_i + 1))
    done
    return 1
}
