# 072-opt-lib.t: the cmocka unit tests of lib/ovsa_opt.c (the option
# parser, the generated help and the exit-code table every ovsa program
# uses), one TAP line per cmocka test.  Build first: make bins.
use strict;
use warnings;
use File::Basename qw(dirname);
use File::Spec;
use Test::More;

my $root = File::Spec->rel2abs(dirname(__FILE__) . '/..');
my $bin  = "$root/build/test/opt_test";

BAIL_OUT("$bin missing: run make bins") unless -x $bin;

my $out = `$bin 2>&1`;
my $rc  = $? >> 8;

my (%result, @order);
for (split /\n/, $out) {
    if (/^\[ RUN      \] (\S+)/)         { push @order, $1 }
    elsif (/^\[       OK \] (\S+)/)      { $result{$1} = 1 }
    elsif (/^\[  FAILED  \] (test_\S+)/) { $result{$1} //= 0 }
}

ok(@order >= 10, 'cmocka ran the option parser tests') or diag $out;
ok($result{$_}, $_) or diag $out for @order;
is($rc, 0, 'opt_test exit status');

done_testing();
