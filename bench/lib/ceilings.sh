# ceilings.sh: what the same machine does in the same run without ovsa:
# signatures (openssl speed), static TLS, one reverse-proxy hop, and TLS
# handshakes.  Every license-server figure is a ratio to one of these.
# Sourced by bench/run.sh.

STATIC_JSON='{"verdict":"valid","code":"OK","license_id":"bench-0000001","version":1,"type":"floating","server_time":1700000000,"valid_until":1700000300,"expires_at":0,"sync_interval":300,"message":null,"seats":10,"seats_used":1,"lease_id":"00000000000000000000000000000000","lease_expires":1700000300}'

ceilings() {
    speed rsa rsa2048
    speed ec ecdsap256
    speed ed25519 ed25519

    # nginx workers run as nobody when the bench runs as root: the
    # document root must be readable by them
    mkdir -p "$RUN/static/html" || die "mkdir static/html"
    printf '%s\n' "$STATIC_JSON" >"$RUN/static/html/check.json" \
        || die "write check.json"
    chmod 711 "$RUN" "$RUN/static" || die "chmod $RUN"
    chmod 755 "$RUN/static/html" || die "chmod static/html"
    chmod 644 "$RUN/static/html/check.json" || die "chmod check.json"

    # static TLS 1.3 keep-alive, and TLS handshakes with each key type
    for _k in ec rsa ed25519; do
        nginx_conf static "" "" "$(tls_server "$P_STATIC" \
            "$PKI/chain-$_k.pem" "$PKI/leaf-$_k.key")
        root $RUN/static/html;
        location / { }" || return 1
        if ! nginx_start static "https://127.0.0.1:$P_STATIC/check.json"
        then
            skip "static-tls-new-$_k" ceiling "$_k" "nginx did not start"
            continue
        fi
        if [ "$_k" = ec ]; then
            measure static-tls-ka ceiling ec "$CONNS" "" \
                wrk_run "$CONNS" "https://127.0.0.1:$P_STATIC/check.json" \
                static.lua
            measure static-tls-resume ceiling ec "$NEWCONNS" "" \
                conn_run "$NEWCONNS" "$P_STATIC" -path /check.json -reuse
        fi
        measure "static-tls-new-$_k" ceiling "$_k" "$NEWCONNS" "" \
            conn_run "$NEWCONNS" "$P_STATIC" -path /check.json
        nginx_stop static
    done

    # one reverse-proxy hop: TLS nginx -> nginx "return 200" over
    # loopback TCP with upstream keepalive (the backend's transport)
    nginx_conf upstream "" "" "        listen 127.0.0.1:$P_UP;
        location / {
            return 200 '$STATIC_JSON';
        }" || return 1
    nginx_conf proxy "" "    upstream up {
        server 127.0.0.1:$P_UP;
        keepalive 16;
    }" "$(tls_server "$P_PROXY" "$PKI/chain-ec.pem" "$PKI/leaf-ec.key")
        location / {
            proxy_pass http://up;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
        }" || return 1
    if nginx_start upstream "http://127.0.0.1:$P_UP/" \
        && nginx_start proxy "https://127.0.0.1:$P_PROXY/"
    then
        measure proxy-hop-ka ceiling ec "$CONNS" static-tls-ka \
            wrk_run "$CONNS" "https://127.0.0.1:$P_PROXY/" check.lua
    else
        skip proxy-hop-ka ceiling ec "nginx did not start"
    fi
    nginx_stop proxy
    nginx_stop upstream
}
