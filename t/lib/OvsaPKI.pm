package OvsaPKI;

# Test PKI for ovsa-nginx: a vendor root, an intermediate and license-server
# leaves, plus the broken variants the startup checks must refuse.  Made
# with the openssl command line in a private temporary directory, once per
# test file.  The good path of provisioning is tested with the real scripts
# (t/02*.t); this module only makes fixtures those scripts refuse to make.

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Temp qw(tempdir);
use Exporter 'import';

our @EXPORT_OK = qw(make_pki openssl slurp);

# the policy lib checks (lib/ovsa_x509.h), from the built ovsatool
our $POLICY = do {
    my $tool = ($ENV{OVSA_BUILD} || abs_path(dirname(__FILE__) . '/../..') . '/build') . '/bin/ovsatool';
    my $oid = -x $tool ? qx{$tool policy-oid} : '';
    chomp $oid;
    die "OvsaPKI: $tool policy-oid failed (run make)\n" unless $oid =~ /^[0-9.]+$/;
    $oid;
};

sub openssl {
    my (@args) = @_;
    my $out = qx{openssl @args 2>&1};
    die "openssl @args: $out" if $?;
    return $out;
}

sub spew {
    my ($file, $data, $mode) = @_;
    open my $fh, '>', $file or die "$file: $!";
    print $fh $data;
    close $fh;
    chmod $mode, $file if defined $mode;
}

sub slurp {
    my ($file) = @_;
    open my $fh, '<', $file or die "$file: $!";
    local $/;
    return <$fh>;
}

# openssl ca configuration: the only way in OpenSSL 3.0 to choose exact
# start and end dates (expired and not-yet-valid leaves).
sub ca_conf {
    my ($d, $name) = @_;
    my $dir = "$d/$name.db";
    mkdir $dir;
    spew("$dir/index.txt", '');
    spew("$dir/serial", "1000\n");
    spew("$d/$name.cnf", <<"CNF");
[ ca ]
default_ca = ca_$name
[ ca_$name ]
dir = $dir
database = $dir/index.txt
new_certs_dir = $dir
serial = $dir/serial
default_md = sha256
policy = pol
unique_subject = no
copy_extensions = none
[ pol ]
commonName = supplied
[ v3_ca ]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[ v3_leaf ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
certificatePolicies = $POLICY
subjectAltName = DNS:localhost,IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[ v3_leaf_nopolicy ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost,IP:127.0.0.1
[ v3_leaf_noeku ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
certificatePolicies = $POLICY
subjectAltName = DNS:localhost,IP:127.0.0.1
CNF
}

sub key {
    my ($file, $type) = @_;
    $type ||= 'rsa';
    my %alg = (
        rsa     => '-algorithm RSA -pkeyopt rsa_keygen_bits:2048',
        ec      => '-algorithm EC -pkeyopt ec_paramgen_curve:P-256',
        ed25519 => '-algorithm ED25519',
    );
    openssl("genpkey $alg{$type} -out $file");
    chmod 0600, $file;
}

sub issue {
    my ($d, $ca, $csr_key, $cn, $out, $ext, %o) = @_;
    openssl("req -new -key $csr_key -subj '/CN=$cn' -out $out.csr");
    my $dates = $o{start} ? "-startdate $o{start} -enddate $o{end}"
                          : "-days " . ($o{days} || 365);
    openssl("ca -batch -notext -config $d/$ca.cnf -cert $d/$ca.pem"
            . " -keyfile $d/$ca.key -in $out.csr -out $out"
            . " -extensions $ext -extfile $d/$ca.cnf $dates");
}

sub make_root {
    my ($d, $name, $cn) = @_;
    key("$d/$name.key", 'ec');
    openssl("req -x509 -new -key $d/$name.key -subj '/CN=$cn' -days 3650"
            . " -addext basicConstraints=critical,CA:TRUE"
            . " -addext keyUsage=critical,keyCertSign,cRLSign"
            . " -out $d/$name.pem");
    ca_conf($d, $name);
}

# Returns a hash of absolute file names.
sub make_pki {
    my (%o) = @_;
    my $d = $o{dir} || tempdir('ovsa-pki-XXXXXX', TMPDIR => 1,
                               CLEANUP => 1);
    $d = abs_path($d);

    make_root($d, 'root', 'ovsa test vendor root');
    key("$d/inter.key", 'ec');
    issue($d, 'root', "$d/inter.key", 'ovsa test intermediate',
          "$d/inter.pem", 'v3_ca', days => 1825);
    ca_conf($d, 'inter');

    my %f = (dir => $d, root => "$d/root.pem", inter => "$d/inter.pem");

    for my $type (qw(rsa ec ed25519)) {
        key("$d/leaf-$type.key", $type);
        issue($d, 'inter', "$d/leaf-$type.key", "localhost",
              "$d/leaf-$type.pem", 'v3_leaf', days => 90);
        spew("$d/chain-$type.pem",
             slurp("$d/leaf-$type.pem") . slurp("$d/inter.pem"));
        $f{"chain_$type"} = "$d/chain-$type.pem";
        $f{"key_$type"} = "$d/leaf-$type.key";
    }

    $f{chain} = $f{chain_rsa};
    $f{key} = $f{key_rsa};

    my $leaf = slurp("$d/leaf-rsa.pem");
    my $inter = slurp("$d/inter.pem");
    my $root = slurp("$d/root.pem");

    spew($f{chain_with_root} = "$d/chain-with-root.pem",
         $leaf . $inter . $root);
    spew($f{reordered} = "$d/reordered.pem", $inter . $leaf);
    spew($f{leaf_only} = "$d/leaf-only.pem", $leaf);
    my $cut = $leaf . substr($inter, 0, int(length($inter) / 2));
    spew($f{truncated} = "$d/truncated.pem", $cut);
    # the intermediate lost its BEGIN line: not text to skip
    spew($f{nobegin} = "$d/nobegin.pem",
         $leaf . ($inter =~ s/\A-----BEGIN CERTIFICATE-----\n//r));
    spew($f{garbage} = "$d/garbage.pem", "this is not a certificate\n");
    spew($f{empty} = "$d/empty.pem", "");

    key($f{other_key} = "$d/other.key", 'rsa');
    spew($f{key_world} = "$d/world.key", slurp($f{key}), 0644);
    spew($f{key_group} = "$d/group.key", slurp($f{key}), 0640);

    # the P-256 identity in DER: a chain of concatenated certificates,
    # a PKCS#8 key (0600) and the root
    openssl("x509 -in $d/$_.pem -outform DER -out $d/$_.der")
        for qw(leaf-ec inter root);
    spew($f{chain_der} = "$d/chain-ec.der",
         slurp("$d/leaf-ec.der") . slurp("$d/inter.der"));
    openssl("pkey -in $d/leaf-ec.key -outform DER -out $d/leaf-ec-key.der");
    chmod 0600, $f{key_der} = "$d/leaf-ec-key.der";
    $f{root_der} = "$d/root.der";

    # expired and not-yet-valid leaves, same key as the good leaf
    issue($d, 'inter', $f{key}, 'localhost', "$d/leaf-expired.pem",
          'v3_leaf', start => '20200101000000Z', end => '20210101000000Z');
    spew($f{expired} = "$d/chain-expired.pem",
         slurp("$d/leaf-expired.pem") . $inter);
    issue($d, 'inter', $f{key}, 'localhost', "$d/leaf-future.pem",
          'v3_leaf', start => '20400101000000Z', end => '20410101000000Z');
    spew($f{not_yet} = "$d/chain-not-yet.pem",
         slurp("$d/leaf-future.pem") . $inter);

    # leaves without the policy OID / without serverAuth
    issue($d, 'inter', $f{key}, 'localhost', "$d/leaf-nopolicy.pem",
          'v3_leaf_nopolicy', days => 90);
    spew($f{nopolicy} = "$d/chain-nopolicy.pem",
         slurp("$d/leaf-nopolicy.pem") . $inter);
    issue($d, 'inter', $f{key}, 'localhost', "$d/leaf-noeku.pem",
          'v3_leaf_noeku', days => 90);
    spew($f{noeku} = "$d/chain-noeku.pem",
         slurp("$d/leaf-noeku.pem") . $inter);

    # a complete, valid chain under another root
    make_root($d, 'foreign', 'some other root');
    key("$d/finter.key", 'ec');
    issue($d, 'foreign', "$d/finter.key", 'foreign intermediate',
          "$d/finter.pem", 'v3_ca', days => 1825);
    ca_conf($d, 'finter');
    issue($d, 'finter', $f{key}, 'localhost', "$d/fleaf.pem", 'v3_leaf',
          days => 90);
    spew($f{foreign} = "$d/chain-foreign.pem",
         slurp("$d/fleaf.pem") . slurp("$d/finter.pem"));
    $f{foreign_root} = "$d/foreign.pem";

    return \%f;
}

1;
