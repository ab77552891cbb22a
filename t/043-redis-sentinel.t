# 043-redis-sentinel.t: ovsa-backend on a replicated Redis behind Redis
# Sentinel (issue 11, item 2).  A master, two replicas and three
# sentinels (redis-server --sentinel) on loopback; two backends with
# redis.sentinels, redis.master_name and min_replicas_ack: 1.  Under
# concurrent activations, usage spends and checkouts through both
# backends the master is killed with SIGKILL; the sentinels promote a
# replica and the backends follow by themselves.  Afterwards: no
# acknowledged change is lost (every acknowledged activation checks OK,
# used = acknowledged spends + those a retry with the same request id
# confirmed, live leases = acknowledged leases), nothing is oversold,
# and both backends write again without a restart.  The unavailability
# window (first failed to first successful write) is printed.
# Then: a backend sent to a replica (a sentinel naming a replica, or a
# plain address of a replica) writes nothing and answers 503
# STORE_UNAVAILABLE; WAIT without enough replicas answers 503
# REPLICA_ACK_TIMEOUT and a retry with the same request id learns the
# outcome.
use strict;
use warnings;
use File::Basename qw(dirname);
use lib dirname(__FILE__) . '/lib';
use IO::Socket::INET;
use POSIX qw(_exit);
use Test::More;
use Time::HiRes qw(sleep time);
use OvsaBackend;

my $t = OvsaBackend->new(offset => 130);
my $d = $t->dir;
my $base = $t->{base};
my ($M, $R1, $R2) = ($base, $base + 1, $base + 2);
my @S = ($base + 3, $base + 4, $base + 5);
my $FAKE = $base + 6;
$t->{next_port} = $base + 7;
my %pid;

sub rcli {
    my ($port, @args) = @_;
    open my $fh, '-|', 'redis-cli', '-p', $port, @args or die "redis-cli: $!";
    local $/;
    my $out = <$fh> // '';
    close $fh;
    $out =~ s/\n\z//;
    return $out;
}

sub start_server {
    my ($name, $port, @more) = @_;
    mkdir "$d/$name";
    $pid{$name} = OvsaBackend::spawn("$d/$name.log", 'redis-server',
        '--port', $port, '--bind', '127.0.0.1', '--save', '',
        '--appendonly', 'yes', '--appendfsync', 'everysec',
        '--maxmemory-policy', 'noeviction', '--repl-diskless-sync-delay', 0,
        '--dir', "$d/$name", @more);
    OvsaBackend::wait_port($port) or die "$name did not start";
}

sub start_sentinel {
    my ($i) = @_;
    my $port = $S[$i];
    mkdir "$d/s$i";
    OvsaBackend::spew("$d/s$i/sentinel.conf",
        "port $port\nbind 127.0.0.1\ndir $d/s$i\n"
        . "sentinel monitor ovsa 127.0.0.1 $M 2\n"
        . "sentinel down-after-milliseconds ovsa 1000\n"
        . "sentinel failover-timeout ovsa 4000\n"
        . "sentinel parallel-syncs ovsa 2\n");
    $pid{"s$i"} = OvsaBackend::spawn("$d/s$i.log", 'redis-server',
        "$d/s$i/sentinel.conf", '--sentinel');
    OvsaBackend::wait_port($port) or die "sentinel $i did not start";
}

sub wait_until {
    my ($what, $secs, $code) = @_;
    my $end = time + $secs;
    while (time < $end) {
        return 1 if $code->();
        sleep 0.1;
    }
    diag "timed out: $what";
    return 0;
}

sub master_port {
    my ($s) = @_;
    my @a = split /\n/, rcli($s, 'SENTINEL', 'get-master-addr-by-name',
                             'ovsa');
    return $a[1] // 0;
}

start_server('m', $M);
start_server('r1', $R1, '--replicaof', '127.0.0.1', $M);
start_server('r2', $R2, '--replicaof', '127.0.0.1', $M);
start_sentinel($_) for 0 .. 2;

ok(wait_until('replicas in sync', 15, sub {
    my $i = rcli($M, 'INFO', 'replication');
    $i =~ /connected_slaves:2/ && 2 == (() = $i =~ /state=online/g);
}), 'master has two replicas in sync');
ok(wait_until('sentinels see each other and the replicas', 20, sub {
    for my $s (@S) {
        return 0 unless rcli($s, 'SENTINEL', 'master', 'ovsa')
            =~ /num-slaves\n2\n.*num-other-sentinels\n2\n/s;
    }
    1;
}), 'three sentinels, two replicas known');

my $sentinels = join(', ', map { "\"127.0.0.1:$_\"" } @S);
my $extra = "sentinels: [$sentinels], master_name: ovsa,"
          . " min_replicas_ack: 1, replicas_ack_timeout_ms: 1000";
my @b = map { $t->start_backend(name => "b$_", threads => 4,
                                redis_extra => $extra) } 1, 2;

my ($st, $a);
my ($USAGE, $SEATS, $MAXACT) = (400, 8, 1000);
$t->import_ok($b[0], $t->license(license_id => 'U1', type => 'usage-count',
    limits => { usage => $USAGE }));
$t->import_ok($b[1], $t->license(license_id => 'N1', type => 'node-locked',
    limits => { max_activations => $MAXACT }));
$t->import_ok($b[0], $t->license(license_id => 'F1', type => 'floating',
    limits => { seats => $SEATS, lease_seconds => 60 }));
($st, $a) = $t->api($b[1], '/v1/check', { license_id => 'U1',
                                          request_id => 'warm-1' });
is("$st $a->{code}", '200 OK', 'a spend through the other backend');

# ---- concurrent load, kill -9 of the master

my $WORKERS = 6;
my $stop = "$d/stop";
my $t0 = time;

sub worker {
    my ($i, $b) = @_;
    my (@acked_rid, @acked_hwid, %held, @ev, %pending);
    my $n = 0;
    my $ok = sub { $_[0] == 200 && $_[1] && $_[1]{code} eq 'OK' };
    my $outage = sub {       # a failure a retry must settle
        my ($st, $a) = @_;
        return $st == 599 || ($st == 503 && $a && $a->{code}
            =~ /^(STORE_UNAVAILABLE|REPLICA_ACK_TIMEOUT)$/);
    };
    my $note = sub { push @ev, [time, $_[0] ? 1 : 0] };
    while (!-e $stop || %pending) {
        last if time - $t0 > 40;
        $n++;
        my $kind = $n % 3;
        # a pending operation is retried, as the SDK does, with the same
        # request id (spends, checkouts) or the same hwid (activations)
        my ($p) = sort keys %pending;
        my $op = $p ? $pending{$p} : $kind == 0
            ? { k => 'spend', rid => "w$i-$n" }
            : $kind == 1 ? { k => 'act', hwid => "h$i-$n" }
            : { k => 'lease', rid => "c$i-$n" };
        my $key = $p // "$op->{k}-$n";
        my ($st, $a);
        if ($op->{k} eq 'spend') {
            ($st, $a) = $t->api($b, '/v1/check',
                { license_id => 'U1', request_id => $op->{rid} });
            if ($ok->($st, $a)) { push @acked_rid, $op->{rid} }
        } elsif ($op->{k} eq 'act') {
            ($st, $a) = $t->api($b, '/v1/activate',
                { license_id => 'N1', hwid => $op->{hwid} });
            if ($ok->($st, $a)) { push @acked_hwid, $op->{hwid} }
        } elsif (keys %held >= 1 && !$p && $n % 2) {
            my ($l) = sort keys %held;
            $op = { k => 'checkin', lease => $l };
            $key = "checkin-$n";
            ($st, $a) = $t->api($b, '/v1/lease/checkin',
                { license_id => 'F1', lease_id => $l });
            delete $held{$l} if $ok->($st, $a);
        } elsif ($op->{k} eq 'checkin') {
            ($st, $a) = $t->api($b, '/v1/lease/checkin',
                { license_id => 'F1', lease_id => $op->{lease} });
            # a retried checkin may find its first attempt done
            delete $held{$op->{lease}} if $ok->($st, $a)
                || ($st == 403 && $a->{code} eq 'LEASE_UNKNOWN');
        } else {
            ($st, $a) = $t->api($b, '/v1/lease/checkout',
                { license_id => 'F1', client_id => "w$i",
                  request_id => $op->{rid} });
            $held{$a->{lease_id}} = 1 if $ok->($st, $a);
        }
        if ($outage->($st, $a)) {
            $pending{$key} = $op;
            $note->(0);
            sleep 0.02;
        } else {
            delete $pending{$key};
            $note->(1) if $ok->($st, $a);
            return { error => "unexpected $st " . ($a ? $a->{code} : '') }
                if $st >= 500;
        }
    }
    return { rid => \@acked_rid, hwid => \@acked_hwid,
             held => [sort keys %held], ev => \@ev,
             pending => scalar keys %pending };
}

my @pids;
for my $i (1 .. $WORKERS) {
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        $t->{conns} = {};
        my $r = eval { worker($i, $b[$i % 2]) } || { error => "$@" };
        OvsaBackend::spew("$d/w$i.json", $OvsaBackend::JSON->encode($r));
        _exit(0);
    }
    push @pids, $pid;
}

sleep 3;
my $killed_at = time;
kill 'KILL', $pid{m};
waitpid($pid{m}, 0);
delete $pid{m};

ok(wait_until('failover', 20, sub { master_port($S[0]) != $M }),
   'the sentinels promoted a replica');
my $NEW = master_port($S[0]);
my $failover = time - $killed_at;
# let the load run on the new master for a while
wait_until('load on the new master', 10, sub {
    rcli($NEW, 'INFO', 'replication') =~ /connected_slaves:1.*state=online/s
});
sleep 2;
OvsaBackend::spew($stop, '');
waitpid($_, 0) for @pids;

my (%rid, %hwid, %held, @ev);
my $errors = 0;
for my $i (1 .. $WORKERS) {
    my $r = $OvsaBackend::JSON->decode(OvsaBackend::slurp("$d/w$i.json"));
    if ($r->{error}) { diag "worker $i: $r->{error}"; $errors++; next }
    $rid{$_}++ for @{ $r->{rid} };
    $hwid{$_}++ for @{ $r->{hwid} };
    $held{$_}++ for @{ $r->{held} };
    push @ev, @{ $r->{ev} };
    $errors++ if $r->{pending};
}
is($errors, 0, 'every worker settled every operation');

@ev = sort { $::a->[0] <=> $::b->[0] } @ev;   # (lexical $a)
my ($first_fail) = grep { !$_->[1] } @ev;
my ($back) = $first_fail ? grep { $_->[1] && $_->[0] > $first_fail->[0] } @ev
                         : ();
ok($first_fail && $back, 'writes failed during the failover, then resumed');
my $acked_ok = grep { $_->[1] } @ev;
diag sprintf("sentinel failover: %d writes acknowledged; master killed, "
    . "promotion seen after %.2f s; unavailability window (first failed to "
    . "first successful write) %.2f s",
    $acked_ok, $failover,
    $first_fail && $back ? $back->[0] - $first_fail->[0] : -1);

# ---- what the new master holds

($st, $a) = $t->admin($b[0], 'GET', '/admin/v1/licenses/U1');
is($st, 200, 'show U1');
my $used = $a->{record}{used};
my $spent = keys(%rid) + 1;          # + the warm-up spend
is($used, $spent, "used ($used) = acknowledged spends ($spent), "
   . 'retries included');
ok($used <= $USAGE, 'no use oversold');
is(scalar(grep { $_ > 1 } values %rid), 0, 'no request id acknowledged twice');

my @lost_act = grep {
    my ($s2, $a2) = $t->api($b[1], '/v1/check',
                            { license_id => 'N1', hwid => $_ });
    !($s2 == 200 && $a2->{code} eq 'OK');
} sort keys %hwid;
is(scalar @lost_act, 0, scalar(keys %hwid) . ' acknowledged activations '
   . 'all check OK') or diag "lost: @lost_act";
($st, $a) = $t->admin($b[1], 'GET', '/admin/v1/licenses/N1');
ok(@{ $a->{activations} } <= $MAXACT, 'activations within the limit');

($st, $a) = $t->admin($b[0], 'GET', '/admin/v1/licenses/F1');
my @live = sort map { $_->{lease_id} } @{ $a->{leases} };
is_deeply(\@live, [sort keys %held], scalar(@live) . ' live leases are '
          . 'exactly the acknowledged ones');
ok(@live <= $SEATS, 'no seat oversold');

for my $b (@b) {
    ($st, $a) = $t->api($b, '/v1/check', { license_id => 'U1',
                                           request_id => "after-$b->{name}" });
    is("$st $a->{code}", '200 OK', "$b->{name} writes on the new master");
    ok(kill(0, $b->{pid}), "$b->{name} was not restarted");
}

# ---- never written to a replica

# a "sentinel" that names a replica (a stale or misconfigured answer).
# The replica is chosen by what the servers say now, once the three
# sentinels agree on the master and it has one replica in sync: choosing
# "the one the first sentinel did not name" raced a late reconfiguration.
sub role { (split /\n/, rcli($_[0], 'ROLE'))[0] // '' }
my $REPLICA;
ok(wait_until('a settled master and replica', 20, sub {
    my %m = map { master_port($_) => 1 } @S;
    return 0 unless keys %m == 1;
    my ($mp) = keys %m;
    my @rep = grep { $_ != $mp && role($_) eq 'slave'
                     && rcli($_, 'INFO', 'replication')
                        =~ /master_port:$mp\b.*master_link_status:up/s }
              ($R1, $R2);
    return 0 unless role($mp) eq 'master' && @rep;
    $REPLICA = $rep[0];
    return 1;
}), 'the sentinels agree and a replica follows the master');
OvsaBackend::spew("$d/fake.port", $REPLICA);
my $fake = fork // die;
if ($fake == 0) {
    my $l = IO::Socket::INET->new(LocalAddr => "127.0.0.1:$FAKE",
        Listen => 5, ReuseAddr => 1) or _exit(1);
    while (my $c = $l->accept) {
        while (defined(my $line = <$c>)) {
            next unless $line =~ /^\*(\d+)/;
            <$c>, <$c> for 1 .. $1;           # "$len", value
            my $port = OvsaBackend::slurp("$d/fake.port");
            print $c "*2\r\n\$9\r\n127.0.0.1\r\n\$" . length($port)
                . "\r\n$port\r\n";
        }
    }
    _exit(0);
}
OvsaBackend::wait_port($FAKE);

my $keys = rcli($REPLICA, 'DBSIZE');
my $rb = $t->start_backend(name => 'onreplica', redis_extra =>
    "sentinels: [\"127.0.0.1:$FAKE\"], master_name: ovsa");
($st, $a) = $t->api($rb, '/v1/check', { license_id => 'U1',
                                        request_id => 'to-replica' });
is("$st $a->{code}", '503 STORE_UNAVAILABLE',
   'sentinel names a replica: 503 STORE_UNAVAILABLE');
like(OvsaBackend::slurp($rb->{log}), qr/whose ROLE is slave/,
     'logged: not the master');

# a plain address of a replica: READONLY, not INTERNAL
my $saved = $t->{redis_port};
$t->{redis_port} = $REPLICA;
my $pb = $t->start_backend(name => 'plainreplica');
$t->{redis_port} = $saved;
($st, $a) = $t->api($pb, '/v1/check', { license_id => 'U1',
                                        request_id => 'plain-replica' });
is("$st $a->{code}", '503 STORE_UNAVAILABLE',
   'plain address of a replica: 503 STORE_UNAVAILABLE, not INTERNAL');
($st, $a) = $t->api($pb, '/v1/activate', { license_id => 'N1',
                                           hwid => 'on-replica' });
is("$st $a->{code}", '503 STORE_UNAVAILABLE', 'activation: the same');
is(rcli($REPLICA, 'DBSIZE'), $keys, 'nothing was written to the replica');
($st, $a) = $t->api($b[0], '/v1/check', { license_id => 'N1',
                                          hwid => 'on-replica' });
is("$st $a->{code}", '403 HWID_NOT_ACTIVATED', 'nor to the master');

# a master the sentinels no longer name, though it still serves, is left
# within a second (the periodic check), without a restart or an error
OvsaBackend::spew("$d/fake.port", $NEW);
my $qb = $t->start_backend(name => 'periodic', redis_extra =>
    "sentinels: [\"127.0.0.1:$FAKE\"], master_name: ovsa");
($st, $a) = $t->api($qb, '/v1/check', { license_id => 'U1',
                                        request_id => 'periodic-1' });
is("$st $a->{code}", '200 OK', 'serving on the master the sentinel names');
my $OTHER = $t->port;
start_server('other', $OTHER);
OvsaBackend::spew("$d/fake.port", $OTHER);
sleep 1.3;
($st, $a) = $t->api($qb, '/v1/check', { license_id => 'U1',
                                        request_id => 'periodic-2' });
is("$st $a->{code}", '404 UNKNOWN_LICENSE',
   'the sentinel names another master: the backend moved to it by itself');
($st, $a) = $t->admin($b[0], 'GET', '/admin/v1/licenses/U1');
my $u1 = $a->{record}{used};
OvsaBackend::spew("$d/fake.port", $NEW);
sleep 1.3;
($st, $a) = $t->api($qb, '/v1/check', { license_id => 'U1',
                                        request_id => 'periodic-3' });
is("$st $a->{code}", '200 OK', 'and back');
($st, $a) = $t->admin($b[0], 'GET', '/admin/v1/licenses/U1');
is($a->{record}{used}, $u1 + 1, 'spent on the named master');
$t->stop_backend($qb);
kill 'TERM', $fake;
waitpid($fake, 0);

# ---- WAIT without enough replicas: REPLICA_ACK_TIMEOUT, retry learns

# the new master's replica goes away: nothing can acknowledge
kill 'KILL', $pid{$REPLICA == $R1 ? 'r1' : 'r2'};
waitpid($pid{$REPLICA == $R1 ? 'r1' : 'r2'}, 0);
delete $pid{$REPLICA == $R1 ? 'r1' : 'r2'};
wait_until('replica gone', 10, sub {
    rcli($NEW, 'INFO', 'replication') =~ /connected_slaves:0/
});
($st, $a) = $t->admin($b[0], 'GET', '/admin/v1/licenses/U1');
my $used0 = $a->{record}{used};
my $w0 = time;
($st, $a) = $t->api($b[0], '/v1/check', { license_id => 'U1',
                                          request_id => 'no-replica' });
my $waited = time - $w0;
is("$st $a->{code}", '503 REPLICA_ACK_TIMEOUT', 'no replica: 503 '
   . 'REPLICA_ACK_TIMEOUT');
like($a->{message}, qr/acknowledged by 0 of 1 replicas within 1000 ms/,
     'the message gives acked/N');
ok($waited >= 0.9 && $waited < 5, sprintf('after the WAIT timeout (%.2f s)',
                                          $waited));
($st, $a) = $t->admin($b[0], 'GET', '/admin/v1/licenses/U1');
is($a->{record}{used}, $used0 + 1, 'the use was spent on the master');
($st, $a) = $t->api($b[1], '/v1/check', { license_id => 'U1',
                                          request_id => 'no-replica' });
is("$st $a->{code}", '503 REPLICA_ACK_TIMEOUT',
   'the retry (other backend) still waits for a replica');
is($a->{replayed}, undef, 'and says nothing else');
($st, $a) = $t->admin($b[0], 'GET', '/admin/v1/licenses/U1');
is($a->{record}{used}, $used0 + 1, 'the retry did not spend again');
($st, $a) = $t->admin($b[0], 'GET', '/admin/v1/licenses/U1');
is($st, 200, 'admin reads do not wait for replicas');

# the replica returns: the retry with the same request id is answered
start_server($REPLICA == $R1 ? 'r1b' : 'r2b', $REPLICA == $R1 ? $R1 : $R2,
             '--replicaof', '127.0.0.1', $NEW);
ok(wait_until('replica back', 15, sub {
    rcli($NEW, 'INFO', 'replication') =~ /connected_slaves:1.*state=online/s
}), 'a replica is back');
($st, $a) = $t->api($b[1], '/v1/check', { license_id => 'U1',
                                          request_id => 'no-replica' });
is("$st $a->{code}", '200 OK', 'the retry now succeeds');
ok($a->{replayed}, 'as a replay of the first spend');
($st, $a) = $t->admin($b[0], 'GET', '/admin/v1/licenses/U1');
is($a->{record}{used}, $used0 + 1, 'spent once');

END {
    local $?;
    for (values %pid) { kill 'KILL', $_; waitpid($_, 0) }
}

done_testing;
