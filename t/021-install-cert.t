#!/usr/bin/perl
# scripts/ovsa_install_license_server_cert.sh: csr, gencert, gencert-new,
# install-cert, install-new-cert, provision-new-cert, pin; the self-signed
# and the CA-signed rotation; every refusal leaves CONFDIR byte-identical.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use POSIX ();
use Test::More;

use OvsaScriptTest;

my $INST = script('ovsa_install_license_server_cert.sh');
my $DEVCA = script('ovsa_dev_ca.sh');
my $P = 'ovsa_install_license_server_cert.sh';
# the policy lib checks: the one place it is written is lib/ovsa_x509.h
my $OID = run_cmd(($ENV{OVSA_BUILD} || "$FindBin::Bin/../build") . "/bin/ovsatool", 'policy-oid')->{out};
chomp $OID;
like($OID, qr/^2\.25\.\d+$/, 'ovsatool policy-oid: a UUID OID');
my $ID_RE = qr/\d{8}T\d{6}Z-[0-9a-f]{8}/;
# the dev CA's names, as lib prints subjects
my $ROOT = 'CN=OVSA Dev Root CA,O=OVSA Development';
my $INTER = 'CN=OVSA Dev Intermediate CA,O=OVSA Development';

my $t = fresh_dir();
my $conf = "$t/conf";

sub inst { run_cmd('sh', $INST, '-d', $conf, @_) }
sub devca { my $r = run_cmd('sh', $DEVCA, @_); die "dev CA: $r->{err}" if $r->{rc}; $r }

sub first_pin { spki_pin((pem_certs(slurp($_[0])))[0]) }
sub link_id { my $l = readlink("$conf/$_[0]"); defined $l ? $l =~ s{^identities/}{}r : undef }
sub pubkey_of_cert { run_cmd('openssl', 'x509', '-in', $_[0], '-noout', '-pubkey')->{out} }
sub pubkey_of_key { run_cmd('openssl', 'pkey', '-in', $_[0], '-pubout')->{out} }

sub write_file {
    my ($f, $s) = @_;
    open(my $fh, '>', $f) or die "$f: $!";
    print $fh $s;
    close($fh);
}

# refused(NAME, MESSAGE, ARGS...): non-zero exit, exactly MESSAGE on stderr,
# nothing on stdout, CONFDIR byte-identical.
sub refused {
    my ($name, $msg, @args) = @_;
    my $before = tree_state($conf);
    my $r = inst(@args);
    isnt($r->{rc}, 0, "$name: refused");
    is($r->{err}, "$P: $msg\n", "$name: message");
    is($r->{out}, '', "$name: nothing on stdout");
    is(tree_state($conf), $before, "$name: CONFDIR unchanged");
}

# refused_like(NAME, REGEX, ARGS...): refused() for a message that ends in
# OpenSSL's own words
sub refused_like {
    my ($name, $re, @args) = @_;
    my $before = tree_state($conf);
    my $r = inst(@args);
    isnt($r->{rc}, 0, "$name: refused");
    my ($line) = $r->{err} =~ /\A\Q$P\E: (.*)\n\z/;
    like($line // $r->{err}, $re, "$name: message");
    is($r->{out}, '', "$name: nothing on stdout");
    is(tree_state($conf), $before, "$name: CONFDIR unchanged");
}

# installed(NAME, SLOT, RESULT): checks the output of an install into SLOT,
# returns (id, pin)
sub installed {
    my ($name, $slot, $r) = @_;
    is($r->{rc}, 0, "$name: succeeds") or diag($r->{err});
    like($r->{out}, qr{^installed $slot identity ($ID_RE) \(\Q$conf\E/$slot/server-chain\.pem\)\npin: (sha256//\S+)\n}m,
         "$name: reports identity and pin");
    my ($id, $pin) = $r->{out} =~ /identity ($ID_RE) .*\npin: (\S+)/;
    is(link_id($slot), $id, "$name: $slot -> identities/$id");
    is($pin, first_pin("$conf/$slot/server-chain.pem"),
       "$name: printed pin = independent SPKI pin");
    is(file_mode("$conf/identities/$id"), '0700', "$name: identity dir 0700");
    is(file_mode("$conf/identities/$id/server.key"), '0600', "$name: key 0600");
    is(pubkey_of_key("$conf/$slot/server.key"),
       pubkey_of_cert("$conf/$slot/server-chain.pem"),
       "$name: key matches the leaf");
    return ($id, $pin);
}

# ======== self-signed: gencert -> gencert-new -> provision-new-cert
my $r = inst('gencert');
my ($id1, $pin1) = installed('gencert', 'current', $r);
is(file_mode($conf), '0700', 'CONFDIR created 0700');
is(file_mode("$conf/identities"), '0700', 'identities/ 0700');
is(readlink("$conf/vendor-root.pem"), 'current/root.pem',
   'vendor-root.pem follows current');
is(slurp("$conf/vendor-root.pem"), slurp("$conf/current/server-chain.pem"),
   'self-signed: the vendor root is the certificate itself');
my $cur = cert_text("$conf/current/server-chain.pem");
like($cur, qr/Issuer: CN = ovsa-license-server\s+Validity.*Subject: CN = ovsa-license-server\n/s,
     'gencert: self-signed');
like($cur, qr/Public-Key: \(2048 bit\)/, 'gencert: RSA-2048');
like($cur, qr/Public Key Algorithm: rsaEncryption/, 'gencert: RSA');
like($cur, qr/Extended Key Usage:\s+TLS Web Server Authentication\n/, 'gencert: EKU serverAuth');
like($cur, qr/Certificate Policies:\s+Policy: \Q$OID\E\n/, 'gencert: policy OID');
like($cur, qr/Basic Constraints: critical\s+CA:FALSE/, 'gencert: not a CA');
like($cur, qr/Subject Alternative Name:\s+DNS:localhost, IP Address:127.0.0.1\n/,
     'gencert: default SAN');
my ($ski) = $cur =~ /Subject Key Identifier:\s+(\S+)\n/;
my ($aki) = $cur =~ /Authority Key Identifier:\s+(?:keyid:)?(\S+)\n/;
ok(defined $ski && defined $aki && $ski eq $aki,
   'gencert: authorityKeyIdentifier = its own SKI');
is(run_cmd('openssl', 'x509', '-in', "$conf/current/server-chain.pem",
           '-noout', '-checkend', 364 * 86400)->{rc}, 0, 'gencert: valid 364 days');
isnt(run_cmd('openssl', 'x509', '-in', "$conf/current/server-chain.pem",
             '-noout', '-checkend', 366 * 86400)->{rc}, 0, 'gencert: not 366 days');

my $yaml = slurp("$conf/default.yaml");
like($yaml, qr/^identity:\n  chain: current\/server-chain\.pem\n  key: current\/server\.key\n  root: vendor-root\.pem\n/m,
     'default.yaml: identity section');
unlike($yaml, qr/^(hardware_key|backend|redis|licenses):/m,
       'default.yaml: other sections only as comments');
like($yaml, qr/^#redis:\n#  address: /m, 'default.yaml: commented redis defaults');
is(file_mode("$conf/default.yaml"), '0600', 'default.yaml 0600');
# default.yaml is never rewritten
write_file("$conf/default.yaml", $yaml . "# local edit\n");

$r = inst('pin');
is($r->{rc}, 0, 'pin succeeds');
is($r->{out}, "$pin1\n", 'pin prints the current pin');
$r = inst('pin', "$conf/current/server-chain.pem");
is($r->{out}, "$pin1\n", 'pin FILE');

refused('gencert over a current identity',
        "gencert: $conf already has a current identity (rotate with gencert-new or install-new-cert + provision-new-cert, or use --force)",
        'gencert');
refused('provision without a future',
        "provision-new-cert: no future identity in $conf (run gencert-new or install-new-cert first)",
        'provision-new-cert');

my $state_cur = tree_state("$conf/identities/$id1");
my %old_files = map { $_ => slurp("$conf/current/$_") } qw(server.key server-chain.pem);
$r = inst('gencert-new', '-cn', 'next.example', '-san', 'DNS:next.example');
my ($id2, $pin2) = installed('gencert-new', 'future', $r);
isnt($pin2, $pin1, 'gencert-new: a new key');
is(link_id('current'), $id1, 'gencert-new: current untouched');
is(tree_state("$conf/identities/$id1"), $state_cur, 'gencert-new: current files untouched');
like(cert_text("$conf/future/server-chain.pem"),
     qr/Subject: CN = next.example\n.*DNS:next.example\n/s, 'gencert-new: -cn, -san');
refused('gencert-new over a future',
        "gencert-new: $conf already has a future identity (provision it first, or use --force to replace it)",
        'gencert-new');

$r = inst('status');
is($r->{out}, "current: $id1 pin $pin1 expires "
    . (run_cmd('openssl', 'x509', '-in', "$conf/current/server-chain.pem",
               '-noout', '-enddate')->{out} =~ s/^notAfter=//r)
    . "future: $id2 pin $pin2 expires "
    . (run_cmd('openssl', 'x509', '-in', "$conf/future/server-chain.pem",
               '-noout', '-enddate')->{out} =~ s/^notAfter=//r),
   'status');

$r = inst('provision-new-cert');
is($r->{rc}, 0, 'provision-new-cert succeeds') or diag($r->{err});
like($r->{out}, qr{^backup: \Q$conf\E/backup/(\d{8}T\d{6}Z)\nprovisioned: current identity is now \Q$id2\E\npin: \Q$pin2\E\n$},
     'provision-new-cert: reports backup, identity, pin');
my ($bk1) = $r->{out} =~ m{^backup: (\S+)}m;
is(link_id('current'), $id2, 'future is now current');
ok(!-e "$conf/future" && !-l "$conf/future", 'future link removed');
ok(!-e "$conf/identities/$id1", 'old identity left identities/');
is(slurp("$bk1/$_"), $old_files{$_}, "backup holds the old $_")
    for qw(server.key server-chain.pem);
is(file_mode("$bk1/server.key"), '0600', 'backup key 0600');
is(slurp("$conf/vendor-root.pem"), slurp("$conf/current/server-chain.pem"),
   'self-signed: vendor root switched with current');
like(slurp("$conf/default.yaml"), qr/# local edit\n\z/, 'default.yaml not rewritten');
is(inst('pin')->{out}, "$pin2\n", 'pin follows the switch');

# gencert --force replaces current, keeping a backup
$r = inst('gencert', '--force');
my ($id3) = installed('gencert --force', 'current', $r);
like($r->{out}, qr{^backup: \Q$conf\E/backup/}m, 'gencert --force: backup reported');
my @backups = glob("$conf/backup/*");
is(scalar(@backups), 2, 'two backups kept');

# ======== reload: provision-new-cert --reload PIDFILE / $OVSA_NGINX_PIDFILE
sub hup_catcher {
    my ($tag) = @_;
    unlink("$t/ready-$tag", "$t/hup-$tag");
    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        $SIG{HUP} = sub { write_file("$t/hup-$tag", "hup\n"); POSIX::_exit(0) };
        write_file("$t/ready-$tag", "$$\n");
        sleep(1) for 1 .. 120;
        POSIX::_exit(3);
    }
    for (1 .. 200) {
        last if -s "$t/ready-$tag";
        select(undef, undef, undef, 0.05);
    }
    write_file("$t/pid-$tag", "$pid\n");
    return $pid;
}

for my $how ('--reload', 'env') {
    inst('gencert-new')->{rc} == 0 or die;
    my $fid = link_id('future');
    my $pid = hup_catcher($how);
    if ($how eq 'env') {
        local $ENV{OVSA_NGINX_PIDFILE} = "$t/pid-$how";
        $r = inst('provision-new-cert');
    } else {
        $r = inst('provision-new-cert', '--reload', "$t/pid-$how");
    }
    is($r->{rc}, 0, "provision $how: succeeds") or diag($r->{err});
    like($r->{out}, qr{\nreload: sent SIGHUP to pid $pid \(\Q$t/pid-$how\E\)\n\z},
         "provision $how: reports the reload");
    waitpid($pid, 0);
    is($? >> 8, 0, "provision $how: the process exited from its HUP handler");
    is(slurp("$t/hup-$how"), "hup\n", "provision $how: SIGHUP delivered");
    is(link_id('current'), $fid, "provision $how: switched");
}

inst('gencert-new')->{rc} == 0 or die;
my $fid = link_id('future');
write_file("$t/badpid", "nginx\n");
$r = inst('provision-new-cert', '--force', '--reload', "$t/badpid");
isnt($r->{rc}, 0, 'provision with a bad pid file: non-zero exit');
is($r->{err}, "$P: provision-new-cert: --force: skipping the pre-switch check\n"
    . "$P: provision-new-cert: switched to $fid, but $t/badpid holds no pid: not reloaded\n",
   'provision --force with a bad pid file: messages');
is(link_id('current'), $fid, '...but the switch happened');

# ======== CA-signed: csr -> sign -> install-cert -> csr -> sign
# ======== -> install-new-cert -> provision-new-cert
$conf = "$t/ca-conf";
my $ca = "$t/ca";
devca('init', '-d', $ca);

$r = inst('csr', '-cn', 'lic.example', '-san', 'DNS:lic.example,IP:127.0.0.1');
is($r->{rc}, 0, 'csr succeeds') or diag($r->{err});
my $csr = "$conf/pending/server.csr";
is($r->{out}, "$csr\n", 'csr prints the CSR path');
is(file_mode("$conf/pending/server.key"), '0600', 'pending key 0600');
is(file_mode("$conf/pending"), '0700', 'pending/ 0700');
is(run_cmd('openssl', 'req', '-in', $csr, '-noout', '-verify')->{rc}, 0,
   'CSR self-signature verifies');
my $csr_text = run_cmd('openssl', 'req', '-in', $csr, '-noout', '-text')->{out};
like($csr_text, qr/Subject: CN = lic.example\n/, 'CSR subject');
like($csr_text, qr/Public-Key: \(2048 bit\).*rsaEncryption|rsaEncryption.*Public-Key: \(2048 bit\)/s,
     'CSR: RSA-2048');
like($csr_text, qr/Subject Alternative Name:\s+DNS:lic.example, IP Address:127.0.0.1\n/,
     'CSR: SAN');
is(run_cmd('openssl', 'req', '-in', $csr, '-noout', '-pubkey')->{out},
   pubkey_of_key("$conf/pending/server.key"), 'CSR carries the pending key');

refused('csr over a pending CSR',
        "csr: a CSR is already pending: $csr (install its certificate first, or use --force to replace it)",
        'csr');
my $k1 = slurp("$conf/pending/server.key");
$r = inst('csr', '--force', '-cn', 'lic.example', '-san', 'DNS:lic.example,IP:127.0.0.1');
is($r->{rc}, 0, 'csr --force succeeds') or diag($r->{err});
isnt(slurp("$conf/pending/server.key"), $k1, 'csr --force: a new key');
is(scalar(() = glob("$conf/.pending*")), 0, 'csr --force: no temporary left');

devca('sign', '-d', $ca, '-in', $csr, '-out', "$t/c1.pem");
refused('install-cert without a vendor root',
        "install-cert: no vendor root: $conf/vendor-root.pem does not exist (pass -root ROOT.pem)",
        'install-cert', "$t/c1.pem");
my $pending_pub = pubkey_of_key("$conf/pending/server.key");
$r = inst('install-cert', "$t/c1.pem", '-root', "$ca/root.pem");
my ($cid1, $cpin1) = installed('install-cert', 'current', $r);
is($cpin1, first_pin("$t/c1.pem"), 'install-cert: pin of the CA-signed leaf');
is(pubkey_of_key("$conf/current/server.key"), $pending_pub,
   'install-cert: the pending key was installed');
ok(!-e "$conf/pending", 'install-cert: pending/ consumed');
is(join('', pem_certs(slurp("$conf/current/server-chain.pem"))),
   join('', pem_certs(slurp("$t/c1.pem"))), 'install-cert: chain = leaf + intermediate');
is(slurp("$conf/vendor-root.pem"), slurp("$ca/root.pem"), 'vendor root = CA root');
like(slurp("$conf/default.yaml"), qr/^  chain: current\/server-chain\.pem$/m,
     'install-cert wrote default.yaml');
is(scalar(() = glob("$conf/.[a-z]*")), 0, 'no temporary or lock left in CONFDIR');

$r = inst('csr');
is($r->{rc}, 0, 'second csr succeeds') or diag($r->{err});
devca('sign', '-d', $ca, '-in', $csr, '-out', "$t/c2.pem");

# ---- refusals (a pending CSR, a current identity, no future)
my $pk = "$conf/pending/server.key";
refused('missing chain file', "install-new-cert: identity.chain: read $t/none.pem: No such file or directory (OVSA_E_IO)",
        'install-new-cert', "$t/none.pem");
refused('missing key file', "install-new-cert: identity.key: $t/none.key: No such file or directory (OVSA_E_KEY)",
        'install-new-cert', "$t/c2.pem", "$t/none.key");
run_cmd('openssl', 'x509', '-in', "$t/c2.pem", '-outform', 'DER',
        '-out', "$t/c2.der")->{rc} == 0 or die;
refused('DER leaf without its intermediate (DER is read, then verified)', "install-new-cert: identity.chain: $t/c2.der: chain: certificate 1 (CN=ovsa-license-server) is not issued by the expected root ($ROOT) (OVSA_E_CHAIN_ROOT)",
        'install-new-cert', "$t/c2.der");
write_file("$t/cut.pem", slurp("$t/c2.pem") =~ s/\A-----BEGIN CERTIFICATE-----\n//r);
refused('cut-off PEM', "install-new-cert: identity.chain: $t/cut.pem: certificate 1: malformed PEM (an END line without its BEGIN line) (OVSA_E_PEM)",
        'install-new-cert', "$t/cut.pem");
write_file("$t/garbage.pem", "hello\n");
refused('garbage chain', "install-new-cert: identity.chain: $t/garbage.pem: no PEM or DER certificate found (OVSA_E_CHAIN_EMPTY)",
        'install-new-cert', "$t/garbage.pem");
chmod(0600, "$t/c2.pem");
refused_like('key is not a key', qr/^install-new-cert: identity\.key: \Q$t\E\/c2\.pem: not a PEM or DER private key \(OVSA_E_KEY\)$/,
        'install-new-cert', "$t/c2.pem", "$t/c2.pem");
chmod(0644, "$t/c2.pem");
refused('key readable by everyone', "install-new-cert: identity.key: $t/c2.pem: private key file has mode 0644: group and others must have no access (chmod 600) (OVSA_E_KEY_MODE)",
        'install-new-cert', "$t/c2.pem", "$t/c2.pem");
refused('key does not match',
        "install-new-cert: identity.key: $pk: private key does not match the leaf certificate (CN=lic.example) (OVSA_E_KEY_MISMATCH)",
        'install-new-cert', "$t/c1.pem");
refused('key does not match (explicit key)',
        "install-new-cert: identity.key: $conf/current/server.key: private key does not match the leaf certificate (CN=ovsa-license-server) (OVSA_E_KEY_MISMATCH)",
        'install-new-cert', "$t/c2.pem", "$conf/current/server.key");
devca('sign', '-d', $ca, '-in', $csr, '-out', "$t/old.pem",
      '-startdate', '20200101000000Z', '-enddate', '20200201000000Z');
refused('expired leaf',
        "install-new-cert: identity.chain: $t/old.pem: chain: certificate 1 (CN=ovsa-license-server): certificate has expired (OVSA_E_CERT_EXPIRED)",
        'install-new-cert', "$t/old.pem");
devca('init', '-d', "$t/other-ca");
devca('sign', '-d', "$t/other-ca", '-in', $csr, '-out', "$t/other.pem");
refused('chain of another CA',
        "install-new-cert: identity.chain: $t/other.pem: chain: certificate 2 ($INTER) is not issued by the expected root ($ROOT) (OVSA_E_CHAIN_ROOT)",
        'install-new-cert', "$t/other.pem");
refused('chain of another CA (-root)',
        "install-new-cert: identity.chain: $t/c2.pem: chain: certificate 2 ($INTER) is not issued by the expected root ($ROOT) (OVSA_E_CHAIN_ROOT)",
        'install-new-cert', "$t/c2.pem", '-root', "$t/other-ca/root.pem");
write_file("$t/leaf-only.pem", (split /(?<=-----END CERTIFICATE-----\n)/, slurp("$t/c2.pem"))[0]);
refused('leaf without its intermediate',
        "install-new-cert: identity.chain: $t/leaf-only.pem: chain: certificate 1 (CN=ovsa-license-server) is not issued by the expected root ($ROOT) (OVSA_E_CHAIN_ROOT)",
        'install-new-cert', "$t/leaf-only.pem");
write_file("$t/reordered.pem", slurp("$ca/intermediate.pem") . slurp("$t/c2.pem"));
refused('intermediate before leaf',
        "install-new-cert: identity.chain: $t/reordered.pem: chain: certificate 2 (CN=ovsa-license-server) is not the issuer of certificate 1 ($INTER): the chain must run from the leaf to the root (OVSA_E_CHAIN_ORDER)",
        'install-new-cert', "$t/reordered.pem");
write_file("$t/root-mid.pem", (split /(?<=-----END CERTIFICATE-----\n)/, slurp("$t/c2.pem"))[0]
    . slurp("$ca/root.pem") . slurp("$ca/intermediate.pem"));
refused('root between leaf and intermediate',
        "install-new-cert: identity.chain: $t/root-mid.pem: chain: certificate 2 ($ROOT) is not the issuer of certificate 1 (CN=ovsa-license-server): the chain must run from the leaf to the root (OVSA_E_CHAIN_ORDER)",
        'install-new-cert', "$t/root-mid.pem");
write_file("$t/two-roots.pem", slurp("$ca/root.pem") . slurp("$t/other-ca/root.pem"));
refused('root file with two certificates',
        "install-new-cert: identity.root: $t/two-roots.pem: expected exactly one certificate, found 2 (OVSA_E_PEM)",
        'install-new-cert', "$t/c2.pem", '-root', "$t/two-roots.pem");
run_cmd('openssl', 'req', '-x509', '-key', $pk, '-out', "$t/nopolicy.pem",
        '-subj', '/CN=x', '-days', 30, '-addext', 'basicConstraints=critical,CA:FALSE',
        '-addext', 'extendedKeyUsage=serverAuth')->{rc} == 0 or die;
refused('leaf without the policy OID',
        "install-new-cert: identity.chain: $t/nopolicy.pem: leaf (CN=x) does not carry the ovsa policy $OID (OVSA_E_CERT_POLICY)",
        'install-new-cert', "$t/nopolicy.pem", '-root', "$t/nopolicy.pem");
devca('issue-client', '-d', $ca, '-cn', 'admin', '-out', "$t/admin");
refused('client certificate (no serverAuth)',
        "install-new-cert: identity.chain: $t/admin-chain.pem: leaf (CN=admin) does not list the serverAuth extended key usage (OVSA_E_CERT_EKU)",
        'install-new-cert', "$t/admin-chain.pem", "$t/admin.key");
write_file("$t/client-ext.cnf", "[ x ]\nbasicConstraints = critical, CA:FALSE\n"
    . "extendedKeyUsage = clientAuth\ncertificatePolicies = $OID\n");
run_cmd('openssl', 'x509', '-req', '-in', $csr, '-CA', "$ca/intermediate.pem",
        '-CAkey', "$ca/intermediate.key", '-set_serial', 7, '-days', 30,
        '-extfile', "$t/client-ext.cnf", '-extensions', 'x',
        '-out', "$t/eku.pem")->{rc} == 0 or die;
write_file("$t/eku-chain.pem", slurp("$t/eku.pem") . slurp("$ca/intermediate.pem"));
refused('leaf with the policy but EKU clientAuth only',
        "install-new-cert: identity.chain: $t/eku-chain.pem: leaf (CN=ovsa-license-server) does not list the serverAuth extended key usage (OVSA_E_CERT_EKU)",
        'install-new-cert', "$t/eku-chain.pem");
refused('install-cert over a current identity',
        "install-cert: $conf already has a current identity (rotate with gencert-new or install-new-cert + provision-new-cert, or use --force)",
        'install-cert', "$t/c2.pem");
run_cmd('openssl', 'pkey', '-in', $pk, '-aes256', '-passout', 'pass:secret',
        '-out', "$t/enc.key")->{rc} == 0 or die;
refused('encrypted key', "install-new-cert: identity.key: $t/enc.key: the private key is encrypted and no passphrase was given (OVSA_E_KEY)",
        'install-new-cert', "$t/c2.pem", "$t/enc.key");
refused('unknown option', "install-new-cert: unknown option '-bogus' (try '$P help')",
        'install-new-cert', "$t/c2.pem", '-bogus');

# ---- the good one
my %cur_files = map { $_ => slurp("$conf/current/$_") } qw(server.key server-chain.pem);
write_file("$t/c2-root.pem", slurp("$t/c2.pem") . slurp("$ca/root.pem"));
$r = inst('install-new-cert', "$t/c2-root.pem");
my ($cid2, $cpin2) = installed('install-new-cert (chain with a trailing root)', 'future', $r);
is($cpin2, first_pin("$t/c2.pem"), 'install-new-cert: pin of the new leaf');
is(link_id('current'), $cid1, 'install-new-cert: current untouched');
is(slurp("$conf/future/root.pem"), slurp("$ca/root.pem"),
   'install-new-cert: verified against the existing vendor root');
ok(!-e "$conf/pending", 'install-new-cert: pending/ consumed');

# a future identity that no longer checks out is not provisioned
my $fkey = "$conf/identities/$cid2/server.key";
my $good_key = slurp($fkey);
write_file($fkey, slurp("$conf/current/server.key"));
refused('provision a future whose key does not match',
        "provision-new-cert: identity.key: $fkey: private key does not match the leaf certificate (CN=ovsa-license-server) (OVSA_E_KEY_MISMATCH)",
        'provision-new-cert');
write_file($fkey, $good_key);

$r = inst('provision-new-cert');
is($r->{rc}, 0, 'CA path: provision-new-cert succeeds') or diag($r->{err});
like($r->{out}, qr{^backup: (\S+)\nprovisioned: current identity is now \Q$cid2\E\npin: \Q$cpin2\E\n\z},
     'CA path: provision reports');
my ($cbk) = $r->{out} =~ /^backup: (\S+)/;
is(slurp("$cbk/$_"), $cur_files{$_}, "CA path: backup holds the old $_")
    for qw(server.key server-chain.pem);
is(link_id('current'), $cid2, 'CA path: switched');
is(slurp("$conf/vendor-root.pem"), slurp("$ca/root.pem"), 'CA path: vendor root kept');
is(inst('pin')->{out}, "$cpin2\n", 'CA path: pin of the new current');

# install-cert --force replaces current and keeps a backup
$r = inst('csr');
devca('sign', '-d', $ca, '-in', $csr, '-out', "$t/c3.pem");
my %c2_files = map { $_ => slurp("$conf/current/$_") } qw(server.key server-chain.pem);
$r = inst('install-cert', "$t/c3.pem", '--force');
installed('install-cert --force', 'current', $r);
my ($cbk2) = $r->{out} =~ /^backup: (\S+)/m;
ok(defined $cbk2, 'install-cert --force: backup reported');
is(slurp("$cbk2/$_"), $c2_files{$_}, "install-cert --force: backup holds the old $_")
    for qw(server.key server-chain.pem);

# ======== misc
{
    local $ENV{OVSA_CONF_DIR} = "$t/env-conf";
    $r = run_cmd('sh', $INST, 'gencert');
    is($r->{rc}, 0, '$OVSA_CONF_DIR is the default CONFDIR') or diag($r->{err});
    ok(-l "$t/env-conf/current", '...current created there');
}
$conf = "$t/misc";
mkdir($conf, 0700);
refused('pin without a current identity', "pin: no current identity in $conf", 'pin');
refused('pin of a missing file', "pin: read $t/none.pem: No such file or directory (OVSA_E_IO)", 'pin', "$t/none.pem");
refused('pin of garbage', "pin: $t/garbage.pem: not a PEM certificate, public key or private key (OVSA_E_PEM)", 'pin', "$t/garbage.pem");
$r = inst('pin', "$t/c3.pem");
is($r->{out}, first_pin("$t/c3.pem") . "\n", 'pin FILE: a chain, its leaf');
$r = inst('pin', "$t/ca-conf/current/server.key");
is($r->{out}, first_pin("$t/ca-conf/current/server-chain.pem") . "\n",
   'pin KEY: the pin of its certificate');
refused('csr -cn with a slash', "csr: -cn must be non-empty and must not contain '/'",
        'csr', '-cn', 'a/b');
refused('unknown command', "unknown command 'frob' (try '$P help')", 'frob');
$r = inst('help');
is($r->{rc}, 0, 'help exits 0');
like($r->{out}, qr/^usage: \Q$P\E \[-d CONFDIR\] COMMAND/, 'help prints usage');

done_testing();
