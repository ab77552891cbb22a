#!/usr/bin/perl
# scripts/ovsa_dev_ca.sh: the development vendor CA (init, sign,
# issue-client) and its refusals.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use POSIX qw(strftime);
use Test::More;

use OvsaScriptTest;

my $CA = script('ovsa_dev_ca.sh');
my $P = 'ovsa_dev_ca.sh';
# the policy lib checks: the one place it is written is lib/ovsa_x509.h
my $OID = run_cmd(($ENV{OVSA_BUILD} || "$FindBin::Bin/../build") . "/bin/ovsatool", 'policy-oid')->{out};
chomp $OID;
like($OID, qr/^2\.25\.\d+$/, 'ovsatool policy-oid: a UUID OID');

sub ca { run_cmd('sh', $CA, @_) }

sub refused {
    my ($r, $msg, $name) = @_;
    isnt($r->{rc}, 0, "$name: non-zero exit");
    is($r->{err}, "$P: $msg\n", "$name: message");
}

sub verify_chain {
    my ($cadir, $file, $purpose) = @_;
    return run_cmd('openssl', 'verify', '-x509_strict', '-no-CApath',
                   '-no-CAstore', '-CAfile', "$cadir/root.pem", '-untrusted',
                   "$cadir/intermediate.pem", '-purpose', $purpose, $file);
}

sub new_csr {
    my ($dir, $name, @opts) = @_;
    my $r = run_cmd('openssl', 'req', '-new', '-nodes', '-keyout',
                    "$dir/$name.key", '-out', "$dir/$name.csr",
                    '-subj', "/CN=$name", @opts);
    die "csr: $r->{err}" if $r->{rc};
    return "$dir/$name.csr";
}

# ---- init
my $t = fresh_dir();
my $cadir = "$t/ca";
my $r = ca('init', '-d', $cadir);
is($r->{rc}, 0, 'init succeeds') or diag($r->{err});
is($r->{out}, "$cadir/root.pem\n", 'init prints the root path');
for my $f (qw(root.key intermediate.key)) {
    is(file_mode("$cadir/$f"), '0600', "$f is 0600");
}
is(file_mode($cadir), '0700', 'CADIR is 0700');

my $root_text = cert_text("$cadir/root.pem");
like($root_text, qr/Basic Constraints: critical\s+CA:TRUE\s/, 'root: CA:TRUE');
like($root_text, qr/Key Usage: critical\s+Certificate Sign, CRL Sign/,
     'root: keyCertSign');
like($root_text, qr/Issuer: O = OVSA Development, CN = OVSA Dev Root CA\s+Validity.*Subject: O = OVSA Development, CN = OVSA Dev Root CA/s,
     'root: self-issued');
$r = run_cmd('openssl', 'verify', '-x509_strict', '-check_ss_sig', '-no-CApath',
             '-no-CAstore', '-CAfile', "$cadir/root.pem", "$cadir/root.pem");
is($r->{rc}, 0, 'root: self-signature verifies');

my $int_text = cert_text("$cadir/intermediate.pem");
like($int_text, qr/Basic Constraints: critical\s+CA:TRUE, pathlen:0/,
     'intermediate: CA:TRUE, pathlen:0');
like($int_text, qr/Issuer: O = OVSA Development, CN = OVSA Dev Root CA/,
     'intermediate: issued by the root');
$r = run_cmd('openssl', 'verify', '-x509_strict', '-no-CApath', '-no-CAstore',
             '-CAfile', "$cadir/root.pem", "$cadir/intermediate.pem");
is($r->{rc}, 0, 'intermediate verifies against the root') or diag($r->{out});

# refusal: CADIR already holds a CA; nothing changed
my $before = tree_state($cadir);
$r = ca('init', '-d', $cadir);
refused($r, "init: $cadir already holds a CA (use --force to replace it)",
        'init over a CA');
is(tree_state($cadir), $before, 'refused init changed nothing');

# --force replaces it
my $old_root = slurp("$cadir/root.pem");
$r = ca('init', '-d', $cadir, '--force');
is($r->{rc}, 0, 'init --force succeeds') or diag($r->{err});
isnt(slurp("$cadir/root.pem"), $old_root, 'init --force made a new root');
my @left = glob("$cadir/.init.*");
is(scalar(@left), 0, 'no temporary left in CADIR');

# ---- sign: RSA CSR carrying its own SAN
my $csr = new_csr($t, 'srv', '-newkey', 'rsa:2048', '-addext',
                  'subjectAltName=DNS:lic.example,IP:10.1.2.3');
$r = ca('sign', '-d', $cadir, '-in', $csr, '-out', "$t/chain.pem");
is($r->{rc}, 0, 'sign succeeds') or diag($r->{err});
is($r->{out}, "$t/chain.pem\n", 'sign prints the chain path');
my @certs = pem_certs(slurp("$t/chain.pem"));
is(scalar(@certs), 2, 'chain holds two certificates');
is($certs[1], (pem_certs(slurp("$cadir/intermediate.pem")))[0],
   'second is the intermediate');
$r = verify_chain($cadir, "$t/chain.pem", 'sslserver');
is($r->{rc}, 0, 'leaf verifies against the root only (sslserver)')
    or diag($r->{out} . $r->{err});

my $leaf = cert_text("$t/chain.pem");
like($leaf, qr/Basic Constraints: critical\s+CA:FALSE/, 'leaf: CA:FALSE');
like($leaf, qr/Extended Key Usage:\s+TLS Web Server Authentication\n/,
     'leaf: EKU serverAuth only');
like($leaf, qr/Certificate Policies:\s+Policy: \Q$OID\E\n/, 'leaf: policy OID');
like($leaf, qr/Key Usage: critical\s+Digital Signature, Key Encipherment\n/,
     'leaf (RSA): digitalSignature, keyEncipherment');
like($leaf, qr/Subject Alternative Name:\s+DNS:lic.example, IP Address:10.1.2.3\n/,
     'leaf: SAN copied from the CSR');
like($leaf, qr/Issuer: O = OVSA Development, CN = OVSA Dev Intermediate CA/,
     'leaf: issued by the intermediate');
$r = run_cmd('openssl', 'x509', '-in', "$t/chain.pem", '-noout', '-pubkey');
my $leaf_pub = $r->{out};
$r = run_cmd('openssl', 'req', '-in', $csr, '-noout', '-pubkey');
is($leaf_pub, $r->{out}, 'leaf carries the CSR public key');

# default validity: 90 days
$r = run_cmd('openssl', 'x509', '-in', "$t/chain.pem", '-noout', '-checkend',
             89 * 86400);
is($r->{rc}, 0, 'leaf valid for more than 89 days');
$r = run_cmd('openssl', 'x509', '-in', "$t/chain.pem", '-noout', '-checkend',
             91 * 86400);
isnt($r->{rc}, 0, 'leaf not valid for 91 days');

# -san overrides, -days
$r = ca('sign', '-d', $cadir, '-in', $csr, '-out', "$t/c2.pem", '-days', 10,
        '-san', 'DNS:other.example,IP:127.0.0.2');
is($r->{rc}, 0, 'sign -san -days succeeds') or diag($r->{err});
like(cert_text("$t/c2.pem"),
     qr/Subject Alternative Name:\s+DNS:other.example, IP Address:127.0.0.2\n/,
     '-san replaces the CSR SAN');
is(run_cmd('openssl', 'x509', '-in', "$t/c2.pem", '-noout', '-checkend',
           9 * 86400)->{rc}, 0, '-days 10: valid for 9 days');
isnt(run_cmd('openssl', 'x509', '-in', "$t/c2.pem", '-noout', '-checkend',
             11 * 86400)->{rc}, 0, '-days 10: not valid for 11 days');

# EC CSR without SAN: default SAN, digitalSignature only
my $ec = new_csr($t, 'ec', '-newkey', 'ec', '-pkeyopt',
                 'ec_paramgen_curve:P-256');
$r = ca('sign', '-d', $cadir, '-in', $ec, '-out', "$t/ec.pem");
is($r->{rc}, 0, 'sign EC CSR succeeds') or diag($r->{err});
my $ec_text = cert_text("$t/ec.pem");
like($ec_text, qr/Subject Alternative Name:\s+DNS:localhost, IP Address:127.0.0.1\n/,
     'default SAN');
like($ec_text, qr/Key Usage: critical\s+Digital Signature\n/,
     'leaf (EC): digitalSignature only');

# explicit dates: an expired leaf for tests
$r = ca('sign', '-d', $cadir, '-in', $csr, '-out', "$t/old.pem",
        '-startdate', '20200101000000Z', '-enddate', '20200201000000Z');
is($r->{rc}, 0, 'sign with explicit dates succeeds') or diag($r->{err});
$r = run_cmd('openssl', 'x509', '-in', "$t/old.pem", '-noout', '-dates');
is($r->{out}, "notBefore=Jan  1 00:00:00 2020 GMT\nnotAfter=Feb  1 00:00:00 2020 GMT\n",
   'explicit dates used');
$r = verify_chain($cadir, "$t/old.pem", 'sslserver');
like($r->{out} . $r->{err}, qr/certificate has expired/, 'that leaf is expired');

# sign refusals
refused(ca('sign', '-d', $cadir, '-in', "$t/nope.csr", '-out', "$t/x.pem"),
        "sign: $t/nope.csr: no such file", 'sign: missing CSR');
open(my $fh, '>', "$t/junk.csr") or die;
print $fh "not a request\n";
close($fh);
refused(ca('sign', '-d', $cadir, '-in', "$t/junk.csr", '-out', "$t/x.pem"),
        "sign: $t/junk.csr: not a PEM CSR with a valid signature",
        'sign: garbage CSR');
refused(ca('sign', '-d', "$t/empty", '-in', $csr, '-out', "$t/x.pem"),
        "$t/empty: not a CA directory (no root.pem; run init)",
        'sign: not a CA dir');
refused(ca('sign', '-d', $cadir, '-in', $csr, '-out', "$t/x.pem", '-days', 'x'),
        'sign: -days must be a positive integer', 'sign: bad -days');
refused(ca('sign', '-d', $cadir, '-in', $csr, '-out', "$t/x.pem",
           '-enddate', '2020'),
        'sign: -enddate must be YYYYMMDDHHMMSSZ', 'sign: bad -enddate');
refused(ca('sign', '-d', $cadir, '-in', $csr), 'sign: missing -out CHAIN',
        'sign: no -out');
refused(ca('sign', '-d', $cadir, '-bogus'), "sign: unknown option '-bogus'",
        'sign: unknown option');
ok(!-e "$t/x.pem", 'refused signs wrote nothing');

# ---- issue-client
$r = ca('issue-client', '-d', $cadir, '-cn', 'admin', '-out', "$t/admin");
is($r->{rc}, 0, 'issue-client succeeds') or diag($r->{err});
is($r->{out}, "$t/admin.crt\n", 'issue-client prints the cert path');
is(file_mode("$t/admin.key"), '0600', 'client key is 0600');
my $cl = cert_text("$t/admin.crt");
like($cl, qr/Subject: CN = admin\n/, 'client: subject CN');
like($cl, qr/Extended Key Usage:\s+TLS Web Client Authentication\n/,
     'client: EKU clientAuth');
$r = verify_chain($cadir, "$t/admin.crt", 'sslclient');
is($r->{rc}, 0, 'client cert verifies (sslclient)') or diag($r->{out});
$r = verify_chain($cadir, "$t/admin.crt", 'sslserver');
isnt($r->{rc}, 0, 'client cert is not a server cert');
$r = run_cmd('openssl', 'x509', '-in', "$t/admin.crt", '-noout', '-pubkey');
my $pub = $r->{out};
$r = run_cmd('openssl', 'pkey', '-in', "$t/admin.key", '-pubout');
is($r->{out}, $pub, 'client key matches its cert');
my @cc = pem_certs(slurp("$t/admin-chain.pem"));
is(scalar(@cc), 2, 'client chain: leaf + intermediate');
refused(ca('issue-client', '-d', $cadir, '-out', "$t/x"),
        'issue-client: missing -cn NAME', 'issue-client: no -cn');

# ---- dispatch
refused(ca('frobnicate'), "unknown command 'frobnicate' (try '$P help')",
        'unknown command');
$r = ca('help');
is($r->{rc}, 0, 'help exits 0');
like($r->{out}, qr/^usage: \Q$P\E COMMAND/, 'help prints usage');

done_testing();
