# 102-dropin-slow.t: 1,000 slow TLS connections (a byte of a ClientHello
# every 2 s, reopened when nginx closes them) against the shipped drop-in
# (conf.d/ovsa-license-server.conf via scripts/demo.sh): 500 from ten
# loopback addresses (127.0.0.2-11, per-address limits honest) and 500
# from one (127.0.0.12).  A well-behaved client's checks from 127.0.0.1
# keep verifying meanwhile; their latency is reported (no timing
# assertions: the machine is shared).
use strict;
use warnings;
use File::Basename qw(dirname);
use lib dirname(__FILE__) . '/lib';
use Test::More;
use IO::Socket::INET;
use POSIX qw(_exit);
use Time::HiRes qw(time sleep);
use OvsaDropin;

my $base = $ENV{OVSA_TEST_PORT_BASE} || 19800;
my $PORT = $base + 195;
my $t = OvsaDropin->new(port => $PORT, admin_port => $base + 196);
my $SLOW = 1000;
my $HOLD = 16;           # seconds: longer than client_header_timeout (10 s)

my ($rc, $out) = $t->demo('up');
is($rc, 0, 'demo.sh up with the drop-in') or BAIL_OUT($out);

my $holder;
END {
    kill 'KILL', $holder if $holder;
    $t->demo('down') if $t;
}

my $ready = $t->dir . '/slow-ready';

# the holder: keeps $SLOW connections open, one byte each every 2 s
$holder = fork();
die "fork: $!" unless defined $holder;
if ($holder == 0) {
    my @src = ((map { "127.0.0.$_" } map { ($_) x 50 } 2 .. 11),
               ('127.0.0.12') x 500);
    my $hello = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" . ('r' x 64);
    my (@c, @pos);
    my ($opened, $reopened) = (0, 0);
    my $open = sub {
        my ($i) = @_;
        $c[$i] = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$PORT",
                                       LocalAddr => $src[$i], Timeout => 5);
        $pos[$i] = 0;
        $opened++ if $c[$i];
    };
    $open->($_) for 0 .. $#src;
    open my $f, '>', $ready;
    print $f "$opened\n";
    close $f;
    my $end = time + $HOLD + 30;
    local $SIG{PIPE} = 'IGNORE';
    while (time < $end) {
        for my $i (0 .. $#src) {
            my $s = $c[$i];
            my $ok = $s && defined syswrite($s,
                         substr($hello, $pos[$i]++ % length($hello), 1));
            if (!$ok) {
                close $s if $s;
                $open->($i);
                $reopened++;
            }
        }
        sleep 2;
    }
    _exit(0);
}

for (1 .. 100) { last if -s $ready; sleep 0.1 }
my $opened = do { open my $f, '<', $ready; my $l = <$f> // 0; chomp $l; $l };
is($opened, $SLOW, "$SLOW slow connections opened");

sub established {
    my $n = () = qx{ss -Htn state established '( dport = :$PORT )'} =~ /\n/g;
    return $n;
}

my (@lat, $fail, $max_est);
my $end = time + $HOLD;
$fail = 0;
$max_est = 0;
while (time < $end) {
    my $est = established();
    $max_est = $est if $est > $max_est;
    my ($crc, $cout, $secs) = $t->check;
    if ($crc == 0) {
        push @lat, $secs;
    } else {
        $fail++;
        diag("check failed ($crc): $cout") if $fail <= 3;
    }
    sleep 0.2;
}

ok($max_est >= $SLOW * 0.9, "the slow connections were held "
   . "(up to $max_est established at once)");
ok(@lat >= 10, scalar(@lat) . ' checks verified while they were held');
is($fail, 0, 'no check failed');

@lat = sort { $a <=> $b } @lat;
if (@lat) {
    my $p = sub { $lat[int($_[0] * $#lat + 0.5)] * 1000 };
    diag(sprintf('good client under %d slow connections: %d checks, '
                 . 'p50 %.0f ms, p99 %.0f ms, max %.0f ms',
                 $SLOW, scalar @lat, $p->(0.5), $p->(0.99),
                 $lat[-1] * 1000));
}

kill 'KILL', $holder;
waitpid $holder, 0;
undef $holder;

my $log = OvsaDropin::read_log($t->dir . '/nginx/logs/error.log');
unlike($log, qr/worker_connections are not enough/,
       'nginx never ran out of worker_connections');

($rc, $out) = $t->demo('down');
is($rc, 0, 'demo.sh down');
undef $t;

done_testing();
