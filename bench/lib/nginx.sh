# nginx.sh: private nginx instances of a bench run (Debian's
# /usr/sbin/nginx, prefix $RUN/<name>/, 127.0.0.1 only).  Sourced by
# bench/run.sh after proc.sh.
#
# Every instance runs worker_processes 1: the machine has 2 cores and
# the load generator needs one.  keepalive_requests is raised so that
# wrk's kept-alive connections last the whole run (the default 1000
# would add a handshake every 1000 requests).

NGINX=${OVSA_BENCH_NGINX:-/usr/sbin/nginx}
NGINX_ENV=""    # VAR=VALUE words nginx_start runs nginx with (soak.sh)
WORKERS=1
MASTER=on     # off only for the callgrind profile (one process)

# 16c: an nginx with the ovsa module gets the admin-side ovsa_metrics
# location (on a unix socket), so its counters are on as in production;
# OVSA_BENCH_METRICS=0 leaves it out (no counting: the "off" of the
# metrics' cost, docs/metrics.md).
nginx_metrics_server() {
    case "$1" in
    *ngx_http_ovsa_module.so*) ;;
    *) return 0 ;;
    esac
    [ "${OVSA_BENCH_METRICS:-1}" = 0 ] && return 0
    cat <<EOF
    server {
        listen unix:$2/metrics.sock;
        location = /metrics { ovsa_metrics; }
    }
EOF
}

# nginx_conf NAME MAIN_EXTRA HTTP_EXTRA SERVER: writes $RUN/NAME/nginx.conf.
nginx_conf() {
    _d="$RUN/$1"
    mkdir -p "$_d/logs" "$_d/tmp" || die "mkdir $_d"
    _m=$(nginx_metrics_server "$2" "$_d")
    cat >"$_d/nginx.conf.tmp" <<EOF || die "write $_d/nginx.conf"
daemon off;
master_process $MASTER;
worker_processes $WORKERS;
pid $_d/logs/nginx.pid;
error_log $_d/logs/error.log warn;
$2
events {
    worker_connections 1024;
}
http {
    access_log off;
    client_body_temp_path $_d/tmp/body;
    proxy_temp_path $_d/tmp/proxy;
    fastcgi_temp_path $_d/tmp/fastcgi;
    uwsgi_temp_path $_d/tmp/uwsgi;
    scgi_temp_path $_d/tmp/scgi;
    keepalive_requests 10000000;
    keepalive_timeout 60s;
    default_type application/json;
$3
$_m
    server {
$4
    }
}
EOF
    mv "$_d/nginx.conf.tmp" "$_d/nginx.conf" || die "rename $_d/nginx.conf"
}

# nginx_start NAME URL: starts the instance, waits until URL answers.
nginx_start() {
    "$NGINX" -q -t -p "$RUN/$1/" -c "$RUN/$1/nginx.conf" \
        >"$RUN/logs/nginx-$1-t.log" 2>&1 || {
        cat "$RUN/logs/nginx-$1-t.log" >&2
        return 1
    }
    # shellcheck disable=SC2086
    spawn "nginx-$1" env $NGINX_ENV "$NGINX" -p "$RUN/$1/" -c "$RUN/$1/nginx.conf"
    wait_http "$2" || {
        cat "$RUN/logs/nginx-$1.log" "$RUN/$1/logs/error.log" >&2
        stop "nginx-$1"
        return 1
    }
}

nginx_stop() {
    stop "nginx-$1"
}

# tls_server PORT CHAIN KEY: the listen + TLS lines of a server block.
tls_server() {
    cat <<EOF
        listen 127.0.0.1:$1 ssl;
        server_name localhost;
        ssl_protocols TLSv1.3;
        ssl_certificate $2;
        ssl_certificate_key $3;
        ssl_session_cache shared:bench:10m;
        ssl_session_timeout 1h;
EOF
}
