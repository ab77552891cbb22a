# 070-license-lib.t: the cmocka unit tests of lib/ovsa_license.c (customer
# license JWS: round trips, tampering, every field check), one TAP line per
# cmocka test.  Build first: make bins.
use strict;
use warnings;
use File::Basename qw(dirname);
use File::Spec;
use Test::More;

my $root = File::Spec->rel2abs(dirname(__FILE__) . '/..');
my $bin  = ($ENV{OVSA_BUILD} || "$root/build") . "/test/ovsa_license_test";

BAIL_OUT("$bin missing: run make bins") unless -x $bin;

my $out = `$bin 2>&1`;
my $rc  = $? >> 8;

my %result;
my @order;
for (split /\n/, $out) {
    if (/^\[ RUN      \] (\S+)/)           { push @order, $1 }
    elsif (/^\[       OK \] (\S+)/)        { $result{$1} = 1 }
    elsif (/^\[  FAILED  \] (test_\S+)/)   { $result{$1} //= 0 }
}

ok(@order >= 15, 'cmocka ran the license tests') or diag $out;
for my $t (@order) {
    ok($result{$t}, $t) or diag $out;
}
is($rc, 0, 'ovsa_license_test exit status');

done_testing();
