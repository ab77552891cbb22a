package OvsaScriptTest;

# Helpers for the provisioning-script tests (t/02x-*.t): run a script and
# capture what it says, compute SPKI pins independently of the scripts (a
# small DER walk in Perl, no openssl CLI), and snapshot a directory tree.

use strict;
use warnings;

use Cwd qw(abs_path);
use Digest::SHA qw(sha256 sha256_hex);
use File::Basename qw(dirname);
use File::Find ();
use File::Temp qw(tempdir);
use MIME::Base64 qw(encode_base64 decode_base64);

use Exporter 'import';
our @EXPORT = qw(run_cmd script fresh_dir spki_pin pem_certs tree_state
                 slurp file_mode cert_text);

my $root = abs_path(dirname(__FILE__) . '/../..');

# script NAME: absolute path of scripts/NAME
sub script { "$root/scripts/$_[0]" }

# fresh_dir: a new temporary directory, removed at exit
sub fresh_dir { tempdir('ovsa-t-XXXXXX', TMPDIR => 1, CLEANUP => 1) }

# run_cmd(ARGV...) -> { out, err, rc }: runs without a shell, stdin from
# /dev/null.  %ENV can be adjusted with local() by the caller.
sub run_cmd {
    my @argv = @_;
    my $d = fresh_dir();
    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        open(STDIN, '<', '/dev/null') or die;
        open(STDOUT, '>', "$d/out") or die;
        open(STDERR, '>', "$d/err") or die;
        exec(@argv) or die "exec $argv[0]: $!";
    }
    waitpid($pid, 0);
    my $rc = $? >> 8;
    return { out => slurp("$d/out"), err => slurp("$d/err"), rc => $rc };
}

sub slurp {
    my ($f) = @_;
    open(my $fh, '<:raw', $f) or return undef;
    local $/;
    my $s = <$fh>;
    return defined $s ? $s : '';
}

sub file_mode { sprintf('%04o', (lstat($_[0]))[2] & 07777) }

# pem_certs TEXT: list of DER certificates in a PEM text
sub pem_certs {
    my ($pem) = @_;
    my @der;
    while ($pem =~ /-----BEGIN CERTIFICATE-----\r?\n(.*?)-----END CERTIFICATE-----/gs) {
        push @der, decode_base64($1);
    }
    return @der;
}

# DER: (tag, header length, content length) at offset
sub _tlv {
    my ($der, $off) = @_;
    my $tag = ord(substr($der, $off, 1));
    my $len = ord(substr($der, $off + 1, 1));
    my $hl = 2;
    if ($len & 0x80) {
        my $n = $len & 0x7f;
        $len = 0;
        $len = ($len << 8) | ord(substr($der, $off + 2 + $_, 1)) for 0 .. $n - 1;
        $hl += $n;
    }
    return ($tag, $hl, $len);
}

# spki_pin DER-CERT: "sha256//<base64>" of its SubjectPublicKeyInfo
sub spki_pin {
    my ($der) = @_;
    my (undef, $chl) = _tlv($der, 0);                 # Certificate
    my $off = $chl;
    my (undef, $thl) = _tlv($der, $off);              # tbsCertificate
    $off += $thl;
    my ($tag, $hl, $len) = _tlv($der, $off);
    if ($tag == 0xa0) {                               # [0] version
        $off += $hl + $len;
    }
    for (1 .. 5) {      # serial, signature, issuer, validity, subject
        ($tag, $hl, $len) = _tlv($der, $off);
        $off += $hl + $len;
    }
    ($tag, $hl, $len) = _tlv($der, $off);             # subjectPublicKeyInfo
    die "spki_pin: no SPKI SEQUENCE" unless $tag == 0x30;
    my $spki = substr($der, $off, $hl + $len);
    my $b64 = encode_base64(sha256($spki), '');
    return "sha256//$b64";
}

# tree_state DIR: a text listing of every entry under DIR with its type,
# mode, symlink target or content hash, to compare before/after.
sub tree_state {
    my ($dir) = @_;
    my @lines;
    File::Find::find({ no_chdir => 1, wanted => sub {
        my $p = $File::Find::name;
        my $rel = substr($p, length($dir)) || '/';
        my @st = lstat($p);
        my $mode = sprintf('%04o', $st[2] & 07777);
        if (-l $p) {
            push @lines, "$rel l " . readlink($p);
        } elsif (-d $p) {
            push @lines, "$rel d $mode";
        } else {
            push @lines, "$rel f $mode " . sha256_hex(slurp($p));
        }
    } }, $dir);
    return join("\n", sort @lines) . "\n";
}

# cert_text FILE: openssl's text dump (for extension checks)
sub cert_text {
    my $r = run_cmd('openssl', 'x509', '-in', $_[0], '-noout', '-text');
    return $r->{out};
}

1;
