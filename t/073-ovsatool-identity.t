# 073-ovsatool-identity.t: "ovsatool identity" is the check nginx makes at
# start (lib/ovsa_x509): for every broken identity t/001-identity-start.t
# feeds nginx, "nginx -t" and ovsatool refuse it with the same text and
# code; a good one passes both.  "ovsatool pin" prints the pin lib
# computes (the keyid nginx logs) for the certificate, its chain, the
# private key and the public key.  And "ovsatool policy-oid".
use strict;
use warnings;
use lib 't/lib';
use MIME::Base64 qw(encode_base64);
use Test::More;
use OvsaTest;

my $tool = ($ENV{OVSA_BUILD} || "$OvsaTest::ROOT/build") . "/bin/ovsatool";
plan skip_all => "$tool not built (run make)" unless -x $tool;

my $pki = OvsaTest::pki();

# run_tool(ARGS...) -> (exit status, stdout, stderr)
sub run_tool {
    my @cmd = @_;
    my $err = "$SERVROOT/run.err";
    my $pid = open(my $fh, '-|') // die "fork: $!";
    if ($pid == 0) {
        open(STDERR, '>', $err) or die;
        exec @cmd or die "exec $cmd[0]: $!";
    }
    local $/;
    my $out = <$fh> // '';
    close $fh;
    return ($? >> 8, $out, read_file($err));
}

sub yaml {
    my ($chain, $key, $root) = @_;
    return "identity:\n  chain: $chain\n  key: $key\n  root: $root\n";
}

# the reason nginx -t gives: "[emerg] ... ovsa: REASON in FILE:LINE"
sub nginx_reason {
    my ($yaml) = @_;
    my ($rc, $out) = nginx_t(nginx_conf(yaml => $yaml));
    my ($why) = $out =~ /\[emerg\] \d+#\d+: ovsa: (.*) in \S+:\d+$/m;
    return ($rc, $why, $out);
}

# ---- every identity t/001 refuses: the same reason, the same code
my @broken = (
    [ 'chain under another root', "$pki/chain-foreign.pem", "$pki/leaf-rsa.key", "$pki/root.pem", 'OVSA_E_CHAIN_ROOT', 3 ],
    [ 'expired leaf',             "$pki/chain-expired.pem", "$pki/leaf-rsa.key", "$pki/root.pem", 'OVSA_E_CERT_EXPIRED', 3 ],
    [ 'leaf not yet valid',       "$pki/chain-not-yet.pem", "$pki/leaf-rsa.key", "$pki/root.pem", 'OVSA_E_CERT_NOT_YET', 3 ],
    [ 'truncated chain',          "$pki/truncated.pem",     "$pki/leaf-rsa.key", "$pki/root.pem", 'OVSA_E_PEM', 3 ],
    [ 'BEGIN line missing',       "$pki/nobegin.pem",       "$pki/leaf-rsa.key", "$pki/root.pem", 'OVSA_E_PEM', 3 ],
    [ 'reordered chain',          "$pki/reordered.pem",     "$pki/leaf-rsa.key", "$pki/root.pem", 'OVSA_E_CHAIN_ORDER', 3 ],
    [ 'intermediate missing',     "$pki/leaf-only.pem",     "$pki/leaf-rsa.key", "$pki/root.pem", 'OVSA_E_CHAIN_ROOT', 3 ],
    [ 'key does not match',       "$pki/chain-rsa.pem",     "$pki/other.key",    "$pki/root.pem", 'OVSA_E_KEY_MISMATCH', 3 ],
    [ 'chain not PEM',            "$pki/garbage.pem",       "$pki/leaf-rsa.key", "$pki/root.pem", 'OVSA_E_CHAIN_EMPTY', 3 ],
    [ 'key readable by everyone', "$pki/chain-rsa.pem",     "$pki/world.key",    "$pki/root.pem", 'OVSA_E_KEY', 1 ],
    [ 'root is the intermediate', "$pki/chain-rsa.pem",     "$pki/leaf-rsa.key", "$pki/inter.pem", 'OVSA_E_', 3 ],
    [ 'leaf without the policy',  "$pki/chain-nopolicy.pem", "$pki/leaf-rsa.key", "$pki/root.pem", 'OVSA_E_CERT_POLICY', 3 ],
    [ 'leaf without serverAuth',  "$pki/chain-noeku.pem",   "$pki/leaf-rsa.key", "$pki/root.pem", 'OVSA_E_CERT_EKU', 3 ],
);

for my $c (@broken) {
    my ($name, $chain, $key, $root, $code, $want_rc) = @$c;
    my ($nrc, $why, $nout) = nginx_reason(yaml($chain, $key, $root));
    isnt($nrc, 0, "$name: nginx -t fails");
    like($why // '', qr/\($code\w*\)$/, "$name: nginx -t gives $code")
        or diag $nout;
    next unless defined $why;

    my ($rc, $out, $err) = run_tool($tool, 'identity', '-config',
                               "$SERVROOT/conf/default.yaml");
    is($rc, $want_rc, "$name: ovsatool identity -config exits $want_rc");
    is($err, "ovsatool identity: $why\n",
       "$name: ovsatool identity -config: the reason nginx -t gives");
    is($out, '', "$name: nothing on stdout");

    ($rc, $out, $err) = run_tool($tool, 'identity', '-chain', $chain, '-key', $key,
                            '-root', $root);
    is($rc, $want_rc, "$name: -chain -key -root: exits $want_rc");
    is($err, "ovsatool identity: $why\n", "$name: -chain -key -root: the same reason");
}

# ---- the good identity: nginx starts with it, ovsatool accepts it
my ($nrc, $nout) = nginx_t(nginx_conf(yaml => yaml("$pki/chain-rsa.pem",
                                                   "$pki/leaf-rsa.key",
                                                   "$pki/root.pem")));
is($nrc, 0, 'good identity: nginx -t passes') or diag $nout;
my ($keyid) = $nout =~ /identity verified: \S+, keyid ([A-Za-z0-9_-]{43}),/;
ok($keyid, 'nginx logs the keyid lib computed') or diag $nout;
(my $libpin = 'sha256//' . ($keyid // '') . '=') =~ tr{_-}{/+};

my ($rc, $out, $err) = run_tool($tool, 'identity', '-config',
                           "$SERVROOT/conf/default.yaml");
is($rc, 0, 'good identity: ovsatool identity -config exits 0') or diag $err;
is($out, "identity verified: $pki/chain-rsa.pem\npin: $libpin\n",
   'good identity: verified, with the pin lib computes');
is($err, '', 'good identity: nothing on stderr');

# -out: what was verified, re-encoded; the trailing root dropped
my $out_dir = "$SERVROOT/out";
mkdir $out_dir or die;
($rc, $out, $err) = run_tool($tool, 'identity', '-chain', "$pki/chain-with-root.pem",
                        '-key', "$pki/leaf-rsa.key", '-root', "$pki/root.pem",
                        '-out', $out_dir);
is($rc, 0, '-out: exits 0') or diag $err;
is(read_file("$out_dir/server-chain.pem"), read_file("$pki/chain-rsa.pem"),
   '-out: server-chain.pem is leaf + intermediate');
is(read_file("$out_dir/root.pem"), read_file("$pki/root.pem"), '-out: root.pem');
is((stat "$out_dir/server.key")[2] & 07777, 0600, '-out: server.key is 0600');
($rc, $out) = run_tool($tool, 'pin', "$out_dir/server.key");
is($out, "$libpin\n", '-out: server.key is the key of the leaf');
($rc, $out, $err) = run_tool($tool, 'identity', '-chain', "$pki/chain-rsa.pem",
                        '-key', "$pki/leaf-rsa.key", '-root', "$pki/root.pem",
                        '-out', $out_dir);
is($rc, 1, '-out: never overwrites (exit 1)');
like($err, qr/server-chain\.pem.*\(OVSA_E_IO\)\n\z/, '-out: says so');

# ---- pin: certificate, chain, private key, public key: one pin
my $openssl_pin = 'sha256//' . encode_base64(scalar qx{openssl x509 -in $pki/chain-rsa.pem -noout -pubkey | openssl pkey -pubin -outform DER | openssl dgst -sha256 -binary}, '');
is($openssl_pin, $libpin, 'the keyid nginx logs is the SPKI SHA-256 (openssl)');
write_file("$SERVROOT/pub.pem", scalar qx{openssl pkey -in $pki/leaf-rsa.key -pubout});
for my $f ("$pki/leaf-rsa.pem", "$pki/chain-rsa.pem", "$pki/leaf-rsa.key",
           "$SERVROOT/pub.pem") {
    ($rc, $out, $err) = run_tool($tool, 'pin', $f);
    is($rc, 0, "pin $f: exits 0") or diag $err;
    is($out, "$libpin\n", "pin $f: the pin lib computes");
}
($rc, $out) = run_tool($tool, 'pin', "$pki/leaf-ec.pem");
($rc, my $out2) = run_tool($tool, 'pin', "$pki/leaf-ec.key");
is($out, $out2, 'pin: EC certificate and key agree');
isnt($out, "$libpin\n", 'pin: another key, another pin');
($rc, $out, $err) = run_tool($tool, 'pin', "$pki/none.pem");
is($rc, 1, 'pin of a missing file: exit 1');
is($err, "ovsatool pin: read $pki/none.pem: No such file or directory (OVSA_E_IO)\n",
   'pin of a missing file: the reason');
($rc, $out, $err) = run_tool($tool, 'pin', "$pki/garbage.pem");
is($rc, 3, 'pin of garbage: exit 3');
like($err, qr/not a PEM certificate, public key or private key \(OVSA_E_PEM\)/,
     'pin of garbage: the reason');

# ---- policy-oid: the OID the library checks
($rc, $out) = run_tool($tool, 'policy-oid');
is($rc, 0, 'policy-oid exits 0');
like($out, qr/^2\.25\.\d+\n\z/, 'policy-oid prints one UUID OID');
my ($oid) = $out =~ /^(\S+)/;
like(read_file("$pki/leaf-rsa.pem") ne '' && scalar qx{openssl x509 -in $pki/leaf-rsa.pem -noout -ext certificatePolicies},
     qr/Policy: \Q$oid\E/, 'the test PKI issues leaves with that policy');

# ---- usage: one parser, one set of exit codes
for my $case (
    [ [ 'identity', '-bogus' ], qr/^ovsatool identity: unknown option "-bogus"\n/ ],
    [ [ 'identity' ], qr/-config, or -chain and -root, are required/ ],
    [ [ 'identity', '-chain', 'a', '-root', 'b' ], qr/either -key, or -module/ ],
    [ [ 'identity', '-config', 'x', '-key', 'k' ], qr/-config names the identity/ ],
    [ [ 'identity', '-chain' ], qr/option "-chain" needs a value/ ],
    [ [ 'pin' ], qr/a FILE, or -module/ ],
    [ [ 'pin', 'a', 'b' ], qr/unexpected argument "b"/ ],
    [ [ 'pin', '-module', 'm', 'file' ], qr/a FILE, or -module/ ],
    [ [ 'policy-oid', 'x' ], qr/unexpected argument "x"/ ],
) {
    my ($args, $like) = @$case;
    ($rc, $out, $err) = run_tool($tool, @$args);
    is($rc, 2, "@$args: exit 2");
    like($err, $like, "@$args: the reason");
    like($err, qr/Use -help for summary\.\n\z/, "@$args: the hint");
}
($rc, $out) = run_tool($tool, 'identity', '-help');
is($rc, 0, 'identity -help exits 0');
like($out, qr/^ -$_ /m, "identity -help lists -$_")
    for qw(config chain key root module key-uri pin-file out);
like($out, qr/^Exit status:\n  0  success\n  1  error.*\n  2  bad command line\n  3  a check failed/m,
     'identity -help lists the exit codes');

done_testing();
