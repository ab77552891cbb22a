# The README's main command: scripts/demo.sh brings up a license server
# (private redis, backend, nginx with conf.d's drop-in) on loopback and
# makes a verified license check; "down" stops everything it started.
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);

my $base = $ENV{OVSA_TEST_PORT_BASE} || 19800;
my $dir = tempdir('ovsa-demo-XXXXXX', TMPDIR => 1, CLEANUP => 1);
$ENV{OVSA_DEMO_DIR} = $dir;
$ENV{OVSA_DEMO_PORT} = $base + 90;
$ENV{OVSA_DEMO_BACKEND_PORT} = $base + 91;
$ENV{OVSA_DEMO_ADMIN_PORT} = $base + 92;

my $out = qx{sh scripts/demo.sh up 2>&1};
is($?, 0, 'demo.sh up succeeds') or diag($out);
like($out, qr/^verified: valid OK, valid until /m,
     'the license check verified and is valid');
like($out, qr/customer license .*DEMO-0001\.lic imported/,
     'a signed demo license was imported');

my $key = "$dir/etc/current/server.key";
is((stat $key)[2] & 07777, 0600, 'server key is 0600');

$out = qx{sh scripts/demo.sh check 2>&1};
is($?, 0, 'a second check verifies') or diag($out);

# the same state survives a restart of the whole stack
$out = qx{sh scripts/demo.sh up 2>&1};
is($?, 0, 'demo.sh up again (existing identity and license)')
    or diag($out);
like($out, qr/^verified: valid OK/m, 'check after restart verifies');

my @pids;
for my $f ("$dir/nginx/logs/nginx.pid", "$dir/run/backend.pid",
           "$dir/run/redis.pid") {
    open(my $fh, '<', $f) or next;
    chomp(my $pid = <$fh>);
    push @pids, $pid;
}
is(scalar @pids, 3, 'nginx, backend and redis are running');

$out = qx{sh scripts/demo.sh down 2>&1};
is($?, 0, 'demo.sh down') or diag($out);
for my $pid (@pids) {
    my $gone = 0;
    for (1 .. 50) {
        if (!kill 0, $pid) { $gone = 1; last }
        select undef, undef, undef, 0.1;
    }
    ok($gone, "process $pid stopped");
}

done_testing();
