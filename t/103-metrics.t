# 103-metrics.t: the Prometheus endpoints (docs/metrics.md).  A real
# nginx with the ovsa module signs answers of a real backend on a real
# Redis; ovsa_metrics serves the module's counters on a plain admin
# server block, the backend its own on metrics.listen and, behind the
# admin token, on its admin listener.  A few checks (valid, refused, one
# refused by nginx itself) move the counters by exactly those requests;
# promtool accepts every scrape; the public server has no metrics, and
# nginx refuses ovsa_metrics where the public server is.
use strict;
use warnings;
use File::Basename qw(dirname);
use lib dirname(__FILE__) . '/lib';
BEGIN {
    $ENV{TEST_NGINX_PORT} ||= ($ENV{OVSA_TEST_PORT_BASE} || 21800) + 209;
}
use OvsaTest;
use OvsaBackend;
use Test::More;
use Time::HiRes qw(sleep);

my $pki = OvsaTest::pki();
my $t = OvsaBackend->new(offset => 200);
my $base = ($ENV{OVSA_TEST_PORT_BASE} || 21800) + 200;
my $MPORT = $base + 8;          # nginx's admin server block
my $BMPORT = $base + 7;         # the backend's metrics.listen

# ---- where ovsa_metrics may not be
my $public_loc = <<'NGX';
        location = /metrics { ovsa_metrics; }
NGX
my ($rc, $out) = nginx_t(nginx_conf(tls => '', config => $public_loc));
isnt($rc, 0, 'nginx -t fails: ovsa_metrics in the ovsa_tls server');
like($out, qr/\[emerg\].*ovsa_metrics: not on the public license server .* in \S+nginx\.conf:\d+/,
     'the [emerg] line says why and where');

($rc, $out) = nginx_t(nginx_conf(config => <<'NGX'));
        location /v1/ {
            ovsa_sign on;
            location = /v1/metrics { ovsa_metrics; }
        }
NGX
isnt($rc, 0, 'nginx -t fails: ovsa_metrics under ovsa_sign on');
like($out, qr/ovsa_metrics: not on the public license server/,
     'same message');

# ---- the servers
$t->start_redis;
my %unix = (unix => 1, trusted_peers => '[nobody]',
            listen_group => 'nogroup');
my $b = $t->start_backend(name => 'b1', %unix,
    extra => "metrics: {listen: \"127.0.0.1:$BMPORT\", gauge_interval_s: 1}\n");
ok(OvsaBackend::wait_port($BMPORT), 'backend metrics.listen is up');

$t->import_ok($b, $t->license(license_id => 'P1'));
$t->import_ok($b, $t->license(license_id => 'F1', type => 'floating'));

my $http = <<"NGX";
    upstream ovsa_backend {
        server unix:$b->{sock};
        keepalive 16;
    }

    # the admin server block: loopback, plain HTTP, no ovsa_sign
    server {
        listen 127.0.0.1:$MPORT;
        location = /metrics {
            ovsa_metrics;
        }
    }
NGX
my $server = <<'NGX';
        location /v1/ {
            ovsa_sign on;
            proxy_pass http://ovsa_backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_next_upstream off;
        }
        location / {
            return 404;
        }
NGX
start_nginx(nginx_conf(tls => '', http_config => $http, config => $server));

# ---- scrapes
my $promtool = qx{sh -c 'command -v promtool'};
chomp $promtool;

# GET url (curl); returns (status, content type, body)
sub get {
    my ($url, @extra) = @_;
    my $f = $t->dir . '/scrape.txt';
    my $w = qx{curl -s -o $f -w '%{http_code} %{content_type}' @extra $url};
    my ($st, $ct) = $w =~ /^(\d{3}) (.*)$/;
    return ($st // 0, $ct // '', OvsaTest::read_file($f));
}

# the samples of an exposition: { 'name{labels}' => value }
sub samples {
    my ($text) = @_;
    my %s;
    for (split /\n/, $text) {
        next if /^#/ || !/\S/;
        my ($k, $v) = /^(\S+(?:\{[^}]*\})?) (\S+)$/ or next;
        $s{$k} = $v;
    }
    return \%s;
}

my %promtool_ok;
sub scrape {
    my ($what) = @_;
    my ($st, $ct, $body) = $what eq 'nginx'
        ? get("http://127.0.0.1:$MPORT/metrics")
        : get("http://127.0.0.1:$BMPORT/metrics");
    is($st, 200, "$what: /metrics answers 200");
    like($ct, qr{^text/plain; version=0\.0\.4}, "$what: Prometheus text type");
    if (length $promtool) {
        my $f = $t->dir . "/promtool-$what.txt";
        OvsaBackend::spew($f, $body);
        my $msg = qx{$promtool check metrics < $f 2>&1};
        is($? >> 8, 0, "$what: promtool check metrics accepts it")
            or diag($msg);
    }
    return samples($body);
}

my $ngx0 = scrape('nginx');
my $be0 = scrape('backend');

# ---- the requests: 2 valid checks, 1 refused by the backend, 1 refused
# by nginx (no nonce: the backend never sees it)
my $n = 0;
sub check {
    my ($id, %o) = @_;
    my ($text, $h) = $t->holder_request('/v1/check', { license_id => $id });
    $h->{'OVSA-Nonce'} = 'n' . ++$n unless $o{no_nonce};
    my $f = $t->dir . '/post.json';
    OvsaBackend::spew($f, $text);
    my $hdr = join ' ', map { "-H '$_: $h->{$_}'" } sort keys %$h;
    my $code = qx{curl -s -o /dev/null -w '%{http_code}' --cacert $pki/root.pem --resolve localhost:$PORT:127.0.0.1 -H 'Content-Type: application/json' $hdr --data-binary \@$f https://localhost:$PORT/v1/check};
    return $code;
}

is(check('P1'), 200, 'valid check');
is(check('P1'), 200, 'valid check again');
is(check('NOPE'), 404, 'refused check: unknown license');
is(check('P1', no_nonce => 1), 400, 'check without a nonce: refused by nginx');

my $ngx1 = scrape('nginx');
my $be1 = scrape('backend');

sub delta {
    my ($a, $b, $k) = @_;
    return ($b->{$k} // 0) - ($a->{$k} // 0);
}

# the module: exactly 4 answers signed, two 2xx and two 4xx
is(delta($ngx0, $ngx1, 'ovsa_nginx_answers_signed_total{class="2xx"}'), 2,
   'nginx: 2 answers signed 2xx');
is(delta($ngx0, $ngx1, 'ovsa_nginx_answers_signed_total{class="4xx"}'), 2,
   'nginx: 2 answers signed 4xx');
is(delta($ngx0, $ngx1, 'ovsa_nginx_answers_signed_total{class="5xx"}'), 0,
   'nginx: no 5xx');
is(delta($ngx0, $ngx1,
         'ovsa_nginx_answers_replaced_total{code="NONCE_REQUIRED"}'), 1,
   'nginx: 1 NONCE_REQUIRED answer');
is(delta($ngx0, $ngx1, 'ovsa_nginx_sign_duration_seconds_count'), 4,
   'nginx: 4 signatures timed');
is(delta($ngx0, $ngx1, 'ovsa_nginx_sign_duration_seconds_bucket{le="+Inf"}'),
   4, 'nginx: the +Inf bucket holds them all');
ok($ngx1->{'ovsa_nginx_sign_duration_seconds_sum'} > 0,
   'nginx: signing took some time');
is($ngx1->{'ovsa_nginx_sign_failures_total{reason="sign_error"}'}, 0,
   'nginx: no signature failures');
is($ngx1->{'ovsa_nginx_hwkey_enabled'}, 0, 'nginx: software key');
is($ngx1->{'ovsa_nginx_signer_busy_total'}, 0, 'nginx: never busy');

# the backend: the three checks it saw, by code
my $chk = 'listener="public",method="POST",route="/v1/check"';
is(delta($be0, $be1,
         qq(ovsa_backend_answers_total{$chk,code="OK",verdict="valid"})), 2,
   'backend: 2 checks OK, verdict valid');
is(delta($be0, $be1, qq(ovsa_backend_answers_total{$chk,code="UNKNOWN_LICENSE",verdict="denied"})),
   1, 'backend: 1 check UNKNOWN_LICENSE, verdict denied');
is(delta($be0, $be1, qq(ovsa_backend_request_duration_seconds_count{$chk})),
   3, 'backend: 3 check latencies');
is(delta($be0, $be1,
         'ovsa_backend_redis_duration_seconds_count{script="check"}'), 3,
   'backend: 3 Redis round trips of check.lua');
is($be1->{'ovsa_backend_redis_breaker_open'}, 0, 'backend: breaker closed');
is($be1->{'ovsa_backend_redis_durable'}, 1, 'backend: Redis durable');
is($be1->{'ovsa_backend_licenses'}, 2, 'backend: 2 licenses');

# the license gauges follow a checkout (rescanned every second here)
my (undef, $co) = $t->api($b, '/v1/lease/checkout',
                          { license_id => 'F1', client_id => 'c1' });
is($co->{code}, 'OK', 'a floating lease is checked out');
sleep 1.2;
my $be2 = scrape('backend');
is($be2->{'ovsa_backend_leases_in_use'}, 1, 'backend: 1 lease in use');
cmp_ok($be2->{'ovsa_backend_license_scans_total'}, '>',
       $be1->{'ovsa_backend_license_scans_total'}, 'backend: rescanned');

# the admin listener: /metrics behind the admin token
my $adm = "http://127.0.0.1:$b->{admin_port}/metrics";
my ($st, $ct, $body) = get($adm);
is($st, 401, 'admin listener: /metrics without the token is 401');
($st, $ct, $body) = get($adm, "-H 'Authorization: Bearer $OvsaBackend::TOKEN'");
is($st, 200, 'admin listener: /metrics with the token');
like($body, qr/^ovsa_backend_answers_total\{/m, 'the same exposition');

# metrics.listen serves nothing else
($st) = get("http://127.0.0.1:$BMPORT/admin/v1/licenses");
is($st, 404, 'metrics.listen: no admin API');
($st) = get("http://127.0.0.1:$BMPORT/v1/check", '-d x');
is($st, 404, 'metrics.listen: no license API');

# the public server has no metrics
($st) = get("https://localhost:$PORT/metrics",
            "--cacert $pki/root.pem --resolve localhost:$PORT:127.0.0.1");
is($st, 404, 'the public server: /metrics is 404');

SKIP: {
    skip 'promtool is not installed (scripts/install-deps.sh: prometheus)', 1
        if length $promtool || !$ENV{CI};
    fail('promtool is required in CI');
}
diag('promtool is not installed: scrapes not checked by it '
     . '(scripts/install-deps.sh installs prometheus)') unless length $promtool;

stop_nginx();
my $log = OvsaTest::read_file("$OvsaTest::SERVROOT/logs/error.log");
unlike($log, qr/\[(alert|emerg|crit)\]/, 'no alert/crit in the nginx log');
done_testing();
