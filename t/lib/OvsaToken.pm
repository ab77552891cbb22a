package OvsaToken;

# The token of the hardware-key tests (t/092, t/093, t/094-*, t/103),
# and cmd_run for every hardware-key test (t/090, t/091 too):
# a SoftHSM2 token with an RSA-2048 key exported by a p11-kit server
# (t/lib/softhsm.sh; destroyed at exit), the PKCS#11 delay shim copied
# into the test's directory (the nginx workers load it from there), and
# the token key's leaf issued by the test PKI's intermediate (chain.pem,
# leaf + intermediate).

use strict;
use warnings;
use Exporter 'import';
use File::Temp qw(tempdir);
use Test::More;
use OvsaPKI qw(slurp);

our @EXPORT = qw(cmd_run);

my @tokens;     # [fixture, hsm dir]: destroyed at exit
END { cmd_run('sh', $_->[0], 'destroy', $_->[1]) for grep { -d $_->[1] } @tokens }

# cmd_run(CMD, ARGS...): (exit status, stdout and stderr together)
sub cmd_run {
    my @cmd = @_;
    my $pid = open(my $fh, '-|') // die "fork: $!";
    if ($pid == 0) {
        open(STDERR, '>&', \*STDOUT) or die;
        exec @cmd or die "exec $cmd[0]: $!";
    }
    local $/;
    my $out = <$fh> // '';
    close $fh;
    return ($? >> 8, $out);
}

# setup(NAME, fixture => softhsm.sh, hwkey => ovsa_hwkey.sh, delay => the
# built shim, pki => the test PKI directory): a new directory (also
# TMPDIR from now on) with the token, its p11-kit server's environment
# exported, the shim and chain.pem.  Returns { dir, hsm, delay, module,
# pin, label, uri, chain }.
sub setup {
    my ($name, %o) = @_;
    my $dir = tempdir("ovsa-$name-XXXXXX", TMPDIR => 1, CLEANUP => 1);
    my $delay = "$dir/ovsa-p11-delay.so";
    system('cp', $o{delay}, $delay) == 0 or die "cp $o{delay}: $?";
    chmod 0755, $delay;
    my $hsm = "$dir/hsm";
    $ENV{TMPDIR} = $dir;

    my ($rc, $out) = cmd_run('sh', $o{fixture}, 'init', $hsm);
    is($rc, 0, 'token with an RSA-2048 key') or diag $out;
    push @tokens, [$o{fixture}, $hsm];
    ($rc, $out) = cmd_run('sh', $o{fixture}, 'start', $hsm);
    is($rc, 0, 'p11-kit server exports the token') or diag $out;
    ($rc, $out) = cmd_run('sh', $o{fixture}, 'env', $hsm);
    for (split /\n/, $out) {
        $ENV{$1} = $2 if /^(\w+)='([^']*)'; export/;
    }

    my %t = (dir => $dir, hsm => $hsm, delay => $delay,
             module => $ENV{OVSA_P11_MODULE}, pin => $ENV{OVSA_HSM_PIN_FILE},
             label => $ENV{OVSA_HSM_LABEL}, chain => "$dir/chain.pem");
    $t{uri} = "pkcs11:token=$t{label};object=ovsa-rsa;type=private";

    my $pki = $o{pki};
    ($rc, $out) = cmd_run('sh', $o{hwkey}, 'csr', '-module', $t{module},
                          '-uri', $t{uri}, '-pin-file', $t{pin},
                          '-cn', 'localhost', '-out', "$dir/rsa.csr");
    is($rc, 0, 'CSR from the token key') or diag $out;
    ($rc, $out) = cmd_run('openssl', 'ca', '-batch', '-notext', '-config',
                          "$pki/inter.cnf", '-cert', "$pki/inter.pem",
                          '-keyfile', "$pki/inter.key", '-in', "$dir/rsa.csr",
                          '-out', "$dir/leaf.pem", '-extensions', 'v3_leaf',
                          '-extfile', "$pki/inter.cnf", '-days', '90');
    is($rc, 0, 'token leaf issued') or diag $out;
    open my $fh, '>', $t{chain} or die "$t{chain}: $!";
    print $fh slurp("$dir/leaf.pem") . slurp("$pki/inter.pem");
    close $fh or die "$t{chain}: $!";

    return \%t;
}

1;
