# 033-backend-redis-restart.t: ovsa-backend without Redis answers 503
# STORE_UNAVAILABLE and serves again by itself when Redis is back (also
# when started while Redis is down, and after the script cache is
# flushed); leases expire (semantic waits on Redis's clock, no timed
# assertions; the license format's shortest lease is 60 s, so the test
# waits about a minute) and refusals about expired leases change nothing;
# SIGTERM lets a request in flight finish.
use strict;
use warnings;
use File::Basename qw(dirname);
use lib dirname(__FILE__) . '/lib';
use POSIX qw(_exit);
use Test::More;
use Time::HiRes qw(sleep);
use OvsaBackend;

my $t = OvsaBackend->new(offset => 30);

# After a failure the backend's circuit breaker answers 503 at once for
# redis.breaker_open_ms (1 s), then probes: a check is served again
# within a few seconds, by the same process.
sub served {
    my ($b) = @_;
    my ($st, $a);
    for (1 .. 50) {
        ($st, $a) = $t->api($b, '/v1/check', { license_id => 'P1' });
        last unless $st == 503;
        sleep 0.1;
    }
    return ($st, $a);
}
$t->start_redis(persist => 1, debug => 1);
my $b = $t->start_backend(name => 'b1', redis_timeout => 5000);
my ($st, $a);

$t->import_ok($b, $t->license(license_id => 'P1'));
$t->import_ok($b, $t->license(license_id => 'F1', type => 'floating',
    limits => { seats => 2, lease_seconds => 60 }));
($st, $a) = $t->api($b, '/v1/check', { license_id => 'P1' });
is("$st $a->{code}", '200 OK', 'serving');

# leases taken now expire at the end of the test (they survive the Redis
# restarts: append-only file)
my (undef, $l1) = $t->api($b, '/v1/lease/checkout',
                          { license_id => 'F1', client_id => 'c1' });
my (undef, $l2) = $t->api($b, '/v1/lease/checkout',
                          { license_id => 'F1', client_id => 'c2' });

# ---- Redis down, then back
$t->stop_redis;
my $r;
($st, $a, $r) = $t->api($b, '/v1/check', { license_id => 'P1' });
is("$st $a->{code}", '503 STORE_UNAVAILABLE', 'Redis down: 503');
like($r->{headers}{'retry-after'} // '', qr/^[1-9][0-9]*$/,
     'with Retry-After');
is($a->{verdict}, 'error', 'verdict error');
($st, $a) = $t->api($b, '/v1/lease/checkout',
                    { license_id => 'F1', client_id => 'x' });
is("$st $a->{code}", '503 STORE_UNAVAILABLE', 'checkout: 503');
($st, $a) = $t->admin($b, 'GET', '/admin/v1/licenses');
is("$st $a->{code}", '503 STORE_UNAVAILABLE', 'admin list: 503');
($st, $a) = $t->api($b, '/v1/check', '{');
is("$st $a->{code}", '400 BAD_JSON', 'bad input still 400 without Redis');

$t->start_redis(persist => 1, debug => 1);
is($t->redis('SCRIPT', 'EXISTS', 'x'), 0, 'restarted Redis has no scripts');
($st, $a) = served($b);
is("$st $a->{code}", '200 OK', 'serving again, same backend process');
ok(kill(0, $b->{pid}), 'backend was not restarted');

$t->redis('SCRIPT', 'FLUSH');
($st, $a) = $t->api($b, '/v1/check', { license_id => 'P1' });
is("$st $a->{code}", '200 OK', 'after SCRIPT FLUSH: NOSCRIPT reloads');

# ---- a backend started while Redis is down
$t->stop_redis;
my $late = $t->start_backend(name => 'late');
($st, $a) = $t->api($late, '/v1/check', { license_id => 'P1' });
is("$st $a->{code}", '503 STORE_UNAVAILABLE', 'started without Redis: 503');
$t->start_redis(persist => 1, debug => 1);
($st, $a) = served($late);
is("$st $a->{code}", '200 OK', 'and serves once Redis is up');
like(OvsaBackend::slurp($late->{log}), qr/answering 503 until/,
     'start-up warning logged');
$t->stop_backend($late);
served($b);

# ---- lease expiry (lease_seconds 2): wait on Redis's own clock
sub redis_now { (split /\n/, $t->redis('TIME'))[0] }
sub wait_past {
    my ($when) = @_;
    sleep 0.2 while redis_now() <= $when;
}

($st, $a) = $t->api($b, '/v1/lease/checkout',
                    { license_id => 'F1', client_id => 'c3' });
is("$st $a->{code}", '409 NO_SEATS', 'both seats held (across restarts)');

# keep l1 alive with a heartbeat shortly before it would expire
sleep 0.5 while redis_now() < $l1->{lease_expires} - 5;
($st, $a) = $t->api($b, '/v1/lease/heartbeat',
                    { license_id => 'F1', lease_id => $l1->{lease_id} });
is("$st $a->{code}", '200 OK', 'heartbeat l1');
ok($a->{lease_expires} > $l1->{lease_expires}, 'l1 extended');
wait_past($l2->{lease_expires});

my $before = $t->snapshot;
($st, $a) = $t->api($b, '/v1/check', { license_id => 'F1',
                                        lease_id => $l2->{lease_id} });
is("$st $a->{code}", '403 LEASE_UNKNOWN', 'expired lease: check refused');
($st, $a) = $t->api($b, '/v1/lease/heartbeat',
                    { license_id => 'F1', lease_id => $l2->{lease_id} });
is("$st $a->{code}", '403 LEASE_UNKNOWN', 'expired lease: heartbeat refused');
($st, $a) = $t->api($b, '/v1/lease/checkin',
                    { license_id => 'F1', lease_id => $l2->{lease_id} });
is("$st $a->{code}", '403 LEASE_UNKNOWN', 'expired lease: checkin refused');
is_deeply($t->snapshot, $before, 'those refusals changed nothing');
is($t->redis('ZCARD', $t->key('lz', 'F1')), 2, 'the expired lease is still stored');

($st, $a) = $t->api($b, '/v1/check', { license_id => 'F1',
                                        lease_id => $l1->{lease_id} });
is("$st $a->{code}", '200 OK', 'heartbeated lease outlived its first expiry');

($st, $a) = $t->api($b, '/v1/lease/checkout',
                    { license_id => 'F1', client_id => 'c3' });
is("$st $a->{code}", '200 OK', 'the expired seat is free again');
is($a->{seats_used}, 2, 'expired lease not counted');
is($t->redis('ZCARD', $t->key('lz', 'F1')), 2, 'expired lease pruned');
is($t->redis('HLEN', $t->key('lh', 'F1')), 2, 'from both structures');
($st, $a) = $t->admin($b, 'GET', '/admin/v1/licenses/F1');
is_deeply([sort map { $_->{client_id} } @{ $a->{leases} }], [qw(c1 c3)],
          'show lists the live leases only');
my $last = (split /\n/, $t->redis('ZRANGE', $t->key('lz', 'F1'), -1, -1,
                                  'WITHSCORES'))[1];
is($t->redis('EXPIRETIME', $t->key('lz', 'F1')), $last + 1,
   'lease set expires by itself after its last lease');
is($t->redis('EXPIRETIME', $t->key('lh', 'F1')), $last + 1, 'so does the hash');

# ---- SIGTERM while a request waits on Redis: it still gets its answer
my $sleeper = fork // die;
if ($sleeper == 0) {
    { exec 'redis-cli', '-p', $t->{redis_port}, 'DEBUG', 'SLEEP', '2' }
    _exit(1);
}
sleep 0.3;
pipe(my $rd, my $wr) or die;
my $client = fork // die;
if ($client == 0) {
    close $rd;
    $t->{conns} = {};
    my ($s, $x) = $t->api($b, '/v1/check', { license_id => 'P1' });
    print $wr "$s " . ($x ? $x->{code} : 'none') . "\n";
    close $wr;
    _exit(0);
}
close $wr;
sleep 0.5;
kill 'TERM', $b->{pid};
my $answer = <$rd>;
chomp $answer if defined $answer;
waitpid($client, 0);
waitpid($sleeper, 0);
is($answer, '200 OK', 'request in flight during SIGTERM answered');
is($t->stop_backend($b), 0, 'backend exited 0 after draining');
like(OvsaBackend::slurp($b->{log}), qr/draining.*\n.*exiting/s,
     'drained, then exited');

done_testing();
