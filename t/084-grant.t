# 084-grant.t: grants (docs/offline.md), a verified answer kept so that
# it verifies again without the network.  ovsa-check (license mode)
# through a real nginx (TLS, signed answers) and the real backend writes
# a grant (-grant-out); verified offline (-grant) it gives the same
# verdict; every alteration is refused with the code of the check it
# breaks, and a grant from a server the license does not name is refused
# as such.
#
# Ports: $PORT nginx; from the OvsaBackend offset 230: Redis (+0), the
# name of the public API's unix socket (+1), the backend's admin port (+2).
use strict;
use warnings;
use File::Basename qw(dirname);
use lib dirname(__FILE__) . '/lib';
BEGIN {
    $ENV{TEST_NGINX_PORT} ||= ($ENV{OVSA_TEST_PORT_BASE} || 27800) + 84;
}
use OvsaTest;
use OvsaBackend;
use OvsaRotation;
use OvsaScriptTest qw(slurp fresh_dir);
use Test::More;
use File::Copy qw(copy);
use JSON::PP;

my $t = OvsaBackend->new(offset => 230);
$t->start_redis;
my $tmp = fresh_dir();
my $URL = "https://127.0.0.1:$PORT";
my $J = JSON::PP->new->canonical;

sub run_ok {
    my ($name, $r, $rc) = @_;
    is($r->{rc}, $rc // 0, $name) or diag("out: $r->{out}\nerr: $r->{err}");
    return $r;
}

my $conf = "$tmp/conf";
run_ok('gencert', inst('-d', $conf, 'gencert'));
my ($api, $admin) = ($t->port, $t->port);
write_yaml($conf, $t->{redis_port}, $admin, $api, 'c84:');
my $ks = "$tmp/isv";
run_ok('ISV keystore', ovsatool('keystore', '-out', $ks, '-alg', 'ec'));
copy("$ks/isv.crt", "$conf/isv.pem") or die;
my $b = start_backend_on($t, 'b84', $conf, $api, $admin);
start_nginx(nginx_front($conf, $api));
my $cert = "$conf/current/server-chain.pem";

run_ok('create P1', ovsatool('create', '-k', $ks, '-id', 'P1', '-product',
    'Widget', '-customer', 'ACME', '-type', 'perpetual',
    '-server', $URL, '-server-cert', $cert, '-out', "$tmp/P1.lic"));
run_ok('import P1', ovsactl('-c', "$conf/default.yaml", 'import',
                            "$tmp/P1.lic"));

sub lic { check('-license', "$tmp/P1.lic", '-isv', "$ks/isv.crt", @_) }

my $g = "$tmp/P1.grant";
my $r = run_ok('a check that keeps its answer as a grant',
               lic('-json', '-grant-out', $g));
my $online = decode_json($r->{out});
ok(-f $g, 'grant written');
is((stat $g)[2] & 07777, 0600, 'grant file is 0600');
my $grant = decode_json(slurp($g));
is($grant->{url}, $URL, 'grant names the server');
is($grant->{path}, '/v1/check', '... the request path');
is($grant->{status}, 200, '... the status');
like($grant->{chain}, qr/BEGIN CERTIFICATE/, '... and the signing chain');
diag(sprintf('grant size: %d bytes (RSA 2048 development identity)',
             length(slurp($g))));

# offline: no server is asked (nginx stopped)
stop_nginx();
$r = run_ok('the grant verifies offline', lic('-json', '-grant', $g));
my $off = decode_json($r->{out});
is($off->{check}, 'OVSA_E_NONE', '... every check passed');
is($off->{answer}{code}, 'OK', '... the verdict OK');
is($off->{answer}{server_time}, $online->{answer}{server_time},
   '... of the same answer');
is($off->{nonce}, $grant->{nonce}, '... bound to the nonce it was sent');

# ---- alterations, each refused with its own code
sub altered {
    my ($name, $code, $edit) = @_;
    my $x = decode_json(slurp($g));
    $edit->($x);
    my $f = "$tmp/altered.grant";
    OvsaBackend::spew($f, $J->encode($x));
    my $a = lic('-json', '-grant', $f);
    isnt($a->{rc}, 0, "$name: refused");
    my $o = eval { decode_json($a->{out}) } || {};
    is($o->{check}, $code, "$name: $code") or diag("$a->{out} $a->{err}");
}

altered('body changed', 'OVSA_E_DIGEST_MISMATCH', sub {
    $_[0]{body} =~ s/"OK"/"OX"/ or die 'no OK in body' });
altered('body and its digest changed', 'OVSA_E_SIG_INVALID', sub {
    my $x = $_[0];
    $x->{body} =~ s/"server_time":(\d+)/'"server_time":' . ($1 + 86400)/e
        or die 'no server_time';
    $x->{content_digest} = OvsaBackend::content_digest($x->{body});
});
altered('nonce of another request', 'OVSA_E_SIG_INVALID', sub {
    $_[0]{nonce} = 'AAAAAAAAAAAAAAAAAAAAAA' });
altered('another path', 'OVSA_E_SIG_INVALID', sub {
    $_[0]{path} = '/v1/activate' });
altered('status changed', 'OVSA_E_SIG_INVALID', sub { $_[0]{status} = 201 });
altered('signature removed', 'OVSA_E_GRANT_SYNTAX', sub {
    delete $_[0]{signature} });
altered('not a grant', 'OVSA_E_GRANT_SYNTAX', sub { $_[0]{ovsa_grant} = 2 });
altered('a chain of another key', 'OVSA_E_SIG_KEYID', sub {
    my $other = inst('-d', "$tmp/other", 'gencert');
    die "gencert: $other->{err}" if $other->{rc};
    $_[0]{chain} = slurp("$tmp/other/current/server-chain.pem");
});
altered('a server the license does not name', 'OVSA_E_GRANT_SERVER', sub {
    $_[0]{url} = 'https://127.0.0.1:1' });

done_testing();
