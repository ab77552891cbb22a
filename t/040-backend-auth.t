# 038-backend-auth.t: who may use a license (issue 14), against a real
# redis-server and a real backend: the license secret, machine keys and
# request signatures, the deactivation policy.  Every refusal has its own
# code and leaves Redis byte-identical.  docs/protocol.md "Threat model"
# names these tests.
use strict;
use warnings;
use File::Basename qw(dirname);
use lib dirname(__FILE__) . '/lib';
use Test::More;
use IO::Socket::INET;
use Time::HiRes qw(time sleep);
use Digest::SHA qw(sha256_hex);
use OvsaBackend;

my $t = OvsaBackend->new(offset => 80);
$t->start_redis;
my $b = $t->start_backend(name => 'b1');
my $d = $t->dir;
my $BIN = $OvsaBackend::BIN;
my $SECRET = $OvsaBackend::SECRET;
my $JSON = $OvsaBackend::JSON;

my %lic = (
    P1 => { type => 'perpetual' },
    U1 => { type => 'usage-count', limits => { usage => 3 } },
    N1 => { type => 'node-locked',
            limits => { max_activations => 2, deactivations => 2,
                        deactivation_period => 3600 } },
    F1 => { type => 'floating', limits => { seats => 2,
                                            lease_seconds => 60 } },
);
$t->import_ok($b, $t->license(license_id => $_, %{ $lic{$_} }))
    for sort keys %lic;

# machine keys A, B, C...: Ed25519 files made with openssl
my %key;
sub mkey {
    my ($n) = @_;
    return $key{$n} if $key{$n};
    my $f = "$d/machine-$n.pem";
    system("openssl genpkey -algorithm ED25519 -out $f 2>/dev/null") == 0
        or die "genpkey";
    chmod 0600, $f;
    return $key{$n} = $f;
}
sub pub { my $p = `$BIN/test/backend-req -pub $_[0]`; chomp $p; $p }

my $nseq = 0;

# One public request.  %o: secret (default the license secret; '' none),
# auth (raw Authorization value), key (machine key file: machine_key and
# a request signature), sign_key (sign with this key instead), sign_path
# (sign another path), created (signature time, default now), no_sig
# (machine_key without a signature).
sub req {
    my ($path, $body, %o) = @_;
    my %h = ('Content-Type' => 'application/json',
             'OVSA-Nonce' => 'n' . ++$nseq . 'x' . $$);
    my $secret = exists $o{secret} ? $o{secret} : $SECRET;
    $h{Authorization} = "License $secret" if length $secret;
    $h{Authorization} = $o{auth} if defined $o{auth};
    $body = { %$body, machine_key => pub($o{key}) } if $o{key};
    # spending operations need a request id (the SDK always sends one)
    $body = { request_id => OvsaBackend::request_id(), %$body }
        if $path =~ m{^/v1/(check|lease/checkout)$};
    my $text = $JSON->encode($body);
    my $sk = $o{sign_key} || $o{key};
    my $sp = $o{sign_path} || $path;
    my $created = $o{created} || time;
    open my $fh, '>', "$d/body" or die;
    print $fh $text;
    close $fh;
    my @out = `$BIN/test/backend-req ${\ ($sk || mkey('Z'))} POST $sp $h{'OVSA-Nonce'} $created < $d/body`;
    die "backend-req failed" if $?;
    chomp @out;
    $h{'Content-Digest'} = $out[0];
    if ($o{key} && !$o{no_sig}) {
        $h{'Signature-Input'} = $out[1];
        $h{Signature} = $out[2];
    }
    my $r = $t->request($b->{port}, 'POST', $path, $text, \%h);
    my $ans = eval { $JSON->decode($r->{content}) } || {};
    return ($r->{status}, $ans, $r);
}

# A refused request: status, code, and Redis unchanged.
sub refused {
    my ($name, $status, $code, $path, $body, %o) = @_;
    my $before = $t->snapshot;
    my ($st, $ans, $r) = req($path, $body, %o);
    subtest $name => sub {
        is($st, $status, "HTTP $status") or diag $r->{content};
        is($ans->{code}, $code, "code $code");
        is_deeply($t->snapshot, $before, 'Redis unchanged');
    };
    return $ans;
}

sub ok_req {
    my ($name, $path, $body, %o) = @_;
    my ($st, $ans, $r) = req($path, $body, %o);
    is($st, 200, $name) or diag $r->{content};
    return $ans;
}

# ---- proof of the license
refused('check with the id alone', 401, 'LICENSE_PROOF_REQUIRED',
        '/v1/check', { license_id => 'P1' }, secret => '');
refused('usage spend with the id alone', 401, 'LICENSE_PROOF_REQUIRED',
        '/v1/check', { license_id => 'U1' }, secret => '');
refused('activation with the id alone', 401, 'LICENSE_PROOF_REQUIRED',
        '/v1/activate', { license_id => 'N1', hwid => 'h1' }, secret => '',
        key => mkey('A'));
refused('checkout with the id alone', 401, 'LICENSE_PROOF_REQUIRED',
        '/v1/lease/checkout', { license_id => 'F1', client_id => 'c' },
        secret => '', key => mkey('A'));
my $wrong = 'A' x 43;
refused('check with a wrong secret', 403, 'LICENSE_PROOF_INVALID',
        '/v1/check', { license_id => 'P1' }, secret => $wrong);
refused('usage spend with a wrong secret', 403, 'LICENSE_PROOF_INVALID',
        '/v1/check', { license_id => 'U1' }, secret => $wrong);
my $a = refused('a bearer token is not a license secret', 400, 'BAD_FIELD',
        '/v1/check', { license_id => 'P1' }, auth => "Bearer $SECRET");
is($a->{field}, 'Authorization', 'field Authorization');
unlike($JSON->encode($a), qr/\Q$SECRET\E/, 'the secret is not echoed');
refused('a secret of the wrong length', 400, 'BAD_FIELD',
        '/v1/check', { license_id => 'P1' }, secret => 'abc');
refused('unknown license: 404 before any proof', 404, 'UNKNOWN_LICENSE',
        '/v1/check', { license_id => 'NOPE' });
$a = ok_req('check with the secret', '/v1/check', { license_id => 'P1' });
is($a->{code}, 'OK', 'valid');
$a = ok_req('usage spend with the secret', '/v1/check',
            { license_id => 'U1' });
is($a->{usage_remaining}, 2, 'one use spent');

# a record without any protection (imported before licenses needed one)
$t->redis('HSET', $t->key('lic', 'P1'), 'secret', '');
refused('a license record without protection serves nobody', 403,
        'LICENSE_UNPROTECTED', '/v1/check', { license_id => 'P1' });
$t->redis('HSET', $t->key('lic', 'P1'), 'secret', sha256_hex($SECRET));

# ---- machine keys: node-locked
refused('activation without a machine key', 401, 'MACHINE_PROOF_REQUIRED',
        '/v1/activate', { license_id => 'N1', hwid => 'h1' });
refused('machine_key without a signature', 401, 'MACHINE_PROOF_REQUIRED',
        '/v1/activate', { license_id => 'N1', hwid => 'h1' },
        key => mkey('A'), no_sig => 1);
$a = refused('signed by another key than machine_key', 401,
        'MACHINE_SIGNATURE_INVALID', '/v1/activate',
        { license_id => 'N1', hwid => 'h1' }, key => mkey('A'),
        sign_key => mkey('B'));
like($a->{message}, qr/OVSA_E_SIG_KEYID|OVSA_E_SIG_INVALID/,
     'the message names the failed check');
$a = refused('a signature made for another path', 401,
        'MACHINE_SIGNATURE_INVALID', '/v1/activate',
        { license_id => 'N1', hwid => 'h1' }, key => mkey('A'),
        sign_path => '/v1/deactivate');
like($a->{message}, qr/OVSA_E_SIG_INVALID/, 'signature invalid');
$a = refused('a signature made 10 minutes ago', 401,
        'MACHINE_SIGNATURE_INVALID', '/v1/activate',
        { license_id => 'N1', hwid => 'h1' }, key => mkey('A'),
        created => time - 600);
like($a->{message}, qr/OVSA_E_SIG_EXPIRED/, 'too old');
$a = refused('a machine_key that is not a key', 400, 'BAD_FIELD',
        '/v1/activate', { license_id => 'N1', hwid => 'h1',
                          machine_key => 'bm90IGEga2V5' });
is($a->{field}, 'machine_key', 'field machine_key');

$a = ok_req('activation with machine key A', '/v1/activate',
            { license_id => 'N1', hwid => 'h1' }, key => mkey('A'));
is($a->{activations}, 1, 'one activation');
ok_req('activating again with A is idempotent', '/v1/activate',
       { license_id => 'N1', hwid => 'h1' }, key => mkey('A'));
refused('the same hwid from machine key B', 403, 'MACHINE_KEY_MISMATCH',
        '/v1/activate', { license_id => 'N1', hwid => 'h1' },
        key => mkey('B'));
refused('check of h1 without the machine key', 401,
        'MACHINE_PROOF_REQUIRED', '/v1/check',
        { license_id => 'N1', hwid => 'h1' });
refused('check of h1 from machine key B', 403, 'MACHINE_KEY_MISMATCH',
        '/v1/check', { license_id => 'N1', hwid => 'h1' },
        key => mkey('B'));
refused('deactivation of h1 from machine key B', 403,
        'MACHINE_KEY_MISMATCH', '/v1/deactivate',
        { license_id => 'N1', hwid => 'h1' }, key => mkey('B'));
refused('check of h1 with A but without the secret', 401,
        'LICENSE_PROOF_REQUIRED', '/v1/check',
        { license_id => 'N1', hwid => 'h1' }, key => mkey('A'),
        secret => '');
$a = ok_req('check of h1 from A', '/v1/check',
            { license_id => 'N1', hwid => 'h1' }, key => mkey('A'));
ok($a->{valid_until} <= $a->{server_time} + 600,
   'valid_until at most sync_interval after the answer');

my ($st, $show) = $t->admin($b, 'GET', '/admin/v1/licenses/N1');
my $kid = `openssl pkey -in ${\ mkey('A')} -pubout -outform DER 2>/dev/null | openssl dgst -sha256 -binary | base64 | tr '+/' '-_' | tr -d '=\n'`;
is($show->{activations}[0]{machine_key}, $kid,
   'admin show: the activation records the machine key id');

# ---- deactivation policy: 2 per hour; cycling one slot stops there
ok_req('deactivation 1 of h1 from A', '/v1/deactivate',
       { license_id => 'N1', hwid => 'h1' }, key => mkey('A'));
ok_req('activation of h2 from B', '/v1/activate',
       { license_id => 'N1', hwid => 'h2' }, key => mkey('B'));
ok_req('deactivation 2 of h2 from B', '/v1/deactivate',
       { license_id => 'N1', hwid => 'h2' }, key => mkey('B'));
ok_req('activation of h3 from C', '/v1/activate',
       { license_id => 'N1', hwid => 'h3' }, key => mkey('C'));
$a = refused('deactivation 3 within the hour', 409, 'DEACTIVATION_LIMIT',
        '/v1/deactivate', { license_id => 'N1', hwid => 'h3' },
        key => mkey('C'));
is($a->{max_deactivations}, 2, 'max_deactivations');
ok($a->{retry_at} > time + 3500 && $a->{retry_at} <= time + 3601,
   'retry_at: when the first deactivation leaves the period');
($st) = $t->admin($b, 'POST', '/admin/v1/licenses/N1/deactivate',
                  { hwid => 'h3' });
is($st, 200, 'an admin may still deactivate');
ok_req('the slot is free again', '/v1/activate',
       { license_id => 'N1', hwid => 'h4' }, key => mkey('D'));

# ---- machine keys: floating
refused('checkout without a machine key', 401, 'MACHINE_PROOF_REQUIRED',
        '/v1/lease/checkout', { license_id => 'F1', client_id => 'c1' });
$a = ok_req('checkout from A', '/v1/lease/checkout',
            { license_id => 'F1', client_id => 'c1' }, key => mkey('A'));
my $lease = $a->{lease_id};
for my $op (qw(heartbeat checkin)) {
    refused("$op of A's lease from B", 403, 'MACHINE_KEY_MISMATCH',
            "/v1/lease/$op", { license_id => 'F1', lease_id => $lease },
            key => mkey('B'));
    refused("$op of A's lease without a machine key", 401,
            'MACHINE_PROOF_REQUIRED', "/v1/lease/$op",
            { license_id => 'F1', lease_id => $lease });
}
refused("check of A's lease from B", 403, 'MACHINE_KEY_MISMATCH',
        '/v1/check', { license_id => 'F1', lease_id => $lease },
        key => mkey('B'));
ok_req('check from A', '/v1/check',
       { license_id => 'F1', lease_id => $lease }, key => mkey('A'));
ok_req('heartbeat from A', '/v1/lease/heartbeat',
       { license_id => 'F1', lease_id => $lease }, key => mkey('A'));
ok_req('checkin from A', '/v1/lease/checkin',
       { license_id => 'F1', lease_id => $lease }, key => mkey('A'));

# a checkout retried with its request id holds one seat, not two
$a = ok_req('checkout with a request id', '/v1/lease/checkout',
            { license_id => 'F1', client_id => 'c2', request_id => 'r-1' },
            key => mkey('A'));
my ($l1, $used) = ($a->{lease_id}, $a->{seats_used});
ok(!$a->{replayed}, 'a new lease');
$a = ok_req('the same checkout again', '/v1/lease/checkout',
            { license_id => 'F1', client_id => 'c2', request_id => 'r-1' },
            key => mkey('A'));
is($a->{lease_id}, $l1, 'the same lease');
ok($a->{replayed}, 'answered as replayed');
is($a->{seats_used}, $used, 'no second seat');
$a = ok_req('the same request id from machine B', '/v1/lease/checkout',
            { license_id => 'F1', client_id => 'c3', request_id => 'r-1' },
            key => mkey('B'));
isnt($a->{lease_id}, $l1, "B does not get A's lease");
ok(!$a->{replayed}, '... a lease of its own');

# ---- admin hygiene (issue 16): wrong bearer tokens throttled per source
# address, compared by fixed-size hashes; repeated log lines counted

# one admin request from source address $src; (status, answer, response)
sub admin_from {
    my ($src, $token) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$b->{admin_port}",
                                  LocalAddr => $src, Timeout => 10)
        or die "connect from $src: $!";
    print $s "GET /admin/v1/licenses HTTP/1.1\r\nHost: x\r\n"
        . "Authorization: Bearer $token\r\nConnection: close\r\n\r\n";
    my $r = OvsaBackend::read_response($s);
    close $s;
    my $ans = eval { $JSON->decode($r->{content}) } || {};
    return ($r->{status}, $ans, $r);
}

{
    my $TOKEN = $OvsaBackend::TOKEN;
    my $log0 = -s $b->{log};
    my @st = map { (admin_from('127.0.0.2', "wrong-$_-0123456789abcdef"))[0] }
             1 .. 5;
    is("@st", '401 401 401 401 401', 'five wrong tokens from 127.0.0.2: 401');
    my ($st, $ans, $r) = admin_from('127.0.0.2', 'wrong-6-0123456789abcdef');
    is("$st $ans->{code}", '429 ADMIN_THROTTLED',
       'then 429 ADMIN_THROTTLED, the token not even compared');
    my $wait = $r->{headers}{'retry-after'} // 0;
    ok($wait >= 1 && $wait <= 5, "with Retry-After ($wait s)");
    ($st, $ans) = admin_from('127.0.0.2', $TOKEN);
    is("$st $ans->{code}", '429 ADMIN_THROTTLED',
       'the right token from the throttled source: still 429');
    ($st, $ans) = admin_from('127.0.0.3', $TOKEN);
    is("$st $ans->{code}", '200 OK',
       'the right token from another source is unaffected');
    ($st) = admin_from('127.0.0.3', 'wrong-0123456789abcdef');
    is($st, 401, 'a wrong token from that source: 401, not throttled');

    # many wrong tokens in the window: refused without a compare, and the
    # log stays short (one line each for the throttled requests would be
    # what a flood of 2,000 guesses wrote before)
    my %codes;
    $codes{ (admin_from('127.0.0.2', "guess-$_-0123456789abcdef"))[0] }++
        for 1 .. 200;
    is_deeply(\%codes, { 429 => 200 }, '200 more guesses: all 429');
    open my $fh, '<', $b->{log} or die;
    seek $fh, $log0, 0;
    my @lines = grep { /admin:/ } <$fh>;
    close $fh;
    ok(@lines <= 12, scalar(@lines) . ' admin log lines for 207 refusals')
        or diag(join '', @lines);
    unlike(join('', @lines), qr/wrong-|guess-|\Q$TOKEN\E/,
           'no token in the log');

    # after the window, five more wrong tokens in a row: a window twice
    # as long
    sleep $wait + 1;
    admin_from('127.0.0.2', "again-$_-0123456789abcdef") for 1 .. 5;
    ($st, $ans, $r) = admin_from('127.0.0.2', $TOKEN);
    is($st, 429, 'five more wrong tokens: throttled again');
    my $wait2 = $r->{headers}{'retry-after'} // 0;
    ok($wait2 > $wait, "a longer window: Retry-After $wait2");

    sleep $wait2 + 1;
    ($st, $ans) = admin_from('127.0.0.2', $TOKEN);
    is("$st $ans->{code}", '200 OK',
       'after Retry-After the right token from 127.0.0.2 works again');
}

# the token's length does not show in the time of a refusal: a 1-byte and
# a 4,000-byte token are each hashed once and compared as 32 bytes
# (backend/routes_admin.c); timing is not asserted, the code path is
# the one above for any length
{
    my ($st, $ans) = admin_from('127.0.0.4', 'x' x 4000);
    is($st, 401, 'a 4,000-byte token: 401');
    ($st, $ans) = admin_from('127.0.0.4', 'x');
    is($st, 401, 'a 1-byte token: 401');
}

# a Redis outage of 4 s with requests all the time: a handful of log lines
{
    my $log0 = -s $b->{log};
    $t->stop_redis;
    my $n = 0;
    my $end = time + 4;
    while (time < $end) {
        my ($st) = $t->api($b, '/v1/check', { license_id => 'P1' });
        $n++;
    }
    $t->start_redis;
    sleep 1;
    my ($st) = $t->api($b, '/v1/check', { license_id => 'P1' });
    open my $fh, '<', $b->{log} or die;
    seek $fh, $log0, 0;
    my @lines = <$fh>;
    close $fh;
    ok($n > 50, "$n requests during a 4 s Redis outage");
    ok(@lines <= 12, scalar(@lines) . " log lines for them (not $n)")
        or diag(join '', @lines);
}

# the counts are written: at the latest when the backend exits
$t->stop_backend($b);
{
    my $log = OvsaBackend::slurp($b->{log});
    like($log, qr/\(repeated \d+ more times in \d+ s\)/,
         'repeated lines are written once with their count');
}

done_testing;
