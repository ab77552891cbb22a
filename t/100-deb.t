# The Debian packaging, the parts that need no clean root (make test-deb
# does the rest, minutes long: the packages installed in a fresh Debian 12
# root and docs/install.md followed there):
#  - docs/install.md and conf.d/README.md stay in lockstep (README's sh
#    blocks are in install.md as they are), every block is valid shell,
#    the procedure ends with ovsa-check;
#  - the packaged conffile /etc/ovsa/default.yaml (debian/default.yaml) is
#    a configuration ovsa-backend accepts, with the admin token made as
#    install.md makes it, and refuses with a token others can read;
#  - the systemd unit runs the backend hardened, never as root;
#  - every package of debian/control is in install.md's table.
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use File::Copy qw(copy);

my $build = $ENV{OVSA_BUILD} || 'build';
my $backend = "$build/bin/ovsa-backend";

sub slurp {
    my ($f) = @_;
    open(my $fh, '<', $f) or die "$f: $!";
    local $/;
    return <$fh>;
}

# the ```sh blocks of a Markdown file
sub sh_blocks {
    my @b;
    my $cur;
    for my $l (split /\n/, slurp($_[0])) {
        if (!defined $cur && $l eq '```sh') { $cur = ''; next }
        if (defined $cur && $l =~ /^```/) { push @b, $cur; undef $cur; next }
        $cur .= "$l\n" if defined $cur;
    }
    return @b;
}

my @inst = sh_blocks('docs/install.md');
my @read = sh_blocks('conf.d/README.md');
cmp_ok(scalar @inst, '>=', 5, 'docs/install.md: the procedure in sh blocks');
ok(@read >= 1, 'conf.d/README.md: the drop-in steps in an sh block');
like($inst[0], qr/^apt-get install -y \.\/libnginx-mod-http-ovsa_\*\.deb /m,
     'install.md starts by installing the .debs with apt');
like($inst[-1], qr/^ovsa-check -license /m, 'install.md ends with ovsa-check');
my $all = join('', @inst);
for my $i (0 .. $#read) {
    ok(index($all, $read[$i]) >= 0,
       "conf.d/README.md sh block " . ($i + 1) . " is in docs/install.md as it is")
        or diag($read[$i]);
}
like($read[0], qr/^nginx -t$/m, 'the README steps run nginx -t');
like(slurp('conf.d/README.md'), qr{/etc/ovsa.*provision}s,
     'the README says /etc/ovsa must be provisioned first');
like(slurp('conf.d/README.md'), qr{openssl rand .*admin\.token}s,
     'the README says how to make the admin token');

my $tmp = tempdir('ovsa-deb-XXXXXX', TMPDIR => 1, CLEANUP => 1);
for my $i (0 .. $#inst) {
    open(my $fh, '>', "$tmp/block") or die;
    print $fh $inst[$i];
    close $fh;
    my $out = qx{bash -n $tmp/block 2>&1};
    is($?, 0, "install.md sh block " . ($i + 1) . " is valid shell") or diag($out);
}

# the conffile, with the admin token made as install.md makes it
my $etc = "$tmp/etc";
mkdir $etc or die;
copy('debian/default.yaml', "$etc/default.yaml") or die;
my ($mk) = grep { /admin\.token\.tmp/ } @inst;
ok(defined $mk, 'install.md makes the admin token');
my $make_token = join("\n", grep { !/^chown / } split /\n/, $mk);
$make_token =~ s{/etc/ovsa/}{$etc/}g;
$make_token =~ s/^ovsa-backend .*$//mg;
$make_token =~ s/^systemctl .*$//mg;
open(my $tf, '>', "$tmp/token.sh") or die;
print $tf $make_token, "\n";
close $tf;
my $out = qx{bash -eu $tmp/token.sh 2>&1};
is($?, 0, 'the token step runs') or diag($out);
is((stat "$etc/admin.token")[2] & 07777, 0600, 'the admin token is 0600');
ok(!-e "$etc/admin.token.tmp", 'no temporary token left');
cmp_ok(-s "$etc/admin.token", '>=', 17, 'the token is long enough');

$out = qx{$backend -c $etc/default.yaml -t 2>&1};
is($?, 0, 'ovsa-backend -t accepts the packaged default.yaml') or diag($out);

# the attack: a token file others can read is refused, nothing started
chmod 0644, "$etc/admin.token";
$out = qx{$backend -c $etc/default.yaml -t 2>&1};
isnt($?, 0, 'a world-readable admin token is refused');
like($out, qr/group and others must have no access/, '... with the reason');
chmod 0600, "$etc/admin.token";

# the unit
my $unit = slurp('debian/ovsa-backend.service');
my %want = (
    User => 'ovsa', Group => 'ovsa', SupplementaryGroups => 'www-data',
    NoNewPrivileges => 'yes', ProtectSystem => 'strict', PrivateTmp => 'yes',
    RuntimeDirectory => 'ovsa', CapabilityBoundingSet => '',
    ExecStart => '/usr/sbin/ovsa-backend -c /etc/ovsa/default.yaml',
);
for my $k (sort keys %want) {
    like($unit, qr/^\Q$k\E=\Q$want{$k}\E$/m, "unit: $k=$want{$k}");
}
like(slurp('debian/default.yaml'), qr{^  listen: unix:/run/ovsa/backend\.sock$}m,
     'the conffile: the socket in the unit\'s RuntimeDirectory');
like(slurp('debian/default.yaml'), qr{^  listen_group: www-data$}m,
     'the conffile: the socket for nginx\'s workers');

# install.md names every package
my $doc = slurp('docs/install.md');
for my $p (slurp('debian/control') =~ /^Package: (\S+)$/mg) {
    like($doc, qr/`\Q$p\E`/, "install.md describes $p");
}

done_testing();
