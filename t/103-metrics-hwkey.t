#!/usr/bin/perl
# 103-metrics-hwkey.t: the module's hardware-key metrics (docs/metrics.md)
# on a slow SoftHSM2 token (t/lib/softhsm.sh behind the PKCS#11 delay shim
# t/p11-delay, 400 ms per signature, one signing thread, queue_max 2), as
# in t/092-hwkey-overload.t: during a burst the queue depth shows on the
# admin server's ovsa_metrics while the worker waits for the token; after
# it, SIGNER_BUSY and signed answers are counted exactly as the clients
# saw them, the key is up, and promtool accepts the scrapes.
#
# Ports (offset 200 of t/103): $PORT nginx TLS, +1 stand-in backend,
# +2 nginx plain HTTP, +3 the admin server with ovsa_metrics.
BEGIN {
    $ENV{TEST_NGINX_PORT} ||= ($ENV{OVSA_TEST_PORT_BASE} || 21800) + 203;
}
use strict;
use warnings;
use lib 't/lib';
use OvsaTest;
use OvsaToken;
use Test::More;
use File::Temp qw(tempdir);
use IO::Socket::INET;
use POSIX qw(WNOHANG);
use Digest::SHA;
use MIME::Base64;
use Time::HiRes qw(sleep time);

my $fixture = "$OvsaTest::ROOT/t/lib/softhsm.sh";
my $hwkey   = "$OvsaTest::ROOT/scripts/ovsa_hwkey.sh";
my $delay   = "$OvsaTest::BUILD/lib/ovsa-p11-delay.so";

for my $need ('/usr/lib/softhsm/libsofthsm2.so', '/usr/bin/p11-kit',
              '/usr/bin/pkcs11-tool',
              '/usr/lib/x86_64-linux-gnu/engines-3/pkcs11.so') {
    plan skip_all => "$need missing (make deps)" unless -e $need;
}
plan skip_all => "$delay not built (run make)" unless -e $delay;

my $B = $PORT + 1;
my $H = $PORT + 2;
my $M = $PORT + 3;
my $pki = OvsaTest::pki();
my $tok = OvsaToken::setup('t103h', fixture => $fixture, hwkey => $hwkey,
                           delay => $delay, pki => $pki);
my ($dir, $hsm, $module, $pin, $label, $uri) =
    @$tok{qw(dir hsm module pin label uri)};
$delay = $tok->{delay};
my ($rc, $out);

my $user = $> == 0 ? 'user root;' : '';
my $main = <<"M";
$user
thread_pool ovsa threads=1;
env P11_KIT_SERVER_ADDRESS;
env OVSA_P11_DELAY_TARGET;
env OVSA_P11_DELAY_MS;
M

my $http = <<"C";
    server {
        listen 127.0.0.1:$B;
        default_type application/json;
        location = /v1/check {
            return 200 '{"verdict":"valid","code":"OK","server_time":1700000000,"valid_until":2000000000}';
        }
    }
    server {
        listen 127.0.0.1:$H;
        location /v1/ { ovsa_sign on; proxy_pass http://127.0.0.1:$B; }
    }
    server {
        listen 127.0.0.1:$M;
        location = /metrics { ovsa_metrics; }
    }
C

my $server = <<"C";
        location = /.well-known/ovsa/chain { ovsa_chain; }
        location /v1/ { ovsa_sign on; proxy_pass http://127.0.0.1:$B; }
C

sub conf {
    my (%o) = @_;
    my $q = defined $o{queue_max} ? "  queue_max: $o{queue_max}\n" : '';
    my $yaml = <<"Y";
identity:
  chain: $dir/chain.pem
  root: $pki/root.pem
hardware_key:
  enabled: true
  module: $delay
  key_uri: "$uri"
  pin_file: $pin
  sign_timeout_ms: $o{timeout}
$q
Y
    return nginx_conf(tls => '', yaml => $yaml, main_config => $main,
                      http_config => $http, config => $server);
}

sub error_log { read_file("$SERVROOT/logs/error.log") }

sub master_exit {
    my ($secs) = @_;
    my $pid = $OvsaTest::PID or return undef;
    my $until = time + $secs;
    while (time < $until) {
        if (waitpid($pid, WNOHANG) == $pid) {
            undef $OvsaTest::PID;
            return $? >> 8;
        }
        sleep 0.05;
    }
    return undef;
}

sub worker_opened {
    my $until = time + 10;
    while (time < $until) {
        return 1 if error_log() =~ /hardware key opened in worker/;
        sleep 0.05;
    }
    return 0;
}

# a request on a new plain connection; the answer is read later
sub send_req {
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$H", Timeout => 30)
        or die "connect: $!";
    my $nonce = 'n' . int(rand(1e9));
    my $body = '{"license_id":"LIC-1"}';
    print $s "POST /v1/check HTTP/1.1\r\nHost: localhost\r\n"
        . "Connection: close\r\nOVSA-Nonce: $nonce\r\n"
        . "Content-Type: application/json\r\n"
        . "Content-Digest: sha-256=:"
        . MIME::Base64::encode_base64(Digest::SHA::sha256($body), '')
        . ":\r\nContent-Length: " . length($body) . "\r\n\r\n$body";
    return $s;
}

sub read_all {
    my ($s) = @_;
    my $raw = '';
    while (1) {
        my $n = sysread($s, my $buf, 65536);
        last unless $n;
        $raw .= $buf;
    }
    close $s;
    return $raw;
}

# sends $n requests at once; returns (signed 200s, SIGNER_BUSY 503s,
# others, seconds until the last answer, seconds of the slowest 503)
sub burst {
    my ($n) = @_;
    my $t0 = time;
    my @socks = map { send_req() } 1 .. $n;
    my ($signed, $busy, $other, $busy_max) = (0, 0, 0, 0);
    for my $s (@socks) {
        my $raw = read_all($s);
        my ($head, $body) = split /\r\n\r\n/, $raw, 2;
        $head //= '';
        $body //= '';
        if ($head =~ m{^HTTP/1\.1 200 } && $head =~ /^Signature: ovsa=:/mi
            && $head =~ /^Signature-Input: ovsa=/mi)
        {
            $signed++;
        } elsif ($head =~ m{^HTTP/1\.1 503 } && $head =~ /^Retry-After: 1\r?$/mi
                 && $head !~ /^Signature(-Input)?:/mi
                 && $head =~ m{^Content-Type: application/json}mi
                 && $body =~ /^\{"code":"SIGNER_BUSY",/)
        {
            $busy++;
        } else {
            $other++;
            diag "unexpected answer: " . substr($raw, 0, 300);
        }
    }
    return ($signed, $busy, $other, time - $t0);
}

my $promtool = qx{sh -c 'command -v promtool'};
chomp $promtool;

# the samples of a scrape of the admin server: { 'name{labels}' => value }
sub scrape {
    my ($name) = @_;
    my $raw = read_all(do {
        my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$M",
                                      Timeout => 10) or die "connect: $!";
        print $s "GET /metrics HTTP/1.1\r\nHost: localhost\r\n"
            . "Connection: close\r\n\r\n";
        $s;
    });
    my ($head, $body) = split /\r\n\r\n/, $raw, 2;
    like($head, qr{^HTTP/1\.1 200 .*^Content-Type: text/plain; version=0\.0\.4}ms,
         "$name: scraped");
    if (length $promtool) {
        write_file("$dir/scrape.txt", $body);
        my $msg = qx{$promtool check metrics < $dir/scrape.txt 2>&1};
        is($? >> 8, 0, "$name: promtool check metrics accepts it")
            or diag $msg;
    }
    my %s;
    for (split /\n/, $body // '') {
        $s{$1} = $2 if /^([^#\s]\S*) (\S+)$/;
    }
    return \%s;
}

{
    local $ENV{OVSA_P11_DELAY_TARGET} = $module;
    local $ENV{OVSA_P11_DELAY_MS} = 400;

    start_nginx(conf(timeout => 2000, queue_max => 2));
    ok(worker_opened(), 'worker opened the key');

    my $m0 = scrape('before');
    is($m0->{ovsa_nginx_hwkey_enabled}, 1, 'hardware-key mode');
    is($m0->{ovsa_nginx_hwkey_up}, 1, 'the key is up');
    is($m0->{ovsa_nginx_hwkey_queue_max}, 2, 'queue_max is 2');
    is($m0->{ovsa_nginx_hwkey_queue_depth}, 0, 'nothing queued');

    # 6 requests at once: 2 wait for the token, 4 are SIGNER_BUSY
    my @socks = map { send_req() } 1 .. 6;
    sleep 0.25;
    my $mid = scrape('during the burst');
    cmp_ok($mid->{ovsa_nginx_hwkey_queue_depth}, '>=', 1,
           "queue depth during the burst: $mid->{ovsa_nginx_hwkey_queue_depth}");
    cmp_ok($mid->{ovsa_nginx_hwkey_queue_depth}, '<=', 2,
           'never above queue_max');

    my ($signed, $busy, $other) = (0, 0, 0);
    for my $s (@socks) {
        my $raw = read_all($s);
        if ($raw =~ m{^HTTP/1\.1 200 } && $raw =~ /^Signature: ovsa=:/mi) {
            $signed++;
        } elsif ($raw =~ m{^HTTP/1\.1 503 } && $raw =~ /"code":"SIGNER_BUSY"/) {
            $busy++;
        } else {
            $other++;
        }
    }
    cmp_ok($busy, '>=', 1, "$busy SIGNER_BUSY answers");
    is($signed + $busy + $other, 6, "$signed signed, $other others");

    my $m1 = scrape('after');
    is($m1->{ovsa_nginx_signer_busy_total}
       - $m0->{ovsa_nginx_signer_busy_total}, $busy,
       'signer_busy_total moved by the SIGNER_BUSY answers seen');
    is($m1->{'ovsa_nginx_answers_signed_total{class="2xx"}'}
       - $m0->{'ovsa_nginx_answers_signed_total{class="2xx"}'}, $signed,
       'answers_signed_total{2xx} moved by the signed answers seen');
    is($m1->{ovsa_nginx_sign_duration_seconds_count}
       - $m0->{ovsa_nginx_sign_duration_seconds_count}, $signed,
       'one signing time per signed answer');
    cmp_ok($m1->{ovsa_nginx_sign_duration_seconds_sum}
           - $m0->{ovsa_nginx_sign_duration_seconds_sum}, '>=',
           0.4 * $signed * 0.9, 'each took the token\'s 400 ms');
    is($m1->{'ovsa_nginx_sign_duration_seconds_bucket{le="0.25"}'}
       - $m0->{'ovsa_nginx_sign_duration_seconds_bucket{le="0.25"}'}, 0,
       'none under 250 ms');
    is($m1->{ovsa_nginx_hwkey_queue_depth}, 0, 'queue empty again');
    is($m1->{ovsa_nginx_hwkey_up}, 1, 'the key is still up');
    is($m1->{'ovsa_nginx_sign_failures_total{reason="hardware_key"}'}, 0,
       'no hardware-key failure');

    stop_nginx();
}

unlike(error_log(), qr/\[(alert|emerg|crit)\]/, 'no alert/crit in the log');
diag('promtool is not installed: scrapes not checked by it '
     . '(scripts/install-deps.sh installs prometheus)') unless length $promtool;
done_testing();
