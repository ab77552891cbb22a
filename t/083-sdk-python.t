# 083-sdk-python.t: the Python binding (python/ovsa.py, ctypes over
# libovsa-client.so.1, Debian's python3) runs the node-locked story
# against a real nginx + backend + Redis: activation, a check, the server
# stopped (the saved answer allows until valid_until, not beyond; a clock
# set back is refused), deactivation once the server is back, and the
# check that follows is refused by the server.
use strict;
use warnings;
use File::Basename qw(dirname);
use lib dirname(__FILE__) . '/lib';
BEGIN {
    $ENV{TEST_NGINX_PORT} ||= ($ENV{OVSA_TEST_PORT_BASE} || 27800) + 95;
}
use OvsaTest;
use OvsaBackend;
use OvsaRotation;
use OvsaScriptTest qw(slurp fresh_dir run_cmd file_mode);
use Test::More;
use File::Copy qw(copy);
use JSON::PP;

my $BUILD = $OvsaBackend::BIN;
my $ROOT = $OvsaBackend::ROOT;
my $PY = '/usr/bin/python3';
plan skip_all => "$PY (Debian's python3) is not installed" unless -x $PY;
# an ASan-instrumented library cannot be loaded into an uninstrumented
# interpreter
plan skip_all => 'the Python binding is tested against build/ (not a sanitizer build)'
    if scalar(qx{nm -D $BUILD/lib/libovsa-client.so.1 2>/dev/null}) =~ /__asan_/;

my $t = OvsaBackend->new(offset => 140);
$t->start_redis;
my $tmp = fresh_dir();
my $URL = "https://127.0.0.1:$PORT";
$ENV{OVSA_CLIENT_LIB} = "$BUILD/lib/libovsa-client.so.1";

sub run_ok {
    my ($name, $r, $rc) = @_;
    is($r->{rc}, $rc // 0, $name) or diag("out: $r->{out}\nerr: $r->{err}");
    return $r;
}

my $conf = "$tmp/conf";
run_ok('gencert', inst('-d', $conf, 'gencert'));
my ($api, $admin) = ($t->port, $t->port);
write_yaml($conf, $t->{redis_port}, $admin, $api, 'c83:');
my $ks = "$tmp/isv";
run_ok('ISV keystore', ovsatool('keystore', '-out', $ks, '-alg', 'ec'));
copy("$ks/isv.crt", "$conf/isv.pem") or die;
my $b = start_backend_on($t, 'b83', $conf, $api, $admin);
my $front = nginx_front($conf, $api);
start_nginx($front);
my $isv = "$ks/isv.crt";

run_ok('create N1', ovsatool('create', '-k', $ks, '-id', 'N1', '-product',
    'Widget', '-customer', 'ACME', '-type', 'node-locked',
    '-max-activations', 1, '-deactivations', 1, '-deactivation-period',
    3600, '-sync-interval', 300, '-server', $URL, '-server-cert',
    "$conf/current/server-chain.pem", '-out', "$tmp/N1.lic"));
run_ok('import N1', ovsactl('-c', "$conf/default.yaml", 'import',
                            "$tmp/N1.lic"));

my $state = "$tmp/state";

# py([faketime offset], OPS...): the statuses, one per operation
sub py {
    my @pre = $_[0] =~ /^[-+]\d/ ? ('faketime', '-f', shift) : ();
    my $r = run_cmd(@pre, $PY, "$ROOT/python/ovsa.py", '-license',
                    "$tmp/N1.lic", '-isv', $isv, '-state', $state, @_);
    my @st = map { decode_json($_) } grep { /^\{/ } split /\n/, $r->{out} // '';
    return ($r, @st);
}

my ($r, @st) = py('activate', 'check', 'hwid');
is($r->{rc}, 0, 'activate and check: allowed') or diag("$r->{out}$r->{err}");
is_deeply([ map { $_->{code} // '' } @st[0, 1] ], [qw(OK OK)], '... both OK');
ok($st[1]{verified} && !$st[1]{cached}, '... verified server answers');
my $until = $st[1]{valid_until};
ok($until > time + 200, 'valid_until about sync_interval ahead');
my ($s, $ans) = $t->admin($b, 'GET', '/admin/v1/licenses/N1');
is($ans->{activations}[0]{hwid}, $st[2]{hwid},
   'the server holds the hwid the binding reports (the C derivation)');
is(file_mode("$state/N1.check.json"), '0600', 'the saved check is 0600');

OvsaTest::stop_nginx();
($r, @st) = py('check');
is($r->{rc}, 0, 'server stopped: still allowed');
is($st[0]{code}, 'OFFLINE', '... OFFLINE');
ok($st[0]{cached}, '... from the saved answer');
is($st[0]{valid_until}, $until, '... until the same valid_until');
($r, @st) = py('deactivate');
is($r->{rc}, 1, 'server stopped: deactivation is never offline');
is($st[0]{code}, 'UNREACHABLE', '... UNREACHABLE');
is($st[0]{error}, 'OVSA_E_TRANSPORT', '... OVSA_E_TRANSPORT');

SKIP: {
    skip 'faketime is not installed (scripts/install-deps.sh)', 4
        unless -x '/usr/bin/faketime';
    my $past = $until - int(time) + 5;
    ($r, @st) = py("+${past}s", 'check');
    is($r->{rc}, 1, 'past valid_until: refused');
    is($st[0]{code}, 'OFFLINE_EXPIRED', '... OFFLINE_EXPIRED');
    ($r, @st) = py('-2h', 'check');
    is($r->{rc}, 1, 'the clock set back: refused');
    is($st[0]{code}, 'CLOCK_BACK', '... CLOCK_BACK');
}

start_nginx($front);
($r, @st) = py('deactivate', 'check');
is($st[0]{code}, 'OK', 'server back: deactivated');
is($st[1]{code}, 'HWID_NOT_ACTIVATED', 'the check after it: HWID_NOT_ACTIVATED');
ok($st[1]{verified} && !$st[1]{allowed}, '... a verified refusal');
ok(!-e "$state/N1.check.json" && !-e "$state/N1.activate.json",
   'the saved answers are gone: nothing allows offline any more');
OvsaTest::stop_nginx();
($r, @st) = py('check');
is($st[0]{code}, 'UNREACHABLE', 'server stopped again: UNREACHABLE, not OFFLINE');

($r, @st) = (run_cmd($PY, "$ROOT/python/ovsa.py", '-license', "$tmp/none.lic",
                     '-isv', $isv, 'check'));
is($r->{rc}, 1, 'a missing license file: refused at open');
like($r->{out}, qr/"code": "LOCAL_ERROR"/, '... LOCAL_ERROR');

done_testing();
