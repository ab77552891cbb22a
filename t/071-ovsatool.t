# 071-ovsatool.t: the ovsatool CLI, driven as a user would, in a temp dir:
# every subcommand, every refusal with its code, passphrases only from
# file:/env:/fd:, key mode 0600, and pin movement over two updates of a
# license with two servers.  Build first: make bins.
use strict;
use warnings;
use File::Basename qw(dirname);
use File::Spec;
use File::Temp qw(tempdir);
use Digest::SHA qw(sha256_hex);
use JSON::PP;
use Test::More;

my $root = File::Spec->rel2abs(dirname(__FILE__) . '/..');
my $bin  = ($ENV{OVSA_BUILD} || "$root/build") . "/bin/ovsatool";
BAIL_OUT("$bin missing: run make bins") unless -x $bin;

my $dir = tempdir('ovsatool-XXXXXX', TMPDIR => 1, CLEANUP => 1);
chdir $dir or die "chdir $dir: $!";
umask 022;

# run(ARGS..., {stdin => TEXT, env => {..}}) -> (exit status, out, err)
sub run {
    my $o = ref $_[-1] eq 'HASH' ? pop : {};
    open my $in, '>', 'stdin.txt' or die; print $in ($o->{stdin} // ''); close $in;
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open STDIN, '<', 'stdin.txt';
        open STDOUT, '>', 'stdout.txt';
        open STDERR, '>', 'stderr.txt';
        $ENV{$_} = $o->{env}{$_} for keys %{ $o->{env} || {} };
        exec $bin, @_ or exit 127;
    }
    waitpid $pid, 0;
    my $rc = $? >> 8;
    return ($rc, slurp('stdout.txt'), slurp('stderr.txt'));
}

sub slurp { local $/; open my $f, '<', $_[0] or return undef; my $s = <$f>; $s }
sub mode  { sprintf '%04o', (stat $_[0])[2] & 07777 }

# The exit status (docs/cli.md): 2 for a bad command line (no error code),
# 3 when verify or show finds that a license does not verify, else 1.
sub want_rc {
    my ($code, $cmd) = @_;
    return 2 unless defined $code;
    return 3 if $cmd =~ /^(verify|show)$/ && $code ne 'OVSA_E_IO';
    return 1;
}

sub refused {
    my ($name, $code, $like, @args) = @_;
    my ($rc, $out, $err) = run(@args);
    my $want = want_rc($code, $args[0]);
    is($rc, $want, "$name: exit $want");
    like($err, qr/Use -help for summary\.\n\z/, "$name: usage hint")
        if $want == 2;
    like($err, qr/\Q$code\E/, "$name: $code") if $code;
    like($err, $like, "$name: message") if $like;
}

sub pin_of {
    my $p = `openssl x509 -in $_[0] -noout -pubkey | openssl pkey -pubin -outform DER | openssl dgst -sha256 -binary | base64`;
    chomp $p;
    return "sha256//$p";
}

sub payload {
    my ($rc, $out) = run('show', '-json', '-l', $_[0]);
    die "show -json $_[0] failed" if $rc;
    return decode_json($out)->{payload};
}

sub pins {
    my ($p, $url) = @_;
    my ($s) = grep { $_->{url} eq $url } @{ $p->{servers} };
    return $s ? [ $s->{pins}{current}, $s->{pins}{future} ] : undef;
}

sub servercert {
    my $n = shift;
    system("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256"
         . " -nodes -keyout $n.key -out $n.crt -subj /CN=$n -days 30"
         . " >/dev/null 2>&1") == 0 or die "openssl req $n";
    return "$n.crt";
}

servercert($_) for qw(a1 a2 a3 b1 b2 cust cust2);
open my $pw, '>', 'pass.txt' or die; print $pw "correct horse\n"; close $pw;

# ---- top level
my ($rc, $out, $err) = run('-help');
is($rc, 0, '-help exits 0');
like($out, qr/^\s+$_\s/m, "-help lists $_")
    for qw(keystore create updatecustlicense verify show identity pin
           policy-oid);
like($out, qr/^Exit status:\n  0  success\n  1  error.*\n  2  bad command line\n  3  a check failed/m,
     '-help lists the exit codes');
refused('unknown command', undef, qr/unknown command "bogus".*Use -help for summary/s, 'bogus');
refused('unknown option', undef, qr/^ovsatool show: unknown option "-bogus"\novsatool show: Use -help/s, 'show', '-bogus');
refused('no command', undef, qr/no command/);
refused('option without its value', undef, qr/option "-l" needs a value/, 'verify', '-l');
refused('argument after the options', undef, qr/unexpected argument "extra"/, 'show', '-l', 'x.lic', 'extra');
($rc, $out) = run('create', '-help');
is($rc, 0, 'create -help exits 0');
like($out, qr/^ $_ /m, "create -help lists $_")
    for ('-k, -keystore dir', '-passin', '-id', '-product', '-customer', '-customer-cert',
         '-type', '-usage', '-max-activations', '-seats', '-lease-seconds',
         '-require-hardware-key', '-sync-interval', '-expires', '-server', '-server-cert', '-out',
         '-no-secret', '-secret-out', '-deactivations', '-deactivation-period');
like($out, qr/^Exit status:\n/m, 'create -help lists the exit codes');
($rc, $out) = run('updatecustlicense', '-help');
like($out, qr/^ -u, -server url cert /m, 'updatecustlicense -help: the pair option');
($rc, $out) = run('create', '-help');
like($out, qr/-k, -keystore dir/, 'create -help shows the options table');

# ---- keystore
for my $alg (qw(rsa ec ed25519)) {
    ($rc, $out, $err) = run('keystore', '-out', "ks-$alg", '-alg', $alg, '-cn', "ISV $alg");
    is($rc, 0, "keystore -alg $alg") or diag $err;
    is(mode("ks-$alg/isv.key"), '0600', "$alg: isv.key is 0600");
    is(mode("ks-$alg"), '0700', "$alg: keystore dir is 0700");
    like(slurp("ks-$alg/isv.key"), qr/^-----BEGIN PRIVATE KEY-----/, "$alg: key unencrypted without -passin");
    like(`openssl x509 -in ks-$alg/isv.crt -noout -subject`, qr/ISV $alg/, "$alg: certificate CN");
}
like(`openssl x509 -in ks-rsa/isv.crt -noout -text`, qr/Public-Key: \(3072 bit\)/, 'rsa keystore: 3072 bits');

($rc, $out, $err) = run('keystore', '-out', 'ks-enc', '-alg', 'ec', '-passin', 'file:pass.txt');
is($rc, 0, 'keystore with -passin file:');
is(mode('ks-enc/isv.key'), '0600', 'encrypted isv.key is 0600');
like(slurp('ks-enc/isv.key'), qr/^-----BEGIN ENCRYPTED PRIVATE KEY-----/, 'key encrypted');
unlike(slurp('ks-enc/isv.key'), qr/correct horse/, 'passphrase not in the key file');

($rc) = run('keystore', '-out', 'ks-env', '-alg', 'ed25519', '-passin', 'env:ISV_PASS',
            { env => { ISV_PASS => 'from env' } });
is($rc, 0, 'keystore with -passin env:');
($rc) = run('keystore', '-out', 'ks-fd', '-alg', 'ed25519', '-passin', 'fd:0',
            { stdin => "from fd\n" });
is($rc, 0, 'keystore with -passin fd:0');
like(slurp('ks-fd/isv.key'), qr/ENCRYPTED/, 'fd: key encrypted');

my $before = slurp('ks-ec/isv.key');
refused('keystore overwrite', 'OVSA_E_IO', qr/not overwritten/, 'keystore', '-out', 'ks-ec', '-alg', 'ec');
is(slurp('ks-ec/isv.key'), $before, 'existing key untouched');

refused('passphrase in argv', 'OVSA_E_KEY', qr/pass: is refused.*never go on the command line/,
        'keystore', '-out', 'ks-argv', '-passin', 'pass:hunter2');
ok(!-e 'ks-argv', 'nothing created after pass:');
refused('bare passphrase', 'OVSA_E_KEY', qr/file:PATH, env:VAR or fd:N/,
        'keystore', '-out', 'ks-argv', '-passin', 'hunter2');
refused('-pass option', undef, qr/unknown option "-pass"/, 'keystore', '-out', 'ks-argv', '-pass', 'hunter2');
refused('unset env', 'OVSA_E_KEY', qr/NO_SUCH_VAR is not set/,
        'keystore', '-out', 'ks-argv', '-passin', 'env:NO_SUCH_VAR');
refused('keystore -alg dsa', 'OVSA_E_KEY_TYPE', qr/-alg dsa/, 'keystore', '-out', 'ks-dsa', '-alg', 'dsa');
refused('keystore without -out', undef, qr/-out DIR is required/, 'keystore');
refused('keystore -days x', undef, qr/not a whole number/, 'keystore', '-out', 'ks-x', '-days', 'x');

# ---- create
my @lic = ('-product', 'face-detection', '-customer', 'ACME Corp',
           '-type', 'floating', '-seats', '10', '-lease-seconds', '600',
           '-server', 'ls1.example.com:8443', '-server-cert', 'a1.crt',
           '-server', 'https://ls2.example.com', '-server-cert', 'b1.crt');
my ($U1, $U2) = ('https://ls1.example.com:8443', 'https://ls2.example.com');

for my $alg (qw(rsa ec ed25519)) {
    ($rc, $out, $err) = run('create', '-k', "ks-$alg", '-id', "lic-$alg", @lic, '-out', "$alg.lic");
    is($rc, 0, "create with the $alg keystore") or diag $err;
    my $alg_name = { rsa => 'PS256', ec => 'ES256', ed25519 => 'EdDSA' }->{$alg};
    like($out, qr/\Q$alg_name\E/, "$alg: signed $alg_name");
    ($rc, $out) = run('verify', '-l', "$alg.lic", '-isv', "ks-$alg/isv.crt");
    is($rc, 0, "$alg license verifies against its ISV");
}
is(mode('ec.lic'), '0644', 'license file is 0644');
my @left = glob('.*.lic.*');
is(scalar @left, 0, 'no temporary files left');

my $p = payload('ec.lic');
is($p->{version}, 1, 'create: version 1');
is_deeply(pins($p, $U1), [ pin_of('a1.crt'), undef ], 'create: ls1 current = a1 pin, future null');
is_deeply(pins($p, $U2), [ pin_of('b1.crt'), undef ], 'create: ls2 current = b1 pin');
is($p->{limits}{seats}, 10, 'create: seats');
ok(!defined $p->{expires_at}, 'create: no expiry');
ok(!defined $p->{customer}{cert_sha256}, 'create: not bound to a customer cert');
ok(!defined $p->{limits}{deactivations} && !defined $p->{limits}{deactivation_period},
   'create: floating, deactivations not limited unless given');
ok(exists $p->{limits}{deactivations} && exists $p->{limits}{deactivation_period},
   'create: the deactivation members are there (null)');

# ---- the license secret: a file next to the license, 0600, only its hash
# in the license, never printed
for my $alg (qw(rsa ec ed25519)) {
    my $sec = slurp("$alg.lic.secret");
    is(mode("$alg.lic.secret"), '0600', "$alg: secret file is 0600");
    like($sec, qr/\A[A-Za-z0-9_-]{43}\n\z/, "$alg: secret is 43 base64url characters and a newline");
    chomp $sec;
    is(payload("$alg.lic")->{customer}{secret_sha256}, sha256_hex($sec),
       "$alg: the license carries the sha256 of the secret's 43 characters");
}
isnt(slurp('ec.lic.secret'), slurp('rsa.lic.secret'), 'each license its own secret');
{
    my $sec = slurp('ec.lic.secret');
    chomp $sec;
    unlike(slurp('ec.lic'), qr/\Q$sec\E/, 'the secret is not in the license');
    ($rc, $out, $err) = run('create', '-k', 'ks-ec', '-id', 'lic-so', @lic, '-out', 'so.lic',
                            '-secret-out', 'so-secret.txt');
    is($rc, 0, 'create -secret-out') or diag $err;
    my $so = slurp('so-secret.txt');
    chomp $so;
    unlike("$out$err", qr/\Q$so\E/, 'the secret is never printed');
    like($out, qr/so-secret\.txt: license secret/, 'create names the secret file');
    ok(!-e 'so.lic.secret', '-secret-out replaces the default name');
    is(mode('so-secret.txt'), '0600', '-secret-out file is 0600');
    is(payload('so.lic')->{customer}{secret_sha256}, sha256_hex($so), '-secret-out: hash matches');
}

# -no-secret only with a certificate binding
refused('create -no-secret without -customer-cert', 'OVSA_E_LIC_CREDENTIAL',
        qr/anyone who knows its id/,
        'create', '-k', 'ks-ec', '-id', 'lic-ns', @lic, '-no-secret', '-out', 'ns.lic');
ok(!-e 'ns.lic' && !-e 'ns.lic.secret', '-no-secret refused: nothing written');
refused('create -no-secret -secret-out', undef, qr/exclude each other/,
        'create', '-k', 'ks-ec', '-id', 'lic-ns', @lic, '-customer-cert', 'cust.crt',
        '-no-secret', '-secret-out', 'ns.secret', '-out', 'ns.lic');
($rc, $out, $err) = run('create', '-k', 'ks-ec', '-id', 'lic-ns', @lic, '-customer-cert', 'cust.crt',
                        '-no-secret', '-out', 'ns.lic');
is($rc, 0, 'create -customer-cert -no-secret') or diag $err;
ok(!-e 'ns.lic.secret', '-no-secret: no secret file');
ok(!defined payload('ns.lic')->{customer}{secret_sha256}, '-no-secret: secret_sha256 null');
($rc, $out, $err) = run('create', '-k', 'ks-ec', '-id', 'lic-cs', @lic, '-customer-cert', 'cust.crt',
                        '-out', 'cs.lic');
is($rc, 0, 'create -customer-cert makes a secret too') or diag $err;
ok(defined payload('cs.lic')->{customer}{secret_sha256} && -e 'cs.lic.secret',
   'certificate and secret both protect it');

# an existing secret file is never overwritten, and then no license either
open my $ex, '>', 'taken.secret' or die; print $ex "someone else's\n"; close $ex;
refused('create over a secret file', 'OVSA_E_IO', qr/taken\.secret exists, not overwritten/,
        'create', '-k', 'ks-ec', '-id', 'lic-t', @lic, '-secret-out', 'taken.secret', '-out', 't.lic');
ok(!-e 't.lic', 'secret file taken: no license written');
is(slurp('taken.secret'), "someone else's\n", 'secret file taken: untouched');
open $ex, '>', 'u.lic.secret' or die; close $ex;
refused('create over the default secret file', 'OVSA_E_IO', qr/u\.lic\.secret exists/,
        'create', '-k', 'ks-ec', '-id', 'lic-u', @lic, '-out', 'u.lic');
ok(!-e 'u.lic', 'default secret file taken: no license written');

# deactivation limits: node-locked defaults 3 per 30 days
my @nl = ('-product', 'p', '-customer', 'c', '-type', 'node-locked', '-max-activations', '2',
          '-server', 'ls1.example.com', '-server-cert', 'a1.crt');
($rc, $out, $err) = run('create', '-k', 'ks-ec', '-id', 'nl1', @nl, '-out', 'nl1.lic');
is($rc, 0, 'create node-locked') or diag $err;
is_deeply([ @{ payload('nl1.lic')->{limits} }{qw(deactivations deactivation_period)} ],
          [ 3, 2592000 ], 'node-locked default: 3 deactivations per 30 days');
($rc, $out, $err) = run('create', '-k', 'ks-ec', '-id', 'nl2', @nl, '-deactivations', '0',
                        '-deactivation-period', '7d', '-out', 'nl2.lic');
is($rc, 0, 'create -deactivations 0 -deactivation-period 7d') or diag $err;
is_deeply([ @{ payload('nl2.lic')->{limits} }{qw(deactivations deactivation_period)} ],
          [ 0, 604800 ], '0 deactivations per 7 days');
($rc, $out, $err) = run('create', '-k', 'ks-ec', '-id', 'nl3', @nl, '-deactivation-period', '3600',
                        '-out', 'nl3.lic');
is($rc, 0, 'create -deactivation-period in seconds') or diag $err;
is_deeply([ @{ payload('nl3.lic')->{limits} }{qw(deactivations deactivation_period)} ],
          [ 3, 3600 ], 'node-locked: the default count with the given period');
($rc, $out, $err) = run('create', '-k', 'ks-ec', '-id', 'fl1', @lic, '-deactivations', '5',
                        '-deactivation-period', '1d', '-out', 'fl1.lic');
is($rc, 0, 'create floating with deactivation limits') or diag $err;
is_deeply([ @{ payload('fl1.lic')->{limits} }{qw(deactivations deactivation_period)} ],
          [ 5, 86400 ], 'floating: as given');

($rc, $out, $err) = run('create', '-k', 'ks-enc', '-passin', 'file:pass.txt', '-id', 'lic-enc',
                        @lic, '-customer-cert', 'cust.crt', '-expires', '2030-01-02',
                        '-sync-interval', '600', '-require-hardware-key', '-max-activations', '2',
                        '-out', 'enc.lic');
is($rc, 0, 'create with an encrypted keystore') or diag $err;
$p = payload('enc.lic');
my $fp = lc `openssl x509 -in cust.crt -noout -fingerprint -sha256`;
$fp =~ s/.*=//; $fp =~ s/[:\s]//g;
is($p->{customer}{cert_sha256}, $fp, 'customer cert sha256 = DER fingerprint');
is($p->{expires_at}, 1893542400, '-expires 2030-01-02 = 00:00 UTC');
is($p->{sync_interval}, 600, 'sync interval');
is($p->{require_hardware_key}, JSON::PP::true, 'require_hardware_key');
is($p->{limits}{max_activations}, 2, 'max_activations');

refused('encrypted key, no -passin', 'OVSA_E_KEY', qr/give -passin/,
        'create', '-k', 'ks-enc', '-id', 'x', @lic, '-out', 'x.lic');
open $pw, '>', 'wrong.txt' or die; print $pw "wrong\n"; close $pw;
refused('wrong passphrase', 'OVSA_E_KEY', qr/wrong passphrase/,
        'create', '-k', 'ks-enc', '-passin', 'file:wrong.txt', '-id', 'x', @lic, '-out', 'x.lic');
refused('create passphrase in argv', 'OVSA_E_KEY', qr/pass: is refused/,
        'create', '-k', 'ks-enc', '-passin', 'pass:correct horse', '-id', 'x', @lic, '-out', 'x.lic');
chmod 0644, 'ks-ed25519/isv.key';
refused('readable key', 'OVSA_E_KEY_MODE', qr/isv\.key: private key file has mode 0644/,
        'create', '-k', 'ks-ed25519', '-id', 'x', @lic, '-out', 'x.lic');
chmod 0640, 'ks-ed25519/isv.key';
refused('key readable by the group', 'OVSA_E_KEY_MODE', qr/isv\.key: private key file has mode 0640/,
        'create', '-k', 'ks-ed25519', '-id', 'x', @lic, '-out', 'x.lic');
chmod 0600, 'ks-ed25519/isv.key';
refused('create over a file', 'OVSA_E_IO', qr/exists, not overwritten/,
        'create', '-k', 'ks-ec', '-id', 'x', @lic, '-out', 'ec.lic');

my %bad = (
    'sync interval 100'  => [ 'OVSA_E_LIC_RANGE',  qr/sync_interval/,     '-sync-interval', '100' ],
    'sync interval 1e9'  => [ 'OVSA_E_LIC_RANGE',  qr/sync_interval/,     '-sync-interval', '1000000000' ],
    'lease 10'           => [ 'OVSA_E_LIC_RANGE',  qr/lease_seconds/,     '-lease-seconds', '10' ],
    'bad id'             => [ 'OVSA_E_LIC_FIELD',  qr/license_id/,        '-id', 'a b' ],
    'bad type'           => [ 'OVSA_E_LIC_FIELD',  qr/type: "trial"/,     '-type', 'trial' ],
    'http server'        => [ 'OVSA_E_LIC_URL',    qr/servers\[2\]\.url/, '-server', 'http://ls3.example.com', '-server-cert', 'a1.crt' ],
    'repeated server'    => [ 'OVSA_E_LIC_URL',    qr/repeats/,           '-server', 'https://ls2.example.com', '-server-cert', 'a1.crt' ],
    'usage-count'        => [ 'OVSA_E_LIC_LIMITS', qr/limits\.usage/,     '-type', 'usage-count' ],
    'node-locked'        => [ 'OVSA_E_LIC_LIMITS', qr/max_activations/,   '-type', 'node-locked' ],
    'time-limited'       => [ 'OVSA_E_LIC_LIMITS', qr/expires_at/,        '-type', 'time-limited' ],
    'missing cert file'  => [ 'OVSA_E_IO',         qr/nope\.crt/,         '-server', 'ls4.example.com', '-server-cert', 'nope.crt' ],
    'cert not a cert'    => [ 'OVSA_E_PEM',        qr/pass\.txt/,         '-server', 'ls4.example.com', '-server-cert', 'pass.txt' ],
    'customer cert'      => [ 'OVSA_E_IO',         qr/nope\.crt/,         '-customer-cert', 'nope.crt' ],
    'deactivations only' => [ 'OVSA_E_LIC_LIMITS', qr/deactivation_period.*both or neither/, '-deactivations', '2' ],
    'period only'        => [ 'OVSA_E_LIC_LIMITS', qr/limits\.deactivations/, '-deactivation-period', '30d' ],
    'period 3599 s'      => [ 'OVSA_E_LIC_RANGE',  qr/deactivation_period/, '-deactivations', '1', '-deactivation-period', '3599' ],
    'period 366 days'    => [ 'OVSA_E_LIC_RANGE',  qr/deactivation_period/, '-deactivations', '1', '-deactivation-period', '366d' ],
);
for my $name (sort keys %bad) {
    my ($code, $like, @extra) = @{ $bad{$name} };
    my @args = ('create', '-k', 'ks-ec', '-id', 'lic-bad', @lic, @extra, '-out', 'bad.lic');
    # the later -id / -type win
    refused("create, $name", $code, $like, @args);
    ok(!-e 'bad.lic' && !-e 'bad.lic.secret', "create, $name: no file written");
}
refused('-deactivation-period 3w', undef, qr/not seconds or a number of days/,
        'create', '-k', 'ks-ec', '-id', 'x', @lic, '-deactivations', '1', '-deactivation-period', '3w', '-out', 'x.lic');
refused('-deactivations -1', undef, qr/-deactivations/,
        'create', '-k', 'ks-ec', '-id', 'x', @lic, '-deactivations', '-1', '-out', 'x.lic');
refused('server without cert', undef, qr/has no -server-cert/,
        'create', '-k', 'ks-ec', '-id', 'x', @lic, '-server', 'ls5.example.com', '-out', 'x.lic');
refused('cert without server', undef, qr/no -server before it/,
        'create', '-k', 'ks-ec', '-id', 'x', '-server-cert', 'a1.crt', @lic, '-out', 'x.lic');
refused('missing -id', undef, qr/are required/, 'create', '-k', 'ks-ec', @lic, '-out', 'x.lic');
refused('-seats x', undef, qr/"x" is not a whole number/, 'create', '-k', 'ks-ec', '-id', 'x', @lic, '-seats', 'x', '-out', 'x.lic');
refused('-expires bad', undef, qr/not YYYY-MM-DD/, 'create', '-k', 'ks-ec', '-id', 'x', @lic, '-expires', '2030/01/01', '-out', 'x.lic');

# ---- verify and show
($rc, $out) = run('verify', '-l', 'ec.lic');
is($rc, 0, 'verify without -isv');
like($out, qr/ec\.lic: OK \(license lic-ec version 1, ES256, ISV not checked\)/, 'verify output');
refused('verify, other ISV', 'OVSA_E_LIC_ISV', qr/none of the 2 trusted/,
        'verify', '-l', 'ec.lic', '-isv', 'ks-rsa/isv.crt', '-isv', 'a1.crt');
($rc) = run('verify', '-l', 'ec.lic', '-isv', 'ks-rsa/isv.crt', '-isv', 'ks-ec/isv.crt');
is($rc, 0, 'verify, one of two ISVs');

my $j = decode_json(slurp('ec.lic'));
(my $tp = $j->{payload}) =~ s/^(.{10})(.)/$1 . ($2 eq 'A' ? 'B' : 'A')/e;
open my $t, '>', 'tampered.lic' or die; print $t encode_json({ %$j, payload => $tp }); close $t;
($rc, $out, $err) = run('verify', '-l', 'tampered.lic');
is($rc, 3, 'tampered: exit 3 (does not verify)');
like($out, qr/tampered\.lic: FAILED OVSA_E_LIC_SIGNATURE/, 'tampered: code on stdout');
like($err, qr/OVSA_E_LIC_SIGNATURE/, 'tampered: code on stderr');
open $t, '>', 'garbage.lic' or die; print $t "not a license\n"; close $t;
refused('verify garbage', 'OVSA_E_LIC_SYNTAX', qr/garbage\.lic/, 'verify', '-l', 'garbage.lic');
refused('verify missing', 'OVSA_E_IO', qr/missing\.lic/, 'verify', '-l', 'missing.lic');
refused('show tampered', 'OVSA_E_LIC_SIGNATURE', undef, 'show', '-l', 'tampered.lic');

($rc, $out) = run('show', '-l', 'enc.lic');
is($rc, 0, 'show');
like($out, qr/^license:\s+lic-enc$/m, 'show: id');
like($out, qr/^version:\s+1, issued \d{4}-\d\d-\d\d/m, 'show: version');
like($out, qr/^type:\s+floating$/m, 'show: type');
like($out, qr/^limits:\s+max activations 2, seats 10, lease 600 s$/m, 'show: limits');
like($out, qr/^expires:\s+2030-01-02 00:00:00 UTC$/m, 'show: expiry');
like($out, qr/^hardware key:\s+required$/m, 'show: hardware key');
like($out, qr/^server 1:\s+\Q$U1\E\n  current pin:\s+\Q@{[pin_of('a1.crt')]}\E\n  future pin:\s+none$/m, 'show: server 1 pins');
like($out, qr/^signer:\s+.*ovsa ISV.*\(ES256\)$/m, 'show: signer');
{
    my $sec = slurp('enc.lic.secret');
    chomp $sec;
    like($out, qr/^customer secret:\s+set \(sha256 \Q@{[sha256_hex($sec)]}\E\)$/m, 'show: secret set, its hash');
    unlike($out, qr/\Q$sec\E/, 'show: never the secret');
}
like($out, qr/^deactivations:\s+not limited$/m, 'show: deactivations not limited');
($rc, $out) = run('show', '-l', 'nl1.lic');
like($out, qr/^deactivations:\s+3 per 2592000 s \(30 days\)$/m, 'show: deactivation limits');
($rc, $out) = run('show', '-l', 'ns.lic');
like($out, qr/^customer secret:\s+none$/m, 'show: no secret');

# ---- updatecustlicense: pin movement, two URLs
my @ks = ('-k', 'ks-ec');
($rc, $out, $err) = run('updatecustlicense', @ks, '-l', 'ec.lic', '-u', 'ls1.example.com:8443', 'a2.crt', '-c', 'v2.lic');
is($rc, 0, 'update 1 (seed flags)') or diag $err;
like($out, qr/version 2 \(was 1\).*\Q$U1\E: future added/s, 'update 1 output');
$p = payload('v2.lic');
is($p->{version}, 2, 'v2');
is_deeply(pins($p, $U1), [ pin_of('a1.crt'), pin_of('a2.crt') ], 'v2: ls1 current a1, future a2');
is_deeply(pins($p, $U2), [ pin_of('b1.crt'), undef ], 'v2: ls2 untouched');

($rc, $out, $err) = run('updatecustlicense', '--keystore', 'ks-ec', '--license', 'v2.lic',
                        '--server', "$U1/", 'a3.crt', '-u', 'ls2.example.com', 'b2.crt', '--out', 'v3.lic');
is($rc, 0, 'update 2 (long forms, two URLs)') or diag $err;
$p = payload('v3.lic');
is($p->{version}, 3, 'v3');
is_deeply(pins($p, $U1), [ pin_of('a2.crt'), pin_of('a3.crt') ], 'v3: ls1 rotated: current a2, future a3');
is_deeply(pins($p, $U2), [ pin_of('b1.crt'), pin_of('b2.crt') ], 'v3: ls2 current b1, future b2');

($rc, $out) = run('updatecustlicense', @ks, '-l', 'v3.lic', '-u', $U1, 'a2.crt', '-u', $U2, 'b2.crt', '-c', 'v4.lic');
is($rc, 0, 'update 3 (pins already there)');
like($out, qr/\Q$U1\E: unchanged \(already current\)/, 'current pin: unchanged');
like($out, qr/\Q$U2\E: unchanged \(already future\)/, 'future pin: unchanged');
$p = payload('v4.lic');
is($p->{version}, 4, 'v4 still issued');
is_deeply(pins($p, $U1), [ pin_of('a2.crt'), pin_of('a3.crt') ], 'v4: ls1 as before');
is_deeply(pins($p, $U2), [ pin_of('b1.crt'), pin_of('b2.crt') ], 'v4: ls2 as before');
for my $k (qw(license_id product customer type limits sync_interval expires_at require_hardware_key)) {
    is_deeply($p->{$k}, payload('ec.lic')->{$k}, "update keeps $k");
}
is($p->{customer}{secret_sha256}, payload('ec.lic')->{customer}{secret_sha256},
   'update keeps secret_sha256');
($rc, $out, $err) = run('updatecustlicense', @ks, '-l', 'nl2.lic', '-u', 'ls1.example.com', 'a2.crt', '-c', 'nl2v2.lic');
is($rc, 0, 'update node-locked') or diag $err;
is_deeply(payload('nl2v2.lic')->{limits}, payload('nl2.lic')->{limits}, 'update keeps the deactivation limits');

# -new-secret: re-key a leaked secret
my $oldsec = slurp('ec.lic.secret');
($rc, $out, $err) = run('updatecustlicense', @ks, '-l', 'v4.lic', '-new-secret', '-secret-out', 'v5.secret',
                        '-c', 'v5.lic');
is($rc, 0, 'update -new-secret (no -u needed)') or diag $err;
{
    my $sec = slurp('v5.secret');
    is(mode('v5.secret'), '0600', 'new secret file is 0600');
    like($sec, qr/\A[A-Za-z0-9_-]{43}\n\z/, 'new secret: 43 base64url characters');
    chomp $sec;
    unlike("$out$err", qr/\Q$sec\E/, 'new secret not printed');
    my $p5 = payload('v5.lic');
    is($p5->{version}, 5, '-new-secret: next version');
    is($p5->{customer}{secret_sha256}, sha256_hex($sec), '-new-secret: the hash of the new secret');
    isnt($p5->{customer}{secret_sha256}, $p->{customer}{secret_sha256}, '-new-secret changes the hash');
    is_deeply($p5->{servers}, $p->{servers}, '-new-secret alone keeps the pins');
    is(slurp('ec.lic.secret'), $oldsec, 'the old secret file is left alone');
}
refused('update -new-secret without -secret-out', undef, qr/go together/,
        'updatecustlicense', @ks, '-l', 'v4.lic', '-new-secret', '-c', 'x.lic');
refused('update -secret-out without -new-secret', undef, qr/go together/,
        'updatecustlicense', @ks, '-l', 'v4.lic', '-u', $U1, 'a2.crt', '-secret-out', 'x.secret', '-c', 'x.lic');
refused('update -new-secret over a file', 'OVSA_E_IO', qr/v5\.secret exists/,
        'updatecustlicense', @ks, '-l', 'v4.lic', '-new-secret', '-secret-out', 'v5.secret', '-c', 'x.lic');
refused('update without -u or -new-secret', undef, qr/are required/,
        'updatecustlicense', @ks, '-l', 'v4.lic', '-c', 'x.lic');
ok(!-e 'x.lic' && !-e 'x.secret', 'secret refusals wrote nothing');

# the new file may replace the old one in place
system('cp', 'v4.lic', 'inplace.lic');
($rc) = run('updatecustlicense', @ks, '-l', 'inplace.lic', '-u', $U1, 'b1.crt', '-c', 'inplace.lic');
is($rc, 0, 'update in place');
is(payload('inplace.lic')->{version}, 5, 'in place: version 5');

# refusals
refused('update, unknown URL', 'OVSA_E_LIC_SERVER', qr/no such server.*-add-server/,
        'updatecustlicense', @ks, '-l', 'v2.lic', '-u', 'ls9.example.com', 'a1.crt', '-c', 'x.lic');
ok(!-e 'x.lic', 'unknown URL: nothing written');
($rc, $out) = run('updatecustlicense', @ks, '-l', 'v2.lic', '-u', 'ls9.example.com', 'a3.crt', '-add-server', '-c', 'added.lic');
is($rc, 0, 'update -add-server');
is_deeply(pins(payload('added.lic'), 'https://ls9.example.com'), [ pin_of('a3.crt'), undef ], 'added server: current pinned');
refused('update, other keystore', 'OVSA_E_LIC_ISV', qr/not signed by the keystore/,
        'updatecustlicense', '-k', 'ks-rsa', '-l', 'v2.lic', '-u', $U1, 'a3.crt', '-c', 'x.lic');
refused('update, tampered license', 'OVSA_E_LIC_SIGNATURE', qr/tampered\.lic/,
        'updatecustlicense', @ks, '-l', 'tampered.lic', '-u', $U1, 'a3.crt', '-c', 'x.lic');
refused('update, http URL', 'OVSA_E_LIC_SERVER', undef,
        'updatecustlicense', @ks, '-l', 'v2.lic', '-u', 'http://ls1.example.com:8443', 'a3.crt', '-c', 'x.lic');
refused('update, http URL added', 'OVSA_E_LIC_URL', undef,
        'updatecustlicense', @ks, '-l', 'v2.lic', '-u', 'http://ls1.example.com:8443', 'a3.crt', '-add-server', '-c', 'x.lic');
refused('update, missing future cert', 'OVSA_E_IO', qr/nope\.crt/,
        'updatecustlicense', @ks, '-l', 'v2.lic', '-u', $U1, 'nope.crt', '-c', 'x.lic');
refused('update, -u with one value', undef, qr/option "-u" needs two values \(url cert\)/,
        'updatecustlicense', @ks, '-l', 'v2.lic', '-c', 'x.lic', '-u', $U1);
refused('update, passphrase in argv', 'OVSA_E_KEY', qr/pass: is refused/,
        'updatecustlicense', '-k', 'ks-enc', '-passin', 'pass:correct horse', '-l', 'enc.lic', '-u', $U1, 'a2.crt', '-c', 'x.lic');
ok(!-e 'x.lic', 'refusals wrote nothing');

# customer certificate: binds an unbound license, must match a bound one
($rc) = run('updatecustlicense', @ks, '-l', 'v2.lic', '-p', 'cust.crt', '-u', $U1, 'a2.crt', '-c', 'bound.lic');
is($rc, 0, 'update -p binds');
is(payload('bound.lic')->{customer}{cert_sha256}, $fp, 'bound to cust.crt');
refused('update -p other customer', 'OVSA_E_CUSTOMER_CERT', qr/bound to customer certificate/,
        'updatecustlicense', @ks, '-l', 'bound.lic', '-p', 'cust2.crt', '-u', $U1, 'a2.crt', '-c', 'x.lic');
($rc) = run('updatecustlicense', '-k', 'ks-enc', '-passin', 'env:P', '-l', 'enc.lic', '-p', 'cust.crt',
            '-u', $U2, 'b2.crt', '-c', 'enc2.lic', { env => { P => 'correct horse' } });
is($rc, 0, 'update with encrypted keystore, same customer cert');
is(payload('enc2.lic')->{version}, 2, 'enc2: version 2');

@left = glob('.*.lic.*');
is(scalar @left, 0, 'still no temporary files');

# the example in docs/license-format.md is a real, verifying license
my $doc = slurp("$root/docs/license-format.md");
my ($example) = $doc =~ /^`face_detection\.v2\.lic`:\n\n```json\n(.*?)\n```/ms;
ok($example, 'docs: example found');
open $t, '>', 'doc.lic' or die; print $t "$example\n"; close $t;
($rc, $out) = run('verify', '-l', 'doc.lic');
is($rc, 0, 'docs: example verifies');
like($out, qr/license acme-fd-0001 version 2, EdDSA/, 'docs: example is version 2');

done_testing();
