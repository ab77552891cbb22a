package OvsaTamper;

# A man-in-the-middle for the signed-response tests (t/051): a TLS server
# (IO::Socket::SSL, in a forked child) that forwards each request to the
# real nginx and rewrites the request or the answer on the way, as an
# attacker holding a TLS key the client accepts would.  The mode is read
# from a file before every connection, so one proxy serves all cases:
#
#   pass            forward unchanged
#   flip_body       flip one byte of the body
#   drop_digest     remove Content-Digest
#   ctype           change Content-Type
#   drop_ctype      remove Content-Type
#   status          change 200 into 203
#   drop_sig        remove Signature
#   tag             change the tag in Signature-Input
#   components      drop "@method";req from Signature-Input
#   drop_req_digest drop the 7th component, "content-digest";req, from
#                   Signature-Input (an answer that does not cover the
#                   request's Content-Digest)
#   path            forward to another path than the client asked for
#   resign_keyid    re-sign the real base with another RSA key, real keyid
#   resign_own      re-sign with another Ed25519 key under its own keyid
#   chain:FILE      answer GET /.well-known/ovsa/chain with FILE
#   swap_body:FROM:TO
#                   replace FROM by TO in the request body, keep the
#                   client's Content-Digest (the backend must refuse it)
#   swap_body_digest:FROM:TO
#                   the same with a recomputed Content-Digest (the answer
#                   covers the new digest: the client must refuse it)
#   record          forward, and keep the answer of the last /v1/ request
#   replay          answer /v1/ requests with the recorded answer
#
# Only answers to /v1/ requests are tampered with (the chain is fetched
# through the same proxy), except in the chain:FILE mode.

use strict;
use warnings;

use Exporter 'import';
use Digest::SHA qw(sha256);
use IO::Socket::SSL;
use MIME::Base64 qw(encode_base64 decode_base64);
use POSIX qw(WNOHANG _exit);

our @EXPORT_OK = qw(start_proxy stop_proxy set_mode sign_base);

my ($PID, $DIR);

sub slurp {
    my ($f) = @_;
    open my $fh, '<', $f or return '';
    local $/;
    return scalar <$fh>;
}

sub spew {
    my ($f, $data) = @_;
    open my $fh, '>', "$f.tmp" or die "$f: $!";
    print $fh $data;
    close $fh;
    rename "$f.tmp", $f or die "$f: $!";
}

sub set_mode { spew("$DIR/mode", $_[0]) }

# Signs a base with the openssl command line (the attacker's tool).
sub sign_base {
    my ($dir, $base, $key, $alg) = @_;
    spew("$dir/base.txt", $base);
    my $cmd = $alg eq 'ed25519'
        ? "openssl pkeyutl -sign -rawin -inkey $key -in $dir/base.txt"
        : "openssl dgst -sha512 -sigopt rsa_padding_mode:pss"
          . " -sigopt rsa_pss_saltlen:64 -sigopt rsa_mgf1_md:sha512"
          . " -sign $key $dir/base.txt";
    my $sig = qx{$cmd};
    die "sign: $cmd failed" if $? || !length $sig;
    return encode_base64($sig, '');
}

sub keyid_of {
    my ($key) = @_;
    my $md = qx{openssl pkey -in $key -pubout -outform DER | openssl dgst -sha256 -binary};
    my $id = encode_base64($md, '');
    $id =~ tr{+/}{-_};
    $id =~ s/=+$//;
    return $id;
}

# Reads one HTTP/1.1 message head + Content-Length body from $sock.
sub read_message {
    my ($sock) = @_;
    my $data = '';
    while ($data !~ /\r\n\r\n/) {
        my $n = sysread($sock, my $buf, 65536);
        return undef unless $n;
        $data .= $buf;
    }
    my ($head, $body) = split /\r\n\r\n/, $data, 2;
    my ($len) = $head =~ /^content-length:\s*(\d+)/mi;
    $len ||= 0;
    while (length($body) < $len) {
        my $n = sysread($sock, my $buf, 65536);
        last unless $n;
        $body .= $buf;
    }
    return ($head, $body);
}

sub read_all {
    my ($sock) = @_;
    my $raw = '';
    while (1) {
        my $n = sysread($sock, my $buf, 65536);
        last unless $n;
        $raw .= $buf;
    }
    return $raw;
}

sub header_value {
    my ($head, $name) = @_;
    return $head =~ /^\Q$name\E:[ \t]*(.*?)[ \t]*\r?$/mi ? $1 : undef;
}

# Rebuilds the ovsa signature base of an answer (docs/signatures.md): 6
# components, and the request's Content-Digest as the 7th when the
# Signature-Input covers it.
sub base_of {
    my ($status, $head, $req) = @_;
    my $input = header_value($head, 'Signature-Input');
    $input =~ s/^ovsa=//;
    return join("\n",
        qq{"\@status": $status},
        qq{"content-type": } . header_value($head, 'Content-Type'),
        qq{"content-digest": } . header_value($head, 'Content-Digest'),
        qq{"ovsa-nonce";req: $req->{nonce}},
        qq{"\@method";req: $req->{method}},
        qq{"\@target-uri";req: https://$req->{host}$req->{path}},
        ($input =~ /"content-digest";req\)/
            ? (qq{"content-digest";req: } . ($req->{digest} // '')) : ()),
        qq{"\@signature-params": $input});
}

sub tamper {
    my ($mode, $raw, $req, $o) = @_;
    my ($head, $body) = split /\r\n\r\n/, $raw, 2;
    my ($status) = $head =~ m{^HTTP/1\.1 (\d{3})};

    if ($mode eq 'flip_body') {
        substr($body, 5, 1) = chr(ord(substr($body, 5, 1)) ^ 0x01);
    } elsif ($mode eq 'drop_digest') {
        $head =~ s/^Content-Digest:.*\r\n//mi;
    } elsif ($mode eq 'ctype') {
        $head =~ s/^(Content-Type:).*$/$1 text\/plain\r/mi;
    } elsif ($mode eq 'drop_ctype') {
        $head =~ s/^Content-Type:.*\r\n//mi;
    } elsif ($mode eq 'status') {
        $head =~ s{^HTTP/1\.1 200 OK}{HTTP/1.1 203 Non-Authoritative Information};
    } elsif ($mode eq 'drop_sig') {
        $head =~ s/^Signature:.*\r\n//mi;
    } elsif ($mode eq 'tag') {
        $head =~ s/ovsa-license-v1/ovsa-license-v0/;
    } elsif ($mode eq 'components') {
        $head =~ s/ "\@method";req//;
    } elsif ($mode eq 'drop_req_digest') {
        $head =~ s/ "content-digest";req\)/)/;
    } elsif ($mode eq 'resign_keyid') {
        my $sig = sign_base($DIR, base_of($status, $head, $req),
                            $o->{other_rsa}, 'rsa');
        $head =~ s/^(Signature:).*$/$1 ovsa=:$sig:\r/mi;
    } elsif ($mode eq 'resign_own') {
        my $keyid = keyid_of($o->{other_ed});
        $head =~ s/keyid="[^"]*"/keyid="$keyid"/;
        $head =~ s/alg="[^"]*"/alg="ed25519"/;
        my $sig = sign_base($DIR, base_of($status, $head, $req),
                            $o->{other_ed}, 'ed25519');
        $head =~ s/^(Signature:).*$/$1 ovsa=:$sig:\r/mi;
    }

    return "$head\r\n\r\n$body";
}

sub serve {
    my ($client, $o) = @_;
    my ($head, $body) = read_message($client);
    return unless defined $head;

    my $mode = slurp("$DIR/mode") || 'pass';
    my ($method, $path) = $head =~ /^(\S+) (\S+) HTTP/;
    my $req = { method => $method, path => $path,
                host => header_value($head, 'Host'),
                nonce => header_value($head, 'OVSA-Nonce'),
                digest => header_value($head, 'Content-Digest') };
    my $v1 = $path =~ m{^/v1/};

    if ($v1 && $mode =~ /^swap_body(_digest)?:([^:]*):(.*)$/) {
        my ($redigest, $from, $to) = ($1, $2, $3);
        $body =~ s/\Q$from\E/$to/g;
        my $n = length $body;
        $head =~ s/^(Content-Length:)[^\r\n]*/$1 $n/mi;
        if ($redigest) {
            my $dg = 'sha-256=:' . encode_base64(sha256($body), '') . ':';
            $head =~ s/^(Content-Digest:)[^\r\n]*/$1 $dg/mi;
        }
    }

    if ($mode =~ /^chain:(.*)/ && $path eq '/.well-known/ovsa/chain') {
        my $pem = slurp($1);
        print $client "HTTP/1.1 200 OK\r\nContent-Type: application/"
            . "pem-certificate-chain\r\nContent-Length: " . length($pem)
            . "\r\nConnection: close\r\n\r\n$pem";
        return;
    }

    if ($mode eq 'replay' && $v1) {
        print $client slurp("$DIR/recorded");
        return;
    }

    if ($mode eq 'path' && $v1) {
        $head =~ s{^(\S+) /v1/\S+}{$1 /v1/other};
    }

    $head =~ s/^Connection:.*\r?\n//mgi;
    $head .= "\r\nConnection: close";

    my $up = IO::Socket::SSL->new(PeerAddr => "127.0.0.1:$o->{upstream}",
                                  SSL_verify_mode => SSL_VERIFY_NONE,
                                  Timeout => 10) or return;
    print $up "$head\r\n\r\n$body";
    my $raw = read_all($up);
    close $up;

    if ($v1 && $mode eq 'record') {
        spew("$DIR/recorded", $raw);
    } elsif ($v1) {
        $raw = tamper($mode, $raw, $req, $o);
    }

    $raw =~ s/^Connection:.*\r\n//mi;
    $raw =~ s/\r\n\r\n/\r\nConnection: close\r\n\r\n/;
    print $client $raw;
}

# start_proxy(port => P, upstream => nginx port, cert => chain, key => key,
# dir => scratch dir, other_rsa => key, other_ed => key)
sub start_proxy {
    my (%o) = @_;
    $DIR = $o{dir};
    set_mode('pass');

    my $srv = IO::Socket::SSL->new(
        LocalAddr => "127.0.0.1:$o{port}", Listen => 16, ReuseAddr => 1,
        SSL_server => 1, SSL_cert_file => $o{cert}, SSL_key_file => $o{key},
    ) or die "proxy: $SSL_ERROR $!";

    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if ($pid == 0) {
        $SIG{PIPE} = 'IGNORE';
        while (1) {
            my $c = $srv->accept or next;
            eval { serve($c, \%o) };
            close $c;
        }
        _exit(0);
    }
    close $srv;
    $PID = $pid;
    return $pid;
}

sub stop_proxy {
    return unless $PID;
    kill 'TERM', $PID;
    waitpid($PID, 0);
    undef $PID;
}

END { stop_proxy() }

1;
