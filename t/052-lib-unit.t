# 052-lib-unit.t: the cmocka tests of libovsa pieces in lib/test/ (base64,
# default.yaml), one TAP line per cmocka test.  Build first: make bins.
use strict;
use warnings;
use File::Basename qw(dirname);
use File::Spec;
use Test::More;

my $root  = File::Spec->rel2abs(dirname(__FILE__) . '/..');
my $build = $ENV{OVSA_BUILD} || "$root/build";

for my $name (qw(b64_test conf_test)) {
    my $bin = "$build/test/$name";
    BAIL_OUT("$bin missing: run make bins") unless -x $bin;

    local $ENV{CMOCKA_MESSAGE_OUTPUT} = 'TAP';
    my $out = `$bin 2>&1`;
    my $rc  = $? >> 8;
    my $n   = 0;

    for (split /\n/, $out) {
        next unless /^(not )?ok \d+ - (.*)$/;
        ok(!$1, "$name: $2") or diag $out;
        $n++;
    }

    ok($n >= 4, "$name ran its tests") or diag $out;
    is($rc, 0, "$name exit status") or diag $out;
}

done_testing();
