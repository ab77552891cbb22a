#!/usr/bin/perl
# 093-hwkey-batch.t: batch signatures in hardware-key mode (issue 12,
# item 2; docs/signatures.md, "Batch profile").  The token is SoftHSM2
# behind `p11-kit server` (t/lib/softhsm.sh), RSA-2048, with
# hardware_key.batch_window_ms set.
#
#   (a) N concurrent ovsa-check runs against the real nginx: every answer
#       verifies in the SDK; raw answers of one burst carry the batch alg,
#       size > 1, distinct indexes and one root per batch
#   (b) tampering with real answers of one batch, through a TLS proxy
#       that sends the client's request together with companions (so
#       they share a batch) and splices their headers: each refusal has
#       its own code (OVSA_E_BATCH_ROOT, _LEAF, _SIG, _PROOF, _ALG)
#   (c) batch_max bounds the batch; with the PKCS#11 delay shim at
#       100 ms per signature and threads=1, 40 concurrent requests are
#       all signed in far less than 40 token calls' time
#   (d) batching off: the same token gives the standard signature
#   (e) batching on, queue_max 6: the overflow is still the unsigned 503
#       SIGNER_BUSY at once, the key is not lost
#   (f) batching on, a token call slower than sign_timeout_ms: every
#       held answer gets the unsigned 503, the master exits with status 3
#
# Ports (offset 150 of the test base): $PORT nginx TLS, +1 stand-in
# backend, +2 nginx plain HTTP, +3 the splicing proxy.
use strict;
use warnings;
use lib 't/lib';
use OvsaTest;
use OvsaToken;
use Test::More;
use File::Temp qw(tempdir);
use IO::Socket::INET;
use IO::Socket::SSL;
use POSIX qw(WNOHANG _exit);
use Digest::SHA qw(sha256);
use MIME::Base64 qw(encode_base64 decode_base64);
use JSON::PP qw(decode_json);
use Time::HiRes qw(sleep time);

BEGIN { $OvsaTest::PORT += 150 }

my $fixture = "$OvsaTest::ROOT/t/lib/softhsm.sh";
my $hwkey   = "$OvsaTest::ROOT/scripts/ovsa_hwkey.sh";
my $delay   = "$OvsaTest::BUILD/lib/ovsa-p11-delay.so";
my $check   = "$OvsaTest::BUILD/bin/ovsa-check";

for my $need ('/usr/lib/softhsm/libsofthsm2.so', '/usr/bin/p11-kit',
              '/usr/bin/pkcs11-tool',
              '/usr/lib/x86_64-linux-gnu/engines-3/pkcs11.so', $check) {
    plan skip_all => "$need missing (make deps)" unless -e $need;
}
plan skip_all => "$delay not built (run make)" unless -e $delay;

my $B  = $PORT + 1;
my $H  = $PORT + 2;
my $PX = $PORT + 3;
my $pki = OvsaTest::pki();
my $tok = OvsaToken::setup('t093', fixture => $fixture, hwkey => $hwkey,
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
    my $batch = '';
    $batch .= "  batch_window_ms: $o{window}\n" if defined $o{window};
    $batch .= "  batch_max: $o{max}\n" if defined $o{max};
    $batch .= "  queue_max: $o{queue_max}\n" if defined $o{queue_max};
    $batch .= "  sign_timeout_ms: $o{timeout}\n" if defined $o{timeout};
    my $yaml = <<"Y";
identity:
  chain: $dir/chain.pem
  root: $pki/root.pem
hardware_key:
  enabled: true
  module: @{[ $o{delay} ? $delay : $module ]}
  key_uri: "$uri"
  pin_file: $pin
$batch
Y
    return nginx_conf(tls => '', yaml => $yaml, main_config => $main,
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

my $body = '{"license_id":"LIC-1"}';
my $body_digest = 'sha-256=:' . encode_base64(sha256($body), '') . ':';

sub request_text {
    my ($host) = @_;
    my $nonce = 'n' . int(rand(1e9));
    return "POST /v1/check HTTP/1.1\r\nHost: $host\r\n"
        . "Connection: close\r\nOVSA-Nonce: $nonce\r\n"
        . "Content-Type: application/json\r\n"
        . "Content-Digest: $body_digest\r\n"
        . "Content-Length: " . length($body) . "\r\n\r\n$body";
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

sub header_value {
    my ($head, $name) = @_;
    return $head =~ /^\Q$name\E:[ \t]*(.*?)[ \t]*\r?$/mi ? $1 : undef;
}

# the batch parameters of an answer's Signature, or undef
sub batch_of {
    my ($raw) = @_;
    my ($head) = split /\r\n\r\n/, $raw, 2;
    my $sig = header_value($head, 'Signature') // return undef;
    my $in = header_value($head, 'Signature-Input') // return undef;
    return undef unless $sig =~ /^ovsa=:([^:]*):;size=(\d+);index=(\d+);leaf=:([^:]*):;root=:([^:]*):;proof=:([^:]*):$/;
    my %b = (rootsig => $1, size => $2, index => $3, leaf => $4, root => $5,
             proof => $6);
    ($b{alg}) = $in =~ /;alg="([^"]*)"/;
    return \%b;
}

# $n requests at once on plain connections; the raw answers
sub burst {
    my ($n) = @_;
    my @socks = map {
        IO::Socket::INET->new(PeerAddr => "127.0.0.1:$H", Timeout => 30)
            or die "connect: $!";
    } 1 .. $n;
    print $_ request_text('localhost') for @socks;
    return map { read_all($_) } @socks;
}

# ---- the splicing proxy: the client's request goes to nginx with
# companions on connections opened beforehand, so that all land in one
# batch; the answer is then tampered with per the mode file.

my $proxy_pid;

sub set_mode { write_file("$dir/mode", $_[0]) }

sub tamper {
    my ($mode, $raw, @comp) = @_;
    my ($head, $rbody) = split /\r\n\r\n/, $raw, 2;
    my $mine = batch_of($raw) or return $raw;
    my ($other) = grep { $_->{root} eq $mine->{root} && $_->{index} != $mine->{index} }
                  map { batch_of($_) } @comp;
    if ($mode eq 'move_proof' && $other) {
        # the index and proof of another answer of the same batch
        $head =~ s/;index=\d+;/;index=$other->{index};/;
        $head =~ s/;proof=:[^:]*:/;proof=:$other->{proof}:/;
    } elsif ($mode eq 'splice_sig' && $other) {
        # the whole Signature of another answer of the batch
        for my $c (@comp) {
            my $b = batch_of($c);
            next unless $b && $b->{root} eq $mine->{root};
            my $s = header_value((split /\r\n\r\n/, $c, 2)[0], 'Signature');
            $head =~ s/^(Signature:).*$/$1 $s\r/mi;
            last;
        }
    } elsif ($mode eq 'body_redigest') {
        # a body byte changed, Content-Digest recomputed to match
        $rbody =~ s/"OK"/"OL"/;
        my $dg = 'sha-256=:' . encode_base64(sha256($rbody), '') . ':';
        $head =~ s/^(Content-Digest:).*$/$1 $dg\r/mi;
    } elsif ($mode eq 'other_batch') {
        # the root signature of an earlier batch
        my $old = read_file("$dir/earlier");
        my $ob = batch_of($old);
        $head =~ s/^(Signature: ovsa=:)[^:]*:/$1$ob->{rootsig}:/mi
            if $ob && $ob->{root} ne $mine->{root};
    } elsif ($mode eq 'short_proof') {
        $head =~ s/;proof=:[^:]*:/;proof=:AAAA:/;
    } elsif ($mode eq 'index_range') {
        $head =~ s/;index=\d+;/;index=$mine->{size};/;
    } elsif ($mode eq 'alg') {
        $head =~ s/alg="ovsa-batch-[^"]*"/alg="ovsa-batch-hmac-sha256"/;
    }
    return "$head\r\n\r\n$rbody";
}

sub proxy_serve {
    my ($client) = @_;
    my $data = '';
    while ($data !~ /\r\n\r\n/) {
        my $n = sysread($client, my $buf, 65536) or return;
        $data .= $buf;
    }
    my ($head, $rbody) = split /\r\n\r\n/, $data, 2;
    my ($len) = $head =~ /^content-length:\s*(\d+)/mi;
    while (length($rbody) < ($len || 0)) {
        my $n = sysread($client, my $buf, 65536) or last;
        $rbody .= $buf;
    }
    my $mode = -e "$dir/mode" ? read_file("$dir/mode") : 'pass';
    my $v1 = $head =~ m{^\S+ /v1/};
    $head =~ s/^Connection:.*\r?\n//mgi;
    $head .= "\r\nConnection: close";

    my @up = map {
        IO::Socket::SSL->new(PeerAddr => "127.0.0.1:$PORT",
                             SSL_verify_mode => SSL_VERIFY_NONE,
                             Timeout => 10) or return;
    } 0 .. ($v1 ? 4 : 0);
    print { $up[0] } "$head\r\n\r\n$rbody";
    print { $up[$_] } request_text("127.0.0.1:$PORT") for 1 .. $#up;
    my @raw = map { read_all($_) } @up;
    my $raw = shift @raw;

    if ($v1) {
        write_file("$dir/last", $raw);
        $raw = tamper($mode, $raw, @raw) if $mode ne 'pass';
    }
    $raw =~ s/^Connection:.*\r\n//mi;
    $raw =~ s/\r\n\r\n/\r\nConnection: close\r\n\r\n/;
    print $client $raw;
}

sub start_proxy {
    my $srv = IO::Socket::SSL->new(
        LocalAddr => "127.0.0.1:$PX", Listen => 16, ReuseAddr => 1,
        SSL_server => 1, SSL_cert_file => "$pki/chain-rsa.pem",
        SSL_key_file => "$pki/leaf-rsa.key",
    ) or die "proxy: $SSL_ERROR $!";
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        $SIG{PIPE} = 'IGNORE';
        while (1) {
            my $c = $srv->accept or next;
            eval { proxy_serve($c) };
            close $c;
        }
        _exit(0);
    }
    close $srv;
    $proxy_pid = $pid;
}

sub stop_proxy {
    return unless $proxy_pid;
    kill 'TERM', $proxy_pid;
    waitpid($proxy_pid, 0);
    undef $proxy_pid;
}
END { stop_proxy() }

sub ovsa_check {
    my ($port) = @_;
    my $out = qx{$check -url https://127.0.0.1:$port -root $pki/root.pem -id LIC-1 -json 2>&1};
    my $rc = $? >> 8;
    my $j = eval { decode_json($out) } || {};
    return ($rc, $j, $out);
}

# ---- (a) concurrent clients, verified by the SDK
start_nginx(conf(window => 50));
ok(worker_opened(), '(a) worker opened the key');
like(error_log(), qr/hardware key opened in worker \d+: .* \(batch signatures\)/,
     '(a) the worker says it batches');

{
    my $n = 8;
    my @pids;
    for my $i (1 .. $n) {
        my $pid = fork // die "fork: $!";
        if ($pid == 0) {
            my ($rc, $j) = ovsa_check($PORT);
            _exit($rc == 0 && ($j->{check} // '') eq 'OVSA_E_NONE' ? 0 : 1);
        }
        push @pids, $pid;
    }
    my $ok = 0;
    for (@pids) { waitpid($_, 0); $ok++ if $? == 0 }
    is($ok, $n, "(a) $n concurrent ovsa-check runs: every batch-signed "
       . 'answer verifies in the SDK');
}

{
    my @raw = burst(12);
    my @b = map { batch_of($_) } @raw;
    is(scalar(grep { defined } @b), 12, '(a) 12 concurrent answers carry a '
       . 'batch signature') or diag substr($raw[0], 0, 600);
    is(scalar(grep { $_ && $_->{alg} eq 'ovsa-batch-rsa-pss-sha512' } @b), 12,
       '(a) ... alg "ovsa-batch-rsa-pss-sha512"');
    my %roots;
    push @{ $roots{$_->{root}} }, $_ for grep { defined } @b;
    my ($max) = sort { $b <=> $a } map { scalar @$_ } values %roots;
    ok($max > 1, "(a) answers share a root: the largest batch holds $max "
       . 'answers') or diag join ' ', map { "$_->{size}/$_->{index}" } grep { defined } @b;
    my $consistent = 1;
    for my $set (values %roots) {
        my %idx = map { $_->{index} => 1 } @$set;
        $consistent = 0 if keys(%idx) != @$set;
        $consistent = 0 if grep { $_->{size} != $set->[0]{size}
                                  || $_->{rootsig} ne $set->[0]{rootsig} } @$set;
        $consistent = 0 if grep { $_->{index} >= $_->{size} } @$set;
    }
    ok($consistent, '(a) within a batch: one size, one root signature, '
       . 'distinct indexes below the size');
    note('(a) batch sizes seen: ' . join(' ', map { $_->[0]{size} } values %roots));
}

# ---- (b) tampering on real answers of one batch
start_proxy();
set_mode('pass');
{
    my ($rc, $j, $o) = ovsa_check($PX);
    is("$rc " . ($j->{check} // ''), '0 OVSA_E_NONE',
       '(b) through the proxy, untouched: verified') or diag $o;
    my $b = batch_of(read_file("$dir/last"));
    ok($b && $b->{size} >= 2, '(b) ... the answer was in a batch of '
       . ($b ? $b->{size} : '?') . ' with the companions');
    write_file("$dir/earlier", read_file("$dir/last"));
}
sleep 0.1;   # a later batch

for my $case (
    [ 'move_proof',    'index and proof of another answer of the batch',
      'OVSA_E_BATCH_ROOT' ],
    [ 'splice_sig',    'Signature of another answer of the batch',
      'OVSA_E_BATCH_LEAF' ],
    [ 'body_redigest', 'a body byte altered, Content-Digest recomputed',
      'OVSA_E_BATCH_LEAF' ],
    [ 'other_batch',   'the root signature of another batch',
      'OVSA_E_BATCH_SIG' ],
    [ 'short_proof',   'a proof of the wrong length',  'OVSA_E_BATCH_PROOF' ],
    [ 'index_range',   'an index out of the tree size', 'OVSA_E_BATCH_PROOF' ],
    [ 'alg',           'an unknown batch alg',          'OVSA_E_BATCH_ALG' ],
) {
    my ($mode, $what, $code) = @$case;
    set_mode($mode);
    my ($rc, $j, $o) = ovsa_check($PX);
    is($j->{check}, $code, "(b) $what: $code") or diag $o;
    is($rc, 3, "(b) $what: exit status 3 (unverified)");
}
set_mode('pass');
stop_proxy();
unlike(error_log(), qr/\[(alert|crit|emerg)\]/, '(a, b) no alert in the log');
stop_nginx();

# ---- (c) batch_max, and the token at 100 ms per signature
{
    local $ENV{OVSA_P11_DELAY_TARGET} = $module;
    local $ENV{OVSA_P11_DELAY_MS} = 100;

    start_nginx(conf(window => 20, max => 4, delay => 1));
    ok(worker_opened(), '(c) worker opened the key (batch_max 4)');
    my @b = map { batch_of($_) } burst(10);
    is(scalar(grep { defined } @b), 10, '(c) 10 answers, batch-signed');
    is(scalar(grep { $_ && $_->{size} > 4 } @b), 0,
       '(c) no batch above batch_max 4');
    ok(scalar(grep { $_ && $_->{size} > 1 } @b) > 0,
       '(c) ... and batches of more than one');
    stop_nginx();

    start_nginx(conf(window => 100, queue_max => 256, delay => 1));
    ok(worker_opened(), '(c) worker opened the key (100 ms token)');
    my $t0 = time;
    my @raw = burst(40);
    my $secs = time - $t0;
    @b = map { batch_of($_) } @raw;
    my %roots = map { $_->{root} => 1 } grep { defined } @b;
    is(scalar(grep { defined } @b), 40, '(c) 40 concurrent requests on a '
       . '100 ms token: all batch-signed');
    ok($secs < 2, sprintf('(c) ... in %.2f s with %d token signatures '
       . '(unbatched: 40 x 100 ms = 4 s)', $secs, scalar keys %roots));
    unlike(error_log(), qr/hardware key lost|stuck in the hardware key/,
           '(c) the key was not declared lost');
    stop_nginx();
}

# ---- (d) batching off: the standard per-answer signature
start_nginx(conf());
ok(worker_opened(), '(d) worker opened the key, batching off');
{
    my ($raw) = burst(1);
    my ($head) = split /\r\n\r\n/, $raw, 2;
    like(header_value($head, 'Signature-Input') // '',
         qr/;alg="rsa-pss-sha512";/, '(d) alg "rsa-pss-sha512"');
    like(header_value($head, 'Signature') // '', qr/^ovsa=:[^:;]+:$/,
         '(d) a plain Signature, no batch parameters');
    my ($rc, $j, $o) = ovsa_check($PORT);
    is("$rc " . ($j->{check} // ''), '0 OVSA_E_NONE',
       '(d) ovsa-check verifies it') or diag $o;
}
stop_nginx();

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

# ---- (e) the queue bound holds with batching
{
    local $ENV{OVSA_P11_DELAY_TARGET} = $module;
    local $ENV{OVSA_P11_DELAY_MS} = 300;
    start_nginx(conf(window => 50, queue_max => 6, delay => 1));
    ok(worker_opened(), '(e) worker opened the key (queue_max 6)');
    my @raw = burst(20);
    my $signed = grep { batch_of($_) } @raw;
    my $busy = grep { m{^HTTP/1\.1 503 } && /^Retry-After: 1\r?$/mi
                      && !/^Signature/mi && /"code":"SIGNER_BUSY"/ } @raw;
    is($signed + $busy, 20, "(e) 20 requests: $signed batch-signed, $busy "
       . 'SIGNER_BUSY, nothing else');
    ok($signed >= 6 && $busy > 0, '(e) at least queue_max signed, the '
       . 'overflow unsigned 503 SIGNER_BUSY');
    is(master_exit(1), undef, '(e) nginx keeps running');
    unlike(error_log(), qr/hardware key lost/, '(e) the key is not lost');
    stop_nginx();
}

# ---- (f) a hanging token is still a lost key with batching
{
    local $ENV{OVSA_P11_DELAY_TARGET} = $module;
    local $ENV{OVSA_P11_DELAY_MS} = 1500;
    start_nginx(conf(window => 20, timeout => 1000, delay => 1));
    ok(worker_opened(), '(f) worker opened the key');
    my @raw = burst(4);
    is(scalar(grep { m{^HTTP/1\.1 503 } && !/^Signature/mi
                     && !/SIGNER_BUSY/ } @raw), 4,
       '(f) every held answer: unsigned 503');
    is(master_exit(20), 3, '(f) the master exits with status 3');
    like(error_log(), qr/hardware key lost \(OVSA_E_P11_TIMEOUT: the token did not answer a signature in 1000 ms\)/,
         '(f) lost with OVSA_E_P11_TIMEOUT') or diag error_log();
}

done_testing();
