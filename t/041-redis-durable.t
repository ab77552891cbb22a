# 041-redis-durable.t: acknowledged means kept (issue 11, item 1).
#
# 1. kill -9 of a durable Redis (appendonly yes, appendfsync everysec,
#    noeviction: what the backend requires) after 50 acknowledged
#    activations, 50 spends and 50 checkouts, restart with the same
#    settings: nothing lost (activated hosts check OK, used and live
#    leases as acknowledged), no extra grant possible, and the backend
#    serves again without a restart.
# 2. A Redis that is not durable (no append-only file; appendfsync no; an
#    evicting maxmemory-policy): every state-changing operation is
#    refused with 503 STORE_NOT_DURABLE naming the setting, and changes
#    nothing; reads are served; one log line per change, not per
#    request; after CONFIG SET appendonly yes writes work again within
#    the check period (5 s), same process.  redis.require_durable: false
#    serves, and says so loudly at start.
use strict;
use warnings;
use File::Basename qw(dirname);
use lib dirname(__FILE__) . '/lib';
use Test::More;
use Time::HiRes qw(sleep time);
use OvsaBackend;

my $N = 50;
my $t = OvsaBackend->new(offset => 140);
$t->start_redis;
my $b = $t->start_backend(name => 'b1');
my ($st, $a);

sub show {
    my ($be, $id) = @_;
    my ($s, $x) = $t->admin($be, 'GET', "/admin/v1/licenses/$id");
    die "show $id: $s" unless $s == 200;
    return $x;
}

sub until_served {
    my ($be) = @_;
    my $t0 = time;
    while (time - $t0 < 10) {
        my ($s) = $t->api($be, '/v1/check', { license_id => 'P1' });
        return 1 if $s == 200;
        sleep 0.05;
    }
    return 0;
}

$t->import_ok($b, $t->license(license_id => 'P1'));
$t->import_ok($b, $t->license(license_id => 'N1', type => 'node-locked',
                              limits => { max_activations => $N }));
$t->import_ok($b, $t->license(license_id => 'U1', type => 'usage-count',
                              limits => { usage => $N }));
$t->import_ok($b, $t->license(license_id => 'F1', type => 'floating',
    limits => { seats => $N, lease_seconds => 3600 }));
# with room left, for part 2
$t->import_ok($b, $t->license(license_id => 'N2', type => 'node-locked',
                              limits => { max_activations => 5 }));
$t->import_ok($b, $t->license(license_id => 'U2', type => 'usage-count',
                              limits => { usage => 5 }));
$t->import_ok($b, $t->license(license_id => 'F2', type => 'floating',
    limits => { seats => 5, lease_seconds => 3600 }));

# ---- 1. kill -9 after acknowledged changes
my ($acts, $uses, $outs) = (0, 0, 0);
my %lease;
for my $i (1 .. $N) {
    ($st, $a) = $t->api($b, '/v1/activate',
                        { license_id => 'N1', hwid => "host-$i" });
    $acts++ if $st == 200;
    ($st, $a) = $t->api($b, '/v1/check', { license_id => 'U1' });
    $uses++ if $st == 200;
    ($st, $a) = $t->api($b, '/v1/lease/checkout',
                        { license_id => 'F1', client_id => "c$i" });
    $lease{$a->{lease_id}} = 1 if $st == 200;
}
$outs = keys %lease;
is("$acts $uses $outs", "$N $N $N", "$N of each acknowledged");

my $killed = OvsaBackend::stop_pid(delete $t->{redis_pid}, 'KILL');
is($killed & 127, 9, 'redis-server killed with SIGKILL');
$t->start_redis;
ok(until_served($b), 'the same backend serves again');
ok(kill(0, $b->{pid}), 'backend not restarted');

my $lost = 0;
for my $i (1 .. $N) {
    ($st, $a) = $t->api($b, '/v1/check',
                        { license_id => 'N1', hwid => "host-$i" });
    $lost++ unless $st == 200;
}
is($lost, 0, "all $N activated hosts still check OK");
is(scalar @{ show($b, 'N1')->{activations} }, $N, "$N activations kept");
is(show($b, 'U1')->{record}{used}, $N, "used is $N");
my @live = map { $_->{lease_id} } @{ show($b, 'F1')->{leases} };
is_deeply([sort @live], [sort keys %lease], 'the same live leases');
for my $l (@live[0 .. 2]) {
    ($st, $a) = $t->api($b, '/v1/check', { license_id => 'F1',
                                            lease_id => $l });
    is("$st $a->{code}", '200 OK', 'a lease holder checks OK');
}
($st, $a) = $t->api($b, '/v1/activate',
                    { license_id => 'N1', hwid => 'host-extra' });
is("$st $a->{code}", '409 MAX_ACTIVATIONS', 'no extra activation');
($st, $a) = $t->api($b, '/v1/check', { license_id => 'U1' });
is("$st $a->{code}", '403 USAGE_EXHAUSTED', 'no extra use');
($st, $a) = $t->api($b, '/v1/lease/checkout',
                    { license_id => 'F1', client_id => 'extra' });
is("$st $a->{code}", '409 NO_SEATS', 'no extra seat');

# ---- 2. not durable: writes refused, reads served
my ($lease2) = do {
    my (undef, $x) = $t->api($b, '/v1/lease/checkout',
                             { license_id => 'F2', client_id => 'k' });
    $x->{lease_id};
};
($st) = $t->api($b, '/v1/activate', { license_id => 'N2', hwid => 'h0' });
is($st, 200, 'N2 activated while durable');
($st, $a) = $t->api($b, '/v1/check', { license_id => 'U2',
                                        request_id => 'before' });
is("$st $a->{usage_remaining}", '200 4', 'U2 spent once while durable');

my $log_at = length OvsaBackend::slurp($b->{log});
$t->redis('CONFIG', 'SET', 'appendonly', 'no');
# a new backend reads the settings on its first connection
my $nd = $t->start_backend(name => 'nd');
$log_at = 0;

my @writes = (
    [ 'activation', '/v1/activate', { license_id => 'N2', hwid => 'h1' } ],
    [ 'usage spend', '/v1/check', { license_id => 'U2' } ],
    [ 'checkout', '/v1/lease/checkout',
      { license_id => 'F2', client_id => 'x' } ],
    [ 'heartbeat', '/v1/lease/heartbeat',
      { license_id => 'F2', lease_id => $lease2 } ],
    [ 'checkin', '/v1/lease/checkin',
      { license_id => 'F2', lease_id => $lease2 } ],
    [ 'deactivation', '/v1/deactivate', { license_id => 'N2', hwid => 'h0' } ],
);

sub refused_all {
    my ($be, $setting, $what) = @_;
    my $before = $t->snapshot;
    for my $w (@writes) {
        my ($s, $x) = $t->api($be, $w->[1], $w->[2]);
        is("$s $x->{code}", '503 STORE_NOT_DURABLE', "$what: $w->[0] refused");
        like($x->{message} // '', qr/\Q$setting\E/, "$what: names $setting");
    }
    my ($s, $x) = $t->admin($be, 'POST', '/admin/v1/licenses',
        $t->license(license_id => 'NEW'));
    is("$s $x->{code}", '503 STORE_NOT_DURABLE', "$what: admin import refused");
    ($s, $x) = $t->admin($be, 'POST', '/admin/v1/licenses/P1/revoke');
    is("$s $x->{code}", '503 STORE_NOT_DURABLE', "$what: admin revoke refused");
    is_deeply($t->snapshot, $before, "$what: Redis unchanged");
}

refused_all($nd, 'appendonly', 'no AOF');

# reads keep working
($st, $a) = $t->api($nd, '/v1/check', { license_id => 'N2', hwid => 'h0' });
is("$st $a->{code}", '200 OK', 'node-locked check served');
($st, $a) = $t->api($nd, '/v1/check', { license_id => 'F2',
                                         lease_id => $lease2 });
is("$st $a->{code}", '200 OK', 'floating check served');
($st, $a) = $t->api($nd, '/v1/check', { license_id => 'P1' });
is("$st $a->{code}", '200 OK', 'perpetual check served');
($st, $a) = $t->api($nd, '/v1/check', { license_id => 'U2',
                                         request_id => 'before' });
is("$st $a->{code} $a->{usage_remaining}", '200 OK 4',
   'the replay of an earlier spend is served (a read)');
ok($a->{replayed}, 'replayed');
($st) = $t->admin($nd, 'GET', '/admin/v1/licenses/N2');
is($st, 200, 'admin show served');
($st) = $t->admin($nd, 'GET', '/admin/v1/licenses');
is($st, 200, 'admin list served');

my $log = OvsaBackend::slurp($nd->{log});
my $lines = () = $log =~ /STORE_NOT_DURABLE until/g;
is($lines, 1, 'one log line for the state, not one per refusal')
    or diag $log;
like($log, qr/appendonly is "no"/, 'the log names the setting');

# the old backend notices within its check period, the new one at once
$t->redis('CONFIG', 'SET', 'appendonly', 'yes');
my $t0 = time;
my $ok = 0;
while (time - $t0 < 8) {
    ($st, $a) = $t->api($nd, '/v1/activate', { license_id => 'N2',
                                                hwid => 'h2' });
    if ($st == 200) { $ok = 1; last }
    sleep 0.2;
}
ok($ok, sprintf 'appendonly yes: writes served again after %.1f s, same '
   . 'process', time - $t0);
like(OvsaBackend::slurp($nd->{log}), qr/is durable .*served/,
     'the change is logged');

# appendfsync no, an evicting policy: new backends see them at once
$t->redis('CONFIG', 'SET', 'appendfsync', 'no');
my $nf = $t->start_backend(name => 'nf');
refused_all($nf, 'appendfsync', 'appendfsync no');
$t->stop_backend($nf);
$t->redis('CONFIG', 'SET', 'appendfsync', 'everysec');

$t->redis('CONFIG', 'SET', 'maxmemory-policy', 'allkeys-lru');
my $ne = $t->start_backend(name => 'ne');
refused_all($ne, 'maxmemory-policy', 'allkeys-lru');
($st, $a) = $t->api($ne, '/v1/check', { license_id => 'N2', hwid => 'h0' });
is("$st $a->{code}", '200 OK', 'evicting: reads served');

# the explicit opt-out
my $opt = $t->start_backend(name => 'opt', require_durable => 0);
($st, $a) = $t->api($opt, '/v1/activate', { license_id => 'N2',
                                             hwid => 'h3' });
is("$st $a->{code}", '200 OK', 'require_durable: false serves writes');
$log = OvsaBackend::slurp($opt->{log});
like($log, qr/\[warn\] redis\.require_durable is false/,
     'the opt-out is logged loudly at start');
like($log, qr/\[warn\] .*maxmemory-policy is "allkeys-lru".*served anyway/,
     'and the state it serves anyway');
$t->redis('CONFIG', 'SET', 'maxmemory-policy', 'noeviction');

done_testing();
