# OvsaDropin.pm: the shipped drop-in (conf.d/ovsa-license-server.conf)
# brought up by scripts/demo.sh on loopback, raw TLS exchanges with it
# from a chosen source address, and the verification of a signed answer
# with the openssl command line (docs/signatures.md), for t/101 and t/102.
package OvsaDropin;

use strict;
use warnings;
use Digest::SHA qw(sha256);
use File::Temp qw(tempdir);
use IO::Socket::SSL;
use MIME::Base64 qw(encode_base64 decode_base64);
use Time::HiRes qw(time sleep);

# new(port => P, admin_port => A): a demo directory of its own
sub new {
    my ($class, %o) = @_;
    my $dir = tempdir('ovsa-dropin-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    my $self = bless { dir => $dir, %o }, $class;
    return $self;
}

sub dir { $_[0]{dir} }

sub env {
    my ($self) = @_;
    return "OVSA_DEMO_DIR=$self->{dir} OVSA_DEMO_PORT=$self->{port} "
         . "OVSA_DEMO_ADMIN_PORT=$self->{admin_port}";
}

# scripts/demo.sh up|down|check; returns (exit status, output)
sub demo {
    my ($self, $cmd) = @_;
    my $out = qx{@{[ $self->env ]} sh scripts/demo.sh $cmd 2>&1};
    return ($? >> 8, $out);
}

sub pid_of {
    my ($self, $what) = @_;
    my $f = $what eq 'nginx' ? "$self->{dir}/nginx/logs/nginx.pid"
                             : "$self->{dir}/run/$what.pid";
    open(my $fh, '<', $f) or return undef;
    chomp(my $pid = <$fh> // '');
    return $pid || undef;
}

# ovsa-check with the demo's customer license; (exit status, output, secs)
sub check {
    my ($self) = @_;
    my $d = $self->{dir};
    my $bin = ($ENV{OVSA_BUILD} || 'build') . '/bin/ovsa-check';
    my $t0 = time;
    my $out = qx{$bin -license $d/licenses/DEMO-0001.lic -isv $d/isv/isv.crt -root $d/ca/root.pem -cache $d/cache 2>&1};
    return ($? >> 8, $out, time - $t0);
}

# A TLS connection from source address $src (default 127.0.0.1)
sub connect_tls {
    my ($self, $src) = @_;
    return IO::Socket::SSL->new(
        PeerAddr => '127.0.0.1', PeerPort => $self->{port},
        LocalAddr => $src || '127.0.0.1',
        SSL_verify_mode => SSL_VERIFY_NONE, Timeout => 20);
}

# Reads one HTTP/1.1 answer: { status, headers (lower-case), body }, or
# undef when the connection closed first
sub read_answer {
    my ($s) = @_;
    my $buf = '';
    while ($buf !~ /\r\n\r\n/) {
        my $n = sysread($s, $buf, 65536, length $buf);
        return undef unless $n;
    }
    my ($head, $rest) = split /\r\n\r\n/, $buf, 2;
    my ($sl, @lines) = split /\r\n/, $head;
    my ($status) = $sl =~ m{^HTTP/1\.\d (\d{3})} or return undef;
    my %h;
    for (@lines) {
        $h{lc $1} = $2 if /^([^:]+):\s*(.*)$/;
    }
    my $len = $h{'content-length'} // 0;
    while (length($rest) < $len) {
        my $n = sysread($s, $rest, $len - length($rest), length $rest);
        last unless $n;
    }
    return { status => $status, headers => \%h, body => $rest,
             head => $head };
}

# Sends raw bytes on a new TLS connection and reads the answer
sub raw {
    my ($self, $bytes, %o) = @_;
    my $s = $self->connect_tls($o{src}) or return undef;
    print $s $bytes;
    my $r = read_answer($s);
    close $s;
    return $r;
}

sub digest_of { 'sha-256=:' . encode_base64(sha256($_[0]), '') . ':' }

sub spew {
    my ($f, $data) = @_;
    open my $fh, '>', $f or die "$f: $!";
    binmode $fh;
    print $fh $data;
    close $fh;
}

sub der_int {
    my ($b) = @_;
    $b =~ s/^\x00+//;
    $b = "\x00$b" if !length($b) || ord($b) & 0x80;
    return "\x02" . chr(length $b) . $b;
}

# Verifies digest and signature of answer $r to a request of %q (nonce,
# method, target; digest: the request's Content-Digest when covered)
# against the served leaf's key; returns { ok, why, base }.
sub verify {
    my ($self, $r, %q) = @_;
    my $d = $self->{dir};
    my $h = $r->{headers};
    return { ok => 0, why => 'unsigned' } unless $h->{signature};
    my $pub = "$d/leaf-pub.pem";
    if (!-s $pub) {
        system("openssl x509 -in $d/etc/current/server-chain.pem -pubkey "
               . "-noout > $pub") == 0 or die "pubkey";
    }
    my $input = $h->{'signature-input'} // '';
    $input =~ s/^ovsa=//;
    my ($alg) = $input =~ /alg="([^"]+)"/;
    my $want7 = $input =~ /"content-digest";req/;
    return { ok => 0, why => 'components' }
        if $want7 != defined $q{digest};
    my $base = join("\n",
        qq{"\@status": $r->{status}},
        qq{"content-type": $h->{'content-type'}},
        qq{"content-digest": $h->{'content-digest'}},
        qq{"ovsa-nonce";req: $q{nonce}},
        qq{"\@method";req: $q{method}},
        qq{"\@target-uri";req: $q{target}},
        (defined $q{digest} ? qq{"content-digest";req: $q{digest}} : ()),
        qq{"\@signature-params": $input});
    spew("$d/base.txt", $base);
    my ($b64) = $h->{signature} =~ /^ovsa=:([^:]*):$/;
    my $sig = decode_base64($b64 // '');
    my $cmd;
    if ($alg eq 'rsa-pss-sha512') {
        spew("$d/sig.bin", $sig);
        $cmd = "openssl dgst -sha512 -sigopt rsa_padding_mode:pss"
             . " -sigopt rsa_pss_saltlen:64 -sigopt rsa_mgf1_md:sha512"
             . " -verify $pub -signature $d/sig.bin $d/base.txt";
    } elsif ($alg eq 'ecdsa-p256-sha256') {
        my $seq = der_int(substr($sig, 0, 32)) . der_int(substr($sig, 32));
        spew("$d/sig.bin", "\x30" . chr(length $seq) . $seq);
        $cmd = "openssl dgst -sha256 -verify $pub -signature $d/sig.bin"
             . " $d/base.txt";
    } else {
        spew("$d/sig.bin", $sig);
        $cmd = "openssl pkeyutl -verify -pubin -inkey $pub -rawin"
             . " -in $d/base.txt -sigfile $d/sig.bin";
    }
    my $out = qx{$cmd 2>&1};
    my $sig_ok = $? == 0;
    my $dig_ok = digest_of($r->{body}) eq ($h->{'content-digest'} // '');
    return { ok => $sig_ok && $dig_ok,
             why => $sig_ok ? ($dig_ok ? '' : 'digest') : "sig: $out",
             base => $base };
}

sub read_log {
    my ($f) = @_;
    open my $fh, '<', $f or return '';
    local $/;
    return <$fh>;
}

1;
