# 032-backend-concurrency.t: two ovsa-backend processes on one Redis,
# many concurrent client processes.  A 5-seat floating license never has
# more than 5 holders (seen by the clients, by the server's answers and
# by a monitor polling Redis) and no granted lease is lost; a usage-count
# license of N gives exactly N successes.  Several rounds.
use strict;
use warnings;
use File::Basename qw(dirname);
use lib dirname(__FILE__) . '/lib';
use Fcntl qw(:flock);
use IO::Socket::INET;
use POSIX qw(_exit);
use Time::HiRes ();
use Test::More;
use OvsaBackend;

my $t = OvsaBackend->new(offset => 20);
$t->start_redis;
my @b = ($t->start_backend(name => 'b1', threads => 4),
         $t->start_backend(name => 'b2', threads => 4));
my $d = $t->dir;
my $WORKERS = 16;
my $ROUNDS = 3;
my $SEATS = 5;
my $N = 40;

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

# forks $WORKERS clients running $code->($i, $backend); each returns a
# hash of counts written to a file; returns the sums
sub swarm {
    my ($name, $code) = @_;
    my @pids;
    for my $i (1 .. $WORKERS) {
        my $pid = fork // die "fork: $!";
        if ($pid == 0) {
            $t->{conns} = {};               # no sockets shared with parent
            my $res = eval { $code->($i, $b[$i % 2]) }
                      || { died => 1, error => "$@" };
            OvsaBackend::spew("$d/$name.$i",
                              $OvsaBackend::JSON->encode($res));
            _exit(0);
        }
        push @pids, $pid;
    }
    waitpid($_, 0) for @pids;
    my %sum;
    for my $i (1 .. $WORKERS) {
        my $r = $OvsaBackend::JSON->decode(
            OvsaBackend::slurp("$d/$name.$i"));
        for (keys %$r) {
            if ($_ eq 'error') { diag "worker $i: $r->{error}" }
            else { $sum{$_} += $r->{$_} }
        }
    }
    return \%sum;
}

# polls ZCARD of the lease set over RESP until stopped; keeps the maximum
sub start_monitor {
    my ($key, $file) = @_;
    my $pid = fork // die;
    if ($pid == 0) {
        my $s = IO::Socket::INET->new("127.0.0.1:$t->{redis_port}") or _exit(1);
        my $max = 0;
        my $stop = 0;
        local $SIG{TERM} = sub { $stop = 1 };
        my $n = 0;
        while (!$stop) {
            print $s "*2\r\n\$5\r\nZCARD\r\n\$" . length($key) . "\r\n$key\r\n";
            my $line = <$s>;
            last unless defined $line;
            my ($v) = $line =~ /^:(\d+)/;
            $max = $v if defined $v && $v > $max;
            $n++;
        }
        OvsaBackend::spew($file, "$max $n\n");
        _exit(0);
    }
    return $pid;
}

for my $round (1 .. $ROUNDS) {
    my $F = "F$round";
    my $U = "U$round";
    $t->import_ok($b[0], $t->license(license_id => $F, type => 'floating',
        limits => { seats => $SEATS, lease_seconds => 60 }));
    $t->import_ok($b[1], $t->license(license_id => $U, type => 'usage-count',
        limits => { usage => $N }));
    my $hfile = "$d/holders.$round";
    OvsaBackend::spew($hfile, "0 0\n");
    my $mfile = "$d/monitor.$round";
    my $mon = start_monitor($t->key('lz', $F), $mfile);

    my $f = swarm("f$round", sub {
        my ($i, $b) = @_;
        my %c = (granted => 0, busy => 0, lost => 0, over => 0, ok_ops => 0);
        my $tries = 0;
        while ($c{granted} < 6 && $tries++ < 5000) {
            my ($st, $a) = $t->api($b, '/v1/lease/checkout',
                                   { license_id => $F, client_id => "w$i" });
            if ($st == 409 && $a->{code} eq 'NO_SEATS') {
                $c{busy}++;
                Time::HiRes::sleep(0.001 + rand(0.01));   # back off
                next;
            }
            die "checkout: $st" unless $st == 200;
            $c{granted}++;
            $c{over}++ if $a->{seats_used} > $SEATS;
            holders($hfile, +1);
            my $lease = $a->{lease_id};
            # use the lease on the other backend too
            for my $op (['/v1/check', $t->{backends}{b1}],
                        ['/v1/lease/heartbeat', $t->{backends}{b2}],
                        ['/v1/check', $t->{backends}{b2}]) {
                my ($s2) = $t->api($op->[1], $op->[0],
                                   { license_id => $F, lease_id => $lease });
                $s2 == 200 ? $c{ok_ops}++ : $c{lost}++;
            }
            holders($hfile, -1);
            my ($s3) = $t->api($b, '/v1/lease/checkin',
                               { license_id => $F, lease_id => $lease });
            $s3 == 200 ? $c{ok_ops}++ : $c{lost}++;
        }
        return \%c;
    });

    kill 'TERM', $mon;
    waitpid($mon, 0);
    my ($mmax, $polls) = split ' ', OvsaBackend::slurp($mfile);
    my (undef, $hmax) = split ' ', OvsaBackend::slurp($hfile);

    subtest "round $round: floating license, $SEATS seats" => sub {
        ok(!$f->{died}, 'no client died');
        is($f->{granted}, $WORKERS * 6, 'every client got its 6 leases');
        ok($f->{busy} > 0, "contention: $f->{busy} NO_SEATS answers");
        is($f->{over}, 0, 'server never reported more than 5 seats used');
        cmp_ok($hmax, '<=', $SEATS, "clients saw at most $hmax holders");
        cmp_ok($hmax, '>=', 2, 'clients did hold leases at once');
        cmp_ok($mmax, '<=', $SEATS,
               "Redis never held more than $SEATS leases ($polls polls)");
        is($f->{lost}, 0, 'no granted lease was lost');
        is($f->{ok_ops}, $f->{granted} * 4, 'every lease used and returned');
        is($t->redis('ZCARD', $t->key('lz', $F)), 0, 'all seats free at the end');
        is($t->redis('HLEN', $t->key('lh', $F)), 0, 'no lease hash entries left');
    };

    my $u = swarm("u$round", sub {
        my ($i, $b) = @_;
        my %c = (ok => 0, exhausted => 0, replay_same => 0, other => 0);
        for my $k (1 .. 6) {
            my $rid = "w$i-$k";
            my ($st, $a) = $t->api($b, '/v1/check',
                                   { license_id => $U, request_id => $rid });
            if ($st == 200) {
                $c{ok}++;
                # the retry, on the other backend, answers the same
                my ($st2, $a2) = $t->api($b[($i + 1) % 2], '/v1/check',
                    { license_id => $U, request_id => $rid });
                $c{replay_same}++ if $st2 == 200
                    && $a2->{usage_remaining} == $a->{usage_remaining};
            } elsif ($st == 403 && $a->{code} eq 'USAGE_EXHAUSTED') {
                $c{exhausted}++;
            } else {
                $c{other}++;
            }
        }
        return \%c;
    });

    subtest "round $round: usage-count license of $N" => sub {
        is($u->{ok}, $N, "exactly $N successes");
        is($u->{exhausted}, $WORKERS * 6 - $N, 'the rest USAGE_EXHAUSTED');
        is($u->{other} // 0, 0, 'no other answers');
        is($u->{replay_same}, $N, 'every retry answered the same');
        is($t->redis('HGET', $t->key('lic', $U), 'used'), $N, "used = $N");
    };
}

for my $b (@b) {
    unlike(OvsaBackend::slurp($b->{log}), qr/\[(crit|alert|error)\]/,
           "$b->{name}: no errors logged");
    is($t->stop_backend($b), 0, "$b->{name} exits 0");
}

done_testing();
