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

done_testing;
