# 010-unit.t: every C unit test, run from where it is built.  A unit test
# lives beside its code as <dir>/test/<name>_test.c (cmocka) and builds to
# $OVSA_BUILD/test/<dir>_<name>_test; each runs here with cmocka's TAP
# output, as one subtest whose lines are the program's own tests.
# Build first: make bins (make test does).
use strict;
use warnings;
use File::Basename qw(dirname);
use File::Spec;
use Test::More;

my $root  = File::Spec->rel2abs(dirname(__FILE__) . '/..');
my $build = $ENV{OVSA_BUILD} || "$root/build";

# the programs the sources promise, so a test that was not built fails
my @bins;
for my $src (sort glob("$root/*/test/*_test.c")) {
    my ($dir, $name) = $src =~ m{/([^/]+)/test/([^/]+)_test\.c$} or next;
    push @bins, "$build/test/${dir}_${name}_test";
}
ok(@bins >= 3, 'unit test sources found') or diag "none under $root/*/test";

$ENV{CMOCKA_MESSAGE_OUTPUT} = 'TAP';

for my $bin (@bins) {
    (my $name = $bin) =~ s{.*/}{};
    subtest $name => sub {
        ok(-x $bin, "$name is built") or return;
        my $out = `'$bin' 2>&1`;
        my $rc  = $? >> 8;
        my ($plan, $ran) = (undef, 0);
        for (split /\n/, $out) {
            if (/^1\.\.(\d+)/)                      { $plan = $1 }
            elsif (/^(not )?ok \d+ - (\S+)/)        { $ran++; ok(!$1, $2) }
        }
        ok(defined $plan && $ran == $plan && $ran > 0,
           "all $name tests ran") or diag $out;
        is($rc, 0, "$name exit status") or diag $out;
    };
}

done_testing();
