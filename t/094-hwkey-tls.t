#!/usr/bin/perl
# 094-hwkey-tls.t: hardware-key mode with the TLS key split off (issue 12
# item 3, part 12b): hardware_key.tls_chain + tls_key give TLS a software
# key of a second leaf under the same root, while the token keeps signing
# every answer.  The token is SoftHSM2 behind `p11-kit server` and the
# PKCS#11 delay shim (serial, OVSA_P11_TOKEN_LOCK).
#
#   (a) the stall, measured: token at 1000 ms per signature, one answer
#       being signed; a full TLS handshake arrives, then a request on a
#       kept-alive connection of the same worker.  With the token key on
#       TLS that request waits for the handshake's token signature (> 0.5
#       s); with the split it is answered at once (< 0.5 s), and the
#       handshake does not wait for the token either.
#   (b) the split serves: s_client sees the TLS leaf (not the token's),
#       verified against the root; the chain endpoint serves the token's
#       signing chain; ovsa-check verifies a signed answer end to end.
#   (c) the start check verifies the second leaf like the first, each
#       failure with its code, in nginx -t: key of another leaf
#       (OVSA_E_KEY_MISMATCH), key file open to others (OVSA_E_KEY_MODE),
#       the token's own leaf as TLS leaf (OVSA_E_CONF_VALUE), a leaf of
#       another root (OVSA_E_CHAIN_*), tls_chain without tls_key
#       (OVSA_E_CONF_MISSING), tls_* without hardware_key.enabled.
#
# Ports: $PORT nginx TLS, $PORT + 160 nginx plain HTTP (same worker).
use strict;
use warnings;
use lib 't/lib';
use OvsaTest;
use OvsaToken;
use Test::More;
use File::Temp qw(tempdir);
use IO::Socket::INET;
use POSIX ();
use Digest::SHA;
use MIME::Base64;
use Time::HiRes qw(sleep time);

my $fixture = "$OvsaTest::ROOT/t/lib/softhsm.sh";
my $hwkey   = "$OvsaTest::ROOT/scripts/ovsa_hwkey.sh";
my $check   = "$OvsaTest::BUILD/bin/ovsa-check";
my $delay   = "$OvsaTest::BUILD/lib/ovsa-p11-delay.so";

for my $need ('/usr/lib/softhsm/libsofthsm2.so', '/usr/bin/p11-kit',
              '/usr/bin/pkcs11-tool',
              '/usr/lib/x86_64-linux-gnu/engines-3/pkcs11.so') {
    plan skip_all => "$need missing (make deps)" unless -e $need;
}
for my $need ($check, $delay) {
    plan skip_all => "$need not built (run make)" unless -e $need;
}

my $H = $PORT + 160;
my $pki = OvsaTest::pki();
my $tok = OvsaToken::setup('t094t', fixture => $fixture, hwkey => $hwkey,
                           delay => $delay, pki => $pki);
my ($dir, $hsm, $module, $pin, $label, $uri) =
    @$tok{qw(dir hsm module pin label uri)};
$delay = $tok->{delay};
my ($rc, $out);
write_file("$dir/token.lock", '');

# the TLS identity: the test PKI's EC leaf (same root), its key 0600
write_file("$dir/tls-chain.pem", read_file("$pki/chain-ec.pem"));
write_file("$dir/tls.key", read_file("$pki/leaf-ec.key"));
chmod 0600, "$dir/tls.key";
write_file("$dir/open.key", read_file("$pki/leaf-ec.key"));
chmod 0644, "$dir/open.key";
write_file("$dir/rsa.key", read_file("$pki/leaf-rsa.key"));
chmod 0600, "$dir/rsa.key";
($rc, $out) = cmd_run('openssl', 'req', '-x509', '-newkey', 'ec',
                      '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
                      '-subj', '/CN=localhost', '-days', '30',
                      '-keyout', "$dir/self.key", '-out', "$dir/self.pem");
is($rc, 0, 'a self-signed leaf of another root') or diag $out;
chmod 0600, "$dir/self.key";

sub yaml {
    my (%o) = @_;
    my $y;
    if (($o{enabled} // 'true') eq 'true') {
        $y = <<"Y";
identity:
  chain: $dir/chain.pem
  root: $pki/root.pem
hardware_key:
  enabled: true
  module: $delay
  key_uri: "$uri"
  pin_file: $pin
  sign_timeout_ms: 5000
Y
    } else {
        $y = <<"Y";
identity:
  chain: $pki/chain-rsa.pem
  key: $dir/rsa.key
  root: $pki/root.pem
hardware_key:
  enabled: false
Y
    }
    $y .= "  tls_chain: $o{tls_chain}\n" if $o{tls_chain};
    $y .= "  tls_key: $o{tls_key}\n" if $o{tls_key};
    return $y;
}

my $user = $> == 0 ? 'user root;' : '';
my $main = <<"M";
$user
thread_pool ovsa threads=1;
env P11_KIT_SERVER_ADDRESS;
env OVSA_P11_DELAY_TARGET;
env OVSA_P11_DELAY_MS_RSA;
env OVSA_P11_TOKEN_LOCK;
M

my $answer = q{'{"verdict":"valid","code":"OK","server_time":1700000000,"valid_until":2000000000}'};
my $http = <<"C";
    server {
        listen 127.0.0.1:$H;
        location /v1/ { ovsa_sign on; default_type application/json; return 200 $answer; }
        location = /fast { return 200 "fast\\n"; }
    }
C
my $server = <<"C";
        location = /.well-known/ovsa/chain { ovsa_chain; }
        location /v1/ { ovsa_sign on; default_type application/json; return 200 $answer; }
        location = /fast { return 200 "fast\\n"; }
C

sub conf {
    return nginx_conf(tls => '', yaml => yaml(@_), main_config => $main,
                      http_config => $http, config => $server);
}

sub error_log { read_file("$SERVROOT/logs/error.log") }

sub worker_opened {
    my $until = time + 10;
    while (time < $until) {
        return 1 if error_log() =~ /hardware key opened in worker/;
        sleep 0.05;
    }
    return 0;
}

sub read_answer {
    my ($s) = @_;
    my $buf = '';
    while (1) {
        my $end = index($buf, "\r\n\r\n");
        if ($end >= 0) {
            my $len = substr($buf, 0, $end) =~ /^Content-Length: (\d+)/mi
                ? $1 : 0;
            return $buf if length($buf) >= $end + 4 + $len;
        }
        my $n = sysread($s, my $chunk, 65536);
        return $buf unless $n;
        $buf .= $chunk;
    }
}

# (seconds a kept-alive request waited while a full handshake came in
# during a token signature, s_client's output, the signed answer)
sub stall {
    my $ka = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$H", Timeout => 30)
        or die "connect: $!";
    print $ka "GET /fast HTTP/1.1\r\nHost: localhost\r\n\r\n";
    read_answer($ka);

    # a signed answer holds the token for 1 s
    my $sig = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$H",
                                    Timeout => 30) or die "connect: $!";
    print $sig "GET /v1/check HTTP/1.1\r\nHost: localhost\r\n"
        . "OVSA-Nonce: stall" . int(rand(1e9)) . "\r\n"
        . "Connection: close\r\n\r\n";
    sleep 0.1;

    # a full handshake (no session to resume)
    my $spid = fork // die "fork: $!";
    if ($spid == 0) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', "$dir/s_client.out";
        open STDERR, '>&', \*STDOUT;
        { exec 'openssl', 's_client', '-connect', "127.0.0.1:$PORT",
              '-servername', 'localhost', '-CAfile', "$pki/root.pem",
              '-verify_return_error'; }
        POSIX::_exit(127);
    }
    sleep 0.3;

    my $t0 = time;
    print $ka "GET /fast HTTP/1.1\r\nHost: localhost\r\n\r\n";
    my $fast = read_answer($ka);
    my $waited = time - $t0;
    waitpid($spid, 0);
    my $signed = read_answer($sig);
    close $ka;
    close $sig;
    return ($waited, read_file("$dir/s_client.out"), $signed, $fast);
}

# ---- (a) the stall, measured, then removed
$ENV{OVSA_P11_DELAY_TARGET} = $module;
$ENV{OVSA_P11_TOKEN_LOCK} = "$dir/token.lock";
{
    local $ENV{OVSA_P11_DELAY_MS_RSA} = 1000;

    start_nginx(conf());
    ok(worker_opened(), '(a) token key on TLS: worker opened the key');
    my ($w, $s, $signed, $fast) = stall();
    note(sprintf '(a) token key on TLS: a kept-alive request waited %.3f s',
         $w);
    like($fast, qr{^HTTP/1\.1 200}, '(a) token key on TLS: answered');
    ok($w > 0.5, sprintf('(a) token key on TLS: the handshake stalled the '
       . 'kept-alive request of the worker (%.3f s)', $w));
    stop_nginx();

    start_nginx(conf(tls_chain => "$dir/tls-chain.pem",
                     tls_key => "$dir/tls.key"));
    ok(worker_opened(), '(a) split: worker opened the key');
    ($w, $s, $signed, $fast) = stall();
    note(sprintf '(a) split: a kept-alive request waited %.3f s', $w);
    like($fast, qr{^HTTP/1\.1 200}, '(a) split: answered');
    ok($w < 0.5, sprintf('(a) split: no stall (%.3f s)', $w));
    like($s, qr/Verify return code: 0 \(ok\)/,
         '(a) split: the handshake during a token signature completed');
    like($signed, qr/^Signature: ovsa=:/mi,
         '(a) split: the answer being signed meanwhile is signed');
    stop_nginx();
}

# ---- (b) what the split serves
{
    start_nginx(conf(tls_chain => "$dir/tls-chain.pem",
                     tls_key => "$dir/tls.key"));
    ok(worker_opened(), '(b) worker opened the key');
    $out = qx{openssl s_client -connect 127.0.0.1:$PORT -servername localhost -CAfile $pki/root.pem -verify_return_error -showcerts </dev/null 2>&1};
    like($out, qr/Verify return code: 0 \(ok\)/,
         '(b) s_client verifies the TLS chain against the root');
    my @certs = $out =~ /(-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----)/sg;
    is(scalar @certs, 2, '(b) TLS leaf + intermediate served');
    my $fp = sub {
        my ($pem) = @_;
        write_file("$dir/fp.pem", "$pem\n");
        my (undef, $f) = cmd_run('openssl', 'x509', '-in', "$dir/fp.pem",
                                 '-noout', '-fingerprint', '-sha256');
        return $f;
    };
    my ($tls_leaf) = read_file("$pki/chain-ec.pem") =~ /(-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----)/s;
    my ($tok_leaf) = read_file("$dir/leaf.pem") =~ /(-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----)/s;
    is($fp->($certs[0] // ''), $fp->($tls_leaf),
       '(b) the served TLS leaf is hardware_key.tls_chain\'s');
    my $chain = qx{curl -s --cacert $pki/root.pem --resolve localhost:$PORT:127.0.0.1 -H 'OVSA-Nonce: chain1' https://localhost:$PORT/.well-known/ovsa/chain};
    my ($served) = $chain =~ /(-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----)/s;
    is($fp->($served // ''), $fp->($tok_leaf),
       '(b) the chain endpoint serves the token\'s signing leaf');
    $out = qx{$check -url https://127.0.0.1:$PORT -root $pki/root.pem -id LIC-1 2>&1};
    is($? >> 8, 0, '(b) ovsa-check verifies a signed answer (TLS and '
       . 'signing chain both under the root)') or diag $out;
    like($out, qr/^verified: valid OK/, '(b) verified verdict');
    stop_nginx();
    unlike(error_log(), qr/\[(error|alert|crit|emerg)\]/, '(b) no errors');
}

# ---- (c) the start check verifies the second leaf
my @bad = (
    [ 'key of another leaf', { tls_chain => "$dir/tls-chain.pem",
        tls_key => "$dir/rsa.key" },
      qr/hardware_key\.tls_key: .*\(OVSA_E_KEY_MISMATCH\)/ ],
    [ 'key file open to others', { tls_chain => "$dir/tls-chain.pem",
        tls_key => "$dir/open.key" },
      qr/hardware_key\.tls_key: .*\(OVSA_E_KEY_MODE\)/ ],
    [ 'the token\'s own leaf', { tls_chain => "$dir/chain.pem",
        tls_key => "$dir/tls.key" },
      qr/hardware_key\.tls_chain: .*the key of identity\.chain's leaf.*\(OVSA_E_CONF_VALUE\)/ ],
    [ 'a leaf of another root', { tls_chain => "$dir/self.pem",
        tls_key => "$dir/self.key" },
      qr/hardware_key\.tls_chain: .*\(OVSA_E_(CHAIN|CERT)_\w+\)/ ],
    [ 'tls_chain without tls_key', { tls_chain => "$dir/tls-chain.pem" },
      qr/"tls_chain" and "tls_key" go together.*\(OVSA_E_CONF_MISSING\)/ ],
    [ 'tls_* in software mode', { enabled => 'false',
        tls_chain => "$dir/tls-chain.pem", tls_key => "$dir/tls.key" },
      qr/need hardware_key\.enabled: true.*\(OVSA_E_CONF_VALUE\)/ ],
);
for my $b (@bad) {
    my ($name, $o, $re) = @$b;
    ($rc, $out) = nginx_t(conf(%$o));
    isnt($rc, 0, "(c) $name: nginx -t fails");
    like($out, $re, "(c) $name: its code") or diag $out;
}

done_testing();
