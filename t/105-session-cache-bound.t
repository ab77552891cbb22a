#!/usr/bin/perl
# 105-session-cache-bound.t: the nginx worker's memory growth over many
# TLS connections (issue 16, item 6) is the shared TLS session cache
# filling up, and it stops at the zone's size.
#
# nginx with ovsa_tls and `ssl_session_cache shared:t105:1m`; rounds of
# new TLS connections (a full handshake each, ovsa-bench-conn) to the
# chain endpoint; after each round the worker's RssShmem and RssAnon
# (/proc/PID/status).  Asserts:
#   - the cache is used: RssShmem grows by more than 256 kB;
#   - it is bounded: RssShmem never exceeds the 1 MB zone (+ 16 kB of
#     nginx's other shared pages), and once the zone is full further
#     connections add nothing;
#   - the worker's private memory does not grow per connection: RssAnon
#     over the second half of the connections grows by less than 16
#     bytes per connection (a pool or OpenSSL object kept per
#     connection would be hundreds);
#   - every request answered 200, nothing logged at [alert] or [crit].
#
# Ports: OVSA_TEST_PORT_BASE + 220 (16e's offset).
use strict;
use warnings;

BEGIN {
    $ENV{TEST_NGINX_PORT} = ($ENV{OVSA_TEST_PORT_BASE} || 19800) + 220;
}

use lib 't/lib';
use OvsaTest;
use Test::More;

my $conn = "$OvsaTest::BUILD/bin/ovsa-bench-conn";
plan skip_all => "$conn not built (run make)" unless -x $conn;

my $ZONE_KB = 1024;
my $ROUNDS = 8;
my $PER_ROUND = 1000;     # connections per round (2 threads x 500)

my $conf = nginx_conf(
    yaml => <<'YAML',
identity:
  chain: $PKI/chain-ec.pem
  key: $PKI/leaf-ec.key
  root: $PKI/root.pem
YAML
    tls => 1,
    config => <<'CONF');
        ssl_session_cache shared:t105:1m;
        ssl_session_timeout 1h;
        location = /.well-known/ovsa/chain {
            ovsa_chain;
        }
CONF
my $master = start_nginx($conf);

sub worker_pid {
    for (1 .. 50) {
        my $kids = qx{pgrep -P $master};
        my ($pid) = $kids =~ /(\d+)/;
        return $pid if $pid;
        select(undef, undef, undef, 0.1);
    }
    die "no nginx worker under $master";
}

my $worker = worker_pid();

sub mem {
    my $s = read_file("/proc/$worker/status");
    my ($anon) = $s =~ /^RssAnon:\s+(\d+)/m;
    my ($shmem) = $s =~ /^RssShmem:\s+(\d+)/m;
    die "no RssAnon/RssShmem in /proc/$worker/status"
        unless defined $anon && defined $shmem;
    return ($anon, $shmem);
}

# round: $PER_ROUND new TLS connections; returns the number answered 200
sub round {
    my $out = qx{$conn -connect 127.0.0.1:$PORT -c 2 -n @{[ $PER_ROUND / 2 ]} -t 120 -path /.well-known/ovsa/chain 2>&1};
    my ($n) = $out =~ /requests=(\d+)/;
    my ($e) = $out =~ /errors=(\d+)/;
    diag($out) unless defined $n && defined $e && $e == 0;
    return (defined $e && $e == 0) ? $n : 0;
}

# warm-up: the first connections allocate the worker's long-lived
# buffers and OpenSSL's caches
is(round(), $PER_ROUND, 'warm-up: every connection answered 200');
my @samples = ([0, mem()]);
my $total = 0;
for my $i (1 .. $ROUNDS) {
    my $n = round();
    is($n, $PER_ROUND, "round $i: every connection answered 200");
    $total += $n;
    push @samples, [$total, mem()];
}
diag(join "\n", 'connections RssAnon kB RssShmem kB',
     map { "$_->[0] $_->[1] $_->[2]" } @samples);

my ($first, $last) = ($samples[0], $samples[-1]);
cmp_ok($last->[2] - $first->[2], '>', 256,
       'the session cache is used: RssShmem grew by more than 256 kB');
my ($max) = sort { $b <=> $a } map { $_->[2] } @samples;
cmp_ok($max, '<=', $ZONE_KB + 16,
       'RssShmem never exceeds the 1 MB zone (+16 kB)');

# the zone is full once RssShmem reaches it; from then on no growth
my ($full) = grep { $_->[2] >= $ZONE_KB - 16 } @samples;
ok($full, 'the zone filled up within the run') or BAIL_OUT('no plateau');
cmp_ok($last->[0] - $full->[0], '>=', 2 * $PER_ROUND,
       'at least two rounds after the zone filled');
cmp_ok($last->[2] - $full->[2], '<=', 4,
       'once full, more connections add no shared memory');

my $mid = $samples[@samples / 2];
my $per_conn = ($last->[1] - $mid->[1]) * 1024 / ($last->[0] - $mid->[0]);
cmp_ok($per_conn, '<', 16,
       sprintf('RssAnon grows less than 16 bytes per connection '
               . '(%.2f over the second half)', $per_conn));

ok(kill(0, $worker), 'the same worker served every round');
unlike(read_file("$SERVROOT/logs/error.log"), qr/\[(alert|crit|emerg)\]/,
       'nothing logged at [alert], [crit] or [emerg]');

stop_nginx();
done_testing();
