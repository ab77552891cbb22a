# 036-fleet.t: a fleet: two nginx servers (ovsa_tls + ovsa_sign), each
# in front of its own ovsa-backend, both on one Redis.  Concurrent
# clients (the real ovsa-check, verifying every signed answer) spread
# over both servers: a 5-seat floating license never has more than 5
# holders, a lease taken through one server is renewed and released
# through the other, and a usage-count license of N gives exactly N
# successes.
use strict;
use warnings;
use File::Basename qw(dirname);
use lib dirname(__FILE__) . '/lib';
use Fcntl qw(:flock);
use POSIX ();
use OvsaTest;
use OvsaBackend;
use Test::More;

# nginx ports: base + 70, 71 (OvsaBackend takes base + 60 and up)
my $base = $ENV{OVSA_TEST_PORT_BASE} || 19800;
my $pki = OvsaTest::pki();
my $t = OvsaBackend->new(offset => 60);
$t->start_redis;
my @b = map { $t->start_backend(name => "b$_") } 1, 2;

my ($SEATS, $N) = (5, 12);
$t->import_ok($b[0], $t->license(license_id => 'F5', type => 'floating',
                                 limits => { seats => $SEATS }));
$t->import_ok($b[1], $t->license(license_id => "U$N", type => 'usage-count',
                                 limits => { usage => $N }));

my @ngx;
for my $i (0, 1) {
    push @ngx, start_server(port => $base + 70 + $i, tls => '',
        http_config => "    upstream ovsa_backend {\n"
            . "        server 127.0.0.1:$b[$i]{port};\n"
            . "        keepalive 8;\n    }\n",
        config => <<'NGX');
        location = /.well-known/ovsa/chain { ovsa_chain; }
        location /v1/ {
            ovsa_sign on;
            proxy_pass http://ovsa_backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
NGX
}

my $dir = $t->dir;
my $check = "$OvsaTest::BUILD/bin/ovsa-check";
OvsaBackend::spew("$dir/lic.secret", "$OvsaBackend::SECRET\n", 0600);

# one verified request through server $s, as license holder $client with
# its own machine key; returns (exit status, answer)
sub op {
    my ($s, $client, @args) = @_;
    my $out = qx{$check -url https://localhost:$ngx[$s]{port} -root $pki/root.pem -cache $dir/cache-$client -secret $dir/lic.secret -state $dir/state-$client -json @args 2>&1};
    my $rc = $? >> 8;
    my ($json) = $out =~ /(\{.*\})/s;
    my $v = eval { $OvsaBackend::JSON->decode($json) } || {};
    return ($rc, $v->{answer} || { raw => $out });
}

# holders counter shared by the client processes; keeps the maximum
my $cnt = "$dir/holders";
sub bump {
    my ($d) = @_;
    open my $fh, '+>>', $cnt or die "$cnt: $!";
    flock $fh, LOCK_EX;
    seek $fh, 0, 0;
    my ($now, $max) = split ' ', (<$fh> || '0 0');
    $now += $d;
    $max = $now if $now > $max;
    truncate $fh, 0;
    print $fh "$now $max\n";
    close $fh;
}

sub clients {
    my ($n, $code) = @_;
    my @pids;
    for my $i (1 .. $n) {
        my $pid = fork // die "fork: $!";
        if ($pid == 0) {
            # _exit: a child must not run the END blocks that stop the
            # servers of the parent
            my %r = $code->($i);
            open my $fh, '>', "$dir/result-$i" or POSIX::_exit(1);
            print $fh join(' ', %r), "\n";
            close $fh;
            POSIX::_exit(0);
        }
        push @pids, $pid;
    }
    waitpid $_, 0 for @pids;
    my %sum;
    for my $i (1 .. $n) {
        open my $fh, '<', "$dir/result-$i" or next;
        my %r = split ' ', scalar <$fh>;
        $sum{$_} += $r{$_} for keys %r;
    }
    return \%sum;
}

my $f = clients(8, sub {
    my ($i) = @_;
    my %r = (held => 0, busy => 0, bad => 0, cross => 0);
    for my $round (1 .. 6) {
        my $s = ($i + $round) % 2;
        my ($rc, $a) = op($s, $i, '-op checkout', "-id F5 -client c$i");
        if ($rc == 5 && ($a->{code} || '') eq 'NO_SEATS') {
            $r{busy}++;
            next;
        }
        if ($rc != 0 || !$a->{lease_id}) { $r{bad}++; next }
        bump(1);
        $r{held}++;
        # the lease is renewed through the OTHER server of the fleet
        my ($hrc) = op(1 - $s, $i, '-op heartbeat', "-id F5 -lease $a->{lease_id}");
        $r{cross}++ if $hrc == 0;
        select undef, undef, undef, 0.05;
        bump(-1);
        my ($crc) = op(1 - $s, $i, '-op checkin', "-id F5 -lease $a->{lease_id}");
        $r{bad}++ if $crc != 0;
    }
    return %r;
});

open my $fh, '<', $cnt or die;
my ($now, $max) = split ' ', <$fh>;
close $fh;
is($f->{bad}, 0, 'every verified answer was a grant, NO_SEATS or a release');
cmp_ok($max, '<=', $SEATS, "at most $SEATS holders at once (saw $max)");
cmp_ok($max, '>=', 2, 'leases were held concurrently');
ok($f->{busy} > 0, "contention: $f->{busy} NO_SEATS answers");
is($f->{cross}, $f->{held}, 'every lease was renewed through the other server');
is($now, 0, 'every holder released its seat');

my ($rc, $a) = op(0, 'x', '-op checkout', '-id F5 -client after');
is($rc, 0, 'all seats free again: a checkout succeeds') or diag(explain $a);

my $u = clients(8, sub {
    my ($i) = @_;
    my %r = (ok => 0, exhausted => 0, bad => 0);
    for my $k (1 .. 3) {
        my ($rc, $a) = op(($i + $k) % 2, $i, '-op check', "-id U$N");
        if ($rc == 0) { $r{ok}++ }
        elsif ($rc == 5 && $a->{code} eq 'USAGE_EXHAUSTED') { $r{exhausted}++ }
        else { $r{bad}++ }
    }
    return %r;
});

is($u->{bad}, 0, 'usage-count: every answer verified');
is($u->{ok}, $N, "usage-count: exactly $N successes across both servers");
is($u->{exhausted}, 24 - $N, 'usage-count: the rest USAGE_EXHAUSTED');

# node-locked: what one server did, the other sees at once
$t->import_ok($b[0], $t->license(license_id => 'N2', type => 'node-locked',
                                 limits => { max_activations => 2 }));
my @steps = (
    [0, 'activate h1 on A',           '-op activate -id N2 -hwid h1', 0, 'OK'],
    [1, 'activate h1 on B: same',     '-op activate -id N2 -hwid h1', 0, 'OK'],
    [1, 'activate h2 on B',           '-op activate -id N2 -hwid h2', 0, 'OK'],
    [0, 'activate h3 on A: full',     '-op activate -id N2 -hwid h3', 5, 'MAX_ACTIVATIONS'],
    [1, 'check h1 on B',              '-op check -id N2 -hwid h1', 0, 'OK'],
    [0, 'check h3 on A',              '-op check -id N2 -hwid h3', 5, 'HWID_NOT_ACTIVATED'],
    [1, 'deactivate h1 on B',         '-op deactivate -id N2 -hwid h1', 0, 'OK'],
    [0, 'check h1 on A: deactivated', '-op check -id N2 -hwid h1', 5, 'HWID_NOT_ACTIVATED'],
    [0, 'activate h3 on A: a seat is free', '-op activate -id N2 -hwid h3', 0, 'OK'],
);
for my $st (@steps) {
    my ($s, $name, $args, $want_rc, $want_code) = @$st;
    my ($rc, $a) = op($s, 'n', $args);
    is("$rc $a->{code}", "$want_rc $want_code", "node-locked: $name")
        or diag(explain $a);
}

# revocation through the admin API of one backend reaches both servers
my ($st) = $t->admin($b[1], 'POST', '/admin/v1/licenses/N2/revoke', '');
is($st, 200, 'revoke N2 through backend 2');
for my $s (0, 1) {
    my ($rc, $a) = op($s, 'n', '-op check -id N2 -hwid h2');
    is("$rc $a->{code}", '5 LICENSE_REVOKED', "server $s: revoked");
}

stop_server($_) for @ngx;
for my $s (@ngx) {
    my $log = read_file("$s->{root}/logs/error.log");
    unlike($log, qr/\[(error|alert|crit|emerg)\]/, "server $s->{port}: clean log");
}

done_testing();
