# 044-redis-cluster.t: two ovsa-backend processes on a three-master Redis
# Cluster (redis.cluster: true, redis.address a seed node).  The
# contention tests hold exactly: N concurrent checkouts of a floating
# license with S seats give S leases, concurrent spends of a usage-count
# license give exactly its limit, concurrent activations exactly
# max_activations.  They still hold while the slots of three licenses
# under load move from one master to another (CLUSTER SETSLOT
# IMPORTING/MIGRATING, MIGRATE, SETSLOT NODE: what redis-cli --cluster
# reshard does), with no INTERNAL answer: the backends follow ASK,
# TRYAGAIN and MOVED by themselves.  A seed that is no cluster node, or a
# database other than 0, is refused at start.
use strict;
use warnings;
use File::Basename qw(dirname);
use lib dirname(__FILE__) . '/lib';
use Fcntl qw(:flock);
use POSIX qw(_exit);
use Time::HiRes ();
use Test::More;
use OvsaBackend;

my $t = OvsaBackend->new(offset => 440);
my $d = $t->dir;
my @nodes = map { $t->port } 1 .. 3;
my $WORKERS = 12;

# ---- the cluster

sub rc {
    my ($port, @args) = @_;
    open my $fh, '-|', 'redis-cli', '-p', $port, @args or die "redis-cli: $!";
    local $/;
    my $out = <$fh> // '';
    close $fh;
    $out =~ s/\n\z//;
    return $out;
}

my @pids;
for my $p (@nodes) {
    mkdir "$d/n$p";
    push @pids, OvsaBackend::spawn("$d/n$p/redis.log", 'redis-server',
        '--port', $p, '--bind', '127.0.0.1', '--dir', "$d/n$p",
        '--cluster-enabled', 'yes',
        '--cluster-config-file', "$d/n$p/nodes.conf",
        '--cluster-node-timeout', 5000,
        '--appendonly', 'yes', '--appendfsync', 'everysec', '--save', '',
        '--maxmemory-policy', 'noeviction');
    OvsaBackend::wait_port($p) or die "redis-server did not start on $p";
}
END { OvsaBackend::stop_pid($_) for @pids }

my $out = `redis-cli --cluster create @{[ map { "127.0.0.1:$_" } @nodes ]} --cluster-yes 2>&1`;
die "cluster create failed:\n$out" if $?;
my $end = time + 20;
while (time < $end) {
    last unless grep { rc($_, 'CLUSTER', 'INFO') !~ /cluster_state:ok/ } @nodes;
    Time::HiRes::sleep(0.1);
}
for my $p (@nodes) {
    like(rc($p, 'CLUSTER', 'INFO'), qr/cluster_state:ok/, "node $p: cluster ok");
}

my %id = map { $_ => rc($_, 'CLUSTER', 'MYID') } @nodes;
my %port_of = reverse %id;

sub slot_of { rc($nodes[0], 'CLUSTER', 'KEYSLOT', $t->key('lic', $_[0])) }

# the port of the master serving slot s, as node $ask sees it
sub owner {
    my ($s, $ask) = @_;
    for my $line (split /\n/, rc($ask // $nodes[0], 'CLUSTER', 'NODES')) {
        my @f = split ' ', $line;
        next unless $f[2] =~ /master/;
        for my $r (@f[8 .. $#f]) {
            my ($a, $b) = $r =~ /^(\d+)(?:-(\d+))?$/ or next;
            return $port_of{$f[0]} if $s >= $a && $s <= ($b // $a);
        }
    }
    return undef;
}

# Moves slot s from its master to the next one, as redis-cli --cluster
# reshard does, pausing $pause s in each transitional state so the load
# meets it; returns the new owner's port.
sub migrate {
    my ($s, $pause) = @_;
    my $from = owner($s);
    my ($to) = grep { $_ != $from } @nodes;
    rc($to, 'CLUSTER', 'SETSLOT', $s, 'IMPORTING', $id{$from}) eq 'OK'
        or die "IMPORTING";
    rc($from, 'CLUSTER', 'SETSLOT', $s, 'MIGRATING', $id{$to}) eq 'OK'
        or die "MIGRATING";
    Time::HiRes::sleep($pause);
    for (1 .. 100) {
        my @k = split /\n/, rc($from, 'CLUSTER', 'GETKEYSINSLOT', $s, 100);
        last unless @k;
        my $r = rc($from, 'MIGRATE', '127.0.0.1', $to, '', 0, 5000,
                   'KEYS', @k);
        die "MIGRATE: $r" unless $r =~ /^(OK|NOKEY)$/;
    }
    Time::HiRes::sleep($pause);
    for my $p ($to, $from, grep { $_ != $to && $_ != $from } @nodes) {
        rc($p, 'CLUSTER', 'SETSLOT', $s, 'NODE', $id{$to}) eq 'OK'
            or die "SETSLOT NODE on $p";
    }
    return $to;
}

sub stat_of {
    my ($p, $name) = @_;
    my ($n) = rc($p, 'INFO', 'all') =~ /^\Q$name\E:(?:calls|count)=(\d+)/m;
    return $n // 0;
}

# ---- backends

$t->{redis_port} = $nodes[1];       # the seed node
my @b = map { $t->start_backend(name => "b$_", threads => 4,
                                redis_extra => 'cluster: true') } 1 .. 2;

# forks $WORKERS clients running $code->($i, $backend); each returns a
# hash of counts written to a file; returns the sums
sub swarm {
    my ($name, $code, $n) = @_;
    my @kids;
    for my $i (1 .. ($n // $WORKERS)) {
        my $pid = fork // die "fork: $!";
        if ($pid == 0) {
            $t->{conns} = {};
            my $res = eval { $code->($i, $b[$i % 2]) }
                      || { died => 1, error => "$@" };
            OvsaBackend::spew("$d/$name.$i", $OvsaBackend::JSON->encode($res));
            _exit(0);
        }
        push @kids, [$pid, $i];
    }
    return sub {
        my %sum;
        for my $k (@kids) {
            waitpid($k->[0], 0);
            my $r = $OvsaBackend::JSON->decode(
                OvsaBackend::slurp("$d/$name.$k->[1]"));
            for (keys %$r) {
                if ($_ eq 'error') { diag "worker $k->[1]: $r->{error}" }
                else { $sum{$_} += $r->{$_} }
            }
        }
        return \%sum;
    };
}

# One operation as the SDK does it: a 503 (the store could not answer)
# is retried with the same request id, which tells the outcome of an
# attempt that did run.  Counts every answer code in %$c.
sub op {
    my ($c, $b, $path, $body) = @_;
    for (1 .. 20) {
        my ($st, $a) = $t->api($b, $path, $body);
        my $code = $a ? $a->{code} : "HTTP$st";
        $c->{$code}++;
        return ($st, $a) unless $st == 503;
        Time::HiRes::sleep(0.05);
    }
    return (503, undef);
}

sub admin_show {
    my ($id) = @_;
    my ($st, $a) = $t->admin($b[0], 'GET', "/admin/v1/licenses/$id");
    die "show $id: $st" unless $st == 200;
    return $a;
}

# a counter shared by the client processes: +1 / -1, keeps the maximum
sub holders {
    my ($file, $delta) = @_;
    open my $fh, '+>>', $file or die "$file: $!";
    flock $fh, LOCK_EX or die;
    seek $fh, 0, 0;
    my ($cur, $max) = split ' ', (<$fh> // '0 0');
    $cur += $delta;
    $max = $cur if $cur > $max;
    truncate $fh, 0;
    print $fh "$cur $max\n";
    close $fh;
    return $cur;
}

# ---- the contention tests, each license in a slot of its own

my $SEATS = 3;
my $USES = 20;
my $MAXACT = 5;

# the bursts: every worker at once
sub bursts {
    my ($tag) = @_;
    my $seats = swarm("seats$tag", sub {
        my ($i, $b) = @_;
        my %c;
        op(\%c, $b, '/v1/lease/checkout', { license_id => "F$tag",
            client_id => "w$i", request_id => "co-$tag-$i" });
        return \%c;
    });
    my $uses = swarm("uses$tag", sub {
        my ($i, $b) = @_;
        my %c;
        for my $k (1 .. 4) {
            op(\%c, $b, '/v1/check', { license_id => "U$tag",
                                       request_id => "u-$tag-$i-$k" });
        }
        return \%c;
    });
    my $acts = swarm("acts$tag", sub {
        my ($i, $b) = @_;
        my %c;
        op(\%c, $b, '/v1/activate', { license_id => "N$tag",
                                      hwid => "host-$tag-$i" });
        return \%c;
    });
    return ($seats->(), $uses->(), $acts->());
}

sub import_set {
    my ($tag, %lim) = @_;
    $t->import_ok($b[0], $t->license(license_id => "F$tag", type => 'floating',
        limits => { seats => $lim{seats}, lease_seconds => 60 }));
    $t->import_ok($b[1], $t->license(license_id => "U$tag",
        type => 'usage-count', limits => { usage => $lim{usage} }));
    # deactivations limited but never reached: the log (dz) is written
    $t->import_ok($b[0], $t->license(license_id => "N$tag",
        type => 'node-locked', limits => { max_activations => $lim{maxact},
        deactivations => 1000000, deactivation_period => 3600 }));
}

import_set(1, seats => $SEATS, usage => $USES, maxact => $MAXACT);
my %where = map { $_ => owner(slot_of("${_}1")) } qw(F U N);
diag "slots: " . join(', ', map { "${_}1 -> " . slot_of("${_}1")
                                  . " on $where{$_}" } qw(F U N));

my ($s, $u, $a) = bursts(1);
subtest 'on a cluster: exact counts' => sub {
    is($s->{OK}, $SEATS, "$WORKERS concurrent checkouts: exactly $SEATS leases");
    is($s->{NO_SEATS}, $WORKERS - $SEATS, 'the others NO_SEATS');
    is($u->{OK}, $USES, "concurrent spends: exactly $USES");
    is($u->{USAGE_EXHAUSTED}, $WORKERS * 4 - $USES, 'the others exhausted');
    is($a->{OK}, $MAXACT, "concurrent activations: exactly $MAXACT");
    is($a->{MAX_ACTIVATIONS}, $WORKERS - $MAXACT, 'the others refused');
    is($_->{INTERNAL} // 0, 0, 'no INTERNAL') for $s, $u, $a;
    is(scalar @{ admin_show('F1')->{leases} }, $SEATS, 'the store agrees: leases');
    is(admin_show('U1')->{record}{used}, $USES, 'the store agrees: used');
    is(scalar @{ admin_show('N1')->{activations} }, $MAXACT,
       'the store agrees: activations');
};

# ---- the same under load while the three slots migrate

my $USES2 = 5000;
my $MAXACT2 = 2;
import_set(2, seats => $SEATS, usage => $USES2, maxact => $MAXACT2);
my %slot2 = map { $_ => slot_of("${_}2") } qw(F U N);
my %from2 = map { $_ => owner($slot2{$_}) } qw(F U N);
my $stop = "$d/stop";
my $hseat = "$d/holders.seats";
my $hact = "$d/holders.acts";
OvsaBackend::spew($_, "0 0\n") for $hseat, $hact;
my %asking0 = map { $_ => stat_of($_, 'cmdstat_asking') } @nodes;

my $load = swarm('load', sub {
    my ($i, $b) = @_;
    my %c = (over => 0, lost => 0);
    my $k = 0;
    while (!-e $stop) {
        $k++;
        my $kind = $i % 3;
        if ($kind == 0) {               # a seat: take, use, give back
            my ($st, $a) = op(\%c, $b, '/v1/lease/checkout', { license_id => 'F2',
                client_id => "w$i", request_id => "l-$i-$k" });
            next unless $st == 200;
            $c{seats_ok}++;
            $c{over}++ if $a->{seats_used} > $SEATS;
            holders($hseat, +1);
            my ($s2) = op(\%c, $b[($i + 1) % 2], '/v1/check',
                          { license_id => 'F2', lease_id => $a->{lease_id} });
            $c{lost}++ unless $s2 == 200;
            holders($hseat, -1);
            my ($s3) = op(\%c, $b, '/v1/lease/checkin',
                          { license_id => 'F2', lease_id => $a->{lease_id} });
            $c{lost}++ unless $s3 == 200;
        } elsif ($kind == 1) {          # a use
            my ($st) = op(\%c, $b, '/v1/check', { license_id => 'U2',
                                                  request_id => "s-$i-$k" });
            $c{uses_ok}++ if $st == 200;
        } else {                        # an activation, then give it back
            my ($st, $a) = op(\%c, $b, '/v1/activate', { license_id => 'N2',
                                                         hwid => "h-$i" });
            next unless $st == 200;
            $c{acts_ok}++;
            $c{over}++ if $a->{activations} > $MAXACT2;
            holders($hact, +1);
            Time::HiRes::sleep(0.005);
            holders($hact, -1);
            my ($s2) = op(\%c, $b, '/v1/deactivate',
                          { license_id => 'N2', hwid => "h-$i" });
            $c{lost}++ unless $s2 == 200;
        }
        Time::HiRes::sleep(0.002);
    }
    return \%c;
});

Time::HiRes::sleep(0.5);
my %to2;
for my $x (qw(U F N)) {
    $to2{$x} = migrate($slot2{$x}, 0.15);
    Time::HiRes::sleep(0.3);
}
Time::HiRes::sleep(0.5);
OvsaBackend::spew($stop, "1\n");
my $l = $load->();
my (undef, $seat_max) = split ' ', OvsaBackend::slurp($hseat);
my (undef, $act_max) = split ' ', OvsaBackend::slurp($hact);
my $asking = 0;
$asking += stat_of($_, 'cmdstat_asking') - $asking0{$_} for @nodes;
diag "under migration: " . join(', ', map { "$_=$l->{$_}" } sort keys %$l)
     . "; ASKING sent $asking times";

subtest 'slots moved under load' => sub {
    for my $x (qw(F U N)) {
        isnt($from2{$x}, $to2{$x}, "${x}2: slot $slot2{$x} moved");
        is(owner($slot2{$x}, $_), $to2{$x}, "  node $_ agrees") for @nodes;
    }
    ok(!$l->{died}, 'no client died');
    is($l->{INTERNAL} // 0, 0, 'no INTERNAL answer');
    ok(!grep({ /^HTTP/ } keys %$l), 'every answer was JSON');
    ok($l->{seats_ok} && $l->{uses_ok} && $l->{acts_ok},
       'leases, uses and activations were granted during the load');
    is($l->{over}, 0, 'the server never reported more than the limit');
    cmp_ok($seat_max, '<=', $SEATS, "at most $SEATS lease holders at once");
    cmp_ok($act_max, '<=', $MAXACT2, "at most $MAXACT2 activations at once");
    is($l->{lost}, 0, 'no granted lease or activation was lost');
    cmp_ok($asking, '>', 0, 'the backends followed ASK redirections');
    is(scalar @{ admin_show('F2')->{leases} }, 0, 'every lease given back');
    is(scalar @{ admin_show('N2')->{activations} }, 0,
       'every activation given back');
    is(admin_show('U2')->{record}{used}, $l->{uses_ok},
       'used = the spends answered OK');
};

# after the move: the counts still hold exactly on the new owners
my ($s2, $u2, $a2) = bursts(2);
subtest 'after the migration: exact counts' => sub {
    is($s2->{OK}, $SEATS, "exactly $SEATS leases");
    is($a2->{OK}, $MAXACT2, "exactly $MAXACT2 activations");
    is($u2->{OK}, $WORKERS * 4, 'every spend granted (limit not reached)');
    is(admin_show('U2')->{record}{used}, $l->{uses_ok} + $WORKERS * 4,
       'used = every spend answered OK');
    is($_->{INTERNAL} // 0, 0, 'no INTERNAL') for $s2, $u2, $a2;
};

# ---- configurations refused at start

my $plain = $t->port;
push @pids, OvsaBackend::spawn("$d/plain.log", 'redis-server', '--port',
    $plain, '--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes',
    '--dir', $d);
OvsaBackend::wait_port($plain) or die "redis-server did not start on $plain";
$t->{redis_port} = $plain;
for my $case (['cluster: true', qr/\[emerg\] redis\.cluster is true but 127\.0\.0\.1:$plain is not a cluster node/,
               'a seed that is no cluster node'],
              ['cluster: true, db: 1', qr/\[emerg\] redis\.db: must be 0 with redis\.cluster: true/,
               'a database other than 0']) {
    my $conf = $t->conf(name => 'b3', listen => '127.0.0.1:' . $t->port,
                        admin_listen => '127.0.0.1:' . $t->port,
                        redis_extra => $case->[0]);
    my $msg = `timeout 20 $OvsaBackend::BIN/bin/ovsa-backend -c $conf 2>&1`;
    is($? >> 8, 1, "$case->[2]: the start fails");
    like($msg, $case->[1], '  saying why') or diag $msg;
}

for my $b (@b) {
    my @bad = grep { /\[(crit|alert)\]/ } split /\n/, OvsaBackend::slurp($b->{log});
    is(scalar @bad, 0, "$b->{name}: nothing critical logged")
        or diag join("\n", @bad[0 .. ($#bad < 4 ? $#bad : 4)]);
    is($t->stop_backend($b), 0, "$b->{name} exits 0");
}

done_testing();
