# bench/run.sh --smoke: every scenario for about a second.  Asserts only
# that the run completes and writes a CSV with the expected columns, no
# errors in any measured row, the license-server scenarios measured (not
# skipped) and a reason on every skipped row; never a timing.
use strict;
use warnings;
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Temp qw(tempdir);
use Test::More;

my $root = abs_path(dirname(__FILE__) . '/..');
my $out = tempdir('ovsa-bench-smoke-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $base = ($ENV{OVSA_TEST_PORT_BASE} || 19800) + 50;

my @columns = qw(scenario group key conns requests rps p50_ms p99_ms
    p999_ms errors cpu_us_per_req nginx_us_per_req backend_us_per_req
    redis_us_per_req rss_nginx_kb rss_backend_kb rss_redis_kb ceiling ratio
    sign_ratio bytes_per_item status);

my $log = qx{cd $root && OVSA_BENCH_PORT_BASE=$base sh bench/run.sh --smoke --out $out 2>&1};
is($?, 0, 'bench/run.sh --smoke exits 0') or diag($log);

my @csv = glob("$out/*.csv");
is(scalar @csv, 1, 'one CSV file written to --out') or BAIL_OUT('no CSV');

open my $fh, '<', $csv[0] or die "$csv[0]: $!";
chomp(my $header = <$fh>);
is($header, join(',', @columns), 'CSV header');

my (%row, @rows);
while (my $line = <$fh>) {
    chomp $line;
    my @f = split /,/, $line, -1;
    is(scalar @f, scalar @columns, "row $f[0] has every column");
    my %r;
    @r{@columns} = @f;
    $row{$r{scenario}} = \%r;
    push @rows, \%r;
}
close $fh;

for my $s (qw(openssl-sign-rsa openssl-sign-ec openssl-sign-ed25519
              static-tls-ka static-tls-resume static-tls-new-ec
              static-tls-new-rsa static-tls-new-ed25519 proxy-hop-ka
              check-ka-ec check-ka-rsa check-ka-ed25519 check-new-ec
              check-resume-ec lease-mix-ec check-ka-node-ec check-half-ec
              expired-leases
              softhsm-sign-rsa softhsm-sign-ec check-ka-hwkey
              yubikey-sign-rsa yubikey-sign-ec ka-chain-hwkey-idle
              ka-chain-hwkey-hs-token ka-chain-hwkey-hs-split
              check-ka-hwkey-yubikey flood-hwkey-yubikey
              redis-hmget-license redis-evalsha-check)) {
    ok($row{$s}, "scenario $s is in the CSV");
}
for my $s (qw(openssl-sign-rsa static-tls-ka static-tls-new-rsa
              proxy-hop-ka)) {
    is($row{$s} && $row{$s}{status}, 'ok', "ceiling $s was measured");
}
# the license server is built by make: its scenarios must run, not be
# skipped (a refused check - 401 without the license secret, a machine
# signature that does not verify - skips or fails them)
for my $s (qw(check-ka-nosign check-ka-ec check-ka-rsa check-ka-ed25519
              check-new-ec check-new-rsa check-new-ed25519 check-resume-ec
              check-half-ec check-half-rsa lease-mix-ec check-ka-node-ec
              redis-evalsha-check expired-leases
              check-ka-ec-aof lease-mix-ec-aof check-ka-ec-wait1
              lease-mix-ec-wait1
              soak-nginx-anon soak-nginx-shmem soak-nginx-heap
              soak-backend-anon soak-redis-anon)) {
    is($row{$s} && $row{$s}{status}, 'ok', "license server $s was measured")
        or diag($row{$s} ? $row{$s}{status} : 'no row');
}

for my $r (@rows) {
    if ($r->{status} eq 'ok') {
        next if $r->{group} eq 'scale';
        is($r->{errors}, 0, "$r->{scenario}: zero errors");
        cmp_ok($r->{requests} || 0, '>', 0, "$r->{scenario}: requests made")
            unless $r->{scenario} =~ /^openssl-/;
    } else {
        like($r->{status}, qr/^skipped: \S/,
             "$r->{scenario}: skipped with a reason");
    }
}

# the soak rows: a growth per check (a number, negative allowed) and the
# worker's resident memory, over the checks they counted
for my $s (grep { $row{$_} && $row{$_}{status} eq 'ok' }
           qw(soak-nginx-anon soak-nginx-shmem soak-nginx-heap
              soak-backend-anon soak-redis-anon)) {
    like($row{$s}{bytes_per_item}, qr/^-?\d+\.\d+$/,
         "$s: growth per check is a number");
    cmp_ok($row{$s}{rss_nginx_kb}, '>', 0, "$s: worker RSS read");
}

my @left = grep { /^\d{4}-/ } map { s{.*/}{}r } glob("$out/*");
ok(!grep({ $_ !~ /(?:\.csv|\.png|-soak\.txt)$/ } @left),
   'only the CSV, the PNG and the soak samples are written');
ok(grep({ /-soak\.txt$/ } @left), 'the soak samples are written');
ok(!-e "$root/bench/results/" . ($csv[0] =~ s{.*/}{}r),
   'nothing written to bench/results');

done_testing();
