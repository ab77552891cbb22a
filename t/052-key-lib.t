#!/usr/bin/perl
# 052-key-lib.t: builds and runs the cmocka unit tests of lib/ovsa_key
# (key types and the algorithms of answers and licenses, ECDSA DER <-> r||s,
# private key files: PEM/DER, passphrases, the 0600 rule), PEM and DER
# certificates, the key id buffer and the answer signing sequence
# (prepare, finish in threads, parse once, verify), one TAP line per test.
use strict;
use warnings;
use Test::More;
use FindBin;

my $root = "$FindBin::Bin/..";
my $bin  = "$root/build/test/key_test";

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
