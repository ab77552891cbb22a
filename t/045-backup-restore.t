# 045-backup-restore.t: the operator's backup and restore
# (docs/operations.md).  A fleet's Redis is backed up with BGSAVE, the
# RDB file is restored into a second redis-server (started without the
# append-only file, which is then switched on: the AOF is written from
# the restored data), a second backend serves it, and `ovsactl report`
# of both agree license by license: versions, status, uses spent,
# activations, live leases and the totals.  A change made on one side
# after the backup shows in the comparison.
use strict;
use warnings;
use File::Basename qw(dirname);
use File::Copy qw(copy);
use lib dirname(__FILE__) . '/lib';
use Time::HiRes ();
use Test::More;
use OvsaBackend;

my $t = OvsaBackend->new(offset => 460);
my $d = $t->dir;
$t->start_redis(persist => 1);
my $live_port = $t->{redis_port};
my $b1 = $t->start_backend(name => 'b1');

# ---- some state: uses spent, activations, live leases, a revocation
$t->import_ok($b1, $t->license(license_id => 'U1', type => 'usage-count',
                               limits => { usage => 10 }));
$t->import_ok($b1, $t->license(license_id => 'N1', type => 'node-locked',
                               limits => { max_activations => 3 }));
$t->import_ok($b1, $t->license(license_id => 'F1', type => 'floating',
                               limits => { seats => 4, lease_seconds => 600 }));
$t->import_ok($b1, $t->license(license_id => 'R1'));
$t->import_ok($b1, $t->license(license_id => 'R1', version => 2));
for my $k (1 .. 3) {
    my ($st) = $t->api($b1, '/v1/check', { license_id => 'U1',
                                           request_id => "spend-$k" });
    is($st, 200, "use $k spent");
}
for my $h (qw(h1 h2)) {
    my ($st) = $t->api($b1, '/v1/activate', { license_id => 'N1', hwid => $h });
    is($st, 200, "$h activated");
}
for my $c (qw(c1 c2)) {
    my ($st) = $t->api($b1, '/v1/lease/checkout', { license_id => 'F1',
        client_id => $c, request_id => "co-$c" });
    is($st, 200, "lease for $c");
}
my ($st) = $t->admin($b1, 'POST', '/admin/v1/licenses/R1/revoke', '{}');
is($st, 200, 'R1 revoked');

my $ctl = "$OvsaBackend::BIN/bin/ovsactl";
$ENV{OVSA_ADMIN_TOKEN_FILE} = "$d/admin.token";

sub report {
    my ($b, @opt) = @_;
    my $out = `$ctl -url http://127.0.0.1:$b->{admin_port} @opt report 2>&1`;
    is($? >> 8, 0, "ovsactl @opt report on $b->{name}") or diag $out;
    return $out;
}

my $text = report($b1);
like($text, qr/^LICENSE\s+VER\s+STATUS\s+USED\s+ACTIVATIONS\s+LEASES$/m,
     'report: header');
like($text, qr/^U1\s+1\s+active\s+3\s+0\s+0$/m, 'report: U1 spent 3');
like($text, qr/^N1\s+1\s+active\s+0\s+2\s+0$/m, 'report: N1 two activations');
like($text, qr/^F1\s+1\s+active\s+0\s+0\s+2$/m, 'report: F1 two leases');
like($text, qr/^R1\s+2\s+revoked\s+0\s+0\s+0$/m, 'report: R1 v2 revoked');
like($text, qr/^TOTAL\s+3\s+2\s+2$/m, 'report: the totals');
my $before = $OvsaBackend::JSON->decode(report($b1, '-json'));
is_deeply($before->{total}, { licenses => 4, used => 3, activations => 2,
                              leases => 2 }, 'report -json: the totals');

# ---- the backup: BGSAVE, then copy the RDB file
sub info {
    my ($port, $field) = @_;
    my ($v) = `redis-cli -p $port INFO persistence` =~ /^\Q$field\E:(\S+)/m;
    return $v // '';
}

my $last = $t->redis('LASTSAVE');
like($t->redis('BGSAVE'), qr/Background saving started|scheduled/, 'BGSAVE');
my $end = time + 20;
Time::HiRes::sleep(0.05) while time < $end
    && ($t->redis('LASTSAVE') == $last
        || info($live_port, 'rdb_bgsave_in_progress') ne '0');
is(info($live_port, 'rdb_last_bgsave_status'), 'ok', 'the backup was written');
mkdir "$d/restore";
copy("$d/dump.rdb", "$d/restore/dump.rdb") or die "copy: $!";

# ---- the restore: a second redis-server on the copy
my $rport = $t->port;
my $rpid = OvsaBackend::spawn("$d/restore/redis.log", 'redis-server',
    '--port', $rport, '--bind', '127.0.0.1', '--dir', "$d/restore",
    '--appendonly', 'no', '--save', '');
END { OvsaBackend::stop_pid($rpid) if $rpid }
OvsaBackend::wait_port($rport) or die "restored redis did not start";
$end = time + 10;
Time::HiRes::sleep(0.05)
    while time < $end && `redis-cli -p $rport PING` !~ /PONG/;
# then durable again: the AOF is rewritten from the restored data
is(`redis-cli -p $rport CONFIG SET appendonly yes` =~ /OK/ ? 1 : 0, 1,
   'appendonly switched on after the restore');
$end = time + 20;
Time::HiRes::sleep(0.05) while time < $end
    && (info($rport, 'aof_rewrite_in_progress') ne '0'
        || info($rport, 'aof_enabled') ne '1');
is(info($rport, 'aof_last_bgrewrite_status'), 'ok', 'AOF written');

$t->{redis_port} = $rport;
my $b2 = $t->start_backend(name => 'b2');
$t->{redis_port} = $live_port;

my $after = $OvsaBackend::JSON->decode(report($b2, '-json'));
is_deeply($after, $before, 'the restored backup and the fleet agree');
is(report($b2), $text, 'the text reports are equal too');

# the backup's state is live: the leases and activations still work there
my ($s2, $a2) = $t->api($b2, '/v1/check', { license_id => 'U1',
                                           request_id => 'spend-2' });
is($s2, 200, 'a retried spend on the restored store ...');
ok($a2->{replayed}, '... is a replay (the request id was backed up)');
is($a2->{usage_remaining}, 8, '... with the answer it had');

# a change after the backup shows
($st) = $t->api($b1, '/v1/check', { license_id => 'U1', request_id => 'late' });
is($st, 200, 'one more use spent on the fleet after the backup');
my $now = $OvsaBackend::JSON->decode(report($b1, '-json'));
isnt($OvsaBackend::JSON->encode($now), $OvsaBackend::JSON->encode($after),
     'the reports now differ');
is($now->{total}{used} - $after->{total}{used}, 1, 'by that one use');

for my $b ($b1, $b2) {
    unlike(OvsaBackend::slurp($b->{log}), qr/\[(crit|alert|error)\]/,
           "$b->{name}: no errors logged");
    is($t->stop_backend($b), 0, "$b->{name} exits 0");
}

done_testing();
