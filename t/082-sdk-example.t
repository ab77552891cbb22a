# 082-sdk-example.t: the ISV's SDK as an integrator uses it: the shared
# library's exports and soname, examples/ built with pkg-config against
# the tree's build and against an installed copy (make install), and the
# example programs against a real nginx + backend + Redis:
#
#   node-locked: docs/sdk.md's ten-line program (examples/hello.c)
#   activates and checks; the hwid the server recorded is the documented
#   derivation; with the server stopped the program still runs from the
#   saved answer, until valid_until and not beyond (the program's clock
#   moved with faketime), and a clock set back is refused;
#
#   floating: examples/widget.c holds a lease that the heartbeat thread
#   keeps alive across two lease periods (60 s each, the license minimum),
#   while three threads of the program check on the same handle, and
#   releases it at exit (the seat is free at once, asked through the
#   admin API); a lease the operator releases is reported through the
#   callback and the program stops.
use strict;
use warnings;
use File::Basename qw(dirname);
use lib dirname(__FILE__) . '/lib';
BEGIN {
    $ENV{TEST_NGINX_PORT} ||= ($ENV{OVSA_TEST_PORT_BASE} || 27800) + 85;
}
use OvsaTest;
use OvsaBackend;
use OvsaRotation;
use OvsaScriptTest qw(slurp fresh_dir run_cmd file_mode);
use Test::More;
use File::Copy qw(copy);
use Digest::SHA qw(hmac_sha256_base64);
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);

my $t = OvsaBackend->new(offset => 130);
$t->start_redis;
my $tmp = fresh_dir();
my $URL = "https://127.0.0.1:$PORT";
my $BUILD = $OvsaBackend::BIN;
my $ROOT = $OvsaBackend::ROOT;

sub run_ok {
    my ($name, $r, $rc) = @_;
    is($r->{rc}, $rc // 0, $name) or diag("out: $r->{out}\nerr: $r->{err}");
    return $r;
}

# ---- the shared library: soname, exports
my $so = "$BUILD/lib/libovsa-client.so.1";
ok(-e $so, 'libovsa-client.so.1 is built');
like(scalar(qx{readelf -d $so}), qr/\(SONAME\)\s+Library soname: \[libovsa-client\.so\.1\]/,
     'versioned soname');
my @syms = map { (split ' ')[2] } grep { /\s[TDBRVW]\s/ }
           split /\n/, scalar(qx{nm -D --defined-only $so});
s/@.*// for @syms;
my @foreign = grep { !/^(ovsa_sdk_|ovsa_client_|ovsa_result_free$|ovsa_license_result_free$|ovsa_code_(name|desc)$|OVSA_CLIENT_1$|ovsa_grant_(verify|parse_url)$|ovsa_license_grant_verify$|ovsa_offline_request_(make|submit)$)/ } @syms;
is_deeply(\@foreign, [], 'only the public API is exported') or diag("@foreign");
ok((grep { $_ eq 'ovsa_sdk_open' } @syms) && (grep { $_ eq 'ovsa_client_request' } @syms),
   'ovsa_sdk_open and ovsa_client_request are');
ok(!(grep { /^ovsa_sdk_(state|clock|hwid_from|nonce|grant)/ || /^ovsa_license_(parse|load|open|walk)/ || /^ovsa_grant_make$/ } @syms),
   'internals (state files, offline state, license parser) are not');

# ---- docs/sdk.md's ten-line integration is examples/hello.c
{
    my ($doc) = (slurp("$ROOT/docs/sdk.md") // '')
                =~ /^## The ten-line integration\n.*?^```c\n(.*?)^```$/ms;
    (my $src = slurp("$ROOT/examples/hello.c") // '') =~ s{\A/\*.*?\*/\n}{}s;
    ok(defined $doc && $doc eq $src,
       'docs/sdk.md shows exactly examples/hello.c (below its title comment)');
}

# ---- examples/ built with pkg-config: the tree, and an installed copy
my $ex = "$tmp/ex";
run_ok('examples build against the tree (PKG_CONFIG_PATH=build/pkgconfig)',
       run_cmd('make', '-s', '-C', "$ROOT/examples", "OUT=$ex",
               "PKG_CONFIG_PATH=$BUILD/pkgconfig"));
ok(-x "$ex/hello" && -x "$ex/widget", 'hello and widget built');
like(scalar(qx{ldd $ex/hello}), qr{libovsa-client\.so\.1 => \Q$BUILD\E/lib/},
     'hello links the shared library of the tree');
SKIP: {
    skip 'make install: only for build/', 3 unless $BUILD eq "$ROOT/build";
    my $inst = "$tmp/inst";
    run_ok('make install PREFIX=...', run_cmd('make', '-s', '-C', $ROOT,
           'install', "PREFIX=$inst"));
    ok(-e "$inst/lib/libovsa-client.so.1" && -e "$inst/include/ovsa/ovsa.h"
       && -e "$inst/lib/pkgconfig/ovsa-client.pc", '... library, headers, .pc');
    run_ok('hello builds against the installed SDK',
           run_cmd('make', '-s', '-C', "$ROOT/examples", "OUT=$tmp/ex2",
                   "PKG_CONFIG_PATH=$inst/lib/pkgconfig"));
}

# ---- the server
my $conf = "$tmp/conf";
run_ok('gencert', inst('-d', $conf, 'gencert'));
my ($api, $admin) = ($t->port, $t->port);
write_yaml($conf, $t->{redis_port}, $admin, $api, 'c82:');
my $ks = "$tmp/isv";
run_ok('ISV keystore', ovsatool('keystore', '-out', $ks, '-alg', 'ec'));
copy("$ks/isv.crt", "$conf/isv.pem") or die;
my $b = start_backend_on($t, 'b82', $conf, $api, $admin);
my $front = nginx_front($conf, $api);
start_nginx($front);
my $cert = "$conf/current/server-chain.pem";
my $isv = "$ks/isv.crt";

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

my $N = create('N1', 'node-locked', '-max-activations', 1,
               '-deactivations', 1, '-deactivation-period', 3600,
               '-sync-interval', 300);
my $F = create('F1', 'floating', '-seats', 2, '-lease-seconds', 60);

sub record {
    my ($id) = @_;
    my ($st, $ans) = $t->admin($b, 'GET', "/admin/v1/licenses/$id");
    return $st == 200 ? $ans : {};
}

# a program in the background, its output in a file
sub spawn_prog {
    my ($out, @cmd) = @_;
    my $pid = fork // die;
    if ($pid == 0) {
        open(STDOUT, '>', $out) or die;
        open(STDERR, '>&', \*STDOUT) or die;
        exec(@cmd) or die "exec $cmd[0]: $!";
    }
    return $pid;
}

# waits (bounded) for pid; its exit status, or undef when still running
sub reap {
    my ($pid, $secs) = @_;
    my $end = time + $secs;
    while (time < $end) {
        return $? >> 8 if waitpid($pid, WNOHANG) == $pid;
        sleep(0.1);
    }
    return undef;
}

sub wait_for {
    my ($file, $re, $secs) = @_;
    my $end = time + $secs;
    while (time < $end) {
        my $s = slurp($file) // '';
        return $s if $s =~ $re;
        sleep(0.1);
    }
    return slurp($file) // '';
}

# ======== floating: two programs, started first (the lease period is 60 s)
my $fs = "$tmp/fstate";
my ($outA, $outB) = ("$tmp/a.out", "$tmp/b.out");
my $t0 = time;
# A: three threads of the program check on the same handle every second
# while the heartbeat thread renews
my $pidA = spawn_prog($outA, "$ex/widget", '-floating', '-run', 128,
                      '-checkers', 3, $F, $isv, "$fs-a");
my $pidB = spawn_prog($outB, "$ex/widget", '-floating', '-run', 120,
                      '-heartbeat', 2, $F, $isv, "$fs-b");
my $a = wait_for($outA, qr/^lease \S+ until \d+$/m, 20);
my ($leaseA, $expA) = $a =~ /^lease ([0-9a-f]{32}) until (\d+)$/m;
ok($leaseA, 'program A holds a lease') or diag($a);
my $bo = wait_for($outB, qr/^lease \S+ until \d+$/m, 20);
my ($leaseB) = $bo =~ /^lease ([0-9a-f]{32}) until \d+$/m;
ok($leaseB, 'program B holds another') or diag($bo);
is(scalar(@{ record('F1')->{leases} || [] }), 2, 'two seats in use');

# ======== node-locked: the ten-line program while the server runs
my $ns = "$tmp/nstate";
my $r = run_ok('hello: activated and checked', run_cmd("$ex/hello", $N, $isv, $ns));
my ($until) = $r->{out} =~ /^licensed until (\d+)$/m;
ok($until, 'hello says until when') or diag($r->{out});
ok($until > time + 200 && $until <= time + 301,
   'valid_until = server time + sync_interval (300 s)');
is(file_mode($ns), '0700', 'the state directory is 0700');
is(file_mode("$ns/N1.check.json"), '0600', 'the saved check is 0600');
is(file_mode("$ns/N1.activate.json"), '0600', 'the saved activation is 0600');
is(file_mode("$ns/clock.json"), '0600', 'the trusted time is 0600');
my @left = grep { !/(machine\.key|\.json|chains)$/ } glob("$ns/* $ns/.*[!.]");
is_deeply(\@left, [], 'no temporary file left in the state directory');

# the hwid the server recorded: HMAC-SHA256(machine id, "ovsa-hwid-v1:Widget")
my ($src) = grep { defined(slurp($_)) && slurp($_) =~ /\S/ }
            ('/etc/machine-id', '/var/lib/dbus/machine-id',
             '/sys/class/dmi/id/product_uuid');
SKIP: {
    skip 'no machine id on this host', 2 unless $src;
    (my $mid = (split /\n/, slurp($src))[0]) =~ s/^\s+|\s+$//g;
    (my $want = hmac_sha256_base64('ovsa-hwid-v1:Widget', lc $mid)) =~ tr{+/}{-_};
    my $acts = record('N1')->{activations} || [];
    is(scalar(@$acts), 1, 'one activation');
    is($acts->[0]{hwid}, $want, 'its hwid is the documented derivation');
}
$r = run_ok('hello again: the same activation (idempotent)',
            run_cmd("$ex/hello", $N, $isv, $ns));
# its check saved a new answer: valid_until may be a second later now
my ($again) = $r->{out} =~ /^licensed until (\d+)$/m;
ok(defined $again && $again >= $until && $again <= $until + 5,
   '... its check saved a fresh answer') or diag($r->{out});
$until = $again // $until;
is(scalar(@{ record('N1')->{activations} || [] }), 1, 'still one activation');
$r = run_ok('the same hwid from another machine key (a copied hwid): refused',
            run_cmd("$ex/hello", $N, $isv, "$tmp/other"), 1);
like($r->{err}, qr/^not licensed: MACHINE_KEY_MISMATCH: /m,
     '... MACHINE_KEY_MISMATCH');
is(scalar(@{ record('N1')->{activations} || [] }), 1, '... still one activation');

# ======== floating, continued
# B's lease released by the operator: the callback reports it
my ($st, $ans) = $t->admin($b, 'POST', '/admin/v1/licenses/F1/release',
                           { lease_id => $leaseB });
is($ans->{released}, 1, 'the operator releases B\'s lease');
my $rcB = reap($pidB, 15);
is($rcB, 3, 'program B stops (exit 3)');
like(slurp($outB), qr/^lease lost: LEASE_UNKNOWN: /m,
     '... told by the callback: LEASE_UNKNOWN');

# A outlives two lease periods: the heartbeat thread renewed it
sleep(0.2) while time < $t0 + 124 && waitpid($pidA, WNOHANG) == 0;
my @live = grep { $_->{lease_id} eq ($leaseA // '') } @{ record('F1')->{leases} || [] };
is(scalar(@live), 1, 'A\'s lease is live after two lease periods (2 x 60 s)');
ok(time > $expA + 60, '... a full period past the expiry of its checkout');
ok(@live && $live[0]{expires} > $expA, '... renewed: expires later than at checkout')
    or diag("checkout $expA, now " . ($live[0]{expires} // 'none'));
my $rcA = reap($pidA, 20);
is($rcA, 0, 'program A exits normally');
like(slurp($outA), qr/^done: exiting/m, '... at the end of its run');
is_deeply(record('F1')->{leases}, [], 'the seat is free at once (released at exit)');
unlike(slurp($outA), qr/lease lost/, 'A never lost its lease');
my ($okA, $refA) = (slurp($outA) // '') =~ /^checks: (\d+) allowed, (\d+) refused$/m;
ok(defined $okA && $okA > 90, 'its three checker threads were allowed throughout the run')
    or diag(slurp($outA));
is($refA, 0, '... not one check refused while heartbeats ran beside them');

# ======== node-locked: the server stopped
OvsaTest::stop_nginx();
$r = run_ok('server stopped: hello still runs', run_cmd("$ex/hello", $N, $isv, $ns));
like($r->{out}, qr/^licensed until \Q$until\E \(offline: saved answer\)$/m,
     '... from the saved answer, until the same valid_until');

SKIP: {
    skip 'faketime is not installed (scripts/install-deps.sh)', 8
        unless -x '/usr/bin/faketime';
    # the program's clock 3 s before valid_until, running: it stops there
    my $off = $until - int(time) - 3;
    $r = run_cmd('faketime', '-f', "+${off}s", "$ex/widget", '-run', 15,
                 '-every', 1, $N, $isv, $ns);
    is($r->{rc}, 3, 'the program runs until valid_until, then stops (exit 3)')
        or diag($r->{out});
    like($r->{out}, qr/^check: allowed OFFLINE, valid until \Q$until\E \(offline/m,
         '... allowed offline before');
    like($r->{out}, qr/^check: refused OFFLINE_EXPIRED, valid until \Q$until\E/m,
         '... refused after: OFFLINE_EXPIRED');
    my ($stop) = $r->{out} =~ /^stopped at (\d+)$/m;
    ok(defined $stop && $stop >= $until && $stop <= $until + 3,
       '... stopped at valid_until (not before, not long after)')
        or diag($r->{out});

    $r = run_cmd('faketime', '-f', '+1d', "$ex/hello", $N, $isv, $ns);
    is($r->{rc}, 1, 'a day later: refused');
    like($r->{err}, qr/^not licensed: OFFLINE_EXPIRED: /m, '... OFFLINE_EXPIRED');

    $r = run_cmd('faketime', '-f', '-1h', "$ex/hello", $N, $isv, $ns);
    is($r->{rc}, 1, 'the clock set back an hour: refused');
    like($r->{err}, qr/^not licensed: CLOCK_BACK: .*earlier than/m,
         '... CLOCK_BACK, naming the trusted time');
}

start_nginx($front);
$r = run_ok('server back: answered by the server again',
            run_cmd("$ex/hello", $N, $isv, $ns));
like($r->{out}, qr/^licensed until \d+$/m, '... not from the saved answer');

OvsaTest::stop_nginx();
my $log = slurp("$SERVROOT/logs/error.log") // '';
unlike($log, qr/\[(alert|emerg|crit)\]/, "no alert in nginx's log");
done_testing();
