# 042-redis-stall.t: a stalled Redis does not take every thread, and no
# spend happens without an answer that says so or a retry that finds it
# (issue 11, items 3 and 4).
#
# 1. A proxy holds Redis's reply after the script ran: the backend times
#    out and answers 503 STORE_UNAVAILABLE with Retry-After; the retry
#    with the same request id returns the original outcome ("replayed"),
#    for a usage spend and for a checkout, and nothing was spent twice.
# 2. Redis SIGSTOPped for 4 s (the issue measured 10 s; 4 s keeps
#    `make test` short and shows the same thing) under load from 8
#    clients on a 4-thread backend: the answers during the stall are fast
#    503s (asserted well under timeout_ms * threads; p99 printed), every
#    503'd spend retried with its request id after SIGCONT is a 200, and
#    used == acknowledged + retried; the backend recovers by itself.
use strict;
use warnings;
use File::Basename qw(dirname);
use lib dirname(__FILE__) . '/lib';
use POSIX qw(_exit);
use Test::More;
use Time::HiRes qw(sleep time);
use OvsaBackend;
use OvsaRedisProxy;

my $t = OvsaBackend->new(offset => 150);
$t->start_redis;
my $JSON = $OvsaBackend::JSON;

sub show {
    my ($b, $id) = @_;
    my ($st, $a) = $t->admin($b, 'GET', "/admin/v1/licenses/$id");
    die "show $id: $st" unless $st == 200;
    return $a;
}

# Polls a check until it is no 503 (the breaker closes by itself).
sub until_served {
    my ($b, $id) = @_;
    my $t0 = time;
    my ($st, $a);
    while (time - $t0 < 10) {
        ($st, $a) = $t->api($b, '/v1/check', { license_id => $id });
        return time - $t0 if $st != 503;
        sleep 0.05;
    }
    return undef;
}

# ---- 1. the script ran, its answer was lost
{
    my $proxy = OvsaRedisProxy->start($t->port, $t->{redis_port});
    my $b = $t->start_backend(name => 'px', redis_port => $proxy->port,
                              redis_timeout => 300, breaker_open_ms => 500);
    $t->import_ok($b, $t->license(license_id => 'U1', type => 'usage-count',
                                  limits => { usage => 10 }));
    $t->import_ok($b, $t->license(license_id => 'F1', type => 'floating',
        limits => { seats => 3, lease_seconds => 600 }));
    my ($st, $a, $r) = $t->api($b, '/v1/check',
                               { license_id => 'U1', request_id => 'warm' });
    is("$st $a->{code} $a->{usage_remaining}", '200 OK 9', 'warm-up spend');

    $proxy->arm;
    ($st, $a, $r) = $t->api($b, '/v1/check',
                            { license_id => 'U1', request_id => 'lost-1' });
    is("$st $a->{code}", '503 STORE_UNAVAILABLE',
       'reply held past timeout_ms: 503');
    like($r->{headers}{'retry-after'} // '', qr/^[1-9]\d*$/, 'Retry-After');
    $proxy->release;
    ok(defined until_served($b, 'F1'), 'served again after the breaker');
    is(show($b, 'U1')->{record}{used}, 2,
       'the script did run: the use is spent');

    ($st, $a) = $t->api($b, '/v1/check',
                        { license_id => 'U1', request_id => 'lost-1' });
    is("$st $a->{code}", '200 OK', 'retry with the same request id: 200');
    ok($a->{replayed}, 'replayed: the original outcome');
    is($a->{usage_remaining}, 8, 'the original usage_remaining');
    is(show($b, 'U1')->{record}{used}, 2, 'not spent twice');

    # a checkout: the seat was taken, its answer lost
    $proxy->arm;
    ($st, $a) = $t->api($b, '/v1/lease/checkout',
        { license_id => 'F1', client_id => 'c1', request_id => 'lost-2' });
    is("$st $a->{code}", '503 STORE_UNAVAILABLE', 'checkout answer lost');
    $proxy->release;
    until_served($b, 'F1');
    is(scalar @{ show($b, 'F1')->{leases} }, 1, 'the seat was taken');
    ($st, $a) = $t->api($b, '/v1/lease/checkout',
        { license_id => 'F1', client_id => 'c1', request_id => 'lost-2' });
    is("$st $a->{code}", '200 OK', 'checkout retried: 200');
    ok($a->{replayed}, 'replayed');
    is($a->{lease_id}, show($b, 'F1')->{leases}[0]{lease_id},
       'the lease taken by the lost attempt');
    is(scalar @{ show($b, 'F1')->{leases} }, 1, 'one seat, not two');

    like(OvsaBackend::slurp($b->{log}),
         qr/circuit breaker open for 500 ms.*\n(?:.*\n)*.*circuit breaker closed/,
         'breaker opening and closing logged');
    $t->stop_backend($b);
    $proxy->stop;
}

# ---- 2. SIGSTOP under load
my $THREADS = 4;
my $TIMEOUT = 500;
my $CLIENTS = 8;
my $sb = $t->start_backend(name => 'st', threads => $THREADS,
                          redis_timeout => $TIMEOUT);
$t->import_ok($sb, $t->license(license_id => 'U2', type => 'usage-count',
                              limits => { usage => 1000000 }));
$t->import_ok($sb, $t->license(license_id => 'P2'));
ok(defined until_served($sb, 'P2'), 'serving');

my $d = $t->dir;
my $stop_at = time + 7;
my @kids;
for my $k (1 .. $CLIENTS) {
    my $pid = fork // die;
    if ($pid == 0) {
        $t->{conns} = {};
        open my $out, '>', "$d/load.$k" or _exit(1);
        my $n = 0;
        while (time < $stop_at) {
            my $rid = "k$k-" . ++$n;
            my $t0 = time;
            my ($st, $a) = $t->api($sb, '/v1/check',
                                   { license_id => 'U2', request_id => $rid });
            printf $out "%s %d %s %.4f %.4f\n", $rid, $st,
                   $a ? $a->{code} : 'none', $t0, time - $t0;
            # a 503 is retried later, not now (the test does it below)
            sleep 0.05 if $st == 503;
        }
        close $out;
        _exit(0);
    }
    push @kids, $pid;
}

sleep 1.5;
my $stopped = time;
kill 'STOP', $t->{redis_pid};
sleep 4;
kill 'CONT', $t->{redis_pid};
my $resumed = time;
waitpid($_, 0) for @kids;

my (@rows, @all, @stall);
for my $k (1 .. $CLIENTS) {
    open my $in, '<', "$d/load.$k" or die;
    while (<$in>) {
        my ($rid, $st, $code, $t0, $lat) = split;
        push @rows, [$rid, $st, $code, $t0, $lat];
        # every answer to a request sent while Redis was stopped, and
        # those sent after the first timeout (the breaker is open)
        push @all, $lat if $t0 >= $stopped && $t0 < $resumed;
        push @stall, $lat if $t0 > $stopped + $TIMEOUT / 1000
                             && $t0 + $lat < $resumed;
    }
}
my @ok = grep { $_->[1] == 200 } @rows;
my @unavail = grep { $_->[1] == 503 } @rows;
my @other = grep { $_->[1] != 200 && $_->[1] != 503 } @rows;
is(scalar @other, 0, 'every answer is 200 or 503')
    or diag join "\n", map { "@$_" } @other[0 .. 4];
ok(!grep({ $_->[2] ne 'STORE_UNAVAILABLE' } @unavail),
   'the 503s are STORE_UNAVAILABLE');
ok(@stall > 20, 'requests answered during the stall: ' . scalar @stall);
my @s = sort { $a <=> $b } @stall;
my $p99 = @s ? $s[int(0.99 * $#s)] : 0;
my @w = sort { $a <=> $b } @all;
my $max = @w ? $w[-1] : 0;
diag sprintf "SIGSTOP 4 s, %d clients, %d threads, timeout_ms %d: "
    . "%d requests sent during the stall, p99 %.1f ms, max %.1f ms; "
    . "after the first timeout %d, p50 %.1f ms, p99 %.1f ms; "
    . "whole run %d acknowledged, %d answered 503",
    $CLIENTS, $THREADS, $TIMEOUT, scalar @w,
    1000 * ($w[int(0.99 * $#w)] // 0), 1000 * $max, scalar @s,
    1000 * ($s[int($#s / 2)] // 0), 1000 * $p99, scalar @ok,
    scalar @unavail;
ok($max < $TIMEOUT * $THREADS / 1000,
   "answers during the stall under timeout_ms * threads (max "
   . sprintf('%.0f ms)', 1000 * $max));

ok(defined until_served($sb, 'P2'), 'recovered by itself after SIGCONT');

my ($replayed, $fresh, $bad) = (0, 0, 0);
for my $row (@unavail) {
    my ($st, $a) = $t->api($sb, '/v1/check',
                           { license_id => 'U2', request_id => $row->[0] });
    if ($st != 200) { $bad++; next }
    $a->{replayed} ? $replayed++ : $fresh++;
}
is($bad, 0, 'every 503\'d spend retried with its request id: 200');
my $used = show($sb, 'U2')->{record}{used};
is($used, @ok + $replayed + $fresh,
   'used == acknowledged + retried (nothing spent without an answer)');
diag "retries: $replayed had spent (replayed), $fresh spent now";

my $log = OvsaBackend::slurp($sb->{log});
my $opened = () = $log =~ /circuit breaker open/g;
ok($opened >= 1, "breaker opened ($opened times)");
unlike($log, qr/circuit breaker open, not sent/,
       'refusals of the open breaker are not logged one by one');

done_testing();
