# 039-license-auth.t: only the license holder can use a license, end to
# end: ovsa-check (the SDK) through a real nginx (TLS, signed answers) and
# the real backend on Redis.  The id alone is refused with a signed
# answer; the secret file and the machine key in the state directory
# make the operations work; another machine's key is refused; a license
# mode without a trust anchor does not start; a usage spend retried with
# its request id spends once.  docs/protocol.md "Threat model" names
# these tests.
use strict;
use warnings;
use File::Basename qw(dirname);
use lib dirname(__FILE__) . '/lib';
BEGIN {
    $ENV{TEST_NGINX_PORT} ||= ($ENV{OVSA_TEST_PORT_BASE} || 27800) + 55;
}
use OvsaTest;
use OvsaBackend;
use OvsaRotation;
use OvsaScriptTest qw(slurp fresh_dir run_cmd file_mode);
use Test::More;
use File::Copy qw(copy);
use JSON::PP;

my $t = OvsaBackend->new(offset => 90);
$t->start_redis;
my $tmp = fresh_dir();
my $URL = "https://127.0.0.1:$PORT";

sub run_ok {
    my ($name, $r, $rc) = @_;
    is($r->{rc}, $rc // 0, $name) or diag("out: $r->{out}\nerr: $r->{err}");
    return $r;
}

my $conf = "$tmp/conf";
run_ok('gencert', inst('-d', $conf, 'gencert'));
my ($api, $admin) = ($t->port, $t->port);
write_yaml($conf, $t->{redis_port}, $admin, $api, 'c39:');
my $ks = "$tmp/isv";
run_ok('ISV keystore', ovsatool('keystore', '-out', $ks, '-alg', 'ec'));
copy("$ks/isv.crt", "$conf/isv.pem") or die;
start_backend_on($t, 'b39', $conf, $api, $admin);
start_nginx(nginx_front($conf, $api));
my $cert = "$conf/current/server-chain.pem";
my $root = "$conf/vendor-root.pem";

sub create {
    my ($id, $type, @o) = @_;
    run_ok("create $id", ovsatool('create', '-k', $ks, '-id', $id,
        '-product', 'Widget', '-customer', 'ACME', '-type', $type,
        '-server', $URL, '-server-cert', $cert, '-out', "$tmp/$id.lic",
        @o));
    run_ok("import $id", ovsactl('-c', "$conf/default.yaml", 'import',
                                 "$tmp/$id.lic"));
    return "$tmp/$id.lic";
}

my $P = create('P1', 'perpetual');
my $U = create('U1', 'usage-count', '-usage', 3);
my $N = create('N1', 'node-locked', '-max-activations', 1,
               '-deactivations', 1, '-deactivation-period', 3600);
my $F = create('F1', 'floating', '-seats', 2, '-lease-seconds', 60);
is(file_mode("$P.secret"), '0600', 'the secret file is 0600');

sub lic { check('-license', shift, '-isv', "$ks/isv.crt", @_) }
sub code_of { ($_[0]{out} =~ /"code"\s*:\s*"([A-Z_]+)"/)[0] // '' }

# ---- the id alone: a signed refusal (t/051 verifies one with the SDK)
sub curl_post {
    my ($path, $body, %h) = @_;
    my ($text, $x) = $t->holder_request($path, $body, %h);
    my $f = "$tmp/post.json";
    OvsaBackend::spew($f, $text);
    my $hdr = join ' ', map { "-H '$_: $x->{$_}'" } sort keys %$x;
    my $out = qx{curl -sk -D - -H 'Content-Type: application/json' -H 'OVSA-Nonce: n$$' $hdr --data-binary \@$f $URL$path};
    my ($head, $rbody) = split /\r\n\r\n/, $out, 2;
    return ($head // '', eval { decode_json($rbody) } || {});
}
for my $id (qw(P1 U1)) {
    my $before = $t->snapshot('c39:');
    my ($head, $a) = curl_post('/v1/check', { license_id => $id },
                               secret => '');
    like($head, qr{^HTTP/1\.1 401}, "$id: the id alone: 401");
    is($a->{code}, 'LICENSE_PROOF_REQUIRED', "$id: LICENSE_PROOF_REQUIRED");
    like($head, qr/\r\nSignature-Input: ovsa=\(.*"content-digest";req\)/,
         "$id: a signed answer covering the request's digest");
    is_deeply($t->snapshot('c39:'), $before, "$id: Redis unchanged");
}

# ---- license mode: the secret next to the license
my $r = run_ok('license mode finds LICENSE.secret', lic($P));
OvsaBackend::spew("$tmp/other.secret", ('B' x 42) . "A\n", 0600);
$r = run_ok('another secret is a local error before any request',
            lic($P, '-secret', "$tmp/other.secret"), 1);
like($r->{err}, qr/OVSA_E_LIC_SECRET_MISMATCH/, 'OVSA_E_LIC_SECRET_MISMATCH');
chmod 0640, "$P.secret";
$r = run_ok('a group-readable secret file is refused', lic($P), 1);
like($r->{err}, qr/OVSA_E_SECRET_MODE/, 'OVSA_E_SECRET_MODE');
chmod 0600, "$P.secret";

# ---- no trust anchor, and a forged license
$r = run_ok('license mode without -isv or -root does not start',
            check('-license', $P), 1);
like($r->{err}, qr/OVSA_E_NO_ANCHOR/, 'OVSA_E_NO_ANCHOR');
my $evil = "$tmp/evil";
run_ok('a forger\'s keystore', ovsatool('keystore', '-out', $evil));
run_ok('a forged license for the real server', ovsatool('create', '-k',
    $evil, '-id', 'P1', '-product', 'Widget', '-customer', 'ACME', '-type',
    'perpetual', '-server', $URL, '-server-cert', $cert, '-out',
    "$tmp/forged.lic"));
$r = run_ok('the forged license without an anchor: refused, no request',
            check('-license', "$tmp/forged.lic"), 1);
like($r->{err}, qr/OVSA_E_NO_ANCHOR/, 'OVSA_E_NO_ANCHOR');
$r = run_ok('the forged license with the ISV certificate: refused',
            lic("$tmp/forged.lic"), 1);
like($r->{err}, qr/OVSA_E_LIC_ISV/, 'OVSA_E_LIC_ISV');

# ---- node-locked: the machine key in the state directory
my ($s1, $s2) = ("$tmp/state1", "$tmp/state2");
$r = run_ok('a node-locked license needs a state directory',
            lic($N, '-op', 'activate', '-hwid', 'h1'), 1);
like($r->{err}, qr/state directory/, 'says so');
run_ok('activate h1 from machine 1',
       lic($N, '-state', $s1, '-op', 'activate', '-hwid', 'h1'));
is(file_mode("$s1/machine.key"), '0600', 'machine.key is 0600');
is(file_mode($s1), '0700', 'the state directory is 0700');
run_ok('check h1 from machine 1', lic($N, '-state', $s1, '-hwid', 'h1'));
$r = run_ok('check h1 from machine 2 (knows the id, secret and hwid)',
            lic($N, '-state', $s2, '-hwid', 'h1', '-json'), 5);
is(code_of($r), 'MACHINE_KEY_MISMATCH', 'MACHINE_KEY_MISMATCH');
$r = run_ok('deactivate h1 from machine 2',
            lic($N, '-state', $s2, '-op', 'deactivate', '-hwid', 'h1',
                '-json'), 5);
is(code_of($r), 'MACHINE_KEY_MISMATCH', 'MACHINE_KEY_MISMATCH');
run_ok('deactivate h1 from machine 1',
       lic($N, '-state', $s1, '-op', 'deactivate', '-hwid', 'h1'));
run_ok('activate h2 from machine 2',
       lic($N, '-state', $s2, '-op', 'activate', '-hwid', 'h2'));
$r = run_ok('a second deactivation within the hour is refused',
            lic($N, '-state', $s2, '-op', 'deactivate', '-hwid', 'h2',
                '-json'), 5);
is(code_of($r), 'DEACTIVATION_LIMIT', 'DEACTIVATION_LIMIT');

# ---- floating: the lease belongs to the machine that checked it out
$r = run_ok('checkout from machine 1',
            lic($F, '-state', $s1, '-op', 'checkout', '-client', 'c1',
                '-json'));
my ($lease) = $r->{out} =~ /"lease_id"\s*:\s*"([0-9a-f]{32})"/;
ok($lease, 'a lease id');
for my $op (qw(heartbeat checkin)) {
    $r = run_ok("$op of machine 1's lease from machine 2",
                lic($F, '-state', $s2, '-op', $op, '-lease', $lease,
                    '-json'), 5);
    is(code_of($r), 'MACHINE_KEY_MISMATCH', 'MACHINE_KEY_MISMATCH');
}
run_ok('heartbeat from machine 1',
       lic($F, '-state', $s1, '-op', 'heartbeat', '-lease', $lease));
run_ok('checkin from machine 1',
       lic($F, '-state', $s1, '-op', 'checkin', '-lease', $lease));

# ---- usage spends carry a request id; a retry spends nothing
$r = run_ok('a usage spend', lic($U, '-json'));
my ($rid) = $r->{out} =~ /"request_id"\s*:\s*"([0-9a-f]{32})"/;
ok($rid, 'the SDK sent a request id');
like($r->{out}, qr/"usage_remaining"\s*:\s*2/, 'one use spent');
$r = run_ok('the same request id again', lic($U, '-request-id', $rid,
                                             '-json'));
like($r->{out}, qr/"replayed"\s*:\s*true/, 'answered as replayed');
like($r->{out}, qr/"usage_remaining"\s*:\s*2/, 'nothing spent again');
$r = run_ok('a new spend', lic($U, '-json'));
like($r->{out}, qr/"usage_remaining"\s*:\s*1/, 'the next use');

done_testing;
