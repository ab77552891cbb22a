#!/usr/bin/perl
# 094-hwkey-flood.t: hardware-key mode under a flood (issue 12, the
# flood of "Benchmarks"; part 12b).  The token is SoftHSM2 behind
# `p11-kit server` made into a YubiKey-speed device by the PKCS#11 delay
# shim: 100 ms per RSA signature, one signature at a time
# (OVSA_P11_TOKEN_LOCK), `thread_pool ovsa threads=1`, queue_max 64.
#
#   500 connections send requests without a nonce or without credentials
#   for 8 s, kept alive, each sending again as soon as it is answered;
#   every answer of theirs is signed (400 NONCE_REQUIRED, 401) or a quick
#   503 SIGNER_BUSY.  Meanwhile a well-behaved client sends checks with a
#   nonce and credentials on one kept-alive connection.  Asserted: nginx
#   stays up (same master, same worker, no exit 3, key not lost), the
#   flood was really refused for lack of room (SIGNER_BUSY seen), every
#   check of the good client is a signed 200 (refusals without
#   credentials may take only queue_max / 4 of the queue), and a check
#   after the flood is answered.  No timing assertions.
#
# Ports: $PORT nginx plain HTTP (the signed location).
use strict;
use warnings;
use lib 't/lib';
use OvsaTest;
use OvsaToken;
use Test::More;
use File::Temp qw(tempdir);
use IO::Select;
use IO::Socket::INET;
use POSIX qw(WNOHANG);
use Errno qw(EAGAIN EWOULDBLOCK EINPROGRESS);
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

my $FLOOD = 500;
my $SECS = 8;
my $pki = OvsaTest::pki();
my $tok = OvsaToken::setup('t094', fixture => $fixture, hwkey => $hwkey,
                           delay => $delay, pki => $pki);
my ($dir, $hsm, $module, $pin, $label, $uri) =
    @$tok{qw(dir hsm module pin label uri)};
$delay = $tok->{delay};
my ($rc, $out);
write_file("$dir/token.lock", '');
chmod 0644, "$dir/token.lock";

my $user = $> == 0 ? 'user root;' : '';
my $main = <<"M";
$user
worker_rlimit_nofile 8192;
thread_pool ovsa threads=1;
env P11_KIT_SERVER_ADDRESS;
env OVSA_P11_DELAY_TARGET;
env OVSA_P11_DELAY_MS_RSA;
env OVSA_P11_TOKEN_LOCK;
M

# the backend's answers, stood in by nginx itself: 401 without
# credentials, else a valid verdict
my $server = <<"C";
        keepalive_requests 100000;
        location /v1/ {
            ovsa_sign on;
            default_type application/json;
            if (\$http_authorization = "") {
                return 401 '{"verdict":"error","code":"LICENSE_PROOF_REQUIRED","server_time":1700000000}';
            }
            return 200 '{"verdict":"valid","code":"OK","server_time":1700000000,"valid_until":2000000000}';
        }
C

my $yaml = <<"Y";
identity:
  chain: $dir/chain.pem
  root: $pki/root.pem
hardware_key:
  enabled: true
  module: $delay
  key_uri: "$uri"
  pin_file: $pin
  sign_timeout_ms: 2000
  queue_max: 64
Y

sub error_log { read_file("$SERVROOT/logs/error.log") }

sub worker_pids {
    my ($master) = @_;
    my @p = split ' ', qx{pgrep -P $master 2>/dev/null};
    return join(',', sort @p);
}

# one request; $kind: 'good' (nonce + credentials), 'nononce',
# 'nocred' (a nonce, no credentials)
sub request {
    my ($kind) = @_;
    my $h = "GET /v1/check HTTP/1.1\r\nHost: localhost\r\n";
    $h .= 'OVSA-Nonce: n' . int(rand(1e12)) . "\r\n" if $kind ne 'nononce';
    $h .= "Authorization: License t094-good-client-secret\r\n"
        if $kind eq 'good';
    return "$h\r\n";
}

# takes one complete answer off the front of $$buf: (status, head) or ()
sub take_answer {
    my ($buf) = @_;
    my $end = index($$buf, "\r\n\r\n");
    return () if $end < 0;
    my $head = substr($$buf, 0, $end);
    my $len = $head =~ /^Content-Length: (\d+)/mi ? $1 : 0;
    return () if length($$buf) < $end + 4 + $len;
    substr($$buf, 0, $end + 4 + $len, '');
    my ($status) = $head =~ m{^HTTP/1\.1 (\d+)};
    return ($status // 0, $head);
}

# the flood, in a child: $FLOOD kept-alive connections for $SECS s;
# prints "signed=N busy=N other=N closed=N"
sub flood {
    my ($port, $secs) = @_;
    my $sel = IO::Select->new;
    my (%buf, %kind);
    my ($signed, $busy, $other, $closed) = (0, 0, 0, 0);
    for my $i (1 .. $FLOOD) {
        my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
                                      Timeout => 5) or next;
        $s->blocking(0);
        $kind{$s} = $i % 2 ? 'nononce' : 'nocred';
        $buf{$s} = '';
        syswrite($s, request($kind{$s}));
        $sel->add($s);
    }
    my $until = time + $secs;
    while (time < $until) {
        for my $s ($sel->can_read(0.2)) {
            my $n = sysread($s, my $chunk, 65536);
            if (!defined $n) {
                next if $! == EAGAIN || $! == EWOULDBLOCK;
            }
            if (!$n) {
                $closed++;
                $sel->remove($s);
                close $s;
                next;
            }
            $buf{$s} .= $chunk;
            while (my ($st, $head) = take_answer(\$buf{$s})) {
                if ($head =~ /^Signature: ovsa=:/mi) {
                    $signed++;
                } elsif ($st == 503 && $head =~ /^Retry-After: 1\r?$/mi) {
                    $busy++;
                } else {
                    $other++;
                }
                syswrite($s, request($kind{$s}));
            }
        }
    }
    print "signed=$signed busy=$busy other=$other closed=$closed "
        . "conns=" . scalar($sel->handles) . "\n";
}

# the good client: checks on one kept-alive connection, one after the
# other, until $secs have passed; returns (ok, not ok, first bad answer)
sub good_client {
    my ($port, $secs) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
                                  Timeout => 30) or return (0, 1, "connect: $!");
    my ($ok, $bad, $first) = (0, 0, undef);
    my $until = time + $secs;
    my $buf = '';
    while (time < $until) {
        print $s request('good');
        my ($st, $head);
        while (!(($st, $head) = take_answer(\$buf))) {
            my $n = sysread($s, my $chunk, 65536);
            if (!$n) {
                return ($ok, $bad + 1, $first // 'connection closed');
            }
            $buf .= $chunk;
        }
        if ($st == 200 && $head =~ /^Signature: ovsa=:/mi
            && $head =~ /^Signature-Input: ovsa=/mi)
        {
            $ok++;
        } else {
            $bad++;
            $first //= $head;
        }
    }
    close $s;
    return ($ok, $bad, $first);
}

{
    local $ENV{OVSA_P11_DELAY_TARGET} = $module;
    local $ENV{OVSA_P11_DELAY_MS_RSA} = 100;
    local $ENV{OVSA_P11_TOKEN_LOCK} = "$dir/token.lock";

    my $conf = nginx_conf(yaml => $yaml, main_config => $main,
                          config => $server);
    $conf =~ s/worker_connections 128;/worker_connections 4096;/
        or die 'no worker_connections in the test nginx.conf';
    start_nginx($conf);
    my $master = $OvsaTest::PID;
    my $until = time + 10;
    sleep 0.05 until error_log() =~ /hardware key opened in worker/
        || time > $until;
    like(error_log(), qr/hardware key opened in worker/,
         'the worker opened the emulated token');
    my $workers = worker_pids($master);
    ok($workers ne '', "worker pid $workers");

    my ($ok, $bad, $first) = good_client($PORT, 1);
    ok($ok >= 1 && $bad == 0, "before the flood: $ok signed checks")
        or diag $first;

    pipe(my $rd, my $wr) or die "pipe: $!";
    my $fpid = fork // die "fork: $!";
    if ($fpid == 0) {
        close $rd;
        select $wr;
        $| = 1;
        flood($PORT, $SECS);
        POSIX::_exit(0);
    }
    close $wr;
    sleep 1.5;      # the flood fills the queue
    ($ok, $bad, $first) = good_client($PORT, $SECS - 2.5);
    my $fout = <$rd> // '';
    waitpid($fpid, 0);
    chomp $fout;
    note("flood: $fout; good client: $ok signed checks, $bad other");
    my %f = $fout =~ /(\w+)=(\d+)/g;

    ok(($f{conns} // 0) >= $FLOOD * 0.9,
       "the flood kept its connections open ($fout)");
    ok(($f{busy} // 0) > 0, 'the flood got 503 SIGNER_BUSY: the queue was '
       . 'full of its refusals');
    ok(($f{signed} // 0) > 0, 'some of the flood\'s refusals were signed');
    is($bad, 0, 'every check of the good client during the flood is a '
       . 'signed 200') or diag $first;
    ok($ok >= 2, "the good client kept checking ($ok checks)");

    ok(kill(0, $master), 'the nginx master is still running');
    is(waitpid($master, WNOHANG), 0, '... and has not exited (no exit 3)');
    is(worker_pids($master), $workers, 'the same worker serves (no restart)');
    ($ok, $bad, $first) = good_client($PORT, 0.5);
    ok($ok >= 1 && $bad == 0, 'after the flood: checks are signed')
        or diag $first;
    my $log = error_log();
    unlike($log, qr/hardware key lost|stuck in the hardware key|\[alert\]|\[emerg\]/,
           'the key was not declared lost');
    like($log, qr/refusals without credentials already wait for the token/,
         'the flood\'s overflow is logged with its reason');
    stop_nginx();
}

done_testing();
