# 031-backend-admin.t: the admin API of ovsa-backend (bearer token,
# import rules, list, show, revoke, force-release, deactivate, pin stats)
# and the ovsactl CLI over it.
use strict;
use warnings;
use File::Basename qw(dirname);
use lib dirname(__FILE__) . '/lib';
use Test::More;
use Digest::SHA;
use OvsaBackend;

my $t = OvsaBackend->new(offset => 10);
$t->make_isv('other');
$t->start_redis;
my $b = $t->start_backend(name => 'b1');
my $d = $t->dir;
my $TOKEN = $OvsaBackend::TOKEN;
my ($st, $a, $r);

sub admin { return $t->admin($b, @_) }

# ---- authorization
for my $case (['', 'no Authorization header'],
              ['wrong-token-0123456789abcdef', 'wrong token'],
              ["${TOKEN}x", 'token with a suffix'],
              [substr($TOKEN, 0, -1), 'token prefix']) {
    ($st, $a) = admin('GET', '/admin/v1/licenses', undef, $case->[0]);
    is("$st $a->{code}", '401 UNAUTHORIZED', "401 for $case->[1]");
}
$r = $t->request($b->{admin_port}, 'GET', '/admin/v1/licenses', '',
                 { Authorization => "Basic $TOKEN" });
is($r->{status}, 401, '401 for another scheme');
my $log = OvsaBackend::slurp($b->{log});
unlike($log, qr/\Q$TOKEN\E|wrong-token/, 'tokens never logged');
like($log, qr/unauthorized GET \/admin\/v1\/licenses/, 'refusal logged');
($st, $a) = admin('GET', '/v1/check');
is("$st $a->{code}", '404 NOT_FOUND', 'admin listener has no /v1 routes');

# ---- import rules
my $empty = $t->snapshot;
($st, $a) = admin('POST', '/admin/v1/licenses', 'not a license');
is("$st $a->{code}", '400 LICENSE_INVALID', 'garbage: LICENSE_INVALID');
like($a->{message}, qr/OVSA_E_LIC_SYNTAX/, 'message carries the OVSA_E code');

my $good = $t->license(license_id => 'F1', type => 'floating',
                       limits => { seats => 3, lease_seconds => 60 });
my $jws = $OvsaBackend::JSON->decode($good);
my $p = $jws->{payload};
substr($p, 20, 1) = substr($p, 20, 1) eq 'A' ? 'B' : 'A';
($st, $a) = admin('POST', '/admin/v1/licenses',
                  $OvsaBackend::JSON->encode({ %$jws, payload => $p }));
is("$st $a->{code}", '400 LICENSE_INVALID', 'tampered payload refused');
like($a->{message}, qr/OVSA_E_LIC_(SIGNATURE|SYNTAX|FIELD)/,
     'with the verification code');

my $foreign = $t->sign(OvsaBackend::payload(license_id => 'X1'), 'other');
($st, $a) = admin('POST', '/admin/v1/licenses', $foreign);
is("$st $a->{code}", '403 LICENSE_UNTRUSTED',
   'signer not in licenses.isv_certs');
like($a->{message}, qr/OVSA_E_LIC_ISV/, 'OVSA_E_LIC_ISV');

# (licenses that break the credential and deactivation rules: t/037,
# which signs them without the library's checks)
is_deeply($t->snapshot, $empty, 'refused imports stored nothing');

($st, $a) = admin('POST', '/admin/v1/licenses', $good);
is("$st $a->{code}", '200 OK', 'import F1 v1');
is($a->{version}, 1, 'version 1');
($st, $a) = admin('POST', '/admin/v1/licenses', $good);
is("$st $a->{code}", '409 VERSION_NOT_NEWER', 'same version again');

# state to carry over a version update
my (undef, $l1) = $t->api($b, '/v1/lease/checkout',
                          { license_id => 'F1', client_id => 'c1' });
my (undef, $l2) = $t->api($b, '/v1/lease/checkout',
                          { license_id => 'F1', client_id => 'c2' });
my $v3 = $t->license(license_id => 'F1', type => 'floating', version => 3,
                     limits => { seats => 5, lease_seconds => 60 });
($st, $a) = admin('POST', '/admin/v1/licenses', $v3);
is("$st $a->{code}", '200 OK', 'import F1 v3 over v1');
is($a->{previous_version}, 1, 'previous_version 1');
my $v2 = $t->license(license_id => 'F1', type => 'floating', version => 2);
my $before = $t->snapshot;
($st, $a) = admin('POST', '/admin/v1/licenses', $v2);
is("$st $a->{code}", '409 VERSION_NOT_NEWER', 'older version refused');
is($a->{stored_version}, 3, 'names the stored version');
is_deeply($t->snapshot, $before, 'older version changed nothing');
($st, $a) = $t->api($b, '/v1/check', { license_id => 'F1', version => 1,
                                        lease_id => $l1->{lease_id} });
is("$st $a->{code}", '200 OK', 'lease survives the update');
is($a->{version}, 3, 'check sees version 3');
is($OvsaBackend::JSON->decode(
       MIME_decode($a->{license}{payload}))->{version}, 3,
   'and gets the v3 JWS');

sub MIME_decode {
    my ($s) = @_;
    $s =~ tr{-_}{+/};
    $s .= '=' x ((4 - length($s) % 4) % 4);
    require MIME::Base64;
    return MIME::Base64::decode_base64($s);
}

# more licenses
$t->import_ok($b, $t->license(license_id => 'N1', type => 'node-locked'));
$t->import_ok($b, $t->license(license_id => 'U1', type => 'usage-count'));
$t->import_ok($b, $t->license(license_id => 'P2', type => 'perpetual',
    servers => [{ url => 'https://a.example',
                  pins => { current => $OvsaBackend::PIN_A,
                            future => $OvsaBackend::PIN_B } }]));
$t->api($b, '/v1/activate', { license_id => 'N1', hwid => 'node-1' });
$t->api($b, '/v1/check', { license_id => 'U1' });

# ---- list and show
($st, $a) = admin('GET', '/admin/v1/licenses');
is("$st $a->{code}", '200 OK', 'list');
is_deeply([map { $_->{license_id} } @{ $a->{licenses} }],
          [qw(F1 N1 P2 U1)], 'all licenses, sorted');
my ($f1) = grep { $_->{license_id} eq 'F1' } @{ $a->{licenses} };
is("$f1->{leases}/$f1->{seats}", '2/5', 'F1: 2 of 5 seats');

($st, $a) = admin('GET', '/admin/v1/licenses/F1');
is("$st $a->{code}", '200 OK', 'show F1');
is($a->{record}{version}, 3, 'record version');
is($a->{record}{seats}, 5, 'record seats');
is(scalar @{ $a->{leases} }, 2, 'two live leases');
is_deeply([sort map { $_->{client_id} } @{ $a->{leases} }], [qw(c1 c2)],
          'with their client ids');
is(ref $a->{activations}, 'ARRAY', 'activations is a list');
is($a->{license}{signature} ? 1 : 0, 1, 'the stored JWS');
($st, $a) = admin('GET', '/admin/v1/licenses/U1');
is("$a->{record}{used}/$a->{record}{usage}", '1/3', 'usage shown');
is($a->{record}{secret_sha256}, $OvsaBackend::SECRET_SHA256,
   'record: secret_sha256 of the license');
ok(exists $a->{record}{deactivations} && !defined $a->{record}{deactivations}
   && !defined $a->{record}{deactivation_period},
   'record: no deactivation limits: null');
($st, $a) = admin('GET', '/admin/v1/licenses/N1');
is("$a->{record}{deactivations}/$a->{record}{deactivation_period}",
   '3/2592000', 'record: the deactivation limits of N1');
($st, $a) = admin('GET', '/admin/v1/licenses/NOPE');
is("$st $a->{code}", '404 UNKNOWN_LICENSE', 'show unknown');
($st, $a) = admin('GET', '/admin/v1/licenses/F1/revoke');
is("$st $a->{code}", '405 METHOD_NOT_ALLOWED', 'GET on an action');
($st, $a) = admin('DELETE', '/admin/v1/licenses');
is("$st $a->{code}", '405 METHOD_NOT_ALLOWED', 'DELETE on the list');
($st, $a) = admin('GET', '/admin/v1/nothing');
is("$st $a->{code}", '404 NOT_FOUND', 'unknown admin route');

# ---- force-release
($st, $a) = admin('POST', '/admin/v1/licenses/F1/release',
                  { lease_id => $l1->{lease_id} });
is("$st $a->{code}", '200 OK', 'release one lease');
is($a->{released}, 1, 'released 1');
($st, $a) = $t->api($b, '/v1/lease/heartbeat',
                    { license_id => 'F1', lease_id => $l1->{lease_id} });
is("$st $a->{code}", '403 LEASE_UNKNOWN', 'released lease is gone');
($st, $a) = admin('POST', '/admin/v1/licenses/F1/release',
                  { lease_id => $l1->{lease_id} });
is("$st $a->{code}", '403 LEASE_UNKNOWN', 'release it again');
($st, $a) = admin('POST', '/admin/v1/licenses/F1/release', {});
is("$st $a->{code}", '400 BAD_FIELD', 'release without lease_id or all');
($st, $a) = admin('POST', '/admin/v1/licenses/F1/release', { all => \1 });
is("$st $a->{code} $a->{released}", '200 OK 1', 'release all: 1 left');
($st, $a) = admin('GET', '/admin/v1/licenses/F1');
is(scalar @{ $a->{leases} }, 0, 'no leases left');

# ---- admin deactivate
($st, $a) = admin('POST', '/admin/v1/licenses/N1/deactivate',
                  { hwid => 'node-1' });
is("$st $a->{code}", '200 OK', 'remove an activation');
($st, $a) = $t->api($b, '/v1/check', { license_id => 'N1',
                                        hwid => 'node-1' });
is("$st $a->{code}", '403 HWID_NOT_ACTIVATED', 'node no longer activated');
($st, $a) = admin('POST', '/admin/v1/licenses/N1/deactivate',
                  { hwid => 'node-1' });
is("$st $a->{code}", '404 ACTIVATION_UNKNOWN', 'remove it again');

# ---- pins
($st, $a) = admin('GET', '/admin/v1/pins?pin='
                  . uri($OvsaBackend::PIN_B));
is("$st $a->{code}", '200 OK', 'pin stats');
is("$a->{active} $a->{pinning} $a->{not_pinning}", '4 1 3',
   'PIN_B: pinned by P2 (future) only');
is_deeply($a->{not_pinning_ids}, [qw(F1 N1 U1)], 'names the others');
($st, $a) = admin('GET', '/admin/v1/pins?pin=sha256//short');
is("$st $a->{code} $a->{field}", '400 BAD_FIELD pin', 'malformed pin');

# ---- revoke
($st, $a) = admin('POST', '/admin/v1/licenses/U1/revoke', {});
is("$st $a->{code}", '200 OK', 'revoke U1');
($st, $a) = $t->api($b, '/v1/check', { license_id => 'U1' });
is("$st $a->{code}", '403 LICENSE_REVOKED', 'U1 refused');
$t->import_ok($b, $t->license(license_id => 'U1', type => 'usage-count',
                              version => 2));
($st, $a) = $t->api($b, '/v1/check', { license_id => 'U1' });
is("$st $a->{code}", '403 LICENSE_REVOKED', 'a newer version stays revoked');
($st, $a) = admin('GET', '/admin/v1/pins?pin=' . uri($OvsaBackend::PIN_A));
is("$a->{active} $a->{pinning}", '3 3', 'revoked licenses are not counted');
($st, $a) = admin('POST', '/admin/v1/licenses/NOPE/revoke', {});
is("$st $a->{code}", '404 UNKNOWN_LICENSE', 'revoke unknown');

sub uri {
    my ($s) = @_;
    $s =~ s/([^A-Za-z0-9._~-])/sprintf('%%%02X', ord $1)/ge;
    return $s;
}

# ---- ovsactl
my $ctl = "$OvsaBackend::BIN/bin/ovsactl";
$ENV{OVSA_ADMIN_URL} = "http://127.0.0.1:$b->{admin_port}";
$ENV{OVSA_ADMIN_TOKEN_FILE} = "$d/admin.token";

sub ctl {
    my $out = `$ctl @_ 2>&1`;
    return ($? >> 8, $out);
}

my ($rc, $out) = ctl('list');
is($rc, 0, 'ovsactl list');
like($out, qr/^LICENSE\s+VER\s+TYPE\s+STATUS/m, 'table header');
like($out, qr/^F1\s+3\s+floating\s+active\s+never\s+0\/5 seats\s+ACME$/m,
     'F1 row');
like($out, qr/^U1\s+2\s+usage-count\s+revoked/m, 'U1 row');
($rc, $out) = ctl('-json', 'list');
my $j = eval { $OvsaBackend::JSON->decode($out) };
is($j->{code}, 'OK', '-json prints the JSON answer');

mkdir "$d/lic";
OvsaBackend::spew("$d/lic/a.jws",
    $t->license(license_id => 'D1', type => 'node-locked'));
OvsaBackend::spew("$d/lic/b.jws",
    $t->license(license_id => 'D2', type => 'perpetual'));
($rc, $out) = ctl('import', "$d/lic");
is($rc, 0, 'ovsactl import DIR') or diag $out;
like($out, qr/a\.jws: imported D1 version 1/, 'D1 imported');
like($out, qr/b\.jws: imported D2 version 1/, 'D2 imported');
OvsaBackend::spew("$d/lic/c.jws",
    $t->license(license_id => 'D2', type => 'perpetual', version => 2));
($rc, $out) = ctl('import', "$d/lic");
is($rc, 5, 'import DIR with refusals exits 5');
like($out, qr/a\.jws: VERSION_NOT_NEWER/, 'prints the code per file');
like($out, qr/c\.jws: updated D2 to version 2 \(was 1\)/, 'D2 updated');
($rc, $out) = ctl('import', "$d/lic/c.jws");
is($rc, 5, 'single refused import exits 5');
OvsaBackend::spew("$d/bad.jws", $foreign);
($rc, $out) = ctl('import', "$d/bad.jws");
like($out, qr/LICENSE_UNTRUSTED/, 'untrusted import: code printed');

$t->api($b, '/v1/activate', { license_id => 'D1', hwid => 'box-7' });
my (undef, $l3) = $t->api($b, '/v1/lease/checkout',
                          { license_id => 'F1', client_id => 'cli-9' });
($rc, $out) = ctl('show', 'F1');
is($rc, 0, 'ovsactl show');
like($out, qr/^type\s+floating$/m, 'record lines');
like($out, qr/LIVE LEASES \(1\)\n  $l3->{lease_id}  expires \S+  cli-9/,
     'lease line');
($rc, $out) = ctl('show', 'NOPE');
is($rc, 5, 'show unknown exits 5');
like($out, qr/NOPE: UNKNOWN_LICENSE/, 'prints the code');
($rc, $out) = ctl('release', 'F1', $l3->{lease_id});
is("$rc $out", "0 released 1 lease(s) of F1\n", 'ovsactl release LEASE');
($rc, $out) = ctl('release', 'F1', '-all');
is("$rc $out", "0 released 0 lease(s) of F1\n", 'ovsactl release -all');
($rc, $out) = ctl('deactivate', 'D1', 'box-7');
is("$rc $out", "0 removed activation box-7 of D1 (0 left)\n",
   'ovsactl deactivate');
($rc, $out) = ctl('deactivate', 'D1', 'box-7');
is($rc, 5, 'deactivate again exits 5');
like($out, qr/ACTIVATION_UNKNOWN/, 'ACTIVATION_UNKNOWN');
($rc, $out) = ctl('pins', "'$OvsaBackend::PIN_B'");
is($rc, 0, 'ovsactl pins');
like($out, qr/: 5 active license\(s\), 1 pin it, 4 do not/, 'pin summary');
($rc, $out) = ctl('revoke', 'D2');
is("$rc $out", "0 revoked D2\n", 'ovsactl revoke');
($rc, $out) = ctl('revoke', 'bad/id');
is($rc, 2, 'malformed id: usage error');
($rc, $out) = ctl('frobnicate');
is($rc, 2, 'unknown command: exit 2');
is($out, "ovsactl: unknown command \"frobnicate\"\n"
   . "ovsactl: Use -help for summary.\n", 'unknown command: reason and hint');
($rc, $out) = ctl('-bogus', 'list');
is($rc, 2, 'unknown option: exit 2');
is($out, "ovsactl: unknown option \"-bogus\"\n"
   . "ovsactl: Use -help for summary.\n", 'unknown option: reason and hint');
($rc, $out) = ctl('show');
is($rc, 2, 'missing argument: exit 2');
like($out, qr/show: expects show ID/, '... says what the command takes');
($rc, $out) = ctl('-url');
is($rc, 2, 'option without its value: exit 2');
($rc, $out) = ctl('-help');
is($rc, 0, '-help exits 0');
like($out, qr/^ -$_ /m, "-help lists -$_") for qw(c url token-file json);
like($out, qr/^  $_ /m, "-help lists the command $_")
    for qw(import list show revoke release deactivate pins);
like($out, qr/^Exit status:\n  0  success\n  1  error.*\n  2  bad command line\n  4  the server could not be reached\n  5  the server answered no.*\n  6  the configuration/m,
     '-help lists the exit codes');
OvsaBackend::spew("$d/wrong.token", "not-the-token-0123456789\n", 0600);
($rc, $out) = ctl('-token-file', "$d/wrong.token", 'list');
is($rc, 5, 'wrong token exits 5');
like($out, qr/UNAUTHORIZED/, 'prints UNAUTHORIZED');
{
    local $ENV{OVSA_ADMIN_TOKEN_FILE};
    ($rc, $out) = ctl('list');
    is($rc, 2, 'no token file: exit 2');
}

# ---- ovsa-backend's command line: the same parser, help and exit codes
{
    my $be = "$OvsaBackend::BIN/bin/ovsa-backend";
    my $o = `$be -bogus 2>&1`;
    is($? >> 8, 2, 'ovsa-backend: unknown option exits 2');
    is($o, "ovsa-backend: unknown option \"-bogus\"\n"
       . "ovsa-backend: Use -help for summary.\n", '... reason and hint');
    $o = `$be -c 2>&1`;
    is($? >> 8, 2, 'ovsa-backend: -c without a file exits 2');
    $o = `$be -t -c $d/none.yaml 2>&1`;
    is($? >> 8, 1, 'ovsa-backend -t: a missing configuration exits 1');
    $o = `$be -help 2>&1`;
    is($? >> 8, 0, 'ovsa-backend -help exits 0');
    like($o, qr/^ -c FILE /m, 'ovsa-backend -help lists -c');
    like($o, qr/^ -t /m, 'ovsa-backend -help lists -t');
    like($o, qr/^Exit status:\n  0  success\n  1  error.*\n  2  bad command line\n\z/m,
         'ovsa-backend -help lists its exit codes');
}

# admin API on a unix socket, reached by ovsactl
my $sock = "$d/admin.sock";
my $u = $t->start_backend(name => 'u', admin_listen => "unix:$sock",
                          admin_port => $t->port);
($rc, $out) = ctl('-url', "unix:$sock", 'list');
like($out, qr/^D1\s/m, 'ovsactl over a unix socket') or diag $out;
$t->stop_backend($u);

# ---- a license made by ovsatool, imported with ovsactl, enforced
my $ot = "$OvsaBackend::BIN/bin/ovsatool";
SKIP: {
    skip 'ovsatool not built', 13 unless -x $ot;
    system("$ot keystore -out $d/ks -alg ec -cn 'Test ISV' >/dev/null 2>&1") == 0
        or die 'ovsatool keystore failed';
    system("cp $d/ks/isv.crt $d/ovsatool.pem") == 0 or die;
    system("$ot create -k $d/ks -id OT1 -product Widget -customer ACME"
         . " -customer-cert $d/other.pem -type floating -seats 3"
         . " -lease-seconds 60 -server https://lic.example"
         . " -server-cert $d/isv.pem -out $d/ot1.jws >/dev/null 2>&1") == 0
        or die 'ovsatool create failed';
    # unix: the client-cert header is believed over the socket only
    my $o = $t->start_backend(name => 'ot', isv => ['isv', 'ovsatool'],
                              unix => 1);
    ($rc, $out) = ctl('-url', "http://127.0.0.1:$o->{admin_port}",
                      'import', "$d/ot1.jws");
    is($rc, 0, 'ovsatool license imported by ovsactl') or diag $out;
    ($rc, $out) = ctl('import', "$d/ot1.jws");
    like($out, qr/LICENSE_UNTRUSTED/,
         'refused where its ISV is not configured');
    my $fp = `openssl x509 -in $d/other.pem -outform DER | sha256sum`;
    ($fp) = $fp =~ /^([0-9a-f]{64})/;
    my $osec = `cat $d/ot1.jws.secret`;
    chomp $osec;
    ($st, $a) = $t->api($o, '/v1/lease/checkout',
                        { license_id => 'OT1', client_id => 'x' },
                        secret => $osec);
    is("$st $a->{code}", '403 CUSTOMER_CERT_MISMATCH',
       'customer-bound: no client cert refused');
    ($st, $a) = $t->api($o, '/v1/lease/checkout',
                        { license_id => 'OT1', client_id => 'x' },
                        secret => $osec,
                        headers => { 'X-OVSA-Client-Cert-SHA256' => $fp });
    is("$st $a->{code}", '200 OK', 'customer-bound: matching cert served');
    ($st, $a) = $t->api($o, '/v1/lease/checkout',
                        { license_id => 'OT1', client_id => 'x' },
                        secret => '',
                        headers => { 'X-OVSA-Client-Cert-SHA256' => $fp });
    is("$st $a->{code}", '401 LICENSE_PROOF_REQUIRED',
       'certificate and secret: the certificate alone is not enough');
    my $pin = `openssl x509 -in $d/isv.pem -pubkey -noout | openssl pkey -pubin -outform DER | openssl dgst -sha256 -binary | base64`;
    chomp $pin;
    ($st, $a) = $t->admin($o, 'GET', "/admin/v1/pins?pin=" . uri("sha256//$pin"));
    is("$st $a->{code}", '200 OK', 'pins of the ovsatool license');
    is($a->{pinning}, 1, 'the -server-cert key is pinned by OT1');
    ($st, $a) = $t->admin($o, 'GET', '/admin/v1/licenses/OT1');
    is($a->{record}{cert_sha256}, $fp, 'record keeps the customer cert');
    is($a->{record}{seats}, 3, 'and the seats');
    my $sec = `cat $d/ot1.jws.secret`;
    chomp $sec;
    like($sec, qr/^[A-Za-z0-9_-]{43}$/, 'ovsatool wrote the license secret');
    is($a->{record}{secret_sha256}, Digest::SHA::sha256_hex($sec),
       'record: the hash of the secret');
    my $stored = $t->redis('HGETALL', $t->key('lic', 'OT1'));
    like($stored, qr/^secret\n\Q$a->{record}{secret_sha256}\E$/m,
         'Redis field secret: the hash');
    unlike($stored, qr/\Q$sec\E/, 'the secret itself is not stored');
    ok(exists $a->{record}{deactivations} && !defined $a->{record}{deactivations}
       && !defined $a->{record}{deactivation_period},
       'record: floating without deactivation limits: null');
}

# ---- secret files: open to group or others, they are refused at start
{
    my $be = "$OvsaBackend::BIN/bin/ovsa-backend";
    my $y = $t->conf(name => 'sm', listen => '127.0.0.1:1',
                     admin_listen => '127.0.0.1:2');
    for my $mode (0640, 0604) {
        chmod $mode, "$d/admin.token" or die "chmod: $!";
        my $o = `$be -t -c $y 2>&1`;
        is($? >> 8, 1, sprintf('admin token %04o: ovsa-backend -t exits 1',
                               $mode));
        my $want = sprintf('read secret: %s/admin.token: mode %04o: group '
                           . 'and others must have no access (chmod 600) '
                           . '(OVSA_E_SECRET_MODE)', $d, $mode);
        ok(index($o, $want) >= 0,
             '... naming the file, its mode and the code') or diag $o;
        ($rc, $out) = ctl('-token-file', "$d/admin.token", 'list');
        is($rc, 1, sprintf('admin token %04o: ovsactl refuses it (exit 1)',
                           $mode));
        like($out, qr/OVSA_E_SECRET_MODE/, '... with the code') or diag $out;
    }
    chmod 0600, "$d/admin.token" or die "chmod: $!";
    my $o = `$be -t -c $y 2>&1`;
    is($? >> 8, 0, 'admin token 0600: ovsa-backend -t accepts it') or diag $o;
}

# ---- re-keying a leaked secret: the next version carries another hash,
# which replaces the stored one; the old version cannot come back
{
    my $other = Digest::SHA::sha256_hex('c2Vjb25kLXNlY3JldC1vZi10aGUtdGVzdHMtMDAwMDA');
    $t->import_ok($b, $t->license(license_id => 'RK1'));
    ($st, $a) = admin('GET', '/admin/v1/licenses/RK1');
    is($a->{record}{secret_sha256}, $OvsaBackend::SECRET_SHA256, 'RK1 v1: the first secret');
    ($st, $a) = admin('POST', '/admin/v1/licenses',
                      $t->license(license_id => 'RK1', version => 2,
                                  customer => { secret_sha256 => $other }));
    is("$st $a->{code}", '200 OK', 'RK1 v2 with a new secret imported');
    ($st, $a) = admin('GET', '/admin/v1/licenses/RK1');
    is($a->{record}{secret_sha256}, $other, 'RK1 v2: the new hash replaced the old one');
    ($st, $a) = admin('POST', '/admin/v1/licenses', $t->license(license_id => 'RK1'));
    is("$st $a->{code}", '409 VERSION_NOT_NEWER', 'RK1 v1 (old secret) cannot come back');
    ($st, $a) = admin('GET', '/admin/v1/licenses/RK1');
    is($a->{record}{secret_sha256}, $other, '... and the new hash stays');
}


is($t->stop_backend($b), 0, 'backend exits 0');
done_testing();
