#!/usr/bin/perl
# 092-hwkey-overload.t: hardware-key mode under load (issue 12, item 1).
# The token is SoftHSM2 behind `p11-kit server` (t/lib/softhsm.sh), made
# slow by the PKCS#11 delay shim (t/p11-delay): 100 ms per signature,
# `thread_pool ovsa threads=1`, so signatures queue.
#
#   (a) queue_max 8, 40 concurrent requests: the overflow gets an
#       unsigned 503 SIGNER_BUSY with Retry-After: 1 at once, the others
#       signed answers; nginx keeps running, the key is not lost, the
#       next request is answered and signed
#   (b) queue_max 64, sign_timeout_ms 1000, 30 concurrent requests (3 s of
#       token work): queueing time does not count against the timeout,
#       every answer is signed, the key is not lost
#   (c) a token call slower than sign_timeout_ms (1500 ms > 1000 ms) is
#       still a lost key: unsigned 503 OVSA_E_P11_TIMEOUT, master exits 3
#
# Ports: $PORT nginx TLS, +1 stand-in backend, +2 nginx plain HTTP.
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
my $pki = OvsaTest::pki();
my $tok = OvsaToken::setup('t092', fixture => $fixture, hwkey => $hwkey,
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

sub signed_ok {
    my ($name) = @_;
    my $raw = read_all(send_req());
    like($raw, qr{^HTTP/1\.1 200 }, "$name: a following request is answered");
    like($raw, qr/^Signature: ovsa=:/mi, "$name: ... and signed");
}

{
    local $ENV{OVSA_P11_DELAY_TARGET} = $module;
    local $ENV{OVSA_P11_DELAY_MS} = 100;

    # ---- (a) bounded queue
    start_nginx(conf(timeout => 2000, queue_max => 8));
    ok(worker_opened(), '(a) worker opened the key');
    my $master = $OvsaTest::PID;
    my ($signed, $busy, $other, $secs) = burst(40);
    note(sprintf "(a) 40 requests: %d signed, %d SIGNER_BUSY in %.2f s",
         $signed, $busy, $secs);
    is($other, 0, "(a) every answer is signed or SIGNER_BUSY "
       . "($signed signed, $busy busy, ${\ sprintf '%.2f', $secs} s)");
    ok($signed >= 8, '(a) at least queue_max answers signed');
    ok($busy > 0, '(a) the overflow got 503 SIGNER_BUSY + Retry-After');
    ok($secs < 8, '(a) the burst ended well before 40 signatures of '
       . 'token time');
    is(master_exit(1.5), undef, '(a) the nginx master is still running');
    ok(kill(0, $master), '(a) ... its pid is alive');
    signed_ok('(a)');
    my $log = error_log();
    unlike($log, qr/hardware key lost|stuck in the hardware key/,
           '(a) the key was not declared lost') or diag $log;
    like($log, qr/\[warn\] .*sending 503 SIGNER_BUSY: OVSA_E_P11_BUSY/,
         '(a) the overflow is logged as a warning with its code');
    stop_nginx();

    # ---- (b) queueing time is not token time
    start_nginx(conf(timeout => 1000));
    ok(worker_opened(), '(b) worker opened the key');
    $master = $OvsaTest::PID;
    ($signed, $busy, $other, $secs) = burst(30);
    note(sprintf "(b) 30 requests: %d signed in %.2f s", $signed, $secs);
    is($signed, 30, '(b) 30 queued requests, 3 s of token time with a '
       . "1 s timeout: all signed (${\ sprintf '%.2f', $secs} s)");
    ok($secs > 2.5, '(b) the token really was slow (' . sprintf('%.2f', $secs)
       . ' s)');
    is(master_exit(1.5), undef, '(b) the nginx master is still running');
    signed_ok('(b)');
    $log = error_log();
    unlike($log, qr/hardware key lost|stuck in the hardware key/,
           '(b) the key was not declared lost') or diag $log;
    stop_nginx();
}

# ---- (c) a token call slower than sign_timeout_ms still loses the key
{
    local $ENV{OVSA_P11_DELAY_TARGET} = $module;
    local $ENV{OVSA_P11_DELAY_MS} = 1500;
    start_nginx(conf(timeout => 1000));
    ok(worker_opened(), '(c) worker opened the key');
    my $raw = read_all(send_req());
    like($raw, qr{^HTTP/1\.1 503 }, '(c) a 1.5 s signature: 503');
    unlike($raw, qr/^Signature:/mi, '(c) ... unsigned');
    unlike($raw, qr/SIGNER_BUSY/, '(c) ... not SIGNER_BUSY');
    my $status = master_exit(20);
    is($status, 3, '(c) the master exits with status 3');
    like(error_log(), qr/hardware key lost \(OVSA_E_P11_TIMEOUT: the token did not answer a signature in 1000 ms\)/,
         '(c) the key is lost with OVSA_E_P11_TIMEOUT') or diag error_log();
}

done_testing();
