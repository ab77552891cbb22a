# 034-backend-unit.t: the cmocka unit tests of ovsa-backend's pure parts
# (backend/policy.c, backend/json.c), one TAP line per cmocka test.
# Build first: make bins.
use strict;
use warnings;
use File::Basename qw(dirname);
use File::Spec;
use Test::More;

my $root = File::Spec->rel2abs(dirname(__FILE__) . '/..');
my $bin  = ($ENV{OVSA_BUILD} || "$root/build") . "/test/backend-unit";

BAIL_OUT("$bin missing: run make bins") unless -x $bin;

my $out = `$bin 2>&1`;
my $rc  = $? >> 8;

my (%result, @order);
for (split /\n/, $out) {
    if (/^\[ RUN      \] (\S+)/)         { push @order, $1 }
    elsif (/^\[       OK \] (\S+)/)      { $result{$1} = 1 }
    elsif (/^\[  FAILED  \] (test_\S+)/) { $result{$1} //= 0 }
}

ok(@order >= 6, 'cmocka ran the backend unit tests') or diag $out;
ok($result{$_}, $_) or diag $out for @order;
is($rc, 0, 'backend-unit exit status');

done_testing();
