# 101-dropin-errors.t: the shipped drop-in (conf.d/ovsa-license-server.conf,
# run by scripts/demo.sh) answers every error nginx makes itself as signed
# JSON with a stable code (docs/protocol.md, "Answers nginx writes"):
# each status provoked for real over TLS, each answer's signature checked
# with openssl against the served leaf; the SDK reads a signed
# BACKEND_UNAVAILABLE as "try again" (OVSA_E_TRANSPORT, exit 4).
use strict;
use warnings;
use File::Basename qw(dirname);
use lib dirname(__FILE__) . '/lib';
use Test::More;
use JSON::PP;
use Time::HiRes qw(time sleep);
use OvsaDropin;

my $base = $ENV{OVSA_TEST_PORT_BASE} || 19800;
my $PORT = $base + 190;
my $t = OvsaDropin->new(port => $PORT, admin_port => $base + 191);
my $HOST = "localhost:$PORT";

my ($rc, $out) = $t->demo('up');
is($rc, 0, 'demo.sh up with the drop-in') or BAIL_OUT($out);

END { $t->demo('down') if $t }

my $seq = 0;

# One answer checked: status, JSON code, signed over (nonce, method,
# target[, digest]).
sub expect {
    my ($name, $r, $status, $code, %q) = @_;
    ok($r, "$name: answered") or return;
    is($r->{status}, $status, "$name: status $status")
        or diag($r->{head});
    like($r->{headers}{'content-type'} // '', qr{^application/json},
         "$name: JSON");
    my $j = eval { decode_json($r->{body}) } || {};
    is($j->{code}, $code, "$name: code $code") or diag($r->{body});
    is($j->{verdict}, 'error', "$name: verdict error");
    like($j->{server_time} // '', qr/^\d{10}$/, "$name: server_time");
    my $v = $t->verify($r, %q);
    ok($v->{ok}, "$name: signed (verified with openssl)")
        or diag("$v->{why}\n" . ($v->{base} // ''));
}

sub nonce { 'n' . ++$seq . 'x' . $$ }

# ---- before a location is chosen: the module signs what it can know

{
    my $n = nonce();
    my $body = '{"license_id":"DEMO-0001"}';
    my $dg = OvsaDropin::digest_of($body);
    my $r = $t->raw("POST /v1/check HTTP/1.1\r\nHost: $HOST\r\n"
        . "OVSA-Nonce: $n\r\nContent-Digest: $dg\r\n"
        . "Content-Length: " . length($body) . "\r\n"
        . "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
    expect('400 Content-Length with Transfer-Encoding', $r, 400,
           'BAD_REQUEST', nonce => $n, method => 'POST',
           target => "https://$HOST/v1/check", digest => $dg);
}
{
    my $r = $t->raw("GET\x01 /v1/check HTTP/1.1\r\n\r\n");
    expect('400 malformed request line (nothing read: "" nonce, method, '
           . 'host)', $r, 400, 'BAD_REQUEST', nonce => '', method => '',
           target => 'https://');
}
{
    my $n = nonce();
    my $r = $t->raw("POST /v1/check HTTP/1.1\r\nHost: $HOST\r\n"
        . "OVSA-Nonce: $n\r\nTransfer-Encoding: gzip\r\n\r\n");
    expect('501 unknown Transfer-Encoding', $r, 501, 'NOT_IMPLEMENTED',
           nonce => $n, method => 'POST',
           target => "https://$HOST/v1/check");
}
{
    my $r = $t->raw('GET /' . ('a' x 9000) . " HTTP/1.1\r\nHost: $HOST\r\n\r\n");
    expect('414 URI too long', $r, 414, 'URI_TOO_LONG', nonce => '',
           method => 'GET', target => 'https://');
}
{
    my $n = nonce();
    my $r = $t->raw("GET /v1/check HTTP/1.1\r\nHost: $HOST\r\n"
        . "OVSA-Nonce: $n\r\nX-Big: " . ('b' x 9000) . "\r\n\r\n");
    expect('494 header too large (sent as 400)', $r, 400,
           'HEADER_TOO_LARGE', nonce => $n, method => 'GET',
           target => "https://$HOST/v1/check");
}

# ---- in a location

{
    my $n = nonce();
    my $r = $t->raw("GET /nothing/here HTTP/1.1\r\nHost: $HOST\r\n"
        . "OVSA-Nonce: $n\r\n\r\n");
    expect('404 outside /v1/', $r, 404, 'NOT_FOUND', nonce => $n,
           method => 'GET', target => "https://$HOST/nothing/here");
}
{
    my $r = $t->raw("GET /nothing/here HTTP/1.1\r\nHost: $HOST\r\n\r\n");
    expect('404 without a nonce: "" nonce, its own code', $r, 404,
           'NOT_FOUND', nonce => '', method => 'GET',
           target => "https://$HOST/nothing/here");
}
{
    my $n = nonce();
    my $r = $t->raw("GET /.ovsa-error/500 HTTP/1.1\r\nHost: $HOST\r\n"
        . "OVSA-Nonce: $n\r\n\r\n");
    expect('the error locations are internal', $r, 404, 'NOT_FOUND',
           nonce => $n, method => 'GET',
           target => "https://$HOST/.ovsa-error/500");
}
{
    my $n = nonce();
    my $r = $t->raw("POST /.well-known/ovsa/chain HTTP/1.1\r\n"
        . "Host: $HOST\r\nOVSA-Nonce: $n\r\nContent-Length: 0\r\n\r\n");
    expect('405 POST to the signing chain', $r, 405, 'METHOD_NOT_ALLOWED',
           nonce => $n, method => 'POST',
           target => "https://$HOST/.well-known/ovsa/chain");
}
{
    my $n = nonce();
    my $dg = OvsaDropin::digest_of('x');
    my $s = $t->connect_tls;
    print $s "POST /v1/check HTTP/1.1\r\nHost: $HOST\r\nOVSA-Nonce: $n\r\n"
        . "Content-Digest: $dg\r\nContent-Length: 10485760\r\n\r\n";
    # the first 256 kB of the 10 MB body; nginx answers on the length
    local $SIG{PIPE} = 'IGNORE';
    print $s ('z' x 65536) for 1 .. 4;
    my $r = OvsaDropin::read_answer($s);
    close $s;
    expect('413 a 10 MB body', $r, 413, 'BODY_TOO_LARGE', nonce => $n,
           method => 'POST', target => "https://$HOST/v1/check",
           digest => $dg);
}

# a real 500 made by nginx: a body larger than client_body_buffer_size
# goes to a temp file, and the client_body temp path is made a regular
# file (a test run as root would ignore permissions, not that), so nginx
# cannot create it
{
    my $tp = $t->dir . '/nginx/tmp/client_body';
    rename($tp, "$tp.away") or die "rename $tp: $!";
    open(my $fh, '>', $tp) or die "create $tp: $!";
    close $fh;
    my $n = nonce();
    my $body = '{"license_id":"DEMO-0001","pad":"' . ('p' x 40000) . '"}';
    my $dg = OvsaDropin::digest_of($body);
    my $r = $t->raw("POST /v1/check HTTP/1.1\r\nHost: $HOST\r\n"
        . "OVSA-Nonce: $n\r\nContent-Digest: $dg\r\n"
        . "Content-Type: application/json\r\n"
        . "Content-Length: " . length($body) . "\r\n\r\n$body");
    expect('500 nginx cannot buffer the body', $r, 500, 'INTERNAL',
           nonce => $n, method => 'POST', target => "https://$HOST/v1/check",
           digest => $dg);
    unlink $tp;
    rename("$tp.away", $tp) or die "rename back $tp: $!";
    my $log = do { local (@ARGV, $/) = ($t->dir . '/nginx/logs/error.log'); <> };
    # the worker (not root) meets a component that is no directory
    like($log, qr{\[crit\].*client_body/\d+"\x20failed\x20
                  \((?:13:\ Permission\ denied|20:\ Not\ a\ directory)\)}x,
         '500: nginx logged why') or diag(substr($log // '', -600));
}

# the module's own refusals keep their codes: error_page 400 of the
# server does not take them over
{
    my $body = '{"license_id":"DEMO-0001"}';
    my $r = $t->raw("POST /v1/check HTTP/1.1\r\nHost: $HOST\r\n"
        . "Content-Length: " . length($body) . "\r\n\r\n$body");
    expect('no nonce: NONCE_REQUIRED', $r, 400, 'NONCE_REQUIRED',
           nonce => '', method => 'POST',
           target => "https://$HOST/v1/check");
    my $n = nonce();
    $r = $t->raw("POST /v1/check HTTP/1.1\r\nHost: $HOST\r\n"
        . "OVSA-Nonce: $n\r\nContent-Length: " . length($body)
        . "\r\n\r\n$body");
    expect('a body without Content-Digest: DIGEST_REQUIRED', $r, 400,
           'DIGEST_REQUIRED', nonce => $n, method => 'POST',
           target => "https://$HOST/v1/check");
}

# ---- 429: limit_req per address, from 127.0.0.3 (pipelined requests)
{
    my $s = $t->connect_tls('127.0.0.3');
    my @n = map { nonce() } 1 .. 160;
    print $s join('', map { "GET /v1/check HTTP/1.1\r\nHost: $HOST\r\n"
                            . "OVSA-Nonce: $_\r\n\r\n" } @n);
    my (%st, $limited, $ln);
    # GET /v1/check: through preaccess (limit_req) to the backend's 405
    for my $i (0 .. $#n) {
        my $r = OvsaDropin::read_answer($s) or last;
        $st{$r->{status}}++;
        ($limited, $ln) = ($r, $n[$i]) if $r->{status} == 429 && !$limited;
    }
    close $s;
    ok($st{405} && $st{429}, "160 requests at once: the backend's 405, "
       . "then 429 (405: " . ($st{405} // 0) . ", 429: "
       . ($st{429} // 0) . ")");
    expect('429 limit_req', $limited, 429, 'RATE_LIMITED', nonce => $ln,
           method => 'GET', target => "https://$HOST/v1/check");
    is($limited->{headers}{'retry-after'}, 1, '429: Retry-After: 1');
    my ($crc, $cout) = $t->check;
    is($crc, 0, 'another address is not limited: the check verifies')
        or diag($cout);
}

# ---- the backend: stalled (504), then gone (502); a slow header (408)
{
    my $slow = $t->connect_tls;
    print $slow "GET /v1/check HTTP/1.1\r\n";
    my $bpid = $t->pid_of('backend');
    ok($bpid && kill('STOP', $bpid), 'backend stopped (SIGSTOP)');
    my $n = nonce();
    my $body = '{"license_id":"DEMO-0001"}';
    my $dg = OvsaDropin::digest_of($body);
    my $t0 = time;
    my $r = $t->raw("POST /v1/check HTTP/1.1\r\nHost: $HOST\r\n"
        . "OVSA-Nonce: $n\r\nContent-Digest: $dg\r\nContent-Length: "
        . length($body) . "\r\n\r\n$body");
    my $secs = time - $t0;
    kill 'CONT', $bpid;
    expect(sprintf('504 backend stalled (answered after %.1f s)', $secs),
           $r, 504, 'BACKEND_TIMEOUT', nonce => $n, method => 'POST',
           target => "https://$HOST/v1/check", digest => $dg);

    # nginx sends no 408: client_header_timeout closes the connection
    # (reset_timedout_connection: with a RST)
    my $buf = '';
    my $got = sysread($slow, $buf, 4096);
    ok(!$got && $buf eq '', '408: a header not sent within '
       . 'client_header_timeout: closed without an answer')
        or diag("read: " . ($got // 'undef') . " $buf");
    close $slow;

    kill 'TERM', $bpid;
    for (1 .. 50) { last unless kill 0, $bpid; sleep 0.1 }
    ok(!kill(0, $bpid), 'backend gone');
    $n = nonce();
    $r = $t->raw("POST /v1/check HTTP/1.1\r\nHost: $HOST\r\n"
        . "OVSA-Nonce: $n\r\nContent-Digest: $dg\r\nContent-Length: "
        . length($body) . "\r\n\r\n$body");
    expect('502 backend down', $r, 502, 'BACKEND_UNAVAILABLE', nonce => $n,
           method => 'POST', target => "https://$HOST/v1/check",
           digest => $dg);
    is($r->{headers}{'retry-after'}, 1, '502: Retry-After: 1');

    my ($crc, $cout) = $t->check;
    is($crc, 4, 'SDK: backend down is "unreachable" (exit 4), not a '
       . 'protocol error') or diag($cout);
    like($cout, qr/signed 502 BACKEND_UNAVAILABLE \(not a verdict; try again\)/,
         'SDK: the signed BACKEND_UNAVAILABLE is read as "try again"')
        or diag($cout);
}

($rc, $out) = $t->demo('down');
is($rc, 0, 'demo.sh down');
undef $t;

done_testing();
