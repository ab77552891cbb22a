#!/usr/bin/perl
# 090-hwkey-token.t: the server key on a real PKCS#11 token (SoftHSM2
# behind p11-kit server): provisioning with scripts/ovsa_hwkey.sh, and
# lib/ovsa_p11 (open errors, signing, unplug, re-open, a slow token).
use strict;
use warnings;
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Temp qw(tempdir);
use Test::More;
use lib dirname(__FILE__) . "/lib";
use OvsaToken;

my $root    = abs_path(dirname(__FILE__) . '/..');
my $fixture = "$root/t/lib/softhsm.sh";
my $hwkey   = "$root/scripts/ovsa_hwkey.sh";
my $build   = $ENV{OVSA_BUILD} || "$root/build";
my $tester  = "$build/test/p11-open";
my $delay   = "$build/lib/ovsa-p11-delay.so";

for my $need ('/usr/lib/softhsm/libsofthsm2.so', '/usr/bin/p11-kit',
              '/usr/bin/pkcs11-tool',
              '/usr/lib/x86_64-linux-gnu/engines-3/pkcs11.so') {
    plan skip_all => "$need missing (make deps)" unless -e $need;
}
for my $need ($tester, $delay) {
    plan skip_all => "$need not built (run make)" unless -x $need || -r $need;
}

my $dir = tempdir('ovsa-hwkey-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $hsm = "$dir/hsm";
my $tmp = "$dir/tmp";
mkdir $tmp or die "mkdir $tmp: $!";
$ENV{TMPDIR} = $tmp;    # ovsa_hwkey.sh's engine config lands here


sub fixture { return cmd_run('sh', $fixture, @_, $hsm) }

my ($rc, $out) = cmd_run('sh', $fixture, 'init', $hsm, 'ec');
is($rc, 0, 'fixture: token with RSA-2048 and P-256 keys') or diag $out;
($rc, $out) = fixture('start');
is($rc, 0, 'fixture: p11-kit server exports the token') or diag $out;
END { cmd_run('sh', $fixture, 'destroy', $hsm) if defined $hsm && -d $hsm }

# The client environment, as the fixture prints it.
($rc, $out) = fixture('env');
for (split /\n/, $out) {
    $ENV{$1} = $2 if /^(\w+)='([^']*)'; export/;
}
my $module = $ENV{OVSA_P11_MODULE};
my $pin    = $ENV{OVSA_HSM_PIN_FILE};
ok(-S "$hsm/p11.sock" && $module =~ /p11-kit-client\.so$/,
   'fixture: client module and socket');
is((stat $pin)[2] & 07777, 0600, 'fixture: PIN file is 0600');

# ---- provisioning on the token
my $label = $ENV{OVSA_HSM_LABEL};
($rc, $out) = cmd_run('sh', $hwkey, 'keygen', '-module', $module,
                      '-token', $label, '-label', 'srv', '-pin-file', $pin);
is($rc, 0, 'keygen: key pair generated on the token') or diag $out;
my ($uri) = $out =~ /^(pkcs11:\S+)$/m;
is($uri, "pkcs11:token=$label;object=srv;type=private", 'keygen: prints URI');

($rc, $out) = cmd_run('sh', $hwkey, 'keygen', '-module', $module,
                      '-token', $label, '-label', 'srv', '-pin-file', $pin);
isnt($rc, 0, 'keygen: refuses a second key with the same label');
like($out, qr/already holds a key labelled srv/, 'keygen: says why');

my $csr = "$dir/srv.csr";
($rc, $out) = cmd_run('sh', $hwkey, 'csr', '-module', $module, '-uri', $uri,
                      '-pin-file', $pin, '-cn', 'lic.example.test',
                      '-san', 'DNS:lic.example.test', '-out', $csr);
is($rc, 0, 'csr: signed by the token') or diag $out;
($rc, $out) = cmd_run('openssl', 'req', '-in', $csr, '-noout', '-verify');
is($rc, 0, 'csr: self-signature verifies') or diag $out;

($rc, my $csr_pub) = cmd_run('openssl', 'req', '-in', $csr, '-noout',
                             '-pubkey');
($rc, $out) = cmd_run('pkcs11-tool', '--module', $module, '--token-label',
                      $label, '--read-object', '--type', 'pubkey',
                      '--label', 'srv', '-o', "$dir/srv.pub.der");
is($rc, 0, 'token: public key object readable') or diag $out;
($rc, my $tok_pub) = cmd_run('openssl', 'pkey', '-pubin', '-inform', 'DER',
                             '-in', "$dir/srv.pub.der", '-pubout');
ok($csr_pub =~ /BEGIN PUBLIC KEY/ && $csr_pub eq $tok_pub,
   'csr: public key is the token key');

my $bad_pin = "$dir/bad-pin";
open(my $fh, '>', $bad_pin) or die; print $fh "000000\n"; close $fh;
chmod 0600, $bad_pin;
($rc, $out) = cmd_run('sh', $hwkey, 'csr', '-module', $module, '-uri', $uri,
                      '-pin-file', $bad_pin, '-cn', 'x', '-out', "$dir/x.csr");
isnt($rc, 0, 'csr: wrong PIN fails');
ok(!-e "$dir/x.csr", 'csr: nothing written on failure');

# The development vendor CA issues the leaf from the token's CSR.
my $devca = "$root/scripts/ovsa_dev_ca.sh";
($rc, $out) = cmd_run('sh', $devca, 'init', '-d', "$dir/ca");
is($rc, 0, 'dev CA created') or diag $out;
($rc, $out) = cmd_run('sh', $devca, 'sign', '-d', "$dir/ca", '-in', $csr,
                      '-out', "$dir/chain.pem");
is($rc, 0, 'dev CA issued the leaf from the token CSR') or diag $out;
($rc, $out) = cmd_run('openssl', 'verify', '-CAfile', "$dir/ca/root.pem",
                      '-untrusted', "$dir/chain.pem", "$dir/chain.pem");
is($rc, 0, 'leaf verifies against the vendor root') or diag $out;

($rc, $out) = cmd_run('sh', $hwkey, 'check', '-module', $module, '-uri', $uri,
                      '-pin-file', $pin, '-cert', "$dir/chain.pem");
is($rc, 0, 'check: token key matches its leaf') or diag $out;
($rc, $out) = cmd_run('sh', $hwkey, 'check', '-module', $module, '-uri', $uri,
                      '-pin-file', $pin, '-cert', "$dir/ca/root.pem");
isnt($rc, 0, 'check: another certificate is refused');
like($out, qr/MISMATCH/, 'check: says MISMATCH');

# ovsatool: the start check of nginx, token included, and the token's pin
my $tool = "$build/bin/ovsatool";
($rc, $out) = cmd_run($tool, 'identity', '-chain', "$dir/chain.pem",
                      '-root', "$dir/ca/root.pem", '-module', $module,
                      '-key-uri', $uri, '-pin-file', $pin);
is($rc, 0, 'ovsatool identity: the token key is the leaf\'s') or diag $out;
my ($leaf_pin) = $out =~ /^pin: (\S+)$/m;
($rc, $out) = cmd_run($tool, 'pin', '-module', $module, '-key-uri', $uri,
                      '-pin-file', $pin);
is($rc, 0, 'ovsatool pin of the token key') or diag $out;
is($out, ($leaf_pin // '?') . "\n", '... equals the pin of the leaf');
($rc, $out) = cmd_run($tool, 'identity', '-chain', "$dir/chain.pem",
                      '-root', "$dir/ca/root.pem", '-module', $module,
                      '-key-uri', "pkcs11:token=$label;object=nokey",
                      '-pin-file', $pin);
is($rc, 1, 'ovsatool identity: a key missing on the token is an error');
like($out, qr/^ovsatool identity: hardware key: .*\(OVSA_E_P11_KEY\)$/m,
     '... the reason, as nginx -t gives it');
($rc, $out) = cmd_run($tool, 'pin', '-module', $module, '-key-uri', $uri,
                      '-pin-file', $bad_pin);
is($rc, 1, 'ovsatool pin: a wrong PIN is an error');
like($out, qr/\(OVSA_E_P11_PIN\)$/m, '... OVSA_E_P11_PIN');

opendir(my $dh, $tmp) or die;
my @left = grep { !/^\.\.?$/ } readdir $dh;
closedir $dh;
is_deeply(\@left, [], 'no engine config (with the PIN) left behind');

# ---- lib/ovsa_p11: one code per failure
my %cases = (
    'good'          => [$module, $uri, $pin, 'OVSA_OK'],
    'wrong PIN'     => [$module, $uri, $bad_pin, 'OVSA_E_P11_PIN'],
    'missing token' => [$module, 'pkcs11:token=absent;object=srv', $pin,
                        'OVSA_E_P11_TOKEN'],
    'missing key'   => [$module, "pkcs11:token=$label;object=nokey", $pin,
                        'OVSA_E_P11_KEY'],
    'no module'     => ["$dir/none.so", $uri, $pin, 'OVSA_E_P11_MODULE'],
    'not a module'  => ['/usr/lib/x86_64-linux-gnu/libyaml-0.so.2', $uri, $pin,
                        'OVSA_E_P11_MODULE'],
);
for my $name (sort keys %cases) {
    my ($m, $u, $p, $code) = @{$cases{$name}};
    ($rc, $out) = cmd_run($tester, 'open', $m, $u, $p);
    like($out, qr/^open: \Q$code\E: /m, "open, $name: $code") or diag $out;
    is($rc, $code eq 'OVSA_OK' ? 0 : 1, "open, $name: exit code");
}

for my $key ("srv", "ovsa-ec") {
    ($rc, $out) = cmd_run($tester, 'sign', $module,
                          "pkcs11:token=$label;object=$key;type=private", $pin);
    is($rc, 0, "sign with $key on the token") or diag $out;
    like($out, qr/^sign-pss: OVSA_OK: \d+-byte signature verifies/m,
         "$key: signature verifies in software");
}

# ---- the PIN as default.yaml's hardware_key names it
sub write_yaml {
    my ($pin_line) = @_;
    open(my $y, '>', "$dir/default.yaml") or die;
    print $y "identity:\n  chain: chain.pem\n  root: ca/root.pem\n"
           . "hardware_key:\n  enabled: true\n  module: $module\n"
           . "  key_uri: \"$uri\"\n  $pin_line\n";
    close $y;
}
write_yaml("pin_file: $pin");
($rc, $out) = cmd_run($tester, 'conf', "$dir/default.yaml");
is($rc, 0, 'default.yaml, pin_file: opens and signs') or diag $out;
like($out, qr/^key-match: OVSA_OK/m,
     'identity chain verifies and its leaf matches the token key');
{
    open(my $p, '<', $pin) or die; my $v = <$p>; chomp $v; close $p;
    local $ENV{OVSA_TEST_PIN} = $v;
    write_yaml('pin_env: OVSA_TEST_PIN');
    ($rc, $out) = cmd_run($tester, 'conf', "$dir/default.yaml");
    is($rc, 0, 'default.yaml, pin_env: opens and signs') or diag $out;
}
($rc, $out) = cmd_run($tester, 'conf', "$dir/default.yaml");
like($out, qr/^open-conf: OVSA_E_P11_PIN: .*OVSA_TEST_PIN is not set/m,
     'default.yaml, pin_env unset: OVSA_E_P11_PIN');

# ---- unplug: the old handle reports the loss (alarm() turns a hang into
# exit 3), restarting the server does not revive it, a new process can.
($rc, $out) = cmd_run($tester, 'unplug', $module, $uri, $pin, $fixture, $hsm);
is($rc, 0, 'unplug cycle ran to the end without hanging') or diag $out;
like($out, qr/^probe-unplugged: OVSA_E_P11_(DEVICE|TOKEN): /m,
     'probe reports the device loss');
like($out, qr/^sign-unplugged: OVSA_E_P11_(DEVICE|TOKEN): /m,
     'sign fails with a device error');
like($out, qr/^reopen-same: OVSA_E_P11_MODULE: .*new process/m,
     'a second open in the same process is refused');
unlike($out, qr/HANG/, 'no token call hung');

($rc, $out) = fixture('unplug');
is($rc, 0, 'unplug again') or diag $out;
($rc, $out) = cmd_run($tester, 'open', $module, $uri, $pin);
like($out, qr/^open: OVSA_E_P11_TOKEN: /m, 'open while unplugged: TOKEN');
($rc, $out) = fixture('start');
is($rc, 0, 'server restarted') or diag $out;
($rc, $out) = cmd_run($tester, 'sign', $module, $uri, $pin);
is($rc, 0, 'after the restart a new process opens and signs') or diag $out;

# ---- slow token: the shim delays C_Sign; the signature stays valid.
{
    local $ENV{OVSA_P11_DELAY_TARGET} = $module;
    local $ENV{OVSA_P11_DELAY_MS} = 300;
    ($rc, $out) = cmd_run($tester, 'sign', $delay, $uri, $pin);
    is($rc, 0, 'delay shim: open and sign through it') or diag $out;
    like($out, qr/^sign-pss: OVSA_OK: 256-byte signature verifies/m,
         'delay shim: delayed signature verifies');
}

done_testing();
