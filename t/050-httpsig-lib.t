#!/usr/bin/perl
# 050-httpsig-lib.t: builds and runs the cmocka unit tests of
# lib/ovsa_httpsig (RFC 9530 digests, the ovsa RFC 9421 profile: known
# answer, round trip per alg, each tampering -> its code) and lib/ovsa_sf.
use strict;
use warnings;
use Test::More;
use FindBin;

my $root = "$FindBin::Bin/..";
my $bin  = ($ENV{OVSA_BUILD} || "$root/build") . "/test/httpsig_test";

is(system("make -s -C '$root' '$bin' >/dev/null"), 0, 'unit tests build');

my @out = `'$bin' 2>&1`;
my $rc = $?;
my %seen;
for (@out) {
    if (/^\[\s+(OK|FAILED)\s+\] (test_\w+)/) {
        next if $seen{$2}++;
        ok($1 eq 'OK', $2);
    }
}
cmp_ok(scalar(keys %seen), '>=', 10, 'all unit tests ran');
is($rc, 0, 'cmocka reports success') or diag(join '', @out);

done_testing();
