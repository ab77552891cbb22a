# 037-license-rules.t: lib/ovsa_license owns every license rule, so the
# ISV's tool (ovsatool), the server (ovsa-backend's admin import, real
# Redis) and the client (ovsa-check in license mode through a real nginx)
# accept and refuse the same licenses, with the same code:
#
#   - 12 and 16 servers, a perpetual license with and without expires_at,
#     UTF-8 product and customer names: accepted by all three;
#   - 17 servers: refused by all three with OVSA_E_LIC_RANGE;
#   - the license's protection and deactivation limits: a license with
#     neither customer.secret_sha256 nor cert_sha256 (OVSA_E_LIC_CREDENTIAL:
#     anyone knowing its id could use it), without the secret_sha256
#     member or with an upper-case one (OVSA_E_LIC_FIELD), with only one of
#     the deactivation limits or a node-locked one without them
#     (OVSA_E_LIC_LIMITS), a period under an hour (OVSA_E_LIC_RANGE):
#     refused by all three; a certificate-only license and a node-locked
#     one with limits: accepted by all three;
#   - the server enforces expires_at for a perpetual license too (check,
#     activate and checkout answer LICENSE_EXPIRED once it has passed).
#
# ovsatool cannot make a 17-server license (lib refuses to sign one), so
# the 16- and 17-server licenses are signed here with the ISV key by the
# openssl command line; the 16-server one is the control that this signer
# makes licenses the three accept.
use strict;
use warnings;
use utf8;
use File::Basename qw(dirname);
use lib dirname(__FILE__) . '/lib';
BEGIN {
    $ENV{TEST_NGINX_PORT} ||= ($ENV{OVSA_TEST_PORT_BASE} || 27800) + 45;
}
use OvsaTest;
use OvsaBackend;
use OvsaRotation;
use OvsaScriptTest qw(slurp fresh_dir);
use Test::More;
use File::Copy qw(copy);
use JSON::PP;
use MIME::Base64 qw(encode_base64);
use Encode qw(encode_utf8);
use Digest::SHA;

my $JSON = JSON::PP->new->utf8->canonical;
my $t = OvsaBackend->new(offset => 50);
$t->start_redis;
my $tmp = fresh_dir();
my $URL = "https://127.0.0.1:$PORT";
my $DOWN = $PORT + 1;                   # nothing listens there

sub ok_run {
    my ($name, $r) = @_;
    is($r->{rc}, 0, $name) or diag("out: $r->{out}\nerr: $r->{err}");
    return $r;
}

# ---- the server: provisioned identity, backend, nginx in front
my $conf = "$tmp/conf";
ok_run('gencert', inst('-d', $conf, 'gencert'));
my $certA = "$conf/current/server-chain.pem";
my ($api, $admin) = ($t->port, $t->port);
write_yaml($conf, $t->{redis_port}, $admin, $api, 'c37:');
my $ks = "$tmp/isv";
ok_run('ISV keystore (Ed25519)',
       ovsatool('keystore', '-out', $ks, '-alg', 'ed25519'));
copy("$ks/isv.crt", "$conf/isv.pem") or die;
my $b = start_backend_on($t, 'b37', $conf, $api, $admin);
start_nginx(nginx_front($conf, $api));

# n - 1 unreachable servers, then the real one
sub servers {
    my ($n) = @_;
    return ((map { ("https://127.0.0.$_:$DOWN", $certA) } 2 .. $n), $URL,
            $certA);
}

sub create {
    my ($id, %o) = @_;
    my @srv = servers($o{servers} || 1);
    my @args = ('create', '-k', $ks, '-id', $id,
                '-product', $o{product} || 'Widget',
                '-customer', $o{customer} || 'ACME', '-type', 'perpetual',
                $o{expires} ? ('-expires', $o{expires}) : (),
                map({ ($_ % 2 ? '-server-cert' : '-server', $srv[$_]) }
                    0 .. $#srv),
                '-out', "$tmp/$id.lic");
    return ovsatool(map { encode_utf8($_) } @args);
}

# ---- licenses ovsatool makes
my $now = time;
ok_run('ovsatool create: 12 servers', create('S12', servers => 12));
ok_run('ovsatool create: perpetual without expires_at', create('P0'));
ok_run('ovsatool create: perpetual with expires_at (future)',
       create('P1', expires => $now + 30 * 86400));
ok_run('ovsatool create: perpetual with expires_at (past)',
       create('PX', expires => $now - 60));
ok_run('ovsatool create: UTF-8 product and customer',
       create('U8', product => 'Gesichtserkennung Ω 顔認識',
              customer => 'Müller & Söhne GmbH'));
is(scalar @{ payload_of("$tmp/S12.lic")->{servers} }, 12, 'S12: 12 servers');
ok(!defined payload_of("$tmp/P0.lic")->{expires_at}, 'P0: expires_at null');
is(payload_of("$tmp/P1.lic")->{expires_at}, $now + 30 * 86400,
   'P1: expires_at set');
{
    my @argv = ('create', '-k', $ks, '-id', 'S17c', '-product', 'W',
                '-customer', 'C', '-type', 'perpetual',
                (map { ('-server', "https://h$_.example", '-server-cert',
                        $certA) } 1 .. 17), '-out', "$tmp/S17c.lic");
    my $r = ovsatool(@argv);
    is($r->{rc}, 2, 'ovsatool create: 17 servers refused (usage, exit 2)');
    like($r->{err}, qr/more than 16 -server/, '... saying the limit');
    ok(!-e "$tmp/S17c.lic", '... and writing nothing');
}

# ---- 16 and 17 servers, signed here with the ISV key
sub b64url {
    (my $s = encode_base64($_[0], '')) =~ tr{+/}{-_};
    $s =~ s/=+$//;
    return $s;
}

sub forge {
    my ($id, $n, $edit) = @_;
    my $p = payload_of("$tmp/P0.lic");
    $p->{license_id} = $id;
    my @s = servers($n);
    $p->{servers} = [ map { { url => $s[2 * $_], pins => {
        current => leaf_pin($certA), future => undef } } } 0 .. $n - 1 ];
    $edit->($p) if $edit;
    my $der = `openssl x509 -in $ks/isv.crt -outform DER`;
    die 'openssl x509' if $? || !length $der;
    my $prot = b64url($JSON->encode({ alg => 'EdDSA',
        typ => 'ovsa-license+jws', x5c => [ encode_base64($der, '') ] }));
    my $pay = b64url($JSON->encode($p));
    OvsaBackend::spew("$tmp/input", "$prot.$pay");
    system('openssl', 'pkeyutl', '-sign', '-inkey', "$ks/isv.key",
           '-rawin', '-in', "$tmp/input", '-out', "$tmp/sig") == 0
        or die 'openssl pkeyutl -sign';
    OvsaBackend::spew("$tmp/$id.lic", $JSON->encode({ protected => $prot,
        payload => $pay, signature => b64url(slurp("$tmp/sig")) }) . "\n");
    # the same secret as P0's, whose payload this is
    OvsaBackend::spew("$tmp/$id.lic.secret", slurp("$tmp/P0.lic.secret"),
                      0600);
}

forge('S16', 16);
forge('S17', 17);

# the credential and deactivation rules: id => [code, edit]
my $HEX = 'ab' x 32;
my %RULES = (
    NC  => [ 'OVSA_E_LIC_CREDENTIAL',
             sub { $_[0]{customer}{secret_sha256} = undef } ],
    NS  => [ 'OVSA_E_LIC_FIELD', sub { delete $_[0]{customer}{secret_sha256} } ],
    SU  => [ 'OVSA_E_LIC_FIELD',
             sub { $_[0]{customer}{secret_sha256} = uc('cd' x 32) } ],
    ND  => [ 'OVSA_E_LIC_FIELD', sub { delete $_[0]{limits}{deactivations} } ],
    DO  => [ 'OVSA_E_LIC_LIMITS', sub { $_[0]{limits}{deactivations} = 2 } ],
    DR  => [ 'OVSA_E_LIC_RANGE', sub {
                 @{ $_[0]{limits} }{qw(deactivations deactivation_period)}
                     = (1, 3599) } ],
    NL  => [ 'OVSA_E_LIC_LIMITS', sub {
                 $_[0]{type} = 'node-locked';
                 $_[0]{limits}{max_activations} = 2 } ],
    CO  => [ 'OVSA_E_NONE', sub {
                 $_[0]{customer}{secret_sha256} = undef;
                 $_[0]{customer}{cert_sha256} = $HEX } ],
    NLD => [ 'OVSA_E_NONE', sub {
                 $_[0]{type} = 'node-locked';
                 @{ $_[0]{limits} }{qw(max_activations deactivations
                                       deactivation_period)}
                     = (2, 0, 3600) } ],
);
forge($_, 1, $RULES{$_}[1]) for sort keys %RULES;
is(payload_of("$tmp/P0.lic")->{customer}{secret_sha256},
   Digest::SHA::sha256_hex(do { my $s = slurp("$tmp/P0.lic.secret");
                                chomp $s; $s }),
   'P0: ovsatool put the hash of its secret file into the license');

# ---- the three verdicts on each file
# tool: ovsatool verify; server: admin import; client: ovsa-check -license
sub tool {
    my ($id) = @_;
    my $r = ovsatool('verify', '-l', "$tmp/$id.lic", '-isv', "$ks/isv.crt");
    return 'OVSA_E_NONE' if $r->{rc} == 0;
    return $r->{out} =~ /: FAILED (OVSA_E_\w+)/ ? $1 : "rc $r->{rc}";
}

sub server {
    my ($id) = @_;
    my ($st, $a) = $t->admin($b, 'POST', '/admin/v1/licenses',
                             slurp("$tmp/$id.lic"));
    return 'OVSA_E_NONE' if $st == 200 && $a->{code} eq 'OK';
    return "$st $a->{code} "
           . (($a->{message} // '') =~ /^(OVSA_E_\w+)/ ? $1 : '?');
}

sub client {
    my ($id) = @_;
    my $r = check('-license', "$tmp/$id.lic", '-isv', "$ks/isv.crt",
                   '-state', "$tmp/state", '-json');
    my $j = eval { decode_json($r->{out}) } || {};
    return { rc => $r->{rc}, j => $j, check => $j->{check} // '?',
             err => $r->{err} };
}

for my $id (qw(S12 S16 P0 P1 U8)) {
    is(tool($id), 'OVSA_E_NONE', "$id: ovsatool verify accepts it");
    is(server($id), 'OVSA_E_NONE', "$id: the backend imports it");
    my $c = client($id);
    is("$c->{rc} $c->{check}", '0 OVSA_E_NONE', "$id: ovsa-check: valid")
        or diag($c->{err});
    is($c->{j}{answer}{code}, 'OK', "$id: ... the server's answer is OK");
    is($c->{j}{server}, $URL, "$id: ... from the real server");
}

for my $n (12, 16) {
    my $c = client("S$n");
    is(scalar @{ $c->{j}{attempts} }, $n, "S$n: the client tried $n servers");
    is_deeply([ map { $_->{check} } @{ $c->{j}{attempts} }[0 .. $n - 2] ],
              [ ('OVSA_E_TRANSPORT') x ($n - 1) ],
              "S$n: ... the first " . ($n - 1) . ' unreachable');
}

{
    my $before = $t->snapshot('c37:');
    my %code = (tool => tool('S17'), server => server('S17'));
    my $c = client('S17');
    $code{client} = $c->{check};
    is($code{tool}, 'OVSA_E_LIC_RANGE', 'S17: ovsatool verify refuses it');
    is($code{server}, '400 LICENSE_INVALID OVSA_E_LIC_RANGE',
       'S17: the backend refuses it (LICENSE_INVALID, OVSA_E_LIC_RANGE)');
    is("$c->{rc} $code{client}", '1 OVSA_E_LIC_RANGE',
       'S17: ovsa-check refuses it locally');
    is(scalar @{ $c->{j}{attempts} || [] }, 0, 'S17: ... asking no server');
    is_deeply($t->snapshot('c37:'), $before, 'S17: nothing stored');
}

for my $id (sort keys %RULES) {
    my $want = $RULES{$id}[0];
    my $before = $t->snapshot('c37:');
    my %code = (tool => tool($id), server => server($id));
    my $c = client($id);
    is($code{tool}, $want, "$id: ovsatool verify: $want");
    if ($want eq 'OVSA_E_NONE') {
        is($code{server}, 'OVSA_E_NONE', "$id: the backend imports it");
        ok(@{ $c->{j}{attempts} || [] } >= 1 && $c->{check} !~ /^OVSA_E_LIC/,
           "$id: ovsa-check loads it and asks the server")
            or diag($c->{err});
        next;
    }
    is($code{server}, "400 LICENSE_INVALID $want",
       "$id: the backend refuses it (LICENSE_INVALID, $want)");
    is("$c->{rc} $c->{check}", "1 $want", "$id: ovsa-check refuses it locally");
    is(scalar @{ $c->{j}{attempts} || [] }, 0, "$id: ... asking no server");
    is_deeply($t->snapshot('c37:'), $before, "$id: nothing stored");
}
{
    my ($st, $a) = $t->admin($b, 'GET', '/admin/v1/licenses/NLD');
    is("$a->{record}{deactivations}/$a->{record}{deactivation_period}",
       '0/3600', 'NLD: the deactivation limits stored');
    ($st, $a) = $t->admin($b, 'GET', '/admin/v1/licenses/CO');
    is("$a->{record}{secret_sha256}|$a->{record}{cert_sha256}", "|$HEX",
       'CO: no secret, the certificate hash');
}

# ---- what the server stored, and expires_at enforced for perpetual
my ($st, $a) = $t->admin($b, 'GET', '/admin/v1/licenses/P1');
is($a->{record}{expires_at}, $now + 30 * 86400, 'P1: expires_at stored');
($st, $a) = $t->admin($b, 'GET', '/admin/v1/licenses/P0');
is($a->{record}{expires_at}, 0, 'P0: no expiry stored');
{
    my (undef, undef, $r) = $t->admin($b, 'GET', '/admin/v1/licenses/U8');
    my $rec = $JSON->decode($r->{content})->{record};
    is($rec->{customer}, 'Müller & Söhne GmbH', 'U8: customer, UTF-8');
    is($rec->{product}, 'Gesichtserkennung Ω 顔認識', 'U8: product, UTF-8');
}
($st, $a) = $t->admin($b, 'GET', '/admin/v1/licenses/S12');
is(scalar @{ $a->{record}{pins} }, 12, 'S12: the pins of all 12 servers');

is(tool('PX'), 'OVSA_E_NONE', 'PX (expired): ovsatool verify accepts it');
is(server('PX'), 'OVSA_E_NONE', 'PX: the backend imports it');
{
    my $c = client('PX');
    is("$c->{rc} $c->{j}{answer}{code}", '5 LICENSE_EXPIRED',
       'PX: ovsa-check gets a verified LICENSE_EXPIRED');
}
# the secret ovsatool made for license $id
sub sec { my $s = slurp("$tmp/$_[0].lic.secret"); chomp $s; $s }
($st, $a) = $t->api($b, '/v1/check', { license_id => 'PX' },
                    secret => sec('PX'));
is("$st $a->{code}", '403 LICENSE_EXPIRED', 'PX: check refused');
($st, $a) = $t->api($b, '/v1/activate', { license_id => 'PX', hwid => 'h' },
                    secret => sec('PX'));
is("$st $a->{code}", '403 LICENSE_EXPIRED',
   'PX: activate refused for the expiry (before the type)');
($st, $a) = $t->api($b, '/v1/lease/checkout',
                    { license_id => 'PX', client_id => 'c' },
                    secret => sec('PX'));
is("$st $a->{code}", '403 LICENSE_EXPIRED', 'PX: checkout refused');
($st, $a) = $t->api($b, '/v1/activate', { license_id => 'P1', hwid => 'h' },
                    secret => sec('P1'));
is("$st $a->{code}", '400 WRONG_LICENSE_TYPE',
   'P1 (not expired): activate reaches the type check');
($st, $a) = $t->api($b, '/v1/check', { license_id => 'P1' },
                    secret => sec('P1'));
is("$st $a->{code} $a->{expires_at}",
   '200 OK ' . ($now + 30 * 86400), 'P1: check valid, with its expiry');
($st, $a) = $t->admin($b, 'GET', '/admin/v1/licenses');
my %exp = map { ($_->{license_id} => $_->{expired}) } @{ $a->{licenses} };
ok($exp{PX} && !$exp{P1} && !$exp{P0}, 'list: only PX is expired');

OvsaTest::stop_nginx();
my $log = slurp("$SERVROOT/logs/error.log") // '';
unlike($log, qr/\[(alert|emerg|crit)\]/, "no alert in nginx's log");
done_testing();
